"""The tax engine: worked examples, validation, and invariants over random invoices."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, ROUND_UP, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xietong.core.money import minor_units
from xietong.finance.models import FinanceSettings, Tax
from xietong.finance.taxes import (
    GLOBAL,
    PER_LINE,
    POLICIES,
    ROUNDING_MODES,
    InvoiceTotals,
    LineInput,
    LineResult,
    TaxRule,
    TaxTotal,
    allocate_rounded,
    amount_round,
    compute,
)

D = Decimal

VAT13 = TaxRule("vat13", D(13))
VAT13_INCLUDED = TaxRule("vat13-incl", D(13), price_include=True)


def line(quantity: str, price: str, *taxes: TaxRule, discount: str = "0") -> LineInput:
    return LineInput(D(quantity), D(price), D(discount), tuple(taxes))


# --- worked examples --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "tax"), [("13", "13.00"), ("9", "9.00"), ("6", "6.00"), ("0", "0.00")]
)
def test_china_vat_excluded(rate: str, tax: str) -> None:
    vat = TaxRule("vat", D(rate))
    result = compute([line("1", "100.00", vat)], currency="CNY")
    total = str(D("100.00") + D(tax))
    assert result == InvoiceTotals(
        lines=(LineResult(D("100.00"), D(tax), D(total), (("vat", D("100.00"), D(tax)),)),),
        taxes=(TaxTotal("vat", D("100.00"), D(tax)),),
        untaxed=D("100.00"),
        tax=D(tax),
        total=D(total),
    )
    assert str(result.tax) == tax


@pytest.mark.parametrize("policy", POLICIES)
def test_china_vat_included(policy: str) -> None:
    result = compute([line("1", "113.00", VAT13_INCLUDED)], currency="CNY", policy=policy)
    (row,) = result.lines
    assert (row.net, row.tax, row.total) == (D("100.00"), D("13.00"), D("113.00"))
    assert row.taxes == (("vat13-incl", D("100.00"), D("13.00")),)
    assert (result.untaxed, result.tax, result.total) == (D("100.00"), D("13.00"), D("113.00"))


def test_included_tax_rounding_goes_into_the_net() -> None:
    """1.00 with 13 % inside: exact tax 0.11504…; per line 0.12 and the net takes 0.88. Globally
    the invoice tax is round(0.34513…) = 0.35, and each line's net still makes up its 1.00."""
    lines = [line("1", "1.00", VAT13_INCLUDED)] * 3
    per_line = compute(lines, currency="CNY", policy=PER_LINE)
    assert [(r.net, r.tax) for r in per_line.lines] == [(D("0.88"), D("0.12"))] * 3
    assert (per_line.untaxed, per_line.tax, per_line.total) == (D("2.64"), D("0.36"), D("3.00"))

    globally = compute(lines, currency="CNY", policy=GLOBAL)
    assert [(r.net, r.tax) for r in globally.lines] == [
        (D("0.88"), D("0.12")),
        (D("0.88"), D("0.12")),
        (D("0.89"), D("0.11")),
    ]
    assert (globally.untaxed, globally.tax, globally.total) == (D("2.65"), D("0.35"), D("3.00"))
    assert all(r.total == D("1.00") for r in globally.lines)


def test_compound_tax() -> None:
    """10 %, then 5 % compound on the base plus the 10 %: 10.00 + 5.50. Order is by sequence,
    not by the order given."""
    first = TaxRule("t10", D(10), sequence=1)
    second = TaxRule("t5c", D(5), compound=True, sequence=2)
    for policy in POLICIES:
        result = compute([line("1", "100", second, first)], currency="CNY", policy=policy)
        (row,) = result.lines
        assert row.taxes == (("t10", D("100.00"), D("10.00")), ("t5c", D("110.00"), D("5.50")))
        assert (row.net, row.tax, row.total) == (D("100.00"), D("15.50"), D("115.50"))
        assert result.taxes == (
            TaxTotal("t10", D("100.00"), D("10.00")),
            TaxTotal("t5c", D("110.00"), D("5.50")),
        )


def test_compound_included_taxes() -> None:
    """Both inside the price: the divisor is 1 + 0.10 + 0.05 × 1.10 = 1.155."""
    first = TaxRule("t10", D(10), price_include=True, sequence=1)
    second = TaxRule("t5c", D(5), price_include=True, compound=True, sequence=2)
    for policy in POLICIES:
        (row,) = compute([line("1", "115.50", first, second)], currency="CNY", policy=policy).lines
        assert row.taxes == (("t10", D("100.00"), D("10.00")), ("t5c", D("110.00"), D("5.50")))
        assert (row.net, row.tax, row.total) == (D("100.00"), D("15.50"), D("115.50"))


