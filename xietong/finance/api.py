"""REST endpoints of finance (mounted at `/api/v1` by `xietong.api`), following the conventions
of `xietong.core.api`: a permission under every route, scoped querysets (another company's
record is not found), `@paginate`d lists, `@idempotent` creating POSTs answering 201, writes
through the services (their ValidationErrors become 422 problems; a posting refused by the
ledger names its reason in `detail` and `code`), decimals as strings.

Accounts, journals and taxes are named by their codes in request bodies; parties, invoices and
periods by id.
"""

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import paginate
from pydantic import ConfigDict

from xietong.core.api import DecimalString
from xietong.core.idempotency import idempotent
from xietong.core.permissions import requires
from xietong.finance import invoicing, periods, reports
from xietong.finance import payments as payment_services
from xietong.finance.models import (
    Account,
    AccountSubtype,
    CashFlowSection,
    Entry,
    Invoice,
    Journal,
    Payment,
    Period,
    Tax,
)
from xietong.finance.posting import (
    EntrySpec,
    LineSpec,
    PostingError,
    entry_create,
    entry_post,
    entry_reverse,
)
from xietong.party.models import Party

router = Router(tags=["finance"])
ZERO = Decimal(0)


# --- schemas ------------------------------------------------------------------------------------


class AccountOut(Schema):
    id: int
    code: str
    name: str
    parent: int | None = Field(None, alias="parent_id")
    type: str
    subtype: str
    cash_flow: str
    is_group: bool
    reconcile: bool
    currency: str | None = Field(None, alias="currency_id")
    active: bool


class AccountIn(Schema):
    model_config = ConfigDict(extra="forbid")

    code: str
    name: str
    type: Literal["asset", "liability", "equity", "income", "expense"]
    parent: str | None = Field(None, description="code of a group account")
    subtype: str = ""
    cash_flow: str = ""
    is_group: bool = False
    reconcile: bool = False
    currency: str | None = Field(
        None, description="ISO 4217 code of an account kept in one currency"
    )
    active: bool = True


class AccountFilters(Schema):
    q: str | None = Field(None, description="part of the code or name")
    type: str | None = None
    active: bool | None = None
    postable: bool | None = Field(None, description="true: leaf accounts only")


class JournalOut(Schema):
    id: int
    code: str
    name: str
    kind: str
    account: str | None
    currency: str | None = Field(None, alias="currency_id")
    active: bool

    @staticmethod
    def resolve_account(obj: Journal) -> str | None:
        return obj.account.code if obj.account_id else None  # type: ignore[union-attr]


class EntryLineOut(Schema):
    id: int
    sequence: int
    account: str
    account_name: str
    label: str
    debit: DecimalString
    credit: DecimalString
    currency: str = Field(..., alias="currency_id")
    amount_currency: DecimalString
    rate: DecimalString
    party: int | None = Field(None, alias="party_id")
    tax: str | None
    due_date: dt.date | None

    @staticmethod
    def resolve_account(obj: Any) -> str:
        return obj.account.code

    @staticmethod
    def resolve_account_name(obj: Any) -> str:
        return obj.account.name

    @staticmethod
    def resolve_tax(obj: Any) -> str | None:
        return obj.tax.code if obj.tax_id else None


class EntryBrief(Schema):
    id: int
    number: str
    date: dt.date
    journal: str
    ref: str
    state: str
    total: DecimalString
    source_type: str
    source_id: int | None
    reversal_of: int | None = Field(None, alias="reversal_of_id")

    @staticmethod
    def resolve_journal(obj: Entry) -> str:
        return obj.journal.code

    @staticmethod
    def resolve_total(obj: Entry) -> Decimal:
        return Decimal(getattr(obj, "total", None) or ZERO).quantize(Decimal("0.0001"))


