"""Idempotent creating POSTs: the `Idempotency-Key` header of the REST API.

A client that retries a creating POST sends the same `Idempotency-Key` each time. The first
request that gets through records the key (scoped to its company) *in the same transaction* as
the write it protects, together with the response; every retry with the same key and the same
request gets that response again (marked `Idempotent-Replayed: true`) instead of a second
record. The same key with a different request is refused (422). A request that fails (any 4xx
or 5xx) rolls back the whole transaction, the key included, so it may be retried.

Concurrency comes from the unique constraint on (company, key): the key row is inserted first,
inside a savepoint. On PostgreSQL a concurrent insert of the same key waits for the first
transaction and then fails with IntegrityError, after which the committed row is read and
replayed; on SQLite the immediate transactions of the requests run one after the other.

A keyed request that cannot get at the database in time (SQLite: `database is locked` after the
busy timeout, when the transaction begins or commits; PostgreSQL: lock timeout, deadlock,
serialization failure) is answered `503 Service Unavailable` with `Retry-After`, as a problem
document (code `database_busy`); its transaction is rolled back, the key included, so the
client retries with the same key. `database_busy()` tells such errors from others, for the
API's error handlers too.

An app's router marks an operation with `@idempotent` (under `@requires`); see
`xietong.core.api` for an example.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from ninja.decorators import decorate_view
from ninja.errors import HttpError

from xietong.core.models import IdempotencyKey

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
REPLAY_CONTENT_TYPE = "application/json; charset=utf-8"
RETRY_AFTER_SECONDS = 2

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available (lock_timeout).
_BUSY_SQLSTATES = {"40001", "40P01", "55P03"}
# SQLite: the busy timeout ran out (SQLITE_BUSY / SQLITE_LOCKED).
_BUSY_SQLITE_MESSAGES = ("database is locked", "database table is locked", "database is busy")

_CLAIM_ATTRIBUTE = "_xietong_idempotency_claim"


class IdempotencyKeyReused(HttpError):
    """The key was already used for a different request (other body, path or user)."""

    code = "idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(422, _("This Idempotency-Key was already used for a different request."))


class IdempotencyKeyInProgress(HttpError):
    """The key's first request has not finished (never visible with the transaction rules above,
    but answered cleanly should it ever be)."""

    code = "idempotency_key_in_progress"

    def __init__(self) -> None:
        super().__init__(409, _("A request with this Idempotency-Key is still in progress."))


def database_busy(exc: BaseException) -> bool:
    """Whether `exc` says the database could not serve the request in time because of other
    transactions (worth retrying in a moment), as opposed to a real failure."""
    if not isinstance(exc, OperationalError):
        return False
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    return str(exc).strip().lower().startswith(_BUSY_SQLITE_MESSAGES)


def database_busy_response(request: HttpRequest) -> HttpResponse:
    """The `503` problem document (RFC 9457, as `xietong.api.problems` writes them) with
    `Retry-After` for a request that met a busy database."""
    body = {
        "type": "about:blank",
        "title": str(_("Service Unavailable")),
        "status": 503,
        "detail": str(_("The database is busy with other requests; try again in a moment.")),
        "instance": request.path,
        "code": "database_busy",
    }
    response = HttpResponse(
        json.dumps(body, ensure_ascii=False),
        status=503,
        content_type="application/problem+json",
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def idempotent(view: Callable[..., Any]) -> Callable[..., Any]:
    """Make a creating POST handler honour the `Idempotency-Key` header.

    Wraps the whole operation (authentication, validation, handler, serialisation) in one
    transaction when the header is present, claims the key right before the handler runs and
    stores the response after it. Requests without the header behave as before. The marker
    attribute `idempotent` lets the API document the header and tests find such operations.
    """

    @wraps(view)
    def claimed(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        key = _key_of(request)
        if key is None:
            return view(request, *args, **kwargs)
        replay = _claim(request=request, key=key)
        if replay is not None:
            return replay
        return view(request, *args, **kwargs)

    claimed.idempotent = True  # type: ignore[attr-defined]
    return decorate_view(_in_one_transaction)(claimed)


def _in_one_transaction(run: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Wrap a Ninja operation's `run`: one transaction around the keyed request, rolled back
    unless the response is a success, which is then stored with the claimed key. A busy
    database when the transaction begins or commits (outside Ninja's error handling) is a
    503 problem, with nothing written."""

    @wraps(run)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.headers.get(IDEMPOTENCY_HEADER):
            return run(request, *args, **kwargs)
        try:
            with transaction.atomic():
                response = run(request, *args, **kwargs)
                claim: IdempotencyKey | None = getattr(request, _CLAIM_ATTRIBUTE, None)
                if not 200 <= response.status_code < 300 or not isinstance(response, HttpResponse):
                    transaction.set_rollback(True)
                elif claim is not None:
                    IdempotencyKey.unscoped.filter(pk=claim.pk).update(
                        status_code=response.status_code,
                        response_body=response.content.decode(response.charset or "utf-8"),
                    )
        except OperationalError as exc:
            if not database_busy(exc):
                raise
            return database_busy_response(request)
        return response

    return wrapped


def _key_of(request: HttpRequest) -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER, "").strip()
    if not key:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise ValidationError(
            {
                IDEMPOTENCY_HEADER: [
                    _("Use at most %(count)d characters.") % {"count": MAX_KEY_LENGTH}
                ]
            }
        )
    return key


def _fingerprint(request: HttpRequest) -> str:
    """A hash of who sent what where; JSON bodies are compared by content, not by spelling."""
    try:
        body: Any = json.loads(request.body or b"null")
    except ValueError:
        body = hashlib.sha256(request.body).hexdigest()
    user = request.user.pk if request.user.is_authenticated else None
    canonical = json.dumps(
        [user, request.method, request.get_full_path(), body],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(*, request: HttpRequest, key: str) -> HttpResponse | None:
    """Insert the key row, or answer from the row another request committed first.

    Returns None when this request owns the key (the caller then runs the handler), or the
    replayed response. Raises IdempotencyKeyReused for the same key with another request.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("@idempotent handlers run inside the operation's transaction.")
    company = getattr(request, "company", None)
    if company is None:
        raise HttpError(403, _("You do not work for any company."))
    fingerprint = _fingerprint(request)
    try:
        with transaction.atomic():
            row = IdempotencyKey.unscoped.create(
                company=company,
                user=request.user,
                key=key,
                method=request.method or "",
                path=request.path[:500],
                request_hash=fingerprint,
            )
    except IntegrityError:
        existing = IdempotencyKey.unscoped.get(company=company, key=key)
        if existing.request_hash != fingerprint:
            raise IdempotencyKeyReused() from None
        if not existing.status_code:
            raise IdempotencyKeyInProgress() from None
        response = HttpResponse(
            existing.response_body,
            status=existing.status_code,
            content_type=REPLAY_CONTENT_TYPE,
        )
        response[REPLAYED_HEADER] = "true"
        return response
    setattr(request, _CLAIM_ATTRIBUTE, row)
    return None
