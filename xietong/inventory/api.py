"""REST endpoints of inventory (mounted at `/api/v1` by `xietong.api`), following the conventions
of `xietong.core.api`: a permission under every route, scoped querysets (another company's
record is not found), `@paginate`d lists, `@idempotent` creating POSTs answering 201, writes
through the services, decimals as strings.

A refusal of the stock services (`StockError`: not enough stock, a lot missing, a picking in
the wrong state …) answers 422 with its reason in `detail` and its `code`
(`not_enough_stock`, `lot_required`, `state` …), and nothing is saved; other invalid input
answers 422 with field errors.

Warehouses are named by their codes in request bodies and filters, products by id or SKU,
units by code, lots by name (of the line's product), locations, parties, pickings, moves and
count lines by id. Quantities are in the product's stock unit unless a unit is given.
"""

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from functools import wraps
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import ConfigDict

from xietong.core.api import DecimalString
from xietong.core.idempotency import idempotent
from xietong.core.models import UnitOfMeasure
from xietong.core.permissions import requires
from xietong.inventory import counts, pickings, replenishment, stock, traceability, valuation
from xietong.inventory.models import (
    CountLine,
    InventoryCount,
    Location,
    Lot,
    Move,
    Picking,
    Quant,
    ReplenishmentRule,
    Warehouse,
)
from xietong.inventory.stock import StockError
from xietong.inventory.warehouses import internal_locations_below
from xietong.party.models import Party
from xietong.product.models import Product

router = Router(tags=["inventory"])
ZERO = Decimal(0)
STOCK_USAGES = (Location.Usage.INTERNAL, Location.Usage.TRANSIT)

LocationUsage = Literal[
    "view", "internal", "supplier", "customer", "production", "inventory", "scrap", "transit"
]
MoveState = Literal["draft", "waiting", "assigned", "done", "cancelled"]
PickingKind = Literal["receipt", "internal", "delivery"]
PickingState = Literal["draft", "waiting", "ready", "done", "cancelled"]
CountState = Literal["draft", "counting", "done", "cancelled"]


# --- schemas ------------------------------------------------------------------------------------


class WarehouseOut(Schema):
    id: int
    code: str
    name: str
    reception_steps: str
    delivery_steps: str
    view_location: int = Field(..., alias="view_location_id")
    stock_location: int = Field(..., alias="stock_location_id")
    input_location: int = Field(..., alias="input_location_id")
    quality_location: int = Field(..., alias="quality_location_id")
    pack_location: int = Field(..., alias="pack_location_id")
    output_location: int = Field(..., alias="output_location_id")
    active: bool


class LocationOut(Schema):
    id: int
    name: str
    full_name: str
    parent: int | None = Field(None, alias="parent_id")
    warehouse: str | None = Field(None, description="warehouse code")
    usage: str
    barcode: str
    allow_negative: bool
    active: bool

    @staticmethod
    def resolve_warehouse(obj: Location) -> str | None:
        return obj.warehouse.code if obj.warehouse_id else None  # type: ignore[union-attr]


class LocationFilters(Schema):
    warehouse: str | None = Field(None, description="warehouse code: the locations below it")
    usage: LocationUsage | None = None
    q: str | None = Field(None, description="part of the full name or the barcode")
    active: bool | None = None


class QuantOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    sku: str
    location: int = Field(..., alias="location_id")
    location_name: str
    lot: int | None = Field(None, alias="lot_id")
    lot_name: str | None
    on_hand: DecimalString = Field(..., alias="quantity")
    reserved: DecimalString
    available: DecimalString
    uom: str

    @staticmethod
    def resolve_sku(obj: Quant) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_location_name(obj: Quant) -> str:
        return obj.location.full_name

    @staticmethod
    def resolve_lot_name(obj: Quant) -> str | None:
        return obj.lot.name if obj.lot_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_uom(obj: Quant) -> str:
        return obj.product.uom.code


class StockFilters(Schema):
    product: int | None = Field(None, description="product id")
    location: int | None = Field(None, description="location id: it and the locations below")
    lot: int | None = Field(None, description="lot id")
    warehouse: str | None = Field(None, description="warehouse code")
    empty: bool = Field(False, description="true: also rows with nothing on hand or reserved")


class StockLineOut(Schema):
    location: int
    location_name: str
    lot: int | None
    lot_name: str | None
    on_hand: DecimalString
    reserved: DecimalString
    available: DecimalString


class ProductStockOut(Schema):
    product: int
    sku: str
    name: str
    uom: str
    on_hand: DecimalString
    reserved: DecimalString
    available: DecimalString
    lines: list[StockLineOut]


class PlaceQuery(Schema):
    location: int | None = Field(None, description="location id: it and the locations below")
    warehouse: str | None = Field(None, description="warehouse code")


class MoveOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    sku: str
    quantity: DecimalString
    uom: str
    quantity_base: DecimalString = Field(..., description="in the product's stock unit")
    from_location: int = Field(..., alias="from_location_id")
    from_location_name: str
    to_location: int = Field(..., alias="to_location_id")
    to_location_name: str
    lot: int | None = Field(None, alias="lot_id")
    lot_name: str | None
    state: str
    planned_date: dt.date
    effective_date: dt.date | None
    done_at: dt.datetime | None
    picking: int | None = Field(None, alias="picking_id")
    origin: str
    previous: int | None = Field(None, alias="previous_id")

    @staticmethod
    def resolve_sku(obj: Move) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_uom(obj: Move) -> str:
        return obj.uom.code

    @staticmethod
    def resolve_from_location_name(obj: Move) -> str:
        return obj.from_location.full_name

    @staticmethod
    def resolve_to_location_name(obj: Move) -> str:
        return obj.to_location.full_name

    @staticmethod
    def resolve_lot_name(obj: Move) -> str | None:
        return obj.lot.name if obj.lot_id else None  # type: ignore[union-attr]


