"""Bills of materials, work centers and routings: writes and the reads built on them.

Writes (`bom_create`, `bom_update`, `bom_archive`, `work_center_*`, `routing_*`,
`bom_cost_rollup_apply`) follow the service rules: keyword-only, an `actor`, one transaction,
a `ValidationError` with field errors on bad input and nothing changed. Every BOM write checks the
whole BOM graph of the company for a loop (refused, naming it: "BIKE → FRAME → BIKE") and then
recomputes the low-level codes.

Reads (`bom_explode`, `bom_requirements`, `bom_where_used`, `bom_cost_rollup`,
`bom_cost_rollup_all`, `work_center_capacity`) work on a `BomIndex`: the company's BOMs, lines,
items, units and (for costing) routings held in plain Python structures. An index loads either
the whole company in a handful of queries (catalogue-wide roll-up, low-level codes) or level by
level from some products (one explosion: three queries per BOM level) — never a query per node.

Quantities: a line's quantity is converted to the component's stock unit and raised by its
scrap percentage; a BOM's quantity (what one run of it produces) is converted to the parent's
stock unit. So `quantity_per` is always "component stock units per one stock unit of the
parent", and computations keep full `Decimal` precision (rounding only for display/storage).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from auditlog.registry import auditlog
from django.core.exceptions import ValidationError
from django.db import connections, router, transaction
from django.db.models import ExpressionWrapper, F, TextField
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import AuditEntry, Company, UnitOfMeasure, User
from xietong.core.quantity import Unit, UnitMismatch, convert
from xietong.product.models import (
    Bom,
    BomLine,
    ConfiguredItem,
    CostRecord,
    Product,
    Routing,
    RoutingOperation,
    WorkCenter,
)
from xietong.product.services import product_cost_set

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
SIXTY = Decimal(60)
Q6 = Decimal("0.000001")
CHUNK = 500  # ids per IN (…) list: well under SQLite's and PostgreSQL's parameter limits


def q6(value: Decimal) -> Decimal:
    """`value` rounded to the 6 decimals quantities and costs are stored with."""
    return value.quantize(Q6)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    items = list(ids)
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


class BomError(ValueError):
    """The stored BOM data cannot be evaluated (a loop or a unit that no longer fits)."""


# --- the in-memory index --------------------------------------------------------------------


@dataclass(slots=True)
class ItemInfo:
    id: int
    sku: str
    name: str
    name_i18n: dict[str, str] | str
    uom_id: int
    standard_cost: Decimal
    supply: str
    low_level_code: int
    is_configurable: bool = False

    @property
    def display_name(self) -> str:
        names = self.name_i18n
        if isinstance(names, str):  # read raw (see `_item_rows`); parsed when first shown
            names = self.name_i18n = json.loads(names) if names else {}
        return names.get(translation.get_language() or "", "") or self.name

    def __str__(self) -> str:
        return f"[{self.sku}] {self.display_name}"


@dataclass(slots=True)
class LineInfo:
    id: int
    sequence: int
    component_id: int
    quantity: Decimal
    uom_id: int
    scrap_percent: Decimal


@dataclass(slots=True)
class BomInfo:
    id: int
    product_id: int
    version: int
    kind: str
    quantity: Decimal
    uom_id: int
    effective_from: dt.date | None
    effective_to: dt.date | None
    lines: list[LineInfo] = field(default_factory=list)

    @property
    def phantom(self) -> bool:
        return self.kind == Bom.Kind.PHANTOM

    def effective_on(self, date: dt.date) -> bool:
        return (self.effective_from is None or self.effective_from <= date) and (
            self.effective_to is None or date <= self.effective_to
        )


@dataclass(slots=True)
class OperationInfo:
    sequence: int
    name: str
    work_center_id: int
    setup_minutes: Decimal
    run_minutes: Decimal


@dataclass(slots=True)
class WorkCenterInfo:
    id: int
    code: str
    name: str
    cost_per_hour: Decimal
    overhead_per_hour: Decimal


def _number(value: Any) -> Decimal:
    """A decimal column read as a plain number (see `_plain`): exact for the ≤ 15 significant
    digits SQLite keeps anyway; PostgreSQL hands back Decimals, which pass unchanged."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(value)


def _plain(name: str) -> ExpressionWrapper:
    """Select a decimal column as the driver returns it, without Django's per-value converter
    (whose cost exceeds the whole roll-up arithmetic on large catalogues): declared as text,
    which has no converter, and turned into a Decimal by `_number`."""
    return ExpressionWrapper(F(name), output_field=TextField())


def _item_rows(queryset: Any, company_id: int) -> Iterable[ItemInfo]:
    rows = queryset.order_by().values_list(
        "id",
        "sku",
        "name",
        _plain("name_i18n"),
        "uom_id",
        _plain("standard_cost"),
        "supply",
        "low_level_code",
        "is_configurable",
        "company_id",
    )
    for pk, sku, name, i18n, uom, cost, supply, llc, configurable, company in rows:
        if company == company_id:  # ids reach here through the company's own BOMs; be sure
            yield ItemInfo(pk, sku, name, i18n, uom, _number(cost), supply, llc, configurable)


def _bom_rows(queryset: Any, company_id: int) -> Iterable[BomInfo]:
    rows = queryset.order_by().values_list(
        "id",
        "product_id",
        "version",
        "kind",
        _plain("quantity"),
        "uom_id",
        "effective_from",
        "effective_to",
        "company_id",
    )
    for pk, product, version, kind, quantity, uom, start, end, company in rows:
        if company == company_id:
            yield BomInfo(pk, product, version, kind, _number(quantity), uom, start, end)


def _line_rows(queryset: Any) -> Iterable[tuple[int, LineInfo]]:
    rows = queryset.order_by("bom_id", "sequence", "id").values_list(
        "bom_id",
        "id",
        "sequence",
        "component_id",
        _plain("quantity"),
        "uom_id",
        _plain("scrap_percent"),
    )
    for bom, pk, sequence, component, quantity, uom, scrap in rows:
        yield bom, LineInfo(pk, sequence, component, _number(quantity), uom, _number(scrap))


def units_by_id() -> dict[int, Unit]:
    """Every unit of measure as a `core.quantity.Unit`, by primary key (one small query)."""
    return {
        pk: Unit(code, category, factor, rounding)
        for pk, code, category, factor, rounding in UnitOfMeasure.objects.values_list(
            "pk", "code", "category__code", "factor", "rounding"
        )
    }


