"""The shared rate limit: in one round trip to Redis, and the same answers on the embedded default's local cache."""

import os

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from panel.ratelimit import allow, allow_unless_blocked, hits

LOCAL = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


@pytest.fixture(params=["configured", "local"])
def backend(request, settings):
    """Redis (as the tests configure the cache), then the local memory cache of a panel without Redis."""
    if request.param == "local":
        settings.CACHES = LOCAL
    cache.clear()
    yield request.param
    cache.clear()


def _limited() -> bool:
    return allow_unless_blocked(name="key", limit=3, blocker="address", blocker_limit=2, window=10**6)


def test_it_counts_up_to_the_limit_then_refuses(backend):
    assert [_limited() for _ in range(5)] == [True, True, True, False, False]
    assert hits(name="key", window=10**6) == 5


def test_a_blocked_name_is_refused_and_nothing_more_is_counted(backend):
    assert _limited()
    for _ in range(2):
        allow(name="address", limit=2, window=10**6)
    assert [_limited() for _ in range(3)] == [False, False, False]
    assert hits(name="key", window=10**6) == 1, "refused before counting"


def test_the_counts_are_the_ones_allow_and_hits_keep(backend):
    for _ in range(2):
        allow(name="key", limit=3, window=10**6)
    assert [_limited() for _ in range(2)] == [True, False]


def test_redis_is_asked_once(monkeypatch):
    if not isinstance(caches["default"], RedisCache):
        if os.environ.get("CI"):
            pytest.fail("CI must run against Redis, but REDIS_URL is unset", pytrace=False)
        pytest.skip("the tests run without Redis (REDIS_URL unset)")
    import redis.connection

    cache.clear()

    sent: list[object] = []
    original = redis.connection.Connection.send_command

    def counted(self: redis.connection.Connection, *args: object, **kwargs: object) -> object:
        sent.append(args[0])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(redis.connection.Connection, "send_command", counted)
    assert _limited()
    assert sent in (["EVALSHA"], ["EVALSHA", "EVAL"]), "one script (sent in full the first time Redis lacks it)"
