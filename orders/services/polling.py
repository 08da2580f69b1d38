"""Batched status polling: due orders in chunks of at most 100, one upstream call per chunk.

Each chunk is applied in one transaction together with the refunds its changes call for.
"""

import functools
import itertools
import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from queue import SimpleQueue
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_noop

from billing.services import MAX_AMOUNT
from catalog.clients import provider_call_record, provider_client
from catalog.models import Provider, Service
from catalog.services.routes import route_failure
from orders.models import Order
from orders.services.lifecycle import order_move_status, orders_settle
from panel.db import rows_update
from upstream.client import ApiClient, UpstreamError
from upstream.protocol import BATCH_LIMIT, ItemError, OrderStatus
from upstream.service_types import kind_of

logger = logging.getLogger(__name__)

Status = Order.Status
STATUS_FIELDS = [
    "status",
    "start_count",
    "remains",
    "upstream_charge",
    "completed_at",
    "missed_polls",
    "last_error",
]
SCHEDULE_FIELDS = ["next_poll_at", "poll_claimed_at", "polled_at"]
RETRY_AFTER_FAILURE = timedelta(minutes=1)
# What the columns hold; a provider's absurd numbers are dropped rather than failing the chunk.
MAX_COUNT = 2**63 - 1


@dataclass
class PollReport:
    polled: int = 0
    changed: int = 0
    refunds: int = 0
    refunded: Decimal = Decimal(0)
    unknown_ids: int = 0
    upstream_calls: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: "PollReport") -> None:
        for name in ("polled", "changed", "refunds", "refunded", "unknown_ids", "upstream_calls"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failures += other.failures


def next_poll_delay(age: timedelta) -> timedelta:
    """Young orders move fast and are polled every minute; older ones back off, to an hour at most."""
    return min(max(age / 10, timedelta(minutes=1)), timedelta(hours=1))


def _claim(
    provider: Provider, *, after_pk: int, everything: bool, cycle_start: datetime, now: datetime
) -> list[tuple[int, int | None]]:
    """Claim up to 100 pollable orders past `after_pk`; rows another run holds are skipped, not waited for."""
    stale = now - timedelta(seconds=settings.POLL_CLAIM_SECONDS)
    pollable = (
        Order.objects.filter(provider=provider, submission=Order.Submission.SENT, pk__gt=after_pk)
        .exclude(status__in=Order.FINAL)
        .filter(Q(poll_claimed_at__isnull=True) | Q(poll_claimed_at__lt=stale))
    )
    if everything:
        # Every open order once per cycle, even with several pollers: not those already polled since it began.
        pollable = pollable.filter(Q(polled_at__isnull=True) | Q(polled_at__lt=cycle_start))
    else:
        pollable = pollable.filter(next_poll_at__lte=cycle_start)
    if connection.vendor == "postgresql":
        # The same claim in one statement (and so one commit), on the hot path of every chunk.
        chosen, params = pollable.order_by("pk").values("pk")[:BATCH_LIMIT].query.sql_with_params()
        quote = connection.ops.quote_name
        table, key = quote(Order._meta.db_table), quote(Order._meta.pk.column)
        sql = (
            f"UPDATE {table} SET {quote('poll_claimed_at')} = %s "  # noqa: S608  # nosec B608 - quoted names, the ORM's SQL
            # ARRAY(...) runs the subquery once: never more than BATCH_LIMIT rows, whatever plan Postgres picks.
            f"WHERE {key} = ANY(ARRAY({chosen} FOR UPDATE SKIP LOCKED)) RETURNING {key}, {quote('upstream_id')}"
        )
        own_transaction = not connection.in_atomic_block
        with transaction.atomic(), connection.cursor() as cursor:
            if own_transaction:
                # A claim lost in a crash only means these orders are polled again: its commit need not wait for
                # the disk. (Not in a caller's transaction, whose commit may move money.)
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
            cursor.execute(sql, [now, *params])
            return sorted(cursor.fetchall())
    with transaction.atomic():
        rows = list(
            pollable.select_for_update(skip_locked=True).order_by("pk").values_list("pk", "upstream_id")[:BATCH_LIMIT]
        )
        Order.objects.filter(pk__in=[pk for pk, _ in rows]).update(poll_claimed_at=now)
    return rows


def _release(pks: list[int], now: datetime, *, error: str = "") -> None:
    """Give claimed orders back after a failure, to be polled again a little later (not at once: a chunk that
    keeps failing must not starve the orders after it)."""
    changes: dict[str, object] = {"poll_claimed_at": None, "next_poll_at": now + RETRY_AFTER_FAILURE}
    if error:
        changes["last_error"] = error
    Order.objects.filter(pk__in=pks, poll_claimed_at=now).update(**changes)


@dataclass(slots=True)
class _Polled:
    """A claimed order as the apply step reads it (plain values, no model instance): what an answer may change,
    and what its refund and its next poll need."""

    pk: int
    upstream_id: int | None
    user_id: int
    quantity: int
    charge: Decimal
    created_at: datetime
    service_type: str
    updated_at: datetime
    parent_id: int | None
    route_id: int | None
    status: str
    start_count: int | None
    remains: int | None
    upstream_charge: Decimal | None
    completed_at: datetime | None
    missed_polls: int
    last_error: str

    def state(self) -> tuple[object, ...]:
        return (self.status, self.start_count, self.remains, self.upstream_charge, self.completed_at,
                self.missed_polls, self.last_error)  # fmt: skip


# The columns of _Polled, in its order; the last ones are STATUS_FIELDS, as state() lists them.
_READ = ["pk", "upstream_id", "user_id", "quantity", "charge", "created_at", "service__type", "updated_at",
         "parent_id", "route", *STATUS_FIELDS]  # fmt: skip
# How a status the provider reports as a failure reads on the order (it counts against the order's route once).
PROVIDER_FAILURE = "The provider reports a failure: "


def _held(claimed: list[int], now: datetime) -> list[tuple[Any, ...]]:
    """The claimed orders this run still holds and that are still open, row-locked, as _READ's values: an order
    an operator finished meanwhile is left alone (its status and refund are theirs)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_held_sql(), [claimed, now, [str(status) for status in Order.FINAL]])
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
    held = Order.objects.select_for_update(of=("self",)).filter(pk__in=claimed, poll_claimed_at=now)
    return list(held.exclude(status__in=Order.FINAL).order_by("pk").values_list(*_READ))


@functools.cache
def _held_sql() -> str:
    """The ORM's query of _held, written out for Postgres: compiling it, and binding 100 ids one by one, took
    a third of the apply step's CPU (the ids go as one array here)."""
    quote, order = connection.ops.quote_name, Order._meta

    def column(name: str) -> str:
        if name == "service__type":
            return f"s.{quote('type')}"  # Service.type
        field = order.pk if name == "pk" else order.get_field(name)
        assert isinstance(field, models.Field) and field.column, f"{name} is not a column"
        return f"o.{quote(field.column)}"

    services, service_key = quote(Service._meta.db_table), quote(Service._meta.pk.column)
    return (
        f"SELECT {', '.join(column(name) for name in _READ)} "  # noqa: S608  # nosec B608 - quoted model names
        f"FROM {quote(order.db_table)} o JOIN {services} s ON s.{service_key} = {column('service')} "
        f"WHERE {column('pk')} = ANY(%s) AND {column('poll_claimed_at')} = %s AND NOT ({column('status')} = ANY(%s)) "
        f"ORDER BY {column('pk')} FOR UPDATE OF o"
    )


def _note_answer(order: _Polled, answer: OrderStatus | ItemError | None, now: datetime) -> None:
    """Copy what the provider said onto the order (in memory)."""
    if answer is None or isinstance(answer, ItemError):
        message = answer.message if answer else "no answer for this id"
        if "incorrect order" in message.lower() or "not found" in message.lower():
            order.missed_polls += 1
            if order.missed_polls >= settings.POLL_MISSES_ALERT:
                message = f"The provider does not know upstream order {order.upstream_id} ({order.missed_polls} polls)."
        order.last_error = message
        return
    if answer.state is None:
        order.last_error = f"{PROVIDER_FAILURE}{answer.raw_status}"
        return
    order.missed_polls, order.last_error = 0, ""
    if answer.state.value == Status.PARTIAL and (answer.remains is None or kind_of(order.service_type).package):
        # The refund of a Partial needs this answer's remains, in units the order was priced in; a package's
        # remains are not. Stay open and ask again; an operator can finish it meanwhile.
        order.last_error = "The provider reports Partial without a usable remains count: finish it by hand."
        return
    order_move_status(order, answer.state.value, now=now)
    if answer.start_count is not None and answer.start_count <= MAX_COUNT:
        order.start_count = answer.start_count
    if answer.remains is not None:
        order.remains = min(answer.remains, order.quantity)
    if answer.charge is not None and answer.charge < MAX_AMOUNT:
        order.upstream_charge = answer.charge


@transaction.atomic
def _apply(claimed: list[int], answers: dict[int, OrderStatus | ItemError], now: datetime) -> PollReport:
    """Apply one chunk's answers and refunds in one transaction, to the orders this run still holds.

    The same few statements whatever the answers: one to lock and read the orders, one UPDATE of them all (the
    schedule of each, and what changed), and the refunds' batch when some are due, last: it locks the customers'
    wallets, which other pollers and customers' orders wait for, so they are held the shortest time.
    """
    report = PollReport(polled=len(claimed))
    rows, changed, failed = [], [], []
    for order in (_Polled(*values) for values in _held(claimed, now)):
        before = order.state()
        _note_answer(order, answers.get(order.upstream_id or 0), now)
        if order.last_error.startswith(PROVIDER_FAILURE) and order.last_error != before[-1] and order.route_id:
            failed.append((order.route_id, order.last_error))
        if order.state() != before:
            order.updated_at = now
            changed.append(order)
            report.unknown_ids += order.missed_polls > 0
        # An unchanged order gets its own values back (its row is locked): one UPDATE for the whole chunk.
        schedule = (now + next_poll_delay(now - order.created_at), None, now)
        rows.append((order.pk, *order.state(), *schedule, order.updated_at))
    rows_update(Order, [*STATUS_FIELDS, *SCHEDULE_FIELDS, "updated_at"], rows)
    for entry in orders_settle(orders=changed, note=gettext_noop("Not delivered upstream")):
        report.refunds += 1
        report.refunded += entry.amount
    report.changed = len(changed)
    # Rare (a failure newly reported), so counted here: each route's row is locked only for its own count.
    for route_id, message in failed:
        route_failure(route_id=route_id, message=message)
    return report


class _Slot:
    """One of a provider's polling slots (its concurrency limit), held with a token so only its owner frees it."""

    def __init__(self, provider: Provider) -> None:
        self.key: str | None = None
        self.token = uuid.uuid4().hex
        for slot in range(settings.POLL_CONCURRENCY_PER_PROVIDER):
            key = f"poll-slot:{provider.pk}:{slot}"
            if cache.add(key, self.token, timeout=settings.POLL_CLAIM_SECONDS):
                self.key = key
                return

    def keep(self) -> None:
        if self.key:
            cache.touch(self.key, timeout=settings.POLL_CLAIM_SECONDS)

    def free(self) -> None:
        if self.key and cache.get(self.key) == self.token:
            cache.delete(self.key)


@dataclass(frozen=True)
class _Chunk:
    """Up to 100 claimed orders: their ids, their upstream ids (the status call), and the claim's time."""

    pks: list[int]
    upstream_ids: list[int]
    claimed_at: datetime


def _chunks(provider: Provider, *, everything: bool, cycle_start: datetime) -> Iterator[_Chunk]:
    """The provider's pollable orders in id order, claimed a chunk at a time as the caller asks for the next."""
    after_pk = 0
    while True:
        now = timezone.now()
        rows = _claim(provider, after_pk=after_pk, everything=everything, cycle_start=cycle_start, now=now)
        if not rows:
            return
        after_pk = rows[-1][0]
        idless = [pk for pk, upstream_id in rows if upstream_id is None]
        _release(idless, now, error="Sent without an upstream id: link it or cancel it.")
        sendable = [(pk, upstream_id) for pk, upstream_id in rows if upstream_id is not None]
        if sendable:
            yield _Chunk([pk for pk, _ in sendable], [upstream_id for _, upstream_id in sendable], now)


def poll_provider(*, provider: Provider, everything: bool = False, client: ApiClient | None = None) -> PollReport:
    """One polling cycle over a provider's due orders (or all its open orders): stops at its first failure.

    One status call at a time, and while it is in flight this poller applies the chunk before it and claims the
    one after: the network wait, most of a chunk's time, overlaps the database work. The calls run in a thread of
    their own, so a `client` given here must not touch the database from its outcome callback.
    """
    report = PollReport()
    slot = _Slot(provider)
    if slot.key is None:
        report.failures.append(f"{provider.name}: skipped, all its polling slots are busy")
        return report
    # The calls run in a thread of their own; how each went is recorded here, on this thread's connection
    # (and in its transaction, if the caller has one).
    outcomes: SimpleQueue[UpstreamError | None] = SimpleQueue()
    client = client or provider_client(provider, on_outcome=outcomes.put)
    chunks = _chunks(provider, everything=everything, cycle_start=timezone.now())
    claimed: list[_Chunk] = []  # the chunk whose call is in flight or answered, then the next one
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"poll-{provider.pk}") as caller:
            claimed.extend(itertools.islice(chunks, 1))
            call = caller.submit(client.status, claimed[0].upstream_ids) if claimed else None
            claimed.extend(itertools.islice(chunks, 1))
            while call is not None:
                chunk = claimed[0]
                report.upstream_calls += 1
                answers = call.result()
                following = claimed[1] if len(claimed) > 1 else None
                call = caller.submit(client.status, following.upstream_ids) if following else None
                while not outcomes.empty():
                    provider_call_record(provider=provider, failure=outcomes.get())
                slot.keep()
                report.add(_apply(chunk.pks, answers, chunk.claimed_at))
                claimed.pop(0)
                claimed.extend(itertools.islice(chunks, 1))
    except UpstreamError as exc:
        report.failures.append(f"{provider.name}: {exc.message}")
        logger.warning("polling %s failed: %s", provider.name, exc.message)
    except Exception:
        # Whatever went wrong with this chunk must not wedge the others (or other providers).
        report.failures.append(f"{provider.name}: an error while applying statuses (see the log)")
        logger.exception("polling %s: applying a chunk failed", provider.name)
    finally:
        for chunk in claimed:
            _release(chunk.pks, chunk.claimed_at)
        while not outcomes.empty():
            provider_call_record(provider=provider, failure=outcomes.get())
        slot.free()
    return report


def providers_to_poll() -> list[int]:
    """The providers with open orders (an inactive provider's open orders still need tracking), by id."""
    open_orders = Order.objects.filter(submission=Order.Submission.SENT).exclude(status__in=Order.FINAL)
    return list(Provider.objects.filter(pk__in=open_orders.values("provider_id")).values_list("pk", flat=True))


def poll_statuses(*, everything: bool = False) -> PollReport:
    """A cycle over every provider with open orders, one after the other, in this process."""
    report = PollReport()
    for provider in Provider.objects.filter(pk__in=providers_to_poll()):
        report.add(poll_provider(provider=provider, everything=everything))
    return report