class BomIndex:
    """The BOMs of one company in memory: items, active BOMs with lines, units and routings.

    Build it with `BomIndex.whole_company(company_id)` (a handful of queries, whatever the size)
    or `BomIndex(company_id)` and `load_tree(...)` (queries per BOM level, not per node).
    Queries by id leave the company out of the SQL (SQLite would then scan the company's index
    instead of using the id's) and check each row's company in Python instead.
    """

    def __init__(self, company_id: int) -> None:
        self.company_id = company_id
        self.units = units_by_id()
        self.items: dict[int, ItemInfo] = {}
        self.boms: dict[int, list[BomInfo]] = {}  # product id -> active BOMs, newest first
        self.routings: dict[int, list[OperationInfo]] = {}  # product id -> active operations
        self.work_centers: dict[int, WorkCenterInfo] = {}
        self._boms_by_id: dict[int, BomInfo] = {}
        self._bom_loaded: set[int] = set()
        self._routing_loaded: set[int] = set()
        self._quantity_per: dict[int, Decimal] = {}

    # loading ---------------------------------------------------------------------------------

    @classmethod
    def whole_company(cls, company_id: int, *, costing: bool = False) -> BomIndex:
        """Every product, active BOM and line of the company (and routings with `costing`)."""
        index = cls(company_id)
        index._add_items(_item_rows(Product.unscoped.filter(company_id=company_id), company_id))
        index._add_boms(
            _bom_rows(Bom.unscoped.filter(company_id=company_id, active=True), company_id)
        )
        index._add_lines(
            _line_rows(BomLine.objects.filter(bom__company_id=company_id, bom__active=True))
        )
        index._bom_loaded = set(index.items)
        if costing:
            index._load_work_centers()
            index._add_operations(
                RoutingOperation.objects.filter(
                    routing__company_id=company_id, routing__active=True
                )
            )
            index._routing_loaded = set(index.items)
        return index

    def _add_items(self, rows: Iterable[ItemInfo]) -> None:
        for info in rows:
            self.items[info.id] = info

    def _add_boms(self, rows: Iterable[BomInfo]) -> dict[int, BomInfo]:
        added = {}
        for bom in rows:
            added[bom.id] = bom
            self.boms.setdefault(bom.product_id, []).append(bom)
        for product_id in {bom.product_id for bom in added.values()}:
            self.boms[product_id].sort(key=lambda b: -b.version)
        self._boms_by_id.update(added)
        return added

    def _add_lines(self, rows: Iterable[tuple[int, LineInfo]]) -> None:
        by_id = self._boms_by_id
        for bom_id, line in rows:
            bom = by_id.get(bom_id)
            if bom is not None:
                bom.lines.append(line)

    def _load_work_centers(self) -> None:
        if self.work_centers:
            return
        for pk, code, name, cost, overhead in WorkCenter.unscoped.filter(
            company_id=self.company_id
        ).values_list("id", "code", "name", _plain("cost_per_hour"), _plain("overhead_per_hour")):
            self.work_centers[pk] = WorkCenterInfo(pk, code, name, _number(cost), _number(overhead))

    def _add_operations(self, operations: Any) -> None:
        first_routing: dict[int, int] = {}
        rows = operations.order_by(
            "routing__product_id", "routing_id", "sequence", "id"
        ).values_list(
            "routing__product_id",
            "routing_id",
            "sequence",
            "name",
            "work_center_id",
            _plain("setup_minutes"),
            _plain("run_minutes"),
            "routing__company_id",
        )
        for product_id, routing_id, sequence, name, wc, setup, run, company in rows:
            # One active routing per product (the services see to it); should the data hold
            # several, the oldest counts.
            if company != self.company_id:
                continue
            if first_routing.setdefault(product_id, routing_id) != routing_id:
                continue
            self.routings.setdefault(product_id, []).append(
                OperationInfo(sequence, name, wc, _number(setup), _number(run))
            )

    def load(self, product_ids: Iterable[int]) -> None:
        """Load the items and active BOMs (with lines) of these products, if not yet loaded."""
        wanted = [pk for pk in set(product_ids) if pk not in self._bom_loaded]
        if not wanted:
            return
        company = self.company_id
        for chunk in _chunks(wanted):
            missing = [pk for pk in chunk if pk not in self.items]
            if missing:
                self._add_items(_item_rows(Product.unscoped.filter(pk__in=missing), company))
            added = self._add_boms(
                _bom_rows(Bom.unscoped.filter(product_id__in=chunk, active=True), company)
            )
            if added:
                self._add_lines(_line_rows(BomLine.objects.filter(bom_id__in=list(added))))
        self._bom_loaded.update(wanted)

    def load_tree(self, roots: Iterable[int], date: dt.date) -> None:
        """Load everything the BOMs effective on `date` reach from `roots`, level by level."""
        frontier = set(roots)
        seen: set[int] = set()
        while frontier:
            self.load(frontier)
            seen |= frontier
            following: set[int] = set()
            for pk in frontier:
                bom = self.bom_on(pk, date)
                if bom is not None:
                    following.update(line.component_id for line in bom.lines)
            frontier = following - seen

    def load_items(self, product_ids: Iterable[int]) -> None:
        missing = [pk for pk in set(product_ids) if pk not in self.items]
        for chunk in _chunks(missing):
            self._add_items(_item_rows(Product.unscoped.filter(pk__in=chunk), self.company_id))

    def load_routings(self, product_ids: Iterable[int]) -> None:
        """Load the active routing operations (and the work centers) of these products."""
        wanted = [pk for pk in set(product_ids) if pk not in self._routing_loaded]
        self._load_work_centers()
        for chunk in _chunks(wanted):
            self._add_operations(
                RoutingOperation.objects.filter(routing__product_id__in=chunk, routing__active=True)
            )
        self._routing_loaded.update(wanted)

    # reading ---------------------------------------------------------------------------------

    def bom_on(self, product_id: int, date: dt.date) -> BomInfo | None:
        """The active BOM of the product effective on `date` (the newest version if several)."""
        for bom in self.boms.get(product_id, ()):
            if bom.effective_on(date):
                return bom
        return None

    def stock_quantity(self, value: Decimal, uom_id: int, item: ItemInfo) -> Decimal:
        """`value` in unit `uom_id` expressed in the item's stock unit (full precision)."""
        if uom_id == item.uom_id:
            return value
        try:
            return convert(value, self.units[uom_id], self.units[item.uom_id], round_result=False)
        except UnitMismatch as exc:
            raise BomError(_("%(sku)s: %(error)s") % {"sku": item.sku, "error": exc}) from exc

    def quantity_per(self, bom: BomInfo, line: LineInfo) -> Decimal:
        """Component stock units needed per one stock unit of the BOM's product, scrap included."""
        cached = self._quantity_per.get(line.id)
        if cached is not None:
            return cached
        parent = self.items[bom.product_id]
        component = self.items[line.component_id]
        produced = self.stock_quantity(bom.quantity, bom.uom_id, parent)
        needed = self.stock_quantity(line.quantity, line.uom_id, component)
        if line.scrap_percent:
            needed = needed * (ONE + line.scrap_percent / HUNDRED)
        value = needed / produced
        self._quantity_per[line.id] = value
        return value

    def edges(self) -> dict[int, set[int]]:
        """Parent product → component products, over every loaded active BOM (all dates)."""
        graph: dict[int, set[int]] = defaultdict(set)
        for product_id, boms in self.boms.items():
            for bom in boms:
                graph[product_id].update(line.component_id for line in bom.lines)
        return graph

    def topological_order(self, root: int, date: dt.date) -> list[int]:
        """Products reachable from `root` through the BOMs of `date`, parents before children.
        Raises BomError naming the loop should the stored data hold one."""
        order: list[int] = []
        state: dict[int, int] = {}  # 1 = on the current path, 2 = done
        stack: list[tuple[int, Iterable[int]]] = [(root, self._children(root, date))]
        state[root] = 1
        path = [root]
        while stack:
            node, children = stack[-1]
            for child in children:
                if state.get(child) == 1:
                    loop = path[path.index(child) :] + [child]
                    raise BomError(_("The BOMs hold a loop: %(loop)s.") % {"loop": self.loop(loop)})
                if child not in state:
                    state[child] = 1
                    path.append(child)
                    stack.append((child, self._children(child, date)))
                    break
            else:
                stack.pop()
                path.pop()
                state[node] = 2
                order.append(node)
        order.reverse()
        return order

    def _children(self, product_id: int, date: dt.date) -> Iterable[int]:
        bom = self.bom_on(product_id, date)
        return iter([line.component_id for line in bom.lines] if bom else [])

    def loop(self, product_ids: list[int]) -> str:
        return " → ".join(self.items[pk].sku if pk in self.items else str(pk) for pk in product_ids)


# --- explosion --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExplosionRow:
    level: int
    path: tuple[int, ...]  # product ids from the exploded item down to this component
    component: ItemInfo
    bom_id: int  # the parent's BOM this line belongs to
    line_id: int
    quantity_per: Decimal  # component stock units per stock unit of the parent, scrap included
    extended: Decimal  # for the exploded quantity of the top item
    uom: str  # the component's stock unit
    scrap_percent: Decimal
    phantom: bool  # the component's own BOM is a phantom: passed through to its components
    has_bom: bool


@dataclass(frozen=True, slots=True)
class Requirement:
    component: ItemInfo
    quantity: Decimal
    uom: str
    has_bom: bool


@dataclass
class Explosion:
    product: ItemInfo
    quantity: Decimal
    date: dt.date
    bom: BomInfo | None
    rows: list[ExplosionRow]
    totals: list[Requirement]
    truncated: bool = False


def _today() -> dt.date:
    return timezone.localdate()


