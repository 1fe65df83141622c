"""Factories of the catalogue and pricing tests: products, categories, attributes, price lists,
and the parties and customer groups prices depend on. Each goes through the services (so the
rows are valid), except parties and groups, which belong to another app."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from xietong.core.models import Company, UnitOfMeasure
from xietong.party.models import CustomerGroup, Party
from xietong.product import pricing, services
from xietong.product.models import Attribute, Category, PriceList, PriceRule, Product

_numbers = itertools.count(1)


def unit(code: str) -> UnitOfMeasure:
    return UnitOfMeasure.objects.select_related("category").get(code=code)


def make_category(company: Company, name: str, parent: Category | None = None) -> Category:
    return services.category_create(company=company, actor=None, name=name, parent=parent)


def make_product(company: Company, sku: str | None = None, **fields: Any) -> Product:
    fields.setdefault("name", f"Product {sku or next(_numbers)}")
    fields.setdefault("uom", unit("pc"))
    fields.setdefault("list_price", Decimal("100"))
    return services.product_create(
        company=company, actor=None, sku=sku or f"P-{next(_numbers):05d}", **fields
    )


def make_attribute(company: Company, name: str, values: list[tuple[str, str]]) -> Attribute:
    return services.attribute_create(company=company, actor=None, name=name, values=values)


def make_group(company: Company, code: str, name: str | None = None) -> CustomerGroup:
    return CustomerGroup.unscoped.create(company=company, code=code, name=name or code.title())


def make_party(
    company: Company,
    code: str | None = None,
    *,
    group: CustomerGroup | None = None,
    price_list: PriceList | None = None,
) -> Party:
    code = code or f"C{next(_numbers):05d}"
    return Party.unscoped.create(
        company=company,
        code=code,
        name=f"Customer {code}",
        normalized_name=f"customer {code}".lower(),
        is_customer=True,
        currency_id=company.base_currency_id,
        customer_group=group,
        price_list=price_list,
    )


def make_price_list(
    company: Company, name: str = "Standard", currency: str = "CNY", *, is_default: bool = False
) -> PriceList:
    return pricing.price_list_create(
        company=company, actor=None, name=name, currency=currency, is_default=is_default
    )


def make_rule(price_list: PriceList, **fields: Any) -> PriceRule:
    if "fixed_price" in fields:
        fields.setdefault("method", PriceRule.Method.FIXED)
    return pricing.price_rule_create(price_list=price_list, actor=None, **fields)


def catalogue_records(company: Company, key: str) -> dict[str, Any]:
    """One catalogue record of each kind, named CANARY-<key>-…, for the web tests' `records`
    fixture (URL matrix, isolation probes)."""
    category = make_category(company, f"CANARY-{key}-category")
    product = make_product(company, f"CANARY-{key}-product", category=category)
    attribute = make_attribute(company, f"CANARY-{key}-attribute", [("RED", "Red")])
    variant = services.variant_create(
        product=product, actor=None, values=list(attribute.values.all())
    )
    price_list = make_price_list(company, f"CANARY-{key}-pricelist")
    rule = make_rule(price_list, product=product, fixed_price=Decimal("9.99"))
    return {
        "product": product,
        "category": category,
        "attribute": attribute,
        "variant": variant,
        "price_list": price_list,
        "price_rule": rule,
    }
