"""The staff API under random requests (issue 16): every endpoint and action, every method, junk ids, filters,
cursors and bodies, from every kind of caller. No 500 and no error logged; every answer is one the API documents,
errors in its `{"detail": ...}` shape; a caller without the permission is refused (401, 403) and changes nothing;
and every money movement is one an accepted request asked for."""

import base64
import json
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client

from accounts.models import User
from accounts.services import api_key_issue
from api.staff.tokens import staff_token_issue
from billing.models import DepositRequest, LedgerEntry
from billing.services import wallet_credit, wallet_debit
from orders.models import Order
from orders.services.manual import manual_orders_open
from tests.api.staff.conftest import V1
from tests.conftest import FUZZ_FIXED_SEEDS
from tests.factories import (
    CancelRequestFactory,
    CategoryFactory,
    DepositRequestFactory,
    OrderFactory,
    PaymentFactory,
    ProviderFactory,
    RefillFactory,
    ServiceFactory,
    StaffTokenFactory,
    UserFactory,
)
from tests.fuzz.junk import CONTENT_TYPES, form_safe, junk_body, junk_json_value, junk_text, mutated
from tests.logwatch import Alarms

pytestmark = pytest.mark.django_db

# The permission map, read from api/staff/views.py (the view permission of each list's model, the `requires` of
# each action) and backoffice/roles.py (which role has which): who may read each endpoint, who may run each action.
READERS = {
    "orders": {"Support", "Finance"},  # orders.view_order
    "manual-orders": {"Support", "Finance"},  # orders.view_order
    "refills": {"Support"},  # orders.view_refill
    "cancels": {"Support"},  # orders.view_cancelrequest
    "customers": {"Support"},  # accounts.view_user
    "wallets": {"Finance"},  # billing.view_wallet
    "payments": {"Finance"},  # billing.view_payment
    "deposits": {"Finance"},  # billing.view_depositrequest
    "providers": {"Catalog"},  # catalog.view_provider
    "services": {"Catalog"},  # catalog.view_service
}
# (endpoint, action): who may run it, on a record (detail) or on the list.
ACTIONS: dict[tuple[str, str], tuple[set[str], bool]] = {
    ("orders", "resend"): ({"Support"}, True),  # orders.change_order
    ("orders", "link-upstream"): ({"Support"}, True),
    ("orders", "cancel"): ({"Support"}, True),
    ("orders", "mark-completed"): ({"Support"}, True),
    ("orders", "mark-partial"): ({"Support"}, True),
    ("manual-orders", "progress"): ({"Support"}, True),
    ("wallets", "adjust"): ({"Finance"}, True),  # billing.change_wallet
    ("deposits", "approve"): ({"Finance"}, True),  # billing.change_depositrequest
    ("deposits", "reject"): ({"Finance"}, True),
    ("services", "set-markup"): ({"Catalog"}, False),  # catalog.change_service
}
ROLES = ["Support", "Finance", "Catalog"]
# Callers with no valid staff token: always 401, whatever they ask.
STRANGERS = ["anonymous", "junk token", "revoked token", "deactivated staff", "demoted staff", "customer's API key",
             "customer's staff token"]  # fmt: skip
CALLERS = [*STRANGERS, "staff without a role", *ROLES, "superuser"]
METHODS = ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"]
READING = {"GET", "HEAD", "OPTIONS"}

# The answers the API documents (api/staff/schema.py ERRORS, and DRF's own for the protocol), by what they mean.
DOCUMENTED = {
    200: "the record, the page or the action's result",
    400: "bad input, or a record not in a state the action applies to",
    401: "no valid staff token",
    403: "the caller lacks the permission",
    404: "no such record (or a cursor that is not one)",
    405: "a method the endpoint does not have",
    406: "an Accept header the API cannot answer",
    415: "a body in a content type other than JSON",
}

