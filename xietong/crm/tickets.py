"""Customer service services: tickets, SLA clocks, knowledge base, satisfaction surveys."""

from __future__ import annotations


def register() -> None:
    """Called from the CRM's `AppConfig.ready()`: permissions, roles, audit, menu, hooks."""
