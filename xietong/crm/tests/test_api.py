"""The CRM API: leads, qualification with duplicates, opportunities moved, won and lost,
activities, the forecast; a rep sees only their own teams' pipeline; lists count queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.core.services import api_token_create
from xietong.core.tenancy import company_scope
from xietong.crm.models import Lead, Opportunity
from xietong.crm.tests import factories

API = "/api/v1"
pytestmark = pytest.mark.django_db


def _client(user, company) -> Client:  # type: ignore[no-untyped-def]
    _token, raw = api_token_create(user=user, company=company, name="crm tests")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _post(client: Client, path: str, body: Any, **headers: str) -> Any:
    return client.post(API + path, data=json.dumps(body), content_type="application/json",
                       headers=headers)  # fmt: skip


def test_lead_to_opportunity_over_the_api(company_a, sales):
    rep = _client(sales.rep, company_a)
    made = _post(rep, "/crm/leads", {"name": "Chen Jing", "company_name": "Velo Sport",
                                     "email": "cj@velo.example", "team": sales.east.pk},
                 **{"Idempotency-Key": "lead-1"})  # fmt: skip
    assert made.status_code == 201, made.content
    again = _post(rep, "/crm/leads", {"name": "Chen Jing", "company_name": "Velo Sport",
                                      "email": "cj@velo.example", "team": sales.east.pk},
                  **{"Idempotency-Key": "lead-1"})  # fmt: skip
    assert again.status_code == 201 and again.json()["id"] == made.json()["id"]
    assert Lead.unscoped.filter(company=company_a).count() == 1
    lead = made.json()
    assert lead["owner"] in (sales.rep.pk, sales.rep2.pk) and lead["source"] == "manual"

    existing = factories.customer(company_a, "Velo-Sport Co., Ltd.")
    refused = _post(rep, f"/crm/leads/{lead['id']}/qualify", {})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "party"
    found = rep.get(f"{API}/crm/leads/{lead['id']}/duplicates").json()
    assert found == [{"party": existing.pk, "code": existing.code, "name": existing.name,
                      "reasons": ["name"]}]  # fmt: skip
    qualified = _post(rep, f"/crm/leads/{lead['id']}/qualify",
                      {"party": existing.pk, "expected_revenue": "12000.50"})  # fmt: skip
    assert qualified.status_code == 201, qualified.content
    deal = qualified.json()
    assert (deal["party"], deal["expected_revenue"], deal["probability"]) == (
        existing.pk, "12000.5000", "10.00")  # fmt: skip
    assert deal["weighted_revenue"] == "1200.0500"

    stages = {s["name"]: s["id"] for s in
              rep.get(f"{API}/crm/teams").json()["items"][0]["stages"]}  # fmt: skip
    moved = _post(rep, f"/crm/opportunities/{deal['id']}/move",
                  {"stage": stages["Proposal"], "probability": "55"})  # fmt: skip
    assert moved.status_code == 200 and moved.json()["probability"] == "55.00"
    assert moved.json()["probability_overridden"] is True
    bad = _post(rep, f"/crm/opportunities/{deal['id']}/move", {"stage": stages["Lost"]})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "stage"
    no_reason = _post(rep, f"/crm/opportunities/{deal['id']}/lost", {})
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "lost_reason"
    call = _post(rep, "/crm/activities", {"subject": "Call", "opportunity": deal["id"],
                                          "due_date": "2026-02-01"})  # fmt: skip
    assert call.status_code == 201 and call.json()["owner"] == sales.rep.pk
    done = _post(rep, f"/crm/activities/{call.json()['id']}/done", {"note": "ok"})
    assert done.status_code == 200 and done.json()["done"] is True
    won = _post(rep, f"/crm/opportunities/{deal['id']}/won", {})
    assert won.status_code == 200 and won.json()["state"] == "won"
    closed = _post(rep, f"/crm/opportunities/{deal['id']}/won", {})
    assert closed.status_code == 422 and closed.json()["code"] == "state"


def test_a_rep_reaches_only_their_teams_opportunities(company_a, sales):
    east = factories.opportunity(company_a, sales.east, owner=sales.rep2)
    west = factories.opportunity(company_a, sales.west, owner=sales.other)
    rep = _client(sales.rep, company_a)
    listed = rep.get(f"{API}/crm/opportunities").json()
    assert [row["id"] for row in listed["items"]] == [east.pk]
    assert rep.get(f"{API}/crm/opportunities/{west.pk}").status_code == 404
    stage = factories.stage(sales.west, "Proposal")
    assert _post(rep, f"/crm/opportunities/{west.pk}/move", {"stage": stage.pk}).status_code == 404
    refused = _post(rep, "/crm/opportunities", {"party": west.party_id, "name": "x",
                                                "team": sales.west.pk})  # fmt: skip
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "team"
    assert (
        _post(rep, "/crm/activities", {"subject": "x", "opportunity": west.pk}).status_code == 422
    )
    manager = _client(sales.manager, company_a)  # crm.manage: every team
    ids = {row["id"] for row in manager.get(f"{API}/crm/opportunities").json()["items"]}
    assert ids == {east.pk, west.pk}
    with company_scope(company_a):
        assert Opportunity.objects.get(pk=west.pk).stage.name == "New"


def test_other_company_records_are_not_found(company_a, company_b, users_b, sales):
    deal = factories.opportunity(company_a, sales.east)
    theirs = _client(users_b["sales_manager"], company_b)
    assert theirs.get(f"{API}/crm/opportunities/{deal.pk}").status_code == 404
    assert theirs.get(f"{API}/crm/opportunities").json()["count"] == 0


def test_lists_query_a_fixed_number_of_times(company_a, sales):
    manager = _client(sales.manager, company_a)
    manager.get(f"{API}/crm/opportunities")  # warm up (token, membership caches)

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert manager.get(API + path).status_code == 200
        return len(captured)

    for _i in range(3):
        factories.opportunity(company_a, sales.east)
    few = count("/crm/opportunities"), count("/crm/leads"), count("/crm/teams")
    for _i in range(6):
        deal = factories.opportunity(company_a, sales.west)
        with company_scope(company_a):
            from xietong.crm import services

            services.lead_create(company=company_a, actor=None, name="L", email="l@x.example",
                                 team=sales.west)  # fmt: skip
            services.activity_create(company=company_a, actor=None, opportunity=deal,
                                     subject="c")  # fmt: skip
    many = count("/crm/opportunities"), count("/crm/leads"), count("/crm/teams")
    assert many == few
    assert count("/crm/activities") <= few[0] + 1


def test_web_form_and_forecast(company_a, sales):
    rep = _client(sales.rep, company_a)
    made = _post(rep, "/crm/leads/web-form", {"team": sales.east.pk, "fields": {
        "name": "Wu", "email": "wu@x.example", "utm_campaign": "expo"}})  # fmt: skip
    assert made.status_code == 201 and made.json()["source"] == "web_form"
    assert made.json()["campaign"] == "expo"
    import datetime as dt

    factories.opportunity(company_a, sales.east, owner=sales.rep, revenue="1000",
                          close_date=dt.date(2026, 5, 20), stage_name="Proposal")  # fmt: skip
    rows = rep.get(f"{API}/crm/forecast", {"by": "owner"}).json()
    assert rows == [{"month": "2026-05-01", "key": sales.rep.pk, "label": str(sales.rep),
                     "count": 1, "expected": "1000.00", "weighted": "600.00"}]  # fmt: skip


def test_managers_set_up_teams_stages_and_lost_reasons(company_a, sales):
    manager = _client(sales.manager, company_a)
    made = _post(manager, "/crm/teams", {"name": "North", "members": [sales.rep.pk],
                                         "assignment": "round_robin"})  # fmt: skip
    assert made.status_code == 201, made.content
    team = made.json()
    assert team["members"] == [sales.rep.pk] and len(team["stages"]) == 6
    stage = _post(manager, f"/crm/teams/{team['id']}/stages",
                  {"name": "Demo", "sequence": 25, "probability": "40"})  # fmt: skip
    assert stage.status_code == 201 and stage.json()["probability"] == "40.00"
    clash = _post(manager, f"/crm/teams/{team['id']}/stages", {"name": "Demo", "probability": "1"})
    assert clash.status_code == 422 and clash.json()["errors"][0]["field"] == "name"
    members = manager.put(f"{API}/crm/teams/{team['id']}/members",
                          data=json.dumps({"members": [sales.rep.pk, sales.rep2.pk]}),
                          content_type="application/json")  # fmt: skip
    assert members.json()["members"] == sorted([sales.rep.pk, sales.rep2.pk])
    assert _post(manager, "/crm/lost-reasons", {"name": "No budget"}).status_code == 201
    target = _post(manager, "/crm/targets", {"team": team["id"], "user": sales.rep.pk,
                                             "period_start": "2026-01-01",
                                             "period_end": "2026-03-31", "amount": "90000"})  # fmt: skip
    assert target.status_code == 201, target.content
    assert (target.json()["won"], target.json()["attainment"]) == ("0.00", "0.0")
    listed = _client(sales.rep, company_a).get(f"{API}/crm/targets", {"on": "2026-02-01"})
    assert [t["amount"] for t in listed.json()["items"]] == ["90000.0000"]
    rep = _client(sales.rep, company_a)
    assert _post(rep, "/crm/teams", {"name": "Mine"}).status_code == 403
    assert _post(rep, "/crm/lost-reasons", {"name": "x"}).status_code == 403
    assert _post(rep, "/crm/targets", {"team": team["id"], "period_start": "2026-01-01",
                                       "period_end": "2026-01-31", "amount": "1"}).status_code == 403  # fmt: skip


def test_assign_a_lead_and_reassign_an_opportunity(company_a, sales):
    with company_scope(company_a):
        from xietong.crm import services

        lead = services.lead_create(company=company_a, actor=None, name="Li", email="li@x.example")
    rep = _client(sales.rep, company_a)
    refused = _post(rep, f"/crm/leads/{lead.pk}/assign", {})
    assert refused.status_code == 422 and refused.json()["code"] == "team"
    assigned = _post(rep, f"/crm/leads/{lead.pk}/assign", {"team": sales.east.pk})
    assert assigned.status_code == 200
    assert assigned.json()["owner"] in (sales.rep.pk, sales.rep2.pk)
    assert "least loaded" in assigned.json()["reason"]
    deal = factories.opportunity(company_a, sales.west, owner=None)
    manager = _client(sales.manager, company_a)
    again = _post(manager, f"/crm/opportunities/{deal.pk}/assign", {})
    assert again.status_code == 200 and again.json()["owner"] == sales.other.pk


def test_team_edited_over_the_api_by_a_manager_not_a_rep(company_a, company_b, users_b, sales):
    manager = _client(sales.manager, company_a)
    path = f"{API}/crm/teams/{sales.east.pk}"
    response = manager.patch(path, data=json.dumps({"manager": sales.rep2.pk,
                                                    "assignment": "manual"}),
                             content_type="application/json")  # fmt: skip
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["manager"], body["assignment"], body["name"]) == (sales.rep2.pk, "manual", "East")
    assert body["members"] == sorted([sales.rep.pk, sales.rep2.pk])  # not sent: kept
    response = manager.patch(path, data=json.dumps({"members": [sales.rep.pk], "name": "West"}),
                             content_type="application/json")  # fmt: skip
    assert response.status_code == 422  # the name clashes: nothing changed
    assert sales.east.members.count() == 2
    rep = _client(sales.rep, company_a)
    assert rep.patch(path, data="{}", content_type="application/json").status_code == 403
    other = _client(users_b["sales_manager"], company_b)
    assert other.patch(path, data="{}", content_type="application/json").status_code == 404
