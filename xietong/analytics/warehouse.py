"""The star schema: a DuckDB file under the var directory (one per operational database), its
tables and their version. The schema is created by `schema_ensure`; when `SCHEMA_VERSION`
changes, every table is dropped and created again and the next ETL run is a full load.

Amounts are DECIMAL(18, 4) in the company's currency; quantities DECIMAL(18, 4). The same DDL
(`STAR_TABLES`) builds the star on PostgreSQL for the query layer's cross-backend test."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from django.conf import settings
from django.db import connection

SCHEMA_VERSION = 4

A = "DECIMAL(18,4)"
STAR_TABLES: dict[str, str] = {
    "dim_company": "company_key BIGINT PRIMARY KEY, name VARCHAR, currency VARCHAR",
    "dim_currency": "currency VARCHAR PRIMARY KEY, name VARCHAR",
    "dim_date": (
        "date DATE PRIMARY KEY, year INTEGER, quarter VARCHAR, month VARCHAR, week VARCHAR, "
        "day VARCHAR"
    ),
    "dim_product": (
        "product_key BIGINT PRIMARY KEY, company_id BIGINT, sku VARCHAR, product VARCHAR, "
        "category VARCHAR, top_category VARCHAR, unit_cost DECIMAL(18,6)"
    ),
    "dim_customer": (
        "customer_key BIGINT PRIMARY KEY, company_id BIGINT, code VARCHAR, customer VARCHAR, "
        "customer_group VARCHAR, region VARCHAR, country VARCHAR, owner_id BIGINT, "
        "owner VARCHAR"
    ),
    "dim_supplier": (
        "supplier_key BIGINT PRIMARY KEY, company_id BIGINT, code VARCHAR, supplier VARCHAR, "
        "supplier_country VARCHAR"
    ),
    "dim_salesperson": "salesperson_key BIGINT PRIMARY KEY, salesperson VARCHAR",
    "dim_warehouse": ("warehouse_key BIGINT PRIMARY KEY, company_id BIGINT, warehouse VARCHAR"),
    "dim_campaign": (
        "campaign_key BIGINT PRIMARY KEY, company_id BIGINT, campaign VARCHAR, "
        "campaign_channel VARCHAR"
    ),
    "fact_sales_line": (
        "line_id BIGINT PRIMARY KEY, order_id BIGINT, company_id BIGINT, date DATE, "
        "customer_key BIGINT, product_key BIGINT, salesperson_key BIGINT, warehouse_key BIGINT, "
        f"currency VARCHAR, state VARCHAR, quantity {A}, revenue {A}, cost {A}"
    ),
    # The order lines' discounts, one row per line of `fact_sales_line` (same keys): `gross` at
    # the price before discount (the larger of the list and the unit price), `discount` what
    # the line's discount and a price typed below the list price took off it (gross − net).
    "fact_sales_discount": (
        "line_id BIGINT PRIMARY KEY, order_id BIGINT, company_id BIGINT, date DATE, "
        "customer_key BIGINT, product_key BIGINT, salesperson_key BIGINT, warehouse_key BIGINT, "
        f"currency VARCHAR, gross {A}, discount {A}"
    ),
    "fact_invoice_line": (
        "line_id BIGINT PRIMARY KEY, invoice_id BIGINT, company_id BIGINT, date DATE, "
        "kind VARCHAR, customer_key BIGINT, product_key BIGINT, currency VARCHAR, "
        f"quantity {A}, invoiced {A}"
    ),
    "fact_receivable": (
        "invoice_id BIGINT PRIMARY KEY, company_id BIGINT, date DATE, due_date DATE, "
        f"customer_key BIGINT, kind VARCHAR, total {A}, ar_open {A}"
    ),
    "fact_delivery": (
        "move_id BIGINT PRIMARY KEY, company_id BIGINT, date DATE, customer_key BIGINT, "
        f"product_key BIGINT, warehouse_key BIGINT, quantity {A}, value {A}"
    ),
    "fact_stock_move": (
        "move_id BIGINT PRIMARY KEY, company_id BIGINT, date DATE, product_key BIGINT, "
        f"warehouse_key BIGINT, from_usage VARCHAR, to_usage VARCHAR, stock_qty {A}, "
        f"stock_value {A}"
    ),
    "fact_purchase_line": (
        "line_id BIGINT PRIMARY KEY, order_id BIGINT, company_id BIGINT, date DATE, "
        "supplier_key BIGINT, product_key BIGINT, warehouse_key BIGINT, currency VARCHAR, "
        f"state VARCHAR, quantity {A}, purchased {A}, qty_received {A}"
    ),
    "fact_production": (
        "order_id BIGINT PRIMARY KEY, company_id BIGINT, date DATE, product_key BIGINT, "
        f"warehouse_key BIGINT, state VARCHAR, planned_qty {A}, produced_qty {A}, "
        f"production_cost {A}"
    ),
    "fact_gl_line": (
        "line_id BIGINT PRIMARY KEY, entry_id BIGINT, company_id BIGINT, date DATE, "
        "account VARCHAR, account_type VARCHAR, party_key BIGINT, product_key BIGINT, "
        f"debit {A}, credit {A}, balance {A}"
    ),
    # Service tickets: `date` opened, `closed_date` closed (else resolved); `tickets` is 1,
    # `resolved` 1 once resolved, `resolution_hours` from opening to resolution (wall clock).
    "fact_ticket": (
        "ticket_id BIGINT PRIMARY KEY, company_id BIGINT, date DATE, closed_date DATE, "
        "customer_key BIGINT, product_key BIGINT, priority VARCHAR, ticket_channel VARCHAR, "
        "ticket_state VARCHAR, tickets INTEGER, sla_breached INTEGER, resolved INTEGER, "
        f"resolution_hours {A}"
    ),
    # Campaign e-mails sent (`touched`) or held out (`held_out`, the control group) on `date`;
    # `converted`: the customer ordered within CONVERSION_DAYS of it (recomputed every run).
    "fact_campaign_touch": (
        "recipient_id BIGINT PRIMARY KEY, campaign_key BIGINT, company_id BIGINT, date DATE, "
        "customer_key BIGINT, campaign_channel VARCHAR, campaign_group VARCHAR, "
        "touched INTEGER, held_out INTEGER, opened INTEGER, clicked INTEGER, responded INTEGER, "
        "converted INTEGER"
    ),
    # Customer payments allocated to customer invoices: `date` paid, `days_late` after the
    # invoice line's due date (negative: early), `late_amount_days` amount × days late (≥ 0),
    # `on_time` the amount paid by the due date.
    "fact_payment": (
        "match_id BIGINT PRIMARY KEY, invoice_id BIGINT, payment_id BIGINT, company_id BIGINT, "
        "date DATE, invoice_date DATE, due_date DATE, customer_key BIGINT, "
        f"amount {A}, days_late INTEGER, late_amount_days {A}, on_time {A}"
    ),
    # Sales targets of a team (salesperson_key NULL) or of one of its salespeople; `date` is
    # the period's start.
    "fact_sales_target": (
        "target_id BIGINT PRIMARY KEY, company_id BIGINT, date DATE, period_end DATE, "
        f"team_key BIGINT, team VARCHAR, salesperson_key BIGINT, amount {A}"
    ),
    # Stock at the end of each month (the current month: today) per product and warehouse,
    # from the stock moves, rebuilt by every ETL run (`snapshots_rebuild`); semi-additive: sum
    # it over products and warehouses, never over months.
    "fact_stock_snapshot": (
        "company_id BIGINT, month VARCHAR, date DATE, product_key BIGINT, warehouse_key BIGINT, "
        f"stock_qty {A}, stock_value {A}"
    ),
    # An aggregate of the sales lines by month and the coarse dimensions, rebuilt by every ETL
    # run; the query layer answers from it when a question needs nothing finer (see pivot.py).
    "agg_sales_month": (
        "company_id BIGINT, year INTEGER, quarter VARCHAR, month VARCHAR, region VARCHAR, "
        "country VARCHAR, customer_group VARCHAR, top_category VARCHAR, category VARCHAR, "
        f"currency VARCHAR, quantity {A}, revenue {A}, cost {A}, line_count BIGINT"
    ),
}
FACTS = [name for name in STAR_TABLES if name.startswith("fact_")]
AGGREGATE_SQL = """
    INSERT INTO agg_sales_month
    SELECT f.company_id, d.year, d.quarter, d.month, c.region, c.country, c.customer_group,
           p.top_category, p.category, f.currency, sum(f.quantity), sum(f.revenue),
           sum(f.cost), count(*)
    FROM fact_sales_line f
    LEFT JOIN dim_date d ON d.date = f.date
    LEFT JOIN dim_customer c ON c.customer_key = f.customer_key
    LEFT JOIN dim_product p ON p.product_key = f.product_key
    GROUP BY ALL"""


def aggregates_rebuild(
    con: duckdb.DuckDBPyConnection, months: list[tuple[int, str | None]] | None = None
) -> None:
    """Rebuild `agg_sales_month`: all of it, or only the groups of `months`, (company id,
    "YYYY-MM") pairs (those an incremental ETL run changed)."""
    if months is None:
        con.execute("DELETE FROM agg_sales_month")
        con.execute(AGGREGATE_SQL)
        return
    if not months:
        return
    con.execute("CREATE OR REPLACE TEMP TABLE _agg_months (company_id BIGINT, month VARCHAR)")
    con.executemany("INSERT INTO _agg_months VALUES (?, ?)", months)
    chosen = (
        "EXISTS (SELECT 1 FROM _agg_months m WHERE m.company_id = {t}.company_id "
        "AND m.month IS NOT DISTINCT FROM {month})"
    )
    con.execute(f"DELETE FROM agg_sales_month a WHERE {chosen.format(t='a', month='a.month')}")  # noqa: S608
    where = chosen.format(t="f", month="strftime(f.date, '%Y-%m')")
    con.execute(AGGREGATE_SQL.replace("GROUP BY ALL", f"WHERE {where} GROUP BY ALL"))
    con.execute("DROP TABLE _agg_months")


SNAPSHOT_SQL = """
    INSERT INTO fact_stock_snapshot
    WITH monthly AS (
        SELECT company_id, product_key, warehouse_key, date_trunc('month', date) AS m,
               sum(stock_qty) AS q, sum(stock_value) AS v
        FROM fact_stock_move WHERE date <= $today GROUP BY ALL),
    span AS (
        SELECT company_id, product_key, warehouse_key, min(m) AS first
        FROM monthly GROUP BY ALL),
    months AS (
        SELECT company_id, product_key, warehouse_key,
               unnest(generate_series(first, date_trunc('month', $today), INTERVAL 1 MONTH)) AS m
        FROM span),
    running AS (
        SELECT s.company_id, s.m, s.product_key, s.warehouse_key,
               sum(coalesce(x.q, 0)) OVER w AS q, sum(coalesce(x.v, 0)) OVER w AS v
        FROM months s LEFT JOIN monthly x ON x.company_id = s.company_id
             AND x.product_key = s.product_key
             AND x.warehouse_key IS NOT DISTINCT FROM s.warehouse_key AND x.m = s.m
        WINDOW w AS (PARTITION BY s.company_id, s.product_key, s.warehouse_key ORDER BY s.m))
    SELECT company_id, strftime(m, '%Y-%m'), least(last_day(m), $today), product_key,
           warehouse_key, q, v
    FROM running WHERE q <> 0 OR v <> 0"""


def snapshots_rebuild(con: duckdb.DuckDBPyConnection, today: dt.date) -> None:
    """Rebuild `fact_stock_snapshot`: each product's stock (quantity, value) per warehouse at
    the end of every month from its first move to `today`'s month (dated `today`), leaving out
    the months where it is nil."""
    con.execute("DELETE FROM fact_stock_snapshot")
    con.execute(SNAPSHOT_SQL, {"today": today})


DIMENSIONS = [name for name in STAR_TABLES if name.startswith("dim_")]


def warehouse_path() -> Path:
    """`settings.ANALYTICS_WAREHOUSE` if set, else var/analytics/<database>.duckdb (one file per
    operational database, so a test database never shares the demo's warehouse)."""
    configured = getattr(settings, "ANALYTICS_WAREHOUSE", None)
    if configured:
        path = Path(configured)
    else:
        database = str(connection.settings_dict.get("NAME") or "default")
        if connection.vendor == "sqlite" and connection.settings_dict.get("TEST", {}).get("NAME"):
            database = str(connection.settings_dict["NAME"])
        tag = hashlib.sha256(f"{connection.vendor}:{database}".encode()).hexdigest()[:10]
        path = Path(settings.VAR_DIR) / "analytics" / f"{Path(database).stem}-{tag}.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def connect(*, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse file. DuckDB lets one process write a file at a time: a
    reader that finds it locked by the ETL retries for a few seconds."""
    path = warehouse_path()
    if read_only and not path.exists():
        read_only = False  # nothing to read yet: create the empty schema
    con = _open(path, read_only)
    try:
        if not read_only:
            schema_ensure(con)
        elif _version(con) != SCHEMA_VERSION:  # an older file: rebuild its schema first
            con.close()
            con = _open(path, False)
            schema_ensure(con)
            con.close()
            con = _open(path, True)
        yield con
    finally:
        con.close()


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + 10
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _version(con: duckdb.DuckDBPyConnection) -> int | None:
    try:
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    except duckdb.CatalogException:
        return None
    return None if row is None else int(row[0])


def schema_ensure(con: duckdb.DuckDBPyConnection) -> bool:
    """Create the star schema if missing or of another version; True when (re)built."""
    con.execute("CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    if _version(con) == SCHEMA_VERSION:
        return False
    for name in STAR_TABLES:
        con.execute(f"DROP TABLE IF EXISTS {name}")
    for name, columns in STAR_TABLES.items():
        con.execute(f"CREATE TABLE {name} ({columns})")
    con.execute("DELETE FROM meta")
    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    return True


def meta_get(con: duckdb.DuckDBPyConnection, key: str, default: str = "") -> str:
    row = con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return default if row is None else str(row[0])


def meta_set(con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
    con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])
