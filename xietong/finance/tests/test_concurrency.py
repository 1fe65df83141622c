"""Concurrent postings into one journal: gap-free numbers, an unbroken hash chain, and failed
postings that give nothing back but their number."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection, connections

from xietong.finance.chain import chain_verify
from xietong.finance.models import Entry
from xietong.finance.posting import EntrySpec, LineSpec, PostingError, entry_post
from xietong.finance.tests.factories import books
from xietong.finance.tests.invariants import assert_ledger_sound

THREADS = 6
PER_THREAD = 15


def _post_many(b, worker: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    posted = refused = 0
    try:
        for n in range(PER_THREAD):
            amount = Decimal(worker * 100 + n + 1)
            # every fifth attempt is unbalanced and must be refused without using a number
            credit = amount + 1 if n % 5 == 4 else amount
            try:
                entry_post(
                    company=b.company,
                    spec=EntrySpec(
                        journal=b.general,
                        date=dt.date(2026, 4, 1),
                        lines=[
                            LineSpec(account=b.bank, debit=amount),
                            LineSpec(account=b.capital, credit=credit),
                        ],
                    ),
                )
                posted += 1
            except PostingError:
                refused += 1
    finally:
        connection.close()
    return posted, refused


def _run(company) -> None:  # type: ignore[no-untyped-def]
    b = books(company)
    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(lambda w: _post_many(b, w), range(THREADS)))
    posted = sum(p for p, _ in results)
    assert sum(r for _, r in results) == THREADS * (PER_THREAD // 5)
    entries = Entry.unscoped.filter(journal=b.general).order_by("chain_index")
    numbers = [int(e.number.rsplit("/", 1)[1]) for e in entries]
    assert sorted(numbers) == list(range(1, posted + 1))  # no gap, no duplicate
    assert [e.chain_index for e in entries] == list(range(1, posted + 1))
    assert list(chain_verify(company=company)) == []
    assert_ledger_sound([company])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_postings_on_postgresql(company_a) -> None:  # type: ignore[no-untyped-def]
    _run(company_a)


@pytest.mark.django_db(transaction=True)
def test_concurrent_postings_serialise_on_sqlite(company_a) -> None:  # type: ignore[no-untyped-def]
    if connections["default"].vendor != "sqlite":
        pytest.skip("the SQLite variant; PostgreSQL runs the test marked postgres")
    _run(company_a)
