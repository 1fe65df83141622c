"""What the purchase services share: the company's purchase settings, numbering, the cleaning
of document lines (product, quantity, unit, price, discount, taxes, dates), their amounts
through the finance tax engine, supplier prices, supplier-timeline entries and the refusal
type."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
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
from xietong.product.models import Product
from xietong.purchase.models import PurchaseSettings, SupplierPrice

ZERO = Decimal(0)
HUNDRED = Decimal(100)
Errors = dict[str, list[str]]

SEQUENCES = {
    "purchase.requisition": ("Purchase requisitions", "PR/{year}/{number:05d}"),
    "purchase.rfq": ("Requests for quotation", "RFQ/{year}/{number:05d}"),
    "purchase.order": ("Purchase orders", "PO/{year}/{number:05d}"),
    "purchase.landed": ("Landed costs", "LC/{year}/{number:05d}"),
}


class PurchaseError(ValidationError):
    """A refused purchase operation; nothing was written. `code` names the reason."""


def refusal(message: str, code: str, field_name: str | None = None) -> PurchaseError:
    if field_name:
        return PurchaseError({field_name: [ValidationError(message, code=code)]})
    return PurchaseError(message, code=code)


def numbers_next(company: Company, code: str, date: dt.date, count: int = 1) -> list[str]:
    """The next `count` numbers of the company's sequence `code` (one of SEQUENCES) for
    `date`, in increasing order, the sequence made on first use."""
    name, pattern = SEQUENCES[code]
    return sequence_take(company=company, code=code, date=date, count=count, name=name,
                         pattern=pattern)  # fmt: skip


def purchase_settings(company: Company) -> PurchaseSettings:
    """The company's purchase settings, created on first use with its first warehouse and its
    highest active purchase tax. Read it once per service call and pass it down."""
    rows = PurchaseSettings.unscoped.filter(company=company).select_related(
        "warehouse", "default_tax", "landed_cost_account"
    )
    found = rows.order_by("pk").first()
    if found is not None:
        return found
    with transaction.atomic():
        warehouse = Warehouse.unscoped.filter(company=company).order_by("pk").first()
        tax = (
            Tax.unscoped.filter(company=company, use=Tax.Use.PURCHASE, active=True)
            .order_by("-rate", "sequence", "pk")
            .first()
        )
        found, _created = PurchaseSettings.unscoped.get_or_create(
            company=company, defaults={"warehouse": warehouse, "default_tax": tax}
        )
    return found


def timeline(party: Party, kind: str, summary: str, *, actor: Any, source: Any,
             url: str = "") -> None:  # fmt: skip
    timeline_add(
        party=party, kind=kind, summary=summary, actor=user_or_none(actor), source=source,
        url=url, occurred_at=timezone.now(),
    )  # fmt: skip


def user_or_none(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


def same_company(company: Company, record: Any, label: str, errors: Errors, key: str) -> bool:
    """Whether `record` (a company-owned row or None) may be used by `company`; records an
    error under `key` when not."""
    if record is None:
        return True
    if getattr(record, "company_id", company.pk) != company.pk:
        errors.setdefault(key, []).append(
            _("The %(what)s “%(name)s” belongs to another company.") % {"what": label,
                                                                        "name": record}
        )  # fmt: skip
        return False
    return True


def supplier_check(company: Company, party: Any, errors: Errors, key: str = "party") -> bool:
    """Whether `party` is a saved, active, unmerged supplier of `company`."""
    if not isinstance(party, Party) or party.pk is None:
        errors.setdefault(key, []).append(_("Give a supplier."))
        return False
    if not same_company(company, party, _("supplier"), errors, key):
        return False
    if party.merged_into_id or not party.active:
        errors.setdefault(key, []).append(
            _("The supplier “%(name)s” is archived or merged.") % {"name": party}
        )
        return False
    if not party.is_supplier:
        errors.setdefault(key, []).append(
            _("“%(name)s” is not marked as a supplier.") % {"name": party}
        )
        return False
    return True


def decimal_of(value: Any, errors: Errors, key: str, *, default: Decimal | None = None,
               positive: bool = False, minimum: Decimal | None = None) -> Decimal:  # fmt: skip
    """`value` as a Decimal (text, int or Decimal; never a float), with an error under `key`
    when it is missing, malformed, not positive (`positive`) or below `minimum`."""
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
    except (InvalidOperation, ValueError):
        errors.setdefault(key, []).append(_("“%(value)s” is not a number.") % {"value": value})
        return ZERO
    if not number.is_finite():
        errors.setdefault(key, []).append(_("“%(value)s” is not a number.") % {"value": value})
        return ZERO
    if positive and number <= 0:
        errors.setdefault(key, []).append(_("Give a quantity above zero."))
    elif minimum is not None and number < minimum:
        errors.setdefault(key, []).append(_("Give at least %(minimum)s.") % {"minimum": minimum})
    return number


def date_of(value: Any, errors: Errors, key: str, *, default: dt.date | None = None) -> dt.date:
    if value in (None, ""):
        if default is not None:
            return default
        errors.setdefault(key, []).append(_("This field is required."))
        return timezone.localdate()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        errors.setdefault(key, []).append(
            _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value}
        )
        return timezone.localdate()


def pk_of(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if hasattr(value, "pk"):
        return value.pk
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- supplier prices -----------------------------------------------------------------------


def supplier_prices(
    *, company: Company, products: Sequence[int], date: dt.date, supplier: Party | None = None
) -> dict[int, list[SupplierPrice]]:
    """The supplier prices valid on `date` for `products` (of `supplier` only, when given), by
    product, cheapest first (one query)."""
    rows = SupplierPrice.unscoped.filter(company=company, product_id__in=list(products)).filter(
        Q(valid_from__isnull=True) | Q(valid_from__lte=date),
        Q(valid_until__isnull=True) | Q(valid_until__gte=date),
    )
    if supplier is not None:
        rows = rows.filter(supplier=supplier)
    found: dict[int, list[SupplierPrice]] = {}
    for row in rows.select_related("supplier").order_by("price", "-min_quantity", "pk"):
        found.setdefault(row.product_id, []).append(row)
    return found


def supplier_price(
    rows: Sequence[SupplierPrice], *, supplier_id: int, quantity: Decimal, currency: str
) -> SupplierPrice | None:
    """Of `rows` (one product's valid prices), the one of the supplier in `currency` for the
    largest minimum quantity not above `quantity`."""
    fitting = [
        r for r in rows
        if r.supplier_id == supplier_id and r.currency_id == currency and r.min_quantity <= quantity
    ]  # fmt: skip
    return max(fitting, key=lambda r: (r.min_quantity, -r.price), default=None)


# --- lines ----------------------------------------------------------------------------------


@dataclass
class LineData:
    """One clean purchase line, before it is written."""

    product: Product
    quantity: Decimal
    uom: UnitOfMeasure
    unit_price: Decimal
    discount: Decimal
    taxes: list[Tax]
    description: str
    need_date: dt.date
    net: Decimal = ZERO
    tax: Decimal = ZERO
    total: Decimal = ZERO
    extra: dict[str, Any] = field(default_factory=dict)


def lines_clean(
    *,
    company: Company,
    lines: Sequence[Mapping[str, Any]],
    supplier: Party | None,
    currency: str,
    date: dt.date,
    default_tax: Tax | None,
    priced: bool = True,
) -> list[LineData]:
    """Check and complete document lines given as dicts of `product` (instance or pk),
    `quantity`, and optionally `uom` (default the product's purchase unit), `unit_price`
    (default: the supplier's price for the quantity, else the product's standard cost),
    `discount` (percent), `taxes` (list of purchase taxes; default the settings' tax),
    `description` (default the product's name), `need_date` (default `date` + the supplier's
    or product's lead time). Other keys are kept in `extra`. `priced=False` (requisitions,
    RFQs) skips prices and taxes. Raises PurchaseError naming every bad field (`lines.N.x`)."""
    errors: Errors = {}
    if not lines:
        raise refusal(_("Add at least one line."), "no_lines", "lines")
    product_ids = {pk_of(raw.get("product")) for raw in lines} - {None}
    products = Product.unscoped.select_related("uom", "purchase_uom").in_bulk(list(product_ids))
    unit_ids = {pk_of(raw.get("uom")) for raw in lines} - {None}
    units = UnitOfMeasure.objects.in_bulk(list(unit_ids)) if unit_ids else {}
    tax_ids = {pk_of(t) for raw in lines for t in (raw.get("taxes") or [])} - {None}
    taxes = Tax.unscoped.in_bulk(list(tax_ids)) if tax_ids else {}
    prices = (
        supplier_prices(company=company, products=list(product_ids), date=date, supplier=supplier)
        if priced and supplier is not None
        else {}
    )
    out: list[LineData] = []
    for n, raw in enumerate(lines, start=1):
        key = f"lines.{n}"
        product = products.get(pk_of(raw.get("product")) or 0)
        if product is None or product.company_id != company.pk:
            errors.setdefault(f"{key}.product", []).append(_("Choose a product of this company."))
            continue
        if not product.active:
            errors.setdefault(f"{key}.product", []).append(
                _("The product “%(name)s” is archived.") % {"name": product.name}
            )
        quantity = decimal_of(raw.get("quantity"), errors, f"{key}.quantity", positive=True)
        uom = product.purchase_uom or product.uom
        if raw.get("uom") not in (None, ""):
            uom = units.get(pk_of(raw.get("uom")) or 0)
            if uom is None or uom.category_id != product.uom.category_id:
                errors.setdefault(f"{key}.uom", []).append(
                    _("Choose a unit of the product's kind (%(unit)s).") % {"unit": product.uom}
                )
                uom = product.uom
        found = None
        if supplier is not None and product.pk in prices:
            found = supplier_price(prices[product.pk], supplier_id=supplier.pk, quantity=quantity,
                                   currency=currency)  # fmt: skip
        lead = found.lead_time_days if found is not None else product.purchase_lead_days
        need_date = date_of(raw.get("need_date"), errors, f"{key}.need_date",
                            default=date + dt.timedelta(days=lead))  # fmt: skip
        unit_price = discount = ZERO
        line_taxes: list[Tax] = []
        if priced:
            default_price = found.price if found is not None else product.standard_cost
            unit_price = decimal_of(raw.get("unit_price"), errors, f"{key}.unit_price",
                                    default=default_price, minimum=ZERO)  # fmt: skip
            discount = decimal_of(raw.get("discount"), errors, f"{key}.discount", default=ZERO,
                                  minimum=ZERO)  # fmt: skip
            if discount > HUNDRED:
                errors.setdefault(f"{key}.discount", []).append(_("At most 100 %."))
            given = raw.get("taxes")
            if given is None:
                line_taxes = [default_tax] if default_tax is not None else []
            else:
                for t in given:
                    tax = taxes.get(pk_of(t) or 0)
                    if tax is None or tax.company_id != company.pk or not tax.active:
                        errors.setdefault(f"{key}.taxes", []).append(
                            _("Choose active taxes of this company.")
                        )
                    elif tax.use != Tax.Use.PURCHASE:
                        errors.setdefault(f"{key}.taxes", []).append(
                            _("The tax “%(tax)s” is not a purchase tax.") % {"tax": tax}
                        )
                    else:
                        line_taxes.append(tax)
        description = str(raw.get("description") or product.name)[:300]
        extra = {
            k: v for k, v in raw.items()
            if k not in {"product", "quantity", "uom", "unit_price", "discount", "taxes",
                         "description", "need_date"}
        }  # fmt: skip
        out.append(LineData(product=product, quantity=quantity, uom=uom, unit_price=unit_price,
                            discount=discount, taxes=line_taxes, description=description,
                            need_date=need_date, extra=extra))  # fmt: skip
    if errors:
        raise PurchaseError(errors)
    return out


def amounts_compute(company: Company, currency: str, lines: list[LineData]) -> tuple[Decimal, ...]:
    """Fill each line's net, tax and total through the finance tax engine (the invoice rules,
    so an order and its supplier invoice agree to the cent); returns (untaxed, tax, total)."""
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
