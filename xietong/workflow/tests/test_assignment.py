"""Dispatch of new tasks (strategies read from the BPMN model) and claim/release/delegate/reassign."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from xietong.core.models import AuditEntry, Company, Membership, User
from xietong.core.services import user_create
from xietong.workflow import selectors, services
from xietong.workflow.models import DispatchCursor, ProcessInstance, Task, TaskEvent
from xietong.workflow.tests.conftest import read

pytestmark = pytest.mark.django_db

PROPERTY = '<spiffworkflow:property name="{name}" value="{value}" />'


def model(**properties: str) -> str:
    """dispatch_task.bpmn with some properties changed; None-like "-" removes one."""
    xml = read("dispatch_task.bpmn")
    defaults = {"dispatch": "least_loaded", "effort": "2", "skills": "", "territory": ""}
    for name, value in properties.items():
        old = PROPERTY.format(name=name, value=defaults.get(name, ""))
        if name in defaults:
            new = "" if value == "-" else PROPERTY.format(name=name, value=value)
            assert old in xml
            xml = xml.replace(old, new)
        else:
            outcomes = PROPERTY.format(name="outcomes", value="done")
            xml = xml.replace(outcomes, outcomes + PROPERTY.format(name=name, value=value))
    return xml


def deploy(company: Company, actor: User, **properties: str) -> None:
    services.definition_deploy(
        company=company,
        actor=actor,
        key="dispatch_task",
        name="Dispatch",
        bpmn_xml=model(**properties),
        process_id="dispatch_task",
    )


def start(company: Company, data: dict[str, Any] | None = None) -> Task:
    instance = services.process_start(company=company, actor=None, key="dispatch_task", data=data)
    return Task.unscoped.get(instance=instance, status=Task.Status.OPEN)


def membership(company: Company, user: User) -> Any:
    return Membership.unscoped.filter(company=company, user=user)


@pytest.fixture
def agents(company_a, users_a) -> list[User]:  # type: ignore[no-untyped-def]
    """Three service agents of company A, in user-id order (the rotation order)."""
    more = [
        user_create(
            company=company_a,
            username=f"a_agent{n}",
            password=None,
            roles=["service_agent"],
            validate=False,
        )
        for n in (2, 3)
    ]
    return [users_a["service_agent"], *more]


def _done(task: Task, actor: User) -> None:
    services.task_complete(task=task, actor=actor, outcome="done")


# --- dispatch on creation ---------------------------------------------------------------------
def test_least_loaded_picks_the_member_with_least_open_effort(
    company_a, company_b, users_a, users_b, agents
) -> None:
    first, second, third = agents
    deploy(company_a, users_a["admin"])
    # Company B's agent is idle and another role's user too: neither is a candidate.
    services.definition_deploy(
        company=company_b,
        actor=users_b["admin"],
        key="dispatch_task",
        name="d",
        bpmn_xml=model(),
        process_id="dispatch_task",
    )
    quit_ = user_create(
        company=company_a, username="a_quit", password=None, roles=["service_agent"], validate=False
    )
    membership(company_a, quit_).update(is_active=False)

    tasks = [start(company_a) for _ in range(3)]
    assert [t.assignee for t in tasks] == [first, second, third]  # ties: lowest id first
    assert tasks[1].dispatch_reason.startswith("least loaded: 0 open")
    _done(tasks[1], second)  # now second has no open effort, the others 2 each
    fourth = start(company_a)
    assert fourth.assignee == second
    # Reassigned work counts too: first now has effort 4, second 0, third 2.
    services.task_reassign(task=fourth, actor=users_a["sales_manager"], to=first)
    assert start(company_a).assignee == second
    event = TaskEvent.unscoped.filter(task=tasks[0], kind=TaskEvent.Kind.DISPATCHED).get()
    assert (event.to_user, event.actor) == (first, None)
    assert start(company_b).assignee == users_b["service_agent"]


def test_round_robin_rotates_and_persists_across_instances_and_versions(
    company_a, users_a, agents
) -> None:
    deploy(company_a, users_a["admin"], dispatch="round_robin")
    got = [start(company_a).assignee for _ in range(4)]
    assert got == [agents[0], agents[1], agents[2], agents[0]]
    cursor = DispatchCursor.unscoped.get(company=company_a, role="service_agent")
    assert (cursor.key, cursor.last_user) == ("dispatch_task:handle", agents[0])
    deploy(company_a, users_a["admin"], dispatch="round_robin")  # version 2 keeps the rotation
    assert start(company_a).assignee == agents[1]


def test_skill_match_and_territory_from_process_data(company_a, users_a, agents) -> None:
    first, second, third = agents
    membership(company_a, second).update(skills=["german", "billing"], territory="south")
    membership(company_a, third).update(skills=["german"], territory="north, east")
    deploy(company_a, users_a["admin"], dispatch="skill_match", skills="german", territory="region")
    assert start(company_a, {"region": "east"}).assignee == third
    assert start(company_a, {"region": "south"}).assignee == second
    # No territory in the data: any German speaker, the least loaded (second has 2, third 2:
    # equal, so the lower id).
    assert start(company_a).assignee == second
    nobody = start(company_a, {"region": "west"})
    assert nobody.assignee is None
    assert "shared queue" in nobody.dispatch_reason


def test_skill_match_with_a_literal_territory(company_a, users_a, agents) -> None:
    membership(company_a, agents[2]).update(skills=["billing"], territory="north")
    deploy(
        company_a, users_a["admin"], dispatch="skill_match", skills="billing", territory="'north'"
    )
    assert start(company_a, {"north": "ignored"}).assignee == agents[2]


def test_manual_and_missing_dispatch_leave_the_task_in_the_queue(
    company_a, users_a, agents
) -> None:
    deploy(company_a, users_a["admin"], dispatch="manual")
    task = start(company_a)
    assert task.assignee is None
    assert "manual" in task.dispatch_reason
    assert list(selectors.inbox_queue(agents[1], company_a)) == [task]
    assert not selectors.inbox_queue(users_a["sales_rep"], company_a).exists()

    deploy(company_a, users_a["admin"], dispatch="-")  # no property: as before dispatch existed
    legacy = start(company_a)
    assert (legacy.assignee, legacy.dispatch_reason) == (None, "")


def test_out_of_office_member_is_covered_by_the_delegate(company_a, users_a, agents) -> None:
    first, second, third = agents
    deploy(company_a, users_a["admin"], dispatch="round_robin")
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    membership(company_a, first).update(out_of_office_until=tomorrow, delegate=second)
    task = start(company_a)
    assert (task.assignee, task.on_behalf_of) == (second, first)
    assert "out of office" in task.dispatch_reason
    assert DispatchCursor.unscoped.get().last_user == first  # the rotation goes on after first
    assert start(company_a).assignee == second
    assert start(company_a).assignee == third


def test_out_of_office_assignees_task_is_completed_by_the_delegate(
    company_a, users_a, agents
) -> None:
    first, second, third = agents
    deploy(company_a, users_a["admin"])
    task = start(company_a)
    assert task.assignee == first
    with pytest.raises(PermissionDenied):
        _done(task, second)
    membership(company_a, first).update(out_of_office_until=timezone.localdate(), delegate=second)
    assert task in selectors.inbox_mine(second, company_a)
    assert task not in selectors.inbox_mine(third, company_a)
    with pytest.raises(PermissionDenied):
        _done(task, third)
    _done(task, second)
    task.refresh_from_db()
    assert (task.status, task.completed_by) == (Task.Status.DONE, second)


def test_named_assignee_wins_over_the_strategy(company_a, users_a, agents) -> None:
    deploy(company_a, users_a["admin"], dispatch="round_robin", assignee=agents[2].username)
    task = start(company_a)
    assert task.assignee == agents[2]
    assert task.dispatch_reason == "named in the process model"
    assert not DispatchCursor.unscoped.exists()


# --- claim, release, delegate, reassign -------------------------------------------------------
@pytest.fixture
def queued(company_a, users_a, agents) -> Task:  # type: ignore[no-untyped-def]
    deploy(company_a, users_a["admin"], dispatch="manual")
    return start(company_a)


def test_claim_rules(company_a, users_a, users_b, agents, queued) -> None:
    for actor, message in [
        (users_a["sales_rep"], "Only holders of the role service_agent"),
        (users_b["service_agent"], "not an active member"),
    ]:
        with pytest.raises(ValidationError, match=message):
            services.task_claim(task=queued, actor=actor)
    assert Task.unscoped.get(pk=queued.pk).assignee is None

    claimed = services.task_claim(task=queued, actor=agents[1])
    assert (claimed.assignee, claimed.dispatch_reason) == (
        agents[1],
        "claimed from the shared queue",
    )
    with pytest.raises(ValidationError, match="already yours"):
        services.task_claim(task=queued, actor=agents[1])
    with pytest.raises(ValidationError, match="already assigned"):
        services.task_claim(task=queued, actor=agents[2])
    assert list(selectors.inbox_mine(agents[1], company_a)) == [claimed]
    assert not selectors.inbox_queue(agents[2], company_a).exists()
    _done(queued, agents[1])
    with pytest.raises(ValidationError, match="no longer open"):
        services.task_claim(task=queued, actor=agents[2])


def test_release_rules(company_a, agents, queued) -> None:
    services.task_claim(task=queued, actor=agents[0])
    with pytest.raises(ValidationError, match="Only the assignee"):
        services.task_release(task=queued, actor=agents[1])
    assert Task.unscoped.get(pk=queued.pk).assignee == agents[0]
    released = services.task_release(task=queued, actor=agents[0], reason="no time")
    assert released.assignee is None
    assert released.dispatch_reason == "released by a_service_agent: no time"
    assert list(selectors.inbox_queue(agents[1], company_a)) == [released]


def test_delegate_rules(company_a, users_a, users_b, agents, queued) -> None:
    first, second, third = agents
    services.task_claim(task=queued, actor=first)
    refusals = [
        (second, third, "Only the assignee or a dispatcher"),
        (first, users_a["sales_rep"], "does not hold the role"),
        (first, users_b["service_agent"], "not an active member"),
        (first, first, "already assigned"),
        (users_b["sales_manager"], second, "not an active member"),
    ]
    for actor, to, message in refusals:
        with pytest.raises(ValidationError, match=message):
            services.task_delegate(task=queued, actor=actor, to=to)
    assert Task.unscoped.get(pk=queued.pk).assignee == first
    assert not TaskEvent.unscoped.filter(task=queued, kind="delegated").exists()

    task = services.task_delegate(task=queued, actor=first, to=second, reason="on holiday")
    assert (task.assignee, task.on_behalf_of, task.delegated_by) == (second, first, first)
    assert task.dispatch_reason == "delegated by a_service_agent: on holiday"
    event = TaskEvent.unscoped.get(task=task, kind="delegated")
    assert (event.actor, event.from_user, event.to_user, event.reason) == (
        first,
        first,
        second,
        task.dispatch_reason,
    )
    # A dispatcher may delegate a task that is not theirs.
    task = services.task_delegate(task=task, actor=users_a["sales_manager"], to=third)
    assert (task.assignee, task.on_behalf_of, task.delegated_by) == (
        third,
        second,
        users_a["sales_manager"],
    )
    # The one it is done on behalf of may still complete it; the dispatcher may not.
    with pytest.raises(PermissionDenied):
        _done(task, users_a["sales_manager"])
    _done(task, second)
    with pytest.raises(ValidationError, match="no longer open"):
        services.task_delegate(task=task, actor=third, to=first)


def test_reassign_rules(company_a, users_a, users_b, agents, queued) -> None:
    first, second, _third = agents
    for actor, to, message in [
        (first, second, "may not reassign"),
        (users_b["sales_manager"], second, "not an active member"),
        (users_a["sales_manager"], users_a["executive"], "does not hold the role"),
        (users_a["sales_manager"], None, "already in the shared queue"),
    ]:
        with pytest.raises(ValidationError, match=message):
            services.task_reassign(task=queued, actor=actor, to=to)
    assert Task.unscoped.get(pk=queued.pk).assignee is None

    task = services.task_reassign(task=queued, actor=users_a["executive"], to=first, reason="x")
    assert (task.assignee, task.on_behalf_of, task.dispatch_reason) == (
        first,
        None,
        "reassigned by a_executive: x",
    )
    task = services.task_reassign(task=task, actor=users_a["admin"], to=None)
    assert task.assignee is None
    _done(task, second)
    with pytest.raises(ValidationError, match="no longer open"):
        services.task_reassign(task=task, actor=users_a["admin"], to=first)


def test_dispatch_permission_goes_to_managerial_roles(company_a, users_a) -> None:
    from xietong.core.selectors import permissions_for

    holders = {
        code
        for code, user in users_a.items()
        if "workflow.dispatch" in permissions_for(user=user, company=company_a)
    }
    assert holders == {"admin", "sales_manager", "executive"}


def test_assignee_changes_are_audited_with_the_actor(company_a, users_a, agents, queued) -> None:
    first, second, _third = agents
    services.task_claim(task=queued, actor=first)
    services.task_delegate(task=queued, actor=first, to=second)
    services.task_reassign(task=queued, actor=users_a["sales_manager"], to=first)
    services.task_release(task=queued, actor=first)
    entries = AuditEntry.objects.get_for_object(queued).filter(action=AuditEntry.Action.UPDATE)
    moves = [
        (entry.actor, entry.changes_dict["assignee"][1])
        for entry in entries.order_by("timestamp", "pk")
        if "assignee" in entry.changes_dict
    ]
    assert moves == [
        (first, first.pk),
        (first, second.pk),
        (users_a["sales_manager"], first.pk),
        (first, None),
    ]
    assert all(e.company_id == company_a.pk for e in entries)


def test_company_isolation_of_the_inbox(company_a, company_b, users_a, users_b, agents) -> None:
    deploy(company_a, users_a["admin"])
    task = start(company_a)
    for user in (users_b["service_agent"], users_b["sales_manager"]):
        for company in (company_a, company_b):
            assert not selectors.inbox_mine(user, company).exists()
            assert not selectors.inbox_queue(user, company).exists()
            assert not selectors.inbox_overdue(user, company).exists()
    assert not selectors.inbox_mine(task.assignee, company_b).exists()
    assert selectors.workload(company_b).roles == {}
    assert ProcessInstance.unscoped.filter(company=company_b).count() == 0


def test_shipped_quotation_approval_goes_to_the_least_loaded_sales_manager(
    company_a, users_a
) -> None:
    from xietong.workflow import shipped

    second = user_create(
        company=company_a,
        username="a_manager2",
        password=None,
        roles=["sales_manager"],
        validate=False,
    )
    shipped.deploy_shipped(company=company_a, actor=None, key="quotation_approval")
    data = {"customer_group": "retail", "discount_percent": 12, "amount": 9000}
    assignees = [
        Task.unscoped.get(
            instance=services.process_start(
                company=company_a, actor=None, key="quotation_approval", data=data
            ),
            status=Task.Status.OPEN,
        ).assignee
        for _ in range(4)
    ]
    first = users_a["sales_manager"]
    assert sorted(a.pk for a in assignees) == sorted([first.pk, first.pk, second.pk, second.pk])
