"""Scenario, as a service agent (not a superuser) and the system: a customer e-mails → a ticket
with its SLA clock → the agent asks back and waits (clock paused) → the customer answers → the
SLA gets at risk and the escalation process starts → its timer escalates to the service lead
(a task for the sales manager) → the agent resolves through the screens (the process catches
"ticket.resolved" and ends) → the customer rates the help → the ticket becomes a knowledge-base
article, published, and suggested on the next similar ticket; every step on the customer's
timeline."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.crm import inbound, knowledge, sla
from xietong.crm.models import KnowledgeArticle, SatisfactionSurvey, Ticket
from xietong.crm.tests import service_factories as f
from xietong.party.models import TimelineEntry
from xietong.workflow.models import ProcessInstance, Task
from xietong.workflow.services import timers_run

pytestmark = pytest.mark.django_db
MAIL = Path(__file__).parent / "mail"


def test_emailed_ticket_to_article(company_a, users_a, client_for, tmp_path):
    agent = users_a["service_agent"]
    assert not agent.is_superuser
    f.policies(company_a)
    party, contact = f.customer(company_a, "Hangzhou Qixing", email="li.wei@hzqixing.example")
    (tmp_path / "mail-1.eml").write_bytes((MAIL / "plain.eml").read_bytes())
    monday_9 = f.local(company_a, 2026, 3, 9, 9)

    # the mail arrives Monday 9:00 and opens a ticket of the contact, given to the agent
    with company_scope(company_a):
        counts = inbound.folder_fetch(company=company_a, folder=tmp_path, now=monday_9)
    assert counts["created"] == 1
    ticket = Ticket.unscoped.get(company=company_a)
    assert ticket.party == party and ticket.contact == contact and ticket.assignee == agent
    assert ticket.first_response_due == f.local(company_a, 2026, 3, 9, 13)  # normal: 4 h
    assert ticket.resolution_due == f.local(company_a, 2026, 3, 10, 16)  # 16 h

    client = client_for(agent)
    page = client.get(reverse("crm:ticket_list") + f"?assignee={agent.pk}").content.decode()
    assert ticket.number in page

    # the agent's first answer (through the service clock at 10:00) and the wait
    from xietong.crm import tickets

    tickets.ticket_reply(ticket=ticket, actor=agent, body="Which charger do you use?", wait=True,
                         now=f.local(company_a, 2026, 3, 9, 10))  # fmt: skip
    assert ticket.first_response_met is True and ticket.state == "waiting"
    # the customer answers by mail on Tuesday 9:00: 8 business hours paused
    (tmp_path / "mail-2.eml").write_bytes((MAIL / "reply.eml").read_bytes())
    with company_scope(company_a):
        inbound.folder_fetch(company=company_a, folder=tmp_path,
                             now=f.local(company_a, 2026, 3, 10, 9))  # fmt: skip
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.sla_paused_seconds == 8 * 3600
    assert ticket.resolution_due == f.local(company_a, 2026, 3, 11, 15)
    # at risk from 12 + 8 = 20 business hours: Wednesday 11:00
    assert ticket.sla_risk_at == f.local(company_a, 2026, 3, 11, 11)

    # the periodic check at Wednesday 11:30 starts the escalation
    at_risk = f.local(company_a, 2026, 3, 11, 11, 30)
    assert sla.sla_check(now=at_risk) == {"at_risk": 1, "breached": 0}
    ticket.refresh_from_db()
    instance = ProcessInstance.unscoped.get(pk=ticket.escalation_id)
    assert instance.status == "running"
    # a day later (normal: manager after P1D) the service lead has a task
    timers_run(now=at_risk + dt.timedelta(days=1, minutes=1))
    task = Task.unscoped.get(instance=instance, status="open")
    assert task.role == "sales_manager"

    # the agent resolves through the screen; the process hears of it and ends
    response = client.post(reverse("crm:ticket_state", args=[ticket.pk]),
                           {"action": "resolve", "resolution": "Replace the charger fuse."})  # fmt: skip
    assert response.status_code == 302
    ticket.refresh_from_db()
    instance.refresh_from_db()
    assert ticket.state == "resolved" and instance.status == "completed"
    assert instance.data["outcome"] == "escalated"

    # the customer rates the help through the public link
    survey = SatisfactionSurvey.unscoped.get(ticket=ticket)
    assert Client().post(reverse("crm:survey", args=[survey.token]),
                         {"score": "4", "comment": "Slow but good"}).status_code == 200  # fmt: skip

    # the ticket becomes an article, published, and is suggested on the next similar ticket
    response = client.post(reverse("crm:ticket_article", args=[ticket.pk]))
    article = KnowledgeArticle.unscoped.get(source_ticket=ticket)
    client.post(reverse("crm:article_publish", args=[article.pk]), {"publish": "1"})
    article.refresh_from_db()
    assert article.state == "published" and "charger fuse" in article.body
    next_one = f.ticket(company_a, party, subject="Battery does not charge",
                        description="The battery does not charge since yesterday.")  # fmt: skip
    assert knowledge.suggestions(next_one, language="en")[0][0] == article

    summaries = list(TimelineEntry.unscoped.filter(party=party, kind="crm.ticket")
                     .values_list("summary", flat=True))  # fmt: skip
    for words in ("opened", "reply sent", "customer answered", "SLA at risk", "resolved",
                  "satisfaction 4/5", "knowledge-base article"):  # fmt: skip
        assert any(words in s for s in summaries), words
