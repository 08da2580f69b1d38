"""A customer's notifications in a real browser: the header's unread badge, the list with the unread marked, mark
all as read, and the email choices on the account page; in English and in Japanese."""

import pytest
from playwright.sync_api import Page, expect

from notifications.models import NotificationPreferences
from orders.models import Order
from orders.services.followups import refill_request, refills_forward, refills_poll
from orders.services.polling import poll_statuses
from tests.browser.conftest import PHONE, shot
from tests.notifications.conftest import sent

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
TEXTS = {
    "en": {
        "heading": "Notifications",
        "completed": "Order {id} is completed.",
        "partial": "Order {id} was partly delivered: 0.54 USD for the rest is back in your balance.",
        "canceled": "Order {id} is canceled: 0.675 USD is back in your balance.",
        "refill": "The refill of order {id} is completed.",
        "mark": "Mark all as read",
        "marked": "Your notifications are marked as read.",
        "emails": "Email notifications",
        "api_orders": "an order placed through the API ends",
        "save": "Save email choices",
        "saved": "Your email choices are saved.",
    },
    "ja": {
        "heading": "お知らせ",
        "completed": "注文 {id} が完了しました。",
        "partial": "注文 {id} は一部のみ納品されました。未納品分の 0.54 USD を残高に返金しました。",
        "canceled": "注文 {id} はキャンセルされました。0.675 USD を残高に返金しました。",
        "refill": "注文 {id} のリフィルが完了しました。",
        "mark": "すべて既読にする",
        "marked": "お知らせをすべて既読にしました。",
        "emails": "メール通知",
        "api_orders": "API経由の注文が終了したとき",
        "save": "メール通知の設定を保存",
        "saved": "メール通知の設定を保存しました。",
    },
}


def _ended_orders(alice, services, simulator) -> dict[str, Order]:
    """Three orders that ended upstream (Completed, Partial, Canceled) and a refill of the first one that ended."""
    orders = {}
    for outcome, quantity in (("Completed", "1000"), ("Partial", "1000"), ("Canceled", "500")):
        simulator.force_outcome = outcome
        [orders[outcome.lower()]] = sent(alice, services[1], quantity=quantity)
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    refill_request(user=alice, order_id=orders["completed"].pk)
    refills_forward()
    simulator.clock.advance(3600)
    refills_poll(everything=True)
    return orders


def _sign_in(page: Page, lang: str) -> None:
    page.goto("/accounts/login/")
    if lang == "ja":
        page.locator(".topbar form.language").get_by_role("button", name="日本語").click()
        expect(page.locator("html")).to_have_attribute("lang", "ja")
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.locator("main button.primary").click()
    expect(page.locator(".topbar .bell")).to_be_visible()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_customer_reads_their_notifications_and_chooses_their_emails(page: Page, lang, alice, services, simulator):
    texts = TEXTS[lang]
    orders = _ended_orders(alice, services, simulator)
    _sign_in(page, lang)
    bell = page.locator(".topbar .bell")
    expect(bell.locator(".count")).to_contain_text("4")

    bell.click()
    expect(page.get_by_role("heading", name=texts["heading"], exact=True)).to_be_visible()
    rows = page.locator("table.notifications tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.locator("td:nth-child(2) a")).to_have_text([
        texts["refill"].format(id=orders["completed"].pk),
        texts["canceled"].format(id=orders["canceled"].pk),
        texts["partial"].format(id=orders["partial"].pk),
        texts["completed"].format(id=orders["completed"].pk),
    ])  # fmt: skip
    expect(page.locator("table.notifications tr.unread")).to_have_count(4)
    shot(page, f"{lang}-notifications")

    page.get_by_role("button", name=texts["mark"]).click()
    expect(page.locator(".messages")).to_contain_text(texts["marked"])
    expect(page.locator("table.notifications tr.unread")).to_have_count(0)
    expect(bell.locator(".count")).to_have_count(0)
    expect(page.get_by_role("button", name=texts["mark"])).to_have_count(0)
    shot(page, f"{lang}-notifications-read")

    page.set_viewport_size(PHONE)
    simulator.force_outcome = "Completed"
    sent(alice, services[1])
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    page.reload()
    expect(bell.locator(".count")).to_contain_text("1")
    expect(page.locator("table.notifications tr.unread")).to_have_count(1)
    shot(page, f"{lang}-notifications-phone")

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/account/")
    emails = page.locator("section[aria-labelledby='emails-title']")
    expect(emails.get_by_role("heading", name=texts["emails"])).to_be_visible()
    checkboxes = emails.locator("input[type=checkbox]")
    expect(checkboxes).to_have_count(4)
    assert [checkboxes.nth(n).is_checked() for n in range(4)] == [True, False, True, False]
    emails.get_by_label(texts["api_orders"], exact=True).check()
    shot(page, f"{lang}-account-notifications")
    emails.get_by_role("button", name=texts["save"]).click()
    expect(page.locator(".messages")).to_contain_text(texts["saved"])
    assert NotificationPreferences.objects.get(user=alice).email_api_orders is True
    expect(page.locator("section[aria-labelledby='emails-title'] input[type=checkbox]").nth(1)).to_be_checked()
