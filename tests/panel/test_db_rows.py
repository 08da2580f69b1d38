"""Rows written as values on the hot paths (rows_update, rows_insert) land exactly as Django would write them."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models import LedgerEntry, Wallet
from catalog.models import Service
from orders.models import Order
from panel.db import rows_insert, rows_update
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_it_updates_rows_from_values_in_one_statement_whatever_they_hold():
    first, second = ServiceFactory.create_batch(2, fixed_rate=Decimal("3"), upstream_extra={"kept": True})
    when = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    rows = [
        (first.pk, "«Ünïcode» 'quoted' \\ \"back\"", None, "just a string", when, Order.Status.PARTIAL),
        (second.pk, "Second", Decimal("0.000001"), {"nested": [1, None]}, when, "Plain"),
    ]
    with CaptureQueriesContext(connection) as queries:
        rows_update(Service, ["name", "fixed_rate", "upstream_extra", "updated_at", "type"], rows)
    assert len(queries.captured_queries) == 1
    one, two = Service.objects.get(pk=first.pk), Service.objects.get(pk=second.pk)
    assert (one.name, one.fixed_rate, one.upstream_extra, one.updated_at, one.type) == (
        "«Ünïcode» 'quoted' \\ \"back\"",
        None,
        "just a string",
        when,
        "Partial",
    )
    assert (two.fixed_rate, two.upstream_extra, two.type) == (Decimal("0.000001"), {"nested": [1, None]}, "Plain")


def test_it_inserts_rows_from_values_and_returns_their_keys_in_order(alice):
    wallet = Wallet.objects.get(user=alice)
    when = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    fields = ["wallet", "kind", "amount", "balance_after", "note", "created_at"]
    rows = [(wallet.pk, "adjustment", Decimal(n), Decimal(100 + n), f"n{n}", when) for n in (3, 1, 2)]
    with CaptureQueriesContext(connection) as queries:
        keys = rows_insert(LedgerEntry, fields, rows)
    assert len(queries.captured_queries) == 1
    assert [LedgerEntry.objects.get(pk=key).note for key in keys] == ["n3", "n1", "n2"]
    entry = LedgerEntry.objects.get(pk=keys[0])
    assert (entry.amount, entry.balance_after, entry.created_at, entry.order_id) == (3, 103, when, None)
    assert rows_insert(LedgerEntry, fields, []) == []
    rows_update(Wallet, ["balance"], [(wallet.pk, wallet.balance + 6)])  # the ledger check after each test


def test_it_skips_the_rows_a_unique_constraint_refuses_and_returns_the_new_keys_only():
    from notifications.models import Notification
    from tests.factories import NotificationFactory, OrderFactory

    told = NotificationFactory.create()
    fresh = OrderFactory.create(completed=True)
    when = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    fields = ["user", "kind", "order", "refill", "status", "refund", "created_at"]
    rows = [(o.user_id, "order_ended", o.pk, None, "Completed", Decimal(0), when) for o in (told.order, fresh)]
    keys = rows_insert(Notification, fields, rows, skip_conflicts=True)
    assert [Notification.objects.get(pk=key).order_id for key in keys] == [fresh.pk]
    assert Notification.objects.count() == 2
