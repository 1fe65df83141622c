"""Role × endpoint matrix: every API operation, as listed by the OpenAPI document, declares its
permission (`x-permission`), and every predefined role gets a success exactly when its
permissions include it, signed in by token; signed in by session, the administrator and three
roles of different reach (the permission check is the same code for both; what a session adds,
the CSRF check and the session-only operations, does not depend on the role). A new operation
without a declared permission or without a sample request below fails here.

The module builds its company, users and sample records once (`module_world`, `api_matrix`):
each request of the matrix runs in a savepoint rolled back after it, so every role meets the
same fresh sample that a request of its own would have made."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.test import Client

from xietong.analytics.tests.api_samples import PATH_PARAMETERS as ANALYTICS_PARAMETERS
from xietong.analytics.tests.api_samples import PER_CALLER as ANALYTICS_PER_CALLER
from xietong.analytics.tests.api_samples import SAMPLES as ANALYTICS_SAMPLES
from xietong.api.tests.conftest import API, make_rate, next_date, token_client, token_for
from xietong.core.models import Company, Job, User
from xietong.core.permissions import REGISTRY
from xietong.core.roles import DEFAULT_ROLES, role_permissions
from xietong.core.services import api_token_create
from xietong.crm.tests.api_samples import PATH_PARAMETERS as CRM_PARAMETERS
from xietong.crm.tests.api_samples import SAMPLES as CRM_SAMPLES
from xietong.finance.tests.matrix import FINANCE_SAMPLES
from xietong.finance.tests.matrix import PATH_PARAMETERS as FINANCE_PARAMETERS
from xietong.inventory.tests.matrix_api import PATH_PARAMETERS as INVENTORY_PARAMETERS
from xietong.inventory.tests.matrix_api import SAMPLES as INVENTORY_SAMPLES
from xietong.manufacturing.tests.api_samples import PATH_PARAMETERS as MANUFACTURING_PARAMETERS
from xietong.manufacturing.tests.api_samples import SAMPLES as MANUFACTURING_SAMPLES
from xietong.party.tests.matrix import PARTY_SAMPLES
from xietong.party.tests.matrix import PATH_PARAMETERS as PARTY_PARAMETERS
from xietong.product.tests.api_samples import PATH_PARAMETERS as PRODUCT_PARAMETERS
from xietong.product.tests.api_samples import PRODUCT_SAMPLES
from xietong.product.tests.bom_matrix import PATH_PARAMETERS as BOM_PARAMETERS
from xietong.product.tests.bom_matrix import SAMPLES as BOM_SAMPLES
from xietong.purchase.tests.api_samples import PATH_PARAMETERS as PURCHASE_PARAMETERS
from xietong.purchase.tests.api_samples import SAMPLES as PURCHASE_SAMPLES
from xietong.sales.tests.api_samples import PATH_PARAMETERS as SALES_PARAMETERS
from xietong.sales.tests.api_samples import SAMPLES as SALES_SAMPLES
from xietong.workflow.tests.api_samples import PATH_PARAMETERS as WORKFLOW_PARAMETERS
from xietong.workflow.tests.api_samples import WORKFLOW_SAMPLES


@dataclass
class Sample:
    """A request that succeeds for a user who holds the operation's permission."""

    path_params: dict[str, Any]
    body: dict[str, Any] | None = None
    query: dict[str, Any] | None = None


def _own_job(user: User, company: Company) -> Sample:
    job = Job.unscoped.create(company=company, user=user, name="Matrix", kind="test")
    return Sample({"job_id": job.pk})


def _own_token(user: User, company: Company) -> Sample:
    token, _raw = api_token_create(user=user, company=company, name="to revoke")
    return Sample({"token_id": token.pk})


