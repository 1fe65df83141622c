"""Purchase orders: the list (state, what is left to receive and to bill), the order form
(header and a formset of lines), the order page with its tabs (lines with ordered, received,
rejected and billed quantities and dates; receipts; supplier invoices; timeline; history) and
its actions: submit for approval, send, record the supplier's confirmation, receive (with the
inspection's rejections), close a line, cancel, the PDF and each receipt's goods received
note."""

from __future__ import annotations

import smtplib
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, F, OuterRef, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.forms import DateInput
from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors, form_response, history_for
from xietong.finance.models import Invoice
from xietong.finance.views.common import Amount
from xietong.inventory.models import Picking
from xietong.party.selectors import timeline_of
from xietong.purchase import orders as services
from xietong.purchase import receiving, sending
from xietong.purchase.forms import CancelForm, LineFormSet, OrderForm, SendForm, suppliers
from xietong.purchase.models import BilledLine, PurchaseOrder, PurchaseOrderLine
from xietong.purchase.views.common import (
    action,
    badge,
    fmt,
    get_or_404,
    pdf_response,
    quantity,
    safe_reverse,
)
from xietong.workflow.links import process_links

State = PurchaseOrder.State
OPEN = (State.APPROVED, State.SENT, State.CONFIRMED)
TABS = ("lines", "receipts", "invoices", "timeline", "history")


def _to_receive() -> Any:
    return PurchaseOrderLine.objects.filter(
        order=OuterRef("pk"), closed=False, qty_received__lt=F("quantity")
    )


def _to_bill() -> Any:
    return PurchaseOrderLine.objects.filter(order=OuterRef("pk"), qty_billed__lt=F("qty_received"))


def purchase_orders() -> Any:
    """The company's orders with `to_receive` and `to_bill` for the list's filters."""
    return PurchaseOrder.objects.select_related("party", "buyer").annotate(
        to_receive=Exists(_to_receive()), to_bill=Exists(_to_bill())
    )


def _yes_no(request: HttpRequest) -> list[tuple[str, str]]:
    return [("1", _("Yes")), ("0", _("No"))]


ORDER_LIST = ListScreen(
    key="purchase-orders",
    title=gettext_lazy("Purchase orders"),
    columns=[
        Column("number", gettext_lazy("Number"), order_by="number", link=True),
        Column("party", gettext_lazy("Supplier"), accessor="party__name", order_by="party__name"),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        Column(
            "to_receive",
            gettext_lazy("To receive"),
            accessor=lambda o: _("Yes") if o.to_receive and o.state in OPEN else "",
        ),
        Column(
            "to_bill", gettext_lazy("To bill"), accessor=lambda o: _("Yes") if o.to_bill else ""
        ),
        Column("buyer", gettext_lazy("Buyer"), accessor="buyer", order_by="buyer__username"),
        Column(
            "amount_total",
            gettext_lazy("Total"),
            accessor=lambda o: Amount(o.amount_total, o.currency_id),
            order_by="amount_total",
        ),
        Column("currency", gettext_lazy("Currency"), accessor="currency_id", default=False),
        Column("supplier_reference", gettext_lazy("Supplier's reference"), default=False),
    ],  # fmt: skip
    search_fields=["number", "party__name", "party__code", "supplier_reference"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in State.choices],
        ),
        Filter("to_receive", gettext_lazy("To receive"), "to_receive", choices=_yes_no),
        Filter("to_bill", gettext_lazy("To bill"), "to_bill", choices=_yes_no),
        Filter(
            "party",
            gettext_lazy("Supplier"),
            "party_id",
            choices=lambda r: [(str(p.pk), p.name) for p in suppliers()],
        ),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda o: reverse("purchase:order_detail", args=[o.pk]),
)


@requires("purchase.view")
def order_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "purchase.order"):
        actions.append((_("New purchase order"), reverse("purchase:order_create")))
    return list_response(request, ORDER_LIST, purchase_orders(), extra={"actions": actions})


# --- the order form ---------------------------------------------------------------------------


def _lines_of(formset: Any) -> list[dict[str, Any]]:
    return [line for form in formset.forms if (line := form.line()) is not None]


