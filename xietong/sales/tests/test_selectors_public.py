"""The public reads and doors of sales for the layers above (`selectors`, `services`, `schemas`):
won orders of parties and by coupon, the revenue and last-order subqueries, a company's orders
and one order of the company, the order line that delivered a lot, the line input of the API
turned into lines, and a quotation loaded for its API answer; and the crm modules that used to
reach into sales' models, API and screens now use only these doors."""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Subquery
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.inventory import pickings
from xietong.inventory.models import Lot, Move
from xietong.party.models import Party
from xietong.sales import documents, selectors, services
from xietong.sales.schemas import LineIn
from xietong.sales.tests.factories import D, customer, item, receive, shop

pytestmark = pytest.mark.django_db


def _order(company: Any, party: Any, product: Any, *, quantity: str = "1", confirm: bool = True,
           date: dt.date | None = None) -> Any:  # fmt: skip
    with company_scope(company):
        made = documents.order_create(company=company, actor=None, party=party,
                                      lines=[{"product": product, "quantity": D(quantity)}],
                                      date=date or timezone.localdate())  # fmt: skip
        return documents.order_confirm(order=made, actor=None) if confirm else made


@pytest.fixture
def world(company_a, company_b):  # type: ignore[no-untyped-def]
    s = shop(company_a)
    s.bike = item(company_a, "1000", sku="PUB-BIKE")
    receive(s.bike, 50, s.stock)
    s.east, s.west = customer(company_a, "East"), customer(company_a, "West")
    today = timezone.localdate()
    s.won_east = _order(company_a, s.east, s.bike, quantity="3")  # 3000 today
    s.old_east = _order(company_a, s.east, s.bike, date=today - dt.timedelta(days=90))  # 1000
    s.draft_west = _order(company_a, s.west, s.bike, confirm=False)
    other = shop(company_b)
    s.other_bike = item(company_b, "10", sku="PUB-B")
    receive(s.other_bike, 5, other.stock)
    s.other = _order(company_b, customer(company_b), s.other_bike)
    return s


def test_orders_won_of_parties_and_coupons(world, company_a):
    won = selectors.orders_won(company_id=company_a.pk)
    assert set(won) == {world.won_east, world.old_east}  # no draft, no other company's
    assert set(selectors.orders_won(company_id=company_a.pk, party_ids=[world.west.pk])) == set()
    assert not selectors.orders_won(company_id=company_a.pk, coupon_codes=["NONE"]).exists()
    assert set(selectors.orders_won(company_id=company_a.pk, party_ids=iter([world.east.pk]),
                                    coupon_codes=[""])) == {world.won_east, world.old_east}  # fmt: skip


def test_revenue_and_last_order_subqueries(world, company_a):
    since = timezone.localdate() - dt.timedelta(days=30)
    rows = Party.unscoped.filter(company=company_a, pk__in=[world.east.pk, world.west.pk])
    rows = rows.annotate(
        revenue=Subquery(selectors.party_won_revenue_subquery(since=since)),
        last=Subquery(selectors.party_last_order_subquery()),
    )
    got = {party.name: (party.revenue, party.last) for party in rows}
    assert got == {"East": (world.won_east.amount_untaxed, world.won_east.date),
                   "West": (None, None)}  # fmt: skip


def test_company_orders_and_one_order(world, company_a, company_b):
    assert set(selectors.company_orders(company_id=company_a.pk)) == {
        world.won_east, world.old_east, world.draft_west}  # fmt: skip
    assert selectors.company_order(company_id=company_a.pk, order_id=world.draft_west.pk) == (
        world.draft_west
    )
    assert selectors.company_order(company_id=company_a.pk, order_id=world.won_east) == (
        world.won_east
    )
    assert selectors.company_order(company_id=company_a.pk, order_id=world.other.pk) is None
    assert selectors.company_order(company_id=company_a.pk, order_id="x") is None