# Each list's filters (api/staff/filters.py), with a valid value of each, and the pagination's parameters.
CREATED = {"created_after": "2026-01-01T00:00:00Z", "created_before": "2030-01-01T00:00:00Z"}
FILTERS: dict[str, dict[str, Any]] = {
    "orders": {
        **CREATED,
        "status": "Pending",
        "submission": "sent",
        "customer": 1,
        "service": 1,
        "provider": 1,
        "upstream_id": 700000,
        "link": "https://instagram.com/p/1",
    },
    "manual-orders": {**CREATED, "status": "In progress", "submission": "manual", "customer": 1},
    "refills": {**CREATED, "status": "pending", "order": 1},
    "cancels": {**CREATED, "status": "pending", "order": 1},
    "customers": {
        "username": "alice",
        "email": "alice@example.com",
        "search": "ali",
        "is_active": "true",
        "joined_after": "2026-01-01T00:00:00Z",
    },
    "wallets": {"customer": 1, "owes": "false"},
    "payments": {**CREATED, "state": "pending", "gateway": "stripe", "method": 1, "customer": 1, "reference": "pi_1"},
    "deposits": {**CREATED, "status": "pending", "method": 1, "customer": 1, "reference": "TX-000001"},
    "providers": {"is_active": "true"},
    "services": {
        "provider": 1,
        "category": 1,
        "type": "Default",
        "is_active": "true",
        "missing_upstream": "false",
        "upstream_id": 1,
        "manual": "false",
    },
}
PAGING = {"page_size": "20", "cursor": "bz0xJnA9MQ=="}  # o=1&p=1
HUGE_IDS = ["0", "-1", str(2**31), str(2**63 - 1), str(2**63), "9" * 40, "1e3", "01", "+1", "１"]
ACCEPTS = [*[None] * 30, "application/json", "*/*", "text/html", "application/json; q=0"]
NOT_ACCEPTABLE = {"text/html", "application/json; q=0"}


def _valid_body(name: str, world: "World", rnd: random.Random) -> dict[str, Any]:
    """A body the action accepts (when the record is in a state it applies to)."""
    if name == "link-upstream":
        return {"upstream_id": rnd.randrange(1, 10**9)}
    if name == "cancel":
        return {"reason": rnd.choice(["", "duplicate", "customer asked"])}
    if name == "mark-partial":
        return {"remains": rnd.randrange(1, 1001)}
    if name == "progress":
        return {"status": rnd.choice(list(Order.Status.values)), "start_count": rnd.randrange(0, 500),
                "remains": rnd.randrange(0, 1001)}  # fmt: skip
    if name == "adjust":
        amount = rnd.choice(["5", "0.5", "12.34567", "100000", "0.00001"])
        return {"direction": rnd.choice(["credit", "debit"]), "amount": amount, "note": "fuzz"}
    if name == "reject":
        return {"note": "not received"}
    if name == "set-markup":
        return {"services": rnd.sample(world.ids["services"], rnd.randrange(1, 4)),
                "markup_percent": rnd.choice(["0", "50", "100.5", None])}  # fmt: skip
    return {}


def _near(rnd: random.Random) -> Any:
    """A value close to a valid one, of any JSON type."""
    return rnd.choice([0, -1, 1, 2**63, 2**63 - 1, "5", "-5", "0.000001", "1e5", 1.5, None, True, [], {}, [1],
                       "credit", "debit", "Completed", "Partial", "Canceled", "", "x" * 501])  # fmt: skip


@dataclass
class Caller:
    name: str
    role: str | None  # None: not a staff member the API knows
    client: Client
    authorization: str | None
    user_id: int | None = None


@dataclass
class World:
    """The records the fuzz aims at, by endpoint, and what it remembers of the money."""

    ids: dict[str, list[int]]
    callers: list[Caller]
    charges: dict[int, Decimal]  # order id -> what its customer was charged
    refunded: dict[int, Decimal] = field(default_factory=dict)


