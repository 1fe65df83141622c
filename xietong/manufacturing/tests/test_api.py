"""The manufacturing API: forecasts, MRP runs, planned orders firmed, production orders
released, finished and closed; bad input answers 422 and changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.manufacturing.models import Forecast, PlannedOrder, ProductionOrder
from xietong.manufacturing.tests.api_samples import (
    manufacturing_base,
    planned_order,
    production_order,
)

pytestmark = pytest.mark.django_db
D = Decimal


def _post(client, path, body, **headers):  # type: ignore[no-untyped-def]
    return client.post(API + path, data=json.dumps(body), content_type="application/json",
                       **headers)  # fmt: skip


def test_forecasts_runs_and_firming(company_a, users_a, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    base = manufacturing_base(company_a)
    planner = token_client(token_for(users_a["planner"], company_a))
    bad = _post(planner, "/manufacturing/forecasts",
                {"product": "NO-SUCH", "date": "2027-01-04", "quantity": "3"})  # fmt: skip
    assert bad.status_code == 422 and not Forecast.unscoped.exists()
    negative = _post(planner, "/manufacturing/forecasts",
                     {"product": base.bike.sku, "date": "2027-01-04", "quantity": "-3"})  # fmt: skip
    assert negative.status_code == 422 and not Forecast.unscoped.exists()
    body = {"product": base.bike.sku, "date": "2027-01-04", "quantity": "3"}
    made = _post(planner, "/manufacturing/forecasts", body, HTTP_IDEMPOTENCY_KEY="fc-1")
    again = _post(planner, "/manufacturing/forecasts", body, HTTP_IDEMPOTENCY_KEY="fc-1")
    assert made.status_code == 201 and again.json() == made.json()
    assert D(made.json()["quantity"]) == 3 and Forecast.unscoped.count() == 1
    with django_capture_on_commit_callbacks():
        run = _post(planner, "/manufacturing/mrp-runs", {})
    assert run.status_code == 201 and run.json()["state"] == "queued"
    busy = _post(planner, "/manufacturing/mrp-runs", {})
    assert busy.status_code == 422 and busy.json()["code"] == "running"
    order = planned_order(company_a)
    refused = _post(planner, "/manufacturing/planned-orders/firm", {"order_ids": [order.pk, 0]})
    assert refused.status_code == 422 and not ProductionOrder.unscoped.exists()
    firmed = _post(planner, "/manufacturing/planned-orders/firm",
                   {"order_ids": [order.pk], "release": True})  # fmt: skip
    assert firmed.status_code == 201, firmed.content
    (made_id,) = firmed.json()["production_orders"]
    assert ProductionOrder.unscoped.get(pk=made_id).state == "released"
    listed = planner.get(API + "/manufacturing/planned-orders").json()
    assert listed["items"][0]["state"] == "firmed"
    assert PlannedOrder.unscoped.get(pk=order.pk).production_order_id == made_id


def test_finish_and_close_through_the_api(company_a, users_a):  # type: ignore[no-untyped-def]
    order = production_order(company_a, "released")
    clerk = token_client(token_for(users_a["warehouse_clerk"], company_a))
    zero = _post(clerk, f"/manufacturing/production-orders/{order.pk}/finish", {"quantity": "0"})
    assert zero.status_code == 422
    assert ProductionOrder.unscoped.get(pk=order.pk).state == "released"
    done = _post(clerk, f"/manufacturing/production-orders/{order.pk}/finish", {"quantity": "1"})
    assert done.status_code == 200 and done.json()["state"] == "done"
    assert done.json()["material_cost"] == "40.0000"
    planner = token_client(token_for(users_a["planner"], company_a))
    closed = _post(planner, f"/manufacturing/production-orders/{order.pk}/close", {})
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    again = _post(planner, f"/manufacturing/production-orders/{order.pk}/close", {})
    assert again.status_code == 422
