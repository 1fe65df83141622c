"""Write services of the workflow engine: deploy definitions, start and advance instances.

Every service that moves an instance locks its row, runs the engine, and saves the serialised
state together with the task rows in one transaction: a crash between two steps leaves the
last committed step, from which the next call (or the timer sweep) simply continues.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from auditlog.registry import auditlog
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from xietong.core import events
from xietong.core.audit import audited
from xietong.core.models import Company, Membership, User
from xietong.core.tenancy import company_scope
from xietong.workflow import engine
from xietong.workflow.assignment import assign
from xietong.workflow.events import InstanceEnded
from xietong.workflow.lock_objects import instance_lock
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task, TaskEvent
from xietong.workflow.registry import ServiceCall

logger = logging.getLogger(__name__)

# Who had a task and why: the audit trail records every change of assignee with its actor
# (services are @audited; the SLA sweep's escalations appear without an actor, as the system).
auditlog.register(
    Task,
    include_fields=[
        "assignee",
        "on_behalf_of",
        "delegated_by",
        "dispatch_reason",
        "status",
        "escalated_at",
    ],
)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DEFAULT_OUTCOMES = ["approved", "rejected"]
REMIND_AT = 0.8  # share of the time from creation to due after which the assignee is reminded
FIELD_TYPES = {"text", "number", "boolean", "date"}
ENGINE_ERRORS = (SpiffWorkflowException, engine.ModelError, engine.UnsafeExpression)


# --- definitions ------------------------------------------------------------------------------
def _called_ids(bpmn_xml: str) -> tuple[set[str], set[str]]:
    """(process ids the model defines, process ids its call activities name)."""
    try:
        root = etree.fromstring(bpmn_xml.encode())
    except etree.XMLSyntaxError:
        return set(), set()
    defined = {node.get("id") for node in root.iter(f"{{{BPMN_NS}}}process")}
    called = {node.get("calledElement") for node in root.iter(f"{{{BPMN_NS}}}callActivity")}
    return defined, {c for c in called if c}


def _called_models(
    *, company: Company | int, bpmn_xml: str, exclude_key: str = ""
) -> list[tuple[str, list[str]]]:
    """The active definitions of the company whose processes `bpmn_xml` calls, transitively."""
    company_id = company if isinstance(company, int) else company.pk
    models_: list[tuple[str, list[str]]] = []
    defined, wanted = _called_ids(bpmn_xml)
    seen: set[str] = set(defined)
    pending = wanted - seen
    while pending:
        process_id = pending.pop()
        seen.add(process_id)
        called = (
            ProcessDefinition.unscoped.filter(
                company_id=company_id, process_id=process_id, active=True
            )
            .exclude(key=exclude_key)
            .first()
        )
        if called is None:
            continue  # the parser reports the missing process
        models_.append((called.bpmn_xml, list(called.dmn_xml)))
        more_defined, more_wanted = _called_ids(called.bpmn_xml)
        seen |= more_defined
        pending |= more_wanted - seen
    return models_


def _parse(definition: ProcessDefinition) -> engine.Parsed:
    return engine.parse(
        bpmn_xml=definition.bpmn_xml,
        process_id=definition.process_id,
        dmn_xmls=definition.dmn_xml,
        called=_called_models(
            company=definition.company_id, bpmn_xml=definition.bpmn_xml, exclude_key=definition.key
        ),
    )


@audited
def definition_deploy(
    *,
    company: Company,
    actor: User | None,
    key: str,
    name: str,
    bpmn_xml: str,
    dmn_xmls: Iterable[str] = (),
    process_id: str,
) -> ProcessDefinition:
    """Validate a BPMN model (and its DMN tables) and make it the next, active version of `key`.

    Raises `ValidationError` listing the parser's problems (line and element where known) for a
    broken or unsafe model (scripts, unregistered services, unsafe expressions, unknown called
    processes); then nothing is saved. Locks the key's existing versions. Instances already
    running keep their version.
    """
    dmn_list = list(dmn_xmls)
    try:
        engine.parse(
            bpmn_xml=bpmn_xml,
            process_id=process_id,
            dmn_xmls=dmn_list,
            called=_called_models(company=company, bpmn_xml=bpmn_xml, exclude_key=key),
        )
    except engine.ModelError as exc:
        raise ValidationError(exc.problems) from exc
    with transaction.atomic():
        versions = list(
            ProcessDefinition.unscoped.select_for_update()
            .filter(company=company, key=key)
            .order_by("-version")
            .values_list("version", flat=True)
        )
        ProcessDefinition.unscoped.filter(company=company, key=key, active=True).update(
            active=False
        )
        return ProcessDefinition.unscoped.create(
            company=company,
            key=key,
            version=(versions[0] if versions else 0) + 1,
            name=name,
            bpmn_xml=bpmn_xml,
            dmn_xml=dmn_list,
            process_id=process_id,
            active=True,
            created_by=actor,
        )


# --- running the engine -----------------------------------------------------------------------
def _call(instance: ProcessInstance) -> ServiceCall:
    return ServiceCall(
        company_id=instance.company_id,
        instance_id=instance.pk,
        content_type_id=instance.content_type_id,
        object_id=instance.object_id,
        data={},
    )


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder))


def _ready_human_tasks(workflow: Any) -> dict[Any, Any]:
    workflows = [workflow, *workflow.subprocesses.values()]
    return {
        task.id: task
        for wf in workflows
        for task in wf.get_tasks(state=TaskState.READY, manual=True)
    }


def _task_row(instance: ProcessInstance, spiff_task: Any, now: dt.datetime) -> Task:
    spec = spiff_task.task_spec
    properties = dict((getattr(spec, "extensions", None) or {}).get("properties", {}))
    lane = spec.lane or ""
    role = properties.get("role") or lane.strip().lower().replace(" ", "_").replace("-", "_")
    form = [
        {"name": name.removeprefix("field."), "type": kind if kind in FIELD_TYPES else "text"}
        for name, kind in properties.items()
        if name.startswith("field.")
    ]
    outcomes = [o.strip() for o in properties.get("outcomes", "").split(",") if o.strip()]
    due_at = remind_at = None
    due = properties.get("due") or settings.WORKFLOW_TASK_DUE_DEFAULT
    if due:
        parsed = TimerEventDefinition.parse_iso_duration(due)
        due_at = now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
        remind_at = now + (due_at - now) * REMIND_AT
    row = Task(
        company_id=instance.company_id,
        instance=instance,
        created_at=now,
        spiff_id=spiff_task.id,
        bpmn_id=spec.bpmn_id or spec.name,
        name=(spec.bpmn_name or spec.bpmn_id or spec.name)[:255],
        lane=lane,
        role=role[:40],
        form=form,
        outcomes=outcomes or DEFAULT_OUTCOMES,
        effort=Decimal(properties.get("effort", "1")),
        due_at=due_at,
        remind_at=remind_at,
    )
    return assign(
        row,
        properties=properties,
        data=spiff_task.data,
        process_key=instance.definition.key,
        now=now,
    )


def _advance(instance: ProcessInstance, workflow: Any, *, now: dt.datetime) -> None:
    """Run the engine until it waits, then save state, next timer and task rows together."""
    with engine.clock(now), company_scope(instance.company):
        workflow.do_engine_steps()
    ready = _ready_human_tasks(workflow)
    open_rows = {row.spiff_id: row for row in instance.tasks.filter(status=Task.Status.OPEN)}
    for spiff_id, row in open_rows.items():
        if spiff_id not in ready:  # interrupted, e.g. by a boundary timer
            row.status = Task.Status.CANCELLED
            row.completed_at = now
            row.save(update_fields=["status", "completed_at"])
    for spiff_id, spiff_task in ready.items():
        if spiff_id not in open_rows:
            row = _task_row(instance, spiff_task, now)
            row.save()
            if row.dispatch_reason:
                _event(row, TaskEvent.Kind.DISPATCHED, actor=None, to=row.assignee_id, now=now)
    instance.state = engine.workflow_dump(workflow)
    instance.next_timer_at = None
    if workflow.completed:
        instance.status = ProcessInstance.Status.COMPLETED
        instance.ended_at = now
        _publish_ended(instance, data=workflow.data)
    else:
        instance.next_timer_at = engine.next_timer(workflow)
    instance.save()


def _publish_ended(instance: ProcessInstance, *, data: dict[str, Any]) -> None:
    record = ""
    if instance.content_type_id:
        content_type = ContentType.objects.get_for_id(instance.content_type_id)
        record = f"{content_type.app_label}.{content_type.model}"
    outcome = {k: v for k, v in data.items() if k != "data_objects"}
    events.publish(
        InstanceEnded(
            company_id=instance.company_id,
            instance_id=instance.pk,
            process_key=instance.definition.key,
            status=instance.status,
            record=record,
            object_id=instance.object_id,
            data=_json(outcome),
        )
    )


def _engine_error(exc: Exception) -> ValidationError:
    detail, seen, cause = str(exc), 0, exc
    while cause is not None and seen < 10:  # SpiffWorkflow wraps the expression's own error
        if isinstance(cause, engine.UnsafeExpression):
            detail = f"{detail} ({cause})"
            break
        cause = getattr(cause, "exception", None) or cause.__cause__ or cause.__context__
        seen += 1
    return ValidationError(_("The process could not continue: %(error)s") % {"error": detail})


@audited
def process_start(
    *,
    company: Company,
    actor: User | None,
    key: str,
    record: models.Model | None = None,
    data: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> ProcessInstance:
    """Start the active version of process `key`, about `record`, with `data` as its input.

    Runs the engine until it waits (user task, timer, message) and saves the instance and its
    open tasks in one transaction. Raises `ValidationError` if no version is active or the
    engine fails (then nothing is saved). Publishes `InstanceEnded` if it ends at once.
    """
    now = now or timezone.now()
    definition = ProcessDefinition.unscoped.filter(company=company, key=key, active=True).first()
    if definition is None:
        raise ValidationError(_("No active process definition %(key)s.") % {"key": key})
    try:
        parsed = _parse(definition)
    except engine.ModelError as exc:
        raise ValidationError(exc.problems) from exc
    content_type = ContentType.objects.get_for_model(record) if record is not None else None
    try:
        with transaction.atomic():
            instance = ProcessInstance.unscoped.create(
                company=company,
                definition=definition,
                content_type=content_type,
                object_id=record.pk if record is not None else None,
                started_by=actor,
                started_at=now,
            )
            workflow = engine.workflow_new(parsed, call=_call(instance))
            for task in workflow.get_tasks(state=TaskState.READY):
                task.set_data(**(data or {}))
            _advance(instance, workflow, now=now)
    except ENGINE_ERRORS as exc:
        raise _engine_error(exc) from exc
    return instance


def _membership(user: User | None, company_id: int) -> Membership | None:
    """The user's active membership of the company, with its roles (None: not a member)."""
    if user is None or not user.is_active:
        return None
    return (
        Membership.unscoped.filter(user=user, company_id=company_id, is_active=True)
        .prefetch_related("roles")
        .first()
    )


