"""Benchmark of a regenerative MRP run end to end on the database: read the company's data,
compute, write the planned orders, their single-level pegging and the exception messages.

Usage (a fresh database each run, dropped afterwards):

    .venv/bin/python benchmarks/bench_mrp_db.py --items 50000 --db postgres
    .venv/bin/python benchmarks/bench_mrp_db.py --items 50000 --db sqlite
    .venv/bin/python benchmarks/bench_mrp_db.py --items 200000 --db postgres
    .venv/bin/python benchmarks/bench_mrp_db.py --items 10000 --db sqlite --profile /tmp/mrp.prof

Data (not timed; seed 7): the catalogue of `bench_bom.py` (`--items` products on 5 BOM levels,
4/10/20/26/40 %, level 4 purchased; 3–6 components a BOM, a fifth skipping a level, units in
g/mm for kg/m items, scrap on a fifth of the lines, 3 % phantoms on level 2, batches of 1–20),
lot rules by product id (60 % lot for lot, 10 % each fixed 50, EOQ 50, periods of supply 3,
min/max 20–200), lead times 1–21 days (bought) and 1–6 days (made), stock on hand on every
other product in one warehouse, and `2 × --items` forecast lines (100,000 at 50,000 items):
90 % on end items, 10 % on purchased items as spares, each a distinct (product, week) in the 52
weekly buckets of the horizon, 1–100 units. Timed: `planning.mrp_run_execute` of the live plan,
twice: the first run on an empty plan, the second replacing the first (the plan the first one
wrote is deleted in the same transaction). Prints the seconds of each phase (read, compute,
write), the rows written and the peak resident memory. Then `--net-changes` net-change runs
(default 10), each after the quantity of one forecast line of an end item changed (the data
has no sales orders; to the planner, a forecast line is a demand line as a sales order line
is): p50, p95 and max of the time end to end, the mean of each phase, the items replanned.
"""

from __future__ import annotations

import argparse
import cProfile
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

from bench_sales import Queries, _analyze, bench_database, rss_mb  # noqa: E402

START = dt.date(2027, 1, 4)  # a Monday


