"""Benchmark /services/ and /orders/new/ with a large catalog: time cold and warm, queries, size; asserts nothing.

Tops the catalog up to --services services for sale inside a transaction that is rolled back at the end, so
the database is left as it was; the cached catalog is dropped before and after.
"""

import statistics
import time
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.models import User
from catalog.models import Category, Provider, Service
from catalog.selectors import catalog_changed, services_for_sale

CATEGORIES = 50


class Command(BaseCommand):
    help = "Render /services/ and /orders/new/ with a large catalog; print cold and warm times and query counts."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--services", type=int, default=5000)
        parser.add_argument("--repeat", type=int, default=20, help="Warm requests to time.")

    def handle(self, *args: Any, **options: Any) -> None:
        catalog_changed()
        with override_settings(ALLOWED_HOSTS=["testserver"]), transaction.atomic():
            created = self._top_up(options["services"])
            client = Client()
            client.force_login(User.objects.create(username="bench-catalog-pages"))
            self.stdout.write(f"{len(services_for_sale())} services for sale ({created} created for this run)")

            for page in ("/services/", "/orders/new/"):
                self._page(client, page, options["repeat"])
            search, queries, _ = self._get(client, "/services/?q=1")
            self._line("/services/?q=1 (search, never cached)", search, queries)
            transaction.set_rollback(True)
        catalog_changed()

    def _page(self, client: Client, page: str, repeat: int) -> None:
        catalog_changed()
        cold, queries, size = self._get(client, page)
        self._line(f"{page} cold (query + render)", cold, queries, f"{size / 1024:.0f} KiB")
        catalog_changed()
        services_for_sale()
        render, queries, _ = self._get(client, page)
        self._line(f"{page} cold, rows cached (render)", render, queries)
        warm = [self._get(client, page) for _ in range(repeat)]
        self._line(
            f"{page} warm (median of {len(warm)})", statistics.median(t for t, _, _ in warm), max(q for _, q, _ in warm)
        )

    def _top_up(self, wanted: int) -> int:
        missing = wanted - len(services_for_sale())
        if missing <= 0:
            return 0
        provider = Provider.objects.create(name="Bench catalog pages", api_url="http://127.0.0.1:9/api/v2", api_key="-")
        categories = Category.objects.bulk_create(
            Category(name=f"Bench category {n}", position=n) for n in range(CATEGORIES)
        )
        Service.objects.bulk_create(
            Service(provider=provider, upstream_id=n, upstream_name=f"Bench service {n}", name=f"Bench service {n}",
                    category=categories[n % CATEGORIES], upstream_rate=Decimal("0.9"), rate=Decimal("1.35"),
                    min_quantity=10, max_quantity=100_000, refill=n % 3 == 0, cancel=n % 4 == 0,
                    average_seconds=n * 37 or None, description=f"Bench service {n}.\nStarts within an hour.")
            for n in range(missing)
        )  # fmt: skip
        catalog_changed()
        return missing

    def _get(self, client: Client, url: str) -> tuple[float, int, int]:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        return elapsed, len(queries), len(response.content)

    def _line(self, name: str, seconds: float, queries: int, extra: str = "") -> None:
        self.stdout.write(f"{name:<28} {seconds * 1000:8.1f} ms  {queries} queries  {extra}".rstrip())
