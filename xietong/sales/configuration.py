"""Changing a company's sales settings (`SalesSettings`): the shipping warehouse, how long
quotations are valid, the invoicing policy, the discount allowed without approval, the down
payment account, how long returns are accepted and the default sales tax."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.finance.models import Account, Tax
from xietong.inventory.models import Warehouse
from xietong.sales.common import SalesError, refusal, sales_settings
from xietong.sales.models import InvoicePolicy, SalesSettings

FIELDS = {
    "warehouse", "quotation_validity_days", "invoice_policy", "max_discount_percent",
    "down_payment_account", "return_days", "default_tax",
}  # fmt: skip


@audited
def sales_settings_update(*, company: Company, actor: Any, **fields: Any) -> SalesSettings:
    """Change the given settings of `company` (the others stay). Raises SalesError (nothing
    written) per field: a warehouse, account or tax of another company, an account that is a
    group, archived or reconcilable, a tax that is not an active sales tax, days out of range,
    a discount outside 0–100 %, an unknown invoicing policy. Locks the settings row."""
    unknown = set(fields) - FIELDS
    if unknown:
        raise refusal(
            _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}, "fields"
        )
    errors: dict[str, list[str]] = {}
    warehouse = fields.get("warehouse")
    if warehouse is not None and (
        not isinstance(warehouse, Warehouse) or warehouse.company_id != company.pk
    ):
        errors["warehouse"] = [_("Choose a warehouse of this company.")]
    account = fields.get("down_payment_account")
    if account is not None and (
        not isinstance(account, Account)
        or account.company_id != company.pk
        or account.is_group
        or not account.active
        or account.reconcile
    ):
        errors["down_payment_account"] = [
            _("Choose an active, postable account of this company that is not reconciled.")
        ]
    tax = fields.get("default_tax")
    if tax is not None and (
        not isinstance(tax, Tax)
        or tax.company_id != company.pk
        or tax.use != Tax.Use.SALE
        or not tax.active
    ):
        errors["default_tax"] = [_("Choose an active sales tax of this company.")]
    for name, most in (("quotation_validity_days", 3650), ("return_days", 3650)):
        if name in fields and not (isinstance(fields[name], int) and 0 <= fields[name] <= most):
            errors[name] = [_("Give a number of days between 0 and %(most)s.") % {"most": most}]
    if "max_discount_percent" in fields:
        value = fields["max_discount_percent"]
        if not isinstance(value, Decimal) or not Decimal(0) <= value <= Decimal(100):
            errors["max_discount_percent"] = [_("A discount is between 0 and 100 %.")]
    if "invoice_policy" in fields and fields["invoice_policy"] not in InvoicePolicy.values:
        errors["invoice_policy"] = [_("Invoice on ordered or on delivered quantities.")]
    if errors:
        raise SalesError(errors)
    with transaction.atomic():
        row = SalesSettings.unscoped.select_for_update().get(pk=sales_settings(company).pk)
        for name, value in fields.items():
            setattr(row, name, value)
        row.save()
    return row
