"""Who gets a new human task: the database shell around the pure algorithms of `dispatch`.

A task type configures its dispatch with BPMN extension properties of the user task (the same
``spiffworkflow:property`` elements the engine already reads for ``role``, ``due``, ``effort``):

``assignee``
    A username. Wins over everything else: the model names the person (if they are an active
    member of the company; otherwise the task goes to the role's queue).
``dispatch``
    ``least_loaded`` | ``round_robin`` | ``skill_match`` | ``manual``. **A task without the
    property keeps the behaviour it had before dispatch existed: it waits in the role's shared
    queue** (see `DEFAULT_STRATEGY`): flipping every deployed process to automatic assignment at
    once would change who sees what without anyone having asked. An empty value or an unknown
    word means ``least_loaded``, the default strategy of a task that opts in.
``effort``
    A decimal (default 1): what least-loaded balances (the engine stores it on `Task.effort`).
``skills``
    A comma-separated list; ``skill_match`` keeps the members whose `Membership.skills` hold all.
``territory``
    **A process-data variable name** (``customer_territory``), because the territory is usually
    the one of the record the process is about and the starter puts it in the data; a literal
    is written in quotes (``'north'`` or ``"north"``). A missing or empty variable means no
    territory constraint. A member's `Membership.territory` may list several, comma-separated.

Candidates are the active members of the task's company holding the task's role; their open
effort comes from one aggregate query over the company's open tasks. Round robin keeps its place
per (company, role, "<process key>:<BPMN task id>") in `DispatchCursor`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.models import Membership
from xietong.workflow.dispatch import Candidate, Decision, Need, Strategy, choose
from xietong.workflow.models import DispatchCursor, Task

DEFAULT_STRATEGY: Strategy | None = None
"""Strategy of a task whose model has no ``dispatch`` property; None: the role's queue."""


def _split(value: str) -> frozenset[str]:
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def strategy_of(properties: Mapping[str, Any]) -> Strategy | None:
    """The task type's strategy from its ``dispatch`` property (None: the role's queue)."""
    if "dispatch" not in properties:
        return DEFAULT_STRATEGY
    value = str(properties.get("dispatch") or "").strip().lower()
    try:
        return Strategy(value)
    except ValueError:
        return Strategy.LEAST_LOADED


def territory_of(properties: Mapping[str, Any], data: Mapping[str, Any]) -> str:
    """The territory the task needs: a quoted literal, else the named process-data variable."""
    raw = str(properties.get("territory") or "").strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1].strip()
    if not raw:
        return ""
    value = data.get(raw)
    return str(value).strip() if value not in (None, "") else ""


def need_of(
    properties: Mapping[str, Any], data: Mapping[str, Any], *, effort: Decimal | None = None
) -> Need:
    """What the task requires, from its properties (and the process data for the territory)."""
    if effort is None:
        try:
            effort = Decimal(str(properties.get("effort") or "1"))
        except InvalidOperation:
            effort = Decimal(1)
    return Need(
        effort=max(effort, Decimal(0)),
        skills=_split(str(properties.get("skills") or "")),
        territory=territory_of(properties, data),
    )


def candidates_for(*, company_id: int, role: str, today: dt.date) -> list[Candidate]:
    """The active members holding `role` in the company, with their open work.

    Two queries whatever the number of members: the memberships, and one aggregate of the
    open tasks of all of them (grouped by assignee).
    """
    memberships = list(
        Membership.unscoped.filter(
            company_id=company_id, is_active=True, user__is_active=True, roles__code=role
        )
        .distinct()
        .values("user_id", "skills", "territory", "out_of_office_until", "delegate_id")
    )
    if not memberships:
        return []
    ids = [m["user_id"] for m in memberships]
    loads = {
        row["assignee_id"]: row
        for row in Task.unscoped.filter(
            company_id=company_id, status=Task.Status.OPEN, assignee_id__in=ids
        )
        .values("assignee_id")
        .annotate(effort=Sum("effort"), count=Count("id"))
        .order_by()
    }
    candidates = []
    for m in memberships:
        load = loads.get(m["user_id"], {})
        skills = m["skills"] if isinstance(m["skills"], list) else []
        candidates.append(
            Candidate(
                user_id=m["user_id"],
                open_effort=Decimal(load.get("effort") or 0),
                open_tasks=int(load.get("count") or 0),
                skills=frozenset(str(s).strip() for s in skills if str(s).strip()),
                territories=_split(m["territory"] or ""),
                out_of_office=bool(m["out_of_office_until"] and m["out_of_office_until"] >= today),
                delegate_id=m["delegate_id"],
            )
        )
    return candidates


def _named(task: Task, username: str) -> Task:
    membership = (
        Membership.unscoped.filter(
            company_id=task.company_id, user__username=username, is_active=True
        )
        .select_related("user")
        .first()
    )
    task.assignee = membership.user if membership else None
    if membership:
        task.dispatch_reason = _("named in the process model")
    else:
        task.dispatch_reason = _(
            "the user %(username)s named in the process model is not an active member: "
            "the task goes to the shared queue"
        ) % {"username": username}
    return task


def _round_robin(task: Task, key: str, candidates: list[Candidate], need: Need) -> Decision:
    """Choose with the persisted rotation and move it on; the row lock orders concurrent starts."""
    cursor, _created = DispatchCursor.unscoped.get_or_create(
        company_id=task.company_id, role=task.role, key=key[:300]
    )
    cursor = DispatchCursor.unscoped.select_for_update().get(pk=cursor.pk)
    decision = choose(Strategy.ROUND_ROBIN, candidates, need, last_user_id=cursor.last_user_id)
    if decision.rotation_user_id is not None:
        cursor.last_user_id = decision.rotation_user_id
        cursor.save(update_fields=["last_user", "updated_at"])
    return decision


def assign(
    task: Task,
    *,
    properties: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
    process_key: str = "",
    now: dt.datetime | None = None,
) -> Task:
    """Set `task.assignee`, `on_behalf_of` and `dispatch_reason` (unsaved) for a new task.

    The named ``assignee`` wins; otherwise the task type's strategy chooses among the role's
    members; without a strategy (or with ``manual``) the task stays in the role's queue.
    Callers hold the transaction that saves the task (the round-robin cursor is written in it).
    """
    properties = properties or {}
    username = str(properties.get("assignee") or "").strip()
    if username:
        return _named(task, username)
    strategy = strategy_of(properties)
    if strategy is None:
        return task
    if strategy is Strategy.MANUAL:
        decision = choose(Strategy.MANUAL, [])
    else:
        today = timezone.localdate(now or timezone.now())
        candidates = candidates_for(company_id=task.company_id, role=task.role, today=today)
        need = need_of(properties, data or {}, effort=task.effort)
        if strategy is Strategy.ROUND_ROBIN:
            key = f"{process_key}:{task.bpmn_id}" if process_key else task.bpmn_id
            decision = _round_robin(task, key, candidates, need)
        else:
            decision = choose(strategy, candidates, need)
    task.assignee_id = decision.user_id
    task.on_behalf_of_id = decision.on_behalf_of
    task.dispatch_reason = decision.reason
    return task
