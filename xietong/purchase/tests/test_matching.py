"""Supplier invoices against purchase orders: drafting from what was received, the 3-way match,
the veto on posting a mismatch, the buyer's acceptance of a variance through the mismatch
process, the billed quantities on post / cancel / credit note, and the supplier payment run."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from xietong.finance.invoicing import (
    invoice_cancel,
    invoice_create,
    invoice_post,
    invoice_update,
)
from xietong.finance.models import Account, Entry, Invoice, Journal, Line
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.party.models import TimelineEntry
from xietong.purchase import matching, orders, receiving
from xietong.purchase.models import BilledLine, InvoiceMatch, PurchaseOrder
from xietong.purchase.tests.factories import D, buying, material, supplier, today
from xietong.workflow.models import ProcessInstance, Task
from xietong.workflow.services import task_complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return buying(company_a)


def _approved(company, vendor, lines):  # type: ignore[no-untyped-def]
    order = orders.order_create(company=company, actor=None, party=vendor, lines=lines)
    orders.order_submit(order=order, actor=None)
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.APPROVED
    return order


def _received(company, vendor, product, quantity="10", price="40", got=None):  # type: ignore[no-untyped-def]
    order = _approved(company, vendor, [{"product": product, "quantity": quantity,
                                         "unit_price": price}])  # fmt: skip
    (line,) = orders.order_lines(order)
    receiving.order_receive(order=order, actor=None,
                            lines=[{"line": line, "quantity": got or quantity}])  # fmt: skip
    line.refresh_from_db()
    return order, line


def _balance(company, code) -> D:  # type: ignore[no-untyped-def]
    sums = Line.unscoped.filter(
        company=company, account__code=code, entry__state=Entry.State.POSTED
    ).aggregate(d=Sum("debit"), c=Sum("credit"))
    return (D(sums["d"] or 0) - D(sums["c"] or 0)).quantize(D("0.01"))


def _specs(invoice, **changes):  # type: ignore[no-untyped-def]
    """The draft's lines as `invoice_update` takes them, with `changes` applied to all."""
    return [
        {
            "product": row.product, "description": row.description, "account": row.account,
            "quantity": row.quantity, "uom": row.uom, "unit_price": row.unit_price,
            "discount": row.discount, "taxes": list(row.taxes.all()), **changes,
        }
        for row in invoice.lines.order_by("sequence")
    ]  # fmt: skip


def _writes() -> tuple[int, ...]:
    return (Entry.unscoped.count(), BilledLine.objects.count(), InvoiceMatch.unscoped.count(),
            ProcessInstance.unscoped.count(), Invoice.unscoped.count())  # fmt: skip


# --- drafting ---------------------------------------------------------------------------------


def test_invoice_from_orders_bills_what_was_received(b, company_a, users_a):
    steel, bolt = material(company_a, "50"), material(company_a, "2")
    vendor = supplier(company_a)
    order = _approved(company_a, vendor, [
        {"product": steel, "quantity": "10", "unit_price": "40", "discount": "10"},
        {"product": bolt, "quantity": "100", "unit_price": "1.5"},
    ])  # fmt: skip
    first, second = orders.order_lines(order)
    receiving.order_receive(
        order=order,
        actor=None,
        lines=[{"line": first, "quantity": "6"}, {"line": second, "quantity": "100"}],
    )
    invoice = matching.invoice_from_orders(company=company_a, actor=users_a["accountant"],
                                           orders=[order], reference="SUP-1")  # fmt: skip
    assert invoice.kind == Invoice.Kind.SUPPLIER_INVOICE and invoice.state == Invoice.State.DRAFT
    assert (invoice.party, invoice.reference, invoice.origin) == (vendor, "SUP-1", order.number)
    rows = list(invoice.lines.order_by("sequence"))
    assert [(r.product, r.quantity, r.unit_price, r.discount) for r in rows] == [
        (steel, D(6), D(40), D(10)), (bolt, D(100), D("1.5"), D(0))
    ]  # fmt: skip
    assert {r.account.code for r in rows} == {"1402"}  # GR/IR, as the receipt booked
    assert [t.code for t in rows[0].taxes.all()] == ["VAT13-P"]
    assert invoice.amount_untaxed == D("366.00")  # 6 × 36 + 150
    links = {link.order_line_id: link.quantity for link in BilledLine.objects.all()}
    assert links == {first.pk: D(6), second.pk: D(100)}
    # What is on a draft is not billed again.
    with pytest.raises(ValidationError) as caught:
        matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    assert "orders" in caught.value.message_dict
    receiving.order_receive(order=order, actor=None, lines=[{"line": first, "quantity": "4"}])
    again = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    assert [(r.product, r.quantity) for r in again.lines.all()] == [(steel, D(4))]
    assert (
        TimelineEntry.unscoped.filter(
            party=vendor, kind="purchase", summary__contains="Supplier invoice drafted"
        ).count()
        == 2
    )


