"""Set-based finance services: `invoices_post` (many drafts posted at once) and
`payments_register` (a payment run) give the same database result as the single calls
(`invoice_post`; `payment_create` + `payment_post(allocations=[invoice])`) — built in two
identical companies and compared — cost far fewer statements, and refuse a bad document in
the middle of the list with nothing written."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xietong.core.models import AuditEntry, SequenceCounter
from xietong.core.services import company_create
from xietong.finance.amounts import exact
from xietong.finance.invoicing import invoice_create, invoice_post, invoices_post
from xietong.finance.models import Entry, Installment, Invoice, Line, Match, Payment
from xietong.finance.payments import payment_create, payment_post, payments_register
from xietong.finance.tests.factories import D, books
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.finance.tests.test_payments import make_party
from xietong.party.models import TimelineEntry
from xietong.party.services import payment_term_create

pytestmark = pytest.mark.django_db

MARCH = dt.date(2026, 3, 1)


@pytest.fixture
def actor(users_a):  # type: ignore[no-untyped-def]
    return users_a["accountant"]


def _twin() -> Any:
    """A second company set up like `company_a` (the root conftest's)."""
    return company_create(
        name="Alpha Twin", legal_name="Alpha Twin Ltd.", base_currency="CNY", country="CN"
    )


def _world(company: Any, actor: Any) -> Any:
    """Books, parties and draft invoices: customer invoices on several dates (one with two
    installments, one in USD), and a supplier invoice."""
    b = books(company)
    b.customers = [make_party(company, f"Customer {n}") for n in range(3)]
    b.supplier = make_party(company, "Supplier", supplier=True)
    term = payment_term_create(
        company=company,
        actor=None,
        name="Half now, half in 30 days",
        lines=[{"percent": 50, "days": 0}, {"percent": 50, "days": 30}],
    )

    def draft(party, amount, day, **kw):  # type: ignore[no-untyped-def]
        return invoice_create(
            company=company,
            actor=actor,
            kind=kw.pop("kind", Invoice.Kind.CUSTOMER_INVOICE),
            party=party,
            date=MARCH + dt.timedelta(days=day),
            lines=[
                {"description": "Goods", "quantity": 2, "unit_price": D(amount)},
                {"description": "Service", "quantity": 1, "unit_price": D("10.05")},
            ],
            **kw,
        )

    c0, c1, c2 = b.customers
    b.drafts = [
        draft(c0, "100.10", 9),
        draft(c1, "250", 4),
        draft(c2, "99.99", 9, payment_term=term),
        draft(c0, "10", 1),
        draft(b.supplier, "400", 6, kind=Invoice.Kind.SUPPLIER_INVOICE),
        draft(c1, "33.33", 19, currency="USD", rate=D("7.1")),
        draft(c2, "1200", 4),
    ]
    return b


def _snapshot(company: Any) -> dict[str, Any]:
    """The company's documents and ledger without ids, times and hashes (which differ between
    companies), amounts exact."""
    invoices = [
        (
            i.number, i.kind, i.state, i.payment_state, i.party.name, i.date, i.due_date,
            i.currency_id, exact(i.rate), exact(i.amount_untaxed), exact(i.amount_tax),
            exact(i.amount_total), exact(i.amount_residual), i.entry.number if i.entry else None,
        )
        for i in Invoice.unscoped.filter(company=company)
        .select_related("party", "entry")
        .order_by("number", "pk")
    ]  # fmt: skip
    installments = [
        (i.invoice.number, i.sequence, i.due_date, exact(i.amount), exact(i.discount))
        for i in Installment.objects.filter(invoice__company=company)
        .select_related("invoice")
        .order_by("invoice__number", "sequence")
    ]
    entries = [
        (e.journal.code, e.number, e.date, e.state, e.chain_index, e.ref, e.source_type,
         e.period.name if e.period else None)
        for e in Entry.unscoped.filter(company=company)
        .select_related("journal", "period")
        .order_by("journal__code", "chain_index")
    ]  # fmt: skip
    lines = [
        (line.entry.number, line.sequence, line.account.code, line.label, exact(line.debit), exact(line.credit),
         line.currency_id, exact(line.amount_currency), exact(line.rate),
         line.party.name if line.party else None, line.due_date)
        for line in Line.unscoped.filter(company=company)
        .select_related("entry", "account", "party")
        .order_by("entry__number", "sequence")
    ]  # fmt: skip
    payments = [
        (p.number, p.direction, p.refund, p.state, p.party.name, p.date, exact(p.amount),
         p.currency_id, exact(p.rate), p.reference, p.entry.number if p.entry else None)
        for p in Payment.unscoped.filter(company=company)
        .select_related("party", "entry")
        .order_by("number")
    ]  # fmt: skip
    matches = sorted(
        (m.debit_line.entry.number, m.debit_line.sequence, m.credit_line.entry.number,
         m.credit_line.sequence, exact(m.amount), exact(m.amount_currency))
        for m in Match.unscoped.filter(company=company).select_related(
            "debit_line__entry", "credit_line__entry"
        )
    )  # fmt: skip
    timeline = sorted(
        TimelineEntry.unscoped.filter(company_id=company.pk).values_list("kind", "summary")
    )
    audit = sorted(
        (entry.content_type.model, entry.action, sorted(entry.changes or {}))
        for entry in AuditEntry.objects.filter(company_id=company.pk)
        .filter(content_type__model__in=["entry", "invoice", "payment", "timelineentry"])
        .select_related("content_type")
    )
    return {
        "invoices": invoices, "installments": installments, "entries": entries, "lines": lines,
        "payments": payments, "matches": matches, "timeline": timeline, "audit": audit,
    }  # fmt: skip


def _assert_same(one: dict[str, Any], many: dict[str, Any]) -> None:
    for key in one:
        assert one[key] == many[key], key


def _in_date_order(invoices: list[Invoice]) -> list[Invoice]:
    return sorted(invoices, key=lambda i: i.date)  # stable: ties in the order given


def test_invoices_post_and_payments_register_as_the_single_calls(company_a, actor):
    twin = _twin()
    one, many = _world(company_a, actor), _world(twin, actor)
    # one by one (in date order, as `invoices_post` numbers them) …
    for invoice in _in_date_order(one.drafts):
        invoice_post(invoice=invoice, actor=actor)
    # … and at once
    posted = invoices_post(invoices=many.drafts, actor=actor)
    assert posted == many.drafts
    assert all(i.state == Invoice.State.POSTED and i.number for i in posted)
    sales = [i for i in posted if i.kind == Invoice.Kind.CUSTOMER_INVOICE]
    assert [i.number for i in _in_date_order(sales)] == sorted(i.number for i in sales)
    _assert_same(_snapshot(company_a), _snapshot(twin))

    # a partial payment first, so that an amount due is not the total
    for b in (one, many):
        payment = payment_create(
            company=b.company, actor=actor, direction="inbound", party=b.customers[1],
            journal=b.bank_journal, date=MARCH + dt.timedelta(days=20), amount=D("100"),
        )  # fmt: skip
        payment_post(payment=payment, actor=actor, allocations=[b.drafts[1]])
    payable = [0, 1, 2, 3, 4, 6]  # not the USD invoice: the bank journal works in CNY
    date = MARCH + dt.timedelta(days=25)
    for index in payable:
        invoice = Invoice.unscoped.get(pk=one.drafts[index].pk)
        customer = invoice.kind == Invoice.Kind.CUSTOMER_INVOICE
        payment = payment_create(
            company=company_a, actor=actor, direction="inbound" if customer else "outbound",
            party=invoice.party, journal=one.bank_journal, date=date,
            amount=invoice.amount_residual, currency=invoice.currency_id,
            reference=invoice.number,
        )  # fmt: skip
        payment_post(payment=payment, actor=actor, allocations=[invoice])
    payments = payments_register(
        invoices=[many.drafts[index] for index in payable],
        journal=many.bank_journal,
        date=date,
        actor=actor,
    )
    assert [p.reference for p in payments] == [many.drafts[i].number for i in payable]
    snapshot = _snapshot(twin)
    _assert_same(_snapshot(company_a), snapshot)
    paid = {row[0]: row[3] for row in snapshot["invoices"]}
    assert sorted(paid.values()).count(Invoice.PaymentState.PAID) == len(payable)
    assert_ledger_sound([company_a, twin])


def _drafts(b: Any, count: int, actor: Any) -> list[Invoice]:
    return [
        invoice_create(
            company=b.company,
            actor=actor,
            kind=Invoice.Kind.CUSTOMER_INVOICE,
            party=b.customers[n % len(b.customers)],
            date=MARCH + dt.timedelta(days=n % 3),
            lines=[{"description": "Goods", "quantity": 1, "unit_price": D(100 + n)}],
        )
        for n in range(count)
    ]


def _statements(call) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries)


