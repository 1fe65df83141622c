"""REST endpoints of manufacturing (mounted at `/api/v1` by `xietong.api`), following the
conventions of `xietong.core.api`: a permission under every route, scoped querysets (another
company's record is not found), `@paginate`d lists, `@idempotent` creating POSTs answering 201,
writes through the services, decimals as strings.

Forecasts (list, set), MRP runs (queue one of the live plan or of a what-if scenario, read its
state and figures), planned orders (list with their pegging one level up, firm a set into a
requisition and production orders, optionally released at once), production orders (list, read
with materials and operations, release, finish, close with variances) and the capacity load.
A refusal of the services answers 422 with its reason; field errors name the field; nothing is
saved then."""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from xietong.core.api import DecimalString, refusals_of
from xietong.core.idempotency import idempotent
from xietong.core.permissions import requires
from xietong.finance.posting import PostingError
from xietong.inventory.stock import StockError
from xietong.manufacturing import capacity, execution, planning
from xietong.manufacturing.firming import planned_orders_firm
from xietong.manufacturing.models import (
    Forecast,
    PlannedOrder,
    PlanRun,
    ProductionOrder,
    Scenario,
)
from xietong.manufacturing.production import ProductionError, production_order_release
from xietong.product.models import Product

router = Router(tags=["manufacturing"])
refusals = refusals_of(ValidationError, StockError, PostingError, own=ProductionError,
                       lists=("order_ids",))  # fmt: skip


class ForecastIn(Schema):
    product: int | str = Field(..., description="id or SKU")
    date: dt.date
    quantity: DecimalString
    note: str = ""


class ForecastOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    date: dt.date
    quantity: DecimalString
    source: str
    note: str


class RunIn(Schema):
    scenario: int | None = Field(None, description="a what-if scenario; the live plan if empty")
    kind: Literal["regenerative", "net_change"] = Field(
        "regenerative",
        description="net_change: replan only the items whose data changed since the previous "
        "run (regenerative when the worker holds no previous plan; the figures say why)",
    )


class RunOut(Schema):
    id: int
    scenario: int = Field(..., alias="scenario_id")
    kind: str
    state: str
    start: dt.date
    bucket: str
    horizon: int
    job: int | None = Field(None, alias="job_id")
    figures: dict[str, Any]
    error: str


class PegOut(Schema):
    parent: int | None = Field(None, alias="parent_id")
    demand: str
    demand_id: int | None
    reference: str
    quantity: DecimalString


class PlannedOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    supply: str
    release_date: dt.date
    due_date: dt.date
    quantity: DecimalString
    state: str
    past_due: bool
    pegging: list[PegOut]

    @staticmethod
    def resolve_pegging(obj: PlannedOrder) -> list[Any]:
        found = getattr(obj, "pegging", None)  # read for the whole page (`_WithPegging`)
        if found is None:
            found = planning.pegs_of(obj.scenario_id, [obj.pk]).get(obj.pk, [])
        return found


class _WithPegging:
    """The planned orders of a queryset with their pegging one level up, read for the slice
    the paginator takes at once (`planning.pegs_of`: two queries) instead of per order."""

    def __init__(self, queryset: Any) -> None:
        self.queryset = queryset

    def all(self) -> Any:
        return self.queryset.all()

    def __len__(self) -> int:
        return self.queryset.count()

    def __getitem__(self, part: slice) -> list[PlannedOrder]:
        rows = list(self.queryset[part])
        found = planning.pegs_of(rows[0].scenario_id, [r.pk for r in rows]) if rows else {}
        for row in rows:
            row.pegging = found.get(row.pk, [])
        return rows


class PlannedFilters(Schema):
    supply: str | None = None
    state: str | None = None


class FirmIn(Schema):
    order_ids: list[int]
    release: bool = False


class FirmOut(Schema):
    requisition: int | None
    production_orders: list[int]


class MaterialOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    required_qty: DecimalString
    issued_qty: DecimalString
    issued_value: DecimalString


class OperationOut(Schema):
    id: int
    sequence: int
    name: str
    work_center: int = Field(..., alias="work_center_id")
    planned_minutes: DecimalString
    actual_minutes: DecimalString
    state: str
    scheduled_start: dt.datetime | None
    scheduled_end: dt.datetime | None


