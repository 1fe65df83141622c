"""Ledger invariants as assertion helpers, shared by the finance tests and other apps' tests
(inventory, sales, purchasing post through the ledger too)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Sum

from xietong.finance.chain import chain_verify
from xietong.finance.models import Entry, Line

FOUR = Decimal("0.0001")


def unbalanced_entries() -> list[int]:
    """Posted entries whose debits differ from their credits (expected: none)."""
    rows = (
        Line.unscoped.filter(entry__state=Entry.State.POSTED)
        .values("entry_id")
        .annotate(d=Sum("debit"), c=Sum("credit"))
        .values_list("entry_id", "d", "c")
    )
    # compared after rounding: SQLite sums its decimals as floats
    return [entry for entry, d, c in rows if _exact(d) != _exact(c)]


def _exact(value: Decimal | None) -> Decimal:
    return Decimal(value or 0).quantize(FOUR)


def trial_balance_residue() -> dict[tuple[int, str], Decimal]:
    """Σ debit − Σ credit of posted lines per company × company currency, and Σ amount in
    transaction currency per company × currency over single-currency entries; all zero when
    the ledger balances."""
    residue: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    for row in (
        Line.unscoped.filter(entry__state=Entry.State.POSTED)
        .values("company_id", "company__base_currency_id")
        .annotate(d=Sum("debit"), c=Sum("credit"))
    ):
        residue[(row["company_id"], row["company__base_currency_id"])] += row["d"] - row["c"]
    mixed = (
        Line.unscoped.values("entry_id")
        .annotate(n=Count("currency_id", distinct=True))
        .filter(n__gt=1)
        .values("entry_id")
    )
    for row in (
        Line.unscoped.filter(entry__state=Entry.State.POSTED)
        .exclude(entry_id__in=mixed)
        .values("company_id", "currency_id")
        .annotate(total=Sum("amount_currency"))
    ):
        residue[(row["company_id"], f"in {row['currency_id']}")] += row["total"]
    return {key: _exact(value) for key, value in residue.items() if _exact(value)}


def posted_snapshot() -> dict[int, tuple]:  # type: ignore[type-arg]
    """Everything booked on posted lines, by line id, to compare before and after."""
    return {
        row[0]: row[1:]
        for row in Line.unscoped.filter(entry__state=Entry.State.POSTED).values_list(
            "id", "entry_id", "account_id", "debit", "credit", "currency_id", "amount_currency",
            "rate", "party_id", "label", "date",
        )
    }  # fmt: skip


def assert_ledger_sound(companies=()) -> None:  # type: ignore[no-untyped-def]
    """Every posted entry balances, the trial balance is zero per company and currency, and
    the hash chains of `companies` verify."""
    assert unbalanced_entries() == []
    assert trial_balance_residue() == {}
    for company in companies:
        assert list(chain_verify(company=company)) == []
