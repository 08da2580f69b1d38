"""Benchmark both APIs in one gunicorn run with production settings, loaded by wrk (Debian's, in its own
process), next to the stack's ceiling views (api/bench); prints requests/s, p50, p99, errors and each request's
share of its ceiling against the targets of issue 13. Asserts nothing.

Runs in a throwaway test database on the configured Postgres, with the configured Redis.
"""

import importlib
import importlib.metadata
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Sum
from django.test.utils import setup_test_environment
from django.urls import reverse

from accounts.models import User
from accounts.services import api_key_issue
from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches, wallet_credit, wallet_lock
from catalog.models import Provider, Service
from catalog.services.sync import catalog_sync
from orders.models import Order
from orders.services.placement import order_place
from panel.celery import app as celery_app
from upstream.service_types import service_type
from upstream.simulator import Simulator, generated_catalog

ROOT = Path(__file__).resolve().parents[3]
BENCH_URLS = "api.bench.urls"
STAFF_ORDERS = "/api/staff/v1/orders/"
STAFF_PAGE = 50
DEPOSIT = Decimal(10**9)
WRK_LINE = re.compile(r"^bench_api: (.*)$", re.MULTILINE)

# Counts what wrk alone does not: answers outside 2xx, and (for API v2, which answers errors with HTTP 200)
# answers naming an error. Each wrk thread has its own Lua state; done() adds up the threads' counters.
LUA = """\
wrk.method = {method}
wrk.body = {body}
{headers}
local threads = {{}}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non_2xx = 0
  error_answers = 0
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  elseif {api_v2} and string.find(body, '"error"', 1, true) then
    error_answers = error_answers + 1
  end
end

function done(summary, latency, requests)
  local non_2xx, error_answers = 0, 0
  for _, thread in ipairs(threads) do
    non_2xx = non_2xx + thread:get("non_2xx")
    error_answers = error_answers + thread:get("error_answers")
  end
  local e = summary.errors
  io.write(string.format("bench_api: %d %d %.0f %.0f %d %d %d\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), e.connect + e.read + e.write + e.timeout, non_2xx,
    error_answers))
end
"""

Check = Callable[[Any], str | None]


@dataclass
class Scenario:
    name: str
    method: str
    path: str  # with its query string
    check: Check  # what is wrong with a sample answer (None: nothing)
    body: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    api_v2: bool = False  # an answer naming an error counts as an error
    ceiling: str = ""  # the name of the scenario it is measured against
    target: float = 0  # the share of the ceiling issue 13 asks for
    absent: str = ""  # why it cannot run in this checkout


@dataclass
class Measured:
    rate: float = 0  # requests/s
    p50: float = 0  # milliseconds
    p99: float = 0
    answers: int = 0
    socket_errors: int = 0
    non_2xx: int = 0
    error_answers: int = 0
    orders_missing: int = 0  # add: answers naming an order that is not in the database
    problem: str = ""  # why it was not loaded (a wrong sample answer)

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx + self.error_answers + self.orders_missing


@dataclass
class Bench:
    url: str
    wrk: str
    work: Path
    threads: int
    connections: int
    seconds: int
    warmup: int
    results: dict[str, Measured] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _lua(text: str) -> str:
    """A Lua string literal of any text: every byte but plain ones as a decimal escape."""
    plain = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:/=&%+"
    return '"' + "".join(chr(byte) if byte in plain else f"\\{byte:03d}" for byte in text.encode()) + '"'


def _short(answer: Any) -> str:
    text = json.dumps(answer)
    return text if len(text) <= 120 else text[:117] + "..."


def _has(key: str) -> Check:
    return lambda answer: None if isinstance(answer, dict) and key in answer else f"answered {_short(answer)}"


def _api_v2(check: Check) -> Check:
    def checked(answer: Any) -> str | None:
        if isinstance(answer, dict) and "error" in answer:
            return f"answered {_short(answer)}"
        return check(answer)

    return checked


def _rows(count: int, *, inner: str = "") -> Check:
    def checked(answer: Any) -> str | None:
        rows = answer.get(inner) if inner and isinstance(answer, dict) else answer
        if not isinstance(rows, list | dict) or len(rows) != count:
            return f"expected {count} rows, answered {_short(answer)}"
        if isinstance(rows, dict) and any("error" in row for row in rows.values()):
            return f"answered {_short(answer)}"
        return None

    return checked


