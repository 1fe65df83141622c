"""Benchmark of BOM explosion, where-used, low-level codes and cost roll-up over a catalogue of
50,000 items with 5 BOM levels.

Usage (a fresh database is made under a temporary directory, or the PostgreSQL test database
given by DATABASE_URL, which is dropped afterwards):

    .venv/bin/python benchmarks/bench_bom.py [--items 50000] [--seed 7]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xietong_bench .venv/bin/python benchmarks/bench_bom.py

The catalogue is generated with bulk_create: items on levels 0..4 (4 %, 10 %, 20 %, 26 %,
40 % of them; level 4 is purchased), each made item with 3-6 components (80 % from the next
level, 20 % skipping levels, as in docs of real catalogues), some in kg or m with lines in g
or mm, 5 % scrap on a fifth of the lines, phantom kits on 3 % of level 2, BOMs making batches
of 1-20, and a routing of 1-3 operations on 200 work centers per made item.

Prints one line per measurement; record the figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

SHARES = [0.04, 0.10, 0.20, 0.26, 0.40]  # items per level 0..4


def timed(fn, repeat: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, max(samples) * 1000, result


def generate(company, items: int, seed: int):  # type: ignore[no-untyped-def]
    """Bulk-insert the catalogue; returns (levels of product ids, row counts, seconds)."""
    from xietong.core.models import UnitOfMeasure
    from xietong.product.models import Bom, BomLine, Product, Routing, RoutingOperation, WorkCenter

    rng = random.Random(seed)  # noqa: S311
    units = {u.code: u for u in UnitOfMeasure.objects.filter(code__in=["pc", "kg", "m", "g", "mm"])}
    started = time.perf_counter()
    counts = [int(items * share) for share in SHARES]
    counts[-1] = items - sum(counts[:-1])
    products = []
    for level, count in enumerate(counts):
        for i in range(count):
            unit = "pc"
            if level == 4 and i % 5 == 0:
                unit = "kg" if i % 10 == 0 else "m"
            products.append(
                Product(
                    company=company,
                    sku=f"L{level}-{i:06d}",
                    name=f"Item {level}-{i}",
                    uom=units[unit],
                    supply=Product.Supply.BUY if level == 4 else Product.Supply.MAKE,
                    standard_cost=Decimal(rng.randint(10, 5000)) / 100 if level == 4 else 0,
                )
            )
    Product.unscoped.bulk_create(products, batch_size=2000)
    ids = list(Product.unscoped.filter(company=company).order_by("pk").values_list("pk", "uom_id"))
    levels, uom_of, offset = [], dict(ids), 0
    for count in counts:
        levels.append([pk for pk, _u in ids[offset : offset + count]])
        offset += count
    centers = WorkCenter.unscoped.bulk_create(
        WorkCenter(
            company=company,
            code=f"WC{i:03d}",
            name=f"Work center {i}",
            working_days=[1, 2, 3, 4, 5],
            cost_per_hour=Decimal(rng.randint(30, 90)),
            overhead_per_hour=Decimal(rng.randint(5, 40)),
        )
        for i in range(200)
    )
    boms = []
    for level in range(4):
        for pk in levels[level]:
            phantom = level == 2 and rng.random() < 0.03
            batch = Decimal(1 if phantom else rng.choice([1, 1, 2, 5, 10, 20]))
            boms.append(
                Bom(
                    company=company,
                    product_id=pk,
                    kind=Bom.Kind.PHANTOM if phantom else Bom.Kind.NORMAL,
                    quantity=batch,
                    uom=units["pc"],
                )
            )
    Bom.unscoped.bulk_create(boms, batch_size=2000)
    level_of = {pk: level for level, pks in enumerate(levels) for pk in pks}
    lines = []
    for bom in boms:
        level = level_of[bom.product_id]
        chosen: set[int] = set()
        for _ in range(rng.randint(3, 6)):
            deeper = level + 1 if rng.random() < 0.8 or level == 3 else rng.randint(level + 2, 4)
            chosen.add(rng.choice(levels[deeper]))
        for sequence, component in enumerate(sorted(chosen), start=1):
            stock = uom_of[component]
            quantity = Decimal(rng.randint(1, 8)) * bom.quantity
            unit = stock
            if stock == units["kg"].pk:
                unit, quantity = units["g"].pk, quantity * 250
            elif stock == units["m"].pk:
                unit, quantity = units["mm"].pk, quantity * 400
            lines.append(
                BomLine(
                    bom=bom,
                    sequence=sequence * 10,
                    component_id=component,
                    quantity=quantity,
                    uom_id=unit,
                    scrap_percent=Decimal(5) if rng.random() < 0.2 else Decimal(0),
                )
            )
    BomLine.objects.bulk_create(lines, batch_size=5000)
    routings = [
        Routing(company=company, product_id=bom.product_id, name=f"R{bom.product_id}")
        for bom in boms
        if bom.kind == Bom.Kind.NORMAL
    ]
    Routing.unscoped.bulk_create(routings, batch_size=2000)
    operations = [
        RoutingOperation(
            routing=routing,
            sequence=(i + 1) * 10,
            name=f"Op {i + 1}",
            work_center=rng.choice(centers),
            setup_minutes=Decimal(rng.randint(0, 60)),
            run_minutes=Decimal(rng.randint(1, 30)),
        )
        for routing in routings
        for i in range(rng.randint(1, 3))
    ]
    RoutingOperation.objects.bulk_create(operations, batch_size=5000)
    rows = {
        "products": len(products),
        "boms": len(boms),
        "lines": len(lines),
        "routings": len(routings),
        "operations": len(operations),
    }
    return levels, rows, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--samples", type=int, default=20, help="top items to explode")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections, reset_queries
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    try:
        from xietong.core import services as core_services
        from xietong.product import bom
        from xietong.product.models import Product

        company = core_services.company_create(
            name="Bench", legal_name="Bench Ltd", base_currency="CNY", country="CN"
        )
        user = core_services.user_create(
            company=company, username="bench", password="x" * 16, roles=["planner"], validate=False
        )
        levels, rows, seconds = generate(company, args.items, args.seed)
        print(f"vendor={connection.vendor} " + " ".join(f"{k}={v}" for k, v in rows.items()))
        print(f"generate (bulk_create): {seconds:.1f} s")
        if connection.vendor == "postgresql":
            # What autovacuum would have done by now; SQLite is measured without ANALYZE.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")

        median, _worst, changed = timed(lambda: bom.low_level_codes_update(company=company), 1)
        print(f"low-level codes, whole catalogue: {median:.0f} ms ({changed} products written)")
        depth = max(
            Product.unscoped.filter(company=company).values_list("low_level_code", flat=True)
        )
        print(f"deepest low-level code: {depth}")

        rng = random.Random(args.seed)  # noqa: S311
        tops = [Product.unscoped.get(pk=pk) for pk in rng.sample(levels[0], args.samples)]
        sizes, samples = [], []
        settings.DEBUG = True
        queries = []
        for product in tops:
            reset_queries()
            started = time.perf_counter()
            explosion = bom.bom_explode(product=product, quantity=Decimal(10))
            samples.append(time.perf_counter() - started)
            queries.append(len(connection.queries))
            sizes.append(len(explosion.rows))
        settings.DEBUG = False
        print(
            f"explosion of a top item ({args.samples} items; rows median {statistics.median(sizes):.0f}, "
            f"max {max(sizes)}; queries median {statistics.median(queries):.0f}): "
            f"median {statistics.median(samples) * 1000:.0f} ms, max {max(samples) * 1000:.0f} ms"
        )
        median, worst, _ = timed(
            lambda: [bom.bom_requirements(product=p, quantity=Decimal(10)) for p in tops[:5]], 1
        )
        print(f"flattened requirements, 5 top items: {median / 5:.0f} ms each")
        median, worst, _ = timed(lambda: bom.bom_cost_rollup(product=tops[0]), 5)
        print(
            f"cost roll-up with breakdown of one top item: median {median:.0f} ms, max {worst:.0f} ms"
        )
        leaf = Product.unscoped.get(pk=levels[4][0])
        median, worst, used = timed(lambda: bom.bom_where_used(product=leaf), 5)
        print(f"where-used of a purchased part ({len(used)} rows): median {median:.0f} ms")

        started = time.perf_counter()
        index = bom.BomIndex.whole_company(company.pk, costing=True)
        loaded = time.perf_counter() - started
        started = time.perf_counter()
        costs = bom.bom_cost_rollup_all(company=company, index=index)
        computed = time.perf_counter() - started
        print(
            f"full roll-up of {len(costs)} made items: load {loaded * 1000:.0f} ms + compute "
            f"{computed * 1000:.0f} ms = {(loaded + computed) * 1000:.0f} ms"
        )
        started = time.perf_counter()
        changes = bom.bom_cost_rollup_apply(company=company, actor=user)
        print(
            f"roll-up written as standard cost ({len(changes)} products, bulk + cost history): "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )

        part, parent = levels[4][1], levels[3][1]
        started = time.perf_counter()
        bom.bom_create(
            company=company,
            actor=user,
            product=Product.unscoped.get(pk=levels[3][2]),
            lines=[{"component": part, "quantity": Decimal(1)}],
            active=False,
        )
        inactive = time.perf_counter() - started
        started = time.perf_counter()
        bom.bom_update(
            bom=bom.bom_effective(product=Product.unscoped.get(pk=parent)),
            actor=user,
            lines=[{"component": part, "quantity": Decimal(2)}],
        )
        print(
            f"one BOM write with the loop check and low-level codes over the catalogue: "
            f"{(time.perf_counter() - started) * 1000:.0f} ms (inactive BOM: {inactive * 1000:.0f} ms)"
        )

        _, raw = core_services.api_token_create(user=user, company=company, name="bench")
        api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        median, worst, _ = timed(
            lambda: api.get(f"/api/v1/products/{tops[1].pk}/explosion", {"quantity": "10"}), 10
        )
        print(
            f"API GET /products/{{id}}/explosion of a top item: median {median:.0f} ms, max {worst:.0f} ms"
        )
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
