"""Production execution: time reports on operations, finishing with backflushed materials and
the goods received at the planned cost, closing with the variances posted; the ledger and the
stock sound at each step."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import Sum
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.finance.models import Line
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.stock import on_hand
from xietong.inventory.tests.factories import receive
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.inventory.valuation import product_valuation_rows
from xietong.manufacturing import execution, planning
from xietong.manufacturing.models import ProductionOperation, ProductionOrder, TimeEntry
from xietong.manufacturing.production import (
    OrderRequest,
    ProductionError,
    production_order_release,
    production_orders_create,
)
from xietong.product.bom import routing_create
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_work_center
from xietong.purchase.tests.factories import buying, material

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def shop(company_a):  # type: ignore[no-untyped-def]
    """Bikes of a frame (in stock: 10 at 100) and two wheels (20 at 30), assembled on a center
    at 60/h labour and 30/h overhead: 30 minutes setup, 12 per bike."""
    setup = buying(company_a)
    with company_scope(company_a):
        settings = planning.planning_settings(company_a)
        settings.warehouse = setup.warehouse
        settings.save()
        frame, wheel = material(company_a, "100", sku="FRAME"), material(company_a, "30",
                                                                          sku="WHEEL")  # fmt: skip
        receive(frame, 10, location=setup.stock, unit_cost=D(100))
        receive(wheel, 20, location=setup.stock, unit_cost=D(30))
        bike = material(company_a, "0", sku="BIKE", supply=Product.Supply.MAKE)
        make_bom(company_a, bike, [line(frame, "1"), line(wheel, "2")])
        assy = make_work_center(company_a, "ASSY", cost="60", overhead="30")
        routing_create(company=company_a, actor=None, product=bike, name="Bike", operations=[
            {"sequence": 10, "name": "Assemble", "work_center": assy,
             "setup_minutes": D(30), "run_minutes": D(12)}])  # fmt: skip
        (order,) = production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(bike, D(5), MONDAY, MONDAY + dt.timedelta(days=2))])  # fmt: skip
    return setup, order


def _wip(company, order):  # type: ignore[no-untyped-def]
    row = product_valuation_rows(company=company, products=[order.product])[order.product_id]
    total = Line.unscoped.filter(account=row.production_account, entry__state="posted").aggregate(
        d=Sum("debit"), c=Sum("credit"))  # fmt: skip
    return (total["d"] or 0) - (total["c"] or 0)


def test_report_finish_and_close_book_the_costs_and_the_variances(company_a, users_a, shop):  # type: ignore[no-untyped-def]
    setup, order = shop
    operator = users_a["warehouse_clerk"]
    with company_scope(company_a):
        production_order_release(order=order, actor=operator)
        op = order.operations.get()
        execution.operation_report(operation=op, actor=operator, minutes=D(50), quantity=D(2))
        op.refresh_from_db()
        assert op.state == ProductionOperation.State.RUNNING and op.actual_minutes == D(50)
        execution.operation_report(operation=op, actor=operator, minutes=D(70), quantity=D(3))
        op.refresh_from_db()
        assert op.state == ProductionOperation.State.DONE and TimeEntry.objects.count() == 2
        order.refresh_from_db()
        assert order.state == ProductionOrder.State.IN_PROGRESS
        done = execution.production_order_finish(order=order, actor=operator, quantity=D(5))
    # planned: material 5×100 + 10×30 = 800, labour 90 min → 90, overhead 45; unit 187
    assert done.state == "done" and done.material_cost == D(800)
    assert (done.labour_cost, done.overhead_cost) == (D(120), D(60))  # 120 minutes reported
    assert done.received_value == D(935)
    with company_scope(company_a):
        assert on_hand(product=done.product) == D(5)
        assert on_hand(product=Product.unscoped.get(sku="FRAME", company=company_a)) == D(5)
    assert _wip(company_a, done) == D(45)  # labour 30 + overhead 15 more than planned
    assert execution.variances(done) == {"material": D(0), "labour": D(30), "overhead": D(15)}
    assert_ledger_sound([company_a])
    assert_stock_sound([company_a])
    with company_scope(company_a):
        closed = execution.production_order_close(order=done, actor=operator)
    assert closed.state == "closed" and _wip(company_a, closed) == 0
    assert_ledger_sound([company_a])


def test_refusals_write_nothing(company_a, users_a, shop):  # type: ignore[no-untyped-def]
    setup, order = shop
    operator = users_a["warehouse_clerk"]
    with company_scope(company_a):
        with pytest.raises(ProductionError):  # not released
            execution.production_order_finish(order=order, actor=operator, quantity=D(5))
        with pytest.raises(ProductionError):
            execution.operation_report(operation=order.operations.get(), actor=operator,
                                       minutes=D(5))  # fmt: skip
        (big,) = production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(order.product, D(50), MONDAY, MONDAY)])  # fmt: skip
        production_order_release(order=big, actor=operator)
        entries = Line.unscoped.count()
        with pytest.raises(ProductionError):
            execution.production_order_finish(order=big, actor=operator, quantity=D(0))
        with pytest.raises(Exception, match="stock|enough|available"):  # 50 frames, 10 in stock
            execution.production_order_finish(order=big, actor=operator, quantity=D(50))
        with pytest.raises(ProductionError):  # only a done order closes
            execution.production_order_close(order=big, actor=operator)
    big.refresh_from_db()
    assert big.state == "released" and big.produced_qty == 0 and Line.unscoped.count() == entries
    assert_stock_sound([company_a])


def test_the_operator_reports_and_finishes_on_the_screens(company_a, users_a, client_for, shop):  # type: ignore[no-untyped-def]
    _setup, order = shop
    clerk = client_for(users_a["warehouse_clerk"])
    clerk.post(reverse("manufacturing:order_release", args=[order.pk]))
    op = order.operations.get()
    url = reverse("manufacturing:operation_report", args=[op.pk])
    assert clerk.post(url, {"minutes": "-3"}).status_code == 400
    assert clerk.post(url, {"minutes": "95", "quantity": "5", "finished": "on"}).status_code == 302
    queue = clerk.get(reverse("manufacturing:shop_floor") + f"?center={op.work_center_id}")
    assert queue.status_code == 200
    finish = reverse("manufacturing:order_finish", args=[order.pk])
    assert clerk.post(finish, {"quantity": "0"}).status_code == 400
    assert clerk.post(finish, {"quantity": "5"}).status_code == 302
    order.refresh_from_db()
    assert order.state == "done"
    buyer = client_for(users_a["buyer"])
    assert buyer.post(reverse("manufacturing:order_close", args=[order.pk])).status_code == 403
    planner = client_for(users_a["planner"])
    assert planner.post(reverse("manufacturing:order_close", args=[order.pk])).status_code == 302
    order.refresh_from_db()
    assert order.state == "closed"
    html = planner.get(reverse("manufacturing:order_detail", args=[order.pk])).content.decode()
    assert "Labour variance" in html
