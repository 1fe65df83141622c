"""Reservations under real concurrency, the acceptance test of the stock core: many threads,
each on its own database connection, reserve single units of a few SKUs at once; exactly the
stock on hand is reserved, nothing is oversold, nothing goes negative, and doing the reserved
moves at once empties the stock exactly. Serialisation failures and deadlocks are reported as
errors, never retried.

PostgreSQL runs the full test (row locks). SQLite runs a smaller one: its immediate
transactions serialise the writers.

The last tests force two transactions into opposite lock orders with a barrier placed inside
the services (monkeypatched), to show where the "one global lock order" does not hold yet."""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from xietong.inventory import stock, valuation
from xietong.inventory.models import Move, Quant, Reservation
from xietong.inventory.tests import factories as f
from xietong.inventory.tests.invariants import assert_stock_sound

ONE = Decimal(1)
State = Move.State


def _attempts(worker: int, jobs: list[tuple[Any, ...]], w, out: list) -> None:  # type: ignore[no-untyped-def]
    """Worker `worker`: reserve one unit for each job; cancel what cannot be reserved."""
    try:
        for product in jobs:
            try:
                move = f.move(product, ONE, w.stock, w.customer)
                [move] = stock.moves_confirm(moves=[move])
                if move.state == State.ASSIGNED:
                    out.append(("assigned", move.pk, product.pk))
                else:
                    stock.moves_cancel(moves=[move])
                    out.append(("cancelled", move.pk, product.pk))
            except Exception as exc:  # noqa: BLE001 — every failure is reported, not retried
                out.append(("error", repr(exc), product.pk))
    finally:
        connection.close()


def _dones(jobs: list[int], out: list) -> None:  # type: ignore[type-arg]
    try:
        for pk in jobs:
            try:
                moves = stock.moves_done(moves=[Move.unscoped.get(pk=pk)])
                out.append(("done", pk, len(moves)))
            except Exception as exc:  # noqa: BLE001
                out.append(("error", repr(exc), pk))
    finally:
        connection.close()


def _spread(items: list[Any], workers: int) -> list[list[Any]]:
    return [items[i::workers] for i in range(workers)]


