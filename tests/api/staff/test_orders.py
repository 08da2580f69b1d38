"""Orders, refills and cancel requests through the staff API: lists with filters and cursors, and the operator
actions, each with the admin's effect (money through the ledger, one audit entry) or a 400 that changes nothing."""

from decimal import Decimal

import pytest

from accounts.models import User
from backoffice.models import AuditEntry
from billing.models import LedgerEntry, Wallet
from billing.services import wallet_debit
from orders.models import Order
from tests.factories import CancelRequestFactory, OrderFactory, RefillFactory, ServiceFactory

# The balances below count from alice's 10.00000.
pytestmark = [pytest.mark.django_db, pytest.mark.alice_balance(Decimal(10))]

Submission = Order.Submission


def _order(user: User, **fields: object) -> Order:
    """An order and its charge, as order_place leaves them (forwarding aside)."""
    order = OrderFactory.create(user=user, **fields)
    wallet_debit(user=user, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    return order


def _balance(user: User) -> Decimal:
    return Wallet.objects.get(user=user).balance


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _audit(order: Order) -> list[tuple[str, str]]:
    entries = AuditEntry.objects.filter(target_type="orders.order", target_id=str(order.pk)).order_by("pk")
    return [(entry.action, entry.actor.username if entry.actor else "") for entry in entries]


def test_it_lists_orders_newest_first_with_what_operators_need(support, alice):
    first = _order(alice, submission=Submission.SENT, upstream_id=4242)
    second = _order(alice)
    body = support.get("orders/").json()
    assert [row["id"] for row in body["results"]] == [second.pk, first.pk]
    assert body["next"] is None and body["previous"] is None
    row = body["results"][1]
    assert (row["customer"], row["service"], row["charge"], row["quantity"]) == (
        alice.pk, first.service_id, "1.50000", 1000
    )  # fmt: skip
    assert (row["status"], row["submission"], row["upstream_id"]) == ("Pending", "sent", 4242)
    # The order's page has the row and the rest.
    page = support.get(f"orders/{first.pk}/").json()
    assert row.items() <= page.items()
    assert (page["customer_username"], page["cost"], page["rate"]) == ("alice", "1.00000", "1.500000")


def test_it_filters_orders(support, alice, bob):
    held = _order(alice, submission=Submission.HELD)
    service = ServiceFactory.create()
    bobs = OrderFactory.create(user=bob, service=service, status=Order.Status.IN_PROGRESS, sent=True)
    done = OrderFactory.create(user=bob, completed=True, link="https://x.com/done")
    assert _ids(support.get("orders/", {"submission": "held"})) == [held.pk]
    assert _ids(support.get("orders/", {"status": "In progress"})) == [bobs.pk]
    assert _ids(support.get("orders/", {"status": ["In progress", "Completed"]})) == [done.pk, bobs.pk]
    assert _ids(support.get("orders/", {"customer": bob.pk})) == [done.pk, bobs.pk]
    assert _ids(support.get("orders/", {"service": service.pk})) == [bobs.pk]
    assert _ids(support.get("orders/", {"provider": service.provider_id})) == [bobs.pk]
    assert _ids(support.get("orders/", {"upstream_id": bobs.upstream_id})) == [bobs.pk]
    assert _ids(support.get("orders/", {"link": "https://x.com/done"})) == [done.pk]
    assert _ids(support.get("orders/", {"customer": 999999})) == []
    later = done.created_at.isoformat()
    assert _ids(support.get("orders/", {"created_after": later})) == [done.pk]
    assert _ids(support.get("orders/", {"created_before": later})) == [bobs.pk, held.pk]


def test_it_answers_a_bad_filter_with_a_400_that_names_it(support, alice):
    response = support.get("orders/", {"status": "Lost", "customer": "alice"})
    assert response.status_code == 400
    body = response.json()
    assert set(body["invalid"]) == {"status", "customer"}
    assert "status: Select a valid choice. Lost is not one of the available choices." in body["detail"]
    assert "customer: Enter a whole number." in body["detail"]


def test_it_pages_with_a_cursor_50_at_a_time_and_up_to_200(support, alice):
    service = ServiceFactory.create()
    orders = OrderFactory.create_batch(205, user=alice, service=service)
    newest_first = [order.pk for order in reversed(orders)]
    page = support.get("orders/").json()
    assert [row["id"] for row in page["results"]] == newest_first[:50]
    second = support.client.get(page["next"], headers=support.headers).json()
    assert [row["id"] for row in second["results"]] == newest_first[50:100]
    back = support.client.get(second["previous"], headers=support.headers).json()
    assert [row["id"] for row in back["results"]] == newest_first[:50]
    assert len(support.get("orders/", {"page_size": 120}).json()["results"]) == 120
    assert len(support.get("orders/", {"page_size": 1000}).json()["results"]) == 200


def test_it_lists_and_filters_refills_and_cancel_requests(support, alice):
    refill = RefillFactory.create(last_error="upstream said no")
    other = RefillFactory.create(status="Completed")
    cancel = CancelRequestFactory.create(status="refused")
    assert _ids(support.get("refills/")) == [other.pk, refill.pk]
    assert _ids(support.get("refills/", {"status": "queued"})) == [refill.pk]
    assert _ids(support.get("refills/", {"order": other.order_id})) == [other.pk]
    row = support.get(f"refills/{refill.pk}/").json()
    assert (row["order"], row["status"], row["last_error"]) == (refill.order_id, "queued", "upstream said no")
    assert _ids(support.get("cancels/", {"status": "refused"})) == [cancel.pk]
    assert _ids(support.get("cancels/", {"status": "queued"})) == []
    assert support.get(f"cancels/{cancel.pk}/").json()["order"] == cancel.order_id


def test_it_resends_an_unknown_order(support, alice):
    order = _order(alice, submission=Submission.UNKNOWN)
    response = support.post(f"orders/{order.pk}/resend/")
    assert response.status_code == 200 and response.json()["submission"] == "queued"
    assert Order.objects.get(pk=order.pk).submission == Submission.QUEUED
    assert _audit(order) == [("order.resend", "sue")]


def test_it_refuses_to_resend_a_sent_order(support, alice):
    order = _order(alice, submission=Submission.SENT, upstream_id=77)
    response = support.post(f"orders/{order.pk}/resend/")
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Order {order.pk} was not resent: only an unknown or held order that is not final can be."
    }
    assert Order.objects.get(pk=order.pk).submission == Submission.SENT and _audit(order) == []


