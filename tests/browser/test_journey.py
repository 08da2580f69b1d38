"""A customer's journeys in a real browser: sign up, get funds, order, follow the order, get the undelivered
share back, ask for a refill; in English and in Japanese; a mass order; Refill and Cancel answering in the row."""

import re
from decimal import Decimal

import pytest
from playwright.sync_api import Dialog, Locator, Page, expect
from playwright.sync_api import Error as PlaywrightError

from billing.models import DepositRequest, LedgerEntry
from billing.services import deposit_approve, wallet_credit
from orders.models import Order
from orders.selectors import forward_due
from orders.services.forwarding import order_forward
from orders.services.operators import order_finish
from orders.services.placement import order_place
from orders.services.polling import poll_statuses
from tests.browser.conftest import DESKTOP, PHONE, shot
from tests.factories import PaymentMethodFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple"

# What the customer reads, by language; the Japanese follows locale/ja/LC_MESSAGES/django.po.
TEXTS = {
    "en": {
        "login": "Sign in",
        "signup": "Create an account",
        "welcome": "Welcome! Add funds to place your first order.",
        "new_order": "New order",
        "mass_order": "Mass order",
        "funds": "Add funds",
        "deposit_sent": "Thank you: your deposit of 25.00 USD is waiting for our check.",
        "approved": "Approved",
        "placed": r"Order (\d+) is placed: 1\.35 USD charged\. Your balance is now 23\.65 USD\.",
        "orders": "Orders",
        "pending": "Pending",
        "partial": "Partial",
        "refund": "Refund",
        "refill_requested": "Refill requested for order {id}. Follow it on the Refills page.",
        "refills": "Refills",
        "services": "Services",
        "api": "API",
        "generate_key": "Generate key",
        "account": "Account",
        "checked": ["2 valid orders", "1 line with an error (it will be skipped)", "Total 4.05 USD"],
        "too_few": "Quantity less than minimal 50",
        "place_two": "Place 2 orders",
        "mass_placed": ["2 orders placed", "1 line not placed", "Charged 4.05 USD"],
        "order_n": "Order {id}",
    },
    "ja": {
        "login": "ログイン",
        "signup": "新規登録",
        "welcome": "ようこそ！残高をチャージすると、最初の注文ができます。",
        "new_order": "新規注文",
        "mass_order": "一括注文",
        "funds": "残高チャージ",
        "deposit_sent": "ありがとうございます。25.00 USD の入金申請を受け付けました。",
        "approved": "承認済み",
        "placed": r"注文 (\d+) を受け付けました。料金 1\.35 USD を差し引き、残高は 23\.65 USD になりました。",
        "orders": "注文履歴",
        "pending": "保留中",
        "partial": "一部完了",
        "refund": "返金",
        "refill_requested": "注文 {id} のリフィルを依頼しました。進捗はリフィルのページでご確認ください。",
        "refills": "リフィル",
        "services": "サービス一覧",
        "api": "API",
        "generate_key": "キーを発行",
        "account": "アカウント",
        "checked": ["有効な注文 2 件", "エラーのある行 1 件（スキップされます）", "合計 4.05 USD"],
        "too_few": "数量が最小値 50 未満です",
        "place_two": "2 件を注文する",
        "mass_placed": ["2 件を注文しました", "1 行は注文されませんでした", "請求額 4.05 USD"],
        "order_n": "注文 {id}",
    },
}


@pytest.fixture
def operator(db):
    return UserFactory.create(username="olivia", is_staff=True, is_superuser=True)


@pytest.fixture
def bank(db):
    return PaymentMethodFactory.create(name="Bank transfer", minimum=Decimal(10))


def _heading(page: Page) -> Locator:
    return page.locator("main h1")


def _balance(page: Page) -> Locator:
    """The balance in the top bar."""
    return page.locator(".topbar [data-balance]")


def _go(page: Page, text: str) -> None:
    """Follow a link of the side menu, as a customer does."""
    page.locator(".sidenav").get_by_role("link", name=text, exact=True).click()
    expect(_heading(page)).to_have_text(text)


