"""Wallets, deposit requests and payments through the staff API: lists with filters, a wallet adjusted with a
note, deposits approved or rejected, each through billing.services with one audit entry, or a 400 that changes
nothing."""

from decimal import Decimal

import pytest

from backoffice.models import AuditEntry
from billing.models import DepositRequest, LedgerEntry, Payment, Wallet
from billing.services import wallet_credit
from tests.factories import DepositRequestFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def _ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def _audit(target) -> list[tuple[str, str, str]]:
    entries = AuditEntry.objects.filter(target_type=target._meta.label_lower, target_id=str(target.pk))
    return [(entry.action, entry.actor.username if entry.actor else "", entry.note) for entry in entries.order_by("pk")]


def test_it_lists_and_filters_wallets(finance, alice, bob, charlie):
    wallet_credit(user=bob, amount=Decimal(3))
    owing = Wallet.objects.get(user=charlie)
    # What a payment refunded after it was spent leaves behind (billing.payments.services.payment_reverse).
    Wallet.objects.filter(pk=owing.pk).update(debt=Decimal(5))
    rows = {row["customer_username"]: row for row in finance.get("wallets/").json()["results"]}
    assert (rows["alice"]["balance"], rows["bob"]["balance"], rows["charlie"]["debt"]) == (
        "100.00000", "3.00000", "5.00000"
    )  # fmt: skip
    assert _ids(finance.get("wallets/", {"owes": "true"})) == [owing.pk]
    assert _ids(finance.get("wallets/", {"customer": alice.pk})) == [alice.wallet.pk]
    assert finance.get(f"wallets/{alice.wallet.pk}/").json()["customer"] == alice.pk


def test_it_credits_a_wallet_with_a_note(finance, alice):
    response = finance.post(f"wallets/{alice.wallet.pk}/adjust/",
                            {"direction": "credit", "amount": "12.5", "note": "goodwill"})  # fmt: skip
    assert response.status_code == 200
    entry = response.json()
    assert (entry["kind"], entry["amount"], entry["balance_after"], entry["note"]) == (
        "adjustment", "12.50000", "112.50000", "goodwill"
    )  # fmt: skip
    assert LedgerEntry.objects.get(pk=entry["id"]).actor.username == "fred"
    assert _balance(alice) == Decimal("112.50000")
    assert _audit(alice.wallet) == [("wallet.credit", "fred", "goodwill")]


def test_it_debits_a_wallet_but_never_below_zero(finance, alice):
    path = f"wallets/{alice.wallet.pk}/adjust/"
    assert finance.post(path, {"direction": "debit", "amount": "40", "note": "chargeback"}).status_code == 200
    assert _balance(alice) == Decimal(60)
    response = finance.post(path, {"direction": "debit", "amount": "60.00001", "note": "too much"})
    assert response.status_code == 400 and response.json() == {"detail": "Not enough funds on balance"}
    assert _balance(alice) == Decimal(60)
    assert _audit(alice.wallet) == [("wallet.debit", "fred", "chargeback")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"direction": "credit", "amount": "0", "note": "x"}, "amount"),
        ({"direction": "credit", "amount": "-5", "note": "x"}, "amount"),
        ({"direction": "credit", "amount": "1.000001", "note": "x"}, "amount"),
        ({"direction": "credit", "amount": "NaN", "note": "x"}, "amount"),
        ({"direction": "credit", "amount": "1e30", "note": "x"}, "amount"),
        ({"direction": "sideways", "amount": "5", "note": "x"}, "direction"),
        ({"direction": "credit", "amount": "5", "note": ""}, "note"),
        ({"direction": "credit", "amount": "5"}, "note"),
    ],
)
def test_it_refuses_a_bad_adjustment_and_moves_nothing(finance, alice, body, field):
    response = finance.post(f"wallets/{alice.wallet.pk}/adjust/", body)
    assert response.status_code == 400
    assert list(response.json()["invalid"]) == [field]
    assert _balance(alice) == Decimal(100) and _audit(alice.wallet) == []


