"""Due times, the reminder at 80 %, escalation when overdue, and the inbox selectors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from xietong.core import jobs
from xietong.core.models import AuditEntry, Company, Membership, User
from xietong.core.services import user_create
from xietong.workflow import selectors, services
from xietong.workflow.models import Task, TaskEvent
from xietong.workflow.tests.conftest import read

pytestmark = pytest.mark.django_db

START = dt.datetime(2025, 3, 3, 8, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def deploy(company: Company, actor: User, *, dispatch: str = "least_loaded") -> None:
    xml = read("sla_task.bpmn").replace('value="least_loaded"', f'value="{dispatch}"')
    services.definition_deploy(
        company=company,
        actor=actor,
        key="sla_task",
        name="SLA",
        bpmn_xml=xml,
        process_id="sla_task",
    )


def start(company: Company, now: dt.datetime = START) -> Task:
    instance = services.process_start(company=company, actor=None, key="sla_task", now=now)
    return Task.unscoped.get(instance=instance, status=Task.Status.OPEN)


@pytest.fixture
def agent(company_a, users_a) -> User:  # type: ignore[no-untyped-def]
    deploy(company_a, users_a["admin"])
    return users_a["service_agent"]


def test_due_and_reminder_times_come_from_the_model(company_a, agent) -> None:
    task = start(company_a)
    assert task.assignee == agent
    assert task.due_at == START + 10 * HOUR
    assert task.remind_at == START + 8 * HOUR
    assert (task.reminded_at, task.escalated_at) == (None, None)


def test_a_task_without_due_in_its_model_takes_the_default(company_a, users_a, settings) -> None:
    xml = read("sla_task.bpmn").replace('<spiffworkflow:property name="due" value="PT10H" />', "")
    services.definition_deploy(
        company=company_a,
        actor=users_a["admin"],
        key="sla_task",
        name="SLA",
        bpmn_xml=xml,
        process_id="sla_task",
    )
    assert start(company_a).due_at is None  # no default configured: no due time
    settings.WORKFLOW_TASK_DUE_DEFAULT = "P2D"
    task = start(company_a)
    assert task.due_at == START + dt.timedelta(days=2)
    assert task.remind_at == START + dt.timedelta(days=2) * 0.8


def test_periodic_sweep_is_registered() -> None:
    assert jobs._PERIODIC["workflow.sla"] is services.sla_run


def test_reminder_once_at_80_percent(company_a, agent) -> None:
    task = start(company_a)
    assert services.sla_run(now=START + 8 * HOUR - dt.timedelta(seconds=1)) == {
        "reminded": 0,
        "escalated": 0,
    }
    assert services.sla_run(now=START + 8 * HOUR) == {"reminded": 1, "escalated": 0}
    assert services.sla_run(now=START + 9 * HOUR) == {"reminded": 0, "escalated": 0}
    task.refresh_from_db()
    assert (task.reminded_at, task.assignee) == (START + 8 * HOUR, agent)
    event = TaskEvent.unscoped.get(task=task, kind=TaskEvent.Kind.REMINDED)
    assert (event.to_user, event.at) == (agent, START + 8 * HOUR)
    assert "due at" in event.reason


def test_escalation_to_the_assignees_manager(company_a, users_a, agent) -> None:
    manager = users_a["sales_manager"]
    Membership.unscoped.filter(company=company_a, user=agent).update(manager=manager)
    task = start(company_a)
    later = START + 10 * HOUR + dt.timedelta(seconds=1)
    # Overdue before any sweep saw the reminder point: escalated, not reminded.
    assert services.sla_run(now=later) == {"reminded": 0, "escalated": 1}
    assert services.sla_run(now=later + HOUR) == {"reminded": 0, "escalated": 0}
    task.refresh_from_db()
    assert (task.assignee, task.on_behalf_of, task.escalated_at) == (manager, agent, later)
    assert task.dispatch_reason == "escalated: overdue"
    event = TaskEvent.unscoped.get(task=task, kind=TaskEvent.Kind.ESCALATED)
    assert (event.from_user, event.to_user, event.actor) == (agent, manager, None)
    entry = (
        AuditEntry.objects.get_for_object(task)
        .filter(action=AuditEntry.Action.UPDATE)
        .latest("timestamp")
    )
    assert entry.changes_dict["assignee"] == [agent.pk, manager.pk]
    assert entry.actor is None  # the system's sweep, not a person
    # The manager has it now; the agent may still finish it (it is done on their behalf).
    assert task in selectors.inbox_mine(manager, company_a)
    services.task_complete(task=task, actor=agent, outcome="done", now=later + HOUR)


def test_escalation_without_manager_returns_to_the_queue_flagged(company_a, users_a, agent) -> None:
    task = start(company_a)
    services.sla_run(now=START + 8 * HOUR)
    assert services.sla_run(now=START + 11 * HOUR) == {"reminded": 0, "escalated": 1}
    task.refresh_from_db()
    assert task.assignee is None
    assert task.escalated_at == START + 11 * HOUR
    assert "shared queue" in task.dispatch_reason
    assert task in selectors.inbox_queue(agent, company_a)
    assert task in selectors.inbox_overdue(agent, company_a, now=START + 11 * HOUR)


def test_finished_and_undated_tasks_are_left_alone(company_a, users_a, agent) -> None:
    task = start(company_a)
    services.task_complete(task=task, actor=agent, outcome="done", now=START + HOUR)
    services.definition_deploy(
        company=company_a,
        actor=users_a["admin"],
        key="sla_task",
        name="no due",
        bpmn_xml=read("sla_task.bpmn").replace(
            '<spiffworkflow:property name="due" value="PT10H" />', ""
        ),
        process_id="sla_task",
    )
    undated = start(company_a)
    assert (undated.due_at, undated.remind_at) == (None, None)
    assert services.sla_run(now=START + 100 * HOUR) == {"reminded": 0, "escalated": 0}


def test_inbox_selectors_order_and_scope(company_a, company_b, users_a, users_b, agent) -> None:
    other = user_create(
        company=company_a,
        username="a_agent2",
        password=None,
        roles=["service_agent"],
        validate=False,
    )
    deploy(company_a, users_a["admin"], dispatch="manual")
    late = start(company_a, now=START)  # due START + 10 h
    early = start(company_a, now=START - 5 * HOUR)  # due START + 5 h
    services.task_claim(task=late, actor=agent)
    services.task_claim(task=early, actor=agent)
    queued_1 = start(company_a, now=START)
    queued_2 = start(company_a, now=START - HOUR)
    # No due time: listed after every dated task.
    services.definition_deploy(
        company=company_a,
        actor=users_a["admin"],
        key="sla_task",
        name="undated",
        bpmn_xml=read("sla_task.bpmn")
        .replace('value="least_loaded"', 'value="manual"')
        .replace('<spiffworkflow:property name="due" value="PT10H" />', ""),
        process_id="sla_task",
    )
    undated = start(company_a)
    services.task_claim(task=undated, actor=agent)

    assert list(selectors.inbox_mine(agent, company_a)) == [early, late, undated]
    assert list(selectors.inbox_queue(other, company_a)) == [queued_2, queued_1]
    assert not selectors.inbox_mine(other, company_a).exists()
    now = START + 9 * HOUR + 30 * dt.timedelta(minutes=1)
    assert list(selectors.inbox_overdue(agent, company_a, now=now)) == [early, queued_2]
    assert list(selectors.inbox_overdue(other, company_a, now=now)) == [queued_2]
    assert not selectors.inbox_overdue(users_a["sales_rep"], company_a, now=now).exists()
    assert not selectors.inbox_overdue(users_b["service_agent"], company_a, now=now).exists()
    assert not selectors.inbox_mine(agent, company_b).exists()

    load = selectors.workload(company_a, now=now)
    assert load.users[agent] == selectors.Load(3, Decimal(3), 1)
    assert load.users[other] == selectors.Load(0, Decimal(0), 0)
    assert load.roles["service_agent"] == selectors.Load(5, Decimal(5), 2)
    assert load.queued == {"service_agent": 2}
    assert load.balance["service_agent"] == pytest.approx(1.0)
    assert users_a["sales_rep"] in load.users
    assert users_a["portal_customer"] not in load.users
    assert selectors.workload(company_b).users.keys() == set(users_b.values()) - {
        users_b["portal_customer"],
        users_b["portal_supplier"],
    }


def test_delegate_of_an_absent_user_sees_their_overdue_tasks(company_a, users_a, agent) -> None:
    task = start(company_a)
    deputy = users_a["sales_rep"]
    today = START.date()
    Membership.unscoped.filter(company=company_a, user=agent).update(
        out_of_office_until=today, delegate=deputy
    )
    now = START + 11 * HOUR
    assert list(selectors.inbox_overdue(deputy, company_a, now=now)) == [task]
    Membership.unscoped.filter(company=company_a, user=agent).update(
        out_of_office_until=today - dt.timedelta(days=1)
    )
    assert not selectors.inbox_overdue(deputy, company_a, now=now).exists()
    with pytest.raises(PermissionDenied):
        services.task_complete(task=task, actor=deputy, outcome="done", now=now)
