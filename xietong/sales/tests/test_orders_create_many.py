"""Many orders created at once (`orders_create`) are the orders created one by one: the same
numbers (in the given order), headers, prices, taxes, invoicing policies, timeline and audit
entries; ten orders cost far fewer statements than ten single calls; a refused order in the
list writes nothing and its message names the order."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xietong.core.models import AuditEntry
from xietong.core.tenancy import company_scope
from xietong.party.models import TimelineEntry
from xietong.sales import documents
from xietong.sales.common import SalesError
from xietong.sales.models import InvoicePolicy, SalesOrder, SalesOrderLine
from xietong.sales.tests.factories import D, customer, item, shop

pytestmark = pytest.mark.django_db


def _world(company):  # type: ignore[no-untyped-def]
    shop(company)
    bike, helmet, lamp = (item(company, price, sku=sku) for sku, price in
                          (("BIKE", "1000"), ("HELMET", "50"), ("LAMP", "12.35")))  # fmt: skip
    lamp.invoice_policy = InvoicePolicy.DELIVERY
    lamp.save()
    alpha = customer(company, "Alpha")
    beta = customer(company, "Beta", invoice_policy=InvoicePolicy.ORDER)
    return [
        {"party": alpha, "lines": [{"product": bike, "quantity": D(2)},
                                   {"product": helmet, "quantity": D(3), "discount": D(10)}]},
        {"party": beta, "lines": [{"product": lamp, "quantity": D(7)}],
         "customer_reference": "PO-77"},
        {"party": alpha, "lines": [{"product": helmet, "quantity": D(1)}],
         "invoice_policy": InvoicePolicy.DELIVERY},
    ]  # fmt: skip


def _snapshot(company):  # type: ignore[no-untyped-def]
    orders = SalesOrder.unscoped.filter(company=company).order_by("number")
    return [
        (
            order.number, order.party.name, order.state, order.invoice_policy,
            order.customer_reference, D(order.amount_untaxed), D(order.amount_tax),
            D(order.amount_total),
            [
                (line.sequence, line.product.sku, D(line.quantity), D(line.unit_price),
                 D(line.discount), D(line.amount_total), line.invoice_policy,
                 sorted(t.code for t in line.taxes.all()))
                for line in SalesOrderLine.objects.filter(order=order).order_by("sequence")
            ],
            [summary.rsplit(" ", 1)[0]  # the companies' currencies differ
             for summary in TimelineEntry.unscoped.filter(source_id=order.pk, kind="order")
             .values_list("summary", flat=True)],
            AuditEntry.objects.get_for_object(order).count(),
        )
        for order in orders
    ]  # fmt: skip


def test_orders_created_at_once_are_the_orders_created_one_by_one(
    company_a, company_b, users_a, users_b
):
    specs_a, specs_b = _world(company_a), _world(company_b)
    with company_scope(company_a):
        made = [documents.order_create(company=company_a, actor=users_a["sales_rep"], **spec)
                for spec in specs_a]  # fmt: skip
    with company_scope(company_b):
        many = documents.orders_create(company=company_b, actor=users_b["sales_rep"],
                                       orders=specs_b)  # fmt: skip
    assert [o.number for o in many] == [o.number for o in made]  # numbered in the given order
    assert all(o.pk and o.salesperson_id == users_b["sales_rep"].pk for o in many)
    one, other = _snapshot(company_a), _snapshot(company_b)
    assert one == other
    assert [row[3] for row in other[1:]] == ["order", "delivery"]  # the customer's; forced
    assert other[1][8][0][6] == "delivery"  # the lamp's own policy wins over the customer's
    assert other[0][-1] == 1  # each order has its audit entry


def test_a_refused_order_in_the_list_writes_nothing(company_a, users_a):
    specs = _world(company_a)
    specs[1]["lines"] = [{"product": specs[0]["lines"][0]["product"], "quantity": D(-1)}]
    with company_scope(company_a), pytest.raises(SalesError) as refused:
        documents.orders_create(company=company_a, actor=users_a["sales_rep"], orders=specs)
    assert any(key.startswith("orders.2.lines.1") for key in refused.value.error_dict)
    assert not SalesOrder.unscoped.filter(company=company_a).exists()
    assert not TimelineEntry.unscoped.filter(company=company_a, kind="order").exists()
    with company_scope(company_a), pytest.raises(SalesError) as refused:
        documents.orders_create(company=company_a, actor=None,
                                orders=[specs[0], {"party": None, "lines": []}])  # fmt: skip
    assert "orders.2.party" in refused.value.error_dict
    assert documents.orders_create(company=company_a, actor=None, orders=[]) == []


def test_ten_orders_cost_far_fewer_statements_than_ten_calls(company_a, users_a):
    specs = _world(company_a)
    rep = users_a["sales_rep"]
    with company_scope(company_a):
        documents.order_create(company=company_a, actor=rep, **specs[0])  # makes the series
        with CaptureQueriesContext(connection) as single:
            documents.order_create(company=company_a, actor=rep, **specs[0])
        with CaptureQueriesContext(connection) as many:
            made = documents.orders_create(company=company_a, actor=rep, orders=[specs[0]] * 10)
    assert len(made) == 10 and len({o.number for o in made}) == 10
    assert len(many) < 5 * len(single), (len(single), len(many))  # 14 and 59 today
