"""The master production schedule of a product, per bucket: its forecast, its customer orders,
the demand planning uses (orders plus the forecast they leave; orders only inside the frozen
fence), the supply scheduled (planned production of the live plan and open production orders,
by due date), the projected available balance and the available-to-promise quantity (discrete
ATP: in each bucket with supply, that supply — plus the stock on hand in the first bucket — less
the customer orders until the next supply; a shortfall is taken from the earlier buckets' ATP).
A read of a handful of queries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F

from xietong.core.models import Company
from xietong.inventory.selectors import on_hand_by_product, open_moves_across_stock
from xietong.manufacturing.models import Forecast, PlannedOrder, ProductionOrder
from xietong.manufacturing.planning import (
    SALES_LINE,
    forecast_net,
    live_scenario,
    planning_settings,
)
from xietong.product.models import Product

ZERO = Decimal(0)


@dataclass
class MpsTable:
    product: Product
    dates: list[dt.date]
    fences: list[str]  # per bucket: "frozen", "slushy" or "liquid"
    on_hand: Decimal
    forecast: list[Decimal]
    orders: list[Decimal]
    demand: list[Decimal]
    supply: list[Decimal]
    projected: list[Decimal]
    atp: list[Decimal]


def master_schedule(
    *, company: Company, product: Product, start: dt.date, bucket: str, horizon: int
) -> MpsTable:
    settings = planning_settings(company)
    days = 7 if bucket == "week" else 1
    dates = [start + dt.timedelta(days=days * b) for b in range(horizon)]
    end = start + dt.timedelta(days=days * horizon)

    def index(day: dt.date) -> int | None:
        if day >= end:
            return None
        return max((day - start).days // days, 0)

    def empty() -> list[Decimal]:
        return [ZERO] * horizon

    on_hand = on_hand_by_product(company=company, product_ids=[product.pk]).get(product.pk, ZERO)
    orders, order_rows = empty(), []
    for move in open_moves_across_stock(company=company, product_ids=[product.pk]):
        if move.source_type == SALES_LINE and not move.incoming:
            order_rows.append((product.pk, move.planned_date, move.quantity))
            b = index(move.planned_date)
            if b is not None:
                orders[b] += move.quantity
    forecast = empty()
    raw = list(Forecast.unscoped.filter(company=company, product=product).values_list(
        "pk", "product_id", "date", "quantity"))  # fmt: skip
    for _pk, _product, date, quantity in raw:
        b = index(date)
        if b is not None:
            forecast[b] += quantity
    left = empty()
    for _pk, _product, date, quantity in forecast_net(
        raw, order_rows, start=start, frozen_days=settings.frozen_days,
        backward_days=settings.consume_backward_days,
        forward_days=settings.consume_forward_days,
    ):  # fmt: skip
        b = index(date)
        if b is not None:
            left[b] += quantity
    demand = [o + f for o, f in zip(orders, left, strict=True)]
    supply = empty()
    for due, quantity in PlannedOrder.unscoped.filter(
        scenario=live_scenario(company), product=product, state=PlannedOrder.State.PLANNED
    ).values_list("due_date", "quantity"):  # fmt: skip
        b = index(due)
        if b is not None:
            supply[b] += quantity
    for due, quantity in ProductionOrder.unscoped.filter(
        company=company, product=product, state__in=ProductionOrder.OPEN_STATES
    ).values_list("due_date", F("quantity") - F("produced_qty")):  # fmt: skip
        b = index(due)
        if b is not None and quantity > 0:
            supply[b] += quantity
    projected, balance = [], on_hand
    for b in range(horizon):
        balance = balance + supply[b] - demand[b]
        projected.append(balance)
    atp = available_to_promise(on_hand, supply, orders)
    frozen_end = start + dt.timedelta(days=settings.frozen_days)
    slushy_end = start + dt.timedelta(days=settings.slushy_days)
    fences = ["frozen" if d < frozen_end else "slushy" if d < slushy_end else "liquid"
              for d in dates]  # fmt: skip
    return MpsTable(product, dates, fences, on_hand, forecast, orders, demand, supply,
                    projected, atp)  # fmt: skip


def available_to_promise(
    on_hand: Decimal, supply: list[Decimal], orders: list[Decimal]
) -> list[Decimal]:
    """Discrete ATP: per bucket with supply (and the first bucket, with the stock on hand), the
    supply less the customer orders up to the next bucket with supply; a negative figure is
    covered by the earlier buckets' ATP, latest first. Other buckets: zero."""
    n = len(supply)
    atp = [ZERO] * n
    points = [b for b in range(n) if b == 0 or supply[b] > 0]
    for k, b in enumerate(points):
        following = points[k + 1] if k + 1 < len(points) else n
        atp[b] = (on_hand if b == 0 else ZERO) + supply[b] - sum(orders[b:following], ZERO)
    for k in range(len(points) - 1, 0, -1):
        b = points[k]
        if atp[b] < 0:
            earlier = points[k - 1]
            atp[earlier] += atp[b]
            atp[b] = ZERO
    return atp  # the first bucket's may stay negative: orders beyond what can be made
