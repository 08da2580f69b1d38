"""Benchmark one full polling cycle over N open orders against the simulator; prints figures, asserts nothing.

Runs in a throwaway test database (Postgres when DATABASE_URL points at it), so it never touches real data.
"""

import resource
import threading
import time
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.test.utils import override_settings, setup_test_environment

from accounts.models import User
from billing.models import LedgerEntry, Wallet
from catalog.models import Category, Provider, Service
from orders.models import Order
from orders.services.polling import PollReport, poll_provider
from upstream.simulator import FakeClock, SimOrder, Simulator

CHARGE = Decimal("1.35000")


class _QueryCounter:
    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        with self._lock:
            self.count += 1
        return execute(sql, params, many, context)


class Command(BaseCommand):
    help = "Seed N open orders against the simulator, run one polling cycle, print throughput and costs."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=100_000)
        parser.add_argument("--latency-ms", type=int, default=50, help="Simulated upstream latency per call.")
        parser.add_argument("--workers", type=int, default=2, help="Concurrent pollers (as Celery workers would).")

    def handle(self, *args: Any, **options: Any) -> None:
        setup_test_environment()
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            self._run(options["orders"], options["latency_ms"], options["workers"])
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    def _seed(self, simulator: Simulator, count: int) -> Provider:
        provider = Provider.objects.create(name="Bench", api_url=simulator.url, api_key="bench")
        service = Service.objects.create(
            provider=provider, upstream_id=1, upstream_name="Followers", name="Followers",
            category=Category.objects.create(name="Bench"), upstream_rate=Decimal("0.9"), rate=Decimal("1.35"),
            min_quantity=10, max_quantity=10_000,
        )  # fmt: skip
        user = User.objects.create(username="bench")
        wallet = Wallet.objects.get(user=user)  # opened with the user
        LedgerEntry.objects.create(wallet=wallet, kind="deposit", amount=CHARGE * count, balance_after=CHARGE * count)
        now = simulator.clock.now()
        orders = [
            Order(user=user, service=service, provider=provider, upstream_service_id=1, link="https://x.com/p",
                  quantity=1000, rate=Decimal("1.35"), charge=CHARGE, cost=Decimal("0.9"), submission="sent",
                  upstream_id=i)
            for i in range(1, count + 1)
        ]  # fmt: skip
        created = Order.objects.bulk_create(orders, batch_size=5000)
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(wallet=wallet, kind="charge", amount=-CHARGE, order=order,
                            balance_after=CHARGE * (count - n - 1))
                for n, order in enumerate(created)
            ],
            batch_size=5000,
        )  # fmt: skip
        # A realistic mix: a quarter of the orders ended upstream (some Partial or Canceled: refunds), the rest
        # are on their way; every one of them changes status on this cycle.
        for i in range(1, count + 1):
            age = 7200 if i % 4 == 0 else 30
            simulator.orders[i] = SimOrder(
                id=i, service=1, quantity=1000, charge=Decimal("0.9"), start_count=i % 5000,
                created_at=now - age, outcome="Partial" if i % 10 == 7 else "Canceled" if i % 10 == 9 else "Completed",
            )  # fmt: skip
        return provider

    def _run(self, count: int, latency_ms: int, workers: int) -> None:
        with Simulator(key="bench", catalog=[], clock=FakeClock()) as simulator:
            started = time.perf_counter()
            provider = self._seed(simulator, count)
            self.stdout.write(
                f"database: {connection.vendor}; seeded {count} open orders in {time.perf_counter() - started:.1f} s"
            )
            simulator.faults.latency = latency_ms / 1000
            counter, reports = _QueryCounter(), []

            def poll() -> None:
                with connection.execute_wrapper(counter):
                    reports.append(poll_provider(provider=provider, everything=True))
                connection.close()

            threads = [threading.Thread(target=poll) for _ in range(workers)]
            started = time.perf_counter()
            with override_settings(POLL_CONCURRENCY_PER_PROVIDER=workers):
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
            elapsed = time.perf_counter() - started

        total = PollReport()
        for report in reports:
            total.add(report)
        chunks = max(total.upstream_calls, 1)
        floor = chunks * latency_ms / 1000 / workers
        self.stdout.write(f"cycle: {total.polled} orders in {elapsed:.1f} s = {total.polled / elapsed:,.0f} orders/s")
        self.stdout.write(
            f"upstream calls: {total.upstream_calls} (latency floor {floor:.1f} s with {workers} pollers)"
        )
        self.stdout.write(
            f"SQL: {counter.count} queries, {counter.count / chunks:.1f} per 100-order chunk "
            f"({total.changed} orders changed, {total.refunds} refunds totalling {total.refunded})"
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        self.stdout.write(f"peak memory (process max RSS): {peak_mb:.0f} MB")
        if total.failures:
            self.stdout.write(f"failures: {total.failures}")
