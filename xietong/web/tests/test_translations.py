"""English, 简体中文 and 繁體中文 ship complete (CI also re-extracts the strings: .ci/run)."""

from __future__ import annotations

from pathlib import Path

import polib
import pytest
from django.conf import settings

LANGUAGES = ["zh_Hans", "zh_Hant"]


def _catalogue(root: Path, language: str) -> polib.POFile:
    return polib.pofile(str(root / language / "LC_MESSAGES" / "django.po"))


@pytest.mark.parametrize("language", LANGUAGES)
def test_catalogues_are_complete_and_keep_placeholders(language):
    catalogue = _catalogue(Path(settings.LOCALE_PATHS[0]), language)
    assert catalogue.untranslated_entries() == []
    assert catalogue.fuzzy_entries() == []
    for entry in catalogue.translated_entries():
        for text in [entry.msgstr, *entry.msgstr_plural.values()]:
            if not text:
                continue
            for marker in ("%(", "{number", "{year"):
                assert entry.msgid.count(marker) == text.count(marker), entry.msgid
