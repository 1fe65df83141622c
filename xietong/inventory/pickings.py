"""Pickings and warehouse routes: receipts, internal transfers and deliveries as chains of
pickings, one per step of the warehouse's route, and what a clerk does with them (confirm,
reserve, do all or part, cancel, scan).

A route is a chain: each step's moves have the move of the step before as `previous`, and each
step's picking the picking before as `previous`. A move whose previous move is not done waits
and is never reserved (its goods are not there yet); when the previous move is done,
`stock.moves_done` reserves for it and its picking becomes ready.

Doing part of a picking splits each partly done move into the done part, which stays in the
picking, and the rest, which goes to a backorder picking (`backorder_of`) keeping its
reservations. The moves of the later steps that wait for the rest are split the same way and
go to backorders of their own pickings, chained to the first backorder, so every picking's
moves wait for the moves of one previous picking.

Many documents' deliveries are created at once by `deliveries_create`, and many ready pickings
(a wave) are done at once by `pickings_done`, with the statements shared.

A picking's state follows its moves: draft while its moves are drafts, waiting while one is
not reserved (or waits for the step before), ready when all are reserved, done when all are
done or cancelled, cancelled when all are cancelled.

Locks: a service locks the picking row first, then the moves and quants through the stock
services (primary-key order).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, UnitOfMeasure
from xietong.core.numbering import sequence_ensure, sequence_next, sequence_next_many
from xietong.inventory import stock
from xietong.inventory.models import Location, Lot, Move, Picking, Reservation, Warehouse
from xietong.inventory.stock import refusal, same_company_check
from xietong.inventory.warehouses import virtual_locations
from xietong.party.models import Party
from xietong.product.models import Product

ZERO = Decimal(0)
SIX = Decimal("0.000001")
Kind = Picking.Kind
PState = Picking.State
MState = Move.State
Usage = Location.Usage
OPEN = (MState.DRAFT, MState.WAITING, MState.ASSIGNED)

# Steps of the routes: (kind, step, from, to); "supplier"/"customer" are the company's virtual
# locations, the others the warehouse's `<name>_location`.
RECEIPT_ROUTES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    Warehouse.ReceptionSteps.ONE: ((Kind.RECEIPT, "receive", "supplier", "stock"),),
    Warehouse.ReceptionSteps.TWO: (
        (Kind.RECEIPT, "receive", "supplier", "input"),
        (Kind.INTERNAL, "store", "input", "stock"),
    ),
    Warehouse.ReceptionSteps.THREE: (
        (Kind.RECEIPT, "receive", "supplier", "input"),
        (Kind.INTERNAL, "quality", "input", "quality"),
        (Kind.INTERNAL, "store", "quality", "stock"),
    ),
}
DELIVERY_ROUTES: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    Warehouse.DeliverySteps.ONE: ((Kind.DELIVERY, "ship", "stock", "customer"),),
    Warehouse.DeliverySteps.TWO: (
        (Kind.INTERNAL, "pick", "stock", "output"),
        (Kind.DELIVERY, "ship", "output", "customer"),
    ),
    Warehouse.DeliverySteps.THREE: (
        (Kind.INTERNAL, "pick", "stock", "pack"),
        (Kind.INTERNAL, "pack", "pack", "output"),
        (Kind.DELIVERY, "ship", "output", "customer"),
    ),
}
PREFIX = {Kind.RECEIPT: "IN", Kind.INTERNAL: "INT", Kind.DELIVERY: "OUT"}
LINE_KEYS = {"product", "quantity", "uom", "lot", "unit_cost", "source_type", "source_id"}


# --- numbering -------------------------------------------------------------------------------


def _number(company: Company, warehouse: Warehouse, kind: str) -> str:
    """The next number of the warehouse's series for `kind`, e.g. "WH/IN/2026/00001"."""
    code = _sequence(company, warehouse, kind)
    return sequence_next(company=company, code=code, date=timezone.localdate())


def _sequence(company: Company, warehouse: Warehouse, kind: str) -> str:
    """The code of the warehouse's series for `kind`, the series made on first use."""
    prefix = PREFIX[kind]
    literal = warehouse.code.replace("{", "{{").replace("}", "}}")
    code = f"inventory.picking.{warehouse.code}.{prefix}"
    sequence_ensure(
        company=company,
        code=code,
        name=f"{warehouse.code} {Kind(kind).label}"[:80],
        pattern=f"{literal}/{prefix}/{{year}}/{{number:05d}}",
    )
    return code


# --- creating --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    product: Product
    quantity: Decimal
    uom: UnitOfMeasure | None
    lot: Lot | None
    unit_cost: Decimal | None
    source_type: str = ""
    source_id: int | None = None


def _decimal(value: Any, what: str) -> Decimal:
    if isinstance(value, (float, bool)):
        raise refusal(_("%(what)s must be a decimal number, not %(value)r."), "float",
                    what=what, value=value)  # fmt: skip
    try:
        number = Decimal(value)
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise refusal(_("%(what)s must be a number."), "number", what=what) from exc
    if not number.is_finite():
        raise refusal(_("%(what)s must be a number."), "number", what=what)
    return number


def _lines_clean(
    company: Company, lines: Sequence[Mapping[str, Any]], *, costs: bool
) -> list[_Line]:
    if not lines:
        raise refusal(_("Add at least one line."), "no_lines")
    clean = []
    names = {"product": _("product"), "lot": _("lot"), "quantity": _("The quantity")}
    for row in lines:
        unknown = set(row) - LINE_KEYS
        if unknown:
            raise refusal(_("Unknown line field(s): %(fields)s."), "line",
                        fields=", ".join(sorted(unknown)))  # fmt: skip
        product = row.get("product")
        if not isinstance(product, Product):
            raise refusal(_("Each line needs a product."), "line")
        same_company_check(company, product, names["product"])
        quantity = _decimal(row.get("quantity"), names["quantity"])
        if quantity <= 0:
            raise refusal(_("The quantity must be positive."), "quantity")
        unit_cost = row.get("unit_cost")
        if unit_cost is not None and not costs:
            raise refusal(_("Only receipts take a unit cost."), "line")
        if unit_cost is not None:
            unit_cost = _decimal(unit_cost, _("The unit cost"))
            if unit_cost < 0:
                raise refusal(_("The unit cost cannot be negative."), "unit_cost")
        lot, uom = row.get("lot"), row.get("uom")
        if not isinstance(lot, (Lot, type(None))) or not isinstance(
            uom, (UnitOfMeasure, type(None))
        ):
            raise refusal(_("Give the lot and the unit as records."), "line")
        same_company_check(company, lot, names["lot"])
        source_id = row.get("source_id")
        if source_id is not None and (
            not isinstance(source_id, int) or isinstance(source_id, bool)
        ):
            raise refusal(_("A line's source is named by its id."), "line")
        clean.append(
            _Line(product, quantity, uom, lot, unit_cost, str(row.get("source_type") or ""),
                  source_id)
        )  # fmt: skip
    return clean


VIRTUAL_KEYS = ("supplier", "customer")


