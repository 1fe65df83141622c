"""Reads of purchasing that other apps use (planning reads what purchasing will bring in)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from decimal import Decimal

from xietong.core.models import Company
from xietong.product.selectors import product_convert
from xietong.purchase.models import Requisition, RequisitionLine


def open_requisition_supply(
    *, company: Company, product_ids: Iterable[int] | None = None
) -> Iterator[tuple[int, int, dt.date, Decimal, str]]:
    """(line id, product id, need date, quantity in the product's stock unit, requisition
    number) of every requisition line (of `product_ids` only, if given) not yet on an order or
    cancelled, of requisitions not rejected or cancelled: supply that purchasing is about to
    order."""
    lines = (
        RequisitionLine.objects.filter(
            requisition__company=company,
            state__in=[RequisitionLine.State.OPEN, RequisitionLine.State.IN_RFQ],
        )
        .exclude(requisition__state__in=[Requisition.State.REJECTED, Requisition.State.CANCELLED])
        .select_related("product", "uom", "requisition")
        .order_by("pk")
    )
    if product_ids is not None:
        lines = lines.filter(product_id__in=list(product_ids))
    for line in lines:
        quantity = line.quantity
        if line.uom_id != line.product.uom_id:
            quantity = product_convert(product=line.product, quantity=quantity,
                                       from_uom=line.uom, to_uom=line.product.uom,
                                       round_result=False)  # fmt: skip
        yield line.pk, line.product_id, line.need_date, quantity, line.requisition.number
