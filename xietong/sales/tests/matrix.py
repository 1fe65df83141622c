"""What the shell's generated screen matrix needs from sales: one record of each sales kind per
company (`sales_records`, keys `sales_…`, named CANARY-<key>-… for the isolation probes), the
URL name → record key of every sales URL with a primary key, and the POST-only views.

`sales_records` runs after the finance and inventory records of the same company (the web
tests' `records` fixture), so the company may already have a chart of accounts (finance's
small test chart), warehouses and price lists: it loads the Chinese chart only when the company
has none, and otherwise brings its own sales tax, price list and warehouse."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

from xietong.core.models import Company
from xietong.core.tenancy import company_scope
from xietong.finance.charts import chart_load
from xietong.finance.models import Account, Tax
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Picking
from xietong.inventory.warehouses import warehouse_create
from xietong.party.services import party_set_credit_terms
from xietong.product import pricing
from xietong.sales import billing, documents, returns
from xietong.sales.common import sales_settings
from xietong.sales.models import Quotation
from xietong.sales.tests.factories import customer, item, receive
from xietong.workflow.shipped import deploy_all

D = Decimal
_serial = itertools.count(1)

# URL name -> key of the record (in the web tests' `records` fixture) its pk comes from.
URL_RECORDS = {
    "sales:quotation_detail": "sales_quotation",
    "sales:quotation_edit": "sales_quotation",
    "sales:quotation_submit": "sales_quotation",
    "sales:quotation_send": "sales_quotation",
    "sales:quotation_pdf": "sales_quotation",
    "sales:quotation_revise": "sales_quotation_sent",
    "sales:quotation_lost": "sales_quotation",
    "sales:quotation_accept": "sales_quotation_sent",
    "sales:quotation_cancel": "sales_quotation",
    "sales:order_detail": "sales_order",
    "sales:order_confirm": "sales_order_draft",
    "sales:order_cancel": "sales_order",
    "sales:order_invoice": "sales_order",
    "sales:order_down_payment": "sales_order",
    "sales:order_send": "sales_order",
    "sales:order_pdf": "sales_order",
    "sales:delivery_note_pdf": "sales_delivery",
    "sales:return_create": "sales_order_done",
    "sales:return_detail": "sales_return",
    "sales:return_receive": "sales_return",
    "sales:return_credit": "sales_return",
    "sales:return_cancel": "sales_return",
}
# Views that only accept POST.
POST_ONLY = {
    "sales:quotation_lines",
    "sales:order_lines",
    "sales:quotation_submit",
    "sales:quotation_revise",
    "sales:quotation_cancel",
    "sales:order_confirm",
    "sales:return_receive",
    "sales:return_cancel",
}


def sales_ready(company: Company) -> Any:
    """What selling needs in `company`, whatever is there already: a chart (the Chinese one when
    there is none), an active sales tax, the shipped approval processes, a warehouse of its own
    and a price list in the company's currency. Returns (warehouse, price list, tax)."""
    if not Account.unscoped.filter(company=company).exists():
        chart_load(company=company, template="cn")
    tax = (
        Tax.unscoped.filter(company=company, use=Tax.Use.SALE, active=True, price_include=False)
        .order_by("-rate", "pk")
        .first()
    )
    if tax is None:
        vat_account = Account.unscoped.filter(
            company=company, is_group=False, active=True, type="liability"
        ).order_by("code").first()  # fmt: skip
        tax = Tax.unscoped.create(
            company=company, code=f"SVAT{next(_serial)}", name="VAT 13%", use=Tax.Use.SALE,
            rate=D(13), account=vat_account,
        )  # fmt: skip
    deploy_all(company=company, actor=None)
    code = f"S{next(_serial):03d}"
    warehouse = warehouse_create(company=company, code=code, name=f"Sales {code}")
    prices = pricing.price_list_create(
        company=company, actor=None, name=f"Sales prices {code}",
        currency=company.base_currency_id,
    )  # fmt: skip
    settings = sales_settings(company)
    if settings.warehouse_id is None or settings.default_tax_id is None:
        settings.warehouse = settings.warehouse or warehouse
        settings.default_tax = settings.default_tax or tax
        settings.save()
    return warehouse, prices, tax


def sales_records(company: Company, key: str) -> dict[str, Any]:
    """One record of each sales kind in `company`: a draft quotation, a sent one, one waiting
    for discount approval, a draft order, a confirmed order (reserved, not shipped), an order
    held on credit, a done order (delivered and invoiced) with its delivery, and an authorised
    return of it; customer references and reasons are CANARY-<key>-…."""
    with company_scope(company):
        warehouse, prices, tax = sales_ready(company)
        buyer = customer(company, f"CANARY-{key}-customer", email=f"buyer-{key}@example.com")
        careful = party_set_credit_terms(
            party=customer(company, f"CANARY-{key}-held"), actor=None, credit_limit=D(10),
            payment_term=None,
        )  # fmt: skip
        bike = item(company, "1000", sku=f"CANARY-{key}-BIKE", name=f"CANARY-{key}-bike")
        receive(bike, 20, warehouse.stock_location, "600")
        header = {"warehouse": warehouse, "price_list": prices}
        line = {"product": bike, "quantity": D(2), "taxes": [tax]}

        def quote(ref: str, **extra: Any) -> Quotation:
            return documents.quotation_create(
                company=company, actor=None, party=buyer, customer_reference=f"CANARY-{key}-{ref}",
                lines=[{**line, **extra}], **header,
            )  # fmt: skip

        draft = quote("quote")
        sent = documents.quotation_mark_sent(quotation=quote("sent"), actor=None)
        waiting = documents.quotation_submit(quotation=quote("approval", discount=D(40)),
                                             actor=None)  # fmt: skip

        def order(ref: str, party: Any = buyer, **extra: Any) -> Any:
            return documents.order_create(
                company=company, actor=None, party=party, lines=[line],
                customer_reference=f"CANARY-{key}-{ref}", **header, **extra,
            )  # fmt: skip

        draft_order = order("draft-order")
        confirmed = documents.order_confirm(order=order("order"), actor=None)
        held = documents.order_confirm(order=order("held", careful), actor=None)
        done = documents.order_confirm(order=order("done"), actor=None)
        for picking in documents.order_pickings(done):
            if picking.state == Picking.State.READY:
                picking_services.picking_done(picking=picking)
        invoice = billing.order_invoice(order=done, actor=None, post=True)
        delivery = next(
            p for p in documents.order_pickings(done) if p.kind == Picking.Kind.DELIVERY
        )
        rma = returns.return_create(
            order=done, actor=None, reason=f"CANARY-{key}-return",
            lines=[{"order_line": done.lines.get(), "quantity": D(1)}],
        )  # fmt: skip
        done.refresh_from_db()
    return {
        "sales_customer": buyer,
        "sales_product": bike,
        "sales_quotation": draft,
        "sales_quotation_sent": sent,
        "sales_quotation_waiting": waiting,
        "sales_order_draft": draft_order,
        "sales_order": confirmed,
        "sales_order_held": held,
        "sales_order_done": done,
        "sales_invoice": invoice,
        "sales_delivery": delivery,
        "sales_return": rma,
    }
