"""A shared rate limit in the cache (Redis in production): so many hits per window, per key."""

import time

from django.core.cache import cache


def allow(*, name: str, limit: int, window: int) -> bool:
    """Count one hit for `name` in the current window of `window` seconds; False once past `limit`."""
    key = f"ratelimit:{name}:{int(time.time() // window)}"
    cache.add(key, 0, timeout=window * 2)
    try:
        return cache.incr(key) <= limit
    except ValueError:
        # The counter expired between add and incr: this is the window's first hit.
        cache.set(key, 1, timeout=window * 2)
        return True


def hits(*, name: str, window: int) -> int:
    """How many hits `name` has in the current window, without counting one."""
    count = cache.get(f"ratelimit:{name}:{int(time.time() // window)}")
    return int(count or 0)
