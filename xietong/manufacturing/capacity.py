"""Capacity: the load of planned and open production orders per work center and bucket against
the work centers' calendars (CRP), and finite-capacity scheduling of the open production
orders' operations (greedy dispatch + CP-SAT, `scheduling`) written back to the orders.

A work center's capacity on a working day (a weekday of its `working_days`, not one of its
`holidays`) is hours per day × parallel units × efficiency, in minutes. Loads are the
operations' setup + run minutes: a planned order's operations load the bucket of its release
date, a production order's remaining minutes the bucket of its scheduled start (or of its
planned start before it is scheduled)."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core import jobs
from xietong.core.models import Company, User
from xietong.manufacturing import scheduling
from xietong.manufacturing.models import (
    PlannedOrder,
    ProductionOperation,
    ProductionOrder,
    Scenario,
)
from xietong.product.bom import BomIndex
from xietong.product.models import WorkCenter

SHIFT_START = dt.time(8, 0)


def working_day(center: WorkCenter, day: dt.date) -> bool:
    closed = getattr(center, "_closed_days", None)
    if closed is None:  # read once per center, not once per day
        closed = center._closed_days = frozenset(center.holidays or ())  # type: ignore[attr-defined]
    return day.isoweekday() in (center.working_days or [1, 2, 3, 4, 5]) and (
        day.isoformat() not in closed
    )


def daily_minutes(center: WorkCenter) -> float:
    return (float(center.hours_per_day) * 60 * center.units
            * float(center.efficiency_percent) / 100)  # fmt: skip


@dataclass
class Source:
    kind: str  # "planned" or "production"
    pk: int
    label: str
    minutes: float


@dataclass
class CapacityPlan:
    start: dt.date
    bucket_days: int
    dates: list[dt.date]
    centers: list[WorkCenter]
    load: dict[int, list[float]]  # work center id → minutes per bucket
    capacity: dict[int, list[float]]
    sources: dict[tuple[int, int], list[Source]] = field(default_factory=dict)

    def utilisation(self, center_id: int, bucket: int) -> float | None:
        cap = self.capacity[center_id][bucket]
        return None if cap <= 0 else self.load[center_id][bucket] / cap

    def overloads(self) -> list[tuple[WorkCenter, int, float, float]]:
        return [
            (c, b, self.load[c.pk][b], self.capacity[c.pk][b])
            for c in self.centers
            for b in range(len(self.dates))
            if self.load[c.pk][b] > self.capacity[c.pk][b] + 1e-6
        ]


def capacity_plan(
    *, company: Company, scenario: Scenario, start: dt.date, bucket: str, horizon: int
) -> CapacityPlan:
    """Load against capacity per active work center and bucket (a read; a few queries)."""
    days = 7 if bucket == "week" else 1
    dates = [start + dt.timedelta(days=days * b) for b in range(horizon)]
    centers = list(WorkCenter.unscoped.filter(company=company, active=True).order_by("code"))
    for center in centers:  # a what-if scenario's capacity (shifts, a machine down)
        changed = scenario.changes.get("work_centers", {}).get(str(center.pk))
        if changed:
            center.hours_per_day = Decimal(str(changed.get("hours_per_day", center.hours_per_day)))
            center.units = int(changed.get("units", center.units))
    capacity = {
        c.pk: [sum(daily_minutes(c) for d in range(days)
                   if working_day(c, day + dt.timedelta(days=d))) for day in dates]
        for c in centers
    }  # fmt: skip
    load: dict[int, list[float]] = {c.pk: [0.0] * horizon for c in centers}
    sources: dict[tuple[int, int], list[Source]] = defaultdict(list)

    def bucket_of(day: dt.date) -> int:
        return min(max((day - start).days // days, 0), horizon - 1)

    def add(center_id: int, day: dt.date, source: Source) -> None:
        if (
            center_id in load
            and source.minutes > 0
            and day < start + dt.timedelta(days=days * horizon)
        ):
            b = bucket_of(day)
            load[center_id][b] += source.minutes
            sources[(center_id, b)].append(source)

    planned = list(
        PlannedOrder.unscoped.filter(scenario=scenario, supply=PlannedOrder.Supply.MAKE,
                                     state=PlannedOrder.State.PLANNED)
        .select_related("product")
    )  # fmt: skip
    index = BomIndex(company.pk)
    index.load_routings({p.product_id for p in planned})
    for row in planned:
        for op in index.routings.get(row.product_id, ()):
            minutes = float(op.setup_minutes + op.run_minutes * row.quantity)
            add(op.work_center_id, row.release_date,
                Source("planned", row.pk, f"{row.product.sku} ({op.name})", minutes))  # fmt: skip
    operations = (
        ProductionOperation.objects.filter(
            order__company=company, order__state__in=ProductionOrder.OPEN_STATES
        )
        .exclude(state=ProductionOperation.State.DONE)
        .select_related("order")
    )
    local = zoneinfo.ZoneInfo(company.timezone)
    for op in operations:
        day = (op.scheduled_start.astimezone(local).date() if op.scheduled_start
               else op.order.start_date)  # fmt: skip
        remaining = max(float(op.planned_minutes - op.actual_minutes), 0.0)
        add(op.work_center_id, day,
            Source("production", op.order_id, f"{op.order.number} ({op.name})", remaining))  # fmt: skip
    return CapacityPlan(start, days, dates, centers, load, capacity, dict(sources))


# --- finite-capacity scheduling -----------------------------------------------------------------


def _calendar(center: WorkCenter, first: dt.date, days: int, tz: dt.tzinfo) -> list[tuple]:
    hours = dt.timedelta(hours=float(center.hours_per_day))
    return [
        (start, start + hours)
        for n in range(days)
        if working_day(center, day := first + dt.timedelta(days=n)) and hours
        for start in [dt.datetime.combine(day, SHIFT_START, tzinfo=tz)]
    ]


def schedule_input(
    *, company: Company, now: dt.datetime, days: int = 120
) -> tuple[scheduling.ScheduleInput, list[ProductionOperation]]:
    """The open production orders' operations not done, on the work centers' calendars from
    `now` for `days` days; an operation lasts its remaining minutes at the center's
    efficiency, and cannot start before its order's planned start."""
    local = zoneinfo.ZoneInfo(company.timezone)
    operations = list(
        ProductionOperation.objects.filter(
            order__company=company, order__state__in=ProductionOrder.OPEN_STATES
        )
        .exclude(state=ProductionOperation.State.DONE)
        .select_related("order", "work_center")
        .order_by("order_id", "sequence", "pk")
    )
    centers = {op.work_center_id: op.work_center for op in operations}
    first = now.astimezone(local).date()
    orders = {op.order_id: op.order for op in operations}
    inp = scheduling.ScheduleInput(
        horizon_start=now,
        work_centers=[
            scheduling.WorkCenter(
                id=c.pk, calendar=_calendar(c, first, days, local), capacity=max(c.units, 1)
            )  # fmt: skip
            for c in centers.values()
        ],
        orders=[
            scheduling.Order(
                id=o.pk,
                due=dt.datetime.combine(
                    o.due_date + dt.timedelta(days=1), dt.time(0), tzinfo=local
                ),
            )  # fmt: skip
            for o in orders.values()
        ],
        operations=[
            scheduling.Operation(
                id=op.pk,
                order_id=op.order_id,
                work_center_id=op.work_center_id,
                duration_minutes=max(float(op.planned_minutes - op.actual_minutes), 0.0)
                / (float(op.work_center.efficiency_percent) / 100),
                sequence=op.sequence,
                earliest_start=max(
                    now, dt.datetime.combine(op.order.start_date, SHIFT_START, tzinfo=local)
                ),
            )  # fmt: skip
            for op in operations
        ],
    )
    return inp, operations


