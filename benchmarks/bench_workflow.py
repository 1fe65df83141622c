"""Benchmark of the workflow engine: approval throughput through the services, and the inbox
over 100,000 open tasks (selectors and the API).

Usage (a fresh database is made under a temporary directory, or the PostgreSQL test database
given by DATABASE_URL, which is dropped afterwards):

    .venv/bin/python benchmarks/bench_workflow.py [--instances 10000] [--tasks 100000] [--seed 7]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xietong_bench_wf .venv/bin/python benchmarks/bench_workflow.py

1. Throughput: the shipped quotation approval (`shipped.deploy_shipped`) is started
   `--instances` times with data that needs one approval (retail, 12 % discount: one sales
   manager task), then every task is completed with "approved", which ends the instance. Both
   loops go through the services (`process_start`, `task_complete`), one transaction each, in a
   single process.
2. Inbox: `--tasks` open tasks are bulk-created over 500 instances in one company, for 50 users
   in 5 roles (10 each): 60 % assigned to a holder of the task's role, 40 % waiting unassigned in
   the role's queue, half with a due time (spread over -10..+20 days, so some are overdue);
   plus half as many done tasks (history) and a second company with a fifth as many open tasks
   (noise). Then the inbox selectors (`inbox_mine`, `inbox_queue`, `inbox_overdue`) fetch what a
   list screen shows (count + first 25 rows) for one sales manager, 20 times each, and the API
   `GET /api/v1/workflow/tasks?box=…&limit=25` does the same through Django's test client.
   `--explain` prints the plans of the count and page queries.

Prints one line per measurement; record the figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

ROLES = ["sales_manager", "sales_rep", "buyer", "accountant", "warehouse_clerk"]
ONE_APPROVAL = {"customer_group": "retail", "discount_percent": 12, "amount": 9000}
PAGE = 25


def timed(fn, repeat: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, max(samples) * 1000, result


def throughput(company, starter, approver, count: int) -> None:  # type: ignore[no-untyped-def]
    from xietong.workflow import services, shipped
    from xietong.workflow.models import Task

    shipped.deploy_shipped(company=company, actor=starter, key="quotation_approval")
    started, cpu = time.perf_counter(), time.process_time()
    instances = [
        services.process_start(
            company=company, actor=starter, key="quotation_approval", data=ONE_APPROVAL
        )
        for _ in range(count)
    ]
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"start {count} quotation approvals (process_start, one task each): {seconds:.1f} s = "
        f"{count / seconds:.0f} instances/s (CPU of this process {cpu / count * 1000:.1f} ms each)"
    )
    tasks = list(
        Task.unscoped.filter(
            instance__in=[i.pk for i in instances], status=Task.Status.OPEN
        ).select_related("assignee")
    )
    assert len(tasks) == count, len(tasks)
    started, cpu = time.perf_counter(), time.process_time()
    for task in tasks:  # by whom dispatch gave it to (least loaded of the sales managers)
        services.task_complete(task=task, actor=task.assignee or approver, outcome="approved")
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"complete {count} approval tasks (task_complete, instance ends): {seconds:.1f} s = "
        f"{count / seconds:.0f} completions/s (CPU of this process {cpu / count * 1000:.1f} ms each)"
    )
    ended = (
        type(instances[0])
        .unscoped.filter(pk__in=[i.pk for i in instances], status="completed")
        .count()
    )
    print(f"instances completed: {ended} of {count}")


def generate(company, users_by_role, count: int, *, history: bool, seed: int) -> int:  # type: ignore[no-untyped-def]
    """Bulk-insert `count` open tasks (and count/2 done ones if `history`) over 500 instances."""
    from django.utils import timezone

    from xietong.workflow.models import ProcessDefinition, ProcessInstance, Task

    rng = random.Random(seed)  # noqa: S311
    now = timezone.now()
    definition = ProcessDefinition.unscoped.get(company=company, key="quotation_approval")
    instances = ProcessInstance.unscoped.bulk_create(
        ProcessInstance(company=company, definition=definition, state="") for _ in range(500)
    )
    created_field = Task._meta.get_field("created_at")
    created_field.auto_now_add = False  # spread creation times over 90 days
    rows = []
    try:
        total = count + (count // 2 if history else 0)
        for i in range(total):
            role = ROLES[i % len(ROLES)]
            done = i >= count
            assigned = done or rng.random() < 0.6
            created = now - dt.timedelta(minutes=rng.randint(0, 90 * 24 * 60))
            due = (
                now + dt.timedelta(minutes=rng.randint(-10 * 24 * 60, 20 * 24 * 60))
                if rng.random() < 0.5
                else None
            )
            assignee = rng.choice(users_by_role[role]) if assigned else None
            rows.append(
                Task(
                    company=company,
                    instance=instances[i % len(instances)],
                    spiff_id=uuid.UUID(int=rng.getrandbits(128)),
                    bpmn_id="review",
                    name=f"Review {i}",
                    lane=role,
                    role=role,
                    assignee=assignee,
                    status=Task.Status.DONE if done else Task.Status.OPEN,
                    outcomes=["approved", "rejected"],
                    effort=Decimal(rng.choice([1, 1, 2, 3])),
                    created_at=created,
                    due_at=due,
                    completed_at=created + dt.timedelta(hours=4) if done else None,
                    completed_by=assignee if done else None,
                    outcome="approved" if done else "",
                )
            )
        Task.unscoped.bulk_create(rows, batch_size=5000)
    finally:
        created_field.auto_now_add = True
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=10_000)
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="print the page queries' plans")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.utils import timezone

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    try:
        from xietong.core import services as core_services
        from xietong.core.tenancy import company_scope
        from xietong.workflow import selectors, shipped
        from xietong.workflow.models import Task

        def company(name: str):  # type: ignore[no-untyped-def]
            return core_services.company_create(
                name=name, legal_name=f"{name} Ltd", base_currency="CNY", country="CN"
            )

        def users(company, prefix: str) -> dict[str, list]:  # type: ignore[no-untyped-def]
            return {
                role: [
                    core_services.user_create(
                        company=company,
                        username=f"{prefix}_{role}_{n}",
                        password=None,
                        roles=[role],
                        validate=False,
                    )
                    for n in range(10)
                ]
                for role in ROLES
            }

        bench, noise = company("Bench"), company("Noise")
        staff, others = users(bench, "a"), users(noise, "b")
        print(f"vendor={connection.vendor} date={timezone.localdate().isoformat()}")

        if args.instances:
            throughput(bench, staff["sales_rep"][0], staff["sales_manager"][0], args.instances)
        else:
            shipped.deploy_shipped(company=bench, actor=None, key="quotation_approval")
        shipped.deploy_shipped(company=noise, actor=None, key="quotation_approval")

        started = time.perf_counter()
        made = generate(bench, staff, args.tasks, history=True, seed=args.seed)
        made += generate(noise, others, args.tasks // 5, history=False, seed=args.seed + 1)
        print(
            f"generate {made} task rows ({args.tasks} open + {args.tasks // 2} done in one "
            f"company, {args.tasks // 5} open in another; bulk_create): "
            f"{time.perf_counter() - started:.1f} s"
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")  # what autovacuum would have done by now
        else:
            from xietong.core import maintenance

            maintenance.sqlite_statistics(force=True)  # what the worker does every hour

        user = staff["sales_manager"][3]
        boxes = {
            "mine": lambda: selectors.inbox_mine(user, bench),
            "queue": lambda: selectors.inbox_queue(user, bench),
            "overdue": lambda: selectors.inbox_overdue(user, bench),
        }

        def page(make):  # type: ignore[no-untyped-def]
            tasks = make()
            return tasks.count(), list(tasks[:PAGE])

        for box, make in boxes.items():
            median, worst, (count, rows) = timed(lambda make=make: page(make), args.runs)
            print(
                f"selector inbox_{box}: count {count} + first {len(rows)} rows: "
                f"median {median:.1f} ms, max {worst:.1f} ms"
            )
            if args.explain:
                with company_scope(bench), connection.cursor() as cursor:
                    for label, queryset in (
                        ("count", make().order_by().values("pk")),
                        ("page", make()[:PAGE]),
                    ):
                        sql, params = queryset.query.sql_with_params()
                        if label == "count":
                            sql = f"SELECT count(*) FROM ({sql}) AS counted"  # noqa: S608
                        explain = (
                            "EXPLAIN (ANALYZE, BUFFERS)"
                            if connection.vendor == "postgresql"
                            else "EXPLAIN QUERY PLAN"
                        )
                        cursor.execute(f"{explain} {sql}", params)
                        print(f"  EXPLAIN {box} {label}:")
                        for row in cursor.fetchall():
                            print(f"    {row[-1]}")

        _, raw = core_services.api_token_create(user=user, company=bench, name="bench")
        api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        for box in boxes:

            def call(box: str = box):  # type: ignore[no-untyped-def]
                response = api.get("/api/v1/workflow/tasks", {"box": box, "limit": PAGE})
                assert response.status_code == 200, response.content
                return response.json()

            median, worst, body = timed(call, args.runs)
            print(
                f"API GET /workflow/tasks?box={box}&limit={PAGE} (count {body['count']}): "  # type: ignore[index]
                f"median {median:.1f} ms, max {worst:.1f} ms"
            )
        open_rows = Task.unscoped.filter(status=Task.Status.OPEN).count()
        print(f"open task rows in the database: {open_rows}")
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
