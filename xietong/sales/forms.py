"""Forms of the sales screens. They only parse input; the services check and write.

Querysets of company-owned rows are built in `__init__` (inside the request's company scope),
never at import time. The lines of the quick-quote editor are not a Django formset: the editor
posts `lines-<n>-<field>` values that `lines_clean` checks (through `preview.lines_preview` on
every change, and the create/update services on save)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xietong.core.forms import DateInput
from xietong.core.ui.records import ShellForm
from xietong.finance.models import Account, Journal, Tax
from xietong.inventory.models import Lot, Warehouse
from xietong.party.models import Party
from xietong.product.models import PriceList
from xietong.sales.models import InvoicePolicy, ReturnLine, SalesOrderLine

LINE_FIELDS = ("product", "configured_item", "description", "quantity", "discount", "unit_price")
QTY = {"max_digits": 18, "decimal_places": 6}
NUMBER = "form-control form-control-sm text-end"
SELECT = "form-select form-select-sm"


class PartyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Party) -> str:  # type: ignore[override]
        return f"{obj.name} ({obj.code})"


class CodeNameChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.code} {obj.name}"


def customers(include: Party | None = None) -> Any:
    condition = Q(is_customer=True, active=True, merged_into__isnull=True)
    if include is not None:
        condition |= Q(pk=include.pk)
    return Party.objects.filter(condition).order_by("name")


class DocumentForm(ShellForm):
    """The header of a quotation or order in the quick-quote editor. Changing the customer,
    the dates, the price list or the warehouse re-prices the lines (`live` HTMX attributes)."""

    party = PartyChoiceField(label=_("Customer"), queryset=Party.unscoped.none())
    date = forms.DateField(label=_("Date"), widget=DateInput)
    price_list = forms.ModelChoiceField(
        label=_("Price list"),
        queryset=PriceList.unscoped.none(),
        required=False,
        empty_label=_("The customer's"),
    )
    warehouse = CodeNameChoiceField(
        label=_("Ship from"),
        queryset=Warehouse.unscoped.none(),
        required=False,
        empty_label=_("Default warehouse"),
    )
    customer_reference = forms.CharField(
        label=_("Customer reference"), max_length=80, required=False
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 1})
    )

    live_fields = ("party", "date", "price_list", "warehouse")

    def __init__(self, *args: Any, lines_url: str, party: Party | None = None,
                 fixed_party: bool = False, **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["party"].queryset = customers(party)
        self.fields["price_list"].queryset = PriceList.objects.filter(active=True).order_by("name")
        self.fields["warehouse"].queryset = Warehouse.objects.filter(active=True).order_by("code")
        if fixed_party:
            self.fields["party"].disabled = True
        live = {
            "hx-post": f"{lines_url}?part=amounts",
            "hx-trigger": "change",
            "hx-target": "#sales-totals",
            "hx-swap": "outerHTML",
            "hx-sync": "closest form:replace",
        }
        for name in self.live_fields:
            if name in self.fields:
                self.fields[name].widget.attrs.update(live)


class QuotationForm(DocumentForm):
    valid_until = forms.DateField(label=_("Valid until"), widget=DateInput, required=False)
    field_order = ["party", "date", "valid_until", "price_list", "warehouse",
                   "customer_reference", "notes"]  # fmt: skip


class OrderForm(DocumentForm):
    requested_date = forms.DateField(
        label=_("Requested delivery date"), widget=DateInput, required=False
    )
    invoice_policy = forms.ChoiceField(
        label=_("Invoicing policy"),
        choices=[("", _("Per product and customer")), *InvoicePolicy.choices],
        required=False,
        help_text=_("A choice applies to every line (services: on order)."),
    )
    live_fields = ("party", "date", "price_list", "warehouse", "requested_date")
    field_order = ["party", "date", "requested_date", "invoice_policy", "price_list",
                   "warehouse", "customer_reference", "notes"]  # fmt: skip


# --- actions ----------------------------------------------------------------------------------


class SendForm(ShellForm):
    to = forms.CharField(
        label=_("To"),
        max_length=500,
        required=False,
        help_text=_("E-mail addresses separated by commas. Empty: the contact's or customer's."),
    )
    message = forms.CharField(
        label=_("Message"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )

    def clean_to(self) -> list[str] | None:
        raw = self.cleaned_data["to"]
        addresses = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
        return addresses or None


class LostForm(ShellForm):
    reason = forms.CharField(label=_("Why did the customer decline?"), max_length=200)


class AcceptForm(ShellForm):
    requested_date = forms.DateField(
        label=_("Requested delivery date"), widget=DateInput, required=False
    )
    customer_reference = forms.CharField(
        label=_("Customer reference (purchase order number)"), max_length=80, required=False
    )
    confirm = forms.BooleanField(
        label=_("Confirm the order at once (credit check, delivery date, reservation)"),
        required=False,
        initial=True,
    )


class OrderCancelForm(ShellForm):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)
    confirm = forms.BooleanField(label=_("Cancel this order."), required=True)


class DownPaymentForm(ShellForm):
    amount = forms.DecimalField(
        label=_("Amount without tax"), required=False, min_value=Decimal("0.01"),
        max_digits=19, decimal_places=4,
    )  # fmt: skip
    percent = forms.DecimalField(
        label=_("or a percentage of the untaxed total"), required=False, min_value=Decimal("0.01"),
        max_value=Decimal(100), max_digits=7, decimal_places=4,
    )  # fmt: skip
    date = forms.DateField(label=_("Invoice date"), widget=DateInput, required=False)
    post = forms.BooleanField(label=_("Post the invoice"), required=False, initial=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if (data.get("amount") is None) == (data.get("percent") is None):
            raise forms.ValidationError(_("Give an amount or a percentage."))
        return data


class OrderInvoiceForm(ShellForm):
    """What to invoice of an order: a quantity per line (at most what may be invoiced now)."""

    date = forms.DateField(label=_("Invoice date"), widget=DateInput, required=False)
    post = forms.BooleanField(label=_("Post the invoice"), required=False)

    def __init__(self, *args: Any, lines: list[tuple[SalesOrderLine, Decimal]],
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line, most in lines:
            self.fields[f"qty_{line.pk}"] = forms.DecimalField(
                label=line.description, required=False, min_value=Decimal(0), max_value=most,
                initial=most.normalize(), **QTY,
            )  # fmt: skip
            self.fields[f"qty_{line.pk}"].widget.attrs["class"] = NUMBER

    def quantities(self) -> dict[int, Decimal]:
        return {
            line.pk: self.cleaned_data.get(f"qty_{line.pk}") or Decimal(0)
            for line, _m in self.lines
        }


class ReturnForm(ShellForm):
    """A return of an order: the reason and, per delivered line, what comes back, where it
    goes and the lot."""

    reason = forms.CharField(label=_("Reason"), max_length=300)
    date = forms.DateField(label=_("Date"), widget=DateInput, required=False)

    def __init__(self, *args: Any, lines: list[tuple[SalesOrderLine, Decimal, list[Lot]]],
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line, most, lots in lines:
            self.fields[f"qty_{line.pk}"] = forms.DecimalField(
                label=_("Quantity"), required=False, min_value=Decimal(0), **QTY
            )
            self.fields[f"qty_{line.pk}"].widget.attrs["class"] = NUMBER
            self.fields[f"qty_{line.pk}"].widget.attrs["max"] = f"{most.normalize():f}"
            self.fields[f"disposition_{line.pk}"] = forms.ChoiceField(
                label=_("Disposition"), choices=ReturnLine.Disposition.choices,
                initial=ReturnLine.Disposition.RESTOCK,
                widget=forms.Select(attrs={"class": SELECT}),
            )  # fmt: skip
            if lots:
                self.fields[f"lot_{line.pk}"] = forms.ModelChoiceField(
                    label=_("Lot/serial"), required=False,
                    queryset=Lot.objects.filter(pk__in=[lot.pk for lot in lots]).order_by("name"),
                    empty_label=_("As delivered"), widget=forms.Select(attrs={"class": SELECT}),
                )  # fmt: skip

    def rows(self) -> list[dict[str, Any]]:
        """The order's delivered lines with their fields (for the template)."""
        return [
            {
                "line": line,
                "most": most,
                "quantity": self[f"qty_{line.pk}"],
                "disposition": self[f"disposition_{line.pk}"],
                "lot": self[f"lot_{line.pk}"] if f"lot_{line.pk}" in self.fields else None,
            }
            for line, most, _lots in self.lines
        ]

    def return_lines(self) -> list[tuple[SalesOrderLine, dict[str, Any]]]:
        """The lines with a quantity, as `returns.return_create` takes them."""
        out = []
        for line, _most, _lots in self.lines:
            quantity = self.cleaned_data.get(f"qty_{line.pk}")
            if not quantity:
                continue
            item: dict[str, Any] = {
                "order_line": line,
                "quantity": quantity,
                "disposition": self.cleaned_data.get(f"disposition_{line.pk}"),
            }
            lot = self.cleaned_data.get(f"lot_{line.pk}")
            if lot is not None:
                item["lot"] = lot
            out.append((line, item))
        return out


