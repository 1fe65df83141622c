"""The hash chain of posted entries, per journal.

When an entry is posted it takes the next `chain_index` of its journal and
`hash = SHA-256(previous entry's hash + canonical text of the entry and its lines)`. The text
covers everything that states what was booked (company, journal, number, date, reference,
reversal link, and per line the account, label, amounts, currency, rate, party, product, tax and
due date), with amounts written at fixed precision so the same values always hash the same on
every database. Changing any of them, removing an entry or reordering the chain breaks the chain
from that entry on, which `chain_verify` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

GENESIS = "0" * 64


def _amount(value: Decimal) -> str:
    return f"{Decimal(value):.4f}"


def _rate(value: Decimal) -> str:
    return f"{Decimal(value):.10f}"


def entry_payload(entry: Any, lines: Iterable[Any]) -> str:
    """The canonical text of an entry and its lines (model rows or look-alikes)."""
    data = {
        "company": entry.company_id,
        "journal": entry.journal_id,
        "index": entry.chain_index,
        "number": entry.number,
        "date": entry.date.isoformat(),
        "ref": entry.ref,
        "reversal_of": entry.reversal_of_id,
        "closing": bool(entry.closing),
        "lines": [
            [
                line.sequence,
                line.account_id,
                line.label,
                _amount(line.debit),
                _amount(line.credit),
                line.currency_id,
                _amount(line.amount_currency),
                _rate(line.rate),
                line.party_id,
                line.product_id,
                line.tax_id,
                line.due_date.isoformat() if line.due_date else None,
            ]
            for line in sorted(lines, key=lambda line: (line.sequence, line.pk or 0))
        ],
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def entry_hash(previous_hash: str, payload: str) -> str:
    return hashlib.sha256((previous_hash + payload).encode()).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    journal: str
    entry_id: int
    number: str
    reason: str

    def __str__(self) -> str:
        return f"{self.journal} {self.number} (id {self.entry_id}): {self.reason}"


def chain_verify(*, company: Any, batch: int = 2000) -> Iterator[ChainProblem]:
    """Recompute every posted entry's hash of `company`, journal by journal, and yield each
    entry whose stored hash, link to the previous entry or position in the chain is wrong; and
    each journal and year whose count of posted entries differs from the numbers its gap-free
    sequence handed out (entries removed from the end of a chain leave no broken link)."""
    from xietong.core.models import SequenceCounter
    from xietong.finance.models import Entry, Journal, Line

    for journal in Journal.unscoped.filter(company=company).order_by("code"):
        expected_index = 1
        previous = GENESIS
        entries = (
            Entry.unscoped.filter(journal=journal, state=Entry.State.POSTED)
            .order_by("chain_index")
            .only(
                "id", "company_id", "journal_id", "chain_index", "number", "date", "ref",
                "reversal_of_id", "closing", "previous_hash", "hash",
            )
        )  # fmt: skip
        while True:
            chunk = list(entries.filter(chain_index__gte=expected_index)[:batch])
            if not chunk:
                break
            lines_by_entry: dict[int, list[Line]] = {}
            for line in Line.unscoped.filter(entry_id__in=[e.pk for e in chunk]):
                lines_by_entry.setdefault(line.entry_id, []).append(line)
            for entry in chunk:
                if entry.chain_index != expected_index:
                    yield ChainProblem(
                        journal.code,
                        entry.pk,
                        entry.number,
                        _("entries are missing from the chain before this one"),
                    )
                if entry.previous_hash != previous:
                    yield ChainProblem(
                        journal.code,
                        entry.pk,
                        entry.number,
                        _("the link to the previous entry is broken"),
                    )
                computed = entry_hash(
                    entry.previous_hash, entry_payload(entry, lines_by_entry.get(entry.pk, []))
                )
                if computed != entry.hash:
                    yield ChainProblem(
                        journal.code,
                        entry.pk,
                        entry.number,
                        _("the entry was changed after it was posted"),
                    )
                previous = entry.hash
                expected_index = entry.chain_index + 1
        counters = SequenceCounter.objects.filter(
            sequence__company=company, sequence__code=journal.sequence_code
        ).order_by("year")
        for counter in counters:
            held = Entry.unscoped.filter(
                journal=journal, state=Entry.State.POSTED, date__year=counter.year
            ).count()
            if held != counter.last_number:
                yield ChainProblem(
                    journal.code,
                    0,
                    str(counter.year),
                    _("%(numbered)s entries were numbered in this year but %(held)s are posted")
                    % {"numbered": counter.last_number, "held": held},
                )
