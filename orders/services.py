"""Placing orders and forwarding them upstream exactly once."""

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import User
from billing.models import LedgerEntry
from billing.services import refund_issue, wallet_debit, wallet_lock
from catalog.clients import provider_client
from catalog.models import Service
from catalog.pricing import discounted_rate, service_price
from orders.models import IdempotencyKey, Order
from orders.validation import ORDER_PARAMS, OrderError, OrderSpec, order_spec, record_id
from panel.money import charge_amount
from upstream.client import Ambiguous, NotSent, Rejected

logger = logging.getLogger(__name__)

Submission = Order.Submission
Status = Order.Status
DUPLICATE_LINK = gettext_noop("You have active order with this link. Please wait until order being completed.")
INCORRECT_SERVICE = gettext_noop("Incorrect service ID")
# What customers read when a provider refused an order for good; its own words stay with operators.
# Reasons and ledger notes are stored in English and translated when a page shows them.
_CUSTOMER_REASONS = {
    "active order": gettext_noop("The link already has an active order at the provider."),
    "link": gettext_noop("The provider refused the link."),
    "quantity": gettext_noop("The provider refused the quantity."),
}
OPERATOR_NOTES: dict[str, str] = {
    Status.COMPLETED: gettext_noop("Marked Completed by an operator"),
    Status.PARTIAL: gettext_noop("Marked Partial by an operator"),
    Status.CANCELED: gettext_noop("Marked Canceled by an operator"),
}


def customer_price(*, service: Service, user: User) -> Decimal:
    """The rate per 1000 this customer pays: the service's rate less their discount, never below cost."""
    return discounted_rate(rate=service.rate, cost=service_price(service).cost, discount_percent=user.discount_percent)


def _units(spec: OrderSpec) -> Decimal:
    return Decimal(1000) if spec.package else Decimal(spec.quantity)


@dataclass(frozen=True)
class Quote:
    """A checked order and what it costs this customer."""

    service: Service
    spec: OrderSpec
    rate: Decimal
    charge: Decimal


def order_quote(*, user: User, service_id: object, params: Mapping[str, str], draft: bool = False) -> Quote:
    """Check and price an order exactly as order_place will, moving nothing; a draft is checked only for price."""
    service = (
        Service.objects.select_related("provider", "category")
        .filter(pk=record_id(service_id) or 0, is_active=True, provider__is_active=True, category__is_active=True)
        .first()
    )
    if service is None:
        raise OrderError(INCORRECT_SERVICE, field="service")
    spec = order_spec(service, params, draft=draft)
    rate = customer_price(service=service, user=user)
    return Quote(service=service, spec=spec, rate=rate, charge=charge_amount(rate * _units(spec) / 1000))


@transaction.atomic
def order_place(*, user: User, service_id: object, params: Mapping[str, str]) -> Order:
    """Validate, price, debit and create an order in one transaction; forwarding starts after commit."""
    quote = order_quote(user=user, service_id=service_id, params=params)
    service, spec = quote.service, quote.spec

    # Serializes this customer's placements: the duplicate check and the debit see each other's orders.
    wallet_lock(user=user)
    if (
        service.deny_duplicates
        and Order.objects.filter(user=user, service=service, link=spec.link).exclude(status__in=Order.FINAL).exists()
    ):
        raise OrderError(DUPLICATE_LINK, field="link")

    order = Order.objects.create(
        user=user,
        service=service,
        provider=service.provider,
        upstream_service_id=service.upstream_id,
        link=spec.link,
        quantity=spec.quantity,
        runs=spec.runs,
        interval=spec.interval,
        fields=spec.fields,
        rate=quote.rate,
        charge=quote.charge,
        cost=charge_amount(service_price(service).cost * _units(spec) / 1000),
    )
    wallet_debit(user=user, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    from orders.tasks import forward_order

    transaction.on_commit(lambda: forward_order.delay(order.pk))
    return order


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def _add_params(order: Order) -> dict[str, str | int]:
    params: dict[str, str | int] = dict(order.fields)
    if order.link:
        params["link"] = order.link
    if not order.service.type.endswith("Package") and order.service.type not in _COUNTED_TYPES:
        params["quantity"] = order.quantity // order.runs if order.runs else order.quantity
    if order.runs:
        params["runs"], params["interval"] = order.runs, order.interval or 0
    return params


_COUNTED_TYPES = ("Custom Comments", "Mentions Custom List", "Comment Replies")


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
        Order.objects.filter(due, pk=order_id, submission__in=[Submission.QUEUED, Submission.HELD])
        .exclude(status__in=Order.FINAL)
        .update(submission=Submission.SENDING, submission_changed_at=now, attempts=F("attempts") + 1)
    )
    return claimed == 1


