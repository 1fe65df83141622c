"""The kinds of customer-timeline entries and how the party page shows them.

Other modules register their kinds through `xietong.party.services.timeline_kind_register`
(from their `AppConfig.ready()`); an entry of an unregistered kind is still stored and shown,
under its code.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class TimelineKind:
    code: str
    label: str | Promise
    icon: str = "circle"  # a Bootstrap Icons name


KINDS: dict[str, TimelineKind] = {}


def kind_register(code: str, label: str | Promise, icon: str = "circle") -> None:
    """Declare a timeline entry kind, e.g. `("sales.order", _("Sales order"), "cart")`."""
    KINDS[code] = TimelineKind(code, label, icon)


def kind_label(code: str) -> str | Promise:
    kind = KINDS.get(code)
    return kind.label if kind else code


def kind_icon(code: str) -> str:
    kind = KINDS.get(code)
    return kind.icon if kind else "circle"


# The kinds the party module writes itself, and the ones the issues after it will write
# (registered here so that filters show readable names from the start).
for _code, _label, _icon in (
    ("party.created", _("Party created"), "plus-circle"),
    ("party.merged", _("Duplicate merged"), "intersect"),
    ("party.credit", _("Credit terms changed"), "credit-card"),
    ("party.archived", _("Archived or restored"), "archive"),
    ("note", _("Note"), "sticky"),
    ("activity", _("Activity"), "telephone"),
    ("quotation", _("Quotation"), "file-earmark-text"),
    ("order", _("Order"), "cart"),
    ("shipment", _("Shipment"), "truck"),
    ("invoice", _("Invoice"), "receipt"),
    ("payment", _("Payment"), "cash-coin"),
    ("ticket", _("Service ticket"), "life-preserver"),
):
    kind_register(_code, _label, _icon)
