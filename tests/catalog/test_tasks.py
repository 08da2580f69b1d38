"""The periodic catalog jobs, run as beat runs them."""

import logging
from decimal import Decimal

import pytest

from catalog.models import Service
from catalog.tasks import check_provider_balances, sync_catalogs
from panel.celery import app as celery_app
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db


def test_beat_schedules_every_periodic_job_and_each_is_a_registered_task():
    celery_app.loader.import_default_modules()
    scheduled = {entry["task"] for entry in celery_app.conf.beat_schedule.values()}
    assert scheduled == {
        "catalog.tasks.sync_catalogs",
        "catalog.tasks.check_provider_balances",
        "catalog.tasks.check_failing_providers",
        "orders.tasks.poll_orders",
        "orders.tasks.advance_dripfeeds",
        "orders.tasks.send_refills_and_cancels",
        "orders.tasks.poll_refills",
        "orders.tasks.sweep_orders",
        "orders.tasks.refresh_average_times",
        "billing.tasks.check_ledger",
        "billing.tasks.check_open_payments",
        "backoffice.tasks.send_unsent_alerts",
        "support.tasks.notify_unsent_messages",
    }
    assert scheduled <= set(celery_app.tasks)


def test_it_syncs_every_active_provider(eager, provider, simulator):
    paused = ProviderFactory(name="Paused", is_active=False, api_url=simulator.url)
    sync_catalogs.delay()
    assert Service.objects.filter(provider=provider).count() == len(simulator.catalog)
    assert not Service.objects.filter(provider=paused).exists()


def test_it_records_balances_and_logs_a_provider_that_fails(provider, caplog):
    broken = ProviderFactory(name="Broken", api_url="http://127.0.0.1:9/api/v2")
    with caplog.at_level(logging.WARNING):
        check_provider_balances()
    provider.refresh_from_db()
    broken.refresh_from_db()
    assert provider.balance == Decimal(1000) and broken.balance is None
    assert "Cannot reach Broken" in caplog.text and broken.api_key not in caplog.text
