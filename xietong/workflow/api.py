"""REST endpoints of the workflow engine (mounted at `/api/v1` by `xietong.api`), following the
conventions of `xietong.core.api`: a permission under every route, scoped querysets (another
company's task or instance is not found), `@paginate`d lists, `@idempotent` creating POSTs
answering 201, writes through the services (their ValidationErrors become 422 problems with
field errors, and nothing is changed), decimals as strings.

- `/workflow/tasks`: the caller's inbox (`box=mine|queue|overdue`) and the task actions (claim,
  release, complete, delegate; reassign for dispatchers). A task is visible to its assignee,
  to whoever completed it, to the holders of its role while it waits unassigned in the role's
  queue, and to dispatchers (`workflow.dispatch`); any other task is not found (404).
- `/workflow/instances`: running and finished processes (`workflow.view`), starting one about a
  record of the company and delivering messages to the record's instances (`workflow.manage`:
  applications normally do both through the services).
- `/workflow/definitions`: the deployed process versions (`workflow.view`).

Records are named by `record_type` (`app_label.model`, e.g. `party.party`) and `record_id`; only
records of the caller's company can be named.
"""

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import ConfigDict

from xietong.core.api import DecimalString
from xietong.core.idempotency import idempotent
from xietong.core.models import Membership, User
from xietong.core.permissions import has_perm, requires
from xietong.core.tenancy import CompanyOwned
from xietong.workflow import selectors, services
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task

router = Router(tags=["workflow"])

# Large columns a task or instance row drags along through select_related: the serialised
# engine state and the BPMN/DMN sources. No endpoint but an instance's `data` needs them.
_HEAVY_INSTANCE = (
    "instance__state",
    "instance__definition__bpmn_xml",
    "instance__definition__dmn_xml",
)
_HEAVY_DEFINITION = ("definition__bpmn_xml", "definition__dmn_xml")


# --- schemas ----------------------------------------------------------------------------------


def _record_type(content_type_id: int | None) -> str | None:
    if content_type_id is None:
        return None
    content_type = ContentType.objects.get_for_id(content_type_id)
    return f"{content_type.app_label}.{content_type.model}"


class FormFieldOut(Schema):
    name: str
    type: str


class TaskOut(Schema):
    id: int
    name: str
    bpmn_id: str
    lane: str
    role: str
    assignee: int | None = Field(None, alias="assignee_id")
    on_behalf_of: int | None = Field(None, alias="on_behalf_of_id")
    delegated_by: int | None = Field(None, alias="delegated_by_id")
    dispatch_reason: str
    status: str
    overdue: bool
    form: list[FormFieldOut]
    outcomes: list[str]
    effort: DecimalString
    due_at: dt.datetime | None
    created_at: dt.datetime
    completed_at: dt.datetime | None
    completed_by: int | None = Field(None, alias="completed_by_id")
    outcome: str
    comment: str
    instance: int = Field(..., alias="instance_id")
    process: str
    process_name: str
    record_type: str | None
    record_id: int | None

    @staticmethod
    def resolve_outcomes(obj: Task) -> list[str]:
        return list(obj.outcomes or services.DEFAULT_OUTCOMES)

    @staticmethod
    def resolve_overdue(obj: Task) -> bool:
        return bool(
            obj.status == Task.Status.OPEN
            and obj.due_at is not None
            and obj.due_at < timezone.now()
        )

    @staticmethod
    def resolve_process(obj: Task) -> str:
        return obj.instance.definition.key

    @staticmethod
    def resolve_process_name(obj: Task) -> str:
        return obj.instance.definition.name

    @staticmethod
    def resolve_record_type(obj: Task) -> str | None:
        return _record_type(obj.instance.content_type_id)

    @staticmethod
    def resolve_record_id(obj: Task) -> int | None:
        return obj.instance.object_id


class InstanceOut(Schema):
    id: int
    process: str
    process_name: str
    version: int
    status: str
    record_type: str | None
    record_id: int | None = Field(None, alias="object_id")
    started_by: int | None = Field(None, alias="started_by_id")
    started_at: dt.datetime
    ended_at: dt.datetime | None
    error: str

    @staticmethod
    def resolve_process(obj: ProcessInstance) -> str:
        return obj.definition.key

    @staticmethod
    def resolve_process_name(obj: ProcessInstance) -> str:
        return obj.definition.name

    @staticmethod
    def resolve_version(obj: ProcessInstance) -> int:
        return obj.definition.version

    @staticmethod
    def resolve_record_type(obj: ProcessInstance) -> str | None:
        return _record_type(obj.content_type_id)


