"""The tax engine: invoice lines, taxes and totals under a company's rounding policies.

Pure computation: the functions take plain values (`LineInput`, `TaxRule`, a currency code, the
policy and the rounding mode of `FinanceSettings`) and return plain values; nothing here reads or
writes the database. Every figure is a `Decimal`, computed with 60 significant digits and rounded
to the currency's minor unit (`minor_units`) with the company's rounding mode, only at the points
described below. Floats are refused.

A line
------
``gross = quantity × unit_price × (1 − discount/100)``. Its taxes apply in ``sequence`` order
(ties keep the order given). A tax's base is the line's net, or, for a *compound* tax, the net plus
the amounts of the line's taxes before it; its amount is ``base × rate/100``.

*Excluded* taxes come on top of the price: ``net = round(gross)``. *Included* taxes
(``price_include``) are inside the price: every tax amount is linear in the net,
``amount_i = c_i × net`` with ``c_i = r_i`` for a simple tax and ``c_i = r_i × (1 + Σ_{j<i} c_j)``
for a compound one (``r = rate/100``), so the exact net is ``gross / (1 + Σ_included c_i)``. This
divisor is right for compound included taxes and for lines mixing included and excluded taxes.
The included amounts are rounded and the net takes the rounding difference:
``net = round(gross) − Σ rounded included amounts``, so ``net + included taxes == round(gross)``
exactly on every line, under both policies. Excluded taxes are then computed on that net.
(An artefact shared with Odoo: on a price of a few minor units carrying several included taxes,
the rounded taxes can exceed the rounded gross and leave a net of the opposite sign.)

The two rounding policies (Odoo's ``round_per_line`` and ``round_globally``)
-------------------------------------------------------------------------------
``per_line``
    Each tax amount of each line is rounded on the line; the invoice amount of a tax is the sum
    of its rounded line amounts. A compound tax's base uses the rounded amounts before it.

``global``
    Line amounts are kept unrounded (a compound tax's base uses the unrounded amounts before
    it); the invoice amount of a tax is rounded once, from the sum of its unrounded line
    amounts. That rounded figure is then shared back out to the lines by largest remainder over
    the unrounded amounts (`allocate_rounded`: each line gets its amount rounded down or up,
    never a full minor unit from the exact amount, and the parts add up exactly; negative and
    zero amounts are handled), so the lines still add up to the invoice.
    For a simple excluded tax this gives ``invoice tax == round(rate × Σ nets of its lines)``.

    Included taxes under ``global``: the invoice amount of each included tax is rounded once and
    allocated to the lines first; each line's net is then ``round(gross) − its allocated included
    amounts``. So ``net + included taxes == round(gross)`` still holds exactly *on every line*
    (the net absorbs both the rounding and the allocation), and the invoice total of lines with
    only included taxes is the sum of their rounded gross prices. Excluded taxes on such lines
    are computed on that net.

Worked example: three lines of 0.33 CNY with 13 % VAT (excluded). Each line's exact tax is
0.0429.

* ``per_line``: round(0.0429) = 0.04 per line; invoice VAT 0.04 × 3 = **0.12**.
* ``global``: invoice VAT round(0.0429 × 3) = round(0.1287) = **0.13**, reported on the lines
  as 0.05, 0.04, 0.04 (largest remainder; equal remainders go to the first line).

Either way, these always hold: ``total == untaxed + tax``; ``untaxed == Σ line.net``;
``tax == Σ TaxTotal.amount == Σ line.tax``; ``line.total == line.net + line.tax``; a tax's
``TaxTotal`` is the sum of its line figures; every amount is quantized to the minor unit.

Build a `TaxRule` from a `Tax` row with `TaxRule.of(tax)`; the policy and rounding strings are
the values of `FinanceSettings.TaxRounding` and `FinanceSettings.RoundingMode`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import (
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    InvalidOperation,
    localcontext,
)
from typing import Any

from django.utils.translation import gettext as _

from xietong.core.money import minor_units

__all__ = [
    "GLOBAL",
    "PER_LINE",
    "POLICIES",
    "ROUNDING_MODES",
    "InvoiceTotals",
    "LineInput",
    "LineResult",
    "TaxRule",
    "TaxTotal",
    "allocate_rounded",
    "amount_round",
    "compute",
]

PER_LINE = "per_line"
GLOBAL = "global"
POLICIES: tuple[str, ...] = (PER_LINE, GLOBAL)
ROUNDING_MODES: tuple[str, ...] = (ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_UP, ROUND_DOWN)

_PRECISION = 60  # significant digits of the intermediate figures
_HUNDRED = Decimal(100)
_ONE = Decimal(1)


# --- validation helpers ---------------------------------------------------------------------


def _number(value: object, label: str) -> Decimal:
    """`value` as a finite Decimal; floats and non-numbers are refused."""
    if isinstance(value, float):
        raise TypeError(
            _("%(field)s must not be a float; pass a Decimal or a string.") % {"field": label}
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(_("%(field)s must be a number.") % {"field": label})
    try:
        result = Decimal(value)
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(
            _("%(field)s: “%(value)s” is not a number.") % {"field": label, "value": value}
        ) from exc
    if not result.is_finite():
        raise ValueError(_("%(field)s must be a finite number.") % {"field": label})
    return result


def _currency(currency: object) -> str:
    if (
        not isinstance(currency, str)
        or len(currency) != 3
        or not (currency.isascii() and currency.isalpha())
    ):
        raise ValueError(_("“%(code)s” is not an ISO 4217 currency code.") % {"code": currency})
    return currency.upper()


def _rounding(rounding: object) -> str:
    if rounding not in ROUNDING_MODES:
        raise ValueError(
            _("Unknown rounding mode “%(mode)s”; use one of %(modes)s.")
            % {"mode": rounding, "modes": ", ".join(ROUNDING_MODES)}
        )
    return rounding  # type: ignore[return-value]


def _unit(currency: str) -> Decimal:
    return _ONE.scaleb(-minor_units(currency))


def _quantize(value: Decimal, unit: Decimal, rounding: str) -> Decimal:
    """`value` rounded to `unit`; a zero result is always the positive zero."""
    result = value.quantize(unit, rounding=rounding)
    return result if result else abs(result)


# --- public value types -----------------------------------------------------------------------


@dataclass(frozen=True)
class TaxRule:
    """What the engine needs of a `Tax`: its key (returned in the results), rate and behaviour.

    `rate` is a percentage (``Decimal("13")``), never negative. `price_include`: the price
    already contains the tax. `compound`: the tax is computed on the net plus the amounts of the
    line's taxes before it (by `sequence`).
    """

    key: Hashable
    rate: Decimal
    price_include: bool = False
    compound: bool = False
    sequence: int = 10

    def __post_init__(self) -> None:
        hash(self.key)  # a TypeError for an unhashable key, here rather than mid-computation
        rate = _number(self.rate, _("Tax rate"))
        if rate < 0:
            raise ValueError(_("A tax rate cannot be negative (%(rate)s %%).") % {"rate": rate})
        if isinstance(self.sequence, bool) or not isinstance(self.sequence, int):
            raise ValueError(_("A tax sequence must be a whole number."))
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "price_include", bool(self.price_include))
        object.__setattr__(self, "compound", bool(self.compound))

    @classmethod
    def of(cls, tax: Any) -> TaxRule:
        """The rule of a `finance.Tax` (or anything with the same attributes); `key` is its pk."""
        return cls(
            key=tax.pk,
            rate=tax.rate,
            price_include=tax.price_include,
            compound=tax.compound,
            sequence=tax.sequence,
        )


@dataclass(frozen=True)
class LineInput:
    """One invoice line to compute. A negative quantity makes a credit line; `discount` is a
    percentage from 0 to 100; a tax appears at most once per line."""

    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = Decimal(0)
    taxes: tuple[TaxRule, ...] = ()

    def __post_init__(self) -> None:
        quantity = _number(self.quantity, _("Quantity"))
        unit_price = _number(self.unit_price, _("Unit price"))
        discount = _number(self.discount, _("Discount"))
        if not 0 <= discount <= 100:
            raise ValueError(
                _("A discount must be between 0 and 100 %% (got %(discount)s).")
                % {"discount": discount}
            )
        taxes = tuple(self.taxes)
        if not all(isinstance(tax, TaxRule) for tax in taxes):
            raise TypeError(_("The taxes of a line must be TaxRule values."))
        keys = [tax.key for tax in taxes]
        if len(set(keys)) != len(keys):
            raise ValueError(_("A line cannot carry the same tax twice."))
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(self, "unit_price", unit_price)
        object.__setattr__(self, "discount", discount)
        object.__setattr__(self, "taxes", taxes)

    @property
    def gross(self) -> Decimal:
        """quantity × unit price × (1 − discount/100), unrounded."""
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            return self.quantity * self.unit_price * (_ONE - self.discount / _HUNDRED)


@dataclass(frozen=True)
class LineResult:
    """A computed line: `net` (untaxed), `tax` (the sum of its tax amounts), `total` (net +
    tax), and `taxes` as ``(tax key, base, amount)`` in sequence order. All rounded."""

    net: Decimal
    tax: Decimal
    total: Decimal
    taxes: tuple[tuple[Hashable, Decimal, Decimal], ...]


@dataclass(frozen=True)
class TaxTotal:
    """One tax summed over the invoice (an `InvoiceTax` row): the sum of its line bases and its
    amount."""

    key: Hashable
    base: Decimal
    amount: Decimal


@dataclass(frozen=True)
class InvoiceTotals:
    """The computed invoice: its lines (in the order given), its taxes (by sequence, then first
    appearance) and its totals."""

    lines: tuple[LineResult, ...]
    taxes: tuple[TaxTotal, ...]
    untaxed: Decimal
    tax: Decimal
    total: Decimal


# --- rounding helpers -------------------------------------------------------------------------


def amount_round(amount: object, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """`amount` rounded to the minor unit of `currency` (``1.005 CNY`` → ``1.01`` half-up)."""
    value = _number(amount, _("Amount"))
    unit = _unit(_currency(currency))
    mode = _rounding(rounding)
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _quantize(value, unit, mode)


def _allocate(values: Sequence[Decimal], unit: Decimal, rounding: str) -> list[Decimal]:
    """Round Σ values once, then split that figure over the values by largest remainder.

    Each part is its value rounded down or up to the unit (so within one unit of it; a value
    that is already a multiple of the unit is kept as is) and the parts add up exactly to the
    rounded sum. Signs are free: negative, positive and zero values may be mixed.
    """
    if not values:
        return []
    scaled = [value / unit for value in values]  # exact: unit is a power of ten
    floors = [s.to_integral_value(rounding=ROUND_FLOOR) for s in scaled]
    target = sum(scaled, Decimal(0)).to_integral_value(rounding=rounding)
    extra = int(target - sum(floors, Decimal(0)))
    # floor(Σ) ≤ round(Σ) ≤ ceil(Σ) and Σ floors ≤ Σ < Σ floors + n, so 0 ≤ extra ≤ n; and only
    # values with a positive remainder can receive one.
    assert 0 <= extra <= len(values), "largest remainder out of range"
    order = sorted(range(len(values)), key=lambda i: (-(scaled[i] - floors[i]), i))
    for i in order[:extra]:
        floors[i] += 1
    return [_quantize(f * unit, unit, rounding) for f in floors]


def allocate_rounded(
    amounts: Iterable[object], *, currency: str, rounding: str = ROUND_HALF_UP
) -> list[Decimal]:
    """Round the sum of unrounded `amounts` once and share it back out by largest remainder.

    The parts add up exactly to ``amount_round(sum(amounts))``; each part is its amount rounded
    down or up to the minor unit, so never a full unit away from it. Unlike `Money.allocate` the
    amounts may be negative or add up to zero (``[0.005, -0.005]`` → ``[0.01, -0.01]`` half-up).
    """
    mode = _rounding(rounding)
    unit = _unit(_currency(currency))
    values = [_number(amount, _("Amount")) for amount in amounts]
    with localcontext() as ctx:
        ctx.prec = _PRECISION
        return _allocate(values, unit, mode)


# --- the engine -------------------------------------------------------------------------------


@dataclass
class _Line:
    """Working figures of one line: its taxes in order, exact gross and exact tax amounts."""

    taxes: tuple[TaxRule, ...]
    gross: Decimal  # exact
    gross_rounded: Decimal
    exact: list[Decimal]  # unrounded amounts (excluded ones redone on the rounded net, global)
    amounts: list[Decimal]  # rounded line amounts, in the order of `taxes`
    net: Decimal = Decimal(0)


def _prepare(line: LineInput, unit: Decimal, rounding: str) -> _Line:
    taxes = tuple(sorted(line.taxes, key=lambda tax: tax.sequence))  # stable on ties
    gross = line.gross
    # amount_i = c_i × net; included taxes are inside the gross: gross = net × (1 + Σ incl c_i).
    coefficients: list[Decimal] = []
    for tax in taxes:
        rate = tax.rate / _HUNDRED
        coefficients.append(rate * (_ONE + sum(coefficients, Decimal(0))) if tax.compound else rate)
    divisor = _ONE + sum(
        (c for c, tax in zip(coefficients, taxes, strict=True) if tax.price_include), Decimal(0)
    )
    exact_net = gross / divisor
    return _Line(
        taxes=taxes,
        gross=gross,
        gross_rounded=_quantize(gross, unit, rounding),
        exact=[c * exact_net for c in coefficients],
        amounts=[Decimal(0)] * len(taxes),
    )


def _excluded_amount(work: _Line, i: int, previous: Sequence[Decimal]) -> Decimal:
    """The unrounded amount of excluded tax `i`, on the line's net (plus `previous` amounts of
    the taxes before it when compound)."""
    tax = work.taxes[i]
    base = work.net + sum(previous[:i], Decimal(0)) if tax.compound else work.net
    return base * tax.rate / _HUNDRED


def _set_net(work: _Line) -> None:
    """The net takes the rounding: the rounded gross less the line's rounded included taxes."""
    included = (a for a, tax in zip(work.amounts, work.taxes, strict=True) if tax.price_include)
    work.net = work.gross_rounded - sum(included, Decimal(0))


