"""Financial reports and receivables: trial balance, general ledger, balance sheet, profit and
loss, cash flow (period and comparative selectors, every figure a link to the posted lines behind
it, exports to CSV, XLSX and PDF), the drill-down list, AR/AP aging, customer statements and
dunning."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen
from xietong.finance import exports, receivables, reports
from xietong.finance.forms import today
from xietong.finance.models import Account, Dunning
from xietong.finance.periods import fiscal_year_start
from xietong.finance.views.common import Amount, amount_column, finance_list, parse_date
from xietong.party.models import Party

ZERO = Decimal(0)
LINES_PAGE = 50
LEDGER_PAGE = 100


# --- periods ----------------------------------------------------------------------------------

PRESETS = (
    ("this_year", gettext_lazy("This fiscal year")),
    ("last_year", gettext_lazy("Last fiscal year")),
    ("this_quarter", gettext_lazy("This quarter")),
    ("last_quarter", gettext_lazy("Last quarter")),
    ("this_month", gettext_lazy("This month")),
    ("last_month", gettext_lazy("Last month")),
    ("custom", gettext_lazy("Custom")),
)
COMPARISONS = (
    ("", gettext_lazy("No comparison")),
    ("previous_period", gettext_lazy("Previous period")),
    ("previous_year", gettext_lazy("Same period last year")),
)


def _month_start(date: dt.date) -> dt.date:
    return date.replace(day=1)


def _add_months(date: dt.date, months: int) -> dt.date:
    month = date.month - 1 + months
    return date.replace(year=date.year + month // 12, month=month % 12 + 1, day=1)


def _preset_range(company: Any, preset: str, on: dt.date) -> tuple[dt.date, dt.date]:
    if preset == "last_year":
        start = fiscal_year_start(company, fiscal_year_start(company, on) - dt.timedelta(days=1))
        return start, fiscal_year_start(company, on) - dt.timedelta(days=1)
    if preset in ("this_quarter", "last_quarter"):
        start = on.replace(month=(on.month - 1) // 3 * 3 + 1, day=1)
        if preset == "last_quarter":
            start = _add_months(start, -3)
        return start, _add_months(start, 3) - dt.timedelta(days=1)
    if preset in ("this_month", "last_month"):
        start = _month_start(on) if preset == "this_month" else _add_months(on, -1)
        return start, _add_months(start, 1) - dt.timedelta(days=1)
    return fiscal_year_start(company, on), on


def _shift_year(date: dt.date, years: int) -> dt.date:
    try:
        return date.replace(year=date.year + years)
    except ValueError:  # 29 February
        return date.replace(year=date.year + years, day=28)


@dataclass
class Period:
    preset: str
    start: dt.date
    end: dt.date
    comparison: str
    comparative: tuple[dt.date, dt.date] | None
    errors: list[str]


def period_of(request: HttpRequest) -> Period:
    """The report range from the query (`preset`, or `start`/`end`), and the comparative range
    (`compare`: previous period or same period last year)."""
    company = request.company
    preset = request.GET.get("preset", "")
    errors: list[str] = []
    start = parse_date(request.GET.get("start"))
    end = parse_date(request.GET.get("end"))
    if preset not in dict(PRESETS):
        preset = "custom" if start or end else "this_year"
    if preset != "custom":
        range_ = _preset_range(company, preset, today())
        # dates typed over a preset's own dates make a custom range
        if (
            (start or end)
            and (start or range_[0], end or range_[1]) != range_
            and (request.GET.get("preset_was") == preset)
        ):
            preset = "custom"
        else:
            start, end = range_
    if preset == "custom":
        default_start, default_end = _preset_range(company, "this_year", today())
        start, end = start or default_start, end or default_end
    if start > end:
        errors.append(_("The start date is after the end date."))
        start, end = end, start
    comparison = request.GET.get("compare", "")
    comparative = None
    if comparison == "previous_period":
        after = end + dt.timedelta(days=1)
        if start.day == 1 and after.day == 1:  # whole months: the same number of months before
            months = (after.year - start.year) * 12 + after.month - start.month
            comparative = (_add_months(start, -months), start - dt.timedelta(days=1))
        else:
            length = end - start
            comparative = (start - length - dt.timedelta(days=1), start - dt.timedelta(days=1))
    elif comparison == "previous_year":
        comparative = (_shift_year(start, -1), _shift_year(end, -1))
    else:
        comparison = ""
    return Period(preset, start, end, comparison, comparative, errors)


def drill_url(drilldown: Any | None, *, start: dt.date | None = None, end: dt.date | None = None,
              whole: bool = False) -> str | None:  # fmt: skip
    """The drill-down list of a report figure (optionally over another range)."""
    if drilldown is None:
        return None
    first = None if whole else (start or drilldown.start)
    params = {
        "accounts": ",".join(str(pk) for pk in drilldown.accounts),
        "start": first.isoformat() if first else "",
        "end": (end or drilldown.end).isoformat(),
        "closing": "1" if drilldown.include_closing else "0",
    }
    return reverse("finance:report_lines") + "?" + urlencode(params)


def _cell(value: Any, currency: str, url: str | None = None) -> dict[str, Any]:
    if isinstance(value, Decimal):
        return {"amount": Amount(value, currency, link=url), "numeric": True}
    return {"text": "" if value is None else value, "numeric": False}


def _export(request: HttpRequest, report: Any, slug: str) -> HttpResponse | None:
    fmt = request.GET.get("export")
    if fmt not in ("csv", "xlsx", "pdf"):
        return None
    stamp = getattr(report, "end", None) or getattr(report, "as_of", None) or today()
    filename = f"{slug}-{stamp.isoformat()}.{fmt}"
    if fmt == "csv":
        response = HttpResponse(exports.report_csv(report), content_type=exports.CSV_CONTENT_TYPE)
    elif fmt == "xlsx":
        response = HttpResponse(exports.report_xlsx(report), content_type=exports.XLSX_CONTENT_TYPE)
    else:
        response = HttpResponse(
            exports.report_pdf(report, company=request.company), content_type="application/pdf"
        )
    disposition = "inline" if fmt == "pdf" else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


def _export_links(request: HttpRequest) -> list[tuple[str, str]]:
    query = request.GET.copy()
    query.pop("export", None)
    query.pop("page", None)
    links = []
    for fmt, label in (("csv", "CSV"), ("xlsx", "Excel (XLSX)"), ("pdf", "PDF")):
        query["export"] = fmt
        links.append((label, "?" + query.urlencode()))
    return links


def _page(
    request: HttpRequest,
    *,
    report: Any,
    title: Any,
    columns: list[dict[str, Any]],
    rows: list[dict[str, Any]],
    selector: dict[str, Any],
    notes: list[str] | None = None,
    pager: dict[str, Any] | None = None,
) -> HttpResponse:
    return render(
        request,
        "finance/report.html",
        {
            "report": report,
            "title": title,
            "columns": columns,
            "rows": rows,
            "selector": selector,
            "exports": _export_links(request),
            "notes": notes or [],
            "pager": pager,
        },
    )


def _range_selector(period: Period, *, comparison: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "range",
        "presets": PRESETS,
        "comparisons": COMPARISONS if comparison else (),
        "period": period,
        **extra,
    }


# --- trial balance ----------------------------------------------------------------------------


def _opening_start(company: Any, row: Any, start: dt.date) -> dt.date | None:
    return fiscal_year_start(company, start) if row.type in reports.PL_TYPES else None


@requires("finance.view")
def trial_balance(request: HttpRequest) -> HttpResponse:
    company = request.company
    period = period_of(request)
    groups = request.GET.get("groups") == "1"
    report = reports.trial_balance(
        company=company,
        start=period.start,
        end=period.end,
        comparative=period.comparative,
        groups=groups,
    )
    exported = _export(request, report, "trial-balance")
    if exported is not None:
        return exported
    currency = report.currency
    columns = [
        {"label": _("Code")},
        {"label": _("Account")},
        {"label": _("Opening balance"), "numeric": True},
        {"label": _("Debit"), "numeric": True},
        {"label": _("Credit"), "numeric": True},
        {"label": _("Closing balance"), "numeric": True},
    ]
    if period.comparative:
        columns += [
            {"label": _("Opening (comparative)"), "numeric": True},
            {"label": _("Debit (comparative)"), "numeric": True},
            {"label": _("Credit (comparative)"), "numeric": True},
            {"label": _("Closing (comparative)"), "numeric": True},
        ]

    def figures(row: Any, values: Any, start: dt.date, end: dt.date) -> list[dict[str, Any]]:
        drill = row.drilldown
        before = start - dt.timedelta(days=1)
        opening_from = _opening_start(company, row, start)
        return [
            _cell(values.opening, currency,
                  drill_url(drill, start=opening_from, end=before, whole=opening_from is None)),
            _cell(values.debit, currency, drill_url(drill, start=start, end=end)),
            _cell(values.credit, currency, drill_url(drill, start=start, end=end)),
            _cell(values.closing, currency,
                  drill_url(drill, start=opening_from, end=end, whole=opening_from is None)),
        ]  # fmt: skip

    rows = []
    for row in report.rows:
        cells = [_cell(row.code, currency), _cell(row.name, currency)]
        cells += figures(row, row.figures, period.start, period.end)
        if period.comparative:
            cells += figures(row, row.comparative, *period.comparative)
        rows.append({"cells": cells, "style": "group" if row.is_group else "", "level": row.level,
                     "label_index": 1})  # fmt: skip
    totals = [_cell("", currency), _cell(_("Total"), currency)]
    for values in [report.totals, *([report.comparative_totals] if period.comparative else [])]:
        totals += [
            _cell(v, currency)
            for v in (values.opening, values.debit, values.credit, values.closing)
        ]
    rows.append({"cells": totals, "style": "total", "level": 0, "label_index": 1})
    notes = [] if report.balanced else [_("The trial balance does not balance.")]
    return _page(
        request,
        report=report,
        title=_("Trial balance"),
        columns=columns,
        rows=rows,
        selector=_range_selector(period, groups=groups, show_groups=True),
        notes=period.errors + notes,
    )


# --- statements -------------------------------------------------------------------------------


def _statement_rows(
    report: Any,
    comparative_drill: Any = None,
) -> list[dict[str, Any]]:
    """Display rows of a statement: section headings, rows (each figure a drill-down link),
    section totals and the summary lines."""
    currency = report.currency
    has_c = report.has_comparative

    def row_cells(row: Any) -> list[dict[str, Any]]:
        code = row.code if row.kind in ("account", "group") else ""
        amount = None if row.kind == "heading" else row.amount
        cells = [_cell(code, currency), _cell(row.label, currency),
                 _cell(amount, currency, drill_url(row.drilldown) if row.drilldown else None)]  # fmt: skip
        if has_c:
            url = (
                comparative_drill(row.drilldown) if (comparative_drill and row.drilldown) else None
            )
            cells.append(_cell(None if row.kind == "heading" else row.comparative, currency, url))
        return cells

    styles = {"group": "group", "heading": "group", "subtotal": "subtotal", "total": "total"}
    rows = []
    for section in report.sections:
        rows.append({"cells": [_cell("", currency), _cell(section.title, currency)]
                     + [_cell(None, currency)] * (2 if has_c else 1),
                     "style": "section", "level": 0, "label_index": 1})  # fmt: skip
        for row in section.rows:
            rows.append({"cells": row_cells(row), "style": styles.get(row.kind, ""),
                         "level": row.level + 1, "label_index": 1})  # fmt: skip
        total = [_cell("", currency), _cell(_("Total %(section)s") % {"section": section.title}, currency),
                 _cell(section.total, currency)]  # fmt: skip
        if has_c:
            total.append(_cell(section.comparative_total, currency))
        rows.append({"cells": total, "style": "subtotal", "level": 0, "label_index": 1})
        for row in report.summary:
            if report.summary_after.get(row.code) == section.key:
                rows.append({"cells": row_cells(row), "style": styles.get(row.kind, "subtotal"),
                             "level": 0, "label_index": 1})  # fmt: skip
    for row in report.summary:
        if row.code not in report.summary_after:
            rows.append({"cells": row_cells(row), "style": styles.get(row.kind, "subtotal"),
                         "level": 0, "label_index": 1})  # fmt: skip
    return rows


def _statement_columns(report: Any) -> list[dict[str, Any]]:
    columns = [{"label": _("Code")}, {"label": _("Item")},
               {"label": report.amount_label, "numeric": True}]  # fmt: skip
    if report.has_comparative:
        columns.append({"label": report.comparative_label, "numeric": True})
    return columns


@requires("finance.view")
def balance_sheet(request: HttpRequest) -> HttpResponse:
    company = request.company
    as_of = parse_date(request.GET.get("as_of"), today())
    comparison = request.GET.get("compare", "")
    comparative = None
    if comparison == "previous_year_end":
        comparative = fiscal_year_start(company, as_of) - dt.timedelta(days=1)
    elif comparison == "previous_year":
        comparative = _shift_year(as_of, -1)
    elif comparison == "custom":
        comparative = parse_date(request.GET.get("compare_date"))
    report = reports.balance_sheet(
        company=company, as_of=as_of, comparative_as_of=comparative, groups=True
    )
    exported = _export(request, report, "balance-sheet")
    if exported is not None:
        return exported

    def other(drill: Any) -> str | None:
        return drill_url(drill, end=comparative, whole=True)

    notes = [] if report.balanced else [_("Assets do not equal liabilities plus equity.")]
    return _page(
        request,
        report=report,
        title=_("Balance sheet"),
        columns=_statement_columns(report),
        rows=_statement_rows(report, other),
        selector={
            "kind": "as_of",
            "as_of": as_of,
            "compare": comparison,
            "compare_date": comparative,
            "comparisons": (
                ("", _("No comparison")),
                ("previous_year_end", _("End of the previous fiscal year")),
                ("previous_year", _("Same day last year")),
                ("custom", _("Another date")),
            ),
        },
        notes=notes,
    )


@requires("finance.view")
def profit_and_loss(request: HttpRequest) -> HttpResponse:
    period = period_of(request)
    report = reports.profit_and_loss(
        company=request.company, start=period.start, end=period.end, comparative=period.comparative
    )
    exported = _export(request, report, "profit-and-loss")
    if exported is not None:
        return exported

    def other(drill: Any) -> str | None:
        assert period.comparative is not None
        return drill_url(drill, start=period.comparative[0], end=period.comparative[1])

    return _page(
        request,
        report=report,
        title=_("Profit and loss"),
        columns=_statement_columns(report),
        rows=_statement_rows(report, other),
        selector=_range_selector(period),
        notes=period.errors,
    )


@requires("finance.view")
def cash_flow(request: HttpRequest) -> HttpResponse:
    period = period_of(request)
    report = reports.cash_flow(company=request.company, start=period.start, end=period.end)
    exported = _export(request, report, "cash-flow")
    if exported is not None:
        return exported
    notes = [] if report.reconciles else [_("The statement does not explain the change in cash.")]
    return _page(
        request,
        report=report,
        title=_("Cash-flow statement"),
        columns=_statement_columns(report),
        rows=_statement_rows(report),
        selector=_range_selector(period, comparison=False),
        notes=period.errors + notes,
    )


# --- general ledger and drill-down ------------------------------------------------------------


def _account_options() -> list[tuple[int, str]]:
    return [(a.pk, f"{a.code} {a.name}") for a in Account.objects.order_by("code")]


@requires("finance.view")
def general_ledger(request: HttpRequest) -> HttpResponse:
    company = request.company
    period = period_of(request)
    options = _account_options()
    raw = request.GET.get("account", "")
    account_id = int(raw) if raw.isdigit() else None
    selector = _range_selector(period, comparison=False, accounts=options, account=account_id)
    if account_id is None:
        return _page(request, report=None, title=_("General ledger"), columns=[], rows=[],
                     selector=selector, notes=[_("Choose an account.")])  # fmt: skip
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    exporting = request.GET.get("export") in ("csv", "xlsx", "pdf")
    try:
        report = reports.general_ledger(
            company=company,
            account=account_id,
            start=period.start,
            end=period.end,
            offset=0 if exporting else (page - 1) * LEDGER_PAGE,
            limit=None if exporting else LEDGER_PAGE,
        )
    except Account.DoesNotExist:
        raise Http404 from None
    exported = _export(request, report, f"general-ledger-{report.code}")
    if exported is not None:
        return exported
    currency = report.currency
    columns = [
        {"label": _("Date")}, {"label": _("Entry")}, {"label": _("Journal")},
        {"label": _("Label")}, {"label": _("Party")}, {"label": _("Debit"), "numeric": True},
        {"label": _("Credit"), "numeric": True}, {"label": _("Balance"), "numeric": True},
    ]  # fmt: skip
    drill = report.drilldown
    rows = []
    if page == 1:
        opening_from = (
            fiscal_year_start(company, period.start) if report.type in reports.PL_TYPES else None
        )
        rows.append({"cells": [_cell(period.start, currency), _cell("", currency), _cell("", currency),
                               _cell(_("Opening balance"), currency), _cell("", currency),
                               _cell(None, currency), _cell(None, currency),
                               _cell(report.opening, currency, drill_url(
                                   drill, start=opening_from, end=period.start - dt.timedelta(days=1),
                                   whole=opening_from is None))],
                     "style": "subtotal", "level": 0})  # fmt: skip
    for line in report.lines:
        entry_url = reverse("finance:entry_detail", args=[line.entry_id])
        rows.append({"cells": [
            _cell(line.date, currency),
            {"text": line.number or _("Draft"), "url": entry_url, "numeric": False},
            _cell(line.journal, currency), _cell(line.label or line.ref, currency),
            _cell(line.party, currency),
            _cell(line.debit or None, currency, entry_url), _cell(line.credit or None, currency, entry_url),
            _cell(line.balance, currency),
        ], "style": "", "level": 0})  # fmt: skip
    if not report.has_more:
        rows.append({"cells": [_cell(period.end, currency), _cell("", currency), _cell("", currency),
                               _cell(_("Total and closing balance"), currency), _cell("", currency),
                               _cell(report.debit, currency, drill_url(drill)),
                               _cell(report.credit, currency, drill_url(drill)),
                               _cell(report.closing, currency)],
                     "style": "total", "level": 0})  # fmt: skip
    query = request.GET.copy()
    pager = {"number": page, "count": report.line_count,
             "pages": max((report.line_count + LEDGER_PAGE - 1) // LEDGER_PAGE, 1)}  # fmt: skip
    if page > 1:
        query["page"] = str(page - 1)
        pager["previous"] = "?" + query.urlencode()
    if report.has_more:
        query["page"] = str(page + 1)
        pager["next"] = "?" + query.urlencode()
    return _page(request, report=report, title=_("General ledger"), columns=columns, rows=rows,
                 selector=selector, notes=period.errors, pager=pager)  # fmt: skip


@requires("finance.view")
def report_lines(request: HttpRequest) -> HttpResponse:
    """The posted lines behind a report figure: accounts (with sub-accounts), a date range,
    with or without the year-end closing entries; paginated."""
    company = request.company
    ids = [int(v) for v in request.GET.get("accounts", "").split(",") if v.strip().isdigit()]
    if not ids:
        return redirect("finance:trial_balance")
    start = parse_date(request.GET.get("start"))
    end = parse_date(request.GET.get("end"), today())
    include_closing = request.GET.get("closing", "1") != "0"
    try:
        page = max(int(request.GET.get("page", "1")), 1)
    except ValueError:
        page = 1
    try:
        lines = reports.drilldown_lines(
            company=company,
            account=tuple(ids),
            start=start,
            end=end,
            include_closing=include_closing,
            offset=(page - 1) * LINES_PAGE,
            limit=LINES_PAGE + 1,
        )
    except Account.DoesNotExist:
        raise Http404 from None
    has_more = len(lines) > LINES_PAGE
    lines = lines[:LINES_PAGE]
    names = {
        a.pk: f"{a.code} {a.name}"
        for a in Account.objects.filter(pk__in={line.account_id for line in lines} | set(ids))
    }
    currency = company.base_currency_id
    query = request.GET.copy()
    pager: dict[str, Any] = {"number": page}
    if page > 1:
        query["page"] = str(page - 1)
        pager["previous"] = "?" + query.urlencode()
    if has_more:
        query["page"] = str(page + 1)
        pager["next"] = "?" + query.urlencode()
    return render(
        request,
        "finance/report_lines.html",
        {
            "accounts": [names.get(pk, pk) for pk in ids],
            "start": start,
            "end": end,
            "include_closing": include_closing,
            "rows": [
                {
                    "line": line,
                    "account": names.get(line.account_id, line.account_id),
                    "debit": Amount(line.debit, currency, blank_zero=True),
                    "credit": Amount(line.credit, currency, blank_zero=True),
                    "amount_currency": Amount(line.amount_currency, line.currency)
                    if line.currency != currency
                    else None,
                }
                for line in lines
            ],
            "pager": pager,
        },
    )


# --- receivables ------------------------------------------------------------------------------


@requires("finance.view")
def aging(request: HttpRequest) -> HttpResponse:
    company = request.company
    kind = request.GET.get("kind", receivables.RECEIVABLE)
    kind = kind if kind in (receivables.RECEIVABLE, receivables.PAYABLE) else receivables.RECEIVABLE
    as_of = parse_date(request.GET.get("as_of"), today())
    raw = request.GET.get("buckets", "30,60,90")
    errors = []
    try:
        buckets = tuple(int(v) for v in raw.split(",") if v.strip())
        report = receivables.aging(company=company, kind=kind, as_of=as_of, buckets=buckets)
    except (ValueError, ValidationError) as exc:
        errors = (
            exc.messages
            if isinstance(exc, ValidationError)
            else [_("Give the buckets as days, e.g. 30,60,90.")]
        )
        buckets = (30, 60, 90)
        report = receivables.aging(company=company, kind=kind, as_of=as_of, buckets=buckets)
    currency = report.currency
    rows = [
        {
            "party": row.party,
            "statement": reverse("finance:customer_statement", args=[row.party.pk])
            if row.party and kind == receivables.RECEIVABLE
            else None,
            "amounts": [Amount(v, currency, blank_zero=True) for v in row.amounts],
            "total": Amount(row.total, currency),
        }
        for row in report.rows
    ]
    return render(
        request,
        "finance/aging.html",
        {
            "report": report,
            "kind": kind,
            "as_of": as_of,
            "buckets": ",".join(str(b) for b in buckets),
            "rows": rows,
            "totals": [Amount(v, currency) for v in report.totals],
            "total": Amount(report.total, currency),
            "errors": errors,
        },
    )


def _statement_range(request: HttpRequest) -> tuple[dt.date, dt.date]:
    end = parse_date(request.GET.get("end"), today())
    start = parse_date(request.GET.get("start"), fiscal_year_start(request.company, end))
    return (start, end) if start <= end else (end, start)


@requires("finance.view")
def customer_statement(request: HttpRequest, pk: int) -> HttpResponse:
    party = get_object_or_404(Party.objects, pk=pk)
    start, end = _statement_range(request)
    currency = request.GET.get("currency") or None
    statement = receivables.customer_statement(
        company=request.company, party=party, start=start, end=end, currency=currency
    )
    cur = statement.currency
    return render(
        request,
        "finance/customer_statement.html",
        {
            "statement": statement,
            "party": party,
            "opening": Amount(statement.opening, cur),
            "closing": Amount(statement.closing, cur),
            "overdue": Amount(statement.overdue, cur),
            "rows": [
                {
                    "row": row,
                    "debit": Amount(row.debit, cur, blank_zero=True),
                    "credit": Amount(row.credit, cur, blank_zero=True),
                    "balance": Amount(row.balance, cur),
                }
                for row in statement.rows
            ],
            "items": [
                {
                    "item": item,
                    "amount": Amount(item.amount, cur),
                    "residual": Amount(item.residual, cur),
                }
                for item in statement.open_items
            ],
            "pdf_url": reverse("finance:customer_statement_pdf", args=[pk])
            + "?"
            + urlencode(
                {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    **({"currency": currency} if currency else {}),
                }
            ),
        },
    )


@requires("finance.view")
def customer_statement_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    party = get_object_or_404(Party.objects, pk=pk)
    start, end = _statement_range(request)
    pdf = receivables.customer_statement_pdf(
        company=request.company,
        party=party,
        start=start,
        end=end,
        currency=request.GET.get("currency") or None,
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="statement-{party.code}-{end.isoformat()}.pdf"'
    )
    return response


def _dunning_currency(dunning: Dunning) -> str:
    return dunning.currency_id


DUNNING_LIST = ListScreen(
    key="finance-dunning",
    title=gettext_lazy("Dunning letters"),
    columns=[
        Column("date", gettext_lazy("Date"), order_by="date", link=True),
        Column("party", gettext_lazy("Customer"), accessor="party__name", order_by="party__name"),
        Column("level", gettext_lazy("Level"), accessor="level__name", order_by="level__level"),
        amount_column(
            "amount_due", gettext_lazy("Amount overdue"), "amount_due", order_by="amount_due"
        ),
        Column("currency", gettext_lazy("Currency"), accessor="currency_id"),
    ],  # fmt: skip
    search_fields=["party__name", "party__code"],
    filters=[
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],
    default_sort="-date",
    detail_url=lambda d: reverse("finance:dunning_pdf", args=[d.pk]),
)


@requires("finance.view")
def dunning_list(request: HttpRequest) -> HttpResponse:
    dunnings = Dunning.objects.select_related("party", "level")
    return finance_list(
        request,
        DUNNING_LIST,
        dunnings,
        extra={"can_run": has_perm(request, "finance.invoice"), "today": today()},
        template="finance/dunning_list.html",
    )


@require_POST
@requires("finance.invoice")
def dunning_run(request: HttpRequest) -> HttpResponse:
    date = parse_date(request.POST.get("date"), today())
    created = receivables.dunning_run(company=request.company, actor=request.user, date=date)
    if created:
        messages.success(request, _("%(count)s reminders created.") % {"count": len(created)})
    else:
        messages.info(request, _("No customer needs a reminder on %(date)s.") % {"date": date})
    return redirect("finance:dunning_list")


@requires("finance.view")
def dunning_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    dunning = get_object_or_404(Dunning.objects.select_related("party"), pk=pk)
    response = HttpResponse(
        receivables.dunning_pdf(dunning=dunning), content_type="application/pdf"
    )
    response["Content-Disposition"] = (
        f'inline; filename="reminder-{dunning.party.code}-{dunning.date.isoformat()}.pdf"'
    )
    return response


urlpatterns = [
    path("reports/trial-balance/", trial_balance, name="trial_balance"),
    path("reports/general-ledger/", general_ledger, name="general_ledger"),
    path("reports/balance-sheet/", balance_sheet, name="balance_sheet"),
    path("reports/profit-and-loss/", profit_and_loss, name="profit_and_loss"),
    path("reports/cash-flow/", cash_flow, name="cash_flow"),
    path("reports/lines/", report_lines, name="report_lines"),
    path("aging/", aging, name="aging"),
    path("customer-statements/<int:pk>/", customer_statement, name="customer_statement"),
    path(
        "customer-statements/<int:pk>/pdf/", customer_statement_pdf, name="customer_statement_pdf"
    ),
    path("dunning/", dunning_list, name="dunning_list"),
    path("dunning/run/", dunning_run, name="dunning_run"),
    path("dunning/<int:pk>/pdf/", dunning_pdf, name="dunning_pdf"),
]
