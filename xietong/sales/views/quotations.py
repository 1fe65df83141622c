"""Quotations: the list (state, validity with the ones expiring soon marked, approval), the quick
quote editor (create and edit), the quotation page (lines with promise dates, totals, versions,
approval, timeline and audit history) and its actions: submit for discount approval, send by
e-mail, PDF, revise, mark lost, accept (→ sales order) and cancel."""

from __future__ import annotations

import datetime as dt
import smtplib
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import BooleanField, Case, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen, list_response
from xietong.core.ui.records import apply_errors, form_response, history_for
from xietong.party.models import Party
from xietong.sales import documents, sending
from xietong.sales.common import sales_settings
from xietong.sales.forms import AcceptForm, LostForm, SendForm, today
from xietong.sales.models import Quotation, SalesOrder
from xietong.sales.views.common import (
    Cell,
    action,
    badge,
    document_columns,
    document_filters,
    fmt,
    get_or_404,
    link,
    price,
    process_links,
    quantity,
    timeline_of,
)
from xietong.sales.views.editor import (
    Editor,
    QuotationEditorForm,
    editor_page,
    lines_response,
    rows_from_document,
)

QState = Quotation.State
OPEN = (QState.DRAFT, QState.TO_APPROVE, QState.APPROVED, QState.SENT)
EXPIRING_DAYS = 7


def expiring_soon() -> dt.date:
    return timezone.localdate() + dt.timedelta(days=EXPIRING_DAYS)


def quotations() -> Any:
    """The company's quotations with `is_open` and `expiring` (open, valid for at most a week
    more, or expired) for the list's filters."""
    return Quotation.objects.select_related("party", "salesperson").annotate(
        is_open=Case(When(state__in=OPEN, then=Value(True)), default=Value(False),
                     output_field=BooleanField()),
        expiring=Case(When(state__in=OPEN, valid_until__lte=expiring_soon(), then=Value(True)),
                      default=Value(False), output_field=BooleanField()),
    )  # fmt: skip


def validity(quotation: Quotation) -> Any:
    """The validity date, marked when an open quotation expires within a week or has expired."""
    day = quotation.valid_until
    if quotation.state not in OPEN:
        return Cell(format_html("{}", day.isoformat()), day)
    today_ = timezone.localdate()
    if day < today_:
        return Cell(format_html('<span class="text-danger fw-semibold" title="{}">{} <i class="bi '
                                'bi-exclamation-octagon"></i></span>', _("Expired"),
                                day.isoformat()), day)  # fmt: skip
    if day <= expiring_soon():
        return Cell(format_html('<span class="text-warning-emphasis fw-semibold expiring" '
                                'title="{}">{} <i class="bi bi-hourglass-split"></i></span>',
                                _("Expires soon"), day.isoformat()), day)  # fmt: skip
    return Cell(format_html("{}", day.isoformat()), day)


def _yes_no(request: HttpRequest) -> list[tuple[str, str]]:
    return [("1", _("Yes")), ("0", _("No"))]


QUOTATION_LIST = ListScreen(
    key="sales-quotations",
    title=gettext_lazy("Quotations"),
    columns=[
        Column("number", gettext_lazy("Number"), accessor=str, order_by="number", link=True),
        Column("party", gettext_lazy("Customer"), accessor="party__name", order_by="party__name"),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column(
            "valid_until", gettext_lazy("Valid until"), accessor=validity, order_by="valid_until"
        ),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        Column(
            "approval",
            gettext_lazy("Discount approval"),
            accessor=lambda q: badge(q, "approval") if q.approval else "",
            default=False,
        ),
        *document_columns(),
    ],  # fmt: skip
    search_fields=["number", "party__name", "party__code", "customer_reference"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in QState.choices],
        ),
        Filter("open", gettext_lazy("Open"), "is_open", choices=_yes_no),
        Filter("expiring", gettext_lazy("Expiring within a week"), "expiring", choices=_yes_no),
        *document_filters(),
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda q: reverse("sales:quotation_detail", args=[q.pk]),
)


@requires("sales.view")
def quotation_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "sales.quote"):
        actions.append((_("New quotation"), reverse("sales:quotation_create")))
    return list_response(request, QUOTATION_LIST, quotations(), extra={"actions": actions})


# --- the quotation page -------------------------------------------------------------------------


def _quotation(pk: int) -> Quotation:
    return get_or_404(
        Quotation.objects.select_related(
            "party__customer_group", "contact", "salesperson", "price_list", "warehouse",
            "payment_term", "approval_process", "previous",
        ),
        pk,
    )  # fmt: skip


