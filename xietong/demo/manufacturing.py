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
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext
from xietong.inventory.models import Warehouse
from xietong.inventory.stock import available, move_create, moves_done
from xietong.inventory.warehouses import virtual_locations
from xietong.manufacturing import capacity, execution, mps, planning
from xietong.manufacturing.firming import planned_orders_firm
from xietong.manufacturing.models import Forecast, PlannedOrder, PlanRun, ProductionOrder
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
        _mps_entries(ctx, company=company, planner=planner, start=start, bikes=bikes[:2])
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
        _execution(ctx, company=company)


def _mps_entries(ctx: DemoContext, *, company, planner, start, bikes) -> None:  # type: ignore[no-untyped-def]
    """The master scheduler firms the slushy weeks (1 to 3) of the first bikes at their
    forecast rounded up to tens, before the MRP run: the MPS screen shows a firm row, and the run plans
    around it (explodes it, makes no new production of those bikes in those weeks)."""
    made = 0
    for bike in bikes:
        forecasts = dict(
            Forecast.unscoped.filter(company=company, product=bike).values_list("date", "quantity")
        )
        for week in (1, 2, 3):
            date = start + dt.timedelta(weeks=week)
            quantity = (forecasts.get(date, D(0)) / 10).to_integral_value(ROUND_CEILING) * 10
            mps.mps_entry_set(company=company, product=bike, date=date, quantity=quantity,
                              actor=planner)  # fmt: skip
            made += 1
    ctx.log.append(f"manufacturing: {made} firm MPS entries")


def _execution(ctx: DemoContext, *, company) -> None:  # type: ignore[no-untyped-def]
    """The shop floor at work: a released order half made (time reported on its first
    operation, half of it finished: its materials backflushed for that share, the goods
    received) and another with a material issued by hand, so that the order pages show their
    reports and the work-in-progress report has values. What their materials lack in stock is
    received first (from a supplier, at standard cost); orders needing lots or serial numbers
    for their materials, or serial numbers for their product, are passed over."""

    clerk = ctx.users["warehouse_clerk"]
    supplier = virtual_locations(company=company)["supplier"]
    candidates = (
        ProductionOrder.unscoped.filter(company=company, state=ProductionOrder.State.RELEASED,
                                        quantity__gte=2)
        .exclude(product__tracking=Product.Tracking.SERIAL)
        .select_related("product", "warehouse__stock_location")
        .prefetch_related("materials__product__uom", "operations")
        .order_by("number")
    )  # fmt: skip
    done: list[str] = []
    for order in candidates:
        materials = list(order.materials.all())
        if not materials or any(m.product.tracking != Product.Tracking.NONE for m in materials):
            continue
        where = order.warehouse.stock_location
        lacking = [
            (m.product, m.required_qty - available(product=m.product, location=where))
            for m in materials
        ]
        made = [
            move_create(company=company, product=product, quantity=quantity,
                        from_location=supplier, to_location=where,
                        planned_date=timezone.localdate(), origin=f"{order.number}-PARTS",
                        unit_cost=max(product.standard_cost, D("1.00")), actor=clerk)
            for product, quantity in lacking if quantity > 0
        ]  # fmt: skip
        if made:
            moves_done(moves=made, actor=clerk)
        if not done:
            half = (order.quantity / 2).to_integral_value(rounding=ROUND_FLOOR)
            first = min(order.operations.all(), key=lambda op: (op.sequence, op.pk),
                        default=None)  # fmt: skip
            if first is not None:
                execution.operation_report(
                    operation=first, actor=clerk, quantity=half,
                    minutes=(first.planned_minutes * half / order.quantity).quantize(D(1)),
                )  # fmt: skip
            execution.production_order_finish(order=order, actor=clerk, quantity=half)
        else:
            material = materials[0]
            step = material.product.uom.rounding
            quantity = max((material.required_qty / 2 / step).to_integral_value(
                rounding=ROUND_FLOOR) * step, step)  # fmt: skip
            execution.material_issue(order=order, lines=[(material, quantity)], actor=clerk)
        done.append(order.number)
        if len(done) == 2:
            break
    ctx.log.append(f"manufacturing: partly made and issued to {', '.join(done) or 'no order'}")
