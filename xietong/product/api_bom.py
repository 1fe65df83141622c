"""REST endpoints of BOMs, work centers, routings and the configurator, mounted at `/api/v1`
(conventions: see `xietong.core.api`).

Related records travel as ids (`product`, `component`, `work_center`, `options`), units as codes;
an id of another company's record is an unknown id (a field error), another company's record in
the path is not found (404). Errors of a BOM's lines and a routing's operations name the element
(`lines.2.quantity`, `operations.0.work_center`, 0-based). Quantities are per stock unit; costs
in the company's base currency.
"""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema, Status
from ninja.pagination import paginate
from pydantic import Field

from xietong.core.api import DecimalString
from xietong.core.idempotency import idempotent
from xietong.core.permissions import requires
from xietong.party.models import Party
from xietong.product import bom as services
from xietong.product import configurator
from xietong.product.models import (
    Bom,
    BomLine,
    ConfiguredItem,
    Product,
    Routing,
    RoutingOperation,
    WorkCenter,
)

router = Router(tags=["BOMs and routings"])
CONFIGURATOR = ["configurator"]

# --- schemas ----------------------------------------------------------------------------------


class BomLineOut(Schema):
    id: int
    sequence: int
    component: int = Field(alias="component_id")
    component_sku: str
    quantity: DecimalString
    uom: str
    scrap_percent: DecimalString

    @staticmethod
    def resolve_component_sku(obj: BomLine) -> str:
        return obj.component.sku

    @staticmethod
    def resolve_uom(obj: BomLine) -> str:
        return obj.uom.code


class BomOut(Schema):
    id: int
    product: int = Field(alias="product_id")
    product_sku: str
    version: int
    kind: str
    quantity: DecimalString
    uom: str
    effective_from: dt.date | None
    effective_to: dt.date | None
    active: bool
    lines: list[BomLineOut]

    @staticmethod
    def resolve_product_sku(obj: Bom) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_uom(obj: Bom) -> str:
        return obj.uom.code

    @staticmethod
    def resolve_lines(obj: Bom) -> list[BomLine]:
        return list(obj.lines.all())


class BomLineIn(Schema):
    component: int
    quantity: DecimalString
    uom: str | None = None
    scrap_percent: DecimalString = Decimal(0)
    sequence: int | None = None


class BomIn(Schema):
    product: int
    lines: list[BomLineIn]
    kind: Literal["normal", "phantom"] = "normal"
    quantity: DecimalString = Decimal(1)
    uom: str | None = None
    version: int | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    active: bool = True


class BomPatch(Schema):
    lines: list[BomLineIn] | None = None
    kind: Literal["normal", "phantom"] | None = None
    quantity: DecimalString | None = None
    uom: str | None = None
    version: int | None = None
    effective_from: dt.date | None = None
    effective_to: dt.date | None = None
    active: bool | None = None


class BomFilters(Schema):
    product: int | None = None
    kind: Literal["normal", "phantom"] | None = None
    active: bool | None = None
    q: str | None = None


class ItemRef(Schema):
    id: int
    sku: str
    name: str


class ExplosionRowOut(Schema):
    level: int
    path: list[int]
    component: ItemRef
    bom: int
    line: int
    quantity_per: DecimalString
    extended: DecimalString
    uom: str
    scrap_percent: DecimalString
    phantom: bool
    has_bom: bool


class RequirementOut(Schema):
    component: ItemRef
    quantity: DecimalString
    uom: str
    has_bom: bool


class ExplosionOut(Schema):
    product: ItemRef
    quantity: DecimalString
    date: dt.date
    bom: int | None
    truncated: bool
    rows: list[ExplosionRowOut]
    totals: list[RequirementOut]


class ExplosionQuery(Schema):
    quantity: DecimalString = Decimal(1)
    date: dt.date | None = None
    max_rows: int = Field(10_000, ge=1, le=100_000)


class WhereUsedRowOut(Schema):
    level: int
    path: list[int]
    parent: ItemRef
    bom: int
    bom_version: int
    phantom: bool
    effective_from: dt.date | None
    effective_to: dt.date | None
    quantity_per: DecimalString
    uom: str
    top: bool


