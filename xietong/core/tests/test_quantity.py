"""Quantities: conversion within a unit category, refusal across categories, rounding steps."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xietong.core.quantity import Quantity, Unit, UnitMismatch, convert

# The platform's standard units (xietong.core.services.STANDARD_UNITS), as value objects.
G = Unit("g", "mass", Decimal("0.001"), Decimal("0.01"))
KG = Unit("kg", "mass", Decimal("1"), Decimal("0.001"))
T = Unit("t", "mass", Decimal("1000"), Decimal("0.001"))
MM = Unit("mm", "length", Decimal("0.001"), Decimal("0.1"))
CM = Unit("cm", "length", Decimal("0.01"), Decimal("0.1"))
M = Unit("m", "length", Decimal("1"), Decimal("0.001"))
KM = Unit("km", "length", Decimal("1000"), Decimal("0.001"))
PC = Unit("pc", "unit", Decimal("1"), Decimal("1"))
DOZEN = Unit("dozen", "unit", Decimal("12"), Decimal("1"))
PAIR = Unit("pair", "unit", Decimal("2"), Decimal("1"))
MINUTE = Unit("min", "time", Decimal("0.016666666667"), Decimal("0.01"))
HOUR = Unit("h", "time", Decimal("1"), Decimal("0.01"))
DAY = Unit("day", "time", Decimal("8"), Decimal("0.01"))

CATEGORIES = {
    "mass": [G, KG, T],
    "length": [MM, CM, M, KM],
    "unit": [PC, DOZEN, PAIR],
    "time": [MINUTE, HOUR, DAY],
}
POWER_OF_TEN_UNITS = [G, KG, T, MM, CM, M, KM]

values = st.decimals(
    min_value=Decimal("-1e9"),
    max_value=Decimal("1e9"),
    allow_nan=False,
    allow_infinity=False,
    places=4,
)
same_category_pair = st.sampled_from(sorted(CATEGORIES)).flatmap(
    lambda c: st.tuples(st.sampled_from(CATEGORIES[c]), st.sampled_from(CATEGORIES[c]))
)
different_category_pair = st.lists(
    st.sampled_from(sorted(CATEGORIES)), min_size=2, max_size=2, unique=True
).flatmap(
    lambda cs: st.tuples(st.sampled_from(CATEGORIES[cs[0]]), st.sampled_from(CATEGORIES[cs[1]]))
)
roundings = st.sampled_from(
    [Decimal(r) for r in ("1", "0.5", "0.25", "0.1", "0.01", "0.001", "0.000001", "5", "10")]
)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


@given(value=values, rounding=roundings)
def test_unit_round_gives_the_nearest_multiple_of_the_step(
    value: Decimal, rounding: Decimal
) -> None:
    unit = Unit("x", "test", Decimal(1), rounding)
    rounded = unit.round(value)
    assert is_multiple(rounded, rounding)
    assert abs(rounded - value) <= rounding / 2
    assert unit.round(rounded) == rounded


@pytest.mark.parametrize(
    ("value", "rounding", "expected"),
    [
        ("0.5", "1", "1"),
        ("-0.5", "1", "-1"),
        ("1.0005", "0.001", "1.001"),
        ("0.25", "0.5", "0.5"),
        ("0.24", "0.5", "0.0"),
        ("12.5", "5", "15"),
    ],
)
def test_unit_round_is_half_up(value: str, rounding: str, expected: str) -> None:
    unit = Unit("x", "test", Decimal(1), Decimal(rounding))
    assert unit.round(Decimal(value)) == Decimal(expected)


@pytest.mark.parametrize(("factor", "rounding"), [("0", "1"), ("-1", "1"), ("1", "0"), ("1", "-1")])
def test_unit_refuses_non_positive_factor_or_rounding(factor: str, rounding: str) -> None:
    with pytest.raises(ValueError):
        Unit("x", "test", Decimal(factor), Decimal(rounding))


@given(value=values, pair=same_category_pair)
def test_conversion_is_rounded_to_the_target_units_step(
    value: Decimal, pair: tuple[Unit, Unit]
) -> None:
    source, target = pair
    result = convert(value, source, target)
    exact = convert(value, source, target, round_result=False)
    assert is_multiple(result, target.rounding)
    assert abs(result - exact) <= target.rounding / 2
    if source != target:
        assert exact == value * source.factor / target.factor


@given(value=values, pair=same_category_pair)
def test_conversion_round_trip_is_within_rounding(value: Decimal, pair: tuple[Unit, Unit]) -> None:
    source, target = pair
    value = source.round(value)
    back = convert(convert(value, source, target), target, source)
    # One rounding in the target unit (seen in source units), one back in the source unit.
    tolerance = source.rounding / 2 + target.rounding / 2 * target.factor / source.factor
    assert abs(back - value) <= tolerance


@given(
    value=values,
    source=st.sampled_from(POWER_OF_TEN_UNITS),
    target=st.sampled_from(POWER_OF_TEN_UNITS),
)
def test_unrounded_conversion_between_decimal_units_round_trips_exactly(
    value: Decimal, source: Unit, target: Unit
) -> None:
    if source.category != target.category:
        with pytest.raises(UnitMismatch):
            convert(value, source, target, round_result=False)
        return
    there = convert(value, source, target, round_result=False)
    assert convert(there, target, source, round_result=False) == value


@given(value=values, pair=different_category_pair)
def test_conversion_across_categories_is_refused(value: Decimal, pair: tuple[Unit, Unit]) -> None:
    source, target = pair
    with pytest.raises(UnitMismatch):
        convert(value, source, target)
    with pytest.raises(UnitMismatch):
        Quantity(value, source).to(target)
    with pytest.raises(UnitMismatch):
        Quantity(value, source) + Quantity(value, target)
    with pytest.raises(UnitMismatch):
        Quantity(value, source) - Quantity(value, target)


def test_units_with_the_same_factor_in_different_categories_still_do_not_mix() -> None:
    with pytest.raises(UnitMismatch):
        convert(Decimal(1), KG, M)


@pytest.mark.parametrize(
    ("value", "source", "target", "expected"),
    [
        ("1500", G, KG, "1.500"),
        ("2.5", T, KG, "2500.000"),
        ("1", KG, G, "1000.00"),
        ("1234", MM, M, "1.234"),
        ("3", DOZEN, PC, "36"),
        ("5", PC, DOZEN, "0"),
        ("6", PC, DOZEN, "1"),  # half-up: 0.5 dozen
        ("3", PAIR, PC, "6"),
        ("90", MINUTE, HOUR, "1.50"),
        ("2", DAY, HOUR, "16.00"),
        ("1.5", HOUR, MINUTE, "90.00"),
    ],
)
def test_conversion_examples(value: str, source: Unit, target: Unit, expected: str) -> None:
    assert convert(Decimal(value), source, target) == Decimal(expected)


def test_converting_to_the_same_unit_only_rounds() -> None:
    assert convert(Decimal("1.23456"), KG, KG) == Decimal("1.235")
    assert convert(Decimal("1.23456"), KG, KG, round_result=False) == Decimal("1.23456")


# --- Quantity -------------------------------------------------------------------------------------


@given(a=values, b=values, pair=same_category_pair)
def test_quantities_add_in_the_left_operands_unit(
    a: Decimal, b: Decimal, pair: tuple[Unit, Unit]
) -> None:
    left, right = Quantity(a, pair[0]), Quantity(b, pair[1])
    total = left + right
    assert total.unit == pair[0]
    assert total.value == a + convert(b, pair[1], pair[0])
    difference = left - right
    assert difference.unit == pair[0]
    assert difference.value == a - convert(b, pair[1], pair[0])
    assert (-left).value == -a


@given(a=values, b=values, unit=st.sampled_from([u for us in CATEGORIES.values() for u in us]))
def test_quantities_in_one_unit_add_exactly(a: Decimal, b: Decimal, unit: Unit) -> None:
    # Adding a quantity in the very same unit rounds the right operand to the unit's step only.
    assert (Quantity(a, unit) + Quantity(unit.round(b), unit)).value == a + unit.round(b)


def test_quantity_to_converts_and_keeps_the_target_unit() -> None:
    assert Quantity(Decimal("1500"), G).to(KG) == Quantity(Decimal("1.5"), KG)
    assert (Quantity(Decimal("1"), KG) + Quantity(Decimal("250"), G)).value == Decimal("1.250")


@given(value=st.floats(allow_nan=False, allow_infinity=False))
def test_quantity_refuses_floats(value: float) -> None:
    with pytest.raises(TypeError):
        Quantity(value, KG)  # type: ignore[arg-type]


def test_quantity_only_adds_quantities() -> None:
    with pytest.raises(TypeError):
        Quantity(Decimal(1), KG) + Decimal(1)  # type: ignore[operator]
    with pytest.raises(TypeError):
        Quantity(Decimal(1), KG) - 1  # type: ignore[operator]


def test_quantity_and_unit_are_immutable_and_print_without_noise() -> None:
    quantity = Quantity(Decimal("1.500"), KG)
    with pytest.raises(dataclasses.FrozenInstanceError):
        quantity.value = Decimal(2)  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        KG.factor = Decimal(2)  # type: ignore[misc]
    assert str(quantity) == "1.5 kg"
    assert str(Quantity(Decimal("1E+3"), G)) == "1000 g"
