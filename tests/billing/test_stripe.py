"""Card payments through Stripe, against localstripe as a real process: what reaches Stripe, what its signed
webhooks and our own checks credit (exactly once, whatever the order or the races), what we refuse, and refunds and
disputes taking the money back."""

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

import pytest
import requests
import stripe
from django.db import DatabaseError
from django.test import Client

from billing.models import LedgerEntry, Payment, PaymentReversal, Wallet
from billing.payments import services
from billing.payments.services import (
    Outcome,
    PaymentError,
    RefundRefused,
    payment_check,
    payment_refund,
    payment_start,
)
from billing.payments.stripe import _gateway_error
from billing.services import AccountOnHold, wallet_debit
from orders.services.placement import order_place
from tests.billing.conftest import LocalStripe
from tests.billing.stripe_events import (
    charge_dispute_created,
    charge_refunded,
    payment_intent_canceled,
    payment_intent_payment_failed,
    payment_intent_succeeded,
    refund,
    refund_event,
    sign_event,
)
from tests.concurrency import run_together
from tests.factories import StripeMethodFactory, UserFactory

WEBHOOK = "/payments/stripe/webhook/"
SECRET_KEY = "sk_test_panel"
WEBHOOK_SECRET = "whsec_panel"

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("stripe_settings")]


# Helpers ---------------------------------------------------------------------------------------------------------


def _urls(payment: Payment) -> tuple[str, str]:
    return f"https://panel.test/funds/payments/{payment.pk}/", f"https://panel.test{WEBHOOK}"


def _start(user, method, amount: str = "25.00") -> Payment:
    return payment_start(user=user, method_id=method.pk, amount=amount, urls=_urls)


def _stripe(localstripe: LocalStripe) -> stripe.StripeClient:
    """Stripe as a test sees it: the secret key's API, for what the customer's browser would do and to look."""
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe.url})


def _pay(localstripe: LocalStripe, payment: Payment, card: str = "pm_card_visa") -> None:
    """The customer pays with a card (localstripe's test card 4242 4242 4242 4242)."""
    assert payment.reference is not None
    intent = _stripe(localstripe).v1.payment_intents.confirm(payment.reference, params={"payment_method": card})
    assert intent.status == "succeeded"


def _confirm_as_stripe_js(localstripe: LocalStripe, payment: Payment, number: str) -> requests.Response:
    """What Stripe.js posts when the customer submits the Payment Element: publishable key, client secret, card."""
    card = {"number": number, "exp_month": "12", "exp_year": "30", "cvc": "123"}
    return requests.post(
        f"{localstripe.url}/v1/payment_intents/{payment.reference}/confirm",
        data={
            "key": payment.method.credentials["publishable_key"],
            "client_secret": payment.client_secret,
            "payment_method_data[type]": "card",
            **{f"payment_method_data[card][{name}]": value for name, value in card.items()},
        },
        timeout=5,
    )


def _paid(localstripe: LocalStripe, user, method, amount: str = "25.00") -> Payment:
    """A payment paid at Stripe and credited through our check (no webhook needed)."""
    payment = _start(user, method, amount)
    _pay(localstripe, payment)
    assert payment_check(payment_id=payment.pk) == Outcome.CREDITED
    return Payment.objects.get(pk=payment.pk)


def _post(body: bytes, signature: str | None, client: Client | None = None):
    headers = {} if signature is None else {"stripe-signature": signature}
    return (client or Client()).post(WEBHOOK, data=body, content_type="application/json", headers=headers)


def _signed(body: bytes, client: Client | None = None):
    return _post(body, sign_event(body, WEBHOOK_SECRET), client)


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def _entries(payment: Payment, kind: str) -> list[Decimal]:
    return list(LedgerEntry.objects.filter(payment=payment, kind=kind).values_list("amount", flat=True))


