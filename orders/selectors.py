"""Reads of a customer's orders and refills, always scoped to that customer."""

from collections.abc import Iterable

from accounts.models import User
from orders.models import Order, Refill


def orders_of(*, user: User, ids: Iterable[int]) -> dict[int, Order]:
    """The customer's own orders among these ids (one query); foreign ids are simply absent."""
    return {order.pk: order for order in Order.objects.filter(user=user, pk__in=list(ids))}


def refills_of(*, user: User, ids: Iterable[int]) -> dict[int, Refill]:
    return {refill.pk: refill for refill in Refill.objects.filter(order__user=user, pk__in=list(ids))}