def _to_japanese(page: Page) -> None:
    page.locator(".topbar form.language").get_by_role("button", name="日本語").click()
    expect(page.locator("html")).to_have_attribute("lang", "ja")


def _sign_in(page: Page, username: str, lang: str) -> None:
    page.goto("/accounts/login/")
    if lang == "ja":
        _to_japanese(page)
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.locator("main button.primary").click()
    expect(_heading(page)).to_have_text(TEXTS[lang]["new_order"])


def _order_row(page: Page, order_id: int) -> Locator:
    rows = page.locator("table.orders tbody tr")
    return rows.filter(has=page.locator("td:first-child", has_text=re.compile(rf"^\s*{order_id}\s*$")))


def _send_and_poll(simulator) -> None:
    """The worker's step (send what is queued), then one polling cycle once the provider is done."""
    for order_id in forward_due():
        assert order_forward(order_id=order_id) == "sent"
    simulator.clock.advance(3600)
    poll_statuses(everything=True)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_customer_signs_up_orders_and_gets_the_undelivered_share_back(
    page, lang, services, simulator, bank, operator
):
    texts = TEXTS[lang]
    username = {"en": "alice", "ja": "bob"}[lang]
    service = services[1]

    page.goto("/accounts/login/")
    if lang == "ja":
        _to_japanese(page)
    expect(_heading(page)).to_have_text(texts["login"])
    shot(page, f"{lang}-login")

    page.locator('main a[href="/accounts/signup/"]').click()
    expect(_heading(page)).to_have_text(texts["signup"])
    shot(page, f"{lang}-signup")
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password", PASSWORD)
    page.fill("#id_password_again", PASSWORD)
    page.locator("main button.primary").click()
    expect(_heading(page)).to_have_text(texts["new_order"])
    expect(page.locator(".messages")).to_contain_text(texts["welcome"])
    expect(_balance(page)).to_have_text("0.00 USD")

    # The customer tells us about a payment; an operator finds it and approves it.
    _go(page, texts["funds"])
    page.fill("#id_amount", "25")
    page.select_option("#id_method", index=1)
    page.fill("#id_reference", "TX-2024-001")
    page.locator("main form button.primary").click()
    expect(page.locator(".messages")).to_contain_text(texts["deposit_sent"])
    deposit = DepositRequest.objects.get(user__username=username)
    assert deposit_approve(deposit_id=deposit.pk, actor=operator)
    page.reload()
    expect(_balance(page)).to_have_text("25.00 USD")
    expect(page.locator("main table").first).to_contain_text(texts["approved"])

    _go(page, texts["new_order"])
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
    expect(_balance(page)).to_have_text("23.65 USD")

    _go(page, texts["orders"])
    row = _order_row(page, order_id)
    expect(row).to_contain_text("https://instagram.com/p/journey")
    expect(row.locator(".badge")).to_have_text(texts["pending"])

    # The provider delivers 600 of the 1000: the order ends Partial and 400/1000 of 1.35 comes back.
    simulator.force_outcome = "Partial"
    _send_and_poll(simulator)
    page.reload()
    expect(row.locator(".badge")).to_have_text(texts["partial"])
    expect(row.locator("td").nth(8)).to_have_text("400")  # remains
    expect(_balance(page)).to_have_text("24.19 USD")
    row.locator("form[action$='/refill/'] button").click()
    expect(row.locator(".followup-result")).to_have_text(texts["refill_requested"].format(id=order_id))
    shot(page, f"{lang}-orders")
    if lang == "en":
        page.set_viewport_size(PHONE)
        shot(page, "en-phone-orders")
        page.goto(f"/orders/new/?service={service.pk}")
        page.fill("#id_link", "https://instagram.com/p/phone")
        page.fill("#id_quantity", "2000")
        expect(page.locator("output#charge")).to_have_text("2.70 USD")
        shot(page, "en-phone-new-order")
        page.set_viewport_size(DESKTOP)

    _go(page, texts["refills"])
    refill_row = page.locator("table.refills tbody tr")
    expect(refill_row).to_have_count(1)
    expect(refill_row).to_contain_text(str(order_id))
    expect(refill_row.locator(".badge")).to_have_text(texts["pending"])
    shot(page, f"{lang}-refills")

    _go(page, texts["funds"])
    refund_row = page.locator("main table tr").filter(has_text=texts["refund"])
    expect(refund_row).to_contain_text("+0.54")
    shot(page, f"{lang}-funds")

    # The home page's summary: spent this month is the charge less its refund.
    page.locator("a.brand").click()
    expect(page.locator(".home-summary .tile dd").nth(1)).to_have_text("0.81 USD")
    expect(page.locator(".home-summary .last-orders tbody tr")).to_have_count(1)
    shot(page, f"{lang}-home")

    _go(page, texts["services"])
    expect(page.locator("table.services")).to_contain_text(service.name)
    shot(page, f"{lang}-services")

    _go(page, texts["api"])
    page.get_by_role("button", name=texts["generate_key"]).click()
    expect(page.locator("#new-api-key")).to_have_text(re.compile(r"\S{40,}"))
    shot(page, f"{lang}-api")

    _go(page, texts["account"])
    expect(page.locator("#id_email")).to_have_value(f"{username}@example.com")
    shot(page, f"{lang}-account")

    refunds = LedgerEntry.objects.filter(order_id=order_id, kind=LedgerEntry.Kind.REFUND)
    assert [entry.amount for entry in refunds] == [Decimal("0.54000")]


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_mass_order_places_the_good_lines_and_shows_the_bad_one(page, lang, services, charlie):
    texts = TEXTS[lang]
    wallet_credit(user=charlie, amount=Decimal(10))
    pk = services[1].pk
    lines = [
        f"{pk} | https://instagram.com/p/one | 1000",
        f"{pk} | https://instagram.com/p/two | 10",
        f"{pk} | https://instagram.com/p/three | 2000",
    ]
    _sign_in(page, "charlie", lang)

    _go(page, texts["mass_order"])
    page.fill("#id_orders", "\n".join(lines))
    page.locator("button[name=step][value=check]").click()
    summary = page.locator(".summary")
    for text in texts["checked"]:
        expect(summary).to_contain_text(text)
    bad = page.locator("tr.line-bad")
    expect(bad).to_have_count(1)
    expect(bad).to_contain_text("https://instagram.com/p/two")
    expect(bad.locator(".field-error")).to_contain_text(texts["too_few"])
    expect(_balance(page)).to_have_text("10.00 USD")
    shot(page, f"{lang}-mass-order")

    place = page.locator("button[name=step][value=place]")
    expect(place).to_contain_text(texts["place_two"])
    place.click()
    for text in texts["mass_placed"]:
        expect(page.locator(".summary")).to_contain_text(text)
    placed = Order.objects.filter(user=charlie).order_by("pk")
    assert [order.link for order in placed] == ["https://instagram.com/p/one", "https://instagram.com/p/three"]
    outcomes = page.locator("table tbody tr")
    expect(outcomes.nth(0)).to_contain_text(texts["order_n"].format(id=placed[0].pk))
    expect(outcomes.nth(1)).to_contain_text(texts["too_few"])
    expect(outcomes.nth(2)).to_contain_text(texts["order_n"].format(id=placed[1].pk))
    expect(_balance(page)).to_have_text("5.95 USD")
    shot(page, f"{lang}-mass-order-placed")


