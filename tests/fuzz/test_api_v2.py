"""FUZZ_REQUESTS random requests per seed against /api/v2, as a hostile client sends them: every action, valid
requests with a few values changed, junk values of every JSON type, every encoding (form, multipart, JSON, JSON
under another label, GET, raw bytes under any content type), two customers and made-up keys.

Each answer must be HTTP 200 JSON in the protocol's shape for its action, an error must be one of the protocol's
strings, nothing may be logged as an error or with a traceback, and the only money that moves is the charge of an
`add` that answered with an order id (and the refund of an order it cancelled), once each.
"""

import json
import random
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.db.models import F, Sum
from django.test import Client

from accounts.models import User
from accounts.services import api_key_issue
from billing.models import LedgerEntry, Wallet
from billing.services import wallet_credit
from catalog.models import Service
from orders.models import Order
from tests.fuzz.junk import CONTENT_TYPES, form_safe, junk_body, junk_json_value, junk_text, mutated
from tests.logwatch import Alarms
from upstream.service_types import service_type

pytestmark = [pytest.mark.django_db, pytest.mark.alice_balance(Decimal(100_000))]

REPOSITORY = Path(__file__).resolve().parents[2]
URL = "/api/v2"
ACTIONS = ["balance", "services", "add", "status", "refill", "refill_status", "cancel"]
NAMES = ["key", "action", "service", "link", "quantity", "runs", "interval", "order", "orders", "refill", "refills",
         "comments", "usernames", "hashtags", "hashtag", "username", "media", "answer_number", "groups", "device",
         "type_of_traffic", "google_keyword", "referring_url", "idempotency_key"]  # fmt: skip
ENCODINGS = ["form", "form", "multipart", "json", "json", "json-as-text", "get", "bytes", "repeated-form"]


def _message_patterns() -> re.Pattern[str]:
    """Every error string the endpoint may answer: the gettext_noop messages of the code an API request runs
    through, their %(name)s placeholders matching any value."""
    sources = ["upstream/messages.py", "orders/validation.py", *map(str, (REPOSITORY / "orders/services").glob("*.py"))]
    messages: set[str] = set()
    for source in sources:
        text = (REPOSITORY / source).read_text()
        messages.update(re.findall(r'gettext_noop\(\s*"((?:[^"\\]|\\.)*)"\s*\)', text))
    assert len(messages) > 30, "the message catalogue moved: point _message_patterns at it"
    alternatives = (re.sub(r"%\\\(\w+\\\)s", ".+", re.escape(message.replace('\\"', '"'))) for message in messages)
    return re.compile("|".join(sorted(alternatives)))


MESSAGES = _message_patterns()
STATUS_KEYS = {"charge", "start_count", "status", "remains", "currency"}


def _error(answer: Any) -> str | None:
    if isinstance(answer, dict) and set(answer) == {"error"}:
        message = answer["error"]
        assert isinstance(message, str) and MESSAGES.fullmatch(message), f"not a protocol error: {message!r}"
        return message
    return None


def _status(answer: Any) -> None:
    assert isinstance(answer, dict) and set(answer) == STATUS_KEYS, answer
    assert re.fullmatch(r"-?\d+\.\d{5}", answer["charge"]) and answer["start_count"].isdigit(), answer


def _each_shaped(answer: Any, id_name: str, value_name: str) -> None:
    assert isinstance(answer, list) and answer, answer
    for item in answer:
        assert isinstance(item, dict) and set(item) == {id_name, value_name}, item
        if isinstance(item[value_name], dict):
            assert _error(item[value_name]) is not None, item


def check_shape(action: str, params: dict[str, str], answer: Any) -> None:
    """The answer is the protocol's for this action (API_V2.md), or one of its errors."""
    if _error(answer) is not None:
        return
    if action == "balance":
        assert set(answer) == {"balance", "currency"} and re.fullmatch(r"-?\d+\.\d{5}", answer["balance"]), answer
    elif action == "services":
        assert isinstance(answer, list) and all({"service", "rate", "min", "max"} <= set(item) for item in answer)
    elif action == "add":
        assert set(answer) == {"order"} and isinstance(answer["order"], int), answer
    elif action == "status" and "orders" not in params:
        _status(answer)
    elif action == "status":
        assert isinstance(answer, dict) and answer, answer
        for item in answer.values():
            if _error(item) is None:
                _status(item)
    elif action == "refill" and "orders" not in params:
        assert set(answer) == {"refill"} and answer["refill"].isdigit(), answer
    elif action == "refill":
        _each_shaped(answer, "order", "refill")
    elif action == "refill_status" and not {"refills", "orders"} & set(params):
        assert set(answer) == {"status"} and isinstance(answer["status"], str), answer
    elif action == "refill_status":
        _each_shaped(answer, "refill", "status")
    elif action == "cancel":
        _each_shaped(answer, "order", "cancel")
    else:
        raise AssertionError(f"an answer for {action!r}: {answer!r}")


