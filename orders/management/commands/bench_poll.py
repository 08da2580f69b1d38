"""Benchmark one full polling cycle over N open orders; prints figures and whether each target is met.

The provider is the simulator in a process of its own (`python -m upstream.simulator`, a real HTTP server on
loopback) that waits `--latency-ms` before answering each call. The pollers are worker processes forked from
this one, as Celery's prefork pool runs them, each running `poll_provider` as the poll task does. With
`--latency-ms 0` a second provider's N orders then measure the apply step alone: the same pollers, handed the
simulator's answers fetched beforehand, so that no network is in the measured time.

Everything runs in a throwaway test database (Postgres when DATABASE_URL points at it), so it never touches real
data. It asserts nothing.
"""

import math
import multiprocessing
import os
import random
import resource
import subprocess  # nosec B404 - runs this project's own simulator with fixed arguments
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from multiprocessing.synchronize import Barrier
from pathlib import Path
from queue import Empty
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, connections
from django.test.utils import override_settings, setup_test_environment

from accounts.models import User
from billing.models import LedgerEntry, Wallet
from billing.services import ledger_mismatches
from catalog.models import Category, Provider, Service
from orders.models import Order
from orders.services import polling
from panel.money import charge_amount
from upstream.client import ApiClient
from upstream.protocol import BATCH_LIMIT, ItemError, OrderStatus
from upstream.simulator import SimOrder, Timing, order_book

KEY = "bench"
CUSTOMERS = 25
RATE = Decimal("1.35")  # ours, per 1000; the simulator's book is priced at its own (upstream) rate
# Of the orders the provider reports still open, the share the panel already knows in that very state (its
# last poll saw it): those do not change on this cycle. The others were last seen Pending.
KNOWN_SHARE = 0.85
CYCLE_TARGET = 1.5  # × the latency floor
APPLY_TARGET = 10_000  # orders/s, at 0 ms latency
SEED_BATCH = 5_000

Answers = dict[int, OrderStatus | ItemError]


@dataclass
class Chunk:
    """What one apply step did: orders, changes, refunds, SQL statements, seconds."""

    polled: int
    changed: int
    refunds: int
    statements: int
    seconds: float


@dataclass
class PollerResult:
    report: polling.PollReport = field(default_factory=polling.PollReport)
    chunks: list[Chunk] = field(default_factory=list)
    statements: int = 0
    cpu_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    error: str = ""


@dataclass
class Phase:
    """One run of the pollers over a provider's orders: what each poller reported, and the wall time."""

    results: list[PollerResult]
    seconds: float

    @property
    def report(self) -> polling.PollReport:
        total = polling.PollReport()
        for result in self.results:
            total.add(result.report)
        return total

    @property
    def chunks(self) -> list[Chunk]:
        return [chunk for result in self.results for chunk in result.chunks]


class _Answered(ApiClient):
    """The simulator's answers, fetched over HTTP before the measured time: the apply step without the network."""

    def __init__(self, answers: Answers) -> None:
        super().__init__("http://127.0.0.1/api/v2", KEY)
        self._fetched = answers

    def status(self, ids: Any) -> Any:
        return {upstream_id: self._fetched[upstream_id] for upstream_id in ids}


class _StatementCounter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


def _peak_rss_mb(usage: resource.struct_rusage) -> float:
    return usage.ru_maxrss / 1024  # kilobytes on Linux


def _measured(apply: Callable[..., polling.PollReport], chunks: list[Chunk]) -> Callable[..., polling.PollReport]:
    """The apply step, timed and its statements counted (connection.execute_wrapper), chunk by chunk."""

    def run(claimed: list[int], answers: Answers, now: datetime) -> polling.PollReport:
        counter = _StatementCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            report = apply(claimed, answers, now)
        seconds = time.perf_counter() - started
        chunks.append(Chunk(report.polled, report.changed, report.refunds, counter.count, seconds))
        return report

    return run


def _poller(
    provider_id: int, answers: Answers | None, start: Barrier, results: "multiprocessing.Queue[PollerResult]"
) -> None:
    """One worker process: a whole cycle of the provider's open orders, as the poll task runs it."""
    result = PollerResult()
    try:
        provider = Provider.objects.get(pk=provider_id)
        polling._apply = _measured(polling._apply, result.chunks)  # this process only
        client = _Answered(answers) if answers is not None else None
        counter = _StatementCounter()
        cache.get("bench-poll-warm-up")  # connected before the start, as a worker that has polled before is
        start.wait()
        cpu = time.process_time()
        with connection.execute_wrapper(counter):
            result.report = polling.poll_provider(provider=provider, everything=True, client=client)
        result.cpu_seconds = time.process_time() - cpu
        result.statements = counter.count
    except Exception:
        result.error = traceback.format_exc()
    finally:
        connection.close()
        result.peak_rss_mb = _peak_rss_mb(resource.getrusage(resource.RUSAGE_SELF))
        results.put(result)