def bom_explode(
    *,
    product: Product,
    quantity: Decimal = ONE,
    date: dt.date | None = None,
    max_rows: int = 10_000,
    index: BomIndex | None = None,
) -> Explosion:
    """The multi-level explosion of `quantity` (stock unit) of `product` with the BOMs effective
    on `date` (today): one row per BOM line on every path, depth first in line order, and the
    flattened gross requirement per component over all levels (phantom items are passed
    through to their components and not required themselves).

    Loads the tree level by level (three queries per level). Raises BomError for a loop or a
    unit that does not convert. At most `max_rows` rows (then `truncated`; totals stay whole).
    """
    date = date or _today()
    if index is None:
        index = BomIndex(product.company_id)
        index.load_tree([product.pk], date)
    root = index.items[product.pk]
    totals = _requirements(index, product.pk, quantity, date)
    rows: list[ExplosionRow] = []
    truncated = False
    top = index.bom_on(product.pk, date)
    # Depth first, one stack entry per BOM line still to write: a row's subtree follows it.
    Entry = tuple[BomInfo, LineInfo, tuple[int, ...], Decimal, int]
    stack: list[Entry] = (
        [(top, line, (product.pk,), quantity, 1) for line in reversed(top.lines)] if top else []
    )
    while stack:
        if len(rows) >= max_rows:
            truncated = True
            break
        bom, line, parent_path, parent_qty, level = stack.pop()
        if line.component_id in parent_path:
            loop = [*parent_path[parent_path.index(line.component_id) :], line.component_id]
            raise BomError(_("The BOMs hold a loop: %(loop)s.") % {"loop": index.loop(loop)})
        component = index.items[line.component_id]
        child_bom = index.bom_on(line.component_id, date)
        per = index.quantity_per(bom, line)
        extended = parent_qty * per
        path = (*parent_path, line.component_id)
        rows.append(
            ExplosionRow(
                level=level,
                path=path,
                component=component,
                bom_id=bom.id,
                line_id=line.id,
                quantity_per=per,
                extended=extended,
                uom=index.units[component.uom_id].code,
                scrap_percent=line.scrap_percent,
                phantom=bool(child_bom and child_bom.phantom),
                has_bom=child_bom is not None,
            )
        )
        if child_bom is not None:
            stack.extend(
                (child_bom, child, path, extended, level + 1) for child in reversed(child_bom.lines)
            )
    return Explosion(
        product=root,
        quantity=quantity,
        date=date,
        bom=top,
        rows=rows,
        totals=totals,
        truncated=truncated,
    )


def _requirements(
    index: BomIndex, root: int, quantity: Decimal, date: dt.date
) -> list[Requirement]:
    """Gross requirement per component for `quantity` of `root`: accumulated in topological
    order (parents before children), so shared components are summed without walking paths."""
    order = index.topological_order(root, date)
    need: dict[int, Decimal] = defaultdict(Decimal)
    need[root] = quantity
    for pk in order:
        bom = index.bom_on(pk, date)
        if bom is None:
            continue
        amount = need[pk]
        for line in bom.lines:
            need[line.component_id] += amount * index.quantity_per(bom, line)
    result = []
    for pk in order[1:]:
        bom = index.bom_on(pk, date)
        if bom is not None and bom.phantom:
            continue
        item = index.items[pk]
        result.append(
            Requirement(
                component=item,
                quantity=need[pk],
                uom=index.units[item.uom_id].code,
                has_bom=bom is not None,
            )
        )
    result.sort(key=lambda r: r.component.sku)
    return result


def bom_requirements(
    *, product: Product, quantity: Decimal = ONE, date: dt.date | None = None
) -> list[Requirement]:
    """The flattened gross requirement per component (see `bom_explode`), without the rows."""
    date = date or _today()
    index = BomIndex(product.company_id)
    index.load_tree([product.pk], date)
    return _requirements(index, product.pk, quantity, date)


# --- where-used ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WhereUsedRow:
    level: int
    path: tuple[int, ...]  # from the component up to this parent
    parent: ItemInfo
    bom_id: int
    bom_version: int
    phantom: bool
    effective_from: dt.date | None
    effective_to: dt.date | None
    quantity_per: Decimal  # of the component asked about, per stock unit of this parent
    uom: str
    top: bool  # the parent is used in no BOM itself (an end item)


def bom_where_used(
    *, product: Product, date: dt.date | None = None, max_rows: int = 10_000
) -> list[WhereUsedRow]:
    """Where `product` is used, multi-level: every active BOM containing it, then the BOMs
    containing those parents, and so on (only BOMs effective on `date` when given).

    `quantity_per` is the quantity of `product` (its stock unit) needed per one stock unit of
    the row's parent along the row's path. Queries: four per level, never per row."""
    index = BomIndex(product.company_id)
    index.load([product.pk])
    parents_of: dict[int, list[tuple[BomInfo, LineInfo]]] = defaultdict(list)
    frontier = {product.pk}
    seen = {product.pk}
    while frontier:
        bom_ids: set[int] = set()
        for chunk in _chunks(frontier):
            # By component only (the company in SQL would send SQLite down the company index).
            lines = BomLine.objects.filter(component_id__in=chunk, bom__active=True).order_by()
            bom_ids.update(
                bom
                for bom, company in lines.values_list("bom_id", "bom__company_id")
                if company == product.company_id
            )
        parent_ids = set(
            Bom.unscoped.filter(pk__in=bom_ids).order_by().values_list("product_id", flat=True)
        )
        index.load(parent_ids)
        for parent_id in parent_ids:
            for bom in index.boms.get(parent_id, ()):
                if date is not None and not bom.effective_on(date):
                    continue
                for line in bom.lines:
                    if line.component_id in frontier:
                        parents_of[line.component_id].append((bom, line))
        frontier = parent_ids - seen
        seen |= parent_ids
    rows: list[WhereUsedRow] = []
    unit = index.units[index.items[product.pk].uom_id].code

    def entries(child: int, path: tuple[int, ...], per_child: Decimal, level: int) -> list[Any]:
        found = sorted(
            parents_of.get(child, ()),
            key=lambda e: (index.items[e[0].product_id].sku, -e[0].version),
        )
        # A loop in stored data stops there rather than running forever.
        return [
            (bom, line, path, per_child, level)
            for bom, line in reversed(found)
            if bom.product_id not in path
        ]

    stack = entries(product.pk, (product.pk,), ONE, 1)
    while stack and len(rows) < max_rows:
        bom, line, path, per_child, level = stack.pop()
        per = per_child * index.quantity_per(bom, line)
        parent_path = (*path, bom.product_id)
        rows.append(
            WhereUsedRow(
                level=level,
                path=parent_path,
                parent=index.items[bom.product_id],
                bom_id=bom.id,
                bom_version=bom.version,
                phantom=bom.phantom,
                effective_from=bom.effective_from,
                effective_to=bom.effective_to,
                quantity_per=per,
                uom=unit,
                top=not parents_of.get(bom.product_id),
            )
        )
        stack.extend(entries(bom.product_id, parent_path, per, level + 1))
    return rows


# --- cost roll-up -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UnitCost:
    """Cost of one stock unit, split into material, labour and overhead."""

    material: Decimal
    labour: Decimal
    overhead: Decimal

    @property
    def total(self) -> Decimal:
        return self.material + self.labour + self.overhead


@dataclass(frozen=True, slots=True)
class CostLine:
    component: ItemInfo
    quantity_per: Decimal
    uom: str
    unit_cost: Decimal
    extended: Decimal
    rolled_up: bool  # the component's cost comes from its own BOM, not its standard cost
    phantom: bool


@dataclass(frozen=True, slots=True)
class CostOperation:
    sequence: int
    name: str
    work_center: str
    hours: Decimal  # per stock unit, setup amortised over the BOM quantity
    labour: Decimal
    overhead: Decimal


@dataclass(frozen=True, slots=True)
class CostLevel:
    level: int
    material: Decimal
    labour: Decimal
    overhead: Decimal

    @property
    def total(self) -> Decimal:
        return self.material + self.labour + self.overhead


@dataclass
class CostRollup:
    product: ItemInfo
    date: dt.date
    bom: BomInfo | None
    cost: UnitCost
    lines: list[CostLine]
    operations: list[CostOperation]
    levels: list[CostLevel]
    standard_cost: Decimal  # what the product's standard cost is now

    @property
    def total(self) -> Decimal:
        return self.cost.total


