"""Demo step for the shared kernel: two companies, one user per role, staff, rates, audit."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from auditlog.context import set_actor
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from xietong.core import services
from xietong.core.models import ExchangeRate, Membership, Role, User
from xietong.core.roles import DEFAULT_ROLES
from xietong.demo.context import DEMO_PASSWORD, DemoContext

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董潘袁蔡蒋余于杜叶程魏苏吕丁任沈"
GIVEN = [
    "伟",
    "芳",
    "娜",
    "秀英",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀兰",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "志强",
    "晓东",
    "海燕",
    "文博",
]
TERRITORIES = ["华东", "华南", "华北", "西南", "华中", "港澳"]
SKILLS = ["CNC", "注塑", "英语", "粤语", "ERP", "质检", "报关", "财务", "售后", "大客户"]
TITLES = {
    "admin": "IT 管理员",
    "sales_rep": "销售代表",
    "sales_manager": "销售经理",
    "buyer": "采购员",
    "planner": "计划员",
    "warehouse_clerk": "仓库管理员",
    "accountant": "会计",
    "service_agent": "客服专员",
    "service_manager": "客服经理",
    "marketer": "市场专员",
    "hr_officer": "人事专员",
    "executive": "总经理",
    "portal_customer": "",
    "portal_supplier": "",
}
# Start values: units of CNY for one unit of the currency.
RATES_CNY = {
    "USD": Decimal("7.10"),
    "EUR": Decimal("7.75"),
    "JPY": Decimal("0.0475"),
    "HKD": Decimal("0.91"),
}


def _name(ctx: DemoContext) -> tuple[str, str]:
    return ctx.rng.choice(SURNAMES), ctx.rng.choice(GIVEN)


def _rates(ctx: DemoContext, company, base_per_cny: Decimal, currencies: list[str]) -> int:  # type: ignore[no-untyped-def]
    """A deterministic random walk of daily rates (business days) ending today."""
    today = timezone.localdate()
    start = today - dt.timedelta(days=ctx.rate_days)
    rows = []
    for code in currencies:
        rate = RATES_CNY[code] if code != "CNY" else Decimal(1)
        day = start
        while day <= today:
            if day.weekday() < 5:
                rate = rate * (Decimal(1) + Decimal(ctx.rng.randint(-40, 40)) / Decimal(10000))
                value = (rate / base_per_cny).quantize(Decimal("0.000001"))
                rows.append(
                    ExchangeRate(
                        company=company,
                        currency_id=code,
                        date=day,
                        rate=value,
                        source="PBOC" if company.base_currency_id == "CNY" else "HKMA",
                    )
                )
            day += dt.timedelta(days=1)
    ExchangeRate.unscoped.bulk_create(rows, batch_size=2000)
    return len(rows)


def run(ctx: DemoContext) -> None:
    main = services.company_create(
        name="华东精密制造",
        legal_name="华东精密制造有限公司",
        base_currency="CNY",
        country="CN",
        timezone_name="Asia/Shanghai",
        tax_id="91310000MA1FL8XQ37",
    )
    partner = services.company_create(
        name="Pearl River Distribution",
        legal_name="Pearl River Distribution (HK) Limited",
        base_currency="HKD",
        country="HK",
        timezone_name="Asia/Hong_Kong",
        tax_id="71234567",
    )
    ctx.companies.update(main=main, partner=partner)
    password = make_password(DEMO_PASSWORD)
    manager_by_area: dict[str, User] = {}
    for role in DEFAULT_ROLES:
        surname, given = _name(ctx)
        user = services.user_create(
            company=main,
            username=role,
            password=None,  # one shared hash below: Argon2 is slow on purpose
            roles=[role],
            email=f"{role}@huadong.example",
            first_name=given,
            last_name=surname,
            language="zh-hans" if role not in {"portal_supplier", "executive"} else "en",
            validate=False,
        )
        ctx.users[role] = user
    User.objects.filter(pk__in=[u.pk for u in ctx.users.values()]).update(password=password)
    executive = ctx.users["executive"]
    for role, user in ctx.users.items():
        manager = ctx.users.get("sales_manager") if role == "sales_rep" else executive
        Membership.unscoped.filter(company=main, user=user).update(
            job_title=TITLES[role],
            manager=None if user == executive else manager,
            territory=ctx.rng.choice(TERRITORIES)
            if role in {"sales_rep", "sales_manager", "service_agent"}
            else "",
            skills=ctx.rng.sample(SKILLS, 2),
        )
        manager_by_area[role] = user
    admin = ctx.users["admin"]
    User.objects.filter(pk=admin.pk).update(is_superuser=True, is_staff=True)
    # The administrator and the executive also work for the partner company.
    for role in ("admin", "executive"):
        membership = Membership.unscoped.create(
            company=partner, user=ctx.users[role], job_title=TITLES[role]
        )
        membership.roles.set(Role.objects.filter(code=role, company=None))
    # More staff, sharing one password hash so that generating them stays fast.
    staff_roles = ["sales_rep", "sales_rep", "service_agent", "warehouse_clerk", "buyer", "planner"]
    roles = {r.code: r for r in Role.objects.filter(company=None)}
    for i in range(ctx.extra_staff):
        company = main if i % 4 else partner
        surname, given = _name(ctx)
        role = staff_roles[i % len(staff_roles)]
        user = User.objects.create(
            username=f"{role}{i + 1:03d}",
            first_name=given,
            last_name=surname,
            password=password,
            email=f"{role}{i + 1:03d}@example.com",
            language="zh-hans" if company == main else "zh-hant",
            active_company=company,
        )
        membership = Membership.unscoped.create(
            company=company,
            user=user,
            job_title=TITLES[role],
            manager=ctx.users["sales_manager"] if role == "sales_rep" and company == main else None,
            territory=ctx.rng.choice(TERRITORIES),
            skills=ctx.rng.sample(SKILLS, 2),
            out_of_office_until=timezone.localdate() + dt.timedelta(days=5)
            if i % 11 == 3
            else None,
        )
        membership.roles.add(roles[role])
    count = _rates(ctx, main, Decimal(1), ["USD", "EUR", "JPY", "HKD"])
    count += _rates(ctx, partner, RATES_CNY["HKD"], ["USD", "EUR", "CNY"])
    # A few edits through the services, so that history and audit screens have real entries.
    with set_actor(ctx.users["accountant"]):
        latest = (
            ExchangeRate.unscoped.filter(company=main, currency_id="USD").order_by("-date").first()
        )
        if latest is not None:
            services.exchange_rate_update(
                exchange_rate=latest,
                actor=ctx.users["accountant"],
                rate=latest.rate + Decimal("0.0012"),
                source="PBOC (corrected)",
            )
        sequence = main_sequence = services.Sequence.unscoped.get(company=main, code="sales.order")
        services.sequence_update(
            sequence=main_sequence,
            actor=ctx.users["accountant"],
            name=sequence.name,
            pattern="SO{year}-{number:05d}",
            gap_free=False,
        )
    ctx.log.append(f"2 companies, {User.objects.count()} users, {count} exchange rates")
