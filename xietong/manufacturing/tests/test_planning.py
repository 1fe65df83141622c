"""MRP on the database: the input read from stock, moves, requisitions and forecasts; the run as
a job; the plan written in one transaction that replaces the previous one."""

from __future__ import annotations

import datetime as dt
import itertools
import zlib
from decimal import Decimal

import numpy as np
import pytest

from xietong.core.jobs import job_run
from xietong.core.tenancy import company_scope
from xietong.inventory.tests.factories import deliver, receive, site
from xietong.manufacturing import planning
from xietong.manufacturing.models import (
    Forecast,
    PegDemand,
    PlanException,
    PlannedOrder,
    PlanPegging,
    PlanRun,
)
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_item

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def plant(company_a):  # type: ignore[no-untyped-def]
    """A bike (made in 7 days) of a frame (made in 14 days, fixed lots of 50) and two wheels
    (bought in 10 days); five wheels in stock."""
    with company_scope(company_a):
        where = site(company_a)
        bike = make_item(company_a, "BIKE", supply=Product.Supply.MAKE,
                         manufacturing_lead_days=7)  # fmt: skip
        frame = make_item(company_a, "FRAME", supply=Product.Supply.MAKE,
                          manufacturing_lead_days=14, lot_sizing=Product.LotSizing.FIXED,
                          lot_size=D(50))  # fmt: skip
        wheel = make_item(company_a, "WHEEL", purchase_lead_days=10)
        make_bom(company_a, bike, [line(frame, "1"), line(wheel, "2")])
        receive(wheel, 5, location=where.stock)
    return where, bike, frame, wheel


def _run(company, **fields):  # type: ignore[no-untyped-def]
    settings = planning.planning_settings(company)
    run = PlanRun.unscoped.create(
        company=company, scenario=planning.live_scenario(company),
        kind=PlanRun.Kind.REGENERATIVE, start=MONDAY, bucket=settings.bucket,
        horizon=fields.pop("horizon", 12),
    )  # fmt: skip
    return planning.mrp_run_execute(run=run)


def _orders(company, sku):  # type: ignore[no-untyped-def]
    return list(
        PlannedOrder.unscoped.filter(company=company, product__sku=sku)
        .order_by("due_date")
        .values_list("supply", "release_date", "due_date", "quantity")
    )


def _pegs(order):  # type: ignore[no-untyped-def]
    return planning.pegs_of(order.scenario_id, [order.pk]).get(order.pk, [])


def test_a_sales_order_is_exploded_into_planned_orders_with_pegging(company_a, plant):  # type: ignore[no-untyped-def]
    where, bike, _frame, _wheel = plant
    with company_scope(company_a):
        deliver(bike, 10, location=where.stock, planned_date=MONDAY + dt.timedelta(days=21),
                origin="SO-7", source_type="sales.orderline", source_id=77)  # fmt: skip
        run = _run(company_a)
    assert run.state == PlanRun.State.DONE, run.error
    week4 = MONDAY + dt.timedelta(days=21)
    assert _orders(company_a, "BIKE") == [("make", week4 - dt.timedelta(days=7), week4, D(10))]
    # the bike's release (week 3) is the frame's and wheels' need
    week3 = week4 - dt.timedelta(days=7)
    assert _orders(company_a, "FRAME") == [("make", week3 - dt.timedelta(days=14), week3, D(50))]
    assert _orders(company_a, "WHEEL") == [("buy", week3 - dt.timedelta(days=10), week3, D(15))]
    bike_order = PlannedOrder.unscoped.get(company=company_a, product__sku="BIKE")
    wheel_order = PlannedOrder.unscoped.get(company=company_a, product__sku="WHEEL")
    # stored one level up: the wheels serve the bike order…
    assert [(p.parent_id, p.quantity) for p in _pegs(wheel_order)] == [(bike_order.pk, D(15))]
    # …and composed, the sales order line (5 wheels in stock cover the rest)
    assert [(p.demand, p.demand_id, p.reference, p.quantity)
            for p in planning.pegging_full(wheel_order)] == [("sales", 77, "SO-7", D(15))]  # fmt: skip
    frame_order = PlannedOrder.unscoped.get(company=company_a, product__sku="FRAME")
    assert sorted((p.demand, p.quantity) for p in planning.pegging_full(frame_order)) == [
        (PegDemand.LOT, D(40)), (PegDemand.SALES, D(10))]  # fmt: skip
    assert run.figures["planned_orders"] == 3 and run.figures["items"] == 3


