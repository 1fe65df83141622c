"""The pivot against the operational database: for random cuts (measures by random row and
column dimensions, with a random filter), the warehouse answer equals a GROUP BY over the
sales order lines; a rep sees only their customers; another company never appears; the same
query code on PostgreSQL (through Ibis) answers the same."""

from __future__ import annotations

import random
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Count, Sum
from django.db.models.functions import ExtractYear, TruncMonth

from xietong.analytics import etl, warehouse
from xietong.analytics import pivot as olap
from xietong.analytics.tests.factories import history
from xietong.core.models import User
from xietong.sales.models import SalesOrderLine

pytestmark = pytest.mark.django_db

GROUPABLE = {
    "year": ExtractYear("order__date"),
    "month": TruncMonth("order__date"),
    "category": "product__category__path",
    "product": "product__name",
    "customer": "order__party__name",
    "customer_group": "order__party__customer_group__name",
    "salesperson": "order__party__salesperson_id",
}


def _label(dim: str, value: Any) -> str:
    if value is None:
        return olap.NONE
    if dim == "month":
        return value.strftime("%Y-%m")
    if dim == "salesperson":
        return str(User.objects.get(pk=value))
    return str(value)


def _operational(company, measures, rows, columns, filters, owner_id=None):  # type: ignore[no-untyped-def]
    """The same cut as a plain GROUP BY over the operational order lines."""
    dims = [*rows, *columns]
    lines = SalesOrderLine.objects.filter(order__company=company,
                                          order__state__in=etl.SALES_STATES)  # fmt: skip
    if owner_id is not None:
        lines = lines.filter(order__party__salesperson_id=owner_id)
    if "customer" in filters:
        lines = lines.filter(order__party__name__in=filters["customer"])
    annotations = {f"d_{d}": GROUPABLE[d] for d in dims if not isinstance(GROUPABLE[d], str)}
    keys = [f"d_{d}" if f"d_{d}" in annotations else GROUPABLE[d] for d in dims]
    metrics = {"revenue": Sum("amount_untaxed"), "quantity": Sum("quantity"),
               "orders": Count("order_id", distinct=True)}  # fmt: skip
    if keys:
        grouped = list(lines.annotate(**annotations).values(*keys).annotate(**metrics).order_by())
    else:
        grouped = [lines.aggregate(**metrics)]
    cells: dict[tuple, dict[str, Any]] = defaultdict(dict)
    for record in grouped:
        labels = {d: _label(d, record[k]) for d, k in zip(dims, keys, strict=True)}
        key = (tuple(labels[d] for d in rows), tuple(labels[d] for d in columns))
        for m in measures:
            value = record[m]
            cells[key][m] = cells[key].get(m, 0) + (
                int(value) if m == "orders" else Decimal(value).quantize(Decimal("0.0001"))
            )
    return dict(cells)


def _additive(measures: list[str]) -> list[str]:
    return [m for m in measures if m != "orders"]


@pytest.fixture
def world(company_a, company_b, users_a):  # type: ignore[no-untyped-def]
    reps = [users_a["sales_rep"], users_a["sales_manager"]]
    a = history(company_a, seed=11, orders=14, salespeople=reps)
    history(company_b, seed=12, orders=6)
    etl.etl_run(full=True)
    return a


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_random_cuts_equal_a_group_by_on_the_operational_db(world, company_a, seed):
    rng = random.Random(seed)
    dims = rng.sample(sorted(GROUPABLE), rng.randint(1, 3))
    rows, columns = dims[:1] if len(dims) > 1 else dims, dims[1:]
    measures = rng.sample(["revenue", "quantity", "orders"], rng.randint(1, 3))
    filters: dict[str, list[str]] = {}
    if rng.random() < 0.6:  # filter on some customers
        filters["customer"] = [b.name for b in rng.sample(world.buyers, 3)]
    with warehouse.connect(read_only=True) as con:
        result = olap.pivot(backend=olap.duckdb_backend(con), company_ids=[company_a.pk],
                            measures=measures, rows=rows, columns=columns,
                            filters=filters)  # fmt: skip
    expected = _operational(company_a, measures, rows, columns, filters)
    assert result.cells == expected
    assert result.skipped == []
    for m in _additive(measures):
        assert result.total[m] == sum(c[m] for c in expected.values())
        for row in result.row_keys:
            assert result.row_totals[row][m] == sum(
                c[m] for (r, _c), c in expected.items() if r == row
            )
    if "orders" in measures:  # distinct counts are counted again per total, not added up
        everything = _operational(company_a, ["orders"], [], [], filters)
        assert result.total["orders"] == everything.get(((), ()), {}).get("orders", 0)


def test_rep_sees_only_own_customers_and_never_another_company(world, company_a, company_b,
                                                                users_a):  # fmt: skip
    rep = users_a["sales_rep"]
    with warehouse.connect(read_only=True) as con:
        backend = olap.duckdb_backend(con)
        mine = olap.pivot(backend=backend, company_ids=[company_a.pk],
                          measures=["revenue", "orders"], rows=["customer"], owner_id=rep.pk)  # fmt: skip
        everyone = olap.pivot(backend=backend, company_ids=[company_a.pk],
                              measures=["revenue"], rows=["customer"])  # fmt: skip
        stock = olap.pivot(backend=backend, company_ids=[company_a.pk],
                           measures=["stock_value"], rows=["year"], owner_id=rep.pk)  # fmt: skip
    own_names = {b.name for b in world.buyers if b.salesperson_id == rep.pk}
    assert {k[0] for k in mine.row_keys} <= own_names
    assert mine.cells == _operational(company_a, ["revenue", "orders"], ["customer"], [], {},
                                      owner_id=rep.pk)  # fmt: skip
    assert len(everyone.row_keys) > len(mine.row_keys)
    assert not any(k[0].startswith(f"Buyer {company_b.pk}-") for k in everyone.row_keys)
    assert stock.skipped == ["stock_value"]  # no customer on stock moves: not for a rep