class EntryOut(EntryBrief):
    narration: str
    period: str | None
    chain_index: int | None
    hash: str
    previous_hash: str
    reversed_by: int | None
    posted_at: dt.datetime | None
    lines: list[EntryLineOut]

    @staticmethod
    def resolve_period(obj: Entry) -> str | None:
        return obj.period.name if obj.period_id else None  # type: ignore[union-attr]

    @staticmethod
    def resolve_reversed_by(obj: Entry) -> int | None:
        return Entry.objects.filter(reversal_of=obj).values_list("pk", flat=True).first()

    @staticmethod
    def resolve_lines(obj: Entry) -> list[Any]:
        return list(obj.lines.select_related("account", "tax").order_by("sequence", "pk"))

    @staticmethod
    def resolve_total(obj: Entry) -> Decimal:
        return sum((line.debit for line in obj.lines.all()), ZERO)


class EntryLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    account: str = Field(..., description="account code")
    debit: DecimalString = ZERO
    credit: DecimalString = ZERO
    currency: str | None = Field(None, description="ISO 4217 code; default: the company's")
    rate: DecimalString | None = Field(None, description="default: the company's rate of the date")
    label: str = ""
    party: int | None = Field(None, description="party id")
    due_date: dt.date | None = None


class EntryIn(Schema):
    model_config = ConfigDict(extra="forbid")

    journal: str = Field(..., description="journal code")
    date: dt.date
    ref: str = ""
    narration: str = ""
    lines: list[EntryLineIn]
    post: bool = Field(True, description="false: keep the entry as a draft")


class EntryFilters(Schema):
    journal: str | None = Field(None, description="journal code")
    state: Literal["draft", "posted"] | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = Field(None, description="part of the number or reference")


class ReverseIn(Schema):
    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = Field(None, description="default: the entry's date, or today")
    ref: str = ""


class PeriodOut(Schema):
    id: int
    name: str
    start: dt.date
    end: dt.date
    state: str
    fiscal_year: str
    closed_at: dt.datetime | None

    @staticmethod
    def resolve_fiscal_year(obj: Period) -> str:
        return obj.fiscal_year.name


class PeriodFilters(Schema):
    state: Literal["open", "closed"] | None = None
    date: dt.date | None = Field(None, description="the period containing this date")


class InvoiceLineOut(Schema):
    id: int
    sequence: int
    product: int | None = Field(None, alias="product_id")
    description: str
    account: str
    quantity: DecimalString
    unit_price: DecimalString
    discount: DecimalString
    taxes: list[str]
    amount_untaxed: DecimalString
    amount_tax: DecimalString
    amount_total: DecimalString

    @staticmethod
    def resolve_account(obj: Any) -> str:
        return obj.account.code

    @staticmethod
    def resolve_taxes(obj: Any) -> list[str]:
        return [tax.code for tax in obj.taxes.all()]


class InvoiceTaxOut(Schema):
    tax: str
    base: DecimalString
    amount: DecimalString

    @staticmethod
    def resolve_tax(obj: Any) -> str:
        return obj.tax.code


class InstallmentOut(Schema):
    sequence: int
    due_date: dt.date
    amount: DecimalString
    discount: DecimalString
    discount_date: dt.date | None


class InvoiceBrief(Schema):
    id: int
    kind: str
    state: str
    payment_state: str
    number: str
    party: int = Field(..., alias="party_id")
    party_name: str
    journal: int = Field(..., alias="journal_id")
    date: dt.date
    due_date: dt.date | None
    currency: str = Field(..., alias="currency_id")
    amount_untaxed: DecimalString
    amount_tax: DecimalString
    amount_total: DecimalString
    amount_residual: DecimalString
    reference: str

    @staticmethod
    def resolve_party_name(obj: Invoice) -> str:
        return obj.party.name


class InvoiceOut(InvoiceBrief):
    rate: DecimalString | None
    payment_term: int | None = Field(None, alias="payment_term_id")
    origin: str
    credited_invoice: int | None = Field(None, alias="credited_invoice_id")
    entry: int | None = Field(None, alias="entry_id")
    notes: str
    lines: list[InvoiceLineOut]
    taxes: list[InvoiceTaxOut]
    installments: list[InstallmentOut]

    @staticmethod
    def resolve_lines(obj: Invoice) -> list[Any]:
        return list(obj.lines.all())

    @staticmethod
    def resolve_taxes(obj: Invoice) -> list[Any]:
        return list(obj.tax_lines.all())

    @staticmethod
    def resolve_installments(obj: Invoice) -> list[Any]:
        return list(obj.installments.all())


