"""Routes of a service: adding a provider's upstream service as a route, ordering and removing routes. The
service mirrors its first route (provider, upstream id, rate, limits, features) and is priced from it."""

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from accounts.models import User
from backoffice.alerts import Kind, admin_link, alert_raise, alert_resolve
from backoffice.audit import audit_record
from catalog.models import Provider, Route, Service
from catalog.selectors import catalog_changed
from catalog.services.listings import PRICE_FIELDS, apply_price, prices_record, services_locked
from panel.errors import ApplicationError


class RouteError(ApplicationError):
    """A route that cannot be added or changed; the message says why."""


# What a route knows of its upstream service, copied from the provider's catalog by each sync.
ROUTE_DATA = [
    "upstream_name",
    "upstream_rate",
    "min_quantity",
    "max_quantity",
    "refill",
    "cancel",
    "dripfeed",
    "missing_upstream",
]
# What a service takes from its first route.
MIRRORED = ["provider", "upstream_id", *ROUTE_DATA]
# Priorities fit the column (a 32-bit integer) with room to spare; ASCII digits only, as a person types them.
PRIORITY_LIMIT = 999_999_999
_PRIORITY = re.compile(r"-?[0-9]{1,9}")
PRIORITY_ERROR = f"A priority is a whole number from -{PRIORITY_LIMIT} to {PRIORITY_LIMIT} (lower is tried first)."


def priority_parse(text: str) -> int:
    """A priority as typed on a form; RouteError unless it is a whole number within PRIORITY_LIMIT."""
    if not _PRIORITY.fullmatch(text.strip()):
        raise RouteError(PRIORITY_ERROR)
    return int(text)


def _priority_check(priority: int) -> None:
    if not -PRIORITY_LIMIT <= priority <= PRIORITY_LIMIT:
        raise RouteError(PRIORITY_ERROR)


def route_for(service: Service, priority: int = 0) -> Route:
    """The route of a provider's service as synced (unsaved): its upstream service, with the service's data."""
    assert service.provider is not None and service.upstream_id is not None, "a manual service has no route"
    route = Route(service=service, provider=service.provider, upstream_id=service.upstream_id, priority=priority)
    for name in ROUTE_DATA:
        setattr(route, name, getattr(service, name))
    return route


def _mirror(service: Service) -> None:
    """Copy the first usable route (on, listed upstream) onto the locked service and reprice it from there (fail
    closed, with its history)."""
    first = (
        service.routes.select_related("provider").order_by("-is_active", "missing_upstream", "priority", "pk").first()
    )
    if first is None:
        return
    for name in MIRRORED:
        setattr(service, name, getattr(first, name))
    history = apply_price(service)
    service.save(update_fields=[*MIRRORED, *PRICE_FIELDS])
    prices_record([history])
    transaction.on_commit(catalog_changed)


def services_remirror(*, service_ids: set[int]) -> None:
    """After a sync found routes vanished or back upstream: each of these services mirrors its first usable route
    again (in the caller's transaction)."""
    for service in services_locked(Service.objects.filter(pk__in=service_ids, provider__isnull=False)):
        _mirror(service)


def _upstream_type(known: Route) -> str:
    """The type the provider gives its upstream service: the sync copies it onto the service mirroring it."""
    mirroring = Service.objects.filter(provider_id=known.provider_id, upstream_id=known.upstream_id)
    return mirroring.values_list("type", flat=True).first() or known.service.type


@transaction.atomic
def route_add(
    *, service: Service, provider: Provider, upstream_id: int, priority: int | None = None, actor: User | None
) -> Route:
    """Add the provider's upstream service (as its last sync saw it) as a route of the service; last unless a
    priority is given."""
    if priority is not None:
        _priority_check(priority)
    current = services_locked(Service.objects.filter(pk=service.pk))[0]
    if current.is_manual:
        raise RouteError(f"Service {current.pk} is fulfilled by staff: it has no routes.")
    known = Route.objects.filter(provider=provider, upstream_id=upstream_id).order_by("pk").first()
    if known is None:
        raise RouteError(
            f"{provider.name} has no upstream service {upstream_id} in its synced catalog: sync the provider first."
        )
    upstream_type = _upstream_type(known)
    if upstream_type != current.type:
        # Orders are sent with the parameters of the service's type: another type would take them wrongly.
        raise RouteError(
            f"{provider.name} #{upstream_id} is a {upstream_type} service, and service {current.pk} is "
            f"{current.type}: a route must be of the service's type."
        )
    if current.routes.filter(provider=provider, upstream_id=upstream_id).exists():
        raise RouteError(f"Service {current.pk} already has {provider.name} #{upstream_id} as a route.")
    if priority is None:
        highest = current.routes.aggregate(highest=Max("priority"))["highest"]
        priority = 0 if highest is None else highest + 1
    route = Route(service=current, provider=provider, upstream_id=upstream_id, priority=priority)
    for name in ROUTE_DATA:
        setattr(route, name, getattr(known, name))
    route.save()
    _mirror(current)
    audit_record(actor=actor, action="route.add", target=current, before={},
                 after={"provider": provider.name, "upstream_id": upstream_id, "priority": priority})  # fmt: skip
    return route


