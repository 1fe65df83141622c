"""What the shell's generated permission matrices need from the finance module: a sample record
for each finance URL with a primary key (xietong/web/tests), the POST-only views, and a sample
request for each finance API operation (xietong/api/tests)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from xietong.core.models import Company, User
from xietong.core.tenancy import company_scope
from xietong.finance.models import (
    Account,
    BankStatement,
    Dunning,
    DunningLevel,
    Entry,
    FiscalYear,
    Invoice,
    Journal,
    Payment,
    Period,
    Tax,
)
from xietong.finance.posting import EntrySpec, LineSpec, entry_create, entry_post
from xietong.finance.tests.factories import books
from xietong.party.models import Party

_serial = itertools.count(1)
DATE = dt.date(2026, 3, 10)

# URL name -> key of the record (in the web tests' `records` fixture) its pk comes from.
URL_RECORDS = {
    "finance:account_detail": "fin_account",
    "finance:account_edit": "fin_account",
    "finance:journal_edit": "fin_journal",
    "finance:tax_edit": "fin_tax",
    "finance:year_close": "fin_year",
    "finance:period_close": "fin_period",
    "finance:dunning_level_edit": "fin_dunning_level",
    "finance:entry_detail": "fin_entry",
    "finance:entry_edit": "fin_draft",
    "finance:entry_post": "fin_draft",
    "finance:entry_delete": "fin_draft",
    "finance:entry_reverse": "fin_entry",
    "finance:invoice_detail": "fin_invoice",
    "finance:invoice_edit": "fin_draft_invoice",
    "finance:invoice_post": "fin_draft_invoice",
    "finance:invoice_delete": "fin_draft_invoice",
    "finance:invoice_cancel": "fin_invoice",
    "finance:invoice_credit": "fin_invoice",
    "finance:invoice_apply_credit": "fin_invoice",
    "finance:invoice_pdf": "fin_invoice",
    "finance:payment_detail": "fin_payment",
    "finance:payment_allocate": "fin_payment",
    "finance:payment_cancel": "fin_payment",
    "finance:statement_detail": "fin_statement",
    "finance:statement_line_reconcile": "fin_statement_line",
    "finance:statement_line_undo": "fin_statement_line",
    "finance:statement_line_book": "fin_statement_line",
    "finance:customer_statement": "fin_customer",
    "finance:customer_statement_pdf": "fin_customer",
    "finance:dunning_pdf": "fin_dunning",
}
# Views that only accept POST.
POST_ONLY = {
    "finance:entry_lines",
    "finance:entry_post",
    "finance:entry_delete",
    "finance:invoice_lines",
    "finance:invoice_post",
    "finance:invoice_delete",
    "finance:invoice_apply_credit",
    "finance:statement_line_reconcile",
    "finance:statement_line_undo",
    "finance:statement_line_book",
    "finance:dunning_run",
}


def ledger(company: Company) -> Any:
    """The finance test books of `company` (created once): accounts, journals, settings, and a
    sales tax."""
    existing = Account.unscoped.filter(company=company, code="1002").first()
    if existing is not None:
        from types import SimpleNamespace

        accounts = {a.code: a for a in Account.unscoped.filter(company=company)}
        journals = {j.code: j for j in Journal.unscoped.filter(company=company)}
        return SimpleNamespace(
            company=company,
            bank=accounts["1002"],
            cash=accounts["1001"],
            receivable=accounts["1122"],
            payable=accounts["2202"],
            income=accounts["6001"],
            expense=accounts["6602"],
            capital=accounts["4001"],
            vat_out=accounts["22210102"],
            vat_in=accounts["22210101"],
            general=journals["GEN"],
            sales=journals["SAL"],
            purchases=journals["PUR"],
            bank_journal=journals["BNK"],
            vat=Tax.unscoped.get(company=company, code="VAT13"),
            vat_purchase=Tax.unscoped.get(company=company, code="VAT13P"),
        )
    b = books(company)
    b.vat = Tax.unscoped.create(
        company=company, code="VAT13", name="VAT 13%", use=Tax.Use.SALE, rate=Decimal(13),
        account=b.vat_out,
    )  # fmt: skip
    b.vat_purchase = Tax.unscoped.create(
        company=company, code="VAT13P", name="Input VAT 13%", use=Tax.Use.PURCHASE,
        rate=Decimal(13), account=b.vat_in,
    )  # fmt: skip
    return b


def posted_entry(
    company: Company, amount: str = "100", date: dt.date = DATE, ref: str = ""
) -> Entry:
    b = ledger(company)
    return entry_post(
        company=company,
        spec=EntrySpec(
            journal=b.general,
            date=date,
            ref=ref or f"Matrix {next(_serial)}",
            lines=[
                LineSpec(account=b.bank, debit=Decimal(amount)),
                LineSpec(account=b.capital, credit=Decimal(amount)),
            ],
        ),
    )


def draft_entry(company: Company, amount: str = "50") -> Entry:
    b = ledger(company)
    return entry_create(
        company=company,
        spec=EntrySpec(
            journal=b.general,
            date=DATE,
            lines=[
                LineSpec(account=b.cash, debit=Decimal(amount)),
                LineSpec(account=b.capital, credit=Decimal(amount)),
            ],
        ),
    )


def customer(company: Company, name: str = "", **fields: Any) -> Party:
    from xietong.party.services import party_create

    fields.setdefault("is_customer", True)
    with company_scope(company):
        return party_create(
            company=company,
            actor=None,
            name=name or f"Finance customer {next(_serial)}",
            allow_duplicate=True,
            **fields,
        )


def invoice(
    company: Company,
    party: Party | None = None,
    amount: str = "100",
    *,
    post: bool = True,
    kind: str = Invoice.Kind.CUSTOMER_INVOICE,
    date: dt.date = DATE,
) -> Invoice:
    """A customer invoice of one line of `amount` with 13 % VAT (posted unless `post` is
    False)."""
    from xietong.finance.invoicing import invoice_create, invoice_post

    b = ledger(company)
    customer_kind = kind in (Invoice.Kind.CUSTOMER_INVOICE, Invoice.Kind.CUSTOMER_CREDIT)
    if party is None:
        party = customer(company, is_customer=customer_kind, is_supplier=not customer_kind)
    draft = invoice_create(
        company=company,
        actor=None,
        kind=kind,
        party=party,
        date=date,
        lines=[
            {
                "description": "Matrix goods",
                "quantity": Decimal(1),
                "unit_price": Decimal(amount),
                "taxes": [b.vat if customer_kind else b.vat_purchase],
            }
        ],
    )
    return invoice_post(invoice=draft, actor=None) if post else draft


def payment(company: Company, party: Party, amount: str, **kwargs: Any) -> Payment:
    from xietong.finance.payments import payment_create, payment_post

    b = ledger(company)
    allocations = kwargs.pop("allocations", None)
    draft = payment_create(
        company=company,
        actor=None,
        direction=kwargs.pop("direction", "inbound"),
        party=party,
        journal=b.bank_journal,
        date=kwargs.pop("date", DATE),
        amount=Decimal(amount),
        **kwargs,
    )
    return payment_post(payment=draft, actor=None, allocations=allocations)


def statement(company: Company, reference: str = "") -> BankStatement:
    from xietong.finance.banking import statement_import

    b = ledger(company)
    day = DATE + dt.timedelta(days=next(_serial) % 15)
    data = (
        "date,amount,counterparty,reference\n"
        f"{day.isoformat()},113.00,Matrix Buyer,{reference or f'Matrix {next(_serial)}'}\n"
    )
    return statement_import(company=company, actor=None, journal=b.bank_journal, file=data.encode())


def finance_records(company: Company, key: str) -> dict[str, Any]:
    """One record of each finance kind in `company`, named CANARY-<key>-… for isolation probes."""
    b = ledger(company)
    entry = posted_entry(company, ref=f"CANARY-{key}-entry")
    level = DunningLevel.unscoped.create(
        company=company, level=1, name=f"CANARY-{key}-dunning", days_overdue=15
    )
    year = FiscalYear.unscoped.get(company=company, start__lte=DATE, end__gte=DATE)
    period = Period.unscoped.filter(fiscal_year=year, state=Period.State.OPEN).order_by("-start")[0]
    Account.unscoped.filter(pk=b.bank.pk).update(name=f"CANARY-{key}-bank")
    b.bank.refresh_from_db()
    buyer = customer(company, f"CANARY-{key}-customer")
    posted = invoice(company, buyer, "1000")
    bank_statement = statement(company, f"CANARY-{key}-statement")
    dunning = Dunning.unscoped.create(
        company=company,
        party=buyer,
        level=level,
        date=DATE,
        amount_due=posted.amount_total,
        currency_id=posted.currency_id,
    )
    dunning.invoices.set([posted])
    return {
        "fin_customer": buyer,
        "fin_invoice": posted,
        "fin_draft_invoice": invoice(company, buyer, "10", post=False),
        "fin_payment": payment(company, buyer, "50"),
        "fin_statement": bank_statement,
        "fin_statement_line": bank_statement.lines.get(),
        "fin_dunning": dunning,
        "fin_account": b.bank,
        "fin_journal": b.general,
        "fin_tax": b.vat,
        "fin_year": year,
        "fin_period": period,
        "fin_dunning_level": level,
        "fin_entry": entry,
        "fin_draft": draft_entry(company),
    }


# --- API ------------------------------------------------------------------------------------


def _sample(
    path_params: dict[str, Any],
    body: dict[str, Any] | None = None,
    query: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def _far_period(company: Company) -> Period:
    """An open period no sample used yet (months from 2060 on), created with its year."""
    from xietong.finance.periods import period_for

    n = next(_serial)
    return period_for(company=company, date=dt.date(2060 + n // 12, n % 12 + 1, 15))


def _entry_body() -> dict[str, Any]:
    return {
        "journal": "GEN",
        "date": DATE.isoformat(),
        "ref": f"Matrix {next(_serial)}",
        "lines": [
            {"account": "1002", "debit": "10.00"},
            {"account": "4001", "credit": "10.00"},
        ],
    }


def _invoice_body(company: Company) -> dict[str, Any]:
    ledger(company)
    return {
        "kind": "out_invoice",
        "party": customer(company).pk,
        "date": DATE.isoformat(),
        "lines": [{"description": "Matrix", "unit_price": "100", "taxes": ["VAT13"]}],
    }


def _payment_body(company: Company) -> dict[str, Any]:
    ledger(company)
    party = customer(company)
    posted = invoice(company, party, "100")
    return {
        "direction": "inbound",
        "party": party.pk,
        "journal": "BNK",
        "date": DATE.isoformat(),
        "amount": "50.00",
        "allocations": [{"invoice": posted.pk}],
    }


def _on_entry(user: User, company: Company) -> dict[str, Any]:
    return _sample({"entry_id": posted_entry(company).pk})


def _on_invoice(*, post: bool = True, body: dict[str, Any] | None = None) -> Any:
    return lambda u, c: _sample({"invoice_id": invoice(c, post=post).pk}, body)


# Path parameters of the finance operations (the anonymous probe fills them with 1).
PATH_PARAMETERS: tuple[str, ...] = ("entry_id", "period_id", "invoice_id")

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
FINANCE_SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/finance/accounts"): lambda u, c: _sample({}, query={"q": "1"}),
    ("POST", "/finance/accounts"): lambda u, c: _sample(
        {}, {"code": f"9{next(_serial):05d}", "name": "Matrix", "type": "expense"}
    ),
    ("GET", "/finance/journals"): lambda u, c: _sample({}),
    ("GET", "/finance/entries"): lambda u, c: _sample({}, query={"state": "posted"}),
    ("GET", "/finance/entries/{entry_id}"): _on_entry,
    ("POST", "/finance/entries"): lambda u, c: (ledger(c), _sample({}, _entry_body()))[1],
    ("POST", "/finance/entries/{entry_id}/reverse"): lambda u, c: {
        **_on_entry(u, c),
        "body": {},
    },
    ("GET", "/finance/periods"): lambda u, c: _sample({}),
    ("POST", "/finance/periods/{period_id}/close"): lambda u, c: _sample(
        {"period_id": _far_period(c).pk}
    ),
    ("GET", "/finance/invoices"): lambda u, c: _sample({}, query={"kind": "out_invoice"}),
    ("GET", "/finance/invoices/{invoice_id}"): _on_invoice(),
    ("POST", "/finance/invoices"): lambda u, c: _sample({}, _invoice_body(c)),
    ("POST", "/finance/invoices/{invoice_id}/post"): _on_invoice(post=False),
    ("POST", "/finance/invoices/{invoice_id}/cancel"): _on_invoice(body={}),
    ("GET", "/finance/invoices/{invoice_id}/pdf"): _on_invoice(),
    ("GET", "/finance/payments"): lambda u, c: _sample({}),
    ("POST", "/finance/payments"): lambda u, c: _sample({}, _payment_body(c)),
    ("GET", "/finance/reports/trial-balance"): lambda u, c: _sample(
        {}, query={"start": "2026-01-01", "end": "2026-12-31"}
    ),
    ("GET", "/finance/reports/balance-sheet"): lambda u, c: _sample(
        {}, query={"as_of": "2026-12-31"}
    ),
    ("GET", "/finance/reports/profit-and-loss"): lambda u, c: _sample(
        {}, query={"start": "2026-01-01", "end": "2026-12-31"}
    ),
}
