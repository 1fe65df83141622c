"""Role dashboards built from saved pivots and 7P figures (scaffold: filled in by the dashboards
work)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []


def register() -> None:
    """Add the dashboards' menu entries (none yet)."""
