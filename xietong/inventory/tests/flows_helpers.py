"""Helpers of the picking, count, replenishment and traceability tests (the "flows"): a
warehouse, products, parties and stock put in place through the services."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from typing import Any

from xietong.core.models import Company, UnitOfMeasure
from xietong.inventory import stock
from xietong.inventory.models import Location, Lot, Move, Picking, Quant, Warehouse
from xietong.inventory.warehouses import virtual_locations, warehouse_create
from xietong.party.models import Party
from xietong.product import services as product_services
from xietong.product.models import Product

D = Decimal
DAY = dt.date(2026, 3, 2)
_numbers = itertools.count(1)


def unit(code: str) -> UnitOfMeasure:
    return UnitOfMeasure.objects.select_related("category").get(code=code)


def make_warehouse(company: Company, code: str = "WH", **steps: Any) -> Warehouse:
    return warehouse_create(company=company, code=code, name=f"Warehouse {code}", **steps)


def make_product(company: Company, sku: str | None = None, **fields: Any) -> Product:
    sku = sku or f"P{next(_numbers):04d}"
    fields.setdefault("name", f"Product {sku}")
    fields.setdefault("uom", unit("pc"))
    return product_services.product_create(company=company, actor=None, sku=sku, **fields)


def make_party(company: Company, name: str, **flags: Any) -> Party:
    code = f"PT{next(_numbers):05d}"
    return Party.unscoped.create(
        company=company,
        code=code,
        name=name,
        normalized_name=name.lower(),
        currency_id=company.base_currency_id,
        **flags,
    )


def place(company: Company, usage: str) -> Location:
    return virtual_locations(company=company)[usage]


def put_stock(
    company: Company,
    product: Product,
    location: Location,
    quantity: Any,
    lot: Lot | None = None,
    day: dt.date = DAY,
) -> Move:
    """Bring `quantity` of `product` (of `lot`) from the suppliers into `location`, done."""
    move = stock.move_create(
        company=company,
        product=product,
        quantity=D(quantity),
        from_location=place(company, Location.Usage.SUPPLIER),
        to_location=location,
        lot=lot,
        planned_date=day,
    )
    return stock.moves_done(moves=[move], effective_date=day)[0]


def quant_qty(product: Product, location: Location, lot: Lot | None = None) -> Decimal:
    quant = Quant.unscoped.filter(product=product, location=location, lot=lot).first()
    return quant.quantity if quant else D(0)


def reserved_qty(product: Product, location: Location | None = None) -> Decimal:
    quants = Quant.unscoped.filter(product=product)
    if location is not None:
        quants = quants.filter(location=location)
    return sum((q.reserved for q in quants), D(0))


def fresh(obj: Any) -> Any:
    obj.refresh_from_db()
    return obj


def moves_of(picking: Picking) -> list[Move]:
    return list(Move.unscoped.filter(picking=picking).order_by("pk"))


def snapshot(company: Company) -> dict[str, Any]:
    """What the stock tables hold, to check that a refused operation wrote nothing."""
    return {
        "pickings": sorted(
            Picking.unscoped.filter(company=company).values_list("pk", "state", "number")
        ),
        "moves": sorted(
            Move.unscoped.filter(company=company).values_list(
                "pk", "state", "quantity", "lot_id", "picking_id"
            )
        ),
        "quants": sorted(
            Quant.unscoped.filter(company=company).values_list("pk", "quantity", "reserved")
        ),
        "lots": sorted(Lot.unscoped.filter(company=company).values_list("pk", "name")),
    }
