"""Demand forecasting engine (xietong.analytics.forecast) on generated weekly demand.

    .venv/bin/python benchmarks/bench_forecast.py [--series 10000] [--intermittent 100000]
        [--jobs 2] [--h 26]

Run 1: `--series` weekly series of 3 years (a deterministic mix: 35 % seasonal, 20 % trend,
15 % smooth level, 30 % intermittent or lumpy, with a skewed volume so that ABC means
something), forecast 26 weeks ahead with backtest-based model choice. The 26 weeks after the
3 years are generated too and kept hidden: the forecast is scored on them (MASE, WAPE, bias)
against the seasonal naive of the same history. Run 2: `--intermittent` intermittent series
(Croston/TSB), the same way. Reports wall time, peak memory (tracemalloc of the parent, and
the max RSS of the worker processes), and the accuracy figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xietong.analytics import forecast as fc  # noqa: E402

WEEKS = 156
START = pd.Timestamp("2023-01-02")  # a Monday


def generate(n: int, weeks: int, *, seed: int, intermittent_only: bool = False) -> pd.DataFrame:
    """Long table unique_id, ds, y, value of `n` series of `weeks` weeks (deterministic)."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    kind = (np.full(n, 3) if intermittent_only else
            rng.choice(4, size=n, p=[0.35, 0.20, 0.15, 0.30]))  # fmt: skip
    level = np.exp(rng.normal(3.5, 1.2, n))  # skewed volumes (a long tail of small items)
    phase = rng.uniform(0, 2 * np.pi, n)
    amplitude = rng.uniform(0.25, 0.6, n)
    slope = rng.uniform(-0.004, 0.008, n)
    y = np.empty((n, weeks))
    season = np.sin(2 * np.pi * t[None, :] / 52 + phase[:, None])
    mean = level[:, None] * np.where(
        (kind == 0)[:, None], 1 + amplitude[:, None] * season,
        np.where((kind == 1)[:, None], np.clip(1 + slope[:, None] * t[None, :], 0.1, None), 1.0),
    )  # fmt: skip
    y[:] = rng.poisson(mean) * rng.gamma(20, 1 / 20, (n, weeks))
    inter = kind == 3
    if inter.any():
        k = int(inter.sum())
        p = rng.uniform(0.08, 0.5, k)[:, None]
        size = rng.gamma(rng.uniform(1.5, 6, k), rng.uniform(2, 20, k))[:, None]
        occurs = rng.random((k, weeks)) < p
        y[inter] = occurs * np.maximum(1, np.round(rng.poisson(size, (k, weeks))))
    y = np.round(y)
    price = np.exp(rng.normal(3, 0.6, n))
    return pd.DataFrame({
        "unique_id": np.repeat([f"S{i:06d}" for i in range(n)], weeks),
        "ds": np.tile(pd.date_range(START, periods=weeks, freq="W-MON").to_numpy(), n),
        "y": y.ravel(),
        "value": (y * price[:, None]).ravel(),
    })  # fmt: skip


def _cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # workers, once they have ended
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _children_maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run(name: str, n: int, *, h: int, jobs: int, seed: int, intermittent: bool) -> None:
    data = generate(n, WEEKS + h, seed=seed, intermittent_only=intermittent)
    cut = START + pd.Timedelta(weeks=WEEKS)
    history, hidden = data[data["ds"] < cut], data[data["ds"] >= cut]
    load = os.getloadavg()
    tracemalloc.start()
    cpu_before = _cpu_seconds()
    started = time.perf_counter()
    result = fc.forecast_table(history, h=h, backtest=26, n_jobs=jobs)
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_before
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    score = fc.holdout_score(result, hidden, history)
    s = result.summary
    print(f"== {name}: {n} series x {WEEKS} weeks, h={h}, n_jobs={jobs}")
    print(f"   load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(
        f"   CPU {cpu:.1f} core-seconds (this process and its workers), i.e. {cpu / 2:.1f} s "
        "of wall time on two free cores"
    )
    print(
        f"   time {elapsed:.1f} s ({elapsed / n * 1000:.2f} ms/series); peak memory parent "
        f"{peak / 2**20:.0f} MiB (tracemalloc), workers max RSS {_children_maxrss_mb():.0f} MiB"
    )
    print(
        f"   classes: {s['patterns']}; ABC: "
        f"{result.series['abc'].value_counts().sort_index().to_dict()}"
    )
    print(f"   models chosen: {s['models']}")
    print(
        f"   backtest (last 26 weeks of history, used for the choice): mean MASE "
        f"{s['mase']:.3f} vs seasonal naive {s['naive_mase']:.3f} "
        f"({s['mase_improvement']:+.1%}); WAPE {s['model']['wape']:.3f} vs "
        f"{s['naive']['wape']:.3f}; bias {s['model']['bias']:+.3f} vs {s['naive']['bias']:+.3f}"
    )
    print(
        f"   holdout (the {h} hidden weeks): mean MASE {score['mase']:.3f} vs seasonal naive "
        f"{score['naive_mase']:.3f} ({score['mase_improvement']:+.1%} better); WAPE "
        f"{score['wape']:.3f} vs {score['naive_wape']:.3f}; bias {score['bias']:+.3f} vs "
        f"{score['naive_bias']:+.3f}"
    )
    by_abc = result.series.groupby("abc")[["mase", "naive_mase"]].mean()
    for abc, row in by_abc.iterrows():
        print(f"   backtest {abc}: MASE {row['mase']:.3f} vs naive {row['naive_mase']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--intermittent", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--h", type=int, default=26)
    args = parser.parse_args()
    if args.series:
        run("mixed", args.series, h=args.h, jobs=args.jobs, seed=11, intermittent=False)
    if args.intermittent:
        run("intermittent", args.intermittent, h=args.h, jobs=args.jobs, seed=12,
            intermittent=True)  # fmt: skip


if __name__ == "__main__":
    main()
