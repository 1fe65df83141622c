"""Writing many rows without model instances, for the few places that write 100,000s of rows
at once (imports, MRP plans).

Django's `bulk_create` makes a model instance per row, prepares every value through its field
and binds them one by one: about 30 µs a row, minutes for a plan of millions of rows. Here the
caller gives plain values, already checked, and they go to the database in its fastest path:

- `rows_insert`: a list of row tuples; PostgreSQL `COPY … FROM STDIN` (text rows through
  psycopg), SQLite one `executemany`.
- `columns_insert`: one numpy array (or one value for every row) per column. On PostgreSQL the
  rows are encoded for `COPY … (FORMAT BINARY)` by numpy, column by column, with no Python
  work per row: integers, dates, booleans, decimals (numeric, from floats at the field's
  scale), strings and NULLs. Rows whose strings have the same lengths and whose NULLs fall in
  the same columns share one fixed record layout, so a table is written as a few numpy record
  arrays (rows of one layout together: the rows may be stored in another order than given).
  Decimals come from floats, so they are exact to about 15 significant digits. SQLite gets an `executemany` of the columns zipped.
- `pk_block`: a block of consecutive primary keys, so that rows written by `columns_insert` can
  be referred to by other rows of the same write.
- `objects_insert`: model instances built (and checked) by a service, given primary keys from
  the table's sequence (`pk_values`, no table lock) and written by `rows_insert`: for tables
  other users write at the same time (stock moves), a few times faster than `bulk_create`.
- `rows_update`: many rows' columns set to their own values in one `UPDATE … FROM (VALUES …)`
  per chunk instead of `bulk_update`'s CASE per column.

Only quoted names of the model's own table and columns go into the SQL; values never do.
Model signals, `auto_now` and defaults are not applied: give every column the table needs.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
from django.db import connections, models, router

PG_EPOCH = np.datetime64("2000-01-01", "D")
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
COPY_TRAILER = struct.pack(">h", -1)
INTEGER_TYPES = {"bigint": ">i8", "integer": ">i4", "smallint": ">i2"}


def _connection(model: type[models.Model]) -> Any:
    return connections[router.db_for_write(model)]


def _fields(model: type[models.Model], columns: Iterable[str]) -> list[models.Field]:
    meta = model._meta
    return [meta.get_field(column) for column in columns]


def rows_insert(model: type[models.Model], columns: list[str], rows: list[tuple[Any, ...]]) -> None:
    """INSERT `rows` (tuples of plain values for `columns`, by attribute name)."""
    if not rows:
        return
    connection = _connection(model)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in _fields(model, columns))
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            one = "(" + ", ".join(["%s"] * len(columns)) + ")"
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {one}", rows)  # noqa: S608


def pk_block(model: type[models.Model], count: int) -> int:
    """The first of `count` consecutive primary keys that no other row will take, to be given
    explicitly to rows written in the caller's transaction. PostgreSQL: the table's sequence is
    advanced by `count` while the table is locked against other inserts (until the transaction
    ends). SQLite: above the highest key used so far; call it after the transaction has
    written (SQLite then holds the only write lock)."""
    connection = _connection(model)
    meta = model._meta
    table, column = meta.db_table, meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"LOCK TABLE {quoted} IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [quoted, column])
            (sequence,) = cursor.fetchone()
            if count <= 0:
                return 0
            cursor.execute("SELECT nextval(%s)", [sequence])
            (first,) = cursor.fetchone()
            cursor.execute("SELECT setval(%s, %s)", [sequence, first + count - 1])
            return int(first)
        cursor.execute(
            f"SELECT MAX({connection.ops.quote_name(column)}) FROM "  # noqa: S608
            f"{connection.ops.quote_name(table)}"
        )
        (highest,) = cursor.fetchone()
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        found = cursor.fetchone()
        return max(int(highest or 0), int(found[0]) if found else 0) + 1


def pk_values(model: type[models.Model], count: int) -> list[int]:
    """`count` primary keys that no other row will take (ascending, not always consecutive).
    PostgreSQL: drawn from the table's sequence, so other transactions go on inserting at the
    same time. SQLite: `pk_block` (SQLite has one writer at a time)."""
    if count <= 0:
        return []
    connection = _connection(model)
    if connection.vendor != "postgresql":
        first = pk_block(model, count)
        return list(range(first, first + count))
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(meta.db_table), meta.pk.column, count],
        )
        return sorted(int(value) for (value,) in cursor.fetchall())


def objects_insert(model: type[models.Model], objects: list[models.Model]) -> list[models.Model]:
    """INSERT unsaved instances of `model` (built with every value they need: defaults from
    the model's constructor, `auto_now` dates here): each gets a primary key from `pk_values`
    and is then saved, as `bulk_create` leaves it. No signals; plain columns only (no JSON)."""
    if not objects:
        return objects
    connection = _connection(model)
    meta = model._meta
    fields = list(meta.concrete_fields)
    missing = [obj for obj in objects if obj.pk is None]
    for obj, pk in zip(missing, pk_values(model, len(missing)), strict=True):
        obj.pk = pk
    stamped = [
        f for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    ]
    for field in stamped:
        for obj in objects:
            field.pre_save(obj, add=True)
    columns = [f.attname for f in fields]
    rows = [tuple(getattr(obj, name) for name in columns) for obj in objects]
    if connection.vendor != "postgresql":  # dates and times as SQLite's backend writes them
        typed = [n for n, f in enumerate(fields) if isinstance(f, models.DateField)]
        if typed:
            rows = [list(row) for row in rows]
            for row in rows:
                for n in typed:
                    row[n] = fields[n].get_db_prep_save(row[n], connection)
            rows = [tuple(row) for row in rows]
    rows_insert(model, columns, rows)
    alias = connection.alias
    for obj in objects:
        obj._state.adding = False
        obj._state.db = alias
    return objects


# rows per UPDATE of `rows_update` (SQLite takes 32,766 parameters, PostgreSQL 65,535)
UPDATE_PARAMETERS = 30_000


def rows_update(
    model: type[models.Model], columns: list[str], rows: list[tuple[Any, ...]],
    *, batch: int | None = None,
) -> None:  # fmt: skip
    """UPDATE the rows of `model` whose primary keys are the first value of each of `rows`,
    setting `columns` (attribute names) to the other values: one `UPDATE … FROM (VALUES …)` per
    `batch` rows (default: as many as the parameters allow) instead of `bulk_update`'s CASE per
    row and column. Sends no signals. (SQLite before 3.33 has no UPDATE … FROM: one UPDATE a row.)"""
    if not rows:
        return
    connection = _connection(model)
    meta = model._meta
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    fields = [meta.pk, *_fields(model, columns)]
    vendor = connection.vendor
    if vendor == "sqlite" and connection.Database.sqlite_version_info < (3, 33):
        for pk, *values in rows:
            model._base_manager.filter(pk=pk).update(**dict(zip(columns, values, strict=True)))
        return
    if vendor == "postgresql":
        casts = [f.cast_db_type(connection) or f.db_type(connection) for f in fields]
        names = [f"c{n}" for n in range(len(fields))]
        one = "(" + ", ".join(f"%s::{cast}" for cast in casts) + ")"
        alias = f"v({', '.join(names)})"
        refer = [f"v.{name}" for name in names]
    else:  # SQLite names the columns of VALUES column1, column2…
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        alias = "v"
        refer = [
            f"CAST(v.column{n + 1} AS NUMERIC)"
            if f.get_internal_type() == "DecimalField"
            else f"v.column{n + 1}"
            for n, f in enumerate(fields)
        ]
    assignments = ", ".join(
        f"{quote(f.column)} = {ref}" for f, ref in zip(fields[1:], refer[1:], strict=True)
    )
    prepared = [
        tuple(f.get_db_prep_save(v, connection) for f, v in zip(fields, row, strict=True))
        for row in rows
    ]
    size = batch or max(1, UPDATE_PARAMETERS // len(fields))
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), size):
            chunk = prepared[start : start + size]
            cursor.execute(
                f"UPDATE {table} SET {assignments} "  # noqa: S608
                f"FROM (VALUES {', '.join([one] * len(chunk))}) AS {alias} "
                f"WHERE {table}.{quote(meta.pk.column)} = {refer[0]}",
                [value for row in chunk for value in row],
            )


# --- columns ------------------------------------------------------------------------------------


def _column(value: Any, count: int) -> np.ndarray | None:
    """The column as an array of `count` values (None: all NULL)."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if len(value) != count:
            raise ValueError(f"a column has {len(value)} values for {count} rows")
        return value
    if isinstance(value, list | tuple):
        return _column(np.asarray(value, dtype=object), count)
    return np.full(count, value, dtype=object if isinstance(value, str) else None)


def columns_insert(model: type[models.Model], columns: Mapping[str, Any], count: int) -> None:
    """INSERT `count` rows given column by column (attribute name → numpy array of `count`
    values, or one value for all rows, or None for NULL). Kinds of value: integers (NaN-free;
    for a nullable foreign key give a float array with NaN for NULL, or an object array with
    None), floats for decimals (written at the field's scale), `datetime64[D]` for dates
    (NaT: NULL), booleans, strings (an object array of str or None)."""
    if count <= 0:
        return
    connection = _connection(model)
    names = list(columns)
    fields = _fields(model, names)
    values = [_column(columns[name], count) for name in names]
    if connection.vendor == "postgresql":
        _copy_binary(connection, model, fields, values, count)
    else:
        _executemany(connection, model, fields, values, count)


def _python(field: models.Field, column: np.ndarray | None, count: int) -> list[Any]:
    """A column as Python values for SQLite."""
    if column is None:
        return [None] * count
    if isinstance(field, models.DateField):
        days = column.astype("datetime64[D]")
        text = np.datetime_as_string(days).astype(object)
        text[np.isnat(days)] = None
        return text.tolist()
    if isinstance(field, models.DecimalField):
        floats = column.astype(float)
        rounded = np.round(floats, field.decimal_places).astype(object)
        rounded[np.isnan(floats)] = None
        return rounded.tolist()
    if isinstance(field, models.BooleanField):
        return column.astype(bool).tolist()
    if column.dtype.kind == "f":  # integers with NaN for NULL
        out = column.astype(object)
        missing = np.isnan(column)
        out[~missing] = column[~missing].astype(np.int64).tolist()
        out[missing] = None
        return out.tolist()
    return column.tolist()


def _executemany(connection: Any, model: Any, fields: list[Any], values: list[Any],
                 count: int) -> None:  # fmt: skip
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    rows = list(zip(*(_python(f, v, count) for f, v in zip(fields, values, strict=True)),
                    strict=True))  # fmt: skip
    with connection.cursor() as cursor:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES {one}", rows)  # noqa: S608


class _Encoded:
    """One column encoded for binary COPY: per row its byte length (-1: NULL) and, per kind
    of layout, the numpy field to fill."""

    def __init__(self, dtype: str | None, data: np.ndarray | None, lengths: np.ndarray) -> None:
        self.dtype = dtype  # the value's numpy dtype (fixed-width), None: strings of `lengths`
        self.data = data
        self.lengths = lengths  # int32 per row, -1 for NULL


def _numeric(field: models.DecimalField, floats: np.ndarray) -> _Encoded:
    """PostgreSQL's binary numeric: ndigits, weight, sign, dscale and base-10,000 digits; a
    fixed number of digit groups for every row (the server strips the zero ones)."""
    scale = field.decimal_places
    whole_groups = max(1, -(-(field.max_digits - scale) // 4))
    fraction_groups = -(-scale // 4)
    missing = np.isnan(floats)
    scaled = np.rint(np.abs(np.where(missing, 0, floats)) * 10**scale).astype(np.int64)
    whole, fraction = np.divmod(scaled, 10**scale)
    fraction = fraction * 10 ** (fraction_groups * 4 - scale)  # align to whole groups
    groups = whole_groups + fraction_groups
    digits = np.zeros((len(floats), groups), dtype=">i2")
    for g in range(fraction_groups - 1, -1, -1):
        fraction, digits[:, whole_groups + g] = np.divmod(fraction, 10_000)
    for g in range(whole_groups - 1, -1, -1):
        whole, digits[:, g] = np.divmod(whole, 10_000)
    record = np.dtype([("n", ">i2"), ("weight", ">i2"), ("sign", ">u2"), ("dscale", ">i2"),
                       ("digits", ">i2", (groups,))])  # fmt: skip
    data = np.zeros(len(floats), dtype=record)
    data["n"], data["weight"], data["dscale"] = groups, whole_groups - 1, scale
    data["sign"] = np.where(floats < 0, 0x4000, 0)
    data["digits"] = digits
    lengths = np.where(missing, -1, record.itemsize).astype(np.int32)
    return _Encoded("numeric", data, lengths)


def _encode(connection: Any, field: models.Field, column: np.ndarray | None,
            count: int) -> _Encoded:  # fmt: skip
    if column is None:
        return _Encoded("none", None, np.full(count, -1, dtype=np.int32))
    if isinstance(field, models.DecimalField):
        return _numeric(field, column.astype(float))
    if isinstance(field, models.DateField):
        days = column.astype("datetime64[D]")
        missing = np.isnat(days)
        data = np.where(missing, PG_EPOCH, days) - PG_EPOCH
        return _Encoded(">i4", data.astype(">i4"), np.where(missing, -1, 4).astype(np.int32))
    if isinstance(field, models.BooleanField):
        return _Encoded("u1", column.astype("u1"), np.ones(count, dtype=np.int32))
    if isinstance(field, models.CharField | models.TextField):
        # a column repeats a few values (a state, a kind): encode each distinct value once
        seen: dict[Any, int] = {}
        codes = np.fromiter((seen.setdefault(v, len(seen)) for v in column.tolist()),
                            dtype=np.int64, count=count)  # fmt: skip
        distinct = [b"" if v is None else str(v).encode() for v in seen]
        sizes = np.asarray([-1 if v is None else len(e) for v, e in zip(seen, distinct,
                                                                       strict=True)],
                           dtype=np.int32)  # fmt: skip
        table = np.empty(len(distinct), dtype=object)
        table[:] = distinct
        return _Encoded(None, table[codes], sizes[codes])
    kind = INTEGER_TYPES.get(field.db_type(connection) or "", ">i8")
    if column.dtype.kind == "f":
        missing = np.isnan(column)
        data = np.where(missing, 0, column).astype(kind)
    elif column.dtype == object:
        missing = np.asarray([v is None for v in column.tolist()])
        data = np.where(missing, 0, column).astype(kind)
    else:
        missing = np.zeros(count, dtype=bool)
        data = column.astype(kind)
    width = np.dtype(kind).itemsize
    return _Encoded(kind, data, np.where(missing, -1, width).astype(np.int32))


def _copy_binary(connection: Any, model: Any, fields: list[Any], values: list[Any],
                 count: int) -> None:  # fmt: skip
    encoded = [_encode(connection, f, v, count) for f, v in zip(fields, values, strict=True)]
    # rows of one layout: the same string lengths and NULLs in the same columns
    varying = [e.lengths for e in encoded if e.dtype is None or not (e.lengths >= 0).all()]
    key = np.zeros(count, dtype=np.int64)
    scale = 1
    for lengths in varying:  # one integer per layout: the lengths (+1, NULL = 0) as digits
        base = int(lengths.max()) + 2
        if scale * base >= 2**62:
            _keys, key = np.unique(np.stack(varying, axis=1), axis=0, return_inverse=True)
            break
        key = key * base + (lengths.astype(np.int64) + 1)
        scale *= base
    _layouts, which = np.unique(key.reshape(-1), return_inverse=True)
    grouped = np.argsort(which.reshape(-1), kind="stable")
    bounds = np.flatnonzero(np.diff(which.reshape(-1)[grouped])) + 1
    chunks = [COPY_HEADER]
    for rows in np.split(grouped, bounds):
        first = rows[0]
        parts: list[tuple[str, Any]] = [("count", ">i2")]
        for n, column in enumerate(encoded):
            length = int(column.lengths[first])
            parts.append((f"l{n}", ">i4"))
            if length < 0:
                continue
            if column.dtype is None:
                parts.append((f"v{n}", f"S{length}") if length else (f"v{n}", "V0"))
            else:
                parts.append((f"v{n}", column.data.dtype))
        record = np.dtype(parts)
        out = np.zeros(len(rows), dtype=record)
        out["count"] = len(fields)
        for n, column in enumerate(encoded):
            out[f"l{n}"] = column.lengths[first]
            if f"v{n}" in record.names and record[f"v{n}"].itemsize:
                out[f"v{n}"] = column.data[rows] if column.dtype is not None else (
                    column.data[rows].astype(record[f"v{n}"]))  # fmt: skip
        chunks.append(out.tobytes())
    chunks.append(COPY_TRAILER)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)
    sql = f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for chunk in chunks:
            copy.write(chunk)
