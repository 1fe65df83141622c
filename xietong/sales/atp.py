"""Available to promise (ATP): the date each quotation or order line can ship, shown to the
sales rep and stored on the line (`promise_date`, `promise_note`).

`promise_dates` answers a whole document in one call, with a fixed number of queries however
many lines it has (the warehouse's stock locations, on hand per product, the open moves of the
products); everything else is done in memory. Quantities are `Decimal`s in the product's stock
unit. The rules:

- Services and consumables are not checked against stock: they are promised on the day wanted
  (source "stock").
- Stock counts in the warehouse's stock locations (`internal_locations_below` its view
  location: stock, input, quality, packing, output and the shelves below them).
- Free stock now = on hand − what is reserved for open moves leaving the warehouse (a
  delivery's ship move and the pick and pack moves before it). Reservations of moves that stay
  inside the warehouse (put-away, a standalone transfer) keep the stock free.
- Scheduled receipts: open moves (not done or cancelled; drafts included) into a stock location
  of the warehouse from outside it (suppliers, production, transit, another warehouse, customer
  returns), on their planned date.
- Demands: open moves out of the warehouse (to customers, production, scrap…) for what neither
  they nor the open moves of their route before them (pick, pack) have reserved yet, on their
  planned date. Moves moving stock between the warehouse's own locations are neither.
- Moves planned before `today` are late: they count on `today`.
- `exclude_moves` are ignored, with the other open moves of their route (the order's own pick
  and ship moves when a confirmed order is promised again), and their reservations count as
  free stock.
- Projected stock P(t) = free now + receipts − demands planned up to day t. What can be promised
  on day D without taking stock a later demand needs is ATP(D) = min P(t) over t ≥ D (the
  classic cumulative ATP): it grows with D, so a line of quantity q is ready on the first day
  ATP ≥ q and promised on that day or the day wanted, whichever is later (source "stock" when
  it is ready today from stock on hand, "receipt" when it waits for a receipt).
- Lines are promised in the order given; a promised line becomes a demand on its date, so two
  lines of the same product never share the same units.
- When the projection does not cover the quantity, or covers it later than a replenishment
  launched now would: a product made in house (`supply` make) with a manufacturing lead time is
  promised today + that lead time (source "make"), a bought one with a purchase lead time today
  + that lead time (source "buy"), never before the day wanted; the line takes what the
  projection has left by then and the replenishment brings the rest. A configured item is
  promised through the product the caller passes (the configured product).
- Otherwise the line cannot be promised: date None, source "none", and the note says how much
  could be and what is missing.

Reads only; locks nothing.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from xietong.core.models import Company
from xietong.inventory.models import Move, Quant, Warehouse
from xietong.inventory.warehouses import internal_locations_below
from xietong.product.models import Product

ZERO = Decimal(0)
OPEN = (Move.State.DRAFT, Move.State.WAITING, Move.State.ASSIGNED)
NOTE_LENGTH = 200  # SalesOrderLine.promise_note
MAX_REFS = 3  # receipts named in a note

STOCK, RECEIPT, MAKE, BUY, NONE = "stock", "receipt", "make", "buy", "none"


@dataclass(frozen=True)
class AtpRequest:
    """A line to promise: `quantity` of `product` (stock unit) wanted on `wanted`. `key` is
    the caller's handle (a line index), given back on the answer."""

    product: Product
    quantity: Decimal
    wanted: dt.date
    key: Any = None


@dataclass(frozen=True)
class Promise:
    """The answer for one request. `date`: the earliest day the whole quantity can ship (None:
    it cannot be promised). `available_now`: what can be promised today from stock on hand
    without taking what open moves and the earlier requests of the call hold. `source`:
    "stock", "receipt", "make", "buy" or "none". `note`: one sentence for the sales rep."""

    key: Any
    date: dt.date | None
    available_now: Decimal
    source: str
    note: str


def _plain(value: Decimal) -> str:
    """A quantity as people write it: 10, 2.5 (not 1E+1 or 2.500000)."""
    return f"{value.normalize():f}" if value else "0"


