"""Read side of the workflow app: what waits for whom."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Count, F, Q, QuerySet, Sum
from django.utils import timezone

from xietong.core.models import Company, Membership, User
from xietong.workflow.dispatch import balance_index
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


# --- the inbox ----------------------------------------------------------------------------------
# Each inbox list is one indexed query: the partial indexes workflow_task_inbox_mine and
# workflow_task_inbox_queue hold the open tasks only, in the order shown (due first, undated
# last, then oldest), so the first page comes straight from the index.
INBOX_ORDER = (F("due_at").asc(nulls_last=True), "created_at", "pk")


def _inbox(queryset: QuerySet[Task]) -> QuerySet[Task]:
    return queryset.select_related(
        "instance__definition", "assignee", "on_behalf_of", "delegated_by"
    ).order_by(*INBOX_ORDER)


def _member(user: User, company: Company) -> Membership | None:
    if not user.is_authenticated or not user.is_active:
        return None
    return (
        Membership.unscoped.filter(user=user, company=company, is_active=True)
        .prefetch_related("roles")
        .first()
    )


def _covered_ids(user: User, company: Company, today: dt.date) -> list[int]:
    """The user plus the colleagues who are out of office and name them as their delegate."""
    absent = Membership.unscoped.filter(
        company=company, delegate=user, out_of_office_until__gte=today, is_active=True
    ).values_list("user_id", flat=True)
    return [user.pk, *absent]


def role_codes(user: User, company: Company) -> list[str]:
    """Codes of the roles `user` holds in `company` (empty without an active membership)."""
    membership = _member(user, company)
    return [role.code for role in membership.roles.all()] if membership else []


def tasks_visible_to(user: User, company: Company, *, dispatcher: bool) -> QuerySet[Task]:
    """The company's tasks `user` may open (screens and API alike): every one for a
    dispatcher; otherwise their inbox (own and covered open tasks, unassigned tasks of their
    roles or of no role), the tasks they hand over or do on behalf of someone, and the ones
    they completed."""
    tasks = Task.unscoped.filter(company=company)
    if dispatcher:
        return tasks
    covered = _covered_ids(user, company, timezone.localdate())
    return tasks.filter(
        Q(assignee=user)
        | Q(on_behalf_of=user)
        | Q(completed_by=user)
        | Q(status=Task.Status.OPEN, assignee_id__in=covered)
        | Q(assignee__isnull=True, role__in=[*role_codes(user, company), ""])
    )


def inbox_mine(user: User, company: Company, *, now: dt.datetime | None = None) -> QuerySet[Task]:
    """Open tasks the user is to do: assigned to them (including those they do on behalf of a
    colleague) and those of colleagues who are out of office and named them as delegate."""
    if _member(user, company) is None:
        return Task.unscoped.none()
    today = timezone.localdate(now or timezone.now())
    return _inbox(
        Task.unscoped.filter(
            company=company,
            status=Task.Status.OPEN,
            assignee_id__in=_covered_ids(user, company, today),
        )
    )


def inbox_queue(user: User, company: Company) -> QuerySet[Task]:
    """Open, unassigned tasks of the roles the user holds in the company: what they may claim."""
    membership = _member(user, company)
    if membership is None:
        return Task.unscoped.none()
    roles = [role.code for role in membership.roles.all()]
    return _inbox(
        Task.unscoped.filter(
            company=company, status=Task.Status.OPEN, assignee__isnull=True, role__in=roles
        )
    )


def inbox_overdue(user: User, company: Company, now: dt.datetime | None = None) -> QuerySet[Task]:
    """Open tasks past due that are the user's (as in `inbox_mine`) or in their roles' queue."""
    membership = _member(user, company)
    if membership is None:
        return Task.unscoped.none()
    now = now or timezone.now()
    roles = [role.code for role in membership.roles.all()]
    ids = _covered_ids(user, company, timezone.localdate(now))
    return _inbox(
        Task.unscoped.filter(company=company, status=Task.Status.OPEN, due_at__lt=now).filter(
            Q(assignee_id__in=ids) | Q(assignee__isnull=True, role__in=roles)
        )
    )


@dataclass(frozen=True)
class Load:
    """Open work of one user or one role."""

    open_count: int = 0
    open_effort: Decimal = Decimal(0)
    overdue_count: int = 0


@dataclass(frozen=True)
class Workload:
    """The company's open work, per assignee and per role.

    `users` maps every active member holding a staff role (idle ones too, with zero load: a
    balance view must show who could take more) and any other assignee of an open task.
    `roles` maps every role with open tasks; `queued` counts their unassigned tasks, and
    `balance` is `dispatch.balance_index` of the open effort of the role's members (0 = even).
    """

    users: dict[User, Load] = field(default_factory=dict)
    roles: dict[str, Load] = field(default_factory=dict)
    queued: dict[str, int] = field(default_factory=dict)
    balance: dict[str, float] = field(default_factory=dict)


def workload(company: Company, *, now: dt.datetime | None = None) -> Workload:
    """Open count, open effort and overdue count per user and per role (three queries)."""
    now = now or timezone.now()
    rows = list(
        Task.unscoped.filter(company=company, status=Task.Status.OPEN)
        .values("assignee_id", "role")
        .annotate(
            count=Count("id"),
            effort=Sum("effort"),
            overdue=Count("id", filter=Q(due_at__lt=now)),
        )
        .order_by()
    )
    memberships = list(
        Membership.unscoped.filter(company=company, is_active=True, user__is_active=True)
        .select_related("user")
        .prefetch_related("roles")
    )
    staff = {m.user_id: m for m in memberships if any(not role.is_portal for role in m.roles.all())}
    per_user: dict[int, list[Decimal | int]] = {pk: [0, Decimal(0), 0] for pk in staff}
    per_role: dict[str, list[Decimal | int]] = {}
    queued: dict[str, int] = {}
    for row in rows:
        effort = row["effort"] or Decimal(0)
        role_load = per_role.setdefault(row["role"], [0, Decimal(0), 0])
        role_load[0] += row["count"]
        role_load[1] += effort
        role_load[2] += row["overdue"]
        if row["assignee_id"] is None:
            queued[row["role"]] = queued.get(row["role"], 0) + row["count"]
            continue
        user_load = per_user.setdefault(row["assignee_id"], [0, Decimal(0), 0])
        user_load[0] += row["count"]
        user_load[1] += effort
        user_load[2] += row["overdue"]
    users = {m.user_id: m.user for m in memberships}
    missing = [pk for pk in per_user if pk not in users]
    users.update({u.pk: u for u in User.objects.filter(pk__in=missing)} if missing else {})
    balance = {
        role: balance_index(
            [
                per_user[m.user_id][1]
                for m in staff.values()
                if role in {r.code for r in m.roles.all()}
            ]
        )
        for role in per_role
    }
    return Workload(
        users={
            users[pk]: Load(int(v[0]), Decimal(v[1]), int(v[2]))
            for pk, v in sorted(per_user.items())
            if pk in users
        },
        roles={
            role: Load(int(v[0]), Decimal(v[1]), int(v[2])) for role, v in sorted(per_role.items())
        },
        queued=queued,
        balance=balance,
    )
