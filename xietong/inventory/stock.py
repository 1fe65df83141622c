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
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

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
    for what, obj in (
        (_("product"), product),
        (_("location"), from_location),
        (_("location"), to_location),
        (_("lot"), lot),
        (_("picking"), picking),
        (_("previous move"), previous),
    ):
        same_company_check(company, obj, what)  # fmt: skip
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
    return Move.unscoped.create(
        company=company,
        product=product,
        uom=uom,
        quantity=quantity,
        quantity_base=base,
        from_location=from_location,
        to_location=to_location,
        lot=lot,
        planned_date=planned_date,
        picking=picking,
        origin=origin[:80],
        source_type=source_type,
        source_id=source_id,
        previous=previous,
        unit_cost=unit_cost,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


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


def _locked_moves(moves: Iterable[Move], *states: str) -> list[Move]:
    ids = sorted({m.pk for m in moves})
    locked = list(
        Move.unscoped.select_for_update(of=("self",))
        .filter(pk__in=ids)
        .select_related("product", "from_location", "to_location", "lot", "company")
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
        locked = _locked_moves(moves, State.DRAFT)
        Move.unscoped.filter(pk__in=[m.pk for m in locked]).update(state=State.WAITING)
        return moves_assign(moves=locked, actor=actor)


def _below(location: Location, cache: dict[int, list[int]]) -> list[int]:
    """`internal_locations_below(location)`, read once per location in a call that handles
    many moves."""
    if location.pk not in cache:
        cache[location.pk] = internal_locations_below(location)
    return cache[location.pk]


def _candidates(moves: Iterable[Move], below: dict[int, list[int]]) -> Q:
    """The quants the moves may take from: per source location one term for the products
    (any lot) and one for the lots asked for, so that the query stays small for a thousand
    moves (SQLite refuses expression trees deeper than 1,000)."""
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
        stock = _below(location, below)
        if products[location_id]:
            where |= Q(product_id__in=sorted(products[location_id]), location_id__in=stock)
        if lots[location_id]:
            where |= Q(lot_id__in=sorted(lots[location_id]), location_id__in=stock)
    return where


def _order(quants: list[Quant]) -> list[Quant]:
    """FEFO for lots with an expiry date, then FIFO by the date stock arrived."""
    far = dt.date.max
    return sorted(
        quants,
        key=lambda q: (
            q.lot.expiry_date if q.lot_id and q.lot.expiry_date else far,
            q.in_date or timezone.now(),
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


@audited
def moves_assign(*, moves: Sequence[Move], actor: Any = None) -> list[Move]:
    """Reserve stock for waiting moves out of stock locations: FEFO by lot expiry, then FIFO
    by arrival; a move fully covered becomes assigned, one partly covered keeps its partial
    reservation and waits. Moves from outside stock (suppliers, production…) need nothing and
    are assigned. Locks the moves, then every candidate quant in primary-key order."""
    with transaction.atomic():
        below: dict[int, list[int]] = {}  # location → stock locations under it
        locked = [m for m in _locked_moves(moves) if m.state in (State.WAITING, State.ASSIGNED)]
        # a move continuing another (put-away after receipt, ship after pick) waits for it
        pending = set(
            Move.unscoped.filter(pk__in=[m.previous_id for m in locked if m.previous_id])
            .exclude(state=State.DONE)
            .values_list("pk", flat=True)
        )
        locked = [m for m in locked if m.previous_id not in pending]
        if not locked:
            return list(moves)
        reserved = _reserved_for([m.pk for m in locked])
        outgoing = [m for m in locked if m.from_location.is_stock]
        quants = _lock_quants(_candidates(outgoing, below)) if outgoing else []
        by_product: dict[int, list[Quant]] = defaultdict(list)
        for quant in quants:
            by_product[quant.product_id].append(quant)
        free = {q.pk: q.quantity - q.reserved for q in quants}
        assigned, changes = [], defaultdict(lambda: ZERO)
        new_reservations: dict[tuple[int, int], Decimal] = defaultdict(lambda: ZERO)
        for move in locked:
            if not move.from_location.is_stock:
                assigned.append(move.pk)
                continue
            needed = move.quantity_base - reserved.get(move.pk, ZERO)
            stock = set(_below(move.from_location, below))
            for quant in _order([q for q in by_product[move.product_id]
                                 if q.location_id in stock
                                 and (not move.lot_id or q.lot_id == move.lot_id)]):  # fmt: skip
                if needed <= 0:
                    break
                take = min(free[quant.pk], needed)
                if take <= 0:
                    continue
                free[quant.pk] -= take
                changes[quant.pk] += take
                new_reservations[(move.pk, quant.pk)] += take
                needed -= take
            if needed <= 0:
                assigned.append(move.pk)
        for quant_pk, amount in changes.items():
            Quant.unscoped.filter(pk=quant_pk).update(reserved=F("reserved") + amount)
        existing = {
            (r.move_id, r.quant_id): r
            for r in Reservation.unscoped.filter(move_id__in=[k[0] for k in new_reservations])
        }
        company_of = {m.pk: m.company_id for m in locked}
        for (move_pk, quant_pk), amount in new_reservations.items():
            if (move_pk, quant_pk) in existing:
                Reservation.unscoped.filter(pk=existing[(move_pk, quant_pk)].pk).update(
                    quantity=F("quantity") + amount
                )
            else:
                Reservation.unscoped.create(company_id=company_of[move_pk], move_id=move_pk,
                                            quant_id=quant_pk, quantity=amount)  # fmt: skip
        Move.unscoped.filter(pk__in=assigned).update(state=State.ASSIGNED)
    return list(Move.unscoped.filter(pk__in=[m.pk for m in moves]).order_by("pk"))


def _release(move_ids: list[int]) -> None:
    """Give back the reservations of `move_ids` (quants locked by the caller)."""
    for reservation in Reservation.unscoped.filter(move_id__in=move_ids).order_by("quant_id"):
        Quant.unscoped.filter(pk=reservation.quant_id).update(
            reserved=F("reserved") - reservation.quantity
        )
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
    quant = Quant.unscoped.select_for_update().filter(**lookup).first()
    if quant is None:
        try:
            with transaction.atomic():
                quant = Quant.unscoped.create(
                    company_id=company_id, in_date=timezone.now(), **lookup
                )
        except IntegrityError:  # created meanwhile by another transaction
            quant = Quant.unscoped.select_for_update().get(**lookup)
    return quant


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
    moves, then the quants in primary-key order."""
    with transaction.atomic():
        below: dict[int, list[int]] = {}  # location → stock locations under it
        asked = {m.pk for m in moves}
        # the moves waiting on these are locked with them (moves first, in primary-key order)
        waiting = Move.unscoped.filter(previous_id__in=asked, state=State.WAITING).exclude(
            pk__in=asked
        )
        every = _locked_moves([*moves, *waiting])
        locked = [m for m in every if m.pk in asked]
        _check_states(locked, State.DRAFT, State.WAITING, State.ASSIGNED)
        if not locked:
            return []
        when = timezone.now()
        day = effective_date or timezone.localdate()
        ids = [m.pk for m in locked]
        # then every quant this call may touch, in primary-key order: sources, reservations,
        # destinations and what the waiting moves will reserve
        # (the reserved quants by id: an OR across the reservation join scans every quant)
        held = list(Reservation.unscoped.filter(move_id__in=ids).values_list("quant_id", flat=True))
        where = Q(pk__in=held) | _candidates([m for m in every if m.from_location.is_stock], below)
        arriving: dict[int, set[int]] = defaultdict(set)
        for move in locked:
            if move.to_location.is_stock:
                arriving[move.to_location_id].add(move.product_id)
        for location_id, products in arriving.items():
            where |= Q(product_id__in=sorted(products), location_id=location_id)
        quants = {q.pk: q for q in _lock_quants(where)}
        reservations = defaultdict(list)
        for r in Reservation.unscoped.filter(move_id__in=ids).order_by("quant_id"):
            reservations[r.move_id].append(r)
        done: list[Move] = []
        for move in locked:
            done.extend(_do_one(move, quants, reservations[move.pk], when, day, actor, below))
        Reservation.unscoped.filter(move_id__in=ids).delete()
        # reserve for the followers before valuing: valuation locks products, and quants are
        # always locked before products
        followers = list(
            Move.unscoped.filter(previous__in=done, state=State.WAITING).order_by("pk")
        )
        if followers:
            moves_assign(moves=followers, actor=actor)
        from xietong.inventory import valuation

        valuation.moves_value(moves=done, actor=actor)
        for listener in _DONE_LISTENERS:
            listener(done)
    return done


_DONE_LISTENERS: list[Callable[[list[Move]], None]] = []


def on_moves_done(listener: Callable[[list[Move]], None]) -> None:
    """Call `listener(done_moves)` inside the transaction of every `moves_done`, after the
    stock and its value are written: the way an app above inventory (sales, purchasing,
    manufacturing) keeps its documents' delivered or received quantities in step with the
    moves, in the same transaction (an exception rolls the whole call back). Registered from
    that app's `AppConfig.ready()`."""
    if listener not in _DONE_LISTENERS:
        _DONE_LISTENERS.append(listener)


def _do_one(move: Move, quants: dict[int, Quant], reserved: list[Reservation],
            when: dt.datetime, day: dt.date, actor: Any,
            below: dict[int, list[int]]) -> list[Move]:  # fmt: skip
    """Take `move` out of its source and into its destination; returns the done move(s) (a
    tracked product's move taken from several lots is split, one move per lot)."""
    product = move.product
    # (location, lot) -> quantity: the done move is split so that each part leaves the very
    # location its quant is at (a move out of WH/Stock may take from WH/Stock/Shelf 1)
    by_lot: dict[tuple[int, int | None], Decimal] = defaultdict(lambda: ZERO)
    if move.from_location.is_stock:
        takes: list[tuple[Quant, Decimal, Decimal]] = []  # quant, quantity, of which reserved
        needed = move.quantity_base
        for r in reserved:
            takes.append((quants[r.quant_id], r.quantity, r.quantity))
            needed -= r.quantity
        if needed > 0:
            stock = set(_below(move.from_location, below))
            for quant in _order([q for q in quants.values() if q.product_id == product.pk
                                 and q.location_id in stock
                                 and (not move.lot_id or q.lot_id == move.lot_id)]):  # fmt: skip
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
            quant = _quant_for_update(
                move.company_id, product.pk, move.from_location_id, move.lot_id
            )
            quants[quant.pk] = quant
            takes.append((quant, needed, ZERO))
        for quant, take, of_reserved in takes:
            Quant.unscoped.filter(pk=quant.pk).update(
                quantity=F("quantity") - take, reserved=F("reserved") - of_reserved
            )
            quant.quantity -= take
            quant.reserved -= of_reserved
            by_lot[(quant.location_id, quant.lot_id)] += take
    else:
        by_lot[(move.from_location_id, move.lot_id)] = move.quantity_base
    lots = {lot_id for _location_id, lot_id in by_lot}
    if product.tracking != Tracking.NONE and move.to_location.is_stock:
        if None in lots:
            raise refusal(_("Give the lot or serial number of %(product)s."), "lot_required",
                        product=product)  # fmt: skip
        if product.tracking == Tracking.SERIAL and not move.from_location.is_stock:
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
                    move.from_location = Location.unscoped.get(pk=location_id)
        else:
            target = Move.unscoped.create(
                company_id=move.company_id, product=product, uom=move.uom, quantity=quantity,
                quantity_base=base, from_location_id=location_id,
                to_location=move.to_location, lot_id=lot_id, state=State.ASSIGNED,
                planned_date=move.planned_date, picking=move.picking, origin=move.origin,
                source_type=move.source_type, source_id=move.source_id, previous=move.previous,
                unit_cost=move.unit_cost, created_by=move.created_by,
            )  # fmt: skip
        if target.to_location.is_stock:
            dest = _quant_for_update(target.company_id, product.pk, target.to_location_id, lot_id)
            refill = {"in_date": when} if dest.quantity <= 0 else {}  # FIFO: arrives now
            Quant.unscoped.filter(pk=dest.pk).update(quantity=F("quantity") + base, **refill)
        Move.unscoped.filter(pk=target.pk).update(
            state=State.DONE, effective_date=day, done_at=when,
            done_by=actor if getattr(actor, "pk", None) else None,
        )  # fmt: skip
        target.state, target.effective_date, target.done_at = State.DONE, day, when
        done.append(target)
    return done