class Projection:
    """The projected free stock of one product in one warehouse from `today` on: `free` now,
    and by day the receipts and the demands (negative) to come, with the references of the
    receipts. Pure: no database."""

    def __init__(self, *, today: dt.date, free: Decimal = ZERO) -> None:
        self.today = today
        self.free = free
        self.changes: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
        self.receipts: dict[dt.date, Decimal] = defaultdict(lambda: ZERO)
        self.refs: dict[dt.date, list[str]] = defaultdict(list)
        self._minima: tuple[list[dt.date], list[Decimal]] | None = None

    def add(self, day: dt.date, quantity: Decimal, ref: str = "") -> None:
        """A receipt (quantity > 0, named `ref`) or a demand (< 0) planned on `day` (a late one
        counts today)."""
        day = max(day, self.today)
        self.changes[day] += quantity
        if quantity > 0:
            self.receipts[day] += quantity
            if ref and ref not in self.refs[day]:
                self.refs[day].append(ref)
        self._minima = None

    def copy(self) -> Projection:
        """An independent copy (what is promised on it does not touch this one)."""
        other = Projection(today=self.today, free=self.free)
        other.changes.update(self.changes)
        other.receipts.update(self.receipts)
        other.refs.update((day, list(refs)) for day, refs in self.refs.items())
        return other

    def demand(self, day: dt.date, quantity: Decimal, held: Decimal) -> None:
        """An open move out of the warehouse planned on `day`, of which `held` is reserved
        (for it or the steps of its route before it), as `_projections` counts one."""
        self.free -= held
        self.add(day, -max(quantity - held, ZERO))

    def take(self, day: dt.date, quantity: Decimal) -> None:
        """Promise `quantity` on `day`: it becomes a demand."""
        if quantity > 0:
            self.add(day, -quantity)

    def minima(self) -> tuple[list[dt.date], list[Decimal]]:
        """The days where the projection changes (today first) and ATP on each: the lowest
        projected stock from that day on."""
        if self._minima is None:
            days = sorted({self.today, *self.changes})
            level, levels = self.free, []
            for day in days:
                level += self.changes.get(day, ZERO)
                levels.append(level)
            for i in range(len(levels) - 2, -1, -1):
                levels[i] = min(levels[i], levels[i + 1])
            self._minima = (days, levels)
        return self._minima

    def atp(self, day: dt.date) -> Decimal:
        """What can be promised on `day` without starving a later demand (negative when
        demands already exceed supply)."""
        days, minima = self.minima()
        return minima[max(bisect_right(days, max(day, self.today)) - 1, 0)]

    def atp_final(self) -> Decimal:
        """What can be promised once every scheduled receipt is in."""
        return self.minima()[1][-1]

    def on_hand_now(self) -> Decimal:
        """What can be promised today from stock already here (receipts due today or late
        left out), never below zero."""
        return max(self.atp(self.today) - self.receipts.get(self.today, ZERO), ZERO)

    def ready(self, quantity: Decimal) -> dt.date | None:
        """The first day from today on when `quantity` can be promised (None: not even after
        the last receipt)."""
        days, minima = self.minima()  # ATP never falls from one day to the next
        index = bisect_left(minima, quantity)
        return days[index] if index < len(days) else None


def _days(count: int) -> str:
    return ngettext("%(days)s day", "%(days)s days", count) % {"days": count}


def _receipts(refs: list[str]) -> str:
    names = ", ".join(refs[:MAX_REFS]) + ("…" if len(refs) > MAX_REFS else "")
    if not refs:
        return _("a scheduled receipt")
    return ngettext("receipt %(refs)s", "receipts %(refs)s", len(refs)) % {"refs": names}


