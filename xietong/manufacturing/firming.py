"""Firming planned orders: planned purchases become the lines of one purchase requisition
(source MRP, submitted for approval like any other), planned production becomes draft
production orders — each set in a few bulk writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from xietong.core import bulkwrite
from xietong.core.models import Company
from xietong.manufacturing.models import PlannedOrder, ProductionOrder
from xietong.manufacturing.production import (
    OrderRequest,
    ProductionError,
    production_orders_create,
    production_orders_release,
)
from xietong.purchase.models import Requisition
from xietong.purchase.requisitions import requisition_create, requisition_submit


@dataclass
class Firmed:
    requisition: Requisition | None = None
    production_orders: list[ProductionOrder] = field(default_factory=list)


def planned_orders_firm(
    *, company: Company, actor: Any, orders: Sequence[PlannedOrder], release: bool = False
) -> Firmed:
    """Firm `orders` (planned orders of the company's live plan, not yet firmed); with
    `release`, the production orders are released at once (materials reserved). Refuses
    (ProductionError, nothing written) orders of a what-if scenario, of another company or
    already firmed."""
    ids = sorted({o.pk for o in orders})
    with transaction.atomic():
        rows = list(
            PlannedOrder.unscoped.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("product", "scenario")
            .order_by("pk")
        )
        errors: dict[str, list[str]] = {}
        if len(rows) != len(ids) or any(r.company_id != company.pk for r in rows):
            errors.setdefault("orders", []).append(_("Choose planned orders of this company."))
        if any(not r.scenario.live for r in rows):
            errors.setdefault("orders", []).append(
                _("Planned orders of a what-if scenario are firmed by releasing the scenario.")
            )
        if any(r.state != PlannedOrder.State.PLANNED for r in rows):
            errors.setdefault("orders", []).append(_("Some of these orders are already firmed."))
        if not rows:
            errors.setdefault("orders", []).append(_("Choose at least one planned order."))
        if errors:
            raise ProductionError(errors)
        result = Firmed()
        buy = [r for r in rows if r.supply == PlannedOrder.Supply.BUY]
        make = [r for r in rows if r.supply == PlannedOrder.Supply.MAKE]
        if buy:
            requisition = requisition_create(
                company=company, actor=actor, source=Requisition.Source.MRP,
                lines=[
                    {"product": r.product, "quantity": r.quantity, "need_date": r.due_date,
                     "reason": _("MRP: release by %(date)s") % {"date": r.release_date}}
                    for r in buy
                ],
            )  # fmt: skip
            requisition = requisition_submit(requisition=requisition, actor=actor)
            lines = list(requisition.lines.order_by("sequence"))
            for row, line in zip(buy, lines, strict=True):
                row.requisition_line = line
            result.requisition = requisition
        if make:
            made = production_orders_create(
                company=company, actor=actor,
                requests=[OrderRequest(product=r.product, quantity=r.quantity,
                                       start_date=r.release_date, due_date=r.due_date,
                                       origin=_("MRP")) for r in make],
            )  # fmt: skip
            for row, order in zip(make, made, strict=True):
                row.production_order = order
            if release:
                made = production_orders_release(orders=made, actor=actor)
            result.production_orders = made
        for row in rows:
            row.state = PlannedOrder.State.FIRMED
        bulkwrite.rows_update(
            PlannedOrder,
            ["state", "requisition_line", "production_order"],
            [(r.pk, r.state, r.requisition_line_id, r.production_order_id) for r in rows],
        )
    return result
