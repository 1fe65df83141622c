"""Input and output of the finite-capacity scheduler, the shared time model and the checker.

Pure Python (no Django): the caller builds a `ScheduleInput` from production orders, routings and
work-center calendars, and writes the `Schedule` back.

Time model
----------
All times become integers on a grid of `granularity_minutes` (default 15) counted from
`horizon_start`. Rounding is always towards feasibility: a working interval keeps only the whole
grid units inside it (start rounded up, end rounded down), durations and earliest starts are
rounded up; due dates are rounded down for the model's tardiness (so "on time in the model" means
"on time in reality"), while the reported lateness uses the real due date.

Calendars (preemption at non-working time)
------------------------------------------
An operation runs on one machine of its work center and consumes `duration_minutes` of *working*
time of that center's calendar. It must start in working time; when it meets the end of a working
interval it pauses and resumes at the next one (a job left on the machine over a break or a night,
as shops do with multi-shift runs). In real (elapsed) time the operation therefore occupies
`[start, end)` with `end - start = duration + the breaks it spans`, and `end` is the earliest
instant at which the required working time is reached (it never ends inside a break).

Everything is modelled in real time, so operations on centers with different calendars link by
precedence without any timeline conversion. The elastic interval holds its machine across the
breaks it spans; this is exact, not conservative: on a center with capacity 1 two operations'
working parts are disjoint iff their elastic intervals are (an operation works every working
unit between its start and end), and with capacity c an operation spanning a break is also
running at the first working unit after it, so the count during a break never exceeds the count
just after it.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

Key = Hashable  # ids as the caller has them (database pks, codes)
_MICRO = timedelta(microseconds=1)


# --- errors ---------------------------------------------------------------------------------------


class ScheduleInputError(ValueError):
    """The scheduling input is invalid; the message names the offending object."""


class UnknownReferenceError(ScheduleInputError):
    """An operation names a work center, order or predecessor that is not in the input."""


class DuplicateIdError(ScheduleInputError):
    """Two work centers, orders or operations share an id."""


class CyclicPrecedenceError(ScheduleInputError):
    """The predecessor relation has a cycle."""


class EmptyCalendarError(ScheduleInputError):
    """A work center has no working time inside the horizon."""


class CalendarExhaustedError(ScheduleInputError):
    """An operation cannot be finished before its work center's calendar ends (extend it)."""


# --- input ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkCenter:
    """A work center: `capacity` identical machines (1 = no overlap) and its working intervals.

    `calendar` is a sequence of `(start, end)` aware datetimes over the horizon; intervals may be
    given in any order and may touch or overlap (they are merged).
    """

    id: Key
    calendar: Sequence[tuple[datetime, datetime]]
    capacity: int = 1


@dataclass(frozen=True)
class Order:
    """A production order: operations of it are late when its last one ends after `due`.

    `weight` is a non-negative integer priority multiplying the order's tardiness.
    """

    id: Key
    due: datetime
    weight: int = 1


@dataclass(frozen=True)
class Operation:
    """One operation of a production order on one work center.

    `duration_minutes` is setup + run time, in working minutes of the center's calendar.
    Precedence: when `predecessors` is None the operation follows the operations of the same order
    with the greatest `sequence` lower than its own (equal sequences run in parallel); otherwise
    `predecessors` lists the ids of the operations that must end before it starts (`()` = none).
    `earliest_start` is a release or material-availability date.
    """

    id: Key
    order_id: Key
    work_center_id: Key
    duration_minutes: int | float | Decimal
    sequence: int = 0
    predecessors: Sequence[Key] | None = None
    earliest_start: datetime | None = None


@dataclass(frozen=True)
class ScheduleInput:
    """Everything the scheduler needs, independent of the database.

    Times are aware datetimes; nothing is scheduled before `horizon_start`, and calendars must
    reach far enough for the load (else `CalendarExhaustedError`). `granularity_minutes` is the
    time grid (15 by default; finer grids make CP-SAT slower over long horizons).
    """

    horizon_start: datetime
    work_centers: Sequence[WorkCenter]
    orders: Sequence[Order]
    operations: Sequence[Operation]
    granularity_minutes: int = 15