class ProductionOut(Schema):
    id: int
    number: str
    state: str
    product: int = Field(..., alias="product_id")
    quantity: DecimalString
    start_date: dt.date
    due_date: dt.date
    produced_qty: DecimalString
    material_cost: DecimalString
    labour_cost: DecimalString
    overhead_cost: DecimalString
    received_value: DecimalString
    materials: list[MaterialOut]
    operations: list[OperationOut]

    @staticmethod
    def resolve_materials(obj: ProductionOrder) -> list[Any]:
        return list(obj.materials.all())

    @staticmethod
    def resolve_operations(obj: ProductionOrder) -> list[Any]:
        return list(obj.operations.all())


class FinishIn(Schema):
    quantity: DecimalString
    scrap: DecimalString = Decimal(0)
    final: bool = False
    lot: str | None = None
    serials: list[str] | None = None


class IssueLineIn(Schema):
    material: int
    quantity: DecimalString


class IssueIn(Schema):
    lines: list[IssueLineIn]


class LoadOut(Schema):
    work_center: int
    code: str
    dates: list[dt.date]
    load_minutes: list[float]
    capacity_minutes: list[float]


def _product(value: int | str) -> Product:
    found = Product.objects.filter(**({"pk": value} if isinstance(value, int) else
                                      {"sku": value})).first()  # fmt: skip
    if found is None:
        raise ValidationError({"product": [_("Choose a product of this company.")]})
    return found


def _production(order_id: int) -> ProductionOrder:
    return get_object_or_404(ProductionOrder.objects.all(), pk=order_id)


@router.get("/manufacturing/forecasts", response=list[ForecastOut])
@requires("manufacturing.view")
@paginate
def forecast_list(request: HttpRequest) -> Any:
    """Forecasts by product and date."""
    return Forecast.objects.order_by("product_id", "date", "pk")


@router.post("/manufacturing/forecasts", response={201: ForecastOut})
@requires("manufacturing.plan")
@idempotent
@refusals
def forecast_set(request: HttpRequest, payload: ForecastIn) -> Status:
    """Set the forecast of a product from a date (entering it again replaces the quantity)."""
    made = planning.forecast_set(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                 product=_product(payload.product), date=payload.date,
                                 quantity=payload.quantity, note=payload.note)  # fmt: skip
    return Status(201, made)


@router.post("/manufacturing/mrp-runs", response={201: RunOut})
@requires("manufacturing.plan")
@idempotent
@refusals
def run_request(request: HttpRequest, payload: RunIn) -> Status:
    """Queue an MRP run (a background job), regenerative or net change, of the live plan or of
    a scenario."""
    scenario = None
    if payload.scenario is not None:
        scenario = get_object_or_404(Scenario.objects.all(), pk=payload.scenario)
    try:
        made = planning.mrp_run_request(company=request.company, actor=request.user,  # type: ignore[attr-defined]
                                        scenario=scenario, kind=payload.kind)  # fmt: skip
    except planning.PlanningError as exc:
        raise ValidationError(str(exc), code="running") from exc
    return Status(201, made)


@router.get("/manufacturing/mrp-runs/{run_id}", response=RunOut)
@requires("manufacturing.view")
def run_get(request: HttpRequest, run_id: int) -> PlanRun:
    """A run's state, and when done its figures (items, planned orders, seconds per phase)."""
    return get_object_or_404(PlanRun.objects.all(), pk=run_id)


@router.get("/manufacturing/planned-orders", response=list[PlannedOut])
@requires("manufacturing.view")
@paginate
def planned_list(request: HttpRequest, filters: Query[PlannedFilters]) -> Any:
    """The live plan's planned orders by release date, with their pegging one level up."""
    found = PlannedOrder.objects.filter(scenario=planning.live_scenario(request.company))  # type: ignore[attr-defined]
    if filters.supply:
        found = found.filter(supply=filters.supply)
    if filters.state:
        found = found.filter(state=filters.state)
    return _WithPegging(found.order_by("release_date", "pk"))


