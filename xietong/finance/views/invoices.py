"""Customer and supplier invoices and credit notes: the lists (state and payment badges, amount
due, due date), the draft editor with its live line and total amounts (the tax engine under the
company's rounding policies), posting, cancelling, crediting, the PDF, and the invoice page with
its installments, tax summary, ledger entry and the payments that settled it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen
from xietong.core.ui.records import apply_errors, form_response, record_response
from xietong.finance import invoicing, payments
from xietong.finance import taxes as tax_engine
from xietong.finance.forms import (
    CancelForm,
    CreditNoteForm,
    InvoiceForm,
    InvoiceLineFormSet,
    currency_choices,
    postable_accounts,
    today,
)
from xietong.finance.models import (
    FinanceSettings,
    Invoice,
    Journal,
    Line,
    Match,
    Payment,
    Tax,
)
from xietong.finance.views.common import (
    Amount,
    Badge,
    apply_action,
    badge,
    finance_list,
    fmt,
    formset_data,
    parse_decimal,
    rows_of,
)
from xietong.party.models import Party, PaymentTerm
from xietong.product.models import Product

Kind = Invoice.Kind
CUSTOMER_KINDS = (Kind.CUSTOMER_INVOICE, Kind.CUSTOMER_CREDIT)
SUPPLIER_KINDS = (Kind.SUPPLIER_INVOICE, Kind.SUPPLIER_CREDIT)
LINE_FIELDS = ("product", "description", "account", "quantity", "unit_price", "discount", "taxes")
ZERO = Decimal(0)


def invoice_number(invoice: Invoice) -> str:
    return invoice.number or _("Draft %(id)s") % {"id": invoice.pk}


def _payment_badge(invoice: Invoice) -> Badge | str:
    return badge(invoice, "payment_state") if invoice.state == Invoice.State.POSTED else ""


def _due(invoice: Invoice) -> Amount | str:
    if invoice.state != Invoice.State.POSTED:
        return ""
    return Amount(invoice.amount_residual, invoice.currency_id)


def _invoice_screen(customer: bool) -> ListScreen:
    kinds = CUSTOMER_KINDS if customer else SUPPLIER_KINDS

    def kind_choices(request: HttpRequest) -> list[tuple[str, str]]:
        return [(str(k), str(Kind(k).label)) for k in kinds]

    return ListScreen(
        key="finance-customer-invoices" if customer else "finance-supplier-invoices",
        title=gettext_lazy("Customer invoices") if customer else gettext_lazy("Supplier invoices"),
        columns=[
            Column(
                "number",
                gettext_lazy("Number"),
                accessor=invoice_number,
                order_by="number",
                link=True,
            ),
            Column("kind", gettext_lazy("Kind"), accessor="get_kind_display", order_by="kind"),
            Column(
                "party",
                gettext_lazy("Customer") if customer else gettext_lazy("Supplier"),
                accessor="party__name",
                order_by="party__name",
            ),
            Column("date", gettext_lazy("Date"), order_by="date"),
            Column("due_date", gettext_lazy("Due date"), order_by="due_date"),
            Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
            Column(
                "payment_state",
                gettext_lazy("Payment"),
                accessor=_payment_badge,
                order_by="payment_state",
            ),
            Column(
                "amount_total",
                gettext_lazy("Total"),
                accessor=lambda i: Amount(i.amount_total, i.currency_id),
                order_by="amount_total",
            ),
            Column(
                "amount_residual",
                gettext_lazy("Amount due"),
                accessor=_due,
                order_by="amount_residual",
            ),
            Column("currency", gettext_lazy("Currency"), accessor="currency_id", default=False),
            Column("reference", gettext_lazy("Reference"), order_by="reference", default=False),
        ],  # fmt: skip
        search_fields=["number", "reference", "party__name", "party__code"],
        filters=[
            Filter("kind", gettext_lazy("Kind"), "kind", choices=kind_choices),
            Filter(
                "state",
                gettext_lazy("State"),
                "state",
                choices=lambda r: [(str(v), str(lb)) for v, lb in Invoice.State.choices],
            ),
            Filter(
                "payment_state",
                gettext_lazy("Payment"),
                "payment_state",
                choices=lambda r: [(str(v), str(lb)) for v, lb in Invoice.PaymentState.choices],
            ),
            Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
            Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
            Filter("due_to", gettext_lazy("Due by"), "due_date__lte", kind="date"),
        ],  # fmt: skip
        default_sort="-date",
        detail_url=lambda i: reverse("finance:invoice_detail", args=[i.pk]),
    )


CUSTOMER_LIST = _invoice_screen(True)
SUPPLIER_LIST = _invoice_screen(False)


def _invoice_list(request: HttpRequest, customer: bool) -> HttpResponse:
    kinds = CUSTOMER_KINDS if customer else SUPPLIER_KINDS
    actions = []
    if has_perm(request, "finance.invoice"):
        url = reverse("finance:invoice_create")
        actions = [
            (Kind(kinds[0]).label, f"{url}?kind={kinds[0]}"),
            (Kind(kinds[1]).label, f"{url}?kind={kinds[1]}"),
        ]
        actions = [(_("New: %(kind)s") % {"kind": label}, link) for label, link in actions]
    invoices = Invoice.objects.filter(kind__in=kinds).select_related("party")
    return finance_list(
        request, CUSTOMER_LIST if customer else SUPPLIER_LIST, invoices, actions=actions
    )


@requires("finance.view")
def customer_invoice_list(request: HttpRequest) -> HttpResponse:
    return _invoice_list(request, True)


@requires("finance.view")
def supplier_invoice_list(request: HttpRequest) -> HttpResponse:
    return _invoice_list(request, False)


# --- the invoice page -------------------------------------------------------------------------


def _invoice(request: HttpRequest, pk: int) -> Invoice:
    try:
        return invoicing.invoice_detail(company=request.company, pk=pk)
    except Invoice.DoesNotExist:
        raise Http404 from None


def settlements(invoice: Invoice) -> list[dict[str, Any]]:
    """The payments, credit notes and other entries reconciled with `invoice`'s open lines."""
    if not invoice.entry_id:
        return []
    lines = Line.objects.filter(entry_id=invoice.entry_id, account__reconcile=True)
    matches = list(
        Match.objects.filter(Q(debit_line__in=lines) | Q(credit_line__in=lines))
        .select_related("debit_line__entry", "credit_line__entry")
        .order_by("created_at", "pk")
    )
    others = [
        m.credit_line if m.debit_line.entry_id == invoice.entry_id else m.debit_line
        for m in matches
    ]
    entry_ids = {line.entry_id for line in others}
    paid_by = {p.entry_id: p for p in Payment.objects.filter(entry_id__in=entry_ids)}
    credited_by = {
        i.entry_id: i for i in Invoice.objects.filter(entry_id__in=entry_ids).exclude(pk=invoice.pk)
    }
    rows = []
    for match, other in zip(matches, others, strict=True):
        entry = other.entry
        if entry.pk in paid_by:
            document = paid_by[entry.pk]
            url = reverse("finance:payment_detail", args=[document.pk])
            kind = _("Payment")
        elif entry.pk in credited_by:
            document = credited_by[entry.pk]
            url = reverse("finance:invoice_detail", args=[document.pk])
            kind = document.get_kind_display()
        else:
            document = entry
            url = reverse("finance:entry_detail", args=[entry.pk])
            kind = _("Journal entry")
        same = other.currency_id == invoice.currency_id and match.amount_currency
        rows.append(
            {
                "date": other.date,
                "kind": kind,
                "document": document,
                "url": url,
                "amount": Amount(match.amount_currency, invoice.currency_id)
                if same
                else Amount(match.amount, invoice.company.base_currency_id),
                "currency": invoice.currency_id if same else invoice.company.base_currency_id,
            }
        )
    return rows


