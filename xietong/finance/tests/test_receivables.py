"""Receivables: aging (buckets, totals against the ledger, as of past dates), customer
statements and dunning letters (levels escalating, idempotent runs), with their PDFs."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from xietong.core.tenancy import company_scope
from xietong.finance.models import Dunning, DunningLevel, Invoice, Line
from xietong.finance.payments import payment_allocate
from xietong.finance.receivables import (
    aging,
    customer_statement,
    customer_statement_pdf,
    dunning_letter_lines,
    dunning_pdf,
    dunning_run,
)
from xietong.finance.tests.factories import D, books
from xietong.finance.tests.test_payments import fresh, make_invoice, make_party, pay
from xietong.party.models import TimelineEntry
from xietong.party.services import payment_term_create

JUNE_30 = dt.date(2026, 6, 30)


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return books(company_a)


def ledger_balance(account, as_of):  # type: ignore[no-untyped-def]
    totals = Line.unscoped.filter(account=account, date__lte=as_of).aggregate(
        d=Sum("debit"), c=Sum("credit")
    )
    return (totals["d"] or 0) - (totals["c"] or 0)


def pdf_text(data: bytes, tmp_path) -> str | None:  # type: ignore[no-untyped-def]
    assert data.startswith(b"%PDF")
    if not shutil.which("pdftotext"):
        return None
    path = tmp_path / "out.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


@pytest.fixture
def ledger(b, company_a):  # type: ignore[no-untyped-def]
    """Acme: invoices 10, 46, 71 and 121 days past due on 30 June, one not due (net 30), a
    payment on account of 50 and a payment of the oldest dated after 30 June; Globex: one
    invoice 29 days past due, partly paid; a supplier bill."""
    with company_scope(company_a):
        net30 = payment_term_create(
            company=company_a, actor=None, name="Net 30", lines=[{"percent": 100, "days": 30}]
        )
    b.acme = make_party(company_a, "上海骑行者贸易有限公司", language="zh-hans")
    b.globex = make_party(company_a, "Globex")
    b.oldest = make_invoice(b, b.acme, "1000.00", date=dt.date(2026, 3, 1))
    b.i71 = make_invoice(b, b.acme, "700.00", date=dt.date(2026, 4, 20))
    b.i46 = make_invoice(b, b.acme, "460.00", date=dt.date(2026, 5, 15))
    b.i10 = make_invoice(b, b.acme, "100.00", date=dt.date(2026, 6, 20))
    b.not_due = make_invoice(b, b.acme, "300.00", date=dt.date(2026, 6, 25), term=net30)
    b.on_account = pay(b, b.acme, "50.00", date=dt.date(2026, 6, 28))
    b.late = pay(b, b.acme, "1000.00", date=dt.date(2026, 7, 5), allocations=[b.oldest])
    b.globex_invoice = make_invoice(b, b.globex, "500.00", date=dt.date(2026, 6, 1))
    pay(b, b.globex, "200.00", date=dt.date(2026, 6, 10), allocations=[b.globex_invoice])
    supplier = make_party(company_a, "Initech", supplier=True)
    b.bill = make_invoice(b, supplier, "250.00", date=dt.date(2026, 6, 15),
                          kind=Invoice.Kind.SUPPLIER_INVOICE)  # fmt: skip
    return b


def test_aging_buckets_and_totals_match_the_ledger(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    report = aging(company=b.company, as_of=JUNE_30)
    assert report.columns == ["Not due", "1–30", "31–60", "61–90", "Over 90"]
    rows = {row.party.name: (row.amounts, row.total) for row in report.rows}
    # the payment dated 5 July does not count on 30 June: the oldest invoice is still open
    assert rows["上海骑行者贸易有限公司"] == (
        [D("300"), D("50"), D("460"), D("700"), D("1000")],  # 100 − 50 on account in 1–30
        D("2510"),
    )
    assert rows["Globex"] == ([0, D("300"), 0, 0, 0], D("300"))
    assert report.totals == [D("300"), D("350"), D("460"), D("700"), D("1000")]
    assert report.total == D("2810") == ledger_balance(b.receivable, JUNE_30)

    later = aging(company=b.company, as_of=dt.date(2026, 7, 10))
    assert later.total == ledger_balance(b.receivable, dt.date(2026, 7, 10)) == D("1810")
    acme = next(row for row in later.rows if row.party == b.acme)
    assert acme.amounts[-1] == 0  # the oldest is paid by then

    payable = aging(company=b.company, kind="payable", as_of=JUNE_30, buckets=(15, 45))
    assert payable.columns == ["Not due", "1–15", "16–45", "Over 45"]
    assert [(row.party.name, row.amounts) for row in payable.rows] == [
        ("Initech", [0, D("250"), 0, 0])
    ]
    assert payable.total == -ledger_balance(b.payable, JUNE_30)
    with pytest.raises(ValidationError):
        aging(company=b.company, as_of=JUNE_30, buckets=(60, 30))
    with pytest.raises(ValidationError):
        aging(company=b.company, kind="stock", as_of=JUNE_30)


def test_aging_after_allocating_the_credit_still_matches(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    payment_allocate(payment=b.on_account, actor=None, invoices=[b.i10])
    report = aging(company=b.company, as_of=JUNE_30)
    acme = next(row for row in report.rows if row.party == b.acme)
    assert acme.amounts[:2] == [D("300"), D("50")]
    assert report.total == ledger_balance(b.receivable, JUNE_30)


def test_customer_statement_balances(ledger, tmp_path):  # type: ignore[no-untyped-def]
    b = ledger
    statement = customer_statement(
        company=b.company, party=b.acme, start=dt.date(2026, 6, 1), end=JUNE_30
    )
    assert statement.opening == D("2160")  # 1000 + 700 + 460
    assert [(r.document, r.debit, r.credit, r.balance) for r in statement.rows] == [
        (b.i10.number, D("100"), 0, D("2260")),
        (b.not_due.number, D("300"), 0, D("2560")),
        (b.on_account.number, 0, D("50"), D("2510")),
    ]
    assert statement.rows[0].description == "Customer invoice"
    assert statement.rows[1].due_date == dt.date(2026, 7, 25)
    assert statement.closing == D("2510")
    assert sum(item.residual for item in statement.open_items) == statement.closing
    items = {item.document: item for item in statement.open_items}
    assert items[b.oldest.number].days_overdue == 121
    assert items[b.not_due.number].days_overdue == 0
    assert statement.overdue == D("2210")  # all but the 300 not due

    july = customer_statement(
        company=b.company, party=b.acme, start=dt.date(2026, 7, 1), end=dt.date(2026, 7, 31)
    )
    assert july.opening == statement.closing
    assert [(r.document, r.credit) for r in july.rows] == [(b.late.number, D("1000"))]
    assert july.closing == D("1510")
    assert sum(item.residual for item in july.open_items) == D("1510")
    with pytest.raises(ValidationError):
        customer_statement(company=b.company, party=b.acme, start=JUNE_30, end=dt.date(2026, 6, 1))

    data = customer_statement_pdf(
        company=b.company, party=b.acme, start=dt.date(2026, 6, 1), end=JUNE_30
    )
    text = pdf_text(data, tmp_path)
    if text is not None:
        assert "上海骑行者贸易有限公司" in text
        assert "2,510.00" in text
        assert b.not_due.number in text


@pytest.fixture
def levels(b):  # type: ignore[no-untyped-def]
    for level, name, days, fee in (
        (1, "First reminder", 10, "0"),
        (2, "Second reminder", 30, "50.00"),
        (3, "Final notice", 60, "0"),
    ):
        DunningLevel.unscoped.create(
            company=b.company, level=level, name=name, days_overdue=days, fee=D(fee),
            letter=f"{name}: please pay." if level != 1 else "",
        )  # fmt: skip
    return b


def _run(b, day):  # type: ignore[no-untyped-def]
    return [(d.party.name, d.level.level, d.amount_due) for d in
            dunning_run(company=b.company, actor=None, date=day)]  # fmt: skip


def test_dunning_levels_escalate_and_runs_are_idempotent(levels, company_a, admin_a):  # type: ignore[no-untyped-def]
    b = levels
    acme = make_party(company_a, "上海骑行者贸易有限公司", language="zh-hans")
    paid = make_party(company_a, "Prompt Payer")
    first = make_invoice(b, acme, "1000.00", date=dt.date(2026, 3, 1))
    settled = make_invoice(b, paid, "80.00", date=dt.date(2026, 3, 1))
    pay(b, paid, "80.00", date=dt.date(2026, 3, 2), allocations=[settled])

    assert _run(b, dt.date(2026, 3, 5)) == []  # 4 days: below level 1
    assert _run(b, dt.date(2026, 3, 15)) == [("上海骑行者贸易有限公司", 1, D("1000"))]
    assert _run(b, dt.date(2026, 3, 15)) == []  # same date again: nothing new
    assert _run(b, dt.date(2026, 3, 25)) == []  # level 1 sent already
    assert _run(b, dt.date(2026, 4, 5)) == [("上海骑行者贸易有限公司", 2, D("1000"))]
    second = make_invoice(b, acme, "200.00", date=dt.date(2026, 4, 1))
    pay(b, acme, "300.00", date=dt.date(2026, 4, 10), allocations=[first])
    [dunning] = dunning_run(company=b.company, actor=admin_a, date=dt.date(2026, 5, 5))
    assert (dunning.level.level, dunning.amount_due, dunning.currency_id) == (3, D("900"), "CNY")
    assert set(dunning.invoices.all()) == {fresh(first), second}  # 65 and 34 days overdue
    assert dunning.created_by == admin_a
    assert _run(b, dt.date(2026, 5, 20)) == []
    assert Dunning.unscoped.filter(party=paid).count() == 0
    assert TimelineEntry.unscoped.filter(party=acme, kind="dunning").count() == 3

    lines = dunning_letter_lines(dunning=dunning)
    assert [(ln.invoice, ln.days_overdue, ln.amount) for ln in lines] == [
        (first, 65, D("700")),
        (second, 34, D("200")),
    ]


def test_dunning_pdf_renders_in_the_customers_language(levels, company_a, tmp_path):  # type: ignore[no-untyped-def]
    b = levels
    acme = make_party(company_a, "上海骑行者贸易有限公司", language="zh-hans")
    invoice = make_invoice(b, acme, "1234.50", date=dt.date(2026, 3, 1))
    [dunning] = dunning_run(company=b.company, actor=None, date=dt.date(2026, 4, 5))
    assert dunning.level.name == "Second reminder"
    text = pdf_text(dunning_pdf(dunning=dunning), tmp_path)
    if text is not None:
        assert "上海骑行者贸易有限公司" in text
        assert "Second reminder: please pay." in text
        assert invoice.number in text
        assert "1,234.50" in text
        assert "1,284.50" in text  # with the fee of 50
    first_level = DunningLevel.unscoped.get(company=b.company, level=1)
    dunning.level = first_level  # the default letter text when the level has none
    dunning.save()
    text = pdf_text(dunning_pdf(dunning=dunning, language="en"), tmp_path)
    if text is not None:
        assert "the invoices below are overdue" in text