class WhereUsedOut(Schema):
    product: ItemRef
    rows: list[WhereUsedRowOut]


class DateQuery(Schema):
    date: dt.date | None = None


class CostLineOut(Schema):
    component: ItemRef
    quantity_per: DecimalString
    uom: str
    unit_cost: DecimalString
    extended: DecimalString
    rolled_up: bool
    phantom: bool


class CostOperationOut(Schema):
    sequence: int
    name: str
    work_center: str
    hours: DecimalString
    labour: DecimalString
    overhead: DecimalString


class CostLevelOut(Schema):
    level: int
    material: DecimalString
    labour: DecimalString
    overhead: DecimalString
    total: DecimalString


class CostRollupOut(Schema):
    product: ItemRef
    date: dt.date
    bom: int | None
    material: DecimalString
    labour: DecimalString
    overhead: DecimalString
    total: DecimalString
    standard_cost: DecimalString
    lines: list[CostLineOut]
    operations: list[CostOperationOut]
    levels: list[CostLevelOut]


class CostChangeOut(Schema):
    product: int
    sku: str
    old: DecimalString
    new: DecimalString


class CostApplyOut(Schema):
    changes: list[CostChangeOut]


class WorkCenterOut(Schema):
    id: int
    code: str
    name: str
    working_days: list[int]
    hours_per_day: DecimalString
    units: int
    efficiency_percent: DecimalString
    hours_per_working_day: DecimalString
    cost_per_hour: DecimalString
    overhead_per_hour: DecimalString
    holidays: list[dt.date]
    active: bool

    @staticmethod
    def resolve_hours_per_working_day(obj: WorkCenter) -> Decimal:
        return services.q6(services.work_center_daily_hours(obj))


class WorkCenterIn(Schema):
    code: str
    name: str
    working_days: list[int] = [1, 2, 3, 4, 5]
    hours_per_day: DecimalString = Decimal(8)
    units: int = 1
    efficiency_percent: DecimalString = Decimal(100)
    cost_per_hour: DecimalString = Decimal(0)
    overhead_per_hour: DecimalString = Decimal(0)
    holidays: list[dt.date] = []
    active: bool = True


class WorkCenterPatch(Schema):
    code: str | None = None
    name: str | None = None
    working_days: list[int] | None = None
    hours_per_day: DecimalString | None = None
    units: int | None = None
    efficiency_percent: DecimalString | None = None
    cost_per_hour: DecimalString | None = None
    overhead_per_hour: DecimalString | None = None
    holidays: list[dt.date] | None = None
    active: bool | None = None


class WorkCenterFilters(Schema):
    active: bool | None = None
    q: str | None = None


class CapacityQuery(Schema):
    date_from: dt.date
    date_to: dt.date


class CapacityDayOut(Schema):
    date: dt.date
    hours: DecimalString
    working: bool


class CapacityOut(Schema):
    work_center: int
    date_from: dt.date
    date_to: dt.date
    total: DecimalString
    days: list[CapacityDayOut]


class OperationOut(Schema):
    id: int
    sequence: int
    name: str
    work_center: int = Field(alias="work_center_id")
    setup_minutes: DecimalString
    run_minutes: DecimalString


class RoutingOut(Schema):
    id: int
    product: int = Field(alias="product_id")
    product_sku: str
    name: str
    active: bool
    operations: list[OperationOut]

    @staticmethod
    def resolve_product_sku(obj: Routing) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_operations(obj: Routing) -> list[RoutingOperation]:
        return list(obj.operations.all())


class OperationIn(Schema):
    name: str
    work_center: int
    setup_minutes: DecimalString = Decimal(0)
    run_minutes: DecimalString = Decimal(0)
    sequence: int | None = None


class RoutingIn(Schema):
    product: int
    name: str
    operations: list[OperationIn]
    active: bool = True


class RoutingPatch(Schema):
    name: str | None = None
    active: bool | None = None
    operations: list[OperationIn] | None = None


class RoutingFilters(Schema):
    product: int | None = None
    active: bool | None = None


class OptionOut(Schema):
    id: int
    code: str
    name: str
    price_delta: DecimalString
    is_default: bool


class OptionGroupOut(Schema):
    id: int
    code: str
    name: str
    sequence: int
    multiple: bool
    required: bool
    options: list[OptionOut]


