"""Wallets and the ledger on real Postgres: every movement recorded once, no balance ever below zero."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from billing.models import LedgerEntry, Wallet
from billing.services import (
    InsufficientFunds,
    InvalidAmount,
    ledger_mismatches,
    refund_issue,
    refunds_issue,
    wallet_credit,
    wallet_debit,
)
from tests.concurrency import run_together, start_in_thread

pytestmark = pytest.mark.django_db


def test_it_records_every_movement_with_the_balance_after(charlie):
    wallet_credit(user=charlie, amount=Decimal("10.5"), note="bank transfer")
    entry = wallet_debit(user=charlie, amount=Decimal("0.12345"), note="correction")
    assert (entry.kind, entry.amount, entry.balance_after) == ("adjustment", Decimal("-0.12345"), Decimal("10.37655"))
    assert Wallet.objects.get(user=charlie).balance == Decimal("10.37655")
    assert list(ledger_mismatches()) == []


def test_it_refuses_to_overdraw_and_changes_nothing(charlie):
    wallet_credit(user=charlie, amount=Decimal(1))
    with pytest.raises(InsufficientFunds, match="Not enough funds on balance"):
        wallet_debit(user=charlie, amount=Decimal("1.00001"))
    assert Wallet.objects.get(user=charlie).balance == Decimal(1) and LedgerEntry.objects.count() == 1


@pytest.mark.parametrize("amount", ["0", "-1", "0.000001", "NaN", "1e12", "1e30"])
def test_it_refuses_amounts_that_are_not_money(charlie, amount):
    with pytest.raises(InvalidAmount):
        wallet_credit(user=charlie, amount=Decimal(amount))
    assert not LedgerEntry.objects.exists()


def test_the_database_refuses_a_negative_balance(charlie):
    wallet_credit(user=charlie, amount=Decimal(1))
    with pytest.raises(IntegrityError), transaction.atomic():
        Wallet.objects.filter(user=charlie).update(balance=Decimal(-1))


def test_the_database_refuses_to_change_or_delete_a_ledger_entry(charlie):
    entry = wallet_credit(user=charlie, amount=Decimal(1))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=Decimal(100))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.ledger_mismatch_expected
def test_it_names_a_wallet_that_disagrees_with_its_ledger(charlie):
    wallet_credit(user=charlie, amount=Decimal(5))
    Wallet.objects.filter(user=charlie).update(balance=Decimal(7))
    (wallet,) = ledger_mismatches()
    assert wallet.user == charlie and wallet.total == Decimal(5)


@pytest.mark.django_db(transaction=True)
def test_concurrent_debits_never_overdraw(charlie):
    wallet_credit(user=charlie, amount=Decimal(10))

    def debit() -> str:
        try:
            wallet_debit(user=charlie, amount=Decimal(1))
            return "ok"
        except InsufficientFunds:
            return "refused"

    results = run_together(debit, 25)
    assert results.count("ok") == 10 and results.count("refused") == 15
    assert Wallet.objects.get(user=charlie).balance == 0
    assert list(ledger_mismatches()) == []


@pytest.mark.django_db(transaction=True)
def test_a_batch_refund_racing_another_refund_still_refunds_each_order_once(charlie, services):
    from orders.services.placement import order_place

    wallet_credit(user=charlie, amount=Decimal(10))
    first, second = (
        order_place(user=charlie, service_id=services[1].pk, params={"link": f"https://x.com/{i}", "quantity": "1000"})
        for i in range(2)
    )
    with transaction.atomic():
        # Another worker's refund of `first`, not committed yet when the batch looks.
        refund_issue(order=first, amount=first.charge)
        thread, errors = start_in_thread(
            lambda: refunds_issue(refunds=[(first, first.charge), (second, second.charge)])
        )
        thread.join(0.5)
    thread.join(10)
    assert errors == []
    assert LedgerEntry.objects.filter(kind="refund", order=first).count() == 1
    assert LedgerEntry.objects.filter(kind="refund", order=second).count() == 1
    assert Wallet.objects.get(user=charlie).balance == Decimal(10)
    assert list(ledger_mismatches()) == []
