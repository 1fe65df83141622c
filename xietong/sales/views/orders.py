"""Sales orders: the list (state, what is left to deliver and to invoice), the direct order form
(the quick-quote editor), the order page with its tabs (lines with ordered, delivered, invoiced
and returned quantities and promise dates; deliveries; invoices; payments; returns; timeline;
history) and its actions: confirm, cancel, invoice (quantities, post), down payment, send the
confirmation, the order PDF and a delivery note per delivery."""

from __future__ import annotations

import smtplib
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, Exists, F, OuterRef, Q, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors, form_response, history_for
from xietong.finance.models import Invoice, Line, Match, Payment
from xietong.inventory.models import Picking
from xietong.party.models import Party
from xietong.product.models import Product
from xietong.sales import billing, documents, sending
from xietong.sales.forms import (
    DownPaymentForm,
    OrderCancelForm,
    OrderInvoiceForm,
    SendForm,
    today,
)
from xietong.sales.models import InvoicePolicy, SalesOrder, SalesOrderLine
from xietong.sales.policies import policy_label
from xietong.sales.views.common import (
    action,
    badge,
    document_columns,
    document_filters,
    fmt,
    get_or_404,
    link,
    process_links,
    quantity,
    timeline_of,
)
from xietong.sales.views.editor import Editor, OrderEditorForm, editor_page, lines_response
from xietong.sales.views.quotations import line_rows, totals

OState = SalesOrder.State
SERVICE = Product.Type.SERVICE
TABS = ("lines", "deliveries", "invoices", "payments", "returns", "timeline", "history")


def _to_deliver_lines() -> Any:
    return SalesOrderLine.objects.filter(
        order=OuterRef("pk"), qty_delivered__lt=F("quantity")
    ).exclude(product__type=SERVICE)


def _to_invoice_lines() -> Any:
    """Lines with something to invoice now by their own policy (`billing.invoiceable`)."""
    on_order = (Q(invoice_policy=InvoicePolicy.ORDER) | Q(product__type=SERVICE)) & Q(
        qty_invoiced__lt=F("quantity") - F("qty_returned")
    )
    on_delivery = (
        Q(invoice_policy=InvoicePolicy.DELIVERY)
        & ~Q(product__type=SERVICE)
        & Q(qty_invoiced__lt=F("qty_delivered") - F("qty_returned"))
    )
    return SalesOrderLine.objects.filter(order=OuterRef("pk")).filter(on_order | on_delivery)


def orders() -> Any:
    """The company's orders with `to_deliver` (confirmed, goods still to ship) and `to_invoice`
    (confirmed or done, something may be invoiced now) for the list's filters."""
    return SalesOrder.objects.select_related("party", "salesperson").annotate(
        to_deliver=Case(When(Q(state=OState.CONFIRMED) & Exists(_to_deliver_lines()),
                             then=Value(True)), default=Value(False), output_field=BooleanField()),
        to_invoice=Case(When(Q(state__in=[OState.CONFIRMED, OState.DONE])
                             & Exists(_to_invoice_lines()), then=Value(True)),
                        default=Value(False), output_field=BooleanField()),
    )  # fmt: skip


def _yes_no(request: HttpRequest) -> list[tuple[str, str]]:
    return [("1", _("Yes")), ("0", _("No"))]


def _flag(value: bool) -> Any:
    return _("Yes") if value else ""


ORDER_LIST = ListScreen(
    key="sales-orders",
    title=gettext_lazy("Sales orders"),
    columns=[
        Column("number", gettext_lazy("Number"), order_by="number", link=True),
        Column("party", gettext_lazy("Customer"), accessor="party__name", order_by="party__name"),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column(
            "requested_date",
            gettext_lazy("Requested for"),
            order_by="requested_date",
            default=False,
        ),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        Column("to_deliver", gettext_lazy("To deliver"), accessor=lambda o: _flag(o.to_deliver)),
        Column("to_invoice", gettext_lazy("To invoice"), accessor=lambda o: _flag(o.to_invoice)),
        *document_columns(),
    ],  # fmt: skip
    search_fields=["number", "party__name", "party__code", "customer_reference"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in OState.choices],
        ),
        Filter("to_deliver", gettext_lazy("To deliver"), "to_deliver", choices=_yes_no),
        Filter("to_invoice", gettext_lazy("To invoice"), "to_invoice", choices=_yes_no),
        *document_filters(),
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda o: reverse("sales:order_detail", args=[o.pk]),
)


