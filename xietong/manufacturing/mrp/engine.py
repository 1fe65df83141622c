"""Vectorised MRP: low-level codes, gross-to-net, lot sizing, lead-time offsetting, BOM
explosion, full pegging, exception messages and net change.

Pure numpy/scipy; no Django. Items are processed one low-level code (LLC) at a time; within a
level every operation is a vector operation over the level's items (one Python loop over the
buckets for the netting recurrence, none over items). The explosion of a level's planned order
releases into its components' gross requirements is one sparse matrix product, and pegging is
composed level by level with sparse products as well.

Conventions (docs/mrp-csv.md has the planner's version):

* Buckets: bucket ``b`` covers ``[start + b·len, start + (b+1)·len)`` with ``len`` 1 (day) or
  7 (week) days; its date is its first day. Demands and receipts dated before the start count in
  bucket 0; those dated on or after the end of the horizon are ignored.
* Netting per bucket: ``avail = pab + SR − GR``; net requirement ``NR = SS − avail``; a planned
  order is due in the bucket when ``NR > 0`` (or, for MINMAX, when ``avail < min_qty``); its
  quantity comes from the lot rule, then ``pab = avail + planned``.
* Due date of a planned order = its bucket's date; release date = due date − lead time (calendar
  days, or working days when non-working dates are given). A release before the start is placed
  in bucket 0 and reported as past due. Component gross requirements are placed in the bucket of
  the parent's release date, ``qty × qty_per × (1 + scrap_pct/100)``.
* Values within 1e-9 (relative for large values) are treated as zero.
* Firm planned production (``PlanInput.firm``, e.g. the master production schedule's firm
  entries) is supply of its item in its bucket, like a scheduled receipt, and, unlike one, its
  release (due − lead time) explodes into the components' gross requirements, which are pegged
  to it (pegging target kind "firm"). No new planned order of item ``i`` is due in a bucket
  before ``no_plan_before[i]`` (the frozen fence), nor in a bucket before ``firm_until[i]``
  (the slushy fence) holding a firm row of the item, even of quantity 0. Where such a bucket
  ends below zero the item gets one "expedite" exception (first short bucket, the first bucket
  where it may be planned again, the largest shortfall) and the shortage is carried to the
  next bucket where planning is allowed. A net-change run with firm production is
  regenerative.
* Net change reuses the previous run's `PlanContext` (item index, BOM matrices, low-level
  codes: what depends only on the items and the BOM) while its tables' contents are unchanged,
  and keeps the plan's rows grouped by item: a net-change result shares the previous plan's
  rows of the items outside the replanned closure and builds its flat tables only when they
  are read (`PlanResult.changes` gives the replanned items' rows without them), so its cost
  follows the closure rather than the plan.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

EPS = 1e-9
LOT_RULES = ("LFL", "FOQ", "EOQ", "POQ", "MINMAX")
LFL, FOQ, EOQ, POQ, MINMAX = range(5)
BUCKET_DAYS = {"day": 1, "week": 7}
EXCEPTION_KINDS = ("expedite", "defer", "cancel", "past_due", "below_safety_stock")
PEG_KINDS = ("demand", "safety_stock", "lot_size")
NAT = np.datetime64("NaT", "D")


class PlanError(ValueError):
    """Bad planning input. ``code`` says what is wrong; ``table`` (items, bom, receipts,
    demands), ``row`` (0-based index in that table), ``field`` and ``items`` locate it."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        table: str | None = None,
        row: int | None = None,
        field: str | None = None,
        items: tuple[str, ...] = (),
        value: Any = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.table = table
        self.row = row
        self.field = field
        self.items = items
        self.value = value


# --- input -----------------------------------------------------------------------------------


def _days(values: Any) -> np.ndarray:
    """Dates (datetime.date, ISO strings or datetime64) as int64 days since 1970-01-01."""
    return np.asarray(values, dtype="datetime64[D]").astype(np.int64).reshape(-1)


def _floats(values: Any, n: int, default: float = 0.0) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=np.float64)
    return np.asarray(values, dtype=np.float64).reshape(-1)


def _strings(values: Any, n: int | None = None) -> np.ndarray:
    if values is None:
        return np.full(n or 0, "", dtype=str)
    array = np.asarray(values)
    if array.dtype.kind != "U":
        array = array.astype(str) if len(array) else np.zeros(0, dtype=str)
    return array.reshape(-1)


@dataclass
class ItemTable:
    """One row per item. ``make_or_buy`` is "make" or "buy"; ``lot_rule`` one of LOT_RULES
    (strings or their index). Omitted columns take neutral defaults (buy, 0, LFL, not phantom)."""

    code: Any
    make_or_buy: Any = None
    lead_time_days: Any = None
    lot_rule: Any = None
    lot_qty: Any = None
    multiple: Any = None
    min_qty: Any = None
    max_qty: Any = None
    safety_stock: Any = None
    on_hand: Any = None
    phantom: Any = None

    def __post_init__(self) -> None:
        self.code = _strings(self.code)
        n = len(self.code)
        if self.make_or_buy is None:
            self.make_or_buy = np.full(n, "buy")
        self.make_or_buy = _strings(self.make_or_buy)
        self.lead_time_days = (
            np.zeros(n, dtype=np.int64)
            if self.lead_time_days is None
            else np.asarray(self.lead_time_days, dtype=np.int64).reshape(-1)
        )
        rules = np.zeros(n, dtype=np.int64) if self.lot_rule is None else self.lot_rule
        rules = np.asarray(rules).reshape(-1)
        if rules.dtype.kind in "OUS":
            codes = np.full(len(rules), -1, dtype=np.int64)
            for k, name in enumerate(LOT_RULES):
                codes[rules == name] = k
            for row in np.flatnonzero(codes < 0)[:1]:
                raise PlanError(
                    "unknown_lot_rule",
                    f"unknown lot rule {rules[row]!r} for item {self.code[row]}",
                    table="items",
                    row=int(row),
                    field="lot_rule",
                    value=rules[row],
                )
            rules = codes
        self.lot_rule = rules.astype(np.int64)
        for name in ("lot_qty", "multiple", "min_qty", "max_qty", "safety_stock", "on_hand"):
            setattr(self, name, _floats(getattr(self, name), n))
        self.phantom = (
            np.zeros(n, dtype=bool)
            if self.phantom is None
            else np.asarray(self.phantom, dtype=bool).reshape(-1)
        )
        for name in (
            "make_or_buy",
            "lead_time_days",
            "lot_rule",
            "lot_qty",
            "multiple",
            "min_qty",
            "max_qty",
            "safety_stock",
            "on_hand",
            "phantom",
        ):
            if len(getattr(self, name)) != n:
                raise PlanError("bad_shape", f"items.{name} has not {n} values", table="items")

    def __len__(self) -> int:
        return len(self.code)


@dataclass
class BomTable:
    """One row per BOM line (edge parent → component). Duplicate lines add up."""

    parent: Any = ()
    component: Any = ()
    qty_per: Any = ()
    scrap_pct: Any = None

    def __post_init__(self) -> None:
        self.parent = _strings(self.parent)
        self.component = _strings(self.component)
        n = len(self.parent)
        self.qty_per = _floats(self.qty_per, n)
        self.scrap_pct = _floats(self.scrap_pct, n)

    def __len__(self) -> int:
        return len(self.parent)


@dataclass
class DatedTable:
    """Scheduled receipts or independent demands: item, date, qty, reference."""

    item: Any = ()
    date: Any = ()
    qty: Any = ()
    reference: Any = None

    def __post_init__(self) -> None:
        self.item = _strings(self.item)
        n = len(self.item)
        self.date = _days(self.date) if n else np.zeros(0, dtype=np.int64)
        self.qty = _floats(self.qty, n)
        self.reference = _strings(self.reference, n)

    def __len__(self) -> int:
        return len(self.item)


@dataclass
class PlanInput:
    """Everything one MRP run needs, independent of where it comes from (CSV, database)."""

    items: ItemTable
    bom: BomTable
    receipts: DatedTable
    demands: DatedTable
    start: dt.date
    bucket: str = "week"
    horizon: int = 52
    non_working_days: Iterable[dt.date] = ()
    firm: DatedTable | None = None  # firm planned production: item, due date, qty, reference
    no_plan_before: Any = None  # per item: no new planned order due before this bucket
    firm_until: Any = None  # per item: none either before it in a bucket with a firm row


# --- output ----------------------------------------------------------------------------------


@dataclass
class PlannedOrders:
    """Planned orders (or phantom pass-throughs), sorted by low-level code, item (input order),
    due date and seq; ids number them 1, 2, … in that order.
    Dates are numpy datetime64[D]. ``seq`` numbers the orders of one item due the same day (an
    order above max_qty is split); ``past_due`` marks a release moved forward to the start.
    ``item_index`` is the item's row in the input's ItemTable; ``item`` and ``make_or_buy`` are
    materialised from it on access."""

    id: np.ndarray
    item_index: np.ndarray
    release_date: np.ndarray
    due_date: np.ndarray
    qty: np.ndarray
    seq: np.ndarray
    past_due: np.ndarray
    items: ItemTable = field(repr=False)

    def __len__(self) -> int:
        return len(self.id)

    @property
    def item(self) -> np.ndarray:
        return self.items.code[self.item_index]

    @property
    def make_or_buy(self) -> np.ndarray:
        return self.items.make_or_buy[self.item_index]

    def rows(self) -> list[dict[str, Any]]:
        return _rows(
            self,
            (
                "id",
                "item",
                "make_or_buy",
                "release_date",
                "due_date",
                "qty",
                "seq",
                "past_due",
            ),
        )


@dataclass
class PegTargets:
    """What planned orders can be pegged to: one row per independent demand line (kind
    "demand", with its item, date and reference), then per item its safety stock (kind
    "safety_stock") and its stock left at the end of the horizon (kind "lot_size": lot-size
    excess or stock beyond the demands), then one row per firm planned production line (kind
    "firm": its components' requirements). Dates of the safety-stock and lot-size targets are
    NaT."""

    kind: np.ndarray
    item: np.ndarray
    date: np.ndarray
    reference: np.ndarray

    def __len__(self) -> int:
        return len(self.kind)


@dataclass
class Pegging:
    """Planned order ``order_id`` serves ``qty`` (in the order's item's unit) of pegging target
    ``target`` (a row of ``targets``). Each planned order's rows add up to its quantity. The
    target's columns (``kind``, ``item``, ``date``, ``reference``) are materialised on access,
    because full pegging has many rows."""

    order_id: np.ndarray
    target: np.ndarray
    qty: np.ndarray
    targets: PegTargets = field(repr=False)

    def __len__(self) -> int:
        return len(self.order_id)

    @property
    def kind(self) -> np.ndarray:
        return self.targets.kind[self.target]

    @property
    def item(self) -> np.ndarray:
        return self.targets.item[self.target]

    @property
    def date(self) -> np.ndarray:
        return self.targets.date[self.target]

    @property
    def reference(self) -> np.ndarray:
        return self.targets.reference[self.target]

    def rows(self) -> list[dict[str, Any]]:
        return _rows(self, ("order_id", "kind", "item", "date", "reference", "qty"))


@dataclass
class SinglePegging:
    """Single-level pegging: planned order (or pass-through) ``order_id`` gives ``qty`` (in its
    item's unit) to the requirement of the parent order ``parent_id``, or, when ``parent_id``
    is 0, directly to pegging target ``target`` (a row of ``targets``; -1 otherwise). Full
    pegging is its composition (`full_pegging`)."""

    order_id: np.ndarray
    parent_id: np.ndarray
    target: np.ndarray
    qty: np.ndarray
    targets: PegTargets = field(repr=False)

    def __len__(self) -> int:
        return len(self.order_id)


@dataclass
class Exceptions:
    """Exception messages: kind in EXCEPTION_KINDS; ``date`` is the receipt's (or planned
    release's) date, ``suggested_date`` the date suggested (NaT when none); ``order_id`` is the
    planned order's id for a past-due release (0 otherwise)."""

    item: np.ndarray
    kind: np.ndarray
    date: np.ndarray
    suggested_date: np.ndarray
    qty: np.ndarray
    reference: np.ndarray
    order_id: np.ndarray

    def __len__(self) -> int:
        return len(self.item)

    def rows(self) -> list[dict[str, Any]]:
        return _rows(self)