MOVE_RELATED = ("product", "uom", "from_location", "to_location", "lot")


class MoveFilters(Schema):
    product: int | None = Field(None, description="product id")
    location: int | None = Field(
        None, description="location id: moves from or to it or a location below it"
    )
    lot: int | None = Field(None, description="lot id")
    state: MoveState | None = None
    date_from: dt.date | None = Field(None, description="effective date, or planned when not done")
    date_to: dt.date | None = None
    picking: int | None = Field(None, description="picking id")


class LotOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    sku: str
    name: str
    expiry_date: dt.date | None
    supplier_lot: str
    created_at: dt.datetime

    @staticmethod
    def resolve_sku(obj: Lot) -> str:
        return obj.product.sku


class LotDetailOut(LotOut):
    on_hand: DecimalString
    lines: list[StockLineOut]

    @staticmethod
    def resolve_on_hand(obj: Lot) -> Decimal:
        return stock.on_hand(product=obj.product, lot=obj)

    @staticmethod
    def resolve_lines(obj: Lot) -> list[dict[str, Any]]:
        return _stock_lines(Quant.objects.filter(lot=obj))


class LotFilters(Schema):
    product: int | None = Field(None, description="product id")
    q: str | None = Field(None, description="part of the lot name or the supplier's lot")
    expires_before: dt.date | None = None
    in_stock: bool | None = Field(None, description="true: lots with stock on hand")


class LotBrief(Schema):
    id: int
    name: str
    product: int = Field(..., alias="product_id")


class PartyBrief(Schema):
    id: int
    name: str


class TraceStepOut(Schema):
    move: int
    product: int
    sku: str
    lot: int | None
    lot_name: str | None
    quantity: DecimalString
    from_location: int
    from_location_name: str
    from_usage: str
    to_location: int
    to_location_name: str
    to_usage: str
    picking: int | None
    picking_number: str | None
    party: PartyBrief | None
    date: dt.date | None
    via: str = Field(..., description="lot, consumed (production link) or previous (route)")
    parent: int | None = Field(None, description="the move this one was reached from")
    depth: int = Field(..., description="production links away from the lot traced")


class TraceOut(Schema):
    lot: LotBrief
    direction: str
    steps: list[TraceStepOut]
    lots: list[LotBrief]
    supplier_lots: list[LotBrief]
    customers: list[PartyBrief]


class TraceQuery(Schema):
    direction: Literal["upstream", "downstream"] = "downstream"


class PickingBrief(Schema):
    id: int
    number: str
    kind: str
    step: str
    state: str
    warehouse: str = Field(..., description="warehouse code")
    from_location: int = Field(..., alias="from_location_id")
    from_location_name: str
    to_location: int = Field(..., alias="to_location_id")
    to_location_name: str
    party: int | None = Field(None, alias="party_id")
    scheduled_date: dt.date
    done_at: dt.datetime | None
    origin: str
    previous: int | None = Field(None, alias="previous_id")
    backorder_of: int | None = Field(None, alias="backorder_of_id")

    @staticmethod
    def resolve_warehouse(obj: Picking) -> str:
        return obj.warehouse.code

    @staticmethod
    def resolve_from_location_name(obj: Picking) -> str:
        return obj.from_location.full_name

    @staticmethod
    def resolve_to_location_name(obj: Picking) -> str:
        return obj.to_location.full_name


PICKING_RELATED = ("warehouse", "from_location", "to_location")


class PickingOut(PickingBrief):
    moves: list[MoveOut]
    next_steps: list[PickingBrief] = Field(..., description="pickings of the next route step")
    backorders: list[PickingBrief] = Field(..., description="what was left to do later")

    @staticmethod
    def resolve_moves(obj: Picking) -> list[Move]:
        return list(obj.moves.select_related(*MOVE_RELATED).order_by("pk"))

    @staticmethod
    def resolve_next_steps(obj: Picking) -> list[Picking]:
        return list(obj.next_steps.select_related(*PICKING_RELATED).order_by("pk"))

    @staticmethod
    def resolve_backorders(obj: Picking) -> list[Picking]:
        return list(obj.backorders.select_related(*PICKING_RELATED).order_by("pk"))


class PickingFilters(Schema):
    kind: PickingKind | None = None
    state: PickingState | None = None
    warehouse: str | None = Field(None, description="warehouse code")
    party: int | None = Field(None, description="party id")
    date_from: dt.date | None = Field(None, description="scheduled date")
    date_to: dt.date | None = None
    q: str | None = Field(None, description="part of the number or the source document")


class PickingLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    product: int | None = Field(None, description="product id (or give `sku`)")
    sku: str | None = None
    quantity: DecimalString
    uom: str | None = Field(None, description="unit code; default: the product's stock unit")
    lot: str | None = Field(None, description="name of an existing lot of the product")
    unit_cost: DecimalString | None = Field(None, description="receipts: the purchase cost")


class PickingIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: PickingKind
    warehouse: str | None = Field(
        None,
        description="warehouse code; receipts and deliveries follow its route; internal "
        "transfers are numbered in it (default: the source's warehouse)",
    )
    from_location: int | None = Field(None, description="internal transfers: location id")
    to_location: int | None = Field(None, description="internal transfers: location id")
    party: int | None = Field(None, description="supplier or customer id")
    scheduled_date: dt.date | None = Field(None, description="default: today")
    origin: str = ""
    lines: list[PickingLineIn]


class DoneMoveIn(Schema):
    model_config = ConfigDict(extra="forbid")

    move: int = Field(..., description="id of an open move of the picking")
    quantity: DecimalString | None = Field(None, description="in the move's unit; default: all")
    lot: str | None = Field(None, description="lot name (lots coming in are created)")
    serials: list[str] | None = Field(None, description="serial numbers, one a unit")


class ValidateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    moves: list[DoneMoveIn] | None = Field(
        None,
        description="the moves done; moves left out are not done (they go to a backorder). "
        "Left out: the whole picking is done as planned.",
    )
    backorder: bool = Field(True, description="false: cancel what is not done")
    effective_date: dt.date | None = Field(None, description="default: today")


class ScanIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str


class ScanOut(Schema):
    code: str
    kind: str = Field(..., description="product, lot, location, or empty: nothing found")
    product: int | None
    sku: str | None
    lot: int | None
    lot_name: str | None
    location: int | None
    location_name: str | None
    moves: list[MoveOut] = Field(..., description="the picking's open moves concerned")

    @staticmethod
    def resolve_product(obj: pickings.ScanResult) -> int | None:
        return obj.product.pk if obj.product else None

    @staticmethod
    def resolve_sku(obj: pickings.ScanResult) -> str | None:
        return obj.product.sku if obj.product else None

    @staticmethod
    def resolve_lot(obj: pickings.ScanResult) -> int | None:
        return obj.lot.pk if obj.lot else None

    @staticmethod
    def resolve_lot_name(obj: pickings.ScanResult) -> str | None:
        return obj.lot.name if obj.lot else None

    @staticmethod
    def resolve_location(obj: pickings.ScanResult) -> int | None:
        return obj.location.pk if obj.location else None

    @staticmethod
    def resolve_location_name(obj: pickings.ScanResult) -> str | None:
        return obj.location.full_name if obj.location else None

    @staticmethod
    def resolve_moves(obj: pickings.ScanResult) -> list[Move]:
        ids = [m.pk for m in obj.moves]
        return list(Move.objects.filter(pk__in=ids).select_related(*MOVE_RELATED).order_by("pk"))


class CountLineOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    sku: str
    location: int = Field(..., alias="location_id")
    location_name: str
    lot: int | None = Field(None, alias="lot_id")
    lot_name: str | None
    expected: DecimalString
    counted: DecimalString | None
    difference: DecimalString | None
    move: int | None = Field(None, alias="move_id")

    @staticmethod
    def resolve_sku(obj: CountLine) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_location_name(obj: CountLine) -> str:
        return obj.location.full_name

    @staticmethod
    def resolve_lot_name(obj: CountLine) -> str | None:
        return obj.lot.name if obj.lot_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_difference(obj: CountLine) -> Decimal | None:
        return None if obj.counted is None else obj.counted - obj.expected


class CountBrief(Schema):
    id: int
    number: str
    location: int = Field(..., alias="location_id")
    location_name: str
    abc_class: str
    state: str
    date: dt.date
    counted_by: int | None = Field(None, alias="counted_by_id")
    done_at: dt.datetime | None

    @staticmethod
    def resolve_location_name(obj: InventoryCount) -> str:
        return obj.location.full_name


class CountOut(CountBrief):
    lines: list[CountLineOut]

    @staticmethod
    def resolve_lines(obj: InventoryCount) -> list[CountLine]:
        return list(obj.lines.select_related("product", "location", "lot").order_by("pk"))


class CountFilters(Schema):
    state: CountState | None = None
    location: int | None = Field(None, description="location id")
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class CountIn(Schema):
    model_config = ConfigDict(extra="forbid")

    location: int = Field(..., description="id of the stock location counted (and below it)")
    date: dt.date | None = Field(None, description="default: today")
    abc_class: Literal["", "A", "B", "C"] = Field("", description="only this ABC class")


class CountedIn(Schema):
    model_config = ConfigDict(extra="forbid")

    line: int = Field(..., description="count line id")
    counted: DecimalString | None = Field(..., description="in the stock unit; null clears it")


class CountSetIn(Schema):
    model_config = ConfigDict(extra="forbid")

    lines: list[CountedIn]


class ReplenishmentOut(Schema):
    rule: int
    product: int
    sku: str
    warehouse: str
    on_hand: DecimalString
    incoming: DecimalString
    outgoing: DecimalString
    forecast: DecimalString
    min_qty: DecimalString
    max_qty: DecimalString
    multiple: DecimalString
    to_order: DecimalString
    supply: str
    lead_days: int
    need_date: dt.date | None
    order_date: dt.date | None
    late: bool


class ReplenishmentQuery(Schema):
    warehouse: str | None = Field(None, description="warehouse code")
    today: dt.date | None = Field(None, description="default: today")


