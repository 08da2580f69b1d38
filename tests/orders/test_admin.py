"""Orders, refills and cancel requests in Django admin: read-only pages, and the operators' actions that resend,
link, cancel or finish an order through orders.services, with the refund each one calls for."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse

from accounts.models import User
from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches, wallet_credit, wallet_debit
from orders.models import CancelRequest, Order
from tests.factories import CancelRequestFactory, OrderFactory, RefillFactory, second_factor_confirmed

# The balances below count from alice's 10.00000.
pytestmark = [pytest.mark.django_db, pytest.mark.alice_balance(Decimal(10))]

HOSTILE = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"
ORDERS = reverse("admin:orders_order_changelist")
Submission = Order.Submission


def _order(user: User, **fields: object) -> Order:
    """An order and its charge, as order_place leaves them (forwarding aside)."""
    order = OrderFactory.create(user=user, **fields)
    wallet_debit(user=user, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    return order


def _act(client: Client, action: str, orders: list[Order], **form: str) -> HttpResponseBase:
    """Run an action; with form data, as if confirmed on its intermediate page."""
    data: dict[str, str | list[str]] = {"action": action, "_selected_action": [str(o.pk) for o in orders]}
    if form:
        data |= {"apply": "1", **form}
    return client.post(ORDERS, data, follow=True)


def _balance(user: User) -> Decimal:
    return Wallet.objects.get(user=user).balance


def _refunds(order: Order) -> list[Decimal]:
    return [e.amount for e in LedgerEntry.objects.filter(order=order, kind=LedgerEntry.Kind.REFUND)]


def test_it_lists_orders_for_operators(admin_client, alice):
    _order(alice, submission=Submission.SENT, upstream_id=4242, last_error="x" * 200, missed_polls=2)
    page = admin_client.get(ORDERS).content.decode()
    assert "alice" in page and "4242" in page and "1.50000" in page and "sent" in page
    assert "x" * 59 + "…" in page and "x" * 61 not in page


def test_it_searches_orders_by_id_upstream_id_and_link(admin_client, alice):
    first = _order(alice, link="https://instagram.com/p/first")
    second = _order(alice, link="https://instagram.com/p/second", submission=Submission.SENT, upstream_id=987654)
    for term, expected in [(str(first.pk), first), ("987654", second), ("p/first", first)]:
        found = admin_client.get(ORDERS, {"q": term}).context["cl"].result_list
        assert list(found) == [expected]


def test_it_filters_orders(admin_client, alice, bob):
    wallet_credit(user=bob, amount=Decimal(10))
    held = _order(alice, submission=Submission.HELD)
    bobs = _order(bob, status=Order.Status.IN_PROGRESS, submission=Submission.SENT, upstream_id=1)
    assert list(admin_client.get(ORDERS, {"submission__exact": "held"}).context["cl"].result_list) == [held]
    assert list(admin_client.get(ORDERS, {"status__exact": "In progress"}).context["cl"].result_list) == [bobs]
    assert list(admin_client.get(ORDERS, {"user__id__exact": str(bob.pk)}).context["cl"].result_list) == [bobs]


def test_it_escapes_a_hostile_link_and_last_error(admin_client, alice):
    order = _order(alice, link=f"https://x.com/{HOSTILE}", last_error=HOSTILE, submission=Submission.UNKNOWN)
    refill = RefillFactory.create(order=order, last_error=HOSTILE)
    cancel = CancelRequestFactory.create(order=order, last_error=HOSTILE)
    urls = [
        ORDERS,
        reverse("admin:orders_order_change", args=[order.pk]),
        reverse("admin:orders_refill_changelist"),
        reverse("admin:orders_refill_change", args=[refill.pk]),
        reverse("admin:orders_cancelrequest_changelist"),
        reverse("admin:orders_cancelrequest_change", args=[cancel.pk]),
    ]
    pages = [admin_client.get(url) for url in urls]
    pages.append(_act(admin_client, "resend", [order]))
    for response in pages:
        page = response.content.decode()
        assert response.status_code == 200
        assert "<script>alert" not in page and ESCAPED in page


def test_it_shows_every_field_read_only_with_the_order_ledger(admin_client, alice):
    order = _order(alice, fields={"comments": "nice\ngreat"}, reason="Too slow")
    response = admin_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'name="_save"' not in page and 'name="link"' not in page and 'name="status"' not in page
    labels = [field.verbose_name for field in Order._meta.concrete_fields if field.name != "id"]
    assert all(f">{label.capitalize()}:<" in page for label in labels)
    assert "charge -1.50000" in page and "Too slow" in page


@pytest.mark.parametrize("model", ["order", "refill", "cancelrequest"])
def test_it_refuses_to_add_edit_or_delete(admin_client, alice, model):
    order = _order(alice)
    pk = {"order": order, "refill": RefillFactory.create(order=order), "cancelrequest": CancelRequestFactory.create(
        order=order
    )}[model].pk  # fmt: skip
    assert admin_client.get(reverse(f"admin:orders_{model}_add")).status_code == 403
    change = admin_client.post(reverse(f"admin:orders_{model}_change", args=[pk]), {"status": "Completed"})
    assert change.status_code == 403
    assert admin_client.post(reverse(f"admin:orders_{model}_delete", args=[pk]), {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client.get(reverse(f"admin:orders_{model}_changelist")).content.decode()
    order.refresh_from_db()
    assert order.status == "Pending" and Order.objects.count() == 1


def test_it_lists_refills_and_cancel_requests_by_order(admin_client, alice):
    first, second = _order(alice), _order(alice)
    RefillFactory.create(order=first)
    CancelRequestFactory.create(order=second, status=CancelRequest.Status.REFUSED)
    for model, order in [("refill", first), ("cancelrequest", second)]:
        url = reverse(f"admin:orders_{model}_changelist")
        found = admin_client.get(url, {"q": str(order.pk)}).context["cl"].result_list
        assert [row.order for row in found] == [order]
        assert admin_client.get(url, {"q": str(first.pk + second.pk)}).context["cl"].result_count == 0
    found = admin_client.get(reverse("admin:orders_cancelrequest_changelist"), {"status__exact": "refused"})
    assert [row.order for row in found.context["cl"].result_list] == [second]


def test_it_warns_before_resending_that_it_may_duplicate(admin_client, alice):
    order = _order(alice, submission=Submission.UNKNOWN)
    page = _act(admin_client, "resend", [order]).content.decode()
    assert "may already exist at the provider" in page and "duplicate order upstream" in page
    assert "the customer does not pay for" in page
    order.refresh_from_db()
    assert order.submission == Submission.UNKNOWN


@pytest.mark.parametrize("submission", [Submission.UNKNOWN, Submission.HELD])
def test_it_resends_unknown_and_held_orders(admin_client, alice, submission, django_capture_on_commit_callbacks):
    order = _order(alice, submission=submission)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _act(admin_client, "resend", [order], confirm="yes")
    assert f"Order {order.pk} is queued to be sent again." in response.content.decode()
    order.refresh_from_db()
    assert order.submission == Submission.QUEUED and len(callbacks) == 1


def test_it_resends_only_unknown_or_held_orders(admin_client, alice, django_capture_on_commit_callbacks):
    sent = _order(alice, submission=Submission.SENT, upstream_id=5)
    canceled = _order(alice, submission=Submission.UNKNOWN, status=Order.Status.CANCELED)
    with django_capture_on_commit_callbacks() as callbacks:
        response = _act(admin_client, "resend", [sent, canceled], confirm="yes")
    page = response.content.decode()
    for order in (sent, canceled):
        assert f"Order {order.pk} was not resent: only an unknown or held order that is not final can be." in page
    assert not callbacks
    assert {o.submission for o in Order.objects.all()} == {Submission.SENT, Submission.UNKNOWN}


def test_it_links_an_unknown_order_to_its_upstream_id(admin_client, alice):
    order = _order(alice, submission=Submission.UNKNOWN, last_error="Read timed out")
    page = _act(admin_client, "link_upstream", [order]).content.decode()
    assert "Upstream order id" in page
    response = _act(admin_client, "link_upstream", [order], upstream_id="31337")
    assert f"Order {order.pk} is linked to upstream order 31337." in response.content.decode()
    order.refresh_from_db()
    assert (order.submission, order.upstream_id, order.last_error) == (Submission.SENT, 31337, "")
    assert order.next_poll_at is not None


def test_it_refuses_an_upstream_id_another_order_has(admin_client, alice):
    taken = _order(alice, submission=Submission.SENT, upstream_id=31337)
    order = _order(alice, service=taken.service, submission=Submission.UNKNOWN)
    response = _act(admin_client, "link_upstream", [order], upstream_id="31337")
    assert "Upstream order 31337 already belongs to another order." in response.content.decode()
    order.refresh_from_db()
    assert (order.submission, order.upstream_id) == (Submission.UNKNOWN, None)


def test_it_links_only_unknown_orders_one_at_a_time(admin_client, alice):
    held, unknown = _order(alice, submission=Submission.HELD), _order(alice, submission=Submission.UNKNOWN)
    response = _act(admin_client, "link_upstream", [held], upstream_id="1")
    assert "Only an open order in the unknown state can be linked" in response.content.decode()
    response = _act(admin_client, "link_upstream", [held, unknown], upstream_id="1")
    assert "Select exactly one order to link" in response.content.decode()
    for bad in ("0", "-3", "abc"):
        assert 'name="upstream_id"' in _act(admin_client, "link_upstream", [unknown], upstream_id=bad).content.decode()
    assert not Order.objects.filter(upstream_id__isnull=False).exists()


def test_it_cancels_and_refunds_after_confirmation(admin_client, alice):
    order = _order(alice, submission=Submission.UNKNOWN)
    page = _act(admin_client, "cancel_and_refund", [order]).content.decode()
    assert "Nothing is canceled at the provider" in page and 'name="reason"' in page
    assert _balance(alice) == Decimal("8.50000")
    response = _act(admin_client, "cancel_and_refund", [order], reason="Out of stock")
    assert f"Order {order.pk} marked Canceled: refunded 1.50000 USD." in response.content.decode()
    order.refresh_from_db()
    assert (order.status, order.remains, order.reason) == ("Canceled", 1000, "Out of stock")
    assert _balance(alice) == Decimal(10) and _refunds(order) == [Decimal("1.50000")]
    assert list(ledger_mismatches()) == []


def test_it_refuses_to_cancel_a_final_order_again(admin_client, alice):
    order = _order(alice)
    _act(admin_client, "cancel_and_refund", [order], reason="")
    for action, form in [("cancel_and_refund", {"reason": "again"}), ("mark_partial", {"remains": "1"})]:
        response = _act(admin_client, action, [order], **form)
        assert f"Order {order.pk} is already Canceled." in response.content.decode()
    response = _act(admin_client, "mark_completed", [order])
    assert f"Order {order.pk} is already Canceled." in response.content.decode()
    assert _refunds(order) == [Decimal("1.50000")] and _balance(alice) == Decimal(10)
    assert list(ledger_mismatches()) == []


def test_it_marks_orders_completed_without_a_refund(admin_client, alice):
    orders = [_order(alice, submission=Submission.SENT, upstream_id=n) for n in (1, 2)]
    page = _act(admin_client, "mark_completed", orders).content.decode()
    assert all(f"Order {o.pk} marked Completed: nothing refunded." in page for o in orders)
    assert {(o.status, o.remains) for o in Order.objects.all()} == {("Completed", 0)}
    assert _balance(alice) == Decimal(7) and not LedgerEntry.objects.filter(kind="refund").exists()


def test_it_marks_an_order_partial_and_refunds_the_undelivered_share_rounded_down(admin_client, alice):
    order = _order(alice, charge=Decimal("1.00000"), quantity=3, submission=Submission.SENT, upstream_id=9)
    page = _act(admin_client, "mark_partial", [order]).content.decode()
    assert 'name="remains"' in page and "rounded down" in page
    response = _act(admin_client, "mark_partial", [order], remains="1")
    assert f"Order {order.pk} marked Partial: refunded 0.33333 USD." in response.content.decode()
    order.refresh_from_db()
    assert (order.status, order.remains) == ("Partial", 1)
    assert _refunds(order) == [Decimal("0.33333")] and _balance(alice) == Decimal("9.33333")
    response = _act(admin_client, "mark_partial", [order], remains="1")
    assert f"Order {order.pk} is already Partial." in response.content.decode()
    assert _refunds(order) == [Decimal("0.33333")]
    assert list(ledger_mismatches()) == []


def test_it_refuses_a_partial_with_more_remaining_than_ordered(admin_client, alice):
    order = _order(alice, quantity=3)
    response = _act(admin_client, "mark_partial", [order], remains="4")
    assert "For Partial, give what remains undelivered (1 to 3)." in response.content.decode()
    assert 'name="remains"' in _act(admin_client, "mark_partial", [order], remains="0").content.decode()
    order.refresh_from_db()
    assert order.status == "Pending" and _refunds(order) == []


def test_it_marks_one_order_partial_at_a_time(admin_client, alice):
    orders = [_order(alice), _order(alice)]
    response = _act(admin_client, "mark_partial", orders, remains="1")
    assert "Select exactly one order to mark Partial" in response.content.decode()
    assert {o.status for o in Order.objects.all()} == {"Pending"}


def test_it_lets_staff_who_may_only_view_orders_change_nothing(client, alice, charlie):
    charlie.is_staff = True
    charlie.save(update_fields=["is_staff"])
    charlie.user_permissions.add(*Permission.objects.filter(codename="view_order"))
    client.force_login(charlie)
    second_factor_confirmed(client, charlie)
    order = _order(alice, submission=Submission.UNKNOWN)
    page = client.get(ORDERS).content.decode()
    assert "Cancel and refund" not in page and "Resend" not in page
    assert _act(client, "cancel_and_refund", [order], reason="").status_code == 200
    order.refresh_from_db()
    assert order.status == "Pending" and _refunds(order) == []