def _user(username: str, *, staff: bool = False, role: str | None = None, superuser: bool = False) -> User:
    """A customer, or a staff member (in the role given), without a password: hashing one takes half a second."""
    user = UserFactory.create(username=username, password=None, is_staff=staff, is_superuser=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def _world() -> World:
    customers = [_user(f"cust{n}") for n in range(4)]
    for user in customers:
        wallet_credit(user=user, amount=Decimal(200))
    provider = ProviderFactory.create()
    services = [ServiceFactory.create(provider=provider, category=CategoryFactory.create()) for _ in range(4)]
    manual_service = ServiceFactory.create(provider=None, upstream_id=None)
    orders, charges = [], {}
    submissions = [Order.Submission.UNKNOWN] * 20 + [Order.Submission.HELD] * 4 + [Order.Submission.QUEUED] * 2
    for n, submission in enumerate(submissions):
        order = OrderFactory.create(user=customers[n % 4], service=services[n % 4], submission=submission)
        orders.append(order)
    orders += [OrderFactory.create(user=customers[n % 4], service=services[n % 4], sent=True) for n in range(6)]
    completed = [OrderFactory.create(user=customers[n], service=services[0], completed=True) for n in range(2)]
    orders += completed
    manual = [
        OrderFactory.create(
            user=customers[n % 4],
            service=manual_service,
            provider=None,
            upstream_service_id=None,
            submission=Order.Submission.MANUAL,
        )
        for n in range(6)
    ]
    for order in orders + manual:
        wallet_debit(user=order.user, amount=order.charge, kind=LedgerEntry.Kind.CHARGE, order=order)
        charges[order.pk] = order.charge
    refills = [RefillFactory.create(order=order) for order in completed]
    cancels = [CancelRequestFactory.create(order=order) for order in orders[26:28]]  # two sent ones
    payments = [PaymentFactory.create(user=customers[n]) for n in range(3)]
    deposits = [DepositRequestFactory.create(user=customers[n % 4]) for n in range(12)]

    callers = [Caller(name, None, Client(), None) for name in STRANGERS]
    by_name = {caller.name: caller for caller in callers}
    by_name["junk token"].authorization = "Token 0123456789abcdefghijklmnopqrstuvwxyz"
    revoked = _user("revoked", staff=True, superuser=True)
    by_name["revoked token"].authorization = f"Token {staff_token_issue(user=revoked)}"
    staff_token_issue(user=revoked)  # a new token: the first one stops working
    for name, change in (("deactivated staff", {"is_active": False}), ("demoted staff", {"is_staff": False})):
        member = _user(name.replace(" ", "-"), staff=True, superuser=True)
        by_name[name].authorization = f"Token {staff_token_issue(user=member)}"
        User.objects.filter(pk=member.pk).update(**change)
    by_name["customer's API key"].authorization = f"Token {api_key_issue(user=customers[0])}"
    # A staff token a customer holds (issued while they were staff, or written by mistake): never honoured.
    StaffTokenFactory.create(user=customers[1], prefix="c0ffee000001", secret="customer-secret")
    by_name["customer's staff token"].authorization = "Token c0ffee000001customer-secret"
    for name, role, superuser in [("staff without a role", None, False), *((r, r, False) for r in ROLES),
                                  ("superuser", None, True)]:  # fmt: skip
        member = _user(name.replace(" ", "-").lower(), staff=True, role=role, superuser=superuser)
        token = f"Token {staff_token_issue(user=member)}"
        callers.append(Caller(name, "superuser" if superuser else role or "", Client(), token, member.pk))
    return World(
        ids={
            "orders": [o.pk for o in orders + manual],
            "manual-orders": [o.pk for o in manual],
            "refills": [r.pk for r in refills],
            "cancels": [c.pk for c in cancels],
            "customers": [c.pk for c in customers],
            "wallets": [c.wallet.pk for c in customers],
            "payments": [p.pk for p in payments],
            "deposits": [d.pk for d in deposits],
            "providers": [provider.pk],
            "services": [s.pk for s in [*services, manual_service]],
        },
        callers=callers,
        charges=charges,
    )


# What the staff API could write, and what could be written by mistake: each table's rows, hashed.
FINGERPRINTED = [
    "orders_order", "orders_refill", "orders_cancelrequest", "billing_wallet", "billing_ledgerentry",
    "billing_payment", "billing_depositrequest", "catalog_provider", "catalog_service", "catalog_category",
    "catalog_route", "catalog_serviceprice", "backoffice_auditentry", "accounts_user", "api_stafftoken",
    "accounts_apikey", "accounts_user_groups", "auth_group_permissions",
]  # fmt: skip


def _fingerprint_query() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        present = {row[0] for row in cursor.fetchall()}
    missing = [table for table in FINGERPRINTED if table not in present]
    assert not missing, f"tables renamed? {missing}"
    # The table names are this module's own constants, checked above.
    parts = [f"(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t)"  # noqa: S608
             for table in FINGERPRINTED]  # fmt: skip
    return "SELECT " + ", ".join(parts) + ", (SELECT coalesce(max(id), 0) FROM billing_ledgerentry)"  # noqa: S608


def _fingerprint(query: str) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return tuple(cursor.fetchone())


def _changed(before: tuple[Any, ...], after: tuple[Any, ...]) -> list[str]:
    return [table for table, old, new in zip(FINGERPRINTED, before, after, strict=False) if old != new]


@dataclass
class Sent:
    """One request, as sent: enough to read what went wrong and to replay it."""

    index: int
    caller: str
    method: str
    path: str
    query: str
    content_type: str | None
    body: bytes
    accept: str | None
    authorization: str | None
    ledger_before: int = 0  # the last ledger entry's id before it

    def __str__(self) -> str:
        body = self.body[:300] + (b"..." if len(self.body) > 300 else b"")
        return (f"request #{self.index} by {self.caller}: {self.method} {self.path}"
                f"{'?' + self.query[:300] if self.query else ''} content-type={self.content_type!r} "
                f"accept={self.accept!r} authorization={self.authorization!r} "
                f"body({len(self.body)} bytes)={body!r}")  # fmt: skip


def _ripe(action: str | None) -> list[int]:
    """The ids of the records the action applies to now (an order it can resend, a pending deposit, ...)."""
    open_orders = Order.objects.exclude(status__in=Order.FINAL)
    pending = DepositRequest.objects.filter(status=DepositRequest.Status.PENDING)
    ripe: dict[str, Any] = {
        "resend": open_orders.filter(
            submission__in=[Order.Submission.UNKNOWN, Order.Submission.HELD], upstream_id=None
        ),
        "link-upstream": open_orders.filter(submission=Order.Submission.UNKNOWN),
        "cancel": open_orders,
        "mark-completed": open_orders,
        "mark-partial": open_orders,
        "progress": manual_orders_open(),
        "approve": pending,
        "reject": pending,
    }
    chosen = ripe.get(action or "")
    return [] if chosen is None else list(chosen.order_by().values_list("pk", flat=True))


def _an_id(rnd: random.Random, world: World, endpoint: str, action: str | None) -> tuple[str, bool]:
    """An id for the endpoint's record URL (one an action applies to now, its own records', another table's,
    junk, huge), and whether the router takes it (a segment without "/" or ".")."""
    pick = rnd.random()
    ripe = _ripe(action) if action is not None and pick < 0.5 else []
    if ripe:
        text = str(rnd.choice(ripe))
    elif pick < 0.6:
        text = str(rnd.choice(world.ids[endpoint]))
    elif pick < 0.75:
        text = str(rnd.choice(world.ids[rnd.choice(list(world.ids))]))
    elif pick < 0.87:
        text = rnd.choice(HUGE_IDS)
    else:
        text = junk_text(rnd)[:200] or "x"
    text = text.encode("utf-8", "replace").decode()
    return quote(text, safe=""), "/" not in text and "." not in text and text != ""


def _a_cursor(rnd: random.Random) -> str:
    """A hand-made cursor: an offset, a direction and a position, each valid or junk, base64-encoded."""
    positions = ["1", "2026", "2026-12-02 14:41:32.097388+00:00", "9" * 30, junk_text(rnd)[:50]]
    parts = {"o": rnd.choice(["0", "3", "-1", "x", "9" * 30]), "r": rnd.choice(["0", "1", "2", "x"]),
             "p": rnd.choice(positions)}  # fmt: skip
    chosen = {name: value for name, value in parts.items() if rnd.random() < 0.7}
    return base64.b64encode(urlencode(form_safe(chosen)).encode()).decode()


def _a_query(rnd: random.Random, endpoint: str) -> str:
    filters = sorted(FILTERS[endpoint].items())
    valid = dict(rnd.sample(filters, min(len(filters), rnd.randrange(0, 3))))
    if rnd.random() < 0.3:
        valid.update(rnd.sample(sorted(PAGING.items()), rnd.randrange(1, 3)))
    names = [*FILTERS[endpoint], *PAGING]
    params = mutated(rnd, valid, names, near=lambda name: _a_cursor(rnd) if name == "cursor" else str(_near(rnd)))
    pairs = list(form_safe(params).items())
    if rnd.random() < 0.1 and pairs:
        pairs.append(rnd.choice(pairs))  # a parameter repeated
    return urlencode(pairs)


def _a_body(rnd: random.Random, world: World, action: str | None) -> tuple[bytes, str | None]:
    """A valid body, one mutated, junk bytes under any content type, or nothing."""
    pick = rnd.random()
    if action is not None and pick < 0.3:
        return json.dumps(_valid_body(action, world, rnd)).encode(), "application/json"
    if action is not None and pick < 0.75:
        valid = _valid_body(action, world, rnd)
        names = list(valid) or ["upstream_id", "reason", "remains", "status", "note", "amount"]
        params = mutated(rnd, valid, names, near=lambda name: _near(rnd))
        if rnd.random() < 0.1:
            params = {name: junk_json_value(rnd) for name in params}
        payload: Any = params if rnd.random() < 0.93 else junk_json_value(rnd)
        content_type = "application/json" if rnd.random() < 0.9 else rnd.choice(CONTENT_TYPES)
        return json.dumps(payload).encode(), content_type
    if pick < 0.9:
        return junk_body(rnd), rnd.choice(CONTENT_TYPES)
    return b"", rnd.choice([None, "application/json"])


def _a_request(rnd: random.Random, world: World, index: int) -> tuple[Sent, Caller, str, str | None, bool]:
    """A random request: the caller, what it asks (endpoint and action), and whether the URL is a route."""
    # A stranger a fifth of the time; a staff member mostly on their own endpoints, so that actions are accepted.
    strangers, staff = world.callers[: len(STRANGERS)], world.callers[len(STRANGERS) :]
    caller = rnd.choice(strangers) if rnd.random() < 0.2 else rnd.choice(staff)
    own = [name for name, readers in READERS.items() if caller.role in readers]
    endpoint = rnd.choice(own if own and rnd.random() < 0.6 else list(READERS))
    actions = [name for (on, name) in ACTIONS if on == endpoint]
    shape = rnd.random()
    routed = True
    action: str | None = None
    if actions and shape < 0.45:
        action = rnd.choice(actions)
        detail = ACTIONS[(endpoint, action)][1]
        method = "POST" if rnd.random() < 0.85 else rnd.choice(METHODS)
    else:
        detail = shape < 0.7
        method = rnd.choice(["GET", "GET", "GET", *METHODS])
    path = f"{V1}{endpoint}/"
    if detail:
        record, routed = _an_id(rnd, world, endpoint, action)
        path += f"{record}/"
    if action is not None:
        path += f"{action}/"
    query = _a_query(rnd, endpoint) if method in READING or rnd.random() < 0.1 else ""
    body, content_type = _a_body(rnd, world, action) if method not in READING or rnd.random() < 0.05 else (b"", None)
    accept = rnd.choice(ACCEPTS)
    authorization = caller.authorization
    if caller.name == "junk token" and rnd.random() < 0.8:
        # Any header a client can send: as a WSGI server hands it over, its bytes read as Latin-1.
        scheme = rnd.choice(["Token ", "Token  ", "token ", "Bearer ", "Basic ", "", "Token\t"])
        junk = (authorization or "")[6:] + junk_text(rnd)[:80] if rnd.random() < 0.5 else junk_text(rnd)[:80]
        authorization = (scheme + junk).encode("utf-8", "replace").decode("latin-1")
    sent = Sent(index, caller.name, method, path, query, content_type, body, accept, authorization)
    return sent, caller, endpoint, action, routed


def _send(caller: Caller, sent: Sent) -> Any:
    headers = {"authorization": sent.authorization} if sent.authorization else {}
    if sent.accept is not None:
        headers["accept"] = sent.accept
    path = f"{sent.path}?{sent.query}" if sent.query else sent.path
    extra: dict[str, Any] = {} if sent.content_type is None else {"content_type": sent.content_type}
    return caller.client.generic(sent.method, path, sent.body, headers=headers, **extra)


def _may(caller: Caller, endpoint: str, action: str | None, method: str) -> bool:
    """Whether the caller has the permission this request needs (the map above); an unrouted method is
    nobody's to change anything with."""
    if caller.role == "superuser":
        return True
    if action is not None and method == "POST":
        return caller.role in ACTIONS[(endpoint, action)][0]
    return method in READING and caller.role in READERS[endpoint]


def _expected(caller: Caller, endpoint: str, action: str | None, method: str, routed: bool) -> set[int]:
    """The statuses this request may get."""
    if not routed:
        return {404}  # not a URL of the API at all
    if caller.role is None:
        return {401}
    may = _may(caller, endpoint, action, method)
    unrouted = method not in (READING if action is None else {"POST", "OPTIONS"})
    if unrouted:
        # The model permission of the method is checked before the method: 403 without it, 405 with it.
        return {405} if caller.role == "superuser" else {403} if caller.role == "" else {403, 405}
    if not may:
        return {403}
    if method == "OPTIONS":
        return {200}
    if action is None:
        return {200, 400, 404}  # a list's bad filter or cursor; an unknown record
    return {200, 400, 404, 415}


def _money_explained(world: World, caller: Caller, sent: Sent, action: str | None, answer: Any) -> str | None:
    """Why the ledger entries an accepted action wrote are right, or what is wrong with them (None: right)."""
    entries = list(LedgerEntry.objects.filter(id__gt=sent.ledger_before).select_related("wallet").order_by("id"))
    if action == "adjust":
        body = json.loads(sent.body)
        amount = Decimal(str(body["amount"]))
        signed = amount if body["direction"] == "credit" else -amount
        ok = (len(entries) == 1 and entries[0].kind == LedgerEntry.Kind.ADJUSTMENT and entries[0].amount == signed
              and entries[0].actor_id == caller.user_id and entries[0].id == answer["id"])  # fmt: skip
        return None if ok else f"adjust wrote {entries}"
    if action == "approve":
        ok = (len(entries) == 1 and entries[0].kind == LedgerEntry.Kind.DEPOSIT
              and entries[0].amount == Decimal(answer["amount"])
              and entries[0].wallet.user_id == answer["customer"])  # fmt: skip
        return None if ok else f"approve wrote {entries}"
    if action in ("cancel", "mark-partial", "progress"):
        order = int(answer["id"])
        for entry in entries:
            if entry.kind != LedgerEntry.Kind.REFUND or entry.order_id != order or entry.amount <= 0:
                return f"{action} of order {order} wrote {entry}"
            world.refunded[order] = world.refunded.get(order, Decimal(0)) + entry.amount
        if world.refunded.get(order, Decimal(0)) > world.charges[order]:
            return f"order {order} refunded {world.refunded[order]}, more than its charge {world.charges[order]}"
        return None
    return None if not entries else f"{action or sent.method} moved money: {entries}"


# Requests that must change nothing are checked in batches of at most this many: one fingerprint for the lot.
BATCH = 25


def test_the_staff_api_survives_random_requests(fuzz_seed: int, fuzz_requests: int, alarms: Alarms) -> None:
    rnd = random.Random(fuzz_seed)
    world = _world()
    query = _fingerprint_query()
    state = _fingerprint(query)  # the database as it was before the requests in `unchanging`
    unchanging: list[Sent] = []  # requests since `state` that must have changed nothing
    accepted: dict[str, int] = {}
    refused: dict[str, int] = {}
    statuses: dict[int, int] = {}

    def unchanged() -> tuple[Any, ...]:
        after = _fingerprint(query)
        if after != state:
            sent = "\n".join(map(str, unchanging))
            raise AssertionError(f"seed {fuzz_seed}: one of these, each refused or changing nothing, changed "
                                 f"{_changed(state, after)}:\n{sent}")  # fmt: skip
        unchanging.clear()
        return after

    started = time.monotonic()
    for index in range(fuzz_requests):
        sent, caller, endpoint, action, routed = _a_request(rnd, world, index)
        # Only an action the caller may run may change the database (when it is accepted).
        may_change = action is not None and sent.method == "POST" and _may(caller, endpoint, action, "POST")
        if may_change and unchanging:
            state = unchanged()
        sent.ledger_before = state[-1]
        where = f"seed {fuzz_seed}, {sent}"
        try:
            answer = _send(caller, sent)
        except Exception as error:  # the test client re-raises what a view raised: a 500
            raise AssertionError(f"{where}: raised {error!r}") from error
        status = answer.status_code
        statuses[status] = statuses.get(status, 0) + 1
        assert status in DOCUMENTED, f"{where}: {status} is not an answer the API documents"
        expected = _expected(caller, endpoint, action, sent.method, routed)
        if sent.accept in NOT_ACCEPTABLE:
            expected = expected | {406}
        assert status in expected, f"{where}: answered {status}, not {sorted(expected)}: {answer.content[:300]!r}"
        data = None
        if routed and sent.method != "HEAD":
            assert answer["Content-Type"] == "application/json", f"{where}: answered {answer['Content-Type']}"
            data = json.loads(answer.content)
            if status >= 400:
                assert isinstance(data, dict) and isinstance(data.get("detail"), str), f"{where}: {data!r}"
                invalid = data.get("invalid", {})
                assert set(data) <= {"detail", "invalid"} and isinstance(invalid, dict), f"{where}: {data!r}"
        assert not alarms.records, f"{where}: logged {alarms.messages()}"
        if may_change and status == 200:
            after = _fingerprint(query)
            problem = _money_explained(world, caller, sent, action, data)
            assert problem is None, f"{where}: {problem}"
            state = after
        else:
            unchanging.append(sent)
            if len(unchanging) >= BATCH:
                state = unchanged()
        if action is not None and sent.method == "POST":
            tally = accepted if status == 200 else refused if status in (401, 403) else None
            if tally is not None:
                tally[action] = tally.get(action, 0) + 1
    unchanged()
    elapsed = time.monotonic() - started
    print(f"\nseed {fuzz_seed}: {fuzz_requests} requests in {elapsed:.1f}s; statuses {sorted(statuses.items())}; "
          f"accepted {sorted(accepted.items())}")  # fmt: skip
    if fuzz_requests >= 5000:
        # The fuzz reached every action both ways: a refusal of each, and (with the fixed seeds, whose runs are
        # known; a fresh seed may accept a rare one, such as linking an order, no time) an accepted call of each.
        every = {name for _, name in ACTIONS}
        assert set(refused) == every, refused
        if fuzz_seed in FUZZ_FIXED_SEEDS:
            assert set(accepted) == every, accepted
