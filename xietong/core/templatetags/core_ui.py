from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import template
from django.template.defaultfilters import floatformat
from django.utils import formats, timezone
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def cell(value: Any) -> Any:
    """Display a list cell: booleans as Yes/No, dates localised, empty as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dt.datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return (
            f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}".rstrip("0")
        )
    return value


@register.filter
def figure(value: Any) -> str:
    """A figure of a report cell: a whole count (int) without decimals, an amount with two,
    both with the locale's grouping; nothing for None."""
    if value is None or value == "":
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return floatformat(value, "0g")
    return floatformat(value, "2g")


@register.simple_tag
def sort_link(state: Any, column: Any) -> dict[str, str]:
    direction = ""
    if state.sort == column.name:
        direction, target = "asc", f"-{column.name}"
    elif state.sort == f"-{column.name}":
        direction, target = "desc", column.name
    else:
        target = column.name
    return {"query": state.querystring(sort=target, page=1), "direction": direction}


@register.simple_tag
def querystring_page(state: Any, number: int) -> str:
    return state.querystring(page=number)
