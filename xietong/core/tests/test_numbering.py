"""Document numbering: patterns, per-year and per-company counters, gap-free series, races."""

from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from xietong.core.models import Sequence, SequenceCounter
from xietong.core.numbering import (
    NumberingError,
    pattern_validate,
    sequence_ensure,
    sequence_last_numbers,
    sequence_next,
    sequence_next_many,
)

DAY = dt.date(2026, 3, 15)


class Rollback(Exception):
    """Raised inside a test transaction to roll it back on purpose."""


def number_of(document_number: str) -> int:
    return int(document_number.rsplit("-", 1)[1])


# --- patterns -------------------------------------------------------------------------------------


def test_standard_pattern_formats_year_and_zero_padded_number(company_a) -> None:
    assert sequence_next(company=company_a, code="sales.order", date=DAY) == "SO2026-000001"
    assert sequence_next(company=company_a, code="sales.order", date=DAY) == "SO2026-000002"
    assert sequence_next(company=company_a, code="sales.quotation", date=DAY) == "SQ2026-000001"


def test_pattern_fields_yy_and_month(company_a) -> None:
    sequence_ensure(
        company=company_a, code="test.monthly", name="Monthly", pattern="M{yy}{month}/{number:04d}"
    )
    assert sequence_next(company=company_a, code="test.monthly", date=dt.date(2026, 3, 1)) == (
        "M2603/0001"
    )
    # The counter runs per year, not per month.
    assert sequence_next(company=company_a, code="test.monthly", date=dt.date(2026, 11, 30)) == (
        "M2611/0002"
    )
    assert sequence_next(company=company_a, code="test.monthly", date=dt.date(2009, 1, 1)) == (
        "M0901/0001"
    )


def test_number_wider_than_the_padding_is_not_truncated(company_a) -> None:
    sequence_ensure(company=company_a, code="test.short", name="Short", pattern="S{number:02d}")
    numbers = [sequence_next(company=company_a, code="test.short", date=DAY) for _ in range(100)]
    assert numbers[0] == "S01"
    assert numbers[-1] == "S100"


def test_a_block_of_numbers_continues_the_series_without_gaps(company_a) -> None:
    sequence_ensure(company=company_a, code="test.block", name="Block", pattern="B{number:03d}")
    assert sequence_next(company=company_a, code="test.block", date=DAY) == "B001"
    block = sequence_next_many(company=company_a, code="test.block", date=DAY, count=4)
    assert block == ["B002", "B003", "B004", "B005"]
    assert sequence_next(company=company_a, code="test.block", date=DAY) == "B006"


@pytest.mark.parametrize(
    "pattern",
    [
        "SO{year}",  # no number
        "SO{year}-{nummer}",  # unknown field
        "SO{year}-{number}-{day}",  # unknown field next to a good one
        "SO{year}-{number",  # unbalanced brace
        "SO{year}-{number:xyz}",  # bad format spec
        "SO{year}-{number!z}",  # bad conversion
        "SO{0}-{number}",  # positional field
        "SO{}-{number}",  # automatic positional field
        "SO{number[0]}",  # indexing an int
        "SO{year.real}-{number}",  # attribute access
        "SO{year.nope}-{number}",  # attribute that does not exist
        "SO{yy:d}-{number}",  # yy is text
    ],
)
def test_invalid_patterns_raise_numbering_error(pattern: str) -> None:
    with pytest.raises(NumberingError):
        pattern_validate(pattern)


@pytest.mark.parametrize(
    "pattern", ["{number}", "SO{year}-{number:06d}", "{yy}{month}{number:05d}", "{{x}}{number}"]
)
def test_valid_patterns_pass(pattern: str) -> None:
    pattern_validate(pattern)


def test_sequence_ensure_refuses_an_invalid_pattern_and_creates_nothing(company_a) -> None:
    with pytest.raises(NumberingError):
        sequence_ensure(company=company_a, code="test.bad", name="Bad", pattern="{year}")
    with pytest.raises(NumberingError):
        sequence_next(company=company_a, code="test.bad", date=DAY)


