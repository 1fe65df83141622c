"""Supplier invoices against purchase orders: the 3-way match (being written)."""

from __future__ import annotations


def register() -> None:
    """Connect this module to the layers below (called from `PurchaseConfig.ready()`)."""
