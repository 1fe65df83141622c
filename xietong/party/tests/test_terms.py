"""Payment schedules: due dates, amounts that add up exactly, early-payment discounts."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xietong.core.money import Money
from xietong.party import services
from xietong.party.selectors import payment_schedule
from xietong.party.terms import lines_text, schedule_from_lines

INVOICE_DATE = dt.date(2026, 1, 31)


@pytest.mark.django_db
def test_schedule_of_a_saved_term(company_a):
    term = services.payment_term_create(
        company=company_a,
        actor=None,
        name="30/70",
        lines=[{"percent": 30, "days": 0}, {"percent": 70, "days": 60}],
    )
    schedule = payment_schedule(term=term, invoice_date=INVOICE_DATE, total=Money("1000.01", "CNY"))
    assert [(i.due_date, i.amount) for i in schedule] == [
        (dt.date(2026, 1, 31), Money("300.00", "CNY")),
        (dt.date(2026, 4, 1), Money("700.01", "CNY")),
    ]
    assert (
        payment_schedule(term=None, invoice_date=INVOICE_DATE, total=Money(5, "USD"))[0].due_date
        == INVOICE_DATE
    )


def test_early_payment_discount():
    (line,) = schedule_from_lines(
        [{"percent": 100, "days": 30, "discount_percent": 2, "discount_days": 10}],
        invoice_date=INVOICE_DATE,
        total=Money("1234.56", "EUR"),
    )
    assert line.due_date == dt.date(2026, 3, 2)
    assert line.discount_date == dt.date(2026, 2, 10)
    assert line.discount == Money("24.69", "EUR")
    assert line.amount_if_early == Money("1209.87", "EUR")
    assert lines_text(
        [{"percent": 100, "days": 30, "discount_percent": 2, "discount_days": 10}]
    ) == ("100% at 30 days (2% within 10 days)")


def test_currency_without_minor_units():
    parts = schedule_from_lines(
        [{"percent": Decimal("33.333"), "days": 0}] * 2
        + [{"percent": Decimal("33.334"), "days": 0}],
        invoice_date=INVOICE_DATE,
        total=Money(1000, "JPY"),
    )
    assert sum((p.amount for p in parts), Money.zero("JPY")) == Money(1000, "JPY")
    assert all(p.amount.amount == p.amount.amount.to_integral() for p in parts)


@given(
    shares=st.lists(st.integers(min_value=1, max_value=50), min_size=1, max_size=6),
    cents=st.integers(min_value=0, max_value=10**12),
)
def test_installments_always_add_up_to_the_total(shares, cents):
    total = Money(Decimal(cents) / 100, "CNY")
    lines = [{"percent": Decimal(s), "days": i * 30} for i, s in enumerate(shares)]
    parts = schedule_from_lines(lines, invoice_date=INVOICE_DATE, total=total)
    assert sum((p.amount for p in parts), Money.zero("CNY")) == total.rounded()
    assert [p.due_date for p in parts] == sorted(p.due_date for p in parts)