class RuleOut(Schema):
    id: int
    kind: str
    option: int
    other: int
    message: str


class OptionsOut(Schema):
    product: ItemRef
    groups: list[OptionGroupOut]
    rules: list[RuleOut]
    defaults: list[int]


class ConfigurationIn(Schema):
    options: list[int]
    party: int | None = None
    quantity: DecimalString = Decimal(1)
    date: dt.date | None = None


class ViolationOut(Schema):
    code: str
    message: str
    rule: int | None
    options: list[int]


class DeltaOut(Schema):
    option: int
    amount: DecimalString


class PriceOut(Schema):
    base: DecimalString
    currency: str
    source: str
    deltas: list[DeltaOut]
    total: DecimalString


class UnitCostOut(Schema):
    material: DecimalString
    labour: DecimalString
    overhead: DecimalString
    total: DecimalString


class GeneratedLineOut(Schema):
    component: int = Field(alias="component_id")
    sku: str
    name: str
    quantity: DecimalString
    uom: str
    scrap_percent: DecimalString
    origin: str


class ConfigurationOut(Schema):
    valid: bool
    violations: list[ViolationOut]
    description: str
    price: PriceOut
    cost: UnitCostOut | None
    bom: list[GeneratedLineOut]


class ConfiguredItemIn(Schema):
    product: int
    options: list[int]
    party: int | None = None
    quantity: DecimalString = Decimal(1)


class ConfiguredItemOut(Schema):
    id: int
    product: int = Field(alias="product_id")
    options: list[int]
    description: str
    currency: str = Field(alias="currency_id")
    price: DecimalString
    cost: DecimalString
    bom: list[GeneratedLineOut]
    created_at: dt.datetime
    created_by: int | None = Field(None, alias="created_by_id")

    @staticmethod
    def resolve_options(obj: ConfiguredItem) -> list[int]:
        return sorted(o.pk for o in obj.options.all())


class ConfiguredItemFilters(Schema):
    product: int | None = None


# --- helpers ----------------------------------------------------------------------------------


def _item(info: Any) -> dict[str, Any]:
    return {"id": info.id, "sku": info.sku, "name": info.display_name}


def _product_or_404(product_id: int) -> Product:
    return get_object_or_404(Product.objects.select_related("company", "uom"), pk=product_id)


def _product_field(product_id: int, field: str = "product") -> Product:
    product = Product.objects.select_related("company", "uom").filter(pk=product_id).first()
    if product is None:
        raise ValidationError({field: [_("Unknown product.")]})
    return product


def _party_field(party_id: int | None) -> Party | None:
    if party_id is None:
        return None
    party = Party.objects.filter(pk=party_id).first()
    if party is None:
        raise ValidationError({"party": [_("Unknown party.")]})
    return party


def _lines(lines: list[BomLineIn]) -> list[dict[str, Any]]:
    return [line.model_dump() for line in lines]


def _boms() -> Any:
    return Bom.objects.select_related("product", "uom").prefetch_related(
        Prefetch(
            "lines",
            queryset=BomLine.objects.select_related("component", "uom").order_by("sequence", "id"),
        )
    )


def _bom_or_404(bom_id: int) -> Bom:
    return get_object_or_404(_boms(), pk=bom_id)


def _routings() -> Any:
    return Routing.objects.select_related("product").prefetch_related(
        Prefetch("operations", queryset=RoutingOperation.objects.order_by("sequence", "id"))
    )


def _bom_error(exc: services.BomError) -> ValidationError:
    return ValidationError({"product": [str(exc)]})


# --- BOMs -------------------------------------------------------------------------------------


@router.get("/boms", response=list[BomOut])
@requires("product.view")
@paginate
def bom_list(request: HttpRequest, filters: Query[BomFilters]) -> Any:
    """BOMs with their lines, by product SKU and newest version first; filter by `product`,
    `kind`, `active` and `q` (SKU or name of the product)."""
    boms = _boms().order_by("product__sku", "-version", "pk")
    if filters.product is not None:
        boms = boms.filter(product_id=filters.product)
    if filters.kind:
        boms = boms.filter(kind=filters.kind)
    if filters.active is not None:
        boms = boms.filter(active=filters.active)
    if filters.q:
        boms = boms.filter(
            Q(product__sku__icontains=filters.q) | Q(product__name__icontains=filters.q)
        )
    return boms


