"""The customer-service screens: ticket list with filters, new ticket, detail with thread, SLA and
suggestions, replies and state changes, the knowledge base, reports, settings, the party panel,
the public survey (forged token, answered twice, throttled) and company isolation."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from xietong.crm import knowledge, tickets
from xietong.crm.models import KnowledgeArticle, SatisfactionSurvey, Ticket
from xietong.crm.tests import service_factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def desk(company_a, users_a):  # type: ignore[no-untyped-def]
    f.policies(company_a)
    party, contact = f.customer(company_a, "Suzhou Bikes")
    repairs = f.category(company_a, "Repairs", skill="repair")
    open_ticket = f.ticket(company_a, party, subject="Brake squeaks", priority="high",
                           category=repairs, contact=contact)  # fmt: skip
    other = f.ticket(company_a, party, subject="Invoice copy wanted", priority="low")
    knowledge.article_create(company=company_a, actor=None, language="en", publish=True,
                             title="Squeaking brakes", body="Clean the brake rotor and pads.")  # fmt: skip
    return {"party": party, "contact": contact, "ticket": open_ticket, "other": other,
            "agent": users_a["service_agent"], "repairs": repairs}  # fmt: skip


def test_ticket_list_filters(desk, client_for):
    client = client_for(desk["agent"])
    url = reverse("crm:ticket_list")
    page = client.get(url).content.decode()
    assert "Brake squeaks" in page and "Invoice copy wanted" in page
    page = client.get(url + "?priority=high").content.decode()
    assert "Brake squeaks" in page and "Invoice copy wanted" not in page
    page = client.get(url + f"?party={desk['party'].pk}&q=invoice").content.decode()
    assert "Invoice copy wanted" in page and "Brake squeaks" not in page
    assert b"Brake squeaks" in client.get(url + "?export=csv").content


def test_ticket_detail_shows_thread_sla_and_suggestions(desk, client_for):
    client = client_for(desk["agent"])
    response = client.get(reverse("crm:ticket_detail", args=[desk["ticket"].pk]))
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="thread"' in page and "Something does not work." in page
    assert 'id="sla-card"' in page and "High" in page
    assert "Squeaking brakes" in page  # the suggested article
    assert 'id="action-resolve"' in page


def test_new_ticket_form(desk, client_for, company_a):
    client = client_for(desk["agent"])
    url = reverse("crm:ticket_create")
    assert client.get(url).status_code == 200
    response = client.post(url, {"subject": "", "channel": "phone", "priority": "normal"})
    assert response.status_code == 200 and b'data-field-error="subject"' in response.content
    response = client.post(url, {"subject": "Bell broken", "description": "Rings no more",
                                 "party": desk["party"].pk, "channel": "phone",
                                 "priority": "normal", "category": desk["repairs"].pk})  # fmt: skip
    ticket = Ticket.unscoped.get(company=company_a, subject="Bell broken")
    assert response.status_code == 302 and response["Location"] == reverse(
        "crm:ticket_detail", args=[ticket.pk])  # fmt: skip
    assert ticket.channel == "phone" and ticket.sla_policy is not None


def test_reply_wait_resolve_and_article(desk, client_for):
    client = client_for(desk["agent"])
    ticket = desk["ticket"]
    reply = reverse("crm:ticket_reply", args=[ticket.pk])
    client.post(reply, {"body": "Which model?", "kind": "reply", "wait": "1"})
    ticket.refresh_from_db()
    assert ticket.state == "waiting" and ticket.first_response_at is not None
    client.post(reply, {"body": "Customer called: E-City 3", "kind": "customer"})
    client.post(reply, {"body": "Check pads", "kind": "note"})
    ticket.refresh_from_db()
    assert ticket.state == "open" and ticket.messages.count() == 4
    state = reverse("crm:ticket_state", args=[ticket.pk])
    response = client.post(state, {"action": "close"}, follow=True)
    assert "cannot become" in response.content.decode()  # the refusal is shown
    client.post(state, {"action": "resolve", "resolution": "Pads replaced"})
    ticket.refresh_from_db()
    assert ticket.state == "resolved"
    response = client.post(reverse("crm:ticket_article", args=[ticket.pk]))
    article = KnowledgeArticle.unscoped.get(source_ticket=ticket)
    assert response["Location"] == reverse("crm:article_edit", args=[article.pk])
    page = client.get(reverse("crm:ticket_detail", args=[ticket.pk])).content.decode()
    assert 'id="survey-card"' in page and "/service/survey/" in page


def test_assign_and_priority(desk, client_for, company_a):
    client = client_for(desk["agent"])
    ticket = desk["ticket"]
    client.post(reverse("crm:ticket_assign", args=[ticket.pk]), {"assignee": desk["agent"].pk})
    ticket.refresh_from_db()
    assert ticket.assignee == desk["agent"]
    client.post(reverse("crm:ticket_update", args=[ticket.pk]), {"priority": "urgent"})
    ticket.refresh_from_db()
    assert ticket.priority == "urgent" and ticket.sla_policy.priority == "urgent"


def test_knowledge_base_screens(desk, client_for):
    client = client_for(desk["agent"])
    page = client.get(reverse("crm:article_list") + "?q=brake").content.decode()
    assert "Squeaking brakes" in page
    response = client.post(reverse("crm:article_create"), {
        "title": "Charging the battery", "body": "Use the original charger.", "language": "en",
        "publish": "on"})  # fmt: skip
    article = KnowledgeArticle.unscoped.get(title="Charging the battery")
    assert response.status_code == 302 and article.state == "published"
    response = client.post(reverse("crm:article_translate", args=[article.pk]), {
        "title": "电池充电", "body": "请使用原装充电器。", "language": "zh-hans"})  # fmt: skip
    translation = KnowledgeArticle.unscoped.get(translation_of=article)
    assert response["Location"] == reverse("crm:article_detail", args=[translation.pk])
    # the list shows one article per group, in the reader's language
    desk["agent"].language = "zh-hans"
    desk["agent"].save(update_fields=["language"])
    page = client.get(reverse("crm:article_list")).content.decode()
    assert "电池充电" in page and "Charging the battery" not in page
    detail = client.get(reverse("crm:article_detail", args=[article.pk])).content.decode()
    assert 'id="versions"' in detail
    client.post(reverse("crm:article_edit", args=[article.pk]), {
        "title": "Charging the e-bike battery", "body": "Original charger only."})  # fmt: skip
    article.refresh_from_db()
    assert article.title == "Charging the e-bike battery"
    client.post(reverse("crm:article_publish", args=[article.pk]), {"publish": "0"})
    article.refresh_from_db()
    assert article.state == "archived"


def test_reports_and_settings(desk, client_for, users_a):
    client = client_for(desk["agent"])
    tickets.ticket_resolve(ticket=desk["ticket"], actor=desk["agent"], resolution="ok")
    page = client.get(reverse("crm:service_report") + "?by=priority").content.decode()
    assert 'id="sla-table"' in page and 'id="csat-table"' in page and "High" in page
    assert client.get(reverse("crm:service_settings")).status_code == 403  # agents do not manage
    manager = client_for(users_a["sales_manager"])
    assert manager.get(reverse("crm:service_settings")).status_code == 200
    manager.post(reverse("crm:service_settings"), {"form": "category", "name": "Frames",
                                                   "skill": "welding"})  # fmt: skip
    manager.post(reverse("crm:service_settings"), {"form": "warranty", "months": "24"})
    response = manager.post(reverse("crm:service_settings"), {"form": "calendar", "name": "Late",
                                                              "start": "18:00", "end": "09:00"},
                            follow=True)  # fmt: skip
    assert "Work must end after it starts." in response.content.decode()
    page = manager.get(reverse("crm:service_settings")).content.decode()
    assert "welding" in page and "24" in page


def test_party_page_panel(desk, client_for):
    from xietong.crm.service_reports import tickets_panel

    client = client_for(desk["agent"])
    request = client.get(reverse("crm:ticket_list")).wsgi_request
    data = tickets_panel(request, desk["party"])
    assert data["open_count"] == 2 and desk["ticket"] in data["open"]
    page = client.get(reverse("party:party_detail", args=[desk["party"].pk])).content.decode()
    assert 'id="panel-tickets"' in page and desk["ticket"].number in page


def test_public_survey(desk, company_a):
    cache.clear()
    tickets.ticket_resolve(ticket=desk["ticket"], actor=None, resolution="ok")
    survey = SatisfactionSurvey.unscoped.get(ticket=desk["ticket"])
    anonymous = Client()
    url = reverse("crm:survey", args=[survey.token])
    assert anonymous.get(url).status_code == 200
    forged = reverse("crm:survey", args=[survey.token[:-3] + "abc"])
    assert anonymous.get(forged).status_code == 404
    assert anonymous.post(forged, {"score": "5"}).status_code == 404
    assert anonymous.post(url, {"score": "9"}).status_code == 422
    response = anonymous.post(url, {"score": "5", "comment": "Great"})
    assert response.status_code == 200 and b'id="survey-done"' in response.content
    assert anonymous.post(url, {"score": "1"}).status_code == 409
    survey.refresh_from_db()
    assert survey.score == 5 and survey.comment == "Great"
    for _n in range(25):
        last = anonymous.post(url, {"score": "1"})
    assert last.status_code == 429
    cache.clear()


def test_other_company_tickets_are_not_found(desk, company_b, users_a, client_for):
    f.policies(company_b)
    theirs = f.ticket(company_b, subject="CANARY-b-ticket")
    client = client_for(desk["agent"])
    assert client.get(reverse("crm:ticket_detail", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("crm:ticket_state", args=[theirs.pk]),
                       {"action": "resolve", "resolution": "x"}).status_code == 404  # fmt: skip
    assert b"CANARY-b" not in client.get(reverse("crm:ticket_list")).content
    theirs.refresh_from_db()
    assert theirs.state == "new"


def test_roles_without_service_permissions_are_refused(desk, users_a, client_for):
    clerk = client_for(users_a["warehouse_clerk"])
    assert clerk.get(reverse("crm:ticket_list")).status_code == 403
    rep = client_for(users_a["sales_rep"])
    assert rep.get(reverse("crm:ticket_detail", args=[desk["ticket"].pk])).status_code == 403
    executive = client_for(users_a["executive"])
    assert executive.get(reverse("crm:ticket_list")).status_code == 200
    assert executive.get(reverse("crm:ticket_create")).status_code == 403  # sees, does not work


def test_public_support_form(desk, company_a, company_b):
    cache.clear()
    anonymous = Client()
    url = reverse("crm:support_form", args=[company_a.pk])
    assert anonymous.get(url).status_code == 200
    assert anonymous.get(reverse("crm:support_form", args=[987654])).status_code == 404
    response = anonymous.post(url, {"name": "Wang", "email": "", "subject": "x",
                                    "description": "y"})  # fmt: skip
    assert response.status_code == 422
    response = anonymous.post(url, {"name": "Li", "email": desk["contact"].email.upper(),
                                    "subject": "Bell rusty", "description": "After rain."})  # fmt: skip
    ticket = Ticket.unscoped.get(company=company_a, subject="Bell rusty")
    assert response.status_code == 200 and ticket.number.encode() in response.content
    assert ticket.channel == "web" and ticket.party == desk["party"]
    assert ticket.contact == desk["contact"] and ticket.sla_policy is not None
    # a robot filling the trap field is thanked, nothing is stored
    anonymous.post(url, {"name": "Bot", "email": "bot@spam.example", "subject": "Buy",
                         "description": "cheap", "website": "http://spam.example"})  # fmt: skip
    assert not Ticket.unscoped.filter(subject="Buy").exists()
    # company B's form files into company B
    anonymous.post(reverse("crm:support_form", args=[company_b.pk]),
                   {"name": "Li", "email": desk["contact"].email, "subject": "B ticket",
                    "description": "z"})  # fmt: skip
    theirs = Ticket.unscoped.get(subject="B ticket")
    assert theirs.company == company_b and theirs.party is None
    for _n in range(12):
        last = anonymous.post(url, {"name": "Flood", "email": "f@example.com", "subject": "F",
                                    "description": "F"})  # fmt: skip
    assert last.status_code == 429
    cache.clear()
