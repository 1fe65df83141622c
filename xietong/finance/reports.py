"""Financial reports: trial balance, general ledger, balance sheet, profit and loss, cash flow.

Every report is a selector returning a plain dataclass (rows with the account's code, name, type
and level in the chart, figures as `Decimal` in the company currency) that a screen, an export
(`xietong.finance.exports`) and the API all render the same way: `report.table()` gives the
columns and the flattened rows. Each figure row carries a `Drilldown` (accounts and date range)
and `drilldown_lines` returns the posted lines behind it.

Only posted entries count; drafts never do. Figures are read with a few aggregated SQL queries
(`GROUP BY account` over the date range, joined to the posted entries) whatever the size of the
chart: never one query per account.

Balances are signed debit-minus-credit in the trial balance and the general ledger; the
statements show each section with its natural sign (assets and expenses as debits, liabilities,
equity and income as credits).

Opening balances and fiscal years. A balance-sheet account's opening balance is everything
posted before the start date. An income or expense account only opens with what was posted
since the start of the fiscal year containing the start date: its earlier balance belongs to the
results of earlier years. When those years are closed (`fiscal_year_close`), their closing entry
(dated on the year's last day, `Entry.closing`) has already moved that balance to retained
earnings, so the cumulative balance is zero anyway and the two definitions agree. When an
earlier year is not closed yet, its result is still sitting in the income and expense accounts;
the trial balance then shows it on a separate line, "Result of earlier years not yet closed",
and the balance sheet shows it in equity, next to the profit of the current year, so that the
trial balance still sums to zero and assets still equal liabilities plus equity. A report range
that spans two fiscal years shows the income and expense movements of both years (and the
closing entry of the first one, if it was closed).

The profit and loss statement and the cash-flow statement leave out year-end closing entries;
the trial balance includes them by default (a post-closing trial balance) and the balance sheet
always does (it is cumulative).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from django.db import connection
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from xietong.core.models import Company
from xietong.core.money import minor_units
from xietong.finance.models import (
    Account,
    AccountSubtype,
    AccountType,
    CashFlowSection,
    Entry,
    FiscalYear,
    Journal,
    Line,
)

ZERO = Decimal(0)
PL_TYPES = (AccountType.INCOME, AccountType.EXPENSE)
BS_TYPES = (AccountType.ASSET, AccountType.LIABILITY, AccountType.EQUITY)
Label = str | Promise

# --- table protocol shared by the exports ------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """A column of a report table; `kind` is "text", "date" or "amount"."""

    key: str
    label: Label
    kind: str = "amount"


@dataclass(frozen=True)
class TableRow:
    """A row of a report table: cells in column order, a style ("" for a plain row, "group",
    "section", "subtotal" or "total") and the indentation level of its label."""

    cells: tuple[Any, ...]
    style: str = ""
    level: int = 0


@dataclass(frozen=True)
class Drilldown:
    """What a figure is made of: posted lines of `accounts` (with their sub-accounts) dated
    `start` (None: since the beginning) to `end`, with or without year-end closing entries.
    Pass it to `drilldown_lines(company=…, **drilldown.kwargs())`."""

    accounts: tuple[int, ...]
    start: dt.date | None
    end: dt.date
    include_closing: bool = True

    @property
    def account_id(self) -> int | None:
        return self.accounts[0] if len(self.accounts) == 1 else None

    def kwargs(self) -> dict[str, Any]:
        return {
            "account": self.accounts,
            "start": self.start,
            "end": self.end,
            "include_closing": self.include_closing,
        }


class Report:
    """Base of the report dataclasses: what the exports need besides the table."""

    title: Label = ""
    company_name: str
    currency: str

    @property
    def period_label(self) -> str:
        raise NotImplementedError

    @property
    def places(self) -> int:
        return minor_units(self.currency)

    def table(self) -> tuple[list[Column], Iterable[TableRow]]:
        raise NotImplementedError


# --- the chart as a tree -----------------------------------------------------------------------


@dataclass
class _Node:
    id: int
    code: str
    name: str
    type: str
    subtype: str
    cash_flow: str
    parent_id: int | None
    is_group: bool
    level: int = 0
    children: list[_Node] = field(default_factory=list)


class _Chart:
    """The company's accounts in one query, as a tree in code order."""

    def __init__(self, company: Company) -> None:
        rows = Account.unscoped.filter(company=company).values_list(
            "id", "code", "name", "type", "subtype", "cash_flow", "parent_id", "is_group"
        )
        self.nodes = {row[0]: _Node(*row) for row in rows}
        roots: list[_Node] = []
        for node in self.nodes.values():
            parent = self.nodes.get(node.parent_id) if node.parent_id else None
            (parent.children if parent else roots).append(node)
        for node in self.nodes.values():
            node.children.sort(key=lambda n: n.code)
        roots.sort(key=lambda n: n.code)
        self.roots = roots
        self.order: list[_Node] = []

        def walk(node: _Node, level: int) -> None:
            node.level = level
            self.order.append(node)
            for child in node.children:
                walk(child, level + 1)

        for root in roots:
            walk(root, 0)

    def subtree(self, node_id: int) -> list[int]:
        """`node_id` and all its descendants."""
        out, stack = [], [self.nodes[node_id]]
        while stack:
            node = stack.pop()
            out.append(node.id)
            stack.extend(node.children)
        return out

    def tree_rows(
        self,
        values: dict[int, tuple[Decimal, ...]],
        *,
        accept: Callable[[_Node], bool],
        groups: bool,
        width: int,
        all_accounts: bool = False,
    ) -> Iterator[tuple[_Node, tuple[Decimal, ...], bool]]:
        """(node, figures, is_group) in tree order for the accepted postable accounts that have
        a figure (all of them with `all_accounts`), each group (when `groups`) before its
        children with the sum of its accepted descendants."""
        empty = (ZERO,) * width

        def visit(node: _Node) -> tuple[list[tuple[_Node, tuple[Decimal, ...], bool]], bool]:
            if not node.children:
                if node.is_group or not accept(node):
                    return [], False
                figures = values.get(node.id, empty)
                if not all_accounts and not any(figures):
                    return [], False
                return [(node, figures, False)], True
            rows: list[tuple[_Node, tuple[Decimal, ...], bool]] = []
            total = list(empty)
            found = False
            own = values.get(node.id)
            if own is not None and accept(node) and (all_accounts or any(own)):
                # a postable account that also has sub-accounts: its own figures first
                rows.append((node, own, False))
                total = [a + b for a, b in zip(total, own, strict=True)]
                found = True
            for child in node.children:
                child_rows, child_found = visit(child)
                if child_found:
                    found = True
                    rows.extend(child_rows)
                    for _child, figures, is_group in child_rows:
                        if not is_group:
                            total = [a + b for a, b in zip(total, figures, strict=True)]
            if found and groups:
                rows.insert(0, (node, tuple(total), True))
            return rows, found

        for root in self.roots:
            rows, _found = visit(root)
            yield from rows