def _eventually(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"it did not happen within {seconds} s"
        time.sleep(0.1)


class Captured:
    """Webhooks as localstripe sent them (body and headers), to deliver them ourselves: twice, late, in a race."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[bytes, dict[str, str]]] = []

    def of(self, kind: str) -> tuple[bytes, str]:
        """The body and Stripe-Signature of the first `kind` event, waiting for it (localstripe sends after 1 s)."""
        found: list[tuple[bytes, str]] = []

        def arrived() -> bool:
            found[:] = [(b, h["Stripe-Signature"]) for b, h in self.deliveries if json.loads(b)["type"] == kind]
            return bool(found)

        _eventually(arrived)
        return found[0]


@pytest.fixture
def captured(stripe_settings: LocalStripe) -> Iterator[Captured]:
    """A webhook endpoint of localstripe's that only records what it gets (the panel gets nothing by itself)."""
    capture = Captured()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            capture.deliveries.append((body, dict(self.headers)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stripe_settings.register_webhook(f"http://127.0.0.1:{server.server_port}/", WEBHOOK_SECRET, "capture")
    yield capture
    server.shutdown()
    server.server_close()


@pytest.fixture
def card(db):
    return StripeMethodFactory.create(name="Card")


# Starting: what reaches Stripe -----------------------------------------------------------------------------------


def test_it_asks_stripe_for_the_amount_and_fee_in_cents(alice, localstripe):
    method = StripeMethodFactory.create(fee_percent=Decimal(3))
    payment = _start(alice, method)
    assert (payment.state, payment.amount, payment.fee) == ("pending", Decimal("25.00000"), Decimal("0.75000"))
    intent = _stripe(localstripe).v1.payment_intents.retrieve(payment.reference)
    assert (intent.amount, intent.currency, intent.metadata["payment_id"]) == (2575, "usd", str(payment.pk))
    assert payment.client_secret == intent.client_secret


def test_it_asks_for_whole_yen(alice, localstripe, settings):
    settings.PANEL_CURRENCY = "JPY"
    method = StripeMethodFactory.create(fee_percent=Decimal(3))
    payment = _start(alice, method, "1001")
    assert payment.fee == Decimal(31)  # 30.03 yen, rounded up to a whole yen
    intent = _stripe(localstripe).v1.payment_intents.retrieve(payment.reference)
    assert (intent.amount, intent.currency) == (1032, "jpy")


def test_it_keeps_keys_out_of_errors_and_logs(alice, caplog):
    key = "mk_test_wrong_7f3a9c"  # localstripe refuses any key that is not sk_...
    method = StripeMethodFactory.create(credentials={"secret_key": key, "webhook_secret": WEBHOOK_SECRET})
    with caplog.at_level(logging.DEBUG), pytest.raises(PaymentError) as error:
        _start(alice, method)
    payment = Payment.objects.get(method=method)
    assert payment.state == "failed"
    assert "HTTP 401" in payment.problem
    for text in (str(error.value), payment.problem, caplog.text):
        assert key not in text and key[-4:] not in text


def test_it_rewrites_stripe_messages_that_quote_a_key():
    quoting = stripe.AuthenticationError("Invalid API Key provided: sk_test_****9c2f", http_status=401)
    assert str(_gateway_error(quoting, "sk_test_0123456789c2f")) == "Stripe AuthenticationError: HTTP 401"
    declined = stripe.CardError("Your card was declined.", None, "card_declined", http_status=402)
    assert str(_gateway_error(declined)) == "Stripe CardError: HTTP 402: card_declined: Your card was declined."


# Crediting -------------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_it_credits_a_payment_when_stripe_says_it_succeeded(alice, live_server, stripe_settings):
    method = StripeMethodFactory.create(fee_percent=Decimal(3), bonus_percent=Decimal(10), bonus_minimum=20)
    stripe_settings.register_webhook(live_server.url + WEBHOOK, WEBHOOK_SECRET)
    payment = _start(alice, method)
    _pay(stripe_settings, payment)
    _eventually(lambda: Payment.objects.get(pk=payment.pk).state == "succeeded")
    assert _entries(payment, "deposit") == [Decimal("25.00000")]  # the amount, not the fee
    assert _entries(payment, "bonus") == [Decimal("2.50000")]
    assert _balance(alice) == Decimal("127.50000")


def test_it_credits_a_webhook_delivered_twice_once(alice, card, localstripe, captured):
    payment = _start(alice, card)
    _pay(localstripe, payment)
    body, signature = captured.of("payment_intent.succeeded")
    assert _post(body, signature).status_code == 200
    assert _post(body, signature).status_code == 200
    assert _entries(payment, "deposit") == [Decimal("25.00000")]
    assert _balance(alice) == Decimal("125.00000")


def test_it_answers_500_when_crediting_fails_so_that_the_retry_credits(alice, card, localstripe, captured):
    payment = _start(alice, card)
    _pay(localstripe, payment)
    body, signature = captured.of("payment_intent.succeeded")
    credit = services.payment_credit
    failures = [DatabaseError("the database went away")]

    def fails_once(**kwargs: int) -> bool:
        if failures:
            raise failures.pop()
        credited: bool = credit(**kwargs)
        return credited

    with mock.patch("billing.payments.services.payment_credit", side_effect=fails_once):
        assert _post(body, signature, Client(raise_request_exception=False)).status_code == 500
        assert _balance(alice) == Decimal("100.00000")
        assert _post(body, signature).status_code == 200
    assert _entries(payment, "deposit") == [Decimal("25.00000")]


def test_it_credits_a_customer_who_pays_with_another_card_after_a_decline(alice, card, localstripe, captured):
    payment = _start(alice, card)
    assert _confirm_as_stripe_js(localstripe, payment, "4000000000000341").status_code == 402
    body, signature = captured.of("payment_intent.payment_failed")
    assert _post(body, signature).status_code == 200
    assert Payment.objects.get(pk=payment.pk).state == "pending"
    assert _confirm_as_stripe_js(localstripe, payment, "4242424242424242").json()["status"] == "succeeded"
    assert payment_check(payment_id=payment.pk) == Outcome.CREDITED
    assert _balance(alice) == Decimal("125.00000")


def test_it_credits_by_asking_stripe_when_the_webhook_is_lost(alice, card, localstripe, captured):
    payment = _start(alice, card)
    _pay(localstripe, payment)
    assert payment_check(payment_id=payment.pk) == Outcome.CREDITED
    assert payment_check(payment_id=payment.pk) == Outcome.NOTHING
    body, signature = captured.of("payment_intent.succeeded")  # arriving late
    assert _post(body, signature).status_code == 200
    assert _entries(payment, "deposit") == [Decimal("25.00000")]
    assert Payment.objects.get(pk=payment.pk).state == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_it_credits_once_when_the_webhook_and_the_check_race(alice, card, localstripe, captured):
    payment = _start(alice, card)
    _pay(localstripe, payment)
    body, signature = captured.of("payment_intent.succeeded")
    racers = iter([lambda: _post(body, signature).status_code, lambda: payment_check(payment_id=payment.pk)])
    results = run_together(lambda: next(racers)(), 2)
    assert 200 in results, results  # the webhook was answered 2xx, whoever credited
    assert {r for r in results if r != 200} <= {Outcome.CREDITED, Outcome.NOTHING}, results
    assert _entries(payment, "deposit") == [Decimal("25.00000")]
    assert _balance(alice) == Decimal("125.00000")


# Refusing --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(lambda body: f"t={int(time.time())},v1={'0' * 64}", id="wrong signature"),
        pytest.param(lambda body: sign_event(body, "whsec_someone_else"), id="another secret"),
        pytest.param(lambda body: sign_event(body, WEBHOOK_SECRET, int(time.time()) - 3600), id="stale"),
        pytest.param(lambda body: None, id="no header"),
    ],
)
def test_it_rejects_a_forged_notification(alice, card, caplog, signature):
    payment = _start(alice, card)
    body = payment_intent_succeeded(payment.reference, 2500)
    with caplog.at_level(logging.WARNING, logger="billing.payments"):
        answer = _post(body, signature(body))
    assert answer.status_code == 400
    assert Payment.objects.get(pk=payment.pk).state == "pending"
    assert _balance(alice) == Decimal("100.00000")
    assert [r.levelname for r in caplog.records if "notification refused" in r.getMessage()] == ["WARNING"]
    assert WEBHOOK_SECRET not in caplog.text and "whsec_someone_else" not in caplog.text


@pytest.mark.parametrize(("amount", "currency"), [(2000, "usd"), (2500, "eur")])
def test_it_credits_nothing_that_differs_from_what_we_asked(alice, card, amount, currency):
    payment = _start(alice, card)
    assert _signed(payment_intent_succeeded(payment.reference, amount, currency)).status_code == 200
    payment.refresh_from_db()
    assert payment.state == "pending"
    assert f"reported paid {Decimal(amount) / 100:.2f} {currency.upper()}" in payment.problem
    assert "we asked for 25.00000 USD" in payment.problem
    assert _balance(alice) == Decimal("100.00000")


def test_it_ignores_a_payment_intent_that_is_not_ours(alice, card):
    assert _signed(payment_intent_succeeded("pi_someone_elses", 2500)).status_code == 200
    assert LedgerEntry.objects.filter(kind="deposit").count() == 1  # alice's opening deposit only


# Out of order ----------------------------------------------------------------------------------------------------


def test_it_ignores_a_failed_attempt_reported_after_the_success(alice, card):
    payment = _start(alice, card)
    assert _signed(payment_intent_succeeded(payment.reference, 2500)).status_code == 200
    assert _signed(payment_intent_payment_failed(payment.reference, 2500)).status_code == 200
    assert Payment.objects.get(pk=payment.pk).state == "succeeded"
    assert _entries(payment, "deposit") == [Decimal("25.00000")]


def test_it_keeps_a_payment_open_after_a_failed_attempt(alice, card):
    payment = _start(alice, card)
    assert _signed(payment_intent_payment_failed(payment.reference, 2500)).status_code == 200
    assert Payment.objects.get(pk=payment.pk).state == "pending"


def test_it_credits_money_that_arrives_after_a_cancellation(alice, card, localstripe):
    payment = _start(alice, card)
    assert _signed(payment_intent_canceled(payment.reference, 2500)).status_code == 200
    assert Payment.objects.get(pk=payment.pk).state == "failed"
    _pay(localstripe, payment)
    assert payment_check(payment_id=payment.pk) == Outcome.CREDITED
    assert payment_check(payment_id=payment.pk) == Outcome.NOTHING
    assert _entries(payment, "deposit") == [Decimal("25.00000")]


# Taking money back -----------------------------------------------------------------------------------------------


def _refunds_at_stripe(localstripe: LocalStripe, payment: Payment) -> list[tuple[str, int]]:
    answer = requests.get(
        f"{localstripe.url}/v1/refunds", params={"payment_intent": payment.reference}, auth=(SECRET_KEY, ""), timeout=5
    )
    return [(r["id"], r["amount"]) for r in answer.json()["data"]]


def test_it_refunds_through_stripe_and_takes_the_money_back_once(alice, localstripe):
    method = StripeMethodFactory.create(bonus_percent=Decimal(10), bonus_minimum=20)
    payment = _paid(localstripe, alice, method)
    assert _balance(alice) == Decimal("127.50000")
    staff = UserFactory.create(username="operator", is_staff=True)
    reversal = payment_refund(payment_id=payment.pk, amount=None, actor=staff)
    assert reversal is not None
    assert _refunds_at_stripe(localstripe, payment) == [(reversal.reference, 2500)]
    assert _entries(payment, "reversal") == [Decimal("-27.50000")]
    assert _balance(alice) == Decimal("100.00000")
    assert Payment.objects.get(pk=payment.pk).state == "refunded"

    stripe_says = refund(reversal.reference, payment.reference, 2500)
    assert _signed(charge_refunded(payment.reference, 2500, [stripe_says])).status_code == 200
    assert _signed(refund_event("refund.updated", stripe_says)).status_code == 200
    assert PaymentReversal.objects.filter(payment=payment).count() == 1
    assert _balance(alice) == Decimal("100.00000")


def test_it_refuses_to_refund_more_than_is_left(alice, card, localstripe):
    payment = _paid(localstripe, alice, card)
    staff = UserFactory.create(username="operator", is_staff=True)
    payment_refund(payment_id=payment.pk, amount=Decimal(10), actor=staff)
    with pytest.raises(RefundRefused, match=r"between 0 and 15\.00000 USD"):
        payment_refund(payment_id=payment.pk, amount=Decimal(20), actor=staff)
    assert [amount for _, amount in _refunds_at_stripe(localstripe, payment)] == [1000]
    assert _balance(alice) == Decimal("115.00000")


def test_it_takes_back_refunds_made_in_stripes_dashboard(alice, card, localstripe):
    payment = _paid(localstripe, alice, card)
    first, second = refund("re_dashboard_1", payment.reference, 500), refund("re_dashboard_2", payment.reference, 700)
    assert _signed(charge_refunded(payment.reference, 2500, [first, second])).status_code == 200
    assert _signed(refund_event("refund.created", second)).status_code == 200
    assert sorted(_entries(payment, "reversal")) == [Decimal("-7.00000"), Decimal("-5.00000")]
    assert _balance(alice) == Decimal("113.00000")


def test_it_puts_a_disputed_customer_who_spent_the_money_on_hold(alice, card, localstripe, services):
    payment = _paid(localstripe, alice, card)
    wallet_debit(user=alice, amount=Decimal(110), note="spent elsewhere")
    assert _balance(alice) == Decimal("15.00000")
    assert _signed(charge_dispute_created("dp_test_1", payment.reference, 2500)).status_code == 200
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.debt) == (Decimal("0.00000"), Decimal("10.00000"))
    assert Payment.objects.get(pk=payment.pk).state == "disputed"
    with pytest.raises(AccountOnHold):
        order_place(
            user=alice, service_id=services[1].pk, params={"link": "https://instagram.com/p/a", "quantity": "100"}
        )


