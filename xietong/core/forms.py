from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from xietong.core.models import Currency, Role
from xietong.core.selectors import roles_for_company
from xietong.core.ui.records import ShellForm


class DateInput(forms.DateInput):
    """A browser date picker; its value must be ISO whatever the language's date format."""

    input_type = "date"

    def __init__(self, attrs=None, format=None):  # type: ignore[no-untyped-def]  # noqa: A002
        super().__init__(attrs=attrs, format=format or "%Y-%m-%d")


class CompanyForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    legal_name = forms.CharField(label=_("Legal name"), max_length=200)
    tax_id = forms.CharField(label=_("Tax ID"), max_length=40, required=False)
    base_currency_id = forms.ModelChoiceField(
        label=_("Base currency"),
        queryset=Currency.objects.filter(active=True),
        to_field_name="code",
    )
    country = forms.CharField(label=_("Country (ISO code)"), max_length=2)
    timezone = forms.CharField(label=_("Time zone"), max_length=64)
    fiscal_year_start_month = forms.IntegerField(
        label=_("Fiscal year starts in month"), min_value=1, max_value=12
    )
    fiscal_year_start_day = forms.IntegerField(
        label=_("Fiscal year starts on day"), min_value=1, max_value=28
    )

    def clean_base_currency_id(self) -> str:
        return self.cleaned_data["base_currency_id"].code

    def clean_country(self) -> str:
        return self.cleaned_data["country"].upper()


class ExchangeRateForm(ShellForm):
    currency = forms.ModelChoiceField(
        label=_("Currency"), queryset=Currency.objects.filter(active=True), to_field_name="code"
    )
    date = forms.DateField(label=_("Date"), widget=DateInput)
    rate = forms.DecimalField(
        label=_("Rate"),
        max_digits=20,
        decimal_places=10,
        min_value=0,
        help_text=_("Units of the company's currency for one unit of this currency."),
    )
    source = forms.CharField(label=_("Source"), max_length=40, required=False)


class ImportForm(ShellForm):
    file = forms.FileField(
        label=_("CSV or XLSX file"),
        help_text=_("The first row names the columns; the export gives a file in this format."),
    )

    def clean_file(self):  # type: ignore[no-untyped-def]
        upload = self.cleaned_data["file"]
        if upload.size > 200 * 1024 * 1024:
            raise forms.ValidationError(_("The file is larger than 200 MB."))
        return upload


class UnitForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=60)
    rounding = forms.DecimalField(label=_("Rounding"), max_digits=16, decimal_places=6)
    active = forms.BooleanField(label=_("Active"), required=False)


class SequenceForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=80)
    pattern = forms.CharField(
        label=_("Pattern"),
        max_length=60,
        help_text=_("Fields: {year}, {yy}, {month}, {number} — e.g. SO{year}-{number:06d}"),
    )
    gap_free = forms.BooleanField(label=_("Gap-free"), required=False)


class RolesForm(ShellForm):
    """The roles a membership holds, chosen among the company's available roles."""

    roles = forms.ModelMultipleChoiceField(
        label=_("Roles"),
        queryset=Role.objects.none(),
        widget=forms.CheckboxSelectMultiple,
        to_field_name="code",
    )

    def __init__(self, *args, company=None, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.fields["roles"].queryset = roles_for_company(company=company)
        self.fields["roles"].widget.attrs["class"] = ""


class UserInviteForm(RolesForm):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    password = forms.CharField(label=_("Initial password"), widget=forms.PasswordInput, strip=False)

    field_order = ["username", "first_name", "last_name", "email", "password", "roles"]
