"""Forms of the purchase screens. They only parse input; the services check and write.

Querysets of company-owned rows are built in `__init__` (inside the request's company scope),
never at import time. Document lines are a formset of `LineForm` rows (blank rows are
skipped); the services check them (`common.lines_clean`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xietong.core.forms import DateInput
from xietong.core.ui.records import ShellForm
from xietong.inventory.models import Warehouse
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.purchase.models import PurchaseSettings

QTY = {"max_digits": 18, "decimal_places": 6}
NUMBER = "form-control form-control-sm text-end"
SELECT = "form-select form-select-sm"


class PartyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Party) -> str:  # type: ignore[override]
        return f"{obj.name} ({obj.code})" if obj.code else obj.name


class ProductChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Product) -> str:  # type: ignore[override]
        return f"{obj.sku} {obj.name}"


def suppliers(include: Party | None = None) -> Any:
    condition = Q(is_supplier=True, active=True, merged_into__isnull=True)
    if include is not None:
        condition |= Q(pk=include.pk)
    return Party.objects.filter(condition).order_by("name")


def products() -> Any:
    return Product.objects.filter(active=True).exclude(type=Product.Type.SERVICE).order_by("sku")


class LineForm(forms.Form):
    """One line of a requisition or purchase order (blank rows are ignored)."""

    product = ProductChoiceField(label=_("Product"), queryset=Product.unscoped.none(),
                                 required=False, widget=forms.Select(attrs={"class": SELECT}))  # fmt: skip
    quantity = forms.DecimalField(label=_("Quantity"), required=False, min_value=0, **QTY,
                                  widget=forms.NumberInput(attrs={"class": NUMBER, "step": "any"}))  # fmt: skip
    unit_price = forms.DecimalField(label=_("Unit price"), required=False, min_value=0,
                                    max_digits=18, decimal_places=6,
                                    widget=forms.NumberInput(attrs={"class": NUMBER, "step": "any"}),
                                    help_text=_("Empty: the supplier's price"))  # fmt: skip
    need_date = forms.DateField(label=_("Needed by"), required=False,
                                widget=DateInput(attrs={"class": "form-control form-control-sm"}))  # fmt: skip
    reason = forms.CharField(label=_("Reason"), required=False, max_length=300,
                             widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = products()

    def line(self) -> dict[str, Any] | None:
        """The service's line dict, or None for a blank row."""
        data = self.cleaned_data
        if not data.get("product") and data.get("quantity") in (None, ""):
            return None
        line: dict[str, Any] = {"product": data.get("product"), "quantity": data.get("quantity")}
        for name in ("unit_price", "need_date", "reason"):
            if data.get(name) not in (None, ""):
                line[name] = data[name]
        return line


LineFormSet = forms.formset_factory(LineForm, extra=6, max_num=200)


class OrderForm(ShellForm):
    party = PartyChoiceField(label=_("Supplier"), queryset=Party.unscoped.none())
    date = forms.DateField(label=_("Order date"), widget=DateInput)
    warehouse = forms.ModelChoiceField(label=_("Deliver to warehouse"),
                                       queryset=Warehouse.unscoped.none(), required=False,
                                       empty_label=_("Default warehouse"))  # fmt: skip
    supplier_reference = forms.CharField(label=_("Supplier's reference"), max_length=80,
                                         required=False)  # fmt: skip
    notes = forms.CharField(label=_("Notes"), required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip

    def __init__(self, *args: Any, party: Party | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["party"].queryset = suppliers(party)
        self.fields["warehouse"].queryset = Warehouse.objects.filter(active=True).order_by("code")
        self.initial.setdefault("date", timezone.localdate())


class RequisitionForm(ShellForm):
    warehouse = forms.ModelChoiceField(label=_("Deliver to warehouse"),
                                       queryset=Warehouse.unscoped.none(), required=False,
                                       empty_label=_("Default warehouse"))  # fmt: skip
    notes = forms.CharField(label=_("Notes"), required=False,
                            widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = Warehouse.objects.filter(active=True).order_by("code")


class DecisionForm(ShellForm):
    comment = forms.CharField(label=_("Comment"), required=False,
                              widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip


class CancelForm(ShellForm):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class SendForm(ShellForm):
    to = forms.EmailField(label=_("To"), required=False,
                          help_text=_("Empty: the contact's or the supplier's address"))  # fmt: skip
    message = forms.CharField(label=_("Message"), required=False,
                              widget=forms.Textarea(attrs={"rows": 3}))  # fmt: skip


class SettingsForm(forms.ModelForm):
    class Meta:
        model = PurchaseSettings
        fields = [
            "warehouse", "default_tax", "receipt_tolerance_percent", "price_tolerance_percent",
            "quantity_tolerance_percent", "requisition_approval_limit", "rfq_answer_days",
            "landed_cost_account",
        ]  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from xietong.finance.models import Account, Tax

        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = Warehouse.objects.filter(active=True)
        self.fields["default_tax"].queryset = Tax.objects.filter(use=Tax.Use.PURCHASE,
                                                                 active=True)  # fmt: skip
        self.fields["landed_cost_account"].queryset = Account.objects.filter(
            is_group=False, active=True
        ).order_by("code")
        for field in self.fields.values():
            base = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = base