def test_invoice_from_orders_refusals_write_nothing(b, company_a, company_b):
    buying(company_b)
    steel = material(company_a)
    vendor, other = supplier(company_a), supplier(company_a)
    draft = orders.order_create(
        company=company_a,
        actor=None,
        party=vendor,
        lines=[{"product": steel, "quantity": "1", "unit_price": "5"}],
    )
    nothing = _approved(company_a, vendor, [{"product": steel, "quantity": "1",
                                             "unit_price": "5"}])  # fmt: skip
    mine, _line = _received(company_a, vendor, steel)
    theirs, _line = _received(company_a, other, steel)
    foreign, _line = _received(company_b, supplier(company_b), material(company_b))
    before = _writes()
    for given in ([], [draft], [nothing], [mine, theirs], [foreign]):
        with pytest.raises(ValidationError) as caught:
            matching.invoice_from_orders(company=company_a, actor=None, orders=given)
        assert "orders" in caught.value.message_dict, given
    assert _writes() == before


# --- the match and the posting veto ----------------------------------------------------------


def test_match_ok_posts_and_gr_ir_nets_to_zero(b, company_a, users_a):
    steel = material(company_a, "50")
    vendor = supplier(company_a)
    order, line = _received(company_a, vendor, steel, "10", "40")
    assert _balance(company_a, "1402") == D("-400.00")  # received, not invoiced
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    match = matching.invoice_match(invoice=invoice, actor=users_a["accountant"])
    assert (match.state, match.problems, match.process_id) == (InvoiceMatch.State.MATCHED, [], None)
    invoice_post(invoice=invoice, actor=users_a["accountant"])
    assert invoice.state == Invoice.State.POSTED
    assert _balance(company_a, "1402") == D("0.00")
    assert _balance(company_a, "1405") == D("400.00")
    assert _balance(company_a, "22210101") == D("52.00")
    assert _balance(company_a, "2202") == D("-452.00")
    line.refresh_from_db()
    assert line.qty_billed == D(10)
    assert TimelineEntry.unscoped.filter(party=vendor, kind="purchase",
                                         summary__contains="matches").exists()  # fmt: skip
    assert_ledger_sound([company_a])


def test_price_above_tolerance_blocks_posting_until_corrected(b, company_a, users_a):
    steel = material(company_a, "50")
    vendor = supplier(company_a)
    order, line = _received(company_a, vendor, steel, "10", "40")
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    invoice_update(invoice=invoice, actor=None, lines=_specs(invoice, unit_price=D("40.80")))
    assert matching.invoice_match(invoice=invoice).state == InvoiceMatch.State.MATCHED  # 2 %
    invoice_update(invoice=invoice, actor=None, lines=_specs(invoice, unit_price=D("41")))
    match = matching.invoice_match(invoice=invoice, actor=users_a["accountant"])
    assert match.state == InvoiceMatch.State.MISMATCH
    assert match.problems == [{"line": 1, "description": steel.name, "order_line": line.pk,
                               "kind": "price", "expected": "40", "invoiced": "41"}]  # fmt: skip
    (task,) = Task.unscoped.filter(instance=match.process, status=Task.Status.OPEN)
    assert (task.role, task.name) == ("buyer", "Resolve the supplier invoice mismatch")
    assert task.outcomes == ["accepted", "rejected"] and task.due_at
    # Matching again keeps the one open process.
    assert matching.invoice_match(invoice=invoice).process_id == match.process_id
    assert ProcessInstance.unscoped.filter(definition__key="supplier_invoice_mismatch").count() == 1
    before = _writes()
    with pytest.raises(ValidationError) as caught:
        invoice_post(invoice=invoice, actor=users_a["accountant"])
    assert "price 41, ordered at 40" in str(caught.value)
    assert _writes() == before
    invoice.refresh_from_db()
    assert invoice.state == Invoice.State.DRAFT and invoice.number == ""
    line.refresh_from_db()
    assert line.qty_billed == D(0)
    # Corrected: matches again (the lines were replaced, their links restored) and posts.
    invoice_update(invoice=invoice, actor=None, lines=_specs(invoice, unit_price=D("40")))
    assert matching.invoice_match(invoice=invoice).state == InvoiceMatch.State.MATCHED
    invoice_post(invoice=invoice, actor=users_a["accountant"])
    line.refresh_from_db()
    assert line.qty_billed == D(10) and _balance(company_a, "1402") == D("0.00")
    assert TimelineEntry.unscoped.filter(party=vendor, kind="purchase",
                                         summary__contains="does not match").exists()  # fmt: skip


