"""Greedy dispatch: list scheduling that always yields a feasible schedule (CP-SAT's warm start).

A serial schedule-generation scheme: operations are taken one at a time, among those whose
predecessors are all placed, by a priority rule, and each is placed at the earliest start on its
work center that honours its predecessors' ends, its earliest start, the calendar (see
`model` for the pause-at-breaks model) and the capacity left by the operations already placed
(it may fill an earlier gap). Rules:

- ``edd``: earliest due date of the order (heavier orders first on ties), order by order;
- ``cr``: critical ratio, working time left until the due date over the order's remaining work;
- ``slack``: weighted minimum slack, (working time to due - remaining work) scaled by the weight.

``best`` runs all of them and keeps the best by (weighted tardiness, makespan). `improve` then
searches over order rankings for the ``edd`` rule (simulated annealing, a few hundred dispatches
a second for 500 operations). `compact` runs the same scheme in the order of an existing
schedule's starts: a left shift that never delays an operation (the LNS and CP-SAT results pass
through it).
"""

from __future__ import annotations

import heapq
import math
import random
import time
from bisect import bisect_right
from collections.abc import Callable

from .model import (
    Problem,
    Schedule,
    ScheduleInput,
    ScheduleInputError,
    build_schedule,
    place,
    prepare,
)

RULES = ("edd", "cr", "slack")


class _Profile:
    """Machines in use over time on one work center: usage[k] on [times[k], times[k + 1])."""

    __slots__ = ("times", "usage")

    def __init__(self) -> None:
        self.times = [0]
        self.usage = [0]

    def conflict(self, s: int, e: int, capacity: int) -> int | None:
        """None if one more operation fits on [s, e); else the end of the first full stretch."""
        times, usage = self.times, self.usage
        k = bisect_right(times, s) - 1
        while k < len(times) and times[k] < e:
            if usage[k] >= capacity:
                return times[k + 1]  # the last stretch (after every end) is empty, so k + 1 exists
            k += 1
        return None

    def _split(self, t: int) -> int:
        k = bisect_right(self.times, t) - 1
        if self.times[k] != t:
            k += 1
            self.times.insert(k, t)
            self.usage.insert(k, self.usage[k - 1])
        return k

    def add(self, s: int, e: int) -> None:
        a = self._split(s)
        b = self._split(e)
        for k in range(a, b):
            self.usage[k] += 1


def _priority(
    problem: Problem, rule: str, i: int, ready: int, rank: list[float] | None = None
) -> tuple:
    j = problem.op_order[i]
    due, weight = problem.order_due[j], problem.order_weight[j]
    if rule == "edd":
        return (due if rank is None else rank[j], -weight, j, i)
    cal = problem.calendars[problem.op_center[i]]
    window = cal.working_before(due) - cal.working_before(ready) if due > ready else due - ready
    work = problem.tail[i]
    if rule == "cr":
        ratio = window / max(1, work)
        return (ratio / max(1, weight) if ratio > 0 else ratio * max(1, weight), due, j, i)
    if rule == "slack":
        slack = window - work
        return (slack / max(1, weight) if slack > 0 else slack * max(1, weight), due, j, i)
    raise ValueError(f"unknown dispatch rule {rule!r}; use one of {RULES} or 'best'")


def dispatch(
    problem: Problem, rule: str, rank: list[float] | None = None
) -> tuple[list[int], list[int]]:
    """Grid starts and ends of every operation under one priority rule.

    `rank` replaces the orders' due dates in the ``edd`` rule (the improvement loop's lever).
    """
    return _serial(problem, lambda i, ready: _priority(problem, rule, i, ready, rank))


def compact(problem: Problem, starts: list[int]) -> tuple[list[int], list[int]]:
    """Left-shift a feasible schedule: the operations re-placed one by one in the order of their
    `starts`, each at its earliest feasible start given those placed before it.

    No operation starts later than in `starts` (by induction: the operations placed before one
    are, at any instant of its old interval, a subset of those that ran then in the old schedule,
    and a finish is non-decreasing in the start), so no order ends later and the objective never
    gets worse; operations may move into gaps that other moves opened.
    """
    position = problem.topo_position
    return _serial(problem, lambda i, ready: (starts[i], position[i]))


