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


@pytest.fixture
def methods():
    return PaymentMethodFactory.create(name="Bank"), PaymentMethodFactory.create(name="PayPal")


def test_it_accepts_one_request_per_payment_whoever_asks_and_however_it_is_typed(alice, bob, methods):
    bank, paypal = methods
    first = deposit_request_create(user=alice, method_id=bank.pk, amount="25", reference="BANK-TX-777")
    for user, reference in [
        (alice, "bank-tx-777"),
        (bob, "BANK-TX-777"),
        (bob, " bank-tx-777 "),
        (bob, "ＢＡＮＫ－ＴＸ－７７７"),
    ]:
        with pytest.raises(ApplicationError) as raised:
            deposit_request_create(user=user, method_id=bank.pk, amount="25", reference=reference)
        assert (raised.value.field, raised.value.message) == (
            "reference",
            "You already told us about a payment with this reference: it is waiting for us or already credited.",
        )
    other = deposit_request_create(user=bob, method_id=paypal.pk, amount="25", reference="BANK-TX-777")
    assert list(DepositRequest.objects.order_by("pk").values_list("pk", "reference")) == [
        (first.pk, "BANK-TX-777"), (other.pk, "BANK-TX-777"),
    ]  # fmt: skip


def test_it_keeps_what_the_customer_typed_for_display(alice, methods):
    deposit = deposit_request_create(user=alice, method_id=methods[0].pk, amount="25", reference="  Bank-TX-777 ")
    assert (deposit.reference, deposit.reference_key) == ("Bank-TX-777", "bank-tx-777")


def test_it_refuses_a_second_open_request_for_one_payment_in_the_database(alice, bob, methods):
    DepositRequestFactory.create(user=alice, method=methods[0], reference="BANK-TX-777")
    with pytest.raises(IntegrityError), transaction.atomic():
        DepositRequestFactory.create(user=bob, method=methods[0], reference="bank-tx-777")
    with pytest.raises(IntegrityError), transaction.atomic():
        DepositRequestFactory.create(user=bob, method=methods[0], reference="x", reference_key="")


def test_it_accepts_a_payment_again_once_its_request_was_rejected(alice, bob, methods, operator):
    rejected = deposit_request_create(user=alice, method_id=methods[0].pk, amount="25", reference="BANK-TX-777")
    deposit_reject(deposit_id=rejected.pk, actor=operator, note="Not received")
    again = deposit_request_create(user=bob, method_id=methods[0].pk, amount="25", reference="bank-tx-777")
    assert deposit_approve(deposit_id=again.pk, actor=operator) is True
    assert _balance(bob) == Decimal(25)


def test_it_refuses_to_approve_a_request_that_shares_its_payment(alice, bob, methods, operator):
    # Rows from before one payment allowed one open request: the rule itself is dropped for this test only.
    from django.db import connection

    constraint = next(c for c in DepositRequest._meta.constraints if c.name == "deposit_one_open_request_per_payment")
    with connection.schema_editor() as editor:
        editor.remove_constraint(DepositRequest, constraint)
    first = DepositRequestFactory.create(user=alice, method=methods[0], reference="BANK-TX-777")
    second = DepositRequestFactory.create(user=bob, method=methods[0], reference="bank-tx-777")
    with pytest.raises(ApplicationError) as raised:
        deposit_approve(deposit_id=second.pk, actor=operator)
    assert raised.value.message == (
        f"Deposit request {second.pk} was not approved: request {first.pk} (Pending) has the same method and "
        "reference, so they may be one payment. Check, and reject the one that is not."
    )
    assert deposit_reject(deposit_id=first.pk, actor=operator, note="Duplicate")
    assert deposit_approve(deposit_id=second.pk, actor=operator) is True
    assert (_balance(alice), _balance(bob)) == (Decimal(100), Decimal(25))


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_one_open_request_per_payment(migrate):
    apps = migrate([("billing", "0006_open_missing_wallets")])
    User, Wallet, LedgerEntry, Method, Deposit = (
        apps.get_model(*name.split("."))
        for name in ("accounts.User", "billing.Wallet", "billing.LedgerEntry", "billing.PaymentMethod",
                     "billing.DepositRequest")
    )  # fmt: skip
    alice, bob, charlie = (User.objects.create(username=name) for name in ("alice", "bob", "charlie"))
    bank, paypal = Method.objects.create(name="Bank"), Method.objects.create(name="PayPal")

    def approved(user, reference):
        wallet = Wallet.objects.create(user=user, balance=Decimal(25))
        entry = LedgerEntry.objects.create(wallet=wallet, kind="deposit", amount=Decimal(25), balance_after=25)
        return Deposit.objects.create(user=user, method=bank, amount=25, reference=reference, status="approved",
                                      entry=entry)  # fmt: skip

    def pending(user, reference, method=bank, status="pending"):
        return Deposit.objects.create(user=user, method=method, amount=25, reference=reference, status=status)

    first, credited_again = approved(alice, "BANK-TX-777"), approved(bob, "bank-tx-777")
    late, elsewhere = pending(alice, " BANK-TX-777"), pending(bob, "BANK-TX-777", method=paypal)
    earliest, duplicate, refused = (
        pending(charlie, "tx-1"),
        pending(charlie, "TX-1"),
        pending(charlie, "tx-1", status="rejected"),
    )

    after = migrate([("billing", "0007_deposit_one_open_request_per_payment")]).get_model("billing", "DepositRequest")
    rows = {d.pk: (d.status, d.reference_key, d.note) for d in after.objects.all()}
    note = "Another request was already about this payment (same method and reference)."
    assert rows == {
        first.pk: ("approved", "bank-tx-777", ""),
        credited_again.pk: ("approved", None, ""),
        late.pk: ("rejected", "bank-tx-777", note),
        elsewhere.pk: ("pending", "bank-tx-777", ""),
        earliest.pk: ("pending", "tx-1", ""),
        duplicate.pk: ("rejected", "tx-1", note),
        refused.pk: ("rejected", "tx-1", ""),
    }
    migrate([("billing", "0008_payments")])  # the code below is today's
    with pytest.raises(ApplicationError):
        deposit_request_create(
            user=UserFactory.create(username="dave"), method_id=bank.pk, amount="25", reference="Bank-Tx-777"
        )
