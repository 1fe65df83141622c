"""Forms of the inventory setup screens (warehouses, locations, category valuation). They only
parse input; the services in `warehouses` and `valuation` check and write.

Querysets of company-owned rows are set in `__init__` (inside the request's company scope),
never at import time.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from xietong.core.ui.records import ShellForm
from xietong.finance.models import Account, Journal
from xietong.inventory.models import CategoryValuation, Location, Warehouse


class LocationChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Location) -> str:  # type: ignore[override]
        return obj.full_name


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Account) -> str:  # type: ignore[override]
        return f"{obj.code} {obj.name}"


class WarehouseCreateForm(ShellForm):
    code = forms.CharField(
        label=_("Code"),
        max_length=10,
        help_text=_("Short, without “/”; it names the location tree and the picking numbers."),
    )
    name = forms.CharField(label=_("Name"), max_length=80)
    reception_steps = forms.ChoiceField(
        label=_("Reception"), choices=Warehouse.ReceptionSteps.choices
    )
    delivery_steps = forms.ChoiceField(label=_("Delivery"), choices=Warehouse.DeliverySteps.choices)


class WarehouseEditForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=80)
    reception_steps = forms.ChoiceField(
        label=_("Reception"),
        choices=Warehouse.ReceptionSteps.choices,
        help_text=_("Open receipts finish along the route they were planned on."),
    )
    delivery_steps = forms.ChoiceField(
        label=_("Delivery"),
        choices=Warehouse.DeliverySteps.choices,
        help_text=_("Open deliveries finish along the route they were planned on."),
    )
    active = forms.BooleanField(label=_("Active"), required=False)


class LocationCreateForm(ShellForm):
    parent = LocationChoiceField(label=_("Parent location"), queryset=Location.unscoped.none())
    name = forms.CharField(label=_("Name"), max_length=80)
    usage = forms.ChoiceField(label=_("Usage"), choices=Location.Usage.choices)
    barcode = forms.CharField(label=_("Barcode"), max_length=60, required=False)
    allow_negative = forms.BooleanField(
        label=_("Allow negative stock (moves may take more than is on hand)"), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["parent"].queryset = Location.objects.filter(active=True).order_by("full_name")


class LocationEditForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=80)
    barcode = forms.CharField(label=_("Barcode"), max_length=60, required=False)
    allow_negative = forms.BooleanField(
        label=_("Allow negative stock (moves may take more than is on hand)"), required=False
    )
    active = forms.BooleanField(label=_("Active"), required=False)


VALUATION_ACCOUNTS = (
    "stock_account",
    "input_account",
    "output_account",
    "loss_account",
    "production_account",
)


class CategoryValuationForm(ShellForm):
    method = forms.ChoiceField(
        label=_("Costing method"),
        choices=CategoryValuation.Method.choices,
        help_text=_("The method and the stock account can only change while the products "
                    "valued this way hold no stock."),
    )  # fmt: skip
    stock_account = AccountChoiceField(
        label=_("Stock account"), queryset=Account.unscoped.none(), required=False
    )
    input_account = AccountChoiceField(
        label=_("Stock received not invoiced"), queryset=Account.unscoped.none(), required=False
    )
    output_account = AccountChoiceField(
        label=_("Cost of goods sold"), queryset=Account.unscoped.none(), required=False
    )
    loss_account = AccountChoiceField(
        label=_("Inventory gains and losses"), queryset=Account.unscoped.none(), required=False
    )
    production_account = AccountChoiceField(
        label=_("Work in progress"), queryset=Account.unscoped.none(), required=False
    )
    journal = forms.ModelChoiceField(
        label=_("Stock journal"),
        queryset=Journal.unscoped.none(),
        required=False,
        help_text=_("Left empty, an account or the journal is picked from the chart of "
                    "accounts (or kept)."),
    )  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = Account.objects.filter(is_group=False, active=True).order_by("code")
        for name in VALUATION_ACCOUNTS:
            self.fields[name].queryset = accounts
        self.fields["journal"].queryset = Journal.objects.filter(active=True).order_by("code")
