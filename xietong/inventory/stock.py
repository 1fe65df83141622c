"""Stock moves, on-hand quantities and reservations: the services every other module uses.

A move is created as a draft, confirmed (waiting), reserved (assigned) when it leaves a stock
location, and done. Only `moves_done` changes on hand: in one transaction it takes the move's
quantity from the source quants (its reservations first) and adds it to the destination quant,
so that each quant always equals the done moves into its product, location and lot minus those
out of it. Done moves are immutable (a database trigger refuses to change them); a correction
is another move.

Concurrency: every service that reads and then changes quants locks them first with
`select_for_update()` in one global order (quant primary key), so two orders never reserve
the same unit and a deadlock cannot arise from lock order. On SQLite, writers are serialised by
its immediate transactions. Negative stock is refused unless the location allows it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core import bulkwrite
from xietong.core.audit import audited
from xietong.core.models import Company, UnitOfMeasure
from xietong.core.quantity import UnitMismatch
from xietong.inventory.models import Location, Lot, Move, Picking, Quant, Reservation
from xietong.inventory.warehouses import internal_locations_below
from xietong.product.models import Product
from xietong.product.selectors import product_convert

ZERO = Decimal(0)
State = Move.State
Tracking = Product.Tracking


class StockError(ValidationError):
    """A stock operation is refused; `code` says why (not_enough_stock, lot_required, …)."""


def refusal(message: str, code: str, **params: Any) -> StockError:
    """A StockError with `message` filled in with `params` (the inventory modules raise these)."""
    return StockError(message % params if params else message, code=code)


def same_company_check(company: Company, obj: Any, what: str) -> None:
    """Refuse `obj` (code "foreign_record") when it belongs to another company than `company`."""
    if obj is not None and obj.company_id != company.pk:
        raise refusal(_("The %(what)s “%(name)s” belongs to another company."), "foreign_record",
                    what=what, name=obj)  # fmt: skip


def _plain(value: Decimal) -> str:
    """A quantity as people write it: 10, 2.5 (not 1E+1 or 2.500000)."""
    return f"{value.normalize():f}"


# --- creating moves --------------------------------------------------------------------------


@audited
def move_create(
    *,
    company: Company,
    product: Product,
    quantity: Decimal,
    from_location: Location,
    to_location: Location,
    planned_date: dt.date,
    uom: UnitOfMeasure | None = None,
    lot: Lot | None = None,
    picking: Picking | None = None,
    origin: str = "",
    source_type: str = "",
    source_id: int | None = None,
    previous: Move | None = None,
    unit_cost: Decimal | None = None,
    actor: Any = None,
) -> Move:
    """A draft move of `quantity` (in `uom`, the product's stock unit by default). Refuses a
    service product, a view location, the same location twice, a unit that cannot measure the
    product, a lot of another product and records of another company (StockError)."""
    move = move_build(
        company=company, product=product, quantity=quantity, from_location=from_location,
        to_location=to_location, planned_date=planned_date, uom=uom, lot=lot, picking=picking,
        origin=origin, source_type=source_type, source_id=source_id, previous=previous,
        unit_cost=unit_cost, actor=actor,
    )  # fmt: skip
    move.save(force_insert=True)
    return move


def move_build(
    *,
    company: Company,
    product: Product,
    quantity: Decimal,
    from_location: Location,
    to_location: Location,
    planned_date: dt.date,
    uom: UnitOfMeasure | None = None,
    lot: Lot | None = None,
    picking: Picking | None = None,
    origin: str = "",
    source_type: str = "",
    source_id: int | None = None,
    previous: Move | None = None,
    unit_cost: Decimal | None = None,
    actor: Any = None,
) -> Move:
    """The draft move `move_create` would write, checked but not saved, for services that
    insert many moves at once (`Move.unscoped.bulk_create`). Raises what `move_create` raises."""
    for what, obj in (
        ("product", product),
        ("location", from_location),
        ("location", to_location),
        ("lot", lot),
        ("picking", picking),
        ("previous move", previous),
    ):
        if obj is not None and obj.company_id != company.pk:  # named only when refused
            names = {"product": _("product"), "location": _("location"), "lot": _("lot"),
                     "picking": _("picking"), "previous move": _("previous move")}  # fmt: skip
            same_company_check(company, obj, names[what])
    if product.type == Product.Type.SERVICE:
        raise refusal(_("%(product)s is a service; services are not stocked."), "service",
                    product=product)  # fmt: skip
    for location in (from_location, to_location):
        if location.usage == Location.Usage.VIEW:
            raise refusal(_("%(location)s only groups locations; choose one below it."),
                        "view_location", location=location)  # fmt: skip
        if not location.active:
            raise refusal(_("The location %(location)s is archived."), "inactive",
                        location=location)  # fmt: skip
    if from_location.pk == to_location.pk:
        raise refusal(_("A move needs two different locations."), "same_location")
    if isinstance(quantity, float):
        raise refusal(_("Quantities must not be floats."), "float")
    quantity = Decimal(quantity)
    if not quantity.is_finite() or quantity <= 0:
        raise refusal(_("The quantity must be positive."), "quantity")
    uom = uom or product.uom
    try:
        base = product_convert(product=product, quantity=quantity, from_uom=uom, to_uom=product.uom)
    except UnitMismatch as exc:
        raise refusal(str(exc), "unit") from exc
    if base <= 0:
        raise refusal(_("%(quantity)s %(unit)s is less than the smallest quantity of %(stock)s."),
                    "quantity", quantity=quantity, unit=uom.code, stock=product.uom.code)  # fmt: skip
    exact = product_convert(product=product, quantity=quantity, from_uom=uom,
                            to_uom=product.uom, round_result=False)  # fmt: skip
    if base != exact:
        raise refusal(_("%(quantity)s %(unit)s is not a whole number of steps of %(step)s %(stock)s."),
                    "quantity", quantity=quantity, unit=uom.code,
                    step=product.uom.rounding.normalize(), stock=product.uom.code)  # fmt: skip
    if lot is not None and lot.product_id != product.pk:
        raise refusal(_("The lot %(lot)s belongs to another product."), "lot", lot=lot)
    if product.tracking == Tracking.SERIAL and lot is not None and base != 1:
        raise refusal(_("A serial number is one unit; make one move per serial number."), "serial")
    creator = actor if getattr(actor, "pk", None) else None
    given = {
        "company_id": company.pk,
        "product_id": product.pk,
        "uom_id": uom.pk,
        "quantity": quantity,
        "quantity_base": base,
        "from_location_id": from_location.pk,
        "to_location_id": to_location.pk,
        "lot_id": lot.pk if lot is not None else None,
        "planned_date": planned_date,
        "picking_id": picking.pk if picking is not None else None,
        "origin": origin[:80],
        "source_type": source_type,
        "source_id": source_id,
        "previous_id": previous.pk if previous is not None else None,
        "unit_cost": unit_cost,
        "created_by_id": creator.pk if creator is not None else None,
    }
    # every field by position (Django's fast path for a thousand moves), the rest defaulted
    move = Move(*[given[name] if name in given else field.get_default()
                  for name, field in _MOVE_COLUMNS])  # fmt: skip
    related = {"company": company, "product": product, "uom": uom, "lot": lot, "picking": picking,
               "from_location": from_location, "to_location": to_location,
               "previous": previous, "created_by": creator}  # fmt: skip
    for name, value in related.items():  # as the objects would be given (a thousand lines)
        _MOVE_FIELDS[name].set_cached_value(move, value)
    return move


_MOVE_FIELDS = {f.name: f for f in Move._meta.concrete_fields}
_MOVE_COLUMNS = [(f.attname, f) for f in Move._meta.concrete_fields]


@audited
def lot_create(
    *,
    company: Company,
    product: Product,
    name: str,
    expiry_date: dt.date | None = None,
    supplier_lot: str = "",
    actor: Any = None,
) -> Lot:
    """A lot or serial number of a tracked product; refused for untracked products and names
    taken for the product."""
    same_company_check(company, product, _("product"))
    if product.tracking == Tracking.NONE:
        raise refusal(_("%(product)s is not tracked by lot or serial number."), "not_tracked",
                    product=product)  # fmt: skip
    name = (name or "").strip()
    if not name:
        raise refusal(_("Give the lot or serial number."), "lot_required")
    try:
        with transaction.atomic():
            return Lot.unscoped.create(company=company, product=product, name=name,
                                       expiry_date=expiry_date, supplier_lot=supplier_lot)  # fmt: skip
    except IntegrityError as exc:
        raise refusal(_("%(product)s already has the lot %(lot)s."), "lot_exists",
                    product=product, lot=name) from exc  # fmt: skip


# --- reading stock ---------------------------------------------------------------------------


def on_hand(
    *, product: Product, location: Location | None = None, lot: Lot | None = None
) -> Decimal:
    """On hand of `product` in stock locations (below `location` when given), in its stock unit."""
    return _sum(product, location, lot, "quantity")


def available(
    *, product: Product, location: Location | None = None, lot: Lot | None = None
) -> Decimal:
    """On hand less reserved."""
    return _sum(product, location, lot, F("quantity") - F("reserved"))


def _sum(product: Product, location: Location | None, lot: Lot | None, field: Any) -> Decimal:
    """Σ `field` (a column or an expression) over the product's quants in stock locations."""
    quants = Quant.unscoped.filter(
        product=product, location__usage__in=[Location.Usage.INTERNAL, Location.Usage.TRANSIT]
    )
    if location is not None:
        quants = quants.filter(location_id__in=internal_locations_below(location))
    if lot is not None:
        quants = quants.filter(lot=lot)
    total = quants.aggregate(t=Sum(field, output_field=Quant._meta.get_field("quantity")))["t"]
    return Decimal(total or 0).quantize(Decimal("0.000001"))


# --- confirming and reserving ----------------------------------------------------------------

STOCK_USAGES = (Location.Usage.INTERNAL, Location.Usage.TRANSIT)
# what the services read with a move they lock (`_locked_moves`)
MOVE_RELATED = ("product", "from_location", "to_location", "lot", "company")


def _locked_moves(moves: Iterable[Move], *states: str) -> list[Move]:
    ids = sorted({m.pk for m in moves})
    locked = list(
        Move.unscoped.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .select_related(*MOVE_RELATED)
        .order_by("pk")
    )
    _check_states(locked, *states)
    return locked


def _check_states(moves: Iterable[Move], *states: str) -> None:
    for move in moves:
        if states and move.state not in states:
            raise refusal(_("The move of %(product)s is %(state)s."), "state",
                        product=move.product, state=move.get_state_display())  # fmt: skip


@audited
def moves_confirm(*, moves: Sequence[Move], actor: Any = None) -> list[Move]:
    """Draft moves become waiting, then get what stock can be reserved (`moves_assign`)."""
    with transaction.atomic():
        return moves_confirm_locked(_locked_moves(moves, State.DRAFT))


def moves_confirm_locked(locked: list[Move]) -> list[Move]:
    """`moves_confirm` of draft moves the caller has locked (in primary-key order, read with
    their source location at least), in the caller's transaction: returns them with their new
    state."""
    for move in locked:
        move.state = State.WAITING
    assigned = _assign(locked, fresh=True) or set()
    waiting = [m.pk for m in locked if m.pk not in assigned]
    if waiting:
        Move.unscoped.filter(pk__in=waiting).update(state=State.WAITING)
    if assigned:
        Move.unscoped.filter(pk__in=sorted(assigned)).update(state=State.ASSIGNED)
    for move in locked:
        if move.pk in assigned:
            move.state = State.ASSIGNED
    return locked


def moves_insert_confirmed(moves: list[Move]) -> list[Move]:
    """Insert moves built by `move_build` (not saved) already confirmed: what stock allows is
    reserved as `moves_confirm` would, and each move is written once, in its final state
    (waiting or assigned), by `core.bulkwrite.objects_insert` — for services that create and
    confirm thousands of moves in one transaction (releasing production orders). Locks the
    candidate quants; the caller's transaction holds the rest."""
    for move in moves:
        move.state = State.WAITING
    plan = reservation_plan(moves, fresh=True)
    if plan is not None:
        for index in plan.assigned:
            plan.moves[index].state = State.ASSIGNED
    bulkwrite.objects_insert(Move, moves)
    if plan is not None:
        reservation_write(plan)
    return moves


def _stock_below(location: Location) -> Any:
    """The ids `internal_locations_below(location)` reads (the location when it holds stock,
    and the stock locations below it), as a subquery."""
    return Location.unscoped.filter(
        Q(pk=location.pk)
        | Q(company_id=location.company_id, full_name__startswith=f"{location.full_name}/"),
        usage__in=STOCK_USAGES,
    ).values("pk")


def _within(quant: Quant, source: Location) -> bool:
    """Whether the quant is at one of `internal_locations_below(source)` (its location is read
    with it)."""
    place = quant.location
    if place.usage not in STOCK_USAGES:
        return False
    return place.pk == source.pk or (
        place.company_id == source.company_id and place.full_name.startswith(f"{source.full_name}/")
    )


def _candidates(moves: Iterable[Move]) -> Q:
    """The quants the moves may take from: per source location one term for the products
    (any lot) and one for the lots asked for, the stock locations below it read by a subquery,
    so that the query stays small for a thousand moves (SQLite refuses expression trees
    deeper than 1,000)."""
    products: dict[int, set[int]] = defaultdict(set)
    lots: dict[int, set[int]] = defaultdict(set)
    places: dict[int, Location] = {}
    for move in moves:
        places[move.from_location_id] = move.from_location
        if move.lot_id:
            lots[move.from_location_id].add(move.lot_id)
        else:
            products[move.from_location_id].add(move.product_id)
    where = Q(pk__in=[])
    for location_id, location in places.items():
        if products[location_id]:
            where |= Q(product_id__in=sorted(products[location_id]),
                       location_id__in=_stock_below(location))  # fmt: skip
        if lots[location_id]:
            where |= Q(lot_id__in=sorted(lots[location_id]), location_id__in=_stock_below(location))
    return where


def _order(quants: Iterable[Quant]) -> list[Quant]:
    """FEFO for lots with an expiry date, then FIFO by the date stock arrived."""
    far, now = dt.date.max, timezone.now()
    return sorted(
        quants,
        key=lambda q: (
            q.lot.expiry_date if q.lot_id and q.lot.expiry_date else far,
            q.in_date or now,
            q.pk,
        ),
    )


def _reserved_for(move_ids: list[int]) -> dict[int, Decimal]:
    rows = (
        Reservation.unscoped.filter(move_id__in=move_ids)
        .values("move_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    )
    return {row["move_id"]: Decimal(row["total"]) for row in rows}


def _lock_quants(where: Q) -> list[Quant]:
    return list(
        Quant.unscoped.select_for_update(of=("self",))
        .filter(where)
        .select_related("lot")
        .order_by("pk")
    )


def _placed(quants: Iterable[Quant], moves: Iterable[Move]) -> list[Quant]:
    """The quants with their locations: those of the moves (already read), else read at once
    (a thousand quants of one location are given one Location, not one each)."""
    quants = list(quants)
    places: dict[int, Location] = {}
    for move in moves:
        for name in ("from_location", "to_location"):
            if _MOVE_FIELDS[name].is_cached(move):
                place = getattr(move, name)
                places[place.pk] = place
    missing = {q.location_id for q in quants} - set(places)
    if missing:
        places.update(Location.unscoped.in_bulk(sorted(missing)))
    column = Quant._meta.get_field("location")
    for quant in quants:
        column.set_cached_value(quant, places[quant.location_id])
    return quants


# quants per UPDATE of `_quants_add`, 3 parameters each (SQLite takes 999 by default)
BATCH = {"postgresql": 5000, "sqlite": 300}


def _quants_add(changes: dict[int, tuple[Decimal, Decimal]]) -> None:
    """Add (on hand, reserved) to each quant of `changes` (by id), in one UPDATE for up to
    `BATCH` quants instead of one per quant (`UPDATE … FROM (VALUES …)`). The caller holds
    the quants' locks."""
    items = [(pk, q, r) for pk, (q, r) in sorted(changes.items()) if q or r]
    if not items:
        return
    connection = connections[Quant.unscoped.db]
    vendor = connection.vendor
    if vendor == "sqlite" and connection.Database.sqlite_version_info < (3, 33):
        vendor = ""  # no UPDATE … FROM before SQLite 3.33
    if vendor not in ("postgresql", "sqlite"):
        for pk, q, r in items:
            Quant.unscoped.filter(pk=pk).update(
                quantity=F("quantity") + q, reserved=F("reserved") + r
            )
        return
    table = connection.ops.quote_name(Quant._meta.db_table)
    if vendor == "postgresql":
        row, alias = "(%s::bigint, %s::numeric, %s::numeric)", "v(id, q, r)"
        pk_col, on_hand, held = "v.id", "v.q", "v.r"
    else:  # SQLite names the columns of VALUES column1, column2…
        row, alias = "(%s, %s, %s)", "v"
        pk_col, on_hand, held = (
            "v.column1",
            "CAST(v.column2 AS NUMERIC)",
            "CAST(v.column3 AS NUMERIC)",
        )
    with connection.cursor() as cursor:
        for start in range(0, len(items), BATCH[vendor]):
            chunk = items[start : start + BATCH[vendor]]
            cursor.execute(
                f"UPDATE {table} SET quantity = {table}.quantity + {on_hand}, "  # noqa: S608
                f"reserved = {table}.reserved + {held} "
                f"FROM (VALUES {', '.join([row] * len(chunk))}) AS {alias} "
                f"WHERE {table}.id = {pk_col}",
                [value for item in chunk for value in item],
            )


@dataclass
class ReservationPlan:
    """What `reservation_plan` found for the moves (`moves`, by position): the positions of
    the moves to mark assigned, what each takes of each quant, and what each quant gives."""

    moves: list[Move]
    assigned: set[int] = field(default_factory=set)
    takes: dict[tuple[int, int], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    reserved: dict[int, Decimal] = field(default_factory=dict)  # held before, by move id


def reservation_plan(moves: list[Move], *, fresh: bool = False) -> ReservationPlan | None:
    """What stock the moves (locked by the caller, or new and not saved yet; waiting or
    assigned, read with their source location) can reserve: FEFO by lot expiry, then FIFO by
    arrival. Locks the candidate quants in primary-key order; writes nothing
    (`reservation_write` does). Moves continuing a move not done yet are left out (None when
    no move is left). A move fully covered, or not leaving stock, is to be assigned. `fresh`:
    the moves were drafts until now, so they hold no reservation yet."""
    # a move continuing another (put-away after receipt, ship after pick) waits for it
    pending = set(
        Move.unscoped.filter(pk__in=[m.previous_id for m in moves if m.previous_id])
        .exclude(state=State.DONE)
        .values_list("pk", flat=True)
    )
    plan = ReservationPlan([m for m in moves if m.previous_id not in pending])
    if not plan.moves:
        return None
    if not fresh:
        plan.reserved = _reserved_for([m.pk for m in plan.moves])
    outgoing = [m for m in plan.moves if m.from_location.is_stock]
    quants = _placed(_lock_quants(_candidates(outgoing)), outgoing) if outgoing else []
    by_product: dict[int, list[Quant]] = defaultdict(list)
    for quant in _order(quants):  # in the order they are taken
        by_product[quant.product_id].append(quant)
    free = {q.pk: q.quantity - q.reserved for q in quants}
    for index, move in enumerate(plan.moves):
        source = move.from_location
        if not source.is_stock:
            plan.assigned.add(index)
            continue
        needed = move.quantity_base - plan.reserved.get(move.pk, ZERO)
        for quant in by_product[move.product_id]:
            if needed <= 0:
                break
            if (move.lot_id and quant.lot_id != move.lot_id) or not _within(quant, source):
                continue
            take = min(free[quant.pk], needed)
            if take <= 0:
                continue
            free[quant.pk] -= take
            plan.takes[(index, quant.pk)] += take
            needed -= take
        if needed <= 0:
            plan.assigned.add(index)
    return plan


def reservation_write(plan: ReservationPlan) -> None:
    """Write what `reservation_plan` found (the moves saved by now): the reservations, in
    one INSERT, and the quants' reserved quantities."""
    changes: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for (_index, quant_pk), amount in plan.takes.items():
        changes[quant_pk] += amount
    _quants_add({pk: (ZERO, amount) for pk, amount in changes.items()})
    # a move already holding part of a quant takes more of it in the same reservation
    held_before = sorted({plan.moves[i].pk for i, _quant in plan.takes} & set(plan.reserved))
    existing: dict[tuple[int, int], int] = {}
    if held_before:
        existing = {
            (move_id, quant_id): pk
            for pk, move_id, quant_id in Reservation.unscoped.filter(
                move_id__in=held_before
            ).values_list("pk", "move_id", "quant_id")
        }
    added = []
    for (index, quant_pk), amount in plan.takes.items():
        move = plan.moves[index]
        if (move.pk, quant_pk) in existing:
            Reservation.unscoped.filter(pk=existing[(move.pk, quant_pk)]).update(
                quantity=F("quantity") + amount
            )
        else:
            added.append((move.company_id, move.pk, quant_pk, amount))
    # plain rows (COPY on PostgreSQL): a wave of thousands of moves makes as many reservations
    bulkwrite.rows_insert(Reservation, ["company", "move", "quant", "quantity"], added)


def _assign(locked: list[Move], *, fresh: bool = False) -> set[int] | None:
    """Reserve stock for moves the caller has locked (`reservation_plan`, then
    `reservation_write`); returns the ids of the moves to mark assigned, None when every
    move continues a move not done yet. Does not write the moves' states."""
    plan = reservation_plan(locked, fresh=fresh)
    if plan is None:
        return None
    reservation_write(plan)
    return {plan.moves[i].pk for i in plan.assigned}


@audited
def moves_assign(*, moves: Sequence[Move], actor: Any = None) -> list[Move]:
    """Reserve stock for waiting moves out of stock locations: FEFO by lot expiry, then FIFO
    by arrival; a move fully covered becomes assigned, one partly covered keeps its partial
    reservation and waits. Moves from outside stock (suppliers, production…) need nothing and
    are assigned. Locks the moves, then every candidate quant in primary-key order."""
    with transaction.atomic():
        every = _locked_moves(moves)
        assigned = _assign([m for m in every if m.state in (State.WAITING, State.ASSIGNED)])
        if assigned is None:
            return list(moves)
        if assigned:
            Move.unscoped.filter(pk__in=sorted(assigned)).update(state=State.ASSIGNED)
        for move in every:
            if move.pk in assigned:
                move.state = State.ASSIGNED
    return every


def _release(move_ids: list[int]) -> None:
    """Give back the reservations of `move_ids` (quants locked by the caller)."""
    changes: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for quant_id, quantity in Reservation.unscoped.filter(move_id__in=move_ids).values_list(
        "quant_id", "quantity"
    ):
        changes[quant_id] -= quantity
    if changes:
        _quants_add({pk: (ZERO, amount) for pk, amount in changes.items()})
        Reservation.unscoped.filter(move_id__in=move_ids).delete()


@audited
def moves_unreserve(*, moves: Sequence[Move], actor: Any = None) -> list[Move]:
    """Release what the moves reserved; they wait again."""
    with transaction.atomic():
        locked = _locked_moves(moves, State.WAITING, State.ASSIGNED)
        ids = [m.pk for m in locked]
        _lock_quants(Q(reservations__move_id__in=ids))
        _release(ids)
        Move.unscoped.filter(pk__in=ids).update(state=State.WAITING)
    return locked


@audited
def moves_cancel(*, moves: Sequence[Move], actor: Any = None) -> list[Move]:
    """Cancel moves not done yet, releasing their reservations. Done moves are refused."""
    with transaction.atomic():
        locked = _locked_moves(moves, State.DRAFT, State.WAITING, State.ASSIGNED)
        ids = [m.pk for m in locked]
        _lock_quants(Q(reservations__move_id__in=ids))
        _release(ids)
        Move.unscoped.filter(pk__in=ids).update(state=State.CANCELLED)
    return locked


# --- doing -----------------------------------------------------------------------------------


def _quant_for_update(
    company_id: int, product_id: int, location_id: int, lot_id: int | None
) -> Quant:
    """The quant of (product, location, lot), created empty when missing, locked."""
    lookup = {"product_id": product_id, "location_id": location_id, "lot_id": lot_id}
    found = list(Quant.unscoped.select_for_update().filter(**lookup).order_by()[:1])
    if found:
        return found[0]
    try:
        with transaction.atomic():
            return Quant.unscoped.create(company_id=company_id, in_date=timezone.now(), **lookup)
    except IntegrityError:  # created meanwhile by another transaction
        return Quant.unscoped.select_for_update().get(**lookup)


def _unreserved(move: Move, reservations: dict[int, list[Reservation]]) -> bool:
    """Whether the move's reservations leave part of it to take from unreserved stock."""
    return sum((r.quantity for r in reservations[move.pk]), ZERO) < move.quantity_base


class _Quants:
    """The quants a `moves_done` call holds locked, and what it adds to them, written at once
    (`flush`)."""

    def __init__(self, quants: list[Quant], when: dt.datetime) -> None:
        self.by_id = {q.pk: q for q in quants}
        self.by_key = {(q.product_id, q.location_id, q.lot_id): q for q in quants}
        self.by_product: dict[int, list[Quant]] = defaultdict(list)
        for quant in quants:
            self.by_product[quant.product_id].append(quant)
        self.places = {q.location_id: q.location for q in quants}
        self.when = when
        self.changes: dict[int, list[Decimal]] = {}
        self.refill: set[int] = set()

    def hold(self, quant: Quant) -> Quant:
        """Add a quant just locked (unless held already: then the one held)."""
        if quant.pk in self.by_id:
            return self.by_id[quant.pk]
        self.by_id[quant.pk] = quant
        self.by_key[(quant.product_id, quant.location_id, quant.lot_id)] = quant
        self.by_product[quant.product_id].append(quant)
        self.places.setdefault(quant.location_id, quant.location)
        return quant

    def get(
        self, company_id: int, product_id: int, location: Location, lot_id: int | None
    ) -> Quant:
        """The quant of (product, location, lot), locked (`_quant_for_update` when not held)."""
        quant = self.by_key.get((product_id, location.pk, lot_id))
        if quant is None:
            quant = _quant_for_update(company_id, product_id, location.pk, lot_id)
            quant.location = location
            quant = self.hold(quant)
        return quant

    def add(self, quant: Quant, quantity: Decimal, reserved: Decimal = ZERO) -> None:
        quant.quantity += quantity
        quant.reserved += reserved
        change = self.changes.setdefault(quant.pk, [ZERO, ZERO])
        change[0] += quantity
        change[1] += reserved

    def arrive(self, quant: Quant, quantity: Decimal) -> None:
        """Stock arriving: an empty (or negative) quant takes the arrival time (FIFO)."""
        if quant.quantity <= 0:
            quant.in_date = self.when
            self.refill.add(quant.pk)
        self.add(quant, quantity)

    def location(self, location_id: int) -> Location:
        if location_id not in self.places:
            self.places[location_id] = Location.unscoped.get(pk=location_id)
        return self.places[location_id]

    def flush(self) -> None:
        _quants_add({pk: (q, r) for pk, (q, r) in self.changes.items()})
        self.changes = {}
        if self.refill:
            Quant.unscoped.filter(pk__in=sorted(self.refill)).update(in_date=self.when)
            self.refill = set()


@audited
def moves_done(
    *,
    moves: Sequence[Move],
    actor: Any = None,
    effective_date: dt.date | None = None,
) -> list[Move]:
    """Carry out the moves: take the quantity from the source (its reservations first, then
    unreserved stock in FEFO/FIFO order, splitting a tracked product's move by lot) and add it
    at the destination. Refuses (StockError, nothing written) moves already done or
    cancelled, not enough stock where the location does not allow negative stock, a tracked
    product entering stock without a lot, a serial number already in stock. Then values the
    moves (`valuation.moves_value`) and reserves for the moves waiting on them. Locks the
    moves (and those waiting on them), then the quants in primary-key order."""
    with transaction.atomic():
        asked = sorted({m.pk for m in moves})
        # the moves waiting on these are locked with them, in one primary-key order
        every = list(
            Move.unscoped.select_for_update(of=("self",))
            .filter(Q(pk__in=asked) | Q(previous_id__in=asked, state=State.WAITING))
            .select_related(*MOVE_RELATED)
            .order_by("pk")
        )
        wanted = set(asked)
        locked = [m for m in every if m.pk in wanted]
        waiting = [m for m in every if m.pk not in wanted]
        done, _followers = moves_done_locked(
            locked, waiting, actor=actor, effective_date=effective_date
        )
    return done


def moves_done_locked(
    locked: list[Move],
    waiting: list[Move],
    *,
    actor: Any = None,
    effective_date: dt.date | None = None,
) -> tuple[list[Move], list[Move]]:
    """`moves_done` of moves the caller has locked (in primary-key order, read with their
    product, locations and company), in the caller's transaction; `waiting` are the moves
    waiting on them, locked as well. Returns the done moves and the moves waiting on them
    (reserved for now)."""
    _check_states(locked, State.DRAFT, State.WAITING, State.ASSIGNED)
    if not locked:
        return [], []
    when = timezone.now()
    day = effective_date or timezone.localdate()
    ids = [m.pk for m in locked]
    arriving: dict[int, set[int]] = defaultdict(set)
    for move in locked:
        if move.to_location.is_stock:
            arriving[move.to_location_id].add(move.product_id)
    followers_out = [m for m in waiting if m.from_location.is_stock]
    reservations: dict[int, list[Reservation]] = defaultdict(list)
    if (
        not arriving
        and not followers_out
        and all(m.state == State.ASSIGNED for m in locked if m.from_location.is_stock)
    ):
        # only the reserved quants (an assigned move is fully reserved): locked as they are
        # read with the reservations, in primary-key order
        held_quants: dict[int, Quant] = {}
        for r in (
            Reservation.unscoped.filter(move_id__in=ids)
            .select_related("quant__lot")
            .select_for_update(of=("quant",))
            .order_by("quant_id", "move_id")
        ):
            reservations[r.move_id].append(r)
            held_quants.setdefault(r.quant_id, r.quant)
        quants = _Quants(_placed(held_quants.values(), locked), when)
        short = [m for m in locked if m.from_location.is_stock and _unreserved(m, reservations)]
        if short:  # not as it should be: take the rest from unreserved stock
            for quant in _placed(_lock_quants(_candidates(short)), locked):
                quants.hold(quant)
    else:
        for r in Reservation.unscoped.filter(move_id__in=ids).order_by("quant_id"):
            reservations[r.move_id].append(r)
        # then every quant this call may touch, in primary-key order: reserved ones, what
        # moves not fully reserved may take, destinations, and what the waiting moves will
        # reserve (the reserved quants by id: an OR across the reservation join scans every
        # quant)
        held = sorted({r.quant_id for found in reservations.values() for r in found})
        short = [m for m in locked if m.from_location.is_stock and _unreserved(m, reservations)]
        where = Q(pk__in=held) | _candidates([*short, *followers_out])
        for location_id, products in arriving.items():
            where |= Q(product_id__in=sorted(products), location_id=location_id)
        quants = _Quants(_placed(_lock_quants(where), [*locked, *waiting]), when)
    reserved_any = any(reservations.values())
    done: list[Move] = []
    for move in locked:
        done.extend(_do_one(move, quants, reservations[move.pk], when, day))
    quants.flush()
    Move.unscoped.filter(pk__in=[m.pk for m in done]).update(
        state=State.DONE, effective_date=day, done_at=when,
        done_by_id=actor.pk if getattr(actor, "pk", None) else None,
    )  # fmt: skip
    if reserved_any:
        Reservation.unscoped.filter(move_id__in=ids).delete()
    # reserve for the followers before valuing: valuation locks products, and quants are
    # always locked before products
    followers = [m for m in waiting if m.state == State.WAITING]
    if followers:
        moves_assign(moves=followers, actor=actor)
    from xietong.inventory import valuation

    valuation.moves_value(moves=done, actor=actor, just_done=True)
    for listener in _DONE_LISTENERS:
        listener(done)
    return done, followers


_DONE_LISTENERS: list[Callable[[list[Move]], None]] = []


def on_moves_done(listener: Callable[[list[Move]], None]) -> None:
    """Call `listener(done_moves)` inside the transaction of every `moves_done`, after the
    stock and its value are written: the way an app above inventory (sales, purchasing,
    manufacturing) keeps its documents' delivered or received quantities in step with the
    moves, in the same transaction (an exception rolls the whole call back). Registered from
    that app's `AppConfig.ready()`."""
    if listener not in _DONE_LISTENERS:
        _DONE_LISTENERS.append(listener)


def _do_one(move: Move, quants: _Quants, reserved: list[Reservation],
            when: dt.datetime, day: dt.date) -> list[Move]:  # fmt: skip
    """Take `move` out of its source and into its destination (the quants' changes are
    written by the caller, `_Quants.flush`); returns the done move(s) (a tracked product's
    move taken from several lots is split, one move per lot), marked done by the caller."""
    product = move.product
    # (location, lot) -> quantity: the done move is split so that each part leaves the very
    # location its quant is at (a move out of WH/Stock may take from WH/Stock/Shelf 1)
    by_lot: dict[tuple[int, int | None], Decimal] = defaultdict(lambda: ZERO)
    if move.from_location.is_stock:
        takes: list[tuple[Quant, Decimal, Decimal]] = []  # quant, quantity, of which reserved
        needed = move.quantity_base
        for r in reserved:
            takes.append((quants.by_id[r.quant_id], r.quantity, r.quantity))
            needed -= r.quantity
        if needed > 0:
            source = move.from_location
            for quant in _order([q for q in quants.by_product[product.pk]
                                 if (not move.lot_id or q.lot_id == move.lot_id)
                                 and _within(q, source)]):  # fmt: skip
                take = min(quant.quantity - quant.reserved, needed)
                if take <= 0:
                    continue
                takes.append((quant, take, ZERO))
                needed -= take
                if needed <= 0:
                    break
        if needed > 0:
            if not move.from_location.allow_negative:
                have = move.quantity_base - needed
                raise refusal(
                    _("Not enough %(product)s at %(location)s: %(have)s available, %(need)s needed."),
                    "not_enough_stock", product=product, location=move.from_location,
                    have=_plain(have), need=_plain(move.quantity_base),
                )  # fmt: skip
            if product.tracking != Tracking.NONE and move.lot_id is None:
                raise refusal(_("Give the lot of %(product)s to take it below zero."),
                            "lot_required", product=product)  # fmt: skip
            quant = quants.get(move.company_id, product.pk, move.from_location, move.lot_id)
            takes.append((quant, needed, ZERO))
        for quant, take, of_reserved in takes:
            quants.add(quant, -take, -of_reserved)
            by_lot[(quant.location_id, quant.lot_id)] += take
    else:
        by_lot[(move.from_location_id, move.lot_id)] = move.quantity_base
    lots = {lot_id for _location_id, lot_id in by_lot}
    if product.tracking != Tracking.NONE and move.to_location.is_stock:
        if None in lots:
            raise refusal(_("Give the lot or serial number of %(product)s."), "lot_required",
                        product=product)  # fmt: skip
        if product.tracking == Tracking.SERIAL and not move.from_location.is_stock:
            quants.flush()  # what this call did so far counts
            taken = Quant.unscoped.filter(
                lot_id__in=list(lots), quantity__gt=0,
                location__usage__in=[Location.Usage.INTERNAL, Location.Usage.TRANSIT],
            ).select_related("lot").first()  # fmt: skip
            if taken is not None:
                raise refusal(_("The serial number %(lot)s is in stock already."),
                            "serial_in_stock", lot=taken.lot)  # fmt: skip
    done = []
    original_base, original_quantity = move.quantity_base, move.quantity
    parts = sorted(by_lot.items(), key=lambda kv: (kv[0][1] is None, kv[0][1] or 0, kv[0][0]))
    for index, ((location_id, lot_id), base) in enumerate(parts):
        quantity = (original_quantity * base / original_base).quantize(Decimal("0.000001"))
        if index == 0:
            target = move
            if (location_id, lot_id, base) != (
                move.from_location_id,
                move.lot_id,
                move.quantity_base,
            ):
                Move.unscoped.filter(pk=move.pk).update(
                    from_location_id=location_id, lot_id=lot_id, quantity_base=base,
                    quantity=quantity,
                )  # fmt: skip
                move.lot_id, move.quantity_base, move.quantity = lot_id, base, quantity
                if location_id != move.from_location_id:
                    move.from_location = quants.location(location_id)
        else:
            target = Move.unscoped.create(
                company_id=move.company_id, product=product, uom_id=move.uom_id,
                quantity=quantity, quantity_base=base, from_location=quants.location(location_id),
                to_location=move.to_location, lot_id=lot_id, state=State.ASSIGNED,
                planned_date=move.planned_date, picking_id=move.picking_id, origin=move.origin,
                source_type=move.source_type, source_id=move.source_id,
                previous_id=move.previous_id, unit_cost=move.unit_cost,
                created_by_id=move.created_by_id,
            )  # fmt: skip
            if Move.company.is_cached(move):
                target.company = move.company
            if move.picking_id and Move.picking.is_cached(move):
                target.picking = move.picking
        if target.to_location.is_stock:
            quants.arrive(
                quants.get(target.company_id, product.pk, target.to_location, lot_id), base
            )
        target.state, target.effective_date, target.done_at = State.DONE, day, when
        done.append(target)
    return done