class Fuzzer:
    """Draws one request at a time from its seed; knows what the customers have so that most requests are close
    to valid ones."""

    def __init__(self, rnd: random.Random, keys: dict[str, User], services: list[Service]) -> None:
        self.rnd = rnd
        self.keys = keys
        self.services = services
        self.orders: list[int] = [0]
        self.refills: list[int] = [0]
        self.idempotency_keys = [f"fuzz-{n}" for n in range(20)]

    def near(self, name: str) -> Any:
        """A value of the right kind that may still be wrong: another customer's id, a quantity off by one."""
        rnd = self.rnd
        if name in ("order", "orders"):
            ids = [rnd.choice(self.orders) + rnd.choice([0, 0, 1, -1, 10**6]) for _ in range(rnd.choice([1, 3, 101]))]
            return ",".join(map(str, ids)) if name == "orders" else ids[0]
        if name in ("refill", "refills"):
            return rnd.choice(self.refills) + rnd.choice([0, 1])
        if name == "service":
            return rnd.choice(self.services).pk + rnd.choice([0, 0, 0, 1, 10**6])
        if name == "quantity":
            service = rnd.choice(self.services)
            return rnd.choice([service.min_quantity - 1, service.max_quantity + 1, service.min_quantity, 10**13])
        if name == "key":
            return rnd.choice(list(self.keys)) + rnd.choice(["", "x", " "])
        return rnd.choice(["1", "0", "5", "-5", "https://x.com/" + "é" * 5])

    def _add(self, service: Service) -> dict[str, Any]:
        rnd = self.rnd
        kind = service_type(service.type)
        params: dict[str, Any] = {"service": service.pk, "link": f"https://instagram.com/p/{rnd.randrange(10**6)}"}
        if kind is None:
            return params
        if kind.counted:
            params[kind.counted] = "\n".join(f"line {n}" for n in range(service.min_quantity))
        elif kind.quantity:
            params["quantity"] = rnd.choice([service.min_quantity, service.min_quantity + 1, service.max_quantity])
        for name in kind.fields:
            params.setdefault(name, "1" if name == "answer_number" else f"user{rnd.randrange(100)}")
        if kind.dripfeed and rnd.random() < 0.2:
            params.update(runs=rnd.choice([2, 5]), interval=rnd.choice([1, 30]))
        if rnd.random() < 0.3:
            params["idempotency_key"] = rnd.choice(self.idempotency_keys)
        return params

    def params(self) -> dict[str, Any]:
        rnd = self.rnd
        action = rnd.choice(ACTIONS)
        key = rnd.choice(list(self.keys)) if rnd.random() < 0.9 else rnd.choice(["", "wrong", junk_text(rnd)])
        valid: dict[str, Any] = {"key": key, "action": action}
        if action == "add":
            valid.update(self._add(rnd.choice(self.services)))
        elif action in ("status", "refill", "cancel"):
            valid["orders" if action == "cancel" or rnd.random() < 0.4 else "order"] = self.near("orders")
        elif action == "refill_status":
            valid["refills" if rnd.random() < 0.4 else "refill"] = self.near("refill")
        return mutated(rnd, valid, NAMES, near=self.near)

    def jsonish(self, params: dict[str, Any]) -> dict[str, Any]:
        """JSON carries types: now and then a value becomes a number, a list, an object, null."""
        if self.rnd.random() < 0.3:
            name = self.rnd.choice(list(params) or ["x"])
            params = {**params, name: junk_json_value(self.rnd)}
        return params


def send(client: Client, rnd: random.Random, encoding: str, params: dict[str, Any]) -> Any:
    """The request as `encoding` carries it; returns the response."""
    if encoding == "form":
        return client.post(URL, urlencode(form_safe(params)), content_type="application/x-www-form-urlencoded")
    if encoding == "repeated-form":
        pairs = list(form_safe(params).items())
        pairs += [(name, junk_text(rnd).encode("utf-8", "replace").decode()) for name, _ in pairs[:2]]
        return client.post(URL, urlencode(pairs), content_type="application/x-www-form-urlencoded")
    if encoding == "multipart":
        return client.post(URL, form_safe(params))
    if encoding in ("json", "json-as-text"):
        body = json.dumps(params, default=str)  # a lone surrogate goes out as its \\ud800 escape
        return client.post(URL, body, content_type="application/json" if encoding == "json" else "text/plain")
    if encoding == "get":
        return client.get(URL, form_safe(params))
    query = urlencode(form_safe({name: params[name] for name in ("key", "action") if name in params}))
    return client.generic("POST", f"{URL}?{query}", junk_body(rnd), content_type=rnd.choice(CONTENT_TYPES))


