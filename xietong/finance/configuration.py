"""Write services of the ledger's configuration rows: accounts, journals, taxes, the company's
finance settings and dunning levels. Each checks what the database cannot (codes that numbering
and postings depend on, fields fixed once lines are booked) and writes one row, audited; a
refusal is a ValidationError keyed by field and changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.finance.models import (
    Account,
    DunningLevel,
    Entry,
    FinanceSettings,
    InvoiceLine,
    Journal,
    Line,
    Tax,
)

SETTINGS_ACCOUNTS = (
    "receivable_account",
    "payable_account",
    "income_account",
    "expense_account",
    "exchange_gain_account",
    "exchange_loss_account",
    "retained_earnings_account",
    "discount_account",
)
SETTINGS_JOURNALS = ("sales_journal", "purchase_journal", "general_journal")


def _fail(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


@audited
def account_save(
    *, company: Company, account: Account | None = None, actor: Any = None, **fields: Any
) -> Account:
    """Create (`account` None) or change an account. Refuses a code used by another account, a
    parent that is not a group of the company or lies below the account, and — once lines are
    booked on it — changing its type or currency or turning it into a group."""
    code = fields["code"].strip()
    if Account.unscoped.filter(company=company, code=code).exclude(pk=getattr(account, "pk", None)).exists():  # fmt: skip
        raise _fail("code", _("Another account has the code %(code)s.") % {"code": code}, "code")
    parent = fields.get("parent")
    if parent is not None:
        if parent.company_id != company.pk or not parent.is_group:
            raise _fail("parent", _("The parent must be a group account."), "parent")
        ancestor = parent
        while ancestor is not None and account is not None:
            if ancestor.pk == account.pk:
                raise _fail("parent", _("An account cannot sit below itself."), "parent")
            ancestor = ancestor.parent
    currency = fields.get("currency")
    currency_code = getattr(currency, "code", currency) or None
    if account is not None:
        booked = Line.unscoped.filter(account=account).exists()
        if booked and fields["type"] != account.type:
            raise _fail("type", _("Lines are booked on this account; its type is fixed."), "booked")
        if booked and currency_code != account.currency_id:
            raise _fail(
                "currency", _("Lines are booked on this account; its currency is fixed."), "booked"
            )
        if booked and fields.get("is_group"):
            raise _fail(
                "is_group",
                _("Lines are booked on this account; it cannot become a group."),
                "booked",
            )
        if not fields.get("is_group") and Account.unscoped.filter(parent=account).exists():
            raise _fail(
                "is_group", _("The account has sub-accounts, so it stays a group."), "children"
            )
    obj = account or Account(company=company)
    obj.code = code
    obj.name = fields["name"].strip()
    obj.parent = parent
    obj.type = fields["type"]
    obj.subtype = fields.get("subtype") or ""
    obj.cash_flow = fields.get("cash_flow") or ""
    obj.is_group = bool(fields.get("is_group"))
    obj.reconcile = bool(fields.get("reconcile"))
    obj.currency_id = currency_code
    obj.active = bool(fields.get("active", True))
    obj.full_clean(exclude=["company"])
    obj.save()
    return obj


@audited
def journal_save(
    *, company: Company, journal: Journal | None = None, actor: Any = None, **fields: Any
) -> Journal:
    """Create or change a journal. Its code names its numbering series, so it is fixed once
    entries exist."""
    code = fields["code"].strip().upper()
    if Journal.unscoped.filter(company=company, code=code).exclude(pk=getattr(journal, "pk", None)).exists():  # fmt: skip
        raise _fail("code", _("Another journal has the code %(code)s.") % {"code": code}, "code")
    if journal is not None and code != journal.code and Entry.unscoped.filter(journal=journal).exists():  # fmt: skip
        raise _fail("code", _("Entries are numbered in this journal; its code is fixed."), "booked")
    account = fields.get("account")
    if account is not None and account.company_id != company.pk:
        raise _fail("account", _("Choose an account of the company."), "foreign_record")
    currency = fields.get("currency")
    obj = journal or Journal(company=company)
    obj.code = code
    obj.name = fields["name"].strip()
    obj.kind = fields["kind"]
    obj.account = account
    obj.currency_id = getattr(currency, "code", currency) or None
    obj.active = bool(fields.get("active", True))
    obj.full_clean(exclude=["company"])
    obj.save()
    return obj


def _tax_used(tax: Tax) -> bool:
    return (
        InvoiceLine.taxes.through.objects.filter(tax_id=tax.pk).exists()
        or Line.unscoped.filter(tax=tax).exists()
    )


@audited
def tax_save(*, company: Company, tax: Tax | None = None, actor: Any = None, **fields: Any) -> Tax:
    """Create or change a tax. Once invoices carry it, its computation (rate, included,
    compound) is fixed: create a new tax for a new rate."""
    code = fields["code"].strip()
    if Tax.unscoped.filter(company=company, code=code).exclude(pk=getattr(tax, "pk", None)).exists():  # fmt: skip
        raise _fail("code", _("Another tax has the code %(code)s.") % {"code": code}, "code")
    if tax is not None and _tax_used(tax):
        for name in ("rate", "price_include", "compound"):
            if fields[name] != getattr(tax, name):
                raise _fail(
                    name,
                    _("Documents use this tax; create a new tax instead of changing it."),
                    "used",
                )
    account = fields["account"]
    if account.company_id != company.pk or account.is_group:
        raise _fail("account", _("Choose a postable account of the company."), "account")
    obj = tax or Tax(company=company)
    for name in ("name", "use", "rate", "price_include", "compound", "sequence", "active"):
        setattr(obj, name, fields[name])
    obj.code = code
    obj.account = account
    obj.full_clean(exclude=["company"])
    obj.save()
    return obj


@audited
def settings_save(*, company: Company, actor: Any = None, **fields: Any) -> FinanceSettings:
    """Set the company's accounting policies and default accounts and journals."""
    found = list(FinanceSettings.unscoped.filter(company=company).order_by()[:1])
    obj = found[0] if found else FinanceSettings(company=company)
    ids = {name: fields.get(name) for name in (*SETTINGS_ACCOUNTS, *SETTINGS_JOURNALS)}
    accounts = Account.unscoped.filter(company=company).in_bulk(
        [ids[n] for n in SETTINGS_ACCOUNTS if ids[n]]
    )
    journals = Journal.unscoped.filter(company=company).in_bulk(
        [ids[n] for n in SETTINGS_JOURNALS if ids[n]]
    )
    for name in SETTINGS_ACCOUNTS:
        if ids[name] and ids[name] not in accounts:
            raise _fail(name, _("Choose an account of the company."), "foreign_record")
        setattr(obj, name, accounts.get(ids[name]) if ids[name] else None)
    for name in SETTINGS_JOURNALS:
        if ids[name] and ids[name] not in journals:
            raise _fail(name, _("Choose a journal of the company."), "foreign_record")
        setattr(obj, name, journals.get(ids[name]) if ids[name] else None)
    obj.tax_rounding = fields["tax_rounding"]
    obj.rounding_mode = fields["rounding_mode"]
    obj.dunning_fee = fields["dunning_fee"]
    obj.full_clean(exclude=["company"])
    obj.save()
    return obj


@audited
def dunning_level_save(
    *, company: Company, dunning_level: DunningLevel | None = None, actor: Any = None, **fields: Any
) -> DunningLevel:
    level = dunning_level
    number = fields["level"]
    if DunningLevel.unscoped.filter(company=company, level=number).exclude(pk=getattr(level, "pk", None)).exists():  # fmt: skip
        raise _fail("level", _("Level %(level)s exists already.") % {"level": number}, "level")
    obj = level or DunningLevel(company=company)
    for name in ("level", "name", "days_overdue", "fee", "letter"):
        setattr(obj, name, fields[name])
    obj.full_clean(exclude=["company"])
    obj.save()
    return obj
