"""The one customer catalog: every customer's own rate (never below cost), what can be ordered, no cost shown."""

from decimal import Decimal

import pytest

from catalog.models import Service
from catalog.selectors import catalog_changed, customer_catalog, customer_service
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_it_gives_each_customer_their_rate_never_below_cost(services):
    likes = services[1]
    cost = likes.price().cost
    regular = UserFactory.create(username="regular")
    friend = UserFactory.create(username="friend", discount_percent=Decimal(10))
    family = UserFactory.create(username="family", discount_percent=Decimal(100))

    def rate(user):
        return next(row["rate"] for row in customer_catalog(user=user) if row["pk"] == likes.pk)

    assert rate(regular) == likes.rate
    assert rate(friend) == (likes.rate * Decimal("0.9")).quantize(Decimal("0.000001"))
    assert rate(family) == cost > 0
    offer = customer_service(user=family, service_id=likes.pk)
    assert offer is not None and (offer.rate, offer.cost) == (cost, cost)


def test_it_flags_types_the_panel_cannot_take_and_never_shows_the_cost(services, alice):
    rows = {row["pk"]: row for row in customer_catalog(user=alice)}
    subscription = next(s for s in services.values() if s.type == "Subscriptions")
    assert rows[subscription.pk]["orderable"] is False
    assert rows[services[1].pk]["orderable"] is True
    assert all("cost" not in row for row in rows.values())


def test_it_offers_nothing_that_is_not_on_sale(services, alice):
    likes = services[1]
    Service.objects.filter(pk=likes.pk).update(is_active=False)
    catalog_changed()
    assert likes.pk not in {row["pk"] for row in customer_catalog(user=alice)}
    assert customer_service(user=alice, service_id=likes.pk) is None
