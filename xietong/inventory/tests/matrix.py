"""What the shell's generated permission matrices need from the inventory module: one record of
each inventory kind per company (`inventory_records`, keys `inv_…`, named CANARY-<key>-… for the
isolation probes), the URL name → record key of every inventory URL with a primary key, the
POST-only views, and a sample request per API operation. Each screen module keeps its own part
(`matrix_stock`, `matrix_pickings`, `matrix_counts`, `matrix_setup`, `matrix_api`); this module
joins them for xietong/web/tests and xietong/api/tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.inventory import counts, pickings, replenishment, stock
from xietong.inventory.models import Location, Move
from xietong.inventory.tests import flows_helpers as fh
from xietong.inventory.warehouses import location_create
from xietong.product.models import Product

DAY = dt.date(2026, 3, 2)


def inventory_records(company: Company, key: str) -> dict[str, Any]:
    """A warehouse WH<key> with a shelf, a lot-tracked product with 20 units of one lot on the
    shelf (its done receipt move), a receipt that is ready, a delivery that is reserved, a draft
    count of the stock location and a replenishment rule."""
    with company_scope(company):
        warehouse = fh.make_warehouse(company, f"W{key.upper()}")
        shelf = location_create(
            company=company, name=f"CANARY-{key}-shelf", parent=warehouse.stock_location
        )
        item = fh.make_product(
            company, f"CANARY-{key}-item", name=f"CANARY-{key}-item", tracking=Product.Tracking.LOT
        )
        lot = stock.lot_create(
            company=company, product=item, name=f"CANARY-{key}-lot",
            expiry_date=dt.date(2027, 6, 30),
        )  # fmt: skip
        done = fh.put_stock(company, item, shelf, 20, lot)
        supplier = fh.make_party(company, f"CANARY-{key}-supplier", is_supplier=True)
        customer = fh.make_party(company, f"CANARY-{key}-customer", is_customer=True)
        receipt = pickings.receipt_create(
            company=company, warehouse=warehouse, party=supplier, scheduled_date=DAY,
            origin=f"CANARY-{key}-receipt", lines=[{"product": item, "quantity": Decimal(5)}],
        )[0]  # fmt: skip
        receipt = pickings.picking_confirm(picking=receipt)
        delivery = pickings.delivery_create(
            company=company, warehouse=warehouse, party=customer, scheduled_date=DAY,
            origin=f"CANARY-{key}-delivery", lines=[{"product": item, "quantity": Decimal(3)}],
        )[0]  # fmt: skip
        delivery = pickings.picking_confirm(picking=delivery)
        count = counts.count_create(company=company, location=warehouse.stock_location, date=DAY)
        rule = replenishment.rule_set(
            company=company, product=item, warehouse=warehouse,
            min_qty=Decimal(10), max_qty=Decimal(50),
        )  # fmt: skip
    return {
        "inv_warehouse": warehouse,
        "inv_location": shelf,
        "inv_product": item,
        "inv_lot": lot,
        "inv_move": Move.unscoped.get(pk=done.pk),
        "inv_receipt": receipt,
        "inv_delivery": delivery,
        "inv_count": count,
        "inv_rule": rule,
        "inv_supplier_location": Location.unscoped.get(
            company=company, usage=Location.Usage.SUPPLIER
        ),
    }


def _joined() -> tuple[dict[str, str], set[str]]:
    from xietong.inventory.tests import matrix_counts, matrix_pickings, matrix_setup, matrix_stock

    records: dict[str, str] = {}
    post_only: set[str] = set()
    for part in (matrix_stock, matrix_pickings, matrix_counts, matrix_setup):
        records.update(part.URL_RECORDS)
        post_only |= part.POST_ONLY
    return records, post_only


URL_RECORDS, POST_ONLY = _joined()
