"""Where an order was placed (the pages, or API v2): recorded on the order, for the customer's email choices."""

import pytest

from accounts.services import api_key_issue
from catalog.selectors import catalog_changed
from orders.models import Order
from tests.factories import ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/origin"


def test_orders_placed_on_the_pages_are_web_orders(client, alice, services):
    catalog_changed()
    client.force_login(alice)
    client.post("/orders/new/", {"service": services[1].pk, "link": LINK, "quantity": "100", "order_key": "a" * 32})
    lines = f"{services[1].pk} | {LINK}/1 | 100\n{services[1].pk} | {LINK}/2 | 100"
    client.post("/orders/mass/", {"orders": lines, "step": "place", "batch": "b" * 32})
    assert list(Order.objects.order_by("pk").values_list("origin", flat=True)) == ["web", "web", "web"]


def test_orders_placed_through_the_api_are_api_orders(client, alice, services):
    key = api_key_issue(user=alice)
    for extra in ({}, {"idempotency_key": "k-1"}):
        answer = client.post("/api/v2", {"key": key, "action": "add", "service": services[1].pk, "link": LINK,
                                         "quantity": "100", **extra}).json()  # fmt: skip
        assert Order.objects.get(pk=answer["order"]).origin == "api"
    assert Order.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_migration_makes_every_existing_order_a_web_order(migrate):
    old_order = migrate([("orders", "0006_manual_services")]).get_model("orders", "Order")
    # Customers and the catalog: tables these migrations leave as they are.
    service = ServiceFactory.create()
    old = old_order.objects.create(user_id=UserFactory.create().pk, service_id=service.pk,
                                   provider_id=service.provider_id, upstream_service_id=service.upstream_id,
                                   quantity=100, rate=1, charge=1, cost=1)  # fmt: skip
    after = migrate([("orders", "0007_order_origin")]).get_model("orders", "Order")
    assert after.objects.get(pk=old.pk).origin == "web"