def test_it_lists_and_filters_deposit_requests(finance, alice, bob):
    pending = DepositRequestFactory.create(user=alice, reference="TX-1")
    rejected = DepositRequestFactory.create(user=bob, status=DepositRequest.Status.REJECTED, note="no")
    assert _ids(finance.get("deposits/")) == [rejected.pk, pending.pk]
    assert _ids(finance.get("deposits/", {"status": "pending"})) == [pending.pk]
    assert _ids(finance.get("deposits/", {"customer": bob.pk})) == [rejected.pk]
    assert _ids(finance.get("deposits/", {"reference": "tx-1"})) == [pending.pk]
    assert _ids(finance.get("deposits/", {"method": pending.method_id})) == [pending.pk]
    row = finance.get(f"deposits/{pending.pk}/").json()
    assert (row["customer_username"], row["amount"], row["reference"], row["status"]) == (
        "alice", "25.00000", "TX-1", "pending"
    )  # fmt: skip


def test_it_approves_a_deposit_once(finance, bob):
    deposit = DepositRequestFactory.create(user=bob, amount=Decimal(25))
    response = finance.post(f"deposits/{deposit.pk}/approve/")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["decided_by"]) == ("approved", DepositRequest.objects.get().decided_by_id)
    assert LedgerEntry.objects.get(pk=body["entry"]).amount == Decimal(25)
    again = finance.post(f"deposits/{deposit.pk}/approve/")
    assert again.status_code == 400
    assert again.json() == {"detail": f"Deposit request {deposit.pk} is already decided: nothing changed."}
    assert _balance(bob) == Decimal(25)
    assert [action for action, *_ in _audit(deposit)] == ["deposit.approve"]


def test_it_rejects_a_deposit_with_a_note(finance, bob):
    deposit = DepositRequestFactory.create(user=bob)
    assert finance.post(f"deposits/{deposit.pk}/reject/", {}).json()["invalid"] == {"note": ["This field is required."]}
    response = finance.post(f"deposits/{deposit.pk}/reject/", {"note": "Nothing arrived"})
    assert response.status_code == 200 and (response.json()["status"], response.json()["note"]) == (
        "rejected", "Nothing arrived"
    )  # fmt: skip
    assert finance.post(f"deposits/{deposit.pk}/approve/").status_code == 400
    assert finance.post(f"deposits/{deposit.pk}/reject/", {"note": "again"}).status_code == 400
    assert _balance(bob) == 0
    assert _audit(deposit) == [("deposit.reject", "fred", "Nothing arrived")]


def test_it_lists_and_filters_payments(finance, alice, bob):
    card = PaymentFactory.create(user=alice, client_secret="pi_123_secret_abc")
    failed = PaymentFactory.create(user=bob, state=Payment.State.FAILED, problem="card declined")
    assert _ids(finance.get("payments/")) == [failed.pk, card.pk]
    assert _ids(finance.get("payments/", {"state": "failed"})) == [failed.pk]
    assert _ids(finance.get("payments/", {"customer": alice.pk})) == [card.pk]
    assert _ids(finance.get("payments/", {"gateway": "stripe", "reference": card.reference})) == [card.pk]
    assert _ids(finance.get("payments/", {"gateway": "cryptomus"})) == []
    row = finance.get(f"payments/{failed.pk}/").json()
    assert (row["state"], row["problem"], row["amount"], row["currency"]) == ("failed", "card declined", "25.00000",
                                                                              "USD")  # fmt: skip


@pytest.mark.parametrize(
    "body",
    [
        b'{"direction": "credit\\ud83d", "amount": "5", "note": "goodwill"}',  # quoted back by "not a valid choice"
        b'{"direction": "credit", "amount": "5", "note": "good\\udfffwill"}',
        b"[" * 100_000,
    ],
    ids=["lone surrogate in a choice", "lone surrogate in the note", "nested too deeply"],
)
def test_a_body_no_text_can_hold_is_bad_json_and_changes_nothing(finance, alice, body):
    """JSON that decodes to something no UTF-8 text holds (a lone surrogate, escaped), or nests deeper than the
    decoder goes, is refused as bad JSON (it answered a 500: an answer quoting it could not be encoded)."""
    wallet = Wallet.objects.get(user=alice)
    answer = finance.client.post(
        f"/api/staff/v1/wallets/{wallet.pk}/adjust/", body, content_type="application/json", headers=finance.headers
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("JSON parse error")
    assert (_balance(alice), LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT).count()) == (Decimal(100), 0)
