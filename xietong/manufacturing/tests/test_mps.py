"""The master production schedule: forecast consumed by orders, time fences, supply from the
plan and production orders, projected available balance and discrete available-to-promise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.inventory.tests.factories import deliver, receive, site
from xietong.manufacturing import mps, planning
from xietong.manufacturing.models import (
    Forecast,
    MpsEntry,
    PegDemand,
    PlanException,
    PlannedOrder,
    PlanRun,
)
from xietong.manufacturing.production import OrderRequest, production_orders_create
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_item

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY = dt.date(2026, 11, 30)


def test_available_to_promise_is_discrete_and_borrows_from_earlier_supply() -> None:
    # on hand 10; supply 30 in bucket 2 and 20 in bucket 4; orders 5, 8, 12, 0, 25
    atp = mps.available_to_promise(D(10), [D(0), D(0), D(30), D(0), D(20)],
                                   [D(5), D(8), D(12), D(0), D(25)])  # fmt: skip
    # bucket 0: 10 − 13 = −3 stays (nothing earlier); bucket 2: 30 − 12 = 18;
    # bucket 4: 20 − 25 = −5 → taken from bucket 2 (13)
    assert atp == [D(-3), D(0), D(13), D(0), D(0)]


def test_the_schedule_of_a_bike(company_a, users_a, client_for):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        where = site(company_a)
        bike = make_item(company_a, "BIKE", supply=Product.Supply.MAKE)
        make_bom(company_a, bike, [line(make_item(company_a, "TUBE"), "1")])
        receive(bike, 4, location=where.stock)
        deliver(bike, 6, location=where.stock, planned_date=MONDAY + dt.timedelta(days=8),
                source_type="sales.orderline", source_id=1)  # fmt: skip
        for week, quantity in ((0, 50), (1, 10), (2, 10)):
            Forecast.unscoped.create(company=company_a, product=bike, quantity=D(quantity),
                                     date=MONDAY + dt.timedelta(weeks=week))  # fmt: skip
        PlannedOrder.unscoped.create(company=company_a, scenario=planning.live_scenario(company_a),
                                     product=bike, supply="make", quantity=D(12),
                                     release_date=MONDAY, due_date=MONDAY + dt.timedelta(days=9))  # fmt: skip
        production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(bike, D(5), MONDAY, MONDAY + dt.timedelta(days=15))])  # fmt: skip
    table = mps.master_schedule(company=company_a, product=bike, start=MONDAY, bucket="week",
                                horizon=4)  # fmt: skip
    assert table.fences == ["frozen", "slushy", "slushy", "slushy"]
    assert table.forecast == [D(50), D(10), D(10), D(0)]
    assert table.orders == [D(0), D(6), D(0), D(0)]
    # week 0 frozen: the forecast does not count; week 1: 6 ordered + 4 left of the forecast
    assert table.demand == [D(0), D(10), D(10), D(0)]
    assert table.supply == [D(0), D(12), D(5), D(0)]
    assert table.projected == [D(4), D(6), D(1), D(1)]
    assert table.atp == [D(4), D(6), D(5), D(0)]
    html = client_for(users_a["planner"]).get(reverse("manufacturing:mps") + f"?product={bike.pk}")
    assert html.status_code == 200 and 'id="mps"' in html.content.decode()


# --- firm MPS entries -----------------------------------------------------------------------


def _week(n: int) -> dt.date:
    return MONDAY + dt.timedelta(weeks=n)


@pytest.fixture
def scheduled(company_a):  # type: ignore[no-untyped-def]
    """A made FG (7 days) of two bought C per unit; sales orders of FG in weeks 1, 2, 3 and 5;
    frozen fence two weeks, slushy four."""
    with company_scope(company_a):
        where = site(company_a)
        settings = planning.planning_settings(company_a)
        settings.frozen_days, settings.slushy_days, settings.horizon = 14, 28, 8
        settings.save()
        fg = make_item(company_a, "FG", supply=Product.Supply.MAKE, manufacturing_lead_days=7)
        part = make_item(company_a, "C")
        make_bom(company_a, fg, [line(part, "2")])
        for week, quantity in ((1, 30), (2, 20), (3, 40), (5, 10)):
            deliver(fg, quantity, location=where.stock, planned_date=_week(week),
                    origin=f"SO-{week}", source_type="sales.orderline", source_id=week)  # fmt: skip
    return fg, part


def _run(company):  # type: ignore[no-untyped-def]
    run = PlanRun.unscoped.create(
        company=company, scenario=planning.live_scenario(company),
        kind=PlanRun.Kind.REGENERATIVE, start=MONDAY, bucket="week", horizon=8,
    )  # fmt: skip
    run = planning.mrp_run_execute(run=run)
    assert run.state == PlanRun.State.DONE, run.error
    return run


def _orders(company, sku):  # type: ignore[no-untyped-def]
    return list(
        PlannedOrder.unscoped.filter(company=company, product__sku=sku)
        .order_by("due_date")
        .values_list("due_date", "quantity")
    )


def test_firm_entry_is_checked_snapped_replaced_and_deleted(company_a, users_a, scheduled):  # type: ignore[no-untyped-def]
    fg, part = scheduled
    planner = users_a["planner"]

    def firm(product, date, quantity):  # type: ignore[no-untyped-def]
        return mps.mps_entry_set(company=company_a, product=product, date=date,
                                 quantity=quantity, actor=planner, today=MONDAY)  # fmt: skip

    refusals = [
        ((part, _week(1), D(5)), "product"),  # bought, not made
        ((fg, MONDAY - dt.timedelta(days=1), D(5)), "date"),  # before the horizon
        ((fg, _week(8), D(5)), "date"),  # beyond it (8 weeks)
        ((fg, _week(1), D(-1)), "quantity"),
        ((fg, _week(1), D("2.5")), "quantity"),  # pieces round to 1
    ]
    for args, field in refusals:
        with pytest.raises(ValidationError) as caught:
            firm(*args)
        assert list(caught.value.message_dict) == [field]
    assert not MpsEntry.unscoped.filter(company=company_a).exists()
    entry = firm(fg, _week(2) + dt.timedelta(days=3), D(25))  # a Thursday: its week's Monday
    assert (entry.date, entry.quantity, entry.created_by) == (_week(2), D(25), planner)
    again = firm(fg, _week(2), D(0))  # zero: nothing here, firmly
    assert again.pk == entry.pk and again.quantity == D(0)
    assert mps.mps_entry_delete(company=company_a, product=fg, date=_week(2), actor=planner,
                                today=MONDAY)  # fmt: skip
    assert not MpsEntry.unscoped.filter(company=company_a).exists()
    # weeks 0 and 1 are frozen (14 days): no entry is made, changed or removed there
    with pytest.raises(ValidationError) as caught:
        firm(fg, _week(1), D(5))
    assert "frozen fence (until 2026-12-13)" in caught.value.message_dict["date"][0]
    entered = mps.mps_entry_set(
        company=company_a, product=fg, date=_week(1), quantity=D(5), actor=planner, today=_week(-1)
    )  # a week ago: slushy then
    assert firm(fg, _week(1), D(5)) == entered  # the same quantity again: no change
    for change in (lambda: firm(fg, _week(1), D(6)),
                   lambda: mps.mps_entry_delete(company=company_a, product=fg, date=_week(1),
                                                actor=planner, today=MONDAY),
                   lambda: mps.mps_entries_save(company=company_a, product=fg, actor=planner,
                                                today=MONDAY, quantities={_week(1): ""})):  # fmt: skip
        with pytest.raises(ValidationError):
            change()
    assert mps.mps_entries_save(company=company_a, product=fg, actor=planner, today=MONDAY,
                                quantities={_week(1): "5"}) == 0  # unchanged: accepted  # fmt: skip
    assert list(MpsEntry.unscoped.values_list("date", "quantity")) == [(_week(1), D(5))]
    entered.delete()
    # several at once: all or nothing
    with pytest.raises(ValidationError) as caught:
        mps.mps_entries_save(company=company_a, product=fg, actor=planner, today=MONDAY,
                             quantities={_week(2): D(10), _week(3): "-4"})  # fmt: skip
    assert list(caught.value.message_dict) == [_week(3).isoformat()]
    assert not MpsEntry.unscoped.filter(company=company_a).exists()
    assert mps.mps_entries_save(company=company_a, product=fg, actor=planner, today=MONDAY,
                                quantities={_week(2): "10", _week(3): ""}) == 1  # fmt: skip
    assert list(MpsEntry.unscoped.values_list("date", "quantity")) == [(_week(2), D(10))]


def test_mrp_plans_around_the_firm_schedule(company_a, users_a, scheduled):  # type: ignore[no-untyped-def]
    fg, _part = scheduled
    with company_scope(company_a):
        for week, quantity in ((1, 25), (3, 40)):  # entered two weeks ago (week 1 is frozen now)
            mps.mps_entry_set(company=company_a, product=fg, date=_week(week),
                              quantity=D(quantity), actor=None, today=_week(-2))  # fmt: skip
        run = _run(company_a)
    assert run.figures["mps_entries"] == 2
    # week 1 (frozen): 25 firm for 30 ordered, no new order, an expedite message; week 2
    # (slushy, no entry): planned; week 3 (slushy, firm 40): none; week 5 (liquid): planned
    assert _orders(company_a, "FG") == [(_week(2), D(25)), (_week(5), D(10))]
    assert list(PlanException.unscoped.filter(company=company_a).values_list(
        "product__sku", "kind", "date", "suggested_date", "quantity")) == [
        ("FG", PlanException.Kind.EXPEDITE, _week(1), _week(2), D(5))]  # fmt: skip
    # the firm entries explode into their components at their release
    assert _orders(company_a, "C") == [(_week(0), D(50)), (_week(1), D(50)), (_week(2), D(80)),
                                       (_week(4), D(20))]  # fmt: skip
    first = PlannedOrder.unscoped.get(company=company_a, product__sku="C", due_date=_week(0))
    entry = MpsEntry.unscoped.get(company=company_a, date=_week(1))
    assert [(p.demand, p.demand_id, p.reference, p.quantity)
            for p in planning.pegs_of(first.scenario_id, [first.pk])[first.pk]] == [
        (PegDemand.MPS, entry.pk, f"FG {_week(1)}", D(50))]  # fmt: skip
    # the schedule: firm row, projected balance and ATP include it
    table = mps.master_schedule(company=company_a, product=fg, start=MONDAY, bucket="week",
                                horizon=6)  # fmt: skip
    assert table.firm == [None, D(25), None, D(40), None, None]
    assert table.supply == [D(0), D(0), D(25), D(0), D(0), D(10)]
    assert table.projected == [D(0), D(-5), D(0), D(0), D(0), D(0)]
    assert table.atp == [D(-5), D(0), D(5), D(0), D(0), D(0)]
    # zero firmly in week 2: the shortage waits for the first liquid week
    with company_scope(company_a):
        mps.mps_entry_set(company=company_a, product=fg, date=_week(2), quantity=D(0),
                          actor=None, today=MONDAY)  # fmt: skip
        _run(company_a)
    assert _orders(company_a, "FG") == [(_week(4), D(25)), (_week(5), D(10))]
    assert list(PlanException.unscoped.filter(company=company_a).values_list(
        "kind", "date", "suggested_date", "quantity")) == [
        (PlanException.Kind.EXPEDITE, _week(1), _week(4), D(25))]  # fmt: skip


def test_the_planner_edits_the_firm_row(company_a, users_a, client_for, scheduled):  # type: ignore[no-untyped-def]
    fg, _part = scheduled
    start = planning.plan_start(timezone.localdate(), "week")
    w1, w2 = (start + dt.timedelta(weeks=k) for k in (2, 3))  # slushy (weeks 0 and 1 frozen)
    url = reverse("manufacturing:mps")
    planner = client_for(users_a["planner"])
    response = planner.post(url, {"product": fg.pk, f"firm-{w1}": "12", f"firm-{w2}": ""})
    assert response.status_code == 302
    assert list(MpsEntry.unscoped.values_list("date", "quantity")) == [(w1, D(12))]
    html = planner.get(url + f"?product={fg.pk}").content.decode()
    assert "Firm MPS" in html and f'name="firm-{w1}" value="12"' in html
    frozen = html.split(f'name="firm-{start + dt.timedelta(weeks=1)}"')[1].split(">")[0]
    assert (
        "readonly" in frozen and "readonly" not in html.split(f'name="firm-{w1}"')[1].split(">")[0]
    )
    # refused input: the error in its cell, nothing changed
    response = planner.post(url, {"product": fg.pk, f"firm-{w1}": "7", f"firm-{w2}": "2.5"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "is-invalid" in html and "multiple of 1" in html and 'value="2.5"' in html
    assert list(MpsEntry.unscoped.values_list("date", "quantity")) == [(w1, D(12))]
    response = planner.post(url, {"product": fg.pk, f"firm-{w1}": "-1"})
    assert response.status_code == 400 and "zero or more" in response.content.decode()
    tuesday = w1 + dt.timedelta(days=1)  # not a bucket of the screen: said on top
    response = planner.post(url, {"product": fg.pk, f"firm-{tuesday}": "5"})
    assert (
        response.status_code == 400 and "Not the first day of a bucket" in response.content.decode()
    )
    assert list(MpsEntry.unscoped.values_list("date", "quantity")) == [(w1, D(12))]
    # emptied: the entry goes
    assert planner.post(url, {"product": fg.pk, f"firm-{w1}": ""}).status_code == 302
    assert not MpsEntry.unscoped.exists()
    # who may only look sees the row without inputs and cannot post
    viewer = client_for(users_a["sales_manager"])
    html = viewer.get(url + f"?product={fg.pk}").content.decode()
    assert "Firm MPS" in html and 'name="firm-' not in html
    assert viewer.post(url, {"product": fg.pk, f"firm-{w1}": "5"}).status_code == 403
    assert not MpsEntry.unscoped.exists()
