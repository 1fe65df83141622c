"""Screens of the product configurator: pick a configurable product, choose its options step by
step (every change re-renders price, validity and the generated BOM through HTMX), save the
configured item; and the list and record of configured items."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, ListScreen, list_response
from xietong.core.ui.records import history_for
from xietong.product import configurator
from xietong.product.models import ConfiguredItem, Product


def _chosen(data: QueryDict) -> list[int]:
    """Option ids from the form: every `group-<id>` field (radio or checkboxes)."""
    return [
        int(value)
        for key in data
        if key.startswith("group-")
        for value in data.getlist(key)
        if value.isdigit()
    ]


def _quantity(data: QueryDict) -> Decimal:
    try:
        value = Decimal(data.get("quantity", "1").strip() or "1")
    except InvalidOperation:
        return Decimal(1)
    return value if value.is_finite() and value > 0 else Decimal(1)


def _context(
    request: HttpRequest,
    product: Product,
    option_ids: list[int],
    quantity: Decimal,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    evaluation = configurator.configuration_evaluate(
        product=product, option_ids=option_ids, quantity=quantity
    )
    chosen = set(evaluation.option_ids)
    steps = []
    for number, group in enumerate(evaluation.model.groups, start=1):
        options = [
            {
                "option": option,
                "chosen": option.pk in chosen,
                "hints": evaluation.hints.get(option.pk, []),
            }
            for option in group.options.all()
        ]
        steps.append(
            {
                "number": number,
                "group": group,
                "options": options,
                "done": any(o["chosen"] for o in options) or not group.required,
            }
        )
    price = evaluation.price
    margin = None
    if (
        evaluation.cost is not None
        and price.total
        and price.currency == request.company.base_currency_id
    ):
        margin = (price.total - evaluation.cost.total) / price.total * 100
    return {
        "product": product,
        "evaluation": evaluation,
        "steps": steps,
        "price": price,
        "margin": margin,
        "quantity": quantity,
        "errors": errors or [],
        "done_steps": sum(1 for s in steps if s["done"]),
    }


@requires("product.configure")
def configurator_home(request: HttpRequest) -> HttpResponse:
    products = configurator.configurable_products().annotate(
        group_count=Count("option_groups", distinct=True)
    )
    return render(
        request,
        "product/configurator/home.html",
        {"products": products, "recent": configurator.configured_items()[:10]},
    )


@requires("product.configure")
def configure(request: HttpRequest, pk: int) -> HttpResponse:
    """The configurator page; POST saves the configuration as a configured item."""
    product = get_object_or_404(configurator.configurable_products(), pk=pk)
    if request.method == "POST":
        option_ids, quantity = _chosen(request.POST), _quantity(request.POST)
        try:
            item = configurator.configured_item_create(
                company=request.company,
                actor=request.user,
                product=product,
                option_ids=option_ids,
                quantity=quantity,
            )
        except ValidationError as exc:
            context = _context(request, product, option_ids, quantity, exc.messages)
            return render(request, "product/configurator/configure.html", context, status=400)
        messages.success(request, _("Configuration saved."))
        return redirect("product:configured_detail", pk=item.pk)
    option_ids = _chosen(request.GET) or configurator.configuration_defaults(product=product)
    context = _context(request, product, option_ids, _quantity(request.GET))
    return render(request, "product/configurator/configure.html", context)


@requires("product.configure")
def configure_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The configurator form re-rendered for the options chosen so far (HTMX)."""
    product = get_object_or_404(configurator.configurable_products(), pk=pk)
    context = _context(request, product, _chosen(request.GET), _quantity(request.GET))
    return render(request, "product/configurator/_form.html", context)


CONFIGURED_LIST = ListScreen(
    key="configured-items",
    title=gettext_lazy("Configured items"),
    columns=[
        Column("created_at", gettext_lazy("Created"), order_by="created_at"),
        Column("description", gettext_lazy("Description"), order_by="description"),
        Column(
            "product", gettext_lazy("Product"), accessor="product__sku", order_by="product__sku"
        ),
        Column("price", gettext_lazy("Unit price"), order_by="price"),
        Column("currency", gettext_lazy("Currency"), accessor="currency_id"),
        Column("cost", gettext_lazy("Unit cost"), order_by="cost"),
        Column(
            "created_by",
            gettext_lazy("Created by"),
            accessor="created_by",
            order_by="created_by__username",
        ),
    ],
    search_fields=["description", "product__sku"],
    default_sort="-created_at",
    detail_url=lambda item: reverse("product:configured_detail", args=[item.pk]),
)


@requires("product.configure")
def configured_list(request: HttpRequest) -> HttpResponse:
    return list_response(
        request,
        CONFIGURED_LIST,
        configurator.configured_items(),
        extra={"actions": [(_("Configure a product"), reverse("product:configurator"))]},
    )


@requires("product.configure")
def configured_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(ConfiguredItem.objects.select_related("product", "created_by"), pk=pk)
    options = item.options.select_related("group").order_by("group__sequence", "sequence")
    margin = None
    if item.price and item.currency_id == request.company.base_currency_id:
        margin = (item.price - item.cost) / item.price * 100
    actions = []
    if item.product.active and item.product.is_configurable:
        query = "&".join(f"group-{o.group_id}={o.pk}" for o in options)
        actions.append(
            {
                "label": _("Configure again"),
                "url": reverse("product:configure", args=[item.product_id]) + f"?{query}",
                "style": "outline-primary",
            }
        )
    context = {
        "obj": item,
        "item": item,
        "title": item.description,
        "options": options,
        "margin": margin,
        "actions": actions,
        "history": history_for(item),
        "can_see_boms": has_perm(request, "product.view"),
    }
    return render(request, "product/configurator/configured_detail.html", context)


urlpatterns = [
    path("configurator/", configurator_home, name="configurator"),
    path("configurator/<int:pk>/", configure, name="configure"),
    path("configurator/<int:pk>/preview/", configure_preview, name="configurator_preview"),
    path("configured/", configured_list, name="configured_list"),
    path("configured/<int:pk>/", configured_detail, name="configured_detail"),
]
