"""Housekeeping the worker does beside the job queue.

SQLite plans queries from the statistics `ANALYZE` gathers; without them it may pick the index
of the first equality columns over a better partial index (the workflow inbox's overdue query
read 100,000 rows instead of a few hundred). The worker refreshes them once an hour, with an
analysis limit so each table costs milliseconds however large it grows. PostgreSQL's
autovacuum does the same on its own.
"""

from __future__ import annotations

import time

from django.db import connection

STATISTICS_EVERY = 3600.0  # seconds
ANALYSIS_LIMIT = 1000  # rows sampled per index: approximate statistics, fast on any size
_last_run = 0.0


def sqlite_statistics(*, force: bool = False) -> bool:
    """Refresh SQLite's planner statistics if an hour has passed; returns whether it ran."""
    global _last_run
    if connection.vendor != "sqlite":
        return False
    if not force and time.monotonic() - _last_run < STATISTICS_EVERY:
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
        cursor.execute("ANALYZE")
    _last_run = time.monotonic()
    return True
