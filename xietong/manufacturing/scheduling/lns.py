"""Large-neighbourhood search: CP-SAT re-optimises part of the schedule, the rest fixed.

CP-SAT's own LNS on the whole model of 500 operations with calendars is slow here (measured on
the shared 2-core machine: one neighbourhood every 0.1-1.5 s of wall time, up to 5 s under
heavier load, for 2-100 ms of deterministic time). This loop keeps each model small instead. A step frees either every
operation of a few work centers (drawn through late orders' operations: the whole sequence of a
center is re-decided) or about `size` operations consecutive by start time around an operation
of a late order (or a random one); every other operation stays exactly where it is (a fixed
interval on its center, a constant bound for its free predecessors and successors). CP-SAT,
hinted with the current schedule, then places the free ones:

- primary: the weighted tardiness of the orders whose last operation is free (the others'
  completions are fixed), so the schedule's weighted tardiness never gets worse;
- secondary: the sum of the free operations' ends, a late order's weighted `URGENT` times more
  (pull them left, opening room for the operations after them), every free operation ending by
  the current makespan (so that never gets worse either).

The result is then re-timed by `greedy.compact`, which never delays an operation, so a step is
never worse; equal schedules are kept too, so the search moves across plateaus. The
neighbourhood size adapts: it grows when CP-SAT proves a step optimal and shrinks otherwise.
The search stops at its deadline, after `PATIENCE` steps without a better schedule (measured: a
local optimum is reached in 10-15 s on 500 operations), or when a step freed every operation
and was proven optimal. `cpsat.solve` runs it after CP-SAT's search on the whole model.

Every step solves with one CP-SAT worker, its own seed and a deterministic-time cap, so the
sequence of schedules depends only on `seed` and the input; the wall clock only decides how many
steps run (and cuts the last one short at the deadline).
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ortools.sat.python import cp_model

from .greedy import compact
from .intervals import operation_vars
from .model import Problem, earliest_starts, place

STEP_DTIME = 0.05  # deterministic seconds per step, at most
SIZE_START = 40  # free operations in the first step
SIZE_MIN, SIZE_MAX = 20, 160
PATIENCE = 60  # steps without a better schedule before stopping (a local optimum)
CENTER_SHARE = 0.5  # of the steps free whole work centers; the others a stretch of time
URGENT = 10  # pull on a late order's free operations, per unit of weight, against 1


@dataclass
class LnsState:
    starts: list[int]
    ends: list[int]
    key: tuple[int, int]  # (weighted tardiness, makespan) in grid units
    steps: int = 0
    improvements: int = 0
    dtime: float = 0.0  # CP-SAT deterministic time used


def _order_completions(problem: Problem, ends: list[int]) -> list[int | None]:
    return [max((ends[i] for i in ops), default=None) for ops in problem.order_ops]


def _neighbourhood(
    problem: Problem, state: LnsState, by_start: list[int], size: int, rng: random.Random
) -> list[int]:
    """The free operations: every operation on a few work centers (`_center_neighbourhood`), or
    `size` consecutive ones by start around an operation of a late order (picked with
    probability proportional to its weighted tardiness) or, when none is late or one time in
    four, around a random one."""
    n = len(by_start)
    if size >= n:
        return list(by_start)
    if rng.random() < CENTER_SHARE:
        return _center_neighbourhood(problem, state, by_start, size, rng)
    anchor = None
    if state.key[0] > 0 and rng.random() < 0.75:
        late, weights = [], []
        completions = _order_completions(problem, state.ends)
        for j, completion in enumerate(completions):
            w = problem.order_weight[j]
            if completion is not None and w and completion > problem.order_due[j]:
                late.append(j)
                weights.append(w * (completion - problem.order_due[j]))
        if late:
            (j,) = rng.choices(late, weights)
            anchor = by_start.index(rng.choice(problem.order_ops[j]))
    if anchor is None:
        anchor = rng.randrange(n)
    # Mostly before the anchor: that is where room for a late operation has to be made.
    lo = anchor - int(size * rng.uniform(0.5, 0.95))
    lo = min(max(0, lo), n - size)
    return by_start[lo : lo + size]


def _center_neighbourhood(
    problem: Problem, state: LnsState, by_start: list[int], size: int, rng: random.Random
) -> list[int]:
    """Every operation on work centers drawn through the operations of late orders (any
    operation when none is late), until about `size` operations are free: the whole sequence of
    a center is re-decided, the rest of the schedule fixed."""
    completions = _order_completions(problem, state.ends)
    late = [
        j
        for j, completion in enumerate(completions)
        if completion is not None and completion > problem.order_due[j] and problem.order_weight[j]
    ]
    pool = [i for j in late for i in problem.order_ops[j]] or by_start
    on_center: dict[int, list[int]] = {}
    for i in by_start:
        on_center.setdefault(problem.op_center[i], []).append(i)
    chosen: set[int] = set()
    free: list[int] = []
    for _ in range(4 * len(on_center)):
        center = problem.op_center[rng.choice(pool)]
        if center in chosen:
            continue
        chosen.add(center)
        free.extend(on_center[center])
        if len(free) >= size or len(chosen) == len(on_center):
            break
    return free


def _step(
    problem: Problem,
    state: LnsState,
    free: list[int],
    es: list[int],
    seed: int,
    wall_s: float,
    dtime: float,
) -> tuple[list[int], list[int], bool, float] | None:
    """Re-optimise the `free` operations; (starts, ends, proven optimal, dtime) or None."""
    starts, ends = state.starts, state.ends
    wt, makespan = state.key
    is_free = set(free)
    order = sorted(free, key=problem.topo_position.__getitem__)

    lower: dict[int, int] = {}
    for i in order:
        t = es[i]
        for p in problem.preds[i]:
            t = max(t, place(problem, p, lower[p])[1] if p in is_free else ends[p])
        lower[i] = min(t, starts[i])
    upper: dict[int, int] = {}
    for i in reversed(order):
        j = problem.op_order[i]
        w = problem.order_weight[j]
        latest_end = makespan
        if w:
            latest_end = min(latest_end, problem.order_due[j] + wt // w)
        for s in problem.succs[i]:
            latest_end = min(latest_end, upper[s] if s in is_free else starts[s])
        cal = problem.calendars[problem.op_center[i]]
        latest = cal.latest_start(latest_end, problem.op_duration[i])
        upper[i] = starts[i] if latest is None else max(latest, starts[i])

    model = cp_model.CpModel()
    start_var: dict[int, cp_model.IntVar] = {}
    end_expr: dict[int, cp_model.LinearExprT] = {}
    intervals: dict[int, list[cp_model.IntervalVar]] = {}
    span: dict[int, list[int]] = {}
    end_bound = 0
    for i in order:
        center, d = problem.op_center[i], problem.op_duration[i]
        start, end, interval, groups, ranges = operation_vars(
            model, problem, i, lower[i], upper[i], starts[i], ends[i]
        )
        model.add(end <= makespan)
        start_var[i], end_expr[i] = start, end
        end_bound += ranges[-1][1] + max(groups) + d
        if d:
            intervals.setdefault(center, []).append(interval)
            lo_hi = span.setdefault(center, [ranges[0][0], 0])
            lo_hi[0] = min(lo_hi[0], ranges[0][0])
            lo_hi[1] = max(lo_hi[1], ranges[-1][1] + d + max(groups))

    for i in order:
        for p in problem.preds[i]:
            if p in is_free:
                model.add(end_expr[p] <= start_var[i])

    fixed_on: dict[int, list[int]] = {}
    for k in range(len(starts)):
        center = problem.op_center[k]
        if k not in is_free and center in span and ends[k] > starts[k]:
            lo, hi = span[center]
            if starts[k] < hi and ends[k] > lo:
                fixed_on.setdefault(center, []).append(k)
    for center, members in intervals.items():
        fixed = [
            model.new_fixed_size_interval_var(starts[k], ends[k] - starts[k], f"f{k}")
            for k in fixed_on.get(center, [])
        ]
        capacity = problem.capacity[center]
        if capacity == 1:
            model.add_no_overlap(members + fixed)
        elif len(members) + len(fixed) > capacity:
            model.add_cumulative(members + fixed, [1] * (len(members) + len(fixed)), capacity)

    completions = _order_completions(problem, ends)
    tardiness = []
    for j in sorted({problem.op_order[i] for i in free}):
        w = problem.order_weight[j]
        last_free = [i for i in problem.order_last_ops[j] if i in is_free]
        if not w or not last_free:
            continue
        due = problem.order_due[j]
        fixed_end = max((ends[i] for i in problem.order_last_ops[j] if i not in is_free), default=0)
        now = max(ends[i] for i in problem.order_last_ops[j])
        t = model.new_int_var(max(0, fixed_end - due), max(0, now - due, wt // w), f"t{j}")
        for i in last_free:
            model.add(t >= end_expr[i] - due)
        model.add_hint(t, max(0, now - due))
        tardiness.append((w, t))
    # The secondary term pulls the free operations left, a late order's much harder: that opens
    # room the re-timing (`compact`) passes on to the operations after the stretch.
    pull = []
    for i in free:
        j = problem.op_order[i]
        late = completions[j] is not None and completions[j] > problem.order_due[j]
        pull.append((1 + URGENT * problem.order_weight[j] if late else 1, end_expr[i]))
    scale = (end_bound + 1) * (1 + URGENT * max(problem.order_weight, default=0))
    model.minimize(scale * sum(w * t for w, t in tardiness) + sum(w * e for w, e in pull))

    solver = cp_model.CpSolver()
    params = solver.parameters
    params.num_workers = 1
    params.random_seed = seed
    params.max_time_in_seconds = max(0.01, wall_s)
    params.max_deterministic_time = dtime
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    new_starts, new_ends = list(starts), list(ends)
    for i in free:
        new_starts[i] = solver.value(start_var[i])
        new_ends[i] = solver.value(end_expr[i])
    return new_starts, new_ends, code == cp_model.OPTIMAL, solver.deterministic_time


def search(
    problem: Problem,
    starts: list[int],
    ends: list[int],
    *,
    deadline: float,
    seed: int = 0,
    workers: int = 1,
    dtime_limit: float | None = None,
    patience: int = PATIENCE,
    on_improve=None,  # type: ignore[no-untyped-def]
) -> LnsState:
    """Improve a feasible schedule until `deadline` (a `time.perf_counter()` value), or until
    `dtime_limit` deterministic seconds of CP-SAT have been used, after `patience` steps without
    a better schedule, or when the schedule is proven optimal (the whole problem fitted in one
    step). Each step tries `workers` neighbourhoods at once (one thread each; CP-SAT releases
    the GIL) and keeps the best result. `on_improve(key)` is called on each new best.
    """
    es, _ = earliest_starts(problem)
    rng = random.Random(seed)  # noqa: S311 (a search heuristic, not security)
    state = LnsState(list(starts), list(ends), problem.objective(starts, ends))
    n = len(starts)
    size = min(SIZE_START, n)
    since_best = 0
    workers = max(1, workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while since_best < patience:
            remaining = deadline - time.perf_counter()
            if remaining < 0.02:
                break
            budget = STEP_DTIME
            if dtime_limit is not None:
                budget = min(budget, (dtime_limit - state.dtime) / workers)
                if budget <= 0:
                    break
            by_start = sorted(range(n), key=lambda i: (state.starts[i], problem.topo_position[i]))
            tries = [
                (_neighbourhood(problem, state, by_start, size, rng), rng.randrange(1 << 30))
                for _ in range(workers)
            ]
            wall = remaining  # only the deadline: a wall cap per step would break determinism
            futures = [
                pool.submit(_step, problem, state, free, es, step_seed, wall, budget)
                for free, step_seed in tries
            ]
            results = [f.result() for f in futures]
            state.steps += 1
            since_best += 1
            best = None
            all_optimal = True
            for (free, _), found in zip(tries, results, strict=True):
                if found is None:
                    all_optimal = False
                    continue
                new_starts, new_ends, optimal, used = found
                state.dtime += used
                all_optimal = all_optimal and optimal
                new_starts, new_ends = compact(problem, new_starts)
                key = problem.objective(new_starts, new_ends)
                if best is None or key < best[2]:
                    best = (new_starts, new_ends, key)
                if optimal and len(free) == n:
                    since_best = patience  # the whole problem, solved: nothing left to find
            if best is not None and best[2] <= state.key:
                if best[2] < state.key:
                    state.improvements += 1
                    since_best = min(since_best, 0)
                    if on_improve is not None:
                        on_improve(best[2])
                state.starts, state.ends, state.key = best
            if all_optimal:
                size = min(SIZE_MAX, n, int(size * 1.1) + 1)
            else:
                size = max(SIZE_MIN, int(size * 0.85))
    return state
