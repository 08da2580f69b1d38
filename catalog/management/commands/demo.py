import secrets
import time
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.translation import gettext_noop

from accounts.services import user_ensure
from billing.models import LedgerEntry, PaymentMethod
from billing.services import wallet_credit
from catalog.models import Provider
from catalog.services.providers import ProviderError, provider_check
from catalog.services.sync import catalog_sync

DEMO_PROVIDER = "Demo provider"
DEMO_FUNDS = Decimal(100)
DEMO_PAYMENT_METHOD = "Bank transfer (demo)"


class Command(BaseCommand):
    help = (
        "Set up the demo: an admin, a demo customer, the local simulator as provider and its synced catalog. "
        "Safe to run again: it refreshes the catalog and prints new random passwords."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider-url", default="http://127.0.0.1:8001/api/v2")
        parser.add_argument("--provider-key", default="demo-provider-key")
        parser.add_argument("--panel-url", default="http://127.0.0.1:8000")
        parser.add_argument("--wait", type=int, default=0, help="Seconds to wait for the provider to answer.")

    def handle(self, *args: Any, **options: Any) -> None:
        provider, _ = Provider.objects.update_or_create(
            name=DEMO_PROVIDER,
            defaults={
                "api_url": options["provider_url"],
                "api_key": options["provider_key"],
                "is_active": True,
            },
        )
        self._wait_for(provider, options["wait"])
        result = catalog_sync(provider=provider)
        if not result.ok:
            raise CommandError(f"The demo catalog could not be synced: {result.error}")

        admin_password, customer_password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        user_ensure(username="admin", email="admin@example.com", password=admin_password, superuser=True)
        customer = user_ensure(username="demo", email="demo@example.com", password=customer_password)
        PaymentMethod.objects.get_or_create(
            name=DEMO_PAYMENT_METHOD,
            defaults={
                "instructions": "Demo only: send nothing. Enter any reference; approve the request in the admin "
                "(Billing › Deposit requests).",
                "minimum": Decimal(5),
            },
        )
        if not LedgerEntry.objects.filter(wallet__user=customer).exists():
            wallet_credit(user=customer, amount=DEMO_FUNDS, note=gettext_noop("Demo funds"))

        panel = options["panel_url"].rstrip("/")
        self.stdout.write(
            self.style.SUCCESS(
                f"\nDemo ready: {provider.name} at {provider.api_url}: {result.summary()}\n\n"
                f"  Customer panel: {panel}/  (English / 日本語; anyone can sign up)\n"
                f"  Demo customer:  user demo   password {customer_password}  (with {DEMO_FUNDS} to spend)\n"
                f"  Admin:          {panel}/admin/\n"
                f"                  user admin  password {admin_password}\n"
            )
        )

    def _wait_for(self, provider: Provider, seconds: int) -> None:
        """Wait until the provider answers (it starts alongside in `make run`); records its balance."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                provider_check(provider=provider)
                return
            except ProviderError as exc:
                if time.monotonic() >= deadline:
                    raise CommandError(f"The demo provider does not answer: {exc.message}") from None
            time.sleep(0.5)