def _per_line(works: Sequence[_Line], unit: Decimal, rounding: str) -> None:
    for work in works:
        for i, tax in enumerate(work.taxes):
            if tax.price_include:
                work.amounts[i] = _quantize(work.exact[i], unit, rounding)
        _set_net(work)
        for i, tax in enumerate(work.taxes):
            if not tax.price_include:
                work.amounts[i] = _quantize(_excluded_amount(work, i, work.amounts), unit, rounding)


def _allocate_by_tax(works: Sequence[_Line], included: bool, unit: Decimal, rounding: str) -> None:
    """Global rounding of the included (or excluded) taxes: per tax, round the sum of the exact
    line amounts once and allocate it back to the lines."""
    slots: dict[Hashable, list[tuple[_Line, int]]] = {}
    for work in works:
        for i, tax in enumerate(work.taxes):
            if tax.price_include == included:
                slots.setdefault(tax.key, []).append((work, i))
    for places in slots.values():
        parts = _allocate([work.exact[i] for work, i in places], unit, rounding)
        for (work, i), part in zip(places, parts, strict=True):
            work.amounts[i] = part


def _global(works: Sequence[_Line], unit: Decimal, rounding: str) -> None:
    _allocate_by_tax(works, True, unit, rounding)
    for work in works:
        _set_net(work)
        for i, tax in enumerate(work.taxes):
            if not tax.price_include:
                work.exact[i] = _excluded_amount(work, i, work.exact)
    _allocate_by_tax(works, False, unit, rounding)


