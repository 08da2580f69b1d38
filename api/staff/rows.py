"""Lists at the speed of a plain read. When every field of a list's serializer is a column of the model (or of a
row it points to), the page is read with `values()` and each row rendered by the fields' own to_representation:
no model instances, no per-field attribute walk, and the same answer as the serializer's (a test holds the two
to it)."""

import datetime
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

# Fields whose to_representation gives back what the database driver gives them.
UNCHANGED = (serializers.IntegerField, serializers.CharField, serializers.BooleanField, serializers.ChoiceField)


def _aware_iso(field: serializers.Field[Any, Any, Any, Any]) -> bool:
    """A DateTimeField that shows aware datetimes in the current time zone, in ISO 8601 (the default)."""
    return (
        isinstance(field, serializers.DateTimeField)
        and settings.USE_TZ
        and not hasattr(field, "timezone")
        and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
    )


@dataclass(frozen=True)
class Column:
    name: str
    path: str  # for values(): "user__username"
    # None: the value as the database gives it; AWARE_TIME: an aware datetime as DateTimeField shows it.
    convert: Callable[[Any], Any] | None


def _iso_in(zone: datetime.tzinfo, value: datetime.datetime) -> str:
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# DateTimeField.to_representation of an aware datetime, with the current time zone looked up once per page
# instead of once per value.
AWARE_TIME = functools.partial(_iso_in, datetime.UTC)


@dataclass(frozen=True)
class Columns:
    columns: tuple[Column, ...]

    @property
    def paths(self) -> list[str]:
        return list(dict.fromkeys(["id", *(column.path for column in self.columns)]))

    def render(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        in_zone = functools.partial(_iso_in, timezone.get_current_timezone())
        plan = [(c.name, c.path, in_zone if c.convert is AWARE_TIME else c.convert) for c in self.columns]
        return [
            {name: value if (value := row[path]) is None or convert is None else convert(value)
             for name, path, convert in plan}
            for row in rows
        ]  # fmt: skip


def _path(model: type[Model], source_attrs: list[str]) -> str | None:
    """The values() path of a field's source, or None when it is not a column (a property, a method, a reverse
    relation)."""
    for position, name in enumerate(source_attrs):
        try:
            field = model._meta.get_field(name)
        except FieldDoesNotExist:
            return None
        last = position == len(source_attrs) - 1
        if not last:
            if not (field.many_to_one or field.one_to_one) or field.related_model is None:
                return None
            model = field.related_model  # type: ignore[assignment]
        elif not field.concrete or field.many_to_many:
            return None
    return "__".join(source_attrs)


def columns_of(serializer_class: type[serializers.BaseSerializer[Any]]) -> Columns | None:
    """The columns of a ModelSerializer whose every field is one; None when any is not (it renders as usual)."""
    if serializer_class not in _known:
        _known[serializer_class] = _columns(serializer_class)
    return _known[serializer_class]


_known: dict[type[serializers.BaseSerializer[Any]], Columns | None] = {}


def _columns(serializer_class: type[serializers.BaseSerializer[Any]]) -> Columns | None:
    if not issubclass(serializer_class, serializers.ModelSerializer):
        return None
    model = serializer_class.Meta.model
    columns = []
    for name, field in serializer_class().fields.items():
        path = _path(model, field.source_attrs)
        if path is None:
            return None
        convert: Callable[[Any], Any] | None
        if isinstance(field, serializers.PrimaryKeyRelatedField):
            convert = None  # values() gives the related row's id, which is what the field shows
        elif isinstance(field, serializers.RelatedField | serializers.ManyRelatedField | serializers.Serializer):
            return None
        elif _aware_iso(field):
            convert = AWARE_TIME
        else:
            convert = None if isinstance(field, UNCHANGED) else field.to_representation
        columns.append(Column(name=name, path=path, convert=convert))
    return Columns(tuple(columns))
