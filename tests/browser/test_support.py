"""Support in a real browser: a customer asks about an order (from its row on the Orders page), a Support staff
member answers in the admin with a canned reply, the customer sees the answer; in English and in Japanese. And a
cancel question offers the cancel itself, answered in place."""

import re
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from backoffice.roles import roles_apply
from orders.models import Order
from orders.services.forwarding import order_forward
from orders.services.placement import order_place
from support.models import Ticket
from tests.browser.conftest import DESKTOP, shot
from tests.browser.test_journey import _go, _heading, _order_row, _sign_in
from tests.factories import CannedReplyFactory, UserFactory, second_factor_confirmed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TEXTS = {
    "en": {
        "support": "Support",
        "new_ticket": "New ticket",
        "get_help": "Get help",
        "speed_up": "Speed up an order",
        "send": "Send ticket",
        "sent": "Your ticket is sent. We answer here, and tell you by email.",
        "answered": "Answered",
        "new_reply": "1 new reply",
        "you": "You",
        "staff": "Support",
        "new": "New",
        "cancel_offer": "You can cancel this yourself, right now",
        "cancel": "Cancel an order",
        "canceled": "Order {id} is canceled and its charge is back in your balance.",
        "cancel_button": "Cancel order {id}",
        "anyway": "Send the ticket anyway",
    },
    "ja": {
        "support": "サポート",
        "new_ticket": "新規お問い合わせ",
        "get_help": "問い合わせる",
        "speed_up": "注文の速度アップ",
        "send": "送信する",
        "sent": "お問い合わせを送信しました。回答はこのページに表示し、メールでもお知らせします。",
        "answered": "回答あり",
        "new_reply": "新しい返信 1 件",
        "you": "あなた",
        "staff": "サポート",
        "new": "新着",
    },
}
CANNED = "Your order is with the provider, who is speeding it up. It should finish within 24 hours."


