"""Document numbering: per-company, per-year sequences with a pattern such as `SO{year}-{number:06d}`.

How a number is taken (one statement for the sequence, one for the number):

- **Gap-free series (invoices, journal entries), and every series on SQLite**: one
  `UPDATE core_sequencecounter SET last_number = last_number + n … RETURNING last_number` on
  the year's counter row, which row-locks it until the surrounding transaction ends, so
  concurrent callers queue, never get the same number, and a rolled-back document gives its
  number back. Gap-free series must be numbered inside the transaction that saves the document.
  SQLite has one writer at a time anyway (its immediate transactions).
- **Standard series on PostgreSQL**: `nextval` of a database SEQUENCE per series and year
  (`xt_seq_<sequence id>_<year>`), created on first use to continue after the counter's
  `last_number`. `nextval` never waits for another transaction, so documents of the same series
  are numbered side by side instead of one after the other; in exchange a rolled-back document
  leaves a gap (allowed for standard series). The counter row then only records where the
  SEQUENCE started; `sequence_last_numbers` reads the numbers really handed out. A copy of
  the database must therefore carry the SEQUENCEs along (`pg_dump` does, `dumpdata` does not).
- **A series switched between the two**: the first gap-free number taken on PostgreSQL folds a
  SEQUENCE left from a standard period into the counter (after the transactions that took
  numbers from it have ended) and drops it; a later standard period starts a new SEQUENCE after
  the counter. Transactions numbering the series at the very moment it is switched may fail
  (and roll back) rather than receive a number twice.

Nothing about a series is cached between calls: its pattern and gap-free flag may change.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

from django.db import IntegrityError, ProgrammingError, connection, transaction
from django.utils.translation import gettext as _

from xietong.core.models import Company, Sequence, SequenceCounter

PATTERN_FIELDS = {"year", "yy", "month", "number"}
PG_SEQUENCE_PREFIX = "xt_seq_"


class NumberingError(ValueError):
    pass


def pattern_validate(pattern: str) -> None:
    """Raise NumberingError unless `pattern` uses only known fields and contains `{number…}`."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None}
        pattern.format(year=2026, yy="26", month="01", number=1)
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise NumberingError(_("The pattern is not valid: %(error)s") % {"error": exc}) from exc
    unknown = fields - PATTERN_FIELDS
    if unknown:
        raise NumberingError(
            _("Unknown field(s) in the pattern: %(fields)s")
            % {"fields": ", ".join(sorted(unknown))}
        )
    if "number" not in fields:
        raise NumberingError(_("The pattern must contain {number}."))


def sequence_ensure(
    *, company: Company, code: str, name: str, pattern: str, gap_free: bool = False
) -> Sequence:
    """Get the company's sequence `code`, creating it with the given pattern if it is missing
    (one query, no savepoint, when it exists)."""
    pattern_validate(pattern)
    try:
        return Sequence.unscoped.get(company_id=company.pk, code=code)
    except Sequence.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            sequence, _created = Sequence.unscoped.get_or_create(
                company=company,
                code=code,
                defaults={"name": name, "pattern": pattern, "gap_free": gap_free},
            )
    except IntegrityError:
        sequence = Sequence.unscoped.get(company=company, code=code)
    return sequence


def sequence_next(*, company: Company, code: str, date: dt.date) -> str:
    """The next number of sequence `code` for the year of `date`, formatted by its pattern.

    A gap-free series locks the year's counter row until the caller's transaction ends and must
    be called inside the transaction that saves the document; a standard series on PostgreSQL
    locks nothing (see the module docstring). Raises NumberingError when the company has no
    such sequence, or for a gap-free series outside a transaction.
    """
    return sequence_next_many(company=company, code=code, date=date, count=1)[0]


