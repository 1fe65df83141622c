"""REST endpoints of purchasing (mounted at `/api/v1` by `xietong.api`), following the
conventions of `xietong.core.api`: a permission under every route, scoped querysets (another
company's record is not found), `@paginate`d lists, `@idempotent` creating POSTs answering 201,
writes through the services, decimals as strings.

Procure to pay: requisitions (create, optionally submitted at once, submit, approve or reject
by someone else than the requester, cancel, turn open lines into draft orders), requests for
quotation (create from lines or requisition lines, invite, send, record the suppliers' answers
or declines, compare, award into draft orders, cancel), purchase orders (create, change a
draft, submit for approval, send, record the supplier's confirmation, receive with inspection,
close a line, cancel, bill into a draft supplier invoice with its 3-way match), the matches,
landed costs, supplier scorecards, supplier prices and the purchase settings; order and RFQ
PDFs.

Request bodies name suppliers, contacts, payment terms, requisition lines, RFQ lines, bids,
order lines, receipts and invoices by id; products by id or SKU; warehouses, units, taxes,
currencies and accounts by code. Quantities are in the line's unit. Invalid input answers 422
with field errors (`lines.0.quantity`, `bids.1.unit_price`, `awards.0.quantity`: positions
count from 0, as in the request); a refusal of the purchase services that concerns no single
field (a document in the wrong state, nothing to bill …) answers 422 with its reason in
`detail` and its `code` (`state`, `sourced` …). Either way nothing is saved. Approving your
own requisition, or without `purchase.approve`, answers 403 with the reason.

A holder of `purchase.request` alone (staff raising requisitions) lists only their own
requisitions; buyers and others with `purchase.view` list the company's.
"""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Prefetch, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from xietong.core.api import DecimalString, refusals_of
from xietong.core.idempotency import idempotent
from xietong.core.models import UnitOfMeasure
from xietong.core.permissions import has_perm, requires
from xietong.finance.models import Account, Invoice, Tax
from xietong.finance.posting import PostingError
from xietong.inventory.models import Move, Picking, Warehouse
from xietong.inventory.stock import StockError
from xietong.party.models import Contact, Party, PaymentTerm
from xietong.product.models import Product
from xietong.purchase import (
    configuration,
    landed,
    matching,
    orders,
    receiving,
    requisitions,
    rfqs,
    scorecard,
    sending,
)
from xietong.purchase.common import PurchaseError, purchase_settings
from xietong.purchase.models import (
    BilledLine,
    Inspection,
    InvoiceMatch,
    LandedCost,
    LandedCostLine,
    PurchaseOrder,
    PurchaseOrderLine,
    Requisition,
    RequisitionLine,
    Rfq,
    RfqBid,
    RfqLine,
    RfqSupplier,
    SupplierPrice,
)

router = Router(tags=["purchase"])