@requires("sales.view")
def order_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "sales.order"):
        actions.append((_("New order"), reverse("sales:order_create")))
    return list_response(request, ORDER_LIST, orders(), extra={"actions": actions})


# --- the order page -----------------------------------------------------------------------------


def _order(pk: int) -> SalesOrder:
    return get_or_404(
        SalesOrder.objects.select_related(
            "party", "contact", "salesperson", "price_list", "warehouse", "payment_term",
            "quotation", "credit_process", "shipping_address",
        ),
        pk,
    )  # fmt: skip


def order_invoices(order: SalesOrder) -> list[Invoice]:
    """The order's invoices and down payment invoices, and the credit notes of them."""
    source = {"source_type": documents.ORDER_SOURCE, "source_id": order.pk}
    return list(
        Invoice.objects.filter(
            Q(**source)
            | Q(credited_invoice__source_type=documents.ORDER_SOURCE,
                credited_invoice__source_id=order.pk)
        )
        .select_related("credited_invoice")
        .order_by("date", "pk")
    )  # fmt: skip


def order_payments(invoices: list[Invoice]) -> list[dict[str, Any]]:
    """The payments (and refunds) reconciled with the order's posted invoices and credit notes:
    per reconciliation its date, the payment, the invoice it settled and the amount."""
    by_entry = {i.entry_id: i for i in invoices if i.entry_id and i.state == Invoice.State.POSTED}
    if not by_entry:
        return []
    lines = Line.objects.filter(entry_id__in=list(by_entry), account__reconcile=True)
    matches = list(
        Match.objects.filter(Q(debit_line__in=lines) | Q(credit_line__in=lines))
        .select_related("debit_line", "credit_line")
        .order_by("created_at", "pk")
    )
    pairs = []
    for match in matches:
        if match.debit_line.entry_id in by_entry:
            pairs.append((match, match.debit_line, match.credit_line))
        if match.credit_line.entry_id in by_entry:
            pairs.append((match, match.credit_line, match.debit_line))
    paid_by = {
        p.entry_id: p
        for p in Payment.objects.filter(entry_id__in={other.entry_id for _m, _o, other in pairs})
    }
    rows = []
    for match, own, other in pairs:
        payment = paid_by.get(other.entry_id)
        if payment is None:
            continue
        invoice = by_entry[own.entry_id]
        same = payment.currency_id == invoice.currency_id and match.amount_currency
        currency = invoice.currency_id if same else invoice.company.base_currency_id
        rows.append(
            {
                "date": payment.date,
                "payment": payment,
                "payment_url": link("finance:payment_detail", payment.pk),
                "invoice": invoice,
                "invoice_url": link("finance:invoice_detail", invoice.pk),
                "amount": fmt(match.amount_currency if same else match.amount, currency),
                "currency": currency,
                "badge": badge(payment),
            }
        )
    return rows


def _invoiceable(order: SalesOrder) -> list[tuple[SalesOrderLine, Decimal]]:
    lines = order.lines.select_related("product", "uom").order_by("sequence", "pk")
    found = [(line, billing.invoiceable(line)) for line in lines]
    return [(line, most) for line, most in found if most > 0]


