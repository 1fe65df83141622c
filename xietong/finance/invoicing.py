"""Customer and supplier invoices and credit notes: drafting, posting, cancelling, crediting and
their PDF.

A draft is created with its lines; its amounts (lines, one `InvoiceTax` row per tax, header
totals) come from the tax engine (`taxes.compute`) under the company's `FinanceSettings`
(tax rounding policy and rounding mode) and are recomputed whenever the lines change and once
more at posting. Drafts can be changed, deleted or cancelled.

Posting (`invoice_post`) fixes the installments from the payment term and books one entry
through `entry_post` in the invoice's journal:

=====================  ===============================  ===========================
kind                   receivable / payable lines       line and tax lines
=====================  ===============================  ===========================
customer invoice       debit, one per installment       credit (income, output tax)
customer credit note   credit, one per installment      debit
supplier invoice       credit, one per installment      debit (expense, input tax)
supplier credit note   debit, one per installment       credit
=====================  ===============================  ===========================

Every line carries the party; installment lines their due date, invoice lines their product and
analytic tags, tax lines their tax. Amounts are in the invoice currency at `invoice.rate` (the
company's rate of the date when not set; the rate used is stored). The invoice takes the entry's
number, which the posting service draws gap-free inside the same transaction: a refused posting
consumes no number. A posted credit note of an invoice is reconciled with the invoice's open
receivable/payable lines, so the invoice's amount due drops.

`invoices_create` and `invoices_post` do the same for many invoices at once, with the shared
reads done once and the rows written in bulk (`invoice_create` and `invoice_post` are them for
one invoice).

Cancelling a posted invoice posts the reversal of its entry (which reconciles the receivable
lines with their mirror); it is refused while a payment or a credit note is allocated to it.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.core.models import Company, Currency, UnitOfMeasure
from xietong.core.money import Money, minor_units
from xietong.core.selectors import RateNotFound, rate_on
from xietong.core.tenancy import CompanyOwned
from xietong.finance import taxes as tax_engine
from xietong.finance.amounts import AmountSum
from xietong.finance.models import (
    Account,
    AnalyticTag,
    FinanceSettings,
    Installment,
    Invoice,
    InvoiceLine,
    InvoiceTax,
    Journal,
    Line,
    Match,
    Tax,
)
from xietong.finance.posting import (
    EntrySpec,
    LineSpec,
    audit_later,
    entries_post,
    entry_reverse,
    finance_scope,
    finance_settings,
    refresh_from,
    rows_update,
    service_atomic,
    settings_with,
)
from xietong.finance.reconcile import lines_match
from xietong.party.models import Party, PaymentTerm
from xietong.party.services import timeline_add
from xietong.party.terms import payment_schedule
from xietong.product.models import Product

ZERO = Decimal(0)
HUNDRED = Decimal(100)

Kind = Invoice.Kind
CUSTOMER_KINDS = frozenset({Kind.CUSTOMER_INVOICE, Kind.CUSTOMER_CREDIT})
SUPPLIER_KINDS = frozenset({Kind.SUPPLIER_INVOICE, Kind.SUPPLIER_CREDIT})
CREDIT_KIND = {
    Kind.CUSTOMER_INVOICE: Kind.CUSTOMER_CREDIT,
    Kind.SUPPLIER_INVOICE: Kind.SUPPLIER_CREDIT,
}

HEADER_FIELDS = frozenset(
    {
        "party",
        "date",
        "currency",
        "rate",
        "journal",
        "payment_term",
        "reference",
        "origin",
        "source_type",
        "source_id",
        "notes",
        "language",
    }
)
LINE_FIELDS = frozenset(
    {
        "product",
        "description",
        "account",
        "quantity",
        "unit_price",
        "discount",
        "taxes",
        "uom",
        "analytic_tags",
    }
)
_AMOUNT_LIMIT = Decimal(10) ** 15  # finance.models.AMOUNT: 19 digits, 4 decimals
_TEXT_LIMITS = {"reference": 80, "origin": 80, "source_type": 60, "language": 10}

Errors = dict[str, list[str]]


# --- small helpers ------------------------------------------------------------------------------


def _add(errors: Errors, key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)


def _raise(errors: Errors) -> None:
    if errors:
        raise ValidationError(errors)


def _is_customer_kind(kind: str) -> bool:
    return kind in CUSTOMER_KINDS


def _direction(kind: str) -> int:
    """+1 when the receivable/payable lines are debits (customer invoice, supplier credit
    note), −1 when they are credits."""
    return 1 if kind in (Kind.CUSTOMER_INVOICE, Kind.SUPPLIER_CREDIT) else -1


def _sides(amount: Decimal) -> dict[str, Decimal]:
    """A signed amount (+ debit, − credit) as LineSpec keywords."""
    return {"debit": amount, "credit": ZERO} if amount > 0 else {"debit": ZERO, "credit": -amount}


def _kind_label(kind: str) -> str:
    return str(Kind(kind).label)


def _number_of(
    value: Any, label: str, *, places: int, limit: Decimal
) -> tuple[Decimal | None, str | None]:
    """`value` as a Decimal with at most `places` decimals and below `limit`, or a problem."""
    if isinstance(value, float):
        return None, _("%(field)s must be a Decimal (or a string), not a float.") % {"field": label}
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        return None, _("%(field)s must be a number.") % {"field": label}
    try:
        number = Decimal(value)
    except (InvalidOperation, ValueError):
        return None, _("%(field)s: “%(value)s” is not a number.") % {"field": label, "value": value}
    if not number.is_finite():
        return None, _("%(field)s must be a finite number.") % {"field": label}
    if number.as_tuple().exponent < -places:  # type: ignore[operator]
        return None, _("%(field)s: use at most %(places)s decimals.") % {
            "field": label,
            "places": places,
        }
    if abs(number) >= limit:
        return None, _("%(field)s is too large.") % {"field": label}
    return number, None


def _resolve(model: type[Any], value: Any, company: Company) -> Any:
    """An instance of `model` from an instance or a primary key; None when not found. A primary
    key of a company-owned model only finds a row of `company` (so nothing of another company
    leaks); an instance is returned as given, for the checks to name."""
    if value is None or value == "" or isinstance(value, model):
        return value or None
    queryset = model._base_manager.all()
    if issubclass(model, CompanyOwned):
        queryset = queryset.filter(company=company)
    try:
        found = list(queryset.filter(pk=value).order_by()[:1])
    except (ValueError, TypeError, ValidationError):
        return None
    return found[0] if found else None


def _foreign(obj: Any, company: Company) -> bool:
    return obj is not None and getattr(obj, "company_id", company.pk) != company.pk


@dataclass
class _LineData:
    """One invoice line, resolved and checked."""

    description: str
    account: Account | None
    quantity: Decimal
    unit_price: Decimal
    discount: Decimal = ZERO
    product: Product | None = None
    taxes: list[Tax] = field(default_factory=list)
    uom: UnitOfMeasure | None = None
    analytic_tags: list[AnalyticTag] = field(default_factory=list)

    @classmethod
    def of(cls, row: InvoiceLine) -> _LineData:
        return cls(
            description=row.description,
            account=row.account,
            quantity=row.quantity,
            unit_price=row.unit_price,
            discount=row.discount,
            product=row.product,
            taxes=list(row.taxes.all()),
            uom=row.uom,
            analytic_tags=list(row.analytic_tags.all()),
        )


def _account_problem(account: Account, company: Company) -> str | None:
    if account.company_id != company.pk:
        return _("the account %(account)s belongs to another company.") % {"account": account}
    if account.is_group:
        return _("%(account)s is a group account; choose one of its sub-accounts.") % {
            "account": account
        }
    if not account.active:
        return _("the account %(account)s is archived.") % {"account": account}
    if account.reconcile:
        return _(
            "%(account)s is a receivable/payable (reconcilable) account; invoice lines go to "
            "income, expense or other accounts."
        ) % {"account": account}
    return None


def _line_problems(company: Company, kind: str, data: _LineData, *, strict: bool) -> list[str]:
    """What is wrong with one resolved line (`strict`: also refuse archived taxes)."""
    problems: list[str] = []
    if not data.description.strip():
        problems.append(_("the description is required."))
    elif len(data.description) > 300:
        problems.append(_("the description is longer than 300 characters."))
    if data.account is not None:  # a missing account is reported by the caller
        problem = _account_problem(data.account, company)
        if problem:
            problems.append(problem)
    if _foreign(data.product, company):
        problems.append(
            _("the product %(product)s belongs to another company.") % {"product": data.product}
        )
    use = Tax.Use.SALE if _is_customer_kind(kind) else Tax.Use.PURCHASE
    seen: set[int] = set()
    for tax in data.taxes:
        if tax.company_id != company.pk:
            problems.append(_("the tax “%(tax)s” belongs to another company.") % {"tax": tax})
        elif tax.use != use:
            problems.append(
                (
                    _("“%(tax)s” is a purchase tax; a customer document takes sales taxes.")
                    if use == Tax.Use.SALE
                    else _("“%(tax)s” is a sales tax; a supplier document takes purchase taxes.")
                )
                % {"tax": tax}
            )
        elif strict and not tax.active:
            problems.append(_("the tax “%(tax)s” is archived.") % {"tax": tax})
        if tax.pk in seen:
            problems.append(_("the tax “%(tax)s” is given twice.") % {"tax": tax})
        seen.add(tax.pk)
    for tag in data.analytic_tags:
        if tag.company_id != company.pk:
            problems.append(
                _("the analytic tag %(tag)s belongs to another company.") % {"tag": tag}
            )
    if not Decimal(0) <= data.discount <= HUNDRED:
        problems.append(_("the discount must be between 0 and 100 %."))
    return problems


def _lines_clean(
    company: Company,
    kind: str,
    settings: FinanceSettings,
    lines: Sequence[Mapping[str, Any]],
    errors: Errors,
) -> list[_LineData]:
    """Resolve and check the line dicts of `invoice_create`/`invoice_update`; problems go to
    `errors["lines"]`, one message per line."""
    if isinstance(lines, Mapping | str) or not isinstance(lines, Iterable):
        _add(errors, "lines", _("Give the lines as a list of dicts."))
        return []
    result: list[_LineData] = []
    customer = _is_customer_kind(kind)
    for number, item in enumerate(lines, start=1):
        problems: list[str] = []
        if not isinstance(item, Mapping):
            _add(errors, "lines", _("Line %(n)s: give a dict.") % {"n": number})
            continue
        unknown = set(item) - LINE_FIELDS
        if unknown:
            problems.append(
                _("unknown field(s) %(fields)s.") % {"fields": ", ".join(sorted(unknown))}
            )
        product = _resolve(Product, item.get("product"), company)
        if item.get("product") not in (None, "") and product is None:
            problems.append(_("choose a valid product of your company."))
        account = _resolve(Account, item.get("account"), company)
        if item.get("account") not in (None, "") and account is None:
            problems.append(_("choose a valid account of your company."))
        if account is None and item.get("account") in (None, ""):
            account = settings.income_account if customer else settings.expense_account
            if account is None:
                problems.append(
                    _("give an account, or set the default %(which)s account in the finance "
                      "settings.")
                    % {"which": _("sales income") if customer else _("purchase expense")}
                )  # fmt: skip
        quantity, problem = _number_of(
            item.get("quantity", Decimal(1)), _("Quantity"), places=6, limit=Decimal(10) ** 12
        )
        if problem:
            problems.append(problem)
        if "unit_price" not in item:
            problems.append(_("the unit price is required."))
            unit_price = None
        else:
            unit_price, problem = _number_of(
                item["unit_price"], _("Unit price"), places=6, limit=Decimal(10) ** 12
            )
            if problem:
                problems.append(problem)
        discount, problem = _number_of(
            item.get("discount") or Decimal(0), _("Discount"), places=4, limit=Decimal(1000)
        )
        if problem:
            problems.append(problem)
        tax_list: list[Tax] = []
        raw_taxes = item.get("taxes") or []
        if isinstance(raw_taxes, Tax | str | int):
            raw_taxes = [raw_taxes]
        for raw in raw_taxes:
            tax = _resolve(Tax, raw, company)
            if tax is None:
                problems.append(_("choose a valid tax of your company."))
            else:
                tax_list.append(tax)
        tags: list[AnalyticTag] = []
        for raw in item.get("analytic_tags") or []:
            tag = _resolve(AnalyticTag, raw, company)
            if tag is None:
                problems.append(_("choose a valid analytic tag of your company."))
            else:
                tags.append(tag)
        uom = _resolve(UnitOfMeasure, item.get("uom"), company)
        if item.get("uom") not in (None, "") and uom is None:
            problems.append(_("choose a valid unit."))
        description = str(item.get("description") or "").strip()
        if not description and product is not None:
            description = product.name
        if uom is None and product is not None and _foreign(product, company) is False:
            uom = (product.sales_uom if customer else product.purchase_uom) or product.uom
        data = _LineData(
            description=description,
            account=account,
            quantity=quantity if quantity is not None else Decimal(1),
            unit_price=unit_price if unit_price is not None else ZERO,
            discount=discount if discount is not None else ZERO,
            product=product,
            taxes=tax_list,
            uom=uom,
            analytic_tags=tags,
        )
        problems += _line_problems(company, kind, data, strict=True)
        if problems:
            _add(
                errors,
                "lines",
                _("Line %(n)s: %(problems)s") % {"n": number, "problems": " ".join(problems)},
            )
        else:
            result.append(data)
    return result


def _header_check(invoice: Invoice, errors: Errors, *, strict: bool) -> None:
    """Check the header of `invoice` (unsaved changes included): kind, party and its role,
    journal, currency, rate, payment term, date, text lengths. `strict` also refuses archived
    or merged parties and archived journals (at creation and update)."""
    company = invoice.company
    kind = invoice.kind
    if kind not in Kind.values:
        _add(errors, "kind", _("Unknown invoice kind “%(kind)s”.") % {"kind": kind})
        return
    customer = _is_customer_kind(kind)
    party = invoice.party if invoice.party_id else None
    if party is None:
        _add(errors, "party", _("Choose the party."))
    elif party.company_id != company.pk:
        _add(
            errors, "party", _("The party %(party)s belongs to another company.") % {"party": party}
        )
    else:
        if customer and not party.is_customer:
            _add(
                errors,
                "party",
                _("%(party)s is not a customer; a customer document needs a customer.")
                % {"party": party},
            )
        if not customer and not party.is_supplier:
            _add(
                errors,
                "party",
                _("%(party)s is not a supplier; a supplier document needs a supplier.")
                % {"party": party},
            )
        if strict and party.merged_into_id:
            _add(errors, "party", _("%(party)s was merged into another party.") % {"party": party})
        elif strict and not party.active:
            _add(errors, "party", _("%(party)s is archived.") % {"party": party})
    journal = invoice.journal if invoice.journal_id else None
    expected = Journal.Kind.SALES if customer else Journal.Kind.PURCHASE
    if journal is None:
        _add(
            errors,
            "journal",
            _("Choose a journal, or set the default %(kind)s journal in the finance settings.")
            % {"kind": Journal.Kind(expected).label},
        )
    elif journal.company_id != company.pk:
        _add(
            errors,
            "journal",
            _("The journal %(journal)s belongs to another company.") % {"journal": journal},
        )
    elif journal.kind != expected:
        _add(
            errors,
            "journal",
            _("%(journal)s is a %(actual)s journal; a %(document)s goes to a %(expected)s journal.")
            % {
                "journal": journal,
                "actual": Journal.Kind(journal.kind).label,
                "document": _kind_label(kind).lower(),
                "expected": Journal.Kind(expected).label,
            },
        )
    elif strict and not journal.active:
        _add(errors, "journal", _("The journal %(journal)s is archived.") % {"journal": journal})
    elif journal.currency_id and journal.currency_id != invoice.currency_id:
        _add(
            errors,
            "currency",
            _("The journal %(journal)s takes documents in %(currency)s only.")
            % {"journal": journal, "currency": journal.currency_id},
        )
    if not invoice.currency_id or (
        invoice.currency_id != company.base_currency_id  # the company's exists (foreign key)
        and not Currency.objects.filter(pk=invoice.currency_id).exists()
    ):
        _add(
            errors,
            "currency",
            _("“%(currency)s” is not a known currency.") % {"currency": invoice.currency_id},
        )
    if invoice.rate is not None:
        if invoice.rate <= 0:
            _add(errors, "rate", _("The exchange rate must be positive."))
        elif invoice.currency_id == company.base_currency_id and invoice.rate != 1:
            _add(errors, "rate", _("The invoice is in the company currency; its rate must be 1."))
    term = invoice.payment_term if invoice.payment_term_id else None
    if term is not None and term.company_id != company.pk:
        _add(
            errors,
            "payment_term",
            _("The payment term %(term)s belongs to another company.") % {"term": term},
        )
    if not isinstance(invoice.date, dt.date) or isinstance(invoice.date, dt.datetime):
        _add(errors, "date", _("Give the invoice date as a date."))
    if invoice.language and invoice.language not in dict(django_settings.LANGUAGES):
        _add(
            errors,
            "language",
            _("“%(language)s” is not a language of xietong.") % {"language": invoice.language},
        )
    for name, limit in _TEXT_LIMITS.items():
        if len(getattr(invoice, name) or "") > limit:
            _add(errors, name, _("At most %(limit)s characters.") % {"limit": limit})


def _header_apply(invoice: Invoice, fields: Mapping[str, Any], errors: Errors) -> None:
    """Set header `fields` on `invoice` (links may be instances or primary keys)."""
    links = {"party": Party, "journal": Journal, "payment_term": PaymentTerm}
    for name, value in fields.items():
        if name in links:
            obj = _resolve(links[name], value, invoice.company)
            if value not in (None, "") and obj is None:
                _add(
                    errors,
                    name,
                    _("Choose a valid %(thing)s of your company.")
                    % {"thing": links[name]._meta.verbose_name},
                )
                continue
            setattr(invoice, name, obj)
        elif name == "currency":
            code = getattr(value, "pk", value)
            invoice.currency_id = str(code).upper() if code else None
        elif name == "rate":
            if value in (None, ""):
                invoice.rate = None
            else:
                rate, problem = _number_of(
                    value, _("Exchange rate"), places=10, limit=Decimal(10) ** 10
                )
                if problem:
                    _add(errors, "rate", problem)
                invoice.rate = rate
        elif name == "source_id":
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0
            ):
                _add(errors, name, _("Give the source document's id as a whole number."))
            invoice.source_id = value
        elif name == "date":
            invoice.date = value
        else:
            setattr(
                invoice, name, (value or "") if isinstance(value, str | type(None)) else str(value)
            )


# --- amounts ------------------------------------------------------------------------------------


def _totals(
    invoice: Invoice, data: Sequence[_LineData], settings: FinanceSettings
) -> tax_engine.InvoiceTotals:
    inputs = [
        tax_engine.LineInput(
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            taxes=tuple(tax_engine.TaxRule.of(tax) for tax in line.taxes),
        )
        for line in data
    ]
    try:
        totals = tax_engine.compute(
            inputs,
            currency=invoice.currency_id,
            policy=settings.tax_rounding,
            rounding=settings.rounding_mode,
        )
    except (TypeError, ValueError) as exc:
        raise ValidationError({"lines": [str(exc)]}) from exc
    amounts = [totals.untaxed, totals.tax, totals.total]
    amounts += [value for line in totals.lines for value in (line.net, line.tax, line.total)]
    amounts += [value for tax in totals.taxes for value in (tax.base, tax.amount)]
    if any(abs(value) >= _AMOUNT_LIMIT for value in amounts):
        raise ValidationError({"lines": [_("The amounts are too large to store.")]})
    return totals


def _header_totals(invoice: Invoice, totals: tax_engine.InvoiceTotals) -> None:
    invoice.amount_untaxed = totals.untaxed
    invoice.amount_tax = totals.tax
    invoice.amount_total = totals.total
    invoice.amount_residual = totals.total  # what would be due; fixed at posting


def _taxes_write(invoice: Invoice, totals: tax_engine.InvoiceTotals, *, new: bool = False) -> None:
    """Replace the tax rows of `invoice` (`new`: it has none yet)."""
    if not new:
        InvoiceTax.objects.filter(invoice=invoice).delete()
    InvoiceTax.objects.bulk_create(
        InvoiceTax(invoice=invoice, tax_id=item.key, base=item.base, amount=item.amount)
        for item in totals.taxes
    )


def _lines_write(
    invoice: Invoice,
    data: Sequence[_LineData],
    totals: tax_engine.InvoiceTotals,
    *,
    new: bool = False,
) -> None:
    """Replace the lines of `invoice` by `data` with their computed amounts, and its taxes
    (`new`: it has none yet), with one insert per table; `invoice.lines.all()` then returns
    the new lines without a query."""
    if not new:
        InvoiceLine.objects.filter(invoice=invoice).delete()
        InvoiceTax.objects.filter(invoice=invoice).delete()
    _lines_insert([(invoice, data, totals)])


def _lines_insert(
    items: Sequence[tuple[Invoice, Sequence[_LineData], tax_engine.InvoiceTotals]],
) -> None:
    """Insert the lines (with their computed amounts) and the tax rows of invoices that have
    none, with one insert per table for them all; `invoice.lines.all()` then returns the new
    lines without a query."""
    made: list[tuple[Invoice, list[InvoiceLine], Sequence[_LineData]]] = []
    for invoice, data, totals in items:
        rows = [
            InvoiceLine(
                invoice=invoice,
                sequence=sequence,
                product=line.product,
                description=line.description,
                account=line.account,
                quantity=line.quantity,
                uom=line.uom,
                unit_price=line.unit_price,
                discount=line.discount,
                amount_untaxed=result.net,
                amount_tax=result.tax,
                amount_total=result.total,
            )
            for sequence, (line, result) in enumerate(zip(data, totals.lines, strict=True), start=1)
        ]
        made.append((invoice, rows, data))
    InvoiceLine.objects.bulk_create([row for _invoice, rows, _data in made for row in rows])
    taxes, tags = InvoiceLine.taxes.through, InvoiceLine.analytic_tags.through
    tax_links = [
        taxes(invoiceline_id=row.pk, tax_id=pk)
        for _invoice, rows, data in made
        for row, line in zip(rows, data, strict=True)
        for pk in dict.fromkeys(tax.pk for tax in line.taxes)
    ]
    tag_links = [
        tags(invoiceline_id=row.pk, analytictag_id=pk)
        for _invoice, rows, data in made
        for row, line in zip(rows, data, strict=True)
        for pk in dict.fromkeys(tag.pk for tag in line.analytic_tags)
    ]
    if tax_links:
        taxes.objects.bulk_create(tax_links)
    if tag_links:
        tags.objects.bulk_create(tag_links)
    tax_rows = [
        InvoiceTax(invoice=invoice, tax_id=item.key, base=item.base, amount=item.amount)
        for invoice, _data, totals in items
        for item in totals.taxes
    ]
    if tax_rows:
        InvoiceTax.objects.bulk_create(tax_rows)
    for invoice, rows, _data in made:
        getattr(invoice, "_prefetched_objects_cache", {}).pop("lines", None)
        queryset = invoice.lines.all()
        queryset._result_cache = rows  # type: ignore[attr-defined]
        queryset._prefetch_done = True  # type: ignore[attr-defined]
        if not hasattr(invoice, "_prefetched_objects_cache"):
            invoice._prefetched_objects_cache = {}  # type: ignore[attr-defined]
        invoice._prefetched_objects_cache["lines"] = queryset  # type: ignore[attr-defined]


# --- drafts -------------------------------------------------------------------------------------


def _draft_save(
    invoice: Invoice,
    *,
    fields: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]] | None = None,
    data: list[_LineData] | None = None,
    strict: bool = True,
    settings: FinanceSettings | None = None,
) -> Invoice:
    """Apply header `fields` to draft `invoice`, check it, compute its amounts and save it.
    The lines are replaced by `lines` (input dicts, checked strictly) or by `data` (resolved
    lines, e.g. copied from an invoice being credited) when either is given; otherwise the
    existing lines are checked again and their amounts recomputed. `strict` also refuses
    archived or merged parties and archived journals and taxes. `settings`: the company's
    finance settings, when read already."""
    replace = lines is not None or data is not None
    data, totals = _draft_check(
        invoice, fields=fields, lines=lines, data=data, strict=strict, settings=settings
    )
    new = invoice.pk is None
    # Everything is checked: a failure from here on aborts the caller's transaction.
    with transaction.atomic(savepoint=False):
        _header_totals(invoice, totals)
        invoice.save()
        if replace:
            _lines_write(invoice, data, totals, new=new)
        else:
            _amounts_refresh(invoice, totals)
    return invoice


def _draft_check(
    invoice: Invoice,
    *,
    fields: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]] | None = None,
    data: list[_LineData] | None = None,
    strict: bool = True,
    settings: FinanceSettings | None = None,
) -> tuple[list[_LineData], tax_engine.InvoiceTotals]:
    """The checks of `_draft_save`, without writing: the draft's resolved lines and amounts."""
    errors: Errors = {}
    for name in sorted(set(fields) - HEADER_FIELDS):
        _add(errors, name, _("Unknown field “%(field)s”.") % {"field": name})
    _header_apply(invoice, {k: v for k, v in fields.items() if k in HEADER_FIELDS}, errors)
    if "party" not in errors:
        _header_check(invoice, errors, strict=strict)
    _raise(errors)
    company = invoice.company
    settings = settings or finance_settings(company)
    if lines is not None:
        data = _lines_clean(company, invoice.kind, settings, lines, errors)
    else:
        if data is None:
            data = [
                _LineData.of(row)
                for row in invoice.lines.select_related("account", "product", "uom")
                .prefetch_related("taxes", "analytic_tags")
                .order_by("sequence", "id")
            ] if invoice.pk else []  # fmt: skip
        _lines_check(company, invoice.kind, data, errors, strict=False)
    _raise(errors)
    return data, _totals(invoice, data, settings)


