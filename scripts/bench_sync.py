"""Benchmark: sync a 5,000-service catalog from the simulator; prints time and query count per sync.

Runs against the configured database (make bench: Postgres when it answers) in a throwaway test database.
"""

import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "panel.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from catalog.clients import provider_client  # noqa: E402
from catalog.models import Provider  # noqa: E402
from catalog.services.sync import catalog_sync  # noqa: E402
from upstream.simulator import Simulator, generated_catalog  # noqa: E402

SIZE = 5000


def measure(label: str, provider: Provider) -> None:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = catalog_sync(provider=provider)
        elapsed = time.perf_counter() - started
    assert result.ok, result.error
    print(
        f"{label:<38} {elapsed * 1000:8.0f} ms  {len(queries.captured_queries):3d} queries  "
        f"({result.created} new, {result.updated} updated, {result.unchanged} unchanged, "
        f"{result.vanished} vanished)"
    )


def main() -> None:
    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with Simulator(key="bench", catalog=generated_catalog(SIZE)) as simulator:
            provider = Provider.objects.create(name="Bench", api_url=simulator.url, api_key="bench")
            print(f"database: {connection.vendor}; catalog: {SIZE} services from the simulator over HTTP")
            started = time.perf_counter()
            catalog = provider_client(provider).services()
            print(f"{'fetch + parse only':<38} {(time.perf_counter() - started) * 1000:8.0f} ms  "
                  f"({len(catalog.services)} services)")  # fmt: skip
            measure("first sync (all new)", provider)
            measure("second sync (nothing changed)", provider)
            for service in simulator.catalog[::2]:
                service.rate += Decimal("0.01")
            simulator.catalog = simulator.catalog[:-100]
            measure("third sync (half repriced, 100 gone)", provider)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