def _serial(problem: Problem, priority: Callable[[int, int], tuple]) -> tuple[list[int], list[int]]:
    """The serial schedule-generation scheme: among the operations whose predecessors are
    placed, the one of least `priority(i, ready)` goes at its earliest feasible start."""
    n = len(problem.op_center)
    profiles = [_Profile() for _ in problem.calendars]
    starts, ends = [0] * n, [0] * n
    ready = list(problem.op_release)
    waiting = [len(p) for p in problem.preds]
    heap = [(priority(i, ready[i]), i) for i in range(n) if not waiting[i]]
    heapq.heapify(heap)
    while heap:
        _, i = heapq.heappop(heap)
        center = problem.op_center[i]
        capacity = problem.capacity[center]
        profile = profiles[center]
        t = ready[i]
        while True:
            s, e = place(problem, i, t)
            if e == s:
                break  # zero duration: uses no machine
            later = profile.conflict(s, e, capacity)
            if later is None:
                profile.add(s, e)
                break
            t = later
        starts[i], ends[i] = s, e
        for succ in problem.succs[i]:
            ready[succ] = max(ready[succ], e)
            waiting[succ] -= 1
            if not waiting[succ]:
                heapq.heappush(heap, (priority(succ, ready[succ]), succ))
    return starts, ends


def best_dispatch(
    problem: Problem, rule: str = "best"
) -> tuple[list[int], list[int], str, tuple[int, int]]:
    """(starts, ends, rule, (weighted tardiness, makespan) in grid units) of the best rule."""
    rules = RULES if rule == "best" else (rule,)
    best = None
    for name in rules:
        starts, ends = dispatch(problem, name)
        key = problem.objective(starts, ends)
        if best is None or key < best[3]:
            best = (starts, ends, name, key)
    assert best is not None
    return best


def improve(
    problem: Problem,
    best: tuple[list[int], list[int], str, tuple[int, int]],
    budget_s: float,
    seed: int = 0,
    patience: int = 300,
) -> tuple[list[int], list[int], str, tuple[int, int]]:
    """Iterated dispatch for up to `budget_s` seconds (simulated annealing over order ranks).

    Each pass re-runs the ``edd`` dispatch with the orders ranked by a key instead of their due
    date: one late order's key moves earlier by a random multiple of its lateness and every key
    gets a little noise; the pass is accepted when not worse, or by the annealing rule. Stops
    early when the tardiness is 0 or after `patience` passes without a new best.
    """
    stop = time.perf_counter() + budget_s
    rng = random.Random(seed)  # noqa: S311 (a search heuristic, not security)
    starts, ends, name, key = best
    current = (ends, key, [float(d) for d in problem.order_due])
    noise = max(1.0, 0.003 * key[1])
    temperature = max(1.0, 0.05 * key[0])
    since_best = 0
    while key[0] > 0 and since_best < patience and time.perf_counter() < stop:
        c_ends, c_key, c_rank = current
        late = []
        for j, ops in enumerate(problem.order_ops):
            if ops and problem.order_weight[j]:
                lateness = max(c_ends[i] for i in ops) - problem.order_due[j]
                if lateness > 0:
                    late.append((j, lateness))
        trial = [r + rng.gauss(0.0, noise) for r in c_rank]
        if late:
            j, lateness = rng.choice(late)
            trial[j] -= lateness * rng.uniform(0.2, 1.5)
        t_starts, t_ends = dispatch(problem, "edd", trial)
        t_key = problem.objective(t_starts, t_ends)
        worse = t_key[0] - c_key[0]
        if t_key <= c_key or rng.random() < math.exp(-worse / temperature):
            current = (t_ends, t_key, trial)
        since_best += 1
        if t_key < key:
            starts, ends, key, name = t_starts, t_ends, t_key, "edd+improve"
            since_best = 0
        temperature = max(0.5, temperature * 0.995)
    return starts, ends, name, key


def greedy_schedule(
    inp: ScheduleInput, *, rule: str = "best", improve_s: float = 0.0, seed: int = 0
) -> Schedule:
    """A feasible schedule by list scheduling (`rule`: edd, cr, slack or best), then improved
    by `improve` for up to `improve_s` seconds (0: not at all).

    Raises `ScheduleInputError` (a subclass naming the problem) for invalid input, including
    `CalendarExhaustedError` when a calendar ends before an operation can be finished.
    """
    if rule != "best" and rule not in RULES:
        raise ScheduleInputError(f"unknown dispatch rule {rule!r}; use one of {RULES} or 'best'")
    problem = prepare(inp)
    best = best_dispatch(problem, rule)
    if improve_s > 0:
        best = improve(problem, best, improve_s, seed)
    starts, ends, name, _ = best
    return build_schedule(problem, starts, ends, f"greedy:{name}")
