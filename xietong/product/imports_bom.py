"""Import and export of bills of materials (one row per BOM line) and routings (one row per
operation), as `xietong.core.imports` specs.

A BOM is identified by its product's SKU and its version, a routing by its product's SKU and
its name. The header columns (kind, quantity, unit, effective range, active) repeat on every
row of a BOM and must agree; the rows of one BOM follow each other. Each BOM or routing named in
the file is created, or replaced whole by the file's lines (one whose header and lines already
equal the file's is left alone, so importing an export changes nothing); BOMs and routings not
in the file are not touched.

The checks are those of the services in `xietong.product.bom`, done for a whole file at once:
rows are checked against lookups loaded once (no query per row), and what needs the whole file
— loops in the resulting BOM graph, overlapping effective ranges of a product's active versions,
more than one active routing per product — is checked by `check_all`, and again under the BOM
graph's lock when saving (the data may have changed while the job waited). Saving is bulk work:
a few statements per 1,000 rows, audit entries written in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Generic, NamedTuple, TypeVar

from auditlog.cid import get_cid
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core import bulkwrite, imports, jobs
from xietong.core.audit import audit_bulk
from xietong.core.imports import Cells, Column
from xietong.core.models import AuditEntry, Company, UnitOfMeasure, User
from xietong.product.bom import (
    _number,
    _plain,
    date_range_text,
    describe_lines,
    describe_operations,
    lock_bom_graph,
    low_level_codes_update,
)
from xietong.product.models import Bom, BomLine, Product, Routing, RoutingOperation, WorkCenter

BATCH = 1000  # rows per INSERT
CHUNK = 500  # ids per IN (…): well under SQLite's and PostgreSQL's parameter limits
ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)
MAX_SEQUENCE = 2_147_483_647  # PositiveIntegerField

T = TypeVar("T")

# Labels of unknown-value messages, translated only when a message is written (not per row).
PRODUCT = gettext_lazy("product")
UNIT = gettext_lazy("unit")
WORK_CENTER = gettext_lazy("work center")


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# --- lookups and cells shared by both specs -------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Item:
    id: int
    sku: str
    uom_id: int


@dataclass(frozen=True, slots=True)
class _Unit:
    id: int
    code: str
    category_id: int


@dataclass(frozen=True, slots=True)
class _Center:
    id: int
    code: str
    active: bool


@dataclass
class _Codes(Generic[T]):
    """Objects by code: the exact code first, else the lower-cased one when no other code
    folds to it (SKUs and work center codes are case-sensitive in the database)."""

    exact: dict[str, T]
    folded: dict[str, T]

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, T]]) -> _Codes[T]:
        exact: dict[str, T] = {}
        folded: dict[str, list[T]] = defaultdict(list)
        for code, obj in pairs:
            exact[code] = obj
            folded[code.lower()].append(obj)
        return cls(exact, {key: objs[0] for key, objs in folded.items() if len(objs) == 1})

    def find(
        self, cells: Cells, name: str, *, label: str | Promise, required: bool = False
    ) -> T | None:
        found = self.exact.get(cells.values.get(name, "").strip())
        if found is not None:
            return found
        return cells.lookup(name, self.folded, label=label, required=required)


def _items(company: Company) -> tuple[_Codes[_Item], dict[int, _Item]]:
    rows = Product.unscoped.filter(company=company).order_by().values_list("pk", "sku", "uom_id")
    by_id = {pk: _Item(pk, sku, uom) for pk, sku, uom in rows}
    return _Codes.of((item.sku, item) for item in by_id.values()), by_id


def _units() -> tuple[dict[str, _Unit], dict[int, _Unit]]:
    by_id = {
        pk: _Unit(pk, code, category)
        for pk, code, category in UnitOfMeasure.objects.values_list("pk", "code", "category_id")
    }
    return {unit.code.lower(): unit for unit in by_id.values()}, by_id


def _fits(cells: Cells, name: str, value: Decimal | None, model: Any, field_name: str) -> None:
    """The model field's own validators (digits and decimals that fit the column, limits).
    Values plainly within the column skip them: running validators costs more than the rest
    of a row's checks."""
    if value is None or name in cells.problems:
        return
    model_field = model._meta.get_field(field_name)
    exponent = value.as_tuple().exponent
    whole = 10 ** (model_field.max_digits - model_field.decimal_places)
    if (
        isinstance(exponent, int)
        and exponent >= -model_field.decimal_places
        and -whole < value < whole
    ):
        return
    try:
        model_field.run_validators(value)
    except ValidationError as exc:
        cells.error(name, exc.messages[0])


def _positive(
    cells: Cells, name: str, model: Any, field_name: str, *, default: Decimal | None
) -> Decimal | None:
    value = cells.decimal(name, default=default, minimum=None)
    if value is None:
        cells.error(name, _("a value is required"))
    elif name not in cells.problems and value <= 0:
        cells.error(name, _("The quantity must be greater than zero."))
    _fits(cells, name, value, model, field_name)
    return value


