"""Read side of the workflow app: what waits for whom."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q, QuerySet

from xietong.core.models import Company, Membership, User
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task


def awaiting_approval(record: models.Model) -> bool:
    """Whether the record has a running process instance with an open task."""
    content_type = ContentType.objects.get_for_model(record)
    tasks = Task.unscoped.filter(
        instance__content_type=content_type,
        instance__object_id=record.pk,
        instance__status=ProcessInstance.Status.RUNNING,
        status=Task.Status.OPEN,
    )
    company_id = getattr(record, "company_id", None)
    if company_id is not None:
        tasks = tasks.filter(company_id=company_id)
    return tasks.exists()


def open_tasks_for(user: User, company: Company) -> QuerySet[Task]:
    """Open tasks of `company` the user may work on: assigned to them, or unassigned and for a
    role they hold there."""
    membership = (
        Membership.unscoped.filter(user=user, company=company, is_active=True)
        .prefetch_related("roles")
        .first()
    )
    if membership is None:
        return Task.unscoped.none()
    roles = [role.code for role in membership.roles.all()]
    return (
        Task.unscoped.filter(company=company, status=Task.Status.OPEN)
        .filter(Q(assignee=user) | Q(assignee__isnull=True, role__in=roles))
        .select_related("instance__definition")
        .order_by("due_at", "created_at", "pk")
    )


def definition_active(*, company: Company, key: str) -> ProcessDefinition | None:
    return ProcessDefinition.unscoped.filter(company=company, key=key, active=True).first()
