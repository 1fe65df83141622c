"""Marketing services: segments, campaigns with their promotions, e-mail campaigns."""

from __future__ import annotations


def register() -> None:
    """Called from the CRM's `AppConfig.ready()`: permissions, roles, audit, menu, hooks."""
