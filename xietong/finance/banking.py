"""Bank statements: import from the bank's CSV (or XLSX) export, matching suggestions, and
reconciliation of each statement line with a payment.

Import (`statement_import`) reads a table with a header row (a few lines of preamble before it
and total lines after it are skipped in CSV files; UTF-8 or the GB18030 that Chinese banks
export). Its columns are found by their usual names in English and Chinese, or given in
`columns`: the date, the signed amount (or a money-in and a money-out column, or an amount and a
debit/credit flag), the counterparty, their account number, the reference (摘要, 附言 and 用途
are joined) and the running balance. Every row is checked first; one bad row refuses the whole
file with every problem listed by row, column and reason, and nothing is saved.

Duplicates: a line already imported for the journal is one with the same date, amount and
reference. Rows the journal already holds are skipped (counted as rows, so two identical
transfers on one day stay two); a file whose rows are all there already is refused.

Suggestions (`statement_suggestions`) rank, for one line: an open invoice whose number appears
in the reference and whose amount due equals the amount; an invoice of the party recognised by
the counterparty's name or account number (`party.BankAccount`) with that amount due; several
open invoices of that party adding up to it; a posted payment of the same amount not yet
reconciled with the bank. `statement_line_reconcile` accepts one: it links the existing payment
or creates, posts and allocates a new one from the line.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Replace, Upper
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.imports import ImportFileError, Problem, read_table
from xietong.core.models import Company
from xietong.finance.models import (
    Account,
    AccountSubtype,
    BankStatement,
    Invoice,
    Journal,
    Payment,
    StatementLine,
)
from xietong.finance.payments import (
    INBOUND,
    OUTBOUND,
    journal_currency,
    money_text,
    payment_allocate,
    payment_cancel,
    payment_create,
    payment_post,
)
from xietong.finance.posting import EntrySpec, LineSpec, entry_post, entry_reverse, quantize
from xietong.finance.reconcile import open_items
from xietong.party.identifiers import normalize_name
from xietong.party.models import BankAccount, Party

ZERO = Decimal(0)
MAX_AMOUNT = Decimal(10) ** 15

# Header names by column, compared after `_header_key` (case, spaces, units in brackets).
ALIASES: dict[str, tuple[str, ...]] = {
    "date": (
        "date", "transaction date", "booking date", "value date", "posting date", "trade date",
        "日期", "交易日期", "记账日期", "入账日期", "交易时间", "记账时间", "交易日",
    ),
    "amount": ("amount", "transaction amount", "金额", "交易金额", "发生额"),
    "credit": (
        "credit", "credit amount", "credits", "money in", "paid in", "deposit", "deposits",
        "收入", "收入金额", "贷方金额", "贷方发生额", "贷方", "存入", "存入金额", "收款金额",
    ),
    "debit": (
        "debit", "debit amount", "debits", "money out", "paid out", "withdrawal", "withdrawals",
        "支出", "支出金额", "借方金额", "借方发生额", "借方", "支取", "支取金额", "付款金额",
    ),
    "direction": (
        "dr/cr", "cr/dr", "debit/credit", "direction", "借贷", "借贷标志", "借/贷", "收支",
        "收支标志", "交易方向", "收/支",
    ),
    "counterparty": (
        "counterparty", "counterparty name", "payee", "payer", "payer/payee", "name",
        "对方户名", "对方名称", "对方账户名称", "对方账户名", "对方单位", "对方单位名称",
        "收/付款人", "交易对方",
    ),
    "account_number": (
        "account number", "counterparty account", "counterparty account number", "iban",
        "对方账号", "对方账户", "对方帐号", "对方卡号", "对方账户账号",
    ),
    "reference": (
        "reference", "description", "memo", "details", "narrative", "remarks", "remark",
        "purpose", "摘要", "附言", "用途", "备注", "交易附言", "交易摘要", "交易用途",
    ),
    "balance": ("balance", "running balance", "余额", "账户余额", "交易后余额"),
}  # fmt: skip
OUT_WORDS = {"借", "支", "支出", "付", "dr", "d", "debit", "out", "-"}
IN_WORDS = {"贷", "收", "收入", "存", "cr", "c", "credit", "in", "+"}
TOTAL_WORDS = {"合计", "总计", "小计", "total", "totals", "sum"}


def _header_key(text: str) -> str:
    text = unicodedata.normalize("NFKC", text or "").strip().lower()
    text = re.sub(r"[(\[].*?[)\]]", "", text)  # "金额(元)", "Amount (CNY)"
    return " ".join(text.replace("*", "").replace(":", "").split())


_ALIAS_INDEX = {_header_key(alias): name for name, names in ALIASES.items() for alias in names}


# --- reading the file -------------------------------------------------------------------------


class _AnyColumns:
    """What `core.imports.read_table` needs of a spec: no required columns (found here)."""

    columns: list[Any] = []


def _raw_rows(data: bytes, filename: str) -> list[tuple[int, list[str]]]:
    """(line in the file, cells) of every non-empty row."""
    if data[:4] == b"PK\x03\x04" or filename.lower().endswith(".xlsx"):
        try:
            table = read_table(data, "statement.xlsx", _AnyColumns())  # type: ignore[arg-type]
        except ImportFileError as exc:
            raise ValidationError(str(exc), code="unreadable") from exc
        rows = [(1, table.header)]
        rows += [(line, [values.get(h, "") for h in table.header]) for line, values in table.rows]
        return rows
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ValidationError(_("The file is not a readable CSV file."), code="unreadable")
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows = []
    try:
        for cells in reader:
            if any(cell.strip() for cell in cells):
                rows.append((reader.line_num, [cell.strip() for cell in cells]))
    except csv.Error as exc:
        raise ValidationError(
            _("The file is not a readable CSV file (line %(line)d: %(error)s).")
            % {"line": reader.line_num, "error": exc},
            code="unreadable",
        ) from exc
    return rows


def _find_columns(
    rows: list[tuple[int, list[str]]], columns: Mapping[str, Any] | None
) -> tuple[int, dict[str, list[int]], list[str]]:
    """The header row's index, the cell indexes of each column, and the header's cells."""
    for index, (_line, cells) in enumerate(rows[:30]):
        keys = [_header_key(cell) for cell in cells]
        found: dict[str, list[int]] = defaultdict(list)
        if columns:
            for name, header in columns.items():
                if name not in ALIASES:
                    raise ValidationError(
                        _("Unknown statement column “%(name)s”; use one of %(names)s.")
                        % {"name": name, "names": ", ".join(ALIASES)},
                        code="invalid",
                    )
                for one in [header] if isinstance(header, str) else list(header):
                    if _header_key(one) in keys:
                        found[name].append(keys.index(_header_key(one)))
        for position, key in enumerate(keys):
            name = _ALIAS_INDEX.get(key)
            if (
                name
                and not (columns and name in columns)
                and position not in found[name]
                and (name == "reference" or not found[name])
            ):
                found[name].append(position)
        has_amount = found.get("amount") or found.get("credit") or found.get("debit")
        if found.get("date") and has_amount:
            return index, dict(found), cells
    raise ValidationError(
        _("No header row with a date column and an amount column (or money-in and money-out "
          "columns) was found. Name them, e.g. “date” and “amount”, or “交易日期” and “交易金额”.")
        , code="no_header",
    )  # fmt: skip


def parse_date(raw: str) -> dt.date:
    """ISO, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD or 2026年3月10日; a time after it is ignored."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    text = text.replace("年", "-").replace("月", "-").replace("日", " ").strip()
    text = text.split()[0] if text else ""
    text = text.split("T")[0]
    if re.fullmatch(r"\d{8}", text):
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    match = re.fullmatch(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", text)
    if not match:
        raise ValueError(text)
    return dt.date(*(int(part) for part in match.groups()))


def parse_amount(raw: str) -> Decimal | None:
    """A signed amount: thousands separators, spaces, currency signs and codes removed;
    "(12.00)" and a trailing minus are negative. None for an empty cell; ValueError when it
    is not a number."""
    text = unicodedata.normalize("NFKC", raw or "").strip()
    if not text:
        return None
    negative = False
    if text.startswith("(") and text.endswith(")"):
        negative, text = True, text[1:-1]
    text = re.sub(r"[,\s'\u00a0]", "", text)
    text = re.sub(r"^(CNY|RMB|USD|HKD|EUR|元)|(CNY|RMB|USD|HKD|EUR|元)$", "", text, flags=re.I)
    text = text.strip("¥$€£")
    if text.endswith("-"):
        negative, text = not negative, text[:-1]
    if text.startswith("+"):
        text = text[1:]
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(raw) from None
    if not value.is_finite():
        raise ValueError(raw)
    return -value if negative else value


@dataclass
class _Row:
    line: int
    date: dt.date
    amount: Decimal
    counterparty: str
    account_number: str
    reference: str
    balance: Decimal | None

    @property
    def key(self) -> tuple[dt.date, Decimal, str]:
        return (self.date, self.amount, self.reference)


_UNREADABLE: Any = object()


class _RowReader:
    """Clean values of one row; problems named by the file's column headers."""

    def __init__(
        self, line: int, cells: list[str], found: dict[str, list[int]], header: list[str]
    ) -> None:
        self.line, self.cells, self.found, self.header = line, cells, found, header
        self.problems: list[Problem] = []

    def cell(self, name: str) -> str:
        positions = self.found.get(name) or []
        cells = self.cells
        return cells[positions[0]].strip() if positions and positions[0] < len(cells) else ""

    def title(self, name: str) -> str:
        return self.header[self.found[name][0]] or name

    def error(self, name: str, message: str) -> None:
        self.problems.append(Problem(self.line, self.title(name), message))

    def number(self, name: str) -> Any:
        raw = self.cell(name)
        try:
            return parse_amount(raw)
        except ValueError:
            self.error(name, _("“%(value)s” is not an amount") % {"value": raw})
            return _UNREADABLE

    def date(self) -> dt.date | None:
        raw = self.cell("date")
        if not raw:
            self.error("date", _("a date is required"))
            return None
        try:
            return parse_date(raw)
        except ValueError:
            self.error(
                "date",
                _("“%(value)s” is not a date (YYYY-MM-DD, YYYY/MM/DD or YYYYMMDD)")
                % {"value": raw},
            )
            return None

    def amount(self, currency: str) -> Decimal | None:
        found = self.found
        amount: Any = None
        if found.get("amount"):
            amount = self.number("amount")
            if amount is None:
                self.error("amount", _("an amount is required"))
            elif amount is not _UNREADABLE and found.get("direction"):
                flag = _header_key(self.cell("direction"))
                if flag in OUT_WORDS or flag.startswith(("借", "支")):
                    amount = -abs(amount)
                elif flag in IN_WORDS or flag.startswith(("贷", "收")):
                    amount = abs(amount)
                elif flag:
                    self.error(
                        "direction",
                        _("“%(value)s” is neither money in nor money out")
                        % {"value": self.cell("direction")},
                    )
        else:
            money_in = self.number("credit") if found.get("credit") else None
            money_out = self.number("debit") if found.get("debit") else None
            if _UNREADABLE in (money_in, money_out):
                return None
            if money_in and money_out:
                self.error(
                    "credit", _("both money in and money out are filled in; give one of them")
                )
            elif money_in is None and money_out is None:
                self.error("credit" if found.get("credit") else "debit", _("an amount is required"))
            else:
                amount = abs(money_in or ZERO) - abs(money_out or ZERO)
        if amount is None or amount is _UNREADABLE or self.problems:
            return None
        column = _amount_column(found)
        if not amount:
            self.error(column, _("the amount is zero"))
        elif abs(amount) >= MAX_AMOUNT:
            self.error(column, _("the amount is too large"))
        elif quantize(amount, currency) != amount:
            self.error(
                column,
                _("%(value)s has more decimals than %(currency)s allows")
                % {"value": amount, "currency": currency},
            )
        return None if self.problems else amount


def _clean_rows(
    rows: list[tuple[int, list[str]]], found: dict[str, list[int]], header: list[str], currency: str
) -> tuple[list[_Row], list[Problem]]:
    result: list[_Row] = []
    problems: list[Problem] = []
    for line, cells in rows:
        first = _header_key(next((c for c in cells if c.strip()), ""))
        if first in TOTAL_WORDS or first.rstrip(":") in TOTAL_WORDS:
            continue
        reader = _RowReader(line, cells, found, header)
        date = reader.date()
        amount = reader.amount(currency)
        balance = reader.number("balance") if found.get("balance") else None
        if reader.problems or date is None or amount is None:
            problems.extend(reader.problems)
            continue
        references = [
            cells[i].strip() for i in found.get("reference", []) if i < len(cells) and cells[i]
        ]
        result.append(
            _Row(
                line=line,
                date=date,
                amount=amount,
                counterparty=reader.cell("counterparty")[:200],
                account_number=reader.cell("account_number")[:60],
                reference=" / ".join(dict.fromkeys(references))[:200],
                balance=balance,
            )
        )
    return result, problems


def _amount_column(found: dict[str, list[int]]) -> str:
    return "amount" if found.get("amount") else "credit" if found.get("credit") else "debit"


def _read(file: Any) -> tuple[bytes, str]:
    if isinstance(file, bytes | bytearray):
        return bytes(file), ""
    if isinstance(file, str):
        return file.encode(), ""
    data = file.read()
    if isinstance(data, str):
        data = data.encode()
    return data, str(getattr(file, "name", "") or "")


@audited
def statement_import(
    *,
    company: Company,
    actor: Any,
    journal: Journal,
    file: Any,
    name: str | None = None,
    columns: Mapping[str, str | Sequence[str]] | None = None,
) -> BankStatement:
    """Import a bank statement of `journal` (bank or cash) from `file` (bytes or a file
    object; CSV, or XLSX with the header in its first row). `columns` maps column names (date,
    amount, credit (money in), debit (money out), direction, counterparty, account_number,
    reference, balance) to the file's headers when automatic detection is not enough.

    The statement's balances come from the balance column when there is one, else the
    previous statement's closing balance plus the lines. Rows the journal already holds
    (same date, amount and reference) are skipped; `statement.skipped` says how many.

    Raises ValidationError: the file cannot be read or has no recognisable header, the list of
    bad rows ("Row 5, 交易金额: “abc” is not an amount"), or every row was imported before. All
    or nothing."""
    if journal.company_id != company.pk:
        raise ValidationError(
            _("The journal %(journal)s belongs to another company.") % {"journal": journal},
            code="foreign_record",
        )
    if journal.kind not in (Journal.Kind.BANK, Journal.Kind.CASH):
        raise ValidationError(
            _("The journal %(journal)s is not a bank or cash journal.") % {"journal": journal},
            code="invalid",
        )
    data, filename = _read(file)
    raw = _raw_rows(data, filename)
    if not raw:
        raise ValidationError(_("The file is empty."), code="empty")
    header_index, found, header = _find_columns(raw, columns)
    currency = journal_currency(journal)
    rows, problems = _clean_rows(raw[header_index + 1 :], found, header, currency)
    if problems:
        raise ValidationError([str(problem) for problem in problems], code="bad_rows")
    if not rows:
        raise ValidationError(_("The file has no transactions."), code="empty")
    if rows[0].date > rows[-1].date:  # newest first: keep the statement in date order
        rows.reverse()
    with transaction.atomic():
        list(Journal.unscoped.select_for_update().filter(pk=journal.pk).order_by())
        existing = Counter(
            (date, amount, reference)
            for date, amount, reference in StatementLine.unscoped.filter(
                company=company,
                statement__journal=journal,
                date__gte=min(r.date for r in rows),
                date__lte=max(r.date for r in rows),
            ).values_list("date", "amount", "reference")
        )
        new: list[_Row] = []
        for row in rows:
            if existing[row.key] > 0:
                existing[row.key] -= 1
            else:
                new.append(row)
        if not new:
            raise ValidationError(
                _("Every row of this file was imported before for %(journal)s (same date, "
                  "amount and reference); nothing was imported.")
                % {"journal": journal},
                code="duplicate",
            )  # fmt: skip
        total = sum((row.amount for row in new), ZERO)
        if rows[-1].balance is not None and rows[0].balance is not None:
            balance_end = rows[-1].balance
            balance_start = rows[0].balance - rows[0].amount
        else:
            previous = (
                BankStatement.unscoped.filter(company=company, journal=journal)
                .order_by("-date", "-id")
                .values_list("balance_end", flat=True)
                .first()
            )
            balance_start = previous or ZERO
            balance_end = balance_start + total
        first, last = new[0].date, new[-1].date
        statement = BankStatement.unscoped.create(
            company=company,
            journal=journal,
            name=(name or f"{journal.code} {first.isoformat()} – {last.isoformat()}")[:80],
            date=last,
            balance_start=balance_start,
            balance_end=balance_end,
        )
        StatementLine.unscoped.bulk_create(
            StatementLine(
                company=company,
                statement=statement,
                sequence=number,
                date=row.date,
                amount=row.amount,
                counterparty=row.counterparty,
                account_number=row.account_number,
                reference=row.reference,
            )
            for number, row in enumerate(new, start=1)
        )
    statement.skipped = len(rows) - len(new)  # type: ignore[attr-defined]
    return statement


# --- suggestions ------------------------------------------------------------------------------


@dataclass
class Suggestion:
    """One way to reconcile a statement line. `kind`: "invoice_reference" (an invoice whose
    number is in the reference), "invoice_party" (an invoice of the recognised party with
    that amount due), "invoices_sum" (several invoices of the party adding up to it),
    "invoice_amount" (an invoice of another party with that amount due), "invoice_partial"
    (an invoice named in the reference, paid in part) or "payment" (a posted payment of that
    amount not reconciled with the bank). `score` 0–100, higher is better."""

    kind: str
    score: int
    label: str
    party: Party | None = None
    invoices: list[Invoice] = field(default_factory=list)
    payment: Payment | None = None
    amount: Decimal = ZERO


def _compact(text: str) -> str:
    """Letters and digits only, upper case: "INV/2026/0001" → "INV20260001"."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", text or "")).upper()


def _account_key(text: str) -> str:
    return re.sub(r"[\s-]+", "", text or "").upper()


@dataclass
class _Open:
    invoice: Invoice
    residual: Decimal  # in the invoice currency, positive
    due: dt.date


def _open_invoices(company: Company, *, kind: str, currency: str) -> list[_Open]:
    """Posted invoices of `kind` in `currency` with an amount due, oldest due first (two
    queries: the open items of the company, then their invoices)."""
    subtype = AccountSubtype.RECEIVABLE if kind == Invoice.Kind.CUSTOMER_INVOICE else (
        AccountSubtype.PAYABLE
    )  # fmt: skip
    accounts = Account.unscoped.filter(company=company, subtype=subtype, reconcile=True)
    sign = 1 if kind == Invoice.Kind.CUSTOMER_INVOICE else -1
    residual: dict[int, Decimal] = defaultdict(Decimal)
    due: dict[int, dt.date] = {}
    for line in open_items(company=company, accounts=accounts):
        value = line.residual.amount_currency * sign
        if line.currency_id == currency and value > 0:
            residual[line.entry_id] += value
            day = line.due_date or line.date
            due[line.entry_id] = min(due.get(line.entry_id, day), day)
    invoices = Invoice.unscoped.filter(
        company=company,
        entry_id__in=list(residual),
        kind=kind,
        state=Invoice.State.POSTED,
        currency_id=currency,
    ).select_related("party")
    result = [_Open(i, residual[i.entry_id], due[i.entry_id]) for i in invoices]
    result.sort(key=lambda o: (o.due, o.invoice.pk))
    return result


def _parties_of(line: StatementLine) -> set[int]:
    """Parties recognised from the line: its party, the counterparty's account number, its
    name (normalised)."""
    found: set[int] = set()
    if line.party_id:
        found.add(line.party_id)
    number = _account_key(line.account_number)
    if number:
        compact = Upper(Replace(Replace("account_number", Value(" "), Value("")), Value("-")))
        found.update(
            BankAccount.unscoped.annotate(compact=compact)
            .filter(company_id=line.company_id, compact=number, party__merged_into__isnull=True)
            .values_list("party_id", flat=True)
        )
    key = normalize_name(line.counterparty)
    if key:
        found.update(
            Party.unscoped.filter(
                company_id=line.company_id, normalized_name=key, merged_into__isnull=True
            ).values_list("pk", flat=True)
        )
    return found


def statement_suggestions(*, line: StatementLine, limit: int = 10) -> list[Suggestion]:
    """Ways to reconcile `line`, best first (see `Suggestion`). A constant number of queries
    whatever the number of open invoices and payments."""
    statement = BankStatement.unscoped.select_related("journal__account", "journal__company").get(
        pk=line.statement_id
    )
    journal = statement.journal
    company = journal.company
    currency = journal_currency(journal)
    amount = abs(line.amount)
    inbound = line.amount > 0
    kind = Invoice.Kind.CUSTOMER_INVOICE if inbound else Invoice.Kind.SUPPLIER_INVOICE
    parties = _parties_of(line)
    reference = _compact(line.reference)
    open_list = _open_invoices(company, kind=kind, currency=currency)
    suggestions: list[Suggestion] = []

    def text(o: _Open) -> str:
        return _("%(invoice)s of %(party)s, %(due)s due") % {
            "invoice": o.invoice,
            "party": o.invoice.party,
            "due": money_text(o.residual, currency),
        }

    by_party: dict[int, list[_Open]] = defaultdict(list)
    for item in open_list:
        by_party[item.invoice.party_id].append(item)
        number = _compact(item.invoice.number)
        named = len(number) >= 4 and number in reference
        same = item.residual == amount
        known = item.invoice.party_id in parties
        if named and same:
            kind_, score = "invoice_reference", 100 if known else 95
        elif same and known:
            kind_, score = "invoice_party", 85
        elif named:
            kind_, score = "invoice_partial", 60 if known else 55
        elif same:
            kind_, score = "invoice_amount", 40
        else:
            continue
        suggestions.append(
            Suggestion(kind_, score, text(item), item.invoice.party, [item.invoice], None, amount)
        )
    for party_id in parties:
        items = by_party.get(party_id, [])
        combination = _adding_up(items, amount)
        if combination and len(combination) > 1:
            suggestions.append(
                Suggestion(
                    "invoices_sum",
                    75,
                    _("%(count)d invoices of %(party)s: %(numbers)s")
                    % {
                        "count": len(combination),
                        "party": combination[0].invoice.party,
                        "numbers": ", ".join(str(o.invoice) for o in combination),
                    },
                    combination[0].invoice.party,
                    [o.invoice for o in combination],
                    None,
                    amount,
                )
            )
    payments = (
        Payment.unscoped.filter(
            company=company,
            state=Payment.State.POSTED,
            journal=journal,
            direction=INBOUND if inbound else OUTBOUND,
            amount=amount,
            currency_id=currency,
            statement_lines__isnull=True,
        )
        .select_related("party")
        .order_by("date", "pk")
    )
    for payment in payments:
        score = 70 if payment.party_id in parties else 50
        if payment.reference and _compact(payment.reference) in reference:
            score += 10
        score -= min(abs((payment.date - line.date).days), 10)
        suggestions.append(
            Suggestion(
                "payment",
                score,
                _("Payment %(payment)s of %(party)s on %(date)s")
                % {"payment": payment, "party": payment.party, "date": payment.date.isoformat()},
                payment.party,
                [],
                payment,
                amount,
            )
        )
    suggestions.sort(key=lambda s: -s.score)
    return suggestions[:limit]


def _adding_up(items: list[_Open], amount: Decimal) -> list[_Open] | None:
    """Invoices (oldest due first) whose amounts due add up to `amount`: the oldest ones,
    else the smallest set among up to 12 invoices."""
    running = ZERO
    for index, item in enumerate(items):
        running += item.residual
        if running == amount:
            return items[: index + 1]
        if running > amount:
            break
    if len(items) > 12:
        return None
    for size in range(2, len(items) + 1):
        for combination in itertools.combinations(items, size):
            if sum((o.residual for o in combination), ZERO) == amount:
                return list(combination)
    return None


# --- reconciliation ---------------------------------------------------------------------------


@audited
def statement_line_reconcile(
    *,
    line: StatementLine,
    actor: Any,
    invoices: list[Invoice] | None = None,
    payment: Payment | None = None,
    party: Party | None = None,
) -> StatementLine:
    """Reconcile a statement line: link `payment` (posted, in the statement's journal, of the
    line's amount and direction, not linked to another line; `invoices`, when given, are
    allocated from it), or create and post a payment from the line — received for money in,
    made for money out — for `party` (default: the invoices' party, else the line's), dated
    and referenced as the line, allocated to `invoices`. Sets the line's party and payment.
    Locks the line. Raises ValidationError; nothing is written then."""
    with transaction.atomic():
        line = (
            StatementLine.unscoped.select_for_update(of=("self",))
            .select_related("statement__journal__account", "company")
            .get(pk=line.pk)
        )
        _refuse_reconciled(line)
        journal = line.statement.journal
        direction = INBOUND if line.amount > 0 else OUTBOUND
        amount = abs(line.amount)
        currency = journal_currency(journal)
        if payment is not None:
            payment = (
                Payment.unscoped.select_for_update(of=("self",))
                .select_related("party")
                .get(pk=payment.pk)
            )
            problems = []
            if payment.company_id != line.company_id:
                problems.append(_("The payment belongs to another company."))
            elif payment.state != Payment.State.POSTED:
                problems.append(_("The payment %(payment)s is not posted.") % {"payment": payment})
            else:
                if payment.journal_id != journal.pk:
                    problems.append(
                        _("The payment %(payment)s went through %(other)s, not %(journal)s.")
                        % {"payment": payment, "other": payment.journal, "journal": journal}
                    )
                if payment.direction != direction:
                    problems.append(
                        _("The payment %(payment)s is %(direction)s; the line is money %(way)s.")
                        % {
                            "payment": payment,
                            "direction": payment.get_direction_display().lower(),
                            "way": _("in") if line.amount > 0 else _("out"),
                        }
                    )
                if (payment.amount, payment.currency_id) != (amount, currency):
                    problems.append(
                        _("The payment %(payment)s is %(amount)s %(currency)s; the line is "
                          "%(line)s %(line_currency)s.")
                        % {
                            "payment": payment,
                            "amount": payment.amount,
                            "currency": payment.currency_id,
                            "line": amount,
                            "line_currency": currency,
                        }
                    )  # fmt: skip
                if StatementLine.unscoped.filter(payment=payment).exists():
                    problems.append(
                        _("The payment %(payment)s is reconciled with another statement line.")
                        % {"payment": payment}
                    )
                if party is not None and party.pk != payment.party_id:
                    problems.append(
                        _("The payment %(payment)s is from %(other)s, not %(party)s.")
                        % {"payment": payment, "other": payment.party, "party": party}
                    )
            if problems:
                raise ValidationError(problems, code="invalid_payment")
            if invoices:
                payment_allocate(payment=payment, actor=actor, invoices=invoices)
        else:
            if party is None and invoices:
                party = invoices[0].party
            if party is None and line.party_id:
                party = line.party
            if party is None:
                raise ValidationError(
                    _("Choose the party who paid or was paid."), code="party_required"
                )
            payment = payment_create(
                company=line.company,
                actor=actor,
                direction=direction,
                party=party,
                journal=journal,
                date=line.date,
                amount=amount,
                currency=currency,
                reference=line.reference[:120],
                memo=line.counterparty[:200],
                refund=bool(invoices) and all(i.is_credit_note for i in invoices),
            )
            payment = payment_post(payment=payment, actor=actor, allocations=invoices or None)
        line.payment = payment
        line.party_id = payment.party_id
        line.save(update_fields=["payment", "party"])
    return line


@audited
def statement_line_undo(
    *, line: StatementLine, actor: Any, cancel_payment: bool = False
) -> StatementLine:
    """Make the line open again: unlink its payment — with `cancel_payment` the payment is
    cancelled too (do so when it was created from the line): its allocations are undone and
    its entry reversed — or reverse the entry that booked it to an account. Locks the line.
    Raises ValidationError when the line is not reconciled."""
    with transaction.atomic():
        line = StatementLine.unscoped.select_for_update().get(pk=line.pk)
        if line.entry_id:
            entry = line.entry
            line.entry = None
            line.save(update_fields=["entry"])
            entry_reverse(entry=entry, actor=actor)
            return line
        if not line.payment_id:
            raise ValidationError(_("The statement line is not reconciled."), code="not_reconciled")
        payment = line.payment
        line.payment = None
        line.save(update_fields=["payment"])
        if cancel_payment:
            payment_cancel(payment=payment, actor=actor)
    return line


def _refuse_reconciled(line: StatementLine) -> None:
    if line.payment_id:
        raise ValidationError(
            _("The statement line is reconciled already (payment %(payment)s).")
            % {"payment": line.payment},
            code="reconciled",
        )
    if line.entry_id:
        raise ValidationError(
            _("The statement line is booked already (entry %(entry)s).") % {"entry": line.entry},
            code="reconciled",
        )


@audited
def statement_line_book(
    *, line: StatementLine, account: Account, actor: Any, label: str = ""
) -> StatementLine:
    """Book an open statement line straight to `account` — bank charges, interest, a
    transfer between the company's own accounts — with an entry in the statement's journal
    (bank account against `account`), dated as the line. `account` must be a postable account
    of the company that is not reconcilable (customers and suppliers are settled with a
    payment). Locks the line. Raises ValidationError / PostingError; nothing is written then."""
    with transaction.atomic():
        line = (
            StatementLine.unscoped.select_for_update(of=("self",))
            .select_related("statement__journal__account", "company")
            .get(pk=line.pk)
        )
        _refuse_reconciled(line)
        if account.company_id != line.company_id or account.is_group or account.reconcile:
            raise ValidationError(
                {"account": _("Choose a postable account of the company that is not a customer "
                              "or supplier account.")},
                code="account",
            )  # fmt: skip
        journal = line.statement.journal
        if journal.account is None:
            raise ValidationError(
                _("The journal %(journal)s has no bank account.") % {"journal": journal},
                code="not_configured",
            )
        currency = journal_currency(journal)
        amount = abs(line.amount)
        text = (label or line.reference or line.counterparty or "")[:200]
        money_in = line.amount > 0
        entry = entry_post(
            company=line.company,
            spec=EntrySpec(
                journal=journal,
                date=line.date,
                ref=text[:120],
                source_type="finance.statementline",
                source_id=line.pk,
                lines=[
                    LineSpec(account=journal.account, currency=currency, label=text,
                             debit=amount if money_in else ZERO,
                             credit=ZERO if money_in else amount),
                    LineSpec(account=account, currency=currency, label=text,
                             debit=ZERO if money_in else amount,
                             credit=amount if money_in else ZERO),
                ],
            ),
            actor=actor,
        )  # fmt: skip
        line.entry = entry
        line.save(update_fields=["entry"])
    return line


def statement_lines_open(*, statement: BankStatement) -> list[StatementLine]:
    """The statement's lines not reconciled yet, in order."""
    return list(
        StatementLine.unscoped.filter(
            statement=statement, payment__isnull=True, entry__isnull=True
        ).order_by("sequence", "pk")
    )