def _check_rules(lines: Sequence[LineInput]) -> dict[Hashable, TaxRule]:
    """One rule per tax key across the lines (by first appearance); a key given with different
    settings on different lines is refused."""
    rules: dict[Hashable, TaxRule] = {}
    for line in lines:
        if not isinstance(line, LineInput):
            raise TypeError(_("Invoice lines must be LineInput values."))
        for tax in line.taxes:
            known = rules.setdefault(tax.key, tax)
            if known != tax:
                raise ValueError(
                    _("Tax %(key)s is given with different settings on different lines.")
                    % {"key": tax.key}
                )
    return rules


def compute(
    lines: Sequence[LineInput],
    *,
    currency: str,
    policy: str = PER_LINE,
    rounding: str = ROUND_HALF_UP,
) -> InvoiceTotals:
    """Compute the lines, taxes and totals of an invoice in `currency`.

    `policy` is ``"per_line"`` or ``"global"`` (`FinanceSettings.tax_rounding`); `rounding` one
    of `ROUNDING_MODES` (`FinanceSettings.rounding_mode`). See the module docstring for the
    rules. Raises `ValueError` for an unknown policy, rounding mode or currency code, for a tax
    given with different settings on different lines, and for amounts too large to compute.
    """
    code = _currency(currency)
    if policy not in POLICIES:
        raise ValueError(
            _("Unknown tax rounding policy “%(policy)s”; use one of %(policies)s.")
            % {"policy": policy, "policies": ", ".join(POLICIES)}
        )
    mode = _rounding(rounding)
    lines = tuple(lines)
    rules = _check_rules(lines)
    unit = _unit(code)
    zero = _quantize(Decimal(0), unit, mode)

    try:
        with localcontext() as ctx:
            ctx.prec = _PRECISION
            works = [_prepare(line, unit, mode) for line in lines]
            (_per_line if policy == PER_LINE else _global)(works, unit, mode)

            results: list[LineResult] = []
            bases: dict[Hashable, Decimal] = dict.fromkeys(rules, zero)
            amounts: dict[Hashable, Decimal] = dict.fromkeys(rules, zero)
            for work in works:
                entries = []
                for i, tax in enumerate(work.taxes):
                    base = work.net + sum(work.amounts[:i], zero) if tax.compound else work.net
                    entries.append((tax.key, base, work.amounts[i]))
                    bases[tax.key] += base
                    amounts[tax.key] += work.amounts[i]
                line_tax = sum(work.amounts, zero)
                results.append(
                    LineResult(
                        net=work.net,
                        tax=line_tax,
                        total=work.net + line_tax,
                        taxes=tuple(entries),
                    )
                )
            order = sorted(enumerate(rules.values()), key=lambda item: (item[1].sequence, item[0]))
            totals = tuple(
                TaxTotal(key=rule.key, base=bases[rule.key], amount=amounts[rule.key])
                for _index, rule in order
            )
            untaxed = sum((line.net for line in results), zero)
            tax = sum((total.amount for total in totals), zero)
            total = untaxed + tax
    except InvalidOperation as exc:
        raise ValueError(_("The amounts are too large to compute.")) from exc
    return InvoiceTotals(lines=tuple(results), taxes=totals, untaxed=untaxed, tax=tax, total=total)
