"""Demo step for sales history: two years (`WEEKS` weeks up to last week) of the main company's
past sales, so that the 7P customer analysis and demand forecasting have a history to learn
from. Every document is made through the services with its own past date — nothing is moved
afterwards that the ledger or the stock guard (posted entries and done moves are immutable):

- every `ROUND` weeks, the orders of those weeks (`orders_create`, dated Monday to Friday,
  priced from the customer's price list, a few lines discounted) are confirmed
  (`orders_confirm`), picked and shipped on the last Friday (`stock.moves_done` of both
  delivery steps with that effective date — the set-based path of `pickings_done`, which takes
  no date), invoiced that Friday (`orders_invoice`, posted) and paid in the payment runs of
  later Fridays (`payments_register`) around their due date — most on time, some late, a few
  invoices of bad payers left open;
- the goods come in on the Monday of the first round of every `RECEIPTS`: the bikes (tracked
  by serial number, a serial a unit) out of production, the accessories from the supplier, at
  standard cost (`move_build`, one `moves_done`); the step ships exactly what it receives, so
  it leaves the stock as it found it;
- a few customers return goods from the last weeks' orders (received and credited today: the
  return services take no date).

Customers (CNY, without a credit limit) behave differently — loyal, seasonal, growing,
declining, churned (no order for months), new in the last quarter, occasional big buyers — and
pay differently. Products: mountain and road bikes peaking in spring and summer, a touring bike
and everyday accessories selling smoothly, a cargo rack and a child seat erratically (rare large
orders), spare parts intermittently. The accessories get a list price (they had none).

The fiscal years of the past dates are created (`fiscal_year_create`). Nothing can be posted
in a closed period any more: the orders of weeks whose shipping day lies in one keep their dates
but are shipped and invoiced with the first open round, and a payment falling in one is made in
the next open round. The demo closes its old periods after this step (`finance.close_periods`),
so there the whole history keeps its own dates.

Runs after the sales step (the warehouse and the sales settings). Deterministic: its own random
generator seeded from the demo's seed, so the later steps draw the same numbers as before.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext
from xietong.finance import periods
from xietong.finance.models import FiscalYear, Invoice, Journal, Payment, Period
from xietong.finance.payments import payments_register
from xietong.inventory import pickings, stock
from xietong.inventory.models import Location, Move, Picking, Warehouse
from xietong.inventory.warehouses import virtual_locations
from xietong.party.models import Party, TimelineEntry
from xietong.product.models import Product
from xietong.product.services import product_update
from xietong.sales import billing, documents, returns
from xietong.sales.common import SalesError
from xietong.sales.models import SalesOrder, SalesOrderLine

D = Decimal
WEEKS = 106
# customers per size; the mix of behaviours (shares of the customers)
SIZES = {"small": 48, "medium": 150, "large": 480}
MIX = [("loyal", 0.30), ("seasonal", 0.14), ("growing", 0.12), ("declining", 0.10),
       ("churned", 0.18), ("new", 0.10), ("big", 0.06)]  # fmt: skip
# bikes not stocked by the earlier steps (their serial numbers are all this step's):
# sku, weight in an order, seasonality (0 flat … 1 strong), units per line
BIKES = [
    ("FG-MTB26", 2.6, 0.9, (1, 2)), ("FG-TRAIL29", 1.6, 0.9, (1, 2)),
    ("FG-ROAD-S", 1.4, 0.8, (1, 2)), ("FG-TOUR700", 2.0, 0.3, (1, 2)),
    ("FG-XC29", 0.25, 0.8, (1, 1)),
]  # fmt: skip
# accessories: sku, weight, pattern, units per line (erratic: now and then a large order)
ACCESSORIES = [
    ("PP-BELL", 3.0, "smooth", (5, 20)), ("PP-REFL", 2.4, "smooth", (5, 20)),
    ("PP-GRP-ERGO", 1.8, "smooth", (4, 12)), ("PP-LIGHT-BAT", 1.6, "winter", (3, 12)),
    ("PP-BASKET", 1.4, "summer", (2, 8)),
    ("PP-RACK-HD", 0.5, "erratic", (1, 2)), ("PP-CSEAT", 0.45, "erratic", (1, 2)),
    ("PP-HINGE", 0.08, "intermittent", (1, 3)), ("PP-KICK-C", 0.1, "intermittent", (1, 4)),
    ("PP-SP-DROP", 0.07, "intermittent", (1, 2)),
]  # fmt: skip
MARKUP = D("2.2")  # the accessories' list price over their standard cost
DISCOUNTS = [D(3), D(5), D(5), D(8), D(10)]
ORDER_SCALE = 0.42  # weekly order probabilities below are scaled by this
ROUND = 2  # weeks of orders shipped and invoiced together (on the last Friday)
RECEIPTS = 3  # rounds of sales received together (on the first Monday)


@dataclass
class _Customer:
    party: Party
    kind: str
    start: int  # first week it may order
    end: int  # first week it no longer orders
    rate: float
    payer: str  # "punctual", "late" or "bad"

    def chance(self, week: int, season: float) -> float:
        if not self.start <= week < self.end:
            return 0.0
        share = (week - self.start) / max(1, self.end - self.start)
        rate = self.rate
        if self.kind == "seasonal":
            rate *= 1.6 if season > 1.2 else 0.3
        elif self.kind == "churned":  # ordering less and less often before stopping
            rate *= 1.4 - 1.2 * share
        elif self.kind == "growing":
            rate *= 0.15 + 1.4 * share
        elif self.kind == "declining":
            rate *= 1.5 - 1.35 * share
        else:
            rate *= 0.6 + 0.4 * season
        return min(0.95, rate * ORDER_SCALE)


@dataclass
class _Item:
    product: Product
    weight: float
    pattern: str  # "bike", "smooth", "winter", "summer", "erratic", "intermittent"
    seasonality: float
    units: tuple[int, int]


@dataclass
class _Round:
    """`ROUND` weeks of orders, shipped and invoiced on the last Friday."""

    monday: dt.date
    specs: list[dict[str, Any]] = field(default_factory=list)
    buyers: list[_Customer] = field(default_factory=list)
    received: bool = False

    @property
    def friday(self) -> dt.date:
        return self.monday + dt.timedelta(weeks=ROUND - 1, days=4)


def season(day: dt.date) -> float:
    """Spring and summer peak (mid-June) of the bike trade: 0.45 in December … 1.55 in June."""
    return 1 + 0.55 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 166) / 365.25)


def run(ctx: DemoContext) -> None:
    company = ctx.companies["main"]
    with company_scope(company):
        History(ctx, company).run()


class History:
    def __init__(self, ctx: DemoContext, company: Any) -> None:
        self.ctx, self.company = ctx, company
        self.rng = random.Random(f"sales-history-{ctx.seed}")
        self.rep = ctx.users["sales_rep"]
        self.clerk = ctx.users.get("warehouse_clerk")
        self.accountant = ctx.users["accountant"]
        self.today = timezone.localdate()
        this_monday = self.today - dt.timedelta(days=self.today.weekday())
        first = this_monday - dt.timedelta(weeks=WEEKS)
        self.rounds = [_Round(first + dt.timedelta(weeks=n)) for n in range(0, WEEKS, ROUND)]
        # the payment runs: Friday → the invoices paid in it
        self.due: dict[dt.date, list[Invoice]] = defaultdict(list)
        self.serials: dict[int, int] = defaultdict(int)  # serial numbers given, by product
        self.counts = dict.fromkeys(("orders", "lines", "invoices", "payments", "returns"), 0)

    # --- setting up ---------------------------------------------------------------------------

    def run(self) -> None:
        self.warehouse = Warehouse.unscoped.get(company=self.company, code="SH")
        self.bank = (
            Journal.unscoped.filter(company=self.company, kind="bank", currency__isnull=True)
            .order_by("pk")
            .first()
        )
        self.items = self._items()
        self.customers = self._customers()
        if not self.items or not self.customers or self.bank is None:
            self.ctx.log.append("sales history: nothing to do (no products, customers or bank)")
            return
        self._fiscal_years()
        self.closed = list(
            Period.unscoped.filter(company=self.company, state=Period.State.CLOSED)
            .values_list("start", "end")
        )  # fmt: skip
        places = virtual_locations(company=self.company)
        self.origins = {
            "bike": places[Location.Usage.PRODUCTION], "part": places[Location.Usage.SUPPLIER],
        }  # fmt: skip
        self._plan()
        held = _Round(self.rounds[0].monday)  # the orders of rounds in closed periods
        late = 0
        for n, batch in enumerate(self.rounds):
            if self._is_closed(batch.friday):
                held.specs += batch.specs
                held.buyers += batch.buyers
                late += ROUND
            else:
                if not batch.received:
                    self._receive(self.rounds[n : n + RECEIPTS])
                if held.specs:
                    self._receive([_Round(batch.monday, held.specs)])
                    batch.specs[:0], batch.buyers[:0] = held.specs, held.buyers
                    held = _Round(batch.monday)
                if batch.specs:
                    self._round(batch)
            self._payment_run(n)
        self.counts["weeks"] = WEEKS
        self._returns()
        c = self.counts
        note = (
            f" (the orders of {late} weeks in closed periods shipped and invoiced in the next "
            "open one)"
            if late
            else ""
        )
        self.ctx.log.append(
            f"sales history: {len(self.customers)} customers, {c['orders']} orders, "
            f"{c['lines']} lines over {c['weeks']} weeks from {self.rounds[0].monday}, "
            f"{c['invoices']} invoices, {c['payments']} payments, {c['returns']} returns "
            f"credited{note}"
        )

    def _items(self) -> list[_Item]:
        found = {
            p.sku: p
            for p in Product.unscoped.filter(
                company=self.company, active=True, type=Product.Type.STOCKABLE,
                sku__in=[sku for sku, *_r in BIKES + ACCESSORIES],
            )
        }  # fmt: skip
        items = [
            _Item(found[sku], weight, "bike", seasonality, units)
            for sku, weight, seasonality, units in BIKES
            if sku in found and found[sku].list_price > 0
        ]
        for sku, weight, pattern, units in ACCESSORIES:
            product = found.get(sku)
            if product is None or product.tracking != Product.Tracking.NONE:
                continue
            if product.list_price <= 0:
                price = (max(product.standard_cost, D(1)) * MARKUP).quantize(D(1))
                product_update(product=product, actor=self.ctx.users.get("admin"),
                               list_price=price)  # fmt: skip
            items.append(_Item(product, weight, pattern, 0.0, units))
        return items

    def _customers(self) -> list[_Customer]:
        parties = list(
            Party.unscoped.filter(
                company=self.company, is_customer=True, active=True, currency_id="CNY",
                credit_limit__isnull=True,
            ).order_by("code")[: SIZES[self.ctx.size]]
        )  # fmt: skip
        rng, last = self.rng, WEEKS
        kinds = [kind for kind, share in MIX for _ in range(max(1, round(share * len(parties))))]
        customers = []
        for n, party in enumerate(parties):
            kind = kinds[n % len(kinds)]
            start, end = rng.randint(0, 12), last
            rate = rng.uniform(0.45, 0.8)
            if kind == "loyal":
                start = rng.randint(0, 2)
            elif kind == "growing":
                start = rng.randint(0, 40)
            elif kind == "churned":
                start, end = rng.randint(0, 20), rng.randint(35, last - 16)
            elif kind == "new":
                start = rng.randint(last - 13, last - 3)
            elif kind == "big":
                rate = rng.uniform(0.06, 0.1)
            elif kind == "seasonal":
                start = rng.randint(0, 20)
            payer = "bad" if n % 10 == 7 else "late" if n % 5 == 2 else "punctual"
            customers.append(_Customer(party, kind, start, end, rate, payer))
        return customers

    def _fiscal_years(self) -> None:
        """The fiscal years of the history's dates, through the finance service."""
        day = self.rounds[0].monday
        while day <= self.today:
            start = periods.fiscal_year_start(self.company, day)
            if not FiscalYear.unscoped.filter(company=self.company, start=start).exists():
                periods.fiscal_year_create(company=self.company, start=start,
                                           actor=self.accountant)  # fmt: skip
            day = FiscalYear.unscoped.get(company=self.company, start=start).end + dt.timedelta(1)

    def _is_closed(self, day: dt.date) -> bool:
        return any(start <= day <= end for start, end in self.closed)

    # --- the plan -----------------------------------------------------------------------------

    def _plan(self) -> None:
        """Who orders what in each week (deterministic)."""
        rng = self.rng
        for n in range(WEEKS):
            batch = self.rounds[n // ROUND]
            monday = batch.monday + dt.timedelta(weeks=n % ROUND)
            factor = season(monday)
            weights = [self._weight(item, monday, factor) for item in self.items]
            for customer in self.customers:
                if rng.random() >= customer.chance(n, factor):
                    continue
                count = min(len(self.items), 1 + sum(rng.random() < 0.45 for _ in range(3)))
                chosen: list[_Item] = []
                while len(chosen) < count:
                    item = rng.choices(self.items, weights=weights)[0]
                    if item not in chosen:
                        chosen.append(item)
                lines = [self._line(item, customer) for item in chosen]
                batch.specs.append({
                    "party": customer.party, "lines": lines,
                    "date": monday + dt.timedelta(days=rng.randint(0, 4)),
                })  # fmt: skip
                batch.buyers.append(customer)

    @staticmethod
    def _weight(item: _Item, day: dt.date, factor: float) -> float:
        if item.pattern == "bike":
            return item.weight * (1 - item.seasonality + item.seasonality * factor)
        if item.pattern == "summer":
            return item.weight * factor
        if item.pattern == "winter":
            return item.weight * (2.2 - factor)
        return item.weight

    def _line(self, item: _Item, customer: _Customer) -> dict[str, Any]:
        rng = self.rng
        low, high = item.units
        quantity = rng.randint(low, high)
        if item.pattern == "erratic" and rng.random() < 0.25:
            quantity = rng.randint(12, 40)
        if customer.kind == "big":
            quantity *= rng.randint(4, 8)
        line: dict[str, Any] = {"product": item.product, "quantity": D(quantity)}
        if customer.kind == "big":
            line["discount"] = D(rng.choice([10, 12, 15]))
        elif rng.random() < 0.15:
            line["discount"] = rng.choice(DISCOUNTS)
        return line

    # --- a round of orders --------------------------------------------------------------------

    def _round(self, batch: _Round) -> None:
        orders = documents.orders_create(company=self.company, actor=self.rep, orders=batch.specs)
        orders = documents.orders_confirm(orders=orders, actor=self.rep)
        confirmed = [o for o in orders if o.state == SalesOrder.State.CONFIRMED]
        buyers = {o.pk: c for o, c in zip(orders, batch.buyers, strict=True)}
        line_ids = list(
            SalesOrderLine.objects.filter(order__in=confirmed).values_list("pk", flat=True)
        )
        self._ship(batch, line_ids)
        invoices = billing.orders_invoice(orders=confirmed, actor=self.accountant,
                                          date=batch.friday, post=True)  # fmt: skip
        self._schedule(invoices, buyers)
        self._backdate(batch, confirmed, line_ids)
        self.counts["orders"] += len(confirmed)
        self.counts["lines"] += len(line_ids)
        self.counts["invoices"] += len(invoices)

    def _receive(self, rounds: list[_Round]) -> None:
        """What the rounds sell comes in on the first one's Monday (or its first open day):
        bikes from production with a serial number a unit, accessories from the supplier, at
        standard cost. Rounds in closed periods are received with the next open one."""
        wanted: dict[int, D] = defaultdict(D)
        products = {}
        for batch in rounds:
            if self._is_closed(batch.friday) or batch.received:
                continue
            batch.received = True
            for spec in batch.specs:
                for line in spec["lines"]:
                    wanted[line["product"].pk] += line["quantity"]
                    products[line["product"].pk] = line["product"]
        if not wanted:
            return
        day = rounds[0].monday
        while self._is_closed(day):
            day += dt.timedelta(days=1)
        stock_location = self.warehouse.stock_location
        moves = []
        for pk in sorted(wanted):
            product, quantity = products[pk], wanted[pk]
            cost = max(product.standard_cost, D("0.01")).quantize(D("0.01"))
            serial = product.tracking == Product.Tracking.SERIAL
            origin = self.origins["bike" if serial else "part"]
            batches: list[tuple[D, Any]] = [(quantity, None)]
            if serial:
                batches = [
                    (D(1), stock.lot_create(
                        company=self.company, product=product,
                        name=f"{product.sku}-{day:%y%m}{n:05d}",
                    ))
                    for n in range(self.serials[pk] + 1, self.serials[pk] + int(quantity) + 1)
                ]  # fmt: skip
                self.serials[pk] += int(quantity)
            moves += [
                stock.move_build(
                    company=self.company, product=product, quantity=amount, lot=lot,
                    from_location=origin, to_location=stock_location,
                    planned_date=day, unit_cost=cost,
                    origin=f"{'MO' if serial else 'PO'}/HIST/{day:%y%m%d}",
                    actor=self.clerk,
                )
                for amount, lot in batches
            ]  # fmt: skip
        moves = Move.unscoped.bulk_create(moves)
        stock.moves_done(moves=moves, actor=self.clerk, effective_date=day)

    def _ship(self, batch: _Round, line_ids: list[int]) -> None:
        """Both delivery steps (pick, then ship) of the round's orders done on its Friday."""
        tagged = Move.unscoped.filter(source_type=documents.LINE_SOURCE, source_id__in=line_ids)
        open_moves = tagged.exclude(state__in=[Move.State.DONE, Move.State.CANCELLED])
        open_moves.update(planned_date=batch.friday)
        Picking.unscoped.filter(pk__in=tagged.values("picking_id")).update(
            scheduled_date=batch.friday
        )
        for _step in range(3):
            ready = list(open_moves.filter(state=Move.State.ASSIGNED).order_by("pk"))
            if not ready:
                break
            stock.moves_done(moves=ready, actor=self.clerk, effective_date=batch.friday)
        every = list(tagged.order_by("pk"))
        pickings.pickings_refresh(moves=every)
        done_at = timezone.make_aware(dt.datetime.combine(batch.friday, dt.time(16)))
        Picking.unscoped.filter(pk__in={m.picking_id for m in every}).update(
            done_at=done_at, created_at=done_at - dt.timedelta(days=3)
        )

    def _schedule(self, invoices: list[Invoice], buyers: dict[int, _Customer]) -> None:
        """When each invoice will be paid: on its due date or a little before (punctual), weeks
        late (late), much later or never (bad); in the Friday payment run of that week."""
        rng = self.rng
        last = self.rounds[-1].friday
        for invoice in invoices:
            customer = buyers.get(invoice.source_id or 0)
            payer = customer.payer if customer else "punctual"
            due = invoice.due_date or invoice.date
            if payer == "punctual":
                day = due + dt.timedelta(days=rng.randint(-6, 4))
            elif payer == "late":
                day = due + dt.timedelta(days=rng.randint(10, 60))
            elif rng.random() < 0.25:
                continue  # never paid
            else:
                day = due + dt.timedelta(days=rng.randint(30, 120))
            day = max(day, invoice.date)
            run = next((r.friday for r in self.rounds if r.friday >= day), None)
            if run is not None and run <= last:
                self.due[run].append(invoice)

    def _payment_run(self, n: int) -> None:
        friday = self.rounds[n].friday
        if self._is_closed(friday) and n + 1 < len(self.rounds):
            self.due[self.rounds[n + 1].friday] += self.due.pop(friday, [])
            return
        invoices = self.due.pop(friday, [])
        if not invoices:
            return
        paid = payments_register(invoices=invoices, journal=self.bank, date=friday,
                                 actor=self.accountant)  # fmt: skip
        self.counts["payments"] += len(paid)
        self._timeline(Payment, [p.pk for p in paid], friday)

    def _backdate(self, batch: _Round, orders: list[SalesOrder], line_ids: list[int]) -> None:
        """Dates that are not the ledger's or the stock's: when each order was confirmed and
        its timeline entries, the lines' promised date; the invoices' timeline entries."""
        by_day: dict[dt.date, list[int]] = defaultdict(list)
        for order in orders:
            by_day[order.date].append(order.pk)
        for day, ids in by_day.items():
            when = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
            SalesOrder.unscoped.filter(pk__in=ids).update(confirmed_at=when, created_at=when)
            self._timeline(SalesOrder, ids, day)
        SalesOrderLine.objects.filter(pk__in=line_ids).update(promise_date=batch.friday)
        self._timeline(
            Invoice,
            list(Invoice.unscoped.filter(source_type=documents.ORDER_SOURCE,
                                         source_id__in=[o.pk for o in orders])
                 .values_list("pk", flat=True)),
            batch.friday,
        )  # fmt: skip

    def _timeline(self, model: Any, ids: list[int], day: dt.date) -> None:
        if ids:
            TimelineEntry.unscoped.filter(
                source_type=ContentType.objects.get_for_model(model),
                source_id__in=[str(pk) for pk in ids],
            ).update(occurred_at=timezone.make_aware(dt.datetime.combine(day, dt.time(11))))

    # --- returns ------------------------------------------------------------------------------

    def _returns(self) -> None:
        """A few customers send back part of an accessory line of the last weeks' orders: it
        is received into stock and credited (today: the return services take no date)."""
        since = self.today - dt.timedelta(days=20)
        lines = list(
            SalesOrderLine.objects.filter(
                order__company=self.company, order__date__gte=since,
                order__state=SalesOrder.State.DONE, product__tracking=Product.Tracking.NONE,
                order__party__in=[c.party for c in self.customers], quantity__gte=2,
            ).select_related("order").order_by("pk")
        )  # fmt: skip
        made = 0
        for line in self.rng.sample(lines, k=min(3, len(lines))):
            try:
                rma = returns.return_create(
                    order=line.order, actor=self.rep, reason="质量问题 Quality issue",
                    lines=[{"order_line": line, "quantity": D(1)}],
                )  # fmt: skip
                rma = returns.return_receive(rma=rma, actor=self.clerk)
                returns.return_credit(rma=rma, actor=self.accountant, refund_journal=self.bank)
                made += 1
            except (SalesError, ValidationError) as exc:
                self.ctx.log.append(f"sales history: no return of {line.order} ({exc})")
        self.counts["returns"] = made
