"""The sales API's part of the API permission matrix (xietong/api/tests/test_permissions.py): a
small selling set-up per company (warehouse SAPI with a stocked product, a customer and the
finance books, found again by code so each test database builds it once, whatever other
apps' samples made before) and, for each operation, a request that succeeds for a user holding
its permission. Operations that change a record get a record of their own on every call (a new
draft quotation to submit, a new delivered order to return …)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.utils import timezone

from xietong.core.models import Company, User
from xietong.core.tenancy import company_scope
from xietong.finance.models import Account, Tax
from xietong.finance.tests.matrix import ledger
from xietong.inventory import pickings
from xietong.inventory.models import Picking, Warehouse
from xietong.inventory.warehouses import warehouse_create
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.sales import documents, returns
from xietong.sales.common import sales_settings
from xietong.sales.models import Quotation, ReturnOrder, SalesOrder
from xietong.sales.tests.factories import customer, item, receive

CODE = "SAPI"
SKU = "SAPI-ITEM"
BUYER = "Sales API customer"
_serial = itertools.count(1)


def sales_base(company: Company) -> SimpleNamespace:
    """Warehouse SAPI (one step) with 100,000 of SAPI-ITEM in stock, a customer, the finance
    books when the company has no chart yet, and the sales settings pointing at SAPI with a
    sales tax; created on first use in the company."""
    with company_scope(company):
        warehouse = Warehouse.unscoped.filter(company=company, code=CODE).first()
        if warehouse is None:
            if not Account.unscoped.filter(company=company).exists():
                ledger(company)
            warehouse = warehouse_create(company=company, code=CODE, name="Sales API")
            product = item(company, "100", sku=SKU, name="Sales API item")
            receive(product, 100_000, warehouse.stock_location, "60")
            customer(company, BUYER, email="buyer@example.com")
            settings = sales_settings(company)
            settings.warehouse = warehouse
            settings.default_tax = (
                Tax.unscoped.filter(company=company, use=Tax.Use.SALE, active=True)
                .order_by("pk")
                .first()
            )
            settings.save()
        product = Product.unscoped.get(company=company, sku=SKU)
        buyer = Party.unscoped.filter(company=company, name=BUYER).order_by("pk").first()
    return SimpleNamespace(warehouse=warehouse, product=product, buyer=buyer)


def lines_body(quantity: str = "2") -> list[dict[str, Any]]:
    return [{"sku": SKU, "quantity": quantity, "unit_price": "100.00"}]


def quotation(company: Company, *, sent: bool = False) -> Quotation:
    """A new draft (or sent) quotation of 2 SAPI-ITEM."""
    base = sales_base(company)
    with company_scope(company):
        made = documents.quotation_create(
            company=company, actor=None, party=base.buyer,
            lines=[{"product": base.product, "quantity": Decimal(2), "unit_price": Decimal(100)}],
            customer_reference=f"Matrix {next(_serial)}",
        )  # fmt: skip
        return documents.quotation_mark_sent(quotation=made, actor=None) if sent else made


def order(company: Company, *, confirm: bool = False, deliver: bool = False) -> SalesOrder:
    """A new draft (or confirmed, or delivered) order of 2 SAPI-ITEM, invoiced on ordered
    quantities."""
    base = sales_base(company)
    with company_scope(company):
        made = documents.order_create(
            company=company, actor=None, party=base.buyer, invoice_policy="order",
            lines=[{"product": base.product, "quantity": Decimal(2), "unit_price": Decimal(100)}],
        )  # fmt: skip
        if confirm or deliver:
            made = documents.order_confirm(order=made, actor=None)
        if deliver:
            for picking in documents.order_pickings(made):
                if picking.state == Picking.State.READY:
                    pickings.picking_done(picking=picking, actor=None)
        return made


def rma(company: Company, *, receive_it: bool = False) -> ReturnOrder:
    """A new authorised (or received) return of 1 SAPI-ITEM of a new delivered order."""
    delivered = order(company, deliver=True)
    with company_scope(company):
        made = returns.return_create(
            order=delivered, actor=None, reason="Matrix",
            lines=[{"order_line": delivered.lines.get(), "quantity": Decimal(1)}],
            date=timezone.localdate(),
        )  # fmt: skip
        return returns.return_receive(rma=made, actor=None) if receive_it else made


def _sample(
    path_params: dict[str, Any],
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def _on_quotation(*, sent: bool = False, body: dict[str, Any] | None = None) -> Any:
    return lambda u, c: _sample({"quotation_id": quotation(c, sent=sent).pk}, body)


def _on_order(*, confirm: bool = False, deliver: bool = False, body: Any = None) -> Any:
    return lambda u, c: _sample({"order_id": order(c, confirm=confirm, deliver=deliver).pk}, body)


def _on_return(*, receive_it: bool = False, body: Any = None) -> Any:
    return lambda u, c: _sample({"return_id": rma(c, receive_it=receive_it).pk}, body)


def _create_body(company: Company, **extra: Any) -> dict[str, Any]:
    base = sales_base(company)
    return {"party": base.buyer.pk, "lines": lines_body(), **extra}


def _return_body(company: Company) -> dict[str, Any]:
    delivered = order(company, deliver=True)
    with company_scope(company):
        line = delivered.lines.get()
    return {
        "order": delivered.pk,
        "reason": "Matrix",
        "lines": [{"order_line": line.pk, "quantity": "1"}],
    }


# Path parameters of the sales operations (the anonymous probe fills them with 1).
PATH_PARAMETERS: tuple[str, ...] = ("quotation_id", "order_id", "return_id")

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/sales/quotations"): lambda u, c: _sample({}, query={"state": "draft"}),
    ("POST", "/sales/quotations"): lambda u, c: _sample({}, _create_body(c)),
    ("GET", "/sales/quotations/{quotation_id}"): _on_quotation(),
    ("PATCH", "/sales/quotations/{quotation_id}"): _on_quotation(body={"notes": "Matrix"}),
    ("POST", "/sales/quotations/{quotation_id}/submit"): _on_quotation(),
    ("POST", "/sales/quotations/{quotation_id}/send"): _on_quotation(body={"message": "Hello"}),
    ("POST", "/sales/quotations/{quotation_id}/revise"): _on_quotation(sent=True),
    ("POST", "/sales/quotations/{quotation_id}/lost"): _on_quotation(body={"reason": "Price"}),
    ("POST", "/sales/quotations/{quotation_id}/cancel"): _on_quotation(),
    ("POST", "/sales/quotations/{quotation_id}/accept"): _on_quotation(
        sent=True, body={"confirm": False}
    ),
    ("GET", "/sales/quotations/{quotation_id}/pdf"): _on_quotation(),
    ("GET", "/sales/orders"): lambda u, c: _sample({}, query={"state": "draft"}),
    ("POST", "/sales/orders"): lambda u, c: _sample({}, _create_body(c)),
    ("GET", "/sales/orders/{order_id}"): _on_order(),
    ("POST", "/sales/orders/{order_id}/confirm"): _on_order(),
    ("POST", "/sales/orders/{order_id}/cancel"): _on_order(body={"reason": "Matrix"}),
    ("POST", "/sales/orders/{order_id}/invoice"): _on_order(confirm=True, body={}),
    ("POST", "/sales/orders/{order_id}/down-payment"): _on_order(
        confirm=True, body={"percent": "10"}
    ),
    ("GET", "/sales/orders/{order_id}/deliveries"): _on_order(confirm=True),
    ("GET", "/sales/orders/{order_id}/pdf"): _on_order(confirm=True),
    ("GET", "/sales/returns"): lambda u, c: _sample({}, query={"state": "authorised"}),
    ("POST", "/sales/returns"): lambda u, c: _sample({}, _return_body(c)),
    ("GET", "/sales/returns/{return_id}"): _on_return(),
    ("POST", "/sales/returns/{return_id}/receive"): _on_return(body={}),
    ("POST", "/sales/returns/{return_id}/credit"): _on_return(receive_it=True, body={}),
    ("POST", "/sales/returns/{return_id}/cancel"): _on_return(),
}
