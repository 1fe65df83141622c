"""The home dashboard: the user's open work and a few key figures of the active company."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core import inbox
from xietong.core.models import AuditEntry, ExchangeRate, Job, Membership
from xietong.core.permissions import has_perm


def _running_jobs(request: Any) -> list[inbox.WorkItem]:
    jobs = Job.objects.filter(user=request.user, status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    return [
        inbox.WorkItem(
            title=job.name,
            url=reverse("core:job_detail", args=[job.pk]),
            kind=_("Job"),
            percent=job.percent,
        )
        for job in jobs[:10]
    ]


inbox.register(_running_jobs)


def _activity_chart(request: Any, days: int = 14) -> dict[str, Any]:
    today = timezone.localdate()
    start = today - dt.timedelta(days=days - 1)
    counts = dict(
        AuditEntry.objects.filter(company=request.company, timestamp__date__gte=start)
        .annotate(day=TruncDate("timestamp"))
        .values_list("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    labels = [(start + dt.timedelta(days=i)) for i in range(days)]
    return {
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 40, "right": 10, "top": 20, "bottom": 30},
        "xAxis": {"type": "category", "data": [d.strftime("%m-%d") for d in labels]},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": _("Changes"), "type": "bar", "data": [counts.get(d, 0) for d in labels]}
        ],
    }


def _rates_chart(request: Any) -> dict[str, Any] | None:
    since = timezone.localdate() - dt.timedelta(days=90)
    rows = list(
        ExchangeRate.objects.filter(date__gte=since)
        .order_by("date")
        .values_list("currency_id", "date", "rate")
    )
    if not rows:
        return None
    dates = sorted({d for _c, d, _r in rows})
    series = {}
    for currency, date, rate in rows:
        series.setdefault(currency, {})[date] = str(rate)
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 0},
        "grid": {"left": 50, "right": 10, "top": 30, "bottom": 30},
        "xAxis": {"type": "category", "data": [d.isoformat() for d in dates]},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {"name": c, "type": "line", "showSymbol": False, "data": [values.get(d) for d in dates]}
            for c, values in sorted(series.items())
        ],
    }


def context(request: Any) -> dict[str, Any]:
    company = request.company
    figures = [
        {
            "label": _("People in this company"),
            "value": Membership.objects.filter(is_active=True).count(),
        },
        {
            "label": _("Changes recorded today"),
            "value": AuditEntry.objects.filter(
                company=company, timestamp__date=timezone.localdate()
            ).count(),
        },
        {
            "label": _("Background jobs this week"),
            "value": Job.objects.filter(
                created_at__gte=timezone.now() - dt.timedelta(days=7)
            ).count(),
        },
    ]
    if has_perm(request, "core.exchangerate.view"):
        figures.append(
            {
                "label": _("Currencies with rates"),
                "value": ExchangeRate.objects.values("currency_id").distinct().count(),
            }
        )
    return {
        "work_items": inbox.items_for(request),
        "figures": figures,
        "activity_chart": _activity_chart(request)
        if has_perm(request, "core.audit.view")
        else None,
        "rates_chart": _rates_chart(request)
        if has_perm(request, "core.exchangerate.view")
        else None,
    }
