"""The predefined roles, as data: each maps to permission codes (xietong.core.permissions).

`role_sync_defaults()` (run after every migrate) writes them into the `Role` table. They are the
platform's; a company that wants different ones adds its own roles.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from xietong.core.permissions import REGISTRY

_STAFF = ["core.dashboard"]

ROLE_LABELS: dict[str, Promise] = {
    "admin": _("Administrator"),
    "sales_rep": _("Sales representative"),
    "sales_manager": _("Sales manager"),
    "buyer": _("Buyer"),
    "planner": _("Planner"),
    "warehouse_clerk": _("Warehouse clerk"),
    "accountant": _("Accountant"),
    "service_agent": _("Service agent"),
    "service_manager": _("Service manager"),
    "marketer": _("Marketer"),
    "hr_officer": _("HR officer"),
    "executive": _("Executive"),
    "portal_customer": _("Portal customer"),
    "portal_supplier": _("Portal supplier"),
}

DEFAULT_ROLES: dict[str, list[str]] = {
    "admin": [],  # every staff permission declared by any app: see role_permissions()
    "sales_rep": _STAFF + ["crm.access", "sales.access", "core.uom.view", "core.exchangerate.view"],
    "sales_manager": _STAFF
    + [
        "crm.access",
        "sales.access",
        "analytics.access",
        "core.uom.view",
        "core.exchangerate.view",
        "core.user.view",
        "core.audit.view",
    ],
    "buyer": _STAFF
    + ["purchase.access", "inventory.access", "core.uom.view", "core.exchangerate.view"],
    "planner": _STAFF
    + [
        "manufacturing.access",
        "inventory.access",
        "purchase.access",
        "core.uom.view",
        "core.uom.change",
        "core.job.view",
    ],
    "warehouse_clerk": _STAFF + ["inventory.access", "core.uom.view"],
    "accountant": _STAFF
    + [
        "finance.access",
        "core.exchangerate.view",
        "core.exchangerate.change",
        "core.sequence.view",
        "core.sequence.change",
        "core.audit.view",
    ],
    "service_agent": _STAFF + ["crm.access"],
    "service_manager": _STAFF + ["crm.access", "core.user.view", "core.audit.view"],
    "marketer": _STAFF + ["crm.access"],
    "hr_officer": _STAFF + ["hr.access", "core.user.view"],
    "executive": _STAFF
    + [
        "analytics.access",
        "crm.access",
        "sales.access",
        "purchase.access",
        "inventory.access",
        "manufacturing.access",
        "finance.access",
        "core.exchangerate.view",
        "core.audit.view",
        "core.user.view",
        "core.job.view",
    ],
    "portal_customer": ["portal.access"],
    "portal_supplier": ["portal.access"],
}

PORTAL_ROLES = {"portal_customer", "portal_supplier"}


def role_label(code: str, fallback: str = "") -> str | Promise:
    return ROLE_LABELS.get(code, fallback or code)


def grant(role: str, *codes: str) -> None:
    """Give a predefined role more permission codes; apps call it from `AppConfig.ready()`."""
    unknown = [code for code in codes if code not in REGISTRY]
    if unknown or role not in DEFAULT_ROLES:
        raise ValueError(f"grant({role!r}, …): unknown role or permission {unknown}")
    DEFAULT_ROLES[role] = sorted(set(DEFAULT_ROLES[role]) | set(codes))


def role_permissions(role: str) -> list[str]:
    """The permission codes of a predefined role (the administrator has every staff one)."""
    if role == "admin":
        return sorted(code for code in REGISTRY if code != "portal.access")
    return sorted(set(DEFAULT_ROLES[role]))
