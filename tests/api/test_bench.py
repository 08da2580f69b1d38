"""bench_api's ceiling views (api/bench): routed by the benchmark's settings only, and honest with money."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from django.urls import Resolver404, resolve

from api.bench import views
from billing.models import LedgerEntry
from billing.selectors import wallet_balance
from orders.models import Order
from tests.factories import ServiceFactory

ROOT = Path(__file__).resolve().parents[2]
CEILINGS = {
    "/bench/ceiling/django": views.bare_django,
    "/bench/ceiling/drf": views.BareDrf,
    "/bench/ceiling/one-read": views.one_read,
    "/bench/ceiling/transaction": views.transaction_ceiling,
    "/bench/ceiling/hundred-rows": views.hundred_rows,
}


@pytest.mark.parametrize("path", CEILINGS)
def test_production_does_not_route_the_ceiling_views(path):
    with pytest.raises(Resolver404):
        resolve(path, urlconf="panel.urls")


def test_the_bench_settings_route_them_next_to_the_panel():
    from api.bench import settings as bench_settings

    for path, view in CEILINGS.items():
        match = resolve(path, urlconf=bench_settings.ROOT_URLCONF)
        assert getattr(match.func, "view_class", match.func) is view
    assert resolve("/api/v2", urlconf=bench_settings.ROOT_URLCONF).url_name == "api-v2"
    assert resolve("/healthz", urlconf=bench_settings.ROOT_URLCONF).url_name == "healthz"


@pytest.mark.urls("api.bench.urls")
def test_the_transaction_view_debits_the_wallet_with_an_order_and_its_charge(client, alice):
    service = ServiceFactory.create()
    query = f"user={alice.pk}&service={service.pk}&provider={service.provider_id}"

    answers = [client.post(f"/bench/ceiling/transaction?{query}").json() for _ in range(2)]

    orders = Order.objects.filter(user=alice).order_by("pk")
    assert [answer["order"] for answer in answers] == [order.pk for order in orders]
    assert wallet_balance(user_id=alice.pk) == 100 - 2 * views.CHARGE
    charges = LedgerEntry.objects.filter(order__in=orders, kind=LedgerEntry.Kind.CHARGE)
    assert sorted(entry.amount for entry in charges) == [-views.CHARGE, -views.CHARGE]


@pytest.mark.urls("api.bench.urls")
def test_the_reads_answer_what_the_database_holds(client, alice):
    service = ServiceFactory.create()
    query = f"user={alice.pk}&service={service.pk}&provider={service.provider_id}"
    ids = [client.post(f"/bench/ceiling/transaction?{query}").json()["order"] for _ in range(3)]

    assert client.get(f"/bench/ceiling/one-read?user={alice.pk}").json()["balance"] == "99.59500"
    rows = client.get(f"/bench/ceiling/hundred-rows?ids={','.join(map(str, ids))}").json()
    assert sorted(rows) == sorted(map(str, ids))
    assert rows[str(ids[0])] == {
        "charge": "0.13500", "start_count": "0", "status": "Pending", "remains": "100", "currency": "USD"
    }  # fmt: skip
    assert client.get("/bench/ceiling/drf").json() == {"ok": True}


SCENARIOS = [
    "bare Django view", "bare DRF view", "one indexed read", "debit + order + ledger", "100-row read", "balance",
    "services (500)", "services (5,000)", "status (100 ids)", "add",
]  # fmt: skip
STAFF_ROW = "staff order list (50/page)"


def test_the_benchmark_loads_every_scenario_and_cleans_up():
    """One tiny run of `manage.py bench_api` in its own process, as `make bench` runs it (figures not judged)."""
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres") or not os.environ.get("REDIS_URL") or shutil.which("wrk") is None:
        reason = "bench_api needs Postgres, Redis and wrk (apt-get install wrk; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the benchmark's smoke test, but {reason}", pytrace=False)
        pytest.skip(reason)
    # Its own database name: the command makes test_<name> beside this suite's test database, and drops it.
    url = urlsplit(database_url)
    bench_database = f"test_{url.path.lstrip('/')}_bench_smoke"
    env = {**os.environ, "DATABASE_URL": url._replace(path="/" + bench_database.removeprefix("test_")).geturl()}

    run = subprocess.run(
        [sys.executable, "manage.py", "bench_api", "--seconds", "1", "--warmup", "0", "--orders", "200",
         "--workers", "2", "--connections", "4", "--threads", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    assert run.returncode == 0, run.stdout + run.stderr
    assert "load generator: wrk" in run.stdout
    rows = [*SCENARIOS]
    if importlib.util.find_spec("api.staff") is not None:
        rows.append(STAFF_ROW)
    else:
        assert re.search(rf"^{re.escape(STAFF_ROW)} +staff API not present in this checkout$", run.stdout, re.MULTILINE)
    for name in rows:
        row = re.search(rf"^{re.escape(name)} +(\d+) +[\d.]+ +[\d.]+ +(\d+) ", run.stdout, re.MULTILINE)
        assert row, f"no figures for {name}:\n{run.stdout}"
        assert int(row.group(2)) == 0, f"{name} had errors:\n{run.stdout}"
    assert "check_ledger after the run: clean" in run.stdout
    with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as conn:
        left = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [bench_database]).fetchall()
    assert left == [], "the benchmark left its database behind"
