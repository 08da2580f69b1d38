"""The Add funds page: the balance, how to pay, deposit requests and the ledger, each customer seeing only theirs."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from billing.models import DepositRequest, LedgerEntry, Wallet
from billing.services import wallet_credit, wallet_debit
from tests.factories import DepositRequestFactory, OrderFactory, PaymentMethodFactory

pytestmark = pytest.mark.django_db

FUNDS = reverse("funds")
HOSTILE = '<script>alert("x")</script>'
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"


@pytest.fixture
def bank(db):
    return PaymentMethodFactory.create(name="Bank transfer", instructions="IBAN XX00 1234\nMessage: your username")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _page(client: Client, **params: str) -> str:
    response = client.get(FUNDS, params)
    assert response.status_code == 200
    return response.content.decode()


def _field(page: str, name: str) -> str:
    """The HTML of the form field group that holds the input named `name`."""
    (group,) = [part for part in page.split('<div class="field')[1:] if f'name="{name}"' in part]
    return group


def _rows(page: str, heading_id: str) -> list[str]:
    """The body rows of the table that follows the heading with this id."""
    section = page.split(f'id="{heading_id}"', 1)[1].split("<h2", 1)[0]
    return re.findall(r"<tr>.*?</tr>", section.split("<tbody>", 1)[1], re.DOTALL) if "<tbody>" in section else []


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get(FUNDS)
    assert response.status_code == 302 and response["Location"] == f"/accounts/login/?next={FUNDS}"


def test_it_shows_the_balance_the_methods_and_the_form(alice, bank):
    page = _page(_client(alice))
    assert "100.00 USD" in page
    assert "Bank transfer" in page and "Minimum: 10.00 USD" in page
    assert '<div class="pre">IBAN XX00 1234\nMessage: your username</div>' in page
    for name, label in [("amount", "Amount"), ("method", "Payment method"), ("reference", "Payment reference")]:
        assert re.search(rf'<label for="id_{name}">{label}', _field(page, name))
    assert f'<option value="{bank.pk}">Bank transfer (at least 10.00 USD)</option>' in page


def test_it_offers_only_active_methods_in_their_order(alice):
    PaymentMethodFactory.create(name="Crypto", position=2)
    PaymentMethodFactory.create(name="Retired", is_active=False)
    PaymentMethodFactory.create(name="Bank", position=1)
    page = _page(_client(alice))
    assert "Retired" not in page
    assert page.index("Bank") < page.index("Crypto")


def test_it_says_when_there_is_nothing_yet(bob):
    page = _page(_client(bob))
    assert "No payment methods yet — contact support." in page and 'name="amount"' not in page
    assert "No deposit requests yet." in page
    assert "No movements yet." in page


def test_it_records_a_deposit_request_and_says_so(alice, bank):
    client = _client(alice)
    response = client.post(FUNDS, {"amount": " 25.5 ", "method": str(bank.pk), "reference": "  TX-42  "})
    assert response.status_code == 302 and response["Location"] == FUNDS
    page = _page(client)
    assert "Thank you: your deposit of 25.50 USD is waiting for our check." in page
    deposit = DepositRequest.objects.get()
    assert (deposit.user, deposit.method, deposit.amount, deposit.reference, deposit.status) == (
        alice, bank, Decimal("25.50000"), "TX-42", "pending",
    )  # fmt: skip
    (row,) = _rows(page, "deposits")
    assert "Bank transfer" in row and "25.50 USD" in row and "TX-42" in row
    assert '<span class="badge warn">Pending</span>' in row
    assert Wallet.objects.get(user=alice).balance == Decimal(100)


def test_a_form_sent_twice_asks_once_and_a_rejected_reference_can_be_sent_again(alice, bank, admin_user):
    from billing.services import deposit_reject

    client = _client(alice)
    form = {"amount": "25", "method": str(bank.pk), "reference": "TX-7"}
    assert client.post(FUNDS, form).status_code == 302
    again = client.post(FUNDS, form)
    assert again.status_code == 200 and "You already told us about a payment" in again.content.decode()
    assert DepositRequest.objects.count() == 1
    deposit_reject(deposit_id=DepositRequest.objects.get().pk, actor=admin_user, note="Not received")
    assert client.post(FUNDS, form).status_code == 302
    assert DepositRequest.objects.filter(status="pending").count() == 1


@pytest.mark.parametrize(
    ("form", "field", "error"),
    [
        ({"amount": "ten"}, "amount", "Enter the amount as a number, like 25 or 25.50."),
        ({"amount": "1,000"}, "amount", "Enter the amount as a number, like 25 or 25.50."),
        ({"amount": "NaN"}, "amount", "Enter the amount as a number, like 25 or 25.50."),
        ({"amount": "Infinity"}, "amount", "Enter the amount as a number, like 25 or 25.50."),
        ({"amount": "1e3"}, "amount", "Enter the amount as a number, like 25 or 25.50."),
        ({"amount": ""}, "amount", "Enter the amount as a number, like 25 or 25.50."),
        ({"amount": "0"}, "amount", "The amount must be a positive number."),
        ({"amount": "-50"}, "amount", "The amount must be a positive number."),
        ({"amount": "10.000001"}, "amount", "The amount can have at most 5 decimal places."),
        ({"amount": "1000000000000"}, "amount", "The amount is too large."),
        ({"amount": "9.99999"}, "amount", "The minimum with Bank transfer is 10.00 USD."),
        ({"method": ""}, "method", "Choose one of the payment methods."),
        ({"method": "999999"}, "method", "Choose one of the payment methods."),
        ({"method": "1_0"}, "method", "Choose one of the payment methods."),
        ({"method": "inactive"}, "method", "Choose one of the payment methods."),
        ({"reference": "   "}, "reference", "Enter the reference of your payment, so that we can find it."),
        ({"reference": "x" * 201}, "reference", "The reference can be at most 200 characters long."),
    ],
)
def test_it_shows_the_problem_next_to_its_field_and_records_nothing(alice, bank, form, field, error):
    if form.get("method") == "inactive":
        form["method"] = str(PaymentMethodFactory.create(is_active=False).pk)
    data = {"amount": "25", "method": str(bank.pk), "reference": "TX-42", **form}
    response = _client(alice).post(FUNDS, data)
    assert response.status_code == 200
    page = response.content.decode()
    group = _field(page, field)
    assert group.startswith(' invalid"') and f"<li>{error}</li>" in group
    assert page.count('class="errorlist') == 1
    assert not DepositRequest.objects.exists()
    assert Wallet.objects.get(user=alice).balance == Decimal(100)


def test_it_keeps_what_was_typed_when_it_shows_a_problem(alice, bank):
    response = _client(alice).post(FUNDS, {"amount": "5", "method": str(bank.pk), "reference": "TX-42"})
    page = response.content.decode()
    assert 'value="5"' in _field(page, "amount") and 'value="TX-42"' in _field(page, "reference")
    assert f'<option value="{bank.pk}" selected>' in page


def test_it_refuses_a_post_without_the_csrf_token(alice, bank):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(FUNDS, {"amount": "25", "method": str(bank.pk), "reference": "TX-42"})
    assert response.status_code == 403
    assert not DepositRequest.objects.exists()
    assert 'name="csrfmiddlewaretoken"' in _page(client)


def test_it_escapes_what_customers_and_operators_wrote(alice):
    method = PaymentMethodFactory.create(name=HOSTILE, instructions=HOSTILE)
    DepositRequestFactory.create(user=alice, method=method, reference=HOSTILE, note=HOSTILE)
    wallet_credit(user=alice, amount=Decimal(1), note=HOSTILE)
    page = _page(_client(alice))
    assert "<script>alert" not in page
    assert page.count(ESCAPED) >= 6  # name (twice), instructions, reference, note, ledger note


def test_it_shows_each_customer_only_their_own_requests_and_ledger(alice, bob, bank):
    DepositRequestFactory.create(user=alice, method=bank, reference="ALICE-REF")
    wallet_credit(user=alice, amount=Decimal(1), note="alice goodwill")
    DepositRequestFactory.create(user=bob, method=bank, reference="BOB-REF")
    page = _page(_client(bob))
    assert "ALICE-REF" not in page and "alice goodwill" not in page
    assert "BOB-REF" in page and "No movements yet." in page and "0.00 USD" in page


def test_it_shows_each_movement_signed_with_its_balance_after_and_order(alice):
    order = OrderFactory.create(user=alice)
    wallet_debit(user=alice, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    charge, deposit = _rows(_page(_client(alice)), "history")
    assert "Charge" in charge and "-1.50" in charge and "98.50" in charge and f"#{order.pk}" in charge
    assert "Deposit" in deposit and "+100.00" in deposit and "#" not in deposit


def test_it_describes_an_approved_deposit_in_the_ledger(alice, admin_user, bank):
    from billing.services import deposit_approve

    deposit = DepositRequestFactory.create(user=alice, method=bank, reference="TX-42")
    deposit_approve(deposit_id=deposit.pk, actor=admin_user)
    newest = _rows(_page(_client(alice)), "history")[0]
    assert "Deposit" in newest and "+25.00" in newest and "Bank transfer, reference TX-42" in newest


def test_it_shows_dates_in_the_customers_time_zone(alice, bank):
    alice.time_zone = "Asia/Tokyo"
    alice.save()
    deposit = DepositRequestFactory.create(user=alice, method=bank)
    DepositRequest.objects.filter(pk=deposit.pk).update(created_at=datetime(2026, 3, 1, 15, 30, tzinfo=UTC))
    (row,) = _rows(_page(_client(alice)), "deposits")
    assert "03/02/2026 12:30 a.m." in row


def test_it_pages_the_ledger_25_at_a_time(alice):
    for n in range(1, 30):
        wallet_credit(user=alice, amount=Decimal(1), note=f"credit {n}")
    client = _client(alice)
    first = _page(client)
    assert len(_rows(first, "history")) == 25 and "credit 29" in first and "credit 4<" not in first
    assert "Page 1 of 2" in first and 'href="?page=2#history"' in first and "?page=0" not in first
    second = _page(client, page="2")
    assert len(_rows(second, "history")) == 5 and "credit 4<" in second and "Page 2 of 2" in second
    assert 'href="?page=1#history"' in second and "?page=3" not in second
    assert _rows(_page(client, page="x"), "history") == _rows(first, "history")
    assert _rows(_page(client, page="99"), "history") == _rows(second, "history")


def _queries_for_page(user) -> int:
    client = _client(user)
    with CaptureQueriesContext(connection) as queries:
        _page(client)
    return len(queries)


def test_it_reads_the_page_in_the_same_number_of_queries_whatever_the_rows(alice, bob, bank, admin_user):
    from billing.services import deposit_approve

    DepositRequestFactory.create(user=bob, method=bank)
    wallet_credit(user=bob, amount=Decimal(1))
    few = _queries_for_page(bob)

    other = PaymentMethodFactory.create(name="Crypto")
    for n in range(30):
        deposit = DepositRequestFactory.create(user=alice, method=bank if n % 2 else other)
        if n % 3 == 0:
            deposit_approve(deposit_id=deposit.pk, actor=admin_user)
        order = OrderFactory.create(user=alice)
        wallet_debit(user=alice, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    assert _queries_for_page(alice) == few
