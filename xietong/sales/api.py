"""REST endpoints of sales (mounted at `/api/v1` by `xietong.api`), following the conventions of
`xietong.core.api`: a permission under every route, scoped querysets (another company's record
is not found), `@paginate`d lists, `@idempotent` creating POSTs answering 201, writes through
the services, decimals as strings.

Lead to cash: quotations (create, change a draft, submit for discount approval, send, revise,
decline, cancel, accept into an order), sales orders (create, optionally confirmed at once,
confirm, cancel, invoice, down payment), their deliveries, and returns (authorise, receive,
credit, cancel); quotation and order confirmation PDFs.

Request bodies name customers, price lists, payment terms, contacts, addresses, configured
items, orders, order lines and lots by id; products by id or SKU; warehouses, units, taxes and
journals by code. Quantities are in the line's unit. Invalid input answers 422 with field errors
(`lines.0.quantity`: line numbers count from 0, as in the request); a refusal of the sales
services that concerns no single field (a document in the wrong state, an expired quotation,
nothing to invoice …) answers 422 with its reason in `detail` and its `code` (`state`,
`expired`, `nothing` …). Either way nothing is saved.

Posting touches the ledger, so it also needs the finance permission that posts invoices
(`finance.invoice`): `post: true` on `…/invoice` and `…/down-payment` is refused (403) without
it (leave it out to make a draft that an accountant posts), and crediting a received return,
which posts credit notes (and with `refund_journal` a refund, which also needs
`finance.payment`), is the accountant's operation (`finance.invoice`).
"""

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import ConfigDict

from xietong.core.api import DecimalString, refusals_of
from xietong.core.idempotency import idempotent
from xietong.core.models import User
from xietong.core.permissions import has_perm, requires
from xietong.core.selectors import membership_for
from xietong.finance.models import Invoice, Journal
from xietong.finance.posting import PostingError
from xietong.inventory.models import Move, Picking, Warehouse
from xietong.inventory.stock import StockError
from xietong.party.models import Address, Contact, Party, PaymentTerm
from xietong.product.models import PriceList
from xietong.sales import billing, documents, returns, selectors, sending, services
from xietong.sales.common import SalesError
from xietong.sales.models import (
    InvoicedLine,
    Quotation,
    ReturnLine,
    ReturnOrder,
    SalesOrder,
    SalesOrderLine,
)
from xietong.sales.schemas import DocumentBrief, DocumentOut, LineIn, LineOut, QuotationOut

router = Router(tags=["sales"])
ZERO = Decimal(0)
POSTING_PERMISSION = "finance.invoice"
REFUND_PERMISSION = "finance.payment"

QuotationState = Literal[
    "draft", "to_approve", "approved", "sent", "accepted", "lost", "revised", "cancelled"
]
OrderState = Literal["draft", "held", "confirmed", "done", "cancelled"]
ReturnState = Literal["draft", "authorised", "received", "done", "cancelled"]
PDF_RESPONSE = {
    "responses": {
        "200": {
            "description": "The document as a PDF",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        }
    }
}


# --- schemas: lines -----------------------------------------------------------------------------


class OrderLineOut(LineOut):
    qty_delivered: DecimalString
    qty_invoiced: DecimalString
    qty_returned: DecimalString
    invoice_policy: Literal["order", "delivery"] = Field(
        ..., description="what this line bills: ordered or delivered quantities"
    )


# --- schemas: quotations ------------------------------------------------------------------------


class HeaderIn(Schema):
    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = Field(None, description="default: today")
    warehouse: str | None = Field(None, description="warehouse code; default: the settings'")
    price_list: int | None = Field(None, description="default: the customer's")
    currency: str | None = Field(None, description="default: the price list's")
    shipping_address: int | None = Field(None, description="one of the customer's addresses")
    contact: int | None = Field(None, description="one of the customer's contacts")
    payment_term: int | None = Field(None, description="default: the customer's")
    salesperson: int | None = Field(None, description="user id; default: the caller")
    customer_reference: str | None = None
    notes: str | None = None
    coupon_code: str | None = Field(
        None,
        description="a coupon code of a live campaign: its promotion lowers the lines' "
        'prices; an unknown or expired code is refused (422 on `coupon_code`); "" for none',
    )


