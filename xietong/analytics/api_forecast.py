"""REST endpoints of analytics: forecast (mounted under the analytics router). The stored
series of the caller's company (class, chosen model, backtest metrics against the seasonal
naive), one product's history, backtest, forecast and overrides, and starting a forecast run
(a background job). Permission: `analytics.forecast`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Router, Schema, Status

from xietong.analytics import forecast_run
from xietong.core import jobs
from xietong.core.api import JobOut
from xietong.core.models import Job
from xietong.core.permissions import requires

router = Router(tags=["analytics"])
forecast_run.declare()


class SeriesOut(Schema):
    product_id: int
    sku: str
    warehouse_key: int | None = None
    abc: str
    pattern: str
    seasonal: bool
    model: str
    mase: float | None = None
    wape: float | None = None
    bias: float | None = None
    naive_mase: float | None = None
    naive_wape: float | None = None
    naive_bias: float | None = None


class DetailOut(Schema):
    history: list[tuple[str, float]]
    backtest: list[tuple[str, float, float]]
    forecast: list[tuple[str, float]]
    overrides: list[tuple[str, float]]


@router.get("/analytics/forecast/series", response=list[SeriesOut])
@requires("analytics.forecast")
def series_list(request: HttpRequest, level: str = forecast_run.PRODUCT) -> Any:
    """The company's forecast series (`level`: product or product_warehouse)."""
    if level not in (forecast_run.PRODUCT, forecast_run.PRODUCT_WAREHOUSE):
        level = forecast_run.PRODUCT
    return forecast_run.series_list(company=request.company, level=level)  # type: ignore[attr-defined]


@router.get("/analytics/forecast/series/{product_id}", response=DetailOut)
@requires("analytics.forecast")
def series_detail(request: HttpRequest, product_id: int) -> Any:
    """History, backtest (with the seasonal naive), forecast and the planner's overrides."""
    return forecast_run.series_detail(company=request.company, product_id=product_id)  # type: ignore[attr-defined]


@router.post("/analytics/forecast/run", response={202: JobOut, 400: dict})
@requires("analytics.forecast")
def run(request: HttpRequest, horizon: int = 26) -> Status:
    """Start the demand forecast (`horizon` 1 to 104 weeks) as a background job."""
    if not 1 <= horizon <= 104:
        return Status(400, {"detail": {"horizon": [_("The horizon is 1 to 104 weeks.")]}})
    job = jobs.job_start(company=request.company, actor=request.user, kind="analytics.forecast",  # type: ignore[attr-defined]
                         name=_("Demand forecast"), horizon=horizon)  # fmt: skip
    return Status(202, Job.unscoped.get(pk=job.pk))
