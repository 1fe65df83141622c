"""The party API: parties, contacts, addresses, bank accounts, customer groups, payment terms,
the timeline, duplicates and merging; idempotent creation; company scoping."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.party import services
from xietong.party.models import Contact, Party, Region
from xietong.party.tests.conftest import API, make_party, token_client, valid_uscc
from xietong.party.tests.matrix import PARTY_SAMPLES, party_records

pytestmark = pytest.mark.django_db


@pytest.fixture
def manager(users_a) -> Client:  # type: ignore[no-untyped-def]
    """Company A's sales manager (change, credit, merge), signed in by token."""
    return token_client(users_a["sales_manager"])


def post(client: Client, path: str, body: dict[str, Any], **headers: str) -> Any:
    return client.post(
        API + path, json.dumps(body), content_type="application/json", headers=headers
    )


def patch(client: Client, path: str, body: dict[str, Any]) -> Any:
    return client.patch(API + path, json.dumps(body), content_type="application/json")


def errors(response: Any) -> dict[str, str]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_party_lifecycle(manager, company_a, users_a):
    tax = valid_uscc()
    body = {
        "name": "深圳飞轮科技有限公司",
        "is_customer": True,
        "country": "CN",
        "tax_id": tax.lower(),
        "phone": "0755-8888 1234",
        "tags": ["VIP"],
        "salesperson": users_a["sales_rep"].pk,
    }
    created = post(manager, "/parties", body, **{"Idempotency-Key": "k-1"})
    assert created.status_code == 201, created.content
    party = created.json()
    assert (party["tax_id"], party["currency"], party["tags"]) == (tax, "CNY", ["VIP"])
    assert party["salesperson"] == users_a["sales_rep"].pk
    replay = post(manager, "/parties", body, **{"Idempotency-Key": "k-1"})
    assert replay.json() == party and replay["Idempotent-Replayed"] == "true"
    assert Party.unscoped.filter(company=company_a).count() == 1

    duplicate = post(manager, "/parties", {**body, "name": "深圳 飞轮科技", "tax_id": ""})
    assert duplicate.status_code == 422 and "allow_duplicate" in errors(duplicate)
    bad = post(
        manager, "/parties", {"name": "X", "is_customer": True, "country": "DE", "tax_id": "DE1"}
    )
    assert bad.status_code == 422 and "EU VAT" in errors(bad)["tax_id"]

    url = f"/parties/{party['id']}"
    changed = patch(manager, url, {"email": "info@feilun.example", "tags": ["VIP", "OEM"]})
    assert changed.status_code == 200 and changed.json()["tags"] == ["OEM", "VIP"]
    refused = patch(manager, url, {"credit_limit": "5"})
    assert refused.status_code == 422 and "credit_limit" in str(errors(refused))
    assert Party.unscoped.get(pk=party["id"]).credit_limit is None
    term = post(
        manager, "/payment-terms", {"name": "Net 30", "lines": [{"percent": "100", "days": 30}]}
    )
    credit = manager.put(
        API + url + "/credit-terms",
        json.dumps({"credit_limit": "300000.00", "payment_term": term.json()["id"]}),
        content_type="application/json",
    )
    assert credit.status_code == 200 and credit.json()["credit_limit"] == "300000.00"
    floats = manager.put(
        API + url + "/credit-terms",
        json.dumps({"credit_limit": 1.5}),
        content_type="application/json",
    )
    assert floats.status_code == 422
    archived = post(manager, url + "/archive", {})
    assert archived.json()["active"] is False
    assert post(manager, url + "/restore", {}).json()["active"] is True
    kinds = [e["kind"] for e in manager.get(API + url + "/timeline").json()["items"]]
    assert kinds == ["party.archived", "party.archived", "party.credit", "party.created"]
    only = manager.get(API + url + "/timeline", {"kind": "party.credit"}).json()
    assert only["count"] == 1 and only["items"][0]["kind_label"] == "Credit terms changed"
    note = post(manager, url + "/timeline", {"kind": "activity", "summary": "Visited the shop"})
    assert note.status_code == 201 and note.json()["actor"] == users_a["sales_manager"].pk


