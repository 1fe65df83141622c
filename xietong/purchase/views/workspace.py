"""The buyer's workspace: requisitions to approve and lines to source, RFQs waiting for answers,
orders waiting for approval or for the supplier's confirmation, late receipts and supplier
invoices that do not match their orders, each with a count and the first rows, linking to the
filtered lists."""

from __future__ import annotations

from django.db.models import Count, F, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.permissions import has_perm, requires
from xietong.purchase.models import (
    InvoiceMatch,
    PurchaseOrder,
    PurchaseOrderLine,
    Requisition,
    RequisitionLine,
    Rfq,
)
from xietong.purchase.views.common import badge, fmt, quantity, safe_reverse

SHOWN = 8
OState = PurchaseOrder.State
OPEN = (OState.APPROVED, OState.SENT, OState.CONFIRMED)


@requires("purchase.view")
def workspace(request: HttpRequest) -> HttpResponse:
    today = timezone.localdate()
    to_approve = Requisition.objects.filter(state=Requisition.State.TO_APPROVE).exclude(
        requester=request.user
    )
    open_lines = RequisitionLine.objects.filter(
        requisition__in=Requisition.objects.filter(state=Requisition.State.APPROVED),
        state=RequisitionLine.State.OPEN,
    )
    rfqs = Rfq.objects.filter(state=Rfq.State.SENT).annotate(
        invited=Count("suppliers", distinct=True),
        answered=Count("suppliers", filter=Q(suppliers__state="answered"), distinct=True),
    )
    waiting = PurchaseOrder.objects.filter(state=OState.TO_APPROVE).select_related("party")
    unconfirmed = PurchaseOrder.objects.filter(
        state__in=(OState.APPROVED, OState.SENT)
    ).select_related("party")
    late = (
        PurchaseOrderLine.objects.filter(
            order__in=PurchaseOrder.objects.filter(state__in=OPEN),
            closed=False,
            qty_received__lt=F("quantity"),
        )
        .filter(Q(promised_date__lt=today) | Q(promised_date__isnull=True, need_date__lt=today))
        .select_related("order__party", "product", "uom")
    )
    mismatched = InvoiceMatch.objects.filter(state=InvoiceMatch.State.MISMATCH).select_related(
        "invoice__party"
    )
    orders_url = reverse("purchase:order_list")
    context = {
        "title": _("Purchasing"),
        "can_approve": has_perm(request, "purchase.approve"),
        "can_order": has_perm(request, "purchase.order"),
        "sections": {
            "to_approve": {
                "count": to_approve.count(),
                "rows": list(to_approve.select_related("requester").order_by("date")[:SHOWN]),
                "url": reverse("purchase:requisition_list") + "?state=to_approve",
            },
            "open_lines": {
                "count": open_lines.count(),
                "rows": [
                    {"line": line, "quantity": quantity(line.quantity)}
                    for line in open_lines.select_related("product", "uom", "requisition").order_by(
                        "need_date"
                    )[:SHOWN]
                ],
                "url": reverse("purchase:sourcing"),
            },
            "rfqs": {
                "count": rfqs.count(),
                "rows": list(rfqs.order_by("answer_by")[:SHOWN]),
                "url": reverse("purchase:rfq_list") + "?state=sent",
            },
            "waiting": {
                "count": waiting.count(),
                "rows": [
                    {"order": o, "total": fmt(o.amount_total, o.currency_id)}
                    for o in waiting.order_by("date")[:SHOWN]
                ],  # fmt: skip
                "url": f"{orders_url}?state=to_approve",
            },
            "unconfirmed": {
                "count": unconfirmed.count(),
                "rows": [
                    {"order": o, "badge": badge(o)} for o in unconfirmed.order_by("date")[:SHOWN]
                ],  # fmt: skip
                "url": f"{orders_url}?state=sent",
            },
            "late": {
                "count": late.count(),
                "rows": [
                    {
                        "line": line,
                        "due": line.promised_date or line.need_date,
                        "open": quantity(line.quantity - line.qty_received),
                    }
                    for line in late.order_by("promised_date", "need_date")[:SHOWN]
                ],  # fmt: skip
                "url": f"{orders_url}?to_receive=1",
            },
            "mismatched": {
                "count": mismatched.count(),
                "rows": [
                    {"match": m, "url": safe_reverse("finance:invoice_detail", m.invoice_id)}
                    for m in mismatched.order_by("checked_at")[:SHOWN]
                ],  # fmt: skip
                "url": reverse("purchase:match_list"),
            },
        },
        "today": today,
    }
    return render(request, "purchase/workspace.html", context)


urlpatterns = [path("", workspace, name="workspace")]
