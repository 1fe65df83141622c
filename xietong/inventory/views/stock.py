"""Inventory screens: stock on hand (per quant, or summed per product, product and location, or
product and lot), one product's stock with its open moves, the moves history and a move's page,
lots and serial numbers with their traceability (supplier lots to customer shipments, through
production), and the stock value as of a date next to the stock accounts' balance.

Quantities are shown to their unit's rounding, right-aligned, and exported as numbers; amounts
in the company currency. Everything is read through the company-scoped managers, so a record
of another company is a 404 and never listed."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from xietong.core.models import UnitOfMeasure
from xietong.core.money import minor_units
from xietong.core.permissions import has_perm, requires
from xietong.core.ui import listing
from xietong.core.ui.listing import Column, Filter, ListScreen, ListState
from xietong.core.ui.records import record_response
from xietong.finance.views.common import Amount, Badge, Display, parse_date, safe_reverse
from xietong.inventory import selectors, stock, valuation
from xietong.inventory.models import Location, Lot, Move, Quant, ValuationLayer, Warehouse
from xietong.inventory.traceability import Trace, TraceStep, trace_downstream, trace_upstream
from xietong.product.models import Category, Product

ZERO = Decimal(0)
SOON_DAYS = 30  # a lot expiring within this many days is "expiring soon"
Usage = Location.Usage
MOVE_STYLES = {
    Move.State.DRAFT: "secondary",
    Move.State.WAITING: "warning",
    Move.State.ASSIGNED: "info",
    Move.State.DONE: "success",
    Move.State.CANCELLED: "danger",
}


# --- cells -------------------------------------------------------------------------------------


def _places(rounding: Decimal | None) -> int:
    """How many decimals a unit with this rounding step shows (0 for 1, 3 for 0.001)."""
    if not rounding:
        return 3
    exponent = Decimal(rounding).normalize().as_tuple().exponent
    return max(0, -int(exponent))


def Qty(  # noqa: N802 - a cell value type, like the finance Amount
    value: Decimal | None, rounding: Decimal | None, *, unit: str = ""
) -> Display:
    """A quantity with its unit's decimals and thousands separators, right-aligned (negative
    stock in red); exports as a number."""
    if value is None:
        return Display("", "", None)
    places = _places(rounding)
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{rounded if rounded else abs(rounded):,.{places}f}"
    shown = f"{text} {unit}" if unit else text
    style = " text-danger" if rounded < 0 else ""
    html = format_html('<span class="d-block text-end text-nowrap qty{}">{}</span>', style, shown)
    return Display(html, shown, rounded if rounded else abs(rounded))


def _link(url: str | None, text: Any) -> Display | str:
    """`text` as a link to `url` (plain text when there is no url); exports as the text."""
    text = "" if text is None else str(text)
    if not url or not text:
        return text
    return Display(format_html('<a href="{}">{}</a>', url, text), text, text)


def _picking_url(pk: int | None) -> str | None:
    """The picking's page, once the pickings screens exist."""
    return safe_reverse("inventory:picking_detail", pk) if pk else None


def _product_label(sku: str, name: str, name_i18n: dict[str, Any] | None = None) -> str:
    """The label "SKU · name", with the name in the active language when there is one."""
    translated = (name_i18n or {}).get(translation.get_language() or "", "")
    return f"{sku} · {translated or name}"


def _move_badge(move: Move) -> Display:
    return Badge(move.get_state_display(), MOVE_STYLES.get(move.state, "secondary"))


def _expiry_badge(expiry: dt.date | None, today: dt.date) -> Display | str:
    if expiry is None:
        return ""
    if expiry < today:
        return Badge(_("Expired"), "danger")
    if expiry <= today + dt.timedelta(days=SOON_DAYS):
        return Badge(_("Expiring soon"), "warning")
    return Badge(_("Valid"), "success")


def _today() -> dt.date:
    return timezone.localdate()


# --- filters -----------------------------------------------------------------------------------