def _places(
    company: Company,
    warehouse: Warehouse,
    route: Sequence[tuple[str, str, str, str]],
    ends: Mapping[str, Location],
) -> dict[str, Location]:
    """The locations of the route's steps by key: `ends` as given, "supplier"/"customer" the
    company's virtual locations (`virtual_locations`: the first of each usage), the others the
    warehouse's `<key>_location`; what is not loaded yet is read in one query."""
    keys = {key for step in route for key in step[2:]}
    found = {key: ends[key] for key in keys if key in ends}
    wanted: dict[int, str] = {}
    virtual = sorted(key for key in keys - set(found) if key in VIRTUAL_KEYS)
    for key in keys - set(found) - set(virtual):
        column = Warehouse._meta.get_field(f"{key}_location")
        if column.is_cached(warehouse):
            found[key] = getattr(warehouse, column.name)
        else:
            wanted[getattr(warehouse, column.attname)] = key
    if wanted or virtual:
        where = Q(pk__in=sorted(wanted))
        if virtual:
            where |= Q(company=company, warehouse__isnull=True, usage__in=virtual)
        for location in Location.unscoped.filter(where).order_by("pk"):
            if location.pk in wanted:
                found[wanted[location.pk]] = location
            if location.usage in virtual and location.warehouse_id is None:
                found.setdefault(location.usage, location)  # the first of each usage
        if any(key not in found for key in virtual):  # not made yet: made now
            found.update({key: virtual_locations(company=company)[key] for key in virtual})
    return found


def _units_load(products: Iterable[Product]) -> None:
    """Read the stock units of the products that come without theirs, in one query."""
    missing = [p for p in products if not Product._meta.get_field("uom").is_cached(p)]
    if missing:
        units = UnitOfMeasure.objects.in_bulk({p.uom_id for p in missing})
        for product in missing:
            product.uom = units[product.uom_id]


@dataclass
class _Route:
    """One document's chain of pickings to create (`_routes_create`)."""

    warehouse: Warehouse
    route: Sequence[tuple[str, str, str, str]]
    party: Party | None
    lines: Sequence[Mapping[str, Any]]
    scheduled_date: dt.date
    origin: str = ""
    source_type: str = ""
    source_id: int | None = None
    ends: Mapping[str, Location] | None = None
    clean: list[_Line] = field(default_factory=list)
    places: dict[str, Location] = field(default_factory=dict)
    pickings: list[Picking] = field(default_factory=list)


def _route_create(
    *,
    company: Company,
    warehouse: Warehouse,
    route: Sequence[tuple[str, str, str, str]],
    party: Party | None,
    lines: Sequence[Mapping[str, Any]],
    scheduled_date: dt.date,
    origin: str,
    source_type: str,
    source_id: int | None,
    actor: Any,
    ends: Mapping[str, Location] | None = None,
    confirm: bool = False,
) -> list[Picking]:
    document = _Route(warehouse, route, party, lines, scheduled_date, origin, source_type,
                      source_id, ends)  # fmt: skip
    return _routes_create(company, [document], actor, confirm=confirm)[0]


def _routes_create(
    company: Company, documents: Sequence[_Route], actor: Any, *, confirm: bool = False
) -> list[list[Picking]]:
    """Create the chains of pickings of `documents`, as many `_route_create` calls would one
    after the other, with the statements shared: the pickings of each step, then their moves,
    in one INSERT each, the numbers of each series in one statement, and (`confirm`) one
    reservation for the first steps of all, in the order of `documents`. Everything is
    checked before anything is written."""
    places: dict[tuple[int, Any], dict[str, Location]] = {}
    for document in documents:
        warehouse, party = document.warehouse, document.party
        same_company_check(company, warehouse, _("warehouse"))
        same_company_check(company, party, _("partner"))
        if not warehouse.active:
            raise refusal(
                _("The warehouse %(warehouse)s is archived."), "inactive", warehouse=warehouse
            )
        if not isinstance(document.scheduled_date, dt.date):
            raise refusal(_("Give the scheduled date."), "date")
        document.clean = _lines_clean(company, document.lines,
                                      costs=document.route[0][0] == Kind.RECEIPT)  # fmt: skip
        if document.ends:
            document.places = _places(company, warehouse, document.route, document.ends)
        else:  # documents of one warehouse and route share their locations
            key = (warehouse.pk, tuple(document.route))
            if key not in places:
                places[key] = _places(company, warehouse, document.route, {})
            document.places = places[key]
    _units_load(line.product for document in documents for line in document.clean)
    with transaction.atomic():
        numbers = _numbers(company, documents)
        previous_moves: dict[int, list[Move | None]] = {
            n: [None] * len(document.clean) for n, document in enumerate(documents)
        }
        first_moves: dict[int, list[Move]] = {}
        for index in range(max(len(document.route) for document in documents)):
            at = [n for n, document in enumerate(documents) if index < len(document.route)]
            pickings = []
            for n in at:
                document = documents[n]
                kind, step, source, dest = document.route[index]
                pickings.append(
                    Picking(
                        company=company,
                        number=numbers[(n, index)],
                        kind=kind,
                        step=step,
                        state=PState.DRAFT,
                        warehouse=document.warehouse,
                        from_location=document.places[source],
                        to_location=document.places[dest],
                        party=document.party,
                        scheduled_date=document.scheduled_date,
                        origin=document.origin[:80],
                        source_type=document.source_type,
                        source_id=document.source_id,
                        previous=document.pickings[-1] if document.pickings else None,
                    )
                )
            Picking.unscoped.bulk_create(pickings)  # one INSERT for the step of every document
            moves: list[Move] = []
            spans: dict[int, tuple[int, int]] = {}
            for n, picking in zip(at, pickings, strict=True):
                document = documents[n]
                document.pickings.append(picking)
                spans[n] = (len(moves), len(moves) + len(document.clean))
                moves.extend(
                    stock.move_build(
                        company=company,
                        product=line.product,
                        quantity=line.quantity,
                        uom=line.uom,
                        lot=line.lot,
                        from_location=picking.from_location,
                        to_location=picking.to_location,
                        planned_date=document.scheduled_date,
                        picking=picking,
                        origin=picking.origin or picking.number,
                        source_type=line.source_type or document.source_type,
                        source_id=line.source_id if line.source_type else document.source_id,
                        previous=previous_moves[n][k],
                        unit_cost=line.unit_cost if index == 0 else None,
                        actor=actor,
                    )
                    for k, line in enumerate(document.clean)
                )
            plan = None
            if confirm:  # as `picking_confirm` would: the first step reserved, the others wait
                plan = stock.reservation_plan(moves, fresh=True) if index == 0 else None
                for k, move in enumerate(moves):
                    ready = plan is not None and k in plan.assigned
                    move.state = MState.ASSIGNED if ready else MState.WAITING
            saved = Move.unscoped.bulk_create(moves)  # one INSERT, not one a line
            if plan is not None:
                stock.reservation_write(plan)
            for n in at:
                begin, end = spans[n]
                previous_moves[n] = list(saved[begin:end])
                if index == 0:
                    first_moves[n] = previous_moves[n]
        if confirm:  # new rows, which nobody else sees yet: nothing to lock or read again
            states: dict[int, str] = {}
            for n, document in enumerate(documents):
                states.update({p.pk: PState.WAITING for p in document.pickings[1:]})
                states[document.pickings[0].pk] = _derived_state(m.state for m in first_moves[n])
            by_state: dict[str, list[int]] = defaultdict(list)
            for pk, state in states.items():
                by_state[state].append(pk)
            for state, pks in by_state.items():
                Picking.unscoped.filter(pk__in=pks).update(state=state)
            for document in documents:
                for picking in document.pickings:
                    picking.state = states[picking.pk]
    return [document.pickings for document in documents]


