"""The inventory API over HTTP with API tokens of real role users: a receipt confirmed and
validated with its lot, the stock showing it, a delivery reserved, scanned and done in part
(with its backorder), lot traceability; idempotent creation; bad input answered 422 with
nothing written; another company's records not found; no oversell; counts, replenishment
rules and the stock value; and lists whose query count does not grow with their rows."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.core.tenancy import company_scope
from xietong.inventory import counts, replenishment
from xietong.inventory.models import InventoryCount, Lot, Move, Picking
from xietong.inventory.tests.flows_helpers import (
    DAY,
    make_party,
    make_product,
    make_warehouse,
    put_stock,
    snapshot,
)
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.product.models import Product

pytestmark = pytest.mark.django_db


def post(client: Client, path: str, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(
        API + path, json.dumps(body if body is not None else {}),
        content_type="application/json", headers=headers,
    )  # fmt: skip


def get(client: Client, path: str) -> Any:
    response = client.get(API + path)
    assert response.status_code == 200, (path, response.content)
    return response.json()


@pytest.fixture
def site(company_a):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        return {
            "warehouse": make_warehouse(company_a, "WH"),
            "bolt": make_product(company_a, "BOLT", tracking=Product.Tracking.LOT),
            "nut": make_product(company_a, "NUT"),
            "supplier": make_party(company_a, "Shenzhen Parts", is_supplier=True),
            "customer": make_party(company_a, "Hangzhou Bikes", is_customer=True),
        }


@pytest.fixture
def clerk(users_a, company_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["warehouse_clerk"], company_a))


def receipt_body(site: dict[str, Any], sku: str = "BOLT", quantity: str = "10") -> dict[str, Any]:
    return {
        "kind": "receipt",
        "warehouse": "WH",
        "party": site["supplier"].pk,
        "scheduled_date": "2026-03-02",
        "origin": "PO-7",
        "lines": [{"sku": sku, "quantity": quantity, "unit_cost": "2.50"}],
    }


def delivery_body(site: dict[str, Any], quantity: str, product: str = "bolt") -> dict[str, Any]:
    return {
        "kind": "delivery",
        "warehouse": "WH",
        "party": site["customer"].pk,
        "lines": [{"product": site[product].pk, "quantity": quantity}],
    }


def test_receipt_stock_delivery_scan_and_partial_validation(company_a, site, clerk):
    created = post(clerk, "/inventory/pickings", receipt_body(site))
    assert created.status_code == 201, created.content
    receipt = created.json()
    assert receipt["number"].startswith("WH/IN/") and receipt["state"] == "draft"
    assert receipt["kind"] == "receipt" and receipt["warehouse"] == "WH"
    assert receipt["moves"][0]["sku"] == "BOLT" and receipt["moves"][0]["quantity"] == "10.000000"
    confirmed = post(clerk, f"/inventory/pickings/{receipt['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "ready"
    move_id = receipt["moves"][0]["id"]
    done = post(clerk, f"/inventory/pickings/{receipt['id']}/validate",
                {"moves": [{"move": move_id, "lot": "L-001"}]})  # fmt: skip
    assert done.status_code == 200, done.content
    assert done.json()["state"] == "done" and done.json()["backorders"] == []
    lot = Lot.unscoped.get(company=company_a, name="L-001")

    bolt = site["bolt"].pk
    rows = get(clerk, f"/inventory/stock?product={bolt}")
    assert rows["count"] == 1
    assert rows["items"][0] | {"id": 0} == {
        "id": 0, "product": bolt, "sku": "BOLT", "location": site["warehouse"].stock_location_id,
        "location_name": "WH/Stock", "lot": lot.pk, "lot_name": "L-001",
        "on_hand": "10.000000", "reserved": "0.000000", "available": "10.000000", "uom": "pc",
    }  # fmt: skip
    assert get(clerk, "/inventory/stock?warehouse=WH")["count"] == 1
    assert (
        get(clerk, f"/inventory/stock?lot={lot.pk}&location={site['warehouse'].input_location_id}")[
            "count"
        ]
        == 0
    )

    delivery = post(clerk, "/inventory/pickings", delivery_body(site, "4")).json()
    assert delivery["number"].startswith("WH/OUT/")
    ready = post(clerk, f"/inventory/pickings/{delivery['id']}/confirm").json()
    assert ready["state"] == "ready"
    totals = get(clerk, f"/inventory/stock/{bolt}")
    assert (totals["on_hand"], totals["reserved"], totals["available"]) == (
        "10.000000", "4.000000", "6.000000",
    )  # fmt: skip
    assert totals["lines"][0]["lot_name"] == "L-001"

    scanned = post(clerk, f"/inventory/pickings/{delivery['id']}/scan", {"code": "L-001"})
    assert scanned.status_code == 200
    assert scanned.json()["kind"] == "lot" and scanned.json()["lot"] == lot.pk
    assert [m["id"] for m in scanned.json()["moves"]] == [delivery["moves"][0]["id"]]
    nothing = post(clerk, f"/inventory/pickings/{delivery['id']}/scan", {"code": "no-such"})
    assert nothing.json()["kind"] == "" and nothing.json()["moves"] == []

    shipped = post(clerk, f"/inventory/pickings/{delivery['id']}/validate",
                   {"moves": [{"move": delivery["moves"][0]["id"], "quantity": "3"}]})  # fmt: skip
    assert shipped.status_code == 200, shipped.content
    body = shipped.json()
    assert body["state"] == "done" and body["moves"][0]["quantity"] == "3.000000"
    assert len(body["backorders"]) == 1 and body["backorders"][0]["state"] == "ready"
    backorder = get(clerk, f"/inventory/pickings/{body['backorders'][0]['id']}")
    assert backorder["backorder_of"] == delivery["id"]
    assert backorder["moves"][0]["quantity"] == "1.000000"
    totals = get(clerk, f"/inventory/stock/{bolt}")
    assert (totals["on_hand"], totals["reserved"]) == ("7.000000", "1.000000")

    moves = get(clerk, f"/inventory/moves?product={bolt}&state=done")
    assert moves["count"] == 2
    assert {m["to_location_name"] for m in moves["items"]} == {
        "WH/Stock",
        "Virtual locations/Customers",
    }
    one = get(clerk, f"/inventory/moves/{moves['items'][0]['id']}")
    assert one["lot_name"] == "L-001"
    lot_detail = get(clerk, f"/inventory/lots/{lot.pk}")
    assert lot_detail["on_hand"] == "7.000000" and lot_detail["lines"][0]["reserved"] == "1.000000"
    assert get(clerk, "/inventory/lots?q=L-0&in_stock=true")["count"] == 1
    trace = get(clerk, f"/inventory/lots/{lot.pk}/trace?direction=downstream")
    assert trace["customers"] == [{"id": site["customer"].pk, "name": "Hangzhou Bikes"}]
    assert [s["to_usage"] for s in trace["steps"]] == ["internal", "customer"]
    upstream = get(clerk, f"/inventory/lots/{lot.pk}/trace?direction=upstream")
    assert [lot_["name"] for lot_ in upstream["supplier_lots"]] == ["L-001"]
    listed = get(clerk, "/inventory/pickings?kind=delivery&warehouse=WH")
    assert {p["state"] for p in listed["items"]} == {"done", "ready"}
    with company_scope(company_a):
        assert_stock_sound()


def test_internal_transfer_and_cancel(company_a, site, clerk):
    with company_scope(company_a):
        put_stock(company_a, site["nut"], site["warehouse"].stock_location, 8)
    shelf = post(clerk, "/inventory/pickings", {
        "kind": "internal", "from_location": site["warehouse"].stock_location_id,
        "to_location": site["warehouse"].output_location_id,
        "lines": [{"sku": "NUT", "quantity": "5"}],
    })  # fmt: skip
    assert shelf.status_code == 201, shelf.content
    transfer = shelf.json()
    assert transfer["number"].startswith("WH/INT/") and transfer["kind"] == "internal"
    assert post(clerk, f"/inventory/pickings/{transfer['id']}/confirm").json()["state"] == "ready"
    assert get(clerk, f"/inventory/stock/{site['nut'].pk}")["reserved"] == "5.000000"
    cancelled = post(clerk, f"/inventory/pickings/{transfer['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    assert get(clerk, f"/inventory/stock/{site['nut'].pk}")["reserved"] == "0.000000"
    again = post(clerk, f"/inventory/pickings/{transfer['id']}/cancel")
    assert again.status_code == 422 and again.json()["code"] == "state"


def test_idempotency_key_creates_one_picking(company_a, site, clerk):
    key = {"Idempotency-Key": "receipt-1"}
    first = post(clerk, "/inventory/pickings", receipt_body(site), **key)
    assert first.status_code == 201
    replay = post(clerk, "/inventory/pickings", receipt_body(site), **key)
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert Picking.unscoped.filter(company=company_a).count() == 1
    other = post(clerk, "/inventory/pickings", receipt_body(site, quantity="2"), **key)
    assert other.status_code == 422
    assert Picking.unscoped.filter(company=company_a).count() == 1
    count_key = {"Idempotency-Key": "count-1"}
    body = {"location": site["warehouse"].stock_location_id}
    assert post(clerk, "/inventory/counts", body, **count_key).status_code == 201
    assert post(clerk, "/inventory/counts", body, **count_key).status_code == 201
    assert InventoryCount.unscoped.filter(company=company_a).count() == 1


def test_bad_input_is_422_and_writes_nothing(company_a, site, clerk):
    with company_scope(company_a):
        service = make_product(company_a, "FEE", type=Product.Type.SERVICE)
        before = snapshot(company_a)

    def refused(body: dict[str, Any], field: str | None = None, code: str | None = None) -> Any:
        response = post(clerk, "/inventory/pickings", body, **{"Idempotency-Key": "bad"})
        assert response.status_code == 422, response.content
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        if field is not None:
            assert field in {e["field"] for e in problem["errors"]}, problem
        if code is not None:
            assert problem["code"] == code, problem
        return problem

    refused(receipt_body(site, sku="NOPE"), "lines.0.product")
    refused(receipt_body(site) | {"warehouse": "XX"}, "warehouse")
    refused(receipt_body(site) | {"surprise": 1}, "surprise")
    float_body = receipt_body(site)
    float_body["lines"][0]["quantity"] = 2.5
    refused(float_body, "lines.0.quantity")
    refused(receipt_body(site) | {"from_location": site["warehouse"].input_location_id},
            "from_location")  # fmt: skip
    refused({"kind": "internal", "lines": [{"sku": "NUT", "quantity": "1"}]}, "from_location")
    refused(receipt_body(site, sku=service.sku), code="service")
    refused(receipt_body(site, quantity="-3"), code="quantity")
    lot_body = delivery_body(site, "1")
    lot_body["lines"][0]["lot"] = "NO-LOT"
    refused(lot_body, "lines.0.lot")
    assert snapshot(company_a) == before

    picking = post(clerk, "/inventory/pickings", receipt_body(site)).json()
    before = snapshot(company_a)
    move = picking["moves"][0]["id"]
    too_much = post(clerk, f"/inventory/pickings/{picking['id']}/validate",
                    {"moves": [{"move": move, "quantity": "11", "lot": "L-9"}]})  # fmt: skip
    assert too_much.status_code == 422 and too_much.json()["code"] == "too_much"
    no_lot = post(clerk, f"/inventory/pickings/{picking['id']}/validate", {})
    assert no_lot.status_code == 422 and no_lot.json()["code"] == "lot_required"
    foreign = post(clerk, f"/inventory/pickings/{picking['id']}/validate",
                   {"moves": [{"move": move + 999, "lot": "L-9"}]})  # fmt: skip
    assert foreign.status_code == 422 and foreign.json()["code"] == "foreign_move"
    assert snapshot(company_a) == before


def test_another_companys_records_are_not_found(company_a, company_b, site, clerk, users_b):
    with company_scope(company_a):
        put_stock(company_a, site["nut"], site["warehouse"].stock_location, 4)
    picking = post(clerk, "/inventory/pickings", receipt_body(site, sku="NUT")).json()
    count = post(clerk, "/inventory/counts",
                 {"location": site["warehouse"].stock_location_id}).json()  # fmt: skip
    move = Move.unscoped.filter(company=company_a, state=Move.State.DONE).first()
    theirs = token_client(token_for(users_b["admin"], company_b))
    for path in (
        f"/inventory/pickings/{picking['id']}",
        f"/inventory/stock/{site['nut'].pk}",
        f"/inventory/moves/{move.pk}",
        f"/inventory/counts/{count['id']}",
    ):
        assert theirs.get(API + path).status_code == 404, path
    for path in ("confirm", "assign", "cancel", "scan", "validate"):
        body = {"code": "NUT"} if path == "scan" else {}
        assert post(theirs, f"/inventory/pickings/{picking['id']}/{path}", body).status_code == 404
    assert post(theirs, f"/inventory/counts/{count['id']}/done").status_code == 404
    for path in ("/inventory/pickings", "/inventory/stock", "/inventory/moves",
                 "/inventory/counts", "/inventory/warehouses", "/inventory/locations"):  # fmt: skip
        assert get(theirs, path)["count"] == 0, path
    refused = post(theirs, "/inventory/pickings", receipt_body(site, sku="NUT"))
    assert refused.status_code == 422
    assert Picking.unscoped.filter(company=company_b).count() == 0
    assert Picking.unscoped.get(pk=picking["id"]).state == "draft"


def test_oversell_is_refused(company_a, site, clerk):
    with company_scope(company_a):
        put_stock(company_a, site["nut"], site["warehouse"].stock_location, 5)
    first = post(clerk, "/inventory/pickings", delivery_body(site, "4", "nut")).json()
    second = post(clerk, "/inventory/pickings", delivery_body(site, "3", "nut")).json()
    assert post(clerk, f"/inventory/pickings/{first['id']}/confirm").json()["state"] == "ready"
    waiting = post(clerk, f"/inventory/pickings/{second['id']}/confirm").json()
    assert waiting["state"] == "waiting"
    totals = get(clerk, f"/inventory/stock/{site['nut'].pk}")
    assert (totals["reserved"], totals["available"]) == ("5.000000", "0.000000")
    before = snapshot(company_a)
    oversold = post(clerk, f"/inventory/pickings/{second['id']}/validate", {})
    assert oversold.status_code == 422 and oversold.json()["code"] == "not_enough_stock"
    assert snapshot(company_a) == before
    assert post(clerk, f"/inventory/pickings/{second['id']}/assign").json()["state"] == "waiting"
    assert post(clerk, f"/inventory/pickings/{first['id']}/validate", {}).json()["state"] == "done"
    totals = get(clerk, f"/inventory/stock/{site['nut'].pk}")
    assert (totals["on_hand"], totals["reserved"]) == ("1.000000", "1.000000")
    with company_scope(company_a):
        assert_stock_sound()


def test_count_over_http(company_a, site, clerk):
    with company_scope(company_a):
        put_stock(company_a, site["nut"], site["warehouse"].stock_location, 6)
    created = post(clerk, "/inventory/counts",
                   {"location": site["warehouse"].stock_location_id, "date": "2026-03-05"})  # fmt: skip
    assert created.status_code == 201, created.content
    count = created.json()
    assert count["state"] == "draft" and count["number"].startswith("INV/2026/")
    line = count["lines"][0]
    assert (line["sku"], line["expected"], line["counted"]) == ("NUT", "6.000000", None)
    bad = post(clerk, f"/inventory/counts/{count['id']}/lines",
               {"lines": [{"line": line["id"], "counted": "-1"}]})  # fmt: skip
    assert bad.status_code == 422 and bad.json()["code"] == "quantity"
    counted = post(clerk, f"/inventory/counts/{count['id']}/lines",
                   {"lines": [{"line": line["id"], "counted": "4"}]})  # fmt: skip
    assert counted.status_code == 200
    assert counted.json()["state"] == "counting"
    assert counted.json()["lines"][0]["difference"] == "-2.000000"
    done = post(clerk, f"/inventory/counts/{count['id']}/done").json()
    assert done["state"] == "done" and done["lines"][0]["move"] is not None
    assert get(clerk, f"/inventory/stock/{site['nut'].pk}")["on_hand"] == "4.000000"
    assert post(clerk, f"/inventory/counts/{count['id']}/cancel").json()["code"] == "state"
    other = post(clerk, "/inventory/counts",
                 {"location": site["warehouse"].stock_location_id}).json()  # fmt: skip
    assert post(clerk, f"/inventory/counts/{other['id']}/cancel").json()["state"] == "cancelled"
    assert get(clerk, "/inventory/counts?state=done")["count"] == 1


def test_rules_replenishment_and_stock_value(company_a, site, users_a):
    from xietong.finance.tests.matrix import ledger

    ledger(company_a)
    planner = token_client(token_for(users_a["planner"], company_a))
    clerk = token_client(token_for(users_a["warehouse_clerk"], company_a))
    rule = post(planner, "/inventory/rules", {"sku": "NUT", "warehouse": "WH", "min_qty": "5",
                                              "max_qty": "20", "multiple": "6"})  # fmt: skip
    assert rule.status_code == 201, rule.content
    assert rule.json() | {"id": 0} == {
        "id": 0, "product": site["nut"].pk, "sku": "NUT", "warehouse": "WH",
        "min_qty": "5.000000", "max_qty": "20.000000", "multiple": "6.000000", "active": True,
    }  # fmt: skip
    backwards = post(planner, "/inventory/rules",
                     {"sku": "NUT", "warehouse": "WH", "min_qty": "5", "max_qty": "1"})  # fmt: skip
    assert backwards.status_code == 422 and backwards.json()["errors"][0]["field"] == "max_qty"
    assert post(clerk, "/inventory/rules", {"sku": "NUT", "warehouse": "WH", "min_qty": "1",
                                            "max_qty": "2"}).status_code == 403  # fmt: skip
    rows = get(planner, "/inventory/replenishment?warehouse=WH")
    assert rows["count"] == 1
    assert (rows["items"][0]["forecast"], rows["items"][0]["to_order"]) == ("0", "24.000000")
    assert get(planner, "/inventory/rules?warehouse=WH")["count"] == 1

    receipt = post(clerk, "/inventory/pickings", receipt_body(site, sku="NUT", quantity="4"))
    assert (
        post(clerk, f"/inventory/pickings/{receipt.json()['id']}/validate", {}).status_code == 200
    )
    assert clerk.get(f"{API}/inventory/valuation").status_code == 403
    accountant = token_client(token_for(users_a["accountant"], company_a))
    value = get(accountant, "/inventory/valuation")
    assert value["currency"] == "CNY" and value["total_value"] == "10.00"
    assert value["rows"][0] | {"product": 0} == {
        "product": 0, "sku": "NUT", "name": "Product NUT", "location": None,
        "location_name": None, "quantity": "4.000000", "value": "10.00", "unit_cost": "2.500000",
    }  # fmt: skip
    by_place = get(accountant, "/inventory/valuation?by_location=true")
    assert by_place["rows"][0]["location_name"] == "WH/Stock"
    assert get(accountant, "/inventory/valuation?as_of=2020-01-01")["rows"] == []


def test_a_viewer_reads_but_does_not_move(company_a, site, users_a):
    rep = token_client(token_for(users_a["sales_rep"], company_a))
    assert get(rep, "/inventory/warehouses")["items"][0]["code"] == "WH"
    assert get(rep, "/inventory/locations?warehouse=WH&usage=internal")["count"] == 5
    refused = post(rep, "/inventory/pickings", receipt_body(site))
    assert refused.status_code == 403 and refused.json()["permission"] == "inventory.move"
    assert post(rep, "/inventory/counts", {"location": 1}).json()["permission"] == "inventory.count"
    assert Picking.unscoped.filter(company=company_a).count() == 0


@pytest.mark.parametrize(
    "path", ["/inventory/stock", "/inventory/moves", "/inventory/pickings", "/inventory/lots",
             "/inventory/locations", "/inventory/counts", "/inventory/rules"],
)  # fmt: skip
def test_list_query_count_does_not_grow_with_rows(path, company_a, site, clerk):
    def queries() -> int:
        clerk.get(f"{API}/inventory/warehouses")  # the token's last-use write happens outside
        with CaptureQueriesContext(connection) as captured:
            assert clerk.get(f"{API}{path}").status_code == 200
        return len(captured)

    def more(n: int) -> None:
        with company_scope(company_a):
            for i in range(2):
                item = make_product(company_a, f"Q{n}{i}", tracking=Product.Tracking.LOT)
                lot = Lot.unscoped.create(company=company_a, product=item, name=f"Q{n}{i}")
                put_stock(company_a, item, site["warehouse"].stock_location, 3, lot)
                replenishment.rule_set(company=company_a, product=item, warehouse=site["warehouse"],
                                       min_qty=Decimal(1), max_qty=Decimal(2))  # fmt: skip
            counts.count_create(
                company=company_a, location=site["warehouse"].stock_location, date=DAY
            )
            post(clerk, "/inventory/pickings", receipt_body(site, sku=f"Q{n}0"))

    more(1)
    few = queries()
    more(2)
    assert queries() == few
