"""Payments: money received from customers and paid to suppliers, and their allocation.

A payment is created as a draft (`payment_create`) and posted (`payment_post`) into its bank or
cash journal: a received payment debits the journal's account and credits the party's
receivable, a payment made debits the party's payable and credits the journal's account, both
in the payment's currency. Allocation (`payment_allocate`) reconciles the payment's open
receivable/payable line with the open lines of the party's invoices through
`reconcile.lines_match`, which also books the realised exchange difference when the invoice and
the payment were converted at different rates, and refreshes the invoices' amount due and
payment state. What is not allocated stays open on the party's account as their credit; it is
used later by `credit_apply`, which settles invoices with any open credit of the party
(overpayments, credit notes).

Early-payment discount: when the amount allocated to an invoice equals its amount due less the
discounts of its untouched installments whose `discount_date` is on or after the payment date,
the discount is booked (a small entry in the general journal: the receivable/payable against
`FinanceSettings.discount_account`) and the invoice is settled in full. Without a discount
account in the settings no discount is taken and the payment settles what it covers.

A payment run (`payments_register`) pays many open invoices at once, one payment per invoice
of its amount due, posted and allocated to it, with the shared reads done once and the rows
written in bulk.

Cancelling a posted payment undoes its reconciliations (and its discount entries) and posts the
reversal of its entry; the invoices it paid are open again.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.core.audit import audited
from xietong.core.models import Company, Currency
from xietong.finance.models import (
    Account,
    Entry,
    FinanceSettings,
    Installment,
    Invoice,
    Journal,
    Line,
    Match,
    Payment,
    StatementLine,
)
from xietong.finance.posting import (
    EntrySpec,
    LineSpec,
    audit_later,
    entries_post,
    entry_post,
    entry_reverse,
    finance_scope,
    finance_settings,
    quantize,
    row_update,
    rows_update,
    service_atomic,
    settings_with,
)
from xietong.finance.reconcile import (
    Residual,
    check_matchable,
    invoices_update,
    lines_match,
    match_locked,
    match_undo,
    open_items,
    residuals_of,
)
from xietong.party.models import Party

ZERO = Decimal(0)
SOURCE_TYPE = "finance.payment"
INBOUND = Payment.Direction.INBOUND
OUTBOUND = Payment.Direction.OUTBOUND
MAX_AMOUNT = Decimal(10) ** 15  # AMOUNT fields hold 15 integer digits


def register_timeline_kinds() -> None:
    """Declare the customer-timeline kinds finance writes ("payment" is the party app's own;
    "dunning" is added here). Call from `FinanceConfig.ready()`."""
    from xietong.party.services import timeline_kind_register

    timeline_kind_register("dunning", gettext_lazy("Payment reminder"), "envelope-exclamation")


# --- helpers ----------------------------------------------------------------------------------


def party_account(settings: FinanceSettings, payment: Payment) -> Account:
    """The receivable (payments from customers and refunds to them) or payable account."""
    customer = payment.customer_side
    account = settings.receivable_account if customer else settings.payable_account
    if account is None:
        raise ValidationError(
            _("Set the receivable account in the finance settings first.")
            if customer
            else _("Set the payable account in the finance settings first."),
            code="not_configured",
        )
    return account


def journal_currency(journal: Journal) -> str:
    """The currency a bank or cash journal works in: its own, else its account's, else the
    company's."""
    if journal.currency_id:
        return journal.currency_id
    account = journal.account
    if account is not None and account.currency_id:
        return account.currency_id
    return journal.company.base_currency_id


def money_text(amount: Decimal, currency: str) -> str:
    """`amount` rounded to `currency` with thousands separators and the code: "1,234.50 CNY"."""
    return f"{quantize(amount, currency):,f} {currency}"


def _amount(value: Any, currency: str, what: str) -> Decimal:
    """A positive Decimal within the currency's minor unit; ValidationError otherwise."""
    if isinstance(value, (float, bool)):
        raise ValidationError(
            _("The %(what)s must be a Decimal or a string, not a float.") % {"what": what},
            code="invalid",
        )
    try:
        amount = Decimal(value)
    except (ArithmeticError, TypeError, ValueError):
        raise ValidationError(
            _("The %(what)s “%(value)s” is not a number.") % {"what": what, "value": value},
            code="invalid",
        ) from None
    if not amount.is_finite() or amount <= 0:
        raise ValidationError(
            _("The %(what)s must be more than zero, not %(value)s.")
            % {"what": what, "value": value},
            code="invalid",
        )
    if amount >= MAX_AMOUNT:
        raise ValidationError(
            _("The %(what)s %(value)s is too large.") % {"what": what, "value": value},
            code="invalid",
        )
    if quantize(amount, currency) != amount:
        raise ValidationError(
            _("The %(what)s %(value)s has more decimals than %(currency)s allows.")
            % {"what": what, "value": value, "currency": currency},
            code="precision",
        )
    return amount


