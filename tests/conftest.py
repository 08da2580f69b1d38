from collections.abc import Iterator

import pytest

from upstream.simulator import FakeClock, Simulator

SIMULATOR_KEY = "sk-live-0123456789abcdef"


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    """The simulator provider on a free port, on a clock that tests advance by hand."""
    with Simulator(key=SIMULATOR_KEY, clock=FakeClock()) as sim:
        yield sim


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


@pytest.fixture
def alice(db: None):
    """A customer with 100.00000 in her wallet."""
    from decimal import Decimal

    from billing.services import wallet_credit
    from tests.factories import UserFactory

    user = UserFactory.create(username="alice")
    wallet_credit(user=user, amount=Decimal(100))
    return user


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

    assert [(w.user.username, w.balance) for w in ledger_mismatches()] == [], "a wallet disagrees with its ledger"
