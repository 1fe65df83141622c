"""Plan to produce as a planner and a shop-floor operator (issue 9's scenario): forecast and a
sales order → MRP → firm planned orders into a requisition and production orders → an
overload seen on the capacity grid → a what-if scenario with an extra shift, compared and
released → release → produce → receive → variances posted; the ledger and the stock sound at
each step. And the what-if rules on their own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from xietong.core.jobs import job_run
from xietong.core.tenancy import company_scope
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.tests.factories import deliver, receive
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.manufacturing import capacity, planning, scenarios
from xietong.manufacturing.models import (
    PlannedOrder,
    PlanRun,
    ProductionOrder,
    Scenario,
)
from xietong.product.bom import routing_create
from xietong.product.models import Product, WorkCenter
from xietong.product.tests.bom_factories import line, make_bom, make_work_center
from xietong.purchase.models import Requisition
from xietong.purchase.tests.factories import buying, material

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def plant(company_a):  # type: ignore[no-untyped-def]
    """Bikes (frame + 2 wheels, all in stock) assembled on one line of 8 hours a day: 60
    minutes per bike, so 40 bikes a week."""
    setup = buying(company_a)
    with company_scope(company_a):
        settings = planning.planning_settings(company_a)
        settings.warehouse, settings.horizon = setup.warehouse, 8
        settings.save()
        frame, wheel = material(company_a, "100", sku="FRAME"), material(company_a, "30",
                                                                          sku="WHEEL")  # fmt: skip
        receive(frame, 200, location=setup.stock, unit_cost=D(100))
        receive(wheel, 400, location=setup.stock, unit_cost=D(30))
        bike = material(company_a, "0", sku="BIKE", supply=Product.Supply.MAKE,
                        manufacturing_lead_days=2)  # fmt: skip
        make_bom(company_a, bike, [line(frame, "1"), line(wheel, "2")])
        assy = make_work_center(company_a, "ASSY", cost="60", overhead="30", hours_per_day=D(8))
        routing_create(company=company_a, actor=None, product=bike, name="Bike", operations=[
            {"sequence": 10, "name": "Assemble", "work_center": assy,
             "setup_minutes": D(0), "run_minutes": D(60)}])  # fmt: skip
    return setup, bike, assy


def _run_job(run):  # type: ignore[no-untyped-def]
    job_run(job_id=run.job_id)
    run.refresh_from_db()
    assert run.state == PlanRun.State.DONE, run.error
    return run


def test_plan_to_produce_as_planner_and_operator(company_a, users_a, client_for, plant,
                                                 django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]  # fmt: skip
    setup, bike, assy = plant
    planner, operator = client_for(users_a["planner"]), client_for(users_a["warehouse_clerk"])
    start = planning.plan_start(timezone.localdate(), "week")
    week2 = start + dt.timedelta(weeks=2)
    with company_scope(company_a):
        deliver(bike, 30, location=setup.stock, planned_date=week2 + dt.timedelta(days=3),
                origin="SO-1", source_type="sales.orderline", source_id=1)  # fmt: skip
    # the planner forecasts 40 more in the same week
    assert planner.post(reverse("manufacturing:forecast_create"), {
        "product": bike.pk, "date": week2.isoformat(), "quantity": "60"}).status_code == 302  # fmt: skip
    with django_capture_on_commit_callbacks():
        planner.post(reverse("manufacturing:run"))
    run = _run_job(PlanRun.unscoped.get(company=company_a))
    bikes = PlannedOrder.unscoped.get(company=company_a, product=bike)
    assert bikes.quantity == D(60)  # 30 ordered + 30 forecast left
    # 60 hours of assembly in one week of 40: the capacity grid shows the overload
    grid = planner.get(reverse("manufacturing:capacity")).content.decode()
    assert "table-danger" in grid and "ASSY" in grid
    # what if the line works a second shift?
    response = planner.post(reverse("manufacturing:scenario_list"), {
        "name": "Second shift", "work_center": assy.pk, "hours_per_day": "16"})  # fmt: skip
    what_if = Scenario.unscoped.get(company=company_a, name="Second shift")
    assert response.status_code == 302
    with django_capture_on_commit_callbacks():
        planner.post(reverse("manufacturing:scenario_run", args=[what_if.pk]))
    _run_job(PlanRun.unscoped.get(scenario=what_if))
    compare = planner.get(reverse("manufacturing:scenario_detail", args=[what_if.pk]))
    html = compare.content.decode()
    assert "Second shift" in html and "16" in html
    figures = scenarios.scenario_kpis(scenario=what_if)
    assert figures["overloads"] == 0 and scenarios.scenario_kpis(
        scenario=run.scenario)["overloads"] >= 1  # fmt: skip
    assert planner.post(reverse("manufacturing:scenario_release",
                                args=[what_if.pk])).status_code == 302  # fmt: skip
    assert WorkCenter.unscoped.get(pk=assy.pk).hours_per_day == D(16)
    assert planning.live_scenario(company_a).pk == what_if.pk
    # firm the live plan: the bikes become a production order, released at once
    planned = PlannedOrder.unscoped.filter(scenario=what_if, state="planned")
    planner.post(reverse("manufacturing:firm"), {"order": [str(p.pk) for p in planned]})
    order = ProductionOrder.unscoped.get(company=company_a)
    operator.post(reverse("manufacturing:order_release", args=[order.pk]))
    # the operator reports the assembly and finishes the order
    op = order.operations.get()
    operator.post(reverse("manufacturing:operation_report", args=[op.pk]),
                  {"minutes": "3900", "quantity": "60", "finished": "on"})  # fmt: skip
    assert operator.post(reverse("manufacturing:order_finish", args=[order.pk]),
                         {"quantity": "60"}).status_code == 302  # fmt: skip
    assert_ledger_sound([company_a])
    assert_stock_sound([company_a])
    assert planner.post(reverse("manufacturing:order_close", args=[order.pk])).status_code == 302
    order.refresh_from_db()
    assert order.state == "closed" and order.received_value == D(60 * (100 + 2 * 30 + 60 + 30))
    assert order.labour_cost == D(3900) and order.overhead_cost == D(1950)  # 300 min over plan
    assert_ledger_sound([company_a])
    assert_stock_sound([company_a])
    assert not Requisition.unscoped.filter(company=company_a).exists()  # all parts in stock


def test_what_if_changes_are_checked_and_demand_can_be_scaled(company_a, plant):  # type: ignore[no-untyped-def]
    setup, bike, assy = plant
    with company_scope(company_a):
        with pytest.raises(ValidationError) as refused:
            scenarios.scenario_create(company=company_a, actor=None, name="", changes={
                "demand_percent": -5, "work_centers": {str(assy.pk): {"hours_per_day": 30}}})  # fmt: skip
        assert {"name"} <= set(refused.value.message_dict)
        with pytest.raises(ValidationError) as refused:
            scenarios.scenario_create(company=company_a, actor=None, name="Bad", changes={
                "demand_percent": -5, "work_centers": {str(assy.pk): {"hours_per_day": 30}}})  # fmt: skip
        assert set(refused.value.message_dict) == {"demand_percent", "hours_per_day"}
        assert not Scenario.unscoped.filter(live=False).exists()
        deliver(bike, 10, location=setup.stock,
                planned_date=timezone.localdate() + dt.timedelta(days=20))  # fmt: skip
        boom = scenarios.scenario_create(company=company_a, actor=None, name="Boom",
                                         changes={"demand_percent": 150})  # fmt: skip
        with pytest.raises(ValidationError):  # not run yet
            scenarios.scenario_release(scenario=boom, actor=None)
        run = PlanRun.unscoped.create(company=company_a, scenario=boom, kind="regenerative",
                                      start=planning.plan_start(timezone.localdate(), "week"),
                                      bucket="week", horizon=8)  # fmt: skip
        planning.mrp_run_execute(run=run)
    assert PlannedOrder.unscoped.get(scenario=boom, product=bike).quantity == D(15)
    assert not PlannedOrder.unscoped.filter(
        scenario__live=True
    ).exists()  # the live plan: untouched
    plan = capacity.capacity_plan(company=company_a, scenario=boom,
                                  start=planning.plan_start(timezone.localdate(), "week"),
                                  bucket="week", horizon=8)  # fmt: skip
    assert sum(plan.load[assy.pk]) == 15 * 60
