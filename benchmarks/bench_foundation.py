"""Benchmarks of the platform foundation: list pattern, export, numbering, API list.

Usage (a fresh database is made under a temporary directory, or the PostgreSQL test database
given by DATABASE_URL, which is dropped afterwards):

    .venv/bin/python benchmarks/bench_foundation.py [--rows 200000] [--threads 8] [--numbers 300]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/xietong_bench .venv/bin/python benchmarks/bench_foundation.py

Prints one line per measurement; record the figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")


def timed(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000, max(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--numbers", type=int, default=300, help="numbers per thread")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connection, connections, transaction
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    try:
        from xietong.core import services
        from xietong.core.models import ExchangeRate
        from xietong.core.numbering import sequence_next

        company = services.company_create(
            name="Bench", legal_name="Bench Ltd", base_currency="CNY", country="CN"
        )
        user = services.user_create(
            company=company, username="bench", password="x" * 16, roles=["admin"], validate=False
        )
        codes = ["USD", "EUR", "JPY", "HKD", "GBP", "SGD", "AUD", "KRW"]
        per_code = args.rows // len(codes)
        start = dt.date(2026, 1, 1) - dt.timedelta(days=per_code)
        started = time.perf_counter()
        ExchangeRate.unscoped.bulk_create(
            (
                ExchangeRate(
                    company=company,
                    currency_id=code,
                    date=start + dt.timedelta(days=i),
                    rate=Decimal("1.5") + Decimal(i % 997) / 1000,
                )
                for code in codes
                for i in range(per_code)
            ),
            batch_size=5000,
        )
        print(
            f"vendor={connection.vendor} rows={per_code * len(codes)} load_s={time.perf_counter() - started:.1f}"
        )

        client = Client()
        client.force_login(user)
        for label, params in (
            ("list first page", {}),
            (
                "list filtered+sorted",
                {"currency": "EUR", "sort": "-rate", "date_from": "2000-01-01"},
            ),
            ("list search page 50", {"q": "US", "page": "50"}),
            ("list htmx fragment", {"currency": "JPY", "page": "3"}),
        ):
            headers = {"HTTP_HX_REQUEST": "true"} if "htmx" in label else {}
            median, worst = timed(
                lambda params=params, headers=headers: client.get(
                    "/finance/rates/", params, **headers
                ),
                20,
            )
            print(f"{label}: median_ms={median:.1f} max_ms={worst:.1f}")
        median, _ = timed(
            lambda: client.get("/finance/rates/", {"currency": "USD", "export": "csv"}), 3
        )
        print(f"export csv {per_code} rows: median_ms={median:.0f}")
        median, _ = timed(
            lambda: client.get("/finance/rates/", {"currency": "USD", "export": "xlsx"}), 3
        )
        print(f"export xlsx {per_code} rows: median_ms={median:.0f}")

        _, raw = services.api_token_create(user=user, company=company, name="bench")
        api = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
        median, worst = timed(
            lambda: api.get("/api/v1/exchange-rates", {"currency": "EUR", "limit": 100}), 20
        )
        print(f"api list 100 rates: median_ms={median:.1f} max_ms={worst:.1f}")

        errors: list[BaseException] = []

        def worker() -> None:
            try:
                for _ in range(args.numbers):
                    with transaction.atomic():
                        sequence_next(
                            company=company, code="finance.invoice", date=dt.date(2026, 5, 1)
                        )
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=worker) for _ in range(args.threads)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        total = args.threads * args.numbers
        print(
            f"gap-free numbering {args.threads} threads x {args.numbers}: {total / elapsed:.0f} numbers/s errors={len(errors)}"
        )
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
