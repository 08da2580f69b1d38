"""Paying in a real browser: by card (Stripe's side played by localstripe, a real process) and by crypto (the fake
Cryptomus, a real server), in English and Japanese; the balance lands without a reload, and buys an order.

localstripe's own fake Stripe.js has no Payment Element, so these pages load tests/fakes/stripe_js_standin.js
(STRIPE_JS_URL): a small stand-in that makes Stripe.js's documented calls (elements, create("payment"), mount,
confirmPayment) against localstripe. Whatever the page does, the wallet is credited only by the server, from what
it verified with Stripe: the webhook localstripe signs, or the PaymentIntent the return page retrieves.
"""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from billing.models import LedgerEntry, Payment, PaymentMethod
from tests.browser.conftest import shot
from tests.factories import CryptomusMethodFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
WEBHOOK_SECRET = "whsec_browser"

TEXTS = {
    "en": {
        "funds": "Add funds",
        "continue": "Continue to payment",
        "pay": "Pay 25.75 USD",
        "paid": "Paid: 25.00 USD was added to your balance.",
        "succeeded": "Succeeded",
        "placed": r"Order \d+ is placed: 1\.35 USD charged\. Your balance is now 23\.65 USD\.",
        "new_order": "New order",
        "declined": "Your card was declined",
        "continue_crypto": "Continue to USDT",
    },
    "ja": {
        "funds": "残高チャージ",
        "continue": "支払いに進む",
        "pay": "25.75 USD を支払う",
        "paid": "お支払い完了：25.00 USD を残高に追加しました。",
        "succeeded": "完了",
        "placed": r"注文 \d+ を受け付けました。料金 1\.35 USD を差し引き、残高は 23\.65 USD になりました。",
        "new_order": "新規注文",
        "declined": "Your card was declined",
        "continue_crypto": "USDT に進む",
    },
}


@pytest.fixture
def card_method(db, stripe_settings, settings, live_server):
    """A Stripe method with a 3% fee, its webhook registered at localstripe, the stand-in Stripe.js on the page."""
    settings.STRIPE_JS_URL = f"{stripe_settings.url}/standin/v3/"
    method = PaymentMethod.objects.create(
        name="Card", gateway=PaymentMethod.Gateway.STRIPE, fee_percent=Decimal(3), minimum=Decimal(5),
        credentials={"secret_key": "sk_test_browser", "publishable_key": "pk_test_browser",
                     "webhook_secret": WEBHOOK_SECRET},
    )  # fmt: skip
    stripe_settings.register_webhook(f"{live_server.url}/payments/stripe/webhook/", WEBHOOK_SECRET)
    return method


def _sign_in(page: Page, username: str, lang: str) -> None:
    page.goto("/accounts/login/")
    if lang == "ja":
        page.locator(".topbar form.language").get_by_role("button", name="日本語").click()
        expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button.primary").click()
    expect(page.locator("main h1")).to_have_text(TEXTS[lang]["new_order"])


