"""Lot traceability through receipts, a production step (moves to and from production, the
finished move naming the component moves it consumed) and deliveries."""

from __future__ import annotations

import pytest

from xietong.core.tenancy import company_scope
from xietong.inventory import stock
from xietong.inventory.models import Location, Lot, Move, Warehouse
from xietong.inventory.pickings import delivery_create, picking_done, receipt_create
from xietong.inventory.tests.flows_helpers import (
    DAY,
    D,
    make_party,
    make_product,
    make_warehouse,
    moves_of,
    place,
    snapshot,
)
from xietong.inventory.traceability import trace_downstream, trace_upstream

Usage = Location.Usage


@pytest.fixture
def scope(company_a):
    with company_scope(company_a):
        yield company_a


def receive(company, wh, product, quantity, lot_name, supplier, supplier_lot=""):
    pickings = receipt_create(
        company=company,
        warehouse=wh,
        party=supplier,
        lines=[{"product": product, "quantity": D(quantity)}],
        scheduled_date=DAY,
        origin="PO",
    )
    [move] = moves_of(pickings[0])
    picking_done(picking=pickings[0], lots={move.pk: lot_name})
    for picking in pickings[1:]:
        picking_done(picking=picking)
    lot = Lot.unscoped.get(product=product, name=lot_name)
    if supplier_lot:
        Lot.unscoped.filter(pk=lot.pk).update(supplier_lot=supplier_lot)
        lot.refresh_from_db()
    return lot


def produce(company, wh, components, product, quantity, lot_name=None):
    """A production run: components [(product, quantity, lot)] go from stock to production,
    `quantity` of `product` (of a new lot `lot_name`) comes back, consuming them."""
    production = place(company, Usage.PRODUCTION)
    used = []
    for component, amount, lot in components:
        move = stock.move_create(
            company=company, product=component, quantity=D(amount), lot=lot,
            from_location=wh.stock_location, to_location=production, planned_date=DAY,
        )  # fmt: skip
        used.extend(stock.moves_done(moves=[move], effective_date=DAY))
    lot = stock.lot_create(company=company, product=product, name=lot_name) if lot_name else None
    made = stock.move_create(
        company=company, product=product, quantity=D(quantity), lot=lot,
        from_location=production, to_location=wh.stock_location, planned_date=DAY,
    )  # fmt: skip
    made.consumed.set(used)
    stock.moves_done(moves=[made], effective_date=DAY)
    return made, used


def ship(company, wh, product, quantity, customer, lot=None):
    pickings = delivery_create(
        company=company,
        warehouse=wh,
        party=customer,
        lines=[{"product": product, "quantity": D(quantity), "lot": lot}],
        scheduled_date=DAY,
        origin=f"SO-{customer.name}",
    )
    for picking in pickings:
        picking_done(picking=picking, effective_date=DAY)
    return pickings[-1]


@pytest.fixture
def story(scope):
    """Resin lot R1 (supplier lot SUP-77, from Supplier One, received in two steps) and
    hardener lot H1 (Supplier Two) make glue lot G1, shipped to Ann and Bob; R1 also makes
    glue lot G2, shipped to Cy; the rest of R1 is sold as is to Dee. Resin lot R2, from
    Supplier One too, makes nothing that was shipped."""
    wh = make_warehouse(
        scope,
        reception_steps=Warehouse.ReceptionSteps.TWO,
        delivery_steps=Warehouse.DeliverySteps.TWO,
    )
    resin = make_product(scope, "RESIN", tracking="lot")
    hardener = make_product(scope, "HARD", tracking="lot")
    glue = make_product(scope, "GLUE", tracking="lot")
    one, two = make_party(scope, "Supplier One"), make_party(scope, "Supplier Two")
    ann, bob, cy, dee = (make_party(scope, name) for name in ("Ann", "Bob", "Cy", "Dee"))
    r1 = receive(scope, wh, resin, 10, "R1", one, supplier_lot="SUP-77")
    r2 = receive(scope, wh, resin, 5, "R2", one)
    h1 = receive(scope, wh, hardener, 4, "H1", two)
    made_g1, _used = produce(scope, wh, [(resin, 4, r1), (hardener, 2, h1)], glue, 6, "G1")
    made_g2, _used = produce(scope, wh, [(resin, 2, r1)], glue, 2, "G2")
    g1, g2 = made_g1.lot, made_g2.lot
    ship(scope, wh, glue, 3, ann, lot=g1)
    ship(scope, wh, glue, 3, bob, lot=g1)
    ship(scope, wh, glue, 2, cy, lot=g2)
    ship(scope, wh, resin, 4, dee, lot=r1)
    return locals()


