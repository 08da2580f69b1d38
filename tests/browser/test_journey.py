"""A customer's journeys in a real browser: sign up, get funds, order, follow it, get the undelivered share back."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from billing.models import DepositRequest, LedgerEntry
from billing.services import deposit_approve
from orders.models import Order
from orders.polling import poll_statuses
from orders.services import forward_due, order_forward
from tests.browser.conftest import shot
from tests.factories import PaymentMethodFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"

# What the customer reads, per language. The Japanese texts follow locale/ja/LC_MESSAGES/django.po.
TEXTS = {
    "en": {
        "login": "Sign in",
        "signup": "Create an account",
        "welcome": "Welcome! Add funds to place your first order.",
        "new_order": "New order",
        "funds": "Add funds",
        "deposit_sent": "Thank you: your deposit of 25.00 USD is waiting for our check.",
        "approved": "Approved",
        "placed": r"Order (\d+) is placed: 1\.35 USD charged\. Your balance is now 23\.65 USD\.",
        "orders": "Orders",
        "pending": "Pending",
        "partial": "Partial",
        "refund": "Refund",
    },
    "ja": {
        "login": "ログイン",
        "signup": "アカウント作成",
        "welcome": "ようこそ！",
        "new_order": "新規注文",
        "funds": "入金",
        "deposit_sent": "25.00 USD",
        "approved": "承認済み",
        "placed": r"注文 (\d+) .*1\.35 USD.*23\.65 USD",
        "orders": "注文履歴",
        "pending": "保留中",
        "partial": "一部完了",
        "refund": "返金",
    },
}


@pytest.fixture
def operator(db):
    return UserFactory.create(username="olivia", is_staff=True, is_superuser=True)


@pytest.fixture
def bank(db):
    return PaymentMethodFactory.create(name="Bank transfer", minimum=Decimal(10))


def _balance(page: Page):
    return expect(page.locator(".topbar [data-balance]"))


def _heading(page: Page):
    return expect(page.locator("main h1"))


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_customer_signs_up_orders_and_gets_the_undelivered_share_back(
    page, lang, services, simulator, bank, operator
):
    texts = TEXTS[lang]
    username = {"en": "alice", "ja": "bob"}[lang]
    service = services[1]

    page.goto("/accounts/login/")
    if lang == "ja":
        page.locator(".topbar form.language").get_by_role("button", name="日本語").click()
        expect(page.locator("html")).to_have_attribute("lang", "ja")
    _heading(page).to_have_text(texts["login"])
    shot(page, f"{lang}-login")

    page.locator('main a[href="/accounts/signup/"]').click()
    _heading(page).to_have_text(texts["signup"])
    shot(page, f"{lang}-signup")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.locator("main button.primary").click()
    _heading(page).to_have_text(texts["new_order"])
    expect(page.locator(".messages")).to_contain_text(texts["welcome"])
    _balance(page).to_have_text("0.00 USD")

    # Funds: the customer tells us about a payment; an operator finds it and approves it.
    page.locator(".sidenav").get_by_role("link", name=texts["funds"]).click()
    _heading(page).to_have_text(texts["funds"])
    page.fill("#id_amount", "25")
    page.select_option("#id_method", index=1)
    page.fill("#id_reference", "TX-2024-001")
    page.locator("main form button.primary").click()
    expect(page.locator(".messages")).to_contain_text(texts["deposit_sent"])
    deposit = DepositRequest.objects.get(user__username=username)
    assert deposit_approve(deposit_id=deposit.pk, actor=operator)
    page.reload()
    _balance(page).to_have_text("25.00 USD")
    expect(page.locator("main table").first).to_contain_text(texts["approved"])

    # New order, with the live price.
    page.locator(".sidenav").get_by_role("link", name=texts["new_order"]).click()
    page.select_option("#id_category", service.category.name)
    page.select_option("#id_service", str(service.pk))
    page.fill("#id_link", "https://instagram.com/p/journey")
    page.fill("#id_quantity", "1000")
    expect(page.locator("output#charge")).to_have_text("1.35 USD")
    shot(page, f"{lang}-new-order")
    page.click("#submit-order")
    message = page.locator(".messages")
    expect(message).to_have_text(re.compile(texts["placed"]))
    order_id = int(re.search(texts["placed"], message.inner_text()).group(1))
    _balance(page).to_have_text("23.65 USD")

    # The worker sends it; after a polling cycle the provider reports 600 of the 1000 delivered.
    simulator.force_outcome = "Partial"
    for pk in forward_due():
        order_forward(order_id=pk)
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    order = Order.objects.get(pk=order_id)
    assert order.status == "Partial"
    refunds = LedgerEntry.objects.filter(order=order, kind="refund")
    assert [entry.amount for entry in refunds] == [Decimal("0.54000")]
