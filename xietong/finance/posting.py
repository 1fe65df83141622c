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

`entries_post` posts many blueprints at once (numbers and chain in date order, rows in bulk),
as `entry_post` one after the other would.

Locks: the journal row (`select_for_update`) while an entry takes its place in the chain, so the
chain and the gap-free numbers stay in order under concurrency (SQLite serialises writers).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audit_write, audited
from xietong.core.models import Company, Currency
from xietong.core.money import minor_units
from xietong.core.numbering import NumberingError, sequence_ensure, sequence_next_many
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


@dataclass
class _Scope:
    """What one service call has read already (see `finance_scope`)."""

    settings: dict[int, FinanceSettings] = field(default_factory=dict)
    periods: list[Period] = field(default_factory=list)
    currencies: set[str] = field(default_factory=set)
    audit: list[tuple[Any, list[tuple[Any, Any]]]] = field(default_factory=list)
    defer_audit: bool = False


_SCOPE: ContextVar[_Scope | None] = ContextVar("xietong_finance_scope", default=None)


@contextmanager
def finance_scope() -> Iterator[None]:
    """Within one service call, read the finance settings, the periods and the known currencies
    once, and write the audit entries of rows saved in bulk (`audit_later`) with one statement
    when the call ends. Enter it inside the service's transaction, so nothing read here is ever
    used in another transaction and the audit entries are written in the transaction of their
    rows; a nested scope is the outer one. Nothing is cached between service calls."""
    if _SCOPE.get() is not None:
        yield
        return
    scope = _Scope(defer_audit=connection.in_atomic_block)
    token = _SCOPE.set(scope)
    try:
        yield
        if scope.audit:
            audit_write(scope.audit)
    finally:
        _SCOPE.reset(token)


@contextmanager
def service_atomic() -> Iterator[None]:
    """The transaction of a write service: its own when called outside one, else the caller's,
    without a savepoint. The service raises its refusals before its first write (so a caller
    that catches one carries on with its transaction as it was) and does its writes in
    `transaction.atomic(savepoint=False)`, so that a failure while writing aborts the caller's
    whole transaction instead of leaving half the writes in it."""
    if connection.in_atomic_block:
        yield
    else:
        with transaction.atomic():
            yield


def refresh_from(target: Any, source: Any) -> None:
    """Give `target` the field values of `source`, a fresher instance of the same row, as
    `target.refresh_from_db()` would (cached relations of `target` are forgotten, those
    `source` holds are taken over), without reading the row again."""
    for model_field in target._meta.concrete_fields:
        setattr(target, model_field.attname, getattr(source, model_field.attname))
    stored_decimals(target)
    target._state.fields_cache = dict(source._state.fields_cache)
    target._state.db = source._state.db
    target._state.adding = False
    target._prefetched_objects_cache = {}


def row_update(before: Any, row: Any, *, actor: Any = None) -> None:
    """Write the fields of `row` that differ from `before` (the row as read, e.g. locked) and
    their audit entry (`audit_later`), as `row.save()` would, without reading the row again."""
    model = type(row)
    changed = {
        model_field.attname: getattr(row, model_field.attname)
        for model_field in model._meta.concrete_fields
        if getattr(before, model_field.attname) != getattr(row, model_field.attname)
    }
    if changed:
        model._base_manager.filter(pk=row.pk).update(**changed)
        audit_later([(before, row)], actor=actor)


def rows_update(pairs: Sequence[tuple[Any, Any]], *, actor: Any = None) -> None:
    """`row_update` of many (before, row) pairs of one model: the changed fields of them all
    written with one statement (`bulk_update`), and their audit entries (`audit_later`)."""
    if not pairs:
        return
    model = type(pairs[0][1])
    names: dict[str, None] = {}
    changed = []
    for before, row in pairs:
        fields = [
            model_field.attname
            for model_field in model._meta.concrete_fields
            if getattr(before, model_field.attname) != getattr(row, model_field.attname)
        ]
        if fields:
            names.update(dict.fromkeys(fields))
            changed.append(row)
    if len(changed) == 1:
        row_update(*next(pair for pair in pairs if pair[1] is changed[0]), actor=actor)
        return
    if changed:
        model._base_manager.bulk_update(changed, list(names))
        audit_later(list(pairs), actor=actor)


