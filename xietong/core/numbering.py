"""Document numbering: per-company, per-year sequences with a pattern such as `SO{year}-{number:06d}`.

Every number comes from one `UPDATE … SET last_number = last_number + 1` on the year's counter,
which row-locks it until the surrounding transaction ends, so concurrent callers queue and never
get the same number; SQLite serialises writers through its immediate transactions. Gap-free
series (invoices) must be numbered inside the transaction that saves the document, so a
rolled-back document gives its number back; standard series may also be numbered on their own.
"""

from __future__ import annotations

import datetime as dt
import string

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils.translation import gettext as _

from xietong.core.models import Company, Sequence, SequenceCounter

PATTERN_FIELDS = {"year", "yy", "month", "number"}


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
    """Get the company's sequence `code`, creating it with the given pattern if it is missing."""
    pattern_validate(pattern)
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


def _counter(sequence: Sequence, year: int) -> SequenceCounter:
    try:
        with transaction.atomic():
            counter, _created = SequenceCounter.objects.get_or_create(sequence=sequence, year=year)
    except IntegrityError:  # another transaction created it first
        counter = SequenceCounter.objects.get(sequence=sequence, year=year)
    return counter


def sequence_next(*, company: Company, code: str, date: dt.date) -> str:
    """The next number of sequence `code` for the year of `date`, formatted by its pattern.

    Locks the year's counter row until the caller's transaction ends (gap-free series must be
    called inside the transaction that saves the document). Raises NumberingError when the
    company has no such sequence.
    """
    return sequence_next_many(company=company, code=code, date=date, count=1)[0]


def sequence_next_many(*, company: Company, code: str, date: dt.date, count: int) -> list[str]:
    """The next `count` numbers of sequence `code` at once (one counter update, for imports
    that number thousands of rows), formatted by its pattern; otherwise as `sequence_next`."""
    try:
        sequence = Sequence.unscoped.get(company=company, code=code)
    except Sequence.DoesNotExist as exc:
        raise NumberingError(
            _("The company has no document sequence “%(code)s”.") % {"code": code}
        ) from exc
    if sequence.gap_free and not transaction.get_connection().in_atomic_block:
        raise NumberingError(
            _("A gap-free number must be taken inside the document's transaction.")
        )
    counter = _counter(sequence, date.year)
    with transaction.atomic():
        SequenceCounter.objects.filter(pk=counter.pk).update(last_number=F("last_number") + count)
        last = SequenceCounter.objects.values_list("last_number", flat=True).get(pk=counter.pk)
    return [
        sequence.pattern.format(
            year=date.year, yy=f"{date.year % 100:02d}", month=f"{date.month:02d}", number=number
        )
        for number in range(last - count + 1, last + 1)
    ]
