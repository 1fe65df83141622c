"""Purchase orders through the services: pricing from supplier prices, approval by amount
bands, the receipt made on approval, supplier confirmation, partial receipts with tolerance and
inspection, closing lines, cancellation."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from xietong.finance.models import Account, Line
from xietong.inventory.models import Move, Picking, Quant
from xietong.party.models import TimelineEntry
from xietong.purchase import orders, receiving
from xietong.purchase.models import Inspection, PurchaseOrder
from xietong.purchase.tests.factories import D, buying, material, price, supplier
from xietong.workflow.models import Task
from xietong.workflow.services import task_complete

pytestmark = pytest.mark.django_db


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return buying(company_a)


def _on_hand(product, location) -> D:  # type: ignore[no-untyped-def]
    return sum((q.quantity for q in Quant.unscoped.filter(product=product, location=location)),
               D(0))  # fmt: skip


def _approved(company, vendor, lines):  # type: ignore[no-untyped-def]
    order = orders.order_create(company=company, actor=None, party=vendor, lines=lines)
    orders.order_submit(order=order, actor=None)
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.APPROVED
    return order


def test_order_is_priced_from_the_supplier_price_with_input_vat(b, company_a):
    steel = material(company_a, "50")
    vendor = supplier(company_a)
    price(company_a, vendor, steel, "40", lead_days=10)
    price(company_a, vendor, steel, "36", lead_days=10, min_quantity="100")
    order = orders.order_create(company=company_a, actor=None, party=vendor,
                                lines=[{"product": steel, "quantity": "20"},
                                       {"product": steel, "quantity": "100"}])  # fmt: skip
    first, second = orders.order_lines(order)
    assert first.unit_price == D(40) and second.unit_price == D(36)
    assert (first.need_date - order.date).days == 10
    assert order.amount_untaxed == D(4400) and order.amount_tax == D(572)
    assert order.amount_total == D(4972) and order.number
    assert [t.code for t in first.taxes.all()] == ["VAT13-P"]
    assert TimelineEntry.unscoped.filter(party=vendor, kind="purchase").count() == 1


def test_bad_orders_write_nothing(b, company_a, company_b):
    steel = material(company_a)
    vendor = supplier(company_a)
    foreign = supplier(company_b)
    with pytest.raises(ValidationError):  # not a supplier
        from xietong.sales.tests.factories import customer

        orders.order_create(company=company_a, actor=None, party=customer(company_a),
                            lines=[{"product": steel, "quantity": "1"}])  # fmt: skip
    before = PurchaseOrder.unscoped.count()
    for party, lines in ((foreign, [{"product": steel, "quantity": "1"}]),
                         (vendor, []),
                         (vendor, [{"product": steel, "quantity": "-1"}]),
                         (vendor, [{"product": steel, "quantity": 1.5}]),
                         (vendor, [{"product": steel, "quantity": "1", "discount": "120"}]),
                         (vendor, [{"product": material(company_b), "quantity": "1"}])):  # fmt: skip
        with pytest.raises(ValidationError):
            orders.order_create(company=company_a, actor=None, party=party, lines=lines)
    assert PurchaseOrder.unscoped.count() == before


def test_small_order_is_approved_at_once_and_its_receipt_is_scheduled(b, company_a):
    steel = material(company_a)
    vendor = supplier(company_a)
    order = _approved(company_a, vendor, [{"product": steel, "quantity": "10",
                                           "unit_price": "45"}])  # fmt: skip
    receipts = orders.order_receipts(order)
    assert len(receipts) == 1 and receipts[0].state == Picking.State.READY
    move = Move.unscoped.get(picking=receipts[0])
    assert move.quantity == D(10) and move.unit_cost == D(45)
    assert move.source_type == orders.LINE_SOURCE


def test_large_order_waits_for_the_executive_and_finance(b, company_a, users_a,
                                                         django_capture_on_commit_callbacks):  # fmt: skip
    steel = material(company_a)
    vendor = supplier(company_a)
    order = orders.order_create(company=company_a, actor=None, party=vendor,
                                lines=[{"product": steel, "quantity": "1000",
                                        "unit_price": "150"}])  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_submit(order=order, actor=None)
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.TO_APPROVE
    assert not orders.order_receipts(order)
    tasks = Task.unscoped.filter(instance=order.approval_process, status=Task.Status.OPEN)
    assert sorted(t.lane for t in tasks) == ["accountant", "executive"]
    with django_capture_on_commit_callbacks(execute=True):
        for task in tasks:
            task_complete(task=task, actor=users_a[task.lane], outcome="approved")
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.APPROVED
    assert len(orders.order_receipts(order)) == 1


def test_rejected_order_returns_to_draft_with_the_comment(b, company_a, users_a,
                                                          django_capture_on_commit_callbacks):  # fmt: skip
    order = orders.order_create(company=company_a, actor=None, party=supplier(company_a),
                                lines=[{"product": material(company_a), "quantity": "100",
                                        "unit_price": "200"}])  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        order = orders.order_submit(order=order, actor=None)
    task = Task.unscoped.get(instance=order.approval_process, status=Task.Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(
            task=task, actor=users_a["buyer"], outcome="rejected", comment="Ask for a better price"
        )
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.DRAFT
    assert order.approval == PurchaseOrder.Approval.REJECTED
    assert order.approval_comment == "Ask for a better price"


def test_confirmation_records_promised_dates(b, company_a):
    steel = material(company_a)
    order = _approved(company_a, supplier(company_a), [{"product": steel, "quantity": "5"}])
    (line,) = orders.order_lines(order)
    promised = order.date.replace(day=1) if order.date.day > 1 else order.date
    orders.order_confirm(order=order, actor=None, promised={line.pk: promised.isoformat()},
                         supplier_reference="SC-77")  # fmt: skip
    line.refresh_from_db()
    order.refresh_from_db()
    assert line.promised_date == promised and order.state == PurchaseOrder.State.CONFIRMED
    assert order.supplier_reference == "SC-77" and order.confirmed_at
    assert Move.unscoped.get(source_id=line.pk, source_type=orders.LINE_SOURCE).planned_date == (
        promised
    )


def test_partial_receipt_leaves_a_backorder_and_books_stock(b, company_a):
    steel = material(company_a)
    order = _approved(company_a, supplier(company_a), [{"product": steel, "quantity": "10",
                                                        "unit_price": "45"}])  # fmt: skip
    (line,) = orders.order_lines(order)
    receiving.order_receive(order=order, actor=None, lines=[{"line": line, "quantity": "4"}])
    line.refresh_from_db()
    order.refresh_from_db()
    assert line.qty_received == D(4) and order.state == PurchaseOrder.State.APPROVED
    assert _on_hand(steel, b.stock) == D(4)
    ready = [p for p in orders.order_receipts(order) if p.state == Picking.State.READY]
    assert len(ready) == 1 and Move.unscoped.get(picking=ready[0]).quantity == D(6)
    stock_account = Account.unscoped.get(company=company_a, code="1405")
    booked = sum((e.debit - e.credit for e in Line.unscoped.filter(account=stock_account, entry__state="posted")),
                 D(0))  # fmt: skip
    assert booked == D(180)
    receiving.order_receive(order=order, actor=None, lines=[{"line": line, "quantity": "6"}])
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.DONE and _on_hand(steel, b.stock) == D(10)


def test_over_receipt_within_tolerance_only(b, company_a):
    steel = material(company_a)
    order = _approved(company_a, supplier(company_a), [{"product": steel, "quantity": "100",
                                                        "unit_price": "10"}])  # fmt: skip
    (line,) = orders.order_lines(order)
    with pytest.raises(ValidationError):  # 5 % tolerance: 105 at most
        receiving.order_receive(order=order, actor=None, lines=[{"line": line,
                                                                 "quantity": "106"}])  # fmt: skip
    assert _on_hand(steel, b.stock) == D(0)
    receiving.order_receive(order=order, actor=None, lines=[{"line": line, "quantity": "104"}])
    line.refresh_from_db()
    assert line.qty_received == D(104) and _on_hand(steel, b.stock) == D(104)


def test_inspection_keeps_rejected_goods_out_of_stock(b, company_a):
    valve = material(company_a, inspection_required=True)
    order = _approved(company_a, supplier(company_a), [{"product": valve, "quantity": "10",
                                                        "unit_price": "80"}])  # fmt: skip
    (line,) = orders.order_lines(order)
    with pytest.raises(ValidationError):  # the rejected quantity must be stated
        receiving.order_receive(order=order, actor=None, lines=[{"line": line,
                                                                 "quantity": "10"}])  # fmt: skip
    with pytest.raises(ValidationError):  # a rejection needs its reason
        receiving.order_receive(order=order, actor=None,
                                lines=[{"line": line, "quantity": "10", "rejected": "2"}])  # fmt: skip
    assert not Inspection.unscoped.exists()
    receiving.order_receive(order=order, actor=None, lines=[
        {"line": line, "quantity": "10", "rejected": "2", "reason": "Cracked housing"}])  # fmt: skip
    line.refresh_from_db()
    assert (line.qty_received, line.qty_rejected) == (D(8), D(2))
    assert _on_hand(valve, b.stock) == D(8)
    inspection = Inspection.unscoped.get()
    assert (inspection.quantity, inspection.accepted, inspection.rejected) == (D(10), D(8), D(2))
    ready = [p for p in orders.order_receipts(order) if p.state == Picking.State.READY]
    assert Move.unscoped.get(picking=ready[0]).quantity == D(2)  # the replacement is expected


def test_closing_a_line_cancels_what_is_still_expected(b, company_a):
    steel = material(company_a)
    order = _approved(company_a, supplier(company_a), [{"product": steel, "quantity": "10"}])
    (line,) = orders.order_lines(order)
    receiving.order_receive(order=order, actor=None, lines=[{"line": line, "quantity": "7"}])
    receiving.line_close(line=line, actor=None)
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.DONE
    assert not Move.unscoped.filter(source_id=line.pk, source_type=orders.LINE_SOURCE,
                                    state__in=receiving.OPEN_MOVES).exists()  # fmt: skip


def test_cancel_removes_the_scheduled_receipt_unless_received(b, company_a):
    steel = material(company_a)
    vendor = supplier(company_a)
    order = _approved(company_a, vendor, [{"product": steel, "quantity": "10"}])
    orders.order_cancel(order=order, actor=None, reason="Project stopped")
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.CANCELLED
    assert all(p.state == Picking.State.CANCELLED for p in orders.order_receipts(order))
    other = _approved(company_a, vendor, [{"product": steel, "quantity": "10"}])
    (line,) = orders.order_lines(other)
    receiving.order_receive(order=other, actor=None, lines=[{"line": line, "quantity": "1"}])
    with pytest.raises(ValidationError):
        orders.order_cancel(order=other, actor=None)
    other.refresh_from_db()
    assert other.state == PurchaseOrder.State.APPROVED
