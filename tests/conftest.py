import os
import secrets
from collections.abc import Iterator

import pytest

from tests.logwatch import watching
from upstream.simulator import FakeClock, Simulator

SIMULATOR_KEY = "sk-live-0123456789abcdef"


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """The simulator provider on a free port, on a clock that tests advance by hand."""
    with Simulator(key=SIMULATOR_KEY, clock=FakeClock()) as sim:
        yield sim


@pytest.fixture
def eager() -> Iterator[None]:
    """Celery tasks run where they are enqueued, inside the test's transaction, so their effect can be seen;
    tests/orders/test_worker.py covers a real worker on the real broker."""
    from panel.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture
def provider(db: None, simulator: Simulator):
    """A provider whose API is the running simulator."""
    from tests.factories import ProviderFactory

    return ProviderFactory(name="Sim", api_url=simulator.url, api_key=SIMULATOR_KEY)


@pytest.fixture
def services(provider, settings):
    """The simulator's demo catalog synced at 50% markup, by upstream service id."""
    from decimal import Decimal

    from catalog.models import Service
    from catalog.services.sync import catalog_sync

    settings.DEFAULT_MARKUP_PERCENT = Decimal(50)
    catalog_sync(provider=provider)
    return {s.upstream_id: s for s in Service.objects.filter(provider=provider)}


# The three customers every test knows, defined here only. A test that needs one of them with more money, a
# discount or staff rights gives it to them itself (money through billing.services, so the ledger stays balanced).


@pytest.fixture
def alice(db: None, request: pytest.FixtureRequest):
    """A customer, alice@example.com, with 100.00000 in her wallet (one deposit), or the deposit that the test's
    `alice_balance` marker names."""
    from decimal import Decimal

    from billing.services import wallet_credit
    from tests.factories import UserFactory

    marker = request.node.get_closest_marker("alice_balance")
    amount, note = (Decimal(100), "") if marker is None else (marker.args[0], marker.kwargs.get("note", ""))
    user = UserFactory.create(username="alice")
    wallet_credit(user=user, amount=amount, note=note)
    return user


@pytest.fixture
def bob(db: None):
    """A customer, bob@example.org, with an empty wallet."""
    from tests.factories import UserFactory

    return UserFactory.create(username="bob", email="bob@example.org")


@pytest.fixture
def charlie(db: None):
    """A customer, charlie@example.com, with an empty wallet."""
    from tests.factories import UserFactory

    return UserFactory.create(username="charlie")


@pytest.fixture
def migrate(transactional_db: None):
    """Moves the test database to the migrations given, and back to the latest ones after the test."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    def to(targets: list[tuple[str, str]]):
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    yield to
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def admin_client(db: None, admin_user):
    """pytest-django's admin client, its session past the second factor that every staff session needs."""
    from django.test import Client

    from tests.factories import second_factor_confirmed

    client = Client()
    client.force_login(admin_user)
    return second_factor_confirmed(client, admin_user)


@pytest.fixture(autouse=True)
def _ledger_stays_balanced(request):
    """After every database test, each wallet equals the sum of its ledger (check_ledger stays clean)."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or request.node.get_closest_marker("ledger_mismatch_expected"):
        yield
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    yield
    from billing.services import ledger_mismatches

    assert [(w.holder_name, w.balance) for w in ledger_mismatches()] == [], "a wallet disagrees with its ledger"


# The fuzz (tests/fuzz): fixed seeds, and a fresh one each run, printed so that a failure can be replayed with
# FUZZ_SEED=N (which then stands in for the fresh one); FUZZ_REQUESTS sets how many requests each seed sends.
FUZZ_FIXED_SEEDS = (20261202,)
FUZZ_FRESH_SEED = int(os.environ.get("FUZZ_SEED") or secrets.randbelow(2**32))
FUZZ_REQUESTS = int(os.environ.get("FUZZ_REQUESTS") or 10_000)


def pytest_report_header(config: pytest.Config) -> str:
    return f"fuzz: seeds {', '.join(map(str, FUZZ_FIXED_SEEDS))} and fresh {FUZZ_FRESH_SEED} (replay: FUZZ_SEED=N)"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "fuzz_seed" in metafunc.fixturenames:
        seeds = [*FUZZ_FIXED_SEEDS, FUZZ_FRESH_SEED]
        metafunc.parametrize("fuzz_seed", seeds, ids=[f"seed{seed}" for seed in seeds])


@pytest.fixture
def fuzz_requests() -> int:
    return FUZZ_REQUESTS


@pytest.fixture(autouse=True)
def _no_unexpected_error(request: pytest.FixtureRequest) -> Iterator[None]:
    """The API's catch-all answers a client "Incorrect request" for an exception nobody foresaw: reaching it is a bug,
    so a test in which it is reached fails (a test that reaches it on purpose is marked unexpected_error_expected)."""
    with watching("api.transport") as alarms:
        yield
    if not request.node.get_closest_marker("unexpected_error_expected"):
        assert not alarms.catch_all(), f"the API's catch-all was reached: {alarms.catch_all()}"