def _same_unit_kind(
    cells: Cells, name: str, unit: _Unit, item: _Item, units: dict[int, _Unit]
) -> None:
    stock = units[item.uom_id]
    if unit.category_id != stock.category_id:
        cells.error(
            name,
            _("%(unit)s does not measure the same thing as %(sku)s's stock unit %(stock)s.")
            % {"unit": unit.code, "sku": item.sku, "stock": stock.code},
        )


def _header_agrees(
    cells: Cells,
    memory: dict[Hashable, tuple[Any, dict[str, str]]],
    key: Hashable,
    header: Any,
    columns: dict[str, str],
    what: Callable[[], str],
) -> Any:
    """The first header seen for `key` in the file (remembered in `memory`); a column that
    differs from it is an error of this row. Rows are cleaned in file order, so the first row of
    a BOM or routing is the reference."""
    if columns.keys() & cells.problems.keys():
        return header
    first, raw = memory.setdefault(key, (header, cells.values))
    for column, attribute in columns.items():
        if getattr(first, attribute) != getattr(header, attribute):
            cells.error(
                column,
                _("must be the same on every row of %(what)s: its first row says “%(value)s”")
                % {"what": what(), "value": raw.get(column, "")},
            )
    return first


def _contiguous(
    rows: list[dict[str, Any]], key: str, describe: Callable[[Any], str]
) -> list[tuple[int, str, str]]:
    """Problems for rows of one BOM or routing that resume after rows of others: a block
    repeated further down is most likely a new version or routing someone forgot to name."""
    last_line: dict[Hashable, int] = {}
    problems = []
    previous = None
    for row in rows:
        current = row[key]
        if current != previous and current in last_line:
            problems.append(
                (
                    row["_line"],
                    "product",
                    _("the rows of %(what)s must follow each other; it has rows up to row %(line)d")
                    % {"what": describe(current), "line": last_line[current]},
                )
            )
        last_line[current] = row["_line"]
        previous = current
    return problems


def _note_entries(
    model: Any,
    notes: list[tuple[int, str, str, str]],
    label: str,
    *,
    company: Company,
    actor: User | None,
) -> None:
    """Audit entries noting a changed set of child rows (lines, operations) on their parent, as
    `bom._audit_note` writes them one at a time: (parent pk, parent text, before, after)."""
    content_type = ContentType.objects.get_for_model(model).pk
    now, cid = timezone.now(), get_cid()
    actor_id, actor_email = getattr(actor, "pk", None), getattr(actor, "email", None)
    columns = [
        "content_type_id", "object_pk", "object_id", "object_repr", "action", "changes_text",
        "changes", "actor_id", "actor_email", "cid", "company_id", "additional_data", "timestamp",
    ]  # fmt: skip
    _insert(
        AuditEntry,
        columns,
        [
            (
                content_type,
                str(pk),
                pk,
                text,
                AuditEntry.Action.UPDATE,
                "",
                {label: [before, after]},
                actor_id,
                actor_email,
                cid,
                company.pk,
                {"company_id": company.pk},
                now,
            )
            for pk, text, before, after in notes
            if before != after
        ],
        prepare={"changes", "additional_data", "timestamp"},
    )


