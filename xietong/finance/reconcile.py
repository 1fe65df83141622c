"""Reconciliation of receivable and payable lines: which payment settled which invoice.

A `Match` says that `amount` (company currency) and `amount_currency` of a debit line were
settled by a credit line of the same reconcilable account and party. A line's residual is its
amount less its matches; it is open while either residual is not zero. Matches are bookkeeping
about posted lines, not ledger entries: undoing a reconciliation deletes them (and reverses the
exchange-difference entry it produced).

Foreign currency: when an invoice and its payment were booked at different rates, settling
`m` units of the currency consumes a different company amount on each side. The difference is
realised as an exchange gain or loss, posted in the general journal with a line on the
receivable/payable account, which is matched too, so both sides close in both currencies.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import DecimalField, OuterRef, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.finance.amounts import exact
from xietong.finance.models import Entry, Invoice, Line, Match, Period
from xietong.finance.posting import (
    EntrySpec,
    LineSpec,
    PostingError,
    entry_post,
    entry_reverse,
    period_of,
    quantize,
    settings_with,
)

ZERO = Decimal(0)
_AMOUNT = DecimalField(max_digits=19, decimal_places=4)


@dataclass(frozen=True)
class Residual:
    amount: Decimal  # company currency, signed like the line (+ debit, − credit)
    amount_currency: Decimal  # transaction currency, signed

    @property
    def is_open(self) -> bool:
        return bool(self.amount or self.amount_currency)


def _matched(field: str, side: str) -> Subquery:
    return Subquery(
        Match.unscoped.filter(**{side: OuterRef("pk")})
        .order_by()
        .values(side)
        .annotate(total=Sum(field))
        .values("total")[:1],
        output_field=_AMOUNT,
    )


def with_residuals(lines: QuerySet[Line]) -> QuerySet[Line]:
    """`lines` annotated with `matched_debit`/`matched_credit` (company) and their currency
    counterparts, from which `residual_of` computes the residual."""
    zero = Value(ZERO, output_field=_AMOUNT)
    return lines.annotate(
        matched_as_debit=Coalesce(_matched("amount", "debit_line"), zero),
        matched_as_credit=Coalesce(_matched("amount", "credit_line"), zero),
        matched_cur_as_debit=Coalesce(_matched("amount_currency", "debit_line"), zero),
        matched_cur_as_credit=Coalesce(_matched("amount_currency", "credit_line"), zero),
    )


def residual_of(line: Line) -> Residual:
    """The residual of a line annotated by `with_residuals`."""
    # summed by the database: exact only once rounded back to the amounts' decimals (SQLite)
    matched = exact(line.matched_as_debit + line.matched_as_credit)  # type: ignore[attr-defined]
    matched_cur = exact(line.matched_cur_as_debit + line.matched_cur_as_credit)  # type: ignore[attr-defined]
    return _residual(line, matched, matched_cur)


def _residual(line: Line, matched: Decimal, matched_cur: Decimal) -> Residual:
    """The residual of `line` once `matched` (company currency) and `matched_cur` of it are
    reconciled."""
    balance = line.debit - line.credit
    sign = 1 if balance > 0 or (balance == 0 and line.amount_currency >= 0) else -1
    cur_sign = 1 if line.amount_currency > 0 else -1 if line.amount_currency < 0 else sign
    return Residual(balance - sign * matched, line.amount_currency - cur_sign * matched_cur)


def residuals(line_ids: Iterable[int]) -> dict[int, Residual]:
    lines = with_residuals(Line.unscoped.filter(pk__in=list(line_ids)))
    return {line.pk: residual_of(line) for line in lines}


def residuals_of(lines: Iterable[Line]) -> dict[int, Residual]:
    """The residuals of `lines` (rows read already, e.g. locked), from their matches read with
    one plain query and summed exactly here."""
    lines = list(lines)
    matched: dict[int, list[Decimal]] = {line.pk: [ZERO, ZERO] for line in lines}
    ids = list(matched)
    rows = Match.unscoped.filter(Q(debit_line_id__in=ids) | Q(credit_line_id__in=ids))
    for debit_id, credit_id, amount, amount_cur in rows.order_by().values_list(
        "debit_line_id", "credit_line_id", "amount", "amount_currency"
    ):
        for line_id in (debit_id, credit_id):
            if line_id in matched:
                matched[line_id][0] += amount
                matched[line_id][1] += amount_cur
    return {line.pk: _residual(line, *matched[line.pk]) for line in lines}


def open_items(*, company: Any, accounts: Any = None, party: Any = None) -> list[Line]:
    """Posted lines of reconcilable accounts with a residual, oldest due first, each with
    `.residual` set."""
    lines = Line.unscoped.filter(
        company=company, entry__state=Entry.State.POSTED, account__reconcile=True
    )
    if accounts is not None:
        lines = lines.filter(account__in=accounts)
    if party is not None:
        lines = lines.filter(party=party)
    result = []
    for line in with_residuals(lines.select_related("account", "entry", "party")):
        line.residual = residual_of(line)  # type: ignore[attr-defined]
        if line.residual.is_open:  # type: ignore[attr-defined]
            result.append(line)
    result.sort(key=lambda line: (line.due_date or line.date, line.date, line.pk))
    return result


def _side(line: Line, residual: Residual) -> int:
    if residual.amount:
        return 1 if residual.amount > 0 else -1
    return 1 if residual.amount_currency > 0 else -1


def _exchange_entry(
    *, company: Any, line: Line, difference: Decimal, date: dt.date, actor: Any
) -> Line:
    """Post the realised exchange difference `difference` (company currency, signed as the
    receivable/payable line to book) and return its receivable/payable line."""
    settings = settings_with(
        company, "general_journal", "exchange_gain_account", "exchange_loss_account"
    )
    if not (
        settings.general_journal
        and settings.exchange_gain_account
        and settings.exchange_loss_account
    ):
        raise PostingError(
            _("Set the general journal and the exchange gain and loss accounts first."),
            code="not_configured",
        )
    counter = settings.exchange_gain_account if difference > 0 else settings.exchange_loss_account
    base = company.base_currency_id
    spec = EntrySpec(
        journal=settings.general_journal,
        date=date,
        ref=_("Exchange difference"),
        source_type="finance.match",
        lines=[
            LineSpec(
                account=line.account,
                currency=line.currency_id,
                rate=line.rate,
                balance=difference,
                party=line.party,
                label=_("Exchange difference"),
            ),
            LineSpec(
                account=counter,
                debit=-difference if difference < 0 else ZERO,
                credit=difference if difference > 0 else ZERO,
                currency=base,
                label=_("Exchange difference"),
            ),
        ],
    )
    entry = entry_post(company=company, spec=spec, actor=actor)
    return next(line for line in entry.lines.all() if line.sequence == 1)


def _settle_date(lines: Sequence[Line]) -> dt.date:
    date = max(line.date for line in lines)
    if period_of(lines[0].company, date).state == Period.State.CLOSED:
        date = timezone.localdate()
    return date


@audited
def lines_match(
    *, lines: Sequence[Line], actor: Any = None, limit: Decimal | None = None
) -> list[Match]:
    """Reconcile posted `lines` of one reconcilable account and party: oldest debit against
    oldest credit until one side runs out (or `limit`, in the lines' currency, is settled).
    Posts the realised exchange difference when the rates differ. Locks the lines; refreshes
    the payment state of the invoices and payments involved. Raises PostingError."""
    if not lines:
        return []
    company = lines[0].company
    with transaction.atomic():
        ids = sorted({line.pk for line in lines})
        locked = _locked(ids)
        check_matchable(locked)
        state = residuals_of(locked)
        matches = match_locked(company, locked, state, limit=limit, actor=actor)
        documents_refresh(entry_ids={line.entry_id for line in locked})
    return matches


def _locked(ids: Iterable[int]) -> list[Line]:
    """The lines `ids`, locked (`select_for_update`), with their account, entry and company."""
    return list(
        Line.unscoped.select_for_update()
        .filter(pk__in=list(ids))
        .select_related("account", "entry", "company")
        .order_by("pk")
    )


def match_locked(
    company: Any,
    locked: Sequence[Line],
    state: dict[int, Residual],
    *,
    limit: Decimal | None,
    actor: Any,
    save: bool = True,
) -> list[Match]:
    """The reconciliation of `lines_match` on lines checked, locked and with their residuals
    in `state` (read after locking), which it updates; the matches are inserted at once
    (`save`; else left to the caller, to insert those of many reconciliations together).
    Does not refresh the documents."""
    debits = [line for line in locked if state[line.pk].is_open and _side(line, state[line.pk]) > 0]
    credits = [
        line for line in locked if state[line.pk].is_open and _side(line, state[line.pk]) < 0
    ]
    order = lambda line: (line.due_date or line.date, line.date, line.pk)  # noqa: E731
    debits.sort(key=order)
    credits.sort(key=order)
    same_currency = True  # check_matchable refuses lines in different currencies
    base = company.base_currency_id
    remaining = limit
    matches: list[Match] = []
    date = _settle_date(locked)
    while debits and credits and (remaining is None or remaining > 0):
        d, c = debits[0], credits[0]
        rd, rc = state[d.pk], state[c.pk]
        if same_currency and d.currency_id != base:
            amount_cur = min(rd.amount_currency, -rc.amount_currency)
            if remaining is not None:
                amount_cur = min(amount_cur, remaining)
            d_amt = (
                rd.amount
                if amount_cur == rd.amount_currency
                else quantize(rd.amount * amount_cur / rd.amount_currency, base)
            )
            c_amt = (
                -rc.amount
                if amount_cur == -rc.amount_currency
                else quantize(-rc.amount * amount_cur / -rc.amount_currency, base)
            )
        else:
            amount = min(rd.amount, -rc.amount)
            if remaining is not None:
                amount = min(amount, remaining)
            d_amt = c_amt = amount
            amount_cur = amount if same_currency else ZERO
        if d_amt == c_amt:
            matches.append(_match(company, d, c, d_amt, amount_cur, None, actor))
        elif d_amt > c_amt:  # the debit consumed more: the rest is a loss (receivable) …
            exchange = _exchange_entry(
                company=company, line=d, difference=-(d_amt - c_amt), date=date, actor=actor
            )
            # Both matches name the exchange entry, so undoing either side undoes it.
            matches.append(_match(company, d, c, c_amt, amount_cur, exchange.entry, actor))
            matches.append(_match(company, d, exchange, d_amt - c_amt, ZERO, exchange.entry, actor))
        else:  # … or a gain
            exchange = _exchange_entry(
                company=company, line=c, difference=c_amt - d_amt, date=date, actor=actor
            )
            matches.append(_match(company, d, c, d_amt, amount_cur, exchange.entry, actor))
            matches.append(_match(company, exchange, c, c_amt - d_amt, ZERO, exchange.entry, actor))
        state[d.pk] = Residual(rd.amount - d_amt, rd.amount_currency - amount_cur)
        state[c.pk] = Residual(rc.amount + c_amt, rc.amount_currency + amount_cur)
        if remaining is not None:
            remaining -= amount_cur if same_currency else d_amt
        if not state[d.pk].is_open or (same_currency and not state[d.pk].amount_currency):
            debits.pop(0)
        if not state[c.pk].is_open or (same_currency and not state[c.pk].amount_currency):
            credits.pop(0)
    if save:
        Match.unscoped.bulk_create(matches)
    return matches


def _match(
    company: Any, debit: Line, credit: Line, amount: Decimal, amount_currency: Decimal,
    exchange: Entry | None, actor: Any,
) -> Match:  # fmt: skip
    """A match, not saved yet."""
    return Match(
        company=company,
        debit_line=debit,
        credit_line=credit,
        amount=amount,
        amount_currency=amount_currency,
        exchange_entry=exchange,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def check_matchable(lines: Sequence[Line]) -> None:
    first = lines[0]
    for line in lines:
        if line.entry.state != Entry.State.POSTED:
            raise PostingError(_("Only posted lines can be reconciled."), code="not_posted")
        if not line.account.reconcile:
            raise PostingError(
                _("The account %(account)s is not reconcilable.") % {"account": line.account},
                code="not_reconcilable",
            )
        if line.company_id != first.company_id:
            raise PostingError(_("The lines belong to different companies."), code="foreign_record")
        if line.account_id != first.account_id:
            raise PostingError(
                _("Only lines of one account can be reconciled together."), code="mixed_accounts"
            )
        if line.currency_id != first.currency_id:
            raise PostingError(
                _("Lines in different currencies cannot be reconciled; settle in %(currency)s.")
                % {"currency": first.currency_id},
                code="mixed_currencies",
            )
        if line.party_id != first.party_id:
            raise PostingError(
                _("Only lines of one party can be reconciled together."), code="mixed_parties"
            )


@audited
def match_undo(*, line: Line, actor: Any = None) -> int:
    """Undo every reconciliation `line` takes part in (and reverse the exchange-difference
    entries they produced); returns the number of matches removed."""
    with transaction.atomic():
        matches = list(
            Match.unscoped.select_for_update().filter(Q(debit_line=line) | Q(credit_line=line))
        )
        exchange_entries = {m.exchange_entry for m in matches if m.exchange_entry_id}
        entry_ids = {line.entry_id}
        for match in matches:
            entry_ids.update(
                Line.unscoped.filter(
                    pk__in=[match.debit_line_id, match.credit_line_id]
                ).values_list("entry_id", flat=True)
            )
        exchange_matches = Match.unscoped.filter(exchange_entry__in=exchange_entries)
        for match in exchange_matches:
            entry_ids.update(
                Line.unscoped.filter(
                    pk__in=[match.debit_line_id, match.credit_line_id]
                ).values_list("entry_id", flat=True)
            )
        Match.unscoped.filter(pk__in=[m.pk for m in matches]).delete()
        exchange_matches.delete()
        for entry in exchange_entries:
            entry_reverse(entry=entry, actor=actor)
        documents_refresh(entry_ids=entry_ids)
    return len(matches)


def documents_refresh(*, entry_ids: Iterable[int]) -> None:
    """Recompute the amount due and payment state of the invoices (and the state of the
    payments) whose entries are `entry_ids`, after a reconciliation changed."""
    entry_ids = set(entry_ids)
    if not entry_ids:
        return
    invoices = list(Invoice.unscoped.filter(entry_id__in=entry_ids, state=Invoice.State.POSTED))
    if not invoices:
        return
    lines = Line.unscoped.filter(
        entry_id__in=[i.entry_id for i in invoices], account__reconcile=True
    )
    rows = list(with_residuals(lines))
    invoices_update(invoices, lines=rows, state={line.pk: residual_of(line) for line in rows})


def invoices_update(
    invoices: Iterable[Invoice], *, lines: Iterable[Line], state: dict[int, Residual]
) -> None:
    """Store the amount due and payment state of posted `invoices` from the residuals (`state`)
    of `lines`, every reconcilable line of their entries, where they changed."""
    by_entry: dict[int, Decimal] = {}
    for line in lines:
        by_entry[line.entry_id] = by_entry.get(line.entry_id, ZERO) + abs(
            state[line.pk].amount_currency
        )
    changed = []
    for invoice in invoices:
        residual = by_entry.get(invoice.entry_id, ZERO)
        if residual == 0:
            paid = Invoice.PaymentState.PAID
        elif residual < abs(invoice.amount_total):
            paid = Invoice.PaymentState.PARTIAL
        else:
            paid = Invoice.PaymentState.NOT_PAID
        if (invoice.amount_residual, invoice.payment_state) != (residual, paid):
            changed.append(Invoice(pk=invoice.pk, amount_residual=residual, payment_state=paid))
    if len(changed) == 1:
        Invoice.unscoped.filter(pk=changed[0].pk).update(
            amount_residual=changed[0].amount_residual, payment_state=changed[0].payment_state
        )
    elif changed:  # one statement for them all
        Invoice.unscoped.bulk_update(changed, ["amount_residual", "payment_state"])
