"""Quotations and sales orders: create, price, revise, approve, send, accept, confirm (credit
check, ATP promise, reservation through the delivery pickings) and cancel.

States. A quotation is `draft` until it is sent; a discount above the customer group's limit
(the company's when the customer has no group) needs approval first: `quotation_submit` starts
the "quotation_approval" process and the quotation waits in `to_approve`; the process's outcome
(`workflow.instance.ended`) makes it `approved` or returns it to `draft` with the approver's
comment. `quotation_send` e-mails the PDF and marks it `sent`; a sent quotation is changed only
by `quotation_revise`, which makes the next version (the old one turns `revised`).
`quotation_accept` makes a sales order (`draft`) and confirms it unless told not to.

`order_confirm` checks the customer's credit: open receivables + open orders + this order
above the credit limit holds the order (`held`) and starts the "credit_override" process, whose
approval confirms it. Confirming promises a date per line (ATP, `xietong.sales.atp`), creates the
delivery pickings along the warehouse's route (each move tagged with its order line) and
confirms them, which reserves what is in stock; `orders_confirm` confirms many orders (selected
in a list) as one by one, with the statements shared. `order_cancel` releases reservations (the
pickings are cancelled) and cancels draft invoices; it refuses once goods have left (use a
return) or when a posted invoice remains (cancel or credit it first).

Every step writes to the customer's timeline; each service locks its document row."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core import bulkwrite
from xietong.core.audit import audit_bulk, audited
from xietong.core.models import Company
from xietong.core.selectors import rate_on
from xietong.finance.models import Invoice
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Move, Picking, Reservation, Warehouse
from xietong.party.models import Address, Contact, Party
from xietong.product.models import PriceList, Product
from xietong.product.selectors import product_convert
from xietong.sales import atp
from xietong.sales.common import (
    ZERO,
    LineData,
    SalesError,
    effective_discount,
    lines_clean,
    number_next,
    numbers_next,
    refusal,
    sales_settings,
    timeline,
)
from xietong.sales.events import OrderConfirmed, publish
from xietong.sales.models import (
    InvoicePolicy,
    Quotation,
    QuotationLine,
    SalesOrder,
    SalesOrderLine,
    SalesSettings,
)
from xietong.sales.policies import lines_policy_set, order_policy, policy_fields
from xietong.workflow.services import process_start

QState = Quotation.State
OState = SalesOrder.State
LINE_SOURCE = "sales.orderline"
ORDER_SOURCE = "sales.order"


# --- header ---------------------------------------------------------------------------------


def _customer_check(company: Company, party: Any) -> None:
    """Refuse anything but an active customer of `company` (before anything is read)."""
    if not isinstance(party, Party) or party.company_id != company.pk:
        raise refusal(_("Choose a customer of this company."), "party", "party")
    if not party.is_customer or not party.active:
        raise refusal(
            _("%(party)s is not an active customer.") % {"party": party.name}, "party", "party"
        )


def _header(
    company: Company,
    party: Any,
    fields: Mapping[str, Any],
    *,
    today: dt.date,
    settings: SalesSettings | None = None,
) -> dict[str, Any]:
    """Check the header fields shared by quotations and orders; returns the clean values.
    `settings`: the company's sales settings, when the caller read them already."""
    errors: dict[str, list[str]] = {}
    _customer_check(company, party)
    if settings is None:
        settings = sales_settings(company)
    warehouse = fields.get("warehouse") or settings.warehouse
    if warehouse is None:
        errors["warehouse"] = [_("Set up a warehouse to ship from first.")]
    elif not isinstance(warehouse, Warehouse) or warehouse.company_id != company.pk:
        errors["warehouse"] = [_("Choose a warehouse of this company.")]
    price_list = fields.get("price_list") or party.price_list
    if price_list is not None and (
        not isinstance(price_list, PriceList) or price_list.company_id != company.pk
    ):
        errors["price_list"] = [_("Choose a price list of this company.")]
    currency = (
        fields.get("currency")
        or (price_list.currency_id if price_list is not None else None)
        or party.currency_id
        or company.base_currency_id
    )
    currency = getattr(currency, "code", currency)
    for name, model in (("shipping_address", Address), ("contact", Contact)):
        value = fields.get(name)
        if value is not None and (not isinstance(value, model) or value.party_id != party.pk):
            errors[name] = [_("Choose one of the customer's own.")]
    date = fields.get("date") or today
    if not isinstance(date, dt.date):
        errors["date"] = [_("Give a date.")]
    if errors:
        raise SalesError(errors)
    shipping = fields.get("shipping_address") or (
        Address.unscoped.filter(party=party, active=True, kind=Address.Kind.SHIPPING)
        .order_by("-is_default", "pk")
        .first()
    )
    return {
        "party": party,
        "warehouse": warehouse,
        "price_list": price_list,
        "currency_id": currency,
        "date": date,
        "contact": fields.get("contact"),
        "shipping_address": shipping,
        "payment_term": fields.get("payment_term") or party.payment_term,
        "salesperson": fields.get("salesperson"),
        "customer_reference": str(fields.get("customer_reference") or "")[:80],
        "notes": str(fields.get("notes") or ""),
        "language": party.language,
        "coupon_code": str(fields.get("coupon_code") or "").strip().upper()[:40],
    }


HEADER_FIELDS = {
    "date", "warehouse", "price_list", "currency", "shipping_address", "contact",
    "payment_term", "salesperson", "customer_reference", "notes", "coupon_code",
}  # fmt: skip