def promise_one(
    projection: Projection, product: Product, quantity: Decimal, wanted: dt.date, key: Any = None
) -> Promise:
    """Promise one stocked line against `projection` and record the promise in it (see the
    module's rules). Pure: no database."""
    today = projection.today
    start = max(today, wanted)
    now = projection.on_hand_now()
    ready = projection.ready(quantity)
    make = product.supply == Product.Supply.MAKE
    lead = product.manufacturing_lead_days if make else product.purchase_lead_days
    by_lead = max(today + dt.timedelta(days=lead), start) if lead else None
    if ready is not None and (by_lead is None or max(ready, start) <= by_lead):
        date = max(ready, start)
        projection.take(date, quantity)
        if ready == today and quantity <= now:
            note = _("In stock: %(available)s available now.") % {"available": _plain(now)}
            return Promise(key, date, now, STOCK, note)
        refs = projection.refs.get(ready, [])
        values = {
            "available": _plain(min(now, quantity)),
            "rest": _plain(quantity - min(now, quantity)),
            "quantity": _plain(quantity),
            "receipts": _receipts(refs),
            "date": ready.isoformat(),
        }
        if now > 0:
            note = _("%(available)s available now; %(rest)s more from %(receipts)s on %(date)s.")
        else:
            note = _("%(quantity)s from %(receipts)s on %(date)s.")
        return Promise(key, date, now, RECEIPT, (note % values)[:NOTE_LENGTH])
    if by_lead is not None:
        part = min(max(projection.atp(by_lead), ZERO), quantity)
        projection.take(by_lead, part)
        values = {"available": _plain(part), "rest": _plain(quantity - part), "lead": _days(lead)}
        if make and part:
            note = _("%(available)s available; the other %(rest)s to be made (manufacturing "
                     "lead time %(lead)s).")  # fmt: skip
        elif make:
            note = _("To be made: manufacturing lead time %(lead)s.")
        elif part:
            note = _("%(available)s available; the other %(rest)s to be bought (purchase lead "
                     "time %(lead)s).")  # fmt: skip
        else:
            note = _("To be bought: purchase lead time %(lead)s.")
        return Promise(key, by_lead, now, MAKE if make else BUY, (note % values)[:NOTE_LENGTH])
    available = min(max(projection.atp_final(), ZERO), quantity)
    values = {"available": _plain(available), "quantity": _plain(quantity)}
    if make and available:
        note = _("Only %(available)s of %(quantity)s can be promised and no manufacturing lead "
                 "time is set to make the rest.")  # fmt: skip
    elif make:
        note = _("None in stock or on order, and no manufacturing lead time is set to make it.")
    elif available:
        note = _("Only %(available)s of %(quantity)s can be promised and no purchase lead time "
                 "is set to buy the rest.")  # fmt: skip
    else:
        note = _("None in stock or on order, and no purchase lead time is set to buy it.")
    return Promise(key, None, now, NONE, note % values)


def _stocked(product: Product) -> bool:
    return product.type == Product.Type.STOCKABLE


def _ref(row: dict[str, Any]) -> str:
    return row["picking__number"] or row["origin"] or _("move %(id)s") % {"id": row["pk"]}


