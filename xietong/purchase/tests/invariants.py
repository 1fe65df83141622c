"""What must hold in purchasing whatever happened, recomputed from scratch: each order line's
received quantity is what its done moves from suppliers brought less what went back, its
rejected quantity the sum of its inspections, its billed quantity the sum of the links on
posted supplier invoices and credit notes; no line is billed beyond what it received (unless a
variance was accepted); every posted supplier invoice with order links has an accepted or
matched match; an order is done only when every line is received or closed."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum

from xietong.finance.models import Invoice
from xietong.inventory.models import Location, Move
from xietong.purchase.models import (
    BilledLine,
    Inspection,
    InvoiceMatch,
    PurchaseOrder,
    PurchaseOrderLine,
)
from xietong.purchase.orders import LINE_SOURCE

ZERO = Decimal(0)


def _sums(rows: Any, key: str, field: str) -> dict[int, Decimal]:
    return {k: Decimal(str(v or 0)) for k, v in rows.values_list(key).annotate(
        s=Sum(field)).values_list(key, "s")}  # fmt: skip


def assert_purchase_sound(company: Any) -> None:
    lines = list(PurchaseOrderLine.objects.filter(order__company=company).select_related("order"))
    ids = [line.pk for line in lines]
    done = Move.unscoped.filter(source_type=LINE_SOURCE, source_id__in=ids, state="done")
    came = _sums(done.filter(from_location__usage=Location.Usage.SUPPLIER), "source_id",
                 "quantity")  # fmt: skip
    went = _sums(done.filter(to_location__usage=Location.Usage.SUPPLIER), "source_id", "quantity")
    rejected = _sums(Inspection.unscoped.filter(order_line_id__in=ids), "order_line_id",
                     "rejected")  # fmt: skip
    billed = _sums(
        BilledLine.objects.filter(
            order_line_id__in=ids, invoice_line__invoice__state=Invoice.State.POSTED
        ),
        "order_line_id",
        "quantity",
    )
    accepted = set(
        BilledLine.objects.filter(
            order_line_id__in=ids,
            invoice_line__invoice_id__in=InvoiceMatch.unscoped.filter(
                company=company, state=InvoiceMatch.State.ACCEPTED
            ).values("invoice_id"),
        ).values_list("order_line_id", flat=True)
    )
    for line in lines:
        received = came.get(line.pk, ZERO) - went.get(line.pk, ZERO)
        assert line.qty_received == received, (line.order.number, line.pk, "received")
        assert line.qty_rejected == rejected.get(line.pk, ZERO), (line.order.number, "rejected")
        assert line.qty_billed == billed.get(line.pk, ZERO), (line.order.number, "billed")
        if line.pk not in accepted:
            assert line.qty_billed <= line.qty_received, (line.order.number, "billed > received")
    for order in PurchaseOrder.unscoped.filter(company=company, state=PurchaseOrder.State.DONE):
        assert all(
            line.closed or line.qty_received >= line.quantity for line in order.lines.all()
        ), (order.number, "done with lines still expected")
    posted = Invoice.unscoped.filter(
        company=company, state=Invoice.State.POSTED,
        pk__in=BilledLine.objects.values("invoice_line__invoice_id"),
        kind=Invoice.Kind.SUPPLIER_INVOICE,
    )  # fmt: skip
    for invoice in posted:
        match = InvoiceMatch.unscoped.filter(invoice=invoice).first()
        assert match is not None and match.state in (
            InvoiceMatch.State.MATCHED,
            InvoiceMatch.State.ACCEPTED,
        ), (invoice.number, "posted without a match")