class ProductText(Filter):
    """Products whose SKU is the text when one is, else whose SKU or name contains it."""

    def parse(self, raw: str) -> Any:
        products = Product.objects.all()
        exact = products.filter(sku__iexact=raw)
        if exact.exists():
            return exact.values("pk")
        return products.filter(Q(sku__icontains=raw) | Q(name__icontains=raw)).values("pk")


def _location(raw: str) -> Location:
    if not raw.isdigit():
        raise ValueError(raw)
    try:
        return Location.objects.get(pk=int(raw))
    except Location.DoesNotExist:
        raise ValueError(raw) from None


class LocationTree(Filter):
    """A location and every location below it."""

    def parse(self, raw: str) -> Any:
        return selectors.locations_below(_location(raw)).values("pk")


class MoveLocation(Filter):
    """Moves from or to a location or a location below it."""

    def parse(self, raw: str) -> Any:
        below = selectors.locations_below(_location(raw)).values("pk")
        return Move.objects.filter(Q(from_location__in=below) | Q(to_location__in=below)).values(
            "pk"
        )


@dataclass(frozen=True)
class Flag(Filter):
    """A yes-only choice applying `lookup` with a fixed `value`."""

    value: Any = None

    def parse(self, raw: str) -> Any:
        return self.value


class Switch(Filter):
    """A choice of how the rows are built (the view reads it). It is declared as a filter so
    that sorting, paging and exports keep it, and filters nothing."""

    def parse(self, raw: str) -> Any:
        if raw not in {value for value, _label in self.choices(None)}:  # type: ignore[misc]
            raise ValueError(raw)
        return False


class LotExpiry(Filter):
    """Lots by their expiry: expired, expiring soon, still valid, or without a date."""

    def parse(self, raw: str) -> Any:
        today = _today()
        soon = today + dt.timedelta(days=SOON_DAYS)
        conditions = {
            "expired": Q(expiry_date__lt=today),
            "soon": Q(expiry_date__gte=today, expiry_date__lte=soon),
            "valid": Q(expiry_date__gt=soon),
            "none": Q(expiry_date__isnull=True),
        }
        if raw not in conditions:
            raise ValueError(raw)
        return Lot.objects.filter(conditions[raw]).values("pk")


def _yes(request: Any) -> list[tuple[str, str]]:
    return [("1", _("Yes"))]


def _warehouse_choices(request: Any) -> list[tuple[str, str]]:
    return [(str(w.pk), str(w)) for w in Warehouse.objects.order_by("code")]


def _stock_location_choices(request: Any) -> list[tuple[str, str]]:
    places = Location.objects.filter(
        Q(usage__in=selectors.STOCK_USAGES) | Q(usage=Usage.VIEW, warehouse__isnull=False),
        active=True,
    ).order_by("full_name")
    return [(str(pk), name) for pk, name in places.values_list("pk", "full_name")]


def _all_location_choices(request: Any) -> list[tuple[str, str]]:
    places = Location.objects.filter(active=True).order_by("full_name")
    return [(str(pk), name) for pk, name in places.values_list("pk", "full_name")]


def _group_choices(request: Any) -> list[tuple[str, str]]:
    return [
        ("product", _("Product (all locations)")),
        ("location", _("Product and location")),
        ("lot", _("Product and lot")),
    ]


def _move_state_choices(request: Any) -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in Move.State.choices]


def _expiry_choices(request: Any) -> list[tuple[str, str]]:
    return [
        ("expired", _("Expired")),
        ("soon", _("Expiring soon")),
        ("valid", _("Valid")),
        ("none", _("No expiry date")),
    ]


# --- stock on hand -----------------------------------------------------------------------------


def _row_qty(field: str) -> Any:
    def value(row: dict[str, Any]) -> Display:
        return Qty(row[field], row["product__uom__rounding"])

    return value


def _row_product(row: dict[str, Any]) -> str:
    return _product_label(row["product__sku"], row["product__name"], row["product__name_i18n"])


def _row_location(row: dict[str, Any]) -> Any:
    if "location_id" in row:
        url = reverse("inventory:stock_list") + "?" + urlencode({"location": row["location_id"]})
        return _link(url, row["location__full_name"])
    count = row["locations"]
    return ngettext("%(count)s location", "%(count)s locations", count) % {"count": count}


