"""The demand forecast screen: who sees it, the list with classes and metrics against the
seasonal naive, one product's chart, starting a run (a background job that writes the
statistical forecast), and a bad horizon refused."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from xietong.analytics import forecast_run
from xietong.analytics.tests.test_forecast import _facts, _seasonal
from xietong.core import jobs
from xietong.core.models import Job
from xietong.manufacturing.models import Forecast
from xietong.sales.tests.factories import item

pytestmark = pytest.mark.django_db


@pytest.fixture
def sold(company_a):  # type: ignore[no-untyped-def]
    p = item(company_a, sku="FV-1")
    current = forecast_run.week_start(timezone.localdate())
    weeks = [current - dt.timedelta(weeks=k) for k in range(60, 0, -1)]
    _facts(company_a, [(p.pk, 1, d, float(v))
                       for d, v in zip(weeks, _seasonal(60, 3, 30), strict=True)])  # fmt: skip
    return p


def test_only_planners_and_executives_see_the_screen(company_a, users_a, client_for):
    url = reverse("analytics:forecast")
    for role in ("planner", "executive"):
        assert client_for(users_a[role]).get(url).status_code == 200
    for role in ("sales_rep", "warehouse_clerk"):
        assert client_for(users_a[role]).get(url).status_code == 403
    assert (
        client_for(users_a["sales_rep"]).post(reverse("analytics:forecast_run")).status_code == 403
    )
    assert not Job.unscoped.filter(kind="analytics.forecast").exists()


def test_run_job_then_list_and_chart(sold, company_a, users_a, client_for):
    client = client_for(users_a["planner"])
    html = client.get(reverse("analytics:forecast")).content.decode()
    assert 'id="forecast-none"' in html and reverse("manufacturing:forecast_list") in html
    response = client.post(reverse("analytics:forecast_run"), {"horizon": "8"})
    job = Job.unscoped.get(kind="analytics.forecast")
    assert response.status_code == 302 and job.params == {"horizon": 8}
    jobs.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.message
    assert Forecast.unscoped.filter(company=company_a, source="statistical",
                                    product=sold).count() == 8  # fmt: skip
    html = client.get(reverse("analytics:forecast")).content.decode()
    assert 'id="forecast-table"' in html and "FV-1" in html and 'id="forecast-summary"' in html
    # the demand pattern by its name, not its key
    assert any(f"<td>{label}</td>" in html for label in ("Smooth", "Erratic", "Intermittent",
                                                          "Lumpy", "No demand"))  # fmt: skip
    response = client.get(reverse("analytics:forecast") + f"?product={sold.pk}")
    html = response.content.decode()
    assert 'data-chart="forecast-chart-data"' in html
    chart = response.context["chart"]
    names = [s["name"] for s in chart["series"]]
    assert names == ["History", "Backtest", "Seasonal naive", "Forecast", "Planner override"]
    assert sum(v is not None for v in chart["series"][3]["data"]) == 8
    json.dumps(chart)  # serialisable for the page
    html = client.get(reverse("analytics:forecast") + "?level=product_warehouse").content.decode()
    assert "FV-1" in html


def test_bad_horizon_starts_nothing(company_a, users_a, client_for):
    client = client_for(users_a["planner"])
    for value in ("0", "500", "x"):
        response = client.post(reverse("analytics:forecast_run"), {"horizon": value})
        assert response.status_code == 302
    assert not Job.unscoped.filter(kind="analytics.forecast").exists()
