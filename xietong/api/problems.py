"""One error format for the whole API: RFC 9457 problem details (`application/problem+json`).

Every error answer has `type` (always `about:blank`: the status says what kind of problem it
is), `title` (the status' name), `status`, `detail` (what went wrong, for people) and `instance`
(the request path), plus two extension members: `code`, a stable machine-readable name
(`validation_error`, `not_authenticated`, `permission_denied`, …), and for invalid input
`errors`, a list of `{"field": …, "message": …}` (`field` is null for errors of the whole
request).

`install(api)` replaces Django Ninja's default exception handlers with the ones below; handlers
and services keep raising the ordinary exceptions (Django's `ValidationError`, `Http404`,
`PermissionDenied`, Ninja's `HttpError`, …).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from django.core import signals
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from xietong.core.idempotency import database_busy, database_busy_response

logger = logging.getLogger("xietong.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"

TITLES: dict[int, Promise] = {
    400: gettext_lazy("Bad Request"),
    401: gettext_lazy("Unauthorized"),
    403: gettext_lazy("Forbidden"),
    404: gettext_lazy("Not Found"),
    405: gettext_lazy("Method Not Allowed"),
    409: gettext_lazy("Conflict"),
    413: gettext_lazy("Content Too Large"),
    415: gettext_lazy("Unsupported Media Type"),
    422: gettext_lazy("Unprocessable Content"),
    429: gettext_lazy("Too Many Requests"),
    500: gettext_lazy("Internal Server Error"),
}

CODES: dict[int, str] = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "validation_error",
    429: "throttled",
    500: "server_error",
}


def problem_response(
    *,
    request: HttpRequest,
    status: int,
    detail: str | Promise | None = None,
    code: str | None = None,
    errors: Iterable[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
    **extensions: Any,
) -> HttpResponse:
    """Build an `application/problem+json` response (RFC 9457)."""
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": TITLES.get(status, phrase),
        "status": status,
        "detail": detail if detail is not None else TITLES.get(status, phrase),
        "instance": request.path,
        "code": code or CODES.get(status, f"http_{status}"),
    }
    if errors is not None:
        body["errors"] = list(errors)
    body.update(extensions)
    response = HttpResponse(
        json.dumps(body, cls=DjangoJSONEncoder, ensure_ascii=False),
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
    )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def field_errors_of(exc: DjangoValidationError) -> list[dict[str, Any]]:
    """A Django ValidationError (as services raise them) as `[{field, message}]`."""
    if hasattr(exc, "error_dict"):
        return [
            {"field": None if field == "__all__" else field, "message": message}
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return [{"field": None, "message": message} for message in exc.messages]


def _field_of(location: Iterable[Any]) -> str | None:
    """Ninja's error location (`("body", "payload", "rate")`, `("query", "date_from")`) as the
    field name a client sent; None for the request body as a whole."""
    parts = [str(part) for part in location]
    if not parts:
        return None
    source, rest = parts[0], parts[1:]
    if source == "body":
        rest = rest[1:]  # the handler's parameter name, not part of the JSON the client sent
    return ".".join(rest) or None


def _message_of(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", ""))
    return message.removeprefix("Value error, ")


def _on_request_validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _field_of(error.get("loc", ())), "message": _message_of(error)}
        for error in exc.errors
    ]
    return problem_response(
        request=request,
        status=422,
        detail=_("The request is not valid; see errors."),
        code="validation_error",
        errors=errors,
    )


def _on_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    return problem_response(
        request=request,
        status=422,
        detail=_("The request is not valid; see errors."),
        code="validation_error",
        errors=field_errors_of(exc),
    )


def _on_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = str(exc)
    detail = (
        message
        if message and message != "Unauthorized"
        else _("Authentication credentials were not provided or are not valid.")
    )
    return problem_response(
        request=request,
        status=401,
        detail=detail,
        code="not_authenticated",
        headers={"WWW-Authenticate": 'Bearer realm="api"'},
    )


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail: str | None = str(exc) or None
    if exc.status_code == 400 and isinstance(exc.__cause__, ValueError):
        # Ninja's "Cannot parse request body", raised from the JSON decoder's error.
        detail = _("The request body is not valid JSON.")
    return problem_response(
        request=request,
        status=exc.status_code,
        detail=detail,
        code=getattr(exc, "code", None),
    )


def _on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    extensions: dict[str, Any] = {}
    required = exc.args[0] if exc.args else None
    if isinstance(required, str) and required:
        extensions["permission"] = required
    return problem_response(
        request=request,
        status=403,
        detail=_("You do not have permission to do this."),
        code="permission_denied",
        **extensions,
    )


def _on_permission_error(request: HttpRequest, exc: PermissionError) -> HttpResponse:
    return problem_response(
        request=request, status=403, detail=str(exc) or None, code="permission_denied"
    )


def _on_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(
        request=request, status=404, detail=_("Nothing was found here."), code="not_found"
    )


def _on_integrity_error(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    logger.warning("integrity error on %s %s: %s", request.method, request.path, exc)
    return problem_response(
        request=request,
        status=409,
        detail=_("The change conflicts with the current data; reload and try again."),
        code="conflict",
    )


def _on_operational_error(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    """A busy database (lock timeout, deadlock, SQLite's busy timeout) is a 503 with
    `Retry-After`: the request's transaction was rolled back and may simply be retried."""
    if database_busy(exc):
        logger.warning("database busy on %s %s: %s", request.method, request.path, exc)
        return database_busy_response(request)
    return _on_unexpected(request, exc)


def _on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    signals.got_request_exception.send(sender=None, request=request)
    return problem_response(
        request=request,
        status=500,
        detail=_("Something went wrong on our side; the error has been logged."),
        code="server_error",
    )


def install(api: NinjaAPI) -> None:
    """Answer every error of `api` with a problem document."""
    handlers: list[tuple[type[Exception], Any]] = [
        (Exception, _on_unexpected),
        (NinjaValidationError, _on_request_validation),
        (DjangoValidationError, _on_validation_error),
        (HttpError, _on_http_error),
        (AuthenticationError, _on_authentication_error),
        (PermissionDenied, _on_permission_denied),
        (PermissionError, _on_permission_error),
        (Http404, _on_not_found),
        (ObjectDoesNotExist, _on_not_found),
        (IntegrityError, _on_integrity_error),
        (OperationalError, _on_operational_error),
    ]
    for exc_class, handler in handlers:
        api.add_exception_handler(exc_class, handler)
