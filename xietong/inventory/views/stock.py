"""Inventory screens: stock (being built)."""

from typing import Any

urlpatterns: list[Any] = []
