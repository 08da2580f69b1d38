import shlex
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from catalog.services.providers import ProviderError, provider_create


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(text) from None
    if not value.is_finite():
        raise ValueError(text)
    return value


class Command(BaseCommand):
    help = "Add an upstream provider after checking that its API answers with this URL and key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("api_url")
        parser.add_argument("api_key")
        parser.add_argument("--currency", default="USD", help="The provider's currency (default USD).")
        parser.add_argument("--exchange-rate", type=_decimal, default=Decimal(1), help="Panel units per unit.")
        parser.add_argument("--markup", type=_decimal, default=None, help="Markup %% for this provider.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            provider = provider_create(
                name=options["name"],
                api_url=options["api_url"],
                api_key=options["api_key"],
                currency=options["currency"],
                exchange_rate=options["exchange_rate"],
                markup_percent=options["markup"],
                actor=None,
            )
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise CommandError(f"Provider not added: {problems}") from None
        except ProviderError as exc:
            raise CommandError(f"Provider not added: {exc.message}") from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Added provider {provider.name} (balance {provider.balance} {provider.balance_currency}). "
                f"Import its catalog with: manage.py sync_catalog --provider {shlex.quote(provider.name)}"
            )
        )
