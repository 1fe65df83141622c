"""Setting inventory up: warehouses (their location tree and routes in words), locations (the
tree with filters and export) and, per product category, the costing method and the accounts
stock is valued on.

Anyone with `inventory.view` sees these screens; changes need `inventory.configure` and go
through `warehouses` (warehouse_create/_update, location_create/_update) and
`valuation.valuation_setup`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from xietong.core.permissions import has_perm, requires
from xietong.core.ui import listing
from xietong.core.ui.listing import Column, Filter, ListScreen
from xietong.core.ui.records import edit_response, record_response
from xietong.inventory import valuation
from xietong.inventory.forms_setup import (
    VALUATION_ACCOUNTS,
    CategoryValuationForm,
    LocationCreateForm,
    LocationEditForm,
    WarehouseCreateForm,
    WarehouseEditForm,
)
from xietong.inventory.models import CategoryValuation, Location, Warehouse
from xietong.inventory.pickings import DELIVERY_ROUTES, RECEIPT_ROUTES
from xietong.inventory.warehouses import (
    location_create,
    location_update,
    warehouse_create,
    warehouse_update,
)
from xietong.product.models import Category

VALUATION_RELATED = (*VALUATION_ACCOUNTS, "journal", "category")


class Cell(SafeString):
    """A table cell's HTML that exports as plain text."""

    export_value: str

    def __new__(cls, html: str, text: str) -> Cell:
        obj = super().__new__(cls, html)
        obj.export_value = text
        return obj


def _indented(text: str, depth: int) -> Cell:
    return Cell(
        format_html('<span class="d-inline-block" style="padding-left: {}rem">{}</span>',
                    depth * 1.25, text),
        text,
    )  # fmt: skip


def _yes_no(request: HttpRequest) -> list[tuple[str, str]]:
    return [("1", _("Yes")), ("0", _("No"))]


def _list(
    request: HttpRequest, screen: ListScreen, queryset: Any, actions: list[tuple[Any, str]],
    template: str = "core/list.html", extra: dict[str, Any] | None = None,
) -> HttpResponse:  # fmt: skip
    return listing.list_response(
        request, screen, queryset, template=template,
        extra={"actions": actions, **(extra or {})},
    )  # fmt: skip


# --- warehouses -------------------------------------------------------------------------------

WAREHOUSE_LIST = ListScreen(
    key="inventory-warehouses",
    title=gettext_lazy("Warehouses"),
    columns=[
        Column("code", gettext_lazy("Code"), order_by="code", link=True),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column(
            "reception",
            gettext_lazy("Reception"),
            accessor="get_reception_steps_display",
            order_by="reception_steps",
        ),
        Column(
            "delivery",
            gettext_lazy("Delivery"),
            accessor="get_delivery_steps_display",
            order_by="delivery_steps",
        ),
        Column("stock", gettext_lazy("Stock location"), accessor="stock_location__full_name"),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["code", "name"],
    filters=[Filter("active", gettext_lazy("Active"), "active", choices=_yes_no)],
    default_sort="code",
    detail_url=lambda w: reverse("inventory:warehouse_detail", args=[w.pk]),
)


@requires("inventory.view")
def warehouse_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "inventory.configure"):
        actions.append((_("New warehouse"), reverse("inventory:warehouse_create")))
    return _list(
        request, WAREHOUSE_LIST, Warehouse.objects.select_related("stock_location"), actions
    )


def route_descriptions(warehouse: Warehouse) -> list[str]:
    """The warehouse's reception and delivery routes in words, e.g. "Receipt in 2 steps:
    Suppliers → Input → Stock"."""
    names = {"supplier": _("Suppliers"), "customer": _("Customers")}

    def chain(route: tuple[tuple[str, str, str, str], ...]) -> str:
        keys = [route[0][2], *(step[3] for step in route)]
        return " → ".join(
            str(names.get(key) or getattr(warehouse, f"{key}_location").name) for key in keys
        )

    receipt = RECEIPT_ROUTES[warehouse.reception_steps]
    delivery = DELIVERY_ROUTES[warehouse.delivery_steps]
    return [
        ngettext(
            "Receipt in %(count)d step: %(route)s",
            "Receipt in %(count)d steps: %(route)s",
            len(receipt),
        )
        % {"count": len(receipt), "route": chain(receipt)},
        ngettext(
            "Delivery in %(count)d step: %(route)s",
            "Delivery in %(count)d steps: %(route)s",
            len(delivery),
        )
        % {"count": len(delivery), "route": chain(delivery)},
    ]


