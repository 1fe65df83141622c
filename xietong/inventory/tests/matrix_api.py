"""The inventory API's part of the API permission matrix (joined in matrix.py): a small stock
set-up per company (warehouse MX with an untracked and a lot-tracked product in stock, found
again by code, so each test database builds it once) and, for each operation, a request that
succeeds for a user holding its permission. Operations that change a record get a record of
their own on every call (a new receipt to confirm, a new count to post …)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from xietong.core.models import Company, User
from xietong.core.tenancy import company_scope
from xietong.inventory import counts, pickings, stock
from xietong.inventory.models import CountLine, InventoryCount, Lot, Move, Picking, Warehouse
from xietong.inventory.tests import flows_helpers as fh
from xietong.product.models import Product

CODE = "MX"
ITEM = "MX-ITEM"
TRACKED = "MX-LOT"
LOT = "MX-LOT-1"
_serial = itertools.count(1)


def stock_base(company: Company) -> SimpleNamespace:
    """Warehouse MX (one step each way) with 100 of MX-ITEM and 50 of lot MX-LOT-1 of MX-LOT in
    its stock, created on first use in the company."""
    with company_scope(company):
        warehouse = Warehouse.unscoped.filter(company=company, code=CODE).first()
        if warehouse is None:
            warehouse = fh.make_warehouse(company, CODE)
            item = fh.make_product(company, ITEM, name="Matrix item")
            tracked = fh.make_product(
                company, TRACKED, name="Matrix lot item", tracking=Product.Tracking.LOT
            )
            lot = stock.lot_create(company=company, product=tracked, name=LOT)
            fh.put_stock(company, item, warehouse.stock_location, 100)
            fh.put_stock(company, tracked, warehouse.stock_location, 50, lot)
        item = Product.unscoped.get(company=company, sku=ITEM)
        lot = Lot.unscoped.select_related("product").get(company=company, name=LOT)
    return SimpleNamespace(
        warehouse=warehouse, stock=warehouse.stock_location, item=item, lot=lot,
        tracked=lot.product,
    )  # fmt: skip


def receipt(company: Company, *, confirm: bool = False) -> Picking:
    """A new draft (or confirmed) receipt of 2 MX-ITEM into MX."""
    base = stock_base(company)
    with company_scope(company):
        created = pickings.receipt_create(
            company=company, warehouse=base.warehouse, scheduled_date=fh.DAY,
            origin=f"Matrix {next(_serial)}",
            lines=[{"product": base.item, "quantity": Decimal(2), "unit_cost": Decimal(10)}],
        )[0]  # fmt: skip
        return pickings.picking_confirm(picking=created) if confirm else created


def count(company: Company, *, counted: bool = False) -> InventoryCount:
    """A new count sheet of MX/Stock (its first line counted as expected when `counted`)."""
    base = stock_base(company)
    with company_scope(company):
        sheet = counts.count_create(company=company, location=base.stock, date=fh.DAY)
        if counted:
            line = CountLine.objects.filter(count=sheet).order_by("pk").first()
            assert line is not None
            counts.count_set(count=sheet, counts={line.pk: line.expected})
    return sheet


def _sample(
    path_params: dict[str, Any],
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def _on_picking(*, confirm: bool = False, body: dict[str, Any] | None = None) -> Any:
    return lambda u, c: _sample({"picking_id": receipt(c, confirm=confirm).pk}, body)


def _on_count(*, counted: bool = False, body: Any = None) -> Any:
    def make(user: User, company: Company) -> dict[str, Any]:
        sheet = count(company, counted=counted)
        payload = body(sheet) if callable(body) else body
        return _sample({"count_id": sheet.pk}, payload)

    return make


def _first_line_counted(sheet: InventoryCount) -> dict[str, Any]:
    line = CountLine.objects.filter(count=sheet).order_by("pk").first()
    assert line is not None
    return {"lines": [{"line": line.pk, "counted": f"{line.expected:f}"}]}


def _done_move(company: Company) -> Move:
    base = stock_base(company)
    return Move.unscoped.filter(product=base.item, state=Move.State.DONE).order_by("pk").first()  # type: ignore[return-value]


# Path parameters of the inventory operations (the anonymous probe fills them with 1).
PATH_PARAMETERS: tuple[str, ...] = ("product_id", "move_id", "lot_id", "picking_id", "count_id")

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/inventory/warehouses"): lambda u, c: _sample({}),
    ("GET", "/inventory/locations"): lambda u, c: _sample({}, query={"usage": "internal"}),
    ("GET", "/inventory/stock"): lambda u, c: (
        stock_base(c),
        _sample({}, query={"warehouse": CODE}),
    )[1],
    ("GET", "/inventory/stock/{product_id}"): lambda u, c: _sample(
        {"product_id": stock_base(c).item.pk}, query={"warehouse": CODE}
    ),
    ("GET", "/inventory/moves"): lambda u, c: _sample({}, query={"state": "done"}),
    ("GET", "/inventory/moves/{move_id}"): lambda u, c: _sample({"move_id": _done_move(c).pk}),
    ("GET", "/inventory/lots"): lambda u, c: _sample({}, query={"q": "MX"}),
    ("GET", "/inventory/lots/{lot_id}"): lambda u, c: _sample({"lot_id": stock_base(c).lot.pk}),
    ("GET", "/inventory/lots/{lot_id}/trace"): lambda u, c: _sample(
        {"lot_id": stock_base(c).lot.pk}, query={"direction": "upstream"}
    ),
    ("GET", "/inventory/pickings"): lambda u, c: _sample({}, query={"kind": "receipt"}),
    ("POST", "/inventory/pickings"): lambda u, c: (
        stock_base(c),
        _sample(
            {},
            {
                "kind": "receipt",
                "warehouse": CODE,
                "lines": [{"sku": ITEM, "quantity": "3", "unit_cost": "10"}],
            },
        ),
    )[1],  # fmt: skip
    ("GET", "/inventory/pickings/{picking_id}"): _on_picking(),
    ("POST", "/inventory/pickings/{picking_id}/confirm"): _on_picking(),
    ("POST", "/inventory/pickings/{picking_id}/assign"): _on_picking(confirm=True),
    ("POST", "/inventory/pickings/{picking_id}/cancel"): _on_picking(),
    ("POST", "/inventory/pickings/{picking_id}/validate"): _on_picking(body={}),
    ("POST", "/inventory/pickings/{picking_id}/scan"): _on_picking(body={"code": ITEM}),
    ("GET", "/inventory/counts"): lambda u, c: _sample({}),
    ("POST", "/inventory/counts"): lambda u, c: _sample(
        {}, {"location": stock_base(c).stock.pk, "date": fh.DAY.isoformat()}
    ),
    ("GET", "/inventory/counts/{count_id}"): _on_count(),
    ("POST", "/inventory/counts/{count_id}/lines"): _on_count(body=_first_line_counted),
    ("POST", "/inventory/counts/{count_id}/done"): _on_count(counted=True),
    ("POST", "/inventory/counts/{count_id}/cancel"): _on_count(),
    ("GET", "/inventory/replenishment"): lambda u, c: _sample({}),
    ("GET", "/inventory/rules"): lambda u, c: _sample({}),
    ("POST", "/inventory/rules"): lambda u, c: (
        stock_base(c),
        _sample({}, {"sku": ITEM, "warehouse": CODE, "min_qty": "5", "max_qty": "20"}),
    )[1],  # fmt: skip
    ("GET", "/inventory/valuation"): lambda u, c: _sample({}, query={"as_of": "2026-12-31"}),
}
