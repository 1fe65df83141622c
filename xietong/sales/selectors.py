"""The sales app's public reads for the layers above (crm's opportunity page and customer 360):
the quotations and orders of an opportunity, and a customer's quotations and orders with their
figures. Each function runs a fixed number of queries whatever the customer's history (sums
and counts in the database, lists limited to the latest `limit`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum

from xietong.party.models import Party
from xietong.sales.models import Quotation, SalesOrder

ZERO = Decimal(0)
QState = Quotation.State
OState = SalesOrder.State
OPEN_QUOTATION_STATES = (QState.DRAFT, QState.TO_APPROVE, QState.APPROVED, QState.SENT)
OPEN_ORDER_STATES = (OState.DRAFT, OState.HELD, OState.CONFIRMED)
WON_ORDER_STATES = (OState.CONFIRMED, OState.DONE)


def opportunity_quotations(*, opportunity_id: int) -> QuerySet[Quotation]:
    """The quotations made for a CRM opportunity (the current company's; revised versions
    left out: their next version stands for them), newest first."""
    return (
        Quotation.objects.filter(opportunity_id=opportunity_id)
        .exclude(state=QState.REVISED)
        .select_related("currency")
        .order_by("-date", "-id")
    )


def opportunity_orders(*, opportunity_id: int) -> QuerySet[SalesOrder]:
    """The sales orders accepted from the opportunity's quotations, newest first."""
    return (
        SalesOrder.objects.filter(quotation__opportunity_id=opportunity_id)
        .select_related("quotation")
        .order_by("-date", "-id")
    )


def quotation_opportunity_id(*, quotation_id: int | None) -> int | None:
    """The CRM opportunity a quotation was made for (None: none, or no such quotation)."""
    if quotation_id is None:
        return None
    return (
        Quotation.unscoped.filter(pk=quotation_id).values_list("opportunity_id", flat=True).first()
    )


def opportunity_won_amount(*, opportunity_id: int, company_id: int) -> dict[str, Decimal]:
    """Σ untaxed amount of the confirmed (or done) orders of the opportunity, by currency."""
    rows = (
        SalesOrder.unscoped.filter(
            company_id=company_id,
            quotation__opportunity_id=opportunity_id,
            state__in=WON_ORDER_STATES,
        )
        .order_by()
        .values("currency_id")
        .annotate(total=Sum("amount_untaxed"))
    )
    return {row["currency_id"]: Decimal(row["total"] or 0) for row in rows}


@dataclass
class CustomerSales:
    """A customer's quotations and orders: the latest of each and the open ones' figures."""

    quotations: list[Quotation] = field(default_factory=list)
    orders: list[SalesOrder] = field(default_factory=list)
    open_quotations: int = 0
    open_quotations_total: dict[str, Decimal] = field(default_factory=dict)
    open_orders: int = 0
    open_orders_total: dict[str, Decimal] = field(default_factory=dict)
    quotations_total_count: int = 0
    orders_total_count: int = 0


def _by_currency(rows: Iterable[dict[str, Any]]) -> tuple[int, int, dict[str, Decimal]]:
    """(open count, all count, open totals by currency) from grouped rows."""
    open_count = every = 0
    totals: dict[str, Decimal] = {}
    for row in rows:
        every += row["n"]
        open_count += row["n_open"]
        if row["n_open"]:
            totals[row["currency_id"]] = totals.get(row["currency_id"], ZERO) + Decimal(
                row["open_total"] or 0
            )
    return open_count, every, totals


def customer_sales(*, party: Party, limit: int = 5) -> CustomerSales:
    """The customer's latest `limit` quotations (revised versions left out) and orders, and
    the number and total (with tax, by currency) of the open ones: quotations not yet
    accepted, declined or cancelled; orders not yet done or cancelled. Four queries."""
    out = CustomerSales()
    quotations = Quotation.objects.filter(party=party).exclude(state=QState.REVISED)
    out.quotations = list(quotations.order_by("-date", "-id")[:limit])
    is_open = Q(state__in=OPEN_QUOTATION_STATES)
    out.open_quotations, out.quotations_total_count, out.open_quotations_total = _by_currency(
        quotations.order_by()
        .values("currency_id")
        .annotate(
            n=Count("pk"),
            n_open=Count("pk", filter=is_open),
            open_total=Sum("amount_total", filter=is_open),
        )  # fmt: skip
    )
    orders = SalesOrder.objects.filter(party=party)
    out.orders = list(orders.order_by("-date", "-id")[:limit])
    is_open = Q(state__in=OPEN_ORDER_STATES)
    out.open_orders, out.orders_total_count, out.open_orders_total = _by_currency(
        orders.order_by()
        .values("currency_id")
        .annotate(
            n=Count("pk"),
            n_open=Count("pk", filter=is_open),
            open_total=Sum("amount_total", filter=is_open),
        )  # fmt: skip
    )
    return out
