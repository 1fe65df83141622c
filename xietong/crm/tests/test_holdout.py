"""Control groups of e-mail campaigns: the holdout share is validated (0–50), a deterministic
hash of campaign and party picks the same control customers on every run, the control group
gets no e-mail and is shown on the campaign page, and `campaign_exposures` reports treated and
control customers with their responses in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.crm import campaign_selectors, campaigns, mailing, services
from xietong.crm.models import Campaign, Recipient
from xietong.crm.tests import marketing_factories as mk
from xietong.sales.tests.factories import item, shop

pytestmark = pytest.mark.django_db


def test_control_split_is_deterministic_and_near_its_share():
    parties = range(1, 4001)
    first = [p for p in parties if mailing.in_control(7, p, 10)]
    again = [p for p in parties if mailing.in_control(7, p, 10)]
    assert first == again
    assert 300 <= len(first) <= 500  # about 10 % of 4 000
    other = {p for p in parties if mailing.in_control(8, p, 10)}
    assert other != set(first)  # each campaign holds out its own customers
    assert not any(mailing.in_control(7, p, 0) for p in parties)
    wider = {p for p in parties if mailing.in_control(7, p, 30)}
    assert set(first) <= wider  # a larger share keeps the smaller one's control customers


@pytest.mark.parametrize("value", [51, -1, "abc", 2.5, True, "100"])
def test_holdout_outside_0_to_50_is_refused(company_a, value):  # type: ignore[no-untyped-def]
    with company_scope(company_a), pytest.raises(ValidationError) as caught:
        campaigns.campaign_create(company=company_a, actor=None, name="坏对照组",
                                  holdout_percent=value)  # fmt: skip
    assert "holdout_percent" in caught.value.message_dict
    assert not Campaign.unscoped.filter(name="坏对照组").exists()


def test_holdout_is_set_and_changed_within_bounds(company_a):  # type: ignore[no-untyped-def]
    c = mk.campaign(company_a, name="对照组", state="draft", holdout_percent="50")
    assert Campaign.unscoped.get(pk=c.pk).holdout_percent == 50
    with company_scope(company_a):
        with pytest.raises(ValidationError) as caught:
            campaigns.campaign_update(campaign=c, actor=None, holdout_percent=60, cost="5")
        assert set(caught.value.message_dict) == {"holdout_percent"}
        row = Campaign.unscoped.get(pk=c.pk)
        assert (row.holdout_percent, row.cost) == (50, 0)  # nothing changed
        campaigns.campaign_update(campaign=c, actor=None, holdout_percent=0)
    assert Campaign.unscoped.get(pk=c.pk).holdout_percent == 0


@pytest.fixture
def crowd(company_a):  # type: ignore[no-untyped-def]
    """40 customers with e-mails, an e-mail campaign to all of them holding out 25 %."""
    shop(company_a)
    parties = [mk.customer(company_a, f"客户{n:02d}", email=f"c{n}@example.cn", country="CN")
               for n in range(40)]  # fmt: skip
    everybody = mk.segment(company_a, [], name="全部")
    c = mk.campaign(company_a, name="夏季促销", segment=everybody, state="scheduled",
                    holdout_percent=25)  # fmt: skip
    with company_scope(company_a):
        campaigns.template_save(campaign=c, actor=None, language="zh-hans", subject="夏季促销",
                                body="看看 https://shop.example.cn/summer")  # fmt: skip
    return c, parties


def test_control_group_is_not_sent_and_stays_held_out(crowd, company_a, users_a, client_for):
    c, parties = crowd
    expected = {p.pk for p in parties if mailing.in_control(c.pk, p.pk, 25)}
    assert 0 < len(expected) < 40  # the hash splits these 40 customers
    job = mk.send(c)
    rows = list(Recipient.unscoped.filter(campaign=c))
    control = {r.party_id for r in rows if r.status == "control"}
    assert control == expected
    assert all(r.sent_at is None for r in rows if r.status == "control")
    assert {r.party_id for r in rows if r.status == "sent"} == {p.pk for p in parties} - expected
    sent_to = {m.to[0] for m in mail.outbox}
    assert len(sent_to) == 40 - len(expected) == job.result["sent"]
    assert not sent_to & {r.email for r in rows if r.status == "control"}
    counts = mailing.delivery_counts(c)
    assert (counts["control"], counts["total"]) == (len(expected), 40 - len(expected))
    # a control recipient's open pixel changes nothing
    held = next(r for r in rows if r.status == "control")
    assert mailing.track_open(token=mailing.token_make(held.pk, "open")) is None
    # a new customer later: the earlier ones keep their group, nobody is re-sent
    late = mk.customer(company_a, "新客户", email="late@example.cn", country="CN")
    mail.outbox.clear()
    if mailing.in_control(c.pk, late.pk, 25):
        with company_scope(company_a), pytest.raises(campaigns.CampaignError):
            mailing.email_campaign_send(campaign=c, actor=None)
    else:
        mk.send(c)
        assert [m.to[0] for m in mail.outbox] == ["late@example.cn"]
    assert {r.party_id for r in Recipient.unscoped.filter(campaign=c, status="control")
            } >= expected  # fmt: skip
    page = client_for(users_a["marketer"]).get(reverse("crm:campaign_detail", args=[c.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and 'id="control-count"' in html
    assert f"{len(expected)} customers held out" in html or f"{len(expected)} 个客户" in html


def test_campaign_form_takes_and_refuses_the_holdout(company_a, users_a, client_for):
    client = client_for(users_a["marketer"])
    data = {"name": "邮件测试", "channel": "email", "currency": "CNY", "language": "zh-hans",
            "start_date": "2026-04-01", "end_date": "2026-05-01"}  # fmt: skip
    bad = client.post(reverse("crm:campaign_create"), {**data, "holdout_percent": "60"})
    assert bad.status_code == 200 and not Campaign.unscoped.filter(name="邮件测试").exists()
    ok = client.post(reverse("crm:campaign_create"), {**data, "holdout_percent": "15"})
    assert ok.status_code == 302
    made = Campaign.unscoped.get(name="邮件测试")
    assert made.holdout_percent == 15
    edit = client.get(reverse("crm:campaign_edit", args=[made.pk])).content.decode()
    assert 'name="holdout_percent"' in edit and 'value="15"' in edit


def test_exposures_hold_treated_control_and_responses_in_fixed_queries(
    crowd, company_a, django_assert_num_queries
):
    c, parties = crowd
    mk.send(c)
    rows = {r.party_id: r for r in Recipient.unscoped.filter(campaign=c)}
    sent = [p for p in parties if rows[p.pk].status == "sent"]
    held = [p for p in parties if rows[p.pk].status == "control"]
    mailing.track_open(token=mailing.token_make(rows[sent[0].pk].pk, "open"))
    mailing.track_click(token=mailing.token_make(rows[sent[1].pk].pk, "click", 0))
    # an event campaign: a lead of a customer, and a coupon order of another
    event = mk.campaign(company_a, name="车展", channel="event")
    with company_scope(company_a):
        promo = campaigns.promotion_create(campaign=event, actor=None, name="展会价", value="5",
                                           coupons=["EXPO26"])  # fmt: skip
        lead = services.lead_create(company=company_a, actor=None, name="访客",
                                    company_name=parties[2].name)  # fmt: skip
        campaigns.lead_campaign_set(lead=lead, actor=None, campaign=event)
    type(lead).unscoped.filter(pk=lead.pk).update(party=parties[2])
    bike = item(company_a, "100", sku="EXPOBIKE")
    mk.order(company_a, parties[3], bike, coupon_code="EXPO26")
    assert promo.pk
    with django_assert_num_queries(4):
        found = campaign_selectors.campaign_exposures(company_a.pk)
    mine = {e.party_id: e for e in found if e.campaign_id == c.pk}
    assert {p for p, e in mine.items() if e.group == "control"} == {p.pk for p in held}
    assert {p for p, e in mine.items() if e.group == "treated"} == {p.pk for p in sent}
    assert mine[sent[0].pk].opened and mine[sent[0].pk].responded
    assert mine[sent[1].pk].clicked and mine[sent[1].pk].responded
    assert not mine[sent[2].pk].responded
    assert all(not mine[p.pk].responded for p in held)
    assert all(e.exposed_at is not None for e in found)
    expo = {e.party_id: e for e in found if e.campaign_id == event.pk}
    assert set(expo) == {parties[2].pk, parties[3].pk}
    assert expo[parties[2].pk].lead and expo[parties[2].pk].group == "treated"
    assert expo[parties[3].pk].coupon_orders == 1 and expo[parties[3].pk].responded
    assert expo[parties[3].pk].channel == "event" and expo[parties[3].pk].campaign == "车展"
    # `since` drops what was before it
    assert campaign_selectors.campaign_exposures(company_a.pk,
                                                 since=mk.today().replace(year=2100)) == []  # fmt: skip
    assert all(e.campaign_id in (c.pk, event.pk) for e in found)


def test_results_count_only_the_treated_and_the_api_carries_the_holdout(crowd, company_a, users_a):  # type: ignore[no-untyped-def]
    import json

    from xietong.core.services import api_token_create
    from xietong.crm import attribution

    c, parties = crowd
    mk.send(c)
    held = Recipient.unscoped.filter(campaign=c, status="control").count()
    with company_scope(company_a):
        assert attribution.campaign_results(c).recipients == len(parties) - held
    _token, raw = api_token_create(user=users_a["marketer"], company=company_a, name="holdout")
    api = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "content_type": "application/json"}
    from django.test import Client

    client = Client()
    made = client.post("/api/v1/crm/marketing/campaigns",
                       data=json.dumps({"name": "对照组测试", "holdout_percent": 20}), **api)  # fmt: skip
    assert made.status_code == 201, made.content
    assert made.json()["holdout_percent"] == 20
    bad = client.post("/api/v1/crm/marketing/campaigns",
                      data=json.dumps({"name": "坏的对照组", "holdout_percent": 80}), **api)  # fmt: skip
    assert bad.status_code in (400, 422) and "holdout_percent" in bad.content.decode()
    assert not Campaign.unscoped.filter(name="坏的对照组").exists()