@router.get("/boms/{bom_id}", response=BomOut)
@requires("product.view")
def bom_get(request: HttpRequest, bom_id: int) -> Bom:
    """One BOM with its lines."""
    return _bom_or_404(bom_id)


@router.post("/boms", response={201: BomOut})
@requires("product.bom")
@idempotent
def bom_create(request: HttpRequest, payload: BomIn) -> Status:
    """Create a BOM of `product` with its lines (quantity per `quantity` of the product; a
    line's unit defaults to the component's stock unit). Refused with field errors: a loop in
    the company's BOMs (named with SKUs), an effective range overlapping another active BOM of
    the product, a unit of another kind than the component's, a non-positive quantity."""
    data = payload.model_dump()
    product = _product_field(data.pop("product"))
    bom = services.bom_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        product=product,
        lines=_lines(payload.lines),
        **{k: v for k, v in data.items() if k != "lines"},
    )
    return Status(201, _bom_or_404(bom.pk))


@router.patch("/boms/{bom_id}", response=BomOut)
@requires("product.bom")
def bom_update(request: HttpRequest, bom_id: int, payload: BomPatch) -> Bom:
    """Change a BOM's header fields; `lines`, when sent, replace all lines."""
    bom = _bom_or_404(bom_id)
    fields = payload.model_dump(exclude_unset=True)
    lines = fields.pop("lines", None)
    services.bom_update(
        bom=bom,
        actor=request.user,
        lines=_lines(payload.lines) if lines is not None and payload.lines is not None else None,
        **fields,
    )
    return _bom_or_404(bom_id)


@router.post("/boms/{bom_id}/archive", response=BomOut)
@requires("product.bom")
def bom_archive(request: HttpRequest, bom_id: int) -> Bom:
    """Archive a BOM: kept for history, no longer exploded or costed."""
    services.bom_archive(bom=_bom_or_404(bom_id), actor=request.user)
    return _bom_or_404(bom_id)


@router.get("/products/{product_id}/explosion", response=ExplosionOut)
@requires("product.view")
def bom_explosion(request: HttpRequest, product_id: int, query: Query[ExplosionQuery]) -> Any:
    """Multi-level explosion of `quantity` (stock unit) of the product with the BOMs effective
    on `date` (today): one row per BOM line on every path (level, path of product ids, quantity
    per parent and extended, in the component's stock unit, scrap included; phantoms flagged
    and passed through) and the total requirement per component."""
    product = _product_or_404(product_id)
    if query.quantity <= 0:
        raise ValidationError({"quantity": [_("The quantity must be greater than zero.")]})
    try:
        explosion = services.bom_explode(
            product=product, quantity=query.quantity, date=query.date, max_rows=query.max_rows
        )
    except services.BomError as exc:
        raise _bom_error(exc) from exc
    return {
        "product": _item(explosion.product),
        "quantity": explosion.quantity,
        "date": explosion.date,
        "bom": explosion.bom.id if explosion.bom else None,
        "truncated": explosion.truncated,
        "rows": [
            {
                "level": r.level,
                "path": list(r.path),
                "component": _item(r.component),
                "bom": r.bom_id,
                "line": r.line_id,
                "quantity_per": services.q6(r.quantity_per),
                "extended": services.q6(r.extended),
                "uom": r.uom,
                "scrap_percent": r.scrap_percent,
                "phantom": r.phantom,
                "has_bom": r.has_bom,
            }
            for r in explosion.rows
        ],
        "totals": [
            {
                "component": _item(t.component),
                "quantity": services.q6(t.quantity),
                "uom": t.uom,
                "has_bom": t.has_bom,
            }
            for t in explosion.totals
        ],
    }


