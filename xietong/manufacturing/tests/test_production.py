"""Production orders made in sets with materials and operations, released with their stock
moves; planned orders firmed into a requisition and production orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from xietong.core.tenancy import company_scope
from xietong.inventory.models import Move
from xietong.inventory.tests.factories import deliver, receive, site
from xietong.manufacturing import planning
from xietong.manufacturing.firming import planned_orders_firm
from xietong.manufacturing.models import (
    PlannedOrder,
    PlanRun,
    ProductionOperation,
    ProductionOrder,
)
from xietong.manufacturing.production import (
    OrderRequest,
    ProductionError,
    production_order_release,
    production_orders_create,
)
from xietong.product.bom import routing_create
from xietong.product.models import Bom, Product
from xietong.product.tests.bom_factories import line, make_bom, make_item, make_work_center
from xietong.purchase.models import Requisition

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def plant(company_a):  # type: ignore[no-untyped-def]
    """A bike of a frame, two wheels and a phantom kit (a bell and two screws with 10 % scrap),
    made on a routing of two operations; three frames in stock."""
    with company_scope(company_a):
        where = site(company_a)
        bike = make_item(company_a, "BIKE", supply=Product.Supply.MAKE,
                         manufacturing_lead_days=5)  # fmt: skip
        frame = make_item(company_a, "FRAME")
        wheel = make_item(company_a, "WHEEL", purchase_lead_days=10)
        kit = make_item(company_a, "KIT", supply=Product.Supply.MAKE)
        bell, screw = make_item(company_a, "BELL"), make_item(company_a, "SCREW")
        make_bom(company_a, kit, [line(bell, "1"), line(screw, "2", scrap="10")],
                 kind=Bom.Kind.PHANTOM)  # fmt: skip
        make_bom(company_a, bike, [line(frame, "1"), line(wheel, "2"), line(kit, "1")])
        weld, paint = make_work_center(company_a, "WELD"), make_work_center(company_a, "PAINT")
        routing_create(company=company_a, actor=None, product=bike, name="Bike",
                       operations=[
                           {"sequence": 10, "name": "Weld", "work_center": weld,
                            "setup_minutes": D(30), "run_minutes": D(12)},
                           {"sequence": 20, "name": "Paint", "work_center": paint,
                            "setup_minutes": D(0), "run_minutes": D(5)},
                       ])  # fmt: skip
        receive(frame, 3, location=where.stock)
    return where, bike


def test_orders_are_made_in_a_set_with_materials_and_operations(company_a, plant):  # type: ignore[no-untyped-def]
    _where, bike = plant
    with company_scope(company_a):
        orders = production_orders_create(
            company=company_a, actor=None,
            requests=[OrderRequest(bike, D(10), MONDAY, MONDAY + dt.timedelta(days=5)),
                      OrderRequest(bike, D(4), MONDAY, MONDAY + dt.timedelta(days=5))],
        )  # fmt: skip
    assert [o.number[:3] for o in orders] == ["MO/", "MO/"] and orders[0].number < orders[1].number
    first = ProductionOrder.unscoped.get(pk=orders[0].pk)
    materials = {m.product.sku: m.required_qty for m in first.materials.select_related("product")}
    assert materials == {"FRAME": D(10), "WHEEL": D(20), "BELL": D(10), "SCREW": D(22)}
    operations = list(first.operations.values_list("name", "planned_minutes"))
    assert operations == [("Weld", D(150)), ("Paint", D(50))]


def test_bad_requests_write_nothing(company_a, company_b, plant):  # type: ignore[no-untyped-def]
    _where, bike = plant
    with company_scope(company_b):
        foreign = make_item(company_b, "OTHER")
    with company_scope(company_a):
        plain = make_item(company_a, "NOBOM")
        with pytest.raises(ProductionError) as refused:
            production_orders_create(
                company=company_a, actor=None,
                requests=[OrderRequest(bike, D(0), MONDAY, MONDAY - dt.timedelta(days=1)),
                          OrderRequest(plain, D(1), MONDAY, MONDAY),
                          OrderRequest(foreign, D(1), MONDAY, MONDAY)],
            )  # fmt: skip
    assert set(refused.value.message_dict) == {
        "orders.1.quantity", "orders.1.due_date", "orders.2.product", "orders.3.product"}  # fmt: skip
    assert not ProductionOrder.unscoped.exists()


def test_release_confirms_the_moves_and_reserves_what_is_in_stock(company_a, plant):  # type: ignore[no-untyped-def]
    _where, bike = plant
    with company_scope(company_a):
        (order,) = production_orders_create(
            company=company_a, actor=None,
            requests=[OrderRequest(bike, D(5), MONDAY, MONDAY + dt.timedelta(days=5))],
        )  # fmt: skip
        order = production_order_release(order=order, actor=None)
        with pytest.raises(ProductionError):
            production_order_release(order=order, actor=None)
    assert order.state == ProductionOrder.State.RELEASED
    moves = Move.unscoped.filter(origin=order.number)
    frame = moves.get(product__sku="FRAME")
    assert frame.state == Move.State.ASSIGNED or frame.quantity == D(5)  # 3 of 5 reserved
    assert frame.from_location.usage == "internal" and frame.to_location.usage == "production"
    finished = moves.get(product__sku="BIKE")
    assert finished.planned_date == MONDAY + dt.timedelta(days=5)
    assert finished.to_location.usage == "internal" and finished.state != Move.State.DRAFT
    states = list(order.operations.values_list("state", flat=True))
    assert states == [ProductionOperation.State.READY, ProductionOperation.State.WAITING]


def test_released_orders_are_supply_and_demand_for_the_next_run(company_a, plant):  # type: ignore[no-untyped-def]
    where, bike = plant
    due = MONDAY + dt.timedelta(days=14)
    with company_scope(company_a):
        deliver(bike, 5, location=where.stock, planned_date=due)
        (order,) = production_orders_create(
            company=company_a, actor=None,
            requests=[OrderRequest(bike, D(5), MONDAY + dt.timedelta(days=7), due)],
        )  # fmt: skip
        production_order_release(order=order, actor=None)
        run = PlanRun.unscoped.create(company=company_a, scenario=planning.live_scenario(company_a),
                                      kind="regenerative", start=MONDAY, bucket="week",
                                      horizon=8)  # fmt: skip
        planning.mrp_run_execute(run=run)
    planned = dict(PlannedOrder.unscoped.filter(company=company_a)
                   .values_list("product__sku", "quantity"))  # fmt: skip
    # the order covers the bikes; its materials are demand: 10 wheels, 5 bells, 11 screws to
    # buy, and 2 frames beyond the 3 in stock
    assert planned == {"WHEEL": D(10), "BELL": D(5), "SCREW": D(11), "FRAME": D(2)}


def test_firming_makes_a_requisition_and_production_orders(company_a, plant, users_a):  # type: ignore[no-untyped-def]
    where, bike = plant
    planner = users_a["planner"]
    with company_scope(company_a):
        deliver(bike, 8, location=where.stock, planned_date=MONDAY + dt.timedelta(days=21))
        run = PlanRun.unscoped.create(company=company_a, scenario=planning.live_scenario(company_a),
                                      kind="regenerative", start=MONDAY, bucket="week",
                                      horizon=8)  # fmt: skip
        planning.mrp_run_execute(run=run)
        planned = list(PlannedOrder.unscoped.filter(company=company_a))
        # the bell of the phantom kit is pegged through the kit to the bike's order
        bell = PlannedOrder.unscoped.get(company=company_a, product__sku="BELL")
        bike_order = PlannedOrder.unscoped.get(company=company_a, product=bike)
        assert [(p.parent_id, p.quantity) for p in planning.pegs_of(
            bell.scenario_id, [bell.pk])[bell.pk]] == [(bike_order.pk, D(8))]  # fmt: skip
        assert [(p.demand, p.quantity) for p in planning.pegging_full(bell)] == [("other", D(8))]
        firmed = planned_orders_firm(company=company_a, actor=planner, orders=planned,
                                     release=True)  # fmt: skip
        with pytest.raises(ProductionError):
            planned_orders_firm(company=company_a, actor=planner, orders=planned)
    assert firmed.requisition.source == Requisition.Source.MRP
    lines = {x.product.sku: x.quantity for x in firmed.requisition.lines.select_related("product")}
    assert lines == {"FRAME": D(5), "WHEEL": D(16), "BELL": D(8), "SCREW": D(18)}  # 17.6
    (order,) = firmed.production_orders
    assert order.product == bike and order.quantity == D(8) and order.state == "released"
    assert set(PlannedOrder.unscoped.filter(company=company_a).values_list("state", flat=True)) == {
        "firmed"}  # fmt: skip
    assert PlannedOrder.unscoped.get(product=bike).production_order == order
    # the next run sees the requisition and the order: nothing left to plan
    with company_scope(company_a):
        again = PlanRun.unscoped.create(company=company_a, kind="regenerative", start=MONDAY,
                                        scenario=planning.live_scenario(company_a), bucket="week",
                                        horizon=8)  # fmt: skip
        planning.mrp_run_execute(run=again)
    assert not PlannedOrder.unscoped.filter(company=company_a, run=again).exists()


def test_many_orders_are_released_at_once_or_not_at_all(company_a, plant):  # type: ignore[no-untyped-def]
    from xietong.manufacturing.production import production_orders_release

    _where, bike = plant
    with company_scope(company_a):
        orders = production_orders_create(
            company=company_a, actor=None,
            requests=[OrderRequest(bike, D(n), MONDAY, MONDAY) for n in (1, 2, 3)],
        )  # fmt: skip
        production_order_release(order=orders[0], actor=None)
        moves = Move.unscoped.count()
        with pytest.raises(ProductionError):  # the first is released already
            production_orders_release(orders=orders, actor=None)
        assert Move.unscoped.count() == moves
        released = production_orders_release(orders=orders[1:], actor=None)
    assert [o.state for o in released] == ["released", "released"]
    for order in orders[1:]:
        # frame, wheel, bell, screw out and the bike in
        assert Move.unscoped.filter(origin=order.number).count() == 5
        states = list(order.operations.order_by("sequence").values_list("state", flat=True))
        assert states == ["ready", "waiting"]
