"""Who gets a new human task. For now: the user the model names, else the role's shared queue.

Dispatch strategies (least loaded, round robin) will plug in here as small strategy objects;
services call only `assign(task, properties=...)`.
"""

from __future__ import annotations

from typing import Any

from xietong.core.models import Membership
from xietong.workflow.models import Task


def assign(task: Task, *, properties: dict[str, Any] | None = None) -> Task:
    """Set `task.assignee` (unsaved) from the model's `assignee` property (a username of an
    active member of the task's company); leave it empty for the role's queue otherwise."""
    username = (properties or {}).get("assignee", "").strip()
    if username:
        membership = (
            Membership.unscoped.filter(
                company_id=task.company_id, user__username=username, is_active=True
            )
            .select_related("user")
            .first()
        )
        task.assignee = membership.user if membership else None
    return task