# --- SQL helpers -------------------------------------------------------------------------------

_LINE = Line._meta.db_table
_ENTRY = Entry._meta.db_table
_ACCOUNT = Account._meta.db_table
_JOURNAL = Journal._meta.db_table


def _sqlite() -> bool:
    return connection.vendor == "sqlite"


def _sum(expression: str) -> str:
    """SQL summing a decimal expression exactly. SQLite keeps decimals as floating point, so
    there the sum is taken in integer ten-thousandths (exact up to ±9.2 × 10¹⁴)."""
    if _sqlite():
        return f"COALESCE(SUM(CAST(ROUND(({expression}) * 10000) AS INTEGER)), 0)"
    return f"COALESCE(SUM({expression}), 0)"


def _total(value: Any) -> Decimal:
    """A value of `_sum` as a Decimal."""
    if value is None:
        return ZERO
    if _sqlite():
        return Decimal(int(value)).scaleb(-4)
    return Decimal(value)


def _amount(value: Any) -> Decimal:
    """A decimal column read with a raw cursor (SQLite returns floats)."""
    if value is None:
        return ZERO
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _account_key() -> str:
    """The account column of a GROUP BY account query (grouped by position: `GROUP BY 1`).

    On SQLite it is written `+l.account_id`: a plain column makes SQLite read the lines through
    the (company, account, date) index to skip the GROUP BY's sort, one random table access
    per line; the unary plus leaves it the (company, date) index, a range read in about the
    order the lines were written, and a sort of a few hundred groups. Measured on 1,000,000
    lines: the trial balance's aggregate 2.0 s → 0.9 s; in `account IN (…)` filters over a long
    range the same (profit and loss of a year: 0.65 s → 0.25 s)."""
    return "+l.account_id" if _sqlite() else "l.account_id"


def _posted(alias: str = "e") -> str:
    return f"JOIN {_ENTRY} {alias} ON {alias}.id = l.entry_id AND {alias}.state = 'posted'"


