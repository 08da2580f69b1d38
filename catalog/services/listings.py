"""Writes to what is for sale: admins' edits of services and categories, repricing, enabling and disabling,
and the figures orders give services. Every write reprices through the one rule of catalog.pricing."""

from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.models import User
from backoffice.alerts import Kind, admin_link, alerts_raise, alerts_resolve
from backoffice.audit import audit_entry, audit_record, changed, values_of
from backoffice.models import Alert, AuditEntry
from catalog.models import Category, Service, ServicePrice
from catalog.pricing import MAX_RATE, SaleProblem, sale_problem
from catalog.selectors import catalog_changed
from panel.db import bulk_update_rows

Reason = Service.DisabledReason
PRICE_FIELDS = ["rate", "is_active", "disabled_reason", "updated_at"]
# Why a sync disabled a service, as operators are told.
DISABLED_BECAUSE = {
    Reason.MISSING_UPSTREAM: "it vanished from the provider's catalog",
    Reason.BELOW_COST: "its cost rose above its fixed price",
    Reason.NO_PRICE: "the provider gives it no usable price",
}
# What a staff member's price change is audited with: the price set, and what it did to the sale.
AUDITED_PRICE = ("markup_percent", "fixed_rate", "rate", "is_active", "disabled_reason")
# The last price in the service's history, read with the row lock: a price change is one compared with it.
RECORDED_RATE, RECORDED_COST = "recorded_rate", "recorded_cost"
# What an admin edits; everything else about a service comes from upstream.
ADMIN_FIELDS = (
    "name",
    "category",
    "description",
    "is_active",
    "markup_percent",
    "fixed_rate",
    "refill_days",
    "deny_duplicates",
    "panel_dripfeed",
)
# What an admin also sets of a manual service (no provider's catalog says them).
MANUAL_FIELDS = ("type", "min_quantity", "max_quantity", "upstream_rate")
CATEGORY_FIELDS = ("name", "position", "is_active", "markup_percent")


def _disable(service: Service, reason: str) -> None:
    service.is_active = False
    service.disabled_reason = reason


def _disabled_key(service_id: int) -> str:
    return f"service-disabled:{service_id}"


def services_disabled_alert(*, services: Iterable[Service]) -> None:
    """Tell operators of each service a sync stopped selling (their providers loaded), once until it sells again."""
    alerts = []
    for service in services:
        why = DISABLED_BECAUSE.get(Reason(service.disabled_reason), "it can no longer be sold")
        alerts.append(
            Alert(
                kind=Kind.SERVICE_DISABLED,
                key=_disabled_key(service.pk),
                subject=f"service {service.pk} ({service.name[:100]}) disabled: {why}",
                body=f"The catalog sync of {service.provider} stopped selling service {service.pk}, "
                f"{service.name}, upstream id {service.upstream_id}: {why}. Raise its fixed price, or enable it "
                "again when it can be sold.",
                url=admin_link("catalog_service_change", service.pk),
            )
        )
    alerts_raise(alerts=alerts)


def services_enabled(*, services: Iterable[Service]) -> None:
    """Services that sell again: their "disabled" incidents are over."""
    keys = [_disabled_key(service.pk) for service in services]
    if keys:
        alerts_resolve(alerts=Alert.objects.filter(key__in=keys))


def services_locked(services: "QuerySet[Service]") -> list[Service]:
    """The services, row-locked until the transaction ends; always in pk order so lockers never deadlock.

    Sync, repricing and admin edits all lock before they read, so none writes back what another changed.
    """
    history = ServicePrice.objects.filter(service=OuterRef("pk")).order_by("-valid_from")
    return list(
        services.select_related("category", "provider")
        .annotate(**{RECORDED_RATE: Subquery(history.values("rate")[:1]),
                     RECORDED_COST: Subquery(history.values("cost")[:1])})
        .select_for_update(of=("self",))
        .order_by("pk")
    )  # fmt: skip