def _row_lot(row: dict[str, Any]) -> Any:
    if "lot_id" in row:
        if row["lot_id"] is None:
            return None
        return _link(reverse("inventory:lot_detail", args=[row["lot_id"]]), row["lot__name"])
    count = row["lots"]
    if not count:
        return None
    return ngettext("%(count)s lot", "%(count)s lots", count) % {"count": count}


STOCK_LIST = ListScreen(
    key="inventory-stock",
    title=gettext_lazy("Stock on hand"),
    columns=[
        Column("product", gettext_lazy("Product"), accessor=_row_product, order_by="product__sku"),
        Column(
            "location",
            gettext_lazy("Location"),
            accessor=_row_location,
            order_by="location__full_name",
        ),
        Column(
            "lot", gettext_lazy("Lot or serial number"), accessor=_row_lot, order_by="lot__name"
        ),
        Column(
            "expiry",
            gettext_lazy("Expiry date"),
            accessor=lambda row: row.get("lot__expiry_date"),
            order_by="lot__expiry_date",
        ),
        Column(
            "on_hand", gettext_lazy("On hand"), accessor=_row_qty("on_hand"), order_by="on_hand"
        ),
        Column(
            "reserved",
            gettext_lazy("Reserved"),
            accessor=_row_qty("reserved_qty"),
            order_by="reserved_qty",
        ),
        Column(
            "available",
            gettext_lazy("Available"),
            accessor=_row_qty("available_qty"),
            order_by="available_qty",
        ),
        Column("unit", gettext_lazy("Unit"), accessor=lambda row: row["product__uom__code"]),
    ],
    filters=[
        Switch("group", gettext_lazy("Group by"), "pk__isnull", choices=_group_choices),
        ProductText("product", gettext_lazy("Product"), "product_id__in", kind="text"),
        LocationTree(
            "location", gettext_lazy("Location"), "location_id__in", choices=_stock_location_choices
        ),
        Filter(
            "warehouse",
            gettext_lazy("Warehouse"),
            "location__warehouse_id",
            choices=_warehouse_choices,
        ),
        Filter("lot", gettext_lazy("Lot or serial number"), "lot__name__icontains", kind="text"),
        Flag(
            "positive", gettext_lazy("Only positive stock"), "on_hand__gt", choices=_yes, value=ZERO
        ),
    ],
    default_sort="product",
    page_size=50,
    detail_url=lambda row: reverse("inventory:product_stock", args=[row["product_id"]]),
)


@requires("inventory.view")
def stock_list(request: HttpRequest) -> HttpResponse:
    group = request.GET.get("group", "")
    if group not in selectors.GROUPS:
        group = ""
    actions = [(_("Stock moves"), reverse("inventory:move_list"))]
    if has_perm(request, "inventory.valuation"):
        actions.append((_("Stock value"), reverse("inventory:valuation")))
    return listing.list_response(
        request, STOCK_LIST, selectors.stock_rows(group=group), extra={"actions": actions}
    )


# --- one product's stock -----------------------------------------------------------------------


