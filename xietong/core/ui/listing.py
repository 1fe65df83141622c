"""The list pattern: search, filters, sort, HTMX pagination, column choice, CSV/XLSX export.

A screen declares a `ListScreen` (columns, search fields, filters) and its view calls
`list_response(request, screen, queryset)`. Sort keys and filter names are checked against the
declaration (never passed raw to the ORM); the export holds exactly the filtered, sorted rows
in the chosen columns.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

EXPORT_LIMIT = 100_000


@dataclass(frozen=True)
class Column:
    name: str
    label: str | Promise
    accessor: str | Callable[[Any], Any] | None = None  # attribute path with "__" or a callable
    order_by: str | None = None  # ORM field to sort by; None = not sortable
    link: bool = False  # render as a link to the row's detail page
    default: bool = True  # shown unless the user chose otherwise

    def value(self, row: Any) -> Any:
        accessor = self.accessor or self.name
        if callable(accessor):
            return accessor(row)
        value = row
        for part in accessor.split("__"):
            value = getattr(value, part, None)
            if value is None:
                return None
        if callable(value):
            value = value()
        return value


@dataclass(frozen=True)
class Filter:
    name: str
    label: str | Promise
    lookup: str  # ORM lookup the value is applied to, e.g. "currency_id" or "date__gte"
    kind: str = "choice"  # choice | date | text
    choices: Callable[[HttpRequest], list[tuple[str, str]]] | None = None

    def parse(self, raw: str) -> Any:
        if self.kind == "date":
            return dt.date.fromisoformat(raw)
        return raw


@dataclass
class ListScreen:
    key: str
    title: str | Promise
    columns: list[Column]
    search_fields: list[str] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    default_sort: str = ""
    page_size: int = 25
    detail_url: Callable[[Any], str] | None = None
    actions: list[tuple[str | Promise, str, str]] = field(default_factory=list)  # label, url, perm

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass
class ListState:
    q: str
    filters: dict[str, str]
    sort: str
    page: int
    columns: list[Column]
    errors: list[str]

    def querystring(self, **overrides: Any) -> str:
        from urllib.parse import urlencode

        params: dict[str, Any] = {"q": self.q, **self.filters, "sort": self.sort, "page": self.page}
        params["cols"] = ",".join(c.name for c in self.columns)
        params.update(overrides)
        return urlencode({k: v for k, v in params.items() if v not in ("", None)})


def _state(request: HttpRequest, screen: ListScreen) -> ListState:
    errors = []
    q = request.GET.get("q", "").strip()[:100]
    filters = {
        f.name: request.GET[f.name].strip()
        for f in screen.filters
        if request.GET.get(f.name, "").strip()
    }
    sort = request.GET.get("sort", screen.default_sort)
    column = screen.column(sort.lstrip("-"))
    if sort and (column is None or column.order_by is None):
        errors.append(str(_("Cannot sort by “%(name)s”.") % {"name": sort}))
        sort = screen.default_sort
    try:
        page = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        page = 1
    session_key = f"list-cols:{screen.key}"
    if "cols" in request.GET:
        picked = {name for value in request.GET.getlist("cols") for name in value.split(",")}
        chosen = [c for c in screen.columns if c.name in picked]
        if chosen:
            request.session[session_key] = [c.name for c in chosen]
    names = request.session.get(session_key)
    columns = [c for c in screen.columns if (c.name in names if names else c.default)]
    return ListState(q, filters, sort, page, columns or screen.columns, errors)


def apply(screen: ListScreen, queryset: QuerySet, state: ListState) -> QuerySet:
    if state.q and screen.search_fields:
        condition = Q()
        for name in screen.search_fields:
            condition |= Q(**{f"{name}__icontains": state.q})
        queryset = queryset.filter(condition)
    for flt in screen.filters:
        raw = state.filters.get(flt.name)
        if raw is None:
            continue
        try:
            queryset = queryset.filter(**{flt.lookup: flt.parse(raw)})
        except (ValueError, TypeError):
            state.errors.append(
                str(_("“%(value)s” is not a valid %(label)s.") % {"value": raw, "label": flt.label})
            )
    if state.sort:
        column = screen.column(state.sort.lstrip("-"))
        assert column is not None and column.order_by
        prefix = "-" if state.sort.startswith("-") else ""
        queryset = queryset.order_by(f"{prefix}{column.order_by}", f"{prefix}pk")
    elif not queryset.ordered:
        queryset = queryset.order_by("-pk")
    return queryset


def _plain(value: Any) -> Any:
    """A cell as a spreadsheet value; a cell object may give its own (`export_value`, e.g. an
    amount shown formatted on screen but exported as a number)."""
    if hasattr(value, "export_value"):
        return value.export_value
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(_("Yes") if value else _("No"))
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).replace(tzinfo=None) if timezone.is_aware(value) else value
    if isinstance(value, (dt.date, Decimal, int, float)):
        return value
    return str(value)


def export(screen: ListScreen, queryset: QuerySet, state: ListState, fmt: str) -> HttpResponse:
    rows = queryset[:EXPORT_LIMIT]
    headers = [str(c.label) for c in state.columns]
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    filename = f"{screen.key}-{stamp}"
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=str(screen.title)[:31])
        sheet.append(headers)
        for row in rows:
            sheet.append([_plain(c.value(row)) for c in state.columns])
        buffer = io.BytesIO()
        workbook.save(buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}.xlsx"'
        return response
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_plain(c.value(row)) for c in state.columns])
    response = HttpResponse("\ufeff" + text.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}.csv"'
    return response


def list_response(
    request: HttpRequest,
    screen: ListScreen,
    queryset: QuerySet,
    *,
    template: str = "core/list.html",
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    """Render the list page, its HTMX table fragment, or an export (`?export=csv|xlsx`)."""
    state = _state(request, screen)
    queryset = apply(screen, queryset, state)
    fmt = request.GET.get("export")
    if fmt in {"csv", "xlsx"}:
        return export(screen, queryset, state, fmt)
    paginator = Paginator(queryset, screen.page_size)
    page = paginator.get_page(state.page)
    state.page = page.number
    rows = [
        {
            "cells": [c.value(row) for c in state.columns],
            "url": screen.detail_url(row) if screen.detail_url else None,
        }
        for row in page.object_list
    ]
    filters = [
        {
            "filter": f,
            "value": state.filters.get(f.name, ""),
            "choices": f.choices(request) if f.choices else [],
        }
        for f in screen.filters
    ]
    context = {
        "screen": screen,
        "state": state,
        "page": page,
        "rows": rows,
        "filters": filters,
        "columns": state.columns,
        "all_columns": screen.columns,
        "formats": formats,
        **(extra or {}),
    }
    if getattr(request, "htmx", False) and not request.htmx.boosted:
        return render(request, "core/_list_table.html", context)
    return render(request, template, context)
