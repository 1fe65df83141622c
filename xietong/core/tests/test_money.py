"""Money: exact Decimal arithmetic in one currency, rounding to minor units, allocation."""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xietong.core.money import MINOR_UNITS, CurrencyMismatch, Money, minor_units

BOUND = Decimal("1e12")

amounts = st.decimals(
    min_value=-BOUND, max_value=BOUND, allow_nan=False, allow_infinity=False, places=4
)
positive_amounts = st.decimals(
    min_value=Decimal("0.0001"), max_value=BOUND, allow_nan=False, allow_infinity=False, places=4
)
currencies = st.sampled_from(sorted(MINOR_UNITS))
two_currencies = st.lists(currencies, min_size=2, max_size=2, unique=True)
floats = st.floats(allow_nan=False, allow_infinity=False)
weights = st.lists(st.integers(min_value=0, max_value=1000), min_size=1, max_size=12).filter(
    lambda ws: sum(ws) > 0
)


def unit_of(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


# --- construction ---------------------------------------------------------------------------------


@given(amount=amounts, currency=currencies)
def test_money_keeps_the_exact_decimal_and_the_currency(amount: Decimal, currency: str) -> None:
    money = Money(amount, currency)
    assert money.amount == amount
    assert isinstance(money.amount, Decimal)
    assert money.currency == currency


@given(amount=amounts)
def test_money_accepts_strings_and_ints_exactly(amount: Decimal) -> None:
    assert Money(str(amount), "CNY").amount == amount
    assert Money(7, "CNY").amount == Decimal(7)


@given(value=floats)
def test_money_refuses_float_amounts(value: float) -> None:
    with pytest.raises(TypeError):
        Money(value, "CNY")


@pytest.mark.parametrize("value", ["NaN", "sNaN", "Infinity", "-Infinity", "abc", "", "1,00"])
def test_money_refuses_what_is_not_a_finite_number(value: str) -> None:
    with pytest.raises(ValueError):
        Money(value, "CNY")


@pytest.mark.parametrize("code", ["", "US", "USDX", "U1D", "€€€", "日本円", "ÄÖÜ", 840, None])
def test_money_refuses_what_is_not_an_iso_code(code: object) -> None:
    with pytest.raises(ValueError):
        Money("1", code)  # type: ignore[arg-type]


def test_currency_code_is_normalised_to_upper_case() -> None:
    assert Money("1", "usd") == Money("1", "USD")


def test_money_is_immutable() -> None:
    money = Money("1.00", "CNY")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.amount = Decimal(2)  # type: ignore[misc]


def test_equal_amounts_with_different_exponents_are_equal_and_hash_alike() -> None:
    assert Money("1.0", "CNY") == Money("1.00", "CNY")
    assert hash(Money("1.0", "CNY")) == hash(Money("1.00", "CNY"))
    assert Money("1", "CNY") != Money("1", "HKD")


# --- addition and subtraction ---------------------------------------------------------------------


@given(a=amounts, b=amounts, c=amounts, currency=currencies)
def test_addition_is_associative_and_commutative(
    a: Decimal, b: Decimal, c: Decimal, currency: str
) -> None:
    x, y, z = Money(a, currency), Money(b, currency), Money(c, currency)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x
    assert ((x + y) + z).amount == a + b + c


@given(a=amounts, currency=currencies)
def test_zero_is_the_identity_and_subtraction_the_inverse(a: Decimal, currency: str) -> None:
    x, zero = Money(a, currency), Money.zero(currency)
    assert x + zero == x
    assert zero + x == x
    assert x - zero == x
    assert x - x == zero
    assert -x + x == zero
    assert (-x).amount == -a
    assert x + (-x) == zero


@given(a=amounts, b=amounts, currency=currencies)
def test_subtraction_is_adding_the_negation(a: Decimal, b: Decimal, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert x - y == x + (-y)
    assert (x - y) + y == x
    assert (x - y).amount == a - b


@given(a=amounts, b=amounts, pair=two_currencies)
def test_mixed_currencies_are_refused(a: Decimal, b: Decimal, pair: list[str]) -> None:
    x, y = Money(a, pair[0]), Money(b, pair[1])
    for operation in (
        lambda: x + y,
        lambda: x - y,
        lambda: x < y,
        lambda: x <= y,
        lambda: x > y,
        lambda: x >= y,
    ):
        with pytest.raises(CurrencyMismatch):
            operation()


@given(a=amounts, other=st.one_of(amounts, st.integers(), floats))
def test_only_money_can_be_added_to_money(a: Decimal, other: object) -> None:
    x = Money(a, "CNY")
    with pytest.raises(TypeError):
        x + other  # type: ignore[operator]
    with pytest.raises(TypeError):
        x - other  # type: ignore[operator]
    with pytest.raises(TypeError):
        other + x  # type: ignore[operator]


@given(a=amounts, b=amounts, currency=currencies)
def test_comparisons_follow_the_amounts(a: Decimal, b: Decimal, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x < y) == (a < b)
    assert (x <= y) == (a <= b)
    assert (x > y) == (a > b)
    assert (x >= y) == (a >= b)
    assert bool(x) == (a != 0)


# --- multiplication and division ------------------------------------------------------------------


@given(
    a=amounts,
    factor=st.decimals(
        min_value=-1000, max_value=1000, allow_nan=False, allow_infinity=False, places=3
    ),
)
def test_multiplication_by_a_decimal_is_exact(a: Decimal, factor: Decimal) -> None:
    assert (Money(a, "USD") * factor).amount == a * factor
    assert (factor * Money(a, "USD")) == Money(a, "USD") * factor
    assert (Money(a, "USD") * 3).amount == a * 3


@given(a=amounts, value=floats)
def test_multiplying_or_dividing_by_a_float_is_refused(a: Decimal, value: float) -> None:
    with pytest.raises(TypeError):
        Money(a, "USD") * value
    with pytest.raises(TypeError):
        value * Money(a, "USD")
    with pytest.raises(TypeError):
        Money(a, "USD") / value


def test_money_times_or_over_money_is_refused() -> None:
    with pytest.raises(TypeError):
        Money("2", "USD") * Money("3", "USD")
    with pytest.raises(TypeError):
        Money("2", "USD") / Money("3", "USD")


@given(a=amounts, divisor=positive_amounts)
def test_division_then_rounding_stays_within_half_a_minor_unit(
    a: Decimal, divisor: Decimal
) -> None:
    share = Money(a, "CNY") / divisor
    assert share.currency == "CNY"
    assert abs(share.rounded().amount - a / divisor) <= Decimal("0.005")


# --- rounding -------------------------------------------------------------------------------------


@given(a=amounts, currency=currencies)
def test_rounding_quantizes_to_the_minor_unit_within_half_a_unit(a: Decimal, currency: str) -> None:
    rounded = Money(a, currency).rounded()
    unit = unit_of(currency)
    assert rounded.currency == currency
    assert rounded.amount.as_tuple().exponent == -minor_units(currency)
    assert abs(rounded.amount - a) <= unit / 2
    assert rounded.rounded() == rounded


@given(cents=st.integers(min_value=-(10**9), max_value=10**9), currency=currencies)
def test_rounding_is_half_up_away_from_zero(cents: int, currency: str) -> None:
    unit = unit_of(currency)
    halfway = cents * unit + unit / 2
    expected = (cents + 1) * unit if halfway > 0 else cents * unit
    assert Money(halfway, currency).rounded().amount == expected
    assert Money(-halfway, currency).rounded().amount == -expected


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("2.675", "CNY", "2.68"),
        ("2.665", "CNY", "2.67"),
        ("2.6749", "CNY", "2.67"),
        ("-2.675", "CNY", "-2.68"),
        ("0.5", "JPY", "1"),
        ("1.5", "JPY", "2"),
        ("2.5", "JPY", "3"),
        ("-0.5", "JPY", "-1"),
        ("1234.4999", "JPY", "1234"),
        ("1.0005", "KWD", "1.001"),
        ("1.0004", "KWD", "1.000"),
        ("-0.0005", "KWD", "-0.001"),
        ("9.9995", "BHD", "10.000"),
        ("1.005", "XYZ", "1.01"),  # unknown currency: two decimals
    ],
)
def test_rounding_examples(amount: str, currency: str, expected: str) -> None:
    rounded = Money(amount, currency).rounded()
    assert rounded.amount == Decimal(expected)
    assert str(rounded.amount) == expected