@requires("inventory.view")
def warehouse_detail(request: HttpRequest, pk: int) -> HttpResponse:
    warehouse = get_object_or_404(
        Warehouse.objects.select_related(
            "view_location", "stock_location", "input_location", "quality_location",
            "pack_location", "output_location",
        ),
        pk=pk,
    )  # fmt: skip
    view = warehouse.view_location
    base_depth = view.full_name.count("/")
    configure = has_perm(request, "inventory.configure")
    tree = [
        {
            "location": location,
            "pad": f"{(location.full_name.count('/') - base_depth) * 1.25:g}",
            "url": reverse("inventory:location_edit", args=[location.pk]) if configure else None,
        }
        for location in Location.objects.filter(
            Q(pk=view.pk) | Q(full_name__startswith=f"{view.full_name}/")
        ).order_by("full_name", "pk")
    ]
    actions = []
    if configure:
        actions = [
            {"label": _("Edit"), "url": reverse("inventory:warehouse_edit", args=[pk])},
            {
                "label": _("New location"),
                "url": reverse("inventory:location_create")
                + f"?parent={warehouse.stock_location_id}",
                "style": "outline-primary",
            },
        ]
    return record_response(
        request,
        obj=warehouse,
        title=str(warehouse),
        fields=[
            (_("Code"), warehouse.code),
            (_("Name"), warehouse.name),
            (_("Reception"), warehouse.get_reception_steps_display()),
            (_("Delivery"), warehouse.get_delivery_steps_display()),
            (_("Stock location"), warehouse.stock_location.full_name),
            (_("Active"), warehouse.active),
        ],
        actions=actions,
        template="inventory/setup_warehouse_detail.html",
        extra={"routes": route_descriptions(warehouse), "tree": tree},
    )


@requires("inventory.configure")
def warehouse_create_view(request: HttpRequest) -> HttpResponse:
    return edit_response(
        request,
        form=WarehouseCreateForm(
            request.POST or None,
            initial={
                "reception_steps": Warehouse.ReceptionSteps.ONE,
                "delivery_steps": Warehouse.DeliverySteps.ONE,
            },
        ),
        save=lambda data: warehouse_create(company=request.company, actor=request.user, **data),
        success=_("Warehouse created with its locations."),
        done_url=lambda warehouse: reverse("inventory:warehouse_detail", args=[warehouse.pk]),
        title=_("New warehouse"),
        cancel_url=reverse("inventory:warehouse_list"),
    )


@requires("inventory.configure")
def warehouse_edit(request: HttpRequest, pk: int) -> HttpResponse:
    warehouse = get_object_or_404(Warehouse.objects, pk=pk)
    initial = {
        "name": warehouse.name,
        "reception_steps": warehouse.reception_steps,
        "delivery_steps": warehouse.delivery_steps,
        "active": warehouse.active,
    }
    return edit_response(
        request,
        form=WarehouseEditForm(request.POST or None, initial=initial),
        save=lambda data: warehouse_update(warehouse=warehouse, actor=request.user, **data),
        success=_("Warehouse saved."),
        done_url=reverse("inventory:warehouse_detail", args=[pk]),
        title=_("Edit warehouse %(warehouse)s") % {"warehouse": warehouse},
        cancel_url=reverse("inventory:warehouse_detail", args=[pk]),
    )


# --- locations --------------------------------------------------------------------------------


def _usage_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(value), str(label)) for value, label in Location.Usage.choices]


def _warehouse_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return [(str(w.pk), str(w)) for w in Warehouse.objects.order_by("code")]


