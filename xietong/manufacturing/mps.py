"""The master production schedule of a product, per bucket: its forecast, its customer orders,
the demand planning uses (orders plus the forecast they leave; orders only inside the frozen
fence), the master scheduler's firm entries (`MpsEntry`), the supply scheduled (planned
production of the live plan and open production orders, by due date), the projected available
balance and the available-to-promise quantity (discrete ATP: in each bucket with supply — firm
or scheduled —, that supply plus the stock on hand in the first bucket, less the customer
orders until the next supply; a shortfall is taken from the earlier buckets' ATP). A read of a
handful of queries.

Firm entries are the product's supply plan for MRP (`planning.plan_input_build`): they explode
into their components, and MRP plans no new production of the product in a frozen bucket, nor
in a slushy bucket holding an entry; `mps_entry_set` / `mps_entries_save` write them. Inside
the frozen fence the schedule is fixed: entries there are neither made, changed nor removed
(they got there by time passing)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Company
from xietong.inventory.selectors import on_hand_by_product, open_moves_across_stock
from xietong.manufacturing.models import Forecast, MpsEntry, PlannedOrder, ProductionOrder
from xietong.manufacturing.planning import (
    SALES_LINE,
    forecast_effective,
    forecast_net,
    live_scenario,
    plan_start,
    planning_settings,
)
from xietong.product.models import Product

ZERO = Decimal(0)
BUCKET_DAYS = {"day": 1, "week": 7}


@dataclass
class MpsTable:
    product: Product
    dates: list[dt.date]
    fences: list[str]  # per bucket: "frozen", "slushy" or "liquid"
    on_hand: Decimal
    forecast: list[Decimal]
    orders: list[Decimal]
    demand: list[Decimal]
    supply: list[Decimal]  # scheduled: the live plan's planned production, production orders
    projected: list[Decimal]
    atp: list[Decimal]
    firm: list[Decimal | None]  # the firm MPS entry of each bucket (None: no entry)


def master_schedule(
    *, company: Company, product: Product, start: dt.date, bucket: str, horizon: int
) -> MpsTable:
    settings = planning_settings(company)
    days = 7 if bucket == "week" else 1
    dates = [start + dt.timedelta(days=days * b) for b in range(horizon)]
    end = start + dt.timedelta(days=days * horizon)

    def index(day: dt.date) -> int | None:
        if day >= end:
            return None
        return max((day - start).days // days, 0)

    def empty() -> list[Decimal]:
        return [ZERO] * horizon

    on_hand = on_hand_by_product(company=company, product_ids=[product.pk]).get(product.pk, ZERO)
    orders, order_rows = empty(), []
    for move in open_moves_across_stock(company=company, product_ids=[product.pk]):
        if move.source_type == SALES_LINE and not move.incoming:
            order_rows.append((product.pk, move.planned_date, move.quantity))
            b = index(move.planned_date)
            if b is not None:
                orders[b] += move.quantity
    forecast = empty()
    raw = forecast_effective(Forecast.unscoped.filter(company=company, product=product)
                             .values_list("pk", "product_id", "date", "quantity", "source"),
                             bucket=bucket)  # fmt: skip
    for _pk, _product, date, quantity in raw:
        b = index(date)
        if b is not None:
            forecast[b] += quantity
    left = empty()
    for _pk, _product, date, quantity in forecast_net(
        raw, order_rows, start=start, frozen_days=settings.frozen_days,
        backward_days=settings.consume_backward_days,
        forward_days=settings.consume_forward_days,
    ):  # fmt: skip
        b = index(date)
        if b is not None:
            left[b] += quantity
    demand = [o + f for o, f in zip(orders, left, strict=True)]
    supply = empty()
    for due, quantity in PlannedOrder.unscoped.filter(
        scenario=live_scenario(company), product=product, state=PlannedOrder.State.PLANNED
    ).values_list("due_date", "quantity"):  # fmt: skip
        b = index(due)
        if b is not None:
            supply[b] += quantity
    for due, quantity in ProductionOrder.unscoped.filter(
        company=company, product=product, state__in=ProductionOrder.OPEN_STATES
    ).values_list("due_date", F("quantity") - F("produced_qty")):  # fmt: skip
        b = index(due)
        if b is not None and quantity > 0:
            supply[b] += quantity
    firm: list[Decimal | None] = [None] * horizon
    for date, quantity in MpsEntry.unscoped.filter(
        company=company, product=product, date__gte=start, date__lt=end
    ).values_list("date", "quantity"):  # fmt: skip
        b = index(date)
        if b is not None:
            firm[b] = (firm[b] or ZERO) + quantity
    total = [s + (f or ZERO) for s, f in zip(supply, firm, strict=True)]
    projected, balance = [], on_hand
    for b in range(horizon):
        balance = balance + total[b] - demand[b]
        projected.append(balance)
    atp = available_to_promise(on_hand, total, orders)
    frozen_end = start + dt.timedelta(days=settings.frozen_days)
    slushy_end = start + dt.timedelta(days=settings.slushy_days)
    fences = ["frozen" if d < frozen_end else "slushy" if d < slushy_end else "liquid"
              for d in dates]  # fmt: skip
    return MpsTable(product, dates, fences, on_hand, forecast, orders, demand, supply,
                    projected, atp, firm)  # fmt: skip


def available_to_promise(
    on_hand: Decimal, supply: list[Decimal], orders: list[Decimal]
) -> list[Decimal]:
    """Discrete ATP: per bucket with supply (and the first bucket, with the stock on hand), the
    supply less the customer orders up to the next bucket with supply; a negative figure is
    covered by the earlier buckets' ATP, latest first. Other buckets: zero."""
    n = len(supply)
    atp = [ZERO] * n
    points = [b for b in range(n) if b == 0 or supply[b] > 0]
    for k, b in enumerate(points):
        following = points[k + 1] if k + 1 < len(points) else n
        atp[b] = (on_hand if b == 0 else ZERO) + supply[b] - sum(orders[b:following], ZERO)
    for k in range(len(points) - 1, 0, -1):
        b = points[k]
        if atp[b] < 0:
            earlier = points[k - 1]
            atp[earlier] += atp[b]
            atp[b] = ZERO
    return atp  # the first bucket's may stay negative: orders beyond what can be made