def _numbers(company: Company, documents: Sequence[_Route]) -> dict[tuple[int, int], str]:
    """The numbers of the pickings of `documents` by (document, step), as `_number` one
    picking after the other (by document, then step) would give them; one statement a
    series."""
    wanted: dict[tuple[int, str], list[tuple[int, int]]] = defaultdict(list)
    warehouses: dict[int, Warehouse] = {}
    for n, document in enumerate(documents):
        warehouses.setdefault(document.warehouse.pk, document.warehouse)
        for index, (kind, *_rest) in enumerate(document.route):
            wanted[(document.warehouse.pk, kind)].append((n, index))
    found: dict[tuple[int, int], str] = {}
    for (warehouse_id, kind), keys in wanted.items():
        if len(keys) == 1:
            found[keys[0]] = _number(company, warehouses[warehouse_id], kind)
            continue
        code = _sequence(company, warehouses[warehouse_id], kind)
        numbers = sequence_next_many(company=company, code=code, date=timezone.localdate(),
                                     count=len(keys))  # fmt: skip
        found.update(zip(keys, numbers, strict=True))
    return found


@audited
def receipt_create(
    *,
    company: Company,
    warehouse: Warehouse,
    lines: Sequence[Mapping[str, Any]],
    scheduled_date: dt.date,
    party: Party | None = None,
    origin: str = "",
    source_type: str = "",
    source_id: int | None = None,
    actor: Any = None,
) -> list[Picking]:
    """The draft pickings of a receipt along the warehouse's reception route (supplier → stock;
    supplier → input → stock; supplier → input → quality → stock), first step first.

    `lines`: dicts of product, quantity, and optionally uom (the product's stock unit by
    default), lot (put on every step's move) and unit_cost (the purchase cost, on the first
    step's move). Each step's moves continue (`previous`) the moves of the step before.
    Confirm the first picking (`picking_confirm`) to confirm the whole chain. Raises
    StockError (nothing written) for records of another company, an empty or malformed line,
    and anything `stock.move_create` refuses."""
    return _route_create(
        company=company,
        warehouse=warehouse,
        route=RECEIPT_ROUTES[warehouse.reception_steps],
        party=party,
        lines=lines,
        scheduled_date=scheduled_date,
        origin=origin,
        source_type=source_type,
        source_id=source_id,
        actor=actor,
    )


@audited
def return_receipt_create(
    *,
    company: Company,
    warehouse: Warehouse,
    lines: Sequence[Mapping[str, Any]],
    scheduled_date: dt.date,
    party: Party | None = None,
    to_location: Location | None = None,
    origin: str = "",
    source_type: str = "",
    source_id: int | None = None,
    actor: Any = None,
) -> Picking:
    """A draft one-step receipt of goods coming back from a customer: customer → the
    warehouse's stock location, or `to_location` (the scrap location, another stock location).
    Lines as for `receipt_create` (a unit cost says at what cost the goods re-enter stock).
    Raises StockError, writing nothing, as `receipt_create`."""
    same_company_check(company, to_location, _("location"))
    return _route_create(
        company=company,
        warehouse=warehouse,
        route=((Kind.RECEIPT, "return", "customer", "stock"),),
        party=party,
        lines=lines,
        scheduled_date=scheduled_date,
        origin=origin,
        source_type=source_type,
        source_id=source_id,
        actor=actor,
        ends={"stock": to_location} if to_location is not None else None,
    )[0]


@audited
def delivery_create(
    *,
    company: Company,
    warehouse: Warehouse,
    lines: Sequence[Mapping[str, Any]],
    scheduled_date: dt.date,
    party: Party | None = None,
    origin: str = "",
    source_type: str = "",
    source_id: int | None = None,
    actor: Any = None,
    confirm: bool = False,
) -> list[Picking]:
    """The draft pickings of a delivery along the warehouse's delivery route (stock →
    customer; pick stock → output, ship output → customer; pick stock → packing, pack packing
    → output, ship output → customer), first step first. Lines as for `receipt_create`
    (without unit cost). Confirm the first picking to confirm the chain and reserve the
    stock — or pass `confirm`, which does it at once, as `picking_confirm` of the first
    picking would, without reading the new rows again. Raises StockError, writing nothing, as
    `receipt_create`."""
    return _route_create(
        company=company,
        warehouse=warehouse,
        route=DELIVERY_ROUTES[warehouse.delivery_steps],
        party=party,
        lines=lines,
        scheduled_date=scheduled_date,
        origin=origin,
        source_type=source_type,
        source_id=source_id,
        actor=actor,
        confirm=confirm,
    )


DELIVERY_KEYS = {"warehouse", "lines", "scheduled_date", "party", "origin", "source_type",
                 "source_id"}  # fmt: skip


@audited
def deliveries_create(
    *,
    company: Company,
    deliveries: Sequence[Mapping[str, Any]],
    actor: Any = None,
    confirm: bool = False,
) -> list[list[Picking]]:
    """Many deliveries at once, each as `delivery_create` would make it, in the given order
    (numbers, and with `confirm` the stock reserved, first come first served), with the
    statements shared: the pickings of each step of all the deliveries in one INSERT, their
    moves in another, one reservation. `deliveries`: mappings of the arguments of
    `delivery_create` (warehouse, lines, scheduled_date; party, origin, source_type, source_id
    optional). Returns each delivery's pickings, first step first. Raises StockError, writing
    nothing, as `delivery_create` does for any of them."""
    documents = []
    for delivery in deliveries:
        unknown = set(delivery) - DELIVERY_KEYS
        if unknown:
            raise refusal(_("Unknown delivery field(s): %(fields)s."), "delivery",
                        fields=", ".join(sorted(unknown)))  # fmt: skip
        warehouse = delivery["warehouse"]
        documents.append(
            _Route(
                warehouse=warehouse,
                route=DELIVERY_ROUTES[warehouse.delivery_steps],
                party=delivery.get("party"),
                lines=delivery["lines"],
                scheduled_date=delivery["scheduled_date"],
                origin=delivery.get("origin", ""),
                source_type=delivery.get("source_type", ""),
                source_id=delivery.get("source_id"),
            )
        )
    if not documents:
        return []
    return _routes_create(company, documents, actor, confirm=confirm)


