"""Every write to the catalog: providers, the sync from upstream, and repricing."""

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from catalog.clients import provider_client
from catalog.models import Category, Provider, Service
from catalog.pricing import service_price
from panel.db import bulk_update_rows
from panel.errors import ApplicationError
from panel.money import rate_up
from upstream.client import Ambiguous, ApiClient, NotSent, Rejected, UpstreamError
from upstream.protocol import Balance, ServiceInfo, SkippedEntry

logger = logging.getLogger(__name__)

Reason = Service.DisabledReason
UNCATEGORIZED = "Other"
# Beyond what the columns hold; such an entry is skipped rather than failing the whole sync.
MAX_RATE = Decimal(10) ** 12
MAX_QUANTITY = 2**63 - 1
PRICE_FIELDS = ["rate", "is_active", "disabled_reason", "updated_at"]
SYNC_FIELDS = [
    "upstream_name",
    "name",
    "type",
    "upstream_category",
    "upstream_rate",
    "min_quantity",
    "max_quantity",
    "refill",
    "cancel",
    "dripfeed",
    "description",
    "upstream_extra",
    "missing_upstream",
    "rate",
    "is_active",
    "disabled_reason",
]


class ProviderError(ApplicationError):
    """A provider could not be reached or refused us; the message says which, without its key."""


def _explain(provider_name: str, exc: UpstreamError) -> str:
    if isinstance(exc, NotSent):
        return f"Cannot reach {provider_name}: {exc.message}"
    if isinstance(exc, Rejected):
        return f"{provider_name} refused the request: {exc.message}"
    assert isinstance(exc, Ambiguous)
    return f"{provider_name} did not answer like an API v2 endpoint: {exc.message}"


def _record_balance(provider: Provider, balance: Balance) -> None:
    provider.balance = balance.amount
    provider.balance_currency = balance.currency[:3]
    provider.balance_checked_at = timezone.now()


def provider_check(*, provider: Provider) -> Balance:
    """Ask the provider for its balance: proves that the URL and key work, and records the balance."""
    try:
        balance = provider_client(provider).balance()
    except UpstreamError as exc:
        raise ProviderError(_explain(provider.name, exc)) from None
    _record_balance(provider, balance)
    provider.save(update_fields=["balance", "balance_currency", "balance_checked_at"])
    return balance


def provider_create(
    *,
    name: str,
    api_url: str,
    api_key: str,
    currency: str = "USD",
    exchange_rate: Decimal = Decimal(1),
    markup_percent: Decimal | None = None,
) -> Provider:
    """Save a new provider only after its API answered a balance call with this URL and key."""
    provider = Provider(
        name=name,
        api_url=api_url,
        api_key=api_key,
        currency=currency.upper(),
        exchange_rate=exchange_rate,
        markup_percent=markup_percent,
    )
    provider.full_clean()
    try:
        balance = provider_client(provider).balance()
    except UpstreamError as exc:
        raise ProviderError(_explain(name, exc)) from None
    _record_balance(provider, balance)
    provider.save()
    return provider


def _disable(service: Service, reason: str) -> None:
    service.is_active = False
    service.disabled_reason = reason


def apply_price(service: Service) -> None:
    """Set the service's rate; fail closed when it has no price or an admin's fixed price is below cost."""
    price = service_price(service)
    if price.rate <= 0:
        service.rate = Decimal(0)
        _disable(service, Reason.NO_PRICE)
        return
    service.rate = price.rate
    if price.below_cost and service.is_active:
        _disable(service, Reason.BELOW_COST)
    elif service.is_active:
        service.disabled_reason = Reason.NONE


def services_reprice(*, services: "QuerySet[Service]") -> list[Service]:
    """Recompute the rate of these services at once; returns those this disabled for selling below cost."""
    changed, disabled = [], []
    for service in services.select_related("category", "provider"):
        before = (service.rate, service.is_active, service.disabled_reason)
        apply_price(service)
        if (service.rate, service.is_active, service.disabled_reason) != before:
            service.updated_at = timezone.now()
            changed.append(service)
            if before[1] and not service.is_active:
                disabled.append(service)
    Service.objects.bulk_update(changed, PRICE_FIELDS, batch_size=500)
    return disabled


def service_save(*, service: Service) -> None:
    """Save an admin's edit of a service with its new price."""
    apply_price(service)
    service.save()