def _document_form(request: HttpRequest, *, order: PurchaseOrder | None) -> HttpResponse:
    initial_lines = []
    if order is not None:
        initial_lines = [
            {"product": line.product, "quantity": line.quantity, "unit_price": line.unit_price,
             "need_date": line.need_date}
            for line in services.order_lines(order)
        ]  # fmt: skip
    if request.method == "POST":
        form = OrderForm(request.POST, party=order.party if order else None)
        formset = LineFormSet(request.POST, prefix="lines")
        if form.is_valid() and formset.is_valid():
            data = form.cleaned_data
            try:
                if order is None:
                    saved = services.order_create(
                        company=request.company, actor=request.user, party=data["party"],
                        date=data["date"], warehouse=data["warehouse"],
                        supplier_reference=data["supplier_reference"], notes=data["notes"],
                        lines=_lines_of(formset),
                    )  # fmt: skip
                else:
                    saved = services.order_update(
                        order=order, actor=request.user, party=data["party"], date=data["date"],
                        warehouse=data["warehouse"] or order.warehouse,
                        supplier_reference=data["supplier_reference"], notes=data["notes"],
                        lines=_lines_of(formset),
                    )  # fmt: skip
            except ValidationError as exc:
                _errors_onto(form, formset, exc)
            else:
                messages.success(request, _("Purchase order %(number)s saved.") % {
                    "number": saved.number})  # fmt: skip
                return redirect("purchase:order_detail", saved.pk)
    else:
        initial = {}
        if order is not None:
            initial = {"party": order.party, "date": order.date, "warehouse": order.warehouse,
                       "supplier_reference": order.supplier_reference, "notes": order.notes}  # fmt: skip
        form = OrderForm(initial=initial, party=order.party if order else None)
        formset = LineFormSet(prefix="lines", initial=initial_lines)
    title = _("New purchase order") if order is None else _("Edit %(number)s") % {
        "number": order.number}  # fmt: skip
    cancel = reverse("purchase:order_list") if order is None else reverse(
        "purchase:order_detail", args=[order.pk])  # fmt: skip
    return render(request, "purchase/document_form.html", {
        "title": title, "form": form, "formset": formset, "cancel_url": cancel,
        "price_column": True,
    })  # fmt: skip


