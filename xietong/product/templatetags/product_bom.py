"""Display filters of the BOM, routing and configurator screens."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django import template
from django.utils import formats

register = template.Library()


@register.filter
def qty(value: Any) -> Any:
    """A quantity rounded to 6 decimals, without trailing zeros ("7.56", "0.333333")."""
    if not isinstance(value, Decimal):
        return value
    rounded = value.quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP).normalize()
    return f"{rounded:f}"


@register.filter
def money(value: Any) -> Any:
    """An amount with two decimals and grouped thousands (four decimals below 1 when the
    cents would hide it, e.g. a 0.0125 unit cost)."""
    if not isinstance(value, Decimal):
        return value
    places = 2
    if abs(value) < 1 and value.quantize(Decimal("0.01")) != value.quantize(Decimal("0.0001")):
        places = 4
    rounded = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    return formats.number_format(rounded, decimal_pos=places, use_l10n=True, force_grouping=True)