@transaction.atomic
def routes_update(
    *,
    service: Service,
    priorities: Mapping[int, int],
    active: Mapping[int, bool],
    removed: set[int],
    actor: User | None,
) -> list[Route]:
    """An admin's edit of the service's routes (by route id): new priorities, on/off, removals; at least one
    route stays. Returns the routes asked to be removed but kept, off: each was the only route to its upstream
    service, which the provider's next sync would otherwise sell again as a new service."""
    for priority in priorities.values():
        _priority_check(priority)
    current = services_locked(Service.objects.filter(pk=service.pk))[0]
    routes = {route.pk: route for route in Route.objects.select_for_update().filter(service=current)}
    if routes and not set(routes) - removed:
        raise RouteError("A service keeps at least one route: add another before removing this one.")
    before = {str(pk): [route.priority, route.is_active] for pk, route in routes.items()}
    kept: list[Route] = []
    for pk, route in routes.items():
        if pk in removed:
            elsewhere = Route.objects.filter(provider_id=route.provider_id, upstream_id=route.upstream_id)
            if elsewhere.exclude(pk=pk).exists():
                route.delete()
                continue
            kept.append(route)
        route.priority = priorities.get(pk, route.priority)
        route.is_active = active.get(pk, route.is_active) and route not in kept
        route.save(update_fields=["priority", "is_active"])
    gone = removed - {route.pk for route in kept}
    after = {str(pk): [route.priority, route.is_active] for pk, route in routes.items() if pk not in gone}
    if after != before:
        audit_record(actor=actor, action="route.update", target=current, before=before, after=after)
    _mirror(current)
    return kept


def routes_usable(*, service: Service, now: datetime) -> "QuerySet[Route]":
    """The service's routes an order may go to now, first first: on, listed upstream, provider on, not in
    quarantine. The caller still checks each route's cost and limits against the order."""
    return (
        service.routes.select_related("provider")
        .filter(is_active=True, missing_upstream=False, provider__is_active=True)
        .filter(Q(quarantined_until__isnull=True) | Q(quarantined_until__lte=now))
        .order_by("priority", "pk")
    )


def _quarantine_key(route_id: int) -> str:
    return f"route-quarantined:{route_id}"


def route_failure(*, route_id: int, message: str) -> bool:
    """Count a failure of the route; the ROUTE_QUARANTINE_FAILURES-th within the window quarantines it for the
    cooldown and alerts operators. Returns whether this one quarantined it."""
    now = timezone.now()
    with transaction.atomic():
        route = Route.objects.select_for_update().select_related("provider").filter(pk=route_id).first()
        if route is None:
            return False
        if route.failures_since is None or route.failures_since < now - timedelta(
            seconds=settings.ROUTE_QUARANTINE_WINDOW
        ):
            route.failures, route.failures_since = 0, now
        route.failures += 1
        quarantined = bool(route.failures >= settings.ROUTE_QUARANTINE_FAILURES)
        if quarantined:
            route.quarantined_until = now + timedelta(seconds=settings.ROUTE_QUARANTINE_COOLDOWN)
            route.failures, route.failures_since = 0, None
        route.save(update_fields=["failures", "failures_since", "quarantined_until"])
        if quarantined:
            until = timezone.localtime(route.quarantined_until).strftime("%Y-%m-%d %H:%M %Z")
            alert_raise(
                kind=Kind.ROUTE_QUARANTINED,
                key=_quarantine_key(route.pk),
                subject=f"route {route} of service {route.service_id} quarantined until {until}",
                body=f"The route {route} of service {route.service_id} failed {settings.ROUTE_QUARANTINE_FAILURES} "
                f"times within {settings.ROUTE_QUARANTINE_WINDOW} s (the last: {message[:300]}). Orders skip it "
                f"until {until}, then it is used again by itself.",
                url=admin_link("catalog_service_change", route.service_id),
            )
    return quarantined


def route_recovered(*, route: Route) -> None:
    """A route placed an order after its quarantine: its incident is over."""
    if route.quarantined_until is not None:
        Route.objects.filter(pk=route.pk, quarantined_until=route.quarantined_until).update(quarantined_until=None)
        alert_resolve(key=_quarantine_key(route.pk))
