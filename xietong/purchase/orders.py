"""Purchase orders: create and change drafts, submit them for approval, send them to the
supplier, record the supplier's confirmation and promised dates, cancel them.

States: draft → (submit) to_approve → approved → sent → confirmed → done (every line received
or closed; `receiving`), and cancelled from any state before anything was received.

Approval: submitting starts the "purchase_order_approval" process with the order's untaxed
amount in the company currency; its DMN table (`po_approval_bands`) approves small orders at
once and routes the others to the purchasing lead or the executive, with finance in parallel
above a limit. An order approved at once is approved inside `order_submit`; otherwise the
process's outcome arrives as a workflow event after commit (`approval_decided`). Approval
makes the receipt: the draft pickings of the warehouse's reception route, confirmed, one move a
line (its source the order line, its unit cost the line's net price in the company currency),
which the stock shows as scheduled receipts at once. A rejection returns the order to draft
with the approver's comment."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, Currency
from xietong.core.selectors import RateNotFound, rate_on
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Picking, Warehouse
from xietong.party.models import Contact, Party, PaymentTerm
from xietong.purchase.common import (
    Errors,
    LineData,
    PurchaseError,
    amounts_compute,
    date_of,
    numbers_next,
    pk_of,
    purchase_settings,
    refusal,
    same_company,
    supplier_check,
    timeline,
    user_or_none,
)
from xietong.purchase.models import PurchaseOrder, PurchaseOrderLine, RequisitionLine
from xietong.workflow.models import ProcessInstance
from xietong.workflow.services import process_start

State = PurchaseOrder.State
LINE_SOURCE = "purchase.orderline"
ORDER_SOURCE = "purchase.order"


def _locked(order: PurchaseOrder, *states: str) -> PurchaseOrder:
    row = (
        PurchaseOrder.unscoped.select_for_update(of=("self",))
        .select_related("party", "company", "warehouse", "currency")
        .get(pk=order.pk)
    )
    if states and row.state not in states:
        raise refusal(
            _("The purchase order %(number)s is %(state)s; this cannot be done now.")
            % {"number": row, "state": row.get_state_display()},
            "state",
        )
    return row


def _header(
    company: Company,
    *,
    party: Any,
    currency: Any,
    warehouse: Any,
    payment_term: Any,
    contact: Any,
    date: dt.date,
) -> tuple[dict[str, Any], Errors]:
    """The checked header fields of an order (and the errors found)."""
    errors: Errors = {}
    supplier_check(company, party, errors)
    settings = purchase_settings(company)
    warehouse = warehouse or settings.warehouse
    if not isinstance(warehouse, Warehouse):
        errors.setdefault("warehouse", []).append(_("Choose the receiving warehouse."))
    else:
        same_company(company, warehouse, _("warehouse"), errors, "warehouse")
    code = pk_of(currency) if not isinstance(currency, str) else currency
    if currency in (None, ""):
        code = getattr(party, "currency_id", None) or company.base_currency_id
    if not Currency.objects.filter(pk=code).exists():
        errors.setdefault("currency", []).append(_("Choose a currency."))
    if payment_term is not None:
        if not isinstance(payment_term, PaymentTerm):
            payment_term = PaymentTerm.unscoped.filter(pk=pk_of(payment_term)).first()
        if payment_term is None:
            errors.setdefault("payment_term", []).append(_("Choose payment terms."))
        else:
            same_company(company, payment_term, _("payment terms"), errors, "payment_term")
    elif isinstance(party, Party):
        payment_term = party.payment_term
    if contact is not None and (
        not isinstance(contact, Contact) or contact.party_id != getattr(party, "pk", None)
    ):
        errors.setdefault("contact", []).append(_("Choose a contact of the supplier."))
    return {
        "party": party,
        "currency_id": code,
        "warehouse": warehouse,
        "payment_term": payment_term,
        "contact": contact,
        "date": date,
    }, errors


def _company_amount(company: Company, currency: str, amount: Decimal, date: dt.date) -> Decimal:
    try:
        return (amount * rate_on(company=company, currency=currency, date=date)).quantize(
            Decimal("0.0001")
        )
    except RateNotFound as exc:
        raise refusal(str(exc), "rate", "currency") from exc


def _lines_write(order: PurchaseOrder, lines: list[LineData]) -> list[PurchaseOrderLine]:
    rows = PurchaseOrderLine.objects.bulk_create(
        [
            PurchaseOrderLine(
                order=order,
                sequence=n,
                product=line.product,
                description=line.description,
                quantity=line.quantity,
                uom=line.uom,
                unit_price=line.unit_price,
                discount=line.discount,
                amount_untaxed=line.net,
                amount_tax=line.tax,
                amount_total=line.total,
                need_date=line.need_date,
                promised_date=line.extra.get("promised_date"),
            )
            for n, line in enumerate(lines, start=1)
        ]
    )
    through = PurchaseOrderLine.taxes.through
    through.objects.bulk_create(
        [
            through(purchaseorderline_id=row.pk, tax_id=tax.pk)
            for row, line in zip(rows, lines, strict=True)
            for tax in line.taxes
        ]
    )
    links = [
        (row, pk_of(r)) for row, line in zip(rows, lines, strict=True)
        for r in line.extra.get("requisition_lines") or ()
    ]  # fmt: skip
    if links:
        wanted = {pk for _row, pk in links}
        found = RequisitionLine.objects.filter(
            pk__in=wanted, requisition__company=order.company
        ).exclude(state=RequisitionLine.State.CANCELLED)
        if found.count() != len(wanted):
            raise refusal(_("Link only open requisition lines of this company."),
                          "requisition", "lines")  # fmt: skip
        for row, pk in links:
            RequisitionLine.objects.filter(pk=pk).update(
                order_line=row, state=RequisitionLine.State.ORDERED
            )
    return rows


def _clean(company: Company, header: Mapping[str, Any], lines: Sequence[Mapping[str, Any]],
           errors: Errors) -> tuple[list[LineData], tuple[Decimal, ...]]:  # fmt: skip
    from xietong.purchase.common import lines_clean

    if errors:
        raise PurchaseError(errors)
    settings = purchase_settings(company)
    clean = lines_clean(company=company, lines=lines, supplier=header["party"],
                        currency=header["currency_id"], date=header["date"],
                        default_tax=settings.default_tax)  # fmt: skip
    for n, line in enumerate(clean, start=1):
        promised = line.extra.get("promised_date")
        if promised not in (None, ""):
            line.extra["promised_date"] = date_of(promised, errors, f"lines.{n}.promised_date")
    if errors:
        raise PurchaseError(errors)
    return clean, amounts_compute(company, header["currency_id"], clean)


@audited
def order_create(
    *,
    company: Company,
    actor: Any,
    party: Party,
    lines: Sequence[Mapping[str, Any]],
    date: dt.date | None = None,
    currency: Currency | str | None = None,
    warehouse: Warehouse | None = None,
    payment_term: PaymentTerm | None = None,
    contact: Contact | None = None,
    buyer: Any = None,
    rfq: Any = None,
    supplier_reference: str = "",
    notes: str = "",
    language: str | None = None,
) -> PurchaseOrder:
    """A draft purchase order to `party` (a supplier) with `lines`: dicts of product,
    quantity and optionally uom, unit_price (default the supplier's price, else the product's
    standard cost), discount, taxes (default the settings' purchase tax), description,
    need_date (default the date plus the supplier's lead time), promised_date, and
    requisition_lines (requisition lines this line buys: they become ordered). Order line i is
    lines[i] (sequence i + 1). Raises PurchaseError naming every bad field; writes nothing
    then."""
    date = date or timezone.localdate()
    header, errors = _header(company, party=party, currency=currency, warehouse=warehouse,
                             payment_term=payment_term, contact=contact, date=date)  # fmt: skip
    clean, (untaxed, tax, total) = _clean(company, header, lines, errors)
    with transaction.atomic():
        order = PurchaseOrder.unscoped.create(
            company=company,
            number=numbers_next(company, "purchase.order", date)[0],
            buyer=user_or_none(buyer) or user_or_none(actor),
            rfq=rfq,
            supplier_reference=supplier_reference[:80],
            notes=notes,
            language=language or getattr(party, "language", "") or "",
            amount_untaxed=untaxed,
            amount_tax=tax,
            amount_total=total,
            amount_company=_company_amount(company, header["currency_id"], untaxed, date),
            **header,
        )
        _lines_write(order, clean)
        timeline(party, "purchase", _("Purchase order %(number)s drafted (%(total)s %(cur)s)")
                 % {"number": order, "total": total, "cur": order.currency_id},
                 actor=actor, source=order)  # fmt: skip
    return order


@audited
def order_update(
    *,
    order: PurchaseOrder,
    actor: Any,
    lines: Sequence[Mapping[str, Any]] | None = None,
    **fields: Any,
) -> PurchaseOrder:
    """Change a draft order: its header fields (party, date, currency, warehouse,
    payment_term, contact, supplier_reference, notes, language) and, when `lines` is given,
    replace its lines (as for `order_create`). Raises PurchaseError; writes nothing then."""
    allowed = {"party", "date", "currency", "warehouse", "payment_term", "contact",
               "supplier_reference", "notes", "language"}  # fmt: skip
    unknown = set(fields) - allowed
    if unknown:
        raise PurchaseError({name: [_("This field cannot be changed here.")]
                             for name in sorted(unknown)})  # fmt: skip
    with transaction.atomic():
        row = _locked(order, State.DRAFT)
        company = row.company
        header, errors = _header(
            company,
            party=fields.get("party", row.party),
            currency=fields.get("currency", row.currency_id),
            warehouse=fields.get("warehouse", row.warehouse),
            payment_term=fields.get("payment_term", row.payment_term),
            contact=fields.get("contact", row.contact),
            date=date_of(fields.get("date"), {}, "date", default=row.date),
        )
        if lines is None:
            lines = [
                {"product": line.product, "quantity": line.quantity, "uom": line.uom,
                 "unit_price": line.unit_price, "discount": line.discount,
                 "taxes": list(line.taxes.all()), "description": line.description,
                 "need_date": line.need_date, "promised_date": line.promised_date}
                for line in row.lines.select_related("product", "uom")
            ]  # fmt: skip
        clean, (untaxed, tax, total) = _clean(company, header, lines, errors)
        # the requisition lines an old line bought follow the new line of the same product
        # and unit, unless the new lines name their own
        followed: dict[tuple[int, int], list[int]] = {}
        for link in RequisitionLine.objects.filter(order_line__order=row).select_related(
            "order_line"
        ):
            key = (link.order_line.product_id, link.order_line.uom_id)
            followed.setdefault(key, []).append(link.pk)
        for line in clean:
            if "requisition_lines" not in line.extra:
                line.extra["requisition_lines"] = followed.pop((line.product.pk, line.uom.pk), [])
        for name, value in header.items():
            setattr(row, name, value)
        for name in ("supplier_reference", "notes", "language"):
            if name in fields:
                setattr(row, name, str(fields[name] or ""))
        row.amount_untaxed, row.amount_tax, row.amount_total = untaxed, tax, total
        row.amount_company = _company_amount(company, row.currency_id, untaxed, row.date)
        row.approval, row.approval_comment = "", ""
        row.save()
        RequisitionLine.objects.filter(order_line__order=row).update(
            order_line=None, state=RequisitionLine.State.OPEN
        )
        row.lines.all().delete()
        _lines_write(row, clean)
    return row


@audited
def order_submit(*, order: PurchaseOrder, actor: Any) -> PurchaseOrder:
    """Submit a draft order for approval: starts the "purchase_order_approval" process with
    its untaxed amount in the company currency. An order the approval bands pass at once is
    approved (and its receipt made) here; otherwise it waits in `to_approve`."""
    with transaction.atomic():
        row = _locked(order, State.DRAFT)
        instance = process_start(
            company=row.company,
            actor=user_or_none(actor),
            key="purchase_order_approval",
            record=row,
            data={
                "amount": float(row.amount_company),
                "order_number": row.number,
                "supplier": row.party.name,
                "currency": row.currency_id,
                "total": float(row.amount_total),
            },
        )
        row.approval_process = instance
        row.approval = PurchaseOrder.Approval.PENDING
        row.state = State.TO_APPROVE
        row.save(update_fields=["approval_process", "approval", "state"])
        timeline(row.party, "purchase", _("Purchase order %(number)s submitted for approval")
                 % {"number": row}, actor=actor, source=row)  # fmt: skip
        if instance.status == ProcessInstance.Status.COMPLETED:
            _decide(row, approved=instance.data.get("outcome") == "approved", comment="",
                    actor=actor)  # fmt: skip
    return row


def approval_decided(*, order_id: int, approved: bool, comment: str = "") -> None:
    """Apply the outcome of an order's approval process (called from the workflow event)."""
    with transaction.atomic():
        try:
            row = _locked(PurchaseOrder(pk=order_id))
        except PurchaseOrder.DoesNotExist:
            return
        if row.state != State.TO_APPROVE:
            return
        _decide(row, approved=approved, comment=comment, actor=None)


def _decide(row: PurchaseOrder, *, approved: bool, comment: str, actor: Any) -> None:
    row.approval_comment = comment
    if approved:
        row.approval = PurchaseOrder.Approval.APPROVED
        row.state = State.APPROVED
        row.approved_at = timezone.now()
        row.save(update_fields=["approval", "approval_comment", "state", "approved_at"])
        receipt = _receipt_make(row, actor)
        timeline(row.party, "purchase",
                 _("Purchase order %(number)s approved; receipt %(receipt)s expected")
                 % {"number": row, "receipt": receipt.number}, actor=actor,
                 source=row)  # fmt: skip
    else:
        row.approval = PurchaseOrder.Approval.REJECTED
        row.state = State.DRAFT
        row.save(update_fields=["approval", "approval_comment", "state"])
        timeline(row.party, "purchase", _("Purchase order %(number)s rejected: %(comment)s")
                 % {"number": row, "comment": comment or "—"}, actor=actor,
                 source=row)  # fmt: skip


def _receipt_make(row: PurchaseOrder, actor: Any) -> Picking:
    """The receipt of an approved order: the warehouse's reception route, confirmed."""
    rate = rate_on(company=row.company, currency=row.currency_id, date=row.date)
    lines = list(row.lines.select_related("product", "uom").order_by("sequence", "pk"))
    stocked = [line for line in lines if line.product.type != "service"]
    if not stocked:
        return Picking(number="—")
    pickings = picking_services.receipt_create(
        company=row.company,
        warehouse=row.warehouse,
        party=row.party,
        scheduled_date=min(line.promised_date or line.need_date for line in stocked),
        origin=row.number,
        source_type=ORDER_SOURCE,
        source_id=row.pk,
        actor=actor,
        lines=[
            {
                "product": line.product,
                "quantity": line.quantity,
                "uom": line.uom,
                "unit_cost": (line.net_price * rate / _factor(line)).quantize(Decimal("0.000001")),
                "source_type": LINE_SOURCE,
                "source_id": line.pk,
            }
            for line in stocked
        ],
    )
    picking_services.picking_confirm(picking=pickings[0], actor=actor)
    return pickings[0]


def _factor(line: PurchaseOrderLine) -> Decimal:
    """Stock units in one unit of the line (a unit cost is per stock unit)."""
    from xietong.product.selectors import product_convert

    if line.uom_id == line.product.uom_id:
        return Decimal(1)
    return Decimal(product_convert(product=line.product, quantity=Decimal(1), from_uom=line.uom,
                                   to_uom=line.product.uom, round_result=False))  # fmt: skip


def order_receipts(order: PurchaseOrder) -> list[Picking]:
    """The pickings of the order's receipts (every step, backorders too), oldest first."""
    return list(
        Picking.unscoped.filter(source_type=ORDER_SOURCE, source_id=order.pk)
        .select_related("from_location", "to_location")
        .order_by("pk")
    )


@audited
def order_mark_sent(*, order: PurchaseOrder, actor: Any) -> PurchaseOrder:
    """Mark an approved order sent to the supplier (the PDF and e-mail are `order_send`'s);
    sending again keeps it sent."""
    with transaction.atomic():
        row = _locked(order, State.APPROVED, State.SENT, State.CONFIRMED)
        if row.state == State.APPROVED:
            row.state = State.SENT
        row.sent_at = timezone.now()
        row.save(update_fields=["state", "sent_at"])
        timeline(row.party, "purchase", _("Purchase order %(number)s sent to the supplier")
                 % {"number": row}, actor=actor, source=row)  # fmt: skip
    return row


@audited
def order_confirm(
    *,
    order: PurchaseOrder,
    actor: Any,
    promised: Mapping[Any, Any] | None = None,
    supplier_reference: str | None = None,
    confirmed_at: dt.datetime | None = None,
) -> PurchaseOrder:
    """Record the supplier's confirmation of an approved or sent order: its reference and the
    date it promises each line (`promised`: order line or its id → date; lines left out keep
    their need date as the promise). The receipt's moves are planned for the promised dates."""
    errors: Errors = {}
    with transaction.atomic():
        row = _locked(order, State.APPROVED, State.SENT, State.CONFIRMED)
        lines = {line.pk: line for line in row.lines.all()}
        dates: dict[int, dt.date] = {}
        for key, value in (promised or {}).items():
            pk = pk_of(key)
            if pk not in lines:
                errors.setdefault("promised", []).append(
                    _("Line %(line)s is not on this order.") % {"line": key}
                )
                continue
            dates[pk] = date_of(value, errors, f"promised.{pk}")
        if errors:
            raise PurchaseError(errors)
        for pk, line in lines.items():
            line.promised_date = dates.get(pk, line.promised_date or line.need_date)
        PurchaseOrderLine.objects.bulk_update(list(lines.values()), ["promised_date"])
        from xietong.inventory.models import Move

        for pk, day in dates.items():
            Move.unscoped.filter(source_type=LINE_SOURCE, source_id=pk,
                                 state__in=("draft", "waiting", "assigned")).update(
                planned_date=day)  # fmt: skip
        row.state = State.CONFIRMED
        row.confirmed_at = confirmed_at or timezone.now()
        if supplier_reference is not None:
            row.supplier_reference = supplier_reference[:80]
        row.save(update_fields=["state", "confirmed_at", "supplier_reference"])
        timeline(row.party, "purchase", _("Purchase order %(number)s confirmed by the supplier")
                 % {"number": row}, actor=actor, source=row)  # fmt: skip
    return row


@audited
def order_cancel(*, order: PurchaseOrder, actor: Any, reason: str = "") -> PurchaseOrder:
    """Cancel an order on which nothing has been received or billed: its open receipts are
    cancelled (the scheduled receipts disappear), a running approval is left to end without
    effect, and its requisition lines are open again."""
    with transaction.atomic():
        row = _locked(order, State.DRAFT, State.TO_APPROVE, State.APPROVED, State.SENT,
                      State.CONFIRMED)  # fmt: skip
        touched = (
            row.lines.filter(qty_received__gt=0).exists()
            or row.lines.filter(qty_billed__gt=0).exists()
            or row.lines.filter(qty_rejected__gt=0).exists()
        )
        if touched:
            raise refusal(
                _("Goods were received or billed on %(number)s: close its lines instead.")
                % {"number": row},
                "received",
            )
        for picking in order_receipts(row):
            if picking.state in (Picking.State.DRAFT, Picking.State.WAITING, Picking.State.READY):
                picking_services.picking_cancel(picking=picking, actor=actor)
        RequisitionLine.objects.filter(order_line__order=row).update(
            order_line=None, state=RequisitionLine.State.OPEN
        )
        row.state = State.CANCELLED
        row.cancel_reason = reason[:300]
        row.save(update_fields=["state", "cancel_reason"])
        timeline(row.party, "purchase", _("Purchase order %(number)s cancelled")
                 % {"number": row}, actor=actor, source=row)  # fmt: skip
    return row


def order_lines(order: PurchaseOrder) -> list[PurchaseOrderLine]:
    return list(
        order.lines.select_related("product", "uom")
        .prefetch_related("taxes")
        .order_by("sequence", "pk")
    )
