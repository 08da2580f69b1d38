"""The strip at the top of a customer's home page: balance, spent this month, orders in progress, open tickets
and the last five orders, all of them the customer's own."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from catalog.selectors import catalog_changed
from orders.models import Order
from orders.selectors import customer_summary
from orders.services.operators import order_finish, order_refund_later
from orders.services.placement import order_place
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/abc"


@pytest.fixture
def placed(alice, services):
    catalog_changed()
    return [
        order_place(user=alice, service_id=services[1].pk, params={"link": f"{LINK}{n}", "quantity": "1000"})
        for n in range(6)
    ]


def test_it_counts_net_spend_open_orders_and_lists_the_last_five(placed, alice):
    staff = UserFactory.create(username="operator", is_staff=True)
    order_finish(order_id=placed[0].pk, status=Order.Status.CANCELED, actor=staff)
    order_finish(order_id=placed[1].pk, status=Order.Status.PARTIAL, remains=500, actor=staff)
    order_finish(order_id=placed[2].pk, status=Order.Status.COMPLETED, actor=staff)
    order_refund_later(order_id=placed[2].pk, amount=Decimal("0.35"), actor=staff, note="Dropped")
    summary = customer_summary(user=alice)
    # Six orders of 1.35, the first refunded whole, the second half, the third 0.35 later: 8.10 - 1.35 - 0.675 - 0.35.
    assert summary.spent_this_month == Decimal("5.72500")
    assert summary.in_progress == 3
    assert [order.pk for order in summary.last_orders] == [order.pk for order in reversed(placed[1:])]


def test_spend_of_an_earlier_month_does_not_count(placed, alice):
    next_month = (timezone.localtime().replace(day=1) + timedelta(days=32)).replace(day=2)
    assert customer_summary(user=alice, now=next_month).spent_this_month == Decimal(0)


def test_the_home_page_shows_the_strip_and_the_order_form(client, placed, alice):
    client.force_login(alice)
    page = client.get("/").content.decode()
    assert "Spent this month" in page and "8.10" in page and "Orders in progress" in page
    assert page.count('class="badge status-Pending"') == 5
    assert 'id="order-form"' in page
    assert "Spent this month" not in client.get("/orders/new/").content.decode()


def test_the_strip_counts_the_tickets_not_closed(client, placed, alice, bob):
    from support.services import ticket_customer_close, ticket_open

    for n in range(3):
        ticket_open(customer=alice, subject=f"Question {n}", kind="other", body="Where is it?", order_ids=[])
    closed = ticket_open(customer=alice, subject="Done", kind="other", body="Thanks", order_ids=[])
    ticket_customer_close(customer=alice, ticket_id=closed.pk)
    ticket_open(customer=bob, subject="Mine", kind="other", body="Hello", order_ids=[])
    client.force_login(alice)
    tiles = client.get("/").context["home"]
    assert tiles["open_tickets"] == 3


def test_a_customer_sees_only_their_own_orders(client, placed, bob):
    client.force_login(bob)
    page = client.get("/").content.decode()
    assert "Your last orders" not in page
    summary = customer_summary(user=bob)
    assert (summary.spent_this_month, summary.in_progress, summary.last_orders) == (Decimal(0), 0, [])
