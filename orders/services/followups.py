"""What customers ask after ordering: refills and cancels, sent upstream in batches and followed up."""

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from catalog.clients import provider_client
from catalog.models import Provider
from notifications.services import refills_ended_notify
from orders.models import CancelRequest, Order, Refill
from orders.selectors import order_of
from orders.services.dripfeed import dripfeed_cancel
from orders.services.lifecycle import CANCEL_MOVES, REFILL_MOVES, SUBMISSION_MOVES, order_close, sources
from orders.validation import OrderError
from upstream.client import ApiClient, UpstreamError
from upstream.messages import CANCEL_DISABLED, INCORRECT_ORDER, REFILL_DISABLED
from upstream.protocol import BATCH_LIMIT, ItemError, RefillState, RefillStatus

logger = logging.getLogger(__name__)

Submission = Order.Submission
Status = Order.Status
REFILL_POLL_DELAY = timedelta(minutes=5)


Followup = Refill | CancelRequest
# Never sent: canceled here at once with a full refund (the states from which an order may still be claimed).
UNSENT = sources(SUBMISSION_MOVES, Order.Submission.SENDING)


def _customer_order(user: User, order_id: object) -> Order:
    order = order_of(user=user, order_id=order_id)
    if order is None:
        raise OrderError(INCORRECT_ORDER)
    return order


def refill_allowed(order: Order, *, refill_in_flight: bool = False) -> bool:
    """A delivered order of a service sold with refill, placed on a route whose provider refills, inside the
    service's refill window, with no refill in flight."""
    return (
        order.service.refill
        and order.placed_on.refill
        and order.status in (Status.COMPLETED, Status.PARTIAL)
        and order.upstream_id is not None
        and order.completed_at is not None
        and timezone.now() - order.completed_at <= timedelta(days=order.service.refill_days)
        and not refill_in_flight
    )


def cancel_allowed(order: Order) -> bool:
    """An unfinished order never sent (canceled here, whatever the service says), a drip-feed the panel runs (its
    unsent runs are canceled here), or sent on a route whose provider cancels."""
    if order.is_final:
        return False
    if order.submission in UNSENT or order.is_drip:
        return True
    return order.submission == Submission.SENT and order.placed_on.cancel


def refill_request(*, user: User, order_id: object) -> Refill:
    """Ask for a refill of a delivered order, within its service's refill window, one at a time."""
    order = _customer_order(user, order_id)
    if not refill_allowed(order):
        raise OrderError(REFILL_DISABLED)
    try:
        with transaction.atomic():
            return Refill.objects.create(order=order)
    except IntegrityError:
        # One refill in flight per order (a unique constraint, so two quick clicks make one refill).
        raise OrderError(REFILL_DISABLED) from None


def _cancel_unsent(order: Order) -> bool:
    return order_close(
        order=order,
        status=Status.CANCELED,
        note=gettext_noop("Canceled before it was sent"),
        reason=gettext_noop("Canceled at your request before it was sent."),
        where=Q(submission__in=UNSENT),
    )


def cancel_request(*, user: User, order_id: object) -> CancelRequest | None:
    """Cancel an order: at once with a full refund if it was never sent, else by asking the provider.

    The refund of a sent order follows when the provider reports Canceled or Partial. Returns the upstream
    request, if one was needed.
    """
    order = _customer_order(user, order_id)
    if not cancel_allowed(order):
        raise OrderError(CANCEL_DISABLED)
    if order.is_drip:
        if dripfeed_cancel(order=order):
            return None
        raise OrderError(CANCEL_DISABLED)  # it ended meanwhile
    if order.submission in UNSENT and _cancel_unsent(order):
        return None
    # It may have been sent (or finished) meanwhile: only a sent order is canceled upstream.
    order.refresh_from_db()
    if order.submission != Submission.SENT or not cancel_allowed(order):
        raise OrderError(CANCEL_DISABLED)
    open_requests = order.cancel_requests.filter(status__in=CancelRequest.OPEN)
    existing = open_requests.first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return CancelRequest.objects.create(order=order)
    except IntegrityError:
        return open_requests.get()


@dataclass
class FollowupReport:
    sent: int = 0
    accepted: int = 0
    refused: int = 0
    finished: int = 0
    upstream_calls: int = 0
    failures: list[str] = field(default_factory=list)


def _by_provider(rows: list[tuple[int, int, int | None]]) -> dict[int, list[tuple[int, int | None]]]:
    grouped: dict[int, list[tuple[int, int | None]]] = defaultdict(list)
    for pk, provider_id, upstream_id in rows:
        grouped[provider_id].append((pk, upstream_id))
    return grouped


def _moves(model: type[Followup]) -> Mapping[str, frozenset[str]]:
    return REFILL_MOVES if model is Refill else CANCEL_MOVES


def _claim_queued(model: type[Followup]) -> list[tuple[int, int, int | None]]:
    """QUEUED → SENDING for this run only, so two overlapping runs never send the same request."""
    with transaction.atomic():
        rows = list(
            model.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status__in=sources(_moves(model), model.Status.SENDING))
            .order_by("pk")
            .values_list("pk", "order__provider_id", "order__upstream_id")[:10_000]
        )
        model.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(status=model.Status.SENDING)
    return rows