def audit_later(pairs: list[tuple[Any, Any]], *, actor: Any = None) -> None:
    """Audit entries for rows written without `save()` ((row before, row after) pairs, before
    None for a new row), as django-auditlog writes them (`core.audit.audit_write`): at the end
    of the current `finance_scope`, else now."""
    scope = _SCOPE.get()
    if scope is not None and scope.defer_audit:
        scope.audit.append((actor, pairs))
    else:
        audit_write([(actor, pairs)])


def finance_settings(company: Company) -> FinanceSettings:
    """The company's accounting policies, default accounts and journals (each account and
    journal is read when first used). Raises ValidationError (code "not_configured") when no
    chart of accounts has been loaded."""
    return settings_with(company)


def settings_with(company: Company, *related: str) -> FinanceSettings:
    """`finance_settings` with the accounts and journals `related` (field names) read as well,
    in the same query when the settings are read now; read once per `finance_scope`."""
    scope = _SCOPE.get()
    found = scope.settings.get(company.pk) if scope is not None else None
    if found is not None:
        missing = [name for name in related if not getattr(FinanceSettings, name).is_cached(found)]
        for name in missing:  # rarely more than one
            getattr(found, name)
        return found
    try:
        queryset = FinanceSettings.unscoped.all()
        if related:  # (without names, select_related would follow every link)
            queryset = queryset.select_related(*related)
        found = queryset.get(company=company)
    except FinanceSettings.DoesNotExist:
        raise ValidationError(
            _("The finance settings of %(company)s are missing; load a chart of accounts first.")
            % {"company": company},
            code="not_configured",
        ) from None
    found.company = company
    if scope is not None:
        scope.settings[company.pk] = found
    return found


def period_of(company: Company, date: dt.date) -> Period:
    """`periods.period_for`, read once per `finance_scope`."""
    from xietong.finance.periods import period_for

    scope = _SCOPE.get()
    if scope is not None:
        for period in scope.periods:
            if period.company_id == company.pk and period.start <= date <= period.end:
                return period
    period = period_for(company=company, date=date)
    if scope is not None:
        scope.periods.append(period)
    return period


_EXACT_DIGITS = 15  # SQLite keeps a number's first 15 significant digits


def stored_decimals(row: Any) -> Any:
    """Give the decimal fields of `row` the form the database reads them back in: exactly the
    field's decimal places (PostgreSQL rounds half up beyond them); returns `row`."""
    for model_field in _decimal_fields(type(row)):
        value = getattr(row, model_field.attname)
        if value is not None:
            unit = Decimal(1).scaleb(-model_field.decimal_places)
            setattr(row, model_field.attname, value.quantize(unit, rounding=ROUND_HALF_UP))
    return row


_DECIMAL_FIELDS: dict[type, list[Any]] = {}


def _decimal_fields(model: type) -> list[Any]:
    if model not in _DECIMAL_FIELDS:
        _DECIMAL_FIELDS[model] = [
            f
            for f in model._meta.concrete_fields  # type: ignore[attr-defined]
            if f.get_internal_type() == "DecimalField"
        ]
    return _DECIMAL_FIELDS[model]


def _exact_on_sqlite(lines: Sequence[Line]) -> bool:
    """Whether SQLite gives the amounts and rates of `lines` back unchanged."""
    return all(
        len(value.normalize().as_tuple().digits) <= _EXACT_DIGITS
        for line in lines
        for value in (line.debit, line.credit, line.amount_currency, line.rate)
    )


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
    period = period_of(company, date)
    if period.state == Period.State.CLOSED:
        raise _fail(
            _("The period %(period)s is closed; nothing more can be posted on %(date)s."),
            "closed_period",
            period=period.name,
            date=date.isoformat(),
        )
    return period


def _known_currencies(codes: set[str], base: str) -> set[str]:
    """Those of `codes` that are currencies (the company's own is, by its foreign key)."""
    scope = _SCOPE.get()
    cached = scope.currencies if scope is not None else set()
    unknown = codes - cached - {base}
    if unknown:
        found = set(Currency.objects.filter(code__in=unknown).values_list("code", flat=True))
        cached |= found
        unknown -= found
    return codes - unknown


