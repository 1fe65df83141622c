"""Screens of the catalogue and pricing: products (list, record with tabs, forms), variants,
categories, attributes, price lists with their rules, costs and the price check. Each view
parses input, calls one service or selector and renders; its permission is declared on it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Count, Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.imports import import_actions
from xietong.core.models import AuditEntry
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors, edit_response, history_for, record_response
from xietong.product import pricing, selectors, services
from xietong.product.forms import (
    AttributeForm,
    CategoryForm,
    CostForm,
    PriceCheckForm,
    PriceListForm,
    PriceRuleForm,
    ProductForm,
    VariantForm,
    VariantGenerateForm,
)
from xietong.product.models import (
    Attribute,
    AttributeValue,
    Category,
    PriceList,
    PriceRule,
    Product,
    Variant,
)

# --- products -----------------------------------------------------------------------------------


class CategoryFilter(Filter):
    """Filter by a category and everything below it."""

    def parse(self, raw: str) -> Any:
        category = Category.objects.filter(pk=int(raw)).first()
        return selectors.category_descendant_ids(category) if category else []


def _category_choices(request: HttpRequest) -> list[tuple[str, str]]:
    return selectors.category_choices()


PRODUCT_LIST = ListScreen(
    key="products",
    title=gettext_lazy("Products"),
    columns=[
        Column("sku", gettext_lazy("SKU"), order_by="sku", link=True),
        Column("name", gettext_lazy("Name"), accessor="display_name", order_by="name"),
        Column(
            "category",
            gettext_lazy("Category"),
            accessor="category__path",
            order_by="category__path",
        ),
        Column("type", gettext_lazy("Type"), accessor="get_type_display", order_by="type"),
        Column(
            "supply", gettext_lazy("Make or buy"), accessor="get_supply_display", order_by="supply"
        ),
        Column("uom", gettext_lazy("Unit"), accessor="uom__code"),
        Column("list_price", gettext_lazy("List price"), order_by="list_price"),
        Column(
            "standard_cost", gettext_lazy("Standard cost"), order_by="standard_cost", default=False
        ),
        Column(
            "average_cost", gettext_lazy("Average cost"), order_by="average_cost", default=False
        ),
        Column("barcode", gettext_lazy("Barcode"), default=False),
        Column(
            "tracking", gettext_lazy("Tracking"), accessor="get_tracking_display", default=False
        ),
        Column(
            "purchase_lead_days",
            gettext_lazy("Purchase lead time"),
            order_by="purchase_lead_days",
            default=False,
        ),
        Column("safety_stock", gettext_lazy("Safety stock"), default=False),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=selectors.PRODUCT_SEARCH_FIELDS,
    filters=[
        CategoryFilter(
            "category", gettext_lazy("Category"), "category_id__in", choices=_category_choices
        ),
        Filter("type", gettext_lazy("Type"), "type", choices=lambda r: list(Product.Type.choices)),
        Filter(
            "supply",
            gettext_lazy("Make or buy"),
            "supply",
            choices=lambda r: list(Product.Supply.choices),
        ),
        Filter(
            "active",
            gettext_lazy("Active"),
            "active",
            choices=lambda r: [("1", _("Yes")), ("0", _("No"))],
        ),
    ],
    default_sort="sku",
    detail_url=lambda p: reverse("product:product_detail", args=[p.pk]),
)


@requires("product.view")
def product_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "product.change"):
        actions.append((_("New product"), reverse("product:product_create")))
    actions += import_actions(request, "products", "variants")
    return list_response(
        request,
        PRODUCT_LIST,
        Product.objects.select_related("category", "uom"),
        extra={"actions": actions},
    )


def _product_or_404(pk: int) -> Product:
    return get_object_or_404(
        Product.objects.select_related("category", "uom__category", "sales_uom", "purchase_uom"),
        pk=pk,
    )


def _sections_response(
    request: HttpRequest,
    *,
    form: ProductForm,
    save: Any,
    success: str,
    done_url: Any,
    title: str,
    cancel_url: str,
) -> HttpResponse:
    """`edit_response` for the product form, which renders in sections."""
    if request.method == "POST" and form.is_valid():
        try:
            result = save(form.service_fields())
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, success)
            return redirect(done_url(result) if callable(done_url) else done_url)
    context = {"form": form, "title": title, "cancel_url": cancel_url}
    return render(request, "product/product_form.html", context, status=400 if form.errors else 200)


@requires("product.change")
def product_create(request: HttpRequest) -> HttpResponse:
    initial = {"type": Product.Type.STOCKABLE, "supply": Product.Supply.BUY, "active": True}
    return _sections_response(
        request,
        form=ProductForm(request.POST or None, initial=initial),
        save=lambda data: services.product_create(
            company=request.company, actor=request.user, **data
        ),
        success=_("Product created."),
        done_url=lambda product: reverse("product:product_detail", args=[product.pk]),
        title=_("New product"),
        cancel_url=reverse("product:product_list"),
    )


@requires("product.change")
def product_edit(request: HttpRequest, pk: int) -> HttpResponse:
    product = _product_or_404(pk)
    return _sections_response(
        request,
        form=ProductForm(request.POST or None, initial=ProductForm.initial_for(product)),
        save=lambda data: services.product_update(product=product, actor=request.user, **data),
        success=_("Product saved."),
        done_url=reverse("product:product_detail", args=[pk]),
        title=_("Edit %(sku)s") % {"sku": product.sku},
        cancel_url=reverse("product:product_detail", args=[pk]),
    )


@require_POST
@requires("product.change")
def product_archive(request: HttpRequest, pk: int) -> HttpResponse:
    product = _product_or_404(pk)
    services.product_archive(product=product, actor=request.user)
    messages.success(request, _("Product archived."))
    return redirect("product:product_detail", pk=pk)


def _per_unit(amount: Any, currency: str, unit: str) -> str:
    return f"{pricing.format_money(amount, currency)} / {unit}"


def _product_tabs(product: Product, base: str) -> dict[str, list[tuple[Any, Any]]]:
    translations = [
        (_("Name (%(language)s)") % {"language": label}, product.name_i18n.get(code, ""))
        for code, label in (
            ("en", _("English")),
            ("zh-hans", _("Simplified Chinese")),
            ("zh-hant", _("Traditional Chinese")),
        )
    ]
    return {
        "general": [
            (_("SKU"), product.sku),
            (_("Name"), product.name),
            *translations,
            (_("Description"), product.description),
            (_("Category"), product.category.path if product.category else None),
            (_("Type"), product.get_type_display()),
            (_("Make or buy"), product.get_supply_display()),
            (_("Tracking"), product.get_tracking_display()),
            (_("List price"), _per_unit(product.list_price, base, product.uom.code)),
            (_("Standard cost"), _per_unit(product.standard_cost, base, product.uom.code)),
            (
                _("Invoicing policy"),
                product.get_invoice_policy_display()
                if product.invoice_policy
                else _("The customer's or the company's"),
            ),
            (_("Configurable"), product.is_configurable),
            (_("Active"), product.active),
        ],
        "units": [
            (_("Stock unit"), product.uom.code),
            (_("Purchase unit"), (product.purchase_uom or product.uom).code),
            (_("Sales unit"), (product.sales_uom or product.uom).code),
            (_("Barcode"), product.barcode),
            (_("Weight (kg)"), product.weight_kg),
            (_("Volume (m³)"), product.volume_m3),
        ],
        "planning": [
            (_("Purchase lead time (days)"), product.purchase_lead_days),
            (_("Manufacturing lead time (days)"), product.manufacturing_lead_days),
            (_("Safety stock"), product.safety_stock),
            (_("Minimum stock"), product.min_qty),
            (_("Maximum stock"), product.max_qty),
            (_("Lot sizing"), product.get_lot_sizing_display()),
            (_("Lot size"), product.lot_size),
            (_("Order multiple"), product.lot_multiple),
            (_("Low-level code"), product.low_level_code),
        ],
    }


def _unit_conversions(product: Product) -> list[str]:
    lines = []
    for uom in (product.purchase_uom, product.sales_uom):
        if uom is not None and uom.pk != product.uom_id:
            factor = selectors.product_convert(
                product=product, quantity=1, from_uom=uom, to_uom=product.uom, round_result=False
            )
            lines.append(f"1 {uom.code} = {factor.normalize():f} {product.uom.code}")
    return list(dict.fromkeys(lines))


@requires("product.view")
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = _product_or_404(pk)
    actions = []
    if has_perm(request, "product.change"):
        actions.append({"label": _("Edit"), "url": reverse("product:product_edit", args=[pk])})
        actions.append(
            {
                "label": _("Generate variants"),
                "url": reverse("product:variant_generate", args=[pk]),
                "style": "outline-primary",
            }
        )
    if has_perm(request, "product.cost"):
        actions.append(
            {
                "label": _("Set standard cost"),
                "url": reverse("product:product_cost", args=[pk]),
                "style": "outline-primary",
            }
        )
    if has_perm(request, "product.change") and product.active:
        actions.append(
            {
                "label": _("Archive"),
                "url": reverse("product:product_archive", args=[pk]),
                "post": True,
            }
        )
    return record_response(
        request,
        obj=product,
        title=f"{product.sku} · {product.display_name}",
        fields=[],
        actions=actions,
        template="product/product_detail.html",
        extra={
            "product": product,
            "tabs": _product_tabs(product, request.company.base_currency_id),
            "conversions": _unit_conversions(product),
            "variants": selectors.product_variants(product=product),
            "rules": [
                {"rule": rule, "formula": pricing.rule_formula(rule, rule.price_list.currency_id)}
                for rule in selectors.product_price_rules(product=product)
            ],
            "costs": selectors.product_cost_history(product=product),
            "price_form": PriceCheckForm(product=product),
            "can_change": has_perm(request, "product.change"),
            "can_price": has_perm(request, "product.price"),
        },
    )


@requires("product.cost")
def product_cost(request: HttpRequest, pk: int) -> HttpResponse:
    product = _product_or_404(pk)
    return edit_response(
        request,
        form=CostForm(
            request.POST or None, initial={"cost": f"{product.standard_cost.normalize():f}"}
        ),
        save=lambda data: services.product_cost_set(
            product=product,
            actor=request.user,
            cost=data["cost"],
            date=data["date"],
            reason=data["reason"],
        ),
        success=_("Standard cost saved."),
        done_url=reverse("product:product_detail", args=[pk]) + "#tab-costs",
        title=_("Standard cost of %(sku)s") % {"sku": product.sku},
        cancel_url=reverse("product:product_detail", args=[pk]),
    )


@requires("product.view")
def product_price_check(request: HttpRequest, pk: int) -> HttpResponse:
    """The price check of the Prices tab: the HTMX fragment, or a page of its own without
    HTMX. Nothing is written."""
    product = _product_or_404(pk)
    form = PriceCheckForm(request.GET if "quantity" in request.GET else None, product=product)
    result = None
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        try:
            result = pricing.price_for(
                product=product,
                party=data["party"],
                variant=data["variant"],
                quantity=data["quantity"],
                date=data["date"],
                price_list=data["price_list"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
    context = {"product": product, "price_form": form, "result": result}
    if request.htmx:
        return render(request, "product/_price_result.html", context)
    return render(request, "product/price_check.html", context)


# --- variants ---------------------------------------------------------------------------------


@requires("product.change")
def variant_generate(request: HttpRequest, pk: int) -> HttpResponse:
    product = _product_or_404(pk)
    attributes = list(
        Attribute.objects.prefetch_related(
            Prefetch("values", queryset=AttributeValue.objects.order_by("pk"))
        ).order_by("pk")
    )
    data = request.POST if request.method == "POST" else None
    form = VariantGenerateForm(data, attributes=attributes)
    if request.method == "POST" and form.is_valid():
        values, extras = form.chosen()
        try:
            created = services.variants_generate(
                product=product, actor=request.user, values=values, price_extras=extras
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("%(count)d variants created.") % {"count": len(created)}
                if created
                else _("Every chosen combination already exists."),
            )
            return redirect(reverse("product:product_detail", args=[pk]) + "#tab-variants")
    return render(
        request,
        "product/variant_generate.html",
        {
            "product": product,
            "form": form,
            "title": _("Generate variants of %(sku)s") % {"sku": product.sku},
        },
        status=400 if form.errors else 200,
    )


def _variant_or_404(pk: int) -> Variant:
    return get_object_or_404(
        Variant.objects.select_related("product").prefetch_related(
            Prefetch("values", queryset=AttributeValue.objects.select_related("attribute"))
        ),
        pk=pk,
    )


@requires("product.view")
def variant_detail(request: HttpRequest, pk: int) -> HttpResponse:
    variant = _variant_or_404(pk)
    actions = []
    if has_perm(request, "product.change"):
        actions.append({"label": _("Edit"), "url": reverse("product:variant_edit", args=[pk])})
        if variant.active:
            actions.append(
                {
                    "label": _("Archive"),
                    "url": reverse("product:variant_archive", args=[pk]),
                    "post": True,
                }
            )
    return record_response(
        request,
        obj=variant,
        title=_("Variant %(sku)s") % {"sku": variant.sku},
        fields=[
            (_("SKU"), variant.sku),
            (_("Product"), variant.product),
            (
                _("Attribute values"),
                ", ".join(f"{v.attribute.name}: {v.name}" for v in variant.values.all()),
            ),
            (_("Price extra"), variant.price_extra),
            (_("Barcode"), variant.barcode),
            (_("Active"), variant.active),
        ],
        actions=actions,
    )


@requires("product.change")
def variant_edit(request: HttpRequest, pk: int) -> HttpResponse:
    variant = _variant_or_404(pk)
    initial = {f: getattr(variant, f) for f in ("sku", "barcode", "active")}
    initial["price_extra"] = f"{variant.price_extra.normalize():f}"
    return edit_response(
        request,
        form=VariantForm(request.POST or None, initial=initial),
        save=lambda data: services.variant_update(variant=variant, actor=request.user, **data),
        success=_("Variant saved."),
        done_url=reverse("product:variant_detail", args=[pk]),
        title=_("Edit variant %(sku)s") % {"sku": variant.sku},
        cancel_url=reverse("product:variant_detail", args=[pk]),
    )


@require_POST
@requires("product.change")
def variant_archive(request: HttpRequest, pk: int) -> HttpResponse:
    variant = _variant_or_404(pk)
    services.variant_archive(variant=variant, actor=request.user)
    messages.success(request, _("Variant archived."))
    return redirect("product:variant_detail", pk=pk)


# --- categories -------------------------------------------------------------------------------

CATEGORY_LIST = ListScreen(
    key="product-categories",
    title=gettext_lazy("Product categories"),
    columns=[
        Column("path", gettext_lazy("Category"), order_by="path", link=True),
        Column("product_count", gettext_lazy("Products"), order_by="product_count"),
        Column("child_count", gettext_lazy("Sub-categories"), order_by="child_count"),
    ],
    search_fields=["path"],
    default_sort="path",
    detail_url=lambda c: reverse("product:category_detail", args=[c.pk]),
)


@requires("product.view")
def category_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "product.change"):
        actions.append((_("New category"), reverse("product:category_create")))
    return list_response(
        request, CATEGORY_LIST, selectors.category_list(), extra={"actions": actions}
    )


@requires("product.view")
def category_detail(request: HttpRequest, pk: int) -> HttpResponse:
    category = get_object_or_404(selectors.category_list(), pk=pk)
    actions = []
    if has_perm(request, "product.change"):
        actions = [
            {"label": _("Edit"), "url": reverse("product:category_edit", args=[pk])},
            {
                "label": _("Delete"),
                "url": reverse("product:category_delete", args=[pk]),
                "post": True,
            },
        ]
    products_url = reverse("product:product_list") + f"?category={pk}"
    return record_response(
        request,
        obj=category,
        title=category.path,
        fields=[
            (_("Name"), category.name),
            (_("Parent category"), category.parent.path if category.parent else None),
            (_("Sub-categories"), category.child_count),
            (_("Products (this category only)"), category.product_count),
        ],
        actions=[
            {"label": _("Products"), "url": products_url, "style": "outline-primary"},
            *actions,
        ],
    )


@requires("product.change")
def category_create(request: HttpRequest) -> HttpResponse:
    return edit_response(
        request,
        form=CategoryForm(request.POST or None),
        save=lambda data: services.category_create(
            company=request.company, actor=request.user, **data
        ),
        success=_("Category created."),
        done_url=lambda category: reverse("product:category_detail", args=[category.pk]),
        title=_("New category"),
        cancel_url=reverse("product:category_list"),
    )


@requires("product.change")
def category_edit(request: HttpRequest, pk: int) -> HttpResponse:
    category = get_object_or_404(Category.objects, pk=pk)
    return edit_response(
        request,
        form=CategoryForm(
            request.POST or None,
            category=category,
            initial={"name": category.name, "parent": category.parent_id},
        ),
        save=lambda data: services.category_update(category=category, actor=request.user, **data),
        success=_("Category saved."),
        done_url=reverse("product:category_detail", args=[pk]),
        title=_("Edit category %(name)s") % {"name": category.path},
        cancel_url=reverse("product:category_detail", args=[pk]),
    )


@require_POST
@requires("product.change")
def category_delete(request: HttpRequest, pk: int) -> HttpResponse:
    category = get_object_or_404(Category.objects, pk=pk)
    try:
        services.category_delete(category=category, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("product:category_detail", pk=pk)
    messages.success(request, _("Category deleted."))
    return redirect("product:category_list")


# --- attributes -------------------------------------------------------------------------------

ATTRIBUTE_LIST = ListScreen(
    key="product-attributes",
    title=gettext_lazy("Attributes"),
    columns=[
        Column("name", gettext_lazy("Attribute"), order_by="name", link=True),
        Column(
            "values",
            gettext_lazy("Values"),
            accessor=lambda a: ", ".join(v.name for v in a.values.all()),
        ),
        Column(
            "value_count", gettext_lazy("Number of values"), order_by="value_count", default=False
        ),
    ],
    search_fields=["name"],
    default_sort="name",
    detail_url=lambda a: reverse("product:attribute_detail", args=[a.pk]),
)


@requires("product.view")
def attribute_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "product.change"):
        actions.append((_("New attribute"), reverse("product:attribute_create")))
    return list_response(
        request, ATTRIBUTE_LIST, selectors.attribute_list(), extra={"actions": actions}
    )


@requires("product.view")
def attribute_detail(request: HttpRequest, pk: int) -> HttpResponse:
    attribute = get_object_or_404(Attribute.objects.prefetch_related("values"), pk=pk)
    actions = []
    if has_perm(request, "product.change"):
        actions = [
            {"label": _("Edit"), "url": reverse("product:attribute_edit", args=[pk])},
            {
                "label": _("Delete"),
                "url": reverse("product:attribute_delete", args=[pk]),
                "post": True,
            },
        ]
    value_history = AuditEntry.objects.filter(
        content_type__app_label="product",
        content_type__model="attributevalue",
        additional_data__attribute_id=pk,
    )
    return record_response(
        request,
        obj=attribute,
        title=attribute.name,
        fields=[(_("Name"), attribute.name)],
        actions=actions,
        template="product/attribute_detail.html",
        extra={
            "values": _values_with_usage(attribute),
            "history": _merged_history(attribute, value_history, AttributeValue),
        },
    )


def _values_with_usage(attribute: Attribute) -> list[dict[str, Any]]:
    return [
        {"value": value, "variants": value.variant_count}
        for value in attribute.values.annotate(variant_count=Count("variants")).order_by("code")
    ]


def _merged_history(
    obj: Any, child_entries: Any, child_model: Any, child_label: Any = None
) -> list[dict[str, Any]]:
    """The record's own history plus its children's (rules of a price list, values of an
    attribute), newest first."""
    own = history_for(obj)
    children = []
    meta = child_model._meta
    for entry in child_entries.select_related("actor").order_by("-timestamp")[:200]:
        changes = []
        for field, values in (entry.changes_dict or {}).items():
            try:
                label = meta.get_field(field).verbose_name
            except FieldDoesNotExist:
                label = field
            old, new = (list(values) + ["", ""])[:2] if isinstance(values, list) else ("", values)
            name = child_label(entry) if child_label else entry.object_repr
            changes.append({"field": f"{name} · {label}", "old": old, "new": new})
        children.append({"entry": entry, "changes": changes})
    return sorted(own + children, key=lambda item: item["entry"].timestamp, reverse=True)


@requires("product.change")
def attribute_create(request: HttpRequest) -> HttpResponse:
    return edit_response(
        request,
        form=AttributeForm(request.POST or None),
        save=lambda data: services.attribute_create(
            company=request.company, actor=request.user, **data
        ),
        success=_("Attribute created."),
        done_url=lambda attribute: reverse("product:attribute_detail", args=[attribute.pk]),
        title=_("New attribute"),
        cancel_url=reverse("product:attribute_list"),
    )


@requires("product.change")
def attribute_edit(request: HttpRequest, pk: int) -> HttpResponse:
    attribute = get_object_or_404(Attribute.objects, pk=pk)
    initial = {"name": attribute.name, "values": AttributeForm.values_text(attribute)}
    return edit_response(
        request,
        form=AttributeForm(request.POST or None, initial=initial),
        save=lambda data: services.attribute_update(
            attribute=attribute, actor=request.user, **data
        ),
        success=_("Attribute saved."),
        done_url=reverse("product:attribute_detail", args=[pk]),
        title=_("Edit attribute %(name)s") % {"name": attribute.name},
        cancel_url=reverse("product:attribute_detail", args=[pk]),
    )


@require_POST
@requires("product.change")
def attribute_delete(request: HttpRequest, pk: int) -> HttpResponse:
    attribute = get_object_or_404(Attribute.objects, pk=pk)
    try:
        services.attribute_delete(attribute=attribute, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("product:attribute_detail", pk=pk)
    messages.success(request, _("Attribute deleted."))
    return redirect("product:attribute_list")


# --- price lists ------------------------------------------------------------------------------

PRICE_LIST_LIST = ListScreen(
    key="price-lists",
    title=gettext_lazy("Price lists"),
    columns=[
        Column("name", gettext_lazy("Price list"), order_by="name", link=True),
        Column(
            "currency", gettext_lazy("Currency"), accessor="currency_id", order_by="currency_id"
        ),
        Column("is_default", gettext_lazy("Company default"), order_by="is_default"),
        Column("rule_count", gettext_lazy("Rules"), order_by="rule_count"),
        Column("active", gettext_lazy("Active"), order_by="active"),
    ],
    search_fields=["name"],
    filters=[
        Filter(
            "currency",
            gettext_lazy("Currency"),
            "currency_id",
            choices=lambda r: [
                (c, c)
                for c in PriceList.objects.values_list("currency_id", flat=True)
                .distinct()
                .order_by("currency_id")
            ],
        ),
        Filter(
            "active",
            gettext_lazy("Active"),
            "active",
            choices=lambda r: [("1", _("Yes")), ("0", _("No"))],
        ),
    ],
    default_sort="name",
    detail_url=lambda p: reverse("product:price_list_detail", args=[p.pk]),
)


@requires("product.view")
def price_list_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "product.price"):
        actions.append((_("New price list"), reverse("product:price_list_create")))
    actions += import_actions(request, "price-lists")
    return list_response(
        request, PRICE_LIST_LIST, selectors.price_list_list(), extra={"actions": actions}
    )


@requires("product.view")
def price_list_detail(request: HttpRequest, pk: int) -> HttpResponse:
    price_list = get_object_or_404(PriceList.objects, pk=pk)
    can_price = has_perm(request, "product.price")
    actions = []
    if can_price:
        actions = [
            {"label": _("Add rule"), "url": reverse("product:price_rule_create", args=[pk])},
            {
                "label": _("Edit"),
                "url": reverse("product:price_list_edit", args=[pk]),
                "style": "outline-primary",
            },
        ]
    rules = selectors.price_list_rules(price_list=price_list)
    rule_history = AuditEntry.objects.filter(
        content_type__app_label="product",
        content_type__model="pricerule",
        additional_data__price_list_id=pk,
    )
    return record_response(
        request,
        obj=price_list,
        title=price_list.name,
        fields=[
            (_("Currency"), price_list.currency_id),
            (_("Company default"), price_list.is_default),
            (_("Active"), price_list.active),
        ],
        actions=actions,
        template="product/price_list_detail.html",
        extra={
            "rules": [
                {
                    "rule": rule,
                    "target": pricing.rule_target(rule),
                    "formula": pricing.rule_formula(rule, price_list.currency_id),
                }
                for rule in rules
            ],
            "can_price": can_price,
            "history": _merged_history(
                price_list,
                rule_history,
                PriceRule,
                lambda entry: _("Rule #%(id)s") % {"id": entry.object_pk},
            ),
        },
    )


@requires("product.price")
def price_list_create(request: HttpRequest) -> HttpResponse:
    def save(data: dict[str, Any]) -> PriceList:
        return pricing.price_list_create(
            company=request.company,
            actor=request.user,
            **{**data, "currency": data["currency"].code},
        )

    return edit_response(
        request,
        form=PriceListForm(
            request.POST or None,
            initial={"currency": request.company.base_currency_id, "active": True},
        ),
        save=save,
        success=_("Price list created."),
        done_url=lambda price_list: reverse("product:price_list_detail", args=[price_list.pk]),
        title=_("New price list"),
        cancel_url=reverse("product:price_list_list"),
    )


@requires("product.price")
def price_list_edit(request: HttpRequest, pk: int) -> HttpResponse:
    price_list = get_object_or_404(PriceList.objects, pk=pk)
    initial = {
        "name": price_list.name,
        "currency": price_list.currency_id,
        "active": price_list.active,
        "is_default": price_list.is_default,
    }

    def save(data: dict[str, Any]) -> PriceList:
        return pricing.price_list_update(
            price_list=price_list, actor=request.user, **{**data, "currency": data["currency"].code}
        )

    return edit_response(
        request,
        form=PriceListForm(request.POST or None, initial=initial),
        save=save,
        success=_("Price list saved."),
        done_url=reverse("product:price_list_detail", args=[pk]),
        title=_("Edit price list %(name)s") % {"name": price_list.name},
        cancel_url=reverse("product:price_list_detail", args=[pk]),
    )


def _rule_or_404(pk: int) -> PriceRule:
    # Rules have no company of their own: the price list's (scoped) decides.
    return get_object_or_404(
        PriceRule.objects.select_related("price_list").filter(
            price_list__in=PriceList.objects.values("pk")
        ),
        pk=pk,
    )


@requires("product.price")
def price_rule_create(request: HttpRequest, pk: int) -> HttpResponse:
    price_list = get_object_or_404(PriceList.objects, pk=pk)
    return edit_response(
        request,
        form=PriceRuleForm(request.POST or None, initial={"sequence": 10, "min_qty": 0}),
        save=lambda data: pricing.price_rule_create(
            price_list=price_list, actor=request.user, **data
        ),
        success=_("Rule added."),
        done_url=reverse("product:price_list_detail", args=[pk]),
        title=_("New rule of %(name)s") % {"name": price_list.name},
        cancel_url=reverse("product:price_list_detail", args=[pk]),
    )


@requires("product.price")
def price_rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule_or_404(pk)
    done = reverse("product:price_list_detail", args=[rule.price_list_id])
    return edit_response(
        request,
        form=PriceRuleForm(request.POST or None, initial=PriceRuleForm.initial_for(rule)),
        save=lambda data: pricing.price_rule_update(rule=rule, actor=request.user, **data),
        success=_("Rule saved."),
        done_url=done,
        title=_("Rule #%(id)s of %(name)s") % {"id": rule.pk, "name": rule.price_list.name},
        cancel_url=done,
    )


@require_POST
@requires("product.price")
def price_rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _rule_or_404(pk)
    price_list_id = rule.price_list_id
    pricing.price_rule_delete(rule=rule, actor=request.user)
    messages.success(request, _("Rule deleted."))
    return redirect("product:price_list_detail", pk=price_list_id)


urlpatterns = [
    path("items/", product_list, name="product_list"),
    path("items/new/", product_create, name="product_create"),
    path("items/<int:pk>/", product_detail, name="product_detail"),
    path("items/<int:pk>/edit/", product_edit, name="product_edit"),
    path("items/<int:pk>/archive/", product_archive, name="product_archive"),
    path("items/<int:pk>/cost/", product_cost, name="product_cost"),
    path("items/<int:pk>/price-check/", product_price_check, name="product_price_check"),
    path("items/<int:pk>/variants/generate/", variant_generate, name="variant_generate"),
    path("items/variants/<int:pk>/", variant_detail, name="variant_detail"),
    path("items/variants/<int:pk>/edit/", variant_edit, name="variant_edit"),
    path("items/variants/<int:pk>/archive/", variant_archive, name="variant_archive"),
    path("categories/", category_list, name="category_list"),
    path("categories/new/", category_create, name="category_create"),
    path("categories/<int:pk>/", category_detail, name="category_detail"),
    path("categories/<int:pk>/edit/", category_edit, name="category_edit"),
    path("categories/<int:pk>/delete/", category_delete, name="category_delete"),
    path("attributes/", attribute_list, name="attribute_list"),
    path("attributes/new/", attribute_create, name="attribute_create"),
    path("attributes/<int:pk>/", attribute_detail, name="attribute_detail"),
    path("attributes/<int:pk>/edit/", attribute_edit, name="attribute_edit"),
    path("attributes/<int:pk>/delete/", attribute_delete, name="attribute_delete"),
    path("price-lists/", price_list_list, name="price_list_list"),
    path("price-lists/new/", price_list_create, name="price_list_create"),
    path("price-lists/<int:pk>/", price_list_detail, name="price_list_detail"),
    path("price-lists/<int:pk>/edit/", price_list_edit, name="price_list_edit"),
    path("price-lists/<int:pk>/rules/new/", price_rule_create, name="price_rule_create"),
    path("price-lists/rules/<int:pk>/edit/", price_rule_edit, name="price_rule_edit"),
    path("price-lists/rules/<int:pk>/delete/", price_rule_delete, name="price_rule_delete"),
]
