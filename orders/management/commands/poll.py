from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from orders.selectors import forward_due
from orders.services.followups import cancels_forward, followups_sweep, refills_forward, refills_poll
from orders.services.forwarding import order_forward, orders_sweep
from orders.services.polling import poll_statuses
from orders.services.statistics import average_times_refresh


class Command(BaseCommand):
    help = (
        "Run one full cycle synchronously: sweep, forward queued orders, poll statuses, send refills and cancels, "
        "poll refills, refresh average completion times. Exits 0 when the cycle ran, even if a provider failed "
        "(failures are printed)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Also poll orders and refills that are not due yet.")

    def handle(self, *args: Any, **options: Any) -> None:
        everything = options["all"]
        unknown = orders_sweep()
        followups_sweep()
        outcomes: dict[str, int] = {}
        for order_id in forward_due():
            outcome = order_forward(order_id=order_id)
            if outcome:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        statuses = poll_statuses(everything=everything)
        refills_sent, cancels = refills_forward(), cancels_forward()
        refills = refills_poll(everything=everything)
        averages = average_times_refresh()

        forwarded = ", ".join(f"{count} {state}" for state, count in sorted(outcomes.items())) or "none"
        self.stdout.write(f"Swept: {unknown} stuck while sending, now unknown.")
        self.stdout.write(f"Forwarded: {forwarded}.")
        self.stdout.write(
            f"Statuses: {statuses.polled} polled in {statuses.upstream_calls} calls, {statuses.changed} changed, "
            f"{statuses.refunds} refunds ({statuses.refunded}), {statuses.unknown_ids} unknown to the provider."
        )
        self.stdout.write(
            f"Refills: {refills_sent.sent} sent, {refills_sent.refused} refused; {refills.finished} finished."
        )
        self.stdout.write(f"Cancels: {cancels.accepted} accepted, {cancels.refused} refused upstream.")
        self.stdout.write(f"Average completion times: {averages} services changed.")
        for failure in statuses.failures + refills_sent.failures + cancels.failures + refills.failures:
            self.stdout.write(self.style.WARNING(f"Failed: {failure}"))