def line_rows(document: Any, *, order: bool = False) -> list[dict[str, Any]]:
    currency = document.currency_id
    rows = []
    for line in document.lines.select_related("product", "uom", "configured_item").prefetch_related(
        "taxes"
    ):
        row = {
            "line": line,
            "sku": line.product.sku,
            "quantity": quantity(line.quantity),
            "uom": line.uom.code,
            "unit_price": price(line.unit_price, currency),
            "list_price": price(line.list_price, currency)
            if line.list_price != line.unit_price
            else "",
            "discount": quantity(line.discount) if line.discount else "",
            "taxes": ", ".join(t.name for t in line.taxes.all()),
            "net": fmt(line.amount_untaxed, currency),
            "total": fmt(line.amount_total, currency),
            "configure_url": link("product:configured_detail", line.configured_item_id)
            if line.configured_item_id
            else "",
        }
        if order:
            row.update(
                delivered=quantity(line.qty_delivered),
                invoiced=quantity(line.qty_invoiced),
                returned=quantity(line.qty_returned),
                complete=line.qty_delivered >= line.quantity,
                policy=line.get_invoice_policy_display(),
            )
        rows.append(row)
    return rows


def totals(document: Any) -> dict[str, str]:
    currency = document.currency_id
    return {
        "currency": currency,
        "untaxed": fmt(document.amount_untaxed, currency),
        "tax": fmt(document.amount_tax, currency),
        "total": fmt(document.amount_total, currency),
    }


def _quotation_actions(request: HttpRequest, q: Quotation) -> list[dict[str, Any]]:
    pk = q.pk
    quote = has_perm(request, "sales.quote")
    actions: list[dict[str, Any]] = []
    if quote and q.state in (QState.DRAFT, QState.APPROVED):
        actions.append(action(_("Edit"), reverse("sales:quotation_edit", args=[pk]),
                              style="primary", id="edit"))  # fmt: skip
    if (
        quote
        and q.state == QState.DRAFT
        and documents.needs_approval(q)
        and q.approval != Quotation.Approval.REJECTED
    ):
        actions.append(action(_("Submit for approval"), reverse("sales:quotation_submit", args=[pk]),
                              post=True, style="warning", id="submit"))  # fmt: skip
    elif quote and q.state == QState.DRAFT and q.approval == Quotation.Approval.REJECTED:
        actions.append(action(_("Submit again"), reverse("sales:quotation_submit", args=[pk]),
                              post=True, style="outline-warning", id="submit"))  # fmt: skip
    if quote and q.state in (QState.DRAFT, QState.APPROVED, QState.SENT):
        label = _("Send again") if q.state == QState.SENT else _("Send")
        actions.append(action(label, reverse("sales:quotation_send", args=[pk]),
                              style="primary" if q.state == QState.APPROVED else "outline-primary",
                              id="send"))  # fmt: skip
    if has_perm(request, "sales.order") and q.state in (QState.SENT, QState.APPROVED):
        actions.append(action(_("Accept → order"), reverse("sales:quotation_accept", args=[pk]),
                              style="success", id="accept"))  # fmt: skip
    actions.append(action(_("PDF"), reverse("sales:quotation_pdf", args=[pk]),
                          style="outline-secondary", id="pdf"))  # fmt: skip
    if quote and q.state in (QState.SENT, QState.APPROVED, QState.LOST, QState.TO_APPROVE):
        actions.append(action(_("Revise"), reverse("sales:quotation_revise", args=[pk]),
                              post=True, style="outline-primary", id="revise"))  # fmt: skip
    if quote and q.state in OPEN:
        actions.append(action(_("Mark lost"), reverse("sales:quotation_lost", args=[pk]),
                              style="outline-dark", id="lost"))  # fmt: skip
        actions.append(action(_("Cancel"), reverse("sales:quotation_cancel", args=[pk]),
                              post=True, style="outline-danger", id="cancel"))  # fmt: skip
    return actions


