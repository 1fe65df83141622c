"""Benchmark of the 7P customer analysis (xietong/analytics/customers.py): the whole refresh —
features in DuckDB, k-means profiling, the churn model (train, time-based validation, refit),
BG/NBD + Gamma-Gamma CLV, FP-growth rules, and the write of the results — over a large star.

Usage:

    .venv/bin/python benchmarks/bench_customers.py [--customers 100000] [--orders 2000000]
        [--seed 7] [--keep FILE]

Data (own deterministic generator, numpy seed, written straight into a DuckDB warehouse file
with Arrow): `--customers` customers of company 1 in 4 groups and 31 regions, each with a start
date, a purchase rate (gamma) and a lifetime (exponential: about half stop before the end),
`--orders` orders spread over the customers by rate × active time and dated uniformly within
their active span over 3 years up to 2026-06-30; 1-3 lines per order over 2,000 products
(Zipf-like popularity, 30 planted product pairs) in 12 top categories with margins of 10-45 %;
a credit note for 2 % of the orders and a receivable for each order (paid, or open and
sometimes overdue).

The refresh runs in a child process (so that its peak RSS is its own) on the file, as of
2026-06-30 with a 90-day churn horizon; printed: the time of each step, the total (target
< 60 s), the peak RSS, the churn model's validation AUC, the k chosen, the CLV fit, then the
time of the overview's reads (overview lists, cohorts, whale curve) for all customers and for
one rep. Record the figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

END = dt.date(2026, 6, 30)
DAYS = 3 * 365
CHUNK = 500_000


def generate(con, customers: int, orders: int, seed: int) -> int:  # type: ignore[no-untyped-def]
    """Write the star of company 1; returns the number of order lines."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    products = 2_000
    con.execute("INSERT INTO dim_company VALUES (1, 'Bench', 'CNY')")
    top = rng.integers(0, 12, products)
    unit_cost = rng.uniform(5, 300, products).round(2)
    markup = 1 / (1 - rng.uniform(0.10, 0.45, products))
    con.register("p", pa.table({
        "product_key": np.arange(1, products + 1), "company_id": np.ones(products, np.int64),
        "sku": [f"SKU{i:05d}" for i in range(products)],
        "product": [f"Product {i}" for i in range(products)],
        "category": [f"Top {t:02d} / Cat {i % 5}" for i, t in enumerate(top)],
        "top_category": [f"Top {t:02d}" for t in top], "unit_cost": unit_cost,
    }))  # fmt: skip
    con.execute("INSERT INTO dim_product SELECT * FROM p")
    owner = rng.integers(1, 41, customers)
    con.register("c", pa.table({
        "customer_key": np.arange(1, customers + 1), "company_id": np.ones(customers, np.int64),
        "code": [f"C{i:06d}" for i in range(customers)],
        "customer": [f"Customer {i}" for i in range(customers)],
        "customer_group": [f"Group {g}" for g in rng.integers(0, 4, customers)],
        "region": [f"Region {r:02d}" for r in rng.integers(0, 31, customers)],
        "country": ["China"] * customers, "owner_id": owner, "owner": [f"Rep {o}" for o in owner],
    }))  # fmt: skip
    con.execute("INSERT INTO dim_customer SELECT * FROM c")
    # customers: start, lifetime, rate; orders spread by rate × active days
    start = rng.integers(0, DAYS - 30, customers)
    life = rng.exponential(700, customers).astype(np.int64) + 1
    stop = np.minimum(start + life, DAYS - 1)
    rate = rng.gamma(0.8, 1.0, customers)
    weight = rate * (stop - start + 1)
    counts = rng.multinomial(orders, weight / weight.sum())
    customer_of = np.repeat(np.arange(1, customers + 1), counts)
    span = (stop - start + 1)[customer_of - 1]
    day = start[customer_of - 1] + (rng.random(orders) * span).astype(np.int64)
    order_ids = np.arange(1, orders + 1)
    epoch = (END - dt.timedelta(days=DAYS - 1) - dt.date(1970, 1, 1)).days
    popularity = 1 / np.arange(1, products + 1) ** 0.8
    popularity /= popularity.sum()
    pairs = rng.choice(200, size=(30, 2), replace=False) + 1
    follow = np.zeros(products + 1, np.int64)
    follow[pairs[:, 0]] = pairs[:, 1]
    n_lines = rng.integers(1, 4, orders)
    line_order = np.repeat(order_ids, n_lines)
    product = rng.choice(products, size=len(line_order), p=popularity) + 1
    # planted pairs: the follower joins half of the orders with the leader
    first = np.concatenate([[True], line_order[1:] != line_order[:-1]])
    add = first & (follow[product] > 0) & (rng.random(len(product)) < 0.5)
    extra_order, extra_product = line_order[add], follow[product[add]]
    line_order = np.concatenate([line_order, extra_order])
    product = np.concatenate([product, extra_product])
    quantity = rng.integers(1, 10, len(product)).astype(float)
    cost = (quantity * unit_cost[product - 1]).round(2)
    revenue = (cost * markup[product - 1]).round(2)
    lines = len(product)
    for at in range(0, lines, CHUNK):
        sl = slice(at, at + CHUNK)
        o = line_order[sl]
        n = len(o)
        con.register("f", pa.table({
            "line_id": np.arange(at + 1, at + n + 1), "order_id": o,
            "company_id": np.ones(n, np.int64),
            "date": pa.array((epoch + day[o - 1]).astype("int32"), pa.date32()),
            "customer_key": customer_of[o - 1], "product_key": product[sl],
            "salesperson_key": owner[customer_of[o - 1] - 1], "warehouse_key": np.ones(n, np.int64),
            "currency": pa.array(["CNY"] * n), "state": pa.array(["confirmed"] * n),
            "quantity": quantity[sl], "revenue": revenue[sl], "cost": cost[sl],
        }))  # fmt: skip
        con.execute("INSERT INTO fact_sales_line SELECT * FROM f")
        con.unregister("f")
    totals = np.bincount(line_order, weights=revenue, minlength=orders + 1)[1:]
    credited = rng.random(orders) < 0.02
    k = int(credited.sum())
    con.register("cr", pa.table({
        "line_id": np.arange(1, k + 1), "invoice_id": np.arange(1, k + 1),
        "company_id": np.ones(k, np.int64),
        "date": pa.array((epoch + np.minimum(day[credited] + 10, DAYS - 1)).astype("int32"),
                         pa.date32()),
        "kind": pa.array(["out_refund"] * k), "customer_key": customer_of[credited],
        "product_key": np.ones(k, np.int64), "currency": pa.array(["CNY"] * k),
        "quantity": -np.ones(k), "invoiced": -(totals[credited] * 0.3).round(2),
    }))  # fmt: skip
    con.execute("INSERT INTO fact_invoice_line SELECT * FROM cr")
    recent = day > DAYS - 120
    open_ = recent & (rng.random(orders) < 0.5) | (rng.random(orders) < 0.01)
    con.register("ar", pa.table({
        "invoice_id": order_ids, "company_id": np.ones(orders, np.int64),
        "date": pa.array((epoch + day).astype("int32"), pa.date32()),
        "due_date": pa.array((epoch + day + 30).astype("int32"), pa.date32()),
        "customer_key": customer_of, "kind": pa.array(["out_invoice"] * orders),
        "total": totals.round(2), "ar_open": np.where(open_, totals, 0).round(2),
    }))  # fmt: skip
    con.execute("INSERT INTO fact_receivable SELECT * FROM ar")
    return lines


