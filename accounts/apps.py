from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in


def _remember_two_factor(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    from accounts.two_factor import remember_at_sign_in

    remember_at_sign_in(request=request, user=user)


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        user_logged_in.connect(_remember_two_factor, dispatch_uid="accounts.two_factor")
