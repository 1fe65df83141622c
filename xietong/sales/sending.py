"""Sales documents as PDFs and e-mails: the quotation, the order confirmation and the delivery
note of an order's picking, rendered in the customer's language (`core.pdf.pdf_render`,
templates `sales/pdf/`), and sending a quotation or an order confirmation by e-mail with its PDF
attached (subject and body from `sales/email/`, in the customer's language).

`quotation_send` marks the quotation sent (`documents.quotation_mark_sent`, which refuses while
a discount waits for approval) and sends the e-mail in one transaction: a refusal writes
nothing, and when the mail server refuses the message the quotation stays unsent. The e-mail
goes to `to`, else the quotation's contact, else the customer's own address; without any, the
sending is refused."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.documents import Rendering, amount_text, file_name, price_text, quantity_text
from xietong.core.models import Company
from xietong.finance import taxes as tax_engine
from xietong.finance.posting import finance_settings
from xietong.inventory.models import Move, Picking
from xietong.party.models import Address
from xietong.party.selectors import address_text, default_address
from xietong.product.selectors import product_convert
from xietong.sales import documents
from xietong.sales.common import ZERO, refusal, timeline
from xietong.sales.models import Quotation, SalesOrder, SalesOrderLine

OState = SalesOrder.State


# --- formatting (as the invoice PDF does) -----------------------------------------------------

_amount, _quantity, _price = amount_text, quantity_text, price_text


def _language(document: Any) -> str | None:
    return document.language or document.party.language or None


_file_name = file_name


# --- quotations and orders --------------------------------------------------------------------


def _tax_summary(company: Company, currency: str, rows: Sequence[Any]) -> list[dict[str, str]]:
    """Base and amount per tax of the document's lines, through the tax engine (the rules the
    document's totals were computed with)."""
    names: dict[int, str] = {}
    inputs = []
    for row in rows:
        taxes = list(row.taxes.all())
        names.update((tax.pk, tax.name) for tax in taxes)
        inputs.append(
            tax_engine.LineInput(
                quantity=row.quantity,
                unit_price=row.unit_price,
                discount=row.discount,
                taxes=tuple(tax_engine.TaxRule.of(tax) for tax in taxes),
            )
        )
    if not names:
        return []
    fs = finance_settings(company)
    totals = tax_engine.compute(
        inputs, currency=currency, policy=fs.tax_rounding, rounding=fs.rounding_mode
    )
    return [
        {
            "name": names[item.key],
            "base": _amount(item.base, currency),
            "amount": _amount(item.amount, currency),
        }
        for item in totals.taxes
    ]


def _document_context(document: Any) -> dict[str, Any]:
    """What the quotation and the order confirmation share: parties, addresses, lines, taxes
    and totals (computed in the active language)."""
    currency = document.currency_id
    rows = list(
        document.lines.select_related("product", "uom")
        .prefetch_related("taxes")
        .order_by("sequence", "pk")
    )
    lines = [
        {
            "number": n,
            "description": row.description,
            "sku": row.product.sku,
            "quantity": _quantity(row.quantity),
            "uom": row.uom.code,
            "unit_price": _price(row.unit_price, currency),
            "discount": _quantity(row.discount) if row.discount else "",
            "taxes": ", ".join(tax.name for tax in row.taxes.all()),
            "amount": _amount(row.amount_untaxed, currency),
            "promise_date": row.promise_date,
        }
        for n, row in enumerate(rows, start=1)
    ]
    billing = default_address(party=document.party)
    shipping = document.shipping_address or default_address(
        party=document.party, kind=Address.Kind.SHIPPING
    )
    salesperson = document.salesperson
    return {
        "company": document.company,
        "document": document,
        "party": document.party,
        "contact": document.contact,
        "billing_address": address_text(billing) if billing else "",
        "shipping_address": address_text(shipping) if shipping else "",
        "salesperson": (salesperson.get_full_name() or salesperson.username) if salesperson else "",
        "salesperson_email": salesperson.email if salesperson else "",
        "currency": currency,
        "lines": lines,
        "tax_lines": _tax_summary(document.company, currency, rows),
        "amount_untaxed": _amount(document.amount_untaxed, currency),
        "amount_tax": _amount(document.amount_tax, currency),
        "amount_total": _amount(document.amount_total, currency),
        "payment_term": document.payment_term.name if document.payment_term_id else "",
    }