def test_sequence_ensure_keeps_an_existing_sequence(company_a) -> None:
    first = sequence_ensure(company=company_a, code="test.x", name="X", pattern="X{number}")
    again = sequence_ensure(company=company_a, code="test.x", name="Y", pattern="Y{number}")
    assert again.pk == first.pk
    assert again.pattern == "X{number}"


def test_unknown_sequence_code_raises(company_a) -> None:
    with pytest.raises(NumberingError):
        sequence_next(company=company_a, code="no.such.series", date=DAY)


# --- counters -------------------------------------------------------------------------------------


def test_counter_restarts_every_year(company_a) -> None:
    def take(day: dt.date) -> str:
        return sequence_next(company=company_a, code="sales.order", date=day)

    assert take(dt.date(2026, 1, 1)) == "SO2026-000001"
    assert take(dt.date(2026, 12, 31)) == "SO2026-000002"
    assert take(dt.date(2027, 1, 1)) == "SO2027-000001"
    # A late 2026 document continues 2026's series.
    assert take(dt.date(2026, 6, 30)) == "SO2026-000003"
    assert take(dt.date(2027, 2, 1)) == "SO2027-000002"
    assert SequenceCounter.objects.filter(sequence__company=company_a).count() == 2


def test_companies_number_independently(company_a, company_b) -> None:
    assert sequence_next(company=company_a, code="sales.order", date=DAY) == "SO2026-000001"
    assert sequence_next(company=company_a, code="sales.order", date=DAY) == "SO2026-000002"
    assert sequence_next(company=company_b, code="sales.order", date=DAY) == "SO2026-000001"
    assert sequence_next(company=company_a, code="sales.order", date=DAY) == "SO2026-000003"


def test_a_company_sequence_is_not_visible_to_another(company_a, company_b) -> None:
    sequence_ensure(company=company_a, code="test.only_a", name="A only", pattern="A{number}")
    with pytest.raises(NumberingError):
        sequence_next(company=company_b, code="test.only_a", date=DAY)


# --- gap-free series ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_gap_free_number_outside_a_transaction_is_refused(company_a) -> None:
    with pytest.raises(NumberingError):
        sequence_next(company=company_a, code="finance.invoice", date=DAY)
    # Nothing was consumed: the first number taken properly is still 1.
    with transaction.atomic():
        assert sequence_next(company=company_a, code="finance.invoice", date=DAY) == (
            "INV2026-000001"
        )


@pytest.mark.django_db(transaction=True)
def test_standard_series_may_be_numbered_outside_a_transaction(company_a) -> None:
    assert sequence_next(company=company_a, code="sales.order", date=DAY) == "SO2026-000001"
    assert sequence_next(company=company_a, code="sales.order", date=DAY) == "SO2026-000002"


@pytest.mark.django_db(transaction=True)
def test_rolled_back_transaction_gives_its_gap_free_number_back(company_a) -> None:
    with pytest.raises(Rollback), transaction.atomic():
        assert sequence_next(company=company_a, code="finance.invoice", date=DAY) == (
            "INV2026-000001"
        )
        raise Rollback
    with transaction.atomic():
        assert sequence_next(company=company_a, code="finance.invoice", date=DAY) == (
            "INV2026-000001"
        )
    with pytest.raises(Rollback), transaction.atomic():
        assert sequence_next(company=company_a, code="finance.invoice", date=DAY) == (
            "INV2026-000002"
        )
        raise Rollback
    with transaction.atomic():
        assert sequence_next(company=company_a, code="finance.invoice", date=DAY) == (
            "INV2026-000002"
        )


def test_rolled_back_savepoint_gives_its_number_back(company_a) -> None:
    with transaction.atomic():
        first = sequence_next(company=company_a, code="finance.invoice", date=DAY)
        with pytest.raises(Rollback), transaction.atomic():
            sequence_next(company=company_a, code="finance.invoice", date=DAY)
            raise Rollback
        second = sequence_next(company=company_a, code="finance.invoice", date=DAY)
    assert (first, second) == ("INV2026-000001", "INV2026-000002")


# --- concurrency ----------------------------------------------------------------------------------

THREADS = 8
PER_THREAD = 25