def _lines_check(
    company: Company, kind: str, data: Sequence[_LineData], errors: Errors, *, strict: bool
) -> None:
    for number, line in enumerate(data, start=1):
        problems = _line_problems(company, kind, line, strict=strict)
        if line.account is None:
            problems.insert(0, _("choose an account."))
        if problems:
            _add(
                errors,
                "lines",
                _("Line %(n)s: %(problems)s") % {"n": number, "problems": " ".join(problems)},
            )


def _amounts_refresh_many(
    items: Sequence[tuple[Invoice, tax_engine.InvoiceTotals, Sequence[InvoiceLine]]],
) -> None:
    """`_amounts_refresh` of many invoices (with their lines read already): one read of their
    tax rows and one update of the lines whose amounts changed."""
    changed = []
    for _invoice, totals, rows in items:
        for row, result in zip(rows, totals.lines, strict=True):
            amounts = (result.net, result.tax, result.total)
            if (row.amount_untaxed, row.amount_tax, row.amount_total) != amounts:
                row.amount_untaxed, row.amount_tax, row.amount_total = amounts
                changed.append(row)
    if changed:
        InvoiceLine.objects.bulk_update(changed, ["amount_untaxed", "amount_tax", "amount_total"])
    stored: dict[int, list[tuple[Any, ...]]] = {}
    for invoice_id, *values in (
        InvoiceTax.objects.filter(invoice_id__in=[invoice.pk for invoice, _t, _r in items])
        .order_by()
        .values_list("invoice_id", "tax_id", "base", "amount")
    ):
        stored.setdefault(invoice_id, []).append(tuple(values))
    for invoice, totals, _rows in items:
        wanted = sorted((item.key, item.base, item.amount) for item in totals.taxes)
        if sorted(stored.get(invoice.pk, [])) != wanted:
            _taxes_write(invoice, totals)