class Costing:
    """Roll-up over a `BomIndex`: each product's unit cost is computed once (memoised), children
    before parents. Purchased items (no BOM on the date) cost their standard cost; made items
    cost their components plus their own routing's labour and overhead."""

    def __init__(self, index: BomIndex, date: dt.date) -> None:
        self.index = index
        self.date = date
        self.memo: dict[int, UnitCost] = {}
        self._own: dict[tuple[int, int], tuple[Decimal, Decimal]] = {}

    def operations(self, product_id: int, bom: BomInfo) -> list[CostOperation]:
        index = self.index
        operations = index.routings.get(product_id, ())
        if not operations:
            return []
        lot = index.stock_quantity(bom.quantity, bom.uom_id, index.items[product_id])
        result = []
        for op in operations:
            center = index.work_centers[op.work_center_id]
            hours = (op.run_minutes + op.setup_minutes / lot) / SIXTY
            result.append(
                CostOperation(
                    sequence=op.sequence,
                    name=op.name,
                    work_center=center.code,
                    hours=hours,
                    labour=hours * center.cost_per_hour,
                    overhead=hours * center.overhead_per_hour,
                )
            )
        return result

    def own(self, product_id: int, bom: BomInfo) -> tuple[Decimal, Decimal]:
        """Labour and overhead of the product's own operations, per stock unit (memoised)."""
        key = (product_id, bom.id)
        cached = self._own.get(key)
        if cached is not None:
            return cached
        index = self.index
        labour = overhead = ZERO
        operations = index.routings.get(product_id)
        if operations:
            lot = index.stock_quantity(bom.quantity, bom.uom_id, index.items[product_id])
            for op in operations:
                center = index.work_centers[op.work_center_id]
                hours = (op.run_minutes + op.setup_minutes / lot) / SIXTY
                labour += hours * center.cost_per_hour
                overhead += hours * center.overhead_per_hour
        self._own[key] = (labour, overhead)
        return labour, overhead

    def unit_cost(self, product_id: int, bom: BomInfo | None = None) -> UnitCost:
        """The rolled-up cost of one stock unit (post-order without recursion; raises BomError
        on a loop). `bom` replaces the product's own BOM (the configurator's generated BOM)."""
        if bom is not None:
            for line in bom.lines:
                self.unit_cost(line.component_id)
            return self._combine(product_id, bom, stored=False)
        memo = self.memo
        if product_id in memo:
            return memo[product_id]
        index = self.index
        path: list[int] = []
        stack: list[tuple[int, bool]] = [(product_id, False)]
        while stack:
            pk, children_done = stack.pop()
            if children_done:
                path.pop()
                memo[pk] = self._combine(pk, index.bom_on(pk, self.date), stored=True)  # type: ignore[arg-type]
                continue
            if pk in memo:
                continue
            if pk in path:
                raise BomError(
                    _("The BOMs hold a loop: %(loop)s.")
                    % {"loop": index.loop([*path[path.index(pk) :], pk])}
                )
            own = index.bom_on(pk, self.date)
            if own is None:
                memo[pk] = UnitCost(index.items[pk].standard_cost, ZERO, ZERO)
                continue
            path.append(pk)
            stack.append((pk, True))
            stack.extend((line.component_id, False) for line in own.lines)
        return memo[product_id]

    def _combine(self, product_id: int, bom: BomInfo, *, stored: bool) -> UnitCost:
        index = self.index
        material = labour = overhead = ZERO
        for line in bom.lines:
            per = index.quantity_per(bom, line) if stored else _per(index, bom, line)
            child = self.memo[line.component_id]
            material += per * child.material
            labour += per * child.labour
            overhead += per * child.overhead
        own_labour, own_overhead = self.own(product_id, bom)
        return UnitCost(material, labour + own_labour, overhead + own_overhead)


def _per(index: BomIndex, bom: BomInfo, line: LineInfo) -> Decimal:
    """quantity_per without the cache (for BOMs that are not stored, whose lines have no id)."""
    parent = index.items[bom.product_id]
    component = index.items[line.component_id]
    needed = index.stock_quantity(line.quantity, line.uom_id, component)
    if line.scrap_percent:
        needed = needed * (ONE + line.scrap_percent / HUNDRED)
    return needed / index.stock_quantity(bom.quantity, bom.uom_id, parent)


def _cost_lines(costing: Costing, bom: BomInfo, stored: bool = True) -> list[CostLine]:
    index = costing.index
    lines = []
    for line in bom.lines:
        item = index.items[line.component_id]
        per = index.quantity_per(bom, line) if stored else _per(index, bom, line)
        child_bom = index.bom_on(line.component_id, costing.date)
        unit = costing.unit_cost(line.component_id).total
        lines.append(
            CostLine(
                component=item,
                quantity_per=per,
                uom=index.units[item.uom_id].code,
                unit_cost=unit,
                extended=per * unit,
                rolled_up=child_bom is not None,
                phantom=bool(child_bom and child_bom.phantom),
            )
        )
    return lines


def _cost_levels(
    costing: Costing, product_id: int, bom: BomInfo, stored: bool = True
) -> list[CostLevel]:
    """Where the cost arises, by BOM level: level 0 is the product's own operations; level n
    holds the purchased material and the operations of the made items n levels down
    (quantities accumulated per level, so shared items are not walked path by path)."""
    index = costing.index
    date = costing.date
    labour, overhead = costing.own(product_id, bom)
    levels = [CostLevel(0, ZERO, labour, overhead)]
    current: dict[int, Decimal] = {}
    for line in bom.lines:
        per = index.quantity_per(bom, line) if stored else _per(index, bom, line)
        current[line.component_id] = current.get(line.component_id, ZERO) + per
    level = 1
    while current and level <= 64:
        material = labour = overhead = ZERO
        following: dict[int, Decimal] = {}
        for pk, amount in current.items():
            child_bom = index.bom_on(pk, date)
            if child_bom is None:
                material += amount * index.items[pk].standard_cost
                continue
            own_labour, own_overhead = costing.own(pk, child_bom)
            labour += amount * own_labour
            overhead += amount * own_overhead
            for line in child_bom.lines:
                following[line.component_id] = following.get(
                    line.component_id, ZERO
                ) + amount * index.quantity_per(child_bom, line)
        levels.append(CostLevel(level, material, labour, overhead))
        current = following
        level += 1
    return levels


def bom_cost_rollup(*, product: Product, date: dt.date | None = None) -> CostRollup:
    """The cost of one stock unit of `product` from its BOM effective on `date` (today):
    material (purchased components at standard cost, made ones rolled up), labour (routing run
    time plus setup amortised over the BOM quantity, × work center cost per hour) and overhead
    (the same hours × overhead per hour), with the direct lines, the operations and a per-level
    breakdown. Loads the tree level by level; raises BomError for a loop."""
    date = date or _today()
    index = BomIndex(product.company_id)
    index.load_tree([product.pk], date)
    index.load_routings([pk for pk in index.items if index.bom_on(pk, date) is not None])
    return _rollup(index, product.pk, date)


def _rollup(
    index: BomIndex, product_id: int, date: dt.date, bom: BomInfo | None = None
) -> CostRollup:
    costing = Costing(index, date)
    stored = bom is None
    bom = bom or index.bom_on(product_id, date)
    item = index.items[product_id]
    if bom is None:
        return CostRollup(
            product=item,
            date=date,
            bom=None,
            cost=UnitCost(item.standard_cost, ZERO, ZERO),
            lines=[],
            operations=[],
            levels=[CostLevel(0, item.standard_cost, ZERO, ZERO)],
            standard_cost=item.standard_cost,
        )
    cost = costing.unit_cost(product_id, None if stored else bom)
    return CostRollup(
        product=item,
        date=date,
        bom=bom,
        cost=cost,
        lines=_cost_lines(costing, bom, stored),
        operations=costing.operations(product_id, bom),
        levels=_cost_levels(costing, product_id, bom, stored),
        standard_cost=item.standard_cost,
    )


def bom_cost_rollup_lines(
    *,
    product: Product,
    lines: list[tuple[int, Decimal, int, Decimal]],
    quantity: Decimal = ONE,
    uom_id: int | None = None,
    date: dt.date | None = None,
) -> CostRollup:
    """The roll-up of `product` as if its BOM (making `quantity` in unit `uom_id`) held these
    lines — (component id, quantity, unit id, scrap %) — instead of its own: the configurator's
    generated BOM. Components are costed from their own BOMs; the product's routing adds
    labour and overhead. Raises BomError for a loop or a unit that does not convert."""
    date = date or _today()
    index = BomIndex(product.company_id)
    index.load_items([product.pk])
    index.load_tree([component for component, *_rest in lines], date)
    index.load_routings(
        [product.pk, *(pk for pk in index.items if index.bom_on(pk, date) is not None)]
    )
    bom = BomInfo(
        id=0,
        product_id=product.pk,
        version=0,
        kind=Bom.Kind.NORMAL,
        quantity=quantity,
        uom_id=uom_id or product.uom_id,
        effective_from=None,
        effective_to=None,
        lines=[
            LineInfo(-(i + 1), (i + 1) * 10, component, qty, unit, scrap)
            for i, (component, qty, unit, scrap) in enumerate(lines)
        ],
    )
    for line in bom.lines:
        if line.component_id == product.pk:
            raise BomError(
                _("The BOMs hold a loop: %(loop)s.")
                % {"loop": index.loop([product.pk, product.pk])}
            )
    return _rollup(index, product.pk, date, bom=bom)


def bom_cost_rollup_all(
    *, company: Company, date: dt.date | None = None, index: BomIndex | None = None
) -> dict[int, UnitCost]:
    """The rolled-up unit cost of every product with a BOM effective on `date`, by product id:
    the whole company in a handful of queries, each product computed once."""
    date = date or _today()
    index = index or BomIndex.whole_company(company.pk, costing=True)
    costing = Costing(index, date)
    return {pk: costing.unit_cost(pk) for pk in index.boms if index.bom_on(pk, date) is not None}


