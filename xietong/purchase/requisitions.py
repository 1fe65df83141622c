"""Purchase requisitions: requests to buy, from users and from replenishment rules (MRP will
add its own), approved when their estimate needs it, and turned by a buyer into purchase orders
(here, grouped by supplier) or into an RFQ (`rfqs.rfq_create`).

States: draft → (submit) approved, or to_approve when the estimate is above the settings'
`requisition_approval_limit`; then another person holding `purchase.approve` (never the
requester) approves or rejects it. An approved requisition is done once every line is ordered
or cancelled. Each line carries its own state (open → in an RFQ → ordered, or cancelled) and the
RFQ line or order line that took it."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, User
from xietong.core.selectors import permissions_for
from xietong.inventory.models import Warehouse
from xietong.inventory.replenishment import replenishment_view
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.purchase.common import (
    ZERO,
    Errors,
    PurchaseError,
    decimal_of,
    lines_clean,
    numbers_next,
    pk_of,
    purchase_settings,
    refusal,
    same_company,
    supplier_prices,
    user_or_none,
)
from xietong.purchase.models import PurchaseOrder, Requisition, RequisitionLine

State = Requisition.State
LState = RequisitionLine.State


def _locked(requisition: Requisition, *states: str) -> Requisition:
    row = (
        Requisition.unscoped.select_for_update(of=("self",))
        .select_related("company", "requester")
        .get(pk=requisition.pk)
    )
    if states and row.state not in states:
        raise refusal(
            _("The requisition %(number)s is %(state)s; this cannot be done now.")
            % {"number": row, "state": row.get_state_display()},
            "state",
        )
    return row


def _estimate(company: Company, lines: Sequence[Any], date: dt.date) -> list[Decimal]:
    """Each line's estimated unit price: the one given, else the cheapest valid supplier price
    in the company currency (of the suggested supplier when there is one), else the standard
    cost."""
    prices = supplier_prices(company=company, products=[line.product.pk for line in lines],
                             date=date)  # fmt: skip
    out = []
    for line in lines:
        given = line.extra.get("price_estimate")
        if given not in (None, ""):
            out.append(decimal_of(given, {}, "price", default=ZERO))
            continue
        supplier = line.extra.get("supplier")
        rows = [r for r in prices.get(line.product.pk, [])
                if r.currency_id == company.base_currency_id
                and (supplier is None or r.supplier_id == pk_of(supplier))]  # fmt: skip
        out.append(rows[0].price if rows else line.product.standard_cost)
    return out


@audited
def requisition_create(
    *,
    company: Company,
    actor: Any,
    lines: Sequence[Mapping[str, Any]],
    warehouse: Warehouse | None = None,
    date: dt.date | None = None,
    notes: str = "",
    source: str = Requisition.Source.MANUAL,
    requester: User | None = None,
) -> Requisition:
    """A draft requisition by `requester` (default: `actor`) with `lines`: dicts of product,
    quantity, and optionally uom, need_date (default: the product's purchase lead time from
    today), reason, supplier (a suggested supplier) and price_estimate. Raises PurchaseError
    naming every bad field; writes nothing then."""
    date = date or timezone.localdate()
    errors: Errors = {}
    settings = purchase_settings(company)
    warehouse = warehouse or settings.warehouse
    if warehouse is None:
        errors.setdefault("warehouse", []).append(_("Choose the warehouse to deliver to."))
    else:
        same_company(company, warehouse, _("warehouse"), errors, "warehouse")
    if source not in Requisition.Source.values:
        errors.setdefault("source", []).append(_("Unknown source."))
    suppliers = {pk_of(raw.get("supplier")) for raw in lines} - {None}
    found = Party.unscoped.in_bulk(list(suppliers)) if suppliers else {}
    for n, raw in enumerate(lines, start=1):
        pk = pk_of(raw.get("supplier"))
        party = found.get(pk or 0)
        if pk is not None and (party is None or party.company_id != company.pk
                               or not party.is_supplier):  # fmt: skip
            errors.setdefault(f"lines.{n}.supplier", []).append(
                _("Choose a supplier of this company.")
            )
    if errors:
        raise PurchaseError(errors)
    clean = lines_clean(company=company, lines=lines, supplier=None,
                        currency=company.base_currency_id, date=date, default_tax=None,
                        priced=False)  # fmt: skip
    estimates = _estimate(company, clean, date)
    with transaction.atomic():
        requisition = Requisition.unscoped.create(
            company=company,
            number=numbers_next(company, "purchase.requisition", date)[0],
            source=source,
            requester=user_or_none(requester) or user_or_none(actor),
            date=date,
            warehouse=warehouse,
            notes=notes,
            amount_estimate=sum(
                (line.quantity * price for line, price in zip(clean, estimates, strict=True)), ZERO
            ),  # fmt: skip
        )
        RequisitionLine.objects.bulk_create(
            [
                RequisitionLine(
                    requisition=requisition,
                    sequence=n,
                    product=line.product,
                    description=line.description,
                    quantity=line.quantity,
                    uom=line.uom,
                    need_date=line.need_date,
                    reason=str(line.extra.get("reason") or "")[:300],
                    supplier=found.get(pk_of(line.extra.get("supplier")) or 0),
                    price_estimate=price,
                )
                for n, (line, price) in enumerate(zip(clean, estimates, strict=True), start=1)
            ]
        )
    return requisition


@audited
def requisition_submit(*, requisition: Requisition, actor: Any) -> Requisition:
    """Submit a draft: approved at once up to the approval limit, else it waits for another
    person's approval."""
    with transaction.atomic():
        row = _locked(requisition, State.DRAFT)
        limit = purchase_settings(row.company).requisition_approval_limit
        if row.amount_estimate <= limit:
            row.state = State.APPROVED
            row.decided_at = timezone.now()
        else:
            row.state = State.TO_APPROVE
        row.save(update_fields=["state", "decided_at"])
    return row