class Command(BaseCommand):
    help = (
        "Load API v2 and the staff API under gunicorn with wrk, next to the stack's ceiling views; print requests/s, "
        "p50, p99, errors and each request's share of its ceiling."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seconds", type=int, default=10, help="wrk's measured run per scenario (whole seconds).")
        parser.add_argument("--warmup", type=int, default=2, help="An unmeasured wrk run before each (0: none).")
        parser.add_argument("--connections", type=int, default=32)
        parser.add_argument("--threads", type=int, default=2, help="wrk threads.")
        parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (2 per core).")
        parser.add_argument("--orders", type=int, default=100_000, help="Orders in the database during the run.")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_api needs Postgres (DATABASE_URL).")
        if not settings.REDIS_URL:
            raise CommandError("bench_api needs Redis (REDIS_URL), as production does.")
        wrk = shutil.which("wrk")
        if wrk is None:
            raise CommandError("bench_api loads the server with wrk, which is not installed: apt-get install wrk")
        if options["seconds"] < 1 or options["warmup"] < 0 or options["orders"] < 100:
            raise CommandError("--seconds must be at least 1, --warmup at least 0 and --orders at least 100.")
        if not 1 <= options["threads"] <= options["connections"]:
            raise CommandError("--threads must be between 1 and --connections.")
        setup_test_environment()
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        try:
            with _terminated_as_exit(), tempfile.TemporaryDirectory(prefix="bench-api-") as work:
                self._run(wrk, Path(work), options)
        finally:
            celery_app.control.purge()  # the forward_order tasks of every order placed; no worker takes them here
            _drop_other_sessions()
            connection.creation.destroy_test_db(old_name, verbosity=0)

    def _run(self, wrk: str, work: Path, options: dict[str, Any]) -> None:
        with Simulator(key="bench", catalog=generated_catalog(5000)[:500]) as simulator:
            seeded = time.perf_counter()
            seed = _seed(simulator, options["orders"])
            seeded = time.perf_counter() - seeded
            port = _free_port()
            with _gunicorn(port, options["workers"], work / "gunicorn.log"):
                bench = Bench(url=f"http://127.0.0.1:{port}", wrk=wrk, work=work, threads=options["threads"],
                              connections=options["connections"], seconds=options["seconds"],
                              warmup=options["warmup"])  # fmt: skip
                self._header(bench, options, seeded)
                scenarios = _scenarios(seed)
                for group in _run_order():
                    for name in group:
                        if name == "services (5,000)":
                            simulator.catalog = generated_catalog(5000)
                            catalog_sync(provider=seed.provider)
                        self.stderr.write(f"running {name} ...")
                        bench.results[name] = self._scenario(bench, scenarios[name], seed)
        self._table(bench, scenarios)
        mismatches = ledger_mismatches()
        self.stdout.write(f"check_ledger after the run: {mismatches or 'clean'}")

    def _header(self, bench: Bench, options: dict[str, Any], seeded: float) -> None:
        version = subprocess.run([bench.wrk, "--version"], capture_output=True, text=True, check=False)  # noqa: S603
        wrk_name = (version.stdout or version.stderr).split("Copyright")[0].strip() or "wrk"
        warmup = f" after a {bench.warmup} s warm-up" if bench.warmup else ""
        self.stdout.write(
            f"load generator: {wrk_name} ({bench.wrk}), its own process: {bench.threads} threads, "
            f"{bench.connections} connections, {bench.seconds} s per scenario{warmup}"
        )
        self.stdout.write(
            f"server: gunicorn {importlib.metadata.version('gunicorn')}, {options['workers']} sync workers, "
            f"production settings (DEBUG off, api.bench.settings), Postgres {_server_version()} "
            f"({settings.DATABASES['default']['NAME']}), Redis"
        )
        self.stdout.write(
            f"data: {Order.objects.count():,} orders (seeded in {seeded:.1f} s), "
            f"{Service.objects.count():,} services (5,000 from the services (5,000) row on)"
        )

    def _scenario(self, bench: Bench, scenario: Scenario, seed: "Seed") -> Measured:
        if scenario.absent:
            return Measured(problem=scenario.absent)
        problem = _sample(bench.url, scenario)
        if problem:
            return Measured(problem=f"sample answer: {problem}")
        script = bench.work / f"{re.sub(r'[^a-z0-9]+', '-', scenario.name)}.lua"
        headers = dict(scenario.headers)
        if scenario.body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        script.write_text(
            LUA.format(
                method=_lua(scenario.method),
                body=_lua(urlencode(scenario.body)) if scenario.body is not None else "nil",
                headers="\n".join(f"wrk.headers[{_lua(name)}] = {_lua(value)}" for name, value in headers.items()),
                api_v2="true" if scenario.api_v2 else "false",
            )
        )
        if bench.warmup:
            _wrk(bench, scenario, script, bench.warmup)
        placed_before = _placed(seed.customer) if scenario.name == "add" else 0
        measured = _wrk(bench, scenario, script, bench.seconds)
        if not measured.answers:
            return Measured(problem=f"no answer within the {bench.seconds} s run")
        if scenario.name == "add":
            placed = _placed(seed.customer) - placed_before
            answered = measured.answers - measured.non_2xx - measured.error_answers
            measured.orders_missing = max(0, answered - placed)
            bench.notes.append(
                f"add: {placed:,} orders placed for {answered:,} answers naming one (requests in flight when wrk "
                f"stopped are placed unanswered: up to {bench.connections} more)"
            )
        return measured

    def _table(self, bench: Bench, scenarios: dict[str, Scenario]) -> None:
        bare = bench.results["bare Django view"].rate
        self.stdout.write("")
        self.stdout.write(
            f"{'scenario':<28} {'req/s':>6} {'p50 ms':>7} {'p99 ms':>7} {'errors':>6}  {'ceiling':<22} "
            f"{'share':>5} {'of bare':>7} {'target':>6}  met"
        )
        for name in _print_order():
            scenario, result = scenarios[name], bench.results[name]
            if result.problem:
                self.stdout.write(f"{name:<28} {result.problem}")
                continue
            ceiling = bench.results.get(scenario.ceiling) if scenario.ceiling else None
            share = result.rate / ceiling.rate if ceiling and ceiling.rate else None
            line = (
                f"{name:<28} {result.rate:6.0f} {result.p50:7.1f} {result.p99:7.1f} {result.errors:6d}  "
                f"{scenario.ceiling or '-':<22} {'-' if share is None else f'{share:.0%}':>5} "
                f"{f'{result.rate / bare:.0%}' if bare else '-':>7}"
            )
            if scenario.target:
                line += f" {f'≥{scenario.target:.0%}':>6}  {_verdict(scenario, result, share)}"
            self.stdout.write(line)
        self.stdout.write(
            "share: requests/s over the ceiling's in this run (of bare: over the bare Django view's); "
            "target (issue 13):\nthat share, with p99 ≤ 3 × p50 and 0 errors"
        )
        for name in _print_order():
            result = bench.results[name]
            if result.errors:
                self.stdout.write(
                    f"errors of {name}: {result.socket_errors} socket errors or timeouts, {result.non_2xx} answers "
                    f"outside 2xx, {result.error_answers} answers naming an error, {result.orders_missing} orders "
                    "missing"
                )
        for note in bench.notes:
            self.stdout.write(note)


def _verdict(scenario: Scenario, result: Measured, share: float | None) -> str:
    missed = []
    if share is None:
        missed.append("no ceiling figure")
    elif share < scenario.target:
        missed.append(f"{share:.0%} < {scenario.target:.0%}")
    if result.p99 > 3 * result.p50:
        missed.append(f"p99 = {result.p99 / result.p50:.1f} × p50" if result.p50 else "p99 > 3 × p50")
    if result.errors:
        missed.append(f"{result.errors} errors")
    return f"no: {', '.join(missed)}" if missed else "yes"


@dataclass
class Seed:
    customer: User  # the API v2 customer: every order but the transaction view's is theirs
    key: str
    provider: Provider
    service: Service  # the one `add` orders
    status_ids: list[int]
    ceiling_customer: User  # the transaction view debits this one only
    staff_key: str | None
    staff_absent: str


def _seed(simulator: Simulator, orders: int) -> Seed:
    provider = Provider.objects.create(name="Bench", api_url=simulator.url, api_key="bench")
    catalog_sync(provider=provider)
    service = next(
        s
        for s in Service.objects.filter(provider=provider, is_active=True).order_by("pk")
        if service_type(s.type) is not None and s.type == "Default" and s.min_quantity <= 100 <= s.max_quantity
    )
    customer = User.objects.create(username="bench", email="bench@example.com")
    wallet_credit(user=customer, amount=DEPOSIT)
    ceiling_customer = User.objects.create(username="bench-ceiling", email="bench-ceiling@example.com")
    wallet_credit(user=ceiling_customer, amount=DEPOSIT)
    params = {"link": "https://example.com/p", "quantity": "100"}
    status_ids = [order_place(user=customer, service_id=service.pk, params=params).pk for _ in range(100)]
    _copy_orders(template=Order.objects.get(pk=status_ids[0]), count=orders - 100)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would have, long before a real panel holds this many orders
    staff_key, staff_absent = _staff_token()
    return Seed(customer=customer, key=api_key_issue(user=customer), provider=provider, service=service,
                status_ids=status_ids, ceiling_customer=ceiling_customer, staff_key=staff_key,
                staff_absent=staff_absent)  # fmt: skip


def _copy_orders(*, template: Order, count: int) -> None:
    """`count` copies of the template order, each with its charge in the ledger: two INSERT ... SELECT."""
    if count <= 0:
        return
    quote = connection.ops.quote_name
    orders, entries = quote(Order._meta.db_table), quote(LedgerEntry._meta.db_table)
    columns = ", ".join(quote(f.column) for f in Order._meta.concrete_fields if not f.primary_key)
    # Only the models' own table and column names, quoted, go into the text; every value is a parameter.
    copy_orders = (
        f"INSERT INTO {orders} ({columns}) SELECT {columns} "  # noqa: S608  # nosec B608 - quoted identifiers, no values
        f"FROM {orders}, generate_series(1, %s) WHERE id = %s"
    )
    charge_them = (
        f"INSERT INTO {entries} (wallet_id, kind, amount, balance_after, order_id, note, created_at) "  # noqa: S608  # nosec B608 - quoted identifiers, no values
        f"SELECT %s, %s, -charge, %s - SUM(charge) OVER (ORDER BY id), id, '', now() FROM {orders} WHERE id > %s"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        wallet = wallet_lock(user=template.user)
        last = Order.objects.order_by("-pk").values_list("pk", flat=True)[0]
        cursor.execute(copy_orders, [count, template.pk])
        cursor.execute(charge_them, [wallet.pk, LedgerEntry.Kind.CHARGE, wallet.balance, last])
        copied = Order.objects.filter(pk__gt=last).aggregate(total=Sum("charge"))["total"]
        Wallet.objects.filter(pk=wallet.pk).update(balance=wallet.balance - copied)


def _staff_token() -> tuple[str | None, str]:
    """A staff API token of a superuser, when this checkout has the staff API (api.staff, built alongside)."""
    try:
        tokens = importlib.import_module("api.staff.tokens")
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith("api.staff"):
            raise
        return None, "staff API not present in this checkout"
    admin = User.objects.create_superuser(username="bench-admin", email="bench-admin@example.com", password=None)
    return str(tokens.staff_token_issue(user=admin)), ""


def _scenarios(seed: Seed) -> dict[str, Scenario]:
    def ceiling(name: str, query: Mapping[str, object]) -> str:
        return reverse(name, urlconf=BENCH_URLS) + (f"?{urlencode(query)}" if query else "")

    key = seed.key
    ids = ",".join(map(str, seed.status_ids))
    ceiling_user = {"user": seed.ceiling_customer.pk}
    staff_headers = {"Authorization": f"Token {seed.staff_key}"} if seed.staff_key else {}

    def services(answer: Any) -> str | None:
        # Every service on sale, counted when the scenario runs (the catalog grows to 5,000 on the way).
        return _api_v2(_rows(Service.objects.filter(provider=seed.provider, is_active=True).count()))(answer)

    scenarios = [
        Scenario("bare Django view", "GET", ceiling("ceiling-django", {}), _has("ok")),
        Scenario("bare DRF view", "GET", ceiling("ceiling-drf", {}), _has("ok")),
        Scenario("one indexed read", "GET", ceiling("ceiling-one-read", ceiling_user), _has("balance")),
        Scenario("debit + order + ledger", "POST",
                 ceiling("ceiling-transaction", {**ceiling_user, "service": seed.service.pk,
                                                 "provider": seed.provider.pk}), _has("order"), body={}),
        Scenario("100-row read", "GET", ceiling("ceiling-hundred-rows", {"ids": ids}), _rows(100)),
        Scenario("balance", "POST", "/api/v2", _api_v2(_has("balance")), body={"key": key, "action": "balance"},
                 api_v2=True, ceiling="one indexed read", target=0.75),
        Scenario("services (500)", "POST", "/api/v2", services, body={"key": key, "action": "services"},
                 api_v2=True, ceiling="one indexed read", target=0.75),
        Scenario("services (5,000)", "POST", "/api/v2", services,
                 body={"key": key, "action": "services"}, api_v2=True, ceiling="one indexed read", target=0.75),
        Scenario("status (100 ids)", "POST", "/api/v2", _api_v2(_rows(100)),
                 body={"key": key, "action": "status", "orders": ids}, api_v2=True, ceiling="100-row read",
                 target=0.75),
        Scenario("add", "POST", "/api/v2", _api_v2(_has("order")),
                 body={"key": key, "action": "add", "service": str(seed.service.pk), "link": "https://example.com/p",
                       "quantity": "100"}, api_v2=True, ceiling="debit + order + ledger", target=0.70),
        Scenario(f"staff order list ({STAFF_PAGE}/page)", "GET", STAFF_ORDERS, _rows(STAFF_PAGE, inner="results"),
                 headers=staff_headers, ceiling="100-row read", target=0.75, absent=seed.staff_absent),
    ]  # fmt: skip

    return {scenario.name: scenario for scenario in scenarios}


def _run_order() -> list[list[str]]:
    # Each request next to its ceiling: the machine's other load drifts less within a group than across the run.
    return [
        ["bare Django view", "bare DRF view"],
        ["one indexed read", "balance", "services (500)", "services (5,000)"],
        ["100-row read", "status (100 ids)", f"staff order list ({STAFF_PAGE}/page)"],
        ["debit + order + ledger", "add"],
    ]


def _print_order() -> list[str]:
    return [
        "bare Django view", "bare DRF view", "one indexed read", "debit + order + ledger", "100-row read", "balance",
        "services (500)", "services (5,000)", "status (100 ids)", "add", f"staff order list ({STAFF_PAGE}/page)",
    ]  # fmt: skip


def _placed(customer: User) -> int:
    """The customer's orders, once the requests still in flight after wrk stopped have been served."""
    count = -1
    while (now := Order.objects.filter(user=customer).count()) != count:
        count = now
        time.sleep(0.5)
    return count


def _sample(url: str, scenario: Scenario) -> str | None:
    """What is wrong with one answer of the scenario, asked before wrk loads it (None: nothing)."""
    try:
        response = requests.request(
            scenario.method, url + scenario.path, data=scenario.body, headers=scenario.headers, timeout=30
        )
    except requests.RequestException as exc:
        return f"no answer ({exc})"
    if not 200 <= response.status_code < 300:
        return f"HTTP {response.status_code} {response.text[:120]}"
    try:
        answer = response.json()
    except ValueError:
        return f"not JSON: {response.text[:120]}"
    return scenario.check(answer)


def _wrk(bench: Bench, scenario: Scenario, script: Path, seconds: int) -> Measured:
    run = subprocess.run(  # noqa: S603 - wrk with our own arguments
        [bench.wrk, "-t", str(bench.threads), "-c", str(bench.connections), "-d", f"{seconds}s", "--timeout", "10s",
         "-s", str(script), bench.url + scenario.path],
        capture_output=True, text=True, timeout=seconds + 60, check=False,
    )  # fmt: skip
    found = WRK_LINE.search(run.stdout)
    if run.returncode or not found:
        raise CommandError(f"wrk failed on {scenario.name} (exit {run.returncode}):\n{run.stdout}\n{run.stderr}")
    answers, duration_us, p50_us, p99_us, socket_errors, non_2xx, error_answers = map(int, found.group(1).split())
    return Measured(rate=answers / (duration_us / 1e6), p50=p50_us / 1000, p99=p99_us / 1000, answers=answers,
                    socket_errors=socket_errors, non_2xx=non_2xx, error_answers=error_answers)  # fmt: skip


@contextmanager
def _gunicorn(port: int, workers: int, log: Path) -> Iterator[None]:
    """gunicorn serving api.bench.settings (production settings plus the ceiling views) on the test database."""
    database_url = urlsplit(os.environ["DATABASE_URL"])._replace(path=f"/{settings.DATABASES['default']['NAME']}")
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTEST"))},
        "DJANGO_SETTINGS_MODULE": "api.bench.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": database_url.geturl(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        # Every request still counts against the limit in Redis; the load just never reaches it.
        "API_RATE_LIMIT": str(10**9),
        "LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as output:
        server = subprocess.Popen(  # noqa: S603 - gunicorn with our own arguments
            [sys.executable, "-m", "gunicorn", "panel.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--log-level", "warning"],
            cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_serving(server, f"http://127.0.0.1:{port}/healthz", log)
        yield
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def _wait_until_serving(server: "subprocess.Popen[bytes]", url: str, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError(f"gunicorn exited ({server.returncode}):\n{log.read_text()[-2000:]}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise CommandError(f"gunicorn did not answer {url} within 60 s:\n{log.read_text()[-2000:]}")


@contextmanager
def _terminated_as_exit() -> Iterator[None]:
    """A SIGTERM unwinds like Ctrl-C, so that gunicorn is stopped and the test database dropped."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0]).split()[0]


def _drop_other_sessions() -> None:
    """Close what a killed gunicorn worker may have left connected, or the test database cannot be dropped."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid()"
        )