@requires("finance.view")
def invoice_detail(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    currency = invoice.currency_id
    actions: list[dict[str, Any]] = []
    can_invoice = has_perm(request, "finance.invoice")
    if invoice.state == Invoice.State.DRAFT and can_invoice:
        actions += [
            {"label": _("Post the invoice"), "url": reverse("finance:invoice_post", args=[pk]), "post": True,
             "style": "success"},
            {"label": _("Edit"), "url": reverse("finance:invoice_edit", args=[pk])},
            {"label": _("Delete draft"), "url": reverse("finance:invoice_delete", args=[pk]),
             "post": True},
        ]  # fmt: skip
    if invoice.state == Invoice.State.POSTED:
        if has_perm(request, "finance.payment") and invoice.amount_residual > 0:
            actions.append(
                {
                    "label": _("Register a payment"),
                    "url": reverse("finance:payment_create") + f"?invoice={pk}",
                    "style": "success",
                }
            )
            if not invoice.is_credit_note and payments.party_credit(party=invoice.party).get(
                currency
            ):
                actions.append(
                    {
                        "label": _("Apply the party's credit"),
                        "url": reverse("finance:invoice_apply_credit", args=[pk]),
                        "post": True,
                        "style": "outline-success",
                    }
                )
        if can_invoice and not invoice.is_credit_note:
            actions.append(
                {
                    "label": _("Credit note"),
                    "url": reverse("finance:invoice_credit", args=[pk]),
                    "style": "outline-primary",
                }
            )
    if invoice.state != Invoice.State.CANCELLED and can_invoice:
        actions.append(
            {
                "label": _("Cancel"),
                "url": reverse("finance:invoice_cancel", args=[pk]),
                "style": "outline-danger",
            }
        )
    actions.append(
        {
            "label": _("PDF"),
            "url": reverse("finance:invoice_pdf", args=[pk]),
            "style": "outline-secondary",
        }
    )
    lines = [
        {
            "line": line,
            "taxes": ", ".join(t.name for t in line.taxes.all()),
            "unit_price": f"{line.unit_price.normalize():,f}",
            "quantity": f"{line.quantity.normalize():f}",
            "net": Amount(line.amount_untaxed, currency),
            "total": Amount(line.amount_total, currency),
        }
        for line in invoice.lines.all()
    ]
    return record_response(
        request,
        obj=invoice,
        title=f"{invoice.get_kind_display()} {invoice_number(invoice)}",
        fields=[],
        actions=actions,
        template="finance/invoice_detail.html",
        extra={
            "invoice": invoice,
            "state_badge": badge(invoice),
            "payment_badge": _payment_badge(invoice),
            "lines": lines,
            "tax_lines": [
                {
                    "tax": t.tax,
                    "base": Amount(t.base, currency),
                    "amount": Amount(t.amount, currency),
                }
                for t in invoice.tax_lines.all()
            ],
            "installments": [
                {
                    "item": item,
                    "amount": Amount(item.amount, currency),
                    "discount": Amount(item.discount, currency, blank_zero=True),
                }
                for item in invoice.installments.all()
            ],
            "untaxed": Amount(invoice.amount_untaxed, currency),
            "tax": Amount(invoice.amount_tax, currency),
            "total": Amount(invoice.amount_total, currency),
            "due": Amount(invoice.amount_residual, currency),
            "settlements": settlements(invoice),
            "credit_notes": list(invoice.credit_notes.all()),
        },
    )


@requires("finance.view")
def invoice_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    pdf = invoicing.invoice_pdf(invoice=invoice)
    response = HttpResponse(pdf, content_type="application/pdf")
    name = (invoice.number or f"draft-{invoice.pk}").replace("/", "-")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


# --- the draft editor -------------------------------------------------------------------------


def _kind_of(request: HttpRequest, invoice: Invoice | None) -> str:
    if invoice is not None:
        return invoice.kind
    source = request.POST if request.method == "POST" else request.GET
    kind = source.get("kind", Kind.CUSTOMER_INVOICE)
    return kind if kind in Kind.values else Kind.CUSTOMER_INVOICE


def _choices(request: HttpRequest, kind: str, invoice: Invoice | None) -> dict[str, Any]:
    customer = kind in CUSTOMER_KINDS
    role = {"is_customer": True} if customer else {"is_supplier": True}
    parties = Party.objects.filter(Q(merged_into__isnull=True, active=True, **role))
    if invoice is not None:
        parties = Party.objects.filter(
            Q(merged_into__isnull=True, active=True, **role) | Q(pk=invoice.party_id)
        )
    journal_kind = Journal.Kind.SALES if customer else Journal.Kind.PURCHASE
    use = Tax.Use.SALE if customer else Tax.Use.PURCHASE
    return {
        "form": {
            "parties": [(str(p.pk), f"{p.name} ({p.code})") for p in parties.order_by("name")],
            "terms": [
                (str(t.pk), t.name)
                for t in PaymentTerm.objects.filter(active=True).order_by("name")
            ],
            "journals": [
                (str(j.pk), f"{j.code} {j.name}")
                for j in Journal.objects.filter(kind=journal_kind, active=True).order_by("code")
            ],
            "currencies": currency_choices(),
        },
        "lines": {
            "accounts": [
                (str(a.pk), f"{a.code} {a.name}")
                for a in postable_accounts().filter(reconcile=False)
            ],
            "taxes": [
                (str(t.pk), t.name)
                for t in Tax.objects.filter(use=use, active=True).order_by("sequence", "code")
            ],
        },
    }


def _currency_of(request: HttpRequest, data: Any) -> str:
    code = (data.get("currency") or "").strip().upper()
    if code:
        return code
    party = parse_int_or_none(data.get("party"))
    if party:
        found = Party.objects.filter(pk=party).values_list("currency_id", flat=True).first()
        if found:
            return found
    return request.company.base_currency_id


def parse_int_or_none(raw: Any) -> int | None:
    raw = str(raw or "").strip()
    return int(raw) if raw.isdigit() else None


def editor_amounts(
    request: HttpRequest, rows: list[dict[str, Any]], currency: str
) -> dict[str, Any]:
    """Line and invoice amounts of the editor's rows under the company's tax policies. Rows
    that cannot be computed yet (no price, a bad number) show no amount."""
    settings = FinanceSettings.objects.first()
    policy = settings.tax_rounding if settings else tax_engine.PER_LINE
    rounding = settings.rounding_mode if settings else "ROUND_HALF_UP"
    tax_ids = {int(t) for row in rows for t in row.get("taxes") or [] if str(t).isdigit()}
    taxes = Tax.objects.in_bulk(tax_ids)
    inputs, positions = [], []
    for index, row in enumerate(rows):
        price = parse_decimal(row.get("unit_price"))
        if price is None:
            continue
        quantity = parse_decimal(row.get("quantity"))
        discount = parse_decimal(row.get("discount")) or ZERO
        rules = tuple(
            tax_engine.TaxRule.of(taxes[int(t)])
            for t in row.get("taxes") or []
            if str(t).isdigit() and int(t) in taxes
        )
        try:
            inputs.append(
                tax_engine.LineInput(
                    quantity=Decimal(1) if quantity is None else quantity,
                    unit_price=price,
                    discount=discount,
                    taxes=rules,
                )
            )
        except (ValueError, TypeError):
            continue
        positions.append(index)
    per_row: list[dict[str, str] | None] = [None] * len(rows)
    result = None
    if inputs:
        try:
            result = tax_engine.compute(inputs, currency=currency, policy=policy, rounding=rounding)
        except ValueError:
            result = None
    if result is not None:
        for index, line in zip(positions, result.lines, strict=True):
            per_row[index] = {
                "net": fmt(line.net, currency),
                "tax": fmt(line.tax, currency),
                "total": fmt(line.total, currency),
            }
    return {
        "currency": currency,
        "rows": per_row,
        "untaxed": fmt(result.untaxed if result else ZERO, currency),
        "tax": fmt(result.tax if result else ZERO, currency),
        "total": fmt(result.total if result else ZERO, currency),
        "taxes": [
            {
                "name": taxes[t.key].name,
                "base": fmt(t.base, currency),
                "amount": fmt(t.amount, currency),
            }
            for t in (result.taxes if result else ())
        ],
    }


def _editor_context(
    request: HttpRequest, formset: Any, rows: list[dict[str, Any]], currency: str
) -> dict[str, Any]:
    amounts = editor_amounts(request, rows, currency)
    return {
        "formset": formset,
        "amounts": amounts,
        "lines": list(zip(formset.forms, amounts["rows"], strict=True)),
        "products": Product.objects.filter(active=True)
        .order_by("sku")
        .values_list("sku", "name")[:2000],
        "lines_url": reverse("finance:invoice_lines"),
    }


def _line_dicts(formset: Any) -> tuple[list[dict[str, Any]] | None, bool]:
    lines = [f for f in formset if not f.is_blank]
    skus = {f.cleaned_data["product"].strip() for f in lines if f.cleaned_data["product"].strip()}
    products = dict(Product.objects.filter(sku__in=skus).values_list("sku", "pk"))
    ok = True
    out = []
    for f in lines:
        data = f.cleaned_data
        sku = data["product"].strip()
        if sku and sku not in products:
            f.add_error("product", _("No product has the SKU %(sku)s.") % {"sku": sku})
            ok = False
            continue
        item: dict[str, Any] = {
            "description": data["description"],
            "unit_price": data["unit_price"],
            "taxes": list(data["taxes"] or []),
        }
        if sku:
            item["product"] = products[sku]
        if data["account"]:
            item["account"] = data["account"]
        if data["quantity"] is not None:
            item["quantity"] = data["quantity"]
        if data["discount"] is not None:
            item["discount"] = data["discount"]
        out.append(item)
    return (out if ok else None), ok


def _rows_from_invoice(invoice: Invoice) -> list[dict[str, Any]]:
    return [
        {
            "product": line.product.sku if line.product_id else "",
            "description": line.description,
            "account": str(line.account_id),
            "quantity": f"{line.quantity.normalize():f}",
            "unit_price": f"{line.unit_price.normalize():f}",
            "discount": f"{line.discount.normalize():f}" if line.discount else "",
            "taxes": [str(t.pk) for t in line.taxes.all()],
        }
        for line in invoice.lines.all()
    ]


def _header_from_invoice(invoice: Invoice) -> dict[str, Any]:
    return {
        "party": str(invoice.party_id),
        "date": invoice.date.isoformat(),
        "currency": invoice.currency_id,
        "payment_term": str(invoice.payment_term_id or ""),
        "journal": str(invoice.journal_id),
        "reference": invoice.reference,
        "notes": invoice.notes,
    }


HEADER = ("party", "date", "currency", "payment_term", "journal", "reference", "notes")


def _invoice_editor(request: HttpRequest, invoice: Invoice | None) -> HttpResponse:
    kind = _kind_of(request, invoice)
    choices = _choices(request, kind, invoice)
    errors: list[str] = []
    action = request.POST.get("lines_action", "") if request.method == "POST" else ""
    saving = request.method == "POST" and not action
    if saving:
        form = InvoiceForm(request.POST, **choices["form"])
        formset = InvoiceLineFormSet(request.POST, prefix="lines", form_kwargs=choices["lines"])
        rows = rows_of(request.POST, LINE_FIELDS, multi=("taxes",))
        if form.is_valid() and formset.is_valid():
            lines, ok = _line_dicts(formset)
            if ok and lines is not None:
                data = form.cleaned_data
                party = Party.objects.filter(pk=data["party"]).first()
                fields: dict[str, Any] = {
                    "party": data["party"],
                    "date": data["date"],
                    "currency": data["currency"]
                    or (party.currency_id if party else None)
                    or request.company.base_currency_id,
                    "payment_term": data["payment_term"]
                    or (party.payment_term_id if party else None),
                    "reference": data["reference"],
                    "notes": data["notes"],
                }
                if data["journal"]:
                    fields["journal"] = data["journal"]
                try:
                    if invoice is None:
                        saved = invoicing.invoice_create(
                            company=request.company, actor=request.user, kind=kind, lines=lines,
                            **fields,
                        )  # fmt: skip
                    else:
                        saved = invoicing.invoice_update(
                            invoice=invoice, actor=request.user, lines=lines, **fields
                        )
                except ValidationError as exc:
                    if hasattr(exc, "error_dict"):
                        errors = exc.message_dict.pop("lines", [])
                        if exc.message_dict:
                            apply_errors(form, ValidationError(exc.message_dict))
                    else:
                        errors = exc.messages
                else:
                    messages.success(request, _("Draft saved."))
                    return redirect("finance:invoice_detail", pk=saved.pk)
        header = request.POST
    else:
        if action:
            rows = apply_action(rows_of(request.POST, LINE_FIELDS, multi=("taxes",)), action)
            header = request.POST
        elif invoice is not None:
            rows = _rows_from_invoice(invoice) or [{}]
            header = _header_from_invoice(invoice)
        else:
            rows = [{}]
            party = request.GET.get("party", "")
            header = {"date": today().isoformat(), "party": party if party.isdigit() else ""}
        form = InvoiceForm(initial={k: header.get(k, "") for k in HEADER}, **choices["form"])
        formset = InvoiceLineFormSet(
            formset_data(rows, LINE_FIELDS), prefix="lines", form_kwargs=choices["lines"]
        )
    has_errors = saving and bool(errors or form.errors or formset.total_error_count())
    title = (
        _("Edit %(kind)s %(number)s")
        % {"kind": invoice.get_kind_display(), "number": invoice_number(invoice)}
        if invoice
        else _("New %(kind)s") % {"kind": str(Kind(kind).label).lower()}
    )
    back = (
        reverse("finance:invoice_detail", args=[invoice.pk])
        if invoice
        else reverse(
            "finance:customer_invoice_list"
            if kind in CUSTOMER_KINDS
            else "finance:supplier_invoice_list"
        )
    )
    context = {
        "form": form,
        "kind": kind,
        "title": title,
        "cancel_url": back,
        "line_errors": errors,
        "show_errors": saving,
        **_editor_context(request, formset, rows, _currency_of(request, header)),
    }
    return render(request, "finance/invoice_form.html", context, status=400 if has_errors else 200)


@requires("finance.invoice")
def invoice_create(request: HttpRequest) -> HttpResponse:
    return _invoice_editor(request, None)


@requires("finance.invoice")
def invoice_edit(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = _invoice(request, pk)
    if invoice.state != Invoice.State.DRAFT:
        messages.error(request, _("Only a draft can be edited."))
        return redirect("finance:invoice_detail", pk=pk)
    return _invoice_editor(request, invoice)


@require_POST
@requires("finance.invoice")
def invoice_lines(request: HttpRequest) -> HttpResponse:
    """The editor's HTMX answers: the lines after adding or removing one, or (`?part=amounts`)
    the totals with each line's amounts swapped in out of band. Nothing is saved."""
    rows = rows_of(request.POST, LINE_FIELDS, multi=("taxes",))
    currency = _currency_of(request, request.POST)
    if request.GET.get("part") == "amounts":
        amounts = editor_amounts(request, rows, currency)
        return render(
            request,
            "finance/_invoice_totals.html",
            {"amounts": amounts, "oob": list(enumerate(amounts["rows"]))},
        )
    kind = _kind_of(request, None)
    choices = _choices(request, kind, None)
    rows = apply_action(rows, request.POST.get("lines_action", ""))
    formset = InvoiceLineFormSet(
        formset_data(rows, LINE_FIELDS), prefix="lines", form_kwargs=choices["lines"]
    )
    context = {**_editor_context(request, formset, rows, currency), "show_errors": False}
    return render(request, "finance/_invoice_lines.html", context)


# --- posting, cancelling, crediting -----------------------------------------------------------


@require_POST
@requires("finance.invoice")
def invoice_post(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects, pk=pk)
    try:
        invoice = invoicing.invoice_post(invoice=invoice, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("%(invoice)s posted.") % {"invoice": invoice.number})
    return redirect("finance:invoice_detail", pk=pk)


@require_POST
@requires("finance.invoice")
def invoice_delete(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects, pk=pk)
    customer = invoice.is_customer
    try:
        invoicing.invoice_delete(invoice=invoice, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("finance:invoice_detail", pk=pk)
    messages.success(request, _("Draft deleted."))
    return redirect(
        "finance:customer_invoice_list" if customer else "finance:supplier_invoice_list"
    )


@requires("finance.invoice")
def invoice_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects, pk=pk)
    back = reverse("finance:invoice_detail", args=[pk])
    if invoice.state == Invoice.State.CANCELLED:
        messages.info(request, _("%(invoice)s is cancelled.") % {"invoice": invoice})
        return redirect(back)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            invoicing.invoice_cancel(
                invoice=invoice, actor=request.user, date=form.cleaned_data["date"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("%(invoice)s cancelled.") % {"invoice": invoice})
            return redirect(back)
    return form_response(
        request,
        form=form,
        title=_("Cancel %(invoice)s") % {"invoice": invoice},
        cancel_url=back,
        submit_label=_("Cancel the document"),
        status=400 if form.errors else 200,
    )


@requires("finance.invoice")
def invoice_credit(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects, pk=pk)
    back = reverse("finance:invoice_detail", args=[pk])
    form = CreditNoteForm(
        request.POST if request.method == "POST" else None, initial={"date": today()}
    )
    if request.method == "POST" and form.is_valid():
        try:
            credit = invoicing.invoice_credit(
                invoice=invoice,
                actor=request.user,
                date=form.cleaned_data["date"],
                post=form.cleaned_data["post"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("Credit note created."))
            return redirect("finance:invoice_detail", pk=credit.pk)
    return form_response(
        request,
        form=form,
        title=_("Credit note of %(invoice)s") % {"invoice": invoice},
        cancel_url=back,
        submit_label=_("Create the credit note"),
        status=400 if form.errors else 200,
    )


@require_POST
@requires("finance.payment")
def invoice_apply_credit(request: HttpRequest, pk: int) -> HttpResponse:
    invoice = get_object_or_404(Invoice.objects.select_related("party"), pk=pk)
    try:
        payments.credit_apply(party=invoice.party, actor=request.user, invoices=[invoice])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The party's credit was applied."))
    return redirect("finance:invoice_detail", pk=pk)


urlpatterns = [
    path("invoices/customers/", customer_invoice_list, name="customer_invoice_list"),
    path("invoices/suppliers/", supplier_invoice_list, name="supplier_invoice_list"),
    path("invoices/new/", invoice_create, name="invoice_create"),
    path("invoices/lines/", invoice_lines, name="invoice_lines"),
    path("invoices/<int:pk>/", invoice_detail, name="invoice_detail"),
    path("invoices/<int:pk>/edit/", invoice_edit, name="invoice_edit"),
    path("invoices/<int:pk>/post/", invoice_post, name="invoice_post"),
    path("invoices/<int:pk>/delete/", invoice_delete, name="invoice_delete"),
    path("invoices/<int:pk>/cancel/", invoice_cancel, name="invoice_cancel"),
    path("invoices/<int:pk>/credit/", invoice_credit, name="invoice_credit"),
    path("invoices/<int:pk>/apply-credit/", invoice_apply_credit, name="invoice_apply_credit"),
    path("invoices/<int:pk>/pdf/", invoice_pdf, name="invoice_pdf"),
]
