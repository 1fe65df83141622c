"""The finance app's public reads: reports, open items, aging, statements, documents, PDFs.

Other apps read the ledger only through these (and `services`), never through the models.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Case,
    DecimalField,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from xietong.finance.banking import statement_lines_open, statement_suggestions
from xietong.finance.chain import chain_verify
from xietong.finance.invoicing import invoice_detail, invoice_list, invoice_pdf
from xietong.finance.models import AccountSubtype, AccountType, Invoice, Match, Payment
from xietong.finance.payments import party_credit
from xietong.finance.periods import period_for
from xietong.finance.receivables import (
    aging,
    aging_columns,
    customer_statement,
    customer_statement_pdf,
    dunning_pdf,
    open_items_as_of,
)
from xietong.finance.reconcile import open_items, residuals
from xietong.finance.reports import (
    balance_sheet,
    cash_flow,
    drilldown_lines,
    general_ledger,
    profit_and_loss,
    trial_balance,
)

__all__ = [
    "CustomerReceivables",
    "aging",
    "balance_sheet",
    "cash_flow",
    "chain_verify",
    "customer_receivables",
    "customer_statement",
    "customer_statement_pdf",
    "drilldown_lines",
    "dunning_pdf",
    "general_ledger",
    "invoice_detail",
    "invoice_list",
    "invoice_pdf",
    "open_items",
    "open_items_as_of",
    "party_credit",
    "period_for",
    "profit_and_loss",
    "residuals",
    "statement_lines_open",
    "statement_suggestions",
    "trial_balance",
    "account_type_labels",
    "warehouse_payment_allocations",
    "warehouse_payments",
]


# --- one customer's receivables (the CRM's customer 360) ------------------------------------------


@dataclass
class CustomerReceivables:
    """A customer's invoices in the company currency (at each invoice's rate): revenue (net of
    credit notes) this and last calendar year, what is open and overdue, the open amount by
    days past due (not due, 1–30, 31–60, 61–90, over 90), the average days from an invoice to
    the payments matched with it, and the latest invoices."""

    currency: str
    revenue_this_year: Decimal
    revenue_last_year: Decimal
    open: Decimal
    overdue: Decimal
    columns: list[str]
    buckets: list[Decimal]
    average_days_to_pay: Decimal | None
    invoices: list[Any] = field(default_factory=list)
    count: int = 0


def customer_receivables(
    *, party: Any, today: dt.date, limit: int = 5, buckets: tuple[int, ...] = (30, 60, 90)
) -> CustomerReceivables:
    """The customer's receivables summary (`CustomerReceivables`) as of `today`, from the
    posted customer invoices and credit notes (each aged by its due date, else its date; an
    unallocated payment on account is not counted). Three queries whatever the history: the
    sums, the average days to pay, the latest `limit` invoices."""
    customer_kinds = (Invoice.Kind.CUSTOMER_INVOICE, Invoice.Kind.CUSTOMER_CREDIT)
    invoices = Invoice.objects.filter(party=party, kind__in=customer_kinds)
    posted = invoices.filter(state=Invoice.State.POSTED)
    money = DecimalField(max_digits=30, decimal_places=10)
    sign = Case(When(kind=Invoice.Kind.CUSTOMER_CREDIT, then=Value(-1)), default=Value(1))
    rate = Coalesce("rate", Value(Decimal(1)), output_field=money)
    residual = ExpressionWrapper(sign * F("amount_residual") * rate, output_field=money)
    net = ExpressionWrapper(sign * F("amount_untaxed") * rate, output_field=money)
    due = Coalesce("due_date", "date")
    this_year = dt.date(today.year, 1, 1)
    last_year = dt.date(today.year - 1, 1, 1)
    limits = [today]  # due on or after today: not due; then each bucket's oldest due day
    sums: dict[str, Any] = {
        "revenue_this_year": Sum(net, filter=Q(date__gte=this_year, date__lte=today)),
        "revenue_last_year": Sum(net, filter=Q(date__gte=last_year, date__lt=this_year)),
        "open": Sum(residual),
        "b0": Sum(residual, filter=Q(_due__gte=today)),
    }
    for n, days in enumerate(buckets, start=1):
        oldest = today - dt.timedelta(days=days)
        sums[f"b{n}"] = Sum(residual, filter=Q(_due__lt=limits[-1], _due__gte=oldest))
        limits.append(oldest)
    sums[f"b{len(buckets) + 1}"] = Sum(residual, filter=Q(_due__lt=limits[-1]))
    figures = posted.annotate(_due=due).aggregate(**sums)
    zero = Decimal(0)
    cents = Decimal("0.01")

    def amount(key: str) -> Decimal:
        return Decimal(figures[key] or 0).quantize(cents)

    columns = [amount(f"b{n}") for n in range(len(buckets) + 2)]
    paid = Match.objects.filter(
        debit_line__party=party,
        debit_line__entry__invoice__kind=Invoice.Kind.CUSTOMER_INVOICE,
    ).aggregate(
        days=Avg(
            ExpressionWrapper(
                F("credit_line__date") - F("debit_line__date"), output_field=DurationField()
            )
        )  # fmt: skip
    )["days"]
    average = None
    if paid is not None:
        days = paid.total_seconds() / 86400 if isinstance(paid, dt.timedelta) else float(paid)
        average = Decimal(str(round(max(days, 0), 1)))
    latest = list(invoices.exclude(state=Invoice.State.CANCELLED).order_by("-date", "-id")[:limit])
    return CustomerReceivables(
        currency=party.company.base_currency_id,
        revenue_this_year=amount("revenue_this_year"),
        revenue_last_year=amount("revenue_last_year"),
        open=amount("open"),
        overdue=sum(columns[1:], zero),
        columns=aging_columns(buckets),
        buckets=columns,
        average_days_to_pay=average,
        invoices=latest,
    )


# --- the analytics warehouse ----------------------------------------------------------------------


def warehouse_payment_allocations() -> QuerySet[Match]:
    """Every company's allocations of customer payments to posted customer invoices (unscoped),
    for the analytics warehouse's ETL: the reconciliations whose debit line is a receivable
    line of a customer invoice's entry and whose credit line is one of a payment's entry — not
    the settlements by credit notes, early-payment discounts or exchange differences. The
    invoice is `debit_line__entry__invoice`, the payment `credit_line__entry__payment`, the
    payment date `credit_line__date`, the amount (company currency) `amount`."""
    return Match.unscoped.filter(
        debit_line__entry__invoice__kind=Invoice.Kind.CUSTOMER_INVOICE,
        debit_line__entry__invoice__state=Invoice.State.POSTED,
        credit_line__entry__payment__isnull=False,
    )


def warehouse_payments() -> QuerySet[Payment]:
    """Every company's payments (unscoped): the analytics ETL watches their audit entries (a
    cancelled payment's allocations are deleted)."""
    return Payment.unscoped.all()


def account_type_labels() -> dict[str, str]:
    """The names (translated now) of the account types and subtypes, by code."""
    labels = {str(k): str(v) for k, v in AccountSubtype.choices if k}
    labels.update({str(k): str(v) for k, v in AccountType.choices})
    return labels
