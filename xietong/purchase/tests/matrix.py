"""What the shell's generated screen matrix needs from purchasing: one record of each purchase
kind per company (`purchase_records`, keys `purchase_…`, named CANARY-<key>-… for the isolation
probes), the URL name → record key of every purchase URL with a primary key, and the POST-only
views.

`purchase_records` runs after the other apps' records of the same company (the web tests'
`records` fixture): it loads the Chinese chart only when the company has none and brings its
own warehouse and purchase tax."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.finance.charts import chart_load
from xietong.finance.models import Account, Tax
from xietong.inventory.warehouses import warehouse_create
from xietong.purchase import landed, orders, receiving, requisitions, rfqs
from xietong.purchase.common import purchase_settings
from xietong.purchase.tests.factories import material, price, supplier
from xietong.workflow.shipped import deploy_all

D = Decimal
_serial = itertools.count(1)

URL_RECORDS = {
    "purchase:requisition_detail": "purchase_requisition",
    "purchase:requisition_submit": "purchase_requisition",
    "purchase:requisition_cancel": "purchase_requisition",
    "purchase:requisition_decide": "purchase_requisition_pending",
    "purchase:requisition_pdf": "purchase_requisition",
    "purchase:rfq_detail": "purchase_rfq",
    "purchase:rfq_send": "purchase_rfq",
    "purchase:rfq_cancel": "purchase_rfq",
    "purchase:rfq_invite": "purchase_rfq",
    "purchase:rfq_award": "purchase_rfq",
    "purchase:rfq_answer": "purchase_invitation",
    "purchase:rfq_pdf": "purchase_invitation",
    "purchase:order_detail": "purchase_order",
    "purchase:order_edit": "purchase_order_draft",
    "purchase:order_submit": "purchase_order_draft",
    "purchase:order_send": "purchase_order",
    "purchase:order_confirm": "purchase_order",
    "purchase:order_receive": "purchase_order",
    "purchase:order_cancel": "purchase_order_draft",
    "purchase:order_pdf": "purchase_order",
    "purchase:order_bill": "purchase_order",
    "purchase:line_close": "purchase_order_line",
    "purchase:receipt_pdf": "purchase_receipt",
    "purchase:supplier_price_edit": "purchase_supplier_price",
    "purchase:landed_detail": "purchase_landed",
    "purchase:landed_post": "purchase_landed",
    "purchase:landed_cancel": "purchase_landed",
}
POST_ONLY = {
    "purchase:requisition_submit",
    "purchase:requisition_cancel",
    "purchase:order_submit",
    "purchase:order_bill",
    "purchase:line_close",
    "purchase:rfq_send",
    "purchase:rfq_cancel",
    "purchase:rfq_invite",
    "purchase:rfq_award",
    "purchase:landed_post",
    "purchase:landed_cancel",
    "purchase:requisitions_replenish",
}


def purchase_records(company: Company, key: str) -> dict[str, Any]:
    """One record of each purchase kind in `company`: a draft requisition and one waiting for
    approval, a sent RFQ with an answered invitation, a draft order, an approved order half
    received (its receipt done, a line still open), and a supplier price; names and references are CANARY-<key>-…."""
    with company_scope(company):
        if not Account.unscoped.filter(company=company).exists():
            chart_load(company=company, template="cn")
        deploy_all(company=company, actor=None)
        code = f"P{next(_serial):03d}"
        warehouse = warehouse_create(company=company, code=code, name=f"Purchase {code}")
        settings = purchase_settings(company)
        if settings.warehouse_id is None:
            settings.warehouse = warehouse
        if settings.default_tax_id is None:
            settings.default_tax = Tax.unscoped.filter(company=company, use=Tax.Use.PURCHASE,
                                                       active=True).first()  # fmt: skip
        settings.save()
        vendor = supplier(company, f"CANARY-{key}-supplier", email=f"vendor-{key}@example.com")
        steel = material(company, "50", sku=f"CANARY-{key}-STEEL", name=f"CANARY-{key}-steel")
        supplier_price = price(company, vendor, steel, "45")
        draft_req = requisitions.requisition_create(
            company=company, actor=None, notes=f"CANARY-{key}-requisition",
            lines=[{"product": steel, "quantity": "2"}],
        )  # fmt: skip
        pending = requisitions.requisition_create(
            company=company, actor=None, lines=[{"product": steel, "quantity": "1000"}],
        )  # fmt: skip
        requisitions.requisition_submit(requisition=pending, actor=None)
        rfq = rfqs.rfq_create(company=company, actor=None, suppliers=[vendor],
                              notes=f"CANARY-{key}-rfq",
                              lines=[{"product": steel, "quantity": "5"}])  # fmt: skip
        invitation = rfq.suppliers.get()
        rfqs.bids_record(invitation=invitation, actor=None,
                         bids=[{"line": rfq.lines.get(), "unit_price": "44"}])  # fmt: skip
        draft = orders.order_create(company=company, actor=None, party=vendor,
                                    supplier_reference=f"CANARY-{key}-draft-po",
                                    lines=[{"product": steel, "quantity": "3"}])  # fmt: skip
        order = orders.order_create(company=company, actor=None, party=vendor,
                                    supplier_reference=f"CANARY-{key}-po",
                                    lines=[{"product": steel, "quantity": "10"}])  # fmt: skip
        orders.order_submit(order=order, actor=None)
        line = order.lines.get()
        receipt = receiving.order_receive(order=order, actor=None,
                                          lines=[{"line": line, "quantity": "4"}])  # fmt: skip
        landed_cost = landed.landed_cost_create(company=company, actor=None, pickings=[receipt],
                                                amount="12.00",
                                                description=f"CANARY-{key}-freight")  # fmt: skip
    return {
        "purchase_requisition": draft_req,
        "purchase_requisition_pending": pending,
        "purchase_rfq": rfq,
        "purchase_invitation": invitation,
        "purchase_order_draft": draft,
        "purchase_order": order,
        "purchase_order_line": line,
        "purchase_receipt": receipt,
        "purchase_supplier_price": supplier_price,
        "purchase_landed": landed_cost,
    }
