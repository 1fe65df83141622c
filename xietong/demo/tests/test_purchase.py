"""The demo's purchase step: requisitions, RFQs, orders, receipts and supplier invoices in
every state, through the services, with the ledger, the stock and the order lines sound; then
the manufacturing step on top of it (one build of the demo prefix for both)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from xietong.demo import catalogue, core, party, pricing, workflow
from xietong.demo import finance as demo_finance
from xietong.demo import inventory as demo_inventory
from xietong.demo import manufacturing as demo_manufacturing
from xietong.demo import purchase as demo_purchase
from xietong.demo import sales as demo_sales
from xietong.demo.context import DemoContext
from xietong.finance.models import Invoice
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.manufacturing import planning
from xietong.manufacturing.models import Forecast, PlannedOrder, PlanRun, ProductionOrder
from xietong.purchase.models import (
    Inspection,
    InvoiceMatch,
    LandedCost,
    PurchaseOrder,
    Requisition,
    Rfq,
)
from xietong.purchase.tests.invariants import assert_purchase_sound
from xietong.workflow.models import Task

pytestmark = pytest.mark.django_db


def test_purchase_step_shows_every_state(django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    ctx = DemoContext(seed=1, size="small")
    with django_capture_on_commit_callbacks(execute=True):
        for step in (core.run, party.run, catalogue.run, pricing.run, workflow.run,
                     demo_finance.run, demo_inventory.run, demo_sales.run,
                     demo_purchase.run):  # fmt: skip
            step(ctx)
    main = ctx.companies["main"]
    states = set(PurchaseOrder.unscoped.filter(company=main).values_list("state", flat=True))
    assert {"draft", "to_approve", "sent", "confirmed", "done", "cancelled"} <= states
    requisitions = set(Requisition.unscoped.filter(company=main).values_list("state", flat=True))
    assert {"to_approve", "approved"} <= requisitions
    assert Requisition.unscoped.filter(company=main, source="replenishment").exists()
    assert set(Rfq.unscoped.filter(company=main).values_list("state", flat=True)) == {
        "sent", "awarded"}  # fmt: skip
    assert Inspection.unscoped.filter(company=main, rejected__gt=0).exists()
    mismatch = InvoiceMatch.unscoped.get(company=main, state="mismatch")
    assert Task.unscoped.filter(instance=mismatch.process, status="open", lane="buyer").exists()
    assert Invoice.unscoped.filter(company=main, kind="in_invoice", payment_state="paid",
                                   pk__in=InvoiceMatch.unscoped.values("invoice_id")).exists()  # fmt: skip
    assert LandedCost.unscoped.filter(company=main, state="done").exists()
    assert PurchaseOrder.unscoped.filter(  # a confirmed order whose goods are late
        company=main,
        state="confirmed",
        lines__promised_date__lt=timezone.localdate(),
        lines__qty_received=0,
    ).exists()
    assert_ledger_sound([main])
    assert_stock_sound([main])
    assert_purchase_sound(main)

    # manufacturing: forecasts, an MRP run, firmed and released orders, a schedule
    with django_capture_on_commit_callbacks(execute=True):
        demo_manufacturing.run(ctx)
    run = PlanRun.unscoped.get(company=main)
    assert run.state == "done" and run.figures["planned_orders"] > 100
    assert Forecast.unscoped.filter(company=main).count() >= 4 * 8
    pegs = planning.pegs_of(run.scenario_id, PlannedOrder.unscoped.filter(run=run)
                            .values_list("pk", flat=True))  # fmt: skip
    assert any(p.demand == "forecast" for lines in pegs.values() for p in lines)
    assert Requisition.unscoped.filter(company=main, source="mrp").exists()
    made = ProductionOrder.unscoped.filter(company=main)
    assert {"draft", "released"} <= set(made.values_list("state", flat=True))
    assert made.filter(scheduled_start__isnull=False).exists()
    assert_stock_sound([main])
