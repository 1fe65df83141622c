"""Quotation, order confirmation and delivery note PDFs, and sending quotations and order
confirmations by e-mail."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import translation

from xietong.core.tenancy import company_scope
from xietong.inventory import pickings as picking_services
from xietong.inventory import stock
from xietong.inventory.models import Location, Move, Picking
from xietong.inventory.warehouses import virtual_locations
from xietong.party.models import CustomerGroup, TimelineEntry
from xietong.party.services import address_create, contact_create
from xietong.product.models import Product
from xietong.sales import documents, sending
from xietong.sales.models import Quotation
from xietong.sales.tests.factories import D, customer, item, receive, shop, today

pytestmark = pytest.mark.django_db

VAR_DIR = os.environ.get("XIETONG_VAR_DIR")  # the PDFs are kept there to be looked at


@pytest.fixture
def s(company_a):  # type: ignore[no-untyped-def]
    return shop(company_a)


def pdf_text(data: bytes, name: str = "") -> str:
    """The text of a PDF (pdftotext, poppler-utils); with `name`, the PDF is kept in
    $XIETONG_VAR_DIR/pdf when that is set."""
    assert data.startswith(b"%PDF")
    if name and VAR_DIR:
        out = Path(VAR_DIR) / "pdf"
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def money(amount) -> str:  # type: ignore[no-untyped-def]
    return f"{amount:,.2f}"


def _buyer(company, language="en", **fields):  # type: ignore[no-untyped-def]
    buyer = customer(company, language=language, **fields)
    with company_scope(company):
        address_create(party=buyer, actor=None, kind="billing", street="88 Zhangjiang Road",
                       city="Shanghai", postal_code="201203", country="CN")  # fmt: skip
        address_create(party=buyer, actor=None, kind="shipping", street="5 Dock Street",
                       city="Ningbo", postal_code="315000", country="CN")  # fmt: skip
    return buyer


def _product(company, sku, name, price):  # type: ignore[no-untyped-def]
    found = Product.unscoped.filter(company=company, sku=sku).first()
    return found or item(company, price, name=name, sku=sku)


def _quotation(s, company, buyer, **fields):  # type: ignore[no-untyped-def]
    bike = _product(company, "BIKE-CITY", "City bike", "1000")
    helmet = _product(company, "HELMET-01", "Helmet", "50")
    receive(bike, 5, s.stock)
    lines = fields.pop("lines", None) or [
        {"product": bike, "quantity": D(3), "discount": D(5)},
        {"product": helmet, "quantity": D(3)},
    ]
    return documents.quotation_create(company=company, actor=None, party=buyer, lines=lines,
                                      customer_reference="PO-4711", **fields)  # fmt: skip


def test_quotation_pdf_shows_the_quotation(s, company_a):
    buyer = _buyer(company_a, email="buyer@example.com")
    q = _quotation(s, company_a, buyer)
    text = pdf_text(sending.quotation_pdf(q), "quotation.pdf")
    for expected in (q.number, "BIKE-CITY", "City bike", "HELMET-01", "PO-4711",
                     "5 Dock Street", "88 Zhangjiang Road", f"{q.valid_until:%Y-%m-%d}",
                     money(q.amount_total), money(q.amount_tax), money(q.amount_untaxed),
                     s.vat.name):  # fmt: skip
        assert expected in text, expected
    promised = q.lines.order_by("sequence").first().promise_date
    assert f"{promised:%Y-%m-%d}" in text


def test_a_revised_quotation_shows_its_version(s, company_a):
    q = _quotation(s, company_a, _buyer(company_a))
    documents.quotation_mark_sent(quotation=q, actor=None)
    v2 = documents.quotation_revise(quotation=q, actor=None)
    text = pdf_text(sending.quotation_pdf(v2))
    assert v2.number in text and "version 2" in text


def test_chinese_customer_gets_the_document_in_chinese(s, company_a):
    buyer = _buyer(company_a, "zh-hans", name="上海骑行者贸易有限公司")
    q = _quotation(s, company_a, buyer, lines=[
        {"product": item(company_a, "1000", name="城市自行车"), "quantity": D(1)}])  # fmt: skip
    rendering = sending.quotation_rendering(q)
    assert rendering.language == "zh-hans"
    assert 'lang="zh-hans"' in rendering.html()
    text = pdf_text(rendering.pdf(), "quotation-zh.pdf")
    assert "上海骑行者贸易有限公司" in text and "城市自行车" in text and q.number in text
    with translation.override("zh-hans"):
        label = translation.gettext("Unit price")  # whatever the catalogue says today
    assert label in text
    assert "中国" in text or "China" in text  # the country in the customer's language


def test_order_confirmation_pdf(s, company_a):
    q = _quotation(s, company_a, _buyer(company_a))
    documents.quotation_mark_sent(quotation=q, actor=None)
    order = documents.quotation_accept(quotation=q, actor=None)
    text = pdf_text(sending.order_pdf(order), "order.pdf")
    for expected in (order.number, q.number, "BIKE-CITY", "PO-4711", money(order.amount_total),
                     "5 Dock Street"):  # fmt: skip
        assert expected in text, expected


def test_delivery_note_pdf_shows_shipped_backorder_and_lots(s, company_a):
    buyer = _buyer(company_a)
    paint = item(company_a, "80", name="Paint", sku="PAINT-RED", tracking="lot")
    bike = item(company_a, "1000", name="City bike", sku="BIKE-CITY")
    receive(bike, 1, s.stock)
    supplier = virtual_locations(company=company_a)[Location.Usage.SUPPLIER]
    lot = stock.lot_create(company=company_a, product=paint, name="LOT-2026-07")
    move = stock.move_create(company=company_a, product=paint, quantity=D(10),
                             from_location=supplier, to_location=s.stock, planned_date=today(),
                             lot=lot, unit_cost=D(30))  # fmt: skip
    stock.moves_done(moves=[move])
    order = documents.order_confirm(order=documents.order_create(
        company=company_a, actor=None, party=buyer,
        lines=[{"product": paint, "quantity": D(4)}, {"product": bike, "quantity": D(3)}]),
        actor=None)  # fmt: skip
    picking = documents.order_pickings(order)[0]
    moves = {m.product_id: m for m in Move.unscoped.filter(picking=picking)}
    picking_services.picking_done(
        picking=picking, quantities={moves[paint.pk].pk: D(4), moves[bike.pk].pk: D(1)}
    )
    picking.refresh_from_db()
    assert picking.state == Picking.State.DONE
    text = pdf_text(sending.delivery_note_pdf(picking), "delivery_note.pdf")
    assert picking.number in text and order.number in text and "5 Dock Street" in text
    assert "LOT-2026-07" in text and "PAINT-RED" in text
    bike_row = next(row for row in text.splitlines() if "City bike" in row)
    # ordered, shipped, to follow
    assert [n for n in bike_row.split() if n.isdigit()][-3:] == ["3", "1", "2"]
    with pytest.raises(ValidationError, match="not a delivery"):
        receipt = picking_services.receipt_create(
            company=company_a, warehouse=s.warehouse, scheduled_date=today(),
            lines=[{"product": bike, "quantity": D(1)}],
        )[0]  # fmt: skip
        sending.delivery_note_pdf(receipt)


def test_sending_a_quotation(s, company_a, users_a):
    buyer = _buyer(company_a, email="buyer@example.com")
    q = _quotation(s, company_a, buyer)
    rep = users_a["sales_rep"]
    q = sending.quotation_send(quotation=q, actor=rep, message="As discussed on the phone.")
    assert q.state == Quotation.State.SENT and q.sent_at
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == ["buyer@example.com"] and q.number in email.subject
    assert "As discussed on the phone." in email.body and money(q.amount_total) in email.body
    ((name, content, mimetype),) = email.attachments
    assert name == q.number.replace("/", "-") + ".pdf" and mimetype == "application/pdf"
    assert content.startswith(b"%PDF")
    assert TimelineEntry.unscoped.filter(party=buyer, kind="quotation", summary__contains="sent")


def test_the_contact_comes_before_the_customer_and_to_before_both(s, company_a):
    buyer = _buyer(company_a, email="office@example.com")
    with company_scope(company_a):
        person = contact_create(party=buyer, actor=None, name="Li Wei", email="li@example.com")
    q = _quotation(s, company_a, buyer, contact=person)
    sending.quotation_send(quotation=q, actor=None)
    assert mail.outbox[-1].to == ["li@example.com"] and "Li Wei" in mail.outbox[-1].body
    order = documents.quotation_accept(quotation=q, actor=None)
    sending.order_send(order=order, actor=None, to="buyer@example.org")
    email = mail.outbox[-1]
    assert email.to == ["buyer@example.org"] and order.number in email.subject
    assert email.attachments[0][0] == order.number.replace("/", "-") + ".pdf"


def test_no_address_or_unapproved_discount_sends_nothing(s, company_a):
    q = _quotation(s, company_a, _buyer(company_a))
    with pytest.raises(ValidationError, match="no e-mail address"):
        sending.quotation_send(quotation=q, actor=None)
    with pytest.raises(ValidationError, match="not an e-mail address"):
        sending.quotation_send(quotation=q, actor=None, to="nobody")
    group = CustomerGroup.unscoped.create(company=company_a, code="DLR", name="Dealers",
                                          max_discount_percent=D(2))  # fmt: skip
    greedy = _quotation(s, company_a, _buyer(company_a, email="x@example.com",
                                             customer_group=group))  # fmt: skip
    with pytest.raises(ValidationError, match="approval"):
        sending.quotation_send(quotation=greedy, actor=None)
    assert mail.outbox == []
    for quotation in (q, greedy):
        quotation.refresh_from_db()
        assert quotation.state == Quotation.State.DRAFT and quotation.sent_at is None


def test_a_failing_mail_server_leaves_the_quotation_unsent(s, company_a, monkeypatch):
    q = _quotation(s, company_a, _buyer(company_a, email="buyer@example.com"))

    def refuse(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    with pytest.raises(ConnectionRefusedError):
        sending.quotation_send(quotation=q, actor=None)
    q.refresh_from_db()
    assert q.state == Quotation.State.DRAFT and q.sent_at is None
    assert not TimelineEntry.unscoped.filter(summary__contains="sent").exists()


def test_only_confirmed_orders_are_sent(s, company_a):
    buyer = _buyer(company_a, email="buyer@example.com")
    draft = documents.order_create(company=company_a, actor=None, party=buyer,
                                   lines=[{"product": item(company_a), "quantity": D(1)}])  # fmt: skip
    with pytest.raises(ValidationError, match="only a confirmed order"):
        sending.order_send(order=draft, actor=None)
    assert mail.outbox == []
