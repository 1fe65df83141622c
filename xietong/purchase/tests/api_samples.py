"""The purchase API's part of the API permission matrix (xietong/api/tests/test_permissions.py):
a small buying set-up per company (warehouse PAPI, a product with a supplier price, a supplier
with an e-mail address, a purchase tax, the shipped processes and the finance books when the
company has none yet, found again by code so each test database builds it once, whatever other
apps' samples made before) and, for each operation, a request that succeeds for a user holding
its permission. Operations that change a record get a record of their own on every call (a new
draft requisition to submit, a new received order to bill …)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from xietong.core.models import Company, User
from xietong.core.tenancy import company_scope
from xietong.finance.models import Account, AccountType, Invoice, Tax
from xietong.finance.tests.matrix import ledger
from xietong.inventory.models import Picking, Warehouse
from xietong.inventory.valuation import valuation_setup
from xietong.inventory.warehouses import warehouse_create
from xietong.party.models import Party
from xietong.product.models import Category, Product
from xietong.product.services import category_create
from xietong.purchase import landed, matching, orders, receiving, requisitions, rfqs
from xietong.purchase.common import purchase_settings
from xietong.purchase.models import (
    LandedCost,
    PurchaseOrder,
    Requisition,
    Rfq,
    SupplierPrice,
)
from xietong.purchase.tests.factories import material, price, supplier
from xietong.workflow.shipped import deploy_all

D = Decimal
CODE = "PAPI"
SKU = "PAPI-ITEM"
VENDOR = "Purchase API supplier"
_serial = itertools.count(1)


def _purchase_tax(company: Company) -> Tax:
    found = (
        Tax.unscoped.filter(company=company, use=Tax.Use.PURCHASE, active=True)
        .order_by("pk")
        .first()
    )
    if found is not None:
        return found
    account = (
        Account.unscoped.filter(company=company, is_group=False, active=True)
        .order_by("code")
        .first()
    )
    return Tax.unscoped.create(
        company=company, code="PAPI-VAT", name="Purchase API input VAT", use=Tax.Use.PURCHASE,
        rate=D(13), account=account,
    )  # fmt: skip


def _landed_account(company: Company) -> Account | None:
    rows = Account.unscoped.filter(company=company, is_group=False, active=True, reconcile=False)
    return (
        rows.filter(code__startswith="66").order_by("code").first() or rows.order_by("code").first()
    )


def _category(company: Company) -> Category:
    """A product category of its own whose valuation books received goods to a GR/IR account
    (1402, made when the chart has none), as supplier invoices of stocked goods need."""
    gr_ir = Account.unscoped.filter(company=company, code="1402").first()
    if gr_ir is None:
        gr_ir = Account.unscoped.create(
            company=company, code="1402", name="Goods received, not invoiced",
            type=AccountType.ASSET,
        )  # fmt: skip
    category = category_create(company=company, actor=None, name="Purchase API")
    valuation_setup(company=company, category=category, input_account=gr_ir)
    return category


def purchase_base(company: Company) -> SimpleNamespace:
    """Warehouse PAPI (one reception step), the product PAPI-ITEM (standard cost 40) that the
    supplier sells at 40, the supplier (with an e-mail address), a purchase tax, the shipped
    processes (approvals), the finance books when the company has no accounts yet, and the
    purchase settings pointing at them; created on first use in the company."""
    with company_scope(company):
        warehouse = Warehouse.unscoped.filter(company=company, code=CODE).first()
        if warehouse is None:
            if not Account.unscoped.filter(company=company).exists():
                ledger(company)
            deploy_all(company=company, actor=None)
            warehouse = warehouse_create(company=company, code=CODE, name="Purchase API")
            product = material(
                company, "40", sku=SKU, name="Purchase API item", category=_category(company)
            )
            vendor = supplier(company, VENDOR, email="vendor@example.com")
            price(company, vendor, product, "40")
            settings = purchase_settings(company)
            settings.warehouse = warehouse
            settings.default_tax = _purchase_tax(company)
            settings.landed_cost_account = _landed_account(company)
            settings.save()
        product = Product.unscoped.get(company=company, sku=SKU)
        vendor = Party.unscoped.filter(company=company, name=VENDOR).order_by("pk").first()
    return SimpleNamespace(warehouse=warehouse, product=product, vendor=vendor)


def requisition(company: Company, *, submit: bool = False, big: bool = False) -> Requisition:
    """A new draft requisition of 2 PAPI-ITEM (1000 with `big`, above the approval limit);
    with `submit` approved (or, `big`, waiting for approval)."""
    base = purchase_base(company)
    with company_scope(company):
        made = requisitions.requisition_create(
            company=company, actor=None, notes=f"Matrix {next(_serial)}",
            lines=[{"product": base.product, "quantity": D(1000 if big else 2)}],
        )  # fmt: skip
        if submit:
            made = requisitions.requisition_submit(requisition=made, actor=None)
        return made


def rfq(company: Company, *, answered: bool = False) -> Rfq:
    """A new draft RFQ of 5 PAPI-ITEM inviting the supplier; with `answered` its bid of 39."""
    base = purchase_base(company)
    with company_scope(company):
        made = rfqs.rfq_create(
            company=company, actor=None, suppliers=[base.vendor], notes=f"Matrix {next(_serial)}",
            lines=[{"product": base.product, "quantity": D(5)}],
        )  # fmt: skip
        if answered:
            rfqs.bids_record(invitation=made.suppliers.get(), actor=None,
                             bids=[{"line": made.lines.get(), "unit_price": D(39)}])  # fmt: skip
        return made


def order(company: Company, *, approve: bool = False, receive: str = "") -> PurchaseOrder:
    """A new draft order of 10 PAPI-ITEM at 40 (approved at once when submitted, with
    `approve`); `receive`: the quantity received on it."""
    base = purchase_base(company)
    with company_scope(company):
        made = orders.order_create(
            company=company, actor=None, party=base.vendor,
            supplier_reference=f"Matrix {next(_serial)}",
            lines=[{"product": base.product, "quantity": D(10)}],
        )  # fmt: skip
        if approve or receive:
            made = orders.order_submit(order=made, actor=None)
        if receive:
            receiving.order_receive(order=made, actor=None,
                                    lines=[{"line": made.lines.get(), "quantity": D(receive)}])  # fmt: skip
        return made


def receipt(company: Company) -> Picking:
    """The done receipt of a new order that received 4 of 10."""
    made = order(company, receive="4")
    with company_scope(company):
        return Picking.unscoped.get(
            source_type=orders.ORDER_SOURCE, source_id=made.pk, state=Picking.State.DONE
        )


def draft_invoice(company: Company) -> Invoice:
    """A draft supplier invoice of a new order that received 4."""
    received = order(company, receive="4")
    with company_scope(company):
        return matching.invoice_from_orders(company=company, actor=None, orders=[received])


def landed_cost(company: Company) -> LandedCost:
    """A new draft landed cost of 20 on a new receipt."""
    done = receipt(company)
    with company_scope(company):
        return landed.landed_cost_create(company=company, actor=None, pickings=[done],
                                         amount=D(20), description="Freight")  # fmt: skip


def supplier_price(company: Company) -> SupplierPrice:
    base = purchase_base(company)
    with company_scope(company):
        return price(company, base.vendor, base.product, "38", min_quantity="100")


def _sample(
    path_params: dict[str, Any],
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def _on_requisition(*, submit: bool = False, big: bool = False, body: Any = None) -> Any:
    return lambda u, c: _sample({"requisition_id": requisition(c, submit=submit, big=big).pk}, body)


def _on_rfq(*, answered: bool = False, body: Any = None) -> Any:
    return lambda u, c: _sample({"rfq_id": rfq(c, answered=answered).pk}, body)


def _on_invitation(*, body: Any = None) -> Any:
    def make(u: User, c: Company) -> dict[str, Any]:
        made = rfq(c)
        with company_scope(c):
            return _sample({"invitation_id": made.suppliers.get().pk}, body)

    return make


def _on_order(*, approve: bool = False, receive: str = "", body: Any = None) -> Any:
    return lambda u, c: _sample({"order_id": order(c, approve=approve, receive=receive).pk}, body)


def _on_landed(*, body: Any = None) -> Any:
    return lambda u, c: _sample({"landed_id": landed_cost(c).pk}, body)


def _on_price(*, body: Any = None) -> Any:
    return lambda u, c: _sample({"price_id": supplier_price(c).pk}, body)


def _sourcing_body(company: Company) -> dict[str, Any]:
    approved = requisition(company, submit=True)
    with company_scope(company):
        return {"lines": [{"line": approved.lines.get().pk}]}


def _award(u: User, c: Company) -> dict[str, Any]:
    made = rfq(c, answered=True)
    with company_scope(c):
        bid = made.suppliers.get().bids.get()
    return _sample({"rfq_id": made.pk}, {"awards": [{"bid": bid.pk, "quantity": "5"}]})


def _bids(u: User, c: Company) -> dict[str, Any]:
    made = rfq(c)
    with company_scope(c):
        invitation, line = made.suppliers.get(), made.lines.get()
    return _sample({"invitation_id": invitation.pk},
                   {"bids": [{"line": line.pk, "unit_price": "39"}], "reference": "Q-1"})  # fmt: skip


def _receive(u: User, c: Company) -> dict[str, Any]:
    made = order(c, approve=True)
    with company_scope(c):
        line = made.lines.get()
    return _sample({"order_id": made.pk}, {"lines": [{"line": line.pk, "quantity": "4"}]})


def _line_close(u: User, c: Company) -> dict[str, Any]:
    made = order(c, approve=True)
    with company_scope(c):
        return _sample({"line_id": made.lines.get().pk})


def _landed_body(company: Company) -> dict[str, Any]:
    return {"pickings": [receipt(company).pk], "amount": "20", "description": "Freight"}


def _price_body(company: Company) -> dict[str, Any]:
    base = purchase_base(company)
    return {"supplier": base.vendor.pk, "sku": SKU, "price": "37", "min_quantity": "500"}


def _requisition_body(company: Company) -> dict[str, Any]:
    purchase_base(company)
    return {"lines": [{"sku": SKU, "quantity": "2", "reason": "Matrix"}]}


def _create_order_body(company: Company) -> dict[str, Any]:
    base = purchase_base(company)
    return {"party": base.vendor.pk, "lines": [{"sku": SKU, "quantity": "3"}]}


# Path parameters of the purchase operations (the anonymous probe fills them with 1).
PATH_PARAMETERS: tuple[str, ...] = (
    "requisition_id", "rfq_id", "invitation_id", "order_id", "line_id", "invoice_id",
    "landed_id", "party_id", "price_id",
)  # fmt: skip

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/purchase/requisitions"): lambda u, c: _sample({}, query={"state": "draft"}),
    ("POST", "/purchase/requisitions"): lambda u, c: _sample({}, _requisition_body(c)),
    ("GET", "/purchase/requisitions/{requisition_id}"): _on_requisition(),
    ("POST", "/purchase/requisitions/{requisition_id}/submit"): _on_requisition(),
    ("POST", "/purchase/requisitions/{requisition_id}/approve"): _on_requisition(
        submit=True, big=True, body={}
    ),
    ("POST", "/purchase/requisitions/{requisition_id}/reject"): _on_requisition(
        submit=True, big=True, body={"comment": "Too much"}
    ),
    ("POST", "/purchase/requisitions/{requisition_id}/cancel"): _on_requisition(),
    ("POST", "/purchase/requisitions/orders"): lambda u, c: _sample({}, _sourcing_body(c)),
    ("GET", "/purchase/rfqs"): lambda u, c: _sample({}, query={"state": "draft"}),
    ("POST", "/purchase/rfqs"): lambda u, c: _sample(
        {}, {"lines": [{"sku": SKU, "quantity": "5"}], "suppliers": [purchase_base(c).vendor.pk]}
    ),
    ("GET", "/purchase/rfqs/{rfq_id}"): _on_rfq(),
    ("GET", "/purchase/rfqs/{rfq_id}/comparison"): _on_rfq(answered=True),
    ("POST", "/purchase/rfqs/{rfq_id}/invite"): lambda u, c: _sample(
        {"rfq_id": rfq(c).pk}, {"suppliers": [purchase_base(c).vendor.pk]}
    ),
    ("POST", "/purchase/rfqs/{rfq_id}/send"): _on_rfq(body={}),
    ("POST", "/purchase/rfqs/{rfq_id}/award"): _award,
    ("POST", "/purchase/rfqs/{rfq_id}/cancel"): _on_rfq(),
    ("POST", "/purchase/rfq-suppliers/{invitation_id}/bids"): _bids,
    ("POST", "/purchase/rfq-suppliers/{invitation_id}/decline"): _on_invitation(
        body={"reason": "Busy"}
    ),
    ("GET", "/purchase/rfq-suppliers/{invitation_id}/pdf"): _on_invitation(),
    ("GET", "/purchase/orders"): lambda u, c: _sample({}, query={"state": "draft"}),
    ("POST", "/purchase/orders"): lambda u, c: _sample({}, _create_order_body(c)),
    ("GET", "/purchase/orders/{order_id}"): _on_order(),
    ("PATCH", "/purchase/orders/{order_id}"): _on_order(body={"notes": "Matrix"}),
    ("POST", "/purchase/orders/{order_id}/submit"): _on_order(),
    ("POST", "/purchase/orders/{order_id}/send"): _on_order(approve=True, body={"message": "Hi"}),
    ("POST", "/purchase/orders/{order_id}/confirm"): _on_order(
        approve=True, body={"supplier_reference": "SC-1"}
    ),
    ("POST", "/purchase/orders/{order_id}/receive"): _receive,
    ("POST", "/purchase/orders/{order_id}/cancel"): _on_order(body={"reason": "Matrix"}),
    ("POST", "/purchase/orders/{order_id}/bill"): _on_order(receive="4", body={}),
    ("GET", "/purchase/orders/{order_id}/receipts"): _on_order(receive="4"),
    ("GET", "/purchase/orders/{order_id}/pdf"): _on_order(),
    ("POST", "/purchase/order-lines/{line_id}/close"): _line_close,
    ("GET", "/purchase/matches"): lambda u, c: _sample({}, query={"state": "mismatch"}),
    ("POST", "/purchase/invoices/{invoice_id}/match"): lambda u, c: _sample(
        {"invoice_id": draft_invoice(c).pk}
    ),
    ("GET", "/purchase/landed-costs"): lambda u, c: _sample({}, query={"state": "draft"}),
    ("POST", "/purchase/landed-costs"): lambda u, c: _sample({}, _landed_body(c)),
    ("GET", "/purchase/landed-costs/{landed_id}"): _on_landed(),
    ("POST", "/purchase/landed-costs/{landed_id}/post"): _on_landed(),
    ("POST", "/purchase/landed-costs/{landed_id}/cancel"): _on_landed(),
    ("GET", "/purchase/suppliers/{party_id}/scorecard"): lambda u, c: _sample(
        {"party_id": purchase_base(c).vendor.pk}
    ),
    ("GET", "/purchase/supplier-prices"): lambda u, c: _sample({}, query={"q": SKU}),
    ("POST", "/purchase/supplier-prices"): lambda u, c: _sample({}, _price_body(c)),
    ("PATCH", "/purchase/supplier-prices/{price_id}"): _on_price(body={"price": "36"}),
    ("DELETE", "/purchase/supplier-prices/{price_id}"): _on_price(),
    ("GET", "/purchase/settings"): lambda u, c: _sample({}),
    ("PATCH", "/purchase/settings"): lambda u, c: _sample({}, {"rfq_answer_days": 10}),
}
