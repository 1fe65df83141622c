"""The sales API's part of the API permission matrix (being built)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xietong.core.models import Company, User

PATH_PARAMETERS: tuple[str, ...] = ()
SAMPLES: dict[tuple[str, str], Callable[[User, Company], dict[str, Any]]] = {}
