"""Purchase documents as PDFs and e-mails: the purchase order in the supplier's language, sent
by e-mail with its PDF attached, and the goods received note of a receipt (accepted and rejected
quantities, what was returned after inspection and why).

`order_send` marks the order sent (`orders.order_mark_sent`, which refuses an order not
approved) and sends the e-mail in one transaction: a refusal writes nothing, and when the mail
server refuses the message the order stays unsent. The e-mail goes to `to`, else the order's
contact, else the supplier's own address; without any, the sending is refused."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.documents import (
    amount_text,
    file_name,
    mail_with_pdf,
    price_text,
    quantity_text,
    recipients,
)
from xietong.core.pdf import pdf_render
from xietong.inventory.models import Picking
from xietong.party.selectors import address_text, default_address
from xietong.purchase import orders
from xietong.purchase.common import ZERO
from xietong.purchase.models import Inspection, PurchaseOrder, Requisition


def _language(order: PurchaseOrder) -> str | None:
    return order.language or order.party.language or None


def _person(user: Any) -> tuple[str, str]:
    if user is None:
        return "", ""
    return user.get_full_name() or user.username, user.email or ""


def order_context(order: PurchaseOrder) -> dict[str, Any]:
    """What the purchase order PDF and e-mail show (computed in the active language)."""
    row = PurchaseOrder.unscoped.select_related(
        "company", "party", "contact", "payment_term", "buyer", "warehouse", "rfq"
    ).get(pk=order.pk)
    currency = row.currency_id
    lines = [
        {
            "number": n,
            "description": line.description,
            "sku": line.product.sku,
            "quantity": quantity_text(line.quantity),
            "uom": line.uom.code,
            "unit_price": price_text(line.unit_price, currency),
            "discount": quantity_text(line.discount) if line.discount else "",
            "taxes": ", ".join(tax.name for tax in line.taxes.all()),
            "amount": amount_text(line.amount_untaxed, currency),
            "need_date": line.need_date,
            "promised_date": line.promised_date,
        }
        for n, line in enumerate(orders.order_lines(row), start=1)
    ]
    address = default_address(party=row.party)
    buyer, buyer_email = _person(row.buyer)
    return {
        "company": row.company,
        "order": row,
        "party": row.party,
        "contact": row.contact,
        "supplier_address": address_text(address) if address else "",
        "delivery_address": "",
        "buyer": buyer,
        "buyer_email": buyer_email,
        "currency": currency,
        "lines": lines,
        "amount_untaxed": amount_text(row.amount_untaxed, currency),
        "amount_tax": amount_text(row.amount_tax, currency),
        "amount_total": amount_text(row.amount_total, currency),
        "payment_term": row.payment_term.name if row.payment_term_id else "",
    }


def order_pdf(order: PurchaseOrder) -> bytes:
    """The purchase order as a PDF in the supplier's language: supplier, delivery warehouse,
    lines with their need and promised dates, taxes and totals, payment terms."""
    language = _language(order)
    with translation.override(language or translation.get_language()):
        context = order_context(order)
    return pdf_render(template="purchase/pdf/order.html", context=context, language=language)


@audited
def order_send(
    *, order: PurchaseOrder, actor: Any, to: str | Sequence[str] | None = None, message: str = ""
) -> PurchaseOrder:
    """Mark the approved order sent and e-mail it with its PDF (`<number>.pdf`) to `to`, else
    its contact's address, else the supplier's, in the supplier's language, with `message` in
    the body. Refused (nothing written, nothing sent) without a valid address and whatever
    `order_mark_sent` refuses; the mail server's errors propagate and the order stays unsent."""
    contact = order.contact
    to_list = recipients(
        to, contact.email if contact else "", order.party.email,
        missing=_("There is no e-mail address to send to: give one, or add one to the contact "
                  "or the supplier."),
    )  # fmt: skip
    with transaction.atomic():
        row = orders.order_mark_sent(order=order, actor=actor)
        language = _language(row)
        with translation.override(language or translation.get_language()):
            context = order_context(row)
        context["message"] = (message or "").strip()
        pdf = pdf_render(template="purchase/pdf/order.html", context=context, language=language)
        mail_with_pdf(templates="purchase/email/order", context=context, language=language,
                      to=to_list, attachment=file_name(row.number), pdf=pdf,
                      reply_to=[context["buyer_email"], getattr(actor, "email", "")])  # fmt: skip
    return row