@audited
def requisition_decide(
    *, requisition: Requisition, actor: User, approved: bool, comment: str = ""
) -> Requisition:
    """Approve or reject a requisition waiting for approval. The actor needs
    `purchase.approve` in the company and may not be the requester (PermissionDenied); a
    rejection needs a comment."""
    with transaction.atomic():
        row = _locked(requisition, State.TO_APPROVE)
        if "purchase.approve" not in permissions_for(user=actor, company=row.company):
            raise PermissionDenied(_("You may not approve requisitions."))
        if row.requester_id == actor.pk:
            raise PermissionDenied(
                _("A requisition above %(limit)s must be approved by someone else.")
                % {"limit": purchase_settings(row.company).requisition_approval_limit}
            )
        if not approved and not comment.strip():
            raise refusal(_("Say why the requisition is rejected."), "comment", "comment")
        row.state = State.APPROVED if approved else State.REJECTED
        row.decided_by = actor
        row.decided_at = timezone.now()
        row.decision_comment = comment
        row.save(update_fields=["state", "decided_by", "decided_at", "decision_comment"])
        if not approved:
            row.lines.update(state=LState.CANCELLED)
    return row


@audited
def requisition_cancel(*, requisition: Requisition, actor: Any) -> Requisition:
    """Cancel a requisition none of whose lines is in an RFQ or ordered."""
    with transaction.atomic():
        row = _locked(requisition, State.DRAFT, State.TO_APPROVE, State.APPROVED)
        if row.lines.exclude(state__in=(LState.OPEN, LState.CANCELLED)).exists():
            raise refusal(_("Lines of %(number)s are being sourced already.") % {"number": row},
                          "sourced")  # fmt: skip
        row.lines.update(state=LState.CANCELLED)
        row.state = State.CANCELLED
        row.save(update_fields=["state"])
    return row


def requisitions_refresh(*, requisition_ids: Sequence[int]) -> None:
    """Approved requisitions whose every line is ordered or cancelled are done."""
    for row in Requisition.unscoped.filter(pk__in=list(requisition_ids), state=State.APPROVED):
        if not row.lines.filter(state__in=(LState.OPEN, LState.IN_RFQ)).exists():
            Requisition.unscoped.filter(pk=row.pk).update(state=State.DONE)


def open_lines(*, company: Company) -> list[RequisitionLine]:
    """The open lines of approved requisitions, oldest need first."""
    return list(
        RequisitionLine.objects.filter(
            requisition__company=company, requisition__state=State.APPROVED, state=LState.OPEN
        )
        .select_related("requisition", "product", "uom", "supplier")
        .order_by("need_date", "pk")
    )


