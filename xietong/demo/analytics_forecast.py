"""Demo step for analytics forecast; runs after the warehouse load: forecast the main
company's demand 26 weeks ahead from the warehouse's sales history, so that the forecast screen
shows its products with their class, model and metrics, and the MPS and MRP see the
statistical forecast (source `statistical`) beside the planner's own forecasts.

The history is the two years of past orders of the sales-history step, up to last week (the
current week, incomplete, is left out as in a real run): the series get their demand pattern
(smooth, erratic, intermittent, lumpy), the model that wins the 26-week backtest and its MASE
and WAPE against the seasonal naive, which the log line sums up."""

from __future__ import annotations

from xietong.analytics import forecast_run
from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    """Forecast the main company as of today (deterministic for a given day: the models are)."""
    company = ctx.companies["main"]
    with company_scope(company):
        summary = forecast_run.forecast_company(
            company=company, actor=ctx.users.get("planner"), horizon=26, n_jobs=1
        )
    models = ", ".join(f"{name} {count}" for name, count in summary.get("models", {}).items())
    mase, naive = summary.get("mase"), summary.get("naive_mase")
    wape = (summary.get("model") or {}).get("wape")
    scores = (
        f"{summary.get('scored', 0)} with a backtest MASE {mase:.2f} (seasonal naive "
        f"{naive:.2f}), WAPE {wape:.0%}"
        if mase is not None and naive is not None and wape is not None
        else "no backtest"
    )
    ctx.log.append(
        f"analytics: demand forecast of {summary['series']} products "
        f"({summary['series_by_warehouse']} product × warehouse series), models {models}, "
        f"{scores}, "
        f"{summary['written']} statistical forecast rows for the MPS"
    )
