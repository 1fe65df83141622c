"""Writes of the analytics app: saved pivot views (keyword-only, one transaction, audited)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from xietong.analytics import pivot as olap
from xietong.analytics.models import SavedPivot
from xietong.core.models import Company

DEFINITION_KEYS = {"measures", "rows", "columns", "filters", "sort", "chart"}


def definition_clean(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition with only its known keys, checked against the measures and dimensions."""
    clean = {
        "measures": [str(m) for m in definition.get("measures") or []],
        "rows": [str(d) for d in definition.get("rows") or []],
        "columns": [str(d) for d in definition.get("columns") or []],
        "filters": {str(k): [str(v) for v in values]
                    for k, values in (definition.get("filters") or {}).items() if values},
        "sort": {"by": str((definition.get("sort") or {}).get("by") or "label"),
                 "desc": bool((definition.get("sort") or {}).get("desc"))},
        "chart": str(definition.get("chart") or "bar"),
    }  # fmt: skip
    try:
        olap.validate(clean["measures"], clean["rows"], clean["columns"], clean["filters"])
    except olap.PivotError as exc:
        raise ValidationError({"definition": str(exc)}) from exc
    return clean


@transaction.atomic
def saved_pivot_create(*, company: Company, actor: Any, name: str, definition: dict[str, Any],
                       shared: bool = False) -> SavedPivot:  # fmt: skip
    name = (name or "").strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = _("Give the view a name.")
    elif len(name) > 120:
        errors["name"] = _("At most 120 characters.")
    clean = None
    try:
        clean = definition_clean(definition)
    except ValidationError as exc:
        errors.update({k: " ".join(v) for k, v in exc.message_dict.items()})
    if errors:
        raise ValidationError(errors)
    return SavedPivot.unscoped.create(company=company, owner=actor, name=name, definition=clean,
                                      shared=shared)  # fmt: skip


@transaction.atomic
def saved_pivot_share(*, view: SavedPivot, actor: Any, shared: bool) -> SavedPivot:
    if view.owner_id != actor.pk:
        raise ValidationError({"shared": _("Only the owner of a view shares it.")})
    view.shared = shared
    view.save(update_fields=["shared"])
    return view


@transaction.atomic
def saved_pivot_delete(*, view: SavedPivot, actor: Any) -> None:
    if view.owner_id != actor.pk:
        raise ValidationError({"owner": _("Only the owner of a view deletes it.")})
    view.delete()