@audited
def bom_cost_rollup_apply(
    *,
    company: Company,
    actor: User | None,
    product: Product | None = None,
    date: dt.date | None = None,
) -> list[tuple[Product | int, Decimal, Decimal]]:
    """Write the rolled-up cost as the standard cost of made products: `product` and the made
    items in its BOM tree, or every made product of the company. Each change gets a cost
    history row (CostRecord, kind standard). Returns (product id, old, new) per change.

    Up to 200 changed products go one by one through `services.product_cost_set` (row lock,
    audit entry, cost history); larger roll-ups are one bulk update plus bulk cost-history rows
    (no per-product audit entry: the cost history is their record).
    """
    date = date or _today()
    if product is not None:
        if product.company_id != company.pk:
            raise ValidationError({"product": [_("Choose a product of this company.")]})
        index = BomIndex(company.pk)
        index.load_tree([product.pk], date)
        made = [pk for pk in index.items if index.bom_on(pk, date) is not None]
        index.load_routings(made)
        costing = Costing(index, date)
        try:
            costs = {pk: costing.unit_cost(pk) for pk in made}
        except BomError as exc:
            raise ValidationError({"product": [str(exc)]}) from exc
    else:
        index = BomIndex.whole_company(company.pk, costing=True)
        try:
            costs = bom_cost_rollup_all(company=company, date=date, index=index)
        except BomError as exc:
            raise ValidationError({"product": [str(exc)]}) from exc
    changes = []
    for pk, cost in costs.items():
        new = q6(cost.total)
        old = q6(index.items[pk].standard_cost)
        if new != old:
            changes.append((pk, old, new))
    if not changes:
        return []
    reason = _("BOM cost roll-up")[:120]
    with transaction.atomic():
        if len(changes) <= 200:
            products = Product.unscoped.in_bulk([pk for pk, _old, _new in changes])
            for pk, _old, new in changes:
                product_cost_set(
                    product=products[pk], actor=actor, cost=new, date=date, reason=reason
                )
        else:
            _write_column(Product, "standard_cost", [(new, pk) for pk, _old, new in changes])
            CostRecord.unscoped.bulk_create(
                [
                    CostRecord(
                        company=company,
                        product_id=pk,
                        kind=CostRecord.Kind.STANDARD,
                        date=date,
                        cost=new,
                        reason=reason,
                    )
                    for pk, _old, new in changes
                ],
                batch_size=1000,
            )
    return changes


# --- low-level codes --------------------------------------------------------------------------


def _all_edges(company_id: int, *, exclude_bom: int | None = None) -> dict[int, set[int]]:
    """Parent → components over every active BOM of the company (all versions): one query."""
    lines = BomLine.objects.filter(bom__company_id=company_id, bom__active=True)
    if exclude_bom is not None:
        lines = lines.exclude(bom_id=exclude_bom)
    graph: dict[int, set[int]] = defaultdict(set)
    for parent, component in lines.values_list("bom__product_id", "component_id"):
        graph[parent].add(component)
    return graph


def low_level_codes(graph: dict[int, set[int]]) -> dict[int, int]:
    """The deepest level at which each product of the graph appears (0 for top items): the
    longest path from any root, by Kahn's algorithm over the edges."""
    indegree: dict[int, int] = defaultdict(int)
    for parent, children in graph.items():
        indegree.setdefault(parent, 0)
        for child in children:
            indegree[child] += 1
    codes = dict.fromkeys(indegree, 0)
    ready = [pk for pk, count in indegree.items() if count == 0]
    while ready:
        parent = ready.pop()
        level = codes[parent] + 1
        for child in graph.get(parent, ()):
            if codes[child] < level:
                codes[child] = level
            indegree[child] -= 1
            if indegree[child] == 0:
                ready.append(child)
    return codes


def low_level_codes_update(*, company: Company, graph: dict[int, set[int]] | None = None) -> int:
    """Recompute every product's low-level code from the company's active BOMs and write the
    ones that changed (bulk). Returns how many changed. A derived, non-editable field: no
    audit entries."""
    graph = _all_edges(company.pk) if graph is None else graph
    codes = low_level_codes(graph)
    by_code: dict[int, list[int]] = defaultdict(list)
    for pk, current in Product.unscoped.filter(company=company).values_list("pk", "low_level_code"):
        if codes.get(pk, 0) != current:
            by_code[codes.get(pk, 0)].append(pk)
    # A handful of distinct codes: one UPDATE per code (and 500 ids), not one per product.
    for code, pks in by_code.items():
        for chunk in _chunks(pks):
            Product.unscoped.filter(pk__in=chunk).update(low_level_code=code)
    return sum(len(pks) for pks in by_code.values())


