"""The planner's screens: run MRP, see and firm planned orders with their pegging, enter
forecasts, release production orders, change the planning settings."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.core.jobs import job_run
from xietong.core.models import Job
from xietong.core.tenancy import company_scope
from xietong.inventory.tests.factories import deliver, site
from xietong.manufacturing import planning
from xietong.manufacturing.models import (
    Forecast,
    PlannedOrder,
    PlanningSettings,
    PlanRun,
    ProductionOrder,
)
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_item

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def bike(company_a):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        where = site(company_a)
        bike = make_item(company_a, "BIKE", supply=Product.Supply.MAKE, name="City bike",
                         manufacturing_lead_days=3)  # fmt: skip
        wheel = make_item(company_a, "WHEEL", purchase_lead_days=5)
        make_bom(company_a, bike, [line(wheel, "2")])
        deliver(bike, 6, location=where.stock,
                planned_date=timezone.localdate() + dt.timedelta(days=30), origin="SO-42",
                source_type="sales.orderline", source_id=42)  # fmt: skip
    return bike


def test_the_planner_runs_mrp_sees_the_plan_and_firms_it(company_a, users_a, client_for, bike,
                                                         django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]  # fmt: skip
    client = client_for(users_a["planner"])
    page = client.get(reverse("manufacturing:workspace"))
    assert page.status_code == 200 and "MRP has not run yet." in page.content.decode()
    with django_capture_on_commit_callbacks():
        response = client.post(reverse("manufacturing:run"))
    run = PlanRun.unscoped.get(company=company_a)
    assert response.status_code == 302 and response["Location"] == reverse(
        "core:job_detail", args=[run.job_id])  # fmt: skip
    job_run(job_id=run.job_id)
    assert Job.unscoped.get(pk=run.job_id).status == "done"
    html = client.get(reverse("manufacturing:workspace")).content.decode()
    assert "BIKE" in html and "WHEEL" in html and "2 planned orders" in html
    assert "Make (1)" in html and "Buy (1)" in html
    planned = PlannedOrder.unscoped.get(company=company_a, product=bike)
    detail = client.get(reverse("manufacturing:planned_detail", args=[planned.pk])).content
    assert b"SO-42" in detail and b"Sales order" in detail
    # the wheels serve the bike order one level up (a link to it), and SO-42 in the end
    wheels = PlannedOrder.unscoped.get(company=company_a, product__sku="WHEEL")
    detail = client.get(reverse("manufacturing:planned_detail", args=[wheels.pk])).content
    link = reverse("manufacturing:planned_detail", args=[planned.pk]).encode()
    assert link in detail and b"SO-42" in detail
    # the API lists them with the same pegging, read for the page at once
    api = token_client(token_for(users_a["planner"], company_a))
    listed = {o["id"]: o["pegging"] for o in api.get(API + "/manufacturing/planned-orders").json()[
        "items"]}  # fmt: skip
    assert [(p["parent"], p["demand"]) for p in listed[wheels.pk]] == [(planned.pk, "order")]
    assert [(p["demand"], p["demand_id"], p["reference"], D(p["quantity"]))
            for p in listed[planned.pk]] == [("sales", 42, "SO-42", D(6))]  # fmt: skip
    response = client.post(reverse("manufacturing:firm"),
                           {"order": [str(p.pk) for p in PlannedOrder.unscoped.all()]})  # fmt: skip
    assert response.status_code == 302
    order = ProductionOrder.unscoped.get(company=company_a)
    assert order.product == bike and order.quantity == D(6)
    assert not PlannedOrder.unscoped.filter(state="planned").exists()
    again = client.post(reverse("manufacturing:firm"), {"order": [str(planned.pk)]}, follow=True)
    assert "already firmed" in again.content.decode()  # refused, nothing changed
    assert ProductionOrder.unscoped.count() == 1


def test_forecasts_are_entered_and_bad_input_is_refused(company_a, users_a, client_for, bike):  # type: ignore[no-untyped-def]
    client = client_for(users_a["planner"])
    url = reverse("manufacturing:forecast_create")
    bad = client.post(url, {"product": bike.pk, "date": "2027-01-04", "quantity": "-1"})
    assert bad.status_code == 400 and not Forecast.unscoped.exists()
    good = client.post(url, {"product": bike.pk, "date": "2027-01-04", "quantity": "12"})
    assert good.status_code == 302
    again = client.post(url, {"product": bike.pk, "date": "2027-01-04", "quantity": "15"})
    assert again.status_code == 302
    assert list(Forecast.unscoped.values_list("quantity", flat=True)) == [D(15)]
    listing = client.get(reverse("manufacturing:forecast_list")).content.decode()
    assert "BIKE" in listing and "15" in listing
    assert client_for(users_a["buyer"]).post(url, {}).status_code == 403


def test_a_production_order_is_shown_and_released(company_a, users_a, client_for, bike):  # type: ignore[no-untyped-def]
    from xietong.manufacturing.production import OrderRequest, production_orders_create

    with company_scope(company_a):
        (order,) = production_orders_create(
            company=company_a, actor=None,
            requests=[OrderRequest(bike, D(4), dt.date(2027, 1, 4), dt.date(2027, 1, 7))],
        )  # fmt: skip
    clerk = client_for(users_a["warehouse_clerk"])
    html = clerk.get(reverse("manufacturing:order_detail", args=[order.pk])).content.decode()
    assert "WHEEL" in html and 'id="action-release"' in html
    assert order.number in clerk.get(reverse("manufacturing:order_list")).content.decode()
    response = clerk.post(reverse("manufacturing:order_release", args=[order.pk]))
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.state == "released"
    buyer = client_for(users_a["buyer"])  # may see, not release
    assert buyer.get(reverse("manufacturing:order_detail", args=[order.pk])).status_code == 200
    assert buyer.post(reverse("manufacturing:order_release", args=[order.pk])).status_code == 403


def test_planning_settings(company_a, users_a, client_for):  # type: ignore[no-untyped-def]
    client = client_for(users_a["planner"])
    url = reverse("manufacturing:settings_edit")
    assert client.get(url).status_code == 200
    fields = {"bucket": "day", "horizon": "90", "frozen_days": "3", "slushy_days": "14",
              "consume_backward_days": "3", "consume_forward_days": "3"}  # fmt: skip
    assert client.post(url, {**fields, "horizon": "0"}).status_code == 400
    assert client.post(url, fields).status_code == 302
    settings = PlanningSettings.unscoped.get(company=company_a)
    assert settings.bucket == "day" and settings.horizon == 90
    assert planning.planning_settings(company_a).frozen_days == 3
