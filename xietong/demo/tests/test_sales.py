"""The demo's sales step: quotations and orders in every state, through the services, with
the ledger and the stock still sound."""

from __future__ import annotations

import pytest

from xietong.demo import catalogue, core, party, pricing, workflow
from xietong.demo import finance as demo_finance
from xietong.demo import inventory as demo_inventory
from xietong.demo import sales as demo_sales
from xietong.demo.context import DemoContext
from xietong.finance.models import Invoice
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.sales.models import Quotation, ReturnOrder, SalesOrder, SalesOrderLine
from xietong.workflow.models import Task

pytestmark = pytest.mark.django_db


def test_sales_step_shows_every_state(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    ctx = DemoContext(seed=1, size="small")
    with django_capture_on_commit_callbacks(execute=True):
        for step in (core.run, party.run, catalogue.run, pricing.run, workflow.run,
                     demo_finance.run, demo_inventory.run, demo_sales.run):  # fmt: skip
            step(ctx)
    main = ctx.companies["main"]
    quotations = set(Quotation.unscoped.filter(company=main).values_list("state", flat=True))
    assert {"draft", "to_approve", "sent", "lost", "revised", "accepted"} <= quotations
    orders = set(SalesOrder.unscoped.filter(company=main).values_list("state", flat=True))
    assert {"confirmed", "done", "held", "cancelled"} <= orders
    held = SalesOrder.unscoped.get(company=main, state="held")
    assert Task.unscoped.filter(instance=held.credit_process, status="open").exists()
    assert Invoice.unscoped.filter(company=main, source_type="sales.order",
                                   payment_state="paid").exists()  # fmt: skip
    assert ReturnOrder.unscoped.filter(company=main, state="done").exists()
    # invoicing policies: products and a customer with their own, orders mixed per line
    assert Product.unscoped.filter(company=main, invoice_policy="order").count() >= 2
    assert Party.unscoped.filter(company=main, invoice_policy="order").exists()
    policies = {}
    for order_id, policy in SalesOrderLine.objects.filter(order__company=main).values_list(
        "order_id", "invoice_policy"
    ):
        policies.setdefault(order_id, set()).add(policy)
    kinds = {frozenset(found) for found in policies.values()}
    assert {frozenset({"order"}), frozenset({"order", "delivery"})} <= kinds
    assert_stock_sound([main])
    assert_ledger_sound([main])
