"""Landed costs (the list, a new one on done receipts, posting it into stock value) and the
supplier payment run (pay the posted supplier invoices due by a date through a bank journal)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.forms import DateInput
from xietong.core.permissions import requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import ShellForm, apply_errors, form_response, history_for
from xietong.finance.models import Invoice, Journal
from xietong.finance.views.common import Amount
from xietong.inventory.models import Picking
from xietong.party.models import Party
from xietong.purchase import landed, matching
from xietong.purchase.models import LandedCost
from xietong.purchase.orders import ORDER_SOURCE
from xietong.purchase.views.common import action, badge, fmt, get_or_404, quantity, safe_reverse

LANDED_LIST = ListScreen(
    key="purchase-landed-costs",
    title=gettext_lazy("Landed costs"),
    columns=[
        Column("number", gettext_lazy("Number"), order_by="number", link=True),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column("description", gettext_lazy("Description")),
        Column("split", gettext_lazy("Split"), accessor=lambda c: c.get_split_display()),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        Column(
            "amount",
            gettext_lazy("Amount"),
            accessor=lambda c: Amount(c.amount, c.company.base_currency_id),
            order_by="amount",
        ),
    ],  # fmt: skip
    search_fields=["number", "description"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in LandedCost.State.choices],
        )
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda c: reverse("purchase:landed_detail", args=[c.pk]),
)


@requires("purchase.bill")
def landed_list(request: HttpRequest) -> HttpResponse:
    rows = LandedCost.objects.select_related("company")
    return list_response(request, LANDED_LIST, rows, extra={"actions": [
        (_("New landed cost"), reverse("purchase:landed_create"))]})  # fmt: skip


class LandedForm(ShellForm):
    description = forms.CharField(label=gettext_lazy("Description"), max_length=300)
    amount = forms.DecimalField(label=gettext_lazy("Amount (company currency)"), min_value=0,
                                max_digits=19, decimal_places=4)  # fmt: skip
    split = forms.ChoiceField(label=gettext_lazy("Split"), choices=LandedCost.Split.choices)
    date = forms.DateField(label=gettext_lazy("Date"), widget=DateInput)
    pickings = forms.ModelMultipleChoiceField(label=gettext_lazy("Receipts"),
                                              queryset=Picking.unscoped.none())  # fmt: skip
    invoice = forms.ModelChoiceField(label=gettext_lazy("Cost invoice"), queryset=Invoice.unscoped.none(),
                                     required=False)  # fmt: skip

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        since = timezone.localdate() - dt.timedelta(days=120)
        self.fields["pickings"].queryset = Picking.objects.filter(
            kind=Picking.Kind.RECEIPT, state=Picking.State.DONE, source_type=ORDER_SOURCE,
            done_at__date__gte=since,
        ).select_related("party").order_by("-done_at")  # fmt: skip
        self.fields["pickings"].label_from_instance = lambda p: f"{p.number} · {p.party or ''}"
        self.fields["pickings"].widget.attrs["size"] = 8
        self.fields["invoice"].queryset = Invoice.objects.filter(
            kind=Invoice.Kind.SUPPLIER_INVOICE).exclude(state=Invoice.State.CANCELLED).order_by(
            "-date")[:200]  # fmt: skip
        self.initial.setdefault("date", timezone.localdate())


@requires("purchase.bill")
def landed_create(request: HttpRequest) -> HttpResponse:
    form = LandedForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            made = landed.landed_cost_create(company=request.company, actor=request.user,
                                             **form.cleaned_data)  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Landed cost %(number)s drafted.") % {
                "number": made.number})  # fmt: skip
            return redirect("purchase:landed_detail", made.pk)
    return form_response(request, form=form, title=_("New landed cost"),
                         cancel_url=reverse("purchase:landed_list"),
                         status=400 if form.errors else 200)  # fmt: skip


@requires("purchase.bill")
def landed_detail(request: HttpRequest, pk: int) -> HttpResponse:
    row = get_or_404(LandedCost.objects.select_related("company", "invoice", "entry"), pk)
    currency = row.company.base_currency_id
    found = []
    if row.state == LandedCost.State.DRAFT:
        found = [action(_("Post into stock value"), reverse("purchase:landed_post", args=[pk]),
                        post=True, style="success", id="post"),
                 action(_("Cancel"), reverse("purchase:landed_cancel", args=[pk]), post=True,
                        style="outline-danger", id="cancel")]  # fmt: skip
    return render(request, "purchase/landed_detail.html", {
        "title": _("Landed cost %(number)s") % {"number": row.number}, "row": row,
        "state_badge": badge(row), "actions": found, "amount": fmt(row.amount, currency),
        "currency": currency,
        "pickings": list(row.pickings.select_related("party").order_by("pk")),
        "shares": [{"share": s, "amount": fmt(s.amount, currency),
                    "quantity": quantity(s.move.quantity)}
                   for s in row.lines.select_related("move__product", "move__uom")],
        "entry_url": safe_reverse("finance:entry_detail", row.entry_id) if row.entry_id else "",
        "history": history_for(row),
    })  # fmt: skip


def _landed_action(request: HttpRequest, pk: int, call: Any, success: str) -> HttpResponse:
    row = get_or_404(LandedCost.objects.all(), pk)
    try:
        call(row)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect("purchase:landed_detail", pk)


@require_POST
@requires("purchase.bill")
def landed_post(request: HttpRequest, pk: int) -> HttpResponse:
    return _landed_action(request, pk, lambda row: landed.landed_cost_post(
        landed_cost=row, actor=request.user), _("Posted: the stock value includes it."))  # fmt: skip


@require_POST
@requires("purchase.bill")
def landed_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _landed_action(request, pk, lambda row: landed.landed_cost_cancel(
        landed_cost=row, actor=request.user), _("Landed cost cancelled."))  # fmt: skip


# --- the supplier payment run -----------------------------------------------------------------


class PaymentRunForm(ShellForm):
    journal = forms.ModelChoiceField(
        label=gettext_lazy("Pay from"), queryset=Journal.unscoped.none()
    )
    date = forms.DateField(label=gettext_lazy("Payment date"), widget=DateInput)
    due_by = forms.DateField(label=gettext_lazy("Invoices due by"), widget=DateInput)
    suppliers = forms.ModelMultipleChoiceField(
        label=gettext_lazy("Only these suppliers"), queryset=Party.unscoped.none(), required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["journal"].queryset = Journal.objects.filter(
            kind__in=(Journal.Kind.BANK, Journal.Kind.CASH), active=True).order_by("code")  # fmt: skip
        self.fields["suppliers"].queryset = Party.objects.filter(
            is_supplier=True, active=True).order_by("name")  # fmt: skip
        today = timezone.localdate()
        self.initial.setdefault("date", today)
        self.initial.setdefault("due_by", today + dt.timedelta(days=7))


@requires("finance.payment")
def payment_run(request: HttpRequest) -> HttpResponse:
    """Pay every posted, open supplier invoice due by a date (of some suppliers only)."""
    form = PaymentRunForm(request.POST or None)
    due = Invoice.objects.filter(kind=Invoice.Kind.SUPPLIER_INVOICE,
                                 state=Invoice.State.POSTED).exclude(
        payment_state=Invoice.PaymentState.PAID).select_related("party").order_by(
        "due_date", "pk")[:50]  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            paid = matching.supplier_payment_run(
                company=request.company, journal=data["journal"], date=data["date"],
                due_by=data["due_by"], suppliers=list(data["suppliers"]) or None,
                actor=request.user,
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(count)s supplier invoice(s) paid.") % {
                "count": len(paid)})  # fmt: skip
            return redirect("purchase:payment_run")
    return render(request, "purchase/payment_run.html", {
        "title": _("Supplier payment run"), "form": form,
        "open": [{"invoice": i, "url": safe_reverse("finance:invoice_detail", i.pk),
                  "due": fmt(i.amount_residual, i.currency_id)} for i in due],
    }, status=400 if form.errors else 200)  # fmt: skip


urlpatterns = [
    path("landed-costs/", landed_list, name="landed_list"),
    path("landed-costs/new/", landed_create, name="landed_create"),
    path("landed-costs/<int:pk>/", landed_detail, name="landed_detail"),
    path("landed-costs/<int:pk>/post/", landed_post, name="landed_post"),
    path("landed-costs/<int:pk>/cancel/", landed_cancel, name="landed_cancel"),
    path("payment-run/", payment_run, name="payment_run"),
]
