"""Finite-capacity scheduling: pure functions, no database."""

from __future__ import annotations

import dataclasses
import itertools
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from xietong.manufacturing.scheduling import (
    CalendarExhaustedError,
    CyclicPrecedenceError,
    DuplicateIdError,
    EmptyCalendarError,
    Operation,
    Order,
    ScheduleInput,
    ScheduleInputError,
    UnknownReferenceError,
    WorkCenter,
    cpsat,
    greedy_schedule,
    lns,
    schedule_violations,
    solve,
)
from xietong.manufacturing.scheduling.greedy import best_dispatch, compact, dispatch
from xietong.manufacturing.scheduling.model import (
    Calendar,
    Problem,
    build_schedule,
    place,
    prepare,
)

H0 = datetime(2027, 1, 4, tzinfo=UTC)  # a Monday, 00:00


def at(hours: float) -> datetime:
    return H0 + timedelta(hours=hours)


def always(days: int = 10) -> list[tuple[datetime, datetime]]:
    return [(H0, H0 + timedelta(days=days))]


def shifts(*hours: tuple[float, float], days: int = 10) -> list[tuple[datetime, datetime]]:
    """The same working hours every day."""
    return [(at(24 * d + a), at(24 * d + b)) for d in range(days) for a, b in hours]


def op(id, order, wc, minutes, seq=0, **kw) -> Operation:  # type: ignore[no-untyped-def]
    return Operation(
        id=id, order_id=order, work_center_id=wc, duration_minutes=minutes, sequence=seq, **kw
    )


def make(centers, orders, ops, granularity=15) -> ScheduleInput:  # type: ignore[no-untyped-def]
    return ScheduleInput(
        horizon_start=H0,
        work_centers=centers,
        orders=orders,
        operations=ops,
        granularity_minutes=granularity,
    )


def by_id(schedule):  # type: ignore[no-untyped-def]
    return {so.operation_id: so for so in schedule.operations}


def solved(inp, **kw):  # type: ignore[no-untyped-def]
    kw.setdefault("time_limit_s", 5.0)
    kw.setdefault("workers", 1)
    result = solve(inp, **kw)
    assert schedule_violations(inp, result.schedule) == []
    assert result.metrics.key() <= result.greedy_metrics.key()
    return result


# --- hand-checked optima ----------------------------------------------------------------------------


def test_two_orders_crossing_two_machines_finish_together() -> None:
    inp = make(
        [WorkCenter("M1", always()), WorkCenter("M2", always())],
        [Order("A", at(2)), Order("B", at(2))],
        [op("A1", "A", "M1", 60, 10), op("A2", "A", "M2", 60, 20)]
        + [op("B1", "B", "M2", 60, 10), op("B2", "B", "M1", 60, 20)],
    )
    for schedule in (greedy_schedule(inp), solved(inp).schedule):
        assert schedule_violations(inp, schedule) == []
        assert schedule.metrics.weighted_tardiness_minutes == 0
        assert schedule.metrics.makespan_minutes == 120
        assert [o.completion for o in schedule.orders] == [at(2), at(2)]


def brute_force_single_machine(jobs):  # type: ignore[no-untyped-def]
    """Optimal (weighted tardiness, makespan) of jobs (minutes, due minutes, weight) on 1 machine."""
    best = None
    for perm in itertools.permutations(jobs):
        t = wt = 0
        for minutes, due, weight in perm:
            t += minutes
            wt += weight * max(0, t - due)
        best = wt if best is None else min(best, wt)
    return best


