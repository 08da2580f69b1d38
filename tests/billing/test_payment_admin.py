"""Payment methods with gateways, payments, refunds and debts in Django admin; add_payment_method for scripts."""

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from stripe import StripeClient

from billing.models import LedgerEntry, Payment, PaymentMethod, PaymentReversal, Wallet
from billing.payments.services import payment_check, payment_credit, payment_reverse, payment_start
from billing.services import wallet_credit, wallet_debit
from tests.factories import PaymentFactory, StripeMethodFactory, UserFactory, second_factor_confirmed

pytestmark = pytest.mark.django_db

ADD = reverse("admin:billing_paymentmethod_add")
PAYMENTS = reverse("admin:billing_payment_changelist")
REVERSALS = reverse("admin:billing_paymentreversal_changelist")
SECRET, WEBHOOK_SECRET = "sk_live_51SECRETxyzSECRET", "whsec_SIGNINGsecret123"


def _urls(payment: Payment) -> tuple[str, str]:
    return "https://panel.test/return", "https://panel.test/webhook"


def _method_form(**changes: str) -> dict[str, str]:
    form = {
        "name": "Card", "gateway": "stripe", "minimum": "5", "maximum": "1000", "fee_percent": "2.9",
        "bonus_percent": "5", "bonus_minimum": "100", "is_active": "on", "position": "0",
        "stripe_secret_key": SECRET, "stripe_publishable_key": "pk_live_PUBLIC",
        "stripe_webhook_secret": WEBHOOK_SECRET,
    }  # fmt: skip
    return {**form, **changes}


def test_an_operator_adds_a_stripe_method_whose_secrets_are_never_shown_again(admin_client):
    assert admin_client.post(ADD, _method_form()).status_code == 302
    method = PaymentMethod.objects.get()
    assert method.credentials == {"secret_key": SECRET, "publishable_key": "pk_live_PUBLIC",
                                  "webhook_secret": WEBHOOK_SECRET}  # fmt: skip
    assert (method.fee_percent, method.bonus_percent, method.maximum) == (Decimal("2.9"), 5, 1000)
    change = reverse("admin:billing_paymentmethod_change", args=[method.pk])
    page = admin_client.get(change).content.decode()
    assert SECRET not in page and WEBHOOK_SECRET not in page and SECRET[-6:] not in page
    assert "sk_l…ET" in page and "pk_live_PUBLIC" in page and "/payments/stripe/webhook/" in page
    # Saving again with the secrets left blank keeps them; a new one typed replaces it.
    blank = _method_form(stripe_secret_key="", stripe_webhook_secret="", name="Cards")
    assert admin_client.post(change, blank).status_code == 302
    method.refresh_from_db()
    assert (method.name, method.credentials["secret_key"], method.credentials["webhook_secret"]) == (
        "Cards",
        SECRET,
        WEBHOOK_SECRET,
    )
    assert admin_client.post(change, _method_form(stripe_webhook_secret="whsec_new")).status_code == 302
    method.refresh_from_db()
    assert method.credentials["webhook_secret"] == "whsec_new"


def test_a_method_missing_a_credential_or_with_bad_limits_is_not_saved(admin_client):
    page = admin_client.post(ADD, _method_form(stripe_webhook_secret="")).content.decode()
    assert "Enter the Webhook signing secret of this stripe account." in page
    page = admin_client.post(ADD, _method_form(minimum="50", maximum="10")).content.decode()
    assert "errorlist" in page
    page = admin_client.post(ADD, _method_form(fee_percent="100")).content.decode()
    assert "errorlist" in page
    assert not PaymentMethod.objects.exists()


def test_a_method_with_payments_keeps_its_gateway(admin_client):
    method = StripeMethodFactory.create()
    PaymentFactory.create(method=method)
    change = reverse("admin:billing_paymentmethod_change", args=[method.pk])
    page = admin_client.post(change, _method_form(gateway="cryptomus", cryptomus_merchant_id="m",
                                                  cryptomus_payment_key="k")).content.decode()  # fmt: skip
    assert "This method has payments: add a new method for another gateway." in page
    method.refresh_from_db()
    assert method.gateway == "stripe"


