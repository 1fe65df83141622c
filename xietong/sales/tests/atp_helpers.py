"""Helpers of the ATP tests: a warehouse, products, stock, and receipts and deliveries
scheduled through the inventory services."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from xietong.core.models import Company
from xietong.inventory.models import Move, Picking, Warehouse
from xietong.inventory.pickings import delivery_create, picking_confirm, receipt_create
from xietong.inventory.tests.flows_helpers import make_product, make_warehouse, put_stock, unit
from xietong.product.models import Product
from xietong.sales.atp import AtpRequest

__all__ = [
    "D",
    "TODAY",
    "ask",
    "day",
    "deliver",
    "make_product",
    "make_warehouse",
    "put_stock",
    "receive",
    "route_moves",
    "unit",
]

D = Decimal
TODAY = dt.date(2026, 3, 2)


def day(offset: int) -> dt.date:
    """`offset` days after TODAY."""
    return TODAY + dt.timedelta(days=offset)


def _schedule(service: Any, company: Company, warehouse: Warehouse, product: Product,
              quantity: Any, offset: int, confirm: bool) -> Picking:  # fmt: skip
    first, *_later = service(
        company=company,
        warehouse=warehouse,
        lines=[{"product": product, "quantity": D(quantity)}],
        scheduled_date=day(offset),
    )
    return picking_confirm(picking=first) if confirm else first


def receive(company: Company, warehouse: Warehouse, product: Product, quantity: Any,
            offset: int, *, confirm: bool = True) -> Picking:  # fmt: skip
    """A receipt of `quantity` planned `offset` days after TODAY (its first picking)."""
    return _schedule(receipt_create, company, warehouse, product, quantity, offset, confirm)


def deliver(company: Company, warehouse: Warehouse, product: Product, quantity: Any,
            offset: int = 0, *, confirm: bool = True) -> Picking:  # fmt: skip
    """A delivery of `quantity` planned `offset` days after TODAY, confirmed (reserved as far
    as stock allows) unless `confirm` is False; returns its first picking."""
    return _schedule(delivery_create, company, warehouse, product, quantity, offset, confirm)


def route_moves(picking: Picking) -> list[int]:
    """Ids of the moves of `picking` and of the pickings of its later steps."""
    ids, frontier = [], [picking.pk]
    while frontier:
        ids += list(Move.unscoped.filter(picking_id__in=frontier).values_list("pk", flat=True))
        frontier = list(
            Picking.unscoped.filter(previous_id__in=frontier).values_list("pk", flat=True)
        )
    return ids


def ask(product: Product, quantity: Any, wanted: int = 0, key: Any = None) -> AtpRequest:
    """A request of `quantity` wanted `wanted` days after TODAY."""
    return AtpRequest(product=product, quantity=D(quantity), wanted=day(wanted), key=key)
