"""Screens of the sales app (being built)."""

from typing import Any

urlpatterns: list[Any] = []
