"""Benchmark of stock reads and valuation over 1,000,000 done moves of 50,000 products.

Usage (a fresh database: a file under a temporary directory for SQLite, the dedicated
PostgreSQL database `xt_bench_inventory` (dropped afterwards unless --keep) for PostgreSQL):

    .venv/bin/python benchmarks/bench_inventory.py --moves 1000000 --products 50000 --db sqlite
    .venv/bin/python benchmarks/bench_inventory.py --moves 1000000 --products 50000 --db postgres
    .venv/bin/python benchmarks/bench_inventory.py --moves 20000 --products 1000 --verify  # smoke

`--keep` leaves the database in place and prints how to `--reuse` it (timings only, no load).
The PostgreSQL server is taken from DATABASE_URL when it is set (the database name is replaced
by `xt_bench_inventory`), else postgres://postgres@127.0.0.1:5432.

Data (seed 7, the same on both databases): one company (CNY) with the PRC chart (`chart_load`),
the stock valuation set up through `valuation_setup` (moving average by default, FIFO for the
category holding 20 % of the products), two warehouses (the first with 20 shelves below its
stock location), `--products` stockable products and `--moves` done moves dated 2025-01-01 to
2026-10-31. One product ("HOT") has 2 % of the moves (at most 20,000); the others share the rest
evenly ±50 %. Per product, in date order: a receipt first, then receipts (38 %, 10-100 units at
its cost ±10 %), deliveries (37 %, to customers, from a place that has the stock), internal
transfers between its places (20 %) and count losses (5 %); stock never goes below zero.

The generator bypasses the services for speed but writes the rows they would write: moves
inserted done with `bulk_create` (explicit ids), one valuation layer per move that crosses the
stock boundary with the value computed by the very costing engines `valuation.moves_value`
uses (`_Average`, `_Fifo`, FIFO open quantities included), quants computed by one INSERT …
SELECT from the moves (Σ in − out per product and stock location), and products' average
costs set from the layers. Not generated: the journal entries of the layers (bench_ledger
measures the ledger). Then, through the services, one waiting delivery is confirmed
(reserved) for the HOT product and 200 others, so `available` has reservations to subtract.

Timed (median and max of `--repeat` runs after a warm-up): on hand and available of HOT and of
an ordinary product, in the company and below a warehouse (target < 10 ms); the stock value as
of 2026-06-30 of every product (target < 5 s on PostgreSQL), by location, and of one product;
`moves_done` of a receipt and a delivery with their valuation and ledger entry; the correction
walk (`product_revalue`) of HOT over its last 10 % of layers.

Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

DB_NAME = "xt_bench_inventory"
FIRST_DAY = dt.date(2025, 1, 1)
DAYS = (dt.date(2026, 10, 31) - FIRST_DAY).days + 1
AS_OF = dt.date(2026, 6, 30)
FLUSH = 20_000  # rows per bulk_create round
D = Decimal


def timed(fn, repeat: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """(median ms, max ms, last result) of `repeat` runs after one warm-up run."""
    result = fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, max(samples) * 1000, result


def move_counts(n_moves: int, n_products: int, rng: random.Random) -> list[int]:
    hot = min(n_moves // 50, 20_000)
    rest = n_moves - hot
    base = rest / max(n_products - 1, 1)
    counts = [max(1, round(base * rng.uniform(0.5, 1.5))) for _ in range(n_products - 1)]
    drift = rest - sum(counts)
    i = 0
    while drift:
        step = 1 if drift > 0 else -1
        if counts[i % len(counts)] + step >= 1:
            counts[i % len(counts)] += step
            drift -= step
        i += 1
    return [hot, *counts]


def rows_insert(connection, table: str, columns: list[str], rows: list) -> None:  # type: ignore[no-untyped-def]
    """Insert `rows` (tuples in `columns` order): COPY on PostgreSQL, executemany on SQLite."""
    from django.db import transaction

    names = ", ".join(columns)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608


def generate(company, n_moves: int, n_products: int, seed: int) -> dict:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.utils import timezone

    from xietong.core.models import UnitOfMeasure
    from xietong.core.tenancy import company_scope
    from xietong.finance.charts import chart_load
    from xietong.finance.posting import quantize
    from xietong.inventory import valuation
    from xietong.inventory.models import Location, Move, Quant, ValuationLayer
    from xietong.inventory.warehouses import location_create, virtual_locations, warehouse_create
    from xietong.product.models import Product
    from xietong.product.services import category_create

    rng = random.Random(seed)  # noqa: S311
    timings: dict[str, float] = {}
    started = time.perf_counter()
    chart_load(company=company, template="cn")
    main = warehouse_create(company=company, code="WH", name="Main")
    second = warehouse_create(company=company, code="W2", name="Second")
    shelves = [
        location_create(company=company, name=f"S{i:02d}", parent=main.stock_location)
        for i in range(20)
    ]
    places = [main.stock_location.pk, *(s.pk for s in shelves), second.stock_location.pk]
    virtual = virtual_locations(company=company)
    supplier, customer = virtual["supplier"].pk, virtual["customer"].pk
    loss = virtual["inventory"].pk
    with company_scope(company):
        fifo_category = category_create(company=company, actor=None, name="FIFO goods")
        plain = category_create(company=company, actor=None, name="Goods")
    valuation.valuation_setup(company=company)
    valuation.valuation_setup(company=company, category=fifo_category, method="fifo")
    pc = UnitOfMeasure.objects.get(code="pc")
    costs = [D(rng.randint(100, 20_000)) / 100 for _ in range(n_products)]
    fifo_every = 5  # every 5th product is FIFO
    products = Product.unscoped.bulk_create(
        [
            Product(
                company=company,
                sku="HOT" if i == 0 else f"P{i:06d}",
                name=f"Product {i}",
                uom=pc,
                category=fifo_category if i % fifo_every == 1 else plain,
                standard_cost=costs[i],
                list_price=costs[i] * 2,
            )
            for i in range(n_products)
        ],
        batch_size=5000,
    )
    timings["setup+products"] = time.perf_counter() - started

    def rnd(amount: Decimal) -> Decimal:
        return quantize(amount, "CNY")

    started = time.perf_counter()
    counts = move_counts(n_moves, n_products, rng)
    now = timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(now)
    postgres = connection.vendor == "postgresql"

    def db(value):  # type: ignore[no-untyped-def]
        """A value as the raw insert takes it (SQLite: text for decimals and dates)."""
        if value is None or postgres or isinstance(value, int | str):
            return value
        return str(value)

    move_columns = [f.column for f in Move._meta.concrete_fields]
    layer_columns = [f.column for f in ValuationLayer._meta.concrete_fields]
    moves: list[tuple] = []
    layers: list[list] = []
    average_costs: list[tuple[int, Decimal]] = []
    move_id = layer_id = 0
    n_layers = 0
    done = Move.State.DONE.value

    def flush(force: bool = False) -> None:
        nonlocal moves, layers
        if moves and (force or len(moves) >= FLUSH):  # moves first: layers point at them
            rows_insert(connection, Move._meta.db_table, move_columns, moves)
            moves = []
            if layers:
                rows_insert(connection, ValuationLayer._meta.db_table, layer_columns, layers)
                layers = []

    for index, product in enumerate(products):
        k = counts[index]
        days = sorted(rng.randrange(DAYS) for _ in range(k))
        fifo = index % fifo_every == 1
        engine = valuation._Fifo([], costs[index], rnd) if fifo else valuation._Average(
            D(0), D(0), costs[index], rnd
        )  # fmt: skip
        held: dict[int, int] = {}
        mine: dict[int, list] = {}
        for n, day_number in enumerate(days):
            day = FIRST_DAY + dt.timedelta(days=day_number)
            stocked = [p for p, q in held.items() if q > 0]
            roll = rng.random()
            if n == 0 or not stocked or roll < 0.38:
                kind, qty = "in", rng.randint(10, 100)
                src, dst = supplier, rng.choice(places)
            elif roll < 0.75:
                src = rng.choice(stocked)
                kind, qty, dst = "out", rng.randint(1, min(held[src], 30)), customer
            elif roll < 0.95:
                src = rng.choice(stocked)
                dst = rng.choice([p for p in places if p != src])
                kind, qty = "internal", rng.randint(1, held[src])
            else:
                src = rng.choice(stocked)
                kind, qty, dst = "out", 1, loss
            if src in held:
                held[src] -= qty
            if dst in places:
                held[dst] = held.get(dst, 0) + qty
            move_id += 1
            quantity = D(qty)
            unit_cost = None
            if kind == "in":
                unit_cost = (costs[index] * D(rng.uniform(0.9, 1.1))).quantize(D("0.01"))
            iso = db(day)
            moves.append(
                (move_id, company.pk, product.pk, pc.pk, db(quantity), db(quantity), src, dst,
                 None, done, iso, iso, stamp, None, "", "", None, None, db(unit_cost), None,
                 None, None, stamp)
            )  # fmt: skip
            if kind == "internal":
                continue
            layer_id += 1
            if kind == "in":
                value = rnd(quantity * unit_cost)
                engine.put(layer_id, quantity, value)
                row_cost, row_qty, row_value = unit_cost, quantity, value
            else:
                value = engine.take(layer_id, quantity)
                row_cost, row_qty = (value / quantity).quantize(D("0.000001")), -quantity
                row_value = -value
            mine[layer_id] = [layer_id, company.pk, product.pk, move_id, iso, row_qty, row_cost,
                              row_value, D(0), D(0), "", None, stamp]  # fmt: skip
        if fifo:
            for entry in engine.touched.values():
                mine[entry[0]][8:10] = [entry[1], entry[2]]
        for row in mine.values():
            row[5:10] = [db(v) for v in row[5:10]]
        on_hand_now = sum(held.values())
        unit = engine.total() / on_hand_now if on_hand_now > 0 else engine.unit_cost()
        average_costs.append((product.pk, Decimal(unit).quantize(D("0.000001"))))
        layers.extend(mine.values())
        n_layers += len(mine)
        flush()
    flush(force=True)
    timings["moves+layers"] = time.perf_counter() - started

    started = time.perf_counter()
    stock_ids = ",".join(str(p) for p in places)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {Quant._meta.db_table}
                (company_id, product_id, location_id, lot_id, quantity, reserved, in_date)
            SELECT %s, product_id, loc, NULL, SUM(q), 0, MIN(t) FROM (
                SELECT product_id, to_location_id AS loc, quantity_base AS q, done_at AS t
                FROM {Move._meta.db_table} WHERE company_id = %s AND state = 'done'
                UNION ALL
                SELECT product_id, from_location_id, -quantity_base, done_at
                FROM {Move._meta.db_table} WHERE company_id = %s AND state = 'done'
            ) m WHERE loc IN ({stock_ids}) GROUP BY product_id, loc
            """,  # noqa: S608 (ids are integers of ours)
            [company.pk, company.pk, company.pk],
        )
        if connection.vendor == "postgresql":
            from django.core.management.color import no_style

            for sql in connection.ops.sequence_reset_sql(no_style(), [Move, ValuationLayer]):
                cursor.execute(sql)
    timings["quants"] = time.perf_counter() - started
    started = time.perf_counter()
    updates = [Product(pk=pk, average_cost=cost) for pk, cost in average_costs]
    Product.unscoped.bulk_update(updates, ["average_cost"], batch_size=2000)
    # the running totals the valuation services keep with the layers (as migration 0003 fills
    # them for existing data)
    import importlib

    from django.apps import apps

    importlib.import_module("xietong.inventory.migrations.0003_valuation_total_fill").totals_fill(
        apps, None
    )
    timings["average costs"] = time.perf_counter() - started

    started = time.perf_counter()
    from xietong.inventory.stock import move_create, moves_confirm

    reserved = [products[0], *rng.sample(products[1:], min(200, len(products) - 1))]
    by_place = {
        (q.product_id, q.location_id): q.quantity
        for q in Quant.unscoped.filter(product__in=reserved, quantity__gt=1)
    }
    waiting = []
    locations = Location.unscoped.in_bulk(places)
    for product in reserved:
        spots = [(loc, q) for (pid, loc), q in by_place.items() if pid == product.pk]
        if not spots:
            continue
        loc, q = spots[0]
        waiting.append(
            move_create(
                company=company,
                product=product,
                quantity=(q / 2).quantize(D(1)) or D(1),
                from_location=locations[loc],
                to_location=virtual["customer"],
                planned_date=dt.date(2026, 11, 30),
            )  # fmt: skip
        )
    moves_confirm(moves=waiting)
    timings["reservations"] = time.perf_counter() - started
    return {"timings": timings, "layers": n_layers, "hot": products[0], "places": places,
            "main": main, "virtual": virtual, "products": products}  # fmt: skip


