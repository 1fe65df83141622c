"""Background jobs: enqueued on commit through django-tasks' database backend, run in the job's
company scope with recorded progress and outcome; the exchange-rate import job lands whole or not
at all."""

from __future__ import annotations

import datetime as dt
import io
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections, transaction
from django_tasks_db.models import DBTaskResult

from xietong.core import events, imports, jobs
from xietong.core.jobs import JobContext, JobError, job_run, job_start
from xietong.core.models import AuditEntry, ExchangeRate, Job
from xietong.core.services import exchange_rate_create
from xietong.core.tenancy import ScopeError, current_company

IMPORT = "core.import"
DAY = dt.date(2026, 1, 2)

Register = Callable[[str, Callable[..., dict[str, Any] | None]], None]


class Rollback(Exception):
    pass


@pytest.fixture
def register(monkeypatch: pytest.MonkeyPatch) -> Register:
    """Register a job kind for one test only."""

    def _register(kind: str, function: Callable[..., dict[str, Any] | None]) -> None:
        monkeypatch.setitem(jobs._KINDS, kind, function)

    return _register


@pytest.fixture
def finished() -> Iterator[list[events.JobFinished]]:
    seen: list[events.JobFinished] = []
    events.subscribe(events.JobFinished, seen.append)
    yield seen
    events.unsubscribe(events.JobFinished, seen.append)


def run_worker() -> None:
    """Run django-tasks' database worker until the queue is empty, as `db_worker --batch` does.

    The worker installs signal handlers and sets its loggers' levels; both are put back.
    """
    signals = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]
    saved_signals = {s: signal.getsignal(s) for s in signals}
    loggers = [logging.getLogger(n) for n in ("django_tasks_db", "django_tasks", "django.tasks")]
    saved_levels = {lg: lg.level for lg in loggers}
    try:
        call_command(
            "db_worker", "--batch", "--no-startup-delay", verbosity=0, stdout=io.StringIO()
        )
    finally:
        for s, handler in saved_signals.items():
            signal.signal(s, handler)
        for lg, level in saved_levels.items():
            lg.setLevel(level)


def job_of(job: Job) -> Job:
    return Job.unscoped.get(pk=job.pk)