def test_weighted_tardiness_optimum_beats_due_date_order() -> None:
    # (minutes, due minutes, weight) on one machine: EDD runs A, B, C for 40 + 4 x 60 = 280;
    # the optimum runs A, C, B for 100.
    jobs = {"A": (180, 180, 1), "B": (60, 200, 1), "C": (60, 240, 4)}
    inp = make(
        [WorkCenter("M1", always()), WorkCenter("M2", always())],
        [Order(k, at(due / 60), weight=w) for k, (_, due, w) in jobs.items()],
        [op(f"{k}1", k, "M1", minutes, 10) for k, (minutes, _, _) in jobs.items()],
    )
    optimum = brute_force_single_machine(list(jobs.values()))
    assert optimum == 100
    assert greedy_schedule(inp, rule="edd").metrics.weighted_tardiness_minutes == 280
    result = solved(inp)
    assert result.status == "OPTIMAL"
    assert result.metrics.weighted_tardiness_minutes == optimum
    assert result.metrics.makespan_minutes == 300
    assert result.gap == 0


def test_three_orders_on_two_machines_known_optimum() -> None:
    # A: M1 120 -> M2 60, due 3 h; B: M1 60 -> M2 120, due 3 h, weight 2; C: M2 60, due 1 h.
    # B first on M1 (0-1 h), then A (1-3 h); C on M2 0-1 h, B on M2 1-3 h, A on M2 3-4 h:
    # A is 60 min late, B and C on time -> weighted tardiness 60, the optimum (checked by hand:
    # every order of M1 makes A or B late by >= 60 min, and C must take M2 first or be late).
    inp = make(
        [WorkCenter("M1", always()), WorkCenter("M2", always())],
        [Order("A", at(3)), Order("B", at(3), weight=2), Order("C", at(1))],
        [
            op("A1", "A", "M1", 120, 10),
            op("A2", "A", "M2", 60, 20),
            op("B1", "B", "M1", 60, 10),
            op("B2", "B", "M2", 120, 20),
            op("C1", "C", "M2", 60, 10),
        ],
    )
    result = solved(inp)
    assert result.status == "OPTIMAL"
    assert result.metrics.weighted_tardiness_minutes == 60
    assert result.metrics.makespan_minutes == 240
    assert result.metrics.late_orders == 1
    ops = by_id(result.schedule)
    assert (ops["B1"].start, ops["A1"].start, ops["C1"].start) == (at(0), at(1), at(0))
    lateness = {o.order_id: o.lateness_minutes for o in result.schedule.orders}
    assert lateness == {"A": 60, "B": 0, "C": 0}


# --- calendars, capacity, earliest starts, precedence -----------------------------------------------


def test_operation_pauses_over_a_break_and_never_starts_in_one() -> None:
    day = shifts((8, 12), (13, 17))
    inp = make(
        [WorkCenter("M1", day)],
        [Order("A", at(24)), Order("B", at(48))],
        [
            op("A1", "A", "M1", 300, 10),  # 4 h in the morning + 1 h after lunch
            op("B1", "B", "M1", 60, 10, earliest_start=at(12.25)),  # released during lunch
        ],
    )
    for schedule in (greedy_schedule(inp), solved(inp).schedule):
        ops = by_id(schedule)
        assert (ops["A1"].start, ops["A1"].end) == (at(8), at(14))
        assert ops["A1"].work_periods == ((at(8), at(12)), (at(13), at(14)))
        assert (ops["B1"].start, ops["B1"].end) == (at(14), at(15))
        assert schedule_violations(inp, schedule) == []


def test_long_operation_spans_nights() -> None:
    inp = make(
        [WorkCenter("M1", shifts((6, 22)))],
        [Order("A", at(24))],
        [op("A1", "A", "M1", 40 * 60, 10)],  # 16 h + 16 h + 8 h
    )
    result = solved(inp)
    so = result.schedule.operations[0]
    assert (so.start, so.end) == (at(6), at(48 + 14))
    assert len(so.work_periods) == 3
    assert result.metrics.weighted_tardiness_minutes == (48 + 14 - 24) * 60


