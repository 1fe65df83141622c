"""Company scoping and ownership: nobody reads or writes another company's rows through the API,
lists never include them, and own-only resources (jobs, tokens) stay their owner's."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from xietong.api.tests.conftest import API, make_rate, token_client, token_for
from xietong.core.models import ApiToken, Company, ExchangeRate, Job, Sequence, User
from xietong.core.services import api_token_create

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["token", "session"])
def accountant_a(
    request: pytest.FixtureRequest, users_a: dict[str, User], as_session: Callable[..., Client]
) -> Client:
    """Company A's accountant (may view and change rates), by token and by session."""
    user = users_a["accountant"]
    return token_client(token_for(user)) if request.param == "token" else as_session(user)


def test_another_companys_rate_is_not_found(accountant_a: Client, rate_b: ExchangeRate) -> None:
    url = f"{API}/exchange-rates/{rate_b.pk}"

    assert accountant_a.get(url).status_code == 404
    assert (
        accountant_a.patch(url, {"rate": "1"}, content_type="application/json").status_code == 404
    )
    assert accountant_a.delete(url).status_code == 404
    rate_b.refresh_from_db()
    assert str(rate_b.rate) == "7.1234000000"


def test_lists_never_contain_another_companys_rows(
    accountant_a: Client, company_a: Company, company_b: Company
) -> None:
    own = {make_rate(company_a, "USD").pk, make_rate(company_a, "EUR").pk}
    for _ in range(3):
        make_rate(company_b, "USD")

    for query in ({}, {"currency": "USD"}, {"date_from": "2000-01-01", "limit": 500}):
        body = accountant_a.get(f"{API}/exchange-rates", query).json()
        assert {row["id"] for row in body["items"]} <= own
    assert accountant_a.get(f"{API}/exchange-rates").json()["count"] == 2
    sequences = accountant_a.get(f"{API}/sequences").json()["items"]
    own_sequences = Sequence.unscoped.filter(company=company_a).values_list("pk", flat=True)
    assert {row["id"] for row in sequences} == set(own_sequences)


def test_created_rows_belong_to_the_callers_company(
    accountant_a: Client, company_a: Company
) -> None:
    response = accountant_a.post(
        f"{API}/exchange-rates",
        {"currency": "USD", "date": "2025-05-05", "rate": "7", "company": 999},
        content_type="application/json",
    )

    assert response.status_code == 201
    assert ExchangeRate.unscoped.get(pk=response.json()["id"]).company_id == company_a.pk


def test_jobs_other_companies_and_other_users(
    users_a: dict[str, User], users_b: dict[str, User], company_a: Company, company_b: Company
) -> None:
    mine = Job.unscoped.create(company=company_a, user=users_a["sales_rep"], name="x", kind="k")
    colleagues = Job.unscoped.create(company=company_a, user=users_a["buyer"], name="y", kind="k")
    foreign = Job.unscoped.create(company=company_b, user=users_b["admin"], name="z", kind="k")
    rep = token_client(token_for(users_a["sales_rep"]))  # without core.job.view
    executive = token_client(token_for(users_a["executive"]))  # with core.job.view

    assert rep.get(f"{API}/jobs/{mine.pk}").status_code == 200
    assert rep.get(f"{API}/jobs/{colleagues.pk}").status_code == 404
    assert executive.get(f"{API}/jobs/{colleagues.pk}").status_code == 200
    assert executive.get(f"{API}/jobs/{foreign.pk}").status_code == 404


def test_tokens_are_their_owners(
    users_a: dict[str, User], users_b: dict[str, User], as_session: Callable[..., Client]
) -> None:
    owner, colleague = users_a["admin"], users_a["accountant"]
    token, _raw = api_token_create(user=owner, company=owner.active_company, name="mine")
    foreign, _raw = api_token_create(
        user=users_b["admin"], company=users_b["admin"].active_company, name="theirs"
    )
    client = as_session(colleague)

    assert client.get(f"{API}/tokens").json()["count"] == 0
    assert client.delete(f"{API}/tokens/{token.pk}").status_code == 404
    assert client.delete(f"{API}/tokens/{foreign.pk}").status_code == 404
    assert ApiToken.unscoped.filter(revoked_at__isnull=False).count() == 0