SAMPLES: dict[tuple[str, str], Callable[[User, Company], Sample]] = {
    ("GET", "/me"): lambda user, company: Sample({}),
    ("GET", "/companies"): lambda user, company: Sample({}),
    ("GET", "/exchange-rates"): lambda user, company: Sample({}),
    ("POST", "/exchange-rates"): lambda user, company: Sample(
        {}, {"currency": "USD", "date": next_date().isoformat(), "rate": "7.1"}
    ),
    ("GET", "/exchange-rates/{rate_id}"): lambda user, company: Sample(
        {"rate_id": make_rate(company).pk}
    ),
    ("PATCH", "/exchange-rates/{rate_id}"): lambda user, company: Sample(
        {"rate_id": make_rate(company).pk}, {"rate": "7.2"}
    ),
    ("DELETE", "/exchange-rates/{rate_id}"): lambda user, company: Sample(
        {"rate_id": make_rate(company).pk}
    ),
    ("GET", "/currencies"): lambda user, company: Sample({}),
    ("GET", "/units"): lambda user, company: Sample({}),
    ("GET", "/sequences"): lambda user, company: Sample({}),
    ("GET", "/jobs/{job_id}"): _own_job,
    ("GET", "/tokens"): lambda user, company: Sample({}),
    ("POST", "/tokens"): lambda user, company: Sample({}, {"name": "matrix"}),
    ("DELETE", "/tokens/{token_id}"): _own_token,
}

SAMPLES.update(
    {
        key: (lambda m: lambda u, c: Sample(**m(u, c)))(make)
        for key, make in {
            **PRODUCT_SAMPLES,
            **PARTY_SAMPLES,
            **BOM_SAMPLES,
            **WORKFLOW_SAMPLES,
            **FINANCE_SAMPLES,
            **INVENTORY_SAMPLES,
            **SALES_SAMPLES,
            **PURCHASE_SAMPLES,
            **MANUFACTURING_SAMPLES,
            **CRM_SAMPLES,
            **ANALYTICS_SAMPLES,
        }.items()
    }
)

# Operations a token may never use, whatever its user's roles (a leaked token must not be able
# to mint tokens that outlive its revocation).
SESSION_ONLY = {("POST", "/tokens")}

# Operations whose sample belongs to the caller (their own job, token or task): made for each
# caller. The others' samples are made once per module (with no user: a maker that needs one
# fails there and belongs here).
PER_CALLER = {
    ("GET", "/jobs/{job_id}"),
    ("DELETE", "/tokens/{token_id}"),
    ("GET", "/workflow/tasks/{task_id}"),
    ("POST", "/workflow/tasks/{task_id}/claim"),
    ("POST", "/workflow/tasks/{task_id}/release"),
    ("POST", "/workflow/tasks/{task_id}/complete"),
    ("POST", "/workflow/tasks/{task_id}/delegate"),
    *ANALYTICS_PER_CALLER,
}

# The roles request the same documents: each distinct one is converted to PDF once (the root
# conftest's `shared_pdf_conversions`).
pytestmark = pytest.mark.usefixtures("module_world", "shared_pdf_conversions")


Operation = tuple[str, str, dict[str, Any]]


def _operations(client: Client) -> Iterator[Operation]:
    document = client.get(f"{API}/openapi.json").json()
    for path, methods in document["paths"].items():
        assert path.startswith(API)
        for method, details in methods.items():
            yield method.upper(), path.removeprefix(API), details


@dataclass
class Matrix:
    operations: list[Operation]
    samples: dict[tuple[str, str], Sample]


@pytest.fixture(scope="module")
def operations(module_world: dict[str, Any], django_db_blocker: Any) -> list[Operation]:
    """The operations of the OpenAPI document, fetched once for the module (generating the
    document takes about a second)."""
    with django_db_blocker.unblock():
        return list(_operations(Client()))


@pytest.fixture(scope="module")
def api_matrix(
    module_world: dict[str, Any], operations: list[Operation], django_db_blocker: Any
) -> Matrix:
    """The operations of the OpenAPI document, and a sample request of each operation not in
    PER_CALLER, made once in company A (in the module's shared transaction)."""
    company = module_world["company_a"]
    with django_db_blocker.unblock():
        samples = {}
        for method, path, _details in operations:
            if (method, path) in PER_CALLER or (method, path) not in SAMPLES:
                continue
            try:
                samples[(method, path)] = SAMPLES[(method, path)](None, company)  # type: ignore[arg-type]
            except Exception as exc:
                raise AssertionError(
                    f"making the sample of {method} {path} failed (if it needs the calling "
                    "user, add the operation to PER_CALLER)"
                ) from exc
    return Matrix(operations, samples)


