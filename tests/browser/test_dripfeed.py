"""A drip-feed the panel runs itself, in a real browser: ordered on the new-order page for a service whose provider
has no drip-feed, then one order on the orders page with its runs done; in English and in Japanese."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from catalog.services.listings import service_save
from orders.models import Order
from orders.services.dripfeed import dripfeeds_advance
from orders.services.forwarding import order_forward
from orders.services.polling import poll_statuses
from tests.browser.conftest import shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"
TEXTS = {
    "en": {"place": "Place order", "progress": "{done} of 5 runs done", "stopped": "is stopped"},
    "ja": {"place": "注文する", "progress": "5 回中 {done} 回完了", "stopped": "を停止しました"},
}


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
def test_a_customer_orders_a_dripfeed_the_panel_runs_and_follows_its_runs(page: Page, lang, alice, services, simulator):
    texts = TEXTS[lang]
    followers = services[1]
    followers.panel_dripfeed = True
    service_save(service=followers, fields=["panel_dripfeed"], actor=None)
    _sign_in(page, lang)
    page.goto(f"/orders/new/?service={followers.pk}")
    page.fill("#id_link", "https://instagram.com/p/drip")
    page.fill("#id_quantity", "1000")
    page.locator("#id_dripfeed").check()
    page.fill("#id_runs", "5")
    page.fill("#id_interval", "30")
    expect(page.locator("output#charge")).to_have_text("6.75 USD")  # 5 runs of 1000 at 1.35 per 1000
    shot(page, f"{lang}-dripfeed-new-order")
    page.locator("#submit-order").click()
    expect(page.locator(".messages")).to_be_visible()
    parent = Order.objects.get(user=alice)
    assert (parent.submission, parent.quantity, parent.runs) == ("drip", 5000, 5)

    simulator.force_outcome = "Completed"
    start = timezone.now()
    for run in range(2):
        for order_id in dripfeeds_advance(now=start + timedelta(minutes=30 * run)).placed:
            order_forward(order_id=order_id)
    simulator.clock.advance(3600)
    poll_statuses(everything=True)
    dripfeeds_advance(now=start + timedelta(minutes=31))
    page.goto("/orders/")
    rows = page.locator("table.orders tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").first).to_have_text(str(parent.pk))
    expect(rows.locator(".runs-done")).to_have_text(texts["progress"].format(done=2))
    expect(rows.locator("td").nth(8)).to_have_text("3,000")  # remains: 3 runs still to come
    shot(page, f"{lang}-dripfeed-orders")

    rows.locator("form[action$='/cancel/'] button").click()
    expect(rows.locator(".followup-result")).to_contain_text(texts["stopped"])
    dripfeeds_advance()
    page.reload()
    expect(rows.locator(".badge")).to_have_text("Partial" if lang == "en" else "一部完了")
    shot(page, f"{lang}-dripfeed-stopped")
