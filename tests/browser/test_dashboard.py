"""An operator opens the admin and reads the dashboard of a known scenario (tests/backoffice/test_dashboard.py),
in English and in Japanese."""

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from tests.backoffice.test_dashboard import scenario  # noqa: F401
from tests.browser.conftest import shot
from tests.factories import UserFactory, second_factor_confirmed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.ledger_mismatch_expected]

TEXTS = {
    "en": {"heading": "Orders placed", "revenue": "Revenue", "attention": "Needs attention", "runway": "77.8 days"},
    "ja": {"heading": "受け付けた注文", "revenue": "売上", "attention": "対応が必要", "runway": "77.8 日"},
}
# The scenario's figures, as computed by hand in tests/backoffice/test_dashboard.py.
FIGURES = {
    "revenue-today": "4.50 USD", "cost-today": "3.00 USD", "profit-today": "1.50 USD", "orders-today": "2",
    "revenue-week": "8.70 USD", "cost-week": "5.10 USD", "profit-week": "3.60 USD", "orders-week": "5",
    "revenue-month": "14.70 USD", "cost-month": "9.10 USD", "profit-month": "5.60 USD", "orders-month": "7",
    "deposits-today": "130.00 USD", "deposits-week": "180.00 USD", "bonuses-week": "5.00 USD",
    "reversals-today": "36.00 USD", "wallet-balance": "159.30 USD", "wallet-debt": "4.00 USD",
    "commissions-month": "0.15 USD", "affiliate-balance": "0.15 USD",
}  # fmt: skip


def _signed_in_operator(page: Page, live_server, lang: str) -> None:
    """The operator's session, past its second factor, in the browser; the language switch's cookie for Japanese."""
    olivia = UserFactory.create(username="olivia", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(olivia)
    session = second_factor_confirmed(client, olivia).cookies["sessionid"].value
    cookies = [{"name": "sessionid", "value": session, "url": live_server.url}]
    if lang == "ja":
        cookies.append({"name": "django_language", "value": "ja", "url": live_server.url})
    page.context.add_cookies(cookies)  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_an_operator_reads_the_dashboard(page: Page, live_server, lang, scenario):  # noqa: F811
    _signed_in_operator(page, live_server, lang)
    page.goto("/admin/")
    texts = TEXTS[lang]
    dashboard = page.locator("#dashboard")
    expect(dashboard.get_by_role("heading", name=texts["heading"])).to_be_visible()
    expect(dashboard.locator("th", has_text=texts["revenue"]).first).to_be_visible()
    for figure, text in FIGURES.items():
        expect(dashboard.locator(f"[data-figure='{figure}']")).to_have_text(text)
    attention = dashboard.locator(".ops-attention a")
    expect(attention).to_have_count(9)
    expect(attention.locator(".ops-count")).to_have_text(["1", "1", "1", "1", "1", "1", "2", "1", "2"])
    alpha = dashboard.locator(f"tr[data-provider='{scenario.providers['alpha'].pk}']")
    expect(alpha.locator("[data-figure='runway']")).to_have_text(texts["runway"])
    expect(dashboard.locator("svg.ops-chart rect")).to_have_count(60 + 6)  # 30 days × 2, 6 statuses
    expect(page.locator("#content-main .app-orders")).to_be_visible()  # the app list stays
    shot(page, f"{lang}-admin-dashboard")

    attention.nth(6).click()  # services disabled by a sync
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
