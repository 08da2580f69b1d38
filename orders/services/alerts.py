"""Operators' alerts about orders: one per order that became UNKNOWN, resolved when it leaves that state."""

from collections.abc import Iterable

from backoffice.alerts import Kind, admin_link, alert_resolve, alerts_raise
from backoffice.models import Alert
from orders.models import Order


def _key(order_id: int) -> str:
    return f"order-unknown:{order_id}"


def orders_unknown_alert(*, order_ids: Iterable[int]) -> None:
    """Tell operators of each order just moved to UNKNOWN: it may exist upstream, and only they can say."""
    orders = Order.objects.filter(pk__in=list(order_ids)).select_related("provider").order_by("pk")
    alerts_raise(
        alerts=[
            Alert(
                kind=Kind.ORDER_UNKNOWN,
                key=_key(order.pk),
                subject=f"order {order.pk} is in an unknown state",
                body=f"Order {order.pk} ({order.quantity} × service {order.service_id}, provider "
                f"{order.provider}) may or may not exist upstream: {order.last_error} It is never resent on "
                "its own. Check at the provider, then link it to its upstream id, resend it, or cancel it with a "
                "refund.",
                url=admin_link("orders_order_change", order.pk),
            )
            for order in orders
        ]
    )


def order_unknown_over(*, order_id: int) -> None:
    """The order left UNKNOWN (linked, resent, finished, or a late answer recorded it): its incident is over."""
    alert_resolve(key=_key(order_id))
