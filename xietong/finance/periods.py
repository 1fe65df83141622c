"""Fiscal years and periods: opening them, closing them, year-end closing and the period-end
revaluation of open foreign-currency items.

A fiscal year follows the company's start month and day and is split into monthly periods. It
is created when first needed (the first posting dated in it) or explicitly. Closing a period is
final; closing the year posts the closing entry that moves the year's income and expense
balances to retained earnings, then closes every open period of the year.
"""

from __future__ import annotations

import calendar
import datetime as dt
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company
from xietong.core.selectors import RateNotFound, rate_on
from xietong.core.tenancy import company_scope
from xietong.finance.amounts import AmountSum
from xietong.finance.models import (
    Account,
    AccountSubtype,
    AccountType,
    Entry,
    FiscalYear,
    Line,
    Period,
)
from xietong.finance.posting import (
    EntrySpec,
    LineSpec,
    PostingError,
    entry_post,
    entry_reverse,
    finance_settings,
)
from xietong.finance.posting import quantize as _quantize
from xietong.party import selectors as party_selectors

ZERO = Decimal(0)


def _add_months(date: dt.date, months: int) -> dt.date:
    month = date.month - 1 + months
    year = date.year + month // 12
    month = month % 12 + 1
    return date.replace(
        year=year, month=month, day=min(date.day, calendar.monthrange(year, month)[1])
    )


def fiscal_year_start(company: Company, date: dt.date) -> dt.date:
    """The first day of the company's fiscal year that contains `date`."""
    start = dt.date(date.year, company.fiscal_year_start_month, company.fiscal_year_start_day)
    return start if start <= date else start.replace(year=date.year - 1)


@audited
def fiscal_year_create(*, company: Company, start: dt.date, actor: Any = None) -> FiscalYear:
    """Create the fiscal year beginning on `start` with twelve monthly periods. Returns the
    existing one when another transaction created it first."""
    end = _add_months(start, 12) - dt.timedelta(days=1)
    overlapping = FiscalYear.unscoped.filter(company=company, start__lte=end, end__gte=start)
    if overlapping.exclude(start=start).exists():
        raise ValidationError(
            _("The fiscal year %(start)s – %(end)s overlaps another fiscal year.")
            % {"start": start.isoformat(), "end": end.isoformat()},
            code="overlap",
        )
    name = str(start.year) if start.month == 1 and start.day == 1 else f"{start.year}/{end.year}"
    try:
        with transaction.atomic():
            year = FiscalYear.unscoped.create(company=company, name=name, start=start, end=end)
            periods = []
            for month in range(12):
                first = _add_months(start, month)
                last = _add_months(start, month + 1) - dt.timedelta(days=1)
                periods.append(
                    Period(
                        company=company,
                        fiscal_year=year,
                        name=f"{first.year}-{first.month:02d}",
                        start=first,
                        end=last,
                    )
                )
            Period.unscoped.bulk_create(periods)
    except IntegrityError:
        year = FiscalYear.unscoped.get(company=company, start=start)
    return year


def period_for(*, company: Company, date: dt.date) -> Period:
    """The period containing `date`, creating its fiscal year if there is none yet."""
    found = list(
        Period.unscoped.filter(company=company, start__lte=date, end__gte=date).order_by()[:1]
    )
    if not found:
        fiscal_year_create(company=company, start=fiscal_year_start(company, date))
        return Period.unscoped.get(company=company, start__lte=date, end__gte=date)
    return found[0]


@audited
def period_close(*, period: Period, actor: Any = None) -> Period:
    """Close `period` for good. Refused while draft entries are dated in it."""
    with transaction.atomic():
        period = Period.unscoped.select_for_update().get(pk=period.pk)
        if period.state == Period.State.CLOSED:
            return period
        drafts = Entry.unscoped.filter(
            company_id=period.company_id,
            state=Entry.State.DRAFT,
            date__gte=period.start,
            date__lte=period.end,
        ).count()
        if drafts:
            raise ValidationError(
                _("%(count)s draft entries are dated in %(period)s; post or delete them first.")
                % {"count": drafts, "period": period.name},
                code="drafts",
            )
        period.state = Period.State.CLOSED
        period.closed_at = timezone.now()
        period.closed_by = actor if getattr(actor, "pk", None) else None
        period.save()
    return period