def services_set_markup(*, services: "QuerySet[Service]", markup_percent: Decimal | None) -> list[Service]:
    services.update(markup_percent=markup_percent)
    return services_reprice(services=services)


def services_enable(*, services: "QuerySet[Service]") -> tuple[int, list[Service]]:
    """Enable the services that can be sold; returns how many were enabled and those refused (no price)."""
    enabled, refused = [], []
    for service in services.select_related("category", "provider").filter(is_active=False):
        price = service_price(service)
        if price.rate <= 0 or price.below_cost:
            refused.append(service)
            continue
        service.is_active = True
        apply_price(service)
        service.updated_at = timezone.now()
        enabled.append(service)
    Service.objects.bulk_update(enabled, PRICE_FIELDS, batch_size=500)
    return len(enabled), refused


def services_disable(*, services: "QuerySet[Service]") -> int:
    return services.filter(is_active=True).update(
        is_active=False, disabled_reason=Reason.NONE, updated_at=timezone.now()
    )


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
            lines.append(
                f"Disabled {len(self.disabled_below_cost)} whose fixed price is now below cost: {names}"
            )
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
    service.description = info.description
    service.upstream_extra = _jsonable(info.extra)


def _categories_for(names: Iterable[str]) -> dict[str, Category]:
    wanted = set(names)
    found = {c.source_name: c for c in Category.objects.filter(source_name__in=wanted) if c.source_name}
    missing = [Category(name=n, source_name=n) for n in sorted(wanted - found.keys())]
    for category in Category.objects.bulk_create(missing):
        assert category.source_name is not None
        found[category.source_name] = category
    return found


def _snapshot(service: Service) -> tuple[object, ...]:
    return tuple(getattr(service, name) for name in SYNC_FIELDS)


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
        result.ok, result.error = False, _explain(provider.name, exc)
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
                SkippedEntry(position=-1, reason=f"service {info.service}: {problem}", excerpt="")
            )
        else:
            incoming[info.service] = info

    with transaction.atomic():
        # Serializes overlapping syncs of one provider (a beat run and an admin's "sync now").
        Provider.objects.select_for_update().filter(pk=provider.pk).first()
        existing = {
            s.upstream_id: s for s in Service.objects.filter(provider=provider).select_related("category")
        }
        new_infos = [info for upstream_id, info in incoming.items() if upstream_id not in existing]
        categories = _categories_for(info.category[:200] or UNCATEGORIZED for info in new_infos)

        created = []
        for info in new_infos:
            service = Service(provider=provider, upstream_id=info.service, name="", upstream_name="")
            service.category = categories[info.category[:200] or UNCATEGORIZED]
            _copy_upstream(service, info)
            apply_price(service)
            created.append(service)
        Service.objects.bulk_create(created, batch_size=1000)
        result.created = len(created)

        changed: list[Service] = []
        vanished_ids: list[int] = []
        now = timezone.now()
        for upstream_id, service in existing.items():
            service.provider = provider
            fresh = incoming.get(upstream_id)
            if fresh is None:
                if not service.missing_upstream:
                    vanished_ids.append(service.pk)
                continue
            before = _snapshot(service)
            _copy_upstream(service, fresh)
            if service.missing_upstream:
                service.missing_upstream = False
                result.restored += 1
                if service.disabled_reason == Reason.MISSING_UPSTREAM:
                    service.is_active, service.disabled_reason = True, Reason.NONE
            was_active = service.is_active
            apply_price(service)
            if was_active and service.disabled_reason == Reason.BELOW_COST:
                result.disabled_below_cost.append(f"{service.name} (#{service.pk})")
            if _snapshot(service) != before:
                service.updated_at = now
                changed.append(service)
        bulk_update_rows(changed, [*SYNC_FIELDS, "updated_at"])
        result.updated, result.unchanged = len(changed), len(incoming) - len(created) - len(changed)

        for start in range(0, len(vanished_ids), 1000):
            chunk = Service.objects.filter(pk__in=vanished_ids[start : start + 1000])
            # Only what the sync itself disables comes back on its own when the service reappears.
            chunk.filter(is_active=True).update(is_active=False, disabled_reason=Reason.MISSING_UPSTREAM)
            chunk.update(missing_upstream=True, updated_at=now)
        result.vanished = len(vanished_ids)

        Provider.objects.filter(pk=provider.pk).update(
            last_sync_at=now, last_sync_ok=True, last_sync_message=result.summary()
        )
    logger.info("catalog sync of %s: %s", provider.name, result.summary())
    return result