def test_a_variance_accepted_by_the_buyer_lets_the_invoice_post(
    b, company_a, users_a, django_capture_on_commit_callbacks
):
    steel = material(company_a, "50")
    vendor = supplier(company_a)
    order, line = _received(company_a, vendor, steel, "10", "40")
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    invoice_update(invoice=invoice, actor=None, lines=_specs(invoice, unit_price=D("42")))
    with django_capture_on_commit_callbacks(execute=True):
        match = matching.invoice_match(invoice=invoice)
    (task,) = Task.unscoped.filter(instance=match.process, status=Task.Status.OPEN)
    buyer = users_a["buyer"]
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=task, actor=buyer, outcome="accepted", comment="Freight surcharge")
    match.refresh_from_db()
    assert match.state == InvoiceMatch.State.ACCEPTED
    assert (match.resolved_by, match.resolution) == (buyer, "Freight surcharge")
    # Matching again keeps the acceptance while the problems are those accepted.
    assert matching.invoice_match(invoice=invoice).state == InvoiceMatch.State.ACCEPTED
    invoice_post(invoice=invoice, actor=users_a["accountant"])
    assert invoice.state == Invoice.State.POSTED
    # The price variance stays on GR/IR (the receipt was valued at the order's price).
    assert _balance(company_a, "1402") == D("20.00")
    assert_ledger_sound([company_a])


def test_a_rejected_variance_keeps_the_mismatch_and_a_new_problem_needs_a_new_acceptance(
    b, company_a, users_a, django_capture_on_commit_callbacks
):
    steel = material(company_a, "50")
    order, _line = _received(company_a, supplier(company_a), steel, "10", "40")
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    invoice_update(invoice=invoice, actor=None, lines=_specs(invoice, unit_price=D("45")))
    match = matching.invoice_match(invoice=invoice)
    (task,) = Task.unscoped.filter(instance=match.process, status=Task.Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=task, actor=users_a["buyer"], outcome="rejected", comment="Ask again")
    match.refresh_from_db()
    assert match.state == InvoiceMatch.State.MISMATCH and match.resolution == "Ask again"
    with pytest.raises(ValidationError):
        invoice_post(invoice=invoice, actor=None)
    # A new match starts a new process (the first one ended).
    again = matching.invoice_match(invoice=invoice)
    assert again.process_id != match.process_id
    (task,) = Task.unscoped.filter(instance=again.process, status=Task.Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=task, actor=users_a["buyer"], outcome="accepted", comment="OK")
    # The price changes again after the acceptance: not accepted any more.
    invoice_update(invoice=invoice, actor=None, lines=_specs(invoice, unit_price=D("50")))
    with pytest.raises(ValidationError):
        invoice_post(invoice=invoice, actor=None)
    assert matching.invoice_match(invoice=invoice).state == InvoiceMatch.State.MISMATCH