def _from_sending(order: Order, **changes: object) -> bool:
    """Record the outcome of this worker's attempt: `attempts` tells it from a later attempt by another worker
    after an operator's resend."""
    changes.setdefault("submission_changed_at", timezone.now())
    mine = Order.objects.filter(pk=order.pk, submission=Submission.SENDING, attempts=order.attempts)
    return mine.update(**changes) == 1


def order_forward(*, order_id: int) -> str:
    """Send one order upstream, once: returns the submission state it ended in ("" if not claimed)."""
    if not _claim_for_sending(order_id):
        return ""
    order = Order.objects.select_related("provider", "service").get(pk=order_id)
    now = timezone.now()
    retry_at = now + _backoff(order.attempts)
    try:
        upstream_id = provider_client(order.provider).add(order.upstream_service_id, **_add_params(order))
    except NotSent as exc:
        _from_sending(order, submission=Submission.QUEUED, next_attempt_at=retry_at, last_error=exc.message)
        return Submission.QUEUED
    except Ambiguous as exc:
        # It may exist upstream: never resent automatically; an operator resolves it.
        _from_sending(order, submission=Submission.UNKNOWN, last_error=exc.message)
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
                return Submission.SENT
    except IntegrityError:
        pass  # another order already holds this upstream id
    message = f"Placed upstream as order {upstream_id}, but that could not be recorded here: check it."
    Order.objects.filter(pk=order.pk).exclude(submission=Submission.SENT).update(
        submission=Submission.UNKNOWN, submission_changed_at=now, last_error=message
    )
    logger.error("order %s: %s", order.pk, message)
    return Submission.UNKNOWN


@transaction.atomic
def order_reject(*, order: Order, message: str) -> None:
    """The provider refused for good: Canceled with a full refund, in one transaction."""
    changed = Order.objects.filter(pk=order.pk, submission=Submission.SENDING, attempts=order.attempts).update(
        submission=Submission.REJECTED,
        submission_changed_at=timezone.now(),
        status=Status.CANCELED,
        completed_at=timezone.now(),
        last_error=message,
        reason=_customer_reason(message),
        remains=F("quantity"),
    )
    if changed:
        refund_issue(order=order, amount=order.charge, note=gettext_noop("Refused upstream"))