@requires("inventory.view")
def product_stock(request: HttpRequest, pk: int) -> HttpResponse:
    product = get_object_or_404(Product.objects.select_related("uom", "category"), pk=pk)
    rounding, unit = product.uom.rounding, product.uom.code
    quants = list(selectors.product_quants(product=product))
    on_hand = stock.on_hand(product=product)
    available = stock.available(product=product)
    moves = selectors.product_open_moves(product=product)
    forecast = on_hand + moves.incoming_qty - moves.outgoing_qty

    def open_rows(items: list[Move]) -> list[dict[str, Any]]:
        return [
            {
                "move": m,
                "quantity": Qty(m.quantity, m.uom.rounding, unit=m.uom.code),
                "badge": _move_badge(m),
                "picking_url": _picking_url(m.picking_id),
            }
            for m in items
        ]

    query = urlencode({"product": product.sku})
    links = [(_("Moves history"), reverse("inventory:move_list") + "?" + query)]
    if product.tracking != Product.Tracking.NONE:
        links.append((_("Lots and serial numbers"), reverse("inventory:lot_list") + "?" + query))
    if has_perm(request, "product.view"):
        links.append((_("Product record"), reverse("product:product_detail", args=[product.pk])))
    value = None
    if has_perm(request, "inventory.valuation"):
        result = valuation.stock_value(company=request.company, as_of=_today(), product=product)
        value = Amount(result.total_value, request.company.base_currency_id)
    context = {
        "title": _("Stock of %(product)s") % {"product": product},
        "product": product,
        "unit": unit,
        "links": links,
        "quants": [
            {
                "quant": q,
                "on_hand": Qty(q.quantity, rounding),
                "reserved": Qty(q.reserved, rounding),
                "available": Qty(q.available, rounding),
                "stock_url": reverse("inventory:stock_list")
                + "?"
                + urlencode({"location": q.location_id, "product": product.sku}),
            }
            for q in quants
        ],
        "totals": {
            "on_hand": Qty(on_hand, rounding),
            "reserved": Qty(on_hand - available, rounding),
            "available": Qty(available, rounding),
            "incoming": Qty(moves.incoming_qty, rounding),
            "outgoing": Qty(moves.outgoing_qty, rounding),
            "forecast": Qty(forecast, rounding),
        },
        "incoming": open_rows(moves.incoming),
        "outgoing": open_rows(moves.outgoing),
        "internal": open_rows(moves.internal),
        "value": value,
    }
    return render(request, "inventory/stock_product.html", context)


# --- moves -------------------------------------------------------------------------------------


def _move_reference(move: Move) -> Any:
    if move.picking_id is None:
        return None
    return _link(_picking_url(move.picking_id), str(move.picking))


def _move_product(move: Move) -> Any:
    return _link(
        reverse("inventory:product_stock", args=[move.product_id]),
        _product_label(move.product.sku, move.product.name, move.product.name_i18n),
    )


def _move_lot(move: Move) -> Any:
    if move.lot_id is None:
        return None
    return _link(reverse("inventory:lot_detail", args=[move.lot_id]), move.lot.name)


