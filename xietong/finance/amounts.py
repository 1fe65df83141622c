"""Summing ledger amounts exactly on every database.

SQLite keeps decimals as floating-point numbers and sums them as such, and Django gives an
aggregate back with 15 significant digits, so a sum of many amounts can come back as
`-1599.17999999993`. Ledger and document amounts have four decimals at most, so a sum rounded
back to four decimals is the exact one (for totals below about 10¹¹; the reports, which sum
millions of lines, add integers instead: `reports._sum`). Use `AmountSum` wherever a sum of
amounts decides something (a balance to close, a residual, a limit) and `exact` on values
summed elsewhere.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum

FOUR = Decimal("0.0001")


def exact(value: Any) -> Decimal:
    """`value` (a sum of amounts, possibly None) rounded back to the amounts' four decimals."""
    return Decimal(value or 0).quantize(FOUR)


def _exact_converter(value: Any, expression: Any, connection: Any) -> Decimal | None:
    return None if value is None else exact(value)


class AmountSum(Sum):
    """`Sum` of an amount field, exact on SQLite too (see the module)."""

    def get_db_converters(self, connection: Any) -> list[Any]:
        return [*super().get_db_converters(connection), _exact_converter]
