"""The catalog sync: mirror a provider's catalog in bulk, keeping admins' edits, failing closed."""

import json
import logging
from dataclasses import dataclass, field

from django.db import transaction
from django.utils import timezone

from catalog.clients import provider_client
from catalog.models import Category, Provider, Route, Service, ServicePrice
from catalog.pricing import MAX_RATE
from catalog.selectors import catalog_changed
from catalog.services.listings import (
    Reason,
    apply_price,
    prices_record,
    services_disabled_alert,
    services_enabled,
    services_locked,
)
from catalog.services.providers import ProviderError, provider_error_text
from catalog.services.routes import ROUTE_DATA, route_for, services_remirror
from panel.db import bulk_update_rows
from panel.money import rate_up
from upstream.client import ApiClient, UpstreamError
from upstream.protocol import ServiceInfo, SkippedEntry

logger = logging.getLogger(__name__)

UNCATEGORIZED = "Other"
# Beyond what the columns hold; such an entry is skipped rather than failing the whole sync.
MAX_QUANTITY = 2**63 - 1
SYNC_FIELDS = [
    "upstream_name",
    "name",
    "category",
    "type",
    "upstream_category",
    "upstream_rate",
    "min_quantity",
    "max_quantity",
    "refill",
    "cancel",
    "dripfeed",
    "upstream_extra",
    "missing_upstream",
    "rate",
    "is_active",
    "disabled_reason",
]


@dataclass
class SyncResult:
    provider: str
    ok: bool = True
    error: str = ""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    vanished: int = 0
    restored: int = 0
    disabled_below_cost: list[str] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)

    def summary(self) -> str:
        if not self.ok:
            return f"Sync failed, catalog left as it was: {self.error}"
        parts = [
            f"{self.created} new",
            f"{self.updated} updated",
            f"{self.unchanged} unchanged",
            f"{self.vanished} vanished upstream (disabled)",
        ]
        if self.restored:
            parts.append(f"{self.restored} back upstream")
        lines = ["Synced: " + ", ".join(parts) + "."]
        if self.disabled_below_cost:
            names = "; ".join(self.disabled_below_cost[:20])
            lines.append(f"Disabled {len(self.disabled_below_cost)} whose fixed price is now below cost: {names}")
        if self.skipped:
            shown = "; ".join(f"entry {s.position}: {s.reason}" for s in self.skipped[:20])
            lines.append(f"Skipped {len(self.skipped)} malformed entries: {shown}")
        return "\n".join(lines)


def _jsonable(extra: dict[str, object]) -> dict[str, object]:
    # Upstream floats arrive as Decimal; JSON columns want plain JSON.
    loaded: dict[str, object] = json.loads(json.dumps(extra, default=str))
    return loaded


def _unstorable(info: ServiceInfo) -> str | None:
    if info.rate >= MAX_RATE:
        return f"rate {info.rate} is too large"
    if info.max > MAX_QUANTITY:
        return f"max {info.max} is too large"
    return None


def _copy_upstream(service: Service, info: ServiceInfo) -> None:
    name = info.name[:500]
    if service.name == service.upstream_name:
        # Not renamed by an admin: keep following upstream.
        service.name = name
    service.upstream_name = name
    service.type = info.type[:50]
    service.upstream_category = info.category[:200]
    service.upstream_rate = rate_up(info.rate)
    service.min_quantity = info.min
    service.max_quantity = info.max
    service.refill = info.refill
    service.cancel = info.cancel
    service.dripfeed = info.dripfeed
    if service.pk is None:
        # Then it is ours: an admin's text for customers, which later syncs leave alone.
        service.description = info.description
    service.upstream_extra = _jsonable(info.extra)


def _category_name(upstream_category: str) -> str:
    return upstream_category[:200] or UNCATEGORIZED


def _categories_for(names: set[str]) -> dict[str, Category]:
    """Local categories for these upstream names, created where missing."""
    missing = names - set(Category.objects.filter(source_name__in=names).values_list("source_name", flat=True))
    # Two providers' syncs may create the same category at once: the loser's insert is skipped, not an error.
    Category.objects.bulk_create(
        [Category(name=name, source_name=name) for name in sorted(missing)], ignore_conflicts=True
    )
    return {c.source_name: c for c in Category.objects.filter(source_name__in=names) if c.source_name}


def _snapshot(service: Service) -> tuple[object, ...]:
    return tuple(getattr(service, name) for name in SYNC_FIELDS)


def _refresh(
    service: Service, info: ServiceInfo, upstream_category: Category, result: SyncResult, history: list[ServicePrice]
) -> bool:
    """Bring an existing service up to date with its upstream entry; whether anything changed. A new price goes
    to `history`."""
    before = _snapshot(service)
    if service.category.source_name == _category_name(service.upstream_category):
        # Not moved by an admin: keep following the upstream category.
        service.category = upstream_category
    _copy_upstream(service, info)
    if service.missing_upstream:
        service.missing_upstream = False
        result.restored += 1
        if service.disabled_reason == Reason.MISSING_UPSTREAM:
            service.is_active, service.disabled_reason = True, Reason.NONE
    was_active = service.is_active
    price_change = apply_price(service)
    if price_change is not None:
        history.append(price_change)
    if was_active and service.disabled_reason == Reason.BELOW_COST:
        result.disabled_below_cost.append(f"{service.name} (#{service.pk})")
    return _snapshot(service) != before


