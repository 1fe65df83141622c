"""Receiving goods against purchase orders: partial receipts with backorders, a tolerance on
over-receipt, and the quality inspection of products that require one.

`order_receive` takes, per order line, the quantity that arrived and (for inspection) how much
of it was rejected. Accepted quantities are done on the order's ready receipt moves (the first
step of the reception route; what is left goes to a backorder picking, unless the line is
closed); accepted quantity beyond what is still expected, up to the settings' tolerance, is
received by an extra move from the supplier into the same place. Rejected quantities never
enter stock (no move, no value: they are sent back from the dock) and are recorded on an
`Inspection` with the reason; an inspected product always gets its inspection record, even when
everything is accepted. The order line's received quantity follows the done moves
(`lines_received`, called by the stock hook in the moves' transaction), its rejected quantity
the inspections. An order whose every line is received or closed is done."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Max, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.inventory import pickings as picking_services
from xietong.inventory import stock
from xietong.inventory.models import Location, Move, Picking
from xietong.purchase.common import (
    HUNDRED,
    ZERO,
    Errors,
    PurchaseError,
    decimal_of,
    pk_of,
    purchase_settings,
    refusal,
    timeline,
    user_or_none,
)
from xietong.purchase.models import Inspection, PurchaseOrder, PurchaseOrderLine
from xietong.purchase.orders import LINE_SOURCE, _locked, order_receipts

State = PurchaseOrder.State
OPEN_MOVES = (Move.State.DRAFT, Move.State.WAITING, Move.State.ASSIGNED)


def _expected(line: PurchaseOrderLine) -> Decimal:
    return max(line.quantity - line.qty_received, ZERO)


@audited
def order_receive(
    *,
    order: PurchaseOrder,
    actor: Any,
    lines: Sequence[Mapping[str, Any]],
    date: dt.date | None = None,
    close: bool = False,
) -> Picking:
    """Receive goods on `order` (approved, sent or confirmed): `lines` are dicts of `line`
    (order line or id), `quantity` (what arrived, in the line's unit), and optionally
    `rejected` (of it, refused at inspection), `reason` (why; required with a rejection) and
    `lot`. Products that require inspection must state `rejected` (0 when all is good).
    `close`: nothing more is expected on the lines received (no backorder). Returns the
    receipt picking done.

    Refused (PurchaseError naming the lines, nothing written): an order in another state,
    lines not on the order, quantities not above zero, rejected above what arrived, a
    rejection without a reason, accepted quantity beyond what is still expected plus the
    tolerance (`receipt_tolerance_percent` of the ordered quantity)."""
    date = date or timezone.localdate()
    errors: Errors = {}
    with transaction.atomic():
        row = _locked(order, State.APPROVED, State.SENT, State.CONFIRMED)
        settings = purchase_settings(row.company)
        known = {
            line.pk: line
            for line in row.lines.select_related("product", "uom").select_for_update(of=("self",))
        }
        wanted: list[tuple[PurchaseOrderLine, Decimal, Decimal, str, Any]] = []
        for n, raw in enumerate(lines, start=1):
            key = f"lines.{n}"
            line = known.get(pk_of(raw.get("line")) or 0)
            if line is None:
                errors.setdefault(f"{key}.line", []).append(_("Choose a line of this order."))
                continue
            arrived = decimal_of(raw.get("quantity"), errors, f"{key}.quantity", positive=True)
            inspected = line.product.inspection_required
            if inspected and raw.get("rejected") in (None, ""):
                errors.setdefault(f"{key}.rejected", []).append(
                    _("“%(product)s” is inspected at receipt: give the rejected quantity "
                      "(0 when everything is good).") % {"product": line.product.name}
                )  # fmt: skip
            rejected = decimal_of(raw.get("rejected"), errors, f"{key}.rejected", default=ZERO,
                                  minimum=ZERO)  # fmt: skip
            reason = str(raw.get("reason") or "").strip()
            if rejected > arrived:
                errors.setdefault(f"{key}.rejected", []).append(
                    _("No more can be rejected than arrived.")
                )
            elif rejected > 0 and not reason:
                errors.setdefault(f"{key}.reason", []).append(_("Say why the goods are rejected."))
            accepted = arrived - rejected
            limit = _expected(line) + line.quantity * settings.receipt_tolerance_percent / HUNDRED
            if line.closed:
                errors.setdefault(f"{key}.line", []).append(
                    _("The line “%(line)s” is closed.") % {"line": line.description}
                )
            elif accepted > limit:
                errors.setdefault(f"{key}.quantity", []).append(
                    _("%(accepted)s accepted is more than the %(expected)s still expected "
                      "plus the %(tolerance)s %% tolerance.")
                    % {"accepted": accepted.normalize(), "expected": _expected(line).normalize(),
                       "tolerance": settings.receipt_tolerance_percent.normalize()}
                )  # fmt: skip
            wanted.append((line, accepted, rejected, reason, raw.get("lot")))
        if not lines:
            errors.setdefault("lines", []).append(_("Say what arrived."))
        if errors:
            raise PurchaseError(errors)
        picking = _do(row, wanted, actor=actor, date=date, close=close)
        inspections = [
            Inspection(
                company=row.company, order_line=line, picking=picking, date=date,
                quantity=accepted + rejected, accepted=accepted, rejected=rejected,
                reason=reason[:300], inspector=user_or_none(actor),
            )
            for line, accepted, rejected, reason, _lot in wanted
            if line.product.inspection_required or rejected > 0
        ]  # fmt: skip
        Inspection.unscoped.bulk_create(inspections)
        lines_rejected(line_ids=[line.pk for line, *_rest in wanted])
        if close:
            PurchaseOrderLine.objects.filter(pk__in=[line.pk for line, *_r in wanted]).update(
                closed=True
            )
        order_refresh(row)
        summary = _("Received on %(number)s: %(lines)s") % {
            "number": row,
            "lines": "; ".join(
                f"{line.description} {accepted.normalize()}"
                + (f" (−{rejected.normalize()})" if rejected else "")
                for line, accepted, rejected, *_rest in wanted
            ),
        }
        timeline(row.party, "receipt", summary, actor=actor, source=row)
    return picking


def _do(row: PurchaseOrder, wanted: Sequence[tuple], *, actor: Any, date: dt.date,
        close: bool) -> Picking:  # fmt: skip
    """Do the accepted quantities on the order's ready first-step receipt; the extra beyond
    the planned moves by moves of their own into the same place."""
    receipts = [
        p for p in order_receipts(row)
        if p.state == Picking.State.READY and p.from_location.usage == Location.Usage.SUPPLIER
    ]  # fmt: skip
    picking = receipts[0] if receipts else None
    moves: dict[int, list[Move]] = defaultdict(list)
    if picking is not None:
        for move in Move.unscoped.filter(picking=picking, state__in=OPEN_MOVES).order_by("pk"):
            if move.source_type == LINE_SOURCE and move.source_id:
                moves[move.source_id].append(move)
    quantities: dict[int, Decimal] = {}
    lots: dict[int, Any] = {}
    extra: list[tuple[PurchaseOrderLine, Decimal, Any]] = []
    for line, accepted, _rejected, _reason, lot in wanted:
        left = accepted
        for move in moves.get(line.pk, []):
            take = min(left, move.quantity)
            if take > 0:
                quantities[move.pk] = quantities.get(move.pk, ZERO) + take
                if lot:
                    lots[move.pk] = lot
                left -= take
        if left > 0:
            extra.append((line, left, lot))
    if picking is not None and quantities:
        picking_services.picking_done(picking=picking, actor=actor, quantities=quantities,
                                      lots=lots or None, backorder=not close,
                                      effective_date=date)  # fmt: skip
    elif picking is not None and close:
        picking_services.picking_cancel(picking=picking, actor=actor)
    if extra:
        first = picking or _first_step(row)
        made = [
            stock.move_create(
                company=row.company, product=line.product, quantity=quantity, uom=line.uom,
                from_location=first.from_location, to_location=first.to_location,
                planned_date=date, origin=row.number, source_type=LINE_SOURCE,
                source_id=line.pk, unit_cost=_unit_cost(line), actor=actor,
            )
            for line, quantity, _lot in extra
        ]  # fmt: skip
        stock.moves_done(moves=made, actor=actor, effective_date=date)
    if picking is None:
        picking = _first_step(row)
    return picking


def _first_step(row: PurchaseOrder) -> Picking:
    for picking in order_receipts(row):
        if picking.from_location.usage == Location.Usage.SUPPLIER:
            return picking
    raise refusal(_("The order %(number)s has no receipt.") % {"number": row}, "no_receipt")


def _unit_cost(line: PurchaseOrderLine) -> Decimal | None:
    move = (
        Move.unscoped.filter(source_type=LINE_SOURCE, source_id=line.pk, unit_cost__isnull=False)
        .order_by("pk")
        .values_list("unit_cost", flat=True)
        .first()
    )
    return move


def lines_received(*, line_ids: Sequence[int]) -> None:
    """Set the received quantity and last receipt time of order lines from their done moves
    coming from a supplier (less what went back to one)."""
    ids = sorted(set(line_ids))
    if not ids:
        return
    base = Move.unscoped.filter(source_type=LINE_SOURCE, source_id__in=ids, state=Move.State.DONE)
    came = dict(
        base.filter(from_location__usage=Location.Usage.SUPPLIER)
        .values_list("source_id")
        .annotate(q=Sum("quantity"))
        .values_list("source_id", "q")
    )
    went = dict(
        base.filter(to_location__usage=Location.Usage.SUPPLIER)
        .values_list("source_id")
        .annotate(q=Sum("quantity"))
        .values_list("source_id", "q")
    )
    last = dict(
        base.filter(from_location__usage=Location.Usage.SUPPLIER)
        .values_list("source_id")
        .annotate(at=Max("done_at"))
        .values_list("source_id", "at")
    )
    rows = list(PurchaseOrderLine.objects.filter(pk__in=ids))
    for line in rows:
        line.qty_received = Decimal(str(came.get(line.pk) or 0)) - Decimal(
            str(went.get(line.pk) or 0)
        )
        line.last_received_at = last.get(line.pk)
    PurchaseOrderLine.objects.bulk_update(rows, ["qty_received", "last_received_at"])


def lines_rejected(*, line_ids: Sequence[int]) -> None:
    ids = sorted(set(line_ids))
    found = dict(
        Inspection.unscoped.filter(order_line_id__in=ids)
        .values_list("order_line_id")
        .annotate(q=Sum("rejected"))
        .values_list("order_line_id", "q")
    )
    rows = list(PurchaseOrderLine.objects.filter(pk__in=ids))
    for line in rows:
        line.qty_rejected = Decimal(str(found.get(line.pk) or 0))
    PurchaseOrderLine.objects.bulk_update(rows, ["qty_rejected"])


def order_refresh(order: PurchaseOrder) -> None:
    """Mark the order done when every line is received in full or closed."""
    if order.state not in (State.APPROVED, State.SENT, State.CONFIRMED):
        return
    lines = list(order.lines.only("quantity", "qty_received", "closed"))
    if lines and all(line.closed or line.qty_received >= line.quantity for line in lines):
        PurchaseOrder.unscoped.filter(pk=order.pk).update(state=State.DONE)
        order.state = State.DONE


@audited
def line_close(*, line: PurchaseOrderLine, actor: Any) -> PurchaseOrderLine:
    """Expect nothing more on an order line: its open receipt moves are cancelled."""
    with transaction.atomic():
        row = _locked(line.order, State.APPROVED, State.SENT, State.CONFIRMED)
        line = PurchaseOrderLine.objects.select_for_update().get(pk=line.pk, order=row)
        moves = list(Move.unscoped.filter(source_type=LINE_SOURCE, source_id=line.pk,
                                          state__in=OPEN_MOVES).order_by("pk"))  # fmt: skip
        later = list(Move.unscoped.filter(previous__in=moves, state__in=OPEN_MOVES))
        if moves:
            stock.moves_cancel(moves=moves + later, actor=actor)
            picking_services.pickings_refresh(moves=moves + later)
        line.closed = True
        line.save(update_fields=["closed"])
        order_refresh(row)
        timeline(row.party, "receipt", _("Line “%(line)s” of %(number)s closed")
                 % {"line": line.description, "number": row}, actor=actor,
                 source=row)  # fmt: skip
    return line


def moves_done(moves: list[Move]) -> None:
    """The stock hook: received quantities of the order lines whose moves were done."""
    ids = [m.source_id for m in moves if m.source_type == LINE_SOURCE and m.source_id]
    if ids:
        lines_received(line_ids=ids)


def receipt_summary(order: PurchaseOrder) -> dict[str, Decimal]:
    """Ordered, received, rejected and billed quantities of the order (in line units)."""
    totals = order.lines.aggregate(
        ordered=Sum("quantity"), received=Sum("qty_received"), rejected=Sum("qty_rejected"),
        billed=Sum("qty_billed"),
    )  # fmt: skip
    return {k: Decimal(str(v or 0)) for k, v in totals.items()}