def _take_numbers_concurrently(
    company, code: str, *, rollback_every: int = 0
) -> tuple[list[str], int]:
    """Run THREADS threads, each taking PER_THREAD numbers, one transaction per number.

    With `rollback_every`, each thread rolls back every n-th of its transactions after taking
    a number. Returns the committed numbers and the number of rolled-back attempts.
    """
    start = threading.Barrier(THREADS, timeout=60)

    def worker() -> tuple[list[str], int]:
        committed: list[str] = []
        rolled_back = 0
        try:
            start.wait()
            for i in range(1, PER_THREAD + 1):
                try:
                    with transaction.atomic():
                        number = sequence_next(company=company, code=code, date=DAY)
                        if rollback_every and i % rollback_every == 0:
                            raise Rollback
                except Rollback:
                    rolled_back += 1
                else:
                    committed.append(number)
        finally:
            connections.close_all()
        return committed, rolled_back

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        futures = [pool.submit(worker) for _ in range(THREADS)]
        results = [future.result(timeout=300) for future in futures]
    numbers = [number for committed, _ in results for number in committed]
    return numbers, sum(rolled_back for _, rolled_back in results)


def _assert_exactly_one_to(numbers: list[str], count: int) -> None:
    values = [number_of(n) for n in numbers]
    assert len(values) == len(set(values)), "duplicate numbers were handed out"
    assert sorted(values) == list(range(1, count + 1)), "numbers are missing (gaps)"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("code", ["finance.invoice", "sales.order"])