class PlanResult:
    """A run's plan: ``planned_orders``, ``pegging`` (full pegging, empty unless
    ``pegging=True``), ``exceptions``, ``pass_through`` and ``pass_through_pegging`` (phantom
    items' pass-throughs: not orders; kept for net change), ``single_pegging`` (None with
    ``pegging=False``). ``replanned``: the items whose orders, pegging and exceptions this run
    computed (every item for a regenerative run, the closure for net change): a database writer
    replaces only these. ``context``: the run's `PlanContext`, for the next run to reuse.

    A net-change result keeps its rows grouped by item, sharing the previous plan's rows of the
    items it did not replan; its tables are built (in one pass over all rows) when first read.
    Another net change on it reads only the rows it needs."""

    def __init__(
        self,
        planned_orders: PlannedOrders | None = None,
        pegging: Pegging | None = None,
        exceptions: Exceptions | None = None,
        pass_through: PlannedOrders | None = None,
        pass_through_pegging: Pegging | None = None,
        input: PlanInput | None = None,  # noqa: A002 - the public attribute's name
        pegged: bool = True,
        peg_mode: str | None = None,
        single_pegging: SinglePegging | None = None,
        replanned: np.ndarray | None = None,
        *,
        prep: _Prep | None = None,
        store: _Store | None = None,
        tables: dict[str, Any] | None = None,
    ) -> None:
        if tables is None and planned_orders is not None:
            tables = {
                "planned_orders": planned_orders,
                "pegging": pegging,
                "exceptions": exceptions,
                "pass_through": pass_through,
                "pass_through_pegging": pass_through_pegging,
                "single_pegging": single_pegging,
            }
        self.input = input
        self.peg_mode = peg_mode or ("full" if pegged else "none")  # "full", "single", "none"
        self.replanned = np.zeros(0, dtype=str) if replanned is None else replanned
        self._prep = prep
        self._store = store
        self._tables = tables
        self._cache: dict[str, Any] = {}

    def __repr__(self) -> str:
        built = "built" if self._tables is not None else "not built yet"
        return f"<PlanResult {self.peg_mode} pegging, {len(self.replanned)} items replanned, tables {built}>"

    @property
    def pegged(self) -> bool:
        """Full pegging computed (``pegging=True``)."""
        return self.peg_mode == "full"

    @property
    def context(self) -> PlanContext | None:
        return self._prep.context if self._prep is not None else None

    def _table(self, name: str) -> Any:
        if self._tables is None:
            self._tables = _materialise(self)
        return self._tables[name]

    @property
    def planned_orders(self) -> PlannedOrders:
        return self._table("planned_orders")

    @property
    def pegging(self) -> Pegging:
        return self._table("pegging")

    @property
    def exceptions(self) -> Exceptions:
        return self._table("exceptions")

    @property
    def pass_through(self) -> PlannedOrders:
        return self._table("pass_through")

    @property
    def pass_through_pegging(self) -> Pegging:
        return self._table("pass_through_pegging")

    @property
    def single_pegging(self) -> SinglePegging | None:
        return self._table("single_pegging")

    @property
    def grouped(self) -> bool:
        """Whether the plan keeps its rows grouped by item (not with firm planned production):
        then `changes` can be read, and a net change reuses them."""
        return self._store is not None

    def changes(self, items: np.ndarray | None = None) -> PlanChanges:
        """The rows of the ``replanned`` items only (or of ``items``, rows of the input's item
        table), without building the full tables (see `PlanChanges`): what a writer replaces
        after a net change. Needs the grouped rows (not kept with firm planned production:
        ValueError)."""
        return _changes(self, items)


