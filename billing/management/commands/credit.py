from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.models import User
from backoffice.audit import audit_record
from billing.services import wallet_credit
from panel.errors import ApplicationError


class Command(BaseCommand):
    help = "Record a deposit to a customer's wallet."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("amount")
        parser.add_argument("--note", default="", help="Why (shown in the ledger).")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        try:
            amount = Decimal(options["amount"])
        except InvalidOperation:
            raise CommandError(f"Not an amount: {options['amount']!r}.") from None
        try:
            with transaction.atomic():
                entry = wallet_credit(user=user, amount=amount, note=options["note"])
                # Money moved by someone at the server's shell: audited like a staff member's adjustment.
                audit_record(actor=None, action="wallet.deposit", target=entry.wallet,
                             before={"balance": entry.balance_after - entry.amount},
                             after={"balance": entry.balance_after}, note=options["note"])  # fmt: skip
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Credited {entry.amount} {settings.PANEL_CURRENCY} to {user.username}; "
                f"balance {entry.balance_after} {settings.PANEL_CURRENCY}."
            )
        )