def _errors_onto(form: Any, formset: Any, exc: ValidationError) -> None:
    """A service's errors onto the header form and the line rows (`lines.N.field`)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, found in exc.message_dict.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) >= 2 and parts[1].isdigit():
            n = int(parts[1]) - 1
            blank = [f for f in formset.forms if f.line() is not None]
            if 0 <= n < len(blank):
                name = parts[2] if len(parts) > 2 else None
                blank[n].add_error(name if name in blank[n].fields else None, found)
                continue
        form.add_error(key if key in form.fields else None, found)


@requires("purchase.order")
def order_create(request: HttpRequest) -> HttpResponse:
    return _document_form(request, order=None)


@requires("purchase.order")
def order_edit(request: HttpRequest, pk: int) -> HttpResponse:
    order = get_or_404(PurchaseOrder.objects.select_related("party", "warehouse"), pk)
    if order.state != State.DRAFT:
        messages.error(request, _("Only a draft order can be changed."))
        return redirect("purchase:order_detail", pk)
    return _document_form(request, order=order)


# --- the order page -----------------------------------------------------------------------------


def _order(pk: int) -> PurchaseOrder:
    return get_or_404(
        PurchaseOrder.objects.select_related(
            "party", "contact", "buyer", "warehouse", "payment_term", "rfq", "approval_process"
        ),
        pk,
    )


def order_invoices(order: PurchaseOrder) -> list[Invoice]:
    """The supplier invoices and credit notes with lines billed against the order."""
    lines = BilledLine.objects.filter(order_line__order=order).values("invoice_line__invoice_id")
    return list(Invoice.objects.filter(pk__in=lines).order_by("date", "pk"))


def _actions(request: HttpRequest, order: PurchaseOrder, *, received: bool,
             billable: bool) -> list[dict]:  # fmt: skip
    pk = order.pk
    can_order = has_perm(request, "purchase.order")
    found: list[dict[str, Any]] = []
    if can_order and order.state == State.DRAFT:
        found.append(action(_("Submit for approval"), reverse("purchase:order_submit", args=[pk]),
                            post=True, style="success", id="submit"))  # fmt: skip
        found.append(action(_("Edit"), reverse("purchase:order_edit", args=[pk]), id="edit"))
    if can_order and order.state in OPEN:
        found.append(action(_("Send to the supplier"), reverse("purchase:order_send", args=[pk]),
                            style="primary", id="send"))  # fmt: skip
        found.append(action(_("Supplier confirmed"),
                            reverse("purchase:order_confirm", args=[pk]), id="confirm"))  # fmt: skip
    if has_perm(request, "purchase.receive") and order.state in OPEN:
        found.append(action(_("Receive"), reverse("purchase:order_receive", args=[pk]),
                            style="success", id="receive"))  # fmt: skip
    if has_perm(request, "purchase.bill") and billable and order.state != State.CANCELLED:
        found.append(action(_("Bill"), reverse("purchase:order_bill", args=[pk]), post=True,
                            id="bill"))  # fmt: skip
    found.append(action(_("PDF"), reverse("purchase:order_pdf", args=[pk]),
                        style="outline-secondary", id="pdf"))  # fmt: skip
    if can_order and order.state not in (State.DONE, State.CANCELLED) and not received:
        found.append(action(_("Cancel"), reverse("purchase:order_cancel", args=[pk]),
                            style="outline-danger", id="cancel"))  # fmt: skip
    return found


@requires("purchase.view")
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    currency = order.currency_id
    lines = services.order_lines(order)
    received = any(line.qty_received > 0 or line.qty_rejected > 0 for line in lines)
    receipts = services.order_receipts(order)
    invoices = order_invoices(order)
    tab = request.GET.get("tab", "lines")
    context = {
        "order": order,
        "title": _("Purchase order %(number)s") % {"number": order.number},
        "state_badge": badge(order),
        "actions": _actions(
            request,
            order,
            received=received,
            billable=any(line.qty_received > line.qty_billed for line in lines),
        ),
        "lines": [
            {
                "line": line,
                "quantity": quantity(line.quantity),
                "received": quantity(line.qty_received),
                "rejected": quantity(line.qty_rejected),
                "billed": quantity(line.qty_billed),
                "price": fmt(line.unit_price, currency),
                "amount": fmt(line.amount_untaxed, currency),
                "late": line.closed is False
                and line.qty_received < line.quantity
                and (line.promised_date or line.need_date) < order.date.today(),
                "close_url": reverse("purchase:line_close", args=[line.pk])
                if order.state in OPEN
                and not line.closed
                and line.qty_received < line.quantity
                and has_perm(request, "purchase.receive")
                else "",
            }
            for line in lines
        ],  # fmt: skip
        "totals": {
            "untaxed": fmt(order.amount_untaxed, currency),
            "tax": fmt(order.amount_tax, currency),
            "total": fmt(order.amount_total, currency),
        },
        "receipts": [
            {
                "picking": p,
                "badge": badge(p),
                "url": safe_reverse("inventory:picking_detail", p.pk),
                "note_url": reverse("purchase:receipt_pdf", args=[p.pk])
                if p.state == Picking.State.DONE and p.kind == Picking.Kind.RECEIPT
                else "",
            }
            for p in receipts
        ],  # fmt: skip
        "invoices": [
            {
                "invoice": i,
                "url": safe_reverse("finance:invoice_detail", i.pk),
                "total": fmt(i.amount_total, i.currency_id),
                "badge": badge(i),
            }
            for i in invoices
        ],  # fmt: skip
        "process": process_links(request, order.approval_process),
        "timeline": timeline_of(order),
        "history": history_for(order),
        "party_url": safe_reverse("party:party_detail", order.party_id),
        "tab": tab if tab in TABS else "lines",
    }
    return render(request, "purchase/order_detail.html", context)


def _done(request: HttpRequest, pk: int, call: Any, success: str) -> HttpResponse:
    """Run one service for a POST action; its refusal becomes an error message."""
    try:
        call()
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, success)
    return redirect("purchase:order_detail", pk)


@require_POST
@requires("purchase.order")
def order_submit(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    return _done(request, pk, lambda: services.order_submit(order=order, actor=request.user),
                 _("Submitted for approval."))  # fmt: skip


@requires("purchase.order")
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    form = CancelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _done(request, pk, lambda: services.order_cancel(
            order=order, actor=request.user, reason=form.cleaned_data["reason"]),
            _("Purchase order cancelled."))  # fmt: skip
    return form_response(request, form=form, title=_("Cancel %(number)s") % {
        "number": order.number}, cancel_url=reverse("purchase:order_detail", args=[pk]),
        submit_label=_("Cancel the order"))  # fmt: skip


@requires("purchase.order")
def order_send(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    form = SendForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sending.order_send(order=order, actor=request.user, to=form.cleaned_data["to"] or None,
                               message=form.cleaned_data["message"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        except (smtplib.SMTPException, OSError) as exc:
            form.add_error(None, _("The mail server refused the message: %(error)s")
                           % {"error": exc})  # fmt: skip
        else:
            messages.success(request, _("Purchase order sent."))
            return redirect("purchase:order_detail", pk)
    return form_response(request, form=form, title=_("Send %(number)s") % {
        "number": order.number}, cancel_url=reverse("purchase:order_detail", args=[pk]),
        submit_label=_("Send"))  # fmt: skip


class ConfirmForm(forms.Form):
    supplier_reference = forms.CharField(label=gettext_lazy("Supplier's reference"), max_length=80,
                                         required=False)  # fmt: skip

    def __init__(self, *args: Any, lines: list[PurchaseOrderLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"promised_{line.pk}"] = forms.DateField(
                label=f"{line.description} ({quantity(line.quantity)} {line.uom.code})",
                required=False, initial=line.promised_date or line.need_date,
                widget=DateInput(attrs={"class": "form-control"}),
            )  # fmt: skip
        self.fields["supplier_reference"].widget.attrs["class"] = "form-control"


@requires("purchase.order")
def order_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    lines = services.order_lines(order)
    form = ConfirmForm(request.POST or None, lines=lines,
                       initial={"supplier_reference": order.supplier_reference})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        promised = {line.pk: form.cleaned_data[f"promised_{line.pk}"] for line in lines
                    if form.cleaned_data.get(f"promised_{line.pk}")}  # fmt: skip
        try:
            services.order_confirm(order=order, actor=request.user, promised=promised,
                                   supplier_reference=form.cleaned_data["supplier_reference"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The supplier's confirmation is recorded."))
            return redirect("purchase:order_detail", pk)
    return form_response(request, form=form, title=_("Confirmation of %(number)s") % {
        "number": order.number}, cancel_url=reverse("purchase:order_detail", args=[pk]),
        submit_label=_("Record the confirmation"))  # fmt: skip


@requires("purchase.receive")
def order_receive(request: HttpRequest, pk: int) -> HttpResponse:
    """Receive goods: per open line the quantity that arrived and, for products inspected at
    receipt, the quantity rejected with the reason."""
    order = _order(pk)
    lines = [line for line in services.order_lines(order) if not line.closed]
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    if request.method == "POST":
        values = {k: v for k, v in request.POST.items() if k != "csrfmiddlewaretoken"}
        wanted = []
        for line in lines:
            arrived = values.get(f"quantity_{line.pk}", "").strip()
            if not arrived or arrived == "0":
                continue
            row: dict[str, Any] = {"line": line, "quantity": arrived,
                                   "reason": values.get(f"reason_{line.pk}", "")}  # fmt: skip
            rejected = values.get(f"rejected_{line.pk}", "").strip()
            if rejected or line.product.inspection_required:
                row["rejected"] = rejected
            wanted.append(row)
        try:
            receiving.order_receive(order=order, actor=request.user, lines=wanted,
                                    close=values.get("close") == "on")  # fmt: skip
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
        else:
            messages.success(request, _("Goods received on %(number)s.") % {
                "number": order.number})  # fmt: skip
            return redirect(reverse("purchase:order_detail", args=[pk]) + "?tab=receipts")
    rows = []
    for n, line in enumerate(lines, start=1):
        open_qty = max(line.quantity - line.qty_received, 0)
        rows.append({
            "line": line, "ordered": quantity(line.quantity),
            "received": quantity(line.qty_received), "open": quantity(open_qty),
            "value": values.get(f"quantity_{line.pk}", quantity(open_qty) if request.method
                                != "POST" else ""),
            "rejected": values.get(f"rejected_{line.pk}", ""),
            "reason": values.get(f"reason_{line.pk}", ""),
            "errors": [m for k, ms in errors.items() if k.startswith(f"lines.{n}.") or
                       k == f"lines.{n}" for m in ms],
        })  # fmt: skip
    return render(request, "purchase/receive.html", {
        "title": _("Receive %(number)s") % {"number": order.number}, "order": order,
        "rows": rows, "errors": [m for k, ms in errors.items() if not k.startswith("lines.")
                                 for m in ms],
        "cancel_url": reverse("purchase:order_detail", args=[pk]),
    }, status=400 if errors else 200)  # fmt: skip


@require_POST
@requires("purchase.receive")
def line_close(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_or_404(PurchaseOrderLine.objects.filter(order__in=PurchaseOrder.objects.all()), pk)
    return _done(request, line.order_id, lambda: receiving.line_close(line=line,
                 actor=request.user), _("Line closed: nothing more is expected."))  # fmt: skip


@requires("purchase.view")
def order_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    return pdf_response(sending.order_pdf(order), order.number)


@requires("purchase.view")
def receipt_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    picking = get_or_404(Picking.objects.filter(Q(source_type=services.ORDER_SOURCE)), pk)
    return pdf_response(sending.receipt_pdf(picking), picking.number)


urlpatterns = [
    path("orders/", order_list, name="order_list"),
    path("orders/new/", order_create, name="order_create"),
    path("orders/<int:pk>/", order_detail, name="order_detail"),
    path("orders/<int:pk>/edit/", order_edit, name="order_edit"),
    path("orders/<int:pk>/submit/", order_submit, name="order_submit"),
    path("orders/<int:pk>/send/", order_send, name="order_send"),
    path("orders/<int:pk>/confirm/", order_confirm, name="order_confirm"),
    path("orders/<int:pk>/receive/", order_receive, name="order_receive"),
    path("orders/<int:pk>/cancel/", order_cancel, name="order_cancel"),
    path("orders/<int:pk>/pdf/", order_pdf, name="order_pdf"),
    path("order-lines/<int:pk>/close/", line_close, name="line_close"),
    path("receipts/<int:pk>/pdf/", receipt_pdf, name="receipt_pdf"),
]