def _set_rate(service: Service, problem: SaleProblem | None, rate: Decimal) -> None:
    if problem == SaleProblem.NO_PRICE:
        service.rate = Decimal(0)
        _disable(service, Reason.NO_PRICE)
        return
    service.rate = rate
    if not service.is_active:
        return
    if problem is None:
        service.disabled_reason = Reason.NONE
    else:
        _disable(service, Reason(problem.value))


def apply_price(service: Service) -> ServicePrice | None:
    """Set the service's rate; fail closed when it has no usable price, sells below cost or vanished.

    Returns the price history's new row (unsaved: callers write them in bulk with prices_record) when the rate or
    the cost differs from the last one recorded (read by services_locked; a new service has none), else None.
    """
    price = service.price()
    _set_rate(service, sale_problem(price=price, missing_upstream=service.missing_upstream), price.rate)
    recorded = (getattr(service, RECORDED_RATE, None), getattr(service, RECORDED_COST, None))
    if (service.rate, price.cost) == recorded or price.cost >= MAX_RATE:
        return None
    setattr(service, RECORDED_RATE, service.rate)
    setattr(service, RECORDED_COST, price.cost)
    return ServicePrice(service=service, rate=service.rate, cost=price.cost, valid_from=timezone.now())


def prices_record(rows: Iterable[ServicePrice | None]) -> None:
    """Write the price history's new rows (apply_price's answers) in one query."""
    # No batch size: on PostgreSQL Django inserts any number of rows as one UNNEST; elsewhere it splits as needed.
    ServicePrice.objects.bulk_create([row for row in rows if row is not None])


def _price_state(service: Service) -> tuple[object, ...]:
    return tuple(getattr(service, name) for name in PRICE_FIELDS[:-1])


@transaction.atomic
def services_reprice(*, services: "QuerySet[Service]") -> list[Service]:
    """Recompute the rate of these services at once; returns those this disabled for selling below cost."""
    repriced, disabled, history, now = [], [], [], timezone.now()
    for service in services_locked(services):
        was_active, before = service.is_active, _price_state(service)
        history.append(apply_price(service))
        if _price_state(service) != before:
            service.updated_at = now
            repriced.append(service)
            if was_active and not service.is_active:
                disabled.append(service)
    bulk_update_rows(repriced, PRICE_FIELDS)
    prices_record(history)
    transaction.on_commit(catalog_changed)
    return disabled


def _price_audit(actor: User | None, service: Service, before: dict[str, object]) -> AuditEntry | None:
    """The audit entry of a staff member's price change of the service (None: its price did not change)."""
    old, new = changed(before, values_of(service, AUDITED_PRICE))
    if not {"markup_percent", "fixed_rate", "rate"} & set(new):
        return None
    return audit_entry(actor=actor, action="service.price", target=service, before=old, after=new)


@transaction.atomic
def service_save(*, service: Service, fields: Iterable[str], actor: User | None) -> Service:
    """Save an admin's edit of these fields onto the current row (a sync may have run meanwhile), repriced; a price
    change is audited with `actor` (None: the command line)."""
    current = services_locked(Service.objects.filter(pk=service.pk))[0]
    editable = (*ADMIN_FIELDS, *MANUAL_FIELDS) if current.is_manual else ADMIN_FIELDS
    edited = [name for name in fields if name in editable]
    before = values_of(current, AUDITED_PRICE)
    for name in edited:
        setattr(current, name, getattr(service, name))
    history = apply_price(current)
    current.save(update_fields=[*edited, *PRICE_FIELDS])
    if current.is_active:
        services_enabled(services=[current])
    prices_record([history])
    entry = _price_audit(actor, current, before)
    if entry is not None:
        entry.save()
    transaction.on_commit(catalog_changed)
    return current


