"""Warranty checks and returns (RMAs) from a service ticket.

There is no warranty field on products, so warranty length is a CRM setting: a `WarrantyRule`
per product category (the product's category, else its parent categories upwards), else the
company's default rule (the one without a category), else `DEFAULT_MONTHS`. The warranty runs
from the day the lot or serial number was delivered to the ticket's customer (the last done
delivery move of that lot to a customer location, from a sales order line of that customer:
`xietong.sales.selectors.lot_delivery`).

`ticket_rma_create` authorises the return through the sales returns service
(`xietong.sales.services.order_return_create`) for the order line that delivered the ticket's lot (or,
without a lot, the ticket's order line of its product) and links it on the ticket."""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import User
from xietong.crm.models import Ticket, WarrantyRule
from xietong.crm.services import CrmError
from xietong.crm.tickets import timeline_write
from xietong.inventory.models import Lot
from xietong.product.models import Category, Product
from xietong.sales import selectors as sales_selectors
from xietong.sales import services as sales_services

DEFAULT_MONTHS = 12


@dataclass(frozen=True)
class Warranty:
    """The outcome of a check: `covered` None when nothing was found to check."""

    covered: bool | None
    months: int
    delivered_on: dt.date | None = None
    until: dt.date | None = None
    order_line: Any = None  # the sales order line that delivered the lot
    reason: str = ""


def add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def warranty_months(product: Product) -> int:
    """The warranty months of `product`: its category's rule (or the nearest parent's), else
    the company's default rule, else DEFAULT_MONTHS."""
    rules = dict(WarrantyRule.unscoped.filter(company_id=product.company_id)
                 .values_list("product_category_id", "months"))  # fmt: skip
    category_id, seen = product.category_id, set()
    while category_id is not None and category_id not in seen:
        if category_id in rules:
            return rules[category_id]
        seen.add(category_id)
        category_id = Category.unscoped.filter(pk=category_id).values_list(
            "parent_id", flat=True).first()  # fmt: skip
    return rules.get(None, DEFAULT_MONTHS)


def delivery_of(lot: Lot, party_id: int | None) -> tuple[dt.date, Any] | None:
    """The last done delivery of `lot` to a customer from an order line of `party_id`: its
    date and the sales order line (`sales.selectors.lot_delivery`)."""
    return sales_selectors.lot_delivery(lot=lot, party_id=party_id)


def warranty_check(ticket: Ticket, *, on: dt.date | None = None) -> Warranty:
    """Is the ticket's lot or serial number under warranty on `on` (today by default)?"""
    on = on or timezone.localdate()
    if ticket.lot_id is None:
        return Warranty(None, 0, reason=_("The ticket names no lot or serial number."))
    lot = ticket.lot
    months = warranty_months(lot.product)
    found = delivery_of(lot, ticket.party_id)
    if found is None:
        return Warranty(None, months, reason=_("No delivery of %(lot)s to this customer was "
                                               "found.") % {"lot": lot.name})  # fmt: skip
    delivered, line = found
    until = add_months(delivered, months)
    covered = on <= until
    reason = (_("Under warranty until %(until)s.") if covered
              else _("The warranty ended on %(until)s.")) % {"until": until.isoformat()}  # fmt: skip
    return Warranty(covered, months, delivered, until, line, reason)


@audited
def ticket_rma_create(*, ticket: Ticket, actor: User | None, quantity: Any = 1, reason: str = "",
                      disposition: str = "restock") -> Ticket:  # fmt: skip
    """Authorise the return of the ticket's goods (the delivered lot, or the product of its
    order) through the sales returns service and link it. Raises CrmError when the ticket
    names nothing returnable or has a return already, and the sales service's refusals."""
    if ticket.rma_id is not None:
        raise CrmError(_("The ticket has a return already."))
    line = None
    if ticket.lot_id is not None:
        found = delivery_of(ticket.lot, ticket.party_id)
        line = found[1] if found else None
    elif ticket.sales_order_id is not None and ticket.product_id is not None:
        line = sales_selectors.order_product_line(order_id=ticket.sales_order_id,
                                                  product_id=ticket.product_id)  # fmt: skip
    if line is None:
        raise CrmError(_("Name the delivered lot, or the order and product, to return."))
    try:
        amount = Decimal(str(quantity))
    except ArithmeticError:
        amount = Decimal(0)
    if amount <= 0:
        raise ValidationError({"quantity": [_("Enter a quantity above zero.")]})
    why = reason.strip() or _("Ticket %(number)s: %(subject)s") % {"number": ticket.number,
                                                                   "subject": ticket.subject}  # fmt: skip
    wanted: dict[str, Any] = {"order_line": line, "quantity": amount, "disposition": disposition}
    if ticket.lot_id is not None:
        wanted["lot"] = ticket.lot
    with transaction.atomic():
        row = Ticket.unscoped.select_for_update(of=("self",)).get(pk=ticket.pk)
        if row.rma_id is not None:
            raise CrmError(_("The ticket has a return already."))
        rma = sales_services.order_return_create(order=line.order, actor=actor, reason=why[:300],
                                                 lines=[wanted])  # fmt: skip
        row.rma = rma
        row.sales_order_id = row.sales_order_id or line.order_id
        row.save(update_fields=["rma", "sales_order", "updated_at"])
        ticket.rma, ticket.sales_order_id = rma, row.sales_order_id
        timeline_write(ticket, _("Ticket %(number)s: return %(rma)s authorised")
                       % {"number": ticket.number, "rma": rma.number}, actor=actor)  # fmt: skip
    return ticket
