"""Forwarding orders upstream exactly once: claim, send, record the outcome; the sweep of stuck sends."""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from catalog.clients import provider_client
from orders.models import Order
from orders.services.alerts import order_unknown_over, orders_unknown_alert
from orders.services.lifecycle import SUBMISSION_MOVES, move_check, order_close, sources
from upstream.client import Ambiguous, NotSent, Rejected
from upstream.service_types import kind_of

logger = logging.getLogger(__name__)

Submission = Order.Submission
Status = Order.Status
# What customers read when a provider refused an order for good; its own words stay with operators.
# Reasons and ledger notes are stored in English and translated when a page shows them.
_CUSTOMER_REASONS = {
    "active order": gettext_noop("The link already has an active order at the provider."),
    "link": gettext_noop("The provider refused the link."),
    "quantity": gettext_noop("The provider refused the quantity."),
}


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def _add_params(order: Order) -> dict[str, str | int]:
    params: dict[str, str | int] = dict(order.fields)
    if order.link:
        params["link"] = order.link
    if kind_of(order.service.type).quantity:
        params["quantity"] = order.quantity // order.runs if order.runs else order.quantity
    if order.runs:
        params["runs"], params["interval"] = order.runs, order.interval or 0
    return params


def _customer_reason(message: str) -> str:
    text = message.lower()
    for marker, reason in _CUSTOMER_REASONS.items():
        if marker in text:
            return reason
    return gettext_noop("The provider could not accept this order.")


def _claim_for_sending(order_id: int) -> bool:
    """QUEUED (or HELD and due) → SENDING, for exactly one worker."""
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = (
        Order.objects.filter(due, pk=order_id, submission__in=sources(SUBMISSION_MOVES, Submission.SENDING))
        .exclude(status__in=Order.FINAL)
        .update(submission=Submission.SENDING, submission_changed_at=now, attempts=F("attempts") + 1)
    )
    return claimed == 1


def _from_sending(order: Order, **changes: object) -> bool:
    """Record the outcome of this worker's attempt: `attempts` tells it from a later attempt by another worker
    after an operator's resend."""
    move_check(SUBMISSION_MOVES, Submission.SENDING, str(changes["submission"]))
    changes.setdefault("submission_changed_at", timezone.now())
    mine = Order.objects.filter(pk=order.pk, submission=Submission.SENDING, attempts=order.attempts)
    return mine.update(**changes) == 1


def order_forward(*, order_id: int) -> str:
    """Send one order upstream, once: returns the submission state it ended in ("" if not claimed)."""
    if not _claim_for_sending(order_id):
        return ""
    order = Order.objects.select_related("provider", "service").get(pk=order_id)
    if order.provider is None or order.upstream_service_id is None:  # a manual order cannot be claimed: a bug
        raise ValueError(f"order {order_id} has no provider to send it to")
    now = timezone.now()
    retry_at = now + _backoff(order.attempts)
    try:
        upstream_id = provider_client(order.provider).add(order.upstream_service_id, **_add_params(order))
    except NotSent as exc:
        _from_sending(order, submission=Submission.QUEUED, next_attempt_at=retry_at, last_error=exc.message)
        return Submission.QUEUED
    except Ambiguous as exc:
        # It may exist upstream: never resent automatically; an operator resolves it.
        if _from_sending(order, submission=Submission.UNKNOWN, last_error=exc.message):
            orders_unknown_alert(order_ids=[order_id])
        logger.error("order %s: ambiguous add, needs an operator: %s", order_id, exc.message)
        return Submission.UNKNOWN
    except Rejected as exc:
        if exc.retryable:
            _from_sending(order, submission=Submission.HELD, next_attempt_at=retry_at, last_error=exc.message)
            logger.warning("order %s held: %s", order_id, exc.message)
            return Submission.HELD
        order_reject(order=order, message=exc.message)
        return Submission.REJECTED
    return _record_sent(order, upstream_id, now)


def _record_sent(order: Order, upstream_id: int, now: datetime) -> str:
    """Keep the upstream id whatever happens next: it is the only proof of what exists upstream."""
    logger.info("order %s placed upstream as %s", order.pk, upstream_id)
    sent = {"submission": Submission.SENT, "upstream_id": upstream_id, "sent_at": now, "next_poll_at": now,
            "last_error": ""}  # fmt: skip
    try:
        with transaction.atomic():
            if _from_sending(order, **sent):
                return Submission.SENT
            # The sweeper gave up on this attempt meanwhile (UNKNOWN): now we know it exists upstream, once.
            late = Order.objects.filter(
                pk=order.pk, submission=Submission.UNKNOWN, upstream_id__isnull=True, attempts=order.attempts
            ).exclude(status__in=Order.FINAL)
            if late.update(submission_changed_at=now, **sent):
                order_unknown_over(order_id=order.pk)
                return Submission.SENT
    except IntegrityError:
        pass  # another order already holds this upstream id
    message = f"Placed upstream as order {upstream_id}, but that could not be recorded here: check it."
    # Whatever state a later attempt left it in (even refused for good and refunded), but sent: operators must know.
    unrecorded = [*sources(SUBMISSION_MOVES, Submission.UNKNOWN), Submission.UNKNOWN]
    if Order.objects.filter(pk=order.pk, submission__in=unrecorded).update(
        submission=Submission.UNKNOWN, submission_changed_at=now, last_error=message
    ):
        orders_unknown_alert(order_ids=[order.pk])
    logger.error("order %s: %s", order.pk, message)
    return Submission.UNKNOWN


def order_reject(*, order: Order, message: str) -> None:
    """The provider refused for good: Canceled with a full refund, in one transaction."""
    order_close(
        order=order,
        status=Status.CANCELED,
        note=gettext_noop("Refused upstream"),
        reason=_customer_reason(message),
        where=Q(submission__in=sources(SUBMISSION_MOVES, Submission.REJECTED), attempts=order.attempts),
        submission=Submission.REJECTED,
        submission_changed_at=timezone.now(),
        last_error=message,
    )


def orders_sweep() -> int:
    """Orders whose worker died mid-send (SENDING for too long) become UNKNOWN; returns how many.

    Lost queue messages need no sweep of their own: `forward_due` finds QUEUED and HELD orders by their state.
    """
    limit = timezone.now() - timedelta(seconds=settings.ORDER_SENDING_LIMIT)
    stuck = Order.objects.filter(submission=Submission.SENDING, submission_changed_at__lt=limit)
    with transaction.atomic():
        # Locked, so that a worker's late outcome waits and then finds the order UNKNOWN (see _record_sent).
        ids = list(stuck.select_for_update().values_list("pk", flat=True))
        Order.objects.filter(pk__in=ids).update(
            submission=Submission.UNKNOWN,
            submission_changed_at=timezone.now(),
            last_error="The worker stopped while sending: it may exist upstream.",
        )
        orders_unknown_alert(order_ids=ids)
    return len(ids)
