"""The ETL as a background job (kind `analytics.refresh`, started from the pivot screen or
the API) and as a periodic run of the worker, at most every `ANALYTICS_REFRESH_SECONDS`
(default 900; 0 turns it off)."""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings

from xietong.analytics import etl
from xietong.core import jobs

logger = logging.getLogger(__name__)
_last_run = {"at": 0.0}


def refresh_job(context: jobs.JobContext, full: bool = False) -> dict[str, Any]:
    def progress(table: str) -> None:
        context.progress(0, None, table)

    result = etl.etl_run(full=bool(full), progress=progress)
    total = sum(result["rows"].values())
    context.progress(total, total, "")
    return {"full": result["full"], "rows": result["rows"]}


def refresh_periodic() -> None:
    every = int(getattr(settings, "ANALYTICS_REFRESH_SECONDS", 900))
    if every <= 0 or time.monotonic() - _last_run["at"] < every:
        return
    _last_run["at"] = time.monotonic()
    etl.etl_run()


def register() -> None:
    jobs.register("analytics.refresh", refresh_job)
    jobs.register_periodic("analytics.refresh", refresh_periodic)