def _unknown(fields: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise refusal(
            _("Unknown fields: %(fields)s.") % {"fields": ", ".join(sorted(unknown))}, "fields"
        )


def _write_lines(document: Any, model: Any, link: str, lines: list[LineData]) -> None:
    _write_lines_many(model, link, [(document, lines)])


def _write_lines_many(
    model: Any, link: str, documents: Sequence[tuple[Any, list[LineData]]]
) -> None:
    """Insert the lines of saved documents, and their taxes, with one statement each."""
    pairs = [(document, n, line) for document, lines in documents
             for n, line in enumerate(lines, start=1)]  # fmt: skip
    lines = [line for _document, _n, line in pairs]
    rows = model.objects.bulk_create(
        model(
            **{link: document},
            sequence=n,
            # keys, not records: no per-line checks of saved related objects
            product_id=line.product.pk,
            configured_item_id=line.configured_item.pk if line.configured_item else None,
            description=line.description,
            quantity=line.quantity,
            uom_id=line.uom.pk,
            list_price=line.list_price,
            unit_price=line.unit_price,
            discount=line.discount,
            amount_untaxed=line.net,
            amount_tax=line.tax,
            amount_total=line.total,
            promise_date=line.extra.get("promise_date"),
            promise_note=line.extra.get("promise_note", "")[:200],
            **policy_fields(line),
        )
        for document, n, line in pairs
    )
    through = model.taxes.through
    fk = f"{model._meta.model_name}_id"
    through.objects.bulk_create(
        through(**{fk: row.pk, "tax_id": tax.pk})
        for row, line in zip(rows, lines, strict=True)
        for tax in line.taxes
    )


def _totals(document: Any, lines: list[LineData]) -> None:
    document.amount_untaxed = sum((line.net for line in lines), ZERO)
    document.amount_tax = sum((line.tax for line in lines), ZERO)
    document.amount_total = sum((line.total for line in lines), ZERO)


def _promises(company: Company, warehouse: Warehouse, lines: Sequence[Any], wanted: dt.date,
              **options: Any) -> list[atp.Promise]:  # fmt: skip
    """The ATP promise of each of `lines` (anything with product, quantity and uom), in their
    order; `options` go to `atp.promise_dates`."""
    requests = [
        atp.AtpRequest(
            product=line.product,
            quantity=product_convert(
                product=line.product,
                quantity=line.quantity,
                from_uom=line.uom,
                to_uom=line.product.uom,
            ),
            wanted=wanted,
            key=n,
        )
        for n, line in enumerate(lines)
    ]
    return atp.promise_dates(company=company, warehouse=warehouse, requests=requests, **options)


def _promise(company: Company, warehouse: Warehouse, lines: list[LineData],
             wanted: dt.date) -> None:  # fmt: skip
    for answer in _promises(company, warehouse, lines, wanted):
        lines[answer.key].extra["promise_date"] = answer.date
        lines[answer.key].extra["promise_note"] = answer.note


LINES_BATCH = 1000  # order lines per UPDATE of `lines_update`


def lines_update(lines: Sequence[SalesOrderLine], fields: Sequence[str]) -> None:
    """Write `fields` of order lines as `bulk_update` would, in one UPDATE per `LINES_BATCH`
    lines from a VALUES list (`core.bulkwrite.rows_update`: `bulk_update` builds a CASE per
    line and field, which costs more than the statement for large orders). Sends no signals."""
    columns = [SalesOrderLine._meta.get_field(name) for name in fields]
    bulkwrite.rows_update(
        SalesOrderLine,
        list(fields),
        [(line.pk, *(getattr(line, c.attname) for c in columns)) for line in lines],
        batch=LINES_BATCH,
    )


def _as_data(rows: Sequence[Any]) -> list[LineData]:
    return [
        LineData(
            product=row.product,
            quantity=row.quantity,
            uom=row.uom,
            unit_price=row.unit_price,
            list_price=row.list_price,
            discount=row.discount,
            taxes=list(row.taxes.all()),
            description=row.description,
            configured_item=row.configured_item,
            net=row.amount_untaxed,
            tax=row.amount_tax,
            total=row.amount_total,
        )
        for row in rows
    ]


def _lines_of(document: Any) -> list[Any]:
    return list(
        document.lines.select_related("product__uom", "uom", "configured_item").prefetch_related(
            "taxes"
        )
    )


# --- quotations -----------------------------------------------------------------------------


@audited
def quotation_create(
    *,
    company: Company,
    actor: Any,
    party: Party,
    lines: Sequence[Mapping[str, Any]],
    valid_until: dt.date | None = None,
    **fields: Any,
) -> Quotation:
    """A draft quotation for `party` with `lines` (see `common.lines_clean`), priced from the
    customer's price list, with an ATP promise per line. Header `fields`: date (today),
    warehouse (the settings'), price_list and payment_term (the customer's), currency (the
    price list's), shipping_address, contact, salesperson, customer_reference, notes. Raises
    SalesError (nothing written) for anything wrong, per field."""
    _unknown(fields, HEADER_FIELDS)
    _customer_check(company, party)
    settings = sales_settings(company)
    header = _header(company, party, fields, today=timezone.localdate(), settings=settings)
    valid_until = valid_until or header["date"] + dt.timedelta(
        days=settings.quotation_validity_days
    )
    if valid_until < header["date"]:
        raise refusal(_("A quotation is valid from its date on."), "valid_until", "valid_until")
    data = lines_clean(company=company, party=party, currency=header["currency_id"],
                       date=header["date"], price_list=header["price_list"], lines=lines,
                       settings=settings, coupon=header["coupon_code"])  # fmt: skip
    _promise(company, header["warehouse"], data, header["date"])
    with transaction.atomic():
        quotation = Quotation(company=company, valid_until=valid_until, **header)
        quotation.number = number_next(company, "sales.quotation", quotation.date)
        quotation.max_discount = max((effective_discount(line) for line in data), default=ZERO)
        if quotation.salesperson is None and getattr(actor, "pk", None):
            quotation.salesperson = actor
        _totals(quotation, data)
        quotation.save()
        _write_lines(quotation, QuotationLine, "quotation", data)
        timeline(party, "quotation", _("Quotation %(number)s, %(total)s %(currency)s")
                 % {"number": quotation.number, "total": quotation.amount_total,
                    "currency": quotation.currency_id}, actor=actor, source=quotation)  # fmt: skip
    return quotation


def _locked_quotation(quotation: Quotation, *states: str) -> Quotation:
    row = (
        Quotation.unscoped.select_for_update()
        .select_related("party", "warehouse")
        .get(pk=quotation.pk)
    )
    if states and row.state not in states:
        raise refusal(
            _("%(quotation)s is %(state)s; this is not possible now.")
            % {"quotation": row, "state": row.get_state_display()},
            "state",
        )
    return row


@audited
def quotation_update(
    *,
    quotation: Quotation,
    actor: Any,
    lines: Sequence[Mapping[str, Any]] | None = None,
    valid_until: dt.date | None = None,
    **fields: Any,
) -> Quotation:
    """Change a draft (or approved, which then needs approval again if its discount still does)
    quotation: header fields as for `quotation_create`, and `lines` replacing all lines. A sent
    quotation is changed through `quotation_revise`."""
    _unknown(fields, HEADER_FIELDS)
    with transaction.atomic():
        row = _locked_quotation(quotation, QState.DRAFT, QState.APPROVED)
        current = {name: getattr(row, name) for name in HEADER_FIELDS if name != "currency"}
        _customer_check(row.company, row.party)
        settings = sales_settings(row.company)
        header = _header(row.company, row.party, {**current, **fields}, today=row.date,
                         settings=settings)  # fmt: skip
        if lines is None:
            data = _as_data(_lines_of(row))
        else:
            data = lines_clean(company=row.company, party=row.party,
                               currency=header["currency_id"], date=header["date"],
                               price_list=header["price_list"], lines=lines,
                               settings=settings, coupon=header["coupon_code"])  # fmt: skip
        _promise(row.company, header["warehouse"], data, header["date"])
        for name, value in header.items():
            setattr(row, name, value)
        if valid_until is not None:
            if valid_until < row.date:
                raise refusal(_("A quotation is valid from its date on."), "valid_until",
                              "valid_until")  # fmt: skip
            row.valid_until = valid_until
        row.max_discount = max((effective_discount(line) for line in data), default=ZERO)
        row.state, row.approval = QState.DRAFT, Quotation.Approval.NOT_NEEDED
        _totals(row, data)
        row.save()
        row.lines.all().delete()
        _write_lines(row, QuotationLine, "quotation", data)
    return row


def discount_limit(quotation: Quotation) -> Decimal:
    """The largest discount (percent) the quotation's customer gets without approval."""
    group = quotation.party.customer_group
    if group is not None and group.max_discount_percent is not None:
        return group.max_discount_percent
    return sales_settings(quotation.company).max_discount_percent


def needs_approval(quotation: Quotation) -> bool:
    return quotation.max_discount > discount_limit(quotation)


@audited
def quotation_submit(*, quotation: Quotation, actor: Any) -> Quotation:
    """Ask for approval when the quotation's discount is above the customer's limit (starts
    the "quotation_approval" process: `to_approve`), else mark it `approved` at once."""
    with transaction.atomic():
        row = _locked_quotation(quotation, QState.DRAFT)
        if not needs_approval(row):
            row.state = QState.APPROVED
            row.save(update_fields=["state"])
            return row
        group = row.party.customer_group
        instance = process_start(
            company=row.company,
            actor=actor if getattr(actor, "pk", None) else None,
            key="quotation_approval",
            record=row,
            data={
                "customer_group": group.code if group else "",
                "discount_percent": float(row.max_discount),
                "amount": float(row.amount_untaxed),
                "quotation": str(row),
                "customer": row.party.name,
                "limit_percent": float(discount_limit(row)),
            },
        )
        row.approval_process = instance
        row.approval = Quotation.Approval.PENDING
        row.state = QState.TO_APPROVE
        row.save(update_fields=["approval_process", "approval", "state"])
        timeline(row.party, "quotation", _("Quotation %(number)s sent for discount approval "
                 "(%(discount)s %%)") % {"number": row, "discount": row.max_discount},
                 actor=actor, source=row)  # fmt: skip
    return row


def approval_decided(*, quotation_id: int, approved: bool, comment: str = "") -> None:
    """Apply the outcome of a quotation's approval process (called from the workflow event)."""
    with transaction.atomic():
        try:
            row = (
                Quotation.unscoped.select_for_update().select_related("party").get(pk=quotation_id)
            )
        except Quotation.DoesNotExist:
            return
        if row.state != QState.TO_APPROVE:
            return
        row.approval = Quotation.Approval.APPROVED if approved else Quotation.Approval.REJECTED
        row.approval_comment = comment
        row.state = QState.APPROVED if approved else QState.DRAFT
        row.save(update_fields=["approval", "approval_comment", "state"])
        summary = (
            _("Discount on %(number)s approved") if approved
            else _("Discount on %(number)s rejected: %(comment)s")
        ) % {"number": row, "comment": comment}  # fmt: skip
        timeline(row.party, "quotation", summary, actor=None, source=row)


@audited
def quotation_mark_sent(*, quotation: Quotation, actor: Any) -> Quotation:
    """Mark the quotation sent (the e-mail and PDF are `sending.quotation_send`'s job). A
    quotation needing approval must have it first; one that needs none is approved on the way."""
    with transaction.atomic():
        row = _locked_quotation(quotation, QState.DRAFT, QState.APPROVED, QState.SENT)
        if row.state == QState.DRAFT:
            if needs_approval(row):
                if row.approval == Quotation.Approval.REJECTED:
                    raise refusal(_("The discount was rejected: %(comment)s") %
                                  {"comment": row.approval_comment or "—"}, "rejected")  # fmt: skip
                raise refusal(
                    _("The discount of %(discount)s %% is above the customer's limit of "
                      "%(limit)s %%: submit it for approval first.")
                    % {"discount": row.max_discount, "limit": discount_limit(row)},
                    "needs_approval",
                )  # fmt: skip
            row.state = QState.APPROVED
        row.state = QState.SENT
        row.sent_at = timezone.now()
        row.save(update_fields=["state", "sent_at"])
        timeline(row.party, "quotation", _("Quotation %(number)s sent") % {"number": row},
                 actor=actor, source=row)  # fmt: skip
    return row


@audited
def quotation_revise(*, quotation: Quotation, actor: Any) -> Quotation:
    """A new draft version of a sent, approved or declined quotation (same number, next
    version, same lines); the revised one keeps its content and turns `revised`."""
    with transaction.atomic():
        row = _locked_quotation(quotation, QState.SENT, QState.APPROVED, QState.LOST,
                                QState.TO_APPROVE)  # fmt: skip
        lines = _lines_of(row)
        row.state = QState.REVISED
        row.save(update_fields=["state"])
        new = Quotation.unscoped.get(pk=row.pk)
        new.pk = new.id = None
        new.version = row.version + 1
        new.previous = row
        new.state = QState.DRAFT
        new.approval = Quotation.Approval.NOT_NEEDED
        new.approval_process = None
        new.approval_comment = ""
        new.sent_at = None
        new.lost_reason = ""
        new.date = max(timezone.localdate(), row.date)
        new._state.adding = True
        new.save()
        _write_lines(new, QuotationLine, "quotation", _as_data(lines))
        timeline(row.party, "quotation", _("Quotation %(number)s revised (version %(version)s)")
                 % {"number": row.number, "version": new.version}, actor=actor,
                 source=new)  # fmt: skip
    return new


@audited
def quotation_lost(*, quotation: Quotation, actor: Any, reason: str) -> Quotation:
    """The customer declined the quotation (`reason` required)."""
    if not (reason or "").strip():
        raise refusal(_("Say why the customer declined."), "reason", "reason")
    with transaction.atomic():
        row = _locked_quotation(quotation, QState.DRAFT, QState.APPROVED, QState.SENT,
                                QState.TO_APPROVE)  # fmt: skip
        row.state, row.lost_reason = QState.LOST, reason.strip()[:200]
        row.save(update_fields=["state", "lost_reason"])
        timeline(row.party, "quotation", _("Quotation %(number)s declined: %(reason)s")
                 % {"number": row, "reason": row.lost_reason}, actor=actor,
                 source=row)  # fmt: skip
    return row


@audited
def quotation_cancel(*, quotation: Quotation, actor: Any) -> Quotation:
    with transaction.atomic():
        row = _locked_quotation(quotation, QState.DRAFT, QState.APPROVED, QState.SENT,
                                QState.TO_APPROVE)  # fmt: skip
        row.state = QState.CANCELLED
        row.save(update_fields=["state"])
    return row


@audited
def quotation_accept(
    *, quotation: Quotation, actor: Any, confirm: bool = True, **fields: Any
) -> SalesOrder:
    """The customer accepted: make a sales order from the quotation (its lines, prices and
    terms), and confirm it unless `confirm` is False. An expired quotation is refused (revise
    it). `fields`: requested_date, customer_reference."""
    _unknown(fields, {"requested_date", "customer_reference"})
    with transaction.atomic():
        row = _locked_quotation(quotation, QState.SENT, QState.APPROVED)
        if (
            row.state == QState.APPROVED
            and needs_approval(row)
            and (row.approval != Quotation.Approval.APPROVED)
        ):
            raise refusal(_("The discount is not approved yet."), "needs_approval")
        today = timezone.localdate()
        if row.valid_until < today:
            raise refusal(_("%(quotation)s expired on %(date)s: revise it.")
                          % {"quotation": row, "date": row.valid_until}, "expired")  # fmt: skip
        settings = sales_settings(row.company)
        order = SalesOrder(
            company=row.company,
            number=number_next(row.company, "sales.order", today),
            quotation=row,
            invoice_policy=order_policy(party=row.party, settings=settings),
            date=today,
            requested_date=fields.get("requested_date"),
            **{
                name: getattr(row, name)
                for name in (
                    "party",
                    "contact",
                    "shipping_address",
                    "currency_id",
                    "price_list",
                    "payment_term",
                    "warehouse",
                    "salesperson",
                    "notes",
                    "language",
                    "coupon_code",
                    "amount_untaxed",
                    "amount_tax",
                    "amount_total",
                )
            },  # fmt: skip
            customer_reference=fields.get("customer_reference") or row.customer_reference,
        )
        order.save()
        data = _as_data(_lines_of(row))
        lines_policy_set(data, party=row.party, settings=settings)
        _write_lines(order, SalesOrderLine, "order", data)
        row.state = QState.ACCEPTED
        row.save(update_fields=["state"])
        timeline(row.party, "order", _("Quotation %(quotation)s accepted: order %(order)s")
                 % {"quotation": row, "order": order.number}, actor=actor,
                 source=order)  # fmt: skip
    return order_confirm(order=order, actor=actor) if confirm else order


# --- orders ---------------------------------------------------------------------------------


@audited
def order_create(
    *,
    company: Company,
    actor: Any,
    party: Party,
    lines: Sequence[Mapping[str, Any]],
    invoice_policy: str | None = None,
    requested_date: dt.date | None = None,
    **fields: Any,
) -> SalesOrder:
    """A draft sales order straight from `lines` (a repeat order, the API, the portal). Header
    fields as for `quotation_create`; `invoice_policy` "order" or "delivery" forces that policy
    on every line (services stay on order), else each line's is resolved (`policies`)."""
    order, data = _order_build(company, party, lines, invoice_policy, requested_date, fields,
                               settings=sales_settings(company))  # fmt: skip
    return _orders_write(company, actor, [(order, data)])[0]


@audited
def orders_create(
    *, company: Company, actor: Any, orders: Sequence[Mapping[str, Any]]
) -> list[SalesOrder]:
    """Many draft sales orders at once (an import, an EDI batch, repeat orders), each as
    `order_create(company=company, actor=actor, **spec)` would make it, numbered in the given
    order. `orders`: one mapping per order with `party`, `lines` and optionally
    `invoice_policy`, `requested_date` and the header fields.

    The settings are read once, the numbers of a day taken with one statement, the orders,
    their lines and the lines' taxes inserted with one statement each; each order's lines are
    still checked and priced on their own (`lines_clean`: its customer's prices). Raises
    SalesError, writing nothing, when any order is refused; the message of a line names its
    order (`orders.N.lines.M.field`)."""
    if not orders:
        return []
    settings = sales_settings(company)
    built = []
    for n, spec in enumerate(orders, start=1):
        fields = dict(spec)
        try:
            built.append(_order_build(
                company, fields.pop("party", None), fields.pop("lines", None) or [],
                fields.pop("invoice_policy", None), fields.pop("requested_date", None), fields,
                settings=settings,
            ))  # fmt: skip
        except SalesError as exc:
            if not hasattr(exc, "error_dict"):
                raise SalesError({f"orders.{n}": exc.error_list}) from exc
            raise SalesError(
                {f"orders.{n}.{key}": value for key, value in exc.error_dict.items()}
            ) from exc
    return _orders_write(company, actor, built)


def _order_build(
    company: Company,
    party: Any,
    lines: Sequence[Mapping[str, Any]],
    invoice_policy: str | None,
    requested_date: dt.date | None,
    fields: Mapping[str, Any],
    *,
    settings: SalesSettings,
) -> tuple[SalesOrder, list[LineData]]:
    """The unsaved order and its clean lines; raises what `order_create` refuses."""
    _unknown(fields, HEADER_FIELDS)
    _customer_check(company, party)
    header = _header(company, party, fields, today=timezone.localdate(), settings=settings)
    policy = order_policy(party=party, settings=settings, forced=invoice_policy)
    if policy not in InvoicePolicy.values:
        raise refusal(_("Invoice on ordered or on delivered quantities."), "invoice_policy",
                      "invoice_policy")  # fmt: skip
    data = lines_clean(company=company, party=party, currency=header["currency_id"],
                       date=header["date"], price_list=header["price_list"], lines=lines,
                       settings=settings, coupon=header["coupon_code"])  # fmt: skip
    lines_policy_set(data, party=party, settings=settings, forced=invoice_policy)
    if requested_date is not None and requested_date < header["date"]:
        raise refusal(_("The requested date is before the order date."), "requested_date",
                      "requested_date")  # fmt: skip
    order = SalesOrder(company=company, invoice_policy=policy, requested_date=requested_date,
                       **header)  # fmt: skip
    _totals(order, data)
    return order, data


def _orders_write(
    company: Company, actor: Any, built: list[tuple[SalesOrder, list[LineData]]]
) -> list[SalesOrder]:
    """Number and insert the built orders with their lines, and write their timeline entries."""
    by_date: dict[dt.date, list[SalesOrder]] = defaultdict(list)
    for order, _data in built:
        by_date[order.date].append(order)
    with transaction.atomic():
        for date, dated in by_date.items():
            for order, number in zip(dated, numbers_next(company, "sales.order", date, len(dated)),
                                     strict=True):  # fmt: skip
                order.number = number
        for order, _data in built:
            if order.salesperson is None and getattr(actor, "pk", None):
                order.salesperson = actor
        orders = [order for order, _data in built]
        if len(orders) == 1:
            orders[0].save(force_insert=True)  # the audit entry as django-auditlog writes it
        else:
            SalesOrder.unscoped.bulk_create(orders)
            audit_bulk([(None, order) for order in orders], actor=actor)
        _write_lines_many(SalesOrderLine, "order", built)
        for order, _data in built:
            timeline(order.party, "order", _("Sales order %(number)s, %(total)s %(currency)s")
                     % {"number": order.number, "total": order.amount_total,
                        "currency": order.currency_id}, actor=actor, source=order)  # fmt: skip
    return orders


ORDER_RELATED = ("party", "warehouse", "company")


def _locked_order(
    order: SalesOrder, *states: str, related: Sequence[str] = ORDER_RELATED
) -> SalesOrder:
    """The order's row, locked (not the rows it joins), with `related`; refused unless in one
    of `states`."""
    row = (
        SalesOrder.unscoped.select_for_update(of=("self",))
        .select_related(*related)
        .get(pk=order.pk)
    )
    if states and row.state not in states:
        raise refusal(
            _("%(order)s is %(state)s; this is not possible now.")
            % {"order": row, "state": row.get_state_display()},
            "state",
        )
    return row


def credit_exposure(party: Party, *, exclude: SalesOrder | None = None) -> Decimal:
    """What the customer owes and has on order, in company currency: open receivables of its
    posted invoices plus the not yet invoiced part of its confirmed and held orders."""
    return _exposure(party, exclude=exclude).quantize(Decimal("0.01"))


def _exposure(party: Party, *, exclude: SalesOrder | None = None) -> Decimal:
    """`credit_exposure` before rounding."""
    invoices = Invoice.unscoped.filter(
        company_id=party.company_id,
        party=party,
        state=Invoice.State.POSTED,
        kind__in=[Invoice.Kind.CUSTOMER_INVOICE, Invoice.Kind.CUSTOMER_CREDIT],
    ).values_list("kind", "amount_residual", "rate")
    owed = ZERO
    for kind, residual, rate in invoices:
        amount = Decimal(residual) * (Decimal(rate) if rate else 1)
        owed += -amount if kind == Invoice.Kind.CUSTOMER_CREDIT else amount
    lines = SalesOrderLine.objects.filter(
        order__company_id=party.company_id,
        order__party=party,
        order__state__in=[OState.CONFIRMED, OState.HELD],
    )
    if exclude is not None:
        lines = lines.exclude(order=exclude)
    rates: dict[int, Decimal] = {}  # one rate per order, not per line
    for line in lines.annotate(open=F("quantity") - F("qty_invoiced")).select_related(
        "order__company"
    ):
        if line.open > 0 and line.quantity:
            if line.order_id not in rates:
                rates[line.order_id] = _rate(line.order)
            owed += _open_share(line, Decimal(line.open), rates[line.order_id])
    return owed


def _open_share(line: SalesOrderLine, open_quantity: Decimal, rate: Decimal) -> Decimal:
    """What an order line not yet invoiced (`open_quantity`) adds to the exposure."""
    share = open_quantity / Decimal(line.quantity)
    return Decimal(line.amount_total) * share * rate


def _rate(order: SalesOrder) -> Decimal:
    if order.currency_id == order.company.base_currency_id:
        return Decimal(1)
    return rate_on(company=order.company, currency=order.currency_id, date=order.date)


@audited
def order_confirm(*, order: SalesOrder, actor: Any, override: bool = False) -> SalesOrder:
    """Confirm a draft (or held, after approval: `override`) order. Above the credit limit the
    order is held and the "credit_override" process starts. Otherwise each line is promised a
    date (ATP) and the delivery pickings are created and confirmed, which reserves the stock
    available now (the rest waits: a backorder is the picking's remainder, never an error).
    `orders_confirm` of one order."""
    return _orders_confirm([order], actor, override=override)[0]


@audited
def orders_confirm(*, orders: Sequence[SalesOrder], actor: Any) -> list[SalesOrder]:
    """Confirm many draft orders at once, each as `order_confirm` would, one after the other
    in the given order: an order above its customer's credit limit (counting the orders of
    the list before it) is held and its "credit_override" process starts; the others are
    promised, their deliveries created and confirmed (stock reserved first come first served,
    in the given order) and they are confirmed. Returns the orders (confirmed or held) in the
    given order.

    The statements are shared: the orders, then their customers, locked with one query each
    (primary-key order), their lines read with one query, the pickings and moves of all the
    deliveries written together (`inventory.pickings.deliveries_create`), the promises of a
    warehouse computed from one reading of its stock (`atp.promise_dates_many`), the lines
    and the orders updated with one statement each. What stays per order: the exposure of a
    customer with a credit limit (once per customer), the process of a held order, the
    timeline entry.

    Raises SalesError, writing nothing, for an order given twice, not a draft or held (waiting
    for its credit override), and what `order_confirm` refuses; all in one transaction."""
    return _orders_confirm(orders, actor, override=False)


def _orders_confirm(
    orders: Sequence[SalesOrder], actor: Any, *, override: bool
) -> list[SalesOrder]:
    ids = [order.pk for order in orders]
    if len(set(ids)) != len(ids):
        raise refusal(_("An order is given twice."), "twice")
    if not ids:
        return []
    with transaction.atomic():
        # the warehouse's view location too: the ATP promise reads the locations below it
        found = {
            row.pk: row
            for row in SalesOrder.unscoped.select_for_update(of=("self",))
            .select_related(*ORDER_RELATED, "warehouse__view_location")
            .filter(pk__in=sorted(ids))
            .order_by("pk")
        }
        if len(found) != len(ids):
            raise SalesOrder.DoesNotExist
        rows = [found[pk] for pk in ids]
        for row in rows:
            if row.state not in (OState.DRAFT, OState.HELD):
                raise refusal(
                    _("%(order)s is %(state)s; this is not possible now.")
                    % {"order": row, "state": row.get_state_display()},
                    "state",
                )
            if row.state == OState.HELD and not override:
                raise refusal(_("%(order)s waits for the credit limit override.")
                              % {"order": row}, "held")  # fmt: skip
        # one confirmation at a time per customer (no key lock: rows pointing to it may be added)
        parties = {
            party.pk: party
            for party in Party.unscoped.select_for_update(no_key=True)
            .filter(pk__in=sorted({row.party_id for row in rows}))
            .order_by("pk")
        }
        lines: dict[int, list[SalesOrderLine]] = {pk: [] for pk in ids}
        for line in (
            SalesOrderLine.objects.filter(order_id__in=ids)
            .select_related("product__uom", "uom")
            .order_by("sequence", "id")
        ):
            lines[line.order_id].append(line)
        holds = _credit_check(rows, parties, lines, override=override)
        confirmed = [row for row in rows if row.pk not in holds]
        if confirmed:
            _confirm_rows(confirmed, lines, actor, override=override)
        for row in rows:  # the processes and the timeline in the order given
            if row.pk in holds:
                exposure, total, limit = holds[row.pk]
                _hold(row, actor, exposure=exposure, total=total, limit=limit)
            else:
                timeline(row.party, "order", _("Sales order %(number)s confirmed")
                         % {"number": row}, actor=actor, source=row)  # fmt: skip
                publish(OrderConfirmed(company_id=row.company_id, order_id=row.pk,
                                       party_id=row.party_id, quotation_id=row.quotation_id,
                                       actor_id=getattr(actor, "pk", None)))  # fmt: skip
    return rows


def _credit_check(
    rows: list[SalesOrder],
    parties: dict[int, Party],
    lines: dict[int, list[SalesOrderLine]],
    *,
    override: bool,
) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """The orders to hold, by id, with (exposure, order total, limit): those that take their
    customer above its credit limit, the orders of the list before them counted (held or
    confirmed, as `credit_exposure` counts them once written)."""
    holds: dict[int, tuple[Decimal, Decimal, Decimal]] = {}
    if override:
        return holds
    owed: dict[int, Decimal] = {}  # by customer with a limit, read when first needed
    added: dict[int, Decimal] = defaultdict(lambda: ZERO)  # the orders of the list before
    after = Counter(row.party_id for row in rows)  # orders of the customer still to come
    for row in rows:
        party = parties[row.party_id]
        after[party.pk] -= 1
        limit = party.credit_limit
        if limit is None:
            continue
        rate = None
        if not row.credit_approved:
            rate = _rate(row)
            if party.pk not in owed:
                owed[party.pk] = _exposure(party, exclude=row)
            exposure = (owed[party.pk] + added[party.pk]).quantize(Decimal("0.01"))
            total = Decimal(row.amount_total) * rate
            if exposure + total > limit:
                holds[row.pk] = (exposure, total, limit)
        if not after[party.pk]:
            continue
        rate = rate if rate is not None else _rate(row)
        added[party.pk] += sum(
            (
                _open_share(line, line.quantity - line.qty_invoiced, rate)
                for line in lines[row.pk]
                if line.quantity - line.qty_invoiced > 0 and line.quantity
            ),
            ZERO,
        )
    return holds


def _confirm_rows(
    rows: list[SalesOrder],
    lines: dict[int, list[SalesOrderLine]],
    actor: Any,
    *,
    override: bool,
) -> None:
    """Confirm the orders (locked, not held), in their order: deliveries created and
    confirmed first (the stock services lock the quants), then the promises; they are read
    after the orders before hold what they could reserve, so two orders never promise the same
    unit."""
    scheduled, made = _deliveries_create(rows, lines, actor)
    today = timezone.localdate()
    by_warehouse: dict[tuple[int, int], list[SalesOrder]] = defaultdict(list)
    for row in rows:
        by_warehouse[(row.company_id, row.warehouse_id)].append(row)
    reserved = _reserved(rows, lines)
    for group in by_warehouse.values():
        documents = []
        for row in group:
            wanted = max(row.requested_date or row.date, today)
            demands = [
                atp.AtpDemand(product_id=line.product_id, day=scheduled[row.pk],
                              quantity=_base(line), held=reserved.get(line.pk, ZERO))
                for line in lines[row.pk]
                if row.pk in scheduled and line.product.type != Product.Type.SERVICE
            ]  # fmt: skip
            documents.append((_requests(lines[row.pk], wanted), demands))
        answers = atp.promise_dates_many(
            company=group[0].company,
            warehouse=group[0].warehouse,
            documents=documents,
            exclude_source=(LINE_SOURCE, {line.pk for row in group for line in lines[row.pk]}),
        )
        for row, promises in zip(group, answers, strict=True):
            for line, answer in zip(lines[row.pk], promises, strict=True):
                line.promise_date = answer.date
                line.promise_note = answer.note[:200]
    lines_update([line for row in rows for line in lines[row.pk]],
                 ["promise_date", "promise_note"])  # fmt: skip
    # the pickings of an order are those just made, all scheduled on `scheduled`
    moved: dict[dt.date, list[int]] = defaultdict(list)
    for row in rows:
        promised = [line.promise_date for line in lines[row.pk] if line.promise_date]
        if promised and row.pk in scheduled and max(promised) != scheduled[row.pk]:
            moved[max(promised)].extend(p.pk for p in made[row.pk])
    for day, pks in moved.items():
        Picking.unscoped.filter(pk__in=pks).update(scheduled_date=day)
    now = timezone.now()
    for row in rows:
        row.state, row.confirmed_at, row.hold_reason = OState.CONFIRMED, now, ""
        if override:
            row.credit_approved = True
    changes: dict[str, Any] = {"state": OState.CONFIRMED, "confirmed_at": now, "hold_reason": ""}
    if override:
        changes["credit_approved"] = True
    SalesOrder.unscoped.filter(pk__in=[row.pk for row in rows]).update(**changes)


def _base(line: SalesOrderLine) -> Decimal:
    """The line's quantity in its product's stock unit."""
    return product_convert(product=line.product, quantity=line.quantity, from_uom=line.uom,
                           to_uom=line.product.uom)  # fmt: skip


def _requests(lines: Sequence[Any], wanted: dt.date) -> list[atp.AtpRequest]:
    return [
        atp.AtpRequest(product=line.product, quantity=_base(line), wanted=wanted, key=n)
        for n, line in enumerate(lines)
    ]


def _reserved(rows: list[SalesOrder], lines: dict[int, list[SalesOrderLine]]) -> dict[int, Decimal]:
    """What the delivery moves of the lines of the orders reserved, by line, read only when
    an order's promise depends on the reservations of another order of the same warehouse."""
    seen: set[tuple[int, int]] = set()
    shared = False
    for row in rows:
        key = (row.company_id, row.warehouse_id)
        shared = shared or key in seen
        seen.add(key)
    if not shared:
        return {}
    ids = [line.pk for row in rows for line in lines[row.pk]]
    return {
        line_id: Decimal(total)
        for line_id, total in Reservation.unscoped.filter(
            move__source_type=LINE_SOURCE, move__source_id__in=ids
        )
        .values_list("move__source_id")
        .annotate(total=Sum("quantity"))
        .order_by()
    }


def _hold(row: SalesOrder, actor: Any, *, exposure: Decimal, total: Decimal,
          limit: Decimal) -> SalesOrder:  # fmt: skip
    row.state = OState.HELD
    row.hold_reason = _(
        "Credit limit %(limit)s exceeded: %(exposure)s open + %(total)s this order."
    ) % {"limit": limit, "exposure": exposure, "total": total.quantize(Decimal("0.01"))}
    instance = process_start(
        company=row.company,
        actor=actor if getattr(actor, "pk", None) else None,
        key="credit_override",
        record=row,
        data={
            "order_total": float(total),
            "credit_limit": float(limit),
            "open_balance": float(exposure),
            "order": row.number,
            "customer": row.party.name,
        },
    )
    row.credit_process = instance
    row.save(update_fields=["state", "hold_reason", "credit_process"])
    timeline(row.party, "order", _("Sales order %(number)s held: %(reason)s")
             % {"number": row, "reason": row.hold_reason}, actor=actor, source=row)  # fmt: skip
    return row


def credit_decided(*, order_id: int, approved: bool, comment: str = "") -> None:
    """Apply the outcome of an order's credit override process (called from the workflow
    event): approved confirms the order, rejected cancels it."""
    try:
        row = SalesOrder.unscoped.get(pk=order_id, state=OState.HELD)
    except SalesOrder.DoesNotExist:
        return
    if approved:
        order_confirm(order=row, actor=None, override=True)
    else:
        order_cancel(order=row, actor=None,
                     reason=comment or _("Credit limit override rejected."))  # fmt: skip


def _deliveries_create(
    rows: list[SalesOrder], lines: dict[int, list[SalesOrderLine]], actor: Any
) -> tuple[dict[int, dt.date], dict[int, list[Picking]]]:
    """Create and confirm the delivery pickings of the orders' stocked lines; returns the date
    they are scheduled on and the pickings, by order (orders with nothing to deliver left
    out)."""
    scheduled: dict[int, dt.date] = {}
    made: dict[int, list[Picking]] = {}
    by_company: dict[int, list[SalesOrder]] = defaultdict(list)
    for row in rows:
        if any(line.product.type != Product.Type.SERVICE for line in lines[row.pk]):
            scheduled[row.pk] = row.requested_date or row.date
            by_company[row.company_id].append(row)
    for group in by_company.values():
        pickings = picking_services.deliveries_create(
            company=group[0].company,
            deliveries=[
                {
                    "warehouse": row.warehouse,
                    "party": row.party,
                    "scheduled_date": scheduled[row.pk],
                    "origin": row.number,
                    "source_type": ORDER_SOURCE,
                    "source_id": row.pk,
                    "lines": [
                        {
                            "product": line.product,
                            "quantity": line.quantity,
                            "uom": line.uom,
                            "source_type": LINE_SOURCE,
                            "source_id": line.pk,
                        }
                        for line in lines[row.pk]
                        if line.product.type != Product.Type.SERVICE
                    ],
                }
                for row in group
            ],
            actor=actor,
            confirm=True,
        )
        made.update(zip((row.pk for row in group), pickings, strict=True))
    return scheduled, made


def order_pickings(order: SalesOrder) -> list[Picking]:
    return list(
        Picking.unscoped.filter(
            company_id=order.company_id, source_type=ORDER_SOURCE, source_id=order.pk
        ).order_by("pk")
    )


@audited
def order_cancel(*, order: SalesOrder, actor: Any, reason: str = "") -> SalesOrder:
    """Cancel an order that has shipped nothing: its open pickings are cancelled (reservations
    released) and its draft invoices deleted. Refused once goods have left (make a return) and
    while a posted invoice of it is not cancelled or credited."""
    from xietong.finance.invoicing import invoice_delete  # noqa: PLC0415

    with transaction.atomic():
        row = _locked_order(order, OState.DRAFT, OState.HELD, OState.CONFIRMED)
        delivered = row.lines.aggregate(n=Sum("qty_delivered"))["n"] or ZERO
        if delivered > 0:
            raise refusal(
                _("%(order)s has shipped goods; make a return instead of cancelling.")
                % {"order": row},
                "delivered",
            )
        invoices = Invoice.unscoped.filter(
            company_id=row.company_id, source_type=ORDER_SOURCE, source_id=row.pk
        )
        if invoices.filter(state=Invoice.State.POSTED, kind=Invoice.Kind.CUSTOMER_INVOICE).exists():
            credited = row.lines.aggregate(n=Sum("qty_invoiced"))["n"] or ZERO
            if credited > 0:
                raise refusal(
                    _("%(order)s has posted invoices; cancel or credit them first.")
                    % {"order": row},
                    "invoiced",
                )
        for invoice in invoices.filter(state=Invoice.State.DRAFT):
            invoice_delete(invoice=invoice, actor=actor)
        for picking in order_pickings(row):
            picking.refresh_from_db(fields=["state"])  # cancelling a step cancels the next
            if picking.state not in (Picking.State.DONE, Picking.State.CANCELLED):
                picking_services.picking_cancel(picking=picking, actor=actor)
        row.state = OState.CANCELLED
        row.cancel_reason = (reason or "").strip()[:300]
        row.save(update_fields=["state", "cancel_reason"])
        timeline(row.party, "order", _("Sales order %(number)s cancelled") % {"number": row},
                 actor=actor, source=row)  # fmt: skip
    return row


def delivered_refresh(*, order_line_ids: Sequence[int]) -> None:
    """Recompute the delivered and returned quantities of order lines from their done moves
    (in the line's unit), and close orders fully delivered and invoiced. Called when pickings
    of sales orders are done. Reads the moves and the lines of the orders concerned once."""
    if not order_line_ids:
        return
    moved: dict[int, dict[str, Decimal]] = {}
    for line_id, usage_from, usage_to, quantity in (
        Move.unscoped.filter(
            source_type=LINE_SOURCE, source_id__in=order_line_ids, state=Move.State.DONE
        )
        .order_by()
        .values_list("source_id", "from_location__usage", "to_location__usage", "quantity_base")
    ):
        bucket = moved.setdefault(line_id, {"out": ZERO, "back": ZERO})
        if usage_to == "customer":
            bucket["out"] += Decimal(quantity)
        elif usage_from == "customer":
            bucket["back"] += Decimal(quantity)
    wanted = set(order_line_ids)
    rows = list(
        _order_lines(SalesOrderLine.objects.filter(pk__in=order_line_ids)).select_related(
            "uom", "product__uom"
        )
    )
    changed = []
    for line in rows:
        if line.pk not in wanted:
            continue
        bucket = moved.get(line.pk, {"out": ZERO, "back": ZERO})
        delivered, returned = (
            product_convert(product=line.product, quantity=bucket[key], from_uom=line.product.uom,
                            to_uom=line.uom, round_result=False).quantize(Decimal("0.000001"))
            for key in ("out", "back")
        )  # fmt: skip
        if (delivered, returned) != (line.qty_delivered, line.qty_returned):
            line.qty_delivered, line.qty_returned = delivered, returned
            changed.append(line)
    lines_update(changed, ["qty_delivered", "qty_returned"])
    _close_if_done(
        (line.order_id, line.order_state, line.product.type, line.quantity, line.qty_delivered,
         line.qty_returned, line.qty_invoiced)
        for line in rows
    )  # fmt: skip


def _order_lines(lines: Any) -> Any:
    """Every line of the orders of `lines` (a queryset of order lines), with its order's state
    (`order_state`)."""
    return SalesOrderLine.objects.filter(order_id__in=lines.values("order_id")).annotate(
        order_state=F("order__state")
    )


CLOSE_FIELDS = ("order_id", "order__state", "product__type", "quantity", "qty_delivered",
                "qty_returned", "qty_invoiced")  # fmt: skip


def _close_if_done(rows: Iterable[tuple[Any, ...]]) -> None:
    """Mark done the confirmed orders whose every line is delivered (services: invoiced) and
    invoiced; `rows` are the lines of the orders (`CLOSE_FIELDS`), all of them, in one UPDATE."""
    states: dict[int, str] = {}
    still_open: set[int] = set()
    for order_id, state, kind, quantity, delivered, returned, invoiced in rows:
        states[order_id] = state
        if order_id in still_open or state != OState.CONFIRMED:
            continue
        service = kind == Product.Type.SERVICE
        if (not service and delivered < quantity) or invoiced < (
            delivered - returned if not service else quantity
        ):
            still_open.add(order_id)
    done = [
        pk for pk, state in states.items() if state == OState.CONFIRMED and pk not in still_open
    ]
    if done:
        SalesOrder.unscoped.filter(pk__in=done, state=OState.CONFIRMED).update(state=OState.DONE)


def order_close_if_done(*, order_ids: set[int]) -> None:
    """Orders whose every line is delivered (services: invoiced) and invoiced become done."""
    _close_if_done(
        SalesOrderLine.objects.filter(order_id__in=order_ids, order__state=OState.CONFIRMED)
        .order_by()
        .values_list(*CLOSE_FIELDS)
    )