@audited
def internal_transfer_create(
    *,
    company: Company,
    from_location: Location,
    to_location: Location,
    lines: Sequence[Mapping[str, Any]],
    scheduled_date: dt.date,
    warehouse: Warehouse | None = None,
    party: Party | None = None,
    origin: str = "",
    source_type: str = "",
    source_id: int | None = None,
    actor: Any = None,
) -> Picking:
    """A draft internal transfer between two stock locations (internal or transit), numbered
    in the series of `warehouse` (by default the warehouse of the source, else of the
    destination). Raises StockError (nothing written) for a location that does not hold stock,
    no warehouse, records of another company and what `receipt_create` refuses."""
    same_company_check(company, from_location, _("location"))
    same_company_check(company, to_location, _("location"))
    for location in (from_location, to_location):
        if not location.is_stock:
            raise refusal(_("%(location)s does not hold stock; an internal transfer goes between "
                          "stock locations."), "not_stock", location=location)  # fmt: skip
    if warehouse is None:  # read from the rows: the objects may predate their warehouse
        found = dict(
            Location.unscoped.filter(pk__in=[from_location.pk, to_location.pk])
            .exclude(warehouse__isnull=True)
            .values_list("pk", "warehouse_id")
        )
        warehouse_id = found.get(from_location.pk) or found.get(to_location.pk)
        warehouse = Warehouse.unscoped.filter(pk=warehouse_id).first() if warehouse_id else None
    if warehouse is None:
        raise refusal(_("Choose the warehouse the transfer belongs to."), "warehouse")
    return _route_create(
        company=company,
        warehouse=warehouse,
        route=((Kind.INTERNAL, "", "from", "to"),),
        party=party,
        lines=lines,
        scheduled_date=scheduled_date,
        origin=origin,
        source_type=source_type,
        source_id=source_id,
        actor=actor,
        ends={"from": from_location, "to": to_location},
    )[0]


# --- state -----------------------------------------------------------------------------------


def _derived_state(states: Iterable[str]) -> str:
    states = set(states)
    if not states:
        return PState.DRAFT
    if states == {MState.CANCELLED}:
        return PState.CANCELLED
    if states <= {MState.DONE, MState.CANCELLED}:
        return PState.DONE
    if MState.DRAFT in states:
        return PState.DRAFT
    return PState.WAITING if MState.WAITING in states else PState.READY


def _sync(
    picking_ids: Iterable[int | None],
    known: Mapping[int, str] | None = None,
    moves: Mapping[int, set[str]] | None = None,
) -> dict[int, dict[str, Any]]:
    """Set each picking's state from its moves (and its done time when it becomes done).
    `known`: the state of pickings the caller holds locked; `moves`: the states of all the
    moves of pickings whose moves the caller holds locked (neither read again). Returns what
    was written, by picking id."""
    ids = sorted({pk for pk in picking_ids if pk})
    if not ids:
        return {}
    states: dict[int, set[str]] = {pk: set(moves[pk]) if moves and pk in moves else set()
                                   for pk in ids}  # fmt: skip
    unread = [pk for pk in ids if not moves or pk not in moves]
    for picking_id, state in (
        Move.unscoped.filter(picking_id__in=unread)
        .values_list("picking_id", "state")
        .order_by()
        .distinct()
    ):
        states[picking_id].add(state)
    current = {pk: state for pk, state in (known or {}).items() if pk in states}
    unknown = [pk for pk in ids if pk not in current]
    if unknown:
        current.update(Picking.unscoped.filter(pk__in=unknown).values_list("pk", "state"))
    becoming: dict[str, list[int]] = defaultdict(list)
    for pk in ids:
        if pk in current and _derived_state(states[pk]) != current[pk]:
            becoming[_derived_state(states[pk])].append(pk)
    written: dict[int, dict[str, Any]] = {}
    for state, pks in becoming.items():
        changes: dict[str, Any] = {"state": state}
        if state == PState.DONE:
            changes["done_at"] = timezone.now()
        Picking.unscoped.filter(pk__in=pks).update(**changes)
        written.update(dict.fromkeys(pks, changes))
    return written


def pickings_refresh(*, moves: Iterable[Move]) -> None:
    """Set the state of the pickings of `moves` from their moves, for services that reserve
    or release moves of pickings outside this module (counts, for instance)."""
    _sync(m.picking_id for m in moves)


def _later(locked: Picking) -> list[int]:
    """`_downstream_pickings` of a picking read by `_lock_picking`."""
    if not getattr(locked, "has_next", True):
        return []
    return _downstream_pickings([locked.pk])


def _downstream_pickings(picking_ids: Iterable[int]) -> list[int]:
    """The pickings of the later steps, however far, of `picking_ids` (without them)."""
    seen: set[int] = set()
    frontier = set(picking_ids)
    while frontier:
        found = (
            set(Picking.unscoped.filter(previous_id__in=frontier).values_list("pk", flat=True))
            - seen
        )
        seen |= found
        frontier = found
    return sorted(seen)


def _downstream_moves(move_ids: Iterable[int]) -> list[Move]:
    """The open moves that continue `move_ids`, however far (without them)."""
    found: list[Move] = []
    frontier = set(move_ids)
    seen = set(frontier)
    while frontier:
        nxt = list(Move.unscoped.filter(previous_id__in=frontier, state__in=OPEN).order_by("pk"))
        nxt = [m for m in nxt if m.pk not in seen]
        seen |= {m.pk for m in nxt}
        found.extend(nxt)
        frontier = {m.pk for m in nxt}
    return found


def _lock_picking(picking: Picking, *states: str, later: bool = False) -> Picking:
    """The picking's row, locked (with its company and locations), refused (StockError)
    unless in one of `states`; with `later`, `has_next` says whether a later step continues
    it (`_later`)."""
    rows = Picking.unscoped.select_for_update(of=("self",)).select_related(
        "company", "from_location", "to_location"
    )
    if later:
        rows = rows.annotate(has_next=Exists(Picking.unscoped.filter(previous_id=OuterRef("pk"))))
    locked = rows.get(pk=picking.pk)
    if states and locked.state not in states:
        raise refusal(_("The picking %(picking)s is %(state)s."), "state",
                    picking=locked, state=locked.get_state_display())  # fmt: skip
    return locked


def _placed(moves: list[Move], picking: Picking) -> list[Move]:
    """The moves with their company, picking and locations taken from `picking` (read by
    `_lock_picking`: its moves mostly go between its two locations), the other locations read
    at once, instead of one copy of each per move."""
    return _placed_many(moves, {picking.pk: picking})


def _placed_many(moves: list[Move], pickings: Mapping[int, Picking]) -> list[Move]:
    """`_placed` with the moves of several pickings (by id, each read by `_lock_picking` or
    `_lock_pickings`)."""
    places: dict[int, Location] = {}
    companies = {}
    for picking in pickings.values():
        places[picking.from_location_id] = picking.from_location
        places[picking.to_location_id] = picking.to_location
        companies[picking.company_id] = picking.company
    missing = {pk for m in moves for pk in (m.from_location_id, m.to_location_id)} - set(places)
    if missing:
        places.update(Location.unscoped.in_bulk(sorted(missing)))
    fields = {name: Move._meta.get_field(name)
              for name in ("company", "picking", "from_location", "to_location")}  # fmt: skip
    for move in moves:
        fields["from_location"].set_cached_value(move, places[move.from_location_id])
        fields["to_location"].set_cached_value(move, places[move.to_location_id])
        if move.company_id in companies:
            fields["company"].set_cached_value(move, companies[move.company_id])
        if move.picking_id in pickings:
            fields["picking"].set_cached_value(move, pickings[move.picking_id])
    return moves


