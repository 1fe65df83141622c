"""The pivot screen: choose measures, row and column dimensions, filters and sort; drill down
(a row value → its child level, filtered on it) and up; totals; a chart (ECharts); export as
CSV or XLSX; save, share and delete views; refresh the warehouse (a background job). Each view
parses input, calls one selector or service and renders; HTMX requests get the result part
only. Scope: the active company, and without `analytics.manage` one's own customers."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from xietong.analytics import pivot as olap
from xietong.analytics import selectors, services
from xietong.analytics.models import SavedPivot
from xietong.core import jobs
from xietong.core.permissions import has_perm, requires

DEFAULT = {"measures": ["revenue"], "rows": ["year"], "columns": [], "filters": {},
           "sort": {"by": "label", "desc": False}, "chart": "bar"}  # fmt: skip
PARENT = {d.child: name for name, d in olap.DIMENSIONS.items()
          if d.child and name not in {"week", "top_category", "customer_group", "salesperson",
                                      "country"}}  # fmt: skip


def definition_from(params: Any) -> dict[str, Any]:
    """The pivot definition of a query string: m=, r=, c= (repeated), f_<dimension>=,
    sort=, desc=1, chart=."""
    if not any(k in params for k in ("m", "r", "c")):
        return dict(DEFAULT)
    return {
        "measures": params.getlist("m"), "rows": params.getlist("r"),
        "columns": params.getlist("c"),
        "filters": {key[2:]: params.getlist(key) for key in params
                    if key.startswith("f_") and key[2:] in olap.DIMENSIONS},
        "sort": {"by": params.get("sort") or "label", "desc": params.get("desc") == "1"},
        "chart": params.get("chart") or "bar",
    }  # fmt: skip


def query_of(definition: dict[str, Any]) -> str:
    pairs: list[tuple[str, str]] = [("m", m) for m in definition["measures"]]
    pairs += [("r", d) for d in definition["rows"]] + [("c", d) for d in definition["columns"]]
    for key, values in definition["filters"].items():
        pairs += [(f"f_{key}", v) for v in values]
    if definition["sort"]["by"] != "label":
        pairs.append(("sort", definition["sort"]["by"]))
    if definition["sort"]["desc"]:
        pairs.append(("desc", "1"))
    pairs.append(("chart", definition.get("chart") or "bar"))
    return urlencode(pairs)


def _see_all(request: HttpRequest) -> bool:
    return has_perm(request, "analytics.manage")


def _answer(request: HttpRequest, definition: dict[str, Any]) -> olap.PivotResult:
    return selectors.pivot_answer(company=request.company, user=request.user,
                                  see_all=_see_all(request), definition=definition)  # fmt: skip


def _drill(definition: dict[str, Any]) -> dict[str, Any]:
    """Links to drill down on each value of the last row dimension, and up one level."""
    rows = definition["rows"]
    if not rows:
        return {}
    last = rows[-1]
    child = olap.DIMENSIONS[last].child
    out: dict[str, Any] = {}
    if child and child not in rows and child not in definition["columns"]:
        out["down"] = (last, child)
    parent = PARENT.get(last)
    if parent and parent in definition["filters"]:
        up = {
            **definition,
            "rows": [*rows[:-1], parent],
            "filters": {k: v for k, v in definition["filters"].items() if k != parent},
        }
        out["up"] = "?" + query_of(up)
    return out


def _drill_link(definition: dict[str, Any], key: tuple[str, ...], dims: tuple[str, str]) -> str:
    last, child = dims
    down = {
        **definition,
        "rows": [*definition["rows"][:-1], child],
        "filters": {**definition["filters"], last: [key[-1]]},
    }
    for dim, value in zip(definition["rows"][:-1], key[:-1], strict=True):
        down["filters"][dim] = [value]
    return "?" + query_of(down)


def _table(definition: dict[str, Any], result: olap.PivotResult) -> dict[str, Any]:
    drill = _drill(definition)
    columns = result.column_keys or [()]
    measures = [m for m in result.measures if m not in result.skipped]
    body = []
    for key in result.row_keys:
        cells = [result.cells.get((key, c), {}).get(m) for c in columns for m in measures]
        body.append({"key": key, "labels": olap.labelled(result.rows, key), "cells": cells,
                     "totals": [result.row_totals.get(key, {}).get(m) for m in measures],
                     "down": _drill_link(definition, key, drill["down"]) if "down" in drill
                     else ""})  # fmt: skip
    footer = [result.column_totals.get(c, {}).get(m) for c in columns for m in measures]
    chart = {
        "tooltip": {"trigger": "axis"}, "legend": {},
        "xAxis": {"type": "category", "data": [" / ".join(olap.labelled(result.rows, k))
                                                 or _("Total") for k in result.row_keys]},
        "yAxis": {"type": "value"},
        "series": [{"name": f"{' / '.join(olap.labelled(result.columns, c))} "
                            f"{olap.MEASURES[m].label}".strip(),
                    "type": "line" if definition.get("chart") == "line" else "bar",
                    "data": [float(result.cells.get((k, c), {}).get(m) or 0)
                             for k in result.row_keys]}
                   for c in columns for m in measures][:24],
    }  # fmt: skip
    return {"columns": [olap.labelled(result.columns, c) for c in columns],
            "measures": measures, "body": body, "footer": footer,
            "total": [result.total.get(m) for m in measures], "drill": drill, "chart": chart,
            "measure_labels": [olap.MEASURES[m].label for m in measures],
            "skipped": [olap.MEASURES[m].label for m in result.skipped]}  # fmt: skip


def _load_saved(request: HttpRequest) -> SavedPivot | None:
    pk = request.GET.get("view")
    if not pk:
        return None
    try:
        return selectors.saved_pivots_visible(company=request.company,
                                              user=request.user).get(pk=int(pk))  # fmt: skip
    except (SavedPivot.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


@requires("analytics.view")
def pivot_screen(request: HttpRequest) -> HttpResponse:
    saved = _load_saved(request)
    definition = dict(saved.definition) if saved else definition_from(request.GET)
    context: dict[str, Any] = {
        "definition": definition, "query": query_of(definition), "saved": saved,
        "measures": [(k, m.label) for k, m in olap.MEASURES.items()],
        "dimensions": [(k, d.label) for k, d in olap.DIMENSIONS.items()],
        "views": selectors.saved_pivots_visible(company=request.company, user=request.user),
        "can_manage": _see_all(request),
    }  # fmt: skip
    try:
        definition = services.definition_clean(definition)
        context["table"] = _table(definition, _answer(request, definition))
        context["filter_choices"] = [
            (name, olap.DIMENSIONS[name].label, definition["filters"].get(name, []),
             selectors.filter_values(company=request.company, user=request.user,
                                     see_all=_see_all(request), dimension=name))
            for name in dict.fromkeys([*definition["rows"], *definition["columns"],
                                       *definition["filters"]])
        ]  # fmt: skip
    except ValidationError as exc:
        context["error"] = " ".join(m for v in exc.message_dict.values() for m in v)
    template = "analytics/_result.html" if request.htmx else "analytics/pivot.html"
    return render(request, template, context)


def _export_rows(definition: dict[str, Any], result: olap.PivotResult) -> list[list[Any]]:
    measures = [m for m in result.measures if m not in result.skipped]
    columns = result.column_keys or [()]
    header = [str(olap.DIMENSIONS[d].label) for d in result.rows]
    header += [" / ".join([*olap.labelled(result.columns, c), str(olap.MEASURES[m].label)])
               for c in columns for m in measures]  # fmt: skip
    header += [f"{_('Total')} {olap.MEASURES[m].label}" for m in measures] if result.columns else []
    rows = [header]
    for key in result.row_keys:
        line: list[Any] = list(olap.labelled(result.rows, key))
        line += [result.cells.get((key, c), {}).get(m) for c in columns for m in measures]
        if result.columns:
            line += [result.row_totals.get(key, {}).get(m) for m in measures]
        rows.append(line)
    total: list[Any] = [_("Total")] + [""] * (len(result.rows) - 1) if result.rows else []
    total += [result.column_totals.get(c, {}).get(m) for c in columns for m in measures]
    if result.columns:
        total += [result.total.get(m) for m in measures]
    rows.append(total)
    return rows


@requires("analytics.view")
def pivot_export(request: HttpRequest) -> HttpResponse:
    definition = definition_from(request.GET)
    fmt = request.GET.get("format", "csv")
    try:
        definition = services.definition_clean(definition)
    except ValidationError as exc:
        return HttpResponse(" ".join(exc.messages), status=400, content_type="text/plain")
    rows = _export_rows(definition, _answer(request, definition))
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = "pivot"
        for row in rows:
            sheet.append([v if v is None or isinstance(v, int | str) else float(v) for v in row])
        buffer = io.BytesIO()
        book.save(buffer)
        response = HttpResponse(
            buffer.getvalue(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
        response["Content-Disposition"] = 'attachment; filename="pivot.xlsx"'
        return response
    text = io.StringIO()
    writer = csv.writer(text)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    response = HttpResponse(text.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="pivot.csv"'
    return response


@require_POST
@requires("analytics.view")
def view_save(request: HttpRequest) -> HttpResponse:
    definition = definition_from(request.POST)
    shared = request.POST.get("shared") == "1" and _see_all(request)
    try:
        view = services.saved_pivot_create(company=request.company, actor=request.user,
                                           name=request.POST.get("name", ""),
                                           definition=definition, shared=shared)  # fmt: skip
    except ValidationError as exc:
        messages.error(request, " ".join(m for v in exc.message_dict.values() for m in v))
        return redirect(reverse("analytics:pivot") + "?" + query_of(definition))
    messages.success(request, _("View saved."))
    return redirect(reverse("analytics:pivot") + f"?view={view.pk}")


def _own_view(request: HttpRequest) -> SavedPivot:
    try:
        return SavedPivot.unscoped.get(company=request.company, owner=request.user,
                                       pk=int(request.POST.get("view", "")))  # fmt: skip
    except (SavedPivot.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


@require_POST
@requires("analytics.manage")
def view_share(request: HttpRequest) -> HttpResponse:
    view = _own_view(request)
    services.saved_pivot_share(view=view, actor=request.user,
                               shared=request.POST.get("shared") == "1")  # fmt: skip
    messages.success(request, _("View shared.") if view.shared else _("View no longer shared."))
    return redirect(reverse("analytics:pivot") + f"?view={view.pk}")


@require_POST
@requires("analytics.view")
def view_delete(request: HttpRequest) -> HttpResponse:
    services.saved_pivot_delete(view=_own_view(request), actor=request.user)
    messages.success(request, _("View deleted."))
    return redirect("analytics:pivot")


@require_POST
@requires("analytics.manage")
def refresh(request: HttpRequest) -> HttpResponse:
    job = jobs.job_start(company=request.company, actor=request.user, kind="analytics.refresh",
                         name=_("Refresh the analytics warehouse"),
                         full=request.POST.get("full") == "1")  # fmt: skip
    messages.success(request, _("The warehouse refresh has started."))
    return redirect("core:job_detail", job.pk)


urlpatterns = [
    path("", pivot_screen, name="pivot"),
    path("export/", pivot_export, name="pivot_export"),
    path("views/save/", view_save, name="view_save"),
    path("views/share/", view_share, name="view_share"),
    path("views/delete/", view_delete, name="view_delete"),
    path("refresh/", refresh, name="refresh"),
]