@requires("sales.view")
def quotation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    versions = list(
        Quotation.objects.filter(number=q.number).select_related("salesperson").order_by("version")
    )
    orders = list(SalesOrder.objects.filter(quotation__number=q.number).order_by("pk"))
    newer = next((v for v in versions if v.previous_id == q.pk), None)
    limit = documents.discount_limit(q)
    today_ = timezone.localdate()
    context = {
        "q": q,
        "title": _("Quotation %(number)s") % {"number": q},
        "state_badge": badge(q),
        "approval_badge": badge(q, "approval") if q.approval else "",
        "actions": _quotation_actions(request, q),
        "lines": line_rows(q),
        "totals": totals(q),
        "versions": [
            {
                "q": v,
                "badge": badge(v),
                "total": fmt(v.amount_total, v.currency_id),
                "current": v.pk == q.pk,
            }
            for v in versions
        ],  # fmt: skip
        "newer": newer,
        "orders": [{"order": o, "badge": badge(o)} for o in orders],
        "discount_limit": quantity(limit),
        "max_discount": quantity(q.max_discount),
        "needs_approval": q.max_discount > limit,
        "process": process_links(request, q.approval_process),
        "expired": q.state in (QState.DRAFT, QState.APPROVED, QState.SENT, QState.TO_APPROVE)
        and q.valid_until < today_,
        "expiring": q.state in OPEN and today_ <= q.valid_until <= expiring_soon(),
        "timeline": timeline_of(q),
        "history": history_for(q),
        "party_url": link("party:party_detail", q.party_id),
    }
    return render(request, "sales/quotation_detail.html", context)


@requires("sales.view")
def quotation_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    response = HttpResponse(sending.quotation_pdf(q), content_type="application/pdf")
    name = q.number.replace("/", "-").replace("\\", "-")
    name = f"{name}-v{q.version}" if q.version > 1 else name
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


# --- the quick quote ----------------------------------------------------------------------------


def _header_fields(data: dict[str, Any]) -> dict[str, Any]:
    fields = {
        "date": data["date"],
        "customer_reference": data["customer_reference"],
        "notes": data["notes"],
        "coupon_code": data.get("coupon_code", ""),
    }
    for name in ("price_list", "warehouse"):
        if data.get(name) is not None:
            fields[name] = data[name]
    return fields


@requires("sales.quote")
def quotation_create(request: HttpRequest) -> HttpResponse:
    party_pk = request.GET.get("party", "")
    party = (
        Party.objects.filter(pk=int(party_pk), is_customer=True).first()
        if party_pk.isdigit()
        else None
    )
    day = today()

    def save(data: dict[str, Any], party: Party, lines: list[dict[str, Any]]) -> Quotation:
        return documents.quotation_create(
            company=request.company, actor=request.user, party=party, lines=lines,
            valid_until=data["valid_until"], **_header_fields(data),
        )  # fmt: skip

    return editor_page(
        request,
        Editor(
            form_class=QuotationEditorForm,
            lines_url=reverse("sales:quotation_lines"),
            title=_("New quotation"),
            cancel_url=reverse("sales:quotation_list"),
            save=save,
            done=lambda q: reverse("sales:quotation_detail", args=[q.pk]),
            success=_("Quotation %(number)s saved."),
            initial={
                "party": party,
                "date": day,
                "valid_until": day
                + dt.timedelta(days=sales_settings(request.company).quotation_validity_days),
            },
            rows=[{}],
            submit_label=_("Save the quotation"),
        ),
    )


