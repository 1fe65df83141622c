"""Links from a business document's screen to the approval process behind it: the open task
(who has it, and a link when the user may open it) and the instance."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from xietong.core.permissions import has_perm
from xietong.workflow.models import ProcessInstance, Task
from xietong.workflow.selectors import tasks_visible_to


def _url(name: str, pk: int) -> str:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:
        return ""


def process_links(request: HttpRequest, instance: ProcessInstance | None) -> dict[str, Any]:
    """The process behind a document: its open task (who has it, a link when the user may
    open the task) and a link to the instance (for users who see instances)."""
    if instance is None:
        return {}
    task = (
        Task.objects.filter(instance=instance, status=Task.Status.OPEN)
        .select_related("assignee")
        .order_by("pk")
        .first()
    )
    return {
        "instance": instance,
        "instance_url": _url("workflow:instance_detail", instance.pk)
        if has_perm(request, "workflow.view")
        else "",
        "task": task,
        "task_url": _url("workflow:task_detail", task.pk)
        if task is not None and _may_open(request, task)
        else "",
    }


def _may_open(request: HttpRequest, task: Task) -> bool:
    """Whether the task screen would show `task` to the user (else no link to a 404)."""
    if not has_perm(request, "workflow.task"):
        return False
    visible = tasks_visible_to(
        request.user, request.company, dispatcher=has_perm(request, "workflow.dispatch")
    )
    return visible.filter(pk=task.pk).exists()