# --- output ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduledOperation:
    """Where and when one operation runs; it holds one machine of its center over [start, end)."""

    operation_id: Key
    order_id: Key
    work_center_id: Key
    start: datetime
    end: datetime
    # The working parts of [start, end) (the operation pauses between them); for a Gantt chart.
    work_periods: tuple[tuple[datetime, datetime], ...]


@dataclass(frozen=True)
class OrderResult:
    order_id: Key
    due: datetime
    completion: datetime | None  # None for an order without operations
    lateness_minutes: float  # completion - due; negative when early
    tardiness_minutes: float  # max(0, lateness)


@dataclass(frozen=True)
class ScheduleMetrics:
    weighted_tardiness_minutes: float  # sum of weight x tardiness, the primary objective
    makespan_minutes: float  # last end - horizon start, the secondary objective
    late_orders: int

    def key(self) -> tuple[float, float]:
        """Lexicographic objective: smaller is better."""
        return (self.weighted_tardiness_minutes, self.makespan_minutes)


@dataclass(frozen=True)
class Schedule:
    """A schedule with its metrics (real minutes, against the real due dates)."""

    operations: tuple[ScheduledOperation, ...]  # in input order
    orders: tuple[OrderResult, ...]  # in input order
    metrics: ScheduleMetrics
    method: str  # "greedy:edd", "cpsat", ...


@dataclass(frozen=True)
class Violation:
    """One violated constraint found by `schedule_violations`."""

    kind: str  # missing | work_center | precedence | capacity | calendar | earliest_start
    message: str
    operation_ids: tuple[Key, ...] = field(default=())


# --- the grid -------------------------------------------------------------------------------------


class Calendar:
    """Working windows of one work center as half-open integer ranges `[start, end)` on the grid.

    `finish(s, d)`: the end of an operation of `d` working units started at working unit `s`.
    """

    __slots__ = ("starts", "ends", "cum", "cum_end")

    def __init__(self, windows: list[tuple[int, int]]) -> None:
        merged: list[list[int]] = []
        for a, b in sorted(w for w in windows if w[1] > w[0]):
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        self.starts = [w[0] for w in merged]
        self.ends = [w[1] for w in merged]
        self.cum: list[int] = []  # working units before each window
        self.cum_end: list[int] = []  # working units up to each window's end
        total = 0
        for a, b in merged:
            self.cum.append(total)
            total += b - a
            self.cum_end.append(total)

    def __len__(self) -> int:
        return len(self.starts)

    def snap(self, t: int, duration: int) -> int | None:
        """Earliest admissible start >= t (a working unit; a window end too for duration 0)."""
        k = bisect_right(self.ends, t) if duration else bisect_left(self.ends, t)
        if k == len(self.ends):
            return None
        return max(t, self.starts[k])

    def finish(self, s: int, duration: int) -> int | None:
        """End of an operation started at admissible `s`; None when the calendar runs out."""
        if duration == 0:
            return s
        k = bisect_right(self.ends, s)
        target = self.cum[k] + (s - self.starts[k]) + duration
        j = bisect_left(self.cum_end, target)
        if j == len(self.cum_end):
            return None
        return self.starts[j] + (target - self.cum[j])

    def working_before(self, t: int) -> int:
        k = bisect_right(self.starts, t) - 1
        if k < 0:
            return 0
        return self.cum[k] + min(t, self.ends[k]) - self.starts[k]

    def latest_start(self, latest_end: int, duration: int) -> int | None:
        """Latest admissible start whose finish is <= latest_end, or None."""
        if duration == 0:
            k = bisect_right(self.starts, latest_end) - 1
            return None if k < 0 else min(latest_end, self.ends[k])
        pos = self.working_before(latest_end) - duration
        if pos < 0:
            return None
        j = bisect_right(self.cum, pos) - 1
        return self.starts[j] + pos - self.cum[j]

    def start_segments(self, duration: int, lo: int, hi: int) -> dict[int, list[tuple[int, int]]]:
        """Admissible starts in [lo, hi] grouped by the break time the operation then spans.

        Returns {extra: [(first, last), ...]} (closed ranges): starting at s in such a range the
        operation ends at s + duration + extra.
        """
        out: dict[int, list[tuple[int, int]]] = {}
        n = len(self.starts)
        if duration == 0:
            for a, b in zip(self.starts, self.ends, strict=True):
                if max(a, lo) <= min(b, hi):
                    out.setdefault(0, []).append((max(a, lo), min(b, hi)))
            return out
        first = max(0, bisect_right(self.ends, lo))
        for k in range(first, n):
            a, b = self.starts[k], self.ends[k]
            if a > hi:
                break
            s_lo, s_hi = max(a, lo), min(b - 1, hi)
            if s_lo > s_hi:
                continue
            shift = self.cum[k] - a + duration  # working position of the end is s + shift
            j = bisect_left(self.cum_end, s_lo + shift)
            while j < n:
                r_lo = max(s_lo, self.cum[j] - shift + 1)
                if r_lo > s_hi:
                    break
                r_hi = min(s_hi, self.cum_end[j] - shift)
                if r_lo <= r_hi:
                    extra = (self.starts[j] - self.cum[j]) - (a - self.cum[k])
                    out.setdefault(extra, []).append((r_lo, r_hi))
                j += 1
        return out

    def periods(self, s: int, e: int) -> list[tuple[int, int]]:
        """The working parts of [s, e)."""
        out = []
        k = bisect_right(self.ends, s)
        while k < len(self.starts) and self.starts[k] < e:
            out.append((max(s, self.starts[k]), min(e, self.ends[k])))
            k += 1
        return out