def test_invoicing_policy_is_read_and_written(manager, company_a):
    body = {"name": "Advance Payer", "is_customer": True, "invoice_policy": "order"}
    created = post(manager, "/parties", body)
    assert created.status_code == 201, created.content
    party = created.json()
    assert party["invoice_policy"] == "order"
    url = f"/parties/{party['id']}"
    bad = patch(manager, url, {"name": "Renamed", "invoice_policy": "weekly"})
    assert bad.status_code == 422 and "invoice_policy" in errors(bad)
    stored = Party.unscoped.get(pk=party["id"])
    assert (stored.name, stored.invoice_policy) == ("Advance Payer", "order")
    changed = patch(manager, url, {"invoice_policy": "delivery"})
    assert changed.status_code == 200 and changed.json()["invoice_policy"] == "delivery"
    cleared = patch(manager, url, {"invoice_policy": None})
    assert cleared.status_code == 200 and cleared.json()["invoice_policy"] == ""
    plain = post(manager, "/parties", {"name": "Plain Buyer", "is_customer": True}).json()
    assert plain["invoice_policy"] == ""


def test_list_filters_and_query_count(manager, company_a):
    group = services.customer_group_create(company=company_a, actor=None, code="oem", name="OEM", max_discount_percent=10)  # fmt: skip
    make_party(company_a, "Alpha", customer_group=group, tags=["VIP"], country="CN")
    make_party(company_a, "Beta", is_customer=False, is_supplier=True, country="DE")
    gone = make_party(company_a, "Gamma")
    services.party_archive(party=gone, actor=None)

    def names(**query: Any) -> list[str]:
        return [p["name"] for p in manager.get(f"{API}/parties", query).json()["items"]]

    assert names() == ["Alpha", "Beta", "Gamma"]
    assert names(role="supplier") == ["Beta"]
    assert names(role="customer", active="true") == ["Alpha"]
    assert names(group=group.pk) == names(tag="VIP") == names(country="cn") == ["Alpha"]
    assert names(q="bet") == ["Beta"]

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert manager.get(f"{API}/parties").status_code == 200
        return len(queries)

    few = count()
    for i in range(15):
        make_party(company_a, f"More {i}", tags=["x", "y"])
    assert count() == few


def test_duplicates_and_merge(manager, company_a):
    survivor = make_party(company_a, "Velo Sport GmbH", country="DE", tax_id="DE136695976")
    duplicate = make_party(company_a, "VELO-SPORT", email="info@velo.example")
    services.contact_create(party=duplicate, actor=None, name="Bernd")
    found = manager.get(
        f"{API}/parties/duplicates", {"name": "velo sport", "tax_id": "DE 136695976"}
    )
    assert found.json()[0] == {
        "party": {
            "id": survivor.pk,
            "code": survivor.code,
            "name": "Velo Sport GmbH",
            "active": True,
        },
        "reasons": ["name", "tax_id"],
    }
    merged = post(manager, f"/parties/{survivor.pk}/merge", {"duplicate": duplicate.pk})
    assert merged.status_code == 200 and merged.json()["email"] == "info@velo.example"
    assert Contact.unscoped.get(name="Bernd").party_id == survivor.pk
    again = post(manager, f"/parties/{survivor.pk}/merge", {"duplicate": duplicate.pk})
    assert again.status_code == 422 and "duplicate" in errors(again)
    shown = manager.get(f"{API}/parties/{duplicate.pk}").json()
    assert shown["merged_into"] == survivor.pk and not shown["active"]
    assert duplicate.pk not in [p["id"] for p in manager.get(f"{API}/parties").json()["items"]]


def test_contacts_addresses_bank_accounts(manager, company_a):
    party = make_party(company_a)
    base = f"/parties/{party.pk}"
    contact = post(
        manager,
        base + "/contacts",
        {"name": "王伟", "mobile": "13800138000"},
        **{"Idempotency-Key": "c"},
    )
    assert contact.status_code == 201 and contact.json()["is_primary"]
    cid = contact.json()["id"]
    assert patch(manager, f"/contacts/{cid}", {"email": "bad"}).status_code == 422
    assert patch(manager, f"/contacts/{cid}", {"role": "采购"}).json()["role"] == "采购"
    assert post(manager, f"/contacts/{cid}/archive", {}).json()["active"] is False
    assert manager.get(API + base + "/contacts").json()["count"] == 1

    shanghai = Region.objects.get(code="CN-SH")
    address = post(manager, base + "/addresses", {"street": "张江路 88 号", "city": "上海", "country": "CN", "region": shanghai.pk})  # fmt: skip
    assert address.status_code == 201 and address.json()["region_name"] == "Shanghai Shi"
    wrong = post(manager, base + "/addresses", {"street": "x", "city": "y", "country": "DE", "region": shanghai.pk})  # fmt: skip
    assert wrong.status_code == 422 and "region" in errors(wrong)
    aid = address.json()["id"]
    assert patch(manager, f"/addresses/{aid}", {"kind": "shipping"}).json()["kind"] == "shipping"
    assert manager.get(f"{API}/regions", {"country": "cn"}).json()["count"] >= 30
    china = next(
        c
        for c in manager.get(f"{API}/countries", {"limit": 300}).json()["items"]
        if c["code"] == "CN"
    )
    assert china["name_zh"] == "中国"

    account = post(manager, base + "/bank-accounts", {"bank_name": "Commerzbank", "account_number": "DE89 3704 0044 0532 0130 00"})  # fmt: skip
    assert (
        account.status_code == 201 and account.json()["account_number"] == "DE89370400440532013000"
    )
    bad = post(manager, base + "/bank-accounts", {"bank_name": "X", "account_number": "DE00370400440532013000"})  # fmt: skip
    assert bad.status_code == 422 and "account_number" in errors(bad)


