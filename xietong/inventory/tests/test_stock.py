"""The stock services one by one: creating moves (and what is refused), receiving, reserving
(FEFO, FIFO, a given lot, partial and full), releasing, doing (reservations first, then free
stock; splitting by lot; negative stock; lots and serial numbers), moves that follow a done
move, internal transfers and units. Every test ends with the stock invariants."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from xietong.inventory import stock
from xietong.inventory.models import Location, Move, Quant, Reservation
from xietong.inventory.stock import StockError
from xietong.inventory.tests import factories as f
from xietong.inventory.tests.invariants import assert_stock_sound, stock_problems
from xietong.inventory.warehouses import virtual_locations

D = Decimal
State = Move.State


@pytest.fixture
def w(company_a):  # type: ignore[no-untyped-def]
    return f.site(company_a)


@pytest.fixture
def wb(company_b):  # type: ignore[no-untyped-def]
    return f.site(company_b, "HK")


def _refused(code: str, call, *args, **kwargs) -> StockError:  # type: ignore[no-untyped-def]
    """`call` raises StockError with `code` and writes nothing."""
    before = f.snapshot()
    with pytest.raises(StockError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value
    assert f.snapshot() == before
    return info.value


# --- move_create -----------------------------------------------------------------------------


def test_move_create_makes_a_draft_in_the_stock_unit(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    move = f.move(item, 3, w.supplier, w.stock, origin="PO1" * 40)
    assert move.state == State.DRAFT
    assert (move.quantity, move.quantity_base, move.uom_id) == (D(3), D(3), item.uom_id)
    assert len(move.origin) == 80
    assert stock.on_hand(product=item) == 0  # a draft changes nothing


def test_move_create_refusals(w, wb) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    other = f.lot_product(w.company)
    other_lot = f.lot(other, "L-OTHER")
    serial = f.serial_product(w.company)
    sn = f.lot(serial, "SN-1")
    foreign = f.product(wb.company)
    make = f.move
    _refused("service", make, f.service(w.company), 1, w.supplier, w.stock)
    _refused("view_location", make, item, 1, w.view, w.stock)
    _refused("view_location", make, item, 1, w.stock, w.view)
    _refused("same_location", make, item, 1, w.stock, w.stock)
    _refused("foreign_record", make, foreign, 1, w.supplier, w.stock)  # product of B
    _refused("foreign_record", make, item, 1, w.supplier, wb.stock)  # location of B
    _refused("unit", make, item, 1, w.supplier, w.stock, uom=f.unit("kg"))
    _refused("lot", make, item, 1, w.supplier, w.stock, lot=other_lot)
    _refused("serial", make, serial, 2, w.supplier, w.stock, lot=sn)
    _refused("serial", make, serial, 1, w.supplier, w.stock, lot=sn, uom=f.unit("dozen"))
    _refused("quantity", make, item, 0, w.supplier, w.stock)
    _refused("quantity", make, item, -1, w.supplier, w.stock)
    with pytest.raises(StockError) as info:
        stock.move_create(company=w.company, product=item, quantity=1.0,  # type: ignore[arg-type]
                          from_location=w.supplier, to_location=w.stock, planned_date=f.TODAY)  # fmt: skip
    assert info.value.code == "float"
    assert Move.unscoped.count() == 0
    assert f.move(serial, 1, w.supplier, w.stock, lot=sn).quantity_base == 1


def test_move_create_refuses_a_quantity_its_stock_unit_cannot_hold(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)  # pieces, rounding 1
    try:
        move = f.move(item, "1.5", w.supplier, w.stock)
    except StockError as exc:
        assert exc.code == "quantity"
    else:  # accepted: then the stock quantity must be the quantity asked for
        assert move.quantity_base == move.quantity == D("1.5")


def test_move_create_refuses_a_previous_move_of_another_company(w, wb) -> None:  # type: ignore[no-untyped-def]
    foreign = f.move(f.product(wb.company), 1, wb.supplier, wb.stock)
    _refused("foreign_record", f.move, f.product(w.company), 1, w.stock, w.output, previous=foreign)


def test_lot_create(w) -> None:  # type: ignore[no-untyped-def]
    item = f.lot_product(w.company)
    made = f.lot(item, "  L1 ", dt.date(2027, 1, 1))
    assert (made.name, made.expiry_date) == ("L1", dt.date(2027, 1, 1))
    _refused("lot_exists", f.lot, item, "L1")
    _refused("lot_required", f.lot, item, "  ")
    _refused("not_tracked", f.lot, f.product(w.company), "L1")


# --- receiving and reading -------------------------------------------------------------------


def test_receive_then_on_hand_and_available(w, wb) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    done = f.receive(item, 10, location=w.stock)
    assert [(m.state, m.effective_date is not None) for m in done] == [(State.DONE, True)]
    f.receive(item, 5, location=w.output)
    assert stock.on_hand(product=item) == 15
    assert stock.on_hand(product=item, location=w.stock) == 10
    assert stock.on_hand(product=item, location=w.view) == 15  # the warehouse as a whole
    assert stock.on_hand(product=item, location=w.customer) == 0  # not a stock location
    assert stock.available(product=item) == 15
    f.deliver(item, 4, location=w.stock)
    assert stock.on_hand(product=item) == 15
    assert stock.available(product=item) == 11
    assert stock.available(product=item, location=w.output) == 5
    assert not Quant.unscoped.filter(location=w.supplier).exists()
    foreign = f.product(wb.company)
    f.receive(foreign, 7, location=wb.stock)
    assert stock.on_hand(product=item) == 15
    assert stock.on_hand(product=foreign) == 7
    assert_stock_sound()
    assert_stock_sound([w.company])


def test_effective_date_defaults_to_today_or_is_given(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    draft = f.move(item, 1, w.supplier, w.stock)
    [done] = stock.moves_done(moves=[draft], effective_date=dt.date(2026, 1, 31))
    assert f.fresh(done).effective_date == dt.date(2026, 1, 31)
    [done] = f.receive(item, 1, location=w.stock)
    assert f.fresh(done).effective_date is not None
    assert f.fresh(done).done_at is not None
    assert_stock_sound()


# --- confirming and reserving ----------------------------------------------------------------


def test_confirm_reserves_fully_or_partly_and_assign_completes(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 6, location=w.stock)
    full = f.deliver(item, 2, location=w.stock)
    assert full.state == State.ASSIGNED and f.reserved_of(full) == 2
    partial = f.deliver(item, 10, location=w.stock)
    assert partial.state == State.WAITING and f.reserved_of(partial) == 4
    assert stock.available(product=item) == 0
    assert_stock_sound()
    f.receive(item, 3, location=w.stock)
    [again] = stock.moves_assign(moves=[partial])
    assert again.state == State.WAITING and f.reserved_of(partial) == 7
    f.receive(item, 10, location=w.stock)
    [again] = stock.moves_assign(moves=[partial])
    assert again.state == State.ASSIGNED and f.reserved_of(partial) == 10
    assert Reservation.unscoped.filter(move=partial).count() == 1  # topped up, not duplicated
    assert stock.available(product=item) == 7
    [again] = stock.moves_assign(moves=[partial])  # assigned already: nothing more
    assert f.reserved_of(partial) == 10
    assert_stock_sound()


def test_moves_inserted_confirmed_reserve_as_confirming_would(w) -> None:  # type: ignore[no-untyped-def]
    # built, not saved: written once in their final state, with what stock allows reserved
    item = f.product(w.company)
    f.receive(item, 6, location=w.stock)
    places = virtual_locations(company=w.company)
    built = [
        stock.move_build(company=w.company, product=item, quantity=D(qty), from_location=source,
                         to_location=dest, planned_date=f.TODAY, origin="MO/TEST")
        for qty, source, dest in ((2, w.stock, places[Location.Usage.PRODUCTION]),
                                  (10, w.stock, places[Location.Usage.PRODUCTION]),
                                  (3, places[Location.Usage.PRODUCTION], w.stock))
    ]  # fmt: skip
    full, partial, finished = stock.moves_insert_confirmed(built)
    assert all(m.pk for m in built)
    stored = {m.pk: m.state for m in Move.unscoped.filter(pk__in=[m.pk for m in built])}
    assert stored == {full.pk: State.ASSIGNED, partial.pk: State.WAITING,
                      finished.pk: State.ASSIGNED}  # fmt: skip
    assert (f.reserved_of(full), f.reserved_of(partial), f.reserved_of(finished)) == (2, 4, 0)
    again = Move.unscoped.get(pk=full.pk)  # dates and times read back as written
    assert (again.created_at, again.planned_date, again.quantity_base) == (
        full.created_at, f.TODAY, D(2))  # fmt: skip
    assert stock.available(product=item) == 0
    assert_stock_sound()
    f.receive(item, 6, location=w.stock)
    [again] = stock.moves_assign(moves=[partial])  # the usual services go on from there
    assert again.state == State.ASSIGNED and f.reserved_of(partial) == 10
    assert_stock_sound()


def test_confirm_refuses_a_move_not_in_draft(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 1, location=w.stock)
    move = f.deliver(item, 1, location=w.stock)
    _refused("state", stock.moves_confirm, moves=[move])


def test_moves_from_outside_stock_are_assigned_without_reserving(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    [move] = stock.moves_confirm(moves=[f.move(item, 5, w.supplier, w.stock)])
    assert move.state == State.ASSIGNED
    assert not Reservation.unscoped.exists()


def test_fifo_takes_the_stock_received_first(w) -> None:  # type: ignore[no-untyped-def]
    # lots without expiry date: FIFO by arrival, not by lot name or lot creation order
    item = f.lot_product(w.company)
    late = f.lot(item, "A-LATE")
    early = f.lot(item, "Z-EARLY")
    f.receive(item, 5, early, location=w.stock)
    f.receive(item, 5, late, location=w.stock)
    move = f.deliver(item, 7, location=w.stock)
    taken = {
        r.quant.lot_id: r.quantity
        for r in Reservation.unscoped.filter(move=move).select_related("quant")
    }
    assert taken == {early.pk: 5, late.pk: 2}
    assert_stock_sound()


def test_fifo_after_a_location_was_emptied_and_refilled(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    first = f.shelf(w.stock, "A")
    second = f.shelf(w.stock, "B")
    f.receive(item, 5, location=first)
    stock.moves_done(moves=[f.deliver(item, 5, location=first)])  # shelf A is empty now
    f.receive(item, 5, location=second)  # the oldest stock on hand
    f.receive(item, 5, location=first)  # the newest
    move = f.deliver(item, 5, location=second.parent)
    [r] = Reservation.unscoped.filter(move=move).select_related("quant")
    assert r.quant.location_id == second.pk


def test_fefo_takes_the_lot_expiring_first(w) -> None:  # type: ignore[no-untyped-def]
    item = f.lot_product(w.company)
    undated = f.lot(item, "NO-EXPIRY")
    later = f.lot(item, "SEPT", dt.date(2026, 9, 1))
    sooner = f.lot(item, "JULY", dt.date(2026, 7, 1))
    f.receive(item, 4, undated, location=w.stock)
    f.receive(item, 4, later, location=w.stock)
    f.receive(item, 4, sooner, location=w.stock)  # received last, expires first
    move = f.deliver(item, 10, location=w.stock)
    taken = {
        r.quant.lot_id: r.quantity
        for r in Reservation.unscoped.filter(move=move).select_related("quant")
    }
    assert taken == {sooner.pk: 4, later.pk: 4, undated.pk: 2}
    assert stock.available(product=item, lot=undated) == 2
    assert_stock_sound()


def test_reserving_a_given_lot(w) -> None:  # type: ignore[no-untyped-def]
    item = f.lot_product(w.company)
    sooner = f.lot(item, "L1", dt.date(2026, 6, 1))
    wanted = f.lot(item, "L2", dt.date(2026, 12, 1))
    f.receive(item, 5, sooner, location=w.stock)
    f.receive(item, 3, wanted, location=w.stock)
    move = f.deliver(item, 4, location=w.stock, lot=wanted)
    assert move.state == State.WAITING  # only 3 of L2, even though L1 has 5
    assert f.reserved_of(move) == 3
    assert stock.available(product=item, lot=sooner) == 5
    assert stock.available(product=item, lot=wanted) == 0
    _refused("not_enough_stock", stock.moves_done, moves=[move])
    f.receive(item, 1, wanted, location=w.stock)
    assert stock.moves_assign(moves=[move])[0].state == State.ASSIGNED
    [done] = stock.moves_done(moves=[move])
    assert (done.lot_id, done.quantity_base) == (wanted.pk, 4)
    assert stock.on_hand(product=item) == 5
    assert_stock_sound()


def test_reservation_spans_the_locations_below(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    a = f.shelf(w.stock, "A")
    f.receive(item, 3, location=a)
    f.receive(item, 3, location=w.stock)
    f.receive(item, 9, location=w.output)  # not below stock
    move = f.deliver(item, 6, location=w.stock)
    assert move.state == State.ASSIGNED
    assert stock.available(product=item, location=w.stock) == 0
    assert stock.available(product=item, location=a) == 0
    assert stock.available(product=item, location=w.output) == 9
    assert_stock_sound()


def test_doing_a_move_out_of_a_parent_location_keeps_quants_equal_to_moves(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    a = f.shelf(w.stock, "A")
    f.receive(item, 3, location=a)
    f.receive(item, 3, location=w.stock)
    done = stock.moves_done(moves=[f.deliver(item, 5, location=w.stock)])
    assert stock.on_hand(product=item, location=w.stock) == 1
    assert sum(m.quantity_base for m in done) == 5
    assert stock_problems() == []


def test_unreserve_and_cancel_release(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 5, location=w.stock)
    first = f.deliver(item, 3, location=w.stock)
    second = f.deliver(item, 4, location=w.stock)
    assert (first.state, second.state) == (State.ASSIGNED, State.WAITING)
    [first] = stock.moves_unreserve(moves=[first])
    assert f.fresh(first).state == State.WAITING and f.reserved_of(first) == 0
    assert stock.available(product=item) == 3  # 2 still held by `second`
    assert_stock_sound()
    stock.moves_cancel(moves=[second])
    assert f.fresh(second).state == State.CANCELLED and f.reserved_of(second) == 0
    assert stock.available(product=item) == 5
    assert_stock_sound()
    _refused("state", stock.moves_unreserve, moves=[second])
    _refused("state", stock.moves_cancel, moves=[second])
    _refused("state", stock.moves_confirm, moves=[second])
    stock.moves_cancel(moves=[f.move(item, 1, w.stock, w.customer)])  # a draft, too
    [done] = stock.moves_done(moves=[first])  # done straight from waiting, free stock
    _refused("state", stock.moves_cancel, moves=[done])
    _refused("state", stock.moves_done, moves=[done])
    _refused("state", stock.moves_done, moves=[second])
    assert stock.on_hand(product=item) == 2
    assert_stock_sound()


# --- doing -----------------------------------------------------------------------------------


def test_done_takes_its_reservation_first_then_free_stock(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 10, location=w.stock)
    held = f.deliver(item, 4, location=w.stock)
    stock.moves_done(moves=[f.move(item, 3, w.stock, w.customer)])  # a draft: free stock
    quant = Quant.unscoped.get(product=item, location=w.stock)
    assert (quant.quantity, quant.reserved) == (7, 4)
    # 4 more would need `held`'s stock: refused, its reservation is not taken
    _refused("not_enough_stock", stock.moves_done, moves=[f.move(item, 4, w.stock, w.customer)])
    stock.moves_done(moves=[held])
    quant = f.fresh(quant)
    assert (quant.quantity, quant.reserved) == (3, 0)
    assert not Reservation.unscoped.exists()
    assert_stock_sound()


def test_done_of_a_partly_reserved_move_takes_free_stock_elsewhere(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 4, location=w.stock)
    move = f.deliver(item, 6, location=w.stock)
    assert f.reserved_of(move) == 4
    other = f.shelf(w.stock, "A")
    f.receive(item, 2, location=other)  # a quant the move holds nothing of
    done = stock.moves_done(moves=[move])
    assert sum(m.quantity_base for m in done) == 6
    assert stock.on_hand(product=item) == 0


def test_done_of_a_partly_reserved_move_takes_the_rest_of_the_same_quant(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 6, location=w.stock)
    move = f.deliver(item, 10, location=w.stock)
    assert (move.state, f.reserved_of(move)) == (State.WAITING, 6)
    f.receive(item, 4, location=w.stock)  # into the same quant, not reserved yet
    [done] = stock.moves_done(moves=[move])
    assert done.quantity_base == 10
    assert stock.on_hand(product=item) == 0
    assert_stock_sound()


def test_not_enough_stock_is_refused_and_nothing_changes(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 5, location=w.stock)
    fits = f.move(item, 2, w.stock, w.customer)
    too_much = f.move(item, 4, w.stock, w.customer)
    moves, quants = Move.unscoped.count(), Quant.unscoped.count()
    error = _refused("not_enough_stock", stock.moves_done, moves=[fits, too_much])
    assert "3" in str(error.message) and "4" in str(error.message)  # have 3 after `fits`
    assert (Move.unscoped.count(), Quant.unscoped.count()) == (moves, quants)
    assert f.fresh(fits).state == State.DRAFT  # the part that fitted was undone as well
    assert stock.on_hand(product=item) == 5
    _refused("not_enough_stock", stock.moves_done, moves=[f.move(item, 1, w.output, w.stock)])
    assert_stock_sound()


def test_the_not_enough_message_writes_plain_numbers(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 20, location=w.stock)
    error = _refused(
        "not_enough_stock", stock.moves_done, moves=[f.move(item, 30, w.stock, w.customer)]
    )
    assert "20 available, 30 needed" in str(error.message)


def test_negative_stock_where_the_location_allows_it(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    tracked = f.lot_product(w.company)
    floor = f.shelf(w.stock, "Floor", allow_negative=True)
    f.receive(item, 2, location=floor)
    [done] = stock.moves_done(moves=[f.deliver(item, 5, location=floor)])
    assert done.quantity_base == 5
    assert stock.on_hand(product=item, location=floor) == -3
    assert_stock_sound()
    f.receive(item, 8, location=floor)
    assert stock.on_hand(product=item, location=floor) == 5
    # a tracked product goes below zero only with its lot
    _refused("lot_required", stock.moves_done, moves=[f.move(tracked, 1, floor, w.customer)])
    lot = f.lot(tracked, "NEG")
    stock.moves_done(moves=[f.move(tracked, 1, floor, w.customer, lot=lot)])
    assert stock.on_hand(product=tracked, lot=lot) == -1
    assert_stock_sound()


def test_tracked_products_enter_stock_with_a_lot(w) -> None:  # type: ignore[no-untyped-def]
    by_lot = f.lot_product(w.company)
    by_serial = f.serial_product(w.company)
    for item, qty in ((by_lot, 5), (by_serial, 1), (by_serial, 3)):
        _refused("lot_required", stock.moves_done, moves=[f.move(item, qty, w.supplier, w.stock)])
    # leaving stock for outside (customer) without a lot is fine: it is picked by lot
    [done] = f.receive(by_lot, 5, f.lot(by_lot, "L1"), location=w.stock)
    assert done.lot_id is not None
    assert_stock_sound()


def test_a_serial_number_is_in_stock_once(w) -> None:  # type: ignore[no-untyped-def]
    item = f.serial_product(w.company)
    sn = f.lot(item, "SN-1")
    f.receive(item, 1, sn, location=w.stock)
    _refused(
        "serial_in_stock", stock.moves_done, moves=[f.move(item, 1, w.supplier, w.output, lot=sn)]
    )
    second = f.move(item, 1, w.supplier, w.stock, lot=sn)
    _refused("serial_in_stock", stock.moves_done, moves=[second])
    stock.moves_done(moves=[f.deliver(item, 1, location=w.stock)])  # sold
    [back] = stock.moves_done(moves=[f.move(item, 1, w.customer, w.stock, lot=sn)])  # returned
    assert back.lot_id == sn.pk
    assert stock.on_hand(product=item, lot=sn) == 1
    stock.moves_done(moves=[f.move(item, 1, w.stock, w.output, lot=sn)])  # moves inside: fine
    assert stock.on_hand(product=item, location=w.output) == 1
    assert_stock_sound()


def test_two_serial_numbers_in_one_receipt_call(w) -> None:  # type: ignore[no-untyped-def]
    item = f.serial_product(w.company)
    sn = f.lot(item, "SN-9")
    twice = [f.move(item, 1, w.supplier, w.stock, lot=sn) for _ in range(2)]
    _refused("serial_in_stock", stock.moves_done, moves=twice)


def test_a_delivery_taking_two_lots_is_split(w) -> None:  # type: ignore[no-untyped-def]
    item = f.lot_product(w.company)
    first = f.lot(item, "L1", dt.date(2026, 6, 1))
    second = f.lot(item, "L2", dt.date(2026, 8, 1))
    f.receive(item, 3, first, location=w.stock)
    f.receive(item, 5, second, location=w.stock)
    move = f.deliver(item, 6, location=w.stock, origin="SO42")
    done = stock.moves_done(moves=[move])
    assert done[0].pk == move.pk
    rows = sorted(
        Move.unscoped.filter(origin="SO42").values_list(
            "lot_id", "quantity", "quantity_base", "state"
        )
    )
    assert rows == [(first.pk, D(3), D(3), State.DONE), (second.pk, D(3), D(3), State.DONE)]
    assert stock.on_hand(product=item, lot=second) == 2
    assert_stock_sound()


def test_a_split_in_another_unit_keeps_the_quantity(w) -> None:  # type: ignore[no-untyped-def]
    item = f.lot_product(w.company)
    f.receive(item, 5, f.lot(item, "L1", dt.date(2026, 6, 1)), location=w.stock)
    f.receive(item, 7, f.lot(item, "L2", dt.date(2026, 7, 1)), location=w.stock)
    move = f.deliver(item, 1, location=w.stock, uom=f.unit("dozen"), origin="DZ")
    done = stock.moves_done(moves=[move])
    assert sorted(m.quantity_base for m in done) == [5, 7]
    assert sum(m.quantity for m in Move.unscoped.filter(origin="DZ")) == 1
    assert stock.on_hand(product=item) == 0
    assert_stock_sound()


def test_a_serial_delivery_without_numbers_is_split_per_serial(w) -> None:  # type: ignore[no-untyped-def]
    item = f.serial_product(w.company)
    for name in ("SN-1", "SN-2", "SN-3"):
        f.receive(item, 1, f.lot(item, name), location=w.stock)
    done = stock.moves_done(moves=[f.deliver(item, 2, location=w.stock)])
    assert [m.quantity_base for m in done] == [1, 1]
    assert len({m.lot_id for m in done}) == 2
    assert stock.on_hand(product=item) == 1
    assert_stock_sound()


def test_a_follower_is_reserved_when_its_predecessor_is_done(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 5, location=w.stock)
    pick = f.move(item, 5, w.stock, w.output)
    ship = f.move(item, 5, w.output, w.customer, previous=pick)
    [pick, ship] = stock.moves_confirm(moves=[pick, ship])
    assert (pick.state, ship.state) == (State.ASSIGNED, State.WAITING)
    assert f.reserved_of(ship) == 0
    stock.moves_done(moves=[pick])
    ship = f.fresh(ship)
    assert ship.state == State.ASSIGNED and f.reserved_of(ship) == 5
    assert stock.available(product=item, location=w.output) == 0
    stock.moves_done(moves=[ship])
    assert stock.on_hand(product=item) == 0
    assert_stock_sound()


def test_an_internal_transfer_keeps_on_hand(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 8, location=w.stock)
    transfer = f.move(item, 3, w.stock, w.output)
    stock.moves_confirm(moves=[transfer])
    assert stock.on_hand(product=item) == 8
    stock.moves_done(moves=[transfer])
    assert stock.on_hand(product=item) == 8
    assert stock.on_hand(product=item, location=w.stock) == 5
    assert stock.on_hand(product=item, location=w.output) == 3
    # into transit (a stock location) still on hand; to scrap, not any more
    stock.moves_done(moves=[f.move(item, 1, w.output, w.transit)])
    assert stock.on_hand(product=item) == 8
    stock.moves_done(moves=[f.move(item, 1, w.transit, w.scrap)])
    assert stock.on_hand(product=item) == 7
    assert_stock_sound()


def test_units_convert_to_the_stock_unit(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    dozen = f.unit("dozen")
    [done] = f.receive(item, 2, location=w.stock, uom=dozen)
    assert (done.quantity, done.uom_id, done.quantity_base) == (D(2), dozen.pk, D(24))
    assert stock.on_hand(product=item) == 24
    move = f.deliver(item, D("0.5"), location=w.stock, uom=dozen)
    assert f.reserved_of(move) == 6
    stock.moves_done(moves=[move])
    assert stock.on_hand(product=item) == 18
    kilos = f.product(w.company, uom="kg")
    [done] = f.receive(kilos, 250, location=w.stock, uom=f.unit("g"))
    assert done.quantity_base == D("0.25")
    assert stock.on_hand(product=kilos) == D("0.25")
    assert_stock_sound()


def test_count_adjustments_go_through_inventory_loss(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 10, location=w.stock)
    stock.moves_done(moves=[f.move(item, 2, w.stock, w.loss)])  # counted 8
    stock.moves_done(moves=[f.move(item, 5, w.loss, w.stock)])  # counted 13
    assert stock.on_hand(product=item) == 13
    assert not Quant.unscoped.filter(location=w.loss).exists()
    assert_stock_sound()


def test_reservations_keep_their_company_when_assigning_across_companies(w, wb) -> None:  # type: ignore[no-untyped-def]
    a, b = f.product(w.company), f.product(wb.company)
    f.receive(a, 1, location=w.stock)
    f.receive(b, 1, location=wb.stock)
    moves = [f.move(a, 1, w.stock, w.customer), f.move(b, 1, wb.stock, wb.customer)]
    stock.moves_confirm(moves=moves)  # a scheduler re-checking every company at once
    assert sorted(Reservation.unscoped.values_list("company_id", "move__company_id")) == sorted(
        [(w.company.pk, w.company.pk), (wb.company.pk, wb.company.pk)]
    )


def test_the_invariants_see_a_broken_quant(w) -> None:  # type: ignore[no-untyped-def]
    item = f.product(w.company)
    f.receive(item, 3, location=w.stock)
    f.deliver(item, 2, location=w.stock)
    assert stock_problems() == []
    Quant.unscoped.filter(product=item).update(quantity=D(4), reserved=D(1))
    problems = stock_problems()
    assert any("done moves give" in p for p in problems)
    assert any("reservations" in p for p in problems)
    assert stock_problems([w.company]) != []
