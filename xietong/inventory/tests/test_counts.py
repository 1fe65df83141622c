"""Inventory counts: count sheets, adjustments to inventory loss (on hand read again when the
count is done), losses at a location with locations below it, ABC classes and cycle counting,
and what is refused (nothing written)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.inventory import stock
from xietong.inventory.counts import (
    CYCLE_DAYS,
    abc_classes,
    count_cancel,
    count_create,
    count_done,
    count_line_add,
    count_set,
    cycle_count_due,
)
from xietong.inventory.models import CountLine, InventoryCount, Location, Move, Picking
from xietong.inventory.pickings import delivery_create, picking_confirm, picking_done
from xietong.inventory.stock import StockError
from xietong.inventory.tests.flows_helpers import (
    DAY,
    D,
    fresh,
    make_party,
    make_product,
    make_warehouse,
    place,
    put_stock,
    quant_qty,
    reserved_qty,
    snapshot,
)
from xietong.inventory.warehouses import location_create
from xietong.product.services import product_cost_set

Usage = Location.Usage
CS = InventoryCount.State


@pytest.fixture
def scope(company_a):
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def clerk(users_a):
    return users_a["warehouse_clerk"]


@pytest.fixture
def wh(scope):
    return make_warehouse(scope)


@pytest.fixture
def shelf(scope, wh):
    return location_create(company=scope, name="A", parent=fresh(wh.stock_location))


def consume(company, product, location, quantity, day, usage=Usage.CUSTOMER):
    move = stock.move_create(
        company=company,
        product=product,
        quantity=D(quantity),
        from_location=location,
        to_location=place(company, usage),
        planned_date=day,
    )
    return stock.moves_done(moves=[move], effective_date=day)


def lines_of(count):
    return {
        (line.product.sku, line.location.name, line.lot.name if line.lot else None): line
        for line in CountLine.objects.filter(count=count).select_related(
            "product", "location", "lot"
        )
    }


def count_snapshot(company):
    return {
        **snapshot(company),
        "counts": sorted(
            InventoryCount.unscoped.filter(company=company).values_list("pk", "state", "number")
        ),
        "lines": sorted(CountLine.objects.values_list("pk", "counted", "expected", "move_id")),
    }


# --- sheets ------------------------------------------------------------------------------------


def test_sheet_lists_what_the_books_hold(scope, wh, shelf, clerk):
    bolt, resin = make_product(scope, "BOLT"), make_product(scope, "RESIN", tracking="lot")
    lot = stock.lot_create(company=scope, product=resin, name="R1")
    put_stock(scope, bolt, wh.stock_location, 10)
    put_stock(scope, bolt, shelf, 5)
    put_stock(scope, resin, shelf, 3, lot=lot)
    nut = make_product(scope, "NUT")
    put_stock(scope, nut, shelf, 2)
    consume(scope, nut, shelf, 2, DAY)  # a quant at zero: not listed
    other = make_warehouse(scope, "W2")
    put_stock(scope, bolt, other.stock_location, 7)

    count = count_create(company=scope, location=wh.view_location, date=DAY, actor=clerk)
    assert count.number == "INV/2026/00001"
    assert (count.state, count.location, count.date) == (CS.DRAFT, wh.view_location, DAY)
    lines = lines_of(count)
    assert {key: line.expected for key, line in lines.items()} == {
        ("BOLT", "Stock", None): 10,
        ("BOLT", "A", None): 5,
        ("RESIN", "A", "R1"): 3,
    }
    assert all(line.counted is None and line.move is None for line in lines.values())
    shelf_count = count_create(company=scope, location=shelf, date=DAY, actor=clerk)
    assert shelf_count.number == "INV/2026/00002"
    assert set(lines_of(shelf_count)) == {("BOLT", "A", None), ("RESIN", "A", "R1")}


def test_done_posts_gains_and_losses_to_inventory_loss(scope, wh, shelf, clerk):
    bolt, nut = make_product(scope, "BOLT"), make_product(scope, "NUT")
    put_stock(scope, bolt, shelf, 10)
    put_stock(scope, nut, shelf, 4)
    count = count_create(company=scope, location=shelf, date=DAY, actor=clerk)
    lines = lines_of(count)
    count = count_set(
        count=count,
        counts={lines[("BOLT", "A", None)].pk: D(7), lines[("NUT", "A", None)].pk: D(6)},
        actor=clerk,
    )
    assert (count.state, count.counted_by) == (CS.COUNTING, clerk)
    count = count_done(count=count, actor=clerk)
    assert count.state == CS.DONE and count.done_at is not None
    loss_place = place(scope, Usage.INVENTORY)
    assert (quant_qty(bolt, shelf), quant_qty(nut, shelf)) == (7, 6)
    assert quant_qty(bolt, loss_place) == 0  # virtual locations keep no quants
    lines = lines_of(count)
    loss, gain = lines[("BOLT", "A", None)].move, lines[("NUT", "A", None)].move
    assert (loss.from_location, loss.to_location, loss.quantity) == (shelf, loss_place, 3)
    assert (gain.from_location, gain.to_location, gain.quantity) == (loss_place, shelf, 2)
    for move in (loss, gain):
        assert (move.state, move.origin, move.done_by, move.effective_date) == (
            Move.State.DONE, count.number, clerk, DAY,
        )  # fmt: skip


def test_on_hand_is_read_again_when_done(scope, wh, shelf, clerk):
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, shelf, 10)
    count = count_create(company=scope, location=shelf, date=DAY, actor=clerk)
    [line] = lines_of(count).values()
    consume(scope, bolt, shelf, 4, DAY)  # shipped after the sheet was printed
    count_set(count=count, counts={line.pk: D(5)}, actor=clerk)
    count_done(count=count, actor=clerk)
    line = fresh(line)
    assert line.expected == 6
    assert line.move.quantity == 1 and line.move.to_location.usage == Usage.INVENTORY
    assert quant_qty(bolt, shelf) == 5


def test_uncounted_lines_and_equal_counts_post_nothing(scope, wh, shelf, clerk):
    bolt, nut = make_product(scope, "BOLT"), make_product(scope, "NUT")
    put_stock(scope, bolt, shelf, 10)
    put_stock(scope, nut, shelf, 4)
    count = count_create(company=scope, location=shelf, date=DAY, actor=clerk)
    lines = lines_of(count)
    count_set(count=count, counts={lines[("BOLT", "A", None)].pk: D(10)}, actor=clerk)
    count_done(count=count, actor=clerk)
    assert not Move.unscoped.filter(origin=count.number).exists()
    assert (quant_qty(bolt, shelf), quant_qty(nut, shelf)) == (10, 4)


def test_found_goods_and_lots(scope, wh, shelf, clerk):
    bolt, resin = make_product(scope, "BOLT"), make_product(scope, "RESIN", tracking="lot")
    lot = stock.lot_create(company=scope, product=resin, name="R9")
    count = count_create(company=scope, location=wh.stock_location, date=DAY, actor=clerk)
    assert lines_of(count) == {}
    found = count_line_add(count=count, product=resin, location=shelf, lot=lot, actor=clerk)
    assert found.expected == 0
    with pytest.raises(StockError) as exc:
        count_line_add(count=count, product=resin, location=shelf, lot=lot, actor=clerk)
    assert exc.value.code == "duplicate"
    with pytest.raises(StockError) as exc:
        count_line_add(count=count, product=bolt, location=place(scope, Usage.SUPPLIER))
    assert exc.value.code == "location"
    count_set(count=count, counts={found.pk: D(4)}, actor=clerk)
    count_done(count=count, actor=clerk)
    assert quant_qty(resin, shelf, lot) == 4


def test_loss_takes_the_counted_quant_and_reserves_again(scope, wh, shelf, clerk):
    """A loss at the stock location takes the stock there, not the shelves below, even when
    it was reserved; the delivery that held it gets its reservation back elsewhere."""
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 10)
    put_stock(scope, bolt, shelf, 5, day=DAY + dt.timedelta(days=1))
    customer = make_party(scope, "Buyer", is_customer=True)
    [delivery] = delivery_create(
        company=scope, warehouse=wh, party=customer, scheduled_date=DAY,
        lines=[{"product": bolt, "quantity": D(8)}],
    )  # fmt: skip
    picking_confirm(picking=delivery, actor=clerk)
    assert reserved_qty(bolt, wh.stock_location) == 8
    count = count_create(company=scope, location=wh.stock_location, date=DAY, actor=clerk)
    lines = lines_of(count)
    count_set(count=count, counts={lines[("BOLT", "Stock", None)].pk: D(5)}, actor=clerk)
    count_done(count=count, actor=clerk)
    assert (quant_qty(bolt, wh.stock_location), quant_qty(bolt, shelf)) == (5, 5)
    assert reserved_qty(bolt) == 8
    assert fresh(delivery).state == Picking.State.READY
    picking_done(picking=delivery, actor=clerk)
    assert stock.on_hand(product=bolt) == 2


def test_tracked_gain_without_lot_is_refused(scope, wh, shelf, clerk):
    resin = make_product(scope, "RESIN", tracking="lot")
    count = count_create(company=scope, location=shelf, date=DAY, actor=clerk)
    line = count_line_add(count=count, product=resin, actor=clerk)
    count_set(count=count, counts={line.pk: D(2)}, actor=clerk)
    before = count_snapshot(scope)
    with pytest.raises(StockError) as exc:
        count_done(count=count, actor=clerk)
    assert exc.value.code == "lot_required"
    assert count_snapshot(scope) == before


# --- refusals ----------------------------------------------------------------------------------


def test_refusals_write_nothing(scope, wh, shelf, clerk, company_b):
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, shelf, 3)
    with company_scope(company_b):
        foreign = make_warehouse(company_b, "WB")
    before = count_snapshot(scope)
    for location, abc, code in (
        (place(scope, Usage.SUPPLIER), "", "not_stock"),
        (foreign.stock_location, "", "foreign_record"),
        (shelf, "D", "abc_class"),
    ):
        with pytest.raises(StockError) as exc:
            count_create(company=scope, location=location, date=DAY, abc_class=abc, actor=clerk)
        assert exc.value.code == code
    assert count_snapshot(scope) == before

    count = count_create(company=scope, location=shelf, date=DAY, actor=clerk)
    other = count_create(company=scope, location=shelf, date=DAY, actor=clerk)
    [line] = lines_of(count).values()
    [other_line] = lines_of(other).values()
    before = count_snapshot(scope)
    for counts, code in (
        ({line.pk: D(-1)}, "quantity"),
        ({line.pk: 1.0}, "float"),
        ({line.pk: "many"}, "number"),
        ({other_line.pk: D(1)}, "foreign_line"),
    ):
        with pytest.raises(StockError) as exc:
            count_set(count=count, counts=counts, actor=clerk)
        assert exc.value.code == code
    with pytest.raises(StockError) as exc:
        count_done(count=count, actor=clerk)
    assert exc.value.code == "nothing_counted"
    assert count_snapshot(scope) == before

    count_set(count=count, counts={line.pk: D(2)}, actor=clerk)
    count_done(count=count, actor=clerk)
    assert count_cancel(count=other, actor=clerk).state == CS.CANCELLED
    for done in (count, other):
        for service, kwargs in (
            (count_done, {}),
            (count_cancel, {}),
            (count_set, {"counts": {line.pk: D(1)}}),
        ):
            with pytest.raises(StockError) as exc:
                service(count=done, actor=clerk, **kwargs)
            assert exc.value.code == "state"
    assert quant_qty(bolt, shelf) == 2


# --- ABC and cycle counting --------------------------------------------------------------------


@pytest.fixture
def abc_products(scope, wh):
    """Consumption values over the year: A1 700, A2 160 (together 86 %: A2 starts below
    80 %), B1 100 (starts at 86 %), C1 40 (starts at 96 %), plus a product never consumed
    and one consumed too long ago."""
    today = timezone.localdate()
    products = {}
    for sku, quantity, cost in (
        ("A1", 70, 10), ("A2", 16, 10), ("B1", 10, 10), ("C1", 4, 10), ("C2", 0, 10),
        ("OLD", 0, 10),
    ):  # fmt: skip
        product = make_product(scope, sku)
        product_cost_set(product=product, actor=None, cost=D(cost))
        put_stock(scope, product, wh.stock_location, 100, day=today - dt.timedelta(days=400))
        if quantity:
            half = D(quantity) / 2
            consume(scope, product, wh.stock_location, half, today - dt.timedelta(days=30))
            consume(scope, product, wh.stock_location, half, today - dt.timedelta(days=5),
                    usage=Usage.PRODUCTION)  # fmt: skip
        products[sku] = product
    consume(scope, products["OLD"], wh.stock_location, 90, today - dt.timedelta(days=380))
    # Inventory losses are not consumption.
    consume(scope, products["C2"], wh.stock_location, 50, today, usage=Usage.INVENTORY)
    return products


def test_abc_classes_by_consumption_value(scope, abc_products):
    classes = abc_classes(company=scope)
    assert {sku: classes[p.pk] for sku, p in abc_products.items()} == {
        "A1": "A", "A2": "A", "B1": "B", "C1": "C", "C2": "C", "OLD": "C",
    }  # fmt: skip
    long_ago = timezone.localdate() - dt.timedelta(days=400)
    classes = abc_classes(company=scope, since=long_ago)
    assert classes[abc_products["OLD"].pk] == "A"  # 900 of 1 900


def test_abc_count_lists_one_class(scope, wh, abc_products, clerk):
    count = count_create(
        company=scope, location=wh.stock_location, date=timezone.localdate(), abc_class="a",
        actor=clerk,
    )  # fmt: skip
    assert count.abc_class == "A"
    assert {key[0] for key in lines_of(count)} == {"A1", "A2"}


def test_cycle_count_due_by_class(scope, wh, abc_products, clerk):
    today = timezone.localdate()

    def counted(skus, days_ago):
        count = count_create(
            company=scope, location=wh.stock_location, date=today - dt.timedelta(days=days_ago),
            actor=clerk,
        )  # fmt: skip
        lines = {line.product.sku: line for line in count.lines.select_related("product")}
        count_set(
            count=count,
            counts={lines[sku].pk: lines[sku].expected for sku in skus},
            actor=clerk,
        )
        count_done(count=count, actor=clerk)

    due = cycle_count_due(company=scope, today=today)
    assert {cls: sorted(r.product.sku for r in rows) for cls, rows in due.items()} == {
        "A": ["A1", "A2"], "B": ["B1"], "C": ["C1", "C2", "OLD"],
    }  # fmt: skip
    assert all(r.last_counted is None for rows in due.values() for r in rows)

    counted(["A1", "B1", "C1"], CYCLE_DAYS["A"] + 1)
    counted(["A2", "C2"], 10)
    counted(["OLD"], CYCLE_DAYS["C"])
    # A cancelled count, or one without the product counted, does not count.
    spare = count_create(company=scope, location=wh.stock_location, date=today, actor=clerk)
    count_cancel(count=spare, actor=clerk)

    due = cycle_count_due(company=scope, today=today)
    assert {cls: sorted(r.product.sku for r in rows) for cls, rows in due.items()} == {
        "A": ["A1"], "B": [], "C": ["OLD"],
    }  # fmt: skip
    [a1] = due["A"]
    assert a1.last_counted == today - dt.timedelta(days=31)
    assert a1.due_since == today - dt.timedelta(days=1)
    assert due["C"][0].due_since == today
