"""The API permission matrix's part for analytics customers (see api_samples.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User

PATH_PARAMETERS: tuple[str, ...] = ()
PER_CALLER: set[tuple[str, str]] = set()
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {}
