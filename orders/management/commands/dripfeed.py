from typing import Any

from django.core.management.base import BaseCommand

from orders.services.dripfeed import dripfeeds_advance
from orders.services.forwarding import order_forward


class Command(BaseCommand):
    help = (
        "Run one drip-feed cycle synchronously: place the runs that are due of the drip-feeds the panel runs itself, "
        "forward them, and bring their orders up to date (closing, with the refund, those whose runs all ended)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        report = dripfeeds_advance()
        outcomes: dict[str, int] = {}
        for order_id in report.placed:
            outcome = order_forward(order_id=order_id)
            if outcome:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        forwarded = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items())) or "none"
        self.stdout.write(f"Drip-feed runs placed: {len(report.placed)}; forwarded: {forwarded}.")
        self.stdout.write(f"Drip-feeds ended: {report.ended}.")
