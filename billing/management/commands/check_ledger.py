from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.services import ledger_mismatches


class Command(BaseCommand):
    help = "Check that every wallet's balance equals the sum of its ledger entries; exit 1 naming those that differ."

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = list(ledger_mismatches())
        for wallet in mismatches:
            total = wallet.total  # type: ignore[attr-defined]
            self.stderr.write(
                f"{wallet.holder_name}: balance {wallet.balance} but entries sum to {total} {settings.PANEL_CURRENCY}"
            )
        if mismatches:
            raise CommandError(f"{len(mismatches)} wallet(s) disagree with their ledger.")
        self.stdout.write(self.style.SUCCESS("Every wallet matches its ledger."))
