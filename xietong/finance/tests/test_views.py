"""The finance screens: the manual entry editor (HTMX lines and totals, drafts, posting, errors
from the posting service with nothing saved), reversal, period and year closing, the chart of
accounts and configuration, invoices (editor with live amounts, posting, credit notes, PDF),
payments, bank statements, receivables, reports with drill-down and exports, permissions, query
counts and company isolation."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from openpyxl import load_workbook

from xietong.finance.models import (
    Account,
    BankStatement,
    Dunning,
    DunningLevel,
    Entry,
    FinanceSettings,
    FiscalYear,
    Invoice,
    Journal,
    Payment,
    Period,
    Tax,
)
from xietong.finance.tests.factories import post
from xietong.finance.tests.matrix import (
    DATE,
    customer,
    draft_entry,
    invoice,
    ledger,
    payment,
    posted_entry,
    statement,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def books_a(company_a):  # type: ignore[no-untyped-def]
    return ledger(company_a)


@pytest.fixture
def accountant(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["accountant"])


def _lines(*rows: dict[str, Any]) -> dict[str, str]:
    data = {
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{i}-{key}"] = value
    return data


def _entry_form(b: Any, debit: str, credit: str, **extra: str) -> dict[str, Any]:
    return {
        "journal": str(b.general.pk),
        "date": DATE.isoformat(),
        "ref": "Screen entry",
        "narration": "",
        **_lines(
            {"account": str(b.bank.pk), "label": "Cash in", "debit": debit},
            {"account": str(b.capital.pk), "label": "Capital", "credit": credit},
        ),
        **extra,
    }


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- journal entries --------------------------------------------------------------------------


def test_manual_entry_is_created_and_posted(company_a, books_a, accountant):
    url = reverse("finance:entry_create")
    page = accountant.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="entry-lines"' in html and 'id="entry-totals"' in html
    response = accountant.post(url, _entry_form(books_a, "1200.50", "1200.50", post="1"))
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = Entry.unscoped.get(company=company_a, ref="Screen entry")
    assert entry.state == Entry.State.POSTED and entry.number.startswith("GEN/2026/")
    assert response["Location"] == reverse("finance:entry_detail", args=[entry.pk])
    detail = accountant.get(response["Location"]).content.decode()
    for marker in (entry.number, entry.hash, "1,200.50", 'id="entry-chain-index"', "Reverse"):
        assert marker in detail, marker


def test_unbalanced_entry_shows_the_posting_error_and_saves_nothing(company_a, books_a, accountant):
    before = Entry.unscoped.filter(company=company_a).count()
    response = accountant.post(
        reverse("finance:entry_create"), _entry_form(books_a, "100", "90", post="1")
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="posting-error"' in html and "does not balance" in html
    assert 'value="100"' in html  # the lines are kept for correction
    assert Entry.unscoped.filter(company=company_a).count() == before
    missing = accountant.post(
        reverse("finance:entry_create"),
        _entry_form(books_a, "100", "100", post="1") | {"lines-1-account": ""},
    )
    assert missing.status_code == 400 and "Choose the account." in missing.content.decode()
    party = accountant.post(
        reverse("finance:entry_create"),
        _entry_form(books_a, "100", "100", post="1") | {"lines-0-party": "NOPE"},
    )
    assert party.status_code == 400 and "No party has the code NOPE." in party.content.decode()
    assert Entry.unscoped.filter(company=company_a).count() == before


def test_draft_is_saved_edited_and_posted_from_its_page(company_a, books_a, accountant):
    response = accountant.post(
        reverse("finance:entry_create"), _entry_form(books_a, "50", "50", draft="1")
    )
    draft = Entry.unscoped.get(company=company_a, ref="Screen entry")
    assert draft.state == Entry.State.DRAFT and response.status_code == 302
    page = accountant.get(reverse("finance:entry_detail", args=[draft.pk])).content.decode()
    assert reverse("finance:entry_post", args=[draft.pk]) in page
    edit = accountant.get(reverse("finance:entry_edit", args=[draft.pk]))
    assert edit.status_code == 200 and 'value="50.0000"' in edit.content.decode()
    saved = accountant.post(
        reverse("finance:entry_edit", args=[draft.pk]),
        _entry_form(books_a, "75", "75", draft="1") | {"ref": "Edited"},
    )
    assert saved.status_code == 302
    edited = Entry.unscoped.get(company=company_a, ref="Edited")
    assert edited.pk == draft.pk  # the draft is changed in place
    assert edited.lines.count() == 2
    assert edited.lines.get(sequence=1).debit == Decimal(75)
    assert accountant.post(reverse("finance:entry_post", args=[edited.pk])).status_code == 302
    edited.refresh_from_db()
    assert edited.state == Entry.State.POSTED and edited.number
    other = draft_entry(company_a)
    assert accountant.post(reverse("finance:entry_delete", args=[other.pk])).status_code == 302
    assert not Entry.unscoped.filter(pk=other.pk).exists()


def test_line_editor_adds_removes_lines_and_totals_live(books_a, accountant):
    url = reverse("finance:entry_lines")
    data = _entry_form(books_a, "100", "40")
    added = accountant.post(url, data | {"lines_action": "add"}, headers={"HX-Request": "true"})
    html = added.content.decode()
    assert added.status_code == 200 and "<html" not in html
    assert html.count('class="entry-line"') == 3 and 'name="lines-TOTAL_FORMS" value="3"' in html
    removed = accountant.post(url, data | {"lines_action": "remove-0"}).content.decode()
    assert removed.count('class="entry-line"') == 2  # never fewer than two lines
    assert 'value="40"' in removed and 'value="100"' not in removed
    totals = accountant.post(url + "?part=totals", data, headers={"HX-Request": "true"})
    text = totals.content.decode()
    assert 'id="total-debit">100.00 CNY' in text and 'id="total-credit">40.00 CNY' in text
    assert 'id="total-difference">60.00 CNY' in text and "text-danger" in text
    # without JavaScript the same buttons post the whole form and re-render it
    page = accountant.post(reverse("finance:entry_create"), data | {"lines_action": "add"})
    assert page.status_code == 200 and page.content.decode().count('class="entry-line"') == 3


def test_reverse_through_the_screen(company_a, books_a, accountant):
    entry = posted_entry(company_a, "300")
    url = reverse("finance:entry_reverse", args=[entry.pk])
    assert accountant.get(url).status_code == 200
    response = accountant.post(url, {"date": "", "ref": ""})
    assert response.status_code == 302
    reversal = Entry.unscoped.get(reversal_of=entry)
    assert reversal.state == Entry.State.POSTED
    page = accountant.get(reverse("finance:entry_detail", args=[entry.pk])).content.decode()
    assert 'id="reversed-by"' in page and reversal.number in page
    again = accountant.post(url, {"date": "", "ref": ""})
    assert again.status_code == 400 and "already reversed" in again.content.decode()


def test_entry_list_filters_search_and_export(company_a, books_a, accountant):
    posted_entry(company_a, "10", ref="Alpha rent")
    posted_entry(company_a, "20", date=dt.date(2026, 4, 2), ref="Beta fees")
    draft_entry(company_a)
    url = reverse("finance:entry_list")
    rows = _csv(accountant.get(url + "?export=csv&cols=ref,state,total"))
    assert rows[0] == ["Reference", "State", "Amount"]
    assert sorted(r[0] for r in rows[1:]) == ["", "Alpha rent", "Beta fees"]
    assert ["Beta fees", "Posted", "20.00"] in rows
    assert [r[0] for r in _csv(accountant.get(url + "?export=csv&cols=ref&q=alpha"))[1:]] == [
        "Alpha rent"
    ]
    assert len(_csv(accountant.get(url + "?export=csv&state=draft"))) == 2
    ranged = _csv(accountant.get(url + "?export=csv&cols=ref&date_from=2026-04-01"))
    assert [r[0] for r in ranged[1:]] == ["Beta fees"]
    sheet = load_workbook(io.BytesIO(accountant.get(url + "?export=xlsx&cols=ref,total").content))
    values = list(sheet.active.values)
    assert ("Beta fees", 20) in [(r[0], r[1]) for r in values[1:]]
    html = accountant.get(url).content.decode()
    assert "text-end" in html and "20.00" in html


def test_entry_and_invoice_lists_take_a_constant_number_of_queries(company_a, books_a, accountant):
    def count(name: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert accountant.get(reverse(name)).status_code == 200
        return len(queries)

    party = customer(company_a)
    for _i in range(2):
        posted_entry(company_a, "5")
        invoice(company_a, party, "10")
    few = (count("finance:entry_list"), count("finance:customer_invoice_list"))
    for _i in range(12):
        posted_entry(company_a, "5")
        invoice(company_a, customer(company_a), "10")
        invoice(company_a, party, "7", post=False)
    assert (count("finance:entry_list"), count("finance:customer_invoice_list")) == few


def test_journal_items_list_is_the_drill_down(company_a, books_a, accountant):
    posted_entry(company_a, "77")
    url = reverse("finance:line_list") + f"?account={books_a.bank.pk}&export=csv&cols=label,debit"
    rows = _csv(accountant.get(url))
    assert rows[0] == ["Label", "Debit"] and ["", "77.00"] in rows


def test_verify_ledger(company_a, books_a, accountant):
    posted_entry(company_a, "5")
    url = reverse("finance:ledger_verify")
    assert 'id="verify-result"' not in accountant.get(url).content.decode()
    html = accountant.get(url + "?run=1").content.decode()
    assert 'id="verify-result"' in html and "The chain is intact" in html


# --- periods and years ------------------------------------------------------------------------


def test_close_a_period_after_confirming(company_a, books_a, accountant):
    posted_entry(company_a, "10")
    period = Period.unscoped.get(company=company_a, name="2026-02")
    url = reverse("finance:period_close", args=[period.pk])
    page = accountant.get(url).content.decode()
    assert "cannot be reopened" in page
    refused = accountant.post(url, {})
    assert refused.status_code == 400
    period.refresh_from_db()
    assert period.state == Period.State.OPEN
    assert accountant.post(url, {"confirm": "on"}).status_code == 302
    period.refresh_from_db()
    assert period.state == Period.State.CLOSED and period.closed_by is not None
    years = accountant.get(reverse("finance:year_list")).content.decode()
    assert (
        "bi-lock-fill" in years and reverse("finance:period_close", args=[period.pk]) not in years
    )
    drafts = Period.unscoped.get(company=company_a, name="2026-03")
    draft_entry(company_a)
    blocked = accountant.post(reverse("finance:period_close", args=[drafts.pk]), {"confirm": "on"})
    assert blocked.status_code == 400 and "draft entries" in blocked.content.decode()


def test_create_and_close_a_fiscal_year(company_a, books_a, accountant):
    url = reverse("finance:year_create")
    assert accountant.get(url).status_code == 200
    assert accountant.post(url, {"start": "2030-01-01"}).status_code == 302
    year = FiscalYear.unscoped.get(company=company_a, start=dt.date(2030, 1, 1))
    assert year.periods.count() == 12
    posted_entry(company_a, "10", date=dt.date(2030, 5, 5))
    close = reverse("finance:year_close", args=[year.pk])
    assert "retained earnings" in accountant.get(close).content.decode()
    assert accountant.post(close, {"confirm": "on"}).status_code == 302
    year.refresh_from_db()
    assert year.state == FiscalYear.State.CLOSED
    assert not year.periods.filter(state=Period.State.OPEN).exists()


def test_revalue_foreign_currencies(company_a, books_a, accountant):
    from xietong.core.models import ExchangeRate

    url = reverse("finance:revaluation")
    assert accountant.get(url).status_code == 200
    nothing = accountant.post(url, {"date": "2026-03-31"})
    assert nothing.status_code == 400 and "Nothing to revalue" in nothing.content.decode()
    for day, rate in (("2026-03-01", "7.10"), ("2026-03-31", "7.25")):
        ExchangeRate.unscoped.create(company=company_a, currency_id="USD", date=day, rate=rate)
    usd = {"currency": "USD"}
    post(books_a, (books_a.bank_usd, "100", 0, usd), (books_a.capital, 0, "100", usd),
         date=dt.date(2026, 3, 5))  # fmt: skip
    done = accountant.post(url, {"date": "2026-03-31"})
    assert done.status_code == 302
    entry = Entry.unscoped.get(
        company=company_a, source_type="finance.revaluation", reversal_of__isnull=True
    )
    assert done.url == reverse("finance:entry_detail", args=[entry.pk])
    assert entry.lines.get(account=books_a.bank_usd).debit == Decimal("15.00")


# --- chart of accounts and configuration ------------------------------------------------------


def test_chart_load_from_the_empty_chart(company_b, users_b, client_for):
    client = client_for(users_b["accountant"])
    chart = client.get(reverse("finance:account_list")).content.decode()
    assert reverse("finance:chart_load") in chart
    assert client.get(reverse("finance:chart_load")).status_code == 200
    response = client.post(reverse("finance:chart_load"), {"template": "ifrs", "language": "en"})
    assert response.status_code == 302
    assert Account.unscoped.filter(company=company_b).count() > 20
    assert FinanceSettings.unscoped.filter(company=company_b).exists()
    html = client.get(reverse("finance:account_list")).content.decode()
    assert "padding-left" in html and reverse("finance:chart_load") not in html
    assert client.get(reverse("finance:chart_load")).status_code == 302


def test_chart_shows_balances_and_accounts_are_edited(company_a, books_a, accountant):
    posted_entry(company_a, "250")
    rows = _csv(accountant.get(reverse("finance:account_list") + "?export=csv&cols=code,balance"))
    assert ["1002", "250.00"] in rows and ["4001", "-250.00"] in rows
    create = reverse("finance:account_create")
    assert accountant.post(create, {"code": "6603", "name": "Fees", "type": "expense",
                                    "active": "on"}).status_code == 302  # fmt: skip
    duplicate = accountant.post(create, {"code": "6603", "name": "Again", "type": "expense"})
    assert duplicate.status_code == 400 and "Another account has the code 6603" in (
        duplicate.content.decode()
    )
    edit = reverse("finance:account_edit", args=[books_a.bank.pk])
    fixed = accountant.post(edit, {"code": "1002", "name": "Bank", "type": "liability",
                                   "active": "on"})  # fmt: skip
    assert fixed.status_code == 400 and "its type is fixed" in fixed.content.decode()
    renamed = accountant.post(edit, {"code": "1002", "name": "Main bank", "type": "asset",
                                     "subtype": "bank", "active": "on"})  # fmt: skip
    assert renamed.status_code == 302
    assert Account.unscoped.get(pk=books_a.bank.pk).name == "Main bank"


def test_journals_taxes_settings_and_dunning_levels(company_a, books_a, accountant):
    assert accountant.post(reverse("finance:journal_create"),
                           {"code": "MIS", "name": "Misc", "kind": "general", "active": "on"}
                           ).status_code == 302  # fmt: skip
    assert Journal.unscoped.filter(company=company_a, code="MIS").exists()
    posted_entry(company_a, "5")
    rename = accountant.post(
        reverse("finance:journal_edit", args=[books_a.general.pk]),
        {"code": "GX", "name": "General", "kind": "general", "active": "on"},
    )
    assert rename.status_code == 400 and "its code is fixed" in rename.content.decode()
    tax = {"code": "VAT6", "name": "VAT 6%", "use": "sale", "rate": "6", "sequence": "10",
           "account": str(books_a.vat_out.pk), "active": "on"}  # fmt: skip
    assert accountant.post(reverse("finance:tax_create"), tax).status_code == 302
    assert Tax.unscoped.get(company=company_a, code="VAT6").rate == Decimal(6)
    invoice(company_a, amount="10")
    used = accountant.post(
        reverse("finance:tax_edit", args=[books_a.vat.pk]),
        tax | {"code": "VAT13", "rate": "9"},
    )
    assert used.status_code == 400 and "create a new tax" in used.content.decode()
    settings_url = reverse("finance:settings_edit")
    assert accountant.get(settings_url).status_code == 200
    data = {"tax_rounding": "global", "rounding_mode": "ROUND_HALF_EVEN", "dunning_fee": "15",
            "receivable_account": str(books_a.receivable.pk),
            "general_journal": str(books_a.general.pk)}  # fmt: skip
    assert accountant.post(settings_url, data).status_code == 302
    settings = FinanceSettings.unscoped.get(company=company_a)
    assert (settings.tax_rounding, settings.payable_account_id) == ("global", None)
    level = {"level": "2", "name": "Second reminder", "days_overdue": "30", "fee": "20",
             "letter": "Please pay."}  # fmt: skip
    assert accountant.post(reverse("finance:dunning_level_create"), level).status_code == 302
    assert DunningLevel.unscoped.get(company=company_a, level=2).fee == Decimal(20)
    lists = ("journal_list", "tax_list", "dunning_level_list", "year_list", "account_list")
    for name in lists:
        assert accountant.get(reverse(f"finance:{name}")).status_code == 200, name


# --- invoices ---------------------------------------------------------------------------------


def _invoice_form(party: Any, b: Any, **extra: str) -> dict[str, Any]:
    return {
        "kind": "out_invoice",
        "party": str(party.pk),
        "date": DATE.isoformat(),
        "currency": "",
        "payment_term": "",
        "journal": "",
        "reference": "PO-77",
        "notes": "",
        **_lines(
            {
                "description": "Wheels",
                "quantity": "3",
                "unit_price": "0.33",
                "taxes": str(b.vat.pk),
            },
            {"description": "Service", "quantity": "1", "unit_price": "100", "discount": "10"},
        ),  # fmt: skip
        **extra,
    }


def test_invoice_is_created_posted_paid_and_credited_through_the_screens(
    company_a, books_a, accountant
):
    party = customer(company_a, "Screen Customer")
    url = reverse("finance:invoice_create") + "?kind=out_invoice"
    assert accountant.get(url).status_code == 200
    amounts = accountant.post(
        reverse("finance:invoice_lines") + "?part=amounts",
        _invoice_form(party, books_a),
        headers={"HX-Request": "true"},
    ).content.decode()
    assert 'id="editor-total">91.12' in amounts  # 0.99 + 0.13 VAT + 90.00
    assert 'id="invoice-line-0-amount" hx-swap-oob="true"' in amounts
    response = accountant.post(reverse("finance:invoice_create"), _invoice_form(party, books_a))
    assert response.status_code == 302, response.content.decode()[:3000]
    draft = Invoice.unscoped.get(company=company_a, reference="PO-77")
    assert (draft.state, draft.amount_total) == (Invoice.State.DRAFT, Decimal("91.12"))
    assert accountant.post(reverse("finance:invoice_post", args=[draft.pk])).status_code == 302
    draft.refresh_from_db()
    assert draft.state == Invoice.State.POSTED and draft.number
    page = accountant.get(reverse("finance:invoice_detail", args=[draft.pk])).content.decode()
    for marker in ('id="invoice-installments"', 'id="invoice-taxes"', draft.number,
                   reverse("finance:entry_detail", args=[draft.entry_id]),
                   reverse("finance:payment_create") + f"?invoice={draft.pk}"):  # fmt: skip
        assert marker in page, marker
    rows = _csv(accountant.get(reverse("finance:customer_invoice_list")
                               + "?export=csv&cols=number,payment_state,amount_residual"))  # fmt: skip
    assert [draft.number, "Not paid", "91.12"] in rows
    # register a payment from the invoice: amount due prefilled, allocated
    pay_url = reverse("finance:payment_create") + f"?invoice={draft.pk}"
    form = accountant.get(pay_url).content.decode()
    assert 'value="91.1200"' in form or 'value="91.12"' in form
    paid = accountant.post(pay_url, {
        "direction": "inbound", "party": str(party.pk), "journal": str(books_a.bank_journal.pk),
        "date": "2026-03-20", "amount": "91.12", "currency": "", "rate": "", "reference": "",
        "memo": "", "invoice": str(draft.pk),
    })  # fmt: skip
    assert paid.status_code == 302, paid.content.decode()[:3000]
    draft.refresh_from_db()
    assert (draft.payment_state, draft.amount_residual) == (Invoice.PaymentState.PAID, 0)
    page = accountant.get(reverse("finance:invoice_detail", args=[draft.pk])).content.decode()
    assert 'id="invoice-settlements"' in page
    # credit note of the paid invoice (a draft); cancel refused while paid
    credit = accountant.post(reverse("finance:invoice_credit", args=[draft.pk]),
                             {"date": "2026-03-25"})  # fmt: skip
    assert credit.status_code == 302
    assert Invoice.unscoped.filter(credited_invoice=draft, state=Invoice.State.DRAFT).exists()
    cancel = accountant.post(reverse("finance:invoice_cancel", args=[draft.pk]), {"confirm": "on"})
    assert cancel.status_code == 400 and "reconciled" in cancel.content.decode()
    pdf = accountant.get(reverse("finance:invoice_pdf", args=[draft.pk]))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_invoice_editor_errors_keep_the_lines_and_save_nothing(company_a, books_a, accountant):
    party = customer(company_a)
    before = Invoice.unscoped.filter(company=company_a).count()
    data = _invoice_form(party, books_a) | {"lines-1-unit_price": ""}
    response = accountant.post(reverse("finance:invoice_create"), data)
    assert response.status_code == 400 and "Enter the unit price." in response.content.decode()
    data = _invoice_form(party, books_a) | {"lines-0-product": "NOSKU"}
    response = accountant.post(reverse("finance:invoice_create"), data)
    assert response.status_code == 400
    assert "No product has the SKU NOSKU." in response.content.decode()
    purchase = accountant.post(
        reverse("finance:invoice_create"),
        _invoice_form(party, books_a) | {"lines-0-taxes": str(books_a.vat_purchase.pk)},
    )
    assert purchase.status_code == 400 and "Select a valid choice" in purchase.content.decode()
    FinanceSettings.unscoped.filter(company=company_a).update(income_account=None)
    no_account = accountant.post(reverse("finance:invoice_create"), _invoice_form(party, books_a))
    html = no_account.content.decode()
    assert no_account.status_code == 400 and 'id="line-errors"' in html
    assert "Line 1: give an account" in html and 'value="Wheels"' in html
    assert Invoice.unscoped.filter(company=company_a).count() == before
    lines = accountant.post(
        reverse("finance:invoice_lines"), _invoice_form(party, books_a) | {"lines_action": "add"}
    ).content.decode()
    assert lines.count('class="invoice-line"') == 3


def test_payments_allocate_and_cancel(company_a, books_a, accountant):
    party = customer(company_a)
    first = invoice(company_a, party, "100")
    received = payment(company_a, party, "200")
    page = accountant.get(reverse("finance:payment_detail", args=[received.pk])).content.decode()
    assert 'id="payment-unallocated"' in page and "200.00" in page
    url = reverse("finance:payment_allocate", args=[received.pk])
    assert str(first.number) in accountant.get(url).content.decode()
    too_much = accountant.post(url, {f"amount-{first.pk}": "500"})
    assert too_much.status_code == 400
    assert accountant.post(url, {f"amount-{first.pk}": "113"}).status_code == 302
    first.refresh_from_db()
    assert first.payment_state == Invoice.PaymentState.PAID
    rows = _csv(accountant.get(reverse("finance:payment_list") + "?export=csv&cols=number,amount"))
    assert [received.number, "200.00"] in rows
    cancel = reverse("finance:payment_cancel", args=[received.pk])
    assert accountant.post(cancel, {"confirm": "on"}).status_code == 302
    received.refresh_from_db()
    first.refresh_from_db()
    assert received.state == Payment.State.CANCELLED
    assert first.payment_state == Invoice.PaymentState.NOT_PAID


def test_bank_statement_import_and_reconcile_from_a_suggestion(company_a, books_a, accountant):
    party = customer(company_a, "Statement Buyer")
    open_invoice = invoice(company_a, party, "100")
    data = f"date,amount,counterparty,reference\n2026-03-15,113.00,Statement Buyer,{open_invoice.number}\n"
    upload = io.BytesIO(data.encode())
    upload.name = "march.csv"
    response = accountant.post(
        reverse("finance:statement_import"),
        {"journal": str(books_a.bank_journal.pk), "file": upload},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    imported = BankStatement.unscoped.get(company=company_a)
    page = accountant.get(reverse("finance:statement_detail", args=[imported.pk])).content.decode()
    assert "suggestion" in page and open_invoice.number in page
    line = imported.lines.get()
    done = accountant.post(
        reverse("finance:statement_line_reconcile", args=[line.pk]),
        {"invoices": str(open_invoice.pk), "payment": "", "party": ""},
    )
    assert done.status_code == 302
    line.refresh_from_db()
    open_invoice.refresh_from_db()
    assert line.payment_id and open_invoice.payment_state == Invoice.PaymentState.PAID
    bad = accountant.post(
        reverse("finance:statement_import"),
        {"journal": str(books_a.bank_journal.pk), "file": io.BytesIO(b"nothing here")},
    )
    assert bad.status_code == 400
    other = statement(company_a, "Advance").lines.get()
    wrong = accountant.post(
        reverse("finance:statement_line_reconcile", args=[other.pk]), {"party_code": "NOPE"}
    )
    assert wrong.status_code == 302 and not Payment.unscoped.filter(statement_lines=other).exists()
    manual = accountant.post(
        reverse("finance:statement_line_reconcile", args=[other.pk]), {"party_code": party.code}
    )
    assert manual.status_code == 302
    other.refresh_from_db()
    assert other.payment.party_id == party.pk and other.payment.amount == Decimal(113)
    listing = _csv(accountant.get(reverse("finance:statement_list") + "?export=csv"))
    assert len(listing) == 3
    # a bank charge is booked to an expense account by its code
    charge = statement(company_a, "Bank").lines.get()
    page = accountant.get(reverse("finance:statement_detail", args=[charge.statement_id]))
    assert reverse("finance:statement_line_book", args=[charge.pk]) in page.content.decode()
    book = reverse("finance:statement_line_book", args=[charge.pk])
    assert accountant.post(book, {"account_code": "NOPE"}).status_code == 302
    charge.refresh_from_db()
    assert charge.entry_id is None
    assert accountant.post(book, {"account_code": books_a.expense.code}).status_code == 302
    charge.refresh_from_db()
    assert charge.entry.lines.filter(account=books_a.expense).exists()


# --- receivables and reports ------------------------------------------------------------------


def test_aging_statement_and_dunning(company_a, books_a, accountant):
    party = customer(company_a, "Late Payer")
    invoice(company_a, party, "1000", date=dt.date(2026, 1, 5))
    DunningLevel.unscoped.create(company=company_a, level=1, name="First", days_overdue=10)
    aging = accountant.get(reverse("finance:aging") + "?as_of=2026-04-30").content.decode()
    assert "Late Payer" in aging and "1,130.00" in aging
    payables = accountant.get(reverse("finance:aging") + "?kind=payable&buckets=x")
    assert payables.status_code == 200 and "buckets" in payables.content.decode()
    statement_url = reverse("finance:customer_statement", args=[party.pk])
    html = accountant.get(statement_url + "?start=2026-01-01&end=2026-04-30").content.decode()
    assert 'id="statement-closing"' in html and "1,130.00" in html
    pdf = accountant.get(reverse("finance:customer_statement_pdf", args=[party.pk]))
    assert pdf.content.startswith(b"%PDF")
    assert (
        accountant.post(reverse("finance:dunning_run"), {"date": "2026-04-30"}).status_code == 302
    )
    dunning = Dunning.unscoped.get(company=company_a, party=party)
    assert "Late Payer" in accountant.get(reverse("finance:dunning_list")).content.decode()
    assert accountant.get(reverse("finance:dunning_pdf", args=[dunning.pk])).content.startswith(
        b"%PDF"
    )


def test_reports_link_every_figure_to_the_drill_down_and_export(company_a, books_a, accountant):
    party = customer(company_a)
    invoice(company_a, party, "1000")
    posted_entry(company_a, "500")
    query = "?preset=custom&start=2026-01-01&end=2026-12-31"
    trial = accountant.get(reverse("finance:trial_balance") + query + "&compare=previous_year")
    html = trial.content.decode()
    assert trial.status_code == 200 and "1,130.00" in html and "(comparative)" in html
    drill = reverse("finance:report_lines") + f"?accounts={books_a.receivable.pk}"
    assert drill in html.replace("&amp;", "&")
    lines = accountant.get(drill + "&start=2026-01-01&end=2026-12-31&closing=1").content.decode()
    assert 'id="drill-lines"' in lines and "1,130.00" in lines
    for name in ("balance_sheet", "profit_and_loss", "cash_flow", "general_ledger"):
        extra = f"&account={books_a.bank.pk}" if name == "general_ledger" else ""
        page = accountant.get(reverse(f"finance:{name}") + query + extra)
        assert page.status_code == 200, name
        assert reverse("finance:report_lines") in page.content.decode(), name
    typed = accountant.get(
        reverse("finance:trial_balance")
        + "?preset=this_year&preset_was=this_year&start=2026-02-01&end=2026-02-28"
    ).content.decode()
    assert "2026-02-01 – 2026-02-28" in typed and '<option value="custom" selected' in typed
    chosen = accountant.get(
        reverse("finance:trial_balance")
        + "?preset=last_month&preset_was=custom&start=2026-02-01&end=2026-02-28"
    ).content.decode()
    assert '<option value="last_month" selected' in chosen
    march = accountant.get(
        reverse("finance:trial_balance")
        + "?start=2026-03-01&end=2026-03-31&compare=previous_period"
    ).content.decode()
    assert "2026-03-01 – 2026-03-31 / 2026-02-01 – 2026-02-28" in march
    pl = accountant.get(reverse("finance:profit_and_loss") + query).content.decode()
    assert "1,000.00" in pl
    rows = _csv(accountant.get(reverse("finance:trial_balance") + query + "&export=csv"))
    assert rows[0][:3] == ["Code", "Account", "Opening balance"]
    assert ["1122", "Receivable", "0.00", "1130.00", "0.00", "1130.00", "0", ""] in rows
    xlsx = accountant.get(reverse("finance:balance_sheet") + "?as_of=2026-12-31&export=xlsx")
    assert xlsx.status_code == 200 and load_workbook(io.BytesIO(xlsx.content)).active.max_row > 3
    pdf = accountant.get(reverse("finance:profit_and_loss") + query + "&export=pdf")
    assert pdf.content.startswith(b"%PDF")
    ledger_csv = accountant.get(
        reverse("finance:general_ledger") + query + f"&account={books_a.bank.pk}&export=csv"
    )
    assert "500.00" in ledger_csv.content.decode("utf-8-sig")


# --- permissions, navigation, isolation -------------------------------------------------------

LEDGER_SCREENS = (
    "entry_list", "entry_create", "line_list", "ledger_verify", "account_list", "journal_list",
    "tax_list", "year_list", "customer_invoice_list", "supplier_invoice_list", "payment_list",
    "statement_list", "trial_balance", "balance_sheet", "profit_and_loss", "cash_flow",
    "general_ledger", "aging", "dunning_list", "settings_edit", "invoice_create",
    "payment_create", "statement_import",
)  # fmt: skip


def test_sales_rep_gets_403_on_every_ledger_screen(company_a, books_a, users_a, client_for):
    client = client_for(users_a["sales_rep"])
    entry = posted_entry(company_a)
    for name in LEDGER_SCREENS:
        assert client.get(reverse(f"finance:{name}")).status_code == 403, name
    assert client.get(reverse("finance:entry_detail", args=[entry.pk])).status_code == 403
    blocked = client.post(reverse("finance:entry_create"), _entry_form(books_a, "1", "1", post="1"))
    assert blocked.status_code == 403
    assert Entry.unscoped.filter(company=company_a).count() == 1


def test_executive_sees_but_does_not_change(company_a, books_a, users_a, client_for):
    client = client_for(users_a["executive"])
    entry = posted_entry(company_a)
    page = client.get(reverse("finance:entry_detail", args=[entry.pk])).content.decode()
    assert "Reverse" not in page
    assert client.get(reverse("finance:entry_reverse", args=[entry.pk])).status_code == 403
    assert client.get(reverse("finance:trial_balance")).status_code == 200


def test_navigation_lists_the_finance_screens(users_a, client_for):
    from xietong.finance import navigation

    navigation.register()
    home = client_for(users_a["accountant"]).get(reverse("web:home"), follow=True).content.decode()
    for name in ("entry_list", "customer_invoice_list", "trial_balance", "settings_edit"):
        assert f'href="{reverse("finance:" + name)}"' in home, name
    rep = client_for(users_a["sales_rep"]).get(reverse("web:home"), follow=True).content.decode()
    assert reverse("finance:entry_list") not in rep


def test_other_company_records_are_not_found(company_a, company_b, books_a, accountant):
    theirs = posted_entry(company_b, ref="CANARY-b-entry")
    their_invoice = invoice(company_b, amount="5")
    assert accountant.get(reverse("finance:entry_detail", args=[theirs.pk])).status_code == 404
    assert (
        accountant.get(reverse("finance:invoice_detail", args=[their_invoice.pk])).status_code
        == 404
    )
    assert (
        accountant.post(reverse("finance:entry_reverse", args=[theirs.pk]), {}).status_code == 404
    )
    listing = accountant.get(reverse("finance:entry_list") + "?export=csv").content
    assert b"CANARY-b" not in listing
    assert not Entry.unscoped.filter(reversal_of=theirs).exists()
