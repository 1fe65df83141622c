"""The screen matrix's part for lead intake and territories: URL name → record key, POST-only
views, and `records(company)` adding this part's records (keys `crm_…`) to the matrix's."""

from __future__ import annotations

from typing import Any

from xietong.core.models import Company

URL_RECORDS: dict[str, str] = {}
POST_ONLY: set[str] = set()


def records(company: Company, key: str) -> dict[str, Any]:
    return {}
