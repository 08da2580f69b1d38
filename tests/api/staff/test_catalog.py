"""Providers, services and customers through the staff API: lists with filters, and a markup set through
catalog.services.listings (each price change audited once), or a 400 that changes nothing."""

from decimal import Decimal

import pytest

from backoffice.models import AuditEntry
from catalog.models import Service
from tests.factories import CategoryFactory, ProviderFactory, ServiceFactory, UserFactory

pytestmark = pytest.mark.django_db


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _prices(*services: Service) -> list[tuple[Decimal | None, Decimal, bool]]:
    fresh = Service.objects.filter(pk__in=[s.pk for s in services]).order_by("pk")
    return [(s.markup_percent, s.rate, s.is_active) for s in fresh]


def test_it_lists_and_filters_providers(catalog_staff):
    sim = ProviderFactory.create(name="Sim", balance=Decimal("12.50000"), balance_currency="EUR")
    off = ProviderFactory.create(name="Old", is_active=False)
    assert _ids(catalog_staff.get("providers/")) == [off.pk, sim.pk]
    assert _ids(catalog_staff.get("providers/", {"is_active": "false"})) == [off.pk]
    row = catalog_staff.get(f"providers/{sim.pk}/").json()
    assert (row["name"], row["balance"], row["balance_currency"], row["api_url"]) == (
        "Sim", "12.50000", "EUR", sim.api_url
    )  # fmt: skip
    assert "api_key" not in row


def test_it_lists_and_filters_services_with_their_cost(catalog_staff):
    provider, category = ProviderFactory.create(), CategoryFactory.create(name="Likes")
    likes = ServiceFactory.create(
        provider=provider, category=category, upstream_rate=Decimal(1), markup_percent=Decimal(100), rate=Decimal(2)
    )
    gone = ServiceFactory.create(missing_upstream=True, is_active=False, type="Package")
    assert _ids(catalog_staff.get("services/")) == [gone.pk, likes.pk]
    assert _ids(catalog_staff.get("services/", {"provider": provider.pk})) == [likes.pk]
    assert _ids(catalog_staff.get("services/", {"category": category.pk})) == [likes.pk]
    assert _ids(catalog_staff.get("services/", {"is_active": "false"})) == [gone.pk]
    assert _ids(catalog_staff.get("services/", {"missing_upstream": "true", "type": "Package"})) == [gone.pk]
    assert _ids(catalog_staff.get("services/", {"upstream_id": likes.upstream_id})) == [likes.pk]
    row = catalog_staff.get(f"services/{likes.pk}/").json()
    assert (row["category_name"], row["rate"], row["cost"], row["margin_percent"]) == (
        "Likes", "2.000000", "1.000000", "100.0"
    )  # fmt: skip


def test_it_sets_a_markup_and_reprices(catalog_staff, settings):
    settings.DEFAULT_MARKUP_PERCENT = Decimal(50)
    first, second = ServiceFactory.create_batch(2, upstream_rate=Decimal(1))
    fixed = ServiceFactory.create(upstream_rate=Decimal(1), fixed_rate=Decimal(3), rate=Decimal(3))
    response = catalog_staff.post("services/set-markup/",
                                  {"services": [first.pk, second.pk, fixed.pk], "markup_percent": "20"})  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert [(row["id"], row["markup_percent"], row["rate"]) for row in body["services"]] == [
        (first.pk, "20.00", "1.200000"), (second.pk, "20.00", "1.200000"), (fixed.pk, "20.00", "3.000000")
    ]  # fmt: skip
    assert body["disabled_below_cost"] == []
    assert AuditEntry.objects.filter(action="service.price", actor__username="cat").count() == 3

    inherited = catalog_staff.post("services/set-markup/", {"services": [first.pk], "markup_percent": None})
    assert inherited.json()["services"][0]["rate"] == "1.500000"
    assert _prices(first) == [(None, Decimal("1.500000"), True)]


def test_it_refuses_a_bad_markup_or_an_unknown_service_and_changes_nothing(catalog_staff):
    service = ServiceFactory.create(upstream_rate=Decimal(1))
    before = _prices(service)
    unknown = catalog_staff.post("services/set-markup/", {"services": [service.pk, 999999], "markup_percent": "10"})
    assert unknown.status_code == 400
    assert unknown.json()["detail"] == "services: There is no service 999999."
    for body in [
        {"services": [service.pk], "markup_percent": "-1"},
        {"services": [service.pk], "markup_percent": "abc"},
        {"services": [service.pk]},
        {"services": [], "markup_percent": "10"},
        {"services": "all", "markup_percent": "10"},
    ]:
        assert catalog_staff.post("services/set-markup/", body).status_code == 400, body
    assert _prices(service) == before and not AuditEntry.objects.exists()


def test_it_lists_customers_but_not_staff(support, alice, bob):
    UserFactory.create(username="dora", email="dora@example.net", is_active=False)
    rows = support.get("customers/").json()["results"]
    assert [row["username"] for row in rows] == ["dora", "bob", "alice"]  # sue, the staff member, is not one
    assert set(rows[0]) == {
        "id", "username", "email", "first_name", "last_name", "is_active", "date_joined", "last_login",
        "discount_percent", "language", "time_zone",
    }  # fmt: skip
    assert [r["username"] for r in support.get("customers/", {"search": "EXAMPLE.COM"}).json()["results"]] == ["alice"]
    assert [r["username"] for r in support.get("customers/", {"username": "BOB"}).json()["results"]] == ["bob"]
    assert [r["username"] for r in support.get("customers/", {"is_active": "false"}).json()["results"]] == ["dora"]
    assert support.get(f"customers/{alice.pk}/").json()["email"] == "alice@example.com"
