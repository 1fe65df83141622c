"""Purchase requisitions: the list, the form anyone with `purchase.request` uses, the page with
its lines (state, and the RFQ or order that took each) and actions: submit, approve or reject
(someone else than the requester, with `purchase.approve`), cancel; and the buyer's sourcing
screen of open lines, turned into purchase orders by supplier or into an RFQ."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import history_for
from xietong.finance.views.common import Amount
from xietong.party.models import Party
from xietong.purchase import requisitions as services
from xietong.purchase import rfqs, sending
from xietong.purchase.forms import DecisionForm, LineFormSet, RequisitionForm
from xietong.purchase.models import Requisition
from xietong.purchase.views.common import action, badge, fmt, get_or_404, pdf_response, quantity
from xietong.purchase.views.orders import _errors_onto, _lines_of

State = Requisition.State

REQUISITION_LIST = ListScreen(
    key="purchase-requisitions",
    title=gettext_lazy("Purchase requisitions"),
    columns=[
        Column("number", gettext_lazy("Number"), order_by="number", link=True),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column(
            "requester",
            gettext_lazy("Requested by"),
            accessor="requester",
            order_by="requester__username",
        ),
        Column("source", gettext_lazy("Source"), accessor=lambda r: r.get_source_display()),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        Column(
            "amount_estimate",
            gettext_lazy("Estimate"),
            accessor=lambda r: Amount(r.amount_estimate, r.company.base_currency_id),
            order_by="amount_estimate",
        ),
    ],  # fmt: skip
    search_fields=["number", "notes", "lines__product__sku", "lines__product__name"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in State.choices],
        ),
        Filter(
            "source",
            gettext_lazy("Source"),
            "source",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Requisition.Source.choices],
        ),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda r: reverse("purchase:requisition_detail", args=[r.pk]),
)


@requires("purchase.request")
def requisition_list(request: HttpRequest) -> HttpResponse:
    rows = Requisition.objects.select_related("requester", "company").distinct()
    if not has_perm(request, "purchase.view"):
        rows = rows.filter(requester=request.user)  # a requester sees their own
    actions = [(_("New requisition"), reverse("purchase:requisition_create"))]
    if has_perm(request, "purchase.order"):
        actions.append((_("Source open lines"), reverse("purchase:sourcing")))
    return list_response(request, REQUISITION_LIST, rows,
                         template="purchase/requisition_list.html", extra={
        "actions": actions, "replenish": has_perm(request, "purchase.order")})  # fmt: skip


@requires("purchase.request")
def requisition_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = RequisitionForm(request.POST)
        formset = LineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            try:
                made = services.requisition_create(
                    company=request.company, actor=request.user, lines=_lines_of(formset),
                    warehouse=form.cleaned_data["warehouse"], notes=form.cleaned_data["notes"],
                )  # fmt: skip
                if request.POST.get("submit") == "1":
                    services.requisition_submit(requisition=made, actor=request.user)
            except ValidationError as exc:
                _errors_onto(form, formset, exc)
            else:
                messages.success(request, _("Requisition %(number)s saved.") % {
                    "number": made.number})  # fmt: skip
                return redirect("purchase:requisition_detail", made.pk)
    else:
        form = RequisitionForm()
        formset = LineFormSet(prefix="lines")
    return render(request, "purchase/document_form.html", {
        "title": _("New requisition"), "form": form, "formset": formset,
        "cancel_url": reverse("purchase:requisition_list"), "reason_column": True,
        "submit_too": True,
    })  # fmt: skip


def _requisition(request: HttpRequest, pk: int) -> Requisition:
    """A requisition of the company (anyone who may request sees the company's; the list
    shows a requester only their own)."""
    rows = Requisition.objects.select_related("requester", "decided_by", "warehouse", "company")
    return get_or_404(rows, pk)


@requires("purchase.request")
def requisition_detail(request: HttpRequest, pk: int) -> HttpResponse:
    requisition = _requisition(request, pk)
    lines = list(
        requisition.lines.select_related(
            "product", "uom", "supplier", "rfq_line__rfq", "order_line__order"
        )
    )
    pk_ = requisition.pk
    found: list[dict[str, Any]] = []
    mine = requisition.requester_id == request.user.pk
    if requisition.state == State.DRAFT and (mine or has_perm(request, "purchase.order")):
        found.append(action(_("Submit"), reverse("purchase:requisition_submit", args=[pk_]),
                            post=True, style="success", id="submit"))  # fmt: skip
    if requisition.state == State.TO_APPROVE and has_perm(request, "purchase.approve") and not mine:
        found.append(action(_("Approve or reject"),
                            reverse("purchase:requisition_decide", args=[pk_]), style="primary",
                            id="decide"))  # fmt: skip
    if requisition.state in (State.DRAFT, State.TO_APPROVE, State.APPROVED) and (
        mine or has_perm(request, "purchase.order")
    ):
        found.append(action(_("Cancel"), reverse("purchase:requisition_cancel", args=[pk_]),
                            post=True, style="outline-danger", id="cancel"))  # fmt: skip
    found.append(action(_("PDF"), reverse("purchase:requisition_pdf", args=[pk_]),
                        style="outline-secondary", id="pdf"))  # fmt: skip
    currency = requisition.company.base_currency_id
    return render(request, "purchase/requisition_detail.html", {
        "requisition": requisition,
        "title": _("Requisition %(number)s") % {"number": requisition.number},
        "state_badge": badge(requisition),
        "actions": found,
        "estimate": fmt(requisition.amount_estimate, currency),
        "currency": currency,
        "lines": [{"line": line, "badge": badge(line), "quantity": quantity(line.quantity),
                   "price": fmt(line.price_estimate, currency)} for line in lines],
        "history": history_for(requisition),
    })  # fmt: skip


def _run(request: HttpRequest, pk: int, call: Any, success: str) -> HttpResponse:
    try:
        call()
    except (ValidationError, PermissionDenied) as exc:
        for message in getattr(exc, "messages", None) or [str(exc)]:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect("purchase:requisition_detail", pk)


@require_POST
@requires("purchase.request")
def requisition_submit(request: HttpRequest, pk: int) -> HttpResponse:
    requisition = _requisition(request, pk)
    return _run(request, pk, lambda: services.requisition_submit(
        requisition=requisition, actor=request.user), _("Requisition submitted."))  # fmt: skip


@require_POST
@requires("purchase.request")
def requisition_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    requisition = _requisition(request, pk)
    return _run(request, pk, lambda: services.requisition_cancel(
        requisition=requisition, actor=request.user), _("Requisition cancelled."))  # fmt: skip


@requires("purchase.approve")
def requisition_decide(request: HttpRequest, pk: int) -> HttpResponse:
    requisition = _requisition(request, pk)
    form = DecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        approved = request.POST.get("decision") == "approve"
        return _run(request, pk, lambda: services.requisition_decide(
            requisition=requisition, actor=request.user, approved=approved,
            comment=form.cleaned_data["comment"]),
            _("Requisition approved.") if approved else _("Requisition rejected."))  # fmt: skip
    return render(request, "purchase/decide.html", {
        "form": form, "title": _("Approve %(number)s?") % {"number": requisition.number},
        "cancel_url": reverse("purchase:requisition_detail", args=[pk]),
        "summary": _("Estimate %(amount)s %(currency)s, requested by %(who)s") % {
            "amount": fmt(requisition.amount_estimate, requisition.company.base_currency_id),
            "currency": requisition.company.base_currency_id,
            "who": requisition.requester or "—"},
    })  # fmt: skip


@requires("purchase.request")
def requisition_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    requisition = _requisition(request, pk)
    return pdf_response(sending.requisition_pdf(requisition), requisition.number)


@require_POST
@requires("purchase.order")
def requisitions_replenish(request: HttpRequest) -> HttpResponse:
    """Requisitions for the bought products at or below their reorder point (one a
    warehouse), less what is already asked for."""
    made = services.requisitions_from_replenishment(company=request.company, actor=request.user)
    if made:
        messages.success(request, _("%(count)s requisition(s) made: %(numbers)s") % {
            "count": len(made), "numbers": ", ".join(r.number for r in made)})  # fmt: skip
    else:
        messages.info(request, _("Nothing is at or below its reorder point."))
    return redirect("purchase:requisition_list")


# --- sourcing ---------------------------------------------------------------------------------


@requires("purchase.order")
def sourcing(request: HttpRequest) -> HttpResponse:
    """The open lines of approved requisitions; the buyer picks some and makes purchase orders
    (by supplier) or one RFQ to several suppliers."""
    lines = services.open_lines(company=request.company)
    vendors = list(Party.objects.filter(is_supplier=True, active=True, merged_into__isnull=True)
                   .order_by("name"))  # fmt: skip
    if request.method == "POST":
        chosen = [line for line in lines if request.POST.get(f"line_{line.pk}") == "on"]
        try:
            if request.POST.get("make") == "rfq":
                invited = [v for v in vendors if str(v.pk) in request.POST.getlist("suppliers")]
                rfq = rfqs.rfq_create(company=request.company, actor=request.user,
                                      requisition_lines=chosen, suppliers=invited)  # fmt: skip
                messages.success(request, _("RFQ %(number)s made.") % {"number": rfq.number})
                return redirect("purchase:rfq_detail", rfq.pk)
            picked = {line.pk: vendor for line in chosen
                      if (vendor := next((v for v in vendors if str(v.pk) ==
                                          request.POST.get(f"supplier_{line.pk}")), None))}  # fmt: skip
            made = services.orders_from_requisitions(company=request.company, actor=request.user,
                                                     lines=chosen, suppliers=picked)  # fmt: skip
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("%(count)s purchase order(s) drafted: %(numbers)s") % {
                "count": len(made), "numbers": ", ".join(o.number for o in made)})  # fmt: skip
            return redirect("purchase:order_list")
    return render(request, "purchase/sourcing.html", {
        "title": _("Source open requisition lines"),
        "lines": [{"line": line, "quantity": quantity(line.quantity)} for line in lines],
        "suppliers": vendors,
    })  # fmt: skip


urlpatterns = [
    path("requisitions/", requisition_list, name="requisition_list"),
    path("requisitions/new/", requisition_create, name="requisition_create"),
    path("requisitions/<int:pk>/", requisition_detail, name="requisition_detail"),
    path("requisitions/<int:pk>/submit/", requisition_submit, name="requisition_submit"),
    path("requisitions/<int:pk>/decide/", requisition_decide, name="requisition_decide"),
    path("requisitions/<int:pk>/cancel/", requisition_cancel, name="requisition_cancel"),
    path("requisitions/<int:pk>/pdf/", requisition_pdf, name="requisition_pdf"),
    path("requisitions/replenish/", requisitions_replenish, name="requisitions_replenish"),
    path("sourcing/", sourcing, name="sourcing"),
]
