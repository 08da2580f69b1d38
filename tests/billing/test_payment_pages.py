"""What customers see of payments: Add funds offers the gateways' methods with their fees and bonuses, /funds/pay/
starts a payment (or says what is wrong, starting nothing), the payment page and its state are the customer's own,
and a customer who owes money is told so, on the pages and through the API."""

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from accounts.services import api_key_issue
from billing.models import Payment
from billing.payments.services import payment_credit, payment_reverse
from billing.services import wallet_debit
from tests.factories import CryptomusMethodFactory, PaymentFactory, PaymentMethodFactory, StripeMethodFactory

pytestmark = pytest.mark.django_db

FUNDS, PAY = reverse("funds"), reverse("pay")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_add_funds_shows_each_methods_limits_fee_and_bonus_before_paying(alice):
    StripeMethodFactory.create(name="Card", fee_percent=Decimal("2.5"), minimum=Decimal(5), maximum=Decimal(500))
    CryptomusMethodFactory.create(name="USDT", bonus_percent=Decimal(10), bonus_minimum=Decimal(100))
    PaymentMethodFactory.create(name="Bank transfer")
    page = _client(alice).get(FUNDS).content.decode()
    assert 'action="/funds/pay/"' in page and 'name="method"' in page and 'name="amount"' in page
    for text in [
        "Card (fee 2.5%)", "Maximum: 500.00 USD", "Fee: 2.5% of the amount, added to what you pay",
        "Bonus: +10% for deposits of at least 100.00 USD", "No fee", "Tell us about your payment",
    ]:  # fmt: skip
        assert text in page, text
    # The manual method stays in the deposit request form, not among the payments.
    assert page.count("Bank transfer") >= 1 and "Bank transfer (fee" not in page


def test_a_payment_form_with_a_problem_shows_it_and_starts_nothing(alice):
    method = StripeMethodFactory.create(minimum=Decimal(10))
    client = _client(alice)
    for form, error in [
        ({"method": method.pk, "amount": "5"}, "The minimum with"),
        ({"method": method.pk, "amount": "lots"}, "Enter the amount as a number"),
        ({"method": "", "amount": "20"}, "Choose one of the payment methods."),
        ({"method": PaymentMethodFactory.create().pk, "amount": "20"}, "Choose one of the payment methods."),
    ]:
        response = client.post(PAY, form)
        assert response.status_code == 200 and error in response.content.decode(), form
    assert not Payment.objects.exists()
    assert client.get(PAY).status_code == 405


def test_a_gateway_that_cannot_be_reached_fails_the_payment_with_a_clear_message(alice, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    method = StripeMethodFactory.create()
    page = _client(alice).post(PAY, {"method": method.pk, "amount": "20"}).content.decode()
    assert "The payment could not be started just now" in page
    payment = Payment.objects.get()
    assert payment.state == Payment.State.FAILED and payment.problem
    assert "sk_test_panel" not in page and "sk_test_panel" not in payment.problem


def test_a_customer_sees_only_their_own_payments(alice, bob):
    mine, theirs = PaymentFactory.create(user=alice), PaymentFactory.create(user=bob)
    payment_credit(payment_id=mine.pk)
    client = _client(alice)
    assert client.get(reverse("payment", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("payment_state", args=[theirs.pk])).status_code == 404
    assert client.get(reverse("payment", args=["x"])).status_code == 404
    state = client.get(reverse("payment_state", args=[mine.pk])).json()
    assert state == {"state": "succeeded", "label": "Succeeded", "open": False, "balance": "125.00 USD"}
    page = client.get(reverse("payment", args=[mine.pk])).content.decode()
    assert "Paid: 25.00 USD was added to your balance." in page
    assert reverse("payment", args=[theirs.pk]) not in client.get(FUNDS).content.decode()


def test_only_an_open_card_payment_page_lets_stripe_in_its_content_security_policy(alice, settings):
    settings.STRIPE_JS_URL = "https://js.stripe.com/v3/"
    settings.STRIPE_API_BASE = ""
    client = _client(alice)
    open_card = PaymentFactory.create(user=alice, client_secret="pi_x_secret_y")
    policy = client.get(reverse("payment", args=[open_card.pk]))["Content-Security-Policy"]
    assert "script-src 'self' https://js.stripe.com" in policy and "frame-src https://hooks.stripe.com" in policy
    assert "connect-src 'self' https://api.stripe.com https://js.stripe.com" in policy
    for url in (FUNDS, reverse("order-new")):
        assert "stripe" not in client.get(url)["Content-Security-Policy"]


def _owing(user) -> None:
    payment = PaymentFactory.create(user=user, amount=Decimal(50))
    payment_credit(payment_id=payment.pk)
    wallet_debit(user=user, amount=Decimal(140), note="spent")
    payment_reverse(payment_id=payment.pk, kind="dispute", reference="dp_1", amount=Decimal(50))


def test_a_customer_who_owes_money_is_told_on_add_funds_and_when_ordering_through_the_api(alice, services):
    _owing(alice)
    page = _client(alice).get(FUNDS).content.decode()
    assert "you owe 40.00 USD. New orders are on hold until it is settled" in page
    key = api_key_issue(user=alice)
    answer = Client().post("/api/v2", {"key": key, "action": "add", "service": services[1].pk,
                                       "link": "https://instagram.com/p/x", "quantity": "100"}).json()  # fmt: skip
    assert answer == {"error": "Your account is on hold: a payment was taken back and the balance did not cover it. "
                               "Contact support."}  # fmt: skip
    assert not alice.orders.exists()


def test_a_customer_starting_payment_after_payment_is_slowed_down(alice, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # every start fails fast at the gateway
    cache.clear()  # the counters of earlier tests
    method = StripeMethodFactory.create()
    client = _client(alice)
    for _ in range(10):
        assert "many payments just now" not in client.post(PAY, {"method": method.pk, "amount": "20"}).content.decode()
    assert (
        "You started many payments just now" in client.post(PAY, {"method": method.pk, "amount": "20"}).content.decode()
    )
    assert Payment.objects.count() == 10
