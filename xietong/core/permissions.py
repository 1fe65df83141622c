"""Permission codes, declared by each app, and the checks views and API handlers use.

A permission is a dotted code (`core.exchangerate.change`). Apps declare theirs with
`declare(...)`; roles (xietong.core.roles) are sets of codes. A view states what it needs with
`@requires("code")` right where it is defined; the test matrix reads that declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Permission:
    code: str
    label: str | Promise


REGISTRY: dict[str, Permission] = {}


def declare(*permissions: tuple[str, str | Promise]) -> None:
    for code, label in permissions:
        REGISTRY[code] = Permission(code, label)


# Areas: entering a module of the navigation. Later issues fill the areas with screens.
AREAS = [
    "crm",
    "sales",
    "purchase",
    "inventory",
    "manufacturing",
    "finance",
    "hr",
    "workflow",
    "analytics",
]

declare(
    ("core.dashboard", _("Use the staff web shell and its home page")),
    ("core.company.change", _("Edit the company's settings")),
    ("core.user.view", _("See users, memberships and roles")),
    ("core.user.change", _("Invite users and change their roles")),
    ("core.exchangerate.view", _("See exchange rates")),
    ("core.exchangerate.change", _("Enter and import exchange rates")),
    ("core.uom.view", _("See units of measure")),
    ("core.uom.change", _("Edit units of measure")),
    ("core.sequence.view", _("See document sequences")),
    ("core.sequence.change", _("Edit document sequences")),
    ("core.audit.view", _("Read the company's audit trail")),
    ("core.job.view", _("See every background job of the company")),
    ("portal.access", _("Use the customer or supplier portal")),
    ("crm.access", _("Use CRM")),
    ("sales.access", _("Use Sales")),
    ("purchase.access", _("Use Purchasing")),
    ("inventory.access", _("Use Inventory")),
    ("manufacturing.access", _("Use Manufacturing")),
    ("finance.access", _("Use Finance")),
    ("hr.access", _("Use HR")),
    ("workflow.access", _("Use Workflow administration")),
    ("analytics.access", _("Use Analytics")),
)


def has_perm(request: Any, code: str) -> bool:
    """Whether the signed-in user holds `code` in the request's active company."""
    perms = getattr(request, "permissions", None)
    return bool(perms) and code in perms


def requires(code: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a view: anonymous users go to the login page, others without `code` get 403."""
    if code not in REGISTRY:
        raise ValueError(f"Undeclared permission {code!r}")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
            if not request.user.is_authenticated:
                from django.contrib.auth.views import redirect_to_login

                return redirect_to_login(request.get_full_path())
            if not has_perm(request, code):
                raise PermissionDenied(code)
            return view(request, *args, **kwargs)

        wrapped.required_permission = code  # type: ignore[attr-defined]
        return wrapped

    return decorator


def login_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Decorate a view any signed-in user may open (own profile, logout, switchers)."""

    @wraps(view)
    def wrapped(request: Any, *args: Any, **kwargs: Any) -> Any:
        if not request.user.is_authenticated:
            from django.contrib.auth.views import redirect_to_login

            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    wrapped.required_permission = None  # type: ignore[attr-defined]
    return wrapped


def public(view: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as open to anonymous visitors (login, health check)."""
    view.required_permission = "public"  # type: ignore[attr-defined]
    return view
