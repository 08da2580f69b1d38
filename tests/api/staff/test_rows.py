"""Lists read as plain rows (api.staff.rows) answer exactly what their serializers would, value for value."""

from decimal import Decimal

import pytest
from django.utils import timezone

from api.staff import serializers
from api.staff.rows import columns_of
from api.staff.urls import router
from api.staff.views import ReadOnlyStaffViewSet
from billing.models import Wallet
from tests.factories import (
    CancelRequestFactory,
    DepositRequestFactory,
    OrderFactory,
    PaymentFactory,
    ProviderFactory,
    RefillFactory,
    ServiceFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db


def _records() -> None:
    """Rows with every kind of value: nulls, decimals, times, JSON, relations."""
    order = OrderFactory.create(
        completed=True, fields={"comments": "one\ntwo"}, start_count=3572, upstream_charge=Decimal("0.27819")
    )
    OrderFactory.create(runs=3, interval=15, last_error="timeout", reason="<b>x</b>")
    RefillFactory.create(order=order, upstream_id=55, next_poll_at=timezone.now(), last_error="no")
    CancelRequestFactory.create()
    UserFactory.create(last_login=timezone.now(), discount_percent=Decimal("12.5"), language="ja")
    Wallet.objects.filter(user=order.user).update(debt=Decimal("4.2"))
    PaymentFactory.create(succeeded_at=None, state="failed", problem="declined")
    DepositRequestFactory.create(note="late")
    ProviderFactory.create(balance=Decimal("7.5"), balance_currency="EUR", last_sync_ok=True)
    manual = ServiceFactory.create(provider=None, upstream_id=None)
    OrderFactory.create(service=manual, provider=None, upstream_service_id=None, submission="manual", remains=7)


def test_every_list_but_services_is_read_as_rows():
    plain = {
        prefix
        for prefix, viewset, _ in router.registry
        if columns_of(viewset(action="list").get_serializer_class()) is not None
    }
    assert plain == {r[0] for r in router.registry} - {"services"}
    assert columns_of(serializers.ServiceSerializer) is None  # its cost and margin come from Service.price()


@pytest.mark.parametrize("tz", ["UTC", "Asia/Tokyo"])
def test_rows_render_as_the_serializers_do(tz):
    _records()
    with timezone.override(tz):
        for _, viewset, _ in router.registry:
            assert issubclass(viewset, ReadOnlyStaffViewSet)
            view = viewset(action="list")
            columns = columns_of(view.get_serializer_class())
            if columns is None:
                continue
            queryset = view.get_queryset().order_by("-id")
            expected = [dict(row) for row in view.get_serializer_class()(queryset, many=True).data]
            assert expected, viewset
            assert columns.render(queryset.values(*columns.paths)) == expected, viewset
