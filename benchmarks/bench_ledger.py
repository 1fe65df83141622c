"""Benchmark of the financial reports over a ledger of 1,000,000 posted lines.

Usage (a fresh database: a file under a temporary directory for SQLite, the dedicated
PostgreSQL database `xt_bench_ledger` (dropped afterwards unless --keep) for PostgreSQL):

    .venv/bin/python benchmarks/bench_ledger.py --lines 1000000 --db sqlite
    .venv/bin/python benchmarks/bench_ledger.py --lines 1000000 --db postgres
    .venv/bin/python benchmarks/bench_ledger.py --lines 20000 --db sqlite --verify   # smoke run

`--keep` leaves the database in place and prints how to `--reuse` it (timings only, no load).
The PostgreSQL server is taken from DATABASE_URL when it is set (the database name is replaced
by `xt_bench_ledger`), else postgres://postgres@127.0.0.1:5432.

Data (seed 7, the same on both databases): one company (CNY) with a chart of 197 accounts (23
groups; 151 accounts receive postings) in the PRC layout, the journals SAL, PUR, BNK, CSH, GEN,
3,000 parties, and `--lines / 4` entries of 4 lines each over the fiscal years 2025 and 2026, in
date order: 40 % sales on credit (receivable of a customer; two of 40 revenue accounts; output
VAT), 25 % purchases (two of 30 stock or 35 expense accounts; input VAT; payable of a supplier),
25 % bank receipts and payments (one of 10 bank accounts, two parties' receivables or payables,
a bank fee), 10 % general entries (cost of sales against stock, payroll, depreciation).
Entries are inserted as drafts with their lines (`bulk_create`), then posted with one UPDATE per
batch that sets the state, the gap-free number (from the journal's real sequence), the chain
index and the hash chain computed with `xietong.finance.chain`, so `ledger_verify` holds. The
ledger's triggers stay on: every line insert checks its entry is not posted, every posting
checks balance, line count, companies and the period.

Then each report runs once to warm up and `--repeat` times (min / median printed):
trial balance of 2026 (opening balances from 2025), the general ledger of the busiest account
(receivable 1122) for June 2026, in full and as a page, and the statements. Diagnostics: the
trial balance's aggregate query with and without the join to the posted entries.

Prints one line per measurement; record the figures in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("XIETONG_VAR_DIR", tempfile.mkdtemp(prefix="xietong-bench-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xietong.settings")

DB_NAME = "xt_bench_ledger"
FIRST_DAY = dt.date(2025, 1, 1)
DAYS = 730
BATCH = 2000  # entries per transaction


def timed(fn, repeat: int) -> tuple[float, float, object]:  # type: ignore[no-untyped-def]
    """(min ms, median ms, last result) of `repeat` runs after one warm-up run."""
    result = fn()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        samples.append(time.perf_counter() - started)
    return min(samples) * 1000, statistics.median(samples) * 1000, result


# --- the chart ---------------------------------------------------------------------------------

A, L, E, R, X = "asset", "liability", "equity", "income", "expense"


def chart_rows() -> list[tuple[str, str | None, str, str, str, str, bool]]:
    """(code, parent, type, subtype, cash_flow, name, reconcile) in parent-first order."""
    rows: list[tuple[str, str | None, str, str, str, str, bool]] = []

    def add(code, parent, type_, subtype, section, name, reconcile=False):  # type: ignore[no-untyped-def]
        rows.append((code, parent, type_, subtype, section, name, reconcile))

    add("1001", None, A, "cash", "cash", "Cash on hand")
    add("1002", None, A, "bank", "cash", "Bank deposits")
    for i in range(1, 11):
        add(f"1002{i:02d}", "1002", A, "bank", "cash", f"Bank account {i}")
    add("1122", None, A, "receivable", "operating", "Accounts receivable", True)
    add("1123", None, A, "receivable", "operating", "Advances to suppliers", True)
    add("1221", None, A, "receivable", "operating", "Other receivables", True)
    add("1403", None, A, "stock", "operating", "Raw materials")
    for group in range(1, 4):
        add(f"1403{group:02d}", "1403", A, "stock", "operating", f"Materials group {group}")
        for i in range(1, 11):
            code = f"1403{group:02d}{i:02d}"
            add(code, f"1403{group:02d}", A, "stock", "operating", f"Material {group}-{i}")
    add("1405", None, A, "stock", "operating", "Finished goods")
    add("1601", None, A, "fixed_asset", "investing", "Fixed assets")
    for i in range(1, 6):
        add(f"1601{i:02d}", "1601", A, "fixed_asset", "investing", f"Fixed assets class {i}")
    add("1602", None, A, "depreciation", "investing", "Accumulated depreciation")
    for i in range(1, 6):
        add(f"1602{i:02d}", "1602", A, "depreciation", "investing", f"Depreciation class {i}")
    add("2001", None, L, "current_liability", "financing", "Short-term loans")
    add("2202", None, L, "payable", "operating", "Accounts payable", True)
    add("2203", None, L, "payable", "operating", "Advances from customers", True)
    add("2211", None, L, "current_liability", "operating", "Payroll payable")
    for i in range(1, 6):
        add(f"2211{i:02d}", "2211", L, "current_liability", "operating", f"Payroll item {i}")
    add("2221", None, L, "tax", "operating", "Taxes payable")
    add("222101", "2221", L, "tax", "operating", "VAT payable")
    add("22210101", "222101", L, "tax", "operating", "Input VAT")
    add("22210102", "222101", L, "tax", "operating", "Output VAT")
    for i in range(2, 8):
        add(f"2221{i:02d}", "2221", L, "tax", "operating", f"Other tax {i}")
    add("2501", None, L, "long_term_liability", "financing", "Long-term loans")
    add("4001", None, E, "", "financing", "Paid-in capital")
    add("4103", None, E, "current_earnings", "", "Profit for the year")
    add("4104", None, E, "retained_earnings", "", "Undistributed profit")
    add("6001", None, R, "", "", "Revenue")
    for group in range(1, 5):
        add(f"6001{group:02d}", "6001", R, "", "", f"Revenue line {group}")
        for i in range(1, 11):
            add(f"6001{group:02d}{i:02d}", f"6001{group:02d}", R, "", "", f"Product {group}-{i}")
    add("6051", None, R, "", "", "Other revenue")
    add("6401", None, X, "cost_of_sales", "", "Cost of sales")
    for group in range(1, 5):
        add(f"6401{group:02d}", "6401", X, "cost_of_sales", "", f"Cost line {group}")
        for i in range(1, 6):
            code = f"6401{group:02d}{i:02d}"
            add(code, f"6401{group:02d}", X, "cost_of_sales", "", f"Cost {group}-{i}")
    for head, name, count in (("6601", "Selling expenses", 15), ("6602", "Admin expenses", 20)):
        add(head, None, X, "", "", name)
        for i in range(1, count + 1):
            add(f"{head}{i:02d}", head, X, "", "", f"{name} {i}")
    add("660299", "6602", X, "non_cash_expense", "", "Depreciation expense")
    add("6603", None, X, "", "", "Finance expenses")
    add("660301", "6603", X, "", "", "Bank fees")
    add("660302", "6603", X, "", "", "Interest")
    return rows


def load_chart(company):  # type: ignore[no-untyped-def]
    from xietong.finance.models import Account, FinanceSettings, Journal

    rows = chart_rows()
    parents = {parent for _c, parent, *_rest in rows if parent}
    by_code: dict[str, Account] = {}
    for depth in range(4):
        level = [r for r in rows if _depth(r[0], rows) == depth]
        created = Account.unscoped.bulk_create(
            Account(
                company=company,
                code=code,
                name=name,
                parent=by_code[parent] if parent else None,
                type=type_,
                subtype=subtype,
                cash_flow=section,
                is_group=code in parents,
                reconcile=reconcile,
            )
            for code, parent, type_, subtype, section, name, reconcile in level
        )
        by_code.update((a.code, a) for a in created)
    journals = {
        code: Journal.unscoped.create(
            company=company, code=code, name=code, kind=kind, account=by_code.get(account)
        )
        for code, kind, account in (
            ("SAL", "sales", None),
            ("PUR", "purchase", None),
            ("BNK", "bank", "100201"),
            ("CSH", "cash", "1001"),
            ("GEN", "general", None),
        )
    }
    FinanceSettings.unscoped.create(
        company=company,
        receivable_account=by_code["1122"],
        payable_account=by_code["2202"],
        retained_earnings_account=by_code["4104"],
        general_journal=journals["GEN"],
        sales_journal=journals["SAL"],
        purchase_journal=journals["PUR"],
    )
    return by_code, journals


def _depth(code: str, rows) -> int:  # type: ignore[no-untyped-def]
    parents = {c: p for c, p, *_rest in rows}
    depth, parent = 0, parents[code]
    while parent:
        depth, parent = depth + 1, parents[parent]
    return depth


# --- the entries -------------------------------------------------------------------------------


def entry_blueprints(n_entries: int, accounts, parties, seed: int):  # type: ignore[no-untyped-def]
    """Yield (journal code, date, [(account, debit cents, credit cents, party)]) in date order,
    4 lines each."""
    rng = random.Random(seed)  # noqa: S311
    postable = {code: a for code, a in accounts.items() if not a.is_group}

    codes = sorted(postable)
    revenue = [postable[c] for c in codes if c.startswith("6001")]
    stock = [postable[c] for c in codes if c.startswith("1403")]
    expenses = [postable[c] for c in codes if c.startswith(("6601", "6602")) and c != "660299"]
    banks = [postable[c] for c in codes if c.startswith("1002")]
    costs = [postable[c] for c in codes if c.startswith("6401")]
    payroll = [postable[c] for c in codes if c.startswith("2211")]
    depreciation = [postable[c] for c in codes if c.startswith("1602")]
    receivable, payable = postable["1122"], postable["2202"]
    vat_in, vat_out, fee = postable["22210101"], postable["22210102"], postable["660301"]
    dep_expense = postable["660299"]
    customers, suppliers = parties[: len(parties) * 2 // 3], parties[len(parties) * 2 // 3 :]
    weights = [1.0 / (i + 1) for i in range(len(revenue))]  # a few products sell most
    for n in range(n_entries):
        date = FIRST_DAY + dt.timedelta(days=n * DAYS // n_entries)
        kind = rng.random()
        if kind < 0.40:
            a, b = rng.randint(1000, 500000), rng.randint(1000, 500000)
            vat = (a + b) * 13 // 100
            first, second = rng.choices(revenue, weights, k=2)
            yield (
                "SAL",
                date,
                [
                    (receivable, a + b + vat, 0, rng.choice(customers)),
                    (first, 0, a, None),
                    (second, 0, b, None),
                    (vat_out, 0, vat, None),
                ],
            )
        elif kind < 0.65:
            a, b = rng.randint(1000, 300000), rng.randint(1000, 300000)
            vat = (a + b) * 13 // 100
            pool = stock if rng.random() < 0.6 else expenses
            yield (
                "PUR",
                date,
                [
                    (rng.choice(pool), a, 0, None),
                    (rng.choice(pool), b, 0, None),
                    (vat_in, vat, 0, None),
                    (payable, 0, a + b + vat, rng.choice(suppliers)),
                ],
            )
        elif kind < 0.90:
            a, b = rng.randint(1000, 400000), rng.randint(1000, 400000)
            bank = banks[0] if rng.random() < 0.6 else rng.choice(banks)
            charge = rng.randint(100, 2000)
            if rng.random() < 0.6:  # receipt of two customers' invoices, less the bank fee
                yield (
                    "BNK",
                    date,
                    [
                        (bank, a + b - charge, 0, None),
                        (fee, charge, 0, None),
                        (receivable, 0, a, rng.choice(customers)),
                        (receivable, 0, b, rng.choice(customers)),
                    ],
                )
            else:  # payment of two suppliers, plus the fee
                yield (
                    "BNK",
                    date,
                    [
                        (payable, a, 0, rng.choice(suppliers)),
                        (payable, b, 0, rng.choice(suppliers)),
                        (fee, charge, 0, None),
                        (bank, 0, a + b + charge, None),
                    ],
                )
        else:
            a, b = rng.randint(1000, 300000), rng.randint(1000, 300000)
            what = rng.random()
            if what < 0.6:
                yield (
                    "GEN",
                    date,
                    [
                        (rng.choice(costs), a, 0, None),
                        (rng.choice(costs), b, 0, None),
                        (rng.choice(stock), 0, a, None),
                        (rng.choice(stock), 0, b, None),
                    ],
                )
            elif what < 0.9:
                yield (
                    "GEN",
                    date,
                    [
                        (rng.choice(expenses), a, 0, None),
                        (rng.choice(expenses), b, 0, None),
                        (rng.choice(payroll), 0, a, None),
                        (rng.choice(payroll), 0, b, None),
                    ],
                )
            else:
                yield (
                    "GEN",
                    date,
                    [
                        (dep_expense, a, 0, None),
                        (dep_expense, b, 0, None),
                        (rng.choice(depreciation), 0, a, None),
                        (rng.choice(depreciation), 0, b, None),
                    ],
                )


def generate(company, n_lines: int, seed: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """Load the chart, parties and `n_lines` posted lines; returns timings in seconds."""
    from django.db import connection, transaction
    from django.utils import timezone

    from xietong.core.numbering import sequence_next_many
    from xietong.finance import chain
    from xietong.finance.models import Entry, Line, Period
    from xietong.finance.periods import fiscal_year_create
    from xietong.finance.posting import _journal_sequence
    from xietong.party.models import Party

    timings: dict[str, float] = {}
    started = time.perf_counter()
    accounts, journals = load_chart(company)
    Party.unscoped.bulk_create(
        (
            Party(
                company=company,
                code=f"P{i:05d}",
                name=f"Party {i:05d}",
                normalized_name=f"party {i:05d}",
                currency_id="CNY",
                is_customer=i % 3 != 2,
                is_supplier=i % 3 == 2,
            )
            for i in range(3000)
        ),
        batch_size=1000,
    )
    parties = list(
        Party.unscoped.filter(company=company).order_by("code").values_list("pk", flat=True)
    )
    for year in (2025, 2026):
        fiscal_year_create(company=company, start=dt.date(year, 1, 1))
    periods = list(Period.unscoped.filter(company=company).values_list("pk", "start", "end"))
    sequences = {code: _journal_sequence(journal) for code, journal in journals.items()}
    timings["setup"] = time.perf_counter() - started

    vendor = connection.vendor
    quantum = Decimal("0.01")
    last_hash = dict.fromkeys(journals, chain.GENESIS)
    last_index = dict.fromkeys(journals, 0)
    n_entries = n_lines // 4
    blueprints = entry_blueprints(n_entries, accounts, parties, seed)
    insert_s = post_s = hash_s = 0.0
    done = 0
    while done < n_entries:
        batch = []
        for _ in range(min(BATCH, n_entries - done)):
            batch.append(next(blueprints))
        done += len(batch)
        with transaction.atomic():
            t0 = time.perf_counter()
            entries = []
            for number, (code, date, _lines) in enumerate(batch):
                period = next(pk for pk, start, end in periods if start <= date <= end)
                entries.append(
                    Entry(
                        company=company,
                        journal=journals[code],
                        date=date,
                        period_id=period,
                        ref=f"B{done - len(batch) + number:07d}",
                    )
                )
            Entry.unscoped.bulk_create(entries)
            lines: list[list[Line]] = []
            for entry, (_code, date, items) in zip(entries, batch, strict=True):
                own = []
                for sequence, (account, debit, credit, party) in enumerate(items, start=1):
                    d = Decimal(debit).scaleb(-2).quantize(quantum)
                    c = Decimal(credit).scaleb(-2).quantize(quantum)
                    own.append(
                        Line(
                            company_id=company.pk,
                            entry_id=entry.pk,
                            sequence=sequence,
                            account_id=account.pk,
                            date=date,
                            label="",
                            debit=d,
                            credit=c,
                            currency_id="CNY",
                            amount_currency=d - c,
                            rate=Decimal(1),
                            party_id=party,
                        )
                    )
                lines.append(own)
            Line.unscoped.bulk_create([line for own in lines for line in own], batch_size=2000)
            t1 = time.perf_counter()
            by_journal: dict[tuple[str, int], list[int]] = {}
            for index, (code, date, _items) in enumerate(batch):
                by_journal.setdefault((code, date.year), []).append(index)
            numbers: dict[int, str] = {}
            for (code, year), indexes in by_journal.items():
                taken = sequence_next_many(
                    company=company,
                    code=sequences[code],
                    date=dt.date(year, 1, 1),
                    count=len(indexes),
                )
                numbers.update(zip(indexes, taken, strict=True))
            values = []
            for index, (entry, own, (code, _date, _items)) in enumerate(
                zip(entries, lines, batch, strict=True)
            ):
                last_index[code] += 1
                entry.number = numbers[index]
                entry.chain_index = last_index[code]
                entry.previous_hash = last_hash[code]
                entry.hash = chain.entry_hash(entry.previous_hash, chain.entry_payload(entry, own))
                last_hash[code] = entry.hash
                values.append(
                    (entry.pk, entry.number, entry.chain_index, entry.previous_hash, entry.hash)
                )
            t2 = time.perf_counter()
            now = connection.ops.adapt_datetimefield_value(timezone.now())
            _post(connection, vendor, values, now)
            t3 = time.perf_counter()
        insert_s += t1 - t0
        hash_s += t2 - t1
        post_s += t3 - t2
    timings.update(insert=insert_s, number_and_hash=hash_s, post_update=post_s)
    return timings


def _post(connection, vendor: str, values, now) -> None:  # type: ignore[no-untyped-def]
    """Post a batch of drafts: one UPDATE … FROM (VALUES …) setting state, number, chain."""
    params: list[object] = [now]
    if vendor == "postgresql":
        rows = ", ".join(["(%s::bigint, %s, %s::bigint, %s, %s)"] * len(values))
        sql = f"""
            UPDATE finance_entry SET state = 'posted', posted_at = %s, number = v.number,
                chain_index = v.idx, previous_hash = v.prev, hash = v.hash
            FROM (VALUES {rows}) AS v(id, number, idx, prev, hash)
            WHERE finance_entry.id = v.id
        """  # noqa: S608 - placeholders only
    else:
        rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(values))
        sql = f"""
            UPDATE finance_entry SET state = 'posted', posted_at = %s, number = v.column2,
                chain_index = v.column3, previous_hash = v.column4, hash = v.column5
            FROM (VALUES {rows}) AS v WHERE finance_entry.id = v.column1
        """  # noqa: S608 - placeholders only
    for row in values:
        params.extend(row)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != len(values):
            raise RuntimeError(f"posted {cursor.rowcount} of {len(values)} entries")


# --- main --------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="PATH_OR_NAME", help="time a kept database, no load")
    parser.add_argument("--verify", action="store_true", help="check the hash chain after load")
    args = parser.parse_args()

    if args.db == "postgres":
        base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
        parts = urlsplit(base)
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path="/postgres"))
    else:
        os.environ.pop("DATABASE_URL", None)

    import django

    django.setup()
    from django.db import connection, connections
    from django.test.utils import setup_test_environment

    setup_test_environment()
    if args.db == "postgres":
        connection.settings_dict["TEST"]["NAME"] = DB_NAME
    if args.reuse:
        connection.settings_dict["NAME"] = args.reuse
        old_name = None
    else:
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from xietong.core.models import Company
        from xietong.core.services import company_create

        if args.reuse:
            company = Company.objects.get(name="Bench Ledger")
        else:
            company = company_create(
                name="Bench Ledger",
                legal_name="Bench Ledger Ltd",
                base_currency="CNY",
                country="CN",
            )
            started = time.perf_counter()
            timings = generate(company, args.lines, args.seed)
            total = time.perf_counter() - started
            print(
                f"vendor={connection.vendor} lines={args.lines} entries={args.lines // 4} "
                f"load_s={total:.1f} ("
                + ", ".join(f"{k} {v:.1f}" for k, v in timings.items())
                + ")"
            )
            started = time.perf_counter()
            with connection.cursor() as cursor:
                if connection.vendor == "sqlite":
                    from xietong.core.maintenance import sqlite_statistics

                    sqlite_statistics(force=True)
                else:
                    cursor.execute("ANALYZE")
            print(f"statistics (ANALYZE): {time.perf_counter() - started:.1f} s")
        if args.verify:
            from xietong.finance.chain import chain_verify

            started = time.perf_counter()
            problems = list(chain_verify(company=company))
            print(f"chain_verify: {len(problems)} problems, {time.perf_counter() - started:.1f} s")
        measure(company, args.repeat)
        if args.keep:
            print(f"kept: --db {args.db} --reuse {connection.settings_dict['NAME']}")
    finally:
        connections.close_all()
        if old_name is not None and not args.keep:
            connection.creation.destroy_test_db(old_name, verbosity=0)


def measure(company, repeat: int) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from xietong.finance import reports
    from xietong.finance.models import Account, Line

    year = dt.date(2026, 1, 1), dt.date(2026, 12, 31)
    month = dt.date(2026, 6, 1), dt.date(2026, 6, 30)
    busy = Account.unscoped.get(company=company, code="1122")
    count = Line.unscoped.filter(company=company).count()
    print(f"posted lines in the company: {count}")

    def report(label: str, fn, describe) -> None:  # type: ignore[no-untyped-def]
        low, median, result = timed(fn, repeat)
        print(f"{label}: min {low:.0f} ms, median {median:.0f} ms ({describe(result)})")

    report(
        "trial balance 2026 (opening from 2025)",
        lambda: reports.trial_balance(company=company, start=year[0], end=year[1]),
        lambda r: f"{len(r.rows)} rows, debits {r.totals.debit}, balanced {r.balanced}",
    )
    report(
        "trial balance 2026 with groups and 2025 comparative",
        lambda: reports.trial_balance(
            company=company,
            start=year[0],
            end=year[1],
            groups=True,
            comparative=(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        ),
        lambda r: f"{len(r.rows)} rows, balanced {r.balanced}",
    )
    report(
        "general ledger 1122 June 2026, all lines",
        lambda: reports.general_ledger(company=company, account=busy, start=month[0], end=month[1]),
        lambda r: f"{r.line_count} lines, opening {r.opening}, closing {r.closing}",
    )
    report(
        "general ledger 1122 June 2026, first page of 100",
        lambda: reports.general_ledger(
            company=company, account=busy, start=month[0], end=month[1], limit=100
        ),
        lambda r: f"{len(r.lines)} lines",
    )
    report(
        "general ledger 1122 June 2026, page of 100 at offset 5000",
        lambda: reports.general_ledger(
            company=company, account=busy, start=month[0], end=month[1], offset=5000, limit=100
        ),
        lambda r: f"{len(r.lines)} lines, last balance {r.lines[-1].balance if r.lines else '-'}",
    )
    report(
        "balance sheet 2026-12-31 with 2025-12-31",
        lambda: reports.balance_sheet(
            company=company, as_of=year[1], comparative_as_of=dt.date(2025, 12, 31)
        ),
        lambda r: f"assets {r.total_assets}, balanced {r.balanced}",
    )
    report(
        "profit and loss 2026 with 2025",
        lambda: reports.profit_and_loss(
            company=company,
            start=year[0],
            end=year[1],
            comparative=(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
        ),
        lambda r: f"net profit {r.net_profit}",
    )
    report(
        "cash flow 2026",
        lambda: reports.cash_flow(company=company, start=year[0], end=year[1]),
        lambda r: f"net change {r.net_change}, reconciles {r.reconciles}",
    )

    # Diagnostics: the trial balance's aggregate with and without the join to the entries.
    sum_ = reports._sum
    for label, join in (
        ("with the join to posted entries", reports._posted()),
        ("without the join (lines only)", ""),
    ):
        sql = f"""
            SELECT {reports._account_key()},
                {sum_("CASE WHEN l.date < %(start)s THEN l.debit - l.credit ELSE 0 END")},
                {sum_("CASE WHEN l.date >= %(start)s THEN l.debit ELSE 0 END")},
                {sum_("CASE WHEN l.date >= %(start)s THEN l.credit ELSE 0 END")}
            FROM finance_line l {join}
            WHERE l.company_id = %(company)s AND l.date <= %(end)s
            GROUP BY 1
        """  # noqa: S608
        params = {"company": company.pk, "start": year[0], "end": year[1]}

        def run(sql=sql, params=params):  # type: ignore[no-untyped-def]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

        low, median, _rows = timed(run, repeat)
        print(
            f"diagnostic: trial-balance aggregate {label}: min {low:.0f} ms, median {median:.0f} ms"
        )


if __name__ == "__main__":
    main()