def test_forecast_is_consumed_by_orders_and_ignored_inside_the_frozen_fence(company_a, plant):  # type: ignore[no-untyped-def]
    where, bike, _frame, _wheel = plant
    week4 = MONDAY + dt.timedelta(days=21)
    with company_scope(company_a):
        deliver(bike, 10, location=where.stock, planned_date=week4,
                source_type="sales.orderline", source_id=1)  # fmt: skip
        Forecast.unscoped.create(company=company_a, product=bike, date=week4, quantity=D(25))
        Forecast.unscoped.create(company=company_a, product=bike, date=MONDAY, quantity=D(99))
        _run(company_a)
    # 10 ordered + (25 − 10) forecast left; the frozen week's forecast does not count
    assert [row[3] for row in _orders(company_a, "BIKE")] == [D(25)]
    pegs = _pegs(PlannedOrder.unscoped.get(company=company_a, product__sku="BIKE"))
    assert sorted((p.demand, p.quantity) for p in pegs) == [
        (PegDemand.FORECAST, D(15)), (PegDemand.SALES, D(10))]  # fmt: skip


def test_forecast_net_consumes_backward_then_forward() -> None:
    d = dt.date(2027, 1, 11)
    forecasts = [(1, 7, d - dt.timedelta(days=7), D(5)), (2, 7, d, D(5)),
                 (3, 7, d + dt.timedelta(days=7), D(5)), (4, 8, d, D(5))]  # fmt: skip
    left = planning.forecast_net(forecasts, [(7, d, D(12))], start=d - dt.timedelta(days=30),
                                 frozen_days=0, backward_days=7, forward_days=7)  # fmt: skip
    assert sorted((pk, qty) for pk, _p, _d, qty in left) == [(3, D(3)), (4, D(5))]


def test_a_scheduled_receipt_is_used_and_a_late_one_gets_an_exception(company_a, plant):  # type: ignore[no-untyped-def]
    where, bike, _frame, wheel = plant
    week4 = MONDAY + dt.timedelta(days=21)
    with company_scope(company_a):
        deliver(bike, 10, location=where.stock, planned_date=week4)
        from xietong.inventory import stock
        from xietong.inventory.tests.factories import move

        late = move(wheel, 15, where.supplier, where.stock, planned_date=week4,
                    origin="PO-9")  # fmt: skip
        stock.moves_confirm(moves=[late])
        _run(company_a)
    # the receipt comes a week after the need: the plan covers the need meanwhile (receipts are
    # not moved by MRP) and tells the buyer to expedite it
    week3 = week4 - dt.timedelta(days=7)
    assert _orders(company_a, "WHEEL") == [("buy", week3 - dt.timedelta(days=10), week3, D(15))]
    expedite = PlanException.unscoped.get(company=company_a, product=wheel)
    assert expedite.kind == PlanException.Kind.EXPEDITE
    assert expedite.reference == "PO-9" and expedite.date == week4
    assert expedite.suggested_date == week4 - dt.timedelta(days=7)


def test_a_new_run_replaces_the_plan_and_a_failed_run_keeps_it(company_a, plant, monkeypatch):  # type: ignore[no-untyped-def]
    where, bike, _frame, _wheel = plant
    with company_scope(company_a):
        deliver(bike, 10, location=where.stock, planned_date=MONDAY + dt.timedelta(days=21))
        _run(company_a)
        first = set(PlannedOrder.unscoped.filter(company=company_a).values_list("pk", flat=True))
        _run(company_a)
        second = set(PlannedOrder.unscoped.filter(company=company_a).values_list("pk", flat=True))
        assert len(second) == 3 and not first & second

        def refuse(inp, **kwargs):  # type: ignore[no-untyped-def]
            raise planning.engine.PlanError("bom_cycle", "BOM cycle: BIKE → FRAME → BIKE")

        monkeypatch.setattr(planning.engine, "plan", refuse)
        failed = _run(company_a)
    assert failed.state == PlanRun.State.FAILED and "BOM cycle" in failed.error
    assert set(PlannedOrder.unscoped.filter(company=company_a).values_list("pk", flat=True)) == (
        second
    )


def _lines(company):  # type: ignore[no-untyped-def]
    """Every stored pegging line of the company's scenarios: (order, target, kind)."""
    found = []
    for data in PlanPegging.objects.filter(
        scenario__in=planning.Scenario.unscoped.filter(company=company).values("pk")
    ).values_list("data", flat=True):
        records = np.frombuffer(zlib.decompress(bytes(data)), dtype=planning.PEG_RECORD)
        found += [(o, t, planning.DEMANDS[k]) for o, t, k, _r, _q in records.tolist()]
    return found