def test_payments_are_listed_filtered_and_searched_and_never_edited(admin_client, alice, bob):
    paid = PaymentFactory.create(user=alice, reference="pi_alice")
    payment_credit(payment_id=paid.pk)
    PaymentFactory.create(user=bob, reference="pi_bob")
    listed = admin_client.get(PAYMENTS, {"state__exact": "succeeded"}).context["cl"].result_list
    assert [p.reference for p in listed] == ["pi_alice"]
    assert [p.reference for p in admin_client.get(PAYMENTS, {"q": "pi_bob"}).context["cl"].result_list] == ["pi_bob"]
    assert [p.reference for p in admin_client.get(PAYMENTS, {"q": "bob"}).context["cl"].result_list] == ["pi_bob"]
    change = admin_client.get(reverse("admin:billing_payment_change", args=[paid.pk])).content.decode()
    assert 'type="submit" value="Save"' not in change


def _staff(*permissions: str) -> Client:
    user = UserFactory.create(username="sam", is_staff=True)
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    second_factor_confirmed(client, user)
    return client


def _actions(client: Client, url: str) -> list[str]:
    form = client.get(url).context["action_form"]
    return [] if form is None else [name for name, _ in form.fields["action"].choices if name]


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [
        (("view_payment",), []),
        (("view_payment", "refund_payment"), ["refund"]),
        (("view_payment", "change_payment"), ["check_now"]),
    ],
)
def test_only_staff_allowed_to_refund_or_ask_the_gateway_see_those_actions(permissions, allowed):
    assert [a for a in _actions(_staff(*permissions), PAYMENTS) if a in ("refund", "check_now")] == allowed


@pytest.mark.parametrize(
    ("permissions", "allowed"),
    [(("view_paymentreversal",), []), (("view_paymentreversal", "settle_debt"), ["collect", "write_off"])],
)
def test_only_staff_allowed_to_settle_debts_see_those_actions(permissions, allowed):
    assert [a for a in _actions(_staff(*permissions), REVERSALS) if a in ("collect", "write_off")] == allowed


def test_an_operator_collects_a_debt_then_writes_off_the_rest(admin_client, admin_user, bob):
    payment = PaymentFactory.create(user=bob, amount=Decimal(50))
    payment_credit(payment_id=payment.pk)
    wallet_debit(user=bob, amount=Decimal(40), note="spent")
    payment_reverse(payment_id=payment.pk, kind="dispute", reference="dp_1", amount=Decimal(50))
    assert Wallet.objects.get(user=bob).debt == Decimal(40)
    listed = admin_client.get(REVERSALS, {"debt": "open"}).context["cl"].result_list
    assert [r.reference for r in listed] == ["dp_1"]
    wallet_credit(user=bob, amount=Decimal(15))
    reversal = PaymentReversal.objects.get()
    selection = {"_selected_action": [str(reversal.pk)]}
    response = admin_client.post(REVERSALS, {"action": "collect", **selection}, follow=True)
    assert [str(m) for m in response.context["messages"]] == ["bob: collected 15.00000 USD, 25.00000 still owed."]
    admin_client.post(REVERSALS, {"action": "write_off", "apply": "1", "note": "paid by wire", **selection})
    wallet = Wallet.objects.get(user=bob)
    assert (wallet.balance, wallet.debt) == (0, 0)
    reversal.refresh_from_db()
    assert (reversal.collected, reversal.settlement_note, reversal.settled_by) == (15, "paid by wire", admin_user)
    assert list(LedgerEntry.objects.filter(payment=payment).order_by("pk").values_list("kind", "amount")) == [
        ("deposit", Decimal(50)), ("reversal", Decimal(-10)), ("reversal", Decimal(-15))
    ]  # fmt: skip


# add_payment_method ---------------------------------------------------------------------------------------------


def _add(*args: str) -> list[str]:
    out = StringIO()
    call_command("add_payment_method", *args, stdout=out)
    return out.getvalue().splitlines()


def test_add_payment_method_adds_a_stripe_method_and_prints_its_id_last():
    lines = _add("Card", "--gateway", "stripe", "--secret-key", "sk_test_K", "--publishable-key", "pk_test_P",
                 "--webhook-secret", "whsec_S", "--fee-percent", "3", "--bonus-percent", "10", "--bonus-minimum", "50",
                 "--minimum", "5", "--maximum", "500")  # fmt: skip
    method = PaymentMethod.objects.get(pk=int(lines[-1]))
    assert (method.name, method.gateway, method.fee_percent, method.bonus_percent) == ("Card", "stripe", 3, 10)
    assert method.credentials == {
        "secret_key": "sk_test_K",
        "publishable_key": "pk_test_P",
        "webhook_secret": "whsec_S",
    }
    assert "sk_test_K" not in "\n".join(lines)


