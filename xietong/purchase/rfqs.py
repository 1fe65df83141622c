"""Requests for quotation (being written)."""

from __future__ import annotations


def register() -> None:
    """Connect this module to the layers below (called from `PurchaseConfig.ready()`)."""
