"""Forms of the party screens. They only parse input; the services check and write.

Querysets of company-owned rows are set in `__init__` (inside the request's company scope),
never at import time.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from xietong.core.models import Company, Currency
from xietong.core.ui.records import ShellForm
from xietong.party import selectors
from xietong.party.identifiers import scheme_choices
from xietong.party.models import (
    Address,
    Contact,
    Country,
    CustomerGroup,
    InvoicePolicy,
    Party,
    PaymentTerm,
)


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def format_value(self, value: Any) -> Any:
        return value.strftime("%Y-%m-%dT%H:%M") if hasattr(value, "strftime") else value


class CountryField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Country) -> str:  # type: ignore[override]
        return selectors.country_label(obj)


class RegionField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return selectors.region_label(obj)


class UserField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.username


def _countries() -> Any:
    return Country.objects.order_by("name")


DUPLICATE_CHECK = {
    "hx-get": reverse_lazy("party:duplicate_check"),
    "hx-trigger": "change",
    "hx-target": "#duplicate-check",
    "hx-include": "#id_name, #id_tax_id, #id_phone, #id_email, #id_exclude",
}


class PartyForm(ShellForm):
    """Create or edit a party (not its credit terms: CreditTermsForm)."""

    name = forms.CharField(label=_("Name"), max_length=200)
    legal_name = forms.CharField(label=_("Legal name"), max_length=200, required=False)
    code = forms.CharField(
        label=_("Code"),
        max_length=30,
        required=False,
        help_text=_("Leave empty to number the party automatically."),
    )
    kind = forms.ChoiceField(label=_("Kind"), choices=Party.Kind.choices)
    is_customer = forms.BooleanField(label=_("Customer"), required=False)
    is_supplier = forms.BooleanField(label=_("Supplier"), required=False)
    is_carrier = forms.BooleanField(label=_("Carrier"), required=False)
    country = CountryField(
        label=_("Country"), queryset=Country.objects.none(), to_field_name="code", required=False
    )
    tax_id = forms.CharField(label=_("Tax ID"), max_length=40, required=False)
    tax_scheme = forms.ChoiceField(
        label=_("Tax ID scheme"),
        required=False,
        help_text=_("Empty: the scheme of the party's country."),
    )
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    website = forms.URLField(label=_("Website"), required=False, assume_scheme="https")
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    currency = forms.ModelChoiceField(
        label=_("Currency"), queryset=Currency.objects.none(), to_field_name="code"
    )
    customer_group = forms.ModelChoiceField(
        label=_("Customer group"), queryset=CustomerGroup.unscoped.none(), required=False
    )
    price_list = forms.ModelChoiceField(
        label=_("Price list"), queryset=CustomerGroup.unscoped.none(), required=False
    )
    salesperson = UserField(
        label=_("Salesperson"), queryset=Currency.objects.none(), required=False
    )
    tags = forms.CharField(
        label=_("Tags"),
        max_length=400,
        required=False,
        help_text=_("Separated by commas; new tags are created."),
    )
    supplier_lead_days = forms.IntegerField(
        label=_("Supplier lead time (days)"), min_value=0, max_value=3650, required=False
    )
    invoice_policy = forms.ChoiceField(
        label=_("Invoicing policy"),
        choices=[("", _("The company's")), *InvoicePolicy.choices],
        required=False,
        help_text=_(
            "Invoice this customer's orders on the ordered quantities at once or on what was "
            "delivered. A product's own policy comes first; services are invoiced on order."
        ),
    )
    notes = forms.CharField(
        label=_("Notes"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    allow_duplicate = forms.BooleanField(
        label=_("This is a different party: create it anyway"), required=False
    )

    ROLES = ["is_customer", "is_supplier", "is_carrier"]
    SECTIONS = [
        (_("Identity"), ["name", "legal_name", "code", "kind", "country", "tax_id", "tax_scheme"]),
        (_("How to reach them"), ["email", "phone", "website", "language", "tags"]),
        (
            _("Commercial"),
            [
                "currency",
                "customer_group",
                "price_list",
                "invoice_policy",
                "salesperson",
                "supplier_lead_days",
            ],
        ),
        (_("More"), ["notes"]),
    ]

    def __init__(self, *args: Any, company: Company, creating: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].queryset = _countries()
        self.fields["tax_scheme"].choices = [("", _("From the country")), *scheme_choices()]
        self.fields["currency"].queryset = Currency.objects.filter(active=True).order_by("code")
        self.fields["customer_group"].queryset = CustomerGroup.objects.filter(active=True)
        price_list_model = Party._meta.get_field("price_list").related_model
        self.fields["price_list"].queryset = price_list_model.objects.filter(active=True)  # type: ignore[union-attr]
        self.fields["salesperson"].queryset = selectors.salespeople(company=company)
        if creating:
            for name in ("name", "tax_id", "phone", "email"):
                self.fields[name].widget.attrs.update(DUPLICATE_CHECK)
        else:
            del self.fields["allow_duplicate"]

    def clean_tags(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as the services take it."""
        data = dict(self.cleaned_data)
        data.pop("allow_duplicate", None)
        for name in ("country", "currency"):
            data[name] = data[name].code if data.get(name) else None
        return data

    @staticmethod
    def initial_for(party: Party) -> dict[str, Any]:
        return {
            "name": party.name,
            "legal_name": party.legal_name,
            "code": party.code,
            "kind": party.kind,
            "is_customer": party.is_customer,
            "is_supplier": party.is_supplier,
            "is_carrier": party.is_carrier,
            "country": party.country_id,
            "tax_id": party.tax_id,
            "tax_scheme": party.tax_scheme,
            "email": party.email,
            "phone": party.phone,
            "website": party.website,
            "language": party.language,
            "currency": party.currency_id,
            "customer_group": party.customer_group_id,
            "price_list": party.price_list_id,
            "salesperson": party.salesperson_id,
            "tags": ", ".join(t.name for t in party.tags.all()),
            "supplier_lead_days": party.supplier_lead_days,
            "invoice_policy": party.invoice_policy,
            "notes": party.notes,
        }

    def roles(self) -> list[Any]:
        return [self[name] for name in self.ROLES]

    def sections(self) -> list[tuple[Any, list[Any]]]:
        return [
            (title, [self[name] for name in names if name in self.fields])
            for title, names in self.SECTIONS
        ]


