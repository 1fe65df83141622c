"""The purchase settings of the company, and the suppliers' prices and lead times."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.forms import DateInput
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import ShellForm, edit_response
from xietong.purchase.common import purchase_settings
from xietong.purchase.configuration import settings_update, supplier_price_set
from xietong.purchase.forms import PartyChoiceField, ProductChoiceField, SettingsForm, products
from xietong.purchase.forms import suppliers as supplier_choices
from xietong.purchase.models import SupplierPrice
from xietong.purchase.views.common import fmt, get_or_404, quantity


@requires("purchase.configure")
def settings_edit(request: HttpRequest) -> HttpResponse:
    current = purchase_settings(request.company)
    form = SettingsForm(request.POST or None, instance=current)
    return edit_response(
        request,
        form=form,
        save=lambda data: settings_update(company=request.company, actor=request.user, **data),
        success=_("Purchase settings saved."),
        done_url=reverse("purchase:settings_edit"),
        title=_("Purchase settings"),
        cancel_url=reverse("purchase:workspace"),
    )


PRICE_LIST = ListScreen(
    key="purchase-supplier-prices",
    title=gettext_lazy("Supplier prices"),
    columns=[
        Column(
            "product",
            gettext_lazy("Product"),
            accessor=lambda p: f"{p.product.sku} {p.product.name}",
            order_by="product__sku",
            link=True,
        ),
        Column(
            "supplier",
            gettext_lazy("Supplier"),
            accessor="supplier__name",
            order_by="supplier__name",
        ),
        Column(
            "min_quantity",
            gettext_lazy("From quantity"),
            accessor=lambda p: quantity(p.min_quantity),
            order_by="min_quantity",
        ),
        Column(
            "price",
            gettext_lazy("Unit price"),
            accessor=lambda p: f"{fmt(p.price, p.currency_id)} {p.currency_id}",
            order_by="price",
        ),
        Column("lead_time_days", gettext_lazy("Lead time (days)"), order_by="lead_time_days"),
        Column("valid_from", gettext_lazy("Valid from"), order_by="valid_from", default=False),
        Column("valid_until", gettext_lazy("Valid until"), order_by="valid_until"),
        Column("supplier_code", gettext_lazy("Supplier's code"), default=False),
    ],  # fmt: skip
    search_fields=["product__sku", "product__name", "supplier__name", "supplier_code"],
    filters=[
        Filter("valid_until", gettext_lazy("Valid on or after"), "valid_until__gte", kind="date")
    ],  # fmt: skip
    default_sort="product",
    detail_url=lambda p: reverse("purchase:supplier_price_edit", args=[p.pk]),
)


@requires("purchase.view")
def supplier_price_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "purchase.configure"):
        actions.append((_("New supplier price"), reverse("purchase:supplier_price_create")))
    rows = SupplierPrice.objects.select_related("product", "supplier")
    return list_response(request, PRICE_LIST, rows, extra={"actions": actions})


class SupplierPriceForm(ShellForm):
    supplier = PartyChoiceField(
        label=gettext_lazy("Supplier"), queryset=SupplierPrice.unscoped.none()
    )
    product = ProductChoiceField(
        label=gettext_lazy("Product"), queryset=SupplierPrice.unscoped.none()
    )
    price = forms.DecimalField(label=gettext_lazy("Unit price"), min_value=0, max_digits=18,
                               decimal_places=6)  # fmt: skip
    min_quantity = forms.DecimalField(label=gettext_lazy("From quantity"), min_value=0, max_digits=18,
                                      decimal_places=6, initial=0)  # fmt: skip
    lead_time_days = forms.IntegerField(
        label=gettext_lazy("Lead time (days)"), min_value=0, initial=0
    )
    valid_from = forms.DateField(label=gettext_lazy("Valid from"), required=False, widget=DateInput)
    valid_until = forms.DateField(
        label=gettext_lazy("Valid until"), required=False, widget=DateInput
    )
    supplier_code = forms.CharField(
        label=gettext_lazy("Supplier's code"), max_length=60, required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["supplier"].queryset = supplier_choices()
        self.fields["product"].queryset = products()


def _price_form(request: HttpRequest, instance: SupplierPrice | None) -> HttpResponse:
    initial = {}
    if instance is not None:
        initial = {name: getattr(instance, name) for name in (
            "supplier", "product", "price", "min_quantity", "lead_time_days", "valid_from",
            "valid_until", "supplier_code")}  # fmt: skip
    return edit_response(
        request,
        form=SupplierPriceForm(request.POST or None, initial=initial),
        save=lambda data: supplier_price_set(
            company=request.company, actor=request.user, instance=instance, **data
        ),  # fmt: skip
        success=_("Supplier price saved."),
        done_url=reverse("purchase:supplier_price_list"),
        title=_("Supplier price"),
        cancel_url=reverse("purchase:supplier_price_list"),
    )


@requires("purchase.configure")
def supplier_price_create(request: HttpRequest) -> HttpResponse:
    return _price_form(request, None)


@requires("purchase.configure")
def supplier_price_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _price_form(request, get_or_404(SupplierPrice.objects.all(), pk))


urlpatterns = [
    path("settings/", settings_edit, name="settings_edit"),
    path("supplier-prices/", supplier_price_list, name="supplier_price_list"),
    path("supplier-prices/new/", supplier_price_create, name="supplier_price_create"),
    path("supplier-prices/<int:pk>/", supplier_price_edit, name="supplier_price_edit"),
]
