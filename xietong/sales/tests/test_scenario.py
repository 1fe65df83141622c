"""Lead to cash as the people who do it: a sales rep quotes a configured e-bike with a discount
above the customer group's limit, the sales manager approves it, the customer accepts, the
warehouse clerk ships part of the order, the accountant invoices and books the payment, one unit
comes back and is credited and refunded. The ledger, the stock and the order's quantities are
checked after every step."""

from __future__ import annotations

import pytest
from django.core import mail

from xietong.finance.models import Invoice, Journal
from xietong.finance.payments import payment_create, payment_post
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory import pickings as picking_services
from xietong.inventory import stock
from xietong.inventory.models import Location, Move, Picking
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.inventory.warehouses import virtual_locations
from xietong.party.models import CustomerGroup, TimelineEntry
from xietong.product import configurator
from xietong.product.tests.bom_factories import bom_change, line, make_bom, make_group, make_option
from xietong.sales import billing, documents, returns, sending
from xietong.sales.models import Quotation, ReturnOrder, SalesOrder
from xietong.sales.tests.factories import D, customer, item, receive, shop
from xietong.sales.tests.invariants import assert_sales_sound
from xietong.workflow.models import Task
from xietong.workflow.services import task_complete

pytestmark = pytest.mark.django_db


def sound(company) -> None:  # type: ignore[no-untyped-def]
    assert_ledger_sound([company])
    assert_stock_sound([company])
    assert_sales_sound(company)


def _ebike(company):  # type: ignore[no-untyped-def]
    frame_m, frame_l = item(company, "0", sku="FRAME-M"), item(company, "0", sku="FRAME-L")
    battery, motor = item(company, "0", sku="BATT-400"), item(company, "0", sku="MOTOR-HUB")
    bike = item(company, "5999", sku="EB-500", name="E-bike City 500", is_configurable=True,
                supply="make", manufacturing_lead_days=5, tracking="serial")  # fmt: skip
    make_bom(company, bike, [line(frame_m, "1"), line(battery, "1"), line(motor, "1")])
    frame = make_group(bike, "frame", sequence=10)
    extras = make_group(bike, "extras", multiple=True, required=False, sequence=20)
    options = {
        "m": make_option(frame, "m", name="M", default=True),
        "l": make_option(frame, "l", "100", name="L"),
        "rack": make_option(extras, "rack", "150", name="rear rack"),
    }
    bom_change(options["l"], "replace", frame_m, frame_l)
    return bike, options


