"""Authentication: API tokens (valid, unknown, revoked, expired, orphaned), the browser session
with CSRF, anonymous requests, and what a token sets up for the request (user, company,
permissions, scope, audit actor)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from xietong.api.tests.conftest import API, next_date, token_client, token_for
from xietong.core.models import ApiToken, AuditEntry, Company, ExchangeRate, Membership, User
from xietong.core.services import api_token_create, api_token_revoke
from xietong.core.tenancy import ScopeError, current_company

pytestmark = pytest.mark.django_db


def _rate_body() -> dict[str, str]:
    return {"currency": "USD", "date": next_date().isoformat(), "rate": "7.1"}


def _assert_401(response, detail: str | None = None) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"].startswith("Bearer")
    problem = response.json()
    assert problem["status"] == 401
    assert problem["code"] == "not_authenticated"
    if detail is not None:
        assert detail in problem["detail"]


def test_token_authenticates_and_records_its_use(users_a: dict[str, User]) -> None:
    user = users_a["accountant"]
    token, raw = api_token_create(user=user, company=user.active_company, name="ci")
    assert token.last_used_at is None

    response = token_client(raw).get(f"{API}/me")

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["username"] == user.username
    assert body["authenticated_by"] == "token"
    assert "core.exchangerate.change" in body["permissions"]
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize(
    "header",
    ["Bearer xt_not-a-real-token", "Bearer something-else", "Bearer ", "Token xt_abc"],
)
def test_unknown_or_malformed_token_is_401(header: str, company_a: Company) -> None:
    _assert_401(Client(headers={"Authorization": header}).get(f"{API}/me"))


def test_revoked_token_is_401(users_a: dict[str, User]) -> None:
    user = users_a["admin"]
    token, raw = api_token_create(user=user, company=user.active_company, name="old")
    api_token_revoke(token=token, actor=user)

    _assert_401(token_client(raw).get(f"{API}/me"), "revoked")


def test_expired_token_is_401(users_a: dict[str, User]) -> None:
    user = users_a["admin"]
    token, raw = api_token_create(
        user=user,
        company=user.active_company,
        name="short",
        expires_at=timezone.now() + dt.timedelta(hours=1),
    )
    ApiToken.unscoped.filter(pk=token.pk).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )

    _assert_401(token_client(raw).get(f"{API}/me"), "expired")


def test_token_of_a_deactivated_user_or_membership_is_401(users_a: dict[str, User]) -> None:
    user, other = users_a["admin"], users_a["accountant"]
    raw, other_raw = token_for(user), token_for(other)
    User.objects.filter(pk=user.pk).update(is_active=False)
    Membership.unscoped.filter(user=other).update(is_active=False)

    _assert_401(token_client(raw).get(f"{API}/me"))
    _assert_401(token_client(other_raw).get(f"{API}/me"))


def test_anonymous_is_401_problem(company_a: Company) -> None:
    _assert_401(Client().get(f"{API}/exchange-rates"))
    # An unsafe anonymous request is "not authenticated", not a CSRF failure.
    _assert_401(
        Client(enforce_csrf_checks=True).post(
            f"{API}/exchange-rates", _rate_body(), content_type="application/json"
        )
    )


def test_session_reads_without_csrf_token(users_a: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users_a["accountant"])

    response = client.get(f"{API}/me")

    assert response.status_code == 200
    assert response.json()["authenticated_by"] == "session"


def test_session_writes_need_the_csrf_token(users_a: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(users_a["accountant"])

    refused = client.post(f"{API}/exchange-rates", _rate_body(), content_type="application/json")
    assert refused.status_code == 403
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "csrf_failed"

    client.get(f"{API}/docs")  # any page that renders the CSRF token sets the cookie
    csrf = client.cookies["csrftoken"].value
    accepted = client.post(
        f"{API}/exchange-rates",
        _rate_body(),
        content_type="application/json",
        headers={"X-CSRFToken": csrf},
    )
    assert accepted.status_code == 201, accepted.content


def test_token_requests_need_no_csrf_token(users_a: dict[str, User]) -> None:
    client = token_client(token_for(users_a["accountant"]), enforce_csrf_checks=True)

    response = client.post(f"{API}/exchange-rates", _rate_body(), content_type="application/json")

    assert response.status_code == 201


def test_a_presented_token_decides_over_the_session(users_a: dict[str, User]) -> None:
    session_user, token_user = users_a["admin"], users_a["warehouse_clerk"]
    client = token_client(token_for(token_user))
    client.force_login(session_user)

    assert client.get(f"{API}/me").json()["user"]["username"] == token_user.username
    # ...and a bad token is refused even though the session is valid.
    bad = Client(headers={"Authorization": "Bearer xt_wrong"})
    bad.force_login(session_user)
    _assert_401(bad.get(f"{API}/me"))


def test_token_company_decides_the_scope(
    users_a: dict[str, User],
    company_a: Company,
    company_b: Company,
    rate_a: ExchangeRate,
    rate_b: ExchangeRate,
    as_session: Callable[..., Client],
) -> None:
    """A user working for both companies: the token for B sees B, the session (active company
    A) sees A, whatever the request says."""
    user = users_a["admin"]
    membership = Membership.unscoped.create(company=company_b, user=user)
    membership.roles.set(users_a["admin"].memberships.get(company=company_a).roles.all())

    by_token = token_client(token_for(user, company_b))
    me = by_token.get(f"{API}/me").json()
    assert me["company"]["id"] == company_b.pk
    ids = [r["id"] for r in by_token.get(f"{API}/exchange-rates").json()["items"]]
    assert ids == [rate_b.pk]
    # Asking for another company in the request changes nothing.
    ids = [
        r["id"]
        for r in by_token.get(f"{API}/exchange-rates", {"company": company_a.pk}).json()["items"]
    ]
    assert ids == [rate_b.pk]
    assert by_token.get(f"{API}/exchange-rates/{rate_a.pk}").status_code == 404

    by_session = as_session(user)
    ids = [r["id"] for r in by_session.get(f"{API}/exchange-rates").json()["items"]]
    assert ids == [rate_a.pk]


def test_token_scope_ends_with_the_request(users_a: dict[str, User]) -> None:
    assert token_client(token_for(users_a["admin"])).get(f"{API}/me").status_code == 200

    with pytest.raises(ScopeError):
        current_company()


def test_audit_entries_of_token_requests_name_the_token_user(users_a: dict[str, User]) -> None:
    user = users_a["accountant"]

    response = token_client(token_for(user)).post(
        f"{API}/exchange-rates", _rate_body(), content_type="application/json"
    )

    assert response.status_code == 201
    rate = ExchangeRate.unscoped.get(pk=response.json()["id"])
    entry = AuditEntry.objects.get_for_object(rate).get()
    assert entry.actor_id == user.pk
    assert entry.company_id == user.active_company_id


def test_a_token_request_reads_the_membership_once(users_a: dict[str, User]) -> None:
    """Token, membership, its roles: the membership found by the authentication gives the
    permissions and `/me`'s roles too."""
    client = token_client(token_for(users_a["accountant"]))
    assert client.get(f"{API}/me").status_code == 200  # the first use records it (an UPDATE)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{API}/me")

    assert response.status_code == 200
    assert response.json()["roles"] and "core.exchangerate.view" in response.json()["permissions"]
    tables = [q["sql"].split(" FROM ", 1)[1].split()[0] for q in queries.captured_queries]
    assert tables == ['"core_apitoken"', '"core_membership"', '"core_role"'], tables


def test_a_session_request_reads_the_memberships_once(users_a: dict[str, User]) -> None:
    client = Client()
    client.force_login(users_a["accountant"])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"{API}/me")

    assert response.status_code == 200
    assert response.json()["roles"] and "core.exchangerate.view" in response.json()["permissions"]
    membership_queries = [q for q in queries.captured_queries if "core_membership" in q["sql"]]
    assert len(membership_queries) == 2, membership_queries  # memberships, their roles
