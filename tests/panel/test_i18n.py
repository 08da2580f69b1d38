"""The Japanese catalog holds every string marked in the code, and the Japanese pages keep no English from the UI.

What stays in Latin letters on a Japanese page is data (service, category and method names from upstream or the
admin, usernames, links, time zone names), a few brand and technical words (API, ID, URL, USD, Google...) and,
on the API page only, the API's own literals (parameter names, actions, status values), which clients type as is.
"""

import os
import re
import shutil
import subprocess
import sys
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "ja" / "LC_MESSAGES" / "django.po"
# Never part of the source that makemessages reads.
NOT_SOURCE = {".venv", "var", "test-artifacts", ".git", "tests", "locale", "node_modules"}
TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
REJECTION = "No such payment found on 2026-11-20."  # an operator's note to the customer: data


# --- the catalog ---------------------------------------------------------------------------------------------


@dataclass
class Entry:
    msgctxt: str | None = None
    msgid: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    fuzzy: bool = False
    obsolete: bool = False

    @property
    def untranslated(self) -> bool:
        return not self.msgstr or not all(self.msgstr.values())

    def __str__(self) -> str:
        return repr(self.msgid if self.msgctxt is None else f"{self.msgctxt}|{self.msgid}")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


def _unquote(text: str) -> str:
    text = text.strip()
    assert text.startswith('"') and text.endswith('"'), f"not a PO string: {text}"
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def parse_po(text: str) -> list[Entry]:
    """The entries of a PO file: msgctxt, msgid, msgid_plural, msgstr / msgstr[n] with continuation lines, flags."""
    entries: list[Entry] = []
    entry, target = Entry(), ""

    def flush() -> None:
        nonlocal entry, target
        if entry.msgid is not None:
            entries.append(entry)
        entry, target = Entry(), ""

    def append(name: str, value: str) -> None:
        if name.startswith("msgstr["):
            index = int(name[7:-1])
            entry.msgstr[index] = entry.msgstr.get(index, "") + value
        elif name == "msgstr":
            entry.msgstr[0] = entry.msgstr.get(0, "") + value
        else:
            setattr(entry, name, (getattr(entry, name) or "") + value)

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].strip()
            if not line or line.startswith("|"):
                continue
        elif line.startswith("#,"):
            entry.fuzzy = entry.fuzzy or "fuzzy" in (flag.strip() for flag in line[2:].split(","))
            continue
        elif line.startswith("#"):
            continue
        if line.startswith('"'):
            assert target, f"a continuation line outside an entry: {raw}"
            append(target, _unquote(line))
            continue
        keyword, _, value = line.partition(" ")
        if keyword in ("msgctxt", "msgid") and (entry.msgstr or (keyword == "msgctxt" and entry.msgid is not None)):
            flush()  # a new entry without a blank line before it
        target = keyword
        append(keyword, _unquote(value))
    flush()
    return entries


