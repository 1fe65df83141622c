"""Benchmark: firming planned production orders into production orders with their materials,
operations and material reservations, in one call (`planned_orders_firm(release=True)`).

Usage (a fresh database each run, dropped afterwards):

    .venv/bin/python benchmarks/bench_firm.py --n 1135 --db sqlite
    .venv/bin/python benchmarks/bench_firm.py --n 1135 --db postgres

Data (not timed): the demo's steps up to inventory (seed 1, size small: the bicycle catalogue
with 102 BOMs on four levels, phantoms, 93 routings on 6 work centers, the Shanghai warehouse
with stock of the parts), then `--n` planned make orders of the live plan, cycling over the made
products that have a BOM (1–20 units each, releases spread over eight weeks). Timed: the one
call that creates the production orders (materials from the BOMs with phantoms passed through,
operations from the routings), releases them (one insert of all the stock moves, one
confirmation that reserves what stock allows) and marks the planned orders firmed. Prints the
seconds, SQL statements, rows written and the peak memory; then checks (not timed) that every
order is released with its moves and that the stock invariants hold.
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

D = Decimal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--n", type=int, default=1135, help="planned production orders")
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--profile", default="", help="write a cProfile of the timed call here")
    parser.add_argument("--repeat", type=int, default=1,
                        help="firm the same planned orders this many times, each rolled back")  # fmt: skip
    args = parser.parse_args()
    with bench_database(args.db, "bench_firm"):
        from django.db import connection, transaction
        from django.utils import timezone

        from xietong.demo import catalogue, core, finance, inventory, party, pricing, workflow
        from xietong.demo.context import DemoContext
        from xietong.manufacturing import planning
        from xietong.manufacturing.models import PlannedOrder
        from xietong.product.models import Bom, Product

        started = time.perf_counter()
        ctx = DemoContext(seed=1, size="small")
        for step in (core.run, party.run, catalogue.run, pricing.run, workflow.run, finance.run,
                     inventory.run):  # fmt: skip
            step(ctx)
        company = ctx.companies["main"]
        planner = ctx.users["planner"]
        made = list(
            Product.unscoped.filter(company=company, supply=Product.Supply.MAKE, active=True,
                                    is_configurable=False,
                                    pk__in=Bom.unscoped.filter(active=True).values("product_id"))
            .order_by("sku")
        )  # fmt: skip
        rng = random.Random(7)  # noqa: S311
        today = timezone.localdate()
        scenario = planning.live_scenario(company)
        PlannedOrder.unscoped.bulk_create([
            PlannedOrder(company=company, scenario=scenario, product=made[n % len(made)],
                         supply="make", quantity=D(rng.randint(1, 20)),
                         release_date=(day := today + dt.timedelta(days=rng.randint(0, 55))),
                         due_date=day + dt.timedelta(days=3))
            for n in range(args.n)
        ])  # fmt: skip
        planned = list(PlannedOrder.unscoped.filter(company=company).order_by("pk"))
        _analyze(connection)
        print(f"data: {len(made)} made products with a BOM, {len(planned)} planned orders, "
              f"{time.perf_counter() - started:.0f} s (not timed)")  # fmt: skip
        for _ in range(args.repeat):
            with transaction.atomic():
                _firm(args, connection, company, planner, planned)
                transaction.set_rollback(args.repeat > 1)


def _firm(args, connection, company, planner, planned) -> None:  # type: ignore[no-untyped-def]
    from xietong.core.tenancy import company_scope
    from xietong.inventory.models import Move
    from xietong.inventory.tests.invariants import assert_stock_sound
    from xietong.manufacturing.firming import planned_orders_firm
    from xietong.manufacturing.models import PlannedOrder, ProductionOrder

    queries = Queries()
    moves_before = Move.unscoped.count()
    with company_scope(company), connection.execute_wrapper(queries):
        profiler = cProfile.Profile() if args.profile else None
        clock, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        firmed = planned_orders_firm(company=company, actor=planner, orders=planned,
                                     release=True)  # fmt: skip
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.profile)
        seconds, cpu = time.perf_counter() - clock, time.process_time() - cpu
    orders = ProductionOrder.unscoped.filter(company=company)
    moves = Move.unscoped.count() - moves_before
    print(f"firm + release {len(firmed.production_orders)} orders: {seconds:.2f} s "
          f"(CPU {cpu:.2f} s), {queries.count} SQL statements, {moves} stock moves, "
          f"peak memory {rss_mb():.0f} MB")  # fmt: skip
    assert orders.count() == args.n
    assert set(orders.values_list("state", flat=True)) == {"released"}
    assert not PlannedOrder.unscoped.filter(state="planned").exists()
    assert_stock_sound([company])
    print("checks: every order released with its moves; stock invariants OK")


if __name__ == "__main__":
    main()
