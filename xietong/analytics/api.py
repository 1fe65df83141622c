"""REST endpoints of analytics (mounted at `/api/v1` by `xietong.api`): the measures and
dimensions, a pivot query, saved views (list, create, share, delete) and a warehouse refresh
(a background job). Scope as on the screen: the caller's company, and without
`analytics.manage` only the customers whose salesperson is the caller. Another company's view
is not found (404)."""

from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema, Status
from ninja.pagination import paginate

from xietong.analytics import pivot as olap
from xietong.analytics import selectors, services
from xietong.analytics.models import SavedPivot
from xietong.core import jobs
from xietong.core.api import JobOut
from xietong.core.idempotency import idempotent
from xietong.core.models import Job
from xietong.core.permissions import has_perm, requires

router = Router(tags=["analytics"])


class Choice(Schema):
    code: str
    label: str
    fact: str = ""
    child: str = ""


class MetaOut(Schema):
    measures: list[Choice]
    dimensions: list[Choice]


class SortIn(Schema):
    by: str = "label"
    desc: bool = False


class PivotIn(Schema):
    measures: list[str]
    rows: list[str] = []
    columns: list[str] = []
    filters: dict[str, list[str]] = {}
    sort: SortIn = SortIn()
    chart: str = "bar"


class PivotOut(Schema):
    measures: list[str]
    rows: list[str]
    columns: list[str]
    row_keys: list[list[str]]
    column_keys: list[list[str]]
    cells: list[dict[str, Any]]
    row_totals: list[dict[str, Any]]
    column_totals: list[dict[str, Any]]
    total: dict[str, Any]
    skipped: list[str]


class ViewIn(Schema):
    name: str
    shared: bool = False
    definition: PivotIn


class ViewOut(Schema):
    id: int
    name: str
    owner: int = Field(alias="owner_id")
    shared: bool
    definition: dict[str, Any]


class ShareIn(Schema):
    shared: bool


def _see_all(request: HttpRequest) -> bool:
    return has_perm(request, "analytics.manage")


@router.get("/analytics/meta", response=MetaOut)
@requires("analytics.view")
def meta(request: HttpRequest) -> Any:
    """The measures (with their fact) and the dimensions (with the level they drill down to)."""
    return {
        "measures": [{"code": k, "label": str(m.label), "fact": m.fact}
                     for k, m in olap.MEASURES.items()],
        "dimensions": [{"code": k, "label": str(d.label), "child": d.child}
                       for k, d in olap.DIMENSIONS.items()],
    }  # fmt: skip


@router.post("/analytics/pivot", response=PivotOut)
@requires("analytics.view")
def pivot_query(request: HttpRequest, payload: PivotIn) -> Any:
    """Measures by rows × columns with totals (amounts as strings, counts as integers)."""
    definition = services.definition_clean(payload.dict())
    result = selectors.pivot_answer(company=request.company, user=request.user,
                                    see_all=_see_all(request), definition=definition)  # fmt: skip
    return result.as_dict()


@router.get("/analytics/views", response=list[ViewOut])
@requires("analytics.view")
@paginate
def view_list(request: HttpRequest) -> Any:
    """One's own saved views and the company's shared ones."""
    return selectors.saved_pivots_visible(company=request.company, user=request.user)


@router.post("/analytics/views", response={201: ViewOut})
@requires("analytics.view")
@idempotent
def view_create(request: HttpRequest, payload: ViewIn) -> Status:
    """Save a view (sharing it needs `analytics.manage`)."""
    if payload.shared and not _see_all(request):
        raise ValidationError({"shared": _("Sharing a view needs the analytics manager right.")})
    view = services.saved_pivot_create(company=request.company, actor=request.user,
                                       name=payload.name, definition=payload.definition.dict(),
                                       shared=payload.shared)  # fmt: skip
    return Status(201, view)


def _own(request: HttpRequest, view_id: int) -> SavedPivot:
    return get_object_or_404(SavedPivot.unscoped, company=request.company, owner=request.user,
                             pk=view_id)  # fmt: skip


@router.put("/analytics/views/{view_id}/shared", response=ViewOut)
@requires("analytics.manage")
def view_share(request: HttpRequest, view_id: int, payload: ShareIn) -> Any:
    """Share or unshare one's own view."""
    return services.saved_pivot_share(view=_own(request, view_id), actor=request.user,
                                      shared=payload.shared)  # fmt: skip


@router.delete("/analytics/views/{view_id}", response={204: None})
@requires("analytics.view")
def view_delete(request: HttpRequest, view_id: int) -> Status:
    """Delete one's own view."""
    services.saved_pivot_delete(view=_own(request, view_id), actor=request.user)
    return Status(204, None)


@router.post("/analytics/refresh", response={202: JobOut})
@requires("analytics.manage")
def refresh(request: HttpRequest, full: bool = False) -> Status:
    """Start the ETL (incremental; `full=true` rebuilds the warehouse) as a background job."""
    job = jobs.job_start(company=request.company, actor=request.user, kind="analytics.refresh",
                         name=_("Refresh the analytics warehouse"), full=full)  # fmt: skip
    return Status(202, Job.unscoped.get(pk=job.pk))


def _mount() -> None:
    """Mount the customer-analysis and forecasting endpoints under this router."""
    from xietong.analytics import api_customers, api_forecast

    router.add_router("", api_customers.router)
    router.add_router("", api_forecast.router)


_mount()
