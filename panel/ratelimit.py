"""A shared rate limit in the cache (Redis in production): so many hits per window, per key; and the client
address that limits count per."""

import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address of the client, as far as the TRUSTED_PROXY_COUNT proxies in front can vouch for it."""
    # Behind N proxies that each append to X-Forwarded-For, the client is the N-th entry from the end; anything
    # before it is whatever the client wrote. With no proxy (the default) the header is not to be trusted at all.
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    if proxies and len(forwarded) >= proxies and forwarded[-proxies]:
        return str(forwarded[-proxies])
    return str(request.META.get("REMOTE_ADDR", ""))


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
