"""The what-if comparison's service level and projected inventory value, on a hand-made plan:
a made FG (two weeks to make, 12 in stock, standard cost 100) of two bought C (100 in stock,
cost 10), sold in weeks 1 and 4."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.inventory.tests.factories import deliver, receive, site
from xietong.manufacturing import planning, scenarios
from xietong.manufacturing.models import PlannedOrder, PlanRun, Scenario
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_item

pytestmark = pytest.mark.django_db
D = Decimal
QUERIES = 16  # settings, the last run, plan_input_build (its journal mark too), the orders, costs


@pytest.fixture
def shop(company_a):  # type: ignore[no-untyped-def]
    start = planning.plan_start(timezone.localdate(), "week")
    with company_scope(company_a):
        where = site(company_a)
        settings = planning.planning_settings(company_a)
        settings.horizon = 6
        settings.save()
        fg = make_item(company_a, "FG", cost="100", supply=Product.Supply.MAKE,
                       manufacturing_lead_days=14)  # fmt: skip
        part = make_item(company_a, "C", cost="10")
        make_bom(company_a, fg, [line(part, "2")])
        receive(fg, 12, location=where.stock)
        receive(part, 100, location=where.stock)
        for week, line_id in ((1, 501), (4, 502)):
            deliver(fg, 10, location=where.stock, planned_date=start + dt.timedelta(weeks=week),
                    origin=f"SO-{line_id}", source_type="sales.orderline", source_id=line_id)  # fmt: skip
    return start, fg, part


def _plan(company, scenario):  # type: ignore[no-untyped-def]
    run = PlanRun.unscoped.create(
        company=company, scenario=scenario, kind=PlanRun.Kind.REGENERATIVE,
        start=planning.plan_start(timezone.localdate(), "week"), bucket="week", horizon=6,
    )  # fmt: skip
    run = planning.mrp_run_execute(run=run)
    assert run.state == PlanRun.State.DONE, run.error
    return run


def test_more_demand_lowers_the_service_level_and_the_stock(company_a, users_a, client_for, shop,
                                                            django_assert_max_num_queries):  # type: ignore[no-untyped-def]  # fmt: skip
    start, fg, _part = shop
    live = planning.live_scenario(company_a)
    busy = scenarios.scenario_create(company=company_a, actor=None, name="Busy",
                                     changes={"demand_percent": 150})  # fmt: skip
    with company_scope(company_a):
        _plan(company_a, live)
        _plan(company_a, busy)
    week = [start + dt.timedelta(weeks=k) for k in range(6)]
    # live: the stock covers week 1; 8 made for week 4 (released in week 2)
    assert list(PlannedOrder.unscoped.filter(scenario=live, product=fg).values_list(
        "due_date", "quantity", "past_due")) == [(week[4], D(8), False)]  # fmt: skip
    # +50 %: 3 more for week 1 would have had to start last week: they come in week 2
    assert list(PlannedOrder.unscoped.filter(scenario=busy, product=fg).order_by("due_date")
                .values_list("due_date", "quantity", "past_due")) == [
        (week[1], D(3), True), (week[4], D(15), False)]  # fmt: skip
    base, what_if = scenarios.scenario_kpis(scenario=live), scenarios.scenario_kpis(scenario=busy)
    assert (base["order_lines"], base["late_order_lines"], base["service_level_percent"]) == (
        2, 0, D("100.0"))  # fmt: skip
    assert (what_if["order_lines"], what_if["late_order_lines"],
            what_if["service_level_percent"]) == (2, 1, D("50.0"))  # fmt: skip
    with django_assert_max_num_queries(QUERIES):  # set-based: no query per item or order
        assert scenarios.plan_projection(scenario=busy).late_line_ids == [501]
    # projected stock at the end of each week, FG × 100 + C × 10:
    # live: FG 12, 2, 2, 2, 0, 0; C 100, 100, 84 (16 for the order released in week 2), …
    #   → 2200, 1200, 1040, 1040, 840, 840
    # +50 %: FG 12, 0 (3 short), 0, 0, 0, 0; C 94 (6 released at once), 94, 64, 64, 64, 64
    #   → 2140, 940, 640, 640, 640, 640
    assert scenarios.plan_projection(scenario=live).value_per_bucket == [
        D(2200), D(1200), D(1040), D(1040), D(840), D(840)]  # fmt: skip
    assert (base["inventory_value_average"], base["inventory_value_end"]) == (
        D("1193.33"), D("840.00"))  # fmt: skip
    assert (what_if["inventory_value_average"], what_if["inventory_value_end"]) == (
        D("940.00"), D("640.00"))  # fmt: skip
    # side by side on the comparison screen
    html = client_for(users_a["planner"]).get(
        reverse("manufacturing:scenario_detail", args=[busy.pk])).content.decode()  # fmt: skip
    row = html.split('id="kpi-service_level_percent"')[1].split("</tr>")[0]
    assert "50.0" in row and "100.0" in row
    row = html.split('id="kpi-inventory_value_end"')[1].split("</tr>")[0]
    assert "640.00" in row and "840.00" in row
    assert 'id="kpi-late_order_lines"' in html


def test_zero_demand_leaves_no_line_late_and_no_line_no_service_level(company_a, company_b,
                                                                       shop):  # type: ignore[no-untyped-def]  # fmt: skip
    draft = scenarios.scenario_create(company=company_a, actor=None, name="Empty",
                                      changes={"demand_percent": 0})  # fmt: skip
    with company_scope(company_a):
        _plan(company_a, draft)
    figures = scenarios.scenario_kpis(scenario=draft)
    # demand at 0 %: the lines are still counted, none is late, the stock stays
    assert (figures["order_lines"], figures["late_order_lines"]) == (2, 0)
    assert figures["service_level_percent"] == D("100.0")
    assert figures["inventory_value_end"] == D("2200.00")
    assert not PlannedOrder.unscoped.filter(scenario=draft).exists()
    # a company without sales order lines has no service level to show
    with company_scope(company_b):
        empty = scenarios.plan_projection(scenario=planning.live_scenario(company_b))
    assert (empty.lines, empty.service_level_percent, empty.value_end) == (0, None, D(0))
    assert Scenario.unscoped.filter(company=company_a).count() == 2