def _fetch(sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _fiscal_year_start(company: Company, date: dt.date) -> dt.date:
    """The first day of the fiscal year containing `date` (the company's fiscal years, else its
    fiscal-year start month and day)."""
    from xietong.finance.periods import fiscal_year_start

    start = (
        FiscalYear.unscoped.filter(company=company, start__lte=date, end__gte=date)
        .values_list("start", flat=True)
        .first()
    )
    return start or fiscal_year_start(company, date)


def _balances(
    company: Company,
    *,
    year_start: dt.date,
    start: dt.date | None,
    end: dt.date,
    include_closing: bool = True,
) -> dict[int, tuple[Decimal, Decimal, Decimal, Decimal]]:
    """Per account: (posted before `year_start`, posted from `year_start` to the day before
    `start`, debits and credits from `start` to `end`), one aggregated query. `start` None puts
    everything up to `end` in the period columns."""
    start = start or year_start
    movement = "1 = 1" if include_closing else "NOT e.closing"
    prior = _sum("CASE WHEN l.date < %(year)s THEN l.debit - l.credit ELSE 0 END")
    year_to_start = _sum(
        "CASE WHEN l.date >= %(year)s AND l.date < %(start)s THEN l.debit - l.credit ELSE 0 END"
    )
    debit = _sum(f"CASE WHEN l.date >= %(start)s AND {movement} THEN l.debit ELSE 0 END")
    credit = _sum(f"CASE WHEN l.date >= %(start)s AND {movement} THEN l.credit ELSE 0 END")
    sql = f"""
        SELECT {_account_key()}, {prior}, {year_to_start}, {debit}, {credit}
        FROM {_LINE} l {_posted()}
        WHERE l.company_id = %(company)s AND l.date <= %(end)s
        GROUP BY 1
    """  # noqa: S608 - table names and fixed fragments only
    rows = _fetch(sql, {"company": company.pk, "year": year_start, "start": start, "end": end})
    return {row[0]: tuple(_total(v) for v in row[1:]) for row in rows}  # type: ignore[misc]


# --- trial balance -----------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialFigures:
    opening: Decimal = ZERO
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    closing: Decimal = ZERO

    def __add__(self, other: TrialFigures) -> TrialFigures:
        return TrialFigures(
            self.opening + other.opening,
            self.debit + other.debit,
            self.credit + other.credit,
            self.closing + other.closing,
        )


@dataclass(frozen=True)
class TrialBalanceRow:
    """One account of the trial balance (balances signed: + debit, − credit). A group row sums
    its sub-accounts; the row of earlier years' unclosed result has no account."""

    account_id: int | None
    code: str
    name: str
    type: str
    level: int
    is_group: bool
    figures: TrialFigures
    comparative: TrialFigures | None
    drilldown: Drilldown | None

    @property
    def opening(self) -> Decimal:
        return self.figures.opening

    @property
    def debit(self) -> Decimal:
        return self.figures.debit

    @property
    def credit(self) -> Decimal:
        return self.figures.credit

    @property
    def closing(self) -> Decimal:
        return self.figures.closing


@dataclass
class TrialBalance(Report):
    company_name: str
    currency: str
    start: dt.date
    end: dt.date
    comparative_range: tuple[dt.date, dt.date] | None
    rows: list[TrialBalanceRow]
    totals: TrialFigures
    comparative_totals: TrialFigures | None
    title = _("Trial balance")

    @property
    def period_label(self) -> str:
        label = _range_label(self.start, self.end)
        if self.comparative_range:
            label += " / " + _range_label(*self.comparative_range)
        return label

    @property
    def balanced(self) -> bool:
        """Debits equal credits and the balances sum to zero (holds for any posted ledger)."""
        totals = [self.totals, *([self.comparative_totals] if self.comparative_totals else [])]
        return all(t.debit == t.credit and not t.opening and not t.closing for t in totals)

    def account_rows(self) -> list[TrialBalanceRow]:
        return [row for row in self.rows if not row.is_group]

    def row_for(self, account: Account | int) -> TrialBalanceRow | None:
        pk = getattr(account, "pk", account)
        return next((r for r in self.rows if r.account_id == pk and not r.is_group), None)

    def table(self) -> tuple[list[Column], Iterable[TableRow]]:
        columns = [
            Column("code", _("Code"), "text"),
            Column("account", _("Account"), "text"),
            Column("opening", _("Opening balance")),
            Column("debit", _("Debit")),
            Column("credit", _("Credit")),
            Column("closing", _("Closing balance")),
        ]
        if self.comparative_range:
            columns += [
                Column("c_opening", _("Opening (comparative)")),
                Column("c_debit", _("Debit (comparative)")),
                Column("c_credit", _("Credit (comparative)")),
                Column("c_closing", _("Closing (comparative)")),
            ]

        def cells(figures: TrialFigures | None) -> tuple[Decimal, ...]:
            f = figures or TrialFigures()
            return (f.opening, f.debit, f.credit, f.closing)

        def rows() -> Iterator[TableRow]:
            for row in self.rows:
                extra = cells(row.comparative) if self.comparative_range else ()
                yield TableRow(
                    (row.code, row.name, *cells(row.figures), *extra),
                    "group" if row.is_group else "",
                    row.level,
                )
            extra = cells(self.comparative_totals) if self.comparative_range else ()
            yield TableRow(("", _("Total"), *cells(self.totals), *extra), "total")

        return columns, rows()


def _range_label(start: dt.date | None, end: dt.date) -> str:
    return f"{start.isoformat()} – {end.isoformat()}" if start else f"… – {end.isoformat()}"


def _trial_figures(
    company: Company, chart: _Chart, start: dt.date, end: dt.date, include_closing: bool
) -> tuple[dict[int | None, TrialFigures], dt.date]:
    """Figures per account id; the key None holds earlier years' unclosed result."""
    year = _fiscal_year_start(company, start)
    balances = _balances(
        company, year_start=year, start=start, end=end, include_closing=include_closing
    )
    out: dict[int | None, TrialFigures] = {}
    unclosed = ZERO
    for account_id, (prior, year_to_start, debit, credit) in balances.items():
        node = chart.nodes[account_id]
        if node.type in PL_TYPES:
            unclosed += prior
            opening = year_to_start
        else:
            opening = prior + year_to_start
        out[account_id] = TrialFigures(opening, debit, credit, opening + debit - credit)
    if unclosed:
        out[None] = TrialFigures(unclosed, ZERO, ZERO, unclosed)
    return out, year


def trial_balance(
    *,
    company: Company,
    start: dt.date,
    end: dt.date,
    comparative: tuple[dt.date, dt.date] | None = None,
    groups: bool = False,
    include_closing: bool = True,
    all_accounts: bool = False,
) -> TrialBalance:
    """Opening balance, debits, credits and closing balance of every postable account with a
    figure, from the posted entries (see the module notes for income and expense accounts and
    earlier years not closed). `comparative` adds the same figures for another range; `groups`
    adds a subtotal row per group account before its sub-accounts; `include_closing=False`
    leaves the year-end closing entries out of the period columns (a pre-closing trial
    balance); `all_accounts` lists accounts without any figure too. Three queries (five with a
    comparative range), whatever the number of accounts."""
    chart = _Chart(company)
    current, _year = _trial_figures(company, chart, start, end, include_closing)
    previous = (
        _trial_figures(company, chart, comparative[0], comparative[1], include_closing)[0]
        if comparative
        else {}
    )
    width = 8 if comparative else 4

    def flat(account_id: int | None) -> tuple[Decimal, ...]:
        a = current.get(account_id, TrialFigures())
        figures = (a.opening, a.debit, a.credit, a.closing)
        if comparative:
            b = previous.get(account_id, TrialFigures())
            figures += (b.opening, b.debit, b.credit, b.closing)
        return figures

    values = {pk: flat(pk) for pk in {*current, *previous} if pk is not None}
    rows: list[TrialBalanceRow] = []
    for node, figures, is_group in chart.tree_rows(
        values, accept=lambda n: True, groups=groups, width=width, all_accounts=all_accounts
    ):
        rows.append(
            TrialBalanceRow(
                account_id=node.id,
                code=node.code,
                name=node.name,
                type=node.type,
                level=node.level,
                is_group=is_group,
                figures=TrialFigures(*figures[:4]),
                comparative=TrialFigures(*figures[4:]) if comparative else None,
                drilldown=Drilldown((node.id,), start, end, include_closing),
            )
        )
    if None in current or None in previous:
        figures = flat(None)
        rows.append(
            TrialBalanceRow(
                account_id=None,
                code="",
                name=str(_("Result of earlier years not yet closed")),
                type=AccountType.EQUITY,
                level=0,
                is_group=False,
                figures=TrialFigures(*figures[:4]),
                comparative=TrialFigures(*figures[4:]) if comparative else None,
                drilldown=None,
            )
        )
    totals = sum((r.figures for r in rows if not r.is_group), TrialFigures())
    comparative_totals = (
        sum((r.comparative for r in rows if not r.is_group and r.comparative), TrialFigures())
        if comparative
        else None
    )
    return TrialBalance(
        company_name=company.name,
        currency=company.base_currency_id,
        start=start,
        end=end,
        comparative_range=comparative,
        rows=rows,
        totals=totals,
        comparative_totals=comparative_totals,
    )


# --- general ledger and drill-down -------------------------------------------------------------


@dataclass(frozen=True)
class LedgerLine:
    """A posted line with its entry, for the general ledger and drill-downs. `balance` is the
    running balance after the line (general ledger only)."""

    line_id: int
    entry_id: int
    date: dt.date
    number: str
    journal: str
    ref: str
    label: str
    account_id: int
    party_id: int | None
    party: str
    debit: Decimal
    credit: Decimal
    currency: str
    amount_currency: Decimal
    balance: Decimal | None = None


_LINE_COLUMNS = """
    l.id, l.entry_id, l.date, e.number, j.code, e.ref, l.label, l.account_id, l.party_id,
    p.name, l.debit, l.credit, l.currency_id, l.amount_currency
"""


def _line_select(where: str, order: str = "l.date, l.entry_id, l.id") -> str:
    from xietong.party.models import Party

    return f"""
        SELECT {_LINE_COLUMNS}
        FROM {_LINE} l {_posted()}
        JOIN {_JOURNAL} j ON j.id = e.journal_id
        LEFT JOIN {Party._meta.db_table} p ON p.id = l.party_id
        WHERE {where}
        ORDER BY {order}
    """  # noqa: S608


def _ledger_line(row: Sequence[Any], balance: Decimal | None = None) -> LedgerLine:
    return LedgerLine(
        line_id=row[0],
        entry_id=row[1],
        date=_date(row[2]),
        number=row[3] or "",
        journal=row[4] or "",
        ref=row[5] or "",
        label=row[6] or "",
        account_id=row[7],
        party_id=row[8],
        party=row[9] or "",
        debit=_amount(row[10]),
        credit=_amount(row[11]),
        currency=row[12],
        amount_currency=_amount(row[13]),
        balance=balance,
    )


def _account_ids(company: Company, account: Any) -> list[int]:
    """The ids of `account` (an Account, an id or several) and of their sub-accounts, checked
    to belong to `company`."""
    wanted = list(account) if isinstance(account, (list, tuple, set, frozenset)) else [account]
    ids = {getattr(a, "pk", a) for a in wanted}
    rows = list(Account.unscoped.filter(company=company).values_list("id", "parent_id"))
    known = {pk for pk, _parent in rows}
    if not ids <= known:
        raise Account.DoesNotExist("account not found in this company")
    children: dict[int, list[int]] = {}
    for pk, parent in rows:
        if parent:
            children.setdefault(parent, []).append(pk)
    out, stack = set(), list(ids)
    while stack:
        pk = stack.pop()
        if pk not in out:
            out.add(pk)
            stack.extend(children.get(pk, []))
    return sorted(out)


def _in(column: str, ids: Sequence[int], params: dict[str, Any], prefix: str = "a") -> str:
    names = []
    for i, value in enumerate(ids):
        params[f"{prefix}{i}"] = value
        names.append(f"%({prefix}{i})s")
    return f"{column} IN ({', '.join(names)})" if names else "1 = 0"


def drilldown_lines(
    *,
    company: Company,
    account: Any,
    start: dt.date | None,
    end: dt.date,
    include_closing: bool = True,
    offset: int = 0,
    limit: int | None = None,
) -> list[LedgerLine]:
    """The posted lines behind a figure: lines of `account` (an Account, an id, or a tuple of
    ids as in `Drilldown.accounts`; group accounts include their sub-accounts) dated `start`
    (None: from the beginning) to `end`, in date order, each with its entry's id, number and
    journal. `offset`/`limit` page through them."""
    params: dict[str, Any] = {"company": company.pk, "end": end}
    where = [
        "l.company_id = %(company)s",
        _in("l.account_id", _account_ids(company, account), params),
        "l.date <= %(end)s",
    ]
    if start:
        where.append("l.date >= %(start)s")
        params["start"] = start
    if not include_closing:
        where.append("NOT e.closing")
    sql = _line_select(" AND ".join(where)) + _page(params, offset, limit)
    return [_ledger_line(row) for row in _fetch(sql, params)]


def _page(params: dict[str, Any], offset: int, limit: int | None) -> str:
    """LIMIT/OFFSET for a page (SQLite needs a LIMIT before an OFFSET: −1 is none)."""
    if limit is None and not offset:
        return ""
    params["offset"] = offset
    if limit is None and not _sqlite():
        return " OFFSET %(offset)s"
    params["limit"] = -1 if limit is None else limit
    return " LIMIT %(limit)s OFFSET %(offset)s"


@dataclass
class GeneralLedger(Report):
    """One account's posted lines over a period with the running balance (+ debit, − credit).
    `lines` holds the requested page (`offset`, `limit`) out of `line_count`; each line's
    `balance` is the running balance after it, counted from the opening balance."""

    company_name: str
    currency: str
    account_id: int
    code: str
    name: str
    type: str
    start: dt.date
    end: dt.date
    opening: Decimal
    debit: Decimal
    credit: Decimal
    closing: Decimal
    line_count: int
    offset: int
    limit: int | None
    lines: list[LedgerLine]
    title = _("General ledger")

    @property
    def period_label(self) -> str:
        return f"{self.code} {self.name} · {_range_label(self.start, self.end)}"

    @property
    def drilldown(self) -> Drilldown:
        return Drilldown((self.account_id,), self.start, self.end)

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.lines) < self.line_count

    def table(self) -> tuple[list[Column], Iterable[TableRow]]:
        columns = [
            Column("date", _("Date"), "date"),
            Column("number", _("Entry"), "text"),
            Column("journal", _("Journal"), "text"),
            Column("label", _("Label"), "text"),
            Column("party", _("Party"), "text"),
            Column("debit", _("Debit")),
            Column("credit", _("Credit")),
            Column("balance", _("Balance")),
        ]

        def rows() -> Iterator[TableRow]:
            yield TableRow(
                (self.start, "", "", _("Opening balance"), "", None, None, self.opening),
                "subtotal",
            )
            for line in self.lines:
                yield TableRow(
                    (
                        line.date, line.number, line.journal, line.label or line.ref,
                        line.party, line.debit, line.credit, line.balance,
                    )
                )  # fmt: skip
            yield TableRow(
                (self.end, "", "", _("Total and closing balance"), "", self.debit, self.credit,
                 self.closing),
                "total",
            )  # fmt: skip

        return columns, rows()