def _timeline(payment: Payment, summary: str, actor: Any) -> None:
    from xietong.party.services import timeline_add

    timeline_add(
        party=payment.party,
        kind="payment",
        summary=summary,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        source=payment,
    )


def _entry_lines(payment: Payment, journal: Journal, counter: Account) -> list[LineSpec]:
    """The two lines of a payment's entry: the journal's bank (or cash) account and the party's
    receivable/payable `counter`, the debit first."""
    inbound = payment.direction == INBOUND
    amount = payment.amount
    common = {"currency": payment.currency_id, "rate": payment.rate}
    label = payment.reference or str(payment.party)
    bank = LineSpec(
        account=journal.account,
        debit=amount if inbound else ZERO,
        credit=ZERO if inbound else amount,
        label=label,
        **common,
    )
    party_line = LineSpec(
        account=counter,
        debit=ZERO if inbound else amount,
        credit=amount if inbound else ZERO,
        party=payment.party,
        label=label,
        **common,
    )
    return [bank, party_line] if inbound else [party_line, bank]


def payment_line(payment: Payment) -> Line:
    """The receivable/payable line of a posted payment's entry."""
    line = (
        Line.unscoped.filter(entry_id=payment.entry_id, account__reconcile=True)
        .select_related("account", "entry", "company")
        .order_by("sequence")
        .first()
    )
    if line is None:
        raise ValidationError(
            _("The payment %(payment)s has no receivable or payable line.") % {"payment": payment},
            code="no_line",
        )
    return line


# --- create, post, cancel ---------------------------------------------------------------------


