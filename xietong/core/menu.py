"""The navigation: areas of the shell and the screens apps register into them.

An app adds its screens in `AppConfig.ready()` with `add(area, label, url_name, permission)`.
A user sees an area only when it holds at least one screen the user's roles allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from xietong.core.permissions import has_perm


@dataclass(frozen=True)
class Area:
    code: str
    label: str | Promise
    icon: str


@dataclass(frozen=True)
class Item:
    area: str
    label: str | Promise
    url_name: str
    permission: str
    order: int = 100


@dataclass
class VisibleArea:
    area: Area
    items: list[dict[str, Any]] = field(default_factory=list)


AREAS = [
    Area("crm", _("CRM"), "people"),
    Area("sales", _("Sales"), "cart"),
    Area("purchase", _("Purchasing"), "bag"),
    Area("inventory", _("Inventory"), "box-seam"),
    Area("manufacturing", _("Manufacturing"), "gear"),
    Area("finance", _("Finance"), "cash-coin"),
    Area("hr", _("HR"), "person-badge"),
    Area("workflow", _("Workflow"), "diagram-3"),
    Area("analytics", _("Analytics"), "graph-up"),
    Area("settings", _("Settings"), "sliders"),
]
_ITEMS: list[Item] = []


def add(area: str, label: str | Promise, url_name: str, permission: str, order: int = 100) -> None:
    if area not in {a.code for a in AREAS}:
        raise ValueError(f"Unknown menu area {area!r}")
    item = Item(area, label, url_name, permission, order)
    if item not in _ITEMS:
        _ITEMS.append(item)


def menu_for(request: Any) -> list[VisibleArea]:
    current = request.path
    visible = []
    for area in AREAS:
        entries = []
        for item in sorted((i for i in _ITEMS if i.area == area.code), key=lambda i: i.order):
            if has_perm(request, item.permission):
                url = reverse(item.url_name)
                entries.append({"label": item.label, "url": url, "active": False})
        if entries:
            visible.append(VisibleArea(area, entries))
    # the entry whose URL is the longest prefix of the page is the active one ("/sales/" is not
    # active on "/sales/orders/" when "/sales/orders/" is an entry)
    best = max(
        (e for a in visible for e in a.items if current.startswith(e["url"])),
        key=lambda e: len(e["url"]),
        default=None,
    )
    if best is not None:
        best["active"] = True
    return visible
