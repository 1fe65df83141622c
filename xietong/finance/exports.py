"""Exports of the financial reports (`xietong.finance.reports`) to CSV, XLSX and PDF.

Generic over the report dataclasses: each gives its title, company, period and currency and
`table()`, its columns and flattened rows (with a style: group, section, subtotal, total, and an
indentation level). Amounts are rounded to the currency's minor unit. CSV is UTF-8 with a BOM
(so spreadsheet programs read Chinese names), a header row, plain numbers with a dot; XLSX keeps
numbers and dates as such with a number format, bold header and totals and indented labels;
the PDF is rendered with `core.pdf` from `finance/pdf/report.html`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

from django.utils import translation

from xietong.core.models import Company
from xietong.core.pdf import pdf_render
from xietong.finance.reports import Column, Report, TableRow

XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
EMPHASIS = {"group", "section", "subtotal", "total"}


def _quantum(places: int) -> Decimal:
    return Decimal(1).scaleb(-places)


def _plain(value: Any, column: Column, places: int) -> str:
    """A cell as CSV text: amounts with the currency's decimals, dates ISO."""
    if value is None:
        return ""
    if column.kind == "amount" and isinstance(value, Decimal):
        return format(value.quantize(_quantum(places)), "f")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _display(value: Any, column: Column, places: int) -> str:
    """A cell as printed text: amounts with thousands separators."""
    if value is None:
        return ""
    if column.kind == "amount" and isinstance(value, Decimal):
        return f"{value.quantize(_quantum(places)):,.{places}f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def report_csv(report: Report) -> bytes:
    """The report's table as UTF-8 CSV (with BOM): a header row, then one row per table row;
    the label of an indented row is not padded, the level is its own column."""
    columns, rows = report.table()
    places = report.places
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow([str(c.label) for c in columns] + ["level", "style"])
    for row in rows:
        writer.writerow(
            [_plain(v, c, places) for v, c in zip(row.cells, columns, strict=True)]
            + [row.level, row.style]
        )
    return ("\ufeff" + text.getvalue()).encode()


def _number_format(places: int) -> str:
    decimals = "." + "0" * places if places else ""
    return f"#,##0{decimals};-#,##0{decimals}"


def report_xlsx(report: Report) -> bytes:
    """The report as an XLSX workbook: title, company and period on top, then a bold header
    row and the table (numbers as numbers with the currency's decimals, dates as dates,
    labels indented by level, group, subtotal and total rows in bold)."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Border, Font, Side
    from openpyxl.utils import get_column_letter

    columns, rows = report.table()
    places = report.places
    quantum = _quantum(places)
    amount_format = _number_format(places)
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(str(report.title)))
    for index, column in enumerate(columns, start=1):
        width = {"amount": 16, "date": 12}.get(column.kind, 12)
        if column.key in ("account", "label"):
            width = 44
        sheet.column_dimensions[get_column_letter(index)].width = width
    header_row = 5
    sheet.freeze_panes = f"A{header_row + 1}"
    bold = Font(bold=True)
    top_line = Border(top=Side(style="thin"))

    def cell(value: Any, **style: Any) -> WriteOnlyCell:
        c = WriteOnlyCell(sheet, value=value)
        for name, setting in style.items():
            setattr(c, name, setting)
        return c

    sheet.append([cell(str(report.title), font=Font(bold=True, size=14))])
    sheet.append([report.company_name])
    sheet.append([f"{report.period_label} ({report.currency})"])
    sheet.append([])
    sheet.append([cell(str(c.label), font=bold) for c in columns])
    label_index = next((i for i, c in enumerate(columns) if c.key in ("account", "label")), None)
    for row in rows:
        emphasis = row.style in EMPHASIS
        line: list[Any] = []
        for index, (value, column) in enumerate(zip(row.cells, columns, strict=True)):
            style: dict[str, Any] = {}
            if emphasis:
                style["font"] = bold
            if row.style == "total":
                style["border"] = top_line
            if column.kind == "amount" and isinstance(value, Decimal):
                value = value.quantize(quantum)
                style["number_format"] = amount_format
            elif isinstance(value, dt.date):
                style["number_format"] = "yyyy-mm-dd"
            elif value is not None and not isinstance(value, (int, float)):
                value = str(value)
            if index == label_index and row.level:
                style["alignment"] = Alignment(indent=row.level)
            line.append(cell(value, **style) if style else value)
        sheet.append(line)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _sheet_title(title: str) -> str:
    for char in "[]:*?/\\":
        title = title.replace(char, " ")
    return title[:31] or "Report"


def report_pdf(report: Report, *, company: Company, language: str | None = None) -> bytes:
    """The report as a PDF in `language` (the active one when None): title, company, period,
    the table with its totals; landscape when it has more than four amount columns."""
    with translation.override(language or translation.get_language()):
        columns, rows = report.table()
        places = report.places
        label_index = next(
            (i for i, c in enumerate(columns) if c.key in ("account", "label")), None
        )
        table_rows = [_pdf_row(row, columns, places, label_index) for row in rows]
        context = {
            "company": company,
            "title": str(report.title),
            "period": report.period_label,
            "currency": report.currency,
            "columns": [{"label": str(c.label), "numeric": c.kind == "amount"} for c in columns],
            "rows": table_rows,
            "landscape": sum(c.kind == "amount" for c in columns) > 4,
        }
        return pdf_render(template="finance/pdf/report.html", context=context, language=language)


def _pdf_row(
    row: TableRow, columns: list[Column], places: int, label_index: int | None
) -> dict[str, Any]:
    return {
        "style": row.style,
        "cells": [
            {
                "text": _display(value, column, places),
                "numeric": column.kind == "amount",
                "indent": row.level if index == label_index else 0,
            }
            for index, (value, column) in enumerate(zip(row.cells, columns, strict=True))
        ],
    }
