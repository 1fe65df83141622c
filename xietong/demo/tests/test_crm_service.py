"""The demo's customer-service step: calendar, categories, SLA policies, articles in two
languages, about thirty tickets in every state with Chinese threads, some at risk or breached
with their escalation started, surveys answered."""

from __future__ import annotations

import pytest

from xietong.crm.models import (
    KnowledgeArticle,
    SatisfactionSurvey,
    SlaPolicy,
    Ticket,
    TicketMessage,
)
from xietong.demo import core, party
from xietong.demo import crm_service as demo_service
from xietong.demo.context import DemoContext
from xietong.party.models import TimelineEntry
from xietong.workflow.models import ProcessInstance

pytestmark = pytest.mark.django_db


def test_crm_service_step_fills_the_desk() -> None:
    ctx = DemoContext(seed=1, size="small")
    for step in (core.run, party.run, demo_service.run):
        step(ctx)
    company = ctx.companies["main"]
    assert SlaPolicy.unscoped.filter(company=company).count() == 6  # 4 standard + 2 OEM
    rows = Ticket.unscoped.filter(company=company)
    assert rows.count() == 30
    assert {t.state for t in rows} == {"new", "open", "waiting", "resolved", "closed"}
    assert {t.channel for t in rows} >= {"email", "phone", "web"}
    assert not rows.filter(assignee__isnull=True).exists()
    assert rows.filter(reopened__gt=0).exists()
    assert rows.filter(sla_state__in=("at_risk", "breached")).exists()
    escalated = rows.exclude(escalation=None)
    assert escalated.exists() and ProcessInstance.unscoped.filter(
        pk__in=escalated.values("escalation")).exists()  # fmt: skip
    assert TicketMessage.unscoped.filter(company=company, body__contains="电池").exists()
    articles = KnowledgeArticle.unscoped.filter(company=company)
    assert {a.language for a in articles} == {"zh-hans", "en"}
    assert articles.filter(translation_of__isnull=False).count() == 5
    assert SatisfactionSurvey.unscoped.filter(company=company, score__isnull=False).exists()
    assert TimelineEntry.unscoped.filter(company=company, kind="crm.ticket").count() > 60
    assert any(line.startswith("CRM service:") for line in ctx.log)
