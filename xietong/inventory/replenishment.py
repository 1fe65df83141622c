"""Replenishment by reorder point (min/max rules per product and warehouse).

The forecast of a product in a warehouse is what it has on hand (in every stock location of
the warehouse, input and output areas included) plus what is coming in (confirmed moves into
the warehouse from outside it) less what is going out (confirmed moves out of it); moves
between the warehouse's own locations change nothing. When the forecast is at or below the
rule's minimum, the quantity to order brings it back to the maximum, rounded up to the order
multiple: as an MRP lot-for-lot run with min/max sizing would. The product is bought or made
(`Product.supply`), and the order is due its lead time before the day the projected stock
first falls to the minimum.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.inventory.models import Move, Quant, ReplenishmentRule, Warehouse
from xietong.inventory.warehouses import internal_locations_below
from xietong.product.models import Product

ZERO = Decimal(0)
CONFIRMED = (Move.State.WAITING, Move.State.ASSIGNED)


def _quantity(errors: dict[str, list[str]], field: str, value: Any) -> Decimal:
    if isinstance(value, (float, bool)):
        errors[field] = [_("Give a decimal number, not a float.")]
        return ZERO
    try:
        number = Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        errors[field] = [_("Give a number.")]
        return ZERO
    if not number.is_finite():
        errors[field] = [_("Give a number.")]
        return ZERO
    if number < 0:
        errors[field] = [_("The quantity cannot be negative.")]
    return number


@audited
def rule_set(
    *,
    company: Company,
    product: Product,
    warehouse: Warehouse,
    min_qty: Decimal,
    max_qty: Decimal,
    multiple: Decimal = ZERO,
    active: bool = True,
    actor: Any = None,
) -> ReplenishmentRule:
    """Create or update the rule of `product` in `warehouse` (quantities in the product's
    stock unit; `multiple` 0 orders any quantity). Raises ValidationError (nothing written)
    for a negative or float quantity, a maximum below the minimum, a service and records of
    another company. Locks the rule row when it exists."""
    errors: dict[str, list[str]] = {}
    for field, obj in (("product", product), ("warehouse", warehouse)):
        if obj.company_id != company.pk:
            errors[field] = [_("This record belongs to another company.")]
    if product.type == Product.Type.SERVICE:
        errors["product"] = [_("Services are not stocked.")]
    values = {
        field: _quantity(errors, field, value)
        for field, value in (("min_qty", min_qty), ("max_qty", max_qty), ("multiple", multiple))
    }
    if not errors and values["max_qty"] < values["min_qty"]:
        errors["max_qty"] = [_("The maximum cannot be below the reorder point.")]
    if errors:
        raise ValidationError(errors)
    values["active"] = bool(active)
    with transaction.atomic():
        rule = (
            ReplenishmentRule.unscoped.select_for_update()
            .filter(company=company, product=product, warehouse=warehouse)
            .first()
        )
        if rule is None:
            try:
                with transaction.atomic():
                    return ReplenishmentRule.unscoped.create(
                        company=company, product=product, warehouse=warehouse, **values
                    )
            except IntegrityError:  # created meanwhile
                rule = ReplenishmentRule.unscoped.select_for_update().get(
                    company=company, product=product, warehouse=warehouse
                )
        for field, value in values.items():
            setattr(rule, field, value)
        rule.save(update_fields=list(values))
    return rule


@dataclass(frozen=True)
class ReplenishmentRow:
    """A rule's situation (stock unit). `to_order` is 0 when nothing is to be ordered; then
    `need_date` and `order_date` are None. `late`: the order should have been placed before
    `today` to arrive in time."""

    rule: ReplenishmentRule
    product: Product
    warehouse: Warehouse
    on_hand: Decimal
    incoming: Decimal
    outgoing: Decimal
    forecast: Decimal
    min_qty: Decimal
    max_qty: Decimal
    multiple: Decimal
    to_order: Decimal
    supply: str
    lead_days: int
    need_date: dt.date | None
    order_date: dt.date | None
    late: bool


def order_quantity(*, forecast: Decimal, min_qty: Decimal, max_qty: Decimal,
                   multiple: Decimal) -> Decimal:  # fmt: skip
    """What to order for a forecast: nothing above the reorder point, else up to the maximum
    rounded up to the multiple."""
    if forecast > min_qty:
        return ZERO
    needed = max_qty - forecast
    if needed <= 0:
        return ZERO
    if multiple > 0:
        needed = (needed / multiple).to_integral_value(rounding=ROUND_CEILING) * multiple
    return needed


def _need_date(
    on_hand: Decimal, events: dict[dt.date, Decimal], min_qty: Decimal, today: dt.date
) -> dt.date | None:
    """The first day the projected stock is at or below `min_qty` (moves planned in the past
    count today)."""
    projected = on_hand
    net: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
    for day, quantity in events.items():
        net[max(day, today)] += quantity
    projected += net.pop(today, ZERO)
    if on_hand <= min_qty or projected <= min_qty:
        return today
    for day in sorted(net):
        projected += net[day]
        if projected <= min_qty:
            return day
    return None


def _flows(
    company: Company, product_ids: list[int], inside: list[int], inward: bool
) -> list[dict[str, Any]]:
    moves = Move.unscoped.filter(company=company, product_id__in=product_ids, state__in=CONFIRMED)
    if inward:
        moves = moves.filter(to_location_id__in=inside).exclude(from_location_id__in=inside)
    else:
        moves = moves.filter(from_location_id__in=inside).exclude(to_location_id__in=inside)
    return list(
        moves.values("product_id", "planned_date").annotate(total=Sum("quantity_base")).order_by()
    )


def replenishment_view(
    *, company: Company, warehouse: Warehouse | None = None, today: dt.date | None = None
) -> list[ReplenishmentRow]:
    """A row per active rule of the company (of `warehouse`): on hand, incoming and outgoing
    (confirmed moves crossing the warehouse's boundary), forecast, and when the forecast is
    at or below the reorder point the quantity to order (`order_quantity`), whether to buy or
    make it, the lead time, the day stock falls to the reorder point (`need_date`) and the day
    to order (`order_date`: the need date less the lead time, not before `today`). Sorted by
    warehouse and SKU. Reads only."""
    today = today or timezone.localdate()
    rules = ReplenishmentRule.unscoped.filter(company=company, active=True).select_related(
        "product", "warehouse__view_location"
    )
    if warehouse is not None:
        rules = rules.filter(warehouse=warehouse)
    by_warehouse: dict[int, list[ReplenishmentRule]] = defaultdict(list)
    for rule in rules:
        by_warehouse[rule.warehouse_id].append(rule)
    rows: list[ReplenishmentRow] = []
    for wh_rules in by_warehouse.values():
        inside = internal_locations_below(wh_rules[0].warehouse.view_location)
        product_ids = [r.product_id for r in wh_rules]
        on_hand = dict(
            Quant.unscoped.filter(product_id__in=product_ids, location_id__in=inside)
            .values("product_id")
            .annotate(total=Sum("quantity"))
            .order_by()
            .values_list("product_id", "total")
        )
        incoming: dict[int, Decimal] = defaultdict(lambda: ZERO)
        outgoing: dict[int, Decimal] = defaultdict(lambda: ZERO)
        events: dict[int, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
        for row in _flows(company, product_ids, inside, inward=True):
            incoming[row["product_id"]] += row["total"]
            events[row["product_id"]][row["planned_date"]] += row["total"]
        for row in _flows(company, product_ids, inside, inward=False):
            outgoing[row["product_id"]] += row["total"]
            events[row["product_id"]][row["planned_date"]] -= row["total"]
        for rule in wh_rules:
            product = rule.product
            have = Decimal(on_hand.get(product.pk) or 0)
            forecast = have + incoming[product.pk] - outgoing[product.pk]
            to_order = order_quantity(forecast=forecast, min_qty=rule.min_qty,
                                      max_qty=rule.max_qty, multiple=rule.multiple)  # fmt: skip
            make = product.supply == Product.Supply.MAKE
            lead = product.manufacturing_lead_days if make else product.purchase_lead_days
            need = order = None
            late = False
            if to_order > 0:
                need = _need_date(have, events[product.pk], rule.min_qty, today) or today
                latest = need - dt.timedelta(days=lead)
                order, late = max(latest, today), latest < today
            rows.append(
                ReplenishmentRow(
                    rule=rule,
                    product=product,
                    warehouse=rule.warehouse,
                    on_hand=have,
                    incoming=incoming[product.pk],
                    outgoing=outgoing[product.pk],
                    forecast=forecast,
                    min_qty=rule.min_qty,
                    max_qty=rule.max_qty,
                    multiple=rule.multiple,
                    to_order=to_order,
                    supply=product.supply,
                    lead_days=lead,
                    need_date=need,
                    order_date=order,
                    late=late,
                )
            )
    rows.sort(key=lambda r: (r.warehouse.code, r.product.sku))
    return rows
