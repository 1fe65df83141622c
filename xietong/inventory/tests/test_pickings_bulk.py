"""The bulk paths of pickings, stock and valuation: a delivery created and confirmed in one
call is the delivery created and then confirmed; more lines take no more statements; the
running valuation totals always equal the layers."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xietong.core.tenancy import company_scope
from xietong.inventory import stock, valuation
from xietong.inventory.models import Move, Picking, Reservation, ValuationTotal, Warehouse
from xietong.inventory.pickings import delivery_create, picking_confirm, picking_done
from xietong.inventory.tests.flows_helpers import (
    DAY,
    D,
    fresh,
    make_party,
    make_product,
    make_warehouse,
    moves_of,
    put_stock,
)
from xietong.inventory.tests.invariants import assert_stock_sound, valuation_total_problems
from xietong.inventory.tests.test_valuation import DAY1, DAY2, DAY3, DAY4, Site

PS = Picking.State
MS = Move.State
DS = Warehouse.DeliverySteps


@pytest.fixture
def scope(company_a):
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def clerk(users_a):
    return users_a["warehouse_clerk"]


def _lines(products, quantity):
    return [{"product": p, "quantity": D(quantity)} for p in products]


def _confirmed(pickings, wh):
    """A confirmed delivery as states and reservations, with the warehouse's locations named."""
    names = {wh.stock_location_id: "stock", wh.output_location_id: "output"}
    return [
        (
            fresh(p).state,
            [(m.product.sku, m.state, m.quantity_base) for m in moves_of(p)],
            sorted(
                (r.move.product.sku, names.get(r.quant.location_id), r.quantity)
                for r in Reservation.unscoped.filter(move__picking=p)
            ),
        )
        for p in pickings
    ]


@pytest.mark.parametrize("steps", [DS.ONE, DS.TWO, DS.THREE])
def test_a_delivery_confirmed_at_once_is_the_delivery_confirmed(scope, clerk, steps):
    customer = make_party(scope, "Hangzhou Bikes", is_customer=True)
    products = [make_product(scope, f"SKU{n}") for n in range(3)]
    results = []
    for code, at_once in (("WA", False), ("WB", True)):
        wh = make_warehouse(scope, code, delivery_steps=steps)
        for item, quantity in zip(products, (5, 2, 1), strict=True):  # the last one is short
            put_stock(scope, item, wh.stock_location, quantity)
        pickings = delivery_create(company=scope, warehouse=wh, party=customer,
                                   scheduled_date=DAY, lines=_lines(products, 2), actor=clerk,
                                   confirm=at_once)  # fmt: skip
        if at_once:
            assert [p.state for p in pickings] == [fresh(p).state for p in pickings]
        else:
            picking_confirm(picking=pickings[0], actor=clerk)
        results.append(_confirmed(pickings, wh))
    assert results[0] == results[1]
    assert results[1][0][0] == PS.WAITING  # the short line waits, the others are reserved
    assert [state for _sku, state, _q in results[1][0][1]] == [MS.ASSIGNED, MS.ASSIGNED,
                                                                MS.WAITING]  # fmt: skip
    assert_stock_sound([scope])


def test_a_delivery_confirmed_at_once_is_then_done_step_by_step(scope, clerk):
    wh = make_warehouse(scope, delivery_steps=DS.TWO)
    customer = make_party(scope, "Hangzhou Bikes", is_customer=True)
    products = [make_product(scope) for _ in range(2)]
    for item in products:
        put_stock(scope, item, wh.stock_location, 4)
    pick, ship = delivery_create(company=scope, warehouse=wh, party=customer, scheduled_date=DAY,
                                 lines=_lines(products, 2), actor=clerk, confirm=True)  # fmt: skip
    assert (pick.state, ship.state) == (PS.READY, PS.WAITING)
    picking_done(picking=pick, actor=clerk)
    assert fresh(ship).state == PS.READY
    ship = picking_done(picking=ship, actor=clerk)
    assert ship.state == PS.DONE and ship.done_at is not None
    assert stock.on_hand(product=products[0]) == 2
    assert_stock_sound([scope])


def test_more_lines_take_no_more_statements(scope, clerk):
    wh = make_warehouse(scope)
    customer = make_party(scope, "Hangzhou Bikes", is_customer=True)
    products = [make_product(scope) for _ in range(45)]
    for item in products:
        put_stock(scope, item, wh.stock_location, 10)
    counts = []
    for chosen in (products[:5], products[5:10], products[10:]):  # the first makes the series
        with CaptureQueriesContext(connection) as create:
            [picking] = delivery_create(company=scope, warehouse=wh, party=customer,
                                        scheduled_date=DAY, lines=_lines(chosen, 1),
                                        actor=clerk)  # fmt: skip
        with CaptureQueriesContext(connection) as confirm:
            picking = picking_confirm(picking=picking, actor=clerk)
        assert picking.state == PS.READY
        with CaptureQueriesContext(connection) as done:
            picking = picking_done(picking=picking, actor=clerk)
        assert picking.state == PS.DONE and picking.done_at is not None
        counts.append((len(create), len(confirm), len(done)))
    assert counts[1] == counts[2], counts
    assert_stock_sound([scope])


# --- running valuation totals ----------------------------------------------------------------


@pytest.mark.parametrize("method", ["average", "fifo"])
def test_valuation_totals_equal_the_layers(company_a, method):
    site = Site(company_a, method=method)
    item, other = site.product(), site.product()
    site.receive(item, 10, 5, DAY1)
    site.receive(other, 3, 2, DAY1)
    site.receive(item, 10, 7, DAY2)
    site.ship(item, 15, DAY3)
    site.ship(other, 1, DAY3)
    site.ship(item, 2, DAY2)  # backdated: a correction is queued
    total = ValuationTotal.unscoped.get(product=item)
    assert total.quantity == 3
    assert total.last_date == DAY3
    assert total.last_in_cost == D(7)
    assert total.value == sum(layer.value for layer in _layers(item))
    assert valuation_total_problems([company_a]) == []
    valuation.product_revalue(product=item, from_date=DAY1)
    assert valuation_total_problems([company_a]) == []
    site.receive(item, 1, 9, DAY4)
    assert ValuationTotal.unscoped.get(product=item).last_in_cost == D(9)
    assert valuation_total_problems([company_a]) == []


def _layers(product):  # type: ignore[no-untyped-def]
    from xietong.inventory.models import ValuationLayer

    return list(ValuationLayer.unscoped.filter(product=product))


def test_the_migration_fills_the_totals_of_existing_layers(company_a):
    import importlib

    from django.apps import apps

    site = Site(company_a)
    item, other = site.product(), site.product()
    site.receive(item, 10, 5, DAY1)
    site.receive(item, 4, 8, DAY2)
    site.ship(item, 3, DAY3)
    site.receive(other, 2, 3, DAY1)
    before = sorted(
        ValuationTotal.unscoped.values_list("product_id", "quantity", "value", "last_date",
                                            "last_in_cost")
    )  # fmt: skip
    ValuationTotal.unscoped.all().delete()
    migration = importlib.import_module("xietong.inventory.migrations.0003_valuation_total_fill")
    migration.totals_fill(apps, None)
    after = sorted(
        ValuationTotal.unscoped.values_list("product_id", "quantity", "value", "last_date",
                                            "last_in_cost")
    )  # fmt: skip
    assert after == before and len(after) == 2
    assert valuation_total_problems([company_a]) == []