class CreditTermsForm(ShellForm):
    credit_limit = forms.DecimalField(
        label=_("Credit limit"),
        max_digits=18,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("Empty: no limit."),
    )
    payment_term = forms.ModelChoiceField(
        label=_("Payment term"), queryset=PaymentTerm.unscoped.none(), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["payment_term"].queryset = PaymentTerm.objects.filter(active=True)


class ContactForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    role = forms.CharField(label=_("Role"), max_length=80, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    mobile = forms.CharField(label=_("Mobile"), max_length=40, required=False)
    wechat = forms.CharField(label=_("WeChat ID"), max_length=60, required=False)
    preferred_channel = forms.ChoiceField(
        label=_("Preferred channel"), choices=Contact.Channel.choices
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    is_primary = forms.BooleanField(label=_("Primary contact"), required=False)
    opt_out = forms.BooleanField(label=_("No marketing"), required=False)

    @staticmethod
    def initial_for(contact: Contact) -> dict[str, Any]:
        return {name: getattr(contact, name) for name in ContactForm.base_fields}


class AddressForm(ShellForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=Address.Kind.choices)
    street = forms.CharField(label=_("Street"), max_length=200)
    street2 = forms.CharField(label=_("Street (line 2)"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=80)
    postal_code = forms.CharField(label=_("Postal code"), max_length=20, required=False)
    country = CountryField(
        label=_("Country"), queryset=Country.objects.none(), to_field_name="code"
    )
    region = RegionField(label=_("Region"), queryset=Country.objects.none(), required=False)
    is_default = forms.BooleanField(label=_("Default address of this kind"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].queryset = _countries()
        self.fields["country"].widget.attrs.update(
            {
                "hx-get": reverse_lazy("party:region_options"),
                "hx-target": "#id_region",
                "hx-trigger": "change",
            }
        )
        if self.is_bound:
            country = (self.data.get("country") or "").upper()
        else:
            country = self.initial.get("country") or ""
        self.fields["region"].queryset = selectors.regions(country=country or "-")

    @staticmethod
    def initial_for(address: Address) -> dict[str, Any]:
        return {
            "kind": address.kind,
            "street": address.street,
            "street2": address.street2,
            "city": address.city,
            "postal_code": address.postal_code,
            "country": address.country_id,
            "region": address.region_id,
            "is_default": address.is_default,
        }

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["country"] = data["country"].code if data.get("country") else None
        return data


class BankAccountForm(ShellForm):
    bank_name = forms.CharField(label=_("Bank"), max_length=120)
    account_number = forms.CharField(
        label=_("Account number or IBAN"),
        max_length=40,
        help_text=_("An IBAN is checked and stored without spaces."),
    )
    holder = forms.CharField(label=_("Account holder"), max_length=120, required=False)
    swift = forms.CharField(label=_("SWIFT/BIC"), max_length=11, required=False)
    currency = forms.ModelChoiceField(
        label=_("Currency"), queryset=Currency.objects.none(), to_field_name="code", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["currency"].queryset = Currency.objects.filter(active=True).order_by("code")

    def service_fields(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["currency"] = data["currency"].code if data.get("currency") else None
        return data


class CustomerGroupForm(ShellForm):
    code = forms.SlugField(label=_("Code"), max_length=30)
    name = forms.CharField(label=_("Name"), max_length=80)
    max_discount_percent = forms.DecimalField(
        label=_("Discount without approval (%)"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=100,
        help_text=_("Sales reps may give up to this discount; above it, an approval is needed."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class PaymentTermForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=80)
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class PaymentTermLineForm(ShellForm):
    percent = forms.DecimalField(
        label=_("Share (%)"),
        max_digits=6,
        decimal_places=3,
        required=False,
        validators=[MinValueValidator(Decimal("0.001")), MaxValueValidator(100)],
    )
    days = forms.IntegerField(
        label=_("Days after invoice"), min_value=0, max_value=3650, required=False
    )
    discount_percent = forms.DecimalField(
        label=_("Early-payment discount (%)"),
        max_digits=5,
        decimal_places=2,
        min_value=0,
        max_value=99,
        required=False,
    )
    discount_days = forms.IntegerField(
        label=_("Discount if paid within (days)"), min_value=0, max_value=3650, required=False
    )


PaymentTermLineFormSet = forms.formset_factory(PaymentTermLineForm, extra=0, max_num=12)


def term_lines_from(formset: forms.BaseFormSet) -> list[dict[str, Any]]:
    """The filled rows of the lines formset, as the payment-term services take them."""
    return [
        {
            "percent": form.cleaned_data["percent"],
            "days": form.cleaned_data.get("days") or 0,
            "discount_percent": form.cleaned_data.get("discount_percent") or 0,
            "discount_days": form.cleaned_data.get("discount_days") or 0,
        }
        for form in formset.forms
        if form.cleaned_data and form.cleaned_data.get("percent") is not None
    ]


class TimelineFilterForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=DateInput)
    date_to = forms.DateField(label=_("To"), required=False, widget=DateInput)

    def __init__(self, *args: Any, party: Party, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = [
            ("", _("All")),
            *selectors.timeline_kind_choices(party=party),
        ]
        for field in self.fields.values():
            base = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            field.widget.attrs["class"] = f"{base} form-select-sm form-control-sm"


class TimelineNoteForm(ShellForm):
    summary = forms.CharField(label=_("Note"), max_length=255)
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=DateTimeInput,
        help_text=_("Empty: now."),
    )


class MergeForm(ShellForm):
    duplicate = forms.IntegerField(widget=forms.HiddenInput)
    confirm = forms.BooleanField(
        label=_(
            "I understand: the duplicate is deactivated and everything that refers to it "
            "moves to this party. This cannot be undone."
        ),
    )
