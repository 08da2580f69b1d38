"""Reads of the catalog, and the one customer catalog: what a customer may buy, at their own rate.

The API's `services`, the services page, the new-order page and placement all read prices here; no other module
computes a customer's rate.
"""

import datetime
import functools
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from catalog.models import Category, Provider, Service, ServicePrice
from catalog.pricing import discounted_rate
from panel.db import instance_from_columns
from upstream.service_types import service_type

CACHE_KEY = "catalog:for-sale:v3"
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


# On sale: active, in an active category, and of an active provider or manual (staff fulfil it).
ON_SALE = Q(is_active=True, category__is_active=True) & (Q(provider__isnull=True) | Q(provider__is_active=True))


def services_for_sale() -> list[dict[str, Any]]:
    """Every service a customer can order now, at its base rate: one query, then cached until a change."""
    # Stored with the version they were read under, and only served under it: rows a slow reader wrote back just
    # after a change (read before it) never pass for the new catalog.
    version = catalog_version()
    cached: tuple[str, list[dict[str, Any]]] | None = cache.get(CACHE_KEY)
    if cached is not None and cached[0] == version:
        return cached[1]
    services = (
        Service.objects.filter(ON_SALE)
        .select_related("category", "provider")
        .order_by("category__position", "category__name", "pk")
    )
    rows: list[dict[str, Any]] = [
        {"pk": s.pk, "name": s.name, "type": s.type, "category": s.category.name, "category_id": s.category_id,
         "rate": s.rate, "cost": s.price().cost, "min": s.min_quantity, "max": s.max_quantity,
         "refill": s.refill, "cancel": s.cancel, "dripfeed": s.offers_dripfeed, "description": s.description,
         "average_seconds": s.average_seconds}
        for s in services
    ]  # fmt: skip
    cache.set(CACHE_KEY, (version, rows), CACHE_SECONDS)
    return rows


def _customer_rate(rate: Decimal, cost: Decimal, user: User) -> Decimal:
    return discounted_rate(rate=rate, cost=cost, discount_percent=user.discount_percent)


def customer_catalog(*, user: User) -> list[dict[str, Any]]:
    """Every service on sale with this customer's rate (discount applied, never below cost) and whether the
    panel takes orders for its type (`orderable`); the cost stays out."""
    return [
        {**{name: value for name, value in row.items() if name != "cost"},
         "rate": _customer_rate(row["rate"], row["cost"], user), "orderable": service_type(row["type"]) is not None}
        for row in services_for_sale()
    ]  # fmt: skip


# What price() reads of a service's provider and category, read along with the service (names of its query's
# extra columns, by field).
_PROVIDER_PRICING = {"exchange_rate": "provider_exchange_rate", "markup_percent": "provider_markup_percent"}
_CATEGORY_PRICING = {"markup_percent": "category_markup_percent"}


@functools.cache
def _on_sale_query() -> str:
    """A service on sale with what its price needs, in one query. Written out: the ORM takes longer to build this
    join than Postgres takes to run it, and every order placed runs it."""
    quote = connection.ops.quote_name
    service, provider, category = (quote(model._meta.db_table) for model in (Service, Provider, Category))
    extra = [f"p.{quote(name)} AS {alias}" for name, alias in _PROVIDER_PRICING.items()]
    extra += [f"c.{quote(name)} AS {alias}" for name, alias in _CATEGORY_PRICING.items()]
    # Only the models' own table and column names, quoted, go into the text; the id is a parameter.
    return (
        f"SELECT s.*, {', '.join(extra)} FROM {service} s "  # noqa: S608  # nosec B608 - quoted identifiers, no values
        f"LEFT JOIN {provider} p ON p.id = s.provider_id JOIN {category} c ON c.id = s.category_id "
        # As ON_SALE: a manual service (no provider) is on sale by itself.
        "WHERE s.id = %s AND s.is_active AND (s.provider_id IS NULL OR p.is_active) AND c.is_active"
    )


def _service_on_sale(service_id: int) -> Service | None:
    service = next(iter(Service.objects.raw(_on_sale_query(), [service_id])), None)
    if service is None:
        return None
    db = service._state.db or "default"
    provider = {name: getattr(service, alias) for name, alias in _PROVIDER_PRICING.items()}
    category = {name: getattr(service, alias) for name, alias in _CATEGORY_PRICING.items()}
    service.provider = (
        None
        if service.provider_id is None
        else instance_from_columns(Provider, db, {"id": service.provider_id, **provider})
    )
    service.category = instance_from_columns(Category, db, {"id": service.category_id, **category})
    return service


@dataclass(frozen=True)
class CustomerService:
    service: Service
    rate: Decimal  # per 1000, what this customer pays
    cost: Decimal  # per 1000, what it costs us


def customer_service(*, user: User, service_id: int) -> CustomerService | None:
    """A service this customer may order now, with their rate; None when it is not on sale."""
    service = _service_on_sale(service_id)
    if service is None:
        return None
    cost = service.price().cost
    return CustomerService(service=service, rate=_customer_rate(service.rate, cost, user), cost=cost)


def price_on(service: Service, day: datetime.date) -> tuple[Decimal, Decimal] | None:
    """(rate, cost) per 1000 of the service on that day (in the current time zone): the last price set by the day's
    end, so a day's figures use the price it ended with. None before the service's first recorded price."""
    end = timezone.make_aware(datetime.datetime.combine(day + datetime.timedelta(days=1), datetime.time.min))
    price = ServicePrice.objects.filter(service=service, valid_from__lt=end).order_by("-valid_from").first()
    return None if price is None else (price.rate, price.cost)
