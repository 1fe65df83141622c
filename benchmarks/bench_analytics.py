"""Benchmark of the analytics warehouse: the pivot query over a large star, and the ETL.

Usage:

    .venv/bin/python benchmarks/bench_analytics.py pivot [--lines 10000000] [--seed 3]
    .venv/bin/python benchmarks/bench_analytics.py etl [--lines 1000000] [--seed 3]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xietong_bench \
        .venv/bin/python benchmarks/bench_analytics.py etl        # PostgreSQL test DB, dropped after

`pivot` writes N order lines straight into a DuckDB warehouse file (its own deterministic
generator, numpy; 2,000 products in 60 categories under 12 top categories, 50,000 customers in
31 regions and 4 groups, dates over 3 years) and times `xietong.analytics.pivot.pivot`: revenue
by month × category × region (rows month, region; columns top category), filtered on two years
and two customer groups, median of 5 runs after a warm-up.

`etl` makes a test database (SQLite under a temporary directory, or the PostgreSQL test DB),
bulk-inserts N confirmed sales order lines (10 per order) and times the full load, then adds
another N lines and times the incremental load (peak Python memory by tracemalloc, and the
process's peak RSS), a run with nothing new and one after a single old order is cancelled.

Prints one line per measurement; record the figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

CHUNK = 1_000_000


def generate_star(con, lines: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Dimensions and `lines` sales facts of company 1, written with Arrow in chunks."""
    import datetime as dt

    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    products, customers, categories = 2_000, 50_000, 60
    top = [f"Top {i % 12:02d}" for i in range(categories)]
    con.execute("INSERT INTO dim_company VALUES (1, 'Bench', 'CNY')")
    product_category = rng.integers(0, categories, products)
    unit_cost = rng.uniform(5, 500, products).round(2)
    con.register("p", pa.table({
        "product_key": np.arange(1, products + 1), "company_id": np.ones(products, dtype=np.int64),
        "sku": [f"SKU{i:05d}" for i in range(products)],
        "product": [f"Product {i}" for i in range(products)],
        "category": [f"{top[c]} / Cat {c:02d}" for c in product_category],
        "top_category": [top[c] for c in product_category], "unit_cost": unit_cost,
    }))  # fmt: skip
    con.execute("INSERT INTO dim_product SELECT * FROM p")
    region = rng.integers(0, 31, customers)
    group = rng.integers(0, 4, customers)
    owner = rng.integers(1, 41, customers)
    con.register("c", pa.table({
        "customer_key": np.arange(1, customers + 1),
        "company_id": np.ones(customers, dtype=np.int64),
        "code": [f"C{i:06d}" for i in range(customers)],
        "customer": [f"Customer {i}" for i in range(customers)],
        "customer_group": [f"Group {g}" for g in group],
        "region": [f"Region {r:02d}" for r in region], "country": ["China"] * customers,
        "owner_id": owner, "owner": [f"Rep {o}" for o in owner],
    }))  # fmt: skip
    con.execute("INSERT INTO dim_customer SELECT * FROM c")
    start = dt.date(2024, 1, 1)
    days = 3 * 365
    con.execute(
        """INSERT INTO dim_date SELECT d, year(d), year(d) || '-Q' || quarter(d),
        strftime(d, '%Y-%m'), strftime(d, '%G-W%V'), strftime(d, '%Y-%m-%d')
        FROM (SELECT CAST(? AS DATE) + INTERVAL (i) DAY AS d FROM range(?) t(i))""",
        [start, days],
    )
    epoch = (start - dt.date(1970, 1, 1)).days
    done = 0
    while done < lines:
        n = min(CHUNK, lines - done)
        ids = np.arange(done + 1, done + n + 1, dtype=np.int64)
        product = rng.integers(1, products + 1, n)
        quantity = rng.integers(1, 20, n)
        price = unit_cost[product - 1] * rng.uniform(1.1, 1.8, n)
        revenue = (quantity * price).round(2)
        cost = (quantity * unit_cost[product - 1]).round(2)
        con.register("f", pa.table({
            "line_id": ids, "order_id": ids // 10, "company_id": np.ones(n, dtype=np.int64),
            "date": pa.array((epoch + rng.integers(0, days, n)).astype("int32"), pa.date32()),
            "customer_key": rng.integers(1, customers + 1, n), "product_key": product,
            "salesperson_key": rng.integers(1, 41, n), "warehouse_key": rng.integers(1, 4, n),
            "currency": pa.array(["CNY"] * n).dictionary_encode().cast(pa.string()),
            "state": pa.array(["confirmed"] * n),
            "quantity": quantity.astype("float64"), "revenue": revenue, "cost": cost,
        }))  # fmt: skip
        con.execute("INSERT INTO fact_sales_line SELECT * FROM f")
        con.unregister("f")
        done += n