def _ready(moves: Iterable[Move]) -> tuple[list[Move], list[Move]]:
    """Split moves into those whose previous move is done (or that have none) and the others."""
    moves = list(moves)
    previous_ids = {m.previous_id for m in moves if m.previous_id}
    done = set(
        Move.unscoped.filter(pk__in=previous_ids, state=MState.DONE).values_list("pk", flat=True)
    )
    ready = [m for m in moves if not m.previous_id or m.previous_id in done]
    blocked = [m for m in moves if m.previous_id and m.previous_id not in done]
    return ready, blocked


def _confirm(picking: Picking, picking_ids: Sequence[int], actor: Any) -> dict[int, set[str]]:
    """Confirm the draft moves of the pickings (`picking`, as locked, and the later ones; their
    moves are locked, in primary-key order): those whose previous move is done are confirmed and
    reserved (`stock.moves_confirm`); the others wait for it unreserved. Returns the states of
    the pickings' moves, by picking."""
    moves = _placed(
        list(
            Move.unscoped.select_for_update(of=("self",))
            .filter(picking_id__in=picking_ids)
            .order_by("pk")
        ),
        picking,
    )
    ready, blocked = _ready(m for m in moves if m.state == MState.DRAFT)
    if ready:
        stock.moves_confirm_locked(ready)
    if blocked:
        Move.unscoped.filter(pk__in=[m.pk for m in blocked], state=MState.DRAFT).update(
            state=MState.WAITING
        )
        for move in blocked:
            move.state = MState.WAITING
    states: dict[int, set[str]] = defaultdict(set)
    for move in moves:
        states[move.picking_id].add(move.state)
    return states


def _refreshed(
    picking: Picking, locked: Picking | None = None, changes: Mapping[str, Any] | None = None
) -> Picking:
    """`picking` reloaded, as `refresh_from_db` does: from the row the service locked
    (`locked`, read under its lock) and what it wrote to it since (`changes`) when given."""
    if locked is None:
        picking.refresh_from_db()
        return picking
    changes = changes or {}
    picking._prefetched_objects_cache = {}
    for column in Picking._meta.concrete_fields:
        setattr(picking, column.attname, changes.get(column.name, getattr(locked, column.attname)))
        if column.is_relation and column.is_cached(picking):
            column.delete_cached_value(picking)
    for rel in Picking._meta.related_objects:
        if rel.is_cached(picking):
            rel.delete_cached_value(picking)
    picking._state.adding, picking._state.db = False, locked._state.db
    return picking


# --- confirming, reserving, cancelling ---------------------------------------------------------


@audited
def picking_confirm(*, picking: Picking, actor: Any = None) -> Picking:
    """Confirm a draft picking and the draft pickings of its later steps: moves whose previous
    move is done (or that have none) are reserved as far as stock allows; the others wait for
    the step before. Raises StockError for a picking that is not a draft. Locks the picking,
    then moves and quants."""
    with transaction.atomic():
        locked = _lock_picking(picking, PState.DRAFT, later=True)
        later = _later(locked)
        drafts = [locked.pk] + list(
            Picking.unscoped.filter(pk__in=later, state=PState.DRAFT).values_list("pk", flat=True)
        )
        moves = _confirm(locked, drafts, actor)
        written = _sync(
            [locked.pk, *later],
            known={locked.pk: locked.state},
            moves={pk: moves[pk] for pk in drafts},
        )
    return _refreshed(picking, locked, written.get(locked.pk))


@audited
def picking_assign(*, picking: Picking, actor: Any = None) -> Picking:
    """Reserve what stock allows for the picking's waiting moves whose previous step is done;
    the picking is ready when all its moves are reserved. Raises StockError for a picking that
    is not waiting or ready (confirm a draft first)."""
    with transaction.atomic():
        locked = _lock_picking(picking, PState.WAITING, PState.READY)
        moves = Move.unscoped.filter(
            picking=locked, state__in=(MState.WAITING, MState.ASSIGNED)
        ).order_by("pk")
        ready, _blocked = _ready(moves)
        if ready:
            stock.moves_assign(moves=ready, actor=actor)
        written = _sync([locked.pk], known={locked.pk: locked.state})
    return _refreshed(picking, locked, written.get(locked.pk))


@audited
def pickings_assign_waiting(
    *, company: Company, warehouse: Warehouse | None = None, actor: Any = None
) -> list[Picking]:
    """Retry the reservation of the company's waiting pickings (of `warehouse`), earliest
    scheduled first, as a scheduler would after stock came in. Returns those now ready."""
    pickings = Picking.unscoped.filter(company=company, state=PState.WAITING)
    if warehouse is not None:
        pickings = pickings.filter(warehouse=warehouse)
    ready = []
    for picking in pickings.order_by("scheduled_date", "pk"):
        if picking_assign(picking=picking, actor=actor).state == PState.READY:
            ready.append(picking)
    return ready


@audited
def picking_cancel(*, picking: Picking, actor: Any = None) -> Picking:
    """Cancel the picking's moves that are not done, releasing their reservations, and the
    moves of later steps that wait for them (their pickings are cancelled when nothing is left
    in them). Raises StockError for a picking done or cancelled already."""
    with transaction.atomic():
        locked = _lock_picking(picking, PState.DRAFT, PState.WAITING, PState.READY)
        moves = list(Move.unscoped.filter(picking=locked, state__in=OPEN).order_by("pk"))
        later = _downstream_moves(m.pk for m in moves)
        stock.moves_cancel(moves=moves + later, actor=actor)
        written = _sync(
            [locked.pk, *(m.picking_id for m in later)], known={locked.pk: locked.state}
        )
    return _refreshed(picking, locked, written.get(locked.pk))


# --- doing -----------------------------------------------------------------------------------

_COPY = (
    "company_id", "product_id", "uom_id", "from_location_id", "to_location_id", "lot_id",
    "planned_date", "picking_id", "origin", "source_type", "source_id", "previous_id",
    "unit_cost", "created_by_id",
)  # fmt: skip


def _fefo(reservation: Reservation) -> tuple[Any, ...]:
    """The order `stock` reserves in: lots expiring first, then stock that arrived first."""
    quant = reservation.quant
    expiry = quant.lot.expiry_date if quant.lot_id and quant.lot.expiry_date else dt.date.max
    return (expiry, quant.in_date or timezone.now(), quant.pk)


