"""Payment terms as a schedule: which amounts fall due when, and what an early payment saves.

A term's lines split an invoice total by percent (the parts always add up to the total, to the
currency's minor unit); each installment is due `days` after the invoice date and, paid within
`discount_days`, may deduct `discount_percent` of its amount.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from xietong.core.money import Money

HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Installment:
    sequence: int
    percent: Decimal
    due_date: dt.date
    amount: Money
    discount_percent: Decimal
    discount_date: dt.date | None  # pay on or before this date to deduct the discount
    discount: Money  # what an early payment deducts (zero without a discount)

    @property
    def amount_if_early(self) -> Money:
        return self.amount - self.discount


def _value(line: Any, name: str, default: Any = None) -> Any:
    if isinstance(line, dict):
        return line.get(name, default)
    return getattr(line, name, default)


def schedule_from_lines(
    lines: Iterable[Any], *, invoice_date: dt.date, total: Money
) -> list[Installment]:
    """The installments of `total` for lines (PaymentTermLine rows or dicts with percent,
    days, discount_percent, discount_days). Raises ValueError for lines without percents."""
    lines = list(lines)
    percents = [Decimal(_value(line, "percent")) for line in lines]
    amounts = total.allocate(percents)
    installments = []
    for number, (line, percent, amount) in enumerate(
        zip(lines, percents, amounts, strict=True), start=1
    ):
        days = int(_value(line, "days", 0) or 0)
        discount_percent = Decimal(_value(line, "discount_percent", 0) or 0)
        discount_days = int(_value(line, "discount_days", 0) or 0)
        has_discount = discount_percent > 0
        discount = (
            (amount * discount_percent / HUNDRED).rounded()
            if has_discount
            else Money.zero(total.currency)
        )
        installments.append(
            Installment(
                sequence=number,
                percent=percent,
                due_date=invoice_date + dt.timedelta(days=days),
                amount=amount,
                discount_percent=discount_percent,
                discount_date=invoice_date + dt.timedelta(days=discount_days)
                if has_discount
                else None,
                discount=discount,
            )
        )
    return installments


def payment_schedule(*, term: Any, invoice_date: dt.date, total: Money) -> list[Installment]:
    """The installments of an invoice of `total` dated `invoice_date` under payment term
    `term` (its lines in sequence order). Without lines, everything is due on the invoice
    date."""
    lines = list(term.lines.all()) if term is not None else []
    if not lines:
        lines = [{"percent": HUNDRED, "days": 0}]
    lines.sort(key=lambda line: _value(line, "sequence", 0) or 0)
    return schedule_from_lines(lines, invoice_date=invoice_date, total=total)


def lines_text(lines: Iterable[Any]) -> str:
    """The lines in words, e.g. "30% at 0 days; 70% at 60 days (2% within 10 days)"."""
    parts = []
    for line in lines:
        text = _("%(percent)s%% at %(days)d days") % {
            "percent": f"{Decimal(_value(line, 'percent')).normalize():f}",
            "days": int(_value(line, "days", 0) or 0),
        }
        discount = Decimal(_value(line, "discount_percent", 0) or 0)
        if discount:
            text += " " + _("(%(discount)s%% within %(days)d days)") % {
                "discount": f"{discount.normalize():f}",
                "days": int(_value(line, "discount_days", 0) or 0),
            }
        parts.append(text)
    return "; ".join(parts)
