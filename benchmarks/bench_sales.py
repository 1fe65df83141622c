"""Benchmark of the sales service layer: order-to-cash throughput, and confirming one large order.

Usage (a fresh database each run: the file `bench_sales_<mode>.sqlite3` under XIETONG_VAR_DIR (a
temporary directory when unset) for SQLite, the dedicated PostgreSQL database
`xt_bench_sales_<mode>` (dropped afterwards) for PostgreSQL):

    .venv/bin/python benchmarks/bench_sales.py --n 1000 --db sqlite
    .venv/bin/python benchmarks/bench_sales.py --n 1000 --db postgres
    .venv/bin/python benchmarks/bench_sales.py --n 10000 --db postgres
    .venv/bin/python benchmarks/bench_sales.py --n 10000 --batch 100 --db postgres   # set-based
    .venv/bin/python benchmarks/bench_sales.py --mode confirm --lines 1000 --db sqlite
    .venv/bin/python benchmarks/bench_sales.py --mode confirm --lines 1000 --db postgres
    .venv/bin/python benchmarks/bench_sales.py --n 200 --profile /tmp/cycle.prof   # cProfile
    .venv/bin/python benchmarks/bench_sales.py --mode confirm --profile /tmp/confirm.prof
    .venv/bin/python benchmarks/bench_sales.py --n 5 --sql /tmp/cycle.sql   # one cycle's SQL

The PostgreSQL server is taken from DATABASE_URL when it is set (the database name is replaced),
else postgres://postgres@127.0.0.1:5432.

Mode `cycle` (issue: at least 150 full cycles per second on PostgreSQL): `--n` sales orders of
`--lines` lines (5) each, every one taken through the services, one order after the other in a
single process: `order_create` → `order_confirm` (credit check, ATP promise, delivery picking,
reservation) → `picking_done` of its delivery → `order_invoice(post=True)` (the customer invoice
and its journal entry; the order becomes done) → `payment_create` + `payment_post` with the
invoice as allocation (bank entry, reconciliation, invoice paid). Timed: the loop only; prints
orders per second, milliseconds per step, throughput per tenth of the run (to see it degrade as
the tables grow), and the peak resident memory of the process. With `--batch K` the orders go
through in chunks of K: created with `orders_create`, confirmed with
`orders_confirm`, its ready deliveries validated with `pickings_done`, invoiced and posted with
`orders_invoice(post=True)` and paid by `payments_register` (one payment per invoice) — what a
user does on a selection of orders, a wave of deliveries and a payment run. Then the invariants are checked
(not timed): ledger balanced with its hash chain (`assert_ledger_sound`), on hand = Σ done moves
and sound reservations (`assert_stock_sound`), order lines' delivered / invoiced quantities from
the moves and invoice links and invoice totals = order totals (`assert_sales_sound`), every order
done and every invoice paid.

Mode `confirm` (issue: one 1,000-line order confirmed, ATP included, in under 2 s): a draft order
of `--lines` (1,000) lines of distinct stocked products is created (timed apart), then confirmed;
`--repeat` fresh orders, min / median / max. The ATP call alone (`atp.promise_dates` for the same
lines, read-only) is timed as well.

Data (seed 7, the same on both databases), made through the services and not timed: one company
(CNY) with the PRC chart (`chart_load`), moving-average valuation, one warehouse (one-step
delivery), a default price list, 13 % VAT as the default sales tax, a user acting for every call,
`--customers` (100) customers, `--products` (200 in cycle mode; `--lines` in confirm mode)
stockable products at prices 10–2,000 received in stock in one receipt each (enough for every
order); each order has distinct random products, 1–5 units each, priced from the price list.

`--profile FILE` runs the timed part under cProfile, writes the stats to FILE and prints the top
functions by cumulative and by own time. `--sql FILE` writes the statements of the last cycle,
in order and grouped by shape.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import io
import os
import pstats
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

D = Decimal
SEED = 7


def rss_mb() -> float:
    """Peak resident memory of this process so far (MB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def setup(company, *, products: int, customers: int, stock_for: dict[int, int] | None = None):  # type: ignore[no-untyped-def]
    """The company's chart, valuation, warehouse, price list, taxes, products in stock and
    customers, through the services. `stock_for` {product index: units}; default 10,000."""
    from django.utils import timezone

    from xietong.core.models import UnitOfMeasure
    from xietong.core.services import user_create
    from xietong.core.tenancy import company_scope
    from xietong.finance.charts import chart_load
    from xietong.finance.models import Journal, Tax
    from xietong.inventory import stock
    from xietong.inventory.models import Location
    from xietong.inventory.valuation import valuation_setup
    from xietong.inventory.warehouses import virtual_locations, warehouse_create
    from xietong.party.services import party_create
    from xietong.product import pricing
    from xietong.product.services import product_create
    from xietong.sales.common import sales_settings

    rng = random.Random(SEED)  # noqa: S311
    with company_scope(company):
        chart_load(company=company, template="cn")
        valuation_setup(company=company)
        warehouse = warehouse_create(company=company, code="SH", name="Shanghai")
        pricing.price_list_create(company=company, actor=None, name="Standard",
                                  currency=company.base_currency_id, is_default=True)  # fmt: skip
        settings = sales_settings(company)
        settings.default_tax = Tax.unscoped.get(company=company, code="VAT13-S")
        settings.warehouse = warehouse
        settings.save()
        user = user_create(company=company, username="bench", password=None, roles=["admin"],
                           validate=False)  # fmt: skip
        pc = UnitOfMeasure.objects.get(code="pc")
        made = []
        for n in range(products):
            price = D(rng.randint(1000, 200_000)) / 100
            made.append(
                product_create(
                    company=company,
                    actor=None,
                    sku=f"B{n:05d}",
                    name=f"Item {n}",
                    uom=pc,
                    list_price=price,
                )  # fmt: skip
            )
        supplier = virtual_locations(company=company)[Location.Usage.SUPPLIER]
        moves = [
            stock.move_create(
                company=company,
                product=product,
                quantity=D((stock_for or {}).get(n, 10_000)),
                from_location=supplier,
                to_location=warehouse.stock_location,
                planned_date=timezone.localdate(),
                unit_cost=(product.list_price * D("0.6")).quantize(D("0.01")),
            )  # fmt: skip
            for n, product in enumerate(made)
        ]
        for start in range(0, len(moves), 200):
            stock.moves_done(moves=moves[start : start + 200])
        parties = [
            party_create(
                company=company,
                actor=None,
                name=f"Customer {n:04d}",
                is_customer=True,
                allow_duplicate=True,
            )  # fmt: skip
            for n in range(customers)
        ]
        bank = Journal.unscoped.get(company=company, code="BNK")
    return {"user": user, "products": made, "parties": parties, "bank": bank,
            "warehouse": warehouse}  # fmt: skip


def orders_data(n: int, lines: int, products: int, customers: int) -> list[tuple[int, list]]:
    """(customer index, [(product index, quantity)]) per order, seeded."""
    rng = random.Random(SEED + 1)  # noqa: S311
    return [
        (rng.randrange(customers),
         [(p, rng.randint(1, 5)) for p in rng.sample(range(products), lines)])
        for _ in range(n)
    ]  # fmt: skip


class Queries:
    """Counts the SQL statements run on the default connection (an execute wrapper)."""

    def __init__(self) -> None:
        self.count = 0
        self.step = ""
        self.log: list[tuple[str, str]] | None = None  # (step, SQL) while recording

    def __call__(self, execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        self.count += 1
        if self.log is not None:
            self.log.append((self.step, sql))
        return execute(sql, params, many, context)


class Steps:
    """Wall-clock seconds, CPU seconds of this process and SQL statements per step name."""

    def __init__(self, queries: Queries) -> None:
        self.queries = queries
        self.total: dict[str, list[float]] = {}

    def run(self, name: str, fn):  # type: ignore[no-untyped-def]
        wall, cpu, count = time.perf_counter(), time.process_time(), self.queries.count
        self.queries.step = name
        result = fn()
        row = self.total.setdefault(name, [0.0, 0.0, 0])
        row[0] += time.perf_counter() - wall
        row[1] += time.process_time() - cpu
        row[2] += self.queries.count - count
        return result


def one_cycle(data, ctx, steps: Steps):  # type: ignore[no-untyped-def]
    from xietong.finance.payments import payment_create, payment_post
    from xietong.inventory import pickings as picking_services
    from xietong.inventory.models import Picking
    from xietong.sales import billing, documents

    company, user = ctx["company"], ctx["user"]
    party_index, lines = data
    party = ctx["parties"][party_index]
    specs = [{"product": ctx["products"][p], "quantity": D(q)} for p, q in lines]
    order = steps.run("create", lambda: documents.order_create(
        company=company, actor=user, party=party, lines=specs))  # fmt: skip
    order = steps.run("confirm", lambda: documents.order_confirm(order=order, actor=user))

    def deliver() -> None:
        for picking in documents.order_pickings(order):
            if picking.state == Picking.State.READY:
                picking_services.picking_done(picking=picking, actor=user)

    steps.run("deliver", deliver)
    invoice = steps.run("invoice+post", lambda: billing.order_invoice(
        order=order, actor=user, post=True))  # fmt: skip

    def pay():  # type: ignore[no-untyped-def]
        payment = payment_create(
            company=company, actor=user, direction="inbound", party=party, journal=ctx["bank"],
            date=invoice.date, amount=invoice.amount_total,
        )  # fmt: skip
        return payment_post(payment=payment, actor=user, allocations=[invoice])

    steps.run("payment", pay)
    return order


def batch_cycle(chunk, ctx, steps: Steps):  # type: ignore[no-untyped-def]
    """The cycle of `chunk` orders with the set-based services: created at once
    (`orders_create`), confirmed at once (`orders_confirm`), their deliveries validated at once
    (`pickings_done`), invoiced and posted at once (`orders_invoice`) and paid by one payment
    run (`payments_register`)."""
    from xietong.finance.payments import payments_register
    from xietong.inventory import pickings as picking_services
    from xietong.inventory.models import Picking
    from xietong.sales import billing, documents

    company, user = ctx["company"], ctx["user"]

    def create():  # type: ignore[no-untyped-def]
        return documents.orders_create(company=company, actor=user, orders=[
            {"party": ctx["parties"][party_index],
             "lines": [{"product": ctx["products"][p], "quantity": D(q)} for p, q in lines]}
            for party_index, lines in chunk
        ])  # fmt: skip

    orders = steps.run("create", create)
    orders = steps.run("confirm", lambda: documents.orders_confirm(orders=orders, actor=user))

    def deliver():  # type: ignore[no-untyped-def]
        ready = Picking.unscoped.filter(
            company_id=company.pk, source_type=documents.ORDER_SOURCE,
            source_id__in=[order.pk for order in orders], state=Picking.State.READY,
        ).order_by("pk")  # fmt: skip
        return picking_services.pickings_done(pickings=list(ready), actor=user)

    steps.run("deliver", deliver)
    invoices = steps.run("invoice+post", lambda: billing.orders_invoice(
        orders=orders, actor=user, post=True))  # fmt: skip
    steps.run("payment", lambda: payments_register(
        invoices=invoices, journal=ctx["bank"], date=max(i.date for i in invoices), actor=user))  # fmt: skip
    return orders


def profiled(path: str | None, fn):  # type: ignore[no-untyped-def]
    if not path:
        return fn()
    profiler = cProfile.Profile()
    result = profiler.runcall(fn)
    profiler.dump_stats(path)
    for key, title, where, top in (
        ("cumulative", "cumulative time, xietong code", "xietong", 45),
        ("cumulative", "cumulative time, everything", "", 30),
        ("tottime", "own time", "", 30),
    ):
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats(key)
        stats.print_stats(*([where] if where else []), top)
        text = out.getvalue()
        text = text[text.index("   ncalls") :] if "   ncalls" in text else text
        print(f"--- profile: top {top} by {title} (stats in {path}) ---")
        print(text.replace(str(Path(__file__).resolve().parent.parent) + "/", "").rstrip())
    return result


def run_cycle(company, args) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from xietong.finance.models import Invoice
    from xietong.finance.tests.invariants import assert_ledger_sound
    from xietong.inventory.tests.invariants import assert_stock_sound
    from xietong.sales.models import SalesOrder
    from xietong.sales.tests.invariants import assert_sales_sound

    products = args.products or 200
    data = orders_data(args.n, args.lines, products, args.customers)
    demand: dict[int, int] = {}
    for _party, lines in data:
        for p, q in lines:
            demand[p] = demand.get(p, 0) + q
    started = time.perf_counter()
    ctx = setup(company, products=products, customers=args.customers,
                stock_for={p: q + 10 for p, q in demand.items()})  # fmt: skip
    ctx["company"] = company
    print(f"setup: {time.perf_counter() - started:.1f} s ({products} products, "
          f"{args.customers} customers, {sum(demand.values())} units in stock)")  # fmt: skip
    _analyze(connection)

    queries = Queries()
    steps = Steps(queries)
    marks: list[float] = []
    tenths: list[dict[str, float]] = []  # CPU ms per order and step, per tenth of the run
    before_mb = current_mb()

    def loop() -> None:
        tenth = max(args.n // 10, 1)
        last = time.perf_counter()
        if args.batch:  # chunks of --batch orders through the set-based services
            tenth = max(tenth // args.batch * args.batch, args.batch)
            chunks = [(i + len(data[i:i + args.batch]), data[i:i + args.batch])
                      for i in range(0, len(data), args.batch)]  # fmt: skip
        else:
            chunks = [(i, order) for i, order in enumerate(data, start=1)]
        for i, item in chunks:
            if args.sql and i == len(data):
                queries.log = []
            if args.batch:
                batch_cycle(item, ctx, steps)
            else:
                one_cycle(item, ctx, steps)
            if i % tenth == 0:
                now = time.perf_counter()
                marks.append(tenth / (now - last))
                last = now
                seen = {k: v[1] for k, v in steps.total.items()}
                before = tenths_sum.copy()
                tenths.append({k: (v - before.get(k, 0.0)) / tenth * 1000 for k, v in seen.items()})
                tenths_sum.update(seen)
                # statistics as autovacuum keeps them (it is off on some servers, and plans
                # made for the empty tables of the start, foreign-key checks included, would
                # scan the grown tables); not timed: autovacuum runs beside the application
                paused = time.perf_counter(), time.process_time()
                _analyze(connection)
                analyzing[0] += time.perf_counter() - paused[0]
                analyzing[1] += time.process_time() - paused[1]
                last = time.perf_counter()

    tenths_sum: dict[str, float] = {}
    analyzing = [0.0, 0.0]  # wall and CPU seconds of the ANALYZE runs, left out of the figures

    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(queries):
        profiled(args.profile, loop)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    seconds, cpu = seconds - analyzing[0], cpu - analyzing[1]
    peak = rss_mb()
    if args.sql:
        _sql_write(args.sql, queries.log or [])

    started = time.perf_counter()
    assert_ledger_sound([company])
    assert_stock_sound([company])
    assert_sales_sound(company)
    states = set(SalesOrder.unscoped.filter(company=company).values_list("state", flat=True))
    assert states == {SalesOrder.State.DONE}, states
    unpaid = (
        Invoice.unscoped.filter(company=company)
        .exclude(payment_state=Invoice.PaymentState.PAID)
        .count()
    )
    assert unpaid == 0, f"{unpaid} invoices not paid"
    checks = time.perf_counter() - started

    print()
    how = f", in batches of {args.batch}" if args.batch else ", one at a time"
    print(f"| {connection.vendor}: {args.n} orders × {args.lines} lines{how} | value |")
    print("|---|---|")
    n = args.n
    print(f"| full cycles (create → … → payment) | {seconds:.1f} s = **{n / seconds:.1f} orders/s**"
          f" ({seconds / n * 1000:.1f} ms each; CPU of this process {cpu / n * 1000:.1f} ms, "
          f"{queries.count / n:.0f} SQL statements) |")  # fmt: skip
    for name, (wall, cpu_s, count) in steps.total.items():
        print(f"| {name} | {wall / n * 1000:.1f} ms per order ({wall / seconds:.0%}), CPU "
              f"{cpu_s / n * 1000:.1f} ms, {count / n:.0f} statements |")  # fmt: skip
    print(f"| orders/s per tenth of the run | {' '.join(f'{m:.1f}' for m in marks)} |")
    for name in steps.total:
        print(f"| CPU ms of {name} per tenth | {' '.join(f'{t[name]:.0f}' for t in tenths)} |")
    print(f"| statistics refreshed after each tenth (ANALYZE, not counted above) | "
          f"{analyzing[0]:.1f} s in all |")  # fmt: skip
    print(f"| peak resident memory | {peak:.0f} MB (before the loop {before_mb:.0f} MB) |")
    print(f"| invariants (ledger, stock, sales, all done and paid) | OK, {checks:.1f} s |")


def run_confirm(company, args) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.utils import timezone

    from xietong.inventory.tests.invariants import assert_stock_sound
    from xietong.product.selectors import product_convert
    from xietong.sales import atp, documents
    from xietong.sales.models import SalesOrder
    from xietong.sales.tests.invariants import assert_sales_sound

    products = args.products or args.lines
    started = time.perf_counter()
    ctx = setup(company, products=products, customers=args.customers)
    print(f"setup: {time.perf_counter() - started:.1f} s ({products} products in stock)")
    _analyze(connection)
    rng = random.Random(SEED + 2)  # noqa: S311
    creates, confirms, atps, cpus, counts = [], [], [], [], []
    queries = Queries()
    for r in range(args.repeat):
        chosen = rng.sample(ctx["products"], args.lines)
        specs = [{"product": p, "quantity": D(rng.randint(1, 5))} for p in chosen]
        party = ctx["parties"][r % len(ctx["parties"])]
        started = time.perf_counter()
        order = documents.order_create(company=company, actor=ctx["user"], party=party,
                                       lines=specs)  # fmt: skip
        creates.append(time.perf_counter() - started)
        lines = documents._lines_of(order)
        requests = [
            atp.AtpRequest(product=line.product, wanted=timezone.localdate(), key=n,
                           quantity=product_convert(product=line.product, quantity=line.quantity,
                                                    from_uom=line.uom, to_uom=line.product.uom))
            for n, line in enumerate(lines)
        ]  # fmt: skip
        started = time.perf_counter()
        atp.promise_dates(company=company, warehouse=ctx["warehouse"], requests=requests)
        atps.append(time.perf_counter() - started)
        started, cpu, count = time.perf_counter(), time.process_time(), queries.count
        with connection.execute_wrapper(queries):
            order = profiled(args.profile if r == args.repeat - 1 else None,
                             lambda o=order: documents.order_confirm(order=o, actor=ctx["user"]))  # fmt: skip
        confirms.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        counts.append(queries.count - count)
        assert order.state == SalesOrder.State.CONFIRMED
    assert_stock_sound([company])
    assert_sales_sound(company)

    def fmt(values: list[float]) -> str:
        return (f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} s")  # fmt: skip

    print()
    print(f"| {connection.vendor}: one order of {args.lines} lines, {args.repeat} runs | "
          "min / median / max |")  # fmt: skip
    print("|---|---|")
    print(f"| **order_confirm (credit, ATP, picking, reservation)** | **{fmt(confirms)}** |")
    print(f"| of which CPU of this process | {fmt(cpus)} |")
    print(f"| SQL statements per confirm | {statistics.median(counts):.0f} |")
    print(
        f"| ATP alone (`promise_dates` on the same lines, read-only, timed apart) | {fmt(atps)} |"
    )
    print(f"| order_create (pricing, taxes, lines) | {fmt(creates)} |")
    print(f"| peak resident memory | {rss_mb():.0f} MB |")


def _sql_write(path: str, log: list[tuple[str, str]]) -> None:
    """The statements of one cycle, in order, then grouped by shape (literals left out)."""
    import re
    from collections import Counter

    shapes = Counter((step, re.sub(r"\b\d+\b|'[^']*'|%s", "?", sql)[:300]) for step, sql in log)
    with open(path, "w") as out:
        for step, sql in log:
            out.write(f"{step}\t{sql}\n")
        out.write("\n--- by shape ---\n")
        for (step, shape), count in shapes.most_common():
            out.write(f"{count}\t{step}\t{shape}\n")
    print(f"SQL of the last cycle ({len(log)} statements) written to {path}")


def _analyze(connection) -> None:  # type: ignore[no-untyped-def]
    """Statistics after loading, as autovacuum (PostgreSQL) or the worker (SQLite) would."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            from xietong.core.maintenance import sqlite_statistics

            sqlite_statistics(force=True)
        else:
            cursor.execute("ANALYZE")


@contextmanager
def bench_database(db: str, name: str) -> Iterator[None]:
    """A fresh database for the run: `name`.sqlite3 under XIETONG_VAR_DIR, or the PostgreSQL
    database `xt_<name>` on the server of DATABASE_URL (else 127.0.0.1:5432), created with the
    migrations, Django set up, and dropped afterwards."""
    if db == "postgres":
        base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
        parts = urlsplit(base)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/postgres"))
    else:
        os.environ.pop("DATABASE_URL", None)

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections
    from django.test.utils import setup_test_environment

    setup_test_environment()
    if db == "postgres":
        connection.settings_dict["TEST"]["NAME"] = os.environ.get("XT_BENCH_PG_NAME", f"xt_{name}")
    else:
        connection.settings_dict["TEST"]["NAME"] = str(Path(settings.VAR_DIR) / f"{name}.sqlite3")
    started = time.perf_counter()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    print(f"database {connection.settings_dict['NAME']} ({connection.vendor}) created in "
          f"{time.perf_counter() - started:.0f} s; {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    try:
        yield
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--mode", choices=["cycle", "confirm"], default="cycle")
    parser.add_argument("--n", type=int, default=1000, help="orders (cycle mode)")
    parser.add_argument("--lines", type=int, default=None, help="lines per order (5 / 1000)")
    parser.add_argument("--products", type=int, default=None)
    parser.add_argument("--customers", type=int, default=100)
    parser.add_argument("--batch", type=int, default=0,
                        help="cycle mode: take orders through the set-based services in "
                             "batches of this many (0: one at a time)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5, help="orders confirmed (confirm mode)")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the timed part into FILE")
    parser.add_argument("--sql", metavar="FILE", help="write the SQL of the last cycle to FILE")
    args = parser.parse_args()
    if args.lines is None:
        args.lines = 5 if args.mode == "cycle" else 1000

    with bench_database(args.db, f"bench_sales_{args.mode}"):
        from xietong.core.services import company_create

        company = company_create(name="Bench Sales", legal_name="Bench Sales Ltd",
                                 base_currency="CNY", country="CN")  # fmt: skip
        if args.mode == "cycle":
            run_cycle(company, args)
        else:
            run_confirm(company, args)


if __name__ == "__main__":
    main()