RequisitionState = Literal["draft", "to_approve", "approved", "rejected", "done", "cancelled"]
RequisitionSource = Literal["manual", "replenishment", "mrp"]
RfqState = Literal["draft", "sent", "awarded", "cancelled"]
OrderState = Literal["draft", "to_approve", "approved", "sent", "confirmed", "done", "cancelled"]
MatchState = Literal["matched", "mismatch", "accepted"]
LandedState = Literal["draft", "done", "cancelled"]
Split = Literal["value", "quantity", "weight", "equal"]
OPEN_ORDER = ("approved", "sent", "confirmed")
PDF_RESPONSE = {
    "responses": {
        "200": {
            "description": "The document as a PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


# --- schemas: requisitions ----------------------------------------------------------------------


class ProductLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    product: int | None = Field(None, description="product id (or give `sku`)")
    sku: str | None = Field(None, description="product SKU (or give `product`)")
    quantity: DecimalString
    uom: str | None = Field(None, description="unit code; default: the product's purchase unit")
    need_date: dt.date | None = Field(
        None, description="default: today + the supplier's or the product's lead time"
    )
    description: str = Field("", description="default: the product's name")


class RequisitionLineIn(ProductLineIn):
    reason: str = ""
    supplier: int | None = Field(None, description="id of a suggested supplier")
    price_estimate: DecimalString | None = Field(
        None, description="default: the cheapest supplier price, else the standard cost"
    )


class RequisitionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    warehouse: str | None = Field(None, description="warehouse code; default: the settings'")
    date: dt.date | None = Field(None, description="default: today")
    notes: str = ""
    lines: list[RequisitionLineIn]
    submit: bool = Field(False, description="true: submit it at once")


class RequisitionLineOut(Schema):
    id: int
    sequence: int
    product: int = Field(..., alias="product_id")
    sku: str
    description: str
    quantity: DecimalString
    uom: str
    need_date: dt.date
    reason: str
    supplier: int | None = Field(None, alias="supplier_id")
    price_estimate: DecimalString
    state: str
    rfq_line: int | None = Field(None, alias="rfq_line_id")
    rfq: int | None = Field(None, description="the RFQ that took the line")
    order_line: int | None = Field(None, alias="order_line_id")
    order: int | None = Field(None, description="the purchase order that took the line")

    @staticmethod
    def resolve_sku(obj: RequisitionLine) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_uom(obj: RequisitionLine) -> str:
        return obj.uom.code

    @staticmethod
    def resolve_rfq(obj: RequisitionLine) -> int | None:
        return obj.rfq_line.rfq_id if obj.rfq_line_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_order(obj: RequisitionLine) -> int | None:
        return obj.order_line.order_id if obj.order_line_id else None  # type: ignore[union-attr]


class RequisitionBrief(Schema):
    id: int
    number: str
    state: str
    source: str
    requester: int | None = Field(None, alias="requester_id")
    date: dt.date
    warehouse: str = Field(..., description="warehouse code")
    amount_estimate: DecimalString = Field(..., description="in the company currency")

    @staticmethod
    def resolve_warehouse(obj: Requisition) -> str:
        return obj.warehouse.code


class RequisitionOut(RequisitionBrief):
    notes: str
    decided_by: int | None = Field(None, alias="decided_by_id")
    decided_at: dt.datetime | None
    decision_comment: str
    created_at: dt.datetime
    lines: list[RequisitionLineOut]

    @staticmethod
    def resolve_lines(obj: Requisition) -> list[RequisitionLine]:
        return list(obj.lines.all())


class RequisitionFilters(Schema):
    state: RequisitionState | None = None
    source: RequisitionSource | None = None
    q: str | None = Field(None, description="part of the number, notes, a product's SKU or name")


class DecisionIn(Schema):
    model_config = ConfigDict(extra="forbid")

    comment: str = Field("", description="required to reject")


class SourceLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(..., description="id of an open line of an approved requisition")
    supplier: int | None = Field(
        None, description="supplier id; default: the line's suggested one, else the cheapest"
    )


class SourceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lines: list[SourceLineIn]
    date: dt.date | None = Field(None, description="order date; default: today")


# --- schemas: orders ----------------------------------------------------------------------------


class OrderLineIn(ProductLineIn):
    unit_price: DecimalString | None = Field(
        None, description="default: the supplier's price for the quantity, else standard cost"
    )
    discount: DecimalString | None = Field(None, description="percent")
    taxes: list[str] | None = Field(
        None, description="tax codes; default: the settings' purchase tax; [] for none"
    )
    promised_date: dt.date | None = None


class OrderHeaderIn(Schema):
    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = Field(None, description="default: today")
    currency: str | None = Field(None, description="default: the supplier's, else the company's")
    warehouse: str | None = Field(None, description="warehouse code; default: the settings'")
    payment_term: int | None = Field(None, description="default: the supplier's")
    contact: int | None = Field(None, description="one of the supplier's contacts")
    supplier_reference: str | None = None
    notes: str | None = None
    language: str | None = None


class OrderIn(OrderHeaderIn):
    party: int = Field(..., description="supplier id")
    lines: list[OrderLineIn]


class OrderPatch(OrderHeaderIn):
    party: int | None = Field(None, description="supplier id")
    lines: list[OrderLineIn] | None = Field(None, description="replaces every line")


class OrderLineOut(Schema):
    id: int
    sequence: int
    product: int = Field(..., alias="product_id")
    sku: str
    description: str
    quantity: DecimalString
    uom: str
    unit_price: DecimalString
    discount: DecimalString = Field(..., description="percent")
    taxes: list[str] = Field(..., description="tax codes")
    amount_untaxed: DecimalString
    amount_tax: DecimalString
    amount_total: DecimalString
    need_date: dt.date
    promised_date: dt.date | None
    qty_received: DecimalString = Field(..., description="accepted into stock")
    qty_rejected: DecimalString = Field(..., description="rejected at inspection")
    qty_billed: DecimalString = Field(..., description="on posted supplier invoices")
    closed: bool

    @staticmethod
    def resolve_sku(obj: PurchaseOrderLine) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_uom(obj: PurchaseOrderLine) -> str:
        return obj.uom.code

    @staticmethod
    def resolve_taxes(obj: PurchaseOrderLine) -> list[str]:
        return [tax.code for tax in obj.taxes.all()]


class OrderBrief(Schema):
    id: int
    number: str
    state: str
    party: int = Field(..., alias="party_id")
    party_name: str
    date: dt.date
    currency: str = Field(..., alias="currency_id")
    amount_untaxed: DecimalString
    amount_tax: DecimalString
    amount_total: DecimalString
    buyer: int | None = Field(None, alias="buyer_id")
    supplier_reference: str
    approval: str = Field(..., description='"", pending, approved or rejected')
    rfq: int | None = Field(None, alias="rfq_id")

    @staticmethod
    def resolve_party_name(obj: PurchaseOrder) -> str:
        return obj.party.name


class ReceiptBrief(Schema):
    id: int
    number: str
    kind: str
    step: str
    state: str
    scheduled_date: dt.date
    done_at: dt.datetime | None


class InvoiceBrief(Schema):
    id: int
    kind: str
    number: str
    state: str
    payment_state: str
    date: dt.date
    reference: str
    currency: str = Field(..., alias="currency_id")
    amount_untaxed: DecimalString
    amount_tax: DecimalString
    amount_total: DecimalString
    amount_residual: DecimalString


class OrderOut(OrderBrief):
    warehouse: str = Field(..., description="warehouse code")
    payment_term: int | None = Field(None, alias="payment_term_id")
    contact: int | None = Field(None, alias="contact_id")
    notes: str
    language: str
    amount_company: DecimalString = Field(..., description="untaxed, in the company currency")
    approval_comment: str
    approved_at: dt.datetime | None
    sent_at: dt.datetime | None
    confirmed_at: dt.datetime | None
    cancel_reason: str
    created_at: dt.datetime
    lines: list[OrderLineOut]
    receipts: list[ReceiptBrief] = Field(..., description="the order's receipt pickings")
    invoices: list[InvoiceBrief] = Field(
        ..., description="supplier invoices and credit notes billing its lines"
    )

    @staticmethod
    def resolve_warehouse(obj: PurchaseOrder) -> str:
        return obj.warehouse.code

    @staticmethod
    def resolve_lines(obj: PurchaseOrder) -> list[PurchaseOrderLine]:
        return list(obj.lines.all())

    @staticmethod
    def resolve_receipts(obj: PurchaseOrder) -> list[Picking]:
        return orders.order_receipts(obj)

    @staticmethod
    def resolve_invoices(obj: PurchaseOrder) -> list[Invoice]:
        return _order_invoices(obj)


class OrderFilters(Schema):
    state: OrderState | None = None
    party: int | None = Field(None, description="supplier id")
    q: str | None = Field(None, description="part of the number, supplier or its reference")
    to_receive: bool | None = Field(
        None, description="true: open orders with lines still to receive; false: the others"
    )


class SendIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: list[str] | None = Field(
        None, description="e-mail addresses; default: the contact's, else the supplier's"
    )
    message: str = ""


class ConfirmIn(Schema):
    model_config = ConfigDict(extra="forbid")

    promised: dict[int, dt.date] | None = Field(
        None, description="order line id → the date the supplier promises (default: need date)"
    )
    supplier_reference: str | None = None


class ReceiveLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(..., description="order line id")
    quantity: DecimalString = Field(..., description="what arrived, in the line's unit")
    rejected: DecimalString | None = Field(
        None, description="of it, refused at inspection (required for inspected products)"
    )
    reason: str = Field("", description="why (required with a rejection)")
    lot: str | None = Field(None, description="lot name (tracked products)")


class ReceiveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lines: list[ReceiveLineIn]
    date: dt.date | None = Field(None, description="default: today")
    close: bool = Field(False, description="true: nothing more is expected on these lines")


class CancelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""


class BillIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reference: str = Field("", description="the supplier's invoice number")
    date: dt.date | None = Field(None, description="default: today")


class ProblemOut(Schema):
    line: int | None = Field(None, description="invoice line sequence")
    kind: str = Field(..., description="price, quantity, currency or unlinked")
    expected: str
    invoiced: str
    description: str = ""
    order_line: int | None = None
    text: str


class MatchOut(Schema):
    id: int
    invoice: int = Field(..., alias="invoice_id")
    invoice_number: str
    invoice_reference: str
    invoice_state: str
    party: int
    party_name: str
    date: dt.date
    currency: str
    amount_total: DecimalString
    state: str
    problems: list[ProblemOut]
    checked_at: dt.datetime
    resolved_by: int | None = Field(None, alias="resolved_by_id")
    resolution: str

    @staticmethod
    def resolve_invoice_number(obj: InvoiceMatch) -> str:
        return obj.invoice.number

    @staticmethod
    def resolve_invoice_reference(obj: InvoiceMatch) -> str:
        return obj.invoice.reference

    @staticmethod
    def resolve_invoice_state(obj: InvoiceMatch) -> str:
        return obj.invoice.state

    @staticmethod
    def resolve_party(obj: InvoiceMatch) -> int:
        return obj.invoice.party_id

    @staticmethod
    def resolve_party_name(obj: InvoiceMatch) -> str:
        return obj.invoice.party.name

    @staticmethod
    def resolve_date(obj: InvoiceMatch) -> dt.date:
        return obj.invoice.date

    @staticmethod
    def resolve_currency(obj: InvoiceMatch) -> str:
        return obj.invoice.currency_id

    @staticmethod
    def resolve_amount_total(obj: InvoiceMatch) -> Decimal:
        return obj.invoice.amount_total

    @staticmethod
    def resolve_problems(obj: InvoiceMatch) -> list[dict[str, Any]]:
        return [
            {**problem, "text": matching.problem_text(problem)} for problem in obj.problems or []
        ]


class BillOut(Schema):
    invoice: InvoiceBrief
    order: int
    match: MatchOut


class MatchFilters(Schema):
    state: MatchState | None = None


class MoveOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    sku: str
    quantity: DecimalString
    uom: str
    state: str
    from_location: int = Field(..., alias="from_location_id")
    to_location: int = Field(..., alias="to_location_id")
    lot: str | None
    planned_date: dt.date
    effective_date: dt.date | None
    order_line: int | None = Field(None, description="the order line it receives")

    @staticmethod
    def resolve_sku(obj: Move) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_uom(obj: Move) -> str:
        return obj.uom.code

    @staticmethod
    def resolve_lot(obj: Move) -> str | None:
        return obj.lot.name if obj.lot_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_order_line(obj: Move) -> int | None:
        return obj.source_id if obj.source_type == orders.LINE_SOURCE else None


class InspectionOut(Schema):
    id: int
    order_line: int = Field(..., alias="order_line_id")
    date: dt.date
    quantity: DecimalString
    accepted: DecimalString
    rejected: DecimalString
    reason: str
    inspector: int | None = Field(None, alias="inspector_id")


class ReceiptOut(ReceiptBrief):
    warehouse: str = Field(..., description="warehouse code")
    origin: str
    backorder_of: int | None = Field(None, alias="backorder_of_id")
    moves: list[MoveOut]
    inspections: list[InspectionOut] = Field(..., description="quality inspections of it")

    @staticmethod
    def resolve_warehouse(obj: Picking) -> str:
        return obj.warehouse.code

    @staticmethod
    def resolve_moves(obj: Picking) -> list[Move]:
        return list(obj.moves.all())

    @staticmethod
    def resolve_inspections(obj: Picking) -> list[Inspection]:
        return list(Inspection.objects.filter(picking=obj).order_by("pk"))


# --- schemas: RFQs ------------------------------------------------------------------------------


class RfqIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lines: list[ProductLineIn] = Field(default_factory=list)
    requisition_lines: list[int] = Field(
        default_factory=list, description="ids of open lines of approved requisitions"
    )
    suppliers: list[int] = Field(default_factory=list, description="supplier ids to invite")
    answer_by: dt.date | None = Field(None, description="default: today + the settings' days")
    warehouse: str | None = Field(None, description="warehouse code; default: the settings'")
    currency: str | None = Field(None, description="default: the company's")
    notes: str = ""


class RfqLineOut(Schema):
    id: int
    sequence: int
    product: int = Field(..., alias="product_id")
    sku: str
    description: str
    quantity: DecimalString
    uom: str
    need_date: dt.date

    @staticmethod
    def resolve_sku(obj: RfqLine) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_uom(obj: RfqLine) -> str:
        return obj.uom.code


class BidOut(Schema):
    id: int
    line: int = Field(..., alias="line_id")
    unit_price: DecimalString
    quantity: DecimalString = Field(..., description="offered")
    lead_time_days: int
    awarded_quantity: DecimalString
    order_line: int | None = Field(None, alias="order_line_id")


class InvitationOut(Schema):
    id: int
    supplier: int = Field(..., alias="supplier_id")
    supplier_name: str
    state: str
    sent_at: dt.datetime | None
    answered_at: dt.datetime | None
    reference: str
    valid_until: dt.date | None
    notes: str
    bids: list[BidOut]

    @staticmethod
    def resolve_supplier_name(obj: RfqSupplier) -> str:
        return obj.supplier.name

    @staticmethod
    def resolve_bids(obj: RfqSupplier) -> list[RfqBid]:
        return list(obj.bids.all())


class RfqBrief(Schema):
    id: int
    number: str
    state: str
    date: dt.date
    answer_by: dt.date
    warehouse: str = Field(..., description="warehouse code")
    buyer: int | None = Field(None, alias="buyer_id")
    currency: str = Field(..., alias="currency_id")

    @staticmethod
    def resolve_warehouse(obj: Rfq) -> str:
        return obj.warehouse.code


class RfqOut(RfqBrief):
    notes: str
    sent_at: dt.datetime | None
    awarded_at: dt.datetime | None
    created_at: dt.datetime
    lines: list[RfqLineOut]
    invitations: list[InvitationOut] = Field(..., description="the invited suppliers")
    orders: list[int] = Field(..., description="ids of the orders awarded from it")

    @staticmethod
    def resolve_lines(obj: Rfq) -> list[RfqLine]:
        return list(obj.lines.all())

    @staticmethod
    def resolve_invitations(obj: Rfq) -> list[RfqSupplier]:
        return list(obj.suppliers.all())

    @staticmethod
    def resolve_orders(obj: Rfq) -> list[int]:
        return list(obj.orders.order_by("pk").values_list("pk", flat=True))


class RfqFilters(Schema):
    state: RfqState | None = None
    q: str | None = Field(None, description="part of the number or notes")


class SuppliersIn(Schema):
    model_config = ConfigDict(extra="forbid")

    suppliers: list[int] = Field(..., description="supplier ids")


class RfqSendIn(Schema):
    model_config = ConfigDict(extra="forbid")

    suppliers: list[int] | None = Field(
        None, description="invited supplier ids to send (again); default: those not sent yet"
    )


class AwardLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    bid: int = Field(..., description="bid id")
    quantity: DecimalString


class AwardIn(Schema):
    model_config = ConfigDict(extra="forbid")

    awards: list[AwardLineIn]


class OrdersMadeOut(Schema):
    orders: list[OrderBrief] = Field(..., description="the draft purchase orders made")


class BidIn(Schema):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(..., description="RFQ line id")
    unit_price: DecimalString
    quantity: DecimalString | None = Field(None, description="offered; default: the line's")
    lead_time_days: int = 0


class BidsIn(Schema):
    model_config = ConfigDict(extra="forbid")

    bids: list[BidIn]
    reference: str = Field("", description="the supplier's quotation reference")
    valid_until: dt.date | None = None


class DeclineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""


class ComparedBidOut(Schema):
    bid: int
    invitation: int
    supplier: int
    supplier_name: str
    unit_price: DecimalString
    quantity: DecimalString
    total: DecimalString
    lead_time_days: int
    promised_date: dt.date
    late: bool
    covers: bool = Field(..., description="offers the whole line quantity")
    score: DecimalString | None = Field(None, description="the supplier's overall score")
    awarded_quantity: DecimalString
    cheapest: bool
    fastest: bool
    best_score: bool
    recommended: bool


class ComparedLineOut(Schema):
    line: int
    sequence: int
    sku: str
    description: str
    quantity: DecimalString
    uom: str
    need_date: dt.date
    awarded: DecimalString
    recommended: int | None = Field(None, description="the recommended bid's id")
    bids: list[ComparedBidOut] = Field(..., description="cheapest first")


# --- schemas: landed costs, scorecards, prices, settings -----------------------------------------


class LandedIn(Schema):
    model_config = ConfigDict(extra="forbid")

    pickings: list[int] = Field(..., description="ids of done receipts")
    amount: DecimalString = Field(..., description="in the company currency")
    description: str
    split: Split = "value"
    date: dt.date | None = Field(None, description="default: today")
    invoice: int | None = Field(None, description="id of the cost's supplier invoice")


class LandedLineOut(Schema):
    id: int
    move: int = Field(..., alias="move_id")
    product: int
    amount: DecimalString

    @staticmethod
    def resolve_product(obj: LandedCostLine) -> int:
        return obj.move.product_id


class LandedOut(Schema):
    id: int
    number: str
    state: str
    date: dt.date
    description: str
    amount: DecimalString
    split: str
    pickings: list[int]
    invoice: int | None = Field(None, alias="invoice_id")
    entry: int | None = Field(None, alias="entry_id")
    created_at: dt.datetime
    lines: list[LandedLineOut] = Field(..., description="the shares, once posted")

    @staticmethod
    def resolve_pickings(obj: LandedCost) -> list[int]:
        return [picking.pk for picking in obj.pickings.all()]

    @staticmethod
    def resolve_lines(obj: LandedCost) -> list[LandedCostLine]:
        return list(obj.lines.all())


class LandedFilters(Schema):
    state: LandedState | None = None


class ScorecardOut(Schema):
    supplier: int
    orders: int
    lines: int
    on_time_percent: DecimalString | None
    delivered_lines: int
    quantity_accuracy_percent: DecimalString | None
    completed_lines: int
    quality_percent: DecimalString
    inspected: DecimalString
    accepted: DecimalString
    price_variance_percent: DecimalString | None
    priced_lines: int
    rfq_invitations: int
    rfq_response_percent: DecimalString | None
    rfq_response_hours: DecimalString | None
    overall: DecimalString | None


class ScorecardFilters(Schema):
    since: dt.date | None = Field(None, description="orders dated from")
    until: dt.date | None = Field(None, description="orders dated up to")


class SupplierPriceOut(Schema):
    id: int
    supplier: int = Field(..., alias="supplier_id")
    supplier_name: str
    product: int = Field(..., alias="product_id")
    sku: str
    supplier_code: str
    currency: str = Field(..., alias="currency_id")
    min_quantity: DecimalString
    price: DecimalString
    lead_time_days: int
    valid_from: dt.date | None
    valid_until: dt.date | None

    @staticmethod
    def resolve_supplier_name(obj: SupplierPrice) -> str:
        return obj.supplier.name

    @staticmethod
    def resolve_sku(obj: SupplierPrice) -> str:
        return obj.product.sku


class SupplierPricePatch(Schema):
    model_config = ConfigDict(extra="forbid")

    supplier: int | None = Field(None, description="supplier id")
    product: int | None = Field(None, description="product id (or give `sku`)")
    sku: str | None = Field(None, description="product SKU (or give `product`)")
    price: DecimalString | None = None
    currency: str | None = Field(None, description="default: the supplier's, else the company's")
    min_quantity: DecimalString | None = None
    lead_time_days: int | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    supplier_code: str | None = None


class SupplierPriceIn(SupplierPricePatch):
    supplier: int = Field(..., description="supplier id")  # type: ignore[assignment]
    price: DecimalString  # type: ignore[assignment]


class SupplierPriceFilters(Schema):
    supplier: int | None = Field(None, description="supplier id")
    product: int | None = Field(None, description="product id")
    q: str | None = Field(None, description="part of the SKU, product, supplier or its code")


class SettingsOut(Schema):
    warehouse: str | None = Field(None, description="warehouse code")
    default_tax: str | None = Field(None, description="tax code")
    receipt_tolerance_percent: DecimalString
    price_tolerance_percent: DecimalString
    quantity_tolerance_percent: DecimalString
    requisition_approval_limit: DecimalString
    rfq_answer_days: int
    landed_cost_account: str | None = Field(None, description="account code")

    @staticmethod
    def resolve_warehouse(obj: Any) -> str | None:
        return obj.warehouse.code if obj.warehouse_id else None

    @staticmethod
    def resolve_default_tax(obj: Any) -> str | None:
        return obj.default_tax.code if obj.default_tax_id else None

    @staticmethod
    def resolve_landed_cost_account(obj: Any) -> str | None:
        return obj.landed_cost_account.code if obj.landed_cost_account_id else None


class SettingsPatch(Schema):
    model_config = ConfigDict(extra="forbid")

    warehouse: str | None = Field(None, description="warehouse code (null: none)")
    default_tax: str | None = Field(None, description="purchase tax code (null: none)")
    receipt_tolerance_percent: DecimalString | None = None
    price_tolerance_percent: DecimalString | None = None
    quantity_tolerance_percent: DecimalString | None = None
    requisition_approval_limit: DecimalString | None = None
    rfq_answer_days: int | None = None
    landed_cost_account: str | None = Field(None, description="account code (null: none)")


# --- helpers ------------------------------------------------------------------------------------


refusals = refusals_of(
    PurchaseError,
    StockError,
    PostingError,
    own=PurchaseError,
    lists=("lines", "bids", "awards", "suppliers", "requisition_lines"),
    forbidden=True,
)
"""Answer the services' refusals: with field errors as validation problems (list positions
from 0), without as 422 with their reason and code; their PermissionDenied as 403 with the
reason."""


def _company(request: HttpRequest) -> Any:
    return request.company  # type: ignore[attr-defined]


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _one(model: Any, pk: int | None, field: str, message: str) -> Any:
    """The company's `model` row `pk` (None for None); a 422 naming `field` otherwise."""
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise _invalid(field, message)
    return found


def _warehouse(code: str | None, field: str = "warehouse") -> Warehouse | None:
    if not code:
        return None
    found = Warehouse.objects.filter(code=code.strip().upper()).first()
    if found is None:
        raise _invalid(field, _("No warehouse has the code “%(code)s”.") % {"code": code})
    return found


def _lines(items: Iterable[Any]) -> list[dict[str, Any]]:
    """The request's lines as the services take them: products by id (SKUs looked up in one
    query), units and taxes as records (codes looked up in one query each); the other fields
    given, as they are."""
    items = list(items)
    skus = {item.sku.strip() for item in items if item.sku}
    by_sku = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk")) if skus else {}
    units_wanted = {item.uom.strip() for item in items if item.uom}
    units = (
        {u.code: u for u in UnitOfMeasure.objects.filter(code__in=units_wanted)}
        if units_wanted
        else {}
    )
    codes = {code for item in items for code in (getattr(item, "taxes", None) or ())}
    taxes = {tax.code: tax for tax in Tax.objects.filter(code__in=codes)} if codes else {}
    errors: dict[str, list[str]] = {}
    lines = []
    for n, item in enumerate(items):
        if (item.product is None) == (not item.sku):
            errors[f"lines.{n}.product"] = [_("Give the product's id or its SKU (one of them).")]
            continue
        line: dict[str, Any] = {"quantity": item.quantity}
        if item.sku:
            line["product"] = by_sku.get(item.sku.strip())
            if line["product"] is None:
                errors[f"lines.{n}.sku"] = [
                    _("No product has the SKU “%(sku)s”.") % {"sku": item.sku}
                ]
        else:
            line["product"] = item.product
        if item.uom:
            line["uom"] = units.get(item.uom.strip())
            if line["uom"] is None:
                errors[f"lines.{n}.uom"] = [_("Unknown unit “%(code)s”.") % {"code": item.uom}]
        taxes_given = getattr(item, "taxes", None)
        if taxes_given is not None:
            missing = [code for code in taxes_given if code not in taxes]
            if missing:
                errors[f"lines.{n}.taxes"] = [
                    _("Unknown tax %(codes)s.") % {"codes": ", ".join(missing)}
                ]
            line["taxes"] = [taxes[code] for code in taxes_given if code in taxes]
        sent = item.model_dump(exclude_unset=True, exclude={"product", "sku", "uom", "taxes",
                                                             "quantity"})  # fmt: skip
        line.update({name: value for name, value in sent.items() if value not in (None, "")})
        lines.append(line)
    if errors:
        raise ValidationError(errors)
    return lines


def _requisitions(request: HttpRequest) -> Any:
    """The requisitions the caller may see: the company's, or their own when they may only
    request."""
    found = Requisition.objects.select_related("warehouse")
    if not has_perm(request, "purchase.view"):
        found = found.filter(requester=request.user)
    return found


def _requisition(request: HttpRequest, requisition_id: int) -> Requisition:
    """A requisition of the company (anyone who may request opens the company's, as on the
    screens; the list shows a requester only their own)."""
    return get_object_or_404(
        Requisition.objects.select_related("warehouse").prefetch_related(
            Prefetch(
                "lines",
                RequisitionLine.objects.select_related(
                    "product", "uom", "rfq_line", "order_line"
                ).order_by("sequence", "pk"),
            )
        ),
        pk=requisition_id,
    )


def _order(order_id: int) -> PurchaseOrder:
    return get_object_or_404(
        PurchaseOrder.objects.select_related("party", "warehouse").prefetch_related(
            Prefetch(
                "lines",
                PurchaseOrderLine.objects.select_related("product", "uom")
                .prefetch_related("taxes")
                .order_by("sequence", "pk"),
            )
        ),
        pk=order_id,
    )


def _order_invoices(order: PurchaseOrder) -> list[Invoice]:
    linked = BilledLine.objects.filter(order_line__order=order).values("invoice_line__invoice_id")
    return list(Invoice.objects.filter(pk__in=linked).order_by("date", "pk"))


def _rfq(rfq_id: int) -> Rfq:
    return get_object_or_404(
        Rfq.objects.select_related("warehouse").prefetch_related(
            Prefetch(
                "lines", RfqLine.objects.select_related("product", "uom").order_by("sequence", "pk")
            ),
            Prefetch(
                "suppliers",
                RfqSupplier.objects.select_related("supplier")
                .prefetch_related(Prefetch("bids", RfqBid.objects.order_by("line_id", "pk")))
                .order_by("pk"),
            ),
        ),
        pk=rfq_id,
    )


def _invitation(invitation_id: int) -> RfqSupplier:
    """An invitation of an RFQ of the company, else 404."""
    return get_object_or_404(
        RfqSupplier.objects.filter(rfq__in=Rfq.objects.all()).select_related("supplier", "rfq"),
        pk=invitation_id,
    )


def _landed(landed_id: int) -> LandedCost:
    return get_object_or_404(
        LandedCost.objects.prefetch_related(
            "pickings",
            Prefetch("lines", LandedCostLine.objects.select_related("move").order_by("pk")),
        ),
        pk=landed_id,
    )


def _match(invoice_id: int) -> InvoiceMatch:
    return InvoiceMatch.objects.select_related("invoice__party").get(invoice_id=invoice_id)


def _price(price_id: int) -> SupplierPrice:
    return get_object_or_404(
        SupplierPrice.objects.select_related("supplier", "product"), pk=price_id
    )


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name.replace("/", "-")}.pdf"'
    return response


def _made(made: Iterable[PurchaseOrder]) -> dict[str, Any]:
    ids = [order.pk for order in made]
    found = PurchaseOrder.objects.select_related("party").in_bulk(ids)
    return {"orders": [found[pk] for pk in ids]}


# --- requisitions -------------------------------------------------------------------------------


@router.get("/purchase/requisitions", response=list[RequisitionBrief])
@requires("purchase.request")
@paginate
def requisition_list(request: HttpRequest, filters: Query[RequisitionFilters]) -> Any:
    """Requisitions, newest first (the caller's own only, without purchase.view); filter by
    state, source or a search in the number, notes and the lines' products."""
    found = _requisitions(request)
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.source:
        found = found.filter(source=filters.source)
    if filters.q:
        matching_lines = RequisitionLine.objects.filter(
            Q(product__sku__icontains=filters.q) | Q(product__name__icontains=filters.q)
        ).values("requisition_id")
        found = found.filter(
            Q(number__icontains=filters.q)
            | Q(notes__icontains=filters.q)
            | Q(pk__in=matching_lines)
        )
    return found.order_by("-date", "-pk")


# Declared before `/purchase/requisitions/{requisition_id}`, whose pattern would take "orders".
@router.post("/purchase/requisitions/orders", response={201: OrdersMadeOut})
@requires("purchase.order")
@idempotent
@refusals
def requisition_orders(request: HttpRequest, payload: SourceIn) -> Status:
    """Turn open lines of approved requisitions into draft purchase orders, one a supplier
    (the one given per line, else the line's suggested one, else the cheapest)."""
    wanted = {item.supplier for item in payload.lines if item.supplier is not None}
    parties = Party.objects.in_bulk(list(wanted)) if wanted else {}
    errors: dict[str, list[str]] = {}
    suppliers: dict[int, Party] = {}
    for n, item in enumerate(payload.lines):
        if item.supplier is None:
            continue
        party = parties.get(item.supplier)
        if party is None or not party.is_supplier:
            errors[f"lines.{n}.supplier"] = [_("Choose a supplier of this company.")]
        else:
            suppliers[item.line] = party
    if errors:
        raise ValidationError(errors)
    made = requisitions.orders_from_requisitions(
        company=_company(request), actor=request.user,
        lines=[item.line for item in payload.lines], suppliers=suppliers,
        date=payload.date,
    )  # fmt: skip
    return Status(201, _made(made))


@router.get("/purchase/requisitions/{requisition_id}", response=RequisitionOut)
@requires("purchase.request")
def requisition_get(request: HttpRequest, requisition_id: int) -> Requisition:
    """One requisition with its lines (state, and the RFQ or order that took each)."""
    return _requisition(request, requisition_id)


@router.post("/purchase/requisitions", response={201: RequisitionOut})
@requires("purchase.request")
@idempotent
@refusals
def requisition_create(request: HttpRequest, payload: RequisitionIn) -> Status:
    """Raise a requisition (the caller is the requester), estimated from the supplier prices;
    with `submit: true` submitted in the same transaction (approved at once up to the
    settings' approval limit, else waiting for someone else's approval)."""
    warehouse = _warehouse(payload.warehouse)
    lines = _lines(payload.lines)
    with transaction.atomic():
        made = requisitions.requisition_create(
            company=_company(request), actor=request.user, lines=lines, warehouse=warehouse,
            date=payload.date, notes=payload.notes,
        )  # fmt: skip
        if payload.submit:
            requisitions.requisition_submit(requisition=made, actor=request.user)
    return Status(201, _requisition(request, made.pk))


@router.post("/purchase/requisitions/{requisition_id}/submit", response=RequisitionOut)
@requires("purchase.request")
@refusals
def requisition_submit(request: HttpRequest, requisition_id: int) -> Any:
    """Submit a draft: approved at once up to the approval limit, else waiting for another
    person's approval (`to_approve`)."""
    requisitions.requisition_submit(
        requisition=_requisition(request, requisition_id), actor=request.user
    )
    return _requisition(request, requisition_id)


@router.post("/purchase/requisitions/{requisition_id}/approve", response=RequisitionOut)
@requires("purchase.approve")
@refusals
def requisition_approve(request: HttpRequest, requisition_id: int, payload: DecisionIn) -> Any:
    """Approve a requisition waiting for approval; refused (403) to its requester."""
    requisitions.requisition_decide(
        requisition=_requisition(request, requisition_id), actor=request.user, approved=True,
        comment=payload.comment,
    )  # fmt: skip
    return _requisition(request, requisition_id)


@router.post("/purchase/requisitions/{requisition_id}/reject", response=RequisitionOut)
@requires("purchase.approve")
@refusals
def requisition_reject(request: HttpRequest, requisition_id: int, payload: DecisionIn) -> Any:
    """Reject a requisition waiting for approval (`comment` required); its lines are
    cancelled. Refused (403) to its requester."""
    requisitions.requisition_decide(
        requisition=_requisition(request, requisition_id), actor=request.user, approved=False,
        comment=payload.comment,
    )  # fmt: skip
    return _requisition(request, requisition_id)


@router.post("/purchase/requisitions/{requisition_id}/cancel", response=RequisitionOut)
@requires("purchase.request")
@refusals
def requisition_cancel(request: HttpRequest, requisition_id: int) -> Any:
    """Cancel a requisition none of whose lines is in an RFQ or ordered."""
    requisitions.requisition_cancel(
        requisition=_requisition(request, requisition_id), actor=request.user
    )
    return _requisition(request, requisition_id)


# --- RFQs ---------------------------------------------------------------------------------------


@router.get("/purchase/rfqs", response=list[RfqBrief])
@requires("purchase.view")
@paginate
def rfq_list(request: HttpRequest, filters: Query[RfqFilters]) -> Any:
    """Requests for quotation, newest first; filter by state or a search in the number and
    notes."""
    found = Rfq.objects.select_related("warehouse")
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.q:
        found = found.filter(Q(number__icontains=filters.q) | Q(notes__icontains=filters.q))
    return found.order_by("-date", "-pk")


@router.get("/purchase/rfqs/{rfq_id}", response=RfqOut)
@requires("purchase.view")
def rfq_get(request: HttpRequest, rfq_id: int) -> Rfq:
    """One RFQ with its lines, invited suppliers and their bids, and the orders awarded."""
    return _rfq(rfq_id)


@router.post("/purchase/rfqs", response={201: RfqOut})
@requires("purchase.order")
@idempotent
@refusals
def rfq_create(request: HttpRequest, payload: RfqIn) -> Status:
    """A draft RFQ of `lines` and of open `requisition_lines` (consolidated per product and
    unit; they become `in_rfq`), inviting `suppliers`."""
    lines = _lines(payload.lines) if payload.lines else []
    made = rfqs.rfq_create(
        company=_company(request), actor=request.user, lines=lines,
        requisition_lines=payload.requisition_lines, suppliers=payload.suppliers,
        answer_by=payload.answer_by, warehouse=_warehouse(payload.warehouse),
        currency=(payload.currency or "").strip().upper() or None, notes=payload.notes,
    )  # fmt: skip
    return Status(201, _rfq(made.pk))


@router.get("/purchase/rfqs/{rfq_id}/comparison", response=list[ComparedLineOut])
@requires("purchase.view")
def rfq_comparison(request: HttpRequest, rfq_id: int) -> list[dict[str, Any]]:
    """The answers side by side, per RFQ line: each bid's price, total, lead time, promised
    date against the need date, the supplier's score, and the cheapest, fastest, best-scored
    and recommended marks."""
    compared = rfqs.rfq_comparison(rfq=_rfq(rfq_id))
    return [
        {
            "line": row.line.pk,
            "sequence": row.line.sequence,
            "sku": row.line.product.sku,
            "description": row.line.description,
            "quantity": row.line.quantity,
            "uom": row.line.uom.code,
            "need_date": row.line.need_date,
            "awarded": row.awarded,
            "recommended": row.recommended.bid.pk if row.recommended else None,
            "bids": [
                {
                    "bid": bid.bid.pk,
                    "invitation": bid.bid.invitation_id,
                    "supplier": bid.supplier.pk,
                    "supplier_name": bid.supplier.name,
                    "unit_price": bid.unit_price,
                    "quantity": bid.quantity,
                    "total": bid.total,
                    "lead_time_days": bid.lead_time_days,
                    "promised_date": bid.promised_date,
                    "late": bid.late,
                    "covers": bid.covers,
                    "score": bid.score,
                    "awarded_quantity": bid.awarded_quantity,
                    "cheapest": bid.cheapest,
                    "fastest": bid.fastest,
                    "best_score": bid.best_score,
                    "recommended": bid.recommended,
                }
                for bid in row.bids
            ],
        }
        for row in compared
    ]


@router.post("/purchase/rfqs/{rfq_id}/invite", response=RfqOut)
@requires("purchase.order")
@refusals
def rfq_invite(request: HttpRequest, rfq_id: int, payload: SuppliersIn) -> Any:
    """Invite more suppliers to a draft or sent RFQ (those invited already are skipped)."""
    rfqs.rfq_invite(rfq=_rfq(rfq_id), suppliers=payload.suppliers, actor=request.user)
    return _rfq(rfq_id)


@router.post("/purchase/rfqs/{rfq_id}/send", response=RfqOut)
@requires("purchase.order")
@refusals
def rfq_send(request: HttpRequest, rfq_id: int, payload: RfqSendIn) -> Any:
    """E-mail the RFQ with its PDF to each invited supplier not sent yet (or to `suppliers`,
    again), in the supplier's language."""
    rfqs.rfq_send(rfq=_rfq(rfq_id), actor=request.user, suppliers=payload.suppliers)
    return _rfq(rfq_id)


@router.post("/purchase/rfqs/{rfq_id}/award", response={201: OrdersMadeOut})
@requires("purchase.order")
@idempotent
@refusals
def rfq_award(request: HttpRequest, rfq_id: int, payload: AwardIn) -> Status:
    """Award quantities to bids (a line may be split between suppliers): one draft purchase
    order per awarded supplier; the requisition lines behind the RFQ follow."""
    made = rfqs.rfq_award(
        rfq=_rfq(rfq_id), actor=request.user,
        awards=[(item.bid, item.quantity) for item in payload.awards],
    )  # fmt: skip
    return Status(201, _made(made))


@router.post("/purchase/rfqs/{rfq_id}/cancel", response=RfqOut)
@requires("purchase.order")
@refusals
def rfq_cancel(request: HttpRequest, rfq_id: int) -> Any:
    """Cancel a draft or sent RFQ: its requisition lines go back to sourcing."""
    rfqs.rfq_cancel(rfq=_rfq(rfq_id), actor=request.user)
    return _rfq(rfq_id)


@router.post("/purchase/rfq-suppliers/{invitation_id}/bids", response=InvitationOut)
@requires("purchase.order")
@refusals
def invitation_bids(request: HttpRequest, invitation_id: int, payload: BidsIn) -> Any:
    """Record a supplier's answer: a price (and the quantity offered, the lead time) per RFQ
    line, replacing its earlier bids."""
    invitation = _invitation(invitation_id)
    rfqs.bids_record(
        invitation=invitation, actor=request.user,
        bids=[item.model_dump(exclude_none=True) for item in payload.bids],
        reference=payload.reference, valid_until=payload.valid_until,
    )  # fmt: skip
    return _invitation(invitation_id)


@router.post("/purchase/rfq-suppliers/{invitation_id}/decline", response=InvitationOut)
@requires("purchase.order")
@refusals
def invitation_decline(request: HttpRequest, invitation_id: int, payload: DeclineIn) -> Any:
    """Record that the supplier does not quote (its bids are dropped)."""
    rfqs.invitation_decline(
        invitation=_invitation(invitation_id), actor=request.user, reason=payload.reason
    )
    return _invitation(invitation_id)


@router.get("/purchase/rfq-suppliers/{invitation_id}/pdf", response={200: None},
            openapi_extra=PDF_RESPONSE)  # fmt: skip
@requires("purchase.view")
def invitation_pdf(request: HttpRequest, invitation_id: int) -> HttpResponse:
    """The RFQ as the supplier receives it, a PDF in its language."""
    invitation = _invitation(invitation_id)
    return _pdf(rfqs.rfq_pdf(rfq=invitation.rfq, invitation=invitation), invitation.rfq.number)


# --- orders -------------------------------------------------------------------------------------


def _order_fields(payload: OrderHeaderIn, *, exclude: set[str]) -> dict[str, Any]:
    """The header fields the client sent, as the services take them (records, not ids)."""
    sent = payload.model_dump(exclude_unset=True, exclude=exclude)
    fields: dict[str, Any] = {}
    for name, value in sent.items():
        if name == "warehouse":
            value = _warehouse(value)
        elif name == "payment_term":
            value = _one(PaymentTerm, value, name, _("No such payment term."))
        elif name == "contact":
            value = _one(Contact, value, name, _("No such contact."))
        elif name == "party":
            value = _one(Party, value, name, _("No such supplier."))
            if value is None:
                continue
        elif name == "currency":
            value = (value or "").strip().upper() or None
        elif name in ("supplier_reference", "notes", "language"):
            value = value or ""
        elif name == "date" and value is None:
            continue
        fields[name] = value
    return fields


@router.get("/purchase/orders", response=list[OrderBrief])
@requires("purchase.view")
@paginate
def order_list(request: HttpRequest, filters: Query[OrderFilters]) -> Any:
    """Purchase orders, newest first; filter by state, supplier, a search in the number,
    supplier and its reference, or `to_receive`."""
    found = PurchaseOrder.objects.select_related("party")
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.party is not None:
        found = found.filter(party_id=filters.party)
    if filters.q:
        found = found.filter(
            Q(number__icontains=filters.q)
            | Q(party__name__icontains=filters.q)
            | Q(supplier_reference__icontains=filters.q)
        )
    if filters.to_receive is not None:
        waiting = Q(state__in=OPEN_ORDER) & Exists(
            PurchaseOrderLine.objects.filter(
                order=OuterRef("pk"), closed=False, qty_received__lt=F("quantity")
            )
        )
        found = found.filter(waiting if filters.to_receive else ~waiting)
    return found.order_by("-date", "-pk")


@router.get("/purchase/orders/{order_id}", response=OrderOut)
@requires("purchase.view")
def order_get(request: HttpRequest, order_id: int) -> PurchaseOrder:
    """One order with its lines (received, rejected, billed), receipts and supplier
    invoices."""
    return _order(order_id)


@router.post("/purchase/orders", response={201: OrderOut})
@requires("purchase.order")
@idempotent
@refusals
def order_create(request: HttpRequest, payload: OrderIn) -> Status:
    """A draft purchase order, priced from the supplier's prices (or the prices given)."""
    party = _one(Party, payload.party, "party", _("No such supplier."))
    fields = _order_fields(payload, exclude={"party", "lines"})
    lines = _lines(payload.lines)
    made = orders.order_create(
        company=_company(request), actor=request.user, party=party, lines=lines, **fields
    )
    return Status(201, _order(made.pk))


@router.patch("/purchase/orders/{order_id}", response=OrderOut)
@requires("purchase.order")
@refusals
def order_update(request: HttpRequest, order_id: int, payload: OrderPatch) -> Any:
    """Change a draft order: the header fields sent, and `lines` replacing all lines."""
    order = _order(order_id)
    fields = _order_fields(payload, exclude={"lines"})
    lines = _lines(payload.lines) if payload.lines is not None else None
    orders.order_update(order=order, actor=request.user, lines=lines, **fields)
    return _order(order_id)


@router.post("/purchase/orders/{order_id}/submit", response=OrderOut)
@requires("purchase.order")
@refusals
def order_submit(request: HttpRequest, order_id: int) -> Any:
    """Submit a draft for approval: small orders are approved at once (and their receipt
    made); the others wait for the approvers (`to_approve`)."""
    orders.order_submit(order=_order(order_id), actor=request.user)
    return _order(order_id)


@router.post("/purchase/orders/{order_id}/send", response=OrderOut)
@requires("purchase.order")
@refusals
def order_send(request: HttpRequest, order_id: int, payload: SendIn) -> Any:
    """E-mail the approved order's PDF (to `to`, else its contact, else the supplier) with
    `message`, and mark it sent."""
    sending.order_send(
        order=_order(order_id), actor=request.user, to=payload.to, message=payload.message
    )
    return _order(order_id)


@router.post("/purchase/orders/{order_id}/confirm", response=OrderOut)
@requires("purchase.order")
@refusals
def order_confirm(request: HttpRequest, order_id: int, payload: ConfirmIn) -> Any:
    """Record the supplier's confirmation: its reference and the date promised per line
    (the receipt is planned for them)."""
    orders.order_confirm(
        order=_order(order_id), actor=request.user, promised=payload.promised,
        supplier_reference=payload.supplier_reference,
    )  # fmt: skip
    return _order(order_id)


@router.post("/purchase/orders/{order_id}/receive", response=OrderOut)
@requires("purchase.receive")
@refusals
def order_receive(request: HttpRequest, order_id: int, payload: ReceiveIn) -> Any:
    """Receive goods: per order line what arrived and, for inspected products, how much was
    rejected and why (rejected goods never enter stock). Partial receipts leave a backorder
    unless `close`. Answers the order."""
    order = _order(order_id)
    lines = []
    for item in payload.lines:
        line: dict[str, Any] = {"line": item.line, "quantity": item.quantity,
                                "reason": item.reason}  # fmt: skip
        if item.rejected is not None:
            line["rejected"] = item.rejected
        if item.lot:
            line["lot"] = item.lot
        lines.append(line)
    receiving.order_receive(
        order=order, actor=request.user, lines=lines, date=payload.date, close=payload.close
    )
    return _order(order_id)


@router.post("/purchase/orders/{order_id}/cancel", response=OrderOut)
@requires("purchase.order")
@refusals
def order_cancel(request: HttpRequest, order_id: int, payload: CancelIn) -> Any:
    """Cancel an order on which nothing was received or billed: its open receipts are
    cancelled and its requisition lines open again."""
    orders.order_cancel(order=_order(order_id), actor=request.user, reason=payload.reason)
    return _order(order_id)


@router.post("/purchase/orders/{order_id}/bill", response={201: BillOut})
@requires("purchase.bill")
@idempotent
@refusals
def order_bill(request: HttpRequest, order_id: int, payload: BillIn) -> Status:
    """A draft supplier invoice of what the order received and has not billed, matched at
    once against the order and its receipts (3-way match: `match.state` and
    `match.problems`). The accountant completes and posts it in finance; a mismatch blocks
    the posting."""
    order = _order(order_id)
    with transaction.atomic():
        invoice = matching.invoice_from_orders(
            company=_company(request), actor=request.user, orders=[order],
            reference=payload.reference, date=payload.date,
        )  # fmt: skip
        matching.invoice_match(invoice=invoice, actor=request.user)
    return Status(201, {
        "invoice": Invoice.objects.get(pk=invoice.pk), "order": order.pk,
        "match": _match(invoice.pk),
    })  # fmt: skip


@router.get("/purchase/orders/{order_id}/receipts", response=list[ReceiptOut])
@requires("purchase.view")
def order_receipts(request: HttpRequest, order_id: int) -> list[Picking]:
    """The order's receipt pickings (every step, backorders too) with their moves and
    inspections."""
    order = _order(order_id)
    return list(
        Picking.objects.filter(source_type=orders.ORDER_SOURCE, source_id=order.pk)
        .select_related("warehouse")
        .prefetch_related(
            Prefetch("moves", Move.objects.select_related("product", "uom", "lot").order_by("pk"))
        )
        .order_by("pk")
    )


@router.get("/purchase/orders/{order_id}/pdf", response={200: None}, openapi_extra=PDF_RESPONSE)
@requires("purchase.view")
def order_pdf(request: HttpRequest, order_id: int) -> HttpResponse:
    """The purchase order as a PDF, in the supplier's language."""
    order = _order(order_id)
    return _pdf(sending.order_pdf(order), order.number)


@router.post("/purchase/order-lines/{line_id}/close", response=OrderOut)
@requires("purchase.receive")
@refusals
def order_line_close(request: HttpRequest, line_id: int) -> Any:
    """Expect nothing more on an order line (its open receipt moves are cancelled). Answers
    the order."""
    line = get_object_or_404(
        PurchaseOrderLine.objects.filter(order__in=PurchaseOrder.objects.all()).select_related(
            "order"
        ),
        pk=line_id,
    )
    receiving.line_close(line=line, actor=request.user)
    return _order(line.order_id)


# --- matching -----------------------------------------------------------------------------------


@router.get("/purchase/matches", response=list[MatchOut])
@requires("purchase.bill")
@paginate
def match_list(request: HttpRequest, filters: Query[MatchFilters]) -> Any:
    """The 3-way matches of supplier invoices, mismatches first, then newest."""
    found = InvoiceMatch.objects.select_related("invoice__party")
    if filters.state:
        found = found.filter(state=filters.state)
    return found.order_by("-state", "-checked_at", "-pk")


@router.post("/purchase/invoices/{invoice_id}/match", response=MatchOut)
@requires("purchase.bill")
@refusals
def invoice_match(request: HttpRequest, invoice_id: int) -> Any:
    """Match a (corrected) draft supplier invoice again against its orders and receipts."""
    invoice = get_object_or_404(Invoice.objects.all(), pk=invoice_id)
    matching.invoice_match(invoice=invoice, actor=request.user)
    return _match(invoice.pk)


# --- landed costs -------------------------------------------------------------------------------


@router.get("/purchase/landed-costs", response=list[LandedOut])
@requires("purchase.bill")
@paginate
def landed_list(request: HttpRequest, filters: Query[LandedFilters]) -> Any:
    """Landed costs, newest first; filter by state."""
    found = LandedCost.objects.prefetch_related(
        "pickings", Prefetch("lines", LandedCostLine.objects.select_related("move"))
    )
    if filters.state:
        found = found.filter(state=filters.state)
    return found.order_by("-date", "-pk")


@router.get("/purchase/landed-costs/{landed_id}", response=LandedOut)
@requires("purchase.bill")
def landed_get(request: HttpRequest, landed_id: int) -> LandedCost:
    """One landed cost with its receipts and, once posted, its shares per move."""
    return _landed(landed_id)


@router.post("/purchase/landed-costs", response={201: LandedOut})
@requires("purchase.bill")
@idempotent
@refusals
def landed_create(request: HttpRequest, payload: LandedIn) -> Status:
    """A draft landed cost (freight, duties …) on done receipts, shared by value, quantity,
    weight or equally when posted."""
    found = Picking.objects.in_bulk(payload.pickings)
    missing = [pk for pk in payload.pickings if pk not in found]
    if missing:
        raise _invalid("pickings", _("Choose receipts of this company."))
    invoice = _one(Invoice, payload.invoice, "invoice", _("No such invoice."))
    made = landed.landed_cost_create(
        company=_company(request), actor=request.user,
        pickings=[found[pk] for pk in payload.pickings], amount=payload.amount,
        description=payload.description, split=payload.split, date=payload.date,
        invoice=invoice,
    )  # fmt: skip
    return Status(201, _landed(made.pk))


@router.post("/purchase/landed-costs/{landed_id}/post", response=LandedOut)
@requires("purchase.bill")
@refusals
def landed_post(request: HttpRequest, landed_id: int) -> Any:
    """Post a draft: share its amount over the receipts' moves into stock and add it to their
    value (one journal entry)."""
    landed.landed_cost_post(landed_cost=_landed(landed_id), actor=request.user)
    return _landed(landed_id)


@router.post("/purchase/landed-costs/{landed_id}/cancel", response=LandedOut)
@requires("purchase.bill")
@refusals
def landed_cancel(request: HttpRequest, landed_id: int) -> Any:
    """Cancel a draft landed cost."""
    landed.landed_cost_cancel(landed_cost=_landed(landed_id), actor=request.user)
    return _landed(landed_id)


# --- scorecards ---------------------------------------------------------------------------------


@router.get("/purchase/suppliers/{party_id}/scorecard", response=ScorecardOut)
@requires("purchase.view")
def supplier_scorecard(
    request: HttpRequest, party_id: int, filters: Query[ScorecardFilters]
) -> dict[str, Any]:
    """A supplier's performance (on time, quantity accuracy, quality, price variance, RFQ
    responsiveness and the overall score) over orders dated in the period."""
    party = get_object_or_404(Party.objects.all(), pk=party_id)
    card = scorecard.scorecard(
        company=_company(request), supplier=party, since=filters.since, until=filters.until
    )
    found = {name: getattr(card, name) for name in ScorecardOut.model_fields if name != "supplier"}
    return {"supplier": card.supplier_id, **found}


# --- supplier prices ----------------------------------------------------------------------------


@router.get("/purchase/supplier-prices", response=list[SupplierPriceOut])
@requires("purchase.view")
@paginate
def supplier_price_list(request: HttpRequest, filters: Query[SupplierPriceFilters]) -> Any:
    """Supplier prices by product and supplier; filter by supplier, product or a search."""
    found = SupplierPrice.objects.select_related("supplier", "product")
    if filters.supplier is not None:
        found = found.filter(supplier_id=filters.supplier)
    if filters.product is not None:
        found = found.filter(product_id=filters.product)
    if filters.q:
        found = found.filter(
            Q(product__sku__icontains=filters.q)
            | Q(product__name__icontains=filters.q)
            | Q(supplier__name__icontains=filters.q)
            | Q(supplier_code__icontains=filters.q)
        )
    return found.order_by("product__sku", "supplier__name", "min_quantity", "pk")


def _price_fields(payload: SupplierPricePatch, current: SupplierPrice | None) -> dict[str, Any]:
    """The price's fields as `supplier_price_set` takes them: the current ones, overridden by
    those sent."""
    fields: dict[str, Any] = {}
    if current is not None:
        fields = {
            "supplier": current.supplier, "product": current.product, "price": current.price,
            "currency": current.currency_id, "min_quantity": current.min_quantity,
            "lead_time_days": current.lead_time_days, "valid_from": current.valid_from,
            "valid_until": current.valid_until, "supplier_code": current.supplier_code,
        }  # fmt: skip
    sent = payload.model_dump(exclude_unset=True)
    if "product" in sent and "sku" in sent:
        raise _invalid("product", _("Give the product's id or its SKU (one of them)."))
    for name, value in sent.items():
        if name == "supplier":
            value = _one(Party, value, name, _("No such supplier."))
        elif name == "product":
            value = _one(Product, value, name, _("No such product."))
        elif name == "sku":
            name = "product"
            value = Product.objects.filter(sku=(value or "").strip()).first()
            if value is None:
                raise _invalid("sku", _("No product has the SKU “%(sku)s”.") % {"sku": sent["sku"]})
        elif name == "currency":
            value = (value or "").strip().upper() or None
        elif name == "min_quantity" and value is None:
            value = Decimal(0)
        elif name == "lead_time_days" and value is None:
            value = 0
        elif name == "supplier_code":
            value = value or ""
        fields[name] = value
    if fields.get("product") is None:
        raise _invalid("product", _("Give the product's id or its SKU."))
    if fields.get("supplier") is None:
        raise _invalid("supplier", _("Give the supplier."))
    return fields


@router.post("/purchase/supplier-prices", response={201: SupplierPriceOut})
@requires("purchase.configure")
@idempotent
@refusals
def supplier_price_create(request: HttpRequest, payload: SupplierPriceIn) -> Status:
    """A supplier's price for a product from a minimum quantity, with its lead time and
    validity."""
    made = configuration.supplier_price_set(
        company=_company(request), actor=request.user, **_price_fields(payload, None)
    )
    return Status(201, _price(made.pk))


@router.patch("/purchase/supplier-prices/{price_id}", response=SupplierPriceOut)
@requires("purchase.configure")
@refusals
def supplier_price_update(
    request: HttpRequest, price_id: int, payload: SupplierPricePatch
) -> SupplierPrice:
    """Change a supplier price: the fields sent."""
    current = _price(price_id)
    configuration.supplier_price_set(
        company=_company(request), actor=request.user, instance=current,
        **_price_fields(payload, current),
    )  # fmt: skip
    return _price(price_id)


@router.delete("/purchase/supplier-prices/{price_id}", response={204: None})
@requires("purchase.configure")
def supplier_price_delete(request: HttpRequest, price_id: int) -> Status:
    """Delete a supplier price."""
    configuration.supplier_price_delete(price=_price(price_id), actor=request.user)
    return Status(204, None)


# --- settings -----------------------------------------------------------------------------------


@router.get("/purchase/settings", response=SettingsOut)
@requires("purchase.configure")
def settings_get(request: HttpRequest) -> Any:
    """The company's purchase settings (made on first use)."""
    return purchase_settings(_company(request))


@router.patch("/purchase/settings", response=SettingsOut)
@requires("purchase.configure")
@refusals
def settings_update(request: HttpRequest, payload: SettingsPatch) -> Any:
    """Change the purchase settings: the fields sent (codes for the warehouse, the default
    purchase tax and the landed costs account; null clears them)."""
    fields: dict[str, Any] = {}
    for name, value in payload.model_dump(exclude_unset=True).items():
        if name == "warehouse":
            value = _warehouse(value) if value else None
        elif name == "default_tax" and value:
            found = Tax.objects.filter(code=value.strip()).first()
            if found is None:
                raise _invalid(name, _("Unknown tax %(codes)s.") % {"codes": value})
            value = found
        elif name == "landed_cost_account" and value:
            found = Account.objects.filter(code=value.strip()).first()
            if found is None:
                raise _invalid(name, _("No account has the code “%(code)s”.") % {"code": value})
            value = found
        elif (
            name in ("rfq_answer_days",) + configuration.PERCENTS + ("requisition_approval_limit",)
            and value is None
        ):
            raise _invalid(name, _("This field is required."))
        fields[name] = value
    configuration.settings_update(company=_company(request), actor=request.user, **fields)
    return purchase_settings(_company(request))
