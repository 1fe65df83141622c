"""The API matrix's samples for CRM service (merged by xietong/crm/tests/api_samples.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User

PATH_PARAMETERS: tuple[str, ...] = ()

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {}
