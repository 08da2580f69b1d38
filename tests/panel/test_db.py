"""The bulk row update used on hot paths writes exactly what Django's own bulk_update would."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Service
from panel.db import bulk_update_rows
from tests.factories import ServiceFactory

pytestmark = pytest.mark.django_db


def test_it_writes_every_kind_of_column_and_only_the_named_fields():
    first, second, untouched = ServiceFactory.create_batch(3, fixed_rate=None, upstream_extra={})
    first.name, first.fixed_rate, first.is_active = "Новое имя 🚀 'quoted'", Decimal("2.123456"), False
    first.upstream_extra = {"average_time": "2 hours", "nested": {"n": [1, 2]}}
    first.updated_at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    second.name, second.fixed_rate = "Second", None
    second.min_quantity = 999  # changed in memory but not listed: must not be written

    bulk_update_rows([first, second], ["name", "fixed_rate", "is_active", "upstream_extra", "updated_at"], batch_size=1)

    rows = {s.pk: s for s in Service.objects.all()}
    assert rows[first.pk].name == "Новое имя 🚀 'quoted'" and rows[first.pk].fixed_rate == Decimal("2.123456")
    assert rows[first.pk].is_active is False and rows[first.pk].upstream_extra["nested"] == {"n": [1, 2]}
    assert rows[first.pk].updated_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert rows[second.pk].name == "Second" and rows[second.pk].fixed_rate is None
    assert rows[second.pk].min_quantity == 10
    assert rows[untouched.pk].name == untouched.name


def test_it_does_nothing_for_no_rows():
    with CaptureQueriesContext(connection) as queries:
        bulk_update_rows([], ["name"])
    assert queries.captured_queries == []  # not even a round trip to the database
