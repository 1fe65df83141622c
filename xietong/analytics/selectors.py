"""Reads of the analytics app: the pivots a user may open, and the pivot answer for a request
scoped to the user's company and, without `analytics.manage`, to their own customers."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from xietong.analytics import pivot as olap
from xietong.analytics import warehouse
from xietong.analytics.models import SavedPivot
from xietong.core.models import Company


def saved_pivots_visible(*, company: Company, user: Any) -> QuerySet[SavedPivot]:
    """One's own views and the shared views of the company."""
    return SavedPivot.unscoped.filter(company=company).filter(Q(owner=user) | Q(shared=True))


def owner_scope(*, user: Any, see_all: bool) -> int | None:
    """None (every customer) with `analytics.manage`, else the user: only their customers."""
    return None if see_all else user.pk


def pivot_answer(*, company: Company, user: Any, see_all: bool,
                 definition: dict[str, Any]) -> olap.PivotResult:  # fmt: skip
    with warehouse.connect(read_only=True) as con:
        return olap.pivot(
            backend=olap.duckdb_backend(con), company_ids=[company.pk],
            measures=definition["measures"], rows=definition["rows"],
            columns=definition["columns"], filters=definition["filters"],
            sort=definition["sort"], owner_id=owner_scope(user=user, see_all=see_all),
        )  # fmt: skip


def filter_values(*, company: Company, user: Any, see_all: bool, dimension: str) -> list[str]:
    with warehouse.connect(read_only=True) as con:
        return olap.dimension_values(
            backend=olap.duckdb_backend(con), company_ids=[company.pk], dimension=dimension,
            owner_id=owner_scope(user=user, see_all=see_all),
        )  # fmt: skip