class InvoiceLineIn(Schema):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    product: int | None = Field(None, description="product id")
    account: str | None = Field(None, description="account code; default: the settings'")
    quantity: DecimalString = Decimal(1)
    unit_price: DecimalString
    discount: DecimalString = ZERO
    taxes: list[str] = Field(default_factory=list, description="tax codes")


class InvoiceIn(Schema):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["out_invoice", "out_refund", "in_invoice", "in_refund"]
    party: int
    date: dt.date
    currency: str | None = Field(None, description="default: the party's")
    rate: DecimalString | None = None
    journal: str | None = Field(None, description="journal code; default: the settings'")
    payment_term: int | None = Field(None, description="default: the party's")
    reference: str = ""
    notes: str = ""
    lines: list[InvoiceLineIn]


class InvoiceFilters(Schema):
    kind: Literal["out_invoice", "out_refund", "in_invoice", "in_refund"] | None = None
    state: Literal["draft", "posted", "cancelled"] | None = None
    payment_state: Literal["not_paid", "partial", "paid"] | None = None
    party: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    q: str | None = Field(None, description="part of the number or reference")


class CancelIn(Schema):
    model_config = ConfigDict(extra="forbid")

    date: dt.date | None = Field(None, description="date of the reversal of a posted invoice")


class PaymentOut(Schema):
    id: int
    direction: str
    refund: bool
    state: str
    number: str
    party: int = Field(..., alias="party_id")
    journal: str
    date: dt.date
    amount: DecimalString
    currency: str = Field(..., alias="currency_id")
    rate: DecimalString | None
    reference: str
    memo: str
    entry: int | None = Field(None, alias="entry_id")

    @staticmethod
    def resolve_journal(obj: Payment) -> str:
        return obj.journal.code


class AllocationIn(Schema):
    invoice: int
    amount: DecimalString | None = Field(None, description="default: as much as the payment covers")


class PaymentIn(Schema):
    model_config = ConfigDict(extra="forbid")

    direction: Literal["inbound", "outbound"]
    refund: bool = Field(
        False, description="money paid back to a customer or received back from a supplier"
    )
    party: int
    journal: str = Field(..., description="code of a bank or cash journal")
    date: dt.date
    amount: DecimalString
    currency: str | None = Field(None, description="default: the journal's")
    rate: DecimalString | None = None
    reference: str = ""
    memo: str = ""
    allocations: list[AllocationIn] = Field(
        default_factory=list, description="invoices to settle with the payment"
    )


class PaymentFilters(Schema):
    direction: Literal["inbound", "outbound"] | None = None
    state: Literal["draft", "posted", "cancelled"] | None = None
    party: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


class RangeQuery(Schema):
    start: dt.date
    end: dt.date


class AsOfQuery(Schema):
    as_of: dt.date


class TrialFiguresOut(Schema):
    opening: DecimalString
    debit: DecimalString
    credit: DecimalString
    closing: DecimalString


class TrialRowOut(Schema):
    account: int | None = Field(None, alias="account_id")
    code: str
    name: str
    type: str
    opening: DecimalString
    debit: DecimalString
    credit: DecimalString
    closing: DecimalString


class TrialBalanceOut(Schema):
    start: dt.date
    end: dt.date
    currency: str
    balanced: bool
    rows: list[TrialRowOut]
    totals: TrialFiguresOut


class StatementRowOut(Schema):
    label: str
    code: str
    kind: str
    level: int
    account: int | None = Field(None, alias="account_id")
    amount: DecimalString

    @staticmethod
    def resolve_label(obj: Any) -> str:
        return str(obj.label)


class StatementSectionOut(Schema):
    key: str
    title: str
    total: DecimalString
    rows: list[StatementRowOut]

    @staticmethod
    def resolve_title(obj: Any) -> str:
        return str(obj.title)


class StatementOut(Schema):
    title: str
    period: str
    currency: str
    sections: list[StatementSectionOut]
    summary: list[StatementRowOut]

    @staticmethod
    def resolve_title(obj: Any) -> str:
        return str(obj.title)

    @staticmethod
    def resolve_period(obj: Any) -> str:
        return obj.period_label