def _ledger_where(
    company: Company, ids: Sequence[int], params: dict[str, Any], since: dt.date | None
) -> str:
    params["company"] = company.pk
    where = ["l.company_id = %(company)s", _in("l.account_id", ids, params)]
    if since:
        params["since"] = since
        where.append("l.date >= %(since)s")
    return " AND ".join(where)


def general_ledger(
    *,
    company: Company,
    account: Account | int,
    start: dt.date,
    end: dt.date,
    offset: int = 0,
    limit: int | None = None,
) -> GeneralLedger:
    """The general ledger of `account` (with its sub-accounts when it is a group) from `start`
    to `end`: opening balance, period totals and closing balance, and the posted lines
    `offset` to `offset + limit` (all with `limit` None) with their running balance. At most six
    queries per page whatever its position (the running balance before a page is one sum);
    `general_ledger_lines` iterates over all lines in batches."""
    found = list(
        Account.unscoped.filter(company=company, pk=getattr(account, "pk", account)).order_by()[:1]
    )
    node = found[0] if found else None
    if node is None:
        raise Account.DoesNotExist("account not found in this company")
    ids = _account_ids(company, node.pk)
    since = _fiscal_year_start(company, start) if node.type in PL_TYPES else None
    params: dict[str, Any] = {"start": start, "end": end}
    where = _ledger_where(company, ids, params, since)
    sql = f"""
        SELECT {_sum("CASE WHEN l.date < %(start)s THEN l.debit - l.credit ELSE 0 END")},
            {_sum("CASE WHEN l.date >= %(start)s THEN l.debit ELSE 0 END")},
            {_sum("CASE WHEN l.date >= %(start)s THEN l.credit ELSE 0 END")},
            COUNT(CASE WHEN l.date >= %(start)s THEN 1 END)
        FROM {_LINE} l {_posted()}
        WHERE {where} AND l.date <= %(end)s
    """  # noqa: S608
    opening_raw, debit_raw, credit_raw, count = _fetch(sql, params)[0]
    opening, debit, credit = _total(opening_raw), _total(debit_raw), _total(credit_raw)
    params = {"start": start, "end": end}
    where = _ledger_where(company, ids, params, None) + " AND l.date >= %(start)s"
    page_sql = _line_select(where + " AND l.date <= %(end)s") + _page(params, offset, limit)
    rows = _fetch(page_sql, params)
    balance = opening
    if rows and offset:
        params = {"start": start, "first_date": rows[0][2], "first_entry": rows[0][1]}
        params["first_id"] = rows[0][0]
        where = _ledger_where(company, ids, params, None)
        before_sql = f"""
            SELECT {_sum("l.debit - l.credit")}
            FROM {_LINE} l {_posted()}
            WHERE {where} AND l.date >= %(start)s
              AND (l.date, l.entry_id, l.id) < (%(first_date)s, %(first_entry)s, %(first_id)s)
        """  # noqa: S608
        balance += _total(_fetch(before_sql, params)[0][0])
    lines = []
    for row in rows:
        line = _ledger_line(row)
        balance += line.debit - line.credit
        lines.append(_replace_balance(line, balance))
    return GeneralLedger(
        company_name=company.name,
        currency=company.base_currency_id,
        account_id=node.pk,
        code=node.code,
        name=node.name,
        type=node.type,
        start=start,
        end=end,
        opening=opening,
        debit=debit,
        credit=credit,
        closing=opening + debit - credit,
        line_count=int(count or 0),
        offset=offset,
        limit=limit,
        lines=lines,
    )