def _build_lines(company: Company, spec: EntrySpec) -> list[Line]:
    """Validated, converted and balanced (unsaved) lines of `spec`."""
    base = company.base_currency_id
    if len(spec.lines) < 2:
        raise _fail(_("An entry needs at least two lines."), "too_few_lines")
    known = _known_currencies({(item.currency or base).upper() for item in spec.lines}, base)
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
    for line in lines:  # as stored, so the hash and the returned lines are those of the rows
        stored_decimals(line)
    return lines


def _journal_sequence(journal: Journal, company: Company) -> str:
    code = journal.sequence_code
    sequence_ensure(
        company=company,
        code=code,
        name=str(journal.name),
        pattern=f"{journal.code}/{{year}}/{{number:06d}}",
        gap_free=True,
    )
    return code


def _number(journal: Journal, company: Company, date: dt.date) -> str:
    """The next gap-free number of `journal` (locked) for `date`; its series is created on the
    journal's first entry."""
    return _numbers(journal, company, date, 1)[0]


def _numbers(journal: Journal, company: Company, date: dt.date, count: int) -> list[str]:
    """The next `count` gap-free numbers of `journal` (locked) for `date` (one statement);
    its series is created on the journal's first entry."""
    try:
        return sequence_next_many(
            company=company, code=journal.sequence_code, date=date, count=count
        )
    except NumberingError:
        pass  # no series yet (or another problem, which the second try reports)
    code = _journal_sequence(journal, company)
    return sequence_next_many(company=company, code=code, date=date, count=count)


def _chain_head(journal: Journal) -> tuple[int, str]:
    """The chain index and previous hash the next posted entry of `journal` (locked) takes."""
    last = list(
        Entry.unscoped.filter(journal=journal, state=Entry.State.POSTED)
        .order_by("-chain_index")
        .values_list("chain_index", "hash")[:1]
    )
    return (last[0][0] + 1, last[0][1]) if last else (1, chain.GENESIS)


def _check_journal(company: Company, journal: Journal) -> None:
    _same_company(company, journal, _("journal"))
    if not journal.active:
        raise _fail(_("The journal %(journal)s is archived."), "inactive_journal", journal=journal)


def _check_tags(company: Company, spec: EntrySpec) -> None:
    for tag in {t for item in spec.lines for t in item.analytic_tags}:
        _same_company(company, tag, _("analytic tag"))


@audited
def entry_create(*, company: Company, spec: EntrySpec, actor: Any = None) -> Entry:
    """Save `spec` as a draft entry (checked as for posting, except the period). Raises
    PostingError."""
    journal = spec.journal
    _check_journal(company, journal)
    lines = _build_lines(company, spec)
    _check_tags(company, spec)
    with transaction.atomic(savepoint=False):
        entry = _entry_new(company, spec, actor if getattr(actor, "pk", None) else None)
        entry.save(force_insert=True)
        _lines_save(company, entry, lines, spec)
    return entry


def _lines_save(company: Company, entry: Entry, lines: list[Line], spec: EntrySpec) -> None:
    """Insert `lines` (checked, their analytic tags too) of `entry`."""
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
        through.objects.bulk_create(tags)


@audited
def entry_draft_update(*, entry: Entry, spec: EntrySpec, actor: Any = None) -> Entry:
    """Replace a draft entry's header and lines with `spec` (checked as `entry_create` does);
    the entry keeps its id. Locks the entry row. Raises PostingError."""
    company = entry.company
    _same_company(company, spec.journal, _("journal"))
    lines = _build_lines(company, spec)
    _check_tags(company, spec)
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
        index, previous = _chain_head(journal)
        entry.number = _number(journal, company, entry.date)
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
    """Check, create and post the entry described by `spec` in one transaction; return it with
    its lines (`entry.lines.all()` reads nothing more). Raises PostingError and writes nothing
    when anything is wrong.

    Everything that can refuse the entry is checked before the first write, so a caller's
    transaction is left as it was when the entry is refused; a failure while writing (the
    database guards) aborts the caller's whole transaction. The entry is inserted, its lines
    too, and moved from draft to posted (the guards check it then), as `entry_create` and
    `entry_draft_post` would, with the same two audit entries."""
    if isinstance(spec.date, dt.datetime):  # stored as its date
        spec = replace(spec, date=Entry._meta.get_field("date").to_python(spec.date))
    journal = spec.journal
    _check_journal(company, journal)
    lines = _build_lines(company, spec)
    _check_tags(company, spec)
    if not connection.in_atomic_block:
        with transaction.atomic(), finance_scope():
            return _entry_post(company, spec, lines, actor)
    with finance_scope():
        return _entry_post(company, spec, lines, actor)


