"""Process definitions (versioned BPMN/DMN), their running instances and the human tasks.

An instance stores the whole serialised SpiffWorkflow workflow, specs included, so a new version
of a definition changes only the instances started after it; running ones finish on theirs.
"""

from __future__ import annotations

import json
from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from xietong.core.tenancy import CompanyOwned


class ProcessDefinition(CompanyOwned):
    """One deployed version of a BPMN process (with the DMN tables it uses)."""

    key = models.SlugField(_("key"), max_length=80)
    version = models.PositiveIntegerField(_("version"))
    name = models.CharField(_("name"), max_length=200)
    bpmn_xml = models.TextField(_("BPMN XML"))
    dmn_xml = models.JSONField(_("DMN documents"), default=list, blank=True)
    process_id = models.CharField(_("BPMN process id"), max_length=200)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )

    class Meta(CompanyOwned.Meta):
        ordering = ["key", "-version"]
        verbose_name = _("process definition")
        verbose_name_plural = _("process definitions")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "key", "version"], name="workflow_definition_version"
            ),
            models.UniqueConstraint(
                fields=["company", "key"],
                condition=Q(active=True),
                name="workflow_definition_one_active",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"


class ProcessInstance(CompanyOwned):
    """A running (or finished) process, usually about one business record."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        COMPLETED = "completed", _("Completed")
        CANCELLED = "cancelled", _("Cancelled")
        FAILED = "failed", _("Failed")

    definition = models.ForeignKey(
        ProcessDefinition,
        on_delete=models.PROTECT,
        related_name="instances",
        verbose_name=_("definition"),
    )
    content_type = models.ForeignKey(
        ContentType, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    object_id = models.PositiveBigIntegerField(null=True, blank=True)
    record = GenericForeignKey("content_type", "object_id")
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.RUNNING
    )
    # Text, not JSONField: PostgreSQL's jsonb reorders keys, and SpiffWorkflow rebuilds the
    # task tree in the order the serialisation lists it.
    state = models.TextField(_("engine state (SpiffWorkflow JSON)"), blank=True)
    next_timer_at = models.DateTimeField(_("next timer"), null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    started_at = models.DateTimeField(_("started at"), default=timezone.now)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["-started_at", "-pk"]
        verbose_name = _("process instance")
        verbose_name_plural = _("process instances")
        indexes = [
            models.Index(
                fields=["company", "content_type", "object_id"], name="workflow_inst_record"
            ),
            models.Index(fields=["status", "next_timer_at"], name="workflow_inst_timer"),
        ]

    def __str__(self) -> str:
        return f"{self.definition_id}#{self.pk} ({self.status})"

    @property
    def data(self) -> dict:
        """The process data (the workflow's data; the outcome once it has ended)."""
        return json.loads(self.state)["data"] if self.state else {}


class Task(CompanyOwned):
    """A human task (BPMN user or manual task) waiting for a person of a role, or done."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    instance = models.ForeignKey(
        ProcessInstance, on_delete=models.CASCADE, related_name="tasks", verbose_name=_("instance")
    )
    spiff_id = models.UUIDField(_("engine task id"))
    bpmn_id = models.CharField(_("BPMN id"), max_length=200)
    name = models.CharField(_("name"), max_length=255)
    lane = models.CharField(_("lane"), max_length=200, blank=True)
    role = models.CharField(_("role"), max_length=40, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.OPEN
    )
    form = models.JSONField(_("form fields"), default=list, blank=True)
    outcomes = models.JSONField(_("allowed outcomes"), default=list, blank=True)
    effort = models.DecimalField(_("effort"), max_digits=8, decimal_places=2, default=Decimal(1))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    due_at = models.DateTimeField(_("due at"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("completed by"),
    )
    outcome = models.CharField(_("outcome"), max_length=40, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    # Why the current assignee has the task ("least loaded: 2 open (effort 3)", "delegated by …"),
    # so the inbox can explain it without replaying the history.
    dispatch_reason = models.TextField(_("dispatch reason"), blank=True)
    on_behalf_of = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("on behalf of"),
        help_text=_("The user whose task the assignee is covering (out of office or delegated)."),
    )
    delegated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("delegated by"),
    )
    # SLA: the reminder is due at 80 % of the time between creation and due_at. It is stored
    # rather than computed in the sweep's WHERE clause so that one partial index finds it.
    remind_at = models.DateTimeField(_("reminder due at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["created_at", "pk"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(fields=["company", "status", "assignee"], name="workflow_task_assignee"),
            models.Index(fields=["company", "status", "role"], name="workflow_task_role"),
            # The inbox: open tasks only (a small fraction of all rows), in the order shown,
            # so PostgreSQL reads the first page straight from the index.
            models.Index(
                fields=["company", "assignee", "due_at", "created_at", "id"],
                condition=Q(status="open"),
                name="workflow_task_inbox_mine",
            ),
            models.Index(
                fields=["company", "role", "due_at", "created_at", "id"],
                condition=Q(status="open", assignee__isnull=True),
                name="workflow_task_inbox_queue",
            ),
            # The SLA sweep: what is due for a reminder or an escalation.
            models.Index(
                fields=["remind_at"],
                condition=Q(status="open", reminded_at__isnull=True, remind_at__isnull=False),
                name="workflow_task_sla_remind",
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(status="open", escalated_at__isnull=True, due_at__isnull=False),
                name="workflow_task_sla_escalate",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["instance", "spiff_id"], name="workflow_task_unique")
        ]

    def __str__(self) -> str:
        return self.name


class DispatchCursor(CompanyOwned):
    """Where a round-robin rotation stands: the last user whose turn it was.

    One row per (company, role, task type); the task type is "<process key>:<BPMN task id>", so
    two task types of one role rotate independently, and a new version of a process continues
    the rotation of the old one.
    """

    role = models.CharField(_("role"), max_length=40, blank=True)
    key = models.CharField(_("task type"), max_length=300)
    last_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("last user"),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta(CompanyOwned.Meta):
        verbose_name = _("dispatch cursor")
        verbose_name_plural = _("dispatch cursors")
        constraints = [
            models.UniqueConstraint(
                fields=["company", "role", "key"], name="workflow_dispatch_cursor_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.key}"


class TaskEvent(CompanyOwned):
    """One line of a task's assignment history: who moved it to whom, why, and reminders.

    The audit trail (django-auditlog) records the field changes with the actor; this small log
    adds what the inbox shows next to a task ("delegated by Li to Wang: on holiday", "reminder
    sent") and the notifications of the SLA sweep, without parsing audit JSON.
    """

    class Kind(models.TextChoices):
        DISPATCHED = "dispatched", _("Dispatched")
        CLAIMED = "claimed", _("Claimed")
        RELEASED = "released", _("Released")
        DELEGATED = "delegated", _("Delegated")
        REASSIGNED = "reassigned", _("Reassigned")
        REMINDED = "reminded", _("Reminder")
        ESCALATED = "escalated", _("Escalated")

    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, related_name="events", verbose_name=_("task")
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    at = models.DateTimeField(_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
    )
    from_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("from"),
    )
    to_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("to"),
    )
    reason = models.TextField(_("reason"), blank=True)

    class Meta(CompanyOwned.Meta):
        ordering = ["at", "pk"]
        verbose_name = _("task event")
        verbose_name_plural = _("task events")
        indexes = [
            # "My notifications": reminders and hand-overs addressed to a user, newest first.
            models.Index(fields=["company", "to_user", "-at"], name="workflow_taskevent_to"),
        ]

    def __str__(self) -> str:
        return f"{self.task_id} {self.kind}"
