"""Real threads against the real database, for the races the tests must prove harmless."""

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connection

T = TypeVar("T")


def run_together(target: Callable[[], T], count: int) -> list[T | BaseException]:
    """Run `target` in `count` threads at once; each result, or the exception it raised."""
    results: list[T | BaseException] = []
    start = threading.Barrier(count)

    def run() -> None:
        try:
            start.wait()
            results.append(target())
        except BaseException as exc:
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def start_in_thread(target: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    """Start `target` in a thread of its own (with its own connection); the list collects what it raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            target()
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, errors
