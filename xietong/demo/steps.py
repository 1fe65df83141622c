"""The demo generator's steps, in dependency order; each later module appends its own."""

from __future__ import annotations

from django.db import transaction

from xietong.demo import (
    analytics,
    analytics_customers,
    analytics_forecast,
    catalogue,
    core,
    crm,
    crm_marketing,
    crm_service,
    finance,
    inventory,
    manufacturing,
    party,
    pricing,
    purchase,
    sales,
    sales_history,
    workflow,
)
from xietong.demo.context import DemoContext

STEPS = [
    core.run,
    party.run,
    catalogue.run,
    pricing.run,
    workflow.run,
    finance.run,
    inventory.run,
    sales.run,
    sales_history.run,
    finance.close_periods,
    purchase.run,
    manufacturing.run,
    crm.run,
    crm_marketing.run,
    crm_service.run,
    analytics.run,
    analytics_customers.run,
    analytics_forecast.run,
]


def generate(*, seed: int = 1, size: str = "small") -> DemoContext:
    """Fill an empty database with the demo data set; all or nothing."""
    ctx = DemoContext(seed=seed, size=size)
    with transaction.atomic():
        for step in STEPS:
            step(ctx)
    return ctx