def _entry_post(company: Company, spec: EntrySpec, lines: list[Line], actor: Any) -> Entry:
    period = _check_period(company, spec.date)
    with transaction.atomic(savepoint=False):
        journal = Journal.unscoped.select_for_update().get(pk=spec.journal.pk)
        index, previous = _chain_head(journal)
        user = actor if getattr(actor, "pk", None) else None
        entry = _entry_new(company, spec, user)
        draft = copy.copy(entry)
        # Inserted as a draft (the database refuses anything else), numbered and chained
        # already; posting it below is when the database guards check it.
        entry.number = _number(journal, company, spec.date)
        entry.chain_index, entry.previous_hash, entry.period = index, previous, period
        entry.posted_at, entry.posted_by = timezone.now(), user
        Entry.unscoped.bulk_create([entry])
        _lines_save(company, entry, lines, spec)
        if connection.vendor == "sqlite" and not _exact_on_sqlite(lines):
            lines = list(Line.unscoped.filter(entry=entry))  # as SQLite stored them
            for line in lines:
                line.entry = entry
        entry.hash = chain.entry_hash(previous, chain.entry_payload(entry, lines))
        entry.state = Entry.State.POSTED
        Entry.unscoped.filter(pk=entry.pk).update(state=entry.state, hash=entry.hash)
        draft.pk, draft.created_at = entry.pk, entry.created_at
        audit_later([(None, draft), (draft, entry)], actor=actor)
        entry._prefetched_objects_cache = {"lines": _prefetched(entry, lines)}
    return entry


def _entry_new(company: Company, spec: EntrySpec, user: Any) -> Entry:
    """The unsaved draft entry of `spec` (its lines are built apart)."""
    return Entry(
        company=company,
        journal=spec.journal,
        date=spec.date,
        ref=spec.ref[:120],
        narration=spec.narration,
        source_type=spec.source_type,
        source_id=spec.source_id,
        auto_reverse_on=spec.auto_reverse_on,
        closing=spec.closing,
        reversal_of=spec.reversal_of,
        created_by=user,
    )


def entries_post(*, company: Company, specs: Sequence[EntrySpec], actor: Any = None) -> list[Entry]:
    """`entry_post` of many blueprints at once, in one transaction: the same entries, lines,
    numbers, chain and audit entries as posting them one after the other in date order (ties
    in the order given), with the fixed costs shared (settings, periods, currencies, the
    journals' locks and chain heads) and the rows written in bulk: each journal's numbers are
    taken with one statement per month of the batch. Returns the entries in the order of
    `specs`, with their lines (`entry.lines.all()` reads nothing more).

    Locks the journals' rows (in id order). Raises PostingError naming the blueprint (its
    position and reference, when there are several) and writes nothing when any of them is
    refused."""
    specs = [
        replace(spec, date=Entry._meta.get_field("date").to_python(spec.date))
        if isinstance(spec.date, dt.datetime)
        else spec
        for spec in specs
    ]
    if not specs:
        return []
    with service_atomic(), finance_scope():
        built: list[list[Line]] = []
        for position, spec in enumerate(specs, start=1):
            try:
                _check_journal(company, spec.journal)
                built.append(_build_lines(company, spec))
                _check_tags(company, spec)
                _check_period(company, spec.date)
            except PostingError as exc:
                if len(specs) == 1:
                    raise
                raise _fail(
                    _("Entry %(n)s (%(ref)s): %(error)s"),
                    exc.code or "invalid",
                    n=position,
                    ref=spec.ref or "-",
                    error=" ".join(exc.messages),
                ) from exc
        return _entries_post(company, specs, built, actor)


