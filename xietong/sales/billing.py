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
(`finance.invoicing.on_invoice_change`; `invoices_changed` for many invoices posted at once).

`orders_invoice` invoices many orders at once (an accountant's "create invoices" on a selection):
the same invoices as `order_invoice` per order, created and posted in bulk (`invoices_create`,
`invoices_post`); `order_invoice` is the same code for one order."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from xietong.core.audit import audited
from xietong.finance.invoicing import (
    invoice_create,
    invoice_post,
    invoices_create,
    invoices_post,
)
from xietong.finance.models import Account, Invoice
from xietong.finance.posting import finance_scope, finance_settings
from xietong.sales.common import ZERO, refusal, sales_settings, timeline
from xietong.sales.documents import (
    CLOSE_FIELDS,
    ORDER_RELATED,
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
    (invoice,) = _orders_invoice(
        [order], actor=actor, date=date, quantities=quantities, post=post, skip_empty=False
    )
    return invoice


@audited
def orders_invoice(
    *,
    orders: Sequence[SalesOrder],
    actor: Any,
    date: dt.date | None = None,
    post: bool = False,
) -> list[Invoice]:
    """`order_invoice` (without `quantities`) of many orders at once, in one transaction: one
    invoice per order of what it may bill now, in the order of `orders`; the orders with
    nothing to invoice are skipped. Posted when `post`, all together (`invoices_post`).

    Locks the orders' rows (in id order). Refused (nothing written) when an order is not
    confirmed or done, or an invoice's down payments exceed what it bills; the message names
    the order."""
    return _orders_invoice(list(orders), actor=actor, date=date, post=post, skip_empty=True)


def _orders_invoice(
    orders: list[SalesOrder],
    *,
    actor: Any,
    date: dt.date | None,
    post: bool,
    skip_empty: bool,
    quantities: Mapping[int, Decimal] | None = None,
) -> list[Invoice]:
    """The invoices of `orders` (see `order_invoice`, `quantities` for a single order);
    `skip_empty`: skip an order with nothing to invoice instead of refusing it."""
    if len({order.pk for order in orders}) != len(orders):
        raise refusal(_("An order is given twice."), "duplicate")
    with transaction.atomic(), finance_scope():
        locked = _locked_orders(orders)
        all_lines: dict[int, list[SalesOrderLine]] = {}
        for line in (
            SalesOrderLine.objects.filter(order_id__in=[row.pk for row in locked])
            .select_related("product", "uom")
            .prefetch_related("taxes")
            .order_by("order_id", "sequence", "pk")
        ):
            all_lines.setdefault(line.order_id, []).append(line)
        plans: list[tuple[SalesOrder, list[SalesOrderLine], list[tuple[SalesOrderLine, Decimal]]]]
        plans = []
        for row in locked:
            lines = all_lines.get(row.pk, [])
            chosen = _billable(row, lines, quantities)
            if chosen:
                plans.append((row, lines, chosen))
            elif not skip_empty:
                raise refusal(_("Nothing to invoice on %(order)s yet.") % {"order": row}, "nothing")
        deductible = _deductible_many([(row, lines, chosen) for row, lines, chosen in plans])
        invoices: list[Invoice] = []
        if plans:
            invoices = invoices_create(
                company=plans[0][0].company,
                actor=actor,
                invoices=[
                    _draft_of(row, chosen, deductible.get(row.pk, []), date=date)
                    for row, _lines, chosen in plans
                ],
            )
        links: list[InvoicedLine] = []
        for (row, _lines, chosen), invoice in zip(plans, invoices, strict=True):
            if invoice.amount_total <= 0:
                raise refusal(
                    _("%(order)s: the down payments exceed what this invoice bills; invoice "
                      "more at once.") % {"order": row},
                    "down_payments",
                )  # fmt: skip
            made = list(invoice.lines.all())  # as inserted, in sequence order: no query
            links += [
                InvoicedLine(order_line=line, invoice_line=inv_line, quantity=quantity)
                for (line, quantity), inv_line in zip(chosen, made, strict=False)
            ]
        InvoicedLine.objects.bulk_create(links)
        deducted = {
            dp.pk: invoice
            for (row, _lines, _chosen), invoice in zip(plans, invoices, strict=True)
            for dp in deductible.get(row.pk, [])
        }
        if deducted:
            DownPayment.unscoped.bulk_update(
                [DownPayment(pk=pk, deducted_by=invoice) for pk, invoice in deducted.items()],
                ["deducted_by"],
            )
        if not post:  # posting refreshes them (`invoice_changed`, finance's hook): once is enough
            invoiced_refresh(
                order_line_ids=[line.pk for _r, _l, chosen in plans for line, _q in chosen]
            )
        for (row, _lines, _chosen), invoice in zip(plans, invoices, strict=True):
            timeline(row.party, "order", _("Invoice drafted for %(order)s: %(total)s %(currency)s")
                     % {"order": row, "total": invoice.amount_total,
                        "currency": invoice.currency_id},
                     actor=actor, source=row)  # fmt: skip
        if post and invoices:
            invoices = invoices_post(invoices=invoices, actor=actor)
    return invoices


def _locked_orders(orders: list[SalesOrder]) -> list[SalesOrder]:
    """The orders' rows locked (in id order, not the rows they join), in the order given;
    refused unless each is confirmed or done."""
    rows = {
        row.pk: row
        for row in SalesOrder.unscoped.select_for_update(of=("self",))
        .select_related(*ORDER_RELATED)
        .filter(pk__in=[order.pk for order in orders])
        .order_by("pk")
    }
    locked = []
    for order in orders:
        row = rows.get(order.pk)
        if row is None:
            raise SalesOrder.DoesNotExist(f"Sales order {order.pk} does not exist.")
        if row.state not in (OState.CONFIRMED, OState.DONE):
            raise refusal(
                _("%(order)s is %(state)s; this is not possible now.")
                % {"order": row, "state": row.get_state_display()},
                "state",
            )
        locked.append(row)
    return locked


def _billable(
    row: SalesOrder, lines: list[SalesOrderLine], quantities: Mapping[int, Decimal] | None
) -> list[tuple[SalesOrderLine, Decimal]]:
    """(line, quantity) of what an invoice of `row` bills: what each line may bill now, or
    `quantities` (checked)."""
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
    return chosen


def _draft_of(
    row: SalesOrder,
    chosen: list[tuple[SalesOrderLine, Decimal]],
    open_dps: list[DownPayment],
    *,
    date: dt.date | None,
) -> dict[str, Any]:
    """The arguments of `invoice_create` for the customer invoice of `chosen` lines of `row`,
    less the down payments `open_dps`."""
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
    return {
        "kind": Invoice.Kind.CUSTOMER_INVOICE,
        "party": row.party,
        "date": date or timezone.localdate(),
        "lines": specs,
        "currency": row.currency_id,
        "payment_term": row.payment_term,
        "reference": row.customer_reference,
        "origin": row.number,
        "source_type": ORDER_SOURCE,
        "source_id": row.pk,
        "language": row.language or None,
    }


def _deductible_many(
    plans: list[tuple[SalesOrder, list[SalesOrderLine], list[tuple[SalesOrderLine, Decimal]]]],
) -> dict[int, list[DownPayment]]:
    """`_deductible` of each (order, its lines, chosen) of `plans`, by order id, with one read
    of the down payments."""
    if not plans:
        return {}
    open_dps: dict[int, list[DownPayment]] = {}
    for dp in (
        DownPayment.unscoped.filter(
            order_id__in=[row.pk for row, _l, _c in plans],
            deducted_by__isnull=True,
            invoice__state=Invoice.State.POSTED,
        )
        .select_related("invoice")
        .order_by("pk")
    ):
        open_dps.setdefault(dp.order_id, []).append(dp)
    return {
        row.pk: _deductible(lines, chosen, open_dps[row.pk])
        for row, lines, chosen in plans
        if row.pk in open_dps
    }


def _deductible(
    lines: list[SalesOrderLine],
    chosen: list[tuple[SalesOrderLine, Decimal]],
    open_dps: list[DownPayment],
) -> list[DownPayment]:
    """Of the posted down payments `open_dps` of an order (of `lines`) not yet deducted, those
    an invoice of `chosen` deducts, oldest first: those that fit in what it bills (untaxed,
    estimated from the lines' amounts), or all of them when nothing of the order is left to
    invoice after it."""
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
    invoices_changed([invoice])


def invoices_changed(invoices: Sequence[Invoice]) -> None:
    """Finance's hook for many invoices at once (`invoices_post`): the invoiced quantities of
    their orders refreshed together."""
    ours = [invoice for invoice in invoices if invoice.source_type == ORDER_SOURCE]
    if not ours:
        return
    order_ids = sorted({invoice.source_id for invoice in ours})
    _invoiced_refresh(links=Q(order_line__order_id__in=order_ids), orders=order_ids, only=None)
    cancelled = [invoice.pk for invoice in ours if invoice.state == Invoice.State.CANCELLED]
    if cancelled:
        DownPayment.unscoped.filter(deducted_by_id__in=cancelled).update(deducted_by=None)


invoice_changed.many = invoices_changed  # type: ignore[attr-defined]