def bench_pivot(lines: int, seed: int) -> None:
    import django

    django.setup()
    import duckdb

    from xietong.analytics import pivot as olap
    from xietong.analytics import warehouse

    path = Path(os.environ["XIETONG_VAR_DIR"]) / "bench-pivot.duckdb"
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    warehouse.schema_ensure(con)
    started = time.perf_counter()
    generate_star(con, lines, seed)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    warehouse.aggregates_rebuild(con)
    aggregated = time.perf_counter() - started
    rows = con.execute("SELECT count(*) FROM agg_sales_month").fetchone()[0]
    con.execute("CHECKPOINT")
    print(
        f"rebuild the monthly aggregate (as every ETL run does): {aggregated:.1f} s, {rows:,} rows"
    )
    print(f"generate {lines:,} order lines into DuckDB: {generated:.1f} s "
          f"({path.stat().st_size / 2**20:.0f} MiB)")  # fmt: skip
    con.close()
    con = duckdb.connect(str(path), read_only=True)
    backend = olap.duckdb_backend(con)
    question = {"measures": ["revenue"], "rows": ["month", "region"],
                "columns": ["top_category"],
                "filters": {"year": ["2025", "2026"], "customer_group": ["Group 1", "Group 2"]}}  # fmt: skip

    def ask(**extra):  # type: ignore[no-untyped-def]
        return olap.pivot(backend=backend, company_ids=[1], **question, **extra)

    def timed(fn, repeat: int = 5):  # type: ignore[no-untyped-def]
        fn()  # warm-up
        samples = []
        for _ in range(repeat):
            t = time.perf_counter()
            result = fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples), max(samples), result

    median, worst, result = timed(ask)
    print(f"pivot revenue by month x region x top category, 2 years, 2 groups: "
          f"{median * 1000:.0f} ms median (max {worst * 1000:.0f}), "
          f"{len(result.row_keys)} rows x {len(result.column_keys)} columns")  # fmt: skip
    median, worst, result = timed(lambda: olap.pivot(
        backend=backend, company_ids=[1], measures=["revenue", "margin", "orders", "customers"],
        rows=["year", "quarter"], columns=["top_category"], filters={}))  # fmt: skip
    print(f"pivot revenue, margin, distinct orders and customers by quarter x top category: "
          f"{median * 1000:.0f} ms median (max {worst * 1000:.0f})")  # fmt: skip
    median, worst, result = timed(lambda: olap.pivot(
        backend=backend, company_ids=[1], measures=["revenue", "orders", "customers"],
        rows=question["rows"], columns=question["columns"], filters=question["filters"]),
        repeat=3)  # fmt: skip
    print(f"the first pivot with distinct orders and customers (many cells: counted per level): "
          f"{median * 1000:.0f} ms median (max {worst * 1000:.0f})")  # fmt: skip
    median, worst, result = timed(lambda: ask(use_aggregates=False), repeat=3)
    print(
        f"the same pivot from the order lines (no aggregate): {median * 1000:.0f} ms median "
        f"(max {worst * 1000:.0f})"
    )
    median, worst, result = timed(lambda: ask(owner_id=7))
    print(f"the first pivot for one rep (own customers only): {median * 1000:.0f} ms median")
    con.close()
    path.unlink(missing_ok=True)


