"""The BOM, routing, work center and configurator API: answers, field errors as problem+json,
other companies' records (404 / unknown id), idempotent creation and constant-query lists."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.core.services import api_token_create
from xietong.product.models import Bom, ConfiguredItem, Product
from xietong.product.tests.bom_factories import (
    line,
    make_bom,
    make_item,
    make_routing,
    make_work_center,
    sample_set,
)

pytestmark = pytest.mark.django_db
API = "/api/v1"


def token_for(user) -> str:  # type: ignore[no-untyped-def]
    _token, raw = api_token_create(user=user, company=user.active_company, name="test")
    return raw


def token_client(raw: str) -> Client:
    return Client(headers={"Authorization": f"Bearer {raw}"})


def post(client: Client, path: str, body: dict, **headers) -> object:  # type: ignore[no-untyped-def]
    return client.post(
        API + path, data=json.dumps(body), content_type="application/json", headers=headers
    )


def patch(client: Client, path: str, body: dict) -> object:  # type: ignore[no-untyped-def]
    return client.patch(API + path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def planner(users_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["planner"]))


@pytest.fixture
def admin(users_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["admin"]))


@pytest.fixture
def rep(users_a) -> Client:  # type: ignore[no-untyped-def]
    return token_client(token_for(users_a["sales_rep"]))


def test_create_read_update_archive_a_bom(planner, company_a):
    frame = make_item(company_a, "FRAME")
    tube = make_item(company_a, "TUBE", uom="m")
    response = post(
        planner,
        "/boms",
        {
            "product": frame.pk,
            "lines": [
                {"component": tube.pk, "quantity": "2400", "uom": "mm", "scrap_percent": "5"}
            ],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["version"] == 1 and body["product_sku"] == "FRAME" and body["uom"] == "pc"
    assert body["lines"] == [
        {
            "id": body["lines"][0]["id"],
            "sequence": 10,
            "component": tube.pk,
            "component_sku": "TUBE",
            "quantity": "2400.000000",
            "uom": "mm",
            "scrap_percent": "5.000",
        }
    ]
    bom_id = body["id"]
    assert planner.get(f"{API}/boms/{bom_id}").json()["id"] == bom_id
    changed = patch(
        planner,
        f"/boms/{bom_id}",
        {"quantity": "2", "lines": [{"component": tube.pk, "quantity": "5"}]},
    )
    assert changed.status_code == 200
    assert changed.json()["quantity"] == "2.000000" and changed.json()["lines"][0]["uom"] == "m"
    archived = planner.post(f"{API}/boms/{bom_id}/archive")
    assert archived.json()["active"] is False
    listed = planner.get(f"{API}/boms", {"product": frame.pk, "active": "false"}).json()
    assert listed["count"] == 1


def test_loop_and_bad_lines_are_problems_with_fields(planner, company_a, company_b):
    a, b = make_item(company_a, "A"), make_item(company_a, "B")
    make_bom(company_a, a, [line(b, "1")])
    theirs = make_item(company_b, "THEIRS")
    response = post(
        planner,
        "/boms",
        {
            "product": b.pk,
            "lines": [
                {"component": a.pk, "quantity": "1"},
                {"component": theirs.pk, "quantity": "0"},
            ],
        },
    )
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    errors = {(e["field"], e["message"]) for e in response.json()["errors"]}
    assert ("lines.1.component", "Choose a product of this company.") in errors
    assert ("lines.1.quantity", "The quantity must be greater than zero.") in errors
    response = post(
        planner, "/boms", {"product": b.pk, "lines": [{"component": a.pk, "quantity": "1"}]}
    )
    assert response.json()["errors"] == [
        {"field": "lines.0.component", "message": "This line would make the BOMs loop: B → A → B."}
    ]
    response = post(planner, "/boms", {"product": theirs.pk, "lines": []})
    assert response.json()["errors"][0]["field"] == "product"
    assert Bom.unscoped.filter(company=company_a).count() == 1


def test_other_companys_records_are_not_found(admin, company_b):
    planner = admin
    theirs = sample_set(company_b, "b")
    for path in (
        f"/boms/{theirs['bom'].pk}",
        f"/products/{theirs['bike'].pk}/explosion",
        f"/products/{theirs['bike'].pk}/where-used",
        f"/products/{theirs['bike'].pk}/cost-rollup",
        f"/work-centers/{theirs['work_center'].pk}",
        f"/routings/{theirs['routing'].pk}",
        f"/products/{theirs['configurable'].pk}/options",
        f"/configured-items/{theirs['configured_item'].pk}",
    ):
        assert planner.get(API + path).status_code == 404, path
    assert planner.post(f"{API}/boms/{theirs['bom'].pk}/archive").status_code == 404
    assert planner.get(f"{API}/boms").json()["count"] == 0


def test_explosion_where_used_and_cost(planner, company_a, users_a):
    center = make_work_center(company_a, "ASM", cost="60", overhead="0")
    wheel = make_item(company_a, "WHEEL", cost="50")
    bike = make_item(company_a, "BIKE")
    make_bom(company_a, bike, [line(wheel, "2", scrap="10")])
    make_routing(company_a, bike, [(center, "0", "30")])
    body = planner.get(f"{API}/products/{bike.pk}/explosion", {"quantity": "3"}).json()
    assert [
        (r["level"], r["component"]["sku"], r["quantity_per"], r["extended"]) for r in body["rows"]
    ] == [(1, "WHEEL", "2.200000", "6.600000")]
    assert body["totals"] == [
        {
            "component": {"id": wheel.pk, "sku": "WHEEL", "name": "Item WHEEL"},
            "quantity": "6.600000",
            "uom": "pc",
            "has_bom": False,
        }
    ]
    used = planner.get(f"{API}/products/{wheel.pk}/where-used").json()
    assert [(r["parent"]["sku"], r["quantity_per"], r["top"]) for r in used["rows"]] == [
        ("BIKE", "2.200000", True)
    ]
    cost = planner.get(f"{API}/products/{bike.pk}/cost-rollup").json()
    assert (cost["material"], cost["labour"], cost["total"]) == (
        "110.000000",
        "30.000000",
        "140.000000",
    )
    assert [lv["level"] for lv in cost["levels"]] == [0, 1]
    applied = planner.post(f"{API}/products/{bike.pk}/cost-rollup").json()
    assert applied == {
        "changes": [{"product": bike.pk, "sku": "BIKE", "old": "0.000000", "new": "140.000000"}]
    }
    rep = token_client(token_for(users_a["sales_rep"]))
    assert rep.post(f"{API}/products/{bike.pk}/cost-rollup").status_code == 403
    assert planner.get(f"{API}/products/{bike.pk}/explosion", {"quantity": "0"}).status_code == 422


def test_work_centers_and_routings(planner, company_a):
    response = post(
        planner,
        "/work-centers",
        {
            "code": "WELD",
            "name": "焊接",
            "units": 2,
            "efficiency_percent": "90",
            "holidays": ["2026-11-25"],
        },
    )
    assert response.status_code == 201
    center = response.json()
    assert center["hours_per_working_day"] == "14.400000" and center["holidays"] == ["2026-11-25"]
    capacity = planner.get(
        f"{API}/work-centers/{center['id']}/capacity",
        {"date_from": "2026-11-23", "date_to": "2026-11-29"},
    ).json()
    assert capacity["total"] == "57.600000" and len(capacity["days"]) == 7
    bad = post(planner, "/work-centers", {"code": "WELD", "name": "Again"})
    assert bad.json()["errors"] == [
        {"field": "code", "message": "Another work center has this code."}
    ]
    frame = make_item(company_a, "FRAME")
    routing = post(
        planner,
        "/routings",
        {
            "product": frame.pk,
            "name": "Frame",
            "operations": [
                {
                    "name": "Weld",
                    "work_center": center["id"],
                    "setup_minutes": "30",
                    "run_minutes": "12",
                }
            ],
        },
    )
    assert routing.status_code == 201
    routing_id = routing.json()["id"]
    bad = patch(
        planner,
        f"/routings/{routing_id}",
        {"operations": [{"name": "Weld", "work_center": 999999}]},
    )
    assert bad.json()["errors"][0]["field"] == "operations.0.work_center"
    renamed = patch(planner, f"/routings/{routing_id}", {"name": "Frame v2"}).json()
    assert renamed["name"] == "Frame v2" and len(renamed["operations"]) == 1
    refused = planner.post(f"{API}/work-centers/{center['id']}/archive")
    assert refused.status_code == 422
    assert planner.post(f"{API}/routings/{routing_id}/archive").json()["active"] is False
    assert planner.post(f"{API}/work-centers/{center['id']}/archive").json()["active"] is False


def test_configurator_api(rep, company_a):
    records = sample_set(company_a, "a")
    bike = records["configurable"]
    options = rep.get(f"{API}/products/{bike.pk}/options").json()
    assert [g["code"] for g in options["groups"]] == ["frame", "extras"]
    ids = {o["code"]: o["id"] for g in options["groups"] for o in g["options"]}
    assert options["defaults"] == [ids["s"]]
    checked = post(
        rep, f"/products/{bike.pk}/configuration", {"options": [ids["l"], ids["child-seat"]]}
    ).json()
    assert checked["valid"] is False and checked["violations"][0]["code"] == "requires"
    assert checked["price"]["total"] == "3399.000000"
    good = [ids["l"], ids["child-seat"], ids["rack"]]
    checked = post(rep, f"/products/{bike.pk}/configuration", {"options": good}).json()
    assert checked["valid"] and checked["cost"]["total"] == "220.000000"
    created = post(
        rep, "/configured-items", {"product": bike.pk, "options": good}, **{"Idempotency-Key": "k1"}
    )
    assert created.status_code == 201
    item = created.json()
    assert item["options"] == sorted(good) and item["price"] == "3549.000000"
    again = post(
        rep, "/configured-items", {"product": bike.pk, "options": good}, **{"Idempotency-Key": "k1"}
    )
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert ConfiguredItem.unscoped.filter(company=company_a).count() == 2
    refused = post(
        rep, "/configured-items", {"product": bike.pk, "options": [ids["l"], ids["child-seat"]]}
    )
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "options"
    plain = post(rep, "/configured-items", {"product": records["bike"].pk, "options": []})
    assert plain.status_code == 422
    assert rep.get(f"{API}/configured-items", {"product": bike.pk}).json()["count"] == 2
    assert post(rep, "/boms", {"product": bike.pk, "lines": []}).status_code == 403


def test_lists_have_a_constant_query_count(admin, company_a):
    planner = admin

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert planner.get(API + path).status_code == 200
        return len(captured)

    sample_set(company_a, "x")
    [count(p) for p in ("/boms", "/routings")]  # warm-up: the token's first use is recorded
    counts = [count(p) for p in ("/boms", "/routings", "/work-centers", "/configured-items")]
    for i in range(3):
        parts = [make_item(company_a, f"P{i}-{j}") for j in range(3)]
        made = make_item(company_a, f"M{i}", supply=Product.Supply.MAKE)
        make_bom(company_a, made, [line(p, "1") for p in parts])
        make_routing(company_a, made, [(make_work_center(company_a, f"W{i}"), "1", "1")])
    sample_set(company_a, "y")
    assert [
        count(p) for p in ("/boms", "/routings", "/work-centers", "/configured-items")
    ] == counts