class QuotationIn(HeaderIn):
    party: int = Field(..., description="customer id")
    valid_until: dt.date | None = Field(None, description="default: date + the settings' days")
    lines: list[LineIn]


class QuotationPatch(HeaderIn):
    valid_until: dt.date | None = None
    lines: list[LineIn] | None = Field(None, description="replaces every line")


class QuotationBrief(DocumentBrief):
    version: int
    valid_until: dt.date


class QuotationFilters(Schema):
    state: QuotationState | None = None
    party: int | None = Field(None, description="customer id")
    salesperson: int | None = Field(None, description="user id")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = Field(None, description="part of the number, customer or reference")
    latest: bool = Field(False, description="true: leave out revised versions")


class SendIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: list[str] | None = Field(
        None, description="e-mail addresses; default: the contact's, else the customer's"
    )
    message: str = ""


class LostIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str


class AcceptIn(Schema):
    model_config = ConfigDict(extra="forbid")

    confirm: bool = Field(True, description="false: keep the order as a draft")
    requested_date: dt.date | None = None
    customer_reference: str | None = Field(None, description="default: the quotation's")


# --- schemas: orders ----------------------------------------------------------------------------


class OrderIn(HeaderIn):
    party: int = Field(..., description="customer id")
    invoice_policy: Literal["order", "delivery"] | None = Field(
        None,
        description="invoice ordered or delivered quantities on every line (services: on "
        "order); default: per line, the product's policy, else the customer's, else the "
        "settings'",
    )
    requested_date: dt.date | None = None
    lines: list[LineIn]
    confirm: bool = Field(False, description="true: confirm the order at once")


class OrderBrief(DocumentBrief):
    requested_date: dt.date | None
    invoice_policy: str = Field(
        ..., description="the order's default; each line has its own (`lines.invoice_policy`)"
    )
    quotation: int | None = Field(None, alias="quotation_id")


class DeliveryBrief(Schema):
    id: int
    number: str
    kind: str
    step: str
    state: str
    scheduled_date: dt.date
    done_at: dt.datetime | None


class OrderInvoiceOut(Schema):
    id: int
    kind: str
    number: str
    state: str
    payment_state: str
    date: dt.date
    currency: str = Field(..., alias="currency_id")
    amount_untaxed: DecimalString
    amount_tax: DecimalString
    amount_total: DecimalString
    amount_residual: DecimalString


class ReturnBrief(Schema):
    id: int
    number: str
    state: str
    order: int = Field(..., alias="order_id")
    party: int = Field(..., alias="party_id")
    date: dt.date
    reason: str


class OrderOut(OrderBrief, DocumentOut):
    hold_reason: str
    credit_approved: bool
    confirmed_at: dt.datetime | None
    cancel_reason: str
    lines: list[OrderLineOut]
    deliveries: list[DeliveryBrief] = Field(..., description="the order's pickings")
    invoices: list[OrderInvoiceOut] = Field(
        ..., description="invoices, down payments and credit notes of the order"
    )
    returns: list[ReturnBrief]

    @staticmethod
    def resolve_lines(obj: SalesOrder) -> list[Any]:
        return list(obj.lines.all())

    @staticmethod
    def resolve_deliveries(obj: SalesOrder) -> list[Picking]:
        return documents.order_pickings(obj)

    @staticmethod
    def resolve_invoices(obj: SalesOrder) -> list[Invoice]:
        return _order_invoices(obj)

    @staticmethod
    def resolve_returns(obj: SalesOrder) -> list[ReturnOrder]:
        return list(obj.returns.order_by("pk"))


class OrderFilters(Schema):
    state: OrderState | None = None
    party: int | None = Field(None, description="customer id")
    salesperson: int | None = Field(None, description="user id")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = Field(None, description="part of the number, customer or reference")


class CancelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    reason: str = ""


class QuantityIn(Schema):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(..., description="order line id")
    quantity: DecimalString


class InvoiceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    quantities: list[QuantityIn] | None = Field(
        None, description="what to bill per order line; default: everything invoiceable now"
    )
    date: dt.date | None = Field(None, description="default: today")
    post: bool = Field(False, description="true: post it at once (needs finance.invoice)")


class DownPaymentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    amount: DecimalString | None = Field(None, description="untaxed amount (or give percent)")
    percent: DecimalString | None = Field(None, description="of the order's untaxed total")
    date: dt.date | None = Field(None, description="default: today")
    post: bool = Field(False, description="true: post it at once (needs finance.invoice)")


class InvoiceCreatedOut(OrderInvoiceOut):
    order: int


class MoveOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    sku: str
    quantity: DecimalString
    uom: str
    quantity_base: DecimalString = Field(..., description="in the product's stock unit")
    state: str
    from_location: int = Field(..., alias="from_location_id")
    to_location: int = Field(..., alias="to_location_id")
    lot: str | None
    planned_date: dt.date
    effective_date: dt.date | None
    order_line: int | None = Field(None, description="the order line it delivers")

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
        return obj.source_id if obj.source_type == documents.LINE_SOURCE else None


class DeliveryOut(DeliveryBrief):
    warehouse: str = Field(..., description="warehouse code")
    from_location: int = Field(..., alias="from_location_id")
    to_location: int = Field(..., alias="to_location_id")
    origin: str
    previous: int | None = Field(None, alias="previous_id")
    backorder_of: int | None = Field(None, alias="backorder_of_id")
    moves: list[MoveOut]

    @staticmethod
    def resolve_warehouse(obj: Picking) -> str:
        return obj.warehouse.code

    @staticmethod
    def resolve_moves(obj: Picking) -> list[Move]:
        return list(obj.moves.all())


# --- schemas: returns ---------------------------------------------------------------------------


class ReturnLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    order_line: int = Field(..., description="id of a delivered line of the order")
    quantity: DecimalString
    disposition: Literal["restock", "scrap"] = "restock"
    lot: int | None = Field(None, description="lot id (tracked products; default: as delivered)")


class ReturnIn(Schema):
    model_config = ConfigDict(extra="forbid")

    order: int = Field(..., description="sales order id")
    reason: str
    date: dt.date | None = Field(None, description="default: today")
    lines: list[ReturnLineIn]


class ReturnLineOut(Schema):
    id: int
    order_line: int = Field(..., alias="order_line_id")
    product: int
    sku: str
    description: str
    quantity: DecimalString
    uom: str
    disposition: str
    lot: str | None

    @staticmethod
    def resolve_product(obj: ReturnLine) -> int:
        return obj.order_line.product_id

    @staticmethod
    def resolve_sku(obj: ReturnLine) -> str:
        return obj.order_line.product.sku

    @staticmethod
    def resolve_description(obj: ReturnLine) -> str:
        return obj.order_line.description

    @staticmethod
    def resolve_uom(obj: ReturnLine) -> str:
        return obj.order_line.uom.code

    @staticmethod
    def resolve_lot(obj: ReturnLine) -> str | None:
        return obj.lot.name if obj.lot_id else None  # type: ignore[union-attr]


class ReturnListOut(ReturnBrief):
    order_number: str
    party_name: str

    @staticmethod
    def resolve_order_number(obj: ReturnOrder) -> str:
        return obj.order.number

    @staticmethod
    def resolve_party_name(obj: ReturnOrder) -> str:
        return obj.party.name


class ReturnOut(ReturnListOut):
    receipts: list[DeliveryBrief] = Field(..., description="the receipt pickings")
    credit_note: int | None = Field(None, alias="credit_note_id")
    refund: int | None = Field(None, alias="refund_id")
    created_at: dt.datetime
    lines: list[ReturnLineOut]

    @staticmethod
    def resolve_receipts(obj: ReturnOrder) -> list[Picking]:
        return returns.return_pickings(obj)

    @staticmethod
    def resolve_lines(obj: ReturnOrder) -> list[ReturnLine]:
        return list(obj.lines.all())


