"""Demo step for analytics customers (filled by a later change); runs after the warehouse load."""

from __future__ import annotations

from xietong.demo.context import DemoContext


def run(ctx: DemoContext) -> None:
    """Nothing yet."""
