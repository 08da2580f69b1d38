"""Each service's average completion time, from its last completed orders here."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from catalog.models import Service
from catalog.selectors import catalog_changed, services_for_sale
from orders.models import Order
from orders.services.statistics import average_times_refresh
from orders.tasks import refresh_average_times
from panel.celery import app as celery_app
from tests.factories import OrderFactory, ServiceFactory

pytestmark = pytest.mark.django_db


def _done(user: User, service: Service, took: timedelta, *, ago: timedelta, status: str = "Completed") -> Order:
    """An order of this service that finished `ago`, `took` after it was placed."""
    order = OrderFactory.create(user=user, service=service, status=status)
    completed_at = timezone.now() - ago
    Order.objects.filter(pk=order.pk).update(created_at=completed_at - took, completed_at=completed_at)
    return order


def test_it_averages_the_last_ten_completed_orders_of_each_service(alice):
    likes, views, idle = ServiceFactory.create(), ServiceFactory.create(), ServiceFactory.create()
    for hours in range(2):
        _done(alice, likes, timedelta(days=3), ago=timedelta(days=10 + hours))  # older than the last ten
    for minutes in range(10):
        _done(alice, likes, timedelta(minutes=30 + minutes), ago=timedelta(hours=minutes))
    _done(alice, likes, timedelta(days=9), ago=timedelta(minutes=1), status=Order.Status.PARTIAL)
    _done(alice, likes, timedelta(days=9), ago=timedelta(minutes=1), status=Order.Status.CANCELED)
    _done(alice, views, timedelta(hours=2), ago=timedelta(days=400))
    OrderFactory.create(user=alice, service=views, status=Order.Status.IN_PROGRESS)

    assert average_times_refresh() == 2
    averages = dict(Service.objects.values_list("pk", "average_seconds"))
    assert averages == {likes.pk: round(34.5 * 60), views.pk: 7200, idle.pk: None}
    assert average_times_refresh() == 0


def test_it_shows_the_new_times_in_the_catalog_once_committed(alice, django_capture_on_commit_callbacks):
    service = ServiceFactory.create()
    catalog_changed()
    assert [row["average_seconds"] for row in services_for_sale()] == [None]
    _done(alice, service, timedelta(minutes=90), ago=timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        refresh_average_times()
    assert len(callbacks) == 1
    assert [row["average_seconds"] for row in services_for_sale()] == [5400]
    with django_capture_on_commit_callbacks() as callbacks:
        average_times_refresh()
    assert callbacks == []  # nothing changed: the cached catalog stays


def test_it_takes_the_same_queries_for_one_service_or_many(alice):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            average_times_refresh()
        return len(captured)

    _done(alice, ServiceFactory.create(), timedelta(minutes=5), ago=timedelta(hours=1))
    one = queries()
    for minutes in range(20):
        _done(alice, ServiceFactory.create(), timedelta(minutes=minutes + 1), ago=timedelta(hours=1))
    assert queries() == one
    assert Service.objects.filter(average_seconds__isnull=False).count() == 21


def test_beat_refreshes_the_times_every_hour():
    celery_app.loader.import_default_modules()
    entry = celery_app.conf.beat_schedule["refresh-average-times"]
    assert entry["task"] == "orders.tasks.refresh_average_times" and entry["schedule"] == timedelta(hours=1)
    assert entry["task"] in celery_app.tasks
