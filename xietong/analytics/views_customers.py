"""Screens of analytics: customers (filled by a later change)."""

from __future__ import annotations

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []


def register() -> None:
    """Add this module's screens to the navigation (called from AnalyticsConfig.ready)."""