def test_add_payment_method_takes_the_crypto_gateways_own_flags_and_manual_methods():
    crypto = PaymentMethod.objects.get(pk=int(_add("USDT", "--gateway", "cryptomus", "--merchant-id", "m-1",
                                                   "--payment-key", "key-2")[-1]))  # fmt: skip
    assert crypto.credentials == {"merchant_id": "m-1", "payment_key": "key-2"}
    manual = PaymentMethod.objects.get(pk=int(_add("Bank", "--instructions", "IBAN XX")[-1]))
    assert (manual.gateway, manual.credentials, manual.instructions) == ("manual", {}, "IBAN XX")


@pytest.mark.parametrize(
    "args",
    [
        ["Card", "--gateway", "stripe", "--secret-key", "sk_test_K"],
        [
            "Card",
            "--gateway",
            "stripe",
            "--secret-key",
            "k",
            "--publishable-key",
            "p",
            "--webhook-secret",
            "s",
            "--fee-percent",
            "x",
        ],
        ["Card", "--minimum", "10", "--maximum", "5"],
        ["", "--instructions", "x"],
    ],
    ids=["missing keys", "not a number", "maximum below minimum", "no name"],
)
def test_add_payment_method_refuses_what_is_wrong_and_adds_nothing(args):
    with pytest.raises(CommandError):
        _add(*args)
    assert not PaymentMethod.objects.exists()
    assert not Payment.objects.exists()


def test_an_operator_refunds_a_card_payment_through_stripe_recorded_with_their_name(
    admin_client, admin_user, alice, stripe_settings
):
    method = StripeMethodFactory.create()
    payment = payment_start(user=alice, method_id=method.pk, amount="30", urls=_urls)
    stripe = StripeClient(method.credentials["secret_key"], base_addresses={"api": stripe_settings.url})
    stripe.v1.payment_intents.confirm(payment.reference, params={"payment_method": "pm_card_visa"})
    assert payment_check(payment_id=payment.pk) == "credited"
    selection = {"_selected_action": [str(payment.pk)], "action": "refund"}
    assert "Refund a payment" in admin_client.post(PAYMENTS, selection).content.decode()

    response = admin_client.post(PAYMENTS, {**selection, "apply": "1", "amount": "10"}, follow=True)

    assert [str(m) for m in response.context["messages"]] == [
        f"Payment {payment.pk}: refunded 10 USD; 10.00000 taken from the wallet."
    ]
    refunds = stripe.v1.refunds.list(params={"payment_intent": payment.reference}).data
    assert [r.amount for r in refunds] == [1000]
    reversal = PaymentReversal.objects.get(payment=payment)
    assert (reversal.reference, reversal.actor, reversal.taken) == (refunds[0].id, admin_user, Decimal(10))
    assert Wallet.objects.get(user=alice).balance == Decimal(120)


def test_check_payments_credits_what_was_paid_but_never_notified(alice, stripe_settings):
    method = StripeMethodFactory.create()
    paid, unpaid = (payment_start(user=alice, method_id=method.pk, amount="20", urls=_urls) for _ in range(2))
    stripe = StripeClient(method.credentials["secret_key"], base_addresses={"api": stripe_settings.url})
    stripe.v1.payment_intents.confirm(paid.reference, params={"payment_method": "pm_card_visa"})
    out = StringIO()
    call_command("check_payments", "--older-than", "0", stdout=out)
    assert out.getvalue().strip() == "Credited 1 payment(s)."
    states = dict(Payment.objects.values_list("pk", "state"))
    assert (states[paid.pk], states[unpaid.pk]) == ("succeeded", "pending")
    assert Wallet.objects.get(user=alice).balance == Decimal(120)


def test_check_payments_expires_what_stays_unpaid_and_asks_the_least_recently_asked_first(alice, stripe_settings):
    method = StripeMethodFactory.create()
    old, new = (payment_start(user=alice, method_id=method.pk, amount="20", urls=_urls) for _ in range(2))
    Payment.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=73))
    call_command("check_payments", "--older-than", "0", stdout=StringIO())
    old.refresh_from_db()
    new.refresh_from_db()
    assert (old.state, new.state) == ("failed", "pending")
    assert "Not paid within 72 hours: expired" in old.problem
    # Paid after all: the gateway's word still credits it.
    stripe = StripeClient(method.credentials["secret_key"], base_addresses={"api": stripe_settings.url})
    stripe.v1.payment_intents.confirm(old.reference, params={"payment_method": "pm_card_visa"})
    assert payment_check(payment_id=old.pk) == "credited"
    asked = Payment.objects.get(pk=new.pk).updated_at
    assert asked > new.created_at, "asked payments go to the back of the queue"
