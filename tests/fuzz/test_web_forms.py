"""The web forms customers post, sent `fuzz_requests` seeded random requests (tests/conftest.py): valid forms with a
few fields changed, raw junk under random content types, GET where POST is expected, wrong or missing CSRF tokens,
anonymous, signed-in and stale sessions. Every answer is one a page gives (never a 500), of its page's content type,
with nothing logged at ERROR nor with a traceback; and money moves only by what was accepted.

A failure names the seed and the request's index: FUZZ_SEED=<seed> FUZZ_REQUESTS=<index + 1> replays it."""

import json
import logging
import random
import re
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import User
from billing.affiliates.services import affiliate_account_open
from billing.models import LedgerEntry, Payment, Wallet
from billing.services import order_charge, wallet_credit
from catalog.models import Service
from catalog.selectors import catalog_changed
from orders.models import Order
from tests.billing.conftest import cryptomus, localstripe, stripe_settings  # noqa: F401  (fixtures used below)
from tests.factories import (
    CryptomusMethodFactory,
    NotificationFactory,
    OrderFactory,
    PaymentMethodFactory,
    StripeMethodFactory,
    TicketFactory,
)
from tests.fuzz.junk import CONTENT_TYPES, form_safe, junk_body, mutated
from upstream.service_types import SERVICE_TYPES

pytestmark = pytest.mark.django_db

# What a page answers: the page (200), a redirect after a post or to sign in (302), a malformed request (400), a
# CSRF failure (403), an id that is not the customer's (404), a method the page does not take (405), a rate limit
# (429), an address too long for a page (414, panel.middleware.long_url). A gateway's webhook also answers a body too
# large to be a notification (413).
ANSWERS = {200, 302, 400, 403, 404, 405, 414, 429}
WEBHOOK_ANSWERS = ANSWERS | {413}
PASSWORD = "correct horse battery staple"
LINK = "https://instagram.com/p/abc"
# Ids that belong to nobody: the int path converter takes any digits, a form any text.
JUNK_IDS = ["0", "1", "999999999", "9223372036854775807", "9223372036854775808", "9" * 30]
# Where a post may end a session or sign in another user.
SESSION_ENDING = ("/accounts/logout/", "/accounts/login/", "/accounts/signup/", "/account/")
# The last share of the requests runs under the panel's real rate limits, so that their refusals are fuzzed too.
REAL_LIMITS_SHARE = 0.05
Kind = LedgerEntry.Kind
ORDER_FORMS = ("/orders/new/", "/orders/quote/", "/orders/mass/")
MASS_PLACED = re.compile(r'<p class="summary"><span>[^<0-9]*([0-9]+)')

# Values near the valid ones for each order parameter, per service type's fields (upstream.service_types).
NEAR: dict[str, list[str]] = {
    "link": [LINK, "https://www.instagram.com/p/xyz/", "instagram.com/p/abc", "https://t.me/channel"],
    "comments": ["nice\ngreat\nwow", "one", "a\n\nb"],
    "usernames": ["alice\nbob", "someone"],
    "hashtags": ["#one\n#two", "tag"],
    "hashtag": ["#tag", "tag"],
    "username": ["someone", "@someone"],
    "media": [LINK],
    "answer_number": ["1", "2"],
    "groups": ["group1\ngroup2"],
    "country": ["US", "Germany", ""],
    "device": ["1", "5", "6"],
    "type_of_traffic": ["1", "2", "3"],
    "google_keyword": ["smm panel"],
    "referring_url": ["https://example.com/"],
    "runs": ["2", "3", "1"],
    "interval": ["5", "0", "60"],
}


@dataclass
class Sent:
    """One request as it went out: enough to read in a failure message, and to send again."""

    who: str
    method: str
    path: str
    data: Any = None
    content_type: str = ""
    csrf: str = "right"
    headers: dict[str, str] = field(default_factory=dict)
    json_answer: bool = False  # a JSON endpoint: its 200 answers are JSON
    webhook: bool = False

    def __str__(self) -> str:
        data = repr(self.data)
        data = data if len(data) <= 600 else f"{data[:600]}… ({len(data)} characters)"
        return (
            f"{self.who} {self.method} {self.path!r} content_type={self.content_type!r} csrf={self.csrf} "
            f"headers={self.headers} data={data}"
        )


