from collections.abc import Iterator

import pytest

from tests.logwatch import Alarms, watching


@pytest.fixture
def alarms() -> Iterator[Alarms]:
    """Every record at ERROR or above, or with a traceback, on any logger while the fuzz runs."""
    with watching() as alarms:
        yield alarms
