from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_save


def _open_wallet(sender: type, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    from billing.services import wallet_open

    if created and not raw:
        wallet_open(user=instance)


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = "Billing"

    def ready(self) -> None:
        # Every user gets a wallet when created, however it is created (sign-up, create_customer, createsuperuser,
        # the admin); billing owns wallets, so accounts need not know of them.
        post_save.connect(_open_wallet, sender=settings.AUTH_USER_MODEL, dispatch_uid="billing-open-wallet")
