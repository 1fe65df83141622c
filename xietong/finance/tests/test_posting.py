"""The posting service, the database guards of posted entries and the hash chain."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import DatabaseError, connection, transaction

from xietong.core.models import ExchangeRate
from xietong.finance.chain import chain_verify
from xietong.finance.models import Entry, Line, Period
from xietong.finance.periods import period_close, period_for
from xietong.finance.posting import (
    EntrySpec,
    LineSpec,
    PostingError,
    entry_create,
    entry_draft_post,
    entry_reverse,
)
from xietong.finance.tests.factories import D, books, post


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return books(company_a)


def _counts():  # type: ignore[no-untyped-def]
    return Entry.unscoped.count(), Line.unscoped.count()


def test_post_balanced_entry_numbers_and_chains(b, admin_a):  # type: ignore[no-untyped-def]
    first = post(b, (b.bank, "100.00", 0), (b.capital, 0, "100.00"), actor=admin_a)
    second = post(b, (b.expense, "30.00", 0), (b.bank, 0, "30.00"))
    assert first.state == Entry.State.POSTED
    assert (first.number, second.number) == ("GEN/2026/000001", "GEN/2026/000002")
    assert (first.chain_index, second.chain_index) == (1, 2)
    assert second.previous_hash == first.hash
    assert first.period.name == "2026-03"
    assert first.posted_by == admin_a
    assert list(chain_verify(company=b.company)) == []


@pytest.mark.parametrize(
    ("lines", "code"),
    [
        ([("bank", "100", 0), ("capital", 0, "90")], "unbalanced"),
        ([("bank", "100", 0)], "too_few_lines"),
        ([("bank", "100", 0), ("capital", 0, "100"), ("expense", 0, 0)], "zero_line"),
        ([("bank", "-100", 0), ("capital", 0, "-100")], "negative_amount"),
        ([("bank", "100", "100"), ("capital", 0, 0)], "both_sides"),
        ([("bank", "100.001", 0), ("capital", 0, "100.001")], "precision"),
    ],
)
def test_refused_blueprints_write_nothing(b, lines, code):  # type: ignore[no-untyped-def]
    before = _counts()
    with pytest.raises(PostingError) as info:
        post(b, *[(getattr(b, name), debit, credit) for name, debit, credit in lines])
    assert info.value.code == code
    assert _counts() == before


def test_account_of_another_company_is_refused(b, company_b):  # type: ignore[no-untyped-def]
    other = books(company_b)
    with pytest.raises(PostingError) as info:
        post(b, (b.bank, "10", 0), (other.capital, 0, "10"))
    assert info.value.code == "foreign_record"
    assert "another company" in info.value.messages[0]


def test_currency_mismatch_and_group_accounts_are_refused(b):  # type: ignore[no-untyped-def]
    with pytest.raises(PostingError) as info:
        post(b, (b.bank_usd, "10", 0), (b.capital, 0, "10"))  # a USD account, a CNY line
    assert info.value.code == "currency_mismatch"
    b.capital.is_group = True
    b.capital.save()
    with pytest.raises(PostingError) as info:
        post(b, (b.bank, "10", 0), (b.capital, 0, "10"))
    assert info.value.code == "group_account"


def test_foreign_currency_lines_are_converted_and_rounding_absorbed(b):  # type: ignore[no-untyped-def]
    ExchangeRate.unscoped.create(
        company=b.company, currency_id="USD", date=dt.date(2026, 3, 1), rate=D("7.1234")
    )
    usd = {"currency": "USD"}
    entry = post(
        b,
        (b.receivable, "10.01", 0, usd),
        (b.income, 0, "3.33", usd),
        (b.income, 0, "3.33", usd),
        (b.income, 0, "3.35", usd),
    )
    lines = list(entry.lines.all())
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines)
    # 10.01 × 7.1234 = 71.31 but the credits convert to 23.72 + 23.72 + 23.86 = 71.30: the
    # rounding difference goes to the largest line.
    assert lines[0].debit == D("71.30")
    assert {line.rate for line in lines} == {D("7.1234")}
    assert sum(line.amount_currency for line in lines) == 0


def test_missing_rate_is_a_clear_error(b):  # type: ignore[no-untyped-def]
    with pytest.raises(PostingError) as info:
        post(
            b,
            (b.receivable, "10", 0, {"currency": "EUR"}),
            (b.income, 0, "10", {"currency": "EUR"}),
        )
    assert info.value.code == "no_rate"
    assert "EUR" in info.value.messages[0]


def test_closed_period_refuses_posting_and_reversal_goes_to_an_open_date(b):  # type: ignore[no-untyped-def]
    entry = post(b, (b.bank, "50", 0), (b.capital, 0, "50"), date=dt.date(2026, 1, 15))
    period_close(period=period_for(company=b.company, date=dt.date(2026, 1, 1)))
    before = _counts()
    with pytest.raises(PostingError) as info:
        post(b, (b.bank, "5", 0), (b.capital, 0, "5"), date=dt.date(2026, 1, 31))
    assert info.value.code == "closed_period"
    assert _counts() == before
    reversal = entry_reverse(entry=entry, date=dt.date(2026, 2, 1))
    assert reversal.reversal_of == entry
    assert [(line.debit, line.credit) for line in reversal.lines.all()] == [
        (0, D("50")),
        (D("50"), 0),
    ]
    with pytest.raises(PostingError):
        entry_reverse(entry=entry, date=dt.date(2026, 2, 1))


def test_draft_entries_can_change_until_posted(b):  # type: ignore[no-untyped-def]
    spec = EntrySpec(
        journal=b.general,
        date=dt.date(2026, 3, 1),
        lines=[LineSpec(account=b.bank, debit=D(1)), LineSpec(account=b.capital, credit=D(1))],
    )
    draft = entry_create(company=b.company, spec=spec)
    line = draft.lines.first()
    line.label = "corrected"
    line.save()
    entry_draft_post(entry=draft)
    with pytest.raises(PostingError):
        entry_draft_post(entry=draft)


# -- the database guards ---------------------------------------------------------------------


def _refused(callable_):  # type: ignore[no-untyped-def]
    with pytest.raises(DatabaseError) as info, transaction.atomic():
        callable_()
    assert "finance:" in str(info.value)


def test_posted_entries_refuse_every_write_route(b):  # type: ignore[no-untyped-def]
    entry = post(b, (b.bank, "100", 0), (b.capital, 0, "100"))
    line = entry.lines.first()
    line.debit = D("999")
    _refused(line.save)
    _refused(lambda: Line.unscoped.filter(entry=entry).update(label="x"))
    _refused(lambda: Line.unscoped.bulk_update([line], ["debit"]))
    _refused(lambda: Line.unscoped.filter(entry=entry).delete())
    _refused(lambda: Entry.unscoped.filter(pk=entry.pk).update(ref="changed"))
    _refused(lambda: Entry.unscoped.filter(pk=entry.pk).delete())
    _refused(
        lambda: Line.unscoped.create(
            company=b.company, entry=entry, account=b.bank, date=entry.date, debit=D(1),
            currency_id="CNY", amount_currency=D(1),
        )
    )  # fmt: skip
    table = Line._meta.db_table
    with connection.cursor() as cursor:
        _refused(
            lambda: cursor.execute(f"UPDATE {table} SET debit = 1 WHERE entry_id = %s", [entry.pk])
        )
        _refused(lambda: cursor.execute(f"DELETE FROM {table} WHERE entry_id = %s", [entry.pk]))
    entry.refresh_from_db()
    assert [line.debit for line in entry.lines.all()] == [D("100"), 0]
    assert list(chain_verify(company=b.company)) == []


def test_database_refuses_unbalanced_posting_and_direct_posted_insert(b):  # type: ignore[no-untyped-def]
    draft = entry_create(
        company=b.company,
        spec=EntrySpec(
            journal=b.general,
            date=dt.date(2026, 3, 1),
            lines=[LineSpec(account=b.bank, debit=D(7)), LineSpec(account=b.capital, credit=D(7))],
        ),
    )
    Line.unscoped.filter(entry=draft, sequence=1).update(debit=D(8), amount_currency=D(8))
    _refused(
        lambda: Entry.unscoped.filter(pk=draft.pk).update(
            state="posted", hash="x" * 64, chain_index=99
        )
    )
    _refused(
        lambda: Entry.unscoped.create(
            company=b.company, journal=b.general, date=dt.date(2026, 3, 1), state="posted",
            chain_index=5, hash="y" * 64,
        )
    )  # fmt: skip


def test_closed_period_cannot_be_reopened(b):  # type: ignore[no-untyped-def]
    period = period_close(period=period_for(company=b.company, date=dt.date(2026, 2, 1)))
    _refused(lambda: Period.unscoped.filter(pk=period.pk).update(state="open"))
    _refused(lambda: Period.unscoped.filter(pk=period.pk).delete())


def _tamper(sql: str, params: list) -> None:  # type: ignore[type-arg]
    """Change a posted line with the guards switched off, as someone with database access."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # a superuser can switch user triggers off for the session
            cursor.execute("SET session_replication_role = replica")
            cursor.execute(sql, params)
            cursor.execute("SET session_replication_role = DEFAULT")
        else:
            cursor.execute("DROP TRIGGER finance_line_update")
            cursor.execute(sql, params)
            from xietong.finance.guards import guards_install

            guards_install()


