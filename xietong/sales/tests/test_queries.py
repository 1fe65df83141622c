"""How many statements the order-to-cash services run: a constant number however many lines an
order has (pricing, products, units and taxes read once for all lines; the promise and the
invoiced quantities written in one statement), and the invoiced quantities refreshed once per
invoice."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xietong.finance.models import Invoice
from xietong.inventory.models import Picking
from xietong.inventory.pickings import picking_done
from xietong.product.tests.catalog_factories import make_category, make_rule
from xietong.sales import billing, documents
from xietong.sales.models import SalesOrder
from xietong.sales.tests.factories import D, customer, item, receive, shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(company_a):  # type: ignore[no-untyped-def]
    return shop(company_a)


def _statements(fn):  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as captured:
        result = fn()
    return result, [q["sql"] for q in captured.captured_queries]


def _order(company, party, products, **line):  # type: ignore[no-untyped-def]
    # products by key, units by code: what the API and the forms send
    return documents.order_create(
        company=company,
        actor=None,
        party=party,
        lines=[{"product": p.pk, "quantity": "2", "uom": "pc", **line} for p in products],
    )


def test_order_create_and_confirm_do_not_grow_with_the_lines(s, company_a):
    category = make_category(company_a, "Parts")
    make_rule(s.prices, category=category, method="discount", discount_percent=D(5))
    products = [item(company_a, str(10 + n), category=category) for n in range(12)]
    for product in products:
        receive(product, 50, s.stock)
    buyer = customer(company_a)
    _order(company_a, buyer, products[:1])  # the sequence is made on first use
    few, few_sql = _statements(lambda: _order(company_a, buyer, products[:2]))
    many, many_sql = _statements(lambda: _order(company_a, buyer, products))
    assert len(many_sql) == len(few_sql)
    assert many.lines.count() == 12 and many.lines.filter(unit_price=D("15.2")).exists()
    # sales' own statements of a confirmation (the stock services' are theirs)
    own = ("sales_", "party_party", "product_")
    confirmed, few_sql = _statements(lambda: documents.order_confirm(order=few, actor=None))
    _done, many_sql = _statements(lambda: documents.order_confirm(order=many, actor=None))
    assert confirmed.state == SalesOrder.State.CONFIRMED
    assert len([q for q in many_sql if any(t in q for t in own)]) == len(
        [q for q in few_sql if any(t in q for t in own)]
    )
    promised = many.lines.exclude(promise_date=None)
    assert promised.count() == 12 and all("In stock" in line.promise_note for line in promised)


def test_an_invoice_refreshes_its_order_once(s, company_a):
    products = [item(company_a, "40") for _n in range(3)]
    for product in products:
        receive(product, 10, s.stock)
    order = _order(company_a, customer(company_a), products)
    documents.order_confirm(order=order, actor=None)
    for picking in documents.order_pickings(order):
        if picking.state == Picking.State.READY:
            picking_done(picking=picking)
    invoice, sql = _statements(lambda: billing.order_invoice(order=order, actor=None, post=True))
    assert invoice.state == Invoice.State.POSTED
    sums = [q for q in sql if 'SUM("sales_invoicedline"."quantity")' in q]
    assert len(sums) == 1  # posting refreshes the lines; drafting them did not do it before
    order.refresh_from_db()
    assert order.state == SalesOrder.State.DONE
    assert all(line.qty_invoiced == D(2) for line in order.lines.all())
