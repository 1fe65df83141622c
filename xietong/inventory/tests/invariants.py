"""Stock invariants as assertion helpers, for the stock tests and for other apps' tests
(purchasing, sales, manufacturing move stock too).

`stock_problems()` lists what is wrong, `assert_stock_sound()` asserts the list is empty:

- each quant of a stock location (internal, transit) equals Σ done moves into its product,
  location and lot − Σ done moves out of them, and every such sum has its quant; no quant
  sits at a location that is not a stock location;
- 0 ≤ reserved ≤ on hand on every quant (reserved = 0 where on hand is negative), and
  reserved = Σ reservations of the quant;
- on hand is negative only where the location allows negative stock;
- reservations belong to moves waiting or assigned, of the quant's company and product, at a
  quant below the move's source; an assigned move out of stock is fully reserved, a waiting
  one is not, a draft, done or cancelled move holds nothing;
- every done move has its effective date and time; a serial number is at most one unit in
  stock;
- each product's running valuation totals (`ValuationTotal`) equal Σ quantity and Σ value of
  its valuation layers, the date of the latest one and the unit cost of the latest receipt.

Sums come from SQL aggregates; SQLite sums decimals as floats, so values are compared after
quantizing to the 6 decimals of the quantity columns.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.db.models import Max, Q, Sum

from xietong.inventory.models import (
    Location,
    Move,
    Quant,
    Reservation,
    ValuationLayer,
    ValuationTotal,
)
from xietong.inventory.warehouses import internal_locations_below
from xietong.product.models import Product

SIX = Decimal("0.000001")
ZERO = Decimal(0)
STOCK_USAGES = (Location.Usage.INTERNAL, Location.Usage.TRANSIT)


def _q(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(SIX)


def _company_ids(companies: Iterable[Any] | None) -> list[int] | None:
    if companies is None:
        return None
    return [getattr(c, "pk", c) for c in companies]


def _scoped(queryset, field: str, ids: list[int] | None):  # type: ignore[no-untyped-def]
    return queryset if ids is None else queryset.filter(**{f"{field}__in": ids})


def stock_problems(companies: Iterable[Any] | None = None) -> list[str]:
    """What breaks the stock invariants in `companies` (all companies when None)."""
    ids = _company_ids(companies)
    problems: list[str] = []
    done = _scoped(Move.unscoped.filter(state=Move.State.DONE), "company_id", ids)

    # on hand = Σ done moves in − Σ done moves out, per product × stock location × lot
    expected: dict[tuple[int, int, int | None], Decimal] = defaultdict(lambda: ZERO)
    incoming = (
        done.filter(to_location__usage__in=STOCK_USAGES)
        .values("product_id", "to_location_id", "lot_id")
        .annotate(total=Sum("quantity_base"))
        .order_by()
    )
    for row in incoming:
        expected[(row["product_id"], row["to_location_id"], row["lot_id"])] += _q(row["total"])
    outgoing = (
        done.filter(from_location__usage__in=STOCK_USAGES)
        .values("product_id", "from_location_id", "lot_id")
        .annotate(total=Sum("quantity_base"))
        .order_by()
    )
    for row in outgoing:
        expected[(row["product_id"], row["from_location_id"], row["lot_id"])] -= _q(row["total"])

    quants = list(
        _scoped(Quant.unscoped.all(), "company_id", ids).select_related("location", "lot")
    )
    seen: set[tuple[int, int, int | None]] = set()
    for quant in quants:
        key = (quant.product_id, quant.location_id, quant.lot_id)
        seen.add(key)
        if quant.location.usage not in STOCK_USAGES:
            problems.append(f"quant {quant.pk} at {quant.location} ({quant.location.usage})")
            continue
        if _q(quant.quantity) != _q(expected.get(key)):
            problems.append(
                f"quant {quant.pk} {key}: on hand {_q(quant.quantity)} but done moves give "
                f"{_q(expected.get(key))}"
            )
        if quant.reserved < 0:
            problems.append(f"quant {quant.pk} {key}: reserved {quant.reserved} < 0")
        elif quant.reserved > max(quant.quantity, ZERO):
            problems.append(
                f"quant {quant.pk} {key}: reserved {quant.reserved} > on hand {quant.quantity}"
            )
        if quant.quantity < 0 and not quant.location.allow_negative:
            problems.append(
                f"quant {quant.pk} {key}: {quant.quantity} at {quant.location}, which does "
                "not allow negative stock"
            )
    for key, value in expected.items():
        if key not in seen and _q(value) != 0:
            problems.append(f"done moves give {_q(value)} for {key} but there is no quant")

    # reservations
    reservations = list(
        _scoped(Reservation.unscoped.all(), "company_id", ids).select_related(
            "move", "move__from_location", "quant"
        )
    )
    per_quant: dict[int, Decimal] = defaultdict(lambda: ZERO)
    per_move: dict[int, Decimal] = defaultdict(lambda: ZERO)
    below: dict[int, set[int]] = {}
    for r in reservations:
        per_quant[r.quant_id] += r.quantity
        per_move[r.move_id] += r.quantity
        move, quant = r.move, r.quant
        if r.quantity <= 0:
            problems.append(f"reservation {r.pk}: quantity {r.quantity}")
        if move.state not in (Move.State.WAITING, Move.State.ASSIGNED):
            problems.append(f"reservation {r.pk} of move {move.pk}, which is {move.state}")
        if not r.company_id == move.company_id == quant.company_id:
            problems.append(
                f"reservation {r.pk}: company {r.company_id}, move's {move.company_id}, "
                f"quant's {quant.company_id}"
            )
        if move.product_id != quant.product_id:
            problems.append(f"reservation {r.pk}: move and quant of different products")
        if move.lot_id and move.lot_id != quant.lot_id:
            problems.append(f"reservation {r.pk}: the move wants lot {move.lot_id}")
        if move.from_location_id not in below:
            below[move.from_location_id] = set(internal_locations_below(move.from_location))
        if quant.location_id not in below[move.from_location_id]:
            problems.append(f"reservation {r.pk}: quant not below {move.from_location}")
    for quant in quants:
        if _q(per_quant.get(quant.pk)) != _q(quant.reserved):
            problems.append(
                f"quant {quant.pk}: reserved {quant.reserved}, reservations "
                f"{per_quant.get(quant.pk, ZERO)}"
            )
    open_moves = _scoped(
        Move.unscoped.filter(
            state__in=[Move.State.WAITING, Move.State.ASSIGNED],
            from_location__usage__in=STOCK_USAGES,
        ),
        "company_id",
        ids,
    ).values_list("pk", "state", "quantity_base")
    for pk, state, base in open_moves:
        held = per_move.get(pk, ZERO)
        if state == Move.State.ASSIGNED and held != base:
            problems.append(f"move {pk} is assigned but {held} of {base} is reserved")
        if state == Move.State.WAITING and held >= base:
            problems.append(f"move {pk} waits but {held} of {base} is reserved")

    # done moves are dated
    undated = _scoped(
        Move.unscoped.filter(state=Move.State.DONE).filter(
            Q(effective_date__isnull=True) | Q(done_at__isnull=True)
        ),
        "company_id",
        ids,
    ).values_list("pk", flat=True)
    problems += [f"done move {pk} has no effective date" for pk in undated]

    # a serial number is one unit
    serials = (
        _scoped(Quant.unscoped.all(), "company_id", ids)
        .filter(product__tracking=Product.Tracking.SERIAL, location__usage__in=STOCK_USAGES)
        .values("lot_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    for row in serials:
        if row["lot_id"] is None or _q(row["total"]) not in (ZERO, Decimal(1)):
            problems.append(f"serial number {row['lot_id']}: {_q(row['total'])} in stock")
    return problems + valuation_total_problems(companies)


def valuation_total_problems(companies: Iterable[Any] | None = None) -> list[str]:
    """Where a product's running valuation totals differ from its layers."""
    ids = _company_ids(companies)
    layers = _scoped(ValuationLayer.unscoped.all(), "company_id", ids)
    expected = {
        row["product_id"]: (
            _q(row["q"]),
            Decimal(row["v"] or 0).quantize(Decimal("0.0001")),
            row["d"],
        )  # fmt: skip
        for row in layers.values("product_id")
        .annotate(q=Sum("quantity"), v=Sum("value"), d=Max("date"))
        .order_by()
    }
    last_in: dict[int, Decimal] = {}
    for product_id, cost in (
        layers.filter(quantity__gt=0).order_by("pk").values_list("product_id", "unit_cost")
    ):
        last_in[product_id] = cost
    problems = []
    totals = {t.product_id: t for t in _scoped(ValuationTotal.unscoped.all(), "company_id", ids)}
    for product_id in sorted(set(expected) | set(totals)):
        total = totals.get(product_id)
        found = (
            (_q(total.quantity), total.value.quantize(Decimal("0.0001")), total.last_date,
             total.last_in_cost)
            if total else None
        )  # fmt: skip
        want = (*expected.get(product_id, (ZERO, ZERO, None)), last_in.get(product_id))
        if found != want and not (found is None and want == (ZERO, ZERO, None, None)):
            problems.append(f"product {product_id}: valuation totals {found}, layers give {want}")
    return problems


def assert_stock_sound(companies: Iterable[Any] | None = None) -> None:
    problems = stock_problems(companies)
    assert problems == [], "\n".join(problems)
