"""Bulk writes faster than Django's own where they sit on a hot path (catalog sync, status polling, refunds)."""

import json
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from django.db import connections, models, router
from psycopg.types.json import Json, Jsonb

BATCH_SIZE = 500


def bulk_update_rows(objs: Sequence[models.Model], fields: Sequence[str], *, batch_size: int = BATCH_SIZE) -> None:
    """Write `fields` of each object to its row: on Postgres one `UPDATE ... FROM unnest(arrays)` per batch.

    Django's bulk_update builds a CASE/WHEN expression per field in Python, which costs far more than the
    query itself (measured: ~0.6 s per 100 rows of 17 fields). One array parameter per column (not one
    parameter per value) also keeps the query text small and constant. Other databases use bulk_update.
    """
    if not objs:
        return
    model = type(objs[0])
    if connections[router.db_for_write(model)].vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields, batch_size=batch_size)
        return
    attnames = [column.attname for column in _columns(model, fields)]
    rows = [[getattr(obj, attname) for attname in attnames] for obj in objs]
    rows_update(model, fields, rows, batch_size=batch_size)


def _columns(model: type[models.Model], fields: Sequence[str]) -> list[models.Field[Any, Any]]:
    """The primary key's column and then each named field's."""
    meta = model._meta
    columns: list[models.Field[Any, Any]] = []
    for field in [meta.pk, *(meta.get_field(name) for name in fields)]:
        assert isinstance(field, models.Field) and field.column, f"{field} is not a column"
        columns.append(field)
    return columns


# Fields whose preparation keeps a value of _PLAIN_TYPES as it is (JSON fields wrap theirs).
_PLAIN_FIELDS = frozenset({
    "AutoField", "BigAutoField", "BigIntegerField", "BooleanField", "CharField", "DateTimeField", "DecimalField",
    "ForeignKey", "IntegerField", "PositiveBigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField",
    "SmallIntegerField", "TextField",
})  # fmt: skip
_PLAIN_TYPES = frozenset({type(None), int, str, Decimal})


def _json_value(value: object) -> object:
    """A value as prepared for the database (get_db_prep_save), as JSON that Postgres casts back exactly."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    if isinstance(value, Json | Jsonb):
        return (value.dumps or json.dumps)(value.obj)
    raise TypeError(f"rows_update cannot write a {type(value).__name__}")


def rows_update(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[Sequence[object]], *, batch_size: int = BATCH_SIZE
) -> None:
    """Write rows given as values, `(pk, *fields)` each, without making model instances: bulk_update_rows for a
    path that read plain values (`values_list`) and has no objects.

    On Postgres the rows travel as one JSON parameter, which the query casts column by column: quoting one text
    costs far less than quoting an array per column value by value (measured: 2 ms of a 100-row chunk's 10).
    """
    if not rows:
        return
    columns = _columns(model, fields)
    # The connection itself, not the `connection` proxy: each prep call reads it, and the proxy's lookup costs
    # more than the prep.
    connection = connections[router.db_for_write(model)]
    if connection.vendor != "postgresql":
        objs = [model(**{column.attname: value for column, value in zip(columns, row, strict=True)}) for row in rows]
        model._default_manager.bulk_update(objs, fields, batch_size=batch_size)
        return
    quote = connection.ops.quote_name
    # cast_db_type has no type hints.
    casts = ", ".join(
        f"(r->>{index})::{column.cast_db_type(connection)} AS {quote(column.column)}"  # type: ignore[attr-defined]
        for index, column in enumerate(columns)
    )
    assignments = ", ".join(f"{quote(column.column)} = v.{quote(column.column)}" for column in columns[1:])
    table, key = quote(model._meta.db_table), quote(columns[0].column)
    # Only the model's own table and column names, quoted, and the columns' types go into the text; the values
    # are one parameter.
    sql = (
        f"UPDATE {table} AS t SET {assignments} "  # noqa: S608  # nosec B608 - quoted identifiers, no values
        f"FROM (SELECT {casts} FROM jsonb_array_elements(%s::jsonb) AS r) AS v WHERE t.{key} = v.{key}"
    )
    preps = [column.get_db_prep_save for column in columns]
    plain = [column.get_internal_type() in _PLAIN_FIELDS for column in columns]

    def prepared(index: int, value: object) -> object:
        # Django's preparation of these fields returns a value of these types as it is: skip it, it costs more
        # than the rest of the row (an aware datetime: a naive one gets the current time zone, below).
        if plain[index] and (type(value) in _PLAIN_TYPES or (isinstance(value, datetime) and value.tzinfo)):
            return value
        return preps[index](value, connection)

    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch_size):
            batch = [
                [_json_value(prepared(i, value)) for i, value in enumerate(row)]
                for row in rows[start : start + batch_size]
            ]
            cursor.execute(sql, [json.dumps(batch, ensure_ascii=False, allow_nan=False)])
