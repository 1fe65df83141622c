"""What the shell's generated screen matrix needs from CRM marketing (merged by
xietong/crm/tests/matrix.py): records per company (`records`, keys `crm_…`, named
CANARY-<key>-…), the URL name → record key of every URL with a primary key, the POST-only views."""

from __future__ import annotations

from typing import Any

from xietong.core.models import Company

URL_RECORDS: dict[str, str] = {}
POST_ONLY: set[str] = set()


def records(company: Company, key: str) -> dict[str, Any]:
    return {}