@router.post("/manufacturing/planned-orders/firm", response={201: FirmOut})
@requires("manufacturing.plan")
@idempotent
@refusals
def planned_firm(request: HttpRequest, payload: FirmIn) -> Status:
    """Firm planned orders of the live plan: purchases into one requisition, production into
    production orders (released at once with `release: true`)."""
    rows = list(PlannedOrder.objects.filter(pk__in=payload.order_ids))
    if len(rows) != len(set(payload.order_ids)):
        raise ValidationError({"order_ids": [_("Choose planned orders of this company.")]})
    firmed = planned_orders_firm(company=request.company, actor=request.user, orders=rows,  # type: ignore[attr-defined]
                                 release=payload.release)  # fmt: skip
    return Status(201, {"requisition": firmed.requisition.pk if firmed.requisition else None,
                        "production_orders": [o.pk for o in firmed.production_orders]})  # fmt: skip


@router.get("/manufacturing/production-orders", response=list[ProductionOut])
@requires("manufacturing.view")
@paginate
def production_list(request: HttpRequest, state: str | None = None) -> Any:
    """Production orders, latest start first."""
    found = ProductionOrder.objects.prefetch_related("materials", "operations")
    if state:
        found = found.filter(state=state)
    return found.order_by("-start_date", "-pk")


@router.get("/manufacturing/production-orders/{order_id}", response=ProductionOut)
@requires("manufacturing.view")
def production_get(request: HttpRequest, order_id: int) -> ProductionOrder:
    """One production order with its materials and operations."""
    return _production(order_id)


@router.post("/manufacturing/production-orders/{order_id}/release", response=ProductionOut)
@requires("manufacturing.produce")
@refusals
def production_release(request: HttpRequest, order_id: int) -> ProductionOrder:
    """Release a draft order: its stock moves confirmed, materials reserved."""
    production_order_release(order=_production(order_id), actor=request.user)
    return _production(order_id)


@router.post("/manufacturing/production-orders/{order_id}/finish", response=ProductionOut)
@requires("manufacturing.produce")
@refusals
def production_finish(request: HttpRequest, order_id: int, payload: FinishIn) -> Any:
    """Report a released order finished, all or part of it (`final`: nothing more will be
    made): materials backflushed for the share reported, labour and overhead absorbed, goods
    received at the planned cost (into `lot`, or one of `serials` a unit, when tracked)."""
    execution.production_order_finish(order=_production(order_id), actor=request.user,
                                      quantity=payload.quantity, scrap=payload.scrap,
                                      final=payload.final, lot=payload.lot,
                                      serials=payload.serials)  # fmt: skip
    return _production(order_id)


@router.post("/manufacturing/production-orders/{order_id}/issue", response=ProductionOut)
@requires("manufacturing.produce")
@refusals
def production_issue(request: HttpRequest, order_id: int, payload: IssueIn) -> Any:
    """Issue materials of a released order by hand (`material` is the id of one of its
    materials; a negative quantity returns it to stock)."""
    order = _production(order_id)
    materials = {m.pk: m for m in order.materials.all()}
    lines = []
    for n, item in enumerate(payload.lines, start=1):
        if item.material not in materials:
            raise ValidationError({f"lines.{n}.material": [_("Choose a material of this order.")]})
        lines.append((materials[item.material], item.quantity))
    execution.material_issue(order=order, lines=lines, actor=request.user)
    return _production(order_id)


@router.post("/manufacturing/production-orders/{order_id}/close", response=ProductionOut)
@requires("manufacturing.plan")
@refusals
def production_close(request: HttpRequest, order_id: int) -> Any:
    """Close a done order, its variances posted."""
    execution.production_order_close(order=_production(order_id), actor=request.user)
    return _production(order_id)


@router.get("/manufacturing/capacity", response=list[LoadOut])
@requires("manufacturing.view")
def capacity_load(request: HttpRequest) -> list[dict[str, Any]]:
    """Load and capacity in minutes per work center and bucket of the live plan."""
    company = request.company  # type: ignore[attr-defined]
    settings = planning.planning_settings(company)
    plan = capacity.capacity_plan(
        company=company, scenario=planning.live_scenario(company),
        start=planning.plan_start(timezone.localdate(), settings.bucket),
        bucket=settings.bucket, horizon=settings.horizon,
    )  # fmt: skip
    return [{"work_center": c.pk, "code": c.code, "dates": plan.dates,
             "load_minutes": plan.load[c.pk], "capacity_minutes": plan.capacity[c.pk]}
            for c in plan.centers]  # fmt: skip
