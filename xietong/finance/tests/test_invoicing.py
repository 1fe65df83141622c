"""Customer and supplier invoices and credit notes: drafts, posting, numbering, installments,
foreign currency, cancelling, crediting, both tax rounding policies and the PDF."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zlib

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from xietong.core.models import ExchangeRate, UnitOfMeasure
from xietong.core.tenancy import company_scope
from xietong.finance.invoicing import (
    invoice_cancel,
    invoice_create,
    invoice_credit,
    invoice_delete,
    invoice_detail,
    invoice_list,
    invoice_pdf,
    invoice_post,
    invoice_update,
)
from xietong.finance.models import Entry, FinanceSettings, Invoice, InvoiceLine, Line, Tax
from xietong.finance.periods import period_close, period_for
from xietong.finance.posting import PostingError
from xietong.finance.reconcile import lines_match, open_items
from xietong.finance.tests.factories import D, books, post
from xietong.party.models import TimelineEntry
from xietong.party.services import (
    address_create,
    party_create,
    party_set_credit_terms,
    payment_term_create,
)
from xietong.product.models import Product

MARCH = dt.date(2026, 3, 10)


def _tax(b, code, use, rate="13", **extra):  # type: ignore[no-untyped-def]
    account = b.vat_out if use == Tax.Use.SALE else b.vat_in
    return Tax.unscoped.create(
        company=b.company,
        code=code,
        name=f"VAT {rate}% ({use})",
        use=use,
        rate=D(rate),
        account=account,
        **extra,
    )


def _party(company, name, **roles):  # type: ignore[no-untyped-def]
    with company_scope(company):
        return party_create(company=company, actor=None, name=name, allow_duplicate=True, **roles)


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    ns = books(company_a)
    ns.vat = _tax(ns, "VAT13", Tax.Use.SALE)
    ns.vat_purchase = _tax(ns, "IVAT13", Tax.Use.PURCHASE)
    ns.customer = _party(company_a, "Acme Customer", is_customer=True)
    ns.supplier = _party(company_a, "Supply Co", is_supplier=True)
    ns.product = Product.unscoped.create(
        company=company_a,
        sku="PUMP-1",
        name="Hydraulic pump",
        uom=UnitOfMeasure.objects.get(code="pc"),
    )
    return ns


@pytest.fixture
def accountant(users_a):  # type: ignore[no-untyped-def]
    return users_a["accountant"]


def _create(b, actor=None, kind=Invoice.Kind.CUSTOMER_INVOICE, lines=None, **kw):  # type: ignore[no-untyped-def]
    party = kw.pop("party", b.customer if kind.startswith("out") else b.supplier)
    tax = b.vat if kind.startswith("out") else b.vat_purchase
    if lines is None:
        lines = [
            {"product": b.product, "quantity": D("2"), "unit_price": D("100"), "taxes": [tax]},
            {"description": "Installation", "quantity": 1, "unit_price": "50.00", "taxes": [tax]},
        ]
    return invoice_create(
        company=b.company,
        actor=actor,
        kind=kind,
        party=party,
        date=kw.pop("date", MARCH),
        lines=lines,
        **kw,
    )


def _lines(invoice):  # type: ignore[no-untyped-def]
    return list(Line.unscoped.filter(entry=invoice.entry).order_by("sequence"))


def _party_balance(b, party):  # type: ignore[no-untyped-def]
    totals = Line.unscoped.filter(company=b.company, party=party).aggregate(
        debit=Sum("debit"), credit=Sum("credit")
    )
    return (totals["debit"] or 0) - (totals["credit"] or 0)


def _receivable_lines(invoice):  # type: ignore[no-untyped-def]
    return list(
        Line.unscoped.filter(entry=invoice.entry, account__reconcile=True).order_by("sequence")
    )


# --- drafts -------------------------------------------------------------------------------------


def test_create_computes_amounts_and_defaults(b, accountant):  # type: ignore[no-untyped-def]
    invoice = _create(b, accountant)
    assert invoice.state == Invoice.State.DRAFT and invoice.number == ""
    assert invoice.journal == b.sales
    assert invoice.currency_id == "CNY"
    assert invoice.language == b.customer.language
    assert invoice.created_by == accountant
    assert (invoice.amount_untaxed, invoice.amount_tax, invoice.amount_total) == (
        D("250.00"),
        D("32.50"),
        D("282.50"),
    )
    assert invoice.amount_total == invoice.amount_untaxed + invoice.amount_tax
    first, second = invoice.lines.order_by("sequence")
    assert first.description == "Hydraulic pump"  # from the product
    assert first.account == b.income  # the settings' default income account
    assert first.uom.code == "pc"
    assert (first.amount_untaxed, first.amount_tax, first.amount_total) == (
        D("200.00"),
        D("26.00"),
        D("226.00"),
    )
    assert second.account == b.income
    (tax_row,) = invoice.tax_lines.all()
    assert (tax_row.tax, tax_row.base, tax_row.amount) == (b.vat, D("250.00"), D("32.50"))
    assert list(invoice_list(company=b.company, kind="out_invoice", state="draft")) == [invoice]
    assert invoice_detail(company=b.company, pk=invoice.pk) == invoice


def test_update_replaces_lines_and_delete_only_drafts(b, accountant):  # type: ignore[no-untyped-def]
    invoice = _create(b, accountant)
    invoice = invoice_update(
        invoice=invoice,
        actor=accountant,
        reference="PO-7",
        lines=[{"description": "Service", "quantity": "3", "unit_price": "10", "discount": "10"}],
    )
    assert invoice.reference == "PO-7"
    (line,) = invoice.lines.all()
    assert (line.amount_untaxed, line.amount_tax) == (D("27.00"), D("0.00"))
    assert (invoice.amount_total, invoice.tax_lines.count()) == (D("27.00"), 0)
    invoice_post(invoice=invoice, actor=accountant)
    with pytest.raises(ValidationError) as info:
        invoice_update(invoice=invoice, actor=accountant, notes="late change")
    assert "only a draft" in info.value.messages[0]
    with pytest.raises(ValidationError):
        invoice_delete(invoice=invoice, actor=accountant)
    draft = _create(b, accountant)
    invoice_delete(invoice=draft, actor=accountant)
    assert not Invoice.unscoped.filter(pk=draft.pk).exists()
    assert not InvoiceLine.objects.filter(invoice_id=draft.pk).exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("purchase_tax", "is a purchase tax"),
        ("foreign_tax", "belongs to another company"),
        ("supplier_party", "is not a customer"),
        ("purchase_journal", "journal"),
        ("float_price", "not a float"),
        ("too_many_decimals", "at most 6 decimals"),
        ("bad_discount", "between 0 and 100"),
        ("receivable_account", "reconcilable"),
    ],
)
def test_create_refuses_bad_input(b, company_b, change, message):  # type: ignore[no-untyped-def]
    line = {"description": "Thing", "quantity": D(1), "unit_price": D(10), "taxes": [b.vat]}
    kwargs = {}
    if change == "purchase_tax":
        line["taxes"] = [b.vat_purchase]
    elif change == "foreign_tax":
        line["taxes"] = [_tax(books(company_b), "VAT13", Tax.Use.SALE)]
    elif change == "supplier_party":
        kwargs["party"] = b.supplier
    elif change == "purchase_journal":
        kwargs["journal"] = b.purchases
    elif change == "float_price":
        line["unit_price"] = 10.5
    elif change == "too_many_decimals":
        line["quantity"] = D("1.0000001")
    elif change == "bad_discount":
        line["discount"] = D("120")
    elif change == "receivable_account":
        line["account"] = b.receivable
    before = Invoice.unscoped.count()
    with pytest.raises(ValidationError) as info:
        _create(b, lines=[line], **kwargs)
    assert any(message in text for text in info.value.messages), info.value.messages
    assert Invoice.unscoped.count() == before


def test_supplier_document_needs_a_supplier_and_purchase_taxes(b):  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as info:
        _create(b, kind=Invoice.Kind.SUPPLIER_INVOICE, party=b.customer)
    assert "is not a supplier" in " ".join(info.value.messages)
    line = {"description": "Parts", "quantity": 1, "unit_price": 10, "taxes": [b.vat]}
    with pytest.raises(ValidationError) as info:
        _create(b, kind=Invoice.Kind.SUPPLIER_INVOICE, lines=[line])
    assert "is a sales tax" in " ".join(info.value.messages)


# --- posting ------------------------------------------------------------------------------------


def test_post_books_a_balanced_entry_and_writes_the_timeline(b, accountant):  # type: ignore[no-untyped-def]
    invoice = _create(b, accountant, reference="PO-1")
    invoice = invoice_post(invoice=invoice, actor=accountant)
    assert invoice.state == Invoice.State.POSTED
    assert invoice.number == invoice.entry.number == "SAL/2026/000001"
    assert (invoice.amount_residual, invoice.payment_state) == (D("282.50"), "not_paid")
    assert (invoice.rate, invoice.due_date) == (D(1), MARCH)
    entry = invoice.entry
    assert (entry.state, entry.journal, entry.ref) == (Entry.State.POSTED, b.sales, "PO-1")
    assert (entry.source_type, entry.source_id) == ("finance.invoice", invoice.pk)
    lines = _lines(invoice)
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines) == D("282.50")
    receivable = [line for line in lines if line.account == b.receivable]
    assert [(line.debit, line.due_date, line.party) for line in receivable] == [
        (D("282.50"), MARCH, b.customer)
    ]
    income = [line for line in lines if line.account == b.income]
    assert [(line.credit, line.product) for line in income] == [
        (D("200.00"), b.product),
        (D("50.00"), None),
    ]
    (tax_line,) = [line for line in lines if line.account == b.vat_out]
    assert (tax_line.credit, tax_line.tax) == (D("32.50"), b.vat)
    assert all(line.party == b.customer for line in lines)
    (installment,) = invoice.installments.all()
    assert (installment.amount, installment.due_date) == (D("282.50"), MARCH)
    timeline = TimelineEntry.unscoped.filter(party=b.customer, kind="invoice").get()
    assert "SAL/2026/000001" in timeline.summary
    assert timeline.actor == accountant


def test_supplier_invoice_mirrors_the_customer_one(b, accountant):  # type: ignore[no-untyped-def]
    invoice = _create(b, accountant, kind=Invoice.Kind.SUPPLIER_INVOICE, reference="S-99")
    invoice = invoice_post(invoice=invoice, actor=accountant)
    assert invoice.journal == b.purchases
    assert invoice.number == "PUR/2026/000001"
    lines = _lines(invoice)
    by_account = {}
    for line in lines:
        by_account.setdefault(line.account, D(0))
        by_account[line.account] += line.debit - line.credit
    assert by_account == {b.payable: D("-282.50"), b.expense: D("250.00"), b.vat_in: D("32.50")}


def test_analytic_tags_reach_the_ledger(b, accountant):  # type: ignore[no-untyped-def]
    from xietong.finance.models import AnalyticTag

    tag = AnalyticTag.unscoped.create(company=b.company, code="proj-1", name="Project 1")
    invoice = _create(
        b,
        accountant,
        lines=[{"description": "Work", "quantity": 1, "unit_price": 100, "analytic_tags": [tag]}],
    )
    invoice = invoice_post(invoice=invoice, actor=accountant)
    (income,) = [line for line in _lines(invoice) if line.account == b.income]
    assert list(income.analytic_tags.all()) == [tag]


def test_numbering_is_gap_free_and_refused_postings_consume_no_number(b, accountant):  # type: ignore[no-untyped-def]
    first = invoice_post(invoice=_create(b, accountant), actor=accountant)
    period_close(period=period_for(company=b.company, date=dt.date(2026, 1, 1)))
    late = _create(b, accountant, date=dt.date(2026, 1, 20))
    with pytest.raises(PostingError) as info:
        invoice_post(invoice=late, actor=accountant)
    assert info.value.code == "closed_period"
    late.refresh_from_db()
    assert (late.state, late.number, late.entry) == (Invoice.State.DRAFT, "", None)
    assert not late.installments.exists()
    second = invoice_post(invoice=_create(b, accountant), actor=accountant)
    third = invoice_post(invoice=late, actor=accountant, date=dt.date(2026, 3, 31))
    assert [first.number, second.number, third.number] == [
        "SAL/2026/000001",
        "SAL/2026/000002",
        "SAL/2026/000003",
    ]
    assert third.date == dt.date(2026, 3, 31)


def test_posting_refuses_non_drafts_and_zero_totals(b, accountant):  # type: ignore[no-untyped-def]
    invoice = invoice_post(invoice=_create(b, accountant), actor=accountant)
    with pytest.raises(ValidationError) as info:
        invoice_post(invoice=invoice, actor=accountant)
    assert info.value.code == "not_draft"
    free = _create(b, accountant, lines=[{"description": "Gift", "unit_price": 0}])
    with pytest.raises(ValidationError) as info:
        invoice_post(invoice=free, actor=accountant)
    assert info.value.code == "zero_total"
    empty = _create(b, accountant, lines=[])
    with pytest.raises(ValidationError) as info:
        invoice_post(invoice=empty, actor=accountant)
    assert info.value.code == "no_lines"
    assert Entry.unscoped.filter(company=b.company).count() == 1


def test_posting_rechecks_taxes_changed_behind_the_services(b, company_b, accountant):  # type: ignore[no-untyped-def]
    """A draft whose lines were given a foreign or wrong-use tax directly is refused at posting."""
    other_tax = _tax(books(company_b), "VAT13", Tax.Use.SALE)
    for bad in (other_tax, b.vat_purchase):
        invoice = _create(b, accountant)
        invoice.lines.first().taxes.add(bad)
        with pytest.raises(ValidationError) as info:
            invoice_post(invoice=invoice, actor=accountant)
        text = " ".join(info.value.messages)
        assert "another company" in text or "purchase tax" in text
        invoice.refresh_from_db()
        assert invoice.state == Invoice.State.DRAFT
    assert not Entry.unscoped.filter(company=b.company).exists()


def test_foreign_currency_invoice_books_company_amounts_at_the_rate(b, accountant):  # type: ignore[no-untyped-def]
    ExchangeRate.unscoped.create(
        company=b.company, currency_id="USD", date=dt.date(2026, 3, 1), rate=D("7.1234")
    )
    invoice = _create(
        b,
        accountant,
        currency="USD",
        lines=[{"description": "Pump", "quantity": 1, "unit_price": "100", "taxes": [b.vat]}],
    )
    invoice = invoice_post(invoice=invoice, actor=accountant)
    assert (invoice.currency_id, invoice.rate, invoice.amount_total) == (
        "USD",
        D("7.1234"),
        D("113.00"),
    )
    lines = {line.account: line for line in _lines(invoice)}
    assert (lines[b.receivable].amount_currency, lines[b.receivable].debit) == (
        D("113.00"),
        D("804.94"),
    )
    assert (lines[b.income].amount_currency, lines[b.income].credit) == (D("-100.00"), D("712.34"))
    assert lines[b.vat_out].credit == D("92.60")
    assert {line.rate for line in lines.values()} == {D("7.1234")}
    assert {line.currency_id for line in lines.values()} == {"USD"}

    fixed = _create(
        b,
        accountant,
        currency="USD",
        rate=D("7"),
        lines=[{"description": "Pump", "quantity": 1, "unit_price": "100"}],
    )
    fixed = invoice_post(invoice=fixed, actor=accountant)
    assert fixed.rate == D("7")
    assert _receivable_lines(fixed)[0].debit == D("700.00")


def test_missing_rate_is_refused(b, accountant):  # type: ignore[no-untyped-def]
    invoice = _create(b, accountant, currency="EUR")
    with pytest.raises(ValidationError) as info:
        invoice_post(invoice=invoice, actor=accountant)
    assert info.value.code == "no_rate"
    assert "EUR" in info.value.messages[0]


def test_installments_follow_the_payment_term(b, accountant):  # type: ignore[no-untyped-def]
    with company_scope(b.company):
        term = payment_term_create(
            company=b.company,
            actor=None,
            name="30/70",
            lines=[{"percent": 30, "days": 0}, {"percent": 70, "days": 60}],
        )
        party_set_credit_terms(party=b.customer, actor=None, credit_limit=None, payment_term=term)
    invoice = _create(b, accountant)
    assert invoice.payment_term == term
    invoice = invoice_post(invoice=invoice, actor=accountant)
    due = [(i.due_date, i.amount) for i in invoice.installments.all()]
    assert due == [(MARCH, D("84.75")), (MARCH + dt.timedelta(days=60), D("197.75"))]
    assert invoice.due_date == MARCH + dt.timedelta(days=60)
    receivable = _receivable_lines(invoice)
    assert [(line.due_date, line.debit) for line in receivable] == due
    assert sum(line.debit for line in receivable) == invoice.amount_total


# --- cancelling ---------------------------------------------------------------------------------


def test_cancel_draft_and_posted_invoice(b, accountant):  # type: ignore[no-untyped-def]
    draft = invoice_cancel(invoice=_create(b, accountant), actor=accountant)
    assert (draft.state, draft.entry) == (Invoice.State.CANCELLED, None)

    invoice = invoice_post(invoice=_create(b, accountant), actor=accountant)
    assert _party_balance(b, b.customer) == 0  # income and tax lines carry the party too
    assert sum(line.residual.amount for line in open_items(company=b.company, party=b.customer))
    invoice = invoice_cancel(invoice=invoice, actor=accountant)
    assert invoice.state == Invoice.State.CANCELLED
    assert (invoice.amount_residual, invoice.payment_state) == (D(0), "not_paid")
    reversal = Entry.unscoped.get(reversal_of=invoice.entry)
    assert reversal.state == Entry.State.POSTED
    assert open_items(company=b.company, party=b.customer) == []
    receivable = Line.unscoped.filter(party=b.customer, account=b.receivable)
    assert sum(line.debit - line.credit for line in receivable) == 0
    income = Line.unscoped.filter(party=b.customer, account=b.income)
    assert sum(line.debit - line.credit for line in income) == 0
    with pytest.raises(ValidationError) as info:
        invoice_cancel(invoice=invoice, actor=accountant)
    assert info.value.code == "cancelled"
    assert TimelineEntry.unscoped.filter(party=b.customer, kind="invoice").count() == 2


def test_cancel_refused_after_a_payment_was_matched(b, accountant):  # type: ignore[no-untyped-def]
    invoice = invoice_post(invoice=_create(b, accountant), actor=accountant)
    payment = post(
        b,
        (b.bank, "282.50", 0),
        (b.receivable, 0, "282.50", {"party": b.customer}),
        journal=b.bank_journal,
    )
    lines_match(lines=[*_receivable_lines(invoice), *payment.lines.filter(account=b.receivable)])
    invoice.refresh_from_db()
    assert (invoice.amount_residual, invoice.payment_state) == (D(0), "paid")
    with pytest.raises(ValidationError) as info:
        invoice_cancel(invoice=invoice, actor=accountant)
    assert info.value.code == "reconciled"
    assert "undo the payment allocation first" in info.value.messages[0]
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.POSTED
    assert not Entry.unscoped.filter(reversal_of=invoice.entry).exists()


# --- credit notes -------------------------------------------------------------------------------


def test_credit_note_partially_settles_the_invoice(b, accountant):  # type: ignore[no-untyped-def]
    invoice = invoice_post(invoice=_create(b, accountant), actor=accountant)
    pump_line = invoice.lines.get(product=b.product)
    credit = invoice_credit(
        invoice=invoice,
        actor=accountant,
        date=dt.date(2026, 3, 20),
        lines=[{"line": pump_line, "quantity": D(1)}],
        post=True,
    )
    assert credit.kind == Invoice.Kind.CUSTOMER_CREDIT
    assert credit.credited_invoice == invoice
    assert credit.origin == invoice.number
    assert credit.number == "SAL/2026/000002"
    assert (credit.amount_untaxed, credit.amount_tax, credit.amount_total) == (
        D("100.00"),
        D("13.00"),
        D("113.00"),
    )
    by_account = {}
    for line in _lines(credit):
        by_account[line.account] = by_account.get(line.account, D(0)) + line.debit - line.credit
    assert by_account == {b.receivable: D("-113.00"), b.income: D("100.00"), b.vat_out: D("13.00")}
    invoice.refresh_from_db()
    credit.refresh_from_db()
    assert (invoice.amount_residual, invoice.payment_state) == (D("169.50"), "partial")
    assert (credit.amount_residual, credit.payment_state) == (D(0), "paid")
    (item,) = open_items(company=b.company, party=b.customer)
    assert item.residual.amount == D("169.50")

    # more than the invoice's total cannot be credited
    with pytest.raises(ValidationError) as info:
        invoice_credit(invoice=invoice, actor=accountant, date=dt.date(2026, 3, 21), post=True)
    assert info.value.code == "over_credit"
    # the rest can; the invoice is then settled
    rest = invoice_credit(
        invoice=invoice,
        actor=accountant,
        date=dt.date(2026, 3, 21),
        lines=[
            {"line": pump_line, "quantity": D(1)},
            {"line": invoice.lines.exclude(pk=pump_line.pk).get()},
        ],
    )
    assert rest.state == Invoice.State.DRAFT
    invoice_post(invoice=rest, actor=accountant)
    invoice.refresh_from_db()
    assert (invoice.amount_residual, invoice.payment_state) == (D(0), "paid")
    # an invoice with credit notes allocated cannot be cancelled
    with pytest.raises(ValidationError) as info:
        invoice_cancel(invoice=invoice, actor=accountant)
    assert info.value.code == "reconciled"


def test_credit_refuses_drafts_credit_notes_and_bad_quantities(b, accountant):  # type: ignore[no-untyped-def]
    draft = _create(b, accountant)
    with pytest.raises(ValidationError):
        invoice_credit(invoice=draft, actor=accountant)
    invoice = invoice_post(invoice=_create(b, accountant), actor=accountant)
    line = invoice.lines.first()
    with pytest.raises(ValidationError) as info:
        invoice_credit(invoice=invoice, actor=accountant, lines=[{"line": line, "quantity": 5}])
    assert "at most 2" in info.value.messages[0]
    credit = invoice_credit(invoice=invoice, actor=accountant, date=MARCH, post=True)
    with pytest.raises(ValidationError) as info:
        invoice_credit(invoice=credit, actor=accountant)
    assert info.value.code == "not_creditable"


def test_supplier_credit_note_reconciles_with_the_payable(b, accountant):  # type: ignore[no-untyped-def]
    invoice = invoice_post(
        invoice=_create(b, accountant, kind=Invoice.Kind.SUPPLIER_INVOICE), actor=accountant
    )
    credit = invoice_credit(invoice=invoice, actor=accountant, date=MARCH, post=True)
    assert credit.kind == Invoice.Kind.SUPPLIER_CREDIT
    assert [(line.debit, line.credit) for line in _receivable_lines(credit)] == [
        (D("282.50"), D(0))
    ]
    invoice.refresh_from_db()
    assert (invoice.amount_residual, invoice.payment_state) == (D(0), "paid")
    assert _party_balance(b, b.supplier) == 0


# --- tax rounding policies ----------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "tax"), [("per_line", D("0.12")), ("global", D("0.13"))])
def test_both_rounding_policies_match_the_ledger(b, accountant, policy, tax):  # type: ignore[no-untyped-def]
    FinanceSettings.unscoped.filter(pk=b.settings.pk).update(tax_rounding=policy)
    line = {"description": "Washer", "quantity": 1, "unit_price": "0.33", "taxes": [b.vat]}
    invoice = _create(b, accountant, lines=[line, dict(line), dict(line)])
    assert (invoice.amount_untaxed, invoice.amount_tax) == (D("0.99"), tax)
    invoice = invoice_post(invoice=invoice, actor=accountant)
    assert invoice.amount_total == invoice.amount_untaxed + invoice.amount_tax
    assert sum(line.amount_tax for line in invoice.lines.all()) == tax
    lines = _lines(invoice)
    assert sum(line.credit for line in lines if line.account == b.vat_out) == tax
    assert sum(line.debit for line in lines if line.account == b.receivable) == D("0.99") + tax
    assert sum(line.credit for line in lines if line.account == b.income) == D("0.99")
    assert invoice.tax_lines.get().amount == tax


def test_price_included_tax_and_discounts_balance(b, accountant):  # type: ignore[no-untyped-def]
    included = _tax(b, "VAT13I", Tax.Use.SALE, price_include=True)
    invoice = _create(
        b,
        accountant,
        lines=[
            {"description": "Boxed", "quantity": 3, "unit_price": "11.30", "taxes": [included]},
            {"description": "Rebate", "quantity": -1, "unit_price": "5", "discount": "0"},
        ],
    )
    assert invoice.amount_total == D("33.90") - D("5")
    invoice = invoice_post(invoice=invoice, actor=accountant)
    lines = _lines(invoice)
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
    rebate = [line for line in lines if line.label == "Rebate"]
    assert [(line.debit, line.credit) for line in rebate] == [(D("5.00"), D(0))]


# --- PDF ----------------------------------------------------------------------------------------


def _embeds_font(pdf: bytes, name: bytes) -> bool:
    """Whether a font descriptor of `pdf` names `name` (WeasyPrint writes them into compressed
    object streams, so the streams are inflated)."""
    chunks = [pdf]
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            chunks.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return any(b"/FontName /" in chunk and name in chunk for chunk in chunks)


def test_pdf_renders_chinese_names(b, accountant):  # type: ignore[no-untyped-def]
    customer = _party(b.company, "上海协同机械有限公司", is_customer=True)
    with company_scope(b.company):
        address_create(
            party=customer,
            actor=None,
            street="浦东新区张江路88号",
            city="上海",
            postal_code="201203",
            country="CN",
        )
    invoice = _create(
        b,
        accountant,
        party=customer,
        notes="感谢惠顾",
        lines=[{"description": "液压泵", "quantity": 2, "unit_price": "1200", "taxes": [b.vat]}],
    )
    draft_pdf = invoice_pdf(invoice=invoice)
    assert draft_pdf.startswith(b"%PDF")
    invoice = invoice_post(invoice=invoice, actor=accountant)
    pdf = invoice_pdf(invoice=invoice)
    assert pdf.startswith(b"%PDF")
    assert _embeds_font(pdf, b"WenQuanYi")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "上海协同机械有限公司" in text
    assert "液压泵" in text
    assert "浦东新区张江路88号" in text
    assert invoice.number in text
    assert "2,712.00" in text  # the total, 2 × 1,200 + 13 % VAT


# --- with a shipped chart -----------------------------------------------------------------------


def test_invoice_on_the_chinese_chart(company_a, accountant):  # type: ignore[no-untyped-def]
    charts = pytest.importorskip("xietong.finance.charts")
    charts.chart_load(company=company_a, template="cn", actor=accountant)
    vat13 = Tax.unscoped.get(company=company_a, code="VAT13-S")
    vat0 = Tax.unscoped.get(company=company_a, code="VAT0-S")
    customer = _party(company_a, "华东客户", is_customer=True)
    invoice = invoice_create(
        company=company_a,
        actor=accountant,
        kind=Invoice.Kind.CUSTOMER_INVOICE,
        party=customer,
        date=MARCH,
        lines=[
            {"description": "液压泵", "quantity": 3, "unit_price": "999.99", "taxes": [vat13]},
            {"description": "出口件", "quantity": 1, "unit_price": "100", "taxes": [vat0]},
        ],
    )
    assert invoice.journal.code == "SAL"
    assert [(t.tax.code, t.amount) for t in invoice.tax_lines.all()] == [
        ("VAT13-S", D("390.00")),
        ("VAT0-S", D("0.00")),
    ]
    invoice = invoice_post(invoice=invoice, actor=accountant)
    assert invoice.number == "SAL/2026/000001"
    lines = _lines(invoice)
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
    assert {line.account.code for line in lines if line.tax_id} == {"22210102"}  # 销项税额
    assert sum(line.debit for line in lines if line.account.reconcile) == invoice.amount_total
    assert invoice.amount_total == D("3099.97") + D("390.00")


def test_foreign_currency_credit_note_realises_the_exchange_difference(b, accountant):  # type: ignore[no-untyped-def]
    for day, rate in ((1, "7.0"), (15, "7.2")):
        ExchangeRate.unscoped.create(
            company=b.company, currency_id="USD", date=dt.date(2026, 3, day), rate=D(rate)
        )
    invoice = _create(
        b,
        accountant,
        currency="USD",
        lines=[{"description": "Pump", "quantity": 1, "unit_price": "100", "taxes": [b.vat]}],
    )
    invoice = invoice_post(invoice=invoice, actor=accountant)
    assert _receivable_lines(invoice)[0].debit == D("791.00")
    credit = invoice_credit(invoice=invoice, actor=accountant, date=dt.date(2026, 3, 20), post=True)
    assert (credit.rate, _receivable_lines(credit)[0].credit) == (D("7.2"), D("813.60"))
    invoice.refresh_from_db()
    assert (invoice.amount_residual, invoice.payment_state) == (D(0), "paid")
    assert open_items(company=b.company, party=b.customer) == []
    receivable = Line.unscoped.filter(account=b.receivable, party=b.customer)
    assert sum(line.debit - line.credit for line in receivable) == 0
    assert sum(line.amount_currency for line in receivable) == 0


def test_links_by_primary_key_stay_inside_the_company(b, company_b, accountant):  # type: ignore[no-untyped-def]
    other = books(company_b)
    other_party = _party(company_b, "Gamma Ltd", is_customer=True)
    other_tax = _tax(other, "VAT13", Tax.Use.SALE)
    invoice = _create(
        b,
        accountant,
        party=b.customer.pk,
        lines=[
            {"description": "Pump", "unit_price": "10", "taxes": [b.vat.pk], "account": b.income.pk}
        ],
    )
    assert invoice.lines.get().taxes.get() == b.vat
    with pytest.raises(ValidationError) as info:
        invoice_update(invoice=invoice, actor=accountant, party=other_party.pk)
    assert info.value.message_dict["party"] == ["Choose a valid party of your company."]
    with pytest.raises(ValidationError) as info:
        invoice_update(
            invoice=invoice,
            actor=accountant,
            lines=[{"description": "Pump", "unit_price": "10", "taxes": [other_tax.pk]}],
        )
    assert "choose a valid tax of your company" in info.value.messages[0]
    assert "Gamma" not in " ".join(info.value.messages)
    invoice.refresh_from_db()
    assert invoice.party == b.customer and invoice.lines.get().taxes.get() == b.vat
