"""What the shell's generated screen matrix needs from manufacturing: one record of each kind
per company (`manufacturing_records`, keys `manufacturing_…`, named CANARY-<key>-… for the
isolation probes), the URL name → record key of every URL with a primary key, and the POST-only
views."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.inventory.warehouses import warehouse_create
from xietong.manufacturing import planning, scenarios
from xietong.manufacturing.models import PlannedOrder
from xietong.manufacturing.production import OrderRequest, production_orders_create
from xietong.product.bom import routing_create
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_item, make_work_center

D = Decimal
_serial = itertools.count(1)

URL_RECORDS = {
    "manufacturing:planned_detail": "manufacturing_planned",
    "manufacturing:order_detail": "manufacturing_order",
    "manufacturing:order_release": "manufacturing_order",
    "manufacturing:order_finish": "manufacturing_order",
    "manufacturing:order_close": "manufacturing_order",
    "manufacturing:order_issue": "manufacturing_order",
    "manufacturing:operation_report": "manufacturing_operation",
    "manufacturing:scenario_detail": "manufacturing_scenario",
    "manufacturing:scenario_run": "manufacturing_scenario",
    "manufacturing:scenario_release": "manufacturing_scenario",
}
POST_ONLY = {
    "manufacturing:run",
    "manufacturing:firm",
    "manufacturing:order_release",
    "manufacturing:schedule_run",
    "manufacturing:order_close",
    "manufacturing:scenario_run",
    "manufacturing:scenario_release",
}


def manufacturing_records(company: Company, key: str) -> dict[str, Any]:
    """A made product with a BOM, a forecast, a planned order of the live plan and a draft
    production order; names are CANARY-<key>-…."""
    with company_scope(company):
        code = f"M{next(_serial):03d}"
        warehouse = warehouse_create(company=company, code=code, name=f"Plant {code}")
        made = make_item(company, f"CANARY-{key}-{code}-BIKE", supply=Product.Supply.MAKE)
        part = make_item(company, f"CANARY-{key}-{code}-PART")
        make_bom(company, made, [line(part, "2")])
        center = make_work_center(company, f"WC-{code}")
        routing_create(company=company, actor=None, product=made, name="Make", operations=[
            {"sequence": 10, "name": "Make", "work_center": center,
             "setup_minutes": D(10), "run_minutes": D(5)}])  # fmt: skip
        today = dt.date(2026, 12, 7)
        forecast = planning.forecast_set(company=company, actor=None, product=made, date=today,
                                         quantity=D(5), note=f"CANARY-{key}-forecast")  # fmt: skip
        planned = PlannedOrder.unscoped.create(
            company=company, scenario=planning.live_scenario(company), product=made,
            supply="make", release_date=today, due_date=today, quantity=D(5),
        )  # fmt: skip
        (order,) = production_orders_create(
            company=company, actor=None, warehouse=warehouse,
            requests=[OrderRequest(made, D(3), today, today, origin=f"CANARY-{key}-mo")],
        )  # fmt: skip
    return {
        "manufacturing_forecast": forecast,
        "manufacturing_planned": planned,
        "manufacturing_order": order,
        "manufacturing_operation": order.operations.first(),
        "manufacturing_scenario": scenarios.scenario_create(
            company=company,
            actor=None,
            name=f"CANARY-{key}-what-if",
            changes={"demand_percent": 120},
        ),
    }
