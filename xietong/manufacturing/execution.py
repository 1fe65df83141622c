"""Production execution: time reported on operations, finishing an order (its materials issued
by backflush, the finished goods received at their planned cost), and closing it with its
variances posted through finance.

Costs (company currency): an order's planned cost is its materials' value at their current
unit cost (average or standard) plus each operation's planned minutes at the work center's
labour and overhead rates. Finishing issues the materials (stock → production: the valuation
books Dr work in progress / Cr stock at their actual value), absorbs the actual labour and
overhead minutes (Dr work in progress / Cr the absorption account) and receives the goods at the
planned cost per unit (Dr stock / Cr work in progress). Whatever is left on work in progress for
the order — actual less planned — is split at close into material, labour and overhead
variances and booked to the variance account (Dr variance / Cr work in progress, or the
reverse)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.finance.models import Account
from xietong.finance.posting import EntrySpec, LineSpec, entry_post
from xietong.inventory import stock
from xietong.inventory.models import Move
from xietong.inventory.valuation import move_values, product_valuation_rows
from xietong.manufacturing.models import (
    PlanningSettings,
    ProductionMaterial,
    ProductionOperation,
    ProductionOrder,
    TimeEntry,
)
from xietong.manufacturing.planning import planning_settings
from xietong.manufacturing.production import MATERIAL_SOURCE, ORDER_SOURCE, ProductionError

ZERO = Decimal(0)
CENT = Decimal("0.01")
COST = Decimal("0.000001")
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


def production_order_finish(
    *, order: ProductionOrder, actor: Any, quantity: Decimal, scrap: Decimal = ZERO
) -> ProductionOrder:
    """Report the order finished with `quantity` good units (and `scrap` lost): its materials
    are issued as planned (backflush), operations not reported are taken as planned, the
    actual labour and overhead are absorbed, and the goods are received at the planned cost
    per unit. Refuses (nothing written) an order not released, a quantity not above zero and
    too little stock of a material."""
    if quantity is None or Decimal(quantity) <= 0:
        raise _refuse("quantity", _("Enter a quantity above zero."))
    if scrap is None or Decimal(scrap) < 0:
        raise _refuse("scrap", _("Enter zero or more."))
    quantity, scrap = Decimal(quantity), Decimal(scrap)
    with transaction.atomic():
        order = ProductionOrder.unscoped.select_for_update().select_related(
            "company", "product", "uom").get(pk=order.pk)  # fmt: skip
        if order.state not in ProductionOrder.RUNNING_STATES:
            raise _refuse("state", _("Only a released order can be finished; this one is "
                                     "%(state)s.") % {"state": order.get_state_display()})  # fmt: skip
        settings = planning_settings(order.company)
        absorption, _variance = _accounts(settings)
        plan = planned_cost(order)
        materials = list(order.materials.all())
        issue = list(Move.unscoped.filter(
            source_type=MATERIAL_SOURCE, source_id__in=[m.pk for m in materials],
            state__in=[Move.State.WAITING, Move.State.ASSIGNED],
        ).order_by("pk"))  # fmt: skip
        if issue:
            stock.moves_done(moves=issue, actor=actor)
        values = move_values(moves=issue)
        by_material = {m.source_id: -values.get(m.pk, (ZERO, ZERO))[1] for m in issue}
        issued = [m for m in materials if m.pk in by_material]
        for material in issued:
            material.issued_qty = material.required_qty
            material.issued_value += by_material[material.pk]
        ProductionMaterial.objects.bulk_update(issued, ["issued_qty", "issued_value"])
        labour = overhead = ZERO
        operations = list(order.operations.select_related("work_center"))
        for op in operations:
            minutes = op.actual_minutes or op.planned_minutes
            per_labour, per_overhead = _rates(op)
            labour += minutes * per_labour
            overhead += minutes * per_overhead
            if op.state != ProductionOperation.State.DONE:  # not reported: taken as planned
                op.state, op.done_qty = ProductionOperation.State.DONE, quantity
                op.actual_minutes = minutes
        ProductionOperation.objects.bulk_update(operations,
                                                ["state", "done_qty", "actual_minutes"])  # fmt: skip
        labour, overhead = labour.quantize(CENT), overhead.quantize(CENT)
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
        planned_total = plan["material"] + plan["labour"] + plan["overhead"]
        unit = (planned_total / order.quantity).quantize(COST)
        (finished,) = Move.unscoped.filter(source_type=ORDER_SOURCE, source_id=order.pk,
                                          state__in=[Move.State.WAITING, Move.State.ASSIGNED])  # fmt: skip
        finished.quantity = finished.quantity_base = quantity
        finished.unit_cost = unit
        finished.save(update_fields=["quantity", "quantity_base", "unit_cost"])
        stock.moves_done(moves=[finished], actor=actor)
        order.produced_qty, order.scrapped_qty = quantity, scrap
        order.material_cost = sum((m.issued_value for m in materials), ZERO)
        order.labour_cost, order.overhead_cost = labour, overhead
        order.received_value = (unit * quantity).quantize(CENT)
        order.state = ProductionOrder.State.DONE
        order.save()
    return order


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
