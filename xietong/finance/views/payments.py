"""Payments and bank statements: the payment list, registering a payment (from an invoice: the
amount due prefilled and allocated to it), allocating what is left of a payment to invoices,
cancelling; importing a bank statement and reconciling its lines from the suggestions."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from xietong.core.permissions import has_perm, requires
from xietong.core.ui.listing import Column, Filter, ListScreen
from xietong.core.ui.records import apply_errors, form_response, record_response
from xietong.finance import banking
from xietong.finance import payments as payment_services
from xietong.finance.forms import (
    CancelForm,
    PaymentForm,
    StatementImportForm,
    currency_choices,
    today,
)
from xietong.finance.models import (
    Account,
    BankStatement,
    Invoice,
    Journal,
    Line,
    Match,
    Payment,
    StatementLine,
)
from xietong.finance.reconcile import residuals
from xietong.finance.views.common import (
    Amount,
    Badge,
    amount_column,
    badge,
    finance_list,
    parse_decimal,
)
from xietong.party.models import Party

ZERO = Decimal(0)
INBOUND = Payment.Direction.INBOUND
OUTBOUND = Payment.Direction.OUTBOUND


def payment_number(payment: Payment) -> str:
    return payment.number or _("Draft %(id)s") % {"id": payment.pk}


def _direction_badge(payment: Payment) -> Badge:
    style = "primary" if payment.direction == INBOUND else "warning"
    return Badge(payment.get_direction_display(), style)


# Bank and cash journal, date range: the filters of the payment and statement lists.
_MONEY_FILTERS = (
    Filter(
        "journal",
        gettext_lazy("Journal"),
        "journal_id",
        choices=lambda r: [
            (str(j.pk), f"{j.code} {j.name}")
            for j in Journal.objects.filter(
                kind__in=[Journal.Kind.BANK, Journal.Kind.CASH]
            ).order_by("code")
        ],
    ),
    Filter("date_from", gettext_lazy("From"), "date__gte", kind="date"),
    Filter("date_to", gettext_lazy("To"), "date__lte", kind="date"),
)


PAYMENT_LIST = ListScreen(
    key="finance-payments",
    title=gettext_lazy("Payments"),
    columns=[
        Column(
            "number", gettext_lazy("Number"), accessor=payment_number, order_by="number", link=True
        ),
        Column("date", gettext_lazy("Date"), order_by="date"),
        Column(
            "direction", gettext_lazy("Direction"), accessor=_direction_badge, order_by="direction"
        ),
        Column("party", gettext_lazy("Party"), accessor="party__name", order_by="party__name"),
        Column(
            "journal", gettext_lazy("Journal"), accessor="journal__code", order_by="journal__code"
        ),
        amount_column("amount", gettext_lazy("Amount"), "amount", order_by="amount"),
        Column("currency", gettext_lazy("Currency"), accessor="currency_id"),
        Column("state", gettext_lazy("State"), accessor=badge, order_by="state"),
        Column("reference", gettext_lazy("Reference"), order_by="reference"),
    ],  # fmt: skip
    search_fields=["number", "reference", "party__name", "party__code", "memo"],
    filters=[
        Filter(
            "direction",
            gettext_lazy("Direction"),
            "direction",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Payment.Direction.choices],
        ),
        Filter(
            "state",
            gettext_lazy("State"),
            "state",
            choices=lambda r: [(str(v), str(lb)) for v, lb in Payment.State.choices],
        ),
        *_MONEY_FILTERS,
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda p: reverse("finance:payment_detail", args=[p.pk]),
)


@requires("finance.view")
def payment_list(request: HttpRequest) -> HttpResponse:
    actions = []
    if has_perm(request, "finance.payment"):
        url = reverse("finance:payment_create")
        actions = [
            (_("Register a payment received"), f"{url}?direction={INBOUND}"),
            (_("Register a payment made"), f"{url}?direction={OUTBOUND}"),
        ]
    payments = Payment.objects.select_related("party", "journal")
    return finance_list(request, PAYMENT_LIST, payments, actions=actions)


def unallocated(payment: Payment) -> Decimal | None:
    """What is left of a posted payment to allocate, in its currency."""
    if payment.state != Payment.State.POSTED:
        return None
    try:
        line = payment_services.payment_line(payment)
    except ValidationError:
        return None
    return abs(residuals([line.pk])[line.pk].amount_currency)


def allocations(payment: Payment) -> list[dict[str, Any]]:
    """The invoices (and other lines) a posted payment settled."""
    if not payment.entry_id:
        return []
    lines = Line.objects.filter(entry_id=payment.entry_id, account__reconcile=True)
    matches = list(
        Match.objects.filter(Q(debit_line__in=lines) | Q(credit_line__in=lines))
        .select_related("debit_line", "credit_line")
        .order_by("pk")
    )
    others = [
        m.credit_line if m.debit_line.entry_id == payment.entry_id else m.debit_line
        for m in matches
    ]
    invoices = {
        i.entry_id: i for i in Invoice.objects.filter(entry_id__in={o.entry_id for o in others})
    }
    rows = []
    for match, other in zip(matches, others, strict=True):
        invoice = invoices.get(other.entry_id)
        rows.append(
            {
                "invoice": invoice,
                "entry_id": other.entry_id,
                "date": other.date,
                "amount": Amount(match.amount_currency or match.amount, payment.currency_id),
            }
        )
    return rows


@requires("finance.view")
def payment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(
        Payment.objects.select_related("party", "journal", "entry", "created_by"), pk=pk
    )
    left = unallocated(payment)
    actions: list[dict[str, Any]] = []
    if has_perm(request, "finance.payment"):
        if payment.state == Payment.State.POSTED and left:
            actions.append(
                {"label": _("Allocate"), "url": reverse("finance:payment_allocate", args=[pk])}
            )
        if payment.state != Payment.State.CANCELLED:
            actions.append(
                {
                    "label": _("Cancel"),
                    "url": reverse("finance:payment_cancel", args=[pk]),
                    "style": "outline-danger",
                }
            )
    return record_response(
        request,
        obj=payment,
        title=_("Payment %(number)s") % {"number": payment_number(payment)},
        fields=[],
        actions=actions,
        template="finance/payment_detail.html",
        extra={
            "payment": payment,
            "state_badge": badge(payment),
            "direction_badge": _direction_badge(payment),
            "amount": Amount(payment.amount, payment.currency_id),
            "unallocated": Amount(left, payment.currency_id) if left is not None else None,
            "allocations": allocations(payment),
            "statement_lines": list(payment.statement_lines.select_related("statement")),
        },
    )


def _open_invoices(party_id: int | None, direction: str, currency: str | None = None) -> Any:
    kinds = (
        [Invoice.Kind.CUSTOMER_INVOICE, Invoice.Kind.SUPPLIER_CREDIT]
        if direction == INBOUND
        else [Invoice.Kind.SUPPLIER_INVOICE, Invoice.Kind.CUSTOMER_CREDIT]
    )
    invoices = Invoice.objects.filter(
        party_id=party_id, state=Invoice.State.POSTED, kind__in=kinds, amount_residual__gt=0
    ).order_by("due_date", "date", "pk")
    if currency:
        invoices = invoices.filter(currency_id=currency)
    return invoices


def _payment_choices(request: HttpRequest, direction: str, party_id: int | None) -> dict[str, Any]:
    role = {"is_customer": True} if direction == INBOUND else {"is_supplier": True}
    parties = Party.objects.filter(
        Q(merged_into__isnull=True, active=True) & (Q(**role) | Q(pk=party_id or 0))
    )
    return {
        "directions": [(str(v), str(label)) for v, label in Payment.Direction.choices],
        "parties": [(str(p.pk), f"{p.name} ({p.code})") for p in parties.order_by("name")],
        "journals": [
            (str(j.pk), f"{j.code} {j.name}")
            for j in Journal.objects.filter(
                kind__in=[Journal.Kind.BANK, Journal.Kind.CASH], active=True
            ).order_by("code")
        ],
        "currencies": currency_choices(),
        "invoices": [
            (str(i.pk), f"{i.number} · {i.currency_id} {i.amount_residual:,.2f}")
            for i in _open_invoices(party_id, direction)
        ],
    }


@requires("finance.payment")
def payment_create(request: HttpRequest) -> HttpResponse:
    """Register and post a payment; from an invoice (`?invoice=`) the party, direction, currency
    and amount due are prefilled and the payment is allocated to it."""
    source = request.POST if request.method == "POST" else request.GET
    invoice = None
    raw = source.get("invoice", "")
    if str(raw).isdigit():
        invoice = Invoice.objects.filter(pk=int(raw), state=Invoice.State.POSTED).first()
    direction = source.get("direction") or (
        (
            INBOUND
            if invoice.kind in (Invoice.Kind.CUSTOMER_INVOICE, Invoice.Kind.SUPPLIER_CREDIT)
            else OUTBOUND
        )
        if invoice
        else INBOUND
    )
    direction = direction if direction in Payment.Direction.values else INBOUND
    party_raw = source.get("party", "")
    party_id = (
        int(party_raw) if str(party_raw).isdigit() else (invoice.party_id if invoice else None)
    )
    bank = Journal.objects.filter(kind=Journal.Kind.BANK, active=True).order_by("code").first()
    initial: dict[str, Any] = {
        "direction": direction,
        "date": today(),
        "party": party_id,
        "journal": bank.pk if bank else None,
    }
    if invoice is not None:
        initial.update(
            amount=invoice.amount_residual,
            invoice=invoice.pk,
            reference=invoice.number,
        )
        if bank is not None and payment_services.journal_currency(bank) != invoice.currency_id:
            initial["currency"] = invoice.currency_id
    form = PaymentForm(
        request.POST or None, initial=initial, **_payment_choices(request, direction, party_id)
    )
    back = (
        reverse("finance:invoice_detail", args=[invoice.pk])
        if invoice
        else reverse("finance:payment_list")
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        party = Party.objects.filter(pk=data["party"]).first()
        journal = Journal.objects.filter(pk=data["journal"]).first()
        target = Invoice.objects.filter(pk=data["invoice"]).first() if data["invoice"] else None
        try:
            with transaction.atomic():
                payment = payment_services.payment_create(
                    company=request.company,
                    actor=request.user,
                    direction=data["direction"],
                    party=party,  # type: ignore[arg-type]
                    journal=journal,  # type: ignore[arg-type]
                    date=data["date"],
                    amount=data["amount"],
                    currency=data["currency"] or None,
                    rate=data["rate"],
                    reference=data["reference"],
                    memo=data["memo"],
                    # allocated to a credit note, the payment gives the money back
                    refund=data["refund"] or bool(target and target.is_credit_note),
                )
                payment = payment_services.payment_post(
                    payment=payment,
                    actor=request.user,
                    allocations=[target] if target is not None else None,
                )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, _("Payment %(number)s registered.") % {"number": payment.number}
            )
            return redirect("finance:payment_detail", pk=payment.pk)
    return form_response(
        request,
        form=form,
        title=_("Register a payment received")
        if direction == INBOUND
        else _("Register a payment made"),
        cancel_url=back,
        submit_label=_("Register and post"),
        status=400 if form.errors else 200,
    )


@requires("finance.payment")
def payment_allocate(request: HttpRequest, pk: int) -> HttpResponse:
    """Allocate what is left of a posted payment to open invoices of its party."""
    payment = get_object_or_404(Payment.objects.select_related("party"), pk=pk)
    back = reverse("finance:payment_detail", args=[pk])
    if payment.state != Payment.State.POSTED:
        messages.error(request, _("Only a posted payment can be allocated."))
        return redirect(back)
    settles = payment_services.SETTLES[(payment.customer_side, payment.refund)]
    invoices = [
        i
        for i in _open_invoices(payment.party_id, payment.direction, payment.currency_id)
        if i.kind == settles
    ]
    errors: list[str] = []
    entered: dict[int, str] = {}
    if request.method == "POST":
        amounts: dict[int, Decimal] = {}
        for invoice in invoices:
            raw = request.POST.get(f"amount-{invoice.pk}", "").strip()
            entered[invoice.pk] = raw
            if not raw:
                continue
            value = parse_decimal(raw)
            if value is None or value < 0:
                errors.append(
                    _("%(invoice)s: “%(value)s” is not an amount.")
                    % {"invoice": invoice, "value": raw}
                )
            elif value:
                amounts[invoice.pk] = value
        if not errors and not amounts:
            errors.append(_("Enter the amount to allocate to at least one invoice."))
        if not errors:
            try:
                payment_services.payment_allocate(
                    payment=payment, actor=request.user, amounts=amounts
                )
            except ValidationError as exc:
                errors = exc.messages
            else:
                messages.success(request, _("The payment was allocated."))
                return redirect(back)
    return render(
        request,
        "finance/payment_allocate.html",
        {
            "payment": payment,
            "unallocated": Amount(unallocated(payment), payment.currency_id),
            "rows": [
                {
                    "invoice": invoice,
                    "due": Amount(invoice.amount_residual, invoice.currency_id),
                    "value": entered.get(invoice.pk, ""),
                }
                for invoice in invoices
            ],
            "errors": errors,
            "cancel_url": back,
        },
        status=400 if errors else 200,
    )


@requires("finance.payment")
def payment_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    payment = get_object_or_404(Payment.objects, pk=pk)
    back = reverse("finance:payment_detail", args=[pk])
    if payment.state == Payment.State.CANCELLED:
        messages.info(request, _("The payment is cancelled."))
        return redirect(back)
    form = CancelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            payment_services.payment_cancel(
                payment=payment, actor=request.user, date=form.cleaned_data["date"]
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, _("The payment was cancelled."))
            return redirect(back)
    return form_response(
        request,
        form=form,
        title=_("Cancel payment %(number)s") % {"number": payment_number(payment)},
        cancel_url=back,
        submit_label=_("Cancel the payment"),
        status=400 if form.errors else 200,
    )


# --- bank statements --------------------------------------------------------------------------


def _journal_currency(statement: BankStatement) -> str:
    return payment_services.journal_currency(statement.journal)


STATEMENT_LIST = ListScreen(
    key="finance-statements",
    title=gettext_lazy("Bank statements"),
    columns=[
        Column("name", gettext_lazy("Name"), order_by="name", link=True),
        Column(
            "journal", gettext_lazy("Journal"), accessor="journal__code", order_by="journal__code"
        ),
        Column("date", gettext_lazy("Date"), order_by="date"),
        amount_column(
            "balance_start",
            gettext_lazy("Opening balance"),
            "balance_start",
            currency=_journal_currency,
        ),
        amount_column(
            "balance_end",
            gettext_lazy("Closing balance"),
            "balance_end",
            currency=_journal_currency,
        ),
        Column("line_count", gettext_lazy("Lines"), order_by="line_count"),
        Column("open_count", gettext_lazy("To reconcile"), order_by="open_count"),
    ],  # fmt: skip
    search_fields=["name"],
    filters=[
        *_MONEY_FILTERS,
    ],  # fmt: skip
    default_sort="-date",
    detail_url=lambda s: reverse("finance:statement_detail", args=[s.pk]),
)


@requires("finance.view")
def statement_list(request: HttpRequest) -> HttpResponse:
    actions = (
        [(_("Import a statement"), reverse("finance:statement_import"))]
        if has_perm(request, "finance.payment")
        else []
    )
    statements = BankStatement.objects.select_related(
        "journal__account", "journal__company"
    ).annotate(
        line_count=Count("lines"),
        open_count=Count("lines", filter=Q(lines__payment__isnull=True)),
    )
    return finance_list(request, STATEMENT_LIST, statements, actions=actions)


@requires("finance.payment")
def statement_import(request: HttpRequest) -> HttpResponse:
    journals = [
        (str(j.pk), f"{j.code} {j.name}")
        for j in Journal.objects.filter(
            kind__in=[Journal.Kind.BANK, Journal.Kind.CASH], active=True
        ).order_by("kind", "code")
    ]
    form = StatementImportForm(request.POST or None, request.FILES or None, journals=journals)
    if request.method == "POST" and form.is_valid():
        journal = get_object_or_404(Journal.objects, pk=form.cleaned_data["journal"])
        try:
            statement = banking.statement_import(
                company=request.company,
                actor=request.user,
                journal=journal,
                file=form.cleaned_data["file"],
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            skipped = getattr(statement, "skipped", 0)
            messages.success(
                request,
                _("Statement imported (%(skipped)s rows already imported were skipped).")
                % {"skipped": skipped}
                if skipped
                else _("Statement imported."),
            )
            return redirect("finance:statement_detail", pk=statement.pk)
    return form_response(
        request,
        form=form,
        title=_("Import a bank statement"),
        cancel_url=reverse("finance:statement_list"),
        submit_label=_("Import"),
        status=400 if form.errors else 200,
    )


STATEMENT_PAGE = 25


@requires("finance.view")
def statement_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The statement's lines, each open one with its best suggestions and a button per
    suggestion; reconciled ones with their payment."""
    statement = get_object_or_404(
        BankStatement.objects.select_related("journal__account", "journal__company"), pk=pk
    )
    currency = payment_services.journal_currency(statement.journal)
    lines = StatementLine.objects.filter(statement=statement).select_related(
        "party", "payment", "entry"
    )
    page = Paginator(lines.order_by("sequence", "pk"), STATEMENT_PAGE).get_page(
        request.GET.get("page")
    )
    can_reconcile = has_perm(request, "finance.payment")
    rows = []
    for line in page.object_list:
        suggestions = []
        if line.payment_id is None and line.entry_id is None:
            for number, suggestion in enumerate(
                banking.statement_suggestions(line=line, limit=3), start=1
            ):
                suggestions.append(
                    {
                        "number": number,
                        "suggestion": suggestion,
                        "invoices": ",".join(str(i.pk) for i in suggestion.invoices),
                        "payment": suggestion.payment.pk if suggestion.payment else "",
                        "party": suggestion.party.pk if suggestion.party else "",
                    }
                )
        rows.append(
            {
                "line": line,
                "amount": Amount(line.amount, currency),
                "suggestions": suggestions,
            }
        )
    parties = (
        Party.objects.filter(merged_into__isnull=True, active=True).order_by("name")
        if can_reconcile
        else Party.objects.none()
    )
    return render(
        request,
        "finance/statement_detail.html",
        {
            "statement": statement,
            "currency": currency,
            "balance_start": Amount(statement.balance_start, currency),
            "balance_end": Amount(statement.balance_end, currency),
            "rows": rows,
            "page": page,
            "can_reconcile": can_reconcile,
            "parties": parties.values_list("code", "name")[:5000],
            "accounts": (
                Account.objects.filter(is_group=False, reconcile=False, active=True)
                .order_by("code")
                .values_list("code", "name")
                if can_reconcile
                else []
            ),
        },
    )


