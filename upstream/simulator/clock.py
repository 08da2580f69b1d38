"""Clocks for the simulator: real time (optionally sped up) or a hand-advanced fake for tests."""

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...


class RealClock:
    def __init__(self, speed: float = 1.0) -> None:
        self.speed = speed
        self._origin = time.time()

    def now(self) -> float:
        return self._origin + (time.time() - self._origin) * self.speed


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += seconds