def test_ten_documents_cost_less_than_three_single_ones(company_a, actor):
    b = books(company_a)
    b.customers = [make_party(company_a, f"Customer {n}") for n in range(3)]
    warm = invoice_post(invoice=_drafts(b, 1, actor)[0], actor=actor)  # the series exist
    payments_register(invoices=[warm], journal=b.bank_journal, date=MARCH, actor=actor)
    single, ten = _drafts(b, 1, actor), _drafts(b, 10, actor)
    post_one = _statements(lambda: invoices_post(invoices=single, actor=actor))
    post_ten = _statements(lambda: invoices_post(invoices=ten, actor=actor))
    pay_one = _statements(
        lambda: payments_register(invoices=single, journal=b.bank_journal, date=MARCH, actor=actor)
    )
    pay_ten = _statements(
        lambda: payments_register(invoices=ten, journal=b.bank_journal, date=MARCH, actor=actor)
    )
    print(f"invoices_post: 1 → {post_one}, 10 → {post_ten} statements")  # noqa: T201
    print(f"payments_register: 1 → {pay_one}, 10 → {pay_ten} statements")  # noqa: T201
    assert post_ten < 3 * post_one
    assert pay_ten < 3 * pay_one
    assert (
        Invoice.unscoped.filter(
            pk__in=[i.pk for i in ten], payment_state=Invoice.PaymentState.PAID
        ).count()
        == 10
    )


