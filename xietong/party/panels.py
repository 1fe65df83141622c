"""Panels that apps above `party` add to the party page's overview (a supplier's scorecard, a
customer's open orders …) without `party` knowing them: an app registers a panel from its
`AppConfig.ready()` with the permission it needs and a function that gives the panel's context
for a party, or None when the panel does not apply (a scorecard for a customer)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils.functional import Promise

from xietong.core.permissions import has_perm
from xietong.party.models import Party


@dataclass(frozen=True)
class Panel:
    key: str
    label: str | Promise
    template: str  # rendered with `panel` (this dict) in its context: `panel.data`
    permission: str
    data: Callable[[HttpRequest, Party], dict[str, Any] | None]
    order: int = 100


_PANELS: dict[str, Panel] = {}


def panel_register(panel: Panel) -> None:
    """Add (or replace, by key) a panel of the party page."""
    _PANELS[panel.key] = panel


def panels_for(request: HttpRequest, party: Party) -> list[dict[str, Any]]:
    """The panels the user may see that apply to `party`, in their order."""
    shown = []
    for panel in sorted(_PANELS.values(), key=lambda p: (p.order, p.key)):
        if not has_perm(request, panel.permission):
            continue
        data = panel.data(request, party)
        if data is not None:
            shown.append({"key": panel.key, "label": panel.label, "template": panel.template,
                          "data": data})  # fmt: skip
    return shown
