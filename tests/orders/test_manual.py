"""Manual services: the panel fulfils them itself. Created in the admin, sold like any service, their orders are
never sent upstream; staff report progress and end them, the refund given once."""

from decimal import Decimal

import pytest

from accounts.services import api_key_issue
from backoffice.models import AuditEntry
from billing.models import LedgerEntry
from billing.selectors import wallet_balance
from catalog.models import Service
from orders.models import Order
from orders.services.manual import manual_order_update, manual_orders_open
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from orders.validation import OrderError
from tests.concurrency import run_together
from tests.factories import CategoryFactory, OrderFactory

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/manual"


def _add_form(category, **changes):
    form = {
        "name": "Hand-made comments",
        "category": category.pk,
        "description": "Written by our team.",
        "is_active": "on",
        "type": "Default",
        "min_quantity": "10",
        "max_quantity": "500",
        "upstream_rate": "4.000000",
        "markup_percent": "25",
        "fixed_rate": "",
        "refill_days": "30",
    }
    return {**form, **changes}


@pytest.fixture
def manual_service(admin_client):
    category = CategoryFactory.create(name="Team")
    response = admin_client.post("/admin/catalog/service/add/", _add_form(category))
    assert response.status_code == 302, response.content.decode()[:2000]
    return Service.objects.get(name="Hand-made comments")


def test_an_admin_adds_a_manual_service_priced_by_the_usual_rule(manual_service, admin_user):
    assert manual_service.is_manual and manual_service.upstream_id is None
    # Cost 4.00 per 1000 in the panel currency, 25% markup.
    assert (manual_service.rate, manual_service.price().cost) == (Decimal("5.000000"), Decimal("4.000000"))
    assert manual_service.is_active and manual_service.prices.count() == 1
    entry = AuditEntry.objects.get(action="service.create")
    assert entry.actor == admin_user and entry.after["upstream_rate"] == "4.000000"


def test_a_fixed_price_below_the_cost_of_a_manual_service_is_refused(admin_client):
    category = CategoryFactory.create()
    response = admin_client.post("/admin/catalog/service/add/", _add_form(category, fixed_rate="3.000000"))
    assert response.status_code == 200 and b"below the cost" in response.content
    response = admin_client.post("/admin/catalog/service/add/", _add_form(category, min_quantity="600"))
    assert response.status_code == 200 and b"maximum must not be below the minimum" in response.content
    assert not Service.objects.exists()


def test_its_limits_and_cost_are_edited_in_the_admin_and_reprice_it(admin_client, manual_service):
    form = _add_form(manual_service.category, max_quantity="900", upstream_rate="8.000000")
    response = admin_client.post(f"/admin/catalog/service/{manual_service.pk}/change/", form)
    assert response.status_code == 302
    manual_service.refresh_from_db()
    assert (manual_service.max_quantity, manual_service.rate) == (900, Decimal("10.000000"))


def test_an_upstream_service_keeps_its_upstream_facts_read_only(admin_client, services):
    service = services[1]
    page = admin_client.get(f"/admin/catalog/service/{service.pk}/change/").content.decode()
    assert 'name="min_quantity"' not in page and 'name="upstream_rate"' not in page


def test_customers_buy_it_through_the_api_and_it_never_goes_upstream(
    client, manual_service, alice, eager, simulator, services
):
    key = api_key_issue(user=alice)
    listed = client.post("/api/v2", {"key": key, "action": "services"}).json()
    assert {"service": manual_service.pk, "rate": "5.00", "min": "10", "max": "500"}.items() <= next(
        row for row in listed if row["service"] == manual_service.pk
    ).items()
    answer = client.post(
        "/api/v2", {"key": key, "action": "add", "service": manual_service.pk, "link": LINK, "quantity": "200"}
    ).json()
    order = Order.objects.get(pk=answer["order"])
    assert (order.submission, order.status, order.provider, order.charge) == (
        "manual", "Pending", None, Decimal("1.00000")
    )  # fmt: skip
    assert wallet_balance(user_id=alice.pk) == Decimal("99.00000")
    poll_statuses(everything=True)
    assert simulator.calls_for("add") == [] and simulator.calls_for("status") == []
    assert Order.objects.get(pk=order.pk).submission == "manual"
    assert list(manual_orders_open()) == [order]


