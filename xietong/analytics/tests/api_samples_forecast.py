"""The API permission matrix's part for analytics forecast (see api_samples.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User
from xietong.sales.tests.factories import item

PATH_PARAMETERS: tuple[str, ...] = ("product_id",)
PER_CALLER: set[tuple[str, str]] = set()


def _sample(path_params: dict[str, Any], body: Any = None, query: Any = None) -> dict[str, Any]:
    return {"path_params": path_params, "body": body, "query": query}


SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {
    ("GET", "/analytics/forecast/series"): lambda u, c: _sample({}),
    ("GET", "/analytics/forecast/series/{product_id}"): lambda u, c: _sample(
        {"product_id": item(c).pk}
    ),
    ("POST", "/analytics/forecast/run"): lambda u, c: _sample({}, None, {"horizon": 8}),
}
