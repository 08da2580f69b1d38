"""The simulator as benchmarks run it: its own process, a book of orders in a realistic mix, a latency per call."""

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import requests

from upstream.simulator import Timing, order_book

KEY = "alice-key"
ROOT = Path(__file__).resolve().parents[2]


def test_a_book_mixes_ended_running_and_pending_orders_older_ones_ended_more_often() -> None:
    book = order_book(2000, now=0.0, timing=Timing())
    assert [order.id for order in book] == list(range(1, 2001))
    assert order_book(2000, now=0.0, timing=Timing()) == book
    statuses = [order.status_at(0.0, Timing())[0] for order in book]
    counts = Counter(statuses)
    assert set(counts) == {"Pending", "In progress", "Completed", "Partial", "Canceled"}
    assert counts["In progress"] > len(book) / 2
    ended = [status in ("Completed", "Partial", "Canceled") for status in statuses]
    assert sum(ended[:500]) > 5 * sum(ended[1500:])


def test_it_serves_its_book_from_the_command_line_waiting_its_latency_on_every_call() -> None:
    command = [sys.executable, "-m", "upstream.simulator", "--port", "0", "--key", KEY, "--speed", "0",
               "--latency-ms", "200", "--orders", "300"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().rsplit(" ", 1)[1].strip()
        ids = ",".join(str(n) for n in range(1, 101))
        started = time.monotonic()
        first = requests.post(url, data={"key": KEY, "action": "status", "orders": ids}, timeout=5).json()
        assert time.monotonic() - started >= 0.2
        assert len(first) == 100 and all("status" in answer for answer in first.values())
        # Its clock stands still: the same answers on every call.
        assert requests.post(url, data={"key": KEY, "action": "status", "orders": ids}, timeout=5).json() == first
        placed = requests.post(
            url, data={"key": KEY, "action": "add", "service": "1", "link": "https://x.com/a", "quantity": "100"},
            timeout=5,
        ).json()  # fmt: skip
        assert placed["order"] > 300
    finally:
        process.terminate()
        process.wait(timeout=5)
