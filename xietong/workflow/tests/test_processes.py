"""The shipped processes (xietong.workflow.shipped), run as real role users.

Each scenario deploys the shipped models with `deploy_all`, starts instances with the data the
business apps will pass, completes tasks as the users of the roles the tasks land in (and checks
that others are refused), moves time on for the timers, and asserts the final `outcome`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from xietong.core import events
from xietong.workflow import services, shipped
from xietong.workflow.events import InstanceEnded
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task

pytestmark = pytest.mark.django_db

T0 = timezone.now().replace(microsecond=0)


@pytest.fixture
def deployed(company_a, admin_a):  # type: ignore[no-untyped-def]
    return shipped.deploy_all(company=company_a, actor=admin_a)


@pytest.fixture
def ended():  # type: ignore[no-untyped-def]
    received: list[InstanceEnded] = []
    events.subscribe(InstanceEnded, received.append)
    yield received
    events.unsubscribe(InstanceEnded, received.append)


def _start(company, key, *, actor=None, record=None, now=T0, **data):  # type: ignore[no-untyped-def]
    return services.process_start(
        company=company, actor=actor, key=key, record=record, data=data, now=now
    )


def _open(instance: ProcessInstance) -> list[Task]:
    return list(Task.unscoped.filter(instance=instance, status=Task.Status.OPEN))


def _one(instance: ProcessInstance, role: str) -> Task:
    (task,) = _open(instance)
    assert task.role == role, (task.bpmn_id, task.role)
    return task


def _refresh(instance: ProcessInstance) -> ProcessInstance:
    return ProcessInstance.unscoped.get(pk=instance.pk)


def _ended_with(instance: ProcessInstance, outcome: str) -> dict:
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert _open(instance) == []
    assert instance.data["outcome"] == outcome
    return instance.data


def _refused(task: Task, *actors) -> None:  # type: ignore[no-untyped-def]
    for actor in actors:
        with pytest.raises(PermissionDenied):
            services.task_complete(task=task, actor=actor, outcome=task.outcomes[0])


# --- deployment -------------------------------------------------------------------------------
def test_deploy_all_deploys_each_shipped_process_once(company_a, company_b, admin_a, users_b):
    deployed = shipped.deploy_all(company=company_a, actor=admin_a)
    assert [d.key for d in deployed] == [p.key for p in shipped.SHIPPED]
    assert {d.key for d in deployed} == {
        "quotation_approval",
        "purchase_order_approval",
        "credit_override",
        "leave_request",
        "ticket_escalation",
        "supplier_invoice_mismatch",
    }
    assert all(d.active and d.version == 1 and d.created_by == admin_a for d in deployed)
    assert {d.name for d in deployed} >= {"Purchase order approval", "Leave request"}
    # Idempotent, and an edited (re-deployed) key is left alone.
    services.definition_deploy(
        company=company_a,
        actor=admin_a,
        key="leave_request",
        name="Our leave request",
        bpmn_xml=shipped.BY_KEY["leave_request"].bpmn_xml(),
        process_id="leave_request",
    )
    assert shipped.deploy_all(company=company_a, actor=admin_a) == []
    assert ProcessDefinition.unscoped.get(
        company=company_a, key="leave_request", active=True
    ).name == ("Our leave request")
    # Per company.
    assert len(shipped.deploy_all(company=company_b, actor=users_b["admin"])) == len(
        shipped.SHIPPED
    )


def test_quotation_approval_is_shipped_too(company_a, users_a, deployed) -> None:
    instance = _start(
        company_a, "quotation_approval", customer_group="retail", discount_percent=12, amount=900
    )
    task = _one(instance, "sales_manager")
    _refused(task, users_a["sales_rep"], users_a["executive"])
    services.task_complete(task=task, actor=users_a["sales_manager"], outcome="approved")
    _ended_with(instance, "approved")


# --- purchase order approval ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("amount", "approval", "finance", "roles"),
    [
        (Decimal("0"), "none", False, set()),
        (Decimal("9999.99"), "none", False, set()),
        (Decimal("10000"), "buyer", False, {"buyer"}),
        (Decimal("49999.99"), "buyer", False, {"buyer"}),
        (Decimal("50000"), "buyer", True, {"buyer", "accountant"}),
        (Decimal("100000"), "buyer", True, {"buyer", "accountant"}),
        (Decimal("100000.01"), "executive", True, {"executive", "accountant"}),
        (Decimal("2500000"), "executive", True, {"executive", "accountant"}),
    ],
)
def test_po_approval_bands(company_a, users_a, deployed, amount, approval, finance, roles) -> None:
    instance = _start(company_a, "purchase_order_approval", amount=amount)
    tasks = _open(instance)
    assert {t.role for t in tasks} == roles
    for task in tasks:
        services.task_complete(task=task, actor=users_a[task.role], outcome="approved")
    data = _ended_with(instance, "approved")
    assert (data["approval"], data["finance"]) == (approval, finance)


def test_po_below_finance_limit_buyer_decides(company_a, users_a, deployed) -> None:
    approved = _start(company_a, "purchase_order_approval", amount=12000, supplier="Giant")
    task = _one(approved, "buyer")
    assert task.due_at == T0 + dt.timedelta(days=2)
    _refused(task, users_a["accountant"], users_a["sales_manager"], users_a["executive"])
    services.task_complete(task=task, actor=users_a["buyer"], outcome="approved")
    _ended_with(approved, "approved")

    rejected = _start(company_a, "purchase_order_approval", amount=12000)
    services.task_complete(
        task=_one(rejected, "buyer"), actor=users_a["buyer"], outcome="rejected", comment="dearer"
    )
    assert _ended_with(rejected, "rejected")["comment"] == "dearer"


@pytest.mark.parametrize("finance_first", [True, False])
@pytest.mark.parametrize(("amount", "line_role"), [(60000, "buyer"), (250000, "executive")])
def test_po_parallel_finance_approval_in_either_order(
    company_a,
    users_a,
    deployed,
    ended,
    django_capture_on_commit_callbacks,
    finance_first,
    amount,
    line_role,
) -> None:
    instance = _start(company_a, "purchase_order_approval", amount=amount)
    tasks = {t.role: t for t in _open(instance)}
    assert set(tasks) == {line_role, "accountant"}
    _refused(tasks["accountant"], users_a[line_role], users_a["sales_manager"])
    _refused(tasks[line_role], users_a["accountant"])
    order = ["accountant", line_role] if finance_first else [line_role, "accountant"]
    services.task_complete(task=tasks[order[0]], actor=users_a[order[0]], outcome="approved")
    instance = _refresh(instance)
    assert instance.status == ProcessInstance.Status.RUNNING  # waits for the other approval
    assert [t.role for t in _open(instance)] == [order[1]]
    with django_capture_on_commit_callbacks(execute=True):
        services.task_complete(task=tasks[order[1]], actor=users_a[order[1]], outcome="approved")
    _ended_with(instance, "approved")
    (event,) = ended
    assert (event.process_key, event.data["outcome"]) == ("purchase_order_approval", "approved")


@pytest.mark.parametrize("rejecter", ["accountant", "buyer"])
def test_po_any_rejection_rejects_and_cancels_the_other_approval(
    company_a, users_a, deployed, rejecter
) -> None:
    instance = _start(company_a, "purchase_order_approval", amount=75000)
    tasks = {t.role: t for t in _open(instance)}
    services.task_complete(
        task=tasks[rejecter], actor=users_a[rejecter], outcome="rejected", comment="not budgeted"
    )
    _ended_with(instance, "rejected")
    other = next(t for role, t in tasks.items() if role != rejecter)
    other.refresh_from_db()
    assert other.status == Task.Status.CANCELLED
    with pytest.raises(ValidationError, match="no longer open"):
        services.task_complete(task=other, actor=users_a[other.role], outcome="approved")


def test_po_rejection_after_the_other_approved(company_a, users_a, deployed) -> None:
    instance = _start(company_a, "purchase_order_approval", amount=75000)
    tasks = {t.role: t for t in _open(instance)}
    services.task_complete(task=tasks["buyer"], actor=users_a["buyer"], outcome="approved")
    services.task_complete(
        task=tasks["accountant"], actor=users_a["accountant"], outcome="rejected"
    )
    _ended_with(instance, "rejected")


# --- credit limit override --------------------------------------------------------------------
def _credit(company, excess, **data):  # type: ignore[no-untyped-def]
    return _start(
        company,
        "credit_override",
        credit_limit=Decimal("200000"),
        open_balance=Decimal("150000"),
        order_total=Decimal("50000") + Decimal(excess),
        **data,
    )


def test_credit_override_sales_manager_decides_small_excess(company_a, users_a, deployed) -> None:
    approved = _credit(company_a, Decimal("50000"), customer="骑行者贸易")  # at the threshold
    task = _one(approved, "sales_manager")
    assert task.outcomes == ["approved", "rejected"]
    assert task.due_at == T0 + dt.timedelta(days=1)
    _refused(task, users_a["sales_rep"], users_a["accountant"])
    services.task_complete(
        task=task, actor=users_a["sales_manager"], outcome="approved", comment="pays on time"
    )
    data = _ended_with(approved, "approved")
    assert data["comment"] == "pays on time"
    assert data["customer"] == "骑行者贸易"

    rejected = _credit(company_a, Decimal("1"))
    services.task_complete(
        task=_one(rejected, "sales_manager"),
        actor=users_a["sales_manager"],
        outcome="rejected",
        comment="overdue invoices",
    )
    assert _ended_with(rejected, "rejected")["comment"] == "overdue invoices"


@pytest.mark.parametrize("finance_outcome", ["approved", "rejected"])
def test_credit_override_large_excess_needs_finance(
    company_a, users_a, deployed, finance_outcome
) -> None:
    instance = _credit(company_a, Decimal("50000.01"))
    services.task_complete(
        task=_one(instance, "sales_manager"), actor=users_a["sales_manager"], outcome="approved"
    )
    task = _one(instance, "accountant")
    _refused(task, users_a["sales_manager"])
    services.task_complete(
        task=task, actor=users_a["accountant"], outcome=finance_outcome, comment="checked"
    )
    assert _ended_with(instance, finance_outcome)["comment"] == "checked"


def test_credit_override_manager_rejection_skips_finance(company_a, users_a, deployed) -> None:
    instance = _credit(company_a, Decimal("900000"))
    services.task_complete(
        task=_one(instance, "sales_manager"), actor=users_a["sales_manager"], outcome="rejected"
    )
    _ended_with(instance, "rejected")
    assert not Task.unscoped.filter(instance=instance, role="accountant").exists()


# --- leave request ----------------------------------------------------------------------------
def _leave(company, requester, manager_role, **data):  # type: ignore[no-untyped-def]
    return _start(
        company,
        "leave_request",
        actor=requester,
        requester=requester.username,
        manager_role=manager_role,
        leave_type="annual",
        days=3,
        start_date="2026-05-04",
        end_date="2026-05-06",
        **data,
    )


def test_leave_request_manager_then_hr(company_a, users_a, deployed) -> None:
    instance = _leave(company_a, users_a["sales_rep"], "sales_manager")
    task = _one(instance, "sales_manager")
    assert task.due_at == T0 + dt.timedelta(days=2)
    _refused(task, users_a["sales_rep"], users_a["hr_officer"], users_a["executive"])
    services.task_complete(task=task, actor=users_a["sales_manager"], outcome="approved")
    task = _one(instance, "hr_officer")
    assert task.bpmn_id == "hr_confirmation"
    _refused(task, users_a["sales_manager"])
    services.task_complete(task=task, actor=users_a["hr_officer"], outcome="approved")
    data = _ended_with(instance, "approved")
    assert "hr_escalation_outcome" not in data
    # Nothing is left to fire.
    assert services.timers_run(now=T0 + dt.timedelta(days=30)) == 0


def test_leave_request_rejections(company_a, users_a, deployed) -> None:
    by_manager = _leave(company_a, users_a["buyer"], "executive")  # everyone else's manager
    services.task_complete(
        task=_one(by_manager, "executive"), actor=users_a["executive"], outcome="rejected"
    )
    _ended_with(by_manager, "rejected")

    by_hr = _leave(company_a, users_a["planner"], "executive")
    services.task_complete(
        task=_one(by_hr, "executive"), actor=users_a["executive"], outcome="approved"
    )
    services.task_complete(
        task=_one(by_hr, "hr_officer"),
        actor=users_a["hr_officer"],
        outcome="rejected",
        comment="no days left",
    )
    assert _ended_with(by_hr, "rejected")["comment"] == "no days left"


@pytest.mark.parametrize(
    ("manager_role", "hr_outcome"), [("sales_manager", "approved"), ("executive", "rejected")]
)
def test_leave_request_escalates_to_hr_when_the_manager_waits_two_days(
    company_a, users_a, deployed, manager_role, hr_outcome
) -> None:
    instance = _leave(company_a, users_a["sales_rep"], manager_role)
    manager_task = _one(instance, manager_role)
    assert _refresh(instance).next_timer_at == T0 + dt.timedelta(days=2)

    assert services.timers_run(now=T0 + dt.timedelta(days=1, hours=23)) == 0
    assert _one(instance, manager_role) == manager_task

    assert services.timers_run(now=T0 + dt.timedelta(days=2, minutes=1)) == 1
    manager_task.refresh_from_db()
    assert manager_task.status == Task.Status.CANCELLED
    with pytest.raises(ValidationError, match="no longer open"):
        services.task_complete(task=manager_task, actor=users_a[manager_role], outcome="approved")
    task = _one(instance, "hr_officer")
    assert task.bpmn_id == "hr_escalation"
    _refused(task, users_a[manager_role])
    services.task_complete(task=task, actor=users_a["hr_officer"], outcome=hr_outcome)
    data = _ended_with(instance, hr_outcome)
    assert data["hr_escalation_outcome"] == hr_outcome


def test_leave_request_decided_in_time_does_not_escalate(company_a, users_a, deployed) -> None:
    instance = _leave(company_a, users_a["sales_rep"], "sales_manager")
    services.task_complete(
        task=_one(instance, "sales_manager"),
        actor=users_a["sales_manager"],
        outcome="approved",
        now=T0 + dt.timedelta(days=1),
    )
    assert _refresh(instance).next_timer_at is None
    assert services.timers_run(now=T0 + dt.timedelta(days=3)) == 0
    assert _one(instance, "hr_officer").bpmn_id == "hr_confirmation"


# --- service ticket escalation ----------------------------------------------------------------
def _ticket(company, record, priority="high", **data):  # type: ignore[no-untyped-def]
    return _start(
        company, "ticket_escalation", record=record, priority=priority, ticket="T-1001", **data
    )


def _resolve(company, record, at):  # type: ignore[no-untyped-def]
    return services.message_signal(
        company=company,
        record=record,
        name="ticket.resolved",
        payload={"resolved_by": "service_agent"},
        now=at,
    )


def test_ticket_resolved_in_time_wins_the_race(
    company_a, users_a, deployed, ended, django_capture_on_commit_callbacks
) -> None:
    record = users_a["portal_customer"]  # any record: the ticket app will pass its ticket
    instance = _ticket(company_a, record)
    assert _open(instance) == []
    assert _refresh(instance).next_timer_at == T0 + dt.timedelta(hours=4)
    with django_capture_on_commit_callbacks(execute=True):
        assert _resolve(company_a, record, T0 + dt.timedelta(hours=3)) == 1
    data = _ended_with(instance, "resolved")
    assert data["escalation_level"] == "none"
    assert data["resolution"] == {"resolved_by": "service_agent"}
    (event,) = ended
    assert (event.process_key, event.data["outcome"]) == ("ticket_escalation", "resolved")
    # The timer lost the race: nothing fires later, a second message finds nobody waiting.
    assert services.timers_run(now=T0 + dt.timedelta(days=5)) == 0
    assert _resolve(company_a, record, T0 + dt.timedelta(days=5)) == 0


def test_ticket_escalates_to_the_service_lead_then_resolves(company_a, users_a, deployed) -> None:
    record = users_a["portal_customer"]
    instance = _ticket(company_a, record)
    assert services.timers_run(now=T0 + dt.timedelta(hours=3, minutes=59)) == 0
    assert services.timers_run(now=T0 + dt.timedelta(hours=4, seconds=1)) == 1
    task = _one(instance, "sales_manager")
    assert (task.bpmn_id, task.outcomes) == ("manager_escalation", ["resolved"])
    _refused(task, users_a["service_agent"], users_a["executive"])
    assert _refresh(instance).next_timer_at == T0 + dt.timedelta(hours=12, seconds=1)
    # The agent resolves the ticket while the lead's task is open: the task is withdrawn.
    assert _resolve(company_a, record, T0 + dt.timedelta(hours=5)) == 1
    task.refresh_from_db()
    assert task.status == Task.Status.CANCELLED
    data = _ended_with(instance, "escalated")
    assert data["escalation_level"] == "manager"


def test_ticket_lead_closes_the_escalation(company_a, users_a, deployed) -> None:
    instance = _ticket(company_a, users_a["portal_customer"], priority="urgent")
    assert services.timers_run(now=T0 + dt.timedelta(hours=1, seconds=1)) == 1
    services.task_complete(
        task=_one(instance, "sales_manager"), actor=users_a["sales_manager"], outcome="resolved"
    )
    assert _ended_with(instance, "escalated")["escalation_level"] == "manager"


@pytest.mark.parametrize("closed_by", ["executive", "message"])
def test_ticket_second_timer_escalates_to_the_executive(
    company_a, users_a, deployed, closed_by
) -> None:
    record = users_a["portal_customer"]
    instance = _ticket(company_a, record)
    services.timers_run(now=T0 + dt.timedelta(hours=4, seconds=1))
    lead_task = _one(instance, "sales_manager")
    assert services.timers_run(now=T0 + dt.timedelta(hours=12)) == 0
    assert services.timers_run(now=T0 + dt.timedelta(hours=12, seconds=2)) == 1
    lead_task.refresh_from_db()
    assert lead_task.status == Task.Status.CANCELLED
    task = _one(instance, "executive")
    assert task.bpmn_id == "executive_escalation"
    _refused(task, users_a["sales_manager"])
    assert _refresh(instance).next_timer_at is None
    if closed_by == "executive":
        services.task_complete(task=task, actor=users_a["executive"], outcome="resolved")
    else:
        assert _resolve(company_a, record, T0 + dt.timedelta(hours=13)) == 1
    assert _ended_with(instance, "escalated")["escalation_level"] == "executive"


@pytest.mark.parametrize(
    ("priority", "first"), [("urgent", 1), ("high", 4), ("normal", 24), ("low", 48)]
)
def test_ticket_sla_times_by_priority(company_a, users_a, deployed, priority, first) -> None:
    instance = _ticket(company_a, users_a["portal_customer"], priority=priority)
    assert _refresh(instance).next_timer_at == T0 + dt.timedelta(hours=first)