def verify(company) -> None:  # type: ignore[no-untyped-def]
    """Σ quants = Σ layer quantities per product; FIFO open values = the layers' value."""
    from django.db.models import Sum

    from xietong.inventory.models import Location, Quant, ValuationLayer

    quants = dict(
        Quant.unscoped.filter(company=company, location__usage__in=[Location.Usage.INTERNAL])
        .values("product_id")
        .annotate(q=Sum("quantity"))
        .values_list("product_id", "q")
    )
    layers = {
        pid: (q, v, rv)
        for pid, q, v, rv in ValuationLayer.unscoped.filter(company=company)
        .values("product_id")
        .annotate(q=Sum("quantity"), v=Sum("value"), rv=Sum("remaining_value"))
        .values_list("product_id", "q", "v", "rv")
    }
    bad = [
        pid for pid, q in quants.items() if D(q).quantize(D(1)) != D(layers[pid][0]).quantize(D(1))
    ]
    print(f"verify: {len(quants)} products, {len(bad)} with quants ≠ layers")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moves", type=int, default=1_000_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="PATH_OR_NAME", help="time a kept database, no load")
    parser.add_argument("--verify", action="store_true", help="check quants against layers")
    args = parser.parse_args()

    if args.db == "postgres":
        base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
        parts = urlsplit(base)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/postgres"))
    else:
        os.environ.pop("DATABASE_URL", None)

    import django

    django.setup()
    from django.db import connection, connections
    from django.test.utils import setup_test_environment

    setup_test_environment()
    if args.db == "postgres":
        connection.settings_dict["TEST"]["NAME"] = DB_NAME
    if args.reuse:
        connection.settings_dict["NAME"] = args.reuse
        old_name = None
    else:
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from xietong.core.models import Company
        from xietong.core.services import company_create

        if args.reuse:
            company = Company.objects.get(name="Bench Inventory")
        else:
            company = company_create(
                name="Bench Inventory", legal_name="Bench Inventory Ltd",
                base_currency="CNY", country="CN",
            )  # fmt: skip
            started = time.perf_counter()
            result = generate(company, args.moves, args.products, args.seed)
            total = time.perf_counter() - started
            print(
                f"vendor={connection.vendor} moves={args.moves} products={args.products} "
                f"layers={result['layers']} load_s={total:.1f} ("
                + ", ".join(f"{k} {v:.1f}" for k, v in result["timings"].items())
                + ")"
            )
            started = time.perf_counter()
            with connection.cursor() as cursor:
                if connection.vendor == "sqlite":
                    from xietong.core.maintenance import sqlite_statistics

                    sqlite_statistics(force=True)
                else:
                    cursor.execute("ANALYZE")
            print(f"statistics (ANALYZE): {time.perf_counter() - started:.1f} s")
        if args.verify:
            verify(company)
        measure(company, args.repeat)
        if args.keep:
            print(f"kept: --db {args.db} --reuse {connection.settings_dict['NAME']}")
    finally:
        connections.close_all()
        if old_name is not None and not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def measure(company, repeat: int) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection
    from django.db.models import Count

    from xietong.inventory import valuation
    from xietong.inventory.models import Move, ValuationLayer, Warehouse
    from xietong.inventory.stock import available, move_create, moves_done, on_hand
    from xietong.inventory.warehouses import virtual_locations
    from xietong.product.models import Product

    hot = Product.unscoped.get(company=company, sku="HOT")
    plain = Product.unscoped.filter(company=company, sku__startswith="P").order_by("pk")[10]
    main = Warehouse.unscoped.get(company=company, code="WH")
    virtual = virtual_locations(company=company)
    moves = Move.unscoped.filter(company=company).count()
    layers = ValuationLayer.unscoped.filter(company=company).count()
    hot_moves = Move.unscoped.filter(product=hot).count()
    print(f"{connection.vendor}: moves {moves}, layers {layers}, HOT has {hot_moves} moves")

    for label, product in (("HOT", hot), ("ordinary", plain)):
        for where, location in (("company", None), ("warehouse WH", main.view_location)):
            median, worst, qty = timed(
                lambda p=product, loc=location: on_hand(product=p, location=loc), repeat
            )  # noqa: E501
            print(f"on_hand {label} in {where}: median {median:.2f} ms, max {worst:.2f} ms ({qty})")
            median, worst, qty = timed(
                lambda p=product, loc=location: available(product=p, location=loc), repeat
            )  # noqa: E501
            print(
                f"available {label} in {where}: median {median:.2f} ms, max {worst:.2f} ms ({qty})"
            )  # noqa: E501

    median, worst, result = timed(
        lambda: valuation.stock_value(company=company, as_of=AS_OF), max(2, repeat // 2)
    )
    print(
        f"stock_value as of {AS_OF}, all products: median {median:.0f} ms, max {worst:.0f} ms "
        f"({len(result)} rows, total {result.total_value})"
    )
    median, worst, by_place = timed(
        lambda: valuation.stock_value(company=company, as_of=AS_OF, by_location=True),
        max(2, repeat // 2),
    )
    print(
        f"stock_value as of {AS_OF}, by location: median {median:.0f} ms, max {worst:.0f} ms "
        f"({len(by_place)} rows, total {by_place.total_value})"
    )
    median, worst, one = timed(
        lambda: valuation.stock_value(company=company, as_of=AS_OF, product=hot), repeat
    )
    print(f"stock_value of HOT: median {median:.1f} ms ({one.total_value})")

    def move_and_value(product, receipt):  # type: ignore[no-untyped-def]
        src, dst = (virtual["supplier"], main.stock_location) if receipt else (
            main.stock_location, virtual["customer"])  # fmt: skip
        move = move_create(company=company, product=product, quantity=D(1), from_location=src,
                           to_location=dst, planned_date=dt.date(2026, 11, 1),
                           unit_cost=D("10") if receipt else None)  # fmt: skip
        return moves_done(moves=[move], effective_date=dt.date(2026, 11, 1))

    for label, product in (("HOT", hot), ("ordinary", plain)):
        move_and_value(product, True)
        median, worst, _r = timed(lambda p=product: move_and_value(p, True), repeat)
        print(f"moves_done receipt + valuation + entry, {label}: median {median:.1f} ms")
        median, worst, _r = timed(lambda p=product: move_and_value(p, False), repeat)
        print(f"moves_done delivery + valuation + entry, {label}: median {median:.1f} ms")

    dates = list(
        ValuationLayer.unscoped.filter(product=hot).values_list("date", flat=True).order_by("date")
    )
    since = dates[int(len(dates) * 0.9)]
    started = time.perf_counter()
    result = valuation.product_revalue(product=hot, from_date=since, batch_size=1000)
    seconds = time.perf_counter() - started
    print(
        f"product_revalue HOT from {since}: {seconds * 1000:.0f} ms, {result.layers} layers in "
        f"{result.batches} batches, correction {result.correction}"
    )
    top = (
        ValuationLayer.unscoped.filter(company=company)
        .values("product_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    print(f"busiest product: {top}")


if __name__ == "__main__":
    main()