@pytest.fixture
def sue(db) -> User:
    """A staff member of the Support role (no superuser); the role's group is made again after each flush."""
    roles_apply()
    user = UserFactory.create(username="sue", email="sue@panel.example", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def staff_page(browser: Browser, live_server, sue: User) -> Iterator[Page]:
    """Sue's browser, signed in to the admin past her second factor."""
    client = Client()
    client.force_login(sue)
    session = second_factor_confirmed(client, sue).cookies["sessionid"].value
    context = browser.new_context(viewport=DESKTOP, locale="en-US", base_url=live_server.url)
    context.set_default_timeout(10_000)
    context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    errors: list[str] = []
    tab = context.new_page()
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors


def _sent_order(alice: User, service) -> Order:
    params = {"link": "https://instagram.com/p/slow", "quantity": "1000"}
    order = order_place(user=alice, service_id=service.pk, params=params)
    assert order_forward(order_id=order.pk) == "sent"
    order.refresh_from_db()
    return order


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_customer_asks_about_an_order_and_reads_the_answer(page, staff_page, lang, alice, services, sue):
    texts = TEXTS[lang]
    CannedReplyFactory.create(title="Speeding up", body=CANNED)
    order = _sent_order(alice, services[1])
    _sign_in(page, "alice", lang)

    _go(page, texts["support"])
    expect(page.locator(".card.empty")).to_be_visible()
    page.goto("/orders/")
    _order_row(page, order.pk).get_by_role("link", name=texts["get_help"]).click()
    expect(_heading(page)).to_have_text(texts["new_ticket"])
    expect(page.locator(f"input[name=orders][value='{order.pk}']")).to_be_checked()
    page.fill("#id_subject", "Slow followers" if lang == "en" else "フォロワーの増加が遅い")
    page.select_option("#id_kind", label=texts["speed_up"])
    expect(page.locator("#ticket-orders")).to_be_visible()
    page.select_option("#id_kind", value="payment")
    expect(page.locator("#ticket-orders")).to_be_hidden()  # the orders are for order problems only
    page.select_option("#id_kind", value="speed_up")
    said = {"en": "Ordered yesterday, <b>nothing</b> yet:", "ja": "昨日注文しましたが、<b>まだ</b>増えていません:"}
    body = f"{said[lang]} https://instagram.com/p/slow"
    page.fill("#id_body", body)
    shot(page, f"{lang}-ticket-new")
    page.get_by_role("button", name=texts["send"]).click()
    expect(page.locator(".messages")).to_contain_text(texts["sent"])
    ticket = Ticket.objects.get(customer=alice)
    assert list(ticket.orders.all()) == [order]
    expect(page.locator(".ticket-message.from-customer .ticket-message-body")).to_have_text(body)
    expect(page.locator(".ticket-message a")).to_have_count(0)
    shot(page, f"{lang}-ticket")

    # Sue finds it at the top of the admin's list and answers it with a canned reply.
    staff_page.goto("/admin/support/ticket/")
    first = staff_page.locator("#result_list tbody tr").first
    expect(first).to_contain_text(ticket.subject)
    expect(first).to_contain_text("Open")
    if lang == "en":
        shot(staff_page, "admin-tickets")
    first.get_by_role("link", name=str(ticket.pk)).click()
    expect(staff_page.locator(".ticket-message.from-customer")).to_contain_text(body)
    expect(staff_page.locator(".ticket-message a")).to_have_count(0)  # the customer's link is text
    expect(staff_page.locator(f".ticket-orders tr[data-order='{order.pk}']")).to_contain_text(str(order.upstream_id))
    staff_page.wait_for_load_state("load")  # the deferred script that fills canned replies has run
    staff_page.fill("#id_body", "Hello alice,")
    staff_page.select_option("#id_canned", label="Speeding up")
    expect(staff_page.locator("#id_body")).to_have_value(f"Hello alice,\n\n{CANNED}")
    expect(staff_page.locator("#id_canned")).to_have_value("")
    if lang == "en":
        shot(staff_page, "admin-ticket")
    staff_page.get_by_role("button", name="Send reply").click()
    expect(staff_page.locator(".messagelist")).to_contain_text("Your reply is sent")
    expect(staff_page.locator(".ticket-message.from-staff")).to_contain_text(CANNED)
    if lang == "en":
        shot(staff_page, "admin-ticket-answered")

    # The customer sees the answer: in the menu, in the list, on the ticket's page.
    page.goto("/orders/")
    menu = page.locator(".sidenav a[href='/tickets/']")
    expect(menu.locator(".nav-count")).to_have_text("1")
    menu.click()
    expect(_heading(page)).to_have_text(texts["support"])
    row = page.locator("table.tickets tbody tr").first
    expect(row.locator(".badge.ticket-answered")).to_have_text(texts["answered"])
    expect(row.locator(".badge.new")).to_have_text(texts["new_reply"])
    shot(page, f"{lang}-tickets")
    row.get_by_role("link").click()
    staff_message = page.locator(".ticket-message.from-staff")
    expect(staff_message.locator(".ticket-message-head")).to_contain_text(texts["staff"])
    expect(staff_message.locator(".badge.new")).to_have_text(texts["new"])
    expect(staff_message.locator(".ticket-message-body")).to_have_text(f"Hello alice,\n\n{CANNED}")
    shot(page, f"{lang}-ticket-answered")
    page.reload()
    expect(page.locator(".sidenav .nav-count")).to_have_count(0)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.ANSWERED and ticket.assignee == sue


def test_a_cancel_question_offers_the_cancel_at_once(page, alice, services):
    texts = TEXTS["en"]
    order = order_place(user=alice, service_id=services[1].pk, params={"link": "https://x.com/p/1", "quantity": "1000"})
    _sign_in(page, "alice", "en")
    page.goto(f"/tickets/new/?order={order.pk}")
    page.fill("#id_subject", "Wrong link")
    page.select_option("#id_kind", label=texts["cancel"])
    page.fill("#id_body", "I typed the wrong link, please cancel.")
    page.get_by_role("button", name=texts["send"]).click()
    expect(page.locator("#self-service-title")).to_have_text(texts["cancel_offer"])
    assert not Ticket.objects.exists()
    shot(page, "en-ticket-offer")
    page.get_by_role("button", name=texts["cancel_button"].format(id=order.pk)).click()
    expect(page.locator(".self-service .followup-result")).to_have_text(texts["canceled"].format(id=order.pk))
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELED
    shot(page, "en-ticket-offer-done")
    page.get_by_role("button", name=texts["anyway"]).click()
    expect(page.locator("h1")).to_have_text("Wrong link")
    assert re.fullmatch(r".*/tickets/\d+/", page.url)