def test_billing_more_than_received_is_refused(b, company_a):
    steel = material(company_a, "50")
    order, line = _received(company_a, supplier(company_a), steel, "10", "40", got="6")
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    invoice_update(invoice=invoice, actor=None, lines=_specs(invoice, quantity=D("8")))
    match = matching.invoice_match(invoice=invoice)
    assert match.state == InvoiceMatch.State.MISMATCH
    assert [(p["kind"], p["expected"], p["invoiced"]) for p in match.problems] == [
        ("quantity", "6", "8")
    ]
    before = _writes()
    with pytest.raises(ValidationError) as caught:
        invoice_post(invoice=invoice, actor=None)
    assert "8 billed, 6 received" in str(caught.value)
    assert _writes() == before
    line.refresh_from_db()
    assert line.qty_billed == D(0)


def test_a_second_invoice_of_the_same_receipt_is_a_quantity_mismatch(b, company_a):
    steel = material(company_a, "50")
    order, line = _received(company_a, supplier(company_a), steel, "10", "40")
    first = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    invoice_post(invoice=first, actor=None)
    # A hand-made duplicate linked to the same order line (e.g. the supplier billed twice).
    row = first.lines.get()
    dup = invoice_create(
        company=company_a,
        actor=None,
        kind=Invoice.Kind.SUPPLIER_INVOICE,
        party=first.party,
        date=first.date,
        source_type="purchase.order",
        source_id=order.pk,
        origin=order.number,
        lines=[
            {
                "product": steel,
                "quantity": D(10),
                "unit_price": D(40),
                "account": row.account,
                "taxes": list(row.taxes.all()),
            }
        ],
    )
    match = matching.invoice_match(invoice=dup)  # relinked to the order line: nothing left
    assert match.state == InvoiceMatch.State.MISMATCH
    assert {p["kind"] for p in match.problems} == {"quantity"}
    with pytest.raises(ValidationError):
        invoice_post(invoice=dup, actor=None)
    line.refresh_from_db()
    assert line.qty_billed == D(10)


def test_unlinked_stock_lines_of_an_order_invoice_are_problems(b, company_a):
    steel, other = material(company_a, "50"), material(company_a, "9")
    order, _line = _received(company_a, supplier(company_a), steel, "10", "40")
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    specs = _specs(invoice)
    specs.append({"product": other, "quantity": D(1), "unit_price": D(9),
                  "account": specs[0]["account"]})  # fmt: skip
    specs.append({"description": "Handling fee", "quantity": D(1), "unit_price": D(5)})
    invoice_update(invoice=invoice, actor=None, lines=specs)
    match = matching.invoice_match(invoice=invoice)
    assert [(p["line"], p["kind"]) for p in match.problems] == [(2, "unlinked")]


def test_match_refuses_what_is_not_a_draft_supplier_invoice(b, company_a):
    order, _line = _received(company_a, supplier(company_a), material(company_a), "1", "5")
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    invoice_post(invoice=invoice, actor=None)
    with pytest.raises(ValidationError) as caught:
        matching.invoice_match(invoice=invoice)
    assert "invoice" in caught.value.message_dict


# --- billed quantities ------------------------------------------------------------------------


def test_billed_quantity_follows_post_cancel_and_credit_notes(b, company_a):
    steel = material(company_a, "50")
    order, line = _received(company_a, supplier(company_a), steel, "10", "40")
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    line.refresh_from_db()
    assert line.qty_billed == D(0)  # a draft bills nothing yet
    invoice_post(invoice=invoice, actor=None)
    line.refresh_from_db()
    assert line.qty_billed == D(10)
    credit = matching.invoice_credit_billed(
        invoice=invoice, actor=None, post=False, lines=[{"line": line, "quantity": D(3)}]
    )
    assert credit.kind == Invoice.Kind.SUPPLIER_CREDIT and credit.state == Invoice.State.DRAFT
    assert BilledLine.objects.get(invoice_line__invoice=credit).quantity == D(-3)
    assert credit.lines.get().quantity == D(3)
    line.refresh_from_db()
    assert line.qty_billed == D(10)  # a draft credit note credits nothing yet
    invoice_post(invoice=credit, actor=None)
    line.refresh_from_db()
    assert line.qty_billed == D(7)
    with pytest.raises(ValidationError):
        matching.invoice_credit_billed(
            invoice=invoice, actor=None, lines=[{"line": line, "quantity": D(11)}]
        )
    with pytest.raises(ValidationError):  # finance: no more credited than invoiced
        matching.invoice_credit_billed(invoice=invoice, actor=None)
    line.refresh_from_db()
    assert line.qty_billed == D(7)
    # Cancelling a posted invoice takes its quantity off; it can be billed again.
    other, other_line = _received(company_a, supplier(company_a), steel, "5", "40")
    billed = matching.invoice_from_orders(company=company_a, actor=None, orders=[other])
    invoice_post(invoice=billed, actor=None)
    other_line.refresh_from_db()
    assert other_line.qty_billed == D(5)
    invoice_cancel(invoice=billed, actor=None)
    other_line.refresh_from_db()
    assert other_line.qty_billed == D(0)
    again = matching.invoice_from_orders(company=company_a, actor=None, orders=[other])
    assert again.lines.get().quantity == D(5)
    assert_ledger_sound([company_a])