def carried(params: dict[str, Any], encoding: str) -> dict[str, Any]:
    """The parameters as the endpoint reads them: raw bytes carry only the query string's key and action, and JSON's
    null or an object is no value (api.protocol); the answer is the one for what is left."""
    if encoding == "bytes":
        return {name: value for name, value in params.items() if name in ("key", "action")}
    if encoding.startswith("json"):
        return {name: value for name, value in params.items() if not (value is None or isinstance(value, dict))}
    return params


def test_random_requests_answer_in_the_protocols_shape_and_move_only_accepted_money(
    request, client, alice, bob, services, settings, alarms: Alarms, fuzz_seed, fuzz_requests
):
    settings.API_RATE_LIMIT = settings.API_FAILED_KEY_LIMIT = 10**9  # the limits are tested in tests/api
    cache.clear()  # and the counts of made-up keys are left to no later test (the cache outlives the test's database)
    request.addfinalizer(cache.clear)
    wallet_credit(user=bob, amount=Decimal(500))
    keys = {api_key_issue(user=alice): alice, api_key_issue(user=bob): bob}
    start = {user.pk: Wallet.objects.get(user=user).balance for user in (alice, bob)}
    first_entry = LedgerEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rnd = random.Random(fuzz_seed)
    fuzz = Fuzzer(rnd, keys, sorted(services.values(), key=lambda service: service.pk))
    accepted: dict[int, int] = {}  # order id -> its customer
    tally: Counter[str] = Counter()  # what the requests got: shown with -s, and in a failure's report

    for index in range(fuzz_requests):
        params = fuzz.params()
        encoding = rnd.choice(ENCODINGS)
        params = fuzz.jsonish(params) if encoding.startswith("json") else params
        replay = f"seed {fuzz_seed}, request {index} ({encoding}): {params!r}"[:3000]
        response = send(client, rnd, encoding, params)
        assert response.status_code == 200 and response["Content-Type"] == "application/json; charset=utf-8", replay
        answer = response.json()
        action = str(params.get("action", "")).strip().lower()
        tally[f"{action[:12]}: {_error(answer) or 'answered'}"] += 1
        sent = carried(params, encoding)
        check_shape(action, {name: str(value) for name, value in sent.items()}, answer)
        assert not alarms.records, f"{replay}: logged {alarms.messages()}"
        if action == "add" and isinstance(answer, dict) and "order" in answer:
            user = keys[str(params["key"]).strip()]
            assert accepted.setdefault(answer["order"], user.pk) == user.pk, replay
            fuzz.orders.append(answer["order"])
        elif isinstance(answer, dict) and isinstance(answer.get("refill"), str):
            fuzz.refills.append(int(answer["refill"]))

    print(f"seed {fuzz_seed}: {fuzz_requests} requests, {len(accepted)} orders;", dict(tally.most_common()))
    # Money: one charge per accepted order, refunds only of those orders, nothing else.
    placed = dict(Order.objects.filter(user__in=[alice, bob]).values_list("pk", "user_id"))
    assert placed == accepted, f"seed {fuzz_seed}: orders placed without an order id answered, or the reverse"
    entries = LedgerEntry.objects.filter(id__gt=first_entry)
    assert set(entries.values_list("kind", flat=True)) <= {LedgerEntry.Kind.CHARGE, LedgerEntry.Kind.REFUND}
    charges = entries.filter(kind=LedgerEntry.Kind.CHARGE)
    assert sorted(charges.values_list("order_id", flat=True)) == sorted(accepted), "one charge per accepted order"
    assert not charges.exclude(amount=-F("order__charge")).exists(), "a charge other than its order's price"
    assert not entries.filter(kind=LedgerEntry.Kind.REFUND).exclude(order_id__in=list(accepted)).exists()
    for user in (alice, bob):
        moved = entries.filter(wallet__user=user).aggregate(total=Sum("amount"))["total"] or Decimal(0)
        assert Wallet.objects.get(user=user).balance == start[user.pk] + moved
    assert len(accepted) > fuzz_requests // 100, f"only {len(accepted)} orders accepted: the fuzz stays too shallow"
