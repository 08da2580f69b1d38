"""Wallets and the ledger in Django admin: read-only pages, and credits or debits only through the audited action."""

from decimal import Decimal
from uuid import uuid4

import pytest
from django.contrib.auth.models import Permission
from django.http import HttpResponseBase
from django.test import Client
from django.urls import reverse

from accounts.models import User
from backoffice.models import AuditEntry
from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches, wallet_credit, wallet_debit
from tests.factories import OrderFactory, second_factor_confirmed

# The pages below show alice's one ledger entry, her 10.00000 from a bank transfer.
pytestmark = [pytest.mark.django_db, pytest.mark.alice_balance(Decimal(10), note="bank transfer")]

HOSTILE = '<script>alert("x")</script>'
WALLETS = reverse("admin:billing_wallet_changelist")
LEDGER = reverse("admin:billing_ledgerentry_changelist")


def _adjust(client: Client, user: User, **form: str) -> HttpResponseBase:
    selection = {"action": "adjust", "_selected_action": [str(Wallet.objects.get(user=user).pk)]}
    return client.post(WALLETS, {**selection, "apply": "1", "once": uuid4().hex, **form}, follow=True)


def _balance(user: User) -> Decimal:
    return Wallet.objects.get(user=user).balance


def test_it_lists_wallets_and_searches_them(admin_client, alice, bob):
    wallet_credit(user=bob, amount=Decimal(1))
    page = admin_client.get(WALLETS).content.decode()
    assert "alice" in page and "10.00000" in page and "bob" in page
    page = admin_client.get(WALLETS, {"q": "example.org"}).content.decode()
    assert "bob" in page and "alice" not in page