@audited
def fiscal_year_close(*, fiscal_year: FiscalYear, actor: Any = None) -> FiscalYear:
    """Post the closing entry (income and expense balances of the year to retained earnings, on
    the year's last day) and close every open period and the year. Refused when the year's last
    period is already closed, since the closing entry is dated in it."""
    company = fiscal_year.company
    settings = finance_settings(company)
    if not (settings.general_journal and settings.retained_earnings_account):
        raise ValidationError(
            _("Set the general journal and the retained earnings account first."),
            code="not_configured",
        )
    with transaction.atomic():
        year = FiscalYear.unscoped.select_for_update().get(pk=fiscal_year.pk)
        if year.state == FiscalYear.State.CLOSED:
            raise ValidationError(_("The fiscal year is already closed."), code="closed")
        last = year.periods.order_by("-start").first()
        if last is None or last.state == Period.State.CLOSED:
            raise ValidationError(
                _(
                    "The last period of %(year)s is closed, so the closing entry cannot be "
                    "posted; close the year before its last period."
                )
                % {"year": year.name},
                code="last_period_closed",
            )
        balances = (
            Line.unscoped.filter(
                company=company,
                entry__state=Entry.State.POSTED,
                date__gte=year.start,
                date__lte=year.end,
                account__type__in=[AccountType.INCOME, AccountType.EXPENSE],
            )
            .values("account")
            .annotate(debit=AmountSum("debit"), credit=AmountSum("credit"))
            .order_by("account")
        )
        accounts = Account.unscoped.in_bulk([row["account"] for row in balances])
        base = company.base_currency_id
        lines = []
        profit = ZERO
        for row in balances:
            balance = (row["debit"] or ZERO) - (row["credit"] or ZERO)
            if not balance:
                continue
            profit -= balance
            lines.append(
                LineSpec(
                    account=accounts[row["account"]],
                    debit=-balance if balance < 0 else ZERO,
                    credit=balance if balance > 0 else ZERO,
                    currency=base,
                    label=_("Year-end closing"),
                )
            )
        if lines:
            lines.append(
                LineSpec(
                    account=settings.retained_earnings_account,
                    debit=-profit if profit < 0 else ZERO,
                    credit=profit if profit > 0 else ZERO,
                    currency=base,
                    label=_("Profit for the year") if profit >= 0 else _("Loss for the year"),
                )
            )
            if not profit:
                lines.pop()
        if len(lines) >= 2:
            entry = entry_post(
                company=company,
                spec=EntrySpec(
                    journal=settings.general_journal,
                    date=year.end,
                    lines=lines,
                    ref=_("Closing of fiscal year %(year)s") % {"year": year.name},
                    source_type="finance.fiscalyear",
                    source_id=year.pk,
                    closing=True,
                ),
                actor=actor,
            )
            year.closing_entry = entry
        for period in year.periods.filter(state=Period.State.OPEN).order_by("start"):
            period_close(period=period, actor=actor)
        year.state = FiscalYear.State.CLOSED
        year.save()
    return year


@audited
def currency_revaluate(*, company: Company, date: dt.date, actor: Any = None) -> Entry | None:
    """Revalue at `date`'s rates what the company holds or owes in foreign currency: open
    receivable/payable items and foreign-currency bank and cash accounts. Posts the unrealised
    gains and losses on `date` and their reversal on the next day (so the realised figure is
    booked when the item is settled). Returns the revaluation entry, None when nothing moved."""
    settings = finance_settings(company)
    if not (
        settings.general_journal
        and settings.exchange_gain_account
        and settings.exchange_loss_account
    ):
        raise ValidationError(
            _("Set the general journal and the exchange gain and loss accounts first."),
            code="not_configured",
        )
    from xietong.finance.reconcile import residual_of, with_residuals

    base = company.base_currency_id
    groups: dict[tuple[int, int | None, str], list[Decimal]] = {}
    items = (
        Line.unscoped.filter(
            company=company,
            entry__state=Entry.State.POSTED,
            account__reconcile=True,
            date__lte=date,
        )
        .exclude(currency_id=base)
        .only("id", "account_id", "party_id", "currency_id", "debit", "credit", "amount_currency")
    )
    for line in with_residuals(items):
        residual = residual_of(line)
        if residual.is_open:
            key = (line.account_id, line.party_id, line.currency_id)
            total = groups.setdefault(key, [ZERO, ZERO])
            total[0] += residual.amount
            total[1] += residual.amount_currency
    cash = (
        Line.unscoped.filter(
            company=company,
            entry__state=Entry.State.POSTED,
            date__lte=date,
            account__subtype__in=[AccountSubtype.BANK, AccountSubtype.CASH],
        )
        .exclude(currency_id=base)
        .values("account_id", "currency_id")
        .annotate(
            debit=AmountSum("debit"),
            credit=AmountSum("credit"),
            currency=AmountSum("amount_currency"),
        )
        .order_by("account_id", "currency_id")
    )
    for row in cash:
        key = (row["account_id"], None, row["currency_id"])
        groups[key] = [(row["debit"] or ZERO) - (row["credit"] or ZERO), row["currency"] or ZERO]
    accounts = Account.unscoped.in_bulk({key[0] for key in groups})
    lines: list[LineSpec] = []
    total = ZERO
    with company_scope(company):
        parties = party_selectors.parties(include_merged=True).in_bulk(
            {key[1] for key in groups if key[1]}
        )
    for (account_id, party_id, currency), (amount, amount_currency) in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2])
    ):
        try:
            rate = rate_on(company=company, currency=currency, date=date)
        except RateNotFound as exc:
            raise PostingError(str(exc), code="no_rate") from exc
        difference = _quantize(amount_currency * rate, base) - amount
        if not difference:
            continue
        total += difference
        lines.append(
            LineSpec(
                account=accounts[account_id],
                currency=currency,
                rate=rate,
                balance=difference,
                party=parties.get(party_id) if party_id else None,
                label=_("Revaluation of %(currency)s at %(rate)s") % {
                    "currency": currency, "rate": rate.normalize()
                },
            )
        )  # fmt: skip
    if not lines:
        return None
    if total:
        counter = settings.exchange_gain_account if total > 0 else settings.exchange_loss_account
        lines.append(
            LineSpec(
                account=counter,
                debit=-total if total < 0 else ZERO,
                credit=total if total > 0 else ZERO,
                currency=base,
                label=_("Unrealised exchange difference"),
            )
        )
    with transaction.atomic():
        entry = entry_post(
            company=company,
            spec=EntrySpec(
                journal=settings.general_journal,
                date=date,
                lines=lines,
                ref=_("Currency revaluation %(date)s") % {"date": date.isoformat()},
                source_type="finance.revaluation",
                auto_reverse_on=date + dt.timedelta(days=1),
            ),
            actor=actor,
        )
        entry_reverse(entry=entry, date=date + dt.timedelta(days=1), actor=actor)
    return entry