@pytest.fixture
def manual_order(manual_service, alice):
    return order_place(user=alice, service_id=manual_service.pk, params={"link": LINK, "quantity": "200"})


def test_staff_report_progress_then_partial_refunds_the_undelivered_share_once(manual_order, alice, admin_user):
    order = manual_order_update(order_id=manual_order.pk, actor=admin_user, status="In progress", start_count=1500)
    assert (order.status, order.start_count, order.remains) == ("In progress", 1500, None)
    order = manual_order_update(order_id=manual_order.pk, actor=admin_user, status="In progress", remains=120)
    assert Order.objects.get(pk=order.pk).remains == 120
    order = manual_order_update(order_id=manual_order.pk, actor=admin_user, status="Partial", remains=50)
    assert (order.status, order.remains) == ("Partial", 50)
    # 1.00000 charged; 50 of 200 undelivered.
    assert LedgerEntry.objects.get(order=order, kind="refund").amount == Decimal("0.25000")
    assert wallet_balance(user_id=alice.pk) == Decimal("99.25000")
    with pytest.raises(OrderError, match="already Partial"):
        manual_order_update(order_id=manual_order.pk, actor=admin_user, status="Canceled")
    actions = list(AuditEntry.objects.filter(target_id=str(order.pk)).values_list("action", flat=True))
    assert sorted(actions) == ["order.finish", "order.progress", "order.progress"]
    assert list(manual_orders_open()) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"status": "Sent"}, "Unknown status"),
        ({"status": "In progress", "remains": 201}, "at most the quantity, 200"),
        ({"status": "In progress", "start_count": -1}, "must not be negative"),
        ({"status": "Partial"}, "For Partial, give what remains"),
        ({"status": "Partial", "remains": 0}, "For Partial, give what remains"),
    ],
)
def test_bad_progress_is_refused_and_changes_nothing(manual_order, admin_user, changes, message):
    with pytest.raises(OrderError, match=message):
        manual_order_update(order_id=manual_order.pk, actor=admin_user, **changes)
    order = Order.objects.get(pk=manual_order.pk)
    assert (order.status, order.start_count, order.remains) == ("Pending", None, None)
    assert not LedgerEntry.objects.filter(order=order, kind="refund").exists()


def test_an_order_of_a_provider_is_not_fulfilled_by_hand(alice, services, admin_user):
    order = order_place(user=alice, service_id=services[1].pk, params={"link": LINK, "quantity": "1000"})
    with pytest.raises(OrderError, match="not an order of a manual service"):
        manual_order_update(order_id=order.pk, actor=admin_user, status="Completed")
    assert Order.objects.get(pk=order.pk).status == "Pending"


@pytest.mark.django_db(transaction=True)
def test_two_staff_canceling_at_once_refund_once(manual_service, alice, admin_user):
    order = order_place(user=alice, service_id=manual_service.pk, params={"link": LINK, "quantity": "200"})
    results = run_together(lambda: manual_order_update(order_id=order.pk, actor=admin_user, status="Canceled"), count=4)
    assert sum(isinstance(result, Order) for result in results) == 1
    assert all(isinstance(r, Order) or "already Canceled" in str(r) for r in results)
    assert LedgerEntry.objects.filter(order=order, kind="refund").count() == 1
    assert wallet_balance(user_id=alice.pk) == Decimal("100.00000")


def test_the_database_refuses_an_order_without_a_provider_that_is_not_manual(services, alice):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        OrderFactory.create(user=alice, service=services[1], provider=None, upstream_service_id=None)
