"""Receivables and payables: aging, customer statements and dunning letters.

Everything here reads open items *as of a date*: the receivable/payable lines dated on or before
it, less the reconciliations whose two lines are both dated on or before it. A payment dated
after the date therefore does not reduce an invoice as of that date, even though it was
reconciled since (and a reconciliation made late for a payment dated early counts from the
payment's date). `Match.created_at`, the moment someone pressed the button, is not used: line
dates are the business dates, and with them the open items as of a date always add up to the
balance of the accounts as of that date (each match reduces a debit and a credit line by the
same company amount; exchange differences are lines of their own, dated when realised).

Aging puts each open item in a column by its days past due (due date, else its date): not due,
one column per bucket (1–30, 31–60, 61–90 by default) and older. Unallocated credits
(payments on account, credit notes) are aged the same way and reduce the party's total, so the
report's total is the ledger balance.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.core.money import minor_units
from xietong.finance.amounts import AmountSum
from xietong.finance.models import (
    Account,
    AccountSubtype,
    Dunning,
    DunningLevel,
    Entry,
    FinanceSettings,
    Invoice,
    Line,
    Match,
    Payment,
)
from xietong.party.models import Party

ZERO = Decimal(0)
RECEIVABLE = "receivable"
PAYABLE = "payable"


# --- open items as of a date ------------------------------------------------------------------


@dataclass(frozen=True)
class OpenItem:
    """A receivable/payable line with what was still open of it as of a date. Amounts are
    signed like the line (+ debit, − credit); `residual` in company currency,
    `residual_currency` in the line's currency."""

    line_id: int
    entry_id: int
    party_id: int | None
    account_id: int
    date: dt.date
    due_date: dt.date | None
    currency: str
    amount: Decimal
    amount_currency: Decimal
    residual: Decimal
    residual_currency: Decimal
    label: str
    number: str

    @property
    def due(self) -> dt.date:
        return self.due_date or self.date

    def days_overdue(self, as_of: dt.date) -> int:
        return max((as_of - self.due).days, 0)


def partner_accounts(*, company: Company, kind: str = RECEIVABLE) -> QuerySet[Account]:
    """The company's receivable (or payable) accounts: of that subtype, or the one the finance
    settings name."""
    if kind not in (RECEIVABLE, PAYABLE):
        raise ValidationError(
            _("“%(kind)s” is neither receivable nor payable.") % {"kind": kind}, code="invalid"
        )
    subtype = AccountSubtype.RECEIVABLE if kind == RECEIVABLE else AccountSubtype.PAYABLE
    setting = "receivable_account_id" if kind == RECEIVABLE else "payable_account_id"
    named = FinanceSettings.unscoped.filter(company=company).values_list(setting, flat=True)
    return Account.unscoped.filter(Q(subtype=subtype) | Q(pk__in=named), company=company)


