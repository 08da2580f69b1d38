"""Catalog sync against the simulator provider over real HTTP, on Postgres."""

from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from catalog.models import Category, Provider, Service
from catalog.services.sync import catalog_sync
from tests.concurrency import run_together, start_in_thread
from tests.factories import CategoryFactory
from upstream.simulator import SimService, Simulator, generated_catalog

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_markup(settings):
    settings.DEFAULT_MARKUP_PERCENT = Decimal(50)


def _service(simulator: Simulator, upstream_id: int) -> SimService:
    return next(s for s in simulator.catalog if s.id == upstream_id)


def test_it_creates_the_catalog_with_marked_up_prices(simulator, provider):
    result = catalog_sync(provider=provider)
    assert result.ok and result.created == len(simulator.catalog) and result.skipped == []
    followers = Service.objects.get(provider=provider, upstream_id=1)
    assert followers.name == followers.upstream_name == "Instagramフォロワー"
    assert followers.category.name == "📸 Instagram"
    assert followers.upstream_rate == Decimal("0.900000") and followers.rate == Decimal("1.350000")
    assert (followers.refill, followers.cancel, followers.min_quantity, followers.max_quantity) == (
        True,
        True,
        50,
        10000,
    )
    assert followers.is_active
    assert Category.objects.filter(source_name="🎵 TikTok").exists()
    provider.refresh_from_db()
    assert provider.last_sync_ok is True and f"{result.created} new" in provider.last_sync_message


def test_it_updates_what_changed_upstream_and_leaves_the_rest(simulator, provider):
    catalog_sync(provider=provider)
    _service(simulator, 1).rate = Decimal("1.10")
    _service(simulator, 4).name = "YouTube Просмотры HQ"
    result = catalog_sync(provider=provider)
    assert (result.created, result.updated, result.unchanged) == (0, 2, len(simulator.catalog) - 2)
    assert Service.objects.get(upstream_id=1).rate == Decimal("1.650000")
    assert Service.objects.get(upstream_id=4).name == "YouTube Просмотры HQ"


def test_it_keeps_admin_edits_across_syncs(simulator, provider):
    catalog_sync(provider=provider)
    mine = CategoryFactory.create(name="Best sellers")
    service = Service.objects.get(upstream_id=1)
    service.name, service.category, service.markup_percent = "IG followers (ours)", mine, Decimal(100)
    service.save()
    fixed = Service.objects.get(upstream_id=4)
    fixed.fixed_rate = Decimal("9.990000")
    fixed.save()
    paused = Service.objects.get(upstream_id=5)
    paused.is_active = False
    paused.save()

    _service(simulator, 1).name = "Instagram Followers v2"
    _service(simulator, 1).category = "Instagram (new)"
    catalog_sync(provider=provider)

    service.refresh_from_db()
    assert service.name == "IG followers (ours)" and service.upstream_name == "Instagram Followers v2"
    assert service.category == mine and service.rate == Decimal("1.800000")
    assert Service.objects.get(upstream_id=4).rate == Decimal("9.990000")
    assert Service.objects.get(upstream_id=5).is_active is False


def test_it_files_new_services_in_a_renamed_category(simulator, provider):
    catalog_sync(provider=provider)
    category = Category.objects.get(source_name="📸 Instagram")
    category.name = "Instagram"
    category.save()
    simulator.catalog.append(SimService(500, "IG Saves", "Default", "📸 Instagram", Decimal("0.3"), 10, 100))
    catalog_sync(provider=provider)
    assert Service.objects.get(upstream_id=500).category == category
    assert Category.objects.filter(source_name="📸 Instagram").count() == 1


def test_it_disables_a_vanished_service_without_deleting_or_zeroing_it(simulator, provider):
    catalog_sync(provider=provider)
    simulator.catalog = [s for s in simulator.catalog if s.id != 1]
    result = catalog_sync(provider=provider)
    assert result.vanished == 1
    gone = Service.objects.get(upstream_id=1)
    assert gone.missing_upstream and not gone.is_active
    assert gone.rate == Decimal("1.350000")
    assert gone.disabled_reason == Service.DisabledReason.MISSING_UPSTREAM