# --- paying suppliers -------------------------------------------------------------------------


def test_payment_run_pays_the_due_supplier_invoices_only(b, company_a, users_a):
    steel = material(company_a, "50")
    vendor, other = supplier(company_a), supplier(company_a)
    day = today()
    posted = []
    for who, when in ((vendor, day - dt.timedelta(days=5)), (vendor, day + dt.timedelta(days=30)),
                      (other, day - dt.timedelta(days=1))):  # fmt: skip
        order, _line = _received(company_a, who, steel, "2", "10")
        invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order],
                                               date=when)  # fmt: skip
        posted.append(invoice_post(invoice=invoice, actor=None))
    draft_order, _line = _received(company_a, vendor, steel, "1", "10")
    matching.invoice_from_orders(company=company_a, actor=None, orders=[draft_order],
                                 date=day - dt.timedelta(days=9))  # fmt: skip
    bank = Journal.unscoped.filter(company=company_a, kind=Journal.Kind.BANK).order_by("pk").first()
    only = matching.supplier_payment_run(
        company=company_a, journal=bank, date=day, actor=users_a["accountant"], suppliers=[other]
    )
    assert len(only) == 1
    payments = matching.supplier_payment_run(company=company_a, journal=bank, date=day,
                                             actor=users_a["accountant"])  # fmt: skip
    assert len(payments) == 1
    for invoice in posted:
        invoice.refresh_from_db()
    assert [i.payment_state for i in posted] == [
        Invoice.PaymentState.PAID, Invoice.PaymentState.NOT_PAID, Invoice.PaymentState.PAID
    ]  # fmt: skip
    assert matching.supplier_payment_run(company=company_a, journal=bank, date=day,
                                         actor=None) == []  # fmt: skip
    late = matching.supplier_payment_run(
        company=company_a, journal=bank, date=day, due_by=day + dt.timedelta(days=30), actor=None
    )
    assert len(late) == 1
    assert _balance(company_a, "2202") == D("0.00")
    assert Account.unscoped.filter(company=company_a, code="2202").exists()
    assert_ledger_sound([company_a])


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_invoices_of_one_receipt_posted_at_once_only_one_posts(company_a, monkeypatch):
    """The second posting waits for the first (finance locks the invoices' company row; the
    veto also locks the order lines before matching) and then sees the quantity it billed."""
    import contextlib
    import threading

    from django.db import connection

    buying(company_a)
    steel = material(company_a, "50")
    order, line = _received(company_a, supplier(company_a), steel, "10", "40")
    first = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    second = invoice_create(
        company=company_a, actor=None, kind=Invoice.Kind.SUPPLIER_INVOICE, party=first.party,
        date=first.date, source_type="purchase.order", source_id=order.pk, origin=order.number,
        lines=[{"product": steel, "quantity": D(10), "unit_price": D(40),
                "account": first.lines.get().account}],
    )  # fmt: skip
    BilledLine.objects.create(order_line=line, invoice_line=second.lines.get(), quantity=D(10))
    barrier = threading.Barrier(2)
    original = matching._problems

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        # both would match before either posted, were the order lines not locked
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=3)
        return original(*args, **kwargs)

    monkeypatch.setattr(matching, "_problems", slow)
    outcomes: list[str] = []

    def post(invoice) -> None:  # type: ignore[no-untyped-def]
        try:
            invoice_post(invoice=invoice, actor=None)
            outcomes.append("posted")
        except ValidationError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(inv,)) for inv in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["posted", "refused"]
    line.refresh_from_db()
    assert line.qty_billed == D(10)
