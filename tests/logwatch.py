"""Watching the log for what it must never show while tests run: an error, or any record with a traceback."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class Alarms(logging.Handler):
    """The records at ERROR and above, and those with a traceback at any level."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.exc_info:
            self.records.append(record)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]

    def catch_all(self) -> list[str]:
        """The API's catch-all (api.transport.error_message) reached: a request nothing else answered."""
        return [message for message in self.messages() if message.startswith("api v2: unexpected error")]


@contextmanager
def watching(logger: str = "") -> Iterator[Alarms]:
    """Alarms on this logger (the root one by default) while the block runs."""
    alarms = Alarms()
    target = logging.getLogger(logger)
    target.addHandler(alarms)
    try:
        yield alarms
    finally:
        target.removeHandler(alarms)