def test_hash_chain_finds_an_entry_tampered_through_sql(b):  # type: ignore[no-untyped-def]
    entries = [post(b, (b.bank, str(10 + n), 0), (b.capital, 0, str(10 + n))) for n in range(5)]
    assert list(chain_verify(company=b.company)) == []
    victim = entries[2]
    _tamper(
        "UPDATE finance_line SET debit = 1000, amount_currency = 1000 WHERE entry_id = %s AND sequence = 1",
        [victim.pk],
    )
    problems = list(chain_verify(company=b.company))
    assert [p.entry_id for p in problems] == [victim.pk]
    assert "changed after it was posted" in problems[0].reason


def test_an_entry_removed_from_the_end_of_a_chain_is_found(b):  # type: ignore[no-untyped-def]
    entries = [post(b, (b.bank, "5", 0), (b.capital, 0, "5")) for _ in range(3)]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        else:
            cursor.execute("DROP TRIGGER finance_line_delete")
            cursor.execute("DROP TRIGGER finance_entry_delete")
        cursor.execute("DELETE FROM finance_line WHERE entry_id = %s", [entries[-1].pk])
        cursor.execute("DELETE FROM finance_entry WHERE id = %s", [entries[-1].pk])
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")
        else:
            from xietong.finance.guards import guards_install

            guards_install()
    problems = list(chain_verify(company=b.company))
    assert len(problems) == 1
    assert "3 entries were numbered in this year but 2 are posted" in problems[0].reason


