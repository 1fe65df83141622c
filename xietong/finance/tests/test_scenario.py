"""Scenario, as the accountant would work through the screens (a role user, not a superuser):
invoice a customer → receive the payment against it → the lines are reconciled → close the
month → nothing more can be posted into it, neither a manual entry nor an invoice."""

from __future__ import annotations

import datetime as dt

from django.urls import reverse

from xietong.finance.models import Entry, Invoice, Line, Match, Payment, Period
from xietong.finance.reconcile import residuals
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.finance.tests.matrix import DATE, customer, ledger
from xietong.finance.tests.test_views import _entry_form, _invoice_form


def test_invoice_to_cash_to_closed_period_as_the_accountant(company_a, users_a, client_for):  # type: ignore[no-untyped-def]
    books = ledger(company_a)
    accountant = users_a["accountant"]
    assert not accountant.is_superuser
    web = client_for(accountant)
    party = customer(company_a, "华东自行车经销有限公司")

    # 1. the invoice, drafted and posted through the screens
    assert (
        web.post(reverse("finance:invoice_create"), _invoice_form(party, books)).status_code == 302
    )
    invoice = Invoice.unscoped.get(company=company_a, party=party)
    assert web.post(reverse("finance:invoice_post", args=[invoice.pk])).status_code == 302
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.POSTED and invoice.number
    assert invoice.entry.posted_by == accountant

    # 2. the customer pays; the payment is registered against the invoice
    pay = reverse("finance:payment_create") + f"?invoice={invoice.pk}"
    response = web.post(pay, {
        "direction": "inbound", "party": str(party.pk), "journal": str(books.bank_journal.pk),
        "date": (DATE + dt.timedelta(days=5)).isoformat(), "amount": str(invoice.amount_total),
        "currency": "", "rate": "", "reference": invoice.number, "memo": "", "invoice": str(invoice.pk),
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    payment = Payment.unscoped.get(company=company_a, party=party)
    invoice.refresh_from_db()
    assert invoice.payment_state == Invoice.PaymentState.PAID and invoice.amount_residual == 0

    # 3. reconciled: the receivable line of the invoice is settled by the payment's
    receivable = Line.unscoped.get(entry=invoice.entry, account__reconcile=True)
    paid = Line.unscoped.get(entry=payment.entry, account__reconcile=True)
    assert Match.unscoped.filter(debit_line=receivable, credit_line=paid).exists()
    left = residuals([receivable.pk, paid.pk])
    assert not left[receivable.pk].is_open and not left[paid.pk].is_open
    page = web.get(reverse("finance:invoice_detail", args=[invoice.pk])).content.decode()
    assert payment.number in page

    # 4. the month is closed
    period = Period.unscoped.get(company=company_a, start__lte=DATE, end__gte=DATE)
    close = reverse("finance:period_close", args=[period.pk])
    assert web.post(close, {"confirm": "on"}).status_code == 302
    period.refresh_from_db()
    assert period.state == Period.State.CLOSED and period.closed_by == accountant

    # 5. a manual entry into the closed month is refused and nothing is saved
    before = Entry.unscoped.filter(company=company_a).count()
    refused = web.post(reverse("finance:entry_create"), _entry_form(books, "10", "10", post="1"))
    html = refused.content.decode()
    assert refused.status_code == 400 and 'id="posting-error"' in html
    assert f"The period {period.name} is closed" in html
    assert Entry.unscoped.filter(company=company_a).count() == before

    # … and so is an invoice dated in it
    web.post(reverse("finance:invoice_create"), _invoice_form(party, books, reference="LATE-1"))
    late = Invoice.unscoped.get(company=company_a, reference="LATE-1")
    web.post(reverse("finance:invoice_post", args=[late.pk]))
    late.refresh_from_db()
    assert late.state == Invoice.State.DRAFT and late.number == ""
    assert Entry.unscoped.filter(company=company_a).count() == before
    assert_ledger_sound([company_a])
