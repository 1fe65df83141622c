"""Requests for quotation: creation from lines and requisitions, invitations, sending by
e-mail, the suppliers' answers, the comparison and the award into purchase orders."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from xietong.core.tenancy import company_scope
from xietong.party.models import TimelineEntry
from xietong.party.services import contact_create, party_create
from xietong.purchase import rfqs
from xietong.purchase.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Requisition,
    RequisitionLine,
    Rfq,
    RfqBid,
    RfqLine,
    RfqSupplier,
)
from xietong.purchase.tests.factories import D, buying, material, supplier, today

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)
LState = RequisitionLine.State


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return buying(company_a)


def requisition(b, *lines, state=Requisition.State.APPROVED):  # type: ignore[no-untyped-def]
    """A requisition of `lines` ((product, quantity, days from today to the need date))."""
    req = Requisition.unscoped.create(
        company=b.company, number=f"PR-T{next(_numbers)}", state=state, date=today(),
        warehouse=b.warehouse,
    )  # fmt: skip
    return [
        RequisitionLine.objects.create(
            requisition=req,
            sequence=n,
            product=product,
            description=product.name,
            quantity=D(quantity),
            uom=product.uom,
            need_date=today() + dt.timedelta(days=days),
        )  # fmt: skip
        for n, (product, quantity, days) in enumerate(lines, start=1)
    ]


def counts(company):  # type: ignore[no-untyped-def]
    """What a refused service must leave as it was."""
    return (
        Rfq.unscoped.filter(company=company).count(),
        RfqLine.objects.filter(rfq__company=company).count(),
        RfqSupplier.objects.filter(rfq__company=company).count(),
        sorted(RfqSupplier.objects.filter(rfq__company=company).values_list("pk", "state")),
        sorted(
            RfqBid.objects.filter(line__rfq__company=company).values_list(
                "pk", "unit_price", "awarded_quantity", "order_line"
            )
        ),
        sorted(Rfq.unscoped.filter(company=company).values_list("pk", "state")),
        PurchaseOrder.unscoped.filter(company=company).count(),
        sorted(
            RequisitionLine.objects.filter(requisition__company=company).values_list(
                "pk", "state", "rfq_line", "order_line"
            )
        ),
        TimelineEntry.unscoped.filter(company=company).count(),
    )


def refused(company, call, field):  # type: ignore[no-untyped-def]
    """`call()` raises a ValidationError naming `field` and writes nothing."""
    before = counts(company)
    with pytest.raises(ValidationError) as caught:
        call()
    assert any(key == field or key.startswith(f"{field}.") for key in caught.value.error_dict), (
        caught.value.error_dict
    )
    assert counts(company) == before
    return caught.value


def quoted(b, lines=(("10", 10),), vendors=2):  # type: ignore[no-untyped-def]
    """An RFQ of `lines` ((quantity, need in days)) of new materials, sent to `vendors` new
    suppliers (marked sent without e-mail); returns (rfq, rfq lines, invitations)."""
    rfq = rfqs.rfq_create(
        company=b.company, actor=None,
        lines=[{"product": material(b.company), "quantity": D(q),
                "need_date": today() + dt.timedelta(days=days)} for q, days in lines],
        suppliers=[supplier(b.company, email=f"s{next(_numbers)}@example.com")
                   for _ in range(vendors)],
    )  # fmt: skip
    RfqSupplier.objects.filter(rfq=rfq).update(state=RfqSupplier.State.SENT,
                                               sent_at=timezone.now())  # fmt: skip
    Rfq.unscoped.filter(pk=rfq.pk).update(state=Rfq.State.SENT)
    return (
        Rfq.unscoped.get(pk=rfq.pk),
        list(rfq.lines.order_by("sequence")),
        list(RfqSupplier.objects.filter(rfq=rfq).select_related("supplier").order_by("pk")),
    )


# --- create -------------------------------------------------------------------------------


def test_rfq_from_requisition_lines_consolidates(b, company_a):
    bolt, nut = material(company_a), material(company_a)
    first = requisition(b, (bolt, "3", 10), (nut, "2", 8))
    second = requisition(b, (bolt, "5", 5))
    vendor = supplier(company_a)
    rfq = rfqs.rfq_create(company=company_a, actor=None, requisition_lines=[*first, *second],
                          suppliers=[vendor, vendor.pk])  # fmt: skip
    assert rfq.state == Rfq.State.DRAFT and rfq.number.startswith("RFQ/")
    assert rfq.answer_by == today() + dt.timedelta(days=b.settings.rfq_answer_days)
    assert rfq.warehouse == b.warehouse and rfq.currency_id == company_a.base_currency_id
    lines = list(rfq.lines.order_by("sequence"))
    assert [(line.product, line.quantity, line.need_date) for line in lines] == [
        (bolt, D(8), today() + dt.timedelta(days=5)),
        (nut, D(2), today() + dt.timedelta(days=8)),
    ]
    for row in RequisitionLine.objects.filter(pk__in=[r.pk for r in [*first, *second]]):
        assert row.state == LState.IN_RFQ
        assert row.rfq_line == (lines[0] if row.product == bolt else lines[1])
    assert list(rfq.suppliers.values_list("supplier", "state")) == [(vendor.pk, "invited")]
    assert TimelineEntry.unscoped.filter(party=vendor, kind="rfq").count() == 1


def test_rfq_from_lines_and_invitations(b, company_a):
    bolt = material(company_a)
    rfq = rfqs.rfq_create(company=company_a, actor=None, lines=[
        {"product": bolt, "quantity": "4", "description": "Bolts M8"}],
        answer_by=today() + dt.timedelta(days=3), notes="Zinc plated")  # fmt: skip
    line = rfq.lines.get()
    assert (line.description, line.quantity, line.uom) == ("Bolts M8", D(4), bolt.uom)
    first, second = supplier(company_a), supplier(company_a)
    assert len(rfqs.rfq_invite(rfq=rfq, suppliers=[first], actor=None)) == 1
    made = rfqs.rfq_invite(rfq=rfq, suppliers=[first, second], actor=None)
    assert [i.supplier for i in made] == [second]
    assert rfq.suppliers.count() == 2


def test_refusals_write_nothing(b, company_a, company_b):
    bolt = material(company_a)
    foreign_product = material(company_b)
    foreign_supplier = supplier(company_b)
    with company_scope(company_a):
        customer = party_create(company=company_a, actor=None, name="Just a customer",
                                is_customer=True)  # fmt: skip
    good = [{"product": bolt, "quantity": "1"}]
    refused(
        company_a,
        lambda: rfqs.rfq_create(
            company=company_a, actor=None, lines=good, suppliers=[foreign_supplier]
        ),
        "suppliers",
    )
    refused(
        company_a,
        lambda: rfqs.rfq_create(company=company_a, actor=None, lines=good, suppliers=[customer]),
        "suppliers",
    )
    refused(company_a, lambda: rfqs.rfq_create(
        company=company_a, actor=None, lines=[{"product": foreign_product, "quantity": "1"}]),
        "lines")  # fmt: skip
    refused(company_a, lambda: rfqs.rfq_create(company=company_a, actor=None), "lines")
    draft = requisition(b, (bolt, "2", 5), state=Requisition.State.DRAFT)
    error = refused(company_a, lambda: rfqs.rfq_create(
        company=company_a, actor=None, requisition_lines=draft, suppliers=[customer]),
        "requisition_lines")  # fmt: skip
    assert "suppliers.1" in error.error_dict  # every bad field at once
    rfq = rfqs.rfq_create(company=company_a, actor=None, lines=good)
    refused(company_a, lambda: rfqs.rfq_invite(rfq=rfq, suppliers=[foreign_supplier],
                                               actor=None), "suppliers")  # fmt: skip


def test_award_refusals_write_nothing(b, company_a):
    rfq, (line,), (one, two) = quoted(b, lines=(("10", 10),))
    rfqs.bids_record(invitation=one, actor=None,
                     bids=[{"line": line, "unit_price": "9", "quantity": "6"}])  # fmt: skip
    rfqs.bids_record(invitation=two, actor=None, bids=[{"line": line.pk, "unit_price": "10"}])
    bid_one = RfqBid.objects.get(invitation=one)
    bid_two = RfqBid.objects.get(invitation=two)
    award = rfqs.rfq_award
    refused(company_a, lambda: award(rfq=rfq, actor=None, awards=[(bid_one, "7")]), "awards")
    refused(company_a, lambda: award(rfq=rfq, actor=None,
                                     awards=[(bid_one, "6"), (bid_two.pk, "5")]),
            "awards")  # fmt: skip
    refused(company_a, lambda: award(rfq=rfq, actor=None, awards=[(bid_two, "11")]), "awards")
    refused(company_a, lambda: award(rfq=rfq, actor=None, awards=[(bid_two, "0")]), "awards")
    refused(company_a, lambda: award(rfq=rfq, actor=None, awards=[]), "awards")
    # a supplier that declined has no bid left to award
    rfqs.invitation_decline(invitation=one, actor=None, reason="Sold out")
    assert not RfqBid.objects.filter(invitation=one).exists()
    refused(company_a, lambda: award(rfq=rfq, actor=None, awards=[(bid_one.pk, "1")]), "awards")
    # nor does an answer put back to unanswered
    RfqSupplier.objects.filter(pk=two.pk).update(state=RfqSupplier.State.SENT)
    refused(company_a, lambda: award(rfq=rfq, actor=None, awards=[(bid_two, "1")]), "awards")
    RfqSupplier.objects.filter(pk=two.pk).update(state=RfqSupplier.State.ANSWERED)
    (order,) = award(rfq=rfq, actor=None, awards=[(bid_two, "10")])
    assert order.party == two.supplier
    # once awarded: no more answers, declines, invitations, sending or awards
    refused(
        company_a,
        lambda: rfqs.bids_record(
            invitation=two, actor=None, bids=[{"line": line, "unit_price": "8"}]
        ),
        "state",
    )
    refused(company_a, lambda: rfqs.invitation_decline(invitation=one, actor=None), "state")
    newcomer = supplier(company_a)
    refused(company_a, lambda: rfqs.rfq_invite(rfq=rfq, suppliers=[newcomer], actor=None),
            "state")  # fmt: skip
    refused(company_a, lambda: rfqs.rfq_send(rfq=rfq, actor=None), "state")
    refused(company_a, lambda: award(rfq=rfq, actor=None, awards=[(bid_two, "1")]), "state")
    refused(company_a, lambda: rfqs.rfq_cancel(rfq=rfq, actor=None), "state")


def test_bids_replace_earlier_ones_and_bad_bids_are_named(b, company_a):
    rfq, (first, second), (one, _two) = quoted(b, lines=(("10", 10), ("4", 10)))
    rfqs.bids_record(invitation=one, actor=None, bids=[
        {"line": first, "unit_price": "9", "lead_time_days": 3},
        {"line": second, "unit_price": "5"}])  # fmt: skip
    error = refused(company_a, lambda: rfqs.bids_record(invitation=one, actor=None, bids=[
        {"line": first, "unit_price": "-1"},
        {"line": first, "unit_price": "2"},
        {"line": second, "unit_price": "2", "quantity": "0", "lead_time_days": "1.5"},
    ]), "bids")  # fmt: skip
    assert set(error.error_dict) == {"bids.1.unit_price", "bids.2.line", "bids.3.quantity",
                                     "bids.3.lead_time_days"}  # fmt: skip
    rfqs.bids_record(invitation=one, actor=None, reference="Q-77",
                     valid_until=today() + dt.timedelta(days=30),
                     bids=[{"line": second, "unit_price": "4.5", "quantity": "3"}])  # fmt: skip
    one.refresh_from_db()
    assert one.state == RfqSupplier.State.ANSWERED and one.answered_at is not None
    assert one.reference == "Q-77"
    assert list(RfqBid.objects.filter(invitation=one).values_list("line", "unit_price",
                                                                  "quantity")) == [
        (second.pk, D("4.5"), D(3))
    ]  # fmt: skip
    assert TimelineEntry.unscoped.filter(party=one.supplier, kind="rfq").count() == 3


# --- sending ------------------------------------------------------------------------------


def pdf_text(data: bytes, name: str = "") -> str:
    """The text of a PDF; with `name`, the PDF is kept in $XIETONG_VAR_DIR/pdf when set."""
    assert data.startswith(b"%PDF")
    if name and os.environ.get("XIETONG_VAR_DIR"):
        out = Path(os.environ["XIETONG_VAR_DIR"]) / "pdf"
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(data)
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True
    ).stdout.decode()


def test_send_mails_each_supplier_its_pdf_in_its_language(b, company_a, mailoutbox):
    chinese = supplier(company_a, name="苏州紧固件有限公司", language="zh-hans",
                       email="sales@suzhou.example.com")  # fmt: skip
    english = supplier(company_a, name="Bolt Works", language="en")
    with company_scope(company_a):
        contact_create(party=english, actor=None, name="Jane Roe", email="jane@bolt.example.com")
    bolt = material(company_a, name="Hex bolt", sku="BOLT-M8")
    rfq = rfqs.rfq_create(company=company_a, actor=None, suppliers=[chinese, english],
                          lines=[{"product": bolt, "quantity": "250"}])  # fmt: skip
    rfqs.rfq_send(rfq=rfq, actor=None)
    assert len(mailoutbox) == 2
    by_address = {tuple(m.to): m for m in mailoutbox}
    to_chinese = by_address[("sales@suzhou.example.com",)]
    to_english = by_address[("jane@bolt.example.com",)]
    for message in (to_chinese, to_english):
        (name, data, kind) = message.attachments[0]
        assert len(message.attachments) == 1 and kind == "application/pdf"
        assert name == rfq.number.replace("/", "-") + ".pdf"
        text = pdf_text(data)
        assert rfq.number in text and "BOLT-M8" in text and "250" in text
    assert rfq.number in to_chinese.subject and rfq.number in to_english.subject
    with translation.override("zh-hans"):
        regards_zh = translation.gettext("Kind regards,")
        price_zh = translation.gettext("Unit price")
    assert regards_zh in to_chinese.body and "Kind regards," in to_english.body
    assert "Dear Jane Roe," in to_english.body
    assert price_zh in pdf_text(to_chinese.attachments[0][1])
    assert "苏州紧固件有限公司" in pdf_text(to_chinese.attachments[0][1], "rfq-zh.pdf")
    rendering = rfqs.rfq_rendering(rfq=rfq, invitation=rfq.suppliers.get(supplier=chinese))
    assert rendering.language == "zh-hans" and 'lang="zh-hans"' in rendering.html()
    rfq.refresh_from_db()
    assert rfq.state == Rfq.State.SENT and rfq.sent_at is not None
    assert set(rfq.suppliers.values_list("state", flat=True)) == {"sent"}
    assert all(rfq.suppliers.values_list("sent_at", flat=True))
    for party in (chinese, english):
        assert TimelineEntry.unscoped.filter(party=party, kind="rfq").count() == 2
    # a supplier invited later is sent alone; nobody left: refused
    late = supplier(company_a, email="late@example.com")
    rfqs.rfq_invite(rfq=rfq, suppliers=[late], actor=None)
    rfqs.rfq_send(rfq=rfq, actor=None)
    assert len(mailoutbox) == 3 and mailoutbox[-1].to == ["late@example.com"]
    refused(company_a, lambda: rfqs.rfq_send(rfq=rfq, actor=None), "suppliers")
    rfqs.rfq_send(rfq=rfq, actor=None, suppliers=[english])  # sent again on demand
    assert len(mailoutbox) == 4


def test_send_refused_for_a_supplier_without_address(b, company_a, mailoutbox):
    mute = supplier(company_a, name="No Mail Ltd")
    fine = supplier(company_a, email="ok@example.com")
    rfq = rfqs.rfq_create(company=company_a, actor=None, suppliers=[fine, mute],
                          lines=[{"product": material(company_a), "quantity": "1"}])  # fmt: skip
    error = refused(company_a, lambda: rfqs.rfq_send(rfq=rfq, actor=None), "suppliers")
    assert "No Mail Ltd" in str(error)
    stranger = supplier(company_a, email="stranger@example.com")
    refused(company_a, lambda: rfqs.rfq_send(rfq=rfq, actor=None, suppliers=[stranger]),
            "suppliers")  # fmt: skip
    assert mailoutbox == []


def test_rfq_pdf_lists_lines_and_answer_date(b, company_a):
    rfq = rfqs.rfq_create(company=company_a, actor=None, suppliers=[supplier(company_a)],
                          lines=[{"product": material(company_a, sku="NUT-M8"), "quantity": "3",
                                  "need_date": today() + dt.timedelta(days=12)}])  # fmt: skip
    text = pdf_text(rfqs.rfq_pdf(rfq=rfq, invitation=rfq.suppliers.get()), "rfq.pdf")
    for expected in (rfq.number, "NUT-M8", f"{rfq.answer_by:%Y-%m-%d}",
                     f"{today() + dt.timedelta(days=12):%Y-%m-%d}", b.warehouse.name):  # fmt: skip
        assert expected in text, expected


# --- comparison ---------------------------------------------------------------------------


def test_comparison_marks_cheapest_fastest_and_recommends(b, company_a):
    rfq, (line,), (late, good, quick) = quoted(b, lines=(("10", 10),), vendors=3)
    rfqs.bids_record(invitation=late, actor=None,
                     bids=[{"line": line, "unit_price": "9", "lead_time_days": 14}])  # fmt: skip
    rfqs.bids_record(invitation=good, actor=None, bids=[
        {"line": line, "unit_price": "10", "lead_time_days": 5, "quantity": "8"}])  # fmt: skip
    rfqs.bids_record(invitation=quick, actor=None,
                     bids=[{"line": line, "unit_price": "11", "lead_time_days": 2}])  # fmt: skip
    (compared,) = rfqs.rfq_comparison(rfq=rfq)
    assert compared.line == line
    rows = {r.supplier: r for r in compared.bids}
    assert [r.supplier for r in compared.bids] == [late.supplier, good.supplier, quick.supplier]
    cheap, fair, fast = rows[late.supplier], rows[good.supplier], rows[quick.supplier]
    assert (cheap.cheapest, fair.cheapest, fast.cheapest) == (True, False, False)
    assert (cheap.fastest, fair.fastest, fast.fastest) == (False, False, True)
    assert cheap.late and not fair.late and not fast.late
    assert cheap.promised_date == rfq.date + dt.timedelta(days=14)
    assert fair.total == D("80.00") and not fair.covers and cheap.covers
    assert compared.recommended is fair and fair.recommended and not cheap.recommended
    # no deliveries yet: scored on answering alone (this RFQ), so all alike
    assert all(r.score == D(100) and r.best_score for r in compared.bids)


def test_comparison_breaks_price_ties_by_score_and_without_per_bid_queries(b, company_a):
    from xietong.purchase.tests.test_scorecard import order, order_line

    rfq, (line,), invitations = quoted(b, lines=(("10", 10),), vendors=4)
    product = material(company_a)
    reliable, sloppy = invitations[0].supplier, invitations[1].supplier
    for vendor, days_late in ((reliable, 0), (sloppy, 5)):
        po = order(b, vendor, today() - dt.timedelta(days=40))
        order_line(po, product, "5", "10", need=today() - dt.timedelta(days=30), received="5",
                   received_on=today() - dt.timedelta(days=30 - days_late))  # fmt: skip
    for invitation in invitations[:2]:
        rfqs.bids_record(
            invitation=invitation,
            actor=None,
            bids=[{"line": line, "unit_price": "10", "lead_time_days": 3}],
        )
    with CaptureQueriesContext(connection) as few:
        rfqs.rfq_comparison(rfq=rfq)
    for invitation in invitations[2:]:  # no deliveries yet: scored on their answers alone
        rfqs.bids_record(
            invitation=invitation,
            actor=None,
            bids=[{"line": line, "unit_price": "11", "lead_time_days": 3}],
        )
    with CaptureQueriesContext(connection) as many:
        (compared,) = rfqs.rfq_comparison(rfq=rfq)
    assert len(many) == len(few)
    rows = {r.supplier: r for r in compared.bids}
    # reliable: on time 100, quantity 100, answers 100; sloppy: on time 0 → 3000 / 65
    assert rows[reliable].score == D(100) and rows[sloppy].score == D("46.2")
    assert rows[reliable].best_score and not rows[sloppy].best_score
    assert [r.cheapest for r in compared.bids] == [True, True, False, False]
    assert all(r.fastest for r in compared.bids)
    assert compared.recommended is rows[reliable]


# --- award and cancel ---------------------------------------------------------------------


def test_award_split_across_two_suppliers(b, company_a):
    bolt, nut, washer = material(company_a), material(company_a), material(company_a)
    reqs = requisition(b, (bolt, "6", 10), (bolt, "4", 12), (nut, "5", 10), (washer, "9", 10))
    one = supplier(company_a, email="one@example.com")
    two = supplier(company_a, email="two@example.com")
    rfq = rfqs.rfq_create(company=company_a, actor=None, requisition_lines=reqs,
                          suppliers=[one, two])  # fmt: skip
    bolts, nuts, washers = rfq.lines.order_by("sequence")
    inv_one, inv_two = rfq.suppliers.order_by("pk")
    rfqs.bids_record(invitation=inv_one, actor=None, reference="Q-1", bids=[
        {"line": bolts, "unit_price": "9", "quantity": "6", "lead_time_days": 4},
        {"line": nuts, "unit_price": "2.5"}])  # fmt: skip
    rfqs.bids_record(invitation=inv_two, actor=None, bids=[
        {"line": bolts, "unit_price": "10"}, {"line": washers, "unit_price": "1"}])  # fmt: skip
    b_one_bolt = RfqBid.objects.get(invitation=inv_one, line=bolts)
    b_one_nut = RfqBid.objects.get(invitation=inv_one, line=nuts)
    b_two_bolt = RfqBid.objects.get(invitation=inv_two, line=bolts)
    orders = rfqs.rfq_award(
        rfq=rfq, actor=None, awards=[(b_one_bolt, "6"), (b_two_bolt.pk, D(4)), (b_one_nut, "5")]
    )  # washers: nothing
    assert [o.party for o in orders] == [one, two]
    po_one, po_two = orders
    assert po_one.rfq == rfq and po_one.state == PurchaseOrder.State.DRAFT
    assert po_one.supplier_reference == "Q-1" and po_one.warehouse == b.warehouse
    assert list(
        po_one.lines.order_by("sequence").values_list(
            "product", "quantity", "unit_price", "need_date"
        )
    ) == [(bolt.pk, D(6), D(9), bolts.need_date), (nut.pk, D(5), D("2.5"), nuts.need_date)]
    assert list(po_two.lines.values_list("product", "quantity", "unit_price")) == [
        (bolt.pk, D(4), D(10))]  # fmt: skip
    assert po_one.amount_untaxed == D("66.5") and po_two.amount_untaxed == D(40)
    one_bolt, one_nut = po_one.lines.order_by("sequence")
    (two_bolt,) = po_two.lines.all()
    for bid, awarded, order_line in ((b_one_bolt, 6, one_bolt), (b_two_bolt, 4, two_bolt),
                                     (b_one_nut, 5, one_nut)):  # fmt: skip
        bid.refresh_from_db()
        assert (bid.awarded_quantity, bid.order_line) == (D(awarded), order_line)
    states = {r.pk: (r.state, r.order_line, r.rfq_line)
              for r in RequisitionLine.objects.filter(pk__in=[r.pk for r in reqs])}  # fmt: skip
    assert states[reqs[0].pk] == (LState.ORDERED, one_bolt, bolts)  # split: the first award
    assert states[reqs[1].pk] == (LState.ORDERED, one_bolt, bolts)
    assert states[reqs[2].pk] == (LState.ORDERED, one_nut, nuts)
    assert states[reqs[3].pk] == (LState.OPEN, None, None)  # awarded nothing: back to sourcing
    rfq.refresh_from_db()
    assert rfq.state == Rfq.State.AWARDED and rfq.awarded_at is not None
    for vendor in (one, two):
        assert (
            TimelineEntry.unscoped.filter(
                party=vendor, kind="rfq", summary__contains="Awarded"
            ).count()
            == 1
        )
    assert PurchaseOrderLine.objects.filter(order__rfq=rfq).count() == 3


def test_cancel_gives_requisition_lines_back(b, company_a):
    bolt = material(company_a)
    reqs = requisition(b, (bolt, "6", 10))
    rfq = rfqs.rfq_create(company=company_a, actor=None, requisition_lines=reqs)
    rfqs.rfq_cancel(rfq=rfq, actor=None)
    rfq.refresh_from_db()
    assert rfq.state == Rfq.State.CANCELLED
    reqs[0].refresh_from_db()
    assert (reqs[0].state, reqs[0].rfq_line) == (LState.OPEN, None)
    # and they may go into another RFQ
    again = rfqs.rfq_create(company=company_a, actor=None, requisition_lines=reqs)
    reqs[0].refresh_from_db()
    assert reqs[0].rfq_line.rfq == again
    refused(
        company_a,
        lambda: rfqs.rfq_create(company=company_a, actor=None, requisition_lines=reqs),
        "requisition_lines",
    )