def _amounts_refresh(
    invoice: Invoice,
    totals: tax_engine.InvoiceTotals,
    rows: Sequence[InvoiceLine] | None = None,
) -> None:
    """Store recomputed amounts on the existing lines (in order; `rows` when read already) and
    the tax rows; what has not changed is not written again."""
    if rows is None:
        rows = list(invoice.lines.order_by("sequence", "id"))
    changed = []
    for row, result in zip(rows, totals.lines, strict=True):
        amounts = (result.net, result.tax, result.total)
        if (row.amount_untaxed, row.amount_tax, row.amount_total) != amounts:
            row.amount_untaxed, row.amount_tax, row.amount_total = amounts
            changed.append(row)
    if changed:
        InvoiceLine.objects.bulk_update(changed, ["amount_untaxed", "amount_tax", "amount_total"])
    stored = sorted(
        InvoiceTax.objects.filter(invoice=invoice)
        .order_by()
        .values_list("tax_id", "base", "amount")
    )
    if stored != sorted((item.key, item.base, item.amount) for item in totals.taxes):
        _taxes_write(invoice, totals)


@audited
def invoice_create(
    *,
    company: Company,
    actor: Any,
    kind: str,
    party: Party | int,
    date: dt.date,
    lines: Sequence[Mapping[str, Any]] = (),
    currency: Currency | str | None = None,
    rate: Decimal | None = None,
    journal: Journal | int | None = None,
    payment_term: PaymentTerm | int | None = None,
    reference: str = "",
    origin: str = "",
    source_type: str = "",
    source_id: int | None = None,
    notes: str = "",
    language: str | None = None,
) -> Invoice:
    """Create a draft invoice or credit note of `kind` (`Invoice.Kind`) with its lines and
    computed amounts.

    Defaults: `currency` the party's (else the company's), `journal` the sales journal of the
    finance settings for customer kinds and the purchase journal for supplier kinds,
    `payment_term` and `language` the party's. Each line is a dict of `description`
    (default: the product's name), `product`, `account` (default: the settings' income account
    for customer kinds, expense account for supplier kinds), `quantity` (default 1),
    `unit_price`, `discount` (percent), `taxes` (a list of `Tax`), `uom` (default: the
    product's sales or purchase unit), `analytic_tags`; links may be instances or primary keys,
    numbers Decimals, ints or strings (never floats).

    Refused (ValidationError with field errors, nothing written): records of another company, a
    customer document for a party that is not a customer (supplier likewise), a journal of the
    wrong kind, a tax whose `use` does not match the kind, archived taxes, accounts that are
    groups, archived or reconcilable, malformed numbers."""
    (invoice,) = invoices_create(
        company=company,
        actor=actor,
        invoices=[
            {
                "kind": kind,
                "party": party,
                "date": date,
                "lines": lines,
                "currency": currency,
                "rate": rate,
                "journal": journal,
                "payment_term": payment_term,
                "reference": reference,
                "origin": origin,
                "source_type": source_type,
                "source_id": source_id,
                "notes": notes,
                "language": language,
            }
        ],
    )
    return invoice


