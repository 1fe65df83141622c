"""Supplier scorecards, computed from the purchase data whenever asked (nothing is stored).

For one supplier or many at once, in three queries whatever their number: the order lines,
the inspections (summed per supplier) and the RFQ invitations. Only orders that were approved
(approved, sent, confirmed or done) count, and the period (`since`, `until`, both included)
applies to the order date, and to the RFQ date for invitations.

Measures (percentages as Decimals rounded to 0.1; None when there is nothing to measure):

- on-time delivery: of the order lines that received anything, the share whose last receipt
  (`last_received_at`, local date) is not after the promised date, or the need date when the
  supplier promised none;
- quantity accuracy: per line received in full or closed, 100 − |received − ordered| /
  ordered × 100 (at least 0), averaged over those lines;
- quality acceptance: Σ accepted / Σ inspected over the inspections of the supplier's lines;
  100 when nothing was inspected (`inspected` is then 0, and the measure counts as neutral);
- price variance: per order line, the net unit price (after discount) against the previous
  order line of the same supplier and product in the same currency (orders before the period
  count as previous), averaged; positive means dearer;
- RFQ responsiveness: of the invitations sent (sent, answered, declined), the share answered
  (a decline is an answer), and the average hours from sending to answer.

The overall score (0–100) weighs on-time 35, quantity accuracy 20, quality 25, price 10 and
responsiveness 10. The price measure scores 100 − 5 × variance (a price 10 % dearer scores 50),
within 0–100. A measure without data is neutral: it is left out and the weights of the others
are scaled up to 100; a supplier with no data at all has no overall score (None)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Sum
from django.utils import timezone

from xietong.core.models import Company
from xietong.party.models import Party
from xietong.purchase.models import Inspection, PurchaseOrder, PurchaseOrderLine, RfqSupplier

ZERO = Decimal(0)
HUNDRED = Decimal(100)
TENTH = Decimal("0.1")

WEIGHTS = {"on_time": 35, "quantity": 20, "quality": 25, "price": 10, "responsiveness": 10}
PRICE_FACTOR = Decimal(5)  # score points lost per percent dearer

COUNTED = (
    PurchaseOrder.State.APPROVED,
    PurchaseOrder.State.SENT,
    PurchaseOrder.State.CONFIRMED,
    PurchaseOrder.State.DONE,
)
ASKED = (RfqSupplier.State.SENT, RfqSupplier.State.ANSWERED, RfqSupplier.State.DECLINED)
ANSWERED = (RfqSupplier.State.ANSWERED, RfqSupplier.State.DECLINED)


def _round(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(TENTH, rounding=ROUND_HALF_UP)


def _share(part: Decimal | int, whole: Decimal | int) -> Decimal | None:
    return _round(Decimal(part) * HUNDRED / Decimal(whole)) if whole else None


def _mean(values: list[Decimal]) -> Decimal | None:
    return _round(sum(values, ZERO) / len(values)) if values else None


@dataclass(frozen=True)
class Scorecard:
    """A supplier's performance in a period; see the module's docstring for the measures."""

    supplier_id: int
    orders: int
    lines: int
    on_time_percent: Decimal | None
    delivered_lines: int  # lines that received anything (the on-time measure's base)
    quantity_accuracy_percent: Decimal | None
    completed_lines: int  # lines received in full or closed (the accuracy measure's base)
    quality_percent: Decimal
    inspected: Decimal
    accepted: Decimal
    price_variance_percent: Decimal | None
    priced_lines: int  # lines with a previous price to compare with
    rfq_invitations: int
    rfq_response_percent: Decimal | None
    rfq_response_hours: Decimal | None
    overall: Decimal | None


@dataclass
class _Tally:
    orders: set[int] = field(default_factory=set)
    lines: int = 0
    delivered: int = 0
    on_time: int = 0
    accuracy: list[Decimal] = field(default_factory=list)
    variance: list[Decimal] = field(default_factory=list)


def _overall(measures: dict[str, Decimal | None]) -> Decimal | None:
    weight = sum(WEIGHTS[name] for name, value in measures.items() if value is not None)
    if not weight:
        return None
    total = sum(
        (WEIGHTS[name] * value for name, value in measures.items() if value is not None), ZERO
    )
    return _round(total / weight)


def scorecards(
    *,
    company: Company,
    suppliers: Iterable[Party | int] | None = None,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> dict[int, Scorecard]:
    """The scorecards of `suppliers` (parties or pks; every supplier with data when None),
    by party pk, for orders dated in [`since`, `until`]. A supplier asked for without data gets
    a scorecard of None measures. Reads only, three queries."""
    wanted = None if suppliers is None else {getattr(s, "pk", s) for s in suppliers}
    lines = PurchaseOrderLine.objects.filter(order__company=company, order__state__in=COUNTED)
    inspections = Inspection.unscoped.filter(company=company, order_line__order__state__in=COUNTED)
    invitations = RfqSupplier.objects.filter(rfq__company=company, state__in=ASKED)
    if wanted is not None:
        lines = lines.filter(order__party_id__in=wanted)
        inspections = inspections.filter(order_line__order__party_id__in=wanted)
        invitations = invitations.filter(supplier_id__in=wanted)
    if until is not None:
        lines = lines.filter(order__date__lte=until)  # earlier ones give the previous prices
        inspections = inspections.filter(order_line__order__date__lte=until)
        invitations = invitations.filter(rfq__date__lte=until)
    if since is not None:
        inspections = inspections.filter(order_line__order__date__gte=since)
        invitations = invitations.filter(rfq__date__gte=since)

    tallies: dict[int, _Tally] = defaultdict(lambda: _Tally())
    previous: dict[tuple[int, int, str], Decimal] = {}
    rows = lines.order_by("order__date", "order_id", "sequence", "pk").values_list(
        "order__party_id", "order_id", "order__date", "order__currency_id", "product_id",
        "quantity", "unit_price", "discount", "qty_received", "last_received_at",
        "promised_date", "need_date", "closed",
    )  # fmt: skip
    for (party, order, date, currency, product, quantity, unit_price, discount, received,
         received_at, promised, needed, closed) in rows:  # fmt: skip
        net = unit_price * (1 - discount / HUNDRED)
        key = (party, product, currency)
        before = previous.get(key)
        previous[key] = net
        if since is not None and date < since:
            continue
        tally = tallies[party]
        tally.orders.add(order)
        tally.lines += 1
        if before is not None and before > 0:
            tally.variance.append((net - before) * HUNDRED / before)
        if received_at is not None and received > 0:
            tally.delivered += 1
            if timezone.localdate(received_at) <= (promised or needed):
                tally.on_time += 1
        if quantity > 0 and (received >= quantity or closed):
            off = abs(received - quantity) * HUNDRED / quantity
            tally.accuracy.append(max(ZERO, HUNDRED - off))

    checked = {
        party: (total or ZERO, accepted or ZERO)
        for party, total, accepted in inspections.values("order_line__order__party_id")
        .annotate(total=Sum("quantity"), accepted=Sum("accepted"))
        .values_list("order_line__order__party_id", "total", "accepted")
    }
    asked: dict[int, list[Any]] = defaultdict(list)
    for supplier, state, sent_at, answered_at in invitations.values_list(
        "supplier_id", "state", "sent_at", "answered_at"
    ):
        asked[supplier].append((state, sent_at, answered_at))

    parties = set(tallies) | set(checked) | set(asked) if wanted is None else wanted
    out = {}
    for party in parties:
        tally = tallies.get(party) or _Tally()
        inspected, accepted = checked.get(party, (ZERO, ZERO))
        quality = _share(accepted, inspected)
        answers = asked.get(party, [])
        replied = [(sent, done) for state, sent, done in answers if state in ANSWERED]
        hours = [
            Decimal((done - sent).total_seconds()) / 3600
            for sent, done in replied
            if sent is not None and done is not None
        ]
        on_time = _share(tally.on_time, tally.delivered)
        accuracy = _mean(tally.accuracy)
        variance = _mean(tally.variance)
        response = _share(len(replied), len(answers))
        price_score = (
            None if variance is None else min(HUNDRED, max(ZERO, HUNDRED - PRICE_FACTOR * variance))
        )
        overall = _overall(
            {
                "on_time": on_time,
                "quantity": accuracy,
                "quality": quality,
                "price": price_score,
                "responsiveness": response,
            }  # fmt: skip
        )
        out[party] = Scorecard(
            supplier_id=party,
            orders=len(tally.orders),
            lines=tally.lines,
            on_time_percent=on_time,
            delivered_lines=tally.delivered,
            quantity_accuracy_percent=accuracy,
            completed_lines=len(tally.accuracy),
            quality_percent=quality if quality is not None else HUNDRED,
            inspected=Decimal(inspected).normalize() if inspected else ZERO,
            accepted=Decimal(accepted).normalize() if accepted else ZERO,
            price_variance_percent=variance,
            priced_lines=len(tally.variance),
            rfq_invitations=len(answers),
            rfq_response_percent=response,
            rfq_response_hours=_mean(hours),
            overall=overall,
        )
    return out


def scorecard(
    *,
    company: Company,
    supplier: Party | int,
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> Scorecard:
    """One supplier's scorecard (see `scorecards`)."""
    pk = getattr(supplier, "pk", supplier)
    return scorecards(company=company, suppliers=[pk], since=since, until=until)[pk]
