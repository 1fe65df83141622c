"""Demo data for CRM marketing."""

from __future__ import annotations

from xietong.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    """Nothing yet."""