@router.get("/products/{product_id}/where-used", response=WhereUsedOut)
@requires("product.view")
def bom_where_used(request: HttpRequest, product_id: int, query: Query[DateQuery]) -> Any:
    """Where the product is used, multi-level (only BOMs effective on `date` when given);
    `quantity_per` is the product's quantity per unit of the row's parent along its path."""
    product = _product_or_404(product_id)
    rows = services.bom_where_used(product=product, date=query.date)
    return {
        "product": {"id": product.pk, "sku": product.sku, "name": product.display_name},
        "rows": [
            {
                "level": r.level,
                "path": list(r.path),
                "parent": _item(r.parent),
                "bom": r.bom_id,
                "bom_version": r.bom_version,
                "phantom": r.phantom,
                "effective_from": r.effective_from,
                "effective_to": r.effective_to,
                "quantity_per": services.q6(r.quantity_per),
                "uom": r.uom,
                "top": r.top,
            }
            for r in rows
        ],
    }


@router.get("/products/{product_id}/cost-rollup", response=CostRollupOut)
@requires("product.view")
def bom_cost_rollup(request: HttpRequest, product_id: int, query: Query[DateQuery]) -> Any:
    """The rolled-up cost of one stock unit: material, labour and overhead, with the direct
    lines, the product's operations and the breakdown by BOM level."""
    product = _product_or_404(product_id)
    try:
        rollup = services.bom_cost_rollup(product=product, date=query.date)
    except services.BomError as exc:
        raise _bom_error(exc) from exc
    q6 = services.q6
    return {
        "product": _item(rollup.product),
        "date": rollup.date,
        "bom": rollup.bom.id if rollup.bom else None,
        "material": q6(rollup.cost.material),
        "labour": q6(rollup.cost.labour),
        "overhead": q6(rollup.cost.overhead),
        "total": q6(rollup.total),
        "standard_cost": rollup.standard_cost,
        "lines": [
            {
                "component": _item(c.component),
                "quantity_per": q6(c.quantity_per),
                "uom": c.uom,
                "unit_cost": q6(c.unit_cost),
                "extended": q6(c.extended),
                "rolled_up": c.rolled_up,
                "phantom": c.phantom,
            }
            for c in rollup.lines
        ],
        "operations": [
            {
                "sequence": o.sequence,
                "name": o.name,
                "work_center": o.work_center,
                "hours": q6(o.hours),
                "labour": q6(o.labour),
                "overhead": q6(o.overhead),
            }
            for o in rollup.operations
        ],
        "levels": [
            {
                "level": lv.level,
                "material": q6(lv.material),
                "labour": q6(lv.labour),
                "overhead": q6(lv.overhead),
                "total": q6(lv.total),
            }
            for lv in rollup.levels
        ],
    }


@router.post("/products/{product_id}/cost-rollup", response=CostApplyOut)
@requires("product.cost")
def bom_cost_rollup_apply(request: HttpRequest, product_id: int, query: Query[DateQuery]) -> Any:
    """Write the rolled-up cost as the standard cost of the product and of the made items in
    its BOM tree (each change recorded in the cost history); answers what changed."""
    product = _product_or_404(product_id)
    changes = services.bom_cost_rollup_apply(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        product=product,
        date=query.date,
    )
    skus = dict(Product.objects.filter(pk__in=[c[0] for c in changes]).values_list("pk", "sku"))
    return {
        "changes": [
            {"product": pk, "sku": skus[pk], "old": old, "new": new} for pk, old, new in changes
        ]
    }


# --- work centers -----------------------------------------------------------------------------


def _work_center_or_404(work_center_id: int) -> WorkCenter:
    return get_object_or_404(WorkCenter.objects, pk=work_center_id)


@router.get("/work-centers", response=list[WorkCenterOut])
@requires("product.view")
@paginate
def work_center_list(request: HttpRequest, filters: Query[WorkCenterFilters]) -> Any:
    """Work centers by code; filter by `active` and `q` (code or name)."""
    centers = WorkCenter.objects.order_by("code", "pk")
    if filters.active is not None:
        centers = centers.filter(active=filters.active)
    if filters.q:
        centers = centers.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    return centers


@router.get("/work-centers/{work_center_id}", response=WorkCenterOut)
@requires("product.view")
def work_center_get(request: HttpRequest, work_center_id: int) -> WorkCenter:
    """One work center."""
    return _work_center_or_404(work_center_id)


