"""The sales app's public reads for the layers above (crm's opportunity page, customer 360,
campaign attribution, segments, service tickets and warranty): the quotations and orders of an
opportunity, a customer's quotations and orders with their figures, the won orders of parties,
per-customer revenue and last-order subqueries, a company's orders, and the order lines that
delivered a lot. Each function runs a fixed number of queries whatever the customer's history
(sums and counts in the database, lists limited to the latest `limit`); the ones answering a
queryset or a subquery run none until it is evaluated."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db.models import Count, Max, OuterRef, Prefetch, Q, QuerySet, Sum

from xietong.inventory.models import Location, Lot, Move
from xietong.party.models import Party
from xietong.sales.documents import LINE_SOURCE
from xietong.sales.models import Quotation, QuotationLine, SalesOrder, SalesOrderLine

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


def quotation_detail(*, quotation_id: int) -> Quotation | None:
    """A quotation of the current company with its customer, warehouse and lines (their
    product, unit and taxes): what `schemas.QuotationOut` answers. None: no such quotation.
    Three queries."""
    return (
        Quotation.objects.select_related("party", "warehouse")
        .prefetch_related(
            Prefetch(
                "lines",
                QuotationLine.objects.select_related("product", "uom").prefetch_related("taxes"),
            )
        )
        .filter(pk=quotation_id)
        .first()
    )


def orders_won(
    *,
    company_id: int,
    party_ids: Iterable[int] | None = None,
    coupon_codes: Iterable[str] | None = None,
) -> QuerySet[SalesOrder]:
    """The company's confirmed or done sales orders (the sales counted as won), of `party_ids`
    only and/or carrying one of `coupon_codes` when given. Not ordered; no query until read."""
    orders = SalesOrder.unscoped.filter(company_id=company_id, state__in=WON_ORDER_STATES)
    if party_ids is not None:
        orders = orders.filter(party_id__in=list(party_ids))
    if coupon_codes is not None:
        orders = orders.filter(coupon_code__in=list(coupon_codes))
    return orders


def party_won_revenue_subquery(*, since: dt.date) -> QuerySet[SalesOrder]:
    """For a `Subquery` over parties (`OuterRef("pk")`): the Σ untaxed amount (`total`) of
    the party's confirmed or done orders dated `since` or later."""
    return (
        SalesOrder.unscoped.filter(
            party=OuterRef("pk"), state__in=WON_ORDER_STATES, date__gte=since
        )  # fmt: skip
        .values("party")
        .annotate(total=Sum("amount_untaxed"))
        .values("total")
    )


def party_last_order_subquery() -> QuerySet[SalesOrder]:
    """For a `Subquery` over parties (`OuterRef("pk")`): the date (`last`) of the party's
    latest confirmed or done order."""
    return (
        SalesOrder.unscoped.filter(party=OuterRef("pk"), state__in=WON_ORDER_STATES)
        .values("party")
        .annotate(last=Max("date"))
        .values("last")
    )


def company_orders(*, company_id: int) -> QuerySet[SalesOrder]:
    """Every sales order of the company (whatever its state), e.g. for a form's choices."""
    return SalesOrder.unscoped.filter(company_id=company_id)


def company_order(*, company_id: int, order_id: Any) -> SalesOrder | None:
    """The company's sales order `order_id` (a key, or a SalesOrder); None when it names none
    of the company's. One query."""
    pk = getattr(order_id, "pk", order_id)
    try:
        return SalesOrder.unscoped.filter(company_id=company_id, pk=pk).first()
    except (ValueError, TypeError):
        return None


def lot_delivery(*, lot: Lot, party_id: int | None) -> tuple[dt.date, SalesOrderLine] | None:
    """The last done delivery of `lot` to a customer location from an order line of
    `party_id`: (its effective date, the order line with its order). Three queries."""
    moves = Move.unscoped.filter(company_id=lot.company_id, lot=lot, state=Move.State.DONE,
                                 source_type=LINE_SOURCE,
                                 to_location__usage=Location.Usage.CUSTOMER)  # fmt: skip
    lines = SalesOrderLine.objects.filter(
        pk__in=list(moves.values_list("source_id", flat=True)),
        order__party_id=party_id,
    ).select_related("order")
    by_id = {line.pk: line for line in lines}
    best = None
    for source_id, day in moves.values_list("source_id", "effective_date"):
        if source_id in by_id and day is not None and (best is None or day > best[0]):
            best = (day, by_id[source_id])
    return best


def order_product_line(*, order_id: int, product_id: int) -> SalesOrderLine | None:
    """The first line of order `order_id` (of the current company) for `product_id`, with its
    order unloaded. One query."""
    return SalesOrderLine.objects.filter(order_id=order_id, product_id=product_id).first()
