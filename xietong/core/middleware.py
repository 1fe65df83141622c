from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.functional import SimpleLazyObject

from xietong.core.selectors import memberships_for_user, permissions_for
from xietong.core.tenancy import company_scope


def _active_company(request: HttpRequest):  # type: ignore[no-untyped-def]
    user = request.user
    memberships = list(memberships_for_user(user=user))
    for membership in memberships:
        if membership.company_id == user.active_company_id:
            return membership.company
    return memberships[0].company if memberships else None


class CompanyMiddleware:
    """Sets `request.company` (the user's active company), `request.permissions`, the user's
    language, and runs the request inside that company's scope (see xietong.core.tenancy)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        company = None
        if request.user.is_authenticated:
            company = _active_company(request)
            if request.user.language and not request.path.startswith("/i18n/"):
                translation.activate(request.user.language)
                request.LANGUAGE_CODE = translation.get_language()
        request.company = company  # type: ignore[attr-defined]
        request.permissions = SimpleLazyObject(  # type: ignore[attr-defined]
            lambda: permissions_for(user=request.user, company=company)
        )
        with company_scope(company):
            return self.get_response(request)
