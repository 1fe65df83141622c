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
from xietong.analytics.tests.factories import history, service_history
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
DISTINCT = {"orders", "customers"}


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
               "orders": Count("order_id", distinct=True),
               "customers": Count("order__party_id", distinct=True)}  # fmt: skip
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
                int(value) if m in DISTINCT else Decimal(value).quantize(Decimal("0.0001"))
            )
    return dict(cells)


def _additive(measures: list[str]) -> list[str]:
    return [m for m in measures if m not in DISTINCT]


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


@pytest.mark.parametrize("budget", [olap.BITMAP_BUDGET, 0])  # bitmaps; counted per level
@pytest.mark.parametrize("seed", [6, 7, 8, 9])
def test_distinct_counts_at_every_level_of_total_equal_a_group_by(world, company_a, seed,
                                                                   budget, monkeypatch):  # fmt: skip
    """Distinct orders and customers are counted, never added up: the cells, each row total,
    each column total and the grand total equal a COUNT(DISTINCT) GROUP BY over the order lines
    of that level, whether the warehouse counts them from per-cell bitmaps or per level."""
    monkeypatch.setattr(olap, "BITMAP_BUDGET", budget)
    rng = random.Random(seed)
    dims = rng.sample(sorted(GROUPABLE), rng.randint(2, 3))
    rows = dims[: rng.randint(1, len(dims) - 1)]
    columns = dims[len(rows) :]
    measures = ["orders", "customers", *rng.sample(["revenue", "quantity"], rng.randint(0, 2))]
    filters: dict[str, list[str]] = {}
    if rng.random() < 0.5:
        filters["customer"] = [b.name for b in rng.sample(world.buyers, 3)]
    with warehouse.connect(read_only=True) as con:
        result = olap.pivot(backend=olap.duckdb_backend(con), company_ids=[company_a.pk],
                            measures=measures, rows=rows, columns=columns,
                            filters=filters)  # fmt: skip
    assert result.cells == _operational(company_a, measures, rows, columns, filters)
    by_row = _operational(company_a, measures, rows, [], filters)
    by_column = _operational(company_a, measures, [], columns, filters)
    everything = _operational(company_a, measures, [], [], filters)[((), ())]
    for m in sorted(DISTINCT):
        assert {r: result.row_totals[r][m] for r in result.row_keys} == {
            r: cell[m] for (r, _c), cell in by_row.items()}  # fmt: skip
        assert {c: result.column_totals[c][m] for c in result.column_keys} == {
            c: cell[m] for (_r, c), cell in by_column.items()}  # fmt: skip
        assert result.total[m] == everything[m]
    assert any(result.total[m] < sum(c[m] for c in result.cells.values()) for m in DISTINCT)


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
    """The warehouse's star copied into the PostgreSQL database <DATABASE_URL's name>_wh
    (created if missing; one per operational database, so parallel runs do not share it), as
    an Ibis backend."""
    import os

    import ibis
    import psycopg

    url = os.environ["DATABASE_URL"]
    base = psycopg.conninfo.conninfo_to_dict(url)
    name = f"{base.pop('dbname', None) or 'xt_ana'}_wh"
    with psycopg.connect(**base, dbname="postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(**base, dbname=name) as pg, \
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
                                 database=name)  # fmt: skip


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


# ---------------------------------------------------------------------------- schema 3 measures


@pytest.fixture
def served(world, company_a, users_a):  # type: ignore[no-untyped-def]
    made = service_history(company_a, world, rep=users_a["sales_rep"])
    etl.etl_run(full=True)
    return made


def _breached(t) -> bool:  # type: ignore[no-untyped-def]
    return t.sla_state == "breached" or t.resolution_met is False or t.first_response_met is False


def _grouped(rows, key, value):  # type: ignore[no-untyped-def]
    out: dict[Any, Any] = defaultdict(lambda: 0)
    for row in rows:
        out[key(row)] += value(row)
    return dict(out)


def _pivot(company, owner_id=None, **cut):  # type: ignore[no-untyped-def]
    with warehouse.connect(read_only=True) as con:
        return olap.pivot(backend=olap.duckdb_backend(con), company_ids=[company.pk],
                          owner_id=owner_id, **cut)  # fmt: skip


