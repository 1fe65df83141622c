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
    assert leads.count() == 40
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
