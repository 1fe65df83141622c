"""Supplier invoices against purchase orders: drafting them from what was received, the 3-way
match (order price, received quantity, invoice), the veto on posting a mismatch, the billed
quantities of the order lines, supplier credit notes and the supplier payment run.

Drafting (`invoice_from_orders`): one supplier invoice of the received-not-billed quantity of
each line of the orders (received − billed on posted invoices − linked on other drafts), at the
order's price, discount and taxes, on the GR/IR account (the input account of the product's
stock valuation: "goods received, invoice not yet booked", which the receipt credited, so
receipt and invoice net to zero there) — the finance settings' expense account for products
not kept in stock. Each invoice line is linked to its order line (`BilledLine`, quantity in the
order line's unit; negative on credit notes).

Matching (`invoice_match`, and again inside every posting through finance's
`on_invoice_post_check`): for each linked line, the invoice's net unit price (per order unit)
against the order line's net price within `price_tolerance_percent`, and Σ billed on posted
invoices plus this invoice against the accepted received quantity within
`quantity_tolerance_percent` (billing more than received is a mismatch); a line of a stockable
product that is linked to no order line is a problem too. Problems are plain JSON dicts:
`line` (invoice line sequence), `kind` ("price", "quantity", "currency" or "unlinked"),
`expected`, `invoiced` (decimal strings), `description`.

Finance's `invoice_update` replaces a draft's lines, which deletes their links; the match of
an invoice made from orders (`source_type` "purchase.order") links such lines again, each to
the oldest line of the supplier's approved orders (those named in the invoice's origin first)
of the same product and currency that still has something to bill, else to the first of them
(the quantity check then reports what is billed twice).

A mismatch starts the "supplier_invoice_mismatch" process (one buyer task) unless one is open;
its outcome arrives after commit (`instance_ended`): "accepted" turns the match ACCEPTED, so
the invoice may be posted as long as its problems are those accepted; "rejected" keeps it
MISMATCH (the invoice must be corrected or cancelled).

An order line's `qty_billed` is Σ its links on posted invoices and credit notes, recomputed by
`billed_changed`, which finance calls inside every post, cancellation and draft deletion."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.finance.invoicing import (
    invoice_credit,
    invoice_post,
    invoices_create,
    on_invoice_change,
    on_invoice_post_check,
)
from xietong.finance.models import Invoice, InvoiceLine, Journal, Payment
from xietong.finance.payments import journal_currency, payments_register
from xietong.finance.posting import finance_settings
from xietong.inventory.valuation import product_valuation_rows
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.product.selectors import product_convert
from xietong.purchase.common import (
    HUNDRED,
    ZERO,
    Errors,
    PurchaseError,
    purchase_settings,
    refusal,
    timeline,
    user_or_none,
)
from xietong.purchase.models import (
    BilledLine,
    InvoiceMatch,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseSettings,
)
from xietong.workflow.events import InstanceEnded

ORDER_SOURCE = "purchase.order"  # an invoice made from purchase orders (as orders.ORDER_SOURCE)
PROCESS_KEY = "supplier_invoice_mismatch"
RECORD = "purchase.invoicematch"
BILLABLE = (
    PurchaseOrder.State.APPROVED,
    PurchaseOrder.State.SENT,
    PurchaseOrder.State.CONFIRMED,
    PurchaseOrder.State.DONE,
)
SIX = Decimal("0.000001")
MState = InvoiceMatch.State
Kind = Invoice.Kind


def _plain(value: Decimal) -> str:
    """A decimal as people write it (and as JSON keeps it): 10, 2.5."""
    text = f"{Decimal(value).quantize(SIX).normalize():f}"
    return "0" if text in ("-0", "") else text


def _billed(order_line_ids: Sequence[int], *, drafts: bool = False,
            exclude_invoice: int | None = None) -> dict[int, Decimal]:  # fmt: skip
    """Σ linked quantity by order line on posted invoices and credit notes (`drafts`: on drafts
    too), leaving out `exclude_invoice`."""
    states = [Invoice.State.POSTED, Invoice.State.DRAFT] if drafts else [Invoice.State.POSTED]
    rows = BilledLine.objects.filter(
        order_line_id__in=list(order_line_ids), invoice_line__invoice__state__in=states
    )
    if exclude_invoice is not None:
        rows = rows.exclude(invoice_line__invoice_id=exclude_invoice)
    return {
        pk: Decimal(total or 0)
        for pk, total in rows.values("order_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("order_line_id", "total")
        .order_by()
    }


# --- drafting ---------------------------------------------------------------------------------


@audited
def invoice_from_orders(
    *,
    company: Company,
    actor: Any,
    orders: Sequence[PurchaseOrder],
    date: dt.date | None = None,
    reference: str = "",
) -> Invoice:
    """A draft supplier invoice of what `orders` (of one supplier and currency, approved or
    later) received and have not billed: one line per order line with received − billed −
    linked on other drafts above zero, at the line's unit price, discount and taxes, on the
    GR/IR account (see the module docstring), linked to it (`BilledLine`). `reference` is the
    supplier's invoice number; the origin lists the orders.

    Locks the orders' rows (in id order). Refused (PurchaseError naming the orders, nothing
    written): no orders, orders of another company, of several suppliers or currencies, not
    approved (or cancelled), or with nothing to bill; and what finance's `invoices_create`
    refuses."""
    errors: Errors = {}
    wanted = list({order.pk: order for order in orders})
    if not wanted:
        raise refusal(_("Choose the purchase orders to bill."), "no_orders", "orders")
    date = date or timezone.localdate()
    with transaction.atomic():
        rows = list(
            PurchaseOrder.unscoped.select_for_update(of=("self",))
            .select_related("party", "payment_term")
            .filter(pk__in=wanted)
            .order_by("pk")
        )
        if len(rows) != len(wanted):
            raise refusal(_("Unknown purchase order."), "unknown", "orders")
        for row in rows:
            if row.company_id != company.pk:
                errors.setdefault("orders", []).append(
                    _("%(order)s belongs to another company.") % {"order": row}
                )
            elif row.state not in BILLABLE:
                errors.setdefault("orders", []).append(
                    _("%(order)s is %(state)s; only approved orders are billed.")
                    % {"order": row, "state": row.get_state_display().lower()}
                )
        if len({row.party_id for row in rows}) > 1:
            errors.setdefault("orders", []).append(_("Bill the orders of one supplier at a time."))
        if len({row.currency_id for row in rows}) > 1:
            errors.setdefault("orders", []).append(_("Bill the orders of one currency at a time."))
        if errors:
            raise PurchaseError(errors)
        lines = list(
            PurchaseOrderLine.objects.filter(order_id__in=wanted)
            .select_related("product", "uom", "order")
            .prefetch_related("taxes")
            .order_by("order_id", "sequence", "pk")
        )
        taken = _billed([line.pk for line in lines], drafts=True)
        chosen: list[tuple[PurchaseOrderLine, Decimal]] = []
        for row in rows:
            mine = [
                (line, line.qty_received - taken.get(line.pk, ZERO))
                for line in lines
                if line.order_id == row.pk
            ]
            mine = [(line, quantity) for line, quantity in mine if quantity > 0]
            if not mine:
                errors.setdefault("orders", []).append(
                    _("Nothing received on %(order)s is left to bill.") % {"order": row}
                )
            chosen += mine
        if errors:
            raise PurchaseError(errors)
        accounts = _accounts(company, [line.product for line, _q in chosen])
        first = rows[0]
        specs = []
        for line, quantity in chosen:
            spec: dict[str, Any] = {
                "product": line.product,
                "description": line.description,
                "quantity": quantity,
                "uom": line.uom,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "taxes": list(line.taxes.all()),
            }
            if accounts.get(line.product_id) is not None:
                spec["account"] = accounts[line.product_id]
            specs.append(spec)
        (invoice,) = invoices_create(
            company=company,
            actor=actor,
            invoices=[
                {
                    "kind": Kind.SUPPLIER_INVOICE,
                    "party": first.party,
                    "date": date,
                    "lines": specs,
                    "currency": first.currency_id,
                    "payment_term": first.payment_term,
                    "reference": reference,
                    "origin": ", ".join(row.number for row in rows)[:80],
                    "source_type": ORDER_SOURCE,
                    "source_id": first.pk,
                }
            ],
        )
        made = list(invoice.lines.all())  # as inserted, in order: no query
        BilledLine.objects.bulk_create(
            BilledLine(order_line=line, invoice_line=inv_line, quantity=quantity)
            for (line, quantity), inv_line in zip(chosen, made, strict=True)
        )
        timeline(first.party, "purchase",
                 _("Supplier invoice drafted for %(orders)s: %(total)s %(currency)s")
                 % {"orders": ", ".join(row.number for row in rows),
                    "total": invoice.amount_total, "currency": invoice.currency_id},
                 actor=actor, source=invoice)  # fmt: skip
    return invoice


def _accounts(company: Company, products: Sequence[Product]) -> dict[int, Any]:
    """The account a supplier invoice line of each product goes to, by product id: the GR/IR
    (input) account of a stockable product's valuation, else the finance settings' expense
    account (None: finance's default)."""
    stocked = [p for p in {p.pk: p for p in products}.values()
               if p.type == Product.Type.STOCKABLE]  # fmt: skip
    rows = product_valuation_rows(company=company, products=stocked) if stocked else {}
    expense = finance_settings(company).expense_account
    found: dict[int, Any] = {}
    for product in products:
        row = rows.get(product.pk)
        found[product.pk] = row.input_account if row is not None else expense
    return found


# --- the 3-way match --------------------------------------------------------------------------


def _lines_of(invoice: Invoice) -> list[tuple[InvoiceLine, BilledLine | None]]:
    rows = list(
        InvoiceLine.objects.filter(invoice_id=invoice.pk)
        .select_related("product", "uom")
        .order_by("sequence", "pk")
    )
    links = {
        link.invoice_line_id: link
        for link in BilledLine.objects.filter(invoice_line__invoice_id=invoice.pk)
        .select_related("order_line__order", "order_line__uom", "order_line__product")
        .order_by("pk")
    }
    return [(row, links.get(row.pk)) for row in rows]


def _relink(invoice: Invoice, pairs: list[tuple[InvoiceLine, BilledLine | None]]
            ) -> list[tuple[InvoiceLine, BilledLine | None]]:  # fmt: skip
    """Link again the lines of stockable products of an invoice made from orders that lost
    their links (lines replaced by `invoice_update`); see the module docstring."""
    missing = [
        row for row, link in pairs
        if link is None and row.product is not None and row.product.type == Product.Type.STOCKABLE
    ]  # fmt: skip
    if invoice.source_type != ORDER_SOURCE or not missing:
        return pairs
    candidates = list(
        PurchaseOrderLine.objects.filter(
            order__company_id=invoice.company_id,
            order__party_id=invoice.party_id,
            order__currency_id=invoice.currency_id,
            order__state__in=BILLABLE,
            product_id__in={row.product_id for row in missing},
            qty_received__gt=0,
        )
        .select_related("order", "uom", "product")
        .order_by("order__date", "order_id", "sequence", "pk")
    )
    named = {part.strip() for part in invoice.origin.split(",")}
    candidates.sort(key=lambda line: line.order.number not in named)  # stable: named first
    taken = _billed([line.pk for line in candidates], drafts=True, exclude_invoice=invoice.pk)
    left = {line.pk: line.qty_received - taken.get(line.pk, ZERO) for line in candidates}
    for _row, link in pairs:
        if link is not None and link.order_line_id in left:
            left[link.order_line_id] -= link.quantity
    made: dict[int, BilledLine] = {}
    for row in missing:
        same = [line for line in candidates if line.product_id == row.product_id]
        line = next((line for line in same if left[line.pk] > 0), same[0] if same else None)
        if line is None:
            continue
        quantity = row.quantity
        if row.uom_id and row.uom_id != line.uom_id:
            quantity = product_convert(product=row.product, quantity=row.quantity,
                                       from_uom=row.uom, to_uom=line.uom,
                                       round_result=False).quantize(SIX)  # fmt: skip
        made[row.pk] = BilledLine(order_line=line, invoice_line=row, quantity=quantity)
        left[line.pk] -= quantity
    if made:
        BilledLine.objects.bulk_create(list(made.values()))
    return [(row, link or made.get(row.pk)) for row, link in pairs]


def _problems(invoice: Invoice, pairs: list[tuple[InvoiceLine, BilledLine | None]],
              settings: PurchaseSettings) -> list[dict[str, Any]]:  # fmt: skip
    """The problems of the 3-way match of `invoice` (see the module docstring)."""
    problems: list[dict[str, Any]] = []
    price_tolerance = Decimal(settings.price_tolerance_percent) / HUNDRED
    quantity_tolerance = Decimal(settings.quantity_tolerance_percent) / HUNDRED
    linked = [link for _row, link in pairs if link is not None]
    posted = _billed([link.order_line_id for link in linked], exclude_invoice=invoice.pk)
    here: dict[int, Decimal] = defaultdict(Decimal)
    for link in linked:
        here[link.order_line_id] += link.quantity
    seen: set[int] = set()
    for row, link in pairs:
        base = {"line": row.sequence, "description": row.description}
        if link is None:
            if row.product is not None and row.product.type == Product.Type.STOCKABLE:
                problems.append({**base, "kind": "unlinked", "expected": "",
                                 "invoiced": _plain(row.quantity)})  # fmt: skip
            continue
        line = link.order_line
        base["order_line"] = line.pk
        if line.order.currency_id != invoice.currency_id:
            problems.append({**base, "kind": "currency", "expected": line.order.currency_id,
                             "invoiced": invoice.currency_id})  # fmt: skip
        elif link.quantity:
            net = row.unit_price * (1 - row.discount / HUNDRED) * row.quantity / link.quantity
            expected = line.net_price
            if abs(net - expected) > expected * price_tolerance or (expected == 0 and net > 0):
                problems.append({**base, "kind": "price", "expected": _plain(expected),
                                 "invoiced": _plain(net)})  # fmt: skip
        if line.pk in seen:
            continue
        seen.add(line.pk)
        billed = posted.get(line.pk, ZERO) + here[line.pk]
        if billed > line.qty_received * (1 + quantity_tolerance):
            problems.append({**base, "kind": "quantity",
                             "expected": _plain(line.qty_received - posted.get(line.pk, ZERO)),
                             "invoiced": _plain(here[line.pk])})  # fmt: skip
    return problems


def _key(problem: Mapping[str, Any]) -> tuple[Any, ...]:
    return (problem.get("line"), problem.get("kind"), problem.get("expected"),
            problem.get("invoiced"))  # fmt: skip


def _accepted(match: InvoiceMatch | None, problems: list[dict[str, Any]]) -> bool:
    """Whether `problems` were all accepted on `match` (an ACCEPTED match)."""
    if match is None or match.state != MState.ACCEPTED:
        return False
    accepted = {_key(problem) for problem in match.problems or []}
    return all(_key(problem) in accepted for problem in problems)


def problem_text(problem: Mapping[str, Any]) -> str:
    """One problem of a match, for people."""
    values = {"line": problem.get("line"), "description": problem.get("description", ""),
              "expected": problem.get("expected"), "invoiced": problem.get("invoiced")}  # fmt: skip
    kind = problem.get("kind")
    if kind == "price":
        text = _("line %(line)s (%(description)s): price %(invoiced)s, ordered at %(expected)s")
    elif kind == "quantity":
        text = _("line %(line)s (%(description)s): %(invoiced)s billed, %(expected)s received "
                 "and not billed")  # fmt: skip
    elif kind == "currency":
        text = _("line %(line)s (%(description)s): in %(invoiced)s, ordered in %(expected)s")
    else:
        text = _("line %(line)s (%(description)s): not on a purchase order")
    return text % values


def _label(invoice: Invoice) -> str:
    if invoice.number:
        return invoice.number
    if invoice.reference:
        return invoice.reference
    return _("draft supplier invoice %(id)s") % {"id": invoice.pk}


def _locked_match(invoice: Invoice) -> InvoiceMatch | None:
    return (
        InvoiceMatch.unscoped.select_for_update(of=("self",))
        .filter(invoice_id=invoice.pk)
        .select_related("process")
        .first()
    )


def _save_match(invoice: Invoice, match: InvoiceMatch | None, problems: list[dict[str, Any]]
                ) -> InvoiceMatch:  # fmt: skip
    """Create or update the match row of `invoice` with `problems` (ACCEPTED stays while the
    problems are those accepted)."""
    if not problems:
        state = MState.MATCHED
    elif _accepted(match, problems):
        state = MState.ACCEPTED
    else:
        state = MState.MISMATCH
    if match is None:
        match = InvoiceMatch(company_id=invoice.company_id, invoice=invoice)
    if state == MState.ACCEPTED:
        problems = list(match.problems or [])  # what was accepted
    elif match.state == MState.ACCEPTED:
        match.resolved_by = None
        match.resolution = ""
    match.state = state
    match.problems = problems
    match.checked_at = timezone.now()
    match.save()
    return match


@audited
def invoice_match(*, invoice: Invoice, actor: Any = None) -> InvoiceMatch:
    """Match draft supplier `invoice` against its purchase orders and receipts (see the module
    docstring) and record it (`InvoiceMatch`: MATCHED, MISMATCH, or ACCEPTED while the problems
    are those accepted). A mismatch starts the "supplier_invoice_mismatch" process for the
    buyers unless one is open. Writes the supplier's timeline.

    Locks the invoice row, then its match row. Refused (PurchaseError, nothing written): not a
    draft supplier invoice."""
    from xietong.workflow.models import ProcessInstance
    from xietong.workflow.services import process_start

    with transaction.atomic():
        inv = (
            Invoice.unscoped.select_for_update(of=("self",))
            .select_related("party", "company")
            .get(pk=invoice.pk)
        )
        if inv.kind != Kind.SUPPLIER_INVOICE or inv.state != Invoice.State.DRAFT:
            raise refusal(_("Only a draft supplier invoice is matched; %(invoice)s is not.")
                          % {"invoice": inv}, "not_draft_supplier_invoice",
                          "invoice")  # fmt: skip
        settings = purchase_settings(inv.company)
        pairs = _relink(inv, _lines_of(inv))
        problems = _problems(inv, pairs, settings)
        match = _save_match(inv, _locked_match(inv), problems)
        if match.state == MState.MISMATCH:
            running = (
                match.process is not None and match.process.status == ProcessInstance.Status.RUNNING
            )
            if not running:
                match.process = process_start(
                    company=inv.company,
                    actor=user_or_none(actor),
                    key=PROCESS_KEY,
                    record=match,
                    data={
                        "invoice": _label(inv),
                        "invoice_id": inv.pk,
                        "supplier": inv.party.name,
                        "amount": float(inv.amount_total),
                        "currency": inv.currency_id,
                        "problems": "; ".join(problem_text(p) for p in problems),
                    },
                )
                match.save(update_fields=["process"])
            summary = _("Supplier invoice %(invoice)s does not match its orders: %(problems)s")
            values = {"invoice": _label(inv),
                      "problems": "; ".join(problem_text(p) for p in problems)}  # fmt: skip
        elif match.state == MState.ACCEPTED:
            summary = _("Supplier invoice %(invoice)s: variance accepted")
            values = {"invoice": _label(inv)}
        else:
            summary = _("Supplier invoice %(invoice)s matches its orders and receipts")
            values = {"invoice": _label(inv)}
        timeline(inv.party, "purchase", summary % values, actor=actor, source=inv)
    invoice.refresh_from_db()
    return match


def post_check(invoices: list[Invoice]) -> None:
    """Finance's pre-posting hook: refuse posting a supplier invoice linked to order lines (or
    made from orders) unless its match, run again now, is MATCHED or its problems were
    accepted. Locks the linked order lines (in id order) so that two invoices of one line are
    matched one after the other. Raises PurchaseError naming the invoice and its problems."""
    ours = [invoice for invoice in invoices if invoice.kind == Kind.SUPPLIER_INVOICE]
    if not ours:
        return
    linked = set(
        BilledLine.objects.filter(invoice_line__invoice_id__in=[i.pk for i in ours]).values_list(
            "invoice_line__invoice_id", flat=True
        )
    )
    ours = [i for i in ours if i.pk in linked or i.source_type == ORDER_SOURCE]
    if not ours:
        return
    settings = purchase_settings(ours[0].company)
    errors: list[str] = []
    for inv in ours:
        pairs = _relink(inv, _lines_of(inv))
        line_ids = sorted({link.order_line_id for _row, link in pairs if link is not None})
        list(PurchaseOrderLine.objects.select_for_update().filter(pk__in=line_ids).order_by("pk"))
        if line_ids:  # read again under the lock
            fresh = PurchaseOrderLine.objects.in_bulk(line_ids)
            for _row, link in pairs:
                if link is not None:
                    link.order_line.qty_received = fresh[link.order_line_id].qty_received
        problems = _problems(inv, pairs, settings)
        match = _locked_match(inv)
        if problems and not _accepted(match, problems):
            errors.append(
                _("%(invoice)s does not match its purchase orders (%(problems)s); correct it, "
                  "or have the buyer accept the variance.")
                % {"invoice": _label(inv),
                   "problems": "; ".join(problem_text(p) for p in problems)}
            )  # fmt: skip
        else:
            _save_match(inv, match, problems)
    if errors:
        raise PurchaseError({"invoice": errors}, code="mismatch")


def instance_ended(event: InstanceEnded) -> None:
    """The outcome of a "supplier_invoice_mismatch" process (after commit): "accepted" turns
    a MISMATCH match ACCEPTED (who and the comment recorded); "rejected" keeps it MISMATCH."""
    if event.process_key != PROCESS_KEY or event.record != RECORD or event.object_id is None:
        return
    from xietong.workflow.models import Task

    outcome = event.data.get("outcome")
    comment = str(event.data.get("comment") or "")
    with transaction.atomic():
        match = (
            InvoiceMatch.unscoped.select_for_update(of=("self",))
            .select_related("invoice__party")
            .filter(pk=event.object_id)
            .first()
        )
        if match is None or match.process_id != event.instance_id:
            return
        task = (
            Task.unscoped.filter(instance_id=event.instance_id, status=Task.Status.DONE)
            .order_by("-completed_at", "-pk")
            .first()
        )
        who = task.completed_by if task is not None else None
        invoice = match.invoice
        if outcome == "accepted" and event.status == "completed":
            if match.state != MState.MISMATCH:
                return
            match.state = MState.ACCEPTED
            summary = _("Variance on supplier invoice %(invoice)s accepted: %(comment)s")
        else:
            summary = _("Variance on supplier invoice %(invoice)s rejected: %(comment)s")
        match.resolved_by = who
        match.resolution = comment
        match.save(update_fields=["state", "resolved_by", "resolution"])
        timeline(invoice.party, "purchase",
                 summary % {"invoice": _label(invoice), "comment": comment or "—"},
                 actor=who, source=invoice)  # fmt: skip


# --- billed quantities ------------------------------------------------------------------------


def billed_refresh(*, order_line_ids: Sequence[int]) -> None:
    """Recompute `qty_billed` of order lines: Σ their links on posted invoices and credit
    notes (credit notes negative); only the lines that changed are written."""
    if not order_line_ids:
        return
    sums = _billed(order_line_ids)
    changed = []
    for pk, billed in PurchaseOrderLine.objects.filter(pk__in=list(order_line_ids)).values_list(
        "pk", "qty_billed"
    ):
        fresh = sums.get(pk, ZERO).quantize(SIX)
        if fresh != billed:
            changed.append(PurchaseOrderLine(pk=pk, qty_billed=fresh))
    if changed:
        PurchaseOrderLine.objects.bulk_update(changed, ["qty_billed"])


def billed_changed(invoice: Invoice) -> None:
    """Finance's hook: an invoice was posted, cancelled or deleted."""
    billed_changed_many([invoice])


def billed_changed_many(invoices: Sequence[Invoice]) -> None:
    """Finance's hook for many invoices at once (`invoices_post`)."""
    ids = [
        invoice.pk for invoice in invoices
        if invoice.kind in (Kind.SUPPLIER_INVOICE, Kind.SUPPLIER_CREDIT) and invoice.pk
    ]  # fmt: skip
    if not ids:
        return
    line_ids = sorted(
        set(
            BilledLine.objects.filter(invoice_line__invoice_id__in=ids).values_list(
                "order_line_id", flat=True
            )
        )
    )
    billed_refresh(order_line_ids=line_ids)


billed_changed.many = billed_changed_many  # type: ignore[attr-defined]


# --- credit notes -----------------------------------------------------------------------------


@audited
def invoice_credit_billed(
    *,
    invoice: Invoice,
    actor: Any,
    lines: Sequence[Mapping[str, Any]] | None = None,
    date: dt.date | None = None,
    post: bool = True,
) -> Invoice:
    """A supplier credit note of posted supplier `invoice` made from orders: of all its linked
    lines, or of `lines`, dicts of `line` (an order line billed on it, or its id) and
    `quantity` (in the order line's unit, above zero, at most what the invoice billed of it);
    each credit note line is linked to its order line with the negative quantity, so the
    order line's billed quantity drops when it is posted (with `post`, at once).

    Refused (PurchaseError, nothing written): not a posted supplier invoice, lines not billed
    on it, quantities out of range; and what finance's `invoice_credit`/`invoice_post`
    refuse."""
    errors: Errors = {}
    with transaction.atomic():
        inv = Invoice.unscoped.select_related("party").get(pk=invoice.pk)
        if inv.kind != Kind.SUPPLIER_INVOICE or inv.state != Invoice.State.POSTED:
            raise refusal(_("Only a posted supplier invoice is credited; %(invoice)s is not.")
                          % {"invoice": inv}, "not_posted", "invoice")  # fmt: skip
        by_order_line = {
            link.order_line_id: (row, link) for row, link in _lines_of(inv) if link is not None
        }
        picked: list[tuple[InvoiceLine, BilledLine, Decimal]] = []
        if lines is None:
            picked = [(row, link, link.quantity) for row, link in by_order_line.values()]
        else:
            for n, raw in enumerate(lines, start=1):
                key = f"lines.{n}"
                given = raw.get("line")
                found = by_order_line.get(getattr(given, "pk", given))  # type: ignore[arg-type]
                if found is None:
                    errors.setdefault(f"{key}.line", []).append(
                        _("Choose an order line billed on %(invoice)s.") % {"invoice": inv}
                    )
                    continue
                quantity = raw.get("quantity")
                if isinstance(quantity, float) or quantity is None:
                    errors.setdefault(f"{key}.quantity", []).append(_("Give a decimal quantity."))
                    continue
                quantity = Decimal(str(quantity))
                if not 0 < quantity <= found[1].quantity:
                    errors.setdefault(f"{key}.quantity", []).append(
                        _("Above zero and at most %(most)s.") % {"most": _plain(found[1].quantity)}
                    )
                    continue
                picked.append((found[0], found[1], quantity))
        if not picked and not errors:
            errors.setdefault("lines", []).append(_("Nothing of this invoice is on an order."))
        if errors:
            raise PurchaseError(errors)
        credit = invoice_credit(
            invoice=inv,
            actor=actor,
            date=date,
            lines=[
                {
                    "line": row,
                    "quantity": (abs(row.quantity) * quantity / link.quantity).quantize(SIX),
                }
                for row, link, quantity in picked
            ],
        )
        made = list(credit.lines.order_by("sequence", "pk"))
        BilledLine.objects.bulk_create(
            BilledLine(order_line_id=link.order_line_id, invoice_line=credit_line,
                       quantity=-quantity)
            for (_row, link, quantity), credit_line in zip(picked, made, strict=True)
        )  # fmt: skip
        if post:
            invoice_post(invoice=credit, actor=actor)
        timeline(inv.party, "purchase",
                 _("Credit note of supplier invoice %(invoice)s: %(total)s %(currency)s")
                 % {"invoice": _label(inv), "total": credit.amount_total,
                    "currency": credit.currency_id},
                 actor=actor, source=credit)  # fmt: skip
    return credit


# --- paying suppliers -------------------------------------------------------------------------


@audited
def supplier_payment_run(
    *,
    company: Company,
    journal: Journal,
    date: dt.date,
    actor: Any,
    due_by: dt.date | None = None,
    suppliers: Sequence[Party] | None = None,
) -> list[Payment]:
    """Pay every posted, open supplier invoice of `company` due by `due_by` (default `date`)
    in the journal's currency — of `suppliers` only, when given — through finance's payment
    run (`payments_register`: one payment per invoice of its amount due, posted and allocated),
    oldest due first. Returns the payments (none when nothing is due). Locks what
    `payments_register` locks; refused (ValidationError, nothing written) as it refuses."""
    due_by = due_by or date
    if journal.company_id != company.pk:
        raise refusal(_("Choose a bank or cash journal of the company."), "journal", "journal")
    invoices = (
        Invoice.unscoped.filter(
            company=company,
            kind=Kind.SUPPLIER_INVOICE,
            state=Invoice.State.POSTED,
            amount_residual__gt=0,
            due_date__lte=due_by,
            currency_id=journal_currency(journal),
            party__merged_into__isnull=True,
        )
        .exclude(payment_state=Invoice.PaymentState.PAID)
        .order_by("due_date", "pk")
    )
    if suppliers is not None:
        invoices = invoices.filter(party_id__in=[party.pk for party in suppliers])
    found = list(invoices)
    if not found:
        return []
    with transaction.atomic():
        payments = payments_register(invoices=found, journal=journal, date=date, actor=actor)
        by_party: dict[int, list[Invoice]] = defaultdict(list)
        for invoice in found:
            by_party[invoice.party_id].append(invoice)
        parties = Party.unscoped.in_bulk(list(by_party))
        for pid, paid in by_party.items():
            timeline(parties[pid], "purchase",
                     _("Payment run: %(count)s supplier invoice(s) paid (%(invoices)s)")
                     % {"count": len(paid), "invoices": ", ".join(i.number for i in paid)},
                     actor=actor, source=paid[0])  # fmt: skip
    return payments


def register() -> None:
    """Connect this module to the layers below (called from `PurchaseConfig.ready()`): the
    posting veto and the billed quantities (finance hooks), the mismatch process's outcome
    (workflow event)."""
    from xietong.core import events

    on_invoice_post_check(post_check)
    on_invoice_change(billed_changed)
    events.subscribe(InstanceEnded, instance_ended)
