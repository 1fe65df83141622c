"""Every error is an RFC 9457 problem document (`application/problem+json`): request validation,
service validation with field errors, unparseable bodies, unknown paths and records, wrong
methods, conflicts and unexpected failures."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from django.db import IntegrityError
from django.test import Client, RequestFactory

from xietong.api.tests.conftest import API, next_date, token_client, token_for
from xietong.api.v1 import api
from xietong.core.models import ExchangeRate, User

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(users_a: dict[str, User]) -> Client:
    return token_client(token_for(users_a["accountant"]))


def problem(response: Any, status: int) -> dict[str, Any]:
    """Assert `response` is a problem document with `status`; return it."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["code"]
    assert body["instance"] == response.request["PATH_INFO"]
    return body


def field_errors(body: dict[str, Any]) -> dict[str | None, list[str]]:
    errors: dict[str | None, list[str]] = {}
    for error in body["errors"]:
        assert set(error) == {"field", "message"}
        errors.setdefault(error["field"], []).append(error["message"])
    return errors


def post_rate(client: Client, body: Any) -> Any:
    return client.post(f"{API}/exchange-rates", body, content_type="application/json")


def test_request_validation_lists_every_bad_field(client: Client) -> None:
    body = problem(post_rate(client, {"currency": "USD", "date": "yesterday"}), 422)

    assert body["code"] == "validation_error"
    assert set(field_errors(body)) == {"date", "rate"}


def test_query_validation_names_the_parameter(client: Client) -> None:
    response = client.get(f"{API}/exchange-rates", {"date_from": "soon", "limit": 100000})

    assert set(field_errors(problem(response, 422))) == {"date_from", "limit"}


def test_decimals_must_be_strings(client: Client) -> None:
    body = problem(post_rate(client, {"currency": "USD", "date": "2025-01-02", "rate": 7.1}), 422)

    assert "string" in field_errors(body)["rate"][0]


def test_service_validation_errors_become_field_errors(client: Client) -> None:
    day = next_date().isoformat()
    own_currency = post_rate(client, {"currency": "CNY", "date": day, "rate": "1"})
    assert "currency" in field_errors(problem(own_currency, 422))

    unknown_currency = post_rate(client, {"currency": "XXX", "date": day, "rate": "1"})
    assert "currency" in field_errors(problem(unknown_currency, 422))

    assert post_rate(client, {"currency": "USD", "date": day, "rate": "7"}).status_code == 201
    duplicate = post_rate(client, {"currency": "USD", "date": day, "rate": "7.5"})
    assert "date" in field_errors(problem(duplicate, 422))

    negative = post_rate(client, {"currency": "EUR", "date": day, "rate": "-1"})
    assert "rate" in field_errors(problem(negative, 422))
    assert ExchangeRate.unscoped.count() == 1


def test_invalid_patch_changes_nothing(client: Client, rate_a: ExchangeRate) -> None:
    response = client.patch(
        f"{API}/exchange-rates/{rate_a.pk}", {"rate": None}, content_type="application/json"
    )

    assert "rate" in field_errors(problem(response, 422))
    rate_a.refresh_from_db()
    assert rate_a.rate > 0


def test_unparseable_body_is_400(client: Client) -> None:
    body = problem(post_rate(client, "{not json"), 400)

    assert "JSON" in body["detail"]


def test_unknown_path_is_404(client: Client) -> None:
    problem(client.get(f"{API}/no-such-thing"), 404)
    problem(client.get(f"{API}/"), 404)
    problem(Client().get(f"{API}/no-such-thing/"), 404)


def test_unknown_record_is_404(client: Client) -> None:
    assert problem(client.get(f"{API}/exchange-rates/999999"), 404)["code"] == "not_found"


def test_wrong_method_is_405_with_allow(client: Client) -> None:
    response = client.put(f"{API}/exchange-rates", {}, content_type="application/json")

    assert problem(response, 405)["code"] == "method_not_allowed"
    assert set(response["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}


def test_missing_permission_is_403_naming_it(users_a: dict[str, User]) -> None:
    client = token_client(token_for(users_a["warehouse_clerk"]))

    body = problem(client.get(f"{API}/exchange-rates"), 403)

    assert body["code"] == "permission_denied"
    assert body["permission"] == "core.exchangerate.view"


def _api_request() -> Any:
    return RequestFactory().get(f"{API}/exchange-rates")


def test_unexpected_errors_are_500_problems_without_internals(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="xietong.api"):
        response = api.on_exception(_api_request(), RuntimeError("secret internals"))

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert b"secret internals" not in response.content
    assert any("secret internals" in str(r.exc_info) for r in caplog.records)


def test_integrity_errors_are_409_problems() -> None:
    response = api.on_exception(_api_request(), IntegrityError("duplicate key"))

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert b"duplicate key" not in response.content


def test_service_permission_errors_are_403_problems() -> None:
    response = api.on_exception(_api_request(), PermissionError("Not yours."))

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
