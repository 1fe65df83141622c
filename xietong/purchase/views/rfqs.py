"""Requests for quotation: the list, the RFQ page (lines, invited suppliers with their state,
the comparison of the answers with the suppliers' scores and the award form), sending it,
inviting more suppliers, recording a supplier's answer, declining, cancelling; each supplier's
PDF."""

from __future__ import annotations

import smtplib
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import history_for
from xietong.party.models import Party
from xietong.party.selectors import timeline_of
from xietong.purchase import rfqs as services
from xietong.purchase.models import Rfq, RfqSupplier
from xietong.purchase.views.common import (
    action,
    badge,
    fmt,
    get_or_404,
    pdf_response,
    quantity,
)

State = Rfq.State

RFQ_LIST = ListScreen(
    key="purchase-rfqs",
    title=gettext_lazy("Requests for quotation"),
    columns=[
        Column("number", gettext_lazy("Number"), order_by="number", link=True),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column("answer_by", gettext_lazy("Answers due"), order_by="answer_by"),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        Column("buyer", gettext_lazy("Buyer"), accessor="buyer", order_by="buyer__username"),
    ],
    search_fields=["number", "suppliers__supplier__name", "lines__product__sku"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in State.choices],
        ),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda r: reverse("purchase:rfq_detail", args=[r.pk]),
)


@requires("purchase.view")
def rfq_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "purchase.order"):
        actions.append((_("Source open requisition lines"), reverse("purchase:sourcing")))
    rows = Rfq.objects.select_related("buyer").distinct()
    return list_response(request, RFQ_LIST, rows, extra={"actions": actions})


def _rfq(pk: int) -> Rfq:
    return get_or_404(Rfq.objects.select_related("buyer", "warehouse"), pk)


@requires("purchase.view")
def rfq_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rfq = _rfq(pk)
    can = has_perm(request, "purchase.order")
    open_ = rfq.state in (State.DRAFT, State.SENT)
    invitations = list(rfq.suppliers.select_related("supplier").order_by("pk"))
    compared = services.rfq_comparison(rfq=rfq)
    found: list[dict[str, Any]] = []
    if can and open_:
        found.append(action(_("Send"), reverse("purchase:rfq_send", args=[pk]), post=True,
                            style="primary", id="send"))  # fmt: skip
        found.append(action(_("Cancel"), reverse("purchase:rfq_cancel", args=[pk]), post=True,
                            style="outline-danger", id="cancel"))  # fmt: skip
    invited = {i.supplier_id for i in invitations}
    return render(request, "purchase/rfq_detail.html", {
        "rfq": rfq,
        "title": _("Request for quotation %(number)s") % {"number": rfq.number},
        "state_badge": badge(rfq),
        "actions": found,
        "can_edit": can and open_,
        "lines": [{"line": line, "quantity": quantity(line.quantity)}
                  for line in rfq.lines.select_related("product", "uom")],
        "invitations": [{"invitation": i, "badge": badge(i),
                         "pdf_url": reverse("purchase:rfq_pdf", args=[i.pk]),
                         "answer_url": reverse("purchase:rfq_answer", args=[i.pk])}
                        for i in invitations],
        "others": Party.objects.filter(is_supplier=True, active=True, merged_into__isnull=True)
        .exclude(pk__in=invited).order_by("name"),
        "comparison": [
            {"line": c.line, "awarded": quantity(c.awarded), "rows": [
                {"row": r, "price": fmt(r.unit_price, rfq.currency_id),
                 "total": fmt(r.total, rfq.currency_id), "quantity": quantity(r.quantity),
                 "awarded": quantity(r.awarded_quantity),
                 "suggest": quantity(min(r.quantity, c.line.quantity)) if r.recommended else ""}
                for r in c.bids]}
            for c in compared
        ],
        "timeline": timeline_of(rfq),
        "history": history_for(rfq),
    })  # fmt: skip


def _back(request: HttpRequest, pk: int, call: Any, success: str) -> HttpResponse:
    try:
        result = call()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("purchase:rfq_detail", pk)
    except (smtplib.SMTPException, OSError) as exc:
        messages.error(request, _("The mail server refused the message: %(error)s")
                       % {"error": exc})  # fmt: skip
        return redirect("purchase:rfq_detail", pk)
    messages.success(request, success)
    if isinstance(result, list) and result and hasattr(result[0], "lines"):
        return redirect("purchase:order_list")
    return redirect("purchase:rfq_detail", pk)


@require_POST
@requires("purchase.order")
def rfq_send(request: HttpRequest, pk: int) -> HttpResponse:
    rfq = _rfq(pk)
    return _back(request, pk, lambda: services.rfq_send(rfq=rfq, actor=request.user),
                 _("The RFQ is sent."))  # fmt: skip


@require_POST
@requires("purchase.order")
def rfq_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    rfq = _rfq(pk)
    return _back(request, pk, lambda: services.rfq_cancel(rfq=rfq, actor=request.user),
                 _("The RFQ is cancelled."))  # fmt: skip


