"""Factories of the BOM, routing and configurator tests (and of the permission matrices' sample
records). Products are created directly (their own services belong to the catalogue tests);
BOMs, work centers, routings and configured items go through this module's services."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from xietong.core.models import Company, UnitOfMeasure
from xietong.product import bom as bom_services
from xietong.product.models import (
    Bom,
    ConfigRule,
    Option,
    OptionBomChange,
    OptionGroup,
    Product,
    Routing,
    WorkCenter,
)

_numbers = itertools.count(1)


def unit(code: str) -> UnitOfMeasure:
    return UnitOfMeasure.objects.select_related("category").get(code=code)


def make_item(
    company: Company,
    sku: str | None = None,
    *,
    uom: str = "pc",
    cost: str | Decimal = "0",
    price: str | Decimal = "0",
    supply: str = Product.Supply.BUY,
    **fields: Any,
) -> Product:
    sku = sku or f"X-{next(_numbers):05d}"
    return Product.unscoped.create(
        company=company,
        sku=sku,
        name=fields.pop("name", f"Item {sku}"),
        uom=unit(uom),
        standard_cost=Decimal(cost),
        list_price=Decimal(price),
        supply=supply,
        **fields,
    )


def line(component: Product, quantity: str | Decimal, uom: str | None = None, scrap: str = "0"):  # type: ignore[no-untyped-def]
    return {
        "component": component,
        "quantity": Decimal(quantity),
        "uom": uom,
        "scrap_percent": Decimal(scrap),
    }


def make_bom(company: Company, product: Product, lines: list[dict[str, Any]], **fields: Any) -> Bom:
    if "quantity" in fields:
        fields["quantity"] = Decimal(fields["quantity"])
    return bom_services.bom_create(
        company=company, actor=None, product=product, lines=lines, **fields
    )


def make_work_center(
    company: Company,
    code: str | None = None,
    *,
    cost: str = "60",
    overhead: str = "30",
    **fields: Any,
) -> WorkCenter:
    code = code or f"WC{next(_numbers):03d}"
    return bom_services.work_center_create(
        company=company,
        actor=None,
        code=code,
        name=fields.pop("name", f"Work center {code}"),
        cost_per_hour=Decimal(cost),
        overhead_per_hour=Decimal(overhead),
        **fields,
    )


def make_routing(
    company: Company, product: Product, operations: list[tuple[WorkCenter, str, str]], **fields: Any
) -> Routing:
    return bom_services.routing_create(
        company=company,
        actor=None,
        product=product,
        name=fields.pop("name", f"Routing {product.sku}"),
        operations=[
            {
                "sequence": (i + 1) * 10,
                "name": f"Step {i + 1}",
                "work_center": center,
                "setup_minutes": Decimal(setup),
                "run_minutes": Decimal(run),
            }
            for i, (center, setup, run) in enumerate(operations)
        ],
        **fields,
    )


def make_group(
    product: Product,
    code: str,
    *,
    multiple: bool = False,
    required: bool = True,
    sequence: int = 10,
) -> OptionGroup:
    return OptionGroup.objects.create(
        product=product,
        code=code,
        name=code.replace("-", " ").title(),
        multiple=multiple,
        required=required,
        sequence=sequence,
    )


def make_option(
    group: OptionGroup,
    code: str,
    delta: str = "0",
    *,
    name: str | None = None,
    default: bool = False,
) -> Option:
    return Option.objects.create(
        group=group,
        code=code,
        name=name or code.replace("-", " "),
        price_delta=Decimal(delta),
        is_default=default,
    )


def bom_change(
    option: Option,
    action: str,
    component: Product,
    replacement: Product | None = None,
    quantity: str | None = None,
) -> OptionBomChange:
    return OptionBomChange.objects.create(
        option=option,
        action=action,
        component=component,
        replacement=replacement,
        quantity=Decimal(quantity) if quantity is not None else None,
    )


def rule(
    product: Product, kind: str, option: Option, other: Option, message: str = ""
) -> ConfigRule:
    return ConfigRule.objects.create(
        product=product, kind=kind, option=option, other=other, message=message
    )


def sample_set(company: Company, tag: str = "") -> dict[str, Any]:
    """A small made product with a BOM, a routing on a work center, and a configurable
    product with options, for the permission matrices and the isolation probes."""
    suffix = tag or str(next(_numbers))
    wheel = make_item(company, f"WHEEL-{suffix}", cost="50", name=f"CANARY-{tag} wheel")
    frame = make_item(company, f"FRAME-{suffix}", cost="120")
    bike = make_item(
        company,
        f"BIKE-{suffix}",
        supply=Product.Supply.MAKE,
        price="999",
        name=f"CANARY-{tag} bike",
    )
    bom = make_bom(company, bike, [line(frame, "1"), line(wheel, "2")])
    center = make_work_center(company, f"ASM-{suffix}", name=f"CANARY-{tag} assembly")
    routing = make_routing(company, bike, [(center, "30", "12")], name=f"CANARY-{tag} routing")
    ebike = make_item(
        company, f"EBIKE-{suffix}", supply=Product.Supply.MAKE, price="2999", is_configurable=True
    )
    make_bom(company, ebike, [line(frame, "1"), line(wheel, "2")])
    size = make_group(ebike, "frame", sequence=10)
    small = make_option(size, "s", "0", default=True)
    make_option(size, "l", "100")
    extras = make_group(ebike, "extras", multiple=True, required=False, sequence=20)
    rack = make_option(extras, "rack", "150")
    seat = make_option(extras, "child-seat", "300")
    rule(ebike, "requires", seat, rack)
    from xietong.product import configurator

    item = configurator.configured_item_create(
        company=company, actor=None, product=ebike, option_ids=[small.pk]
    )
    return {
        "bom": bom,
        "bike": bike,
        "work_center": center,
        "routing": routing,
        "configurable": ebike,
        "configured_item": item,
    }
