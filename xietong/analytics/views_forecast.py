"""Screens of analytics: demand forecast. The list of the company's forecast series (class,
chosen model, backtest MASE and WAPE against the seasonal naive), the chart of one product
(history, backtest, forecast and the planner's overrides; `?product=`), and the button that
starts a forecast run (a background job). Overrides are entered on manufacturing's forecast
screen. Permission: `analytics.forecast` (planners and executives)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_POST

from xietong.analytics import forecast_run
from xietong.core import jobs
from xietong.core.permissions import requires

PERMISSION = "analytics.forecast"
forecast_run.declare()


# The Syntetos-Boylan demand patterns of `forecast.classify`, as the screen names them.
PATTERN_LABELS = {
    "smooth": pgettext_lazy("demand pattern", "Smooth"),
    "erratic": pgettext_lazy("demand pattern", "Erratic"),
    "intermittent": pgettext_lazy("demand pattern", "Intermittent"),
    "lumpy": pgettext_lazy("demand pattern", "Lumpy"),
    "none": pgettext_lazy("demand pattern", "No demand"),
}


def chart_option(detail: dict[str, Any]) -> dict[str, Any]:
    """The ECharts option of one product: a time axis of every date shown, one line each."""
    dates = sorted({d for key in ("history", "backtest", "forecast", "overrides")
                    for d, *_rest in detail[key]})  # fmt: skip

    def line(points: list[tuple], index: int = 1) -> list[Any]:
        values = {p[0]: round(p[index], 4) for p in points}
        return [values.get(d) for d in dates]

    return {
        "tooltip": {"trigger": "axis"}, "legend": {},
        "xAxis": {"type": "category", "data": dates},
        "yAxis": {"type": "value"},
        "series": [
            {"name": _("History"), "type": "line", "data": line(detail["history"]),
             "showSymbol": False},
            {"name": _("Backtest"), "type": "line", "data": line(detail["backtest"]),
             "lineStyle": {"type": "dashed"}, "showSymbol": False},
            {"name": _("Seasonal naive"), "type": "line", "data": line(detail["backtest"], 2),
             "lineStyle": {"type": "dotted"}, "showSymbol": False},
            {"name": _("Forecast"), "type": "line", "data": line(detail["forecast"]),
             "showSymbol": False},
            {"name": _("Planner override"), "type": "scatter", "data": line(detail["overrides"])},
        ],
    }  # fmt: skip


@requires(PERMISSION)
def forecast_screen(request: HttpRequest) -> HttpResponse:
    level = request.GET.get("level") or forecast_run.PRODUCT
    if level not in (forecast_run.PRODUCT, forecast_run.PRODUCT_WAREHOUSE):
        level = forecast_run.PRODUCT
    rows = forecast_run.series_list(company=request.company, level=level)
    for row in rows:
        row["pattern_label"] = PATTERN_LABELS.get(row.get("pattern"), row.get("pattern"))
    selected = None
    chosen = request.GET.get("product", "")
    if chosen.isdigit():
        selected = next((r for r in rows if r["product_id"] == int(chosen)), None)
        if selected is None and level != forecast_run.PRODUCT:
            found = forecast_run.series_list(company=request.company)
            selected = next((r for r in found if r["product_id"] == int(chosen)), None)
    context: dict[str, Any] = {
        "rows": rows, "level": level, "run": forecast_run.last_run(company=request.company),
        "selected": selected,
    }  # fmt: skip
    if selected is not None:
        detail = forecast_run.series_detail(company=request.company,
                                            product_id=selected["product_id"])  # fmt: skip
        context["chart"] = chart_option(detail)
    return render(request, "analytics/forecast/list.html", context)


@require_POST
@requires(PERMISSION)
def forecast_start(request: HttpRequest) -> HttpResponse:
    try:
        horizon = int(request.POST.get("horizon") or 26)
    except ValueError:
        horizon = 0
    if not 1 <= horizon <= 104:
        messages.error(request, _("The horizon is 1 to 104 weeks."))
        return redirect("analytics:forecast")
    job = jobs.job_start(company=request.company, actor=request.user, kind="analytics.forecast",
                         name=_("Demand forecast"), horizon=horizon)  # fmt: skip
    messages.success(request, _("The demand forecast has started."))
    return redirect("core:job_detail", job.pk)


urlpatterns: list[URLPattern] = [
    path("forecast/", forecast_screen, name="forecast"),
    path("forecast/run/", forecast_start, name="forecast_run"),
]


def register() -> None:
    """Add this module's screens to the navigation (called from AnalyticsConfig.ready)."""
    from xietong.core import menu

    forecast_run.register()
    menu.add("analytics", gettext_lazy("Demand forecast"), "analytics:forecast", PERMISSION, 30)
