"""Django's `flush` (empty the whole database), made able to empty guarded tables on SQLite.

Flushing deletes every row of every table, including posted entries and done stock moves, which
the apps' SQLite triggers refuse one DELETE at a time (PostgreSQL truncates, which they do not
see). The registered guards (`xietong.core.dbguards`) are removed for the flush and installed
again afterwards. The test runner flushes between transactional tests; nothing else in the
application calls it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as FlushCommand

from xietong.core import dbguards


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        database = options["database"]
        dbguards.remove_all(database)
        try:
            super().handle(**options)
        finally:
            dbguards.install_all(database)
