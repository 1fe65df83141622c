"""Company scoping that cannot be forgotten.

Every business model derives from `CompanyOwned`. Its default manager filters by the company
of the current scope and raises `ScopeError` when no scope is active, so a query written without
thinking about companies fails loudly instead of leaking. The web middleware opens the scope from
the session's active company, the API from the token; jobs and commands open it explicitly.
`unscoped` is for the audited system paths that really span companies (admin, migrations).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from django.db import models

if TYPE_CHECKING:
    from xietong.core.models import Company


class ScopeError(RuntimeError):
    """A company-owned model was queried outside a company scope."""


_UNSET: Any = object()
_current_company: ContextVar[Any] = ContextVar("xietong_company", default=_UNSET)


@contextmanager
def company_scope(company: Company | None) -> Iterator[None]:
    """Run the block with `company` as the scope (None: every scoped query returns nothing)."""
    token = _current_company.set(company)
    try:
        yield
    finally:
        _current_company.reset(token)


def enter_company_scope(company: Company | None) -> None:
    """Switch the active scope to `company` for the rest of the enclosing `company_scope` block.

    For code that learns the company half-way through a request, such as API token
    authentication: the request middleware's `company_scope` restores the previous value when
    the request ends. Raises `ScopeError` outside such a block, where nothing would reset it.
    """
    if _current_company.get() is _UNSET:
        raise ScopeError("enter_company_scope() needs an enclosing company_scope() block.")
    _current_company.set(company)


def current_company() -> Company | None:
    value = _current_company.get()
    if value is _UNSET:
        raise ScopeError("No company scope is active; wrap the code in company_scope(company).")
    return value


class CompanyQuerySet(models.QuerySet):
    def for_company(self, company: Company) -> CompanyQuerySet:
        return self.filter(company=company)


class CompanyManager(models.Manager.from_queryset(CompanyQuerySet)):  # type: ignore[misc]
    """Default manager of company-owned rows: only the current scope's rows, or an error."""

    def get_queryset(self) -> CompanyQuerySet:
        company = current_company()
        queryset = super().get_queryset()
        if company is None:
            return queryset.none()
        return queryset.filter(company_id=company.pk)


class CompanyOwned(models.Model):
    """Abstract base of every business row: it belongs to exactly one company."""

    company = models.ForeignKey(
        "core.Company", on_delete=models.PROTECT, related_name="+", db_index=True
    )

    objects = CompanyManager()
    unscoped = models.Manager()  # noqa: DJ012

    class Meta:
        abstract = True
        # Django's own machinery (constraint validation, serialisation) uses the default
        # manager; application code uses `objects`, which is scoped.
        default_manager_name = "unscoped"
        base_manager_name = "unscoped"

    def get_additional_data(self) -> dict[str, Any]:
        """Extra data django-auditlog stores with each audit entry of this row."""
        return {"company_id": self.company_id}
