"""What the simulator remembers: orders, refills, recorded calls, fault knobs, and their lifecycles."""

from dataclasses import dataclass, field
from decimal import Decimal

FINAL_STATUSES = frozenset({"Completed", "Partial", "Canceled"})


@dataclass
class Timing:
    pending: float = 10.0
    delivery: float = 60.0
    refill: float = 30.0


@dataclass
class Faults:
    latency: float = 0.0
    html_502: int = 0
    stall_add: float = 0.0
    out_of_funds: bool = False
    drop_connection_on_add: bool = False


@dataclass(frozen=True)
class Call:
    action: str
    params: dict[str, str]
    at: float


def _stopped_status(delivered: int) -> str:
    return "Partial" if delivered > 0 else "Canceled"


@dataclass
class SimOrder:
    id: int
    service: int
    quantity: int
    charge: Decimal
    start_count: int
    created_at: float
    outcome: str
    params: dict[str, str] = field(default_factory=dict)
    canceled_at: float | None = None

    def goal(self) -> int:
        if self.outcome == "Canceled":
            return 0
        if self.outcome == "Partial":
            return self.quantity * 6 // 10
        return self.quantity

    def delivered_at(self, moment: float, timing: Timing) -> int:
        running = moment - self.created_at - timing.pending
        if running < 0:
            return 0
        if running >= timing.delivery:
            return self.goal()
        return min(self.goal(), int(self.quantity * running / timing.delivery))

    def status_at(self, now: float, timing: Timing) -> tuple[str, int]:
        """The (status, remains) pair the provider reports at `now`."""
        if self.canceled_at is not None and now >= self.canceled_at:
            delivered = self.delivered_at(self.canceled_at, timing)
            return _stopped_status(delivered), self.quantity - delivered
        delivered = self.delivered_at(now, timing)
        remains = self.quantity - delivered
        if now - self.created_at < timing.pending:
            return "Pending", remains
        if delivered < self.goal():
            return "In progress", remains
        if self.outcome == "Completed":
            return "Completed", remains
        return _stopped_status(delivered), remains


@dataclass
class SimRefill:
    id: int
    order: int
    created_at: float

    def status_at(self, now: float, timing: Timing) -> str:
        elapsed = now - self.created_at
        if elapsed >= timing.refill:
            return "Completed"
        if elapsed >= timing.refill / 2:
            return "In progress"
        return "Pending"