class RuleOut(Schema):
    id: int
    product: int = Field(..., alias="product_id")
    sku: str
    warehouse: str
    min_qty: DecimalString
    max_qty: DecimalString
    multiple: DecimalString
    active: bool

    @staticmethod
    def resolve_sku(obj: ReplenishmentRule) -> str:
        return obj.product.sku

    @staticmethod
    def resolve_warehouse(obj: ReplenishmentRule) -> str:
        return obj.warehouse.code


class RuleFilters(Schema):
    warehouse: str | None = Field(None, description="warehouse code")
    product: int | None = Field(None, description="product id")
    active: bool | None = None


class RuleIn(Schema):
    model_config = ConfigDict(extra="forbid")

    product: int | None = Field(None, description="product id (or give `sku`)")
    sku: str | None = None
    warehouse: str = Field(..., description="warehouse code")
    min_qty: DecimalString = Field(..., description="reorder point, in the stock unit")
    max_qty: DecimalString
    multiple: DecimalString = Field(ZERO, description="order multiple; 0: any quantity")
    active: bool = True


class ValueRowOut(Schema):
    product: int
    sku: str
    name: str
    location: int | None
    location_name: str | None
    quantity: DecimalString
    value: DecimalString
    unit_cost: DecimalString | None


class ValuationOut(Schema):
    as_of: dt.date
    currency: str
    total_quantity: DecimalString
    total_value: DecimalString
    rows: list[ValueRowOut]


class ValuationQuery(Schema):
    as_of: dt.date | None = Field(None, description="end of this day; default: today")
    product: int | None = Field(None, description="product id")
    location: int | None = Field(None, description="location id: by location, below it")
    by_location: bool = Field(False, description="true: a row per product and location")


# --- helpers ------------------------------------------------------------------------------------


class StockRefused(HttpError):
    """A stock service's refusal: 422 with its reason as `detail` and `code`."""

    def __init__(self, exc: StockError) -> None:
        super().__init__(422, " ".join(exc.messages))
        self.code = getattr(exc, "code", None) or "stock_refused"