@dataclass
class Problem:
    """The input on the integer grid, with indices instead of ids (internal)."""

    inp: ScheduleInput
    unit: timedelta
    calendars: list[Calendar]
    capacity: list[int]
    op_center: list[int]
    op_order: list[int]
    op_duration: list[int]
    op_release: list[int]
    preds: list[list[int]]
    succs: list[list[int]]
    topo: list[int]
    order_due: list[int]
    order_weight: list[int]
    order_ops: list[list[int]]
    order_last_ops: list[list[int]]  # ops without a successor in the same order
    tail: list[int] = field(
        default_factory=list
    )  # longest duration path from op to its order's end
    topo_position: list[int] = field(default_factory=list)  # index of each op in `topo`

    def to_datetime(self, t: int) -> datetime:
        return self.inp.horizon_start + t * self.unit

    def objective(self, starts: list[int], ends: list[int]) -> tuple[int, int]:
        """(weighted tardiness, makespan) in grid units, as the CP-SAT model counts them."""
        wt = 0
        for j, ops in enumerate(self.order_ops):
            if ops:
                wt += self.order_weight[j] * max(0, max(ends[i] for i in ops) - self.order_due[j])
        return wt, max(ends, default=0)


def _check_aware(value: datetime, what: str) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ScheduleInputError(f"{what} must be an aware datetime, got {value!r}")


