"""The audit trail: what staff did, written by the services themselves in the transaction of the change, so that
every door (admin, staff API, commands) records alike and a rolled-back change leaves no entry behind."""

import datetime
import enum
from collections.abc import Iterable, Mapping
from decimal import Decimal

from django.db.models import Model

from accounts.models import User
from backoffice.models import AuditEntry

JSON = str | int | float | bool | None | list["JSON"] | dict[str, "JSON"]


def jsonable(value: object) -> JSON:
    """A value as the trail keeps it: money as exact text, times as ISO 8601, a record as its id."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, Model):
        return jsonable(value.pk)
    if isinstance(value, Mapping):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, Iterable):
        return [jsonable(item) for item in value]
    return str(value)


def values_of(target: Model, names: Iterable[str]) -> dict[str, object]:
    """The named fields of a record as they are now (a foreign key as its id)."""
    return {name: getattr(target, f"{name}_id" if _is_relation(target, name) else name) for name in names}


def _is_relation(target: Model, name: str) -> bool:
    field = target._meta.get_field(name)
    return bool(field.many_to_one or field.one_to_one)


def changed(before: Mapping[str, object], after: Mapping[str, object]) -> tuple[dict[str, object], dict[str, object]]:
    """The fields whose values differ, before and after: the trail shows what moved, not what stayed."""
    names = [name for name in after if before.get(name) != after[name]]
    return {name: before.get(name) for name in names}, {name: after[name] for name in names}


def audit_entry(
    *,
    actor: User | None,
    action: str,
    target: Model,
    before: Mapping[str, object],
    after: Mapping[str, object],
    note: str = "",
) -> AuditEntry:
    """An unsaved entry, for callers that record many at once (bulk_create)."""
    return AuditEntry(
        actor=actor,
        action=action,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_repr=str(target)[:300],
        before=jsonable(before),
        after=jsonable(after),
        note=note[:500],
    )


def audit_record(
    *,
    actor: User | None,
    action: str,
    target: Model,
    before: Mapping[str, object],
    after: Mapping[str, object],
    note: str = "",
) -> AuditEntry:
    """Record one staff action on `target`: who (None: the command line), what, and the values before and after.

    Call it inside the transaction of the change, where there is one.
    """
    entry = audit_entry(actor=actor, action=action, target=target, before=before, after=after, note=note)
    entry.save()
    return entry