@audited
def invoices_create(
    *, company: Company, actor: Any, invoices: Sequence[Mapping[str, Any]]
) -> list[Invoice]:
    """`invoice_create` of many drafts at once, in one transaction: `invoices` are the keyword
    arguments of `invoice_create` (but `company` and `actor`) of each. The same drafts, lines,
    taxes and audit entries, with the settings read once and the rows inserted in bulk (one
    statement per table). Returns the drafts in the order given. Raises the ValidationError
    of the first refused draft (its message names it when there are several) and then writes
    nothing."""
    prepared: list[tuple[Invoice, list[_LineData], tax_engine.InvoiceTotals]] = []
    with service_atomic(), finance_scope():
        for position, arguments in enumerate(invoices, start=1):
            try:
                prepared.append(_draft_new(company, actor, **arguments))
            except ValidationError as exc:
                if len(invoices) == 1:
                    raise
                reference = arguments.get("origin") or arguments.get("reference") or position
                raise ValidationError(
                    _("Invoice %(n)s (%(reference)s): %(errors)s")
                    % {"n": position, "reference": reference, "errors": " ".join(exc.messages)},
                    code="invalid",
                ) from exc
        with transaction.atomic(savepoint=False):
            rows = []
            for invoice, _data, totals in prepared:
                _header_totals(invoice, totals)
                rows.append(invoice)
            Invoice.unscoped.bulk_create(rows)
            audit_later([(None, invoice) for invoice in rows], actor=actor)
            _lines_insert(prepared)
    return [invoice for invoice, _data, _totals in prepared]


