"""Forms of the count and replenishment screens. They only parse input (a product by its SKU, a
lot by its name, a location among the company's stock locations); the services check and write.

Querysets of company-owned rows are set in `__init__`, inside the request's company scope,
never at import time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from xietong.core.forms import DateInput
from xietong.core.ui.records import ShellForm
from xietong.inventory.models import Location, Lot, Warehouse
from xietong.product.models import Product

QUANTITY = {"max_digits": 18, "decimal_places": 6}
ABC_CHOICES = [("", _("Every product")), ("A", "A"), ("B", "B"), ("C", "C")]


class LocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Location) -> str:  # type: ignore[override]
        return obj.full_name or obj.name


class WarehouseChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Warehouse) -> str:  # type: ignore[override]
        return f"{obj.code} {obj.name}"


def countable_locations() -> Any:
    """Where a count can be made: the stock locations, and the view locations of warehouses
    (a whole warehouse, its input and output areas included)."""
    return (
        Location.objects.filter(active=True)
        .filter(
            Q(usage__in=[Location.Usage.INTERNAL, Location.Usage.TRANSIT])
            | Q(usage=Location.Usage.VIEW, warehouse__isnull=False)
        )
        .order_by("full_name")
    )


def product_by_sku(sku: str) -> Product | None:
    return Product.objects.filter(sku=sku.strip()).first() if sku.strip() else None


class CountCreateForm(ShellForm):
    location = LocationChoiceField(label=_("Location"), queryset=Location.unscoped.none())
    date = forms.DateField(label=_("Date of the count"), widget=DateInput)
    abc_class = forms.ChoiceField(
        label=_("ABC class"),
        choices=ABC_CHOICES,
        required=False,
        help_text=_("Count only the products of this class (cycle counting)."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = countable_locations()


class CountLineAddForm(ShellForm):
    """Something found on the shelf that the sheet does not list."""

    product = forms.CharField(label=_("Product (SKU)"), max_length=40)
    lot = forms.CharField(label=_("Lot or serial number"), max_length=80, required=False)
    location = LocationChoiceField(
        label=_("Location"), queryset=Location.unscoped.none(), required=False
    )

    def __init__(self, *args: Any, locations: Any, **kwargs: Any) -> None:
        super().__init__(*args, prefix="add", **kwargs)
        self.fields["location"].queryset = locations
        self.fields["location"].empty_label = _("The count's location")
        self.fields["product"].widget.attrs["list"] = "count-product-options"

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        sku = data.get("product") or ""
        product = product_by_sku(sku)
        if sku and product is None:
            self.add_error("product", _("No product has the SKU %(sku)s.") % {"sku": sku})
        data["product"] = product
        name = (data.get("lot") or "").strip()
        data["lot"] = None
        if name and product is not None:
            lot = Lot.objects.filter(product=product, name=name).first()
            if lot is None:
                self.add_error(
                    "lot",
                    _("%(product)s has no lot or serial number %(lot)s.")
                    % {"product": product.sku, "lot": name},
                )
            data["lot"] = lot
        return data


class RuleForm(ShellForm):
    """A replenishment rule; the product and the warehouse are fixed once it exists."""

    product = forms.CharField(label=_("Product (SKU)"), max_length=40)
    warehouse = WarehouseChoiceField(label=_("Warehouse"), queryset=Warehouse.unscoped.none())
    min_qty = forms.DecimalField(
        label=_("Reorder point"),
        help_text=_("Order when the forecast stock falls to this quantity (stock unit)."),
        **QUANTITY,
    )
    max_qty = forms.DecimalField(
        label=_("Maximum"), help_text=_("Order up to this quantity."), **QUANTITY
    )
    multiple = forms.DecimalField(
        label=_("Order multiple"),
        required=False,
        help_text=_("Round the quantity to order up to a multiple of this (0: any quantity)."),
        **QUANTITY,
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, fixed: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        warehouses = Warehouse.objects.order_by("code")
        self.fields["warehouse"].queryset = warehouses if fixed else warehouses.filter(active=True)
        self.fields["product"].widget.attrs["list"] = "rule-product-options"
        if fixed:
            for name in ("product", "warehouse"):
                self.fields[name].disabled = True

    def clean_product(self) -> Product | None:
        sku = self.cleaned_data.get("product") or ""
        product = product_by_sku(sku)
        if product is None:
            raise forms.ValidationError(_("No product has the SKU %(sku)s.") % {"sku": sku})
        return product

    def clean_multiple(self) -> Decimal:
        return self.cleaned_data.get("multiple") or Decimal(0)
