"""Demo step for sales history (scaffold: filled in by the sales-history work)."""

from __future__ import annotations

from xietong.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    """Nothing yet."""
