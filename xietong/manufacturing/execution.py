"""Production execution: time reported on operations, materials issued (and returned) by
hand, finishing an order in one or more reports (its materials issued by backflush for the
share reported, the finished goods received at their planned cost, into a lot or serial
numbers when tracked), closing it with its variances posted through finance, and the
work-in-progress report.

Costs (company currency): an order's planned cost is its materials' value at their current
unit cost (average or standard) plus each operation's planned minutes at the work center's
labour and overhead rates. Each finish issues the materials still due for the share of the
order reported so far (stock → production: the valuation books Dr work in progress / Cr stock
at their actual value; a hand issue does the same, a return the reverse), absorbs the labour
and overhead of the minutes not absorbed yet (Dr work in progress / Cr the absorption account)
and receives the goods at the planned cost per unit (Dr stock / Cr work in progress). Each
report is a `ProductionReport` with the values it booked; the order keeps their running sums
(material cost, labour, overhead, value received), which are what it has on work in progress.
Whatever is left there for the order — actual less planned — is split at close into material,
labour and overhead variances and booked to the variance account (Dr variance / Cr work in
progress, or the reverse), so a closed order leaves nothing on work in progress."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.finance.models import Account
from xietong.finance.posting import EntrySpec, LineSpec, entry_post
from xietong.inventory import stock
from xietong.inventory.models import Location, Lot, Move
from xietong.inventory.valuation import move_values, product_valuation_rows
from xietong.inventory.warehouses import virtual_locations
from xietong.manufacturing.models import (
    PlanningSettings,
    ProductionMaterial,
    ProductionOperation,
    ProductionOrder,
    ProductionReport,
    TimeEntry,
)
from xietong.manufacturing.planning import planning_settings
from xietong.manufacturing.production import MATERIAL_SOURCE, ORDER_SOURCE, ProductionError
from xietong.product.models import Product
from xietong.product.selectors import product_convert

ZERO = Decimal(0)
CENT = Decimal("0.01")
COST = Decimal("0.000001")
QTY = Decimal("0.000001")
MIN_STEP = Decimal("0.001")
OPEN_MOVES = (Move.State.DRAFT, Move.State.WAITING, Move.State.ASSIGNED)
# Accounts taken from the chart when the settings name none: absorbed labour and overhead
# (CN 5101 制造费用, IFRS 5000 cost of sales) and variances (CN 6401 主营业务成本, IFRS 5000).
ABSORPTION_CODES = ("5101", "5000")
VARIANCE_CODES = ("6401", "5000")


def _refuse(field: str, message: str) -> ProductionError:
    return ProductionError({field: [message]})


def _leaf(company: Any, codes: tuple[str, ...]) -> Account | None:
    for code in codes:
        found = (
            Account.unscoped.filter(company=company, code__startswith=code, is_group=False)
            .order_by("code")
            .first()
        )
        if found is not None:
            return found
    return None


def _accounts(settings: PlanningSettings) -> tuple[Account, Account]:
    absorption = settings.absorption_account or _leaf(settings.company, ABSORPTION_CODES)
    variance = settings.variance_account or _leaf(settings.company, VARIANCE_CODES)
    if absorption is None or variance is None:
        raise _refuse("settings", _("Choose the absorption and variance accounts in the "
                                    "planning settings."))  # fmt: skip
    return absorption, variance


def operation_report(
    *, operation: ProductionOperation, actor: Any, minutes: Decimal, quantity: Decimal = ZERO,
    scrap: Decimal = ZERO, finished: bool = False,
) -> ProductionOperation:  # fmt: skip
    """Record `minutes` of work on the operation with the quantity done and scrapped; the
    operation is done when `finished` or when done + scrap reach the order's quantity, and the
    next one becomes ready. Refuses (nothing written) negative figures and an order that is
    not released or in progress."""
    values = {"minutes": minutes, "quantity": quantity, "scrap": scrap}
    for field, value in values.items():
        if value is None or Decimal(value) < 0:
            raise _refuse(field, _("Enter zero or more."))
    with transaction.atomic():
        operation = (
            ProductionOperation.objects.select_for_update()
            .select_related("order")
            .get(pk=operation.pk)
        )
        order = operation.order
        if order.state not in ProductionOrder.RUNNING_STATES:
            raise _refuse("state", _("Only a released order can be reported on; this one is "
                                     "%(state)s.") % {"state": order.get_state_display()})  # fmt: skip
        if operation.state == ProductionOperation.State.DONE:
            raise _refuse("state", _("This operation is already done."))
        now = timezone.now()
        TimeEntry.objects.create(
            operation=operation, user=actor, minutes=Decimal(minutes),
            started_at=now - dt.timedelta(minutes=float(minutes)), ended_at=now,
            quantity=Decimal(quantity), scrap=Decimal(scrap),
        )  # fmt: skip
        operation.actual_minutes += Decimal(minutes)
        operation.done_qty += Decimal(quantity)
        operation.scrap_qty += Decimal(scrap)
        operation.started_at = operation.started_at or now
        done = finished or operation.done_qty + operation.scrap_qty >= order.quantity
        operation.state = ProductionOperation.State.DONE if done else (
            ProductionOperation.State.RUNNING)  # fmt: skip
        operation.save()
        if done:
            following = (
                order.operations.filter(sequence__gt=operation.sequence,
                                        state=ProductionOperation.State.WAITING)
                .order_by("sequence", "pk").first()
            )  # fmt: skip
            if following is not None:
                following.state = ProductionOperation.State.READY
                following.save(update_fields=["state"])
        if order.state == ProductionOrder.State.RELEASED:
            order.state = ProductionOrder.State.IN_PROGRESS
            order.save(update_fields=["state"])
    return operation


def _rates(operation: ProductionOperation) -> tuple[Decimal, Decimal]:
    center = operation.work_center
    return center.cost_per_hour / 60, center.overhead_per_hour / 60


def planned_cost(order: ProductionOrder) -> dict[str, Decimal]:
    """Material (required quantities at the components' current unit cost), labour and
    overhead (planned minutes at the work centers' rates) of the whole order."""
    material = sum(
        (m.required_qty * (m.product.average_cost or m.product.standard_cost)
         for m in order.materials.select_related("product")), ZERO,
    )  # fmt: skip
    labour = overhead = ZERO
    for op in order.operations.select_related("work_center"):
        per_labour, per_overhead = _rates(op)
        labour += op.planned_minutes * per_labour
        overhead += op.planned_minutes * per_overhead
    return {"material": material.quantize(CENT), "labour": labour.quantize(CENT),
            "overhead": overhead.quantize(CENT)}  # fmt: skip


def _step(quantity: Decimal, step: Decimal) -> Decimal:
    """`quantity` rounded to the unit's step (half up)."""
    if step and step > 0:
        quantity = (quantity / step).to_integral_value(rounding=ROUND_HALF_UP) * step
    return quantity.quantize(QTY)


def _locked_order(order: ProductionOrder, action: str) -> ProductionOrder:
    locked = ProductionOrder.unscoped.select_for_update().select_related(
        "company", "product__uom", "uom", "warehouse__stock_location").get(pk=order.pk)  # fmt: skip
    if locked.state not in ProductionOrder.RUNNING_STATES:
        messages = {
            "finish": _("Only a released order can be finished; this one is %(state)s."),
            "issue": _("Materials are issued only to a released order; this one is %(state)s."),
        }
        raise _refuse("state", messages[action] % {"state": locked.get_state_display()})
    return locked


def _open_material_moves(materials: list[ProductionMaterial]) -> dict[int, list[Move]]:
    by_material: dict[int, list[Move]] = {}
    for move in (
        Move.unscoped.filter(
            source_type=MATERIAL_SOURCE,
            source_id__in=[m.pk for m in materials],
            state__in=OPEN_MOVES,
        )
        .select_related("product", "from_location")
        .order_by("pk")
    ):
        by_material.setdefault(move.source_id, []).append(move)
    return by_material


def _issue(order: ProductionOrder, lines: list[tuple[ProductionMaterial, Decimal]],
           actor: Any, field: str) -> Decimal:  # fmt: skip
    """Issue `lines` (material, quantity in its unit) from the order's warehouse to production,
    each by a move of its own done at once (valued by the valuation: Dr work in progress / Cr
    stock); the material's open (planned) moves shrink by as much, keeping their reservations
    for the rest. Returns the value issued; refuses (ProductionError on `field`) too little
    stock."""
    lines = [(m, q) for m, q in lines if q > 0]
    if not lines:
        return ZERO
    company = order.company
    production = virtual_locations(company=company)[Location.Usage.PRODUCTION]
    source = order.warehouse.stock_location
    planned = _open_material_moves([m for m, _q in lines])
    touched = [
        move
        for m, _q in lines
        for move in planned.get(m.pk, ())
        if move.state in (Move.State.WAITING, Move.State.ASSIGNED)
    ]
    if touched:  # their reserved stock is what this issue takes first
        stock.moves_unreserve(moves=touched, actor=actor)
    made: list[Move] = []
    for material, quantity in lines:
        made.append(stock.move_build(
            company=company, product=material.product, quantity=quantity, uom=material.uom,
            from_location=source, to_location=production, planned_date=timezone.localdate(),
            origin=order.number, source_type=MATERIAL_SOURCE, source_id=material.pk,
            actor=actor,
        ))  # fmt: skip
    made = Move.unscoped.bulk_create(made)
    try:
        with transaction.atomic():
            done = stock.moves_done(moves=made, actor=actor)
    except ValidationError as exc:
        raise _refuse(field, " ".join(exc.messages)) from exc
    values = move_values(moves=done)
    issued: dict[int, Decimal] = {}
    for move in done:
        issued[move.source_id] = issued.get(move.source_id, ZERO) - values.get(
            move.pk, (ZERO, ZERO))[1]  # fmt: skip
    shrunk: list[Move] = []
    cancelled: list[Move] = []
    for material, quantity in lines:
        base = next(m.quantity_base for m in made if m.source_id == material.pk)
        for move in planned.get(material.pk, ()):
            if base <= 0:
                shrunk.append(move)
                continue
            if move.quantity_base <= base:
                base -= move.quantity_base
                cancelled.append(move)
                continue
            rest = move.quantity_base - base
            move.quantity = (move.quantity * rest / move.quantity_base).quantize(QTY)
            move.quantity_base, base = rest, ZERO
            Move.unscoped.filter(pk=move.pk).update(quantity=move.quantity, quantity_base=rest)
            shrunk.append(move)
        material.issued_qty += quantity
        material.issued_value += issued.get(material.pk, ZERO)
    if cancelled:
        stock.moves_cancel(moves=cancelled, actor=actor)
    shrunk = [m for m in shrunk if m.state in (Move.State.WAITING, Move.State.ASSIGNED)]
    if shrunk:  # what is left is reserved again
        stock.moves_assign(moves=shrunk, actor=actor)
    ProductionMaterial.objects.bulk_update([m for m, _q in lines], ["issued_qty", "issued_value"])
    return sum(issued.values(), ZERO)


def _return(order: ProductionOrder, lines: list[tuple[ProductionMaterial, Decimal]],
            actor: Any) -> Decimal:  # fmt: skip
    """Bring `lines` back from production to the order's warehouse at the value they were
    issued at on average (Dr stock / Cr work in progress); returns that value (positive)."""
    company = order.company
    production = virtual_locations(company=company)[Location.Usage.PRODUCTION]
    made = [
        stock.move_build(
            company=company, product=material.product, quantity=quantity, uom=material.uom,
            from_location=production, to_location=order.warehouse.stock_location,
            planned_date=timezone.localdate(), origin=order.number,
            source_type=MATERIAL_SOURCE, source_id=material.pk, actor=actor,
            unit_cost=(material.issued_value / material.issued_qty).quantize(COST),
        )
        for material, quantity in lines
    ]  # fmt: skip
    made = Move.unscoped.bulk_create(made)
    done = stock.moves_done(moves=made, actor=actor)
    values = move_values(moves=done)
    back: dict[int, Decimal] = {}
    for move in done:
        back[move.source_id] = back.get(move.source_id, ZERO) + values.get(
            move.pk, (ZERO, ZERO))[1]  # fmt: skip
    for material, quantity in lines:
        material.issued_qty -= quantity
        material.issued_value -= back.get(material.pk, ZERO)
    ProductionMaterial.objects.bulk_update([m for m, _q in lines], ["issued_qty", "issued_value"])
    _plan_again([m for m, _q in lines], order, actor)
    return sum(back.values(), ZERO)


def _plan_again(materials: list[ProductionMaterial], order: ProductionOrder, actor: Any) -> None:
    """After a return, what is left to issue (required less issued) is planned again: the
    material's open move grows back (and reserves again), or a new one is confirmed, so that
    MRP and the stock available see that demand again."""
    planned = _open_material_moves(materials)
    production = virtual_locations(company=order.company)[Location.Usage.PRODUCTION]
    grown: list[Move] = []
    added: list[Move] = []
    for material in materials:
        left = material.required_qty - material.issued_qty
        if left <= 0:
            continue
        product = material.product
        left = product_convert(product=product, quantity=left, from_uom=material.uom,
                               to_uom=product.uom)  # fmt: skip
        moves = planned.get(material.pk, [])
        more = left - sum((m.quantity_base for m in moves), ZERO)
        if more <= 0:
            continue
        if moves:
            move = moves[-1]
            rest = move.quantity_base + more
            move.quantity = (move.quantity * rest / move.quantity_base).quantize(QTY)
            move.quantity_base = rest
            Move.unscoped.filter(pk=move.pk).update(
                quantity=move.quantity, quantity_base=rest, state=Move.State.WAITING
            )
            move.state = Move.State.WAITING
            grown.append(move)
        else:
            added.append(stock.move_build(
                company=order.company, product=product, quantity=more,
                from_location=order.warehouse.stock_location,
                to_location=production,
                planned_date=max(order.start_date, timezone.localdate()), origin=order.number,
                source_type=MATERIAL_SOURCE, source_id=material.pk, actor=actor,
            ))  # fmt: skip
    if grown:
        stock.moves_assign(moves=grown, actor=actor)
    if added:
        stock.moves_confirm(moves=Move.unscoped.bulk_create(added), actor=actor)


def material_issue(
    *, order: ProductionOrder, lines: Sequence[tuple[ProductionMaterial, Decimal]], actor: Any
) -> ProductionReport:
    """Issue materials to a released order by hand (or, with a negative quantity, return what
    was issued back to stock): stock → production, valued by the valuation (Dr work in
    progress / Cr stock; a return the reverse at the value issued on average); the materials'
    issued quantity and value and the order's material cost grow (shrink). More than required
    may be issued (a material usage variance at close); later finishes backflush only what is
    left to issue for their share. Locks the order, then the moves and quants. Refuses
    (ProductionError, nothing written) an order not released or in progress, a material of
    another order, no quantity, a return of more than was issued and more than the stock
    available."""
    wanted: dict[int, Decimal] = {}
    for n, (material, quantity) in enumerate(lines, start=1):
        if material.order_id != order.pk:
            raise _refuse(f"lines.{n}.material", _("Choose a material of this order."))
        if quantity is None or isinstance(quantity, float) or not Decimal(quantity).is_finite():
            raise _refuse(f"lines.{n}.quantity", _("Enter a quantity."))
        wanted[material.pk] = wanted.get(material.pk, ZERO) + Decimal(quantity)
    wanted = {pk: q for pk, q in wanted.items() if q != 0}
    if not wanted:
        raise _refuse("lines", _("Enter the quantity of at least one material."))
    with transaction.atomic():
        order = _locked_order(order, "issue")
        materials = {
            m.pk: m
            for m in ProductionMaterial.objects.select_for_update(of=("self",))
            .filter(pk__in=sorted(wanted)).select_related("product__uom", "uom").order_by("pk")
        }  # fmt: skip
        issues, returns = [], []
        for pk, quantity in wanted.items():
            material = materials[pk]
            rounded = _step(abs(quantity), material.uom.rounding)
            if rounded != abs(quantity):
                raise _refuse("lines", _("%(quantity)s %(unit)s of %(product)s is not a whole "
                                         "number of steps of %(step)s.") % {
                    "quantity": f"{abs(quantity).normalize():f}", "unit": material.uom.code,
                    "product": material.product, "step": material.uom.rounding.normalize()})  # fmt: skip
            if quantity > 0:
                issues.append((material, quantity))
            elif -quantity > material.issued_qty:
                raise _refuse("lines", _("Only %(issued)s of %(product)s was issued; that much "
                                         "at most can be returned.") % {
                    "issued": f"{material.issued_qty.normalize():f}",
                    "product": material.product})  # fmt: skip
            else:
                returns.append((material, -quantity))
        value = _issue(order, issues, actor, "lines") if issues else ZERO
        back = _return(order, returns, actor) if returns else ZERO
        order.material_cost += value - back
        if order.state == ProductionOrder.State.RELEASED:
            order.state = ProductionOrder.State.IN_PROGRESS
        order.save(update_fields=["material_cost", "state"])
        kind = ProductionReport.Kind.ISSUE if value or not back else ProductionReport.Kind.RETURN
        return ProductionReport.objects.create(
            order=order, kind=kind, material_value=value - back,
            created_by=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip


def _finished_lots(order: ProductionOrder, quantity: Decimal, lot: Any,
                   serials: Sequence[str] | None, actor: Any) -> list[tuple[Lot | None, Decimal]]:  # fmt: skip
    """The lots the reported goods go into, as (lot, quantity): one lot (named, else
    `<order number>-<n>`) for a product tracked by lot, one serial number per unit for one
    tracked by serial number, none for an untracked product."""
    product = order.product
    tracking = product.tracking
    name = lot.name if isinstance(lot, Lot) else (lot or "").strip()
    names = [str(s).strip() for s in (serials or ()) if str(s).strip()]
    if tracking == Product.Tracking.NONE:
        if name or names:
            raise _refuse("lot", _("%(product)s is not tracked by lot or serial number.")
                          % {"product": product})  # fmt: skip
        return [(None, quantity)] if quantity > 0 else []
    if quantity <= 0:
        return []
    if tracking == Product.Tracking.SERIAL:
        names = names or ([name] if name else [])
        if quantity != quantity.to_integral_value() or len(names) != quantity:
            raise _refuse("serials", _("Give one serial number per unit of %(product)s: "
                                       "%(count)s for %(quantity)s.") % {
                "product": product, "count": len(names),
                "quantity": f"{quantity.normalize():f}"})  # fmt: skip
        if len(set(names)) != len(names):
            raise _refuse("serials", _("Each serial number once, please."))
    else:
        if names:
            raise _refuse("lot", _("%(product)s is tracked by lot: give one lot.")
                          % {"product": product})  # fmt: skip
        if not name:
            n = order.reports.filter(kind=ProductionReport.Kind.FINISH).count() + 1
            name = f"{order.number}-{n}"
            while Lot.unscoped.filter(company=order.company, product=product, name=name).exists():
                n += 1
                name = f"{order.number}-{n}"
        names = [name]
    existing = {
        x.name: x
        for x in Lot.unscoped.filter(company=order.company, product=product, name__in=names)
    }
    found = []
    for item in names:
        made = existing.get(item) or stock.lot_create(company=order.company, product=product,
                                                      name=item, actor=actor)  # fmt: skip
        found.append(made)
    if tracking == Product.Tracking.SERIAL:
        return [(serial, Decimal(1)) for serial in found]
    return [(found[0], quantity)]


def _absorb(order: ProductionOrder, share: Decimal, final: bool, quantity: Decimal,
            scrap: Decimal) -> tuple[Decimal, Decimal]:  # fmt: skip
    """Labour and overhead of the minutes not absorbed yet: an operation with time reported,
    the minutes reported since the last finish; one without, its planned minutes for the
    share of the order reported so far (all of them at the last finish)."""
    labour = overhead = ZERO
    operations = list(order.operations.select_related("work_center"))
    timed = set(
        TimeEntry.objects.filter(operation__order=order).values_list("operation_id", flat=True)
    )
    for op in operations:
        if op.pk in timed:
            minutes = op.actual_minutes - op.absorbed_minutes
        else:  # not reported: taken as planned
            target = op.planned_minutes * (1 if final else share)
            minutes = max(target.quantize(MIN_STEP) - op.absorbed_minutes, ZERO)
            op.actual_minutes += minutes
            op.done_qty += quantity
            op.scrap_qty += scrap
        per_labour, per_overhead = _rates(op)
        labour += minutes * per_labour
        overhead += minutes * per_overhead
        op.absorbed_minutes += minutes
        if final:
            op.state = ProductionOperation.State.DONE
    ProductionOperation.objects.bulk_update(
        operations, ["state", "done_qty", "scrap_qty", "actual_minutes", "absorbed_minutes"]
    )
    return labour.quantize(CENT), overhead.quantize(CENT)


def production_order_finish(
    *, order: ProductionOrder, actor: Any, quantity: Decimal, scrap: Decimal = ZERO,
    final: bool = False, lot: Any = None, serials: Sequence[str] | None = None,
) -> ProductionOrder:  # fmt: skip
    """Report `quantity` good units of the order (and `scrap` lost), all or part of it. Each
    report: a backflushing order issues its materials for the share of the order reported so
    far (required × share, rounded to the unit's step, less what is issued already; the last
    report all that is left), the labour and overhead of the minutes not absorbed yet are
    absorbed (Dr work in progress / Cr absorption), and the goods are received at the planned
    cost per unit (Dr stock / Cr work in progress), into a lot for a tracked product (named,
    else `<order number>-<n>`; serial numbers one per unit); the open finished-goods move
    shrinks by as much. The order is in progress until produced + scrapped reach its
    quantity, or the report is `final`: then it is done, its operations done and the moves
    still open cancelled. Locks the order, then the moves and quants. Refuses
    (ProductionError, nothing written) an order not released or in progress, nothing
    reported, negative figures, a lot for an untracked product, serial numbers not one per
    unit and too little stock of a material."""
    if quantity is None or Decimal(quantity) < 0:
        raise _refuse("quantity", _("Enter a quantity above zero."))
    if scrap is None or Decimal(scrap) < 0:
        raise _refuse("scrap", _("Enter zero or more."))
    quantity, scrap = Decimal(quantity), Decimal(scrap)
    if quantity + scrap <= 0:
        raise _refuse("quantity", _("Enter a quantity above zero."))
    with transaction.atomic():
        order = _locked_order(order, "finish")
        settings = planning_settings(order.company)
        absorption, _variance = _accounts(settings)
        lots = _finished_lots(order, quantity, lot, serials, actor)
        reported = order.produced_qty + order.scrapped_qty + quantity + scrap
        final = bool(final) or reported >= order.quantity
        share = Decimal(1) if final else reported / order.quantity
        materials = list(order.materials.select_related("product__uom", "uom"))
        issues = []
        if order.backflush:
            for m in materials:
                target = m.required_qty if final else min(
                    _step(m.required_qty * share, m.uom.rounding), m.required_qty)  # fmt: skip
                issues.append((m, target - m.issued_qty))
        material_value = _issue(order, issues, actor, "quantity")
        labour, overhead = _absorb(order, share, final, quantity, scrap)
        row = product_valuation_rows(company=order.company, products=[order.product])[
            order.product.pk
        ]
        if row is not None and labour + overhead > 0:
            entry_post(company=order.company, actor=actor, spec=EntrySpec(
                journal=row.journal, date=timezone.localdate(), ref=order.number,
                narration=_("Labour and overhead of %(order)s") % {"order": order.number},
                source_type=ORDER_SOURCE, source_id=order.pk,
                lines=[LineSpec(account=row.production_account, debit=labour + overhead,
                                label=order.number, product=order.product),
                       LineSpec(account=absorption, credit=labour + overhead,
                                label=order.number)],
            ))  # fmt: skip
        plan = planned_cost(order)
        unit = ((plan["material"] + plan["labour"] + plan["overhead"]) / order.quantity).quantize(
            COST
        )
        received = _receive(order, lots, unit, final, actor)
        if final:  # nothing more is expected: the materials not issued stay in stock
            left = [m for moves in _open_material_moves(materials).values() for m in moves]
            if left:
                stock.moves_cancel(moves=left, actor=actor)
        order.produced_qty += quantity
        order.scrapped_qty += scrap
        order.material_cost += material_value
        order.labour_cost += labour
        order.overhead_cost += overhead
        order.received_value += received
        order.state = ProductionOrder.State.DONE if final else ProductionOrder.State.IN_PROGRESS
        order.save()
        ProductionReport.objects.create(
            order=order, kind=ProductionReport.Kind.FINISH, quantity=quantity, scrap=scrap,
            final=final, lot=lots[0][0] if len(lots) == 1 else None,
            serials=", ".join(x.name for x, _q in lots if x is not None) if len(lots) > 1 else "",
            material_value=material_value, labour_value=labour, overhead_value=overhead,
            received_value=received, created_by=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
    return order


def _receive(order: ProductionOrder, lots: list[tuple[Lot | None, Decimal]], unit: Decimal,
             final: bool, actor: Any) -> Decimal:  # fmt: skip
    """Receive the reported goods (moves of their own, production → stock, at `unit`); the
    open finished-goods move shrinks by as much (cancelled when nothing is left or `final`).
    Returns the value received."""
    planned = list(Move.unscoped.filter(source_type=ORDER_SOURCE, source_id=order.pk,
                                        state__in=OPEN_MOVES).order_by("pk"))  # fmt: skip
    done: list[Move] = []
    if lots:
        production = virtual_locations(company=order.company)[Location.Usage.PRODUCTION]
        made = Move.unscoped.bulk_create([
            stock.move_build(
                company=order.company, product=order.product, quantity=quantity, uom=order.uom,
                lot=lot, from_location=production, to_location=order.warehouse.stock_location,
                planned_date=timezone.localdate(), origin=order.number,
                source_type=ORDER_SOURCE, source_id=order.pk, unit_cost=unit, actor=actor,
            )
            for lot, quantity in lots
        ])  # fmt: skip
        done = stock.moves_done(moves=made, actor=actor)
    base = sum((m.quantity_base for m in done), ZERO)
    cancelled = []
    for move in planned:
        if final or move.quantity_base <= base:
            base -= move.quantity_base
            cancelled.append(move)
        elif base > 0:
            rest = move.quantity_base - base
            quantity = (move.quantity * rest / move.quantity_base).quantize(QTY)
            Move.unscoped.filter(pk=move.pk).update(quantity=quantity, quantity_base=rest)
            base = ZERO
    if cancelled:
        stock.moves_cancel(moves=cancelled, actor=actor)
    values = move_values(moves=done)
    return sum((values.get(m.pk, (ZERO, ZERO))[1] for m in done), ZERO)


def variances(order: ProductionOrder) -> dict[str, Decimal]:
    """Actual less planned cost of what was produced, by kind (positive: it cost more)."""
    plan = planned_cost(order)
    share = order.produced_qty / order.quantity if order.quantity else ZERO
    material = order.material_cost - (plan["material"] * share).quantize(CENT)
    labour = order.labour_cost - (plan["labour"] * share).quantize(CENT)
    overhead = order.overhead_cost - (plan["overhead"] * share).quantize(CENT)
    # what the receipt left on work in progress also covers the rounding of the unit cost
    left = order.material_cost + order.labour_cost + order.overhead_cost - order.received_value
    material += left - (material + labour + overhead)
    return {"material": material, "labour": labour, "overhead": overhead}


def production_order_close(*, order: ProductionOrder, actor: Any) -> ProductionOrder:
    """Close a done order: post its variances (what is left on work in progress for it) to
    the variance account, by kind, and lock it."""
    with transaction.atomic():
        order = ProductionOrder.unscoped.select_for_update().select_related(
            "company", "product").get(pk=order.pk)  # fmt: skip
        if order.state != ProductionOrder.State.DONE:
            raise _refuse("state", _("Only a done order can be closed; this one is %(state)s.")
                          % {"state": order.get_state_display()})  # fmt: skip
        _absorption, variance = _accounts(planning_settings(order.company))
        found = variances(order)
        row = product_valuation_rows(company=order.company, products=[order.product])[
            order.product.pk
        ]
        lines = []
        labels = {"material": _("Material variance"), "labour": _("Labour variance"),
                  "overhead": _("Overhead variance")}  # fmt: skip
        for kind, amount in found.items():
            if amount and row is not None:
                label = f"{order.number} {labels[kind]}"
                lines += [
                    LineSpec(account=variance, debit=max(amount, ZERO),
                             credit=max(-amount, ZERO), label=label, product=order.product),
                    LineSpec(account=row.production_account, debit=max(-amount, ZERO),
                             credit=max(amount, ZERO), label=label, product=order.product),
                ]  # fmt: skip
        if lines:
            entry_post(company=order.company, actor=actor, spec=EntrySpec(
                journal=row.journal, date=timezone.localdate(), ref=order.number,
                narration=_("Variances of %(order)s") % {"order": order.number},
                source_type=ORDER_SOURCE, source_id=order.pk, lines=lines,
            ))  # fmt: skip
        order.state = ProductionOrder.State.CLOSED
        order.closed_at = timezone.now()
        order.save(update_fields=["state", "closed_at"])
    return order


WIP_STATES = (
    ProductionOrder.State.RELEASED,
    ProductionOrder.State.IN_PROGRESS,
    ProductionOrder.State.DONE,
)


@dataclass(frozen=True)
class WipRow:
    order: ProductionOrder
    material: Decimal
    labour: Decimal
    overhead: Decimal
    received: Decimal

    @property
    def wip(self) -> Decimal:
        return self.material + self.labour + self.overhead - self.received


@dataclass(frozen=True)
class WipReport:
    rows: list[WipRow]
    material: Decimal
    labour: Decimal
    overhead: Decimal
    received: Decimal

    @property
    def wip(self) -> Decimal:
        return self.material + self.labour + self.overhead - self.received


def wip_report(company: Any) -> WipReport:
    """Work in progress of the company's open production orders (released, in progress, done
    and not closed): per order the material issued (net of returns), the labour and overhead
    absorbed, the value received into stock and what is left on work in progress, with the
    totals. What is left is what the order's moves and entries left on the work-in-progress
    account(s), so the total is their balance for these orders. One query."""
    orders = list(
        ProductionOrder.unscoped.filter(company=company, state__in=WIP_STATES)
        .select_related("product", "uom")
        .order_by("number", "pk")
    )
    rows = [
        WipRow(order=o, material=o.material_cost, labour=o.labour_cost,
               overhead=o.overhead_cost, received=o.received_value)
        for o in orders
    ]  # fmt: skip
    return WipReport(
        rows=rows,
        material=sum((r.material for r in rows), ZERO),
        labour=sum((r.labour for r in rows), ZERO),
        overhead=sum((r.overhead for r in rows), ZERO),
        received=sum((r.received for r in rows), ZERO),
    )