MOVE_LIST = ListScreen(
    key="inventory-moves",
    title=gettext_lazy("Stock moves"),
    columns=[
        Column("date", gettext_lazy("Date"), accessor="day", order_by="day", link=True),
        Column(
            "reference",
            gettext_lazy("Reference"),
            accessor=_move_reference,
            order_by="picking__number",
        ),
        Column("product", gettext_lazy("Product"), accessor=_move_product, order_by="product__sku"),
        Column(
            "lot", gettext_lazy("Lot or serial number"), accessor=_move_lot, order_by="lot__name"
        ),
        Column(
            "from",
            gettext_lazy("From"),
            accessor="from_location__full_name",
            order_by="from_location__full_name",
        ),
        Column(
            "to",
            gettext_lazy("To"),
            accessor="to_location__full_name",
            order_by="to_location__full_name",
        ),
        Column(
            "quantity",
            gettext_lazy("Quantity"),
            accessor=lambda m: Qty(m.quantity, m.uom.rounding),
            order_by="quantity_base",
        ),
        Column("unit", gettext_lazy("Unit"), accessor="uom__code"),
        Column(
            "quantity_base",
            gettext_lazy("Quantity in stock unit"),
            accessor=lambda m: Qty(
                m.quantity_base, m.product.uom.rounding, unit=m.product.uom.code
            ),
            order_by="quantity_base",
            default=False,
        ),
        Column("state", gettext_lazy("State"), accessor=_move_badge, order_by="state"),
        Column("origin", gettext_lazy("Source document"), order_by="origin"),
        Column("done_at", gettext_lazy("Done at"), order_by="done_at", default=False),
    ],
    filters=[
        ProductText("product", gettext_lazy("Product"), "product_id__in", kind="text"),
        MoveLocation("location", gettext_lazy("Location"), "pk__in", choices=_all_location_choices),
        Filter("lot", gettext_lazy("Lot or serial number"), "lot__name__icontains", kind="text"),
        Filter("state", gettext_lazy("State"), "state", choices=_move_state_choices),
        Filter("date_from", gettext_lazy("From"), "day__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "day__lte", kind="date"),
        Filter("picking", gettext_lazy("Picking"), "picking__number__icontains", kind="text"),
    ],
    default_sort="-date",
    page_size=50,
    detail_url=lambda m: reverse("inventory:move_detail", args=[m.pk]),
)


def _moves() -> QuerySet[Move]:
    return Move.objects.select_related(
        "product__uom", "uom", "lot", "from_location", "to_location", "picking"
    ).annotate(day=Coalesce("effective_date", "planned_date"))


@requires("inventory.view")
def move_list(request: HttpRequest) -> HttpResponse:
    actions = [(_("Stock on hand"), reverse("inventory:stock_list"))]
    return listing.list_response(request, MOVE_LIST, _moves(), extra={"actions": actions})


def _move_row(move: Move) -> dict[str, Any]:
    return {
        "move": move,
        "url": reverse("inventory:move_detail", args=[move.pk]),
        "quantity": Qty(move.quantity, move.uom.rounding, unit=move.uom.code),
        "badge": _move_badge(move),
        "picking_url": _picking_url(move.picking_id),
    }


@requires("inventory.view")
def move_detail(request: HttpRequest, pk: int) -> HttpResponse:
    move = get_object_or_404(
        _moves().select_related(
            "picking__party", "previous", "created_by", "done_by", "product__category"
        ),
        pk=pk,
    )
    related = ("uom", "lot", "from_location", "to_location", "picking")
    reservations = [
        {"reservation": r, "quantity": Qty(r.quantity, move.product.uom.rounding)}
        for r in move.reservations.select_related("quant__location", "quant__lot").order_by("pk")
    ]
    previous = []
    if move.previous_id:
        previous = [_move_row(Move.objects.select_related(*related).get(pk=move.previous_id))]
    following = [_move_row(m) for m in Move.objects.filter(previous=move).select_related(*related)]
    consumed = [_move_row(m) for m in move.consumed.select_related(*related).order_by("pk")]
    produced = [_move_row(m) for m in move.produced.select_related(*related).order_by("pk")]
    base = request.company.base_currency_id
    layers = None
    if has_perm(request, "inventory.valuation"):
        can_see_entries = has_perm(request, "finance.view")
        layers = [
            {
                "layer": layer,
                "quantity": Qty(layer.quantity, move.product.uom.rounding),
                "unit_cost": _unit_cost(layer.unit_cost, base),
                "value": Amount(layer.value, base),
                "entry_url": reverse("finance:entry_detail", args=[layer.entry_id])
                if layer.entry_id and can_see_entries
                else None,
            }
            for layer in ValuationLayer.objects.filter(move=move)
            .select_related("entry")
            .order_by("date", "pk")
        ]
    quantity_base = Qty(move.quantity_base, move.product.uom.rounding, unit=move.product.uom.code)
    return record_response(
        request,
        obj=move,
        title=_("Stock move %(id)s · %(product)s") % {"id": move.pk, "product": move.product.sku},
        fields=[],
        template="inventory/stock_move_detail.html",
        extra={
            "move": move,
            "badge": _move_badge(move),
            "quantity": Qty(move.quantity, move.uom.rounding, unit=move.uom.code),
            "quantity_base": quantity_base,
            "same_unit": move.uom_id == move.product.uom_id,
            "picking_url": _picking_url(move.picking_id),
            "reservations": reservations,
            "previous": previous,
            "following": following,
            "consumed": consumed,
            "produced": produced,
            "layers": layers,
            "unit_cost": _unit_cost(move.unit_cost, base) if layers is not None else None,
            "currency": base,
            "layers_total": Amount(sum((row["layer"].value for row in layers), ZERO), base)
            if layers
            else None,
        },
    )


# --- lots ----------------------------------------------------------------------------------------


def _lot_product(lot: Lot) -> Any:
    return _link(
        reverse("inventory:product_stock", args=[lot.product_id]),
        _product_label(lot.product.sku, lot.product.name, lot.product.name_i18n),
    )


LOT_LIST = ListScreen(
    key="inventory-lots",
    title=gettext_lazy("Lots and serial numbers"),
    columns=[
        Column("name", gettext_lazy("Lot or serial number"), order_by="name", link=True),
        Column("product", gettext_lazy("Product"), accessor=_lot_product, order_by="product__sku"),
        Column("supplier_lot", gettext_lazy("Supplier's lot"), order_by="supplier_lot"),
        Column("expiry_date", gettext_lazy("Expiry date"), order_by="expiry_date"),
        Column(
            "status",
            gettext_lazy("Status"),
            accessor=lambda lot: _expiry_badge(lot.expiry_date, _today()),
        ),
        Column(
            "on_hand",
            gettext_lazy("On hand"),
            accessor=lambda lot: Qty(lot.on_hand, lot.product.uom.rounding),
            order_by="on_hand",
        ),
        Column("unit", gettext_lazy("Unit"), accessor="product__uom__code"),
        Column("created_at", gettext_lazy("Created"), order_by="created_at", default=False),
    ],
    search_fields=["name", "supplier_lot"],
    filters=[
        ProductText("product", gettext_lazy("Product"), "product_id__in", kind="text"),
        LotExpiry("expiry", gettext_lazy("Expiry"), "pk__in", choices=_expiry_choices),
        Filter("expires_before", gettext_lazy("Expires by"), "expiry_date__lte", kind="date"),
        Flag("in_stock", gettext_lazy("In stock"), "on_hand__gt", choices=_yes, value=ZERO),
    ],
    default_sort="name",
    page_size=50,
    detail_url=lambda lot: reverse("inventory:lot_detail", args=[lot.pk]),
)


@requires("inventory.view")
def lot_list(request: HttpRequest) -> HttpResponse:
    return listing.list_response(request, LOT_LIST, selectors.lots_with_stock())


@dataclass(frozen=True)
class TraceRow:
    """A step of a trace as a line of the tree: `level` is its production depth, `party` the
    supplier it came from or the customer it went to (None for internal steps)."""

    step: TraceStep
    level: int
    url: str
    product: str
    lot_url: str | None
    picking_url: str | None
    quantity: Display
    role: str  # "supplier", "customer", "production" or ""

    @property
    def indent(self) -> str:
        return f"{Decimal('0.5') + Decimal('1.5') * self.level}rem"


def _trace_rows(trace: Trace) -> list[TraceRow]:
    """The trace's steps as an indented tree: each step followed by the steps reached from it
    (its production links and the moves of the lots made of it or going into it)."""
    children: dict[int | None, list[TraceStep]] = defaultdict(list)
    on_trace = {step.move.pk for step in trace.steps}
    for step in trace.steps:
        parent = step.parent.pk if step.parent is not None else None
        children[parent if parent in on_trace and parent != step.move.pk else None].append(step)
    rows: list[TraceRow] = []
    seen: set[int] = set()

    def visit(step: TraceStep) -> None:
        if step.move.pk in seen:
            return
        seen.add(step.move.pk)
        move = step.move
        if step.from_location.usage == Usage.SUPPLIER:
            role = "supplier"
        elif step.to_location.usage == Usage.CUSTOMER:
            role = "customer"
        elif Usage.PRODUCTION in (step.from_location.usage, step.to_location.usage):
            role = "production"
        else:
            role = ""
        rows.append(
            TraceRow(
                step=step,
                level=step.depth,
                url=reverse("inventory:move_detail", args=[move.pk]),
                product=_product_label(step.product.sku, step.product.name, step.product.name_i18n),
                lot_url=reverse("inventory:lot_detail", args=[step.lot.pk]) if step.lot else None,
                picking_url=_picking_url(move.picking_id),
                quantity=Qty(move.quantity, move.uom.rounding, unit=move.uom.code),
                role=role,
            )
        )
        for child in children.get(move.pk, []):
            visit(child)

    for root in children[None]:
        visit(root)
    for step in trace.steps:  # whatever a cycle kept from the roots
        visit(step)
    return rows


@requires("inventory.view")
def lot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    lot = get_object_or_404(Lot.objects.select_related("product__uom"), pk=pk)
    rounding = lot.product.uom.rounding
    quants = list(
        Quant.objects.filter(lot=lot, location__usage__in=selectors.STOCK_USAGES)
        .exclude(quantity=0, reserved=0)
        .select_related("location")
        .order_by("location__full_name")
    )
    upstream = trace_upstream(lot=lot)
    downstream = trace_downstream(lot=lot)
    for trace in (upstream, downstream):  # the units the quantities are shown in
        units = UnitOfMeasure.objects.in_bulk({s.move.uom_id for s in trace.steps})
        for step in trace.steps:
            step.move.uom = units[step.move.uom_id]
    on_hand = sum((q.quantity for q in quants), ZERO)
    up_rows, down_rows = _trace_rows(upstream), _trace_rows(downstream)
    return record_response(
        request,
        obj=lot,
        title=_("Lot %(lot)s · %(product)s") % {"lot": lot.name, "product": lot.product.sku},
        fields=[],
        template="inventory/stock_lot_detail.html",
        extra={
            "lot": lot,
            "product_label": _product_label(
                lot.product.sku, lot.product.name, lot.product.name_i18n
            ),
            "expiry": _expiry_badge(lot.expiry_date, _today()),
            "on_hand": Qty(on_hand, rounding, unit=lot.product.uom.code),
            "quants": [
                {
                    "quant": q,
                    "on_hand": Qty(q.quantity, rounding),
                    "reserved": Qty(q.reserved, rounding),
                    "available": Qty(q.available, rounding),
                }
                for q in quants
            ],
            "moves_url": reverse("inventory:move_list") + "?" + urlencode({"lot": lot.name}),
            "upstream": up_rows,
            "downstream": down_rows,
            "receipts": [r for r in up_rows if r.role == "supplier"],
            "deliveries": [r for r in down_rows if r.role == "customer"],
            "supplier_lots": upstream.supplier_lots,
            "can_see_parties": has_perm(request, "party.view"),
        },
    )


# --- stock value ---------------------------------------------------------------------------------


def _unit_cost(value: Decimal | None, currency: str) -> Display:
    """A unit cost with at least the currency's decimals and at most six, right-aligned."""
    if value is None:
        return Display("", "", None)
    places = minor_units(currency)
    exact = Decimal(value).normalize()
    places = min(6, max(places, -int(exact.as_tuple().exponent)))
    rounded = Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{rounded:,.{places}f}"
    html = format_html('<span class="d-block text-end text-nowrap amount">{}</span>', text)
    return Display(html, text, rounded)


VALUATION_GROUPS = {
    "product": gettext_lazy("Product"),
    "category": gettext_lazy("Category"),
    "location": gettext_lazy("Location"),
}


@dataclass(frozen=True)
class ValueLine:
    """A row of the stock value screen and its export."""

    product: Product
    group: str
    quantity: Display
    unit: str
    unit_cost: Display
    value: Display
    url: str


def _value_export_screen(group: str) -> ListScreen:
    columns = [
        Column("sku", gettext_lazy("SKU"), accessor="product__sku"),
        Column("name", gettext_lazy("Product"), accessor="product__name"),
    ]
    if group != "product":
        columns.append(Column("group", VALUATION_GROUPS[group], accessor="group"))
    columns += [
        Column("quantity", gettext_lazy("Quantity"), accessor="quantity"),
        Column("unit", gettext_lazy("Unit"), accessor="unit"),
        Column("unit_cost", gettext_lazy("Unit cost"), accessor="unit_cost"),
        Column("value", gettext_lazy("Value"), accessor="value"),
    ]
    return ListScreen(
        key="inventory-stock-value", title=gettext_lazy("Stock value"), columns=columns
    )


@requires("inventory.valuation")
def stock_valuation(request: HttpRequest) -> HttpResponse:
    company = request.company
    base = company.base_currency_id
    today = _today()
    as_of = parse_date(request.GET.get("as_of"), today) or today
    group = request.GET.get("group", "product")
    if group not in VALUATION_GROUPS:
        group = "product"
    result = valuation.stock_value(company=company, as_of=as_of, by_location=group == "location")
    units = UnitOfMeasure.objects.in_bulk({row.product.uom_id for row in result})
    categories: dict[int, Category] = {}
    if group == "category":
        categories = Category.objects.in_bulk({row.product.category_id for row in result} - {None})
    lines: list[ValueLine] = []
    for row in result:
        uom = units[row.product.uom_id]
        if group == "category":
            label = str(categories[row.product.category_id]) if row.product.category_id else ""
        elif group == "location":
            label = row.location.full_name if row.location is not None else ""
        else:
            label = ""
        lines.append(
            ValueLine(
                product=row.product,
                group=label,
                quantity=Qty(row.quantity, uom.rounding),
                unit=uom.code,
                unit_cost=_unit_cost(row.unit_cost, base),
                value=Amount(row.value, base),
                url=reverse("inventory:product_stock", args=[row.product.pk]),
            )
        )
    lines.sort(key=lambda line: (line.group == "", line.group, line.product.sku))
    fmt = request.GET.get("export")
    if fmt in ("csv", "xlsx"):
        screen = _value_export_screen(group)
        state = ListState("", {}, "", 1, screen.columns, [])
        response = listing.export(screen, lines, state, fmt)  # type: ignore[arg-type]
        filename = f"stock-value-{as_of.isoformat()}.{fmt}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response
    sections: list[dict[str, Any]] = []
    for line in lines:
        if not sections or sections[-1]["label"] != line.group:
            sections.append({"label": line.group, "lines": [], "total": ZERO})
        sections[-1]["lines"].append(line)
        sections[-1]["total"] += line.value.export_value or ZERO
    for section in sections:
        section["total"] = Amount(section["total"], base)
    books = selectors.stock_account_balances(company=company, as_of=as_of)
    ledger = None
    if books is not None:
        can_drill = has_perm(request, "finance.view")
        difference = result.total_value - books.total
        ledger = {
            "accounts": [
                {
                    "account": account,
                    "balance": Amount(account.balance, base),
                    "url": reverse("finance:general_ledger")
                    + "?"
                    + urlencode(
                        {
                            "account": account.account_id,
                            "preset": "custom",
                            "start": as_of.replace(month=1, day=1).isoformat(),
                            "end": as_of.isoformat(),
                        }
                    )
                    if can_drill
                    else None,
                }
                for account in books.accounts
            ],
            "total": Amount(books.total, base),
            "difference": Amount(difference, base),
            "agree": not Amount(difference, base).export_value,
        }
    query = request.GET.copy()
    query.pop("export", None)
    exports = []
    for code, label in (("csv", "CSV"), ("xlsx", "Excel (XLSX)")):
        query["export"] = code
        exports.append((label, "?" + query.urlencode()))
    context = {
        "title": _("Stock value"),
        "as_of": as_of,
        "group": group,
        "groups": list(VALUATION_GROUPS.items()),
        "sections": sections,
        "grouped": group != "product",
        "group_label": VALUATION_GROUPS[group],
        "count": len(lines),
        "total": Amount(result.total_value, base),
        "currency": base,
        "ledger": ledger,
        "exports": exports,
    }
    return render(request, "inventory/stock_valuation.html", context)


urlpatterns = [
    path("stock/", stock_list, name="stock_list"),
    path("stock/product/<int:pk>/", product_stock, name="product_stock"),
    path("moves/", move_list, name="move_list"),
    path("moves/<int:pk>/", move_detail, name="move_detail"),
    path("lots/", lot_list, name="lot_list"),
    path("lots/<int:pk>/", lot_detail, name="lot_detail"),
    path("valuation/", stock_valuation, name="valuation"),
]
