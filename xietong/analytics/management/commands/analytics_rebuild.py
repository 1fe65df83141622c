"""`xietong analytics_rebuild`: empty the warehouse and load everything again."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from xietong.analytics.etl import etl_run


class Command(BaseCommand):
    help = "Rebuild the analytics warehouse from the operational database (full load)."
    full = True

    def handle(self, *args: Any, **options: Any) -> None:
        result = etl_run(full=self.full)
        for table, count in result["rows"].items():
            self.stdout.write(f"{table}: {count}")
        kind = _("Full load") if result["full"] else _("Incremental load")
        self.stdout.write(self.style.SUCCESS(_("%(kind)s done.") % {"kind": kind}))