def test_groups_and_payment_terms(manager, users_a):
    group = post(
        manager,
        "/customer-groups",
        {"code": "dist", "name": "经销商", "max_discount_percent": "8.5"},
    )
    assert group.status_code == 201 and group.json()["max_discount_percent"] == "8.50"
    gid = group.json()["id"]
    assert (
        patch(manager, f"/customer-groups/{gid}", {"max_discount_percent": "101"}).status_code
        == 422
    )
    assert post(manager, f"/customer-groups/{gid}/archive", {}).json()["active"] is False
    assert manager.get(f"{API}/customer-groups").json()["count"] == 0
    assert manager.get(f"{API}/customer-groups", {"include_inactive": "true"}).json()["count"] == 1

    lines = [{"percent": "30", "days": 0}, {"percent": "60", "days": 60}]
    bad = post(manager, "/payment-terms", {"name": "30/70", "lines": lines})
    assert bad.status_code == 422 and "100" in errors(bad)["lines"]
    lines[1]["percent"] = "70"
    term = post(manager, "/payment-terms", {"name": "30/70", "lines": lines})
    assert term.status_code == 201
    tid = term.json()["id"]
    schedule = manager.get(
        f"{API}/payment-terms/{tid}/schedule", {"total": "1000.01", "invoice_date": "2026-01-31"}
    ).json()
    assert [(i["due_date"], i["amount"]) for i in schedule] == [
        ("2026-01-31", "300.00"),
        ("2026-04-01", "700.01"),
    ]
    changed = patch(manager, f"/payment-terms/{tid}", {"lines": [{"percent": "100", "days": 30, "discount_percent": "2", "discount_days": 10}]})  # fmt: skip
    assert changed.json()["lines"] == [{"percent": "100.000", "days": 30, "discount_percent": "2.00", "discount_days": 10}]  # fmt: skip
    rep = token_client(users_a["sales_rep"])
    assert post(rep, "/payment-terms", {"name": "x", "lines": lines}).status_code == 403
    assert rep.get(f"{API}/payment-terms/{tid}").status_code == 200


@pytest.mark.parametrize("auth", ["token", "session"])
def test_another_companys_records_are_not_found(auth, users_a, company_a, company_b):
    user = users_a["admin"]
    if auth == "token":
        client = token_client(user)
    else:
        client = Client()
        client.force_login(user)
    theirs = party_records(company_b, "b")
    ids = {
        "party_id": theirs["party"].pk,
        "contact_id": theirs["contact"].pk,
        "address_id": theirs["address"].pk,
        "account_id": theirs["bank_account"].pk,
        "group_id": theirs["customer_group"].pk,
        "term_id": theirs["payment_term"].pk,
    }
    for (method, path), make in PARTY_SAMPLES.items():
        if "{" not in path:
            continue
        sample = make(user, company_a)
        url = API + path.format(**{**sample["path_params"], **ids})
        body = json.dumps(sample["body"] or {})
        response = client.generic(method, url, data=body, content_type="application/json")
        assert response.status_code == 404, (method, path, response.status_code)
    mine = make_party(company_a)
    merge = post(client, f"/parties/{mine.pk}/merge", {"duplicate": theirs["party"].pk})
    assert merge.status_code == 422
    foreign_group = patch(
        client, f"/parties/{mine.pk}", {"customer_group": theirs["customer_group"].pk}
    )
    assert foreign_group.status_code == 422 and "customer_group" in errors(foreign_group)
    for path in (
        "/parties",
        "/customer-groups",
        "/payment-terms",
        "/parties/duplicates?name=CANARY-b-party",
    ):
        assert b"CANARY-b" not in client.get(API + path).content
    assert Party.unscoped.get(pk=theirs["party"].pk).active
