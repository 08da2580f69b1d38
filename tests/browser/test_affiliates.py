"""The affiliate program in a real browser: a customer copies their referral link, a visitor signs up through it,
the visitor's order completes upstream, and the referrer sees the commission and moves it to their balance; the
affiliates page in English and in Japanese."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Browser, Page, expect

from billing.models import LedgerEntry, Referral
from billing.services import wallet_credit
from orders.services.placement import order_place
from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.browser.test_journey import PASSWORD, _balance, _go, _heading, _send_and_poll, _sign_in, _to_japanese
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _figure(page: Page, name: str):
    return page.locator(f"main [data-figure='{name}']")


def _sign_out(page: Page) -> None:
    page.locator(".topbar form.logout button").click()


def test_a_referred_customers_order_earns_the_referrer_a_commission_they_move_to_their_balance(
    page: Page, browser: Browser, live_server, browser_errors, services, simulator, settings
):
    settings.AFFILIATE_TRANSFER_MINIMUM = Decimal("0.5")
    UserFactory.create(username="alice")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])

    # Alice finds her link on the Affiliates page and copies it.
    _sign_in(page, "alice", "en")
    _go(page, "Affiliates")
    link = page.locator("#referral-link").inner_text().strip()
    assert link.startswith(f"{live_server.url}/r/")
    expect(page.locator("main .empty").first).to_have_text("Nobody has followed your link yet.")
    expect(page.get_by_role("button", name="Move to my balance")).to_be_disabled()
    page.get_by_role("button", name="Copy").click()
    expect(page.locator("[data-copy-status]")).to_have_text("Copied.")
    assert page.evaluate("navigator.clipboard.readText()") == link
    shot(page, "en-affiliates-empty")

    # A visitor, in a browser of their own, follows it and signs up.
    visitor_context = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=live_server.url)
    visitor = visitor_context.new_page()
    visitor.on("pageerror", lambda exc: browser_errors.append(f"{visitor.url}: {exc}"))
    try:
        visitor.goto(link)
        expect(_heading(visitor)).to_have_text("Create an account")
        shot(visitor, "en-referral-signup")
        visitor.fill("#id_username", "dave")
        visitor.fill("#id_email", "dave@example.com")
        visitor.fill("#id_password", PASSWORD)
        visitor.fill("#id_password_again", PASSWORD)
        visitor.locator("main button.primary").click()
        expect(_heading(visitor)).to_have_text("New order")
    finally:
        visitor_context.close()
    referral = Referral.objects.select_related("referred", "referrer").get()
    assert (referral.referred.username, referral.referrer.username) == ("dave", "alice")

    # Dave orders 10,000 (13.50 USD); the provider delivers it all and a poll cycle completes it: 5% is 0.675.
    wallet_credit(user=referral.referred, amount=Decimal(20))
    order = order_place(user=referral.referred, service_id=services[1].pk,
                        params={"link": "https://instagram.com/p/referred", "quantity": "10000"})  # fmt: skip
    assert order.charge == Decimal("13.50000")
    simulator.force_outcome = "Completed"
    _send_and_poll(simulator)
    assert LedgerEntry.objects.get(order=order, kind=LedgerEntry.Kind.COMMISSION).amount == Decimal("0.67500")

    page.reload()
    expect(_figure(page, "visits")).to_have_text("1")
    expect(_figure(page, "signups")).to_have_text("1")
    expect(_figure(page, "spend")).to_have_text("13.50 USD")
    expect(_figure(page, "earned")).to_have_text("0.675 USD")
    month = page.locator("table.affiliate-months tbody tr")
    expect(month).to_have_count(1)
    expect(month.locator("td")).to_have_text([re.compile(r"\S"), "1", "1", "13.50 USD", "0.675 USD"])
    expect(page.locator("[data-affiliate-balance]")).to_have_text("0.675 USD")
    expect(_balance(page)).to_have_text("0.00 USD")
    shot(page, "en-affiliates")

    page.get_by_role("button", name="Move to my balance").click()
    expect(page.locator(".messages")).to_have_text("0.675 USD moved to your balance.")
    expect(_balance(page)).to_have_text("0.675 USD")
    expect(page.locator("[data-affiliate-balance]")).to_have_text("0.00 USD")
    expect(_figure(page, "moved")).to_have_text("0.675 USD")
    expect(page.locator("table.affiliate-movements tbody tr")).to_contain_text("Moved to your balance")
    shot(page, "en-affiliates-moved")
    page.set_viewport_size(PHONE)
    shot(page, "en-phone-affiliates")
    page.set_viewport_size(DESKTOP)

    _go(page, "Add funds")
    expect(page.locator("main table tr").filter(has_text="From affiliate earnings")).to_contain_text("+0.675")

    # The same page in Japanese.
    _to_japanese(page)
    _go(page, "アフィリエイト")
    expect(page.locator("#link-title")).to_have_text("あなたの紹介リンク")
    expect(page.get_by_role("button", name="残高へ移す")).to_be_disabled()
    expect(page.locator("table.affiliate-months tbody tr td").first).to_contain_text("年")
    expect(page.locator("table.affiliate-movements tbody tr")).to_contain_text("残高へ移動")
    shot(page, "ja-affiliates")
    _sign_out(page)
