"""The pre-posting veto (`on_invoice_post_check`): listeners see the drafts about to be posted,
before anything is written, and refuse the posting by raising ValidationError."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from xietong.core.tenancy import company_scope
from xietong.finance import invoicing
from xietong.finance.invoicing import invoice_create, invoice_post, invoices_post
from xietong.finance.models import Entry, Installment, Invoice
from xietong.finance.tests.factories import D, books
from xietong.party.services import party_create

pytestmark = pytest.mark.django_db

MARCH = dt.date(2026, 3, 10)


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    ns = books(company_a)
    with company_scope(company_a):
        ns.supplier = party_create(company=company_a, actor=None, name="Supply Co",
                                   is_supplier=True, allow_duplicate=True)  # fmt: skip
    return ns


@pytest.fixture
def seen():  # type: ignore[no-untyped-def]
    calls: list[list[Invoice]] = []

    def listener(invoices: list[Invoice]) -> None:
        calls.append(list(invoices))
        for invoice in invoices:
            assert invoice.state == Invoice.State.DRAFT  # nothing written yet
            if invoice.reference == "VETO":
                raise ValidationError({"reference": ["Refused by the listener."]})

    invoicing.on_invoice_post_check(listener)
    invoicing.on_invoice_post_check(listener)  # registered once
    yield calls
    invoicing._POST_CHECKS.remove(listener)


def _draft(b, reference=""):  # type: ignore[no-untyped-def]
    return invoice_create(
        company=b.company, actor=None, kind=Invoice.Kind.SUPPLIER_INVOICE, party=b.supplier,
        date=MARCH, reference=reference,
        lines=[{"description": "Service", "quantity": D("1"), "unit_price": D("100")}],
    )  # fmt: skip


def test_listener_sees_the_drafts_once_per_posting(b, seen) -> None:  # type: ignore[no-untyped-def]
    first, second = _draft(b), _draft(b)
    invoices_post(invoices=[first, second], actor=None)
    assert len(seen) == 1
    assert [invoice.pk for invoice in seen[0]] == [first.pk, second.pk]
    invoice_post(invoice=_draft(b), actor=None)
    assert len(seen) == 2 and len(seen[1]) == 1
    first.refresh_from_db()
    assert first.state == Invoice.State.POSTED


def test_a_veto_refuses_the_posting_and_writes_nothing(b, seen) -> None:  # type: ignore[no-untyped-def]
    good, refused = _draft(b), _draft(b, reference="VETO")
    with pytest.raises(ValidationError) as caught:
        invoices_post(invoices=[good, refused], actor=None)
    assert caught.value.message_dict == {"reference": ["Refused by the listener."]}
    for invoice in (good, refused):
        invoice.refresh_from_db()
        assert invoice.state == Invoice.State.DRAFT and invoice.number == ""
    assert not Entry.unscoped.filter(company=b.company).exists()
    assert not Installment.objects.filter(invoice__company=b.company).exists()
    # The good one alone posts, and takes the first number (none was consumed).
    invoice_post(invoice=good, actor=None)
    assert good.state == Invoice.State.POSTED
    assert Entry.unscoped.filter(company=b.company).count() == 1
