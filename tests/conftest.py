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
