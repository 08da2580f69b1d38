"""Operators' services behind the admin actions: they never race a worker or touch money twice."""

import pytest

from billing.models import LedgerEntry
from orders.models import Order
from orders.services.operators import order_finish, order_link_upstream
from orders.services.placement import order_place
from orders.validation import OrderError

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"


@pytest.fixture
def order(alice, services):
    return order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})


def test_it_will_not_cancel_an_order_a_worker_is_sending(order, admin_user):
    Order.objects.filter(pk=order.pk).update(submission="sending")
    with pytest.raises(OrderError, match="being sent right now"):
        order_finish(order_id=order.pk, status="Canceled", actor=admin_user)
    assert not LedgerEntry.objects.filter(order=order, kind="refund").exists()


def test_it_links_only_open_unknown_orders(order, admin_user):
    Order.objects.filter(pk=order.pk).update(submission="unknown")
    order_finish(order_id=order.pk, status="Canceled", actor=admin_user)
    with pytest.raises(OrderError, match="Only an open order in the unknown state"):
        order_link_upstream(order_id=order.pk, upstream_id=77, actor=admin_user)
    with pytest.raises(OrderError, match="There is no order 999999"):
        order_link_upstream(order_id=999999, upstream_id=77, actor=admin_user)
    assert Order.objects.get(pk=order.pk).upstream_id is None


def test_it_refuses_an_upstream_id_that_another_order_has(order, alice, services, admin_user):
    other = order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    Order.objects.filter(pk=other.pk).update(submission="sent", upstream_id=77)
    Order.objects.filter(pk=order.pk).update(submission="unknown")
    with pytest.raises(OrderError, match="already belongs to another order"):
        order_link_upstream(order_id=order.pk, upstream_id=77, actor=admin_user)
    order_link_upstream(order_id=order.pk, upstream_id=78, actor=admin_user)
    linked = Order.objects.get(pk=order.pk)
    assert (linked.submission, linked.upstream_id) == ("sent", 78)