class ReturnFilters(Schema):
    state: ReturnState | None = None
    party: int | None = Field(None, description="customer id")
    order: int | None = Field(None, description="sales order id")
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = Field(None, description="part of the number, order number or reason")


class ReceiveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lots: dict[int, str | list[str]] | None = Field(
        None,
        description="per return line id: the lot name, or the serial numbers, coming back "
        "(default: as delivered)",
    )


class CreditIn(Schema):
    model_config = ConfigDict(extra="forbid")

    refund_journal: str | None = Field(
        None,
        description="code of a bank or cash journal: pay back what a paid invoice's credit "
        "notes leave open (needs finance.payment)",
    )
    date: dt.date | None = Field(None, description="default: today")


# --- helpers ------------------------------------------------------------------------------------


refusals = refusals_of(SalesError, StockError, PostingError, own=SalesError)
"""Answer the services' refusals: with field errors as validation problems (line numbers
from 0), without as 422 with their reason and code."""


def _company(request: HttpRequest) -> Any:
    return request.company  # type: ignore[attr-defined]


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _needs(request: HttpRequest, code: str) -> None:
    if not has_perm(request, code):
        raise PermissionDenied(code)


def _one(model: Any, pk: int | None, field: str, message: str) -> Any:
    """The company's `model` row `pk` (None for None); a 422 naming `field` otherwise."""
    if pk is None:
        return None
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise _invalid(field, message)
    return found


NOT_HEADER = {"party", "lines", "valid_until", "invoice_policy", "requested_date", "confirm"}


def _header(request: HttpRequest, payload: HeaderIn) -> dict[str, Any]:
    """The header fields the client sent, as the services take them (records, not ids)."""
    sent = payload.model_dump(exclude_unset=True, exclude=NOT_HEADER)
    fields: dict[str, Any] = {}
    for name, value in sent.items():
        if name == "warehouse":
            found = Warehouse.objects.filter(code=(value or "").strip().upper()).first()
            if value and found is None:
                raise _invalid(name, _("No warehouse has the code “%(code)s”.") % {"code": value})
            value = found
        elif name == "price_list":
            value = _one(PriceList, value, name, _("No such price list."))
        elif name == "payment_term":
            value = _one(PaymentTerm, value, name, _("No such payment term."))
        elif name == "contact":
            value = _one(Contact, value, name, _("No such contact."))
        elif name == "shipping_address":
            value = _one(Address, value, name, _("No such address."))
        elif name == "salesperson" and value is not None:
            user = User.objects.filter(pk=value).first()
            if user is None or membership_for(user=user, company=_company(request)) is None:
                raise _invalid(name, _("Choose a user of this company."))
            value = user
        elif name == "currency" and value:
            value = value.strip().upper()
        fields[name] = value
    return fields


def _party(pk: int) -> Party:
    return _one(Party, pk, "party", _("No such customer."))


def _lines(items: Iterable[LineIn]) -> list[dict[str, Any]]:
    """The request's lines as the services take them (`services.quotation_lines_from_input`)."""
    return services.quotation_lines_from_input(items)


def _quotation(quotation_id: int) -> Quotation:
    found = selectors.quotation_detail(quotation_id=quotation_id)
    if found is None:
        raise Http404
    return found


def _lines_again(quotation: Quotation) -> list[dict[str, Any]]:
    """The quotation's lines as the services take them, to be priced again (a new coupon
    code): a price is kept only when it was typed (it differs from the list price)."""
    return [
        {
            "product": line.product_id,
            "configured_item": line.configured_item_id,
            "quantity": line.quantity,
            "uom": line.uom,
            "discount": line.discount,
            "taxes": list(line.taxes.all()),
            "description": line.description,
            **({"unit_price": line.unit_price} if line.unit_price != line.list_price else {}),
        }
        for line in quotation.lines.all()
    ]


def _order(order_id: int) -> SalesOrder:
    return get_object_or_404(
        SalesOrder.objects.select_related("party", "warehouse").prefetch_related(
            Prefetch(
                "lines",
                SalesOrderLine.objects.select_related("product", "uom").prefetch_related("taxes"),
            )
        ),
        pk=order_id,
    )


