"""The purchase screens as real role users: the buyer's workspace, requisitions (a requester's
own, approval by someone else), sourcing into orders and into an RFQ, the RFQ page with answers
and the award, the order form, approval, sending, confirmation, receiving with an inspection,
the PDFs, billing and the matching list, the settings and supplier prices; a bad form writes
nothing; 403 for roles without the permission; 404 across companies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse

from xietong.party.services import party_update
from xietong.purchase import orders, requisitions, rfqs
from xietong.purchase.models import (
    PurchaseOrder,
    PurchaseSettings,
    Requisition,
    Rfq,
    SupplierPrice,
)
from xietong.purchase.tests.factories import D, buying, material, price, supplier, today

pytestmark = pytest.mark.django_db


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return buying(company_a)


@pytest.fixture
def buyer(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["buyer"])


def _lines(*rows: dict[str, Any]) -> dict[str, str]:
    data = {"lines-TOTAL_FORMS": str(len(rows)), "lines-INITIAL_FORMS": "0"}
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{i}-{key}"] = str(value)
    return data


def _ok(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_order_from_the_form_to_receipt_and_bill(b, company_a, users_a, buyer, client_for):
    vendor = supplier(company_a, email="po@vendor.example")
    steel = material(company_a, name="Steel plate")
    price(company_a, vendor, steel, "42")
    page = _ok(buyer.get(reverse("purchase:order_create")))
    assert "Steel plate" in page
    before = PurchaseOrder.unscoped.count()
    bad = buyer.post(reverse("purchase:order_create"), {
        "party": vendor.pk, "date": today().isoformat(),
        **_lines({"product": steel.pk, "quantity": "-3"})})  # fmt: skip
    assert bad.status_code == 200 and PurchaseOrder.unscoped.count() == before
    response = buyer.post(reverse("purchase:order_create"), {
        "party": vendor.pk, "date": today().isoformat(), "supplier_reference": "Q-9",
        **_lines({"product": steel.pk, "quantity": "10"}, {"product": "", "quantity": ""})})  # fmt: skip
    assert response.status_code == 302
    order = PurchaseOrder.unscoped.get(supplier_reference="Q-9")
    assert order.lines.get().unit_price == D(42)
    detail = reverse("purchase:order_detail", args=[order.pk])
    assert "Steel plate" in _ok(buyer.get(detail))
    buyer.post(reverse("purchase:order_submit", args=[order.pk]))
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.APPROVED  # 420 is below the first band
    assert buyer.post(reverse("purchase:order_send", args=[order.pk]), {"message": "Hi"}
                      ).status_code == 302  # fmt: skip
    line = order.lines.get()
    confirm = buyer.post(reverse("purchase:order_confirm", args=[order.pk]), {
        "supplier_reference": "SC-1", f"promised_{line.pk}": today().isoformat()})  # fmt: skip
    assert confirm.status_code == 302
    clerk = client_for(users_a["warehouse_clerk"])
    receive_url = reverse("purchase:order_receive", args=[order.pk])
    assert "Steel plate" in _ok(clerk.get(receive_url))
    too_much = clerk.post(receive_url, {f"quantity_{line.pk}": "20"})
    assert too_much.status_code == 400
    line.refresh_from_db()
    assert line.qty_received == 0
    assert clerk.post(receive_url, {f"quantity_{line.pk}": "10"}).status_code == 302
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.DONE
    assert buyer.get(reverse("purchase:order_pdf", args=[order.pk]))["Content-Type"] == (
        "application/pdf"
    )
    receipt = orders.order_receipts(order)[0]
    assert clerk.get(reverse("purchase:receipt_pdf", args=[receipt.pk])).status_code == 200
    accountant = client_for(users_a["accountant"])
    assert accountant.post(reverse("purchase:order_bill", args=[order.pk])).status_code == 302
    assert vendor.name in _ok(accountant.get(reverse("purchase:match_list")))
    assert _ok(buyer.get(reverse("purchase:workspace")))
    assert _ok(buyer.get(reverse("purchase:order_list") + "?to_bill=0"))


def test_requisition_needs_someone_else_above_the_limit(b, company_a, users_a, client_for):
    press = material(company_a, "8000", name="Hydraulic press")
    planner = client_for(users_a["planner"])
    response = planner.post(reverse("purchase:requisition_create"), {
        "submit": "1", **_lines({"product": press.pk, "quantity": "1",
                                 "reason": "Line 2 expansion"})})  # fmt: skip
    assert response.status_code == 302
    requisition = Requisition.unscoped.get()
    assert requisition.state == Requisition.State.TO_APPROVE
    assert planner.get(reverse("purchase:requisition_decide", args=[requisition.pk])
                       ).status_code == 403  # fmt: skip
    boss = client_for(users_a["executive"])
    page = _ok(boss.get(reverse("purchase:requisition_detail", args=[requisition.pk])))
    assert "Hydraulic press" in page and "Line 2 expansion" in page
    boss.post(reverse("purchase:requisition_decide", args=[requisition.pk]),
              {"decision": "reject", "comment": ""})  # fmt: skip
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.TO_APPROVE  # a rejection says why
    boss.post(reverse("purchase:requisition_decide", args=[requisition.pk]),
              {"decision": "approve", "comment": "OK"})  # fmt: skip
    requisition.refresh_from_db()
    assert requisition.state == Requisition.State.APPROVED
    sales = client_for(users_a["sales_rep"])  # may request; lists only their own
    assert requisition.number not in _ok(sales.get(reverse("purchase:requisition_list")))
    assert "Hydraulic press" in _ok(
        sales.get(reverse("purchase:requisition_detail", args=[requisition.pk]))
    )


def test_sourcing_into_an_rfq_answers_and_award(b, company_a, users_a, buyer):
    bolt = material(company_a, name="Hex bolt")
    one = supplier(company_a, name="One Metal", email="one@example.com")
    two = supplier(company_a, name="Two Metal", email="two@example.com")
    party_update(party=one, actor=None, language="en")
    req = requisitions.requisition_create(company=company_a, actor=users_a["planner"],
                                          lines=[{"product": bolt, "quantity": "100"}])  # fmt: skip
    requisitions.requisition_submit(requisition=req, actor=users_a["planner"])
    line = req.lines.get()
    page = _ok(buyer.get(reverse("purchase:sourcing")))
    assert "Hex bolt" in page
    response = buyer.post(reverse("purchase:sourcing"), {
        f"line_{line.pk}": "on", "make": "rfq", "suppliers": [one.pk, two.pk]})  # fmt: skip
    assert response.status_code == 302
    rfq = Rfq.unscoped.get()
    detail = reverse("purchase:rfq_detail", args=[rfq.pk])
    assert buyer.post(reverse("purchase:rfq_send", args=[rfq.pk])).status_code == 302
    inv_one, inv_two = rfq.suppliers.order_by("pk")
    rfq_line = rfq.lines.get()
    for invitation, amount in ((inv_one, "1.20"), (inv_two, "1.10")):
        answered = buyer.post(reverse("purchase:rfq_answer", args=[invitation.pk]), {
            f"price_{rfq_line.pk}": amount, f"lead_{rfq_line.pk}": "5", "reference": "Q"})  # fmt: skip
        assert answered.status_code == 302
    page = _ok(buyer.get(detail))
    assert "Two Metal" in page and "recommended" in page
    bids = {b_.invitation_id: b_ for b_ in rfq_line.bids.all()}
    award = buyer.post(reverse("purchase:rfq_award", args=[rfq.pk]), {
        f"award_{bids[inv_two.pk].pk}": "60", f"award_{bids[inv_one.pk].pk}": "40"})  # fmt: skip
    assert award.status_code == 302
    assert PurchaseOrder.unscoped.filter(rfq=rfq).count() == 2
    assert buyer.get(reverse("purchase:rfq_pdf", args=[inv_one.pk])).status_code == 200


def test_settings_and_supplier_prices(b, company_a, buyer):
    vendor = supplier(company_a)
    steel = material(company_a)
    response = buyer.post(reverse("purchase:settings_edit"), {
        "warehouse": b.warehouse.pk, "default_tax": b.vat.pk,
        "receipt_tolerance_percent": "150", "price_tolerance_percent": "2",
        "quantity_tolerance_percent": "0", "requisition_approval_limit": "5000",
        "rfq_answer_days": "7"})  # fmt: skip
    assert response.status_code == 400  # 150 % refused
    assert PurchaseSettings.unscoped.get().receipt_tolerance_percent == D(5)
    response = buyer.post(reverse("purchase:supplier_price_create"), {
        "supplier": vendor.pk, "product": steel.pk, "price": "12.5", "min_quantity": "0",
        "lead_time_days": "4"})  # fmt: skip
    assert response.status_code == 302
    assert SupplierPrice.unscoped.get().price == D("12.5")
    assert _ok(buyer.get(reverse("purchase:supplier_price_list")))


def test_permissions_and_companies(b, company_a, company_b, users_a, users_b, client_for):
    order = orders.order_create(company=company_a, actor=None, party=supplier(company_a),
                                lines=[{"product": material(company_a), "quantity": "1"}])  # fmt: skip
    clerk = client_for(users_a["warehouse_clerk"])
    assert clerk.get(reverse("purchase:order_create")).status_code == 403
    assert clerk.post(reverse("purchase:order_submit", args=[order.pk])).status_code == 403
    assert client_for(users_a["sales_rep"]).get(reverse("purchase:order_list")).status_code == 403
    other = client_for(users_b["buyer"])
    assert other.get(reverse("purchase:order_detail", args=[order.pk])).status_code == 404
    assert other.get(reverse("purchase:order_pdf", args=[order.pk])).status_code == 404
    rfq = rfqs.rfq_create(company=company_a, actor=None,
                          lines=[{"product": material(company_a), "quantity": "1"}])  # fmt: skip
    assert other.get(reverse("purchase:rfq_detail", args=[rfq.pk])).status_code == 404


def test_landed_cost_and_payment_run_screens(b, company_a, users_a, client_for):
    from xietong.finance.invoicing import invoice_post
    from xietong.finance.models import Invoice, Journal
    from xietong.purchase import matching, receiving
    from xietong.purchase.models import LandedCost

    vendor = supplier(company_a)
    steel = material(company_a, name="Steel coil")
    order = orders.order_create(company=company_a, actor=None, party=vendor,
                                lines=[{"product": steel, "quantity": "10", "unit_price": "40"}])  # fmt: skip
    orders.order_submit(order=order, actor=None)
    receipt = receiving.order_receive(order=order, actor=None,
                                      lines=[{"line": order.lines.get(), "quantity": "10"}])  # fmt: skip
    accountant = client_for(users_a["accountant"])
    bad = accountant.post(reverse("purchase:landed_create"), {
        "description": "", "amount": "20", "split": "value", "date": today().isoformat(),
        "pickings": [receipt.pk]})  # fmt: skip
    assert bad.status_code == 400 and not LandedCost.unscoped.exists()
    response = accountant.post(reverse("purchase:landed_create"), {
        "description": "Sea freight", "amount": "20", "split": "value",
        "date": today().isoformat(), "pickings": [receipt.pk]})  # fmt: skip
    assert response.status_code == 302
    cost = LandedCost.unscoped.get()
    assert "Sea freight" in _ok(accountant.get(reverse("purchase:landed_detail", args=[cost.pk])))
    from xietong.finance.models import Account
    from xietong.purchase.common import purchase_settings

    settings = purchase_settings(company_a)
    settings.landed_cost_account = Account.unscoped.get(company=company_a, code="1401")
    settings.save()
    accountant.post(reverse("purchase:landed_post", args=[cost.pk]))
    cost.refresh_from_db()
    assert cost.state == LandedCost.State.DONE and cost.lines.get().amount == D(20)
    invoice = matching.invoice_from_orders(company=company_a, actor=None, orders=[order])
    matching.invoice_match(invoice=invoice)
    invoice_post(invoice=invoice, actor=users_a["accountant"])
    bank = Journal.unscoped.filter(company=company_a, kind=Journal.Kind.BANK).order_by("pk")[0]
    page = _ok(accountant.get(reverse("purchase:payment_run")))
    assert vendor.name in page
    response = accountant.post(reverse("purchase:payment_run"), {
        "journal": bank.pk, "date": today().isoformat(),
        "due_by": (today() + dt.timedelta(days=365)).isoformat()})  # fmt: skip
    assert response.status_code == 302
    invoice.refresh_from_db()
    assert invoice.payment_state == Invoice.PaymentState.PAID
    assert client_for(users_a["buyer"]).get(reverse("purchase:payment_run")).status_code == 403


def test_supplier_page_shows_its_scorecard(b, company_a, users_a, client_for, buyer):
    from xietong.purchase import receiving
    from xietong.sales.tests.factories import customer

    vendor = supplier(company_a, name="Scored Metals")
    valve = material(company_a, inspection_required=True)
    order = orders.order_create(company=company_a, actor=None, party=vendor,
                                lines=[{"product": valve, "quantity": "10"}])  # fmt: skip
    orders.order_submit(order=order, actor=None)
    receiving.order_receive(order=order, actor=None, lines=[
        {"line": order.lines.get(), "quantity": "10", "rejected": "1", "reason": "Dent"}])  # fmt: skip
    page = _ok(buyer.get(reverse("party:party_detail", args=[vendor.pk])))
    assert 'id="scorecard"' in page and "90.0 %" in page  # 9 of 10 inspected units accepted
    assert 'id="scorecard"' not in _ok(
        buyer.get(reverse("party:party_detail", args=[customer(company_a).pk]))
    )
    rep = client_for(users_a["sales_rep"])  # sees suppliers, not purchasing figures
    assert 'id="scorecard"' not in _ok(rep.get(reverse("party:party_detail", args=[vendor.pk])))
    assert "Scored Metals" in _ok(buyer.get(reverse("purchase:order_list") + f"?party={vendor.pk}"))


def test_requisition_pdf_and_replenishment_button(b, company_a, users_a, buyer):
    from xietong.core.tenancy import company_scope
    from xietong.inventory.replenishment import rule_set

    bolt = material(company_a, name="Carriage bolt")
    with company_scope(company_a):
        rule_set(company=company_a, product=bolt, warehouse=b.warehouse, min_qty=D(5),
                 max_qty=D(50))  # fmt: skip
    assert 'id="replenish"' in _ok(buyer.get(reverse("purchase:requisition_list")))
    assert buyer.post(reverse("purchase:requisitions_replenish")).status_code == 302
    made = Requisition.unscoped.get(source=Requisition.Source.REPLENISHMENT)
    assert made.lines.get().quantity == D(50)
    response = buyer.get(reverse("purchase:requisition_pdf", args=[made.pk]))
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
