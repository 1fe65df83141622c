"""Benchmark of the customer models of the 7P analysis (no database): FP-growth frequent
itemsets and association rules on market baskets, and the BG/NBD + Gamma-Gamma lifetime-value
fit over many customers.

Usage:

    .venv/bin/python benchmarks/bench_customer_models.py [--baskets 100000] [--items 1000]
        [--min-support 0.005] [--customers 100000] [--repeat 3] [--seed 1]

Data (own deterministic generator, numpy seed): baskets of 1-10 distinct items drawn with a
Zipf-like popularity (weight 1/rank^0.8), with 20 planted pairs (the second item joins the first
in half of its baskets); customers simulated from BG/NBD (r 0.6, alpha 5, a 0.8, b 2.5, observed
26-78 weeks) with Gamma-Gamma spend (p 6, q 4, v 15). Prints the median and max of --repeat runs
and the peak memory of one run (tracemalloc), and checks that the planted pairs are found and the
fitted parameters are within 10 % of the true ones.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from xietong.analytics import baskets, clv  # noqa: E402


def make_baskets(n: int, items: int, seed: int) -> tuple[list[list[int]], list[tuple[int, int]]]:
    rng = np.random.default_rng(seed)
    weight = 1 / np.arange(1, items + 1) ** 0.8
    weight /= weight.sum()
    sizes = rng.integers(1, 11, n)
    drawn = rng.choice(items, size=int(sizes.sum()), p=weight)
    planted = [(int(a), int(b)) for a, b in rng.choice(items // 10, size=(20, 2), replace=False)]
    follow = dict(planted)
    out, at = [], 0
    for size in sizes.tolist():
        basket = set(drawn[at : at + size].tolist())
        at += size
        for item in list(basket):
            if item in follow and rng.random() < 0.5:
                basket.add(follow[item])
        out.append(list(basket))
    return out, planted


def make_customers(n: int, seed: int) -> clv.Rfm:
    rng = np.random.default_rng(seed)
    lam = rng.gamma(0.6, 1 / 5.0, n)
    drop = rng.beta(0.8, 2.5, n)
    age = rng.uniform(26, 78, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > age[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:
                break
    nu = rng.gamma(4.0, 1 / 15.0, n)
    spend = np.array([rng.gamma(6.0, 1 / nu[i], int(k)).mean() if k else 0.0
                      for i, k in enumerate(x)])  # fmt: skip
    return clv.Rfm([str(i) for i in range(n)], x, t_x, age, spend)


def timed(fn, repeat: int) -> tuple[list[float], object]:  # type: ignore[no-untyped-def]
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def peak(fn) -> float:  # type: ignore[no-untyped-def]
    tracemalloc.start()
    fn()
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return top / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baskets", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--min-support", type=float, default=0.005)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    data, planted = make_baskets(args.baskets, args.items, args.seed)
    support = args.min_support
    times, itemsets = timed(lambda: baskets.frequent_itemsets(data, min_support=support),
                            args.repeat)  # fmt: skip
    print(f"frequent itemsets: {args.baskets:,} baskets, {args.items:,} items, min support "
          f"{support:.1%}: {len(itemsets):,} itemsets; median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s")  # fmt: skip

    def rules():  # type: ignore[no-untyped-def]
        return baskets.association_rules(data, min_support=support, min_confidence=0.1,
                                         min_lift=1.0)  # fmt: skip

    times, found = timed(rules, args.repeat)
    pairs = {(r.antecedent[0], r.consequent) for r in found if len(r.antecedent) == 1}
    hit = sum((a, b) in pairs for a, b in planted)
    print(f"association rules (confidence ≥ 10 %, lift ≥ 1): {len(found):,} rules; median "
          f"{statistics.median(times):.3f} s, max {max(times):.3f} s; peak "
          f"{peak(rules):.0f} MiB; planted pairs found: {hit}/{len(planted)}")  # fmt: skip

    rfm = make_customers(args.customers, args.seed)
    times, model = timed(lambda: clv.bgnbd_fit(rfm), args.repeat)
    truth = {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 2.5}
    error = max(abs(getattr(model, k) / v - 1) for k, v in truth.items())
    print(f"BG/NBD fit: {args.customers:,} customers; median {statistics.median(times):.3f} s, "
          f"max {max(times):.3f} s; peak {peak(lambda: clv.bgnbd_fit(rfm)):.0f} MiB; "
          f"largest parameter error {error:.1%}")  # fmt: skip
    times, spend = timed(lambda: clv.gamma_gamma_fit(rfm), args.repeat)
    print(f"Gamma-Gamma fit: {int((rfm.frequency > 0).sum()):,} repeat buyers; median "
          f"{statistics.median(times):.3f} s; p {spend.p:.2f} q {spend.q:.2f} v {spend.v:.2f}")  # fmt: skip

    def values():  # type: ignore[no-untyped-def]
        return clv.lifetime_value(model, spend, rfm, horizon=52, steps=4, discount_rate=0.01)

    times, _ = timed(values, args.repeat)
    print(f"CLV over 52 weeks (13 discounted periods): median {statistics.median(times):.3f} s")


if __name__ == "__main__":
    main()