LOCATION_LIST = ListScreen(
    key="inventory-locations",
    title=gettext_lazy("Locations"),
    columns=[
        Column(
            "full_name",
            gettext_lazy("Location"),
            accessor=lambda loc: _indented(loc.full_name, loc.full_name.count("/")),
            order_by="full_name",
            link=True,
        ),
        Column("name", gettext_lazy("Name"), order_by="name", default=False),
        Column("usage", gettext_lazy("Usage"), accessor="get_usage_display", order_by="usage"),
        Column(
            "warehouse",
            gettext_lazy("Warehouse"),
            accessor="warehouse__code",
            order_by="warehouse__code",
        ),  # fmt: skip
        Column("barcode", gettext_lazy("Barcode"), order_by="barcode"),
        Column(
            "allow_negative",
            gettext_lazy("Negative stock allowed"),
            order_by="allow_negative",
            default=False,
        ),  # fmt: skip
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["full_name", "barcode"],
    filters=[
        Filter("usage", gettext_lazy("Usage"), "usage", choices=_usage_choices),
        Filter("warehouse", gettext_lazy("Warehouse"), "warehouse_id", choices=_warehouse_choices),
        Filter("active", gettext_lazy("Active"), "active", choices=_yes_no),
    ],
    default_sort="full_name",
    page_size=100,
    detail_url=lambda loc: reverse("inventory:location_edit", args=[loc.pk]),
)


@requires("inventory.view")
def location_list(request: HttpRequest) -> HttpResponse:
    configure = has_perm(request, "inventory.configure")
    screen = LOCATION_LIST if configure else replace(LOCATION_LIST, detail_url=None)
    actions = [(_("New location"), reverse("inventory:location_create"))] if configure else []
    return _list(request, screen, Location.objects.select_related("warehouse"), actions)


def _after_location(location: Location) -> str:
    if location.warehouse_id:
        return reverse("inventory:warehouse_detail", args=[location.warehouse_id])
    return reverse("inventory:location_list")


@requires("inventory.configure")
def location_create_view(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {"usage": Location.Usage.INTERNAL}
    parent = request.GET.get("parent", "")
    if parent.isdigit():
        initial["parent"] = int(parent)
    return edit_response(
        request,
        form=LocationCreateForm(request.POST or None, initial=initial),
        save=lambda data: location_create(company=request.company, actor=request.user, **data),
        success=_("Location created."),
        done_url=_after_location,
        title=_("New location"),
        cancel_url=reverse("inventory:location_list"),
    )


@requires("inventory.configure")
def location_edit(request: HttpRequest, pk: int) -> HttpResponse:
    location = get_object_or_404(Location.objects, pk=pk)
    initial = {
        "name": location.name,
        "barcode": location.barcode,
        "allow_negative": location.allow_negative,
        "active": location.active,
    }
    return edit_response(
        request,
        form=LocationEditForm(request.POST or None, initial=initial),
        save=lambda data: location_update(location=location, actor=request.user, **data),
        success=_("Location saved."),
        done_url=_after_location(location),
        title=_("Edit location %(location)s (%(usage)s)")
        % {"location": location, "usage": location.get_usage_display()},
        cancel_url=reverse("inventory:location_list"),
    )


# --- category valuation -----------------------------------------------------------------------


class ValuationRows:
    """The company's valuation rows and which applies to a category: its own, else the
    nearest ancestor's, else the company default (None: not set up yet)."""

    def __init__(self) -> None:
        self.rows = {
            row.category_id: row
            for row in CategoryValuation.objects.select_related(*VALUATION_RELATED)
        }
        self.parents = dict(Category.objects.values_list("pk", "parent_id"))

    def applying(self, category_id: int | None) -> CategoryValuation | None:
        seen: set[int] = set()
        while category_id is not None and category_id not in seen:
            if category_id in self.rows:
                return self.rows[category_id]
            seen.add(category_id)
            category_id = self.parents.get(category_id)
        return self.rows.get(None)

    def method_text(self, category: Category) -> str:
        row = self.applying(category.pk)
        if row is None:
            return _("Not set up")
        method = row.get_method_display()
        if row.category_id == category.pk:
            return str(method)
        source = row.category if row.category_id else _("company default")
        return _("%(method)s (from %(source)s)") % {"method": method, "source": source}


def _valuation_screen(rows: ValuationRows, configure: bool) -> ListScreen:
    def account(name: str) -> Any:
        return lambda c: getattr(rows.applying(c.pk), name, None)

    return ListScreen(
        key="inventory-category-valuation",
        title=gettext_lazy("Inventory valuation by product category"),
        columns=[
            Column(
                "category", gettext_lazy("Category"), accessor="path", order_by="path", link=True
            ),
            Column("method", gettext_lazy("Costing method"), accessor=rows.method_text),
            Column("own", gettext_lazy("Own setting"), accessor=lambda c: c.pk in rows.rows),
            Column(
                "products",
                gettext_lazy("Products"),
                accessor="product_count",
                order_by="product_count",
            ),
            Column(
                "stock_account", gettext_lazy("Stock account"), accessor=account("stock_account")
            ),
            Column(
                "input_account",
                gettext_lazy("Stock received not invoiced"),
                accessor=account("input_account"),
                default=False,
            ),
            Column(
                "output_account",
                gettext_lazy("Cost of goods sold"),
                accessor=account("output_account"),
            ),
            Column(
                "loss_account",
                gettext_lazy("Inventory gains and losses"),
                accessor=account("loss_account"),
                default=False,
            ),
            Column(
                "production_account",
                gettext_lazy("Work in progress"),
                accessor=account("production_account"),
                default=False,
            ),
            Column(
                "journal", gettext_lazy("Stock journal"), accessor=account("journal"), default=False
            ),
        ],  # fmt: skip
        search_fields=["path"],
        default_sort="category",
        page_size=100,
        detail_url=(
            (lambda c: reverse("inventory:category_valuation_edit", args=[c.pk]))
            if configure
            else None
        ),
    )


@requires("inventory.view")
def category_valuation_list(request: HttpRequest) -> HttpResponse:
    rows = ValuationRows()
    configure = has_perm(request, "inventory.configure")
    default = rows.rows.get(None)
    default_url = reverse("inventory:category_valuation_default") if configure else None
    actions = [(_("Edit the company default"), default_url)] if default_url else []
    return _list(
        request,
        _valuation_screen(rows, configure),
        Category.objects.annotate(product_count=Count("products")),
        actions,
        template="inventory/setup_category_valuation_list.html",
        extra={
            "default": default,
            "default_accounts": [
                (CategoryValuation._meta.get_field(name).verbose_name, getattr(default, name))
                for name in (*VALUATION_ACCOUNTS, "journal")
            ]
            if default
            else [],
            "default_url": default_url,
        },
    )


def _valuation_page(request: HttpRequest, category: Category | None) -> HttpResponse:
    rows = ValuationRows()
    current = rows.applying(category.pk if category else None)
    initial: dict[str, Any] = {"method": CategoryValuation.Method.AVERAGE}
    if current is not None:
        initial = {
            "method": current.method,
            **{name: getattr(current, f"{name}_id") for name in (*VALUATION_ACCOUNTS, "journal")},
        }
    if category is None:
        title = _("Inventory valuation: company default")
    else:
        title = _("Inventory valuation of %(category)s") % {"category": category}
    return edit_response(
        request,
        form=CategoryValuationForm(request.POST or None, initial=initial),
        save=lambda data: valuation.valuation_setup(
            company=request.company, actor=request.user, category=category, **data
        ),
        success=_("Inventory valuation saved."),
        done_url=reverse("inventory:category_valuation_list"),
        title=title,
        cancel_url=reverse("inventory:category_valuation_list"),
    )


@requires("inventory.configure")
def category_valuation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """How a product category's products are valued (its own row, created on save; the
    category inherits its parent's or the company default until then)."""
    return _valuation_page(request, get_object_or_404(Category.objects, pk=pk))


@requires("inventory.configure")
def category_valuation_default(request: HttpRequest) -> HttpResponse:
    """The company default: products without a category, and categories without a row of
    their own or of an ancestor."""
    return _valuation_page(request, None)


urlpatterns = [
    path("warehouses/", warehouse_list, name="warehouse_list"),
    path("warehouses/new/", warehouse_create_view, name="warehouse_create"),
    path("warehouses/<int:pk>/", warehouse_detail, name="warehouse_detail"),
    path("warehouses/<int:pk>/edit/", warehouse_edit, name="warehouse_edit"),
    path("locations/", location_list, name="location_list"),
    path("locations/new/", location_create_view, name="location_create"),
    path("locations/<int:pk>/edit/", location_edit, name="location_edit"),
    path("valuation/categories/", category_valuation_list, name="category_valuation_list"),
    path(
        "valuation/categories/<int:pk>/edit/",
        category_valuation_edit,
        name="category_valuation_edit",
    ),
    path("valuation/default/edit/", category_valuation_default, name="category_valuation_default"),
]
