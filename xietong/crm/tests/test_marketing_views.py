"""Marketing screens (lists, details, forms, results, the party page's panel), who may use
them, another company's records unreachable, and the marketer's scenario end to end:
segment → campaign → e-mail → the recipient clicks → a lead from the campaign → opportunity
won and an order → the results attribute it."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from xietong.core.jobs import job_run
from xietong.core.models import Job
from xietong.core.tenancy import company_scope
from xietong.crm import campaigns, mailing, services
from xietong.crm.models import Campaign, Lead, Recipient, Segment
from xietong.crm.tests import factories as crm_factories
from xietong.crm.tests import marketing_factories as mk
from xietong.sales import documents
from xietong.sales.tests.factories import item, shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(company_a):  # type: ignore[no-untyped-def]
    shop(company_a)
    east = mk.customer(company_a, "华东车行", email="east@example.cn", country="CN")
    segment = mk.segment(company_a, [{"field": "country", "op": "eq", "value": "CN"}],
                         name="中国客户")  # fmt: skip
    campaign = mk.campaign(company_a, name="春季促销", segment=segment, budget="5000",
                           cost="1200")  # fmt: skip
    with company_scope(company_a):
        campaigns.template_save(campaign=campaign, actor=None, language="zh-hans",
                                subject="春季促销", body="看看 https://shop.example.cn/")  # fmt: skip
    return {"east": east, "segment": segment, "campaign": campaign}


def test_pages_render_for_a_marketer(setup, users_a, client_for):
    client = client_for(users_a["marketer"])
    c, s = setup["campaign"], setup["segment"]
    pages = {
        reverse("crm:campaign_list"): "春季促销",
        reverse("crm:campaign_create"): "record-form",
        reverse("crm:campaign_detail", args=[c.pk]): "template-form",
        reverse("crm:campaign_edit", args=[c.pk]): "record-form",
        reverse("crm:campaign_results", args=[c.pk]): 'id="kpi-roi"',
        reverse("crm:segment_list"): "中国客户",
        reverse("crm:segment_create"): "rule-help",
        reverse("crm:segment_detail", args=[s.pk]): "华东车行",
        reverse("crm:segment_edit", args=[s.pk]): "country",
    }
    for url, text in pages.items():
        response = client.get(url)
        assert response.status_code == 200, url
        assert text in response.content.decode(), url
    home = client.get(reverse("web:home"), follow=True).content.decode()
    assert f'href="{reverse("crm:campaign_list")}"' in home


def test_views_need_their_permissions_and_hide_other_companies(setup, users_a, users_b,
                                                                client_for, company_b):  # fmt: skip
    c = setup["campaign"]
    rep = client_for(users_a["sales_rep"])  # no marketing view
    assert rep.get(reverse("crm:campaign_list")).status_code == 403
    manager = client_for(users_a["sales_manager"])  # view only
    assert manager.get(reverse("crm:campaign_detail", args=[c.pk])).status_code == 200
    assert manager.get(reverse("crm:campaign_create")).status_code == 403
    assert manager.post(reverse("crm:campaign_state", args=[c.pk]),
                        {"state": "done"}).status_code == 403  # fmt: skip
    assert Campaign.unscoped.get(pk=c.pk).state == "running"
    outsider = client_for(users_b["marketer"])
    for name in ("crm:campaign_detail", "crm:campaign_results", "crm:campaign_edit"):
        assert outsider.get(reverse(name, args=[c.pk])).status_code == 404, name
    assert outsider.get(reverse("crm:segment_detail",
                                args=[setup["segment"].pk])).status_code == 404  # fmt: skip
    assert outsider.post(reverse("crm:campaign_send", args=[c.pk])).status_code == 404
    assert "春季促销" not in outsider.get(reverse("crm:campaign_list")).content.decode()


def test_forms_create_and_refuse(setup, users_a, client_for, company_a):
    client = client_for(users_a["marketer"])
    bad = client.post(reverse("crm:segment_create"), {
        "name": "坏规则", "kind": "rules", "match": "all",
        "rules": '[{"field": "password", "op": "eq", "value": "x"}]'})  # fmt: skip
    assert bad.status_code == 200 and "unknown field" in bad.content.decode()
    assert not Segment.unscoped.filter(name="坏规则").exists()
    ok = client.post(reverse("crm:segment_create"), {
        "name": "大客户", "kind": "rules", "match": "any",
        "rules": '[{"field": "revenue", "op": "gte", "value": "10000", "days": 365}]'})  # fmt: skip
    made = Segment.unscoped.get(name="大客户")
    assert ok.status_code == 302 and made.rules[0]["days"] == 365
    listed = client.post(reverse("crm:segment_create"),
                         {"name": "名单", "kind": "static", "match": "all"})  # fmt: skip
    static = Segment.unscoped.get(name="名单")
    assert listed.status_code == 302
    client.post(reverse("crm:segment_member_add", args=[static.pk]),
                {"parties": setup["east"].code})  # fmt: skip
    assert (
        "华东车行" in client.get(reverse("crm:segment_detail", args=[static.pk])).content.decode()
    )
    client.post(reverse("crm:segment_member_remove", args=[static.pk]),
                {"party": setup["east"].pk})  # fmt: skip
    assert not static.members.exists()
    response = client.post(reverse("crm:campaign_create"), {
        "name": "线下展会", "channel": "event", "currency": "CNY", "language": "zh-hans",
        "budget": "8000", "start_date": "2026-05-01", "end_date": "2026-04-01"})  # fmt: skip
    assert response.status_code == 200 and not Campaign.unscoped.filter(name="线下展会").exists()
    response = client.post(reverse("crm:campaign_create"), {
        "name": "线下展会", "channel": "event", "currency": "CNY", "language": "zh-hans",
        "budget": "8000", "start_date": "2026-04-01", "end_date": "2026-05-01"})  # fmt: skip
    event = Campaign.unscoped.get(name="线下展会")
    assert response.status_code == 302 and event.budget == 8000
    client.post(reverse("crm:campaign_state", args=[event.pk]), {"state": "scheduled"})
    assert Campaign.unscoped.get(pk=event.pk).state == "scheduled"
    client.post(reverse("crm:promotion_create", args=[event.pk]), {
        "name": "展会价", "kind": "lines", "discount_type": "percent", "value": "5",
        "coupons": "EXPO5, EXPO-VIP"})  # fmt: skip
    page = client.get(reverse("crm:campaign_detail", args=[event.pk])).content.decode()
    assert "EXPO5" in page and "EXPO-VIP" in page
    refused = client.post(reverse("crm:campaign_state", args=[event.pk]), {"state": "done"},
                          follow=True)  # fmt: skip
    assert "cannot become" in refused.content.decode()


def test_party_page_shows_the_campaigns_panel(setup, users_a, client_for, company_a):
    mk.send(setup["campaign"])
    html = (
        client_for(users_a["marketer"])
        .get(reverse("party:party_detail", args=[setup["east"].pk]))
        .content.decode()
    )
    assert 'id="party-campaigns"' in html and "春季促销" in html
    rep_html = (
        client_for(users_a["sales_rep"])
        .get(reverse("party:party_detail", args=[setup["east"].pk]))
        .content.decode()
    )
    assert 'id="party-campaigns"' not in rep_html


def test_marketer_scenario_segment_campaign_email_click_lead_order_attribution(
    company_a, users_a, client_for
):
    """The marketer works on screens; the customer clicks; a sales rep qualifies and wins;
    the marketer reads the results."""
    s = shop(company_a)
    bike = item(company_a, "2000", sku="EBIKE")
    east = mk.customer(company_a, "杭州骑行俱乐部", email="club@example.cn", country="CN")
    mk.customer(company_a, "Velo Paris", email="paris@example.fr", country="FR")
    marketer = users_a["marketer"]
    client = client_for(marketer)
    # 1. a segment
    client.post(reverse("crm:segment_create"), {
        "name": "中国客户", "kind": "rules", "match": "all",
        "rules": '[{"field": "country", "op": "in", "value": ["CN"]}]'})  # fmt: skip
    segment = Segment.unscoped.get(company=company_a, name="中国客户")
    preview = client.get(reverse("crm:segment_detail", args=[segment.pk])).content.decode()
    assert "杭州骑行俱乐部" in preview and "Velo Paris" not in preview
    # 2. a campaign with a promotion and an e-mail
    today = mk.today()
    client.post(reverse("crm:campaign_create"), {
        "name": "电助力车春季推广", "code": "ebike-spring", "channel": "email",
        "segment": segment.pk, "currency": "CNY", "language": "zh-hans", "budget": "3000",
        "cost": "2000", "start_date": today.isoformat(),
        "end_date": (today.replace(day=28) if today.day < 28 else today).isoformat()})  # fmt: skip
    campaign = Campaign.unscoped.get(company=company_a, code="ebike-spring")
    client.post(reverse("crm:promotion_create", args=[campaign.pk]), {
        "name": "九五折", "kind": "lines", "discount_type": "percent", "value": "5",
        "coupons": "EBIKE5"})  # fmt: skip
    client.post(reverse("crm:template_save", args=[campaign.pk]), {
        "language": "zh-hans", "subject": "{{ contact_name }}：春季电助力车",
        "body": "{{ party_name }} 您好，优惠码 {{ coupon }}：https://shop.example.cn/ebike"})  # fmt: skip
    client.post(reverse("crm:campaign_state", args=[campaign.pk]), {"state": "scheduled"})
    # 3. send: a job with its progress on the campaign page
    sent = client.post(reverse("crm:campaign_send", args=[campaign.pk]))
    job = Job.unscoped.get(company=company_a, kind=mailing.JOB_KIND)
    assert sent.status_code == 302 and sent["Location"].endswith(f"?job={job.pk}")
    page = client.get(sent["Location"]).content.decode()
    assert 'id="job-progress"' in page
    job_run(job_id=job.pk)
    assert Job.unscoped.get(pk=job.pk).status == "done"
    (message,) = mail.outbox
    assert message.to == ["club@example.cn"] and "EBIKE5" in message.body
    # 4. the customer clicks the link of the e-mail
    link = re.search(r"https?://\S+/crm/marketing/t/c/\S+", message.body).group(0)
    landing = Client().get(link[link.index("/crm/") :])
    assert landing["Location"] == "https://shop.example.cn/ebike"
    # 5. the web form of the landing page makes a lead from the campaign; a rep qualifies it
    # into the existing customer and wins the opportunity
    rep = users_a["sales_rep"]
    team = crm_factories.team(company_a, "East", members=[rep])
    with company_scope(company_a):
        lead = services.lead_create_from_web_form(
            company=company_a, actor=None, team=team,
            payload={"name": "周先生", "company": "杭州骑行俱乐部", "email": "zhou@example.cn",
                     "utm_campaign": "ebike-spring"},
        )  # fmt: skip
        assert lead.marketing_campaign_id == campaign.pk
        deal = services.lead_qualify(lead=Lead.unscoped.get(pk=lead.pk), actor=rep, party=east,
                                     expected_revenue="19000")  # fmt: skip
        services.opportunity_win(opportunity=deal, actor=rep)
        # 6. the order, with the campaign's coupon
        order = documents.order_create(company=company_a, actor=rep, party=east,
                                       lines=[{"product": bike.pk, "quantity": "10"}],
                                       coupon_code="EBIKE5", warehouse=s.warehouse)  # fmt: skip
        order = documents.order_confirm(order=order, actor=rep)
    assert order.amount_untaxed == 19000  # 10 × 2 000 less 5 %
    # 7. the results, as the marketer sees them
    results = client.get(reverse("crm:campaign_results", args=[campaign.pk])).content.decode()
    assert order.number in results
    assert re.search(r'id="kpi-leads">1<', results)
    assert "850.00 %" in results  # (19 000 − 2 000) / 2 000
    recipient = Recipient.unscoped.get(campaign=campaign)
    assert recipient.status == "clicked"
    # the marketer cannot sell: qualifying is the rep's
    assert client.post(reverse("crm:lead_qualify", args=[lead.pk])).status_code == 403


def test_lists_query_a_fixed_number_of_times(setup, company_a, users_a, client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(users_a["marketer"])

    def count(name: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse(name)).status_code == 200
        return len(queries)

    count("crm:campaign_list")
    few = (count("crm:campaign_list"), count("crm:segment_list"))
    for _n in range(4):
        mk.campaign(company_a, segment=mk.segment(company_a, []))
    assert (count("crm:campaign_list"), count("crm:segment_list")) == few
