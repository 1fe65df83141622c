"""The manufacturing API's execution: materials issued by hand and partial finishes; bad input
answers 422 and changes nothing."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.core.tenancy import company_scope
from xietong.inventory.stock import on_hand
from xietong.manufacturing.models import ProductionOrder
from xietong.manufacturing.tests.api_samples import production_order

pytestmark = pytest.mark.django_db
D = Decimal


def _post(client, path, body):  # type: ignore[no-untyped-def]
    return client.post(API + path, data=json.dumps(body), content_type="application/json")


def test_issue_and_finish_in_parts_through_the_api(company_a, users_a):  # type: ignore[no-untyped-def]
    order = production_order(company_a, "released")  # 1 bike of 1 part (1 in stock at 40)
    ProductionOrder.unscoped.filter(pk=order.pk).update(quantity=D(2))
    part = order.materials.get()
    clerk = token_client(token_for(users_a["warehouse_clerk"], company_a))
    path = f"/manufacturing/production-orders/{order.pk}"
    foreign = _post(clerk, path + "/issue", {"lines": [{"material": 0, "quantity": "1"}]})
    assert foreign.status_code == 422
    too_much = _post(clerk, path + "/issue", {"lines": [{"material": part.pk, "quantity": "5"}]})
    assert too_much.status_code == 422
    with company_scope(company_a):
        assert on_hand(product=part.product) == D(1)
    issued = _post(clerk, path + "/issue", {"lines": [{"material": part.pk, "quantity": "1"}]})
    assert issued.status_code == 200, issued.content
    assert issued.json()["state"] == "in_progress"
    assert issued.json()["material_cost"] == "40.0000"
    assert issued.json()["materials"][0]["issued_qty"] == "1.000000"
    part_done = _post(clerk, path + "/finish", {"quantity": "1"})
    assert part_done.status_code == 200 and part_done.json()["state"] == "in_progress"
    assert part_done.json()["produced_qty"] == "1.000000"
    last = _post(clerk, path + "/finish", {"quantity": "0", "scrap": "0", "final": True})
    assert last.status_code == 422  # nothing reported
    half = _post(clerk, path + "/finish", {"quantity": "0.5", "final": True})
    assert half.status_code == 422  # bikes are whole units
    last = _post(clerk, path + "/finish", {"quantity": "0", "scrap": "1"})
    assert last.status_code == 200 and last.json()["state"] == "done"
    assert last.json()["produced_qty"] == "1.000000"
