"""Cryptomus: invoices created at the fake Cryptomus, paid on its page, credited once from its signed webhook or
from its payment information; forged, garbled and mismatched webhooks move no money."""

import base64
import hashlib
import logging
import uuid
from decimal import Decimal

import pytest
import requests

from billing.models import LedgerEntry, Payment, Wallet
from billing.payments.base import Event, GatewayError, Notification
from billing.payments.cryptomus import CryptomusGateway, order_id_of, php_json, request_sign, webhook_sign
from billing.payments.services import Outcome, PaymentError, payment_check, payment_start
from billing.services import wallet_debit
from tests.concurrency import run_together
from tests.factories import CRYPTOMUS_PAYMENT_KEY, CryptomusMethodFactory

pytestmark = pytest.mark.django_db(transaction=True)

WEBHOOK_PATH = "/payments/cryptomus/webhook/"
RETURN_URL = "https://panel.example/funds/"
Kind = LedgerEntry.Kind


@pytest.fixture
def method(cryptomus):
    return CryptomusMethodFactory.create(fee_percent=Decimal(2))


def _start(user, method, live_server, amount: str = "25") -> Payment:
    return payment_start(
        user=user, method_id=method.pk, amount=amount, urls=lambda payment: (RETURN_URL, live_server.url + WEBHOOK_PATH)
    )


def _balance(user) -> Decimal:
    return Wallet.objects.get(user=user).balance


def _entries(payment: Payment) -> list[tuple[str, Decimal]]:
    return [(e.kind, e.amount) for e in LedgerEntry.objects.filter(payment=payment).order_by("pk")]


def _pay(payment: Payment) -> requests.Response:
    """The customer presses Pay on Cryptomus' page."""
    return requests.post(payment.redirect_url, allow_redirects=False, timeout=30)


def _refusals(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno == logging.WARNING and "notification refused" in r.getMessage()]


# Starting -------------------------------------------------------------------------------------------------------


def test_it_creates_the_invoice_for_the_amount_and_the_fee(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)

    [call] = cryptomus.calls_to("/v1/payment")
    assert call.body == {
        "amount": "25.50",
        "currency": "USD",
        "order_id": order_id_of(payment),
        "url_return": RETURN_URL,
        "url_success": RETURN_URL,
        "url_callback": live_server.url + WEBHOOK_PATH,
        "lifetime": 3600,
    }
    [invoice] = cryptomus.invoices.values()
    assert payment.state == Payment.State.PENDING
    assert payment.reference == invoice.uuid
    assert payment.redirect_url == f"{cryptomus.url}/pay/{invoice.uuid}"
    page = requests.get(payment.redirect_url, timeout=30).text
    assert "25.50 USD" in page
    assert ">Pay</button>" in page


def test_it_gives_each_payment_an_order_id_of_its_own(alice, method, live_server):
    first, second = _start(alice, method, live_server), _start(alice, method, live_server)

    assert order_id_of(first) != order_id_of(second)
    assert order_id_of(first).startswith(f"panel-{first.pk}-")
    assert first.reference != second.reference


def test_it_keeps_the_flags_of_add_payment_method():
    assert [c.flag for c in CryptomusGateway.credentials] == ["--merchant-id", "--payment-key"]
    assert [c.secret for c in CryptomusGateway.credentials] == [False, True]


def test_it_never_shows_the_key_when_cryptomus_refuses_it(alice, cryptomus, live_server, caplog):
    key = "cmk-wrong-key-do-not-show-0001"
    method = CryptomusMethodFactory.create(credentials={"merchant_id": cryptomus.merchant, "payment_key": key})

    with caplog.at_level(logging.INFO), pytest.raises(PaymentError) as raised:
        _start(alice, method, live_server)

    payment = Payment.objects.get()
    assert payment.state == Payment.State.FAILED
    assert "Invalid Sign." in payment.problem
    assert "HTTP 401" in payment.problem
    for text in (str(raised.value), payment.problem, caplog.text):
        assert key not in text
    assert cryptomus.invoices == {}