def _dangling(company):  # type: ignore[no-untyped-def]
    """Plan rows that point nowhere (the plan's links are not checked by the database)."""
    orders = set(PlannedOrder.unscoped.values_list("pk", flat=True))
    lines = _lines(company)
    return {
        "pegs": sum(order not in orders for order, _t, _k in lines)
        + sum(kind == PegDemand.ORDER and target not in orders for _o, target, kind in lines),
        "orders": PlannedOrder.unscoped.filter(company=company)
        .exclude(product__in=Product.unscoped.values("pk")).count()
        + PlannedOrder.unscoped.filter(company=company)
        .exclude(scenario__in=planning.Scenario.unscoped.values("pk")).count(),
    }  # fmt: skip


def test_a_new_run_leaves_no_pegging_pointing_nowhere(company_a, plant):  # type: ignore[no-untyped-def]
    """A new run replaces the scenario's pegging whole: the orders it firmed stay, none of
    the new lines points to an order the run replaced."""
    where, bike, _frame, wheel = plant
    with company_scope(company_a):
        deliver(bike, 10, location=where.stock, planned_date=MONDAY + dt.timedelta(days=21),
                origin="SO-7", source_type="sales.orderline", source_id=77)  # fmt: skip
        _run(company_a)
        firmed = PlannedOrder.unscoped.get(company=company_a, product=wheel)
        assert any(p.parent_id for p in _pegs(firmed))
        PlannedOrder.unscoped.filter(pk=firmed.pk).update(state=PlannedOrder.State.FIRMED)
        _run(company_a)
    assert _dangling(company_a) == {"pegs": 0, "orders": 0}
    assert PlannedOrder.unscoped.filter(pk=firmed.pk).exists()
    assert not _pegs(firmed)
    assert any(kind == PegDemand.ORDER for _o, _t, kind in _lines(company_a))  # the new plan's


def test_pegging_is_stored_in_chunks_an_order_never_split(company_a, plant, monkeypatch):  # type: ignore[no-untyped-def]
    where, bike, _frame, _wheel = plant
    monkeypatch.setattr(planning, "PEG_CHUNK", 2)
    with company_scope(company_a):
        for week, so in ((3, 1), (4, 2), (5, 3), (6, 4)):
            deliver(bike, 5, location=where.stock, planned_date=MONDAY + dt.timedelta(weeks=week),
                    origin=f"SO-{so}", source_type="sales.orderline", source_id=so)  # fmt: skip
        run = _run(company_a)
    chunks = list(PlanPegging.objects.filter(run=run).order_by("first_order"))
    assert len(chunks) > 1 and sum(c.lines for c in chunks) == run.figures["pegging_rows"]
    assert all(a.last_order < b.first_order for a, b in itertools.pairwise(chunks))
    orders = list(PlannedOrder.unscoped.filter(company=company_a).order_by("pk"))
    read = planning.pegs_of(orders[0].scenario_id, [o.pk for o in orders])
    assert sum(len(v) for v in read.values()) == run.figures["pegging_rows"]
    bikes = [o for o in orders if o.product_id == bike.pk]
    assert sorted((p.reference, p.demand_id, p.quantity) for o in bikes for p in read[o.pk]) == [
        (f"SO-{so}", so, D(5)) for so in (1, 2, 3, 4)]  # fmt: skip


def test_the_run_is_a_job_started_after_commit(
    company_a, plant, users_a, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    where, bike, _frame, _wheel = plant
    planner = users_a["planner"]
    with company_scope(company_a):
        deliver(bike, 4, location=where.stock, planned_date=MONDAY + dt.timedelta(days=21))
        with django_capture_on_commit_callbacks() as callbacks:
            run = planning.mrp_run_request(company=company_a, actor=planner, start=MONDAY)
        assert len(callbacks) == 1 and run.state == PlanRun.State.QUEUED
        with pytest.raises(planning.PlanningError):
            planning.mrp_run_request(company=company_a, actor=planner)
    job_run(job_id=run.job_id)
    run.refresh_from_db()
    assert run.state == PlanRun.State.DONE
    assert run.job.status == "done" and "3 planned orders" in run.job.message
    assert PlannedOrder.unscoped.filter(company=company_a, run=run).count() == 3


def test_an_unexpected_failure_fails_the_run_and_frees_the_plan(
    company_a, plant, users_a, monkeypatch, django_capture_on_commit_callbacks
):  # type: ignore[no-untyped-def]
    def broken(**kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    monkeypatch.setattr(planning, "plan_input_build", broken)
    with company_scope(company_a), django_capture_on_commit_callbacks():
        run = planning.mrp_run_request(company=company_a, actor=users_a["planner"], start=MONDAY)
    job_run(job_id=run.job_id)
    run.refresh_from_db()
    assert run.state == PlanRun.State.FAILED and run.job.status == "failed"
    with company_scope(company_a):  # the next run is accepted
        assert planning.mrp_run_request(company=company_a, actor=users_a["planner"]).pk