def test_included_and_excluded_on_one_line() -> None:
    surcharge = TaxRule("s5", D(5), sequence=20)
    (row,) = compute([line("1", "113.00", VAT13_INCLUDED, surcharge)], currency="CNY").lines
    assert row.taxes == (("vat13-incl", D("100.00"), D("13.00")), ("s5", D("100.00"), D("5.00")))
    assert (row.net, row.tax, row.total) == (D("100.00"), D("18.00"), D("118.00"))


def test_per_line_and_global_rounding_differ() -> None:
    """Three lines of 0.33 at 13 %: 0.04 × 3 = 0.12 per line, round(0.1287) = 0.13 globally."""
    lines = [line("1", "0.33", VAT13)] * 3
    per_line = compute(lines, currency="CNY", policy=PER_LINE)
    assert [r.tax for r in per_line.lines] == [D("0.04")] * 3
    assert (per_line.untaxed, per_line.tax, per_line.total) == (D("0.99"), D("0.12"), D("1.11"))

    globally = compute(lines, currency="CNY", policy=GLOBAL)
    assert [r.tax for r in globally.lines] == [D("0.05"), D("0.04"), D("0.04")]
    assert globally.taxes == (TaxTotal("vat13", D("0.99"), D("0.13")),)
    assert (globally.untaxed, globally.tax, globally.total) == (D("0.99"), D("0.13"), D("1.12"))


def test_global_rounding_with_a_credit_line() -> None:
    lines = [line("1", "0.33", VAT13), line("-1", "0.33", VAT13)]
    result = compute(lines, currency="CNY", policy=GLOBAL)
    assert [r.tax for r in result.lines] == [D("0.04"), D("-0.04")]
    assert (result.untaxed, result.tax, result.total) == (D("0.00"), D("0.00"), D("0.00"))


@pytest.mark.parametrize(
    ("quantity", "rounding", "tax"),
    [
        ("15", ROUND_HALF_UP, "2"),
        ("15", ROUND_DOWN, "1"),
        ("15", ROUND_HALF_EVEN, "2"),
        ("25", ROUND_HALF_EVEN, "2"),
        ("25", ROUND_HALF_UP, "3"),
        ("11", ROUND_UP, "2"),
        ("11", ROUND_DOWN, "1"),
    ],
)
def test_yen_has_no_decimals(quantity: str, rounding: str, tax: str) -> None:
    consumption = TaxRule("jct10", D(10))
    result = compute([line(quantity, "1", consumption)], currency="JPY", rounding=rounding)
    assert str(result.tax) == tax
    assert str(result.untaxed) == quantity
    assert result.total == D(quantity) + D(tax)


def test_dinar_has_three_decimals() -> None:
    vat = TaxRule("vat5", D(5))
    result = compute([line("1", "10.125", vat)], currency="KWD")
    assert str(result.untaxed) == "10.125"
    assert str(result.tax) == "0.506"  # 0.50625
    assert str(result.total) == "10.631"
    assert amount_round(D("1.0005"), "KWD") == D("1.001")
    assert str(amount_round("1.0005", "BHD", ROUND_DOWN)) == "1.000"


def test_discounts() -> None:
    result = compute([line("3", "19.99", VAT13, discount="15")], currency="CNY")
    (row,) = result.lines
    assert (row.net, row.tax, row.total) == (D("50.97"), D("6.63"), D("57.60"))  # 50.9745
    free = compute([line("3", "19.99", VAT13, discount="100")], currency="CNY")
    assert (free.untaxed, free.tax, free.total) == (D("0.00"), D("0.00"), D("0.00"))


def test_credit_line() -> None:
    result = compute([line("-2", "50.00", VAT13), line("1", "0.50", VAT13)], currency="CNY")
    assert [(r.net, r.tax, r.total) for r in result.lines] == [
        (D("-100.00"), D("-13.00"), D("-113.00")),
        (D("0.50"), D("0.07"), D("0.57")),  # 0.065 half-up
    ]
    assert (result.untaxed, result.tax, result.total) == (D("-99.50"), D("-12.93"), D("-112.43"))
    # Rounding is symmetric: a credit of 0.50 gets −0.07.
    assert compute([line("-1", "0.50", VAT13)], currency="CNY").tax == D("-0.07")


def test_line_without_tax_and_empty_invoice() -> None:
    result = compute([line("3", "0.333")], currency="USD")
    assert result.lines == (LineResult(D("1.00"), D("0.00"), D("1.00"), ()),)
    assert result.taxes == ()
    assert (str(result.untaxed), str(result.tax), str(result.total)) == ("1.00", "0.00", "1.00")
    empty = compute([], currency="EUR")
    assert (str(empty.untaxed), str(empty.tax), str(empty.total)) == ("0.00", "0.00", "0.00")


