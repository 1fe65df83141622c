"""The OLAP query layer: `pivot()` answers "measures by row dimensions × column dimensions,
filtered" over the star schema through Ibis, so the same code runs on the DuckDB warehouse and
on any backend Ibis speaks (a test runs it on PostgreSQL).

Measures belong to one fact each (revenue, margin, quantity, orders and customers to the sales
order lines; invoiced to the customer invoice lines, credit notes negative; AR open to the
posted customer invoices; stock value and stock quantity to the done stock moves; delivered to
the deliveries; purchased to the purchase order lines; gross and discount to the order lines'
discounts; tickets, SLA breaches and average resolution hours to the service tickets; touches,
held out, responses and conversions to the campaign touches; paid and average days late
(weighted by the amount paid, early payments counting as 0) to the payment allocations; target
to the sales targets). A dimension reaches a fact through the
fact's key (customer, product, warehouse, supplier, date, company); a measure whose fact lacks a
requested dimension is left out of the answer (`skipped`). Sums and counts are added up in
Python for the totals; ratios (averages) are asked again at each level of total; distinct
counts are counted for the cells and every level of total in one query (`_counted_once`:
per-cell bitmaps OR-ed up the levels on DuckDB, COUNT(DISTINCT) by GROUPING SETS on
PostgreSQL), else asked again at each level — never added up, never approximated.

Scoping is the caller's rule, passed in: `company_ids` (always), and `owner_id` — when set, only
the facts of customers whose salesperson is that user count, and measures of facts without a
customer (stock, purchases) are skipped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ibis
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from xietong.crm import campaign_selectors
from xietong.crm import selectors as crm_selectors

NONE = "—"


@dataclass(frozen=True)
class Measure:
    label: Any
    fact: str
    kind: str  # "sum", "count" (a sum of 0/1 flags), "distinct" or "ratio"
    column: str
    minus: str = ""  # sum(column - minus)
    per: str = ""  # a ratio: sum(column) / sum(per)


@dataclass(frozen=True)
class Dimension:
    label: Any
    table: str  # the dimension table ("" for a column of the fact itself)
    fact_key: str  # the fact's column joined to the dimension
    key: str  # the dimension's key column
    column: str
    child: str = ""  # drill down to


MEASURES: dict[str, Measure] = {
    "revenue": Measure(_("Revenue"), "fact_sales_line", "sum", "revenue"),
    "margin": Measure(_("Margin"), "fact_sales_line", "sum", "revenue", "cost"),
    "quantity": Measure(_("Quantity sold"), "fact_sales_line", "sum", "quantity"),
    "orders": Measure(_("Orders"), "fact_sales_line", "distinct", "order_id"),
    "customers": Measure(_("Customers"), "fact_sales_line", "distinct", "customer_key"),
    "invoiced": Measure(_("Invoiced"), "fact_invoice_line", "sum", "invoiced"),
    "ar_open": Measure(_("AR open"), "fact_receivable", "sum", "ar_open"),
    "delivered": Measure(_("Quantity delivered"), "fact_delivery", "sum", "quantity"),
    "stock_qty": Measure(_("Stock quantity"), "fact_stock_move", "sum", "stock_qty"),
    "stock_value": Measure(_("Stock value"), "fact_stock_move", "sum", "stock_value"),
    "purchased": Measure(_("Purchased"), "fact_purchase_line", "sum", "purchased"),
    "gross": Measure(_("Revenue before discount"), "fact_sales_discount", "sum", "gross"),
    "discount": Measure(_("Discount"), "fact_sales_discount", "sum", "discount"),
    "tickets": Measure(_("Tickets"), "fact_ticket", "count", "tickets"),
    "sla_breaches": Measure(_("SLA breaches"), "fact_ticket", "count", "sla_breached"),
    "resolution_hours": Measure(
        _("Average resolution (hours)"), "fact_ticket", "ratio", "resolution_hours", per="resolved"
    ),
    "touches": Measure(_("Campaign touches"), "fact_campaign_touch", "count", "touched"),
    "held_out": Measure(_("Held out (control)"), "fact_campaign_touch", "count", "held_out"),
    "responses": Measure(_("Responses"), "fact_campaign_touch", "count", "responded"),
    "conversions": Measure(
        pgettext_lazy("campaign", "Conversions"), "fact_campaign_touch", "count", "converted"
    ),
    "paid": Measure(_("Paid"), "fact_payment", "sum", "amount"),
    "days_late": Measure(
        _("Average days paid late"), "fact_payment", "ratio", "late_amount_days", per="amount"
    ),
    "target": Measure(_("Sales target"), "fact_sales_target", "sum", "amount"),
}

DIMENSIONS: dict[str, Dimension] = {
    "year": Dimension(_("Year"), "dim_date", "date", "date", "year", "quarter"),
    "quarter": Dimension(_("Quarter"), "dim_date", "date", "date", "quarter", "month"),
    "month": Dimension(_("Month"), "dim_date", "date", "date", "month", "day"),
    "week": Dimension(_("Week"), "dim_date", "date", "date", "week", "day"),
    "day": Dimension(_("Day"), "dim_date", "date", "date", "day"),
    "category": Dimension(_("Category"), "dim_product", "product_key", "product_key",
                          "category", "product"),
    "top_category": Dimension(_("Top category"), "dim_product", "product_key", "product_key",
                              "top_category", "category"),
    "product": Dimension(_("Product"), "dim_product", "product_key", "product_key", "product"),
    "country": Dimension(_("Country"), "dim_customer", "customer_key", "customer_key",
                         "country", "region"),
    "region": Dimension(_("Region"), "dim_customer", "customer_key", "customer_key", "region",
                        "customer"),
    "customer": Dimension(_("Customer"), "dim_customer", "customer_key", "customer_key",
                          "customer"),
    "customer_group": Dimension(_("Customer group"), "dim_customer", "customer_key",
                                "customer_key", "customer_group", "customer"),
    "salesperson": Dimension(_("Salesperson"), "dim_customer", "customer_key", "customer_key",
                             "owner", "customer"),
    "supplier": Dimension(_("Supplier"), "dim_supplier", "supplier_key", "supplier_key",
                          "supplier"),
    "warehouse": Dimension(_("Warehouse"), "dim_warehouse", "warehouse_key", "warehouse_key",
                           "warehouse"),
    "company": Dimension(_("Company"), "dim_company", "company_id", "company_key", "name"),
    "currency": Dimension(_("Currency"), "", "currency", "", "currency"),
    "ticket_priority": Dimension(_("Ticket priority"), "", "priority", "", "priority"),
    "ticket_channel": Dimension(_("Ticket channel"), "", "ticket_channel", "", "ticket_channel"),
    "campaign": Dimension(_("Campaign"), "dim_campaign", "campaign_key", "campaign_key",
                          "campaign"),
    "campaign_channel": Dimension(_("Campaign channel"), "", "campaign_channel", "",
                                  "campaign_channel", "campaign"),
    "campaign_group": Dimension(pgettext_lazy("campaign", "Group"), "", "campaign_group", "",
                                "campaign_group"),
    "team": Dimension(_("Sales team"), "", "team", "", "team"),
}  # fmt: skip


def _coded_labels() -> dict[str, dict[str, str]]:
    """The coded dimensions' value names in the active language, by dimension and code."""
    tickets = crm_selectors.ticket_value_labels()
    return {"ticket_priority": tickets["priority"], "ticket_channel": tickets["channel"],
            "campaign_channel": campaign_selectors.channel_labels(),
            "campaign_group": {"treated": str(pgettext_lazy("campaign", "Treated")),
                               "control": str(pgettext_lazy("campaign", "Control"))}}  # fmt: skip


