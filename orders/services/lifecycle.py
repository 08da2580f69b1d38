"""The order lifecycle: every allowed move of each state machine, and every move of an order to a final status
with the refund it calls for. Nothing else closes an order or computes a refund.

Each table lists, for a state, the states it may move to. Writers move a row with a conditional UPDATE whose
WHERE clause is `sources(TABLE, target)`: a move the table does not list cannot match any row.
"""

from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from billing.affiliates.services import commissions_pay
from billing.models import LedgerEntry
from billing.services import refund_issue, refunds_issue
from notifications.services import orders_ended_notify
from orders.models import CancelRequest, Order, Refill

Status = Order.Status
Submission = Order.Submission

# Where an order is on its way upstream (operators only). SENT is the end, and so is REJECTED but for one move:
# a queued, held or rejected order becomes UNKNOWN only when a late answer of an earlier attempt proves that it
# exists upstream after all and it cannot be recorded as sent, so that an operator looks at it.
SUBMISSION_MOVES: Mapping[str, frozenset[str]] = {
    Submission.QUEUED: frozenset({Submission.SENDING, Submission.UNKNOWN}),
    Submission.HELD: frozenset({Submission.SENDING, Submission.QUEUED, Submission.UNKNOWN}),
    Submission.SENDING: frozenset(
        {Submission.SENT, Submission.QUEUED, Submission.HELD, Submission.UNKNOWN, Submission.REJECTED}
    ),
    # Never resent automatically: an operator resends it or links it; a late answer of its own attempt records it.
    Submission.UNKNOWN: frozenset({Submission.SENT, Submission.QUEUED}),
    Submission.SENT: frozenset(),
    Submission.REJECTED: frozenset({Submission.UNKNOWN}),
    # Staff fulfil it (orders/services/manual.py): it never goes upstream.
    Submission.MANUAL: frozenset(),
    # A drip-feed the panel runs (orders/services/dripfeed.py): its runs go upstream, never the order itself.
    Submission.DRIP: frozenset(),
}

# What customers see. Providers move open orders back and forth; a final status is never left.
_OPEN = (Status.PENDING, Status.IN_PROGRESS, Status.PROCESSING)
STATUS_MOVES: Mapping[str, frozenset[str]] = {
    **{status: frozenset(Status) - {status} for status in _OPEN},
    **{status: frozenset() for status in Order.FINAL},
}

_REFILL = Refill.Status
_REFILL_OPEN_UPSTREAM = frozenset({_REFILL.PENDING, _REFILL.IN_PROGRESS, *Refill.FINAL})
REFILL_MOVES: Mapping[str, frozenset[str]] = {
    _REFILL.QUEUED: frozenset({_REFILL.SENDING}),
    # Back to QUEUED when the call failed or the run died: asking again is harmless.
    _REFILL.SENDING: frozenset({_REFILL.SENT, _REFILL.REJECTED, _REFILL.QUEUED}),
    _REFILL.SENT: _REFILL_OPEN_UPSTREAM,
    _REFILL.PENDING: _REFILL_OPEN_UPSTREAM - {_REFILL.PENDING},
    _REFILL.IN_PROGRESS: _REFILL_OPEN_UPSTREAM - {_REFILL.IN_PROGRESS},
    **{status: frozenset() for status in Refill.FINAL},
}

_CANCEL = CancelRequest.Status
CANCEL_MOVES: Mapping[str, frozenset[str]] = {
    _CANCEL.QUEUED: frozenset({_CANCEL.SENDING}),
    _CANCEL.SENDING: frozenset({_CANCEL.ACCEPTED, _CANCEL.REFUSED, _CANCEL.QUEUED}),
    _CANCEL.ACCEPTED: frozenset(),
    _CANCEL.REFUSED: frozenset(),
}


def sources(moves: Mapping[str, Iterable[str]], target: str) -> list[str]:
    """The states from which a table allows moving to `target`."""
    return [state for state, targets in moves.items() if target in targets]


def move_check(moves: Mapping[str, Iterable[str]], source: str, target: str) -> None:
    """Refuse a move its table does not list (a bug, never input: callers move rows by the tables)."""
    if target not in moves[source]:
        raise ValueError(f"no move from {source} to {target}")


class Settled(Protocol):
    """What a move to a final status and its refund read of an order: a model instance, or a row a poll read."""

    @property
    def pk(self) -> int: ...
    @property
    def user_id(self) -> int: ...
    @property
    def charge(self) -> Decimal: ...
    @property
    def quantity(self) -> int: ...
    @property
    def remains(self) -> int | None: ...
    @property
    def parent_id(self) -> int | None: ...

    status: str
    completed_at: datetime | None


def refund_due(order: Settled) -> Decimal:
    """What a final status gives back: everything for Canceled, the undelivered share for Partial."""
    if order.status == Status.CANCELED:
        return order.charge
    if order.status == Status.PARTIAL and order.remains is not None:
        return order.charge * min(order.remains, order.quantity) / order.quantity
    return Decimal(0)


def _final_remains(order: Order, status: str, remains: int | None) -> int | None:
    if status == Status.CANCELED:
        return order.quantity
    if status == Status.COMPLETED:
        return 0
    return remains


@transaction.atomic
def order_close(
    *,
    order: Order,
    status: str,
    note: str,
    remains: int | None = None,
    reason: str = "",
    where: Q | None = None,
    **changes: object,
) -> bool:
    """Move one open order to a final status and refund what that status gives back, in one transaction.

    The move is one conditional UPDATE (the order still open, and matching `where`): of two racing closers,
    one closes and refunds, the other changes nothing and gets False. `changes` are further columns to set.
    """
    if status not in Order.FINAL:
        raise ValueError(f"{status} is not a final status")
    remains = _final_remains(order, status, remains)
    now = timezone.now()
    row = Order.objects.filter(where or Q(), pk=order.pk, status__in=sources(STATUS_MOVES, status))
    closing = {"status": status, "remains": remains, "completed_at": now, "updated_at": now, **changes}
    if reason:
        closing["reason"] = reason[:300]
    if row.update(**closing) != 1:
        return False
    for name, value in closing.items():
        setattr(order, name, value)
    amount = refund_due(order)
    if amount > 0:
        refund_issue(order=order, amount=amount, note=note)
    if order.parent_id is None:
        commissions_pay(orders=[order])
        orders_ended_notify(orders=[order])
    return True


def order_move_status(order: Settled, status: str, *, now: datetime) -> bool:
    """Apply a polled status to an order in memory, as the status table allows; whether it moved.

    The caller writes the row and settles the refunds (`orders_settle`) in one transaction.
    """
    if status == order.status or status not in STATUS_MOVES[order.status]:
        return False
    order.status = Status(status)
    if status in Order.FINAL:
        order.completed_at = now
    return True


def orders_settle(*, orders: Collection[Settled], note: str) -> list[LedgerEntry]:
    """The refunds of orders a poll just moved to a final status (their rows are written by the caller in the
    same transaction), issued in one batch; then their referrers' commissions, and their customers told, in one
    batch each."""
    orders = list(orders)
    due = [(order, amount) for order in orders if order.status in Order.FINAL and (amount := refund_due(order)) > 0]
    refunds = refunds_issue(refunds=due, note=note)
    # A drip-feed's run is free and unseen: its parent earns the commission and is told of, when it ends.
    customers = [order for order in orders if order.parent_id is None]
    commissions_pay(orders=[order for order in customers if order.status in Order.FINAL])
    orders_ended_notify(orders=customers)
    return refunds