def test_it_fails_the_payment_when_cryptomus_cannot_be_reached(alice, method, live_server, settings):
    settings.CRYPTOMUS_API_BASE = "http://127.0.0.1:9"  # the discard port: nobody listens

    with pytest.raises(PaymentError):
        _start(alice, method, live_server)

    payment = Payment.objects.get()
    assert payment.state == Payment.State.FAILED
    assert "could not be reached" in payment.problem
    assert _balance(alice) == Decimal(100)


# Crediting ------------------------------------------------------------------------------------------------------


def test_it_credits_a_paid_invoice_once(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)

    answer = _pay(payment)

    assert answer.status_code == 303
    assert answer.headers["Location"] == RETURN_URL
    assert [d.status for d in cryptomus.deliveries] == [200]
    assert _balance(alice) == Decimal("125")
    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25"))]
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.SUCCEEDED

    assert cryptomus.send_webhook(payment.reference) == 200

    assert _balance(alice) == Decimal("125")
    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25"))]


def test_it_credits_the_bonus_of_the_method(alice, cryptomus, live_server):
    method = CryptomusMethodFactory.create(bonus_percent=Decimal(10), bonus_minimum=Decimal(20))
    payment = _start(alice, method, live_server)

    _pay(payment)

    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25")), (Kind.BONUS, Decimal("2.5"))]
    assert _balance(alice) == Decimal("127.5")


def test_it_credits_what_it_asked_for_when_more_arrived(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)
    cryptomus.set_status(payment.reference, "paid_over")

    assert cryptomus.send_webhook(payment.reference, payment_amount="30.00000000") == 200

    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25"))]


def test_it_verifies_a_webhook_with_a_slash_and_non_ascii_text(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)
    cryptomus.set_status(payment.reference, "paid")
    note = "Zahlung für Bestellung 12/34 ✓"
    body = cryptomus.webhook_body(payment.reference, additional_data=note)
    assert "für Bestellung 12\\/34 ✓".encode() in body  # PHP's own encoding, as Cryptomus sends it

    assert cryptomus.send_webhook(payment.reference, additional_data=note) == 200

    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25"))]


@pytest.mark.parametrize("status", ["cancel", "fail", "system_fail"])
def test_it_fails_a_payment_that_will_not_be_paid(alice, method, cryptomus, live_server, status):
    payment = _start(alice, method, live_server)
    cryptomus.set_status(payment.reference, status)

    assert cryptomus.send_webhook(payment.reference) == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.FAILED
    assert payment.problem == status
    assert _balance(alice) == Decimal(100)


@pytest.mark.parametrize(
    "status", ["check", "process", "confirm_check", "wrong_amount", "wrong_amount_waiting", "refund_fail", "locked"]
)
def test_it_leaves_a_payment_pending_until_cryptomus_is_sure(alice, method, cryptomus, live_server, status):
    payment = _start(alice, method, live_server)
    cryptomus.set_status(payment.reference, status)

    assert cryptomus.send_webhook(payment.reference) == 200

    payment = Payment.objects.get(pk=payment.pk)
    assert payment.state == Payment.State.PENDING
    assert status in payment.problem, "operators see what Cryptomus said"
    assert _entries(payment) == []


