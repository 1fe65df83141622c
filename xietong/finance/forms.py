"""Forms of the finance screens. They only parse input; the services check and write.

Querysets and choices of company-owned rows are set in `__init__` (inside the request's company
scope), never at import time. The line editors (journal entry, invoice) get their choices once
per request through `form_kwargs`, so a form with many lines does not query per line.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xietong.core.forms import DateInput
from xietong.core.models import Currency
from xietong.core.ui.records import ShellForm
from xietong.finance.configuration import SETTINGS_ACCOUNTS, SETTINGS_JOURNALS
from xietong.finance.models import (
    Account,
    AccountSubtype,
    AccountType,
    CashFlowSection,
    FinanceSettings,
    Journal,
    Tax,
)

AMOUNT_FIELD = {"max_digits": 19, "decimal_places": 4}


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Account) -> str:  # type: ignore[override]
        return f"{obj.code} {obj.name}"


def _currencies() -> Any:
    return Currency.objects.filter(active=True).order_by("code")


def currency_choices(blank: str | None = None) -> list[tuple[str, str]]:
    choices = [(c.code, c.code) for c in _currencies()]
    return [("", blank), *choices] if blank is not None else choices


def postable_accounts() -> Any:
    return Account.objects.filter(is_group=False, active=True).order_by("code")


# --- configuration ----------------------------------------------------------------------------


class AccountForm(ShellForm):
    code = forms.CharField(label=_("Code"), max_length=20)
    name = forms.CharField(label=_("Name"), max_length=160)
    parent = AccountChoiceField(
        label=_("Parent account"), queryset=Account.unscoped.none(), required=False
    )
    type = forms.ChoiceField(label=_("Type"), choices=AccountType.choices)
    subtype = forms.ChoiceField(label=_("Subtype"), choices=AccountSubtype.choices, required=False)
    cash_flow = forms.ChoiceField(
        label=_("Cash-flow section"), choices=CashFlowSection.choices, required=False
    )
    is_group = forms.BooleanField(
        label=_("Group account (sums its sub-accounts, takes no postings)"), required=False
    )
    reconcile = forms.BooleanField(
        label=_("Reconcilable (receivables, payables: open items are matched)"), required=False
    )
    currency = forms.ModelChoiceField(
        label=_("Account currency"),
        queryset=Currency.objects.none(),
        to_field_name="code",
        required=False,
        help_text=_("Only for accounts kept in one foreign currency, such as a USD bank account."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, account: Account | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        parents = Account.objects.filter(is_group=True).order_by("code")
        if account is not None:
            parents = parents.exclude(pk=account.pk)
        self.fields["parent"].queryset = parents
        self.fields["currency"].queryset = _currencies()


class ChartLoadForm(ShellForm):
    template = forms.ChoiceField(label=_("Chart of accounts"))
    language = forms.ChoiceField(
        label=_("Language of the account names"),
        choices=[("zh-hans", _("Simplified Chinese")), ("zh-hant", _("Traditional Chinese")),
                 ("en", _("English"))],
    )  # fmt: skip

    def __init__(self, *args: Any, templates: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = templates


class JournalForm(ShellForm):
    code = forms.CharField(label=_("Code"), max_length=10)
    name = forms.CharField(label=_("Name"), max_length=80)
    kind = forms.ChoiceField(label=_("Kind"), choices=Journal.Kind.choices)
    account = AccountChoiceField(
        label=_("Bank or cash account"),
        queryset=Account.unscoped.none(),
        required=False,
        help_text=_("The account bank and cash journals pay from and into."),
    )
    currency = forms.ModelChoiceField(
        label=_("Currency"), queryset=Currency.objects.none(), to_field_name="code", required=False
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = postable_accounts().filter(
            subtype__in=[AccountSubtype.BANK, AccountSubtype.CASH]
        )
        self.fields["currency"].queryset = _currencies()


class TaxForm(ShellForm):
    code = forms.CharField(label=_("Code"), max_length=20)
    name = forms.CharField(label=_("Name"), max_length=80)
    use = forms.ChoiceField(label=_("Used on"), choices=Tax.Use.choices)
    rate = forms.DecimalField(
        label=_("Rate (%)"), max_digits=8, decimal_places=4, min_value=0, max_value=1000
    )
    price_include = forms.BooleanField(label=_("Included in the price"), required=False)
    compound = forms.BooleanField(
        label=_("Compound (computed on the price plus the taxes before it)"), required=False
    )
    sequence = forms.IntegerField(label=_("Sequence"), min_value=0, max_value=32767, initial=10)
    account = AccountChoiceField(label=_("Tax account"), queryset=Account.unscoped.none())
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = postable_accounts()


class SettingsForm(ShellForm):
    tax_rounding = forms.ChoiceField(
        label=_("Tax rounding"), choices=FinanceSettings.TaxRounding.choices
    )
    rounding_mode = forms.ChoiceField(
        label=_("Rounding mode"), choices=FinanceSettings.RoundingMode.choices
    )
    dunning_fee = forms.DecimalField(label=_("Dunning fee"), min_value=0, **AMOUNT_FIELD)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = list(postable_accounts())
        journals = list(Journal.objects.filter(active=True).order_by("code"))
        for name in SETTINGS_ACCOUNTS:
            field = FinanceSettings._meta.get_field(name)
            self.fields[name] = forms.TypedChoiceField(
                label=str(field.verbose_name).capitalize(),
                choices=[("", "—"), *((str(a.pk), f"{a.code} {a.name}") for a in accounts)],
                coerce=int,
                empty_value=None,
                required=False,
            )
        for name in SETTINGS_JOURNALS:
            field = FinanceSettings._meta.get_field(name)
            self.fields[name] = forms.TypedChoiceField(
                label=str(field.verbose_name).capitalize(),
                choices=[("", "—"), *((str(j.pk), f"{j.code} {j.name}") for j in journals)],
                coerce=int,
                empty_value=None,
                required=False,
            )
        # ShellFormMixin styled the declared fields before these were added.
        for name in (*SETTINGS_ACCOUNTS, *SETTINGS_JOURNALS):
            self.fields[name].widget.attrs["class"] = "form-select"


class DunningLevelForm(ShellForm):
    level = forms.IntegerField(label=_("Level"), min_value=1, max_value=99)
    name = forms.CharField(label=_("Name"), max_length=80)
    days_overdue = forms.IntegerField(label=_("Days overdue"), min_value=0, max_value=3650)
    fee = forms.DecimalField(label=_("Fee"), min_value=0, initial=Decimal(0), **AMOUNT_FIELD)
    letter = forms.CharField(label=_("Letter text"), widget=forms.Textarea, required=False)


class FiscalYearForm(ShellForm):
    start = forms.DateField(
        label=_("First day"),
        widget=DateInput,
        help_text=_("The year gets twelve monthly periods from this day."),
    )


class RevaluationForm(ShellForm):
    date = forms.DateField(
        label=_("Revaluation date"),
        widget=DateInput,
        help_text=_(
            "Usually a period end: open foreign-currency items and foreign bank balances are "
            "revalued at that day's rates, and the entry is reversed the next day."
        ),
    )


# --- journal entries --------------------------------------------------------------------------


class EntryForm(ShellForm):
    journal = forms.TypedChoiceField(label=_("Journal"), coerce=int)
    date = forms.DateField(label=_("Date"), widget=DateInput)
    ref = forms.CharField(label=_("Reference"), max_length=120, required=False)
    narration = forms.CharField(
        label=_("Narration"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(self, *args: Any, journals: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["journal"].choices = journals


class EntryLineForm(forms.Form):
    """One line of the manual entry editor; an all-empty line is ignored."""

    account = forms.TypedChoiceField(label=_("Account"), coerce=int, required=False)
    label = forms.CharField(label=_("Label"), max_length=200, required=False)
    party = forms.CharField(label=_("Party (code)"), max_length=30, required=False)
    debit = forms.DecimalField(label=_("Debit"), min_value=0, required=False, **AMOUNT_FIELD)
    credit = forms.DecimalField(label=_("Credit"), min_value=0, required=False, **AMOUNT_FIELD)
    currency = forms.ChoiceField(label=_("Currency"), required=False)
    rate = forms.DecimalField(
        label=_("Rate"), max_digits=20, decimal_places=10, min_value=0, required=False
    )

    def __init__(
        self,
        *args: Any,
        accounts: list[tuple[str, str]],
        currencies: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", "—"), *accounts]
        self.fields["currency"].choices = currencies
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} form-control-sm"
            if name in ("debit", "credit", "rate"):
                field.widget.attrs["class"] += " text-end"
        self.fields["party"].widget.attrs["list"] = "party-options"
        live = {
            "hx-post": reverse("finance:entry_lines") + "?part=totals",
            "hx-trigger": "input changed delay:300ms, change",
            "hx-target": "#entry-totals",
            "hx-swap": "outerHTML",
        }
        for name in ("debit", "credit", "currency", "rate"):
            self.fields[name].widget.attrs.update(live)

    @property
    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not any(data.get(name) for name in ("account", "label", "party", "debit", "credit"))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.is_blank:
            return data
        if not data.get("account"):
            self.add_error("account", _("Choose the account."))
        if not data.get("debit") and not data.get("credit"):
            self.add_error("debit", _("Enter a debit or a credit."))
        if data.get("debit") and data.get("credit"):
            self.add_error("credit", _("A line has either a debit or a credit."))
        return data


EntryLineFormSet = forms.formset_factory(EntryLineForm, extra=0)


class ReverseForm(ShellForm):
    date = forms.DateField(
        label=_("Date of the reversal"),
        widget=DateInput,
        required=False,
        help_text=_("Empty: the entry's own date, or today when its period is closed."),
    )
    ref = forms.CharField(label=_("Reference"), max_length=120, required=False)


class ConfirmForm(ShellForm):
    confirm = forms.BooleanField(label=_("I understand this cannot be undone."), required=True)


def today() -> dt.date:
    return timezone.localdate()


# --- invoices ---------------------------------------------------------------------------------


class InvoiceForm(ShellForm):
    party = forms.TypedChoiceField(label=_("Party"), coerce=int)
    date = forms.DateField(label=_("Invoice date"), widget=DateInput)
    currency = forms.ChoiceField(label=_("Currency"), required=False)
    payment_term = forms.TypedChoiceField(
        label=_("Payment term"), coerce=int, empty_value=None, required=False
    )
    journal = forms.TypedChoiceField(
        label=_("Journal"), coerce=int, empty_value=None, required=False
    )
    reference = forms.CharField(label=_("Reference"), max_length=80, required=False)
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(
        self,
        *args: Any,
        parties: list[tuple[str, str]],
        terms: list[tuple[str, str]],
        journals: list[tuple[str, str]],
        currencies: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["party"].choices = [("", "—"), *parties]
        self.fields["payment_term"].choices = [("", _("The party's")), *terms]
        self.fields["journal"].choices = [("", _("The default journal")), *journals]
        self.fields["currency"].choices = [("", _("The party's")), *currencies]
        live = {
            "hx-post": reverse("finance:invoice_lines") + "?part=amounts",
            "hx-trigger": "change",
            "hx-target": "#invoice-totals",
            "hx-swap": "outerHTML",
        }
        for name in ("party", "currency"):
            self.fields[name].widget.attrs.update(live)


class InvoiceLineForm(forms.Form):
    """One line of the invoice editor; a line without product, description and price is
    ignored."""

    product = forms.CharField(label=_("Product (SKU)"), max_length=40, required=False)
    description = forms.CharField(label=_("Description"), max_length=300, required=False)
    account = forms.TypedChoiceField(
        label=_("Account"), coerce=int, empty_value=None, required=False
    )
    quantity = forms.DecimalField(
        label=_("Quantity"), max_digits=18, decimal_places=6, required=False
    )
    unit_price = forms.DecimalField(
        label=_("Unit price"), max_digits=18, decimal_places=6, required=False
    )
    discount = forms.DecimalField(
        label=_("Discount (%)"), max_digits=7, decimal_places=4, min_value=0, max_value=100,
        required=False,
    )  # fmt: skip
    taxes = forms.TypedMultipleChoiceField(label=_("Taxes"), coerce=int, required=False)

    def __init__(
        self,
        *args: Any,
        accounts: list[tuple[str, str]],
        taxes: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", _("Default")), *accounts]
        self.fields["taxes"].choices = taxes
        live = {
            "hx-post": reverse("finance:invoice_lines") + "?part=amounts",
            "hx-trigger": "input changed delay:400ms, change",
            "hx-target": "#invoice-totals",
            "hx-swap": "outerHTML",
        }
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{css} form-control-sm"
            if name in ("quantity", "unit_price", "discount"):
                field.widget.attrs["class"] += " text-end"
            if name in ("quantity", "unit_price", "discount", "taxes"):
                field.widget.attrs.update(live)
        self.fields["taxes"].widget.attrs["size"] = "2"
        self.fields["product"].widget.attrs["list"] = "product-options"

    @property
    def is_blank(self) -> bool:
        data = self.cleaned_data if hasattr(self, "cleaned_data") else {}
        return not any(
            data.get(n) not in (None, "") for n in ("product", "description", "unit_price")
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.is_blank:
            return data
        if data.get("unit_price") is None:
            self.add_error("unit_price", _("Enter the unit price."))
        return data


InvoiceLineFormSet = forms.formset_factory(InvoiceLineForm, extra=0)


class CreditNoteForm(ShellForm):
    date = forms.DateField(label=_("Date of the credit note"), widget=DateInput)
    post = forms.BooleanField(
        label=_("Post it now (it is then reconciled with the invoice)"), required=False
    )


class CancelForm(ShellForm):
    date = forms.DateField(
        label=_("Date of the reversal"),
        widget=DateInput,
        required=False,
        help_text=_("Empty: the invoice's own date, or today when its period is closed."),
    )
    confirm = forms.BooleanField(label=_("Cancel this document."), required=True)


# --- payments ---------------------------------------------------------------------------------


class PaymentForm(ShellForm):
    direction = forms.ChoiceField(label=_("Direction"))
    party = forms.TypedChoiceField(label=_("Party"), coerce=int)
    journal = forms.TypedChoiceField(label=_("Bank or cash journal"), coerce=int)
    date = forms.DateField(label=_("Date"), widget=DateInput)
    amount = forms.DecimalField(label=_("Amount"), min_value=0, **AMOUNT_FIELD)
    currency = forms.ChoiceField(label=_("Currency"), required=False)
    rate = forms.DecimalField(
        label=_("Exchange rate"),
        max_digits=20,
        decimal_places=10,
        min_value=0,
        required=False,
        help_text=_("Empty: the company's rate of the date."),
    )
    reference = forms.CharField(label=_("Reference"), max_length=120, required=False)
    memo = forms.CharField(label=_("Memo"), max_length=200, required=False)
    refund = forms.BooleanField(
        label=_("Refund"),
        required=False,
        help_text=_("Money paid back to a customer or received back from a supplier."),
    )
    invoice = forms.TypedChoiceField(
        label=_("Allocate to the invoice"), coerce=int, empty_value=None, required=False
    )

    def __init__(
        self,
        *args: Any,
        directions: list[tuple[str, str]],
        parties: list[tuple[str, str]],
        journals: list[tuple[str, str]],
        currencies: list[tuple[str, str]],
        invoices: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["direction"].choices = directions
        self.fields["party"].choices = [("", "—"), *parties]
        self.fields["journal"].choices = journals
        self.fields["currency"].choices = [("", _("The journal's")), *currencies]
        self.fields["invoice"].choices = [("", _("None (keep it open as credit)")), *invoices]


class StatementImportForm(ShellForm):
    journal = forms.TypedChoiceField(label=_("Bank journal"), coerce=int)
    file = forms.FileField(
        label=_("Statement file (CSV)"),
        help_text=_("Columns: date, amount, counterparty, account, reference (a header row)."),
    )

    def __init__(self, *args: Any, journals: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["journal"].choices = journals
