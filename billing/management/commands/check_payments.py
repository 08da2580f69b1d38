from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from billing.payments.services import payments_check_open


class Command(BaseCommand):
    help = "Ask the gateways about payments still open (one cycle of the check-open-payments beat job)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than", type=int, default=settings.PAYMENT_CHECK_MINUTES, help="Minutes (default: the setting)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        credited = payments_check_open(older_than_minutes=options["older_than"])
        self.stdout.write(f"Credited {credited} payment(s).")
