"""Manual fulfilment through the staff API: staff pull the open orders of the services the panel fulfils itself,
oldest first, and report their start count, remains and status (orders.services.manual), the refund of a final
status given once; bad progress is a 400 that changes nothing."""

from decimal import Decimal

import pytest

from backoffice.models import AuditEntry
from billing.models import LedgerEntry
from billing.selectors import wallet_balance
from catalog.models import Service
from orders.models import Order
from orders.services.placement import order_place
from tests.api.staff.conftest import client_of, staff_member
from tests.factories import CategoryFactory, OrderFactory

pytestmark = pytest.mark.django_db

LINK = "https://instagram.com/p/manual"


@pytest.fixture
def manual_service() -> Service:
    # A manual service as the admin's add page saves it: no provider, cost 4.00 per 1000, 25% markup.
    return Service.objects.create(
        name="Hand-made comments", upstream_name="Hand-made comments", category=CategoryFactory.create(),
        min_quantity=10, max_quantity=500, upstream_rate=Decimal(4), markup_percent=Decimal(25), rate=Decimal(5),
    )  # fmt: skip


def _place(user, service: Service, quantity: int = 200) -> Order:
    return order_place(user=user, service_id=service.pk, params={"link": LINK, "quantity": str(quantity)})


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_staff_pull_the_open_manual_orders_oldest_first(support, manual_service, alice, bob):
    first, second = _place(alice, manual_service), _place(alice, manual_service)
    upstream = OrderFactory.create(user=bob)  # a provider's order: not staff's to fulfil
    done = _place(alice, manual_service)
    Order.objects.filter(pk=done.pk).update(status=Order.Status.COMPLETED)
    page = support.get("manual-orders/").json()
    assert [row["id"] for row in page["results"]] == [first.pk, second.pk]
    row = page["results"][0]
    assert (row["submission"], row["provider"], row["upstream_service_id"], row["status"]) == (
        "manual", None, None, "Pending"
    )  # fmt: skip
    assert (row["link"], row["quantity"], row["charge"]) == (LINK, 200, "1.00000")
    assert support.get(f"manual-orders/{first.pk}/").json() == row
    assert support.get(f"manual-orders/{upstream.pk}/").status_code == 404
    assert support.get(f"manual-orders/{done.pk}/").status_code == 404
    second_page = support.get("manual-orders/", {"page_size": 1})
    assert _ids(second_page) == [first.pk]
    rest = support.client.get(second_page.json()["next"], headers=support.headers).json()
    assert [row["id"] for row in rest["results"]] == [second.pk]


def test_staff_report_progress_then_finish_with_the_refund_once(support, manual_service, alice):
    order = _place(alice, manual_service)
    path = f"manual-orders/{order.pk}/progress/"
    started = support.post(path, {"status": "In progress", "start_count": 1500})
    assert started.status_code == 200
    assert (started.json()["status"], started.json()["start_count"], started.json()["remains"]) == (
        "In progress", 1500, None
    )  # fmt: skip
    assert support.post(path, {"status": "In progress", "remains": 120}).json()["remains"] == 120
    finished = support.post(path, {"status": "Partial", "remains": 50})
    assert finished.status_code == 200 and (finished.json()["status"], finished.json()["remains"]) == ("Partial", 50)
    # 1.00000 charged; 50 of 200 undelivered.
    assert LedgerEntry.objects.get(order=order, kind="refund").amount == Decimal("0.25000")
    assert wallet_balance(user_id=alice.pk) == Decimal("99.25000")
    again = support.post(path, {"status": "Canceled"})
    assert again.status_code == 400 and again.json() == {"detail": f"Order {order.pk} is already Partial."}
    assert wallet_balance(user_id=alice.pk) == Decimal("99.25000")
    audit = AuditEntry.objects.filter(target_type="orders.order", target_id=str(order.pk)).order_by("pk")
    assert [(e.action, e.actor.username if e.actor else "") for e in audit] == [
        ("order.progress", "sue"), ("order.progress", "sue"), ("order.finish", "sue")
    ]  # fmt: skip
    assert _ids(support.get("manual-orders/")) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "In progress", "remains": 201}, "The remains must be at most the quantity, 200."),
        ({"status": "In progress", "start_count": -1}, "The start count must not be negative."),
        ({"status": "Partial"}, "For Partial, give what remains undelivered (1 to 200)."),
        ({"status": "Partial", "remains": 0}, "For Partial, give what remains undelivered (1 to 200)."),
        ({"status": "Sent"}, 'status: "Sent" is not a valid choice.'),
        ({"remains": 5}, "status: This field is required."),
        ({"status": "In progress", "remains": "many"}, "remains: A valid integer is required."),
    ],
)
def test_bad_progress_is_a_400_that_changes_nothing(support, manual_service, alice, body, message):
    order = _place(alice, manual_service)
    response = support.post(f"manual-orders/{order.pk}/progress/", body)
    assert response.status_code == 400 and response.json()["detail"] == message
    order.refresh_from_db()
    assert (order.status, order.start_count, order.remains) == ("Pending", None, None)
    assert wallet_balance(user_id=alice.pk) == Decimal(99)
    assert not AuditEntry.objects.exists()


def test_an_order_of_a_provider_is_not_fulfilled_by_hand(support, alice):
    order = OrderFactory.create(user=alice, sent=True)
    response = support.post(f"manual-orders/{order.pk}/progress/", {"status": "Completed"})
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Order {order.pk} is not an order of a manual service: its provider fulfils it."
    }
    assert Order.objects.get(pk=order.pk).status == "Pending"
    assert support.post("manual-orders/999999/progress/", {"status": "Completed"}).status_code == 404


@pytest.mark.parametrize(("role", "reads"), [("Finance", 200), ("Catalog", 403)])
def test_only_staff_who_may_change_orders_fulfil_them(role, reads, manual_service, alice):
    order = _place(alice, manual_service)
    client = client_of(staff_member(f"{role.lower()}-member", role=role))
    assert client.get("manual-orders/").status_code == reads  # Finance views orders (to refund them later)
    assert client.post(f"manual-orders/{order.pk}/progress/", {"status": "Canceled"}).status_code == 403
    assert Order.objects.get(pk=order.pk).status == "Pending" and wallet_balance(user_id=alice.pk) == Decimal(99)
    assert not AuditEntry.objects.exists()


def test_services_show_and_filter_the_manual_ones(catalog_staff, manual_service):
    from tests.factories import ServiceFactory

    upstream = ServiceFactory.create()
    assert _ids(catalog_staff.get("services/", {"manual": "true"})) == [manual_service.pk]
    assert _ids(catalog_staff.get("services/", {"manual": "false"})) == [upstream.pk]
    row = catalog_staff.get(f"services/{manual_service.pk}/").json()
    assert (row["is_manual"], row["provider"], row["upstream_id"], row["rate"], row["cost"]) == (
        True, None, None, "5.000000", "4.000000"
    )  # fmt: skip