def _source_copy(destination: Path) -> None:
    """The project's source as makemessages reads it: every top-level folder with Python code or templates."""

    def holds_source(folder: Path) -> bool:
        return folder.name == "templates" or any(folder.rglob("*.py"))

    for path in sorted(ROOT.iterdir()):
        skipped = path.name in NOT_SOURCE or path.name.startswith(".") or path.name.endswith(".egg-info")
        if path.is_dir() and not skipped and holds_source(path):
            shutil.copytree(path, destination / path.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy2(ROOT / "manage.py", destination / "manage.py")
    shutil.copytree(ROOT / "locale", destination / "locale", ignore=shutil.ignore_patterns("*.mo"))


def test_the_japanese_catalog_is_complete(tmp_path):
    """makemessages over a copy of the source finds no string without a Japanese translation, and none fuzzy."""
    _source_copy(tmp_path)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "panel.settings"}
    run = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ja", "--add-location=file", "--verbosity=0"]
        + [f"--ignore={name}" for name in sorted(NOT_SOURCE - {"locale"})],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    po = tmp_path / "locale" / "ja" / "LC_MESSAGES" / "django.po"
    entries = [entry for entry in parse_po(po.read_text(encoding="utf-8")) if not entry.obsolete]
    header = next(entry for entry in entries if entry.msgid == "")
    assert not header.fuzzy, "the catalog's header is still marked fuzzy"
    assert "Plural-Forms: nplurals=1; plural=0;" in header.msgstr[0]
    assert "Language: ja" in header.msgstr[0]
    messages = [entry for entry in entries if entry.msgid]
    assert len(messages) > 200, "makemessages found far fewer strings than the panel has"
    untranslated = [str(entry) for entry in messages if entry.untranslated]
    fuzzy = [str(entry) for entry in messages if entry.fuzzy]
    assert not untranslated, f"{len(untranslated)} strings have no Japanese translation:\n" + "\n".join(untranslated)
    assert not fuzzy, f"{len(fuzzy)} translations are marked fuzzy (check and unmark them):\n" + "\n".join(fuzzy)
    plural = [str(entry) for entry in messages if entry.msgid_plural is not None and set(entry.msgstr) != {0}]
    assert not plural, "Japanese has one plural form, msgstr[0] only:\n" + "\n".join(plural)
    # msgfmt's checks: placeholders (%(name)s) and leading/trailing newlines as in the English.
    check = subprocess.run(
        ["msgfmt", "--check", "--check-format", "-o", str(tmp_path / "django.mo"), str(po)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


def test_the_catalog_keeps_every_placeholder():
    """Each translation carries exactly the placeholders and markup of its English (msgfmt checks only %(x)s)."""
    wrong = []
    for entry in parse_po(PO.read_text(encoding="utf-8")):
        if not entry.msgid or entry.obsolete:
            continue
        japanese = entry.msgstr.get(0, "")
        for pattern in (PLACEHOLDER, re.compile(r"</?\w+[^>]*>")):
            if sorted(re.findall(pattern, entry.msgid_plural or entry.msgid)) != sorted(re.findall(pattern, japanese)):
                wrong.append(str(entry))
    assert not wrong, "placeholders or markup differ:\n" + "\n".join(wrong)


# --- the pages -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def japanese_locale(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The catalog compiled as the build does, so that the pages use the .po as it is now (never a stale .mo)."""
    locale = tmp_path_factory.mktemp("locale")
    target = locale / "ja" / "LC_MESSAGES"
    target.mkdir(parents=True)
    subprocess.run(["msgfmt", "--check-format", "-o", str(target / "django.mo"), str(PO)], check=True)
    return locale


@pytest.fixture
def japanese(settings: Any, japanese_locale: Path) -> Path:
    settings.LOCALE_PATHS = [japanese_locale]  # also empties Django's translation caches
    return japanese_locale


class TextNodes(HTMLParser):
    """The text a reader meets on a page: text nodes and the attributes shown or read out, not code or scripts."""

    SKIPPED = {"script", "style", "code", "pre", "textarea"}
    READ = {"placeholder", "aria-label", "title", "alt", "label", "data-confirm", "data-copied", "data-copy-failed"}
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.texts: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in self.READ:
            if values.get(name):
                self.texts.append((f"<{tag} {name}>", values[name] or ""))
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.texts.append((f"<{tag} value>", values["value"] or ""))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.stack:
            while self.stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if data.strip() and not self.SKIPPED.intersection(self.stack):
            self.texts.append((f"<{self.stack[-1] if self.stack else ''}>", data))


# Brand and technical words a Japanese page writes in Latin letters too.
ALLOWED_WORDS = {"API", "ID", "SMM", "URL", "HTTP", "JSON", "POST", "Google", "Android", "iOS", "UTC", "JST"}
URL = re.compile(r"https?://\S+|\b[\w.+-]+@[\w-]+\.[\w.]+\b")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_'-]*")


def english_leftovers(html: str, *, data: Iterable[str], words: Iterable[str] = ()) -> list[str]:
    """Every piece of visible text that still has an English word once data and allowed words are taken out."""
    parser = TextNodes()
    parser.feed(html)
    known = sorted({text.strip() for text in data if text and text.strip()}, key=len, reverse=True)
    allowed = ALLOWED_WORDS | {settings.PANEL_CURRENCY} | set(words)
    found = []
    for where, text in parser.texts:
        rest = text
        for value in known:
            rest = rest.replace(value, " ")
        rest = URL.sub(" ", rest)
        english = [word for word in WORD.findall(rest) if len(word) > 1 and word not in allowed]
        if english:
            found.append(f"{where} {' '.join(text.split())!r}: {' '.join(english)}")
    return found


@dataclass
class Scene:
    """Alice, a Japanese customer in Tokyo, with orders in every state, refills, deposits and an API key."""

    customer: Client
    guest: Client
    services: dict[int, Any]
    orders: list[Any]
    refills: list[Any]
    ledger: list[Any]
    data: set[str]


def _short_datetime(moment: datetime) -> str:
    """Django's Japanese SHORT_DATETIME_FORMAT, "Y/m/d G:i", in Tokyo time."""
    local = moment.astimezone(TOKYO)
    return f"{local:%Y/%m/%d} {local.hour}:{local:%M}"


@pytest.fixture
def scene(japanese, alice, services) -> Scene:
    from accounts.services import api_key_issue
    from billing.models import DepositRequest, LedgerEntry
    from billing.services import deposit_approve, deposit_reject
    from catalog.models import Category, Service
    from catalog.selectors import catalog_changed
    from orders.models import Order, Refill
    from orders.services.followups import cancel_request, refill_request
    from orders.services.placement import order_place
    from tests.factories import DepositRequestFactory, OrderFactory, PaymentMethodFactory, RefillFactory, UserFactory

    cache.clear()  # sign-in rate limits from earlier runs
    alice.language, alice.time_zone = "ja", "Asia/Tokyo"
    alice.save()
    Service.objects.filter(pk=services[1].pk).update(average_seconds=7500)
    catalog_changed()
    followers, views = services[1], services[4]

    def place(link: str, quantity: str, service=followers):
        return order_place(user=alice, service_id=service.pk, params={"link": link, "quantity": quantity})

    placed = place("https://instagram.com/p/placed", "1000")
    canceled_unsent = place("https://instagram.com/p/changed-my-mind", "500")
    cancel_request(user=alice, order_id=canceled_unsent.pk)  # refunded at once
    delivered = {
        "completed_at": timezone.now() - timedelta(hours=1),
        "submission": Order.Submission.SENT,
        "user": alice,
    }
    done = OrderFactory.create(service=followers, status=Order.Status.COMPLETED, upstream_id=9001, **delivered)
    refilled = OrderFactory.create(service=views, status=Order.Status.COMPLETED, upstream_id=9002, **delivered)
    rejected = OrderFactory.create(service=followers, status=Order.Status.COMPLETED, upstream_id=9003, **delivered)
    orders = [
        placed,
        canceled_unsent,
        done,
        refilled,
        rejected,
        OrderFactory.create(user=alice, service=followers, status=Order.Status.IN_PROGRESS, quantity=25000),
        OrderFactory.create(user=alice, service=views, status=Order.Status.PARTIAL, remains=120),
        OrderFactory.create(user=alice, service=views, status=Order.Status.PROCESSING),
    ]
    refills = [
        refill_request(user=alice, order_id=refilled.pk),
        RefillFactory.create(order=rejected, status=Refill.Status.REJECTED),
        RefillFactory.create(order=done, status=Refill.Status.COMPLETED),
    ]

    staff = UserFactory.create(username="operator", is_staff=True)
    method = PaymentMethodFactory.create(name="Wise", instructions="Send to payments@example.com.\nIBAN XX00 1234")
    approved = DepositRequestFactory.create(user=alice, method=method, amount=Decimal("30"))
    deposit_approve(deposit_id=approved.pk, actor=staff)
    denied = DepositRequestFactory.create(user=alice, method=method, amount=Decimal("40"))
    deposit_reject(deposit_id=denied.pk, actor=staff, note=REJECTION)
    DepositRequestFactory.create(user=alice, method=method, amount=Decimal("50"))
    api_key_issue(user=alice)

    # Data customers and operators typed, or upstream named: shown as it is.
    data = {alice.username, alice.email, "English"}
    data |= {text for row in Service.objects.values_list("name", "description", "type") for text in row}
    data |= set(Category.objects.values_list("name", flat=True))
    data |= {method.name, method.instructions, REJECTION}
    data |= set(DepositRequest.objects.values_list("reference", flat=True))
    data |= {name.replace("_", " ") for name in zoneinfo.available_timezones()}

    customer = Client()
    customer.force_login(alice)
    guest = Client()
    guest.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    ledger = list(LedgerEntry.objects.filter(wallet__user=alice).order_by("pk"))
    return Scene(customer, guest, services, orders, refills, ledger, data)


def _api_words() -> tuple[set[str], set[str]]:
    """The API's literals (typed by clients as they are) and the type names it documents."""
    from api import docs
    from orders.models import Order

    words = {"true", "rate", "min", "max", "charge", "remains", "status", "refill", "cancel", "dripfeed"}
    words |= {param.name for param in docs.COMMON_PARAMS}
    for action in docs.ACTIONS:
        words |= {action.name, *(param.name for param in action.params)}
    for order_type in docs.ORDER_TYPES:
        words |= {*order_type.required, *order_type.optional}
    data = {order_type.name for order_type in docs.ORDER_TYPES} | set(Order.Status.values)
    data |= {status for action in docs.ACTIONS for status in action.statuses}
    return words, data


@dataclass(frozen=True)
class Page:
    """A page as a customer reaches it, and what it must show in the Japanese formats."""

    visit: Callable[[Scene], Any]
    shows: Callable[[Scene], list[str]] = lambda scene: []


def _mass_check(scene: Scene):
    lines = f"{scene.services[1].pk} | https://instagram.com/p/mass | 1000\nhttps://instagram.com/p/mass 1000"
    return scene.customer.post("/orders/mass/", {"orders": lines, "step": "check"})


def _mass_place(scene: Scene):
    lines = f"{scene.services[1].pk} | https://instagram.com/p/mass | 1000\n{scene.services[1].pk} | 12345 | 10"
    return scene.customer.post("/orders/mass/", {"orders": lines, "step": "place", "batch": "a" * 32})


def _new_order(scene: Scene, **params: str):
    service = params.pop("service", str(scene.services[1].pk))
    return scene.customer.post("/orders/new/", {"service": service, **params}, follow=True)


def _another_japanese_customer() -> Client:
    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory.create(username="dave", language="ja"))
    return client


def _answered_ticket(scene: Scene) -> int:
    """A ticket of alice's about her unsent order, answered by staff (the texts are what people typed: Japanese)."""
    from accounts.models import User
    from support.services import ticket_open, ticket_staff_reply

    ticket = ticket_open(
        customer=scene.orders[0].user, subject="フォロワーが増えません", kind="cancel",
        body="注文をキャンセルしたいです。", order_ids=[scene.orders[0].pk],
    )  # fmt: skip
    ticket_staff_reply(staff=User.objects.get(username="operator"), ticket_id=ticket.pk, body="確認いたします。")
    return ticket.pk


def _ticket_question(scene: Scene, **fields: object):
    question = {"subject": "至急", "kind": "cancel", "body": "キャンセルしてください。", "orders": [scene.orders[0].pk]}
    return scene.customer.post("/tickets/new/", {**question, **fields})


PAGES: dict[str, Page] = {
    "new-order": Page(
        lambda s: s.customer.get(f"/orders/new/?service={s.services[1].pk}"),
        lambda s: ["1000件あたりの料金", "2時間 5分", "最小 50 ～ 最大 10,000"],
    ),
    "new-order-placed": Page(
        lambda s: _new_order(s, link="https://instagram.com/p/new", quantity="2000"),
        lambda s: ["を受け付けました。料金 2.70 USD を差し引き"],
    ),
    "new-order-too-few": Page(
        lambda s: _new_order(s, link="https://instagram.com/p/new", quantity="10"),
        lambda s: ["数量が最小値 50 未満です"],
    ),
    "new-order-bad-link": Page(lambda s: _new_order(s, link="instagram", quantity="100")),
    "new-order-short-of-funds": Page(
        lambda s: _new_order(s, service=str(s.services[4].pk), link="https://youtube.com/watch?v=x", quantity="90000"),
        lambda s: ["残高が不足しています"],
    ),
    "mass-order": Page(lambda s: s.customer.get("/orders/mass/")),
    "mass-order-checked": Page(_mass_check),
    "mass-order-placed": Page(_mass_place),
    "orders": Page(
        lambda s: s.customer.get("/orders/"),
        lambda s: [_short_datetime(s.orders[0].created_at), "25,000", "保留中", "一部完了", "キャンセル済み"],
    ),
    "orders-search-empty": Page(lambda s: s.customer.get("/orders/?q=nothing-like-this&status=Completed")),
    "refills": Page(
        lambda s: s.customer.get("/refills/"), lambda s: [_short_datetime(s.refills[0].created_at), "却下"]
    ),
    "services": Page(lambda s: s.customer.get("/services/"), lambda s: ["2時間 5分", "1,000,000"]),
    "services-none-match": Page(lambda s: s.customer.get("/services/?q=nothing-like-this")),
    "funds": Page(
        lambda s: s.customer.get("/funds/"),
        lambda s: [_short_datetime(s.ledger[-1].created_at), "承認済み", "返金", "入金"],
    ),
    "funds-invalid": Page(lambda s: s.customer.post("/funds/", {"amount": "lots", "method": "", "reference": ""})),
    "affiliates": Page(lambda s: s.customer.get("/affiliates/"), lambda s: ["あなたの紹介リンク", "0.00 USD"]),
    "affiliates-nothing-to-move": Page(
        lambda s: s.customer.post("/affiliates/transfer/", follow=True),
        lambda s: ["残高へ移せるアフィリエイト報酬はありません。"],
    ),
    "api": Page(lambda s: s.customer.get("/api/")),
    "api-new-key": Page(lambda s: s.customer.post("/api/key/")),
    "account": Page(lambda s: s.customer.get("/account/")),
    "notifications": Page(
        lambda s: s.customer.get("/notifications/"),
        lambda s: [f"注文 {s.orders[1].pk} はキャンセルされました。", "すべて既読にする", "キャンセル済み"],
    ),
    "notifications-none": Page(lambda s: _another_japanese_customer().get("/notifications/")),
    "notifications-marked-read": Page(
        lambda s: s.customer.post("/notifications/read/", {"up_to": "999999"}, follow=True),
        lambda s: ["お知らせをすべて既読にしました。"],
    ),
    "account-emails-saved": Page(
        lambda s: s.customer.post("/account/", {"form": "notifications", "email_api_orders": "on"}, follow=True),
        lambda s: ["メール通知の設定を保存しました。", "メールで知らせるタイミング"],
    ),
    "account-saved": Page(
        lambda s: s.customer.post(
            "/account/",
            {"form": "profile", "email": "alice@example.com", "language": "ja", "time_zone": "Asia/Tokyo"},
            follow=True,
        ),
        lambda s: ["設定を保存しました。"],
    ),
    "login": Page(lambda s: s.guest.get("/accounts/login/")),
    "login-refused": Page(lambda s: s.guest.post("/accounts/login/", {"username": "alice", "password": "wrong"})),
    "signup": Page(lambda s: s.guest.get("/accounts/signup/")),
    "signup-invalid": Page(
        lambda s: s.guest.post(
            "/accounts/signup/", {"username": "alice", "email": "x", "password": "123", "password_again": "1234"}
        )
    ),
    "password-reset": Page(lambda s: s.guest.get("/accounts/password-reset/")),
    "password-reset-sent": Page(
        lambda s: s.guest.post("/accounts/password-reset/", {"email": "alice@example.com"}, follow=True)
    ),
    "password-reset-bad-link": Page(lambda s: s.guest.get("/accounts/reset/MQ/bad-token/", follow=True)),
    "password-reset-complete": Page(lambda s: s.guest.get("/accounts/reset/done/")),
    "tickets-none": Page(lambda s: s.customer.get("/tickets/")),
    "tickets": Page(
        lambda s: _answered_ticket(s) and s.customer.get("/tickets/"), lambda s: ["回答あり", "新しい返信 1 件"]
    ),
    "ticket": Page(lambda s: s.customer.get(f"/tickets/{_answered_ticket(s)}/"), lambda s: ["確認いたします。"]),
    "ticket-new": Page(lambda s: s.customer.get(f"/tickets/new/?order={s.orders[2].pk}")),
    "ticket-new-invalid": Page(lambda s: _ticket_question(s, subject="", orders=[]), lambda s: ["件名を入力"]),
    "ticket-new-foreign-order": Page(lambda s: _ticket_question(s, orders=["999999"]), lambda s: ["該当する注文"]),
    "ticket-new-offer": Page(lambda s: _ticket_question(s), lambda s: ["今すぐご自身でキャンセルできます"]),
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", PAGES)
def test_japanese_pages_have_no_english_leftovers(name, scene):
    page = PAGES[name]
    response = page.visit(scene)
    assert response.status_code in (200, 429), response.status_code
    assert response["Content-Type"].startswith("text/html"), f"{name} is not an HTML page yet"
    html = response.content.decode()
    assert '<html lang="ja">' in html
    assert ">English</button>" in html and ">日本語</button>" in html, "the switch names each language in itself"
    words: set[str] = set()
    data = set(scene.data)
    if name.startswith("api"):
        words, api_data = _api_words()
        data |= api_data
        data.add(response.context.get("new_key") or "")
    leftovers = english_leftovers(html, data=data, words=words)
    # The new-order page's script texts travel as escaped JSON, outside the visible HTML.
    script_texts = response.context.get("texts") if response.context else None
    for key, text in (script_texts or {}).items():
        if WORD.search(re.sub(PLACEHOLDER, "", text)):
            leftovers.append(f"<script> {key} {text!r}")
    print("\n".join(leftovers))
    assert not leftovers, f"English left on the Japanese {name} page:\n" + "\n".join(leftovers)
    missing = [text for text in page.shows(scene) if text not in html]
    assert not missing, f"the {name} page does not show {missing} (Japanese formats)"


@pytest.mark.django_db
def test_the_password_reset_email_is_japanese(japanese, alice):
    guest = Client()
    guest.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    guest.post("/accounts/password-reset/", {"email": alice.email})
    [message] = mail.outbox
    assert message.subject == "パスワードの再設定"
    leftovers = [word for word in WORD.findall(URL.sub(" ", message.body)) if word not in {alice.username}]
    assert not leftovers, message.body
    assert "alice 様" in message.body


@pytest.mark.django_db
def test_the_live_price_answers_in_japanese(scene):
    params = {"service": scene.services[1].pk, "link": "https://instagram.com/p/x", "quantity": "10"}
    answer = scene.customer.get("/orders/quote/", params).json()
    assert answer == {"ok": False, "error": "数量が最小値 50 未満です", "field": "quantity"}