def _poll(provider: Provider, workers: int, answers: Answers | None = None) -> Phase:
    """Run `workers` poller processes over the provider's open orders at once; wall time from their start."""
    context = multiprocessing.get_context("fork")
    start, queue = context.Barrier(workers + 1, timeout=120), context.Queue()
    connections.close_all()  # each worker opens its own
    processes = [context.Process(target=_poller, args=(provider.pk, answers, start, queue)) for _ in range(workers)]
    for process in processes:
        process.start()
    start.wait()
    started = time.perf_counter()
    results: list[PollerResult] = []
    while len(results) < workers:
        try:
            results.append(queue.get(timeout=1))
        except Empty:
            if any(process.exitcode not in (None, 0) for process in processes):
                raise CommandError("A poller process died.") from None
    seconds = time.perf_counter() - started
    for process in processes:
        process.join()
    for result in results:
        if result.error:
            raise CommandError(f"A poller failed:\n{result.error}")
    return Phase(results, seconds)


def _prefetch(url: str, count: int) -> Answers:
    """Every order's answer from the simulator, a status call per 100 ids, 16 calls at a time."""
    client = ApiClient(url, KEY)
    chunks = [range(start, min(start + BATCH_LIMIT, count + 1)) for start in range(1, count + 1, BATCH_LIMIT)]
    answers: Answers = {}
    with ThreadPoolExecutor(max_workers=16) as pool:
        for part in pool.map(lambda ids: client.status(list(ids)), chunks):
            answers.update(part)
    return answers


@contextmanager
def _simulator(count: int, latency_ms: int) -> Iterator[tuple[subprocess.Popen[str], str, list[float]]]:
    """The simulator in its own process, its clock stopped, serving a book of `count` orders; yields the process,
    its URL, and (after the block) its peak RSS in MB."""
    command = [sys.executable, "-m", "upstream.simulator", "--port", "0", "--key", KEY, "--speed", "0",
               "--latency-ms", str(latency_ms), "--orders", str(count)]  # fmt: skip
    process = subprocess.Popen(  # noqa: S603  # nosec B603 - a fixed command line, no shell
        command, cwd=Path(settings.BASE_DIR), stdout=subprocess.PIPE, text=True
    )
    peak: list[float] = []
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if "listening on " not in line:
            raise CommandError(f"The simulator did not start: {line!r}")
        yield process, line.rsplit("listening on ", 1)[1].strip(), peak
    finally:
        process.terminate()
        _, status, usage = os.wait4(process.pid, 0)  # wait() with the child's resource usage
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.stdout is not None:
            process.stdout.close()
        peak.append(_peak_rss_mb(usage))


def _customers() -> dict[int, Wallet]:
    users = [User.objects.create(username=f"customer{n}") for n in range(CUSTOMERS)]
    return {user.pk: user.wallet for user in users}  # opened with each user


def _seed(url: str, count: int, wallets: dict[int, Wallet], *, name: str) -> tuple[Provider, dict[str, int]]:
    """A provider with orders 1..count of the customers, each in the state the panel last saw: the provider's
    answers this cycle (its book, read the same way) will finish some, move some, and leave most as they are;
    the customers' deposits paid for them."""
    provider = Provider.objects.create(name=name, api_url=url, api_key=KEY)
    service = Service.objects.create(
        provider=provider, upstream_id=1, upstream_name="Followers", name="Followers",
        category=Category.objects.create(name=name), upstream_rate=Decimal("0.9"), rate=RATE,
        min_quantity=50, max_quantity=10_000,
    )  # fmt: skip
    timing = Timing()
    book = order_book(count, now=0.0, timing=timing)
    users = sorted(wallets)
    charges = [charge_amount(RATE * upstream.quantity / 1000) for upstream in book]
    owners = [users[upstream.id * 7919 % len(users)] for upstream in book]
    paid = dict.fromkeys(users, Decimal(10))
    for user_id, charge in zip(owners, charges, strict=True):
        paid[user_id] += charge
    balances = {user_id: wallets[user_id].balance + amount for user_id, amount in paid.items()}
    LedgerEntry.objects.bulk_create(
        LedgerEntry(wallet=wallets[user_id], kind="deposit", amount=amount, balance_after=balances[user_id])
        for user_id, amount in paid.items()
    )
    mix: dict[str, int] = {}
    known = random.Random(7)
    for start in range(0, count, SEED_BATCH):
        orders = [
            _order(book[i], timing, known, user_id=owners[i], service=service, charge=charges[i], mix=mix)
            for i in range(start, min(start + SEED_BATCH, count))
        ]
        Order.objects.bulk_create(orders)
        entries = []
        for order in orders:
            balances[order.user_id] -= order.charge
            entries.append(LedgerEntry(wallet=wallets[order.user_id], kind="charge", amount=-order.charge,
                                       order=order, balance_after=balances[order.user_id]))  # fmt: skip
        LedgerEntry.objects.bulk_create(entries)
    for user_id, balance in balances.items():
        Wallet.objects.filter(user_id=user_id).update(balance=balance)
        wallets[user_id].balance = balance
    return provider, mix


