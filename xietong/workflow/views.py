"""Screens of the workflow: the task inbox and task page, process definitions (diagram, upload,
modeler), instances (diagram with progress) and the workload monitor. Each view parses input,
calls one service or selector and renders; its permission is declared on it."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.models import User
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors
from xietong.workflow import diagram, inbox, monitor, services
from xietong.workflow.forms import (
    DefinitionUploadForm,
    ModelerForm,
    TaskCompleteForm,
    TaskHandOverForm,
    outcome_label,
)
from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task

DISPATCH = inbox.DISPATCH


def _record_link(instance: ProcessInstance) -> dict[str, Any] | None:
    """The business record of an instance: its text and a link when the model has one."""
    if not instance.content_type_id:
        return None
    record = instance.record
    if record is None:
        return {"text": _("(deleted record)"), "url": None}
    url = record.get_absolute_url() if hasattr(record, "get_absolute_url") else None
    return {"text": str(record), "url": url}


# --- inbox --------------------------------------------------------------------------------------
TABS = [
    ("mine", gettext_lazy("My tasks")),
    ("queue", gettext_lazy("My group's queue")),
    ("overdue", gettext_lazy("Overdue")),
]


def _rows(request: HttpRequest, tasks: QuerySet[Task]) -> list[dict[str, Any]]:
    now = timezone.now()
    roles = set(inbox.role_codes(request.user, request.company))
    rows = []
    for task in tasks.prefetch_related("instance__record")[:200]:
        record = _record_link(task.instance)
        rows.append(
            {
                "task": task,
                "record": record,
                "instance_url": reverse("workflow:instance_detail", args=[task.instance_id]),
                "overdue": bool(task.due_at and task.due_at < now),
                "claim": task.assignee_id is None and task.role in roles,
                "release": task.assignee_id == request.user.pk,
            }
        )
    return rows


@requires("workflow.task")
def inbox_view(request: HttpRequest) -> HttpResponse:
    tab = request.GET.get("tab", "mine")
    if tab not in dict(TABS):
        tab = "mine"
    user, company = request.user, request.company
    querysets = {
        "mine": inbox.mine(user, company),
        "queue": inbox.queue(user, company),
        "overdue": inbox.overdue(user, company),
    }
    tabs = [
        {"code": code, "label": label, "count": querysets[code].count(), "active": code == tab}
        for code, label in TABS
    ]
    return render(
        request,
        "workflow/inbox.html",
        {
            "tabs": tabs,
            "tab": tab,
            "rows": _rows(request, querysets[tab]),
            "can_view": has_perm(request, "workflow.view"),
        },
    )


# --- one task -----------------------------------------------------------------------------------
def _task_or_404(request: HttpRequest, pk: int) -> Task:
    return get_object_or_404(
        inbox.visible_tasks(request).select_related(
            "instance__definition", "assignee", "completed_by"
        ),
        pk=pk,
    )


def _role_members(task: Task) -> QuerySet[User]:
    users = User.objects.filter(
        memberships__company_id=task.company_id, memberships__is_active=True
    )
    if task.role:
        users = users.filter(memberships__roles__code=task.role)
    return users.distinct().order_by("username")


def _task_page(
    request: HttpRequest,
    task: Task,
    *,
    form: TaskCompleteForm | None = None,
    delegate_form: TaskHandOverForm | None = None,
    reassign_form: TaskHandOverForm | None = None,
    status: int = 200,
) -> HttpResponse:
    instance = task.instance
    user = request.user
    is_open = task.status == Task.Status.OPEN and instance.status == ProcessInstance.Status.RUNNING
    may_work = is_open and inbox.may_work_on(task, request)
    dispatcher = has_perm(request, DISPATCH)
    may_delegate = is_open and (task.assignee_id == user.pk or dispatcher)
    may_reassign = is_open and dispatcher
    members = _role_members(task)
    context = {
        "task": task,
        "instance": instance,
        "record": _record_link(instance),
        "process_data": diagram.process_data(diagram.load(instance), task.spiff_id),
        "form": form or TaskCompleteForm(task=task),
        "outcomes": [(o, outcome_label(o)) for o in task.outcomes],
        "may_work": may_work,
        "may_claim": is_open
        and task.assignee_id is None
        and task.role in inbox.role_codes(user, request.company),
        "may_release": is_open and task.assignee_id == user.pk,
        "delegate_form": (
            delegate_form
            or TaskHandOverForm(
                users=members.exclude(pk__in=[user.pk, task.assignee_id or 0]), prefix="delegate"
            )
        )
        if may_delegate
        else None,
        "reassign_form": (
            reassign_form or TaskHandOverForm(users=members, prefix="reassign", queue_choice=True)
        )
        if may_reassign
        else None,
        "history": instance.tasks.select_related("assignee", "completed_by").order_by(
            "created_at", "pk"
        ),
        "can_view": has_perm(request, "workflow.view"),
        "events": task.events.select_related("actor", "from_user", "to_user"),
        "overdue": bool(is_open and task.due_at and task.due_at < timezone.now()),
    }
    return render(request, "workflow/task_detail.html", context, status=status)


@requires("workflow.task")
def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    task = _task_or_404(request, pk)
    if request.method != "POST":
        return _task_page(request, task)
    form = TaskCompleteForm(request.POST, task=task)
    if form.is_valid():
        try:
            services.task_complete(
                task=task,
                actor=request.user,
                outcome=form.cleaned_data["outcome"],
                comment=form.cleaned_data["comment"],
                data=form.field_data(),
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request,
                _("“%(task)s” completed: %(outcome)s.")
                % {"task": task.name, "outcome": outcome_label(form.cleaned_data["outcome"])},
            )
            return redirect("workflow:inbox")
    return _task_page(request, task, form=form, status=400)


def _hand_over(request: HttpRequest, pk: int, *, kind: str) -> HttpResponse:
    task = _task_or_404(request, pk)
    form = TaskHandOverForm(
        request.POST, users=_role_members(task), prefix=kind, queue_choice=kind == "reassign"
    )
    service = services.task_delegate if kind == "delegate" else services.task_reassign
    if form.is_valid():
        try:
            service(
                task=task,
                actor=request.user,
                to=form.cleaned_data["to"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            to = form.cleaned_data["to"]
            messages.success(
                request,
                _("“%(task)s” handed over to %(user)s.")
                % {"task": task.name, "user": to or _("the shared queue")},
            )
            return redirect("workflow:inbox")
    return _task_page(request, task, status=400, **{f"{kind}_form": form})


@require_POST
@requires("workflow.task")
def task_delegate(request: HttpRequest, pk: int) -> HttpResponse:
    return _hand_over(request, pk, kind="delegate")


@require_POST
@requires(DISPATCH)
def task_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    return _hand_over(request, pk, kind="reassign")


def _claim_or_release(request: HttpRequest, pk: int, *, kind: str) -> HttpResponse:
    task = _task_or_404(request, pk)
    service = services.task_claim if kind == "claim" else services.task_release
    try:
        service(task=task, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            (
                _("You took “%(task)s”.")
                if kind == "claim"
                else _("“%(task)s” is back in the queue.")
            )
            % {"task": task.name},
        )
    return redirect(request.POST.get("next") or reverse("workflow:task_detail", args=[task.pk]))


@require_POST
@requires("workflow.task")
def task_claim(request: HttpRequest, pk: int) -> HttpResponse:
    return _claim_or_release(request, pk, kind="claim")


@require_POST
@requires("workflow.task")
def task_release(request: HttpRequest, pk: int) -> HttpResponse:
    return _claim_or_release(request, pk, kind="release")


# --- definitions --------------------------------------------------------------------------------
DEFINITION_LIST = ListScreen(
    key="workflow-definitions",
    title=gettext_lazy("Process definitions"),
    columns=[
        Column("key", gettext_lazy("Key"), order_by="key", link=True),
        Column("version", gettext_lazy("Version"), order_by="version"),
        Column("name", gettext_lazy("Name"), order_by="name"),
        Column("process_id", gettext_lazy("BPMN process id"), default=False),
        Column("active", gettext_lazy("Active"), order_by="active"),
        Column("created_at", gettext_lazy("Deployed"), order_by="created_at"),
        Column("created_by", gettext_lazy("Deployed by"), default=False),
    ],
    search_fields=["key", "name", "process_id"],
    filters=[
        Filter(
            "active",
            gettext_lazy("Active"),
            "active",
            choices=lambda r: [("1", _("Yes")), ("0", _("No"))],
        )
    ],
    default_sort="key",
    detail_url=lambda d: reverse("workflow:definition_detail", args=[d.pk]),
)


@requires("workflow.view")
def definition_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "workflow.manage"):
        actions.append((_("Deploy a definition"), reverse("workflow:definition_upload")))
    return list_response(
        request,
        DEFINITION_LIST,
        ProcessDefinition.objects.select_related("created_by"),
        extra={"actions": actions},
    )


@requires("workflow.view")
def definition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    definition = get_object_or_404(ProcessDefinition.objects.select_related("created_by"), pk=pk)
    versions = ProcessDefinition.objects.filter(key=definition.key).order_by("-version")
    running = definition.instances.filter(status=ProcessInstance.Status.RUNNING).count()
    return render(
        request,
        "workflow/definition_detail.html",
        {
            "definition": definition,
            "versions": versions,
            "running": running,
            "bpmn_xml": diagram.with_layout(definition.bpmn_xml),
            "can_manage": has_perm(request, "workflow.manage"),
        },
    )


@requires("workflow.manage")
def definition_upload(request: HttpRequest) -> HttpResponse:
    initial: dict[str, Any] = {}
    source = request.GET.get("from", "")
    if source.isdigit():
        base = ProcessDefinition.objects.filter(pk=int(source)).first()
        if base is not None:
            initial = {"key": base.key, "name": base.name, "process_id": base.process_id}
    form = DefinitionUploadForm(request.POST or None, request.FILES or None, initial=initial)
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            definition = services.definition_deploy(
                company=request.company,
                actor=request.user,
                key=data["key"],
                name=data["name"],
                bpmn_xml=data["bpmn_file"],
                dmn_xmls=data["dmn_files"],
                process_id=data["process_id"],
            )
        except ValidationError as exc:
            problems = exc.messages
        else:
            messages.success(request, _("%(definition)s deployed.") % {"definition": definition})
            return redirect("workflow:definition_detail", definition.pk)
    return render(
        request,
        "workflow/definition_upload.html",
        {"form": form, "problems": problems},
        status=400 if (form.errors or problems) else 200,
    )


@requires("workflow.manage")
def definition_modeler(request: HttpRequest, pk: int) -> HttpResponse:
    definition = get_object_or_404(ProcessDefinition.objects, pk=pk)
    form = ModelerForm(
        request.POST or None,
        initial={"name": definition.name, "bpmn_xml": diagram.with_layout(definition.bpmn_xml)},
    )
    problems: list[str] = []
    if request.method == "POST" and form.is_valid():
        try:
            deployed = services.definition_deploy(
                company=request.company,
                actor=request.user,
                key=definition.key,
                name=form.cleaned_data["name"],
                bpmn_xml=form.cleaned_data["bpmn_xml"],
                dmn_xmls=definition.dmn_xml,
                process_id=definition.process_id,
            )
        except ValidationError as exc:
            problems = exc.messages
        else:
            messages.success(request, _("%(definition)s deployed.") % {"definition": deployed})
            return redirect("workflow:definition_detail", deployed.pk)
    return render(
        request,
        "workflow/definition_modeler.html",
        {"definition": definition, "form": form, "problems": problems},
        status=400 if (form.errors or problems) else 200,
    )


# --- instances ----------------------------------------------------------------------------------
def _process_choices(request: HttpRequest) -> list[tuple[str, str]]:
    keys = ProcessDefinition.objects.order_by("key").values_list("key", flat=True).distinct()
    return [(key, key) for key in keys]


INSTANCE_LIST = ListScreen(
    key="workflow-instances",
    title=gettext_lazy("Process instances"),
    columns=[
        Column("id", gettext_lazy("Number"), accessor="pk", order_by="pk", link=True),
        Column("process", gettext_lazy("Process"), accessor="definition__name"),
        Column("version", gettext_lazy("Version"), accessor="definition__version", default=False),
        Column("record", gettext_lazy("Record"), accessor=lambda i: i.record or ""),
        Column("status", gettext_lazy("Status"), accessor="get_status_display", order_by="status"),
        Column("started_at", gettext_lazy("Started"), order_by="started_at"),
        Column("started_by", gettext_lazy("Started by"), default=False),
        Column("ended_at", gettext_lazy("Ended"), order_by="ended_at"),
    ],
    filters=[
        Filter(
            "status",
            gettext_lazy("Status"),
            "status",
            choices=lambda r: list(ProcessInstance.Status.choices),
        ),
        Filter("process", gettext_lazy("Process"), "definition__key", choices=_process_choices),
    ],
    default_sort="-started_at",
    detail_url=lambda i: reverse("workflow:instance_detail", args=[i.pk]),
)


@requires("workflow.view")
def instance_list(request: HttpRequest) -> HttpResponse:
    return list_response(
        request,
        INSTANCE_LIST,
        ProcessInstance.objects.select_related("definition", "started_by").prefetch_related(
            "record"
        ),
    )


@requires("workflow.view")
def instance_detail(request: HttpRequest, pk: int) -> HttpResponse:
    instance = get_object_or_404(
        ProcessInstance.objects.select_related("definition", "started_by"), pk=pk
    )
    workflow = diagram.load(instance)
    return render(
        request,
        "workflow/instance_detail.html",
        {
            "instance": instance,
            "record": _record_link(instance),
            "process_data": diagram.process_data(workflow),
            "bpmn_xml": diagram.with_layout(instance.definition.bpmn_xml),
            "highlight": diagram.highlight(workflow),
            "tasks": instance.tasks.select_related("assignee", "completed_by").order_by(
                "created_at", "pk"
            ),
        },
    )


# --- workload -----------------------------------------------------------------------------------
@requires(DISPATCH)
def monitor_view(request: HttpRequest) -> HttpResponse:
    figures = monitor.workload(request.company)
    return render(
        request,
        "workflow/monitor.html",
        {"workload": figures, "charts": figures.charts()},
    )


urlpatterns = [
    path("inbox/", inbox_view, name="inbox"),
    path("tasks/<int:pk>/", task_detail, name="task_detail"),
    path("tasks/<int:pk>/claim/", task_claim, name="task_claim"),
    path("tasks/<int:pk>/release/", task_release, name="task_release"),
    path("tasks/<int:pk>/delegate/", task_delegate, name="task_delegate"),
    path("tasks/<int:pk>/reassign/", task_reassign, name="task_reassign"),
    path("definitions/", definition_list, name="definition_list"),
    path("definitions/new/", definition_upload, name="definition_upload"),
    path("definitions/<int:pk>/", definition_detail, name="definition_detail"),
    path("definitions/<int:pk>/modeler/", definition_modeler, name="definition_modeler"),
    path("instances/", instance_list, name="instance_list"),
    path("instances/<int:pk>/", instance_detail, name="instance_detail"),
    path("monitor/", monitor_view, name="monitor"),
]
