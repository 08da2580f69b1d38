from collections.abc import Iterator

import pytest

from tests.logwatch import Alarms, watching


@pytest.fixture
def alarms() -> Iterator[Alarms]:
    """Every record at ERROR or above, or with a traceback, on any logger while the fuzz runs."""
    with watching() as alarms:
        yield alarms


@pytest.fixture(autouse=True)
def _templates_rendered_as_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the test client's record of every template rendered, with a copy of its context each time: that
    record, which the fuzz never reads, took a third of the time of a page with many includes."""
    from django.template import Template
    from django.test.utils import _TestState

    monkeypatch.setattr(Template, "_render", _TestState.saved_data.template_render)  # type: ignore[attr-defined]
