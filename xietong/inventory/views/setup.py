"""Inventory screens: setup (being built)."""

from typing import Any

urlpatterns: list[Any] = []