@requires("sales.quote")
def quotation_edit(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    if q.state not in (QState.DRAFT, QState.APPROVED):
        messages.error(
            request,
            _("%(quotation)s is %(state)s: revise it to change it.")
            % {"quotation": q, "state": q.get_state_display()},
        )
        return redirect("sales:quotation_detail", pk=pk)

    def save(data: dict[str, Any], party: Party, lines: list[dict[str, Any]]) -> Quotation:
        return documents.quotation_update(
            quotation=q, actor=request.user, lines=lines, valid_until=data["valid_until"],
            **_header_fields(data),
        )  # fmt: skip

    return editor_page(
        request,
        Editor(
            form_class=QuotationEditorForm,
            lines_url=reverse("sales:quotation_lines"),
            title=_("Edit quotation %(number)s") % {"number": q},
            cancel_url=reverse("sales:quotation_detail", args=[pk]),
            save=save,
            done=lambda saved: reverse("sales:quotation_detail", args=[saved.pk]),
            success=_("Quotation %(number)s saved."),
            initial={
                "party": q.party,
                "date": q.date,
                "valid_until": q.valid_until,
                "price_list": q.price_list,
                "warehouse": q.warehouse,
                "customer_reference": q.customer_reference,
                "notes": q.notes,
                "coupon_code": q.coupon_code,
            },
            rows=rows_from_document(q),
            fixed_party=q.party,
            submit_label=_("Save the quotation"),
        ),
    )


@require_POST
@requires("sales.quote")
def quotation_lines(request: HttpRequest) -> HttpResponse:
    return lines_response(request, reverse("sales:quotation_lines"))


# --- actions ------------------------------------------------------------------------------------


def _refused(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


@require_POST
@requires("sales.quote")
def quotation_submit(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    try:
        q = documents.quotation_submit(quotation=q, actor=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        if q.state == QState.TO_APPROVE:
            messages.success(request, _("%(quotation)s waits for discount approval.")
                             % {"quotation": q})  # fmt: skip
        else:
            messages.success(request, _("%(quotation)s needs no approval: it is approved.")
                             % {"quotation": q})  # fmt: skip
    return redirect("sales:quotation_detail", pk=pk)


@requires("sales.quote")
def quotation_send(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    back = reverse("sales:quotation_detail", args=[pk])
    recipient = (q.contact.email if q.contact_id and q.contact.email else "") or q.party.email
    form = SendForm(request.POST if request.method == "POST" else None,
                    initial={"to": recipient})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            sending.quotation_send(quotation=q, actor=request.user, to=form.cleaned_data["to"],
                                   message=form.cleaned_data["message"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        except (smtplib.SMTPException, OSError) as exc:
            form.add_error(None, _("The mail server refused the message: %(error)s")
                           % {"error": exc})  # fmt: skip
        else:
            messages.success(request, _("%(quotation)s sent.") % {"quotation": q})
            return redirect(back)
    return form_response(
        request,
        form=form,
        title=_("Send quotation %(number)s") % {"number": q},
        cancel_url=back,
        submit_label=_("Send with the PDF"),
        status=400 if form.errors else 200,
    )


@require_POST
@requires("sales.quote")
def quotation_revise(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    try:
        new = documents.quotation_revise(quotation=q, actor=request.user)
    except ValidationError as exc:
        _refused(request, exc)
        return redirect("sales:quotation_detail", pk=pk)
    messages.success(request, _("Version %(version)s of %(number)s is a draft to change.")
                     % {"version": new.version, "number": new.number})  # fmt: skip
    return redirect("sales:quotation_edit", pk=new.pk)


@requires("sales.quote")
def quotation_lost(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    back = reverse("sales:quotation_detail", args=[pk])
    form = LostForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            documents.quotation_lost(quotation=q, actor=request.user,
                                     reason=form.cleaned_data["reason"])  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(quotation)s marked lost.") % {"quotation": q})
            return redirect(back)
    return form_response(
        request,
        form=form,
        title=_("Quotation %(number)s declined") % {"number": q},
        cancel_url=back,
        submit_label=_("Mark lost"),
        status=400 if form.errors else 200,
    )


@requires("sales.order")
def quotation_accept(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    back = reverse("sales:quotation_detail", args=[pk])
    form = AcceptForm(request.POST if request.method == "POST" else None,
                      initial={"customer_reference": q.customer_reference, "confirm": True})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            order = documents.quotation_accept(
                quotation=q, actor=request.user, confirm=data["confirm"],
                requested_date=data["requested_date"],
                customer_reference=data["customer_reference"],
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            if order.state == SalesOrder.State.HELD:
                messages.warning(request, _("Order %(order)s is on credit hold: %(reason)s")
                                 % {"order": order, "reason": order.hold_reason})  # fmt: skip
            else:
                messages.success(request, _("Order %(order)s made from %(quotation)s.")
                                 % {"order": order, "quotation": q})  # fmt: skip
            return redirect("sales:order_detail", pk=order.pk)
    return form_response(
        request,
        form=form,
        title=_("%(quotation)s accepted by the customer") % {"quotation": q},
        cancel_url=back,
        submit_label=_("Make the order"),
        status=400 if form.errors else 200,
    )


@require_POST
@requires("sales.quote")
def quotation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    q = _quotation(pk)
    try:
        documents.quotation_cancel(quotation=q, actor=request.user)
    except ValidationError as exc:
        _refused(request, exc)
    else:
        messages.success(request, _("%(quotation)s cancelled.") % {"quotation": q})
    return redirect("sales:quotation_detail", pk=pk)


urlpatterns = [
    path("quotations/", quotation_list, name="quotation_list"),
    path("quotations/new/", quotation_create, name="quotation_create"),
    path("quotations/lines/", quotation_lines, name="quotation_lines"),
    path("quotations/<int:pk>/", quotation_detail, name="quotation_detail"),
    path("quotations/<int:pk>/edit/", quotation_edit, name="quotation_edit"),
    path("quotations/<int:pk>/submit/", quotation_submit, name="quotation_submit"),
    path("quotations/<int:pk>/send/", quotation_send, name="quotation_send"),
    path("quotations/<int:pk>/pdf/", quotation_pdf, name="quotation_pdf"),
    path("quotations/<int:pk>/revise/", quotation_revise, name="quotation_revise"),
    path("quotations/<int:pk>/lost/", quotation_lost, name="quotation_lost"),
    path("quotations/<int:pk>/accept/", quotation_accept, name="quotation_accept"),
    path("quotations/<int:pk>/cancel/", quotation_cancel, name="quotation_cancel"),
]
