"""A small HTTP server that behaves like an upstream SMM provider speaking API v2, for tests and demos."""

from .catalog import SimService, demo_catalog, generated_catalog
from .clock import Clock, FakeClock, RealClock
from .server import Simulator
from .state import Call, Faults, SimOrder, SimRefill, Timing
from .workload import order_book

__all__ = [
    "Call",
    "Clock",
    "FakeClock",
    "Faults",
    "RealClock",
    "SimOrder",
    "SimRefill",
    "SimService",
    "Simulator",
    "Timing",
    "demo_catalog",
    "generated_catalog",
    "order_book",
]