# --- firm entries -------------------------------------------------------------------------------


def mps_horizon(company: Company, today: dt.date | None = None) -> tuple[dt.date, dt.date, int]:
    """The buckets a firm entry may be set in: (first day, end (excluded), bucket length)."""
    settings = planning_settings(company)
    days = BUCKET_DAYS[settings.bucket]
    start = plan_start(today or timezone.localdate(), settings.bucket)
    return start, start + dt.timedelta(days=days * settings.horizon), days


def _frozen_refusal(company: Company, bucket: dt.date, today: dt.date | None) -> str | None:
    """Why the entry of `bucket` cannot change (inside the frozen fence), or None."""
    start, _end, _days = mps_horizon(company, today)
    frozen_end = start + dt.timedelta(days=planning_settings(company).frozen_days)
    if bucket >= frozen_end:
        return None
    return _("Inside the frozen fence (until %(date)s) the master schedule cannot be changed.") % {
        "date": frozen_end - dt.timedelta(days=1)
    }


def _checked(
    company: Company, product: Product, date: Any, quantity: Any, today: dt.date | None
) -> tuple[dt.date, Decimal | None]:
    """The bucket start holding `date` and the quantity (None: remove the entry), checked;
    ValidationError naming the field otherwise."""
    errors: dict[str, list[str]] = {}
    if (product.company_id != company.pk or product.supply != Product.Supply.MAKE
            or product.type == Product.Type.SERVICE):  # fmt: skip
        errors["product"] = [_("Choose a product this company makes.")]
    start, end, days = mps_horizon(company, today)
    bucket = None
    if not isinstance(date, dt.date) or not start <= date < end:
        errors["date"] = [
            _("Choose a bucket inside the planning horizon (%(start)s to %(end)s).")
            % {"start": start, "end": end - dt.timedelta(days=1)}
        ]
    else:
        bucket = start + dt.timedelta(days=(date - start).days // days * days)
    if quantity is not None:
        try:
            quantity = Decimal(str(quantity).strip())
        except (InvalidOperation, ValueError):
            quantity = None
            errors["quantity"] = [_("Enter a number.")]
        else:
            step = product.uom.rounding if product.uom_id else Decimal(0)
            if not quantity.is_finite() or quantity < 0:
                errors["quantity"] = [_("Enter a quantity of zero or more.")]
            elif step and quantity % step:
                errors["quantity"] = [
                    _("Enter a multiple of %(step)s, the rounding of the unit %(unit)s.")
                    % {"step": step.normalize(), "unit": product.uom.code}
                ]
    if errors or bucket is None:
        raise ValidationError(errors)
    return bucket, quantity


def mps_entry_set(
    *, company: Company, product: Product, date: dt.date, quantity: Decimal, actor: Any,
    note: str = "", today: dt.date | None = None,
) -> MpsEntry:  # fmt: skip
    """Firm `quantity` of `product` in the bucket holding `date` (entering it again replaces
    it; 0 means "nothing here, firmly"). Refuses a product not made by this company, a date
    outside the planning horizon and a quantity below zero or off the unit's rounding step
    (ValidationError naming the field, nothing written). Relies on the unique constraint for
    the upsert; no side effects."""
    if quantity is None:
        raise ValidationError({"quantity": [_("Enter a quantity of zero or more.")]})
    bucket, quantity = _checked(company, product, date, quantity, today)
    frozen = _frozen_refusal(company, bucket, today)
    with transaction.atomic():
        if frozen is not None:
            current = (
                MpsEntry.unscoped.select_for_update()
                .filter(company=company, product=product, date=bucket)
                .values_list("quantity", flat=True)
                .first()
            )
            if current != quantity:
                raise ValidationError({"date": [frozen]})
        entry, _created = MpsEntry.unscoped.update_or_create(
            company=company, product=product, date=bucket,
            defaults={"quantity": quantity, "note": (note or "")[:200]},
            create_defaults={"quantity": quantity, "note": (note or "")[:200],
                             "created_by": actor if getattr(actor, "pk", None) else None},
        )  # fmt: skip
    return entry


def mps_entry_delete(
    *, company: Company, product: Product, date: dt.date, actor: Any,
    today: dt.date | None = None,
) -> bool:  # fmt: skip
    """Remove the firm entry of `product` in the bucket holding `date` (MRP plans that bucket
    freely again); False when there was none. Same checks as `mps_entry_set`."""
    bucket, _quantity = _checked(company, product, date, None, today)
    frozen = _frozen_refusal(company, bucket, today)
    with transaction.atomic():
        entries = MpsEntry.unscoped.filter(company=company, product=product, date=bucket)
        if frozen is not None and entries.exists():
            raise ValidationError({"date": [frozen]})
        deleted, _rows = entries.delete()
    return bool(deleted)


def mps_entries_save(
    *,
    company: Company,
    product: Product,
    quantities: dict[dt.date, Any],
    actor: Any,
    today: dt.date | None = None,
) -> int:
    """Set the firm entries of `product` for several buckets at once (bucket start → quantity;
    None or "" removes the entry), all or nothing: a ValidationError whose keys are the bad
    buckets' ISO dates (and "product") leaves every entry as it was. Buckets whose quantity
    does not change are not written. Returns how many entries changed."""
    current = dict(
        MpsEntry.unscoped.filter(company=company, product=product, date__in=list(quantities))
        .values_list("date", "quantity")
    )  # fmt: skip
    errors: dict[str, list[str]] = {}
    wanted: list[tuple[dt.date, Decimal | None]] = []
    for date, raw in sorted(quantities.items()):
        value = None if raw is None or str(raw).strip() == "" else raw
        try:
            bucket, quantity = _checked(company, product, date, value, today)
        except ValidationError as exc:
            if "product" in exc.message_dict:
                raise
            errors[date.isoformat()] = [m for ms in exc.message_dict.values() for m in ms]
            continue
        if bucket != date:
            errors[date.isoformat()] = [_("Not the first day of a bucket.")]
        elif current.get(date) != quantity:
            frozen = _frozen_refusal(company, bucket, today)
            if frozen is not None:
                errors[date.isoformat()] = [frozen]
            else:
                wanted.append((date, quantity))
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        for date, quantity in wanted:
            if quantity is None:
                mps_entry_delete(company=company, product=product, date=date, actor=actor,
                                 today=today)  # fmt: skip
            else:
                mps_entry_set(company=company, product=product, date=date, quantity=quantity,
                              actor=actor, today=today)  # fmt: skip
    return len(wanted)
