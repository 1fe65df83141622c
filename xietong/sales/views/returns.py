"""Returns (RMAs): the list, authorising a return from an order (per delivered line the quantity,
disposition and lot), the return page (lines, receipts, credit note and refund) and its actions:
receive, credit (with an optional refund journal) and cancel."""

from __future__ import annotations

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
from xietong.core.ui.records import apply_errors, form_response, history_for
from xietong.inventory.models import Lot, Move
from xietong.sales import documents, returns
from xietong.sales.forms import ReturnCreditForm, ReturnForm, today
from xietong.sales.models import ReturnOrder, SalesOrder, SalesOrderLine
from xietong.sales.views.common import action, badge, fmt, get_or_404, link, quantity, timeline_of

RState = ReturnOrder.State

RETURN_LIST = ListScreen(
    key="sales-returns",
    title=gettext_lazy("Returns"),
    columns=[
        Column("number", gettext_lazy("Number"), order_by="number", link=True),
        Column("order", gettext_lazy("Order"), accessor="order__number", order_by="order__number"),
        Column("party", gettext_lazy("Customer"), accessor="party__name", order_by="party__name"),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column("reason", gettext_lazy("Reason")),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
    ],
    search_fields=["number", "order__number", "party__name", "reason"],
    filters=[
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in RState.choices],
        ),
        Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
        Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda r: reverse("sales:return_detail", args=[r.pk]),
)


@requires("sales.view")
def return_list(request: HttpRequest) -> HttpResponse:
    rows = ReturnOrder.objects.select_related("order", "party")
    return list_response(request, RETURN_LIST, rows, extra={"actions": []})


def _return(pk: int) -> ReturnOrder:
    return get_or_404(
        ReturnOrder.objects.select_related("order", "party", "picking", "credit_note", "refund"),
        pk,
    )


@requires("sales.view")
def return_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rma = _return(pk)
    actions: list[dict[str, Any]] = []
    if has_perm(request, "sales.return") and rma.state == RState.AUTHORISED:
        actions.append(action(_("Receive the goods"), reverse("sales:return_receive", args=[pk]),
                              post=True, style="success", id="receive"))  # fmt: skip
    if has_perm(request, "finance.invoice") and rma.state == RState.RECEIVED:
        actions.append(action(_("Credit"), reverse("sales:return_credit", args=[pk]),
                              style="primary", id="credit"))  # fmt: skip
    if has_perm(request, "sales.return") and rma.state in returns.OPEN:
        actions.append(action(_("Cancel"), reverse("sales:return_cancel", args=[pk]),
                              post=True, style="outline-danger", id="cancel"))  # fmt: skip
    lines = [
        {
            "item": item,
            "quantity": quantity(item.quantity),
            "uom": item.order_line.uom.code,
            "sku": item.order_line.product.sku,
        }
        for item in rma.lines.select_related("order_line__product", "order_line__uom", "lot")
    ]
    pickings = [
        {"picking": p, "badge": badge(p), "url": link("inventory:picking_detail", p.pk)}
        for p in returns.return_pickings(rma)
    ]
    context = {
        "rma": rma,
        "title": _("Return %(number)s") % {"number": rma.number},
        "state_badge": badge(rma),
        "actions": actions,
        "lines": lines,
        "pickings": pickings,
        "credit_url": link("finance:invoice_detail", rma.credit_note_id)
        if rma.credit_note_id
        else "",
        "credit_total": fmt(rma.credit_note.amount_total, rma.credit_note.currency_id)
        if rma.credit_note_id
        else "",
        "refund_url": link("finance:payment_detail", rma.refund_id) if rma.refund_id else "",
        "timeline": timeline_of(rma),
        "history": history_for(rma),
    }
    return render(request, "sales/return_detail.html", context)


def _delivered_lots(lines: list[SalesOrderLine]) -> dict[int, list[Lot]]:
    """The lots delivered on each line (for tracked products)."""
    rows = (
        Move.objects.filter(
            source_type=documents.LINE_SOURCE,
            source_id__in=[line.pk for line in lines],
            state=Move.State.DONE,
            to_location__usage="customer",
            lot__isnull=False,
        )
        .select_related("lot")
        .order_by("lot__name")
    )
    found: dict[int, list[Lot]] = {}
    for move in rows:
        lots = found.setdefault(move.source_id, [])
        if move.lot not in lots:
            lots.append(move.lot)
    return found


