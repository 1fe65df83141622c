"""System checks of the API: every operation declares the permission it needs."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error
from ninja import NinjaAPI

from xietong.api.openapi import PERMISSION_EXTENSION


def operations_declare_permissions(
    app_configs: Any = None, *, api: NinjaAPI | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """xietong.api.E001: an operation without `@requires(...)`/`@login_only` (no
    `x-permission` in the OpenAPI document). Checks the v1 API unless given another."""
    if api is None:
        from xietong.api.v1 import api

    document = api.get_openapi_schema(path_prefix="/api/v1/")
    return [
        Error(
            f"{method.upper()} {path} declares no permission.",
            hint="Decorate the handler with @requires(code) or @login_only "
            "(xietong.core.permissions), right under its route.",
            obj=details.get("operationId"),
            id="xietong.api.E001",
        )
        for path, methods in document["paths"].items()
        for method, details in methods.items()
        if PERMISSION_EXTENSION not in details
    ]