@require_POST
@requires("finance.payment")
def statement_line_reconcile(request: HttpRequest, pk: int) -> HttpResponse:
    """Accept a suggestion (invoices and/or a payment) or create a payment for a chosen party."""
    line = get_object_or_404(StatementLine.objects.select_related("statement"), pk=pk)
    ids = [int(v) for v in request.POST.get("invoices", "").split(",") if v.strip().isdigit()]
    invoices = list(Invoice.objects.filter(pk__in=ids)) if ids else None
    payment_raw = request.POST.get("payment", "")
    payment = Payment.objects.filter(pk=int(payment_raw)).first() if payment_raw.isdigit() else None
    party_raw = request.POST.get("party", "")
    code = request.POST.get("party_code", "").strip()
    party = None
    if party_raw.isdigit():
        party = Party.objects.filter(pk=int(party_raw)).first()
    elif code:
        party = Party.objects.filter(code=code, merged_into__isnull=True).first()
        if party is None:
            messages.error(request, _("No party has the code %(code)s.") % {"code": code})
            return redirect("finance:statement_detail", pk=line.statement_id)
    try:
        banking.statement_line_reconcile(
            line=line, actor=request.user, invoices=invoices, payment=payment, party=party
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Statement line %(n)s reconciled.") % {"n": line.sequence})
    url = reverse("finance:statement_detail", args=[line.statement_id])
    page = request.POST.get("page", "")
    return redirect(f"{url}?page={page}" if page.isdigit() else url)


@require_POST
@requires("finance.payment")
def statement_line_book(request: HttpRequest, pk: int) -> HttpResponse:
    """Book a statement line to an account given by its code (bank charges, interest…)."""
    line = get_object_or_404(StatementLine.objects.select_related("statement"), pk=pk)
    code = request.POST.get("account_code", "").strip()
    account = Account.objects.filter(code=code).first() if code else None
    if account is None:
        messages.error(request, _("No account has the code %(code)s.") % {"code": code or "—"})
    else:
        try:
            banking.statement_line_book(
                line=line, account=account, actor=request.user, label=request.POST.get("label", "")
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                _("Statement line %(n)s booked to %(account)s.")
                % {"n": line.sequence, "account": account},
            )
    url = reverse("finance:statement_detail", args=[line.statement_id])
    page = request.POST.get("page", "")
    return redirect(f"{url}?page={page}" if page.isdigit() else url)


@require_POST
@requires("finance.payment")
def statement_line_undo(request: HttpRequest, pk: int) -> HttpResponse:
    line = get_object_or_404(StatementLine.objects, pk=pk)
    try:
        banking.statement_line_undo(
            line=line, actor=request.user, cancel_payment=request.POST.get("cancel_payment") == "1"
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("The reconciliation was undone."))
    return redirect("finance:statement_detail", pk=line.statement_id)


urlpatterns = [
    path("payments/", payment_list, name="payment_list"),
    path("payments/new/", payment_create, name="payment_create"),
    path("payments/<int:pk>/", payment_detail, name="payment_detail"),
    path("payments/<int:pk>/allocate/", payment_allocate, name="payment_allocate"),
    path("payments/<int:pk>/cancel/", payment_cancel, name="payment_cancel"),
    path("statements/", statement_list, name="statement_list"),
    path("statements/import/", statement_import, name="statement_import"),
    path("statements/<int:pk>/", statement_detail, name="statement_detail"),
    path(
        "statement-lines/<int:pk>/reconcile/",
        statement_line_reconcile,
        name="statement_line_reconcile",
    ),
    path("statement-lines/<int:pk>/book/", statement_line_book, name="statement_line_book"),
    path("statement-lines/<int:pk>/undo/", statement_line_undo, name="statement_line_undo"),
]
