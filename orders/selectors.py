"""Reads of a customer's orders and refills, always scoped to that customer."""

from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.models import User
from orders.models import CancelRequest, Order, Refill
from orders.validation import record_id


def orders_of(*, user: User, ids: Iterable[int]) -> dict[int, Order]:
    """The customer's own orders among these ids (one query); foreign ids are simply absent."""
    return {order.pk: order for order in Order.objects.filter(user=user, pk__in=list(ids))}


def refills_of(*, user: User, ids: Iterable[int]) -> dict[int, Refill]:
    return {refill.pk: refill for refill in Refill.objects.filter(order__user=user, pk__in=list(ids))}


def orders_for_user(*, user: User, status: str = "", search: str = "") -> QuerySet[Order]:
    """The customer's orders, newest first, with their service and whether a refill or cancel is open.

    A search of digits finds the order with that id or links containing them; any other text searches links.
    """
    orders = Order.objects.filter(user=user)
    if status:
        orders = orders.filter(status=status)
    search = search.replace("\x00", "").strip()  # Postgres text cannot hold NUL: it cannot match anything
    if search:
        found = Q(link__icontains=search)
        if (order_id := record_id(search)) is not None:
            found |= Q(pk=order_id)
        orders = orders.filter(found)
    open_refills = Refill.objects.filter(order=OuterRef("pk")).exclude(status__in=Refill.FINAL)
    open_cancels = CancelRequest.objects.filter(
        order=OuterRef("pk"), status__in=[CancelRequest.Status.QUEUED, CancelRequest.Status.SENDING]
    )
    return (
        orders.select_related("service")
        .annotate(refill_in_flight=Exists(open_refills), cancel_in_flight=Exists(open_cancels))
        .order_by("-pk")
    )


def refills_for_user(*, user: User) -> QuerySet[Refill]:
    """The customer's refill requests, newest first, with their order and its service."""
    return Refill.objects.filter(order__user=user).select_related("order__service").order_by("-pk")