def _draft_new(
    company: Company,
    actor: Any,
    *,
    kind: str,
    party: Party | int,
    date: dt.date,
    lines: Sequence[Mapping[str, Any]] = (),
    currency: Currency | str | None = None,
    rate: Decimal | None = None,
    journal: Journal | int | None = None,
    payment_term: PaymentTerm | int | None = None,
    reference: str = "",
    origin: str = "",
    source_type: str = "",
    source_id: int | None = None,
    notes: str = "",
    language: str | None = None,
) -> tuple[Invoice, list[_LineData], tax_engine.InvoiceTotals]:
    """A new draft (not saved) as `invoice_create` makes it, checked, with its resolved lines
    and amounts."""
    errors: Errors = {}
    party_obj = _resolve(Party, party, company)
    if party_obj is None:
        _add(errors, "party", _("Choose a valid party of your company."))
    _raise(errors)
    customer = _is_customer_kind(kind)
    related = []  # read with the settings: the defaults this invoice takes
    if journal is None:
        related.append("sales_journal" if customer else "purchase_journal")
    lines = list(lines)
    if any(isinstance(item, Mapping) and item.get("account") in (None, "") for item in lines):
        related.append("income_account" if customer else "expense_account")
    settings = settings_with(company, *related)
    if journal is None:
        journal = settings.sales_journal if customer else settings.purchase_journal
    if currency is None:
        currency = party_obj.currency_id or company.base_currency_id
    invoice = Invoice(
        company=company,
        kind=kind,
        created_by=actor if getattr(actor, "pk", None) else None,
        payment_state=Invoice.PaymentState.NOT_PAID,
    )
    fields = {
        "party": party_obj,
        "date": date,
        "currency": currency,
        "rate": rate,
        "journal": journal,
        "payment_term": payment_term if payment_term is not None else party_obj.payment_term,
        "reference": reference,
        "origin": origin,
        "source_type": source_type,
        "source_id": source_id,
        "notes": notes,
        "language": language if language is not None else (party_obj.language or ""),
    }
    data, totals = _draft_check(invoice, fields=fields, lines=lines, settings=settings)
    return invoice, data, totals


def _locked_draft(invoice: Invoice, action: str, *, related: tuple[str, ...] = ()) -> Invoice:
    """`invoice` locked (`select_for_update`, with its company row), read with its company and
    the `related` links; ValidationError unless it is a draft."""
    locked = (
        Invoice.unscoped.select_for_update(of=("self", "company"))
        .select_related("company", *related)
        .get(pk=invoice.pk)
    )
    if locked.state != Invoice.State.DRAFT:
        messages = {
            "change": _("%(invoice)s is %(state)s; only a draft can be changed."),
            "delete": _("%(invoice)s is %(state)s; only a draft can be deleted."),
            "post": _("%(invoice)s is %(state)s; only a draft can be posted."),
        }
        raise ValidationError(
            messages[action] % {"invoice": locked, "state": locked.get_state_display().lower()},
            code="not_draft",
        )
    return locked


@audited
def invoice_update(
    *,
    invoice: Invoice,
    actor: Any,
    lines: Sequence[Mapping[str, Any]] | None = None,
    **fields: Any,
) -> Invoice:
    """Change a draft's header `fields` (any of party, date, currency, rate, journal,
    payment_term, reference, origin, source_type, source_id, notes, language) and, when
    `lines` is given, replace all its lines (dicts as in `invoice_create`); the amounts are
    recomputed. Locks the invoice row. Raises ValidationError (not a draft, bad input) and
    then changes nothing."""
    with transaction.atomic():
        locked = _locked_draft(invoice, "change")
        _draft_save(locked, fields=fields, lines=list(lines) if lines is not None else None)
    invoice.refresh_from_db()
    return invoice


@audited
def invoice_delete(*, invoice: Invoice, actor: Any) -> None:
    """Delete a draft invoice with its lines. Locks the row; refuses anything but a draft."""
    with transaction.atomic():
        locked = _locked_draft(invoice, "delete")
        source = (locked.source_type, locked.source_id)
        locked.delete()
        locked.source_type, locked.source_id = source
        _changed(locked)


_CHANGE_LISTENERS: list[Callable[[Invoice], None]] = []


def on_invoice_change(listener: Callable[[Invoice], None]) -> None:
    """Call `listener(invoice)` inside the transaction of every post, cancellation and draft
    deletion of an invoice (after the change; a deleted draft keeps its `source_type` and
    `source_id` in memory): how an app above finance (sales, purchasing) keeps its documents'
    invoiced quantities in step. Registered from that app's `AppConfig.ready()`. When many
    invoices are posted at once (`invoices_post`), a listener with a `many` attribute is called
    once as `listener.many(invoices)` instead of once per invoice."""
    if listener not in _CHANGE_LISTENERS:
        _CHANGE_LISTENERS.append(listener)


def _changed(invoice: Invoice) -> None:
    for listener in _CHANGE_LISTENERS:
        listener(invoice)


def _changed_many(invoices: list[Invoice]) -> None:
    """`_changed` of each of `invoices`; a listener with a `many` attribute (a callable taking
    the list) is called once with them all instead."""
    for listener in _CHANGE_LISTENERS:
        many = getattr(listener, "many", None)
        if many is not None:
            many(invoices)
        else:
            for invoice in invoices:
                listener(invoice)


_POST_CHECKS: list[Callable[[list[Invoice]], None]] = []


def on_invoice_post_check(listener: Callable[[list[Invoice]], None]) -> None:
    """Call `listener(invoices)` inside `invoices_post` (and so `invoice_post`) with the drafts
    about to be posted (locked, checked, their amounts recomputed in memory), before anything
    is written: a listener refuses the posting by raising ValidationError, which aborts it
    (nothing written, no number consumed). How an app above finance (purchasing: the 3-way
    match) vetoes postings without finance knowing it. Registered from that app's
    `AppConfig.ready()`; a listener may read, and may write rows of its own, which the refusal
    rolls back with the rest."""
    if listener not in _POST_CHECKS:
        _POST_CHECKS.append(listener)


def _post_checks(invoices: list[Invoice]) -> None:
    for listener in _POST_CHECKS:
        listener(invoices)


# --- posting ------------------------------------------------------------------------------------


