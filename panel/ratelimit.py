"""A shared rate limit in the cache (Redis in production): so many hits per window, per key; and the client
address that limits count per."""

import functools
import time

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.http import HttpRequest
from redis import Redis
from redis.commands.core import Script

# allow_unless_blocked in one round trip: KEYS = (blocker, counter), ARGV = (blocker limit, limit, expiry seconds).
# The counters are the ones allow() and hits() keep: plain integers under the cache's own key names.
_ALLOW_UNLESS_BLOCKED = """
if tonumber(redis.call('GET', KEYS[1]) or 0) >= tonumber(ARGV[1]) then return 0 end
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
if count > tonumber(ARGV[2]) then return 0 end
return 1
"""


def client_address(request: HttpRequest) -> str:
    """The address of the client, as far as the TRUSTED_PROXY_COUNT proxies in front can vouch for it."""
    # Behind N proxies that each append to X-Forwarded-For, the client is the N-th entry from the end; anything
    # before it is whatever the client wrote. With no proxy (the default) the header is not to be trusted at all.
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    if proxies and len(forwarded) >= proxies and forwarded[-proxies]:
        return str(forwarded[-proxies])
    return str(request.META.get("REMOTE_ADDR", ""))


def _counter(name: str, window: int) -> str:
    return f"ratelimit:{name}:{int(time.time() // window)}"


def allow(*, name: str, limit: int, window: int) -> bool:
    """Count one hit for `name` in the current window of `window` seconds; False once past `limit`."""
    key = _counter(name, window)
    cache.add(key, 0, timeout=window * 2)
    try:
        return cache.incr(key) <= limit
    except ValueError:
        # The counter expired between add and incr: this is the window's first hit.
        cache.set(key, 1, timeout=window * 2)
        return True


def hits(*, name: str, window: int) -> int:
    """How many hits `name` has in the current window, without counting one."""
    count = cache.get(_counter(name, window))
    return int(count or 0)


@functools.cache
def _redis_at(location: str) -> tuple[Redis, Script]:
    redis = Redis.from_url(location)
    return redis, redis.register_script(_ALLOW_UNLESS_BLOCKED)


def allow_unless_blocked(*, name: str, limit: int, blocker: str, blocker_limit: int, window: int) -> bool:
    """allow(name) unless `blocker` already has `blocker_limit` hits in the window (then nothing is counted).

    One round trip to Redis: it runs on every API request.
    """
    if not isinstance(caches["default"], RedisCache):
        if hits(name=blocker, window=window) >= blocker_limit:
            return False
        return allow(name=name, limit=limit, window=window)
    redis, script = _redis_at(settings.CACHES["default"]["LOCATION"])
    keys = [cache.make_key(_counter(blocker, window)), cache.make_key(_counter(name, window))]
    return bool(script(keys=keys, args=[blocker_limit, limit, window * 2], client=redis))
