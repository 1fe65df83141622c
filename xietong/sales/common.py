"""What the sales services share: the company's sales settings, numbering, the pricing and tax
computation of document lines, customer-timeline entries, and the refusal type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Company, UnitOfMeasure
from xietong.core.numbering import sequence_ensure, sequence_next
from xietong.finance import taxes as tax_engine
from xietong.finance.models import Tax
from xietong.finance.posting import finance_settings
from xietong.inventory.models import Warehouse
from xietong.party.models import Party
from xietong.party.services import timeline_add
from xietong.product.models import ConfiguredItem, Product
from xietong.product.pricing import price_for
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
    name, pattern = SEQUENCES[code]
    sequence_ensure(company=company, code=code, name=name, pattern=pattern)
    return sequence_next(company=company, code=code, date=date)


def sales_settings(company: Company) -> SalesSettings:
    """The company's sales settings, created on first use with its first warehouse and the
    sales tax of its finance settings' chart when one is marked default (none otherwise)."""
    found = SalesSettings.unscoped.filter(company=company).first()
    if found is not None:
        return found
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


def _record(model: Any, value: Any, company: Company) -> Any:
    if value is None or value == "":
        return None
    if isinstance(value, model):
        obj = value
    else:
        try:
            obj = model.unscoped.filter(pk=int(value)).first()
        except (TypeError, ValueError):
            return None
    if obj is None or getattr(obj, "company_id", company.pk) != company.pk:
        return None
    return obj


def lines_clean(
    *,
    company: Company,
    party: Party,
    currency: str,
    date: dt.date,
    price_list: Any,
    lines: Sequence[Mapping[str, Any]],
) -> list[LineData]:
    """Check and price `lines` (dicts of product, quantity, and optionally uom, unit_price,
    discount (percent), taxes (Tax records or ids; default: the settings' default sales tax),
    description, configured_item). Without a unit price, a configured item's price or the
    customer's price (`price_for`) applies; `list_price` keeps the price before any discount so
    that approval can compare. Raises SalesError with a message per line (`lines.N.field`)."""
    errors: Errors = {}
    if not lines:
        raise refusal(_("Add at least one line."), "no_lines", "lines")
    settings = sales_settings(company)
    out: list[LineData] = []
    for n, raw in enumerate(lines, start=1):
        key = f"lines.{n}"
        if not isinstance(raw, Mapping):
            errors.setdefault(key, []).append(_("A line is a set of fields."))
            continue
        unknown = set(raw) - {
            "product", "quantity", "uom", "unit_price", "discount", "taxes", "description",
            "configured_item", "id",
        }  # fmt: skip
        if unknown:
            errors.setdefault(key, []).append(
                _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
            )
        item = _record(ConfiguredItem, raw.get("configured_item"), company)
        if raw.get("configured_item") not in (None, "") and item is None:
            errors.setdefault(f"{key}.configured_item", []).append(_("Unknown configuration."))
        product = (
            item.product if item is not None else _record(Product, raw.get("product"), company)
        )
        if product is None:
            errors.setdefault(f"{key}.product", []).append(_("Choose a product of this company."))
            continue
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
            uom = (
                UnitOfMeasure.objects.filter(code=str(uom)).first()
                or UnitOfMeasure.objects.filter(pk=uom if str(uom).isdigit() else None).first()
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
            taxes = [_record(Tax, t, company) for t in taxes_raw]
            if any(t is None or t.use != Tax.Use.SALE or not t.active for t in taxes):
                errors.setdefault(f"{key}.taxes", []).append(_("Choose active sales taxes."))
                taxes = []
        if errors:
            continue
        reference = _reference_price(item, product, party, quantity, date, price_list, currency,
                                     errors, key)  # fmt: skip
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
        out.append(
            LineData(
                product=product,
                quantity=quantity,
                uom=uom,
                unit_price=unit_price,
                list_price=list_price,
                discount=discount,
                taxes=taxes,
                description=str(raw.get("description") or "").strip()
                or (item.description.splitlines()[0][:300] if item else product.name),
                configured_item=item,
            )
        )
    if errors:
        raise SalesError(errors)
    amounts_compute(company, currency, out)
    return out


def _reference_price(item: ConfiguredItem | None, product: Product, party: Party,
                     quantity: Decimal, date: dt.date, price_list: Any, currency: str,
                     errors: Errors, key: str) -> Decimal | None:  # fmt: skip
    """The price the customer gets without a manual discount: the configuration's price or the
    price engine's (`price_for`: the customer's list with its group and quantity rules). Puts
    why there is none under `<key>.price_list` (dropped when the user typed a price)."""
    if item is not None:
        if item.currency_id != currency:
            errors.setdefault(f"{key}.configured_item", []).append(
                _("The configuration is priced in %(c)s, the document in %(d)s.")
                % {"c": item.currency_id, "d": currency}
            )
            return None
        return item.price
    try:
        result = price_for(product=product, party=party, quantity=quantity, date=date,
                           price_list=price_list)  # fmt: skip
    except ValidationError as exc:
        errors.setdefault(f"{key}.price_list", []).extend(exc.messages)
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
    try:
        totals = tax_engine.compute(
            [
                tax_engine.LineInput(
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    discount=line.discount,
                    taxes=tuple(tax_engine.TaxRule.of(t) for t in line.taxes),
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