def test_a_refund_before_we_heard_of_the_payment_credits_it_then_takes_it_back(alice, card, localstripe):
    payment = _start(alice, card)
    _pay(localstripe, payment)  # its webhook lost
    assert _signed(refund_event("refund.created", refund("re_early", payment.reference, 1000))).status_code == 200
    assert _entries(payment, "deposit") == [Decimal("25.00000")]
    assert _entries(payment, "reversal") == [Decimal("-10.00000")]
    assert Payment.objects.get(pk=payment.pk).state == "refunded"
    assert _balance(alice) == Decimal("115.00000")


def test_a_refund_of_a_payment_never_paid_as_asked_moves_nothing_and_says_so(alice, card):
    payment = _start(alice, card)
    assert _signed(refund_event("refund.created", refund("re_odd", payment.reference, 1000))).status_code == 200
    payment = Payment.objects.get(pk=payment.pk)
    assert payment.state == "pending" and "before it was credited" in payment.problem
    assert _balance(alice) == Decimal("100.00000")


def test_a_secret_of_one_stripe_account_never_vouches_for_another_accounts_payment(alice, card, localstripe):
    StripeMethodFactory.create(name="Old test account", is_active=False, credentials={
        "secret_key": "sk_test_old", "publishable_key": "pk_test_old", "webhook_secret": "whsec_leaked"})  # fmt: skip
    payment = _start(alice, card)
    body = payment_intent_succeeded(payment.reference, 2500)
    assert _post(body, sign_event(body, "whsec_leaked")).status_code == 200
    assert Payment.objects.get(pk=payment.pk).state == "pending"
    assert _balance(alice) == Decimal("100.00000")