def _role_codes(membership: Membership) -> set[str]:
    return {role.code for role in membership.roles.all()}


def _permissions(membership: Membership) -> set[str]:
    return {code for role in membership.roles.all() for code in role.permissions}


def _covers_for(*, actor: User, user_id: int, company_id: int, today: dt.date) -> bool:
    """Whether `actor` is the named delegate of `user_id`, who is out of office `today`."""
    return Membership.unscoped.filter(
        company_id=company_id,
        user_id=user_id,
        delegate=actor,
        out_of_office_until__gte=today,
    ).exists()


def _may_work_on(task: Task, actor: User, *, today: dt.date | None = None) -> bool:
    """Who may complete a task: today's rules plus the people covering for its assignee.

    An assigned task: the assignee, the user it is being done on behalf of (back from leave,
    or who delegated it), or the delegate of an assignee who is out of office. An unassigned
    task: the holders of its role (or of workflow.task when it has none). The workflow.dispatch
    permission deliberately gives no right to complete someone else's task: a dispatcher first
    reassigns it (which the audit trail records) and then works on it like anyone else.
    """
    membership = _membership(actor, task.company_id)
    if membership is None:
        return False
    if task.assignee_id:
        if actor.pk in {task.assignee_id, task.on_behalf_of_id}:
            return True
        return _covers_for(
            actor=actor,
            user_id=task.assignee_id,
            company_id=task.company_id,
            today=today or timezone.localdate(),
        )
    if task.role:
        return task.role in _role_codes(membership)
    return "workflow.task" in _permissions(membership)