def refusals(view: Callable[..., Any]) -> Callable[..., Any]:
    """Answer a StockError raised by the handler's service as a `StockRefused` problem."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        try:
            return view(request, *args, **kwargs)
        except StockError as exc:
            raise StockRefused(exc) from exc

    return wrapped


def _company(request: HttpRequest) -> Any:
    return request.company  # type: ignore[attr-defined]


def _missing(field: str, message: str) -> ValidationError:
    return ValidationError({field: [message]})


def _warehouse(code: str | None, field: str = "warehouse") -> Warehouse | None:
    if code in (None, ""):
        return None
    found = Warehouse.objects.filter(code=code.strip().upper()).first()
    if found is None:
        raise _missing(field, _("No warehouse has the code “%(code)s”.") % {"code": code})
    return found


def _location(pk: int | None, field: str = "location") -> Location | None:
    if pk is None:
        return None
    found = Location.objects.filter(pk=pk).first()
    if found is None:
        raise _missing(field, _("No such location."))
    return found


def _product(pk: int | None, sku: str | None, field: str = "product") -> Product:
    if (pk is None) == (sku in (None, "")):
        raise _missing(field, _("Give the product's id or its SKU (one of them)."))
    products = Product.objects.select_related("uom")
    found = products.filter(pk=pk).first() if pk is not None else products.filter(sku=sku).first()
    if found is None:
        raise _missing(field, _("No such product."))
    return found


def _place(place: PlaceQuery) -> Location | None:
    """The location of a `location` or `warehouse` filter (a warehouse: its view location)."""
    location = _location(place.location)
    warehouse = _warehouse(place.warehouse)
    if location is not None and warehouse is not None:
        raise _missing("location", _("Give a location or a warehouse, not both."))
    return location or (warehouse.view_location if warehouse is not None else None)


def _subtree(location: Location) -> Q:
    """Locations: `location` and those below it (any usage)."""
    return Q(pk=location.pk) | Q(full_name__startswith=f"{location.full_name}/")


def _stock_lines(quants: QuerySet[Quant]) -> list[dict[str, Any]]:
    """Non-empty quants of stock locations as `StockLineOut` rows, by location and lot."""
    rows = (
        quants.filter(location__usage__in=STOCK_USAGES)
        .filter(~Q(quantity=0) | ~Q(reserved=0))
        .select_related("location", "lot")
        .order_by("location__full_name", "lot__name", "pk")
    )
    return [
        {
            "location": q.location_id,
            "location_name": q.location.full_name,
            "lot": q.lot_id,
            "lot_name": q.lot.name if q.lot_id else None,  # type: ignore[union-attr]
            "on_hand": q.quantity,
            "reserved": q.reserved,
            "available": q.available,
        }
        for q in rows
    ]


def _picking(picking_id: int) -> Picking:
    return get_object_or_404(Picking.objects.select_related(*PICKING_RELATED), pk=picking_id)


def _count(count_id: int) -> InventoryCount:
    return get_object_or_404(InventoryCount.objects.select_related("location"), pk=count_id)


# --- warehouses and locations -------------------------------------------------------------------


@router.get("/inventory/warehouses", response=list[WarehouseOut])
@requires("inventory.view")
@paginate
def warehouse_list(request: HttpRequest) -> Any:
    """The warehouses by code, with their routes and the ids of their main locations."""
    return Warehouse.objects.order_by("code")


@router.get("/inventory/locations", response=list[LocationOut])
@requires("inventory.view")
@paginate
def location_list(request: HttpRequest, filters: Query[LocationFilters]) -> Any:
    """The location tree by full name; filter by warehouse, usage, activity or a search in the
    full name and barcode."""
    found = Location.objects.select_related("warehouse").order_by("full_name", "pk")
    warehouse = _warehouse(filters.warehouse)
    if warehouse is not None:
        found = found.filter(warehouse=warehouse)
    if filters.usage:
        found = found.filter(usage=filters.usage)
    if filters.active is not None:
        found = found.filter(active=filters.active)
    if filters.q:
        found = found.filter(Q(full_name__icontains=filters.q) | Q(barcode__icontains=filters.q))
    return found


# --- stock --------------------------------------------------------------------------------------


@router.get("/inventory/stock", response=list[QuantOut])
@requires("inventory.view")
@paginate
def stock_list(request: HttpRequest, filters: Query[StockFilters]) -> Any:
    """On hand, reserved and available per product, stock location and lot (stock unit);
    filter by product, location (with the locations below it), lot or warehouse."""
    quants = Quant.objects.filter(location__usage__in=STOCK_USAGES).select_related(
        "product__uom", "location", "lot"
    )
    if filters.product is not None:
        quants = quants.filter(product_id=filters.product)
    if filters.lot is not None:
        quants = quants.filter(lot_id=filters.lot)
    place = _place(PlaceQuery(location=filters.location, warehouse=filters.warehouse))
    if place is not None:
        quants = quants.filter(location_id__in=internal_locations_below(place))
    if not filters.empty:
        quants = quants.filter(~Q(quantity=0) | ~Q(reserved=0))
    return quants.order_by("product__sku", "location__full_name", "lot__name", "pk")


@router.get("/inventory/stock/{product_id}", response=ProductStockOut)
@requires("inventory.view")
def product_stock(request: HttpRequest, product_id: int, place: Query[PlaceQuery]) -> Any:
    """One product's stock: totals on hand, reserved and available, and a line per stock
    location and lot; within a location (and below it) or warehouse when given."""
    product = get_object_or_404(Product.objects.select_related("uom"), pk=product_id)
    location = _place(place)
    on_hand = stock.on_hand(product=product, location=location)
    available = stock.available(product=product, location=location)
    quants = Quant.objects.filter(product=product)
    if location is not None:
        quants = quants.filter(location_id__in=internal_locations_below(location))
    return {
        "product": product.pk,
        "sku": product.sku,
        "name": product.name,
        "uom": product.uom.code,
        "on_hand": on_hand,
        "reserved": on_hand - available,
        "available": available,
        "lines": _stock_lines(quants),
    }


# --- moves --------------------------------------------------------------------------------------


@router.get("/inventory/moves", response=list[MoveOut])
@requires("inventory.view")
@paginate
def move_list(request: HttpRequest, filters: Query[MoveFilters]) -> Any:
    """Stock moves, newest first; filter by product, location (from or to it or below it), lot,
    state, date range (the effective date of done moves, the planned date of the others) or
    picking."""
    moves = Move.objects.select_related(*MOVE_RELATED).annotate(
        day=Coalesce("effective_date", "planned_date")
    )
    for name in ("product", "lot", "picking"):
        value = getattr(filters, name)
        if value is not None:
            moves = moves.filter(**{f"{name}_id": value})
    if filters.state:
        moves = moves.filter(state=filters.state)
    location = _location(filters.location)
    if location is not None:
        places = Location.objects.filter(_subtree(location))
        moves = moves.filter(Q(from_location__in=places) | Q(to_location__in=places))
    if filters.date_from:
        moves = moves.filter(day__gte=filters.date_from)
    if filters.date_to:
        moves = moves.filter(day__lte=filters.date_to)
    return moves.order_by("-day", "-pk")


@router.get("/inventory/moves/{move_id}", response=MoveOut)
@requires("inventory.view")
def move_get(request: HttpRequest, move_id: int) -> Move:
    """One stock move."""
    return get_object_or_404(Move.objects.select_related(*MOVE_RELATED), pk=move_id)


# --- lots ---------------------------------------------------------------------------------------


@router.get("/inventory/lots", response=list[LotOut])
@requires("inventory.view")
@paginate
def lot_list(request: HttpRequest, filters: Query[LotFilters]) -> Any:
    """Lots and serial numbers by product and name; filter by product, a search in the name
    and the supplier's lot, expiry, or whether they have stock on hand."""
    lots = Lot.objects.select_related("product")
    if filters.product is not None:
        lots = lots.filter(product_id=filters.product)
    if filters.q:
        lots = lots.filter(Q(name__icontains=filters.q) | Q(supplier_lot__icontains=filters.q))
    if filters.expires_before:
        lots = lots.filter(expiry_date__lt=filters.expires_before)
    if filters.in_stock is not None:
        held = Quant.objects.filter(
            lot=OuterRef("pk"), location__usage__in=STOCK_USAGES, quantity__gt=0
        )
        lots = lots.filter(Exists(held) if filters.in_stock else ~Exists(held))
    return lots.order_by("product__sku", "name", "pk")


@router.get("/inventory/lots/{lot_id}", response=LotDetailOut)
@requires("inventory.view")
def lot_get(request: HttpRequest, lot_id: int) -> Lot:
    """One lot with its stock on hand and where it is."""
    return get_object_or_404(Lot.objects.select_related("product"), pk=lot_id)


