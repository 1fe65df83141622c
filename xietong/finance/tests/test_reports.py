"""Financial reports over two fiscal years (the first one closed) and their exports."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xietong.finance.models import (
    Account,
    AccountSubtype,
    AccountType,
    CashFlowSection,
    FiscalYear,
)
from xietong.finance.periods import fiscal_year_close, period_for
from xietong.finance.posting import EntrySpec, LineSpec, entry_create
from xietong.finance.reports import (
    balance_sheet,
    cash_flow,
    drilldown_lines,
    general_ledger,
    general_ledger_lines,
    profit_and_loss,
    trial_balance,
)
from xietong.finance.tests.factories import D, books, post

Y1 = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
Q1 = dt.date(2026, 1, 1), dt.date(2026, 3, 31)
Q1_PRIOR = dt.date(2025, 1, 1), dt.date(2025, 3, 31)


def _chart(company):  # type: ignore[no-untyped-def]
    """books() plus the accounts of a fixed asset, a loan and depreciation, cash-flow sections
    and three group accounts."""
    b = books(company)

    def account(code, name, type_, subtype="", cash_flow="", **kw):  # type: ignore[no-untyped-def]
        return Account.unscoped.create(
            company=company,
            code=code,
            name=name,
            type=type_,
            subtype=subtype,
            cash_flow=cash_flow,
            **kw,
        )

    b.fixed = account(
        "1601", "Equipment", AccountType.ASSET, AccountSubtype.FIXED_ASSET, "investing"
    )
    b.depreciation = account(
        "1602", "Accumulated depreciation", AccountType.ASSET, AccountSubtype.DEPRECIATION,
        "investing",
    )  # fmt: skip
    b.loan = account(
        "2501", "Bank loan", AccountType.LIABILITY, AccountSubtype.LONG_TERM_LIABILITY, "financing"
    )
    b.current = account("1100", "Current assets", AccountType.ASSET, is_group=True)
    b.taxes = account("2221", "Taxes", AccountType.LIABILITY, is_group=True)
    b.opex = account("6600", "Operating expenses", AccountType.EXPENSE, is_group=True)
    b.depreciation_expense = account(
        "660201", "Depreciation", AccountType.EXPENSE, AccountSubtype.NON_CASH_EXPENSE,
        parent=b.opex,
    )  # fmt: skip
    Account.unscoped.filter(pk__in=[b.receivable.pk, b.stock.pk]).update(parent=b.current)
    Account.unscoped.filter(pk__in=[b.vat_in.pk, b.vat_out.pk]).update(parent=b.taxes)
    Account.unscoped.filter(pk=b.expense.pk).update(parent=b.opex)
    sections = {
        CashFlowSection.CASH: [b.bank, b.cash],
        CashFlowSection.OPERATING: [b.receivable, b.stock, b.payable, b.vat_in, b.vat_out],
        CashFlowSection.FINANCING: [b.capital],
    }
    for section, accounts in sections.items():
        Account.unscoped.filter(pk__in=[a.pk for a in accounts]).update(cash_flow=section)
    return b


def _year_one(b):  # type: ignore[no-untyped-def]
    """2025: capital, a loan, equipment bought, stock bought on credit, a sale on credit with
    its cost, a collection, the supplier paid, a transfer to the till, depreciation."""
    post(b, (b.bank, "100000", 0), (b.capital, 0, "100000"), date=dt.date(2025, 1, 5))
    post(b, (b.bank, "50000", 0), (b.loan, 0, "50000"), date=dt.date(2025, 1, 10))
    post(b, (b.fixed, "36000", 0), (b.bank, 0, "36000"), date=dt.date(2025, 2, 1))
    post(
        b, (b.stock, "20000", 0), (b.vat_in, "2600", 0), (b.payable, 0, "22600"),
        date=dt.date(2025, 2, 15), journal=b.purchases,
    )  # fmt: skip
    post(
        b, (b.receivable, "33900", 0), (b.income, 0, "30000"), (b.vat_out, 0, "3900"),
        date=dt.date(2025, 3, 1), journal=b.sales,
    )  # fmt: skip
    post(b, (b.cogs, "15000", 0), (b.stock, 0, "15000"), date=dt.date(2025, 3, 1))
    post(b, (b.bank, "20000", 0), (b.receivable, 0, "20000"), date=dt.date(2025, 3, 20))
    post(b, (b.payable, "22600", 0), (b.bank, 0, "22600"), date=dt.date(2025, 4, 1))
    post(b, (b.cash, "5000", 0), (b.bank, 0, "5000"), date=dt.date(2025, 6, 30))
    post(
        b, (b.depreciation_expense, "6000", 0), (b.depreciation, 0, "6000"),
        date=dt.date(2025, 12, 31),
    )  # fmt: skip


def _year_two(b):  # type: ignore[no-untyped-def]
    """2026 Q1: a sale with its cost, a collection, part of the loan repaid, equipment sold at
    its carrying amount, depreciation; and a draft that must not count."""
    post(
        b, (b.receivable, "11300", 0), (b.income, 0, "10000"), (b.vat_out, 0, "1300"),
        date=dt.date(2026, 1, 15), journal=b.sales,
    )  # fmt: skip
    post(b, (b.cogs, "5000", 0), (b.stock, 0, "5000"), date=dt.date(2026, 1, 15))
    post(b, (b.bank, "13900", 0), (b.receivable, 0, "13900"), date=dt.date(2026, 2, 10))
    post(b, (b.loan, "10000", 0), (b.bank, 0, "10000"), date=dt.date(2026, 2, 28))
    post(
        b, (b.bank, "2000", 0), (b.depreciation, "1000", 0), (b.fixed, 0, "3000"),
        date=dt.date(2026, 3, 15),
    )  # fmt: skip
    post(
        b, (b.depreciation_expense, "1500", 0), (b.depreciation, 0, "1500"),
        date=dt.date(2026, 3, 31),
    )  # fmt: skip
    entry_create(
        company=b.company,
        spec=EntrySpec(
            journal=b.general,
            date=dt.date(2026, 3, 20),
            lines=[
                LineSpec(account=b.expense, debit=D("999")),
                LineSpec(account=b.bank, credit=D("999")),
            ],
        ),
    )


def _close(company, year):  # type: ignore[no-untyped-def]
    period_for(company=company, date=dt.date(year, 12, 31))
    fiscal = FiscalYear.unscoped.get(company=company, start=dt.date(year, 1, 1))
    return fiscal_year_close(fiscal_year=fiscal)


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return _chart(company_a)


@pytest.fixture
def ledger(b, company_b):  # type: ignore[no-untyped-def]
    """Both years posted, 2025 closed; company B has postings on the same days."""
    other = books(company_b)
    for day in (dt.date(2025, 3, 1), dt.date(2026, 2, 10)):
        post(other, (other.bank, "777", 0), (other.income, 0, "777"), date=day)
    _year_one(b)
    _close(b.company, 2025)
    _year_two(b)
    return b


def _figures(report, account):  # type: ignore[no-untyped-def]
    row = report.row_for(account)
    return None if row is None else (row.opening, row.debit, row.credit, row.closing)


# --- trial balance -----------------------------------------------------------------------------


def test_trial_balance_first_year_post_closing(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    report = trial_balance(company=b.company, start=Y1[0], end=Y1[1])
    assert report.balanced
    assert report.totals.debit == report.totals.credit
    assert _figures(report, b.bank) == (0, D("170000"), D("63600"), D("106400"))
    assert _figures(report, b.receivable) == (0, D("33900"), D("20000"), D("13900"))
    # the closing entry is included: income is back to zero, the profit is in retained earnings
    assert _figures(report, b.income) == (0, D("30000"), D("30000"), 0)
    assert _figures(report, b.retained) == (0, 0, D("9000"), D("-9000"))
    assert all(row.account_id is not None for row in report.rows)

    pre = trial_balance(company=b.company, start=Y1[0], end=Y1[1], include_closing=False)
    assert pre.balanced
    assert _figures(pre, b.income) == (0, 0, D("30000"), D("-30000"))
    assert pre.row_for(b.retained) is None


def test_trial_balance_second_year_opening_balances(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    report = trial_balance(company=b.company, start=Q1[0], end=Q1[1])
    assert report.balanced
    # balance-sheet accounts carry their balance over
    assert _figures(report, b.bank) == (D("106400"), D("15900"), D("10000"), D("112300"))
    assert _figures(report, b.retained) == (D("-9000"), 0, 0, D("-9000"))
    assert _figures(report, b.depreciation) == (D("-6000"), D("1000"), D("1500"), D("-6500"))
    # income and expenses start from zero in the new year
    assert _figures(report, b.income) == (0, 0, D("10000"), D("-10000"))
    assert _figures(report, b.cogs) == (0, D("5000"), 0, D("5000"))
    # the draft (999 on expense and bank) is left out
    assert report.row_for(b.expense) is None
    assert report.totals.debit == D("44700")

    # a mid-year start: income opens with what was posted since the start of the fiscal year
    march = trial_balance(company=b.company, start=dt.date(2026, 3, 1), end=Q1[1])
    assert _figures(march, b.income) == (D("-10000"), 0, 0, D("-10000"))
    assert _figures(march, b.bank) == (D("110300"), D("2000"), 0, D("112300"))
    assert march.balanced


def test_trial_balance_groups_and_comparative(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    report = trial_balance(
        company=b.company, start=Q1[0], end=Q1[1], groups=True, comparative=Q1_PRIOR
    )
    assert report.balanced
    group = next(r for r in report.rows if r.account_id == b.current.pk)
    assert group.is_group and group.level == 0
    children = [r for r in report.rows if r.account_id in (b.receivable.pk, b.stock.pk)]
    assert all(r.level == 1 for r in children)
    assert group.closing == sum(r.closing for r in children) == D("11300")
    assert group.opening == D("13900") + D("5000")
    # groups do not count twice in the totals
    assert report.totals.debit == D("44700")
    assert report.row_for(b.income).comparative.credit == D("30000")
    assert report.row_for(b.bank).comparative.closing == D("134000")
    assert report.comparative_totals.debit == report.comparative_totals.credit
    # a group appears before its children
    codes = [r.code for r in report.rows]
    assert codes.index("1100") < codes.index("1122") < codes.index("1405")


def test_unclosed_earlier_year_is_shown_on_its_own_line(b):  # type: ignore[no-untyped-def]
    _year_one(b)  # 2025 not closed
    post(b, (b.bank, "500", 0), (b.income, 0, "500"), date=dt.date(2026, 1, 20))
    report = trial_balance(company=b.company, start=Q1[0], end=Q1[1])
    assert report.balanced
    assert _figures(report, b.income) == (0, 0, D("500"), D("-500"))
    unclosed = next(r for r in report.rows if r.account_id is None)
    assert unclosed.opening == unclosed.closing == D("-9000")
    sheet = balance_sheet(company=b.company, as_of=Q1[1])
    assert sheet.balanced
    items = {str(r.label): r.amount for r in sheet.section("equity").rows if r.kind == "item"}
    assert items == {
        "Result of earlier years not yet closed": D("9000"),
        "Profit for the year": D("500"),
    }
    ledger = general_ledger(company=b.company, account=b.income, start=Q1[0], end=Q1[1])
    assert ledger.opening == 0 and ledger.closing == D("-500")


# --- general ledger and drill-down -------------------------------------------------------------


def test_general_ledger_running_balance_and_pages(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    gl = general_ledger(company=b.company, account=b.bank, start=Q1[0], end=Q1[1])
    assert (gl.opening, gl.debit, gl.credit, gl.closing) == (
        D("106400"), D("15900"), D("10000"), D("112300"),
    )  # fmt: skip
    assert gl.line_count == 3
    assert [(line.date.isoformat(), line.balance) for line in gl.lines] == [
        ("2026-02-10", D("120300")),
        ("2026-02-28", D("110300")),
        ("2026-03-15", D("112300")),
    ]
    assert gl.lines[0].number.startswith("GEN/2026/")
    assert gl.lines[0].journal == "GEN"
    page = general_ledger(
        company=b.company, account=b.bank, start=Q1[0], end=Q1[1], offset=1, limit=1
    )
    assert [line.balance for line in page.lines] == [D("110300")]
    assert page.has_more
    assert page.lines[0].entry_id == gl.lines[1].entry_id
    every = list(
        general_ledger_lines(company=b.company, account=b.bank, start=Q1[0], end=Q1[1], batch=2)
    )
    assert [line.balance for line in every] == [line.balance for line in gl.lines]
    # a group account's ledger covers its sub-accounts
    group = general_ledger(company=b.company, account=b.current, start=Q1[0], end=Q1[1])
    assert group.opening == D("18900") and group.closing == D("11300")


def test_drilldown_lines_add_up_to_the_figure(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    report = trial_balance(company=b.company, start=Q1[0], end=Q1[1])
    row = report.row_for(b.bank)
    lines = drilldown_lines(company=b.company, **row.drilldown.kwargs())
    assert sum(line.debit for line in lines) == row.debit
    assert sum(line.credit for line in lines) == row.credit
    pl = profit_and_loss(company=b.company, start=Y1[0], end=Y1[1])
    income = pl.section("income").row_for(b.income)
    lines = drilldown_lines(company=b.company, **income.drilldown.kwargs())
    assert sum(line.credit - line.debit for line in lines) == income.amount == D("30000")
    assert len(lines) == 1  # the closing entry is not behind a P&L figure
    sheet = balance_sheet(company=b.company, as_of=Q1[1])
    receivable = sheet.section("assets").row_for(b.receivable)
    lines = drilldown_lines(company=b.company, **receivable.drilldown.kwargs())
    assert sum(line.debit - line.credit for line in lines) == receivable.amount == D("11300")
    assert {line.entry_id for line in lines} and all(line.number for line in lines)


# --- statements --------------------------------------------------------------------------------


def test_balance_sheet_before_and_after_year_end_close(b):  # type: ignore[no-untyped-def]
    _year_one(b)
    before = balance_sheet(company=b.company, as_of=Y1[1])
    assert before.balanced
    assert before.total_assets == D("162900")
    assert before.total_liabilities == D("53900")
    equity = {str(r.label): r.amount for r in before.section("equity").rows}
    assert equity["Profit for the year"] == D("9000")
    assert before.section("equity").total == D("109000")
    _close(b.company, 2025)
    after = balance_sheet(company=b.company, as_of=Y1[1])
    assert after.balanced
    assert after.total_assets == D("162900")
    equity = {str(r.label): r.amount for r in after.section("equity").rows}
    assert equity["Retained earnings"] == D("9000")
    assert equity["Profit for the year"] == 0
    assert after.section("equity").total == D("109000")
    # the contra account shows as a negative asset, groups sum their children
    assert after.section("assets").row_for(b.depreciation).amount == D("-6000")
    group = next(r for r in after.section("assets").rows if r.account_id == b.current.pk)
    assert group.kind == "group" and group.amount == D("13900") + D("5000")
    taxes = next(r for r in after.section("liabilities").rows if r.account_id == b.taxes.pk)
    assert taxes.amount == D("3900")  # input VAT is an asset and appears under assets


def test_balance_sheet_comparative(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    sheet = balance_sheet(company=b.company, as_of=Q1[1], comparative_as_of=Y1[1])
    assert sheet.balanced
    assert sheet.section("assets").row_for(b.bank).amount == D("112300")
    assert sheet.section("assets").row_for(b.bank).comparative == D("106400")
    equity = {str(r.label): (r.amount, r.comparative) for r in sheet.section("equity").rows}
    assert equity["Profit for the year"] == (D("3500"), D("0"))
    assert equity["Retained earnings"] == (D("9000"), D("9000"))
    assert sheet.summary_row("liabilities_equity").amount == sheet.total_assets


def test_profit_and_loss_excludes_the_closing_entry(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    pl = profit_and_loss(company=b.company, start=Y1[0], end=Y1[1])
    assert pl.income == D("30000")
    assert pl.section("cost_of_sales").total == D("15000")
    assert pl.gross_profit == D("15000")
    assert pl.section("expenses").total == D("6000")
    assert pl.net_profit == D("9000")
    depreciation = pl.section("expenses").row_for(b.depreciation_expense)
    assert depreciation.level == 1
    assert next(r for r in pl.section("expenses").rows if r.kind == "group").code == "6600"
    # it is the same as the profit the closing entry moved
    assert (
        balance_sheet(company=b.company, as_of=Y1[1]).section("equity").row_for(b.retained).amount
        == pl.net_profit
    )


def test_profit_and_loss_comparative(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    pl = profit_and_loss(company=b.company, start=Q1[0], end=Q1[1], comparative=Q1_PRIOR)
    assert (pl.net_profit, pl.summary_row("net_profit").comparative) == (D("3500"), D("15000"))
    assert pl.summary_row("gross_profit").comparative == D("15000")
    income = pl.section("income").row_for(b.income)
    assert (income.amount, income.comparative) == (D("10000"), D("30000"))
    columns, rows = pl.table()
    assert [c.key for c in columns] == ["code", "label", "amount", "comparative"]
    labels = [str(r.cells[1]) for r in rows]
    assert labels.index("Gross profit") < labels.index("Expenses") < labels.index("Net profit")


def test_cash_flow_reconciles_to_the_cash_accounts(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    year = cash_flow(company=b.company, start=Y1[0], end=Y1[1])
    assert year.reconciles
    assert (year.cash_opening, year.cash_closing) == (0, D("111400"))
    operating = year.section("operating")
    items = {str(r.label): r.amount for r in operating.rows}
    assert items["Net profit"] == D("9000")
    assert items["Depreciation, amortisation and other non-cash expenses"] == D("6000")
    assert operating.row_for(b.receivable).amount == D("-13900")
    assert operating.row_for(b.stock).amount == D("-5000")
    taxes = next(r for r in operating.rows if r.account_id == b.taxes.pk)
    assert taxes.amount == D("1300")  # input and output VAT rolled up into their group
    assert operating.row_for(b.payable) is None  # bought and paid: no change
    assert operating.total == D("-2600")
    assert year.section("investing").total == D("-36000")
    assert year.section("financing").total == D("150000")
    assert year.net_change == D("111400")

    quarter = cash_flow(company=b.company, start=Q1[0], end=Q1[1])
    assert quarter.reconciles
    assert quarter.net_profit == D("3500")
    assert quarter.net_change == D("5900") == quarter.cash_closing - quarter.cash_opening
    operating = quarter.section("operating")
    items = {str(r.label): r.amount for r in operating.rows}
    assert items["Depreciation, amortisation and other non-cash expenses"] == D("1500")
    assert operating.total == D("13900")
    investing = quarter.section("investing")
    # the disposal: equipment +3000, its accumulated depreciation written off −1000
    assert investing.row_for(b.fixed).amount == D("3000")
    assert investing.row_for(b.depreciation).amount == D("-1000")
    assert quarter.section("financing").row_for(b.loan).amount == D("-10000")


def test_cash_flow_of_a_closed_year_ignores_the_closing_entry(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    report = cash_flow(company=b.company, start=dt.date(2025, 12, 1), end=dt.date(2025, 12, 31))
    assert report.reconciles
    assert report.net_change == 0
    assert report.net_profit == D("-6000")


# --- isolation and query counts ----------------------------------------------------------------


def test_company_isolation(ledger, company_b):  # type: ignore[no-untyped-def]
    b = ledger
    report = trial_balance(company=b.company, start=Y1[0], end=Q1[1])
    assert report.totals.debit == trial_balance(
        company=b.company, start=Y1[0], end=Y1[1]
    ).totals.debit + D("44700")
    other = trial_balance(company=company_b, start=Y1[0], end=Q1[1])
    assert {r.code for r in other.rows} == {"1002", "6001"}
    assert other.totals.debit == D("1554")
    assert profit_and_loss(company=company_b, start=Y1[0], end=Y1[1]).net_profit == D("777")
    foreign = Account.unscoped.get(company=company_b, code="1002")
    with pytest.raises(Account.DoesNotExist):
        drilldown_lines(company=b.company, account=foreign, start=None, end=Q1[1])
    with pytest.raises(Account.DoesNotExist):
        general_ledger(company=b.company, account=foreign, start=Q1[0], end=Q1[1])


def test_trial_balance_query_count_does_not_grow_with_accounts(b, django_assert_max_num_queries):  # type: ignore[no-untyped-def]
    _year_one(b)
    with CaptureQueriesContext(connection) as few:
        trial_balance(company=b.company, start=Y1[0], end=Y1[1], groups=True)
    for i in range(40):
        account = Account.unscoped.create(
            company=b.company, code=f"67{i:02d}", name=f"Expense {i}", type=AccountType.EXPENSE
        )
        post(b, (account, "1", 0), (b.bank, 0, "1"), date=dt.date(2025, 5, 1 + i % 28))
    with django_assert_max_num_queries(3):
        report = trial_balance(company=b.company, start=Y1[0], end=Y1[1], groups=True)
    assert len(report.rows) > 40
    with CaptureQueriesContext(connection) as many:
        trial_balance(company=b.company, start=Y1[0], end=Y1[1], groups=True)
    assert len(few) == len(many) == 3
    with django_assert_max_num_queries(5):
        trial_balance(company=b.company, start=Q1[0], end=Q1[1], comparative=Y1)
    with django_assert_max_num_queries(6):
        balance_sheet(company=b.company, as_of=Q1[1], comparative_as_of=Y1[1])
    with django_assert_max_num_queries(3):
        profit_and_loss(company=b.company, start=Y1[0], end=Y1[1], comparative=Q1)
    with django_assert_max_num_queries(3):
        cash_flow(company=b.company, start=Y1[0], end=Y1[1])
    with django_assert_max_num_queries(5):
        general_ledger(company=b.company, account=b.bank, start=Y1[0], end=Y1[1], offset=2, limit=5)


# --- exports -----------------------------------------------------------------------------------


@pytest.fixture
def reports(ledger):  # type: ignore[no-untyped-def]
    b = ledger
    return [
        trial_balance(company=b.company, start=Q1[0], end=Q1[1], groups=True, comparative=Q1_PRIOR),
        general_ledger(company=b.company, account=b.bank, start=Q1[0], end=Q1[1]),
        balance_sheet(company=b.company, as_of=Q1[1], comparative_as_of=Y1[1]),
        profit_and_loss(company=b.company, start=Q1[0], end=Q1[1]),
        cash_flow(company=b.company, start=Y1[0], end=Y1[1]),
    ]


def test_csv_export(reports):  # type: ignore[no-untyped-def]
    from xietong.finance.exports import report_csv

    for report in reports:
        data = report_csv(report)
        assert data.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        columns, table = report.table()
        assert rows[0][: len(columns)] == [str(c.label) for c in columns]
        assert len(rows) == 1 + len(list(table))
    tb = list(csv.reader(io.StringIO(report_csv(reports[0]).decode("utf-8-sig"))))
    bank = next(r for r in tb if r[0] == "1002")
    assert bank[2:6] == ["106400.00", "15900.00", "10000.00", "112300.00"]
    assert tb[-1][1] == "Total" and tb[-1][-1] == "total"


def test_xlsx_export(reports):  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook

    from xietong.finance.exports import report_xlsx

    for report in reports:
        book = load_workbook(io.BytesIO(report_xlsx(report)))
        sheet = book.worksheets[0]
        assert sheet["A1"].value == str(report.title) and sheet["A1"].font.bold
        columns, _rows = report.table()
        assert [c.value for c in sheet[5]][: len(columns)] == [str(c.label) for c in columns]
    sheet = load_workbook(io.BytesIO(report_xlsx(reports[0]))).worksheets[0]
    bank = next(row for row in sheet.iter_rows(min_row=6) if row[0].value == "1002")
    assert [c.value for c in bank[2:6]] == [106400, 15900, 10000, 112300]
    assert isinstance(bank[2].value, (int, float))
    assert bank[2].number_format == "#,##0.00;-#,##0.00"
    assert not bank[1].font.bold
    total = list(sheet.iter_rows(min_row=6))[-1]
    assert total[1].value == "Total" and total[2].font.bold
    ledger = load_workbook(io.BytesIO(report_xlsx(reports[1]))).worksheets[0]
    first_line = list(ledger.iter_rows(min_row=7, max_row=7))[0]
    assert first_line[0].value.date() == dt.date(2026, 2, 10)


def test_pdf_export(reports, company_a):  # type: ignore[no-untyped-def]
    from xietong.finance.exports import report_pdf

    for report in reports[:3:2]:  # trial balance (landscape) and balance sheet
        pdf = report_pdf(report, company=company_a, language="en")
        assert pdf.startswith(b"%PDF")
    pdf = report_pdf(reports[3], company=company_a, language="zh-hans")
    assert pdf.startswith(b"%PDF")
