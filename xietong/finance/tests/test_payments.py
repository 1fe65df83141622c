"""Payments: posting, allocation to invoices (partial, full, overpayment, credit), refusals,
cancellation, realised exchange differences and early-payment discounts."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from xietong.core.models import ExchangeRate
from xietong.core.tenancy import company_scope
from xietong.finance.invoicing import invoice_create, invoice_post
from xietong.finance.models import (
    Account,
    AccountType,
    Entry,
    Invoice,
    Journal,
    Line,
    Match,
    Payment,
)
from xietong.finance.payments import (
    credit_apply,
    party_credit,
    payment_allocate,
    payment_cancel,
    payment_create,
    payment_post,
)
from xietong.finance.reconcile import open_items
from xietong.finance.tests.factories import D, books
from xietong.finance.tests.invariants import trial_balance_residue, unbalanced_entries
from xietong.party.models import TimelineEntry
from xietong.party.services import party_create, payment_term_create

MARCH = dt.date(2026, 3, 1)


# --- helpers shared with test_banking and test_receivables -------------------------------------


def make_party(company, name, *, supplier=False, **fields):  # type: ignore[no-untyped-def]
    with company_scope(company):
        return party_create(
            company=company,
            actor=None,
            name=name,
            is_customer=not supplier,
            is_supplier=supplier,
            allow_duplicate=True,
            **fields,
        )


def make_invoice(  # type: ignore[no-untyped-def]
    b, party, amount, *, date=MARCH, kind=Invoice.Kind.CUSTOMER_INVOICE, currency=None,
    rate=None, term=None, actor=None,
):  # fmt: skip
    """A posted invoice of one untaxed line of `amount`."""
    invoice = invoice_create(
        company=b.company,
        actor=actor,
        kind=kind,
        party=party,
        date=date,
        currency=currency,
        rate=rate,
        payment_term=term,
        lines=[{"description": "Goods", "quantity": 1, "unit_price": D(amount)}],
    )
    return invoice_post(invoice=invoice, actor=actor)


def pay(b, party, amount, *, date=MARCH, direction="inbound", journal=None, allocations=None,  # type: ignore[no-untyped-def]
        actor=None, **kw):  # fmt: skip
    payment = payment_create(
        company=b.company,
        actor=actor,
        direction=direction,
        party=party,
        journal=journal or b.bank_journal,
        date=date,
        amount=D(amount),
        **kw,
    )
    return payment_post(payment=payment, actor=actor, allocations=allocations)


def fresh(obj):  # type: ignore[no-untyped-def]
    obj.refresh_from_db()
    return obj


def counts():  # type: ignore[no-untyped-def]
    return (
        Entry.unscoped.count(),
        Line.unscoped.count(),
        Match.unscoped.count(),
        Payment.unscoped.count(),
    )


def ledger_sound() -> None:
    assert unbalanced_entries() == []
    assert trial_balance_residue() == {}


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return books(company_a)


@pytest.fixture
def acme(company_a):  # type: ignore[no-untyped-def]
    return make_party(company_a, "Acme Trading")


# --- tests ------------------------------------------------------------------------------------


def test_partial_full_overpayment_then_credit_applied(b, acme, users_a):  # type: ignore[no-untyped-def]
    actor = users_a["accountant"]
    first = make_invoice(b, acme, "1000.00", date=dt.date(2026, 3, 1))
    second = make_invoice(b, acme, "500.00", date=dt.date(2026, 3, 5))

    p1 = pay(b, acme, "400.00", date=dt.date(2026, 3, 10), actor=actor)
    assert p1.state == Payment.State.POSTED
    assert p1.number == p1.entry.number == "BNK/2026/000001"
    lines = list(p1.entry.lines.order_by("sequence"))
    assert [(ln.account, ln.debit, ln.credit, ln.party) for ln in lines] == [
        (b.bank, D("400"), 0, None),
        (b.receivable, 0, D("400"), acme),
    ]
    assert p1.entry.source_type == "finance.payment" and p1.entry.source_id == p1.pk
    timeline = TimelineEntry.unscoped.filter(party=acme, kind="payment").get()
    assert "400.00 CNY" in timeline.summary and timeline.actor == actor

    payment_allocate(payment=p1, actor=actor, invoices=[first])
    first = fresh(first)
    assert (first.payment_state, first.amount_residual) == ("partial", D("600"))

    # 700 against the first invoice: 600 settle it, 100 stay open as the customer's credit
    p2 = pay(b, acme, "700.00", date=dt.date(2026, 3, 12), allocations=[first], actor=actor)
    first = fresh(first)
    assert (first.payment_state, first.amount_residual) == ("paid", 0)
    assert party_credit(party=acme) == {"CNY": D("100")}

    matches = credit_apply(party=acme, actor=actor, invoices=[second])
    assert sum(m.amount for m in matches) == D("100")
    second = fresh(second)
    assert (second.payment_state, second.amount_residual) == ("partial", D("400"))
    assert party_credit(party=acme) == {}
    open_lines = open_items(company=b.company, party=acme)
    assert [(ln.entry_id, ln.residual.amount) for ln in open_lines] == [(second.entry_id, D("400"))]
    with pytest.raises(ValidationError) as info:
        credit_apply(party=acme, actor=actor, invoices=[second])
    assert "no open credit" in info.value.messages[0]
    assert fresh(p2).state == Payment.State.POSTED
    ledger_sound()


def test_allocation_by_amounts_oldest_due_and_limits(b, acme):  # type: ignore[no-untyped-def]
    first = make_invoice(b, acme, "1000.00", date=dt.date(2026, 3, 1))
    second = make_invoice(b, acme, "500.00", date=dt.date(2026, 3, 5))
    payment = pay(b, acme, "600.00", date=dt.date(2026, 3, 10))
    before = counts()
    with pytest.raises(ValidationError) as info:
        payment_allocate(payment=payment, actor=None, amounts={first.pk: D("300"), second: "501"})
    assert "more than the 500.00 CNY due on invoice" in " ".join(info.value.messages)
    with pytest.raises(ValidationError) as info:
        payment_allocate(payment=payment, actor=None, amounts={first.pk: D("300"), second: "400"})
    assert "only 600.00 CNY of the payment is unallocated" in info.value.messages[0]
    with pytest.raises(ValidationError):
        payment_allocate(payment=payment, actor=None, amounts={first.pk: 300.0})  # a float
    assert counts() == before

    payment_allocate(payment=payment, actor=None, amounts={first.pk: D("300"), second: "200"})
    assert fresh(first).amount_residual == D("700")
    assert fresh(second).amount_residual == D("300")
    assert party_credit(party=acme) == {"CNY": D("100")}
    # the rest goes to the oldest due first
    payment_allocate(payment=payment, actor=None, invoices=[second, first])
    assert fresh(first).amount_residual == D("600")
    assert fresh(second).amount_residual == D("300")
    with pytest.raises(ValidationError) as info:
        payment_allocate(payment=payment, actor=None, invoices=[second])
    assert "fully allocated" in info.value.messages[0]


def test_allocation_refused_for_foreign_invoices_writes_nothing(b, acme, company_a, company_b):  # type: ignore[no-untyped-def]
    other = make_party(company_a, "Globex")
    theirs = make_invoice(b, other, "100.00")
    ours = make_invoice(b, acme, "100.00")
    supplier_bill = make_invoice(b, make_party(company_a, "Initech", supplier=True), "100.00",
                                 kind=Invoice.Kind.SUPPLIER_INVOICE)  # fmt: skip
    draft = invoice_create(
        company=company_a, actor=None, kind="out_invoice", party=acme, date=MARCH,
        lines=[{"description": "x", "unit_price": D(5)}],
    )  # fmt: skip
    b2 = books(company_b)
    elsewhere = make_invoice(b2, make_party(company_b, "Acme Trading"), "100.00")
    payment = pay(b, acme, "100.00")
    before = counts()
    for invoices, text in [
        ([ours, theirs], "is for Globex, not for Acme Trading"),
        ([elsewhere], "belongs to another company"),
        ([supplier_bill], "this payment settles: Customer invoice"),
        ([draft], "is not posted"),
    ]:
        with pytest.raises(ValidationError) as info:
            payment_allocate(payment=payment, actor=None, invoices=invoices)
        assert text in " ".join(info.value.messages)
    assert counts() == before
    assert fresh(ours).payment_state == "not_paid"

    # refused while posting: the payment is not posted either
    draft_payment = payment_create(
        company=company_a, actor=None, direction="inbound", party=acme, journal=b.bank_journal,
        date=MARCH, amount=D("50"),
    )  # fmt: skip
    before = counts(), TimelineEntry.unscoped.filter(kind="payment").count()
    with pytest.raises(ValidationError):
        payment_post(payment=draft_payment, actor=None, allocations=[theirs])
    assert (counts(), TimelineEntry.unscoped.filter(kind="payment").count()) == before
    assert fresh(draft_payment).state == Payment.State.DRAFT


def test_payment_create_names_bad_input(b, acme, company_b):  # type: ignore[no-untyped-def]
    other = books(company_b)

    def refused(field, **kw):  # type: ignore[no-untyped-def]
        args = {
            "company": b.company, "actor": None, "direction": "inbound", "party": acme,
            "journal": b.bank_journal, "date": MARCH, "amount": D("10"),
        }  # fmt: skip
        args.update(kw)
        with pytest.raises(ValidationError) as info:
            payment_create(**args)
        assert field in info.value.message_dict, info.value.message_dict
        return " ".join(info.value.message_dict[field])

    assert "float" in refused("amount", amount=10.0)
    assert "more than zero" in refused("amount", amount=D("0"))
    assert "more decimals" in refused("amount", amount=D("1.005"))
    assert "not a bank or cash journal" in refused("journal", journal=b.general)
    assert "another company" in refused("journal", journal=other.bank_journal)
    assert "works in CNY, not USD" in refused("currency", currency="USD")
    assert "direction" in refused("direction", direction="sideways")
    assert Payment.unscoped.count() == 0
    cash = payment_create(
        company=b.company, actor=None, direction="outbound", party=acme, journal=b.cash_journal,
        date=MARCH, amount="12.50",
    )  # fmt: skip
    assert (cash.state, cash.currency_id, cash.amount) == ("draft", "CNY", D("12.50"))


def test_supplier_payment_and_cancel_reopens_invoices(b, company_a):  # type: ignore[no-untyped-def]
    initech = make_party(company_a, "Initech", supplier=True)
    bill = make_invoice(b, initech, "800.00", kind=Invoice.Kind.SUPPLIER_INVOICE)
    payment = pay(b, initech, "800.00", direction="outbound", allocations=[bill])
    lines = list(payment.entry.lines.order_by("sequence"))
    assert [(ln.account, ln.debit, ln.credit) for ln in lines] == [
        (b.payable, D("800"), 0),
        (b.bank, 0, D("800")),
    ]
    assert fresh(bill).payment_state == "paid"

    payment_cancel(payment=payment, actor=None)
    payment = fresh(payment)
    bill = fresh(bill)
    assert payment.state == Payment.State.CANCELLED
    assert (bill.payment_state, bill.amount_residual) == ("not_paid", D("800"))
    reversal = Entry.unscoped.get(reversal_of=payment.entry)
    assert reversal.source_type == "finance.payment"
    payable = Line.unscoped.filter(account=b.payable, party=initech).aggregate(
        d=Sum("debit"), c=Sum("credit")
    )
    assert payable["c"] - payable["d"] == D("800")
    assert [ln.entry_id for ln in open_items(company=b.company, party=initech)] == [bill.entry_id]
    with pytest.raises(ValidationError):
        payment_cancel(payment=payment, actor=None)
    # a draft is just cancelled
    draft = payment_create(
        company=company_a, actor=None, direction="outbound", party=initech,
        journal=b.bank_journal, date=MARCH, amount=D("1"),
    )  # fmt: skip
    assert payment_cancel(payment=draft, actor=None).state == Payment.State.CANCELLED
    # the bill can be paid again
    pay(b, initech, "800.00", direction="outbound", allocations=[bill])
    assert fresh(bill).payment_state == "paid"
    ledger_sound()


@pytest.fixture
def usd(b):  # type: ignore[no-untyped-def]
    """Rates 7.10 from 1 March, 7.20 from 20 March, 7.00 from 25 March; a USD bank journal and
    a separate exchange gain account."""
    for day, rate in ((1, "7.10"), (20, "7.20"), (25, "7.00")):
        ExchangeRate.unscoped.create(
            company=b.company, currency_id="USD", date=dt.date(2026, 3, day), rate=D(rate)
        )
    b.gain = Account.unscoped.create(
        company=b.company, code="6051", name="Exchange gains", type=AccountType.INCOME
    )
    b.settings.exchange_gain_account = b.gain
    b.settings.save()
    b.usd_journal = Journal.unscoped.create(
        company=b.company, code="BUSD", name="Bank USD", kind=Journal.Kind.BANK, account=b.bank_usd
    )
    return b


def _party_receivable(b, party):  # type: ignore[no-untyped-def]
    lines = Line.unscoped.filter(account=b.receivable, party=party)
    total = lines.aggregate(d=Sum("debit"), c=Sum("credit"), cur=Sum("amount_currency"))
    return total["d"] - total["c"], total["cur"]


def test_exchange_gain_realised_when_usd_invoice_is_paid_at_a_higher_rate(usd, acme):  # type: ignore[no-untyped-def]
    b = usd
    invoice = make_invoice(b, acme, "100.00", currency="USD", date=dt.date(2026, 3, 2))
    receivable = invoice.entry.lines.get(account=b.receivable)
    assert (receivable.debit, receivable.rate) == (D("710.00"), D("7.10"))
    payment = pay(b, acme, "100.00", date=dt.date(2026, 3, 21), journal=b.usd_journal,
                  allocations=[invoice])  # fmt: skip
    assert (payment.currency_id, payment.rate) == ("USD", D("7.20"))
    gain = Line.unscoped.get(account=b.gain)
    assert (gain.credit, gain.debit, gain.entry.journal) == (D("10.00"), 0, b.general)
    invoice = fresh(invoice)
    assert (invoice.payment_state, invoice.amount_residual) == ("paid", 0)
    assert open_items(company=b.company, party=acme) == []
    assert _party_receivable(b, acme) == (0, 0)
    ledger_sound()


def test_exchange_loss_realised_and_undone_by_cancelling_the_payment(usd, acme):  # type: ignore[no-untyped-def]
    b = usd
    invoice = make_invoice(b, acme, "100.00", currency="USD", date=dt.date(2026, 3, 2))
    payment = pay(b, acme, "60.00", date=dt.date(2026, 3, 26), journal=b.usd_journal,
                  allocations=[invoice])  # fmt: skip
    assert payment.rate == D("7.00")
    loss = Line.unscoped.get(account=b.fx)
    assert (loss.debit, loss.credit) == (D("6.00"), 0)  # 60 × (7.10 − 7.00)
    invoice = fresh(invoice)
    assert (invoice.payment_state, invoice.amount_residual) == ("partial", D("40"))
    assert _party_receivable(b, acme) == (D("284.00"), D("40"))  # 40 × 7.10

    payment_cancel(payment=payment, actor=None)
    invoice = fresh(invoice)
    assert (invoice.payment_state, invoice.amount_residual) == ("not_paid", D("100"))
    assert _party_receivable(b, acme) == (D("710.00"), D("100"))
    fx = Line.unscoped.filter(account=b.fx).aggregate(d=Sum("debit"), c=Sum("credit"))
    assert fx["d"] == fx["c"]  # the loss was reversed with the payment
    [item] = open_items(company=b.company, party=acme)
    assert item.entry_id == invoice.entry_id and item.residual.amount == D("710.00")
    ledger_sound()


def test_early_payment_discount_is_booked_and_settles_in_full(b, acme, company_a):  # type: ignore[no-untyped-def]
    discount = Account.unscoped.create(
        company=company_a, code="6603", name="Cash discounts", type=AccountType.EXPENSE
    )
    b.settings.discount_account = discount
    b.settings.save()
    with company_scope(company_a):
        term = payment_term_create(
            company=company_a, actor=None, name="2/10 net 30",
            lines=[{"percent": 100, "days": 30, "discount_percent": 2, "discount_days": 10}],
        )  # fmt: skip
    invoice = make_invoice(b, acme, "1000.00", term=term, date=dt.date(2026, 3, 1))
    [installment] = invoice.installments.all()
    assert (installment.discount, installment.discount_date) == (D("20"), dt.date(2026, 3, 11))

    late = make_invoice(b, acme, "1000.00", term=term, date=dt.date(2026, 3, 1))
    pay(b, acme, "980.00", date=dt.date(2026, 3, 12), allocations=[late])  # too late
    late = fresh(late)
    assert (late.payment_state, late.amount_residual) == ("partial", D("20"))
    assert not Line.unscoped.filter(account=discount).exists()

    payment = pay(b, acme, "980.00", date=dt.date(2026, 3, 10), allocations=[invoice])
    invoice = fresh(invoice)
    assert (invoice.payment_state, invoice.amount_residual) == ("paid", 0)
    booked = Line.unscoped.get(account=discount)
    assert (booked.debit, booked.entry.source_id, booked.entry.journal) == (
        D("20"),
        payment.pk,
        b.general,
    )
    # cancelling the payment takes the discount back too
    payment_cancel(payment=payment, actor=None)
    invoice = fresh(invoice)
    assert (invoice.payment_state, invoice.amount_residual) == ("not_paid", D("1000"))
    totals = Line.unscoped.filter(account=discount).aggregate(d=Sum("debit"), c=Sum("credit"))
    assert totals["d"] == totals["c"] == D("20")
    # with an amount per invoice: the discounted amount takes the discount, a payment larger
    # than it leaves the rest as credit
    payment = pay(b, acme, "1000.00", date=dt.date(2026, 3, 11))
    payment_allocate(payment=payment, actor=None, amounts={invoice.pk: D("980")})
    assert fresh(invoice).payment_state == "paid"
    assert party_credit(party=acme) == {"CNY": D("20")}
    ledger_sound()
    ledger_sound()


def test_credit_note_is_applied_as_credit(b, acme):  # type: ignore[no-untyped-def]
    invoice = make_invoice(b, acme, "300.00", date=dt.date(2026, 3, 5))
    credit = make_invoice(b, acme, "120.00", kind=Invoice.Kind.CUSTOMER_CREDIT)
    assert party_credit(party=acme) == {"CNY": D("120")}
    with pytest.raises(ValidationError) as info:
        credit_apply(party=acme, actor=None, invoices=[credit])
    assert "is a credit note" in info.value.messages[0]
    credit_apply(party=acme, actor=None, invoices=[invoice])
    assert (fresh(invoice).amount_residual, fresh(credit).payment_state) == (D("180"), "paid")
    # a received payment does not settle a credit note
    payment = pay(b, acme, "10.00")
    with pytest.raises(ValidationError) as info:
        payment_allocate(payment=payment, actor=None, invoices=[credit])
    assert "this payment settles: Customer invoice" in info.value.messages[0]


def test_refunds_settle_credit_notes_on_the_same_account(company_a):  # type: ignore[no-untyped-def]
    """A customer's credit note is paid back by an outbound refund on the receivable; a
    supplier's by an inbound refund on the payable."""
    from xietong.finance.invoicing import invoice_credit
    from xietong.finance.tests.invariants import assert_ledger_sound

    b = books(company_a)
    customer = make_party(company_a, "Refund Customer")
    supplier = make_party(company_a, "Refund Supplier", supplier=True)
    for party, kind, direction, account in (
        (customer, Invoice.Kind.CUSTOMER_INVOICE, "outbound", b.receivable),
        (supplier, Invoice.Kind.SUPPLIER_INVOICE, "inbound", b.payable),
    ):
        invoice = make_invoice(b, party, "300", kind=kind)
        pay(b, party, "300", direction="inbound" if direction == "outbound" else "outbound",
            allocations=[invoice])  # fmt: skip
        credit = invoice_credit(invoice=fresh(invoice), actor=None, post=True)
        assert fresh(credit).amount_residual == D("300")  # the invoice was paid: money is owed back
        with pytest.raises(ValidationError):  # an ordinary payment does not settle a credit note
            pay(b, party, "300", direction=direction, allocations=[credit])
        refund = pay(b, party, "300", direction=direction, refund=True, allocations=[credit])
        assert refund.refund and refund.customer_side == (party == customer)
        assert fresh(credit).payment_state == Invoice.PaymentState.PAID
        line = Line.unscoped.get(entry=refund.entry, account__reconcile=True)
        assert line.account == account
    assert_ledger_sound([company_a])
