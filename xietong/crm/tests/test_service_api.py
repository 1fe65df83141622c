"""The customer-service API: tickets created, replied to, moved through their states (refusals
answered 422), assigned; inbound mail (idempotent), the knowledge base, reports, isolation and
the list's query count."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.core.services import api_token_create
from xietong.crm import service_reports
from xietong.crm.models import KnowledgeArticle, Ticket
from xietong.crm.tests import service_factories as f

API = "/api/v1"
MAIL = Path(__file__).parent / "mail"
pytestmark = pytest.mark.django_db


def _client(user, company) -> Client:  # type: ignore[no-untyped-def]
    _token, raw = api_token_create(user=user, company=company, name="service tests")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _post(client: Client, path: str, body: Any, **headers: str) -> Any:
    return client.post(API + path, data=json.dumps(body), content_type="application/json",
                       headers=headers)  # fmt: skip


@pytest.fixture
def agent(company_a, users_a):  # type: ignore[no-untyped-def]
    f.policies(company_a)
    return _client(users_a["service_agent"], company_a)


def test_ticket_lifecycle_over_the_api(company_a, users_a, agent):
    party, _contact = f.customer(company_a)
    made = _post(agent, "/crm/service/tickets", {"subject": "Display dark", "party": party.pk,
                                                  "description": "The display stays dark.",
                                                  "priority": "high"},
                 **{"Idempotency-Key": "t-1"})  # fmt: skip
    assert made.status_code == 201, made.content
    ticket = made.json()
    assert ticket["number"].startswith("TCK-") and ticket["sla_state"] == "ok"
    assert ticket["assignee"] == users_a["service_agent"].pk  # the only agent
    pk = ticket["id"]
    refused = _post(agent, f"/crm/service/tickets/{pk}/transition", {"action": "close"})
    assert refused.status_code == 422 and "cannot become" in refused.json()["detail"]
    reply = _post(agent, f"/crm/service/tickets/{pk}/messages",
                  {"kind": "reply", "body": "Please check the cable.", "wait": True})  # fmt: skip
    assert reply.status_code == 201 and reply.json()["kind"] == "reply"
    moved = _post(agent, f"/crm/service/tickets/{pk}/transition",
                  {"action": "resolve", "resolution": "Cable replaced."})  # fmt: skip
    assert moved.status_code == 200 and moved.json()["state"] == "resolved"
    missing = _post(agent, f"/crm/service/tickets/{pk}/transition", {"action": "reopen"})
    assert missing.status_code == 422
    detail = agent.get(f"{API}/crm/service/tickets/{pk}").json()
    assert [m["kind"] for m in detail["messages"]] == ["inbound", "reply", "reply"]
    article = _post(agent, f"/crm/service/tickets/{pk}/article", {})
    assert article.status_code == 201 and article.json()["state"] == "draft"
    warranty = agent.get(f"{API}/crm/service/tickets/{pk}/warranty").json()
    assert warranty["covered"] is None


def test_inbound_mail_over_the_api(company_a, users_a):
    f.policies(company_a)
    manager = _client(users_a["sales_manager"], company_a)
    body = {"raw_base64": base64.b64encode((MAIL / "plain.eml").read_bytes()).decode()}
    first = _post(manager, "/crm/service/inbound-mail", body)
    assert first.status_code == 201 and first.json()["created"] is True
    again = _post(manager, "/crm/service/inbound-mail", body)
    assert again.status_code == 200 and again.json() == {**first.json(), "created": False,
                                                         "duplicate": True}  # fmt: skip
    bad = _post(manager, "/crm/service/inbound-mail", {"raw_base64": "***"})
    assert bad.status_code == 422
    agent = _client(users_a["service_agent"], company_a)
    assert _post(agent, "/crm/service/inbound-mail", body).status_code == 403


def test_knowledge_base_over_the_api(company_a, agent):
    made = _post(agent, "/crm/service/articles", {"title": "Display stays dark",
                                                   "body": "Check the display cable.",
                                                   "language": "en", "publish": True})  # fmt: skip
    assert made.status_code == 201
    pk = made.json()["id"]
    zh = _post(agent, f"/crm/service/articles/{pk}/translations",
               {"language": "zh-hans", "title": "显示屏不亮", "body": "检查显示屏线缆。"})  # fmt: skip
    assert zh.status_code == 201 and zh.json()["state"] == "published"
    listed = agent.get(f"{API}/crm/service/articles", {"language": "zh-hans"}).json()["items"]
    assert [a["title"] for a in listed] == ["显示屏不亮"]
    listed = agent.get(f"{API}/crm/service/articles", {"language": "en", "q": "cable"}).json()
    assert [a["title"] for a in listed["items"]] == ["Display stays dark"]
    ticket = f.ticket(company_a, subject="My display is dark", description="dark display")
    detail = agent.get(f"{API}/crm/service/tickets/{ticket.pk}").json()
    assert detail["suggestions"][0]["id"] in (pk, zh.json()["id"])
    archived = _post(agent, f"/crm/service/articles/{pk}/publish", {"publish": False})
    assert archived.json()["state"] == "archived"
    assert KnowledgeArticle.unscoped.get(pk=zh.json()["id"]).state == "archived"


def test_reports_and_policies_over_the_api(company_a, users_a, agent):
    ticket = f.ticket(company_a)
    _post(agent, f"/crm/service/tickets/{ticket.pk}/transition",
          {"action": "resolve", "resolution": "ok"})  # fmt: skip
    ticket.refresh_from_db()
    day = service_reports.company_day(company_a, ticket.resolved_at).isoformat()
    report = agent.get(f"{API}/crm/service/reports/sla",
                       {"start": day, "end": day, "by": "priority"}).json()  # fmt: skip
    assert report["total"]["tickets"] == 1 and report["total"]["resolution_percent"] == "100.0"
    csat = agent.get(f"{API}/crm/service/reports/csat", {"start": day, "end": day}).json()
    assert csat["total"]["answered"] == 0 and csat["total"]["average"] is None
    policies = agent.get(f"{API}/crm/service/sla-policies").json()
    assert policies["count"] == 4
    refused = _post(agent, "/crm/service/sla-policies", {
        "name": "x", "priority": "low", "calendar": 1, "first_response_hours": "1",
        "resolution_hours": "2"})  # fmt: skip
    assert refused.status_code == 403


def test_other_company_and_query_count(company_a, company_b, users_a, agent):
    f.policies(company_b)
    theirs = f.ticket(company_b)
    assert agent.get(f"{API}/crm/service/tickets/{theirs.pk}").status_code == 404
    assert _post(agent, f"/crm/service/tickets/{theirs.pk}/messages",
                 {"body": "hi"}).status_code == 404  # fmt: skip
    for _n in range(3):
        f.ticket(company_a)
    with CaptureQueriesContext(connection) as few:
        listed = agent.get(f"{API}/crm/service/tickets")
    for _n in range(10):
        f.ticket(company_a)
    with CaptureQueriesContext(connection) as many:
        listed = agent.get(f"{API}/crm/service/tickets")
    assert listed.json()["count"] == Ticket.unscoped.filter(company=company_a).count() == 13
    assert len(many.captured_queries) == len(few.captured_queries)  # no N+1
