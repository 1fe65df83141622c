"""Compile the gettext catalogues (.po → .mo) with polib, so set-up needs no gettext binaries."""

from __future__ import annotations

from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Compile every .po file under LOCALE_PATHS into its .mo file."

    def handle(self, *args: object, **options: object) -> None:
        count = 0
        for root in settings.LOCALE_PATHS:
            for po_path in sorted(Path(root).glob("*/LC_MESSAGES/*.po")):
                catalogue = polib.pofile(str(po_path))
                bad = [
                    e.msgid
                    for e in catalogue.translated_entries()
                    if e.msgstr and e.msgid.count("%(") != e.msgstr.count("%(")
                ]
                if bad:
                    raise CommandError(f"{po_path}: placeholders differ in {bad[:3]}")
                catalogue.save_as_mofile(str(po_path.with_suffix(".mo")))
                count += 1
        self.stdout.write(f"compiled {count} catalogue(s)")
