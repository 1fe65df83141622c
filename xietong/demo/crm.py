"""Demo step for the sales pipeline: two sales teams of the main company (key accounts, led by
the sales manager and assigned least-loaded; the dealer channel, round robin) with the default
stages, the lost reasons, leads from every source (some qualified into customers and
opportunities, some disqualified, most new), and opportunities of the existing customers spread
over the stages, with calls, meetings, e-mails and tasks, some won and some lost — so the
board, the lists, the forecast and the customers' timelines all show data.

Every fifth opportunity has a quotation made from it (linked back); the won ones among them
were won by the customer accepting it (a confirmed order). Sales targets for the current
quarter, per team and salesperson. Runs after the party and
core steps (customers, the sales rep and manager and the extra reps).
Through the services; deterministic (ctx.rng, rows in code order)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from xietong.core.models import Membership
from xietong.core.tenancy import company_scope
from xietong.crm import services
from xietong.crm.models import Lead, Opportunity, PipelineStage
from xietong.demo.context import DemoContext
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.sales import documents

SIZES = {"small": (40, 60), "medium": (120, 200), "large": (400, 800)}  # leads, opportunities
LOST_REASONS = ["价格太高", "选择了竞争对手", "预算取消", "交期太长", "需求不明确"]
CAMPAIGNS = ["2026 春季车展", "电助力车经销商大会", "官网询价", "微信公众号", ""]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "军", "婷", "强", "霞", "平"]
CITIES = ["杭州", "苏州", "南京", "宁波", "无锡", "合肥", "温州", "常州", "嘉兴", "绍兴"]
TRADES = ["骑行", "车业", "运动用品", "自行车", "户外", "电动车", "车行", "出行科技"]
DEALS = ["电助力车 E-City 批量采购", "山地车年度框架", "城市通勤车队", "共享单车替换", "门店首批铺货",
         "员工福利自行车", "配件年度协议", "展厅样车"]  # fmt: skip
SUBJECTS = {
    "call": ["首次电话沟通", "确认采购数量", "跟进报价"],
    "meeting": ["拜访客户门店", "工厂参观", "试骑活动"],
    "email": ["发送产品目录", "发送报价单", "确认交期"],
    "task": ["准备方案", "申请特价", "整理需求清单"],
}
D = Decimal


def _person(rng) -> str:  # type: ignore[no-untyped-def]
    return (
        rng.choice(SURNAMES) + rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.5 else "")
    )


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    rng = ctx.rng
    rep, manager = ctx.users["sales_rep"], ctx.users["sales_manager"]
    leads_n, opportunities_n = SIZES[ctx.size]
    today = timezone.localdate()
    # the stage names and timeline entries the services write read in the company's Chinese
    with company_scope(company), translation.override("zh-hans"):
        reps = [m.user for m in Membership.unscoped.filter(
            company=company, is_active=True, roles__code="sales_rep").select_related("user")
            .order_by("user_id")]  # fmt: skip
        others = [u for u in reps if u != rep]
        key_accounts = services.team_create(
            company=company, actor=manager, name="华东大客户", manager=manager,
            members=[rep, *others[::2]], assignment="least_loaded",
        )  # fmt: skip
        dealers = services.team_create(
            company=company, actor=manager, name="经销商渠道", manager=manager,
            members=others[1::2] or others[:1] or [rep], assignment="round_robin",
        )  # fmt: skip
        teams = [key_accounts, dealers]
        reasons = [services.lost_reason_create(company=company, actor=manager, name=name)
                   for name in LOST_REASONS]  # fmt: skip
        stages = {team.pk: list(PipelineStage.unscoped.filter(team=team).order_by("sequence"))
                  for team in teams}  # fmt: skip
        customers = list(  # in the company's currency: the board adds the amounts up
            Party.unscoped.filter(company=company, is_customer=True, active=True,
                                  merged_into__isnull=True, currency_id=company.base_currency_id)
            .order_by("code")[:80]
        )  # fmt: skip
        lead_count = _leads(ctx, company, teams, customers, leads_n, today)
        products = list(  # what the sales step stocked: quotations from some opportunities
            Product.unscoped.filter(company=company, active=True, type=Product.Type.STOCKABLE,
                                    list_price__gt=0, is_configurable=False).order_by("sku")[:12]
        )  # fmt: skip
        won = lost = 0
        for n in range(opportunities_n):
            team = teams[n % 3 == 2]  # two in three to the key accounts
            open_stages = [s for s in stages[team.pk] if not (s.is_won or s.is_lost)]
            members = list(team.members.all())
            owner = rng.choice(members) if n % 4 else None  # every fourth: assigned
            actor = owner or manager
            close = today + dt.timedelta(days=rng.randint(-20, 180))
            deal = services.opportunity_create(
                company=company, actor=actor, party=rng.choice(customers),
                name=f"{rng.choice(DEALS)} {n + 1:03d}", team=team, owner=owner,
                stage=open_stages[0], expected_revenue=D(rng.randint(20, 900) * 1000),
                close_date=close,
            )  # fmt: skip
            actor = deal.owner or manager
            target = rng.randrange(len(open_stages))
            for stage in open_stages[1 : target + 1]:
                services.opportunity_move(opportunity=deal, actor=actor, stage=stage)
            if target == 2 and rng.random() < 0.3:  # a hand-set probability now and then
                services.opportunity_probability_set(opportunity=deal, actor=actor,
                                                     probability=D(rng.randint(40, 70)))  # fmt: skip
            _activities(ctx, company, deal, actor, today)
            fate = rng.random()
            quoted = _quote(deal, actor, products, n, accept=fate < 0.15) if products else None
            if fate < 0.15:
                services.opportunity_win(opportunity=deal, actor=actor,
                                         expected_revenue=quoted)  # fmt: skip
                won += 1
            elif fate < 0.27:
                services.opportunity_lose(opportunity=deal, actor=actor,
                                          reason=rng.choice(reasons))  # fmt: skip
                lost += 1
        quarter = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        quarter_end = (quarter + dt.timedelta(days=92)).replace(day=1) - dt.timedelta(days=1)
        for team in teams:
            services.target_set(team=team, actor=manager, period_start=quarter,
                                period_end=quarter_end, amount=D(3_000_000))  # fmt: skip
            for member in team.members.all():
                services.target_set(team=team, actor=manager, user=member, period_start=quarter,
                                    period_end=quarter_end, amount=D(1_000_000))  # fmt: skip
        ctx.log.append(
            f"CRM: 2 sales teams, {lead_count} leads, "
            f"{Opportunity.unscoped.filter(company=company).count()} opportunities "
            f"({won} won, {lost} lost)"
        )
        _intake(ctx, company, key_accounts, dealers)


def _quote(deal: Opportunity, actor, products: list[Product], n: int, *, accept: bool
           ) -> Decimal | None:  # type: ignore[no-untyped-def]  # fmt: skip
    """Every fifth opportunity gets a quotation made from it ("New quotation"); a won one's is
    sent and accepted (its order confirmed), and the order's untaxed total is returned as the
    revenue won. No random draw: the later steps' draws stay as they were."""
    if n % 5:
        return None
    lines = [{"product": products[(n + k) % len(products)], "quantity": D(1 + (n + k) % 4)}
             for k in range(1 + n % 2)]  # fmt: skip
    try:
        quotation = services.opportunity_quotation_create(opportunity=deal, actor=actor,
                                                          lines=lines)  # fmt: skip
        if not accept:
            return None
        documents.quotation_mark_sent(quotation=quotation, actor=actor)
        order = documents.quotation_accept(quotation=quotation, actor=actor)
    except ValidationError:  # a customer on hold, a discount to approve: left as a quotation
        return None
    return order.amount_untaxed


