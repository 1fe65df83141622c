"""The analytics API: meta, pivot (scoped as the screen), saved views and the refresh job."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from xietong.analytics import etl, warehouse
from xietong.analytics.models import SavedPivot
from xietong.analytics.tests.factories import history
from xietong.api.tests.conftest import API, token_client, token_for
from xietong.core import jobs
from xietong.core.models import Job
from xietong.sales import documents
from xietong.sales.models import SalesOrderLine
from xietong.sales.tests.factories import D

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(company_a, company_b, users_a):  # type: ignore[no-untyped-def]
    a = history(company_a, seed=8, orders=8,
                salespeople=[users_a["sales_rep"], users_a["executive"]])  # fmt: skip
    history(company_b, seed=9, orders=4)
    etl.etl_run(full=True)
    return a


def _post(client, path, body):  # type: ignore[no-untyped-def]
    return client.post(API + path, data=json.dumps(body), content_type="application/json")


def test_pivot_by_token_is_scoped_to_the_company_and_the_rep(world, company_a, users_a):
    manager = token_client(token_for(users_a["executive"], company_a))
    body = {"measures": ["revenue", "orders"], "rows": ["customer"], "columns": ["year"]}
    answer = _post(manager, "/analytics/pivot", body).json()
    lines = SalesOrderLine.objects.filter(order__company=company_a,
                                          order__state__in=etl.SALES_STATES)  # fmt: skip
    assert Decimal(answer["total"]["revenue"]) == sum(line.amount_untaxed for line in lines)
    assert answer["total"]["orders"] == len({line.order_id for line in lines})
    rep = users_a["sales_rep"]
    mine = _post(token_client(token_for(rep, company_a)), "/analytics/pivot", body).json()
    own = {b.name for b in world.buyers if b.salesperson_id == rep.pk}
    assert {k[0] for k in mine["row_keys"]} <= own
    assert Decimal(mine["total"]["revenue"]) == sum(
        line.amount_untaxed for line in lines.filter(order__party__salesperson=rep)
    )
    refused = _post(manager, "/analytics/pivot", {"measures": ["bogus"]})
    assert refused.status_code == 422


def test_meta_lists_measures_and_drillable_dimensions(world, company_a, users_a):
    client = token_client(token_for(users_a["sales_rep"], company_a))
    meta = client.get(API + "/analytics/meta").json()
    assert {"revenue", "margin", "orders", "customers", "ar_open", "stock_value"} <= {
        m["code"] for m in meta["measures"]
    }
    children = {d["code"]: d["child"] for d in meta["dimensions"]}
    assert children["year"] == "quarter" and children["category"] == "product"


def test_views_save_share_delete(world, company_a, company_b, users_a):
    owner = token_client(token_for(users_a["executive"], company_a))
    created = _post(owner, "/analytics/views", {"name": "By month", "definition": {
        "measures": ["revenue"], "rows": ["month"]}})  # fmt: skip
    assert created.status_code == 201
    view_id = created.json()["id"]
    rep = token_client(token_for(users_a["sales_rep"], company_a))
    assert rep.get(API + "/analytics/views").json()["count"] == 0
    shared = owner.put(API + f"/analytics/views/{view_id}/shared", data=json.dumps(
        {"shared": True}), content_type="application/json")  # fmt: skip
    assert shared.status_code == 200 and shared.json()["shared"] is True
    assert [v["id"] for v in rep.get(API + "/analytics/views").json()["items"]] == [view_id]
    assert rep.delete(API + f"/analytics/views/{view_id}").status_code == 404  # not the owner
    no_share = _post(rep, "/analytics/views", {"name": "x", "shared": True,
                                                "definition": {"measures": ["revenue"]}})  # fmt: skip
    assert no_share.status_code == 422
    bad = _post(owner, "/analytics/views", {"name": "", "definition": {"measures": ["nope"]}})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["errors"]} >= {"name", "definition"}
    assert owner.delete(API + f"/analytics/views/{view_id}").status_code == 204
    # a view of company B is never found from company A
    other = SavedPivot.unscoped.create(company=company_b, owner=users_a["executive"],
                                       name="B", definition={})  # fmt: skip
    assert owner.delete(API + f"/analytics/views/{other.pk}").status_code == 404


def test_refresh_job_loads_the_warehouse(world, company_a, users_a):
    client = token_client(token_for(users_a["executive"], company_a))
    for buyer in world.buyers[:3]:  # new orders after the last load
        order = documents.order_create(company=company_a, actor=None, party=buyer,
                                       lines=[{"product": world.products[0], "quantity": D(2)}])  # fmt: skip
        documents.order_confirm(order=order, actor=None)
    response = client.post(API + "/analytics/refresh")
    assert response.status_code == 202
    job = Job.unscoped.get(pk=response.json()["id"])
    jobs.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.message
    with warehouse.connect(read_only=True) as con:
        revenue = con.execute("SELECT sum(revenue) FROM fact_sales_line WHERE company_id = ?",
                              [company_a.pk]).fetchone()[0]  # fmt: skip
    lines = SalesOrderLine.objects.filter(order__company=company_a,
                                          order__state__in=etl.SALES_STATES)  # fmt: skip
    assert revenue == sum(line.amount_untaxed for line in lines)
    assert (
        token_client(token_for(users_a["sales_rep"], company_a))
        .post(API + "/analytics/refresh")
        .status_code
        == 403
    )
