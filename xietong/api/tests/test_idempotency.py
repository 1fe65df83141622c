"""`Idempotency-Key` on creating POSTs: replay, refusal of a reused key, nothing stored for a
failed request, scoping by company, and 20 concurrent identical requests creating one row."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from xietong.api.tests.conftest import API, next_date, token_client, token_for
from xietong.core.models import Company, ExchangeRate, IdempotencyKey, User

URL = f"{API}/exchange-rates"


def post(client: Client, body: Any, key: str | None = "key-1") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    return client.post(URL, body, content_type="application/json", headers=headers)


def rate_body(**overrides: str) -> dict[str, str]:
    return {"currency": "USD", "date": "2025-03-01", "rate": "7.1", **overrides}


@pytest.fixture
def client(users_a: dict[str, User]) -> Client:
    return token_client(token_for(users_a["accountant"]))


@pytest.mark.django_db
def test_same_key_same_body_replays_the_first_response(client: Client) -> None:
    first = post(client, rate_body())
    again = post(client, rate_body())
    # The same JSON spelled differently is the same request.
    reordered = client.post(
        URL,
        '{"rate":"7.1",  "date":"2025-03-01","currency":"USD"}',
        content_type="application/json",
        headers={"Idempotency-Key": "key-1"},
    )

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    for replay in (again, reordered):
        assert replay.status_code == 201
        assert replay["Idempotent-Replayed"] == "true"
        assert replay.json() == first.json()
    assert ExchangeRate.unscoped.count() == 1
    stored = IdempotencyKey.unscoped.get()
    assert (stored.status_code, json.loads(stored.response_body)) == (201, first.json())


@pytest.mark.django_db
def test_same_key_different_body_is_422(client: Client) -> None:
    assert post(client, rate_body()).status_code == 201

    reused = post(client, rate_body(rate="7.2"))

    assert reused.status_code == 422
    assert reused["Content-Type"] == "application/problem+json"
    assert reused.json()["code"] == "idempotency_key_reused"
    assert ExchangeRate.unscoped.count() == 1


@pytest.mark.django_db
def test_same_key_from_another_user_is_422(users_a: dict[str, User], client: Client) -> None:
    other = token_client(token_for(users_a["admin"]))
    assert post(client, rate_body()).status_code == 201

    assert post(other, rate_body()).status_code == 422
    assert ExchangeRate.unscoped.count() == 1


@pytest.mark.django_db
def test_keys_are_scoped_by_company(users_a: dict[str, User], users_b: dict[str, User]) -> None:
    in_a = token_client(token_for(users_a["accountant"]))
    in_b = token_client(token_for(users_b["accountant"]))

    assert post(in_a, rate_body()).status_code == 201
    second = post(in_b, rate_body())

    assert second.status_code == 201
    assert "Idempotent-Replayed" not in second
    assert ExchangeRate.unscoped.count() == 2


@pytest.mark.django_db
def test_a_failed_request_stores_nothing_and_the_key_stays_usable(client: Client) -> None:
    invalid = post(client, rate_body(currency="CNY"))  # the company's own currency
    assert invalid.status_code == 422
    assert IdempotencyKey.unscoped.count() == 0
    unparsed = post(client, {"currency": "USD"})
    assert unparsed.status_code == 422
    assert IdempotencyKey.unscoped.count() == 0

    fixed = post(client, rate_body())

    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed
    assert IdempotencyKey.unscoped.count() == 1


@pytest.mark.django_db
def test_a_refused_request_does_not_use_up_the_key(users_a: dict[str, User]) -> None:
    clerk = token_client(token_for(users_a["warehouse_clerk"]))  # may not enter rates

    assert post(clerk, rate_body()).status_code == 403
    assert IdempotencyKey.unscoped.count() == 0


@pytest.mark.django_db
def test_requests_without_a_key_are_not_deduplicated(client: Client) -> None:
    assert post(client, rate_body(date="2025-03-01"), key=None).status_code == 201
    assert post(client, rate_body(date="2025-03-02"), key=None).status_code == 201
    assert IdempotencyKey.unscoped.count() == 0


@pytest.mark.django_db
def test_overlong_key_is_a_field_error(client: Client) -> None:
    response = post(client, rate_body(), key="k" * 256)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert ExchangeRate.unscoped.count() == 0


@pytest.mark.django_db
def test_creating_posts_document_the_header() -> None:
    """Every POST that creates (201) takes an Idempotency-Key, except token creation, whose
    answer holds a secret that must never be stored for replay."""
    document = Client().get(f"{API}/openapi.json").json()
    for path, methods in document["paths"].items():
        details = methods.get("post")
        if not details or "201" not in details["responses"]:
            continue
        headers = {p["name"] for p in details["parameters"] if p["in"] == "header"}
        if path == f"{API}/tokens":
            assert "Idempotency-Key" not in headers
        else:
            assert "Idempotency-Key" in headers, path


@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_posts_create_one_record(users_a: dict[str, User]) -> None:
    """20 threads send the same POST with the same key at once: one row, 20 equal answers."""
    raw = token_for(users_a["accountant"])
    company: Company = users_a["accountant"].active_company  # type: ignore[assignment]
    body = rate_body(date=next_date().isoformat())
    start = threading.Barrier(20)
    results: list[tuple[int, bytes, str | None]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            client = token_client(raw)
            start.wait(timeout=30)
            response = post(client, body, key="same-key")
            with lock:
                results.append(
                    (response.status_code, response.content, response.get("Idempotent-Replayed"))
                )
        except BaseException as exc:  # reported below; a thread must not die silently
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    assert len(results) == 20
    assert {status for status, _body, _replayed in results} == {201}, results
    assert len({content for _status, content, _replayed in results}) == 1
    assert sorted(replayed or "" for _s, _c, replayed in results) == [""] + ["true"] * 19
    assert ExchangeRate.unscoped.filter(company=company).count() == 1
    assert IdempotencyKey.unscoped.filter(company=company).count() == 1