def _insert(
    model: Any,
    columns: list[str],
    rows: list[tuple[Any, ...]],
    *,
    prepare: Iterable[str] = (),
) -> None:
    """INSERT many rows of `model` (`core.bulkwrite.rows_insert`: COPY on PostgreSQL, one
    executemany on SQLite). The values are plain ints, strings, dates and Decimals, checked
    already, except the `prepare` columns (JSON, times), which go through their field first."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    preparing = [(i, meta.get_field(c)) for i, c in enumerate(columns) if c in set(prepare)]
    if preparing:
        prepared = []
        for row in rows:
            values = list(row)
            for i, model_field in preparing:
                values[i] = model_field.get_db_prep_save(values[i], connection)
            prepared.append(tuple(values))
        rows = prepared
    bulkwrite.rows_insert(model, columns, rows)


def _refuse(problems: list[tuple[int, str, str]]) -> None:
    """Stop saving when the data changed since the file was checked (the job shows why)."""
    if problems:
        raise jobs.JobError(
            _("%(count)d problem(s) found; nothing was imported.") % {"count": len(problems)},
            details={"errors": [str(imports.Problem(*p)) for p in problems[:1000]]},
        )


# --- bills of materials ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _BomHeader:
    kind: str
    quantity: Decimal
    uom_id: int
    effective_from: Any
    effective_to: Any
    active: bool


BOM_HEADER_COLUMNS = {
    "kind": "kind",
    "quantity": "quantity",
    "uom": "uom_id",
    "effective_from": "effective_from",
    "effective_to": "effective_to",
    "active": "active",
}

_LineTuple = tuple[int, int, Decimal, int, Decimal]  # sequence, component, quantity, unit, scrap


class _LineView(NamedTuple):
    """What `describe_lines` reads of a stored line."""

    component_id: int
    quantity: Decimal
    uom_id: int
    scrap_percent: Decimal


@dataclass(slots=True)
class _StoredBom:
    pk: int
    header: _BomHeader
    lines: list[_LineTuple] = field(default_factory=list)


@dataclass(slots=True)
class _FileBom:
    key: tuple[int, int]
    header: _BomHeader
    first_line: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    _lines: list[_LineTuple] | None = None

    def lines(self) -> list[_LineTuple]:
        """The lines in stored order: by sequence (a blank one numbered 10, 20, … by position),
        rows of equal sequence in file order."""
        if self._lines is not None:
            return self._lines
        lines = [
            (
                (i + 1) * 10 if row["sequence"] is None else row["sequence"],
                row["component"],
                row["quantity"],
                row["uom"],
                row["scrap"],
            )
            for i, row in enumerate(self.rows)
        ]
        lines.sort(key=lambda line: line[0])
        self._lines = lines
        return lines


@dataclass
class _BomState:
    company: Company
    items: _Codes[_Item]
    items_by_id: dict[int, _Item]
    units: dict[str, _Unit]
    units_by_id: dict[int, _Unit]
    headers: dict[Hashable, tuple[Any, dict[str, str]]] = field(default_factory=dict)


def _stored_boms(company: Company) -> dict[tuple[int, int], _StoredBom]:
    """Every BOM of the company with its lines, by (product id, version): two queries."""
    by_pk: dict[int, _StoredBom] = {}
    stored: dict[tuple[int, int], _StoredBom] = {}
    boms = (
        Bom.unscoped.filter(company=company)
        .order_by()
        .values_list(
            "pk",
            "product_id",
            "version",
            "kind",
            _plain("quantity"),
            "uom_id",
            "effective_from",
            "effective_to",
            "active",
        )
    )
    for pk, product, version, kind, quantity, uom, start, end, active in boms:
        bom = _StoredBom(pk, _BomHeader(kind, _number(quantity), uom, start, end, active))
        by_pk[pk] = stored[(product, version)] = bom
    lines = (
        BomLine.objects.filter(bom__company=company)
        .order_by("bom_id", "sequence", "id")
        .values_list(
            "bom_id",
            "sequence",
            "component_id",
            _plain("quantity"),
            "uom_id",
            _plain("scrap_percent"),
        )
    )
    for bom_id, sequence, component, quantity, uom, scrap in lines:
        by_pk[bom_id].lines.append((sequence, component, _number(quantity), uom, _number(scrap)))
    return stored


def _file_boms(rows: list[dict[str, Any]]) -> dict[tuple[int, int], _FileBom]:
    boms: dict[tuple[int, int], _FileBom] = {}
    for row in rows:
        bom = boms.get(row["bom"])
        if bom is None:
            bom = boms[row["bom"]] = _FileBom(row["bom"], row["header"], row["_line"])
        bom.rows.append(row)
    return boms


def _overlaps(a: Any, b: Any) -> bool:
    return (
        a.effective_from is None or b.effective_to is None or a.effective_from <= b.effective_to
    ) and (b.effective_from is None or a.effective_to is None or b.effective_from <= a.effective_to)


class BomImport(imports.ImportSpec):
    """Bills of materials, one row per line; each (product, version) in the file is created or
    replaced whole by the file's lines."""

    key = "boms"
    title = gettext_lazy("Bills of materials")
    permission = "product.import"
    columns = [
        Column("product", gettext_lazy("Product"), required=True, help=gettext_lazy("SKU")),
        Column("version", gettext_lazy("Version"), help=gettext_lazy("whole number; default 1")),
        Column("kind", gettext_lazy("Kind"), help=gettext_lazy("normal or phantom")),
        Column(
            "quantity",
            gettext_lazy("Quantity produced"),
            help=gettext_lazy("of the product; default 1"),
        ),
        Column(
            "uom",
            gettext_lazy("Unit"),
            help=gettext_lazy("unit code of the quantity produced; default the stock unit"),
        ),
        Column("effective_from", gettext_lazy("Effective from"), help=gettext_lazy("YYYY-MM-DD")),
        Column("effective_to", gettext_lazy("Effective until"), help=gettext_lazy("YYYY-MM-DD")),
        Column("active", gettext_lazy("Active"), help=gettext_lazy("1 or 0; default 1")),
        Column(
            "sequence",
            gettext_lazy("Sequence"),
            help=gettext_lazy("order of the lines; default 10, 20, …"),
        ),
        Column("component", gettext_lazy("Component"), required=True, help=gettext_lazy("SKU")),
        Column("component_quantity", gettext_lazy("Component quantity"), required=True),
        Column(
            "component_uom",
            gettext_lazy("Component unit"),
            help=gettext_lazy("unit code; default the component's stock unit"),
        ),
        Column("scrap_percent", gettext_lazy("Scrap (%)"), help=gettext_lazy("0 to below 100")),
    ]

    def begin(self, company: Company) -> _BomState:
        items, items_by_id = _items(company)
        units, units_by_id = _units()
        return _BomState(company, items, items_by_id, units, units_by_id)

    def clean_row(self, state: _BomState, values: dict[str, str]) -> dict[str, Any]:
        cells = Cells(values)
        product = state.items.find(cells, "product", label=PRODUCT, required=True)
        version = cells.integer("version", default=1, minimum=1)
        kind = cells.choice("kind", Bom.Kind, default=Bom.Kind.NORMAL)
        quantity = _positive(cells, "quantity", Bom, "quantity", default=ONE)
        uom = cells.lookup("uom", state.units, label=UNIT)
        start, end = cells.date("effective_from"), cells.date("effective_to")
        if start and end and start > end:
            cells.error(
                "effective_to", _("The end of the effective range must not be before its start.")
            )
        active = cells.boolean("active", default=True)
        sequence = cells.integer("sequence", default=None, minimum=0, maximum=MAX_SEQUENCE)
        component = state.items.find(cells, "component", label=PRODUCT, required=True)
        line_quantity = _positive(cells, "component_quantity", BomLine, "quantity", default=None)
        line_uom = cells.lookup("component_uom", state.units, label=UNIT)
        scrap = cells.decimal("scrap_percent", default=ZERO, minimum=ZERO, below=HUNDRED)
        _fits(cells, "scrap_percent", scrap, BomLine, "scrap_percent")
        header = None
        if product is not None:
            uom = uom or state.units_by_id[product.uom_id]
            _same_unit_kind(cells, "uom", uom, product, state.units_by_id)
            if component is not None and component.id == product.id:
                cells.error("component", _("A product cannot be a component of itself."))
            if "version" not in cells.problems and quantity is not None:
                key = (product.id, version)
                header = _header_agrees(
                    cells,
                    state.headers,
                    key,
                    _BomHeader(kind, quantity, uom.id, start, end, active),
                    BOM_HEADER_COLUMNS,
                    lambda: self._describe(state, key),
                )
        if component is not None:
            line_uom = line_uom or state.units_by_id[component.uom_id]
            _same_unit_kind(cells, "component_uom", line_uom, component, state.units_by_id)
        cells.done()
        assert product is not None and component is not None and line_uom is not None
        return {
            "bom": (product.id, version),
            "header": header,
            "sequence": sequence,
            "component": component.id,
            "quantity": line_quantity,
            "uom": line_uom.id,
            "scrap": scrap,
        }

    def row_key(self, row: dict[str, Any]) -> Hashable | None:
        if row["sequence"] is None:
            return None
        return row["bom"], row["sequence"], row["component"]

    def check_all(self, state: _BomState, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        problems, _graph = self._problems(state, rows, _stored_boms(state.company))
        return problems

    def _describe(self, state: _BomState, key: tuple[int, int]) -> str:
        return _("%(sku)s version %(version)d") % {
            "sku": state.items_by_id[key[0]].sku,
            "version": key[1],
        }

    def _problems(
        self,
        state: _BomState,
        rows: list[dict[str, Any]],
        stored: dict[tuple[int, int], _StoredBom],
    ) -> tuple[list[tuple[int, str, str]], dict[int, set[int]]]:
        """The whole-file problems, and the graph of active BOMs (parent → components) the
        file would leave."""
        problems = _contiguous(rows, "bom", lambda key: self._describe(state, key))
        boms = _file_boms(rows)
        problems += self._overlap_problems(boms, stored)
        graph: dict[int, set[int]] = defaultdict(set)
        for key, bom in stored.items():
            if bom.header.active and key not in boms:
                graph[key[0]].update(line[1] for line in bom.lines)
        file_edges: dict[tuple[int, int], int] = {}
        for key, file_bom in boms.items():
            if file_bom.header.active:
                for row in file_bom.rows:
                    graph[key[0]].add(row["component"])
                    file_edges.setdefault((key[0], row["component"]), row["_line"])
        problems += self._loop_problems(state, graph, file_edges, rows[0]["_line"])
        problems.sort(key=lambda p: p[0])
        return problems, graph

    def _overlap_problems(
        self, boms: dict[tuple[int, int], _FileBom], stored: dict[tuple[int, int], _StoredBom]
    ) -> list[tuple[int, str, str]]:
        """Active versions of one product whose effective ranges overlap (as `_validate_header`
        refuses one BOM at a time), reported on the first row of each file BOM concerned."""
        versions: dict[int, list[tuple[int, _BomHeader, int | None]]] = defaultdict(list)
        for (product, version), bom in boms.items():
            versions[product].append((version, bom.header, bom.first_line))
        for (product, version), stored_bom in stored.items():
            if product in versions and (product, version) not in boms:
                versions[product].append((version, stored_bom.header, None))
        problems = []
        for entries in versions.values():
            active = sorted((e for e in entries if e[1].active), key=lambda e: e[0])
            for version, header, line in active:
                if line is None:
                    continue
                for other_version, other, _other_line in active:
                    if other_version != version and _overlaps(header, other):
                        problems.append(
                            (
                                line,
                                "effective_from",
                                _(
                                    "Version %(version)s of this product's BOM is active "
                                    "%(range)s; the effective ranges of active BOMs must not "
                                    "overlap."
                                )
                                % {"version": other_version, "range": date_range_text(other)},
                            )
                        )
                        break
        return problems

    def _loop_problems(
        self,
        state: _BomState,
        graph: dict[int, set[int]],
        file_edges: dict[tuple[int, int], int],
        first_line: int,
    ) -> list[tuple[int, str, str]]:
        """Loops of the resulting graph, each reported on a file line that closes it and named
        from that line's product, like `_check_loop` does. A depth-first search from the file's
        products finds a loop in every strongly connected part (any new loop runs through a
        product of the file, as only the file's BOMs add edges)."""
        skus = state.items_by_id
        problems: list[tuple[int, str, str]] = []
        reported: set[int] = set()
        on_path: dict[int, int] = {}  # product -> position on the current path
        done: set[int] = set()
        for root in dict.fromkeys(parent for parent, _child in file_edges):
            if root in done:
                continue
            path = [root]
            on_path[root] = 0
            stack = [iter(graph.get(root, ()))]
            while stack:
                for child in stack[-1]:
                    if child in on_path:
                        loop = path[on_path[child] :]
                        problem = self._loop_problem(loop, file_edges, skus, first_line)
                        if problem[0] not in reported:
                            reported.add(problem[0])
                            problems.append(problem)
                    elif child not in done:
                        on_path[child] = len(path)
                        path.append(child)
                        stack.append(iter(graph.get(child, ())))
                        break
                else:
                    stack.pop()
                    node = path.pop()
                    del on_path[node]
                    done.add(node)
        return problems

    @staticmethod
    def _loop_problem(
        loop: list[int],
        file_edges: dict[tuple[int, int], int],
        items: dict[int, _Item],
        first_line: int,
    ) -> tuple[int, str, str]:
        def names(pks: list[int]) -> str:
            return " → ".join(items[pk].sku if pk in items else str(pk) for pk in pks)

        size = len(loop)
        # The edge back to the start was found last: prefer it, then the others in order.
        for i in [size - 1, *range(size - 1)]:
            line = file_edges.get((loop[i], loop[(i + 1) % size]))
            if line is not None:
                text = names([*loop[i:], *loop[:i], loop[i]])
                return (
                    line,
                    "component",
                    _("This line would make the BOMs loop: %(loop)s.") % {"loop": text},
                )
        text = names([*loop, loop[0]])
        return first_line, "", _("The BOMs hold a loop: %(loop)s.") % {"loop": text}

    def save(
        self,
        state: _BomState,
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Callable[[int], None],
    ) -> dict[str, int]:
        """Create the new BOMs and replace the changed ones (header, lines or both), under the
        BOM graph's lock and after checking the whole file again against the data as it is now;
        then recompute the low-level codes once."""
        lock_bom_graph(company)
        stored = _stored_boms(company)
        problems, graph = self._problems(state, rows, stored)
        _refuse(problems)
        new: list[_FileBom] = []
        replaced: list[tuple[_FileBom, _StoredBom]] = []
        for key, file_bom in _file_boms(rows).items():
            old = stored.get(key)
            if old is None:
                new.append(file_bom)
            elif old.header != file_bom.header or old.lines != file_bom.lines():
                replaced.append((file_bom, old))
        _insert(
            Bom,
            ["company_id", "product_id", "version", *BOM_HEADER_COLUMNS.values()],
            [(company.pk, *f.key, *_header_values(f.header)) for f in new],
        )
        pks = {key: old.pk for key, old in stored.items()}
        if new:
            pks.update(
                ((product, version), pk)
                for product, version, pk in Bom.unscoped.filter(company=company)
                .order_by()
                .values_list("product_id", "version", "pk")
            )
        retitled = [(f, old) for f, old in replaced if old.header != f.header]
        Bom.unscoped.bulk_update(
            [_as_bom(company, f.key, old.pk, f.header) for f, old in retitled],
            [name.removesuffix("_id") for name in BOM_HEADER_COLUMNS.values()],
            batch_size=BATCH,
        )
        relined = [(f, old) for f, old in replaced if old.lines != f.lines()]
        for chunk in _chunks([old.pk for _f, old in relined]):
            BomLine.objects.filter(bom_id__in=chunk).delete()
        progress(len(rows) // 3)
        _insert(
            BomLine,
            ["bom_id", "sequence", "component_id", "quantity", "uom_id", "scrap_percent"],
            [
                (pks[f.key], *line)
                for f in [*new, *(f for f, _old in relined)]
                for line in f.lines()
            ],
        )
        progress(len(rows) * 2 // 3)
        audit_bulk(
            [
                *((None, _as_bom(company, f.key, pks[f.key], f.header)) for f in new),
                *(
                    (
                        _as_bom(company, f.key, old.pk, old.header),
                        _as_bom(company, f.key, old.pk, f.header),
                    )
                    for f, old in retitled
                ),
            ],
            actor=actor,
        )
        units = {pk: unit.code for pk, unit in state.units_by_id.items()}
        skus = {pk: item.sku for pk, item in state.items_by_id.items()}

        def text(lines: list[_LineTuple]) -> str:
            views = [_LineView(c, q, u, scrap) for _seq, c, q, u, scrap in lines]
            return describe_lines(views, skus, units)  # type: ignore[arg-type]

        _note_entries(
            Bom,
            [
                (old.pk, f"{f.key[0]} v{f.key[1]}", text(old.lines), text(f.lines()))
                for f, old in relined
            ],
            "BOM lines",
            company=company,
            actor=actor,
        )
        low_level_codes_update(company=company, graph=graph)
        progress(len(rows))
        return {"created": len(new), "updated": len(replaced)}

    def export(self, company: Company) -> Iterable[dict[str, Any]]:
        lines = (
            BomLine.objects.filter(bom__company=company)
            .order_by("bom__product__sku", "bom__version", "sequence", "id")
            .values_list(
                "bom__product__sku",
                "bom__version",
                "bom__kind",
                "bom__quantity",
                "bom__uom__code",
                "bom__effective_from",
                "bom__effective_to",
                "bom__active",
                "sequence",
                "component__sku",
                "quantity",
                "uom__code",
                "scrap_percent",
            )
        )
        names = [c.name for c in self.columns]
        return (dict(zip(names, values, strict=True)) for values in lines.iterator(chunk_size=2000))


def _header_values(header: _BomHeader) -> tuple[Any, ...]:
    return tuple(getattr(header, name) for name in BOM_HEADER_COLUMNS.values())


def _as_bom(company: Company, key: tuple[int, int], pk: int, header: _BomHeader) -> Bom:
    """A Bom with this header (for bulk updates and the audit trail's comparison)."""
    return Bom(
        pk=pk,
        company=company,
        product_id=key[0],
        version=key[1],
        **dict(zip(BOM_HEADER_COLUMNS.values(), _header_values(header), strict=True)),
    )


# --- routings -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _RoutingHeader:
    active: bool


_OperationTuple = tuple[int, str, int, Decimal, Decimal]  # sequence, name, center, setup, run


class _OperationView(NamedTuple):
    """What `describe_operations` reads of a stored operation."""

    sequence: int
    name: str
    work_center_id: int
    setup_minutes: Decimal
    run_minutes: Decimal


@dataclass(slots=True)
class _StoredRouting:
    pk: int
    product_id: int
    name: str
    active: bool
    operations: list[_OperationTuple] = field(default_factory=list)


@dataclass(slots=True)
class _FileRouting:
    key: tuple[int, str]
    active: bool
    first_line: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    _operations: list[_OperationTuple] | None = None

    def operations(self) -> list[_OperationTuple]:
        """The operations in stored order (see `_FileBom.lines`)."""
        if self._operations is not None:
            return self._operations
        operations = [
            (
                (i + 1) * 10 if row["sequence"] is None else row["sequence"],
                row["operation"],
                row["work_center"],
                row["setup"],
                row["run"],
            )
            for i, row in enumerate(self.rows)
        ]
        operations.sort(key=lambda op: op[0])
        self._operations = operations
        return operations


@dataclass
class _RoutingState:
    company: Company
    items: _Codes[_Item]
    items_by_id: dict[int, _Item]
    centers: _Codes[_Center]
    headers: dict[Hashable, tuple[Any, dict[str, str]]] = field(default_factory=dict)


def _stored_routings(
    company: Company,
) -> tuple[dict[tuple[int, str], _StoredRouting], list[_StoredRouting]]:
    """The company's routings by (product id, name) — the oldest when names repeat — and all of
    them, with their operations: two queries."""
    every: dict[int, _StoredRouting] = {}
    for pk, product, name, active in (
        Routing.unscoped.filter(company=company)
        .order_by("pk")
        .values_list("pk", "product_id", "name", "active")
    ):
        every[pk] = _StoredRouting(pk, product, name, active)
    operations = (
        RoutingOperation.objects.filter(routing__company=company)
        .order_by("routing_id", "sequence", "id")
        .values_list(
            "routing_id",
            "sequence",
            "name",
            "work_center_id",
            _plain("setup_minutes"),
            _plain("run_minutes"),
        )
    )
    for routing, sequence, name, center, setup, run in operations:
        every[routing].operations.append((sequence, name, center, _number(setup), _number(run)))
    by_key: dict[tuple[int, str], _StoredRouting] = {}
    for routing in every.values():
        by_key.setdefault((routing.product_id, routing.name), routing)
    return by_key, list(every.values())


def _file_routings(rows: list[dict[str, Any]]) -> dict[tuple[int, str], _FileRouting]:
    routings: dict[tuple[int, str], _FileRouting] = {}
    for row in rows:
        routing = routings.get(row["routing"])
        if routing is None:
            routing = routings[row["routing"]] = _FileRouting(
                row["routing"], row["header"].active, row["_line"]
            )
        routing.rows.append(row)
    return routings


def _routing_text(sku: str, name: str) -> str:
    return _("routing “%(name)s” of %(sku)s") % {"name": name, "sku": sku}


def _as_routing(company: Company, key: tuple[int, str], pk: int, active: bool) -> Routing:
    return Routing(pk=pk, company=company, product_id=key[0], name=key[1], active=active)


class RoutingImport(imports.ImportSpec):
    """Routings, one row per operation; each (product, routing name) in the file is created or
    replaced whole by the file's operations."""

    key = "routings"
    title = gettext_lazy("Routings")
    permission = "product.import"
    columns = [
        Column("product", gettext_lazy("Product"), required=True, help=gettext_lazy("SKU")),
        Column("routing", gettext_lazy("Routing"), required=True, help=gettext_lazy("name")),
        Column("active", gettext_lazy("Active"), help=gettext_lazy("1 or 0; default 1")),
        Column(
            "sequence",
            gettext_lazy("Sequence"),
            help=gettext_lazy("order of the operations; default 10, 20, …"),
        ),
        Column("operation", gettext_lazy("Operation"), required=True, help=gettext_lazy("name")),
        Column(
            "work_center", gettext_lazy("Work center"), required=True, help=gettext_lazy("code")
        ),
        Column("setup_minutes", gettext_lazy("Setup (min)")),
        Column("run_minutes", gettext_lazy("Run time per unit (min)")),
    ]

    def begin(self, company: Company) -> _RoutingState:
        items, items_by_id = _items(company)
        centers = _Codes.of(
            (code, _Center(pk, code, active))
            for pk, code, active in WorkCenter.unscoped.filter(company=company).values_list(
                "pk", "code", "active"
            )
        )
        return _RoutingState(company, items, items_by_id, centers)

    def clean_row(self, state: _RoutingState, values: dict[str, str]) -> dict[str, Any]:
        cells = Cells(values)
        product = state.items.find(cells, "product", label=PRODUCT, required=True)
        name_length = Routing._meta.get_field("name").max_length
        routing = cells.text("routing", required=True, max_length=name_length)
        active = cells.boolean("active", default=True)
        sequence = cells.integer("sequence", default=None, minimum=0, maximum=MAX_SEQUENCE)
        operation = cells.text(
            "operation",
            required=True,
            max_length=RoutingOperation._meta.get_field("name").max_length,
        )
        center = state.centers.find(cells, "work_center", label=WORK_CENTER, required=True)
        if center is not None and not center.active and active:
            cells.error("work_center", _("This work center is archived."))
        setup = cells.decimal("setup_minutes", default=ZERO, minimum=ZERO)
        _fits(cells, "setup_minutes", setup, RoutingOperation, "setup_minutes")
        run = cells.decimal("run_minutes", default=ZERO, minimum=ZERO)
        _fits(cells, "run_minutes", run, RoutingOperation, "run_minutes")
        header = _RoutingHeader(active)
        if product is not None and "routing" not in cells.problems:
            sku = product.sku
            header = _header_agrees(
                cells,
                state.headers,
                (product.id, routing),
                header,
                {"active": "active"},
                lambda: _routing_text(sku, routing),
            )
        cells.done()
        assert product is not None and center is not None
        return {
            "routing": (product.id, routing),
            "header": header,
            "sequence": sequence,
            "operation": operation,
            "work_center": center.id,
            "setup": setup,
            "run": run,
        }

    def row_key(self, row: dict[str, Any]) -> Hashable | None:
        if row["sequence"] is None:
            return None
        return row["routing"], row["sequence"], row["operation"]

    def check_all(
        self, state: _RoutingState, rows: list[dict[str, Any]]
    ) -> list[tuple[int, str, str]]:
        return self._problems(state, rows, *_stored_routings(state.company))

    def _problems(
        self,
        state: _RoutingState,
        rows: list[dict[str, Any]],
        by_key: dict[tuple[int, str], _StoredRouting],
        every: list[_StoredRouting],
    ) -> list[tuple[int, str, str]]:
        """Rows of a routing apart, and products left with more than one active routing (the
        services allow one at a time), reported on the first row of each active routing of the
        file concerned."""
        items = state.items_by_id

        problems = _contiguous(
            rows, "routing", lambda key: _routing_text(items[key[0]].sku, key[1])
        )
        routings = _file_routings(rows)
        replaced = {by_key[key].pk for key in routings if key in by_key}
        active: dict[int, list[str]] = defaultdict(list)
        for (product, name), routing in routings.items():
            if routing.active:
                active[product].append(name)
        for stored in every:
            if stored.active and stored.product_id in active and stored.pk not in replaced:
                active[stored.product_id].append(stored.name)
        for (product, _name), routing in routings.items():
            names = active.get(product, [])
            if routing.active and len(names) > 1:
                problems.append(
                    (
                        routing.first_line,
                        "active",
                        _("%(sku)s would have more than one active routing: %(names)s.")
                        % {"sku": items[product].sku, "names": ", ".join(names)},
                    )
                )
        problems.sort(key=lambda p: p[0])
        return problems

    def save(
        self,
        state: _RoutingState,
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Callable[[int], None],
    ) -> dict[str, int]:
        """Create the new routings and replace the changed ones, after checking the whole file
        again against the data as it is now."""
        by_key, every = _stored_routings(company)
        _refuse(self._problems(state, rows, by_key, every))
        new: list[_FileRouting] = []
        replaced: list[tuple[_FileRouting, _StoredRouting]] = []
        for key, file_routing in _file_routings(rows).items():
            old = by_key.get(key)
            if old is None:
                new.append(file_routing)
            elif old.active != file_routing.active or old.operations != file_routing.operations():
                replaced.append((file_routing, old))
        _insert(
            Routing,
            ["company_id", "product_id", "name", "active"],
            [(company.pk, *f.key, f.active) for f in new],
        )
        pks = {key: old.pk for key, old in by_key.items()}
        if new:
            wanted = {f.key for f in new}
            for product, name, pk in (
                Routing.unscoped.filter(company=company)
                .order_by("pk")
                .values_list("product_id", "name", "pk")
            ):
                if (product, name) in wanted:
                    pks.setdefault((product, name), pk)
        switched = [(f, old) for f, old in replaced if old.active != f.active]
        Routing.unscoped.bulk_update(
            [_as_routing(company, f.key, old.pk, f.active) for f, old in switched],
            ["active"],
            batch_size=BATCH,
        )
        changed = [(f, old) for f, old in replaced if old.operations != f.operations()]
        for chunk in _chunks([old.pk for _f, old in changed]):
            RoutingOperation.objects.filter(routing_id__in=chunk).delete()
        progress(len(rows) // 2)
        _insert(
            RoutingOperation,
            ["routing_id", "sequence", "name", "work_center_id", "setup_minutes", "run_minutes"],
            [
                (pks[f.key], *operation)
                for f in [*new, *(f for f, _old in changed)]
                for operation in f.operations()
            ],
        )
        audit_bulk(
            [
                *((None, _as_routing(company, f.key, pks[f.key], f.active)) for f in new),
                *(
                    (
                        _as_routing(company, f.key, old.pk, old.active),
                        _as_routing(company, f.key, old.pk, f.active),
                    )
                    for f, old in switched
                ),
            ],
            actor=actor,
        )
        codes = {center.id: center.code for center in state.centers.exact.values()}

        def text(operations: list[_OperationTuple]) -> str:
            views = [_OperationView(*operation) for operation in operations]
            return describe_operations(views, codes)  # type: ignore[arg-type]

        _note_entries(
            Routing,
            [(old.pk, f.key[1], text(old.operations), text(f.operations())) for f, old in changed],
            "Operations",
            company=company,
            actor=actor,
        )
        progress(len(rows))
        return {"created": len(new), "updated": len(replaced)}

    def export(self, company: Company) -> Iterable[dict[str, Any]]:
        operations = (
            RoutingOperation.objects.filter(routing__company=company)
            .order_by("routing__product__sku", "routing__name", "routing_id", "sequence", "id")
            .values_list(
                "routing__product__sku",
                "routing__name",
                "routing__active",
                "sequence",
                "name",
                "work_center__code",
                "setup_minutes",
                "run_minutes",
            )
        )
        names = [c.name for c in self.columns]
        return (
            dict(zip(names, values, strict=True)) for values in operations.iterator(chunk_size=2000)
        )


imports.register(BomImport())
imports.register(RoutingImport())