def _carve(move: Move, keep_base: Decimal, state: str | None = None) -> Move:
    """Split `move` into `keep_base` (stock unit; it keeps the move's row and the reservations
    it needs, oldest stock first) and the rest, a new move that takes the other reservations;
    returns the rest. With nothing kept, the whole move is the rest."""
    if keep_base <= 0:
        return move
    rest_base = move.quantity_base - keep_base
    keep_quantity = (move.quantity * keep_base / move.quantity_base).quantize(SIX)
    rest_quantity = move.quantity - keep_quantity
    if rest_quantity <= 0:
        raise refusal(_("%(quantity)s is too small a rest to leave for later."), "quantity",
                    quantity=rest_base.normalize())  # fmt: skip
    rest = Move.unscoped.create(
        **{name: getattr(move, name) for name in _COPY},
        quantity=rest_quantity,
        quantity_base=rest_base,
        state=state or move.state,
    )
    Move.unscoped.filter(pk=move.pk).update(quantity=keep_quantity, quantity_base=keep_base)
    move.quantity, move.quantity_base = keep_quantity, keep_base
    # Reservations beyond what is kept go with the rest; the quants' reserved totals do not
    # change, as the stock stays reserved, for the rest.
    kept = ZERO
    reservations = Reservation.unscoped.filter(move=move).select_related("quant__lot")
    ordered = sorted(reservations, key=_fefo)
    rest_reserved = ZERO
    for reservation in ordered:
        stays = min(reservation.quantity, max(keep_base - kept, ZERO))
        kept += stays
        goes = reservation.quantity - stays
        if goes <= 0:
            continue
        rest_reserved += goes
        if stays > 0:
            Reservation.unscoped.filter(pk=reservation.pk).update(quantity=stays)
            Reservation.unscoped.create(company_id=move.company_id, move=rest,
                                        quant_id=reservation.quant_id, quantity=goes)  # fmt: skip
        else:
            Reservation.unscoped.filter(pk=reservation.pk).update(move=rest)
    if move.from_location.is_stock and move.state in (MState.WAITING, MState.ASSIGNED):
        kept_state = MState.ASSIGNED if kept >= keep_base else MState.WAITING
        rest_state = MState.ASSIGNED if rest_reserved >= rest_base else MState.WAITING
        if (
            move.previous_id
            and not Move.unscoped.filter(pk=move.previous_id, state=MState.DONE).exists()
        ):
            kept_state = rest_state = MState.WAITING
        Move.unscoped.filter(pk=move.pk).update(state=kept_state)
        Move.unscoped.filter(pk=rest.pk).update(state=rest_state)
        move.state, rest.state = kept_state, rest_state
    return rest


def _carve_chain(move: Move, rest: Move, keep_base: Decimal) -> list[Move]:
    """After `move` was split into what it keeps and `rest`, split the open moves continuing
    it the same way: each keeps at most `keep_base`, its rest continues `rest`. Returns the
    rest moves created (or, when nothing is kept, the moves that go with `rest`)."""
    if rest.pk == move.pk:  # the whole move is left: everything after it goes with it
        return _downstream_moves([move.pk])
    rests: list[Move] = []
    followers = Move.unscoped.filter(previous=move, state__in=OPEN).select_related("from_location")
    for follower in followers.order_by("pk"):
        if follower.quantity_base <= keep_base:
            continue
        follower_rest = _carve(follower, keep_base, state=MState.WAITING)
        Move.unscoped.filter(pk=follower_rest.pk).update(previous=rest)
        follower_rest.previous_id = rest.pk
        rests.append(follower_rest)
        rests.extend(_carve_chain(follower, follower_rest, keep_base))
    return rests


def _lots_for(move: Move, value: Any, done_base: Decimal, actor: Any) -> list[Lot]:
    """The lot(s) given for a move: a Lot, a name (created for goods coming in), or a list of
    serial numbers, one a unit."""
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if not values:
        raise refusal(_("Give the lot or serial number of %(product)s."), "lot_required",
                    product=move.product)  # fmt: skip
    product = move.product
    if len(values) > 1 or product.tracking == Product.Tracking.SERIAL:
        if product.tracking != Product.Tracking.SERIAL:
            raise refusal(_("%(product)s is tracked by lot: give one lot per move."), "lots",
                        product=product)  # fmt: skip
        if Decimal(len(values)) != done_base:
            raise refusal(_("Give one serial number per unit of %(product)s: %(count)s for "
                          "%(quantity)s."), "serials", product=product, count=len(values),
                        quantity=done_base.normalize())  # fmt: skip
    lots: list[Lot] = []
    for item in values:
        if isinstance(item, Lot):
            if item.company_id != move.company_id or item.product_id != product.pk:
                raise refusal(_("The lot %(lot)s belongs to another product."), "lot", lot=item)
            lot = item
        else:
            name = str(item or "").strip()
            lot = Lot.unscoped.filter(company_id=move.company_id, product=product,
                                      name=name).first()  # fmt: skip
            if lot is None:
                if move.from_location.is_stock:
                    raise refusal(_("%(product)s has no lot %(lot)s."), "unknown_lot",
                                product=product, lot=name)  # fmt: skip
                lot = stock.lot_create(company=move.company, product=product, name=name,
                                       actor=actor)  # fmt: skip
        lots.append(lot)
    if len({lot.pk for lot in lots}) != len(lots):
        raise refusal(_("A serial number is given twice."), "serials")
    return lots


def _apply_lots(move: Move, lots: list[Lot], actor: Any) -> list[Move]:
    """Put the lot(s) on the move (a move per serial number); a move leaving stock gives back
    its reservations first, to take the given lots. Later steps waiting for the move get the
    lot when they had the move's former one. Returns the moves to do."""
    if Reservation.unscoped.filter(move=move).exists():
        stock.moves_unreserve(moves=[move], actor=actor)
    old_lot = move.lot_id
    move.state = Move.unscoped.values_list("state", flat=True).get(pk=move.pk)
    moves = [move]
    Move.unscoped.filter(pk=move.pk).update(lot=lots[0])
    move.lot = lots[0]
    if len(lots) > 1:
        unit = (move.quantity / move.quantity_base).quantize(SIX)
        Move.unscoped.filter(pk=move.pk).update(quantity=unit, quantity_base=1)
        move.quantity, move.quantity_base = unit, Decimal(1)
        for lot in lots[1:]:
            moves.append(
                Move.unscoped.create(
                    **{name: getattr(move, name) for name in _COPY if name != "lot_id"},
                    lot=lot,
                    quantity=unit,
                    quantity_base=1,
                    state=move.state,
                )  # fmt: skip
            )
    if old_lot is not None:
        later = [m.pk for m in _downstream_moves([move.pk]) if m.lot_id == old_lot]
        Move.unscoped.filter(pk__in=later).update(lot=lots[0] if len(lots) == 1 else None)
    return moves


def _quantities(
    moves: list[Move], quantities: Mapping[int, Any] | None
) -> dict[int, tuple[Decimal, Decimal]]:
    """Move id → (quantity done in the move's unit, in the stock unit)."""
    by_id = {m.pk: m for m in moves}
    if quantities is None:
        return {m.pk: (m.quantity, m.quantity_base) for m in moves}
    result = {}
    for key, value in quantities.items():
        try:
            move = by_id[int(key)]
        except (KeyError, TypeError, ValueError) as exc:
            raise refusal(_("Move %(move)s is not an open move of this picking."), "foreign_move",
                        move=key) from exc  # fmt: skip
        quantity = _decimal(value, _("The quantity done"))
        if quantity < 0:
            raise refusal(_("The quantity done cannot be negative."), "quantity")
        if quantity > move.quantity:
            raise refusal(_("%(done)s of %(product)s is more than the %(planned)s planned."),
                        "too_much", done=quantity.normalize(), product=move.product,
                        planned=move.quantity.normalize())  # fmt: skip
        base = (move.quantity_base * quantity / move.quantity).quantize(SIX)
        if quantity > 0 and base <= 0:
            raise refusal(_("The quantity done is too small."), "quantity")
        result[move.pk] = (quantity, base)
    for move in moves:
        result.setdefault(move.pk, (ZERO, ZERO))
    if all(base <= 0 for _q, base in result.values()):
        raise refusal(_("Nothing is done: give the quantities done."), "nothing_done")
    return result


