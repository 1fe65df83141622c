"""What the OpenAPI document and the docs page add to Django Ninja's defaults.

- every operation carries `x-permission`: the permission code its handler declares
  (`@requires`), or null for "any signed-in user" (`@login_only`); operations without a
  declaration have no `x-permission`, which `xietong.api.checks` and the tests refuse;
- `@idempotent` operations document the optional `Idempotency-Key` header;
- every operation documents its errors as an RFC 9457 problem (`default` response);
- the docs page is Swagger UI from the copy shipped inside django-ninja (served as static
  files, `ninja` being an installed app), never from a CDN, and without the validator badge
  (Swagger UI would load it from validator.swagger.io).
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from ninja import NinjaAPI, Swagger
from ninja.openapi.schema import OpenAPISchema
from ninja.operation import Operation

from xietong.core.idempotency import IDEMPOTENCY_HEADER, MAX_KEY_LENGTH, REPLAYED_HEADER

PERMISSION_EXTENSION = "x-permission"

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "properties": {
        "type": {"type": "string", "example": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "code": {"type": "string", "description": "Stable machine-readable problem name."},
        "permission": {"type": "string", "description": "The permission that was missing."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
                "required": ["field", "message"],
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}

PROBLEM_RESPONSE: dict[str, Any] = {
    "description": "Error (RFC 9457 problem details)",
    "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}

IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "in": "header",
    "name": IDEMPOTENCY_HEADER,
    "required": False,
    "schema": {"type": "string", "maxLength": MAX_KEY_LENGTH},
    "description": (
        "Retry-safe creation: a repeated request with the same key and body gets the first "
        f"response again (with `{REPLAYED_HEADER}: true`); the same key with another body is "
        "refused with 422."
    ),
}


class XietongOpenAPISchema(OpenAPISchema):
    def operation_details(self, operation: Operation) -> dict[str, Any]:
        details: dict[str, Any] = super().operation_details(operation)
        view = operation.view_func
        if hasattr(view, "required_permission"):
            details[PERMISSION_EXTENSION] = view.required_permission
        if getattr(view, "idempotent", False):
            details["parameters"].append(dict(IDEMPOTENCY_PARAMETER))
        details["responses"].setdefault("default", PROBLEM_RESPONSE)
        self.schemas.setdefault("Problem", PROBLEM_SCHEMA)
        return details


class LocalSwagger(Swagger):
    """Swagger UI rendered from django-ninja's template and static copy only."""

    def __init__(self) -> None:
        super().__init__(settings={"validatorUrl": None, "persistAuthorization": False})

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        # Ninja falls back to a CDN template when `ninja` is not an installed app; we never do.
        page_settings = {**self.settings, "url": self.get_openapi_url(api, kwargs)}
        context = {
            "swagger_settings": json.dumps(page_settings, indent=1),
            "api": api,
            "add_csrf": any(getattr(auth, "csrf", False) for auth in (api.auth or [])),
        }
        return render(request, self.template, context)