@router.post("/work-centers", response={201: WorkCenterOut})
@requires("product.bom")
@idempotent
def work_center_create(request: HttpRequest, payload: WorkCenterIn) -> Status:
    """Create a work center: capacity per working day = `hours_per_day` × `units` ×
    `efficiency_percent`; `holidays` are closed dates."""
    center = services.work_center_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        **payload.model_dump(),
    )
    return Status(201, center)


@router.patch("/work-centers/{work_center_id}", response=WorkCenterOut)
@requires("product.bom")
def work_center_update(
    request: HttpRequest, work_center_id: int, payload: WorkCenterPatch
) -> WorkCenter:
    """Change some of a work center's fields."""
    return services.work_center_update(
        work_center=_work_center_or_404(work_center_id),
        actor=request.user,
        **payload.model_dump(exclude_unset=True),
    )


@router.post("/work-centers/{work_center_id}/archive", response=WorkCenterOut)
@requires("product.bom")
def work_center_archive(request: HttpRequest, work_center_id: int) -> WorkCenter:
    """Archive a work center (refused while an active routing uses it)."""
    return services.work_center_archive(
        work_center=_work_center_or_404(work_center_id), actor=request.user
    )


@router.get("/work-centers/{work_center_id}/capacity", response=CapacityOut)
@requires("product.view")
def work_center_capacity(
    request: HttpRequest, work_center_id: int, query: Query[CapacityQuery]
) -> Any:
    """Hours available on each date of `date_from`–`date_to` (inclusive, at most 3 years)."""
    center = _work_center_or_404(work_center_id)
    capacity = services.work_center_capacity(
        work_center=center, date_from=query.date_from, date_to=query.date_to
    )
    return {
        "work_center": center.pk,
        "date_from": capacity.date_from,
        "date_to": capacity.date_to,
        "total": services.q6(capacity.total),
        "days": [
            {"date": d.date, "hours": services.q6(d.hours), "working": d.working}
            for d in capacity.days
        ],
    }


# --- routings ---------------------------------------------------------------------------------


def _routing_or_404(routing_id: int) -> Routing:
    return get_object_or_404(_routings(), pk=routing_id)


@router.get("/routings", response=list[RoutingOut])
@requires("product.view")
@paginate
def routing_list(request: HttpRequest, filters: Query[RoutingFilters]) -> Any:
    """Routings with their operations; filter by `product` and `active`."""
    routings = _routings().order_by("product__sku", "name", "pk")
    if filters.product is not None:
        routings = routings.filter(product_id=filters.product)
    if filters.active is not None:
        routings = routings.filter(active=filters.active)
    return routings


@router.get("/routings/{routing_id}", response=RoutingOut)
@requires("product.view")
def routing_get(request: HttpRequest, routing_id: int) -> Routing:
    """One routing with its operations."""
    return _routing_or_404(routing_id)


@router.post("/routings", response={201: RoutingOut})
@requires("product.bom")
@idempotent
def routing_create(request: HttpRequest, payload: RoutingIn) -> Status:
    """Create a routing of `product` (one active routing per product): operations with a work
    center, setup minutes and run minutes per unit."""
    routing = services.routing_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        product=_product_field(payload.product),
        name=payload.name,
        operations=[op.model_dump() for op in payload.operations],
        active=payload.active,
    )
    return Status(201, _routing_or_404(routing.pk))


@router.patch("/routings/{routing_id}", response=RoutingOut)
@requires("product.bom")
def routing_update(request: HttpRequest, routing_id: int, payload: RoutingPatch) -> Routing:
    """Change a routing's `name`/`active`; `operations`, when sent, replace all operations."""
    fields = payload.model_dump(exclude_unset=True)
    operations = fields.pop("operations", None)
    services.routing_update(
        routing=_routing_or_404(routing_id),
        actor=request.user,
        operations=operations,
        **fields,
    )
    return _routing_or_404(routing_id)


@router.post("/routings/{routing_id}/archive", response=RoutingOut)
@requires("product.bom")
def routing_archive(request: HttpRequest, routing_id: int) -> Routing:
    """Archive a routing."""
    services.routing_archive(routing=_routing_or_404(routing_id), actor=request.user)
    return _routing_or_404(routing_id)


# --- configurator -----------------------------------------------------------------------------


