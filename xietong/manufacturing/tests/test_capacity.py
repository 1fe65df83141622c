"""CRP (load against capacity per work center and bucket, with what makes it) and the finite
schedule of the open production orders written back to them; their screens."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from xietong.core.jobs import job_run
from xietong.core.models import Job
from xietong.core.tenancy import company_scope
from xietong.inventory.tests.factories import site
from xietong.manufacturing import capacity, planning
from xietong.manufacturing.models import PlannedOrder, ProductionOperation, ProductionOrder
from xietong.manufacturing.production import OrderRequest, production_orders_create
from xietong.product.bom import routing_create
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_item, make_work_center

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def shop(company_a):  # type: ignore[no-untyped-def]
    """A press (8 h a day, Monday to Friday, a holiday on Wednesday of the first week) making
    bikes: 30 minutes of setup and 12 per bike."""
    with company_scope(company_a):
        site(company_a)
        press = make_work_center(company_a, "PRESS", working_days=[1, 2, 3, 4, 5],
                                 hours_per_day=D(8), holidays=["2026-12-02"])  # fmt: skip
        bike = make_item(company_a, "BIKE", supply=Product.Supply.MAKE)
        make_bom(company_a, bike, [line(make_item(company_a, "TUBE"), "1")])
        routing_create(company=company_a, actor=None, product=bike, name="Bike", operations=[
            {"sequence": 10, "name": "Press", "work_center": press,
             "setup_minutes": D(30), "run_minutes": D(12)}])  # fmt: skip
    return press, bike


def test_load_against_capacity_with_the_orders_that_make_it(company_a, shop):  # type: ignore[no-untyped-def]
    press, bike = shop
    scenario = planning.live_scenario(company_a)
    PlannedOrder.unscoped.create(company=company_a, scenario=scenario, product=bike,
                                 supply="make", release_date=MONDAY + dt.timedelta(days=1),
                                 due_date=MONDAY + dt.timedelta(days=3), quantity=D(200))  # fmt: skip
    with company_scope(company_a):
        (order,) = production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(bike, D(10), MONDAY + dt.timedelta(days=8),
                         MONDAY + dt.timedelta(days=9))])  # fmt: skip
    plan = capacity.capacity_plan(company=company_a, scenario=scenario, start=MONDAY,
                                  bucket="week", horizon=3)  # fmt: skip
    assert plan.capacity[press.pk] == [4 * 480, 5 * 480, 5 * 480]  # the holiday is off
    assert plan.load[press.pk] == [30 + 12 * 200, 30 + 12 * 10, 0]
    assert [(c.code, b) for c, b, _load, _cap in plan.overloads()] == [("PRESS", 0)]
    (source,) = plan.sources[(press.pk, 1)]
    assert source.kind == "production" and source.pk == order.pk and source.minutes == 150


def test_the_schedule_is_written_back_without_overlap_inside_working_hours(company_a, shop):  # type: ignore[no-untyped-def]
    _press, bike = shop
    tz = zoneinfo.ZoneInfo(company_a.timezone)
    with company_scope(company_a):
        orders = production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(bike, D(30), MONDAY, MONDAY + dt.timedelta(days=3)),
            OrderRequest(bike, D(10), MONDAY, MONDAY)])  # fmt: skip
        now = dt.datetime.combine(MONDAY, dt.time(8), tzinfo=tz)
        result = capacity.production_schedule(company=company_a, now=now, time_limit=2)
    assert result.operations == 2 and result.status in ("OPTIMAL", "FEASIBLE", "GREEDY")
    ops = list(ProductionOperation.objects.filter(order__in=orders).order_by("scheduled_start"))
    # the order due Monday goes first: 150 minutes from 08:00; then 390 minutes of the other
    assert [op.order_id for op in ops] == [orders[1].pk, orders[0].pk]
    assert ops[0].scheduled_start == now and ops[0].scheduled_end == now + dt.timedelta(
        minutes=150)  # fmt: skip
    assert ops[1].scheduled_start >= ops[0].scheduled_end
    assert ops[1].scheduled_end.astimezone(tz).time() <= dt.time(16)  # an 8-hour day
    first = ProductionOrder.unscoped.get(pk=orders[1].pk)
    assert (first.scheduled_start, first.scheduled_end) == (ops[0].scheduled_start,
                                                            ops[0].scheduled_end)  # fmt: skip
    assert result.late_orders == 0


def test_capacity_and_schedule_screens(company_a, users_a, client_for, shop):  # type: ignore[no-untyped-def]
    press, bike = shop
    with company_scope(company_a):
        production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(bike, D(100), timezone.localdate(), timezone.localdate())])  # fmt: skip
    planner = client_for(users_a["planner"])
    html = planner.get(reverse("manufacturing:capacity")).content.decode()
    assert "PRESS" in html and 'id="load-grid"' in html and "capacity-chart" in html
    drill = planner.get(reverse("manufacturing:capacity") + f"?center={press.pk}&bucket=0")
    assert "MO/" in drill.content.decode()
    response = planner.post(reverse("manufacturing:schedule_run"))
    job = Job.unscoped.get(company=company_a, kind="manufacturing.schedule")
    assert response.status_code == 302
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.message
    html = planner.get(reverse("manufacturing:schedule")).content.decode()
    assert 'id="gantt"' in html and "PRESS" in html
    assert (
        client_for(users_a["buyer"]).post(reverse("manufacturing:schedule_run")).status_code == 403
    )
