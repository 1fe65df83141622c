"""Workload figures of a company's human tasks, each from aggregate queries (no loop of queries
per user or role): open and overdue tasks per user and per role with how evenly each role's work
is spread (`selectors.workload`, which applies `dispatch.balance_index` to the open effort of
the role's members), the average cycle time of each process step and the daily throughput."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, DurationField, ExpressionWrapper, F, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Company
from xietong.core.roles import role_label
from xietong.workflow import selectors
from xietong.workflow.models import Task

THROUGHPUT_DAYS = 30


@dataclass
class Workload:
    users: list[dict[str, Any]] = field(default_factory=list)
    roles: list[dict[str, Any]] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    throughput: list[tuple[dt.date, int]] = field(default_factory=list)

    def charts(self) -> dict[str, dict[str, Any]]:
        """ECharts options for the monitor page (fed through json_script)."""
        return {
            "users": _bars(
                [u["name"] for u in self.users],
                {
                    _("Open"): [u["open"] for u in self.users],
                    _("Overdue"): [u["overdue"] for u in self.users],
                },
            ),
            "steps": _bars(
                [f"{s['key']} · {s['name']}" for s in self.steps],
                {_("Average hours"): [s["hours"] for s in self.steps]},
                horizontal=True,
            ),
            "throughput": {
                "tooltip": {"trigger": "axis"},
                "grid": {"left": 40, "right": 10, "top": 20, "bottom": 30},
                "xAxis": {
                    "type": "category",
                    "data": [d.strftime("%m-%d") for d, _n in self.throughput],
                },
                "yAxis": {"type": "value", "minInterval": 1},
                "series": [
                    {
                        "name": _("Completed tasks"),
                        "type": "line",
                        "data": [n for _d, n in self.throughput],
                    }
                ],
            },
        }


def _bars(labels: list[str], series: dict[str, list[Any]], horizontal: bool = False) -> dict:
    category = {"type": "category", "data": labels}
    value = {"type": "value", "minInterval": 1}
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 160 if horizontal else 40, "right": 10, "top": 30, "bottom": 30},
        "xAxis": value if horizontal else category,
        "yAxis": category if horizontal else value,
        "series": [{"name": name, "type": "bar", "data": data} for name, data in series.items()],
    }


def _hours(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, dt.timedelta):
        return round(value.total_seconds() / 3600, 2)
    return round(float(value) / 3_600_000_000, 2)  # a backend that averages microseconds


def workload(company: Company, *, now: dt.datetime | None = None) -> Workload:
    now = now or timezone.now()
    tasks = Task.unscoped.filter(company=company)
    load = selectors.workload(company, now=now)  # open work per user and role, balance
    users = [
        {
            "user_id": user.pk,
            "name": user.get_full_name() or user.username,
            "open": figures.open_count,
            "overdue": figures.overdue_count,
            "effort": figures.open_effort,
        }
        for user, figures in sorted(load.users.items(), key=lambda item: item[0].username)
    ]
    roles = [
        {
            "code": code,
            "name": str(role_label(code, code)) if code else _("(no role)"),
            "open": figures.open_count,
            "overdue": figures.overdue_count,
            "queued": load.queued.get(code, 0),
            "effort": figures.open_effort,
            "balance": round(load.balance.get(code, 0.0), 3),
        }
        for code, figures in load.roles.items()
    ]

    duration = ExpressionWrapper(F("completed_at") - F("created_at"), output_field=DurationField())
    steps = []
    for row in (
        tasks.filter(status=Task.Status.DONE, completed_at__isnull=False)
        .values("instance__definition__key", "bpmn_id")
        .annotate(done=Count("pk"), total=Sum(duration))
        .order_by("instance__definition__key", "bpmn_id")
    ):
        steps.append(
            {
                "key": row["instance__definition__key"],
                "bpmn_id": row["bpmn_id"],
                "name": row["bpmn_id"],
                "done": row["done"],
                "hours": round(_hours(row["total"]) / row["done"], 2) if row["done"] else 0.0,
            }
        )
    names = {
        (key, bpmn_id): name
        for key, bpmn_id, name in tasks.filter(bpmn_id__in=[s["bpmn_id"] for s in steps])
        .order_by()
        .values_list("instance__definition__key", "bpmn_id", "name")
        .distinct()
    }
    for step in steps:
        step["name"] = names.get((step["key"], step["bpmn_id"]), step["bpmn_id"])

    today = timezone.localdate(now)
    start = today - dt.timedelta(days=THROUGHPUT_DAYS - 1)
    counts = dict(
        tasks.filter(status=Task.Status.DONE, completed_at__date__gte=start)
        .annotate(day=TruncDate("completed_at"))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    throughput = [
        (start + dt.timedelta(days=i), counts.get(start + dt.timedelta(days=i), 0))
        for i in range(THROUGHPUT_DAYS)
    ]
    return Workload(users=users, roles=roles, steps=steps, throughput=throughput)
