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

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
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
from xietong.core.selectors import permissions_for
from xietong.core.tenancy import company_scope
from xietong.workflow import engine
from xietong.workflow.assignment import assign
from xietong.workflow.events import InstanceEnded
from xietong.workflow.lock_objects import instance_lock
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task
from xietong.workflow.registry import ServiceCall

logger = logging.getLogger(__name__)

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
DEFAULT_OUTCOMES = ["approved", "rejected"]
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
    due_at = None
    if properties.get("due"):
        parsed = TimerEventDefinition.parse_iso_duration(properties["due"])
        due_at = now + TimerEventDefinition.get_timedelta_from_start(parsed, now)
    row = Task(
        company_id=instance.company_id,
        instance=instance,
        spiff_id=spiff_task.id,
        bpmn_id=spec.bpmn_id or spec.name,
        name=(spec.bpmn_name or spec.bpmn_id or spec.name)[:255],
        lane=lane,
        role=role[:40],
        form=form,
        outcomes=outcomes or DEFAULT_OUTCOMES,
        effort=Decimal(properties.get("effort", "1")),
        due_at=due_at,
    )
    return assign(row, properties=properties)


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
            _task_row(instance, spiff_task, now).save()
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
            )
            workflow = engine.workflow_new(parsed, call=_call(instance))
            for task in workflow.get_tasks(state=TaskState.READY):
                task.set_data(**(data or {}))
            _advance(instance, workflow, now=now)
    except ENGINE_ERRORS as exc:
        raise _engine_error(exc) from exc
    return instance


def _may_work_on(task: Task, actor: User) -> bool:
    membership = (
        Membership.unscoped.filter(user=actor, company_id=task.company_id, is_active=True)
        .prefetch_related("roles")
        .first()
    )
    if membership is None:
        return False
    if task.assignee_id:
        return task.assignee_id == actor.pk
    if task.role:
        return any(role.code == task.role for role in membership.roles.all())
    return "workflow.task" in permissions_for(user=actor, company=membership.company)


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
            if not _may_work_on(row, actor):
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
                with engine.clock(now), company_scope(instance.company):
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


SHIPPED: dict[str, tuple[str, str, list[str], str]] = {
    # key: (BPMN file, process id, DMN files, name) under xietong/workflow/processes/
    "quotation_approval": (
        "quotation_approval.bpmn",
        "quotation_approval",
        ["quotation_discount.dmn"],
        "Quotation discount approval",
    ),
}


@audited
def definition_deploy_shipped(
    *, company: Company, actor: User | None, key: str
) -> ProcessDefinition:
    """Deploy (as a new version) one of the process models shipped with the app."""
    from importlib.resources import files

    bpmn_file, process_id, dmn_files, name = SHIPPED[key]
    folder = files("xietong.workflow.processes")
    return definition_deploy(
        company=company,
        actor=actor,
        key=key,
        name=name,
        bpmn_xml=(folder / bpmn_file).read_text(encoding="utf-8"),
        dmn_xmls=[(folder / f).read_text(encoding="utf-8") for f in dmn_files],
        process_id=process_id,
    )