def test_it_links_an_unknown_order_to_its_upstream_id(support, alice):
    order = _order(alice, submission=Submission.UNKNOWN)
    response = support.post(f"orders/{order.pk}/link-upstream/", {"upstream_id": 4242})
    assert response.status_code == 200
    linked = Order.objects.get(pk=order.pk)
    assert (linked.submission, linked.upstream_id) == (Submission.SENT, 4242)
    assert _audit(order) == [("order.link_upstream", "sue")]


def test_it_refuses_a_bad_or_taken_upstream_id(support, alice):
    order = _order(alice, submission=Submission.UNKNOWN)
    OrderFactory.create(user=alice, service=order.service, submission=Submission.SENT, upstream_id=4242)
    path = f"orders/{order.pk}/link-upstream/"
    taken = support.post(path, {"upstream_id": 4242})
    assert taken.status_code == 400
    assert taken.json() == {"detail": "Upstream order 4242 already belongs to another order."}
    for bad in [{}, {"upstream_id": 0}, {"upstream_id": "abc"}, {"upstream_id": 2**63}]:
        response = support.post(path, bad)
        assert response.status_code == 400 and "upstream_id" in response.json()["invalid"], bad
    assert support.post(path, {}).json()["detail"] == "upstream_id: This field is required."
    linked = Order.objects.get(pk=order.pk)
    assert (linked.submission, linked.upstream_id) == (Submission.UNKNOWN, None) and _audit(order) == []


def test_it_cancels_with_a_full_refund_once(support, alice):
    order = _order(alice, submission=Submission.UNKNOWN)
    response = support.post(f"orders/{order.pk}/cancel/", {"reason": "duplicate"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["reason"]) == ("Canceled", "duplicate")
    assert _balance(alice) == Decimal(10)
    again = support.post(f"orders/{order.pk}/cancel/", {})
    assert again.status_code == 400 and again.json() == {"detail": f"Order {order.pk} is already Canceled."}
    assert _balance(alice) == Decimal(10)
    assert [e.amount for e in LedgerEntry.objects.filter(order=order, kind="refund")] == [Decimal("1.50000")]
    assert _audit(order) == [("order.finish", "sue")]


def test_it_marks_completed_without_a_refund(support, alice):
    order = _order(alice, submission=Submission.SENT, upstream_id=1, status=Order.Status.IN_PROGRESS)
    response = support.post(f"orders/{order.pk}/mark-completed/")
    assert response.status_code == 200 and response.json()["status"] == "Completed"
    assert _balance(alice) == Decimal("8.50000")
    assert _audit(order) == [("order.finish", "sue")]


def test_it_marks_partial_and_refunds_the_undelivered_share(support, alice):
    order = _order(alice, submission=Submission.SENT, upstream_id=1, quantity=1000)
    response = support.post(f"orders/{order.pk}/mark-partial/", {"remains": 400})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["remains"]) == ("Partial", 400)
    assert _balance(alice) == Decimal("8.50000") + Decimal("0.60000")
    entry = AuditEntry.objects.get(target_type="orders.order", target_id=str(order.pk))
    assert (entry.action, entry.after) == ("order.finish", {"status": "Partial", "remains": 400, "refund": "0.60000"})


def test_it_refuses_partial_without_sensible_remains(support, alice):
    order = _order(alice, submission=Submission.SENT, upstream_id=1, quantity=1000)
    path = f"orders/{order.pk}/mark-partial/"
    assert support.post(path, {}).json() == {
        "detail": "remains: This field is required.",
        "invalid": {"remains": ["This field is required."]},
    }
    too_many = support.post(path, {"remains": 1001})
    assert too_many.status_code == 400
    assert too_many.json() == {"detail": "For Partial, give what remains undelivered (1 to 1000)."}
    assert support.post(path, {"remains": -5}).status_code == 400
    assert Order.objects.get(pk=order.pk).status == Order.Status.PENDING
    assert _balance(alice) == Decimal("8.50000") and _audit(order) == []


def test_it_will_not_finish_an_order_a_worker_is_sending(support, alice):
    order = _order(alice, submission=Submission.SENDING)
    response = support.post(f"orders/{order.pk}/cancel/")
    assert response.status_code == 400 and "is being sent right now" in response.json()["detail"]
    assert _balance(alice) == Decimal("8.50000") and _audit(order) == []


def test_an_unknown_order_is_a_404(support):
    for path in ("orders/999999/", "orders/999999/resend/", "orders/abc/"):
        response = support.get(path) if path.count("/") == 2 else support.post(path)
        assert response.status_code == 404 and response.json() == {"detail": "Not found."}
