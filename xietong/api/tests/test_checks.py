"""The system check that refuses API operations without a declared permission."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from xietong.api.checks import operations_declare_permissions
from xietong.api.v1 import XietongAPI
from xietong.core.permissions import requires


def test_the_v1_api_passes() -> None:
    assert operations_declare_permissions() == []


def test_an_undeclared_operation_is_an_error() -> None:
    router = Router()

    @router.get("/declared")
    @requires("core.uom.view")
    def declared(request: HttpRequest) -> None:
        """Fine."""

    @router.get("/forgotten")
    def forgotten(request: HttpRequest) -> None:
        """No permission declared."""

    api = XietongAPI(urls_namespace="check-test")
    api.add_router("", router)

    errors = operations_declare_permissions(api=api)

    assert [(e.id, e.msg) for e in errors] == [
        ("xietong.api.E001", "GET /api/v1/forgotten declares no permission.")
    ]