# --- helpers ------------------------------------------------------------------------------------


def _company(request: HttpRequest) -> Any:
    return request.company  # type: ignore[attr-defined]


def _by_code(model: Any, code: str | None, field: str) -> Any:
    """The company's `model` row with `code` (None for None); a 422 naming `field` otherwise."""
    if code in (None, ""):
        return None
    found = model.objects.filter(code=code).first()
    if found is None:
        raise ValidationError(
            {field: [_("No %(thing)s has the code “%(code)s”.") % {
                "thing": model._meta.verbose_name, "code": code}]}
        )  # fmt: skip
    return found


class PostingRefused(HttpError):
    """A posting the ledger refused: 422 with its reason as `detail` and `code`."""

    def __init__(self, exc: ValidationError) -> None:
        super().__init__(422, " ".join(exc.messages))
        self.code = getattr(exc, "code", None) or "posting_refused"


def _entry(entry_id: int) -> Entry:
    return get_object_or_404(Entry.objects.select_related("journal", "period"), pk=entry_id)


def _invoice(request: HttpRequest, invoice_id: int) -> Invoice:
    try:
        return invoicing.invoice_detail(company=_company(request), pk=invoice_id)
    except Invoice.DoesNotExist:
        from django.http import Http404

        raise Http404 from None


# --- accounts and journals ----------------------------------------------------------------------


@router.get("/finance/accounts", response=list[AccountOut])
@requires("finance.view")
@paginate
def account_list(request: HttpRequest, filters: Query[AccountFilters]) -> Any:
    """The chart of accounts by code; filter by a search text, type, activity, or postable
    (leaf) accounts only."""
    accounts = Account.objects.order_by("code")
    if filters.q:
        accounts = accounts.filter(Q(code__icontains=filters.q) | Q(name__icontains=filters.q))
    if filters.type:
        accounts = accounts.filter(type=filters.type)
    if filters.active is not None:
        accounts = accounts.filter(active=filters.active)
    if filters.postable is not None:
        accounts = accounts.filter(is_group=not filters.postable)
    return accounts


@router.post("/finance/accounts", response={201: AccountOut})
@requires("finance.configure")
@idempotent
def account_create(request: HttpRequest, payload: AccountIn) -> Status:
    """Add an account to the chart."""
    from xietong.finance.configuration import account_save

    fields = payload.model_dump()
    fields["parent"] = _by_code(Account, fields["parent"], "parent")
    if fields["subtype"] not in AccountSubtype.values:
        raise ValidationError({"subtype": [_("Unknown subtype.")]})
    if fields["cash_flow"] not in CashFlowSection.values:
        raise ValidationError({"cash_flow": [_("Unknown cash-flow section.")]})
    account = account_save(company=_company(request), actor=request.user, **fields)
    return Status(201, account)


@router.get("/finance/journals", response=list[JournalOut])
@requires("finance.view")
@paginate
def journal_list(request: HttpRequest) -> Any:
    """The journals by code."""
    return Journal.objects.select_related("account").order_by("code")


# --- entries ------------------------------------------------------------------------------------


@router.get("/finance/entries", response=list[EntryBrief])
@requires("finance.view")
@paginate
def entry_list(request: HttpRequest, filters: Query[EntryFilters]) -> Any:
    """Journal entries, newest first; filter by journal code, state, date range or a search in
    the number and reference. `total` is the sum of the debits."""
    entries = Entry.objects.select_related("journal").annotate(total=Sum("lines__debit"))
    if filters.journal:
        entries = entries.filter(journal__code=filters.journal)
    if filters.state:
        entries = entries.filter(state=filters.state)
    if filters.date_from:
        entries = entries.filter(date__gte=filters.date_from)
    if filters.date_to:
        entries = entries.filter(date__lte=filters.date_to)
    if filters.q:
        entries = entries.filter(Q(number__icontains=filters.q) | Q(ref__icontains=filters.q))
    return entries.order_by("-date", "-pk")


@router.get("/finance/entries/{entry_id}", response=EntryOut)
@requires("finance.view")
def entry_get(request: HttpRequest, entry_id: int) -> Entry:
    """One entry with its lines, its place in the journal's hash chain and its reversal."""
    return _entry(entry_id)


