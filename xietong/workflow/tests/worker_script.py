"""Run by test_crash.py in a subprocess: start an instance, then hang inside its next step."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time

import django
from django.conf import settings

settings.DATABASES["default"]["NAME"] = os.environ["XT_WF_TEST_DB"]
django.setup()

from xietong.core.models import Company  # noqa: E402
from xietong.workflow import registry, services  # noqa: E402


def hang(call, *, label):  # type: ignore[no-untyped-def]
    with open(os.environ["XT_WF_MARKER"], "w") as marker:
        marker.write(str(call.instance_id))
    time.sleep(600)  # the test kills us here, mid-step, inside the transaction


registry.register("test.stamp", hang)
company = Company.objects.get(pk=int(sys.argv[1]))
start = dt.datetime.fromisoformat(sys.argv[2])
instance = services.process_start(
    company=company, actor=None, key="wait", data={"label": "crash"}, now=start
)
print(instance.pk, flush=True)
services.timers_run(now=start + dt.timedelta(hours=2))
