"""Supplier invoices against purchase orders: the list of 3-way matches (mismatches first) with
their problems and the buyer's task, re-checking a corrected draft, and billing an order (a
draft supplier invoice of what was received and not billed)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.finance.views.common import Amount
from xietong.purchase import matching
from xietong.purchase.models import InvoiceMatch, PurchaseOrder
from xietong.purchase.views.common import badge, get_or_404, safe_reverse


def _problems(match: InvoiceMatch) -> str:
    return "; ".join(matching.problem_text(p) for p in match.problems or [])


MATCH_LIST = ListScreen(
    key="purchase-matches",
    title=gettext_lazy("Supplier invoice matching"),
    columns=[
        Column(
            "invoice",
            gettext_lazy("Invoice"),
            accessor=lambda m: m.invoice.number or m.invoice.reference or m.invoice.pk,
            order_by="invoice__number",
            link=True,
        ),
        Column(
            "supplier",
            gettext_lazy("Supplier"),
            accessor="invoice__party__name",
            order_by="invoice__party__name",
        ),
        Column("date", gettext_lazy("Date"), accessor="invoice__date", order_by="invoice__date"),
        Column("state", gettext_lazy("Match"), accessor=badge, order_by="state"),
        Column("problems", gettext_lazy("Problems"), accessor=_problems),
        Column(
            "total",
            gettext_lazy("Total"),
            accessor=lambda m: Amount(m.invoice.amount_total, m.invoice.currency_id),
            order_by="invoice__amount_total",
        ),
        Column("resolution", gettext_lazy("Resolution"), default=False),
    ],  # fmt: skip
    search_fields=["invoice__number", "invoice__reference", "invoice__party__name"],
    filters=[
        Filter(
            "state",
            gettext_lazy("Match"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in InvoiceMatch.State.choices],
        ),
    ],  # fmt: skip
    default_sort="-state",  # mismatches first
    detail_url=lambda m: safe_reverse("finance:invoice_detail", m.invoice_id) or "",
)


@requires("purchase.bill")
def match_list(request: HttpRequest) -> HttpResponse:
    rows = InvoiceMatch.objects.select_related("invoice__party")
    return list_response(request, MATCH_LIST, rows)


@require_POST
@requires("purchase.bill")
def order_bill(request: HttpRequest, pk: int) -> HttpResponse:
    """A draft supplier invoice of what the order received and has not billed, matched at
    once; the accountant completes it (the supplier's number, date) in finance."""
    order = get_or_404(PurchaseOrder.objects.all(), pk)
    try:
        invoice = matching.invoice_from_orders(
            company=request.company, actor=request.user, orders=[order],
            reference=request.POST.get("reference", ""),
        )  # fmt: skip
        match = matching.invoice_match(invoice=invoice, actor=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("purchase:order_detail", pk)
    if match.state == InvoiceMatch.State.MISMATCH:
        messages.warning(request, _("The draft invoice does not match: %(problems)s")
                         % {"problems": _problems(match)})  # fmt: skip
    else:
        messages.success(request, _("Draft supplier invoice made; it matches the order."))
    return redirect(safe_reverse("finance:invoice_detail", invoice.pk)
                    or reverse("purchase:order_detail", args=[pk]))  # fmt: skip


urlpatterns = [
    path("matching/", match_list, name="match_list"),
    path("orders/<int:pk>/bill/", order_bill, name="order_bill"),
]