class InstanceDetailOut(InstanceOut):
    data: dict[str, Any]
    tasks: list[TaskOut]

    @staticmethod
    def resolve_data(obj: ProcessInstance) -> dict[str, Any]:
        return {k: v for k, v in obj.data.items() if k != "data_objects"}

    @staticmethod
    def resolve_tasks(obj: ProcessInstance) -> list[Task]:
        return list(obj.tasks.order_by("created_at", "pk"))


class DefinitionOut(Schema):
    id: int
    key: str
    version: int
    name: str
    process_id: str
    active: bool
    created_at: dt.datetime
    created_by: int | None = Field(None, alias="created_by_id")


class TaskFilters(Schema):
    box: Literal["mine", "queue", "overdue"] = Field(
        "mine",
        description="mine: assigned to you; queue: unassigned, for a role you hold; "
        "overdue: open tasks of yours and your queues past their due time",
    )
    status: Literal["open", "done", "cancelled"] | None = Field(
        None, description="open by default; done and cancelled only with box=mine (history)"
    )


class InstanceFilters(Schema):
    status: Literal["running", "completed", "cancelled", "failed"] | None = None
    process: str | None = Field(None, description="process key, e.g. quotation_approval")
    record_type: str | None = Field(None, description="app_label.model, e.g. party.party")
    record_id: int | None = None


class DefinitionFilters(Schema):
    key: str | None = None
    active: bool | None = None


class CompleteIn(Schema):
    model_config = ConfigDict(extra="forbid")

    outcome: str = Field(..., description="one of the task's `outcomes`")
    comment: str = ""
    data: dict[str, Any] | None = Field(None, description="values of the task's `form` fields")


class DelegateIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: int = Field(..., description="id of the user who gets the task (holding its role)")
    reason: str = ""


class ReassignIn(Schema):
    model_config = ConfigDict(extra="forbid")

    to: int | None = Field(
        ..., description="id of the user who gets the task (holding its role); null: its queue"
    )
    reason: str = ""


class InstanceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    process: str = Field(..., description="key of an active process definition")
    record_type: str | None = Field(None, description="app_label.model, e.g. party.party")
    record_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict, description="the process' input data")


class MessageIn(Schema):
    model_config = ConfigDict(extra="forbid")

    name: str
    record_type: str
    record_id: int
    payload: dict[str, Any] = Field(default_factory=dict)


class MessageOut(Schema):
    delivered: int = Field(..., description="how many running instances caught the message")


# --- helpers ----------------------------------------------------------------------------------


@contextmanager
def _service_refusals() -> Iterator[None]:
    """A service's PermissionDenied carries a sentence, not a permission code: answer it as a
    403 problem with that sentence."""
    try:
        yield
    except PermissionDenied as exc:
        raise HttpError(403, str(exc.args[0]) if exc.args else "") from exc


def _tasks() -> QuerySet[Task]:
    return Task.objects.select_related("instance__definition").defer(*_HEAVY_INSTANCE)


def _visible_tasks(request: HttpRequest) -> QuerySet[Task]:
    """The company's tasks the caller may see (see the module docstring)."""
    visible = selectors.tasks_visible_to(
        request.user,  # type: ignore[arg-type]
        request.company,  # type: ignore[attr-defined]
        dispatcher=has_perm(request, "workflow.dispatch"),
    )
    return visible.select_related("instance__definition").defer(*_HEAVY_INSTANCE)


def _task(request: HttpRequest, task_id: int) -> Task:
    return get_object_or_404(_visible_tasks(request), pk=task_id)


def _task_read(task_id: int) -> Task:
    return _tasks().get(pk=task_id)


def _member(user_id: int, field: str = "to") -> User:
    """An active user of the caller's company, or a field error."""
    membership = (
        Membership.objects.filter(user_id=user_id, is_active=True, user__is_active=True)
        .select_related("user")
        .first()
    )
    if membership is None:
        raise ValidationError({field: [_("No such user in this company.")]})
    return membership.user


def _content_type(value: str, field: str = "record_type") -> ContentType:
    app_label, _dot, model = value.strip().lower().partition(".")
    try:
        content_type = ContentType.objects.get_by_natural_key(app_label, model)
    except ContentType.DoesNotExist:
        content_type = None
    model_class = content_type.model_class() if content_type else None
    if model_class is None or not issubclass(model_class, CompanyOwned):
        raise ValidationError(
            {
                field: [
                    _("Not a kind of record of the company (app_label.model): %(value)s")
                    % {"value": value}
                ]
            }
        )
    return content_type  # type: ignore[return-value]


