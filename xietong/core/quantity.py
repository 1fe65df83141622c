"""Quantities with units of measure.

A unit belongs to a category (mass, length, count…) and has a factor relative to the category's
reference unit (`1 unit = factor × reference`) and a rounding step. `convert` is the one
conversion function; it refuses to cross categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.utils.translation import gettext_lazy as _


class UnitMismatch(ValueError):
    """Two quantities of different unit categories were combined or converted."""


@dataclass(frozen=True, slots=True)
class Unit:
    code: str
    category: str
    factor: Decimal
    rounding: Decimal = Decimal("0.001")

    def __post_init__(self) -> None:
        if self.factor <= 0:
            raise ValueError(_("A unit's factor must be positive."))
        if self.rounding <= 0:
            raise ValueError(_("A unit's rounding must be positive."))

    def round(self, value: Decimal) -> Decimal:
        """`value` rounded half-up to a multiple of this unit's rounding step."""
        steps = (value / self.rounding).to_integral_value(rounding=ROUND_HALF_UP)
        return (steps * self.rounding).quantize(self.rounding)


def convert(
    value: Decimal, from_unit: Unit, to_unit: Unit, *, round_result: bool = True
) -> Decimal:
    """`value` in `from_unit` expressed in `to_unit`; refuses units of different categories."""
    if from_unit.category != to_unit.category:
        raise UnitMismatch(
            _("Cannot convert %(a)s to %(b)s: they measure different things.")
            % {"a": from_unit.code, "b": to_unit.code}
        )
    result = value if from_unit == to_unit else value * from_unit.factor / to_unit.factor
    return to_unit.round(result) if round_result else result


@dataclass(frozen=True, slots=True)
class Quantity:
    value: Decimal
    unit: Unit

    def __post_init__(self) -> None:
        if isinstance(self.value, float):
            raise TypeError(_("Quantities must not be floats; pass a Decimal."))

    def to(self, unit: Unit) -> Quantity:
        return Quantity(convert(self.value, self.unit, unit), unit)

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(self.value + convert(other.value, other.unit, self.unit), self.unit)

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            return NotImplemented
        return Quantity(self.value - convert(other.value, other.unit, self.unit), self.unit)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.unit)

    def __str__(self) -> str:
        return f"{self.value.normalize():f} {self.unit.code}"
