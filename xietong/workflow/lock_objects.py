"""Row locks of the workflow app (one instance at a time; a task's instance before the task)."""

from __future__ import annotations

from xietong.workflow.models import ProcessInstance


def instance_lock(*, pk: int) -> ProcessInstance:
    """Lock and return the instance row; callers hold a transaction."""
    return ProcessInstance.unscoped.select_for_update().select_related("definition").get(pk=pk)
