"""Benchmark of the CRM screens at scale: the pipeline kanban (`crm:pipeline`) and the customer 360
(the party page with crm's panels) over 100,000 opportunities and 1,000,000 timeline entries.

Usage (a fresh database is made under a temporary directory, or the PostgreSQL test database
given by DATABASE_URL, which is dropped afterwards):

    .venv/bin/python benchmarks/bench_crm.py [--opportunities 100000] [--timeline 1000000]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xietong_bench_crm \\
      .venv/bin/python benchmarks/bench_crm.py
    .venv/bin/python benchmarks/bench_crm.py --opportunities 2000 --timeline 20000 --runs 5  # small

`--no-migrations` makes the schema from the models instead of the migrations (as the tests do).

Data (seed 7, written with `core.bulkwrite.rows_insert`: COPY on PostgreSQL, executemany on
SQLite; not timed apart from the total): one company with 4 sales teams of 5 reps and their
default stages, 2,000 customers, `--opportunities` opportunities spread over the teams (the
measured team, "Team 1", holds a quarter), over the stages (70 % open, 20 % won, 10 % lost,
closed over the last 90 days), close dates over ±180 days, revenues 1,000–500,000; one "big"
customer has a tenth of the opportunities, a fifth of the `--timeline` entries (the rest spread
over the other customers) and, made with the same helper, 5,000 posted customer invoices (half
paid, due dates over the last 200 days), 2,000 quotations and 2,000 sales orders. After loading,
PostgreSQL runs `VACUUM ANALYZE` and SQLite refreshes its statistics (as the worker does hourly).

Measured through Django's test client (server time of the whole request: middleware, views,
queries, templates), `--runs` requests each after one warm-up, p50 / p95 / max and the number
of queries of one request:
- the kanban of Team 1 as its manager (sees every team) and as one of its reps;
- the big customer's party page (the 360) as the sales manager, and as a rep;
- the same customer's timeline tab page 50 (`?tab=timeline&page=50`).

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
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

CUSTOMERS = 2000
TEAMS = 4
REPS = 5
BATCH = 50_000


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(client, url: str, runs: int, slowest: int = 0) -> tuple[float, float, float, int]:  # type: ignore[no-untyped-def]
    from django.db import connection

    captured: list[tuple[float, str]] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            captured.append(((time.perf_counter() - started) * 1000, sql))

    client.get(url)  # warm-up
    with connection.execute_wrapper(count):
        response = client.get(url)  # the query count
    assert response.status_code == 200, (url, response.status_code)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    if slowest:
        for ms, sql in sorted(captured, reverse=True)[:slowest]:
            print(f"    {ms:.1f} ms: {sql[:300]}")
    return statistics.median(samples), percentile(samples, 0.95), max(samples), len(captured)


def insert(model, columns: list[str], rows) -> int:  # type: ignore[no-untyped-def]
    """Write the row tuples in batches; returns how many."""
    from django.db import transaction

    from xietong.core import bulkwrite

    count, batch = 0, []
    with transaction.atomic():
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH:
                bulkwrite.rows_insert(model, columns, batch)
                count += len(batch)
                batch = []
        bulkwrite.rows_insert(model, columns, batch)
    return count + len(batch)


def generate(args, company, teams, reps, managers):  # type: ignore[no-untyped-def]
    from django.contrib.contenttypes.models import ContentType
    from django.utils import timezone

    from xietong.crm.models import Opportunity, PipelineStage
    from xietong.party.models import Party, TimelineEntry

    rng = random.Random(args.seed)  # noqa: S311
    now = timezone.now()
    today = timezone.localdate()
    kind = Party._meta.get_field("kind").default
    base = Party.unscoped.order_by("-pk").values_list("pk", flat=True).first() or 0
    insert(
        Party,
        ["company_id", "code", "name", "normalized_name", "kind", "is_customer", "is_supplier",
         "is_carrier", "active", "currency_id", "language", "country_id", "legal_name", "tax_id",
         "tax_scheme", "email", "phone", "normalized_phone", "website", "invoice_policy", "notes",
         "created_at"],
        (
            (company.pk, f"BC{n:05d}", f"Bench customer {n}", f"bench customer {n}", kind,
             True, False, False, True, "CNY", "zh-hans", "CN", "", "", "", "", "", "", "", "",
             "", now)
            for n in range(CUSTOMERS)
        ),
    )  # fmt: skip
    parties = list(
        Party.unscoped.filter(company=company, pk__gt=base)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    big = parties[0]
    stages = {
        team.pk: list(PipelineStage.unscoped.filter(team=team).order_by("sequence", "pk"))
        for team in teams
    }
    started = time.perf_counter()

    def opportunities():  # type: ignore[no-untyped-def]
        for n in range(args.opportunities):
            team = teams[0] if n % 4 == 0 else teams[1 + n % (TEAMS - 1)]
            columns = stages[team.pk]
            roll = rng.random()
            if roll < 0.7:
                stage, state, closed = rng.choice(columns[:4]), "open", None
            elif roll < 0.9:
                stage, state = columns[4], "won"
                closed = now - dt.timedelta(minutes=rng.randint(0, 90 * 24 * 60))
            else:
                stage, state = columns[5], "lost"
                closed = now - dt.timedelta(minutes=rng.randint(0, 90 * 24 * 60))
            party = big if n % 10 == 0 else parties[1 + n % (CUSTOMERS - 1)]
            owner = rng.choice(reps[team.pk])
            created = now - dt.timedelta(minutes=rng.randint(0, 365 * 24 * 60))
            yield (company.pk, f"Deal {n}", party, team.pk, stage.pk, owner.pk,
                   Decimal(rng.randint(1000, 500_000)), "CNY", stage.probability, False,
                   today + dt.timedelta(days=rng.randint(-180, 180)), state,
                   None if state != "lost" else lost_reason, "", closed, created, created)  # fmt: skip

    from xietong.crm import services

    lost_reason = services.lost_reason_create(company=company, actor=None, name="Price").pk
    made = insert(
        Opportunity,
        ["company_id", "name", "party_id", "team_id", "stage_id", "owner_id", "expected_revenue",
         "currency_id", "probability", "probability_overridden", "close_date", "state",
         "lost_reason_id", "lost_note", "closed_at", "created_at", "updated_at"],
        opportunities(),
    )  # fmt: skip
    print(f"generate {made} opportunities: {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    kind_of = ["order", "invoice", "quotation", "activity", "crm.opportunity", "payment", "note"]
    party_type = ContentType.objects.get_for_model(Party).pk

    def entries():  # type: ignore[no-untyped-def]
        for n in range(args.timeline):
            party = big if n % 5 == 0 else parties[1 + n % (CUSTOMERS - 1)]
            at = now - dt.timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
            yield (company.pk, party, kind_of[n % len(kind_of)], at, f"Event {n} of the bench",
                   "", None, party_type, str(party))  # fmt: skip

    made = insert(
        TimelineEntry,
        ["company_id", "party_id", "kind", "occurred_at", "summary", "url", "actor_id",
         "source_type_id", "source_id"],
        entries(),
    )  # fmt: skip
    print(f"generate {made} timeline entries: {time.perf_counter() - started:.1f} s")
    documents(args, company, big, rng)
    return Party.unscoped.get(pk=big)


def documents(args, company, big: int, rng) -> None:  # type: ignore[no-untyped-def]
    """5,000 posted invoices, 2,000 quotations and 2,000 orders of the big customer."""
    from django.utils import timezone

    from xietong.finance.charts import chart_load
    from xietong.finance.models import Invoice, Journal
    from xietong.inventory.warehouses import warehouse_create
    from xietong.sales.models import Quotation, SalesOrder

    started = time.perf_counter()
    chart_load(company=company, template="cn")
    journal = Journal.unscoped.filter(company=company, kind="sales").order_by("pk").first()
    warehouse = warehouse_create(company=company, code="BW", name="Bench")
    now = timezone.now()
    today = timezone.localdate()
    invoices = 5000

    def invoice_rows():  # type: ignore[no-untyped-def]
        for n in range(invoices):
            date = today - dt.timedelta(days=rng.randint(0, 600))
            total = Decimal(rng.randint(100, 50_000))
            paid = n % 2 == 0
            yield (company.pk, "out_invoice", "posted", "paid" if paid else "not_paid",
                   f"INV/B/{n:05d}", big, journal.pk, date, "CNY", Decimal(1),
                   date + dt.timedelta(days=30), "", "", "", None, "", "",
                   total, Decimal(0), total, Decimal(0) if paid else total, now)  # fmt: skip

    insert(
        Invoice,
        ["company_id", "kind", "state", "payment_state", "number", "party_id", "journal_id",
         "date", "currency_id", "rate", "due_date", "reference", "origin", "source_type",
         "source_id", "language", "notes", "amount_untaxed", "amount_tax", "amount_total",
         "amount_residual", "created_at"],
        invoice_rows(),
    )  # fmt: skip
    header = ["company_id", "number", "party_id", "date", "currency_id", "warehouse_id",
              "customer_reference", "notes", "language", "amount_untaxed", "amount_tax",
              "amount_total", "created_at"]  # fmt: skip

    def header_of(n: int, prefix: str) -> tuple:  # type: ignore[type-arg]
        total = Decimal(rng.randint(100, 50_000))
        date = today - dt.timedelta(days=rng.randint(0, 600))
        return (company.pk, f"{prefix}{n:05d}", big, date, "CNY", warehouse.pk, "", "", "",
                total, Decimal(0), total, now)  # fmt: skip

    extra_fields = [f.attname for f in Quotation._meta.concrete_fields]
    quotation_extra = ["version", "state", "valid_until", "approval", "approval_comment",
                       "max_discount", "lost_reason"]  # fmt: skip
    if "coupon_code" in extra_fields:
        quotation_extra.append("coupon_code")
    insert(
        Quotation,
        header + quotation_extra,
        (
            (*header_of(n, "SQ/B/"), 1, rng.choice(["draft", "sent", "accepted", "lost"]),
             today + dt.timedelta(days=30), "", "", Decimal(0), "",
             *([""] if "coupon_code" in extra_fields else []))
            for n in range(2000)
        ),
    )  # fmt: skip
    order_fields = [f.attname for f in SalesOrder._meta.concrete_fields]
    order_extra = ["state", "invoice_policy", "hold_reason", "credit_approved", "cancel_reason"]
    if "coupon_code" in order_fields:
        order_extra.append("coupon_code")
    insert(
        SalesOrder,
        header + order_extra,
        (
            (*header_of(n, "SO/B/"), rng.choice(["confirmed", "done", "done", "cancelled"]),
             "delivery", "", False, "", *([""] if "coupon_code" in order_fields else []))
            for n in range(2000)
        ),
    )  # fmt: skip
    print(f"generate 5000 invoices, 2000 quotations, 2000 orders: "
          f"{time.perf_counter() - started:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--timeline", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--slowest", type=int, default=0, help="print each page's N slowest SQL")
    parser.add_argument("--profile", default="", help="cProfile 5 kanban and 5 360 requests")
    parser.add_argument(
        "--no-migrations",
        action="store_true",
        help="make the schema from the models (before their migrations exist)",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse
    from django.utils import timezone

    setup_test_environment()
    from django.template import Template
    from django.test.utils import _TestState

    Template._render = _TestState.saved_data.template_render  # no test instrumentation
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    # one connection for the whole run, as Django's test cases keep it (queries are counted)
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    if args.no_migrations:  # the schema from the models, as the tests' --no-migrations
        from django.apps import apps

        settings.MIGRATION_MODULES = {app.label: None for app in apps.get_app_configs()}
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ALLOWED_HOSTS = ["*"]
    try:
        from xietong.core import services as core_services
        from xietong.core.tenancy import company_scope
        from xietong.crm import services

        company = core_services.company_create(name="Bench", legal_name="Bench Ltd",
                                               base_currency="CNY", country="CN")  # fmt: skip

        def user(name: str, role: str):  # type: ignore[no-untyped-def]
            return core_services.user_create(company=company, username=name, password=None,
                                             roles=[role], validate=False)  # fmt: skip

        print(f"vendor={connection.vendor} date={timezone.localdate().isoformat()}")
        started = time.perf_counter()
        with company_scope(company):
            teams, reps, managers = [], {}, []
            for t in range(TEAMS):
                manager = user(f"manager{t}", "sales_manager")
                people = [user(f"rep{t}_{n}", "sales_rep") for n in range(REPS)]
                team = services.team_create(company=company, actor=None, name=f"Team {t + 1}",
                                            manager=manager, members=people)  # fmt: skip
                teams.append(team)
                reps[team.pk] = people
                managers.append(manager)
            big = generate(args, company, teams, reps, managers)
        print(f"data ready: {time.perf_counter() - started:.1f} s")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")  # what autovacuum would have done by now
        else:
            from xietong.core import maintenance

            maintenance.sqlite_statistics(force=True)

        def client_of(person):  # type: ignore[no-untyped-def]
            client = Client()
            client.force_login(person)  # one company: it is the active one
            return client

        manager, rep = managers[0], reps[teams[0].pk][0]
        board = f"{reverse('crm:pipeline')}?team={teams[0].pk}"
        party = reverse("party:party_detail", args=[big.pk])
        for label, who, url in (
            ("kanban of Team 1 (manager)", manager, board),
            ("kanban of Team 1 (rep)", rep, board),
            ("customer 360 of the big customer (manager)", manager, party),
            ("customer 360 of the big customer (rep)", rep, party),
            ("timeline tab, page 50 (manager)", manager, f"{party}?tab=timeline&page=50"),
        ):
            p50, p95, worst, queries = measure(client_of(who), url, args.runs, args.slowest)
            print(f"{label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {worst:.0f} ms, "
                  f"{queries} queries")  # fmt: skip
        if args.profile:
            import cProfile
            import pstats

            client = client_of(manager)
            profiler = cProfile.Profile()
            for url in (board, party):
                profiler.runcall(lambda url=url: [client.get(url) for _ in range(5)])
            profiler.dump_stats(args.profile)
            pstats.Stats(args.profile).sort_stats("cumulative").print_stats(30)
        from xietong.crm.models import Opportunity
        from xietong.party.models import TimelineEntry

        print(
            f"rows: {Opportunity.unscoped.count()} opportunities "
            f"({Opportunity.unscoped.filter(team=teams[0]).count()} in Team 1, "
            f"{Opportunity.unscoped.filter(party=big).count()} of the big customer), "
            f"{TimelineEntry.unscoped.count()} timeline entries "
            f"({TimelineEntry.unscoped.filter(party=big).count()} of the big customer)"
        )
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