def receipt_pdf(picking: Picking) -> bytes:
    """The goods received note of a receipt of a purchase order: per order line the quantity
    ordered, accepted in this receipt, rejected at inspection and still expected; and the
    rejected goods sent back with their reasons."""
    row = Picking.unscoped.select_related("company", "warehouse", "party").get(pk=picking.pk)
    if row.source_type != orders.ORDER_SOURCE or not row.source_id:
        raise ValueError(f"{row} is not a receipt of a purchase order")
    order = PurchaseOrder.unscoped.select_related("company", "party", "warehouse").get(
        pk=row.source_id
    )
    moves = row.moves.filter(source_type=orders.LINE_SOURCE, state="done")
    here: dict[int, Decimal] = {}
    for line_id, quantity in moves.values_list("source_id", "quantity"):
        here[line_id] = here.get(line_id, ZERO) + quantity
    inspections = list(
        Inspection.unscoped.filter(picking=row).select_related("order_line", "inspector")
    )
    rejected: dict[int, Decimal] = {}
    for inspection in inspections:
        rejected[inspection.order_line_id] = (
            rejected.get(inspection.order_line_id, ZERO) + inspection.rejected
        )
    lines = [
        {
            "description": line.description,
            "sku": line.product.sku,
            "uom": line.uom.code,
            "ordered": quantity_text(line.quantity),
            "accepted": quantity_text(here.get(line.pk, ZERO)),
            "rejected": quantity_text(rejected.get(line.pk, ZERO)),
            "open": quantity_text(
                ZERO if line.closed else max(line.quantity - line.qty_received, ZERO)
            ),
        }
        for line in orders.order_lines(order)
        if line.pk in here or line.pk in rejected
    ]
    language = _language(order)
    context = {
        "company": order.company,
        "picking": row,
        "order": order,
        "party": order.party,
        "date": row.done_at.date() if row.done_at else row.scheduled_date,
        "lines": lines,
        "rejections": [
            {
                "description": i.order_line.description,
                "quantity": quantity_text(i.rejected),
                "reason": i.reason,
                "inspector": _person(i.inspector)[0],
            }
            for i in inspections
            if i.rejected > 0
        ],
    }
    return pdf_render(template="purchase/pdf/receipt.html", context=context, language=language)


def requisition_pdf(requisition: Requisition) -> bytes:
    """The requisition as a PDF in the active language: requester, source, warehouse, state
    and approver, lines with need dates, reasons and estimated prices."""
    row = Requisition.unscoped.select_related("company", "requester", "decided_by",
                                              "warehouse").get(pk=requisition.pk)  # fmt: skip
    currency = row.company.base_currency_id
    context = {
        "company": row.company,
        "requisition": row,
        "requester": _person(row.requester)[0] or "—",
        "decided_by": _person(row.decided_by)[0],
        "estimate": amount_text(row.amount_estimate, currency),
        "currency": currency,
        "lines": [
            {
                "description": line.description,
                "sku": line.product.sku,
                "quantity": quantity_text(line.quantity),
                "uom": line.uom.code,
                "need_date": line.need_date,
                "reason": line.reason,
                "price": price_text(line.price_estimate, currency),
            }
            for line in row.lines.select_related("product", "uom").order_by("sequence", "pk")
        ],
    }
    return pdf_render(template="purchase/pdf/requisition.html", context=context)
