"""Benchmark of the catalogue import: 100,000 products, then 200,000 BOM lines, from CSV files
through the same path the import screen's background job takes (read the file, check every
row, save all rows in one transaction), and the export of both tables.

Usage (a fresh database is made under a temporary directory, or the PostgreSQL test database
given by DATABASE_URL, which is dropped afterwards):

    .venv/bin/python benchmarks/bench_import.py [--products 100000] [--lines 200000] [--seed 7]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xietong_bench .venv/bin/python benchmarks/bench_import.py

The products file has every column of the products import filled as a real catalogue would
(names in three languages on a third, categories three deep, barcodes, weights, lead times, lot
sizing, prices and standard costs). The BOM file gives 40 % of the products (levels 0-2 of a
4-level catalogue) five component lines each, from lower levels only, some in g for kg items.

Each import runs in a forked child process so its peak memory (resident set) is measured on
its own; the figures are the child's peak RSS and how far it rose above the parent's at fork.
Prints one line per measurement; record the figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

CATEGORIES = ["Frames", "Wheels", "Drivetrain", "Electrics", "Brakes", "Cockpit", "Fasteners"]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ean13(number: int) -> str:
    body = f"69{number:010d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def products_csv(count: int, rng: random.Random) -> tuple[bytes, list[list[str]]]:
    """The products file and the SKUs by level (0 = finished goods … 3 = purchased parts)."""
    shares = [0.04, 0.10, 0.26, 0.60]
    sizes = [int(count * s) for s in shares]
    sizes[-1] = count - sum(sizes[:-1])
    levels: list[list[str]] = []
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "sku", "name", "name_zh_hans", "name_zh_hant", "description", "category", "type",
            "uom", "purchase_uom", "barcode", "weight_kg", "supply", "purchase_lead_days",
            "manufacturing_lead_days", "safety_stock", "lot_sizing", "lot_size", "lot_multiple",
            "list_price", "standard_cost", "active",
        ]
    )  # fmt: skip
    number = 0
    for level, size in enumerate(sizes):
        skus = []
        for _ in range(size):
            number += 1
            sku = f"L{level}-{number:06d}"
            skus.append(sku)
            made = level < 3
            unit = "kg" if not made and rng.random() < 0.1 else "pc"
            chinese = rng.random() < 0.33
            fixed = rng.random() < 0.3
            writer.writerow(
                [
                    sku,
                    f"Part {number} level {level}",
                    f"零件{number}" if chinese else "",
                    f"零件{number}" if chinese else "",
                    "Generated for the import benchmark" if rng.random() < 0.2 else "",
                    " / ".join(
                        [rng.choice(CATEGORIES), f"Group {rng.randrange(30)}", f"Line {level}"]
                    ),
                    "stockable",
                    unit,
                    unit,
                    ean13(number) if rng.random() < 0.5 else "",
                    f"{rng.uniform(0.01, 30):.3f}",
                    "make" if made else "buy",
                    0 if made else rng.randrange(2, 60),
                    rng.randrange(1, 15) if made else 0,
                    rng.randrange(0, 50),
                    "fixed" if fixed else "lot_for_lot",
                    rng.choice([50, 100, 200]) if fixed else 0,
                    10 if fixed else 0,
                    f"{rng.uniform(1, 3000):.2f}",
                    f"{rng.uniform(0.5, 1500):.4f}",
                    1,
                ]
            )
        levels.append(skus)
    return out.getvalue().encode(), levels


def boms_csv(levels: list[list[str]], lines: int, rng: random.Random) -> tuple[bytes, int]:
    """Five lines per made item (levels 0-2), components from the levels below only."""
    made = [sku for level in levels[:3] for sku in level]
    per_bom = max(1, lines // len(made))
    kg_items = set()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "product", "version", "kind", "quantity", "uom", "active", "sequence",
            "component", "component_quantity", "component_uom", "scrap_percent",
        ]
    )  # fmt: skip
    written = 0
    for level, skus in enumerate(levels[:3]):
        below = [sku for lower in levels[level + 1 :] for sku in lower]
        for sku in skus:
            batch = rng.choice([1, 1, 1, 5, 10])
            for position, component in enumerate(rng.sample(below, per_bom), start=1):
                in_grams = component.startswith("L3") and component in kg_items
                writer.writerow(
                    [
                        sku, 1, "normal", batch, "pc", 1, position * 10, component,
                        rng.choice([1, 2, 4]) if not in_grams else rng.randrange(50, 900),
                        "g" if in_grams else "",
                        "5" if rng.random() < 0.2 else "0",
                    ]
                )  # fmt: skip
                written += 1
    return out.getvalue().encode(), written


def in_child(label: str, work) -> None:  # type: ignore[no-untyped-def]
    """Run `work()` in a forked process; print its time and peak memory."""
    from django.db import connections

    connections.close_all()
    base = rss_mb()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: does the work, reports, exits without Django's cleanup
        os.close(read)
        try:
            started = time.perf_counter()
            detail = work()
            seconds = time.perf_counter() - started
            message = f"{label}: {seconds:.1f} s, peak RSS {rss_mb():.0f} MB "
            message += f"(+{rss_mb() - base:.0f} MB over the parent) {detail}"
        except BaseException as exc:  # report and fail the bench
            message = f"{label}: FAILED {exc!r}"
        os.write(write, message.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    print(message, flush=True)
    if "FAILED" in message:
        raise SystemExit(1)


def run_import(key: str, company, data: bytes):  # type: ignore[no-untyped-def]
    from xietong.core import imports

    spec = imports.spec_for(key)
    phases = {}
    started = time.perf_counter()
    table = imports.read_table(data, f"{key}.csv", spec)
    phases["read"] = time.perf_counter() - started
    started = time.perf_counter()
    report = imports.import_check(spec, company=company, table=table)
    phases["check"] = time.perf_counter() - started
    if report.problems:
        raise RuntimeError([str(p) for p in report.problems[:5]])
    started = time.perf_counter()
    counts = imports.import_apply(spec, company=company, actor=None, report=report)
    phases["save"] = time.perf_counter() - started
    return " ".join(f"{k} {v:.1f} s" for k, v in phases.items()) + f" {counts}"


def run_export(key: str, company, fmt: str):  # type: ignore[no-untyped-def]
    from xietong.core import imports

    content, _type = imports.export_table(imports.spec_for(key), company=company, fmt=fmt)
    return f"{len(content) / 1e6:.1f} MB"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from xietong.core import services as core_services
        from xietong.core.models import AuditEntry
        from xietong.product.models import BomLine, Product

        company = core_services.company_create(
            name="Bench", legal_name="Bench Ltd", base_currency="CNY", country="CN"
        )
        rng = random.Random(args.seed)  # noqa: S311
        products, levels = products_csv(args.products, rng)
        boms, written = boms_csv(levels, args.lines, rng)
        print(
            f"vendor={connection.vendor} products={args.products} "
            f"({len(products) / 1e6:.1f} MB CSV) bom_lines={written} ({len(boms) / 1e6:.1f} MB CSV)"
        )
        in_child("import products", lambda: run_import("products", company, products))
        in_child("import BOM lines", lambda: run_import("boms", company, boms))
        print(
            f"rows: products={Product.unscoped.count()} bom_lines={BomLine.objects.count()} "
            f"audit_entries={AuditEntry.objects.count()}"
        )
        in_child("export products CSV", lambda: run_export("products", company, "csv"))
        in_child("export BOM lines CSV", lambda: run_export("boms", company, "csv"))
        in_child("export products XLSX", lambda: run_export("products", company, "xlsx"))

        def reimport() -> str:
            from xietong.core import imports

            data = imports.export_table(imports.spec_for("products"), company=company, fmt="csv")[0]
            return run_import("products", company, data)

        in_child("re-import the products export (no change)", reimport)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