@require_POST
@requires("purchase.order")
def rfq_invite(request: HttpRequest, pk: int) -> HttpResponse:
    rfq = _rfq(pk)
    chosen = list(Party.objects.filter(pk__in=request.POST.getlist("suppliers")))
    return _back(request, pk, lambda: services.rfq_invite(rfq=rfq, suppliers=chosen,
                 actor=request.user), _("Suppliers invited."))  # fmt: skip


@require_POST
@requires("purchase.order")
def rfq_award(request: HttpRequest, pk: int) -> HttpResponse:
    rfq = _rfq(pk)
    awards = []
    for key, value in request.POST.items():
        if key.startswith("award_") and value.strip() not in ("", "0"):
            try:
                awards.append((int(key.removeprefix("award_")), Decimal(value.strip())))
            except (ValueError, InvalidOperation):
                messages.error(request, _("“%(value)s” is not a quantity.") % {"value": value})
                return redirect("purchase:rfq_detail", pk)
    return _back(request, pk, lambda: services.rfq_award(rfq=rfq, actor=request.user,
                 awards=awards), _("Awarded: the purchase orders are drafted."))  # fmt: skip


def _invitation(pk: int) -> RfqSupplier:
    """The invitation of an RFQ of the request's company, else 404."""
    return get_or_404(
        RfqSupplier.objects.filter(rfq__in=Rfq.objects.all()).select_related("supplier", "rfq"),
        pk,
    )


@requires("purchase.order")
def rfq_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a supplier's answer: per line its price, quantity and lead time (empty price:
    no offer for the line), the supplier's reference and validity; or its refusal."""
    invitation = _invitation(pk)
    rfq = invitation.rfq
    lines = list(rfq.lines.select_related("product", "uom"))
    current = {b.line_id: b for b in invitation.bids.all()}
    errors: list[str] = []
    if request.method == "POST":
        try:
            if request.POST.get("decline") == "1":
                services.invitation_decline(invitation=invitation, actor=request.user,
                                            reason=request.POST.get("notes", ""))  # fmt: skip
            else:
                bids = [
                    {"line": line, "unit_price": request.POST.get(f"price_{line.pk}"),
                     "quantity": request.POST.get(f"quantity_{line.pk}") or None,
                     "lead_time_days": request.POST.get(f"lead_{line.pk}") or 0}
                    for line in lines if (request.POST.get(f"price_{line.pk}") or "").strip()
                ]  # fmt: skip
                services.bids_record(invitation=invitation, actor=request.user, bids=bids,
                                     reference=request.POST.get("reference", ""),
                                     valid_until=request.POST.get("valid_until") or None)  # fmt: skip
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("The answer of %(name)s is recorded.") % {
                "name": invitation.supplier.name})  # fmt: skip
            return redirect("purchase:rfq_detail", rfq.pk)
    post = request.POST if request.method == "POST" else None
    rows = []
    for line in lines:
        bid = current.get(line.pk)
        rows.append({
            "line": line, "quantity": quantity(line.quantity),
            "price": post.get(f"price_{line.pk}", "") if post else (bid.unit_price if bid else ""),
            "offered": post.get(f"quantity_{line.pk}", "") if post
            else (quantity(bid.quantity) if bid else ""),
            "lead": post.get(f"lead_{line.pk}", "") if post else (bid.lead_time_days if bid else ""),
        })  # fmt: skip
    return render(request, "purchase/rfq_answer.html", {
        "title": _("Answer of %(name)s to %(number)s") % {"name": invitation.supplier.name,
                                                          "number": rfq.number},
        "rfq": rfq, "invitation": invitation, "rows": rows, "errors": errors,
        "cancel_url": reverse("purchase:rfq_detail", args=[rfq.pk]),
    }, status=400 if errors else 200)  # fmt: skip


@requires("purchase.view")
def rfq_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    invitation = _invitation(pk)
    return pdf_response(services.rfq_pdf(rfq=invitation.rfq, invitation=invitation),
                        invitation.rfq.number)  # fmt: skip


urlpatterns = [
    path("rfqs/", rfq_list, name="rfq_list"),
    path("rfqs/<int:pk>/", rfq_detail, name="rfq_detail"),
    path("rfqs/<int:pk>/send/", rfq_send, name="rfq_send"),
    path("rfqs/<int:pk>/cancel/", rfq_cancel, name="rfq_cancel"),
    path("rfqs/<int:pk>/invite/", rfq_invite, name="rfq_invite"),
    path("rfqs/<int:pk>/award/", rfq_award, name="rfq_award"),
    path("rfq-suppliers/<int:pk>/answer/", rfq_answer, name="rfq_answer"),
    path("rfq-suppliers/<int:pk>/pdf/", rfq_pdf, name="rfq_pdf"),
]
