from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from billing.models import PaymentMethod
from billing.payments import GATEWAY_CLASSES
from billing.payments.methods import credential_specs, payment_method_create


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CommandError(f"Not a number: {text!r}.") from None
    if not value.is_finite():
        raise CommandError(f"Not a number: {text!r}.")
    return value


class Command(BaseCommand):
    help = (
        "Add a payment method customers can pay with, and print its id on the last line. Each gateway takes its "
        "own credentials (stripe: --secret-key --publishable-key --webhook-secret; cryptomus: --merchant-id "
        "--payment-key); a manual method takes --instructions."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What customers see, like 'Card' or 'USDT'.")
        parser.add_argument("--gateway", choices=PaymentMethod.Gateway.values, default=PaymentMethod.Gateway.MANUAL)
        seen = set()
        for gateway in GATEWAY_CLASSES:
            for spec in credential_specs(gateway):
                if spec.flag not in seen:
                    seen.add(spec.flag)
                    parser.add_argument(spec.flag, dest=spec.name, default="", help=f"{gateway}: {spec.label}.")
        parser.add_argument("--minimum", default="0", help="The smallest deposit (default 0).")
        parser.add_argument("--maximum", default=None, help="The largest deposit (default: no limit).")
        parser.add_argument("--fee-percent", default="0", help="Added to what the customer pays (default 0).")
        parser.add_argument("--bonus-percent", default="0", help="Credited on top as a bonus (default 0).")
        parser.add_argument("--bonus-minimum", default="0", help="The smallest deposit that earns the bonus.")
        parser.add_argument("--instructions", default="", help="Shown to customers (manual methods: how to pay).")
        parser.add_argument("--inactive", action="store_true", help="Add it switched off.")

    def handle(self, *args: Any, **options: Any) -> None:
        gateway = options["gateway"]
        credentials = {spec.name: options[spec.name] for spec in credential_specs(gateway)}
        try:
            method = payment_method_create(
                name=options["name"],
                gateway=gateway,
                credentials=credentials,
                minimum=_decimal(options["minimum"]),
                maximum=None if options["maximum"] is None else _decimal(options["maximum"]),
                fee_percent=_decimal(options["fee_percent"]),
                bonus_percent=_decimal(options["bonus_percent"]),
                bonus_minimum=_decimal(options["bonus_minimum"]),
                instructions=options["instructions"],
                is_active=not options["inactive"],
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        self.stdout.write(f"Added payment method {method.name!r} ({method.get_gateway_display()}).")
        self.stdout.write(str(method.pk))
