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


def _eager_in_class_bodies(path: Path) -> list[str]:
    """Class-level calls of an eager `gettext` imported as `_`: translated once, at import,
    in whatever language was active then (English), never in the user's."""
    import ast

    tree = ast.parse(path.read_text())
    eager = any(
        isinstance(node, ast.ImportFrom) and node.module == "django.utils.translation"
        and any(a.name == "gettext" and a.asname == "_" for a in node.names)
        for node in tree.body
    )  # fmt: skip
    if not eager:
        return []
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for inner in ast.walk(statement):
                if isinstance(inner, ast.Call) and getattr(inner.func, "id", None) == "_":
                    found.append(f"{path}:{inner.lineno}")
    return found


def test_no_class_level_label_is_translated_at_import():
    root = Path(settings.BASE_DIR) / "xietong"
    found = [
        hit
        for path in sorted(root.rglob("*.py"))
        if "tests" not in path.parts and "migrations" not in path.parts
        for hit in _eager_in_class_bodies(path)
    ]
    assert found == []
