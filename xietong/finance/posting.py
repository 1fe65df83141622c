"""The one posting service: every app books into the ledger through `entry_post`.

A caller describes the entry as a blueprint (`EntrySpec` with `LineSpec`s) in the transaction
currency of each line; the service converts to company currency, checks everything, creates the
draft, numbers it gap-free per journal and year, chains its hash into the journal's chain and
marks it posted, in one transaction. Anything wrong raises `PostingError` (a Django
`ValidationError` with a code) naming the problem, and nothing is written.

Checks: at least two lines; no line without an amount; debit and credit not negative and not
both set; amounts within the currency's minor unit; debits equal credits in company currency
(and in the transaction currency when all lines share one); accounts, parties, products, taxes
and the journal belong to the company; accounts are postable (not a group, active) and a line's
currency is the account's own currency when the account has one; the date's period is open.

Locks: the journal row (`select_for_update`) while an entry takes its place in the chain, so the
chain and the gap-free numbers stay in order under concurrency (SQLite serialises writers).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, Currency
from xietong.core.money import minor_units
from xietong.core.numbering import sequence_ensure, sequence_next
from xietong.core.selectors import RateNotFound, rate_on
from xietong.finance import chain
from xietong.finance.models import Account, Entry, FinanceSettings, Journal, Line, Period

ZERO = Decimal(0)


class PostingError(ValidationError):
    """The entry cannot be posted; `code` says why (unbalanced, zero_line, closed_period,
    foreign_record, currency_mismatch, group_account, …)."""


@dataclass(frozen=True)
class LineSpec:
    """One line of a blueprint. `debit`/`credit` are in `currency` (the company's when None);
    `rate` is company units per 1 currency unit (looked up by date when None); `balance`, when
    given, is the signed company-currency amount to book instead of converting (exchange
    differences, transfers at a bank's own rate)."""

    account: Account
    debit: Decimal = ZERO
    credit: Decimal = ZERO
    currency: str | None = None
    rate: Decimal | None = None
    balance: Decimal | None = None
    label: str = ""
    party: Any = None
    product: Any = None
    tax: Any = None
    due_date: dt.date | None = None
    analytic_tags: tuple[Any, ...] = ()


@dataclass(frozen=True)
class EntrySpec:
    journal: Journal
    date: dt.date
    lines: Sequence[LineSpec]
    ref: str = ""
    narration: str = ""
    source_type: str = ""
    source_id: int | None = None
    auto_reverse_on: dt.date | None = None
    closing: bool = False
    reversal_of: Entry | None = field(default=None, repr=False)


def finance_settings(company: Company) -> FinanceSettings:
    """The company's accounting policies, default accounts and journals. Raises
    ValidationError (code "not_configured") when no chart of accounts has been loaded."""
    found = (
        FinanceSettings.unscoped.select_related(
            "receivable_account",
            "payable_account",
            "income_account",
            "expense_account",
            "exchange_gain_account",
            "exchange_loss_account",
            "retained_earnings_account",
            "discount_account",
            "sales_journal",
            "purchase_journal",
            "general_journal",
        )
        .filter(company=company)
        .first()
    )
    if found is None:
        raise ValidationError(
            _("The finance settings of %(company)s are missing; load a chart of accounts first.")
            % {"company": company},
            code="not_configured",
        )
    return found


def _unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_units(currency))


def quantize(amount: Decimal, currency: str, rounding: str = ROUND_HALF_UP) -> Decimal:
    """`amount` rounded to `currency`'s minor unit."""
    return Decimal(amount).quantize(_unit(currency), rounding=rounding)


def _fail(message: str, code: str, **params: Any) -> PostingError:
    return PostingError(message % params if params else message, code=code)


def _same_company(company: Company, obj: Any, what: str) -> None:
    if obj is not None and obj.company_id != company.pk:
        raise _fail(
            _("The %(what)s “%(name)s” belongs to another company."),
            "foreign_record",
            what=what,
            name=obj,
        )


def _check_period(company: Company, date: dt.date) -> Period:
    from xietong.finance.periods import period_for

    period = period_for(company=company, date=date)
    if period.state == Period.State.CLOSED:
        raise _fail(
            _("The period %(period)s is closed; nothing more can be posted on %(date)s."),
            "closed_period",
            period=period.name,
            date=date.isoformat(),
        )
    return period


def _build_lines(company: Company, spec: EntrySpec) -> list[Line]:
    """Validated, converted and balanced (unsaved) lines of `spec`."""
    base = company.base_currency_id
    if len(spec.lines) < 2:
        raise _fail(_("An entry needs at least two lines."), "too_few_lines")
    known = set(Currency.objects.values_list("code", flat=True))
    lines: list[Line] = []
    for number, item in enumerate(spec.lines, start=1):
        account = item.account
        _same_company(company, account, _("account"))
        _same_company(company, item.party, _("party"))
        _same_company(company, item.product, _("product"))
        _same_company(company, item.tax, _("tax"))
        if account.is_group:
            raise _fail(
                _("Line %(n)s: %(account)s is a group account; post to one of its sub-accounts."),
                "group_account",
                n=number,
                account=account,
            )
        if not account.active:
            raise _fail(
                _("Line %(n)s: the account %(account)s is archived."),
                "inactive_account",
                n=number,
                account=account,
            )
        currency = (item.currency or base).upper()
        if currency not in known:
            raise _fail(
                _("Line %(n)s: “%(currency)s” is not a known currency."),
                "currency_mismatch",
                n=number,
                currency=currency,
            )
        if account.currency_id and account.currency_id != currency:
            raise _fail(
                _("Line %(n)s: the account %(account)s is kept in %(expected)s, not %(currency)s."),
                "currency_mismatch",
                n=number,
                account=account,
                expected=account.currency_id,
                currency=currency,
            )
        debit, credit = Decimal(item.debit or 0), Decimal(item.credit or 0)
        if debit < 0 or credit < 0:
            raise _fail(
                _("Line %(n)s: debit and credit cannot be negative."), "negative_amount", n=number
            )
        if debit and credit:
            raise _fail(
                _("Line %(n)s has both a debit and a credit; split it into two lines."),
                "both_sides",
                n=number,
            )
        amount_currency = debit - credit
        if quantize(amount_currency, currency) != amount_currency:
            raise _fail(
                _("Line %(n)s: %(amount)s has more decimals than %(currency)s allows."),
                "precision",
                n=number,
                amount=amount_currency,
                currency=currency,
            )
        if currency == base:
            rate = Decimal(1)
            if item.rate is not None and Decimal(item.rate) != 1:
                raise _fail(
                    _("Line %(n)s is in the company currency; its rate must be 1."),
                    "currency_mismatch",
                    n=number,
                )
        elif item.rate is not None:
            rate = Decimal(item.rate)
            if rate <= 0:
                raise _fail(_("Line %(n)s: the rate must be positive."), "bad_rate", n=number)
        else:
            try:
                rate = rate_on(company=company, currency=currency, date=spec.date)
            except RateNotFound as exc:
                raise _fail(str(exc), "no_rate") from exc
        if item.balance is not None:
            balance = Decimal(item.balance)
            if quantize(balance, base) != balance:
                raise _fail(
                    _("Line %(n)s: %(amount)s has more decimals than %(currency)s allows."),
                    "precision",
                    n=number,
                    amount=balance,
                    currency=base,
                )
            if currency == base and balance != amount_currency:
                raise _fail(
                    _("Line %(n)s: the company amount differs from the amount."),
                    "currency_mismatch",
                    n=number,
                )
        else:
            balance = quantize(amount_currency * rate, base)
        if not amount_currency and not balance:
            raise _fail(_("Line %(n)s has no amount."), "zero_line", n=number)
        lines.append(
            Line(
                company=company,
                sequence=number,
                account=account,
                date=spec.date,
                label=item.label[:200],
                debit=balance if balance > 0 else ZERO,
                credit=-balance if balance < 0 else ZERO,
                currency_id=currency,
                amount_currency=amount_currency,
                rate=rate,
                party=item.party,
                product=item.product,
                tax=item.tax,
                due_date=item.due_date,
            )
        )
    currencies = {line.currency_id for line in lines}
    if len(currencies) == 1:
        (currency,) = currencies
        total_currency = sum((line.amount_currency for line in lines), ZERO)
        if total_currency:
            raise _fail(
                _("The entry does not balance: debits exceed credits by %(amount)s %(currency)s."),
                "unbalanced",
                amount=total_currency,
                currency=currency,
            )
        residual = sum((line.debit - line.credit for line in lines), ZERO)
        if residual and currency != base:
            # Converting each line rounds; the sum may be off by a few minor units. Book the
            # difference on the largest line, as long as it is a rounding difference.
            if abs(residual) > _unit(base) * len(lines):
                raise _fail(
                    _("The entry does not balance in %(currency)s by %(amount)s."),
                    "unbalanced",
                    amount=residual,
                    currency=base,
                )
            largest = max(lines, key=lambda line: abs(line.debit - line.credit))
            new_balance = largest.debit - largest.credit - residual
            largest.debit = new_balance if new_balance > 0 else ZERO
            largest.credit = -new_balance if new_balance < 0 else ZERO
    residual = sum((line.debit - line.credit for line in lines), ZERO)
    if residual:
        raise _fail(
            _("The entry does not balance: debits exceed credits by %(amount)s %(currency)s."),
            "unbalanced",
            amount=residual,
            currency=base,
        )
    return lines


def _journal_sequence(journal: Journal) -> str:
    code = journal.sequence_code
    sequence_ensure(
        company=journal.company,
        code=code,
        name=str(journal.name),
        pattern=f"{journal.code}/{{year}}/{{number:06d}}",
        gap_free=True,
    )
    return code


@audited
def entry_create(*, company: Company, spec: EntrySpec, actor: Any = None) -> Entry:
    """Save `spec` as a draft entry (checked as for posting, except the period). Raises
    PostingError."""
    journal = spec.journal
    _same_company(company, journal, _("journal"))
    if not journal.active:
        raise _fail(_("The journal %(journal)s is archived."), "inactive_journal", journal=journal)
    lines = _build_lines(company, spec)
    with transaction.atomic():
        entry = Entry.unscoped.create(
            company=company,
            journal=journal,
            date=spec.date,
            ref=spec.ref[:120],
            narration=spec.narration,
            source_type=spec.source_type,
            source_id=spec.source_id,
            auto_reverse_on=spec.auto_reverse_on,
            closing=spec.closing,
            reversal_of=spec.reversal_of,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
        _lines_save(company, entry, lines, spec)
    return entry


def _lines_save(company: Company, entry: Entry, lines: list[Line], spec: EntrySpec) -> None:
    for line in lines:
        line.entry = entry
    Line.unscoped.bulk_create(lines)
    through = Line.analytic_tags.through
    tags = [
        through(line_id=line.pk, analytictag_id=tag.pk)
        for line, item in zip(lines, spec.lines, strict=True)
        for tag in item.analytic_tags
    ]
    if tags:
        for tag in {t for item in spec.lines for t in item.analytic_tags}:
            _same_company(company, tag, _("analytic tag"))
        through.objects.bulk_create(tags)


@audited
def entry_draft_update(*, entry: Entry, spec: EntrySpec, actor: Any = None) -> Entry:
    """Replace a draft entry's header and lines with `spec` (checked as `entry_create` does);
    the entry keeps its id. Locks the entry row. Raises PostingError."""
    company = entry.company
    _same_company(company, spec.journal, _("journal"))
    lines = _build_lines(company, spec)
    with transaction.atomic():
        entry = Entry.unscoped.select_for_update().get(pk=entry.pk)
        if entry.state != Entry.State.DRAFT:
            raise _fail(_("The entry %(entry)s is already posted."), "posted", entry=entry)
        entry.journal = spec.journal
        entry.date = spec.date
        entry.ref = spec.ref[:120]
        entry.narration = spec.narration
        entry.save()
        Line.unscoped.filter(entry=entry).delete()
        _lines_save(company, entry, lines, spec)
    return entry


@audited
def entry_draft_post(*, entry: Entry, actor: Any = None) -> Entry:
    """Post a draft entry: check its period, number it, chain it and freeze it. Locks the
    journal row. Raises PostingError."""
    company = entry.company
    with transaction.atomic():
        journal = Journal.unscoped.select_for_update().get(pk=entry.journal_id)
        entry = Entry.unscoped.select_for_update().get(pk=entry.pk)
        if entry.state != Entry.State.DRAFT:
            raise _fail(_("The entry %(entry)s is already posted."), "posted", entry=entry)
        period = _check_period(company, entry.date)
        lines = list(Line.unscoped.filter(entry=entry))
        total = sum((line.debit - line.credit for line in lines), ZERO)
        if len(lines) < 2 or total:
            raise _fail(_("The entry does not balance."), "unbalanced")
        last = (
            Entry.unscoped.filter(journal=journal, state=Entry.State.POSTED)
            .order_by("-chain_index")
            .values_list("chain_index", "hash")
            .first()
        )
        index, previous = (last[0] + 1, last[1]) if last else (1, chain.GENESIS)
        entry.number = sequence_next(
            company=company, code=_journal_sequence(journal), date=entry.date
        )
        entry.chain_index = index
        entry.previous_hash = previous
        entry.period = period
        entry.hash = chain.entry_hash(previous, chain.entry_payload(entry, lines))
        entry.state = Entry.State.POSTED
        entry.posted_at = timezone.now()
        entry.posted_by = actor if getattr(actor, "pk", None) else None
        entry.save()
    return entry


def entry_post(*, company: Company, spec: EntrySpec, actor: Any = None) -> Entry:
    """Check, create and post the entry described by `spec` in one transaction; return it.
    Raises PostingError and writes nothing when anything is wrong."""
    with transaction.atomic():
        entry = entry_create(company=company, spec=spec, actor=actor)
        return entry_draft_post(entry=entry, actor=actor)


@audited
def entry_draft_delete(*, entry: Entry, actor: Any = None) -> None:
    if entry.state != Entry.State.DRAFT:
        raise _fail(
            _("A posted entry cannot be deleted; reverse it instead."), "posted", entry=entry
        )
    entry.delete()


def reversal_spec(entry: Entry, *, date: dt.date, ref: str = "") -> EntrySpec:
    """The blueprint that cancels `entry`: the same lines with debit and credit swapped."""
    lines = [
        LineSpec(
            account=line.account,
            debit=-line.amount_currency if line.amount_currency < 0 else ZERO,
            credit=line.amount_currency if line.amount_currency > 0 else ZERO,
            currency=line.currency_id,
            rate=line.rate,
            balance=line.credit - line.debit,
            label=line.label,
            party=line.party,
            product=line.product,
            tax=line.tax,
            due_date=line.due_date,
            analytic_tags=tuple(line.analytic_tags.all()),
        )
        for line in entry.lines.select_related("account", "party", "product", "tax")
    ]
    return EntrySpec(
        journal=entry.journal,
        date=date,
        lines=lines,
        ref=ref or _("Reversal of %(number)s") % {"number": entry.number},
        source_type=entry.source_type,
        source_id=entry.source_id,
        reversal_of=entry,
    )


@audited
def entry_reverse(
    *, entry: Entry, actor: Any = None, date: dt.date | None = None, ref: str = ""
) -> Entry:
    """Post the reversal of posted `entry` (on `date`, by default the entry's own date when its
    period is open) and reconcile each reconcilable line with its mirror. Refused when the entry
    is a draft, already reversed, or has reconciled lines (undo the reconciliation first)."""
    from xietong.finance.reconcile import lines_match

    if entry.state != Entry.State.POSTED:
        raise _fail(_("Only a posted entry can be reversed."), "not_posted")
    if Entry.unscoped.filter(reversal_of=entry).exists():
        raise _fail(_("The entry %(entry)s is already reversed."), "reversed", entry=entry)
    matched = Q(debit_matches__isnull=False) | Q(credit_matches__isnull=False)
    if Line.unscoped.filter(entry=entry).filter(matched).exists():
        raise _fail(
            _("Lines of %(entry)s are reconciled; undo the reconciliation first."),
            "reconciled",
            entry=entry,
        )
    if date is None:
        from xietong.finance.periods import period_for

        date = entry.date
        if period_for(company=entry.company, date=date).state == Period.State.CLOSED:
            date = timezone.localdate()
    spec = reversal_spec(entry, date=date, ref=ref)
    with transaction.atomic():
        reversal = entry_post(company=entry.company, spec=spec, actor=actor)
        originals = Line.unscoped.filter(entry=entry, account__reconcile=True).order_by("sequence")
        mirrors = Line.unscoped.filter(entry=reversal, account__reconcile=True).order_by("sequence")
        for original, mirror in zip(originals, mirrors, strict=True):
            lines_match(lines=[original, mirror], actor=actor)
    return reversal
