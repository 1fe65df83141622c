"""`xietong analytics_refresh`: load what changed since the last run (`--full`: everything)."""

from __future__ import annotations

from typing import Any

from xietong.analytics.management.commands import analytics_rebuild


class Command(analytics_rebuild.Command):
    help = "Bring the analytics warehouse up to date (incremental; --full rebuilds it)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--full", action="store_true", help="rebuild everything")

    def handle(self, *args: Any, **options: Any) -> None:
        self.full = bool(options.get("full"))
        super().handle(*args, **options)
