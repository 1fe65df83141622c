"""Inventory screens: pickings (being built)."""

from typing import Any

urlpatterns: list[Any] = []