def test_capacity_two_runs_two_operations_at_once() -> None:
    inp = make(
        [WorkCenter("M1", always(), capacity=2)],
        [Order(k, at(1)) for k in "ABC"],
        [op(f"{k}1", k, "M1", 60, 10) for k in "ABC"],
    )
    for schedule in (greedy_schedule(inp), solved(inp).schedule):
        starts = sorted(so.start for so in schedule.operations)
        assert starts == [at(0), at(0), at(1)]
        assert schedule.metrics.weighted_tardiness_minutes == 60
        assert schedule_violations(inp, schedule) == []
    # With capacity 1 the same three operations run one after the other.
    single = dataclasses.replace(inp, work_centers=[WorkCenter("M1", always())])
    assert greedy_schedule(single).metrics.weighted_tardiness_minutes == 60 + 120


def test_earliest_start_is_respected() -> None:
    inp = make(
        [WorkCenter("M1", always())],
        [Order("A", at(1)), Order("B", at(10))],
        [
            op("A1", "A", "M1", 60, 10, earliest_start=at(3) + timedelta(minutes=5)),
            op("B1", "B", "M1", 60, 10),
        ],
    )
    for schedule in (greedy_schedule(inp), solved(inp).schedule):
        ops = by_id(schedule)
        assert ops["A1"].start == at(3.25)  # rounded up to the 15-minute grid
        assert ops["A1"].start >= inp.operations[0].earliest_start
        assert schedule.orders[0].lateness_minutes == 2.25 * 60 + 60


def test_precedence_across_work_centers_with_different_calendars() -> None:
    inp = make(
        [WorkCenter("CUT", shifts((8, 16))), WorkCenter("PAINT", shifts((14, 20)))],
        [Order("A", at(48))],
        [
            op("A1", "A", "CUT", 240, 10),  # 08:00-12:00
            op("A2", "A", "PAINT", 180, 20),  # waits for the paint shop to open: 14:00-17:00
            op("A3", "A", "CUT", 120, 30),  # cut shop closes at 16:00: next day 08:00-10:00
        ],
    )
    for schedule in (greedy_schedule(inp), solved(inp).schedule):
        ops = by_id(schedule)
        assert (ops["A1"].start, ops["A1"].end) == (at(8), at(12))
        assert (ops["A2"].start, ops["A2"].end) == (at(14), at(17))
        assert (ops["A3"].start, ops["A3"].end) == (at(32), at(34))
        assert schedule.orders[0].completion == at(34)


def test_explicit_predecessors_and_parallel_sequences() -> None:
    inp = make(
        [WorkCenter("M1", always()), WorkCenter("M2", always()), WorkCenter("M3", always())],
        [Order("A", at(10))],
        [
            op("A1", "A", "M1", 60, 10),
            op("A2", "A", "M2", 120, 10),  # same sequence: parallel to A1
            op("A3", "A", "M3", 30, 20),  # after both
            op("X", "A", "M1", 30, 99, predecessors=()),  # explicit: no predecessor
        ],
    )
    ops = by_id(solved(inp).schedule)
    assert ops["A1"].start == ops["A2"].start == at(0)
    assert ops["A3"].start == at(2)
    assert ops["X"].end <= at(1.5)


def test_granularity_rounding_and_zero_duration() -> None:
    inp = make(
        [WorkCenter("M1", [(at(8) + timedelta(minutes=5), at(12) + timedelta(minutes=10))])],
        [Order("A", at(24))],
        [
            op("A1", "A", "M1", Decimal("50.5"), 10),  # rounded up to 60 minutes
            op("A2", "A", "M1", 0, 20),
        ],
    )
    for schedule in (greedy_schedule(inp), solved(inp).schedule):
        ops = by_id(schedule)
        assert (ops["A1"].start, ops["A1"].end) == (at(8.25), at(9.25))  # window starts 08:15
        assert ops["A2"].start == ops["A2"].end == at(9.25)
        assert schedule_violations(inp, schedule) == []


# --- random instances: no violations, CP-SAT never worse than the greedy ----------------------------


