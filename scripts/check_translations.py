"""Fail when a catalogue has untranslated or fuzzy entries (CI runs it after makemessages)."""

import sys
from pathlib import Path

import polib

problems = 0
for path in sorted(Path("xietong/locale").glob("*/LC_MESSAGES/django.po")):
    catalogue = polib.pofile(str(path))
    missing = [
        e.msgid
        for e in catalogue.untranslated_entries() + catalogue.fuzzy_entries()
        if not e.obsolete
    ]
    for msgid in missing:
        print(f"{path}: not translated: {msgid!r}")
    problems += len(missing)
sys.exit(1 if problems else 0)
