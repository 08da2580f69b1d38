"""Payment methods and deposit requests in Django admin: requests are approved or rejected only by the actions."""

import contextlib
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse

from billing.models import DepositRequest, LedgerEntry, PaymentMethod, Wallet
from tests.factories import DepositRequestFactory, PaymentMethodFactory, second_factor_confirmed

pytestmark = pytest.mark.django_db

DEPOSITS = reverse("admin:billing_depositrequest_changelist")
METHODS = reverse("admin:billing_paymentmethod_changelist")
HOSTILE = '<script>alert("x")</script>'


@pytest.fixture
def deposit(alice):
    return DepositRequestFactory.create(user=alice, amount=Decimal(25), reference="TX-42")


def _act(client: Client, action: str, deposits: list[DepositRequest], **form: str) -> HttpResponseBase:
    selection = {"action": action, "_selected_action": [str(d.pk) for d in deposits]}
    return client.post(DEPOSITS, {**selection, **form}, follow=True)


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def _status(deposit: DepositRequest) -> str:
    deposit.refresh_from_db()
    return deposit.status


def test_it_lists_filters_and_searches_deposit_requests(admin_client, alice, bob):
    DepositRequestFactory.create(user=alice, reference="ALICE-1")
    rejected = DepositRequestFactory.create(user=bob, reference="BOB-1", status="rejected", note="no payment")
    page = admin_client.get(DEPOSITS).content.decode()
    assert "ALICE-1" in page and "BOB-1" in page and "no payment" in page
    assert [d.pk for d in admin_client.get(DEPOSITS, {"status__exact": "rejected"}).context["cl"].result_list] == [
        rejected.pk
    ]
    assert [d.reference for d in admin_client.get(DEPOSITS, {"q": "example.org"}).context["cl"].result_list] == [
        "BOB-1"
    ]
    assert [d.reference for d in admin_client.get(DEPOSITS, {"q": "ALICE-1"}).context["cl"].result_list] == ["ALICE-1"]


def test_it_escapes_what_the_customer_wrote(admin_client, alice):
    deposit = DepositRequestFactory.create(user=alice, reference=HOSTILE)
    for url in (DEPOSITS, reverse("admin:billing_depositrequest_change", args=[deposit.pk])):
        page = admin_client.get(url).content.decode()
        assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_it_approves_and_reports_what_was_already_decided(admin_client, admin_user, alice, deposit):
    page = _act(admin_client, "approve", [deposit]).content.decode()
    assert "Approved 1 deposit request(s): the money is in the wallets." in page
    assert _status(deposit) == "approved" and _balance(alice) == Decimal(125)
    assert LedgerEntry.objects.get(kind="deposit", actor=admin_user).amount == Decimal(25)

    page = _act(admin_client, "approve", [deposit]).content.decode()
    assert "Approved" not in page.split('class="messagelist"')[1].split("</ul>")[0]
    assert "1 already decided: nothing changed for them." in page
    assert _balance(alice) == Decimal(125)


def test_it_approves_the_pending_ones_of_a_mixed_selection(admin_client, alice, bob, deposit):
    other = DepositRequestFactory.create(user=bob, amount=Decimal(5))
    refused = DepositRequestFactory.create(user=bob, amount=Decimal(7), status="rejected", note="duplicate")
    page = _act(admin_client, "approve", [deposit, other, refused]).content.decode()
    assert "Approved 2 deposit request(s)" in page and "1 already decided" in page
    assert (_balance(alice), _balance(bob)) == (Decimal(125), Decimal(5))
    assert _status(refused) == "rejected"


def test_it_asks_for_a_note_before_rejecting(admin_client, alice, deposit):
    response = _act(admin_client, "reject", [deposit])
    page = response.content.decode()
    assert response.status_code == 200
    assert "Reject deposit requests" in page and "TX-42" in page and 'name="note"' in page
    assert _status(deposit) == "pending"

    page = _act(admin_client, "reject", [deposit], apply="1", note="  ").content.decode()
    assert "This field is required." in page and _status(deposit) == "pending"


def test_it_rejects_with_the_note_the_customer_sees(admin_client, admin_user, alice, deposit):
    page = _act(admin_client, "reject", [deposit], apply="1", note="No transfer TX-42 arrived.").content.decode()
    assert "Rejected 1 deposit request(s) with your note." in page
    deposit.refresh_from_db()
    assert (deposit.status, deposit.note, deposit.decided_by) == ("rejected", "No transfer TX-42 arrived.", admin_user)
    assert _balance(alice) == Decimal(100)

    page = _act(admin_client, "reject", [deposit], apply="1", note="again").content.decode()
    assert "1 already decided: nothing changed for them." in page
    deposit.refresh_from_db()
    assert deposit.note == "No transfer TX-42 arrived."


