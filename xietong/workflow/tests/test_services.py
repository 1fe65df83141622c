"""Deploying, starting, completing, timers, messages, call activities, DMN and refusals."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from xietong.core import events
from xietong.workflow import selectors, services
from xietong.workflow.events import InstanceEnded
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task
from xietong.workflow.tests.conftest import read

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended():  # type: ignore[no-untyped-def]
    received: list[InstanceEnded] = []
    events.subscribe(InstanceEnded, received.append)
    yield received
    events.unsubscribe(InstanceEnded, received.append)


def _open(instance: ProcessInstance) -> list[Task]:
    return list(Task.unscoped.filter(instance=instance, status=Task.Status.OPEN))


def _refresh(instance: ProcessInstance) -> ProcessInstance:
    return ProcessInstance.unscoped.get(pk=instance.pk)


# --- deploy -----------------------------------------------------------------------------------
def test_deploy_numbers_versions_and_keeps_one_active(company_a, admin_a, deploy) -> None:
    first = deploy("approval.bpmn", "approval")
    second = deploy("approval.bpmn", "approval")
    assert (first.version, second.version) == (1, 2)
    active = ProcessDefinition.unscoped.filter(company=company_a, key="approval", active=True)
    assert list(active) == [second]


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        ("<not-closed", "Malformed XML"),
        (read("approval.bpmn").replace('targetRef="review"', 'targetRef="nowhere"'), "nowhere"),
        (read("approval.bpmn").replace("<bpmn:startEvent", "<bpmn:bogusEvent"), "line"),
    ],
)
def test_deploy_refuses_a_broken_model(company_a, admin_a, xml, message) -> None:
    with pytest.raises(ValidationError) as caught:
        services.definition_deploy(
            company=company_a,
            actor=admin_a,
            key="broken",
            name="Broken",
            bpmn_xml=xml,
            process_id="approval",
        )
    assert message in " ".join(caught.value.messages)
    assert not ProcessDefinition.unscoped.filter(key="broken").exists()


def test_deploy_refuses_an_unknown_process_id(company_a, admin_a) -> None:
    with pytest.raises(ValidationError, match="no process with id"):
        services.definition_deploy(
            company=company_a,
            actor=admin_a,
            key="x",
            name="x",
            bpmn_xml=read("approval.bpmn"),
            process_id="nope",
        )


def test_deploy_refuses_script_tasks(company_a, admin_a) -> None:
    xml = read("approval.bpmn").replace(
        '<bpmn:userTask id="review" name="Review the request">',
        '<bpmn:scriptTask id="review" name="Review"><bpmn:script>import os</bpmn:script>'
        '</bpmn:scriptTask><bpmn:userTask id="unused" name="x">',
    )
    with pytest.raises(ValidationError, match="Script tasks are not allowed"):
        services.definition_deploy(
            company=company_a, actor=admin_a, key="s", name="s", bpmn_xml=xml, process_id="approval"
        )


def test_deploy_refuses_unknown_services(company_a, admin_a) -> None:
    with pytest.raises(ValidationError, match=r"Unknown service test\.stamp"):
        services.definition_deploy(
            company=company_a,
            actor=admin_a,
            key="w",
            name="w",
            bpmn_xml=read("wait.bpmn"),
            process_id="wait",
        )


def test_deploy_refuses_unsafe_expressions(company_a, admin_a) -> None:
    xml = read("approval.bpmn").replace(
        'outcome == "approved"', "__import__('os').system('touch /tmp/pwned')"
    )
    with pytest.raises(ValidationError, match="underscore"):
        services.definition_deploy(
            company=company_a, actor=admin_a, key="u", name="u", bpmn_xml=xml, process_id="approval"
        )


# --- approval flow ----------------------------------------------------------------------------
def test_approval_runs_as_role_users_and_publishes_the_outcome(
    company_a, users_a, deploy, ended, django_capture_on_commit_callbacks
) -> None:
    deploy("approval.bpmn", "approval")
    record = users_a["sales_rep"]
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        instance = services.process_start(
            company=company_a,
            actor=users_a["sales_rep"],
            key="approval",
            record=record,
            data={"amount": Decimal("1200.50")},
            now=now,
        )
    (task,) = _open(instance)
    assert (task.bpmn_id, task.role, task.lane, task.assignee) == (
        "review",
        "sales_manager",
        "sales_manager",
        None,
    )
    assert task.due_at == now + dt.timedelta(days=2)
    assert selectors.awaiting_approval(record)
    assert list(selectors.open_tasks_for(users_a["sales_manager"], company_a)) == [task]
    assert not selectors.open_tasks_for(users_a["sales_rep"], company_a).exists()

    with pytest.raises(PermissionDenied):
        services.task_complete(task=task, actor=users_a["sales_rep"], outcome="approved")

    with django_capture_on_commit_callbacks(execute=True):
        services.task_complete(
            task=task, actor=users_a["sales_manager"], outcome="approved", comment="fine"
        )
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert instance.ended_at is not None
    task.refresh_from_db()
    assert (task.status, task.outcome, task.completed_by) == (
        Task.Status.DONE,
        "approved",
        users_a["sales_manager"],
    )
    assert not selectors.awaiting_approval(record)
    (event,) = ended
    assert event.name == "workflow.instance.ended"
    assert (event.record, event.object_id, event.status) == ("core.user", record.pk, "completed")
    assert event.data["outcome"] == "approved"
    assert event.data["amount"] == "1200.50"

    with pytest.raises(ValidationError, match="no longer open"):
        services.task_complete(task=task, actor=users_a["sales_manager"], outcome="rejected")


def test_reject_path_and_invalid_outcome(company_a, users_a, deploy) -> None:
    deploy("approval.bpmn", "approval")
    instance = services.process_start(company=company_a, actor=None, key="approval")
    (task,) = _open(instance)
    with pytest.raises(ValidationError, match="Unknown outcome"):
        services.task_complete(task=task, actor=users_a["sales_manager"], outcome="maybe")
    with pytest.raises(ValidationError, match="does not ask for"):
        services.task_complete(
            task=task, actor=users_a["sales_manager"], outcome="rejected", data={"x": 1}
        )
    services.task_complete(task=task, actor=users_a["sales_manager"], outcome="rejected")
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert instance.data["outcome"] == "rejected"


def test_named_assignee_gets_the_task(company_a, users_a, deploy) -> None:
    xml = read("approval.bpmn").replace(
        '<spiffworkflow:property name="due" value="P2D" />',
        '<spiffworkflow:property name="assignee" value="a_executive" />',
    )
    services.definition_deploy(
        company=company_a,
        actor=users_a["admin"],
        key="approval",
        name="a",
        bpmn_xml=xml,
        process_id="approval",
    )
    instance = services.process_start(company=company_a, actor=None, key="approval")
    (task,) = _open(instance)
    assert task.assignee == users_a["executive"]
    with pytest.raises(PermissionDenied):  # holds the lane's role, but it is not theirs
        services.task_complete(task=task, actor=users_a["sales_manager"], outcome="approved")
    services.task_complete(task=task, actor=users_a["executive"], outcome="approved")


def test_company_b_cannot_see_or_complete_company_a_tasks(
    company_a, company_b, users_a, users_b, deploy
) -> None:
    deploy("approval.bpmn", "approval")
    instance = services.process_start(company=company_a, actor=None, key="approval")
    (task,) = _open(instance)
    assert not selectors.open_tasks_for(users_b["sales_manager"], company_a).exists()
    assert not selectors.open_tasks_for(users_b["sales_manager"], company_b).exists()
    with pytest.raises(PermissionDenied):
        services.task_complete(task=task, actor=users_b["sales_manager"], outcome="approved")
    with pytest.raises(ValidationError, match="No active process"):
        services.process_start(company=company_b, actor=None, key="approval")


def test_running_instance_finishes_on_its_version(company_a, users_a, deploy) -> None:
    deploy("approval.bpmn", "approval")
    old = services.process_start(company=company_a, actor=None, key="approval")
    # Version 2: the review goes to the executive instead.
    xml = read("approval.bpmn").replace('name="sales_manager"', 'name="executive"')
    services.definition_deploy(
        company=company_a,
        actor=users_a["admin"],
        key="approval",
        name="v2",
        bpmn_xml=xml,
        process_id="approval",
    )
    new = services.process_start(company=company_a, actor=None, key="approval")
    assert (old.definition.version, new.definition.version) == (1, 2)
    (old_task,) = _open(old)
    (new_task,) = _open(new)
    assert (old_task.role, new_task.role) == ("sales_manager", "executive")
    services.task_complete(task=old_task, actor=users_a["sales_manager"], outcome="approved")
    assert _refresh(old).status == ProcessInstance.Status.COMPLETED


# --- gateways, timers, messages, call activities, DMN -----------------------------------------
def test_parallel_gateway_waits_for_both_branches(company_a, users_a, deploy) -> None:
    deploy("parallel.bpmn", "parallel")
    instance = services.process_start(company=company_a, actor=None, key="parallel")
    tasks = {t.bpmn_id: t for t in _open(instance)}
    assert {k: t.role for k, t in tasks.items()} == {
        "credit_check": "accountant",
        "stock_check": "warehouse_clerk",
    }
    assert tasks["credit_check"].form == [{"name": "credit_ok", "type": "boolean"}]
    services.task_complete(
        task=tasks["credit_check"],
        actor=users_a["accountant"],
        outcome="done",
        data={"credit_ok": True},
    )
    assert _refresh(instance).status == ProcessInstance.Status.RUNNING
    services.task_complete(
        task=tasks["stock_check"], actor=users_a["warehouse_clerk"], outcome="done"
    )
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert instance.data["credit_ok"] is True


def test_boundary_timer_escalates_an_overdue_task(company_a, users_a, deploy) -> None:
    deploy("escalation.bpmn", "escalation")
    start = timezone.now()
    instance = services.process_start(company=company_a, actor=None, key="escalation", now=start)
    instance = _refresh(instance)
    assert instance.next_timer_at == start + dt.timedelta(days=1)
    (review,) = _open(instance)
    assert services.timers_run(now=start + dt.timedelta(hours=23)) == 0
    assert services.timers_run(now=start + dt.timedelta(days=1, seconds=1)) == 1
    review.refresh_from_db()
    assert review.status == Task.Status.CANCELLED
    (escalated,) = _open(instance)
    assert (escalated.bpmn_id, escalated.role) == ("escalated_review", "sales_manager")
    assert _refresh(instance).next_timer_at is None
    services.task_complete(task=escalated, actor=users_a["sales_manager"], outcome="approved")
    assert _refresh(instance).status == ProcessInstance.Status.COMPLETED


def test_intermediate_timer_then_service_task(company_a, deploy, stamp_service) -> None:
    deploy("wait.bpmn", "wait")
    start = timezone.now()
    instance = services.process_start(
        company=company_a, actor=None, key="wait", data={"label": "L1"}, now=start
    )
    assert _refresh(instance).next_timer_at == start + dt.timedelta(hours=1)
    assert stamp_service == []
    assert services.timers_run(now=start + dt.timedelta(minutes=59)) == 0
    assert services.timers_run(now=start + dt.timedelta(hours=2)) == 1
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert instance.data["stamped"] == {"stamped": "L1"}
    ((call, label),) = stamp_service
    assert (call.company_id, call.instance_id, label) == (company_a.pk, instance.pk, "L1")


def test_a_timer_fires_in_the_sweep_at_its_exact_due_time(company_a, deploy, stamp_service) -> None:
    deploy("wait.bpmn", "wait")
    start = timezone.now()
    instance = services.process_start(
        company=company_a, actor=None, key="wait", data={"label": "L2"}, now=start
    )
    assert services.timers_run(now=_refresh(instance).next_timer_at) == 1
    assert _refresh(instance).status == ProcessInstance.Status.COMPLETED


def test_failing_engine_marks_the_instance_failed(company_a, deploy, stamp_service) -> None:
    deploy("wait.bpmn", "wait")
    start = timezone.now()
    instance = services.process_start(company=company_a, actor=None, key="wait", now=start)
    # No "label" in the data: the service parameter expression fails when the timer fires.
    services.timers_run(now=start + dt.timedelta(hours=2))
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.FAILED
    assert "label" in instance.error


def test_message_reaches_the_waiting_instance(company_a, users_a, deploy) -> None:
    deploy("message.bpmn", "await_payment")
    record, other = users_a["sales_rep"], users_a["buyer"]
    instance = services.process_start(
        company=company_a, actor=None, key="await_payment", record=record
    )
    assert services.message_signal(company=company_a, record=other, name="payment_received") == 0
    assert services.message_signal(company=company_a, record=record, name="other_message") == 0
    assert _refresh(instance).status == ProcessInstance.Status.RUNNING
    delivered = services.message_signal(
        company=company_a, record=record, name="payment_received", payload={"amount": 10}
    )
    assert delivered == 1
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert instance.data["payment"] == {"amount": 10}


def test_call_activity_runs_the_deployed_process(company_a, users_a, deploy) -> None:
    with pytest.raises(ValidationError):  # the called process is not deployed yet
        deploy("call_parent.bpmn", "call_parent")
    deploy("approval.bpmn", "approval")
    deploy("call_parent.bpmn", "call_parent")
    instance = services.process_start(company=company_a, actor=None, key="call_parent")
    (task,) = _open(instance)
    assert (task.bpmn_id, task.role) == ("review", "sales_manager")
    services.task_complete(task=task, actor=users_a["sales_manager"], outcome="approved")
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert instance.data["outcome"] == "approved"


@pytest.mark.parametrize(
    ("amount", "level"), [(500, "none"), (Decimal("5000.00"), "manager"), (20000, "executive")]
)
def test_dmn_decides_the_approval_level(company_a, deploy, amount, level) -> None:
    deploy("level.bpmn", "level", dmn=["approval_level.dmn"])
    instance = services.process_start(
        company=company_a, actor=None, key="level", data={"amount": amount}
    )
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert instance.data["level"] == level


def test_unsafe_dmn_expression_is_refused_when_it_runs(company_a, admin_a) -> None:
    """DMN entries are checked when evaluated: the instance is not saved."""
    unsafe = read("approval_level.dmn").replace(
        "<text>amount</text>", "<text>__import__('os')</text>"
    )
    services.definition_deploy(
        company=company_a,
        actor=admin_a,
        key="level",
        name="unsafe",
        bpmn_xml=read("level.bpmn"),
        dmn_xmls=[unsafe],
        process_id="level",
    )
    with pytest.raises(ValidationError, match="underscore"):
        services.process_start(company=company_a, actor=None, key="level", data={"amount": 1})
    assert not ProcessInstance.unscoped.filter(company=company_a).exists()