def _routes_refresh(routes: list[Route], incoming: dict[int, ServiceInfo], still_listed: set[int]) -> list[Route]:
    """Every route through this provider (first or failover) takes its upstream service's rate, limits and
    features; a route whose service vanished upstream is never used until it comes back. Returns the routes back
    upstream."""
    changed, back = [], []
    for route in routes:
        before = tuple(getattr(route, name) for name in ROUTE_DATA)
        fresh = incoming.get(route.upstream_id)
        if fresh is not None:
            route.upstream_name = fresh.name[:500]
            route.upstream_rate = rate_up(fresh.rate)
            route.min_quantity, route.max_quantity = fresh.min, fresh.max
            route.refill, route.cancel, route.dripfeed = fresh.refill, fresh.cancel, fresh.dripfeed
            if route.missing_upstream:
                back.append(route)
            route.missing_upstream = False
        elif route.upstream_id not in still_listed:
            route.missing_upstream = True
        if tuple(getattr(route, name) for name in ROUTE_DATA) != before:
            changed.append(route)
    bulk_update_rows(changed, ROUTE_DATA, batch_size=10_000)
    return back


def catalog_sync(*, provider: Provider, client: ApiClient | None = None) -> SyncResult:
    """Mirror the provider's catalog: create, update, and disable what vanished, in a handful of queries.

    Admin edits (name, category, markup, fixed price, active) survive; a failure leaves the catalog as it was.
    """
    result = SyncResult(provider=provider.name)
    try:
        catalog = (client or provider_client(provider)).services()
        if not catalog.services:
            raise ProviderError(f"{provider.name} returned no usable service; nothing was changed.")
    except UpstreamError as exc:
        result.ok, result.error = False, provider_error_text(provider.name, exc)
    except ProviderError as exc:
        result.ok, result.error = False, exc.message
    if not result.ok:
        Provider.objects.filter(pk=provider.pk).update(
            last_sync_at=timezone.now(), last_sync_ok=False, last_sync_message=result.summary()
        )
        logger.warning("catalog sync of %s failed: %s", provider.name, result.error)
        return result

    result.skipped = list(catalog.skipped)
    incoming: dict[int, ServiceInfo] = {}
    for info in catalog.services:
        problem = _unstorable(info)
        if problem:
            result.skipped.append(
                SkippedEntry(position=-1, reason=f"service {info.service}: {problem}", excerpt="", service=info.service)
            )
        else:
            incoming[info.service] = info

    with transaction.atomic():
        # Serializes overlapping syncs of one provider (a beat run and an admin's "sync now").
        Provider.objects.select_for_update().filter(pk=provider.pk).first()
        existing = services_locked(Service.objects.filter(provider=provider))
        routes = list(
            Route.objects.select_for_update(of=("self",))
            .select_related("service")
            .filter(provider=provider)
            .order_by("pk")
        )
        known = {r.upstream_id for r in routes} | {s.upstream_id for s in existing}
        new_infos = [info for upstream_id, info in incoming.items() if upstream_id not in known]
        categories = _categories_for({_category_name(info.category) for info in incoming.values()})

        created, history = [], []
        for info in new_infos:
            service = Service(provider=provider, upstream_id=info.service, name="", upstream_name="")
            service.category = categories[_category_name(info.category)]
            _copy_upstream(service, info)
            history.append(apply_price(service))
            created.append(service)
        Service.objects.bulk_create(created, batch_size=1000)
        Route.objects.bulk_create([route_for(service) for service in created])
        result.created = len(created)
        prices_record(history)

        changed: list[Service] = []
        repriced: list[ServicePrice] = []
        vanished_ids: list[int] = []
        disabled: list[Service] = []
        enabled: list[Service] = []
        now = timezone.now()
        # A malformed entry still names a service that exists upstream: left as it is, not "vanished".
        still_listed = {entry.service for entry in result.skipped if entry.service is not None}
        for service in existing:
            upstream_id = service.upstream_id or 0
            service.provider = provider
            fresh = incoming.get(upstream_id)
            if fresh is None:
                if not service.missing_upstream and upstream_id not in still_listed:
                    vanished_ids.append(service.pk)
                continue
            was_active = service.is_active
            if _refresh(service, fresh, categories[_category_name(fresh.category)], result, repriced):
                service.updated_at = now
                changed.append(service)
            if was_active != service.is_active:
                (enabled if service.is_active else disabled).append(service)
        bulk_update_rows(changed, [*SYNC_FIELDS, "updated_at"])
        back = _routes_refresh(routes, incoming, still_listed)
        # A service whose first route vanished goes on through its next usable route (now its price basis); one
        # whose route came back takes it again as its first. Only a service with no usable route left is disabled.
        failing_over = set(
            Route.objects.filter(
                service_id__in=vanished_ids, is_active=True, missing_upstream=False, provider__is_active=True
            ).values_list("service_id", flat=True)
        )
        vanished_ids = [pk for pk in vanished_ids if pk not in failing_over]
        services_remirror(
            service_ids=failing_over | {route.service_id for route in back if route.service.provider_id != provider.pk}
        )
        prices_record(repriced)
        result.updated, result.unchanged = len(changed), len(incoming) - len(created) - len(changed)

        for start in range(0, len(vanished_ids), 1000):
            chunk = Service.objects.filter(pk__in=vanished_ids[start : start + 1000])
            # Only what the sync itself disables comes back on its own when the service reappears.
            selling = chunk.filter(is_active=True)
            for service in selling.select_related("provider"):
                service.disabled_reason = Reason.MISSING_UPSTREAM
                disabled.append(service)
            selling.update(is_active=False, disabled_reason=Reason.MISSING_UPSTREAM)
            chunk.update(missing_upstream=True, updated_at=now)
        result.vanished = len(vanished_ids)
        services_disabled_alert(services=disabled)
        services_enabled(services=enabled)

        Provider.objects.filter(pk=provider.pk).update(
            last_sync_at=now, last_sync_ok=True, last_sync_message=result.summary()
        )
    catalog_changed()
    logger.info("catalog sync of %s: %s", provider.name, result.summary())
    return result