def setup(items: int, seed: int):  # type: ignore[no-untyped-def]
    from bench_bom import generate
    from django.db import connection

    from xietong.core import services as core_services
    from xietong.inventory.models import Location, Quant
    from xietong.inventory.warehouses import warehouse_create
    from xietong.manufacturing.models import Forecast
    from xietong.manufacturing.planning import planning_settings
    from xietong.product.models import Product

    company = core_services.company_create(
        name="Bench", legal_name="Bench Ltd", base_currency="CNY", country="CN"
    )
    warehouse = warehouse_create(company=company, code="WH", name="Warehouse")
    levels, rows, seconds = generate(company, items, seed)
    started = time.perf_counter()
    table = Product._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET "  # noqa: S608  (table name from the model)
            "lot_sizing = CASE id %% 10 WHEN 0 THEN 'fixed' WHEN 1 THEN 'eoq' "
            "WHEN 2 THEN 'periods' WHEN 3 THEN 'min_max' ELSE 'lot_for_lot' END, "
            "lot_size = CASE id %% 10 WHEN 0 THEN 50 WHEN 1 THEN 50 WHEN 2 THEN 3 ELSE 0 END, "
            "min_qty = CASE id %% 10 WHEN 3 THEN 20 ELSE 0 END, "
            "max_qty = CASE id %% 10 WHEN 3 THEN 200 ELSE 0 END, "
            "purchase_lead_days = id %% 21 + 1, manufacturing_lead_days = id %% 6 + 1 "
            "WHERE company_id = %s",
            [company.pk],
        )
    stock = Location.unscoped.get(pk=warehouse.stock_location_id)
    rng = random.Random(seed)  # noqa: S311
    all_ids = [pk for level in levels for pk in level]
    Quant.unscoped.bulk_create(
        (Quant(company=company, product_id=pk, location=stock,
               quantity=Decimal(rng.randint(1, 500))) for pk in all_ids[::2]),
        batch_size=5000,
    )  # fmt: skip
    weeks = [START + dt.timedelta(days=7 * w) for w in range(52)]
    wanted = 2 * items
    end_items, spares = levels[0], levels[4]
    forecasts = []
    for n in range(int(wanted * 0.9)):
        product = end_items[n % len(end_items)]
        week = weeks[(n // len(end_items)) % 52]
        forecasts.append((product, week))
    spare_cells = {(rng.choice(spares), rng.choice(weeks)) for _ in range(int(wanted * 0.12))}
    forecasts += sorted(spare_cells)[: wanted - len(forecasts)]
    forecasts = list(dict.fromkeys(forecasts))
    Forecast.unscoped.bulk_create(
        (Forecast(company=company, product_id=product, date=date,
                  quantity=Decimal(rng.randint(1, 100))) for product, date in forecasts),
        batch_size=5000,
    )  # fmt: skip
    settings = planning_settings(company)
    settings.bucket, settings.horizon, settings.frozen_days = "week", 52, 0
    settings.save()
    rows["forecasts"] = len(forecasts)
    rows["on_hand"] = len(all_ids[::2])
    return company, rows, seconds + time.perf_counter() - started


def run_once(company, profile: str = "", kind: str = "regenerative"):  # type: ignore[no-untyped-def]
    from xietong.manufacturing.models import PlanRun
    from xietong.manufacturing.planning import live_scenario, planning_settings

    settings = planning_settings(company)
    run = PlanRun.unscoped.create(
        company=company, scenario=live_scenario(company), kind=kind,
        start=START, bucket=settings.bucket, horizon=settings.horizon,
    )  # fmt: skip
    from django.db import connection

    from xietong.manufacturing.planning import mrp_run_execute

    queries = Queries()
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    with connection.execute_wrapper(queries):
        if profiler:
            profiler.enable()
        run = mrp_run_execute(run=run)
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
    seconds = time.perf_counter() - started
    if run.state != PlanRun.State.DONE:
        raise SystemExit(f"run failed: {run.error}")
    return seconds, run.figures, queries.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--profile", default="", help="cProfile the second run into this file")
    parser.add_argument("--net-changes", type=int, default=10,
                        help="net-change runs after the regenerative ones, each after one "
                        "forecast line's quantity changed")  # fmt: skip
    args = parser.parse_args()
    with bench_database(args.db, "bench_mrp_db"):
        from django.db import connection

        company, rows, seconds = setup(args.items, args.seed)
        _analyze(connection)
        print(f"data: {', '.join(f'{k} {v:,}' for k, v in rows.items())} ({seconds:.0f} s)")
        for label in ("first run (empty plan)", "second run (replaces the first)"):
            profile = args.profile if label.startswith("second") else ""
            total, figures, statements = run_once(company, profile)
            print(
                f"{label}: {total:.2f} s end to end (read {figures['seconds_read']:.2f} s, "
                f"compute {figures['seconds_plan']:.2f} s, write {figures['seconds_write']:.2f} s"
                f"); {figures['planned_orders']:,} planned orders, "
                f"{figures['pegging_rows']:,} pegging rows, {figures['exceptions']:,} exceptions, "
                f"{figures['demands']:,} demands, {figures['bom_lines']:,} BOM lines; "
                f"{statements} statements; peak memory {rss_mb():.0f} MB"
            )
            _analyze(connection)
        net_changes(company, args.net_changes, args.seed)


def net_changes(company, count: int, seed: int) -> None:  # type: ignore[no-untyped-def]
    """`count` net-change runs, each after one end item's forecast line changed quantity."""
    import statistics

    from xietong.manufacturing.models import Forecast

    if count <= 0:
        return
    rng = random.Random(seed + 1)  # noqa: S311
    ids = list(Forecast.unscoped.filter(company=company).order_by("pk")
               .values_list("pk", flat=True)[: 10_000])  # fmt: skip
    totals, phases, replanned, written = [], [], [], []
    for _n in range(count):
        Forecast.unscoped.filter(pk=rng.choice(ids)).update(quantity=Decimal(rng.randint(1, 150)))
        total, figures, _statements = run_once(company, kind="net_change")
        if figures["net_change"] != "done":
            raise SystemExit(f"net change was regenerative: {figures['net_change']}")
        totals.append(total)
        phases.append((figures["seconds_read"], figures["seconds_plan"], figures["seconds_write"]))
        replanned.append(figures["replanned_items"])
        written.append(figures["planned_orders"])
    ranked = sorted(totals)
    p95 = ranked[min(len(ranked) - 1, round(0.95 * (len(ranked) - 1)))]
    mean = [statistics.fmean(p[i] for p in phases) for i in range(3)]
    print(
        f"net change after one forecast line changed ({count} runs): p50 "
        f"{statistics.median(totals) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max "
        f"{ranked[-1] * 1000:.0f} ms end to end (mean read {mean[0] * 1000:.0f} ms, compute "
        f"{mean[1] * 1000:.0f} ms, write {mean[2] * 1000:.0f} ms); items replanned "
        f"{min(replanned)}-{max(replanned)}, planned orders written {min(written)}-{max(written)}"
        f"; peak memory {rss_mb():.0f} MB"
    )


if __name__ == "__main__":
    main()
