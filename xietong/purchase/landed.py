"""Landed costs: freight, duties, insurance and other costs of bringing received goods in,
allocated to the done incoming moves of receipts and added to their stock value.

A landed cost is drafted on done receipts (`landed_cost_create`) and posted
(`landed_cost_post`): its amount (in the company currency) is shared over the receipts' done
moves into stock by value (each move's stock value, from its valuation layers), quantity (in
the products' stock units), weight (product weight × quantity; every product needs a weight)
or equally, rounded to the currency so that the shares add up to the amount exactly
(largest remainder, `finance.taxes.allocate_rounded`); each share is a `LandedCostLine`. The
shares are added to the moves' value through `inventory.valuation.moves_add_value`: the part
for the units still in stock raises the stock value (and the average cost, or the FIFO
receipt layer), the part for the units already gone goes to the cost of sales; the
counterpart is the account of the first line of the landed cost's cost invoice when it has
one (the freight invoice booked to an expense account is moved to stock), else the purchase
settings' landed costs clearing account."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.finance.models import Invoice, InvoiceLine
from xietong.finance.posting import quantize
from xietong.finance.taxes import allocate_rounded
from xietong.inventory.models import Move, Picking
from xietong.inventory.valuation import move_values, moves_add_value
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.purchase.common import (
    ZERO,
    Errors,
    PurchaseError,
    date_of,
    decimal_of,
    numbers_next,
    purchase_settings,
    refusal,
    timeline,
)
from xietong.purchase.models import LandedCost, LandedCostLine

SOURCE = "purchase.landedcost"
Split = LandedCost.Split
LState = LandedCost.State


def _suppliers(pickings: Sequence[Picking]) -> list[Party]:
    """The suppliers of the receipts (each once, in order)."""
    ids = list(dict.fromkeys(p.party_id for p in pickings if p.party_id))
    found = Party.unscoped.in_bulk(ids)
    return [found[pk] for pk in ids if pk in found]


def _timeline(landed: LandedCost, pickings: Sequence[Picking], summary: str, actor: Any) -> None:
    for party in _suppliers(pickings):
        timeline(party, "landed_cost", summary, actor=actor, source=landed)


@audited
def landed_cost_create(
    *,
    company: Company,
    actor: Any,
    pickings: Sequence[Picking],
    amount: Decimal | str,
    description: str,
    split: str = Split.VALUE,
    date: dt.date | None = None,
    invoice: Invoice | None = None,
) -> LandedCost:
    """A draft landed cost of `amount` (company currency, above zero) on `pickings` (done
    receipts of the company), shared by `split` ("value", "quantity", "weight", "equal") when
    posted; `invoice`: the supplier invoice of the cost (its first line's account is then the
    counterpart). Numbered from the "purchase.landed" sequence. Writes the receipts' suppliers'
    timelines. Refused (PurchaseError naming every bad field, nothing written): no receipts,
    receipts of another company, not done or not receipts; an amount not above zero; no
    description; an unknown split; an invoice of another company, not a supplier invoice or
    cancelled."""
    errors: Errors = {}
    date = date_of(date, errors, "date", default=timezone.localdate())
    number = decimal_of(amount, errors, "amount", positive=True)
    if "amount" not in errors:
        rounded = quantize(number, company.base_currency_id)
        if rounded != number:
            errors.setdefault("amount", []).append(
                _("Give the amount in %(currency)s's smallest unit at most.")
                % {"currency": company.base_currency_id}
            )
    description = str(description or "").strip()
    if not description:
        errors.setdefault("description", []).append(_("Say what the cost is."))
    elif len(description) > 300:
        errors.setdefault("description", []).append(_("At most 300 characters."))
    if split not in Split.values:
        errors.setdefault("split", []).append(
            _("Split by value, quantity, weight or equally, not “%(split)s”.") % {"split": split}
        )
    wanted = list(dict.fromkeys(getattr(p, "pk", None) for p in pickings or []))
    rows = Picking.unscoped.in_bulk([pk for pk in wanted if pk is not None])
    if not wanted:
        errors.setdefault("pickings", []).append(_("Choose the receipts the cost is for."))
    for pk in wanted:
        row = rows.get(pk)  # type: ignore[arg-type]
        if row is None or row.company_id != company.pk:
            errors.setdefault("pickings", []).append(_("Choose receipts of this company."))
        elif row.kind != Picking.Kind.RECEIPT or row.state != Picking.State.DONE:
            errors.setdefault("pickings", []).append(
                _("%(picking)s is not a done receipt.") % {"picking": row.number or row.pk}
            )
    if invoice is not None:
        if invoice.company_id != company.pk:
            errors.setdefault("invoice", []).append(_("Choose an invoice of this company."))
        elif invoice.kind != Invoice.Kind.SUPPLIER_INVOICE:
            errors.setdefault("invoice", []).append(_("Choose a supplier invoice."))
        elif invoice.state == Invoice.State.CANCELLED:
            errors.setdefault("invoice", []).append(
                _("The invoice %(invoice)s is cancelled.") % {"invoice": invoice}
            )
    if errors:
        raise PurchaseError(errors)
    chosen = [rows[pk] for pk in wanted]  # type: ignore[index]
    with transaction.atomic():
        landed = LandedCost.unscoped.create(
            company=company,
            number=numbers_next(company, "purchase.landed", date)[0],
            date=date,
            description=description,
            amount=number,
            split=split,
            invoice=invoice,
        )
        landed.pickings.set(chosen)
        _timeline(landed, chosen,
                  _("Landed cost %(number)s drafted: %(description)s, %(amount)s %(currency)s")
                  % {"number": landed.number, "description": description, "amount": number,
                     "currency": company.base_currency_id}, actor)  # fmt: skip
    return landed


def _locked(landed: LandedCost) -> LandedCost:
    row = (
        LandedCost.unscoped.select_for_update(of=("self",))
        .select_related("company", "invoice")
        .get(pk=landed.pk)
    )
    if row.state != LState.DRAFT:
        raise refusal(
            _("%(landed)s is %(state)s; only a draft can be changed.")
            % {"landed": row, "state": row.get_state_display().lower()},
            "not_draft",
            "state",
        )
    return row


def _weights(row: LandedCost, moves: list[Move]) -> list[Decimal]:
    """Each move's weight in the split of `row`; PurchaseError when it cannot be shared."""
    if row.split == Split.EQUAL:
        return [Decimal(1)] * len(moves)
    if row.split == Split.QUANTITY:
        return [Decimal(move.quantity_base) for move in moves]
    if row.split == Split.WEIGHT:
        missing = sorted({m.product.sku for m in moves if not m.product.weight_kg})
        if missing:
            raise refusal(
                _("Give the weight of %(products)s to split by weight.")
                % {"products": ", ".join(missing)},
                "no_weight",
                "split",
            )
        return [Decimal(m.product.weight_kg) * Decimal(m.quantity_base) for m in moves]
    values = move_values(moves=moves)
    return [max(values.get(move.pk, (ZERO, ZERO))[1], ZERO) for move in moves]