def _write_column(model: Any, column: str, values: list[tuple[Any, int]]) -> None:
    """`UPDATE … SET column = value WHERE pk = …` for many rows: one statement per 1,000 rows
    on PostgreSQL (`UPDATE … FROM (VALUES …)`), one executemany on SQLite. Django's
    bulk_update builds a CASE expression per row, which costs seconds for 10,000s of rows."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    meta = model._meta
    field_ = meta.get_field(column)
    table, target, pk = quote(meta.db_table), quote(field_.column), quote(meta.pk.column)
    rows = [(field_.get_db_prep_save(value, connection), key) for value, key in values]
    # Only quoted identifiers of the model's own table go into the SQL; values are parameters.
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cast = field_.db_type(connection)
            for start in range(0, len(rows), 1000):
                chunk = rows[start : start + 1000]
                placeholders = ", ".join(["(%s, %s)"] * len(chunk))
                cursor.execute(
                    f"UPDATE {table} SET {target} = v.value::{cast} "  # noqa: S608
                    f"FROM (VALUES {placeholders}) AS v(value, key) WHERE {table}.{pk} = v.key",
                    [item for row in chunk for item in row],
                )
        else:
            cursor.executemany(
                f"UPDATE {table} SET {target} = %s WHERE {pk} = %s",  # noqa: S608
                rows,
            )


def find_loop(
    graph: dict[int, set[int]], parent: int, components: Iterable[int]
) -> list[int] | None:
    """A path parent → component → … → parent if adding these edges closes a loop, else None."""
    for start in components:
        if start == parent:
            return [parent, parent]
        # Depth-first search from the component back to the parent, remembering the way.
        previous: dict[int, int] = {start: parent}
        stack = [start]
        while stack:
            node = stack.pop()
            for child in graph.get(node, ()):
                if child in previous:
                    continue
                previous[child] = node
                if child == parent:
                    path = [parent]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    path.append(parent)
                    path.reverse()
                    return path
                stack.append(child)
    return None


# --- BOM writes -------------------------------------------------------------------------------

BOM_FIELDS = {"kind", "quantity", "uom", "effective_from", "effective_to", "active", "version"}


def _unit_of(value: Any) -> UnitOfMeasure | None:
    if value is None or value == "":
        return None
    if isinstance(value, UnitOfMeasure):
        return value
    lookup = {"pk": value} if isinstance(value, int) else {"code": str(value)}
    return UnitOfMeasure.objects.filter(**lookup).select_related("category").first()


def _product_id(value: Any) -> int | None:
    if isinstance(value, Product):
        return value.pk
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except ArithmeticError:
            return None
    return None


def describe_lines(lines: Iterable[BomLine], skus: dict[int, str], units: dict[int, str]) -> str:
    return "; ".join(
        f"{skus.get(line.component_id, line.component_id)} × "
        f"{line.quantity.normalize():f} {units.get(line.uom_id, '')}"
        + (f" (+{line.scrap_percent.normalize():f}%)" if line.scrap_percent else "")
        for line in lines
    )


def _audit_note(obj: Any, label: str, before: str, after: str) -> None:
    """An audit entry on `obj` for a change of its child rows (lines, operations)."""
    if before != after:
        AuditEntry.objects.log_create(
            obj, action=AuditEntry.Action.UPDATE, changes={label: [before, after]}
        )


def _validate_lines(
    *, company: Company, product: Product, lines: list[dict[str, Any]]
) -> tuple[list[BomLine], dict[str, list[str]]]:
    """BomLine rows (unsaved, without `bom`) for the given line dicts, and the field errors,
    keyed `lines.<index>.<field>` (0-based, like the API's request body)."""
    errors: dict[str, list[str]] = {}

    def error(i: int, name: str, message: str) -> None:
        errors.setdefault(f"lines.{i}.{name}", []).append(message)

    if not lines:
        errors["lines"] = [_("A BOM needs at least one component line.")]
        return [], errors
    wanted = {pk for line in lines if (pk := _product_id(line.get("component"))) is not None}
    components = {
        p.pk: p
        for p in Product.unscoped.filter(company=company, pk__in=wanted).select_related(
            "uom__category"
        )
    }
    rows = []
    for i, data in enumerate(lines):
        unknown = set(data) - {"component", "quantity", "uom", "scrap_percent", "sequence"}
        for name in sorted(unknown):
            error(i, name, _("Unknown field."))
        pk = _product_id(data.get("component"))
        component = components.get(pk) if pk is not None else None
        if component is None:
            error(i, "component", _("Choose a product of this company."))
        elif component.pk == product.pk:
            error(i, "component", _("A product cannot be a component of itself."))
        quantity = _decimal(data.get("quantity"))
        if quantity is None or not quantity.is_finite():
            error(i, "quantity", _("Enter a number."))
        elif quantity <= 0:
            error(i, "quantity", _("The quantity must be greater than zero."))
        scrap = _decimal(data.get("scrap_percent", 0) or 0)
        if scrap is None or not scrap.is_finite():
            error(i, "scrap_percent", _("Enter a number."))
        elif not ZERO <= scrap < HUNDRED:
            error(i, "scrap_percent", _("Scrap must be at least 0 % and below 100 %."))
        uom = _unit_of(data.get("uom"))
        if data.get("uom") not in (None, "") and uom is None:
            error(i, "uom", _("Unknown unit."))
        if component is not None and uom is None and data.get("uom") in (None, ""):
            uom = component.uom
        if (
            component is not None
            and uom is not None
            and uom.category_id != component.uom.category_id
        ):
            error(
                i,
                "uom",
                _("%(unit)s does not measure the same thing as %(sku)s's stock unit %(stock)s.")
                % {"unit": uom.code, "sku": component.sku, "stock": component.uom.code},
            )
        sequence = data.get("sequence")
        if sequence in (None, ""):
            sequence = (i + 1) * 10
        elif not isinstance(sequence, int) or sequence < 0:
            error(i, "sequence", _("Enter a whole number of at least 0."))
            sequence = 0
        if any(key.startswith(f"lines.{i}.") for key in errors):
            continue
        assert component is not None and quantity is not None and uom is not None
        row = BomLine(
            sequence=sequence,
            component=component,
            quantity=quantity,
            uom=uom,
            scrap_percent=scrap,
        )
        try:  # the model's own checks: the digits and decimals fit the columns
            row.full_clean(exclude=["bom", "component", "uom"])
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                for message in messages:
                    error(i, name, message)
        row.input_index = i  # type: ignore[attr-defined]  # where a loop error goes
        rows.append(row)
    return rows, errors


def _validate_header(
    *, company: Company, product: Product, bom: Bom, errors: dict[str, list[str]]
) -> None:
    if product.company_id != company.pk:
        errors.setdefault("product", []).append(_("Choose a product of this company."))
        return
    if bom.kind not in Bom.Kind.values:
        errors.setdefault("kind", []).append(_("Choose a valid kind."))
    if not isinstance(bom.quantity, Decimal) or not bom.quantity.is_finite():
        errors.setdefault("quantity", []).append(_("Enter a number."))
    elif bom.quantity <= 0:
        errors.setdefault("quantity", []).append(_("The quantity must be greater than zero."))
    if bom.uom_id is None:
        errors.setdefault("uom", []).append(_("Unknown unit."))
    elif bom.uom.category_id != product.uom.category_id:
        errors.setdefault("uom", []).append(
            _("%(unit)s does not measure the same thing as %(sku)s's stock unit %(stock)s.")
            % {"unit": bom.uom.code, "sku": product.sku, "stock": product.uom.code}
        )
    if bom.effective_from and bom.effective_to and bom.effective_from > bom.effective_to:
        errors.setdefault("effective_to", []).append(
            _("The end of the effective range must not be before its start.")
        )
    if bom.version is None or not isinstance(bom.version, int) or bom.version < 1:
        errors.setdefault("version", []).append(_("Enter a whole number of at least 1."))
    elif Bom.unscoped.filter(product=product, version=bom.version).exclude(pk=bom.pk).exists():
        errors.setdefault("version", []).append(
            _("Version %(version)s of this product's BOM exists already.")
            % {"version": bom.version}
        )
    if bom.active and "effective_to" not in errors:
        for other in Bom.unscoped.filter(product=product, active=True).exclude(pk=bom.pk):
            if (
                bom.effective_from is None
                or other.effective_to is None
                or bom.effective_from <= other.effective_to
            ) and (
                other.effective_from is None
                or bom.effective_to is None
                or other.effective_from <= bom.effective_to
            ):
                errors.setdefault("effective_from", []).append(
                    _(
                        "Version %(version)s of this product's BOM is active %(range)s; the "
                        "effective ranges of active BOMs must not overlap."
                    )
                    % {"version": other.version, "range": date_range_text(other)}
                )
                break
    try:
        bom.full_clean(
            exclude=["company", "product", "uom", "quantity", "version", "kind"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)


def date_range_text(bom: Bom | BomInfo) -> str:
    """ "from 2026-01-01 to 2026-06-30", "from 2026-07-01 on", "until …" or "at all times"."""
    start, end = bom.effective_from, bom.effective_to
    if start and end:
        return _("from %(start)s to %(end)s") % {"start": start, "end": end}
    if start:
        return _("from %(start)s on") % {"start": start}
    if end:
        return _("until %(end)s") % {"end": end}
    return _("at all times")


def _check_loop(
    *, company: Company, bom: Bom, rows: list[BomLine], errors: dict[str, list[str]]
) -> dict[int, set[int]]:
    """The company's BOM graph with this BOM's new lines; a loop is a field error on the line
    that closes it, naming the loop with SKUs."""
    graph = _all_edges(company.pk, exclude_bom=bom.pk)
    if not bom.active:
        return graph
    for position, row in enumerate(rows):
        loop = find_loop(graph, bom.product_id, [row.component_id])
        if loop and loop[0] != loop[1]:
            skus = dict(Product.unscoped.filter(pk__in=set(loop)).values_list("pk", "sku"))
            index = getattr(row, "input_index", position)
            errors.setdefault(f"lines.{index}.component", []).append(
                _("This line would make the BOMs loop: %(loop)s.")
                % {"loop": " → ".join(skus[pk] for pk in loop)}
            )
    for row in rows:
        graph[bom.product_id].add(row.component_id)
    return graph


def _save_lines(bom: Bom, rows: list[BomLine], *, replace: bool) -> None:
    units = dict(UnitOfMeasure.objects.values_list("pk", "code"))
    before = ""
    if replace:
        old = list(bom.lines.select_related("component"))
        before = describe_lines(old, {line.component_id: line.component.sku for line in old}, units)
        bom.lines.all().delete()
    for row in rows:
        row.bom = bom
    BomLine.objects.bulk_create(rows)
    after = describe_lines(rows, {row.component_id: row.component.sku for row in rows}, units)
    _audit_note(bom, "BOM lines", before, after)


def lock_bom_graph(company: Company) -> None:
    """Serialise the company's BOM writes: the loop check and the low-level codes read the
    whole graph, so two concurrent writes could each add half of a loop. Locks the company row
    (PostgreSQL; SQLite's immediate transactions run one writer at a time anyway)."""
    list(Company.objects.select_for_update().filter(pk=company.pk).values_list("pk", flat=True))


def _lines_or_error(rows: list[BomLine], errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


@audited
def bom_create(
    *,
    company: Company,
    actor: User | None,
    product: Product,
    lines: list[dict[str, Any]],
    kind: str = Bom.Kind.NORMAL,
    quantity: Decimal = ONE,
    uom: Any = None,
    version: int | None = None,
    effective_from: dt.date | None = None,
    effective_to: dt.date | None = None,
    active: bool = True,
) -> Bom:
    """Create a BOM of `product` with its lines (dicts: `component` (Product or id),
    `quantity`, `uom` (unit, id or code; default the component's stock unit), `scrap_percent`,
    `sequence`). The version defaults to the next free number.

    Refuses (ValidationError, nothing written): another company's product or component, a
    component equal to the product, a non-positive quantity, a unit of another category than
    the component's stock unit, an effective range overlapping another active BOM of the
    product, and a loop in the company's BOM graph (named with SKUs). Recomputes the low-level
    codes. Locks the company's BOM graph (`lock_bom_graph`) for the transaction."""
    errors: dict[str, list[str]] = {}
    if product.company_id != company.pk:
        raise ValidationError({"product": [_("Choose a product of this company.")]})
    if version is None:
        last = Bom.unscoped.filter(product=product).order_by("-version").first()
        version = last.version + 1 if last else 1
    unit = _unit_of(uom) if uom not in (None, "") else product.uom
    if uom not in (None, "") and unit is None:
        errors["uom"] = [_("Unknown unit.")]
    bom = Bom(
        company=company,
        product=product,
        version=version,
        kind=kind,
        quantity=_decimal(quantity) if not isinstance(quantity, Decimal) else quantity,
        uom=unit,
        effective_from=effective_from,
        effective_to=effective_to,
        active=active,
    )
    if unit is None:
        bom.uom_id = None
    _validate_header(company=company, product=product, bom=bom, errors=errors)
    rows, line_errors = _validate_lines(company=company, product=product, lines=lines)
    errors.update(line_errors)
    with transaction.atomic():
        lock_bom_graph(company)
        graph = _check_loop(company=company, bom=bom, rows=rows, errors=errors)
        _lines_or_error(rows, errors)
        bom.save()
        _save_lines(bom, rows, replace=False)
        low_level_codes_update(company=company, graph=graph)
    return bom


@audited
def bom_update(
    *, bom: Bom, actor: User | None, lines: list[dict[str, Any]] | None = None, **fields: Any
) -> Bom:
    """Change a BOM's header (`kind`, `quantity`, `uom`, `effective_from`, `effective_to`,
    `active`, `version`) and, when `lines` is given, replace all its lines. Same checks as
    `bom_create`; the low-level codes are recomputed. Locks the company's BOM graph, then the
    BOM row (header before lines)."""
    for name in fields:
        if name not in BOM_FIELDS:
            raise ValidationError({name: [_("This field cannot be changed.")]})
    company = bom.company
    errors: dict[str, list[str]] = {}
    with transaction.atomic():
        lock_bom_graph(company)
        bom = Bom.unscoped.select_for_update().select_related("product__uom").get(pk=bom.pk)
        product = bom.product
        for name, value in fields.items():
            if name == "uom":
                unit = _unit_of(value)
                if unit is None:
                    errors["uom"] = [_("Unknown unit.")]
                    continue
                bom.uom = unit
            elif name == "quantity":
                bom.quantity = _decimal(value)  # type: ignore[assignment]
            else:
                setattr(bom, name, value)
        _validate_header(company=company, product=product, bom=bom, errors=errors)
        if lines is not None:
            rows, line_errors = _validate_lines(company=company, product=product, lines=lines)
            errors.update(line_errors)
        else:
            rows = list(bom.lines.select_related("component"))
        graph = _check_loop(company=company, bom=bom, rows=rows, errors=errors)
        _lines_or_error(rows, errors)
        bom.save()
        if lines is not None:
            _save_lines(bom, rows, replace=True)
        low_level_codes_update(company=company, graph=graph)
    return bom


@audited
def bom_archive(*, bom: Bom, actor: User | None) -> Bom:
    """Deactivate a BOM (kept for history; no longer exploded or costed) and recompute the
    low-level codes."""
    with transaction.atomic():
        lock_bom_graph(bom.company)
        bom = Bom.unscoped.select_for_update().get(pk=bom.pk)
        if bom.active:
            bom.active = False
            bom.save(update_fields=["active"])
        low_level_codes_update(company=bom.company)
    return bom


def bom_line_dicts(bom: Bom) -> list[dict[str, Any]]:
    """The lines of `bom` as the dicts `bom_create`/`bom_update` take (to copy a BOM)."""
    return [
        {
            "component": line.component_id,
            "quantity": line.quantity,
            "uom": line.uom_id,
            "scrap_percent": line.scrap_percent,
            "sequence": line.sequence,
        }
        for line in bom.lines.all()
    ]


def boms_of_product(*, product: Product) -> list[Bom]:
    """Every BOM of the product (all versions, archived too), newest version first."""
    return list(Bom.unscoped.filter(product=product).select_related("uom").order_by("-version"))


def bom_effective(*, product: Product, date: dt.date | None = None) -> Bom | None:
    """The product's active BOM effective on `date` (today), newest version first."""
    date = date or _today()
    for bom in Bom.unscoped.filter(product=product, active=True).order_by("-version"):
        if (bom.effective_from is None or bom.effective_from <= date) and (
            bom.effective_to is None or date <= bom.effective_to
        ):
            return bom
    return None


# --- work centers -------------------------------------------------------------------------------

WORK_CENTER_FIELDS = {
    "code",
    "name",
    "working_days",
    "hours_per_day",
    "units",
    "efficiency_percent",
    "cost_per_hour",
    "overhead_per_hour",
    "holidays",
    "active",
}


def _work_center_validate(center: WorkCenter, errors: dict[str, list[str]]) -> None:
    days = center.working_days
    if not isinstance(days, list) or any(
        not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 7 for d in days
    ):
        errors.setdefault("working_days", []).append(
            _("Working days are ISO weekdays from 1 (Monday) to 7 (Sunday).")
        )
    else:
        center.working_days = sorted(set(days))
    holidays = center.holidays
    parsed = []
    if not isinstance(holidays, list):
        holidays = []
        errors.setdefault("holidays", []).append(_("Enter a list of dates."))
    for value in holidays:
        try:
            parsed.append(
                value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
            )
        except ValueError:
            errors.setdefault("holidays", []).append(
                _("“%(value)s” is not a date (YYYY-MM-DD).") % {"value": value}
            )
    center.holidays = sorted({d.isoformat() for d in parsed})
    for name in ("cost_per_hour", "overhead_per_hour"):
        value = getattr(center, name)
        if isinstance(value, Decimal) and value < 0:
            errors.setdefault(name, []).append(_("Enter an amount of at least 0."))
    if isinstance(center.units, int) and center.units < 1:
        errors.setdefault("units", []).append(_("Enter a whole number of at least 1."))
    try:
        center.full_clean(exclude=["company", *errors], validate_unique=False)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            errors.setdefault(name, []).extend(messages)
    if (
        center.code
        and WorkCenter.unscoped.filter(company_id=center.company_id, code=center.code)
        .exclude(pk=center.pk)
        .exists()
    ):
        errors.setdefault("code", []).append(_("Another work center has this code."))
    if errors:
        raise ValidationError(errors)


@audited
def work_center_create(
    *,
    company: Company,
    actor: User | None,
    code: str,
    name: str,
    working_days: list[int] | None = None,
    hours_per_day: Decimal = Decimal(8),
    units: int = 1,
    efficiency_percent: Decimal = HUNDRED,
    cost_per_hour: Decimal = ZERO,
    overhead_per_hour: Decimal = ZERO,
    holidays: list[Any] | None = None,
    active: bool = True,
) -> WorkCenter:
    """Create a work center. Capacity per working day = hours × parallel units × efficiency;
    `holidays` are closed dates. Raises ValidationError and then writes nothing."""
    center = WorkCenter(
        company=company,
        code=(code or "").strip(),
        name=(name or "").strip(),
        working_days=[1, 2, 3, 4, 5] if working_days is None else working_days,
        hours_per_day=hours_per_day,
        units=units,
        efficiency_percent=efficiency_percent,
        cost_per_hour=cost_per_hour,
        overhead_per_hour=overhead_per_hour,
        holidays=holidays or [],
        active=active,
    )
    _work_center_validate(center, {})
    with transaction.atomic():
        center.save()
    return center


@audited
def work_center_update(*, work_center: WorkCenter, actor: User | None, **fields: Any) -> WorkCenter:
    """Change a work center's fields (see `work_center_create`). Raises ValidationError."""
    for name in fields:
        if name not in WORK_CENTER_FIELDS:
            raise ValidationError({name: [_("This field cannot be changed.")]})
    errors: dict[str, list[str]] = {}
    if fields.get("active") is False:
        _work_center_unused(work_center, errors)
    with transaction.atomic():
        center = WorkCenter.unscoped.select_for_update().get(pk=work_center.pk)
        for name, value in fields.items():
            setattr(center, name, value.strip() if isinstance(value, str) else value)
        _work_center_validate(center, errors)
        center.save()
    return center


def _work_center_unused(center: WorkCenter, errors: dict[str, list[str]]) -> None:
    names = list(
        Routing.unscoped.filter(active=True, operations__work_center=center)
        .distinct()
        .values_list("name", flat=True)[:5]
    )
    if names:
        errors.setdefault("active", []).append(
            _("Active routings use this work center: %(names)s.") % {"names": ", ".join(names)}
        )


@audited
def work_center_archive(*, work_center: WorkCenter, actor: User | None) -> WorkCenter:
    """Deactivate a work center; refused while an active routing uses it."""
    return work_center_update(work_center=work_center, actor=actor, active=False)


@dataclass(frozen=True, slots=True)
class CapacityDay:
    date: dt.date
    hours: Decimal
    working: bool


@dataclass
class Capacity:
    work_center: WorkCenter
    date_from: dt.date
    date_to: dt.date
    days: list[CapacityDay]

    @property
    def total(self) -> Decimal:
        return sum((d.hours for d in self.days), ZERO)

    @property
    def per_working_day(self) -> Decimal:
        return work_center_daily_hours(self.work_center)


def work_center_daily_hours(center: WorkCenter) -> Decimal:
    """Available hours on one working day: hours × parallel units × efficiency."""
    return center.hours_per_day * center.units * center.efficiency_percent / HUNDRED


def work_center_capacity(
    *, work_center: WorkCenter, date_from: dt.date, date_to: dt.date
) -> Capacity:
    """Hours available at the work center on each date of the range (inclusive): the daily
    hours on its working weekdays, nothing on closed dates. Raises ValidationError for a
    reversed or over-long (> 3 years) range."""
    if date_to < date_from:
        raise ValidationError({"date_to": [_("The range ends before it starts.")]})
    if (date_to - date_from).days > 3 * 366:
        raise ValidationError({"date_to": [_("Ask for at most three years at a time.")]})
    daily = work_center_daily_hours(work_center)
    weekdays = set(work_center.working_days or [])
    closed = set(work_center.holidays or [])
    days = []
    day = date_from
    while day <= date_to:
        working = day.isoweekday() in weekdays and day.isoformat() not in closed
        days.append(CapacityDay(day, daily if working else ZERO, working))
        day += dt.timedelta(days=1)
    return Capacity(work_center, date_from, date_to, days)


# --- routings -----------------------------------------------------------------------------------


def _validate_operations(
    *, company: Company, operations: list[dict[str, Any]]
) -> tuple[list[RoutingOperation], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}

    def error(i: int, name: str, message: str) -> None:
        errors.setdefault(f"operations.{i}.{name}", []).append(message)

    if not operations:
        return [], {"operations": [_("A routing needs at least one operation.")]}
    centers = {c.pk: c for c in WorkCenter.unscoped.filter(company=company)}
    by_code = {c.code: c for c in centers.values()}
    rows = []
    for i, data in enumerate(operations):
        for name in sorted(
            set(data) - {"sequence", "name", "work_center", "setup_minutes", "run_minutes"}
        ):
            error(i, name, _("Unknown field."))
        value = data.get("work_center")
        if isinstance(value, WorkCenter):
            center = centers.get(value.pk)
        elif isinstance(value, int):
            center = centers.get(value)
        else:
            center = by_code.get(str(value or ""))
        if center is None:
            error(i, "work_center", _("Choose a work center of this company."))
        elif not center.active:
            error(i, "work_center", _("This work center is archived."))
        name = str(data.get("name") or "").strip()
        if not name:
            error(i, "name", _("Name the operation."))
        minutes = {}
        for key in ("setup_minutes", "run_minutes"):
            number = _decimal(data.get(key, 0) if data.get(key) not in (None, "") else 0)
            if number is None or not number.is_finite():
                error(i, key, _("Enter a number."))
            elif number < 0:
                error(i, key, _("Enter a time of at least 0 minutes."))
            minutes[key] = number
        sequence = data.get("sequence")
        if sequence in (None, ""):
            sequence = (i + 1) * 10
        elif not isinstance(sequence, int) or sequence < 0:
            error(i, "sequence", _("Enter a whole number of at least 0."))
            sequence = 0
        row = RoutingOperation(
            sequence=sequence,
            name=name,
            work_center=center,
            setup_minutes=minutes["setup_minutes"],
            run_minutes=minutes["run_minutes"],
        )
        if not any(k.startswith(f"operations.{i}.") for k in errors):
            try:
                row.full_clean(exclude=["routing", "work_center"])
            except ValidationError as exc:
                for key, messages in exc.message_dict.items():
                    for message in messages:
                        error(i, key, message)
        rows.append(row)
    return rows, errors


def _routing_validate(routing: Routing, errors: dict[str, list[str]]) -> None:
    if not routing.name.strip():
        errors.setdefault("name", []).append(_("Name the routing."))
    if routing.product.company_id != routing.company_id:
        errors.setdefault("product", []).append(_("Choose a product of this company."))
    elif (
        routing.active
        and Routing.unscoped.filter(product_id=routing.product_id, active=True)
        .exclude(pk=routing.pk)
        .exists()
    ):
        errors.setdefault("active", []).append(
            _("%(sku)s has an active routing already; archive it first.")
            % {"sku": routing.product.sku}
        )


def describe_operations(rows: Iterable[RoutingOperation], codes: dict[int, str]) -> str:
    return "; ".join(
        f"{op.sequence} {op.name} @{codes.get(op.work_center_id, op.work_center_id)} "
        f"{op.setup_minutes.normalize():f}+{op.run_minutes.normalize():f} min"
        for op in rows
    )


def _save_operations(routing: Routing, rows: list[RoutingOperation], *, replace: bool) -> None:
    codes = dict(
        WorkCenter.unscoped.filter(company_id=routing.company_id).values_list("pk", "code")
    )
    before = ""
    if replace:
        before = describe_operations(routing.operations.all(), codes)
        routing.operations.all().delete()
    for row in rows:
        row.routing = routing
    RoutingOperation.objects.bulk_create(rows)
    _audit_note(routing, "Operations", before, describe_operations(rows, codes))


@audited
def routing_create(
    *,
    company: Company,
    actor: User | None,
    product: Product,
    name: str,
    operations: list[dict[str, Any]],
    active: bool = True,
) -> Routing:
    """Create a routing of `product` with its operations (dicts: `sequence`, `name`,
    `work_center` (WorkCenter, id or code), `setup_minutes`, `run_minutes` per unit). A product
    has at most one active routing. Raises ValidationError and then writes nothing."""
    routing = Routing(company=company, product=product, name=(name or "").strip(), active=active)
    errors: dict[str, list[str]] = {}
    _routing_validate(routing, errors)
    rows, op_errors = _validate_operations(company=company, operations=operations)
    errors.update(op_errors)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        routing.save()
        _save_operations(routing, rows, replace=False)
    return routing


@audited
def routing_update(
    *,
    routing: Routing,
    actor: User | None,
    operations: list[dict[str, Any]] | None = None,
    **fields: Any,
) -> Routing:
    """Change a routing's `name`/`active` and, when `operations` is given, replace them all."""
    for name in fields:
        if name not in {"name", "active"}:
            raise ValidationError({name: [_("This field cannot be changed.")]})
    errors: dict[str, list[str]] = {}
    with transaction.atomic():
        routing = Routing.unscoped.select_for_update().select_related("product").get(pk=routing.pk)
        for name, value in fields.items():
            setattr(routing, name, value.strip() if isinstance(value, str) else value)
        _routing_validate(routing, errors)
        rows: list[RoutingOperation] = []
        if operations is not None:
            rows, op_errors = _validate_operations(company=routing.company, operations=operations)
            errors.update(op_errors)
        if errors:
            raise ValidationError(errors)
        routing.save()
        if operations is not None:
            _save_operations(routing, rows, replace=True)
    return routing


@audited
def routing_archive(*, routing: Routing, actor: User | None) -> Routing:
    """Deactivate a routing (no longer used by roll-ups or capacity planning)."""
    return routing_update(routing=routing, actor=actor, active=False)


def routing_operation_dicts(routing: Routing) -> list[dict[str, Any]]:
    return [
        {
            "sequence": op.sequence,
            "name": op.name,
            "work_center": op.work_center_id,
            "setup_minutes": op.setup_minutes,
            "run_minutes": op.run_minutes,
        }
        for op in routing.operations.all()
    ]


def routing_hours(*, routing: Routing, quantity: Decimal) -> dict[int, Decimal]:
    """Hours per work center to make `quantity` (stock unit) in one run: setup + run × qty."""
    hours: dict[int, Decimal] = defaultdict(Decimal)
    for op in routing.operations.all():
        hours[op.work_center_id] += (op.setup_minutes + op.run_minutes * quantity) / SIXTY
    return dict(hours)


# --- audit registration -------------------------------------------------------------------------

# django-auditlog would also list reverse relations (a BOM's `lines`) as changed fields, which
# the history tab cannot label; line and operation changes get their own entries instead.
auditlog.register(Bom, exclude_fields=["lines"])
auditlog.register(WorkCenter, exclude_fields=["operations"])
auditlog.register(Routing, exclude_fields=["operations"])
auditlog.register(ConfiguredItem, m2m_fields={"options"}, exclude_fields=["bom"])
