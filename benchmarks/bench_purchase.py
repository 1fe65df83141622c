"""Benchmark of the purchase service layer: procure-to-pay throughput.

Usage (a fresh database each run: `bench_purchase.sqlite3` under XIETONG_VAR_DIR (a temporary
directory when unset) for SQLite, the PostgreSQL database `xt_bench_purchase` (dropped
afterwards) for PostgreSQL):

    .venv/bin/python benchmarks/bench_purchase.py --n 1000 --db sqlite
    .venv/bin/python benchmarks/bench_purchase.py --n 1000 --db postgres
    .venv/bin/python benchmarks/bench_purchase.py --n 10000 --db postgres
    .venv/bin/python benchmarks/bench_purchase.py --n 200 --profile /tmp/p2p.prof   # cProfile

The PostgreSQL server is taken from DATABASE_URL when it is set (the database name is replaced),
else postgres://postgres@127.0.0.1:5432.

`--n` purchase orders of `--lines` (5) lines each, every one taken through the services, one
after the other in a single process: `order_create` (priced from the supplier's price list) →
`order_submit` (the "purchase_order_approval" process; the orders are below the first band, so
approved at once, which makes and confirms the receipt) → `order_receive` of every line (stock
in, valued at the order's price: Dr stock / Cr GR/IR) → `invoice_from_orders` (the supplier
invoice on GR/IR) → `invoice_match` (3-way match) → `invoice_post` (the match checked again by
the posting veto) → `supplier_payment_run` for the supplier (one payment, posted and
reconciled). Timed: the loop only; prints orders per second, milliseconds per step, the
throughput per tenth of the run and the peak resident memory. Statistics are refreshed after
each tenth (ANALYZE, not timed: autovacuum is off on some servers). Then the invariants are
checked (not timed): ledger balanced with its hash chain, on hand = Σ done moves, order lines'
received/billed quantities from the moves and invoices (`assert_purchase_sound`), GR/IR and
payables at zero, every order done and every invoice paid.

Data (seed 11, the same on both databases), made through the services and not timed: one company
(CNY) with the PRC chart, moving-average valuation, the shipped processes, one warehouse
(one-step reception), 13 % input VAT as the default purchase tax, `--suppliers` (50) suppliers,
`--products` (200) stockable products with two supplier prices each (10–300 CNY, lead times
3–21 days); each order goes to a random supplier for distinct random products, 1–5 units each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

from bench_sales import (  # noqa: E402  (after the path and settings above)
    Queries,
    Steps,
    _analyze,
    bench_database,
    current_mb,
    profiled,
    rss_mb,
)

D = Decimal
SEED = 11


def setup(company, *, products: int, suppliers: int):  # type: ignore[no-untyped-def]
    """Chart, valuation, processes, warehouse, purchase settings, suppliers and products with
    supplier prices, through the services."""
    from xietong.core.models import UnitOfMeasure
    from xietong.core.services import user_create
    from xietong.core.tenancy import company_scope
    from xietong.finance.charts import chart_load
    from xietong.finance.models import Journal, Tax
    from xietong.inventory.valuation import valuation_setup
    from xietong.inventory.warehouses import warehouse_create
    from xietong.party.services import party_create
    from xietong.product.services import product_cost_set, product_create
    from xietong.purchase.common import purchase_settings
    from xietong.purchase.configuration import supplier_price_set
    from xietong.workflow.shipped import deploy_all

    rng = random.Random(SEED)  # noqa: S311
    with company_scope(company):
        chart_load(company=company, template="cn")
        valuation_setup(company=company)
        deploy_all(company=company, actor=None)
        warehouse = warehouse_create(company=company, code="SZ", name="Suzhou")
        settings = purchase_settings(company)
        settings.warehouse = warehouse
        settings.default_tax = Tax.unscoped.get(company=company, code="VAT13-P")
        settings.save()
        user = user_create(company=company, username="bench", password=None, roles=["admin"],
                           validate=False)  # fmt: skip
        pc = UnitOfMeasure.objects.get(code="pc")
        vendors = [
            party_create(
                company=company,
                actor=None,
                name=f"Supplier {n:03d}",
                is_supplier=True,
                allow_duplicate=True,
            )  # fmt: skip
            for n in range(suppliers)
        ]
        made = []
        for n in range(products):
            product = product_create(company=company, actor=None, sku=f"P{n:05d}",
                                     name=f"Part {n}", uom=pc)  # fmt: skip
            cost = D(rng.randint(1000, 30_000)) / 100
            product_cost_set(product=product, actor=None, cost=cost)
            for k in range(2):
                supplier_price_set(
                    company=company, actor=None, supplier=vendors[(n + k * 7) % suppliers],
                    product=product, price=(cost * D(rng.choice([95, 100, 105])) / 100
                                            ).quantize(D("0.01")),
                    lead_time_days=rng.randint(3, 21),
                )  # fmt: skip
            made.append(product)
        bank = Journal.unscoped.get(company=company, code="BNK")
    return {"user": user, "products": made, "suppliers": vendors, "bank": bank}


def orders_data(n: int, lines: int, products: int, suppliers: int) -> list[tuple[int, list]]:
    """(supplier index, [(product index, quantity)]) per order, seeded."""
    rng = random.Random(SEED + 1)  # noqa: S311
    return [
        (rng.randrange(suppliers),
         [(p, rng.randint(1, 5)) for p in rng.sample(range(products), lines)])
        for _ in range(n)
    ]  # fmt: skip


def one_cycle(data, ctx, steps: Steps) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    from xietong.finance.invoicing import invoice_post
    from xietong.purchase import matching, orders, receiving

    company, user = ctx["company"], ctx["user"]
    vendor_n, lines = data
    vendor = ctx["suppliers"][vendor_n]
    order = steps.run("create", lambda: orders.order_create(
        company=company, actor=user, party=vendor,
        lines=[{"product": ctx["products"][p], "quantity": D(q)} for p, q in lines],
    ))  # fmt: skip
    order = steps.run("submit (approved, receipt made)",
                      lambda: orders.order_submit(order=order, actor=user))  # fmt: skip
    steps.run("receive", lambda: receiving.order_receive(
        order=order, actor=user,
        lines=[{"line": line, "quantity": line.quantity} for line in order.lines.all()],
    ))  # fmt: skip
    invoice = steps.run("bill", lambda: matching.invoice_from_orders(
        company=company, actor=user, orders=[order], reference=f"INV-{order.pk}"))  # fmt: skip
    steps.run("match", lambda: matching.invoice_match(invoice=invoice, actor=user))
    steps.run("post", lambda: invoice_post(invoice=invoice, actor=user))
    steps.run("pay", lambda: matching.supplier_payment_run(
        company=company, journal=ctx["bank"], date=timezone.localdate(), actor=user,
        due_by=timezone.localdate() + dt.timedelta(days=365),
        suppliers=[vendor],
    ))  # fmt: skip


def run(company, args) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.db.models import Sum

    from xietong.finance.models import Entry, Invoice, Line
    from xietong.finance.tests.invariants import assert_ledger_sound
    from xietong.inventory.tests.invariants import assert_stock_sound
    from xietong.purchase.models import PurchaseOrder
    from xietong.purchase.tests.invariants import assert_purchase_sound

    data = orders_data(args.n, args.lines, args.products, args.suppliers)
    started = time.perf_counter()
    ctx = setup(company, products=args.products, suppliers=args.suppliers)
    ctx["company"] = company
    print(f"setup: {time.perf_counter() - started:.1f} s ({args.products} products, "
          f"{args.suppliers} suppliers)")  # fmt: skip
    _analyze(connection)
    queries = Queries()
    steps = Steps(queries)
    marks: list[float] = []
    analyzing = [0.0, 0.0]
    before_mb = current_mb()

    def loop() -> None:
        tenth = max(args.n // 10, 1)
        last = time.perf_counter()
        for i, item in enumerate(data, start=1):
            one_cycle(item, ctx, steps)
            if i % tenth == 0:
                now = time.perf_counter()
                marks.append(tenth / (now - last))
                paused = time.perf_counter(), time.process_time()
                _analyze(connection)
                analyzing[0] += time.perf_counter() - paused[0]
                analyzing[1] += time.process_time() - paused[1]
                last = time.perf_counter()

    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(queries):
        profiled(args.profile, loop)
    seconds = time.perf_counter() - started - analyzing[0]
    cpu = time.process_time() - cpu - analyzing[1]
    peak = rss_mb()

    started = time.perf_counter()
    assert_ledger_sound([company])
    assert_stock_sound([company])
    assert_purchase_sound(company)
    states = set(PurchaseOrder.unscoped.filter(company=company).values_list("state", flat=True))
    assert states == {PurchaseOrder.State.DONE}, states
    unpaid = Invoice.unscoped.filter(company=company).exclude(
        payment_state=Invoice.PaymentState.PAID).count()  # fmt: skip
    assert unpaid == 0, f"{unpaid} invoices not paid"
    for code in ("1402", "2202"):  # GR/IR and payables: nothing left
        sums = Line.unscoped.filter(company=company, account__code=code,
                                    entry__state=Entry.State.POSTED).aggregate(
            d=Sum("debit"), c=Sum("credit"))  # fmt: skip
        assert D(sums["d"] or 0) == D(sums["c"] or 0), code
    checks = time.perf_counter() - started

    n = args.n
    print()
    print(f"| {connection.vendor}: {n} purchase orders × {args.lines} lines, one at a time | "
          f"value |")  # fmt: skip
    print("|---|---|")
    print(f"| full cycles (create → … → payment) | {seconds:.1f} s = **{n / seconds:.1f} "
          f"orders/s** ({seconds / n * 1000:.1f} ms each; CPU of this process "
          f"{cpu / n * 1000:.1f} ms, {queries.count / n:.0f} SQL statements) |")  # fmt: skip
    for name, (wall, cpu_s, count) in steps.total.items():
        print(f"| {name} | {wall / n * 1000:.1f} ms per order ({wall / seconds:.0%}), CPU "
              f"{cpu_s / n * 1000:.1f} ms, {count / n:.0f} statements |")  # fmt: skip
    print(f"| orders/s per tenth of the run | {' '.join(f'{m:.1f}' for m in marks)} |")
    print(f"| statistics refreshed after each tenth (ANALYZE, not counted above) | "
          f"{analyzing[0]:.1f} s in all |")  # fmt: skip
    print(f"| peak resident memory | {peak:.0f} MB (before the loop {before_mb:.0f} MB) |")
    print(f"| invariants (ledger, stock, purchase, GR/IR and payables nil, all done and paid) | "
          f"OK, {checks:.1f} s |")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1000, help="purchase orders")
    parser.add_argument("--lines", type=int, default=5, help="lines per order")
    parser.add_argument("--products", type=int, default=200)
    parser.add_argument("--suppliers", type=int, default=50)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the timed part into FILE")
    args = parser.parse_args()
    with bench_database(args.db, "bench_purchase"):
        from xietong.core.services import company_create

        company = company_create(name="Bench Purchase", legal_name="Bench Purchase Ltd",
                                 base_currency="CNY", country="CN")  # fmt: skip
        run(company, args)


if __name__ == "__main__":
    main()