def sequence_next_many(*, company: Company, code: str, date: dt.date, count: int) -> list[str]:
    """The next `count` numbers of sequence `code` at once (one statement, for imports that
    number thousands of rows), in increasing order, formatted by its pattern; otherwise as
    `sequence_next`. The block is consecutive except for a standard series on PostgreSQL, where
    other transactions numbering at the same time may take numbers in between."""
    try:
        sequence_id, pattern, gap_free = Sequence.unscoped.values_list(
            "pk", "pattern", "gap_free"
        ).get(company_id=company.pk, code=code)
    except Sequence.DoesNotExist as exc:
        raise NumberingError(
            _("The company has no document sequence “%(code)s”.") % {"code": code}
        ) from exc
    if gap_free and not connection.in_atomic_block:
        raise NumberingError(
            _("A gap-free number must be taken inside the document's transaction.")
        )
    if count < 1:
        return []
    if connection.vendor == "postgresql" and not gap_free:
        numbers = _pg_sequence_take(sequence_id, date.year, count)
    else:
        last = _counter_take(sequence_id, date.year, count)
        numbers = list(range(last - count + 1, last + 1))
    yy, month = f"{date.year % 100:02d}", f"{date.month:02d}"
    return [pattern.format(year=date.year, yy=yy, month=month, number=n) for n in numbers]


def sequence_take(
    *, company: Company, code: str, date: dt.date, count: int, name: str, pattern: str
) -> list[str]:
    """`sequence_next_many`, the sequence made (`name`, `pattern`) on first use: what an app
    numbering its documents calls."""
    try:
        return sequence_next_many(company=company, code=code, date=date, count=count)
    except NumberingError:  # most likely no such sequence yet (else the same error again)
        sequence_ensure(company=company, code=code, name=name, pattern=pattern)
        return sequence_next_many(company=company, code=code, date=date, count=count)


def sequence_last_numbers(*, sequence: Sequence) -> list[tuple[int, int]]:
    """(year, last number handed out) of each year `sequence` has numbered, latest year first
    (on PostgreSQL a standard series' SEQUENCE counts, not only its counter row)."""
    rows = list(
        SequenceCounter.objects.filter(sequence=sequence)
        .order_by("-year")
        .values_list("year", "last_number")
    )
    if connection.vendor != "postgresql" or not rows:
        return rows
    names = [_pg_sequence_name(sequence.pk, year) for year, _last in rows]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_sequence_last_value(to_regclass(name)) "
            "FROM unnest(%s::text[]) WITH ORDINALITY AS t(name, position) ORDER BY position",
            [names],
        )
        taken = [value for (value,) in cursor.fetchall()]
    return [(year, max(last, value or 0)) for (year, last), value in zip(rows, taken, strict=True)]


# --- the counter row (gap-free series; every series on SQLite) --------------------------------


def _counter_sql(expression: str, returning: str = "") -> str:
    quote = connection.ops.quote_name
    table = quote(SequenceCounter._meta.db_table)
    last, sequence, year = quote("last_number"), quote("sequence_id"), quote("year")
    sql = f"UPDATE {table} SET {last} = {expression.format(last=last)} "  # noqa: S608
    sql += f"WHERE {sequence} = %s AND {year} = %s"
    if connection.features.can_return_columns_from_insert:  # SQLite ≥ 3.35, PostgreSQL
        sql += f" RETURNING {last}{returning}"
    return sql


def _counter_take(sequence_id: int, year: int, count: int) -> int:
    """Add `count` to the year's counter (creating it at 0 first if need be) and return its new
    value. The row stays locked until the caller's transaction ends."""
    folds = connection.vendor == "postgresql"
    update = _counter_sql("{last} + %s", ", to_regclass(%s) IS NOT NULL" if folds else "")
    name = _pg_sequence_name(sequence_id, year)
    params: list[Any] = [count, sequence_id, year, name] if folds else [count, sequence_id, year]
    with connection.cursor() as cursor:
        row = _counter_update(cursor, update, params, sequence_id, year)
        if row is None:
            _counter_create(sequence_id, year)
            row = _counter_update(cursor, update, params, sequence_id, year)
        if row is None:  # pragma: no cover - created just above; deleted by someone since?
            raise NumberingError(_("The document sequence's counter could not be created."))
        if folds and row[1]:
            return _pg_sequence_fold(cursor, sequence_id, year, count)
        return row[0]