@router.get("/inventory/lots/{lot_id}/trace", response=TraceOut)
@requires("inventory.view")
def lot_trace(request: HttpRequest, lot_id: int, query: Query[TraceQuery]) -> dict[str, Any]:
    """Where the lot went (`downstream`: its moves, what was made of it and the customers who
    got it) or where it came from (`upstream`: the components and supplier lots in it); the
    done moves on the trace, nearest first."""
    lot = get_object_or_404(Lot.objects.select_related("product"), pk=lot_id)
    trace = (
        traceability.trace_downstream(lot=lot)
        if query.direction == "downstream"
        else traceability.trace_upstream(lot=lot)
    )
    customers = {s.party.pk: s.party for s in trace.deliveries if s.party is not None}
    return {
        "lot": lot,
        "direction": trace.direction,
        "steps": [
            {
                "move": s.move.pk,
                "product": s.product.pk,
                "sku": s.product.sku,
                "lot": s.lot.pk if s.lot else None,
                "lot_name": s.lot.name if s.lot else None,
                "quantity": s.move.quantity_base,
                "from_location": s.from_location.pk,
                "from_location_name": s.from_location.full_name,
                "from_usage": s.from_location.usage,
                "to_location": s.to_location.pk,
                "to_location_name": s.to_location.full_name,
                "to_usage": s.to_location.usage,
                "picking": s.picking.pk if s.picking else None,
                "picking_number": s.picking.number if s.picking else None,
                "party": s.party,
                "date": s.date,
                "via": s.via,
                "parent": s.parent.pk if s.parent else None,
                "depth": s.depth,
            }
            for s in trace.steps
        ],
        "lots": trace.lots,
        "supplier_lots": trace.supplier_lots,
        "customers": list(customers.values()),
    }


# --- pickings -----------------------------------------------------------------------------------


@router.get("/inventory/pickings", response=list[PickingBrief], tags=["pickings"])
@requires("inventory.view")
@paginate
def picking_list(request: HttpRequest, filters: Query[PickingFilters]) -> Any:
    """Receipts, internal transfers and deliveries, latest scheduled first; filter by kind,
    state, warehouse, party, scheduled date range or a search in the number and source."""
    found = Picking.objects.select_related(*PICKING_RELATED)
    for name in ("kind", "state"):
        value = getattr(filters, name)
        if value:
            found = found.filter(**{name: value})
    warehouse = _warehouse(filters.warehouse)
    if warehouse is not None:
        found = found.filter(warehouse=warehouse)
    if filters.party is not None:
        found = found.filter(party_id=filters.party)
    if filters.date_from:
        found = found.filter(scheduled_date__gte=filters.date_from)
    if filters.date_to:
        found = found.filter(scheduled_date__lte=filters.date_to)
    if filters.q:
        found = found.filter(Q(number__icontains=filters.q) | Q(origin__icontains=filters.q))
    return found.order_by("-scheduled_date", "-pk")


@router.get("/inventory/pickings/{picking_id}", response=PickingOut, tags=["pickings"])
@requires("inventory.view")
def picking_get(request: HttpRequest, picking_id: int) -> Picking:
    """One picking with its moves, the pickings of its next route step and its backorders."""
    return _picking(picking_id)


def _picking_lines(payload: PickingIn) -> list[dict[str, Any]]:
    lines = []
    units: dict[str, UnitOfMeasure] = {}
    for n, item in enumerate(payload.lines):
        product = _product(item.product, item.sku, f"lines.{n}.product")
        line: dict[str, Any] = {"product": product, "quantity": item.quantity}
        if item.uom:
            if item.uom not in units:
                unit = UnitOfMeasure.objects.filter(code=item.uom).first()
                if unit is None:
                    raise _missing(f"lines.{n}.uom", _("No unit has the code “%(code)s”.")
                                   % {"code": item.uom})  # fmt: skip
                units[item.uom] = unit
            line["uom"] = units[item.uom]
        if item.lot:
            lot = Lot.objects.filter(product=product, name=item.lot.strip()).first()
            if lot is None:
                raise _missing(f"lines.{n}.lot", _("%(product)s has no lot “%(lot)s”.")
                               % {"product": product, "lot": item.lot})  # fmt: skip
            line["lot"] = lot
        if item.unit_cost is not None:
            line["unit_cost"] = item.unit_cost
        lines.append(line)
    return lines


@router.post("/inventory/pickings", response={201: PickingOut}, tags=["pickings"])
@requires("inventory.move")
@idempotent
@refusals
def picking_create(request: HttpRequest, payload: PickingIn) -> Status:
    """Create a draft receipt or delivery along the warehouse's route (answers its first step;
    the later steps are in `next_steps`), or a draft internal transfer between two stock
    locations. Confirm it with `…/confirm`."""
    company = _company(request)
    warehouse = _warehouse(payload.warehouse)
    party = None
    if payload.party is not None:
        party = Party.objects.filter(pk=payload.party).first()
        if party is None:
            raise _missing("party", _("No such party."))
    common: dict[str, Any] = {
        "company": company,
        "actor": request.user,
        "lines": _picking_lines(payload),
        "scheduled_date": payload.scheduled_date or timezone.localdate(),
        "party": party,
        "origin": payload.origin,
    }
    if payload.kind == "internal":
        ends = {
            "from_location": _location(payload.from_location, "from_location"),
            "to_location": _location(payload.to_location, "to_location"),
        }
        for field, location in ends.items():
            if location is None:
                raise _missing(field, _("Give the location (id) of the transfer."))
        created = pickings.internal_transfer_create(**common, **ends, warehouse=warehouse)
    else:
        for field in ("from_location", "to_location"):
            if getattr(payload, field) is not None:
                raise _missing(field, _("Receipts and deliveries follow the warehouse's route; "
                                        "give locations for internal transfers only."))  # fmt: skip
        if warehouse is None:
            raise _missing("warehouse", _("Give the warehouse code."))
        create = pickings.receipt_create if payload.kind == "receipt" else pickings.delivery_create
        created = create(**common, warehouse=warehouse)[0]
    return Status(201, _picking(created.pk))