def test_refill_and_cancel_answer_in_the_order_row(page, browser_errors, alice, services, simulator, operator):
    service = services[1]

    def place(link: str) -> Order:
        return order_place(user=alice, service_id=service.pk, params={"link": link, "quantity": "1000"})

    simulator.force_outcome = "Completed"
    delivered = place("https://instagram.com/p/delivered")
    _send_and_poll(simulator)
    running, finishing = place("https://instagram.com/p/running"), place("https://instagram.com/p/finishing")
    for order in (running, finishing):
        assert order_forward(order_id=order.pk) == "sent"
    unsent = place("https://instagram.com/p/unsent")
    _sign_in(page, "alice", "en")
    _go(page, "Orders")
    expect(_balance(page)).to_have_text("94.60 USD")

    row = _order_row(page, delivered.pk)
    expect(row.locator(".badge")).to_have_text("Completed")
    expect(row.locator("form[action$='/cancel/']")).to_have_count(0)
    row.locator("form[action$='/refill/'] button").click()
    expect(row.locator(".followup-result")).to_have_text(
        f"Refill requested for order {delivered.pk}. Follow it on the Refills page."
    )
    expect(row.locator("form[action$='/refill/'] button")).to_be_disabled()

    row = _order_row(page, running.pk)
    expect(row.locator("form[action$='/refill/']")).to_have_count(0)
    row.locator("form[action$='/cancel/'] button").click()
    expect(row.locator(".followup-result")).to_have_text(
        f"Cancel requested for order {running.pk}. If the provider cancels it, the unused part is refunded."
    )

    row = _order_row(page, unsent.pk)
    row.locator("form[action$='/cancel/'] button").click()
    expect(row.locator(".followup-result")).to_have_text(
        f"Order {unsent.pk} is canceled and its charge is back in your balance."
    )

    # Finished by an operator while the page was open: the button is still there, the answer says no.
    order_finish(order_id=finishing.pk, status="Completed", actor=operator)
    row = _order_row(page, finishing.pk)
    row.locator("form[action$='/cancel/'] button").click()
    expect(row.locator(".followup-result")).to_have_text("Cancel is disabled for this order")
    expect(row.locator(".followup-result")).to_have_class(re.compile(r"\bbad\b"))
    # The refusal's HTTP 400 is what Chromium logs; that one is expected.
    refused = [error for error in browser_errors if "status of 400" in error]
    assert len(refused) == 1
    browser_errors.remove(refused[0])

    page.reload()
    expect(_balance(page)).to_have_text("95.95 USD")
    expect(_order_row(page, unsent.pk).locator(".badge")).to_have_text("Canceled")
    expect(_order_row(page, running.pk)).to_contain_text("Cancel requested")
    expect(_order_row(page, delivered.pk).locator("form[action$='/refill/']")).to_have_count(0)