def _counter_update(
    cursor: Any, update: str, params: list[Any], sequence_id: int, year: int
) -> tuple[Any, ...] | None:
    cursor.execute(update, params)
    if connection.features.can_return_columns_from_insert:
        return cursor.fetchone()
    if not cursor.rowcount:  # pragma: no cover - SQLite older than 3.35
        return None
    return (  # pragma: no cover
        SequenceCounter.objects.values_list("last_number", flat=True).get(
            sequence_id=sequence_id, year=year
        ),
    )


def _counter_create(sequence_id: int, year: int) -> None:
    """Create the year's counter at 0 unless it exists (a concurrent creator wins quietly:
    INSERT … ON CONFLICT DO NOTHING, no savepoint)."""
    SequenceCounter.objects.bulk_create(
        [SequenceCounter(sequence_id=sequence_id, year=year, last_number=0)],
        ignore_conflicts=True,
    )


# --- PostgreSQL SEQUENCEs (standard series) ---------------------------------------------------


def _pg_sequence_name(sequence_id: int, year: int) -> str:
    return f"{PG_SEQUENCE_PREFIX}{int(sequence_id)}_{int(year)}"


def _pg_sequence_take(sequence_id: int, year: int, count: int) -> list[int]:
    """`count` numbers from the series' SEQUENCE for `year`, created on first use."""
    name = _pg_sequence_name(sequence_id, year)
    take = "SELECT nextval(to_regclass(%s)) FROM generate_series(1, %s)"
    with connection.cursor() as cursor:
        cursor.execute(take, [name, count])
        numbers = [value for (value,) in cursor.fetchall()]
        if numbers[0] is None:  # no SEQUENCE yet (nextval of NULL is NULL, not an error)
            _pg_sequence_create(cursor, sequence_id, year)
            cursor.execute(take, [name, count])
            numbers = [value for (value,) in cursor.fetchall()]
    if numbers[0] is None:  # pragma: no cover - dropped again by a switch to gap-free
        raise NumberingError(_("The document sequence is being changed; try again."))
    return sorted(numbers)


def _pg_sequence_create(cursor: Any, sequence_id: int, year: int) -> None:
    """Create the series' SEQUENCE for `year`, continuing after the year's counter (which is
    created too, so that the year is listed). Creating it is part of the caller's transaction;
    a transaction creating it at the same time waits for this one and then finds it."""
    _counter_create(sequence_id, year)
    start = SequenceCounter.objects.values_list("last_number", flat=True).get(
        sequence_id=sequence_id, year=year
    )
    name = _pg_sequence_name(sequence_id, year)
    try:
        with transaction.atomic():
            cursor.execute(
                f"CREATE SEQUENCE IF NOT EXISTS {name} AS bigint START WITH {int(start) + 1}"
            )
    except (IntegrityError, ProgrammingError) as exc:
        # Another transaction created it at the same time and has committed: use that one.
        if getattr(exc.__cause__, "sqlstate", None) not in {"23505", "42P07"}:
            raise


def _pg_sequence_fold(cursor: Any, sequence_id: int, year: int, count: int) -> int:
    """The series was standard before: wait for the transactions that took numbers from its
    SEQUENCE, continue the counter after the last of them, drop the SEQUENCE (all in the
    caller's transaction). `count` numbers were already added to the counter; returns the
    counter's new value."""
    name = _pg_sequence_name(sequence_id, year)
    cursor.execute(f"ALTER SEQUENCE {name} NO CYCLE")  # the lock that waits for nextval callers
    cursor.execute(f"SELECT last_value, is_called FROM {name}")  # noqa: S608
    last_value, is_called = cursor.fetchone()
    taken = last_value if is_called else last_value - 1
    cursor.execute(_counter_sql("GREATEST({last}, %s)"), [taken + count, sequence_id, year])
    (last,) = cursor.fetchone()
    cursor.execute(f"DROP SEQUENCE {name}")
    return last