def labelled(dims: Sequence[str], key: Sequence[Any]) -> tuple[str, ...]:
    """A row or column key as shown: the coded dimensions' values (ticket priority and channel,
    campaign channel and group) by their translated names, the others as they are. Only for
    display: filters and drill links keep the stored values."""
    if not any(d in CODED for d in dims):
        return tuple(str(v) for v in key)
    names = _coded_labels()
    return tuple(names[d].get(str(v), str(v)) if d in CODED else str(v)
                 for d, v in zip(dims, key, strict=True))  # fmt: skip


CODED = {"ticket_priority", "ticket_channel", "campaign_channel", "campaign_group"}

FACT_KEYS: dict[str, set[str]] = {
    "fact_sales_line": {"date", "product_key", "customer_key", "warehouse_key", "company_id",
                        "currency"},
    "fact_invoice_line": {"date", "product_key", "customer_key", "company_id", "currency"},
    "fact_receivable": {"date", "customer_key", "company_id"},
    "fact_delivery": {"date", "product_key", "customer_key", "warehouse_key", "company_id"},
    "fact_stock_move": {"date", "product_key", "warehouse_key", "company_id"},
    "fact_purchase_line": {"date", "product_key", "supplier_key", "warehouse_key",
                           "company_id", "currency"},
    "fact_sales_discount": {"date", "product_key", "customer_key", "warehouse_key", "company_id",
                            "currency"},
    "fact_ticket": {"date", "product_key", "customer_key", "company_id", "priority",
                    "ticket_channel"},
    "fact_campaign_touch": {"date", "customer_key", "company_id", "campaign_key",
                            "campaign_channel", "campaign_group"},
    "fact_payment": {"date", "customer_key", "company_id"},
    "fact_sales_target": {"date", "company_id", "team"},
}  # fmt: skip
RECOUNTED = {"distinct", "ratio"}  # asked again at each level of total, never added up