def _replace_balance(line: LedgerLine, balance: Decimal) -> LedgerLine:
    from dataclasses import replace

    return replace(line, balance=balance)


def general_ledger_lines(
    *,
    company: Company,
    account: Account | int,
    start: dt.date,
    end: dt.date,
    opening: Decimal | None = None,
    batch: int = 5000,
) -> Iterator[LedgerLine]:
    """All posted lines of the general ledger of `account` from `start` to `end` with their
    running balance, read in batches of `batch` (keyset pagination: every batch costs the
    same). `opening` saves the opening-balance query when the caller has it already."""
    if opening is None:
        opening = general_ledger(company=company, account=account, start=start, end=end, limit=0)
        opening = opening.opening
    ids = _account_ids(company, account)
    balance = opening
    after: tuple[Any, ...] | None = None
    while True:
        params: dict[str, Any] = {"start": start, "end": end, "limit": batch}
        where = _ledger_where(company, ids, params, None)
        where += " AND l.date >= %(start)s AND l.date <= %(end)s"
        if after:
            params.update(after_date=after[0], after_entry=after[1], after_id=after[2])
            where += (
                " AND (l.date, l.entry_id, l.id) > (%(after_date)s, %(after_entry)s, %(after_id)s)"
            )
        rows = _fetch(_line_select(where) + " LIMIT %(limit)s", params)
        for row in rows:
            line = _ledger_line(row)
            balance += line.debit - line.credit
            yield _replace_balance(line, balance)
        if len(rows) < batch:
            return
        last = rows[-1]
        after = (last[2], last[1], last[0])


# --- statements --------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRow:
    """A row of a statement. `kind`: "account" (a postable account, or in the cash-flow
    statement the group its sub-accounts roll up to), "group" (a group account's subtotal),
    "item" (a computed figure such as the profit of the year), "heading" (a caption without an
    amount), "subtotal" or "total". Amounts carry the section's natural sign."""

    label: Label
    amount: Decimal
    comparative: Decimal | None = None
    kind: str = "account"
    account_id: int | None = None
    code: str = ""
    type: str = ""
    level: int = 0
    drilldown: Drilldown | None = None


@dataclass(frozen=True)
class StatementSection:
    key: str
    title: Label
    rows: list[StatementRow]
    total: Decimal
    comparative_total: Decimal | None = None
    total_label: Label | None = None  # "Total <title>" when None

    def row_for(self, account: Account | int) -> StatementRow | None:
        pk = getattr(account, "pk", account)
        return next((r for r in self.rows if r.account_id == pk and r.kind == "account"), None)


@dataclass
class Statement(Report):
    """Sections of rows, then summary lines (`summary`: subtotals and totals after them)."""

    company_name: str
    currency: str
    sections: list[StatementSection]
    summary: list[StatementRow]

    @property
    def has_comparative(self) -> bool:
        return False

    def section(self, key: str) -> StatementSection:
        return next(s for s in self.sections if s.key == key)

    def summary_row(self, key: str) -> StatementRow:
        return next(r for r in self.summary if r.code == key)

    # summary rows shown right after a section instead of at the end: {row code: section key}
    summary_after: ClassVar[dict[str, str]] = {}

    @property
    def amount_label(self) -> str:
        return str(_("Amount"))

    @property
    def comparative_label(self) -> str:
        return str(_("Comparative"))

    def table(self) -> tuple[list[Column], Iterable[TableRow]]:
        comparative = self.has_comparative
        columns = [
            Column("code", _("Code"), "text"),
            Column("label", _("Item"), "text"),
            Column("amount", self.amount_label),
        ]
        if comparative:
            columns.append(Column("comparative", self.comparative_label))
        styles = {"group": "group", "heading": "group", "subtotal": "subtotal", "total": "total"}

        def cells(row: StatementRow) -> tuple[Any, ...]:
            code = row.code if row.kind in ("account", "group") else ""
            amount = None if row.kind == "heading" else row.amount
            base = (code, row.label, amount)
            return (*base, row.comparative) if comparative else base

        def summary(row: StatementRow) -> TableRow:
            return TableRow(cells(row), "total" if row.kind == "total" else "subtotal")

        def rows() -> Iterator[TableRow]:
            for section in self.sections:
                yield TableRow(
                    ("", section.title, None, *([None] if comparative else [])), "section"
                )
                for row in section.rows:
                    yield TableRow(cells(row), styles.get(row.kind, ""), row.level + 1)
                total = StatementRow(
                    section.total_label or _("Total %(section)s") % {"section": section.title},
                    section.total,
                    section.comparative_total,
                    kind="subtotal",
                )
                yield TableRow(cells(total), "subtotal")
                for row in self.summary:
                    if self.summary_after.get(row.code) == section.key:
                        yield summary(row)
            for row in self.summary:
                if row.code not in self.summary_after:
                    yield summary(row)

        return columns, rows()


