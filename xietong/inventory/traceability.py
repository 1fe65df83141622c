"""Lot traceability: where a lot went (downstream: which customers got supplier lot X, even
inside what was made of it) and where it came from (upstream: which supplier lots are in this
shipment).

The trace follows done moves only: every move of a lot; the `consumed` links of production
(a produced move names the component moves it consumed), from component lots to the lots
made of them and back; and, for moves without a lot (an untracked product made of tracked
components), the `previous` chain of the route. A lot reached through production is followed
from the production on (downstream) or up to it (upstream), not in its other uses.

Reads only.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from django.db.models import QuerySet

from xietong.inventory.models import Location, Lot, Move, Picking
from xietong.party.models import Party
from xietong.product.models import Product

DONE = Move.State.DONE
Usage = Location.Usage


@dataclass(frozen=True)
class TraceStep:
    """A done move on the trace: `via` says how it was reached ("lot": a move of a lot on
    the trace, "consumed": production link, "previous": route chain of an untracked move),
    `parent` the move it was reached from (None for the lot traced), `depth` how many
    production links away it is."""

    move: Move
    product: Product
    lot: Lot | None
    from_location: Location
    to_location: Location
    picking: Picking | None
    party: Party | None
    date: dt.date | None
    via: str
    parent: Move | None
    depth: int


@dataclass
class Trace:
    lot: Lot
    direction: Literal["downstream", "upstream"]
    steps: list[TraceStep] = field(default_factory=list)

    @property
    def lots(self) -> list[Lot]:
        """The lots on the trace, the traced one first."""
        seen: dict[int, Lot] = {self.lot.pk: self.lot}
        for step in self.steps:
            if step.lot is not None:
                seen.setdefault(step.lot.pk, step.lot)
        return list(seen.values())

    @property
    def deliveries(self) -> list[TraceStep]:
        """The moves to customers on the trace (with the customer as `party`)."""
        return [s for s in self.steps if s.to_location.usage == Usage.CUSTOMER]

    @property
    def receipts(self) -> list[TraceStep]:
        """The moves from suppliers on the trace (with the supplier as `party`)."""
        return [s for s in self.steps if s.from_location.usage == Usage.SUPPLIER]

    @property
    def supplier_lots(self) -> list[Lot]:
        """The lots received from suppliers on the trace."""
        found: dict[int, Lot] = {}
        for step in self.receipts:
            if step.lot is not None:
                found.setdefault(step.lot.pk, step.lot)
        return list(found.values())


_RELATED = ("product", "lot", "from_location", "to_location", "picking__party")


def _done(company_id: int) -> QuerySet[Move]:
    return Move.unscoped.filter(company_id=company_id, state=DONE).select_related(*_RELATED)


def _step(move: Move, via: str, parent: Move | None, depth: int) -> TraceStep:
    picking = move.picking
    return TraceStep(
        move=move,
        product=move.product,
        lot=move.lot,
        from_location=move.from_location,
        to_location=move.to_location,
        picking=picking,
        party=picking.party if picking is not None else None,
        date=move.effective_date,
        via=via,
        parent=parent,
        depth=depth,
    )


def _trace(lot: Lot, downstream: bool) -> Trace:
    trace = Trace(lot=lot, direction="downstream" if downstream else "upstream")
    company_id = lot.company_id
    seen: set[int] = set()
    lots_seen: set[int] = set()
    # Work items: ("lot", lot id, bound move, parent, depth) or ("move", move, …).
    work: deque[tuple[str, object, Move | None, Move | None, int, str]] = deque()
    work.append(("lot", lot.pk, None, None, 0, "lot"))

    def add(move: Move, via: str, parent: Move | None, depth: int) -> bool:
        if move.pk in seen:
            return False
        seen.add(move.pk)
        trace.steps.append(_step(move, via, parent, depth))
        return True

    def links(move: Move, depth: int) -> None:
        """Queue what production links `move` to, on the trace's side."""
        if downstream:
            linked = _done(company_id).filter(consumed=move).order_by("done_at", "pk")
        else:
            linked = _done(company_id).filter(produced=move).order_by("done_at", "pk")
        for other in linked:
            if add(other, "consumed", move, depth + 1):
                if other.lot_id:
                    work.append(("lot", other.lot_id, other, other, depth + 1, "lot"))
                else:
                    work.append(("move", other, None, other, depth + 1, "previous"))

    while work:
        kind, item, bound, parent, depth, via = work.popleft()
        if kind == "lot":
            if item in lots_seen:
                continue
            lots_seen.add(item)
            moves = _done(company_id).filter(lot_id=item)
            if bound is not None and bound.done_at is not None:
                if downstream:
                    moves = moves.filter(done_at__gte=bound.done_at)
                else:
                    moves = moves.filter(done_at__lte=bound.done_at)
            for move in moves.order_by("done_at", "pk"):
                add(move, via, parent, depth)
                links(move, depth)
            continue
        # An untracked move: follow its route chain.
        move = item
        links(move, depth)
        if downstream:
            chain = list(_done(company_id).filter(previous=move).order_by("done_at", "pk"))
        else:
            chain = list(_done(company_id).filter(pk=move.previous_id)) if move.previous_id else []
        for other in chain:
            if other.lot_id:
                work.append(("lot", other.lot_id, other, move, depth, "previous"))
            elif add(other, "previous", move, depth):
                work.append(("move", other, None, other, depth, "previous"))
    trace.steps.sort(
        key=lambda s: (s.depth, s.move.done_at or dt.datetime.min.replace(tzinfo=dt.UTC),
                       s.move.pk)
    )  # fmt: skip
    return trace


def trace_downstream(*, lot: Lot) -> Trace:
    """Where `lot` went: its done moves, the production moves that consumed it and the lots
    made of it (from that production on), and so on; `deliveries` are the shipments to
    customers that got it, in whatever was made of it."""
    return _trace(lot, downstream=True)


def trace_upstream(*, lot: Lot) -> Trace:
    """Where `lot` came from: its done moves, the component moves its production consumed
    and their lots (up to that production), and so on; `supplier_lots` are the lots received
    from suppliers that are in it."""
    return _trace(lot, downstream=False)