@audited
def landed_cost_post(*, landed_cost: LandedCost, actor: Any) -> LandedCost:
    """Post a draft landed cost: share its amount over the receipts' done moves into stock
    (see the module docstring), write the shares (`LandedCostLine`) and add them to the moves'
    value (`inventory.valuation.moves_add_value`: one posted entry, Dr stock / cost of sales,
    Cr the counterpart). Writes the suppliers' timelines.

    Locks the landed cost row, then what `moves_add_value` locks (products, FIFO layers, the
    journal). Refused (PurchaseError, nothing written): not a draft; no done move into stock
    on the receipts; a weight split with a product without weight; a value split of moves
    worth nothing; no counterpart (neither a cost invoice nor a landed costs account in the
    purchase settings); and what `moves_add_value` refuses (closed period…)."""
    with transaction.atomic():
        row = _locked(landed_cost)
        company = row.company
        pickings = list(row.pickings.order_by("pk"))
        moves = [
            move
            for move in Move.unscoped.filter(picking__in=pickings, state=Move.State.DONE)
            .select_related("product", "from_location", "to_location")
            .order_by("pk")
            if move.to_location.is_stock
            and not move.from_location.is_stock
            and move.product.type == Product.Type.STOCKABLE
        ]
        if not moves:
            raise refusal(_("The receipts brought no stockable goods into stock."), "no_moves",
                          "pickings")  # fmt: skip
        counterpart = None
        if row.invoice_id:
            first = (
                InvoiceLine.objects.filter(invoice_id=row.invoice_id)
                .select_related("account")
                .order_by("sequence", "pk")
                .first()
            )
            counterpart = first.account if first is not None else None
        if counterpart is None:
            counterpart = purchase_settings(company).landed_cost_account
        if counterpart is None:
            raise refusal(
                _("Set the landed costs clearing account in the purchase settings, or give the "
                  "cost's supplier invoice."),
                "no_account",
                "landed_cost_account",
            )  # fmt: skip
        weights = _weights(row, moves)
        total = sum(weights, ZERO)
        if total <= 0:
            raise refusal(_("The receipts' goods are worth nothing; split another way."),
                          "nothing_to_share", "split")  # fmt: skip
        amount = Decimal(row.amount)
        shares = allocate_rounded(
            [amount * weight / total for weight in weights], currency=company.base_currency_id
        )
        LandedCostLine.objects.bulk_create(
            LandedCostLine(landed_cost=row, move=move, amount=share)
            for move, share in zip(moves, shares, strict=True)
        )
        row.entry = moves_add_value(
            company=company,
            amounts={move: share for move, share in zip(moves, shares, strict=True) if share > 0},
            counterpart=counterpart,
            date=row.date,
            actor=actor,
            source_type=SOURCE,
            source_id=row.pk,
            memo=f"{row.number} {row.description}"[:120],
        )
        row.state = LState.DONE
        row.save(update_fields=["entry", "state"])
        _timeline(row, pickings,
                  _("Landed cost %(number)s posted: %(amount)s %(currency)s added to %(receipts)s")
                  % {"number": row.number, "amount": amount, "currency": company.base_currency_id,
                     "receipts": ", ".join(p.number for p in pickings)}, actor)  # fmt: skip
    landed_cost.refresh_from_db()
    return landed_cost


@audited
def landed_cost_cancel(*, landed_cost: LandedCost, actor: Any) -> LandedCost:
    """Cancel a draft landed cost. Locks its row; refused (PurchaseError) unless a draft."""
    with transaction.atomic():
        row = _locked(landed_cost)
        row.state = LState.CANCELLED
        row.save(update_fields=["state"])
        _timeline(row, list(row.pickings.order_by("pk")),
                  _("Landed cost %(number)s cancelled") % {"number": row.number},
                  actor)  # fmt: skip
    landed_cost.refresh_from_db()
    return landed_cost
