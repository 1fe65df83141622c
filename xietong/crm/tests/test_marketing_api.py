"""The marketing API: segments with their live count, campaigns through their states with a
promotion and an e-mail, sending as a job, the results; bad rules answer 422 naming the
condition; permissions; another company's records are not found; lists count queries."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.core.jobs import job_run
from xietong.core.models import Job
from xietong.core.services import api_token_create
from xietong.crm.models import Campaign, Segment
from xietong.crm.tests import marketing_factories as mk

API = "/api/v1"
pytestmark = pytest.mark.django_db


def _client(user, company) -> Client:  # type: ignore[no-untyped-def]
    _token, raw = api_token_create(user=user, company=company, name="marketing tests")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def _post(client: Client, path: str, body: Any = None) -> Any:
    return client.post(API + path, data=json.dumps(body or {}), content_type="application/json")


def test_segment_campaign_send_and_results_over_the_api(company_a, users_a):
    mk.customer(company_a, "华东车行", email="east@example.cn", country="CN")
    mk.customer(company_a, "Velo Paris", email="p@example.fr", country="FR")
    api = _client(users_a["marketer"], company_a)
    made = _post(api, "/crm/marketing/segments", {
        "name": "中国客户", "rules": [{"field": "country", "op": "in", "value": ["CN"]}]})  # fmt: skip
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["count"] == 1 and [p["name"] for p in body["preview"]] == ["华东车行"]
    bad = _post(api, "/crm/marketing/segments", {
        "name": "坏", "rules": [{"field": "country", "op": "eq", "value": "CN"},
                               {"field": "salary", "op": "gt", "value": "1"}]})  # fmt: skip
    assert bad.status_code == 422
    assert "Condition 2: unknown field" in bad.content.decode()
    assert not Segment.unscoped.filter(name="坏").exists()
    campaign = _post(api, "/crm/marketing/campaigns", {
        "name": "春季邮件", "segment": body["id"], "budget": "3000", "cost": "900",
        "start_date": mk.today().isoformat(), "end_date": mk.today().isoformat()})  # fmt: skip
    assert campaign.status_code == 201, campaign.content
    cid = campaign.json()["id"]
    assert campaign.json()["state"] == "draft" and campaign.json()["budget"] == "3000.0000"
    promo = _post(api, f"/crm/marketing/campaigns/{cid}/promotions",
                  {"name": "九折", "value": "10", "coupons": ["api10"]})  # fmt: skip
    assert promo.status_code == 201 and promo.json()["coupons"] == ["API10"]
    template = _post(api, f"/crm/marketing/campaigns/{cid}/templates", {
        "language": "zh-hans", "subject": "{{ party_name }} 春季优惠",
        "body": "优惠码 {{ coupon }}"})  # fmt: skip
    assert template.status_code == 200, template.content
    refused = _post(api, f"/crm/marketing/campaigns/{cid}/send")
    assert refused.status_code == 422 and refused.json()["code"] == "state"
    moved = _post(api, f"/crm/marketing/campaigns/{cid}/state", {"state": "scheduled"})
    assert moved.json()["state"] == "scheduled"
    sent = _post(api, f"/crm/marketing/campaigns/{cid}/send")
    assert sent.status_code == 202, sent.content
    job_run(job_id=sent.json()["job"])
    assert Job.unscoped.get(pk=sent.json()["job"]).status == "done"
    (message,) = mail.outbox
    assert message.subject == "华东车行 春季优惠" and "优惠码 API10" in message.body
    detail = api.get(f"{API}/crm/marketing/campaigns/{cid}").json()
    assert detail["state"] == "running" and detail["templates"][0]["language"] == "zh-hans"
    results = api.get(f"{API}/crm/marketing/campaigns/{cid}/results").json()
    assert (results["recipients"], results["sent"], results["leads"]) == (1, 1, 0)
    assert results["cost_per_lead"] is None and results["roi_percent"] == "-100.00"
    illegal = _post(api, f"/crm/marketing/campaigns/{cid}/state", {"state": "draft"})
    assert illegal.status_code == 422 and illegal.json()["code"] == "transition"


def test_static_list_members_over_the_api(company_a, users_a):
    party = mk.customer(company_a, "名单客户")
    api = _client(users_a["marketer"], company_a)
    listed = _post(api, "/crm/marketing/segments", {"name": "名单", "kind": "static"}).json()
    added = _post(api, f"/crm/marketing/segments/{listed['id']}/members",
                  {"parties": [party.code, party.pk]})  # fmt: skip
    assert added.json() == {"added": 1, "count": 1}
    unknown = _post(api, f"/crm/marketing/segments/{listed['id']}/members", {"parties": ["X"]})
    assert unknown.status_code == 422


def test_permissions_and_other_companies(company_a, company_b, users_a, users_b):
    theirs = mk.campaign(company_b, name="B 公司活动")
    their_segment = mk.segment(company_b, [])
    manager = _client(users_a["sales_manager"], company_a)  # view only
    assert manager.get(f"{API}/crm/marketing/campaigns").status_code == 200
    assert _post(manager, "/crm/marketing/campaigns", {"name": "x"}).status_code == 403
    rep = _client(users_a["sales_rep"], company_a)
    assert rep.get(f"{API}/crm/marketing/campaigns").status_code == 403
    marketer = _client(users_a["marketer"], company_a)
    assert marketer.get(f"{API}/crm/marketing/campaigns/{theirs.pk}").status_code == 404
    assert marketer.get(f"{API}/crm/marketing/segments/{their_segment.pk}").status_code == 404
    assert _post(marketer, f"/crm/marketing/campaigns/{theirs.pk}/state",
                 {"state": "done"}).status_code == 404  # fmt: skip
    assert Campaign.unscoped.get(pk=theirs.pk).state == "running"
    listed = marketer.get(f"{API}/crm/marketing/campaigns").json()
    assert listed["items"] == []


def test_lists_query_a_fixed_number_of_times(company_a, users_a):
    api = _client(users_a["marketer"], company_a)

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(API + path).status_code == 200
        return len(queries)

    mk.campaign(company_a)
    mk.segment(company_a, [])
    count("/crm/marketing/campaigns")  # the first request of a token records its use
    few = (count("/crm/marketing/campaigns"), count("/crm/marketing/segments"))
    for _n in range(5):
        mk.campaign(company_a)
        mk.segment(company_a, [])
    assert (count("/crm/marketing/campaigns"), count("/crm/marketing/segments")) == few
