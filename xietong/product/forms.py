"""Forms of the catalogue and pricing screens. They only parse input; the services validate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xietong.core.models import Currency, UnitOfMeasure
from xietong.core.ui.records import ShellForm
from xietong.party.models import CustomerGroup, InvoicePolicy, Party
from xietong.product.models import Attribute, Category, PriceList, PriceRule, Product, Variant
from xietong.product.selectors import category_descendant_ids
from xietong.product.services import LANGUAGES

LANGUAGE_LABELS = {
    "en": _("English"),
    "zh-hans": _("Simplified Chinese"),
    "zh-hant": _("Traditional Chinese"),
}


class DateInput(forms.DateInput):
    """A browser date picker: its value is always ISO 8601, whatever the language."""

    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%d")


def _field_name(prefix: str, language: str) -> str:
    return f"{prefix}_{language.replace('-', '_')}"


def _plain(value: Any) -> Any:
    """Decimals without trailing zeros (1699, not 1699.000000) for the form to show."""
    if isinstance(value, Decimal):
        return Decimal(f"{value.normalize():f}")
    return value


class UnitChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: UnitOfMeasure) -> str:
        return f"{obj.code} — {obj.name} ({obj.category.name})"


def _units() -> Any:
    return UnitOfMeasure.objects.filter(active=True).select_related("category")


def _decimal(label: Any, *, required: bool = False, **kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=required, max_digits=18, decimal_places=6, **kwargs
    )


class CategoryChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Category) -> str:
        return obj.path


class ProductForm(ShellForm):
    """All editable fields of a product, in the sections of `SECTIONS`."""

    sku = forms.CharField(label=_("SKU"), max_length=40)
    name = forms.CharField(
        label=_("Name"),
        max_length=200,
        help_text=_("Shown when there is no translation for the reader's language."),
    )
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    category = CategoryChoiceField(
        label=_("Category"), queryset=Category.unscoped.none(), required=False
    )
    type = forms.ChoiceField(label=_("Type"), choices=Product.Type.choices)
    supply = forms.ChoiceField(label=_("Make or buy"), choices=Product.Supply.choices)
    tracking = forms.ChoiceField(label=_("Tracking"), choices=Product.Tracking.choices)
    list_price = _decimal(
        _("List price (company currency, per stock unit)"), min_value=0, initial=0
    )
    is_configurable = forms.BooleanField(label=_("Configurable"), required=False)
    invoice_policy = forms.ChoiceField(
        label=_("Invoicing policy"),
        choices=[("", _("The customer's or the company's")), *InvoicePolicy.choices],
        required=False,
        help_text=_(
            "Invoice order lines of this product on the ordered quantities at once (e.g. made "
            "to order) or on what was delivered, whoever the customer. Services are always "
            "invoiced on order."
        ),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)

    uom = UnitChoiceField(label=_("Stock unit"), queryset=UnitOfMeasure.objects.none())
    purchase_uom = UnitChoiceField(
        label=_("Purchase unit"),
        queryset=UnitOfMeasure.objects.none(),
        required=False,
        help_text=_("Empty: the stock unit."),
    )
    sales_uom = UnitChoiceField(
        label=_("Sales unit"),
        queryset=UnitOfMeasure.objects.none(),
        required=False,
        help_text=_("Empty: the stock unit. Prices and quantity breaks are per sales unit."),
    )
    barcode = forms.CharField(
        label=_("Barcode"),
        max_length=40,
        required=False,
        help_text=_("EAN-13, EAN-8, UPC-A or GTIN-14 (check digit verified), or an internal code."),
    )
    weight_kg = _decimal(_("Weight (kg)"), min_value=0)
    volume_m3 = _decimal(_("Volume (m³)"), min_value=0)

    purchase_lead_days = forms.IntegerField(
        label=_("Purchase lead time (days)"), min_value=0, max_value=32767, initial=0
    )
    manufacturing_lead_days = forms.IntegerField(
        label=_("Manufacturing lead time (days)"), min_value=0, max_value=32767, initial=0
    )
    safety_stock = _decimal(_("Safety stock"), required=True, min_value=0, initial=0)
    min_qty = _decimal(_("Minimum stock"), required=True, min_value=0, initial=0)
    max_qty = _decimal(_("Maximum stock"), required=True, min_value=0, initial=0)
    lot_sizing = forms.ChoiceField(label=_("Lot sizing"), choices=Product.LotSizing.choices)
    lot_size = _decimal(
        _("Lot size"),
        required=True,
        min_value=0,
        initial=0,
        help_text=_(
            "Fixed or economic order quantity; for periods of supply, the number of periods."
        ),
    )
    lot_multiple = _decimal(_("Order multiple"), required=True, min_value=0, initial=0)

    SECTIONS = [
        (
            _("General"),
            [
                "sku",
                "name",
                "description",
                "category",
                "type",
                "supply",
                "tracking",
                "list_price",
                "invoice_policy",
                "is_configurable",
                "active",
            ],
        ),
        (_("Names and descriptions in other languages"), []),  # filled in __init__
        (
            _("Units and logistics"),
            ["uom", "purchase_uom", "sales_uom", "barcode", "weight_kg", "volume_m3"],
        ),
        (
            _("Planning"),
            [
                "purchase_lead_days",
                "manufacturing_lead_days",
                "safety_stock",
                "min_qty",
                "max_qty",
                "lot_sizing",
                "lot_size",
                "lot_multiple",
            ],
        ),
    ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names, descriptions = [], []
        for language in LANGUAGES:
            label = LANGUAGE_LABELS[language]
            name = _field_name("name", language)
            self.fields[name] = forms.CharField(
                label=_("Name (%(language)s)") % {"language": label}, max_length=200, required=False
            )
            description = _field_name("description", language)
            self.fields[description] = forms.CharField(
                label=_("Description (%(language)s)") % {"language": label},
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
            )
            names.append(name)
            descriptions.append(description)
            for field in (name, description):
                self.fields[field].widget.attrs["class"] = "form-control"
        self.sections = [
            (title, [self[name] for name in fields or names + descriptions])
            for title, fields in self.SECTIONS
        ]
        self.fields["category"].queryset = Category.objects.all()
        for field in ("uom", "purchase_uom", "sales_uom"):
            self.fields[field].queryset = _units()

    @classmethod
    def initial_for(cls, product: Product) -> dict[str, Any]:
        initial = {name: _plain(getattr(product, name)) for name in cls.base_fields}
        for field in ("category", "uom", "purchase_uom", "sales_uom"):
            initial[field] = getattr(product, f"{field}_id")
        for language in LANGUAGES:
            initial[_field_name("name", language)] = product.name_i18n.get(language, "")
            initial[_field_name("description", language)] = product.description_i18n.get(
                language, ""
            )
        return initial

    def service_fields(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments of product_create / product_update."""
        data = {name: self.cleaned_data[name] for name in self.base_fields}
        data["name_i18n"] = {
            language: self.cleaned_data[_field_name("name", language)] for language in LANGUAGES
        }
        data["description_i18n"] = {
            language: self.cleaned_data[_field_name("description", language)]
            for language in LANGUAGES
        }
        return data


class CategoryForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=120)
    parent = CategoryChoiceField(
        label=_("Parent category"),
        queryset=Category.unscoped.none(),
        required=False,
        help_text=_("Empty: a top-level category."),
    )

    def __init__(self, *args: Any, category: Category | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        queryset = Category.objects.all()
        if category is not None:  # it cannot move under itself or its sub-categories
            queryset = queryset.exclude(pk__in=category_descendant_ids(category))
        self.fields["parent"].queryset = queryset


class AttributeForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=60)
    values = forms.CharField(
        label=_("Values"),
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_(
            "One per line: CODE = name, e.g. “RED = Red”. Codes become part of variant SKUs."
        ),
    )

    @staticmethod
    def values_text(attribute: Attribute) -> str:
        return "\n".join(f"{v.code} = {v.name}" for v in attribute.values.all())

    def clean_values(self) -> list[tuple[str, str]]:
        pairs = []
        for number, line in enumerate(self.cleaned_data["values"].splitlines(), start=1):
            if not line.strip():
                continue
            code, sep, name = line.partition("=")
            if not sep:
                raise forms.ValidationError(
                    _("Line %(line)d: write CODE = name.") % {"line": number}
                )
            pairs.append((code.strip(), name.strip()))
        return pairs


class VariantGenerateForm(ShellForm):
    """One checkbox per attribute value and an optional price extra for each."""

    def __init__(self, *args: Any, attributes: list[Attribute], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.attributes = attributes
        self.groups = []
        for attribute in attributes:
            rows = []
            for value in attribute.values.all():
                pick, extra = f"value_{value.pk}", f"extra_{value.pk}"
                self.fields[pick] = forms.BooleanField(label=value.name, required=False)
                self.fields[extra] = forms.DecimalField(
                    label=_("Price extra for %(value)s") % {"value": value.name},
                    required=False,
                    max_digits=18,
                    decimal_places=6,
                )
                self.fields[extra].widget.attrs.update(
                    {"class": "form-control form-control-sm", "placeholder": "0"}
                )
                rows.append({"value": value, "pick": self[pick], "extra": self[extra]})
            self.groups.append({"attribute": attribute, "rows": rows})

    def chosen(self) -> tuple[list[Any], dict[int, Decimal]]:
        values, extras = [], {}
        for group in self.groups:
            for row in group["rows"]:
                value = row["value"]
                if self.cleaned_data.get(f"value_{value.pk}"):
                    values.append(value)
                    extra = self.cleaned_data.get(f"extra_{value.pk}")
                    if extra:
                        extras[value.pk] = extra
        return values, extras


class VariantForm(ShellForm):
    sku = forms.CharField(label=_("SKU"), max_length=60)
    barcode = forms.CharField(label=_("Barcode"), max_length=40, required=False)
    price_extra = forms.DecimalField(
        label=_("Price extra (company currency, per stock unit)"), max_digits=18, decimal_places=6
    )
    active = forms.BooleanField(label=_("Active"), required=False)


class CostForm(ShellForm):
    cost = forms.DecimalField(
        label=_("Standard cost (company currency, per stock unit)"),
        max_digits=18,
        decimal_places=6,
        min_value=0,
    )
    date = forms.DateField(label=_("Valid from"), widget=DateInput, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=120, required=False)


class PriceListForm(ShellForm):
    name = forms.CharField(label=_("Name"), max_length=80)
    currency = forms.ModelChoiceField(
        label=_("Currency"),
        queryset=Currency.objects.filter(active=True),
        to_field_name="code",
        help_text=_("Prices of this list are in this currency, whatever the party's currency."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    is_default = forms.BooleanField(
        label=_("Company default"),
        required=False,
        help_text=_("Used for parties without a price list of their own."),
    )


class ProductChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Product) -> str:
        return f"{obj.sku} — {obj.display_name}"


class PriceRuleForm(ShellForm):
    sequence = forms.IntegerField(
        label=_("Sequence"),
        min_value=0,
        initial=10,
        help_text=_("Among equally specific rules, the lower sequence wins."),
    )
    product = ProductChoiceField(
        label=_("Product"), queryset=Product.unscoped.none(), required=False
    )
    variant = forms.ModelChoiceField(
        label=_("Variant"),
        queryset=Variant.unscoped.none(),
        required=False,
        help_text=_("Empty product, variant and category: the rule is for all products."),
    )
    category = CategoryChoiceField(
        label=_("Category (with its sub-categories)"),
        queryset=Category.unscoped.none(),
        required=False,
    )
    customer_group = forms.ModelChoiceField(
        label=_("Customer group"),
        queryset=CustomerGroup.unscoped.none(),
        required=False,
        help_text=_("Empty: for every customer."),
    )
    min_qty = _decimal(_("Minimum quantity (sales unit)"), required=True, min_value=0, initial=0)
    date_from = forms.DateField(label=_("Valid from"), widget=DateInput, required=False)
    date_to = forms.DateField(label=_("Valid until"), widget=DateInput, required=False)
    method = forms.ChoiceField(label=_("Method"), choices=PriceRule.Method.choices)
    fixed_price = _decimal(_("Fixed price (list currency, per sales unit)"))
    discount_percent = forms.DecimalField(
        label=_("Discount on list price (%)"), required=False, max_digits=7, decimal_places=3
    )
    margin_percent = forms.DecimalField(
        label=_("Margin on standard cost (%)"), required=False, max_digits=7, decimal_places=3
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(active=True)
        self.fields["variant"].queryset = Variant.objects.filter(active=True)
        self.fields["category"].queryset = Category.objects.all()
        self.fields["customer_group"].queryset = CustomerGroup.objects.all()

    @classmethod
    def initial_for(cls, rule: PriceRule) -> dict[str, Any]:
        initial = {name: _plain(getattr(rule, name)) for name in cls.base_fields}
        for field in ("product", "variant", "category", "customer_group"):
            initial[field] = getattr(rule, f"{field}_id")
        return initial

    def service_fields(self) -> dict[str, Any]:
        return dict(self.cleaned_data)


class PartyChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Party) -> str:
        return f"{obj.code} — {obj.name}"


class PriceCheckForm(ShellForm):
    """Which price would this party pay? (the product's Prices tab)"""

    party = PartyChoiceField(
        label=_("Customer"),
        queryset=Party.unscoped.none(),
        required=False,
        empty_label=_("(no customer)"),
    )
    variant = forms.ModelChoiceField(
        label=_("Variant"),
        queryset=Variant.unscoped.none(),
        required=False,
        empty_label=_("(the product itself)"),
    )
    quantity = forms.DecimalField(
        label=_("Quantity"),
        max_digits=18,
        decimal_places=6,
        min_value=Decimal("0.000001"),
        initial=1,
    )
    date = forms.DateField(label=_("Date"), widget=DateInput)
    price_list = forms.ModelChoiceField(
        label=_("Price list"),
        queryset=PriceList.unscoped.none(),
        required=False,
        empty_label=_("(the customer's, or the default)"),
    )

    def __init__(self, *args: Any, product: Product, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"quantity": 1, "date": timezone.localdate()})
        super().__init__(*args, **kwargs)
        self.fields["party"].queryset = Party.objects.filter(
            is_customer=True, active=True
        ).order_by("code")
        self.fields["variant"].queryset = Variant.objects.filter(product=product, active=True)
        self.fields["price_list"].queryset = PriceList.objects.filter(active=True)