def test_regenerating_the_api_key_asks_once(page, alice):
    _sign_in(page, "alice", "en")
    _go(page, "API")
    page.get_by_role("button", name="Generate key").click()
    first_key = page.locator("#new-api-key").inner_text()
    questions = []

    def answer(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    _go(page, "API")
    page.get_by_role("button", name="Regenerate key").click()
    expect(page.locator("#new-api-key")).not_to_have_text(first_key)
    assert questions == ["Regenerate the key? The current key stops working at once."]


def test_the_pages_refuse_a_script_injected_into_them(page, browser_errors, alice):
    _sign_in(page, "alice", "en")
    for path in ("/orders/new/", "/orders/", "/services/", "/funds/", "/api/"):
        page.goto(path)
        with pytest.raises(PlaywrightError):
            page.add_script_tag(content="window.injected = true;")
        assert page.evaluate("window.injected === undefined")
    refused = [error for error in browser_errors if "Content Security Policy" in error]
    assert len(refused) == 5, browser_errors
    browser_errors.clear()


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_customer_turns_on_two_factor_sign_in_with_the_qr_code(page, lang, alice):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    _sign_in(page, "alice", lang)
    page.goto("/account/")
    page.locator("a[href^='/accounts/two-factor/']").click()
    expect(page.locator(".qr-code svg")).to_be_visible()
    shot(page, f"{lang}-two-factor-enrol")
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    page.fill("#code", f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}")
    page.locator("main button.primary").click()
    expect(page.locator(".backup-codes code")).to_have_count(10)
    shot(page, f"{lang}-two-factor-backup-codes")
    assert TOTPDevice.objects.get(user=alice).confirmed

    page.context.clear_cookies()  # signed out: the next sign-in asks for the code
    page.goto("/accounts/login/")
    if lang == "ja":
        _to_japanese(page)
    page.fill("#id_username", "alice")
    page.fill("#id_password", PASSWORD)
    page.locator("main button.primary").click()
    expect(page.locator("#code")).to_be_visible()
    shot(page, f"{lang}-two-factor-code")