def open_items_as_of(
    *,
    company: Company,
    accounts: Iterable[Account] | QuerySet[Account],
    as_of: dt.date,
    party: Party | None = None,
    entry_ids: Iterable[int] | None = None,
) -> list[OpenItem]:
    """Lines of `accounts` (posted, dated ≤ `as_of`, of `party` when given) still open as of
    `as_of` (see the module), oldest due first. Three queries."""
    lines = Line.unscoped.filter(
        company=company, account__in=accounts, entry__state=Entry.State.POSTED, date__lte=as_of
    )
    matches = Match.unscoped.filter(
        company=company,
        debit_line__account__in=accounts,
        debit_line__date__lte=as_of,
        credit_line__date__lte=as_of,
    )
    if party is not None:
        lines = lines.filter(party=party)
        matches = matches.filter(debit_line__party=party)
    if entry_ids is not None:
        entry_ids = list(entry_ids)
        lines = lines.filter(entry_id__in=entry_ids)
    matched: dict[int, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for side, sign in (("debit_line", 1), ("credit_line", -1)):
        for row in (
            matches.order_by()
            .values(side)
            .annotate(amount=AmountSum("amount"), amount_currency=AmountSum("amount_currency"))
        ):
            total = matched[row[side]]
            total[0] += sign * row["amount"]
            total[1] += sign * row["amount_currency"]
    result = []
    for row in lines.values_list(
        "pk", "entry_id", "party_id", "account_id", "date", "due_date", "currency_id",
        "debit", "credit", "amount_currency", "label", "entry__number",
    ):  # fmt: skip
        pk, entry_id, party_id, account_id, date, due_date, currency, debit, credit, cur, *rest = (
            row
        )
        amount = debit - credit
        done, done_currency = matched.get(pk, (ZERO, ZERO))
        residual, residual_currency = amount - done, cur - done_currency
        if residual or residual_currency:
            result.append(
                OpenItem(
                    pk, entry_id, party_id, account_id, date, due_date, currency, amount, cur,
                    residual, residual_currency, rest[0], rest[1],
                )
            )  # fmt: skip
    result.sort(key=lambda item: (item.due, item.date, item.line_id))
    return result


# --- aging ------------------------------------------------------------------------------------


@dataclass
class AgingRow:
    party: Party | None
    amounts: list[Decimal]  # not due, one per bucket, older
    total: Decimal


@dataclass
class AgingReport:
    kind: str
    as_of: dt.date
    currency: str
    buckets: tuple[int, ...]
    columns: list[str]
    rows: list[AgingRow]
    totals: list[Decimal]
    total: Decimal


def aging_columns(buckets: Sequence[int]) -> list[str]:
    labels = [_("Not due")]
    low = 1
    for high in buckets:
        labels.append(f"{low}–{high}")
        low = high + 1
    labels.append(_("Over %(days)d") % {"days": buckets[-1]} if buckets else _("Overdue"))
    return labels


def _bucket(days: int, buckets: Sequence[int]) -> int:
    if days <= 0:
        return 0
    for index, high in enumerate(buckets, start=1):
        if days <= high:
            return index
    return len(buckets) + 1


def aging(
    *,
    company: Company,
    kind: str = RECEIVABLE,
    as_of: dt.date,
    buckets: Sequence[int] = (30, 60, 90),
) -> AgingReport:
    """What each party owed (receivable) or was owed (payable) as of `as_of`, in company
    currency, by days past due: not due, 1–30, 31–60, 61–90, over 90 (`buckets` sets the
    limits), with each party's total and the column totals. Payables are shown positive.
    Raises ValidationError for an unknown kind or buckets not increasing."""
    buckets = tuple(int(b) for b in buckets)
    if any(b <= 0 for b in buckets) or list(buckets) != sorted(set(buckets)):
        raise ValidationError(
            _("The aging buckets must be increasing numbers of days, e.g. 30, 60, 90."),
            code="invalid",
        )
    accounts = partner_accounts(company=company, kind=kind)
    sign = 1 if kind == RECEIVABLE else -1
    width = len(buckets) + 2
    by_party: dict[int | None, list[Decimal]] = defaultdict(lambda: [ZERO] * width)
    for item in open_items_as_of(company=company, accounts=accounts, as_of=as_of):
        if item.residual:
            by_party[item.party_id][_bucket((as_of - item.due).days, buckets)] += (
                sign * item.residual
            )
    parties = Party.unscoped.in_bulk([pk for pk in by_party if pk is not None])
    rows = [
        AgingRow(parties.get(pk) if pk else None, amounts, sum(amounts, ZERO))
        for pk, amounts in by_party.items()
        if any(amounts)
    ]
    rows.sort(key=lambda row: (row.party is None, str(row.party or "")))
    totals = [sum((row.amounts[i] for row in rows), ZERO) for i in range(width)]
    return AgingReport(
        kind=kind,
        as_of=as_of,
        currency=company.base_currency_id,
        buckets=buckets,
        columns=aging_columns(buckets),
        rows=rows,
        totals=totals,
        total=sum(totals, ZERO),
    )


# --- customer statement -----------------------------------------------------------------------


@dataclass
class StatementRow:
    date: dt.date
    document: str
    description: str
    due_date: dt.date | None
    debit: Decimal
    credit: Decimal
    balance: Decimal


@dataclass
class StatementItem:
    date: dt.date
    document: str
    due_date: dt.date
    days_overdue: int
    amount: Decimal
    residual: Decimal


@dataclass
class Statement:
    company: Company
    party: Party
    start: dt.date
    end: dt.date
    currency: str
    opening: Decimal
    rows: list[StatementRow]
    closing: Decimal
    open_items: list[StatementItem] = field(default_factory=list)
    overdue: Decimal = ZERO


def _documents(entry_ids: Iterable[int]) -> dict[int, tuple[str, str]]:
    """(document number, description) of the invoices and payments behind entries."""
    entry_ids = set(entry_ids)
    result: dict[int, tuple[str, str]] = {}
    for invoice in Invoice.unscoped.filter(entry_id__in=entry_ids):
        result[invoice.entry_id] = (invoice.number, str(invoice.get_kind_display()))
    for payment in Payment.unscoped.filter(entry_id__in=entry_ids):
        result[payment.entry_id] = (
            payment.number,
            " ".join(filter(None, [str(payment.get_direction_display()), payment.reference])),
        )
    return result


def customer_statement(
    *,
    company: Company,
    party: Party,
    start: dt.date,
    end: dt.date,
    currency: str | None = None,
) -> Statement:
    """The party's receivable account from `start` to `end`: the opening balance, every line in
    between with the running balance, the closing balance and the items still open at `end`
    with their due dates and days overdue. In company currency, or with `currency` only the
    lines in that currency, in it. Raises ValidationError when `end` is before `start`."""
    if end < start:
        raise ValidationError(
            _("The statement ends on %(end)s, before it starts (%(start)s).")
            % {"end": end.isoformat(), "start": start.isoformat()},
            code="invalid",
        )
    base = company.base_currency_id
    in_currency = bool(currency and currency != base)
    currency = currency if in_currency else base
    accounts = partner_accounts(company=company, kind=RECEIVABLE)
    lines = Line.unscoped.filter(
        company=company, account__in=accounts, party=party, entry__state=Entry.State.POSTED
    )
    if in_currency:
        lines = lines.filter(currency_id=currency)
    field_ = "amount_currency" if in_currency else None
    if field_:
        opening = lines.filter(date__lt=start).aggregate(t=AmountSum(field_))["t"] or ZERO
    else:
        totals = lines.filter(date__lt=start).aggregate(d=AmountSum("debit"), c=AmountSum("credit"))
        opening = (totals["d"] or ZERO) - (totals["c"] or ZERO)
    period = list(
        lines.filter(date__gte=start, date__lte=end)
        .select_related("entry")
        .order_by("date", "entry_id", "sequence")
    )
    documents = _documents(line.entry_id for line in period)
    rows = []
    balance = opening
    for line in period:
        amount = line.amount_currency if in_currency else line.debit - line.credit
        if not amount:
            continue
        balance += amount
        number, description = documents.get(
            line.entry_id, (line.entry.number, line.entry.ref or line.label)
        )
        if line.entry.source_type == "finance.match":
            description = _("Exchange difference")
        rows.append(
            StatementRow(
                date=line.date,
                document=number,
                description=description,
                due_date=line.due_date,
                debit=amount if amount > 0 else ZERO,
                credit=-amount if amount < 0 else ZERO,
                balance=balance,
            )
        )
    items = []
    for item in open_items_as_of(company=company, accounts=accounts, as_of=end, party=party):
        if in_currency and item.currency != currency:
            continue
        residual = item.residual_currency if in_currency else item.residual
        if residual:
            items.append((item, residual))
    open_documents = _documents(item.entry_id for item, _residual in items)
    open_rows = [
        StatementItem(
            date=item.date,
            document=open_documents.get(item.entry_id, (item.number, ""))[0],
            due_date=item.due,
            days_overdue=item.days_overdue(end),
            amount=item.amount_currency if in_currency else item.amount,
            residual=residual,
        )
        for item, residual in items
    ]
    return Statement(
        company=company,
        party=party,
        start=start,
        end=end,
        currency=currency,
        opening=opening,
        rows=rows,
        closing=balance,
        open_items=open_rows,
        overdue=sum((row.residual for row in open_rows if row.days_overdue > 0), ZERO),
    )


def amount_text(amount: Decimal | None, currency: str) -> str:
    """`amount` rounded to `currency`'s minor unit with thousands separators ("1,234.50"), the
    same in every language (PDF documents)."""
    if amount is None:
        return ""
    unit = Decimal(1).scaleb(-minor_units(currency))
    return f"{Decimal(amount).quantize(unit):,f}"


def _texts(obj: Any, currency: str, *names: str) -> dict[str, Any]:
    """The dataclass `obj` as a dict, its amount fields `names` formatted (zero: empty)."""
    values = {f.name: getattr(obj, f.name) for f in fields(obj)}
    for name in names:
        values[name] = amount_text(values[name], currency) if values[name] else ""
    return values


def _party_address(party: Party) -> str:
    from xietong.party.selectors import address_text, default_address

    address = default_address(party=party)
    return address_text(address) if address else ""


def customer_statement_pdf(
    *,
    company: Company,
    party: Party,
    start: dt.date,
    end: dt.date,
    currency: str | None = None,
    language: str | None = None,
) -> bytes:
    """The customer statement as a PDF in the party's language (or `language`)."""
    from xietong.core.pdf import pdf_render

    statement = customer_statement(
        company=company, party=party, start=start, end=end, currency=currency
    )
    currency = statement.currency
    return pdf_render(
        template="finance/pdf/statement.html",
        context={
            "company": company,
            "party": party,
            "address": _party_address(party),
            "statement": statement,
            "opening": amount_text(statement.opening, currency),
            "closing": amount_text(statement.closing, currency),
            "overdue": amount_text(statement.overdue, currency) if statement.overdue else "",
            "rows": [
                {
                    **_texts(row, currency, "debit", "credit"),
                    "balance": amount_text(row.balance, currency),
                }
                for row in statement.rows
            ],
            "open_items": [
                {
                    **_texts(item, currency, "amount"),
                    "residual": amount_text(item.residual, currency),
                }
                for item in statement.open_items
            ],
        },
        language=language or party.language,
    )


# --- dunning ----------------------------------------------------------------------------------


@dataclass
class _Overdue:
    invoice: Invoice
    amount: Decimal  # overdue, in the invoice currency
    days: int


def _overdue_invoices(
    company: Company, date: dt.date, party: Party | None = None
) -> dict[tuple[int, str], list[_Overdue]]:
    """Posted customer invoices with installments past due and unpaid as of `date`, by
    (party, currency)."""
    accounts = partner_accounts(company=company, kind=RECEIVABLE)
    by_entry: dict[int, list[OpenItem]] = defaultdict(list)
    for item in open_items_as_of(company=company, accounts=accounts, as_of=date, party=party):
        if item.residual_currency > 0 and item.due < date:
            by_entry[item.entry_id].append(item)
    invoices = Invoice.unscoped.filter(
        company=company,
        entry_id__in=list(by_entry),
        kind=Invoice.Kind.CUSTOMER_INVOICE,
        state=Invoice.State.POSTED,
    ).select_related("party")
    groups: dict[tuple[int, str], list[_Overdue]] = defaultdict(list)
    for invoice in invoices:
        items = by_entry[invoice.entry_id]
        groups[(invoice.party_id, invoice.currency_id)].append(
            _Overdue(
                invoice,
                sum((i.residual_currency for i in items), ZERO),
                max(i.days_overdue(date) for i in items),
            )
        )
    for overdue in groups.values():
        overdue.sort(key=lambda o: (-o.days, o.invoice.pk))
    return groups


@audited
def dunning_run(*, company: Company, actor: Any, date: dt.date) -> list[Dunning]:
    """Send payment reminders as of `date`: for each customer (and currency) with overdue
    invoices, the highest dunning level whose `days_overdue` the oldest of them has reached,
    unless every one of those invoices was already reminded at that level or a higher one.
    Creates one `Dunning` per customer and currency (its invoices, the overdue amount) and a
    "dunning" entry in the customer's timeline. Running again changes nothing until an
    invoice reaches the next level or a new one falls overdue. Locks the company's dunning
    levels, so two runs do not send the same letters twice. Returns the new reminders."""
    with transaction.atomic():
        levels = list(
            DunningLevel.unscoped.select_for_update().filter(company=company).order_by("level")
        )
        if not levels:
            return []
        groups = _overdue_invoices(company, date)
        invoice_ids = [o.invoice.pk for overdue in groups.values() for o in overdue]
        sent = dict(
            Dunning.invoices.through.objects.filter(
                invoice_id__in=invoice_ids, dunning__company=company
            )
            .values("invoice_id")
            .annotate(level=Max("dunning__level__level"))
            .values_list("invoice_id", "level")
        )
        created = []
        for (_party_id, currency), overdue in sorted(
            groups.items(), key=lambda kv: (str(kv[1][0].invoice.party), kv[0][1])
        ):
            oldest = max(o.days for o in overdue)
            reached = [level for level in levels if level.days_overdue <= oldest]
            if not reached:
                continue
            level = max(reached, key=lambda lv: lv.level)
            if all(sent.get(o.invoice.pk, -1) >= level.level for o in overdue):
                continue
            party = overdue[0].invoice.party
            dunning = Dunning.unscoped.create(
                company=company,
                party=party,
                level=level,
                date=date,
                amount_due=sum((o.amount for o in overdue), ZERO),
                currency_id=currency,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
            dunning.invoices.set([o.invoice for o in overdue])
            _dunning_timeline(dunning, overdue, actor)
            created.append(dunning)
    return created


def _dunning_timeline(dunning: Dunning, overdue: list[_Overdue], actor: Any) -> None:
    from xietong.finance.payments import money_text
    from xietong.party.services import timeline_add

    timeline_add(
        party=dunning.party,
        kind="dunning",
        summary=_("Reminder “%(level)s” sent: %(amount)s overdue (%(invoices)s)")
        % {
            "level": dunning.level.name,
            "amount": money_text(dunning.amount_due, dunning.currency_id),
            "invoices": ", ".join(str(o.invoice) for o in overdue),
        },
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        source=dunning,
    )


@dataclass
class DunningLetterLine:
    invoice: Invoice
    date: dt.date
    due_date: dt.date | None
    days_overdue: int
    amount: Decimal


def dunning_letter_lines(*, dunning: Dunning) -> list[DunningLetterLine]:
    """The reminder's invoices with what was overdue on them on its date."""
    invoices = list(dunning.invoices.all())
    overdue = {
        o.invoice.pk: o
        for o in _overdue_invoices(dunning.company, dunning.date, party=dunning.party).get(
            (dunning.party_id, dunning.currency_id), []
        )
    }
    lines = []
    for invoice in invoices:
        item = overdue.get(invoice.pk)
        lines.append(
            DunningLetterLine(
                invoice=invoice,
                date=invoice.date,
                due_date=invoice.due_date,
                days_overdue=item.days if item else 0,
                amount=item.amount if item else ZERO,
            )
        )
    lines.sort(key=lambda line: (-line.days_overdue, line.invoice.pk))
    return lines


def dunning_pdf(*, dunning: Dunning, language: str | None = None) -> bytes:
    """The reminder letter as a PDF in the customer's language (or `language`): the level's
    name and text, the overdue invoices with due dates, days and amounts, the total and the
    level's fee (else the settings' dunning fee; in company currency) when there is one."""
    from xietong.core.pdf import pdf_render

    dunning = Dunning.unscoped.select_related("company", "party", "level").get(pk=dunning.pk)
    base = dunning.company.base_currency_id
    fee = dunning.level.fee
    if not fee:
        fee = (
            FinanceSettings.unscoped.filter(company=dunning.company)
            .values_list("dunning_fee", flat=True)
            .first()
            or ZERO
        )
    return pdf_render(
        template="finance/pdf/dunning.html",
        context={
            "company": dunning.company,
            "party": dunning.party,
            "address": _party_address(dunning.party),
            "dunning": dunning,
            "level": dunning.level,
            "lines": [
                _texts(line, dunning.currency_id, "amount")
                for line in dunning_letter_lines(dunning=dunning)
            ],
            "amount_due": amount_text(dunning.amount_due, dunning.currency_id),
            "fee": amount_text(fee, base) if fee else "",
            "fee_currency": base,
            "total": (
                amount_text(dunning.amount_due + fee, base) if base == dunning.currency_id else ""
            ),
            "currency": dunning.currency_id,
        },
        language=language or dunning.party.language,
    )