def _order(
    upstream: SimOrder, timing: Timing, known: random.Random, *, user_id: int, service: Service, charge: Decimal,
    mix: dict[str, int],
) -> Order:  # fmt: skip
    status, remains = upstream.status_at(0.0, timing)
    order = Order(user_id=user_id, service=service, provider=service.provider, upstream_service_id=1,
                  link=f"https://instagram.com/p/{upstream.id}", quantity=upstream.quantity, rate=RATE, charge=charge,
                  cost=upstream.charge, submission="sent", upstream_id=upstream.id)  # fmt: skip
    if status in Order.FINAL:
        order.status, order.start_count, order.remains = "In progress", upstream.start_count, upstream.quantity // 2
        order.upstream_charge = upstream.charge
        what = status
    elif known.random() < KNOWN_SHARE:
        order.status, order.start_count, order.remains = status, upstream.start_count, remains
        order.upstream_charge = upstream.charge
        what = "unchanged"
    else:
        what = f"{status} (was Pending)"
    mix[what] = mix.get(what, 0) + 1
    return order


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


class Command(BaseCommand):
    help = "Seed N open orders, poll them all once against the simulator in its own process, print the figures."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=100_000)
        parser.add_argument("--latency-ms", type=int, default=50, help="The simulator's latency per call.")
        parser.add_argument(
            "--workers", type=int, help="Pollers at once (default: POLL_CONCURRENCY_PER_PROVIDER, as in production)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count, latency_ms, workers = options["orders"], options["latency_ms"], options["workers"]
        if count < 1 or latency_ms < 0 or (workers is not None and workers < 1):
            raise CommandError("--orders and --workers must be at least 1, --latency-ms at least 0.")
        source = "--workers" if workers is not None else "POLL_CONCURRENCY_PER_PROVIDER"
        workers = workers or settings.POLL_CONCURRENCY_PER_PROVIDER
        setup_test_environment(debug=False)  # as in production: no query log
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        # The pollers' slots in a key space of this run's own (the cache may be a live panel's Redis).
        slots = {**settings.CACHES["default"], "KEY_PREFIX": f"bench-poll-{os.getpid()}"}
        try:
            with override_settings(POLL_CONCURRENCY_PER_PROVIDER=workers, CACHES={"default": slots}):
                self._run(count, latency_ms, workers, source)
        finally:
            connections.close_all()
            connection.creation.destroy_test_db(old_name, verbosity=0)

    def _run(self, count: int, latency_ms: int, workers: int, source: str) -> None:
        write = self.stdout.write
        with _simulator(count, latency_ms) as (simulator, url, simulator_peak):
            write(
                f"database: {connection.vendor}; simulator: its own process (pid {simulator.pid}) at {url}, "
                f"{latency_ms} ms per call; pollers: {workers} worker processes at once (concurrency {workers}, "
                f"from {source}), each running poll_provider"
            )
            started = time.perf_counter()
            wallets = _customers()
            provider, mix = _seed(url, count, wallets, name="Bench")
            alone = _seed(url, count, wallets, name="Bench, apply step alone")[0] if latency_ms == 0 else None
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")  # as autovacuum keeps a live database: statistics, hint bits
            write(
                f"seeded {count:,} open orders of {CUSTOMERS} customers{' (twice)' if alone else ''} in "
                f"{time.perf_counter() - started:.1f} s; the provider's answers: "
                + ", ".join(f"{n:,} {what}" for what, n in sorted(mix.items()))
            )
            cycle = _poll(provider, workers)
            self._report_cycle(cycle, count, latency_ms, workers)
            if alone is not None:
                answers = _prefetch(url, count)
                self._report_alone(_poll(alone, workers, answers), count, workers)
            else:
                write(f"apply step alone: measured with --latency-ms 0 (target >= {APPLY_TARGET:,} orders/s)")
        mismatches = ledger_mismatches()
        refunds = LedgerEntry.objects.filter(kind="refund").count()
        due = Order.objects.filter(status__in=["Partial", "Canceled"]).count()
        write(
            f"check: {refunds:,} refund entries for {due:,} Partial or Canceled orders; ledger "
            + ("clean" if not mismatches else f"NOT clean: {len(mismatches)} wallets disagree")
        )
        own = _peak_rss_mb(resource.getrusage(resource.RUSAGE_SELF))
        pollers = ", ".join(f"{result.peak_rss_mb:.0f}" for result in cycle.results)
        write(f"peak RSS: this process {own:.0f} MB; pollers {pollers} MB; simulator {simulator_peak[0]:.0f} MB")

    def _report_cycle(self, cycle: Phase, count: int, latency_ms: int, workers: int) -> None:
        write, total, chunks = self.stdout.write, cycle.report, cycle.chunks
        calls = max(total.upstream_calls, 1)
        write(
            f"cycle: {total.polled:,} orders in {cycle.seconds:.1f} s = {total.polled / cycle.seconds:,.0f} orders/s "
            f"overall; {total.upstream_calls:,} upstream calls; {total.changed:,} changed, {total.refunds:,} refunds "
            f"totalling {total.refunded}"
        )
        if total.failures:
            write(f"failures: {total.failures}")
        floor = math.ceil(count / BATCH_LIMIT) * latency_ms / 1000 / workers
        if latency_ms:
            ratio = cycle.seconds / floor
            write(
                f"target: cycle <= {CYCLE_TARGET} x floor; floor = ceil({count:,}/{BATCH_LIMIT}) x {latency_ms} ms / "
                f"{workers} = {floor:.1f} s; took {cycle.seconds:.1f} s = {ratio:.2f} x the floor: "
                f"{_met(ratio <= CYCLE_TARGET)}"
            )
        else:
            write(f"target: cycle <= {CYCLE_TARGET} x the latency floor: not judged at 0 ms (no floor)")
        cpu = sum(result.cpu_seconds for result in cycle.results)
        statements = sum(result.statements for result in cycle.results)
        write(
            f"pollers' own CPU: {1000 * cpu / calls:.1f} ms per chunk (claim, call, parse, apply) against "
            f"{latency_ms} ms of latency per call; {statements / calls:.1f} SQL statements per chunk in all; "
            f"the apply step {1000 * sum(c.seconds for c in chunks) / max(len(chunks), 1):.1f} ms per chunk"
        )
        self._report_statements(chunks)

    def _report_alone(self, alone: Phase, count: int, workers: int) -> None:
        write, total, chunks = self.stdout.write, alone.report, alone.chunks
        applying = sum(chunk.seconds for chunk in chunks)
        per_chunk = 1000 * applying / max(len(chunks), 1)
        # The pollers apply at once: the step's rate is what they applied per second of applying each.
        rate = sum(chunk.polled for chunk in chunks) / (applying / workers) if applying else 0.0
        write(
            f"apply step alone (another {count:,} orders, the simulator's answers fetched beforehand, {workers} "
            f"pollers): {per_chunk:.1f} ms per 100-order apply transaction = {100_000 / per_chunk:,.0f} orders/s "
            f"per poller, {rate:,.0f} orders/s with {workers} at once; the phase, claims included: {total.polled:,} "
            f"orders in {alone.seconds:.1f} s = {total.polled / alone.seconds:,.0f} orders/s; {total.changed:,} "
            f"changed, {total.refunds:,} refunds"
        )
        write(f"target: apply step >= {APPLY_TARGET:,} orders/s at 0 ms latency: {_met(rate >= APPLY_TARGET)}")

    def _report_statements(self, chunks: list[Chunk]) -> None:
        """Statements per apply step, by how many of its orders changed and were refunded: a constant."""

        def bucket(value: int, edges: tuple[int, ...]) -> str:
            low = max(edge for edge in edges if edge <= value)
            high = min((edge - 1 for edge in edges if edge > value), default=BATCH_LIMIT)
            return f"{low}" if low == high else f"{low}-{high}"

        def table(key: Callable[[Chunk], str]) -> str:
            groups: dict[str, list[int]] = {}
            for chunk in chunks:
                groups.setdefault(key(chunk), []).append(chunk.statements)
            cells = []
            for name, counts in sorted(groups.items(), key=lambda item: int(item[0].split("-")[0])):
                low, high = min(counts), max(counts)
                cells.append(f"{name}: {low if low == high else f'{low}-{high}'} ({len(counts)} chunks)")
            return "; ".join(cells)

        statements = [chunk.statements for chunk in chunks] or [0]
        refunded = [chunk.statements for chunk in chunks if chunk.refunds] or [0]
        constant = max(refunded) == min(refunded) and max(statements) <= max(refunded)
        self.stdout.write(
            "SQL statements per 100-order apply, by refunds in the chunk: "
            + table(lambda chunk: bucket(chunk.refunds, (0, 1, 10, 30)))
        )
        self.stdout.write(
            "  by orders changed in the chunk: " + table(lambda chunk: bucket(chunk.changed, (0, 1, 25, 50, 75)))
        )
        self.stdout.write(
            f"target: constant SQL per chunk: at most {max(statements)} statements whatever changed or was "
            f"refunded: {_met(constant)}"
        )