def _order_invoices(order: SalesOrder) -> list[Invoice]:
    """The invoices made from the order (down payments included) and the credit notes of its
    lines (returns)."""
    linked = InvoicedLine.objects.filter(order_line__order=order).values("invoice_line__invoice_id")
    return list(
        Invoice.objects.filter(
            Q(source_type=documents.ORDER_SOURCE, source_id=order.pk) | Q(pk__in=linked)
        ).order_by("date", "pk")
    )


def _return(return_id: int) -> ReturnOrder:
    return get_object_or_404(
        ReturnOrder.objects.select_related("order", "party").prefetch_related(
            Prefetch(
                "lines",
                ReturnLine.objects.select_related(
                    "order_line__product", "order_line__uom", "lot"
                ).order_by("pk"),
            )
        ),
        pk=return_id,
    )


def _pdf(content: bytes, name: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{name.replace("/", "-")}.pdf"'
    return response


def _documents(found: Any, filters: QuotationFilters | OrderFilters) -> Any:
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.party is not None:
        found = found.filter(party_id=filters.party)
    if filters.salesperson is not None:
        found = found.filter(salesperson_id=filters.salesperson)
    if filters.date_from:
        found = found.filter(date__gte=filters.date_from)
    if filters.date_to:
        found = found.filter(date__lte=filters.date_to)
    if filters.q:
        found = found.filter(
            Q(number__icontains=filters.q)
            | Q(party__name__icontains=filters.q)
            | Q(customer_reference__icontains=filters.q)
        )
    return found.order_by("-date", "-pk")


# --- quotations ---------------------------------------------------------------------------------


@router.get("/sales/quotations", response=list[QuotationBrief])
@requires("sales.view")
@paginate
def quotation_list(request: HttpRequest, filters: Query[QuotationFilters]) -> Any:
    """Quotations, newest first (every version); filter by state, customer, salesperson, date
    range, a search in the number, customer and reference, or `latest` versions only."""
    found = _documents(Quotation.objects.select_related("party"), filters)
    if filters.latest:
        found = found.filter(next_version__isnull=True)
    return found


@router.get("/sales/quotations/{quotation_id}", response=QuotationOut)
@requires("sales.view")
def quotation_get(request: HttpRequest, quotation_id: int) -> Quotation:
    """One quotation with its lines (promised dates included), versions and orders."""
    return _quotation(quotation_id)


@router.post("/sales/quotations", response={201: QuotationOut})
@requires("sales.quote")
@idempotent
@refusals
def quotation_create(request: HttpRequest, payload: QuotationIn) -> Status:
    """Create a draft quotation, priced from the customer's price list (or the prices given),
    with a promised date per line (ATP)."""
    quotation = documents.quotation_create(
        company=_company(request),
        actor=request.user,
        party=_party(payload.party),
        lines=_lines(payload.lines),
        valid_until=payload.valid_until,
        **_header(request, payload),
    )
    return Status(201, _quotation(quotation.pk))


@router.patch("/sales/quotations/{quotation_id}", response=QuotationOut)
@requires("sales.quote")
@refusals
def quotation_update(request: HttpRequest, quotation_id: int, payload: QuotationPatch) -> Any:
    """Change a draft (or approved) quotation: the header fields sent, and `lines` replacing
    all lines. A sent quotation is changed by revising it."""
    quotation = _quotation(quotation_id)
    lines = _lines(payload.lines) if payload.lines is not None else None
    if lines is None and "coupon_code" in payload.model_fields_set:
        lines = _lines_again(quotation)  # another coupon prices the lines again
    documents.quotation_update(
        quotation=quotation,
        actor=request.user,
        lines=lines,
        valid_until=payload.valid_until,
        **_header(request, payload),
    )
    return _quotation(quotation_id)


@router.post("/sales/quotations/{quotation_id}/submit", response=QuotationOut)
@requires("sales.quote")
@refusals
def quotation_submit(request: HttpRequest, quotation_id: int) -> Any:
    """Submit a draft: a discount above the customer's limit starts the approval process
    (`to_approve`), otherwise the quotation is approved at once."""
    documents.quotation_submit(quotation=_quotation(quotation_id), actor=request.user)
    return _quotation(quotation_id)


@router.post("/sales/quotations/{quotation_id}/send", response=QuotationOut)
@requires("sales.quote")
@refusals
def quotation_send(request: HttpRequest, quotation_id: int, payload: SendIn) -> Any:
    """E-mail the quotation's PDF (to `to`, else its contact, else the customer) with
    `message`, and mark it sent. Refused while a discount waits for approval."""
    sending.quotation_send(
        quotation=_quotation(quotation_id),
        actor=request.user,
        to=payload.to,
        message=payload.message,
    )
    return _quotation(quotation_id)


@router.post("/sales/quotations/{quotation_id}/revise", response={201: QuotationOut})
@requires("sales.quote")
@idempotent
@refusals
def quotation_revise(request: HttpRequest, quotation_id: int) -> Status:
    """Make the next version (a draft with the same number and lines); the revised one keeps
    its content. Answers the new version."""
    new = documents.quotation_revise(quotation=_quotation(quotation_id), actor=request.user)
    return Status(201, _quotation(new.pk))


@router.post("/sales/quotations/{quotation_id}/lost", response=QuotationOut)
@requires("sales.quote")
@refusals
def quotation_lost(request: HttpRequest, quotation_id: int, payload: LostIn) -> Any:
    """The customer declined (`reason` required)."""
    documents.quotation_lost(
        quotation=_quotation(quotation_id), actor=request.user, reason=payload.reason
    )
    return _quotation(quotation_id)


@router.post("/sales/quotations/{quotation_id}/cancel", response=QuotationOut)
@requires("sales.quote")
@refusals
def quotation_cancel(request: HttpRequest, quotation_id: int) -> Any:
    """Cancel a quotation that is not accepted."""
    documents.quotation_cancel(quotation=_quotation(quotation_id), actor=request.user)
    return _quotation(quotation_id)


@router.post("/sales/quotations/{quotation_id}/accept", response={201: OrderOut})
@requires("sales.order")
@idempotent
@refusals
def quotation_accept(request: HttpRequest, quotation_id: int, payload: AcceptIn) -> Status:
    """The customer accepted: make the sales order (confirmed unless `confirm` is false).
    Refused for an expired quotation (revise it) or a discount not approved."""
    fields = payload.model_dump(exclude_unset=True, exclude={"confirm"})
    order = documents.quotation_accept(
        quotation=_quotation(quotation_id),
        actor=request.user,
        confirm=payload.confirm,
        **{name: value for name, value in fields.items() if value is not None},
    )
    return Status(201, _order(order.pk))


@router.get("/sales/quotations/{quotation_id}/pdf", response={200: None},
            openapi_extra=PDF_RESPONSE)  # fmt: skip
@requires("sales.view")
def quotation_pdf(request: HttpRequest, quotation_id: int) -> HttpResponse:
    """The quotation as a PDF, in the customer's language."""
    quotation = _quotation(quotation_id)
    name = (
        quotation.number if quotation.version == 1 else f"{quotation.number}-v{quotation.version}"
    )
    return _pdf(sending.quotation_pdf(quotation), name)


# --- orders -------------------------------------------------------------------------------------


@router.get("/sales/orders", response=list[OrderBrief])
@requires("sales.view")
@paginate
def order_list(request: HttpRequest, filters: Query[OrderFilters]) -> Any:
    """Sales orders, newest first; filter by state, customer, salesperson, date range or a
    search in the number, customer and reference."""
    return _documents(SalesOrder.objects.select_related("party"), filters)


@router.get("/sales/orders/{order_id}", response=OrderOut)
@requires("sales.view")
def order_get(request: HttpRequest, order_id: int) -> SalesOrder:
    """One order with its lines (delivered, invoiced, returned, promised date), deliveries,
    invoices and returns."""
    return _order(order_id)


@router.post("/sales/orders", response={201: OrderOut})
@requires("sales.order")
@idempotent
@refusals
def order_create(request: HttpRequest, payload: OrderIn) -> Status:
    """Create a sales order from lines, and with `confirm: true` confirm it in the same
    transaction (credit check, promised dates, delivery pickings reserving the stock; above
    the customer's credit limit the order is held for approval)."""
    with transaction.atomic():
        order = documents.order_create(
            company=_company(request),
            actor=request.user,
            party=_party(payload.party),
            lines=_lines(payload.lines),
            invoice_policy=payload.invoice_policy,
            requested_date=payload.requested_date,
            **_header(request, payload),
        )
        if payload.confirm:
            documents.order_confirm(order=order, actor=request.user)
    return Status(201, _order(order.pk))


@router.post("/sales/orders/{order_id}/confirm", response=OrderOut)
@requires("sales.order")
@refusals
def order_confirm(request: HttpRequest, order_id: int) -> Any:
    """Confirm a draft order (or hold it above the customer's credit limit)."""
    documents.order_confirm(order=_order(order_id), actor=request.user)
    return _order(order_id)


@router.post("/sales/orders/{order_id}/cancel", response=OrderOut)
@requires("sales.order")
@refusals
def order_cancel(request: HttpRequest, order_id: int, payload: CancelIn) -> Any:
    """Cancel an order that has shipped nothing: reservations are released and draft invoices
    deleted. Refused once goods have left (make a return) or while a posted invoice remains."""
    documents.order_cancel(order=_order(order_id), actor=request.user, reason=payload.reason)
    return _order(order_id)


def _invoice_created(invoice: Invoice, order: SalesOrder) -> dict[str, Any]:
    fresh = Invoice.objects.get(pk=invoice.pk)
    return {**OrderInvoiceOut.model_validate(fresh).model_dump(by_alias=True), "order": order.pk}


@router.post("/sales/orders/{order_id}/invoice", response={201: InvoiceCreatedOut})
@requires("sales.order")
@idempotent
@refusals
def order_invoice(request: HttpRequest, order_id: int, payload: InvoiceIn) -> Status:
    """Invoice what the order may bill now (each line by its policy: ordered or delivered
    quantities), or the `quantities` given per line, less the down payments not yet deducted
    that it bills more than (all that remain when it bills the rest of the order). A draft
    unless `post` (which needs finance.invoice as well)."""
    if payload.post:
        _needs(request, POSTING_PERMISSION)
    order = _order(order_id)
    quantities: dict[int, Decimal] | None = None
    if payload.quantities is not None:
        quantities = {}
        for n, item in enumerate(payload.quantities):
            if item.line in quantities:
                raise _invalid(f"quantities.{n}.line", _("This line is listed twice."))
            quantities[item.line] = item.quantity
    invoice = billing.order_invoice(
        order=order, actor=request.user, date=payload.date, quantities=quantities,
        post=payload.post,
    )  # fmt: skip
    return Status(201, _invoice_created(invoice, order))


@router.post("/sales/orders/{order_id}/down-payment", response={201: InvoiceCreatedOut})
@requires("sales.order")
@idempotent
@refusals
def order_down_payment(request: HttpRequest, order_id: int, payload: DownPaymentIn) -> Status:
    """Invoice an advance on a confirmed order: `amount` (untaxed) or `percent` of its
    untaxed total; deducted from the order's next invoice once posted. A draft unless `post`
    (which needs finance.invoice as well)."""
    if payload.post:
        _needs(request, POSTING_PERMISSION)
    order = _order(order_id)
    invoice = billing.order_down_payment(
        order=order, actor=request.user, amount=payload.amount, percent=payload.percent,
        date=payload.date, post=payload.post,
    )  # fmt: skip
    return Status(201, _invoice_created(invoice, order))


@router.get("/sales/orders/{order_id}/deliveries", response=list[DeliveryOut])
@requires("sales.view")
def order_deliveries(request: HttpRequest, order_id: int) -> list[Picking]:
    """The order's delivery pickings (every step of the route) with their moves."""
    order = _order(order_id)
    return list(
        Picking.objects.filter(source_type=documents.ORDER_SOURCE, source_id=order.pk)
        .select_related("warehouse")
        .prefetch_related(
            Prefetch(
                "moves",
                Move.objects.select_related("product", "uom", "lot").order_by("pk"),
            )
        )
        .order_by("pk")
    )


@router.get("/sales/orders/{order_id}/pdf", response={200: None}, openapi_extra=PDF_RESPONSE)
@requires("sales.view")
def order_pdf(request: HttpRequest, order_id: int) -> HttpResponse:
    """The order confirmation as a PDF, in the customer's language."""
    order = _order(order_id)
    return _pdf(sending.order_pdf(order), order.number)


# --- returns ------------------------------------------------------------------------------------


@router.get("/sales/returns", response=list[ReturnListOut])
@requires("sales.view")
@paginate
def return_list(request: HttpRequest, filters: Query[ReturnFilters]) -> Any:
    """Returns, newest first; filter by state, customer, order, date range or a search in the
    number, order number and reason."""
    found = ReturnOrder.objects.select_related("order", "party")
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.party is not None:
        found = found.filter(party_id=filters.party)
    if filters.order is not None:
        found = found.filter(order_id=filters.order)
    if filters.date_from:
        found = found.filter(date__gte=filters.date_from)
    if filters.date_to:
        found = found.filter(date__lte=filters.date_to)
    if filters.q:
        found = found.filter(
            Q(number__icontains=filters.q)
            | Q(order__number__icontains=filters.q)
            | Q(reason__icontains=filters.q)
        )
    return found.order_by("-date", "-pk")


@router.get("/sales/returns/{return_id}", response=ReturnOut)
@requires("sales.view")
def return_get(request: HttpRequest, return_id: int) -> ReturnOrder:
    """One return with its lines, receipts, credit note and refund."""
    return _return(return_id)


@router.post("/sales/returns", response={201: ReturnOut})
@requires("sales.return")
@idempotent
@refusals
def return_create(request: HttpRequest, payload: ReturnIn) -> Status:
    """Authorise a return of delivered goods of an order: each line at most what was
    delivered less what came back and what open returns expect, within the return period."""
    order = _one(SalesOrder, payload.order, "order", _("No such sales order."))
    rma = returns.return_create(
        order=order,
        actor=request.user,
        reason=payload.reason,
        date=payload.date,
        lines=[item.model_dump(exclude_none=True) for item in payload.lines],
    )
    return Status(201, _return(rma.pk))


@router.post("/sales/returns/{return_id}/receive", response=ReturnOut)
@requires("sales.return")
@refusals
def return_receive(request: HttpRequest, return_id: int, payload: ReceiveIn) -> Any:
    """Receive an authorised return: the goods come back into stock (at the cost they left
    with) or go to scrap, by line."""
    returns.return_receive(rma=_return(return_id), actor=request.user, lots=payload.lots)
    return _return(return_id)


@router.post("/sales/returns/{return_id}/credit", response=ReturnOut)
@requires(POSTING_PERMISSION)
@refusals
def return_credit(request: HttpRequest, return_id: int, payload: CreditIn) -> Any:
    """Credit a received return: posted credit notes of the invoices that billed the goods
    (newest first), and with `refund_journal` the refund of what a paid invoice's credit notes
    leave open (needs finance.payment as well). Accountants do this (finance.invoice)."""
    rma = _return(return_id)
    journal = None
    if payload.refund_journal:
        _needs(request, REFUND_PERMISSION)
        journal = Journal.objects.filter(code=payload.refund_journal).first()
        if journal is None or journal.kind not in (Journal.Kind.BANK, Journal.Kind.CASH):
            raise _invalid("refund_journal", _("Choose a bank or cash journal by its code."))
    returns.return_credit(rma=rma, actor=request.user, refund_journal=journal, date=payload.date)
    return _return(return_id)


@router.post("/sales/returns/{return_id}/cancel", response=ReturnOut)
@requires("sales.return")
@refusals
def return_cancel(request: HttpRequest, return_id: int) -> Any:
    """Cancel a return that is not received yet."""
    returns.return_cancel(rma=_return(return_id), actor=request.user)
    return _return(return_id)
