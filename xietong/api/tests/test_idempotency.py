"""`Idempotency-Key` on creating POSTs: replay, refusal of a reused key, nothing stored for a
failed request, scoping by company, 20 concurrent identical requests creating one row, and a
busy database answered 503 with the key left free."""

from __future__ import annotations

import json
import threading
from types import SimpleNamespace
from typing import Any

import psycopg.errors
import pytest
from django.db import OperationalError, connection, transaction
from django.test import Client

from xietong.api.tests.conftest import API, next_date, token_client, token_for
from xietong.core import idempotency, services
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


# --- a busy database ----------------------------------------------------------------------------


def _operational_error(message: str, cause: BaseException | None = None) -> OperationalError:
    error = OperationalError(message)
    error.__cause__ = cause
    return error


BUSY_ERRORS = {
    "sqlite busy timeout": lambda: _operational_error("database is locked"),
    "postgresql lock timeout": lambda: _operational_error(
        "canceling statement due to lock timeout",
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
    ),
    "postgresql deadlock": lambda: _operational_error(
        "deadlock detected", psycopg.errors.DeadlockDetected("deadlock detected")
    ),
    "postgresql serialization failure": lambda: _operational_error(
        "could not serialize access",
        psycopg.errors.SerializationFailure("could not serialize access"),
    ),
}


def _assert_busy_answer(response: Any) -> None:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert (body["status"], body["code"], body["instance"]) == (503, "database_busy", URL)
    assert body["detail"] and body["title"]


@pytest.mark.django_db
@pytest.mark.parametrize("error", BUSY_ERRORS.values(), ids=BUSY_ERRORS.keys())
def test_a_busy_database_in_the_handler_is_a_503_and_the_key_stays_free(
    client: Client, monkeypatch: pytest.MonkeyPatch, error: Any
) -> None:
    def busy(**kwargs: Any) -> None:
        with transaction.atomic():  # as a service: written before the error, rolled back
            ExchangeRate.unscoped.create(
                company=kwargs["company"], currency_id="EUR", date=next_date(), rate="8"
            )
            raise error()

    with monkeypatch.context() as patch:
        patch.setattr(services, "exchange_rate_create", busy)
        _assert_busy_answer(post(client, rate_body()))
        _assert_busy_answer(post(client, rate_body(), key=None))
    assert IdempotencyKey.unscoped.count() == 0
    assert ExchangeRate.unscoped.count() == 0

    retried = post(client, rate_body())

    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert ExchangeRate.unscoped.count() == IdempotencyKey.unscoped.count() == 1


@pytest.mark.django_db
def test_a_busy_database_when_the_transaction_begins_is_a_503(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite's BEGIN IMMEDIATE of the keyed request waits for the busy timeout, then fails
    outside Ninja's error handling."""

    def locked_atomic(*args: Any, **kwargs: Any) -> Any:
        raise _operational_error("database is locked")

    with monkeypatch.context() as patch:
        patch.setattr(
            idempotency,
            "transaction",
            SimpleNamespace(**{**vars(transaction), "atomic": locked_atomic}),
        )
        _assert_busy_answer(post(client, rate_body()))
    assert IdempotencyKey.unscoped.count() == ExchangeRate.unscoped.count() == 0

    assert post(client, rate_body()).status_code == 201


@pytest.mark.django_db
def test_other_database_errors_are_still_500(
    users_a: dict[str, User], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> None:
        raise _operational_error("disk I/O error")

    monkeypatch.setattr(services, "exchange_rate_create", broken)
    client = token_client(token_for(users_a["accountant"]), raise_request_exception=False)
    response = post(client, rate_body())

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    assert "Retry-After" not in response
    assert IdempotencyKey.unscoped.count() == 0
