"""Demo step for manufacturing: the planner's forecasts of the finished bikes for the coming
weeks, an MRP run over the whole catalogue (its planned orders, pegging and exceptions), a few
planned orders firmed (a requisition from MRP and production orders), some production orders
released with their materials reserved, and a finite schedule of their operations — so the
planning workspace, the capacity grid and the Gantt chart all show data.

Runs after the purchase step (the Shanghai warehouse, the catalogue with its BOMs and routings,
the open sales and purchase orders that MRP nets against). Deterministic but for the schedule's
exact times (CP-SAT with a time limit)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext
from xietong.inventory.models import Warehouse
from xietong.manufacturing import capacity, planning
from xietong.manufacturing.firming import planned_orders_firm
from xietong.manufacturing.models import PlannedOrder, PlanRun
from xietong.manufacturing.production import production_order_release
from xietong.product.models import Product

SIZES = {"small": (4, 8), "medium": (8, 12), "large": (16, 16)}  # bikes forecast, weeks
D = Decimal


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    planner = ctx.users["planner"]
    rng = ctx.rng
    bikes_n, weeks = SIZES[ctx.size]
    today = timezone.localdate()
    with company_scope(company):
        settings = planning.planning_settings(company)
        settings.warehouse = Warehouse.unscoped.get(company=company, code="SH")
        settings.horizon = 16
        settings.save()
        start = planning.plan_start(today, settings.bucket)
        bikes = list(
            Product.unscoped.filter(company=company, sku__startswith="FG-", active=True,
                                    supply=Product.Supply.MAKE, is_configurable=False)
            .order_by("sku")[:bikes_n]
        )  # fmt: skip
        for bike in bikes:
            for week in range(1, weeks + 1):
                planning.forecast_set(
                    company=company, actor=planner, product=bike,
                    date=start + dt.timedelta(weeks=week), quantity=D(rng.randint(20, 90)),
                )  # fmt: skip
        run = PlanRun.unscoped.create(
            company=company, scenario=planning.live_scenario(company),
            kind=PlanRun.Kind.REGENERATIVE, start=start, bucket=settings.bucket,
            horizon=settings.horizon, requested_by=planner,
        )  # fmt: skip
        run = planning.mrp_run_execute(run=run)
        if run.state != PlanRun.State.DONE:
            raise RuntimeError(f"the demo's MRP run failed: {run.error}")
        planned = PlannedOrder.unscoped.filter(run=run).order_by("release_date", "pk")
        # firm the first weeks: a requisition of bought parts and production orders
        soon = start + dt.timedelta(weeks=2)
        buy = list(planned.filter(supply="buy", release_date__lt=soon)[:8])
        make = list(planned.filter(supply="make", release_date__lt=soon)[:10])
        if buy or make:
            firmed = planned_orders_firm(company=company, actor=planner, orders=buy + make)
            for order in firmed.production_orders[: max(len(firmed.production_orders) - 2, 0)]:
                production_order_release(order=order, actor=planner)
        capacity.production_schedule(company=company, time_limit=2)
        ctx.log.append(f"manufacturing: {run.figures.get('planned_orders', 0)} planned orders")
