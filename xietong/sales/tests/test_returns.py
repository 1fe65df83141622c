"""Returns through the services: authorising (what may come back, for how long), receiving into
stock or scrap at the cost the goods left with, lots, crediting and refunding."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from xietong.finance.models import Invoice, Journal, Payment
from xietong.finance.payments import payment_create, payment_post
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory import pickings as picking_services
from xietong.inventory import stock
from xietong.inventory.models import Location, Move, Picking
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.inventory.valuation import move_values
from xietong.inventory.warehouses import virtual_locations
from xietong.party.models import TimelineEntry
from xietong.sales import billing, documents, returns
from xietong.sales.models import InvoicedLine, ReturnLine, ReturnOrder, SalesOrder
from xietong.sales.tests.factories import D, customer, item, receive, shop

pytestmark = pytest.mark.django_db


@pytest.fixture
def s(company_a):  # type: ignore[no-untyped-def]
    return shop(company_a)


def _order(company, buyer, lines, **fields):  # type: ignore[no-untyped-def]
    order = documents.order_create(company=company, actor=None, party=buyer, lines=lines, **fields)
    return documents.order_confirm(order=order, actor=None)


def _deliver(order: SalesOrder, lots=None) -> None:  # type: ignore[no-untyped-def]
    for picking in documents.order_pickings(order):
        if picking.state == Picking.State.READY:
            picking_services.picking_done(picking=picking, lots=lots)


def _bank(company):  # type: ignore[no-untyped-def]
    return Journal.unscoped.get(company=company, code="BNK")


def _pay(invoice: Invoice, amount: Decimal | None = None) -> Payment:
    payment = payment_create(
        company=invoice.company, actor=None, direction="inbound", party=invoice.party,
        journal=_bank(invoice.company), date=invoice.date,
        amount=amount if amount is not None else invoice.amount_total,
    )  # fmt: skip
    return payment_post(payment=payment, actor=None, allocations=[invoice])


def _shipped(s, company, quantity="3", *, price="1000", cost="600", invoice=True, pay=True):  # type: ignore[no-untyped-def]
    bike = item(company, price, cost=cost)
    receive(bike, 5, s.stock, cost)
    buyer = customer(company)
    order = _order(company, buyer, [{"product": bike, "quantity": D(quantity)}])
    _deliver(order)
    inv = billing.order_invoice(order=order, actor=None, post=True) if invoice else None
    if inv is not None and pay:
        _pay(inv)
        inv.refresh_from_db()
    return bike, buyer, order, order.lines.get(), inv


def test_return_restock_credit_and_refund(s, company_a, users_a):
    bike, buyer, order, line, invoice = _shipped(s, company_a)
    assert invoice.payment_state == Invoice.PaymentState.PAID
    # stock comes in dearer after the delivery: the return must not come back at that cost
    receive(bike, 2, s.stock, "900")
    assert stock.on_hand(product=bike, location=s.stock) == D(4)
    clerk = users_a["sales_manager"]
    rma = returns.return_create(order=order, actor=clerk, reason="Wrong colour",
                                lines=[{"order_line": line, "quantity": D(1)}])  # fmt: skip
    assert rma.state == ReturnOrder.State.AUTHORISED and rma.number.startswith("RMA/")
    assert returns.returnable(line) == D(2)

    rma = returns.return_receive(rma=rma, actor=clerk)
    assert rma.state == ReturnOrder.State.RECEIVED
    assert stock.on_hand(product=bike, location=s.stock) == D(5)
    line.refresh_from_db()
    assert line.qty_delivered == D(3) and line.qty_returned == D(1)
    move = Move.unscoped.get(picking=rma.picking)
    assert rma.picking.kind == Picking.Kind.RECEIPT and rma.picking.state == Picking.State.DONE
    assert move.from_location.usage == Location.Usage.CUSTOMER and move.to_location == s.stock
    assert move_values(moves=[move])[move.pk] == (D(1), D("600.00"))

    bank = _bank(company_a)
    rma = returns.return_credit(rma=rma, actor=clerk, refund_journal=bank)
    assert rma.state == ReturnOrder.State.DONE
    credit = rma.credit_note
    assert credit.kind == Invoice.Kind.CUSTOMER_CREDIT and credit.state == Invoice.State.POSTED
    assert credit.credited_invoice_id == invoice.pk
    assert credit.amount_total == D("1130.00") and credit.lines.get().quantity == D(1)
    assert InvoicedLine.objects.get(invoice_line__invoice=credit).quantity == D(-1)
    line.refresh_from_db()
    assert line.qty_invoiced == D(2)
    refund = rma.refund
    assert refund.state == Payment.State.POSTED and refund.refund
    assert refund.amount == D("1130.00") and refund.direction == Payment.Direction.OUTBOUND
    credit.refresh_from_db()
    assert credit.amount_residual == 0 and credit.payment_state == Invoice.PaymentState.PAID
    assert TimelineEntry.unscoped.filter(party=buyer, kind="return").count() == 3
    assert_ledger_sound([company_a])
    assert_stock_sound([company_a])
    with pytest.raises(ValidationError, match="Nothing to invoice"):
        billing.order_invoice(order=order, actor=None)


def test_scrap_goes_to_scrap_not_stock(s, company_a):
    bike, _buyer, order, line, _invoice = _shipped(s, company_a, invoice=False)
    rma = returns.return_create(
        order=order, actor=None, reason="Broken in transit",
        lines=[{"order_line": line.pk, "quantity": D(1), "disposition": "scrap"},
               {"order_line": line.pk, "quantity": D(1)}],
    )  # fmt: skip
    rma = returns.return_receive(rma=rma, actor=None)
    scrap = virtual_locations(company=company_a)[Location.Usage.SCRAP]
    kinds = {p.to_location_id: p for p in returns.return_pickings(rma)}
    assert set(kinds) == {s.stock.pk, scrap.pk}
    assert Move.unscoped.get(picking=kinds[scrap.pk]).state == Move.State.DONE
    assert stock.on_hand(product=bike, location=s.stock) == D(3)  # 5 − 3 + 1
    line.refresh_from_db()
    assert line.qty_returned == D(2)
    rma = returns.return_credit(rma=rma, actor=None)
    assert rma.state == ReturnOrder.State.DONE and rma.credit_note is None
    assert_ledger_sound([company_a])
    assert_stock_sound([company_a])


def test_credit_of_an_unpaid_invoice_lowers_what_is_due(s, company_a):
    _bike, _buyer, order, line, invoice = _shipped(s, company_a, pay=False)
    rma = returns.return_create(order=order, actor=None, reason="Not needed",
                                lines=[{"order_line": line, "quantity": D(2)}])  # fmt: skip
    returns.return_receive(rma=rma, actor=None)
    rma = returns.return_credit(rma=rma, actor=None, refund_journal=_bank(company_a))
    assert rma.refund is None and rma.credit_note.amount_total == D("2260.00")
    invoice.refresh_from_db()
    assert invoice.amount_residual == D("1130.00")
    assert_ledger_sound([company_a])


def test_partly_invoiced_line_credits_only_what_the_customer_no_longer_keeps(s, company_a):
    bike = item(company_a, "1000")
    receive(bike, 5, s.stock)
    order = _order(company_a, customer(company_a), [{"product": bike, "quantity": D(3)}])
    _deliver(order)
    line = order.lines.get()
    billing.order_invoice(order=order, actor=None, quantities={line.pk: D(1)}, post=True)
    rma = returns.return_create(order=order, actor=None, reason="Too many",
                                lines=[{"order_line": line, "quantity": D(1)}])  # fmt: skip
    returns.return_receive(rma=rma, actor=None)
    rma = returns.return_credit(rma=rma, actor=None)
    assert rma.credit_note is None  # 1 invoiced of the 2 the customer keeps
    line.refresh_from_db()
    assert line.qty_invoiced == D(1) and billing.invoiceable(line, order.invoice_policy) == D(1)


def test_refusals_write_nothing(s, company_a):
    bike, _buyer, order, line, _invoice = _shipped(s, company_a, invoice=False)
    first = returns.return_create(order=order, actor=None, reason="Scratched",
                                  lines=[{"order_line": line, "quantity": D(2)}])  # fmt: skip
    before = (ReturnOrder.unscoped.count(), ReturnLine.objects.count(), Move.unscoped.count())
    cases = [
        ({"reason": "", "lines": [{"order_line": line, "quantity": D(1)}]}, "why"),
        ({"reason": "x", "lines": [{"order_line": line, "quantity": D(2)}]}, "at most 1"),
        ({"reason": "x", "lines": [{"order_line": line, "quantity": D(0)}]}, "above zero"),
        ({"reason": "x", "lines": [{"order_line": line, "quantity": 1.0}]}, "decimal"),
        (
            {
                "reason": "x",
                "lines": [{"order_line": line, "quantity": D(1), "disposition": "resell"}],
            },
            "restock",
        ),  # fmt: skip
        ({"reason": "x", "lines": [{"order_line": 0, "quantity": D(1)}]}, "Choose a line"),
        ({"reason": "x", "lines": []}, "at least one line"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValidationError, match=message):
            returns.return_create(order=order, actor=None, **kwargs)
    assert (
        ReturnOrder.unscoped.count(),
        ReturnLine.objects.count(),
        Move.unscoped.count(),
    ) == before
    returns.return_cancel(rma=first, actor=None)
    assert returns.returnable(line) == D(3)
    with pytest.raises(ValidationError, match="Cancelled"):
        returns.return_receive(rma=first, actor=None)
    assert stock.on_hand(product=bike, location=s.stock) == D(2)


def test_undelivered_order_and_late_returns_are_refused(s, company_a):
    bike = item(company_a, "1000")
    receive(bike, 5, s.stock)
    order = _order(company_a, customer(company_a), [{"product": bike, "quantity": D(2)}])
    line = order.lines.get()
    with pytest.raises(ValidationError, match="not been delivered"):
        returns.return_create(order=order, actor=None, reason="Changed mind",
                              lines=[{"order_line": line, "quantity": D(1)}])  # fmt: skip
    _deliver(order)
    days = s.settings.return_days
    late = timezone.localdate() + dt.timedelta(days=days + 1)
    with pytest.raises(ValidationError, match=f"accepted for {days} days"):
        returns.return_create(order=order, actor=None, reason="Changed mind", date=late,
                              lines=[{"order_line": line, "quantity": D(1)}])  # fmt: skip
    assert not ReturnOrder.unscoped.exists()
    on_time = late - dt.timedelta(days=1)
    rma = returns.return_create(order=order, actor=None, reason="Changed mind", date=on_time,
                                lines=[{"order_line": line, "quantity": D(1)}])  # fmt: skip
    assert rma.date == on_time


def test_a_lot_tracked_product_returns_the_lot_delivered(s, company_a):
    paint = item(company_a, "80", tracking="lot")
    supplier = virtual_locations(company=company_a)[Location.Usage.SUPPLIER]
    lots = {}
    for name, quantity in (("L-OLD", "2"), ("L-NEW", "4")):
        lots[name] = stock.lot_create(company=company_a, product=paint, name=name)
        move = stock.move_create(
            company=company_a, product=paint, quantity=D(quantity), from_location=supplier,
            to_location=s.stock, planned_date=timezone.localdate(), lot=lots[name],
            unit_cost=D(30),
        )  # fmt: skip
        stock.moves_done(moves=[move])
    order = _order(company_a, customer(company_a), [{"product": paint, "quantity": D(3)}])
    _deliver(order)
    line = order.lines.get()
    delivered = Move.unscoped.filter(source_id=line.pk, to_location__usage="customer")
    assert {m.lot.name for m in delivered} == {"L-OLD", "L-NEW"}  # FIFO over two lots
    with pytest.raises(ValidationError, match="at most 1 of lot L-NEW"):
        returns.return_create(order=order, actor=None, reason="Spoilt", lines=[
            {"order_line": line, "quantity": D(2), "lot": lots["L-NEW"]}])  # fmt: skip
    rma = returns.return_create(order=order, actor=None, reason="Spoilt", lines=[
        {"order_line": line, "quantity": D(1), "lot": lots["L-NEW"]}])  # fmt: skip
    returns.return_receive(rma=rma, actor=None)
    assert stock.on_hand(product=paint, location=s.stock, lot=lots["L-NEW"]) == D(4)
    # without a lot: the only lot the customer still has of the line is taken
    rma = returns.return_create(order=order, actor=None, reason="Spoilt",
                                lines=[{"order_line": line, "quantity": D(2)}])  # fmt: skip
    returns.return_receive(rma=rma, actor=None)
    assert rma.lines.get().lot == lots["L-OLD"]
    assert stock.on_hand(product=paint, location=s.stock, lot=lots["L-OLD"]) == D(2)
    line.refresh_from_db()
    assert line.qty_returned == D(3)
    assert_stock_sound([company_a])
    assert_ledger_sound([company_a])


def test_serial_numbers_come_back_one_by_one(s, company_a):
    phone = item(company_a, "3000", tracking="serial")
    picking = picking_services.receipt_create(
        company=company_a, warehouse=s.warehouse, scheduled_date=timezone.localdate(),
        lines=[{"product": phone, "quantity": D(3), "unit_cost": D(2000)}],
    )[0]  # fmt: skip
    move = Move.unscoped.get(picking=picking)
    picking_services.picking_done(picking=picking, lots={move.pk: ["SN-1", "SN-2", "SN-3"]})
    order = _order(company_a, customer(company_a), [{"product": phone, "quantity": D(2)}])
    _deliver(order)
    line = order.lines.get()
    rma = returns.return_create(order=order, actor=None, reason="Faulty",
                                lines=[{"order_line": line, "quantity": D(1)}])  # fmt: skip
    with pytest.raises(ValidationError, match="Say which"):
        returns.return_receive(rma=rma, actor=None)
    sent = sorted(Move.unscoped.filter(source_id=line.pk, to_location__usage="customer")
                  .values_list("lot__name", flat=True))  # fmt: skip
    rma = returns.return_receive(rma=rma, actor=None, lots={rma.lines.get().pk: [sent[0]]})
    assert stock.on_hand(product=phone, location=s.stock) == D(2)
    assert Move.unscoped.get(picking=rma.picking).lot.name == sent[0]
    assert_stock_sound([company_a])