def _rows(table: Any, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    names = list(names or table.__dataclass_fields__)
    columns = [getattr(table, name) for name in names]
    out = []
    for values in zip(*columns, strict=True):
        row = {}
        for name, value in zip(names, values, strict=True):
            if isinstance(value, np.datetime64):
                value = None if np.isnat(value) else value.astype(dt.date)
            elif isinstance(value, np.generic):
                value = value.item()
            row[name] = value
        out.append(row)
    return out


# --- preparation -----------------------------------------------------------------------------


@dataclass
class _Prep:
    n: int
    T: int
    blen: int
    start: int
    due_days: np.ndarray
    index_sorted: np.ndarray  # codes sorted
    index_order: np.ndarray  # positions of sorted codes
    llc: np.ndarray
    n_levels: int
    explode: sp.csc_matrix  # child × parent, effective qty per (make/phantom parents only)
    explode_by_parent: sp.csr_matrix  # parent × child
    all_by_parent: sp.csr_matrix  # parent × child pattern of every BOM line
    lead: np.ndarray
    rule: np.ndarray
    lot: np.ndarray
    mult: np.ndarray
    minq: np.ndarray
    maxq: np.ndarray
    ss: np.ndarray
    oh: np.ndarray
    phantom: np.ndarray
    make: np.ndarray
    working: np.ndarray | None
    dem_item: np.ndarray
    dem_bucket: np.ndarray
    dem_in: np.ndarray  # mask of demands inside the horizon
    rec_item: np.ndarray
    rec_bucket: np.ndarray
    rec_in: np.ndarray
    # n × T (with _prepare's ``rows``, only those rows are defined; None after a net change)
    G0: np.ndarray | None  # independent gross requirements
    SR: np.ndarray | None  # scheduled receipts (and firm planned production)
    firm: DatedTable = field(default_factory=DatedTable)
    firm_item: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    firm_bucket: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    firm_in: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    block: np.ndarray | None = None  # n × T: no new planned order due in the bucket
    short: np.ndarray | None = None  # n × T: shortfall left in a blocked bucket (by _run)
    context: PlanContext | None = None
    seen: dict[str, tuple[np.ndarray, ...]] | None = None  # see _seen


def _lookup(
    prep_sorted: np.ndarray, order: np.ndarray, values: np.ndarray, table: str, field_: str
):
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    pos = np.searchsorted(prep_sorted, values)
    pos_c = np.minimum(pos, len(prep_sorted) - 1)
    bad = (pos >= len(prep_sorted)) | (prep_sorted[pos_c] != values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise PlanError(
            "unknown_item",
            f"{table} row {row}: unknown item {values[row]!r}",
            table=table,
            row=row,
            field=field_,
            items=(str(values[row]),),
            value=values[row],
        )
    return order[pos_c]


def _levels(n: int, parent: np.ndarray, child: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Low-level codes by Kahn's algorithm in rounds (round k removes the items whose longest
    path from a top item is k). Raises PlanError naming the items of a cycle."""
    llc = np.zeros(n, dtype=np.int64)
    if len(parent) == 0:
        return llc
    graph = sp.csr_matrix((np.ones(len(parent)), (parent, child)), shape=(n, n))
    graph.sum_duplicates()
    indeg = np.bincount(graph.indices, minlength=n)
    frontier = np.flatnonzero(indeg == 0)
    done = np.zeros(n, dtype=bool)
    level = 0
    while len(frontier):
        done[frontier] = True
        llc[frontier] = level
        sub = graph[frontier]
        dec = np.bincount(sub.indices, minlength=n)
        indeg -= dec
        frontier = np.flatnonzero((dec > 0) & (indeg == 0))
        level += 1
    if not done.all():
        # walk the remaining graph until an item repeats: that is a cycle
        remaining = ~done
        node = int(np.flatnonzero(remaining)[0])
        seen: dict[int, int] = {}
        path: list[int] = []
        while node not in seen:
            seen[node] = len(path)
            path.append(node)
            row = graph.indices[graph.indptr[node] : graph.indptr[node + 1]]
            node = int(row[remaining[row]][0])
        cycle = [str(codes[i]) for i in path[seen[node] :]] + [str(codes[node])]
        raise PlanError(
            "bom_cycle",
            "BOM cycle: " + " → ".join(cycle),
            table="bom",
            items=tuple(cycle),
        )
    return llc


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal contents (shape, dtype and values; NaN never equals: the safe answer)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == "U" and a.dtype.itemsize:
        # compare the code points as integers: several times faster than string comparison
        word = np.uint64 if a.dtype.itemsize % 8 == 0 else np.uint32
        return bool(
            np.array_equal(np.ascontiguousarray(a).view(word), np.ascontiguousarray(b).view(word))
        )
    return bool(np.array_equal(a, b))


class PlanContext:
    """The part of a run's preparation that depends only on the items' codes, make-or-buy and
    phantom flags and on the BOM: the item index, the BOM matrices and the low-level codes.
    `plan` and `net_change` build one (``PlanResult.context``) and reuse one given back
    (``plan(inp, context=…)``; `net_change` reuses its previous result's) only when `matches`
    the input: the tables' contents, not their identity, are compared with copies taken when
    the context was built, so a changed BOM or item table is never reused. Raises PlanError
    (duplicate or unknown item, BOM cycle) when built from bad input."""

    def __init__(self, inp: PlanInput) -> None:
        items, bom = inp.items, inp.bom
        n = len(items)
        order = np.argsort(items.code, kind="stable")
        codes_sorted = items.code[order]
        if n > 1:
            dup = np.flatnonzero(codes_sorted[1:] == codes_sorted[:-1])
            if len(dup):
                row = int(order[dup[0] + 1])
                raise PlanError(
                    "duplicate_item",
                    f"item {items.code[row]!r} appears twice",
                    table="items",
                    row=row,
                    field="item",
                    items=(str(items.code[row]),),
                )
        codes_sorted = codes_sorted.astype(str) if n else np.zeros(0, dtype=str)
        parent = _lookup(codes_sorted, order, bom.parent, "bom", "parent")
        child = _lookup(codes_sorted, order, bom.component, "bom", "component")
        self_loop = np.flatnonzero(parent == child)
        if len(self_loop):
            row = int(self_loop[0])
            code = str(bom.parent[row])
            raise PlanError(
                "bom_cycle",
                f"BOM cycle: {code} → {code}",
                table="bom",
                row=row,
                items=(code, code),
            )
        llc = _levels(n, parent, child, items.code)
        phantom = items.phantom.copy()
        make = np.asarray(items.make_or_buy == "make", dtype=bool).reshape(-1)
        explodes = (make | phantom)[parent] if len(parent) else np.zeros(0, dtype=bool)
        eff = bom.qty_per * (1.0 + bom.scrap_pct / 100.0)
        explode = sp.csr_matrix(
            (eff[explodes], (child[explodes], parent[explodes])), shape=(n, n)
        )  # duplicates summed on conversion
        explode.sum_duplicates()
        explode.eliminate_zeros()
        explode_by_parent = explode.T.tocsr()
        explode_by_parent.sort_indices()
        all_by_parent = sp.csr_matrix((np.ones(len(parent)), (parent, child)), shape=(n, n))
        all_by_parent.sum_duplicates()
        self.n = n
        self.index_sorted = codes_sorted
        self.index_order = order
        self.llc = llc
        self.n_levels = int(llc.max(initial=-1)) + 1
        self.explode = explode.tocsc()
        self.explode_by_child = explode.tocsr()
        self.explode_by_parent = explode_by_parent
        self.all_by_parent = all_by_parent
        self.make = make
        self.phantom = phantom
        # canonical order of the items' planned orders: low-level code, input order, phantoms'
        # pass-throughs last
        self.canon = np.lexsort((np.arange(n), llc, phantom))
        self._scratch: list[np.ndarray] = []
        # copies: the caller may change the tables' arrays in place afterwards
        self._key = tuple(np.array(a, copy=True) for a in self._key_of(inp))

    @staticmethod
    def _key_of(inp: PlanInput) -> tuple[np.ndarray, ...]:
        items, bom = inp.items, inp.bom
        return (
            items.code,
            np.asarray(items.make_or_buy == "make", dtype=bool).reshape(-1),
            items.phantom,
            bom.parent,
            bom.component,
            bom.qty_per,
            bom.scrap_pct,
        )

    def scratch(self, shape: tuple[int, int]) -> np.ndarray:
        """An items × buckets array of undefined contents, for a net change's gross
        requirements and receipts (allocating and zeroing those costs more than the run);
        `release` gives it back."""
        while self._scratch:
            try:
                array = self._scratch.pop()
            except IndexError:  # taken by another thread meanwhile
                break
            if array.shape == shape:
                return array
        return np.empty(shape)

    def release(self, *arrays: np.ndarray | None) -> None:
        for array in arrays:
            if array is not None and len(self._scratch) < 4:
                self._scratch.append(array)

    def matches(self, inp: PlanInput) -> bool:
        """Whether this context was built from the same items (codes, make or buy, phantom)
        and BOM (lines in the same order) as ``inp``'s."""
        key = self._key_of(inp)
        return all(_same(a, b) for a, b in zip(self._key, key, strict=True))


def _prepare(
    inp: PlanInput,
    context: PlanContext | None = None,
    *,
    lookups: tuple[np.ndarray, np.ndarray] | None = None,
    rows: np.ndarray | None = None,
    checked: bool = False,
    seen: dict[str, tuple[np.ndarray, ...]] | None = None,
) -> _Prep:
    """The run's tables. ``context`` is reused when it matches ``inp`` (else a new one is
    built); ``lookups``: the demands' and receipts' item indices when already known;
    ``rows``: a mask of the items whose gross requirements and receipts are needed (all when
    None; the other rows are undefined); ``checked``: the context is known to match; ``seen``: `_seen` of ``inp`` when known."""
    n = len(inp.items)
    if inp.bucket not in BUCKET_DAYS:
        raise PlanError("bad_bucket", f"unknown bucket {inp.bucket!r}", value=inp.bucket)
    if int(inp.horizon) < 1:
        raise PlanError("bad_horizon", "the horizon must be at least one bucket")
    T = int(inp.horizon)
    blen = BUCKET_DAYS[inp.bucket]
    start = int(_days([inp.start])[0])
    due_days = start + blen * np.arange(T, dtype=np.int64)
    if context is None or not (checked or context.matches(inp)):
        context = PlanContext(inp)
    items = inp.items
    codes_sorted, order = context.index_sorted, context.index_order
    phantom = context.phantom

    rule = items.lot_rule.copy()
    bad = np.flatnonzero((rule < 0) | (rule >= len(LOT_RULES)))
    if len(bad):
        raise PlanError(
            "unknown_lot_rule",
            "unknown lot rule",
            table="items",
            row=int(bad[0]),
            field="lot_rule",
        )
    lead = items.lead_time_days.astype(np.int64).copy()
    lot = items.lot_qty.copy()
    mult = items.multiple.copy()
    minq = items.min_qty.copy()
    maxq = items.max_qty.copy()
    ss = items.safety_stock.copy()
    # phantoms: pass-through, lot for lot, no safety stock, no lead time
    rule[phantom] = LFL
    for array in (lot, mult, minq, maxq, ss):
        array[phantom] = 0.0
    lead[phantom] = 0

    working = None
    listed = list(inp.non_working_days)
    nonworking = np.unique(_days(listed)) if listed else None
    if nonworking is not None and len(nonworking):
        first = start - int(lead.max(initial=0)) - len(nonworking) - 2
        days = np.arange(first, start + blen * T + 1, dtype=np.int64)
        working = days[~np.isin(days, nonworking)]

    def bucket_of(
        table: DatedTable, name: str, known: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        item = _lookup(codes_sorted, order, table.item, name, "item") if known is None else known
        b = np.maximum((table.date - start) // blen, 0)
        inside = b < T
        return item, b, inside

    dem_known, rec_known = lookups if lookups is not None else (None, None)
    dem_item, dem_bucket, dem_in = bucket_of(inp.demands, "demands", dem_known)
    rec_item, rec_bucket, rec_in = bucket_of(inp.receipts, "receipts", rec_known)
    firm = inp.firm if inp.firm is not None else DatedTable()
    firm_item, firm_bucket, firm_in = bucket_of(firm, "firm")
    fences = []
    for name in ("no_plan_before", "firm_until"):
        value = getattr(inp, name)
        array = (
            np.zeros(n, np.int64)
            if value is None
            else np.asarray(value, dtype=np.int64).reshape(-1)
        )
        if len(array) != n:
            raise PlanError("bad_shape", f"{name} has not {n} values", field=name)
        fences.append(array)
    no_plan_before, firm_until = fences
    block = short = None
    if (no_plan_before > 0).any() or ((firm_until > 0).any() and firm_in.any()):
        buckets = np.arange(T, dtype=np.int64)[None, :]
        block = buckets < no_plan_before[:, None]
        if firm_in.any():
            cell = firm_item[firm_in] * T + firm_bucket[firm_in]
            has_firm = np.bincount(cell, minlength=n * T).reshape(n, T) > 0
            block |= has_firm & (buckets < firm_until[:, None])
        short = np.zeros((n, T))

    def by_bucket(item: np.ndarray, b: np.ndarray, inside: np.ndarray, qty: np.ndarray):  # type: ignore[no-untyped-def]
        if rows is None:
            return (
                np.bincount(item[inside] * T + b[inside], weights=qty[inside], minlength=n * T)
                .reshape(n, T)
                .astype(np.float64)
            )
        # only the rows asked for; the others are left as they are (unused by the run)
        out = context.scratch((n, T))
        wanted = np.flatnonzero(rows)
        local = np.full(n, -1, np.int64)
        local[wanted] = np.arange(len(wanted))
        sel = inside & rows[item]
        out[wanted] = np.bincount(
            local[item[sel]] * T + b[sel], weights=qty[sel], minlength=len(wanted) * T
        ).reshape(len(wanted), T)
        return out

    G0 = by_bucket(dem_item, dem_bucket, dem_in, inp.demands.qty)
    SR = by_bucket(rec_item, rec_bucket, rec_in, inp.receipts.qty)
    if firm_in.any():
        SR += by_bucket(firm_item, firm_bucket, firm_in, firm.qty)
    return _Prep(
        n=n,
        T=T,
        blen=blen,
        start=start,
        due_days=due_days,
        index_sorted=codes_sorted,
        index_order=order,
        llc=context.llc,
        n_levels=context.n_levels,
        explode=context.explode,
        explode_by_parent=context.explode_by_parent,
        all_by_parent=context.all_by_parent,
        lead=lead,
        rule=rule,
        lot=lot,
        mult=mult,
        minq=minq,
        maxq=maxq,
        ss=ss,
        oh=items.on_hand.copy(),
        phantom=phantom,
        make=context.make,
        working=working,
        dem_item=dem_item,
        dem_bucket=dem_bucket,
        dem_in=dem_in,
        rec_item=rec_item,
        rec_bucket=rec_bucket,
        rec_in=rec_in,
        G0=G0,
        SR=SR,
        firm=firm,
        firm_item=firm_item,
        firm_bucket=firm_bucket,
        firm_in=firm_in,
        block=block,
        short=short,
        context=context,
        seen=_seen(inp) if seen is None else seen,
    )


def _release(prep: _Prep, due: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """Release day for due day(s) and lead time(s): calendar days, or working days back."""
    if prep.working is None:
        return due - lead
    k = np.searchsorted(prep.working, due, side="left")
    back = prep.working[np.clip(k - lead, 0, len(prep.working) - 1)]
    return np.where(lead > 0, back, due)


def _ceil_mult(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    safe = np.where(m > 0, m, 1.0)
    return np.where(m > 0, np.ceil(x / safe - EPS) * safe, x)


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of arange(s, s + c) for each (s, c)."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.cumsum(counts) - counts
    return np.repeat(starts - offsets, counts) + np.arange(total, dtype=np.int64)


def _sort_keys(keys: tuple[np.ndarray, ...]) -> np.ndarray:
    """Permutation sorting by the non-negative integer ``keys`` (first = most significant):
    one argsort of a mixed-radix int64 key when the ranges fit, else a lexsort."""
    if len(keys[0]) == 0:
        return np.zeros(0, dtype=np.int64)
    radix = [int(k.max()) + 1 for k in keys]
    if math.prod(radix) < 2**62:
        combined = np.zeros(len(keys[0]), dtype=np.int64)
        for k, r in zip(keys, radix, strict=True):
            combined = combined * r + k
        return np.argsort(combined, kind="stable")
    return np.lexsort(keys[::-1])


def _group_cumsum(item: np.ndarray, qty: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each item (``item`` sorted). The running total is global,
    so the error is about 1e-16 × the level's total quantity: far below output rounding."""
    if len(qty) == 0:
        return np.zeros(0)
    cs = np.cumsum(qty)
    first = np.ones(len(item), dtype=bool)
    first[1:] = item[1:] != item[:-1]
    starts = np.flatnonzero(first)
    base = (cs[starts] - qty[starts])[np.cumsum(first) - 1]
    return cs - base


# --- the run ---------------------------------------------------------------------------------


@dataclass
class _Pieces:
    """Planned orders inside a run (global numbering: seeds first, then level by level)."""

    item: list[np.ndarray] = field(default_factory=list)
    due_bucket: list[np.ndarray] = field(default_factory=list)
    seq: list[np.ndarray] = field(default_factory=list)
    qty: list[np.ndarray] = field(default_factory=list)
    release: list[np.ndarray] = field(default_factory=list)
    Q: list[sp.csr_matrix] = field(default_factory=list)
    single: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    count: int = 0

    def add(self, item, due_bucket, seq, qty, release, Q) -> int:  # type: ignore[no-untyped-def]
        first = self.count
        self.item.append(item)
        self.due_bucket.append(due_bucket)
        self.seq.append(seq)
        self.qty.append(qty)
        self.release.append(release)
        self.Q.append(Q)
        self.count += len(item)
        return first

    def cat(self, name: str) -> np.ndarray:
        parts = getattr(self, name)
        return np.concatenate(parts) if parts else np.zeros(0)


@dataclass
class _Seeds:
    """Planned orders of parents outside a net-change closure (from the previous plan)."""

    item: np.ndarray
    due_bucket: np.ndarray
    seq: np.ndarray
    qty: np.ndarray
    release: np.ndarray
    Q: sp.csr_matrix | None  # their full pegging (only when composing full pegging)


def _run(inp: PlanInput, prep: _Prep, subset: np.ndarray, seeds: _Seeds | None, mode: str):
    """Plan the items of ``subset`` level by level (after exploding the ``seeds``); returns
    the gross requirements (items × buckets) and the planned orders (with their pegging)."""
    n, T = prep.n, prep.T
    nd = len(inp.demands)
    ncols = nd + 2 * n + len(prep.firm)
    pegging = mode != "none"
    G = prep.G0  # the run adds the dependent requirements into it
    pieces = _Pieces()
    pending: list[tuple[np.ndarray, ...]] = []  # dependent requirements not yet pegged

    def explode_pieces(first: int, item, due_b, seq, qty, release, only_subset: bool,
                       firm_rows=None) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
        """Add the pieces' releases to their components' gross requirements (one sparse
        product) and remember the dependent requirements for pegging. ``firm_rows``: the
        pieces are firm planned production (those rows of ``prep.firm``), pegged directly
        to their "firm" targets."""
        if len(item) == 0:
            return
        rb = np.maximum((release - prep.start) // prep.blen, 0)
        cols, inverse = np.unique(item, return_inverse=True)
        porel = np.bincount(inverse * T + rb, weights=qty, minlength=len(cols) * T).reshape(
            len(cols), T
        )
        # the BOM lines of the pieces' items, as a (component × item) matrix over the
        # components concerned only
        ebp = prep.explode_by_parent
        counts = np.diff(ebp.indptr)[cols]
        lines = _ranges(ebp.indptr[cols], counts)
        component = ebp.indices[lines]
        col_of_line = np.repeat(np.arange(len(cols)), counts)
        per = ebp.data[lines]
        if only_subset:
            keep = subset[component]
            component, col_of_line, per = component[keep], col_of_line[keep], per[keep]
        if len(component) == 0:
            return
        mark = np.zeros(n, dtype=bool)
        mark[component] = True
        rows = np.flatnonzero(mark)
        row_of = np.zeros(n, dtype=np.int64)
        row_of[rows] = np.arange(len(rows))
        sub = sp.csr_matrix((per, (row_of[component], col_of_line)), shape=(len(rows), len(cols)))
        G[rows] += sub @ porel
        if not pegging:
            return
        ebp = prep.explode_by_parent
        counts = np.diff(ebp.indptr)[item]
        idx = _ranges(ebp.indptr[item], counts)
        which = np.repeat(np.arange(len(item)), counts)
        child = ebp.indices[idx]
        rq = qty[which] * ebp.data[idx]
        if only_subset:
            keep = subset[child]
            child, rq, which = child[keep], rq[keep], which[keep]
        k = len(which)
        if firm_rows is None:
            pending.append((child, rb[which], rq, item[which], due_b[which], seq[which],
                            first + which, np.full(k, 2, np.int64),
                            np.full(k, -1, np.int64)))  # fmt: skip
        else:
            zero = np.zeros(k, np.int64)
            pending.append((child, rb[which], rq, firm_rows[which], zero, zero,
                            np.full(k, -1, np.int64), np.ones(k, np.int64),
                            nd + 2 * n + firm_rows[which]))  # fmt: skip

    f_rows = np.flatnonzero(prep.firm_in & (prep.firm.qty > 0))
    f_rows = f_rows[subset[prep.firm_item[f_rows]]]
    if len(f_rows):
        f_item, f_due = prep.firm_item[f_rows], prep.firm_bucket[f_rows]
        f_release = _release(prep, prep.due_days[f_due], prep.lead[f_item])
        explode_pieces(0, f_item, f_due, np.zeros(len(f_rows), np.int64),
                       prep.firm.qty[f_rows], f_release, True, firm_rows=f_rows)  # fmt: skip

    if seeds is not None and len(seeds.item):
        first = pieces.add(
            seeds.item, seeds.due_bucket, seeds.seq, seeds.qty, seeds.release, seeds.Q
        )
        explode_pieces(
            first, seeds.item, seeds.due_bucket, seeds.seq, seeds.qty, seeds.release, True
        )

    level_of = np.where(subset, prep.llc, -1)
    for level in range(prep.n_levels):
        lv = np.flatnonzero(level_of == level)
        if len(lv) == 0:
            continue
        m = len(lv)
        # bucket-major copies: each bucket's column is contiguous in the loop below
        Gt = np.ascontiguousarray(G[lv].T)
        SRt = np.ascontiguousarray(prep.SR[lv].T)
        rule = prep.rule[lv]
        lot, mult, minq, maxq = prep.lot[lv], prep.mult[lv], prep.minq[lv], prep.maxq[lv]
        ss = prep.ss[lv]
        is_mm = rule == MINMAX
        i_foq, i_eoq = np.flatnonzero(rule == FOQ), np.flatnonzero(rule == EOQ)
        i_poq, i_mm = np.flatnonzero(rule == POQ), np.flatnonzero(is_mm)
        i_min = np.flatnonzero((minq > 0) & ~is_mm)
        i_mult = np.flatnonzero(mult > 0)
        if len(i_poq):
            Dt = np.cumsum(SRt[:, i_poq] - Gt[:, i_poq], axis=0)
            periods = np.maximum(np.floor(lot[i_poq] + EPS), 1).astype(np.int64)
            poq_cols = np.arange(len(i_poq))
        PORt = np.zeros((T, m))
        tol = EPS * np.maximum(1.0, np.abs(ss))
        pab = prep.oh[lv].copy()
        blockt = shortt = None
        if prep.block is not None and prep.block[lv].any():
            blockt = np.ascontiguousarray(prep.block[lv].T)
            shortt = np.zeros((T, m))
        for t in range(T):
            avail = pab + SRt[t] - Gt[t]
            nr = ss - avail
            need = nr > tol
            if len(i_mm):
                need[i_mm] |= avail[i_mm] < minq[i_mm] - EPS
            if blockt is not None and blockt[t].any():
                # no new order here: the shortfall waits for the next open bucket
                shortt[t] = np.where(blockt[t] & (avail < -EPS), -avail, 0.0)
                need &= ~blockt[t]
            if not need.any():
                pab = avail
                continue
            q = nr.copy()
            if len(i_foq):
                q[i_foq] = _ceil_mult(nr[i_foq], lot[i_foq])
            if len(i_eoq):
                q[i_eoq] = np.maximum(nr[i_eoq], lot[i_eoq])
            if len(i_poq):
                window = Dt[np.minimum(t + periods - 1, T - 1), poq_cols] - Dt[t]
                q[i_poq] = np.maximum(nr[i_poq], nr[i_poq] - window)
            if len(i_mm):
                q[i_mm] = np.maximum(nr[i_mm], maxq[i_mm] - avail[i_mm])
            if len(i_min):
                q[i_min] = np.maximum(q[i_min], minq[i_min])
            if len(i_mult):
                q[i_mult] = np.ceil(q[i_mult] / mult[i_mult] - EPS) * mult[i_mult]
            q = np.where(need & (q > EPS), q, 0.0)
            PORt[t] = q
            pab = avail + q
        POR = PORt.T
        if shortt is not None:
            prep.short[lv] = shortt.T

        # planned orders (split above max_qty)
        r, t = np.nonzero(POR)
        qty = POR[r, t]
        maxe = np.where(
            mult[r] > 0,
            np.floor(maxq[r] / np.where(mult[r] > 0, mult[r], 1) + EPS) * mult[r],
            maxq[r],
        )
        maxe = np.where((maxe <= 0) & (maxq[r] > 0), mult[r], maxe)
        split = (maxe > 0) & ~is_mm[r] & (qty > maxe * (1 + EPS))
        counts = np.ones(len(r), dtype=np.int64)
        counts[split] = np.ceil(qty[split] / maxe[split] - EPS).astype(np.int64)
        which = np.repeat(np.arange(len(r)), counts)
        seq = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
        last = seq == counts[which] - 1
        pq = np.where(
            split[which], np.where(last, qty[which] - seq * maxe[which], maxe[which]), qty[which]
        )
        p_item = lv[r[which]]
        p_due = t[which]
        p_release = _release(prep, prep.due_days[p_due], prep.lead[p_item])
        Q_level = single = None
        if pegging:
            Q_level, single = _peg_level(
                inp,
                prep,
                lv,
                pending,
                pieces,
                p_item,
                p_due,
                seq,
                pq,
                ncols,
                level_of,
                level,
                mode == "full",
            )
        first = pieces.add(p_item, p_due, seq, pq, p_release, Q_level)
        if single is not None:
            pieces.single.append((first + single[0], *single[1:]))
        explode_pieces(first, p_item, p_due, seq, pq, p_release, False)
    return G, pieces


def _peg_level(
    inp, prep, lv, pending, pieces, p_item, p_due, p_seq, p_qty, ncols, level_of, level, compose
):  # type: ignore[no-untyped-def]
    """FIFO pegging of one level: requirements (independent demands, dependent requirements,
    then the safety stock) against supplies (on hand, receipts, planned orders) by date; the
    planned orders' shares are composed with their parents' pegging."""
    n, T = prep.n, prep.T
    nd = len(inp.demands)
    in_level = np.zeros(n, dtype=bool)
    in_level[lv] = True

    # requirements: item, bucket, kind, k1, k2, k3, qty, col (or -1), parent piece (or -1)
    dm = prep.dem_in & in_level[prep.dem_item] & (inp.demands.qty > 0)
    d_rows = np.flatnonzero(dm)
    parts = [
        (
            prep.dem_item[d_rows],
            prep.dem_bucket[d_rows],
            np.zeros(len(d_rows), np.int64),
            d_rows,
            np.zeros(len(d_rows), np.int64),
            np.zeros(len(d_rows), np.int64),
            inp.demands.qty[d_rows],
            d_rows,
            np.full(len(d_rows), -1, np.int64),
        )
    ]
    keep_pending = []
    for chunk in pending:
        child, rb, rq, par_item, par_due, par_seq, par_gid, kind, col = chunk
        mine = level_of[child] == level
        if mine.all():
            sel = slice(None)
        else:
            keep_pending.append(tuple(a[~mine] for a in chunk))
            sel = mine
        k = int(mine.sum())
        if k:
            parts.append(
                (
                    child[sel],
                    rb[sel],
                    kind[sel],
                    par_item[sel],
                    par_due[sel],
                    par_seq[sel],
                    rq[sel],
                    col[sel],
                    par_gid[sel],
                )
            )
    pending[:] = keep_pending
    ss_items = lv[prep.ss[lv] > 0]
    k = len(ss_items)
    parts.append(
        (
            ss_items,
            np.full(k, T, np.int64),
            np.full(k, 3, np.int64),
            np.zeros(k, np.int64),
            np.zeros(k, np.int64),
            np.zeros(k, np.int64),
            prep.ss[ss_items],
            nd + ss_items,
            np.full(k, -1, np.int64),
        )
    )
    req = [np.concatenate([p[j] for p in parts]) for j in range(9)]
    r_item, r_b, r_kind, r_k1, r_k2, r_k3, r_qty, r_col, r_par = req
    pos = r_qty > 0
    if not pos.all():
        req = [a[pos] for a in req]
    r_item, r_b, r_kind, r_k1, r_k2, r_k3, r_qty, r_col, r_par = req
    o = _sort_keys((r_item, r_b, r_kind, r_k1, r_k2, r_k3))
    r_item, r_qty, r_col, r_par = r_item[o], r_qty[o], r_col[o], r_par[o]

    # supplies: on hand, receipts (and firm planned production) in the horizon, planned orders
    oh_items = lv[prep.oh[lv] > 0]
    rm = prep.rec_in & in_level[prep.rec_item] & (inp.receipts.qty > 0)
    rec_rows = np.flatnonzero(rm)
    f_rows = np.flatnonzero(prep.firm_in & in_level[prep.firm_item] & (prep.firm.qty > 0))
    fixed = len(oh_items) + len(rec_rows) + len(f_rows)
    npc = len(p_item)
    s_item = np.concatenate([oh_items, prep.rec_item[rec_rows], prep.firm_item[f_rows], p_item])
    s_b = np.concatenate(
        [np.full(len(oh_items), -1), prep.rec_bucket[rec_rows], prep.firm_bucket[f_rows], p_due]
    )
    s_kind = np.concatenate([np.zeros(fixed, np.int64), np.ones(npc, np.int64)])
    s_k = np.concatenate(
        [np.zeros(len(oh_items), np.int64), rec_rows, len(inp.receipts) + f_rows, p_seq]
    )
    s_qty = np.concatenate(
        [prep.oh[oh_items], inp.receipts.qty[rec_rows], prep.firm.qty[f_rows], p_qty]
    )
    s_piece = np.concatenate([np.full(fixed, -1), np.arange(npc)])
    o = _sort_keys((s_item, s_b + 1, s_kind, s_k))
    s_item, s_qty, s_piece = s_item[o], s_qty[o], s_piece[o]

    # Overlaps of the requirement and supply intervals on each item's cumulative quantity axis.
    # Every interval end is a breakpoint; the segment ending there runs from the previous
    # breakpoint of the same item. Keys (item + 1j·cumulative) sort item first, then value, so
    # searchsorted finds, per breakpoint, the interval of the other kind containing it.
    r_end = _group_cumsum(r_item, r_qty)
    s_end = _group_cumsum(s_item, s_qty)
    nr, ns = len(r_end), len(s_end)
    r_key = r_item + 1j * r_end
    s_key = s_item + 1j * s_end
    s_of_r = np.searchsorted(s_key, r_key, side="left")  # supply interval holding each r end
    r_of_s = np.searchsorted(r_key, s_key, side="right")  # requirement interval holding each s end

    def end_before(end: np.ndarray, items: np.ndarray, idx: np.ndarray, item: np.ndarray):  # type: ignore[no-untyped-def]
        """The end of interval ``idx - 1`` when it belongs to ``item``, else 0."""
        if len(end) == 0:
            return np.zeros(len(idx))
        j = np.maximum(idx - 1, 0)
        return np.where((idx > 0) & (items[j] == item), end[j], 0.0)

    prev = np.concatenate(
        [
            np.maximum(
                end_before(r_end, r_item, np.arange(nr), r_item),
                end_before(s_end, s_item, s_of_r, r_item),
            ),
            np.maximum(
                end_before(s_end, s_item, np.arange(ns), s_item),
                end_before(r_end, r_item, r_of_s, s_item),
            ),
        ]
    )
    m_val = np.concatenate([r_end, s_end])
    m_item = np.concatenate([r_item, s_item])
    r_idx = np.concatenate([np.arange(nr), r_of_s])
    s_idx = np.concatenate([s_of_r, np.arange(ns)])
    seg = m_val - prev
    ok = seg > EPS * np.maximum(1.0, np.abs(m_val))
    ok &= s_idx < ns
    s_ok = np.minimum(s_idx, max(ns - 1, 0))
    ok &= (s_item[s_ok] == m_item) if ns else False
    ok &= (s_piece[s_ok] >= 0) if ns else False
    seg, m_item, r_idx, s_ok = seg[ok], m_item[ok], r_idx[ok], s_ok[ok]
    piece = s_piece[s_ok]
    r_ok = np.minimum(r_idx, max(nr - 1, 0))
    matched = (r_idx < nr) & ((r_item[r_ok] == m_item) if nr else False)
    col = np.where(matched, r_col[r_ok] if nr else -1, nd + n + m_item)
    parent = np.where(matched, r_par[r_ok] if nr else -1, -1)
    direct = parent < 0
    single = (piece, parent, np.where(direct, col, -1), seg)
    if not compose:
        return None, single
    Q = sp.csr_matrix((seg[direct], (piece[direct], col[direct])), shape=(npc, ncols))
    dep = ~direct
    if dep.any():
        all_qty = pieces.cat("qty")
        A = sp.csr_matrix(
            (seg[dep] / all_qty[parent[dep]], (piece[dep], parent[dep])),
            shape=(npc, pieces.count),
        )
        Q_all = sp.vstack(list(pieces.Q), format="csr")
        Q = Q + A @ Q_all
    Q.sum_duplicates()
    return Q.tocsr(), single


# --- exceptions and output -------------------------------------------------------------------


def _exceptions(inp: PlanInput, prep: _Prep, subset: np.ndarray, G: np.ndarray, orders) -> dict:  # type: ignore[no-untyped-def]
    start = prep.start
    out: dict[str, list[np.ndarray]] = {
        k: [] for k in ("item", "kind", "date", "sugg", "qty", "ref", "oid")
    }

    def add(item, kind, date, sugg, qty, ref, oid):  # type: ignore[no-untyped-def]
        k = len(item)
        if not k:
            return
        out["item"].append(np.asarray(item, np.int64))
        out["kind"].append(np.full(k, kind, np.int64))
        out["date"].append(np.asarray(date, np.int64))
        out["sugg"].append(np.asarray(sugg, np.int64))
        out["qty"].append(np.asarray(qty, np.float64))
        out["ref"].append(np.asarray(ref, dtype=str))
        out["oid"].append(np.asarray(oid, np.int64))

    NONE = np.iinfo(np.int64).min
    rec = inp.receipts
    mine = subset[prep.rec_item] & (rec.qty > 0) if len(rec) else np.zeros(0, bool)
    # past-due receipts
    pd_rows = np.flatnonzero(mine & (rec.date < start))
    add(
        prep.rec_item[pd_rows],
        3,
        rec.date[pd_rows],
        np.full(len(pd_rows), start),
        rec.qty[pd_rows],
        rec.reference[pd_rows],
        np.zeros(len(pd_rows)),
    )
    # expedite / defer / cancel: the bucket where each receipt is first needed (FIFO after
    # on hand and the earlier receipts)
    rows = np.flatnonzero(mine & prep.rec_in)
    if len(rows):
        o = np.lexsort((rows, prep.rec_bucket[rows], prep.rec_item[rows]))
        rows = rows[o]
        item = prep.rec_item[rows]
        cum = _group_cumsum(item, rec.qty[rows])
        before = prep.oh[item] + cum - rec.qty[rows]
        need_b = np.full(len(rows), -1, np.int64)
        for lo in range(0, len(rows), 20000):
            hi = min(lo + 20000, len(rows))
            c = np.cumsum(G[item[lo:hi]], axis=1) + prep.ss[item[lo:hi], None]
            b = before[lo:hi, None]
            needed = c > b + EPS * np.maximum(1.0, np.abs(b))
            anyn = needed.any(axis=1)
            need_b[lo:hi] = np.where(anyn, needed.argmax(axis=1), -1)
        rb = prep.rec_bucket[rows]
        cancel = need_b < 0
        exp = ~cancel & (need_b < rb)
        dfr = ~cancel & (need_b > rb)
        for mask, kind in ((exp, 0), (dfr, 1)):
            add(
                item[mask],
                kind,
                rec.date[rows[mask]],
                prep.due_days[need_b[mask]],
                rec.qty[rows[mask]],
                rec.reference[rows[mask]],
                np.zeros(mask.sum()),
            )
        add(
            item[cancel],
            2,
            rec.date[rows[cancel]],
            np.full(cancel.sum(), NONE),
            rec.qty[rows[cancel]],
            rec.reference[rows[cancel]],
            np.zeros(cancel.sum()),
        )
    # past-due planned releases
    pdue = orders["release"] < start
    add(
        orders["item"][pdue],
        3,
        orders["release"][pdue],
        np.full(pdue.sum(), start),
        orders["qty"][pdue],
        np.full(pdue.sum(), "", dtype=str),
        orders["key"][pdue],
    )
    # below safety stock inside the lead time (no planned order can arrive in time)
    items = np.flatnonzero(subset & (prep.ss > 0) & ~prep.phantom)
    if len(items):
        proj = prep.oh[items, None] + np.cumsum(prep.SR[items] - G[items], axis=1)
        rel = _release(prep, prep.due_days[None, :], prep.lead[items, None])
        late = rel < start
        ss = prep.ss[items, None]
        short = late & (proj < ss - EPS * np.maximum(1.0, ss))
        hit = short.any(axis=1)
        items, short, late, proj, ss = items[hit], short[hit], late[hit], proj[hit], ss[hit]
        first = short.argmax(axis=1)
        qty = np.where(short, ss - proj, 0).max(axis=1)
        can = ~late
        sugg = np.where(can.any(axis=1), prep.due_days[can.argmax(axis=1)], NONE)
        add(
            items,
            4,
            prep.due_days[first],
            sugg,
            qty,
            np.full(len(items), "", dtype=str),
            np.zeros(len(items)),
        )
    # shortfalls where no new order may be due (firm production fences): expedite
    if prep.short is not None:
        items = np.flatnonzero(subset & (prep.short > 0).any(axis=1))
        if len(items):
            short = prep.short[items]
            first = (short > 0).argmax(axis=1)
            free = ~prep.block[items] & (np.arange(prep.T)[None, :] >= first[:, None])
            sugg = np.where(free.any(axis=1), prep.due_days[free.argmax(axis=1)], NONE)
            add(
                items,
                0,
                prep.due_days[first],
                sugg,
                short.max(axis=1),
                np.full(len(items), "", dtype=str),
                np.zeros(len(items)),
            )
    cat = {
        k: (np.concatenate(v) if v else np.zeros(0, dtype=str if k == "ref" else np.int64))
        for k, v in out.items()
    }
    if not out["qty"]:
        cat["qty"] = np.zeros(0)
    return cat


NONE = np.iinfo(np.int64).min


def _to_date(days: np.ndarray) -> np.ndarray:
    result = days.astype("datetime64[D]")
    result[days == NONE] = NAT
    return result


def _mode(pegging: bool | str) -> str:
    if pegging is True or pegging == "full":
        return "full"
    if pegging == "single":
        return "single"
    if pegging is False or pegging is None or pegging == "none":
        return "none"
    raise ValueError(f"pegging must be True, 'single' or False, not {pegging!r}")


def plan(
    inp: PlanInput, *, pegging: bool | str = True, context: PlanContext | None = None
) -> PlanResult:
    """Regenerative MRP run over every item. Raises PlanError on bad input (unknown item,
    unknown lot rule, BOM cycle …).

    ``pegging``: True computes full pegging (``result.pegging``; it can be large: every
    planned order × every demand it serves through all levels) and the single-level pegging;
    "single" only the single-level pegging (``result.single_pegging``; `full_pegging` composes
    it for chosen orders on demand); False none.

    ``context``: a previous run's `PlanContext` (``result.context``), reused when it matches
    ``inp`` (same items and BOM), rebuilt otherwise."""
    mode = _mode(pegging)
    prep = _prepare(inp, context)
    subset = np.ones(prep.n, dtype=bool)
    G, pieces = _run(inp, prep, subset, None, mode)
    return _assemble(inp, prep, subset, G, pieces, 0, None, mode, None)


def _targets(inp: PlanInput, prep: _Prep, *, empty: bool = False) -> PegTargets:
    nd, n, nf = (0, 0, 0) if empty else (len(inp.demands), prep.n, len(prep.firm))
    codes = inp.items.code
    firm = prep.firm
    return PegTargets(
        kind=np.concatenate(
            [
                np.full(nd, "demand"),
                np.full(n, "safety_stock"),
                np.full(n, "lot_size"),
                np.full(nf, "firm"),
            ]
        ),
        item=np.concatenate([inp.demands.item[:nd], codes[:n], codes[:n], firm.item[:nf]]),
        date=np.concatenate(
            [
                inp.demands.date[:nd].astype("datetime64[D]"),
                np.full(2 * n, NAT),
                firm.date[:nf].astype("datetime64[D]"),
            ]
        ),
        reference=np.concatenate(
            [inp.demands.reference[:nd], np.full(2 * n, ""), firm.reference[:nf]]
        ),
    )


class _Fallback(Exception):
    """The previous plan cannot be reused: run regeneratively."""


def _assemble(inp, prep, subset, G, pieces, n_seed, previous, mode, seed_ids):  # type: ignore[no-untyped-def]
    """Result tables from the run's pieces (skipping the ``n_seed`` seeds) and, for net change,
    the previous result's rows of the items outside ``subset``."""

    def cat(name: str, dtype: Any) -> np.ndarray:
        return pieces.cat(name).astype(dtype)[n_seed:]

    due_b = cat("due_bucket", np.int64)
    orders = {
        "item": cat("item", np.int64),
        "due": prep.due_days[due_b] if len(due_b) else np.zeros(0, np.int64),
        "seq": cat("seq", np.int64),
        "qty": cat("qty", np.float64),
        "release": cat("release", np.int64),
    }
    orders["key"] = np.arange(1, len(due_b) + 1, dtype=np.int64)  # provisional ids
    exc = _exceptions(inp, prep, subset, G, orders)
    peg = {"order": np.zeros(0, np.int64), "col": np.zeros(0, np.int64), "qty": np.zeros(0)}
    blocks = [q for q in pieces.Q if q is not None]
    if mode == "full" and blocks:
        Q = sp.vstack(blocks, format="csr")[n_seed:].tocoo()
        peg = {"order": Q.row.astype(np.int64) + 1, "col": Q.col.astype(np.int64), "qty": Q.data}
    # single-level pegging; a parent among the seeds is named by its previous id, negated
    single = {k: np.zeros(0, np.int64) for k in ("order", "parent", "col")}
    single["qty"] = np.zeros(0)
    if mode != "none" and pieces.single:
        gid, par, col, qty = (np.concatenate([x[j] for x in pieces.single]) for j in range(4))
        parent_key = np.where(par >= n_seed, par - n_seed + 1, 0)
        if n_seed:
            from_seed = (par >= 0) & (par < n_seed)
            parent_key[from_seed] = -seed_ids[par[from_seed]]
        single = {"order": gid - n_seed + 1, "parent": parent_key, "col": col, "qty": qty}
    if previous is not None:
        orders, peg, exc, single = _merge_previous(
            inp, prep, subset, orders, peg, exc, single, previous, mode
        )
    presorted = previous is None and n_seed == 0
    return _finish(inp, prep, subset, orders, peg, exc, single, mode, presorted)


def _finish(inp, prep, subset, orders, peg, exc, single, mode, presorted):  # type: ignore[no-untyped-def]
    codes = inp.items.code
    # canonical order and ids: low-level code, item (input order), due date, seq; phantoms'
    # pass-throughs last. A regenerative run makes its pieces in that order already.
    if presorted:
        o = np.arange(len(orders["item"]))
    else:
        # net change: a few sorted runs (this run's, the previous plan's), which the stable
        # sort merges in about linear time
        o = _sort_keys(
            (
                prep.llc[orders["item"]],
                orders["item"],
                (orders["due"] - prep.start) // prep.blen,
                orders["seq"],
            )
        )
    phantom = prep.phantom[orders["item"][o]]
    if phantom.any():
        o = np.concatenate([o[~phantom], o[phantom]])
    n_real = len(o) - int(phantom.sum())
    if not presorted or phantom.any():
        orders = {k: v[o] for k, v in orders.items()}
    new_id = np.arange(1, len(o) + 1, dtype=np.int64)
    id_map = np.zeros(int(orders["key"].max(initial=0)) + 1, np.int64)
    id_map[orders["key"]] = new_id
    release = orders["release"]
    release_date = np.maximum(release, prep.start).astype("datetime64[D]")
    due_date = orders["due"].astype("datetime64[D]")

    def order_table(part: slice) -> PlannedOrders:
        return PlannedOrders(
            id=new_id[part],
            item_index=orders["item"][part],
            items=inp.items,
            release_date=release_date[part],
            due_date=due_date[part],
            qty=orders["qty"][part],
            seq=orders["seq"][part],
            past_due=release[part] < prep.start,
        )

    targets = _targets(inp, prep, empty=mode == "none")
    peg_order = id_map[peg["order"]]
    po = _group_order(peg_order)
    po = po[np.round(peg["qty"][po], 6) != 0]
    real = peg_order[po] <= n_real

    def peg_table(rows: np.ndarray) -> Pegging:
        return Pegging(
            order_id=peg_order[rows], target=peg["col"][rows], qty=peg["qty"][rows], targets=targets
        )

    so = np.argsort(id_map[single["order"]], kind="stable")
    so = so[np.round(single["qty"][so], 6) != 0]
    single_table = SinglePegging(
        order_id=id_map[single["order"][so]],
        parent_id=id_map[single["parent"][so]],
        target=single["col"][so],
        qty=single["qty"][so],
        targets=targets,
    )

    eo = np.lexsort((exc["ref"], exc["oid"], exc["date"], exc["kind"], exc["item"]))
    exceptions = Exceptions(
        item=codes[exc["item"][eo]],
        kind=np.asarray(EXCEPTION_KINDS)[exc["kind"][eo]],
        date=_to_date(exc["date"][eo]),
        suggested_date=_to_date(exc["sugg"][eo]),
        qty=exc["qty"][eo],
        reference=exc["ref"][eo],
        order_id=id_map[exc["oid"][eo]],
    )
    tables = {
        "planned_orders": order_table(slice(0, n_real)),
        "pegging": peg_table(po[real]),
        "exceptions": exceptions,
        "pass_through": order_table(slice(n_real, None)),
        "pass_through_pegging": peg_table(po[~real]),
        "single_pegging": None if mode == "none" else single_table,
    }
    # the same rows grouped by item (they are: canonical order), for a later net change
    n = prep.n
    items = orders["item"]
    o_count = np.bincount(items, minlength=n).astype(np.int64)
    o_start = np.zeros(n, np.int64)
    if len(items):
        heads = np.flatnonzero(np.concatenate([[True], items[1:] != items[:-1]]))
        o_start[items[heads]] = heads
    s_order = single_table.order_id if mode != "none" else np.zeros(0, np.int64)
    s_start = np.searchsorted(s_order, o_start + 1, side="left")
    s_count = np.searchsorted(s_order, o_start + o_count + 1, side="left") - s_start
    e_item = exc["item"][eo]
    e_start = np.searchsorted(e_item, np.arange(n), side="left")
    e_count = np.bincount(e_item, minlength=n).astype(np.int64)
    e_oid = exceptions.order_id
    chunk = _Chunk(
        item=items,
        due=orders["due"],
        seq=orders["seq"],
        qty=orders["qty"],
        rel=np.maximum(release, prep.start),
        past_due=release < prep.start,
        s_row=s_order - 1,
        p_row=single_table.parent_id - 1 if mode != "none" else np.zeros(0, np.int64),
        col=single_table.target if mode != "none" else np.zeros(0, np.int64),
        s_qty=single_table.qty if mode != "none" else np.zeros(0),
        o_start=o_start,
        e_item=e_item,
        e_kind=exc["kind"][eo],
        e_date=exc["date"][eo],
        e_sugg=exc["sugg"][eo],
        e_qty=exc["qty"][eo],
        e_ref=exc["ref"][eo],
        e_local=np.where(e_oid > 0, e_oid - 1 - o_start[e_item], -1),
    )
    store = _Store(
        chunks=[(chunk, len(inp.demands), None)],
        chunk_of=np.zeros(n, np.int64),
        o_start=o_start,
        o_count=o_count,
        s_start=s_start,
        s_count=s_count,
        e_start=e_start,
        e_count=e_count,
    )
    return PlanResult(
        input=inp,
        peg_mode=mode,
        replanned=inp.items.code[subset],
        prep=prep,
        store=store if len(prep.firm) == 0 else None,
        tables=tables,
    )


@dataclass
class _Chunk:
    """Some items' planned orders (and pass-throughs), single-level pegging and exceptions,
    each grouped by item (orders by due date and seq within an item, pegging rows by order).
    A pegging row names its order and its parent order by (item, index among the item's
    orders): ``s_item``, ``s_local``, ``p_item`` (-1: pegged to target ``col``), ``p_local``;
    a regenerative run's chunk names them by row instead (``s_row``, ``p_row``, rows of this
    chunk's orders; ``o_start``: each item's first row). ``col`` numbers the targets as the
    chunk's run did. Exceptions name their order by its index among the item's (-1: none)."""

    item: np.ndarray
    due: np.ndarray
    seq: np.ndarray
    qty: np.ndarray
    rel: np.ndarray  # release day, not before the start
    past_due: np.ndarray
    col: np.ndarray
    s_qty: np.ndarray
    e_item: np.ndarray
    e_kind: np.ndarray
    e_date: np.ndarray
    e_sugg: np.ndarray
    e_qty: np.ndarray
    e_ref: np.ndarray
    e_local: np.ndarray
    o_start: np.ndarray | None = None
    s_row: np.ndarray | None = None
    p_row: np.ndarray | None = None
    s_item: np.ndarray | None = None
    s_local: np.ndarray | None = None
    p_item: np.ndarray | None = None
    p_local: np.ndarray | None = None


@dataclass
class _Store:
    """A plan's rows as chunks; each item's rows are in chunk ``chunk_of[item]`` (orders
    ``o_start[item]`` to ``+ o_count[item]``, pegging rows ``s_…``, exceptions ``e_…``). Each
    chunk comes with the number of demand rows of its run and the map of those rows to the
    plan's (None: unchanged), to renumber its pegging targets."""

    chunks: list[tuple[_Chunk, int, np.ndarray | None]]
    chunk_of: np.ndarray
    o_start: np.ndarray
    o_count: np.ndarray
    s_start: np.ndarray
    s_count: np.ndarray
    e_start: np.ndarray
    e_count: np.ndarray


def _exclusive_cumsum(counts: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Each item's first position when the items' blocks follow one another in ``order``."""
    first = np.zeros(len(counts), np.int64)
    c = counts[order]
    first[order] = np.cumsum(c) - c
    return first


def _materialise(result: PlanResult) -> dict[str, Any]:
    """A grouped result's tables, equal to a regenerative run's: orders numbered in the
    canonical order (low-level code, item, due date, seq; pass-throughs last)."""
    store, prep, inp, mode = result._store, result._prep, result.input, result.peg_mode
    context = prep.context
    n, nd = prep.n, len(inp.demands)
    canon = context.canon
    o_first = _exclusive_cumsum(store.o_count, canon)
    s_first = _exclusive_cumsum(store.s_count, canon)
    e_first = _exclusive_cumsum(store.e_count, np.arange(n))
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    for c, (chunk, nd_c, row_map) in enumerate(store.chunks):
        live = np.flatnonzero(store.chunk_of == c)
        if len(live) == 0:
            continue
        rows = _ranges(store.o_start[live], store.o_count[live])
        parts["o_dest"].append(_ranges(o_first[live], store.o_count[live]))
        for name in ("item", "due", "seq", "qty", "rel", "past_due"):
            parts["o_" + name].append(getattr(chunk, name)[rows])
        if mode != "none":
            rows = _ranges(store.s_start[live], store.s_count[live])
            parts["s_dest"].append(_ranges(s_first[live], store.s_count[live]))
            if chunk.s_row is not None:
                s_row, p_row = chunk.s_row[rows], chunk.p_row[rows]
                s_item = chunk.item[s_row]
                s_local = s_row - chunk.o_start[s_item]
                has = p_row >= 0
                p_item = np.where(has, chunk.item[np.maximum(p_row, 0)], -1)
                p_local = np.where(has, p_row - chunk.o_start[np.maximum(p_item, 0)], 0)
            else:
                s_item, s_local = chunk.s_item[rows], chunk.s_local[rows]
                p_item, p_local = chunk.p_item[rows], chunk.p_local[rows]
            col = chunk.col[rows].copy()
            other = col >= nd_c
            if row_map is not None:
                dem = (col >= 0) & ~other
                col[dem] = row_map[col[dem]]
            col[other] += nd - nd_c
            parts["s_order"].append(o_first[s_item] + s_local + 1)
            parts["s_parent"].append(
                np.where(p_item >= 0, o_first[np.maximum(p_item, 0)] + p_local + 1, 0)
            )
            parts["s_col"].append(col)
            parts["s_qty"].append(chunk.s_qty[rows])
        rows = _ranges(store.e_start[live], store.e_count[live])
        parts["e_dest"].append(_ranges(e_first[live], store.e_count[live]))
        for name in ("item", "kind", "date", "sugg", "qty", "ref", "local"):
            parts["e_" + name].append(getattr(chunk, "e_" + name)[rows])

    def placed(prefix: str, name: str, dtype: Any) -> np.ndarray:
        values = parts.get(prefix + name)
        if not values:
            return np.zeros(0, dtype=dtype)
        values = np.concatenate(values)
        out = np.empty(len(values), dtype=values.dtype)
        out[np.concatenate(parts[prefix + "dest"])] = values
        return out

    item = placed("o_", "item", np.int64)
    total = len(item)
    n_real = int(store.o_count[~context.phantom].sum())
    due = placed("o_", "due", np.int64)
    rel = placed("o_", "rel", np.int64)
    seq = placed("o_", "seq", np.int64)
    qty = placed("o_", "qty", np.float64)
    past_due = placed("o_", "past_due", bool)
    ids = np.arange(1, total + 1, dtype=np.int64)

    def order_table(part: slice) -> PlannedOrders:
        return PlannedOrders(
            id=ids[part],
            item_index=item[part],
            items=inp.items,
            release_date=rel[part].astype("datetime64[D]"),
            due_date=due[part].astype("datetime64[D]"),
            qty=qty[part],
            seq=seq[part],
            past_due=past_due[part],
        )

    targets = _targets(inp, prep, empty=mode == "none")
    no_pegging = Pegging(
        order_id=np.zeros(0, np.int64),
        target=np.zeros(0, np.int64),
        qty=np.zeros(0),
        targets=targets,
    )
    single = None
    if mode != "none":
        single = SinglePegging(
            order_id=placed("s_", "order", np.int64),
            parent_id=placed("s_", "parent", np.int64),
            target=placed("s_", "col", np.int64),
            qty=placed("s_", "qty", np.float64),
            targets=targets,
        )
    e_item = placed("e_", "item", np.int64)
    e_local = placed("e_", "local", np.int64)
    exceptions = Exceptions(
        item=inp.items.code[e_item],
        kind=np.asarray(EXCEPTION_KINDS)[placed("e_", "kind", np.int64)],
        date=_to_date(placed("e_", "date", np.int64)),
        suggested_date=_to_date(placed("e_", "sugg", np.int64)),
        qty=placed("e_", "qty", np.float64),
        reference=placed("e_", "ref", str),
        order_id=np.where(e_local >= 0, o_first[e_item] + e_local + 1, 0),
    )
    return {
        "planned_orders": order_table(slice(0, n_real)),
        "pegging": no_pegging,
        "exceptions": exceptions,
        "pass_through": order_table(slice(n_real, None)),
        "pass_through_pegging": no_pegging,
        "single_pegging": single,
    }


def _group_order(keys: np.ndarray) -> np.ndarray:
    """A stable permutation sorting ``keys``; O(n) when equal keys are already contiguous (as
    pegging rows are, one run per planned order)."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.concatenate([[0], np.flatnonzero(keys[1:] != keys[:-1]) + 1])
    heads = keys[starts]
    if len(np.unique(heads)) != len(heads):
        return np.argsort(keys, kind="stable")
    counts = np.diff(np.concatenate([starts, [len(keys)]]))
    perm = np.argsort(heads)
    return _ranges(starts[perm], counts[perm])


# --- net change ------------------------------------------------------------------------------


def _descendants(graph: sp.csr_matrix, start: np.ndarray) -> np.ndarray:
    mask = np.zeros(graph.shape[0], dtype=bool)
    frontier = np.unique(start)
    while len(frontier):
        mask[frontier] = True
        idx = _ranges(graph.indptr[frontier], np.diff(graph.indptr)[frontier])
        nxt = np.unique(graph.indices[idx])
        frontier = nxt[~mask[nxt]]
    return mask


def _codes_to_index(prep: _Prep, codes: np.ndarray) -> np.ndarray:
    """Indices of codes in the plan's items, -1 where unknown."""
    codes = _strings(codes)
    if len(codes) == 0 or prep.n == 0:
        return np.full(len(codes), -1, np.int64)
    pos = np.searchsorted(prep.index_sorted, codes)
    pos_c = np.minimum(pos, prep.n - 1)
    ok = (pos < prep.n) & (prep.index_sorted[pos_c] == codes)
    return np.where(ok, prep.index_order[pos_c], -1)


def _map_targets(inp: PlanInput, prep: _Prep, old: PegTargets, cols: np.ndarray) -> np.ndarray:
    """This run's pegging column of each of the previous run's target ``cols``; raises
    _Fallback when one no longer exists."""
    nd, n = len(inp.demands), prep.n
    used = np.zeros(len(old), dtype=bool)
    used[cols] = True
    uniq = np.flatnonzero(used)  # sorted, without sorting the (many) pegging rows
    kind = old.kind[uniq]
    idx = _codes_to_index(prep, old.item[uniq])
    if (idx < 0).any():
        raise _Fallback
    new = np.where(kind == "safety_stock", nd + idx, nd + n + idx)
    dem = np.flatnonzero(kind == "demand")
    if len(dem):
        rows = uniq[dem]  # demand targets are numbered by demand row
        same = rows < nd
        r = np.minimum(rows, max(nd - 1, 0))
        dm = inp.demands
        if nd:
            same &= (dm.item[r] == old.item[rows]) & (dm.reference[r] == old.reference[rows])
            same &= dm.date[r] == old.date[rows].astype(np.int64)
        found = np.where(same, r, -1)
        if not same.all():
            keys = {
                (a, int(b), c): k
                for k, (a, b, c) in reversed(
                    list(enumerate(zip(dm.item, dm.date, dm.reference, strict=True)))
                )
            }
            for j in np.flatnonzero(~same):
                key = (
                    old.item[rows[j]],
                    int(old.date[rows[j]].astype(np.int64)),
                    old.reference[rows[j]],
                )
                found[j] = keys.get(key, -1)
        if (found < 0).any():
            raise _Fallback
        new[dem] = found
    table = np.full(len(old), -1, dtype=np.int64)
    table[uniq] = new
    return table[cols]


def net_change(
    inp: PlanInput,
    previous: PlanResult,
    changed_items: Iterable[str] | None,
    *,
    pegging: bool | str = True,
) -> PlanResult:
    """Replan only the changed items and their BOM descendants (under the previous and the new
    BOM), taking the previous planned orders of the parents outside that closure as dependent
    demand. ``changed_items`` must name every item whose own data changed (parameters, on
    hand, receipts, demands, its BOM lines as parent); items new to the plan count as changed.
    The result equals ``plan(inp)``. Falls back to a regenerative run when the previous plan
    used other buckets, horizon, start or calendar, or lacks the pegging asked for.

    When the items and the BOM are those of the previous plan (its `PlanContext` matches) and
    there is no firm production, the previous preparation is reused and the result shares the
    previous plan's rows of the items outside the closure (see `PlanResult`): the run's cost is
    that of the closure. Then items whose parameters, demand lines or receipts differ from the
    previous input's are replanned even when ``changed_items`` does not name them.

    ``changed_items=None``: the caller does not know what changed (a database read). The
    changes are then found by that comparison, which needs the previous preparation; where it
    does not apply (other items or BOM, firm production), the run is regenerative."""
    mode = _mode(pegging)
    try:
        if mode != "full":
            result = _net_change_grouped(inp, previous, changed_items or (), mode)
            if result is not None:
                return result
        if changed_items is None:
            raise _Fallback
        return _net_change(inp, previous, changed_items, mode)
    except _Fallback:
        return plan(inp, pegging=pegging, context=previous.context)


ITEM_PARAMETERS = (
    "lead_time_days",
    "lot_rule",
    "lot_qty",
    "multiple",
    "min_qty",
    "max_qty",
    "safety_stock",
    "on_hand",
)
DATED_COLUMNS = ("item", "date", "qty", "reference")


def _seen(
    inp: PlanInput, unchanged: dict[str, tuple[np.ndarray | None, ...]] | None = None
) -> dict[str, tuple[np.ndarray, ...]]:
    """Copies of the run's item parameters, demands and receipts, which a later net change
    compares with its input (the caller may change the arrays in place meanwhile).
    ``unchanged``: per table, the previous copy of each column known to be equal (else None),
    kept instead of a new copy."""
    out = {}
    for table, obj, names in (
        ("items", inp.items, ITEM_PARAMETERS),
        ("demands", inp.demands, DATED_COLUMNS),
        ("receipts", inp.receipts, DATED_COLUMNS),
    ):
        kept = (unchanged or {}).get(table, (None,) * len(names))
        out[table] = tuple(
            np.array(getattr(obj, k), copy=True) if same is None else same
            for k, same in zip(names, kept, strict=True)
        )
    return out


def _row_changes(
    old: tuple[np.ndarray, ...], new: tuple[np.ndarray, ...]
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray, int, int, tuple[bool, ...]]:
    """Compare two dated tables: (map of the old rows to the new ones, -1 for rows gone, or
    None when the rows keep their numbers; the old rows changed or gone; the new rows changed
    or added; how many first and last rows are common; which columns are equal). Rows of equal tables correspond one to one; otherwise the common first and last
    rows do and the rows between them count as changed."""
    no, nn = len(old[0]), len(new[0])
    if no == nn:
        diff = np.zeros(no, dtype=bool)
        equal = tuple(_same(a, b) for a, b in zip(old, new, strict=True))
        for a, b, same in zip(old, new, equal, strict=True):
            if not same:
                diff |= a != b
        rows = np.flatnonzero(diff)
        return None, rows, rows, no, 0, equal
    m = min(no, nn)
    head = np.ones(m, dtype=bool)
    tail = np.ones(m, dtype=bool)
    for a, b in zip(old, new, strict=True):
        head &= a[:m] == b[:m]
        tail &= a[no - m :] == b[nn - m :]
    p = int(np.argmin(head)) if not head.all() else m
    bad_tail = np.flatnonzero(~tail)
    s = m - 1 - int(bad_tail[-1]) if len(bad_tail) else m
    s = min(s, m - p)
    row_map = np.full(no, -1, np.int64)
    row_map[:p] = np.arange(p)
    row_map[no - s :] = np.arange(nn - s, nn)
    return row_map, np.arange(p, no - s), np.arange(p, nn - s), p, s, (False,) * len(old)


def _block_changes(
    old: tuple[np.ndarray, ...],
    new: tuple[np.ndarray, ...],
    old_item: np.ndarray,
    new_item: np.ndarray,
    n: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`_row_changes` of two dated tables whose rows are both grouped by item in item order (as
    a database reader writes them): an item's rows correspond in order when it has as many rows
    in both, and count as changed (all of them) otherwise. Returns (map of the old rows to the
    new ones, -1 for rows changed or gone; the old rows changed or gone; the new rows changed or
    added)."""
    co = np.bincount(old_item, minlength=n)
    cn = np.bincount(new_item, minlength=n)
    so, sn = np.cumsum(co) - co, np.cumsum(cn) - cn
    same = co == cn
    ok = same[old_item]
    rows = np.flatnonzero(ok)
    row_map = np.full(len(old_item), -1, np.int64)
    row_map[rows] = sn[old_item[rows]] + rows - so[old_item[rows]]
    diff = np.zeros(len(rows), dtype=bool)
    for a, b in zip(old, new, strict=True):
        diff |= a[rows] != b[row_map[rows]]
    new_changed = ~same[new_item]
    new_changed[row_map[rows[diff]]] = True
    row_map[rows[diff]] = -1
    return row_map, np.flatnonzero(row_map < 0), np.flatnonzero(new_changed)


def _net_change_grouped(inp, previous, changed_items, mode):  # type: ignore[no-untyped-def]
    """Net change on the grouped rows (see `net_change`); None when it does not apply."""
    old, store = previous._prep, previous._store
    if (
        store is None
        or old is None
        or old.context is None
        or old.seen is None
        or (mode == "single" and previous.peg_mode == "none")
        or len(old.firm)
        or old.block is not None
        or (inp.firm is not None and len(inp.firm))
        or any(
            value is not None and (np.asarray(value) > 0).any()
            for value in (inp.no_plan_before, inp.firm_until)
        )
    ):
        return None
    prev_inp = previous.input
    if (
        prev_inp.bucket != inp.bucket
        or int(prev_inp.horizon) != int(inp.horizon)
        or _days([prev_inp.start])[0] != _days([inp.start])[0]
        or set(_days(list(prev_inp.non_working_days)).tolist())
        != set(_days(list(inp.non_working_days)).tolist())
    ):
        raise _Fallback
    context = old.context
    if not context.matches(inp):
        return None
    n = context.n
    changed = np.zeros(n, dtype=bool)
    named = _codes_to_index(old, _strings(list(changed_items)))
    changed[named[named >= 0]] = True
    unchanged: dict[str, tuple[np.ndarray | None, ...]] = {}
    kept = []
    for before, name in zip(old.seen["items"], ITEM_PARAMETERS, strict=True):
        after = getattr(inp.items, name)
        if before.shape != after.shape:
            return None
        diff = before != after
        changed |= diff
        kept.append(before if before.dtype == after.dtype and not diff.any() else None)
    unchanged["items"] = tuple(kept)
    lookups = []
    row_map = None
    for table, known in (("demands", old.dem_item), ("receipts", old.rec_item)):
        new = getattr(inp, table)
        columns = tuple(getattr(new, k) for k in DATED_COLUMNS)
        new_item = None
        if len(known) != len(new) and len(known) and len(new) and (np.diff(known) >= 0).all():
            new_item = _codes_to_index(old, new.item)
            if (new_item < 0).any() or (np.diff(new_item) < 0).any():
                new_item = None  # not grouped by item as the previous table was
        if new_item is not None:
            rmap, old_rows, new_rows = _block_changes(old.seen[table], columns, known, new_item, n)
            found, equal = new_item[new_rows], (False,) * len(columns)
        else:
            rmap, old_rows, new_rows, p, s, equal = _row_changes(old.seen[table], columns)
            found = _codes_to_index(old, new.item[new_rows])
        if (found < 0).any():
            return None  # an unknown item: the full preparation reports it
        changed[known[old_rows]] = True
        changed[found] = True
        unchanged[table] = tuple(
            a if same else None for a, same in zip(old.seen[table], equal, strict=True)
        )
        if new_item is not None:
            item = new_item
        elif rmap is None:
            item = known
            if len(new_rows):
                item = known.copy()
                item[new_rows] = found
        else:
            item = np.concatenate([known[:p], found, known[len(known) - s :]])
        lookups.append(item)
        if table == "demands":
            row_map = rmap
    closure = _descendants(context.all_by_parent, np.flatnonzero(changed))
    if closure.all():
        raise _Fallback
    prep = _prepare(
        inp,
        context,
        lookups=(lookups[0], lookups[1]),
        rows=closure,
        checked=True,
        seen=_seen(inp, unchanged),
    )

    # seeds: the previous orders (and pass-throughs) of explosion parents outside the closure
    ebc = context.explode_by_child
    kids = np.flatnonzero(closure)
    idx = _ranges(ebc.indptr[kids], np.diff(ebc.indptr)[kids])
    parents = np.unique(ebc.indices[idx])
    parents = parents[~closure[parents]]
    seed_cols: dict[str, list[np.ndarray]] = defaultdict(list)
    for c in np.unique(store.chunk_of[parents]):
        chunk = store.chunks[c][0]
        mine = parents[store.chunk_of[parents] == c]
        count = store.o_count[mine]
        rows = _ranges(store.o_start[mine], count)
        for name in ("item", "due", "seq", "qty"):
            seed_cols[name].append(getattr(chunk, name)[rows])
        seed_cols["local"].append(rows - np.repeat(store.o_start[mine], count))
    s = {
        k: np.concatenate(seed_cols[k]) if seed_cols[k] else np.zeros(0, np.int64)
        for k in ("item", "due", "seq", "qty", "local")
    }
    s_item = s["item"].astype(np.int64)
    seeds = _Seeds(
        item=s_item,
        due_bucket=(s["due"] - prep.start) // prep.blen,
        seq=s["seq"],
        qty=s["qty"].astype(np.float64),
        release=_release(prep, s["due"], prep.lead[s_item]),
        Q=None,
    )
    G, pieces = _run(inp, prep, closure, seeds, mode)

    # this run's rows, grouped by item
    n_seed = len(s_item)

    def cat(name: str, dtype: Any) -> np.ndarray:
        return pieces.cat(name).astype(dtype)[n_seed:]

    item = cat("item", np.int64)
    due_b = cat("due_bucket", np.int64)
    due = prep.due_days[due_b] if len(due_b) else np.zeros(0, np.int64)
    release = cat("release", np.int64)
    k = len(item)
    orders = {
        "item": item,
        "due": due,
        "seq": cat("seq", np.int64),
        "qty": cat("qty", np.float64),
        "release": release,
        "key": np.arange(1, k + 1, dtype=np.int64),
    }
    exc = _exceptions(inp, prep, closure, G, orders)
    context.release(prep.G0, prep.SR)
    prep.G0 = prep.SR = None
    perm = np.argsort(item, kind="stable")
    inv = np.empty(k, np.int64)
    inv[perm] = np.arange(k)
    c_item = item[perm]
    o_count = np.bincount(c_item, minlength=n).astype(np.int64)
    o_start = np.cumsum(o_count) - o_count
    single = {k: np.zeros(0, np.int64) for k in ("s_item", "s_local", "p_item", "p_local", "col")}
    single["s_qty"] = np.zeros(0)
    if mode != "none" and pieces.single:
        gid, par, col, qty = (np.concatenate([x[j] for x in pieces.single]) for j in range(4))
        keep = np.round(qty, 6) != 0
        gid, par, col, qty = gid[keep], par[keep], col[keep], qty[keep]
        row = inv[gid - n_seed]
        so = np.argsort(row, kind="stable")
        row, par, col, qty = row[so], par[so], col[so], qty[so]
        own = par >= n_seed
        from_seed = (par >= 0) & ~own
        p_item = np.full(len(par), -1, np.int64)
        p_local = np.zeros(len(par), np.int64)
        p_row = inv[par[own] - n_seed]
        p_item[own] = c_item[p_row]
        p_local[own] = p_row - o_start[p_item[own]]
        p_item[from_seed] = s_item[par[from_seed]]
        p_local[from_seed] = s["local"][par[from_seed]]
        s_it = c_item[row]
        single = {
            "s_item": s_it,
            "s_local": row - o_start[s_it],
            "p_item": p_item,
            "p_local": p_local,
            "col": col,
            "s_qty": qty,
        }
    s_count = np.bincount(single["s_item"], minlength=n).astype(np.int64)
    oid = exc["oid"]
    e_local = np.full(len(oid), -1, np.int64)
    has = oid > 0
    e_local[has] = inv[oid[has] - 1] - o_start[exc["item"][has]]
    eo = np.lexsort((exc["ref"], e_local, exc["date"], exc["kind"], exc["item"]))
    e_count = np.bincount(exc["item"], minlength=n).astype(np.int64)
    chunk = _Chunk(
        item=c_item,
        due=due[perm],
        seq=orders["seq"][perm],
        qty=orders["qty"][perm],
        rel=np.maximum(release[perm], prep.start),
        past_due=release[perm] < prep.start,
        e_item=exc["item"][eo],
        e_kind=exc["kind"][eo],
        e_date=exc["date"][eo],
        e_sugg=exc["sugg"][eo],
        e_qty=exc["qty"][eo],
        e_ref=exc["ref"][eo],
        e_local=e_local[eo],
        **single,
    )

    # the previous chunks (their demand rows renumbered) and this one
    chunks = []
    for old_chunk, nd_c, old_map in store.chunks:
        if row_map is not None:
            ext = np.concatenate([row_map, np.full(max(nd_c - len(row_map), 0), -1)])
            if old_map is None:
                old_map = ext[:nd_c]
            else:
                old_map = np.where(old_map >= 0, ext[np.maximum(old_map, 0)], -1)
        chunks.append((old_chunk, nd_c, old_map))
    chunks.append((chunk, len(inp.demands), None))
    new_store = _Store(
        chunks=chunks,
        chunk_of=store.chunk_of.copy(),
        o_start=store.o_start.copy(),
        o_count=store.o_count.copy(),
        s_start=store.s_start.copy(),
        s_count=store.s_count.copy(),
        e_start=store.e_start.copy(),
        e_count=store.e_count.copy(),
    )
    for name, value in (
        ("chunk_of", len(chunks) - 1),
        ("o_start", o_start),
        ("o_count", o_count),
        ("s_start", np.cumsum(s_count) - s_count),
        ("s_count", s_count),
        ("e_start", np.cumsum(e_count) - e_count),
        ("e_count", e_count),
    ):
        target = getattr(new_store, name)
        target[closure] = value if np.isscalar(value) else value[closure]
    # drop the chunks whose items were all replanned since
    live = np.bincount(new_store.chunk_of, minlength=len(chunks)) > 0
    if not live.all():
        new_store.chunks = [c for c, keep in zip(chunks, live, strict=True) if keep]
        new_store.chunk_of = (np.cumsum(live) - 1)[new_store.chunk_of]
    return PlanResult(
        input=inp, peg_mode=mode, replanned=inp.items.code[closure], prep=prep, store=new_store
    )


def _net_change(inp, previous, changed_items, mode):  # type: ignore[no-untyped-def]
    prep = _prepare(inp, previous.context)
    old = previous._prep
    prev_inp = previous.input
    if (
        old is None
        or len(prep.firm)
        or prep.block is not None
        or len(old.firm)
        or old.block is not None
        or (mode == "full" and previous.peg_mode != "full")
        or (mode == "single" and previous.peg_mode == "none")
        or prev_inp.bucket != inp.bucket
        or int(prev_inp.horizon) != int(inp.horizon)
        or _days([prev_inp.start])[0] != _days([inp.start])[0]
        or set(_days(list(prev_inp.non_working_days)).tolist())
        != set(_days(list(inp.non_working_days)).tolist())
    ):
        raise _Fallback
    changed = _strings(list(changed_items))
    new_idx = _codes_to_index(prep, changed)
    old_idx = _codes_to_index(old, changed)
    closure = _descendants(prep.all_by_parent, new_idx[new_idx >= 0])
    old_closure = _descendants(old.all_by_parent, old_idx[old_idx >= 0])
    mapped = _codes_to_index(prep, prev_inp.items.code[old_closure])
    closure |= _descendants(prep.all_by_parent, mapped[mapped >= 0])
    known = _codes_to_index(old, inp.items.code) >= 0
    if not known.all():
        closure |= _descendants(prep.all_by_parent, np.flatnonzero(~known))
    if closure.all():
        raise _Fallback

    # seeds: the previous orders (and pass-throughs) of explosion parents outside the closure
    parents = np.unique(prep.explode[closure].tocoo().col)
    is_parent = np.zeros(prep.n, dtype=bool)
    is_parent[parents[~closure[parents]]] = True
    tables = (previous.planned_orders, previous.pass_through)
    old_to_new = _codes_to_index(prep, prev_inp.items.code)
    idx = [old_to_new[t.item_index] for t in tables]
    sel = [np.flatnonzero((i >= 0) & is_parent[np.maximum(i, 0)]) for i in idx]
    s_item = np.concatenate([i[s] for i, s in zip(idx, sel, strict=True)])
    s_due = np.concatenate(
        [t.due_date[s].astype(np.int64) for t, s in zip(tables, sel, strict=True)]
    )
    s_ids = np.concatenate([t.id[s] for t, s in zip(tables, sel, strict=True)])
    ncols = len(inp.demands) + 2 * prep.n
    Q = sp.csr_matrix((len(s_item), ncols))
    if mode == "full" and len(s_item):
        max_id = max(int(t.id.max(initial=0)) for t in tables)
        row_of = np.full(max_id + 1, -1, np.int64)
        row_of[s_ids] = np.arange(len(s_ids))
        pegs = (previous.pegging, previous.pass_through_pegging)
        p_order = np.concatenate([p.order_id for p in pegs])
        p_target = np.concatenate([p.target for p in pegs])
        p_qty = np.concatenate([p.qty for p in pegs])
        rows = row_of[p_order]
        keep = rows >= 0
        cols = _map_targets(inp, prep, previous.pegging.targets, p_target[keep])
        Q = sp.csr_matrix((p_qty[keep], (rows[keep], cols)), shape=(len(s_item), ncols))
    seeds = _Seeds(
        item=s_item,
        due_bucket=(s_due - prep.start) // prep.blen,
        seq=np.concatenate([t.seq[s] for t, s in zip(tables, sel, strict=True)]),
        qty=np.concatenate([t.qty[s] for t, s in zip(tables, sel, strict=True)]),
        release=_release(prep, s_due, prep.lead[s_item]),
        Q=Q,
    )
    G, pieces = _run(inp, prep, closure, seeds, mode)
    return _assemble(inp, prep, closure, G, pieces, len(s_item), previous, mode, s_ids)


def _merge_previous(inp, prep, subset, orders, peg, exc, single, previous, mode):  # type: ignore[no-untyped-def]
    """Add the previous result's orders, pegging and exceptions of the items outside
    ``subset`` (the closure) to this run's."""
    o_parts = {k: [v] for k, v in orders.items()}
    p_parts = {k: [v] for k, v in peg.items()}
    key_base = int(orders["key"].max(initial=0))
    tables = (
        (previous.planned_orders, previous.pegging),
        (previous.pass_through, previous.pass_through_pegging),
    )
    max_id = max(int(t.id.max(initial=0)) for t, _p in tables)
    new_key = np.zeros(max_id + 1, np.int64)
    old_to_new = _codes_to_index(prep, previous.input.items.code)
    for orders_t, peg_t in tables:
        idx = old_to_new[orders_t.item_index]
        sel = (idx >= 0) & ~subset[np.maximum(idx, 0)]
        count = int(sel.sum())
        new_key[orders_t.id[sel]] = key_base + 1 + np.arange(count)
        key_base += count
        due = orders_t.due_date[sel].astype(np.int64)
        o_parts["item"].append(idx[sel])
        o_parts["due"].append(due)
        o_parts["seq"].append(orders_t.seq[sel])
        o_parts["qty"].append(orders_t.qty[sel])
        o_parts["release"].append(_release(prep, due, prep.lead[idx[sel]]))
        o_parts["key"].append(new_key[orders_t.id[sel]])
        if mode == "full" and len(peg_t):
            psel = new_key[peg_t.order_id] > 0
            p_parts["order"].append(new_key[peg_t.order_id[psel]])
            p_parts["col"].append(_map_targets(inp, prep, peg_t.targets, peg_t.target[psel]))
            p_parts["qty"].append(peg_t.qty[psel])
    s_parts = {k: [v] for k, v in single.items()}
    if mode != "none":
        # this run's orders pegged to seeds name them by their previous id (negated)
        s_parts["parent"][0] = np.where(
            single["parent"] < 0, new_key[np.maximum(-single["parent"], 0)], single["parent"]
        )
        old = previous.single_pegging
        keep = new_key[old.order_id] > 0
        s_parts["order"].append(new_key[old.order_id[keep]])
        s_parts["parent"].append(new_key[old.parent_id[keep]])
        target = old.target[keep]
        has = target >= 0
        mapped = np.full(len(target), -1, np.int64)
        mapped[has] = _map_targets(inp, prep, old.targets, target[has])
        s_parts["col"].append(mapped)
        s_parts["qty"].append(old.qty[keep])
    ex = previous.exceptions
    idx = _codes_to_index(prep, ex.item)
    sel = (idx >= 0) & ~subset[np.maximum(idx, 0)]
    e_parts = {k: [v] for k, v in exc.items()}
    if sel.any():
        e_parts["item"].append(idx[sel])
        e_parts["kind"].append(_kind_index(ex.kind[sel]))
        for name, col in (("date", ex.date), ("sugg", ex.suggested_date)):
            e_parts[name].append(np.where(np.isnat(col[sel]), NONE, col[sel].astype(np.int64)))
        e_parts["qty"].append(ex.qty[sel])
        e_parts["ref"].append(ex.reference[sel])
        e_parts["oid"].append(new_key[ex.order_id[sel]])
    return tuple(
        {k: np.concatenate(v) for k, v in parts.items()}
        for parts in (o_parts, p_parts, e_parts, s_parts)
    )


@dataclass
class PlanChanges:
    """The rows of the items a run replanned (`PlanResult.changes`), for a writer that keeps
    the other items' rows of the previous plan. An order is named by its item (row of the
    input's ItemTable) and ``local``, its index among the item's orders and pass-throughs in
    the plan's order (due date, seq); orders of items not replanned keep their (item, local)
    from the previous plan. Pegging rows: order ``(peg_item, peg_local)`` gives ``peg_qty``
    to parent order ``(parent_item, parent_local)`` or, when ``parent_item`` is -1, to
    ``targets`` row ``peg_target``. Exceptions: ``exc_local`` is the order's local index for a
    past-due release, -1 otherwise."""

    items: np.ndarray
    order_item: np.ndarray
    order_local: np.ndarray
    release_date: np.ndarray
    due_date: np.ndarray
    qty: np.ndarray
    seq: np.ndarray
    past_due: np.ndarray
    peg_item: np.ndarray
    peg_local: np.ndarray
    parent_item: np.ndarray
    parent_local: np.ndarray
    peg_target: np.ndarray
    peg_qty: np.ndarray
    targets: PegTargets = field(repr=False)
    exc_item: np.ndarray
    exc_kind: np.ndarray
    exc_date: np.ndarray
    exc_suggested_date: np.ndarray
    exc_qty: np.ndarray
    exc_reference: np.ndarray
    exc_local: np.ndarray


def _changes(result: PlanResult, items: np.ndarray | None = None) -> PlanChanges:
    store, prep, inp = result._store, result._prep, result.input
    if store is None:
        raise ValueError("the plan has no grouped rows (firm planned production)")
    nd = len(inp.demands)
    if items is None:
        items = np.flatnonzero(np.isin(inp.items.code, result.replanned))
    else:
        items = np.unique(np.asarray(items, dtype=np.int64))
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    for c in np.unique(store.chunk_of[items]):
        chunk, nd_c, row_map = store.chunks[c]
        mine = items[store.chunk_of[items] == c]
        count = store.o_count[mine]
        rows = _ranges(store.o_start[mine], count)
        for name in ("item", "due", "seq", "qty", "rel", "past_due"):
            parts["o_" + name].append(getattr(chunk, name)[rows])
        parts["o_local"].append(rows - np.repeat(store.o_start[mine], count))
        if result.peg_mode != "none":
            rows = _ranges(store.s_start[mine], store.s_count[mine])
            if chunk.s_row is not None:
                s_row, p_row = chunk.s_row[rows], chunk.p_row[rows]
                s_item = chunk.item[s_row]
                has = p_row >= 0
                p_item = np.where(has, chunk.item[np.maximum(p_row, 0)], -1)
                parts["s_item"].append(s_item)
                parts["s_local"].append(s_row - chunk.o_start[s_item])
                parts["p_item"].append(p_item)
                parts["p_local"].append(
                    np.where(has, p_row - chunk.o_start[np.maximum(p_item, 0)], 0)
                )
            else:
                for name in ("s_item", "s_local", "p_item", "p_local"):
                    parts[name].append(getattr(chunk, name)[rows])
            col = chunk.col[rows].copy()
            other = col >= nd_c
            if row_map is not None:
                dem = (col >= 0) & ~other
                col[dem] = row_map[col[dem]]
            col[other] += nd - nd_c
            parts["col"].append(col)
            parts["s_qty"].append(chunk.s_qty[rows])
        rows = _ranges(store.e_start[mine], store.e_count[mine])
        for name in ("item", "kind", "date", "sugg", "qty", "ref", "local"):
            parts["e_" + name].append(getattr(chunk, "e_" + name)[rows])

    def cat(name: str, dtype: Any = np.int64) -> np.ndarray:
        return np.concatenate(parts[name]) if parts.get(name) else np.zeros(0, dtype=dtype)

    return PlanChanges(
        items=items,
        order_item=cat("o_item"),
        order_local=cat("o_local"),
        release_date=cat("o_rel").astype("datetime64[D]"),
        due_date=cat("o_due").astype("datetime64[D]"),
        qty=cat("o_qty", np.float64),
        seq=cat("o_seq"),
        past_due=cat("o_past_due", bool),
        peg_item=cat("s_item"),
        peg_local=cat("s_local"),
        parent_item=cat("p_item"),
        parent_local=cat("p_local"),
        peg_target=cat("col"),
        peg_qty=cat("s_qty", np.float64),
        targets=_targets(inp, prep, empty=result.peg_mode == "none"),
        exc_item=cat("e_item"),
        exc_kind=np.asarray(EXCEPTION_KINDS)[cat("e_kind")],
        exc_date=_to_date(cat("e_date")),
        exc_suggested_date=_to_date(cat("e_sugg")),
        exc_qty=cat("e_qty", np.float64),
        exc_reference=cat("e_ref", str),
        exc_local=cat("e_local"),
    )


def full_pegging(
    result: PlanResult, order_ids: Sequence[int] | np.ndarray | None = None
) -> Pegging:
    """Full pegging of the planned orders ``order_ids`` (all planned orders when None),
    composed from the single-level pegging of a run made with ``pegging="single"`` (or True):
    each order's share of a parent order is spread over the parent's own full pegging, level
    by level up to the demands. Equals ``result.pegging`` of a run with ``pegging=True``."""
    single = result.single_pegging
    if single is None:
        raise ValueError("the plan was run with pegging=False")
    if "pegging_matrices" not in result._cache:
        qty = np.concatenate([result.planned_orders.qty, result.pass_through.qty])
        n, ncols = len(qty), len(single.targets)
        direct = single.parent_id == 0
        D = sp.csr_matrix(
            (single.qty[direct], (single.order_id[direct] - 1, single.target[direct])),
            shape=(n, ncols),
        )
        up = ~direct
        P = sp.csr_matrix(
            (
                single.qty[up] / qty[single.parent_id[up] - 1],
                (single.order_id[up] - 1, single.parent_id[up] - 1),
            ),
            shape=(n, n),
        )
        result._cache["pegging_matrices"] = (D, P)
    D, P = result._cache["pegging_matrices"]
    rows = (
        np.arange(len(result.planned_orders))
        if order_ids is None
        else np.asarray(order_ids, dtype=np.int64) - 1
    )
    F, X = D[rows], P[rows]
    while X.nnz:  # one step up per BOM level
        F = F + X @ D
        X = X @ P
    F = F.tocsr()
    F.sum_duplicates()
    F = F.tocoo()
    order = np.argsort(F.row, kind="stable")
    keep = order[np.round(F.data[order], 6) != 0]
    return Pegging(
        order_id=rows[F.row[keep]] + 1,
        target=F.col[keep].astype(np.int64),
        qty=F.data[keep],
        targets=single.targets,
    )


def _kind_index(kinds: np.ndarray) -> np.ndarray:
    names = np.asarray(EXCEPTION_KINDS)
    order = np.argsort(names)
    return order[np.searchsorted(names, kinds, sorter=order)].astype(np.int64)


__all__: Sequence[str] = (
    "EXCEPTION_KINDS",
    "LOT_RULES",
    "BomTable",
    "DatedTable",
    "Exceptions",
    "ItemTable",
    "PegTargets",
    "Pegging",
    "PlanChanges",
    "PlanContext",
    "PlanError",
    "PlanInput",
    "PlanResult",
    "PlannedOrders",
    "SinglePegging",
    "full_pegging",
    "net_change",
    "plan",
)
