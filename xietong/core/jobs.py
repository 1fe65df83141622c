"""Background jobs as users see them: started by someone, in a company, with live progress.

A job kind is a plain function registered here by name (`register("core.rates_import", fn)`);
`job_start` records a `Job` row and enqueues the one django-tasks task (`xietong.core.tasks.run_job`)
when the transaction commits; the worker runs the function inside the job's company scope and
with its user as the audit actor. The function reports progress through the `JobContext`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from auditlog.context import set_actor
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from xietong.core import events
from xietong.core.models import Company, Job, User
from xietong.core.tenancy import company_scope

logger = logging.getLogger(__name__)

JobFunction = Callable[..., dict[str, Any] | None]
_KINDS: dict[str, JobFunction] = {}


class JobError(Exception):
    """Raised by a job function to fail with a message meant for the user (and details)."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


def register(kind: str, function: JobFunction) -> None:
    _KINDS[kind] = function


_PERIODIC: dict[str, Callable[[], Any]] = {}


def register_periodic(name: str, function: Callable[[], Any]) -> None:
    """Have the worker call `function()` on every poll (e.g. the workflow timer sweep)."""
    _PERIODIC[name] = function


def periodic_run() -> None:
    """Call every periodic function once; a failing one is logged and does not stop the others."""
    for name, function in list(_PERIODIC.items()):
        try:
            function()
        except Exception:
            logger.exception("periodic function %s failed", name)


@dataclass
class JobContext:
    job_id: int
    company: Company
    user: User | None

    def progress(self, done: int, total: int | None = None, message: str = "") -> None:
        """Record progress; visible at once to the UI (written outside any job transaction)."""
        fields: dict[str, Any] = {"done": done, "message": message[:255]}
        if total is not None:
            fields["total"] = total
        Job.unscoped.filter(pk=self.job_id).update(**fields)


def job_start(*, company: Company, actor: User | None, kind: str, name: str, **params: Any) -> Job:
    """Record a job and enqueue it after commit. Raises KeyError for an unknown kind."""
    if kind not in _KINDS:
        raise KeyError(kind)
    job = Job.unscoped.create(company=company, user=actor, kind=kind, name=name, params=params)

    def enqueue() -> None:
        from xietong.core.tasks import run_job

        result = run_job.enqueue(job_id=job.pk)
        Job.unscoped.filter(pk=job.pk).update(task_result_id=str(result.id))

    transaction.on_commit(enqueue)
    return job


def job_run(*, job_id: int) -> None:
    """Run a queued job now (called by the worker task). A failure is recorded on the job."""
    job = Job.unscoped.select_related("company", "user").get(pk=job_id)
    if job.status != Job.Status.QUEUED:
        return
    Job.unscoped.filter(pk=job.pk).update(status=Job.Status.RUNNING, started_at=timezone.now())
    context = JobContext(job_id=job.pk, company=job.company, user=job.user)
    status, result, message = Job.Status.DONE, {}, ""
    # What the job reports is read by its user: write it in the user's language.
    language = job.user.language if job.user else settings.LANGUAGE_CODE
    with translation.override(language):
        try:
            with company_scope(job.company), set_actor(job.user):
                result = _KINDS[job.kind](context, **job.params) or {}
            message = str(result.pop("message", _("Finished.")))
        except JobError as exc:
            status, message = Job.Status.FAILED, str(exc)
            result = exc.details
        except Exception:
            logger.exception("job %s (%s) failed", job.pk, job.kind)
            status = Job.Status.FAILED
            message = _("The job failed unexpectedly; see the server log.")
    Job.unscoped.filter(pk=job.pk).update(
        status=status, message=message[:255], result=result, finished_at=timezone.now()
    )
    events.publish(events.JobFinished(company_id=job.company_id, job_id=job.pk, status=status))