@router.post("/finance/entries", response={201: EntryOut})
@requires("finance.post")
@idempotent
def entry_create_api(request: HttpRequest, payload: EntryIn) -> Any:
    """Create a manual entry and post it (numbered, chained, frozen), or keep it as a draft
    with `post: false`. Amounts are in each line's currency. A refused posting (unbalanced,
    closed period, group account …) answers 422 with the reason in `detail` and `code`, and
    nothing is saved."""
    company = _company(request)
    journal = _by_code(Journal, payload.journal, "journal")
    parties = Party.objects.in_bulk({line.party for line in payload.lines if line.party})
    lines = []
    for number, item in enumerate(payload.lines, start=1):
        if item.party and item.party not in parties:
            raise ValidationError({"lines": [_("Line %(n)s: no such party.") % {"n": number}]})
        lines.append(
            LineSpec(
                account=_by_code(Account, item.account, f"lines.{number - 1}.account"),
                debit=item.debit,
                credit=item.credit,
                currency=item.currency,
                rate=item.rate,
                label=item.label,
                party=parties.get(item.party) if item.party else None,
                due_date=item.due_date,
            )
        )
    spec = EntrySpec(
        journal=journal,
        date=payload.date,
        lines=lines,
        ref=payload.ref,
        narration=payload.narration,
    )
    try:
        save = entry_post if payload.post else entry_create
        entry = save(company=company, spec=spec, actor=request.user)
    except PostingError as exc:
        raise PostingRefused(exc) from exc
    return Status(201, _entry(entry.pk))


@router.post("/finance/entries/{entry_id}/reverse", response={201: EntryOut})
@requires("finance.post")
@idempotent
def entry_reverse_api(request: HttpRequest, entry_id: int, payload: ReverseIn) -> Any:
    """Post the reversal of a posted entry (on `date`, by default the entry's own date when its
    period is open, else today); answers the reversal."""
    entry = _entry(entry_id)
    try:
        reversal = entry_reverse(
            entry=entry, actor=request.user, date=payload.date, ref=payload.ref
        )
    except PostingError as exc:
        raise PostingRefused(exc) from exc
    return Status(201, _entry(reversal.pk))


# --- periods ------------------------------------------------------------------------------------


@router.get("/finance/periods", response=list[PeriodOut])
@requires("finance.view")
@paginate
def period_list(request: HttpRequest, filters: Query[PeriodFilters]) -> Any:
    """The periods of every fiscal year, oldest first; filter by state or a date."""
    found = Period.objects.select_related("fiscal_year").order_by("start")
    if filters.state:
        found = found.filter(state=filters.state)
    if filters.date:
        found = found.filter(start__lte=filters.date, end__gte=filters.date)
    return found


@router.post("/finance/periods/{period_id}/close", response=PeriodOut)
@requires("finance.close")
def period_close(request: HttpRequest, period_id: int) -> Period:
    """Close a period for good (refused while draft entries are dated in it)."""
    period = get_object_or_404(Period.objects.select_related("fiscal_year"), pk=period_id)
    periods.period_close(period=period, actor=request.user)
    return Period.objects.select_related("fiscal_year").get(pk=period_id)


# --- invoices -----------------------------------------------------------------------------------


@router.get("/finance/invoices", response=list[InvoiceBrief], tags=["invoices"])
@requires("finance.view")
@paginate
def invoice_list(request: HttpRequest, filters: Query[InvoiceFilters]) -> Any:
    """Invoices and credit notes, newest first; filter by kind, state, payment state, party,
    date range or a search in the number and reference."""
    found = Invoice.objects.select_related("party")
    for name in ("kind", "state", "payment_state"):
        value = getattr(filters, name)
        if value:
            found = found.filter(**{name: value})
    if filters.party is not None:
        found = found.filter(party_id=filters.party)
    if filters.date_from:
        found = found.filter(date__gte=filters.date_from)
    if filters.date_to:
        found = found.filter(date__lte=filters.date_to)
    if filters.q:
        found = found.filter(Q(number__icontains=filters.q) | Q(reference__icontains=filters.q))
    return found.order_by("-date", "-pk")