def test_verify_command_reports_tampering(b, capsys):  # type: ignore[no-untyped-def]
    from django.core.management import call_command

    entry = post(b, (b.bank, "10", 0), (b.capital, 0, "10"))
    call_command("ledger_verify")
    assert "intact" in capsys.readouterr().out
    _tamper("UPDATE finance_line SET label = 'forged' WHERE entry_id = %s", [entry.pk])
    with pytest.raises(SystemExit):
        call_command("ledger_verify")
    assert entry.number in capsys.readouterr().out


def test_reversal_of_a_reconciled_entry_is_refused(b, company_a):  # type: ignore[no-untyped-def]
    from xietong.core.tenancy import company_scope
    from xietong.finance.reconcile import lines_match
    from xietong.party.services import party_create

    with company_scope(company_a):
        customer = party_create(company=company_a, name="Customer", is_customer=True, actor=None)
    p = {"party": customer}
    invoice = post(b, (b.receivable, "100", 0, p), (b.income, 0, "100"), journal=b.sales)
    payment = post(b, (b.bank, "100", 0), (b.receivable, 0, "100", p), journal=b.bank_journal)
    lines = [invoice.lines.get(account=b.receivable), payment.lines.get(account=b.receivable)]
    lines_match(lines=lines)
    with pytest.raises(PostingError) as info:
        entry_reverse(entry=invoice)
    assert info.value.code == "reconciled"


def test_posting_is_in_the_audit_trail_with_its_author(b, admin_a):  # type: ignore[no-untyped-def]
    from xietong.core.models import AuditEntry

    entry = post(b, (b.bank, "10", 0), (b.capital, 0, "10"), actor=admin_a)
    history = AuditEntry.objects.get_for_object(entry).filter(actor=admin_a)
    changes = [e.changes_dict.get("state") for e in history]
    assert ["draft", "posted"] in changes
    assert history.first().company_id == b.company.pk


def test_amount_sums_are_exact_on_every_database(b):  # type: ignore[no-untyped-def]
    from xietong.finance.amounts import AmountSum

    amounts = ["1234567.89", "0.07", "98765.43", "0.11", "5000000.05", "0.33"] * 5
    for amount in amounts:
        post(b, (b.bank, amount, 0), (b.capital, 0, amount))
    expected = sum((D(a) for a in amounts), D(0))
    total = Line.unscoped.filter(account=b.bank).aggregate(t=AmountSum("debit"))["t"]
    assert total == expected
    by_account = Line.unscoped.values("account").annotate(
        d=AmountSum("debit"), c=AmountSum("credit")
    )
    assert sum(row["d"] - row["c"] for row in by_account) == 0