def _record(record_type: str | None, record_id: int | None) -> models.Model | None:
    """The company's record named by type and id; None when neither is given."""
    if record_type is None and record_id is None:
        return None
    if record_type is None or record_id is None:
        missing = "record_type" if record_type is None else "record_id"
        raise ValidationError({missing: [_("Give both record_type and record_id, or neither.")]})
    model_class = _content_type(record_type).model_class()
    record = model_class.objects.filter(pk=record_id).first()  # type: ignore[union-attr]
    if record is None:
        raise ValidationError({"record_id": [_("No such record.")]})
    return record


def _instances() -> QuerySet[ProcessInstance]:
    return ProcessInstance.objects.select_related("definition").defer(*_HEAVY_DEFINITION)


# --- tasks ------------------------------------------------------------------------------------


@router.get("/workflow/tasks", response=list[TaskOut], tags=["workflow tasks"])
@requires("workflow.task")
@paginate
def task_list(request: HttpRequest, filters: Query[TaskFilters]) -> Any:
    """Your inbox. `box=mine` (default): open tasks assigned to you; `box=queue`: open,
    unassigned tasks of the roles you hold (claim one to work on it); `box=overdue`: open tasks
    of yours and of your queues past their due time. With `box=mine`, `status=done` or
    `status=cancelled` lists the tasks you were assigned or completed instead, newest first."""
    user, company = request.user, request.company  # type: ignore[attr-defined]
    status = filters.status or Task.Status.OPEN
    if status != Task.Status.OPEN:
        if filters.box != "mine":
            raise ValidationError(
                {"status": [_("The queue and overdue boxes hold open tasks only.")]}
            )
        return (
            _tasks()
            .filter(Q(assignee=user) | Q(completed_by=user), status=status)
            .order_by("-completed_at", "-pk")
        )
    if filters.box == "queue":
        tasks = selectors.inbox_queue(user, company)
    elif filters.box == "overdue":
        tasks = selectors.inbox_overdue(user, company)
    else:
        tasks = selectors.inbox_mine(user, company)
    return tasks.select_related("instance__definition").defer(*_HEAVY_INSTANCE)


@router.get("/workflow/tasks/{task_id}", response=TaskOut, tags=["workflow tasks"])
@requires("workflow.task")
def task_get(request: HttpRequest, task_id: int) -> Task:
    """One task you may see: yours, one you completed, one waiting in a queue of your roles, or
    any task of the company if you dispatch (`workflow.dispatch`)."""
    return _task(request, task_id)


@router.post("/workflow/tasks/{task_id}/claim", response=TaskOut, tags=["workflow tasks"])
@requires("workflow.task")
def task_claim(request: HttpRequest, task_id: int) -> Task:
    """Take a task from your role's queue: it becomes yours."""
    task = _task(request, task_id)
    with _service_refusals():
        services.task_claim(task=task, actor=request.user)  # type: ignore[arg-type]
    return _task_read(task_id)


@router.post("/workflow/tasks/{task_id}/release", response=TaskOut, tags=["workflow tasks"])
@requires("workflow.task")
def task_release(request: HttpRequest, task_id: int) -> Task:
    """Put a task you claimed back into its role's queue."""
    task = _task(request, task_id)
    with _service_refusals():
        services.task_release(task=task, actor=request.user)  # type: ignore[arg-type]
    return _task_read(task_id)


@router.post("/workflow/tasks/{task_id}/complete", response=TaskOut, tags=["workflow tasks"])
@requires("workflow.task")
def task_complete(request: HttpRequest, task_id: int, payload: CompleteIn) -> Task:
    """Complete a task with one of its `outcomes` (and values for its `form` fields); the
    process then runs on to its next tasks."""
    task = _task(request, task_id)
    allowed = list(task.outcomes or services.DEFAULT_OUTCOMES)
    if payload.outcome not in allowed:
        raise ValidationError(
            {
                "outcome": [
                    _("Unknown outcome %(outcome)s; this task allows: %(allowed)s.")
                    % {"outcome": payload.outcome, "allowed": ", ".join(allowed)}
                ]
            }
        )
    with _service_refusals():
        services.task_complete(
            task=task,
            actor=request.user,  # type: ignore[arg-type]
            outcome=payload.outcome,
            comment=payload.comment,
            data=payload.data,
        )
    return _task_read(task_id)