@router.get("/finance/invoices/{invoice_id}", response=InvoiceOut, tags=["invoices"])
@requires("finance.view")
def invoice_get(request: HttpRequest, invoice_id: int) -> Invoice:
    """One invoice with its lines, taxes and installments."""
    return _invoice(request, invoice_id)


@router.post("/finance/invoices", response={201: InvoiceOut}, tags=["invoices"])
@requires("finance.invoice")
@idempotent
def invoice_create(request: HttpRequest, payload: InvoiceIn) -> Status:
    """Create a draft invoice or credit note with its lines; the amounts are computed by the
    tax engine under the company's rounding policies. Post it with `…/post`."""
    company = _company(request)
    party = Party.objects.filter(pk=payload.party).first()
    if party is None:
        raise ValidationError({"party": [_("No such party.")]})
    taxes = {
        t.code: t
        for t in Tax.objects.filter(code__in={c for li in payload.lines for c in li.taxes})
    }
    lines = []
    for number, item in enumerate(payload.lines):
        missing = [code for code in item.taxes if code not in taxes]
        if missing:
            raise ValidationError(
                {
                    f"lines.{number}.taxes": [
                        _("Unknown tax %(codes)s.") % {"codes": ", ".join(missing)}
                    ]
                }
            )
        line: dict[str, Any] = {
            "description": item.description,
            "quantity": item.quantity,
            "unit_price": item.unit_price,
            "discount": item.discount,
            "taxes": [taxes[code] for code in item.taxes],
        }
        if item.product is not None:
            line["product"] = item.product
        if item.account:
            line["account"] = _by_code(Account, item.account, f"lines.{number}.account")
        lines.append(line)
    invoice = invoicing.invoice_create(
        company=company,
        actor=request.user,
        kind=payload.kind,
        party=party,
        date=payload.date,
        lines=lines,
        currency=payload.currency,
        rate=payload.rate,
        journal=_by_code(Journal, payload.journal, "journal"),
        payment_term=payload.payment_term,
        reference=payload.reference,
        notes=payload.notes,
    )
    return Status(201, _invoice(request, invoice.pk))


@router.post("/finance/invoices/{invoice_id}/post", response=InvoiceOut, tags=["invoices"])
@requires("finance.invoice")
def invoice_post(request: HttpRequest, invoice_id: int) -> Any:
    """Post a draft: its installments are fixed, its entry booked and numbered."""
    invoice = _invoice(request, invoice_id)
    try:
        invoicing.invoice_post(invoice=invoice, actor=request.user)
    except PostingError as exc:
        raise PostingRefused(exc) from exc
    return _invoice(request, invoice_id)


@router.post("/finance/invoices/{invoice_id}/cancel", response=InvoiceOut, tags=["invoices"])
@requires("finance.invoice")
def invoice_cancel(request: HttpRequest, invoice_id: int, payload: CancelIn) -> Any:
    """Cancel a draft, or a posted invoice by posting the reversal of its entry (refused while a
    payment or credit note is allocated to it)."""
    invoice = _invoice(request, invoice_id)
    try:
        invoicing.invoice_cancel(invoice=invoice, actor=request.user, date=payload.date)
    except PostingError as exc:
        raise PostingRefused(exc) from exc
    return _invoice(request, invoice_id)


