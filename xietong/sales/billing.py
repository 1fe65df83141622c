"""Invoicing sales orders: each line by its own policy (ordered or delivered quantities, see
`xietong.sales.policies`), partially, with down payments deducted from the later invoices,
through the finance invoicing service.

A down payment is deducted from the first later invoice of the order that bills more than it
(untaxed), so that an invoice of a few lines invoiced on order does not have to wait for the
deliveries; the invoice that bills the rest of the order deducts all that remain.

Each invoice line made from an order line is linked to it (`InvoicedLine`, with the quantity in
the order line's unit, negative on credit notes); an order line's `qty_invoiced` is the sum of
its links on invoices that are not cancelled, kept in step by `invoiced_refresh`, which finance
calls inside the transaction of every post, cancellation and draft deletion
(`finance.invoicing.on_invoice_change`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.finance.invoicing import invoice_create, invoice_post
from xietong.finance.models import Account, Invoice, InvoiceLine
from xietong.finance.posting import finance_settings
from xietong.sales.common import ZERO, refusal, sales_settings, timeline
from xietong.sales.documents import (
    CLOSE_FIELDS,
    ORDER_SOURCE,
    _close_if_done,
    _locked_order,
    lines_update,
)
from xietong.sales.models import (
    DownPayment,
    InvoicedLine,
    InvoicePolicy,
    SalesOrder,
    SalesOrderLine,
)

OState = SalesOrder.State


def invoiceable(line: SalesOrderLine, policy: str | None = None) -> Decimal:
    """What may still be invoiced of `line` (in its unit) by its policy (or `policy`, to ask
    what another would allow): ordered − returned − invoiced on the "order" policy and for
    services; delivered − returned − invoiced on the "delivery" policy."""
    policy = policy or line.invoice_policy
    if policy == InvoicePolicy.ORDER or line.product.type == line.product.Type.SERVICE:
        basis = line.quantity - line.qty_returned
    else:
        basis = line.qty_delivered - line.qty_returned
    return max(ZERO, basis - line.qty_invoiced)


def _down_payment_account(order: SalesOrder) -> Account:
    settings = sales_settings(order.company)
    if settings.down_payment_account_id:
        return settings.down_payment_account
    found = Account.unscoped.filter(
        company=order.company, code__in=["2203", "2204"], is_group=False, active=True,
        reconcile=False,
    ).order_by("code").first()  # fmt: skip
    return found or finance_settings(order.company).income_account


@audited
def order_invoice(
    *,
    order: SalesOrder,
    actor: Any,
    date: dt.date | None = None,
    quantities: Mapping[int, Decimal] | None = None,
    post: bool = False,
) -> Invoice:
    """A customer invoice of what the order may bill now (`invoiceable` per line), or of
    `quantities` ({order line id: quantity}, each at most its invoiceable part), with the
    order's prices, discounts and taxes, less the down payments not yet deducted that it bills
    more than (all of them on the invoice that bills the rest of the order); posted when
    `post`. Refused (nothing written) when nothing is to be invoiced, for an order that is not
    confirmed or done, and for quantities above what may be invoiced."""
    with transaction.atomic():
        row = _locked_order(order, OState.CONFIRMED, OState.DONE)
        lines = list(
            row.lines.select_related("product", "uom")
            .prefetch_related("taxes")
            .order_by("sequence", "pk")
        )
        known = {line.pk for line in lines}
        if quantities and set(quantities) - known:
            raise refusal(_("These lines are not of this order."), "lines", "quantities")
        chosen: list[tuple[SalesOrderLine, Decimal]] = []
        for line in lines:
            most = invoiceable(line)
            wanted = most if quantities is None else Decimal(quantities.get(line.pk, ZERO))
            if wanted < 0 or wanted > most:
                raise refusal(
                    _("Line %(line)s: at most %(most)s can be invoiced now.")
                    % {"line": line.description, "most": most.normalize()},
                    "quantity",
                    "quantities",
                )
            if wanted > 0:
                chosen.append((line, wanted))
        if not chosen:
            raise refusal(_("Nothing to invoice on %(order)s yet.") % {"order": row}, "nothing")
        specs = [
            {
                "product": line.product,
                "description": line.description,
                "quantity": quantity,
                "uom": line.uom,
                "unit_price": line.unit_price,
                "discount": line.discount,
                "taxes": list(line.taxes.all()),
            }
            for line, quantity in chosen
        ]
        open_dps = _deductible(row, lines, chosen)
        for dp in open_dps:
            first = dp.invoice.lines.prefetch_related("taxes").first()
            specs.append(
                {
                    "description": _("Down payment %(invoice)s deducted") % {"invoice": dp.invoice},
                    "account": first.account if first else _down_payment_account(row),
                    "quantity": Decimal(-1),
                    "unit_price": dp.amount,
                    "taxes": list(first.taxes.all()) if first else [],
                }
            )
        invoice = invoice_create(
            company=row.company,
            actor=actor,
            kind=Invoice.Kind.CUSTOMER_INVOICE,
            party=row.party,
            date=date or timezone.localdate(),
            lines=specs,
            currency=row.currency_id,
            payment_term=row.payment_term,
            reference=row.customer_reference,
            origin=row.number,
            source_type=ORDER_SOURCE,
            source_id=row.pk,
            language=row.language or None,
        )
        if invoice.amount_total <= 0:
            raise refusal(
                _("The down payments exceed what this invoice bills; invoice more at once."),
                "down_payments",
            )
        made = list(InvoiceLine.objects.filter(invoice=invoice).order_by("sequence", "pk"))
        InvoicedLine.objects.bulk_create(
            InvoicedLine(order_line=line, invoice_line=inv_line, quantity=quantity)
            for (line, quantity), inv_line in zip(chosen, made, strict=False)
        )
        if open_dps:
            DownPayment.unscoped.filter(pk__in=[dp.pk for dp in open_dps]).update(
                deducted_by=invoice
            )
        if not post:  # posting refreshes them (`invoice_changed`, finance's hook): once is enough
            invoiced_refresh(order_line_ids=[line.pk for line, _q in chosen])
        timeline(row.party, "order", _("Invoice drafted for %(order)s: %(total)s %(currency)s")
                 % {"order": row, "total": invoice.amount_total, "currency": invoice.currency_id},
                 actor=actor, source=row)  # fmt: skip
        if post:
            invoice = invoice_post(invoice=invoice, actor=actor)
    return invoice


def _deductible(
    order: SalesOrder, lines: list[SalesOrderLine], chosen: list[tuple[SalesOrderLine, Decimal]]
) -> list[DownPayment]:
    """The posted down payments of `order` not yet deducted that an invoice of `chosen` deducts,
    oldest first: those that fit in what it bills (untaxed, estimated from the lines' amounts),
    or all of them when nothing of the order is left to invoice after it."""
    open_dps = list(
        DownPayment.unscoped.filter(
            order=order, deducted_by__isnull=True, invoice__state=Invoice.State.POSTED
        )
        .select_related("invoice")
        .order_by("pk")
    )
    if not open_dps:
        return []
    now = {line.pk: quantity for line, quantity in chosen}
    last = all(
        line.quantity - line.qty_returned - line.qty_invoiced - now.get(line.pk, ZERO) <= 0
        for line in lines
    )
    if last:
        return open_dps
    room = sum(
        (Decimal(line.amount_untaxed) * quantity / line.quantity for line, quantity in chosen),
        ZERO,
    )
    deducted = []
    for dp in open_dps:
        if Decimal(dp.amount) < room:
            deducted.append(dp)
            room -= Decimal(dp.amount)
    return deducted


@audited
def order_down_payment(
    *,
    order: SalesOrder,
    actor: Any,
    amount: Decimal | None = None,
    percent: Decimal | None = None,
    date: dt.date | None = None,
    post: bool = True,
) -> Invoice:
    """Invoice an advance on a confirmed order: `amount` (untaxed) or `percent` of its untaxed
    total, at most what remains after earlier down payments, on the down payment account with
    the order's first taxes; deducted from the next invoice of the order."""
    if (amount is None) == (percent is None):
        raise refusal(_("Give an amount or a percentage."), "amount", "amount")
    with transaction.atomic():
        row = _locked_order(order, OState.CONFIRMED)
        if percent is not None:
            percent = Decimal(percent)
            if not 0 < percent <= 100:
                raise refusal(_("A percentage between 0 and 100."), "percent", "percent")
            amount = (Decimal(row.amount_untaxed) * percent / 100).quantize(Decimal("0.01"))
        amount = Decimal(amount)  # type: ignore[arg-type]
        taken = (
            DownPayment.unscoped.filter(order=row)
            .exclude(invoice__state=Invoice.State.CANCELLED)
            .aggregate(s=Sum("amount"))["s"]
            or ZERO
        )
        if amount <= 0 or amount + Decimal(taken) > Decimal(row.amount_untaxed):
            raise refusal(
                _("A down payment is above zero and at most the order's untaxed total less "
                  "earlier down payments (%(left)s).")
                % {"left": Decimal(row.amount_untaxed) - Decimal(taken)},
                "amount",
                "amount",
            )  # fmt: skip
        first = row.lines.prefetch_related("taxes").order_by("sequence", "pk").first()
        invoice = invoice_create(
            company=row.company,
            actor=actor,
            kind=Invoice.Kind.CUSTOMER_INVOICE,
            party=row.party,
            date=date or timezone.localdate(),
            lines=[
                {
                    "description": _("Down payment on %(order)s") % {"order": row},
                    "account": _down_payment_account(row),
                    "quantity": Decimal(1),
                    "unit_price": amount,
                    "taxes": list(first.taxes.all()) if first else [],
                }
            ],
            currency=row.currency_id,
            origin=row.number,
            source_type=ORDER_SOURCE,
            source_id=row.pk,
            language=row.language or None,
        )
        DownPayment.unscoped.create(company=row.company, order=row, invoice=invoice, amount=amount)
        if post:
            invoice = invoice_post(invoice=invoice, actor=actor)
    return invoice


def invoiced_refresh(*, order_line_ids: list[int]) -> None:
    """Recompute `qty_invoiced` of order lines from their links on invoices not cancelled, and
    close the orders fully delivered and invoiced."""
    if not order_line_ids:
        return
    _invoiced_refresh(
        links=Q(order_line_id__in=order_line_ids),
        orders=SalesOrderLine.objects.filter(pk__in=order_line_ids).values("order_id"),
        only=set(order_line_ids),
    )


def _invoiced_refresh(*, links: Q, orders: Any, only: set[int] | None) -> None:
    """`invoiced_refresh` of the lines whose links `links` selects (`only` those, None: every
    line of `orders`), in three statements at most: the links' sums, the lines of `orders` (ids
    or a subquery) and the update of the lines that changed; then the orders that are done."""
    sums = dict(
        InvoicedLine.objects.filter(links)
        .exclude(invoice_line__invoice__state=Invoice.State.CANCELLED)
        .values("order_line_id")
        .annotate(total=Sum("quantity"))
        .values_list("order_line_id", "total")
    )
    changed: list[SalesOrderLine] = []
    rows = []
    for pk, order_id, state, kind, quantity, delivered, returned, invoiced in (
        SalesOrderLine.objects.filter(order_id__in=orders)
        .order_by()
        .values_list("pk", *CLOSE_FIELDS)
    ):
        if only is None or pk in only:
            fresh = Decimal(sums.get(pk) or ZERO).quantize(Decimal("0.000001"))
            if fresh != invoiced:
                changed.append(SalesOrderLine(pk=pk, qty_invoiced=fresh))
                invoiced = fresh
        rows.append((order_id, state, kind, quantity, delivered, returned, invoiced))
    lines_update(changed, ["qty_invoiced"])
    _close_if_done(rows)


def invoice_changed(invoice: Invoice) -> None:
    """Finance's hook: an invoice of an order was posted, cancelled or deleted."""
    if invoice.source_type != ORDER_SOURCE:
        return
    _invoiced_refresh(
        links=Q(order_line__order_id=invoice.source_id), orders=[invoice.source_id], only=None
    )
    if invoice.state == Invoice.State.CANCELLED:
        DownPayment.unscoped.filter(deducted_by_id=invoice.pk).update(deducted_by=None)