def _send_claimed(
    model: type[Followup],
    report: FollowupReport,
    ask: Callable[[ApiClient, list[int]], Mapping[int, object]],
    settle: Callable[[int, int, int | None, object], None],
) -> None:
    """Send this run's claimed requests, 100 orders per call per provider; `settle` records each answer."""
    for provider_id, rows in _by_provider(_claim_queued(model)).items():
        client = provider_client(Provider.objects.get(pk=provider_id))
        for start in range(0, len(rows), BATCH_LIMIT):
            chunk = rows[start : start + BATCH_LIMIT]
            report.upstream_calls += 1
            try:
                answers = ask(client, [upstream_id for _, upstream_id in chunk if upstream_id is not None])
            except UpstreamError as exc:
                # Safe to ask again later: a repeated refill or cancel request is refused or harmless upstream.
                unsent = model.objects.filter(pk__in=[pk for pk, _ in rows[start:]], status=model.Status.SENDING)
                unsent.update(status=model.Status.QUEUED)
                report.failures.append(exc.message)
                break
            for pk, upstream_id in chunk:
                settle(pk, provider_id, upstream_id, answers.get(upstream_id or 0, ItemError("no answer")))


def refills_forward() -> FollowupReport:
    """Send queued refills upstream; each accepted one gets its upstream refill id, to be polled."""
    report = FollowupReport()

    def settle(pk: int, provider_id: int, upstream_id: int | None, answer: object) -> None:
        mine = Refill.objects.filter(pk=pk, status=Refill.Status.SENDING)
        if isinstance(answer, int):
            next_poll_at = timezone.now() + REFILL_POLL_DELAY
            report.sent += mine.update(status=Refill.Status.SENT, upstream_id=answer, next_poll_at=next_poll_at)
        else:
            message = answer.message if isinstance(answer, ItemError) else "unreadable answer"
            with transaction.atomic():
                refused = mine.update(status=Refill.Status.REJECTED, last_error=message)
                if refused:
                    refills_ended_notify(refill_ids=[pk])
            report.refused += refused

    _send_claimed(Refill, report, lambda client, ids: client.refill(ids), settle)
    return report


_REFILL_STATES = {
    RefillState.PENDING: Refill.Status.PENDING,
    RefillState.IN_PROGRESS: Refill.Status.IN_PROGRESS,
    RefillState.COMPLETED: Refill.Status.COMPLETED,
    RefillState.REJECTED: Refill.Status.REJECTED,
    RefillState.ERROR: Refill.Status.ERROR,
}


def refills_poll(*, everything: bool = False) -> FollowupReport:
    """Follow sent refills with batched `refill_status` calls until they end."""
    report = FollowupReport()
    now = timezone.now()
    open_refills = Refill.objects.filter(
        upstream_id__isnull=False, status__in=sources(REFILL_MOVES, Refill.Status.COMPLETED)
    )
    if not everything:
        open_refills = open_refills.filter(next_poll_at__lte=now)
    rows = list(open_refills.order_by("pk").values_list("pk", "order__provider_id", "upstream_id")[:10_000])
    for provider_id, refills in _by_provider(rows).items():
        client = provider_client(Provider.objects.get(pk=provider_id))
        for start in range(0, len(refills), BATCH_LIMIT):
            chunk = refills[start : start + BATCH_LIMIT]
            report.upstream_calls += 1
            try:
                answers = client.refill_status([upstream_id for _, upstream_id in chunk if upstream_id is not None])
            except UpstreamError as exc:
                report.failures.append(exc.message)
                break
            ended = []
            # A chunk's moves and the notifications of the refills that ended commit together.
            with transaction.atomic():
                for pk, upstream_id in chunk:
                    answer = answers.get(upstream_id or 0)
                    open_refill = Refill.objects.filter(pk=pk).exclude(status__in=Refill.FINAL)
                    if isinstance(answer, RefillStatus):
                        status = _REFILL_STATES[answer.state]
                        report.finished += status in Refill.FINAL
                        moving = open_refill.filter(status__in=[*sources(REFILL_MOVES, status), status])
                        moved = moving.update(status=status, next_poll_at=now + REFILL_POLL_DELAY, last_error="")
                        if moved and status in Refill.FINAL:
                            ended.append(pk)
                    else:
                        message = answer.message if answer else "no answer"
                        open_refill.update(next_poll_at=now + REFILL_POLL_DELAY, last_error=message)
                refills_ended_notify(refill_ids=ended)
    return report


def cancels_forward() -> FollowupReport:
    """Send queued cancel requests upstream; accepted ones are polled soon after (the refund follows)."""
    report = FollowupReport()

    def settle(pk: int, provider_id: int, upstream_id: int | None, answer: object) -> None:
        mine = CancelRequest.objects.filter(pk=pk, status=CancelRequest.Status.SENDING)
        if answer is True:
            report.accepted += mine.update(status=CancelRequest.Status.ACCEPTED, last_error="")
            Order.objects.filter(provider_id=provider_id, upstream_id=upstream_id).update(next_poll_at=timezone.now())
        else:
            message = answer.message if isinstance(answer, ItemError) else "refused"
            report.refused += mine.update(status=CancelRequest.Status.REFUSED, last_error=message)

    _send_claimed(CancelRequest, report, lambda client, ids: client.cancel(ids), settle)
    return report


def followups_sweep() -> int:
    """Refills and cancels whose run died while sending go back to the queue (asking again is harmless)."""
    stale = timezone.now() - timedelta(seconds=settings.ORDER_SENDING_LIMIT)
    followups: tuple[type[Followup], ...] = (Refill, CancelRequest)
    return sum(
        model.objects.filter(status=model.Status.SENDING, updated_at__lt=stale).update(status=model.Status.QUEUED)
        for model in followups
    )