def _units(delta: timedelta, unit: timedelta, *, up: bool) -> int:
    us, unit_us = delta // _MICRO, unit // _MICRO
    return -((-us) // unit_us) if up else us // unit_us


def _index(items: Sequence, what: str) -> dict[Key, int]:
    index: dict[Key, int] = {}
    for i, item in enumerate(items):
        if item.id in index:
            raise DuplicateIdError(f"duplicate {what} id {item.id!r}")
        index[item.id] = i
    return index


def prepare(inp: ScheduleInput) -> Problem:
    """Validate the input and put it on the grid. Raises a `ScheduleInputError` subclass."""
    g = inp.granularity_minutes
    if not isinstance(g, int) or g < 1:
        raise ScheduleInputError(f"granularity_minutes must be a positive integer, got {g!r}")
    unit = timedelta(minutes=g)
    h0 = inp.horizon_start
    _check_aware(h0, "horizon_start")
    centers = _index(inp.work_centers, "work center")
    orders = _index(inp.orders, "order")
    ops = _index(inp.operations, "operation")

    calendars, capacity = [], []
    for wc in inp.work_centers:
        if not isinstance(wc.capacity, int) or wc.capacity < 1:
            raise ScheduleInputError(
                f"work center {wc.id!r}: capacity must be an integer >= 1, got {wc.capacity!r}"
            )
        windows = []
        for start, end in wc.calendar:
            _check_aware(start, f"work center {wc.id!r} calendar start")
            _check_aware(end, f"work center {wc.id!r} calendar end")
            if end <= start:
                raise ScheduleInputError(
                    f"work center {wc.id!r}: calendar interval ends before it starts ({start} - {end})"
                )
            a = max(0, _units(start - h0, unit, up=True))
            b = _units(end - h0, unit, up=False)
            if b > a:
                windows.append((a, b))
        cal = Calendar(windows)
        if not len(cal):
            raise EmptyCalendarError(
                f"work center {wc.id!r} has no working time after the horizon start "
                f"(at a {g}-minute granularity)"
            )
        calendars.append(cal)
        capacity.append(wc.capacity)

    order_due, order_weight = [], []
    for order in inp.orders:
        _check_aware(order.due, f"order {order.id!r} due")
        if not isinstance(order.weight, int) or order.weight < 0:
            raise ScheduleInputError(
                f"order {order.id!r}: weight must be an integer >= 0, got {order.weight!r}"
            )
        order_due.append(_units(order.due - h0, unit, up=False))
        order_weight.append(order.weight)

    n = len(inp.operations)
    op_center, op_order, op_duration, op_release = [], [], [], []
    order_ops: list[list[int]] = [[] for _ in inp.orders]
    for i, op in enumerate(inp.operations):
        if op.work_center_id not in centers:
            raise UnknownReferenceError(
                f"operation {op.id!r}: unknown work center {op.work_center_id!r}"
            )
        if op.order_id not in orders:
            raise UnknownReferenceError(f"operation {op.id!r}: unknown order {op.order_id!r}")
        try:
            minutes = Decimal(str(op.duration_minutes))
        except ArithmeticError as exc:
            raise ScheduleInputError(f"operation {op.id!r}: bad duration") from exc
        if not minutes.is_finite() or minutes < 0:
            raise ScheduleInputError(
                f"operation {op.id!r}: duration must be >= 0 minutes, got {op.duration_minutes!r}"
            )
        release = 0
        if op.earliest_start is not None:
            _check_aware(op.earliest_start, f"operation {op.id!r} earliest_start")
            release = max(0, _units(op.earliest_start - h0, unit, up=True))
        op_center.append(centers[op.work_center_id])
        op_order.append(orders[op.order_id])
        op_duration.append(math.ceil(minutes / g))
        op_release.append(release)
        order_ops[orders[op.order_id]].append(i)

    preds: list[list[int]] = [[] for _ in range(n)]
    for i, op in enumerate(inp.operations):
        if op.predecessors is not None:
            for p in op.predecessors:
                if p not in ops:
                    raise UnknownReferenceError(f"operation {op.id!r}: unknown predecessor {p!r}")
                if ops[p] == i:
                    raise CyclicPrecedenceError(f"operation {op.id!r} precedes itself")
                preds[i].append(ops[p])
            preds[i] = sorted(set(preds[i]))
    for members in order_ops:
        lower: list[int] = []  # ops of the previous sequence value
        by_seq: dict[int, list[int]] = {}
        for i in members:
            by_seq.setdefault(inp.operations[i].sequence, []).append(i)
        for seq in sorted(by_seq):
            for i in by_seq[seq]:
                if inp.operations[i].predecessors is None:
                    preds[i] = list(lower)
            lower = by_seq[seq]

    succs: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for p in preds[i]:
            succs[p].append(i)
    indegree = [len(p) for p in preds]
    topo = [i for i in range(n) if not indegree[i]]
    for i in topo:  # grows while iterating (Kahn)
        for s in succs[i]:
            indegree[s] -= 1
            if not indegree[s]:
                topo.append(s)
    if len(topo) < n:
        stuck = [inp.operations[i].id for i in range(n) if indegree[i]]
        raise CyclicPrecedenceError(f"the predecessors of operations {stuck[:10]!r} form a cycle")

    order_last_ops = [
        [i for i in members if all(op_order[s] != j for s in succs[i])]
        for j, members in enumerate(order_ops)
    ]
    problem = Problem(
        inp=inp,
        unit=unit,
        calendars=calendars,
        capacity=capacity,
        op_center=op_center,
        op_order=op_order,
        op_duration=op_duration,
        op_release=op_release,
        preds=preds,
        succs=succs,
        topo=topo,
        order_due=order_due,
        order_weight=order_weight,
        order_ops=order_ops,
        order_last_ops=order_last_ops,
    )
    tail = [0] * n
    for i in reversed(topo):
        tail[i] = op_duration[i] + max(
            (tail[s] for s in succs[i] if op_order[s] == op_order[i]), default=0
        )
    problem.tail = tail
    problem.topo_position = [0] * n
    for k, i in enumerate(topo):
        problem.topo_position[i] = k
    return problem


def earliest_starts(problem: Problem) -> tuple[list[int], list[int]]:
    """Earliest start and finish of every operation ignoring capacity (calendars honoured).

    Raises CalendarExhaustedError when an operation cannot finish inside its calendar.
    """
    n = len(problem.op_center)
    es, ef = [0] * n, [0] * n
    for i in problem.topo:
        t = max([problem.op_release[i]] + [ef[p] for p in problem.preds[i]])
        es[i], ef[i] = place(problem, i, t)
    return es, ef


def place(problem: Problem, i: int, t: int) -> tuple[int, int]:
    """Earliest (start, end) of operation i at or after t on its calendar, ignoring capacity."""
    cal = problem.calendars[problem.op_center[i]]
    d = problem.op_duration[i]
    s = cal.snap(t, d)
    e = None if s is None else cal.finish(s, d)
    if s is None or e is None:
        op = problem.inp.operations[i]
        raise CalendarExhaustedError(
            f"operation {op.id!r} ({op.duration_minutes} min) cannot be finished within the "
            f"calendar of work center {op.work_center_id!r} (from "
            f"{problem.to_datetime(t).isoformat()}); extend the calendar"
        )
    return s, e


# --- building the output --------------------------------------------------------------------------


def build_schedule(problem: Problem, starts: list[int], ends: list[int], method: str) -> Schedule:
    """Turn grid starts/ends into the output dataclasses and their metrics (real minutes)."""
    inp = problem.inp
    to_dt = problem.to_datetime
    scheduled = []
    for i, op in enumerate(inp.operations):
        cal = problem.calendars[problem.op_center[i]]
        periods = tuple((to_dt(a), to_dt(b)) for a, b in cal.periods(starts[i], ends[i]))
        scheduled.append(
            ScheduledOperation(
                operation_id=op.id,
                order_id=op.order_id,
                work_center_id=op.work_center_id,
                start=to_dt(starts[i]),
                end=to_dt(ends[i]),
                work_periods=periods,
            )
        )
    by_order: dict[Key, list[ScheduledOperation]] = {}
    for so in scheduled:
        by_order.setdefault(so.order_id, []).append(so)
    return Schedule(
        operations=tuple(scheduled),
        orders=order_results(inp, by_order),
        metrics=metrics(inp, by_order, [so.end for so in scheduled]),
        method=method,
    )


def _minutes(delta: timedelta) -> float:
    return delta / timedelta(minutes=1)


def order_results(
    inp: ScheduleInput, by_order: dict[Key, list[ScheduledOperation]]
) -> tuple[OrderResult, ...]:
    results = []
    for order in inp.orders:
        members = by_order.get(order.id, [])
        completion = max((so.end for so in members), default=None)
        lateness = 0.0 if completion is None else _minutes(completion - order.due)
        results.append(
            OrderResult(
                order_id=order.id,
                due=order.due,
                completion=completion,
                lateness_minutes=lateness,
                tardiness_minutes=max(0.0, lateness),
            )
        )
    return tuple(results)


def metrics(
    inp: ScheduleInput, by_order: dict[Key, list[ScheduledOperation]], ends: list[datetime]
) -> ScheduleMetrics:
    results = order_results(inp, by_order)
    weights = {o.id: o.weight for o in inp.orders}
    return ScheduleMetrics(
        weighted_tardiness_minutes=sum(weights[r.order_id] * r.tardiness_minutes for r in results),
        makespan_minutes=_minutes(max(ends) - inp.horizon_start) if ends else 0.0,
        late_orders=sum(1 for r in results if r.tardiness_minutes > 0),
    )


# --- the checker ----------------------------------------------------------------------------------


def schedule_violations(inp: ScheduleInput, schedule: Schedule) -> list[Violation]:
    """Every constraint the schedule violates, in real time against the input (not the grid).

    Checks: each operation scheduled once on its own work center; start >= horizon start and
    earliest start; start in working time, at least the duration of working time inside
    [start, end) and no end inside non-working time; each predecessor ends before its successor
    starts (operations named by sequence as `prepare` derives them); at no instant more operations
    on a center than its capacity (an operation holds its machine over the breaks it spans).
    """
    out: list[Violation] = []
    problem = prepare(inp)
    by_id: dict[Key, ScheduledOperation] = {}
    for so in schedule.operations:
        if so.operation_id in by_id:
            out.append(Violation("missing", f"operation {so.operation_id!r} scheduled twice"))
        by_id[so.operation_id] = so
    known = {op.id for op in inp.operations}
    for so in schedule.operations:
        if so.operation_id not in known:
            out.append(Violation("missing", f"unknown operation {so.operation_id!r} scheduled"))
    centers = {wc.id: wc for wc in inp.work_centers}
    windows = {
        wc.id: sorted((a, b) for a, b in wc.calendar)  # may overlap; merged below
        for wc in inp.work_centers
    }
    for key, ws in windows.items():
        merged: list[list[datetime]] = []
        for a, b in ws:
            if merged and a <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        windows[key] = [(a, b) for a, b in merged]

    for op in inp.operations:
        so = by_id.get(op.id)
        if so is None:
            out.append(Violation("missing", f"operation {op.id!r} not scheduled", (op.id,)))
            continue
        if so.work_center_id != op.work_center_id:
            out.append(
                Violation(
                    "work_center",
                    f"operation {op.id!r} on {so.work_center_id!r}, not {op.work_center_id!r}",
                    (op.id,),
                )
            )
        if so.end < so.start:
            out.append(
                Violation("calendar", f"operation {op.id!r} ends before it starts", (op.id,))
            )
            continue
        lower = max(inp.horizon_start, op.earliest_start or inp.horizon_start)
        if so.start < lower:
            out.append(
                Violation(
                    "earliest_start",
                    f"operation {op.id!r} starts {so.start.isoformat()} before {lower.isoformat()}",
                    (op.id,),
                )
            )
        ws = windows[op.work_center_id]
        duration = timedelta(minutes=float(Decimal(str(op.duration_minutes))))
        worked = sum(
            (min(b, so.end) - max(a, so.start) for a, b in ws if a < so.end and b > so.start),
            timedelta(0),
        )
        zero = duration == timedelta(0)
        if not any(a <= so.start < b or (zero and a <= so.start <= b) for a, b in ws):
            out.append(
                Violation(
                    "calendar",
                    f"operation {op.id!r} starts in non-working time ({so.start.isoformat()})",
                    (op.id,),
                )
            )
        if not zero and not any(a < so.end <= b for a, b in ws):
            out.append(
                Violation(
                    "calendar",
                    f"operation {op.id!r} ends in non-working time ({so.end.isoformat()})",
                    (op.id,),
                )
            )
        if worked < duration:
            out.append(
                Violation(
                    "calendar",
                    f"operation {op.id!r} has {_minutes(worked):g} working minutes in "
                    f"[start, end), needs {_minutes(duration):g}",
                    (op.id,),
                )
            )

    for i, op in enumerate(inp.operations):
        so = by_id.get(op.id)
        for p in problem.preds[i]:
            pred = inp.operations[p]
            ps = by_id.get(pred.id)
            if so is not None and ps is not None and so.start < ps.end:
                out.append(
                    Violation(
                        "precedence",
                        f"operation {op.id!r} starts {so.start.isoformat()} before its "
                        f"predecessor {pred.id!r} ends {ps.end.isoformat()}",
                        (pred.id, op.id),
                    )
                )

    per_center: dict[Key, list[ScheduledOperation]] = {}
    for op in inp.operations:
        so = by_id.get(op.id)
        if so is not None and so.end > so.start:
            per_center.setdefault(op.work_center_id, []).append(so)
    for key, members in per_center.items():
        cap = centers[key].capacity
        events = sorted(
            [(so.start, 1, so.operation_id) for so in members]
            + [(so.end, -1, so.operation_id) for so in members],
            key=lambda ev: (ev[0], ev[1]),  # ends before starts at the same instant
        )
        running: list[Key] = []
        reported = False
        for when, delta, op_id in events:
            if delta < 0:
                running.remove(op_id)
                reported = False
                continue
            running.append(op_id)
            if len(running) > cap and not reported:
                out.append(
                    Violation(
                        "capacity",
                        f"work center {key!r} runs {len(running)} operations at "
                        f"{when.isoformat()} (capacity {cap})",
                        tuple(running),
                    )
                )
                reported = True
    return out