def test_it_lists_the_ledger_with_a_link_to_the_order(admin_client, alice):
    order = OrderFactory(user=alice)
    wallet_debit(user=alice, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    page = admin_client.get(LEDGER).content.decode()
    assert "bank transfer" in page and "-1.50000" in page and "8.50000" in page
    assert f'<a href="{reverse("admin:orders_order_change", args=[order.pk])}">{order.pk}</a>' in page


def test_it_searches_the_ledger_by_order_id_username_and_note(admin_client, alice, bob):
    wallet_credit(user=bob, amount=Decimal(1))
    order = OrderFactory(user=bob, charge=Decimal("0.5"))
    wallet_debit(user=bob, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
    found = admin_client.get(LEDGER, {"q": str(order.pk)}).context["cl"].result_list
    assert [entry.kind for entry in found] == ["charge"]
    found = admin_client.get(LEDGER, {"q": "alice"}).context["cl"].result_list
    assert [entry.note for entry in found] == ["bank transfer"]
    found = admin_client.get(LEDGER, {"q": "transfer"}).context["cl"].result_list
    assert [entry.wallet.user for entry in found] == [alice]


def test_it_filters_the_ledger_by_kind(admin_client, alice):
    wallet_debit(user=alice, amount=Decimal(1), note="fee")
    found = admin_client.get(LEDGER, {"kind__exact": "adjustment"}).context["cl"].result_list
    assert [entry.note for entry in found] == ["fee"]


def test_it_escapes_a_hostile_note(admin_client, alice):
    entry = wallet_credit(user=alice, amount=Decimal(1), note=HOSTILE)
    for url in (LEDGER, reverse("admin:billing_ledgerentry_change", args=[entry.pk])):
        response = admin_client.get(url)
        page = response.content.decode()
        assert response.status_code == 200
        assert "<script>alert" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page


@pytest.mark.parametrize("model", ["wallet", "ledgerentry"])
def test_it_refuses_to_add_edit_or_delete(admin_client, alice, model):
    pk = Wallet.objects.get(user=alice).pk if model == "wallet" else LedgerEntry.objects.get().pk
    assert admin_client.get(reverse(f"admin:billing_{model}_add")).status_code == 403
    change = admin_client.post(reverse(f"admin:billing_{model}_change", args=[pk]), {"balance": "1000"})
    assert change.status_code == 403
    assert admin_client.post(reverse(f"admin:billing_{model}_delete", args=[pk]), {"post": "yes"}).status_code == 403
    assert "delete_selected" not in admin_client.get(reverse(f"admin:billing_{model}_changelist")).content.decode()
    assert _balance(alice) == Decimal(10) and LedgerEntry.objects.count() == 1


def test_it_asks_for_the_adjustment_on_an_intermediate_page(admin_client, alice):
    wallet = Wallet.objects.get(user=alice)
    response = admin_client.post(WALLETS, {"action": "adjust", "_selected_action": [str(wallet.pk)]})
    page = response.content.decode()
    assert response.status_code == 200
    assert "Credit or debit a wallet" in page and "balance 10.00000" in page and 'name="note"' in page
    assert LedgerEntry.objects.count() == 1


def test_it_credits_with_a_note_and_records_who_did_it(admin_client, admin_user, alice):
    response = _adjust(admin_client, alice, direction="credit", amount="2.5", note="goodwill for a late order")
    assert "Wallet of alice: +2.50000 USD, balance now 12.50000." in response.content.decode()
    entry = LedgerEntry.objects.first()
    assert entry is not None
    assert (entry.kind, entry.amount, entry.actor, entry.note) == (
        "adjustment", Decimal("2.50000"), admin_user, "goodwill for a late order",
    )  # fmt: skip
    assert _balance(alice) == Decimal("12.50000")
    assert list(ledger_mismatches()) == []


def test_it_debits_with_a_note(admin_client, admin_user, alice):
    response = _adjust(admin_client, alice, direction="debit", amount="0.00001", note="chargeback")
    assert "Wallet of alice: -0.00001 USD, balance now 9.99999." in response.content.decode()
    assert LedgerEntry.objects.filter(actor=admin_user, amount=Decimal("-0.00001"), note="chargeback").exists()
    assert list(ledger_mismatches()) == []


def _confirmation(client: Client, user: User) -> dict[str, object]:
    """The adjustment's confirmation form as its page hands it out: with the one-time token made for it."""
    selection = {"action": "adjust", "_selected_action": [str(Wallet.objects.get(user=user).pk)]}
    page = client.post(WALLETS, selection)
    return {**selection, "apply": "1", "once": page.context["form"]["once"].value()}


def test_the_same_adjustment_form_sent_twice_moves_the_money_once(admin_client, alice):
    form = {**_confirmation(admin_client, alice), "direction": "credit", "amount": "2.5", "note": "goodwill"}
    first = admin_client.post(WALLETS, form, follow=True).content.decode()
    again = admin_client.post(WALLETS, form, follow=True).content.decode()
    assert "balance now 12.50000" in first
    assert "Wallet of alice: This form was sent already; the first sending was recorded." in again
    assert _balance(alice) == Decimal("12.50000")
    assert LedgerEntry.objects.filter(kind="adjustment").count() == 1
    assert AuditEntry.objects.filter(action="wallet.credit").count() == 1
    assert ledger_mismatches() == []

    # The page shown again is a new form: it moves money again.
    fresh = {**_confirmation(admin_client, alice), "direction": "debit", "amount": "1", "note": "typo"}
    assert fresh["once"] != form["once"]
    admin_client.post(WALLETS, fresh)
    assert _balance(alice) == Decimal("11.50000")


@pytest.mark.parametrize(
    "once",
    ["", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0", "0123456789ABCDEF0123456789ABCDEF",
     " 0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdeg", "０123456789abcdef0123456789abcde"],
)  # fmt: skip
def test_it_refuses_a_damaged_form_token(admin_client, alice, once):
    form = {**_confirmation(admin_client, alice), "once": once, "direction": "credit", "amount": "1", "note": "x"}
    response = admin_client.post(WALLETS, form)
    assert response.status_code == 200
    assert "This form is damaged: go back to the list and start the action again." in response.content.decode()
    assert _balance(alice) == Decimal(10) and LedgerEntry.objects.count() == 1


def test_it_refuses_a_debit_beyond_the_balance(admin_client, alice):
    response = _adjust(admin_client, alice, direction="debit", amount="10.00001", note="chargeback")
    assert "Wallet of alice: Not enough funds on balance" in response.content.decode()
    assert _balance(alice) == Decimal(10) and LedgerEntry.objects.count() == 1
    assert list(ledger_mismatches()) == []


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("0", "The amount must be a positive number."),
        ("-5", "The amount must be a positive number."),
        ("0.000001", "Ensure that there are no more than 5 decimal places."),
        ("ten", "Enter a number."),
        ("", "This field is required."),
    ],
)
def test_it_refuses_a_bad_amount(admin_client, alice, amount, error):
    response = _adjust(admin_client, alice, direction="credit", amount=amount, note="typo")
    assert error in response.content.decode()
    assert _balance(alice) == Decimal(10) and LedgerEntry.objects.count() == 1


def test_it_requires_a_note(admin_client, alice):
    response = _adjust(admin_client, alice, direction="credit", amount="1", note="   ")
    assert "This field is required." in response.content.decode()
    assert LedgerEntry.objects.count() == 1


def test_it_adjusts_one_wallet_at_a_time(admin_client, alice, bob):
    wallet_credit(user=bob, amount=Decimal(1))
    selection = [str(w.pk) for w in Wallet.objects.all()]
    response = admin_client.post(
        WALLETS,
        {"action": "adjust", "_selected_action": selection, "apply": "1", "direction": "credit", "amount": "1",
         "note": "both"},
        follow=True,
    )  # fmt: skip
    assert "Select exactly one wallet to credit or debit." in response.content.decode()
    assert (_balance(alice), _balance(bob)) == (Decimal(10), Decimal(1))


def test_it_lets_staff_who_may_only_view_wallets_move_no_money(client, alice, charlie):
    charlie.is_staff = True
    charlie.save(update_fields=["is_staff"])
    charlie.user_permissions.add(*Permission.objects.filter(codename__in=["view_wallet", "view_ledgerentry"]))
    client.force_login(charlie)
    second_factor_confirmed(client, charlie)
    assert "Credit or debit with a note" not in client.get(WALLETS).content.decode()
    assert _adjust(client, alice, direction="credit", amount="100", note="for me").status_code == 200
    assert _balance(alice) == Decimal(10) and LedgerEntry.objects.count() == 1
