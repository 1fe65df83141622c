"""Who is calling, and for which company.

Two ways in, tried in this order:

- `Authorization: Bearer xt_…`: a per-user API token (`xietong.core.models.ApiToken`). The
  token, never the request, decides the company: after authentication the request carries
  `request.user`, `request.company`, `request.membership` and `request.permissions` of that
  user in the token's company (one membership query) and runs in that company's scope for the
  rest of the request.
- the browser session (with CSRF protection on unsafe methods), scoped to the user's active
  company exactly like the web shell (`xietong.core.middleware.CompanyMiddleware`).

A request that presents a token is judged by the token alone: a bad token is a 401 even if a
session cookie came along.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from ninja.errors import AuthenticationError, HttpError
from ninja.security import HttpBearer, SessionAuth
from ninja.utils import check_csrf

from xietong.core.models import ApiToken, Company, Membership, User
from xietong.core.selectors import api_token_by_hash, membership_for, membership_permissions
from xietong.core.services import api_token_hash, api_token_touch
from xietong.core.tenancy import enter_company_scope

TOKEN_PREFIX = "xt_"


class CsrfFailed(HttpError):
    code = "csrf_failed"

    def __init__(self) -> None:
        super().__init__(
            403,
            _("CSRF verification failed. Send the X-CSRFToken header with session requests."),
        )


class ApiTokenAuth(HttpBearer):
    """`Authorization: Bearer xt_…`. Refuses unknown, revoked and expired tokens and tokens
    whose user no longer works for the token's company (401), records the token's use."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken:
        token = token.strip()
        found = (
            api_token_by_hash(key_hash=api_token_hash(token))
            if token.startswith(TOKEN_PREFIX)
            else None
        )
        if found is None:
            raise AuthenticationError(message=_("The API token is not valid."))
        if found.revoked_at is not None:
            raise AuthenticationError(message=_("The API token has been revoked."))
        if found.expires_at is not None and found.expires_at <= timezone.now():
            raise AuthenticationError(message=_("The API token has expired."))
        user, company = found.user, found.company
        membership = membership_for(user=user, company=company) if user.is_active else None
        if membership is None:
            raise AuthenticationError(
                message=_("The API token's user no longer works for its company.")
            )
        api_token_touch(token=found)
        _act_as(request, user=user, company=company, membership=membership)
        if not request.headers.get("Accept-Language") and user.language:
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()  # type: ignore[attr-defined]
        return found


class SessionCsrfAuth(SessionAuth):
    """The signed-in browser session. Unlike Ninja's `SessionAuth`, the CSRF check runs only
    for a signed-in user, so an anonymous unsafe request is a 401, not a CSRF failure."""

    def __call__(self, request: HttpRequest) -> Any:
        if not request.user.is_authenticated:
            return None
        exempt = getattr(request, "_ninja_csrf_exempt", False)
        if self.csrf and not exempt and check_csrf(request) is not None:
            raise CsrfFailed()
        return request.user


def _act_as(request: HttpRequest, *, user: User, company: Company, membership: Membership) -> None:
    """Make the rest of the request run as `user` in `company` (see module docstring)."""
    request.user = user
    request.company = company  # type: ignore[attr-defined]
    request.membership = membership  # type: ignore[attr-defined]
    request.permissions = membership_permissions(membership=membership)  # type: ignore[attr-defined]
    enter_company_scope(company)


def authenticated_by_token(request: HttpRequest) -> bool:
    return isinstance(getattr(request, "auth", None), ApiToken)