def _statement_rows(
    chart: _Chart,
    values: dict[int, tuple[Decimal, ...]],
    *,
    accept: Callable[[_Node], bool],
    sign: int,
    groups: bool,
    comparative: bool,
    drilldown: Callable[[int], Drilldown],
) -> tuple[list[StatementRow], Decimal, Decimal | None]:
    rows = []
    total, c_total = ZERO, ZERO
    width = 2 if comparative else 1
    for node, figures, is_group in chart.tree_rows(
        values, accept=accept, groups=groups, width=width
    ):
        amount = sign * figures[0]
        c_amount = sign * figures[1] if comparative else None
        if not is_group:
            total += amount
            c_total += c_amount or ZERO
        rows.append(
            StatementRow(
                label=node.name,
                amount=amount,
                comparative=c_amount,
                kind="group" if is_group else "account",
                account_id=node.id,
                code=node.code,
                type=node.type,
                level=node.level,
                drilldown=drilldown(node.id),
            )
        )
    return rows, total, c_total if comparative else None


@dataclass
class BalanceSheet(Statement):
    as_of: dt.date = dt.date.min
    comparative_as_of: dt.date | None = None
    title = _("Balance sheet")

    @property
    def has_comparative(self) -> bool:
        return self.comparative_as_of is not None

    @property
    def period_label(self) -> str:
        label = self.as_of.isoformat()
        return (
            f"{label} / {self.comparative_as_of.isoformat()}" if self.comparative_as_of else label
        )

    @property
    def amount_label(self) -> str:  # type: ignore[override]
        return self.as_of.isoformat()

    @property
    def comparative_label(self) -> str:  # type: ignore[override]
        return self.comparative_as_of.isoformat() if self.comparative_as_of else ""

    @property
    def total_assets(self) -> Decimal:
        return self.section("assets").total

    @property
    def total_liabilities(self) -> Decimal:
        return self.section("liabilities").total

    @property
    def total_equity(self) -> Decimal:
        return self.section("equity").total

    @property
    def balanced(self) -> bool:
        ok = self.total_assets == self.total_liabilities + self.total_equity
        if self.comparative_as_of:
            s = {k: self.section(k).comparative_total for k in ("assets", "liabilities", "equity")}
            ok = ok and s["assets"] == (s["liabilities"] or ZERO) + (s["equity"] or ZERO)
        return ok


def balance_sheet(
    *,
    company: Company,
    as_of: dt.date,
    comparative_as_of: dt.date | None = None,
    groups: bool = True,
) -> BalanceSheet:
    """Assets, liabilities and equity at `as_of` by the chart's hierarchy (group subtotals with
    `groups`), from every posted entry up to that day. Equity ends with the profit of the fiscal
    year containing `as_of` as far as it is not closed yet (zero after the year-end close, whose
    entry moved it to retained earnings) and, when an earlier year is not closed, that year's
    result, so that assets = liabilities + equity always. Four queries (six with a
    comparative date)."""
    chart = _Chart(company)
    dates = [as_of, *([comparative_as_of] if comparative_as_of else [])]
    figures: list[dict[int, Decimal]] = []
    profits: list[tuple[Decimal, Decimal]] = []
    for date in dates:
        year = _fiscal_year_start(company, date)
        balances = _balances(company, year_start=year, start=year, end=date)
        per_account: dict[int, Decimal] = {}
        year_profit, earlier = ZERO, ZERO
        for account_id, (prior, _none, debit, credit) in balances.items():
            node = chart.nodes[account_id]
            if node.type in PL_TYPES:
                earlier -= prior
                year_profit -= debit - credit
            else:
                per_account[account_id] = prior + debit - credit
        figures.append(per_account)
        profits.append((year_profit, earlier))
    comparative = comparative_as_of is not None
    values = {pk: tuple(f.get(pk, ZERO) for f in figures) for pk in {k for f in figures for k in f}}
    sections = []
    for key, title, type_, sign in (
        ("assets", _("Assets"), AccountType.ASSET, 1),
        ("liabilities", _("Liabilities"), AccountType.LIABILITY, -1),
        ("equity", _("Equity"), AccountType.EQUITY, -1),
    ):
        rows, total, c_total = _statement_rows(
            chart,
            values,
            accept=lambda n, t=type_: n.type == t,
            sign=sign,
            groups=groups,
            comparative=comparative,
            drilldown=lambda pk: Drilldown((pk,), None, as_of),
        )
        if key == "equity":
            earlier = profits[0][1]
            c_earlier = profits[1][1] if comparative else None
            if earlier or c_earlier:
                rows.append(
                    StatementRow(
                        _("Result of earlier years not yet closed"), earlier, c_earlier, "item"
                    )
                )
                total += earlier
                c_total = (c_total or ZERO) + (c_earlier or ZERO) if comparative else None
            year_profit = profits[0][0]
            c_year_profit = profits[1][0] if comparative else None
            rows.append(StatementRow(_("Profit for the year"), year_profit, c_year_profit, "item"))
            total += year_profit
            c_total = (c_total or ZERO) + (c_year_profit or ZERO) if comparative else None
        sections.append(StatementSection(key, title, rows, total, c_total))
    liabilities_equity = sections[1].total + sections[2].total
    c_liabilities_equity = (
        (sections[1].comparative_total or ZERO) + (sections[2].comparative_total or ZERO)
        if comparative
        else None
    )
    summary = [
        StatementRow(
            _("Total liabilities and equity"),
            liabilities_equity,
            c_liabilities_equity,
            kind="total",
            code="liabilities_equity",
        )
    ]
    return BalanceSheet(
        company_name=company.name,
        currency=company.base_currency_id,
        sections=sections,
        summary=summary,
        as_of=as_of,
        comparative_as_of=comparative_as_of,
    )


@dataclass
class ProfitAndLoss(Statement):
    start: dt.date = dt.date.min
    end: dt.date = dt.date.min
    comparative_range: tuple[dt.date, dt.date] | None = None
    title = _("Profit and loss")
    summary_after = {"gross_profit": "cost_of_sales"}  # noqa: RUF012

    @property
    def has_comparative(self) -> bool:
        return self.comparative_range is not None

    @property
    def period_label(self) -> str:
        label = _range_label(self.start, self.end)
        if self.comparative_range:
            label += " / " + _range_label(*self.comparative_range)
        return label

    @property
    def amount_label(self) -> str:  # type: ignore[override]
        return _range_label(self.start, self.end)

    @property
    def comparative_label(self) -> str:  # type: ignore[override]
        return _range_label(*self.comparative_range) if self.comparative_range else ""

    @property
    def income(self) -> Decimal:
        return self.section("income").total

    @property
    def gross_profit(self) -> Decimal:
        return self.summary_row("gross_profit").amount

    @property
    def net_profit(self) -> Decimal:
        return self.summary_row("net_profit").amount