def test_service_campaign_payment_and_target_measures_equal_a_group_by(served, world,
                                                                       company_a, users_a):  # fmt: skip
    from xietong.crm.models import Recipient, SalesTarget, Ticket
    from xietong.finance.models import Match

    tickets = list(Ticket.unscoped.filter(company=company_a).select_related("party"))
    result = _pivot(company_a, measures=["tickets", "sla_breaches"],
                    rows=["ticket_priority"], columns=["customer"])  # fmt: skip
    expected: dict[tuple, dict[str, Any]] = defaultdict(lambda: {"tickets": 0, "sla_breaches": 0})
    for t in tickets:
        cell = expected[((t.priority,), (t.party.name,))]
        cell["tickets"] += 1
        cell["sla_breaches"] += int(_breached(t))
    assert result.cells == dict(expected) and result.skipped == []
    assert result.total["tickets"] == len(tickets) == len(world.buyers)
    assert result.total["sla_breaches"] >= 1  # resolved ten days late

    hours = _pivot(company_a, measures=["resolution_hours"], rows=["ticket_channel"])
    resolved = [t for t in tickets if t.resolved_at]
    by_channel = _grouped(resolved, lambda t: t.channel,
                          lambda t: Decimal((t.resolved_at - t.created_at).total_seconds() / 3600))  # fmt: skip
    counts = _grouped(resolved, lambda t: t.channel, lambda t: 1)
    for (channel,), cell in {r: hours.cells[(r, ())] for r in hours.row_keys}.items():
        if channel in by_channel:
            assert cell["resolution_hours"] == pytest.approx(
                by_channel[channel] / counts[channel], abs=Decimal("0.01"))  # fmt: skip
        else:
            assert cell["resolution_hours"] is None  # nothing resolved: no average
    assert hours.total["resolution_hours"] == pytest.approx(
        sum(by_channel.values()) / len(resolved), abs=Decimal("0.01"))  # fmt: skip

    touches = _pivot(company_a, measures=["touches", "held_out", "responses"],
                     rows=["campaign"], columns=["campaign_group"])  # fmt: skip
    recipients = list(Recipient.unscoped.filter(company=company_a).select_related("campaign"))
    expected = {}
    for r in recipients:
        if r.sent_at is None and r.status != "control":
            continue
        group = "control" if r.status == "control" else "treated"
        cell = expected.setdefault(((r.campaign.name,), (group,)),
                                   {"touches": 0, "held_out": 0, "responses": 0})  # fmt: skip
        cell["touches" if group == "treated" else "held_out"] += 1
        cell["responses"] += int(bool(r.opened_at or r.clicked_at))
    assert touches.cells == expected and len(recipients) == len(world.buyers)

    paid = _pivot(company_a, measures=["paid", "days_late"], rows=["customer"])
    matches = Match.unscoped.filter(
        company=company_a, debit_line__entry__invoice__kind="out_invoice",
        credit_line__entry__payment__isnull=False,
    ).select_related("debit_line__entry__invoice__party", "credit_line")  # fmt: skip
    amounts = _grouped(matches, lambda m: m.debit_line.entry.invoice.party.name,
                       lambda m: m.amount)  # fmt: skip
    late = _grouped(matches, lambda m: m.debit_line.entry.invoice.party.name,
                    lambda m: m.amount * max(0, (m.credit_line.date - (
                        m.debit_line.due_date or m.debit_line.entry.invoice.due_date)).days))  # fmt: skip
    assert {k[0]: c["paid"] for (k, _c), c in paid.cells.items()} == amounts
    for (k, _c), c in paid.cells.items():
        assert c["days_late"] == (late[k[0]] / amounts[k[0]]).quantize(Decimal("0.01"))
    assert paid.total["days_late"] > 0  # the second part was paid 12 days late

    discount = _pivot(company_a, measures=["discount", "revenue"], rows=["customer"],
                      use_aggregates=False)  # fmt: skip
    lines = SalesOrderLine.objects.filter(order__company=company_a,
                                          order__state__in=etl.SALES_STATES)  # fmt: skip
    off = _grouped(lines, lambda line: line.order.party.name,
                   lambda line: (line.quantity * (max(line.list_price, line.unit_price)
                                                  - line.unit_price * (100 - line.discount) / 100)
                                 ).quantize(Decimal("0.0001")))  # fmt: skip
    assert {k[0]: c["discount"] for (k, _c), c in discount.cells.items()} == off
    assert discount.total["discount"] > 0

    targets = _pivot(company_a, measures=["target"], rows=["team", "year"])
    expected = {}
    for t in SalesTarget.unscoped.filter(company=company_a).select_related("team"):
        key = ((t.team.name, str(t.period_start.year)), ())
        expected[key] = {"target": expected.get(key, {}).get("target", 0) + t.amount}
    assert targets.cells == expected

    # a rep: only their customers' tickets; targets have no customer, so not for a rep
    rep = users_a["sales_rep"]
    mine = _pivot(company_a, owner_id=rep.pk, measures=["tickets", "target"], rows=["customer"])
    own = [t for t in tickets if t.party.salesperson_id == rep.pk]
    assert mine.total["tickets"] == len(own) and mine.skipped == ["target"]
    assert {k[0] for k in mine.row_keys} == {t.party.name for t in own}


@pytest.mark.postgres
def test_the_new_measures_answer_the_same_on_postgresql(served, company_a, users_a):
    postgres = _to_postgres()
    cuts = [
        {"measures": ["tickets", "sla_breaches", "resolution_hours"],
         "rows": ["ticket_priority"], "columns": ["ticket_channel"]},
        {"measures": ["touches", "held_out", "responses", "conversions"], "rows": ["campaign"],
         "columns": ["campaign_group"]},
        {"measures": ["paid", "days_late", "discount", "gross"], "rows": ["customer"],
         "columns": [], "sort": {"by": "days_late", "desc": True}},
        {"measures": ["target"], "rows": ["team"], "columns": ["year"]},
        {"measures": ["tickets", "resolution_hours", "touches"], "rows": ["customer"],
         "columns": [], "owner_id": users_a["sales_rep"].pk},
    ]  # fmt: skip
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


def test_coded_values_are_shown_by_their_translated_names():
    from django.utils import translation

    key = ("high", "email", "control", "2026-05")
    dims = ["ticket_priority", "ticket_channel", "campaign_group", "month"]
    assert olap.labelled(dims, key) == ("High", "E-mail", "Control", "2026-05")
    with translation.override("zh-hans"):
        shown = olap.labelled(dims, key)
    assert shown[3] == "2026-05" and all(a != b for a, b in zip(shown[:3], key[:3], strict=True))
    assert olap.labelled(["ticket_priority"], ("unknown",)) == ("unknown",)  # as stored
    assert olap.labelled(["region"], ("high",)) == ("high",)  # not a coded dimension