_HEADER = (
    "company", "party", "contact", "shipping_address", "payment_term", "salesperson", "currency",
)  # fmt: skip


def quotation_rendering(quotation: Quotation) -> Rendering:
    row = Quotation.unscoped.select_related(*_HEADER).get(pk=quotation.pk)
    language = _language(row)
    with translation.override(language or translation.get_language()):
        context = _document_context(row)
    context["quotation"] = row
    return Rendering("sales/pdf/quotation.html", context, language)


def order_rendering(order: SalesOrder) -> Rendering:
    row = SalesOrder.unscoped.select_related(*_HEADER, "quotation").get(pk=order.pk)
    language = _language(row)
    with translation.override(language or translation.get_language()):
        context = _document_context(row)
    context["order"] = row
    return Rendering("sales/pdf/order.html", context, language)


def quotation_pdf(quotation: Quotation) -> bytes:
    """The quotation as a PDF in the customer's language: number and version, dates and
    validity, customer, shipping address, lines with their promised dates, taxes, totals and
    payment terms."""
    return quotation_rendering(quotation).pdf()


def order_pdf(order: SalesOrder) -> bytes:
    """The order confirmation as a PDF in the customer's language."""
    return order_rendering(order).pdf()


# --- delivery notes ---------------------------------------------------------------------------


def delivery_rendering(picking: Picking) -> Rendering:
    row = Picking.unscoped.select_related("company", "warehouse", "party").get(pk=picking.pk)
    if row.source_type != documents.ORDER_SOURCE or not row.source_id:
        raise refusal(
            _("%(picking)s is not a delivery of a sales order.") % {"picking": row}, "picking"
        )
    order = SalesOrder.unscoped.select_related("company", "party", "shipping_address").get(
        pk=row.source_id
    )
    moves = list(
        Move.unscoped.filter(picking=row, source_type=documents.LINE_SOURCE)
        .exclude(state=Move.State.CANCELLED)
        .select_related("lot")
        .order_by("pk")
    )
    here: dict[int, list[Move]] = defaultdict(list)
    for move in moves:
        here[move.source_id].append(move)
    order_lines = list(
        SalesOrderLine.objects.filter(pk__in=list(here))
        .select_related("product__uom", "uom")
        .order_by("sequence", "pk")
    )
    elsewhere: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for line_id, quantity in (
        Move.unscoped.filter(
            source_type=documents.LINE_SOURCE,
            source_id__in=list(here),
            state=Move.State.DONE,
            to_location__usage="customer",
        )
        .exclude(picking=row)
        .values_list("source_id", "quantity_base")
    ):
        elsewhere[line_id] += Decimal(quantity)

    def in_line_unit(line: SalesOrderLine, base: Decimal) -> Decimal:
        return product_convert(product=line.product, quantity=base, from_uom=line.product.uom,
                               to_uom=line.uom, round_result=False)  # fmt: skip

    lines = []
    for n, line in enumerate(order_lines, start=1):
        shipped = in_line_unit(line, sum((m.quantity_base for m in here[line.pk]), ZERO))
        before = in_line_unit(line, elsewhere[line.pk])
        lots = sorted({m.lot.name for m in here[line.pk] if m.lot_id})
        lines.append(
            {
                "number": n,
                "description": line.description,
                "sku": line.product.sku,
                "uom": line.uom.code,
                "ordered": _quantity(line.quantity),
                "shipped": _quantity(shipped),
                "backorder": _quantity(max(ZERO, line.quantity - before - shipped)),
                "lots": ", ".join(lots),
            }
        )
    language = _language(order)
    with translation.override(language or translation.get_language()):
        shipping = order.shipping_address or default_address(
            party=order.party, kind=Address.Kind.SHIPPING
        )
        context = {
            "company": order.company,
            "picking": row,
            "order": order,
            "party": order.party,
            "shipping_address": address_text(shipping) if shipping else "",
            "date": row.done_at.date() if row.done_at else row.scheduled_date,
            "lines": lines,
            "lots": any(line["lots"] for line in lines),
        }
    return Rendering("sales/pdf/delivery_note.html", context, language)


