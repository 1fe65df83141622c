"""The master production schedule: forecast consumed by orders, time fences, supply from the
plan and production orders, projected available balance and discrete available-to-promise."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.inventory.tests.factories import deliver, receive, site
from xietong.manufacturing import mps, planning
from xietong.manufacturing.models import Forecast, PlannedOrder
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