def _movements(
    company: Company, start: dt.date, end: dt.date, *, types: Sequence[str] = PL_TYPES
) -> dict[int, Decimal]:
    """Debit-minus-credit of the accounts of `types` from `start` to `end`, closing entries
    left out; one query."""
    params: dict[str, Any] = {"company": company.pk, "start": start, "end": end}
    type_in = _in("a.type", list(types), params, prefix="t")
    sql = f"""
        SELECT {_account_key()}, {_sum("l.debit - l.credit")}
        FROM {_LINE} l {_posted()}
        WHERE l.company_id = %(company)s AND l.date >= %(start)s AND l.date <= %(end)s
          AND NOT e.closing
          AND {_account_key()} IN (
              SELECT a.id FROM {_ACCOUNT} a WHERE a.company_id = %(company)s AND {type_in})
        GROUP BY 1
    """  # noqa: S608
    return {row[0]: _total(row[1]) for row in _fetch(sql, params)}


def profit_and_loss(
    *,
    company: Company,
    start: dt.date,
    end: dt.date,
    comparative: tuple[dt.date, dt.date] | None = None,
    groups: bool = True,
) -> ProfitAndLoss:
    """Income and expenses from `start` to `end` by the chart's hierarchy, year-end closing
    entries left out: income, cost of sales (expense accounts of the cost_of_sales subtype),
    gross profit (income − cost of sales), other expenses and net profit. Two queries (three
    with a comparative range)."""
    chart = _Chart(company)
    figures = [_movements(company, start, end)]
    if comparative:
        figures.append(_movements(company, *comparative))
    values = {pk: tuple(f.get(pk, ZERO) for f in figures) for pk in {k for f in figures for k in f}}
    has_c = comparative is not None
    sections = []
    for key, title, accept, sign in (
        ("income", _("Income"), lambda n: n.type == AccountType.INCOME, -1),
        (
            "cost_of_sales",
            _("Cost of sales"),
            lambda n: n.type == AccountType.EXPENSE and n.subtype == AccountSubtype.COST_OF_SALES,
            1,
        ),
        (
            "expenses",
            _("Expenses"),
            lambda n: n.type == AccountType.EXPENSE and n.subtype != AccountSubtype.COST_OF_SALES,
            1,
        ),
    ):
        rows, total, c_total = _statement_rows(
            chart,
            values,
            accept=accept,
            sign=sign,
            groups=groups,
            comparative=has_c,
            drilldown=lambda pk: Drilldown((pk,), start, end, include_closing=False),
        )
        sections.append(StatementSection(key, title, rows, total, c_total))
    income, cost, expenses = sections

    def diff(a: Decimal | None, b: Decimal | None, c: Decimal | None = ZERO) -> Decimal | None:
        return None if not has_c else (a or ZERO) - (b or ZERO) - (c or ZERO)

    summary = [
        StatementRow(
            _("Gross profit"),
            income.total - cost.total,
            diff(income.comparative_total, cost.comparative_total),
            kind="subtotal",
            code="gross_profit",
        ),
        StatementRow(
            _("Net profit"),
            income.total - cost.total - expenses.total,
            diff(income.comparative_total, cost.comparative_total, expenses.comparative_total),
            kind="total",
            code="net_profit",
        ),
    ]
    return ProfitAndLoss(
        company_name=company.name,
        currency=company.base_currency_id,
        sections=sections,
        summary=summary,
        start=start,
        end=end,
        comparative_range=comparative,
    )


# --- cash flow ---------------------------------------------------------------------------------


@dataclass
class CashFlow(Statement):
    """The indirect cash-flow statement. `net_change` is the statement's result; `cash_opening`
    and `cash_closing` are the balances of the cash-section accounts, and `reconciles` checks
    that the statement explains their change."""

    start: dt.date = dt.date.min
    end: dt.date = dt.date.min
    net_profit: Decimal = ZERO
    net_change: Decimal = ZERO
    cash_opening: Decimal = ZERO
    cash_closing: Decimal = ZERO
    title = _("Cash-flow statement")

    @property
    def period_label(self) -> str:
        return _range_label(self.start, self.end)

    @property
    def reconciles(self) -> bool:
        return self.net_change == self.cash_closing - self.cash_opening


def _cash_section(node: _Node) -> str:
    """The section where a balance-sheet account's change is shown. Accounts without one:
    equity goes to financing, except the accounts holding profit (retained earnings, profit for
    the year), which stay in operating with assets and liabilities."""
    if node.cash_flow:
        return node.cash_flow
    if node.type == AccountType.EQUITY and node.subtype not in (
        AccountSubtype.RETAINED_EARNINGS,
        AccountSubtype.CURRENT_EARNINGS,
    ):
        return CashFlowSection.FINANCING
    return CashFlowSection.OPERATING


