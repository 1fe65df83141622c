"""Marketing services: segment rules (each field and operator, bad rules refused), static lists,
the campaign state machine, promotions in the price engine (coupon, period, bundle, fixed),
the e-mail job (merge fields in the contact's language, opted-out contacts skipped, progress),
tracking (open, click, unsubscribe; forged tokens), attribution and ROI by hand-computed
figures, and company isolation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from xietong.core.models import Job
from xietong.core.tenancy import company_scope
from xietong.crm import attribution, campaigns, mailing, segments, services
from xietong.crm.campaigns import CampaignError
from xietong.crm.models import Campaign, EmailClick, Lead, Recipient, SegmentMember
from xietong.crm.tests import factories as crm_factories
from xietong.crm.tests import marketing_factories as mk
from xietong.party.models import Contact
from xietong.party.services import address_create, customer_group_create
from xietong.sales import documents
from xietong.sales.common import SalesError
from xietong.sales.tests.factories import item, shop

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def world(company_a):  # type: ignore[no-untyped-def]
    """A shop in company A and three customers:
    - 华东 (CN, group VIP, tag 展会, zh-hans): confirmed orders 12 000 ten days ago and
      3 000 two hundred days ago;
    - Berlin (DE, no group, en): no order, an open opportunity;
    - 华南 (CN, group 零售, tag 老客户): a confirmed order 500, 100 days ago."""
    s = shop(company_a)
    s.bike = item(company_a, "1000", sku="BIKE")
    s.helmet = item(company_a, "200", sku="HELMET")
    s.lock = item(company_a, "50", sku="LOCK")
    with company_scope(company_a):
        vip = customer_group_create(company=company_a, actor=None, name="VIP", code="VIP")
        retail = customer_group_create(company=company_a, actor=None, name="零售", code="RETAIL")
    s.east = mk.customer(company_a, "华东车行", email="east@example.cn", country="CN",
                         customer_group=vip, tags=["展会"])  # fmt: skip
    s.berlin = mk.customer(company_a, "Berlin Bikes", email="b@example.de", country="DE",
                           language="en")  # fmt: skip
    s.south = mk.customer(company_a, "华南单车", email="south@example.cn", country="CN",
                          customer_group=retail, tags=["老客户"])  # fmt: skip
    s.vip, s.retail = vip, retail
    today = mk.today()
    mk.order(company_a, s.east, s.bike, quantity="12", date=today - dt.timedelta(days=10))
    mk.order(company_a, s.east, s.bike, quantity="3", date=today - dt.timedelta(days=200))
    mk.order(company_a, s.south, s.lock, quantity="10", date=today - dt.timedelta(days=100))
    team = crm_factories.team(company_a, "Marketing East")
    crm_factories.opportunity(company_a, team, party=s.berlin, revenue="5000")
    s.team = team
    return s


def names(company, rules, match="all"):  # type: ignore[no-untyped-def]
    with company_scope(company):
        rows = segments.rules_queryset(company=company, rules=rules, match=match)
        return {p.name for p in rows}


# --- segments -----------------------------------------------------------------------------------


def test_each_rule_field_and_operator_selects_the_right_customers(world, company_a):
    w = world
    all_three = {"华东车行", "Berlin Bikes", "华南单车"}
    assert names(company_a, []) == all_three
    assert names(company_a, [{"field": "country", "op": "eq", "value": "CN"}]) == {
        "华东车行", "华南单车"}  # fmt: skip
    assert names(company_a, [{"field": "country", "op": "ne", "value": "CN"}]) == {"Berlin Bikes"}
    assert names(company_a, [{"field": "country", "op": "in", "value": ["DE", "FR"]}]) == {
        "Berlin Bikes"}  # fmt: skip
    assert names(company_a, [{"field": "country", "op": "not_in", "value": ["DE"]}]) == {
        "华东车行", "华南单车"}  # fmt: skip
    group = {"field": "customer_group"}
    assert names(company_a, [{**group, "op": "eq", "value": w.vip.pk}]) == {"华东车行"}
    assert names(company_a, [{**group, "op": "in", "value": [w.vip.pk, w.retail.pk]}]) == {
        "华东车行", "华南单车"}  # fmt: skip
    assert names(company_a, [{**group, "op": "empty"}]) == {"Berlin Bikes"}
    assert names(company_a, [{**group, "op": "not_empty"}]) == {"华东车行", "华南单车"}
    assert names(company_a, [{"field": "tag", "op": "in", "value": ["展会"]}]) == {"华东车行"}
    assert names(company_a, [{"field": "tag", "op": "not_in", "value": ["展会"]}]) == {
        "Berlin Bikes", "华南单车"}  # fmt: skip
    assert names(company_a, [{"field": "language", "op": "eq", "value": "en"}]) == {
        "Berlin Bikes"}  # fmt: skip
    assert names(company_a, [{"field": "name", "op": "contains", "value": "华"}]) == {
        "华东车行", "华南单车"}  # fmt: skip
    # revenue: east 12 000 in the last 30 days (the 3 000 is older); south 500 in 365 days
    revenue = {"field": "revenue", "days": 30}
    assert names(company_a, [{**revenue, "op": "gte", "value": "12000"}]) == {"华东车行"}
    assert names(company_a, [{**revenue, "op": "gt", "value": "12000"}]) == set()
    assert names(company_a, [{**revenue, "op": "lt", "value": "1"}]) == {
        "Berlin Bikes", "华南单车"}  # fmt: skip
    assert names(company_a, [{"field": "revenue", "days": 365, "op": "gte",
                              "value": "15000"}]) == {"华东车行"}  # fmt: skip
    assert names(company_a, [{"field": "revenue", "days": 365, "op": "lte",
                              "value": "500"}]) == {"Berlin Bikes", "华南单车"}  # fmt: skip
    # last order: east 10 days ago, south 100 days ago, Berlin never
    assert names(company_a, [{"field": "last_order", "op": "older_than", "value": 60}]) == {
        "Berlin Bikes", "华南单车"}  # fmt: skip
    assert names(company_a, [{"field": "last_order", "op": "within", "value": 60}]) == {
        "华东车行"}  # fmt: skip
    assert names(company_a, [{"field": "open_opportunity", "op": "is", "value": True}]) == {
        "Berlin Bikes"}  # fmt: skip
    assert names(company_a, [{"field": "open_opportunity", "op": "is", "value": "false"}]) == {
        "华东车行", "华南单车"}  # fmt: skip
    # all versus any
    both = [{"field": "country", "op": "eq", "value": "CN"},
            {"field": "tag", "op": "in", "value": ["老客户"]}]  # fmt: skip
    assert names(company_a, both) == {"华南单车"}
    assert names(company_a, both, match="any") == {"华东车行", "华南单车"}


def test_region_and_email_behaviour_rules(world, company_a):
    from xietong.party.models import Region

    region = Region.objects.filter(country_id="CN").first()
    if region is None:
        region = Region.objects.create(country_id="CN", code="ZJ", name="Zhejiang")
    with company_scope(company_a):
        address_create(party=world.east, actor=None, street="文三路 1 号", city="杭州",
                       country="CN", region=region)  # fmt: skip
    assert names(company_a, [{"field": "region", "op": "in", "value": [region.code]}]) == {
        "华东车行"}  # fmt: skip
    assert "华东车行" not in names(
        company_a, [{"field": "region", "op": "not_in", "value": [region.code]}]
    )
    target = mk.segment(company_a, [{"field": "country", "op": "eq", "value": "CN"}])
    c = mk.campaign(company_a, segment=target)
    with company_scope(company_a):
        campaigns.template_save(campaign=c, actor=None, language="zh-hans", subject="你好",
                                body="看看 https://shop.example.cn/spring")  # fmt: skip
    mk.send(c)
    east = Recipient.unscoped.get(campaign=c, party=world.east)
    assert mailing.track_open(token=mailing.token_make(east.pk, "open")) is not None
    rule = [{"field": "email_opened", "op": "eq", "value": c.pk}]
    assert names(company_a, rule) == {"华东车行"}
    assert names(company_a, [{"field": "email_clicked", "op": "any"}]) == set()
    mailing.track_click(token=mailing.token_make(east.pk, "click", 0))
    assert names(company_a, [{"field": "email_clicked", "op": "any"}]) == {"华东车行"}


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("country = CN", "Rules are a list of conditions."),
        ([{"field": "password", "op": "eq", "value": "x"}], "Condition 1: unknown field"),
        ([{"field": "country", "op": "regex", "value": ".*"}], "takes the operators"),
        ([{"field": "revenue", "op": "gte", "value": "lots"}], "is not a number"),
        ([{"field": "revenue", "op": "gte", "value": 1.5}], "give a number (as text)"),
        ([{"field": "last_order", "op": "within", "value": "2.5"}], "whole number of days"),
        ([{"field": "customer_group", "op": "eq", "value": "VIP"}], "record ids"),
        ([{"field": "country", "op": "in", "value": []}], "at least one value"),
        ([{"field": "country", "op": "eq", "value": "CN", "sql": "1=1"}], "unknown keys: sql"),
        ([{"field": "open_opportunity", "op": "is", "value": "maybe"}], "true or false"),
    ],
)
def test_a_bad_rule_is_refused_with_a_clear_message_and_nothing_is_saved(company_a, rules, message):
    with company_scope(company_a), pytest.raises(ValidationError) as caught:
        segments.segment_create(company=company_a, actor=None, name="Bad", rules=rules)
    assert message in " ".join(caught.value.message_dict["rules"])
    assert not segments.Segment.unscoped.filter(company=company_a).exists()


def test_a_second_bad_condition_is_named_by_its_position(company_a):
    rules = [{"field": "country", "op": "eq", "value": "CN"}, {"field": "x", "op": "eq"}]
    with pytest.raises(ValidationError) as caught:
        segments.rules_clean(rules)
    assert caught.value.message_dict["rules"][0].startswith("Condition 2:")


def test_static_list_members_preview_and_remove(world, company_a, company_b):
    with company_scope(company_a):
        listed = segments.segment_create(company=company_a, actor=None, name="展会名单",
                                         kind="static")  # fmt: skip
        added = segments.segment_members_add(segment=listed, actor=None,
                                             parties=[world.east.pk, world.berlin.code])  # fmt: skip
        assert added == 2
        assert segments.segment_members_add(segment=listed, actor=None,
                                            parties=[world.east]) == 0  # fmt: skip
        count, preview = segments.segment_preview(listed)
        assert count == 2 and {p.name for p in preview} == {"华东车行", "Berlin Bikes"}
        segments.segment_member_remove(segment=listed, actor=None, party=world.berlin.pk)
        assert [p.name for p in segments.segment_parties(listed)] == ["华东车行"]
    other = mk.customer(company_b, "Fremd GmbH")
    with company_scope(company_a), pytest.raises(ValidationError) as caught:
        segments.segment_members_add(segment=listed, actor=None, parties=[other.pk])
    assert "Unknown parties" in caught.value.message_dict["parties"][0]
    assert SegmentMember.unscoped.filter(segment=listed).count() == 1
    rules = mk.segment(company_a, [])
    with company_scope(company_a), pytest.raises(ValidationError):
        segments.segment_members_add(segment=rules, actor=None, parties=[world.east.pk])


# --- campaigns ----------------------------------------------------------------------------------


def test_campaign_state_machine(company_a):
    with company_scope(company_a):
        c = campaigns.campaign_create(company=company_a, actor=None, name="春季新品",
                                      budget="20000", channel="event")  # fmt: skip
        assert (c.state, c.currency_id, c.code) == ("draft", company_a.base_currency_id,
                                                    "campaign")  # fmt: skip
        with pytest.raises(CampaignError) as caught:
            campaigns.campaign_transition(campaign=c, actor=None, state="scheduled")
        assert caught.value.code == "dates"
        campaigns.campaign_update(campaign=c, actor=None, start_date="2026-03-01",
                                  end_date="2026-03-31")  # fmt: skip
        for state in ("scheduled", "draft", "scheduled", "running", "done"):
            campaigns.campaign_transition(campaign=c, actor=None, state=state)
            assert Campaign.unscoped.get(pk=c.pk).state == state
        with pytest.raises(CampaignError):
            campaigns.campaign_transition(campaign=c, actor=None, state="running")
        with pytest.raises(CampaignError):
            campaigns.campaign_update(campaign=c, actor=None, budget="1")
        campaigns.campaign_update(campaign=c, actor=None, cost="18500.50")
        assert Campaign.unscoped.get(pk=c.pk).cost == D("18500.50")
        other = campaigns.campaign_create(company=company_a, actor=None, name="春季新品")
        assert other.code == "campaign-2"
        campaigns.campaign_transition(campaign=other, actor=None, state="cancelled")
        with pytest.raises(CampaignError):
            campaigns.campaign_transition(campaign=other, actor=None, state="draft")
        with pytest.raises(ValidationError) as caught:
            campaigns.campaign_create(company=company_a, actor=None, name="", budget="-1",
                                      start_date="2026-05-01", end_date="2026-04-01",
                                      channel="fax")  # fmt: skip
        assert set(caught.value.message_dict) == {"name", "budget", "end_date", "channel"}


# --- promotions in the price engine -------------------------------------------------------------


def _quote(company, party, lines, **fields):  # type: ignore[no-untyped-def]
    with company_scope(company):
        return documents.quotation_create(company=company, actor=None, party=party,
                                          lines=lines, **fields)  # fmt: skip


def _prices(quotation):  # type: ignore[no-untyped-def]
    return [(line.product.sku, line.unit_price) for line in quotation.lines.order_by("sequence")]


def test_coupon_promotion_applies_during_the_campaign_only_and_only_with_the_coupon(
    world, company_a
):
    c = mk.campaign(company_a, name="双十一")
    with company_scope(company_a):
        campaigns.promotion_create(campaign=c, actor=None, name="九折", value="10",
                                   coupons=["spring10"])  # fmt: skip
    lines = [{"product": world.bike.pk, "quantity": "2"}]
    with_coupon = _quote(company_a, world.east, lines, coupon_code="SPRING10")
    assert _prices(with_coupon) == [("BIKE", D("900"))]
    line = with_coupon.lines.get()
    assert line.list_price == D("900") and with_coupon.coupon_code == "SPRING10"
    assert with_coupon.max_discount == 0  # a promotion is no discount that needs approval
    assert with_coupon.amount_untaxed == D("1800")
    assert _prices(_quote(company_a, world.east, lines)) == [("BIKE", D("1000"))]
    # before and after the campaign: refused with the campaign's period
    for day in (mk.today() - dt.timedelta(days=6), mk.today() + dt.timedelta(days=26)):
        with pytest.raises(SalesError) as caught:
            _quote(company_a, world.east, lines, coupon_code="spring10", date=day)
        assert "valid only during the campaign" in caught.value.message_dict["coupon_code"][0]
    with pytest.raises(SalesError) as caught:
        _quote(company_a, world.east, lines, coupon_code="NOSUCH")
    assert caught.value.message_dict["coupon_code"] == ["This coupon code is not known."]
    # a typed price stays as typed
    typed = _quote(company_a, world.east, [{"product": world.bike.pk, "unit_price": "950"}],
                   coupon_code="SPRING10")  # fmt: skip
    assert _prices(typed) == [("BIKE", D("950"))]
    # a draft or done campaign's promotion does not apply
    with company_scope(company_a):
        campaigns.campaign_transition(campaign=c, actor=None, state="done")
    with pytest.raises(SalesError):
        _quote(company_a, world.east, lines, coupon_code="SPRING10")


def test_the_order_from_a_quotation_keeps_the_coupon_and_orders_apply_it_too(world, company_a):
    c = mk.campaign(company_a)
    with company_scope(company_a):
        campaigns.promotion_create(campaign=c, actor=None, name="立减", value="30",
                                   discount_type="fixed", coupons=["LESS30"],
                                   products=["HELMET"])  # fmt: skip
    made = mk.order(company_a, world.south, world.helmet, quantity="2", confirm=False,
                    coupon_code="less30")  # fmt: skip
    line = made.lines.get()
    assert (made.coupon_code, line.unit_price, made.amount_untaxed) == ("LESS30", D("170"),
                                                                      D("340"))  # fmt: skip
    quotation = _quote(company_a, world.south, [{"product": world.helmet.pk},
                                                {"product": world.bike.pk}],
                       coupon_code="LESS30")  # fmt: skip
    assert _prices(quotation) == [("HELMET", D("170")), ("BIKE", D("1000"))]
    with company_scope(company_a):
        documents.quotation_mark_sent(quotation=quotation, actor=None)
        order = documents.quotation_accept(quotation=quotation, actor=None, confirm=False)
    assert order.coupon_code == "LESS30"
    assert [line.unit_price for line in order.lines.order_by("sequence")] == [D("170"),
                                                                              D("1000")]  # fmt: skip


def test_bundle_discount_needs_all_its_products(world, company_a):
    c = mk.campaign(company_a)
    with company_scope(company_a):
        campaigns.promotion_create(campaign=c, actor=None, name="骑行套装", kind="bundle",
                                   value="20", products=["BIKE", "HELMET"],
                                   coupons=["BUNDLE"])  # fmt: skip
        with pytest.raises(ValidationError) as caught:
            campaigns.promotion_create(campaign=c, actor=None, name="x", kind="bundle",
                                       value="120", products=["BIKE"], coupons=["BUNDLE"])  # fmt: skip
    assert set(caught.value.message_dict) == {"value", "products", "coupons"}
    together = _quote(company_a, world.east, [{"product": world.bike.pk},
                                              {"product": world.helmet.pk},
                                              {"product": world.lock.pk}],
                      coupon_code="BUNDLE")  # fmt: skip
    assert _prices(together) == [("BIKE", D("800")), ("HELMET", D("160")), ("LOCK", D("50"))]
    alone = _quote(company_a, world.east, [{"product": world.bike.pk}], coupon_code="BUNDLE")
    assert _prices(alone) == [("BIKE", D("1000"))]


def test_automatic_promotion_applies_to_the_segment_only(world, company_a):
    cn = mk.segment(company_a, [{"field": "country", "op": "eq", "value": "CN"}])
    c = mk.campaign(company_a, segment=cn)
    with company_scope(company_a):
        campaigns.promotion_create(campaign=c, actor=None, name="国内八五折", value="15")
    assert _prices(_quote(company_a, world.east, [{"product": world.lock.pk}])) == [
        ("LOCK", D("42.5"))]  # fmt: skip
    assert _prices(_quote(company_a, world.berlin, [{"product": world.lock.pk}])) == [
        ("LOCK", D("50"))]  # fmt: skip


# --- e-mail -------------------------------------------------------------------------------------


@pytest.fixture
def mailing_world(world, company_a):  # type: ignore[no-untyped-def]
    """An e-mail campaign to everybody with a Chinese and an English template and a coupon;
    Berlin's contact reads English, 华南's contact wants no marketing."""
    everybody = mk.segment(company_a, [], name="全部客户")
    c = mk.campaign(company_a, name="春季促销", segment=everybody, state="scheduled",
                    cost="600")  # fmt: skip
    with company_scope(company_a):
        campaigns.promotion_create(campaign=c, actor=None, name="九折", value="10",
                                   coupons=["CHUN10"])  # fmt: skip
        campaigns.template_save(
            campaign=c, actor=None, language="zh-hans", subject="{{ contact_name }}，春季促销",
            body="尊敬的{{ party_name }}：\n优惠码 {{ coupon }}。详情 https://shop.example.cn/spring "
                 "与 https://shop.example.cn/bikes?x=1。",
        )  # fmt: skip
        campaigns.template_save(campaign=c, actor=None, language="en",
                                subject="Spring sale for {{ party_name }}",
                                body="Use {{ coupon }} at https://shop.example.cn/spring")  # fmt: skip
        Contact.unscoped.filter(party=world.south).update(opt_out=True)
    world.campaign = c
    return world


def test_sending_job_merges_in_the_contacts_language_skips_opted_out_and_reports_progress(
    mailing_world, company_a, users_a
):
    w = mailing_world
    job = mk.send(w.campaign, users_a["marketer"])
    assert job.status == Job.Status.DONE, job.message
    assert (job.done, job.total) == (2, 2)
    assert job.result == {"sent": 2, "bounced": 0, "skipped": 0}
    assert Campaign.unscoped.get(pk=w.campaign.pk).state == "running"
    by_to = {m.to[0]: m for m in mail.outbox}
    assert set(by_to) == {"east@example.cn", "b@example.de"}
    chinese, english = by_to["east@example.cn"], by_to["b@example.de"]
    assert chinese.subject == "华东车行 buyer，春季促销"
    assert "尊敬的华东车行：" in chinese.body and "优惠码 CHUN10" in chinese.body
    assert english.subject == "Spring sale for Berlin Bikes"
    assert "Use CHUN10 at http" in english.body
    assert "https://shop.example.cn" not in chinese.body  # links go through our redirect
    assert "List-Unsubscribe" in chinese.extra_headers
    html = chinese.alternatives[0][0]
    assert "/marketing/t/o/" in html and "/marketing/unsubscribe/" in html
    rows = {r.email: r for r in Recipient.unscoped.filter(campaign=w.campaign)}
    assert rows["south@example.cn"].status == "skipped"
    assert rows["east@example.cn"].status == "sent"
    assert rows["east@example.cn"].links == ["https://shop.example.cn/spring",
                                             "https://shop.example.cn/bikes?x=1"]  # fmt: skip
    # sending again finds nobody new
    with company_scope(company_a), pytest.raises(CampaignError) as caught:
        mailing.email_campaign_send(campaign=w.campaign, actor=None)
    assert caught.value.code == "empty"


def test_language_falls_back_to_the_campaign_language(mailing_world, company_a):
    w = mailing_world
    Contact.unscoped.filter(party=w.berlin).update(language="zh-hant")
    mk.send(w.campaign)
    to_berlin = next(m for m in mail.outbox if m.to == ["b@example.de"])
    assert to_berlin.subject == "Berlin Bikes buyer，春季促销"


def test_sending_is_refused_without_template_segment_or_schedule(world, company_a):
    c = mk.campaign(company_a, state="draft")
    with company_scope(company_a):
        with pytest.raises(CampaignError):
            mailing.email_campaign_send(campaign=c, actor=None)
        campaigns.campaign_transition(campaign=c, actor=None, state="running")
        with pytest.raises(CampaignError) as caught:
            mailing.email_campaign_send(campaign=c, actor=None)
        assert caught.value.code == "segment"
        campaigns.campaign_update(campaign=c, actor=None, segment=mk.segment(company_a, []))
        with pytest.raises(CampaignError) as caught:
            mailing.email_campaign_send(campaign=c, actor=None)
        assert caught.value.code == "template"
        with pytest.raises(ValidationError) as bad:
            campaigns.template_save(campaign=c, actor=None, language="en", subject="Hi {{ x }}",
                                    body="{{ __class__ }}")  # fmt: skip
        assert set(bad.value.message_dict) == {"subject", "body"}
    assert not Recipient.unscoped.filter(campaign=c).exists()


def test_a_refused_message_is_a_bounce(mailing_world, company_a, monkeypatch):
    from django.core.mail import EmailMultiAlternatives

    def refuse(self, fail_silently=False):  # type: ignore[no-untyped-def]
        if self.to == ["b@example.de"]:
            raise OSError("550 mailbox unavailable")
        return 1

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)
    job = mk.send(mailing_world.campaign)
    assert job.result == {"sent": 1, "bounced": 1, "skipped": 0}
    bounced = Recipient.unscoped.get(campaign=mailing_world.campaign, email="b@example.de")
    assert bounced.status == "bounced" and "550" in bounced.error


# --- tracking -----------------------------------------------------------------------------------


def test_open_click_and_unsubscribe_endpoints(mailing_world, company_a):
    w = mailing_world
    mk.send(w.campaign)
    east = Recipient.unscoped.get(campaign=w.campaign, email="east@example.cn")
    client = Client()
    pixel = client.get(reverse("crm:marketing_open", args=[mailing.token_make(east.pk, "open")]))
    assert pixel.status_code == 200 and pixel["Content-Type"] == "image/gif"
    east.refresh_from_db()
    assert east.status == "opened" and east.opened_at is not None
    click = client.get(reverse("crm:marketing_click",
                               args=[mailing.token_make(east.pk, "click", 1)]))  # fmt: skip
    assert click.status_code == 302 and click["Location"] == "https://shop.example.cn/bikes?x=1"
    east.refresh_from_db()
    assert east.status == "clicked"
    assert list(EmailClick.unscoped.filter(recipient=east).values_list("url", flat=True)) == [
        "https://shop.example.cn/bikes?x=1"]  # fmt: skip
    # opening again does not move a clicked recipient back
    client.get(reverse("crm:marketing_open", args=[mailing.token_make(east.pk, "open")]))
    east.refresh_from_db()
    assert east.status == "clicked"
    # the link in the sent e-mail itself works
    body = next(m for m in mail.outbox if m.to == ["east@example.cn"]).body
    first_link = next(word for word in body.split() if "/marketing/t/c/" in word)
    path = first_link[first_link.index("/crm/") :]
    assert client.get(path)["Location"] == "https://shop.example.cn/spring"


@pytest.mark.parametrize("use", ["open", "click", "unsubscribe"])
def test_bad_and_forged_tokens_are_not_found_and_change_nothing(mailing_world, use):
    w = mailing_world
    mk.send(w.campaign)
    east = Recipient.unscoped.get(campaign=w.campaign, email="east@example.cn")
    name = {"open": "crm:marketing_open", "click": "crm:marketing_click",
            "unsubscribe": "crm:marketing_unsubscribe"}[use]  # fmt: skip
    wrong_use = "click" if use != "click" else "open"
    forged = [
        "nonsense",
        mailing.token_make(east.pk, use, 0)[:-3] + "abc",  # tampered signature
        mailing.token_make(east.pk, wrong_use, 0),  # another use's token
        mailing.token_make(east.pk + 999, use, 0),  # no such recipient
    ]
    if use == "click":
        forged.append(mailing.token_make(east.pk, "click", 7))  # no such link in the e-mail
        forged.append(mailing.token_make(east.pk, "click", None))
    client = Client()
    for token in forged:
        assert client.get(reverse(name, args=[token])).status_code == 404, token
        assert client.post(reverse(name, args=[token])).status_code in (404, 405), token
    east.refresh_from_db()
    assert (east.status, east.opened_at, east.clicked_at) == ("sent", None, None)
    assert not EmailClick.unscoped.exists()
    assert not Contact.unscoped.filter(email="east@example.cn", opt_out=True).exists()


def test_unsubscribe_marks_the_contact_and_later_sendings_skip_it(mailing_world, company_a):
    w = mailing_world
    mk.send(w.campaign)
    east = Recipient.unscoped.get(campaign=w.campaign, email="east@example.cn")
    token = mailing.token_make(east.pk, "unsubscribe")
    client = Client()
    page = client.get(reverse("crm:marketing_unsubscribe", args=[token]))
    assert page.status_code == 200 and 'id="confirm-unsubscribe"' in page.content.decode()
    assert not mk.contact_of(w.east).opt_out  # looking changes nothing
    done = client.post(reverse("crm:marketing_unsubscribe", args=[token]))
    assert done.status_code == 200 and 'id="unsubscribed"' in done.content.decode()
    assert mk.contact_of(w.east).opt_out
    east.refresh_from_db()
    assert east.status == "unsubscribed" and east.unsubscribed_at is not None
    # the next campaign to the same customers skips the contact
    mail.outbox.clear()
    again = mk.campaign(company_a, segment=w.campaign.segment, state="running")
    with company_scope(company_a):
        campaigns.template_save(campaign=again, actor=None, language="zh-hans", subject="再会",
                                body="再见")  # fmt: skip
    mk.send(again)
    assert [m.to for m in mail.outbox] == [["b@example.de"]]
    assert Recipient.unscoped.get(campaign=again, email="east@example.cn").status == "skipped"


# --- attribution --------------------------------------------------------------------------------


def _at(obj, model, when):  # type: ignore[no-untyped-def]
    model.unscoped.filter(pk=obj.pk).update(created_at=when)


def test_first_and_last_touch_revenue_cost_per_lead_and_roi(world, company_a):
    """Two campaigns touch 华东: A (an e-mail click 20 days ago), B (a lead 5 days ago). An
    order of 2 000 today is A's by first touch and B's by last touch; an order of 800 with B's
    coupon is B's both ways. 华南 touched only by A (a lead 3 days ago) orders 500 today: A's
    both ways. A cost 1 000 and has 1 lead; B cost 1 400 and has 2 leads."""
    from django.utils import timezone

    from xietong.sales.models import SalesOrder

    now = timezone.now()
    target = mk.segment(company_a, [{"field": "name", "op": "contains", "value": "华东"}])
    a = mk.campaign(company_a, name="A", segment=target, cost="1000")
    b = mk.campaign(company_a, name="B", cost="1400")
    with company_scope(company_a):
        campaigns.template_save(campaign=a, actor=None, language="zh-hans", subject="A",
                                body="https://a.example.cn/")  # fmt: skip
        campaigns.promotion_create(campaign=b, actor=None, name="B coupon", value="20",
                                   coupons=["BCODE"])  # fmt: skip
    mk.send(a)
    click = Recipient.unscoped.get(campaign=a, party=world.east)
    mailing.track_click(token=mailing.token_make(click.pk, "click", 0))
    Recipient.unscoped.filter(pk=click.pk).update(clicked_at=now - dt.timedelta(days=20))
    with company_scope(company_a):
        lead_b = services.lead_create(company=company_a, actor=None, name="王经理",
                                      company_name="华东车行", campaign=b.code)  # fmt: skip
        lead_b2 = services.lead_create(company=company_a, actor=None, name="陌生人",
                                       email="x@example.cn", campaign="B")  # fmt: skip
        lead_a = services.lead_create(company=company_a, actor=None, name="李先生",
                                      company_name="华南单车", campaign="")  # fmt: skip
        campaigns.lead_campaign_set(lead=lead_a, actor=None, campaign=a)
    assert (lead_b.marketing_campaign_id, lead_b2.marketing_campaign_id) == (b.pk, b.pk)
    Lead.unscoped.filter(pk=lead_b.pk).update(party=world.east,
                                              created_at=now - dt.timedelta(days=5))  # fmt: skip
    Lead.unscoped.filter(pk=lead_a.pk).update(party=world.south,
                                              created_at=now - dt.timedelta(days=3))  # fmt: skip
    # the world's orders were entered when they were dated
    east_orders = SalesOrder.unscoped.filter(party=world.east)
    old = east_orders.get(amount_untaxed=D("12000"))
    _at(old, SalesOrder, now - dt.timedelta(days=10))
    _at(east_orders.get(amount_untaxed=D("3000")), SalesOrder, now - dt.timedelta(days=200))
    _at(SalesOrder.unscoped.get(party=world.south), SalesOrder, now - dt.timedelta(days=100))
    o1 = mk.order(company_a, world.east, world.bike, quantity="2")  # 2 000
    o2 = mk.order(company_a, world.east, world.lock, quantity="20", coupon_code="BCODE")  # 800
    o3 = mk.order(company_a, world.south, world.lock, quantity="10")  # 500
    mk.order(company_a, world.south, world.lock, quantity="1", confirm=False)  # a draft: no
    assert o2.amount_untaxed == D("800")
    with company_scope(company_a):
        ra = attribution.campaign_results(Campaign.unscoped.get(pk=a.pk))
        rb = attribution.campaign_results(Campaign.unscoped.get(pk=b.pk))
    # 12 000 (10 days ago): only A's click before it; the 3 000 and 华南's 500 of 100 days
    # ago: no touch before them; o1: A's click first, B's lead last; o2: the same, B's coupon
    # last; o3: A's lead only
    assert {o.pk for o in ra.first_touch_orders} == {old.pk, o1.pk, o2.pk, o3.pk}
    assert {o.pk for o in ra.last_touch_orders} == {old.pk, o3.pk}
    assert (ra.first_touch_revenue, ra.last_touch_revenue) == (D("15300"), D("12500"))
    assert rb.first_touch_orders == []
    assert {o.pk for o in rb.last_touch_orders} == {o1.pk, o2.pk}
    assert (rb.first_touch_revenue, rb.last_touch_revenue) == (D("0"), D("2800"))
    assert (ra.leads, rb.leads) == (1, 2)
    assert (ra.cost_per_lead, rb.cost_per_lead) == (D("1000.00"), D("700.00"))
    # ROI = (last-touch revenue − cost) / cost × 100
    assert ra.roi_percent == D("1150.00")  # (12 500 − 1 000) / 1 000
    assert rb.roi_percent == D("100.00")  # (2 800 − 1 400) / 1 400
    assert (ra.recipients, ra.sent, ra.clicked, ra.opened, ra.responses) == (1, 1, 1, 1, 2)


# --- company isolation --------------------------------------------------------------------------


def test_another_companys_coupons_segments_and_campaigns_are_out_of_reach(
    world, company_a, company_b
):
    theirs = mk.campaign(company_b, name="B 公司促销")
    with company_scope(company_b):
        campaigns.promotion_create(campaign=theirs, actor=None, name="B", value="50",
                                   coupons=["BONLY"])  # fmt: skip
    mk.customer(company_b, "B 公司客户", country="CN")
    with pytest.raises(SalesError) as caught:
        _quote(company_a, world.east, [{"product": world.bike.pk}], coupon_code="BONLY")
    assert caught.value.message_dict["coupon_code"] == ["This coupon code is not known."]
    assert "B 公司客户" not in names(company_a, [{"field": "country", "op": "eq", "value": "CN"}])
    with company_scope(company_a):
        assert not Campaign.objects.filter(pk=theirs.pk).exists()
        with pytest.raises(ValidationError):
            campaigns.campaign_create(company=company_a, actor=None, name="x",
                                      segment=mk.segment(company_b, []).pk)  # fmt: skip
        lead = services.lead_create(company=company_a, actor=None, name="Li", email="l@x.cn",
                                    campaign=theirs.code)  # fmt: skip
        assert lead.marketing_campaign_id is None
        with pytest.raises(ValidationError):
            campaigns.lead_campaign_set(lead=lead, actor=None, campaign=theirs)
    assert Lead.unscoped.get(pk=lead.pk).marketing_campaign_id is None
