"""A worker killed in the middle of a step loses nothing: the next sweep resumes the instance."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from xietong.workflow import services
from xietong.workflow.models import ProcessInstance


@pytest.mark.django_db(transaction=True)
def test_killed_worker_resumes_from_the_last_step(company_a, deploy, stamp_service, tmp_path):
    deploy("wait.bpmn", "wait")
    start = timezone.now()
    marker = tmp_path / "in-step"
    env = {
        **os.environ,
        "XT_WF_TEST_DB": str(connection.settings_dict["NAME"]),
        "XT_WF_MARKER": str(marker),
        "DJANGO_SETTINGS_MODULE": "xietong.settings",
    }
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("worker_script.py")), str(company_a.pk)]
        + [start.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, worker.stderr.read() if worker.stderr else ""
            assert time.monotonic() < deadline, "the worker never reached the service task"
            time.sleep(0.05)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.communicate(timeout=30)

    instance = ProcessInstance.unscoped.get(company=company_a)
    # The first step (start, waiting on the timer) was committed; the killed one left no trace.
    assert instance.status == ProcessInstance.Status.RUNNING
    assert instance.next_timer_at == start + dt.timedelta(hours=1)
    assert "stamped" not in instance.data

    assert services.timers_run(now=start + dt.timedelta(hours=2)) == 1
    instance.refresh_from_db()
    assert instance.status == ProcessInstance.Status.COMPLETED
    assert instance.data["stamped"] == {"stamped": "crash"}
    assert [label for _call, label in stamp_service] == ["crash"]