@audited
def orders_from_requisitions(
    *,
    company: Company,
    actor: Any,
    lines: Sequence[RequisitionLine],
    suppliers: Mapping[int, Party] | None = None,
    date: dt.date | None = None,
) -> list[PurchaseOrder]:
    """Draft purchase orders for open lines of approved requisitions, one a supplier, one
    order line per product and unit (quantities summed, the earliest need date): the supplier
    is `suppliers[line.pk]`, else the line's suggested one, else the one with the cheapest
    valid price in the company currency. The lines become ordered, their requisitions done
    when nothing is left. Raises PurchaseError (nothing written) for lines not open, of
    another company, or without a supplier."""
    from xietong.purchase.orders import order_create

    date = date or timezone.localdate()
    ids = [pk_of(line) for line in lines]
    rows = {line.pk: line for line in RequisitionLine.objects.select_related(
        "requisition", "product", "uom", "supplier").select_for_update(of=("self",)).filter(
        pk__in=ids)}  # fmt: skip
    errors: Errors = {}
    if not ids:
        errors.setdefault("lines", []).append(_("Choose requisition lines."))
    prices = supplier_prices(company=company, products=[r.product_id for r in rows.values()],
                             date=date)  # fmt: skip
    groups: dict[int, dict[tuple[int, int], list[RequisitionLine]]] = defaultdict(
        lambda: defaultdict(list)
    )
    parties: dict[int, Party] = {}
    for n, pk in enumerate(ids, start=1):
        line = rows.get(pk or 0)
        if line is None or line.requisition.company_id != company.pk:
            errors.setdefault(f"lines.{n}", []).append(_("Choose a line of this company."))
            continue
        if line.state != LState.OPEN or line.requisition.state != State.APPROVED:
            errors.setdefault(f"lines.{n}", []).append(
                _("Line “%(line)s” of %(number)s is not open and approved.")
                % {"line": line.description, "number": line.requisition}
            )
            continue
        party = (suppliers or {}).get(line.pk) or line.supplier
        if party is None:
            offers = [r for r in prices.get(line.product_id, [])
                      if r.currency_id == company.base_currency_id]  # fmt: skip
            party = offers[0].supplier if offers else None
        if party is None:
            errors.setdefault(f"lines.{n}", []).append(
                _("No supplier for “%(product)s”: choose one.") % {"product": line.product.name}
            )
            continue
        parties[party.pk] = party
        groups[party.pk][(line.product_id, line.uom_id)].append(line)
    if errors:
        raise PurchaseError(errors)
    made = []
    with transaction.atomic():
        for party_pk, by_product in groups.items():
            made.append(
                order_create(
                    company=company,
                    actor=actor,
                    party=parties[party_pk],
                    date=date,
                    warehouse=next(iter(by_product.values()))[0].requisition.warehouse,
                    lines=[
                        {
                            "product": group[0].product,
                            "quantity": sum((r.quantity for r in group), ZERO),
                            "uom": group[0].uom,
                            "need_date": min(r.need_date for r in group),
                            "description": group[0].description,
                            "requisition_lines": group,
                        }
                        for group in by_product.values()
                    ],
                )
            )
        requisitions_refresh(requisition_ids=[r.requisition_id for r in rows.values()])
    return made


@audited
def requisitions_from_replenishment(
    *, company: Company, actor: Any, warehouse: Warehouse | None = None,
    today: dt.date | None = None,
) -> list[Requisition]:  # fmt: skip
    """A requisition a warehouse (source "replenishment", submitted) for every bought product
    whose forecast is at or below its reorder point (`inventory.replenishment_view`), less
    what open requisitions and unapproved orders already ask for. Running it again right away
    makes nothing."""
    today = today or timezone.localdate()
    rows = [
        r for r in replenishment_view(company=company, warehouse=warehouse, today=today)
        if r.to_order > 0 and r.supply == Product.Supply.BUY
    ]  # fmt: skip
    if not rows:
        return []
    products = [r.product.pk for r in rows]
    pending = dict(
        RequisitionLine.objects.filter(
            requisition__company=company,
            product_id__in=products,
            requisition__state__in=(State.DRAFT, State.TO_APPROVE, State.APPROVED),
            state__in=(LState.OPEN, LState.IN_RFQ),
        )
        .values_list("product_id")
        .annotate(q=Sum("quantity"))
        .values_list("product_id", "q")
    )
    unapproved = dict(
        PurchaseOrder.unscoped.filter(
            company=company,
            state__in=(PurchaseOrder.State.DRAFT, PurchaseOrder.State.TO_APPROVE),
            lines__product_id__in=products,
        )
        .values_list("lines__product_id")
        .annotate(q=Sum("lines__quantity"))
        .values_list("lines__product_id", "q")
    )
    by_warehouse: dict[int, list[dict[str, Any]]] = defaultdict(list)
    places: dict[int, Warehouse] = {}
    for r in rows:
        already = Decimal(str(pending.get(r.product.pk) or 0)) + Decimal(
            str(unapproved.get(r.product.pk) or 0)
        )
        quantity = r.to_order - already
        if quantity > 0:
            places[r.warehouse.pk] = r.warehouse
            by_warehouse[r.warehouse.pk].append({
                "product": r.product, "quantity": quantity,
                "need_date": r.need_date or today,
                "reason": _("Forecast %(forecast)s at or below the reorder point %(min)s")
                % {"forecast": r.forecast.normalize(), "min": r.min_qty.normalize()},
            })  # fmt: skip
    made = []
    with transaction.atomic():
        for pk, lines in by_warehouse.items():
            requisition = requisition_create(company=company, actor=actor, lines=lines,
                                             warehouse=places[pk], date=today,
                                             source=Requisition.Source.REPLENISHMENT)  # fmt: skip
            made.append(requisition_submit(requisition=requisition, actor=actor))
    return made