@router.get(
    "/finance/invoices/{invoice_id}/pdf",
    response={200: None},
    tags=["invoices"],
    openapi_extra={
        "responses": {
            "200": {
                "description": "The invoice as a PDF",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
@requires("finance.view")
def invoice_pdf(request: HttpRequest, invoice_id: int) -> HttpResponse:
    """The invoice or credit note as a PDF, in its language."""
    invoice = _invoice(request, invoice_id)
    response = HttpResponse(invoicing.invoice_pdf(invoice=invoice), content_type="application/pdf")
    name = (invoice.number or f"draft-{invoice.pk}").replace("/", "-")
    response["Content-Disposition"] = f'inline; filename="{name}.pdf"'
    return response


# --- payments -----------------------------------------------------------------------------------


@router.get("/finance/payments", response=list[PaymentOut], tags=["payments"])
@requires("finance.view")
@paginate
def payment_list(request: HttpRequest, filters: Query[PaymentFilters]) -> Any:
    """Payments received and made, newest first."""
    found = Payment.objects.select_related("journal")
    for name in ("direction", "state"):
        value = getattr(filters, name)
        if value:
            found = found.filter(**{name: value})
    if filters.party is not None:
        found = found.filter(party_id=filters.party)
    if filters.date_from:
        found = found.filter(date__gte=filters.date_from)
    if filters.date_to:
        found = found.filter(date__lte=filters.date_to)
    return found.order_by("-date", "-pk")


@router.post("/finance/payments", response={201: PaymentOut}, tags=["payments"])
@requires("finance.payment")
@idempotent
def payment_create(request: HttpRequest, payload: PaymentIn) -> Any:
    """Register and post a payment, allocated to `allocations` (each invoice with an amount,
    or all without amounts: settled oldest due first as far as the payment goes). What is not
    allocated stays open as the party's credit."""
    company = _company(request)
    party = Party.objects.filter(pk=payload.party).first()
    if party is None:
        raise ValidationError({"party": [_("No such party.")]})
    journal = _by_code(Journal, payload.journal, "journal")
    invoices = Invoice.objects.in_bulk([a.invoice for a in payload.allocations])
    missing = [a.invoice for a in payload.allocations if a.invoice not in invoices]
    if missing:
        raise ValidationError(
            {
                "allocations": [
                    _("No such invoice: %(ids)s.") % {"ids": ", ".join(map(str, missing))}
                ]
            }
        )
    allocations: Any = None
    if payload.allocations:
        if all(a.amount is not None for a in payload.allocations):
            allocations = {a.invoice: a.amount for a in payload.allocations}
        else:
            allocations = [invoices[a.invoice] for a in payload.allocations]
    try:
        with transaction.atomic():
            payment = payment_services.payment_create(
                company=company,
                actor=request.user,
                direction=payload.direction,
                party=party,
                journal=journal,
                date=payload.date,
                amount=payload.amount,
                currency=payload.currency,
                rate=payload.rate,
                reference=payload.reference,
                memo=payload.memo,
                refund=payload.refund,
            )
            payment = payment_services.payment_post(
                payment=payment, actor=request.user, allocations=allocations
            )
    except PostingError as exc:
        raise PostingRefused(exc) from exc
    return Status(201, Payment.objects.select_related("journal").get(pk=payment.pk))


# --- reports ------------------------------------------------------------------------------------


@router.get("/finance/reports/trial-balance", response=TrialBalanceOut, tags=["reports"])
@requires("finance.view")
def trial_balance(request: HttpRequest, query: Query[RangeQuery]) -> dict[str, Any]:
    """Opening balance, debits, credits and closing balance of every account with a figure
    (balances signed: + debit, − credit) from the posted entries."""
    report = reports.trial_balance(company=_company(request), start=query.start, end=query.end)
    return {
        "start": report.start,
        "end": report.end,
        "currency": report.currency,
        "balanced": report.balanced,
        "rows": [
            {
                "account_id": row.account_id,
                "code": row.code,
                "name": row.name,
                "type": row.type,
                "opening": row.opening,
                "debit": row.debit,
                "credit": row.credit,
                "closing": row.closing,
            }
            for row in report.rows
        ],
        "totals": report.totals,
    }


@router.get("/finance/reports/balance-sheet", response=StatementOut, tags=["reports"])
@requires("finance.view")
def balance_sheet(request: HttpRequest, query: Query[AsOfQuery]) -> Any:
    """Assets, liabilities and equity as of a date (natural signs)."""
    return reports.balance_sheet(company=_company(request), as_of=query.as_of)


@router.get("/finance/reports/profit-and-loss", response=StatementOut, tags=["reports"])
@requires("finance.view")
def profit_and_loss(request: HttpRequest, query: Query[RangeQuery]) -> Any:
    """Income, cost of sales, gross profit, expenses and net profit over a range."""
    return reports.profit_and_loss(company=_company(request), start=query.start, end=query.end)