def _written(company: Any) -> tuple[int, ...]:
    return (
        Entry.unscoped.filter(company=company).count(),
        Line.unscoped.filter(company=company).count(),
        Invoice.unscoped.filter(company=company, state=Invoice.State.POSTED).count(),
        Payment.unscoped.filter(company=company).count(),
        Match.unscoped.filter(company=company).count(),
        Installment.objects.filter(invoice__company=company).count(),
        sum(SequenceCounter.objects.values_list("last_number", flat=True)),
        TimelineEntry.unscoped.filter(company_id=company.pk).count(),
    )


def test_a_refusal_in_the_middle_writes_nothing(company_a, actor):
    b = _world(company_a, actor)
    first, second, third = b.drafts[0], b.drafts[1], b.drafts[3]
    invoice_post(invoice=second, actor=actor)
    before = _written(company_a)
    with pytest.raises(ValidationError, match=f"{second.number}.*only a draft can be posted"):
        invoices_post(invoices=[first, second, third], actor=actor)
    assert _written(company_a) == before
    first.refresh_from_db()
    assert first.state == Invoice.State.DRAFT and not first.number

    invoices_post(invoices=[first, b.drafts[5]], actor=actor)  # the USD invoice
    before = _written(company_a)
    with pytest.raises(ValidationError) as refused:
        payments_register(
            invoices=[first, b.drafts[5], third], journal=b.bank_journal, date=MARCH, actor=actor
        )
    messages = " ".join(refused.value.messages)
    assert f"{b.drafts[5].number} is in USD" in messages  # the journal works in CNY
    assert "not posted" in messages  # `third` is a draft
    assert _written(company_a) == before
    first.refresh_from_db()
    assert first.payment_state == Invoice.PaymentState.NOT_PAID

    payments_register(invoices=[first, second], journal=b.bank_journal, date=MARCH, actor=actor)
    before = _written(company_a)
    with pytest.raises(ValidationError, match="paid already"):
        payments_register(invoices=[second], journal=b.bank_journal, date=MARCH, actor=actor)
    assert _written(company_a) == before