def _partner_account(invoice: Invoice, settings: FinanceSettings) -> Account:
    """The receivable (customer kinds) or payable account the invoice posts to: the settings'
    account, or for a credit note the one its invoice posted to, so the two can reconcile."""
    account = None
    if invoice.credited_invoice_id and invoice.credited_invoice.entry_id:
        account = (
            Account.unscoped.filter(
                lines__entry_id=invoice.credited_invoice.entry_id, reconcile=True
            )
            .distinct()
            .first()
        )
    if account is None:
        customer = invoice.is_customer
        account = settings.receivable_account if customer else settings.payable_account
        if account is None:
            raise ValidationError(
                _("Set the %(which)s account in the finance settings first.")
                % {"which": _("receivable") if customer else _("payable")},
                code="not_configured",
            )
    if account.company_id != invoice.company_id or not account.reconcile:
        raise ValidationError(
            _("The account %(account)s must be a reconcilable account of the company.")
            % {"account": account},
            code="not_configured",
        )
    return account


def _rate(invoice: Invoice) -> Decimal:
    company = invoice.company
    if invoice.currency_id == company.base_currency_id:
        return Decimal(1)
    if invoice.rate:
        return invoice.rate
    try:
        return rate_on(company=company, currency=invoice.currency_id, date=invoice.date)
    except RateNotFound as exc:
        raise ValidationError(str(exc), code="no_rate") from exc


def _credit_check(invoice: Invoice) -> None:
    """A credit note of an invoice: same party, currency and company, the matching kind, a
    posted invoice, and no more credited in total than invoiced. Locks the credited invoice's
    row, so that concurrent credit notes of one invoice are checked one after the other."""
    if not invoice.credited_invoice_id:
        return
    original = Invoice.unscoped.select_for_update().get(pk=invoice.credited_invoice_id)
    if (
        original.company_id != invoice.company_id
        or original.party_id != invoice.party_id
        or original.currency_id != invoice.currency_id
        or CREDIT_KIND.get(original.kind) != invoice.kind
    ):
        raise ValidationError(
            _("A credit note of %(invoice)s must be of its kind, party and currency.")
            % {"invoice": original},
            code="credit_mismatch",
        )
    if original.state != Invoice.State.POSTED:
        raise ValidationError(
            _("%(invoice)s is not posted (any more); its credit note cannot be posted.")
            % {"invoice": original},
            code="credit_not_posted",
        )
    credited = (
        Invoice.unscoped.filter(credited_invoice=original, state=Invoice.State.POSTED).aggregate(
            total=AmountSum("amount_total")
        )["total"]
        or ZERO
    )
    if credited + invoice.amount_total > original.amount_total:
        raise ValidationError(
            _(
                "Credit notes would credit %(credited)s %(currency)s of %(invoice)s, more than "
                "its total of %(total)s."
            )
            % {
                "credited": credited + invoice.amount_total,
                "currency": invoice.currency_id,
                "invoice": original,
                "total": original.amount_total,
            },
            code="over_credit",
        )


@audited
def invoice_post(*, invoice: Invoice, actor: Any, date: dt.date | None = None) -> Invoice:
    """Post draft `invoice` (on `date` when given, else its own date): recompute its amounts,
    fix its installments from the payment term (none: everything due on the invoice date),
    book its entry in its journal and take the entry's gap-free number. A credit note of an
    invoice is then reconciled with the invoice's open lines.

    Locks the invoice row (and, through the posting service, the journal). Raises
    ValidationError when it is not a draft, has no lines or a total of zero or less, fails a
    check of `invoice_create` (re-run here), or when no rate is known for its currency;
    PostingError from the posting service (closed period …). Nothing is written then and no
    number is consumed."""
    invoices_post(invoices=[invoice], actor=actor, date=date)
    return invoice


@dataclass
class _Posting:
    """What posting one invoice writes, prepared (and checked) before anything is written."""

    inv: Invoice
    before: Invoice
    rows: list[InvoiceLine]
    totals: tax_engine.InvoiceTotals
    schedule: list[Any]
    rate: Decimal
    spec: EntrySpec


@audited
def invoices_post(
    *, invoices: Sequence[Invoice], actor: Any, date: dt.date | None = None
) -> list[Invoice]:
    """`invoice_post` of many drafts of one company at once (on `date` when given, else each
    on its own date), in one transaction: the same invoices, entries (numbered in date order,
    through `entries_post`), installments, audit entries and timeline entries as posting them
    one after the other, with the shared reads done once and the rows written in bulk; the
    `on_invoice_change` listeners are called once per invoice (or once for them all, see
    there). Returns `invoices`, refreshed.

    Locks the invoice rows (in id order) and the journals. Raises ValidationError naming the
    invoice for the first one that `invoice_post` would refuse, or the one an
    `on_invoice_post_check` listener raises, and then writes nothing and consumes no
    number."""
    invoices = list(invoices)
    if not invoices:
        return []
    if len({invoice.pk for invoice in invoices}) != len(invoices):
        raise ValidationError(_("An invoice is given twice."), code="duplicate")
    with service_atomic(), finance_scope():
        locked = {
            row.pk: row
            for row in Invoice.unscoped.select_for_update(of=("self", "company"))
            .select_related("company", "party", "journal", "payment_term")
            .prefetch_related("payment_term__lines")
            .filter(pk__in=[invoice.pk for invoice in invoices])
            .order_by("pk")
        }
        companies = {row.company_id for row in locked.values()}
        if len(companies) > 1:
            raise ValidationError(
                _("Post the invoices of one company at a time."), code="several_companies"
            )
        all_rows: dict[int, list[InvoiceLine]] = {}
        for line in (
            InvoiceLine.objects.filter(invoice_id__in=list(locked))
            .select_related("account", "product", "uom")
            .prefetch_related(
                Prefetch("taxes", queryset=Tax.unscoped.select_related("account")),
                "analytic_tags",
            )
            .order_by("invoice_id", "sequence", "id")
        ):
            all_rows.setdefault(line.invoice_id, []).append(line)
        postings = []
        many = len(invoices) > 1
        for invoice in invoices:
            inv = locked.get(invoice.pk)
            if inv is None:
                raise Invoice.DoesNotExist(f"Invoice {invoice.pk} does not exist.")
            if inv.state != Invoice.State.DRAFT:
                raise ValidationError(
                    _("%(invoice)s is %(state)s; only a draft can be posted.")
                    % {"invoice": inv, "state": inv.get_state_display().lower()},
                    code="not_draft",
                )
            postings.append(_post_prepare(inv, all_rows.get(inv.pk, []), date, many=many))
        credited = [p.inv.credited_invoice_id for p in postings if p.inv.credited_invoice_id]
        if len(credited) != len(set(credited)):
            raise ValidationError(
                _("Post the credit notes of one invoice one at a time."), code="credit_twice"
            )
        _post_checks([posting.inv for posting in postings])
        # Refusals end here (the posting service checks the entries before writing them).
        company = postings[0].inv.company
        entries = entries_post(
            company=company, specs=[posting.spec for posting in postings], actor=actor
        )
        with transaction.atomic(savepoint=False):
            _post_write(postings, entries, actor)
    for invoice, posting in zip(invoices, postings, strict=True):
        refresh_from(invoice, posting.inv)
    return invoices


