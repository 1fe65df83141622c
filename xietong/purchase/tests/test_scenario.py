"""Procure to pay as the people who do it: a planner requests bolts and inspected valves, an
executive approves the requisition (the planner may not), the buyer asks three suppliers for
quotations and awards the valves across two of them, the executive and finance approve the
large order and the purchasing lead the small one, the warehouse clerk receives part of the
valves and rejects some at inspection, the accountant's supplier invoice is blocked by a price
above the order, the buyer rejects the variance, the corrected invoice matches and posts, and the
payment run pays it. The ledger, the stock and the order lines' quantities are checked after
every step."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Sum

from xietong.finance.invoicing import invoice_post, invoice_update
from xietong.finance.models import Entry, Invoice, Journal, Line
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.models import Quant
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.party.models import TimelineEntry
from xietong.purchase import matching, orders, receiving, requisitions, rfqs, sending
from xietong.purchase.models import InvoiceMatch, PurchaseOrder, Requisition, Rfq
from xietong.purchase.tests.factories import D, buying, material, supplier, today
from xietong.purchase.tests.invariants import assert_purchase_sound
from xietong.workflow.models import Task
from xietong.workflow.services import task_complete

pytestmark = pytest.mark.django_db


def sound(company) -> None:  # type: ignore[no-untyped-def]
    assert_ledger_sound([company])
    assert_stock_sound([company])
    assert_purchase_sound(company)


def balance(company, code: str) -> D:  # type: ignore[no-untyped-def]
    sums = Line.unscoped.filter(
        company=company, account__code=code, entry__state=Entry.State.POSTED
    ).aggregate(d=Sum("debit"), c=Sum("credit"))
    return (D(sums["d"] or 0) - D(sums["c"] or 0)).quantize(D("0.01"))


def on_hand(product, location) -> D:  # type: ignore[no-untyped-def]
    return sum((q.quantity for q in Quant.unscoped.filter(product=product, location=location)),
               D(0))  # fmt: skip


def test_procure_to_pay_as_requester_buyer_approvers_clerk_and_accountant(
    company_a, users_a, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    planner, buyer, executive = users_a["planner"], users_a["buyer"], users_a["executive"]
    clerk, accountant = users_a["warehouse_clerk"], users_a["accountant"]
    b = buying(company_a)
    bolt = material(company_a, "12", name="Hex bolt M8")
    valve = material(company_a, "2500", name="Ball valve DN50", inspection_required=True)
    vendors = [supplier(company_a, name=n, email=f"{n.split()[0].lower()}@example.com")
               for n in ("Alpha Valves", "Beta Flow", "Gamma Parts")]  # fmt: skip
    alpha, beta, gamma = vendors
    need = today() + dt.timedelta(days=20)

    # 1. the planner requests; above the limit someone else must approve
    requisition = requisitions.requisition_create(
        company=company_a, actor=planner,
        lines=[{"product": bolt, "quantity": "100", "reason": "Assembly line 3", "need_date": need},
               {"product": valve, "quantity": "50", "reason": "Pump skids for order 77",
                "need_date": need}],
    )  # fmt: skip
    requisition = requisitions.requisition_submit(requisition=requisition, actor=planner)
    assert requisition.state == Requisition.State.TO_APPROVE
    with pytest.raises(PermissionDenied):
        requisitions.requisition_decide(requisition=requisition, actor=planner, approved=True)
    requisitions.requisition_decide(requisition=requisition, actor=executive, approved=True)
    sound(company_a)

    # 2. the buyer asks three suppliers; two answer, one declines
    rfq = rfqs.rfq_create(company=company_a, actor=buyer,
                          requisition_lines=list(requisition.lines.all()), suppliers=vendors)  # fmt: skip
    rfqs.rfq_send(rfq=rfq, actor=buyer)
    assert sorted(m.to[0] for m in mail.outbox) == [
        "alpha@example.com", "beta@example.com", "gamma@example.com"]  # fmt: skip
    bolts, valves = rfq.lines.order_by("sequence")
    inv = {i.supplier_id: i for i in rfq.suppliers.all()}
    rfqs.bids_record(invitation=inv[alpha.pk], actor=buyer, reference="A-17", bids=[
        {"line": bolts, "unit_price": "12.50", "lead_time_days": 5},
        {"line": valves, "unit_price": "2600", "quantity": "40", "lead_time_days": 10}])  # fmt: skip
    rfqs.bids_record(invitation=inv[beta.pk], actor=buyer, bids=[
        {"line": bolts, "unit_price": "12.00", "lead_time_days": 7},
        {"line": valves, "unit_price": "2650", "lead_time_days": 14}])  # fmt: skip
    rfqs.invitation_decline(invitation=inv[gamma.pk], actor=buyer, reason="No capacity")
    compared = {c.line.pk: c for c in rfqs.rfq_comparison(rfq=rfq)}
    assert compared[bolts.pk].recommended.supplier == beta
    bid = {(r.supplier.pk, c.line.pk): r.bid for c in compared.values() for r in c.bids}
    big, small = rfqs.rfq_award(rfq=rfq, actor=buyer, awards=[
        (bid[alpha.pk, valves.pk], "40"), (bid[beta.pk, valves.pk], "10"),
        (bid[beta.pk, bolts.pk], "100")])  # fmt: skip
    assert (big.party, small.party) == (alpha, beta)
    assert big.amount_untaxed == D(104000) and small.amount_untaxed == D(27700)
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.DONE
    assert Rfq.unscoped.get(pk=rfq.pk).state == Rfq.State.AWARDED

    # 3. approval by amount: the executive and finance for the large order, the lead for the small
    with django_capture_on_commit_callbacks(execute=True):
        big = orders.order_submit(order=big, actor=buyer)
        small = orders.order_submit(order=small, actor=buyer)
    tasks = {t.lane: t for t in Task.unscoped.filter(instance=big.approval_process,
                                                     status=Task.Status.OPEN)}  # fmt: skip
    assert set(tasks) == {"executive", "accountant"}
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=tasks["executive"], actor=executive, outcome="approved")
        task_complete(task=tasks["accountant"], actor=accountant, outcome="approved")
        (lead_task,) = Task.unscoped.filter(instance=small.approval_process,
                                            status=Task.Status.OPEN)  # fmt: skip
        task_complete(task=lead_task, actor=buyer, outcome="approved")
    big.refresh_from_db()
    small.refresh_from_db()
    assert big.state == small.state == PurchaseOrder.State.APPROVED
    sending.order_send(order=big, actor=buyer)
    (valve_line,) = orders.order_lines(big)
    orders.order_confirm(order=big, actor=buyer, supplier_reference="SC-A-17",
                         promised={valve_line.pk: big.date})  # fmt: skip
    sound(company_a)

    # 4. the clerk receives 25 valves, rejects 3 cracked ones
    receiving.order_receive(order=big, actor=clerk, lines=[
        {"line": valve_line, "quantity": "25", "rejected": "3", "reason": "Cracked body"}])  # fmt: skip
    valve_line.refresh_from_db()
    assert (valve_line.qty_received, valve_line.qty_rejected) == (D(22), D(3))
    assert on_hand(valve, b.stock) == D(22)
    assert balance(company_a, "1405") == D(57200)  # stock at the order's price
    assert balance(company_a, "1402") == D(-57200)  # received, not invoiced (GR/IR)
    sound(company_a)

    # 5. the supplier bills 2,700 a valve: blocked, the buyer is asked
    invoice = matching.invoice_from_orders(company=company_a, actor=accountant, orders=[big],
                                           reference="FP-A-0001")  # fmt: skip
    (line,) = invoice.lines.all()
    invoice_update(invoice=invoice, actor=accountant, lines=[{
        "product": valve, "account": line.account, "quantity": line.quantity,
        "unit_price": "2700", "taxes": list(line.taxes.all())}])  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        match = matching.invoice_match(invoice=invoice, actor=accountant)
    assert match.state == InvoiceMatch.State.MISMATCH
    with pytest.raises(ValidationError):
        invoice_post(invoice=invoice, actor=accountant)
    assert Invoice.unscoped.get(pk=invoice.pk).state == Invoice.State.DRAFT
    (task,) = Task.unscoped.filter(instance=match.process, status=Task.Status.OPEN)
    assert task.lane == "buyer"
    sound(company_a)

    # 6. the buyer rejects the variance; the supplier corrects its invoice; it matches and posts
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=task, actor=buyer, outcome="rejected",
                      comment="Ordered at 2,600: ask for a corrected invoice")  # fmt: skip
    assert InvoiceMatch.unscoped.get(pk=match.pk).state == InvoiceMatch.State.MISMATCH
    invoice_update(invoice=invoice, actor=accountant, lines=[{
        "product": valve, "account": line.account, "quantity": line.quantity,
        "unit_price": "2600", "taxes": list(line.taxes.all())}])  # fmt: skip
    assert matching.invoice_match(invoice=invoice, actor=accountant).state == (
        InvoiceMatch.State.MATCHED
    )
    invoice = invoice_post(invoice=invoice, actor=accountant)
    valve_line.refresh_from_db()
    assert valve_line.qty_billed == D(22)
    assert balance(company_a, "1402") == D(0)  # what was received is invoiced
    assert balance(company_a, "2202") == -invoice.amount_total
    sound(company_a)

    # 7. the payment run pays it
    bank = Journal.unscoped.filter(company=company_a, kind=Journal.Kind.BANK).order_by("pk")[0]
    (payment,) = matching.supplier_payment_run(company=company_a, journal=bank,
                                               date=invoice.date, actor=accountant,
                                               due_by=invoice.date + dt.timedelta(days=120),
                                               suppliers=[alpha])  # fmt: skip
    invoice.refresh_from_db()
    assert invoice.amount_residual == 0 and balance(company_a, "2202") == D(0)
    assert payment.amount == invoice.amount_total
    kinds = set(TimelineEntry.unscoped.filter(party=alpha).values_list("kind", flat=True))
    assert {"rfq", "purchase", "receipt"} <= kinds
    sound(company_a)
