"""What the shell's generated screen matrix needs from sales (being built)."""

from __future__ import annotations

from typing import Any

from xietong.core.models import Company

URL_RECORDS: dict[str, str] = {}
POST_ONLY: set[str] = set()


def sales_records(company: Company, key: str) -> dict[str, Any]:
    return {}
