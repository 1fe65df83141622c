"""Demo step for analytics customers: the 7P customer analysis of the main company (profiling,
churn, profitability, CLV, cross-sell) on the warehouse just loaded, as of today, so that the
7P screens show the demo's customers at once. Deterministic (fixed seeds)."""

from __future__ import annotations

from xietong.analytics import customers
from xietong.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    try:
        summary = customers.customers_refresh(company_id=company.pk)
    except customers.CustomersError as exc:
        ctx.log.append(f"analytics customers: {exc}")
        return
    auc = summary["churn"].get("auc")
    ctx.log.append(
        f"analytics customers: 7P analysis of {summary['customers']} customers as of "
        f"{summary['as_of']}, churn AUC {'—' if auc is None else f'{auc:.3f}'}, "
        f"{summary['profiling'].get('k', 0)} clusters"
    )