@transaction.atomic
def manual_service_create(*, service: Service, actor: User | None) -> Service:
    """Create a service the panel fulfils itself (no provider; its orders wait for staff), priced by the same
    rule as every service: its cost per 1000 in the panel currency, and markup or a fixed price."""
    service.provider, service.upstream_id = None, None
    service.upstream_name = service.upstream_name or service.name
    history = apply_price(service)
    service.save()
    prices_record([history])
    audit_record(actor=actor, action="service.create", target=service, before={},
                 after=values_of(service, ("name", *MANUAL_FIELDS, *AUDITED_PRICE)))  # fmt: skip
    transaction.on_commit(catalog_changed)
    return service


@transaction.atomic
def category_save(*, category: Category, fields: Iterable[str], actor: User | None) -> list[Service]:
    """Save an admin's edit of these fields of a category (a new markup audited with `actor`); returns its services
    that a new markup disabled for selling below cost."""
    asked = set(fields)
    edited = [name for name in CATEGORY_FIELDS if name in asked]
    stored = Category.objects.filter(pk=category.pk).values_list("markup_percent", flat=True).first()
    category.save(update_fields=None if category.pk is None else edited)
    transaction.on_commit(catalog_changed)
    if "markup_percent" not in edited or stored == category.markup_percent:
        return []
    audit_record(actor=actor, action="category.markup", target=category, before={"markup_percent": stored},
                 after={"markup_percent": category.markup_percent})  # fmt: skip
    return services_reprice(services=Service.objects.filter(category=category))


@transaction.atomic
def services_set_markup(
    *, services: "QuerySet[Service]", markup_percent: Decimal | None, actor: User | None
) -> list[Service]:
    """Give these services one markup (None: inherit); each price it changes is audited with `actor`. Returns
    those it disabled for selling below cost."""
    before = {service.pk: values_of(service, AUDITED_PRICE) for service in services_locked(services)}
    services.update(markup_percent=markup_percent)
    disabled = services_reprice(services=services)
    entries = (_price_audit(actor, s, before[s.pk]) for s in Service.objects.filter(pk__in=before).order_by("pk"))
    AuditEntry.objects.bulk_create([entry for entry in entries if entry is not None])
    return disabled


@transaction.atomic
def services_enable(*, services: "QuerySet[Service]") -> tuple[int, list[Service]]:
    """Enable the services that can be sold; returns how many were enabled and those refused."""
    enabled, refused, history, now = [], [], [], timezone.now()
    for service in services_locked(services.filter(is_active=False)):
        service.is_active = True
        price_change = apply_price(service)
        if not service.is_active:
            refused.append(service)
            continue
        service.updated_at = now
        enabled.append(service)
        history.append(price_change)
    bulk_update_rows(enabled, PRICE_FIELDS)
    services_enabled(services=enabled)
    prices_record(history)
    transaction.on_commit(catalog_changed)
    return len(enabled), refused


@transaction.atomic
def services_delete(*, services: "QuerySet[Service]") -> int:
    """Delete services nobody ordered (their orders protect the others); they leave the catalog at once."""
    _, deleted = services.delete()
    transaction.on_commit(catalog_changed)
    return deleted.get(Service._meta.label, 0)


def services_disable(*, services: "QuerySet[Service]") -> int:
    disabled = services.filter(is_active=True).update(
        is_active=False, disabled_reason=Reason.NONE, updated_at=timezone.now()
    )
    catalog_changed()
    return disabled


@transaction.atomic
def services_set_average_times(*, seconds: Mapping[int, int]) -> int:
    """Record each service's average time from order to completion (by service id); returns how many changed."""
    changed = []
    for service in Service.objects.filter(pk__in=list(seconds)).only("pk", "average_seconds").order_by():
        if service.average_seconds != seconds[service.pk]:
            service.average_seconds = seconds[service.pk]
            changed.append(service)
    bulk_update_rows(changed, ["average_seconds"])
    if changed:
        transaction.on_commit(catalog_changed)
    return len(changed)
