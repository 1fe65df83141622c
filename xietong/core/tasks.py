"""django-tasks entry points. Every user-visible job runs through `run_job` (see core.jobs)."""

from django_tasks import task

from xietong.core.jobs import job_run


@task()
def run_job(job_id: int) -> None:
    job_run(job_id=job_id)
