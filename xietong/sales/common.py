"""What the sales services share: the company's sales settings, numbering, the pricing and tax
computation of document lines, customer-timeline entries, and the refusal type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Company, UnitOfMeasure
from xietong.core.numbering import sequence_take
from xietong.finance import taxes as tax_engine
from xietong.finance.models import Tax
from xietong.finance.posting import finance_settings
from xietong.inventory.models import Warehouse
from xietong.party.models import Party
from xietong.party.services import timeline_add
from xietong.product.models import ConfiguredItem, Product
from xietong.product.pricing import PriceItem, PriceResult, prices_for
from xietong.sales import promotions
from xietong.sales.models import SalesSettings

ZERO = Decimal(0)
HUNDRED = Decimal(100)
Errors = dict[str, list[str]]

SEQUENCES = {
    "sales.quotation": ("Quotations", "SQ/{year}/{number:05d}"),
    "sales.order": ("Sales orders", "SO/{year}/{number:05d}"),
    "sales.return": ("Sales returns", "RMA/{year}/{number:05d}"),
}


class SalesError(ValidationError):
    """A refused sales operation; nothing was written. `code` names the reason."""


def refusal(message: str, code: str, field_name: str | None = None) -> SalesError:
    if field_name:
        return SalesError({field_name: [ValidationError(message, code=code)]})
    return SalesError(message, code=code)


def number_next(company: Company, code: str, date: dt.date) -> str:
    """The next number of the company's sequence `code`, the sequence made on first use."""
    return numbers_next(company, code, date, 1)[0]


def numbers_next(company: Company, code: str, date: dt.date, count: int) -> list[str]:
    """The next `count` numbers of the company's sequence `code` for `date`, in increasing
    order (one statement), the sequence made on first use."""
    name, pattern = SEQUENCES[code]
    return sequence_take(company=company, code=code, date=date, count=count, name=name,
                         pattern=pattern)  # fmt: skip


def sales_settings(company: Company) -> SalesSettings:
    """The company's sales settings (with their warehouse and default tax), created on first
    use with its first warehouse and the sales tax of its finance settings' chart when one is
    marked default (none otherwise). Read it once per service call and pass it down."""
    rows = SalesSettings.unscoped.filter(company=company).select_related("warehouse", "default_tax")
    try:
        return rows.get()
    except SalesSettings.MultipleObjectsReturned:  # no constraint forbids it: the first one
        return rows.order_by("pk")[0]
    except SalesSettings.DoesNotExist:
        pass
    with transaction.atomic():
        warehouse = Warehouse.unscoped.filter(company=company).order_by("pk").first()
        tax = (
            Tax.unscoped.filter(company=company, use=Tax.Use.SALE, active=True)
            .order_by("-rate", "sequence", "pk")
            .first()
        )
        found, _created = SalesSettings.unscoped.get_or_create(
            company=company, defaults={"warehouse": warehouse, "default_tax": tax}
        )
    return found


def timeline(
    party: Party, kind: str, summary: str, *, actor: Any, source: Any, url: str = ""
) -> None:
    timeline_add(
        party=party, kind=kind, summary=summary, actor=_user(actor), source=source, url=url,
        occurred_at=timezone.now(),
    )  # fmt: skip


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


# --- lines ----------------------------------------------------------------------------------


@dataclass
class LineData:
    """One clean document line, before it is written."""

    product: Product
    quantity: Decimal
    uom: UnitOfMeasure
    unit_price: Decimal
    list_price: Decimal
    discount: Decimal
    taxes: list[Tax]
    description: str
    configured_item: ConfiguredItem | None = None
    net: Decimal = ZERO
    tax: Decimal = ZERO
    total: Decimal = ZERO
    extra: dict[str, Any] = field(default_factory=dict)


def _decimal(value: Any, errors: Errors, key: str, *, default: Decimal | None = None) -> Decimal:
    if value is None or value == "":
        if default is not None:
            return default
        errors.setdefault(key, []).append(_("This field is required."))
        return ZERO
    if isinstance(value, float):
        errors.setdefault(key, []).append(_("Give numbers as text or decimals, not floats."))
        return ZERO
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors.setdefault(key, []).append(_("“%(value)s” is not a number.") % {"value": value})
        return ZERO
    if not number.is_finite():
        errors.setdefault(key, []).append(_("“%(value)s” is not a number.") % {"value": value})
        return ZERO
    return number


def _key(value: Any) -> int | None:
    """The primary key a line names by `value` (None: it names none)."""
    try:
        key = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return key if -(2**63) <= key < 2**63 else None


