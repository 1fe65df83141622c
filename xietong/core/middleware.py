from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from xietong.core.models import Company, Membership
from xietong.core.selectors import membership_permissions, memberships_for_user, permissions_for
from xietong.core.tenancy import company_scope


def _active_membership(request: HttpRequest) -> Membership | None:
    """The user's membership in their active company (else in their first company), with its
    company and roles loaded."""
    user = request.user
    memberships = list(memberships_for_user(user=user))
    for membership in memberships:
        if membership.company_id == user.active_company_id:
            return membership
    return memberships[0] if memberships else None


def _permissions(
    request: HttpRequest, membership: Membership | None, company: Company | None
) -> frozenset[str]:
    """The permissions of the request's user in `company`: from the membership loaded above
    (no query), unless the request has since changed user (signing in or out)."""
    user = request.user
    if membership is not None and user.is_authenticated and user.pk == membership.user_id:
        return membership_permissions(membership=membership)
    return permissions_for(user=user, company=company)


class CompanyMiddleware:
    """Sets `request.company` (the user's active company), `request.membership` (theirs in it,
    roles loaded), `request.permissions`, the user's language, and runs the request inside
    that company's scope (see xietong.core.tenancy)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        company = membership = None
        if request.user.is_authenticated:
            membership = _active_membership(request)
            company = membership.company if membership is not None else None
            if request.user.language and not request.path.startswith("/i18n/"):
                translation.activate(request.user.language)
                request.LANGUAGE_CODE = translation.get_language()
        request.company = company  # type: ignore[attr-defined]
        request.membership = membership  # type: ignore[attr-defined]
        request.permissions = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: _permissions(request, membership, company)
        )
        with company_scope(company):
            return self.get_response(request)
