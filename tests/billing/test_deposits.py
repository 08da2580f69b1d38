"""Deposit requests: a customer's word that they paid, credited once when approved, or refused with a note."""

from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from billing.models import DepositRequest, LedgerEntry, Wallet
from billing.services import deposit_approve, deposit_reject, deposit_request_create
from panel.errors import ApplicationError
from tests.concurrency import run_together
from tests.factories import DepositRequestFactory, PaymentMethodFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator():
    return UserFactory.create(username="operator", is_staff=True)


@pytest.fixture
def deposit(alice):
    return DepositRequestFactory.create(user=alice, amount=Decimal("25.00000"), reference="TX-42")


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def _funds_page(user) -> str:
    client = Client()
    client.force_login(user)
    return client.get(reverse("funds")).content.decode()


def test_it_records_a_pending_request_without_moving_money(alice):
    method = PaymentMethodFactory.create(minimum=Decimal(10))
    created = deposit_request_create(user=alice, method_id=str(method.pk), amount="10", reference=" TX-1 ")
    assert (created.status, created.amount, created.reference, created.entry) == ("pending", Decimal(10), "TX-1", None)
    assert _balance(alice) == Decimal(100) and LedgerEntry.objects.count() == 1


def test_it_names_the_field_and_the_values_of_a_problem(alice):
    method = PaymentMethodFactory.create(name="Bank", minimum=Decimal(10))
    with pytest.raises(ApplicationError) as raised:
        deposit_request_create(user=alice, method_id=method.pk, amount="9", reference="TX-1")
    assert raised.value.field == "amount"
    assert raised.value.message == "The minimum with Bank is 10.00 USD."
    assert raised.value.template == "The minimum with %(method)s is %(minimum)s."


def test_it_credits_an_approved_request_once(alice, deposit, operator):
    assert deposit_approve(deposit_id=deposit.pk, actor=operator) is True
    assert deposit_approve(deposit_id=deposit.pk, actor=operator) is False
    assert _balance(alice) == Decimal(125)
    deposit.refresh_from_db()
    assert deposit.entry is not None
    assert (deposit.status, deposit.decided_by, deposit.entry.kind, deposit.entry.amount, deposit.entry.actor) == (
        "approved", operator, "deposit", Decimal(25), operator,
    )  # fmt: skip
    assert deposit.decided_at is not None
    assert LedgerEntry.objects.filter(kind="deposit", actor=operator).count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_credits_once_when_approvals_race(alice, operator):
    deposit = DepositRequestFactory.create(user=alice, amount=Decimal(25))
    results = run_together(lambda: deposit_approve(deposit_id=deposit.pk, actor=operator), 8)
    assert sorted(results, key=str) == [False] * 7 + [True]
    assert _balance(alice) == Decimal(125)
    assert LedgerEntry.objects.filter(kind="deposit", actor=operator).count() == 1


def test_it_shows_the_customer_why_a_request_was_rejected(alice, deposit, operator):
    assert deposit_reject(deposit_id=deposit.pk, actor=operator, note="  No payment with reference TX-42 arrived.  ")
    deposit.refresh_from_db()
    assert (deposit.status, deposit.note, deposit.decided_by, deposit.entry) == (
        "rejected", "No payment with reference TX-42 arrived.", operator, None,
    )  # fmt: skip
    page = _funds_page(alice)
    assert '<span class="badge bad">Rejected</span>' in page
    assert "No payment with reference TX-42 arrived." in page
    assert _balance(alice) == Decimal(100)


def test_it_credits_nothing_for_a_rejected_request(alice, deposit, operator):
    deposit_reject(deposit_id=deposit.pk, actor=operator, note="unknown payment")
    assert deposit_approve(deposit_id=deposit.pk, actor=operator) is False
    deposit.refresh_from_db()
    assert deposit.status == "rejected" and deposit.entry is None
    assert _balance(alice) == Decimal(100)
    assert '<span class="badge bad">Rejected</span>' in _funds_page(alice)


def test_it_keeps_an_approved_request_approved(alice, deposit, operator):
    deposit_approve(deposit_id=deposit.pk, actor=operator)
    assert deposit_reject(deposit_id=deposit.pk, actor=operator, note="too late") is False
    deposit.refresh_from_db()
    assert deposit.status == "approved" and deposit.note == ""
    assert _balance(alice) == Decimal(125)
    assert '<span class="badge ok">Approved</span>' in _funds_page(alice)


def test_it_approves_nothing_for_an_unknown_id(alice, operator):
    assert deposit_approve(deposit_id=999999, actor=operator) is False
    assert deposit_reject(deposit_id=999999, actor=operator, note="?") is False
    assert _balance(alice) == Decimal(100)


def test_it_keeps_approval_and_money_together_in_the_database(alice, deposit):
    entry = LedgerEntry.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        DepositRequest.objects.filter(pk=deposit.pk).update(status="approved")
    with pytest.raises(IntegrityError), transaction.atomic():
        DepositRequest.objects.filter(pk=deposit.pk).update(entry=entry)
    with pytest.raises(IntegrityError), transaction.atomic():
        DepositRequest.objects.filter(pk=deposit.pk).update(amount=Decimal(0))