@dataclass
class PivotResult:
    measures: list[str]
    rows: list[str]
    columns: list[str]
    row_keys: list[tuple[str, ...]] = field(default_factory=list)
    column_keys: list[tuple[str, ...]] = field(default_factory=list)
    cells: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, Decimal | int | None]] = field(
        default_factory=dict
    )
    row_totals: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    column_totals: dict[tuple[str, ...], dict[str, Any]] = field(default_factory=dict)
    total: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: keys as lists, numbers as strings (decimals) or ints."""

        def values(mapping: Mapping[str, Any]) -> dict[str, Any]:
            return {m: (str(v) if isinstance(v, Decimal) else v) for m, v in mapping.items()}

        columns = self.column_keys or [()]
        return {
            "measures": self.measures, "rows": self.rows, "columns": self.columns,
            "row_keys": [list(k) for k in self.row_keys],
            "column_keys": [list(k) for k in self.column_keys],
            "cells": [{"row": list(r), "column": list(c), "values": values(self.cells[(r, c)])}
                      for r in self.row_keys for c in columns if (r, c) in self.cells],
            "row_totals": [{"row": list(k), "values": values(self.row_totals.get(k, {}))}
                           for k in self.row_keys],
            "column_totals": [{"column": list(k), "values": values(self.column_totals.get(k, {}))}
                              for k in self.column_keys],
            "total": values(self.total), "skipped": self.skipped,
        }  # fmt: skip


class PivotError(ValueError):
    pass


def validate(measures: Sequence[str], rows: Sequence[str], columns: Sequence[str],
             filters: Mapping[str, Iterable[str]]) -> None:  # fmt: skip
    if not measures:
        raise PivotError(_("Choose at least one measure."))
    for m in measures:
        if m not in MEASURES:
            raise PivotError(_("Unknown measure: %(name)s") % {"name": m})
    for d in [*rows, *columns, *filters]:
        if d not in DIMENSIONS:
            raise PivotError(_("Unknown dimension: %(name)s") % {"name": d})
    if len(set(rows) | set(columns)) != len(rows) + len(columns):
        raise PivotError(_("A dimension can be used once, on rows or on columns."))


def _expression(backend: Any, fact: str, dims: list[str], filters: Mapping[str, Iterable[str]],
                company_ids: Sequence[int], owner_id: int | None,
                tables: dict[str, Any] | None = None, use_aggregate: bool = True) -> Any:  # fmt: skip
    """The fact joined to the dimension tables it needs, scoped and filtered, with one column per
    dimension named after it (NULL where the fact has no such dimension value). Filters are
    applied to the small dimension tables first, and a filtered dimension is inner-joined, so
    the filter cuts the facts inside the join."""
    tables = {} if tables is None else tables
    if _from_aggregate(fact, [*dims, *filters], owner_id) and use_aggregate:
        return _aggregate_expression(backend, dims, filters, company_ids, tables)

    def table_of(name: str) -> Any:
        if name not in tables:
            tables[name] = backend.table(name)
        return tables[name]

    table = table_of(fact)
    table = table.filter(table.company_id.isin(list(company_ids)))
    wanted = list(dict.fromkeys([*dims, *filters]))
    joins: dict[str, list[str]] = {}
    for name in wanted:
        d = DIMENSIONS[name]
        if d.table:
            joins.setdefault(d.table, []).append(name)
    if owner_id is not None:
        joins.setdefault("dim_customer", [])
    for dim_table, names in joins.items():
        key = DIMENSIONS[names[0]] if names else DIMENSIONS["customer"]
        source = table_of(dim_table)
        restricted = False
        for name in names:
            values = [str(v) for v in filters.get(name, ())]
            if values:
                source = source.filter(source[DIMENSIONS[name].column].cast("string").isin(values))
                restricted = True
        if dim_table == "dim_customer" and owner_id is not None:
            source = source.filter(source.owner_id == owner_id)
            restricted = True
        keep = {f"__{dim_table}_key": source[key.key]}
        keep.update({name: source[DIMENSIONS[name].column].cast("string") for name in names})
        source = source.select(**keep)
        join = table.inner_join if restricted else table.left_join
        table = join(source, table[key.fact_key] == source[f"__{dim_table}_key"])
    for name in wanted:
        d = DIMENSIONS[name]
        if not d.table:
            table = table.mutate(**{name: table[d.column].cast("string")})
            values = [str(v) for v in filters.get(name, ())]
            if values:
                table = table.filter(table[name].isin(values))
    return table


AGGREGATE_DIMENSIONS = {"year", "quarter", "month", "region", "country", "customer_group",
                        "top_category", "category", "currency"}  # fmt: skip
AGGREGATE_MEASURES = {"revenue": "revenue", "margin": "revenue", "quantity": "quantity"}


def _from_aggregate(fact: str, dims: Iterable[str], owner_id: int | None) -> bool:
    """Whether `agg_sales_month` answers: sales facts, every dimension in it, no rep scope."""
    return (fact == "fact_sales_line" and owner_id is None
            and set(dims) <= AGGREGATE_DIMENSIONS)  # fmt: skip


def _aggregate_expression(backend: Any, dims: list[str], filters: Mapping[str, Iterable[str]],
                          company_ids: Sequence[int], tables: dict[str, Any]) -> Any:  # fmt: skip
    if "agg_sales_month" not in tables:
        tables["agg_sales_month"] = backend.table("agg_sales_month")
    table = tables["agg_sales_month"]
    table = table.filter(table.company_id.isin(list(company_ids)))
    for name, values in filters.items():
        values = [str(v) for v in values]
        if values:
            table = table.filter(table[DIMENSIONS[name].column].cast("string").isin(values))
    wanted = list(dict.fromkeys(dims))
    return table.mutate(**{name: table[DIMENSIONS[name].column].cast("string") for name in wanted})


def _aggregate(table: Any, by: list[str], measures: list[str]) -> list[dict[str, Any]]:
    """One record per group of `by` (NULL labelled NONE) with the measures; without measures,
    the groups with their row count (`__rows`)."""
    metrics = {} if measures else {"__rows": table.count()}
    for name in measures:
        m = MEASURES[name]
        if m.kind == "distinct":
            metrics[name] = table[m.column].nunique()
        elif m.kind == "ratio":
            metrics[name] = (table[m.column].sum().cast("float64")
                             / table[m.per].sum().cast("float64").nullif(0))  # fmt: skip
        elif m.minus:
            metrics[name] = (table[m.column] - table[m.minus]).sum()
        else:
            metrics[name] = table[m.column].sum()
    expr = table.group_by(by).aggregate(**metrics) if by else table.aggregate(**metrics)
    records = expr.to_pyarrow().to_pylist()
    for record in records:
        for name in by:
            if record[name] is None:
                record[name] = NONE
    return records


BITMAP_BUDGET = 256 * 2**20  # bytes the per-cell bitmaps of one distinct-count query may take
GROUPING_SETS = {"duckdb", "postgres"}  # backends whose SQL this module writes for GROUPING SETS


def _counted_once(backend: Any, fact: str, table: Any, rows: list[str], columns: list[str],
                  names: list[str], filters: Mapping[str, Iterable[str]],
                  company_ids: Sequence[int], owner_id: int | None, tables: dict[str, Any],
                  use_aggregates: bool) -> dict[Any, Any] | None:  # fmt: skip
    """The distinct counts of `names` for the cells and every level of total in one query, as
    exact as COUNT(DISTINCT) per level. On DuckDB one scan of the facts keeps a bitmap of the
    counted keys per cell (`bitstring_agg` over the key's range), OR-ed up the levels by
    GROUPING SETS and counted; when the bitmaps would take over `BITMAP_BUDGET` (many cells ×
    a wide key range), the caller counts per level instead. Elsewhere, COUNT(DISTINCT) by
    GROUPING SETS. The other measures' cells are asked as usual (from the aggregate when it
    answers them).

    Returns {"cells": (the table the other measures were read from, cell records), (target,
    key): {measure: count}} for the targets "row", "column" and "total"; None when it does not
    apply (no distinct measure, a backend without GROUPING SETS, bitmaps over budget)."""
    counted = [n for n in names if MEASURES[n].kind == "distinct"]
    dialect = getattr(backend, "name", "")
    if not counted or dialect not in GROUPING_SETS:
        return None
    dims, plain = [*rows, *columns], [n for n in names if n not in counted]
    plain_table = table
    if use_aggregates and set(plain) <= set(AGGREGATE_MEASURES):
        plain_table = _expression(backend, fact, dims, filters, company_ids, owner_id, tables)
    # the cells of the other measures; on DuckDB their number also bounds the bitmaps
    records = _aggregate(plain_table, dims, plain) if plain or dialect == "duckdb" else []

    def quoted(identifiers: Iterable[str]) -> str:
        return ", ".join(f'"{n}"' for n in identifiers)

    if dialect == "duckdb":
        if fact not in tables:
            tables[fact] = backend.table(fact)
        source = tables[fact]
        source = source.filter(source.company_id.isin(list(company_ids)))
        ranges = source.aggregate(**{f"{bound}_{n}": getattr(source[MEASURES[n].column], bound)()
                                     for n in counted for bound in ("min", "max")})  # fmt: skip
        bounds = ranges.to_pyarrow().to_pylist()[0]
        span = {n: (int(bounds[f"min_{n}"] or 0), int(bounds[f"max_{n}"] or 0)) for n in counted}
        width = sum((high - low) // 8 + 1 for low, high in span.values())
        if width * 2 * (len(records) + 1) > BITMAP_BUDGET:
            return None
        inner = ", ".join(f'bitstring_agg("{MEASURES[n].column}", {low}, {high}) AS "{n}"'
                          for n, (low, high) in span.items())  # fmt: skip
        counts = ", ".join(f'bit_count(bit_or("{n}")) AS "{n}"' for n in counted)
    else:
        inner = ", ".join(f'"{MEASURES[n].column}"' for n in counted)
        counts = ", ".join(f'COUNT(DISTINCT "{MEASURES[n].column}") AS "{n}"' for n in counted)
    # Identifiers from MEASURES and DIMENSIONS, integer bounds and Ibis's own SQL: no input.
    facts = ibis.to_sql(table, dialect=dialect)
    keys = f"{quoted(dims)}, " if dims else ""
    group = f" GROUP BY {quoted(dims)}" if dims and dialect == "duckdb" else ""
    grouping = f"GROUPING({quoted(dims)})" if dims else "0"
    levels = list(dict.fromkeys([tuple(dims), tuple(rows), tuple(columns), ()]))
    sets = ", ".join(f"({quoted(s)})" for s in levels)
    query = (
        f"WITH facts AS ({facts}), cells AS (SELECT {keys}{inner} FROM facts{group}) "  # noqa: S608
        f"SELECT {keys}{grouping} AS __level, {counts} FROM cells GROUP BY GROUPING SETS ({sets})"
    )
    cells = {tuple(r[d] for d in dims): r for r in records}
    answer: dict[Any, Any] = {}
    for record in _fetched(backend, query):
        level = record.pop("__level")  # bit set: the dimension is totalled away
        grouped = [d for i, d in enumerate(dims) if not level >> (len(dims) - 1 - i) & 1]
        values = {n: record[n] for n in counted}
        for target, by in (("cells", dims), ("row", rows), ("column", columns), ("total", [])):
            if grouped == by:
                key = tuple(NONE if record[d] is None else record[d] for d in by)
                if target == "cells":
                    cells.setdefault(key, dict(zip(dims, key, strict=True)))
                    cells[key].update(values)
                else:
                    answer[(target, key)] = values
    answer["cells"] = (plain_table, list(cells.values()))
    return answer


def _fetched(backend: Any, query: str) -> list[dict[str, Any]]:
    """The records of a SQL query Ibis cannot express (GROUPING SETS)."""
    if backend.name == "duckdb":
        answered = backend.con.sql(query)
        return [dict(zip(answered.columns, r, strict=True)) for r in answered.fetchall()]
    cursor = backend.raw_sql(query)
    try:
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, r, strict=True)) for r in cursor.fetchall()]
    finally:
        cursor.close()


def _value(name: str, value: Any) -> Decimal | int | None:
    kind = MEASURES[name].kind
    if kind in ("distinct", "count"):
        return int(value or 0)
    if kind == "ratio":  # an average of nothing is no figure, not zero
        return None if value is None else Decimal(value).quantize(Decimal("0.01"))
    return Decimal(value or 0).quantize(Decimal("0.0001"))


def pivot(*, backend: Any, company_ids: Sequence[int], measures: Sequence[str],
          rows: Sequence[str] = (), columns: Sequence[str] = (),
          filters: Mapping[str, Iterable[str]] | None = None,
          sort: Mapping[str, Any] | None = None, owner_id: int | None = None,
          limit: int = 2000, use_aggregates: bool = True) -> PivotResult:  # fmt: skip
    """Measures by `rows` × `columns` with totals. `backend` is an Ibis connection holding the
    star (see `duckdb_backend`). `filters` maps a dimension to the values kept; `sort` is
    {"by": "label" or a measure, "desc": bool} and orders the row keys (by their totals).
    Sums of sales lines by month-level and coarser dimensions are read from the aggregate
    `agg_sales_month` (the same answer from far fewer rows), even beside distinct counts, which
    are counted from the facts; `use_aggregates=False` reads the facts."""
    filters = {k: list(v) for k, v in (filters or {}).items() if list(v)}
    rows, columns, measures = list(rows), list(columns), list(dict.fromkeys(measures))
    validate(measures, rows, columns, filters)
    result = PivotResult(measures=measures, rows=rows, columns=columns)
    by_fact: dict[str, list[str]] = {}
    for name in measures:
        fact = MEASURES[name].fact
        needed = {DIMENSIONS[d].fact_key for d in [*rows, *columns, *filters]}
        if owner_id is not None:
            needed.add("customer_key")
        if not needed <= FACT_KEYS[fact]:
            result.skipped.append(name)
            continue
        by_fact.setdefault(fact, []).append(name)
    row_keys: dict[tuple[str, ...], None] = {}
    column_keys: dict[tuple[str, ...], None] = {}
    tables: dict[str, Any] = {}
    for fact, names in by_fact.items():
        aggregate = use_aggregates and set(names) <= set(AGGREGATE_MEASURES)
        table = _expression(backend, fact, [*rows, *columns], filters, company_ids, owner_id,
                            tables, aggregate)  # fmt: skip
        counted = _counted_once(backend, fact, table, rows, columns, names, filters,
                                company_ids, owner_id, tables, use_aggregates)  # fmt: skip
        if counted is not None:
            names, levels = [n for n in names if MEASURES[n].kind != "distinct"], counted
            table, records = levels.pop("cells")
        else:
            levels, records = {}, _aggregate(table, [*rows, *columns], names)
        for record in records:
            r = tuple(record[d] for d in rows)
            c = tuple(record[d] for d in columns)
            row_keys[r] = None
            column_keys[c] = None
            cell = result.cells.setdefault((r, c), {})
            for name, value in record.items():
                if name in MEASURES:
                    cell[name] = _value(name, value)
        for (target, key), values in levels.items():
            bucket = {"row": result.row_totals, "column": result.column_totals}.get(target)
            mapping = result.total if bucket is None else bucket.setdefault(key, {})
            mapping.update({name: _value(name, value) for name, value in values.items()})
        distinct = [n for n in names if MEASURES[n].kind in RECOUNTED]
        additive = [n for n in names if MEASURES[n].kind not in RECOUNTED]
        for (r, c), cell in result.cells.items():
            for name in additive:
                if name in cell:
                    for bucket in (result.row_totals.setdefault(r, {}),
                                   result.column_totals.setdefault(c, {}), result.total):  # fmt: skip
                        bucket[name] = bucket.get(name, 0) + cell[name]
        if distinct:
            for level, target in ((rows, "row"), (columns, "column"), ([], "total")):
                for record in _aggregate(table, level, distinct):
                    key = tuple(record[d] for d in level)
                    bucket = {"row": result.row_totals, "column": result.column_totals}.get(target)
                    values = result.total if bucket is None else bucket.setdefault(key, {})
                    for name in distinct:
                        values[name] = _value(name, record[name])
    for name in measures:  # an empty answer still has its totals
        if name not in result.skipped:
            result.total.setdefault(name, _value(name, None))
    result.row_keys = _sorted(list(row_keys), result.row_totals, sort, measures)[:limit]
    result.column_keys = sorted(column_keys)[:limit]
    return result


def _sorted(keys: list[tuple[str, ...]], totals: Mapping[tuple[str, ...], Mapping[str, Any]],
            sort: Mapping[str, Any] | None, measures: Sequence[str]) -> list[tuple[str, ...]]:  # fmt: skip
    sort = sort or {}
    by, desc = sort.get("by") or "label", bool(sort.get("desc"))
    if by in measures:
        lowest = Decimal("-Infinity")  # an average of nothing sorts below every figure

        def figure(k: tuple[str, ...]) -> Any:
            value = totals.get(k, {}).get(by, 0)
            return lowest if value is None else value

        return sorted(keys, key=lambda k: (figure(k), k), reverse=desc)
    return sorted(keys, reverse=desc)


def duckdb_backend(con: Any) -> Any:
    """An Ibis backend over an open DuckDB connection to the warehouse."""
    return ibis.duckdb.from_connection(con)


def dimension_values(*, backend: Any, company_ids: Sequence[int], dimension: str,
                     owner_id: int | None = None, limit: int = 500) -> list[str]:  # fmt: skip
    """The values a filter on `dimension` can take (from the sales facts, else from the first
    fact that has the dimension)."""
    key = DIMENSIONS[dimension].fact_key
    facts = [f for f, keys in FACT_KEYS.items() if key in keys
             and (owner_id is None or "customer_key" in keys)]  # fmt: skip
    if not facts:
        return []
    fact = "fact_sales_line" if "fact_sales_line" in facts else facts[0]
    table = _expression(backend, fact, [dimension], {}, company_ids, owner_id)
    expr = table.select(table[dimension]).distinct().order_by(dimension).limit(limit)
    return [r[dimension] or NONE for r in expr.to_pyarrow().to_pylist()]
