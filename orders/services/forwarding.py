"""Forwarding orders upstream exactly once: claim, send, record the outcome; the sweep of stuck sends."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from catalog.clients import provider_client
from catalog.models import Provider, Route
from catalog.services.routes import route_failure, route_recovered, routes_usable
from orders.models import ForwardAttempt, Order
from orders.services.alerts import order_unknown_over, orders_unknown_alert
from orders.services.lifecycle import SUBMISSION_MOVES, move_check, order_close, sources
from panel.money import charge_amount
from upstream.client import Ambiguous, NotSent, Rejected
from upstream.service_types import kind_of

logger = logging.getLogger(__name__)

Submission = Order.Submission
Status = Order.Status
Attempt = ForwardAttempt.Outcome
NO_ROUTE = (
    "No route can take this order now (each is off, in quarantine, too dear, outside its limits, or without the "
    "drip-feed it needs)."
)
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
    """QUEUED (or HELD and due) → SENDING, for exactly one worker; never a drip-feed's run once its parent ended
    (it was refunded: the run would be delivered for free)."""
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    claimed = (
        Order.objects.filter(due, pk=order_id, submission__in=sources(SUBMISSION_MOVES, Submission.SENDING))
        .exclude(status__in=Order.FINAL)
        # NOT EXISTS, not a join: a join would make Django update by `pk IN (subquery)`, and Postgres would not
        # recheck the submission after a racing worker's commit (two workers could claim one order).
        .exclude(Exists(Order.objects.filter(pk=OuterRef("parent_id"), status__in=Order.FINAL)))
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


@dataclass(frozen=True)
class _Target:
    """Where one attempt goes: a route of the service, or (a service without routes) the order's own provider."""

    provider: Provider
    upstream_service_id: int
    route: Route | None = None


def _targets(order: Order, now: datetime) -> list[_Target] | None:
    """The routes this order may go to, in order; None when the service has none (the order's own provider)."""
    routes = list(order.service.routes.all()[:1])
    if not routes:
        return None
    per_run = order.quantity // order.runs if order.runs else order.quantity
    counted = kind_of(order.service.type).quantity
    return [
        _Target(provider=route.provider, upstream_service_id=route.upstream_id, route=route)
        for route in routes_usable(service=order.service, now=now)
        # Fail closed: a route costing more than this customer pays, or that cannot take this quantity, is skipped;
        # so is one whose provider has no drip-feed for an order sent with runs (it would deliver one run only).
        if route.cost() <= order.rate
        and (not counted or route.min_quantity <= per_run <= route.max_quantity)
        and (route.dripfeed or not order.runs)
    ]


def _attempt(order: Order, target: _Target, outcome: str, message: str = "", upstream_id: int | None = None) -> None:
    ForwardAttempt.objects.create(order=order, route=target.route, provider=target.provider,
                                  upstream_service_id=target.upstream_service_id, outcome=outcome,
                                  message=message[:2000], upstream_id=upstream_id)  # fmt: skip


def _failed(target: _Target, message: str) -> None:
    if target.route is not None:
        route_failure(route_id=target.route.pk, message=message)


def _placed_on(order: Order, target: _Target) -> dict[str, object]:
    """Where the order went, and what it costs us there (a backup route may be dearer), priced as at placement."""
    placed: dict[str, object] = {"provider": target.provider, "upstream_service_id": target.upstream_service_id,
                                 "route": target.route}  # fmt: skip
    if target.route is not None:
        units = Decimal(1000) if kind_of(order.service.type).package else Decimal(order.quantity)
        placed["cost"] = charge_amount(target.route.cost() * units / 1000)
    return placed


def _sending_to(order: Order, target: _Target) -> bool:
    """Before each call: whether this attempt is still this worker's (the sweeper may have given up on it, and an
    operator resent or finished it, while an earlier route answered). The order then names where it is going, so
    that if it is swept to UNKNOWN during this call, operators know which provider may have it."""
    mine = Order.objects.filter(pk=order.pk, submission=Submission.SENDING, attempts=order.attempts)
    return mine.update(submission_changed_at=timezone.now(), **_placed_on(order, target)) == 1


def order_forward(*, order_id: int) -> str:
    """Send one order upstream, once, to the first route that takes it: returns the submission state it ended in
    ("" if not claimed, or taken over before it was sent). A refusal moves it to the next route; an ambiguous
    answer never does."""
    if not _claim_for_sending(order_id):
        return ""
    order = Order.objects.select_related("provider", "service").get(pk=order_id)
    if order.provider is None or order.upstream_service_id is None:  # a manual order cannot be claimed: a bug
        raise ValueError(f"order {order_id} has no provider to send it to")
    now = timezone.now()
    retry_at = now + _backoff(order.attempts)
    targets = _targets(order, now)
    if targets is None:
        targets = [_Target(provider=order.provider, upstream_service_id=order.upstream_service_id)]
    not_sent, held, refused = "", "", ""
    for target in targets:
        if not _sending_to(order, target):
            logger.warning("order %s was taken over before it went to %s: not sent there", order_id, target.provider)
            return ""
        try:
            upstream_id = provider_client(target.provider).add(target.upstream_service_id, **_add_params(order))
        except NotSent as exc:
            _attempt(order, target, Attempt.NOT_SENT, exc.message)
            _failed(target, exc.message)
            not_sent = not_sent or exc.message
            continue
        except Ambiguous as exc:
            # It may exist upstream: never resent automatically, nor sent elsewhere; an operator resolves it.
            _attempt(order, target, Attempt.UNKNOWN, exc.message)
            _failed(target, exc.message)
            if _from_sending(order, submission=Submission.UNKNOWN, last_error=exc.message, **_placed_on(order, target)):
                orders_unknown_alert(order_ids=[order_id])
            logger.error("order %s: ambiguous add, needs an operator: %s", order_id, exc.message)
            return Submission.UNKNOWN
        except Rejected as exc:
            _attempt(order, target, Attempt.HELD if exc.retryable else Attempt.REJECTED, exc.message)
            if exc.retryable:
                _failed(target, exc.message)
                held = held or exc.message
            else:
                refused = refused or exc.message
            continue
        _attempt(order, target, Attempt.SENT, upstream_id=upstream_id)
        if target.route is not None:
            route_recovered(route=target.route)
        return _record_sent(order, upstream_id, now, target)
    if not_sent:
        _from_sending(order, submission=Submission.QUEUED, next_attempt_at=retry_at, last_error=not_sent)
        return Submission.QUEUED
    if not targets:
        held = NO_ROUTE
    if held:
        _from_sending(order, submission=Submission.HELD, next_attempt_at=retry_at, last_error=held)
        logger.warning("order %s held: %s", order_id, held)
        return Submission.HELD
    order_reject(order=order, message=refused)
    return Submission.REJECTED


def _record_sent(order: Order, upstream_id: int, now: datetime, target: _Target | None = None) -> str:
    """Keep the upstream id whatever happens next: it is the only proof of what exists upstream."""
    logger.info("order %s placed upstream as %s", order.pk, upstream_id)
    placed = _placed_on(order, target) if target else {}
    sent = {"submission": Submission.SENT, "upstream_id": upstream_id, "sent_at": now, "next_poll_at": now,
            "last_error": "", **placed}  # fmt: skip
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
        submission=Submission.UNKNOWN, submission_changed_at=now, last_error=message, **placed
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
