"""Benchmark /api/v2 under gunicorn: concurrent clients doing add, status (100 ids) and services for a fixed
time each, next to a bare Django JSON view on the same server; prints figures, asserts nothing.

Runs against a throwaway test database on the configured Postgres, and the configured Redis.
"""

import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.test.utils import setup_test_environment

from accounts.models import User
from accounts.services import api_key_issue
from billing.services import ledger_mismatches, wallet_credit
from catalog.models import Category, Provider, Service
from orders.services.placement import order_place
from panel.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[3]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Command(BaseCommand):
    help = "Load /api/v2 under gunicorn with concurrent clients; print requests/s and p50/p99 per action."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--clients", type=int, default=8)
        parser.add_argument("--seconds", type=float, default=10)
        parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (2 per core).")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("bench_api needs Postgres (DATABASE_URL).")
        setup_test_environment()
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
        server = None
        try:
            key, service_id, order_ids = self._seed()
            port = _free_port()
            server = self._start(port, options["workers"])
            url = f"http://127.0.0.1:{port}"
            scenarios = {
                "bare Django JSON view": ("GET", "/healthz", None),
                "services": ("POST", "/api/v2", {"key": key, "action": "services"}),
                "status (100 ids)": ("POST", "/api/v2", {"key": key, "action": "status", "orders": order_ids}),
                "add": ("POST", "/api/v2", {"key": key, "action": "add", "service": service_id,
                                             "link": "https://x.com/p", "quantity": "100"}),
            }  # fmt: skip
            self.stdout.write(f"gunicorn: {options['workers']} sync workers; {options['clients']} clients, "
                              f"{options['seconds']:.0f} s per action")  # fmt: skip
            bare = None
            for name, (method, path, data) in scenarios.items():
                count, errors, latencies = self._load(url + path, method, data, options["clients"], options["seconds"])
                rate = count / options["seconds"]
                bare = bare or rate
                p50, p99 = statistics.quantiles(latencies, n=100)[49], statistics.quantiles(latencies, n=100)[98]
                self.stdout.write(
                    f"{name:<24} {rate:8.0f} req/s  p50 {p50 * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms  "
                    f"({rate / bare:.0%} of the bare view; {errors} errors)"
                )
            mismatches = ledger_mismatches()
            self.stdout.write(f"check_ledger after the run: {mismatches or 'clean'}")
        finally:
            if server is not None:
                server.terminate()
                server.wait(10)
            celery_app.control.purge()
            connection.creation.destroy_test_db(old_name, verbosity=0)

    def _seed(self) -> tuple[str, str, str]:
        provider = Provider.objects.create(name="Bench", api_url="http://127.0.0.1:9/api/v2", api_key="bench")
        category = Category.objects.create(name="Bench")
        services = Service.objects.bulk_create(
            Service(provider=provider, upstream_id=i, upstream_name=f"Service {i}", name=f"Service {i}",
                    category=category, upstream_rate=Decimal("0.9"), rate=Decimal("1.35"), min_quantity=10,
                    max_quantity=100_000)
            for i in range(1, 501)
        )  # fmt: skip
        user = User.objects.create(username="bench")
        wallet_credit(user=user, amount=Decimal(10**9))
        ids = [
            order_place(user=user, service_id=services[0].pk, params={"link": "https://x.com/p", "quantity": "100"}).pk
            for _ in range(100)
        ]
        return api_key_issue(user=user), str(services[0].pk), ",".join(map(str, ids))

    def _start(self, port: int, workers: int) -> subprocess.Popen[bytes]:
        db = settings.DATABASES["default"]
        env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-secret-key-bench-only-secret-key-bench-only",
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
            "API_RATE_LIMIT": str(10**9),
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "panel.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--log-level", "warning"],
            cwd=ROOT, env=env,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    return server
            except requests.RequestException:
                time.sleep(0.2)
        server.terminate()
        raise CommandError("gunicorn did not start")

    def _load(
        self, url: str, method: str, data: dict[str, str] | None, clients: int, seconds: float
    ) -> tuple[int, int, list[float]]:
        latencies: list[float] = []
        errors = 0
        lock = threading.Lock()
        stop_at = time.monotonic() + seconds

        def client() -> None:
            nonlocal errors
            session = requests.Session()
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                response = session.request(method, url, data=data, timeout=30)
                elapsed = time.perf_counter() - started
                failed = response.status_code != 200 or (
                    method == "POST" and isinstance(response.json(), dict) and "error" in response.json()
                )
                with lock:
                    latencies.append(elapsed)
                    errors += failed

        threads = [threading.Thread(target=client) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return len(latencies), errors, latencies