def _run(company, *, skus: int, units: int, attempts: int, workers: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    w = f.site(company)
    products = [f.product(company, f"SKU-{n:03d}") for n in range(skus)]
    for product in products:
        f.receive(product, units, location=w.stock)
    rng = random.Random(20260504)  # noqa: S311 — a seeded test shuffle
    jobs = [products[n % skus] for n in range(attempts)]  # as many tries for every SKU
    rng.shuffle(jobs)
    tried = Counter(p.pk for p in jobs)
    expected = sum(min(n, units) for n in tried.values())
    timings = {}

    # 1. reserve at once
    results: list[tuple[Any, ...]] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        for chunk in pool.map(
            lambda args: _attempts(*args, w, results),
            enumerate(_spread(jobs, workers)),
        ):
            assert chunk is None
    timings["reserve"] = time.perf_counter() - started
    errors = [r for r in results if r[0] == "error"]
    assert errors == [], f"{len(errors)} attempts failed, e.g. {errors[:3]}"
    assigned = [r for r in results if r[0] == "assigned"]
    assert len(results) == attempts
    assert len(assigned) == expected == skus * units  # every unit reserved, none twice
    per_sku = Counter(product_pk for _kind, _pk, product_pk in assigned)
    assert set(per_sku.values()) == {units}
    for quant in Quant.unscoped.filter(product__in=products):
        assert (quant.quantity, quant.reserved) == (units, units), quant  # 0 oversold
    assert Move.unscoped.filter(state=State.ASSIGNED).count() == expected
    assert Move.unscoped.filter(state=State.CANCELLED).count() == attempts - expected
    assert not Reservation.unscoped.filter(move__state=State.CANCELLED).exists()
    assert not Quant.unscoped.filter(quantity__lt=0).exists()
    assert_stock_sound([company])

    # 2. do every reserved move at once
    done: list[tuple[Any, ...]] = []
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(
            pool.map(lambda chunk: _dones(chunk, done), _spread([r[1] for r in assigned], workers))
        )
    timings["done"] = time.perf_counter() - started
    errors = [r for r in done if r[0] == "error"]
    assert errors == [], f"{len(errors)} moves failed, e.g. {errors[:3]}"
    assert len(done) == expected
    for product in products:
        assert stock.on_hand(product=product) == 0
    assert not Quant.unscoped.exclude(quantity=0, reserved=0).exists()
    assert not Reservation.unscoped.exists()
    assert Move.unscoped.filter(state=State.DONE, to_location=w.customer).count() == expected
    assert_stock_sound([company])
    return timings


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_on_postgresql(company_a) -> None:  # type: ignore[no-untyped-def]
    timings = _run(company_a, skus=50, units=10, attempts=1000, workers=20)
    print(f"\n1000 reservation attempts: {timings['reserve']:.1f} s; "  # noqa: T201
          f"500 moves done: {timings['done']:.1f} s")  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_concurrent_reservations_serialise_on_sqlite(company_a) -> None:  # type: ignore[no-untyped-def]
    if connections["default"].vendor != "sqlite":
        pytest.skip("the SQLite variant; PostgreSQL runs the test marked postgres")
    timings = _run(company_a, skus=20, units=5, attempts=200, workers=16)
    print(f"\n200 reservation attempts: {timings['reserve']:.1f} s; "  # noqa: T201
          f"100 moves done: {timings['done']:.1f} s")  # fmt: skip


# --- lock order: two transactions made to meet halfway ---------------------------------------

WAIT = 3.0  # seconds a thread waits for the other at the barrier before going on alone


class Meeting:
    """Two threads (roles 1 and 2) each call `run`; `pause(role)` inside a service makes the
    thread of that role wait for the other at a barrier (once), so that both hold what they
    locked so far before going on. A service that locks everything up front makes the other
    thread block before its pause: the barrier then times out and both go on."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(2)
        self.local = threading.local()

    def pause(self, *roles: int) -> None:
        if getattr(self.local, "role", None) in roles and not getattr(self.local, "met", False):
            self.local.met = True
            with contextlib.suppress(threading.BrokenBarrierError):
                self.barrier.wait(timeout=WAIT)

    def run(self, *calls) -> list[str]:  # type: ignore[no-untyped-def]
        errors: list[str] = []

        def one(role: int, call) -> None:  # type: ignore[no-untyped-def]
            self.local.role = role
            try:
                call()
            except Exception as exc:  # noqa: BLE001
                errors.append(f"{type(exc).__name__}: {exc}")
            finally:
                connection.close()

        threads = [
            threading.Thread(target=one, args=(n, call)) for n, call in enumerate(calls, start=1)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_opposite_transfers_do_not_deadlock(company_a, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = f.site(company_a)
    item = f.product(company_a)
    f.receive(item, 5, location=w.stock)
    f.receive(item, 5, location=w.output)
    there = f.move(item, 2, w.stock, w.output)
    back = f.move(item, 3, w.output, w.stock)
    meeting = Meeting()
    original = stock._quant_for_update

    def quant_for_update(*args):  # type: ignore[no-untyped-def]
        meeting.pause(1, 2)  # each holds its source quant; now each locks the other's
        return original(*args)

    monkeypatch.setattr(stock, "_quant_for_update", quant_for_update)
    errors = meeting.run(
        lambda: stock.moves_done(moves=[there]), lambda: stock.moves_done(moves=[back])
    )
    assert errors == []
    assert stock.on_hand(product=item, location=w.stock) == 6
    assert_stock_sound()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_doing_a_pick_while_its_ship_step_is_done(company_a, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = f.site(company_a)
    item = f.product(company_a)
    f.receive(item, 5, location=w.stock)
    f.receive(item, 1, location=w.output)  # one unit is at output already
    pick = f.move(item, 5, w.stock, w.output)
    ship = f.move(item, 1, w.output, w.customer, previous=pick)
    [pick, ship] = stock.moves_confirm(moves=[pick, ship])
    assert ship.state == State.WAITING  # for its pick
    meeting = Meeting()
    assign, lock_quants = stock.moves_assign, stock._lock_quants

    def moves_assign(**kwargs):  # type: ignore[no-untyped-def]
        meeting.pause(1)  # the pick holds its quants (output too), now wants the ship move
        return assign(**kwargs)

    def locking(where):  # type: ignore[no-untyped-def]
        meeting.pause(2)  # the ship holds its move, now wants the output quant
        return lock_quants(where)

    monkeypatch.setattr(stock, "moves_assign", moves_assign)
    monkeypatch.setattr(stock, "_lock_quants", locking)
    errors = meeting.run(
        lambda: stock.moves_done(moves=[pick]), lambda: stock.moves_done(moves=[ship])
    )
    assert errors == []
    assert f.fresh(ship).state == State.DONE
    assert stock.on_hand(product=item, location=w.output) == 5
    assert_stock_sound()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_first_receipts_of_a_product_in_two_places_at_once(company_a, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each receipt creates its quant, which takes a key-share lock on the product row; the
    valuation then locks the product row (FOR NO KEY UPDATE, which does not conflict)."""
    w = f.site(company_a)
    item = f.product(company_a)
    here = f.move(item, 2, w.supplier, w.stock)
    there = f.move(item, 3, w.supplier, w.output)
    meeting = Meeting()
    original = valuation.moves_value

    def moves_value(**kwargs):  # type: ignore[no-untyped-def]
        meeting.pause(1, 2)  # both created their new quant
        return original(**kwargs)

    monkeypatch.setattr(valuation, "moves_value", moves_value)
    errors = meeting.run(
        lambda: stock.moves_done(moves=[here]), lambda: stock.moves_done(moves=[there])
    )
    assert errors == []
    assert stock.on_hand(product=item) == 5
    assert_stock_sound()
