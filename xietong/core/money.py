"""Money: a Decimal amount with its ISO 4217 currency.

Arithmetic between two `Money` values of different currencies is refused; rounding to the
currency's minor unit happens only when asked (`rounded()`), at the points the caller defines
(line, document, posting). The rounding mode is a policy, half-up unless said otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext_lazy as _

# ISO 4217 minor units for the currencies the platform ships; others are added as Currency rows.
MINOR_UNITS: dict[str, int] = {
    "CNY": 2,
    "HKD": 2,
    "TWD": 2,
    "MOP": 2,
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "JPY": 0,
    "KRW": 0,
    "SGD": 2,
    "AUD": 2,
    "CAD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "INR": 2,
    "THB": 2,
    "MYR": 2,
    "IDR": 2,
    "VND": 0,
    "PHP": 2,
    "NZD": 2,
    "RUB": 2,
    "BRL": 2,
    "MXN": 2,
    "ZAR": 2,
    "AED": 2,
    "SAR": 2,
    "KWD": 3,
    "BHD": 3,
    "OMR": 3,
    "TND": 3,
    "CLP": 0,
    "ISK": 0,
}


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies were combined."""


def _decimal(value: object) -> Decimal:
    if isinstance(value, float):
        raise TypeError(_("Money amounts must not be floats; pass a Decimal or a string."))
    try:
        result = Decimal(value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValueError(_("“%(value)s” is not a number.") % {"value": value}) from exc
    if not result.is_finite():
        raise ValueError(_("An amount must be a finite number."))
    return result


def minor_units(currency: str) -> int:
    """The number of decimals of `currency` (ISO 4217), 2 when the code is unknown."""
    return MINOR_UNITS.get(currency, 2)


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __init__(self, amount: object, currency: str) -> None:
        if (
            not isinstance(currency, str)
            or len(currency) != 3
            or not (currency.isascii() and currency.isalpha())
        ):
            raise ValueError(_("“%(code)s” is not an ISO 4217 currency code.") % {"code": currency})
        object.__setattr__(self, "amount", _decimal(amount))
        object.__setattr__(self, "currency", currency.upper())

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(_("Only Money can be added to or subtracted from Money."))
        if other.currency != self.currency:
            raise CurrencyMismatch(
                _("Cannot combine %(a)s with %(b)s.") % {"a": self.currency, "b": other.currency}
            )
        return other

    def __add__(self, other: object) -> Money:
        return Money(self.amount + self._check(other).amount, self.currency)

    def __sub__(self, other: object) -> Money:
        return Money(self.amount - self._check(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, Money):
            raise TypeError(_("Money cannot be multiplied by Money."))
        return Money(self.amount * _decimal(factor), self.currency)

    __rmul__ = __mul__

    def __truediv__(self, divisor: object) -> Money:
        if isinstance(divisor, Money):
            raise TypeError(_("Divide Money by a number, not by Money."))
        return Money(self.amount / _decimal(divisor), self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._check(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._check(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._check(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._check(other).amount

    def __bool__(self) -> bool:
        return bool(self.amount)

    def rounded(self, rounding: str = ROUND_HALF_UP) -> Money:
        """This amount quantized to the currency's minor unit with the given rounding mode."""
        exponent = Decimal(1).scaleb(-minor_units(self.currency))
        return Money(self.amount.quantize(exponent, rounding=rounding), self.currency)

    def allocate(self, weights: list[Decimal | int]) -> list[Money]:
        """Split the rounded amount by weights so the parts add up exactly (largest remainder)."""
        if not weights or any(Decimal(w) < 0 for w in weights) or sum(weights) == 0:
            raise ValueError(_("Allocation needs non-negative weights with a positive sum."))
        total = self.rounded().amount
        unit = Decimal(1).scaleb(-minor_units(self.currency))
        cents = int(total / unit)
        weight_sum = sum(Decimal(w) for w in weights)
        exact = [Decimal(cents) * Decimal(w) / weight_sum for w in weights]
        parts = [int(x.to_integral_value(rounding="ROUND_FLOOR")) for x in exact]
        remainder = cents - sum(parts)
        order = sorted(range(len(weights)), key=lambda i: exact[i] - parts[i], reverse=True)
        step = 1 if remainder >= 0 else -1
        for i in order[: abs(remainder)]:
            parts[i] += step
        return [Money(unit * p, self.currency) for p in parts]

    def __str__(self) -> str:
        return f"{self.rounded().amount:,} {self.currency}"
