"""Supplier scorecards on a small dataset computed by hand, and their query count."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from xietong.purchase.models import (
    Inspection,
    PurchaseOrder,
    PurchaseOrderLine,
    Rfq,
    RfqSupplier,
)
from xietong.purchase.scorecard import WEIGHTS, scorecard, scorecards
from xietong.purchase.tests.factories import D, buying, material, supplier, today

pytestmark = pytest.mark.django_db

_numbers = itertools.count(1)
State = PurchaseOrder.State


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return buying(company_a)


def noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)


def order(b, vendor, date, state=State.APPROVED):  # type: ignore[no-untyped-def]
    return PurchaseOrder.unscoped.create(
        company=b.company, number=f"PO-T{next(_numbers)}", state=state, party=vendor, date=date,
        currency_id=b.company.base_currency_id, warehouse=b.warehouse,
    )  # fmt: skip


def order_line(po, product, quantity, price, *, need, promised=None, received="0",  # type: ignore[no-untyped-def]
               received_on=None, closed=False, discount="0"):  # fmt: skip
    return PurchaseOrderLine.objects.create(
        order=po, sequence=po.lines.count() + 1, product=product, description=product.name,
        quantity=D(quantity), uom=product.uom, unit_price=D(price), discount=D(discount),
        need_date=need, promised_date=promised, qty_received=D(received),
        last_received_at=noon(received_on) if received_on else None, closed=closed,
    )  # fmt: skip


def inspect(line, quantity, accepted):  # type: ignore[no-untyped-def]
    return Inspection.unscoped.create(
        company=line.order.company, order_line=line, date=today(), quantity=D(quantity),
        accepted=D(accepted), rejected=D(quantity) - D(accepted),
    )  # fmt: skip


def invite(b, vendor, state, hours=None, date=None):  # type: ignore[no-untyped-def]
    rfq = Rfq.unscoped.create(
        company=b.company, number=f"RFQ-T{next(_numbers)}", date=date or today(),
        answer_by=today(), warehouse=b.warehouse, currency_id=b.company.base_currency_id,
    )  # fmt: skip
    sent = noon(today()) if state != RfqSupplier.State.INVITED else None
    return RfqSupplier.objects.create(
        rfq=rfq, supplier=vendor, state=state, sent_at=sent,
        answered_at=sent + dt.timedelta(hours=hours) if hours is not None else None,
    )  # fmt: skip


def history(b, vendor, start):  # type: ignore[no-untyped-def]
    """The hand-computed dataset (see test_scorecard_figures)."""
    p, q = material(b.company), material(b.company)
    d = start
    po1 = order(b, vendor, d)
    l1 = order_line(po1, p, "10", "100", need=d + dt.timedelta(days=10),
                    promised=d + dt.timedelta(days=8), received="10",
                    received_on=d + dt.timedelta(days=7))  # fmt: skip
    order_line(po1, q, "20", "50", need=d + dt.timedelta(days=10), received="15",
               received_on=d + dt.timedelta(days=12), closed=True)  # fmt: skip
    po2 = order(b, vendor, d + dt.timedelta(days=20), state=State.DONE)
    l3 = order_line(po2, p, "10", "110", need=d + dt.timedelta(days=30), received="12",
                    received_on=d + dt.timedelta(days=29))  # fmt: skip
    order_line(po2, q, "5", "45", discount="10", need=d + dt.timedelta(days=30))
    inspect(l1, "10", "9")
    inspect(l3, "12", "12")
    # not counted: cancelled and draft orders
    for state in (State.CANCELLED, State.DRAFT):
        other = order(b, vendor, d + dt.timedelta(days=5), state=state)
        bad = order_line(other, p, "10", "500", need=d, received="1",
                         received_on=d + dt.timedelta(days=50))  # fmt: skip
        inspect(bad, "1", "0")
    invite(b, vendor, RfqSupplier.State.SENT)
    invite(b, vendor, RfqSupplier.State.ANSWERED, hours=24)
    invite(b, vendor, RfqSupplier.State.DECLINED, hours=12)
    invite(b, vendor, RfqSupplier.State.INVITED)  # not sent: not counted
    return p, q


def test_scorecard_figures(b, company_a):
    vendor = supplier(company_a)
    start = today() - dt.timedelta(days=60)
    history(b, vendor, start)
    card = scorecard(company=company_a, supplier=vendor)
    assert (card.orders, card.lines) == (2, 4)
    # lines received: 1 on time (before its promise), 2 late (need date, no promise), 3 on time
    assert (card.delivered_lines, card.on_time_percent) == (3, D("66.7"))
    # received in full or closed: 100, 100 − 5/20 → 75, 100 − 2/10 → 80
    assert (card.completed_lines, card.quantity_accuracy_percent) == (3, D("85.0"))
    # 21 accepted of 22 inspected
    assert (card.inspected, card.accepted, card.quality_percent) == (D(22), D(21), D("95.5"))
    # p: 110 vs 100 → +10 %; q: 45 − 10 % = 40.5 vs 50 → −19 %
    assert (card.priced_lines, card.price_variance_percent) == (2, D("-4.5"))
    # 3 invitations sent, 2 answered (one a decline) in 24 h and 12 h
    assert card.rfq_invitations == 3
    assert (card.rfq_response_percent, card.rfq_response_hours) == (D("66.7"), D("18.0"))
    # price score capped at 100
    expected = (35 * D("66.7") + 20 * D("85.0") + 25 * D("95.5") + 10 * 100 + 10 * D("66.7")) / 100
    assert sum(WEIGHTS.values()) == 100
    assert card.overall == D("80.9") == expected.quantize(D("0.1"))


def test_scorecard_period_and_neutral_measures(b, company_a):
    vendor, newcomer, asked_only = supplier(company_a), supplier(company_a), supplier(company_a)
    start = today() - dt.timedelta(days=60)
    history(b, vendor, start)
    invite(b, asked_only, RfqSupplier.State.ANSWERED, hours=6)
    invite(b, asked_only, RfqSupplier.State.SENT)
    cards = scorecards(company=company_a, suppliers=[vendor, newcomer, asked_only.pk],
                       since=start + dt.timedelta(days=20))  # fmt: skip
    later = cards[vendor.pk]
    assert (later.orders, later.lines) == (1, 2)
    assert later.on_time_percent == D(100) and later.quantity_accuracy_percent == D(80)
    assert later.price_variance_percent == D("-4.5")  # earlier orders give the last price
    assert (later.inspected, later.quality_percent) == (D(12), D(100))
    fresh = cards[newcomer.pk]
    assert (fresh.orders, fresh.lines, fresh.inspected, fresh.quality_percent) == (0, 0, 0, 100)
    assert fresh.on_time_percent is None and fresh.quantity_accuracy_percent is None
    assert fresh.price_variance_percent is None and fresh.rfq_response_percent is None
    assert fresh.overall is None
    asked = cards[asked_only.pk]
    assert asked.rfq_response_percent == D(50) and asked.rfq_response_hours == D("6.0")
    assert asked.overall == D(50)  # the only measure with data
    everyone = scorecards(company=company_a)
    assert set(everyone) == {vendor.pk, asked_only.pk}
    assert everyone[vendor.pk] == scorecard(company=company_a, supplier=vendor)
    until = scorecard(company=company_a, supplier=vendor, until=start + dt.timedelta(days=19))
    assert (until.orders, until.priced_lines, until.rfq_invitations) == (1, 0, 0)  # RFQs: today


def test_other_company_is_not_counted(b, company_a, company_b):
    vendor = supplier(company_a)
    history(b, vendor, today() - dt.timedelta(days=60))
    assert scorecards(company=company_b) == {}


def test_query_count_does_not_grow_with_suppliers(b, company_a):
    vendors = [supplier(company_a) for _ in range(5)]
    for n, vendor in enumerate(vendors):
        history(b, vendor, today() - dt.timedelta(days=60 + n))
    with CaptureQueriesContext(connection) as one:
        scorecards(company=company_a, suppliers=vendors[:1])
    with CaptureQueriesContext(connection) as five:
        cards = scorecards(company=company_a, suppliers=vendors)
    assert len(five) == len(one) == 3
    assert {card.overall for card in cards.values()} == {D("80.9")}