def _backorders(picking: Picking, rests: list[Move]) -> list[Picking]:
    """Put rest moves into backorders of their pickings, chained like the pickings."""
    by_picking: dict[int, list[Move]] = {}
    for move in rests:
        by_picking.setdefault(move.picking_id, []).append(move)
    order = [picking.pk, *_downstream_pickings([picking.pk])]
    created: dict[int, Picking] = {}
    originals = {
        p.pk: p
        for p in Picking.unscoped.filter(pk__in=list(by_picking)).select_related(
            "company", "warehouse"
        )
    }
    for pk in sorted(by_picking, key=lambda p: order.index(p) if p in order else len(order)):
        original = originals[pk]
        backorder = Picking.unscoped.create(
            company_id=original.company_id,
            number=_number(original.company, original.warehouse, original.kind),
            kind=original.kind,
            step=original.step,
            state=PState.WAITING,
            warehouse_id=original.warehouse_id,
            from_location_id=original.from_location_id,
            to_location_id=original.to_location_id,
            party_id=original.party_id,
            scheduled_date=original.scheduled_date,
            origin=original.origin,
            source_type=original.source_type,
            source_id=original.source_id,
            previous=created.get(original.previous_id) or original.previous,
            backorder_of=original,
        )
        created[pk] = backorder
        Move.unscoped.filter(pk__in=[m.pk for m in by_picking[pk]]).update(picking=backorder)
    return list(created.values())


def _lock_pickings(pickings: Iterable[Picking], *states: str) -> dict[int, Picking]:
    """`_lock_picking` of several pickings, in one query (primary-key order), by id."""
    ids = sorted({p.pk for p in pickings})
    locked = {
        p.pk: p
        for p in Picking.unscoped.select_for_update(of=("self",))
        .select_related("company", "from_location", "to_location")
        .filter(pk__in=ids)
        .order_by("pk")
    }
    if len(locked) != len(ids):
        raise Picking.DoesNotExist
    for row in locked.values():
        if states and row.state not in states:
            raise refusal(_("The picking %(picking)s is %(state)s."), "state",
                        picking=row, state=row.get_state_display())  # fmt: skip
    return locked


def _done_ready(
    locked: Mapping[int, Picking], actor: Any, effective_date: dt.date | None
) -> dict[int, dict[str, Any]]:
    """Do all the open moves of ready pickings (`locked` by `_lock_picking(s)`, by id) with
    what they reserved, in one `stock.moves_done_locked` call (so one valuation and one call of
    the `on_moves_done` listeners); the moves waiting on them are reserved and their pickings
    refreshed. Returns what `_sync` wrote, by picking id. Raises StockError, writing nothing,
    for a picking with nothing to do or a move whose previous step is not done."""
    ids = sorted(locked)
    # the moves are locked here (primary-key order), read once for the whole service
    moves = _placed_many(
        list(
            Move.unscoped.select_for_update(of=("self",))
            .filter(picking_id__in=ids, state__in=OPEN)
            .select_related("product")
            .order_by("pk")
        ),
        locked,
    )
    having = {m.picking_id for m in moves}
    for pk in ids:
        if pk not in having:
            raise refusal(_("The picking %(picking)s has nothing to do."), "nothing_done",
                        picking=locked[pk])  # fmt: skip
    before = {m.previous_id for m in moves if m.previous_id}
    open_before = set(
        Move.unscoped.filter(pk__in=sorted(before))
        .exclude(state=MState.DONE)
        .values_list("pk", flat=True)
    )
    for move in moves:
        if move.previous_id in open_before:
            previous = move.previous
            raise refusal(_("%(product)s waits for the previous step %(picking)s."),
                        "previous_not_done", product=move.product,
                        picking=previous.picking or previous)  # fmt: skip
    move_ids = [m.pk for m in moves]
    waiting = list(
        Move.unscoped.select_for_update(of=("self",))
        .filter(previous_id__in=move_ids, state=MState.WAITING)
        .exclude(pk__in=move_ids)
        .select_related(*stock.MOVE_RELATED)
        .order_by("pk")
    )
    _done, followers = stock.moves_done_locked(
        moves, waiting, actor=actor, effective_date=effective_date
    )
    # every open move of the pickings is done now, the others were done or cancelled
    return _sync(
        {*ids, *(m.picking_id for m in followers)},
        known={pk: row.state for pk, row in locked.items()},
        moves=dict.fromkeys(ids, {MState.DONE}),
    )


@audited
def pickings_done(*, pickings: Sequence[Picking], actor: Any = None) -> list[Picking]:
    """Do many pickings at once (a wave), each as `picking_done(picking=…, actor=actor)` with
    no quantities nor lots would: every open move done with what it reserved.

    The ready pickings are done together: locked in one query, their moves done in one
    `stock.moves_done_locked` call (one pass over the quants, one valuation — its ledger entry
    is one per journal and day for all of them, its reference listing the pickings — and one
    call of the `on_moves_done` listeners). The others (drafts, waiting pickings, which may
    need stock reserved or moves split) are then done one by one through `picking_done`, in
    the given order; a picking given twice is done once. Returns the pickings, refreshed, in
    the given order.

    Raises StockError, writing nothing (one transaction), for a picking done or cancelled and
    what `picking_done` refuses. Locks the pickings (primary-key order), then moves and
    quants."""
    unique = list({p.pk: p for p in pickings}.values())
    if not unique:
        return []
    with transaction.atomic():
        locked = _lock_pickings(unique, PState.DRAFT, PState.WAITING, PState.READY)
        ready = {pk: row for pk, row in locked.items() if row.state == PState.READY}
        written = _done_ready(ready, actor, None) if ready else {}
        return [
            _refreshed(p, ready[p.pk], written.get(p.pk))
            if p.pk in ready
            else picking_done(picking=p, actor=actor)
            for p in unique
        ]


