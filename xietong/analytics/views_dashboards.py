"""Screens of the role dashboards: `/analytics/dashboards/` shows the role dashboard(s) the
user's roles give (a switcher, `?board=`, when several; an executive may open every one) and
below it "My pinned views", each tile a small table, key figures or an ECharts chart computed
from the warehouse at each request (`dashboards.py`), linking to the pivot, 7P or forecast
screen for drill-down. Pinning a saved view (from the pivot screen), unpinning and moving a pin
are POSTs here. Scope as in the pivot: the active company, and without `analytics.manage` only
one's own customers. Permission: `analytics.dashboard`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from xietong.analytics import dashboards
from xietong.analytics import pivot as olap
from xietong.analytics.models import DashboardPin
from xietong.analytics.views import query_of
from xietong.core.permissions import has_perm, requires

PERMISSION = "analytics.dashboard"
LINK_PERMISSIONS = {"analytics:customers": "analytics.view",
                    "analytics:forecast": "analytics.forecast"}  # fmt: skip
MAX_SERIES = 12
SECOND_AXIS_RATIO = 20


def _role_codes(request: HttpRequest) -> set[str]:
    membership = getattr(request, "membership", None)
    return set() if membership is None else {r.code for r in membership.roles.all()}


def _see_all(request: HttpRequest) -> bool:
    return has_perm(request, "analytics.manage")


def _number(value: Any) -> float:
    return float(value or 0)


def _chart(display: str, labels: list[str], series: list[tuple[str, list[Any]]]
           ) -> dict[str, Any]:  # fmt: skip
    """The ECharts option of a tile: bars, lines or a pie of the first series."""
    if display == "pie":
        name, values = series[0] if series else ("", [])
        return {"tooltip": {"trigger": "item"},
                "series": [{"name": name, "type": "pie", "radius": "65%",
                            "data": [{"name": label, "value": _number(v)}
                                     for label, v in zip(labels, values, strict=True)]}]}  # fmt: skip
    series = series[:MAX_SERIES]
    peaks = [max((abs(_number(v)) for v in values), default=0.0) for _name, values in series]
    top = max(peaks, default=0.0)
    # A series more than twenty times below the largest (orders beside revenue) gets a second
    # axis on the right, so that it does not lie flat on zero.
    small = [bool(top) and peak * SECOND_AXIS_RATIO < top for peak in peaks]
    axes: Any = {"type": "value"}
    if any(small):
        axes = [{"type": "value"}, {"type": "value", "splitLine": {"show": False}}]
    return {"tooltip": {"trigger": "axis"}, "legend": {}, "grid": {"containLabel": True},
            "xAxis": {"type": "category", "data": labels}, "yAxis": axes,
            "series": [{"name": name, "type": "line" if display == "line" else "bar",
                        "data": [_number(v) for v in values], "yAxisIndex": int(low)}
                       for (name, values), low in zip(series, small, strict=True)]}  # fmt: skip


def _pivot_view(answer: olap.PivotResult, display: str) -> dict[str, Any]:
    """A pivot answer as a tile: its first rows (the row key joined) with the totals, and a
    chart of all rows."""
    measures = [m for m in answer.measures if m not in answer.skipped]
    columns = answer.column_keys or [()]
    keyed = bool(answer.rows)
    header = [" / ".join(str(olap.DIMENSIONS[d].label) for d in answer.rows)] * keyed
    shown = {c: olap.labelled(answer.columns, c) for c in columns}
    header += [" ".join([*shown[c], str(olap.MEASURES[m].label)]) for c in columns
               for m in measures]  # fmt: skip
    rows = [[" / ".join(olap.labelled(answer.rows, key))] * keyed
            + [answer.cells.get((key, c), {}).get(m)
                                         for c in columns for m in measures]
            for key in answer.row_keys[:dashboards.TABLE_ROWS]]  # fmt: skip
    footer = [_("Total")] * keyed + [
        (answer.column_totals.get(c, {}) if answer.columns else answer.total).get(m)
        for c in columns for m in measures]  # fmt: skip
    labels = [" / ".join(olap.labelled(answer.rows, k)) or _("Total") for k in answer.row_keys]
    series = [(" ".join([*shown[c], str(olap.MEASURES[m].label)]),
               [answer.cells.get((k, c), {}).get(m) for k in answer.row_keys])
              for c in columns for m in measures]  # fmt: skip
    counted = [olap.MEASURES[m].kind in ("count", "distinct") for m in measures] * len(columns)
    view: dict[str, Any] = {
        "table": {"header": header, "rows": rows, "footer": footer,
                  "ints": [i + keyed for i, whole in enumerate(counted) if whole],
                  "more": max(0, len(answer.row_keys) - dashboards.TABLE_ROWS)},
        "skipped_measures": [str(olap.MEASURES[m].label) for m in answer.skipped],
        "empty": not answer.row_keys,
    }  # fmt: skip
    if display != "table" and answer.row_keys:
        view["chart"] = _chart(display, labels, series)
    return view


def _column_kinds(table: dict[str, Any]) -> None:
    """Mark the table's columns (after the first) holding only whole numbers (`ints`, shown
    without decimals) or text (`texts`, shown as they are)."""
    ints, texts = set(table.get("ints") or ()), set()
    for index in range(1, len(table["header"])):
        values = [row[index] for row in table["rows"] if row[index] is not None]
        if any(isinstance(v, str) for v in values):
            texts.add(index)
        elif values and all(isinstance(v, int) for v in values):
            ints.add(index)
    table["ints"], table["texts"] = sorted(ints), sorted(texts)


def _pivot_link(request: HttpRequest, definition: dict[str, Any] | None) -> str:
    if not definition or not has_perm(request, "analytics.view"):
        return ""
    return reverse("analytics:pivot") + "?" + query_of(definition)


def tile_view(request: HttpRequest, tile: dashboards.Tile) -> dict[str, Any]:
    """What the template needs of one role tile (computed now from the warehouse)."""
    answer = dashboards.tile_answer(tile=tile, company=request.company, user=request.user,
                                    see_all=_see_all(request))  # fmt: skip
    view: dict[str, Any] = {"id": f"tile-{tile.key}", "chart_id": f"tile-{tile.key}-chart",
                            "title": tile.title, "display": tile.display}  # fmt: skip
    if tile.link:
        needed = LINK_PERMISSIONS.get(tile.link, PERMISSION)
        view["link"] = reverse(tile.link) if has_perm(request, needed) else ""
    else:
        view["link"] = _pivot_link(request, tile.definition)
    if "pivot" in answer:
        view.update(_pivot_view(answer["pivot"], tile.display))
    for key in ("error", "skipped", "no_7p", "no_forecast", "figures"):
        if answer.get(key) and not view.get(key):
            view[key] = answer[key]
    if "table" in answer and "pivot" not in answer:
        view["table"] = answer["table"]
        view["empty"] = not answer["table"]["rows"]
    if view.get("table"):
        _column_kinds(view["table"])
    if "series" in answer and tile.display != "table":
        labels, series = answer["series"]
        view["chart"] = _chart(tile.display, labels, series) if labels else None
    return view


def pin_view(request: HttpRequest, pin: DashboardPin) -> dict[str, Any]:
    answer = dashboards.pivot_tile(definition=pin.view.definition, company=request.company,
                                   user=request.user, see_all=_see_all(request))  # fmt: skip
    view: dict[str, Any] = {"id": f"pin-{pin.pk}", "chart_id": f"pin-{pin.pk}-chart",
                            "title": pin.view.name, "pin": pin,
                            "display": pin.display,
                            "link": reverse("analytics:pivot") + f"?view={pin.view_id}"}  # fmt: skip
    if "pivot" in answer:
        view.update(_pivot_view(answer["pivot"], pin.display))
    if answer.get("error"):
        view["error"] = answer["error"]
    if answer.get("skipped"):
        view["skipped"] = True
    return view


@requires(PERMISSION)
def dashboard_screen(request: HttpRequest) -> HttpResponse:
    boards = dashboards.dashboards_for(role_codes=_role_codes(request))
    chosen = request.GET.get("board") or ""
    board = next((b for b in boards if b.code == chosen), boards[0] if boards else None)
    state = dashboards.warehouse_state(company=request.company)
    pins = dashboards.pins_of(company=request.company, user=request.user)
    context: dict[str, Any] = {
        "boards": boards, "board": board, "state": state, "pins": pins,
        "can_manage": _see_all(request), "displays": DashboardPin.Display.choices,
    }  # fmt: skip
    if not state["empty"]:
        context["tiles"] = ([tile_view(request, t) for t in dashboards.dashboard_tiles(board)]
                            if board else [])  # fmt: skip
        context["pinned"] = [pin_view(request, p) for p in pins]
    return render(request, "analytics/dashboards/dashboard.html", context)


def _pin_change(request: HttpRequest, change: Callable[[], Any], done: str = "") -> HttpResponse:
    """Run one change of the user's pins; a refusal becomes an error message (nothing changed),
    success the `done` message; back to the pinned views either way."""
    try:
        change()
    except ValidationError as exc:
        messages.error(request, " ".join(m for v in exc.message_dict.values() for m in v))
    else:
        if done:
            messages.success(request, done)
    return redirect(reverse("analytics:dashboards") + "#pinned")


@require_POST
@requires(PERMISSION)
def dashboard_pin(request: HttpRequest) -> HttpResponse:
    return _pin_change(request, lambda: dashboards.dashboard_pin_add(
        company=request.company, actor=request.user, view_id=request.POST.get("view"),
        display=request.POST.get("display") or DashboardPin.Display.TABLE,
    ), _("View pinned to your dashboard."))  # fmt: skip


@require_POST
@requires(PERMISSION)
def dashboard_unpin(request: HttpRequest) -> HttpResponse:
    return _pin_change(request, lambda: dashboards.dashboard_pin_remove(
        company=request.company, actor=request.user, pin_id=request.POST.get("pin"),
    ), _("View unpinned."))  # fmt: skip


@require_POST
@requires(PERMISSION)
def dashboard_move(request: HttpRequest) -> HttpResponse:
    return _pin_change(request, lambda: dashboards.dashboard_pin_move(
        company=request.company, actor=request.user, pin_id=request.POST.get("pin"),
        direction=request.POST.get("direction", ""),
    ))  # fmt: skip


urlpatterns: list[URLPattern] = [
    path("dashboards/", dashboard_screen, name="dashboards"),
    path("dashboards/pin/", dashboard_pin, name="dashboard_pin"),
    path("dashboards/unpin/", dashboard_unpin, name="dashboard_unpin"),
    path("dashboards/move/", dashboard_move, name="dashboard_move"),
]


def register() -> None:
    """Add the dashboards to the navigation (called from AnalyticsConfig.ready)."""
    from django.utils.translation import gettext_lazy

    from xietong.core import menu

    menu.add("analytics", gettext_lazy("Dashboards"), "analytics:dashboards", PERMISSION, 5)
