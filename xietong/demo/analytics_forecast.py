"""Demo step for analytics forecast; runs after the warehouse load: forecast the main
company's demand 26 weeks ahead from the warehouse's sales history, so that the forecast screen
shows its products with their class, model and metrics, and the MPS and MRP see the
statistical forecast (source `statistical`) beside the planner's own forecasts.

The demo's orders are all of the current week, which a real run leaves out (an incomplete
week); the demo counts it as history (`today` a week ahead), so the forecast starts next week.
With a single week of history every series gets the short-series fallback (SES or Croston,
no backtest metrics)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from xietong.analytics import forecast_run
from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    """Forecast the main company (deterministic for a given day: the models are)."""
    company = ctx.companies["main"]
    with company_scope(company):
        summary = forecast_run.forecast_company(
            company=company, actor=ctx.users.get("planner"), horizon=26, n_jobs=1,
            today=timezone.localdate() + dt.timedelta(weeks=1),
        )  # fmt: skip
    ctx.log.append(
        f"analytics: demand forecast of {summary['series']} products "
        f"({summary['series_by_warehouse']} product × warehouse series), "
        f"{summary['written']} statistical forecast rows for the MPS"
    )
