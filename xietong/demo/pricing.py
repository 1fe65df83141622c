"""Demo step for variants, prices and costs; runs after the catalogue step (which makes the
bicycle products, categories and BOMs of the main company) and the party step (customer groups).

It picks products by what they are, not by SKU: finished bikes (made, stockable, not a
component of another BOM, not configurable) and purchased parts (bought, stockable). Then:

- attributes 颜色 Colour and 车架尺寸 Frame size, and variants of a few finished bikes with
  price extras for large frames and some colours;
- the default CNY price list (标准价目表): quantity breaks on bikes, customer-group rules
  (distributors, OEM, retail when the party step made those groups), a variant price and a
  dated promotion — enough for the price check to have something to explain;
- an EUR export price list (出口价目表), which the export customers paying in EUR use;
- standard costs for purchased parts with a year of cost history, and a moving average for some.

Deterministic (ctx.rng, rows in SKU order) and fast: most history rows are bulk-inserted; a few
changes go through the services so that their audit trail is real.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Exists, OuterRef
from django.utils import timezone

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext
from xietong.party.models import CustomerGroup, Party
from xietong.product import pricing, services
from xietong.product.bom import bom_cost_rollup_apply
from xietong.product.models import (
    BomLine,
    Category,
    CostRecord,
    PriceList,
    PriceRule,
    Product,
    Variant,
)

CENT = Decimal("0.01")
COLOURS = [
    ("BLK", "黑色 Black", Decimal(0)),
    ("WHT", "白色 White", Decimal(0)),
    ("RED", "红色 Red", Decimal(50)),
    ("BLU", "蓝色 Blue", Decimal(50)),
    ("GRN", "森林绿 Forest green", Decimal(80)),
]
SIZES = [
    ("S", "小号 S (15″)", Decimal(0)),
    ("M", "中号 M (17″)", Decimal(0)),
    ("L", "大号 L (19″)", Decimal(100)),
    ("XL", "加大 XL (21″)", Decimal(150)),
]
VARIANT_BIKES = {"small": 4, "medium": 6, "large": 10}


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _percent(ctx: DemoContext, low: int, high: int) -> Decimal:
    """A random factor between (100 + low)% and (100 + high)%."""
    return Decimal(100 + ctx.rng.randint(low, high)) / 100


def _finished_bikes(company: Company) -> list[Product]:
    component = BomLine.objects.filter(component=OuterRef("pk"))
    return list(
        Product.unscoped.filter(
            company=company,
            active=True,
            supply=Product.Supply.MAKE,
            type=Product.Type.STOCKABLE,
            is_configurable=False,
        )
        .exclude(Exists(component))
        .select_related("category")
        .order_by("sku")
    )


def _purchased_parts(company: Company) -> list[Product]:
    return list(
        Product.unscoped.filter(
            company=company, active=True, supply=Product.Supply.BUY, type=Product.Type.STOCKABLE
        ).order_by("sku")
    )


def _top_category(company: Company, products: list[Product]) -> Category | None:
    """The top-level category most of `products` are in (None when they have none)."""
    counts: dict[str, int] = {}
    for product in products:
        if product.category_id:
            top = product.category.path.split(" / ")[0]
            counts[top] = counts.get(top, 0) + 1
    if not counts:
        return None
    name = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[0][0]
    return Category.unscoped.filter(company=company, path=name).first()


def _variants(
    ctx: DemoContext, company: Company, bikes: list[Product]
) -> tuple[int, list[Product]]:
    planner = ctx.users.get("planner")
    colour = services.attribute_create(
        company=company, actor=planner, name="颜色 Colour", values=[(c, n) for c, n, _e in COLOURS]
    )
    size = services.attribute_create(
        company=company,
        actor=planner,
        name="车架尺寸 Frame size",
        values=[(c, n) for c, n, _e in SIZES],
    )
    colour_values = {v.code: v for v in colour.values.all()}
    size_values = {v.code: v for v in size.values.all()}
    extras = {colour_values[c].pk: e for c, _n, e in COLOURS if e}
    extras.update({size_values[c].pk: e for c, _n, e in SIZES if e})
    count = VARIANT_BIKES.get(ctx.size, 4)
    chosen = sorted(ctx.rng.sample(bikes, min(count, len(bikes))), key=lambda p: p.sku)
    made = 0
    for bike in chosen:
        colours = ctx.rng.sample(sorted(colour_values), 3)
        sizes = ["S", "M", "L"] + (["XL"] if ctx.rng.random() < 0.5 else [])
        values = [colour_values[c] for c in colours] + [size_values[s] for s in sizes]
        made += len(
            services.variants_generate(
                product=bike, actor=planner, values=values, price_extras=extras
            )
        )
    return made, chosen


def _groups(company: Company) -> dict[str, CustomerGroup]:
    return {g.code: g for g in CustomerGroup.unscoped.filter(company=company)}


def _standard_list(
    ctx: DemoContext,
    company: Company,
    bikes: list[Product],
    variant_bikes: list[Product],
    parts: list[Product],
    groups: dict[str, CustomerGroup],
) -> PriceList:
    actor = ctx.users.get("sales_manager")
    today = timezone.localdate()
    standard = pricing.price_list_create(
        company=company,
        actor=actor,
        name="标准价目表 Standard (CNY)",
        currency="CNY",
        is_default=True,
    )

    def rule(**fields: Any) -> PriceRule:
        return pricing.price_rule_create(price_list=standard, actor=actor, **fields)

    discount, fixed, cost_plus = (
        PriceRule.Method.DISCOUNT,
        PriceRule.Method.FIXED,
        PriceRule.Method.COST_PLUS,
    )
    bike_category = _top_category(company, bikes)
    part_category = _top_category(company, parts)
    # Quantity breaks on bikes (for everybody).
    if bike_category is not None:
        rule(
            category=bike_category,
            min_qty=Decimal(10),
            method=discount,
            discount_percent=Decimal(3),
        )
        rule(
            category=bike_category,
            min_qty=Decimal(50),
            method=discount,
            discount_percent=Decimal(6),
        )
    # Customer groups: distributors get a discount on everything, more on bikes and volume.
    if "dist" in groups:
        rule(customer_group=groups["dist"], method=discount, discount_percent=Decimal(8))
        if bike_category is not None:
            rule(
                category=bike_category,
                customer_group=groups["dist"],
                method=discount,
                discount_percent=Decimal(12),
            )
            rule(
                category=bike_category,
                customer_group=groups["dist"],
                min_qty=Decimal(100),
                method=discount,
                discount_percent=Decimal(15),
            )
    # OEM customers buy parts at cost plus a margin.
    if "oem" in groups and part_category is not None:
        rule(
            category=part_category,
            customer_group=groups["oem"],
            method=cost_plus,
            margin_percent=Decimal(35),
        )
    # Retail: a fixed price for one variant and this month's promotion on one bike.
    if variant_bikes:
        variant = Variant.unscoped.filter(product=variant_bikes[0]).order_by("sku").first()
        if variant is not None:
            price = _money((variant_bikes[0].list_price + variant.price_extra) * Decimal("0.95"))
            rule(
                variant=variant,
                customer_group=groups.get("retail"),
                method=fixed,
                fixed_price=price,
            )
    if bikes:
        promo = ctx.rng.choice(bikes)
        first = today.replace(day=1)
        last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
        rule(
            product=promo,
            customer_group=groups.get("retail"),
            date_from=first,
            date_to=last,
            sequence=5,
            method=fixed,
            fixed_price=_money(promo.list_price * Decimal("0.9")),
        )
    return standard


def _export_list(
    ctx: DemoContext, company: Company, bikes: list[Product], parts: list[Product]
) -> tuple[PriceList, int]:
    actor = ctx.users.get("sales_manager")
    export = pricing.price_list_create(
        company=company, actor=actor, name="出口价目表 Export (EUR)", currency="EUR"
    )
    bike_category = _top_category(company, bikes)
    part_category = _top_category(company, parts)
    if bike_category is not None:
        pricing.price_rule_create(
            price_list=export,
            actor=actor,
            category=bike_category,
            method=PriceRule.Method.DISCOUNT,
            discount_percent=Decimal(10),
        )
    if part_category is not None:
        pricing.price_rule_create(
            price_list=export,
            actor=actor,
            category=part_category,
            method=PriceRule.Method.COST_PLUS,
            margin_percent=Decimal(60),
        )
    # Round euro prices, with a container break, for the best sellers.
    for bike in bikes[:3]:
        euros = (bike.list_price / Decimal("7.8")).quantize(Decimal(1)) - Decimal("0.01")
        if euros <= 0:
            continue
        pricing.price_rule_create(
            price_list=export,
            actor=actor,
            product=bike,
            method=PriceRule.Method.FIXED,
            fixed_price=euros,
        )
        pricing.price_rule_create(
            price_list=export,
            actor=actor,
            product=bike,
            min_qty=Decimal(40),
            method=PriceRule.Method.FIXED,
            fixed_price=_money(euros * Decimal("0.93")),
        )
    assigned = Party.unscoped.filter(
        company=company, is_customer=True, currency_id="EUR", price_list__isnull=True
    ).update(price_list=export)
    return export, assigned


def _costs(ctx: DemoContext, company: Company, parts: list[Product]) -> int:
    """Standard costs of purchased parts with a year of history; a moving average for some."""
    today = timezone.localdate()
    planner, accountant = ctx.users.get("planner"), ctx.users.get("accountant")
    records: list[CostRecord] = []
    changed: list[Product] = []
    for index, part in enumerate(parts):
        base = part.standard_cost or (
            part.list_price * Decimal("0.62")
            if part.list_price
            else Decimal(ctx.rng.randint(5, 400))
        )
        history = []
        cost = base * _percent(ctx, -8, 8)
        for days in (360, 270, 180, 90):
            if ctx.rng.random() < 0.7:
                history.append((today - dt.timedelta(days=days), _money(cost)))
                cost = cost * _percent(ctx, -5, 6)
        current = _money(base)
        if index < 8:
            # A few through the service, so the product history shows who changed the cost.
            for date, value in history:
                services.product_cost_set(
                    product=part,
                    actor=planner,
                    cost=value,
                    date=date,
                    reason="采购询价 Supplier quote",
                )
            services.product_cost_set(
                product=part,
                actor=accountant,
                cost=current,
                date=today - dt.timedelta(days=7),
                reason="年度标准成本 Annual standard cost",
            )
            continue
        records += [
            CostRecord(
                company=company,
                product=part,
                kind=CostRecord.Kind.STANDARD,
                date=date,
                cost=value,
                reason="采购询价 Supplier quote",
            )
            for date, value in history
        ]
        records.append(
            CostRecord(
                company=company,
                product=part,
                kind=CostRecord.Kind.STANDARD,
                date=today - dt.timedelta(days=7),
                cost=current,
                reason="年度标准成本 Annual standard cost",
            )
        )
        part.standard_cost = current
        changed.append(part)
    CostRecord.unscoped.bulk_create(records, batch_size=1000)
    Product.unscoped.bulk_update(changed, ["standard_cost"], batch_size=500)
    # Receipts that moved the average of some parts (what inventory will do on each receipt).
    for part in parts[: min(12, len(parts))]:
        on_hand = Decimal(0)
        for days in (60, 30, 10):
            quantity = Decimal(ctx.rng.randint(20, 200))
            unit_cost = _money(part.standard_cost * _percent(ctx, -6, 6))
            services.product_average_cost_update(
                product=part,
                quantity_in=quantity,
                unit_cost=unit_cost,
                on_hand=on_hand,
                actor=ctx.users.get("warehouse_clerk"),
                date=today - dt.timedelta(days=days),
            )
            on_hand += quantity - Decimal(ctx.rng.randint(0, int(quantity)))
    return len(parts)


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    with company_scope(company):
        bikes = _finished_bikes(company)
        parts = _purchased_parts(company)
        if not bikes and not parts:
            ctx.log.append("pricing: no catalogue to price (run the catalogue step first)")
            return
        variants, variant_bikes = _variants(ctx, company, bikes) if bikes else (0, [])
        groups = _groups(company)
        standard = _standard_list(ctx, company, bikes, variant_bikes, parts, groups)
        export, assigned = _export_list(ctx, company, bikes, parts)
        costed = _costs(ctx, company, parts)
        # New purchase costs change what the made items cost: roll them up again.
        bom_cost_rollup_apply(company=company, actor=None)
    rules = PriceRule.objects.filter(price_list__in=[standard, export]).count()
    ctx.log.append(
        f"{variants} variants of {len(variant_bikes)} bikes, 2 price lists with {rules} rules "
        f"({assigned} export customers on EUR prices), standard costs of {costed} purchased parts"
    )
