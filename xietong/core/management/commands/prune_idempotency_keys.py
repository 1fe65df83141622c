"""Delete stored Idempotency-Key responses older than the retry window (default 7 days)."""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from xietong.core.models import IdempotencyKey


class Command(BaseCommand):
    help = "Delete idempotency keys older than --days (default 7); clients retry within minutes."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=7)

    def handle(self, *args: object, **options: object) -> None:
        days = int(options["days"])  # type: ignore[arg-type]
        if days < 1:
            self.stderr.write("--days must be at least 1")
            return
        cutoff = timezone.now() - dt.timedelta(days=days)
        deleted, _ = IdempotencyKey.unscoped.filter(created_at__lt=cutoff).delete()
        self.stdout.write(f"deleted {deleted} idempotency key(s) older than {days} day(s)")
