"""The company's purchase settings and its suppliers' prices."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, Currency
from xietong.finance.models import Account, Tax
from xietong.inventory.models import Warehouse
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.purchase.common import (
    HUNDRED,
    ZERO,
    Errors,
    PurchaseError,
    date_of,
    decimal_of,
    purchase_settings,
    same_company,
    supplier_check,
)
from xietong.purchase.models import PurchaseSettings, SupplierPrice

PERCENTS = ("receipt_tolerance_percent", "price_tolerance_percent", "quantity_tolerance_percent")


@audited
def settings_update(*, company: Company, actor: Any, **fields: Any) -> PurchaseSettings:
    """Change the purchase settings: warehouse, default_tax (a purchase tax), the three
    tolerances (0–100 %), requisition_approval_limit (not negative), rfq_answer_days,
    landed_cost_account (a posting account). Raises PurchaseError naming every bad field;
    writes nothing then."""
    errors: Errors = {}
    allowed = {"warehouse", "default_tax", "requisition_approval_limit", "rfq_answer_days",
               "landed_cost_account", *PERCENTS}  # fmt: skip
    for name in sorted(set(fields) - allowed):
        errors.setdefault(name, []).append(_("This field cannot be set here."))
    row = purchase_settings(company)
    for name in PERCENTS:
        if name in fields:
            value = decimal_of(fields[name], errors, name, minimum=ZERO)
            if value > HUNDRED:
                errors.setdefault(name, []).append(_("At most 100 %."))
            setattr(row, name, value)
    if "requisition_approval_limit" in fields:
        row.requisition_approval_limit = decimal_of(
            fields["requisition_approval_limit"], errors, "requisition_approval_limit",
            minimum=ZERO,
        )  # fmt: skip
    if "rfq_answer_days" in fields:
        days = fields["rfq_answer_days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 0 < days < 366:
            errors.setdefault("rfq_answer_days", []).append(_("Give 1 to 365 days."))
        else:
            row.rfq_answer_days = days
    for name, model, label in (("warehouse", Warehouse, _("warehouse")),
                               ("default_tax", Tax, _("tax")),
                               ("landed_cost_account", Account, _("account"))):  # fmt: skip
        if name not in fields:
            continue
        value = fields[name]
        if value is not None and not isinstance(value, model):
            errors.setdefault(name, []).append(_("Choose one from the list."))
            continue
        if same_company(company, value, label, errors, name):
            setattr(row, name, value)
    tax = row.default_tax
    if tax is not None and tax.use != Tax.Use.PURCHASE:
        errors.setdefault("default_tax", []).append(_("Choose a purchase tax."))
    account = row.landed_cost_account
    if account is not None and (account.is_group or not account.active or account.reconcile):
        errors.setdefault("landed_cost_account", []).append(
            _("Choose an active posting account that is not reconciled with partners.")
        )
    if errors:
        raise PurchaseError(errors)
    row.save()
    return row


@audited
def supplier_price_set(
    *,
    company: Company,
    actor: Any,
    supplier: Party,
    product: Product,
    price: Decimal | str,
    currency: Currency | str | None = None,
    min_quantity: Decimal | str = ZERO,
    lead_time_days: int = 0,
    valid_from: dt.date | str | None = None,
    valid_until: dt.date | str | None = None,
    supplier_code: str = "",
    instance: SupplierPrice | None = None,
) -> SupplierPrice:
    """Create (or, with `instance`, change) a supplier's price for a product from a minimum
    quantity, with its lead time and validity. Raises PurchaseError naming every bad field."""
    errors: Errors = {}
    supplier_check(company, supplier, errors, "supplier")
    if not isinstance(product, Product) or product.company_id != company.pk:
        errors.setdefault("product", []).append(_("Choose a product of this company."))
    amount = decimal_of(price, errors, "price", minimum=ZERO)
    minimum = decimal_of(min_quantity, errors, "min_quantity", minimum=ZERO, default=ZERO)
    code = (
        getattr(currency, "pk", currency)
        or getattr(supplier, "currency_id", None)
        or (company.base_currency_id)
    )
    if not Currency.objects.filter(pk=code).exists():
        errors.setdefault("currency", []).append(_("Choose a currency."))
    if (
        not isinstance(lead_time_days, int)
        or isinstance(lead_time_days, bool)
        or not (0 <= lead_time_days < 1000)
    ):
        errors.setdefault("lead_time_days", []).append(_("Give 0 to 999 days."))
    start = date_of(valid_from, errors, "valid_from") if valid_from else None
    end = date_of(valid_until, errors, "valid_until") if valid_until else None
    if start and end and end < start:
        errors.setdefault("valid_until", []).append(_("The end is before the start."))
    if instance is not None and instance.company_id != company.pk:
        errors.setdefault("instance", []).append(_("This price belongs to another company."))
    if errors:
        raise PurchaseError(errors)
    with transaction.atomic():
        row = instance or SupplierPrice(company=company)
        row.supplier, row.product, row.currency_id = supplier, product, code
        row.price, row.min_quantity, row.lead_time_days = amount, minimum, lead_time_days
        row.valid_from, row.valid_until, row.supplier_code = start, end, supplier_code[:60]
        row.save()
    return row


@audited
def supplier_price_delete(*, price: SupplierPrice, actor: Any) -> None:
    price.delete()