def test_numbering_under_8_concurrent_threads_on_postgresql(company_a, code: str) -> None:
    """No duplicate, no gap: 8 threads × 25 numbers give exactly 1..200."""
    numbers, _ = _take_numbers_concurrently(company_a, code)
    _assert_exactly_one_to(numbers, THREADS * PER_THREAD)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gap_free_numbering_with_rollbacks_under_8_threads_on_postgresql(company_a) -> None:
    """Rolled-back documents give their numbers back even while others are numbering."""
    numbers, rolled_back = _take_numbers_concurrently(
        company_a, "finance.invoice", rollback_every=4
    )
    assert rolled_back == THREADS * (PER_THREAD // 4)
    _assert_exactly_one_to(numbers, THREADS * PER_THREAD - rolled_back)


@pytest.mark.django_db(transaction=True)
def test_numbering_under_8_concurrent_threads_serialises_on_sqlite(company_a) -> None:
    """On SQLite the IMMEDIATE transactions queue the writers (30 s busy timeout)."""
    if connections["default"].vendor != "sqlite":
        pytest.skip("the SQLite variant; PostgreSQL runs the tests marked postgres")
    numbers, _ = _take_numbers_concurrently(company_a, "finance.invoice")
    _assert_exactly_one_to(numbers, THREADS * PER_THREAD)
    numbers, rolled_back = _take_numbers_concurrently(company_a, "finance.bill", rollback_every=4)
    _assert_exactly_one_to(numbers, THREADS * PER_THREAD - rolled_back)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("code", ["finance.invoice", "sales.order"])
def test_concurrent_numbers_are_unique_and_increasing(company_a, code: str) -> None:
    """Both databases: 4 threads × 10 numbers, each in its own transaction, some rolled back;
    no number twice, and each thread sees its numbers increase."""
    start = threading.Barrier(4, timeout=60)

    def worker() -> list[int]:
        taken: list[int] = []
        try:
            start.wait()
            for i in range(10):
                try:
                    with transaction.atomic():
                        taken.append(
                            number_of(sequence_next(company=company_a, code=code, date=DAY))
                        )
                        if i % 3 == 2:
                            raise Rollback
                except Rollback:
                    taken.pop()
        finally:
            connections.close_all()
        return taken

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = [f.result(timeout=300) for f in [pool.submit(worker) for _ in range(4)]]
    for taken in results:
        assert taken == sorted(taken) and len(taken) == len(set(taken))
    every = [n for taken in results for n in taken]
    assert len(every) == len(set(every)) == 4 * 7


# --- cost of a number -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["finance.invoice", "sales.order"])
def test_a_number_costs_two_statements_and_no_savepoint(company_a, code: str) -> None:
    """Once the year's counter (or SEQUENCE) exists: the sequence's row, then one UPDATE …
    RETURNING (or nextval)."""
    with transaction.atomic():
        sequence_next(company=company_a, code=code, date=DAY)
        with CaptureQueriesContext(connection) as queries:
            second = sequence_next(company=company_a, code=code, date=DAY)
            block = sequence_next_many(company=company_a, code=code, date=DAY, count=3)
    assert number_of(second) == 2 and [number_of(n) for n in block] == [3, 4, 5]
    statements = [q["sql"] for q in queries.captured_queries]
    assert len(statements) == 4, statements
    assert not any("SAVEPOINT" in sql.upper() for sql in statements)


def test_last_numbers_per_year_include_numbers_taken_from_a_database_sequence(company_a) -> None:
    sequence = Sequence.unscoped.get(company=company_a, code="sales.order")
    assert sequence_last_numbers(sequence=sequence) == []
    for _ in range(3):
        sequence_next(company=company_a, code="sales.order", date=DAY)
    sequence_next(company=company_a, code="sales.order", date=dt.date(2027, 1, 5))
    assert sequence_last_numbers(sequence=sequence) == [(2027, 1), (2026, 3)]


# --- switching a series between standard and gap-free ---------------------------------------------


def _set_gap_free(company, code: str, gap_free: bool) -> None:
    Sequence.unscoped.filter(company=company, code=code).update(gap_free=gap_free)


@pytest.mark.django_db(transaction=True)
def test_switching_a_series_between_standard_and_gap_free_continues_its_numbers(company_a):
    def take(count: int = 1) -> list[int]:
        with transaction.atomic():
            return [
                number_of(n)
                for n in sequence_next_many(
                    company=company_a, code="sales.order", date=DAY, count=count
                )
            ]

    assert take(2) == [1, 2]
    _set_gap_free(company_a, "sales.order", True)
    assert take() == [3]
    assert take(2) == [4, 5]
    _set_gap_free(company_a, "sales.order", False)
    assert take() == [6]
    assert take() == [7]
    _set_gap_free(company_a, "sales.order", True)
    assert take() == [8]
    sequence = Sequence.unscoped.get(company=company_a, code="sales.order")
    assert sequence_last_numbers(sequence=sequence) == [(2026, 8)]
    assert SequenceCounter.objects.get(sequence=sequence).last_number == 8


# --- standard series do not queue on PostgreSQL ---------------------------------------------------


def _second_transaction_numbers_while_the_first_is_open(company, code: str) -> str:
    """Take a number of `code` in a transaction held open by another thread, then take one in
    this thread's own transaction with a 2 s lock timeout. Returns this thread's number;
    raises OperationalError (lock timeout) if it had to wait for the first transaction."""
    taken, release = threading.Event(), threading.Event()

    def holder() -> str:
        try:
            with transaction.atomic():
                number = sequence_next(company=company, code=code, date=DAY)
                taken.set()
                assert release.wait(timeout=60)
            return number
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        first = pool.submit(holder)
        try:
            assert taken.wait(timeout=60)
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                return sequence_next(company=company, code=code, date=DAY)
        finally:
            release.set()
            first.result(timeout=60)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_standard_numbers_do_not_wait_for_open_transactions_on_postgresql(company_a) -> None:
    sequence_next(company=company_a, code="sales.order", date=DAY)  # the SEQUENCE exists
    second = _second_transaction_numbers_while_the_first_is_open(company_a, "sales.order")
    assert second == "SO2026-000003"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_gap_free_numbers_still_wait_for_open_transactions_on_postgresql(company_a) -> None:
    with transaction.atomic():
        sequence_next(company=company_a, code="finance.invoice", date=DAY)  # the counter exists
    with pytest.raises(OperationalError):
        _second_transaction_numbers_while_the_first_is_open(company_a, "finance.invoice")
    with transaction.atomic():
        assert sequence_next(company=company_a, code="finance.invoice", date=DAY) == (
            "INV2026-000003"
        )