@requires("sales.return")
def return_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Authorise a return of order `pk`: per delivered line what comes back (at most what the
    customer has and open returns do not expect), restocked or scrapped, and the lot."""
    order = get_or_404(SalesOrder.objects.select_related("party"), pk)
    back = reverse("sales:order_detail", args=[pk])
    if order.state not in (SalesOrder.State.CONFIRMED, SalesOrder.State.DONE):
        messages.error(request, _("Only goods of a confirmed order come back."))
        return redirect(back)
    lines = [
        line
        for line in order.lines.select_related("product__uom", "uom").order_by("sequence", "pk")
        if line.product.type != line.product.Type.SERVICE and line.qty_delivered > 0
    ]
    lots = _delivered_lots(lines)
    chosen = [(line, returns.returnable(line), lots.get(line.pk, [])) for line in lines]
    chosen = [(line, most, lot_list) for line, most, lot_list in chosen if most > 0]
    if not chosen:
        messages.info(request, _("Nothing delivered on %(order)s can come back now.")
                      % {"order": order})  # fmt: skip
        return redirect(back)
    form = ReturnForm(request.POST if request.method == "POST" else None, lines=chosen,
                      initial={"date": today()})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        wanted = form.return_lines()
        try:
            rma = returns.return_create(
                order=order, actor=request.user, reason=form.cleaned_data["reason"],
                lines=[item for _line, item in wanted], date=form.cleaned_data["date"],
            )  # fmt: skip
        except ValidationError as exc:
            _line_errors(form, exc, [line for line, _item in wanted])
        else:
            messages.success(request, _("Return %(number)s authorised.") % {"number": rma})
            return redirect("sales:return_detail", pk=rma.pk)
    return render(
        request,
        "sales/return_form.html",
        {
            "order": order,
            "form": form,
            "rows": [
                {
                    **row,
                    "most": quantity(row["most"]),
                    "delivered": quantity(row["line"].qty_delivered),
                    "returned": quantity(row["line"].qty_returned),
                }
                for row in form.rows()
            ],  # fmt: skip
            "title": _("Return of order %(number)s") % {"number": order.number},
            "cancel_url": back,
        },
        status=400 if form.errors else 200,
    )


def _line_errors(form: ReturnForm, exc: ValidationError, lines: list[SalesOrderLine]) -> None:
    """Put `return_create`'s refusal (`lines.N…`, N counting the lines given) on the line's
    quantity field, the rest on the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    rest: dict[str, list[str]] = {}
    for key, messages_ in exc.message_dict.items():
        parts = key.split(".")
        if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit():
            n = int(parts[1])
            if 0 < n <= len(lines):
                name = {"lot": "lot", "disposition": "disposition"}.get(
                    parts[2] if len(parts) > 2 else "", "qty"
                )
                field = f"{name}_{lines[n - 1].pk}"
                form.add_error(field if field in form.fields else None, messages_)
                continue
        rest[key] = messages_
    if rest:
        apply_errors(form, ValidationError(rest))


@require_POST
@requires("sales.return")
def return_receive(request: HttpRequest, pk: int) -> HttpResponse:
    rma = _return(pk)
    try:
        rma = returns.return_receive(rma=rma, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(rma)s received.") % {"rma": rma})
    return redirect("sales:return_detail", pk=pk)


@requires("finance.invoice")
def return_credit(request: HttpRequest, pk: int) -> HttpResponse:
    """Credit a received return (a credit note per invoice that billed the goods) and, when
    the invoice was paid and the user may register payments, refund from a chosen journal."""
    rma = _return(pk)
    back = reverse("sales:return_detail", args=[pk])
    if rma.state != RState.RECEIVED:
        messages.info(request, _("%(rma)s is %(state)s: only a received return is credited.")
                      % {"rma": rma, "state": rma.get_state_display()})  # fmt: skip
        return redirect(back)
    form = ReturnCreditForm(request.POST if request.method == "POST" else None,
                            refunds=has_perm(request, "finance.payment"),
                            initial={"date": today()})  # fmt: skip
    if request.method == "POST" and form.is_valid():
        try:
            rma = returns.return_credit(
                rma=rma, actor=request.user, date=form.cleaned_data["date"],
                refund_journal=form.cleaned_data.get("refund_journal"),
            )  # fmt: skip
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(rma)s credited.") % {"rma": rma})
            return redirect(back)
    return form_response(
        request,
        form=form,
        title=_("Credit return %(number)s") % {"number": rma.number},
        cancel_url=back,
        submit_label=_("Credit the returned goods"),
        status=400 if form.errors else 200,
    )


@require_POST
@requires("sales.return")
def return_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    rma = _return(pk)
    try:
        returns.return_cancel(rma=rma, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(rma)s cancelled.") % {"rma": rma})
    return redirect("sales:return_detail", pk=pk)


urlpatterns = [
    path("returns/", return_list, name="return_list"),
    path("returns/<int:pk>/", return_detail, name="return_detail"),
    path("returns/<int:pk>/receive/", return_receive, name="return_receive"),
    path("returns/<int:pk>/credit/", return_credit, name="return_credit"),
    path("returns/<int:pk>/cancel/", return_cancel, name="return_cancel"),
    path("orders/<int:pk>/return/", return_create, name="return_create"),
]
