"""Benchmark of the MRP engine's computation (no database, no CSV): regenerative runs
without pegging, with single-level pegging and with full pegging; full pegging of chosen orders
on demand; net change after one sales order line changes.

Usage:

    .venv/bin/python benchmarks/bench_mrp.py [--items 50000] [--buckets 52] [--seed 1] [--repeat 3]
        [--skip-full-pegging] [--net-changes 30] [--check]

Data (own deterministic generator, numpy seed): items on 5 BOM levels (4 %, 10 %, 20 %, 26 %,
40 %; level 4 is purchased), each made item with 3-6 components (80 % from the next level, 20 %
skipping levels), 2 % scrap on a fifth of the lines, 2 % phantoms on levels 1-2; lot rules mixed
(60 % LFL, 10 % each FOQ, EOQ, POQ, MINMAX), lead times 0-28 days, safety stock on a fifth of
the purchased items, on hand on half of the items, one scheduled receipt per five items; demand
lines = 2 × items (100,000 at 50,000 items): 90 % on end items, 10 % spares, spread over the
horizon in weekly buckets. Prints one line per measurement (median and max of --repeat runs, peak
memory by tracemalloc in a separate run). Net change: --net-changes runs in a row, each on the
previous result after one random demand line's quantity changed (p50, p95, max of the
elapsed time, and of the process's CPU time, which a shared machine disturbs less), then the time
to build the last result's full tables when first read (a net-change result shares the previous
plan's rows until then).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xietong.manufacturing.mrp.engine import (  # noqa: E402
    BomTable,
    DatedTable,
    ItemTable,
    PlanInput,
    full_pegging,
    net_change,
    plan,
)

SHARES = [0.04, 0.10, 0.20, 0.26, 0.40]
START = dt.date(2027, 1, 4)


def generate(items: int, buckets: int, seed: int) -> PlanInput:
    rng = np.random.default_rng(seed)
    counts = [int(items * s) for s in SHARES]
    counts[-1] = items - sum(counts[:-1])
    bounds = np.concatenate([[0], np.cumsum(counts)])
    level = np.repeat(np.arange(5), counts)
    codes = np.asarray([f"I{i:07d}" for i in range(items)], dtype=object)
    make = np.where(level < 4, "make", "buy").astype(object)
    phantom = (level >= 1) & (level <= 2) & (rng.random(items) < 0.02)
    rule = rng.choice(
        ["LFL", "FOQ", "EOQ", "POQ", "MINMAX"], size=items, p=[0.6, 0.1, 0.1, 0.1, 0.1]
    )
    lot = np.where(rule == "POQ", rng.integers(2, 5, items), rng.integers(10, 200, items)).astype(
        float
    )
    lot[rule == "LFL"] = 0
    lot[rule == "MINMAX"] = 0
    minq = np.where(rule == "MINMAX", rng.integers(5, 50, items), 0).astype(float)
    maxq = np.where(rule == "MINMAX", minq + rng.integers(50, 300, items), 0).astype(float)
    mult = np.where(rng.random(items) < 0.2, rng.choice([5.0, 10.0, 12.0], items), 0.0)
    ss = np.where((level == 4) & (rng.random(items) < 0.2), rng.integers(5, 100, items), 0).astype(
        float
    )
    oh = np.where(rng.random(items) < 0.5, rng.integers(0, 500, items), 0).astype(float)
    lead = rng.integers(0, 29, items)

    parents, children = [], []
    for lv in range(4):
        p = np.arange(bounds[lv], bounds[lv + 1])
        k = rng.integers(3, 7, len(p))
        par = np.repeat(p, k)
        skip = rng.random(len(par)) < 0.2
        to_level = np.where(skip & (lv < 3), rng.integers(min(lv + 2, 4), 5, len(par)), lv + 1)
        lo, hi = bounds[to_level], bounds[to_level + 1]
        ch = lo + (rng.random(len(par)) * (hi - lo)).astype(np.int64)
        pairs = np.unique(np.stack([par, ch], axis=1), axis=0)
        parents.append(pairs[:, 0])
        children.append(pairs[:, 1])
    par = np.concatenate(parents)
    ch = np.concatenate(children)
    qty_per = rng.integers(1, 5, len(par)).astype(float)
    scrap = np.where(rng.random(len(par)) < 0.2, 2.0, 0.0)

    n_dem = 2 * items
    end = rng.random(n_dem) < 0.9
    d_item = np.where(end, rng.integers(0, counts[0], n_dem), rng.integers(0, items, n_dem))
    d_day = rng.integers(0, buckets * 7, n_dem)
    d_qty = rng.integers(1, 20, n_dem).astype(float)
    n_rec = items // 5
    r_item = rng.integers(bounds[1], items, n_rec)
    r_day = rng.integers(-7, buckets * 7, n_rec)
    r_qty = rng.integers(10, 300, n_rec).astype(float)
    start = np.datetime64(START, "D")
    return PlanInput(
        items=ItemTable(
            code=codes,
            make_or_buy=make,
            lead_time_days=lead,
            lot_rule=rule,
            lot_qty=lot,
            multiple=mult,
            min_qty=minq,
            max_qty=maxq,
            safety_stock=ss,
            on_hand=oh,
            phantom=phantom,
        ),
        bom=BomTable(parent=codes[par], component=codes[ch], qty_per=qty_per, scrap_pct=scrap),
        receipts=DatedTable(
            item=codes[r_item],
            date=start + r_day,
            qty=r_qty,
            reference=np.asarray([f"PO{i}" for i in range(n_rec)], dtype=object),
        ),
        demands=DatedTable(
            item=codes[d_item],
            date=start + d_day,
            qty=d_qty,
            reference=np.asarray([f"SO{i}" for i in range(n_dem)], dtype=object),
        ),
        start=START,
        bucket="week",
        horizon=buckets,
    )


def timed(fn, repeat: int):  # type: ignore[no-untyped-def]
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), max(samples), result


def peak(fn) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    fn()
    _current, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--buckets", type=int, default=52)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--skip-full-pegging",
        action="store_true",
        help="skip the runs with full pegging (32M rows and 3 GiB at 50,000 items)",
    )
    parser.add_argument(
        "--net-changes",
        type=int,
        default=30,
        help="net-change runs in a row, each after one random demand line changed",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the last net-change result with a regenerative run",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    inp = generate(args.items, args.buckets, args.seed)
    print(
        f"generate: {args.items} items, {len(inp.bom)} BOM lines, {len(inp.demands)} demands, "
        f"{len(inp.receipts)} receipts, {args.buckets} weekly buckets: "
        f"{time.perf_counter() - started:.2f} s"
    )
    results = {}
    modes = [(False, "no pegging"), ("single", "single-level pegging")]
    if not args.skip_full_pegging:
        modes.append((True, "full pegging"))
    for mode, label in modes:
        med, worst, result = timed(lambda mode=mode: plan(inp, pegging=mode), args.repeat)
        results[mode] = result
        size = ""
        if mode == "single":
            size = f", {len(result.single_pegging)} single-level rows"
        elif mode is True:
            size = f", {len(result.pegging)} full pegging rows"
        print(
            f"plan, {label}: {med:.3f} s (max {worst:.3f}); "
            f"{len(result.planned_orders)} planned orders, {len(result.exceptions)} exceptions"
            f"{size}, {result.context.n_levels} levels"
        )
        memory = peak(lambda mode=mode: plan(inp, pegging=mode))
        print(f"  peak memory (tracemalloc): {memory:.0f} MiB")
    single = results["single"]
    top = np.argsort(-single.planned_orders.qty)[:100] + 1
    last = single.planned_orders.id[-100:]
    for ids, label in (
        (top, "the 100 largest orders"),
        (last, "the last 100 orders (deepest level)"),
    ):
        med, worst, peg = timed(lambda ids=ids: full_pegging(single, ids), args.repeat)
        print(
            f"full pegging on demand of {label}: {med * 1000:.1f} ms (max {worst * 1000:.1f}); "
            f"{len(peg)} rows"
        )

    # net change: one random sales order line changes quantity, --net-changes times in a row,
    # each run on the previous one's result (as a live plan would)
    rng = np.random.default_rng(args.seed + 1)
    for mode, label in modes:
        reps = args.net_changes if mode is not True else args.repeat
        current, previous = inp, results[mode]
        samples, cpu, replanned = [], [], []
        for _ in range(reps):
            row = int(rng.integers(len(current.demands)))
            qty = current.demands.qty.copy()
            qty[row] += int(rng.integers(1, 20))
            current = PlanInput(
                items=current.items,
                bom=current.bom,
                receipts=current.receipts,
                demands=DatedTable(
                    item=current.demands.item,
                    date=current.demands.date.astype("datetime64[D]"),
                    qty=qty,
                    reference=current.demands.reference,
                ),
                start=current.start,
                bucket=current.bucket,
                horizon=current.horizon,
            )
            item = str(current.demands.item[row])
            started, started_cpu = time.perf_counter(), time.process_time()
            previous = net_change(current, previous, [item], pegging=mode)
            samples.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            replanned.append(len(previous.replanned))
        p50, p95 = np.percentile(samples, [50, 95])
        c50, c95 = np.percentile(cpu, [50, 95])
        print(
            f"net change after one demand line, {label}, {reps} in a row: "
            f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms "
            f"(CPU time p50 {c50 * 1000:.1f} ms, p95 {c95 * 1000:.1f} ms, "
            f"max {max(cpu) * 1000:.1f} ms); "
            f"items replanned: median {int(np.median(replanned))}, max {max(replanned)}"
        )
        started = time.perf_counter()
        orders = previous.planned_orders
        print(
            f"  then building the full tables of the last result (first access): "
            f"{time.perf_counter() - started:.3f} s; {len(orders)} planned orders"
        )
        if args.check:
            expected = plan(current, pegging=mode)
            same = (
                np.array_equal(orders.item_index, expected.planned_orders.item_index)
                and np.array_equal(orders.due_date, expected.planned_orders.due_date)
                and np.allclose(orders.qty, expected.planned_orders.qty, rtol=1e-9, atol=1e-9)
                and len(previous.exceptions) == len(expected.exceptions)
                and (
                    mode is False
                    or np.isclose(
                        previous.single_pegging.qty.sum(), expected.single_pegging.qty.sum()
                    )
                )
            )
            print(f"  equal to a regenerative run on the last input: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