def _entries_post(
    company: Company, specs: list[EntrySpec], built: list[list[Line]], actor: Any
) -> list[Entry]:
    order = sorted(range(len(specs)), key=lambda i: (specs[i].date, i))
    with transaction.atomic(savepoint=False):
        journals = {
            journal.pk: journal
            for journal in Journal.unscoped.select_for_update()
            .filter(pk__in={spec.journal.pk for spec in specs})
            .order_by("pk")
        }
        user = actor if getattr(actor, "pk", None) else None
        now = timezone.now()
        entries: dict[int, Entry] = {}
        drafts: dict[int, Entry] = {}
        heads: dict[int, tuple[int, str]] = {}
        first_heads: dict[int, tuple[int, str]] = {}
        groups: dict[tuple[int, int, int], list[int]] = {}  # (journal, year, month): positions
        for i in order:
            spec = specs[i]
            groups.setdefault((spec.journal.pk, spec.date.year, spec.date.month), []).append(i)
        for (journal_id, _year, _month), positions in groups.items():
            journal = journals[journal_id]
            if journal_id not in heads:
                heads[journal_id] = first_heads[journal_id] = _chain_head(journal)
            numbers = _numbers(journal, company, specs[positions[0]].date, len(positions))
            for i, number in zip(positions, numbers, strict=True):
                spec = specs[i]
                entry = _entry_new(company, spec, user)
                drafts[i] = copy.copy(entry)
                entry.number, entry.period = number, period_of(company, spec.date)
                entry.posted_at, entry.posted_by = now, user
                entry.chain_index = heads[journal_id][0]
                heads[journal_id] = (entry.chain_index + 1, "")
                entries[i] = entry
        rows = [entries[i] for i in order]  # in date order: ids, numbers and chain agree
        # Inserted as drafts (the database refuses anything else), numbered already; posting
        # them below is when the database guards check them.
        Entry.unscoped.bulk_create(rows)
        for i in order:
            for line in built[i]:
                line.entry = entries[i]
        Line.unscoped.bulk_create([line for i in order for line in built[i]])
        through = Line.analytic_tags.through
        tags = [
            through(line_id=line.pk, analytictag_id=tag.pk)
            for i in order
            for line, item in zip(built[i], specs[i].lines, strict=True)
            for tag in item.analytic_tags
        ]
        if tags:
            through.objects.bulk_create(tags)
        if connection.vendor == "sqlite" and not all(_exact_on_sqlite(b) for b in built):
            stored: dict[int, list[Line]] = {}
            for line in Line.unscoped.filter(entry__in=rows).order_by("entry_id", "sequence"):
                stored.setdefault(line.entry_id, []).append(line)
            for i in order:
                built[i] = stored[entries[i].pk]
                for line in built[i]:
                    line.entry = entries[i]
        previous_of = {journal_id: head[1] for journal_id, head in first_heads.items()}
        for i in order:  # in date order: each entry chains onto the one before in its journal
            entry = entries[i]
            entry.previous_hash = previous_of[entry.journal_id]
            entry.hash = chain.entry_hash(entry.previous_hash, chain.entry_payload(entry, built[i]))
            entry.state = Entry.State.POSTED
            previous_of[entry.journal_id] = entry.hash
        Entry.unscoped.bulk_update(rows, ["previous_hash", "state", "hash"])
        pairs: list[tuple[Any, Any]] = []
        for i in order:
            draft, entry = drafts[i], entries[i]
            draft.pk, draft.created_at = entry.pk, entry.created_at
            pairs += [(None, draft), (draft, entry)]
        audit_later(pairs, actor=actor)
        for i in order:
            entries[i]._prefetched_objects_cache = {"lines": _prefetched(entries[i], built[i])}
    return [entries[i] for i in range(len(specs))]


def _prefetched(entry: Entry, lines: list[Line]) -> Any:
    """`lines` as the prefetched `entry.lines` (no query when read)."""
    queryset = entry.lines.all()
    queryset._result_cache = lines  # type: ignore[attr-defined]
    queryset._prefetch_done = True  # type: ignore[attr-defined]
    return queryset


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
