"""Selling prices: markup precedence, exchange rates, rounding, fixed prices, repricing."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from catalog.models import Service
from catalog.services.listings import service_save, services_reprice
from tests.factories import CategoryFactory, ProviderFactory, ServiceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def service() -> Service:
    return ServiceFactory.create(upstream_rate=Decimal("2.000000"))


def test_it_applies_the_default_markup_when_nothing_else_is_set(service, settings):
    settings.DEFAULT_MARKUP_PERCENT = Decimal(50)
    assert service.price().rate == Decimal("3.000000")


def test_it_prefers_service_then_category_then_provider_markup(service, settings):
    settings.DEFAULT_MARKUP_PERCENT = Decimal(50)
    service.provider.markup_percent = Decimal(10)
    assert service.price().rate == Decimal("2.200000")
    service.category.markup_percent = Decimal(20)
    assert service.price().rate == Decimal("2.400000")
    service.markup_percent = Decimal(0)
    assert service.price().rate == Decimal("2.000000")


def test_it_converts_with_the_provider_exchange_rate():
    provider = ProviderFactory(currency="EUR", exchange_rate=Decimal("1.08"), markup_percent=Decimal(25))
    service = ServiceFactory(provider=provider, upstream_rate=Decimal("0.900000"))
    price = service.price()
    assert price.cost == Decimal("0.972000")
    assert price.rate == Decimal("1.215000")


def test_it_rounds_the_customer_rate_up_at_six_places():
    provider = ProviderFactory(exchange_rate=Decimal("0.33333333"), markup_percent=Decimal("12.5"))
    service = ServiceFactory(provider=provider, upstream_rate=Decimal("0.100001"))
    # 0.100001 × 0.33333333 × 1.125 = 0.03750040..., never sold for less.
    assert service.price().rate == Decimal("0.037501")
    assert service.price().cost == Decimal("0.033334")


def test_it_uses_a_fixed_price_over_any_markup(service):
    service.markup_percent = Decimal(300)
    service.fixed_rate = Decimal("2.500000")
    price = service.price()
    assert price.rate == Decimal("2.500000") and price.markup_percent is None
    assert price.margin_percent == Decimal("25.0")


def test_it_refuses_an_admin_fixed_price_below_cost(service):
    service.fixed_rate = Decimal("1.999999")
    with pytest.raises(ValidationError, match="below the cost"):
        service.full_clean()


def test_it_disables_a_service_whose_fixed_price_falls_below_cost(service):
    service.fixed_rate = Decimal("2.100000")
    service_save(service=service, fields=["fixed_rate"], actor=None)
    ServiceFactory(provider=service.provider, category=service.category)
    service.provider.exchange_rate = Decimal("1.1")
    service.provider.save()
    disabled = services_reprice(services=Service.objects.filter(provider=service.provider))
    service.refresh_from_db()
    assert [s.pk for s in disabled] == [service.pk]
    assert service.is_active is False and service.disabled_reason == Service.DisabledReason.BELOW_COST


def test_it_reprices_every_service_of_a_category_at_once(settings):
    settings.DEFAULT_MARKUP_PERCENT = Decimal(50)
    category = CategoryFactory()
    ServiceFactory.create_batch(3, category=category, upstream_rate=Decimal("1.000000"))
    other = ServiceFactory(upstream_rate=Decimal("1.000000"))
    services_reprice(services=Service.objects.all())
    category.markup_percent = Decimal(100)
    category.save()
    services_reprice(services=Service.objects.filter(category=category))
    assert {s.rate for s in Service.objects.filter(category=category)} == {Decimal("2.000000")}
    other.refresh_from_db()
    assert other.rate == Decimal("1.500000")


def test_it_never_keeps_a_service_without_price_active():
    service = ServiceFactory(upstream_rate=Decimal(0))
    service_save(service=service, fields=[], actor=None)
    service.refresh_from_db()
    assert service.is_active is False and service.rate == 0
    assert service.disabled_reason == Service.DisabledReason.NO_PRICE


def test_it_saves_only_what_the_admin_edited_onto_the_current_row():
    stale = ServiceFactory.create(upstream_rate=Decimal("1.000000"), rate=Decimal("1.500000"))
    # A sync updates the row after the admin's copy was read.
    Service.objects.filter(pk=stale.pk).update(upstream_rate=Decimal("2.000000"), upstream_name="Renamed")
    stale.markup_percent = Decimal(100)
    saved = service_save(service=stale, fields=["markup_percent"], actor=None)
    current = Service.objects.get(pk=stale.pk)
    assert current.upstream_rate == Decimal("2.000000") and current.upstream_name == "Renamed"
    assert current.markup_percent == 100 and current.rate == Decimal("4.000000") == saved.rate