@audited
def payment_create(
    *,
    company: Company,
    actor: Any,
    direction: str,
    party: Party,
    journal: Journal,
    date: dt.date,
    amount: Decimal | str,
    currency: str | None = None,
    reference: str = "",
    memo: str = "",
    rate: Decimal | None = None,
    refund: bool = False,
) -> Payment:
    """A draft payment: `direction` "inbound" (received from a customer) or "outbound" (paid to
    a supplier) — with `refund`, the other way round: paid back to a customer, received back
    from a supplier — through `journal` (a bank or cash journal with its account). `currency`
    defaults to the journal's (its own, else its account's, else the company's); `rate`
    (company units per unit) fixes the conversion instead of the company's rate of the date.
    Raises ValidationError naming each bad field; writes nothing then."""
    errors: dict[str, list[str]] = {}

    def error(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if direction not in Payment.Direction.values:
        error(
            "direction",
            _("“%(value)s” is not a direction; use “inbound” or “outbound”.")
            % {"value": direction},
        )
    if not isinstance(party, Party) or party.pk is None:
        error("party", _("Give a saved party."))
    elif party.company_id != company.pk:
        error("party", _("The party “%(party)s” belongs to another company.") % {"party": party})
    elif party.merged_into_id:
        error(
            "party",
            _("The party “%(party)s” was merged into another; use that one.") % {"party": party},
        )
    code = None
    if not isinstance(journal, Journal) or journal.pk is None:
        error("journal", _("Give a saved journal."))
    elif journal.company_id != company.pk:
        error(
            "journal",
            _("The journal %(journal)s belongs to another company.") % {"journal": journal},
        )
    elif journal.kind not in (Journal.Kind.BANK, Journal.Kind.CASH):
        error(
            "journal",
            _("The journal %(journal)s is not a bank or cash journal.") % {"journal": journal},
        )
    elif journal.account_id is None:
        error(
            "journal",
            _("The journal %(journal)s has no bank or cash account.") % {"journal": journal},
        )
    elif not journal.active:
        error("journal", _("The journal %(journal)s is archived.") % {"journal": journal})
    else:
        code = journal_currency(journal)
    if currency:
        currency = str(currency).upper()
        if not Currency.objects.filter(code=currency).exists():
            error("currency", _("“%(currency)s” is not a known currency.") % {"currency": currency})
        elif code and currency != code:
            error(
                "currency",
                _("The journal %(journal)s works in %(expected)s, not %(currency)s.")
                % {"journal": journal, "expected": code, "currency": currency},
            )
        code = currency
    code = code or company.base_currency_id
    if not isinstance(date, dt.date) or isinstance(date, dt.datetime):
        error("date", _("Give the payment date."))
    try:
        value = _amount(amount, code, _("amount"))
    except ValidationError as exc:
        error("amount", exc.messages[0])
        value = ZERO
    if rate is not None:
        if isinstance(rate, float) or not Decimal(rate).is_finite() or Decimal(rate) <= 0:
            error("rate", _("The exchange rate must be a positive Decimal."))
        elif code == company.base_currency_id and Decimal(rate) != 1:
            error("rate", _("The payment is in the company currency; its rate must be 1."))
    if len(reference or "") > 120:
        error("reference", _("At most 120 characters."))
    if len(memo or "") > 200:
        error("memo", _("At most 200 characters."))
    if errors:
        raise ValidationError(errors)
    return Payment.unscoped.create(
        company=company,
        direction=direction,
        refund=bool(refund),
        party=party,
        journal=journal,
        date=date,
        amount=value,
        currency_id=code,
        rate=Decimal(rate) if rate is not None else None,
        reference=(reference or "").strip(),
        memo=(memo or "").strip(),
        created_by=actor if getattr(actor, "pk", None) else None,
    )


@audited
def payment_post(
    *,
    payment: Payment,
    actor: Any,
    allocations: Iterable[Invoice] | Mapping[Any, Decimal] | None = None,
) -> Payment:
    """Post a draft payment into its journal (entry source "finance.payment", the payment
    takes the entry's number) and, when `allocations` is given, allocate it: a list of
    invoices (settled oldest due first) or a mapping invoice (or id) → amount. Writes a
    "payment" entry into the party's timeline. Locks the payment row (and the journal, through
    posting). Raises ValidationError / PostingError; nothing is written then."""
    # Refusals of the posting come before its first write; those of the allocation after it,
    # hence a savepoint when the caller's transaction goes on.
    block = transaction.atomic() if allocations is not None else service_atomic()
    with block, finance_scope():
        payment = (
            Payment.unscoped.select_for_update(of=("self",))
            .select_related("company", "journal__account", "party")
            .get(pk=payment.pk)
        )
        if payment.state != Payment.State.DRAFT:
            raise ValidationError(
                _("The payment %(payment)s is %(state)s; only a draft can be posted.")
                % {"payment": payment, "state": payment.get_state_display()},
                code="state",
            )
        before = copy.copy(payment)
        company = payment.company
        settings = settings_with(
            company, "receivable_account" if payment.customer_side else "payable_account"
        )
        counter = party_account(settings, payment)
        journal = payment.journal
        inbound, amount = payment.direction == INBOUND, payment.amount
        entry = entry_post(
            company=company,
            spec=EntrySpec(
                journal=journal,
                date=payment.date,
                lines=_entry_lines(payment, journal, counter),
                ref=payment.reference or "",
                narration=payment.memo,
                source_type=SOURCE_TYPE,
                source_id=payment.pk,
            ),
            actor=actor,
        )
        with transaction.atomic(savepoint=False):
            lines = sorted(entry.lines.all(), key=lambda line: (line.sequence, line.pk))
            payment.entry = entry
            payment.number = entry.number
            payment.state = Payment.State.POSTED
            payment.rate = lines[0].rate
            row_update(before, payment, actor=actor)
            summary = (
                _("Payment received: %(amount)s (%(number)s)")
                if inbound
                else _("Payment made: %(amount)s (%(number)s)")
            ) % {"amount": money_text(amount, payment.currency_id), "number": payment.number}
            _timeline(payment, summary, actor)
        own = next((line.pk for line in lines if line.account.reconcile), None)
        if allocations is not None:
            if isinstance(allocations, Mapping):
                if allocations:
                    _allocate(payment, actor, invoices=None, amounts=allocations, own_id=own)
            else:
                invoices = list(allocations)
                if invoices:
                    _allocate(payment, actor, invoices=invoices, amounts=None, own_id=own)
    return payment


# --- payment runs ------------------------------------------------------------------------------


def _journal_problem(company: Company, journal: Journal) -> str | None:
    """Why `journal` cannot take payments of `company` (as `payment_create` checks it)."""
    if not isinstance(journal, Journal) or journal.pk is None:
        return _("Give a saved journal.")
    if journal.company_id != company.pk:
        return _("The journal %(journal)s belongs to another company.") % {"journal": journal}
    if journal.kind not in (Journal.Kind.BANK, Journal.Kind.CASH):
        return _("The journal %(journal)s is not a bank or cash journal.") % {"journal": journal}
    if journal.account_id is None:
        return _("The journal %(journal)s has no bank or cash account.") % {"journal": journal}
    if not journal.active:
        return _("The journal %(journal)s is archived.") % {"journal": journal}
    return None


@audited
def payments_register(
    *, invoices: Iterable[Invoice], journal: Journal, date: dt.date, actor: Any
) -> list[Payment]:
    """A payment run: for each of `invoices` (posted and open, of one company), a payment of its
    amount due through `journal` on `date`, in the invoice's direction (a customer invoice is
    paid in, a supplier invoice paid out, a credit note refunded), with the invoice's number as
    reference, posted and allocated to it: the same payments, entries, reconciliations, amounts
    due and timeline entries as `payment_create` + `payment_post(allocations=[invoice])` per
    invoice, in the order given, with the shared reads done once and the rows written in bulk.
    Returns the payments in the order of `invoices`.

    Locks the journal, then the invoices' receivable/payable lines (in id order). Refused
    (ValidationError naming every invoice refused, nothing written): an invoice not posted or
    paid already, of another company, in a currency the journal does not work in, or of a
    merged party; an unusable journal."""
    wanted = list({invoice.pk: invoice for invoice in invoices})
    if not wanted:
        return []
    with transaction.atomic(), finance_scope():
        rows = Invoice.unscoped.select_related("party", "company").in_bulk(wanted)
        found = [rows[pk] for pk in wanted if pk in rows]
        if len(found) != len(wanted):
            missing = sorted(set(wanted) - set(rows))
            raise ValidationError(
                _("Unknown invoice(s): %(ids)s.") % {"ids": ", ".join(map(str, missing))},
                code="unknown_invoice",
            )
        company = found[0].company
        problem = _journal_problem(company, journal)
        if problem:
            raise ValidationError({"journal": [problem]})
        # The journal before the lines, as `payment_post` locks them (through the posting).
        journal = (
            Journal.unscoped.select_for_update(of=("self",))
            .select_related("account", "company")
            .get(pk=journal.pk)
        )
        code = journal_currency(journal)
        problems: list[str] = []
        for invoice in found:
            if problem := _invoice_unpayable(invoice, company.pk):
                problems.append(problem)
            elif invoice.currency_id != code:
                problems.append(
                    _("The invoice %(invoice)s is in %(currency)s; the journal %(journal)s works "
                      "in %(expected)s.")
                    % {"invoice": invoice, "currency": invoice.currency_id, "journal": journal,
                       "expected": code}
                )  # fmt: skip
            elif invoice.party.merged_into_id:
                problems.append(
                    _("The party “%(party)s” of the invoice %(invoice)s was merged into another.")
                    % {"party": invoice.party, "invoice": invoice}
                )
        if problems:
            raise ValidationError(problems, code="invalid_invoice")
        customer_kinds = {SETTLES[(True, False)], SETTLES[(True, True)]}
        # The payment that settles an invoice of each kind: (direction, refund).
        settled_by = {
            kind: (INBOUND if customer != refund else OUTBOUND, refund)
            for (customer, refund), kind in SETTLES.items()
        }
        sides = {invoice.kind in customer_kinds for invoice in found}
        settings = settings_with(
            company,
            *(["receivable_account"] if True in sides else []),
            *(["payable_account"] if False in sides else []),
        )
        counters = {
            side: party_account(
                settings, Payment(direction=INBOUND if side else OUTBOUND, refund=False)
            )
            for side in sides
        }
        # Lock every receivable/payable line of the invoices, then read their residuals.
        locked = list(
            Line.unscoped.select_for_update()
            .filter(entry_id__in=[i.entry_id for i in found], account__reconcile=True)
            .select_related("account", "entry", "company")
            .order_by("pk")
        )
        state = residuals_of(locked)
        lines: dict[int, list[Line]] = {}
        theirs: dict[int, list[Line]] = defaultdict(list)
        for invoice in found:
            direction, refund = settled_by[invoice.kind]
            sign = 1 if direction == INBOUND else -1
            entry_lines = [line for line in locked if line.entry_id == invoice.entry_id]
            theirs[invoice.pk] = entry_lines
            open_lines, _residual, elsewhere = _invoice_open_lines(
                [invoice],
                entry_lines,
                state,
                account=counters[invoice.kind in customer_kinds],
                sign=sign,
            )
            lines[invoice.pk] = open_lines[invoice.pk]
            if not lines[invoice.pk]:
                problems.append(
                    elsewhere.get(invoice.pk)
                    or _("The invoice %(invoice)s is paid already.") % {"invoice": invoice}
                )
        if problems:
            raise ValidationError(problems, code="invalid_invoice")
        user = actor if getattr(actor, "pk", None) else None
        payments = []
        for invoice in found:
            direction, refund = settled_by[invoice.kind]
            due = sum((abs(state[line.pk].amount_currency) for line in lines[invoice.pk]), ZERO)
            payments.append(
                Payment(
                    company=company,
                    direction=direction,
                    refund=refund,
                    party=invoice.party,
                    journal=journal,
                    date=date,
                    amount=_amount(due, code, _("amount")),
                    currency_id=code,
                    rate=None,
                    reference=(invoice.number or "")[:120],
                    memo="",
                    created_by=user,
                )
            )
        specs = []
        for payment in payments:
            specs.append(_entry_lines(payment, journal, counters[payment.customer_side]))
        # Refusals end here, but for those of the posting service (a closed period …), which
        # come before its first write, and the database's.
        with transaction.atomic(savepoint=False):
            Payment.unscoped.bulk_create(payments)
            drafts = [copy.copy(payment) for payment in payments]
            audit_later([(None, draft) for draft in drafts], actor=actor)
            entries = entries_post(
                company=company,
                specs=[
                    EntrySpec(
                        journal=journal,
                        date=date,
                        lines=pair,
                        ref=payment.reference or "",
                        narration=payment.memo,
                        source_type=SOURCE_TYPE,
                        source_id=payment.pk,
                    )
                    for payment, pair in zip(payments, specs, strict=True)
                ],
                actor=actor,
            )
            owns = []
            for payment, entry in zip(payments, entries, strict=True):
                posted = sorted(entry.lines.all(), key=lambda line: (line.sequence, line.pk))
                payment.entry = entry
                payment.number = entry.number
                payment.state = Payment.State.POSTED
                payment.rate = posted[0].rate
                owns.append(next(line for line in posted if line.account.reconcile))
            rows_update(list(zip(drafts, payments, strict=True)), actor=actor)
            for payment in payments:
                summary = (
                    _("Payment received: %(amount)s (%(number)s)")
                    if payment.direction == INBOUND
                    else _("Payment made: %(amount)s (%(number)s)")
                ) % {"amount": money_text(payment.amount, code), "number": payment.number}
                _timeline(payment, summary, actor)
            matches: list[Match] = []
            for invoice, own in zip(found, owns, strict=True):
                state[own.pk] = Residual(own.debit - own.credit, own.amount_currency)
                every = [own, *lines[invoice.pk]]
                check_matchable(every)
                matches += match_locked(company, every, state, limit=None, actor=actor, save=False)
            Match.unscoped.bulk_create(matches)
            invoices_update(found, lines=locked, state=state)
    return payments


@audited
def payment_cancel(*, payment: Payment, actor: Any, date: dt.date | None = None) -> Payment:
    """Cancel a payment. A draft just becomes cancelled; a posted one has its reconciliations
    undone (the exchange differences and early-payment discounts they produced are reversed),
    its entry reversed (on `date`, by default its own date when that period is open) and its
    bank statement line unlinked, so the invoices it paid are open again. Locks the payment.
    Raises ValidationError / PostingError; nothing is written then."""
    with transaction.atomic():
        payment = (
            Payment.unscoped.select_for_update(of=("self",))
            .select_related("company", "party", "entry")
            .get(pk=payment.pk)
        )
        if payment.state == Payment.State.CANCELLED:
            raise ValidationError(
                _("The payment %(payment)s is already cancelled.") % {"payment": payment},
                code="state",
            )
        if payment.state == Payment.State.POSTED:
            entries = [payment.entry] + list(
                Entry.unscoped.filter(
                    company=payment.company,
                    source_type=SOURCE_TYPE,
                    source_id=payment.pk,
                    state=Entry.State.POSTED,
                    reversal_of__isnull=True,
                    reversed_by__isnull=True,
                ).exclude(pk=payment.entry_id)
            )
            for entry in entries:
                for line in Line.unscoped.filter(entry=entry, account__reconcile=True):
                    match_undo(line=line, actor=actor)
            for entry in reversed(entries):
                entry_reverse(entry=entry, actor=actor, date=date)
            StatementLine.unscoped.filter(payment=payment).update(payment=None)
            _timeline(
                payment,
                _("Payment %(number)s cancelled (%(amount)s)")
                % {
                    "number": payment.number,
                    "amount": money_text(payment.amount, payment.currency_id),
                },
                actor,
            )
        payment.state = Payment.State.CANCELLED
        payment.save(update_fields=["state"])
    return payment


# --- allocation -------------------------------------------------------------------------------


# What a payment settles: (customer side, refund) -> invoice kind.
SETTLES = {
    (True, False): Invoice.Kind.CUSTOMER_INVOICE,
    (True, True): Invoice.Kind.CUSTOMER_CREDIT,
    (False, False): Invoice.Kind.SUPPLIER_INVOICE,
    (False, True): Invoice.Kind.SUPPLIER_CREDIT,
}


def _invoice_unpayable(invoice: Invoice, company_id: int) -> str | None:
    """Why no payment of company `company_id` can settle `invoice` at all, or None."""
    if invoice.company_id != company_id:
        return _("The invoice %(invoice)s belongs to another company.") % {"invoice": invoice}
    if invoice.state != Invoice.State.POSTED or invoice.entry_id is None:
        return _("The invoice %(invoice)s is not posted (%(state)s).") % {
            "invoice": invoice, "state": invoice.get_state_display()
        }  # fmt: skip
    return None


def _invoice_problems(payment: Payment, invoices: list[Invoice]) -> list[str]:
    wanted = SETTLES[(payment.customer_side, payment.refund)]
    problems = []
    for invoice in invoices:
        if problem := _invoice_unpayable(invoice, payment.company_id):
            problems.append(problem)
        elif invoice.kind != wanted:
            problems.append(
                _("The invoice %(invoice)s is a %(kind)s; this payment settles: %(wanted)s.")
                % {
                    "invoice": invoice,
                    "kind": invoice.get_kind_display(),
                    "wanted": Invoice.Kind(wanted).label,
                }
            )
        elif invoice.party_id != payment.party_id:
            problems.append(
                _("The invoice %(invoice)s is for %(other)s, not for %(party)s.")
                % {"invoice": invoice, "other": invoice.party, "party": payment.party}
            )
        elif invoice.currency_id != payment.currency_id:
            problems.append(
                _("The invoice %(invoice)s is in %(currency)s; the payment is in %(expected)s.")
                % {
                    "invoice": invoice,
                    "currency": invoice.currency_id,
                    "expected": payment.currency_id,
                }
            )
    return problems


def _invoice_open_lines(
    invoices: list[Invoice],
    lines: Iterable[Line],
    state: dict[int, Residual],
    *,
    account: Account,
    sign: int,
) -> tuple[dict[int, list[Line]], dict[int, Residual], dict[int, str]]:
    """Of `lines` (the receivable/payable lines of the invoices' entries, with their residuals
    in `state`), the open ones of sign `sign` (+1 debit, −1 credit) on `account` by invoice id,
    in their entry's order, with their residuals; a problem by invoice id for invoices posted
    on another account."""
    by_entry: dict[int, list[Line]] = defaultdict(list)
    residual: dict[int, Residual] = {}
    others: dict[int, Account] = {}
    for line in sorted(lines, key=lambda line: (line.entry_id, line.sequence, line.pk)):
        current = state[line.pk]
        if line.account_id != account.pk:
            others[line.entry_id] = line.account
            continue
        if current.is_open and (current.amount_currency * sign > 0 or current.amount * sign > 0):
            by_entry[line.entry_id].append(line)
            residual[line.pk] = current
    problems = {
        invoice.pk: _("The invoice %(invoice)s is posted on %(account)s, not on %(expected)s.")
        % {"invoice": invoice, "account": others[invoice.entry_id], "expected": account}
        for invoice in invoices
        if invoice.entry_id in others and not by_entry.get(invoice.entry_id)
    }
    return {i.pk: by_entry.get(i.entry_id, []) for i in invoices}, residual, problems


def _discounts(
    payment: Payment,
    invoices: list[Invoice],
    lines: dict[int, list[Line]],
    residual: dict[int, Residual],
) -> dict[int, Decimal]:
    """The early-payment discount each invoice still offers on the payment's date: the
    discounts of its installments not paid at all whose discount date is not past."""
    result: dict[int, Decimal] = {}
    installments = Installment.objects.filter(
        invoice__in=invoices, discount__gt=0, discount_date__gte=payment.date
    )
    for installment in installments:
        for line in lines.get(installment.invoice_id, []):
            untouched = residual[line.pk].amount_currency == line.amount_currency
            if line.due_date == installment.due_date and untouched:
                result[installment.invoice_id] = (
                    result.get(installment.invoice_id, ZERO) + installment.discount
                )
                break
    return result


def _discount_entry(
    payment: Payment,
    settings: FinanceSettings,
    plan: list[tuple[Invoice, Decimal, Decimal]],
    lines: dict[int, list[Line]],
    actor: Any,
) -> dict[int, Line]:
    """Post the early-payment discounts of `plan`; the receivable/payable line per invoice."""
    inbound = payment.direction == INBOUND
    specs: list[LineSpec] = []
    order: list[int] = []
    for invoice, _amount_paid, discount in plan:
        if not discount:
            continue
        first = lines[invoice.pk][0]
        label = _("Early-payment discount on %(invoice)s") % {"invoice": invoice}
        common = {"currency": first.currency_id, "rate": first.rate, "label": label}
        specs.append(
            LineSpec(
                account=first.account,
                debit=ZERO if inbound else discount,
                credit=discount if inbound else ZERO,
                party=payment.party,
                **common,
            )
        )
        specs.append(
            LineSpec(
                account=settings.discount_account,
                debit=discount if inbound else ZERO,
                credit=ZERO if inbound else discount,
                **common,
            )
        )
        order.append(invoice.pk)
    entry = entry_post(
        company=payment.company,
        spec=EntrySpec(
            journal=settings.general_journal,
            date=payment.date,
            lines=specs,
            ref=_("Early-payment discount, payment %(payment)s") % {"payment": payment},
            source_type=SOURCE_TYPE,
            source_id=payment.pk,
        ),
        actor=actor,
    )
    posted = Line.unscoped.filter(entry=entry).select_related("account", "entry", "company")
    by_sequence = {line.sequence: line for line in posted}
    return {invoice_id: by_sequence[2 * index + 1] for index, invoice_id in enumerate(order)}


def _allocate(
    payment: Payment,
    actor: Any,
    *,
    invoices: list[Invoice] | None,
    amounts: Mapping[Any, Any] | None,
    own_id: int | None = None,
) -> list[Match]:
    """Allocate a posted, locked payment (see `payment_allocate`); `own_id`: its
    receivable/payable line, when known."""
    currency = payment.currency_id
    chosen: dict[int, Decimal] | None = None
    if amounts is not None:
        chosen = {}
        for key, value in amounts.items():
            invoice_id = key.pk if isinstance(key, Invoice) else int(key)
            chosen[invoice_id] = _amount(
                value, currency, _("amount for invoice %(id)s") % {"id": invoice_id}
            )
        found = {
            i.pk: i for i in Invoice.unscoped.select_related("party").filter(pk__in=list(chosen))
        }
        missing = sorted(set(chosen) - set(found))
        if missing:
            raise ValidationError(
                _("Unknown invoice(s): %(ids)s.") % {"ids": ", ".join(map(str, missing))},
                code="unknown_invoice",
            )
        if invoices is not None and {i.pk for i in invoices} != set(chosen):
            raise ValidationError(
                _("Give an amount for each invoice, and no amount for another invoice."),
                code="invalid",
            )
        invoices = [found[pk] for pk in chosen]
    invoices = list({i.pk: i for i in invoices or []}.values())
    if not invoices:
        raise ValidationError(_("Choose the invoices to allocate the payment to."), code="empty")
    settings = finance_settings(payment.company)
    offers_discount = bool(settings.discount_account_id and settings.general_journal_id)
    # Fresh rows: the caller's instances may be stale (state, payment state).
    fresh_rows = Invoice.unscoped.select_related("party")
    if offers_discount:
        fresh_rows = fresh_rows.annotate(
            discount_offered=Exists(
                Installment.objects.filter(
                    invoice=OuterRef("pk"), discount__gt=0, discount_date__gte=payment.date
                )
            )
        )
    fresh = fresh_rows.in_bulk([i.pk for i in invoices])
    invoices = [fresh[i.pk] for i in invoices]
    problems = _invoice_problems(payment, invoices)
    if problems:
        raise ValidationError(problems, code="invalid_invoice")
    if own_id is None:
        own_id = payment_line(payment).pk
    # Lock the payment's line and every receivable/payable line of the invoices, then read
    # their residuals (after the lock, so that they are current).
    locked = {
        line.pk: line
        for line in Line.unscoped.select_for_update()
        .filter(
            Q(pk=own_id) | Q(entry_id__in=[i.entry_id for i in invoices], account__reconcile=True)
        )
        .select_related("account", "entry", "company")
        .order_by("pk")
    }
    state = residuals_of(locked.values())
    own, own_residual = locked[own_id], state[own_id]
    available = abs(own_residual.amount_currency)
    if not own_residual.is_open or not available:
        raise ValidationError(
            _("The payment %(payment)s is fully allocated already.") % {"payment": payment},
            code="allocated",
        )
    sign = 1 if payment.direction == INBOUND else -1  # the invoices' side: debit for customers
    theirs = [line for pk, line in locked.items() if pk != own_id]
    lines, residual, elsewhere = _invoice_open_lines(
        invoices, theirs, state, account=own.account, sign=sign
    )
    due = {
        i.pk: sum((abs(residual[line.pk].amount_currency) for line in lines[i.pk]), ZERO)
        for i in invoices
    }
    problems = [
        elsewhere.get(i.pk) or _("The invoice %(invoice)s is paid already.") % {"invoice": i}
        for i in invoices
        if not lines[i.pk]
    ]
    if chosen is not None:
        problems += [
            _("%(amount)s is more than the %(due)s due on invoice %(invoice)s.")
            % {"amount": chosen[i.pk], "due": money_text(due[i.pk], currency), "invoice": i}
            for i in invoices
            if lines[i.pk] and chosen[i.pk] > due[i.pk]
        ]
        if sum(chosen.values(), ZERO) > available:
            problems.append(
                _("The amounts add up to %(total)s but only %(available)s of the payment is "
                  "unallocated.")
                % {
                    "total": money_text(sum(chosen.values(), ZERO), currency),
                    "available": money_text(available, currency),
                }
            )  # fmt: skip
    if problems:
        raise ValidationError(problems, code="invalid_invoice")

    discounts: dict[int, Decimal] = {}
    if offers_discount and any(i.discount_offered for i in invoices):  # type: ignore[attr-defined]
        discounts = _discounts(payment, invoices, lines, residual)
    plan: list[tuple[Invoice, Decimal, Decimal]] | None = None
    if chosen is not None:
        plan = []
        for invoice in invoices:
            discount = discounts.get(invoice.pk, ZERO)
            if not (discount and chosen[invoice.pk] == due[invoice.pk] - discount):
                discount = ZERO
            plan.append((invoice, chosen[invoice.pk], discount))
    elif discounts and available == sum(
        (due[i.pk] - discounts.get(i.pk, ZERO) for i in invoices), ZERO
    ):
        plan = [
            (i, due[i.pk] - discounts.get(i.pk, ZERO), discounts.get(i.pk, ZERO)) for i in invoices
        ]

    if plan is None:  # all of them, oldest due first, as far as the payment goes
        every = [own, *(line for invoice in invoices for line in lines[invoice.pk])]
        check_matchable(every)
        matches = match_locked(payment.company, every, state, limit=None, actor=actor)
        # `theirs` holds every receivable/payable line of the invoices: their amounts due
        # follow from the residuals the matching left (the payment's entry is no invoice's).
        invoices_update(invoices, lines=theirs, state=state)
        return matches
    matches: list[Match] = []
    written_off = (
        _discount_entry(payment, settings, plan, lines, actor)
        if any(discount for _i, _a, discount in plan)
        else {}
    )
    for invoice, amount, discount in plan:
        if amount:
            matches += lines_match(lines=[own, *lines[invoice.pk]], actor=actor, limit=amount)
        if discount:
            matches += lines_match(lines=[written_off[invoice.pk], *lines[invoice.pk]], actor=actor)
    return matches


@audited
def payment_allocate(
    *,
    payment: Payment,
    actor: Any,
    invoices: list[Invoice] | None = None,
    amounts: Mapping[Any, Decimal] | None = None,
) -> list[Match]:
    """Reconcile what is left of a posted payment with invoices of its party: `invoices`
    settled oldest due first as far as the payment goes, or `amounts` ({invoice or id:
    amount in the payment currency}). Refuses (ValidationError listing every problem, nothing
    written) invoices of another company or party, in another currency, of the other side
    (a payment received settles customer invoices), not posted or paid already, amounts above
    an invoice's amount due or above the payment's unallocated amount. What is not allocated
    stays open as the party's credit. Takes the early-payment discount when the amount for an
    invoice is its amount due less the discount still offered (see the module). Locks the
    payment and the lines. Returns the matches made."""
    with transaction.atomic(), finance_scope():
        payment = (
            Payment.unscoped.select_for_update(of=("self",))
            .select_related("company", "party", "journal")
            .get(pk=payment.pk)
        )
        if payment.state != Payment.State.POSTED:
            raise ValidationError(
                _("The payment %(payment)s is not posted; post it before allocating it.")
                % {"payment": payment},
                code="state",
            )
        return _allocate(payment, actor, invoices=invoices, amounts=amounts)


@audited
def credit_apply(*, party: Party, actor: Any, invoices: list[Invoice]) -> list[Match]:
    """Settle `invoices` of `party` with the party's open credit: unallocated payments, credit
    notes and any other open line on the other side of the same receivable/payable account and
    currency, oldest first. Raises ValidationError (nothing written) for invoices of another
    party, not posted, credit notes, or when there is no credit to apply. Returns the matches."""
    invoices = list({i.pk: i for i in invoices}.values())
    if not invoices:
        raise ValidationError(_("Choose the invoices to apply the credit to."), code="empty")
    with transaction.atomic():
        fresh = Invoice.unscoped.select_related("party").in_bulk([i.pk for i in invoices])
        invoices = [fresh[i.pk] for i in invoices]
        problems = []
        for invoice in invoices:
            if invoice.company_id != party.company_id or invoice.party_id != party.pk:
                problems.append(
                    _("The invoice %(invoice)s is not an invoice of %(party)s.")
                    % {"invoice": invoice, "party": party}
                )
            elif invoice.state != Invoice.State.POSTED:
                problems.append(_("The invoice %(invoice)s is not posted.") % {"invoice": invoice})
            elif invoice.is_credit_note:
                problems.append(
                    _("%(invoice)s is a credit note; apply it to an invoice instead.")
                    % {"invoice": invoice}
                )
        if problems:
            raise ValidationError(problems, code="invalid_invoice")
        groups: dict[tuple[int, str, int], list[Line]] = defaultdict(list)
        entries = {i.entry_id for i in invoices}
        items = open_items(company=party.company, party=party)
        for line in items:
            sign = 1 if line.residual.amount_currency > 0 or line.residual.amount > 0 else -1
            if line.entry_id in entries:
                groups[(line.account_id, line.currency_id, sign)].append(line)
        matches: list[Match] = []
        for (account_id, currency, sign), invoice_lines in groups.items():
            credits = [
                line
                for line in items
                if line.entry_id not in entries
                and line.account_id == account_id
                and line.currency_id == currency
                and (line.residual.amount_currency or line.residual.amount) * sign < 0
            ]
            if credits:
                matches += lines_match(lines=[*credits, *invoice_lines], actor=actor)
        if not matches:
            raise ValidationError(
                _("%(party)s has no open credit to apply to these invoices.") % {"party": party},
                code="no_credit",
            )
    return matches


def party_credit(*, party: Party) -> dict[str, Decimal]:
    """The party's open credit usable against its invoices, by currency, as positive amounts:
    on receivable (debit-normal) accounts the open credits (unallocated payments received,
    credit notes), on payable accounts the open debits (advances paid, supplier credit notes)."""
    result: dict[str, Decimal] = {}
    for line in open_items(company=party.company, party=party):
        value = line.residual.amount_currency
        credit = -value if line.account.debit_normal else value
        if credit > 0:
            result[line.currency_id] = result.get(line.currency_id, ZERO) + credit
    return result
