"""Quotations and orders through the services: pricing, approval, versions, credit hold,
confirmation with ATP and reservation, delivery, invoicing, cancellation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from xietong.finance.invoicing import invoice_cancel, invoice_post
from xietong.finance.models import Invoice
from xietong.inventory import pickings as picking_services
from xietong.inventory import stock
from xietong.inventory.models import Move, Picking
from xietong.party.models import CustomerGroup, TimelineEntry
from xietong.sales import billing, documents
from xietong.sales.models import Quotation, SalesOrder
from xietong.sales.tests.factories import D, customer, item, receive, shop
from xietong.workflow.models import Task
from xietong.workflow.services import task_complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    return django_capture_on_commit_callbacks


@pytest.fixture
def s(company_a):  # type: ignore[no-untyped-def]
    return shop(company_a)


def _deliver_all(order: SalesOrder) -> None:
    for picking in documents.order_pickings(order):
        if picking.state == Picking.State.READY:
            picking_services.picking_done(picking=picking)


def test_quotation_is_priced_from_the_price_list_with_tax(s, company_a):
    bike = item(company_a, "1000")
    buyer = customer(company_a)
    q = documents.quotation_create(company=company_a, actor=None, party=buyer,
                                   lines=[{"product": bike, "quantity": D(2)}])  # fmt: skip
    line = q.lines.get()
    assert line.unit_price == D(1000) and line.list_price == D(1000)
    assert q.amount_untaxed == D(2000) and q.amount_tax == D(260) and q.amount_total == D(2260)
    assert q.number and q.state == Quotation.State.DRAFT
    assert TimelineEntry.unscoped.filter(party=buyer, kind="quotation").count() == 1


def test_bad_lines_write_nothing(s, company_a, company_b):
    buyer = customer(company_a)
    foreign = item(company_b) if False else None
    before = Quotation.unscoped.count()
    for lines in ([], [{"product": None}], [{"product": item(company_a), "quantity": D(-1)}],
                  [{"product": item(company_a), "discount": D(120)}],
                  [{"product": item(company_a), "quantity": 1.5}]):  # fmt: skip
        with pytest.raises(ValidationError):
            documents.quotation_create(company=company_a, actor=None, party=buyer, lines=lines)
    assert Quotation.unscoped.count() == before and foreign is None


def test_discount_above_the_group_limit_needs_approval(s, company_a, users_a, on_commit):
    group = CustomerGroup.unscoped.create(company=company_a, code="DLR", name="Dealers",
                                          max_discount_percent=D(5))  # fmt: skip
    buyer = customer(company_a, customer_group=group)
    q = documents.quotation_create(
        company=company_a, actor=users_a["sales_rep"], party=buyer,
        lines=[{"product": item(company_a, "500"), "quantity": D(4), "discount": D(12)}],
    )  # fmt: skip
    with pytest.raises(ValidationError, match="approval"):
        documents.quotation_mark_sent(quotation=q, actor=users_a["sales_rep"])
    q = documents.quotation_submit(quotation=q, actor=users_a["sales_rep"])
    assert q.state == Quotation.State.TO_APPROVE
    task = Task.unscoped.get(instance=q.approval_process, status=Task.Status.OPEN)
    with on_commit(execute=True):
        task_complete(task=task, actor=users_a["sales_manager"], outcome="rejected",
                      comment="Too generous")  # fmt: skip
    q.refresh_from_db()
    assert q.state == Quotation.State.DRAFT and q.approval == Quotation.Approval.REJECTED
    assert q.approval_comment == "Too generous"
    q = documents.quotation_update(
        quotation=q, actor=None,
        lines=[{"product": q.lines.get().product, "quantity": D(4), "discount": D(8)}],
    )  # fmt: skip
    q = documents.quotation_submit(quotation=q, actor=users_a["sales_rep"])
    task = Task.unscoped.get(instance=q.approval_process, status=Task.Status.OPEN)
    with on_commit(execute=True):
        task_complete(task=task, actor=users_a["sales_manager"], outcome="approved")
    q.refresh_from_db()
    assert q.state == Quotation.State.APPROVED
    q = documents.quotation_mark_sent(quotation=q, actor=users_a["sales_rep"])
    assert q.state == Quotation.State.SENT


def test_revising_a_sent_quotation_keeps_the_history(s, company_a):
    buyer = customer(company_a)
    q = documents.quotation_create(company=company_a, actor=None, party=buyer,
                                   lines=[{"product": item(company_a), "quantity": D(1)}])  # fmt: skip
    q = documents.quotation_mark_sent(quotation=q, actor=None)
    v2 = documents.quotation_revise(quotation=q, actor=None)
    q.refresh_from_db()
    assert q.state == Quotation.State.REVISED and v2.version == 2 and v2.number == q.number
    assert v2.previous == q and v2.lines.count() == 1 and q.lines.count() == 1
    with pytest.raises(ValidationError):
        documents.quotation_update(quotation=q, actor=None, notes="late change")


def test_order_to_cash(s, company_a):
    bike, helmet = item(company_a, "1000", cost="600"), item(company_a, "50", cost="20")
    receive(bike, 5, s.stock, "600")
    receive(helmet, 10, s.stock, "20")
    buyer = customer(company_a)
    q = documents.quotation_create(company=company_a, actor=None, party=buyer, lines=[
        {"product": bike, "quantity": D(3)}, {"product": helmet, "quantity": D(3)}])  # fmt: skip
    documents.quotation_mark_sent(quotation=q, actor=None)
    order = documents.quotation_accept(quotation=q, actor=None)
    assert order.state == SalesOrder.State.CONFIRMED
    assert order.amount_total == q.amount_total == D("3559.50")
    assert all(line.promise_date for line in order.lines.all())
    assert stock.available(product=bike, location=s.stock) == D(2)
    _deliver_all(order)
    assert [line.qty_delivered for line in order.lines.order_by("sequence")] == [D(3), D(3)]
    invoice = billing.order_invoice(order=order, actor=None, post=True)
    assert invoice.amount_total == order.amount_total and invoice.state == Invoice.State.POSTED
    order.refresh_from_db()
    assert order.state == SalesOrder.State.DONE
    with pytest.raises(ValidationError, match="Nothing to invoice"):
        billing.order_invoice(order=order, actor=None)


def test_partial_delivery_then_invoice_on_delivery(s, company_a):
    bike = item(company_a, "1000")
    receive(bike, 2, s.stock)
    order = documents.order_create(company=company_a, actor=None, party=customer(company_a),
                                   lines=[{"product": bike, "quantity": D(5)}])  # fmt: skip
    order = documents.order_confirm(order=order, actor=None)
    picking = documents.order_pickings(order)[0]
    move = Move.unscoped.get(picking=picking)
    picking_services.picking_done(picking=picking, quantities={move.pk: D(2)})
    line = order.lines.get()
    assert line.qty_delivered == D(2)
    backorder = Picking.unscoped.exclude(pk=picking.pk).get(source_id=order.pk)
    assert backorder.state in (Picking.State.WAITING, Picking.State.READY, "confirmed")
    invoice = billing.order_invoice(order=order, actor=None)
    assert invoice.lines.get().quantity == D(2)
    line.refresh_from_db()
    assert line.qty_invoiced == D(2)
    invoice_post(invoice=invoice, actor=None)
    invoice_cancel(invoice=invoice, actor=None)
    line.refresh_from_db()
    assert line.qty_invoiced == 0


def test_down_payment_is_deducted_from_the_final_invoice(s, company_a):
    bike = item(company_a, "1000")
    receive(bike, 2, s.stock)
    order = documents.order_create(company=company_a, actor=None, party=customer(company_a),
                                   lines=[{"product": bike, "quantity": D(2)}],
                                   invoice_policy="order")  # fmt: skip
    order = documents.order_confirm(order=order, actor=None)
    advance = billing.order_down_payment(order=order, actor=None, percent=D(30))
    assert advance.amount_untaxed == D(600) and advance.amount_total == D(678)
    final = billing.order_invoice(order=order, actor=None, post=True)
    assert final.amount_untaxed == D(1400) and final.amount_total == D(1582)
    assert advance.amount_total + final.amount_total == order.amount_total


def test_credit_limit_holds_the_order_until_approved(s, company_a, users_a, on_commit):
    bike = item(company_a, "1000")
    receive(bike, 5, s.stock)
    buyer = customer(company_a)
    buyer.credit_limit = D(1500)
    buyer.save()
    order = documents.order_create(company=company_a, actor=users_a["sales_rep"], party=buyer,
                                   lines=[{"product": bike, "quantity": D(2)}])  # fmt: skip
    order = documents.order_confirm(order=order, actor=users_a["sales_rep"])
    assert order.state == SalesOrder.State.HELD and "1500" in order.hold_reason
    assert not Move.unscoped.filter(source_type=documents.LINE_SOURCE).exists()
    task = Task.unscoped.get(instance=order.credit_process, status=Task.Status.OPEN)
    with on_commit(execute=True):
        task_complete(task=task, actor=users_a["sales_manager"], outcome="approved")
    order.refresh_from_db()
    assert order.state == SalesOrder.State.CONFIRMED and order.credit_approved
    assert stock.available(product=bike, location=s.stock) == D(3)


def test_cancelling_releases_reservations_and_refuses_after_shipping(s, company_a):
    bike = item(company_a, "1000")
    receive(bike, 4, s.stock)
    buyer = customer(company_a)
    order = documents.order_confirm(order=documents.order_create(
        company=company_a, actor=None, party=buyer,
        lines=[{"product": bike, "quantity": D(3)}]), actor=None)  # fmt: skip
    assert stock.available(product=bike, location=s.stock) == D(1)
    documents.order_cancel(order=order, actor=None, reason="Customer changed mind")
    assert stock.available(product=bike, location=s.stock) == D(4)
    shipped = documents.order_confirm(order=documents.order_create(
        company=company_a, actor=None, party=buyer,
        lines=[{"product": bike, "quantity": D(1)}]), actor=None)  # fmt: skip
    _deliver_all(shipped)
    with pytest.raises(ValidationError, match="return"):
        documents.order_cancel(order=shipped, actor=None)