def test_it_brings_back_a_service_that_reappears_unless_an_admin_disabled_it(simulator, provider):
    catalog_sync(provider=provider)
    Service.objects.filter(upstream_id=2).update(is_active=False)
    full = list(simulator.catalog)
    simulator.catalog = [s for s in full if s.id not in (1, 2)]
    catalog_sync(provider=provider)
    simulator.catalog = full
    result = catalog_sync(provider=provider)
    assert result.restored == 2
    back, paused = Service.objects.get(upstream_id=1), Service.objects.get(upstream_id=2)
    assert back.is_active and not back.missing_upstream
    assert not paused.is_active and not paused.missing_upstream


def test_it_disables_a_service_when_the_upstream_price_rises_above_the_fixed_price(simulator, provider):
    catalog_sync(provider=provider)
    service = Service.objects.get(upstream_id=1)
    service.fixed_rate = Decimal("1.000000")
    service.save()
    _service(simulator, 1).rate = Decimal("1.20")
    result = catalog_sync(provider=provider)
    service.refresh_from_db()
    assert not service.is_active and service.disabled_reason == Service.DisabledReason.BELOW_COST
    assert result.disabled_below_cost == [f"Instagramフォロワー (#{service.pk})"]
    assert "below cost" in result.summary()
    provider.refresh_from_db()
    assert "Instagramフォロワー" in provider.last_sync_message


def test_it_keeps_the_catalog_when_the_provider_is_down(simulator, provider):
    catalog_sync(provider=provider)
    before = list(Service.objects.values_list("upstream_id", "rate", "is_active").order_by("upstream_id"))
    simulator.stop()
    result = catalog_sync(provider=provider)
    assert not result.ok and "Cannot reach Sim" in result.error
    assert list(Service.objects.values_list("upstream_id", "rate", "is_active").order_by("upstream_id")) == before
    provider.refresh_from_db()
    assert provider.last_sync_ok is False and "catalog left as it was" in provider.last_sync_message


@pytest.mark.parametrize(
    "reply",
    ["<html><h1>502 Bad Gateway</h1></html>", "[]", '{"error": "Invalid API key"}', '{"services": 5}'],
)
def test_it_changes_nothing_when_the_reply_is_unusable(simulator, provider, reply):
    catalog_sync(provider=provider)
    before = list(Service.objects.values_list("upstream_id", "rate", "is_active").order_by("upstream_id"))
    simulator.script_reply(reply)
    result = catalog_sync(provider=provider)
    assert not result.ok and result.error
    assert list(Service.objects.values_list("upstream_id", "rate", "is_active").order_by("upstream_id")) == before


def test_it_skips_a_malformed_entry_and_reports_it(simulator, provider):
    simulator.script_reply(
        '[{"service": 1, "name": "Likes", "category": "IG", "rate": "0.5", "min": "10", "max": "100"},'
        ' {"service": 2, "name": "Broken", "category": "IG", "rate": "n/a", "min": "10", "max": "100"},'
        ' {"service": 3, "name": "Huge", "category": "IG", "rate": "1e20", "min": "10", "max": "100"}]'
    )
    result = catalog_sync(provider=provider)
    assert result.ok and result.created == 1 and len(result.skipped) == 2
    assert "Skipped 2 malformed entries" in result.summary() and "too large" in result.summary()
    assert list(Service.objects.values_list("upstream_id", flat=True)) == [1]


def test_it_escapes_nothing_and_loses_nothing_of_unicode_names(simulator, provider):
    simulator.catalog.append(SimService(600, "<script>alert(1)</script> 🚀", "Poll", "", Decimal("1"), 1, 10))
    catalog_sync(provider=provider)
    service = Service.objects.get(upstream_id=600)
    assert service.name == "<script>alert(1)</script> 🚀" and service.category.name == "Other"


def test_it_syncs_a_large_catalog_in_a_handful_of_queries(simulator, provider):
    simulator.catalog = generated_catalog(5000)
    with CaptureQueriesContext(connection) as first:
        assert catalog_sync(provider=provider).created == 5000
    for service in simulator.catalog[::2]:
        service.rate += Decimal("0.01")
    simulator.catalog = simulator.catalog[:-100]
    with CaptureQueriesContext(connection) as second:
        result = catalog_sync(provider=provider)
    assert (result.updated, result.vanished) == (2450, 100)
    # Batched, never a query per service: the second sync is 22 (the services' UPDATEs go 500 rows at a time; the
    # price history and the vanished services' alerts are a few queries each, whatever their number; the routes
    # are read once and written in one UPDATE).
    assert len(first.captured_queries) < 20 and len(second.captured_queries) < 24


