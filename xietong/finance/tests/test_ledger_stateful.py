"""Model-based test of the ledger: random sequences of postings, refused postings, reversals,
payments matched against invoices and period closes, in two companies with different
currencies. After every step the trial balance is zero per company and currency, every
account's balance equals a plain in-memory model, no posted line has changed and the hash
chains verify."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from xietong.core.tenancy import company_scope
from xietong.finance.chain import chain_verify
from xietong.finance.models import Entry, Line, Period
from xietong.finance.periods import period_close, period_for
from xietong.finance.posting import EntrySpec, LineSpec, PostingError, entry_post, entry_reverse
from xietong.finance.reconcile import lines_match, residuals
from xietong.finance.tests.factories import books
from xietong.finance.tests.invariants import (
    posted_snapshot,
    trial_balance_residue,
    unbalanced_entries,
)
from xietong.party.services import party_create

ZERO = Decimal(0)
MONTHS = list(range(1, 7))  # postings go to January–June 2026; reversals are dated in July
REVERSAL_DATE = dt.date(2026, 7, 15)

amounts = st.integers(min_value=1, max_value=10_000_00).map(lambda cents: Decimal(cents) / 100)


class LedgerMachine(RuleBasedStateMachine):
    entries = Bundle("entries")
    invoices = Bundle("invoices")

    def __init__(self, world) -> None:  # type: ignore[no-untyped-def]
        super().__init__()
        self.world = world
        self.savepoint = transaction.savepoint()
        self.balances: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
        self.closed: dict[int, set[int]] = defaultdict(set)  # company -> closed months
        self.snapshot = posted_snapshot()

    def teardown(self) -> None:
        transaction.savepoint_rollback(self.savepoint)

    # -- helpers ------------------------------------------------------------------------------

    def _book(self, entry: Entry) -> None:
        for line in Line.unscoped.filter(entry=entry):
            self.balances[(entry.company_id, line.account_id)] += line.debit - line.credit

    def _accounts(self, b):  # type: ignore[no-untyped-def]
        return [b.bank, b.cash, b.stock, b.capital, b.income, b.expense, b.cogs, b.vat_out]

    def _open_month(self, company_id: int, month: int) -> bool:
        return month not in self.closed[company_id]

    # -- rules --------------------------------------------------------------------------------

    @rule(
        target=entries,
        which=st.sampled_from(["a", "b"]),
        month=st.sampled_from(MONTHS),
        picks=st.lists(
            st.tuples(st.integers(0, 7), st.integers(0, 7), amounts), min_size=1, max_size=4
        ),
    )
    def post(self, which, month, picks):  # type: ignore[no-untyped-def]
        b = self.world[which]
        accounts = self._accounts(b)
        lines = []
        for debit_index, credit_index, amount in picks:
            lines.append(LineSpec(account=accounts[debit_index], debit=amount))
            lines.append(LineSpec(account=accounts[credit_index], credit=amount))
        spec = EntrySpec(journal=b.general, date=dt.date(2026, month, 10), lines=lines)
        if not self._open_month(b.company.pk, month):
            with pytest.raises(PostingError) as info:
                entry_post(company=b.company, spec=spec)
            assert info.value.code == "closed_period"
            return None
        entry = entry_post(company=b.company, spec=spec)
        self._book(entry)
        return entry

    @rule(which=st.sampled_from(["a", "b"]), amount=amounts, skew=amounts)
    def unbalanced_is_refused(self, which, amount, skew):  # type: ignore[no-untyped-def]
        b = self.world[which]
        count = Entry.unscoped.count()
        with pytest.raises(PostingError) as info:
            entry_post(
                company=b.company,
                spec=EntrySpec(
                    journal=b.general,
                    date=dt.date(2026, 6, 1),
                    lines=[
                        LineSpec(account=b.bank, debit=amount),
                        LineSpec(account=b.capital, credit=amount + skew),
                    ],
                ),
            )
        assert info.value.code in {"unbalanced", "closed_period"}
        assert Entry.unscoped.count() == count

    @rule(entry=consumes(entries))
    def reverse(self, entry):  # type: ignore[no-untyped-def]
        if entry is None:
            return
        reversal = entry_reverse(entry=entry, date=REVERSAL_DATE)
        self._book(reversal)

    @rule(
        target=invoices,
        which=st.sampled_from(["a", "b"]),
        month=st.sampled_from(MONTHS),
        amount=amounts,
    )
    def invoice(self, which, month, amount):  # type: ignore[no-untyped-def]
        b = self.world[which]
        if not self._open_month(b.company.pk, month):
            return None
        entry = entry_post(
            company=b.company,
            spec=EntrySpec(
                journal=b.sales,
                date=dt.date(2026, month, 5),
                lines=[
                    LineSpec(account=b.receivable, debit=amount, party=b.customer),
                    LineSpec(account=b.income, credit=amount),
                ],
            ),
        )
        self._book(entry)
        return entry

    @rule(invoice=invoices, fraction=st.sampled_from([Decimal("0.3"), Decimal("0.5"), Decimal(1)]))
    def pay(self, invoice, fraction):  # type: ignore[no-untyped-def]
        if invoice is None:
            return
        b = self.world["a" if invoice.company_id == self.world["a"].company.pk else "b"]
        receivable = Line.unscoped.get(entry=invoice, account=b.receivable)
        residual = residuals([receivable.pk])[receivable.pk].amount
        if residual <= 0:
            return
        amount = max((residual * fraction).quantize(Decimal("0.01")), Decimal("0.01"))
        payment = entry_post(
            company=b.company,
            spec=EntrySpec(
                journal=b.bank_journal,
                date=REVERSAL_DATE,
                lines=[
                    LineSpec(account=b.bank, debit=amount),
                    LineSpec(account=b.receivable, credit=amount, party=b.customer),
                ],
            ),
        )
        self._book(payment)
        paid = Line.unscoped.get(entry=payment, account=b.receivable)
        lines_match(lines=[receivable, paid])
        after = residuals([receivable.pk, paid.pk])
        assert after[receivable.pk].amount == residual - amount
        assert after[paid.pk].amount == 0

    @rule(which=st.sampled_from(["a", "b"]), month=st.sampled_from(MONTHS[:4]))
    def close_period(self, which, month):  # type: ignore[no-untyped-def]
        b = self.world[which]
        period = period_for(company=b.company, date=dt.date(2026, month, 1))
        period_close(period=period)
        assert Period.unscoped.get(pk=period.pk).state == Period.State.CLOSED
        self.closed[b.company.pk].add(month)

    # -- invariants ---------------------------------------------------------------------------

    @invariant()
    def ledger_balances_and_matches_the_model(self) -> None:
        assert unbalanced_entries() == []
        assert trial_balance_residue() == {}
        actual: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
        for line in Line.unscoped.filter(entry__state=Entry.State.POSTED).only(
            "company_id", "account_id", "debit", "credit"
        ):
            actual[(line.company_id, line.account_id)] += line.debit - line.credit
        assert {k: v for k, v in actual.items() if v} == {
            k: v for k, v in self.balances.items() if v
        }

    @invariant()
    def posted_lines_never_change(self) -> None:
        now = posted_snapshot()
        for line_id, values in self.snapshot.items():
            assert now[line_id] == values
        self.snapshot = now

    @invariant()
    def chains_verify(self) -> None:
        for b in self.world.values():
            assert list(chain_verify(company=b.company)) == []


@pytest.mark.django_db
def test_ledger_state_machine(company_a, company_b):  # type: ignore[no-untyped-def]
    world = {}
    for key, company in (("a", company_a), ("b", company_b)):
        b = books(company)
        with company_scope(company):
            b.customer = party_create(
                company=company, actor=None, name=f"Customer {key}", is_customer=True
            )
        world[key] = b
    run_state_machine_as_test(
        lambda: LedgerMachine(world),
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