def _order_actions(request: HttpRequest, order: SalesOrder, *, delivered: bool,
                   invoiceable: bool, returnable: bool) -> list[dict[str, Any]]:  # fmt: skip
    pk = order.pk
    can_order = has_perm(request, "sales.order")
    can_invoice = has_perm(request, "finance.invoice")
    actions: list[dict[str, Any]] = []
    if can_order and order.state == OState.DRAFT:
        actions.append(action(_("Confirm"), reverse("sales:order_confirm", args=[pk]),
                              post=True, style="success", id="confirm"))  # fmt: skip
    if can_invoice and order.state in (OState.CONFIRMED, OState.DONE) and invoiceable:
        actions.append(action(_("Create invoice"), reverse("sales:order_invoice", args=[pk]),
                              style="primary", id="invoice"))  # fmt: skip
    if can_invoice and order.state == OState.CONFIRMED:
        actions.append(action(_("Down payment"), reverse("sales:order_down_payment", args=[pk]),
                              style="outline-primary", id="down-payment"))  # fmt: skip
    if can_order and order.state in (OState.CONFIRMED, OState.DONE):
        actions.append(action(_("Send confirmation"), reverse("sales:order_send", args=[pk]),
                              style="outline-primary", id="send"))  # fmt: skip
    actions.append(action(_("PDF"), reverse("sales:order_pdf", args=[pk]),
                          style="outline-secondary", id="pdf"))  # fmt: skip
    if has_perm(request, "sales.return") and returnable:
        actions.append(action(_("New return"), reverse("sales:return_create", args=[pk]),
                              style="outline-warning", id="return"))  # fmt: skip
    if can_order and order.state in (OState.DRAFT, OState.HELD, OState.CONFIRMED) and not delivered:
        actions.append(action(_("Cancel"), reverse("sales:order_cancel", args=[pk]),
                              style="outline-danger", id="cancel"))  # fmt: skip
    return actions