@router.post("/inventory/pickings/{picking_id}/confirm", response=PickingOut, tags=["pickings"])
@requires("inventory.move")
@refusals
def picking_confirm(request: HttpRequest, picking_id: int) -> Picking:
    """Confirm a draft picking and the draft later steps of its route; what can be reserved
    is reserved (the picking is then ready, else waiting)."""
    pickings.picking_confirm(picking=_picking(picking_id), actor=request.user)
    return _picking(picking_id)


@router.post("/inventory/pickings/{picking_id}/assign", response=PickingOut, tags=["pickings"])
@requires("inventory.move")
@refusals
def picking_assign(request: HttpRequest, picking_id: int) -> Picking:
    """Reserve what stock allows for a waiting picking (only stock available is reserved)."""
    pickings.picking_assign(picking=_picking(picking_id), actor=request.user)
    return _picking(picking_id)


@router.post("/inventory/pickings/{picking_id}/cancel", response=PickingOut, tags=["pickings"])
@requires("inventory.move")
@refusals
def picking_cancel(request: HttpRequest, picking_id: int) -> Picking:
    """Cancel what is not done of the picking, and what waits for it in the later steps,
    releasing the reservations."""
    pickings.picking_cancel(picking=_picking(picking_id), actor=request.user)
    return _picking(picking_id)


@router.post("/inventory/pickings/{picking_id}/validate", response=PickingOut, tags=["pickings"])
@requires("inventory.move")
@refusals
def picking_validate(request: HttpRequest, picking_id: int, payload: ValidateIn) -> Picking:
    """Do the picking (a draft is confirmed first): all of it, or the `moves` listed with
    their quantities; the rest goes to a backorder (`backorders`), or is cancelled with
    `backorder: false`. Lots received are named (and created), serial numbers given one a
    unit. Refused with nothing done for not enough stock, a lot missing, a previous step
    not done …"""
    picking = _picking(picking_id)
    quantities: dict[int, Any] | None = None
    lots: dict[int, Any] = {}
    if payload.moves is not None:
        planned = dict(Move.objects.filter(picking=picking).values_list("pk", "quantity"))
        quantities = {}
        for n, item in enumerate(payload.moves):
            if item.move in quantities:
                raise _missing(f"moves.{n}.move", _("This move is listed twice."))
            if item.quantity is not None:
                quantities[item.move] = item.quantity
            else:
                quantities[item.move] = planned.get(item.move, ZERO)
            if item.lot and item.serials:
                raise _missing(f"moves.{n}.lot", _("Give a lot or serial numbers, not both."))
            if item.lot:
                lots[item.move] = item.lot
            elif item.serials:
                lots[item.move] = list(item.serials)
    pickings.picking_done(
        picking=picking,
        actor=request.user,
        quantities=quantities,
        lots=lots or None,
        backorder=payload.backorder,
        effective_date=payload.effective_date,
    )
    return _picking(picking_id)


@router.post("/inventory/pickings/{picking_id}/scan", response=ScanOut, tags=["pickings"])
@requires("inventory.move")
def picking_scan(request: HttpRequest, picking_id: int, payload: ScanIn) -> Any:
    """What a scanned code is for the picking (a product's barcode, a location's barcode, a
    lot or serial number, a SKU) and the picking's open moves it concerns; writes nothing."""
    return pickings.picking_scan(picking=_picking(picking_id), code=payload.code)


# --- counts -------------------------------------------------------------------------------------


@router.get("/inventory/counts", response=list[CountBrief], tags=["counts"])
@requires("inventory.view")
@paginate
def count_list(request: HttpRequest, filters: Query[CountFilters]) -> Any:
    """Inventory counts, latest first; filter by state, location or date range."""
    found = InventoryCount.objects.select_related("location")
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.location is not None:
        found = found.filter(location_id=filters.location)
    if filters.date_from:
        found = found.filter(date__gte=filters.date_from)
    if filters.date_to:
        found = found.filter(date__lte=filters.date_to)
    return found.order_by("-date", "-pk")


@router.get("/inventory/counts/{count_id}", response=CountOut, tags=["counts"])
@requires("inventory.view")
def count_get(request: HttpRequest, count_id: int) -> InventoryCount:
    """One count sheet with its lines (expected, counted, difference, adjustment move)."""
    return _count(count_id)


@router.post("/inventory/counts", response={201: CountOut}, tags=["counts"])
@requires("inventory.count")
@idempotent
@refusals
def count_create(request: HttpRequest, payload: CountIn) -> Status:
    """Create a count sheet of a stock location and those below it, a line per product, lot
    and location with stock (only one ABC class with `abc_class`)."""
    location = _location(payload.location)
    count = counts.count_create(
        company=_company(request),
        actor=request.user,
        location=location,
        date=payload.date or timezone.localdate(),
        abc_class=payload.abc_class,
    )
    return Status(201, _count(count.pk))