def cash_flow(*, company: Company, start: dt.date, end: dt.date) -> CashFlow:
    """The cash-flow statement from `start` to `end`, indirect method, closing entries left out:

    - operating: net profit (as in the profit and loss), plus depreciation and other non-cash
      expenses, plus the changes of the operating accounts (receivables, stock, payables, tax…;
      an increase of an asset uses cash, an increase of a liability brings it);
    - investing and financing: the changes of the accounts of those sections;
    - net change, and cash and cash equivalents (accounts of the "cash" section) at the start
      and the end.

    Depreciation and non-cash expenses: the changes booked by entries that book an expense of
    the non_cash_expense subtype (their balance-sheet side, usually accumulated depreciation),
    and the changes of depreciation accounts made by entries that move no fixed-asset account
    (depreciation charged to any expense account, and its reversals), are added back as one
    line. Other changes of depreciation accounts (disposals, with the asset) stay in the
    account's own section. Balance-sheet accounts without a section: see `_cash_section`.
    Every non-cash account's change is thus counted exactly once, so the net change equals
    the change of the cash accounts whenever the entries balance. Four queries."""
    chart = _Chart(company)
    params: dict[str, Any] = {"company": company.pk, "start": start, "end": end}
    non_cash = [n.id for n in chart.nodes.values() if n.subtype == AccountSubtype.NON_CASH_EXPENSE]
    depreciation = [n.id for n in chart.nodes.values() if n.subtype == AccountSubtype.DEPRECIATION]
    fixed = [n.id for n in chart.nodes.values() if n.subtype == AccountSubtype.FIXED_ASSET]
    entries_with = (
        "l.entry_id IN (SELECT x.entry_id FROM {line} x WHERE x.company_id = %(company)s"
        " AND x.date >= %(start)s AND x.date <= %(end)s AND {cond})"
    )
    conditions = []
    if non_cash:
        conditions.append(
            entries_with.format(line=_LINE, cond=_in("x.account_id", non_cash, params, "n"))
        )
    if depreciation:
        clause = _in("l.account_id", depreciation, params, "d")
        if fixed:
            clause += " AND NOT " + entries_with.format(
                line=_LINE, cond=_in("x.account_id", fixed, params, "f")
            )
        conditions.append(f"({clause})")
    add_back = " OR ".join(conditions) or "1 = 0"
    sql = f"""
        SELECT {_account_key()}, CASE WHEN {add_back} THEN 1 ELSE 0 END,
            {_sum("l.debit - l.credit")}
        FROM {_LINE} l {_posted()}
        WHERE l.company_id = %(company)s AND l.date >= %(start)s AND l.date <= %(end)s
          AND NOT e.closing
        GROUP BY 1, 2
    """  # noqa: S608
    profit = ZERO
    add_back_total = ZERO
    add_back_accounts: set[int] = set()
    changes: dict[int, Decimal] = {}
    for account_id, is_add_back, amount in _fetch(sql, params):
        node = chart.nodes[account_id]
        amount = _total(amount)
        if node.type in PL_TYPES:
            profit -= amount
        elif node.cash_flow == CashFlowSection.CASH:
            continue
        elif is_add_back:
            add_back_total -= amount
            add_back_accounts.add(account_id)
        else:
            changes[account_id] = changes.get(account_id, ZERO) - amount
    cash_ids = [n.id for n in chart.nodes.values() if n.cash_flow == CashFlowSection.CASH]
    cash_params: dict[str, Any] = {"company": company.pk, "start": start, "end": end}
    cash_sql = f"""
        SELECT {_sum("CASE WHEN l.date < %(start)s THEN l.debit - l.credit ELSE 0 END")},
            {_sum("l.debit - l.credit")}
        FROM {_LINE} l {_posted()}
        WHERE l.company_id = %(company)s AND l.date <= %(end)s
          AND {_in("l.account_id", cash_ids, cash_params)}
    """  # noqa: S608
    opening_raw, closing_raw = _fetch(cash_sql, cash_params)[0]
    cash_opening, cash_closing = _total(opening_raw), _total(closing_raw)

    # Roll each account up to its highest ancestor whose accounts all go to the same section
    # with the same subtype (the VAT sub-accounts into "Taxes payable", but receivables and
    # stock stay apart even under one "Current assets" group).
    kinds_below: dict[int, set[tuple[str, str]]] = {}

    def collect(node: _Node) -> set[tuple[str, str]]:
        found: set[tuple[str, str]] = set()
        if not node.is_group and node.type in BS_TYPES:
            found.add((_cash_section(node), node.subtype))
        for child in node.children:
            found |= collect(child)
        kinds_below[node.id] = found
        return found

    for root in chart.roots:
        collect(root)

    def target(node: _Node) -> _Node:
        kinds = kinds_below[node.id]
        while node.parent_id and kinds_below[node.parent_id] == kinds:
            node = chart.nodes[node.parent_id]
        return node

    per_target: dict[str, dict[int, Decimal]] = {}
    for account_id, amount in changes.items():
        node = chart.nodes[account_id]
        head = target(node)
        bucket = per_target.setdefault(_cash_section(node), {})
        bucket[head.id] = bucket.get(head.id, ZERO) + amount

    def account_rows(section: str) -> list[StatementRow]:
        items = sorted(per_target.get(section, {}).items(), key=lambda kv: chart.nodes[kv[0]].code)
        return [
            StatementRow(
                label=chart.nodes[pk].name,
                amount=amount,
                kind="account",
                account_id=pk,
                code=chart.nodes[pk].code,
                type=chart.nodes[pk].type,
                level=1,
                drilldown=Drilldown((pk,), start, end, include_closing=False),
            )
            for pk, amount in items
            if amount
        ]

    pl_ids = tuple(sorted(n.id for n in chart.nodes.values() if n.type in PL_TYPES))
    operating_rows = [
        StatementRow(
            _("Net profit"),
            profit,
            kind="item",
            drilldown=Drilldown(pl_ids, start, end, include_closing=False),
        )
    ]
    if add_back_total:
        operating_rows.append(
            StatementRow(
                _("Depreciation, amortisation and other non-cash expenses"),
                add_back_total,
                kind="item",
                drilldown=Drilldown(
                    tuple(sorted(add_back_accounts)), start, end, include_closing=False
                ),
            )
        )
    working = account_rows(CashFlowSection.OPERATING)
    if working:
        operating_rows.append(StatementRow(_("Changes in working capital"), ZERO, kind="heading"))
        operating_rows.extend(working)
    sections = [
        StatementSection(
            "operating",
            _("Operating activities"),
            operating_rows,
            profit + add_back_total + sum((r.amount for r in working), ZERO),
            total_label=_("Net cash from operating activities"),
        )
    ]
    for key, title, total_label in (
        (
            CashFlowSection.INVESTING,
            _("Investing activities"),
            _("Net cash from investing activities"),
        ),
        (
            CashFlowSection.FINANCING,
            _("Financing activities"),
            _("Net cash from financing activities"),
        ),
    ):
        rows = account_rows(key)
        total = sum((r.amount for r in rows), ZERO)
        sections.append(StatementSection(key, title, rows, total, total_label=total_label))
    net_change = sum((s.total for s in sections), ZERO)
    cash_drill = Drilldown(tuple(sorted(cash_ids)), None, end)
    summary = [
        StatementRow(_("Net change in cash"), net_change, kind="total", code="net_change"),
        StatementRow(
            _("Cash and cash equivalents at the beginning"),
            cash_opening,
            kind="subtotal",
            code="cash_opening",
            drilldown=Drilldown(cash_drill.accounts, None, start - dt.timedelta(days=1)),
        ),
        StatementRow(
            _("Cash and cash equivalents at the end"),
            cash_closing,
            kind="total",
            code="cash_closing",
            drilldown=cash_drill,
        ),
    ]
    return CashFlow(
        company_name=company.name,
        currency=company.base_currency_id,
        sections=sections,
        summary=summary,
        start=start,
        end=end,
        net_profit=profit,
        net_change=net_change,
        cash_opening=cash_opening,
        cash_closing=cash_closing,
    )
