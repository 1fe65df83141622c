"""What each core endpoint answers: the caller and their companies, exchange rates (filters,
pagination, decimals as strings, create/update/delete), reference data, job progress and API
tokens; plus a constant query count for lists."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from xietong.api.tests.conftest import API, make_rate, token_client, token_for
from xietong.core.models import ApiToken, Company, ExchangeRate, Job, Membership, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def accountant(users_a: dict[str, User]) -> Client:
    return token_client(token_for(users_a["accountant"]))


def test_me(
    users_a: dict[str, User], company_a: Company, as_session: Callable[..., Client]
) -> None:
    body = as_session(users_a["sales_rep"]).get(f"{API}/me").json()

    assert body["user"]["username"] == "a_sales_rep"
    assert body["company"] == {
        "id": company_a.pk,
        "name": "Alpha Works",
        "legal_name": "Alpha Works Ltd.",
        "base_currency": "CNY",
        "country": "CN",
        "timezone": "Asia/Shanghai",
    }
    assert body["roles"] == [{"code": "sales_rep", "name": "Sales representative"}]
    assert "core.exchangerate.view" in body["permissions"]
    assert "core.exchangerate.change" not in body["permissions"]
    assert body["authenticated_by"] == "session"


def test_companies_lists_the_callers_memberships(
    users_a: dict[str, User], company_a: Company, company_b: Company
) -> None:
    user = users_a["buyer"]
    Membership.unscoped.create(company=company_b, user=user)

    body = token_client(token_for(user, company_b)).get(f"{API}/companies").json()

    assert body["count"] == 2
    assert {(c["id"], c["active"]) for c in body["items"]} == {
        (company_a.pk, False),
        (company_b.pk, True),
    }


def test_exchange_rate_crud(accountant: Client) -> None:
    created = accountant.post(
        f"{API}/exchange-rates",
        {"currency": "usd", "date": "2025-06-30", "rate": "7.12345678", "source": "PBoC"},
        content_type="application/json",
    )
    assert created.status_code == 422  # currency codes are upper case
    created = accountant.post(
        f"{API}/exchange-rates",
        {"currency": "USD", "date": "2025-06-30", "rate": "7.12345678", "source": "PBoC"},
        content_type="application/json",
    )
    assert created.status_code == 201
    rate = created.json()
    assert rate["rate"] == "7.12345678"  # a string, exact
    url = f"{API}/exchange-rates/{rate['id']}"
    assert accountant.get(url).json()["rate"] == "7.1234567800"

    patched = accountant.patch(url, {"rate": "7.2"}, content_type="application/json")
    assert patched.status_code == 200
    assert patched.json() | {"rate": None} == rate | {"rate": None}  # only the rate changed
    assert ExchangeRate.unscoped.get(pk=rate["id"]).rate == Decimal("7.2")

    assert accountant.delete(url).status_code == 204
    assert accountant.get(url).status_code == 404


def test_exchange_rate_filters_and_pagination(accountant: Client, company_a: Company) -> None:
    rates = [make_rate(company_a, currency) for currency in ["USD", "EUR", "USD", "JPY", "USD"]]
    first, last = rates[0].date, rates[-1].date

    usd = accountant.get(f"{API}/exchange-rates", {"currency": "usd"}).json()
    assert usd["count"] == 3
    assert [r["date"] for r in usd["items"]] == sorted(
        (r["date"] for r in usd["items"]), reverse=True
    )
    ranged = accountant.get(
        f"{API}/exchange-rates",
        {"date_from": (first + dt.timedelta(days=1)).isoformat(), "date_to": last.isoformat()},
    ).json()
    assert ranged["count"] == 4
    page = accountant.get(f"{API}/exchange-rates", {"limit": 2, "offset": 1}).json()
    assert page["count"] == 5
    assert [r["id"] for r in page["items"]] == [rates[3].pk, rates[2].pk]
    assert accountant.get(f"{API}/exchange-rates", {"limit": 501}).status_code == 422


def test_reference_data(accountant: Client) -> None:
    currencies = accountant.get(f"{API}/currencies", {"limit": 500}).json()
    assert {"code": "CNY", "name": "Chinese yuan", "symbol": "¥", "decimals": 2} in currencies[
        "items"
    ]
    assert accountant.get(f"{API}/units").status_code == 403  # accountants have no core.uom.view
    sequences = accountant.get(f"{API}/sequences").json()
    assert "finance.invoice" in {s["code"] for s in sequences["items"]}


def test_units(users_a: dict[str, User]) -> None:
    units = token_client(token_for(users_a["planner"])).get(f"{API}/units", {"limit": 500}).json()

    kg = next(u for u in units["items"] if u["code"] == "kg")
    assert kg == {
        "code": "kg",
        "name": "Kilogram",
        "category": "mass",
        "factor": "1.000000000000",
        "rounding": "0.001000",
        "active": True,
    }


def test_job_progress(users_a: dict[str, User], company_a: Company) -> None:
    user = users_a["accountant"]
    job = Job.unscoped.create(
        company=company_a,
        user=user,
        name="Import",
        kind="k",
        status=Job.Status.RUNNING,
        done=3,
        total=4,
        message="Importing…",
    )

    body = token_client(token_for(user)).get(f"{API}/jobs/{job.pk}").json()

    assert {k: body[k] for k in ("status", "done", "total", "percent", "message")} == {
        "status": "running",
        "done": 3,
        "total": 4,
        "percent": 75,
        "message": "Importing…",
    }


def test_token_lifecycle(users_a: dict[str, User], as_session: Callable[..., Client]) -> None:
    user = users_a["warehouse_clerk"]
    session = as_session(user)

    created = session.post(f"{API}/tokens", {"name": "scanner"}, content_type="application/json")
    assert created.status_code == 201
    token = created.json()
    assert token["key"].startswith("xt_") and token["key"].startswith(token["prefix"])
    listed = session.get(f"{API}/tokens").json()["items"]
    assert [t["id"] for t in listed] == [token["id"]]
    assert "key" not in listed[0]
    assert ApiToken.unscoped.get(pk=token["id"]).key_hash != token["key"]

    by_token = token_client(token["key"])
    assert by_token.get(f"{API}/me").status_code == 200
    refused = by_token.post(f"{API}/tokens", {"name": "more"}, content_type="application/json")
    assert refused.status_code == 403

    assert session.delete(f"{API}/tokens/{token['id']}").status_code == 204
    assert by_token.get(f"{API}/me").status_code == 401
    assert session.get(f"{API}/tokens").json()["items"][0]["revoked_at"] is not None


def test_token_create_validation(
    users_a: dict[str, User], as_session: Callable[..., Client]
) -> None:
    session = as_session(users_a["admin"])

    def create(body: dict[str, str]) -> dict[str, object]:
        response = session.post(f"{API}/tokens", body, content_type="application/json")
        assert response.status_code == 422
        return {e["field"]: e["message"] for e in response.json()["errors"]}

    assert "name" in create({"name": "  "})
    assert "expires_at" in create({"name": "x", "expires_at": "2030-01-01T00:00:00"})  # naive
    past = (timezone.now() - dt.timedelta(days=1)).isoformat()
    assert "expires_at" in create({"name": "x", "expires_at": past})


@pytest.mark.parametrize("path", ["/exchange-rates", "/tokens", "/companies", "/sequences"])
def test_list_query_count_does_not_grow_with_rows(
    path: str, users_a: dict[str, User], company_a: Company
) -> None:
    user = users_a["admin"]
    client = token_client(token_for(user))

    def queries() -> int:
        client.get(f"{API}/me")  # let the token's last-use write happen outside the count
        with CaptureQueriesContext(connection) as captured:
            assert client.get(f"{API}{path}").status_code == 200
        return len(captured)

    few = queries()
    for _ in range(5):
        make_rate(company_a)
        token_for(user)
    assert queries() == few
