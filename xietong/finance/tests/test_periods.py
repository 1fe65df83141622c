"""Fiscal years and periods: creation on demand, closing, year-end closing, revaluation."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from xietong.core.models import ExchangeRate
from xietong.core.tenancy import company_scope
from xietong.finance.models import Entry, FiscalYear, Line, Period
from xietong.finance.periods import (
    currency_revaluate,
    fiscal_year_close,
    fiscal_year_create,
    period_close,
    period_for,
)
from xietong.finance.posting import EntrySpec, LineSpec, PostingError, entry_create
from xietong.finance.reconcile import residuals
from xietong.finance.tests.factories import D, books, post
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.party.services import party_create


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return books(company_a)


def _balance(account, **filters) -> D:  # type: ignore[no-untyped-def]
    totals = Line.unscoped.filter(account=account, entry__state="posted", **filters).aggregate(
        d=Sum("debit"), c=Sum("credit")
    )
    return (totals["d"] or D(0)) - (totals["c"] or D(0))


def test_fiscal_year_follows_the_company_start_and_has_twelve_months(company_a):  # type: ignore[no-untyped-def]
    company_a.fiscal_year_start_month = 4
    company_a.save()
    period = period_for(company=company_a, date=dt.date(2026, 2, 14))
    year = period.fiscal_year
    assert (year.start, year.end, year.name) == (
        dt.date(2025, 4, 1),
        dt.date(2026, 3, 31),
        "2025/2026",
    )
    assert period.name == "2026-02"
    assert [(p.start, p.end) for p in year.periods.order_by("start")][:2] == [
        (dt.date(2025, 4, 1), dt.date(2025, 4, 30)),
        (dt.date(2025, 5, 1), dt.date(2025, 5, 31)),
    ]
    assert year.periods.count() == 12
    with pytest.raises(ValidationError):  # overlaps the year just made
        fiscal_year_create(company=company_a, start=dt.date(2025, 10, 1))


def test_period_close_is_refused_while_drafts_wait(b):  # type: ignore[no-untyped-def]
    entry_create(
        company=b.company,
        spec=EntrySpec(
            journal=b.general,
            date=dt.date(2026, 5, 3),
            lines=[LineSpec(account=b.bank, debit=D(1)), LineSpec(account=b.capital, credit=D(1))],
        ),
    )
    period = period_for(company=b.company, date=dt.date(2026, 5, 1))
    with pytest.raises(ValidationError) as info:
        period_close(period=period)
    assert "draft" in info.value.messages[0]
    assert Period.unscoped.get(pk=period.pk).state == Period.State.OPEN


def test_year_end_moves_profit_to_retained_earnings(b, admin_a):  # type: ignore[no-untyped-def]
    post(b, (b.bank, "1000", 0), (b.capital, 0, "1000"), date=dt.date(2026, 1, 5))
    post(b, (b.bank, "800", 0), (b.income, 0, "800"), date=dt.date(2026, 3, 5))
    post(b, (b.expense, "300", 0), (b.bank, 0, "300"), date=dt.date(2026, 6, 5))
    post(b, (b.cogs, "120", 0), (b.stock, 0, "120"), date=dt.date(2026, 12, 30))
    period_close(period=period_for(company=b.company, date=dt.date(2026, 1, 1)))
    year = FiscalYear.unscoped.get(company=b.company, start=dt.date(2026, 1, 1))
    year = fiscal_year_close(fiscal_year=year, actor=admin_a)
    assert year.state == FiscalYear.State.CLOSED
    assert year.closing_entry.closing and year.closing_entry.date == dt.date(2026, 12, 31)
    assert not year.periods.filter(state=Period.State.OPEN).exists()
    assert _balance(b.retained) == D("-380")  # profit 800 − 300 − 120, a credit
    for account in (b.income, b.expense, b.cogs):
        assert _balance(account) == 0
    assert _balance(b.bank) == D("1500")  # balance-sheet accounts are untouched
    with pytest.raises(PostingError) as info:
        post(b, (b.bank, "1", 0), (b.capital, 0, "1"), date=dt.date(2026, 8, 1))
    assert info.value.code == "closed_period"
    with pytest.raises(ValidationError):
        fiscal_year_close(fiscal_year=year, actor=admin_a)
    assert_ledger_sound([b.company])


def test_year_end_needs_its_last_period_open(b):  # type: ignore[no-untyped-def]
    post(b, (b.bank, "10", 0), (b.income, 0, "10"), date=dt.date(2026, 2, 1))
    period_close(period=period_for(company=b.company, date=dt.date(2026, 12, 1)))
    year = FiscalYear.unscoped.get(company=b.company, start=dt.date(2026, 1, 1))
    with pytest.raises(ValidationError) as info:
        fiscal_year_close(fiscal_year=year)
    assert info.value.code == "last_period_closed"
    assert not Entry.unscoped.filter(closing=True).exists()


def test_revaluation_books_unrealised_differences_and_reverses_them(b, company_a):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        customer = party_create(company=company_a, actor=None, name="Export GmbH", is_customer=True)
    for day, rate in ((dt.date(2026, 3, 1), "7.10"), (dt.date(2026, 3, 31), "7.30")):
        ExchangeRate.unscoped.create(company=company_a, currency_id="USD", date=day, rate=D(rate))
    usd = {"currency": "USD"}
    invoice = post(
        b, (b.receivable, "1000", 0, {**usd, "party": customer}), (b.income, 0, "1000", usd),
        date=dt.date(2026, 3, 10), journal=b.sales,
    )  # fmt: skip
    post(b, (b.bank_usd, "500", 0, usd), (b.capital, 0, "500", usd), date=dt.date(2026, 3, 12))
    entry = currency_revaluate(company=company_a, date=dt.date(2026, 3, 31))
    lines = {line.account_id: line for line in entry.lines.all()}
    assert lines[b.receivable.pk].debit == D("200.00")  # 1,000 USD × (7.30 − 7.10)
    assert lines[b.bank_usd.pk].debit == D("100.00")  # 500 USD × 0.20
    assert lines[b.fx.pk].credit == D("300.00")
    reversal = Entry.unscoped.get(reversal_of=entry)
    assert reversal.date == dt.date(2026, 4, 1)
    # the invoice's own receivable line is untouched and still open for its full amount
    receivable = invoice.lines.get(account=b.receivable)
    assert residuals([receivable.pk])[receivable.pk].amount_currency == D("1000")
    assert _balance(b.receivable, date__lte=dt.date(2026, 3, 31)) == D("7300")
    assert _balance(b.receivable) == D("7100")  # after the reversal on 1 April
    assert_ledger_sound([company_a])


def test_nothing_to_revalue_posts_nothing(b):  # type: ignore[no-untyped-def]
    post(b, (b.bank, "10", 0), (b.capital, 0, "10"))
    assert currency_revaluate(company=b.company, date=dt.date(2026, 3, 31)) is None