def test_minor_units() -> None:
    assert (minor_units("JPY"), minor_units("CNY"), minor_units("KWD")) == (0, 2, 3)
    assert minor_units("XYZ") == 2


def test_rounding_mode_can_be_chosen() -> None:
    assert Money("2.5", "JPY").rounded(ROUND_HALF_EVEN).amount == Decimal(2)
    assert Money("2.675", "CNY").rounded(ROUND_HALF_EVEN).amount == Decimal("2.68")
    assert Money("2.665", "CNY").rounded(ROUND_HALF_EVEN).amount == Decimal("2.66")


def test_rounding_happens_only_when_asked() -> None:
    total = Money("0.333", "CNY") + Money("0.333", "CNY") + Money("0.334", "CNY")
    assert total.amount == Decimal("1.000")
    assert (Money("10", "CNY") / 3).amount != (Money("10", "CNY") / 3).rounded().amount


def test_str_shows_the_rounded_amount_with_separators() -> None:
    assert str(Money("1234567.891", "CNY")) == "1,234,567.89 CNY"
    assert str(Money("1234.5", "JPY")) == "1,235 JPY"
    assert str(Money("1.2345", "KWD")) == "1.235 KWD"


# --- allocation -----------------------------------------------------------------------------------


@given(a=amounts, currency=currencies, ws=weights)
def test_allocation_parts_sum_to_the_rounded_total(
    a: Decimal, currency: str, ws: list[int]
) -> None:
    money = Money(a, currency)
    parts = money.allocate(ws)
    unit = unit_of(currency)
    assert len(parts) == len(ws)
    assert all(p.currency == currency for p in parts)
    assert all(p.amount % unit == 0 for p in parts)
    assert sum(p.amount for p in parts) == money.rounded().amount
    total, weight_sum = money.rounded().amount, sum(ws)
    for part, weight in zip(parts, ws, strict=True):
        # largest remainder: every part is its exact share rounded down or up, never further
        assert abs(part.amount - total * weight / weight_sum) < unit
        if weight == 0:
            assert part.amount == 0


