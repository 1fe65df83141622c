"""Lead to won, as a sales representative on the screens (not as a superuser): enter a lead,
find it looks like nobody, qualify it into a new customer and an opportunity, log a call and
plan a meeting, move the opportunity through the board, mark the meeting done and win it; the
customer's timeline tells the story and the forecast no longer counts the won deal."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.crm import selectors
from xietong.crm.models import Activity, Lead, Opportunity
from xietong.crm.tests import factories
from xietong.party.models import Contact, TimelineEntry

pytestmark = pytest.mark.django_db


def test_sales_rep_lead_to_won(company_a, users_a, client_for):
    rep = users_a["sales_rep"]
    team = factories.team(company_a, "Shanghai", members=[rep], manager=users_a["sales_manager"])
    client = client_for(rep)

    response = client.post(reverse("crm:lead_create"), {
        "name": "周杰", "company_name": "杭州飞轮车业有限公司", "email": "zhou@feilun.example",
        "phone": "+86 571 8888 0000", "source": "email", "campaign": "2026 spring expo",
        "team": team.pk})  # fmt: skip
    lead = Lead.unscoped.get(email="zhou@feilun.example")
    assert response.status_code == 302 and lead.owner == rep and lead.source == "email"
    page = client.get(reverse("crm:lead_detail", args=[lead.pk])).content.decode()
    assert 'id="duplicates"' not in page and 'id="qualify-form"' in page

    response = client.post(reverse("crm:lead_qualify", args=[lead.pk]), {
        "team": team.pk, "expected_revenue": "360000", "close_date": "2026-06-30"})  # fmt: skip
    deal = Opportunity.unscoped.get(lead=lead)
    assert response.status_code == 302
    assert deal.party.name == "杭州飞轮车业有限公司" and deal.owner == rep
    assert Contact.unscoped.get(party=deal.party).name == "周杰"

    detail = reverse("crm:opportunity_detail", args=[deal.pk])
    client.post(reverse("crm:activity_create"), {"opportunity": deal.pk, "kind": "call",
                                                 "subject": "First call", "done": "on"})  # fmt: skip
    client.post(reverse("crm:activity_create"), {"opportunity": deal.pk, "kind": "meeting",
                                                 "subject": "Factory visit",
                                                 "due_date": "2026-05-10"})  # fmt: skip
    meeting = Activity.unscoped.get(opportunity=deal, kind="meeting")
    for name in ("Proposal", "Negotiation"):
        response = client.post(reverse("crm:opportunity_move", args=[deal.pk]),
                               {"stage": factories.stage(team, name).pk},
                               headers={"Accept": "application/json"})  # fmt: skip
        assert response.status_code == 200
    with company_scope(company_a):
        forecast = selectors.pipeline_forecast(user=rep, see_all=False, start=dt.date(2026, 6, 1))
    assert [(r.label, r.weighted) for r in forecast] == [("Shanghai", 288000)]
    client.post(reverse("crm:activity_done", args=[meeting.pk]))
    response = client.post(reverse("crm:opportunity_won", args=[deal.pk]))
    assert response.status_code == 302 and response["Location"] == detail
    deal.refresh_from_db()
    assert (deal.state, deal.stage.name, deal.probability) == ("won", "Won", 100)
    assert client.get(detail).status_code == 200

    timeline = list(TimelineEntry.unscoped.filter(party=deal.party).order_by("pk")
                    .values_list("kind", flat=True))  # fmt: skip
    assert timeline == ["party.created", "crm.opportunity", "crm.lead", "activity", "activity",
                        "crm.opportunity", "crm.opportunity", "activity", "crm.opportunity"]  # fmt: skip
    with company_scope(company_a):
        assert selectors.pipeline_forecast(user=rep, see_all=False) == []
    # a service agent works on tickets, not on the sales pipeline (no crm.view)
    agent = client_for(users_a["service_agent"])
    assert agent.get(detail).status_code == 403


def test_sales_rep_lead_to_quote_to_won_by_the_order(company_a, users_a, client_for,
                                                     django_capture_on_commit_callbacks):  # fmt: skip
    """Lead → opportunity → "New quotation" on it → approved → accepted by the customer: the
    confirmed order wins the opportunity on its own, with the order's untaxed total; the
    opportunity page lists the quotation and the order, the customer 360 the won deal."""
    from decimal import Decimal

    from xietong.sales.models import Quotation, SalesOrder
    from xietong.sales.tests import factories as sales_factories

    shop = sales_factories.shop(company_a)
    bike = sales_factories.item(company_a, "1200", sku="E-BIKE", name="E-bike")
    sales_factories.receive(bike, 20, shop.stock)
    rep = users_a["sales_rep"]
    team = factories.team(company_a, "Hangzhou", members=[rep])
    client = client_for(rep)
    client.post(reverse("crm:lead_create"), {"name": "Li Wei", "company_name": "Velo Hangzhou",
                                             "email": "li@velo.example", "source": "web_form",
                                             "team": team.pk})  # fmt: skip
    lead = Lead.unscoped.get(email="li@velo.example")
    client.post(reverse("crm:lead_qualify", args=[lead.pk]), {"team": team.pk})
    deal = Opportunity.unscoped.get(lead=lead)
    assert deal.expected_revenue == 0

    day = sales_factories.today().isoformat()
    response = client.post(reverse("crm:opportunity_quotation_create", args=[deal.pk]), {
        "party": deal.party_id, "date": day, "valid_until": day, "customer_reference": "",
        "notes": "", "lines-TOTAL_FORMS": "1", "lines-0-product": "E-BIKE",
        "lines-0-quantity": "10"})  # fmt: skip
    quotation = Quotation.unscoped.get(opportunity_id=deal.pk)
    assert response.status_code == 302 and quotation.amount_untaxed == Decimal("12000")
    deal.refresh_from_db()
    assert deal.expected_revenue == Decimal("12000")
    client.post(reverse("sales:quotation_submit", args=[quotation.pk]))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("sales:quotation_accept", args=[quotation.pk]),
                               {"confirm": "on"})  # fmt: skip
    order = SalesOrder.unscoped.get(quotation=quotation)
    assert response.status_code == 302 and order.state == "confirmed"
    deal.refresh_from_db()
    assert (deal.state, deal.expected_revenue, deal.probability) == ("won", Decimal("12000"), 100)
    page = client.get(reverse("crm:opportunity_detail", args=[deal.pk])).content.decode()
    assert quotation.number in page and order.number in page
    party_page = client.get(reverse("party:party_detail", args=[deal.party_id])).content.decode()
    assert ">100.0 %<" in party_page and order.number in party_page  # win rate, the order
    kinds = list(TimelineEntry.unscoped.filter(party=deal.party).order_by("pk")
                 .values_list("kind", flat=True))  # fmt: skip
    assert kinds[-1] == "crm.opportunity" and "quotation" in kinds and "order" in kinds
