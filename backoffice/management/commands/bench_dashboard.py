"""Benchmark the admin dashboard over N orders of M customers: render time cold and warm, queries; asserts nothing.

Runs in a throwaway test database (Postgres when DATABASE_URL points at it), so it never touches real data. The
seeded ledger balances: each customer's deposit, charges and refunds add up to their wallet.
"""

import statistics
import time
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, setup_test_environment
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from backoffice.selectors import dashboard_figures
from billing.models import LedgerEntry, Wallet
from catalog.models import Category, Provider, Service
from orders.models import Order

BATCH = 5000
PROVIDERS = 5
SERVICES = 200
DAYS = 60
DEPOSIT = Decimal(1000)
CHARGE, COST = Decimal("1.35000"), Decimal("0.90000")
# Of every 20 orders: 14 Completed, 2 Partial (a quarter undelivered), 1 Canceled, 3 still open.
STATUSES = [Order.Status.COMPLETED] * 14 + [Order.Status.PARTIAL] * 2 + [Order.Status.CANCELED]
STATUSES += [Order.Status.IN_PROGRESS, Order.Status.PENDING, Order.Status.PROCESSING]


class Command(BaseCommand):
    help = "Seed N orders of M customers in a throwaway database, render /admin/, print its times and queries."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--orders", type=int, default=100_000)
        parser.add_argument("--customers", type=int, default=1000)
        parser.add_argument("--repeat", type=int, default=10, help="Warm renders to time.")

    def handle(self, *args: Any, **options: Any) -> None:
        setup_test_environment()
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        try:
            self._run(options["orders"], options["customers"], options["repeat"])
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)

    def _seed(self, count: int, customers: int) -> None:
        providers = Provider.objects.bulk_create(
            Provider(name=f"Bench {n}", api_url="http://127.0.0.1:9/api/v2", api_key="-", balance=Decimal(500),
                     balance_currency="USD", low_balance_threshold=Decimal(1000) if n == 0 else None)
            for n in range(PROVIDERS)
        )  # fmt: skip
        category = Category.objects.create(name="Bench")
        services = Service.objects.bulk_create(
            Service(provider=providers[n % PROVIDERS], upstream_id=n, upstream_name=f"Bench {n}", name=f"Bench {n}",
                    category=category, upstream_rate=COST, rate=CHARGE, min_quantity=10, max_quantity=100_000,
                    average_seconds=3600 if n % 2 else None)
            for n in range(SERVICES)
        )  # fmt: skip
        users = User.objects.bulk_create(User(username=f"bench{n}") for n in range(customers))
        wallets = Wallet.objects.bulk_create(Wallet(user=user) for user in users)
        orders = []
        for n in range(count):
            service, status = services[n % SERVICES], STATUSES[n % len(STATUSES)]
            remains = {Order.Status.PARTIAL: 250, Order.Status.CANCELED: 1000}.get(status, 0)
            orders.append(
                Order(user=users[n % customers], service=service, provider=service.provider, quantity=1000,
                      upstream_service_id=service.upstream_id, rate=CHARGE, charge=CHARGE, cost=COST, status=status,
                      submission=Order.Submission.SENT, remains=remains)
            )  # fmt: skip
        created = Order.objects.bulk_create(orders, batch_size=BATCH)
        balances = dict.fromkeys((w.pk for w in wallets), DEPOSIT)
        entries = [LedgerEntry(wallet=w, kind="deposit", amount=DEPOSIT, balance_after=DEPOSIT) for w in wallets]
        by_user = {w.user_id: w for w in wallets}
        for order in created:
            wallet = by_user[order.user_id]
            balances[wallet.pk] -= CHARGE
            entries.append(LedgerEntry(wallet=wallet, kind="charge", amount=-CHARGE, order=order,
                                       balance_after=balances[wallet.pk]))  # fmt: skip
            refund = CHARGE * (order.remains or 0) / order.quantity
            if refund:
                balances[wallet.pk] += refund
                entries.append(LedgerEntry(wallet=wallet, kind="refund", amount=refund, order=order,
                                           balance_after=balances[wallet.pk]))  # fmt: skip
        LedgerEntry.objects.bulk_create(entries, batch_size=BATCH)
        for wallet in wallets:
            wallet.balance = balances[wallet.pk]
        Wallet.objects.bulk_update(wallets, ["balance"], batch_size=BATCH)
        # Spread over DAYS days (created_at is set on insert); orders are not append-only, the ledger is.
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE orders_order SET created_at = created_at - (id %% %s) * interval '1 day' - "
                "(id %% 24) * interval '1 hour'",
                [DAYS],
            )
        connection.cursor().execute("ANALYZE")

    def _client(self) -> Client:
        operator = User.objects.create(username="bench-operator", is_staff=True, is_superuser=True)
        device = TOTPDevice.objects.create(user=operator, name="bench", confirmed=True)
        client = Client()
        client.force_login(operator)
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        return client

    def _render(self, client: Client) -> tuple[float, int]:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get("/admin/")
            elapsed = time.perf_counter() - started
        assert response.status_code == 200 and b'id="dashboard"' in response.content, response.status_code
        return elapsed, len(queries)

    def _run(self, count: int, customers: int, repeat: int) -> None:
        if connection.vendor != "postgresql":
            self.stdout.write("database: not Postgres: the figures below say little about production")
        started = time.perf_counter()
        self._seed(count, customers)
        self.stdout.write(
            f"database: {connection.vendor}; seeded {count} orders of {customers} customers over {DAYS} days "
            f"in {time.perf_counter() - started:.1f} s"
        )
        client = self._client()
        cold, queries = self._render(client)
        self.stdout.write(f"/admin/ cold              {cold * 1000:8.1f} ms  {queries} queries")
        warm = [self._render(client) for _ in range(repeat)]
        median, most = statistics.median(t for t, _ in warm), max(q for _, q in warm)
        self.stdout.write(f"/admin/ warm (median of {repeat}) {median * 1000:8.1f} ms  {most} queries")
        with CaptureQueriesContext(connection) as captured:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                dashboard_figures(now=timezone.now())
                times.append(time.perf_counter() - started)
        per_run = len(captured) // repeat
        slowest = sorted(captured.captured_queries[-per_run:], key=lambda q: -float(q["time"]))
        self.stdout.write(
            f"figures alone (median)   {statistics.median(times) * 1000:8.1f} ms  {per_run} queries; the last run's:"
        )
        for query in slowest:
            self.stdout.write(f"  {float(query['time']) * 1000:6.1f} ms  {query['sql'][:100]}")
