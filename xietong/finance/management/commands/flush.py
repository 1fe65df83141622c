"""Django's `flush` (empty the whole database), made able to empty the ledger on SQLite.

Flushing deletes every row of every table, including posted entries, which the ledger's SQLite
triggers refuse one DELETE at a time; PostgreSQL truncates, which they do not see. The triggers
are dropped for the flush and installed again afterwards. The test runner flushes between
transactional tests; nothing else in the application calls it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.commands.flush import Command as FlushCommand

from xietong.finance.guards import guards_install, guards_remove


class Command(FlushCommand):
    def handle(self, **options: Any) -> None:
        database = options["database"]
        guards_remove(database)
        try:
            super().handle(**options)
        finally:
            guards_install(database)