def test_an_inquiry_takes_nothing_a_dispute_takes_once_and_a_won_one_is_told_to_operators(
    alice, card, localstripe, settings, mailoutbox, django_capture_on_commit_callbacks, eager
):
    settings.OPERATOR_EMAILS = ["ops@example.com"]
    payment = _paid(localstripe, alice, card)
    inquiry = charge_dispute_created("dp_1", payment.reference, 2500, status="warning_needs_response")
    assert _signed(inquiry).status_code == 200
    assert _balance(alice) == Decimal("125.00000")
    with django_capture_on_commit_callbacks(execute=True):
        for kind in ("charge.dispute.funds_withdrawn", "charge.dispute.created"):
            assert _signed(charge_dispute_created("dp_1", payment.reference, 2500, kind=kind)).status_code == 200
        assert _entries(payment, "reversal") == [Decimal("-25.00000")]
        won = charge_dispute_created("dp_1", payment.reference, 2500, kind="charge.dispute.funds_reinstated",
                                     status="won")  # fmt: skip
        assert _signed(won).status_code == 200
    assert _balance(alice) == Decimal("100.00000"), "the operator decides what the wallet gets back"
    assert "dispute won" in Payment.objects.get(pk=payment.pk).problem
    assert [m.subject for m in mailoutbox] == [f"[panel] payment {payment.pk} disputed",
                                               f"[panel] payment {payment.pk}: dispute won"]  # fmt: skip


def test_a_refund_in_fractions_of_a_cent_is_refused_before_anything_moves(alice, card, localstripe):
    payment = _paid(localstripe, alice, card)
    staff = UserFactory.create(username="operator", is_staff=True)
    with pytest.raises(RefundRefused, match="use whole cents"):
        payment_refund(payment_id=payment.pk, amount=Decimal("10.005"), actor=staff)
    assert _refunds_at_stripe(localstripe, payment) == []
    assert _balance(alice) == Decimal("125.00000")