@router.post("/inventory/counts/{count_id}/lines", response=CountOut, tags=["counts"])
@requires("inventory.count")
@refusals
def count_lines_set(request: HttpRequest, count_id: int, payload: CountSetIn) -> Any:
    """Enter what was counted on some lines (null clears a line); the count is then being
    counted."""
    counted: dict[int, Any] = {}
    for n, item in enumerate(payload.lines):
        if item.line in counted:
            raise _missing(f"lines.{n}.line", _("This line is listed twice."))
        counted[item.line] = item.counted
    counts.count_set(count=_count(count_id), counts=counted, actor=request.user)
    return _count(count_id)


@router.post("/inventory/counts/{count_id}/done", response=CountOut, tags=["counts"])
@requires("inventory.count")
@refusals
def count_done(request: HttpRequest, count_id: int) -> Any:
    """Post the count: each counted line's difference with what is on hand now becomes an
    adjustment move to or from inventory loss."""
    counts.count_done(count=_count(count_id), actor=request.user)
    return _count(count_id)


@router.post("/inventory/counts/{count_id}/cancel", response=CountOut, tags=["counts"])
@requires("inventory.count")
@refusals
def count_cancel(request: HttpRequest, count_id: int) -> Any:
    """Cancel a count that is not done (nothing is posted)."""
    counts.count_cancel(count=_count(count_id), actor=request.user)
    return _count(count_id)


# --- replenishment ------------------------------------------------------------------------------


@router.get("/inventory/replenishment", response=list[ReplenishmentOut], tags=["replenishment"])
@requires("inventory.view")
@paginate
def replenishment_list(request: HttpRequest, query: Query[ReplenishmentQuery]) -> Any:
    """A row per active rule: on hand, incoming, outgoing, forecast and, when the forecast is
    at or below the reorder point, what to order, by when (`order_date`) and whether it is
    late; by warehouse and SKU."""
    rows = replenishment.replenishment_view(
        company=_company(request), warehouse=_warehouse(query.warehouse), today=query.today
    )
    return [
        {
            "rule": row.rule.pk,
            "product": row.product.pk,
            "sku": row.product.sku,
            "warehouse": row.warehouse.code,
            "on_hand": row.on_hand,
            "incoming": row.incoming,
            "outgoing": row.outgoing,
            "forecast": row.forecast,
            "min_qty": row.min_qty,
            "max_qty": row.max_qty,
            "multiple": row.multiple,
            "to_order": row.to_order,
            "supply": row.supply,
            "lead_days": row.lead_days,
            "need_date": row.need_date,
            "order_date": row.order_date,
            "late": row.late,
        }
        for row in rows
    ]


@router.get("/inventory/rules", response=list[RuleOut], tags=["replenishment"])
@requires("inventory.view")
@paginate
def rule_list(request: HttpRequest, filters: Query[RuleFilters]) -> Any:
    """Replenishment rules by warehouse and SKU."""
    rules = ReplenishmentRule.objects.select_related("product", "warehouse")
    warehouse = _warehouse(filters.warehouse)
    if warehouse is not None:
        rules = rules.filter(warehouse=warehouse)
    if filters.product is not None:
        rules = rules.filter(product_id=filters.product)
    if filters.active is not None:
        rules = rules.filter(active=filters.active)
    return rules.order_by("warehouse__code", "product__sku", "pk")


@router.post("/inventory/rules", response={201: RuleOut}, tags=["replenishment"])
@requires("inventory.configure")
@idempotent
def rule_set(request: HttpRequest, payload: RuleIn) -> Status:
    """Set the rule of a product in a warehouse (created, or replaced when it exists):
    reorder at `min_qty`, order up to `max_qty` in multiples of `multiple`."""
    warehouse = _warehouse(payload.warehouse)
    rule = replenishment.rule_set(
        company=_company(request),
        actor=request.user,
        product=_product(payload.product, payload.sku),
        warehouse=warehouse,
        min_qty=payload.min_qty,
        max_qty=payload.max_qty,
        multiple=payload.multiple,
        active=payload.active,
    )
    return Status(
        201, ReplenishmentRule.objects.select_related("product", "warehouse").get(pk=rule.pk)
    )


# --- valuation ----------------------------------------------------------------------------------


@router.get("/inventory/valuation", response=ValuationOut, tags=["valuation"])
@requires("inventory.valuation")
@refusals
def stock_value(request: HttpRequest, query: Query[ValuationQuery]) -> dict[str, Any]:
    """The stock value at the end of `as_of` (company currency): by product (Σ valuation
    layers), or by product and location with `by_location` or a `location`."""
    company = _company(request)
    product = None
    if query.product is not None:
        product = Product.objects.filter(pk=query.product).first()
        if product is None:
            raise _missing("product", _("No such product."))
    result = valuation.stock_value(
        company=company,
        as_of=query.as_of or timezone.localdate(),
        product=product,
        location=_location(query.location),
        by_location=query.by_location,
    )
    return {
        "as_of": result.as_of,
        "currency": company.base_currency_id,
        "total_quantity": result.total_quantity,
        "total_value": result.total_value,
        "rows": [
            {
                "product": row.product.pk,
                "sku": row.product.sku,
                "name": row.product.name,
                "location": row.location.pk if row.location else None,
                "location_name": row.location.full_name if row.location else None,
                "quantity": row.quantity,
                "value": row.value,
                "unit_cost": row.unit_cost,
            }
            for row in result.rows
        ],
    }
