"""Returns (RMAs): authorising the goods a customer sends back, receiving them into stock or
scrap, and crediting (and refunding) what was invoiced for them.

`return_create` authorises a return of delivered order lines: each quantity is at most what was
delivered less what came back and what other open returns already expect, within the company's
`SalesSettings.return_days` of the line's last delivery. `return_receive` makes one receipt
picking per disposition, from the customer location into the warehouse's stock (restock) or
into the scrap location (scrap), and does it at once; its moves are tagged with their order line
(`source_type` "sales.orderline"), so `documents.delivered_refresh` (called inside
`stock.moves_done`) counts them as returned. Goods coming back into stock re-enter at the cost
they left with (the valuation of the line's delivered moves), so cost of sales is reversed at
that cost; scrapped goods never re-enter stock and their cost stays in cost of sales. Tracked
products come back with the lot or serial numbers that were delivered. The receipts are
inventory's one-step receipts from the customer (`pickings.return_receipt_create`, into stock or
scrap).

`return_credit` credits the returned quantities that were invoiced: a customer credit note of
each invoice that billed them (newest invoice first), linked to the order line with a negative
`InvoicedLine`, so the order line's `qty_invoiced` drops when it is posted (`billing`'s finance
hook). When a credited invoice was paid (or partly) and a `refund_journal` is given, what the
credit notes leave open is paid back to the customer and allocated to them.

Each service locks the return row (`return_create` the order row), writes the customer's
timeline and raises `SalesError` (nothing written) when it refuses."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.finance.invoicing import invoice_credit, invoice_post
from xietong.finance.models import Invoice, InvoiceLine, Journal, Payment
from xietong.finance.payments import payment_create, payment_post
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Location, Lot, Move, Picking
from xietong.inventory.valuation import move_values
from xietong.inventory.warehouses import virtual_locations
from xietong.product.models import Product
from xietong.product.selectors import product_convert
from xietong.sales.common import ZERO, SalesError, number_next, refusal, sales_settings, timeline
from xietong.sales.documents import LINE_SOURCE, _locked_order
from xietong.sales.models import InvoicedLine, ReturnLine, ReturnOrder, SalesOrder, SalesOrderLine

RETURN_SOURCE = "sales.return"
RState = ReturnOrder.State
Disposition = ReturnLine.Disposition
OPEN = (RState.DRAFT, RState.AUTHORISED)
SIX = Decimal("0.000001")
CUSTOMER = Location.Usage.CUSTOMER
LINE_FIELDS = {"order_line", "quantity", "disposition", "lot"}


# --- what was delivered and what came back -----------------------------------------------------


def _done_moves(line_ids: Sequence[int]) -> Any:
    return Move.unscoped.filter(
        source_type=LINE_SOURCE, source_id__in=list(line_ids), state=Move.State.DONE
    )


def _by_lot(line: SalesOrderLine) -> dict[int | None, Decimal]:
    """What the customer still has of `line`, by lot (in the product's stock unit): delivered
    less returned."""
    balance: dict[int | None, Decimal] = defaultdict(lambda: ZERO)
    moves = _done_moves([line.pk]).filter(
        Q(to_location__usage=CUSTOMER) | Q(from_location__usage=CUSTOMER)
    )
    for lot_id, usage_to, quantity in moves.values_list(
        "lot_id", "to_location__usage", "quantity_base"
    ):
        balance[lot_id] += Decimal(quantity) if usage_to == CUSTOMER else -Decimal(quantity)
    return {lot_id: qty for lot_id, qty in balance.items() if qty > 0}


def _to_line_unit(line: SalesOrderLine, base: Decimal) -> Decimal:
    return product_convert(product=line.product, quantity=base, from_uom=line.product.uom,
                           to_uom=line.uom, round_result=False).quantize(SIX)  # fmt: skip


def _to_base(line: SalesOrderLine, quantity: Decimal) -> Decimal:
    return product_convert(product=line.product, quantity=quantity, from_uom=line.uom,
                           to_uom=line.product.uom, round_result=False)  # fmt: skip


def _on_open_returns(line_ids: Sequence[int]) -> dict[Any, Decimal]:
    """What open returns (draft, authorised) expect back, by order line id and by
    (order line id, lot id), in the order line's unit."""
    rows = ReturnLine.objects.filter(order_line_id__in=list(line_ids), rma__state__in=OPEN)
    expected: dict[Any, Decimal] = defaultdict(lambda: ZERO)
    for line_id, lot_id, quantity in rows.values_list("order_line_id", "lot_id", "quantity"):
        expected[line_id] += Decimal(quantity)
        if lot_id is not None:
            expected[(line_id, lot_id)] += Decimal(quantity)
    return expected


def _last_deliveries(line_ids: Sequence[int]) -> dict[int, dt.date]:
    return dict(
        _done_moves(line_ids)
        .filter(to_location__usage=CUSTOMER)
        .values("source_id")
        .annotate(last=Max("effective_date"))
        .values_list("source_id", "last")
    )


def returnable(line: SalesOrderLine) -> Decimal:
    """What may still be returned of `line` (in its unit): delivered − returned − what open
    returns expect."""
    expected = _on_open_returns([line.pk]).get(line.pk, ZERO)
    return max(ZERO, line.qty_delivered - line.qty_returned - expected)


# --- authorising -------------------------------------------------------------------------------


@dataclass
class _Wanted:
    order_line: SalesOrderLine
    quantity: Decimal
    disposition: str
    lot: Lot | None


def _quantity(value: Any, errors: dict[str, list[str]], key: str) -> Decimal:
    if isinstance(value, (float, bool)) or value is None or value == "":
        errors.setdefault(key, []).append(_("Give the quantity as a decimal number."))
        return ZERO
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        errors.setdefault(key, []).append(_("“%(value)s” is not a number.") % {"value": value})
        return ZERO
    if number <= 0:
        errors.setdefault(key, []).append(_("The quantity must be above zero."))
    return number


def _lines_check(order: SalesOrder, lines: Sequence[Mapping[str, Any]],
                 day: dt.date) -> list[_Wanted]:  # fmt: skip
    """The clean return lines of `order`, or SalesError with a message per line
    (`lines.N.field`)."""
    if not lines:
        raise refusal(_("Say what comes back: add at least one line."), "no_lines", "lines")
    order_lines = {
        line.pk: line
        for line in order.lines.select_related("product__uom", "uom").order_by("sequence", "pk")
    }
    errors: dict[str, list[str]] = {}
    wanted: list[_Wanted] = []
    for n, raw in enumerate(lines, start=1):
        key = f"lines.{n}"
        if not isinstance(raw, Mapping):
            errors.setdefault(key, []).append(_("A line is a set of fields."))
            continue
        unknown = set(raw) - LINE_FIELDS
        if unknown:
            errors.setdefault(key, []).append(
                _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
            )
        value = raw.get("order_line")
        try:
            line = order_lines.get(int(getattr(value, "pk", value)))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            line = None
        if line is None:
            errors.setdefault(f"{key}.order_line", []).append(
                _("Choose a line of %(order)s.") % {"order": order}
            )
            continue
        if line.product.type == Product.Type.SERVICE:
            errors.setdefault(f"{key}.order_line", []).append(
                _("%(line)s is a service; nothing comes back.") % {"line": line.description}
            )
            continue
        quantity = _quantity(raw.get("quantity"), errors, f"{key}.quantity")
        if quantity > 0 and _to_base(line, quantity) != product_convert(
            product=line.product, quantity=quantity, from_uom=line.uom, to_uom=line.product.uom
        ):
            errors.setdefault(f"{key}.quantity", []).append(
                _("%(quantity)s %(unit)s is not a whole number of %(stock)s.")
                % {"quantity": quantity.normalize(), "unit": line.uom.code,
                   "stock": line.product.uom.code}
            )  # fmt: skip
        disposition = raw.get("disposition") or Disposition.RESTOCK
        if disposition not in Disposition.values:
            errors.setdefault(f"{key}.disposition", []).append(_("Choose “restock” or “scrap”."))
        lot = raw.get("lot")
        if lot is not None and not isinstance(lot, Lot):
            lot = Lot.unscoped.filter(pk=lot if str(lot).isdigit() else None).first()
            if lot is None:
                errors.setdefault(f"{key}.lot", []).append(_("Unknown lot."))
        if lot is not None and (
            lot.company_id != order.company_id or lot.product_id != line.product_id
        ):
            errors.setdefault(f"{key}.lot", []).append(
                _("%(lot)s is not a lot of %(sku)s.") % {"lot": lot, "sku": line.product.sku}
            )
        if lot is not None and line.product.tracking == Product.Tracking.NONE:
            errors.setdefault(f"{key}.lot", []).append(
                _("%(sku)s is not tracked by lot.") % {"sku": line.product.sku}
            )
        if (
            lot is not None
            and line.product.tracking == Product.Tracking.SERIAL
            and quantity > 0
            and _to_base(line, quantity) != 1
        ):
            errors.setdefault(f"{key}.quantity", []).append(
                _("A serial number is one unit; give one line per serial number.")
            )
        if key not in errors and not any(k.startswith(f"{key}.") for k in errors):
            wanted.append(_Wanted(line, quantity, str(disposition), lot))
    if errors:
        raise SalesError(errors)
    _quantities_check(order, wanted, day)
    return wanted


def _quantities_check(order: SalesOrder, wanted: list[_Wanted], day: dt.date) -> None:
    """Each order line (and lot) returns at most what the customer still has of it and what
    open returns do not expect already, within the return period of its last delivery."""
    ids = sorted({w.order_line.pk for w in wanted})
    expected = _on_open_returns(ids)
    last = _last_deliveries(ids)
    days = sales_settings(order.company).return_days
    asked: dict[Any, Decimal] = defaultdict(lambda: ZERO)
    for item in wanted:
        asked[item.order_line.pk] += item.quantity
        if item.lot is not None:
            asked[(item.order_line.pk, item.lot.pk)] += item.quantity
    errors: dict[str, list[str]] = {}
    seen: set[int] = set()
    for n, item in enumerate(wanted, start=1):
        line = item.order_line
        if line.pk in seen:
            continue
        seen.add(line.pk)
        key = f"lines.{n}"
        delivered_on = last.get(line.pk)
        if delivered_on is None:
            errors.setdefault(key, []).append(
                _("%(line)s has not been delivered; nothing can come back.")
                % {"line": line.description}
            )
            continue
        if (day - delivered_on).days > days:
            errors.setdefault(key, []).append(
                _("%(line)s was delivered on %(date)s, more than %(days)s days ago: returns are "
                  "accepted for %(days)s days.")
                % {"line": line.description, "date": delivered_on, "days": days}
            )  # fmt: skip
            continue
        most = max(ZERO, line.qty_delivered - line.qty_returned - expected.get(line.pk, ZERO))
        if asked[line.pk] > most:
            errors.setdefault(key, []).append(
                _("%(line)s: at most %(most)s %(unit)s can come back (%(delivered)s delivered, "
                  "%(returned)s returned, %(expected)s on open returns).")
                % {"line": line.description, "most": most.normalize(), "unit": line.uom.code,
                   "delivered": line.qty_delivered.normalize(),
                   "returned": line.qty_returned.normalize(),
                   "expected": expected.get(line.pk, ZERO).normalize()}
            )  # fmt: skip
            continue
        lots = _by_lot(line)
        for other in wanted:
            if other.order_line.pk != line.pk or other.lot is None:
                continue
            have = _to_line_unit(line, lots.get(other.lot.pk, ZERO))
            most = max(ZERO, have - expected.get((line.pk, other.lot.pk), ZERO))
            if asked[(line.pk, other.lot.pk)] > most:
                errors.setdefault(key, []).append(
                    _("%(line)s: at most %(most)s of lot %(lot)s can come back.")
                    % {"line": line.description, "most": most.normalize(), "lot": other.lot}
                )
    if errors:
        raise SalesError(errors)


@audited
def return_create(
    *,
    order: SalesOrder,
    actor: Any,
    reason: str,
    lines: Sequence[Mapping[str, Any]],
    date: dt.date | None = None,
) -> ReturnOrder:
    """Authorise a return of goods delivered on `order`: `lines` are dicts of order_line (a
    line of the order, or its id), quantity (Decimal, in the order line's unit), disposition
    ("restock", the default, or "scrap") and lot (the delivered lot or serial number coming
    back, optional: found from the delivery when the product is tracked). `reason` is
    required. Refused (SalesError, nothing written) for an order not confirmed or done, a line
    not delivered, more than was delivered less returned less what open returns expect, a
    lot that was not delivered, and after `SalesSettings.return_days` from the line's last
    delivery. Locks the order row (so that two returns of one order are checked one after the
    other). Returns the authorised return."""
    reason = (reason or "").strip()
    if not reason:
        raise refusal(_("Say why the goods come back."), "reason", "reason")
    day = date or timezone.localdate()
    with transaction.atomic():
        row = _locked_order(order, SalesOrder.State.CONFIRMED, SalesOrder.State.DONE)
        wanted = _lines_check(row, lines, day)
        rma = ReturnOrder.unscoped.create(
            company=row.company,
            number=number_next(row.company, "sales.return", day),
            order=row,
            party=row.party,
            state=RState.AUTHORISED,
            date=day,
            reason=reason[:300],
        )
        ReturnLine.objects.bulk_create(
            ReturnLine(rma=rma, order_line=item.order_line, quantity=item.quantity,
                       disposition=item.disposition, lot=item.lot)
            for item in wanted
        )  # fmt: skip
        timeline(row.party, "return", _("Return %(number)s of %(order)s authorised: %(reason)s")
                 % {"number": rma.number, "order": row, "reason": rma.reason}, actor=actor,
                 source=rma)  # fmt: skip
    return rma


def _locked_return(rma: ReturnOrder, *states: str) -> ReturnOrder:
    row = (
        ReturnOrder.unscoped.select_for_update(of=("self",))
        .select_related("order__warehouse", "company", "party")
        .get(pk=rma.pk)
    )
    if states and row.state not in states:
        raise refusal(
            _("%(rma)s is %(state)s; this is not possible now.")
            % {"rma": row, "state": row.get_state_display()},
            "state",
        )
    return row


@audited
def return_cancel(*, rma: ReturnOrder, actor: Any) -> ReturnOrder:
    """Cancel a return that is not received yet (draft or authorised). Locks the return."""
    with transaction.atomic():
        row = _locked_return(rma, *OPEN)
        row.state = RState.CANCELLED
        row.save(update_fields=["state"])
        timeline(row.party, "return", _("Return %(number)s cancelled") % {"number": row},
                 actor=actor, source=row)  # fmt: skip
    return row


# --- receiving ---------------------------------------------------------------------------------


def _unit_cost(line: SalesOrderLine) -> Decimal | None:
    """The cost (per stock unit) the line's goods left stock with: the value of its delivered
    moves over their quantity; None when they were not valued."""
    moves = list(_done_moves([line.pk]).filter(to_location__usage=CUSTOMER))
    values = move_values(moves=moves)
    quantity = sum((q for q, _v in values.values()), ZERO)
    value = sum((v for _q, v in values.values()), ZERO)
    if not quantity:
        return None
    return (value / quantity).quantize(SIX)


def _lots_of(item: ReturnLine, given: Any, open_lots: dict[int, dict[int | None, Decimal]]) -> Any:
    """The lot(s) a tracked line comes back with: its own, the ones given for it, else the one
    lot (or, for serial numbers, exactly as many as come back) the customer still has of the
    order line. Consumes what it takes from `open_lots` so that two lines of one order line
    do not take the same serial numbers."""
    line = item.order_line
    if line.product.tracking == Product.Tracking.NONE:
        return None
    if item.lot is not None:
        return item.lot
    left = open_lots[line.pk]
    base = _to_base(line, item.quantity)
    if given is not None:
        found = []
        for value in given if isinstance(given, (list, tuple)) else [given]:
            lot = (
                value
                if isinstance(value, Lot)
                else Lot.unscoped.filter(
                    product_id=line.product_id, name=str(value or "").strip()
                ).first()
            )
            if lot is None or lot.product_id != line.product_id or left.get(lot.pk, ZERO) <= 0:
                raise refusal(
                    _("%(lot)s was not delivered on %(line)s.")
                    % {"lot": value, "line": line.description},
                    "lot",
                    "lots",
                )
            found.append(lot)
        serial = line.product.tracking == Product.Tracking.SERIAL
        if (serial and len(found) != base) or (
            not serial and (len(found) != 1 or left[found[0].pk] < base)
        ):
            raise refusal(
                _("The lots given for %(line)s do not make %(quantity)s.")
                % {"line": line.description, "quantity": item.quantity.normalize()},
                "lot",
                "lots",
            )
        for lot in found:
            left[lot.pk] -= 1 if serial else base
        return found[0] if len(found) == 1 else found
    candidates = sorted(lot_id for lot_id, qty in left.items() if lot_id is not None and qty > 0)
    if line.product.tracking == Product.Tracking.SERIAL:
        if len(candidates) == base:
            for lot_id in candidates:
                left[lot_id] -= 1
            return list(Lot.unscoped.filter(pk__in=candidates).order_by("name"))
    elif len(candidates) == 1 and left[candidates[0]] >= base:
        left[candidates[0]] -= base
        return Lot.unscoped.get(pk=candidates[0])
    raise refusal(
        _("Say which lot or serial numbers of %(sku)s come back (line %(line)s).")
        % {"sku": line.product.sku, "line": line.description},
        "lot_required",
        "lots",
    )


@audited
def return_receive(
    *, rma: ReturnOrder, actor: Any, lots: Mapping[int, Any] | None = None
) -> ReturnOrder:
    """Receive an authorised return: one receipt picking per disposition from the customer
    location into the order's warehouse stock (restock) or the scrap location (scrap), done at
    once, with the lots delivered for tracked products (the return line's lot, else `lots`
    {return line id: a Lot, a lot name, or a list of serial numbers}, else the one lot the
    customer has). Goods back in stock are valued at the cost they left with. The order lines'
    `qty_returned` follow (inventory's moves-done hook). Refused (SalesError or StockError,
    nothing written) for a return that is not authorised, quantities the customer no longer
    has, and lots that cannot be told. Locks the return, then the pickings, moves and
    quants."""
    lots = dict(lots or {})
    with transaction.atomic():
        row = _locked_return(rma, RState.AUTHORISED)
        order = row.order
        items = list(
            row.lines.select_related("order_line__product__uom", "order_line__uom", "lot").order_by(
                "pk"
            )
        )
        unknown = set(lots) - {item.pk for item in items}
        if unknown:
            raise refusal(_("These are not lines of %(rma)s.") % {"rma": row}, "lots", "lots")
        # the customer must still have the goods (another return may have been received)
        ids = sorted({item.order_line_id for item in items})
        fresh = {line.pk: line for line in SalesOrderLine.objects.filter(pk__in=ids)}
        asked: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for item in items:
            asked[item.order_line_id] += item.quantity
        for line_id, quantity in asked.items():
            line = fresh[line_id]
            if quantity > line.qty_delivered - line.qty_returned:
                raise refusal(
                    _("%(line)s: the customer has %(have)s left, %(quantity)s expected back.")
                    % {"line": line.description,
                       "have": (line.qty_delivered - line.qty_returned).normalize(),
                       "quantity": quantity.normalize()},
                    "quantity",
                )  # fmt: skip
        open_lots = {item.order_line_id: _by_lot(item.order_line) for item in items}
        for item in items:  # lots named on the return are taken first
            if item.lot_id is not None:
                left = open_lots[item.order_line_id]
                left[item.lot_id] = left.get(item.lot_id, ZERO) - _to_base(
                    item.order_line, item.quantity
                )
        places = virtual_locations(company=row.company)
        made: list[Picking] = []
        for disposition in (Disposition.RESTOCK, Disposition.SCRAP):
            group = [item for item in items if item.disposition == disposition]
            if not group:
                continue
            specs, chosen = [], []
            for item in group:
                line = item.order_line
                lot = _lots_of(item, lots.get(item.pk), open_lots)
                chosen.append(lot)
                if isinstance(lot, Lot) and item.lot_id is None:
                    item.lot = lot
                    item.save(update_fields=["lot"])
                cost = _unit_cost(line) if disposition == Disposition.RESTOCK else None
                specs.append(
                    {
                        "product": line.product,
                        "quantity": item.quantity,
                        "uom": line.uom,
                        "lot": lot if isinstance(lot, Lot) else None,
                        "unit_cost": cost,
                        "source_type": LINE_SOURCE,
                        "source_id": line.pk,
                    }
                )
            picking = picking_services.return_receipt_create(
                company=row.company,
                warehouse=order.warehouse,
                party=row.party,
                lines=specs,
                scheduled_date=timezone.localdate(),
                to_location=places[Location.Usage.SCRAP]
                if disposition == Disposition.SCRAP
                else None,
                origin=row.number,
                source_type=RETURN_SOURCE,
                source_id=row.pk,
                actor=actor,
            )
            picking = picking_services.picking_confirm(picking=picking, actor=actor)
            moves = list(Move.unscoped.filter(picking=picking).order_by("pk"))
            serials = {
                move.pk: lot
                for move, lot in zip(moves, chosen, strict=True)
                if lot is not None and not isinstance(lot, Lot)
            }
            made.append(
                picking_services.picking_done(picking=picking, actor=actor, lots=serials or None)
            )
        row.picking = made[0]
        row.state = RState.RECEIVED
        row.save(update_fields=["picking", "state"])
        timeline(row.party, "return", _("Return %(number)s received (%(pickings)s)")
                 % {"number": row, "pickings": ", ".join(p.number for p in made)},
                 actor=actor, source=row)  # fmt: skip
    return row


def return_pickings(rma: ReturnOrder) -> list[Picking]:
    """The receipt pickings of a return (one per disposition)."""
    return list(
        Picking.unscoped.filter(
            company_id=rma.company_id, source_type=RETURN_SOURCE, source_id=rma.pk
        ).order_by("pk")
    )


# --- crediting ---------------------------------------------------------------------------------


def _creditable(line: SalesOrderLine) -> list[tuple[InvoiceLine, Decimal, Decimal]]:
    """The posted invoice lines that billed `line`, newest invoice first, with what each may
    still be credited (in the order line's unit) and its invoice-line units per order-line
    unit."""
    links = (
        InvoicedLine.objects.filter(
            order_line=line,
            quantity__gt=0,
            invoice_line__invoice__state=Invoice.State.POSTED,
            invoice_line__invoice__kind=Invoice.Kind.CUSTOMER_INVOICE,
        )
        .select_related("invoice_line__invoice")
        .order_by("-invoice_line__invoice__date", "-invoice_line__invoice_id")
    )
    credited = dict(
        InvoicedLine.objects.filter(
            order_line=line,
            quantity__lt=0,
            invoice_line__invoice__kind=Invoice.Kind.CUSTOMER_CREDIT,
        )
        .exclude(invoice_line__invoice__state=Invoice.State.CANCELLED)
        .values("invoice_line__invoice__credited_invoice_id")
        .annotate(total=Sum("quantity"))
        .values_list("invoice_line__invoice__credited_invoice_id", "total")
    )
    found = []
    for link in links:
        invoice_id = link.invoice_line.invoice_id
        left = Decimal(link.quantity) + Decimal(credited.pop(invoice_id, None) or ZERO)
        if left > 0:
            ratio = Decimal(link.invoice_line.quantity) / Decimal(link.quantity)
            found.append((link.invoice_line, left, ratio))
    return found


@audited
def return_credit(
    *,
    rma: ReturnOrder,
    actor: Any,
    refund_journal: Journal | None = None,
    date: dt.date | None = None,
) -> ReturnOrder:
    """Credit a received return: for each returned order line, the part of it that was
    invoiced and is no longer covered by what the customer keeps (invoiced − (delivered −
    returned)), at most the returned quantity, is credited on a customer credit note of the
    invoice that billed it (newest first; its prices, discount and taxes), posted and linked to
    the order line with a negative quantity. Nothing invoiced: nothing is credited. When a
    credited invoice was paid or partly paid and `refund_journal` (a bank or cash journal) is
    given, what the credit notes leave open is paid back to the customer (`rma.refund`). The
    return is then done. Refused (SalesError, or finance's ValidationError; nothing written)
    for a return that is not received, or when what is to be credited sits on a draft invoice.
    Locks the return, then its order, then the invoices (through finance)."""
    day = date or timezone.localdate()
    with transaction.atomic():
        row = _locked_return(rma, RState.RECEIVED)
        # one credit of an order at a time: each reads what the others credited
        _locked_order(row.order)
        returned: dict[int, Decimal] = defaultdict(lambda: ZERO)
        for line_id, quantity in row.lines.values_list("order_line_id", "quantity"):
            returned[line_id] += Decimal(quantity)
        plan: dict[int, list[tuple[SalesOrderLine, InvoiceLine, Decimal, Decimal]]] = {}
        invoices: dict[int, Invoice] = {}
        for line in SalesOrderLine.objects.filter(pk__in=sorted(returned)).order_by("pk"):
            over = line.qty_invoiced - max(ZERO, line.qty_delivered - line.qty_returned)
            wanted = min(returned[line.pk], max(ZERO, over))
            for invoice_line, left, ratio in _creditable(line) if wanted > 0 else []:
                take = min(left, wanted)
                plan.setdefault(invoice_line.invoice_id, []).append(
                    (line, invoice_line, take, ratio)
                )
                invoices[invoice_line.invoice_id] = invoice_line.invoice
                wanted -= take
                if wanted <= 0:
                    break
            if wanted > 0:
                raise refusal(
                    _("%(line)s: %(quantity)s returned is billed on an invoice that is not "
                      "posted; post it or change it first.")
                    % {"line": line.description, "quantity": wanted.normalize()},
                    "draft_invoice",
                )  # fmt: skip
        paid = any(
            invoice.payment_state in (Invoice.PaymentState.PAID, Invoice.PaymentState.PARTIAL)
            for invoice in invoices.values()
        )
        credit_notes: list[Invoice] = []
        for invoice_id in sorted(plan):
            items = plan[invoice_id]
            credit = invoice_credit(
                invoice=invoices[invoice_id],
                actor=actor,
                date=day,
                lines=[{"line": il, "quantity": (q * ratio).quantize(SIX)}
                       for _l, il, q, ratio in items],
            )  # fmt: skip
            made = list(credit.lines.order_by("sequence", "pk"))
            InvoicedLine.objects.bulk_create(
                InvoicedLine(order_line=line, invoice_line=credit_line, quantity=-q)
                for (line, _il, q, _r), credit_line in zip(items, made, strict=True)
            )
            credit_notes.append(invoice_post(invoice=credit, actor=actor))
        refund = None
        if credit_notes and paid and refund_journal is not None:
            due = sum((Decimal(c.amount_residual) for c in credit_notes), ZERO)
            if due > 0:
                refund = payment_create(
                    company=row.company,
                    actor=actor,
                    direction=Payment.Direction.OUTBOUND,
                    refund=True,
                    party=row.party,
                    journal=refund_journal,
                    date=day,
                    amount=due,
                    currency=credit_notes[0].currency_id,
                    reference=row.number,
                    memo=_("Refund of return %(number)s") % {"number": row.number},
                )
                refund = payment_post(payment=refund, actor=actor, allocations=credit_notes)
        row.credit_note = credit_notes[0] if credit_notes else None
        row.refund = refund
        row.state = RState.DONE
        row.save(update_fields=["credit_note", "refund", "state"])
        if credit_notes:
            summary = _("Return %(number)s credited: %(notes)s") % {
                "number": row, "notes": ", ".join(c.number for c in credit_notes)
            }  # fmt: skip
        else:
            summary = _("Return %(number)s closed: nothing to credit") % {"number": row}
        timeline(row.party, "return", summary, actor=actor, source=row)
    return row