@contextmanager
def _undone() -> Iterator[None]:
    """A savepoint rolled back at the end: the next request meets the rows as they were. (Marked
    like TestCase's own atomic blocks, so that durable blocks inside behave as in any test.)"""
    atomic = transaction.atomic()
    atomic._from_testcase = True  # type: ignore[attr-defined]
    with atomic:
        yield
        transaction.set_rollback(True)


def _success_status(details: dict[str, Any]) -> int:
    return next(int(code) for code in details["responses"] if str(code).startswith("2"))


def _call(client: Client, method: str, path: str, sample: Sample) -> Any:
    url = API + path.format(**sample.path_params)
    if sample.query:
        url += "?" + urlencode(sample.query)
    if sample.body is None:
        return client.generic(method, url)
    return client.generic(
        method, url, data=json.dumps(sample.body), content_type="application/json"
    )


@pytest.mark.django_db
def test_every_operation_declares_a_known_permission_and_has_a_sample(
    operations: list[Operation],
) -> None:
    assert len(operations) >= len(SAMPLES)
    for method, path, details in operations:
        assert "x-permission" in details, f"{method} {path} declares no permission"
        permission = details["x-permission"]
        assert permission is None or permission in REGISTRY, f"{method} {path}: {permission}"
        assert (method, path) in SAMPLES, f"add a sample request for {method} {path}"
    assert {(m, p) for m, p, _d in operations} == set(SAMPLES)


@pytest.mark.django_db
def test_anonymous_gets_401_everywhere(company_a: Company, operations: list[Operation]) -> None:
    client = Client()
    for method, path, _details in operations:
        params = dict.fromkeys(
            (
                "rate_id",
                "job_id",
                "token_id",
                *PRODUCT_PARAMETERS,
                *PARTY_PARAMETERS,
                *BOM_PARAMETERS,
                *WORKFLOW_PARAMETERS,
                *FINANCE_PARAMETERS,
                *INVENTORY_PARAMETERS,
                *SALES_PARAMETERS,
                *PURCHASE_PARAMETERS,
                *MANUFACTURING_PARAMETERS,
                *CRM_PARAMETERS,
                *ANALYTICS_PARAMETERS,
            ),
            1,
        )
        url = API + path.format(**params)
        response = client.generic(method, url, data="{}", content_type="application/json")
        assert response.status_code == 401, (method, path, response.content)
        assert response["Content-Type"] == "application/problem+json"


SESSION_ROLES = ("admin", "buyer", "sales_rep", "portal_customer")
MATRIX = [("token", role) for role in sorted(DEFAULT_ROLES)] + [
    ("session", role) for role in SESSION_ROLES
]


@pytest.mark.django_db
@pytest.mark.role_matrix
@pytest.mark.parametrize("auth,role", MATRIX)
def test_role_matrix(
    role: str, auth: str, users_a: dict[str, User], company_a: Company, api_matrix: Matrix
) -> None:
    user = users_a[role]
    if auth == "token":
        client = token_client(token_for(user, company_a))
    else:
        client = Client()
        client.force_login(user)
    permissions = set(role_permissions(role))
    wrong = []
    for method, path, details in api_matrix.operations:
        required = details["x-permission"]
        allowed = required is None or required in permissions
        if auth == "token" and (method, path) in SESSION_ONLY:
            allowed = False
        expected = _success_status(details) if allowed else 403
        with _undone():
            sample = api_matrix.samples.get((method, path)) or SAMPLES[(method, path)](
                user, company_a
            )
            response = _call(client, method, path, sample)
        if response.status_code != expected:
            wrong.append((method, path, required, expected, response.status_code))
        elif expected == 403:
            assert response["Content-Type"] == "application/problem+json"
    assert not wrong, f"{role} by {auth}: (method, path, permission, expected, got) {wrong}"
