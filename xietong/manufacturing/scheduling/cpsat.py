"""Finite-capacity scheduling with OR-Tools CP-SAT, warm-started by the greedy dispatch.

`solve` runs, within one wall-clock budget: the greedy dispatch (`greedy.best_dispatch`, always
feasible), a short improvement of it (`greedy.improve`, at most 20 % of the budget and 1.5 s),
CP-SAT on the whole model below with that schedule as a complete hint, its schedule re-timed by
`greedy.compact` (never later), and on inputs of `LNS_MIN_OPS` operations or more the windowed
LNS of `lns` for the last part of the budget (half the time left after the improvement, at most
`LNS_MAX_S`): CP-SAT's own search explores (it found the best schedules known on the benchmark
in 60 s), the LNS's small models then descend fast from where it stopped (measured: going
first, the LNS made the 10-second results better but led CP-SAT into worse 60-second ones).
The best schedule is returned.

Lower bound: the greater of CP-SAT's bound on the model (valid within the search window) and
`critical_path_bound` (each order's earliest finish with unlimited capacity). On the benchmark
both are 0 for loose due dates, so the gap stays 1.0 there: it is not evidence of distance to
the optimum.

Model (on the integer grid of `model`)
--------------------------------------
- One interval per operation on its work center: `add_no_overlap` when the center has one machine,
  `add_cumulative` (demand 1) otherwise. Zero-duration operations use no capacity.
- Calendars (operations pause over non-working time, see `model`): an operation of `d` working
  units started at `s` occupies `[s, s + d + extra(s))` where `extra(s)` is the break time it
  spans, a step function of `s`. Its admissible starts are grouped by `extra`; with one group
  the size is constant, otherwise one Boolean per group (exactly one true) restricts the start to
  that group's ranges and sets the size. Short operations usually have 2-4 groups (none, a
  break, a night, a weekend). Starts inside non-working time are not in the domain at all.
- Precedence: `end(pred) <= start(succ)`; earliest starts are the start variables' lower bounds.
- Objective, lexicographic in one solve: `(H + 1) * sum(weight * tardiness) + makespan`, where
  `H` bounds the makespan, so any tardiness gain outweighs any makespan change. Tardiness is
  measured against due dates rounded down to the grid.
- Horizon: the warm start (always feasible) is the hint and an upper bound. A schedule at least as
  good has total weighted tardiness <= the warm start's `Tw`, so order j ends by
  `due_j + Tw // weight_j` (exact). With `search_window` (default 0.1) order j is also kept
  within `max(due_j, its warm-start completion) + search_window * warm makespan`: no order is
  searched much later than it already is, which keeps the start domains small; `None` makes the
  model exact (OPTIMAL then means optimal, not optimal within the window). `H` is the greatest
  order bound and the warm makespan. Latest starts follow backwards through the routing and the
  calendars, earliest starts forwards.
- CP-SAT's presolve is off: on these models it spent seconds in probing before the first search
  (measured: 7 s for 500 operations) while the hint is already a complete solution.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from . import lns
from .greedy import best_dispatch, compact, improve
from .intervals import operation_vars
from .model import (
    Problem,
    Schedule,
    ScheduleInput,
    ScheduleMetrics,
    build_schedule,
    earliest_starts,
    prepare,
)

IMPROVE_SHARE = 0.2  # of the time limit spent improving the greedy schedule ...
IMPROVE_MAX_S = 1.5  # ... at most
OUTPUT_RESERVE_S = 0.05
LNS_MIN_OPS = 150  # smaller inputs: CP-SAT on the whole model only (it often proves optimality)
LNS_SHARE = 0.5  # of the time left after the improvement, for the windowed LNS at the end ...
LNS_MAX_S = 5.0  # ... at most: on long limits CP-SAT keeps nearly all the time (see above)


@dataclass(frozen=True)
class SolveResult:
    schedule: Schedule  # the best schedule found (CP-SAT's, or the greedy's)
    # OPTIMAL (proven, within the search window) | FEASIBLE (CP-SAT's schedule, from the LNS or
    # the whole model) | GREEDY (the greedy or improved greedy schedule: CP-SAT found nothing
    # better in time)
    status: str
    solver_status: str  # CP-SAT's own status (UNKNOWN when it found nothing or did not run)
    metrics: ScheduleMetrics  # of `schedule`, in real minutes
    greedy_metrics: ScheduleMetrics  # of the plain greedy dispatch (best rule)
    greedy_rule: str
    # Lower bound on the weighted tardiness (grid minutes, due dates rounded down to the grid),
    # and the relative gap of the schedule's grid tardiness to it (0 = proven optimal tardiness).
    tardiness_bound_minutes: float | None
    gap: float | None
    wall_time_s: float
    # (seconds since the call, weighted tardiness, makespan) in grid minutes: the warm start,
    # then each CP-SAT solution.
    progress: tuple[tuple[float, float, float], ...]


class _Progress(cp_model.CpSolverSolutionCallback):
    def __init__(self, started: float, scale: int, unit_minutes: int) -> None:
        super().__init__()
        self.started, self.scale, self.unit = started, scale, unit_minutes
        self.points: list[tuple[float, float, float]] = []

    def add(self, wt: int, mk: int) -> None:
        self.points.append((time.perf_counter() - self.started, wt * self.unit, mk * self.unit))

    def on_solution_callback(self) -> None:
        self.add(*divmod(round(self.objective_value), self.scale))


@dataclass
class _Built:
    model: cp_model.CpModel
    starts: list[cp_model.IntVar]
    ends: list[cp_model.LinearExprT]
    scale: int


def _build(
    problem: Problem,
    g_starts: list[int],
    g_ends: list[int],
    g_key: tuple[int, int],
    window: float | None,
) -> _Built:
    n = len(problem.op_center)
    g_wt, g_mk = g_key
    weighted = [j for j, ops in enumerate(problem.order_ops) if ops and problem.order_weight[j] > 0]
    slack = max(1, round(window * g_mk)) if window is not None else None
    deadline = [0] * len(problem.order_ops)
    for j, ops in enumerate(problem.order_ops):
        if not ops:
            continue
        completion = max(g_ends[i] for i in ops)
        latest = None if slack is None else max(completion, problem.order_due[j]) + slack
        if problem.order_weight[j] > 0:
            exact = problem.order_due[j] + g_wt // problem.order_weight[j]
            deadline[j] = exact if latest is None else min(exact, latest)
        else:
            deadline[j] = latest if latest is not None else -1
    horizon = max([g_mk] + deadline)
    deadline = [horizon if d < 0 else d for d in deadline]

    es, _ = earliest_starts(problem)
    ls = [0] * n
    for i in reversed(problem.topo):
        latest_end = min([deadline[problem.op_order[i]]] + [ls[s] for s in problem.succs[i]])
        cal = problem.calendars[problem.op_center[i]]
        latest = cal.latest_start(latest_end, problem.op_duration[i])
        # The greedy schedule meets every bound, so this never cuts it (guard against rounding).
        ls[i] = g_starts[i] if latest is None else max(latest, g_starts[i])

    model = cp_model.CpModel()
    starts: list[cp_model.IntVar] = []
    ends: list[cp_model.LinearExprT] = []
    intervals: list[list[cp_model.IntervalVar]] = [[] for _ in problem.calendars]
    for i in range(n):
        center, d = problem.op_center[i], problem.op_duration[i]
        start, end, interval, _groups, _ranges = operation_vars(
            model, problem, i, es[i], ls[i], g_starts[i], g_ends[i]
        )
        if d:
            intervals[center].append(interval)
        starts.append(start)
        ends.append(end)

    for center, members in enumerate(intervals):
        if problem.capacity[center] == 1:
            model.add_no_overlap(members)
        elif len(members) > problem.capacity[center]:
            model.add_cumulative(members, [1] * len(members), problem.capacity[center])
    for i in range(n):
        for p in problem.preds[i]:
            model.add(ends[p] <= starts[i])

    tardiness = []
    for j in weighted:
        due = problem.order_due[j]
        completion = max(g_ends[i] for i in problem.order_ops[j])
        t = model.new_int_var(0, max(0, deadline[j] - due), f"t{j}")
        for i in problem.order_last_ops[j]:
            model.add(t >= ends[i] - due)
        model.add_hint(t, max(0, completion - due))
        tardiness.append((problem.order_weight[j], t))
    total = sum(w * t for w, t in tardiness)
    makespan = model.new_int_var(0, horizon, "makespan")
    for i in range(n):
        if not problem.succs[i]:
            model.add(makespan >= ends[i])
    model.add_hint(makespan, g_mk)
    if tardiness:
        model.add(total <= g_wt)
    scale = horizon + 1
    model.minimize(scale * total + makespan)
    return _Built(model=model, starts=starts, ends=ends, scale=scale)


def solve(
    inp: ScheduleInput,
    *,
    time_limit_s: float = 10.0,
    workers: int = 2,
    seed: int = 0,
    search_window: float | None = 0.1,
    improve_s: float | None = None,
    deterministic_time: float | None = None,
    log: bool = False,
    lns_share: float | None = None,
) -> SolveResult:
    """Schedule `inp`: greedy dispatch, its improvement, CP-SAT on the whole model, then the
    windowed LNS (`lns`, inputs of `LNS_MIN_OPS` operations or more) for the last part.

    `time_limit_s` covers the whole call (validation, greedy, model building, search); `workers`
    is CP-SAT's thread count for the whole-model search and the LNS's number of neighbourhoods
    tried at once (2 at most on this machine), and `seed`
    seeds the improvement, the LNS and CP-SAT. `search_window` bounds how far past max(its due
    date, its warm-start completion) an order may end in the whole model, as a share of the warm
    makespan (None = exact model, see the module docstring). `improve_s` overrides the
    improvement budget (default: 20 % of the limit, at most 1.5 s); `lns_share` the LNS's share
    of the time left after it (default `LNS_SHARE`, at most `LNS_MAX_S` seconds; 0 = no LNS; it
    is skipped when CP-SAT proved its schedule optimal). `deterministic_time` caps the
    CP-SAT deterministic seconds of the LNS and of the whole-model search, each (with
    `workers=1`, `improve_s=0` the result is then reproducible, unless a wall-clock limit,
    `time_limit_s` or the LNS's share of it, is reached first).

    Returns the best schedule found, never worse than the greedy's by (weighted tardiness,
    makespan); the greedy schedule when CP-SAT finds nothing in time. Raises a
    `ScheduleInputError` subclass on invalid input (see `model.prepare`) or when a calendar is too
    short to finish an operation.
    """
    started = time.perf_counter()
    problem = prepare(inp)
    first = best_dispatch(problem)
    greedy = build_schedule(problem, first[0], first[1], f"greedy:{first[2]}")
    if improve_s is None:
        improve_s = min(IMPROVE_MAX_S, IMPROVE_SHARE * time_limit_s)
    budget = improve_s - (time.perf_counter() - started)
    g_starts, g_ends, g_rule, g_key = improve(problem, first, budget, seed)
    unit = problem.inp.granularity_minutes
    progress = _Progress(started, 1, unit)
    progress.add(*g_key)
    warm = (
        greedy
        if g_rule == first[2]
        else build_schedule(problem, g_starts, g_ends, "greedy:improved")
    )
    best = (g_starts, g_ends, g_key)
    share = LNS_SHARE if lns_share is None else lns_share
    lns_s = 0.0
    if share > 0 and len(problem.op_center) >= LNS_MIN_OPS:
        left = time_limit_s - (time.perf_counter() - started) - OUTPUT_RESERVE_S
        lns_s = min(LNS_MAX_S, share * left)

    built = _build(problem, g_starts, g_ends, g_key, search_window)
    solver = cp_model.CpSolver()
    # Keep a little time to read the solution and build the output (~20 ms per 500 operations).
    remaining = time_limit_s - (time.perf_counter() - started) - OUTPUT_RESERVE_S - lns_s
    params = solver.parameters
    params.max_time_in_seconds = max(0.01, remaining)
    params.num_workers = max(1, workers)
    params.random_seed = seed
    params.log_search_progress = log
    params.cp_model_presolve = False
    if deterministic_time is not None:
        params.max_deterministic_time = deterministic_time
    progress.scale = built.scale
    code = solver.solve(built.model, progress)
    solver_status = solver.status_name(code)

    status, bound = "GREEDY", critical_path_bound(problem)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        starts = [solver.value(s) for s in built.starts]
        ends = [solver.value(e) for e in built.ends]
        starts, ends = compact(problem, starts)  # never later; closes gaps CP-SAT left
        key = problem.objective(starts, ends)
        lower = math.ceil(solver.best_objective_bound - 1e-6)
        wt_lb = max(0, -((built.scale - 1 - lower) // built.scale))  # ceil((lower - H) / scale)
        bound = max(bound, wt_lb)
        if key <= best[2]:
            best, status = (starts, ends, key), solver_status

    if lns_s > 0 and status != "OPTIMAL" and best[2][0] > bound:
        state = lns.search(
            problem,
            best[0],
            best[1],
            deadline=started + time_limit_s - OUTPUT_RESERVE_S,
            seed=seed,
            workers=workers,
            dtime_limit=deterministic_time,
            on_improve=lambda key: progress.add(*key),
        )
        if state.key < best[2]:
            best, status = (state.starts, state.ends, state.key), "FEASIBLE"
    schedule = warm if status == "GREEDY" else build_schedule(problem, *best[:2], "cpsat")
    wt = best[2][0]
    gap = 0.0 if wt <= bound else (wt - bound) / wt
    return SolveResult(
        schedule=schedule,
        status=status,
        solver_status=solver_status,
        metrics=schedule.metrics,
        greedy_metrics=greedy.metrics,
        greedy_rule=first[2],
        tardiness_bound_minutes=bound * unit,
        gap=gap,
        wall_time_s=time.perf_counter() - started,
        progress=tuple(progress.points),
    )


def critical_path_bound(problem: Problem) -> int:
    """A lower bound on the weighted tardiness (grid units): each order ends no earlier than its
    operations' earliest finish with unlimited capacity (routing, releases and calendars)."""
    _, ef = earliest_starts(problem)
    return sum(
        problem.order_weight[j] * max(0, max(ef[i] for i in ops) - problem.order_due[j])
        for j, ops in enumerate(problem.order_ops)
        if ops
    )