@audited
def picking_done(
    *,
    picking: Picking,
    actor: Any = None,
    quantities: Mapping[int, Any] | None = None,
    lots: Mapping[int, Any] | None = None,
    backorder: bool = True,
    effective_date: dt.date | None = None,
) -> Picking:
    """Do the picking (a draft is confirmed first).

    `quantities` (move id → quantity done in the move's unit; moves left out: none done) does
    part of it: each partly done move is split, the done part stays in the picking and the
    rest goes to a backorder picking (`backorder_of`), keeping its reservations; the later
    steps' moves waiting for the rest are split and go to backorders of their pickings. With
    `backorder=False` the rest, and what waits for it, is cancelled instead. `lots` (move id →
    a Lot, a lot name, or a list of serial numbers, one a unit) says which lot was received or
    taken; names of lots coming in are created. The next step's moves are then reserved
    (`stock.moves_done`) and their picking becomes ready.

    Raises StockError, writing nothing, for a picking done or cancelled, quantities that are
    negative, above the planned quantity or all zero, moves not in the picking, moves whose
    previous step is not done, wrong lots, and what `stock.moves_done` refuses (not enough
    stock, a lot missing…). Locks the picking, then the moves and quants."""
    with transaction.atomic():
        locked = _lock_picking(picking, PState.DRAFT, PState.WAITING, PState.READY)
        if quantities is None and not lots and locked.state == PState.READY:
            written = _done_ready({locked.pk: locked}, actor, effective_date)
            return _refreshed(picking, locked, written.get(locked.pk))
        was_draft = locked.state == PState.DRAFT
        if was_draft:
            later = _later(locked)
            drafts = Picking.unscoped.filter(pk__in=later, state=PState.DRAFT)
            _confirm(locked, [locked.pk, *drafts.values_list("pk", flat=True)], actor)
        # the moves are locked here (primary-key order), read once for the whole service
        moves = _placed(
            list(
                Move.unscoped.select_for_update(of=("self",))
                .filter(picking=locked, state__in=OPEN)
                .select_related("product")
                .order_by("pk")
            ),
            locked,
        )
        if not moves:
            raise refusal(_("The picking %(picking)s has nothing to do."), "nothing_done",
                        picking=locked)  # fmt: skip
        done_qty = _quantities(moves, quantities)
        lots = dict(lots or {})
        for key in lots:
            if not any(str(m.pk) == str(key) for m in moves):
                raise refusal(_("Move %(move)s is not an open move of this picking."),
                            "foreign_move", move=key)  # fmt: skip
        before = {m.previous_id for m in moves if m.previous_id and done_qty[m.pk][1] > 0}
        open_before = set(
            Move.unscoped.filter(pk__in=sorted(before))
            .exclude(state=MState.DONE)
            .values_list("pk", flat=True)
        )
        for move in moves:
            if move.previous_id in open_before and done_qty[move.pk][1] > 0:
                previous = move.previous
                raise refusal(_("%(product)s waits for the previous step %(picking)s."),
                            "previous_not_done", product=move.product,
                            picking=previous.picking or previous)  # fmt: skip
        # Reserve what came in since, so that the done part is taken as reserved stock.
        short = [
            m
            for m in moves
            if done_qty[m.pk][1] > 0 and m.state == MState.WAITING and m.from_location.is_stock
        ]
        if short:
            states = {m.pk: m.state for m in stock.moves_assign(moves=short, actor=actor)}
            for move in short:
                move.state = states.get(move.pk, move.state)
        rests: list[Move] = []
        to_do: list[Move] = []
        followers: list[Move] = []
        lotted = False
        for move in moves:
            _quantity, base = done_qty[move.pk]
            if base < move.quantity_base:
                rest = _carve(move, base)
                rests.append(rest)
                rests.extend(_carve_chain(move, rest, base))
            if base <= 0:
                continue
            lot_value = lots.get(move.pk, lots.get(str(move.pk)))
            if lot_value is not None:
                lotted = True
                chosen = _lots_for(move, lot_value, move.quantity_base, actor)
                to_do.extend(_apply_lots(move, chosen, actor))
            else:
                to_do.append(move)
        if lotted:  # lots applied (moves split, reservations given back): read them again
            done = stock.moves_done(moves=to_do, actor=actor, effective_date=effective_date)
        else:  # the moves as locked and read above, and those waiting on them
            ids = sorted(m.pk for m in to_do)
            waiting = list(
                Move.unscoped.select_for_update(of=("self",))
                .filter(previous_id__in=ids, state=MState.WAITING)
                .exclude(pk__in=ids)
                .select_related(*stock.MOVE_RELATED)
                .order_by("pk")
            )
            done, followers = stock.moves_done_locked(
                to_do, waiting, actor=actor, effective_date=effective_date
            )
        known_moves: dict[int, set[str]] = {}
        if lotted or rests or was_draft:  # what may have changed is further down the route
            touched = {locked.pk, *_later(locked)}
            touched |= set(
                Move.unscoped.filter(previous__in=done).values_list("picking_id", flat=True)
            )
        else:  # only the moves done and those reserved for after them
            touched = {locked.pk, *(m.picking_id for m in followers)}
            # every open move of the picking is done now, the others were done or cancelled
            known_moves[locked.pk] = {MState.DONE}
        if rests:
            if backorder:
                created = _backorders(locked, rests)
                touched |= {p.pk for p in created}
                ready, _blocked = _ready(
                    Move.unscoped.filter(pk__in=[m.pk for m in rests], state__in=(MState.WAITING,))
                )
                if ready:
                    stock.moves_assign(moves=ready, actor=actor)
            else:
                stock.moves_cancel(
                    moves=[m for m in rests if m.state != MState.CANCELLED], actor=actor
                )
        written = _sync(touched, known={locked.pk: locked.state}, moves=known_moves)
    return _refreshed(picking, locked, written.get(locked.pk))


# --- scanning --------------------------------------------------------------------------------


@dataclass
class ScanResult:
    """What a scanned code is: `kind` "product", "lot", "location" or "" (nothing), the
    record(s) found, and the picking's open moves it concerns."""

    code: str
    kind: str = ""
    product: Product | None = None
    lot: Lot | None = None
    location: Location | None = None
    moves: list[Move] = field(default_factory=list)


def picking_scan(*, picking: Picking, code: str) -> ScanResult:
    """Resolve a scanned code for the picking screen, writing nothing: a product's barcode,
    a location's barcode, a lot or serial number (of the picking's products first), then a
    product's SKU. For a product or lot, `moves` are the picking's open moves of it (of that
    lot, or without a lot); for a location, those from or to it."""
    code = (code or "").strip()
    result = ScanResult(code=code)
    if not code:
        return result
    company_id = picking.company_id
    open_moves = list(
        Move.unscoped.filter(picking=picking, state__in=OPEN)
        .select_related("product", "lot")
        .order_by("pk")
    )
    products = {m.product_id for m in open_moves}

    product = Product.unscoped.filter(company_id=company_id, barcode=code).first()
    if product is not None:
        result.kind, result.product = "product", product
        result.moves = [m for m in open_moves if m.product_id == product.pk]
        return result
    location = Location.unscoped.filter(company_id=company_id, barcode=code, active=True).first()
    if location is not None:
        result.kind, result.location = "location", location
        result.moves = [
            m for m in open_moves if location.pk in (m.from_location_id, m.to_location_id)
        ]
        return result
    lots = list(Lot.unscoped.filter(company_id=company_id, name=code).select_related("product"))
    lots.sort(key=lambda lot: (lot.product_id not in products, lot.pk))
    if lots:
        lot = lots[0]
        result.kind, result.lot, result.product = "lot", lot, lot.product
        result.moves = [
            m for m in open_moves if m.product_id == lot.product_id and m.lot_id in (None, lot.pk)
        ]
        return result
    product = Product.unscoped.filter(
        Q(sku=code) | Q(sku__iexact=code), company_id=company_id
    ).first()
    if product is not None:
        result.kind, result.product = "product", product
        result.moves = [m for m in open_moves if m.product_id == product.pk]
    return result