@dataclass
class ScheduleResult:
    status: str
    operations: int
    late_orders: int
    weighted_tardiness_minutes: float
    makespan_minutes: float
    greedy_tardiness_minutes: float
    seconds: float


def production_schedule(
    *, company: Company, now: dt.datetime | None = None, time_limit: float = 5.0
) -> ScheduleResult:
    """Schedule the open operations (greedy warm start, then CP-SAT within `time_limit`
    seconds) and write the start and end of every operation, and each order's first start and
    last end, in one transaction. Refuses (ScheduleInputError) what cannot be scheduled, e.g. a
    work center without working time; nothing is written then."""
    now = (now or timezone.now()).replace(second=0, microsecond=0)
    inp, operations = schedule_input(company=company, now=now)
    if not operations:
        return ScheduleResult("empty", 0, 0, 0.0, 0.0, 0.0, 0.0)
    result = scheduling.solve(inp, time_limit_s=time_limit, workers=2)
    by_op = {s.operation_id: s for s in result.schedule.operations}
    spans: dict[int, list[dt.datetime]] = {}
    with transaction.atomic():
        for op in operations:
            slot = by_op[op.pk]
            op.scheduled_start, op.scheduled_end = slot.start, slot.end
            span = spans.setdefault(op.order_id, [slot.start, slot.end])
            span[0], span[1] = min(span[0], slot.start), max(span[1], slot.end)
        ProductionOperation.objects.bulk_update(operations, ["scheduled_start", "scheduled_end"],
                                                batch_size=1000)  # fmt: skip
        orders = list(ProductionOrder.unscoped.filter(pk__in=list(spans)))
        for order in orders:
            order.scheduled_start, order.scheduled_end = spans[order.pk]
        ProductionOrder.unscoped.bulk_update(orders, ["scheduled_start", "scheduled_end"],
                                             batch_size=1000)  # fmt: skip
    metrics = result.metrics
    return ScheduleResult(
        status=result.status, operations=len(operations), late_orders=metrics.late_orders,
        weighted_tardiness_minutes=metrics.weighted_tardiness_minutes,
        makespan_minutes=metrics.makespan_minutes,
        greedy_tardiness_minutes=result.greedy_metrics.weighted_tardiness_minutes,
        seconds=round(result.wall_time_s, 2),
    )  # fmt: skip


def production_schedule_request(*, company: Company, actor: User | None) -> Any:
    """Schedule in the background (a job started when the transaction commits)."""
    return jobs.job_start(company=company, actor=actor, kind="manufacturing.schedule",
                          name=str(_("Production schedule")))  # fmt: skip


def schedule_job(context: jobs.JobContext) -> dict[str, Any]:
    try:
        found = production_schedule(company=context.company)
    except scheduling.ScheduleInputError as exc:
        raise jobs.JobError(str(exc)) from exc
    return {
        "message": _("%(operations)s operations scheduled (%(status)s); %(late)s orders late.")
        % {"operations": found.operations, "status": found.status, "late": found.late_orders},
        **found.__dict__,
    }


def register() -> None:
    jobs.register("manufacturing.schedule", schedule_job)


def minutes_text(value: float | Decimal) -> str:
    hours, minutes = divmod(int(round(float(value))), 60)
    return f"{hours}:{minutes:02d}"