def test_downstream_finds_the_customers_of_a_supplier_lot(story):
    trace = trace_downstream(lot=story["r1"])
    assert sorted(s.party.name for s in trace.deliveries) == ["Ann", "Bob", "Cy", "Dee"]
    assert {lot.name for lot in trace.lots} == {"R1", "G1", "G2"}
    assert [lot.name for lot in trace.lots][0] == "R1"
    ann = next(s for s in trace.deliveries if s.party.name == "Ann")
    assert (ann.lot.name, ann.depth, ann.date, ann.move.quantity) == ("G1", 1, DAY, 3)
    assert ann.picking.origin == "SO-Ann" and ann.picking.kind == "delivery"
    made = [s for s in trace.steps if s.via == "consumed"]
    assert sorted((s.lot.name, s.parent.lot.name) for s in made) == [("G1", "R1"), ("G2", "R1")]
    # The receipt of R1 is on it, its own history; the hardener is not.
    assert [s.party.name for s in trace.receipts] == ["Supplier One"]
    assert all(s.lot.name != "H1" for s in trace.steps)
    assert trace_downstream(lot=story["r2"]).deliveries == []


def test_upstream_finds_the_supplier_lots_of_a_shipment(story):
    trace = trace_upstream(lot=story["g1"])
    assert sorted(lot.name for lot in trace.supplier_lots) == ["H1", "R1"]
    assert sorted((s.lot.name, s.party.name) for s in trace.receipts) == [
        ("H1", "Supplier Two"),
        ("R1", "Supplier One"),
    ]
    assert next(lot for lot in trace.supplier_lots if lot.name == "R1").supplier_lot == "SUP-77"
    # R1 is followed up to the production of G1: not into G2, nor to Dee.
    assert sorted(s.party.name for s in trace.deliveries) == ["Ann", "Bob"]
    assert {lot.name for lot in trace.lots} == {"G1", "R1", "H1"}
    consumed = [s for s in trace.steps if s.via == "consumed"]
    assert sorted((s.lot.name, s.to_location.usage) for s in consumed) == [
        ("H1", Usage.PRODUCTION),
        ("R1", Usage.PRODUCTION),
    ]
    assert all(s.depth == 1 for s in trace.steps if s.lot.name in ("R1", "H1"))
    assert trace_upstream(lot=story["g2"]).supplier_lots == [story["r1"]]


def test_untracked_goods_follow_the_route_chain(scope):
    """A kit made of a lot, not tracked itself, is followed along its moves' `previous`
    chain."""
    wh = make_warehouse(scope)
    resin = make_product(scope, "RESIN", tracking="lot")
    kit = make_product(scope, "KIT")
    supplier = make_party(scope, "Supplier")
    r1 = receive(scope, wh, resin, 3, "R1", supplier)
    made, _used = produce(scope, wh, [(resin, 3, r1)], kit, 1)
    customers = place(scope, Usage.CUSTOMER)
    out = stock.move_create(
        company=scope, product=kit, quantity=D(1), from_location=wh.stock_location,
        to_location=customers, planned_date=DAY, previous=made,
    )  # fmt: skip
    stock.moves_done(moves=[out], effective_date=DAY)
    trace = trace_downstream(lot=r1)
    assert [(s.move, s.via) for s in trace.steps if s.product == kit] == [
        (made, "consumed"),
        (out, "previous"),
    ]
    assert len(trace.deliveries) == 1 and trace.deliveries[0].party is None


def test_open_moves_are_not_traced_and_nothing_is_written(scope, story):
    lot = story["g1"]
    delivery_create(
        company=scope,
        warehouse=story["wh"],
        party=story["dee"],
        lines=[{"product": story["glue"], "quantity": D(1), "lot": lot}],
        scheduled_date=DAY,
    )
    assert Move.unscoped.filter(lot=lot).exclude(state=Move.State.DONE).exists()
    before = snapshot(scope)
    trace = trace_downstream(lot=lot)
    trace_upstream(lot=lot)
    assert all(s.move.state == Move.State.DONE for s in trace.steps)
    assert snapshot(scope) == before