# Refusing -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body_of",
    [
        pytest.param(lambda fake, ref: fake.webhook_body(ref, sign="0" * 32), id="wrong-sign"),
        pytest.param(lambda fake, ref: fake.webhook_body(ref, sign=None), id="no-sign"),
        pytest.param(lambda fake, ref: fake.webhook_body(ref, key="cmk-another-merchants-key"), id="another-key"),
        pytest.param(
            lambda fake, ref: fake.webhook_body(ref).replace(b'"amount":"25.50000000"', b'"amount":"2550.00000000"'),
            id="altered-after-signing",
        ),
        pytest.param(lambda fake, ref: b'{"type":"payment","uuid":', id="not-json"),
        pytest.param(lambda fake, ref: b'["paid"]', id="not-an-object"),
        pytest.param(lambda fake, ref: b"[" * 200_000, id="nested-deeper-than-the-decoder-goes"),
        pytest.param(lambda fake, ref: b"\xff\xfe{}", id="not-utf8"),
    ],
)
def test_it_rejects_a_webhook_that_does_not_verify(alice, method, cryptomus, live_server, caplog, body_of):
    payment = _start(alice, method, live_server)
    cryptomus.set_status(payment.reference, "paid")
    body = body_of(cryptomus, payment.reference)

    with caplog.at_level(logging.WARNING):
        answer = requests.post(live_server.url + WEBHOOK_PATH, data=body, timeout=30)

    assert answer.status_code == 400
    assert _entries(payment) == []
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.PENDING
    assert len(_refusals(caplog)) == 1
    assert CRYPTOMUS_PAYMENT_KEY not in caplog.text


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"amount": "1.00000000"}, "we asked for 25.50000 USD"),
        ({"currency": "EUR"}, "we asked for 25.50000 USD"),
        ({"order_id": "panel-999999-20250101120000000000"}, "it is the invoice of order panel-"),
    ],
)
def test_it_credits_nothing_a_signed_webhook_did_not_ask_for(alice, method, cryptomus, live_server, fields, problem):
    payment = _start(alice, method, live_server)
    cryptomus.set_status(payment.reference, "paid")

    assert cryptomus.send_webhook(payment.reference, **fields) == 200

    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert problem in payment.problem
    assert _balance(alice) == Decimal(100)


def test_it_ignores_a_signed_webhook_about_an_invoice_of_nobody_here(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)
    cryptomus.set_status(payment.reference, "paid")

    assert cryptomus.send_webhook(payment.reference, uuid=str(uuid.uuid4())) == 200

    payment.refresh_from_db()
    assert (payment.state, payment.problem) == (Payment.State.PENDING, "")
    assert _balance(alice) == Decimal(100)


# Asking Cryptomus -----------------------------------------------------------------------------------------------


def test_it_credits_a_payment_whose_webhook_was_lost(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)
    cryptomus.send_webhooks = False
    _pay(payment)
    assert cryptomus.deliveries == []
    assert _balance(alice) == Decimal(100)

    assert payment_check(payment_id=payment.pk) == Outcome.CREDITED
    assert payment_check(payment_id=payment.pk) == Outcome.NOTHING

    assert [call.body for call in cryptomus.calls_to("/v1/payment/info")] == [{"uuid": payment.reference}]
    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25"))]
    assert _balance(alice) == Decimal("125")


def test_it_credits_once_when_the_webhook_and_a_check_race(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)
    cryptomus.set_status(payment.reference, "paid")
    jobs = [lambda: cryptomus.send_webhook(payment.reference), lambda: payment_check(payment_id=payment.pk)]

    results = run_together(lambda: jobs.pop()(), 2)

    assert not [r for r in results if isinstance(r, BaseException)]
    assert [d.status for d in cryptomus.deliveries] == [200]
    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25"))]
    assert _balance(alice) == Decimal("125")


def test_it_refuses_payment_information_about_another_order(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)
    invoice = cryptomus.set_status(payment.reference, "paid")
    invoice.order_id = "panel-999999-20250101120000000000"

    assert payment_check(payment_id=payment.pk) == Outcome.REFUSED

    payment.refresh_from_db()
    assert payment.state == Payment.State.PENDING
    assert "it is the invoice of order" in payment.problem
    assert _balance(alice) == Decimal(100)


# Refunds --------------------------------------------------------------------------------------------------------