@router.post("/workflow/tasks/{task_id}/delegate", response=TaskOut, tags=["workflow tasks"])
@requires("workflow.task")
def task_delegate(request: HttpRequest, task_id: int, payload: DelegateIn) -> Task:
    """Hand one of your tasks to a colleague (`to`) who holds its role, with a reason; you stay
    able to complete it (`on_behalf_of`). Dispatchers may delegate any open task."""
    task = _task(request, task_id)
    to = _member(payload.to)
    with _service_refusals():
        services.task_delegate(  # type: ignore[arg-type]
            task=task, actor=request.user, to=to, reason=payload.reason
        )
    return _task_read(task_id)


@router.post("/workflow/tasks/{task_id}/reassign", response=TaskOut, tags=["workflow tasks"])
@requires("workflow.dispatch")
def task_reassign(request: HttpRequest, task_id: int, payload: ReassignIn) -> Task:
    """Give any open task of the company to another user (`to`), or back to its role's queue
    (`to` null), with a reason. Unlike a delegation, nobody keeps a claim on the task."""
    task = _task(request, task_id)
    to = _member(payload.to) if payload.to is not None else None
    with _service_refusals():
        services.task_reassign(  # type: ignore[arg-type]
            task=task, actor=request.user, to=to, reason=payload.reason
        )
    return _task_read(task_id)


# --- instances --------------------------------------------------------------------------------


@router.get("/workflow/instances", response=list[InstanceOut], tags=["workflow instances"])
@requires("workflow.view")
@paginate
def instance_list(request: HttpRequest, filters: Query[InstanceFilters]) -> Any:
    """The company's process instances, newest first; filter by `status`, `process` (key) and
    the record (`record_type` and `record_id`)."""
    instances = _instances().order_by("-started_at", "-pk")
    if filters.status:
        instances = instances.filter(status=filters.status)
    if filters.process:
        instances = instances.filter(definition__key=filters.process)
    if filters.record_type:
        instances = instances.filter(content_type=_content_type(filters.record_type))
    if filters.record_id is not None:
        instances = instances.filter(object_id=filters.record_id)
    return instances


@router.get(
    "/workflow/instances/{instance_id}", response=InstanceDetailOut, tags=["workflow instances"]
)
@requires("workflow.view")
def instance_get(request: HttpRequest, instance_id: int) -> ProcessInstance:
    """One instance with its data and all its tasks (open and past)."""
    return get_object_or_404(ProcessInstance.objects.select_related("definition"), pk=instance_id)


@router.post("/workflow/instances", response={201: InstanceDetailOut}, tags=["workflow instances"])
@requires("workflow.manage")
@idempotent
def instance_start(request: HttpRequest, payload: InstanceIn) -> Status:
    """Start the active version of process `process`, about a record of the company (optional),
    with `data` as its input. The engine runs until the process waits; the answer lists the
    tasks it opened. Applications usually start their processes themselves (e.g. on submitting
    a quotation); this is for integrations and administrators."""
    company = request.company  # type: ignore[attr-defined]
    record = _record(payload.record_type, payload.record_id)
    if selectors.definition_active(company=company, key=payload.process) is None:
        raise ValidationError({"process": [_("No active process definition with this key.")]})
    instance = services.process_start(
        company=company,
        actor=request.user,  # type: ignore[arg-type]
        key=payload.process,
        record=record,
        data=payload.data,
    )
    return Status(201, ProcessInstance.objects.select_related("definition").get(pk=instance.pk))


@router.post("/workflow/messages", response=MessageOut, tags=["workflow instances"])
@requires("workflow.manage")
def message_send(request: HttpRequest, payload: MessageIn) -> dict[str, int]:
    """Deliver message `name` (with `payload`) to the record's running instances that wait for
    it; answers how many caught it (0 is not an error)."""
    record = _record(payload.record_type, payload.record_id)
    delivered = services.message_signal(
        company=request.company,  # type: ignore[attr-defined]
        record=record,  # type: ignore[arg-type]
        name=payload.name,
        payload=payload.payload,
    )
    return {"delivered": delivered}


# --- definitions ------------------------------------------------------------------------------


@router.get("/workflow/definitions", response=list[DefinitionOut], tags=["workflow definitions"])
@requires("workflow.view")
@paginate
def definition_list(request: HttpRequest, filters: Query[DefinitionFilters]) -> Any:
    """The deployed process definitions, by key, newest version first; filter by `key` and
    `active` (the version new instances start on)."""
    definitions = ProcessDefinition.objects.defer("bpmn_xml", "dmn_xml").order_by("key", "-version")
    if filters.key:
        definitions = definitions.filter(key=filters.key)
    if filters.active is not None:
        definitions = definitions.filter(active=filters.active)
    return definitions
