"""An operator opens the staff API's docs (Swagger UI, served from our own static files under the strict CSP),
authorizes with a staff token and runs a call from the page."""

import re

import pytest
from playwright.sync_api import Page, expect

from api.staff.tokens import staff_token_issue
from tests.browser.conftest import shot
from tests.factories import OrderFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_reads_the_docs_and_tries_a_call(page: Page, live_server):
    sue = UserFactory.create(username="sue", is_staff=True, is_superuser=True)
    order = OrderFactory.create()
    token = staff_token_issue(user=sue)
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(live_server.url) else outside.append(r.url))

    page.goto("/api/staff/docs/")
    expect(page.locator(".info .title")).to_contain_text("SMM panel staff API")
    operations = page.locator(".opblock")
    expect(operations).to_have_count(30)
    expect(page.locator("#operations-tag-orders")).to_be_visible()
    expect(page.locator("#operations-tag-manual-orders")).to_be_visible()
    shot(page, "staff-api-docs")

    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".auth-container input").fill(f"Token {token}")
    page.get_by_role("button", name="Apply credentials").click()
    page.locator(".modal-ux .btn-done").click()

    listing = page.locator("#operations-orders-orders_list")
    listing.locator(".opblock-summary").click()
    expect(listing).to_contain_text("Required permission: orders.view_order")
    listing.get_by_role("button", name="Try it out").click()
    listing.get_by_role("button", name="Execute").click()
    live = listing.locator(".live-responses-table tbody .response")
    expect(live.locator(".response-col_status")).to_have_text("200")
    expect(live.locator(".microlight").first).to_contain_text(re.compile(rf'"id": {order.pk}'))
    assert outside == []