@given(a=amounts, currency=currencies, n=st.integers(min_value=1, max_value=30))
def test_equal_weights_give_parts_that_differ_by_at_most_one_minor_unit(
    a: Decimal, currency: str, n: int
) -> None:
    parts = Money(a, currency).allocate([1] * n)
    amounts_ = [p.amount for p in parts]
    assert max(amounts_) - min(amounts_) <= unit_of(currency)
    assert sum(amounts_) == Money(a, currency).rounded().amount


@given(a=amounts, ws=weights)
def test_allocation_accepts_decimal_weights(a: Decimal, ws: list[int]) -> None:
    money = Money(a, "KWD")
    parts = money.allocate([Decimal(w) / 7 for w in ws])
    assert sum(p.amount for p in parts) == money.rounded().amount


@pytest.mark.parametrize(
    ("amount", "currency", "ws", "expected"),
    [
        ("100", "CNY", [1, 1, 1], ["33.34", "33.33", "33.33"]),
        ("0.05", "CNY", [1, 1], ["0.03", "0.02"]),
        ("100", "JPY", [1, 1, 1], ["34", "33", "33"]),
        ("1", "KWD", [1, 1, 1], ["0.334", "0.333", "0.333"]),
        ("10", "CNY", [0, 1, 3], ["0.00", "2.50", "7.50"]),
        ("-100", "CNY", [1, 1, 1], ["-33.33", "-33.33", "-33.34"]),
        ("10.005", "CNY", [1], ["10.01"]),
    ],
)
def test_allocation_examples(
    amount: str, currency: str, ws: list[int], expected: list[str]
) -> None:
    parts = Money(amount, currency).allocate(ws)  # type: ignore[arg-type]
    assert sorted(p.amount for p in parts) == sorted(Decimal(e) for e in expected)


@pytest.mark.parametrize("ws", [[], [0, 0], [1, -1], [Decimal("-0.5"), 2]])
def test_allocation_refuses_bad_weights(ws: list[Decimal | int]) -> None:
    with pytest.raises(ValueError):
        Money("10", "CNY").allocate(ws)
