"""Events the workflow app publishes on the core bus (xietong.core.events)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from xietong.core.events import Event


@dataclass(frozen=True, kw_only=True)
class InstanceEnded(Event):
    """A process instance ended ("workflow.instance.ended"): other apps react to the outcome.

    `record` is "app_label.model" of the business record (empty without one); `data` is the
    process's final data (e.g. {"outcome": "approved", ...}).
    """

    name: ClassVar[str] = "workflow.instance.ended"

    instance_id: int
    process_key: str
    status: str
    record: str = ""
    object_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