def _post_prepare(
    inv: Invoice, rows: list[InvoiceLine], date: dt.date | None, *, many: bool = False
) -> _Posting:
    """Check draft `inv` (locked; `rows` its lines) for posting and prepare what it writes;
    raises ValidationError (naming the invoice when `many` are posted) and writes nothing."""
    before = copy.copy(inv)
    company = inv.company
    if date is not None:
        inv.date = date
    errors: Errors = {}
    _header_check(inv, errors, strict=False)
    _raise_for(inv, errors, many=many)
    settings = settings_with(
        company, "receivable_account" if inv.is_customer else "payable_account"
    )
    if not rows:
        message = _("Add at least one line before posting.")
        if many:
            message = _("%(invoice)s: %(error)s") % {"invoice": inv, "error": message}
        raise ValidationError(message, code="no_lines")
    data = [_LineData.of(row) for row in rows]
    _lines_check(company, inv.kind, data, errors, strict=False)
    _raise_for(inv, errors, many=many)
    totals = _totals(inv, data, settings)
    if totals.total <= 0:
        raise ValidationError(
            _("The total of %(invoice)s is %(total)s %(currency)s; only a positive total "
              "can be posted (make a credit note instead of a negative invoice).")
            % {"invoice": inv, "total": totals.total, "currency": inv.currency_id},
            code="zero_total",
        )  # fmt: skip
    _header_totals(inv, totals)
    _credit_check(inv)
    partner = _partner_account(inv, settings)
    rate = _rate(inv)
    line_rate = None if inv.currency_id == company.base_currency_id else rate
    schedule = [
        item
        for item in payment_schedule(
            term=inv.payment_term,
            invoice_date=inv.date,
            total=Money(totals.total, inv.currency_id),
        )
        if item.amount.amount
    ]
    direction = _direction(inv.kind)
    currency = inv.currency_id
    party = inv.party
    specs: list[LineSpec] = []
    for item in schedule:
        label = party.name
        if len(schedule) > 1:
            label = f"{party.name} ({item.sequence}/{len(schedule)})"
        specs.append(
            LineSpec(
                account=partner,
                currency=currency,
                rate=line_rate,
                label=label,
                party=party,
                due_date=item.due_date,
                **_sides(direction * item.amount.amount),
            )
        )
    for row, line, result in zip(rows, data, totals.lines, strict=True):
        if result.net:
            specs.append(
                LineSpec(
                    account=row.account,
                    currency=currency,
                    rate=line_rate,
                    label=row.description,
                    party=party,
                    product=row.product,
                    analytic_tags=tuple(line.analytic_tags),
                    **_sides(-direction * result.net),
                )
            )
    tax_rows = {tax.pk: tax for line in data for tax in line.taxes}
    for item in totals.taxes:
        if item.amount:
            tax = tax_rows[item.key]
            specs.append(
                LineSpec(
                    account=tax.account,
                    currency=currency,
                    rate=line_rate,
                    label=tax.name,
                    party=party,
                    tax=tax,
                    **_sides(-direction * item.amount),
                )
            )
    spec = EntrySpec(
        journal=inv.journal,
        date=inv.date,
        lines=specs,
        ref=inv.reference or inv.origin,
        source_type="finance.invoice",
        source_id=inv.pk,
    )
    return _Posting(inv, before, rows, totals, schedule, rate, spec)


def _raise_for(invoice: Invoice, errors: Errors, *, many: bool) -> None:
    """`_raise`, the messages naming `invoice` when `many` (which of many is refused)."""
    if not many:
        _raise(errors)
    elif errors:
        raise ValidationError(
            {
                key: [
                    _("%(invoice)s: %(error)s") % {"invoice": invoice, "error": message}
                    for message in messages
                ]
                for key, messages in errors.items()
            }
        )


def _post_write(postings: list[_Posting], entries: list[Any], actor: Any) -> None:
    """The writes of posting the prepared invoices, whose entries are `entries`, in bulk."""
    _amounts_refresh_many([(posting.inv, posting.totals, posting.rows) for posting in postings])
    Installment.objects.bulk_create(
        Installment(
            invoice=posting.inv,
            sequence=item.sequence,
            due_date=item.due_date,
            amount=item.amount.amount,
            discount=item.discount.amount,
            discount_date=item.discount_date,
        )
        for posting in postings
        for item in posting.schedule
    )  # a draft has none: they are fixed here
    for posting, entry in zip(postings, entries, strict=True):
        inv = posting.inv
        inv.number = entry.number
        inv.entry = entry
        inv.rate = posting.rate
        inv.due_date = posting.schedule[-1].due_date if posting.schedule else inv.date
        inv.state = Invoice.State.POSTED
        inv.amount_residual = posting.totals.total
        inv.payment_state = Invoice.PaymentState.NOT_PAID
    rows_update([(posting.before, posting.inv) for posting in postings], actor=actor)
    for posting in postings:
        inv = posting.inv
        if inv.credited_invoice_id:
            _credit_reconcile(inv, actor)
        _timeline(
            inv,
            actor,
            _("%(kind)s %(number)s posted: %(total)s %(currency)s")
            % {
                "kind": _kind_label(inv.kind),
                "number": inv.number,
                "total": _amount_text(inv.amount_total, inv.currency_id),
                "currency": inv.currency_id,
            },
        )
    _changed_many([posting.inv for posting in postings])


def _credit_reconcile(credit: Invoice, actor: Any) -> None:
    """Reconcile the receivable/payable lines of posted credit note `credit` with the open lines
    of the invoice it credits."""
    original = Invoice.unscoped.select_for_update().get(pk=credit.credited_invoice_id)
    if original.state != Invoice.State.POSTED or not original.entry_id:
        return
    own = list(Line.unscoped.filter(entry_id=credit.entry_id, account__reconcile=True))
    if not own:
        return
    theirs = Line.unscoped.filter(
        entry_id=original.entry_id,
        account_id=own[0].account_id,
        party_id=own[0].party_id,
        currency_id=own[0].currency_id,
    )
    lines_match(lines=[*theirs, *own], actor=actor)


def _timeline(invoice: Invoice, actor: Any, summary: str) -> None:
    timeline_add(
        party=invoice.party,
        kind="invoice",
        summary=summary,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        source=invoice,
    )


# --- cancelling and crediting -------------------------------------------------------------------


@audited
def invoice_cancel(*, invoice: Invoice, actor: Any, date: dt.date | None = None) -> Invoice:
    """Cancel `invoice`. A draft is cancelled directly. A posted one is cancelled by posting the
    reversal of its entry (on `date`, by default its own date, or today when that period is
    closed), which reconciles its receivable/payable lines with their mirror; refused while a
    payment or credit note is allocated to it. Locks the invoice row. Raises ValidationError
    (or PostingError from the reversal) and then changes nothing."""
    with transaction.atomic():
        inv = Invoice.unscoped.select_for_update().select_related("company").get(pk=invoice.pk)
        if inv.state == Invoice.State.CANCELLED:
            raise ValidationError(
                _("%(invoice)s is already cancelled.") % {"invoice": inv}, code="cancelled"
            )
        if inv.state == Invoice.State.POSTED:
            lines = Line.unscoped.filter(entry_id=inv.entry_id, account__reconcile=True)
            if Match.unscoped.filter(Q(debit_line__in=lines) | Q(credit_line__in=lines)).exists():
                raise ValidationError(
                    _(
                        "%(invoice)s is reconciled with a payment or a credit note; undo the "
                        "payment allocation first."
                    )
                    % {"invoice": inv},
                    code="reconciled",
                )
            entry_reverse(entry=inv.entry, actor=actor, date=date)
            summary = _("%(kind)s %(number)s cancelled") % {
                "kind": _kind_label(inv.kind),
                "number": inv.number,
            }
        else:
            summary = ""
        # Nothing is due on a cancelled invoice (the reversal's reconciliation marked it paid).
        inv.state = Invoice.State.CANCELLED
        inv.amount_residual = ZERO
        inv.payment_state = Invoice.PaymentState.NOT_PAID
        inv.save(update_fields=["state", "amount_residual", "payment_state"])
        if summary:
            _timeline(inv, actor, summary)
        _changed(inv)
    invoice.refresh_from_db()
    return invoice


