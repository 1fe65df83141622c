"""REST endpoints of the 7P customer analysis (mounted under the analytics router): the overview
of all customers or one customer group, the retention cohorts, the whale curve, one customer's
7P summary, and the refresh (a background job). Scope as on the screens: the caller's company,
and without `analytics.manage` only the customers whose salesperson is the caller; a customer
out of scope is not found (404)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Router, Status

from xietong.analytics import customers_reads, selectors, warehouse
from xietong.core import jobs
from xietong.core.api import JobOut
from xietong.core.models import Job
from xietong.core.permissions import has_perm, requires

router = Router(tags=["analytics"])


def _owner(request: HttpRequest) -> int | None:
    return selectors.owner_scope(user=request.user, see_all=has_perm(request, "analytics.manage"))


def _clean(value: Any) -> Any:
    """JSON-ready: dates as ISO text, decimals as floats."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if hasattr(value, "as_tuple"):  # Decimal
        return float(value)
    return value


@router.get("/analytics/customers/overview", response=dict[str, Any])
@requires("analytics.view")
def customers_overview(request: HttpRequest, group: str = "") -> Any:
    """Totals, clusters with their description, churn-risk, CLV, profit and growth lists,
    category mix and cross-sell rules (`run` is null before the first refresh)."""
    with warehouse.connect(read_only=True) as con:
        page = customers_reads.overview(con, company_id=request.company.pk,
                                        owner_id=_owner(request), group=group or None)  # fmt: skip
    return _clean(page)


@router.get("/analytics/customers/cohorts", response=dict[str, Any])
@requires("analytics.view")
def customers_cohorts(request: HttpRequest, group: str = "", months: int = 12) -> Any:
    """Retention by month of first order, as of the last refresh (or today)."""
    months = max(1, min(int(months), 36))
    with warehouse.connect(read_only=True) as con:
        run = customers_reads.run_info(con, company_id=request.company.pk)
        as_of = dt.date.fromisoformat(run["as_of"]) if run else timezone.localdate()
        return customers_reads.retention_cohorts(
            con, company_id=request.company.pk, as_of=as_of, owner_id=_owner(request),
            group=group or None, months=months, cohorts=months,
        )  # fmt: skip


@router.get("/analytics/customers/whale", response=dict[str, Any])
@requires("analytics.view")
def customers_whale(request: HttpRequest, group: str = "") -> Any:
    """Cumulative profit share against the share of customers, most profitable first."""
    with warehouse.connect(read_only=True) as con:
        return customers_reads.whale_curve(con, company_id=request.company.pk,
                                           owner_id=_owner(request), group=group or None)  # fmt: skip


# Declared before the customer route, whose path would take "refresh" for a key.
@router.post("/analytics/customers/refresh", response={202: JobOut})
@requires("analytics.manage")
def customers_refresh(request: HttpRequest, horizon_days: int = 90) -> Status:
    """Start the 7P refresh of the caller's company as a background job."""
    job = jobs.job_start(company=request.company, actor=request.user,
                         kind="analytics.customers_refresh",
                         name=_("Refresh the 7P customer analysis"),
                         horizon_days=max(7, int(horizon_days)))  # fmt: skip
    return Status(202, Job.unscoped.get(pk=job.pk))


@router.get("/analytics/customers/{customer_key}", response=dict[str, Any])
@requires("analytics.view")
def customer_summary(request: HttpRequest, customer_key: int) -> Any:
    """One customer's 7P summary (404 outside the caller's scope or before the refresh)."""
    with warehouse.connect(read_only=True) as con:
        detail = customers_reads.customer_detail(con, company_id=request.company.pk,
                                                 customer_key=customer_key,
                                                 owner_id=_owner(request))  # fmt: skip
    if detail is None:
        raise Http404
    return _clean(detail)