def forward_due(*, limit: int = 1000, settle: timedelta = timedelta(0)) -> list[int]:
    """Orders waiting to be sent whose time has come (QUEUED, or HELD after its backoff).

    `settle` leaves alone orders queued more recently than that: their own message is still on its way.
    """
    now = timezone.now()
    return list(
        Order.objects.filter(
            submission__in=[Submission.QUEUED, Submission.HELD], submission_changed_at__lte=now - settle
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exclude(status__in=Order.FINAL)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


def orders_sweep() -> int:
    """Orders whose worker died mid-send (SENDING for too long) become UNKNOWN; returns how many.

    Lost queue messages need no sweep of their own: `forward_due` finds QUEUED and HELD orders by their state.
    """
    limit = timezone.now() - timedelta(seconds=settings.ORDER_SENDING_LIMIT)
    return Order.objects.filter(submission=Submission.SENDING, submission_changed_at__lt=limit).update(
        submission=Submission.UNKNOWN,
        submission_changed_at=timezone.now(),
        last_error="The worker stopped while sending: it may exist upstream.",
    )


# Operators' actions (Django admin). Money moves only through billing.services, as everywhere else.


def order_resend(*, order_id: int) -> bool:
    """Put an UNKNOWN or HELD order back in the queue: the operator accepts it may be duplicated upstream."""
    requeued = (
        Order.objects.filter(pk=order_id, submission__in=[Submission.UNKNOWN, Submission.HELD], upstream_id=None)
        .exclude(status__in=Order.FINAL)
        .update(submission=Submission.QUEUED, submission_changed_at=timezone.now(), next_attempt_at=None)
    )
    if requeued:
        from orders.tasks import forward_order

        transaction.on_commit(lambda: forward_order.delay(order_id))
    return requeued == 1


def _locked_order(order_id: int) -> Order:
    order = Order.objects.select_for_update().select_related("user").filter(pk=order_id).first()
    if order is None:
        raise OrderError(f"There is no order {order_id}.")
    return order


def order_link_upstream(*, order_id: int, upstream_id: int) -> None:
    """Record the upstream id an operator found for an UNKNOWN order; polling takes it from there."""
    try:
        with transaction.atomic():
            order = _locked_order(order_id)
            if order.submission != Submission.UNKNOWN or order.is_final:
                raise OrderError("Only an open order in the unknown state can be linked to an upstream id.")
            now = timezone.now()
            order.submission, order.submission_changed_at, order.upstream_id = Submission.SENT, now, upstream_id
            order.sent_at, order.next_poll_at, order.last_error = now, now, ""
            order.save(update_fields=["submission", "submission_changed_at", "upstream_id", "sent_at", "next_poll_at",
                                      "last_error", "updated_at"])  # fmt: skip
    except IntegrityError:
        raise OrderError(f"Upstream order {upstream_id} already belongs to another order.") from None


@transaction.atomic
def order_finish(*, order_id: int, status: str, remains: int | None = None, reason: str = "") -> Order:
    """An operator ends an order as Completed, Partial (with what remains) or Canceled; the refund is computed
    as for a polled status, and given once."""
    from orders.polling import refund_due

    if status not in Order.FINAL:
        raise OrderError("Choose Completed, Partial or Canceled.")
    order = _locked_order(order_id)
    if order.is_final:
        raise OrderError(f"Order {order_id} is already {order.status}.")
    if order.submission == Submission.SENDING:
        # A worker is placing it upstream this very moment; its outcome decides what happens next.
        raise OrderError(f"Order {order_id} is being sent right now: try again in a minute.")
    if status == Status.PARTIAL and (remains is None or not 0 < remains <= order.quantity):
        raise OrderError(f"For Partial, give what remains undelivered (1 to {order.quantity}).")
    order.status, order.completed_at = status, timezone.now()
    order.remains = order.quantity if status == Status.CANCELED else (0 if status == Status.COMPLETED else remains)
    order.reason = reason[:300] or order.reason
    order.save(update_fields=["status", "completed_at", "remains", "reason", "updated_at"])
    amount = refund_due(order)
    if amount:
        refund_issue(order=order, amount=amount, note=OPERATOR_NOTES[status])
    return order


IDEMPOTENCY_REUSED = gettext_noop("Idempotency key reused with different parameters")


def _fingerprint(service_id: object, params: Mapping[str, str]) -> str:
    shaping = {name: value for name, value in params.items() if name in ORDER_PARAMS}
    canonical = json.dumps({"service": str(service_id), **shaping}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _placed_with_key(user: User, key: str, fingerprint: str) -> Order | None:
    earlier = IdempotencyKey.objects.select_related("order").filter(user=user, key=key).first()
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint:
        raise OrderError(IDEMPOTENCY_REUSED)
    return earlier.order


def order_place_once(*, user: User, service_id: object, params: Mapping[str, str], key: str) -> tuple[Order, bool]:
    """order_place, at most once per idempotency key: a repeat with the same parameters returns the first order.

    Returns the order and whether this call placed it (False for a repeat).
    """
    if not 0 < len(key) <= 64:
        raise OrderError(gettext_noop("The idempotency key must be 1 to 64 characters."))
    fingerprint = _fingerprint(service_id, params)
    earlier = _placed_with_key(user, key, fingerprint)
    if earlier is not None:
        return earlier, False
    try:
        with transaction.atomic():
            order = order_place(user=user, service_id=service_id, params=params)
            IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint, order=order)
            return order, True
    except IntegrityError:
        # The same key raced in from a parallel request, whose order stands; this one was rolled back whole.
        earlier = _placed_with_key(user, key, fingerprint)
        if earlier is None:
            raise
        return earlier, False