def random_instance(seed: int, n_orders: int = 8, n_centers: int = 4) -> ScheduleInput:
    rng = random.Random(seed)
    kinds = [always(20), shifts((6, 14), (14, 22), days=20), shifts((8, 12), (13, 17), days=20)]
    centers = [
        WorkCenter(f"W{c}", rng.choice(kinds), capacity=rng.choice([1, 1, 2]))
        for c in range(n_centers)
    ]
    orders, ops = [], []
    for o in range(n_orders):
        orders.append(Order(f"O{o}", at(rng.randint(4, 60)), weight=rng.randint(1, 3)))
        count = rng.randint(1, 4)
        for k in range(count):
            preds = None
            if k >= 2 and rng.random() < 0.5:  # a small DAG: join of two earlier operations
                preds = (f"O{o}-0", f"O{o}-{k - 1}")
            ops.append(
                op(
                    f"O{o}-{k}",
                    f"O{o}",
                    f"W{rng.randrange(n_centers)}",
                    rng.choice([15, 45, 60, 100, 240, 600]),
                    k,
                    predecessors=preds,
                    earliest_start=at(rng.randint(0, 30)) if rng.random() < 0.3 else None,
                )
            )
    rng.shuffle(ops)
    return make(centers, orders, ops)


@pytest.mark.parametrize("seed", range(6))
def test_random_schedules_are_feasible_and_cpsat_not_worse(seed: int) -> None:
    inp = random_instance(seed)
    greedy = greedy_schedule(inp)
    assert schedule_violations(inp, greedy) == []
    result = solved(inp, time_limit_s=3.0, workers=2, seed=seed)
    assert result.metrics.weighted_tardiness_minutes <= greedy.metrics.weighted_tardiness_minutes
    assert result.status in {"OPTIMAL", "FEASIBLE", "GREEDY"}
    assert result.tardiness_bound_minutes is not None
    assert result.tardiness_bound_minutes <= result.metrics.weighted_tardiness_minutes


def test_exact_model_and_search_window_agree_on_a_small_case() -> None:
    inp = make(
        [WorkCenter("M1", shifts((6, 14), (14, 22))), WorkCenter("M2", shifts((8, 17)))],
        [Order("A", at(12)), Order("B", at(14), weight=3), Order("C", at(20), weight=0)],
        [
            op("A1", "A", "M1", 240, 10),
            op("A2", "A", "M2", 120, 20),
            op("B1", "B", "M1", 180, 10),
            op("B2", "B", "M2", 180, 20),
            op("C1", "C", "M2", 300, 10),
            op("C2", "C", "M1", 60, 20),
        ],
    )
    exact = solved(inp, search_window=None)
    windowed = solved(inp)
    assert exact.status == windowed.status == "OPTIMAL"
    assert exact.metrics == windowed.metrics
    assert exact.gap == 0
    # A weight-0 order never counts, however late.
    c = next(o for o in exact.schedule.orders if o.order_id == "C")
    assert exact.metrics.weighted_tardiness_minutes == sum(
        {"A": 1, "B": 3, "C": 0}[o.order_id] * o.tardiness_minutes for o in exact.schedule.orders
    )
    assert c.completion is not None


def test_cross_order_predecessor_and_progress_reporting() -> None:
    inp = make(
        [WorkCenter("M1", always()), WorkCenter("M2", always())],
        [Order("SUB", at(5)), Order("TOP", at(3))],
        [
            op("S1", "SUB", "M1", 120, 10),
            op("T1", "TOP", "M2", 60, 10, predecessors=("S1",)),  # needs the sub-assembly
        ],
    )
    result = solved(inp)
    ops = by_id(result.schedule)
    assert ops["T1"].start >= ops["S1"].end == at(2)
    assert result.metrics.weighted_tardiness_minutes == 0
    values = [wt for _, wt, _ in result.progress]
    assert values and values == sorted(values, reverse=True)  # the warm start first, then better


def test_a_larger_instance_under_a_short_limit() -> None:
    inp = random_instance(7, n_orders=40, n_centers=6)
    assert len(inp.operations) > 80
    result = solved(inp, time_limit_s=3.0, workers=2, seed=1)
    assert result.metrics.key() <= greedy_schedule(inp).metrics.key()