def test_lot_delivery_and_order_product_line(company_a):
    s = shop(company_a)
    bike = item(company_a, "3000", tracking="serial")
    with company_scope(company_a):
        receipt = pickings.receipt_create(
            company=company_a, warehouse=s.warehouse, scheduled_date=timezone.localdate(),
            lines=[{"product": bike, "quantity": D(2), "unit_cost": D(2000)}],
        )[0]  # fmt: skip
        move = Move.unscoped.get(picking=receipt)
        pickings.picking_done(picking=receipt, lots={move.pk: ["PUB-1", "PUB-2"]})
        buyer = customer(company_a)
        order = _order(company_a, buyer, bike)
        for out in documents.order_pickings(order):
            if out.state == "ready":
                pickings.picking_done(picking=out)
        line = order.lines.get()
        sent = Move.unscoped.get(source_id=line.pk, to_location__usage="customer").lot
        kept = Lot.unscoped.exclude(pk=sent.pk).get(product=bike)
        found = selectors.lot_delivery(lot=sent, party_id=buyer.pk)
        assert found is not None and found[1] == line and found[1].order == order
        assert found[0] == timezone.localdate()
        assert selectors.lot_delivery(lot=kept, party_id=buyer.pk) is None
        assert selectors.lot_delivery(lot=sent, party_id=customer(company_a).pk) is None
        assert selectors.order_product_line(order_id=order.pk, product_id=bike.pk) == line
        assert (
            selectors.order_product_line(order_id=order.pk, product_id=s.warehouse.pk + 10**6)
            is None
        )


def test_line_input_and_quotation_detail(world, company_a, company_b):
    with company_scope(company_a):
        lines = services.quotation_lines_from_input(
            [LineIn(sku="PUB-BIKE", quantity="2"), LineIn(product=world.bike.pk, taxes=[])]
        )
        assert lines == [{"quantity": D(2), "discount": D(0), "product": world.bike.pk},
                         {"quantity": D(1), "discount": D(0), "product": world.bike.pk,
                          "taxes": []}]  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            services.quotation_lines_from_input([LineIn(sku="NOPE"), LineIn()])
        assert set(caught.value.message_dict) == {"lines.0.sku", "lines.1.product"}
        made = documents.quotation_create(company=company_a, actor=None, party=world.east,
                                          lines=lines)  # fmt: skip
        found = selectors.quotation_detail(quotation_id=made.pk)
        assert found == made and [line.product_id for line in found.lines.all()] == [
            world.bike.pk, world.bike.pk]  # fmt: skip
        assert selectors.quotation_detail(quotation_id=made.pk + 10**6) is None
    with company_scope(company_b):  # another company's quotation is not found
        assert selectors.quotation_detail(quotation_id=made.pk) is None


# --- crm keeps to the doors ---------------------------------------------------------------------

PUBLIC = {"xietong.sales.selectors", "xietong.sales.services", "xietong.sales.schemas",
          "xietong.sales.events", "xietong.sales.promotions", "xietong.sales.common"}  # fmt: skip
SWITCHED = ["attribution.py", "segments.py", "tickets.py", "service_forms.py", "warranty.py",
            "promotions.py", "api/pipeline.py", "views/pipeline.py"]  # fmt: skip


def test_the_switched_crm_modules_import_only_public_sales_modules():
    crm = Path(__file__).resolve().parents[2] / "crm"
    used: dict[str, set[str]] = {}
    for name in SWITCHED:
        tree = ast.parse((crm / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = (
                    {f"{node.module}.{alias.name}" for alias in node.names}
                    if node.module == "xietong.sales"
                    else {node.module}
                )
            elif isinstance(node, ast.Import):
                modules = {alias.name for alias in node.names}
            else:
                continue
            for module in modules:
                if module.startswith("xietong.sales"):
                    used.setdefault(name, set()).add(module)
    assert used, "the crm modules use sales"
    private = {name: modules - PUBLIC for name, modules in used.items() if modules - PUBLIC}
    assert private == {}
