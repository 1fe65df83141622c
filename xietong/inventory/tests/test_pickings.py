"""Pickings and routes: receipts in one, two and three steps, deliveries in one, two and three
steps, internal transfers, partial work with backorders, lots and serial numbers, cancelling,
scanning, and what is refused (nothing written)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.inventory import stock
from xietong.inventory.models import Location, Lot, Move, Picking, Reservation, Warehouse
from xietong.inventory.pickings import (
    delivery_create,
    internal_transfer_create,
    picking_assign,
    picking_cancel,
    picking_confirm,
    picking_done,
    picking_scan,
    pickings_assign_waiting,
    receipt_create,
)
from xietong.inventory.stock import StockError
from xietong.inventory.tests.flows_helpers import (
    DAY,
    D,
    fresh,
    make_party,
    make_product,
    make_warehouse,
    moves_of,
    place,
    put_stock,
    quant_qty,
    reserved_qty,
    snapshot,
    unit,
)
from xietong.inventory.warehouses import location_create

PS = Picking.State
MS = Move.State
R = Warehouse.ReceptionSteps
DS = Warehouse.DeliverySteps


@pytest.fixture
def scope(company_a):
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def clerk(users_a):
    return users_a["warehouse_clerk"]


@pytest.fixture
def supplier(scope):
    return make_party(scope, "Shenzhen Parts", is_supplier=True)


@pytest.fixture
def customer(scope):
    return make_party(scope, "Hangzhou Bikes", is_customer=True)


def _receipt(company, warehouse, product, quantity, party=None, **line):
    return receipt_create(
        company=company,
        warehouse=warehouse,
        party=party,
        lines=[{"product": product, "quantity": D(quantity), **line}],
        scheduled_date=DAY,
        origin="PO-1",
    )


def _delivery(company, warehouse, product, quantity, party=None, **line):
    return delivery_create(
        company=company,
        warehouse=warehouse,
        party=party,
        lines=[{"product": product, "quantity": D(quantity), **line}],
        scheduled_date=DAY,
        origin="SO-1",
    )


# --- receipts --------------------------------------------------------------------------------


def test_one_step_receipt_numbers_confirms_and_receives(scope, supplier, clerk):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT")
    [receipt] = _receipt(scope, wh, bolt, 10, party=supplier, unit_cost=D("2.5"))
    year = timezone.localdate().year
    assert receipt.number == f"WH/IN/{year}/00001"
    assert (receipt.kind, receipt.step, receipt.state) == ("receipt", "receive", PS.DRAFT)
    assert receipt.from_location == place(scope, Location.Usage.SUPPLIER)
    assert receipt.to_location == wh.stock_location
    [move] = moves_of(receipt)
    assert (move.state, move.unit_cost, move.origin) == (MS.DRAFT, D("2.5"), "PO-1")

    assert picking_confirm(picking=receipt, actor=clerk).state == PS.READY
    done = picking_done(picking=receipt, actor=clerk)
    assert done.state == PS.DONE and done.done_at is not None
    assert quant_qty(bolt, wh.stock_location) == 10
    move = fresh(move)
    assert (move.state, move.done_by) == (MS.DONE, clerk)
    [second] = _receipt(scope, wh, bolt, 1)
    assert second.number == f"WH/IN/{year}/00002"


def test_three_step_receipt_waits_step_by_step(scope, supplier, clerk):
    wh = make_warehouse(scope, reception_steps=R.THREE)
    bolt = make_product(scope, "BOLT")
    receive, check, store = _receipt(scope, wh, bolt, 10, party=supplier)
    assert [p.step for p in (receive, check, store)] == ["receive", "quality", "store"]
    assert (check.previous, store.previous) == (receive, check)
    assert [(p.from_location, p.to_location) for p in (receive, check, store)] == [
        (place(scope, "supplier"), wh.input_location),
        (wh.input_location, wh.quality_location),
        (wh.quality_location, wh.stock_location),
    ]
    assert [p.number.split("/")[1] for p in (receive, check, store)] == ["IN", "INT", "INT"]
    [m1], [m2], [m3] = moves_of(receive), moves_of(check), moves_of(store)
    assert (m2.previous, m3.previous) == (m1, m2)
    assert all(p.party == supplier for p in (receive, check, store))

    picking_confirm(picking=receive, actor=clerk)
    assert [fresh(p).state for p in (receive, check, store)] == [PS.READY, PS.WAITING, PS.WAITING]

    before = snapshot(scope)
    with pytest.raises(StockError) as exc:
        picking_done(picking=check, actor=clerk)
    assert exc.value.code == "previous_not_done"
    assert snapshot(scope) == before

    picking_done(picking=receive, actor=clerk)
    assert [fresh(p).state for p in (receive, check, store)] == [PS.DONE, PS.READY, PS.WAITING]
    assert reserved_qty(bolt, wh.input_location) == 10
    picking_done(picking=check, actor=clerk)
    assert [fresh(p).state for p in (check, store)] == [PS.DONE, PS.READY]
    picking_done(picking=store, actor=clerk)
    assert fresh(store).state == PS.DONE
    assert quant_qty(bolt, wh.input_location) == 0
    assert quant_qty(bolt, wh.quality_location) == 0
    assert quant_qty(bolt, wh.stock_location) == 10
    assert stock.on_hand(product=bolt, location=wh.view_location) == 10


def test_later_step_does_not_take_stock_already_there(scope, clerk):
    """Goods of another receipt at the input area are not reserved for a put-away whose own
    goods have not arrived."""
    wh = make_warehouse(scope, reception_steps=R.TWO)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.input_location, 7)
    receive, store = _receipt(scope, wh, bolt, 5)
    picking_confirm(picking=receive, actor=clerk)
    assert fresh(store).state == PS.WAITING
    assert reserved_qty(bolt, wh.input_location) == 0
    assert picking_assign(picking=store, actor=clerk).state == PS.WAITING
    assert reserved_qty(bolt, wh.input_location) == 0
    picking_done(picking=receive, actor=clerk)
    assert fresh(store).state == PS.READY
    assert reserved_qty(bolt, wh.input_location) == 5


def test_stock_moves_assign_leaves_moves_waiting_for_previous_step(scope):
    wh = make_warehouse(scope, reception_steps=R.TWO)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.input_location, 7)
    receive, store = _receipt(scope, wh, bolt, 5)
    [first], [second] = moves_of(receive), moves_of(store)
    stock.moves_confirm(moves=[first, second])
    assert fresh(first).state == MS.ASSIGNED
    assert fresh(second).state == MS.WAITING  # its goods are still at the supplier
    assert reserved_qty(bolt, wh.input_location) == 0


def test_receipt_in_another_unit(scope, clerk):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT")
    [receipt] = _receipt(scope, wh, bolt, 2, uom=unit("dozen"))
    [move] = moves_of(receipt)
    assert (move.quantity, move.quantity_base) == (2, 24)
    picking_done(picking=receipt, actor=clerk, quantities={move.pk: D("1.5")})
    assert quant_qty(bolt, wh.stock_location) == 18
    [backorder] = fresh(receipt).backorders.all()
    [rest] = moves_of(backorder)
    assert (rest.quantity, rest.quantity_base, rest.uom.code) == (D("0.5"), 6, "dozen")


# --- partial receipts and backorders -----------------------------------------------------------


def test_partial_receipt_backorders_the_rest_along_the_route(scope, supplier, clerk):
    wh = make_warehouse(scope, reception_steps=R.TWO)
    bolt, nut = make_product(scope, "BOLT"), make_product(scope, "NUT")
    receive, store = receipt_create(
        company=scope,
        warehouse=wh,
        party=supplier,
        lines=[{"product": bolt, "quantity": D(10)}, {"product": nut, "quantity": D(4)}],
        scheduled_date=DAY,
        origin="PO-7",
    )
    picking_confirm(picking=receive, actor=clerk)
    bolt_in, nut_in = moves_of(receive)
    bolt_store, nut_store = moves_of(store)

    picking_done(picking=receive, actor=clerk, quantities={bolt_in.pk: D(6)})
    receive, store = fresh(receive), fresh(store)
    assert receive.state == PS.DONE
    assert [(m.product, m.quantity, m.state) for m in moves_of(receive)] == [(bolt, 6, MS.DONE)]
    [back] = receive.backorders.all()
    assert (back.state, back.kind, back.step, back.party, back.origin) == (
        PS.READY, "receipt", "receive", supplier, "PO-7",
    )  # fmt: skip
    assert back.number.startswith("WH/IN/") and back.number != receive.number
    assert sorted((m.product.sku, m.quantity) for m in moves_of(back)) == [
        ("BOLT", 4), ("NUT", 4),
    ]  # fmt: skip
    # The put-away keeps what came in (ready); the rest waits in its own backorder.
    assert store.state == PS.READY
    assert [(m.product, m.quantity, m.state) for m in moves_of(store)] == [(bolt, 6, MS.ASSIGNED)]
    [store_back] = store.backorders.all()
    assert (store_back.previous, store_back.state) == (back, PS.WAITING)
    back_moves = {m.product_id: m for m in moves_of(back)}
    for move in moves_of(store_back):
        assert move.previous == back_moves[move.product_id]
        assert move.state == MS.WAITING
    assert fresh(nut_store).picking == store_back and fresh(nut_store).previous == nut_in

    picking_done(picking=back, actor=clerk)
    assert fresh(store_back).state == PS.READY
    picking_done(picking=store, actor=clerk)
    picking_done(picking=store_back, actor=clerk)
    assert quant_qty(bolt, wh.stock_location) == 10
    assert quant_qty(nut, wh.stock_location) == 4
    assert quant_qty(bolt, wh.input_location) == 0
    assert bolt_store.pk in {m.pk for m in moves_of(store)}


def test_partial_receipt_without_backorder_cancels_the_rest(scope, clerk):
    wh = make_warehouse(scope, reception_steps=R.TWO)
    bolt = make_product(scope, "BOLT")
    receive, store = _receipt(scope, wh, bolt, 10)
    picking_confirm(picking=receive, actor=clerk)
    [move] = moves_of(receive)
    picking_done(picking=receive, actor=clerk, quantities={move.pk: D(7)}, backorder=False)
    assert not fresh(receive).backorders.exists()
    assert sorted((m.quantity, m.state) for m in moves_of(receive)) == [
        (3, MS.CANCELLED), (7, MS.DONE),
    ]  # fmt: skip
    assert fresh(receive).state == PS.DONE
    assert sorted((m.quantity, m.state) for m in moves_of(store)) == [
        (3, MS.CANCELLED), (7, MS.ASSIGNED),
    ]  # fmt: skip
    assert fresh(store).state == PS.READY
    picking_done(picking=store, actor=clerk)
    assert quant_qty(bolt, wh.stock_location) == 7


def test_quantities_refused_write_nothing(scope, clerk, company_b):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT")
    [receipt] = _receipt(scope, wh, bolt, 10)
    picking_confirm(picking=receipt, actor=clerk)
    [move] = moves_of(receipt)
    [other] = _receipt(scope, wh, bolt, 1)
    [other_move] = moves_of(other)
    before = snapshot(scope)
    for quantities, code in (
        ({move.pk: D(-1)}, "quantity"),
        ({move.pk: D(11)}, "too_much"),
        ({move.pk: 2.5}, "float"),
        ({move.pk: D(0)}, "nothing_done"),
        ({other_move.pk: D(1)}, "foreign_move"),
        ({}, "nothing_done"),
    ):
        with pytest.raises(StockError) as exc:
            picking_done(picking=receipt, actor=clerk, quantities=quantities)
        assert exc.value.code == code
    assert snapshot(scope) == before


def test_done_and_cancelled_pickings_are_refused(scope, clerk):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT")
    [receipt] = _receipt(scope, wh, bolt, 10)
    picking_done(picking=receipt, actor=clerk)  # a draft is confirmed, then done
    for service in (picking_done, picking_cancel, picking_confirm, picking_assign):
        with pytest.raises(StockError) as exc:
            service(picking=receipt, actor=clerk)
        assert exc.value.code == "state"
    assert quant_qty(bolt, wh.stock_location) == 10


# --- lots and serial numbers -------------------------------------------------------------------


def test_tracked_receipt_needs_its_lot(scope, clerk):
    wh = make_warehouse(scope)
    resin = make_product(scope, "RESIN", tracking="lot")
    [receipt] = _receipt(scope, wh, resin, 5)
    picking_confirm(picking=receipt, actor=clerk)
    [move] = moves_of(receipt)
    before = snapshot(scope)
    with pytest.raises(StockError) as exc:
        picking_done(picking=receipt, actor=clerk)
    assert exc.value.code == "lot_required"
    assert snapshot(scope) == before

    picking_done(picking=receipt, actor=clerk, lots={move.pk: "R-2026-01"})
    lot = Lot.unscoped.get(product=resin, name="R-2026-01")
    assert fresh(move).lot == lot
    assert quant_qty(resin, wh.stock_location, lot) == 5


def test_lot_given_at_reception_follows_the_route(scope, clerk):
    wh = make_warehouse(scope, reception_steps=R.TWO)
    resin = make_product(scope, "RESIN", tracking="lot")
    planned = stock.lot_create(company=scope, product=resin, name="PLANNED")
    receive, store = _receipt(scope, wh, resin, 5, lot=planned)
    picking_confirm(picking=receive, actor=clerk)
    [move] = moves_of(receive)
    picking_done(picking=receive, actor=clerk, lots={move.pk: "ACTUAL"})
    actual = Lot.unscoped.get(product=resin, name="ACTUAL")
    [put_away] = moves_of(store)
    assert put_away.lot == actual and put_away.state == MS.ASSIGNED
    picking_done(picking=store, actor=clerk)
    assert quant_qty(resin, wh.stock_location, actual) == 5
    assert quant_qty(resin, wh.stock_location, planned) == 0


def test_serial_numbers_split_the_receipt(scope, clerk):
    wh = make_warehouse(scope)
    frame = make_product(scope, "FRAME", tracking="serial")
    [receipt] = _receipt(scope, wh, frame, 4)
    picking_confirm(picking=receipt, actor=clerk)
    [move] = moves_of(receipt)
    before = snapshot(scope)
    for lots, code in (
        ({move.pk: ["S1", "S2"]}, "serials"),
        ({move.pk: ["S1", "S1", "S2"]}, "serials"),
    ):
        with pytest.raises(StockError) as exc:
            picking_done(picking=receipt, actor=clerk, quantities={move.pk: D(3)}, lots=lots)
        assert exc.value.code == code
    assert snapshot(scope) == before

    picking_done(
        picking=receipt, actor=clerk, quantities={move.pk: D(3)}, lots={move.pk: ["S1", "S2", "S3"]}
    )
    done = [m for m in moves_of(receipt) if m.state == MS.DONE]
    assert sorted((m.lot.name, m.quantity_base) for m in done) == [
        ("S1", 1), ("S2", 1), ("S3", 1),
    ]  # fmt: skip
    [back] = fresh(receipt).backorders.all()
    assert [(m.quantity, m.lot) for m in moves_of(back)] == [(1, None)]
    assert stock.on_hand(product=frame, location=wh.stock_location) == 3


def test_partial_delivery_keeps_the_rest_reserved(scope, customer, clerk):
    wh = make_warehouse(scope)
    resin = make_product(scope, "RESIN", tracking="lot")
    early = stock.lot_create(company=scope, product=resin, name="EARLY",
                             expiry_date=DAY.replace(month=6))  # fmt: skip
    late = stock.lot_create(company=scope, product=resin, name="LATE",
                            expiry_date=DAY.replace(month=12))  # fmt: skip
    put_stock(scope, resin, wh.stock_location, 5, lot=late)
    put_stock(scope, resin, wh.stock_location, 5, lot=early)
    [delivery] = _delivery(scope, wh, resin, 8, party=customer)
    picking_confirm(picking=delivery, actor=clerk)
    [move] = moves_of(delivery)
    assert fresh(delivery).state == PS.READY
    assert reserved_qty(resin) == 8
    picking_done(picking=delivery, actor=clerk, quantities={move.pk: D(6)})
    done = [m for m in moves_of(delivery) if m.state == MS.DONE]
    assert sorted((m.lot.name, m.quantity_base) for m in done) == [("EARLY", 5), ("LATE", 1)]
    [back] = fresh(delivery).backorders.all()
    [rest] = moves_of(back)
    assert (rest.quantity, rest.state, back.state) == (2, MS.ASSIGNED, PS.READY)
    assert sum(r.quantity for r in Reservation.unscoped.filter(move=rest)) == 2
    assert reserved_qty(resin) == 2
    assert stock.on_hand(product=resin) == 4


# --- deliveries --------------------------------------------------------------------------------


def test_two_step_delivery_picks_then_ships(scope, customer, clerk):
    wh = make_warehouse(scope, delivery_steps=DS.TWO)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 10)
    pick, ship = _delivery(scope, wh, bolt, 4, party=customer)
    assert [(p.kind, p.step) for p in (pick, ship)] == [("internal", "pick"), ("delivery", "ship")]
    assert pick.number.split("/")[1] == "INT" and ship.number.split("/")[1] == "OUT"
    assert ship.to_location == place(scope, Location.Usage.CUSTOMER)
    picking_confirm(picking=pick, actor=clerk)
    assert [fresh(p).state for p in (pick, ship)] == [PS.READY, PS.WAITING]
    assert reserved_qty(bolt, wh.stock_location) == 4
    picking_done(picking=pick, actor=clerk)
    assert fresh(ship).state == PS.READY
    assert reserved_qty(bolt, wh.output_location) == 4
    picking_done(picking=ship, actor=clerk)
    assert quant_qty(bolt, wh.output_location) == 0
    assert stock.on_hand(product=bolt) == 6


def test_three_step_delivery(scope, customer, clerk):
    wh = make_warehouse(scope, delivery_steps=DS.THREE)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 10)
    pick, pack, ship = _delivery(scope, wh, bolt, 3, party=customer)
    assert [p.step for p in (pick, pack, ship)] == ["pick", "pack", "ship"]
    assert (pack.from_location, pack.to_location) == (wh.pack_location, wh.output_location)
    for picking in (pick, pack, ship):
        if picking is pick:
            picking_confirm(picking=picking, actor=clerk)
        assert fresh(picking).state == PS.READY
        picking_done(picking=picking, actor=clerk)
    assert stock.on_hand(product=bolt) == 7
    assert stock.on_hand(product=bolt, location=wh.pack_location) == 0


def test_delivery_waits_for_stock_then_gets_it(scope, customer, clerk):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 2)
    [delivery] = _delivery(scope, wh, bolt, 5, party=customer)
    picking_confirm(picking=delivery, actor=clerk)
    assert fresh(delivery).state == PS.WAITING
    before = snapshot(scope)
    with pytest.raises(StockError) as exc:
        picking_done(picking=delivery, actor=clerk)
    assert exc.value.code == "not_enough_stock"
    assert snapshot(scope) == before

    [move] = moves_of(delivery)
    picking_done(picking=delivery, actor=clerk, quantities={move.pk: D(2)})
    [back] = fresh(delivery).backorders.all()
    assert back.state == PS.WAITING
    assert pickings_assign_waiting(company=scope, actor=clerk) == []
    put_stock(scope, bolt, wh.stock_location, 4)
    assert pickings_assign_waiting(company=scope, actor=clerk) == [back]
    assert fresh(back).state == PS.READY
    picking_done(picking=back, actor=clerk)
    assert stock.on_hand(product=bolt) == 1


def test_stock_come_in_meanwhile_is_reserved_when_done(scope, customer, clerk):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 4)
    [delivery] = _delivery(scope, wh, bolt, 10, party=customer)
    picking_confirm(picking=delivery, actor=clerk)
    assert reserved_qty(bolt) == 4
    put_stock(scope, bolt, wh.stock_location, 7)
    [move] = moves_of(delivery)
    picking_done(picking=delivery, actor=clerk, quantities={move.pk: D(6)})
    [back] = fresh(delivery).backorders.all()
    assert (fresh(back).state, reserved_qty(bolt), stock.on_hand(product=bolt)) == (
        PS.READY, 4, 5,
    )  # fmt: skip
    picking_done(picking=back, actor=clerk)
    assert stock.on_hand(product=bolt) == 1


def test_cancel_releases_and_cancels_later_steps(scope, customer, clerk):
    wh = make_warehouse(scope, delivery_steps=DS.TWO)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 10)
    pick, ship = _delivery(scope, wh, bolt, 4, party=customer)
    picking_confirm(picking=pick, actor=clerk)
    assert reserved_qty(bolt) == 4
    picking_cancel(picking=pick, actor=clerk)
    assert [fresh(p).state for p in (pick, ship)] == [PS.CANCELLED, PS.CANCELLED]
    assert reserved_qty(bolt) == 0
    assert not Reservation.unscoped.filter(move__picking=pick).exists()


def test_cancel_a_later_step_only(scope, customer, clerk):
    wh = make_warehouse(scope, delivery_steps=DS.TWO)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 10)
    pick, ship = _delivery(scope, wh, bolt, 4, party=customer)
    picking_done(picking=pick, actor=clerk)
    assert reserved_qty(bolt, wh.output_location) == 4
    picking_cancel(picking=ship, actor=clerk)
    assert [fresh(p).state for p in (pick, ship)] == [PS.DONE, PS.CANCELLED]
    assert reserved_qty(bolt) == 0
    assert quant_qty(bolt, wh.output_location) == 4


# --- internal transfers, scanning, refusals ----------------------------------------------------


def test_internal_transfer_between_shelves(scope, clerk):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT")
    stock_location = fresh(wh.stock_location)  # see the test below
    shelf_a = location_create(company=scope, name="A", parent=stock_location)
    shelf_b = location_create(company=scope, name="B", parent=stock_location)
    put_stock(scope, bolt, shelf_a, 5)
    transfer = internal_transfer_create(
        company=scope,
        from_location=shelf_a,
        to_location=shelf_b,
        lines=[{"product": bolt, "quantity": D(5)}],
        scheduled_date=DAY,
    )
    assert transfer.number.startswith("WH/INT/") and transfer.warehouse == wh
    picking_done(picking=transfer, actor=clerk)
    assert (quant_qty(bolt, shelf_a), quant_qty(bolt, shelf_b)) == (0, 5)

    before = snapshot(scope)
    with pytest.raises(StockError) as exc:
        internal_transfer_create(
            company=scope,
            from_location=place(scope, Location.Usage.SUPPLIER),
            to_location=shelf_b,
            lines=[{"product": bolt, "quantity": D(5)}],
            scheduled_date=DAY,
        )
    assert exc.value.code == "not_stock"
    assert snapshot(scope) == before


def test_shelf_below_a_new_warehouse_belongs_to_it(scope):
    wh = make_warehouse(scope)
    shelf = location_create(company=scope, name="A", parent=wh.stock_location)
    assert fresh(shelf).warehouse == wh


def test_creation_refusals_write_nothing(scope, company_b):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT")
    service = make_product(scope, "FEE", type="service")
    with company_scope(company_b):
        wh_b = make_warehouse(company_b, "WB")
        bolt_b = make_product(company_b, "BOLT")
    before = snapshot(scope)
    cases = (
        (wh, [], "no_lines"),
        (wh, [{"product": bolt, "quantity": D(0)}], "quantity"),
        (wh, [{"product": bolt, "quantity": 1.5}], "float"),
        (wh, [{"product": bolt, "quantity": D(1), "price": 1}], "line"),
        (wh, [{"product": bolt, "quantity": D(2)}, {"product": service, "quantity": D(1)}],
         "service"),
        (wh, [{"product": bolt_b, "quantity": D(1)}], "foreign_record"),
        (wh, [{"product": bolt, "quantity": D(1), "lot": "L1"}], "line"),
        (wh_b, [{"product": bolt, "quantity": D(1)}], "foreign_record"),
    )  # fmt: skip
    for warehouse, lines, code in cases:
        with pytest.raises(StockError) as exc:
            receipt_create(company=scope, warehouse=warehouse, lines=lines, scheduled_date=DAY)
        assert exc.value.code == code, lines
    with pytest.raises(StockError) as exc:
        delivery_create(company=scope, warehouse=wh, scheduled_date=DAY,
                        lines=[{"product": bolt, "quantity": D(1), "unit_cost": D(3)}])  # fmt: skip
    assert exc.value.code == "line"
    assert snapshot(scope) == before


def test_scan_resolves_products_lots_and_locations(scope):
    wh = make_warehouse(scope)
    bolt = make_product(scope, "BOLT", barcode="4006381333931")
    resin = make_product(scope, "RESIN", tracking="lot")
    other = make_product(scope, "GLUE", tracking="lot")
    stock.lot_create(company=scope, product=other, name="L-1")
    lot = stock.lot_create(company=scope, product=resin, name="L-1")
    shelf = location_create(company=scope, name="A1", parent=wh.stock_location, barcode="LOC-A1")
    [receipt] = receipt_create(
        company=scope,
        warehouse=wh,
        lines=[{"product": bolt, "quantity": D(1)}, {"product": resin, "quantity": D(2)}],
        scheduled_date=DAY,
    )
    bolt_move, resin_move = moves_of(receipt)
    before = snapshot(scope)

    found = picking_scan(picking=receipt, code="4006381333931")
    assert (found.kind, found.product, found.moves) == ("product", bolt, [bolt_move])
    found = picking_scan(picking=receipt, code="bolt")
    assert (found.kind, found.product) == ("product", bolt)
    found = picking_scan(picking=receipt, code="L-1")
    assert (found.kind, found.lot, found.product, found.moves) == ("lot", lot, resin, [resin_move])
    found = picking_scan(picking=receipt, code="LOC-A1")
    assert (found.kind, found.location, found.moves) == ("location", shelf, [])
    found = picking_scan(picking=receipt, code=wh.stock_location.barcode or "nothing-here")
    assert found.kind == "" and found.moves == []
    assert picking_scan(picking=receipt, code="  ").kind == ""
    assert snapshot(scope) == before


def test_partial_steps_of_a_three_step_delivery(scope, customer, clerk):
    wh = make_warehouse(scope, delivery_steps=DS.THREE)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 20)
    pick, pack, ship = _delivery(scope, wh, bolt, 10, party=customer)
    picking_confirm(picking=pick, actor=clerk)
    [pick_move] = moves_of(pick)
    picking_done(picking=pick, actor=clerk, quantities={pick_move.pk: D(6)})
    [pick_back] = fresh(pick).backorders.all()
    [pack_back] = fresh(pack).backorders.all()
    [ship_back] = fresh(ship).backorders.all()
    assert (pack_back.previous, ship_back.previous) == (pick_back, pack_back)
    assert [(m.quantity, m.state) for m in moves_of(pack)] == [(6, MS.ASSIGNED)]
    assert [(m.quantity, m.state) for m in moves_of(ship)] == [(6, MS.WAITING)]
    assert [fresh(p).state for p in (pick_back, pack_back, ship_back)] == [
        PS.READY, PS.WAITING, PS.WAITING,
    ]  # fmt: skip

    # Packing 4 of the 6 picked: 2 stay reserved at packing, in a second backorder.
    [pack_move] = moves_of(pack)
    picking_done(picking=pack, actor=clerk, quantities={pack_move.pk: D(4)})
    [pack_back2] = [b for b in fresh(pack).backorders.all() if b != pack_back]
    [ship_back2] = [b for b in fresh(ship).backorders.all() if b != ship_back]
    assert ship_back2.previous == pack_back2
    assert (fresh(pack_back2).state, fresh(ship).state, fresh(ship_back2).state) == (
        PS.READY, PS.READY, PS.WAITING,
    )  # fmt: skip
    assert [m.quantity for m in moves_of(ship)] == [4]
    assert reserved_qty(bolt, wh.pack_location) == 2

    for picking in (ship, pack_back2, ship_back2, pick_back, pack_back, ship_back):
        assert fresh(picking).state == PS.READY, picking
        picking_done(picking=picking, actor=clerk)
    assert stock.on_hand(product=bolt) == 10
    assert reserved_qty(bolt) == 0
    customers = place(scope, Location.Usage.CUSTOMER)
    shipped = Move.unscoped.filter(product=bolt, to_location=customers, state=MS.DONE)
    assert sum(m.quantity for m in shipped) == 10


# --- concurrency -------------------------------------------------------------------------------


def _concurrently(*calls):
    """Run the calls in threads started together; each gives "ok" or its StockError code."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            barrier.wait()
            call()
            return "ok"
        except StockError as exc:
            return exc.code
        finally:
            connection.close()

    with ThreadPoolExecutor(len(calls)) as pool:
        return sorted(pool.map(run, calls))


@pytest.mark.django_db(transaction=True)
def test_concurrent_clerks_neither_share_stock_nor_do_a_picking_twice(company_a, users_a):
    clerk = users_a["warehouse_clerk"]
    with company_scope(company_a):
        wh = make_warehouse(company_a)
        bolt = make_product(company_a, "BOLT")
        put_stock(company_a, bolt, wh.stock_location, 10)
        [first] = _delivery(company_a, wh, bolt, 6)
        [second] = _delivery(company_a, wh, bolt, 6)
        [receipt] = _receipt(company_a, wh, bolt, 5)
        picking_confirm(picking=receipt, actor=clerk)
    assert _concurrently(
        lambda: picking_done(picking=first, actor=clerk),
        lambda: picking_done(picking=second, actor=clerk),
    ) == ["not_enough_stock", "ok"]
    assert stock.on_hand(product=bolt) == 4
    assert sorted([fresh(first).state, fresh(second).state]) == [PS.DONE, PS.DRAFT]
    assert _concurrently(
        lambda: picking_done(picking=receipt, actor=clerk),
        lambda: picking_done(picking=receipt, actor=clerk),
    ) == ["ok", "state"]
    assert stock.on_hand(product=bolt) == 9
    assert reserved_qty(bolt) == 0
