"""The task inbox: which open tasks a user sees (own, the queue of their roles, overdue), who may
open a task at all, and the provider of the home page's "my tasks" (xietong.core.inbox).

The lists themselves are the selectors `inbox_mine`, `inbox_queue` and `inbox_overdue`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from xietong.core import inbox as core_inbox
from xietong.core.models import Company, User
from xietong.core.permissions import has_perm
from xietong.workflow import selectors
from xietong.workflow.models import Task

RELATED = ("instance__definition", "instance__content_type", "assignee", "on_behalf_of")


DISPATCH = "workflow.dispatch"
role_codes = selectors.role_codes


def mine(user: User, company: Company) -> QuerySet[Task]:
    """Open tasks the user is to do (assigned, or covering for an absent colleague)."""
    return selectors.inbox_mine(user, company).select_related(*RELATED)


def queue(user: User, company: Company) -> QuerySet[Task]:
    """Open unassigned tasks of the roles the user holds."""
    return selectors.inbox_queue(user, company).select_related(*RELATED)


def overdue(user: User, company: Company, now: dt.datetime | None = None) -> QuerySet[Task]:
    """The user's own and queued open tasks whose due time has passed."""
    return selectors.inbox_overdue(user, company, now=now).select_related(*RELATED)


def visible_tasks(request: Any) -> QuerySet[Task]:
    """Tasks of the active company the user may open (see `selectors.tasks_visible_to`)."""
    return selectors.tasks_visible_to(
        request.user, request.company, dispatcher=has_perm(request, DISPATCH)
    )


def may_work_on(task: Task, request: Any) -> bool:
    """Whether the user may complete `task` now (the service checks again)."""
    user, company = request.user, request.company
    if task.status != Task.Status.OPEN:
        return False
    if task.assignee_id is None:
        return not task.role or task.role in role_codes(user, company)
    if user.pk in {task.assignee_id, task.on_behalf_of_id}:
        return True
    return mine(user, company).filter(pk=task.pk).exists()  # covering for an absent colleague


def work_items(request: Any) -> list[core_inbox.WorkItem]:
    """The home page's "my tasks": the user's own open tasks, then their roles' queue."""
    company = getattr(request, "company", None)
    if company is None or not has_perm(request, "workflow.task"):
        return []
    items = []
    for kind, tasks in ((_("Task"), mine), (_("Queue"), queue)):
        for task in tasks(request.user, company)[:10]:
            items.append(
                core_inbox.WorkItem(
                    title=task.name,
                    url=reverse("workflow:task_detail", args=[task.pk]),
                    kind=kind,
                    due=task.due_at,
                )
            )
    return items
