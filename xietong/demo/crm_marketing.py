"""Demo step for CRM marketing, run by the marketer of the main company after the CRM step:

- segments: China's customers with a year's revenue of 10 000 or more (rules), customers
  asleep for 180 days (rules), customers with an open opportunity (rules), and the spring
  expo's visitor list (static);
- campaigns: the spring expo (an event, done, its cost booked, the leads the CRM step made
  with its name attributed), the e-bike spring e-mail (running: sent to its segment through
  the sending job, with opens, clicks and an unsubscribe, a coupon EBIKE2026 at 8 % off, a
  lead from a clicking customer qualified and an order placed with the coupon), the WeChat
  campaign (running, a bundle promotion RIDEKIT) and the dealer conference (scheduled);

all through the services; deterministic (ctx.rng, rows in code order)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone, translation

from xietong.core.jobs import job_run
from xietong.core.tenancy import company_scope
from xietong.crm import campaigns, mailing, segments, services
from xietong.crm.campaigns import CampaignError
from xietong.crm.models import Lead, Recipient, SalesTeam
from xietong.demo.context import DemoContext
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.sales import documents
from xietong.sales.common import SalesError

D = Decimal
EMAIL_ZH = (
    "{{ contact_name }}，您好！\n\n"
    "{{ party_name }} 的春季采购季到了。{{ campaign }} 期间，凭优惠码 {{ coupon }} 订购电助力车"
    "享 92 折。\n新品目录：https://www.huadong-bikes.example/catalog/e-city\n"
    "预约试骑：https://www.huadong-bikes.example/test-ride\n\n华东车业 市场部"
)
EMAIL_EN = (
    "Dear {{ contact_name }},\n\nSpring buying season is here for {{ party_name }}: during "
    "{{ campaign }}, order e-bikes with the code {{ coupon }} and save 8 %.\n"
    "Catalogue: https://www.huadong-bikes.example/catalog/e-city\n\nHuadong Bikes marketing"
)


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    marketer = ctx.users["marketer"]
    rep = ctx.users["sales_rep"]
    rng = ctx.rng
    today = timezone.localdate()
    with company_scope(company), translation.override("zh-hans"):
        big = segments.segment_create(
            company=company, actor=marketer, name="华东重点客户（年采购 ≥ 1 万）", match="all",
            rules=[{"field": "country", "op": "eq", "value": "CN"},
                   {"field": "revenue", "op": "gte", "value": "10000", "days": 365}],
            description="中国客户，近 365 天已确认订单金额不低于 10 000 元。",
        )  # fmt: skip
        segments.segment_create(company=company, actor=marketer, name="沉睡客户（180 天未下单）",
                                rules=[{"field": "last_order", "op": "older_than",
                                        "value": 180}])  # fmt: skip
        segments.segment_create(company=company, actor=marketer, name="有在谈商机的客户",
                                rules=[{"field": "open_opportunity", "op": "is",
                                        "value": True}])  # fmt: skip
        customers = list(Party.unscoped.filter(
            company=company, is_customer=True, active=True, merged_into__isnull=True,
            currency_id=company.base_currency_id).order_by("code"))  # fmt: skip
        china = segments.segment_create(
            company=company, actor=marketer, name="中国客户",
            rules=[{"field": "country", "op": "eq", "value": "CN"}],
        )  # fmt: skip
        visitors = segments.segment_create(company=company, actor=marketer,
                                           name="2026 春季车展名单", kind="static")  # fmt: skip
        if customers:
            segments.segment_members_add(
                segment=visitors, actor=marketer,
                parties=rng.sample(customers, k=min(8, len(customers))),
            )  # fmt: skip

        expo = campaigns.campaign_create(
            company=company, actor=marketer, name="2026 春季车展", code="spring-expo-2026",
            channel="event", segment=visitors, budget="60000",
            start_date=today - dt.timedelta(days=60), end_date=today - dt.timedelta(days=57),
            description="上海新国际博览中心 W3 馆，展位 W3-B12。",
        )  # fmt: skip
        campaigns.campaign_transition(campaign=expo, actor=marketer, state="running")
        campaigns.campaign_transition(campaign=expo, actor=marketer, state="done")
        campaigns.campaign_update(campaign=expo, actor=marketer, cost="54800")
        linked = 0
        for lead in Lead.unscoped.filter(company=company, campaign__in=["2026 春季车展",
                                                                         "微信公众号"]
                                         ).order_by("pk"):  # fmt: skip
            if lead.campaign == "2026 春季车展":
                campaigns.lead_campaign_set(lead=lead, actor=marketer, campaign=expo)
                linked += 1

        spring = campaigns.campaign_create(
            company=company, actor=marketer, name="电助力车春季促销", code="ebike-spring-2026",
            channel="email", segment=china, budget="8000", cost="3500", holdout_percent=10,
            start_date=today - dt.timedelta(days=14), end_date=today + dt.timedelta(days=16),
        )  # fmt: skip
        products = list(Product.unscoped.filter(
            company=company, active=True, type=Product.Type.STOCKABLE, list_price__gt=0,
            is_configurable=False).order_by("-list_price", "sku")[:4])  # fmt: skip
        campaigns.promotion_create(campaign=spring, actor=marketer, name="电助力车 92 折",
                                   value="8", coupons=["EBIKE2026"],
                                   products=products[:2])  # fmt: skip
        campaigns.template_save(campaign=spring, actor=marketer, language="zh-hans",
                                subject="{{ contact_name }}，春季电助力车 92 折",
                                body=EMAIL_ZH)  # fmt: skip
        campaigns.template_save(campaign=spring, actor=marketer, language="en",
                                subject="Spring e-bike offer for {{ party_name }}",
                                body=EMAIL_EN)  # fmt: skip
        campaigns.campaign_transition(campaign=spring, actor=marketer, state="scheduled")
        sent = clicked_parties = 0
        try:
            job = mailing.email_campaign_send(campaign=spring, actor=marketer)
        except CampaignError:
            job = None
        if job is not None:
            job_run(job_id=job.pk)
            recipients = list(Recipient.unscoped.filter(campaign=spring, status="sent")
                              .order_by("pk"))  # fmt: skip
            sent = len(recipients)
            clickers = []
            for n, recipient in enumerate(recipients):
                roll = rng.random()
                if roll < 0.6:
                    mailing.track_open(token=mailing.token_make(recipient.pk, "open"))
                if roll < 0.3 and recipient.links:
                    link = rng.randrange(len(recipient.links))
                    mailing.track_click(token=mailing.token_make(recipient.pk, "click", link))
                    clickers.append(recipient)
                if n == len(recipients) - 1 and roll >= 0.3:
                    mailing.unsubscribe(token=mailing.token_make(recipient.pk, "unsubscribe"))
            clicked_parties = len(clickers)
            team = SalesTeam.unscoped.filter(company=company).order_by("pk").first()
            for recipient in clickers[:2]:
                lead = services.lead_create(
                    company=company, actor=rep, name=recipient.contact.name
                    if recipient.contact else recipient.party.name,
                    company_name=recipient.party.name, email=recipient.email,
                    source=Lead.Source.EMAIL, campaign=spring.code, team=team,
                )  # fmt: skip
                if team is not None:
                    services.lead_qualify(lead=lead, actor=rep, party=recipient.party, team=team,
                                          expected_revenue="30000")  # fmt: skip
            if clickers and products:
                buyer = clickers[0].party
                try:
                    order = documents.order_create(
                        company=company, actor=rep, party=buyer, coupon_code="EBIKE2026",
                        lines=[{"product": products[0], "quantity": D(5)}],
                    )  # fmt: skip
                    documents.order_confirm(order=order, actor=rep)
                except SalesError:  # a customer the demo cannot sell to (credit): no order
                    pass

        wechat = campaigns.campaign_create(
            company=company, actor=marketer, name="微信公众号", code="wechat-2026",
            channel="social", budget="12000", cost="4200",
            start_date=today - dt.timedelta(days=30), end_date=today + dt.timedelta(days=30),
        )  # fmt: skip
        campaigns.campaign_transition(campaign=wechat, actor=marketer, state="running")
        if len(products) >= 3:
            campaigns.promotion_create(campaign=wechat, actor=marketer, name="骑行套装立减",
                                       kind="bundle", value="10",
                                       products=products[1:3], coupons=["RIDEKIT"])  # fmt: skip
        for lead in Lead.unscoped.filter(company=company, campaign="微信公众号").order_by("pk"):
            campaigns.lead_campaign_set(lead=lead, actor=marketer, campaign=wechat)
            linked += 1

        dealers = campaigns.campaign_create(
            company=company, actor=marketer, name="电助力车经销商大会", code="dealer-summit-2026",
            channel="event", segment=big, budget="150000",
            start_date=today + dt.timedelta(days=45), end_date=today + dt.timedelta(days=46),
        )  # fmt: skip
        campaigns.campaign_transition(campaign=dealers, actor=marketer, state="scheduled")
    ctx.log.append(
        f"CRM marketing: 5 segments, 4 campaigns, {sent} e-mails sent, {clicked_parties} "
        f"clicked, {linked} leads attributed"
    )