def _records(model: Any, values: Iterable[Any], *related: str) -> dict[int, Any]:
    """The rows of `model` that `values` name by key (records given as such need none): one
    query, none when no value is a key."""
    keys = set()
    for value in values:
        if value is None or value == "" or isinstance(value, model):
            continue
        key = _key(value)
        if key is not None:
            keys.add(key)
    if not keys:
        return {}
    rows = model.unscoped.filter(pk__in=sorted(keys)).order_by()
    if related:
        rows = rows.select_related(*related)
    return {row.pk: row for row in rows}


def _record(model: Any, value: Any, company: Company, found: Mapping[int, Any]) -> Any:
    """The record of `company` that `value` names (a record or its key, looked up in `found`,
    read by `_records`); None for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, model):
        obj = value
    else:
        key = _key(value)
        obj = found.get(key) if key is not None else None
    if obj is None or getattr(obj, "company_id", company.pk) != company.pk:
        return None
    return obj


_NOT_A_LIST = object()  # a line's taxes that are not a list of taxes (refused on use, as before)


@dataclass
class _Lookups:
    """What the lines name, each model read once for all lines."""

    items: dict[int, ConfiguredItem]
    products: dict[int, Product]
    taxes: dict[int, Tax]
    tax_lists: dict[int, Any]  # line index → its taxes as a list (or _NOT_A_LIST)
    units_by_code: dict[str, UnitOfMeasure]
    units_by_pk: dict[int, UnitOfMeasure]


def _unit_pk(value: Any) -> int | None:
    text = str(value)
    return _key(text) if text.isdigit() else None


def _lookups(company: Company, lines: Sequence[Any]) -> _Lookups:
    """Read the configured items, products, taxes and units the lines name (one query per
    model, none for a model no line names by key), and the units of their products."""
    maps = [(n, raw) for n, raw in enumerate(lines) if isinstance(raw, Mapping)]
    items = _records(
        ConfiguredItem, (raw.get("configured_item") for _n, raw in maps), "product__category"
    )
    # with their categories: pricing reads the rules of the categories
    products = _records(Product, (raw.get("product") for _n, raw in maps), "category")
    tax_lists: dict[int, Any] = {}
    for n, raw in maps:
        if raw.get("taxes") is not None:
            try:
                tax_lists[n] = list(raw.get("taxes"))
            except TypeError:
                tax_lists[n] = _NOT_A_LIST
    taxes = _records(
        Tax, (t for given in tax_lists.values() if given is not _NOT_A_LIST for t in given)
    )
    # the units: those the lines name, and the stock and sales units of their products
    named = [raw.get("uom") for _n, raw in maps]
    codes = {str(u) for u in named if u and not isinstance(u, UnitOfMeasure)}
    unit_keys = {k for k in map(_unit_pk, codes) if k is not None}
    chosen: list[Product] = []
    for _n, raw in maps:
        item = _record(ConfiguredItem, raw.get("configured_item"), company, items)
        product = (
            item.product
            if item is not None
            else _record(Product, raw.get("product"), company, products)
        )
        if product is not None:
            chosen.append(product)
    for product in chosen:
        for descriptor in (Product.uom, Product.sales_uom):
            key = getattr(product, descriptor.field.attname)
            if key is not None and not descriptor.is_cached(product):
                unit_keys.add(key)
    by_code: dict[str, UnitOfMeasure] = {}
    by_pk: dict[int, UnitOfMeasure] = {}
    if codes or unit_keys:
        for unit in UnitOfMeasure.objects.filter(
            Q(code__in=sorted(codes)) | Q(pk__in=sorted(unit_keys))
        ).order_by():
            by_code[unit.code] = unit
            by_pk[unit.pk] = unit
    for product in chosen:
        for descriptor in (Product.uom, Product.sales_uom):
            key = getattr(product, descriptor.field.attname)
            if key is not None and key in by_pk and not descriptor.is_cached(product):
                descriptor.field.set_cached_value(product, by_pk[key])
    return _Lookups(items, products, taxes, tax_lists, by_code, by_pk)


def lines_clean(
    *,
    company: Company,
    party: Party,
    currency: str,
    date: dt.date,
    price_list: Any,
    lines: Sequence[Mapping[str, Any]],
    settings: SalesSettings | None = None,
    coupon: str = "",
) -> list[LineData]:
    """Check and price `lines` (dicts of product, quantity, and optionally uom, unit_price,
    discount (percent), taxes (Tax records or ids; default: the settings' default sales tax),
    description, configured_item). Without a unit price, a configured item's price or the
    customer's price (`price_for`) applies; `list_price` keeps the price before any discount so
    that approval can compare. Raises SalesError with a message per line (`lines.N.field`).

    However many lines: one query per model the lines name (configured items, products, taxes,
    units) and one pricing call (`prices_for`) for them all. `settings`: the company's sales
    settings when the caller has them already. `coupon`: the document's coupon code, for the
    price adjusters (`promotions.lines_adjust`, e.g. the CRM's campaign promotions)."""
    errors: Errors = {}
    if not lines:
        raise refusal(_("Add at least one line."), "no_lines", "lines")
    lines = list(lines)  # read twice below
    settings = settings if settings is not None else sales_settings(company)
    found = _lookups(company, lines)
    checked = [
        _line_check(company, settings, found, n, raw) for n, raw in enumerate(lines, start=1)
    ]
    # price the lines that can be priced: those before the first refused line (once a line is
    # refused, no later line is priced), configured items aside (they carry their price)
    to_price: list[int] = []
    for n, (line_errors, values) in enumerate(checked):
        if line_errors or values is None:
            break
        if values["item"] is None:
            to_price.append(n)
    prices = dict(
        zip(
            to_price,
            prices_for(
                company=company,
                party=party,
                items=[
                    PriceItem(product=checked[n][1]["product"], quantity=checked[n][1]["quantity"])
                    for n in to_price
                ],
                date=date,
                price_list=price_list,
                explain=False,
            )
            if to_price
            else [],
            strict=True,
        )
    )
    out: list[LineData] = []
    for n, (raw, (line_errors, values)) in enumerate(zip(lines, checked, strict=True)):
        errors.update(line_errors)  # the keys of a line are its own (`lines.N…`)
        if values is None or errors:
            continue
        key = f"lines.{n + 1}"
        item, product = values["item"], values["product"]
        reference = _reference_price(item, prices.get(n), currency, errors, key)
        if raw.get("unit_price") not in (None, ""):
            unit_price = _decimal(raw.get("unit_price"), errors, f"{key}.unit_price")
            if unit_price < 0:
                errors.setdefault(f"{key}.unit_price", []).append(_("A price is not negative."))
            errors.pop(f"{key}.price_list", None)  # a typed price needs no list
        elif reference is None:
            why = errors.pop(f"{key}.price_list", None)
            if why:
                errors[f"{key}.unit_price"] = why
            continue
        else:
            unit_price = reference
        if errors:
            continue
        list_price = reference if reference is not None else unit_price
        fixed = item is not None or raw.get("unit_price") not in (None, "")
        out.append(
            LineData(
                product=product,
                quantity=values["quantity"],
                uom=values["uom"],
                unit_price=unit_price,
                list_price=list_price,
                discount=values["discount"],
                taxes=values["taxes"],
                description=str(raw.get("description") or "").strip()
                or (item.description.splitlines()[0][:300] if item else product.name),
                configured_item=item,
                extra={"price_fixed": True} if fixed else {},
            )
        )
    if errors:
        raise SalesError(errors)
    try:
        promotions.lines_adjust(company=company, party=party, date=date, currency=currency,
                                coupon=coupon, lines=out)  # fmt: skip
    except ValidationError as exc:
        raise SalesError(exc.message_dict) from exc
    amounts_compute(company, currency, out)
    return out


def _line_check(
    company: Company, settings: SalesSettings, found: _Lookups, n: int, raw: Any
) -> tuple[Errors, dict[str, Any] | None]:
    """Check line `n` (from 1) but its price: its errors, and its clean values (None when the
    line is refused before they are known)."""
    errors: Errors = {}
    key = f"lines.{n}"
    if not isinstance(raw, Mapping):
        errors.setdefault(key, []).append(_("A line is a set of fields."))
        return errors, None
    unknown = set(raw) - {
        "product", "quantity", "uom", "unit_price", "discount", "taxes", "description",
        "configured_item", "id",
    }  # fmt: skip
    if unknown:
        errors.setdefault(key, []).append(
            _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
        )
    item = _record(ConfiguredItem, raw.get("configured_item"), company, found.items)
    if raw.get("configured_item") not in (None, "") and item is None:
        errors.setdefault(f"{key}.configured_item", []).append(_("Unknown configuration."))
    product = (
        item.product
        if item is not None
        else _record(Product, raw.get("product"), company, found.products)
    )
    if product is None:
        errors.setdefault(f"{key}.product", []).append(_("Choose a product of this company."))
        return errors, None
    if not product.active:
        errors.setdefault(f"{key}.product", []).append(
            _("%(sku)s is archived.") % {"sku": product.sku}
        )
    if product.is_configurable and item is None:
        errors.setdefault(f"{key}.product", []).append(
            _("%(sku)s is configurable: configure it first.") % {"sku": product.sku}
        )
    quantity = _decimal(raw.get("quantity"), errors, f"{key}.quantity", default=Decimal(1))
    if quantity <= 0:
        errors.setdefault(f"{key}.quantity", []).append(_("The quantity must be above zero."))
    uom = raw.get("uom") or product.sales_uom or product.uom
    if not isinstance(uom, UnitOfMeasure):
        pk = _unit_pk(uom)
        uom = found.units_by_code.get(str(uom)) or (
            found.units_by_pk.get(pk) if pk is not None else None
        )
    if uom is None or uom.category_id != product.uom.category_id:
        errors.setdefault(f"{key}.uom", []).append(
            _("Choose a unit that measures the same as %(unit)s.") % {"unit": product.uom.code}
        )
    discount = _decimal(raw.get("discount"), errors, f"{key}.discount", default=ZERO)
    if not ZERO <= discount <= HUNDRED:
        errors.setdefault(f"{key}.discount", []).append(_("A discount is between 0 and 100 %."))
    taxes_raw = raw.get("taxes")
    if taxes_raw is None:
        taxes = [settings.default_tax] if settings.default_tax_id else []
    else:
        given = found.tax_lists.get(n - 1, _NOT_A_LIST)
        taxes = [
            _record(Tax, t, company, found.taxes)
            for t in (taxes_raw if given is _NOT_A_LIST else given)
        ]
        if any(t is None or t.use != Tax.Use.SALE or not t.active for t in taxes):
            errors.setdefault(f"{key}.taxes", []).append(_("Choose active sales taxes."))
            taxes = []
    values = {"item": item, "product": product, "quantity": quantity, "uom": uom,
              "discount": discount, "taxes": taxes}  # fmt: skip
    return errors, values


def _reference_price(item: ConfiguredItem | None, result: PriceResult | ValidationError | None,
                     currency: str, errors: Errors, key: str) -> Decimal | None:  # fmt: skip
    """The price the customer gets without a manual discount: the configuration's price or the
    price engine's (`result` of `prices_for`: the customer's list with its group and quantity
    rules). Puts why there is none under `<key>.price_list` (dropped when the user typed a
    price)."""
    if item is not None:
        if item.currency_id != currency:
            errors.setdefault(f"{key}.configured_item", []).append(
                _("The configuration is priced in %(c)s, the document in %(d)s.")
                % {"c": item.currency_id, "d": currency}
            )
            return None
        return item.price
    assert result is not None
    if isinstance(result, ValidationError):
        errors.setdefault(f"{key}.price_list", []).extend(result.messages)
        return None
    if result.currency != currency:
        errors.setdefault(f"{key}.price_list", []).append(
            _("The price list is in %(c)s, the document in %(d)s; give the price.")
            % {"c": result.currency, "d": currency}
        )
        return None
    return result.unit_price.amount


def amounts_compute(company: Company, currency: str, lines: list[LineData]) -> tuple[Decimal, ...]:
    """Fill each line's net, tax and total through the finance tax engine (the invoice rules,
    so a document and its invoice agree to the cent); returns (untaxed, tax, total)."""
    settings = finance_settings(company)
    rules: dict[int, tax_engine.TaxRule] = {}  # per tax object: lines mostly share their taxes

    def rule_of(tax: Tax) -> tax_engine.TaxRule:
        rule = rules.get(id(tax))
        if rule is None:
            rule = rules[id(tax)] = tax_engine.TaxRule.of(tax)
        return rule

    try:
        totals = tax_engine.compute(
            [
                tax_engine.LineInput(
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount=line.discount,
                    taxes=tuple(rule_of(t) for t in line.taxes),
                )
                for line in lines
            ],
            currency=currency,
            policy=settings.tax_rounding,
            rounding=settings.rounding_mode,
        )
    except (TypeError, ValueError) as exc:
        raise refusal(str(exc), "amounts", "lines") from exc
    for line, result in zip(lines, totals.lines, strict=True):
        line.net, line.tax, line.total = result.net, result.tax, result.total
    return totals.untaxed, totals.tax, totals.total


def effective_discount(line: LineData) -> Decimal:
    """How far below its list price a line sells, in percent (its discount and any price typed
    below the list price)."""
    if line.list_price <= 0:
        return line.discount
    net_unit = line.unit_price * (HUNDRED - line.discount) / HUNDRED
    return max(ZERO, (line.list_price - net_unit) / line.list_price * HUNDRED).quantize(
        Decimal("0.01")
    )
