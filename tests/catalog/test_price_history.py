"""Service price history: a row whenever a service's rate or cost changes, none when nothing did, and the price
of any past day."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from catalog.models import Provider, Service, ServicePrice
from catalog.selectors import price_on
from catalog.services.listings import service_save
from catalog.services.providers import provider_update
from catalog.services.sync import catalog_sync
from tests.factories import ServiceFactory, ServicePriceFactory

pytestmark = pytest.mark.django_db


def _history(service: Service) -> list[tuple[Decimal, Decimal]]:
    return [(p.rate, p.cost) for p in ServicePrice.objects.filter(service=service).order_by("valid_from")]


def test_a_sync_records_the_first_price_of_each_new_service(services):
    assert ServicePrice.objects.count() == len(services)
    assert _history(services[1]) == [(services[1].rate, services[1].price().cost)]


def test_an_unchanged_sync_writes_no_price(services, provider, django_assert_max_num_queries):
    with django_assert_max_num_queries(12):
        result = catalog_sync(provider=provider)
    assert result.unchanged == len(services)
    assert ServicePrice.objects.count() == len(services)


def test_a_price_change_writes_one_row(services):
    service = services[1]
    service.markup_percent = Decimal(100)
    saved = service_save(service=service, fields=["markup_percent"], actor=None)
    assert _history(service)[-1] == (saved.rate, service.price().cost)
    assert ServicePrice.objects.filter(service=service).count() == 2
    service_save(service=saved, fields=["markup_percent"], actor=None)  # the same again
    assert ServicePrice.objects.filter(service=service).count() == 2


def test_a_new_exchange_rate_records_the_new_cost_of_each_service_of_the_provider(services, provider):
    provider.exchange_rate = Decimal(2)
    provider_update(provider=provider, fields=["exchange_rate"], actor=None)
    assert ServicePrice.objects.count() == 2 * len(services)
    fresh = Service.objects.select_related("provider", "category").get(pk=services[1].pk)
    assert _history(fresh)[-1] == (fresh.rate, fresh.upstream_rate * 2)


def test_a_sync_that_finds_a_new_cost_records_it(services, provider):
    Service.objects.filter(pk=services[1].pk).update(fixed_rate=Decimal(50))
    Provider.objects.filter(pk=provider.pk).update(exchange_rate=Decimal(2))
    provider.refresh_from_db()
    catalog_sync(provider=provider)
    assert ServicePrice.objects.count() == 2 * len(services)
    fixed = Service.objects.select_related("provider", "category").get(pk=services[1].pk)
    assert _history(fixed)[-1] == (Decimal(50), fixed.upstream_rate * 2)  # the same rate, a new cost


def test_it_answers_the_price_of_a_past_day():
    service = ServiceFactory.create()
    now = timezone.now()
    ServicePriceFactory.create(
        service=service, rate=Decimal(1), cost=Decimal("0.5"), valid_from=now - datetime.timedelta(days=10)
    )
    ServicePriceFactory.create(
        service=service, rate=Decimal(2), cost=Decimal(1), valid_from=now - datetime.timedelta(days=5)
    )
    ServicePriceFactory.create(
        service=service, rate=Decimal(3), cost=Decimal(1), valid_from=now - datetime.timedelta(days=5, seconds=-1)
    )
    today = timezone.localdate(now)
    assert price_on(service, today - datetime.timedelta(days=11)) is None
    assert price_on(service, today - datetime.timedelta(days=10)) == (Decimal(1), Decimal("0.5"))
    assert price_on(service, today - datetime.timedelta(days=7)) == (Decimal(1), Decimal("0.5"))
    assert price_on(service, today) == (Decimal(3), Decimal(1))


def test_the_service_page_shows_its_price_history(admin_client):
    price = ServicePriceFactory.create(rate=Decimal("4.2"), cost=Decimal("3.1"))
    page = admin_client.get(reverse("admin:catalog_service_change", args=[price.service_id])).content.decode()
    assert "4.200000" in page and "3.100000" in page