def _leads(ctx: DemoContext, company, teams, customers, count: int, today: dt.date) -> int:  # type: ignore[no-untyped-def]
    rng = ctx.rng
    manager = ctx.users["sales_manager"]
    for n in range(count):
        city, trade = rng.choice(CITIES), rng.choice(TRADES)
        person = _person(rng)
        fields = {
            "company_name": f"{city}{trade}有限公司 {n + 1:03d}",
            "email": f"lead{n + 1:03d}@example.cn",
            "phone": f"+86 1{rng.randint(30, 89)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            "campaign": rng.choice(CAMPAIGNS),
        }  # fmt: skip
        team = teams[n % 2]
        source = rng.choice([s for s, _label in Lead.Source.choices])
        if source == Lead.Source.WEB_FORM:
            lead = services.lead_create_from_web_form(company=company, actor=None, team=team, payload={
                "name": person, "company": fields["company_name"], "email": fields["email"],
                "phone": fields["phone"], "utm_campaign": fields["campaign"],
                "message": "希望了解电助力车的批发价格和交期。"})  # fmt: skip
        else:
            lead = services.lead_create(company=company, actor=manager, name=person, source=source,
                                        team=team if n % 5 else None, assign=True, **fields)  # fmt: skip
        fate = n % 10
        if fate in (0, 1, 2) and lead.team_id:
            actor = lead.owner or manager
            reuse = fate == 0 and customers
            deal = services.lead_qualify(
                lead=lead, actor=actor, party=rng.choice(customers) if reuse else None,
                create_party=not reuse, expected_revenue=D(rng.randint(10, 300) * 1000),
                close_date=today + dt.timedelta(days=rng.randint(15, 120)),
            )  # fmt: skip
            _activities(ctx, company, deal, actor, today)
        elif fate == 3:
            services.lead_disqualify(lead=lead, actor=manager, reason="联系不上")
        elif fate == 4:
            services.activity_create(company=company, actor=lead.owner or manager, lead=lead,
                                     kind="call", subject="首次电话沟通",
                                     due_date=today + dt.timedelta(days=rng.randint(0, 7)))  # fmt: skip
    return count