@pytest.mark.parametrize("rule", ["edd", "cr", "slack"])
def test_every_dispatch_rule_is_feasible(rule: str) -> None:
    inp = random_instance(42, n_orders=15, n_centers=5)
    schedule = greedy_schedule(inp, rule=rule)
    assert schedule.method == f"greedy:{rule}"
    assert schedule_violations(inp, schedule) == []


# --- re-timing and the LNS ---------------------------------------------------------------------------


def one_at_a_time(problem: Problem) -> tuple[list[int], list[int]]:
    """A feasible but wasteful schedule: the operations in routing order, never two at once."""
    starts, ends = [0] * len(problem.op_center), [0] * len(problem.op_center)
    t = 0
    for i in problem.topo:
        starts[i], ends[i] = place(problem, i, max(t, problem.op_release[i]))
        t = ends[i]
    return starts, ends


@pytest.mark.parametrize("seed", range(4))
def test_compact_never_delays_an_operation_and_stays_feasible(seed: int) -> None:
    inp = random_instance(seed, n_orders=12, n_centers=4)
    problem = prepare(inp)
    for starts, ends in (one_at_a_time(problem), dispatch(problem, "slack")):
        new_starts, new_ends = compact(problem, starts)
        assert all(a <= b for a, b in zip(new_starts, starts, strict=True))
        assert all(a <= b for a, b in zip(new_ends, ends, strict=True))
        assert problem.objective(new_starts, new_ends) <= problem.objective(starts, ends)
        schedule = build_schedule(problem, new_starts, new_ends, "compact")
        assert schedule_violations(inp, schedule) == []
    # A schedule with no gap to close comes back unchanged.
    starts, ends = compact(problem, dispatch(problem, "edd")[0])
    assert compact(problem, starts) == (starts, ends)


def test_compact_closes_the_gaps_of_a_serial_schedule() -> None:
    inp = make(
        [WorkCenter("M1", always()), WorkCenter("M2", always())],
        [Order("A", at(1)), Order("B", at(1))],
        [op("A1", "A", "M1", 60, 10), op("B1", "B", "M2", 60, 10)],
    )
    problem = prepare(inp)
    starts, ends = one_at_a_time(problem)
    assert problem.objective(starts, ends) == (4, 8)  # B waits for A: 60 minutes late
    assert compact(problem, starts) == ([0, 0], [4, 4])