def bench_etl(lines: int, seed: int) -> None:
    import datetime as dt
    import random
    from decimal import Decimal

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    class NoMigrations(dict):
        """Tables straight from the models (as the tests' --no-migrations)."""

        def __contains__(self, item: object) -> bool:
            return True

        def __getitem__(self, item: str) -> None:
            return None

    settings.MIGRATION_MODULES = NoMigrations()
    setup_test_environment()
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ANALYTICS_WAREHOUSE = str(Path(os.environ["XIETONG_VAR_DIR"]) / "bench-etl.duckdb")
    try:
        from xietong.analytics import etl
        from xietong.core import services as core_services
        from xietong.core.tenancy import company_scope
        from xietong.inventory.warehouses import warehouse_create
        from xietong.party.services import party_create
        from xietong.product.models import Product
        from xietong.product.services import product_create
        from xietong.product.tests.catalog_factories import unit
        from xietong.sales.models import SalesOrder, SalesOrderLine

        company = core_services.company_create(name="Bench", legal_name="Bench Ltd",
                                               base_currency="CNY", country="CN")  # fmt: skip
        rng = random.Random(seed)  # noqa: S311
        with company_scope(company):
            stock = warehouse_create(company=company, code="WH", name="Bench")
            pc = unit("pc")
            products = [product_create(company=company, actor=None, sku=f"B{i:04d}",
                                       name=f"Bench {i}", list_price=Decimal(100), uom=pc)
                        for i in range(200)]  # fmt: skip
            customers = [party_create(company=company, actor=None, name=f"Bench customer {i}",
                                      is_customer=True, allow_duplicate=True)
                         for i in range(500)]  # fmt: skip
        product_ids = [p.pk for p in Product.unscoped.filter(pk__in=[p.pk for p in products])]
        serial = [0]

        def insert(n: int) -> float:
            started = time.perf_counter()
            orders_n = n // 10
            for start in range(0, orders_n, 5_000):
                count = min(5_000, orders_n - start)
                orders = SalesOrder.unscoped.bulk_create([SalesOrder(
                    company=company, number=f"SO{serial[0] + i:08d}",
                    party=customers[rng.randrange(500)],
                    date=dt.date(2025, 1, 1) + dt.timedelta(days=rng.randrange(700)),
                    currency_id="CNY", state="confirmed", invoice_policy="order",
                    warehouse=stock,
                ) for i in range(count)], batch_size=2_000)  # fmt: skip
                serial[0] += count
                if connection.vendor == "sqlite" and orders[0].pk is None:
                    raise SystemExit("bulk_create did not return ids")
                SalesOrderLine.objects.bulk_create([SalesOrderLine(
                    order=o, product_id=rng.choice(product_ids), description="x",
                    quantity=Decimal(rng.randint(1, 9)), uom=pc, unit_price=Decimal(100),
                    amount_untaxed=Decimal(rng.randint(100, 900)), invoice_policy="order",
                ) for o in orders for _ in range(10)], batch_size=5_000)  # fmt: skip
            return time.perf_counter() - started

        def measured(full: bool) -> tuple[float, float, dict]:
            tracemalloc.start()
            started = time.perf_counter()
            result = etl.etl_run(full=full)
            seconds = time.perf_counter() - started
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            return seconds, peak, result

        print(f"vendor={connection.vendor}")
        print(f"insert {lines:,} operational order lines (bulk_create): {insert(lines):.1f} s")
        seconds, peak, result = measured(True)
        print(f"ETL full load: {seconds:.1f} s, {result['rows']['fact_sales_line']:,} fact rows, "
              f"peak Python memory {peak:.0f} MiB")  # fmt: skip
        print(f"insert {lines:,} more order lines: {insert(lines):.1f} s")
        seconds, peak, result = measured(False)
        print(f"ETL incremental load of {lines:,} new lines: {seconds:.1f} s, "
              f"{result['rows']['fact_sales_line']:,} fact rows, peak Python memory {peak:.0f} MiB")  # fmt: skip
        seconds, peak, result = measured(False)
        print(f"ETL incremental with nothing new: {seconds:.2f} s")
        with company_scope(company):  # a late change: the first order cancelled (audited)
            late = SalesOrder.unscoped.order_by("pk").first()
            late.state = "cancelled"
            late.save(update_fields=["state"])
        seconds, peak, result = measured(False)
        print(f"ETL incremental after one old order cancelled (its month re-aggregated): "
              f"{seconds:.2f} s")  # fmt: skip
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the process: {rss:.0f} MiB")
    finally:
        connection.creation.destroy_test_db(connection.settings_dict["NAME"], verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["pivot", "etl"])
    parser.add_argument("--lines", type=int)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    if args.what == "pivot":
        bench_pivot(args.lines or 10_000_000, args.seed)
    else:
        bench_etl(args.lines or 1_000_000, args.seed)


if __name__ == "__main__":
    main()
