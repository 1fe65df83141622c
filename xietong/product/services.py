"""Writes of the product catalogue: categories, products, attributes and their values, variants,
and costs (standard cost and the moving average inventory maintains). Price lists and their
rules are written by `xietong.product.pricing`.

Each service takes keyword-only arguments and the acting user as `actor` (named in the audit
trail), validates everything first and raises `ValidationError({field: [messages]})` without
changing anything, then writes in one transaction. Services work with or without an active
company scope: the company comes from the arguments, and another company's rows are refused
with a field error.

Money amounts on products (list price, standard and average cost, variant price extras) are in
the company's base currency, per stock unit of the product.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from auditlog.registry import auditlog
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from stdnum import ean
from stdnum.exceptions import ValidationError as StdnumError

from xietong.core.audit import audited
from xietong.core.models import Company, UnitOfMeasure, User
from xietong.product.models import (
    Attribute,
    AttributeValue,
    Bom,
    BomLine,
    Category,
    CostRecord,
    PriceList,
    PriceRule,
    Product,
    Variant,
)
from xietong.product.selectors import CATEGORY_SEPARATOR, product_convert  # noqa: F401

LANGUAGES = ("en", "zh-hans", "zh-hant")
"""The languages of translated names and descriptions (`name_i18n`, `description_i18n`)."""

COST_PLACES = Decimal("0.000001")
Errors = dict[str, list[str]]


def _audit(model: Any, *, exclude: Sequence[str] = (), **options: Any) -> None:
    """Register `model` with the audit trail, tracking its own columns only (not the reverse
    relations django-auditlog would otherwise list on creation and deletion)."""
    fields = [f.name for f in model._meta.concrete_fields if f.name not in {"id", *exclude}]
    auditlog.register(model, include_fields=fields, **options)


_audit(Category, exclude=["path"])
_audit(Product, exclude=["low_level_code"])
_audit(Attribute)
_audit(AttributeValue)
_audit(Variant, m2m_fields={"values"})
_audit(CostRecord)
_audit(PriceList)
_audit(PriceRule)


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _same_company(errors: Errors, field: str, obj: Any, company_id: int) -> None:
    if obj is not None and obj.company_id != company_id:
        _add(errors, field, _("Choose a record of your own company."))


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _model_errors(obj: Any, errors: Errors, exclude: Sequence[str] = ()) -> None:
    """Field checks of the model (choices, lengths, digits) added to `errors`; fields that
    already have an error are not checked twice."""
    try:
        obj.full_clean(
            exclude=["company", *errors, *exclude],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)


def _decimal(
    errors: Errors, field: str, value: Any, *, minimum: Decimal | None = Decimal(0)
) -> Any:
    """`value` as a Decimal (None stays None), with an error when it is not a number or below
    `minimum`."""
    if value is None or isinstance(value, Decimal):
        number = value
    elif isinstance(value, float):
        _add(errors, field, _("Enter a number."))
        return value
    else:
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            _add(errors, field, _("Enter a number."))
            return value
    if number is not None and not number.is_finite():
        _add(errors, field, _("Enter a number."))
    elif number is not None and minimum is not None and number < minimum:
        _add(errors, field, _("Must be at least %(min)s.") % {"min": minimum})
    return number


def _translations(errors: Errors, field: str, value: Any) -> dict[str, str]:
    """A clean translation map: known language codes only, texts stripped, empty ones dropped."""
    if value in (None, ""):
        return {}
    if not isinstance(value, Mapping):
        _add(errors, field, _("Give the translations as language code → text."))
        return {}
    clean: dict[str, str] = {}
    for code, text in value.items():
        if code not in LANGUAGES:
            _add(
                errors,
                field,
                _("Unknown language “%(code)s”; use %(codes)s.")
                % {"code": code, "codes": ", ".join(LANGUAGES)},
            )
        elif text is not None and not isinstance(text, str):
            _add(errors, field, _("Each translation must be text."))
        elif text and text.strip():
            clean[code] = text.strip()
    return clean


def barcode_validate(barcode: str) -> str | None:
    """The problem with a barcode, or None. Numeric codes of EAN-8, UPC-A, EAN-13 or GTIN-14
    length must carry a valid check digit; other codes (internal labels) are accepted."""
    if not barcode:
        return None
    if any(ch.isspace() for ch in barcode):
        return _("A barcode has no spaces.")
    if barcode.isdigit() and len(barcode) in (8, 12, 13, 14):
        try:
            ean.validate(barcode)
        except StdnumError:
            return _("“%(code)s” is not a valid EAN/UPC code: its check digit is wrong.") % {
                "code": barcode
            }
    return None


def _barcode_check(
    errors: Errors, barcode: str, company_id: int, *, product: Any, variant: Any
) -> None:
    problem = barcode_validate(barcode)
    if problem:
        _add(errors, "barcode", problem)
        return
    if not barcode:
        return
    products = Product.unscoped.filter(company_id=company_id, barcode=barcode)
    variants = Variant.unscoped.filter(company_id=company_id, barcode=barcode)
    if product is not None and product.pk:
        products = products.exclude(pk=product.pk)
    if variant is not None and variant.pk:
        variants = variants.exclude(pk=variant.pk)
    other = (
        products.values_list("sku", flat=True).first()
        or variants.values_list("sku", flat=True).first()
    )
    if other:
        _add(errors, "barcode", _("%(sku)s already has this barcode.") % {"sku": other})


def sku_shape_check(errors: Errors, sku: str) -> bool:
    """Whether `sku` is given and has no spaces (else an error on "sku")."""
    if not sku:
        _add(errors, "sku", _("Give a SKU."))
        return False
    if any(ch.isspace() for ch in sku):
        _add(errors, "sku", _("A SKU has no spaces."))
        return False
    return True


def _sku_check(errors: Errors, sku: str, company_id: int, *, product: Any, variant: Any) -> None:
    if not sku_shape_check(errors, sku):
        return
    products = Product.unscoped.filter(company_id=company_id, sku__iexact=sku)
    variants = Variant.unscoped.filter(company_id=company_id, sku__iexact=sku)
    if product is not None and product.pk:
        products = products.exclude(pk=product.pk)
    if variant is not None and variant.pk:
        variants = variants.exclude(pk=variant.pk)
    if products.exists():
        _add(errors, "sku", _("Another product already has the SKU “%(sku)s”.") % {"sku": sku})
    elif variants.exists():
        _add(errors, "sku", _("A variant already has the SKU “%(sku)s”.") % {"sku": sku})


# --- categories -------------------------------------------------------------------------------


def _category_path(name: str, parent: Category | None) -> str:
    return f"{parent.path}{CATEGORY_SEPARATOR}{name}" if parent else name


def _category_validate(category: Category, errors: Errors) -> None:
    name = category.name
    if not name:
        _add(errors, "name", _("Give the category a name."))
    elif "/" in name:
        _add(errors, "name", _("A category name cannot contain “/”."))
    parent = category.parent
    _same_company(errors, "parent", parent, category.company_id)
    if parent is not None and category.pk and "parent" not in errors:
        node: Category | None = parent
        loop = []
        while node is not None:
            loop.append(node.name)
            if node.pk == category.pk:
                raise ValidationError(
                    {
                        "parent": [
                            _(
                                "“%(name)s” cannot be placed under itself or one of its "
                                "sub-categories: %(loop)s."
                            )
                            % {
                                "name": category.name,
                                "loop": " → ".join([*reversed(loop), category.name]),
                            }
                        ]
                    }
                )
            node = node.parent
    if "name" not in errors:
        siblings = Category.unscoped.filter(
            company_id=category.company_id, parent=parent, name__iexact=name
        ).exclude(pk=category.pk)
        if siblings.exists():
            _add(errors, "name", _("There is already a category “%(name)s” here.") % {"name": name})
        if len(_category_path(name, parent)) > Category._meta.get_field("path").max_length:
            _add(errors, "name", _("The category tree is too deep for this name."))
    _model_errors(category, errors, exclude=["path"])


def _category_repath(category: Category) -> None:
    """Write the paths of every category below `category` from its (already saved) path."""
    changed = []
    level = [category]
    while level:
        children = list(
            Category.unscoped.filter(parent_id__in=[c.pk for c in level]).select_related("parent")
        )
        by_pk = {c.pk: c for c in level}
        for child in children:
            child.path = _category_path(child.name, by_pk[child.parent_id])
            changed.append(child)
        level = children
    Category.unscoped.bulk_update(changed, ["path"], batch_size=500)


@audited
def category_create(
    *, company: Company, actor: User | None, name: str, parent: Category | None = None
) -> Category:
    """Create a category (under `parent` when given). Raises ValidationError."""
    category = Category(company=company, name=(name or "").strip(), parent=parent)
    errors: Errors = {}
    _category_validate(category, errors)
    _raise(errors)
    category.path = _category_path(category.name, parent)
    with transaction.atomic():
        category.save()
    return category


_UNSET: Any = object()


@audited
def category_update(
    *,
    category: Category,
    actor: User | None,
    name: str | None = None,
    parent: Category | None = _UNSET,
) -> Category:
    """Rename or move a category; the paths of it and everything below follow. A move under
    itself or one of its sub-categories is refused, naming the loop. Raises ValidationError."""
    before = (category.name, category.parent)
    if name is not None:
        category.name = name.strip()
    if parent is not _UNSET:
        category.parent = parent
    errors: Errors = {}
    try:
        _category_validate(category, errors)
        _raise(errors)
    except ValidationError:
        category.name, category.parent = before
        raise
    category.path = _category_path(category.name, category.parent)
    with transaction.atomic():
        category.save()
        _category_repath(category)
    return category


@audited
def category_delete(*, category: Category, actor: User | None) -> None:
    """Delete an unused category: refused while it has sub-categories, products or price rules."""
    errors: Errors = {}
    children = Category.unscoped.filter(parent=category).count()
    if children:
        _add(
            errors,
            "category",
            _("It has %(count)d sub-categories; move or delete them first.") % {"count": children},
        )
    products = Product.unscoped.filter(category=category).count()
    if products:
        _add(
            errors,
            "category",
            _("%(count)d products are in this category; move them first.") % {"count": products},
        )
    if PriceRule.objects.filter(category=category).exists():
        _add(errors, "category", _("Price rules use this category; change them first."))
    _raise(errors)
    with transaction.atomic():
        category.delete()


# --- products ---------------------------------------------------------------------------------

PRODUCT_FIELDS = {
    "sku",
    "name",
    "name_i18n",
    "description",
    "description_i18n",
    "category",
    "type",
    "uom",
    "purchase_uom",
    "sales_uom",
    "barcode",
    "weight_kg",
    "volume_m3",
    "tracking",
    "supply",
    "purchase_lead_days",
    "inspection_required",
    "manufacturing_lead_days",
    "safety_stock",
    "min_qty",
    "max_qty",
    "lot_sizing",
    "lot_size",
    "lot_multiple",
    "list_price",
    "is_configurable",
    "invoice_policy",
    "active",
}
DECIMAL_FIELDS = (
    "safety_stock",
    "min_qty",
    "max_qty",
    "lot_size",
    "lot_multiple",
    "list_price",
)
OPTIONAL_DECIMAL_FIELDS = ("weight_kg", "volume_m3")


PRODUCT_LINKS = ("category", "uom", "purchase_uom", "sales_uom")


def product_validate(
    product: Product,
    errors: Errors,
    *,
    before: Product | None = None,
    in_bulk: bool = False,
) -> None:
    """Normalise and check a product whose fields are set (adds to `errors`).

    `in_bulk` (imports) skips every check that queries the database — SKU and barcode
    uniqueness, a unit change of a product used in BOMs, the existence of linked rows — because
    the caller checks those against lookups it loaded once for the whole file."""
    company_id = product.company_id
    product.sku = (product.sku or "").strip()
    product.name = (product.name or "").strip()
    product.barcode = (product.barcode or "").strip()
    if in_bulk:
        sku_shape_check(errors, product.sku)
    else:
        _sku_check(errors, product.sku, company_id, product=product, variant=None)
    if not product.name:
        _add(errors, "name", _("Give the product a name."))
    product.name_i18n = _translations(errors, "name_i18n", product.name_i18n)
    product.description_i18n = _translations(errors, "description_i18n", product.description_i18n)
    _same_company(errors, "category", product.category, company_id)
    for field in DECIMAL_FIELDS:
        setattr(product, field, _decimal(errors, field, getattr(product, field)))
    for field in OPTIONAL_DECIMAL_FIELDS:
        setattr(product, field, _decimal(errors, field, getattr(product, field)))

    # Units: purchase and sales units measure what the stock unit measures.
    uom: UnitOfMeasure | None = product.uom if product.uom_id else None
    if uom is None:
        _add(errors, "uom", _("Choose the stock unit."))
    else:
        if not uom.active and (before is None or before.uom_id != uom.pk):
            _add(errors, "uom", _("This unit is not active."))
        if not in_bulk and before is not None and before.uom.category_id != uom.category_id:
            used = (
                BomLine.objects.filter(component_id=product.pk).exists()
                or Bom.unscoped.filter(product_id=product.pk).exists()
            )
            if used:
                _add(
                    errors,
                    "uom",
                    _(
                        "Bills of materials count this product in %(unit)s; the stock unit can "
                        "only change to a unit of the same kind."
                    )
                    % {"unit": before.uom.code},
                )
        for field in ("purchase_uom", "sales_uom"):
            other = getattr(product, field)
            if other is not None and other.category_id != uom.category_id:
                _add(
                    errors,
                    field,
                    _(
                        "%(unit)s measures %(other_kind)s, but the stock unit %(stock)s measures "
                        "%(kind)s; choose a unit of the same kind."
                    )
                    % {
                        "unit": other.code,
                        "other_kind": other.category.name,
                        "stock": uom.code,
                        "kind": uom.category.name,
                    },
                )

    if product.type == Product.Type.SERVICE and product.tracking != Product.Tracking.NONE:
        _add(
            errors,
            "tracking",
            _("Services are not stocked, so they cannot be tracked by lot or serial number."),
        )

    _lot_sizing_validate(product, errors)
    if in_bulk:
        problem = barcode_validate(product.barcode)
        if problem:
            _add(errors, "barcode", problem)
    else:
        _barcode_check(errors, product.barcode, company_id, product=product, variant=None)
    _model_errors(
        product,
        errors,
        exclude=[
            "standard_cost",
            "average_cost",
            "low_level_code",
            *(PRODUCT_LINKS if in_bulk else ()),
        ],
    )


def _lot_sizing_validate(product: Product, errors: Errors) -> None:
    if any(f in errors for f in ("lot_size", "lot_multiple", "min_qty", "max_qty")):
        return
    rule = product.lot_sizing
    sizing = Product.LotSizing
    if rule in (sizing.FIXED, sizing.EOQ) and product.lot_size <= 0:
        _add(errors, "lot_size", _("This lot-sizing rule needs a lot size above zero."))
    if rule == sizing.PERIODS and (
        product.lot_size <= 0 or product.lot_size != product.lot_size.to_integral_value()
    ):
        _add(
            errors,
            "lot_size",
            _("Give the number of periods to cover as a whole number above zero."),
        )
    if rule in (sizing.LOT_FOR_LOT, sizing.MIN_MAX) and product.lot_size:
        _add(errors, "lot_size", _("This lot-sizing rule takes no lot size; leave it at zero."))
    if rule == sizing.MIN_MAX and product.max_qty <= 0:
        _add(errors, "max_qty", _("Min/max ordering needs a maximum stock above zero."))
    if product.max_qty and product.max_qty < product.min_qty:
        _add(errors, "max_qty", _("The maximum stock cannot be below the minimum stock."))
    if product.lot_multiple and rule == sizing.FIXED and product.lot_size % product.lot_multiple:
        _add(
            errors,
            "lot_multiple",
            _("The fixed lot size must be a multiple of the order multiple."),
        )


def _save_product(product: Product) -> None:
    try:
        with transaction.atomic():
            product.save()
    except IntegrityError as exc:  # a concurrent request took the SKU in the meantime
        raise ValidationError({"sku": [_("Another product already has this SKU.")]}) from exc


@audited
def product_create(
    *, company: Company, actor: User | None, sku: str, name: str, uom: UnitOfMeasure, **fields: Any
) -> Product:
    """Create a product. Other fields: see `PRODUCT_FIELDS` (unit and category as objects).
    Costs are set with `product_cost_set`. Raises ValidationError and then writes nothing."""
    unknown = set(fields) - PRODUCT_FIELDS
    if unknown:
        raise ValidationError({f: [_("This field cannot be set here.")] for f in sorted(unknown)})
    product = Product(company=company, sku=sku, name=name, uom=uom, **fields)
    errors: Errors = {}
    product_validate(product, errors)
    _raise(errors)
    _save_product(product)
    return product


@audited
def product_update(*, product: Product, actor: User | None, **fields: Any) -> Product:
    """Change some fields of a product (see `PRODUCT_FIELDS`); costs are set with
    `product_cost_set`. Raises ValidationError and then changes nothing (the object included)."""
    unknown = set(fields) - PRODUCT_FIELDS
    if unknown:
        raise ValidationError(
            {f: [_("This field cannot be changed here.")] for f in sorted(unknown)}
        )
    before = Product.unscoped.select_related("uom").get(pk=product.pk)
    draft = Product.unscoped.select_related("uom", "category").get(pk=product.pk)
    for field, value in fields.items():
        setattr(draft, field, value)
    errors: Errors = {}
    product_validate(draft, errors, before=before)
    _raise(errors)
    _save_product(draft)
    for field in PRODUCT_FIELDS:
        setattr(product, field, getattr(draft, field))
    return product


@audited
def product_archive(*, product: Product, actor: User | None) -> Product:
    """Mark a product inactive (kept for history; restore by updating `active`)."""
    if product.active:
        product.active = False
        with transaction.atomic():
            product.save(update_fields=["active"])
    return product


# --- attributes and variants ------------------------------------------------------------------

VALUE_CODE = re.compile(r"^[A-Z0-9]+$")


def _values_clean(
    errors: Errors, values: Iterable[tuple[str, str]] | None
) -> list[tuple[str, str]]:
    clean: list[tuple[str, str]] = []
    seen: set[str] = set()
    for code, name in values or []:
        code, name = (code or "").strip().upper(), (name or "").strip()
        if not VALUE_CODE.match(code) or len(code) > 20:
            _add(
                errors,
                "values",
                _(
                    "Value code “%(code)s”: use up to 20 letters A–Z and digits (it becomes part of variant SKUs)."
                )
                % {"code": code},
            )
        elif code in seen:
            _add(errors, "values", _("Value code “%(code)s” appears twice.") % {"code": code})
        elif not name or len(name) > 60:
            _add(
                errors,
                "values",
                _("Value “%(code)s” needs a name of up to 60 characters.") % {"code": code},
            )
        seen.add(code)
        clean.append((code, name))
    if not clean:
        _add(errors, "values", _("Give at least one value."))
    return clean


def _attribute_name_check(errors: Errors, attribute: Attribute) -> None:
    attribute.name = (attribute.name or "").strip()
    if not attribute.name:
        _add(errors, "name", _("Give the attribute a name."))
        return
    duplicate = Attribute.unscoped.filter(
        company_id=attribute.company_id, name__iexact=attribute.name
    ).exclude(pk=attribute.pk)
    if duplicate.exists():
        _add(errors, "name", _("There is already an attribute with this name."))
    _model_errors(attribute, errors)


@audited
def attribute_create(
    *, company: Company, actor: User | None, name: str, values: Iterable[tuple[str, str]]
) -> Attribute:
    """Create an attribute (e.g. Colour) with its values as (code, name) pairs; the codes
    (RED, M…) become part of variant SKUs. Raises ValidationError."""
    attribute = Attribute(company=company, name=name)
    errors: Errors = {}
    _attribute_name_check(errors, attribute)
    clean = _values_clean(errors, values)
    _raise(errors)
    with transaction.atomic():
        attribute.save()
        for code, value_name in clean:
            AttributeValue.objects.create(attribute=attribute, code=code, name=value_name)
    return attribute


@audited
def attribute_update(
    *,
    attribute: Attribute,
    actor: User | None,
    name: str | None = None,
    values: Iterable[tuple[str, str]] | None = None,
) -> Attribute:
    """Rename an attribute and/or replace its values: values are matched by code (renamed,
    added, removed); a value that variants use cannot be removed. Raises ValidationError."""
    errors: Errors = {}
    if name is not None:
        attribute.name = name
    _attribute_name_check(errors, attribute)
    clean = _values_clean(errors, values) if values is not None else None
    existing = {v.code: v for v in attribute.values.all()}
    removed: list[AttributeValue] = []
    if clean is not None:
        wanted = {code for code, _name in clean}
        removed = [v for code, v in existing.items() if code not in wanted]
        for value in removed:
            used = Variant.unscoped.filter(values=value).count()
            if used:
                _add(
                    errors,
                    "values",
                    _("Value “%(code)s” is used by %(count)d variants and cannot be removed.")
                    % {"code": value.code, "count": used},
                )
    if errors:
        attribute.refresh_from_db(fields=["name"])
        raise ValidationError(errors)
    with transaction.atomic():
        attribute.save()
        for value in removed:
            value.delete()
        for code, value_name in clean or []:
            current = existing.get(code)
            if current is None:
                AttributeValue.objects.create(attribute=attribute, code=code, name=value_name)
            elif current.name != value_name:
                current.name = value_name
                current.save(update_fields=["name"])
    return attribute


@audited
def attribute_delete(*, attribute: Attribute, actor: User | None) -> None:
    """Delete an attribute and its values; refused while variants use any of them."""
    if Variant.unscoped.filter(values__attribute=attribute).exists():
        raise ValidationError(
            {"attribute": [_("Variants use this attribute; it cannot be deleted.")]}
        )
    with transaction.atomic():
        attribute.delete()


def _variant_sku(product: Product, values: Sequence[AttributeValue]) -> str:
    return "-".join([product.sku, *(v.code for v in values)])


def _ordered(values: Iterable[AttributeValue]) -> list[AttributeValue]:
    """Values in attribute order (the order attributes were created in), one per attribute."""
    return sorted(values, key=lambda v: (v.attribute_id, v.code))


def _existing_combinations(product: Product) -> dict[frozenset[int], str]:
    combos: dict[frozenset[int], str] = {}
    for variant in Variant.unscoped.filter(product=product).prefetch_related("values"):
        combos[frozenset(v.pk for v in variant.values.all())] = variant.sku
    return combos


def _values_check(errors: Errors, product: Product, values: Sequence[AttributeValue]) -> None:
    if not values:
        _add(errors, "values", _("Choose at least one attribute value."))
    attributes = [v.attribute for v in values]
    for attribute in attributes:
        if attribute.company_id != product.company_id:
            _add(errors, "values", _("Choose a record of your own company."))
            return
    if len({a.pk for a in attributes}) != len(attributes):
        _add(errors, "values", _("A variant takes one value per attribute."))


@audited
def variants_generate(
    *,
    product: Product,
    actor: User | None,
    values: Iterable[AttributeValue],
    price_extras: Mapping[int, Decimal] | None = None,
) -> list[Variant]:
    """Create the variants of `product` for every combination of the chosen values (one value
    of each attribute: the cartesian product), with SKUs like BASE-RED-M and a price extra that
    is the sum of the chosen values' extras (`price_extras`: value pk → amount). Combinations the
    product already has are skipped. Returns the new variants. Raises ValidationError."""
    chosen = list({v.pk: v for v in values}.values())
    errors: Errors = {}
    if not product.active:
        _add(errors, "product", _("The product is archived."))
    if not chosen:
        _add(errors, "values", _("Choose at least one attribute value."))
    for value in chosen:
        if value.attribute.company_id != product.company_id:
            _add(errors, "values", _("Choose a record of your own company."))
            break
    extras: dict[int, Decimal] = {}
    for pk, amount in (price_extras or {}).items():
        number = _decimal(errors, "price_extras", amount, minimum=None)
        if isinstance(number, Decimal):
            extras[int(pk)] = number
    _raise(errors)
    by_attribute: dict[int, list[AttributeValue]] = {}
    for value in sorted(chosen, key=lambda v: (v.attribute_id, v.code)):
        by_attribute.setdefault(value.attribute_id, []).append(value)
    existing = _existing_combinations(product)
    planned: list[tuple[list[AttributeValue], str, Decimal]] = []
    seen_skus: set[str] = set()
    for combo in itertools.product(*by_attribute.values()):
        combination = list(combo)
        if frozenset(v.pk for v in combination) in existing:
            continue
        sku = _variant_sku(product, combination)
        extra = sum((extras.get(v.pk, Decimal(0)) for v in combination), Decimal(0))
        if len(sku) > Variant._meta.get_field("sku").max_length:
            _add(errors, "values", _("The SKU %(sku)s would be too long.") % {"sku": sku})
        else:
            sku_errors: Errors = {}
            _sku_check(sku_errors, sku, product.company_id, product=None, variant=None)
            for message in sku_errors.get("sku", []):
                _add(errors, "values", message)
        if sku.upper() in seen_skus:
            _add(errors, "values", _("Two combinations would get the SKU %(sku)s.") % {"sku": sku})
        seen_skus.add(sku.upper())
        planned.append((combination, sku, extra))
    _raise(errors)
    created = []
    with transaction.atomic():
        for combination, sku, extra in planned:
            variant = Variant(
                company_id=product.company_id, product=product, sku=sku, price_extra=extra
            )
            variant.save()
            variant.values.set(combination)
            created.append(variant)
    return created


@audited
def variant_create(
    *,
    product: Product,
    actor: User | None,
    values: Iterable[AttributeValue],
    sku: str = "",
    barcode: str = "",
    price_extra: Decimal = Decimal(0),
    active: bool = True,
) -> Variant:
    """Create one variant with one value per attribute; the SKU defaults to BASE-CODE-CODE.
    The same combination twice is refused. Raises ValidationError."""
    chosen = _ordered({v.pk: v for v in values}.values())
    errors: Errors = {}
    _values_check(errors, product, chosen)
    variant = Variant(
        company_id=product.company_id,
        product=product,
        sku=(sku or "").strip() or (_variant_sku(product, chosen) if chosen else ""),
        barcode=(barcode or "").strip(),
        price_extra=_decimal(errors, "price_extra", price_extra, minimum=None),
        active=active,
    )
    if "values" not in errors:
        other = _existing_combinations(product).get(frozenset(v.pk for v in chosen))
        if other:
            _add(errors, "values", _("Variant %(sku)s already has these values.") % {"sku": other})
    _sku_check(errors, variant.sku, product.company_id, product=None, variant=variant)
    _barcode_check(errors, variant.barcode, product.company_id, product=None, variant=variant)
    _model_errors(variant, errors)
    _raise(errors)
    with transaction.atomic():
        variant.save()
        variant.values.set(chosen)
    return variant


VARIANT_FIELDS = {"sku", "barcode", "price_extra", "active"}


@audited
def variant_update(*, variant: Variant, actor: User | None, **fields: Any) -> Variant:
    """Change a variant's SKU, barcode, price extra or active flag (its attribute values are
    its identity and do not change). Raises ValidationError."""
    unknown = set(fields) - VARIANT_FIELDS
    if unknown:
        raise ValidationError(
            {f: [_("This field cannot be changed here.")] for f in sorted(unknown)}
        )
    draft = Variant.unscoped.get(pk=variant.pk)
    for field, value in fields.items():
        setattr(draft, field, value)
    errors: Errors = {}
    draft.sku = (draft.sku or "").strip()
    draft.barcode = (draft.barcode or "").strip()
    draft.price_extra = _decimal(errors, "price_extra", draft.price_extra, minimum=None)
    _sku_check(errors, draft.sku, draft.company_id, product=None, variant=draft)
    _barcode_check(errors, draft.barcode, draft.company_id, product=None, variant=draft)
    _model_errors(draft, errors)
    _raise(errors)
    with transaction.atomic():
        draft.save()
    for field in VARIANT_FIELDS:
        setattr(variant, field, getattr(draft, field))
    return variant


@audited
def variant_archive(*, variant: Variant, actor: User | None) -> Variant:
    if variant.active:
        variant.active = False
        with transaction.atomic():
            variant.save(update_fields=["active"])
    return variant


# --- costs ------------------------------------------------------------------------------------


def _cost_date(errors: Errors, date: dt.date | None) -> dt.date:
    if date is None:
        return timezone.localdate()
    if date > timezone.localdate() + dt.timedelta(days=366):
        _add(errors, "date", _("The date is too far in the future."))
    return date


@audited
def product_cost_set(
    *,
    product: Product,
    actor: User | None,
    cost: Decimal,
    date: dt.date | None = None,
    reason: str = "",
) -> CostRecord:
    """Set the product's standard cost (company currency, per stock unit) and record it in the
    cost history. Locks the product row. Raises ValidationError."""
    errors: Errors = {}
    cost = _decimal(errors, "cost", cost)
    date = _cost_date(errors, date)
    record = CostRecord(
        company_id=product.company_id,
        product=product,
        kind=CostRecord.Kind.STANDARD,
        date=date,
        cost=cost,
        reason=(reason or "").strip() or _("Standard cost set"),
    )
    _model_errors(record, errors, exclude=["product"])
    _raise(errors)
    with transaction.atomic():
        locked = Product.unscoped.select_for_update().get(pk=product.pk)
        locked.standard_cost = cost
        locked.save(update_fields=["standard_cost"])
        record.save()
    product.standard_cost = cost
    return record


@audited
def product_average_cost_update(
    *,
    product: Product,
    quantity_in: Decimal,
    unit_cost: Decimal,
    on_hand: Decimal,
    actor: User | None = None,
    date: dt.date | None = None,
    reason: str = "",
) -> CostRecord:
    """Fold a receipt into the moving average cost: `quantity_in` stock units at `unit_cost`
    (company currency) arrive while `on_hand` units (before the receipt) are in stock.

    new average = (on_hand × average + quantity_in × unit_cost) / (on_hand + quantity_in); with
    nothing (or less than nothing) on hand the receipt's cost becomes the average. Locks the
    product row (inventory calls this inside its receipt transaction), records the new cost in
    the history and returns that record. Raises ValidationError."""
    errors: Errors = {}
    quantity_in = _decimal(errors, "quantity_in", quantity_in)
    if isinstance(quantity_in, Decimal) and "quantity_in" not in errors and quantity_in <= 0:
        _add(errors, "quantity_in", _("The received quantity must be above zero."))
    unit_cost = _decimal(errors, "unit_cost", unit_cost)
    on_hand = _decimal(errors, "on_hand", on_hand, minimum=None)
    date = _cost_date(errors, date)
    _raise(errors)
    with transaction.atomic():
        locked = Product.unscoped.select_for_update().get(pk=product.pk)
        previous = locked.average_cost
        if on_hand <= 0:
            average = unit_cost
        else:
            average = (on_hand * previous + quantity_in * unit_cost) / (on_hand + quantity_in)
        average = average.quantize(COST_PLACES, rounding=ROUND_HALF_UP)
        locked.average_cost = average
        locked.save(update_fields=["average_cost"])
        record = CostRecord.unscoped.create(
            company_id=product.company_id,
            product=product,
            kind=CostRecord.Kind.AVERAGE,
            date=date,
            cost=average,
            reason=(
                (reason or "").strip()
                or _("Receipt of %(qty)s at %(cost)s (on hand %(on_hand)s)")
                % {
                    "qty": _plain(quantity_in),
                    "cost": _plain(unit_cost),
                    "on_hand": _plain(on_hand),
                }
            )[:120],
        )
    product.average_cost = average
    return record


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"