def lns_run(problem: Problem, seed: int, workers: int) -> lns.LnsState:
    starts, ends = dispatch(problem, "edd")
    return lns.search(
        problem,
        starts,
        ends,
        deadline=time.perf_counter() + 120,
        seed=seed,
        workers=workers,
        dtime_limit=0.4,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_lns_never_worsens_stays_feasible_and_is_reproducible(workers: int) -> None:
    inp = random_instance(11, n_orders=30, n_centers=5)
    problem = prepare(inp)
    starts, ends = dispatch(problem, "edd")
    before = problem.objective(starts, ends)
    seen: list[tuple[int, int]] = []
    state = lns.search(
        problem,
        starts,
        ends,
        deadline=time.perf_counter() + 120,
        seed=5,
        workers=workers,
        dtime_limit=0.4,
        on_improve=seen.append,
    )
    assert state.steps > 0
    assert state.key == problem.objective(state.starts, state.ends) <= before
    assert seen == sorted(seen, reverse=True) and all(key < before for key in seen)
    if seen:
        assert seen[-1] == state.key
    schedule = build_schedule(problem, state.starts, state.ends, "lns")
    assert schedule_violations(inp, schedule) == []
    # Same input and seed, deterministic-time budget: the same schedule step for step.
    again = lns_run(problem, 5, workers)
    assert (again.starts, again.ends, again.steps) == (state.starts, state.ends, state.steps)


def test_lns_improves_a_bad_schedule() -> None:
    # Three orders on one machine in the wrong order: the LNS reorders them.
    jobs = {"A": (180, 180, 1), "B": (60, 200, 1), "C": (60, 240, 4)}
    inp = make(
        [WorkCenter("M1", always())],
        [Order(k, at(due / 60), weight=w) for k, (_, due, w) in jobs.items()],
        [op(f"{k}1", k, "M1", minutes, 10) for k, (minutes, _, _) in jobs.items()],
    )
    problem = prepare(inp)
    starts, ends = dispatch(problem, "edd")
    state = lns.search(problem, starts, ends, deadline=time.perf_counter() + 60, seed=0)
    schedule = build_schedule(problem, state.starts, state.ends, "lns")
    optimum = brute_force_single_machine(list(jobs.values()))
    assert schedule.metrics.weighted_tardiness_minutes == optimum == 100


def test_solve_runs_the_lns_on_larger_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    inp = random_instance(7, n_orders=40, n_centers=6)
    monkeypatch.setattr(cpsat, "LNS_MIN_OPS", 10)
    calls = []
    real_search = lns.search

    def spy(problem, starts, ends, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(problem.objective(starts, ends))
        return real_search(problem, starts, ends, **kwargs)

    monkeypatch.setattr(lns, "search", spy)
    # A tiny deterministic budget for the whole model: CP-SAT cannot prove optimality, so the
    # LNS runs after it, from its schedule.
    result = solved(inp, time_limit_s=5.0, workers=1, seed=2, improve_s=0, deterministic_time=0.02)
    greedy_key = best_dispatch(prepare(inp))[3]
    assert greedy_key[0] > 0
    assert result.solver_status != "OPTIMAL"
    assert calls == [calls[0]] and calls[0] <= greedy_key  # once, from CP-SAT's schedule
    values = [(wt, mk) for _, wt, mk in result.progress]
    assert values == sorted(values, reverse=True)
    assert result.tardiness_bound_minutes is not None
    assert result.tardiness_bound_minutes <= result.metrics.weighted_tardiness_minutes
    # No LNS on request.
    solved(inp, time_limit_s=1.0, workers=1, lns_share=0)
    assert len(calls) == 1


def test_critical_path_bound() -> None:
    # A alone needs 3 h on M1 then M2 and is due after 2 h: 60 minutes late whatever happens;
    # B's 30-minute operation waits for A on M1 in any schedule, but the bound ignores capacity.
    inp = make(
        [WorkCenter("M1", always()), WorkCenter("M2", always())],
        [Order("A", at(2), weight=3), Order("B", at(0.5))],
        [op("A1", "A", "M1", 120, 10), op("A2", "A", "M2", 60, 20), op("B1", "B", "M1", 30)],
    )
    assert cpsat.critical_path_bound(prepare(inp)) * 15 == 3 * 60
    result = solved(inp)
    assert result.tardiness_bound_minutes is not None
    assert 3 * 60 <= result.tardiness_bound_minutes <= result.metrics.weighted_tardiness_minutes


def test_calendar_finish_matches_a_unit_by_unit_walk() -> None:
    rng = random.Random(3)
    windows = [(a, a + rng.randint(1, 6)) for a in range(0, 200, 9)]
    cal = Calendar(windows)
    working = {t for a, b in windows for t in range(a, b)}
    last = max(working)
    for s in sorted(working):
        for d in range(0, 12):
            t, left = s, d
            while left and t <= last:
                left -= t in working
                t += 1
            end = cal.finish(s, d)
            if left:
                assert end is None
                continue
            assert end == t
            extra = end - s - d
            groups = cal.start_segments(d, 0, 300)
            assert any(a <= s <= b for a, b in groups[extra])
            assert cal.latest_start(end, d) == s or cal.finish(cal.latest_start(end, d), d) <= end


# --- the checker --------------------------------------------------------------------------------


def test_checker_reports_each_kind_of_violation() -> None:
    inp = make(
        [WorkCenter("M1", shifts((8, 12), (13, 17))), WorkCenter("M2", always())],
        [Order("A", at(24)), Order("B", at(24))],
        [
            op("A1", "A", "M1", 60, 10, earliest_start=at(9)),
            op("A2", "A", "M2", 60, 20),
            op("B1", "B", "M1", 60, 10),
        ],
    )
    good = greedy_schedule(inp)
    assert schedule_violations(inp, good) == []
    ops = by_id(good)

    def moved(**changes):  # type: ignore[no-untyped-def]
        replaced = [
            dataclasses.replace(so, **changes[so.operation_id])
            if so.operation_id in changes
            else so
            for so in good.operations
        ]
        return dataclasses.replace(good, operations=tuple(replaced))

    def kinds(schedule):  # type: ignore[no-untyped-def]
        return {v.kind for v in schedule_violations(inp, schedule)}

    assert kinds(moved(A1={"start": at(8), "end": at(9)})) >= {"earliest_start"}
    assert kinds(moved(A2={"start": ops["A1"].start, "end": ops["A1"].end})) == {"precedence"}
    assert kinds(moved(B1={"start": ops["A1"].start, "end": ops["A1"].end})) == {"capacity"}
    assert kinds(moved(B1={"start": at(12), "end": at(13)})) == {"calendar"}  # in the lunch break
    assert kinds(moved(B1={"start": at(11.5), "end": at(12.5)})) == {"calendar"}  # runs into it
    assert kinds(moved(B1={"start": at(14), "end": at(14.5)})) == {"calendar"}  # too short
    assert kinds(moved(B1={"work_center_id": "M2"})) == {"work_center"}
    missing = dataclasses.replace(good, operations=good.operations[:2])
    assert kinds(missing) == {"missing"}


# --- invalid input ----------------------------------------------------------------------------------


def simple(**overrides):  # type: ignore[no-untyped-def]
    fields = {
        "centers": [WorkCenter("M1", always())],
        "orders": [Order("A", at(5))],
        "ops": [op("A1", "A", "M1", 60, 10), op("A2", "A", "M1", 60, 20)],
    }
    fields.update(overrides)
    return make(fields["centers"], fields["orders"], fields["ops"])


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"ops": [op("A1", "A", "NOPE", 60)]}, UnknownReferenceError, "unknown work center"),
        ({"ops": [op("A1", "Z", "M1", 60)]}, UnknownReferenceError, "unknown order"),
        (
            {"ops": [op("A1", "A", "M1", 60, predecessors=("Q",))]},
            UnknownReferenceError,
            "unknown predecessor",
        ),
        (
            {
                "ops": [
                    op("A1", "A", "M1", 60, predecessors=("A2",)),
                    op("A2", "A", "M1", 60, predecessors=("A1",)),
                ]
            },
            CyclicPrecedenceError,
            "cycle",
        ),
        ({"ops": [op("A1", "A", "M1", 60, predecessors=("A1",))]}, CyclicPrecedenceError, "itself"),
        ({"centers": [WorkCenter("M1", [])]}, EmptyCalendarError, "no working time"),
        (
            {"centers": [WorkCenter("M1", [(at(1), at(1) + timedelta(minutes=10))])]},
            EmptyCalendarError,
            "no working time",
        ),
        (
            {"centers": [WorkCenter("M1", [(at(0), at(1.5))])]},
            CalendarExhaustedError,
            "cannot be finished",
        ),
        ({"ops": [op("A1", "A", "M1", 60), op("A1", "A", "M1", 5)]}, DuplicateIdError, "duplicate"),
        ({"ops": [op("A1", "A", "M1", -5)]}, ScheduleInputError, "duration"),
        ({"orders": [Order("A", datetime(2027, 1, 5))]}, ScheduleInputError, "aware"),
        ({"centers": [WorkCenter("M1", always(), capacity=0)]}, ScheduleInputError, "capacity"),
    ],
)
def test_invalid_input_raises_a_typed_error(overrides, error, words) -> None:  # type: ignore[no-untyped-def]
    inp = simple(**overrides)
    with pytest.raises(error, match=words):
        greedy_schedule(inp)
    with pytest.raises(error, match=words):
        solve(inp, time_limit_s=1)
