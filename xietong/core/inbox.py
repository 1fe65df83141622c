"""What the home page lists as "my tasks": apps register providers of open work items.

The workflow app (task inbox) and later modules register a provider in `AppConfig.ready()`;
each returns the user's open items in the active company. The shell only merges and sorts them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class WorkItem:
    title: str
    url: str
    kind: str
    due: dt.datetime | None = None
    percent: int | None = None


Provider = Callable[[Any], list[WorkItem]]
_PROVIDERS: list[Provider] = []


def register(provider: Provider) -> None:
    if provider not in _PROVIDERS:
        _PROVIDERS.append(provider)


def items_for(request: Any, *, limit: int = 10) -> list[WorkItem]:
    items = [item for provider in _PROVIDERS for item in provider(request)]
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(items, key=lambda i: i.due or far)[:limit]
