"""Reads of orders: a customer's orders and refills (always scoped to that customer), the orders waiting to be
forwarded, and the completion times of each service."""

import functools
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import connection
from django.db.models import Avg, Count, Exists, F, Field, OuterRef, Q, QuerySet, Subquery, Sum, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from accounts.models import User
from orders.models import CancelRequest, Order, Refill
from panel.ids import record_id


def customer_orders(*, user: User) -> QuerySet[Order]:
    """The orders the customer placed: never the runs of a drip-feed the panel runs (those are the panel's)."""
    return Order.objects.filter(user=user, parent__isnull=True)


def order_of(*, user: User, order_id: object) -> Order | None:
    """The customer's own order with this id (as the client wrote it), with its service; else None."""
    return customer_orders(user=user).select_related("service", "route").filter(pk=record_id(order_id) or 0).first()


class OrderState(NamedTuple):
    """What `status` tells of an order."""

    charge: Decimal
    start_count: int | None
    status: str
    remains: int | None
    quantity: int


@functools.cache
def _states_query() -> str:
    quote = connection.ops.quote_name
    fields = [Order._meta.get_field(name) for name in ("id", *OrderState._fields)]
    columns = ", ".join(quote(field.column) for field in fields if isinstance(field, Field))
    # Only the model's own table and column names, quoted, go into the text; every value is a parameter.
    table, user, pk, parent = quote(Order._meta.db_table), quote("user_id"), quote("id"), quote("parent_id")
    return f"SELECT {columns} FROM {table} WHERE {user} = %s AND {pk} = ANY(%s) AND {parent} IS NULL"  # noqa: S608  # nosec B608 - quoted identifiers, no values


def order_states_of(*, user: User, ids: Iterable[int]) -> dict[int, OrderState]:
    """The state of the customer's own orders among these ids, by id: one query, only the columns it needs.

    On Postgres written out, with the ids as one array: for the 100 ids of a batch `status` the ORM takes three
    times longer to build the query than to run it.
    """
    wanted = list(ids)
    if connection.vendor != "postgresql":
        rows = customer_orders(user=user).filter(pk__in=wanted).values_list("pk", *OrderState._fields)
        return {pk: OrderState(*state) for pk, *state in rows}
    if not wanted:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_states_query(), [user.pk, wanted])
        return {pk: OrderState(*state) for pk, *state in cursor.fetchall()}


def refills_of(*, user: User, ids: Iterable[int]) -> dict[int, Refill]:
    return {refill.pk: refill for refill in Refill.objects.filter(order__user=user, pk__in=list(ids))}


def orders_for_user(*, user: User, status: str = "", search: str = "") -> QuerySet[Order]:
    """The customer's orders, newest first, with their service, whether a refill or cancel is open, and how many
    runs ended of a drip-feed the panel runs (`runs_done`).

    A search of digits finds the order with that id or links containing them; any other text searches links.
    """
    orders = customer_orders(user=user)
    if status:
        orders = orders.filter(status=status)
    search = search.replace("\x00", "").strip()  # Postgres text cannot hold NUL: it cannot match anything
    if search:
        found = Q(link__icontains=search)
        if (order_id := record_id(search)) is not None:
            found |= Q(pk=order_id)
        orders = orders.filter(found)
    open_refills = Refill.objects.filter(order=OuterRef("pk")).exclude(status__in=Refill.FINAL)
    open_cancels = CancelRequest.objects.filter(order=OuterRef("pk"), status__in=CancelRequest.OPEN)
    runs_done = (
        Order.objects.filter(parent=OuterRef("pk"), status__in=Order.FINAL)
        .order_by()
        .values("parent")
        .annotate(done=Count("pk"))
        .values("done")
    )
    return (
        orders.select_related("service", "route")
        .annotate(
            refill_in_flight=Exists(open_refills),
            cancel_in_flight=Exists(open_cancels),
            runs_done=Coalesce(Subquery(runs_done), 0),
        )
        .order_by("-pk")
    )


def refills_for_user(*, user: User) -> QuerySet[Refill]:
    """The customer's refill requests, newest first, with their order and its service."""
    return Refill.objects.filter(order__user=user).select_related("order__service").order_by("-pk")


def forward_due(*, limit: int = 1000, settle: timedelta = timedelta(0)) -> list[int]:
    """Orders waiting to be sent whose time has come (QUEUED, or HELD after its backoff).

    `settle` leaves alone orders queued more recently than that: their own message is still on its way.
    """
    now = timezone.now()
    return list(
        Order.objects.filter(
            submission__in=[Order.Submission.QUEUED, Order.Submission.HELD], submission_changed_at__lte=now - settle
        )
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .exclude(status__in=Order.FINAL)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


RECENT_ORDERS = 10


def completion_seconds_by_service() -> dict[int, int]:
    """Each service's average time from order to completion over its last 10 completed orders, by service id.

    Services without a completed order are absent (they keep what they had).
    """
    latest_first = [F("completed_at").desc(), F("pk").desc()]
    recent = (
        Order.objects.filter(status=Order.Status.COMPLETED, completed_at__isnull=False)
        .annotate(rank=Window(RowNumber(), partition_by=F("service_id"), order_by=latest_first))
        .filter(rank__lte=RECENT_ORDERS)
        .order_by()
    )
    averages = (
        Order.objects.filter(pk__in=Subquery(recent.values("pk")))
        .values("service_id")
        .annotate(took=Avg(F("completed_at") - F("created_at")))
        .order_by()
        .values_list("service_id", "took")
    )
    return {service_id: max(0, round(took.total_seconds())) for service_id, took in averages}


class CustomerSummary(NamedTuple):
    """The top strip of a customer's home page."""

    spent_this_month: Decimal
    in_progress: int
    last_orders: list[Order]


LAST_ORDERS = 5


def customer_summary(*, user: User, now: datetime | None = None) -> CustomerSummary:
    """What the customer spent since the first of this month in their time zone (charges less refunds, later ones
    included, by the ledger), how many of their orders are still open, and their last five orders: three queries."""
    from billing.models import LedgerEntry  # billing's models refer to orders: bound at call time

    local = timezone.localtime(now)
    month_start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    moved = LedgerEntry.objects.filter(
        wallet__user=user,
        kind__in=[LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND, LedgerEntry.Kind.LATER_REFUND],
        created_at__gte=month_start,
    ).aggregate(total=Sum("amount"))["total"]
    in_progress = customer_orders(user=user).exclude(status__in=Order.FINAL).count()
    last = list(customer_orders(user=user).select_related("service").order_by("-pk")[:LAST_ORDERS])
    return CustomerSummary(spent_this_month=-(moved or Decimal(0)), in_progress=in_progress, last_orders=last)
