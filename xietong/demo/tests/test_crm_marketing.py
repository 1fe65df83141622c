"""The demo's CRM marketing step: segments, four campaigns in their states, an e-mail campaign
sent with tracking rows, a coupon promotion used on an order, leads attributed."""

from __future__ import annotations

import pytest

from xietong.crm.attribution import campaign_results
from xietong.crm.models import Campaign, Coupon, Lead, Recipient, Segment
from xietong.crm.segments import segment_parties
from xietong.demo import crm_marketing
from xietong.demo.context import DemoContext
from xietong.demo.steps import STEPS
from xietong.sales.models import SalesOrder

pytestmark = pytest.mark.django_db


def test_marketing_step_fills_segments_campaigns_and_tracking() -> None:
    ctx = DemoContext(seed=1, size="small")
    for step in STEPS[: STEPS.index(crm_marketing.run) + 1]:
        step(ctx)
    company = ctx.companies["main"]
    assert Segment.unscoped.filter(company=company).count() == 5
    visitors = Segment.unscoped.get(company=company, kind="static")
    assert segment_parties(visitors).count() == 8
    china = Segment.unscoped.get(company=company, name="中国客户")
    assert segment_parties(china).exists()
    states = dict(Campaign.unscoped.filter(company=company).values_list("code", "state"))
    assert states == {"spring-expo-2026": "done", "ebike-spring-2026": "running",
                      "wechat-2026": "running", "dealer-summit-2026": "scheduled"}  # fmt: skip
    spring = Campaign.unscoped.get(company=company, code="ebike-spring-2026")
    recipients = Recipient.unscoped.filter(campaign=spring)
    assert recipients.filter(sent_at__isnull=False).count() >= 3
    assert recipients.filter(opened_at__isnull=False).exists()
    assert recipients.filter(clicked_at__isnull=False).exists()
    assert Coupon.unscoped.filter(company=company, code="EBIKE2026").exists()
    order = SalesOrder.unscoped.get(company=company, coupon_code="EBIKE2026")
    assert order.state in ("confirmed", "held")
    assert Lead.unscoped.filter(company=company, marketing_campaign=spring).count() >= 1
    expo = Campaign.unscoped.get(company=company, code="spring-expo-2026")
    assert Lead.unscoped.filter(company=company, marketing_campaign=expo).exists()
    results = campaign_results(spring)
    assert results.leads >= 1 and results.clicked >= 1
    assert any(line.startswith("CRM marketing:") for line in ctx.log)
