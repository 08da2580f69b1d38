import pytest


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Failed keys count per client address, and every test client calls from 127.0.0.1: the wrong keys of one
    test must not get the next one refused."""
    from django.core.cache import cache

    cache.clear()
