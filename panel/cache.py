"""The cache backend with Redis: Django's, keeping one Redis client per process instead of making one per call."""

from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from redis import Redis


class _ClientKept(RedisCacheClient):
    # Django builds a new redis.Redis (its table of ~170 response callbacks) for every get, set or incr: about 70 µs,
    # as much as the round trip itself. A client is thread-safe and shares its connection pool, so one is enough.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[bool, Redis] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Redis:
        client = self._clients.get(write)
        if client is None:
            # With replicas, Django picks one per call: a process keeps to the one it first picked.
            client = self._clients.setdefault(write, super().get_client(key, write=write))
        return client


class RedisCache(DjangoRedisCache):
    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = _ClientKept
