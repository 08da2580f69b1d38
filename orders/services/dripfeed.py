"""Drip-feed the panel runs itself, for services whose provider has none: the customer's order is a parent whose
runs are child orders of `quantity` each, placed by beat one every `interval` minutes and forwarded like any
order. The parent holds the charge; its status, remains and refund follow from its runs, through the lifecycle.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_noop

from orders.models import CancelRequest, Order
from orders.services.lifecycle import SUBMISSION_MOVES, order_close, sources
from panel.money import charge_amount

Status = Order.Status
Submission = Order.Submission
# Runs not sent yet (the states from which an order may still be claimed for sending): a cancel stops them here.
UNSENT = sources(SUBMISSION_MOVES, Submission.SENDING)
STOPPED_REASON = gettext_noop("Stopped at your request.")


@dataclass
class DripReport:
    """What one cycle did: runs placed (their ids, to forward) and parents that ended."""

    placed: list[int]
    ended: int = 0


def _open_drips() -> QuerySet[Order]:
    return Order.objects.filter(submission=Submission.DRIP).exclude(status__in=Order.FINAL)


def _run_quantity(parent: Order) -> int:
    return parent.quantity // (parent.runs or 1)


def _next_run_at(parent: Order, now: datetime) -> datetime:
    """On schedule while beat keeps up; after a pause, a full interval from now (late runs are not bunched)."""
    interval = timedelta(minutes=parent.interval or 0)
    scheduled = (parent.next_run_at or now) + interval
    return scheduled if scheduled > now else now + interval


@transaction.atomic
def dripfeed_run_place(*, order_id: int, now: datetime | None = None) -> Order | None:
    """Place this drip-feed's next run if it is due: a free child order, forwarded after commit. Returns it.

    The parent's row lock and the unique (parent, run) make each run exist once, however many cycles race."""
    now = now or timezone.now()
    due = _open_drips().select_for_update(skip_locked=True).filter(pk=order_id, next_run_at__lte=now)
    parent = due.first()
    if parent is None or parent.runs is None:
        return None
    run = parent.children.count() + 1
    quantity = _run_quantity(parent)
    child = Order.objects.create(
        parent=parent,
        run=run,
        user_id=parent.user_id,
        service_id=parent.service_id,
        provider_id=parent.provider_id,
        upstream_service_id=parent.upstream_service_id,
        link=parent.link,
        quantity=quantity,
        fields=parent.fields,
        origin=parent.origin,
        rate=parent.rate,
        charge=Decimal(0),
        cost=charge_amount(parent.cost * quantity / parent.quantity),
    )
    following = _next_run_at(parent, now) if run < parent.runs else None
    Order.objects.filter(pk=parent.pk).update(next_run_at=following, updated_at=now)
    from orders.tasks import forward_order  # the tasks module imports the services: bound at call time

    transaction.on_commit(lambda: forward_order.delay(child.pk))
    return child


def _undelivered(status: str, remains: int | None, quantity: int) -> int:
    """What a run did not deliver: all of it while it is not final or was Canceled, what remains of a Partial."""
    if status == Status.COMPLETED:
        return 0
    if status == Status.PARTIAL:
        return min(max(remains or 0, 0), quantity)
    if status == Status.CANCELED:
        return quantity
    return quantity if remains is None else min(max(remains, 0), quantity)


@transaction.atomic
def dripfeed_settle(*, order_id: int) -> bool:
    """Bring an open drip-feed up to date with its runs (status, start count, remains); once its last run ended
    and no more will be placed, close it with the refund of what was not delivered. Returns whether it closed."""
    parent = _open_drips().select_for_update().filter(pk=order_id).first()
    if parent is None or parent.runs is None:
        return False
    runs = list(parent.children.order_by("run").values_list("status", "remains", "start_count", "quantity"))
    unplaced = parent.quantity - sum(quantity for *_, quantity in runs)
    remains = unplaced + sum(_undelivered(status, left, quantity) for status, left, _, quantity in runs)
    start_count = next((count for _, _, count, _ in runs if count is not None), None)
    if parent.next_run_at is None and all(status in Order.FINAL for status, *_ in runs):
        status = Status.COMPLETED if remains == 0 else Status.CANCELED if remains >= parent.quantity else Status.PARTIAL
        return order_close(
            order=parent,
            status=status,
            remains=remains,
            note=gettext_noop("Drip-feed runs not delivered"),
            where=Q(submission=Submission.DRIP),
            start_count=start_count,
        )
    started = any(status != Status.PENDING for status, *_ in runs)
    status = Status.IN_PROGRESS if started else Status.PENDING
    if (parent.status, parent.remains, parent.start_count) != (status, remains, start_count):
        Order.objects.filter(pk=parent.pk).update(
            status=status, remains=remains, start_count=start_count, updated_at=timezone.now()
        )
    return False


@transaction.atomic
def dripfeed_cancel(*, order: Order) -> bool:
    """Stop a drip-feed at its customer's request: no more runs; runs not sent yet are canceled here; runs sent
    are asked to cancel upstream where the service allows. It closes, with its refund, when its last run ends."""
    parent = _open_drips().select_for_update().filter(pk=order.pk).first()
    if parent is None:
        return False
    Order.objects.filter(pk=parent.pk).update(next_run_at=None, reason=STOPPED_REASON, updated_at=timezone.now())
    for child in parent.children.exclude(status__in=Order.FINAL).select_related("service", "route"):
        if child.submission in UNSENT:
            order_close(
                order=child,
                status=Status.CANCELED,
                note=gettext_noop("Canceled before it was sent"),
                where=Q(submission__in=UNSENT),
            )
        elif child.submission == Submission.SENT and child.placed_on.cancel:
            try:
                with transaction.atomic():
                    CancelRequest.objects.create(order=child)
            except IntegrityError:
                pass  # one is open already
    dripfeed_settle(order_id=parent.pk)
    return True


def dripfeeds_advance(*, now: datetime | None = None) -> DripReport:
    """One cycle: place every run that is due, then bring every open drip-feed up to date (closing those whose
    runs all ended). The runs placed are forwarded after their commit; their ids are in the report."""
    now = now or timezone.now()
    report = DripReport(placed=[])
    for order_id in _open_drips().filter(next_run_at__lte=now).order_by("next_run_at").values_list("pk", flat=True):
        child = dripfeed_run_place(order_id=order_id, now=now)
        if child is not None:
            report.placed.append(child.pk)
    for order_id in _open_drips().order_by("pk").values_list("pk", flat=True):
        report.ended += dripfeed_settle(order_id=order_id)
    return report
