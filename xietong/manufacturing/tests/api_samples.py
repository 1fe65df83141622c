"""The manufacturing API's part of the API permission matrix (xietong/api/tests/
test_permissions.py): on top of the purchase API's set-up (warehouse PAPI, the part PAPI-ITEM
with its valuation, the books), a made product MAPI-BIKE of one part on a routing, the planning
settings' accounts, and for each operation a request that succeeds for a user holding its
permission. Operations that change a production order get an order of their own in the state
they need."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from xietong.core.models import Company, User
from xietong.core.tenancy import company_scope
from xietong.finance.models import Account
from xietong.inventory.tests.factories import receive
from xietong.manufacturing import execution, planning
from xietong.manufacturing.models import PlannedOrder, PlanRun
from xietong.manufacturing.production import (
    OrderRequest,
    production_order_release,
    production_orders_create,
)
from xietong.product.bom import routing_create
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_work_center
from xietong.purchase.tests.api_samples import purchase_base
from xietong.purchase.tests.factories import material

D = Decimal
SKU = "MAPI-BIKE"
_serial = itertools.count(1)


def manufacturing_base(company: Company) -> SimpleNamespace:
    base = purchase_base(company)
    with company_scope(company):
        bike = Product.unscoped.filter(company=company, sku=SKU).first()
        if bike is None:
            settings = planning.planning_settings(company)
            leaf = (
                Account.unscoped.filter(company=company, is_group=False, active=True)
                .order_by("code")
                .last()
            )
            settings.absorption_account = settings.absorption_account or leaf
            settings.variance_account = settings.variance_account or leaf
            settings.warehouse = base.warehouse
            settings.save()
            bike = material(company, "0", sku=SKU, supply=Product.Supply.MAKE,
                            category=base.product.category)  # fmt: skip
            make_bom(company, bike, [line(base.product, "1")])
            center = make_work_center(company, "MAPI")
            routing_create(company=company, actor=None, product=bike, name="Make", operations=[
                {"sequence": 10, "name": "Make", "work_center": center,
                 "setup_minutes": D(5), "run_minutes": D(10)}])  # fmt: skip
    return SimpleNamespace(bike=bike, part=base.product, warehouse=base.warehouse)


def production_order(company: Company, state: str = "draft") -> Any:
    """A new production order of one MAPI-BIKE in `state` (draft, released or done)."""
    base = manufacturing_base(company)
    today = timezone.localdate()
    with company_scope(company):
        (order,) = production_orders_create(
            company=company, actor=None, warehouse=base.warehouse,
            requests=[OrderRequest(base.bike, D(1), today, today, origin=f"M{next(_serial)}")],
        )  # fmt: skip
        if state in ("released", "done"):
            receive(base.part, 1, location=base.warehouse.stock_location, unit_cost=D(40))
            order = production_order_release(order=order, actor=None)
        if state == "done":
            order = execution.production_order_finish(order=order, actor=None, quantity=D(1))
    return order


def planned_order(company: Company) -> PlannedOrder:
    base = manufacturing_base(company)
    today = timezone.localdate()
    return PlannedOrder.unscoped.create(
        company=company, scenario=planning.live_scenario(company), product=base.bike,
        supply="make", release_date=today, due_date=today + dt.timedelta(days=2), quantity=D(2),
    )  # fmt: skip


def _sample(path_params: dict[str, Any], body: dict[str, Any] | None = None,
            query: dict[str, Any] | None = None) -> dict[str, Any]:  # fmt: skip
    return {"path_params": path_params, "body": body, "query": query}


def _run(company: Company) -> PlanRun:
    return PlanRun.unscoped.create(
        company=company, scenario=planning.live_scenario(company), kind="regenerative",
        start=timezone.localdate(), bucket="week", horizon=4, state=PlanRun.State.DONE,
    )  # fmt: skip


PATH_PARAMETERS: tuple[str, ...] = ("run_id", "order_id")

SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/manufacturing/forecasts"): lambda u, c: _sample({}),
    ("POST", "/manufacturing/forecasts"): lambda u, c: _sample({}, {
        "product": manufacturing_base(c).bike.sku,
        "date": (timezone.localdate() + dt.timedelta(days=30)).isoformat(), "quantity": "5"}),
    ("POST", "/manufacturing/mrp-runs"): lambda u, c: _sample({}, {}),
    ("GET", "/manufacturing/mrp-runs/{run_id}"): lambda u, c: _sample({"run_id": _run(c).pk}),
    ("GET", "/manufacturing/planned-orders"): lambda u, c: _sample({}, query={"supply": "make"}),
    ("POST", "/manufacturing/planned-orders/firm"): lambda u, c: _sample(
        {}, {"order_ids": [planned_order(c).pk]}),
    ("GET", "/manufacturing/production-orders"): lambda u, c: _sample({}),
    ("GET", "/manufacturing/production-orders/{order_id}"): lambda u, c: _sample(
        {"order_id": production_order(c).pk}),
    ("POST", "/manufacturing/production-orders/{order_id}/release"): lambda u, c: _sample(
        {"order_id": production_order(c).pk}),
    ("POST", "/manufacturing/production-orders/{order_id}/finish"): lambda u, c: _sample(
        {"order_id": production_order(c, "released").pk}, {"quantity": "1"}),
    ("POST", "/manufacturing/production-orders/{order_id}/issue"): lambda u, c: _sample(
        {"order_id": (o := production_order(c, "released")).pk},
        {"lines": [{"material": o.materials.get().pk, "quantity": "1"}]}),
    ("POST", "/manufacturing/production-orders/{order_id}/close"): lambda u, c: _sample(
        {"order_id": production_order(c, "done").pk}),
    ("GET", "/manufacturing/capacity"): lambda u, c: _sample({}),
}  # fmt: skip
