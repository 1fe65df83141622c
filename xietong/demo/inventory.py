"""Demo step for inventory: the main company's Shanghai warehouse with two-step receipts
(input → stock) and two-step deliveries (pick → ship), moving-average valuation posted to the
ledger, a month of goods received from suppliers and finished bikes from production, customer
deliveries in every state (shipped, picked and waiting to ship, reserved, waiting for stock),
a count with differences, and replenishment rules some of which call for an order.

Runs after the finance step (the stock entries need the chart); dates stay in the last month,
whose period the finance step leaves open. Deterministic (ctx.rng, products in SKU order).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext
from xietong.inventory import counts, pickings, replenishment, valuation
from xietong.inventory.models import Warehouse
from xietong.inventory.stock import move_create, moves_confirm, moves_done
from xietong.inventory.warehouses import virtual_locations, warehouse_create
from xietong.party.models import Party
from xietong.product.models import Product

SIZES = {"small": (30, 8, 12), "medium": (120, 30, 60), "large": (400, 80, 250)}


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    admin, clerk, planner = ctx.users["admin"], ctx.users["warehouse_clerk"], ctx.users["planner"]
    rng = ctx.rng
    parts_n, bikes_n, deliveries_n = SIZES[ctx.size]
    today = timezone.localdate()
    start = today - dt.timedelta(days=24)
    with company_scope(company):
        warehouse = warehouse_create(
            company=company,
            code="SH",
            name="上海总仓",
            reception_steps=Warehouse.ReceptionSteps.TWO,
            delivery_steps=Warehouse.DeliverySteps.TWO,
            actor=admin,
        )
        valuation.valuation_setup(company=company, actor=admin)
        products = Product.unscoped.filter(
            company=company, active=True, type=Product.Type.STOCKABLE, tracking="none"
        ).order_by("sku")
        parts = list(products.filter(supply=Product.Supply.BUY)[:parts_n])
        # made items not tracked by serial number: assemblies and spare wheels, frames…
        bikes = list(products.filter(supply=Product.Supply.MAKE)[:bikes_n])
        suppliers = list(Party.unscoped.filter(company=company, is_supplier=True).order_by("code"))
        customers = list(
            Party.unscoped.filter(company=company, is_customer=True, active=True).order_by("code")
        )

        # goods received: a receipt per supplier delivery, received and put away
        for n in range(0, len(parts), 5):
            day = start + dt.timedelta(days=n // 5)
            lines = [
                {
                    "product": part,
                    "quantity": Decimal(rng.choice([200, 300, 500, 800])),
                    "unit_cost": max(part.standard_cost, Decimal("1.00")),
                }
                for part in parts[n : n + 5]
            ]
            steps = pickings.receipt_create(
                company=company, warehouse=warehouse, lines=lines, scheduled_date=day,
                party=rng.choice(suppliers), origin=f"PO-{day:%y%m%d}-{n:02d}", actor=clerk,
            )  # fmt: skip
            pickings.picking_confirm(picking=steps[0], actor=clerk)
            for step in steps if n < len(parts) - 5 else steps[:1]:  # the last waits in input
                pickings.picking_done(picking=step, actor=clerk, effective_date=day)

        # finished bikes from production into stock
        production = virtual_locations(company=company)["production"]
        made = []
        for bike in bikes:
            made.append(
                move_create(
                    company=company,
                    product=bike,
                    quantity=Decimal(rng.choice([20, 40, 60])),
                    from_location=production,
                    to_location=warehouse.stock_location,
                    planned_date=start,
                    unit_cost=max(bike.standard_cost, Decimal("10.00")),
                    origin="MO-DEMO",
                    actor=clerk,
                )  # fmt: skip
            )
        moves_confirm(moves=made, actor=clerk)
        moves_done(moves=made, actor=clerk, effective_date=start + dt.timedelta(days=2))

        # customer deliveries: shipped, picked, reserved, and some waiting for stock
        for n in range(deliveries_n):
            day = start + dt.timedelta(days=5 + n % 15)
            bike = rng.choice(bikes)
            steps = pickings.delivery_create(
                company=company, warehouse=warehouse,
                lines=[{"product": bike, "quantity": Decimal(rng.choice([2, 5, 10, 30]))}],
                scheduled_date=day, party=rng.choice(customers),
                origin=f"SO-{day:%y%m%d}-{n:03d}", actor=clerk,
            )  # fmt: skip
            pickings.picking_confirm(picking=steps[0], actor=clerk)
            stage = n % 4
            if (
                stage < 2
                and steps[0].moves.filter(state="assigned").count() == steps[0].moves.count()
            ):
                pickings.picking_done(picking=steps[0], actor=clerk, effective_date=day)
                if stage == 0:
                    pickings.picking_done(picking=steps[1], actor=clerk, effective_date=day)

        # a count of the first parts with small differences
        count = counts.count_create(
            company=company, location=warehouse.stock_location, date=today, actor=clerk
        )
        lines = list(count.lines.order_by("pk")[:6])
        counts.count_set(
            count=count,
            counts={
                line.pk: max(line.expected + Decimal(rng.choice([-3, -1, 0, 2])), Decimal(0))
                for line in lines
            },
            actor=clerk,
        )
        counts.count_done(count=count, actor=clerk)

        # replenishment rules: a reorder point under and over what is on hand
        for part in parts[:12]:
            low = Decimal(rng.choice([100, 300, 600, 1000]))
            replenishment.rule_set(
                company=company, product=part, warehouse=warehouse, min_qty=low,
                max_qty=low * 3, multiple=Decimal(50), actor=planner,
            )  # fmt: skip
    ctx.log.append(
        f"inventory: warehouse SH, {len(parts)} parts received, {len(bikes)} bikes made, "
        f"{deliveries_n} deliveries, 1 count, 12 replenishment rules"
    )