def test_allocate_rounded_signed() -> None:
    assert allocate_rounded([D("0.005"), D("-0.005")], currency="CNY") == [D("0.01"), D("-0.01")]
    assert allocate_rounded([D("0.0429")] * 3, currency="CNY") == [D("0.05"), D("0.04"), D("0.04")]
    assert allocate_rounded([D(0), D("0.004")], currency="CNY") == [D("0.00"), D("0.00")]
    assert allocate_rounded([], currency="CNY") == []


def test_rule_of_a_tax_row() -> None:
    tax = Tax(pk=7, rate=D("13.0000"), price_include=True, compound=False, sequence=5)
    assert TaxRule.of(tax) == TaxRule(7, D(13), price_include=True, compound=False, sequence=5)


def test_policy_and_rounding_names_match_the_settings() -> None:
    assert set(POLICIES) == set(FinanceSettings.TaxRounding.values)
    assert set(ROUNDING_MODES) == set(FinanceSettings.RoundingMode.values)


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: line("1", "10", discount="-1"),
        lambda: line("1", "10", discount="100.01"),
        lambda: TaxRule("neg", D(-1)),
        lambda: line("NaN", "10"),
        lambda: line("1", "Infinity"),
        lambda: LineInput(D(1), "abc"),  # type: ignore[arg-type]
        lambda: line("1", "10", VAT13, VAT13),
        lambda: compute([line("1", "10")], currency="CNY", policy="yearly"),
        lambda: compute([line("1", "10")], currency="CNY", rounding="ROUND_CEILING"),
        lambda: compute([line("1", "10")], currency="C1"),
        lambda: compute(
            [line("1", "10", VAT13), line("1", "10", TaxRule("vat13", D(9)))], currency="CNY"
        ),
        lambda: amount_round("1.005", "CNY", "half"),
    ],
)
def test_refused_inputs(make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        make()


def test_floats_are_refused() -> None:
    with pytest.raises(TypeError):
        LineInput(D(1), 9.99)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        TaxRule("vat", 13.0)  # type: ignore[arg-type]


def test_negative_quantities_and_strings_are_accepted() -> None:
    credit = LineInput("-1.5", "10", "5")  # type: ignore[arg-type]
    assert (credit.quantity, credit.unit_price, credit.discount) == (D("-1.5"), D(10), D(5))


# --- properties -------------------------------------------------------------------------------

CURRENCIES = ["JPY", "KRW", "CNY", "USD", "EUR", "KWD", "BHD", "TND"]
POOL = (
    TaxRule("vat0", D(0), sequence=1),
    TaxRule("vat6", D(6), sequence=2),
    TaxRule("vat9", D(9), sequence=3),
    TaxRule("vat13", D(13), sequence=3),
    TaxRule("vat13-incl", D(13), price_include=True, sequence=3),
    TaxRule("vat20-incl", D(20), price_include=True, sequence=4),
    TaxRule("sales7.75", D("7.75"), sequence=5),
    TaxRule("excise5.5-incl-compound", D("5.5"), price_include=True, compound=True, sequence=15),
    TaxRule("eco5.5-compound", D("5.5"), compound=True, sequence=20),
    TaxRule("stamp20-compound", D(20), compound=True, sequence=30),
)
SIMPLE_EXCLUDED = tuple(t for t in POOL if not t.price_include and not t.compound)

quantities = st.one_of(
    st.integers(-50, 500).map(D),
    st.decimals(min_value=-1000, max_value=1000, places=3),
    st.decimals(min_value=-5, max_value=5, places=6),
)
prices = st.one_of(
    st.integers(0, 10_000).map(D),
    st.decimals(min_value=0, max_value=100_000, places=2),
    st.decimals(min_value=-1000, max_value=1000, places=6),
)
discounts = st.one_of(
    st.just(D(0)),
    st.decimals(min_value=0, max_value=100, places=2),
    st.sampled_from([D(100), D("33.3333")]),
)


def lines_of(pool: tuple[TaxRule, ...]) -> st.SearchStrategy[list[LineInput]]:
    taxes = st.lists(st.sampled_from(pool), max_size=3, unique_by=lambda t: t.key).map(tuple)
    one = st.builds(LineInput, quantities, prices, discounts, taxes)
    return st.lists(one, min_size=1, max_size=30)


def quantized(value: Decimal, places: int) -> bool:
    return (
        isinstance(value, Decimal)
        and value.as_tuple().exponent == -places
        and not (value == 0 and value.is_signed())
    )


def check_invariants(
    lines: list[LineInput], result: InvoiceTotals, currency: str, policy: str, rounding: str
) -> None:
    places = minor_units(currency)
    unit = D(1).scaleb(-places)
    rules = {tax.key: tax for row in lines for tax in row.taxes}
    amounts = [result.untaxed, result.tax, result.total]
    assert len(result.lines) == len(lines)

    assert result.total == result.untaxed + result.tax
    assert result.untaxed == sum(r.net for r in result.lines)
    assert result.tax == sum(t.amount for t in result.taxes) == sum(r.tax for r in result.lines)
    assert {t.key for t in result.taxes} == set(rules)

    for given_line, row in zip(lines, result.lines, strict=True):
        amounts += [row.net, row.tax, row.total]
        assert row.total == row.net + row.tax
        assert row.tax == sum(amount for _key, _base, amount in row.taxes)
        assert [key for key, _base, _amount in row.taxes] == [
            t.key for t in sorted(given_line.taxes, key=lambda t: t.sequence)
        ]
        included = sum(a for key, _b, a in row.taxes if rules[key].price_include)
        assert row.net + included == amount_round(given_line.gross, currency, rounding)
        for key, base, amount in row.taxes:
            amounts += [base, amount]
            rule = rules[key]
            if not rule.price_include and not rule.compound:
                assert base == row.net
                exact = row.net * rule.rate / 100
                if policy == PER_LINE:
                    assert amount == amount_round(exact, currency, rounding)
                else:
                    assert abs(amount - exact) < unit

    for total in result.taxes:
        amounts += [total.base, total.amount]
        figures = [(b, a) for r in result.lines for k, b, a in r.taxes if k == total.key]
        assert total.base == sum(b for b, _a in figures)
        assert total.amount == sum(a for _b, a in figures)
        rule = rules[total.key]
        if policy == GLOBAL and not rule.price_include and not rule.compound:
            assert total.amount == amount_round(total.base * rule.rate / 100, currency, rounding)

    assert all(quantized(amount, places) for amount in amounts), amounts


@settings(max_examples=1000, deadline=None)
@given(
    lines=lines_of(POOL),
    currency=st.sampled_from(CURRENCIES),
    policy=st.sampled_from(POLICIES),
    rounding=st.sampled_from(ROUNDING_MODES),
)
def test_invariants(lines: list[LineInput], currency: str, policy: str, rounding: str) -> None:
    result = compute(lines, currency=currency, policy=policy, rounding=rounding)
    check_invariants(lines, result, currency, policy, rounding)


@settings(max_examples=300, deadline=None)
@given(
    lines=lines_of(SIMPLE_EXCLUDED),
    currency=st.sampled_from(CURRENCIES),
    rounding=st.sampled_from(ROUNDING_MODES),
)
def test_per_line_tax_is_the_rounded_net_times_rate(
    lines: list[LineInput], currency: str, rounding: str
) -> None:
    result = compute(lines, currency=currency, policy=PER_LINE, rounding=rounding)
    for given_line, row in zip(lines, result.lines, strict=True):
        assert row.net == amount_round(given_line.gross, currency, rounding)
        expected = {t.key: amount_round(row.net * t.rate / 100, currency, rounding) for t in POOL}
        for key, _base, amount in row.taxes:
            assert amount == expected[key]
        assert row.tax == sum(expected[t.key] for t in given_line.taxes)


@settings(max_examples=300, deadline=None)
@given(
    lines=lines_of(POOL),
    currency=st.sampled_from(CURRENCIES),
    rounding=st.sampled_from(ROUNDING_MODES),
)
def test_per_line_credit_is_the_exact_opposite(
    lines: list[LineInput], currency: str, rounding: str
) -> None:
    """The four rounding modes are symmetric around zero, so negating every quantity negates
    every figure under per-line rounding."""
    result = compute(lines, currency=currency, rounding=rounding)
    credit = compute(
        [LineInput(-x.quantity, x.unit_price, x.discount, x.taxes) for x in lines],
        currency=currency,
        rounding=rounding,
    )
    assert (credit.untaxed, credit.tax, credit.total) == (
        -result.untaxed,
        -result.tax,
        -result.total,
    )
    for row, opposite in zip(result.lines, credit.lines, strict=True):
        assert opposite.taxes == tuple((k, -b, -a) for k, b, a in row.taxes)


@settings(max_examples=500, deadline=None)
@given(
    amounts=st.lists(
        st.decimals(min_value=-10_000, max_value=10_000, places=6), min_size=0, max_size=30
    ),
    currency=st.sampled_from(CURRENCIES),
    rounding=st.sampled_from(ROUNDING_MODES),
)
def test_allocate_rounded(amounts: list[Decimal], currency: str, rounding: str) -> None:
    unit = D(1).scaleb(-minor_units(currency))
    parts = allocate_rounded(amounts, currency=currency, rounding=rounding)
    assert len(parts) == len(amounts)
    assert sum(parts, D(0)) == amount_round(sum(amounts, D(0)), currency, rounding)
    for amount, part in zip(amounts, parts, strict=True):
        assert abs(part - amount) < unit
        if amount == amount.quantize(unit):
            assert part == amount
