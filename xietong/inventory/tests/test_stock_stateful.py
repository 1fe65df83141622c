"""Model-based test of the stock services: from a random opening stock, random sequences of
receipts (one of three products — untracked, lot-tracked, untracked counted by the dozen —
with or without a lot), deliveries confirmed (reserved), done, unreserved, re-checked and
cancelled, stock arriving where a delivery waits, internal transfers, and count adjustments
to and from the inventory-loss location.

Before each call the outcome is predicted from what is free (on hand − reserved) and what the
move holds; a refused call must change nothing. After every step the stock invariants hold
(`assert_stock_sound`), on hand per product and location equals a plain in-memory model, and
nothing reserved exceeds what is on hand."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from xietong.inventory import stock
from xietong.inventory.models import Move, Quant, Reservation
from xietong.inventory.stock import StockError
from xietong.inventory.tests import factories as f
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.inventory.warehouses import internal_locations_below

ZERO = Decimal(0)
State = Move.State

products = st.sampled_from(["plain", "lots", "dozens"])
lots = st.sampled_from([None, "L1", "L2"])
# Where stock is kept: the warehouse's stock and output locations and a shelf below stock
# (deliveries, transfers and counts from "stock" take from the shelf too).
PLACES = ["stock", "output", "shelf"]
places = st.sampled_from(PLACES)
quantities = st.integers(min_value=1, max_value=20)
small = st.integers(min_value=1, max_value=8)
seldom = st.sampled_from([False, False, False, True])
picks = st.integers(min_value=0, max_value=1_000)


def _open(machine: StockMachine) -> bool:
    return bool(machine.deliveries)


class StockMachine(RuleBasedStateMachine):
    def __init__(self, world) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.w = world
        self.savepoint = transaction.savepoint()
        self.on_hand: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
        self.deliveries: list[Move] = []  # confirmed, not done or cancelled yet

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    # -- helpers ------------------------------------------------------------------------------

    def _product(self, key: str):  # type: ignore[no-untyped-def]
        return self.w.products[key]

    def _lot(self, key: str, name: str | None):  # type: ignore[no-untyped-def]
        return self.w.lots[name] if key == "lots" and name else None

    def _unit(self, key: str, dozens: bool):  # type: ignore[no-untyped-def]
        return self.w.dozen if key == "dozens" and dozens else None

    def _free(self, product, location, lot) -> Decimal:  # type: ignore[no-untyped-def]
        below = internal_locations_below(location)
        quants = Quant.unscoped.filter(product=product, location_id__in=below)
        if lot is not None:
            quants = quants.filter(lot=lot)
        return sum((q.quantity - q.reserved for q in quants), start=ZERO)

    def _refused(self, code: str, call, **kwargs) -> None:  # type: ignore[no-untyped-def]
        before = f.snapshot()
        with pytest.raises(StockError) as info:
            call(**kwargs)
        assert info.value.code == code, info.value
        assert f.snapshot() == before

    def _book(self, done: list[Move], asked: Move) -> None:
        """Book done moves in the model: each part leaves the location it was taken from
        (the move's source or a location below it) and enters the destination."""
        assert sum(m.quantity_base for m in done) == asked.quantity_base
        for part in Move.unscoped.filter(pk__in=[m.pk for m in done]):
            assert part.state == State.DONE
            if asked.from_location.is_stock:
                assert part.from_location_id in internal_locations_below(asked.from_location)
                self.on_hand[(part.product_id, part.from_location_id)] -= part.quantity_base
            if asked.to_location.is_stock:
                self.on_hand[(part.product_id, part.to_location_id)] += part.quantity_base

    def _do_draft(self, move: Move) -> None:
        """Do a draft move: done if what is free at its source covers it, else refused."""
        source = move.from_location
        if source.is_stock and self._free(move.product, source, move.lot) < move.quantity_base:
            self._refused("not_enough_stock", stock.moves_done, moves=[move])
            stock.moves_cancel(moves=[move])
            return
        self._book(stock.moves_done(moves=[move]), move)

    # -- rules --------------------------------------------------------------------------------

    @initialize(amounts=st.lists(st.integers(0, 12), min_size=6, max_size=6))
    def opening_stock(self, amounts):  # type: ignore[no-untyped-def]
        keys = [(key, place) for key in self.w.products for place in ("stock", "output")]
        for (key, place), qty in zip(keys, amounts, strict=True):
            if qty:
                lot = self.w.lots["L1" if place == "stock" else "L2"] if key == "lots" else None
                product, where = self._product(key), getattr(self.w, place)
                f.receive(product, qty, lot, location=where)
                self.on_hand[(product.pk, where.pk)] += qty

    @rule(key=products, qty=quantities, lot=lots, place=places, dozens=seldom)
    def receive(self, key, qty, lot, place, dozens):  # type: ignore[no-untyped-def]
        product, where = self._product(key), getattr(self.w, place)
        if key != "lots" and lot is not None:  # a lot of another product
            before = f.snapshot()
            with pytest.raises(StockError) as info:
                f.move(product, qty, self.w.supplier, where, lot=self.w.lots[lot])
            assert info.value.code == "lot"
            assert f.snapshot() == before
            return
        move = f.move(product, qty, self.w.supplier, where, lot=self._lot(key, lot),
                      uom=self._unit(key, dozens))  # fmt: skip
        [move] = stock.moves_confirm(moves=[move])
        assert move.state == State.ASSIGNED  # from a supplier: nothing to reserve
        if key == "lots" and lot is None:
            self._refused("lot_required", stock.moves_done, moves=[move])
            stock.moves_cancel(moves=[move])
            return
        self._book(stock.moves_done(moves=[move]), move)

    @rule(key=products, qty=small, lot=lots, place=places, dozens=seldom)
    def confirm_delivery(self, key, qty, lot, place, dozens):  # type: ignore[no-untyped-def]
        product, where = self._product(key), getattr(self.w, place)
        lot = self._lot(key, lot)
        move = f.move(product, qty, where, self.w.customer, lot=lot, uom=self._unit(key, dozens))
        free = self._free(product, where, lot)
        [move] = stock.moves_confirm(moves=[move])
        held = f.reserved_of(move)
        assert held == min(move.quantity_base, free)
        assert move.state == (State.ASSIGNED if free >= move.quantity_base else State.WAITING)
        self.deliveries.append(move)

    def _pick(self, pick: int) -> Move:
        return self.deliveries[pick % len(self.deliveries)]

    @precondition(_open)
    @rule(pick=picks, qty=small)
    def restock_for_a_delivery(self, pick, qty):  # type: ignore[no-untyped-def]
        """Stock arrives where a delivery waits (a backorder's goods, a return)."""
        move = Move.unscoped.select_related("product", "from_location").get(pk=self._pick(pick).pk)
        lot = move.lot or (self.w.lots["L1"] if move.product == self.w.products["lots"] else None)
        f.receive(move.product, qty, lot, location=move.from_location)
        self.on_hand[(move.product_id, move.from_location_id)] += qty

    @precondition(_open)
    @rule(pick=picks)
    def do_delivery(self, pick):  # type: ignore[no-untyped-def]
        move = Move.unscoped.select_related("product", "from_location", "lot").get(
            pk=self._pick(pick).pk
        )
        held = f.reserved_of(move)
        free = self._free(move.product, move.from_location, move.lot)
        if held + free < move.quantity_base:
            self._refused("not_enough_stock", stock.moves_done, moves=[move])
            return
        done = stock.moves_done(moves=[move])
        self._book(done, move)
        assert not Reservation.unscoped.filter(move_id__in=[m.pk for m in done]).exists()
        self._refused("state", stock.moves_cancel, moves=done[-1:])  # done is final
        self.deliveries = [m for m in self.deliveries if m.pk != move.pk]

    @precondition(_open)
    @rule(pick=picks)
    def cancel_delivery(self, pick):  # type: ignore[no-untyped-def]
        move = self._pick(pick)
        self.deliveries.remove(move)
        stock.moves_cancel(moves=[move])
        assert f.fresh(move).state == State.CANCELLED
        assert f.reserved_of(move) == 0
        self._refused("state", stock.moves_done, moves=[move])

    @precondition(_open)
    @rule(pick=picks)
    def unreserve(self, pick):  # type: ignore[no-untyped-def]
        move = self._pick(pick)
        stock.moves_unreserve(moves=[move])
        assert f.fresh(move).state == State.WAITING
        assert f.reserved_of(move) == 0

    @precondition(_open)
    @rule(pick=picks)
    def recheck(self, pick):  # type: ignore[no-untyped-def]
        move = Move.unscoped.select_related("product", "from_location", "lot").get(
            pk=self._pick(pick).pk
        )
        held = f.reserved_of(move)
        free = self._free(move.product, move.from_location, move.lot)
        stock.moves_assign(moves=[move])
        expected = min(move.quantity_base, held + free)
        assert f.reserved_of(move) == expected
        assert f.fresh(move).state == (
            State.ASSIGNED if expected == move.quantity_base else State.WAITING
        )

    @rule(key=products, qty=small, lot=lots, towards_output=st.booleans())
    def transfer(self, key, qty, lot, towards_output):  # type: ignore[no-untyped-def]
        source, dest = (self.w.stock, self.w.output)
        if not towards_output:
            source, dest = dest, source
        move = f.move(self._product(key), qty, source, dest, lot=self._lot(key, lot))
        self._do_draft(move)

    @rule(key=products, qty=small, lot=lots, place=places, found=st.booleans())
    def count_adjustment(self, key, qty, lot, place, found):  # type: ignore[no-untyped-def]
        where, product, lot = getattr(self.w, place), self._product(key), self._lot(key, lot)
        if found:  # counted more than on hand: from inventory loss into stock
            move = f.move(product, qty, self.w.loss, where, lot=lot)
            if key == "lots" and lot is None:
                self._refused("lot_required", stock.moves_done, moves=[move])
                stock.moves_cancel(moves=[move])
                return
            self._do_draft(move)
        else:  # counted less: from stock to inventory loss
            move = f.move(product, qty, where, self.w.loss, lot=lot)
            self._do_draft(move)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def stock_is_sound(self) -> None:
        assert_stock_sound()

    @invariant()
    def on_hand_matches_the_model(self) -> None:
        quants: dict[tuple[int, int], tuple[Decimal, Decimal]] = defaultdict(lambda: (ZERO, ZERO))
        for product_id, location_id, quantity, reserved in Quant.unscoped.values_list(
            "product_id", "location_id", "quantity", "reserved"
        ):
            total, held = quants[(product_id, location_id)]
            quants[(product_id, location_id)] = (total + quantity, held + reserved)
        for (product_id, location_id), (total, held) in quants.items():
            assert total == self.on_hand[(product_id, location_id)]
            assert ZERO <= held <= total  # nothing reserved beyond what is on hand
        for product in self.w.products.values():
            for place in PLACES:
                where = getattr(self.w, place)
                expected = sum(
                    (self.on_hand[(product.pk, pk)] for pk in internal_locations_below(where)),
                    start=ZERO,
                )
                assert stock.on_hand(product=product, location=where) == expected


@pytest.mark.django_db
def test_stock_state_machine(company_a):  # type: ignore[no-untyped-def]
    w = f.site(company_a)
    if "shelf" in PLACES:
        w.shelf = f.shelf(w.stock, "Shelf")
    w.products = {
        "plain": f.product(company_a, "PLAIN"),
        "lots": f.lot_product(company_a, "LOTS"),
        "dozens": f.product(company_a, "DOZENS"),
    }
    w.lots = {
        "L1": f.lot(w.products["lots"], "L1", dt.date(2026, 7, 1)),
        "L2": f.lot(w.products["lots"], "L2", dt.date(2026, 9, 1)),
    }
    w.dozen = f.unit("dozen")
    run_state_machine_as_test(
        lambda: StockMachine(w),
        settings=settings(
            max_examples=15,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
