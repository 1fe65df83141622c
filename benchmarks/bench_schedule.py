"""Benchmark of finite-capacity scheduling (greedy dispatch + CP-SAT) on a generated job shop.

Usage:

    .venv/bin/python benchmarks/bench_schedule.py [--ops 500] [--work-centers 20] [--seed 1]
        [--limits 2,10,60] [--workers 2] [--tightness 1.0] [--lns-share S] [--greedy-only]

The instance is deterministic for (ops, work centers, seed): orders of 5 operations (the last
order takes the remainder), each routed through distinct random work centers, 30-300 minutes per
operation (setup + run, rounded up to the 15-minute grid); 75 % of the centers have one machine,
20 % two, 5 % three. Calendars over 8 weeks from Monday 2027-01-04 00:00 UTC: two shifts
06:00-14:00 and 14:00-22:00 Monday to Friday (half the centers), the same with a 30-minute
break between the shifts (a quarter), or two shifts Monday to Saturday (a quarter). A third of
the orders has its material available only later in the first three days (earliest start of the
first operation). Due dates: release + the order's own work time (at 16 h a day, 5 days a week)
+ a spread of 0.2-1.4 x the time the whole load takes on all machines at that pace (times
`--tightness`), so some orders are tight and most are loose; weights 1 (60 %), 2 (30 %) or 3
(10 %).

Each time limit is a separate `solve` call (the limit covers validation, greedy, model and
search; `--lns-share 0` turns the windowed LNS off, for comparison). Prints one line per run,
with the process CPU time and the load average, since the machine may be shared, then each
run's weighted tardiness against the best of the runs.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xietong.manufacturing.scheduling import (  # noqa: E402
    Operation,
    Order,
    ScheduleInput,
    WorkCenter,
    greedy_schedule,
    schedule_violations,
    solve,
)

START = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday
WEEKS = 8


def _calendar(kind: str) -> list[tuple[datetime, datetime]]:
    days = 6 if kind == "six-days" else 5
    out = []
    for week in range(WEEKS):
        for day in range(days):
            base = START + timedelta(days=7 * week + day)
            if kind == "break":
                out.append((base + timedelta(hours=6), base + timedelta(hours=14)))
                out.append((base + timedelta(hours=14, minutes=30), base + timedelta(hours=22)))
            else:
                out.append((base + timedelta(hours=6), base + timedelta(hours=14)))
                out.append((base + timedelta(hours=14), base + timedelta(hours=22)))
    return out


def generate(ops: int, work_centers: int, seed: int, tightness: float = 1.0) -> ScheduleInput:
    rng = random.Random(seed)  # noqa: S311
    centers = []
    for c in range(work_centers):
        roll = rng.random()
        capacity = 1 if roll < 0.75 else 2 if roll < 0.95 else 3
        kind = ("two-shifts", "two-shifts", "break", "six-days")[c % 4]
        centers.append(WorkCenter(id=f"WC{c:02d}", calendar=_calendar(kind), capacity=capacity))
    machines = sum(wc.capacity for wc in centers)

    sizes = [5] * (ops // 5)
    if ops % 5:
        sizes.append(ops % 5)
    durations = [[rng.randint(30, 300) for _ in range(size)] for size in sizes]
    total_hours = sum(map(sum, durations)) / 60
    # Elapsed days to work the whole load off at 16 h a day, 5 days a week, on every machine.
    span_days = total_hours / machines / 16 * 7 / 5

    orders, operations = [], []
    for o, (size, work) in enumerate(zip(sizes, durations, strict=True)):
        order_id = f"MO{o:04d}"
        release = None
        if rng.random() < 1 / 3:
            release = START + timedelta(days=rng.randint(0, 2), hours=rng.choice([6, 10, 14, 18]))
        own_days = sum(work) / 60 / 16 * 7 / 5
        spread = rng.uniform(0.2, 1.4) * span_days * tightness
        due = (release or START) + timedelta(days=own_days + spread)
        due = due.replace(minute=0, second=0, microsecond=0)
        weight = rng.choices([1, 2, 3], weights=[6, 3, 1])[0]
        orders.append(Order(id=order_id, due=due, weight=weight))
        route = rng.sample(range(work_centers), min(size, work_centers))
        route += [rng.randrange(work_centers) for _ in range(size - len(route))]
        for k in range(size):
            operations.append(
                Operation(
                    id=f"{order_id}/{(k + 1) * 10}",
                    order_id=order_id,
                    work_center_id=centers[route[k]].id,
                    duration_minutes=work[k],
                    sequence=(k + 1) * 10,
                    earliest_start=release if k == 0 else None,
                )
            )
    return ScheduleInput(
        horizon_start=START,
        work_centers=centers,
        orders=orders,
        operations=operations,
        granularity_minutes=15,
    )


def _line(label: str, seconds: float, m, extra: str = "") -> str:  # type: ignore[no-untyped-def]
    return (
        f"{label:<14} {seconds:7.2f} s  weighted tardiness {m.weighted_tardiness_minutes:10.0f} min"
        f"  makespan {m.makespan_minutes:7.0f} min  late orders {m.late_orders:3d}  {extra}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--work-centers", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limits", default="2,10,60", help="CP-SAT time limits in seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--tightness", type=float, default=1.0, help="scales the due dates' spread (< 1: tighter)"
    )
    parser.add_argument(
        "--lns-share", type=float, default=None, help="solve's lns_share (default: its own)"
    )
    parser.add_argument("--greedy-only", action="store_true")
    args = parser.parse_args()

    inp = generate(args.ops, args.work_centers, args.seed, args.tightness)
    print(
        f"instance: {len(inp.operations)} operations, {len(inp.orders)} orders, "
        f"{len(inp.work_centers)} work centers "
        f"({sum(wc.capacity for wc in inp.work_centers)} machines), seed {args.seed}, "
        f"tightness {args.tightness:g}"
    )
    started = time.perf_counter()
    greedy = greedy_schedule(inp)
    seconds = time.perf_counter() - started
    bad = len(schedule_violations(inp, greedy))
    print(_line(greedy.method, seconds, greedy.metrics, f"violations {bad}"))
    if args.greedy_only:
        return
    results = {}
    for limit in [float(x) for x in args.limits.split(",")]:
        cpu = time.process_time()
        result = solve(
            inp,
            time_limit_s=limit,
            workers=args.workers,
            seed=args.seed,
            lns_share=args.lns_share,
        )
        cpu = time.process_time() - cpu
        bad = len(schedule_violations(inp, result.schedule))
        gap = "-" if result.gap is None else f"{result.gap:.3f}"
        print(
            _line(
                f"cpsat {limit:g} s",
                result.wall_time_s,
                result.metrics,
                f"cpu {cpu:.1f} s  load {os.getloadavg()[0]:.1f}  status {result.status}  "
                f"gap {gap}  solutions {len(result.progress)}  violations {bad}",
            )
        )
        results[limit] = result
    if len(results) > 1:
        best = min(r.metrics.weighted_tardiness_minutes for r in results.values())
        for limit, result in results.items():
            wt = result.metrics.weighted_tardiness_minutes
            print(f"cpsat {limit:g} s: {100 * (wt - best) / best if best else 0.0:+.1f} % vs best")


if __name__ == "__main__":
    main()
