"""Orders of manual services: the panel fulfils them itself (staff, through the staff API or the admin).

They are created MANUAL (no provider, no upstream id): forwarding, polling, refills and cancels upstream never
see them. Staff pull the open ones and report their progress: start count, remains and status. A final status
is given through `order_finish`, so its refund is computed and given exactly as for any order.
"""

from django.db import transaction
from django.db.models import QuerySet

from accounts.models import User
from backoffice.audit import audit_record
from orders.models import Order
from orders.services.lifecycle import STATUS_MOVES
from orders.services.operators import order_finish, order_locked
from orders.validation import OrderError

Status = Order.Status


def manual_orders_open() -> QuerySet[Order]:
    """The manual orders still to fulfil, oldest first."""
    return (
        Order.objects.filter(submission=Order.Submission.MANUAL)
        .exclude(status__in=Order.FINAL)
        .select_related("service", "user")
        .order_by("created_at", "pk")
    )


def _checked_count(name: str, value: int | None, *, at_most: int | None = None) -> None:
    if value is None:
        return
    if value < 0:
        raise OrderError(f"The {name} must not be negative.")
    if at_most is not None and value > at_most:
        raise OrderError(f"The {name} must be at most the quantity, {at_most}.")


@transaction.atomic
def manual_order_update(
    *, order_id: int, actor: User, status: str, start_count: int | None = None, remains: int | None = None
) -> Order:
    """Record a manual order's progress. An open status sets the start count and remains given; Completed,
    Partial (with remains) and Canceled end it with its refund, once. Audited with the staff member."""
    order = order_locked(order_id)
    if not order.is_manual:
        raise OrderError(f"Order {order_id} is not an order of a manual service: its provider fulfils it.")
    if order.is_final:
        raise OrderError(f"Order {order_id} is already {order.status}.")
    if status not in Status.values:
        raise OrderError(f"Unknown status {status!r}: choose one of {', '.join(Status.values)}.")
    if status != order.status and status not in STATUS_MOVES[order.status]:
        raise OrderError(f"Order {order_id} cannot move from {order.status} to {status}.")
    _checked_count("start count", start_count)
    _checked_count("remains", remains, at_most=order.quantity)
    final = status in Order.FINAL
    names = ("status", "start_count", "remains")
    before = {name: getattr(order, name) for name in names}
    if start_count is not None:
        order.start_count = start_count
    if not final:
        order.status = Status(status)
        order.remains = order.remains if remains is None else remains
    after = {name: getattr(order, name) for name in names}
    if after != before:
        order.save(update_fields=["status", "start_count", "remains", "updated_at"])
        audit_record(actor=actor, action="order.progress", target=order, before=before, after=after)
    if final:
        return order_finish(order_id=order_id, status=status, actor=actor, remains=remains)
    return order
