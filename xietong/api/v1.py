"""The REST API, version 1, served at `/api/v1` (OpenAPI at `/api/v1/openapi.json`, docs at
`/api/v1/docs`). Each app contributes a Django Ninja router from its `api.py`; this module
mounts them and sets what is common: authentication, the problem+json error format, the
OpenAPI additions and the audit actor of token requests.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from auditlog.context import set_actor
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from ninja import NinjaAPI
from ninja.operation import Operation

from xietong.analytics.api import router as analytics_router
from xietong.api import problems
from xietong.api.auth import ApiTokenAuth, SessionCsrfAuth, authenticated_by_token
from xietong.api.openapi import LocalSwagger, XietongOpenAPISchema
from xietong.core.api import router as core_router
from xietong.crm.api import router as crm_router
from xietong.finance.api import router as finance_router
from xietong.inventory.api import router as inventory_router
from xietong.manufacturing.api import router as manufacturing_router
from xietong.party.api import router as party_router
from xietong.product.api import router as product_router
from xietong.product.api_bom import router as bom_router
from xietong.purchase.api import router as purchase_router
from xietong.sales.api import router as sales_router
from xietong.workflow.api import router as workflow_router

DESCRIPTION = _(
    "REST API of xietong.\n\n"
    "**Authentication**: an API token (`Authorization: Bearer xt_…`, created with "
    "`POST /tokens` from a signed-in session), which also decides the company you work in; "
    "or your browser session (send the `X-CSRFToken` header on unsafe methods).\n\n"
    "**Permissions**: each operation names the permission it needs as `x-permission` "
    "(null: any signed-in user).\n\n"
    "**Lists** are paginated with `limit` and `offset` and answer "
    '`{"items": […], "count": N}`.\n\n'
    "**Errors** are RFC 9457 problem details (`application/problem+json`), with `errors` "
    '(`[{"field", "message"}]`) for invalid input.\n\n'
    "**Creating POSTs** accept an `Idempotency-Key` header. Decimal numbers travel as strings."
)


class XietongAPI(NinjaAPI):
    """NinjaAPI with xietong's OpenAPI additions and app-prefixed operation ids."""

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> XietongOpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return XietongOpenAPISchema(self, path_prefix)

    def get_openapi_operation_id(self, operation: Operation) -> str:
        module = operation.view_func.__module__.split(".")
        app = module[1] if len(module) > 2 and module[0] == "xietong" else "_".join(module)
        return f"{app}_{operation.view_func.__name__}"


def _audited_as_token_user(view: Callable[..., Any]) -> Callable[..., Any]:
    """Token requests have no session user for the audit middleware to see: name the token's
    user as the actor of the audit entries the handler writes."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not authenticated_by_token(request):
            return view(request, *args, **kwargs)
        with set_actor(request.user, remote_addr=request.META.get("REMOTE_ADDR")):
            return view(request, *args, **kwargs)

    return wrapped


api = XietongAPI(
    title=_("xietong API"),
    version="1",
    description=DESCRIPTION,
    urls_namespace="api-v1",
    auth=[ApiTokenAuth(), SessionCsrfAuth()],
    docs=LocalSwagger(),
)
problems.install(api)
api.add_decorator(_audited_as_token_user, mode="operation")
api.add_router("", core_router)
api.add_router("", party_router)
api.add_router("", product_router)
api.add_router("", bom_router)
api.add_router("", workflow_router)
api.add_router("", finance_router)
api.add_router("", inventory_router)
api.add_router("", sales_router)
api.add_router("", purchase_router)
api.add_router("", manufacturing_router)
api.add_router("", crm_router)
api.add_router("", analytics_router)