def delivery_note_pdf(picking: Picking) -> bytes:
    """The delivery note of a picking of a sales order: per order line the quantity ordered,
    shipped in this picking and still to come, with the lots and serial numbers shipped and
    the shipping address."""
    return delivery_rendering(picking).pdf()


# --- e-mail -----------------------------------------------------------------------------------


def _recipients(to: str | Sequence[str] | None, *fallbacks: str) -> list[str]:
    if to:
        wanted = [to] if isinstance(to, str) else list(to)
    else:
        wanted = [next((address for address in fallbacks if address), "")]
    wanted = [str(address).strip() for address in wanted if str(address).strip()]
    if not wanted:
        raise refusal(
            _("There is no e-mail address to send to: give one, or add one to the contact or "
              "the customer."),
            "no_address",
            "to",
        )  # fmt: skip
    for address in wanted:
        try:
            validate_email(address)
        except ValidationError as exc:
            raise refusal(
                _("“%(address)s” is not an e-mail address.") % {"address": address}, "to", "to"
            ) from exc
    return wanted


def _send(*, kind: str, rendering: Rendering, to: list[str], attachment: str, actor: Any,
          message: str = "") -> None:  # fmt: skip
    """Render the subject and body of `sales/email/<kind>_subject.txt` and `_body.txt` in the
    document's language and send them with the PDF attached. The backend's errors propagate."""
    context = {**rendering.context, "message": (message or "").strip(),
               "sender": getattr(actor, "get_full_name", lambda: "")() or ""}  # fmt: skip
    with translation.override(rendering.language or translation.get_language()):
        subject = " ".join(render_to_string(f"sales/email/{kind}_subject.txt", context).split())
        body = render_to_string(f"sales/email/{kind}_body.txt", context)
    reply_to = [
        address
        for address in (rendering.context.get("salesperson_email"), getattr(actor, "email", ""))
        if address
    ][:1]
    email = EmailMessage(
        subject=subject, body=body, from_email=settings.DEFAULT_FROM_EMAIL, to=to,
        reply_to=reply_to,
    )  # fmt: skip
    email.attach(attachment, rendering.pdf(), "application/pdf")
    email.send(fail_silently=False)


@audited
def quotation_send(
    *, quotation: Quotation, actor: Any, to: str | Sequence[str] | None = None, message: str = ""
) -> Quotation:
    """Mark the quotation sent and e-mail it with its PDF (`<number>.pdf`) to `to`, else its
    contact's address, else the customer's, in the customer's language, with `message` in the
    body. Refused (SalesError, nothing written, nothing sent) without an address, for an
    invalid one and whatever `quotation_mark_sent` refuses (a discount waiting for approval, a
    quotation not draft, approved or sent). When the mail server fails, its error propagates
    and the quotation is not marked sent. Locks the quotation row."""
    contact = quotation.contact
    recipients = _recipients(to, contact.email if contact else "", quotation.party.email)
    with transaction.atomic():
        row = documents.quotation_mark_sent(quotation=quotation, actor=actor)
        _send(
            kind="quotation", rendering=quotation_rendering(row), to=recipients,
            attachment=_file_name(row.number, row.version), actor=actor, message=message,
        )  # fmt: skip
    return row


@audited
def order_send(
    *, order: SalesOrder, actor: Any, to: str | Sequence[str] | None = None, message: str = ""
) -> SalesOrder:
    """E-mail the order confirmation with its PDF (`<number>.pdf`) to `to`, else the order's
    contact, else the customer; the order does not change (a timeline entry records the
    sending). Refused (SalesError) for an order not confirmed or done and without a valid
    address; the mail server's errors propagate and then nothing is written."""
    if order.state not in (OState.CONFIRMED, OState.DONE):
        raise refusal(
            _("%(order)s is %(state)s; only a confirmed order is sent to the customer.")
            % {"order": order, "state": order.get_state_display()},
            "state",
        )
    contact = order.contact
    recipients = _recipients(to, contact.email if contact else "", order.party.email)
    with transaction.atomic():
        timeline(order.party, "order", _("Order confirmation %(number)s sent to %(to)s")
                 % {"number": order.number, "to": ", ".join(recipients)}, actor=actor,
                 source=order)  # fmt: skip
        _send(
            kind="order", rendering=order_rendering(order), to=recipients,
            attachment=_file_name(order.number), actor=actor, message=message,
        )  # fmt: skip
    return order