def _clean_form(task: Task, data: dict[str, Any] | None) -> dict[str, Any]:
    fields = {f["name"]: f["type"] for f in task.form}
    unknown = sorted(set(data or {}) - set(fields))
    if unknown:
        raise ValidationError(
            _("This task does not ask for: %(fields)s") % {"fields": ", ".join(unknown)}
        )
    clean: dict[str, Any] = {}
    for name, value in (data or {}).items():
        kind = fields[name]
        try:
            if kind == "number":
                clean[name] = Decimal(str(value))
            elif kind == "boolean":
                clean[name] = value if isinstance(value, bool) else str(value).lower() == "true"
            elif kind == "date":
                clean[name] = dt.date.fromisoformat(str(value)).isoformat()
            else:
                clean[name] = str(value)
        except (ArithmeticError, ValueError) as exc:
            raise ValidationError(_("Invalid value for %(field)s.") % {"field": name}) from exc
    return clean


@audited
def task_complete(
    *,
    task: Task,
    actor: User,
    outcome: str,
    comment: str = "",
    data: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Task:
    """Complete an open task with `outcome` (one of the task's outcomes), then run the process on.

    Locks the instance, then the task. Raises `ValidationError` for a task that is not open or an
    invalid outcome or form data, `PermissionDenied` for an actor who is neither the assignee nor
    (for an unassigned task) a holder of the task's role in its company.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            instance = instance_lock(pk=task.instance_id)
            row = Task.unscoped.select_for_update().get(pk=task.pk)
            if row.status != Task.Status.OPEN or instance.status != ProcessInstance.Status.RUNNING:
                raise ValidationError(_("This task is no longer open."))
            if not _may_work_on(row, actor, today=timezone.localdate(now)):
                raise PermissionDenied(_("This task is not yours to complete."))
            if outcome not in (row.outcomes or DEFAULT_OUTCOMES):
                raise ValidationError(_("Unknown outcome %(outcome)s.") % {"outcome": outcome})
            clean = _clean_form(row, data)
            workflow = engine.workflow_load(instance.state, call=_call(instance))
            spiff_task = workflow.get_task_from_id(row.spiff_id)
            if spiff_task is None or spiff_task.state != TaskState.READY:
                raise ValidationError(_("This task is no longer open."))
            spiff_task.set_data(
                **clean, outcome=outcome, comment=comment, **{f"{row.bpmn_id}_outcome": outcome}
            )
            with engine.clock(now), company_scope(instance.company):
                spiff_task.run()
            row.status = Task.Status.DONE
            row.outcome = outcome
            row.comment = comment
            row.completed_at = now
            row.completed_by = actor
            row.save()
            _advance(instance, workflow, now=now)
    except ENGINE_ERRORS as exc:
        raise _engine_error(exc) from exc
    return row


# --- assignment: claim, release, delegate, reassign --------------------------------------------
DISPATCH_PERMISSION = "workflow.dispatch"


def _name(user: User | None) -> str:
    if user is None:
        return _("the shared queue")
    return user.get_full_name() or user.get_username()


def _event(
    task: Task,
    kind: str,
    *,
    actor: User | None,
    now: dt.datetime,
    source: int | None = None,
    to: int | None = None,
    reason: str = "",
) -> TaskEvent:
    return TaskEvent.unscoped.create(
        company_id=task.company_id,
        task=task,
        kind=kind,
        at=now,
        actor=actor,
        from_user_id=source,
        to_user_id=to,
        reason=reason,
    )


def _task_lock(task: Task) -> Task:
    """Lock and return the task row (no joins: on PostgreSQL they would lock those rows too)."""
    return Task.unscoped.select_for_update().get(pk=task.pk)


def _open_or_refuse(row: Task) -> None:
    if row.status != Task.Status.OPEN:
        raise ValidationError(_("This task is no longer open."))


def _member_or_refuse(actor: User, row: Task) -> Membership:
    membership = _membership(actor, row.company_id)
    if membership is None:
        raise ValidationError(_("You are not an active member of this task's company."))
    return membership


def _target_or_refuse(row: Task, to: User) -> None:
    """The new assignee must be an active member of the task's company holding its role."""
    membership = _membership(to, row.company_id)
    if membership is None:
        raise ValidationError(
            _("%(user)s is not an active member of this task's company.") % {"user": _name(to)}
        )
    if row.role and row.role not in _role_codes(membership):
        raise ValidationError(
            _("%(user)s does not hold the role %(role)s this task needs.")
            % {"user": _name(to), "role": row.role}
        )
    if row.assignee_id == to.pk:
        raise ValidationError(_("The task is already assigned to %(user)s.") % {"user": _name(to)})


def _assign_to(
    row: Task,
    *,
    to: User | None,
    on_behalf_of: int | None,
    delegated_by: User | None,
    reason: str,
    kind: str,
    actor: User | None,
    now: dt.datetime,
    escalated: bool = False,
) -> Task:
    """Save the new assignee with its explanation, and log the hand-over for the inbox."""
    previous = row.assignee_id
    row.assignee = to
    row.on_behalf_of_id = on_behalf_of
    row.delegated_by = delegated_by
    row.dispatch_reason = reason
    fields = ["assignee", "on_behalf_of", "delegated_by", "dispatch_reason"]
    if escalated:
        row.escalated_at = now
        fields.append("escalated_at")
    row.save(update_fields=fields)
    _event(row, kind, actor=actor, now=now, source=previous, to=row.assignee_id, reason=reason)
    return row


@audited
def task_claim(*, task: Task, actor: User, now: dt.datetime | None = None) -> Task:
    """Take an open task from the shared queue of a role the actor holds in its company.

    Raises `ValidationError` (and changes nothing) for a task that is not open or already
    assigned, an actor who is not an active member of the task's company, or who lacks its role
    (for a task without a role: the workflow.task permission).
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = _task_lock(task)
        _open_or_refuse(row)
        membership = _member_or_refuse(actor, row)
        if row.assignee_id == actor.pk:
            raise ValidationError(_("This task is already yours."))
        if row.assignee_id is not None:
            raise ValidationError(
                _("This task is already assigned to %(user)s.") % {"user": _name(row.assignee)}
            )
        if row.role and row.role not in _role_codes(membership):
            raise ValidationError(
                _("Only holders of the role %(role)s can claim this task.") % {"role": row.role}
            )
        if not row.role and "workflow.task" not in _permissions(membership):
            raise ValidationError(_("You may not work on workflow tasks in this company."))
        return _assign_to(
            row,
            to=actor,
            on_behalf_of=None,
            delegated_by=None,
            reason=_("claimed from the shared queue"),
            kind=TaskEvent.Kind.CLAIMED,
            actor=actor,
            now=now,
        )


@audited
def task_release(
    *, task: Task, actor: User, reason: str = "", now: dt.datetime | None = None
) -> Task:
    """The assignee puts an open task back into its role's shared queue.

    Raises `ValidationError` (and changes nothing) for a task that is not open or not assigned
    to the actor.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = _task_lock(task)
        _open_or_refuse(row)
        if row.assignee_id != actor.pk:
            raise ValidationError(_("Only the assignee can put this task back in the queue."))
        text = _("released by %(user)s") % {"user": _name(actor)}
        return _assign_to(
            row,
            to=None,
            on_behalf_of=None,
            delegated_by=None,
            reason=f"{text}: {reason}" if reason else text,
            kind=TaskEvent.Kind.RELEASED,
            actor=actor,
            now=now,
        )


@audited
def task_delegate(
    *, task: Task, actor: User, to: User, reason: str = "", now: dt.datetime | None = None
) -> Task:
    """Hand an open task to another active member of its company who holds its role.

    The assignee may delegate their task, and so may a holder of workflow.dispatch in that
    company. The task records the previous assignee as `on_behalf_of` (who may still complete
    it) and the actor as `delegated_by`. Raises `ValidationError` and changes nothing otherwise.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = _task_lock(task)
        _open_or_refuse(row)
        membership = _member_or_refuse(actor, row)
        is_assignee = row.assignee_id is not None and row.assignee_id == actor.pk
        if not is_assignee and DISPATCH_PERMISSION not in _permissions(membership):
            raise ValidationError(_("Only the assignee or a dispatcher can delegate this task."))
        _target_or_refuse(row, to)
        text = _("delegated by %(user)s") % {"user": _name(actor)}
        on_behalf_of = row.assignee_id
        return _assign_to(
            row,
            to=to,
            on_behalf_of=on_behalf_of if on_behalf_of != to.pk else None,
            delegated_by=actor,
            reason=f"{text}: {reason}" if reason else text,
            kind=TaskEvent.Kind.DELEGATED,
            actor=actor,
            now=now,
        )


@audited
def task_reassign(
    *,
    task: Task,
    actor: User,
    to: User | None,
    reason: str = "",
    now: dt.datetime | None = None,
) -> Task:
    """A dispatcher (workflow.dispatch in the task's company) gives an open task to someone else.

    `to` must be an active member of the company holding the task's role; None puts the task
    back in the role's queue. Unlike a delegation, nobody keeps a claim on the task. Raises
    `ValidationError` and changes nothing otherwise.
    """
    now = now or timezone.now()
    with transaction.atomic():
        row = _task_lock(task)
        _open_or_refuse(row)
        membership = _member_or_refuse(actor, row)
        if DISPATCH_PERMISSION not in _permissions(membership):
            raise ValidationError(_("You may not reassign tasks in this company."))
        if to is None:
            if row.assignee_id is None:
                raise ValidationError(_("The task is already in the shared queue."))
        else:
            _target_or_refuse(row, to)
        text = _("reassigned by %(user)s") % {"user": _name(actor)}
        return _assign_to(
            row,
            to=to,
            on_behalf_of=None,
            delegated_by=None,
            reason=f"{text}: {reason}" if reason else text,
            kind=TaskEvent.Kind.REASSIGNED,
            actor=actor,
            now=now,
        )


# --- SLA: reminders and escalation -------------------------------------------------------------
def _sla_lock(pk: int) -> Task | None:
    """Lock one task for the sweep; None when another worker holds it (PostgreSQL)."""
    skip = connection.features.has_select_for_update_skip_locked
    return Task.unscoped.select_for_update(skip_locked=skip).filter(pk=pk).first()


def _remind(pk: int, now: dt.datetime) -> bool:
    with transaction.atomic():
        row = _sla_lock(pk)
        if (
            row is None
            or row.status != Task.Status.OPEN
            or row.reminded_at is not None
            or row.remind_at is None
            or row.remind_at > now
        ):
            return False
        row.reminded_at = now
        row.save(update_fields=["reminded_at"])
        due = timezone.localtime(row.due_at).strftime("%Y-%m-%d %H:%M") if row.due_at else ""
        _event(
            row,
            TaskEvent.Kind.REMINDED,
            actor=None,
            now=now,
            to=row.assignee_id,
            reason=_("Reminder: this task is due at %(due)s.") % {"due": due},
        )
        return True


def _escalate(pk: int, now: dt.datetime) -> bool:
    """Give an overdue task to its assignee's manager, else back to its role's queue, flagged."""
    with transaction.atomic():
        row = _sla_lock(pk)
        if (
            row is None
            or row.status != Task.Status.OPEN
            or row.escalated_at is not None
            or row.due_at is None
            or row.due_at > now
        ):
            return False
        manager_id = None
        if row.assignee_id is not None:
            manager_id = (
                Membership.unscoped.filter(company_id=row.company_id, user_id=row.assignee_id)
                .values_list("manager_id", flat=True)
                .first()
            )
        manager = None
        if manager_id is not None and manager_id != row.assignee_id:
            membership = (
                Membership.unscoped.filter(
                    company_id=row.company_id,
                    user_id=manager_id,
                    is_active=True,
                    user__is_active=True,
                )
                .select_related("user")
                .first()
            )
            manager = membership.user if membership else None
        if manager is not None:
            reason = _("escalated: overdue")
            on_behalf_of = row.assignee_id
        else:
            reason = _("escalated: overdue, back to the shared queue")
            on_behalf_of = None
        _assign_to(
            row,
            to=manager,
            on_behalf_of=on_behalf_of,
            delegated_by=None,
            reason=reason,
            kind=TaskEvent.Kind.ESCALATED,
            actor=None,
            now=now,
            escalated=True,
        )
        return True


def sla_run(*, now: dt.datetime | None = None, limit: int = 500) -> dict[str, int]:
    """Remind and escalate open tasks by their due time; returns how many of each.

    The worker calls this on every poll (`register_periodic`). A task is reminded once, when
    80 % of the time from its creation to its due time has passed (a `TaskEvent` the inbox shows
    to the assignee); it is escalated once, when overdue: to the assignee's manager in that
    company (who then has it on behalf of the assignee), else back to the role's queue with
    `escalated_at` as the flag. A task already overdue when first seen is escalated, not
    reminded. Each task is locked and handled in its own transaction; rows another worker
    holds are skipped on PostgreSQL and picked up by the next sweep.
    """
    now = now or timezone.now()
    open_tasks = Task.unscoped.filter(status=Task.Status.OPEN)
    overdue = list(
        open_tasks.filter(escalated_at__isnull=True, due_at__isnull=False, due_at__lte=now)
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    remind = list(
        open_tasks.filter(reminded_at__isnull=True, remind_at__isnull=False, remind_at__lte=now)
        .exclude(due_at__lte=now)
        .order_by("remind_at")
        .values_list("pk", flat=True)[:limit]
    )
    escalated = sum(_escalate(pk, now) for pk in overdue)
    reminded = sum(_remind(pk, now) for pk in remind)
    return {"reminded": reminded, "escalated": escalated}


def message_signal(
    *,
    company: Company,
    record: models.Model,
    name: str,
    payload: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Deliver message `name` (with `payload`) to the record's running instances waiting for it.

    Returns how many instances caught it. Each instance is locked and advanced in its own
    transaction.
    """
    now = now or timezone.now()
    content_type = ContentType.objects.get_for_model(record)
    ids = list(
        ProcessInstance.unscoped.filter(
            company=company,
            content_type=content_type,
            object_id=record.pk,
            status=ProcessInstance.Status.RUNNING,
        ).values_list("pk", flat=True)
    )
    delivered = 0
    for pk in ids:
        try:
            with transaction.atomic():
                instance = instance_lock(pk=pk)
                if instance.status != ProcessInstance.Status.RUNNING:
                    continue
                workflow = engine.workflow_load(instance.state, call=_call(instance))
                if name not in engine.waiting_messages(workflow):
                    continue
                with engine.clock(now), company_scope(instance.company):
                    workflow.catch(BpmnEvent(engine.message_event(name), payload or {}))
                _advance(instance, workflow, now=now)
                delivered += 1
        except ENGINE_ERRORS as exc:
            raise _engine_error(exc) from exc
    return delivered


def timers_run(*, now: dt.datetime | None = None, limit: int = 500) -> int:
    """Fire the timers that are due at `now` and run those instances on; returns how many ran.

    The worker calls this on every poll. Each instance is locked (others' locked rows are
    skipped on PostgreSQL) and advanced in its own transaction; an instance the engine cannot
    advance is marked failed with the error, without stopping the others.
    """
    now = now or timezone.now()
    due = list(
        ProcessInstance.unscoped.filter(
            status=ProcessInstance.Status.RUNNING, next_timer_at__lte=now
        )
        .order_by("next_timer_at")
        .values_list("pk", flat=True)[:limit]
    )
    count = 0
    for pk in due:
        try:
            with transaction.atomic():
                instance = instance_lock(pk=pk)
                if (
                    instance.status != ProcessInstance.Status.RUNNING
                    or instance.next_timer_at is None
                    or instance.next_timer_at > now
                ):
                    continue
                workflow = engine.workflow_load(instance.state, call=_call(instance))
                # SpiffWorkflow fires a timer only once the clock is past its due time; one
                # microsecond on, a timer due exactly `now` fires in this sweep, not the next.
                at = now + dt.timedelta(microseconds=1)
                with engine.clock(at), company_scope(instance.company):
                    workflow.refresh_timers()
                _advance(instance, workflow, now=now)
                count += 1
        except ENGINE_ERRORS as exc:
            logger.warning("workflow instance %s failed: %s", pk, exc)
            _instance_fail(pk=pk, error=str(exc), now=now)
    return count


def _instance_fail(*, pk: int, error: str, now: dt.datetime) -> None:
    with transaction.atomic():
        instance = instance_lock(pk=pk)
        instance.status = ProcessInstance.Status.FAILED
        instance.error = error
        instance.ended_at = now
        instance.next_timer_at = None
        instance.save(update_fields=["status", "error", "ended_at", "next_timer_at"])
        instance.tasks.filter(status=Task.Status.OPEN).update(status=Task.Status.CANCELLED)
        _publish_ended(instance, data={})
