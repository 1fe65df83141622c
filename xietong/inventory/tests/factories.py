"""Helpers of the stock tests: a warehouse with a company's virtual locations, products
(untracked, lot-tracked with expiry dates, serial-numbered, services), lots, and receipts,
deliveries and transfers that go through the stock services (never by writing quants)."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from xietong.core.models import Company, UnitOfMeasure
from xietong.core.tenancy import company_scope
from xietong.inventory import stock
from xietong.inventory.models import Location, Lot, Move, Quant, Reservation, Warehouse
from xietong.inventory.warehouses import location_create, virtual_locations, warehouse_create
from xietong.product.models import Product
from xietong.product.services import product_create

D = Decimal
TODAY = dt.date(2026, 5, 4)
_numbers = itertools.count(1)


def unit(code: str) -> UnitOfMeasure:
    return UnitOfMeasure.objects.select_related("category").get(code=code)


def site(company: Company, code: str = "WH") -> SimpleNamespace:
    """A one-step warehouse and the company's virtual locations, as attributes: `warehouse`,
    `stock`, `input`, `output`, `pack`, `quality`, `view`, `supplier`, `customer`,
    `production`, `loss` (inventory loss), `scrap`, `transit`."""
    warehouse: Warehouse = warehouse_create(company=company, code=code, name=f"Warehouse {code}")
    virtual = virtual_locations(company=company)
    U = Location.Usage
    return SimpleNamespace(
        company=company,
        warehouse=warehouse,
        view=warehouse.view_location,
        stock=warehouse.stock_location,
        input=warehouse.input_location,
        quality=warehouse.quality_location,
        pack=warehouse.pack_location,
        output=warehouse.output_location,
        supplier=virtual[U.SUPPLIER],
        customer=virtual[U.CUSTOMER],
        production=virtual[U.PRODUCTION],
        loss=virtual[U.INVENTORY],
        scrap=virtual[U.SCRAP],
        transit=virtual[U.TRANSIT],
    )


def shelf(parent: Location, name: str, **fields: Any) -> Location:
    return location_create(company=parent.company, name=name, parent=parent, **fields)


def product(
    company: Company,
    sku: str | None = None,
    *,
    tracking: str = Product.Tracking.NONE,
    uom: str = "pc",
    **fields: Any,
) -> Product:
    """A stockable product (through the catalogue service) counted in `uom`."""
    sku = sku or f"S-{next(_numbers):05d}"
    fields.setdefault("name", f"Product {sku}")
    with company_scope(company):
        made = product_create(
            company=company, actor=None, sku=sku, uom=unit(uom), tracking=tracking, **fields
        )
    return Product.unscoped.select_related("uom").get(pk=made.pk)


def lot_product(company: Company, sku: str | None = None, **fields: Any) -> Product:
    return product(company, sku, tracking=Product.Tracking.LOT, **fields)


def serial_product(company: Company, sku: str | None = None, **fields: Any) -> Product:
    return product(company, sku, tracking=Product.Tracking.SERIAL, **fields)


def service(company: Company, sku: str | None = None) -> Product:
    return product(company, sku, type=Product.Type.SERVICE)


def lot(item: Product, name: str, expiry: dt.date | None = None) -> Lot:
    return stock.lot_create(company=item.company, product=item, name=name, expiry_date=expiry)


def move(
    item: Product,
    qty: Decimal | int | str,
    source: Location,
    dest: Location,
    **fields: Any,
) -> Move:
    """A draft move (`move_create`), dated TODAY unless told otherwise."""
    fields.setdefault("planned_date", TODAY)
    return stock.move_create(
        company=item.company,
        product=item,
        quantity=D(qty),
        from_location=source,
        to_location=dest,
        **fields,
    )


def receive(
    item: Product,
    qty: Decimal | int | str,
    lot: Lot | None = None,
    *,
    location: Location,
    source: Location | None = None,
    **fields: Any,
) -> list[Move]:
    """Receive `qty` of `item` from the company's suppliers into `location`: create, confirm
    and do the move; returns the done move(s)."""
    source = source or virtual_locations(company=item.company)[Location.Usage.SUPPLIER]
    draft = move(item, qty, source, location, lot=lot, **fields)
    stock.moves_confirm(moves=[draft])
    return stock.moves_done(moves=[draft])


def deliver(item: Product, qty: Decimal | int | str, *, location: Location, **fields: Any) -> Move:
    """A delivery of `qty` from `location` to the customers, confirmed (so reserved as far as
    stock allows); returns the move as it is after confirmation."""
    customer = virtual_locations(company=item.company)[Location.Usage.CUSTOMER]
    draft = move(item, qty, location, customer, **fields)
    return stock.moves_confirm(moves=[draft])[0]


def fresh(record: Any) -> Any:
    return type(record).unscoped.get(pk=record.pk)


def reserved_of(move_: Move) -> Decimal:
    return sum(
        (r.quantity for r in Reservation.unscoped.filter(move_id=move_.pk)), start=Decimal(0)
    )


def snapshot() -> dict[str, Any]:
    """Every row the stock services write, to compare before and after a refused call."""
    return {
        "quants": sorted(
            Quant.unscoped.values_list(
                "id", "product_id", "location_id", "lot_id", "quantity", "reserved", "in_date"
            )
        ),
        "moves": sorted(
            Move.unscoped.values_list(
                "id",
                "state",
                "product_id",
                "lot_id",
                "quantity",
                "quantity_base",
                "from_location_id",
                "to_location_id",
                "effective_date",
                "done_at",
            )
        ),  # fmt: skip
        "reservations": sorted(
            Reservation.unscoped.values_list("id", "move_id", "quant_id", "quantity")
        ),
        "lots": sorted(Lot.unscoped.values_list("id", "product_id", "name")),
    }