def test_drill_hierarchy_and_sort(world, company_a):
    with warehouse.connect(read_only=True) as con:
        backend = olap.duckdb_backend(con)
        years = olap.pivot(backend=backend, company_ids=[company_a.pk], measures=["revenue"],
                           rows=["year"], sort={"by": "revenue", "desc": True})  # fmt: skip
        totals = [years.row_totals[k]["revenue"] for k in years.row_keys]
        assert totals == sorted(totals, reverse=True)
        year = years.row_keys[0][0]
        quarters = olap.pivot(backend=backend, company_ids=[company_a.pk], measures=["revenue"],
                              rows=["quarter"], filters={"year": [year]})  # fmt: skip
    assert all(k[0].startswith(f"{year}-Q") for k in quarters.row_keys)
    assert quarters.total["revenue"] == years.row_totals[(year,)]["revenue"]
    assert (
        olap.DIMENSIONS["year"].child == "quarter" and olap.DIMENSIONS["region"].child == "customer"
    )


def test_unknown_measure_or_dimension_is_refused(world, company_a):
    with warehouse.connect(read_only=True) as con, pytest.raises(olap.PivotError):
        olap.pivot(backend=olap.duckdb_backend(con), company_ids=[company_a.pk],
                   measures=["revenue"], rows=["nope"])  # fmt: skip


def _to_postgres() -> Any:
    """The warehouse's star copied into the PostgreSQL database xt_ana_wh (created if missing),
    as an Ibis backend."""
    import os

    import ibis
    import psycopg

    url = os.environ["DATABASE_URL"]
    base = psycopg.conninfo.conninfo_to_dict(url)
    base.pop("dbname", None)
    with psycopg.connect(**base, dbname="postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = 'xt_ana_wh'").fetchone():
            admin.execute("CREATE DATABASE xt_ana_wh")
    with psycopg.connect(**base, dbname="xt_ana_wh") as pg, \
            warehouse.connect(read_only=True) as duck:  # fmt: skip
        for table, columns in warehouse.STAR_TABLES.items():
            pg.execute(f"DROP TABLE IF EXISTS {table}")
            pg.execute(f"CREATE TABLE {table} ({columns})")
            rows = duck.execute(f"SELECT * FROM {table}").fetchall()
            if rows:
                marks = ", ".join(["%s"] * len(rows[0]))
                with pg.cursor() as cursor:
                    cursor.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        pg.commit()
    return ibis.postgres.connect(host=base.get("host"), port=int(base.get("port") or 5432),
                                 user=base.get("user"), password=base.get("password"),
                                 database="xt_ana_wh")  # fmt: skip


@pytest.mark.postgres
def test_the_same_query_code_answers_the_same_on_postgresql(world, company_a, users_a):
    postgres = _to_postgres()
    cuts = [
        {
            "measures": ["revenue", "margin", "orders", "customers"],
            "rows": ["year", "quarter"],
            "columns": ["top_category"],
        },
        {
            "measures": ["revenue", "quantity"],
            "rows": ["region", "customer"],
            "columns": [],
            "filters": {"customer_group": ["Group 1"]},
            "sort": {"by": "revenue", "desc": True},
        },
        {"measures": ["invoiced", "ar_open", "orders"], "rows": ["month"], "columns": ["company"]},
        {
            "measures": ["revenue"],
            "rows": ["salesperson"],
            "columns": ["year"],
            "owner_id": users_a["sales_rep"].pk,
        },
    ]
    try:
        for cut in cuts:
            cut = {"filters": {}, **cut}
            with warehouse.connect(read_only=True) as con:
                duck = olap.pivot(backend=olap.duckdb_backend(con), company_ids=[company_a.pk],
                                  **cut)  # fmt: skip
            pg = olap.pivot(backend=postgres, company_ids=[company_a.pk], **cut)
            assert pg.as_dict() == duck.as_dict(), cut
            assert duck.row_keys
    finally:
        postgres.disconnect()


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_the_aggregate_answers_as_the_facts_do(world, company_a, seed):
    rng = random.Random(seed)
    dims = rng.sample(sorted(olap.AGGREGATE_DIMENSIONS), 3)
    cut = {"measures": ["revenue", "margin", "quantity"], "rows": dims[:2], "columns": dims[2:],
           "filters": {"customer_group": ["Group 1"]} if rng.random() < 0.5 else {}}  # fmt: skip
    with warehouse.connect(read_only=True) as con:
        backend = olap.duckdb_backend(con)
        fast = olap.pivot(backend=backend, company_ids=[company_a.pk], **cut)
        slow = olap.pivot(backend=backend, company_ids=[company_a.pk], use_aggregates=False, **cut)
        rows = con.execute("SELECT sum(line_count) FROM agg_sales_month WHERE company_id = ?",
                           [company_a.pk]).fetchone()[0]  # fmt: skip
        lines = con.execute("SELECT count(*) FROM fact_sales_line WHERE company_id = ?",
                            [company_a.pk]).fetchone()[0]  # fmt: skip
    assert fast.as_dict() == slow.as_dict() and fast.row_keys
    assert rows == lines
    assert any(c["margin"] < c["revenue"] for c in fast.cells.values())
