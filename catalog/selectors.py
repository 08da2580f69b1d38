"""Reads of the catalog that customers' pages and the API share."""

import uuid
from typing import Any

from django.core.cache import cache

from catalog.models import Service
from catalog.pricing import service_price

CACHE_KEY = "catalog:for-sale:v2"
CACHE_SECONDS = 60
VERSION_KEY = "catalog:version"


def catalog_changed() -> None:
    """Forget the cached catalog: what is for sale, or at what price, just changed."""
    cache.delete(CACHE_KEY)
    # A fresh random version rather than a counter: a version evicted from the cache never comes back as an
    # old value, so nothing rendered from an older catalog is ever served again.
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def catalog_version() -> str:
    """Names the catalog as it is now; renderings of it are cached under this name."""
    version: str | None = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY)
    return version or ""


def services_for_sale() -> list[dict[str, Any]]:
    """Every service a customer can order now, at its base rate: one query, then cached until a change."""
    cached: list[dict[str, Any]] | None = cache.get(CACHE_KEY)
    if cached is not None:
        return cached
    services = (
        Service.objects.filter(is_active=True, provider__is_active=True, category__is_active=True)
        .select_related("category", "provider")
        .order_by("category__position", "category__name", "pk")
    )
    rows: list[dict[str, Any]] = [
        {"pk": s.pk, "name": s.name, "type": s.type, "category": s.category.name, "category_id": s.category_id,
         "rate": s.rate, "cost": service_price(s).cost, "min": s.min_quantity, "max": s.max_quantity,
         "refill": s.refill, "cancel": s.cancel, "dripfeed": s.dripfeed, "description": s.description,
         "average_seconds": s.average_seconds}
        for s in services
    ]  # fmt: skip
    cache.set(CACHE_KEY, rows, CACHE_SECONDS)
    return rows