def _card(page: Page, number: str) -> None:
    page.fill("#standin-card-number", number)
    page.fill("#standin-card-expiry", "12 / 30")
    page.fill("#standin-card-cvc", "123")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_customer_tops_up_by_card_sees_the_balance_and_orders_with_it(
    page, browser_errors, lang, card_method, services
):
    texts = TEXTS[lang]
    user = UserFactory.create(username=f"card-{lang}")
    _sign_in(page, user.username, lang)
    page.locator(".sidenav").get_by_role("link", name=texts["funds"], exact=True).click()
    expect(page.locator("main h1")).to_have_text(texts["funds"])
    expect(page.locator(f'[data-method="{card_method.pk}"]')).to_contain_text("3")
    shot(page, f"{lang}-funds-pay")

    page.fill("#pay_amount", "25")
    page.get_by_role("button", name=texts["continue"]).click()
    payment = Payment.objects.get(user=user)
    expect(page).to_have_url(f"{page.url.split('/funds/')[0]}/funds/payments/{payment.pk}/")
    expect(page.locator(".payment-figures")).to_contain_text("25.75 USD")
    expect(page.locator("#standin-card-number")).to_be_visible()
    shot(page, f"{lang}-payment-card")

    # A declined card: the page says so, nothing is credited, and the customer tries another card.
    _card(page, "4000000000000341")  # localstripe declines this test card
    page.get_by_role("button", name=texts["pay"]).click()
    expect(page.locator("#payment-error")).to_contain_text(texts["declined"])
    assert not LedgerEntry.objects.filter(wallet__user=user).exists()
    # The browser logs the gateway's 402 for the declined card: expected here.
    declined = [e for e in browser_errors if "status of 402" in e and "/confirm" in e]
    assert len(declined) == 1
    browser_errors.remove(declined[0])

    _card(page, "4242424242424242")
    page.get_by_role("button", name=texts["pay"]).click()
    # Stripe.js brings the customer back; the page (and the webhook) credit it, and the balance updates by itself.
    expect(page.locator("#payment-live [data-when=succeeded]")).to_contain_text(texts["paid"], timeout=15_000)
    expect(page.locator(".topbar [data-balance]")).to_have_text("25.00 USD")
    expect(page.locator("[data-payment-state]").first).to_have_text(texts["succeeded"])
    shot(page, f"{lang}-payment-paid")
    payment.refresh_from_db()
    assert payment.state == Payment.State.SUCCEEDED
    assert list(payment.ledger_entries.order_by("pk").values_list("kind", "amount")) == [("deposit", Decimal(25))]

    page.goto("/orders/new/")
    service = services[1]
    page.select_option("#id_category", service.category.name)
    page.select_option("#id_service", str(service.pk))
    page.fill("#id_link", "https://instagram.com/p/paid-by-card")
    page.fill("#id_quantity", "1000")
    page.locator("main form button.primary").click()
    expect(page.locator(".messages")).to_contain_text(re.compile(texts["placed"]))
    expect(page.locator(".topbar [data-balance]")).to_have_text("23.65 USD")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_customer_tops_up_with_crypto_on_the_gateways_page_and_comes_back_credited(page, lang, cryptomus):
    texts = TEXTS[lang]
    method = CryptomusMethodFactory.create(name="USDT", fee_percent=Decimal(1), minimum=Decimal(10),
                                           bonus_percent=Decimal(5), bonus_minimum=Decimal(20))  # fmt: skip
    user = UserFactory.create(username=f"crypto-{lang}")
    _sign_in(page, user.username, lang)
    page.goto("/funds/")
    expect(page.locator(f'[data-method="{method.pk}"]')).to_contain_text("+5")
    page.fill("#pay_amount", "30")
    page.get_by_role("button", name=texts["continue"]).click()
    payment = Payment.objects.get(user=user)
    expect(page.locator(".payment-figures")).to_contain_text("30.30 USD")
    shot(page, f"{lang}-payment-crypto")

    # On the gateway's own page (the fake Cryptomus), then back: the signed callback credits the wallet.
    page.get_by_role("link", name=texts["continue_crypto"]).click()
    expect(page.locator("h1")).to_have_text("Pay 30.30 USD")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(rf"/funds/payments/{payment.pk}/$"))
    expect(page.locator("#payment-live [data-when=succeeded]")).to_be_visible(timeout=15_000)
    expect(page.locator(".topbar [data-balance]")).to_have_text("31.50 USD")
    payment.refresh_from_db()
    assert list(payment.ledger_entries.order_by("pk").values_list("kind", "amount")) == [
        ("deposit", Decimal(30)), ("bonus", Decimal("1.5"))
    ]  # fmt: skip
    page.goto("/funds/")
    expect(page.locator("#payments + .table-wrap")).to_contain_text(texts["succeeded"])
    shot(page, f"{lang}-funds-after-payments")
