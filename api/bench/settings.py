"""The panel's settings exactly as the environment makes them, with the ceiling views routed (bench_api only)."""

from panel.settings import *  # noqa: F403 - every setting of the panel, unchanged but for the one below

ROOT_URLCONF = "api.bench.urls"
