from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from billing.services import ledger_mismatches


class Command(BaseCommand):
    help = (
        "Check that every wallet's balance equals the sum of its ledger entries, and every affiliate wallet's debt "
        "what its commission reversals left owed less repayments; exit 1 naming those that differ."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        mismatches = list(ledger_mismatches())
        currency = settings.PANEL_CURRENCY
        for wallet in mismatches:
            total, owed = wallet.total, wallet.owed  # type: ignore[attr-defined]
            if wallet.balance != total:
                self.stderr.write(
                    f"{wallet.holder_name}: balance {wallet.balance} but entries sum to {total} {currency}"
                )
            if wallet.user_id is None and wallet.debt != owed:
                self.stderr.write(
                    f"{wallet.holder_name}: debt {wallet.debt} but commission reversals less repayments leave "
                    f"{owed} {currency} owed"
                )
        if mismatches:
            raise CommandError(f"{len(mismatches)} wallet(s) disagree with their ledger.")
        self.stdout.write(self.style.SUCCESS("Every wallet matches its ledger."))