def test_it_changes_requests_only_through_the_actions(admin_client, alice, deposit):
    change = reverse("admin:billing_depositrequest_change", args=[deposit.pk])
    assert admin_client.post(change, {"status": "approved", "amount": "1000"}).status_code == 403
    assert admin_client.get(reverse("admin:billing_depositrequest_add")).status_code == 403
    delete = reverse("admin:billing_depositrequest_delete", args=[deposit.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert _status(deposit) == "pending" and _balance(alice) == Decimal(100)


def test_it_lets_staff_who_may_only_view_requests_decide_nothing(client, alice, charlie, deposit):
    charlie.is_staff = True
    charlie.save(update_fields=["is_staff"])
    charlie.user_permissions.add(*Permission.objects.filter(codename="view_depositrequest"))
    client.force_login(charlie)
    second_factor_confirmed(client, charlie)
    page = client.get(DEPOSITS).content.decode()
    assert "TX-42" in page and "Approve (credit" not in page and "Reject with a note" not in page
    _act(client, "approve", [deposit])
    _act(client, "reject", [deposit], apply="1", note="no")
    assert _status(deposit) == "pending" and _balance(alice) == Decimal(100)


def test_it_adds_a_payment_method_that_customers_then_see(admin_client, alice):
    response = admin_client.post(
        reverse("admin:billing_paymentmethod_add"),
        {"name": "PayPal", "gateway": "manual", "instructions": "Send to pay@example.com", "minimum": "5",
         "fee_percent": "0", "bonus_percent": "0", "bonus_minimum": "0", "is_active": "on", "position": 1},
    )  # fmt: skip
    assert response.status_code == 302
    method = PaymentMethod.objects.get()
    assert (method.name, method.minimum, method.is_active) == ("PayPal", Decimal(5), True)
    customer = Client()
    customer.force_login(alice)
    assert "Send to pay@example.com" in customer.get(reverse("funds")).content.decode()


def test_it_retires_a_payment_method_from_the_list(admin_client, alice):
    method = PaymentMethodFactory.create(name="Old bank")
    form = {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(method.pk), "form-0-position": "0",
        "_save": "Save",
    }  # fmt: skip
    assert admin_client.post(METHODS, form).status_code == 302
    method.refresh_from_db()
    assert not method.is_active
    customer = Client()
    customer.force_login(alice)
    assert "Old bank" not in customer.get(reverse("funds")).content.decode()


def test_it_credits_one_payment_once_however_many_asked_for_it(admin_client, alice, bob):
    from billing.services import deposit_request_create
    from panel.errors import ApplicationError

    bank, paypal = PaymentMethodFactory.create(name="Bank"), PaymentMethodFactory.create(name="PayPal")
    asked = [(alice, bank, "BANK-TX-777"), (bob, bank, "BANK-TX-777"), (bob, bank, "bank-tx-777"),
             (alice, bank, " BANK-TX-777 "), (bob, paypal, "BANK-TX-777"), (alice, paypal, "bank-tx-777")]  # fmt: skip
    for user, method, reference in asked:
        with contextlib.suppress(ApplicationError):
            deposit_request_create(user=user, method_id=method.pk, amount="25", reference=reference)
    deposits = list(DepositRequest.objects.order_by("pk"))
    assert [(d.user, d.method, d.reference) for d in deposits] == [
        (alice, bank, "BANK-TX-777"),
        (bob, paypal, "BANK-TX-777"),
    ]
    page = _act(admin_client, "approve", deposits).content.decode()
    assert "Approved 2 deposit request(s)" in page
    assert (_balance(alice), _balance(bob)) == (Decimal(125), Decimal(25))
    assert LedgerEntry.objects.filter(kind="deposit", actor__isnull=False).count() == 2


def test_it_says_why_it_does_not_approve_requests_that_share_a_payment(admin_client, alice, bob):
    # Rows from before one payment allowed one open request: the rule itself is dropped for this test only.
    from django.db import connection

    constraint = next(c for c in DepositRequest._meta.constraints if c.name == "deposit_one_open_request_per_payment")
    with connection.schema_editor() as editor:
        editor.remove_constraint(DepositRequest, constraint)
    bank = PaymentMethodFactory.create(name="Bank")
    first = DepositRequestFactory.create(user=alice, method=bank, reference="BANK-TX-777")
    second = DepositRequestFactory.create(user=bob, method=bank, reference="bank-tx-777")
    page = _act(admin_client, "approve", [first, second]).content.decode()
    assert (
        f"Deposit request {first.pk} was not approved: request {second.pk} (Pending) has the same method and "
        "reference, so they may be one payment. Check, and reject the one that is not."
    ) in page
    assert f"Deposit request {second.pk} was not approved: request {first.pk} (Pending)" in page
    assert "Approved" not in page.split('class="messagelist"')[1].split("</ul>")[0]
    assert (_status(first), _status(second)) == ("pending", "pending")
    assert (_balance(alice), _balance(bob)) == (Decimal(100), Decimal(0))
