"""Invoicing many orders at once (`billing.orders_invoice`): the same invoices, entries, links,
invoiced quantities, down payment deductions and order states as `order_invoice` per order —
built in two identical companies and compared —, orders with nothing to invoice skipped, far
fewer statements than one call per order, and a refused order writing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xietong.core.services import company_create
from xietong.finance.amounts import exact
from xietong.finance.models import Entry, Invoice, InvoiceLine
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.finance.tests.test_many import _snapshot
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Picking
from xietong.sales import billing, documents
from xietong.sales.models import DownPayment, InvoicedLine, InvoicePolicy, SalesOrder
from xietong.sales.tests.factories import D, customer, item, receive, shop
from xietong.sales.tests.invariants import sales_problems

pytestmark = pytest.mark.django_db

ORDER, DELIVERY = InvoicePolicy.ORDER.value, InvoicePolicy.DELIVERY.value


@pytest.fixture
def actor(users_a):  # type: ignore[no-untyped-def]
    return users_a["accountant"]


def _deliver(order: SalesOrder) -> None:
    for picking in documents.order_pickings(order):
        if picking.state == Picking.State.READY:
            picking_services.picking_done(picking=picking)


def _world(company: Any, actor: Any) -> Any:
    """Confirmed orders: invoiced on order, delivered (to invoice on delivery), not delivered
    (nothing to invoice), with a down payment; one partly invoiced already."""
    s = shop(company)
    bike = item(company, "1000", sku="BIKE", name="Bike")
    helmet = item(company, "49.90", sku="HELMET", name="Helmet")
    frame = item(company, "500", sku="FRAME", name="Frame", invoice_policy=ORDER)
    receive(bike, 50, s.stock, "600")
    receive(helmet, 50, s.stock, "20")
    buyers = [customer(company, f"Buyer {n}") for n in range(3)]

    def order(buyer, lines, **kw):  # type: ignore[no-untyped-def]
        made = documents.order_create(company=company, actor=actor, party=buyer, lines=[
            {"product": product, "quantity": D(quantity)} for product, quantity in lines], **kw)  # fmt: skip
        return documents.order_confirm(order=made, actor=actor)

    s.orders = [
        order(buyers[0], [(bike, 2), (helmet, 3)]),  # delivered below
        order(buyers[1], [(frame, 2)]),  # on order; a down payment
        order(buyers[2], [(helmet, 1)]),  # not delivered: nothing to invoice
        order(buyers[0], [(bike, 1), (helmet, 1)], invoice_policy=ORDER),
        order(buyers[1], [(frame, 3), (helmet, 2)]),  # one frame invoiced already
    ]
    _deliver(s.orders[0])
    billing.order_down_payment(order=s.orders[1], actor=actor, amount=D(300))
    line = s.orders[4].lines.get(product=frame)
    billing.order_invoice(order=s.orders[4], actor=actor, quantities={line.pk: D(1)}, post=True)
    return s


def _sales_snapshot(company: Any) -> dict[str, Any]:
    snapshot = _snapshot(company)
    snapshot["orders"] = [
        (o.number, o.state, [
            (line.sequence, exact(line.qty_delivered), exact(line.qty_invoiced))
            for line in o.lines.order_by("sequence")])
        for o in SalesOrder.unscoped.filter(company=company).order_by("number")
    ]  # fmt: skip
    snapshot["invoice_lines"] = [
        (line.invoice.number, line.invoice.origin, line.sequence, line.description,
         exact(line.quantity), exact(line.unit_price), exact(line.amount_total))
        for line in InvoiceLine.objects.filter(invoice__company=company)
        .select_related("invoice")
        .order_by("invoice__number", "sequence")
    ]  # fmt: skip
    snapshot["links"] = sorted(
        (link.order_line.order.number, link.order_line.sequence,
         link.invoice_line.invoice.number, link.invoice_line.sequence, exact(link.quantity))
        for link in InvoicedLine.objects.filter(order_line__order__company=company)
        .select_related("order_line__order", "invoice_line__invoice")
    )  # fmt: skip
    snapshot["down_payments"] = sorted(
        (dp.invoice.number, dp.deducted_by.number if dp.deducted_by else None)
        for dp in DownPayment.unscoped.filter(company=company).select_related(
            "invoice", "deducted_by"
        )
    )
    return snapshot


@pytest.mark.parametrize("post", [True, False])
def test_orders_invoice_as_order_invoice_per_order(company_a, actor, post):
    twin = company_create(
        name="Alpha Twin", legal_name="Alpha Twin Ltd.", base_currency="CNY", country="CN"
    )
    one, many = _world(company_a, actor), _world(twin, actor)
    singles = []
    for order in one.orders:
        try:
            singles.append(billing.order_invoice(order=order, actor=actor, post=post))
        except ValidationError as exc:
            assert "Nothing to invoice" in str(exc)
    invoices = billing.orders_invoice(orders=many.orders, actor=actor, post=post)
    assert [i.origin for i in invoices] == [i.origin for i in singles]
    assert len(invoices) == 4  # the order not delivered is skipped
    state = Invoice.State.POSTED if post else Invoice.State.DRAFT
    assert all(i.state == state for i in invoices)
    one_snapshot, many_snapshot = _sales_snapshot(company_a), _sales_snapshot(twin)
    for key in one_snapshot:
        assert one_snapshot[key] == many_snapshot[key], key
    done = [row[1] for row in many_snapshot["orders"]]
    if post:
        assert done.count(SalesOrder.State.DONE) == 1  # the one delivered and now invoiced
    assert_ledger_sound([company_a, twin])
    if post:  # (drafts count as invoiced, but the invariant sums posted invoices)
        assert sales_problems(company_a) == sales_problems(twin) == []


def test_ten_orders_cost_less_than_three_single_ones(company_a, actor):
    shop(company_a)
    frame = item(company_a, "500", invoice_policy=ORDER)
    buyer = customer(company_a)

    def confirmed():  # type: ignore[no-untyped-def]
        made = documents.order_create(company=company_a, actor=actor, party=buyer,
                                      lines=[{"product": frame, "quantity": D(2)}])  # fmt: skip
        return documents.order_confirm(order=made, actor=actor)

    billing.order_invoice(order=confirmed(), actor=actor, post=True)  # the series exist
    single, ten = [confirmed()], [confirmed() for _n in range(10)]
    counts = []
    for orders in (single, ten):
        with CaptureQueriesContext(connection) as queries:
            billing.orders_invoice(orders=orders, actor=actor, post=True)
        counts.append(len(queries))
    print(f"orders_invoice(post=True): 1 → {counts[0]}, 10 → {counts[1]} statements")  # noqa: T201
    assert counts[1] < 3 * counts[0]
    assert (
        Invoice.unscoped.filter(
            source_id__in=[o.pk for o in ten], state=Invoice.State.POSTED
        ).count()
        == 10
    )


def test_a_refused_order_in_the_middle_writes_nothing(company_a, actor):
    s = _world(company_a, actor)
    draft = documents.order_create(company=company_a, actor=actor, party=customer(company_a),
                                   lines=[{"product": s.orders[0].lines.first().product,
                                           "quantity": D(1)}])  # fmt: skip
    counts = (Invoice.unscoped.count(), Entry.unscoped.count(), InvoicedLine.objects.count())
    with pytest.raises(ValidationError, match=f"{draft.number} is Draft"):
        billing.orders_invoice(orders=[s.orders[0], draft, s.orders[3]], actor=actor, post=True)
    assert (Invoice.unscoped.count(), Entry.unscoped.count(), InvoicedLine.objects.count()) == (
        counts
    )
    assert all(
        line.qty_invoiced == 0 for order in (s.orders[0], s.orders[3]) for line in order.lines.all()
    )