def test_it_takes_a_refund_back_once(alice, method, cryptomus, live_server):
    payment = _start(alice, method, live_server)
    _pay(payment)
    cryptomus.set_status(payment.reference, "refund_paid")

    assert cryptomus.send_webhook(payment.reference) == 200
    assert cryptomus.send_webhook(payment.reference) == 200

    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25")), (Kind.REVERSAL, Decimal("-25"))]
    assert Payment.objects.get(pk=payment.pk).state == Payment.State.REFUNDED
    assert (_balance(alice), Wallet.objects.get(user=alice).debt) == (Decimal(100), Decimal(0))


def test_it_records_as_debt_what_a_refund_cannot_take(bob, method, cryptomus, live_server):
    payment = _start(bob, method, live_server)
    _pay(payment)
    wallet_debit(user=bob, amount=Decimal(20))
    cryptomus.set_status(payment.reference, "refund_paid")

    assert cryptomus.send_webhook(payment.reference) == 200

    assert _entries(payment) == [(Kind.DEPOSIT, Decimal("25")), (Kind.REVERSAL, Decimal("-5"))]
    wallet = Wallet.objects.get(user=bob)
    assert (wallet.balance, wallet.debt) == (Decimal(0), Decimal(20))


def test_it_refunds_only_in_cryptomus_dashboard(alice, method, live_server):
    payment = _start(alice, method, live_server)

    with pytest.raises(GatewayError, match="dashboard"):
        CryptomusGateway(method).refund(payment, Decimal(25))
    assert CryptomusGateway.can_refund is False


# The signature --------------------------------------------------------------------------------------------------


def test_it_signs_as_the_documentation_says():
    data = {
        "type": "payment",
        "uuid": "62f88b36-a9d5-4fa6-aa26-e040c3dbf26d",
        "order_id": "panel-7-20250101120000000000",
        "amount": "25.50000000",
        "status": "paid",
        "additional_data": "Bestellung für 12/34",
    }
    php = (
        '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"panel-7-20250101120000000000",'
        '"amount":"25.50000000","status":"paid","additional_data":"Bestellung für 12\\/34"}'
    )
    # md5(base64_encode(json_encode($data, JSON_UNESCAPED_UNICODE)) . $key), by hand and by coreutils.
    by_hand = hashlib.md5(base64.b64encode(php.encode()) + CRYPTOMUS_PAYMENT_KEY.encode()).hexdigest()  # noqa: S324

    assert php_json(data) == php
    assert webhook_sign(data, CRYPTOMUS_PAYMENT_KEY) == by_hand == "b65f6eaa572f2f5b7e49a0b60bda467b"
    # A call without parameters signs the empty string: md5(base64_encode('') . $key).
    assert request_sign(b"", CRYPTOMUS_PAYMENT_KEY) == "a8d22a0155a303d00706645d6204d19d"


def test_it_encodes_like_php_json_encode():
    assert php_json({"a": None, "b": True, "c": [1, "x\ny"], "d": {}, "e": '"\\', "f": "\u2028"}) == (
        '{"a":null,"b":true,"c":[1,"x\\ny"],"d":{},"e":"\\"\\\\","f":"\\u2028"}'
    )


def test_it_verifies_numbers_as_they_were_sent(method):
    php = (
        '{"type":"payment","uuid":"62f88b36-a9d5-4fa6-aa26-e040c3dbf26d","order_id":"panel-7-20250101120000000000",'
        '"amount":25.50,"currency":"USD","status":"check"}'
    )
    sign = hashlib.md5(base64.b64encode(php.encode()) + CRYPTOMUS_PAYMENT_KEY.encode()).hexdigest()  # noqa: S324
    body = php[:-1] + f',"sign":"{sign}"}}'

    [report] = CryptomusGateway(method).read(Notification(body=body.encode(), headers={}))

    assert (report.event, report.amount, report.detail) == (Event.PENDING, Decimal("25.50"), "check")
