"""Many orders confirmed at once (`orders_confirm`) are the orders confirmed one by one: the
same credit holds and processes (the orders of the list before counted), promises, deliveries,
reservations and timeline; their deliveries done as a wave (`pickings_done`) are the
deliveries done one by one; ten orders cost far fewer statements than ten single calls; a
refused order in the list writes nothing."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from xietong.core.tenancy import company_scope
from xietong.finance.models import Entry, Line
from xietong.inventory import stock
from xietong.inventory.models import (
    Location,
    Move,
    Picking,
    Quant,
    Reservation,
    ValuationLayer,
)
from xietong.inventory.pickings import picking_done, pickings_done
from xietong.inventory.warehouses import virtual_locations
from xietong.party.models import TimelineEntry
from xietong.product.models import Product
from xietong.sales import documents
from xietong.sales.common import SalesError
from xietong.sales.models import SalesOrder, SalesOrderLine
from xietong.sales.tests.factories import D, customer, item, receive, shop, today
from xietong.workflow.models import ProcessInstance, Task

pytestmark = pytest.mark.django_db

OS = SalesOrder.State


def _later(days: int) -> dt.date:
    return today() + dt.timedelta(days=days)


class World:
    """A company (the two of the tests are set up alike, to be compared) selling bikes (in stock), helmets (a few, more coming), lamps (bought on
    demand) and a setup service to a customer without a limit and one with a tight limit;
    five draft orders."""

    def __init__(self, company, steps: str = "one") -> None:  # type: ignore[no-untyped-def]
        self.company = company
        self.shop = s = shop(company, steps=steps)
        bike = item(company, "1000", sku="BIKE")
        helmet = item(company, "50", sku="HELMET")
        lamp = item(company, "100", sku="LAMP", purchase_lead_days=7)
        setup = item(company, "30", sku="SETUP", type=Product.Type.SERVICE)
        receive(bike, 6, s.stock, "600")
        receive(helmet, 2, s.stock, "20")
        supplier = virtual_locations(company=company)[Location.Usage.SUPPLIER]
        with company_scope(company):
            stock.move_create(company=company, product=helmet, quantity=D(10),
                              from_location=supplier, to_location=s.stock,
                              planned_date=_later(5), unit_cost=D(20))  # fmt: skip
        alpha = customer(company, "Alpha")
        beta = customer(company, "Beta")
        beta.credit_limit = D(2400)
        beta.save()

        def order(party, lines, **fields):  # type: ignore[no-untyped-def]
            with company_scope(company):
                return documents.order_create(
                    company=company, actor=None, party=party,
                    lines=[{"product": p, "quantity": D(q)} for p, q in lines], **fields,
                )  # fmt: skip

        self.orders = [
            order(alpha, [(bike, 3), (helmet, 1), (setup, 1)]),
            order(beta, [(bike, 2), (lamp, 1)]),  # 2373 of Beta's 2400
            order(alpha, [(bike, 2), (helmet, 2)]),  # a bike short; a helmet from the receipt
            order(beta, [(helmet, 1)]),  # Beta above its limit: held
            order(alpha, [(helmet, 3), (lamp, 2)], requested_date=_later(10)),
        ]

    def state(self) -> dict[str, object]:
        company = self.company
        usage = dict(Location.unscoped.filter(company=company).values_list("pk", "usage"))
        pickings = dict(Picking.unscoped.filter(company=company).values_list("pk", "number"))
        orders = SalesOrder.unscoped.filter(company=company).order_by("number")
        numbers = dict(orders.values_list("pk", "number"))
        return {
            "orders": [
                (
                    o.number,
                    o.state,
                    o.hold_reason,
                    o.credit_approved,
                    o.confirmed_at is not None,
                    o.credit_process.status if o.credit_process else None,
                    o.credit_process.definition.key if o.credit_process else None,
                )
                for o in orders
            ],  # fmt: skip
            "tasks": sorted(
                (numbers.get(t.instance.object_id), t.status)
                for t in Task.unscoped.filter(company=company).select_related("instance")
            ),
            "processes": ProcessInstance.unscoped.filter(company=company).count(),
            "lines": [
                (
                    line.order.number,
                    line.sequence,
                    line.product.sku,
                    line.promise_date,
                    re.sub(r"move \d+", "move #", line.promise_note),
                    line.qty_delivered,
                )
                for line in SalesOrderLine.objects.filter(order__company=company)
                .select_related("order", "product")
                .order_by("order__number", "sequence")
            ],  # fmt: skip
            "pickings": sorted(
                Picking.unscoped.filter(company=company).values_list(
                    "number", "state", "scheduled_date", "origin", "step", "previous__number"
                )
            ),
            "moves": sorted(
                (
                    pickings.get(m.picking_id, ""),
                    m.product.sku,
                    m.state,
                    m.quantity_base,
                    usage[m.from_location_id],
                    usage[m.to_location_id],
                    m.planned_date,
                )
                for m in Move.unscoped.filter(company=company).select_related("product")
            ),  # fmt: skip
            "reservations": sorted(
                (pickings[r.move.picking_id], r.move.product.sku, r.quantity)
                for r in Reservation.unscoped.filter(company=company).select_related(
                    "move__product"
                )
            ),  # fmt: skip
            "quants": sorted(
                (q.product.sku, usage[q.location_id], q.quantity, q.reserved)
                for q in Quant.unscoped.filter(company=company).select_related("product")
            ),
            "layers": sorted(
                (layer.product.sku, layer.quantity, layer.unit_cost, layer.value)
                for layer in ValuationLayer.unscoped.filter(company=company).select_related(
                    "product"
                )
            ),  # fmt: skip
            "ledger": sorted(
                (
                    row["account__code"],
                    row["product__sku"],
                    Decimal(str(row["debit"])),
                    Decimal(str(row["credit"])),
                )
                for row in Line.unscoped.filter(company=company, entry__state=Entry.State.POSTED)
                .values("account__code", "product__sku")
                .annotate(debit=Sum("debit"), credit=Sum("credit"))
            ),  # fmt: skip
            "timeline": [  # the companies differ by their currency
                (party, kind, summary.replace(company.base_currency_id, "¤"))
                for party, kind, summary in TimelineEntry.unscoped.filter(company=company)
                .order_by("pk")
                .values_list("party__name", "kind", "summary")
            ],
        }


@pytest.mark.parametrize("steps", ["one", "two"])
def test_orders_confirmed_at_once_are_the_orders_confirmed_one_by_one(
    company_a, company_b, django_capture_on_commit_callbacks, steps
):
    single, many = World(company_a, steps), World(company_b, steps)
    with django_capture_on_commit_callbacks(execute=True):
        with company_scope(company_a):
            for order in single.orders:
                documents.order_confirm(order=order, actor=None)
        with company_scope(company_b):
            confirmed = documents.orders_confirm(orders=many.orders, actor=None)
    assert [o.pk for o in confirmed] == [o.pk for o in many.orders]
    assert [o.state for o in confirmed] == [OS.CONFIRMED] * 3 + [OS.HELD, OS.CONFIRMED]
    expected, got = single.state(), many.state()
    assert got == expected
    # the promises say something: from stock, from the receipt, bought
    notes = {line[4] for line in got["lines"]}  # type: ignore[union-attr]
    assert any("In stock" in note for note in notes)
    assert any("purchase lead time" in note for note in notes)
    assert got["tasks"] == [(many.orders[3].number, Task.Status.OPEN)]
    # then the deliveries, as a wave
    for company, wave in ((company_a, False), (company_b, True)):
        with company_scope(company):
            for _round in range(2):  # the steps of the route, one after the other
                ready = list(
                    Picking.unscoped.filter(company=company, state=Picking.State.READY).order_by(
                        "pk"
                    )
                )
                if wave:
                    pickings_done(pickings=ready, actor=None)
                else:
                    for picking in ready:
                        picking_done(picking=picking, actor=None)
    expected, got = single.state(), many.state()
    assert got == expected
    assert got["ledger"]  # perpetual valuation: the deliveries were booked
    delivered = [line[5] for line in got["lines"]]  # type: ignore[union-attr]
    assert D(3) in delivered


def test_ten_orders_cost_far_fewer_statements_than_ten_single_calls(company_a):
    s = shop(company_a)
    products = [item(company_a, "100", sku=f"P{n}") for n in range(3)]
    for product in products:
        receive(product, 100, s.stock, "60")
    buyers = [customer(company_a, f"Buyer {n}") for n in range(3)]
    with company_scope(company_a):
        orders = [
            documents.order_create(
                company=company_a,
                actor=None,
                party=buyers[n % 3],
                lines=[{"product": p, "quantity": D(1 + n % 2)} for p in products],
            )  # fmt: skip
            for n in range(12)
        ]
        documents.order_confirm(order=orders[0], actor=None)  # the series are made
        with CaptureQueriesContext(connection) as one:
            documents.order_confirm(order=orders[1], actor=None)
        with CaptureQueriesContext(connection) as ten:
            done = documents.orders_confirm(orders=orders[2:], actor=None)
        assert {o.state for o in done} == {OS.CONFIRMED}
        print(f"statements: 1 order {len(one)}, 10 orders {len(ten)}")
        assert len(ten) < 3 * len(one), (len(one), len(ten))
        # and their deliveries: one, then the ten as a wave
        deliveries = [documents.order_pickings(order)[0] for order in orders[1:]]
        with CaptureQueriesContext(connection) as one:
            picking_done(picking=deliveries[0], actor=None)
        with CaptureQueriesContext(connection) as ten:
            pickings_done(pickings=deliveries[1:], actor=None)
    print(f"statements: 1 delivery {len(one)}, 10 deliveries {len(ten)}")
    assert len(ten) < 3 * len(one), (len(one), len(ten))
    lines = SalesOrderLine.objects.filter(order__in=orders[1:])
    assert all(line.qty_delivered == line.quantity for line in lines)


def test_a_refused_order_in_the_list_writes_nothing(company_a):
    s = shop(company_a)
    bike = item(company_a, "1000")
    receive(bike, 10, s.stock)
    buyer = customer(company_a)
    with company_scope(company_a):
        orders = [
            documents.order_create(
                company=company_a,
                actor=None,
                party=buyer,
                lines=[{"product": bike, "quantity": D(1)}],
            )  # fmt: skip
            for _ in range(3)
        ]
        documents.order_confirm(order=orders[1], actor=None)

    def snapshot():  # type: ignore[no-untyped-def]
        return (
            sorted(SalesOrder.unscoped.values_list("pk", "state")),
            Picking.unscoped.count(),
            Move.unscoped.count(),
            Reservation.unscoped.count(),
            TimelineEntry.unscoped.count(),
            sorted(SalesOrderLine.objects.values_list("pk", "promise_date")),
        )

    before = snapshot()
    with company_scope(company_a):
        with pytest.raises(SalesError):
            documents.orders_confirm(orders=orders, actor=None)
        with pytest.raises(SalesError):
            documents.orders_confirm(orders=[orders[0], orders[0]], actor=None)
    assert snapshot() == before


def test_the_order_crossing_the_credit_limit_is_held(
    company_a, users_a, django_capture_on_commit_callbacks
):
    s = shop(company_a)
    bike = item(company_a, "1000")
    receive(bike, 10, s.stock)
    buyer, other = customer(company_a), customer(company_a)
    buyer.credit_limit = D(2000)  # one bike (1130) fits, not two (2260)
    buyer.save()
    rep = users_a["sales_rep"]
    with company_scope(company_a):
        orders = [
            documents.order_create(
                company=company_a,
                actor=rep,
                party=party,
                lines=[{"product": bike, "quantity": D(1)}],
            )  # fmt: skip
            for party in (buyer, other, buyer, buyer)
        ]
        with django_capture_on_commit_callbacks(execute=True):
            done = documents.orders_confirm(orders=orders, actor=rep)
    assert [o.state for o in done] == [OS.CONFIRMED, OS.CONFIRMED, OS.HELD, OS.HELD]
    assert "2000" in done[2].hold_reason and "1130.00 open" in done[2].hold_reason
    assert "2260.00 open" in done[3].hold_reason  # the held order counts as well
    for order in done[2:]:
        assert Task.unscoped.filter(instance=order.credit_process,
                                    status=Task.Status.OPEN).exists()  # fmt: skip
        assert not Picking.unscoped.filter(source_type=documents.ORDER_SOURCE,
                                           source_id=order.pk).exists()  # fmt: skip
    assert stock.available(product=bike, location=s.stock) == D(8)