def _projections(
    company: Company,
    warehouse: Warehouse,
    product_ids: list[int],
    today: dt.date,
    exclude: set[int],
    exclude_source: tuple[str, Collection[int]] | None = None,
) -> dict[int, Projection]:
    """The projection of each product in the warehouse: three queries (four when the
    warehouse's view location is not loaded yet). Moves of `exclude_source` (source type,
    source ids) count as excluded, as `exclude`'s do."""
    inside = set(internal_locations_below(warehouse.view_location))
    projections = {pk: Projection(today=today) for pk in product_ids}
    on_hand = (
        Quant.unscoped.filter(company=company, product_id__in=product_ids, location_id__in=inside)
        .values("product_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    for row in on_hand:
        projections[row["product_id"]].free += row["total"] or ZERO
    rows = list(
        Move.unscoped.filter(company=company, product_id__in=product_ids, state__in=OPEN)
        .filter(Q(from_location_id__in=inside) | Q(to_location_id__in=inside))
        .values(
            "pk",
            "product_id",
            "quantity_base",
            "from_location_id",
            "to_location_id",
            "planned_date",
            "previous_id",
            "origin",
            "picking__number",
            "source_type",
            "source_id",
        )
        .annotate(reserved=Sum("reservations__quantity"))
        .order_by("planned_date", "pk")
    )
    moves = {row["pk"]: row for row in rows}
    if exclude_source is not None:
        source_type, source_ids = exclude_source
        exclude = exclude | {
            row["pk"]
            for row in rows
            if row["source_type"] == source_type and row["source_id"] in source_ids
        }
    for row in rows:
        source, dest = row["from_location_id"] in inside, row["to_location_id"] in inside
        projection = projections[row["product_id"]]
        if not source:  # into the warehouse from outside: a scheduled receipt
            if row["pk"] not in exclude:
                projection.add(row["planned_date"], row["quantity_base"], _ref(row))
            continue
        if dest:  # between the warehouse's own locations
            continue
        # out of the warehouse: with the open steps of its route before it (pick, pack)
        route = [row]
        while route[-1]["previous_id"] in moves:
            before = moves[route[-1]["previous_id"]]
            if before["from_location_id"] not in inside or before["to_location_id"] not in inside:
                break
            route.append(before)
        if any(step["pk"] in exclude for step in route):
            continue
        held = sum((step["reserved"] or ZERO for step in route), ZERO)
        projection.demand(row["planned_date"], row["quantity_base"], held)
    return projections


@dataclass(frozen=True)
class AtpDemand:
    """An open move out of the warehouse made after the projection was read: `quantity` of
    product `product_id` (stock unit) planned on `day`, `held` of it reserved."""

    product_id: int
    day: dt.date
    quantity: Decimal
    held: Decimal = ZERO


def promise_dates(
    *,
    company: Company,
    warehouse: Warehouse,
    requests: Sequence[AtpRequest],
    today: dt.date | None = None,
    exclude_moves: Iterable[int] = (),
    exclude_source: tuple[str, Collection[int]] | None = None,
) -> list[Promise]:
    """A promise per request, in the order of `requests` (see the module's rules). Lines of
    services and consumables are promised on the day wanted; stocked products against the
    warehouse's projected stock, earlier requests of the call first. `exclude_source` (a
    source type and source ids: the lines of the order promised again) excludes the moves
    tagged so as `exclude_moves` excludes moves, without reading their ids first. Reads only: a
    constant number of queries (at most four), none when no request is for a stocked product.
    Raises ValueError for a warehouse of another company and a quantity that is a float or not
    positive."""
    return promise_dates_many(
        company=company,
        warehouse=warehouse,
        documents=[(requests, ())],
        today=today,
        exclude_moves=exclude_moves,
        exclude_source=exclude_source,
    )[0]


def promise_dates_many(
    *,
    company: Company,
    warehouse: Warehouse,
    documents: Sequence[tuple[Sequence[AtpRequest], Sequence[AtpDemand]]],
    today: dt.date | None = None,
    exclude_moves: Iterable[int] = (),
    exclude_source: tuple[str, Collection[int]] | None = None,
) -> list[list[Promise]]:
    """`promise_dates` of several documents (requests, demands) read once: each document's
    requests are promised as `promise_dates` would after the demands of the documents before
    it (their delivery moves, excluded from what is read) were written — what a document
    promises to itself is not kept for the next. Reads as `promise_dates` does, once."""
    if warehouse.company_id != company.pk:
        raise ValueError(_("The warehouse belongs to another company."))
    for requests, _demands in documents:
        for request in requests:
            if isinstance(request.quantity, float) or not Decimal(request.quantity) > 0:
                raise ValueError(_("Give each line a positive decimal quantity."))
    today = today or timezone.localdate()
    stocked = sorted(
        {r.product.pk for requests, _demands in documents for r in requests if _stocked(r.product)}
    )
    projections = (
        _projections(company, warehouse, stocked, today, set(exclude_moves), exclude_source)
        if stocked
        else {}
    )
    answers = []
    for requests, demands in documents:
        local = {
            pk: projections[pk].copy() if len(documents) > 1 else projections[pk]
            for pk in {r.product.pk for r in requests if _stocked(r.product)}
        }
        answers.append(_promise_all(local, requests))
        for demand in demands:
            if demand.product_id in projections:
                projections[demand.product_id].demand(demand.day, demand.quantity, demand.held)
    return answers


def _promise_all(projections: dict[int, Projection], requests: Sequence[AtpRequest]
                 ) -> list[Promise]:  # fmt: skip
    promises = []
    for request in requests:
        product = request.product
        if _stocked(product):
            projection = projections[product.pk]
            promises.append(
                promise_one(
                    projection, product, Decimal(request.quantity), request.wanted, request.key
                )
            )
            continue
        note = (
            _("A service: nothing to take from stock.")
            if product.type == Product.Type.SERVICE
            else _("A consumable: not checked against stock.")
        )
        promises.append(Promise(request.key, request.wanted, ZERO, STOCK, note))
    return promises
