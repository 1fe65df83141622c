"""Purchase order PDF and e-mail, goods received note."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.core.exceptions import ValidationError

from xietong.party.services import party_update
from xietong.purchase import orders, receiving, sending
from xietong.purchase.models import PurchaseOrder
from xietong.purchase.tests.factories import buying, material, supplier

pytestmark = pytest.mark.django_db


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return buying(company_a)


def _text(pdf: bytes) -> str:
    assert pdf.startswith(b"%PDF")
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()  # fmt: skip


def test_order_is_sent_in_the_supplier_language_with_its_pdf(b, company_a, mailoutbox):
    vendor = supplier(company_a, email="sales@steel.example")
    party_update(party=vendor, actor=None, language="en")
    steel = material(company_a, name="Cold rolled coil")
    order = orders.order_create(company=company_a, actor=None, party=vendor,
                                lines=[{"product": steel, "quantity": "3", "unit_price": "99"}])  # fmt: skip
    with pytest.raises(ValidationError):  # not approved yet
        sending.order_send(order=order, actor=None)
    assert not mailoutbox
    orders.order_submit(order=order, actor=None)
    order = sending.order_send(order=order, actor=None, message="Urgent, please")
    assert order.state == PurchaseOrder.State.SENT and order.sent_at
    (mail,) = mailoutbox
    assert mail.to == ["sales@steel.example"] and order.number in mail.subject
    assert "Urgent, please" in mail.body and "Purchase order" in mail.subject
    name, pdf, kind = mail.attachments[0]
    assert kind == "application/pdf" and name.endswith(".pdf")
    text = _text(pdf)
    assert "Cold rolled coil" in text and order.number in text


def test_sending_without_an_address_is_refused(b, company_a, mailoutbox):
    order = orders.order_create(company=company_a, actor=None, party=supplier(company_a),
                                lines=[{"product": material(company_a), "quantity": "1"}])  # fmt: skip
    orders.order_submit(order=order, actor=None)
    with pytest.raises(ValidationError):
        sending.order_send(order=order, actor=None)
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.APPROVED and not mailoutbox


def test_goods_received_note_shows_the_rejection(b, company_a):
    valve = material(company_a, name="Ball valve", inspection_required=True)
    order = orders.order_create(company=company_a, actor=None, party=supplier(company_a),
                                lines=[{"product": valve, "quantity": "10"}])  # fmt: skip
    orders.order_submit(order=order, actor=None)
    (line,) = orders.order_lines(order)
    picking = receiving.order_receive(order=order, actor=None, lines=[
        {"line": line, "quantity": "10", "rejected": "3", "reason": "Leaking seat"}])  # fmt: skip
    text = _text(sending.receipt_pdf(picking))
    assert "Ball valve" in text and "Leaking seat" in text and order.number in text
