"""A planner's forecast (entered or imported) replaces the statistical forecast of its product
and bucket — in the MRP run and in the master schedule — instead of adding to it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from xietong.core.tenancy import company_scope
from xietong.manufacturing import mps, planning
from xietong.manufacturing.models import Forecast, PegDemand, PlannedOrder
from xietong.manufacturing.tests.test_planning import (
    MONDAY,
    _orders,
    _pegs,
    _run,
    plant,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.django_db
D = Decimal
STAT, MANUAL, IMPORT = (Forecast.Source.STATISTICAL, Forecast.Source.MANUAL,
                        Forecast.Source.IMPORT)  # fmt: skip


def test_an_override_replaces_the_statistics_of_its_week_only() -> None:
    monday, wednesday = dt.date(2027, 1, 11), dt.date(2027, 1, 13)
    rows = [
        (1, 7, monday, D(40), STAT),
        (2, 7, wednesday, D(25), MANUAL),  # same ISO week as row 1: replaces it
        (3, 7, monday + dt.timedelta(days=7), D(40), STAT),  # next week: kept
        (4, 8, monday, D(10), STAT),  # another product: kept
        (5, 7, wednesday, D(5), IMPORT),  # entered and imported figures add up
    ]
    kept = planning.forecast_effective(rows, bucket="week")
    assert [row[0] for row in kept] == [2, 3, 4, 5]
    assert all(len(row) == 4 for row in kept)
    # daily buckets: Monday's statistics stand, Wednesday has no statistics to replace
    assert [row[0] for row in planning.forecast_effective(rows, bucket="day")] == [1, 2, 3, 4, 5]


def test_mrp_and_the_master_schedule_use_the_planners_figure(company_a, plant) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _where, bike, _frame, _wheel = plant
    week4 = MONDAY + dt.timedelta(days=21)
    week5 = MONDAY + dt.timedelta(days=28)
    with company_scope(company_a):
        for date, quantity, source in ((week4, 40, STAT), (week4 + dt.timedelta(days=2), 25, MANUAL),
                                       (week5, 30, STAT)):  # fmt: skip
            Forecast.unscoped.create(company=company_a, product=bike, date=date,
                                     quantity=D(quantity), source=source)  # fmt: skip
        _run(company_a)
    pegs = [p for order in PlannedOrder.unscoped.filter(company=company_a, product__sku="BIKE")
            for p in _pegs(order)]  # fmt: skip
    assert sorted(p.quantity for p in pegs if p.demand == PegDemand.FORECAST) == [D(25), D(30)]
    assert sum(row[3] for row in _orders(company_a, "BIKE")) == D(55)
    table = mps.master_schedule(company=company_a, product=bike, start=MONDAY, bucket="week",
                                horizon=6)  # fmt: skip
    assert table.forecast[3:5] == [D(25), D(30)]
