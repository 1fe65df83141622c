"""Test helpers of the finance app: a small chart of accounts, journals and postings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from types import SimpleNamespace

from xietong.core.models import Company
from xietong.finance.models import Account, AccountSubtype, AccountType, FinanceSettings, Journal
from xietong.finance.posting import EntrySpec, LineSpec, entry_post

D = Decimal


def books(company: Company) -> SimpleNamespace:
    """A minimal chart with the accounts the services need, journals and the settings row."""

    def account(code, name, type_, subtype="", reconcile=False, currency=None):  # type: ignore[no-untyped-def]
        return Account.unscoped.create(
            company=company,
            code=code,
            name=name,
            type=type_,
            subtype=subtype,
            reconcile=reconcile,
            currency_id=currency,
        )

    ns = SimpleNamespace()
    ns.company = company
    ns.bank = account("1002", "Bank", AccountType.ASSET, AccountSubtype.BANK)
    ns.bank_usd = account(
        "1003", "Bank USD", AccountType.ASSET, AccountSubtype.BANK, currency="USD"
    )
    ns.cash = account("1001", "Cash", AccountType.ASSET, AccountSubtype.CASH)
    ns.receivable = account(
        "1122", "Receivable", AccountType.ASSET, AccountSubtype.RECEIVABLE, True
    )
    ns.stock = account("1405", "Stock", AccountType.ASSET, AccountSubtype.STOCK)
    ns.payable = account("2202", "Payable", AccountType.LIABILITY, AccountSubtype.PAYABLE, True)
    ns.vat_out = account("22210102", "Output VAT", AccountType.LIABILITY, AccountSubtype.TAX)
    ns.vat_in = account("22210101", "Input VAT", AccountType.ASSET, AccountSubtype.TAX)
    ns.capital = account("4001", "Capital", AccountType.EQUITY)
    ns.retained = account(
        "4104", "Retained earnings", AccountType.EQUITY, AccountSubtype.RETAINED_EARNINGS
    )
    ns.income = account("6001", "Sales", AccountType.INCOME)
    ns.expense = account("6602", "Expenses", AccountType.EXPENSE)
    ns.cogs = account("6401", "Cost of sales", AccountType.EXPENSE, AccountSubtype.COST_OF_SALES)
    ns.fx = account("660302", "Exchange differences", AccountType.EXPENSE)

    def journal(code, kind, account=None):  # type: ignore[no-untyped-def]
        return Journal.unscoped.create(
            company=company, code=code, name=code, kind=kind, account=account
        )

    ns.sales = journal("SAL", Journal.Kind.SALES)
    ns.purchases = journal("PUR", Journal.Kind.PURCHASE)
    ns.bank_journal = journal("BNK", Journal.Kind.BANK, ns.bank)
    ns.cash_journal = journal("CSH", Journal.Kind.CASH, ns.cash)
    ns.general = journal("GEN", Journal.Kind.GENERAL)
    ns.settings = FinanceSettings.unscoped.create(
        company=company,
        receivable_account=ns.receivable,
        payable_account=ns.payable,
        income_account=ns.income,
        expense_account=ns.expense,
        exchange_gain_account=ns.fx,
        exchange_loss_account=ns.fx,
        retained_earnings_account=ns.retained,
        sales_journal=ns.sales,
        purchase_journal=ns.purchases,
        general_journal=ns.general,
    )
    return ns


def post(b: SimpleNamespace, *pairs, date=dt.date(2026, 3, 10), journal=None, actor=None, **kw):  # type: ignore[no-untyped-def]
    """Post lines given as (account, debit, credit[, extra LineSpec keywords])."""
    lines = []
    for pair in pairs:
        account, debit, credit, *extra = pair
        lines.append(
            LineSpec(
                account=account, debit=D(debit), credit=D(credit), **(extra[0] if extra else {})
            )
        )
    return entry_post(
        company=b.company,
        spec=EntrySpec(journal=journal or b.general, date=date, lines=lines, **kw),
        actor=actor,
    )
