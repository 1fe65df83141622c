"""Inventory counts and cycle counting.

A count sheet lists what the books hold at a location (every product, lot and location below
it with stock), the counters enter what they found, and `count_done` posts the differences as
done moves between the location and the company's inventory-loss location, dated the count's
date, named after the count's number. What was on hand is read again when the count is done,
so moves done meanwhile are taken into account (the adjustment is counted − on hand now).

Cycle counting counts the products by ABC class: class A (the products making the top 80 %
of the consumption value of the last twelve months) every 30 days, class B (the next 15 %)
every 90 days and class C (the rest, and what is not consumed) every 180 days.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Max, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.core.numbering import sequence_ensure, sequence_next
from xietong.inventory import stock
from xietong.inventory.models import (
    CountLine,
    InventoryCount,
    Location,
    Lot,
    Move,
    Quant,
    Reservation,
)
from xietong.inventory.pickings import pickings_refresh
from xietong.inventory.stock import refusal
from xietong.inventory.warehouses import internal_locations_below, virtual_locations
from xietong.product.models import Product

ZERO = Decimal(0)
State = InventoryCount.State
Usage = Location.Usage
STOCK_USAGES = (Usage.INTERNAL, Usage.TRANSIT)
CONSUMING_USAGES = (Usage.CUSTOMER, Usage.PRODUCTION)  # where consumption goes
CLASSES = ("A", "B", "C")
CLASS_A_SHARE = Decimal("0.80")
CLASS_B_SHARE = Decimal("0.95")  # A and B together
CYCLE_DAYS = {"A": 30, "B": 90, "C": 180}
SEQUENCE = "inventory.count"


def _lock(count: InventoryCount, *states: str) -> InventoryCount:
    locked = InventoryCount.unscoped.select_for_update().get(pk=count.pk)
    if locked.state not in states:
        raise refusal(_("The count %(count)s is %(state)s."), "state",
                    count=locked, state=locked.get_state_display())  # fmt: skip
    return locked


def _refreshed(count: InventoryCount) -> InventoryCount:
    count.refresh_from_db()
    return count


# --- ABC classes -----------------------------------------------------------------------------


def abc_classes(*, company: Company, since: dt.date | None = None) -> dict[int, str]:
    """Product id → "A", "B" or "C" for the company's stocked products, by the value of what
    was consumed (done moves from stock to customers or production) since `since` (twelve
    months back by default): sorted by value, the products making the first 80 % of it are
    A, those making the next 15 % B, the others C, and so are products not consumed. A
    move's value is its valuation (`value`), else its quantity at the product's average (or
    standard) cost."""
    since = since or timezone.localdate() - dt.timedelta(days=365)
    products = dict(
        Product.unscoped.filter(company=company)
        .exclude(type=Product.Type.SERVICE)
        .values_list("pk", "average_cost")
    )
    standard = dict(
        Product.unscoped.filter(pk__in=list(products)).values_list("pk", "standard_cost")
    )
    consumed = Move.unscoped.filter(
        company=company,
        state=Move.State.DONE,
        effective_date__gte=since,
        from_location__usage__in=STOCK_USAGES,
        to_location__usage__in=CONSUMING_USAGES,
    )
    value: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in (
        consumed.filter(value__isnull=False)
        .values("product_id")
        .annotate(total=Sum("value"))
        .order_by()
    ):
        value[row["product_id"]] += abs(Decimal(row["total"]))
    for row in (
        consumed.filter(value__isnull=True)
        .values("product_id")
        .annotate(total=Sum("quantity_base"))
        .order_by()
    ):
        pk = row["product_id"]
        cost = products.get(pk) or standard.get(pk) or ZERO
        value[pk] += Decimal(row["total"]) * cost
    total = sum(value.values(), ZERO)
    classes = dict.fromkeys(products, "C")
    if total <= 0:
        return classes
    running = ZERO
    for pk, amount in sorted(value.items(), key=lambda kv: (-kv[1], kv[0])):
        if amount <= 0 or pk not in classes:
            continue
        share = running / total  # of the value before this product
        classes[pk] = "A" if share < CLASS_A_SHARE else "B" if share < CLASS_B_SHARE else "C"
        running += amount
    return classes


# --- count sheets ----------------------------------------------------------------------------


def _check_location(company: Company, location: Location) -> None:
    if location.company_id != company.pk:
        raise refusal(_("The location %(location)s belongs to another company."),
                    "foreign_record", location=location)  # fmt: skip
    if location.usage not in (*STOCK_USAGES, Usage.VIEW):
        raise refusal(_("%(location)s does not hold the company's stock; count a stock "
                      "location."), "not_stock", location=location)  # fmt: skip


@audited
def count_create(
    *,
    company: Company,
    location: Location,
    date: dt.date,
    abc_class: str = "",
    actor: Any = None,
) -> InventoryCount:
    """A count sheet of `location` and the locations below it: a line for every product, lot
    and location holding stock (on hand ≠ 0), `expected` being the quantity on hand now; with
    `abc_class`, only the products of that class (`abc_classes` over the twelve months before
    `date`). Numbered from the company's "inventory.count" series. Raises StockError (nothing
    written) for a location of another company or one that does not hold stock, and an
    unknown class."""
    _check_location(company, location)
    abc_class = (abc_class or "").strip().upper()
    if abc_class and abc_class not in CLASSES:
        raise refusal(_("The ABC class is A, B or C."), "abc_class")
    if not isinstance(date, dt.date):
        raise refusal(_("Give the date of the count."), "date")
    quants = Quant.unscoped.filter(
        company=company, location_id__in=internal_locations_below(location)
    ).exclude(quantity=0)
    if abc_class:
        classes = abc_classes(company=company, since=date - dt.timedelta(days=365))
        quants = quants.filter(
            product_id__in=[pk for pk, cls in classes.items() if cls == abc_class]
        )
    with transaction.atomic():
        sequence_ensure(company=company, code=SEQUENCE, name="Inventory counts",
                        pattern="INV/{year}/{number:05d}")  # fmt: skip
        count = InventoryCount.unscoped.create(
            company=company,
            number=sequence_next(company=company, code=SEQUENCE, date=date),
            location=location,
            abc_class=abc_class,
            state=State.DRAFT,
            date=date,
        )
        CountLine.objects.bulk_create(
            CountLine(
                count=count,
                product_id=quant.product_id,
                location_id=quant.location_id,
                lot_id=quant.lot_id,
                expected=quant.quantity,
            )
            for quant in quants.order_by("location_id", "product_id", "lot_id", "pk")
        )
    return count


@audited
def count_line_add(
    *,
    count: InventoryCount,
    product: Product,
    location: Location | None = None,
    lot: Lot | None = None,
    actor: Any = None,
) -> CountLine:
    """A line for something found that the sheet does not list (at the count's location by
    default; `expected` is what the books hold there). Raises StockError for a count done or
    cancelled, a location outside the count's, a product or lot not belonging together, a
    service, and a line the sheet has already."""
    with transaction.atomic():
        count = _lock(count, State.DRAFT, State.COUNTING)
        location = location or count.location
        for obj in (product, location, lot):
            if obj is not None and obj.company_id != count.company_id:
                raise refusal(_("“%(name)s” belongs to another company."), "foreign_record",
                            name=obj)  # fmt: skip
        if location.pk not in internal_locations_below(count.location) or not location.is_stock:
            raise refusal(_("%(location)s is not a stock location of this count."),
                        "location", location=location)  # fmt: skip
        if product.type == Product.Type.SERVICE:
            raise refusal(_("%(product)s is a service; services are not stocked."), "service",
                        product=product)  # fmt: skip
        if lot is not None and lot.product_id != product.pk:
            raise refusal(_("The lot %(lot)s belongs to another product."), "lot", lot=lot)
        if CountLine.objects.filter(count=count, product=product, location=location,
                                    lot=lot).exists():  # fmt: skip
            raise refusal(_("The sheet lists %(product)s there already."), "duplicate",
                        product=product)  # fmt: skip
        quant = Quant.unscoped.filter(product=product, location=location, lot=lot).first()
        return CountLine.objects.create(
            count=count,
            product=product,
            location=location,
            lot=lot,
            expected=quant.quantity if quant else ZERO,
        )


@audited
def count_set(
    *,
    count: InventoryCount,
    counts: Mapping[int, Any],
    actor: Any = None,
) -> InventoryCount:
    """Enter counted quantities (line id → Decimal in the product's stock unit, or None to
    clear); the count is then being counted, by `actor`. Raises StockError (nothing written)
    for a count done or cancelled, a line of another count, a negative or float quantity and
    more than one unit of a serial number."""
    with transaction.atomic():
        count = _lock(count, State.DRAFT, State.COUNTING)
        lines = {
            line.pk: line
            for line in CountLine.objects.filter(count=count).select_related("product")
        }
        changes: list[CountLine] = []
        for key, value in counts.items():
            try:
                line = lines[int(key)]
            except (KeyError, TypeError, ValueError) as exc:
                raise refusal(_("Line %(line)s is not a line of this count."), "foreign_line",
                            line=key) from exc  # fmt: skip
            if value is not None:
                if isinstance(value, (float, bool)):
                    raise refusal(_("Quantities must not be floats."), "float")
                try:
                    value = Decimal(value)
                except (ArithmeticError, TypeError, ValueError) as exc:
                    raise refusal(_("The counted quantity must be a number."), "number") from exc
                if not value.is_finite() or value < 0:
                    raise refusal(_("The counted quantity cannot be negative."), "quantity")
                if line.lot_id and line.product.tracking == Product.Tracking.SERIAL and value > 1:
                    raise refusal(_("A serial number is one unit."), "serial")
            line.counted = value
            changes.append(line)
        CountLine.objects.bulk_update(changes, ["counted"])
        updates: dict[str, Any] = {"state": State.COUNTING}
        if getattr(actor, "pk", None):
            updates["counted_by"] = actor
        InventoryCount.unscoped.filter(pk=count.pk).update(**updates)
    return _refreshed(count)


def _quant_q(lines: list[CountLine]) -> Q:
    """The quants of `lines`: one term per location and lot-or-not (a superset filtered by the
    caller's keys), so that the query stays small for long count sheets."""
    groups: dict[tuple[int, bool], tuple[set[int], set[int]]] = {}
    for line in lines:
        products, lots = groups.setdefault((line.location_id, bool(line.lot_id)), (set(), set()))
        products.add(line.product_id)
        if line.lot_id:
            lots.add(line.lot_id)
    where = Q(pk__in=[])
    for (location_id, has_lot), (products, lots) in groups.items():
        term = Q(location_id=location_id, product_id__in=sorted(products))
        where |= term & (Q(lot_id__in=sorted(lots)) if has_lot else Q(lot_id__isnull=True))
    return where


def _free_for_losses(lines: list[CountLine], actor: Any) -> list[Move]:
    """Release the reservations of other moves on quants a loss takes more of than is free,
    so that the loss can take it (they are reserved again after). Locks moves, then quants,
    in the stock services' order."""
    quants = {
        (q.product_id, q.location_id, q.lot_id): q for q in Quant.unscoped.filter(_quant_q(lines))
    }
    holders: set[int] = set()
    for line in lines:
        quant = quants.get((line.product_id, line.location_id, line.lot_id))
        if quant is None:
            continue
        loss = quant.quantity - line.counted
        if loss > 0 and quant.quantity - quant.reserved < loss:
            holders |= set(
                Reservation.unscoped.filter(quant=quant).values_list("move_id", flat=True)
            )
    if not holders:
        return []
    moves = list(Move.unscoped.filter(pk__in=holders).order_by("pk"))
    stock.moves_unreserve(moves=moves, actor=actor)
    return moves


@audited
def count_done(*, count: InventoryCount, actor: Any = None) -> InventoryCount:
    """Post the count: for each counted line, on hand is read again (under a row lock) and
    the difference counted − on hand is posted as a done move, dated the count's date, from
    the company's inventory-loss location to the line's location (a gain) or back (a loss),
    with the count's number as origin and `actor` as its author. A loss takes exactly the
    counted quant; reservations of other moves that it needs are released and the moves
    reserved again afterwards. Uncounted lines (counted None) are left alone.

    Raises StockError, writing nothing, for a count done or cancelled or with no line
    counted, and what `stock.moves_done` refuses (a lot missing for a gain of a tracked
    product, a serial number in stock elsewhere…). Locks the count, then moves and quants."""
    with transaction.atomic():
        count = _lock(count, State.DRAFT, State.COUNTING)
        lines = list(
            CountLine.objects.filter(count=count, counted__isnull=False)
            .select_related("product", "location", "lot")
            .order_by("pk")
        )
        if not lines:
            raise refusal(_("Nothing is counted on %(count)s."), "nothing_counted", count=count)
        company = count.company
        loss_location = virtual_locations(company=company)[Usage.INVENTORY]
        released = _free_for_losses(lines, actor)
        quants = {
            (q.product_id, q.location_id, q.lot_id): q
            for q in Quant.unscoped.select_for_update().filter(_quant_q(lines)).order_by("pk")
        }
        adjustments: list[tuple[CountLine, Move]] = []
        for line in lines:
            quant = quants.get((line.product_id, line.location_id, line.lot_id))
            on_hand = quant.quantity if quant else ZERO
            line.expected = on_hand
            difference = line.counted - on_hand
            if difference == 0:
                continue
            gain = difference > 0
            move = stock.move_create(
                company=company,
                product=line.product,
                quantity=abs(difference),
                from_location=loss_location if gain else line.location,
                to_location=line.location if gain else loss_location,
                lot=line.lot,
                planned_date=count.date,
                origin=count.number,
                source_type="inventory.count",
                source_id=count.pk,
                actor=actor,
            )
            if not gain:
                if quant.quantity - quant.reserved < -difference:
                    raise refusal(_("%(product)s at %(location)s is reserved meanwhile; try "
                                  "again."), "reserved", product=line.product,
                                location=line.location)  # fmt: skip
                # Reserve the counted quant itself, so that the loss is not taken from
                # another lot or from a location below this one.
                Quant.unscoped.filter(pk=quant.pk).update(reserved=F("reserved") - difference)
                quant.reserved -= difference
                Reservation.unscoped.create(company=company, move=move, quant=quant,
                                            quantity=-difference)  # fmt: skip
            adjustments.append((line, move))
        CountLine.objects.bulk_update(lines, ["expected"])
        if adjustments:
            stock.moves_done(
                moves=[move for _line, move in adjustments],
                actor=actor,
                effective_date=count.date,
            )
            for line, move in adjustments:
                line.move = move
            CountLine.objects.bulk_update([line for line, _move in adjustments], ["move"])
        if released:
            _reassign(released, actor)
        updates: dict[str, Any] = {"state": State.DONE, "done_at": timezone.now()}
        if not count.counted_by_id and getattr(actor, "pk", None):
            updates["counted_by"] = actor
        InventoryCount.unscoped.filter(pk=count.pk).update(**updates)
    return _refreshed(count)


def _reassign(moves: list[Move], actor: Any) -> None:
    """Reserve again for moves released for a loss (those not waiting for a previous step)."""
    previous = {m.previous_id for m in moves if m.previous_id}
    done = set(
        Move.unscoped.filter(pk__in=previous, state=Move.State.DONE).values_list("pk", flat=True)
    )
    ready = [m for m in moves if not m.previous_id or m.previous_id in done]
    if ready:
        stock.moves_assign(moves=ready, actor=actor)
    pickings_refresh(moves=moves)


@audited
def count_cancel(*, count: InventoryCount, actor: Any = None) -> InventoryCount:
    """Cancel a count not done (nothing is posted). Raises StockError for a count done or
    cancelled."""
    with transaction.atomic():
        count = _lock(count, State.DRAFT, State.COUNTING)
        InventoryCount.unscoped.filter(pk=count.pk).update(state=State.CANCELLED)
    return _refreshed(count)


# --- cycle counting --------------------------------------------------------------------------


@dataclass(frozen=True)
class CountDue:
    """A product due for counting: its class, when it was last counted (None: never) and
    since when it is due (None: never counted, due now)."""

    product: Product
    abc_class: str
    last_counted: dt.date | None
    due_since: dt.date | None


def cycle_count_due(*, company: Company, today: dt.date) -> dict[str, list[CountDue]]:
    """The products with stock due for counting, by ABC class ("A", "B", "C"): never counted,
    or last counted (the date of the last done count with a counted line of the product) at
    least `CYCLE_DAYS[class]` days before `today`; longest due first."""
    if not isinstance(today, dt.date):
        raise ValidationError(_("Give today's date."))
    classes = abc_classes(company=company, since=today - dt.timedelta(days=365))
    stocked = set(
        Quant.unscoped.filter(company=company, location__usage__in=STOCK_USAGES)
        .exclude(quantity=0)
        .values_list("product_id", flat=True)
    )
    last = dict(
        CountLine.objects.filter(
            count__company=company,
            count__state=State.DONE,
            counted__isnull=False,
            product_id__in=stocked,
        )
        .values("product_id")
        .annotate(last=Max("count__date"))
        .order_by()
        .values_list("product_id", "last")
    )
    products = {p.pk: p for p in Product.unscoped.filter(pk__in=stocked)}
    due: dict[str, list[CountDue]] = {cls: [] for cls in CLASSES}
    for pk in sorted(stocked):
        cls = classes.get(pk, "C")
        counted = last.get(pk)
        if counted is None:
            due[cls].append(CountDue(products[pk], cls, None, None))
            continue
        since = counted + dt.timedelta(days=CYCLE_DAYS[cls])
        if since <= today:
            due[cls].append(CountDue(products[pk], cls, counted, since))
    for rows in due.values():
        rows.sort(key=lambda r: (r.due_since or dt.date.min, r.product.sku))
    return due
