"""Placing orders: check, price, debit and create in one transaction; at most once per idempotency key."""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from billing.services import order_charge, wallet_lock
from catalog.models import Service
from catalog.selectors import customer_service
from orders.models import IdempotencyKey, Order
from orders.validation import OrderError, OrderSpec, order_spec
from panel.ids import record_id
from panel.money import charge_amount
from upstream.messages import DUPLICATE_LINK, IDEMPOTENCY_KEY_LENGTH, IDEMPOTENCY_REUSED, INCORRECT_SERVICE
from upstream.service_types import ORDER_PARAMS


def _units(spec: OrderSpec) -> Decimal:
    return Decimal(1000) if spec.package else Decimal(spec.quantity)


@dataclass(frozen=True)
class Quote:
    """A checked order and what it costs this customer."""

    service: Service
    spec: OrderSpec
    rate: Decimal
    charge: Decimal
    cost: Decimal  # what it costs us upstream, in the panel currency


def order_quote(*, user: User, service_id: object, params: Mapping[str, str], draft: bool = False) -> Quote:
    """Check and price an order exactly as order_place will, moving nothing; a draft is checked only for price."""
    offer = customer_service(user=user, service_id=record_id(service_id) or 0)
    if offer is None:
        raise OrderError(INCORRECT_SERVICE, field="service")
    spec = order_spec(offer.service, params, draft=draft)
    units = _units(spec)
    return Quote(
        service=offer.service,
        spec=spec,
        rate=offer.rate,
        charge=charge_amount(offer.rate * units / 1000),
        cost=charge_amount(offer.cost * units / 1000),
    )


@transaction.atomic
def order_place(*, user: User, service_id: object, params: Mapping[str, str], origin: str = Order.Origin.WEB) -> Order:
    """Validate, price, debit and create an order in one transaction; forwarding starts after commit.

    `origin` is where the customer placed it: a page (web) or API v2 (api)."""
    quote = order_quote(user=user, service_id=service_id, params=params)
    service, spec = quote.service, quote.spec

    wallet = None
    if service.deny_duplicates:
        # Serializes this customer's placements: the duplicate check and the debit see each other's orders.
        wallet = wallet_lock(user=user)
        if Order.objects.filter(user=user, service=service, link=spec.link).exclude(status__in=Order.FINAL).exists():
            raise OrderError(DUPLICATE_LINK, field="link")

    now = timezone.now()
    drip = spec.runs is not None and service.panel_runs_dripfeed
    if service.is_manual:
        # A manual service's order waits for staff (orders/services/manual.py); it is never forwarded.
        submission = Order.Submission.MANUAL
    elif drip:
        # Never forwarded itself: beat places its runs (orders/services/dripfeed.py), the first one at once.
        submission = Order.Submission.DRIP
    else:
        submission = Order.Submission.QUEUED
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
        origin=origin,
        rate=quote.rate,
        charge=quote.charge,
        cost=quote.cost,
        submission=submission,
        next_run_at=now if drip else None,
    )
    order_charge(order=order, wallet=wallet)
    # The tasks module imports the services: bound at call time.
    if drip:
        from orders.tasks import place_dripfeed_run

        transaction.on_commit(lambda: place_dripfeed_run.delay(order.pk))
    elif not order.is_manual:
        from orders.tasks import forward_order

        transaction.on_commit(lambda: forward_order.delay(order.pk))
    return order


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


def order_place_once(
    *, user: User, service_id: object, params: Mapping[str, str], key: str, origin: str = Order.Origin.WEB
) -> tuple[Order, bool]:
    """order_place, at most once per idempotency key: a repeat with the same parameters returns the first order.

    Returns the order and whether this call placed it (False for a repeat).
    """
    if not 0 < len(key) <= 64 or not key.isprintable():  # NUL, controls and lone surrogates are not printable
        raise OrderError(IDEMPOTENCY_KEY_LENGTH)
    fingerprint = _fingerprint(service_id, params)
    earlier = _placed_with_key(user, key, fingerprint)
    if earlier is not None:
        return earlier, False
    try:
        with transaction.atomic():
            order = order_place(user=user, service_id=service_id, params=params, origin=origin)
            IdempotencyKey.objects.create(user=user, key=key, fingerprint=fingerprint, order=order)
            return order, True
    except IntegrityError:
        # The same key raced in from a parallel request, whose order stands; this one was rolled back whole.
        earlier = _placed_with_key(user, key, fingerprint)
        if earlier is None:
            raise
        return earlier, False