@pytest.mark.django_db(transaction=True)
def test_it_serializes_overlapping_syncs_of_one_provider(simulator, provider):
    simulator.catalog = generated_catalog(300)
    results = run_together(lambda: catalog_sync(provider=Provider.objects.get(pk=provider.pk)).ok, 3)
    assert results == [True, True, True]
    assert Service.objects.filter(provider=provider).count() == 300


def test_it_moves_a_service_with_its_upstream_category_unless_an_admin_moved_it(simulator, provider):
    catalog_sync(provider=provider)
    mine = CategoryFactory.create(name="Hand-picked")
    Service.objects.filter(upstream_id=2).update(category=mine)
    _service(simulator, 1).category = "Instagram Followers"
    _service(simulator, 2).category = "Instagram Likes"
    catalog_sync(provider=provider)
    assert Service.objects.get(upstream_id=1).category.source_name == "Instagram Followers"
    assert Service.objects.get(upstream_id=2).category == mine


def test_it_leaves_a_service_alone_when_only_its_entry_is_malformed(simulator, provider):
    catalog_sync(provider=provider)
    simulator.script_reply(
        '[{"service": 1, "name": "Likes", "category": "IG", "rate": "broken", "min": "10", "max": "100"},'
        ' {"service": 2, "name": "Views", "category": "IG", "rate": "0.5", "min": "10", "max": "100"}]'
    )
    result = catalog_sync(provider=provider)
    followers = Service.objects.get(upstream_id=1)
    assert followers.is_active and not followers.missing_upstream and followers.rate == Decimal("1.350000")
    assert result.vanished == len(simulator.catalog) - 2


def test_it_disables_a_service_whose_price_would_not_fit_instead_of_failing_the_sync(simulator, provider):
    simulator.catalog.append(SimService(700, "Gold", "Default", "VIP", Decimal("999999999999"), 1, 10))
    result = catalog_sync(provider=provider)
    assert result.ok and result.created == len(simulator.catalog)
    gold = Service.objects.get(upstream_id=700)
    assert not gold.is_active and gold.rate == 0 and gold.disabled_reason == Service.DisabledReason.NO_PRICE


@pytest.mark.django_db(transaction=True)
def test_it_never_overwrites_an_admin_edit_committed_during_a_sync(simulator, provider):
    catalog_sync(provider=provider)
    _service(simulator, 1).name = "Instagram Followers (upstream rename)"
    with transaction.atomic():
        # An admin's save holds the row; the sync must wait for it and then build on what it wrote.
        service = Service.objects.select_for_update().get(upstream_id=1)
        thread, errors = start_in_thread(lambda: catalog_sync(provider=Provider.objects.get(pk=provider.pk)))
        thread.join(0.5)
        assert thread.is_alive(), "the sync did not wait for the admin's row lock"
        service.name, service.fixed_rate, service.rate = "Followers (ours)", Decimal(9), Decimal(9)
        service.save()
    thread.join(30)
    assert errors == []
    service.refresh_from_db()
    assert service.name == "Followers (ours)" and service.upstream_name == "Instagram Followers (upstream rename)"
    assert service.rate == Decimal("9.000000")


@pytest.mark.django_db(transaction=True)
def test_it_shares_a_category_that_another_provider_creates_at_the_same_time(simulator, provider):
    with transaction.atomic():
        CategoryFactory.create(name="📸 Instagram", source_name="📸 Instagram")
        thread, errors = start_in_thread(lambda: catalog_sync(provider=Provider.objects.get(pk=provider.pk)))
        thread.join(0.5)
    thread.join(30)
    assert errors == []
    assert Category.objects.filter(source_name="📸 Instagram").count() == 1
    assert Service.objects.get(upstream_id=1).category.source_name == "📸 Instagram"


def test_it_keeps_the_admins_description(simulator, provider):
    catalog_sync(provider=provider)
    Service.objects.filter(upstream_id=1).update(description="Our own words for customers.")
    _service(simulator, 1).description = "Provider X, server 3, changed"
    catalog_sync(provider=provider)
    assert Service.objects.get(upstream_id=1).description == "Our own words for customers."