def refresh_child(path: str) -> None:
    """Run the refresh on `path` and print its summary as JSON (with the peak RSS)."""
    import django

    django.setup()
    import duckdb

    from xietong.analytics import customers

    con = duckdb.connect(path)
    started = time.perf_counter()
    summary = customers.refresh(con, company_id=1, as_of=END, horizon_days=90)
    summary["wall"] = time.perf_counter() - started
    summary["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    con.close()
    print(json.dumps(summary, default=str))


def reads(path: str) -> None:
    import django

    django.setup()
    import duckdb

    from xietong.analytics import customers_reads

    con = duckdb.connect(path, read_only=True)
    for label, owner in (("all customers", None), ("one rep", 5)):
        started = time.perf_counter()
        page = customers_reads.overview(con, company_id=1, owner_id=owner)
        customers_reads.retention_cohorts(con, company_id=1, as_of=END, owner_id=owner)
        customers_reads.whale_curve(con, company_id=1, owner_id=owner)
        seconds = time.perf_counter() - started
        print(f"overview reads ({label}, {page['totals']['customers']:,} customers): "
              f"{seconds:.2f} s")  # fmt: skip
    started = time.perf_counter()
    customers_reads.customer_detail(con, company_id=1, customer_key=1234)
    print(f"one customer's 7P page: {time.perf_counter() - started:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 2)[2])  # fmt: skip
    parser.add_argument("--customers", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--orders", type=int, default=2_000_000, help="default 2,000,000")
    parser.add_argument("--seed", type=int, default=7, help="generator seed (default 7)")
    parser.add_argument("--keep", help="warehouse file to write and keep (default: a temp file)")
    parser.add_argument("--refresh-only", help=argparse.SUPPRESS)
    parser.add_argument("--reads-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.refresh_only:
        refresh_child(args.refresh_only)
        return
    if args.reads_only:
        reads(args.reads_only)
        return
    import django

    django.setup()
    import duckdb

    from xietong.analytics import warehouse

    path = Path(args.keep or Path(os.environ["XIETONG_VAR_DIR"]) / "bench-customers.duckdb")
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    warehouse.schema_ensure(con)
    started = time.perf_counter()
    lines = generate(con, args.customers, args.orders, args.seed)
    con.execute("CHECKPOINT")
    con.close()
    print(f"generate {args.customers:,} customers, {args.orders:,} orders, {lines:,} order "
          f"lines: {time.perf_counter() - started:.1f} s "
          f"({path.stat().st_size / 2**20:.0f} MiB)")  # fmt: skip
    out = subprocess.run(  # noqa: S603 (this very script)
        [sys.executable, __file__, "--refresh-only", str(path)], check=True,
                         capture_output=True, text=True)  # fmt: skip
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in summary["timings"].items())
    print(f"7P refresh: {summary['wall']:.1f} s (target < 60 s); {steps}")
    print(f"peak RSS of the refresh process: {summary['peak_rss_mib']:.0f} MiB")
    churn = summary["churn"]
    print(f"churn model: {churn['status']}, validation ROC AUC {churn.get('auc') or 0:.3f} on "
          f"{churn['valid_size']:,} customers (churn rate {churn['valid_churn_rate']:.2f})")  # fmt: skip
    profiling = summary["profiling"]
    print(f"k-means: k = {profiling.get('k')}, silhouette {profiling.get('silhouette', 0):.3f}; "
          f"CLV: {summary['clv']['status']}; association rules kept: {summary['rules']}")  # fmt: skip
    subprocess.run([sys.executable, __file__, "--reads-only", str(path)], check=True)  # noqa: S603
    if not args.keep:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