def _activities(ctx: DemoContext, company, deal: Opportunity, actor, today: dt.date) -> None:  # type: ignore[no-untyped-def]
    rng = ctx.rng
    for _i in range(rng.randint(1, 3)):
        kind = rng.choice(list(SUBJECTS))
        done = rng.random() < 0.5
        services.activity_create(
            company=company, actor=actor, opportunity=deal, kind=kind,
            subject=rng.choice(SUBJECTS[kind]), done=done,
            due_date=today + dt.timedelta(days=rng.randint(-10, -1) if done else rng.randint(0, 21)),
        )  # fmt: skip


# --- lead intake: territories, a sales mailbox, imported and e-mailed leads ----------------------
# (appended by the lead-intake change; no random draws, so the later steps' draws stay as they
# were)

INTAKE_TERRITORIES = {  # team → (territory, region codes, country codes)
    "key_accounts": [("上海", ["CN-SH"], []), ("江苏", ["CN-JS"], []), ("浙江", ["CN-ZJ"], [])],
    "dealers": [("华南", ["CN-GD", "CN-FJ"], []), ("全国其他地区", [], ["CN"])],
}
INTAKE_IMPORT = """name,company_name,email,phone,country,region,campaign,description
沈佳怡,上海悦骑自行车有限公司,shen.jiayi@yueqi.example.cn,021-5555 0101,CN,CN-SH,,展会名片：想要 E-City 样车
钱浩然,苏州环湖骑行俱乐部,qian.haoran@huanhu.example.cn,0512-5555 0102,CN,CN-JS,,俱乐部团购 30 台
孙雨桐,宁波东港车行,sun.yutong@donggang.example.cn,0574-5555 0103,CN,CN-ZJ,,门店铺货咨询
韩志远,广州越秀出行科技有限公司,han.zhiyuan@yuexiu.example.cn,020-5555 0104,CN,CN-GD,,共享车辆替换方案
"""
INTAKE_MAILS = [
    (
        "intake-0001@hzbike.example.cn",
        "杨晓东 <yang.xiaodong@hzbike.example.cn>",
        "sales@xietong.example",
        "询价：电助力车 20 台",
        "您好，\n我们想采购 20 台电助力车，请报价并告知交期。\n\n-- \n杨晓东\n杭州悦行车业有限公司",
    ),
    (
        "intake-0002@mail.example.cn",
        "林可欣 <lin.kexin@mail.example.cn>",
        "sales@xietong.example",
        "门店加盟咨询",
        "请问在福州开设经销门店需要什么条件？",
    ),
]

INTAKE_LEADS = INTAKE_IMPORT.count("\n") - 1 + len(INTAKE_MAILS)  # leads this part adds


def _intake(ctx: DemoContext, company, key_accounts, dealers) -> None:  # type: ignore[no-untyped-def]
    """Territories of both teams by the provinces of the demo's customers (the key accounts then
    assign by territory), a sales mailbox of the key accounts, a small CSV import and two
    e-mailed enquiries."""
    from email.message import EmailMessage

    from xietong.crm import lead_import, lead_inbound, territories
    from xietong.party.models import Region

    manager = ctx.users["sales_manager"]
    regions = {r.code: r.pk for r in Region.objects.filter(country_id="CN")}
    made = 0
    for key, team in (("key_accounts", key_accounts), ("dealers", dealers)):
        members = sorted(team.members.all(), key=lambda u: u.pk)
        for i, (name, codes, countries) in enumerate(INTAKE_TERRITORIES[key]):
            people = [members[i % len(members)]] if codes else members
            territories.territory_create(
                company=company, actor=manager, name=name, team=team, countries=countries,
                regions=[regions[c] for c in codes if c in regions], members=people,
            )  # fmt: skip
            made += 1
    services.team_update(team=key_accounts, actor=manager, name=key_accounts.name,
                         manager=key_accounts.manager_id, assignment="territory",
                         members=list(key_accounts.members.all()))  # fmt: skip
    territories.mailbox_create(company=company, actor=manager, address="sales@xietong.example",
                               team=key_accounts)  # fmt: skip
    imported = lead_import.lead_import(
        company=company, actor=manager, data=INTAKE_IMPORT.encode(), filename="展会名片.csv",
        team=key_accounts, duplicates="skip",
    )  # fmt: skip
    mailed = 0
    for message_id, sender, to, subject, body in INTAKE_MAILS:
        message = EmailMessage()
        message["Message-ID"] = f"<{message_id}>"
        message["From"], message["To"], message["Subject"] = sender, to, subject
        message.set_content(body)
        result = lead_inbound.lead_mail_ingest(company=company, raw=message.as_bytes())
        mailed += result.created
    ctx.log.append(f"CRM intake: {made} territories, {len(imported.leads)} imported leads, "
                   f"{mailed} e-mailed leads")  # fmt: skip