# --- enqueueing -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_job_start_records_the_job_and_enqueues_only_on_commit(
    admin_a, company_a, register: Register, django_capture_on_commit_callbacks
) -> None:
    register("tests.noop", lambda context, **params: None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = job_start(
            company=company_a, actor=admin_a, kind="tests.noop", name="No-op", answer=42
        )
        assert DBTaskResult.objects.count() == 0
    assert job.status == Job.Status.QUEUED
    assert (job.company, job.user, job.params) == (company_a, admin_a, {"answer": 42})
    assert DBTaskResult.objects.count() == 0
    assert len(callbacks) == 1

    callbacks[0]()
    task = DBTaskResult.objects.get()
    assert task.task_path == "xietong.core.tasks.run_job"
    assert task.args_kwargs == {"args": [], "kwargs": {"job_id": job.pk}}
    assert task.backend_name == "default"
    assert job_of(job).task_result_id == str(task.id)
    assert job_of(job).status == Job.Status.QUEUED


@pytest.mark.django_db
def test_job_start_refuses_an_unknown_kind_and_records_nothing(
    admin_a, company_a, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(KeyError):
        job_start(company=company_a, actor=admin_a, kind="tests.no_such_kind", name="x")
    assert not Job.unscoped.exists()
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_rolled_back_job_start_enqueues_nothing(admin_a, company_a, register: Register) -> None:
    register("tests.noop", lambda context, **params: None)
    with pytest.raises(Rollback), transaction.atomic():
        job_start(company=company_a, actor=admin_a, kind="tests.noop", name="No-op")
        raise Rollback
    assert not Job.unscoped.exists()
    assert not DBTaskResult.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_worker_runs_the_enqueued_job_end_to_end(
    admin_a, company_a, company_b, finished: list[events.JobFinished]
) -> None:
    with transaction.atomic():
        job = job_start(
            company=company_a,
            actor=admin_a,
            kind=IMPORT,
            name="Rates",
            spec="exchange-rates",
            upload=imports.upload_store(
                b"date,currency,rate\n2026-01-02,USD,7.1\n2026-01-02,EUR,7.8\n", "rates.csv"
            ),
            filename="rates.csv",
        )
        assert not DBTaskResult.objects.exists()
    task = DBTaskResult.objects.get()
    assert task.status == "READY"

    run_worker()

    task.refresh_from_db()
    assert task.status == "SUCCESSFUL", task.traceback
    job = job_of(job)
    assert job.status == Job.Status.DONE, job.message
    assert job.task_result_id == str(task.id)
    assert job.result == {"created": 2, "updated": 0}
    assert job.message == "2 row(s) imported: 2 added, 0 updated."
    assert (job.done, job.total, job.percent) == (2, 2, 100)
    assert job.started_at is not None and job.finished_at is not None
    assert job.started_at <= job.finished_at
    assert sorted(
        ExchangeRate.unscoped.filter(company=company_a).values_list("currency_id", flat=True)
    ) == ["EUR", "USD"]
    assert not ExchangeRate.unscoped.filter(company=company_b).exists()
    assert [(e.job_id, e.status, e.company_id) for e in finished] == [
        (job.pk, Job.Status.DONE, company_a.pk)
    ]
    # A second worker run finds nothing to do and does not run the job again.
    run_worker()
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert len(finished) == 1


# --- running --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_job_runs_in_its_company_scope_as_its_user(
    admin_a, company_a, company_b, register: Register
) -> None:
    exchange_rate_create(
        company=company_a, actor=None, currency="USD", date=DAY, rate=Decimal("7.1")
    )
    exchange_rate_create(
        company=company_b, actor=None, currency="EUR", date=DAY, rate=Decimal("8.5")
    )

    def probe(context: JobContext, **params: Any) -> dict[str, Any]:
        return {
            "company": current_company().pk,  # type: ignore[union-attr]
            "context_company": context.company.pk,
            "user": context.user.pk if context.user else None,
            "rates": list(ExchangeRate.objects.values_list("currency_id", flat=True)),
        }

    register("tests.probe", probe)
    job = job_start(company=company_a, actor=admin_a, kind="tests.probe", name="Probe")
    job_run(job_id=job.pk)
    job = job_of(job)
    assert job.status == Job.Status.DONE
    assert job.result == {
        "company": company_a.pk,
        "context_company": company_a.pk,
        "user": admin_a.pk,
        "rates": ["USD"],
    }
    with pytest.raises(ScopeError):
        current_company()  # the job's scope does not outlive it


@pytest.mark.django_db(transaction=True)
def test_progress_is_recorded_and_visible_while_the_job_runs(
    admin_a, company_a, register: Register
) -> None:
    seen_from_outside: list[tuple[str, int, int, str]] = []

    def look_from_another_connection(job_id: int) -> None:
        try:
            row = Job.unscoped.get(pk=job_id)
            seen_from_outside.append((row.status, row.done, row.total, row.message))
        finally:
            connections.close_all()

    def slow(context: JobContext, **params: Any) -> dict[str, Any]:
        context.progress(0, 10, "Starting")
        context.progress(3, message="Three of ten")
        thread = threading.Thread(target=look_from_another_connection, args=(context.job_id,))
        thread.start()
        thread.join(timeout=60)
        context.progress(10, 10, "x" * 300)
        return {"message": "All ten done", "count": 10}

    register("tests.slow", slow)
    job = job_start(company=company_a, actor=admin_a, kind="tests.slow", name="Slow")
    job_run(job_id=job.pk)

    assert seen_from_outside == [(Job.Status.RUNNING, 3, 10, "Three of ten")]
    job = job_of(job)
    assert job.status == Job.Status.DONE
    assert (job.done, job.total) == (10, 10)
    assert job.message == "All ten done"
    assert job.result == {"count": 10}


@pytest.mark.django_db
def test_job_without_a_message_finishes_with_the_default_one(
    admin_a, company_a, register: Register
) -> None:
    register("tests.noop", lambda context, **params: None)
    job = job_start(company=company_a, actor=admin_a, kind="tests.noop", name="No-op")
    job_run(job_id=job.pk)
    job = job_of(job)
    assert (job.status, job.message, job.result) == (Job.Status.DONE, "Finished.", {})


@pytest.mark.django_db
def test_job_error_records_failed_with_its_message_and_details(
    admin_a,
    company_a,
    register: Register,
    finished: list[events.JobFinished],
    django_capture_on_commit_callbacks,
) -> None:
    def refuse(context: JobContext, **params: Any) -> None:
        context.progress(1, 4, "Working")
        raise JobError("The supplier feed is empty.", details={"errors": ["Row 2: empty"]})

    register("tests.refuse", refuse)
    job = job_start(company=company_a, actor=admin_a, kind="tests.refuse", name="Refuse")
    with django_capture_on_commit_callbacks(execute=True):
        job_run(job_id=job.pk)
    job = job_of(job)
    assert job.status == Job.Status.FAILED
    assert job.message == "The supplier feed is empty."
    assert job.result == {"errors": ["Row 2: empty"]}
    assert (job.done, job.total) == (1, 4)
    assert job.finished_at is not None
    assert [(e.job_id, e.status) for e in finished] == [(job.pk, Job.Status.FAILED)]


@pytest.mark.django_db
def test_unexpected_exception_records_failed_and_logs(
    admin_a, company_a, register: Register, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(context: JobContext, **params: Any) -> None:
        raise ZeroDivisionError("internal detail")

    register("tests.crash", crash)
    job = job_start(company=company_a, actor=admin_a, kind="tests.crash", name="Crash")
    with caplog.at_level(logging.ERROR, logger="xietong.core.jobs"):
        job_run(job_id=job.pk)
    job = job_of(job)
    assert job.status == Job.Status.FAILED
    assert "unexpectedly" in job.message
    assert "internal detail" not in job.message  # internals stay in the log
    assert job.result == {}
    (record,) = [r for r in caplog.records if r.name == "xietong.core.jobs"]
    assert record.exc_info and isinstance(record.exc_info[1], ZeroDivisionError)


@pytest.mark.django_db
def test_a_job_runs_once(admin_a, company_a, register: Register) -> None:
    calls: list[int] = []

    def count(context: JobContext, **params: Any) -> None:
        calls.append(context.job_id)

    register("tests.count", count)
    job = job_start(company=company_a, actor=admin_a, kind="tests.count", name="Count")
    job_run(job_id=job.pk)
    job_run(job_id=job.pk)  # a retried task finds the job finished and does nothing
    assert calls == [job.pk]


# --- the exchange-rate import job -----------------------------------------------------------------


def import_rates(company, user, text: str) -> Job:  # type: ignore[no-untyped-def]
    upload = imports.upload_store(text.encode(), "rates.csv")
    job = job_start(
        company=company,
        actor=user,
        kind=IMPORT,
        name="Import rates",
        spec="exchange-rates",
        upload=upload,
        filename="rates.csv",
    )
    job_run(job_id=job.pk)
    return job_of(job)


def rates_of(company) -> dict[tuple[str, dt.date], Decimal]:  # type: ignore[no-untyped-def]
    return {(r.currency_id, r.date): r.rate for r in ExchangeRate.unscoped.filter(company=company)}


@pytest.mark.django_db
def test_rate_import_lands_a_good_file_whole(admin_a, company_a, company_b) -> None:
    exchange_rate_create(
        company=company_a, actor=admin_a, currency="USD", date=DAY, rate=Decimal("7.0")
    )
    exchange_rate_create(
        company=company_a,
        actor=admin_a,
        currency="EUR",
        date=dt.date(2026, 1, 5),
        rate=Decimal("7.9"),
    )
    text = (
        "\ufeffDate,Currency,Rate,Source\r\n"
        "2026-01-02,USD,7.1,pboc\r\n"  # updates the existing rate
        "2026-01-03, usd ,7.2,pboc\r\n"  # new; the code is normalised
        "2026-01-02,EUR,7.8,\r\n"  # new, default source
        "2026-01-05,EUR,7.90,ecb\r\n"  # same rate as stored: left alone
    )
    before = AuditEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    job = import_rates(company_a, admin_a, text)

    assert job.status == Job.Status.DONE, (job.message, job.result)
    assert job.result == {"created": 2, "updated": 1}
    assert job.message == "4 row(s) imported: 2 added, 1 updated."
    assert (job.done, job.total) == (4, 4)
    assert rates_of(company_a) == {
        ("USD", DAY): Decimal("7.1"),
        ("USD", dt.date(2026, 1, 3)): Decimal("7.2"),
        ("EUR", DAY): Decimal("7.8"),
        ("EUR", dt.date(2026, 1, 5)): Decimal("7.9"),
    }
    sources = dict(
        ExchangeRate.unscoped.filter(company=company_a)
        .values_list("currency_id", "source")
        .filter(date=DAY)
    )
    assert sources == {"USD": "pboc", "EUR": "import"}
    assert rates_of(company_b) == {}
    # The job's user is the audit actor of what it wrote, and the entries carry company A.
    by_job = AuditEntry.objects.filter(
        pk__gt=before, content_type__model="exchangerate", actor=admin_a
    )
    assert sorted(by_job.values_list("action", flat=True)) == sorted(
        [AuditEntry.Action.CREATE, AuditEntry.Action.CREATE, AuditEntry.Action.UPDATE]
    )
    assert set(by_job.values_list("company_id", flat=True)) == {company_a.pk}


@pytest.mark.django_db
def test_rate_import_with_bad_rows_lands_nothing_and_names_every_bad_row(
    admin_a, company_a
) -> None:
    exchange_rate_create(
        company=company_a, actor=admin_a, currency="USD", date=DAY, rate=Decimal("7.0")
    )
    before = rates_of(company_a)
    text = (
        "date,currency,rate,source\n"
        "2026-01-02,USD,7.10,bank\n"  # 2: good (would update)
        "2026-01-05,XXX,1.0,bank\n"  # 3: unknown currency
        "2026-13-01,EUR,7.8,\n"  # 4: bad date
        "2026-01-05,EUR,0,\n"  # 5: rate not positive
        "2026-01-05,GBP,abc,\n"  # 6: rate not a number
        "2026-01-05,CNY,1,\n"  # 7: the company's own currency
        "2026-01-02,USD,7.2,\n"  # 8: duplicate of row 2
        "2026-01-06,JPY,NaN,\n"  # 9: not finite
        "2026-01-06,HKD,-0.9,\n"  # 10: negative
        "2026-01-07,EUR,7.8,\n"  # 11: good (would create)
        "01/08/2026,,,\n"  # 12: everything wrong
    )
    job = import_rates(company_a, admin_a, text)

    assert job.status == Job.Status.FAILED
    assert job.message == "11 problem(s) found; nothing was imported."
    errors = job.result["errors"]
    assert [e.split(":")[0] for e in errors] == [
        "Row 3, currency",
        "Row 4, date",
        "Row 5, rate",
        "Row 6, rate",
        "Row 7, currency",
        "Row 8",
        "Row 9, rate",
        "Row 10, rate",
        "Row 12, currency",
        "Row 12, date",
        "Row 12, rate",
    ]
    assert "unknown currency “XXX”" in errors[0]
    assert "date must be YYYY-MM-DD" in errors[1]
    assert "rate must be a positive number" in errors[2]
    assert "rate must be a positive number" in errors[3]
    assert "own currency" in errors[4]
    assert "duplicate of row 2" in errors[5]
    assert "rate must be a positive number" in errors[6]
    assert "rate must be a positive number" in errors[7]
    assert rates_of(company_a) == before
    assert job.total == 11  # every row was checked


@pytest.mark.django_db
def test_rate_import_reports_physical_line_numbers(admin_a, company_a) -> None:
    text = "date,currency,rate\n2026-01-02,USD,7.1\n\n2026-01-02,XXX,7.1\n"
    job = import_rates(company_a, admin_a, text)
    assert job.status == Job.Status.FAILED
    assert job.result["errors"] == ["Row 4, currency: unknown currency “XXX”"]


@pytest.mark.django_db
@pytest.mark.parametrize("rate", ["12345678901", "7.12345678901"])
def test_rate_import_reports_a_rate_that_does_not_fit_the_column(
    admin_a, company_a, rate: str
) -> None:
    """The rate column holds 10 digits before and 10 after the point, as manual entry checks."""
    text = f"date,currency,rate\n2026-01-02,USD,7.1\n2026-01-02,EUR,{rate}\n"
    job = import_rates(company_a, admin_a, text)
    assert job.status == Job.Status.FAILED
    assert [e.split(":")[0] for e in job.result["errors"]] == ["Row 3, rate"]
    assert rates_of(company_a) == {}


@pytest.mark.django_db
def test_rate_import_refuses_a_file_without_the_needed_columns(admin_a, company_a) -> None:
    job = import_rates(company_a, admin_a, "day,currency,value\n2026-01-02,USD,7.1\n")
    assert job.status == Job.Status.FAILED
    assert (job.message, job.result) == ("Missing column(s): date, rate", {})
    assert rates_of(company_a) == {}


@pytest.mark.django_db
def test_rate_import_refuses_a_file_without_rows(admin_a, company_a) -> None:
    job = import_rates(company_a, admin_a, "date,currency,rate\n\n")
    assert (job.status, job.message, job.result) == (
        Job.Status.FAILED,
        "The file has no rows.",
        {},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["", "\n\n"])
def test_rate_import_refuses_an_empty_file(admin_a, company_a, text: str) -> None:
    job = import_rates(company_a, admin_a, text)
    assert job.status == Job.Status.FAILED
    assert (job.message, job.result) == ("The file is empty.", {})
    assert rates_of(company_a) == {}


@pytest.mark.django_db
def test_rate_import_lands_in_the_jobs_company_only(admin_a, users_b, company_a, company_b) -> None:
    text = "date,currency,rate\n2026-01-02,USD,7.8\n"
    job_b = import_rates(company_b, users_b["admin"], text)
    assert job_b.status == Job.Status.DONE
    assert rates_of(company_b) == {("USD", DAY): Decimal("7.8")}
    assert rates_of(company_a) == {}
    # CNY is A's own currency but a foreign one for B (base HKD), and vice versa for HKD.
    job_a = import_rates(company_a, admin_a, "date,currency,rate\n2026-01-02,HKD,0.92\n")
    assert job_a.status == Job.Status.DONE
    job_b = import_rates(company_b, users_b["admin"], "date,currency,rate\n2026-01-02,HKD,1\n")
    assert job_b.status == Job.Status.FAILED
    assert rates_of(company_a) == {("HKD", DAY): Decimal("0.92")}


@pytest.mark.django_db
def test_job_messages_are_in_the_users_language(company_a, admin_a):
    from xietong.core import services

    services.user_set_language(user=admin_a, language="zh-hans")
    job = import_rates(company_a, admin_a, "date,currency,rate\n2026-01-02,USD,7.1\n")
    assert job.status == Job.Status.DONE
    assert "imported" not in job.message and "1" in job.message


@pytest.mark.django_db
def test_the_worker_refreshes_sqlite_statistics_once_an_hour() -> None:
    from django.db import connection

    from xietong.core import maintenance

    if connection.vendor != "sqlite":
        assert maintenance.sqlite_statistics(force=True) is False
        return
    assert maintenance.sqlite_statistics(force=True) is True
    assert maintenance.sqlite_statistics() is False  # not again within the hour
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert cursor.fetchone()[0] == 1