class ReturnCreditForm(ShellForm):
    refund_journal = CodeNameChoiceField(
        label=_("Refund from"),
        queryset=Journal.unscoped.none(),
        required=False,
        empty_label=_("No refund (the customer keeps a credit)"),
        help_text=_("When the credited invoice was paid, pay the customer back from this journal."),
    )
    date = forms.DateField(label=_("Credit note date"), widget=DateInput, required=False)

    def __init__(self, *args: Any, refunds: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if refunds:
            self.fields["refund_journal"].queryset = Journal.objects.filter(
                kind__in=[Journal.Kind.BANK, Journal.Kind.CASH], active=True
            ).order_by("code")
        else:
            del self.fields["refund_journal"]


class SettingsForm(ShellForm):
    warehouse = CodeNameChoiceField(
        label=_("Shipping warehouse"), queryset=Warehouse.unscoped.none(), required=False
    )
    quotation_validity_days = forms.IntegerField(
        label=_("Quotations valid for (days)"), min_value=0, max_value=3650
    )
    invoice_policy = forms.ChoiceField(label=_("Invoicing policy"), choices=InvoicePolicy.choices)
    max_discount_percent = forms.DecimalField(
        label=_("Discount without approval (%) for customers without a group"),
        min_value=Decimal(0), max_value=Decimal(100), max_digits=7, decimal_places=4,
    )  # fmt: skip
    down_payment_account = CodeNameChoiceField(
        label=_("Down payment account"),
        queryset=Account.unscoped.none(),
        required=False,
        help_text=_("Empty: a customer advances account (2203) of the chart, else income."),
    )
    return_days = forms.IntegerField(
        label=_("Returns accepted for (days)"), min_value=0, max_value=3650
    )
    default_tax = forms.ModelChoiceField(
        label=_("Default sales tax"), queryset=Tax.unscoped.none(), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["warehouse"].queryset = Warehouse.objects.filter(active=True).order_by("code")
        self.fields["down_payment_account"].queryset = Account.objects.filter(
            is_group=False, active=True, reconcile=False
        ).order_by("code")
        self.fields["default_tax"].queryset = Tax.objects.filter(
            use=Tax.Use.SALE, active=True
        ).order_by("sequence", "code")


def today() -> Any:
    return timezone.localdate()
