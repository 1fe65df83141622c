"""Production orders: made in sets (from firmed planned orders or by the planner) with their
materials from the BOM (phantom kits passed through to their components, scrap included) and
their operations from the routing; released with their stock moves — materials from stock to
production, reserved as far as stock allows, and the finished goods from production to stock —
so that MRP sees them as demand and supply."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _

from xietong.core import bulkwrite
from xietong.core.models import Company
from xietong.core.numbering import sequence_take
from xietong.inventory import stock
from xietong.inventory.models import Location, Warehouse
from xietong.inventory.warehouses import virtual_locations
from xietong.manufacturing.models import (
    ProductionMaterial,
    ProductionOperation,
    ProductionOrder,
)
from xietong.manufacturing.planning import planning_settings
from xietong.product.bom import BomIndex, BomInfo
from xietong.product.models import Product

ZERO = Decimal(0)
Q6 = Decimal("0.000001")
Q3 = Decimal("0.001")
ORDER_SOURCE = "manufacturing.order"
MATERIAL_SOURCE = "manufacturing.material"
SEQUENCE = ("manufacturing.order", "Production orders", "MO/{year}/{number:05d}")


class ProductionError(ValidationError):
    """A refused production request: messages by field, nothing written."""


@dataclass(frozen=True)
class OrderRequest:
    product: Product
    quantity: Decimal
    start_date: dt.date
    due_date: dt.date
    origin: str = ""


def _default_warehouse(company: Company) -> Warehouse | None:
    settings = planning_settings(company)
    if settings.warehouse_id:
        return settings.warehouse
    return Warehouse.unscoped.filter(company=company, active=True).order_by("pk").first()


def _materials(index: BomIndex, bom: BomInfo, quantity: Decimal, date: dt.date,
               into: dict[int, Decimal], depth: int = 0) -> None:  # fmt: skip
    """Component stock quantities for `quantity` of the BOM's product, phantom kits exploded."""
    for line in bom.lines:
        need = quantity * index.quantity_per(bom, line)
        child = index.bom_on(line.component_id, date) if depth < 20 else None
        if child is not None and child.phantom:
            index.load(c.component_id for c in child.lines)
            _materials(index, child, need, date, into, depth + 1)
        else:
            into[line.component_id] = into.get(line.component_id, ZERO) + need


def _whole_steps(index: BomIndex, product_id: int, quantity: Decimal) -> Decimal:
    """`quantity` rounded up to the product's unit step (a 10 % scrap of 2 screws is 3)."""
    step = index.units[index.items[product_id].uom_id].rounding
    if step > 0:
        quantity = (quantity / step).to_integral_value(rounding=ROUND_CEILING) * step
    return quantity.quantize(Q6)


def production_orders_create(
    *, company: Company, actor: Any, requests: Sequence[OrderRequest],
    warehouse: Warehouse | None = None,
) -> list[ProductionOrder]:  # fmt: skip
    """Draft production orders, one per request, with materials and operations — in a few
    bulk inserts whatever their number. Refuses (ProductionError, nothing written) a product of
    another company, a service, one without an active BOM, a quantity not above zero and a due
    date before the start."""
    warehouse = warehouse or _default_warehouse(company)
    errors: dict[str, list[str]] = {}
    if warehouse is None or warehouse.company_id != company.pk:
        errors.setdefault("warehouse", []).append(_("Choose a warehouse of this company."))
    index = BomIndex(company.pk)
    index.load({r.product.pk for r in requests})
    boms: list[BomInfo | None] = []
    for n, request in enumerate(requests, start=1):
        product = request.product
        bom = index.bom_on(product.pk, request.start_date)
        boms.append(bom)
        where = f"orders.{n}"
        if product.company_id != company.pk or product.type == Product.Type.SERVICE:
            errors.setdefault(f"{where}.product", []).append(
                _("Choose a stockable product of this company.")
            )
        elif bom is None:
            errors.setdefault(f"{where}.product", []).append(
                _("%(product)s has no active bill of materials.") % {"product": product}
            )
        if request.quantity <= 0:
            errors.setdefault(f"{where}.quantity", []).append(_("Enter a quantity above zero."))
        if request.due_date < request.start_date:
            errors.setdefault(f"{where}.due_date", []).append(
                _("The due date cannot be before the start.")
            )
    if errors:
        raise ProductionError(errors)
    index.load_routings({r.product.pk for r in requests})
    index.load({line.component_id for bom in boms if bom for line in bom.lines})
    components: list[dict[int, Decimal]] = []
    for request, bom in zip(requests, boms, strict=True):
        needs: dict[int, Decimal] = {}
        produced = index.stock_quantity(request.quantity, request.product.uom_id,
                                        index.items[request.product.pk])  # fmt: skip
        _materials(index, bom, produced, request.start_date, needs)  # type: ignore[arg-type]
        components.append(needs)
    with transaction.atomic():
        code, name, pattern = SEQUENCE
        numbers = sequence_take(company=company, code=code, date=requests[0].start_date,
                                count=len(requests), name=name, pattern=pattern)  # fmt: skip
        orders = ProductionOrder.unscoped.bulk_create(
            [
                ProductionOrder(
                    company=company,
                    number=number,
                    product=request.product,
                    bom_id=bom.id if bom else None,
                    quantity=request.quantity,
                    uom_id=request.product.uom_id,
                    warehouse=warehouse,
                    start_date=request.start_date,
                    due_date=request.due_date,
                    origin=request.origin[:80],
                    created_by=actor if getattr(actor, "pk", None) else None,
                )  # fmt: skip
                for number, request, bom in zip(numbers, requests, boms, strict=True)
            ]
        )
        bulkwrite.rows_insert(
            ProductionMaterial,
            ["order", "product", "required_qty", "issued_qty", "uom", "issued_value"],
            [
                (order.pk, component_id, _whole_steps(index, component_id, quantity), ZERO,
                 index.items[component_id].uom_id, ZERO)
                for order, needs in zip(orders, components, strict=True)
                for component_id, quantity in sorted(needs.items())
            ],
        )  # fmt: skip
        bulkwrite.rows_insert(
            ProductionOperation,
            ["order", "sequence", "name", "work_center", "planned_minutes", "actual_minutes",
             "absorbed_minutes", "done_qty", "scrap_qty", "state"],
            [
                (order.pk, operation.sequence, operation.name, operation.work_center_id,
                 (operation.setup_minutes + operation.run_minutes * order.quantity).quantize(Q3),
                 ZERO, ZERO, ZERO, ZERO, ProductionOperation.State.WAITING.value)
                for order in orders
                for operation in index.routings.get(order.product_id, ())
            ],
        )  # fmt: skip
    return orders


