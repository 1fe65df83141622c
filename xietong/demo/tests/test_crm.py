"""The demo's CRM step: two teams with their stages, leads in every state, opportunities spread
over the stages with activities, won and lost ones, on the existing customers."""

from __future__ import annotations

import pytest

from xietong.crm.models import Activity, Lead, Opportunity, SalesTarget, SalesTeam
from xietong.demo import core, party
from xietong.demo import crm as demo_crm
from xietong.demo.context import DemoContext
from xietong.party.models import TimelineEntry

pytestmark = pytest.mark.django_db


def test_crm_step_fills_the_pipeline() -> None:
    ctx = DemoContext(seed=1, size="small")
    for step in (core.run, party.run, demo_crm.run):
        step(ctx)
    company = ctx.companies["main"]
    assert SalesTeam.unscoped.filter(company=company).count() == 2
    leads = Lead.unscoped.filter(company=company)
    assert leads.count() == 40 + demo_crm.INTAKE_LEADS  # + imported and e-mailed leads
    assert {lead.state for lead in leads} == {"new", "qualified", "disqualified"}
    deals = Opportunity.unscoped.filter(company=company)
    assert deals.count() >= 60
    assert {d.state for d in deals} == {"open", "won", "lost"}
    assert len({d.stage_id for d in deals.filter(state="open")}) >= 6  # both teams' open stages
    assert not deals.filter(owner__isnull=True).exists()
    assert Activity.unscoped.filter(company=company).count() > 60
    assert TimelineEntry.unscoped.filter(company=company, kind="crm.opportunity").exists()
    assert any(line.startswith("CRM:") for line in ctx.log)
    assert SalesTarget.unscoped.filter(company=company, user__isnull=True).count() == 2


def test_crm_step_quotes_from_opportunities_after_the_sales_step() -> None:
    from xietong.demo import catalogue, finance, inventory, pricing, sales, workflow
    from xietong.sales.models import Quotation, SalesOrder

    ctx = DemoContext(seed=1, size="small")
    for step in (core.run, party.run, catalogue.run, pricing.run, workflow.run, finance.run,
                 inventory.run, sales.run, demo_crm.run):  # fmt: skip
        step(ctx)
    company = ctx.companies["main"]
    linked = Quotation.unscoped.filter(company=company, opportunity_id__isnull=False)
    assert linked.count() >= 5
    deals = Opportunity.unscoped.filter(company=company)
    assert set(linked.values_list("opportunity_id", flat=True)) <= set(
        deals.values_list("pk", flat=True)
    )
    orders = SalesOrder.unscoped.filter(company=company, quotation__opportunity_id__isnull=False)
    assert orders.exists()
    for order in orders:
        deal = deals.get(pk=order.quotation.opportunity_id)
        assert deal.state == "won" and deal.expected_revenue == order.amount_untaxed
