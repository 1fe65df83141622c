"""Demo step for customer service: a 9:00–18:00 working-day calendar with the 2026 public
holidays, service categories with the skills their tickets need (and the service agents'
skills), SLA policies per priority plus tighter ones for OEM customers, a 24-month warranty for
the whole range, knowledge-base articles in Chinese (most translated into English), and tickets
of the existing customers' contacts over the last four weeks — from the web form, e-mail and
phone, in every state, with Chinese threads, some waiting on the customer, some resolved and
rated, some reopened. A final SLA check at the current time marks the overdue ones at risk or
breached and starts their escalation process.

Runs after the party, workflow and core steps. Through the services; deterministic (ctx.rng,
rows in code order; times are counted back from now)."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone, translation

from xietong.core.models import Membership
from xietong.core.tenancy import company_scope
from xietong.crm import knowledge, service_setup, sla, tickets
from xietong.crm.models import Ticket
from xietong.demo.context import DemoContext
from xietong.party.models import Contact, CustomerGroup

SIZES = {"small": 30, "medium": 90, "large": 300}
HOLIDAYS = ["2026-01-01", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",
            "2026-04-06", "2026-05-01", "2026-05-04", "2026-05-05", "2026-06-19", "2026-09-25",
            "2026-10-01", "2026-10-02", "2026-10-05", "2026-10-06", "2026-10-07"]  # fmt: skip
CATEGORIES = [("维修", "repair"), ("电池与充电", "battery"), ("物流配送", "logistics"),
              ("发票与付款", "billing"), ("产品咨询", "")]  # fmt: skip
TARGETS = {"urgent": (1, 8), "high": (2, 16), "normal": (4, 24), "low": (8, 40)}
OEM_TARGETS = {"urgent": (1, 4), "high": (1, 8)}
PRIORITY_NAMES = {"urgent": "紧急", "high": "高", "normal": "普通", "low": "低"}
# subject, first message, category, the agent's reply, the resolution
CASES = [
    ("电池充不进电", "新买的 E-City 电助力车电池充不进电，充电器指示灯一直是绿色。", "电池与充电",
     "请问使用的是原装充电器吗？麻烦拍一张充电器铭牌的照片。", "更换了充电器保险丝，电池已能正常充电。"),
    ("刹车有异响", "前轮碟刹骑行时有明显异响，已经骑了两周。", "维修",
     "请问异响是在下雨后出现的吗？", "清洁了刹车碟片并更换刹车片，异响消除。"),
    ("货物延迟未到", "订单上周已发货，至今物流没有更新。", "物流配送",
     "已联系承运商核实，请稍候。", "承运商确认包裹在中转站滞留，已重新派送并签收。"),
    ("需要增值税专用发票", "请为上月订单开具增值税专用发票，抬头信息见附件。", "发票与付款",
     "请提供纳税人识别号和开户行信息。", "专用发票已开具并邮寄，快递单号已发送。"),
    ("变速器跳挡", "骑行时 7 挡经常跳挡，调整无效。", "维修",
     "请问最近有没有磕碰过后拨链器？", "重新调整了变速线张力并校正了挂钩，已恢复正常。"),
    ("显示屏不亮", "仪表显示屏开机后不亮，但电机可以助力。", "维修",
     "请检查显示屏下方的连接线是否松动。", "更换显示屏连接线后显示正常。"),
    ("咨询批量采购价格", "我们是杭州的车行，想了解 50 台以上的批量价格和交期。", "产品咨询",
     "已转给销售同事，稍后会联系您。", "销售已发送报价单，客户确认收到。"),
    ("退货申请", "收到的车架有划痕，希望退换。", "维修",
     "请提供划痕照片和订单号。", "已安排换货，新车架已发出。"),
    ("电池续航明显下降", "使用一年后续航从 80 公里降到 40 公里。", "电池与充电",
     "请问平时是在什么温度下充电和存放？", "电池容量检测低于 70%，在保修期内免费更换电池。"),
    ("付款后订单状态未更新", "已经银行转账付款，但订单仍显示待付款。", "发票与付款",
     "请提供转账回单。", "财务已核对到账并更新订单状态。"),
]  # fmt: skip
ARTICLES = [
    ("电助力车电池无法充电怎么办", "1. 确认使用原装充电器；\n2. 检查充电器指示灯：绿灯常亮表示未充电，"
     "请检查保险丝；\n3. 电池温度低于 0°C 时无法充电，请在室内放置一小时后再试。",
     "E-bike battery does not charge", "1. Use the original charger.\n2. A steady green LED "
     "means it is not charging: check the fuse.\n3. Below 0 °C the battery will not charge: "
     "leave it indoors for an hour.", "电池与充电"),
    ("碟刹异响的处理方法", "碟刹异响多因碟片沾油或刹车片磨损。请用酒精清洁碟片，磨损超过 1.5 毫米时更换刹车片。",
     "Squeaking disc brakes", "Squeaking usually comes from oil on the rotor or worn pads: clean "
     "the rotor with alcohol, replace pads worn below 1.5 mm.", "维修"),
    ("变速器跳挡的调整", "旋转变速线微调螺母，每次半圈，直到换挡顺畅；若挂钩弯曲需校正。",
     "Adjusting a skipping derailleur", "Turn the barrel adjuster half a turn at a time until "
     "shifting is smooth; straighten a bent hanger.", "维修"),
    ("如何申请增值税专用发票", "在订单页面点击“申请发票”，填写纳税人识别号、地址电话和开户行账号，3 个工作日内开具。",
     "Asking for a VAT special invoice", "On the order page choose “Request invoice” and give the "
     "tax ID, address, phone and bank account; it is issued within 3 working days.", "发票与付款"),
    ("物流查询与延迟处理", "发货后 48 小时内物流信息会更新；超过 3 天未更新请联系客服，我们会向承运商核实。",
     "", "", "物流配送"),
    ("电池保养与续航", "避免在高温或 0°C 以下充电；长期不用时保持 50% 电量，每月补电一次。",
     "Battery care and range", "Do not charge in heat or below 0 °C; store at 50 % and top up "
     "monthly.", "电池与充电"),
]  # fmt: skip
CUSTOMER_WAIT = ["车在外地，周末回来后发照片。", "好的，我明天确认一下。", "照片已发送，请查收。"]


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    rng = ctx.rng
    now = timezone.now()
    with company_scope(company), translation.override("zh-hans"):
        manager = ctx.users["sales_manager"]
        calendar = service_setup.calendar_create(company=company, actor=manager,
                                                 name="工作日 9:00–18:00", holidays=HOLIDAYS)  # fmt: skip
        categories = {name: service_setup.category_create(company=company, actor=manager,
                                                          name=name, skill=skill)
                      for name, skill in CATEGORIES}  # fmt: skip
        for priority, (first, resolution) in TARGETS.items():
            name = f"标准 · {PRIORITY_NAMES[priority]}优先级"
            service_setup.sla_policy_create(company=company, actor=manager, name=name,
                                            priority=priority, calendar=calendar,
                                            first_response_hours=first,
                                            resolution_hours=resolution)  # fmt: skip
        oem = CustomerGroup.unscoped.filter(company=company, code="oem").first()
        if oem is not None:
            for priority, (first, resolution) in OEM_TARGETS.items():
                service_setup.sla_policy_create(
                    company=company, actor=manager, priority=priority, calendar=calendar,
                    name=f"OEM · {PRIORITY_NAMES[priority]}优先级", first_response_hours=first, resolution_hours=resolution,
                    customer_group=oem,
                )  # fmt: skip
        service_setup.warranty_rule_set(company=company, actor=manager, months=24)
        agents = _agents(company)
        _articles(company, manager, categories)
        made = _tickets(ctx, company, categories, agents, now)
        checked = sla.sla_check(now=now, company=company)
        rated = 0
        for ticket in Ticket.unscoped.filter(company=company, state__in=("resolved", "closed")
                                             ).select_related("survey").order_by("pk"):  # fmt: skip
            survey = getattr(ticket, "survey", None)
            if survey is not None and rng.random() < 0.7:
                tickets.survey_answer(token=survey.token, score=rng.choice([5, 5, 4, 4, 3, 2]),
                                      comment=rng.choice(["处理很及时", "", "希望更快一些", "满意"]),
                                      now=min(now, (ticket.resolved_at or now)
                                              + dt.timedelta(hours=5)))  # fmt: skip
                rated += 1
    ctx.log.append(f"CRM service: {made} tickets, {len(ARTICLES)} articles, {rated} surveys "
                   f"answered, {checked['at_risk']} at risk, {checked['breached']} breached")  # fmt: skip


def _agents(company) -> list:  # type: ignore[no-untyped-def]
    """The service agents, with skills: the first repairs and bills, the others repair,
    batteries and logistics."""
    memberships = list(Membership.unscoped.filter(company=company, is_active=True,
                                                  roles__code="service_agent")
                       .select_related("user").order_by("user_id"))  # fmt: skip
    for n, membership in enumerate(memberships):
        skills = ["repair", "billing"] if n == 0 else ["repair", "battery", "logistics"]
        Membership.unscoped.filter(pk=membership.pk).update(skills=skills)
    return [m.user for m in memberships]


def _articles(company, actor, categories) -> None:  # type: ignore[no-untyped-def]
    for n, (title, body, en_title, en_body, category) in enumerate(ARTICLES):
        article = knowledge.article_create(company=company, actor=actor, title=title, body=body,
                                           language="zh-hans", category=categories[category],
                                           publish=n != len(ARTICLES) - 1)  # fmt: skip
        if en_title:
            knowledge.article_translate(article=article, actor=actor, language="en",
                                        title=en_title, body=en_body)  # fmt: skip


def _tickets(ctx: DemoContext, company, categories, agents, now: dt.datetime) -> int:  # type: ignore[no-untyped-def]
    rng = ctx.rng
    contacts = list(Contact.unscoped.filter(company=company, active=True, party__is_customer=True)
                    .exclude(email="").select_related("party").order_by("pk")[:60])  # fmt: skip
    if not contacts or not agents:
        return 0
    count = SIZES.get(ctx.size, 30)
    channels = [
        Ticket.Channel.EMAIL,
        Ticket.Channel.EMAIL,
        Ticket.Channel.PHONE,
        Ticket.Channel.WEB,
    ]
    priorities = ["normal", "normal", "normal", "high", "high", "low", "urgent"]
    for n in range(count):
        subject, text, category, answer, resolution = CASES[n % len(CASES)]
        contact = contacts[rng.randrange(len(contacts))]
        # the newest tickets are a few hours old, the oldest four weeks
        opened = now - dt.timedelta(hours=2 + (count - n) * 22 * rng.uniform(0.8, 1.2))
        ticket = tickets.ticket_create(
            company=company, actor=None, subject=subject, description=text,
            party=contact.party, contact=contact, channel=rng.choice(channels),
            category=categories[category], priority=rng.choice(priorities), now=opened,
        )  # fmt: skip
        if ticket.assignee is None:
            tickets.ticket_assign(ticket=ticket, actor=None, assignee=agents[n % len(agents)])
        agent = ticket.assignee
        fate = n % 10 if n < count - 4 else 0  # the newest few are still new
        if fate == 0:
            continue
        step = opened + dt.timedelta(hours=rng.uniform(0.5, 6))
        tickets.ticket_reply(ticket=ticket, actor=agent, body=answer, wait=fate in (1, 2, 3, 4, 5),
                             now=min(step, now))  # fmt: skip
        if fate == 1:  # still waiting on the customer
            continue
        step += dt.timedelta(hours=rng.uniform(2, 30))
        if fate in (2, 3, 4, 5):
            tickets.ticket_customer_message(ticket=ticket, actor=None, body=rng.choice(CUSTOMER_WAIT),
                                            from_email=contact.email, now=min(step, now))  # fmt: skip
        if fate in (2, 6):  # open, being worked on
            tickets.ticket_note(ticket=ticket, actor=agent, body="已联系技术支持，等待回复。")
            continue
        step += dt.timedelta(hours=rng.uniform(1, 20))
        tickets.ticket_resolve(ticket=ticket, actor=agent, resolution=resolution,
                               now=min(step, now))  # fmt: skip
        if fate in (4, 7, 8):
            tickets.ticket_close(ticket=ticket, actor=agent,
                                 now=min(step + dt.timedelta(days=2), now))  # fmt: skip
        if fate == 9:
            tickets.ticket_reopen(ticket=ticket, actor=agent, reason="客户反馈问题再次出现。",
                                  now=min(step + dt.timedelta(days=1), now))  # fmt: skip
    return count