def production_order_release(*, order: ProductionOrder, actor: Any) -> ProductionOrder:
    """A draft order is released: its material moves (stock → production, on the start date)
    and its finished-goods move (production → stock, on the due date) are confirmed, the
    materials reserved as far as stock allows; the first operation is ready."""
    return production_orders_release(orders=[order], actor=actor)[0]


def production_orders_release(
    *, orders: Sequence[ProductionOrder], actor: Any
) -> list[ProductionOrder]:
    """`production_order_release` of many draft orders at once: one insert of all their moves,
    one confirmation (reservation) of them, one update of the orders and of their first
    operations. Refuses (ProductionError, nothing written) when any order is not a draft."""
    ids = sorted({o.pk for o in orders})
    with transaction.atomic():
        locked = list(
            ProductionOrder.unscoped.select_for_update(of=("self",))
            .filter(pk__in=ids)
            .select_related("company", "warehouse__stock_location", "product__uom", "uom")
            .order_by("pk")
        )
        wrong = [o for o in locked if o.state != ProductionOrder.State.DRAFT]
        if wrong or len(locked) != len(ids):
            first = wrong[0] if wrong else None
            raise ProductionError(
                {"state": [_("Only a draft order can be released; %(number)s is %(state)s.")
                           % {"number": first.number if first else "?",
                              "state": first.get_state_display() if first else "?"}]}
            )  # fmt: skip
        if not locked:
            return []
        company = locked[0].company
        production = virtual_locations(company=company)[Location.Usage.PRODUCTION]
        # the materials as plain rows and their products once each: a thousand orders have
        # ten thousand materials of a few hundred products
        by_order: dict[int, list[tuple[int, int, Decimal]]] = {}
        for pk, order_id, product_id, quantity in (
            ProductionMaterial.objects.filter(order__in=locked, required_qty__gt=0)
            .order_by("order_id", "pk")
            .values_list("pk", "order_id", "product_id", "required_qty")
        ):
            by_order.setdefault(order_id, []).append((pk, product_id, quantity))
        products = Product.unscoped.select_related("uom").in_bulk(
            sorted({row[1] for rows in by_order.values() for row in rows})
        )
        moves = []
        for order in locked:
            stock_location = order.warehouse.stock_location
            moves += [
                stock.move_build(
                    company=company,
                    product=products[product_id],
                    quantity=quantity,
                    from_location=stock_location,
                    to_location=production,
                    planned_date=order.start_date,
                    origin=order.number,
                    source_type=MATERIAL_SOURCE,
                    source_id=pk,
                    actor=actor,
                )  # fmt: skip
                for pk, product_id, quantity in by_order.get(order.pk, ())
            ]
            moves.append(
                stock.move_build(
                    company=company,
                    product=order.product,
                    quantity=order.quantity,
                    uom=order.uom,
                    from_location=production,
                    to_location=stock_location,
                    planned_date=order.due_date,
                    origin=order.number,
                    source_type=ORDER_SOURCE,
                    source_id=order.pk,
                    actor=actor,
                )  # fmt: skip
            )
        # written once, confirmed and reserved as far as stock allows
        stock.moves_insert_confirmed(moves)
        ProductionOrder.unscoped.filter(pk__in=ids).update(state=ProductionOrder.State.RELEASED)
        first_operations = (
            ProductionOperation.objects.filter(order_id=OuterRef("order_id"))
            .order_by("sequence", "pk")
            .values("pk")[:1]
        )
        ProductionOperation.objects.filter(order_id__in=ids).filter(
            pk=Subquery(first_operations)
        ).update(state=ProductionOperation.State.READY)
        for order in locked:
            order.state = ProductionOrder.State.RELEASED
    return locked