def test_lead_to_cash_as_rep_manager_clerk_and_accountant(company_a, users_a,
                                                         django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]  # fmt: skip
    rep, manager = users_a["sales_rep"], users_a["sales_manager"]
    clerk, accountant = users_a["warehouse_clerk"], users_a["accountant"]
    s = shop(company_a)
    group = CustomerGroup.unscoped.create(company=company_a, code="RET", name="Retail",
                                          max_discount_percent=D(10))  # fmt: skip
    buyer = customer(company_a, "Hangzhou Cycles", customer_group=group,
                     email="buyer@hzcycles.example")  # fmt: skip
    bike, options = _ebike(company_a)
    helmet = item(company_a, "199", cost="80", sku="HELMET")
    receive(helmet, 10, s.stock, "80")
    sound(company_a)

    # the rep configures the bike (large frame, rack) and quotes two with 15 % off
    configured = configurator.configured_item_create(
        company=company_a, actor=rep, product=bike,
        option_ids=[options["l"].pk, options["rack"].pk], party=buyer,
    )  # fmt: skip
    assert configured.price == D(6249)
    q = documents.quotation_create(company=company_a, actor=rep, party=buyer, lines=[
        {"configured_item": configured, "quantity": D(2), "discount": D(15)},
        {"product": helmet, "quantity": D(2)},
    ])  # fmt: skip
    bike_line = q.lines.get(product=bike)
    assert bike_line.promise_note and bike_line.promise_date
    with pytest.raises(Exception, match="approval"):
        sending.quotation_send(quotation=q, actor=rep)
    assert mail.outbox == []

    # the manager approves the discount from the task inbox
    q = documents.quotation_submit(quotation=q, actor=rep)
    task = Task.unscoped.get(instance=q.approval_process, status=Task.Status.OPEN)
    with django_capture_on_commit_callbacks(execute=True):
        task_complete(task=task, actor=manager, outcome="approved", comment="Key account")
    q.refresh_from_db()
    assert q.state == Quotation.State.APPROVED
    q = sending.quotation_send(quotation=q, actor=rep)
    assert q.state == Quotation.State.SENT and len(mail.outbox) == 1
    assert mail.outbox[0].attachments[0][2] == "application/pdf"

    # the customer accepts: the order is confirmed, the helmets reserved, the bikes to be made
    order = documents.quotation_accept(quotation=q, actor=rep)
    assert order.state == SalesOrder.State.CONFIRMED
    assert order.amount_total == q.amount_total
    assert stock.available(product=helmet, location=s.stock) == D(8)
    sound(company_a)

    # production brings the two bikes (serial numbers) into stock; the clerk reserves and ships
    # one bike and both helmets: a backorder keeps the second bike
    production = virtual_locations(company=company_a)[Location.Usage.PRODUCTION]
    made = []
    for serial in ("EB500-0001", "EB500-0002"):
        lot = stock.lot_create(company=company_a, product=bike, name=serial)
        made.append(stock.move_create(company=company_a, product=bike, quantity=D(1), lot=lot,
                                      from_location=production, to_location=s.stock,
                                      planned_date=order.date, unit_cost=D("3800")))  # fmt: skip
    stock.moves_done(moves=made, actor=clerk)
    delivery = documents.order_pickings(order)[0]
    delivery = picking_services.picking_assign(picking=delivery, actor=clerk)
    moves = {m.product_id: m for m in Move.unscoped.filter(picking=delivery)}
    picking_services.picking_done(
        picking=delivery, actor=clerk,
        quantities={moves[bike.pk].pk: D(1), moves[helmet.pk].pk: D(2)},
    )  # fmt: skip
    delivered = {line.product_id: line.qty_delivered for line in order.lines.all()}
    assert delivered == {bike.pk: D(1), helmet.pk: D(2)}
    backorder = Picking.unscoped.get(backorder_of=delivery)
    assert backorder.state == Picking.State.READY
    sound(company_a)

    # the accountant invoices what was delivered and books the customer's payment
    invoice = billing.order_invoice(order=order, actor=accountant, post=True)
    unit = (D(6249) * D("0.85")).quantize(D("0.01"))
    assert invoice.amount_untaxed == unit + D(398)
    bank = Journal.unscoped.get(company=company_a, code="BNK")
    payment_post(payment=payment_create(company=company_a, actor=accountant,
                                        direction="inbound", party=buyer, journal=bank,
                                        date=invoice.date, amount=invoice.amount_total),
                 actor=accountant, allocations=[invoice])  # fmt: skip
    invoice.refresh_from_db()
    assert invoice.payment_state == Invoice.PaymentState.PAID
    sound(company_a)

    # one helmet comes back: received into stock, credited and refunded
    helmet_line = order.lines.get(product=helmet)
    rma = returns.return_create(order=order, actor=rep, reason="Wrong size",
                                lines=[{"order_line": helmet_line, "quantity": D(1)}])  # fmt: skip
    rma = returns.return_receive(rma=rma, actor=clerk)
    assert stock.on_hand(product=helmet, location=s.stock) == D(9)
    rma = returns.return_credit(rma=rma, actor=accountant, refund_journal=bank)
    assert rma.state == ReturnOrder.State.DONE
    assert rma.credit_note.amount_total == D("224.87")  # 199 + 13 % VAT
    assert rma.refund is not None and rma.refund.amount == D("224.87")
    helmet_line.refresh_from_db()
    assert (helmet_line.qty_returned, helmet_line.qty_invoiced) == (D(1), D(1))
    sound(company_a)
    kinds = set(TimelineEntry.unscoped.filter(party=buyer).values_list("kind", flat=True))
    assert {"quotation", "order", "return"} <= kinds