@requires("sales.view")
def order_detail(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    lines = line_rows(order, order=True)
    policies = {row["line"].invoice_policy for row in lines}
    delivered = any(row["line"].qty_delivered > 0 for row in lines)
    returnable = order.state in (OState.CONFIRMED, OState.DONE) and any(
        row["line"].qty_delivered > row["line"].qty_returned for row in lines
    )
    invoiceable = (
        bool(_invoiceable(order)) if order.state in (OState.CONFIRMED, OState.DONE) else False
    )
    pickings = documents.order_pickings(order)
    invoices = order_invoices(order)
    returns = list(order.returns.order_by("pk"))
    down_payments = list(order.down_payments.select_related("invoice", "deducted_by"))
    tab = request.GET.get("tab", "lines")
    context = {
        "order": order,
        "title": _("Sales order %(number)s") % {"number": order.number},
        "state_badge": badge(order),
        "actions": _order_actions(
            request, order, delivered=delivered, invoiceable=invoiceable, returnable=returnable
        ),  # fmt: skip
        "lines": lines,
        "order_lines": True,
        "policy": policy_label(order.invoice_policy, policies),
        "policy_per_line": len(policies) > 1,
        "totals": totals(order),
        "pickings": [
            {
                "picking": p,
                "badge": badge(p),
                "url": link("inventory:picking_detail", p.pk),
                "note_url": reverse("sales:delivery_note_pdf", args=[p.pk])
                if p.kind == Picking.Kind.DELIVERY and p.state != Picking.State.CANCELLED
                else "",
            }
            for p in pickings
        ],
        "invoices": [
            {
                "invoice": i,
                "url": link("finance:invoice_detail", i.pk),
                "badge": badge(i),
                "payment_badge": badge(i, "payment_state")
                if i.state == Invoice.State.POSTED
                else "",
                "total": fmt(i.amount_total, i.currency_id),
                "due": fmt(i.amount_residual, i.currency_id)
                if i.state == Invoice.State.POSTED
                else "",
            }
            for i in invoices
        ],
        "payments": order_payments(invoices),
        "returns": [{"rma": r, "badge": badge(r)} for r in returns],
        "down_payments": [
            {
                "dp": dp,
                "amount": fmt(dp.amount, order.currency_id),
                "url": link("finance:invoice_detail", dp.invoice_id),
            }
            for dp in down_payments
        ],  # fmt: skip
        "process": process_links(request, order.credit_process),
        "timeline": timeline_of(order),
        "history": history_for(order),
        "party_url": link("party:party_detail", order.party_id),
        "tab": tab if tab in TABS else "lines",
    }
    return render(request, "sales/order_detail.html", context)


def _pdf(content: bytes, number: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    name = number.replace("/", "-").replace("\\", "-")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


@requires("sales.view")
def order_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    return _pdf(sending.order_pdf(order), order.number)


@requires("sales.view")
def delivery_note_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    picking = get_or_404(Picking.objects.filter(source_type=documents.ORDER_SOURCE), pk)
    return _pdf(sending.delivery_note_pdf(picking), picking.number or f"delivery-{picking.pk}")


# --- the direct order ---------------------------------------------------------------------------


@requires("sales.order")
def order_create(request: HttpRequest) -> HttpResponse:
    party_pk = request.GET.get("party", "")
    party = (
        Party.objects.filter(pk=int(party_pk), is_customer=True).first()
        if party_pk.isdigit()
        else None
    )

    def save(data: dict[str, Any], party: Party, lines: list[dict[str, Any]]) -> SalesOrder:
        fields = {name: data[name] for name in ("date", "customer_reference", "notes")}
        fields["coupon_code"] = data.get("coupon_code", "")
        for name in ("price_list", "warehouse"):
            if data.get(name) is not None:
                fields[name] = data[name]
        return documents.order_create(
            company=request.company, actor=request.user, party=party, lines=lines,
            invoice_policy=data["invoice_policy"] or None,
            requested_date=data["requested_date"], **fields,
        )  # fmt: skip

    return editor_page(
        request,
        Editor(
            form_class=OrderEditorForm,
            lines_url=reverse("sales:order_lines"),
            title=_("New sales order"),
            cancel_url=reverse("sales:order_list"),
            save=save,
            done=lambda o: reverse("sales:order_detail", args=[o.pk]),
            success=_("Order %(number)s saved as a draft: confirm it to reserve the goods."),
            initial={"party": party, "date": today(), "invoice_policy": ""},
            rows=[{}],
            submit_label=_("Save the order"),
        ),
    )


@require_POST
@requires("sales.order")
def order_lines(request: HttpRequest) -> HttpResponse:
    return lines_response(request, reverse("sales:order_lines"))


# --- actions ------------------------------------------------------------------------------------


@require_POST
@requires("sales.order")
def order_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    try:
        order = documents.order_confirm(order=order, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        if order.state == OState.HELD:
            messages.warning(request, _("%(order)s is on credit hold: %(reason)s")
                             % {"order": order, "reason": order.hold_reason})  # fmt: skip
        else:
            messages.success(request, _("%(order)s confirmed.") % {"order": order})
    return redirect("sales:order_detail", pk=pk)


@requires("sales.order")
def order_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    back = reverse("sales:order_detail", args=[pk])
    form = OrderCancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            documents.order_cancel(order=order, actor=request.user,
                                   reason=form.cleaned_data["reason"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(order)s cancelled.") % {"order": order})
            return redirect(back)
    return form_response(
        request,
        form=form,
        title=_("Cancel order %(number)s") % {"number": order.number},
        cancel_url=back,
        submit_label=_("Cancel the order"),
        status=400 if form.errors else 200,
    )


@requires("finance.invoice")
def order_invoice(request: HttpRequest, pk: int) -> HttpResponse:
    """Invoice an order: per line at most what may be invoiced now (the line's policy), the
    invoice date, and whether to post it at once."""
    order = _order(pk)
    back = reverse("sales:order_detail", args=[pk])
    lines = _invoiceable(order) if order.state in (OState.CONFIRMED, OState.DONE) else []
    if not lines:
        messages.info(request, _("Nothing to invoice on %(order)s now.") % {"order": order})
        return redirect(back)
    policies = set(order.lines.values_list("invoice_policy", flat=True))
    form = OrderInvoiceForm(request.POST if request.method == "POST" else None, lines=lines,
                            initial={"date": today()})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            invoice = billing.order_invoice(
                order=order, actor=request.user, date=form.cleaned_data["date"],
                quantities=form.quantities(), post=form.cleaned_data["post"],
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Invoice %(invoice)s of %(total)s %(currency)s made.")
                             % {"invoice": invoice, "total": fmt(invoice.amount_total,
                                invoice.currency_id), "currency": invoice.currency_id})  # fmt: skip
            return redirect(f"{back}?tab=invoices")
    rows = [
        {
            "line": line,
            "most": quantity(most),
            "ordered": quantity(line.quantity),
            "delivered": quantity(line.qty_delivered),
            "invoiced": quantity(line.qty_invoiced),
            "policy": line.get_invoice_policy_display(),
            "field": form[f"qty_{line.pk}"],
        }
        for line, most in lines
    ]
    return render(
        request,
        "sales/order_invoice.html",
        {
            "order": order,
            "form": form,
            "rows": rows,
            "title": _("Invoice order %(number)s") % {"number": order.number},
            "cancel_url": back,
            "policy": policy_label(order.invoice_policy, policies),
            "policy_per_line": len(policies) > 1,
        },
        status=400 if form.errors else 200,
    )


@requires("finance.invoice")
def order_down_payment(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    back = reverse("sales:order_detail", args=[pk])
    form = DownPaymentForm(request.POST if request.method == "POST" else None,
                           initial={"date": today(), "post": True})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invoice = billing.order_down_payment(
                order=order, actor=request.user, amount=data["amount"], percent=data["percent"],
                date=data["date"], post=data["post"],
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Down payment invoice %(invoice)s made.")
                             % {"invoice": invoice})  # fmt: skip
            return redirect(f"{back}?tab=invoices")
    return form_response(
        request,
        form=form,
        title=_("Down payment on %(number)s (untaxed total %(total)s %(currency)s)")
        % {
            "number": order.number,
            "total": fmt(order.amount_untaxed, order.currency_id),
            "currency": order.currency_id,
        },  # fmt: skip
        cancel_url=back,
        submit_label=_("Invoice the down payment"),
        status=400 if form.errors else 200,
    )


@requires("sales.order")
def order_send(request: HttpRequest, pk: int) -> HttpResponse:
    order = _order(pk)
    back = reverse("sales:order_detail", args=[pk])
    recipient = (
        order.contact.email if order.contact_id and order.contact.email else ""
    ) or order.party.email
    form = SendForm(request.POST if request.method == "POST" else None,
                    initial={"to": recipient})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            sending.order_send(order=order, actor=request.user, to=form.cleaned_data["to"],
                               message=form.cleaned_data["message"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        except (smtplib.SMTPException, OSError) as exc:
            form.add_error(None, _("The mail server refused the message: %(error)s")
                           % {"error": exc})  # fmt: skip
        else:
            messages.success(request, _("Confirmation of %(order)s sent.") % {"order": order})
            return redirect(back)
    return form_response(
        request,
        form=form,
        title=_("Send the confirmation of %(number)s") % {"number": order.number},
        cancel_url=back,
        submit_label=_("Send with the PDF"),
        status=400 if form.errors else 200,
    )


urlpatterns = [
    path("orders/", order_list, name="order_list"),
    path("orders/new/", order_create, name="order_create"),
    path("orders/lines/", order_lines, name="order_lines"),
    path("orders/<int:pk>/", order_detail, name="order_detail"),
    path("orders/<int:pk>/confirm/", order_confirm, name="order_confirm"),
    path("orders/<int:pk>/cancel/", order_cancel, name="order_cancel"),
    path("orders/<int:pk>/invoice/", order_invoice, name="order_invoice"),
    path("orders/<int:pk>/down-payment/", order_down_payment, name="order_down_payment"),
    path("orders/<int:pk>/send/", order_send, name="order_send"),
    path("orders/<int:pk>/pdf/", order_pdf, name="order_pdf"),
    path("deliveries/<int:pk>/note/", delivery_note_pdf, name="delivery_note_pdf"),
]
