"""The inventory API's part of the API permission matrix (joined in matrix.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User

# Path parameters of the inventory operations (the anonymous probe fills them with 1).
PATH_PARAMETERS: tuple[str, ...] = ()

# (method, path) -> (user, company) -> keyword arguments of the API matrix's `Sample`.
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {}
