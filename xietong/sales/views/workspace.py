"""The sales rep's workspace: open quotations (validity, expiring ones marked), orders by what
they wait for (credit hold, delivery, invoicing), quotations waiting for discount approval and
this month's figures (quoted, ordered, invoiced), each linking to the filtered list. A user who
approves (`sales.approve`) sees the team's by default, and may narrow it to their own."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.permissions import has_perm, requires
from xietong.finance.models import Invoice
from xietong.sales.documents import ORDER_SOURCE
from xietong.sales.models import Quotation, SalesOrder
from xietong.sales.views.common import ZERO, badge, fmt, link, month_bounds, process_links
from xietong.sales.views.orders import orders
from xietong.sales.views.quotations import OPEN, expiring_soon, quotations, validity

QState = Quotation.State
OState = SalesOrder.State
SHOWN = 10


def _url(name: str, **params: Any) -> str:
    query = urlencode({k: v for k, v in params.items() if v not in (None, "")})
    return f"{reverse(name)}?{query}" if query else reverse(name)


def _sums(rows: Any, field: str = "amount_untaxed") -> list[dict[str, str]]:
    """Amounts summed per currency, as text."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in rows.values("currency_id").annotate(total=Sum(field)).order_by("currency_id"):
        totals[row["currency_id"]] += row["total"] or ZERO
    return [{"currency": c, "amount": fmt(v, c)} for c, v in sorted(totals.items())]


@requires("sales.view")
def workspace(request: HttpRequest) -> HttpResponse:
    manager = has_perm(request, "sales.approve")
    team = manager and request.GET.get("scope") != "mine"
    mine = Q() if team else Q(salesperson=request.user)
    who = "" if team else str(request.user.pk)
    today = timezone.localdate()
    soon = expiring_soon()
    first, last = month_bounds(today)

    open_quotes = quotations().filter(mine, state__in=OPEN)
    shown = list(open_quotes.order_by("valid_until", "pk")[:SHOWN])
    waiting = list(
        Quotation.objects.filter(mine, state=QState.TO_APPROVE)
        .select_related("party", "salesperson", "approval_process")
        .order_by("date", "pk")[:SHOWN]
    )
    my_orders = orders().filter(mine)
    held = list(my_orders.filter(state=OState.HELD).select_related("credit_process")[:SHOWN])
    counts = {
        "open": open_quotes.count(),
        "expiring": open_quotes.filter(valid_until__lte=soon).count(),
        "draft_orders": my_orders.filter(state=OState.DRAFT).count(),
        "held": my_orders.filter(state=OState.HELD).count(),
        "to_deliver": my_orders.filter(to_deliver=True).count(),
        "to_invoice": my_orders.filter(to_invoice=True).count(),
        "waiting": Quotation.objects.filter(mine, state=QState.TO_APPROVE).count(),
    }
    month = {"date_from": first.isoformat(), "date_to": last.isoformat()}
    order_ids = SalesOrder.objects.filter(mine).values("pk")
    invoices = Invoice.objects.filter(
        state=Invoice.State.POSTED, date__gte=first, date__lte=last
    ).filter(
        Q(source_type=ORDER_SOURCE, source_id__in=order_ids)
        | Q(credited_invoice__source_type=ORDER_SOURCE, credited_invoice__source_id__in=order_ids)
    )
    invoiced: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for row in invoices.values("currency_id", "kind").annotate(total=Sum("amount_untaxed")):
        sign = -1 if row["kind"] == Invoice.Kind.CUSTOMER_CREDIT else 1
        invoiced[row["currency_id"]] += sign * (row["total"] or ZERO)
    invoice_list = (
        link("finance:customer_invoice_list") if has_perm(request, "finance.view") else ""
    )
    figures = [
        {
            "label": _("Quoted"),
            "id": "quoted",
            "amounts": _sums(
                Quotation.objects.filter(mine, date__gte=first, date__lte=last).exclude(
                    state__in=[QState.CANCELLED, QState.REVISED]
                )
            ),
            "url": _url("sales:quotation_list", salesperson=who, **month),
        },
        {
            "label": _("Ordered"),
            "id": "ordered",
            "amounts": _sums(
                SalesOrder.objects.filter(
                    mine,
                    date__gte=first,
                    date__lte=last,
                    state__in=[OState.HELD, OState.CONFIRMED, OState.DONE],
                )  # fmt: skip
            ),
            "url": _url("sales:order_list", salesperson=who, **month),
        },
        {
            "label": _("Invoiced"),
            "id": "invoiced",
            "amounts": [{"currency": c, "amount": fmt(v, c)} for c, v in sorted(invoiced.items())],
            "url": f"{invoice_list}?{urlencode(month)}" if invoice_list else "",
        },
    ]
    context = {
        "title": _("Team sales") if team else _("My sales"),
        "manager": manager,
        "team": team,
        "month": first,
        "counts": counts,
        "figures": figures,
        "quotations": [
            {
                "q": q,
                "badge": badge(q),
                "valid": validity(q),
                "total": fmt(q.amount_total, q.currency_id),
                "expired": q.valid_until < today,
                "expiring": today <= q.valid_until <= soon,
            }
            for q in shown
        ],
        "waiting": [
            {
                "q": q,
                "total": fmt(q.amount_total, q.currency_id),
                "process": process_links(request, q.approval_process),
            }
            for q in waiting
        ],  # fmt: skip
        "held": [
            {
                "order": o,
                "total": fmt(o.amount_total, o.currency_id),
                "process": process_links(request, o.credit_process),
            }
            for o in held
        ],  # fmt: skip
        "links": {
            "open": _url("sales:quotation_list", open="1", salesperson=who),
            "expiring": _url("sales:quotation_list", expiring="1", salesperson=who),
            "waiting": _url("sales:quotation_list", state=QState.TO_APPROVE, salesperson=who),
            "draft_orders": _url("sales:order_list", state=OState.DRAFT, salesperson=who),
            "held": _url("sales:order_list", state=OState.HELD, salesperson=who),
            "to_deliver": _url("sales:order_list", to_deliver="1", salesperson=who),
            "to_invoice": _url("sales:order_list", to_invoice="1", salesperson=who),
        },
        "can_quote": has_perm(request, "sales.quote"),
        "can_order": has_perm(request, "sales.order"),
    }
    return render(request, "sales/workspace.html", context)


urlpatterns = [path("", workspace, name="workspace")]
