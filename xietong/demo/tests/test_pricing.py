"""The demo's pricing step on a small catalogue of its own: variants of finished bikes, the default
and export price lists, costs with history — deterministic for a seed — and prices that explain
themselves."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from xietong.core.models import Company
from xietong.core.services import exchange_rate_create
from xietong.demo import pricing as demo_pricing
from xietong.demo.context import DemoContext
from xietong.party.models import CustomerGroup, Party
from xietong.product.models import Bom, BomLine, CostRecord, PriceList, Product, Variant
from xietong.product.pricing import price_for
from xietong.product.tests.catalog_factories import (
    make_category,
    make_group,
    make_party,
    make_product,
    unit,
)

pytestmark = pytest.mark.django_db


def _catalogue(company: Company) -> None:
    bikes = make_category(company, "整车 Bikes")
    city = make_category(company, "城市车 City", bikes)
    parts = make_category(company, "外购件 Purchased parts")
    for i in range(6):
        make_product(
            company, f"BK-{i}", category=city, supply="make", list_price=Decimal(1500 + 100 * i)
        )
    frame = make_product(company, "SUB-FRAME", category=bikes, supply="make", list_price=Decimal(0))
    for i in range(15):
        make_product(
            company, f"PT-{i:02d}", category=parts, supply="buy", list_price=Decimal(10 + i)
        )
    # A sub-assembly is a component, so it is no finished bike.
    bom = Bom.unscoped.create(
        company=company, product=Product.unscoped.get(sku="BK-0", company=company), uom=unit("pc")
    )
    BomLine.objects.create(bom=bom, component=frame, quantity=Decimal(1), uom=unit("pc"))
    for code in ("dist", "retail", "oem", "export"):
        make_group(company, code)
    exchange_rate_create(
        company=company,
        actor=None,
        currency="EUR",
        date=timezone.localdate() - dt.timedelta(days=3),
        rate=Decimal("7.8"),
    )


def _run(company: Company, users: dict, seed: int = 1) -> DemoContext:
    ctx = DemoContext(seed=seed, size="small")
    ctx.companies["main"] = company
    ctx.users.update(users)
    demo_pricing.run(ctx)
    return ctx


def test_pricing_step(company_a, users_a):
    _catalogue(company_a)
    eur_customer = make_party(company_a, "E1")
    Party.unscoped.filter(pk=eur_customer.pk).update(currency_id="EUR")
    ctx = _run(company_a, users_a)
    assert "2 price lists" in ctx.log[-1]

    variants = Variant.unscoped.filter(company=company_a)
    assert variants.exists()
    assert not variants.filter(product__sku="SUB-FRAME").exists()
    assert all(v.sku.count("-") == 3 for v in variants)  # BK-n-COLOUR-SIZE
    standard = PriceList.unscoped.get(company=company_a, is_default=True)
    export = PriceList.unscoped.get(company=company_a, currency_id="EUR")
    assert standard.rules.filter(customer_group__code="dist").exists()
    assert standard.rules.filter(min_qty__gt=0).exists()
    eur_customer.refresh_from_db()
    assert eur_customer.price_list == export

    parts = Product.unscoped.filter(company=company_a, supply="buy")
    assert all(p.standard_cost > 0 for p in parts)
    assert CostRecord.unscoped.filter(product__in=parts, kind="standard").count() > parts.count()
    assert CostRecord.unscoped.filter(kind="average").exists()

    bike = Product.unscoped.get(company=company_a, sku="BK-3")
    dealer = make_party(company_a, group=CustomerGroup.unscoped.get(company=company_a, code="dist"))
    result = price_for(product=bike, party=dealer, quantity=Decimal(120), date=timezone.localdate())
    assert result.rule is not None and result.rule.customer_group.code == "dist"
    assert result.unit_price.amount == Decimal(1800) * Decimal("0.85")
    in_euros = price_for(
        product=bike, party=eur_customer, quantity=Decimal(1), date=timezone.localdate()
    )
    assert in_euros.currency == "EUR"


def test_pricing_step_is_deterministic(company_a, company_b, users_a, users_b):
    _catalogue(company_a)
    _catalogue(company_b)
    _run(company_a, users_a, seed=7)
    _run(company_b, users_b, seed=7)

    def summary(company: Company) -> tuple:
        return (
            sorted(Variant.unscoped.filter(company=company).values_list("sku", "price_extra")),
            sorted(
                CostRecord.unscoped.filter(company=company).values_list(
                    "product__sku", "kind", "date", "cost"
                )
            ),
            sorted(
                (r.min_qty, r.method, r.fixed_price, r.discount_percent, r.margin_percent)
                for r in PriceList.unscoped.get(company=company, is_default=True).rules.all()
            ),
        )

    assert summary(company_a) == summary(company_b)


def test_without_a_catalogue_the_step_does_nothing(company_a, users_a):
    ctx = _run(company_a, users_a)
    assert "no catalogue" in ctx.log[-1]
    assert not PriceList.unscoped.filter(company=company_a).exists()