def _token(rnd: random.Random) -> str:
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(32))


class Browser:
    """A test client with its own CSRF cookie and address; `user` is who it signs in as again after losing its
    session (None: it stays anonymous, whoever signs in with it)."""

    def __init__(self, rnd: random.Random, name: str, user: User | None = None) -> None:
        self.name, self.user, self.rnd = name, user, rnd
        self.client = Client(enforce_csrf_checks=True, REMOTE_ADDR=f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.1")
        self.client.cookies["csrftoken"] = _token(rnd)
        if user is not None:
            self.client.force_login(user)

    @property
    def token(self) -> str:
        """The CSRF cookie's secret (a new one if the cookie went: the client's logout() drops every cookie)."""
        if not self.client.cookies.get("csrftoken") or not self.client.cookies["csrftoken"].value:
            self.client.cookies["csrftoken"] = _token(self.rnd)
        return self.client.cookies["csrftoken"].value


@dataclass
class World:
    """What the forms are about: the customers, their orders, tickets and payments, and ids of nobody."""

    alice: User
    bob: User
    services: list[Service]
    manual_method_id: int
    gateway_method_ids: list[int]
    referral_code: str
    orders: dict[int, list[int]]  # by customer pk
    tickets: dict[int, list[int]]
    notification_ids: list[int]


@pytest.fixture
def world(settings, alice, bob, services, stripe_settings, cryptomus) -> Iterator[World]:  # noqa: F811
    # Rate limits count in the cache (Redis): from zero, so that a seed replays alike, and left as they were found
    # for the tests after this one (which may reuse these customers' ids).
    cache.clear()
    # A fast hasher: the forms' logic is fuzzed, not PBKDF2 (each sign-in would otherwise cost a third of a second).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    for user in (alice, bob):
        user.set_password(PASSWORD)
        user.save(update_fields=["password"])
    catalog_changed()
    wallet_credit(user=bob, amount=Decimal(20))
    catalog = sorted(services.values(), key=lambda service: service.pk)
    refillable = next(service for service in catalog if service.refill)
    orders: dict[int, list[int]] = {}
    for user in (alice, bob):
        made = [
            OrderFactory.create(user=user, service=catalog[0]),  # never sent: cancelled here, refunded at once
            OrderFactory.create(user=user, service=catalog[0], sent=True),  # sent: cancelled upstream, later
            OrderFactory.create(user=user, service=refillable, completed=True),  # refillable
        ]
        for order in made:
            order_charge(order=order)
        orders[user.pk] = [order.pk for order in made]
    tickets = {user.pk: [TicketFactory.create(customer=user).pk for _ in range(2)] for user in (alice, bob)}
    notification = NotificationFactory.create(order__user=alice, order__service=catalog[1])
    order_charge(order=notification.order)
    orders[alice.pk].append(notification.order_id)
    yield World(
        alice=alice,
        bob=bob,
        services=catalog,
        manual_method_id=PaymentMethodFactory.create(name="Bank").pk,
        gateway_method_ids=[StripeMethodFactory.create().pk, CryptomusMethodFactory.create().pk],
        referral_code=affiliate_account_open(user=alice).code,
        orders=orders,
        tickets=tickets,
        notification_ids=[notification.pk],
    )
    cache.clear()


@dataclass
class Form:
    """One form: where it posts, its valid fields, and whether it is JSON or a webhook."""

    method: str
    path: str
    data: dict[str, Any]
    json_answer: bool = False
    webhook: bool = False
    raw: bytes | None = None  # a webhook's body
    headers: dict[str, str] = field(default_factory=dict)


class Fuzz:
    def __init__(self, rnd: random.Random, world: World) -> None:
        self.rnd, self.world = rnd, world
        self.anonymous = [Browser(rnd, f"anonymous{n}") for n in range(3)]
        self.customers = [Browser(rnd, "alice", world.alice), Browser(rnd, "bob", world.bob)]
        self.stale = [self._stale_browser(), self._junk_session_browser()]
        self.signups = 0
        self.cancels: set[tuple[str, int]] = set()  # (customer id, order id) of each cancel a customer posted
        self.last_order_form: dict[str, Any] | None = None

    # Browsers -----------------------------------------------------------------------------------------------

    def _stale_browser(self) -> Browser:
        """Alice's session after she signed out: the cookie names a session that is gone."""
        browser = Browser(self.rnd, "stale", self.world.alice)
        cookie = browser.client.cookies["sessionid"].value
        browser.client.logout()
        browser.client.cookies["sessionid"] = cookie
        browser.client.cookies["csrftoken"] = _token(self.rnd)
        return browser

    def _junk_session_browser(self) -> Browser:
        browser = Browser(self.rnd, "junk-session")
        browser.client.cookies["sessionid"] = self.rnd.choice(["x", "0" * 32, _token(self.rnd), "a" * 300])
        return browser

    def browser(self) -> Browser:
        pick = self.rnd.random()
        if pick < 0.2:
            return self.rnd.choice(self.anonymous)
        if pick < 0.27:
            return self.rnd.choice(self.stale)
        return self.customers[0] if pick < 0.75 else self.customers[1]

    def refresh(self, browser: Browser, sent: Sent) -> None:
        """A customer whose session may have ended (signed out, signed in as someone else, password changed) signs
        in again, most of the time; anonymous browsers that signed someone in or up are replaced now and then."""
        ending = sent.path in SESSION_ENDING and sent.method == "POST" and browser in self.customers
        user = browser.user
        # One in five stays signed out a while.
        if user is not None and ending and self._lost(browser) and self.rnd.random() < 0.8:
            browser.client.force_login(user)
        if self.rnd.random() < 0.02:
            self.anonymous[self.rnd.randrange(len(self.anonymous))] = Browser(self.rnd, "anonymous")

    @staticmethod
    def _lost(browser: Browser) -> bool:
        return browser.user is not None and browser.client.session.get("_auth_user_id") != str(browser.user.pk)

    # Values -------------------------------------------------------------------------------------------------

    def some_id(self, ids: list[int], foreign: list[int]) -> str:
        pick = self.rnd.random()
        if pick < 0.6 and ids:
            return str(self.rnd.choice(ids))
        if pick < 0.8 and foreign:
            return str(self.rnd.choice(foreign))
        return self.rnd.choice(JUNK_IDS)

    def order_id(self, browser: Browser) -> str:
        own = self.world.orders.get(browser.user.pk, []) if browser.user else []
        foreign = [pk for pks in self.world.orders.values() for pk in pks if pk not in own]
        return self.some_id(own, foreign)

    def ticket_id(self, browser: Browser) -> str:
        own = self.world.tickets.get(browser.user.pk, []) if browser.user else []
        foreign = [pk for pks in self.world.tickets.values() for pk in pks if pk not in own]
        return self.some_id(own, foreign)

    def payment_id(self, browser: Browser) -> str:
        payments = list(Payment.objects.values_list("pk", "user_id"))
        own = [pk for pk, user_id in payments if browser.user and user_id == browser.user.pk]
        return self.some_id(own, [pk for pk, _ in payments if pk not in own])

    def near(self, name: str) -> str:
        if name in NEAR:
            return self.rnd.choice(NEAR[name])
        return self.rnd.choice(["1", "100", "1000", "-5", "0", "", " 1000 "])

    # Forms --------------------------------------------------------------------------------------------------

    def order_fields(self) -> dict[str, Any]:
        service = self.rnd.choice(self.world.services)
        fields: dict[str, Any] = {"service": service.pk, "order_key": f"{self.rnd.getrandbits(128):032x}"}
        dripfeed = service.dripfeed and self.rnd.random() < 0.3
        for name in SERVICE_TYPES[service.type].params(dripfeed=dripfeed):
            if name == "quantity":
                fields[name] = str(
                    self.rnd.choice([service.min_quantity, service.max_quantity, service.min_quantity * 2])
                )
            else:
                fields[name] = self.rnd.choice(NEAR.get(name, ["1"]))
        if dripfeed:
            fields["dripfeed"] = "1"
        return fields

    def form(self, browser: Browser) -> Form:
        rnd, world = self.rnd, self.world
        choices: list[tuple[float, Callable[[], Form]]] = [
            (6, lambda: Form("POST", "/accounts/login/", {
                "username": rnd.choice(["alice", "bob", "Alice", "nobody", "alice@example.com"]),
                "password": rnd.choice([PASSWORD, PASSWORD, "wrong"]),
                "next": rnd.choice(["", "/orders/", "https://evil.example/"]),
            })),
            (4, lambda: Form("POST", "/accounts/signup/", self.signup_fields())),
            (1, lambda: Form("GET", f"/r/{rnd.choice([world.referral_code, 'nobody', 'x' * 60])}/", {})),
            (2, lambda: Form("POST", "/accounts/password-reset/", {
                "email": rnd.choice(["alice@example.com", "nobody@example.com", "bob@example.org"]),
            })),
            (1, lambda: Form(rnd.choice(["GET", "POST"]), f"/accounts/reset/{rnd.choice(['MQ', 'x', '-'])}/"
                             f"{rnd.choice(['set-password', 'abc-def', 'x'])}/",
                             {"new_password1": PASSWORD, "new_password2": PASSWORD})),
            (1, lambda: Form("POST", "/accounts/two-factor/", {
                "code": rnd.choice(["123456", "000000", ""]), "next": rnd.choice(["", "/orders/", "//evil.example"]),
            })),
            (2, lambda: Form("POST", "/language/", {
                "language": rnd.choice(["en", "ja", "xx", ""]), "next": rnd.choice(["/", "/orders/", "http://x.y/"]),
            })),
            (1, lambda: Form("POST", "/accounts/logout/", {})),
            (22, lambda: Form("POST", "/orders/new/", self.order_form())),
            (8, lambda: Form("GET", "/orders/quote/", self.order_fields(), json_answer=True)),
            (5, lambda: Form("POST", "/orders/mass/", self.mass_fields())),
            (7, lambda: self.followup(browser)),
            (3, lambda: Form("POST", "/funds/", {
                "amount": rnd.choice(["25", "10", "5", "1000000"]), "method": str(world.manual_method_id),
                "reference": rnd.choice(["TX-1", "bank ref", ""]),
            })),
            (2, lambda: Form("POST", "/funds/pay/", {
                "amount": rnd.choice(["25", "5", "4.99", "100000"]),
                "method": str(rnd.choice(world.gateway_method_ids)),
            })),
            (3, lambda: Form("GET", f"/funds/payments/{self.payment_id(browser)}/", {})),
            (2, lambda: Form("GET", f"/funds/payments/{self.payment_id(browser)}/state/", {}, json_answer=True)),
            (6, lambda: self.webhook()),
            (2, lambda: Form("POST", "/account/", self.account_fields())),
            (4, lambda: Form("POST", "/tickets/new/", {
                "subject": rnd.choice(["Where is my order?", "Refund", ""]),
                "kind": rnd.choice(["other", "payment", "refill", "cancel", "speed", ""]),
                "body": rnd.choice(["It has not started.", "Please cancel it."]),
                "orders": self.order_id(browser),
                **({"send_anyway": "1"} if rnd.random() < 0.5 else {}),
            })),
            (4, lambda: Form("POST", f"/tickets/{self.ticket_id(browser)}/", {
                "do": rnd.choice(["reply", "reply", "close", ""]), "body": "Any news?",
            })),
            (2, lambda: Form("POST", "/notifications/read/", {
                "up_to": rnd.choice([*map(str, world.notification_ids), "0", "x"]),
            })),
            (2, lambda: Form("POST", "/affiliates/transfer/", {})),
            (3, lambda: Form("GET", rnd.choice([
                "/", "/orders/", "/refills/", "/tickets/", "/notifications/", "/services/", "/account/", "/funds/",
                "/affiliates/", "/accounts/login/", "/accounts/signup/", "/accounts/two-factor/", "/orders/mass/",
                "/tickets/new/", "/orders/new/",
            ]), {"page": rnd.choice(["1", "2", "x", "-1"]), "status": rnd.choice(["", "completed", "x"]),
                 "q": rnd.choice(["abc", "1", ""]), "service": str(rnd.choice(world.services).pk)})),
        ]  # fmt: skip
        weights = [weight for weight, _ in choices]
        return rnd.choices([make for _, make in choices], weights=weights)[0]()

    def signup_fields(self) -> dict[str, Any]:
        self.signups += 1
        name = f"fuzz{self.rnd.getrandbits(40):x}"
        password = self.rnd.choice(["Plenty-of-letters-42", "Plenty-of-letters-42", "short", "password"])
        again = password if self.rnd.random() < 0.9 else password + "x"
        return {"username": name, "email": f"{name}@example.net", "password": password, "password_again": again}

    def order_form(self) -> dict[str, Any]:
        if self.last_order_form is not None and self.rnd.random() < 0.05:
            return self.last_order_form  # the same form sent again: placed once
        self.last_order_form = self.order_fields()
        return self.last_order_form

    def mass_fields(self) -> dict[str, Any]:
        lines = []
        for _ in range(self.rnd.randrange(1, 5)):
            service = self.rnd.choice(self.world.services)
            quantity = self.rnd.choice([service.min_quantity, service.max_quantity + 1, 0])
            lines.append(self.rnd.choice([f"{service.pk} | {LINK} | {quantity}", f"{service.pk}|{LINK}", "x | y | z"]))
        return {"orders": "\n".join(lines), "step": self.rnd.choice(["", "place", "place"]),
                "batch": f"{self.rnd.getrandbits(128):032x}"}  # fmt: skip

    def followup(self, browser: Browser) -> Form:
        action = self.rnd.choice(["refill", "cancel"])
        order_id = self.order_id(browser)
        fetch = self.rnd.random() < 0.5
        return Form(
            "POST",
            f"/orders/{order_id}/{action}/",
            {"next": self.rnd.choice(["", "/orders/?status=pending", "https://evil.example/"])},
            json_answer=fetch,
            headers={"X-Requested-With": "fetch"} if fetch else {},
        )

    def account_fields(self) -> dict[str, Any]:
        which = self.rnd.choice(["profile", "password", "notifications", "two_factor_off", "", "x"])
        fields: dict[str, Any] = {"form": which}
        if which == "profile":
            fields |= {"email": self.rnd.choice(["alice@example.com", "new@example.com"]),
                       "current_password": self.rnd.choice([PASSWORD, "wrong", ""]),
                       "language": self.rnd.choice(["", "en", "ja"]), "time_zone": "Europe/Paris"}  # fmt: skip
        elif which == "password":
            # The new password is the old one: a changed password would end the other sessions, fuzzed already.
            fields |= {"old_password": self.rnd.choice([PASSWORD, "wrong"]), "new_password1": PASSWORD,
                       "new_password2": PASSWORD}  # fmt: skip
        elif which == "notifications":
            fields |= {"order_ended": "on", "ticket_answered": self.rnd.choice(["on", ""])}
        elif which == "two_factor_off":
            fields |= {"current_password": PASSWORD, "code": "123456"}
        return fields

    def webhook(self) -> Form:
        """A notification no gateway signed: forged about a real payment, or junk."""
        gateway = self.rnd.choice(["stripe", "cryptomus", "cryptomus", "paypal"])
        payments = list(Payment.objects.order_by("pk")[:50]) if self.rnd.random() < 0.7 else []
        payment = self.rnd.choice(payments) if payments else None  # chosen by the seed, not the database
        headers: dict[str, str] = {}
        if gateway == "stripe":
            obj = {"id": payment.reference if payment else "pi_x", "object": "payment_intent", "status": "succeeded",
                   "amount": 2500, "amount_received": 2500, "currency": "usd",
                   "metadata": {"payment": str(payment.pk if payment else 1)}}  # fmt: skip
            body = json.dumps({"id": "evt_x", "object": "event", "type": "payment_intent.succeeded",
                               "data": {"object": obj}}).encode()  # fmt: skip
            headers["Stripe-Signature"] = self.rnd.choice([f"t={int(time.time())},v1={'0' * 64}", "", "t=x,v1="])
        else:
            data = {"type": "payment", "uuid": payment.reference if payment else "x", "order_id": "panel-1",
                    "amount": "25.50", "payment_amount": "25.50", "currency": "USD", "status": "paid",
                    "is_final": True, "sign": "0" * 32}  # fmt: skip
            body = json.dumps(data).encode()
        return Form("POST", f"/payments/{gateway}/webhook/", {}, webhook=True, raw=body, headers=headers)

    # Sending ------------------------------------------------------------------------------------------------

    def request(self, browser: Browser) -> Sent:
        form = self.form(browser)
        rnd = self.rnd
        sent = Sent(who=browser.name, method=form.method, path=form.path, json_answer=form.json_answer,
                    webhook=form.webhook, headers=dict(form.headers))  # fmt: skip
        names = list(form.data) or ["x"]
        pick = rnd.random()
        if form.raw is not None:
            sent.data = form.raw if pick < 0.6 else junk_body(rnd)
            sent.content_type = "application/json" if pick < 0.6 else rnd.choice(CONTENT_TYPES)
            return sent
        if form.method == "GET":
            sent.data = form_safe(mutated(rnd, form.data, names, near=self.near) if pick < 0.6 else form.data)
            return sent
        if pick < 0.08:
            sent.method = rnd.choice(["GET", "PUT", "DELETE"])
            sent.data = form_safe(form.data)
            return sent
        csrf = rnd.random()
        sent.csrf = "right" if csrf < 0.88 else ("wrong" if csrf < 0.95 else "missing")
        token = {"right": browser.token, "wrong": _token(rnd), "missing": None}[sent.csrf]
        if pick < 0.2:
            sent.data, sent.content_type = junk_body(rnd), rnd.choice(CONTENT_TYPES)
            if token is not None:
                sent.headers["X-CSRFToken"] = token
            return sent
        data = form_safe(mutated(rnd, form.data, names, near=self.near) if pick < 0.75 else form.data)
        if token is not None:
            data["csrfmiddlewaretoken"] = token
        if rnd.random() < 0.5:
            sent.data, sent.content_type = urlencode(data), "application/x-www-form-urlencoded"
        else:
            sent.data, sent.content_type = data, "multipart/form-data; boundary=BoUnDaRyStRiNg"
        return sent

    def send(self, browser: Browser, sent: Sent) -> Any:
        client = browser.client
        headers = sent.headers
        if sent.method == "GET":
            return client.get(sent.path, sent.data or None, headers=headers)
        if sent.method in ("PUT", "DELETE"):
            return client.generic(sent.method, sent.path, urlencode(sent.data or {}), headers=headers)
        if sent.content_type.startswith("multipart/form-data; boundary=BoUnDaRyStRiNg"):
            return client.post(sent.path, sent.data, headers=headers)
        if isinstance(sent.data, bytes):
            # generic(), not post(): post() re-encodes a body to the content type's charset, raising on raw bytes.
            return client.generic("POST", sent.path, sent.data, content_type=sent.content_type, headers=headers)
        return client.post(sent.path, sent.data, content_type=sent.content_type, headers=headers)


def _kind(response: Any) -> str:
    content_type = str(response.get("Content-Type", ""))
    return content_type.split(";")[0].strip()


def _balances() -> dict[int, Decimal]:
    return dict(Wallet.objects.values_list("pk", "balance"))


def _orders_of_posts(response: Any, sent: Sent) -> int | None:
    """How many orders this answer says were placed; None when it does not say (a page that places none)."""
    if sent.path == "/orders/new/" and sent.method == "POST":
        return 1 if response.status_code == 302 and response["Location"].startswith("/orders/new/?service=") else 0
    if sent.path == "/orders/mass/" and sent.method == "POST" and response.status_code == 200:
        # The result's summary opens with the count of orders placed, in either language ("3 orders placed").
        placed = MASS_PLACED.search(response.content.decode())
        return int(placed.group(1)) if placed else 0
    return 0


def test_the_web_forms_survive_random_requests(fuzz_seed, fuzz_requests, world, settings, alarms):
    rnd = random.Random(fuzz_seed)
    real_limits = {name: getattr(settings, name) for name in
                   ("LOGIN_RATE_LIMIT", "SIGNUP_RATE_LIMIT", "TICKET_RATE_LIMIT", "TICKET_MESSAGE_RATE_LIMIT",
                    "TICKET_OPEN_LIMIT")}  # fmt: skip
    for name in real_limits:
        setattr(settings, name, 10**9)
    fuzz = Fuzz(rnd, world)
    order_floor = Order.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    entry_floor = LedgerEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    balances = _balances()
    placed = 0
    started = time.monotonic()
    for index in range(fuzz_requests):
        if index == int(fuzz_requests * (1 - REAL_LIMITS_SHARE)):
            for name, value in real_limits.items():
                setattr(settings, name, value)
        browser = fuzz.browser()
        sent = fuzz.request(browser)
        where = f"seed {fuzz_seed}, request #{index}: {sent}"
        counted = sent.path in ORDER_FORMS and sent.method == "POST"  # the others place none: checked at the end
        orders_before = Order.objects.count() if counted else 0
        try:
            response = fuzz.send(browser, sent)
        except Exception as exc:  # the test client re-raises what the view raised: a 500
            raise AssertionError(f"raised {exc!r}; {where}") from exc
        answers = WEBHOOK_ANSWERS if sent.webhook else ANSWERS
        assert response.status_code in answers, f"answered {response.status_code}; {where}"
        kind = _kind(response)
        if sent.webhook:
            expected = "text/plain" if response.status_code in (200, 400, 404) else "text/html"
            assert kind == expected, f"answered {kind}; {where}"
        elif sent.json_answer and response.status_code == 200:
            assert kind == "application/json", f"answered {kind}; {where}"
        elif not (sent.json_answer and response.status_code == 400):
            assert kind == "text/html", f"answered {kind}; {where}"
        assert not alarms.records, f"logged {alarms.messages()}; {where}"
        new_orders = Order.objects.count() - orders_before if counted else 0
        said = _orders_of_posts(response, sent)
        if sent.path == "/orders/new/" and sent.method == "POST" and said == 1:
            assert new_orders in (0, 1), f"{new_orders} orders placed; {where}"  # 0: the same form sent again
        else:
            assert new_orders == said, f"{new_orders} orders placed, the answer says {said}; {where}"
        placed += new_orders
        if new_orders and browser.user is not None:
            latest = Order.objects.filter(user=browser.user).order_by("-pk").values_list("pk", flat=True)
            world.orders[browser.user.pk].extend(latest[:new_orders])
        if sent.path.endswith("/cancel/") and sent.method == "POST" and sent.path.split("/")[2].isdigit():
            # Whose session asked: a refund is of a cancel its own customer asked for.
            fuzz.cancels.add((browser.client.session.get("_auth_user_id", ""), int(sent.path.split("/")[2])))
        fuzz.refresh(browser, sent)
    elapsed = time.monotonic() - started
    logging.getLogger(__name__).info("%s requests in %.1f s", fuzz_requests, elapsed)

    # Money moved only by what was accepted.
    new_orders = list(Order.objects.filter(pk__gt=order_floor))
    assert len(new_orders) == placed
    entries = list(LedgerEntry.objects.filter(pk__gt=entry_floor).select_related("order"))
    charges: dict[int, int] = {}
    for entry in entries:
        if entry.kind == Kind.CHARGE:
            charges[entry.order_id] = charges.get(entry.order_id, 0) + 1
            assert entry.order.pk > order_floor, f"an old order charged again: {entry}"
            assert entry.amount == -entry.order.charge
        elif entry.kind == Kind.REFUND:
            asked = (str(entry.order.user_id), entry.order_id) in fuzz.cancels
            assert asked, f"a refund its customer did not ask for: {entry}"
            assert entry.order.status == Order.Status.CANCELED
            assert entry.amount == entry.order.charge
        else:
            assert entry.kind in (Kind.TRANSFER_OUT, Kind.TRANSFER_IN), f"money moved by {entry.kind}: {entry}"
    assert charges == {order.pk: 1 for order in new_orders}, "every new order has exactly one charge"
    refunded = [entry.order_id for entry in entries if entry.kind == Kind.REFUND]
    assert len(refunded) == len(set(refunded)), "an order refunded twice"
    for wallet_id, balance in _balances().items():
        moved = sum((entry.amount for entry in entries if entry.wallet_id == wallet_id), Decimal(0))
        assert balance - balances.get(wallet_id, Decimal(0)) == moved, f"wallet {wallet_id} moved without its ledger"
    # No payment was paid at its gateway: none is credited, whatever the forged webhooks said.
    assert not Payment.objects.filter(state__in=Payment.CREDITED).exists()
    assert not LedgerEntry.objects.filter(pk__gt=entry_floor, kind__in=(Kind.DEPOSIT, Kind.BONUS)).exists()
