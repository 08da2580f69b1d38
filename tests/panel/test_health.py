"""The health checks: /healthz answers alone, /healthz/ready only when the database and Redis answer."""

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_it_is_ready_when_the_database_and_the_cache_answer(client: Client):
    response = client.get("/healthz/ready")
    assert (response.status_code, response.json()) == (200, {"ok": True, "down": []})


def test_it_names_the_cache_when_redis_does_not_answer(client: Client, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:9/0"}
    }
    # (Django's test signals give the cache handler the new setting.)
    response = client.get("/healthz/ready")
    assert (response.status_code, response.json()) == (503, {"ok": False, "down": ["cache"]})