@audited
def invoice_credit(
    *,
    invoice: Invoice,
    actor: Any,
    date: dt.date | None = None,
    lines: Sequence[Mapping[str, Any]] | None = None,
    post: bool = False,
) -> Invoice:
    """A credit note (customer credit note of a customer invoice, supplier credit note of a
    supplier invoice) of posted `invoice`, dated `date` (default: today), in the invoice's
    journal, party and currency: of the whole invoice, or of `lines`, dicts of `line` (an
    InvoiceLine of the invoice, or its pk), optional `quantity` (default: the line's; more than
    0 and at most the line's) and optional `unit_price`. The lines keep their account, product,
    taxes, discount, unit and analytic tags; `credited_invoice` is set and `origin` is the
    invoice's number. With `post`, the credit note is posted as well, which reconciles it with
    the invoice's open lines. Posting refuses to credit more than the invoice's total.
    Raises ValidationError; nothing is written then."""
    original = Invoice.unscoped.select_related("company", "party").get(pk=invoice.pk)
    if original.kind not in CREDIT_KIND:
        raise ValidationError(
            _("%(invoice)s is a credit note; only invoices are credited.") % {"invoice": original},
            code="not_creditable",
        )
    if original.state != Invoice.State.POSTED:
        raise ValidationError(
            _("%(invoice)s is not posted; only a posted invoice is credited.")
            % {"invoice": original},
            code="not_posted",
        )
    rows = {
        row.pk: row
        for row in original.lines.select_related("account", "product", "uom")
        .prefetch_related("taxes", "analytic_tags")
        .order_by("sequence", "id")
    }
    errors: Errors = {}
    picked: list[tuple[InvoiceLine, Decimal, Decimal]] = []
    if lines is None:
        picked = [(row, row.quantity, row.unit_price) for row in rows.values()]
    else:
        for number, item in enumerate(lines, start=1):
            raw = item.get("line") if isinstance(item, Mapping) else None
            row = rows.get(getattr(raw, "pk", raw))  # type: ignore[arg-type]
            if row is None:
                _add(
                    errors,
                    "lines",
                    _("Line %(n)s: choose a line of %(invoice)s.")
                    % {"n": number, "invoice": original},
                )
                continue
            problems = []
            quantity, problem = _number_of(
                item.get("quantity", abs(row.quantity)),
                _("Quantity"),
                places=6,
                limit=Decimal(10) ** 12,
            )
            if problem:
                problems.append(problem)
            elif quantity is not None and not 0 < quantity <= abs(row.quantity):
                problems.append(
                    _("the quantity must be more than 0 and at most %(max)s.")
                    % {"max": _quantity_text(abs(row.quantity))}
                )
            unit_price, problem = _number_of(
                item.get("unit_price", row.unit_price),
                _("Unit price"),
                places=6,
                limit=Decimal(10) ** 12,
            )
            if problem:
                problems.append(problem)
            if problems:
                _add(
                    errors,
                    "lines",
                    _("Line %(n)s: %(problems)s") % {"n": number, "problems": " ".join(problems)},
                )
                continue
            assert quantity is not None and unit_price is not None
            picked.append((row, quantity if row.quantity >= 0 else -quantity, unit_price))
    if not picked and "lines" not in errors:
        _add(errors, "lines", _("Choose at least one line to credit."))
    _raise(errors)
    data = [
        _LineData(
            description=row.description,
            account=row.account,
            quantity=quantity,
            unit_price=unit_price,
            discount=row.discount,
            product=row.product,
            taxes=list(row.taxes.all()),
            uom=row.uom,
            analytic_tags=list(row.analytic_tags.all()),
        )
        for row, quantity, unit_price in picked
    ]
    credit = Invoice(
        company=original.company,
        kind=CREDIT_KIND[original.kind],
        credited_invoice=original,
        payment_state=Invoice.PaymentState.NOT_PAID,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    fields = {
        "party": original.party,
        "date": date or timezone.localdate(),
        "currency": original.currency_id,
        "journal": original.journal,
        "reference": original.reference,
        "origin": original.number,
        "source_type": original.source_type,
        "source_id": original.source_id,
        "notes": "",
        "language": original.language,
    }
    with transaction.atomic():
        _draft_save(credit, fields=fields, data=data, strict=False)
        if post:
            invoice_post(invoice=credit, actor=actor)
    return credit


# --- reads --------------------------------------------------------------------------------------


def invoice_list(
    *,
    company: Company,
    kind: str | Iterable[str] | None = None,
    state: str | None = None,
    party: Party | int | None = None,
) -> QuerySet[Invoice]:
    """The company's invoices and credit notes, newest first, optionally of a kind (or kinds),
    a state and a party."""
    queryset = Invoice.unscoped.filter(company=company).select_related(
        "party", "journal", "currency", "payment_term"
    )
    if kind is not None:
        queryset = queryset.filter(kind__in=[kind] if isinstance(kind, str) else list(kind))
    if state is not None:
        queryset = queryset.filter(state=state)
    if party is not None:
        queryset = queryset.filter(party=party)
    return queryset


def invoice_detail(*, company: Company, pk: int) -> Invoice:
    """One invoice with its lines, taxes and installments; raises Invoice.DoesNotExist (also for
    another company's invoice)."""
    return (
        invoice_list(company=company)
        .select_related("entry", "credited_invoice", "company")
        .prefetch_related(
            "lines__taxes",
            "lines__product",
            "lines__account",
            "lines__uom",
            "lines__analytic_tags",
            "tax_lines__tax",
            "installments",
        )
        .get(pk=pk)
    )


# --- PDF ----------------------------------------------------------------------------------------


def _amount_text(amount: Decimal, currency: str) -> str:
    places = minor_units(currency)
    value = Decimal(amount).quantize(Decimal(1).scaleb(-places))
    return f"{value:,.{places}f}"


def _quantity_text(quantity: Decimal) -> str:
    text = f"{Decimal(quantity).normalize():f}"
    return "0" if text in ("-0", "") else text


def _price_text(price: Decimal, currency: str) -> str:
    """A unit price with at least the currency's decimals and no useless trailing zeros."""
    places = minor_units(currency)
    exact = Decimal(price).normalize()
    exponent = exact.as_tuple().exponent
    places = max(places, -exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return f"{Decimal(price):,.{places}f}"


def invoice_pdf(*, invoice: Invoice) -> bytes:
    """The invoice or credit note as a PDF (`finance/pdf/invoice.html`), in the invoice's
    language (else the party's)."""
    from xietong.core.pdf import pdf_render
    from xietong.party.selectors import address_text, default_address

    inv = invoice_detail(company=invoice.company, pk=invoice.pk)
    currency = inv.currency_id
    address = default_address(party=inv.party)
    lines = [
        {
            "description": row.description,
            "sku": row.product.sku if row.product_id else "",
            "quantity": _quantity_text(row.quantity),
            "uom": row.uom.code if row.uom_id else "",
            "unit_price": _price_text(row.unit_price, currency),
            "discount": _quantity_text(row.discount) if row.discount else "",
            "taxes": ", ".join(tax.name for tax in row.taxes.all()),
            "amount": _amount_text(row.amount_untaxed, currency),
        }
        for row in inv.lines.all()
    ]
    tax_lines = [
        {
            "name": item.tax.name,
            "base": _amount_text(item.base, currency),
            "amount": _amount_text(item.amount, currency),
        }
        for item in inv.tax_lines.all()
    ]
    installments = [
        {"due_date": item.due_date, "amount": _amount_text(item.amount, currency)}
        for item in inv.installments.all()
    ]
    posted = inv.state == Invoice.State.POSTED
    context = {
        "company": inv.company,
        "invoice": inv,
        "party": inv.party,
        "address": address_text(address) if address else "",
        "lines": lines,
        "tax_lines": tax_lines,
        "installments": installments,
        "amount_untaxed": _amount_text(inv.amount_untaxed, currency),
        "amount_tax": _amount_text(inv.amount_tax, currency),
        "amount_total": _amount_text(inv.amount_total, currency),
        "amount_due": _amount_text(inv.amount_residual if posted else inv.amount_total, currency),
        "posted": posted,
        "payment_reference": inv.number if posted else "",
    }
    language = inv.language or inv.party.language or None
    return pdf_render(template="finance/pdf/invoice.html", context=context, language=language)