def _configurable_or_404(product_id: int) -> Product:
    return get_object_or_404(
        configurator.configurable_products().select_related("company"), pk=product_id
    )


@router.get("/products/{product_id}/options", response=OptionsOut, tags=CONFIGURATOR)
@requires("product.configure")
def configurator_options(request: HttpRequest, product_id: int) -> Any:
    """A configurable product's option groups (with options and price differences), the rules
    between options and the default choice."""
    product = _configurable_or_404(product_id)
    model = configurator.configuration_model(product=product)
    return {
        "product": {"id": product.pk, "sku": product.sku, "name": product.display_name},
        "groups": [
            {
                "id": g.pk,
                "code": g.code,
                "name": g.name,
                "sequence": g.sequence,
                "multiple": g.multiple,
                "required": g.required,
                "options": list(g.options.all()),
            }
            for g in model.groups
        ],
        "rules": [
            {
                "id": r.pk,
                "kind": r.kind,
                "option": r.option_id,
                "other": r.other_id,
                "message": r.message,
            }
            for r in model.rules
        ],
        "defaults": configurator.configuration_defaults(product=product, model=model),
    }


@router.post("/products/{product_id}/configuration", response=ConfigurationOut, tags=CONFIGURATOR)
@requires("product.configure")
def configurator_evaluate(request: HttpRequest, product_id: int, payload: ConfigurationIn) -> Any:
    """Check and price a choice of options without saving it: the violated rules (each message
    names the rule and the options), the unit price (price list or list price, plus the
    options' differences), the generated BOM and its rolled-up cost."""
    product = _configurable_or_404(product_id)
    if payload.quantity <= 0:
        raise ValidationError({"quantity": [_("The quantity must be greater than zero.")]})
    evaluation = configurator.configuration_evaluate(
        product=product,
        option_ids=payload.options,
        party=_party_field(payload.party),
        quantity=payload.quantity,
        date=payload.date,
    )
    price = evaluation.price
    cost = evaluation.cost
    return {
        "valid": evaluation.valid,
        "violations": [
            {"code": v.code, "message": v.message, "rule": v.rule_id, "options": list(v.option_ids)}
            for v in evaluation.violations
        ],
        "description": evaluation.description,
        "price": {
            "base": price.base,
            "currency": price.currency,
            "source": price.source,
            "deltas": [{"option": o.pk, "amount": d} for o, d in price.deltas],
            "total": price.total,
        },
        "cost": {
            "material": services.q6(cost.cost.material),
            "labour": services.q6(cost.cost.labour),
            "overhead": services.q6(cost.cost.overhead),
            "total": services.q6(cost.total),
        }
        if cost
        else None,
        "bom": evaluation.bom.as_json(),
    }


def _configured_items() -> Any:
    return configurator.configured_items().prefetch_related("options")


@router.get("/configured-items", response=list[ConfiguredItemOut], tags=CONFIGURATOR)
@requires("product.configure")
@paginate
def configured_item_list(request: HttpRequest, filters: Query[ConfiguredItemFilters]) -> Any:
    """Configured items, newest first; filter by `product`."""
    items = _configured_items()
    if filters.product is not None:
        items = items.filter(product_id=filters.product)
    return items


@router.get("/configured-items/{item_id}", response=ConfiguredItemOut, tags=CONFIGURATOR)
@requires("product.configure")
def configured_item_get(request: HttpRequest, item_id: int) -> ConfiguredItem:
    """One configured item."""
    return get_object_or_404(_configured_items(), pk=item_id)


@router.post("/configured-items", response={201: ConfiguredItemOut}, tags=CONFIGURATOR)
@requires("product.configure")
@idempotent
def configured_item_create(request: HttpRequest, payload: ConfiguredItemIn) -> Status:
    """Save a configuration of a configurable product: price, cost, generated BOM and
    description (refused with the violated rules under `options`)."""
    item = configurator.configured_item_create(
        company=request.company,  # type: ignore[attr-defined]
        actor=request.user,
        product=_product_field(payload.product),
        option_ids=payload.options,
        party=_party_field(payload.party),
        quantity=payload.quantity,
    )
    return Status(201, get_object_or_404(_configured_items(), pk=item.pk))
