"""Many pickings done at once (`pickings_done`, a wave) are the pickings done one by one: the
same states, moves, quants, reservations, valuation layers and ledger amounts; ten cost far
fewer statements than ten single calls; a refused picking in the list writes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from xietong.core.tenancy import company_scope
from xietong.finance.models import Entry, Line
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory import stock
from xietong.inventory.models import (
    Move,
    Picking,
    Quant,
    Reservation,
    ValuationLayer,
    ValuationTotal,
    Warehouse,
)
from xietong.inventory.pickings import (
    delivery_create,
    picking_cancel,
    picking_done,
    pickings_done,
)
from xietong.inventory.stock import StockError
from xietong.inventory.tests.flows_helpers import DAY, D, make_party, make_warehouse, snapshot
from xietong.inventory.tests.invariants import assert_stock_sound, valuation_total_problems
from xietong.inventory.tests.test_valuation import Site

pytestmark = pytest.mark.django_db

PS = Picking.State
DS = Warehouse.DeliverySteps


@pytest.fixture
def site(company_a):
    with company_scope(company_a):
        yield Site(company_a)


@pytest.fixture
def clerk(users_a):
    return users_a["warehouse_clerk"]


class World:
    """A warehouse with its own products in stock (received at known costs) and deliveries of
    them, confirmed (the last one left a draft)."""

    def __init__(self, site: Site, code: str, steps: str, count: int = 4) -> None:
        self.site = site
        company = site.company
        self.warehouse = make_warehouse(company, code, delivery_steps=steps)
        self.products = [site.product() for _ in range(3)]
        for n, item in enumerate(self.products):
            for quantity, cost in ((60, 5 + n), (60, 7 + n)):
                move = stock.move_create(
                    company=company, product=item, quantity=D(quantity),
                    from_location=site.supplier, to_location=self.warehouse.stock_location,
                    planned_date=DAY, unit_cost=D(cost),
                )  # fmt: skip
                stock.moves_done(moves=[move], effective_date=DAY)
        customer = make_party(company, f"Customer {code}", is_customer=True)
        self.chains = [
            delivery_create(
                company=company,
                warehouse=self.warehouse,
                party=customer,
                scheduled_date=DAY,
                lines=[
                    {"product": item, "quantity": D(2 + n + k)}
                    for k, item in enumerate(self.products)
                ],
                confirm=n < count - 1,
            )  # fmt: skip
            for n in range(count)
        ]

    def firsts(self) -> list[Picking]:
        return [chain[0] for chain in self.chains]

    def step(self, index: int) -> list[Picking]:
        return [chain[index] for chain in self.chains]

    def state(self) -> dict[str, object]:
        """The database as far as this world goes, with products and locations by position."""
        wh, products = self.warehouse, self.products
        sku = {p.pk: n for n, p in enumerate(products)}
        names = {
            wh.stock_location_id: "stock",
            wh.output_location_id: "output",
            wh.pack_location_id: "pack",
            self.site.customer.pk: "customer",
            self.site.supplier.pk: "supplier",
        }
        pickings = {p.pk: (n, k) for n, chain in enumerate(self.chains)
                    for k, p in enumerate(chain)}  # fmt: skip
        moves = Move.unscoped.filter(product__in=products).order_by("pk")
        layers = ValuationLayer.unscoped.filter(product__in=products).order_by("pk")
        lines = (
            Line.unscoped.filter(product__in=products, entry__state=Entry.State.POSTED)
            .values("account__code", "product_id")
            .annotate(debit=Sum("debit"), credit=Sum("credit"))
        )
        return {
            "pickings": sorted(
                (pickings[p.pk], p.state, p.done_at is not None)
                for p in Picking.unscoped.filter(pk__in=pickings)
            ),
            "moves": sorted(
                (
                    pickings.get(m.picking_id, (-1, -1)),
                    sku[m.product_id],
                    names[m.from_location_id],
                    names[m.to_location_id],
                    m.state,
                    m.quantity_base,
                    m.effective_date,
                )
                for m in moves
            ),  # fmt: skip
            "reservations": sorted(
                (
                    pickings[r.move.picking_id],
                    sku[r.move.product_id],
                    names[r.quant.location_id],
                    r.quantity,
                )
                for r in Reservation.unscoped.filter(move__product__in=products).select_related(
                    "move", "quant"
                )
            ),  # fmt: skip
            "quants": sorted(
                (sku[q.product_id], names.get(q.location_id), q.quantity, q.reserved)
                for q in Quant.unscoped.filter(product__in=products)
            ),
            "layers": sorted(
                (
                    sku[layer.product_id],
                    layer.date,
                    layer.quantity,
                    layer.unit_cost,
                    layer.value,
                    layer.remaining_qty,
                )
                for layer in layers
            ),  # fmt: skip
            "totals": sorted(
                (sku[t.product_id], t.quantity, t.value, t.last_date)
                for t in ValuationTotal.unscoped.filter(product__in=products)
            ),
            "ledger": sorted(
                (
                    row["account__code"],
                    sku[row["product_id"]],
                    Decimal(str(row["debit"])),
                    Decimal(str(row["credit"])),
                )
                for row in lines
            ),  # fmt: skip
        }


@pytest.mark.parametrize("steps", [DS.ONE, DS.TWO, DS.THREE])
def test_pickings_done_at_once_are_the_pickings_done_one_by_one(site, clerk, steps):
    single, many = World(site, "WA", steps), World(site, "WB", steps)
    for picking in single.firsts():
        picking_done(picking=picking, actor=clerk)
    done = pickings_done(pickings=many.firsts(), actor=clerk)
    assert [p.state for p in done] == [PS.DONE] * 4
    assert [p.pk for p in done] == [p.pk for p in many.firsts()]
    assert single.state() == many.state()
    for index in range(1, len(single.chains[0])):  # the next steps became ready: do them too
        assert {p.state for p in Picking.unscoped.filter(pk__in=[p.pk for p in many.step(index)])
                } == {PS.READY}  # fmt: skip
        for picking in single.step(index):
            picking_done(picking=picking, actor=clerk)
        pickings_done(pickings=many.step(index), actor=clerk)
        assert single.state() == many.state()
    assert many.state()["ledger"]  # perpetual valuation: the deliveries were booked
    assert_stock_sound([site.company])
    assert valuation_total_problems([site.company]) == []
    assert_ledger_sound([site.company])


def test_ten_pickings_cost_far_fewer_statements_than_ten_single_calls(site, clerk):
    world = World(site, "WA", DS.ONE, count=13)
    pickings = world.firsts()
    with CaptureQueriesContext(connection) as one:
        picking_done(picking=pickings[0], actor=clerk)
    with CaptureQueriesContext(connection) as one_many:
        pickings_done(pickings=[pickings[1]], actor=clerk)
    with CaptureQueriesContext(connection) as ten:
        done = pickings_done(pickings=pickings[2:12], actor=clerk)
    assert len(done) == 10
    assert {p.state for p in done} == {PS.DONE}
    print(f"statements: 1 picking {len(one)} ({len(one_many)}), 10 pickings {len(ten)}")
    assert len(one_many) == len(one)
    assert len(ten) < 3 * len(one), (len(one), len(ten))
    assert len(ten) == len(one)  # more pickings, no more statements


def test_a_refused_picking_in_the_list_writes_nothing(site, clerk):
    world = World(site, "WA", DS.ONE)
    pickings = world.firsts()
    picking_cancel(picking=pickings[1], actor=clerk)
    before = snapshot(site.company), world.state()
    with pytest.raises(StockError):
        pickings_done(pickings=pickings, actor=clerk)
    assert (snapshot(site.company), world.state()) == before
    # a next step not ready yet is refused as well, all or nothing
    two = World(site, "WB", DS.TWO)
    before = snapshot(site.company)
    with pytest.raises(StockError):
        pickings_done(pickings=[two.chains[0][0], two.chains[1][1]], actor=clerk)
    assert snapshot(site.company) == before


def test_a_picking_given_twice_is_done_once(site, clerk):
    world = World(site, "WA", DS.ONE, count=2)
    first = world.chains[0][0]
    done = pickings_done(pickings=[first, first], actor=clerk)
    assert [p.pk for p in done] == [first.pk]
    assert done[0].state == PS.DONE
    assert pickings_done(pickings=[], actor=clerk) == []
