"""The analytics API's part of the API permission matrix (xietong/api/tests/test_permissions.py):
for each operation, a request that succeeds for a user holding its permission. Sharing and
deleting need a view of the caller's own (PER_CALLER there)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xietong.analytics.models import SavedPivot
from xietong.analytics.tests import api_samples_customers, api_samples_forecast
from xietong.core.models import Company, User

PATH_PARAMETERS: tuple[str, ...] = (
    "view_id",
    *api_samples_customers.PATH_PARAMETERS,
    *api_samples_forecast.PATH_PARAMETERS,
)
DEFINITION = {"measures": ["revenue"], "rows": ["year"]}


def _sample(path_params: dict[str, Any], body: Any = None, query: Any = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


def own_view(user: User, company: Company) -> SavedPivot:
    return SavedPivot.unscoped.create(company=company, owner=user, name="Matrix view",
                                      definition={"measures": ["revenue"], "rows": ["year"],
                                                  "columns": [], "filters": {}})  # fmt: skip


SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/analytics/meta"): lambda u, c: _sample({}),
    ("POST", "/analytics/pivot"): lambda u, c: _sample({}, DEFINITION),
    ("GET", "/analytics/views"): lambda u, c: _sample({}),
    ("POST", "/analytics/views"): lambda u, c: _sample(
        {}, {"name": "Matrix", "definition": DEFINITION}
    ),
    ("PUT", "/analytics/views/{view_id}/shared"): lambda u, c: _sample(
        {"view_id": own_view(u, c).pk}, {"shared": True}
    ),
    ("DELETE", "/analytics/views/{view_id}"): lambda u, c: _sample({"view_id": own_view(u, c).pk}),
    ("POST", "/analytics/refresh"): lambda u, c: _sample({}),
    **api_samples_customers.SAMPLES,
    **api_samples_forecast.SAMPLES,
}
PER_CALLER = {
    ("PUT", "/analytics/views/{view_id}/shared"),
    ("DELETE", "/analytics/views/{view_id}"),
    *api_samples_customers.PER_CALLER,
    *api_samples_forecast.PER_CALLER,
}
