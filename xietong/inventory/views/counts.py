"""Inventory screens: counts (being built)."""

from typing import Any

urlpatterns: list[Any] = []
