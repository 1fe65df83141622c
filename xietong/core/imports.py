"""Import and export of tables (CSV and XLSX), all or nothing.

An app describes one importable table with an `ImportSpec` (its columns, how to clean one row,
how to save all rows, how to export) and registers it with `register(spec)`. The shell gives
every spec an upload page with a preview, and an export in the same format the import reads,
so exporting and importing again changes nothing.

Every row is checked first, then (once every row is clean) what only the whole file shows,
through the spec's `check_all`; if anything is bad nothing is saved and the report names each
bad row (its line in the file), column and reason. If all are good, all rows are saved in one
transaction — as a background job with progress, so large files do not block the browser.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext as _

from xietong.core import jobs
from xietong.core.models import Company, User

PREVIEW_ROWS = 20


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, missing columns, no rows)."""


class RowError(Exception):
    """A row is bad: `problems` maps a column name (or "" for the row) to a message."""

    def __init__(self, problems: dict[str, str] | str) -> None:
        super().__init__(problems)
        self.problems = {"": problems} if isinstance(problems, str) else problems


@dataclass(frozen=True)
class Column:
    name: str
    label: str | Promise
    required: bool = False
    help: str | Promise = ""


@dataclass(frozen=True)
class Problem:
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        if self.column:
            return _("Row %(line)d, %(column)s: %(message)s") % {
                "line": self.line,
                "column": self.column,
                "message": self.message,
            }
        return _("Row %(line)d: %(message)s") % {"line": self.line, "message": self.message}


@dataclass
class Table:
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]  # (line in the file, values by column name)


@dataclass
class Report:
    total: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)


class ImportSpec:
    """One importable table. Subclasses set the class attributes and implement the hooks."""

    key: str = ""
    title: str | Promise = ""
    permission: str = ""
    columns: list[Column] = []

    def begin(self, company: Company) -> Any:
        """Load what checking rows needs (lookups), once per file."""
        return None

    def clean_row(self, state: Any, values: dict[str, str]) -> dict[str, Any]:
        """Turn one row's strings into clean values; raise RowError naming the bad columns."""
        raise NotImplementedError

    def row_key(self, row: dict[str, Any]) -> Hashable | None:
        """What makes a row unique within the file (None: no check)."""
        return None

    def check_all(self, state: Any, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        """Problems only the whole file shows (a loop across rows, overlapping ranges), as
        (line, column, message); each row holds its line as `row["_line"]`. Called once every
        row is clean."""
        return []

    def save(
        self,
        state: Any,
        rows: list[dict[str, Any]],
        *,
        company: Company,
        actor: User | None,
        progress: Callable[[int], None],
    ) -> dict[str, int]:
        """Save every clean row (called inside one transaction); return counts."""
        raise NotImplementedError

    def export(self, company: Company) -> Iterable[dict[str, Any]]:
        """The rows of the company, keyed by column name, as the import reads them."""
        raise NotImplementedError


_CHOICES: dict[Any, dict[str, str]] = {}
TRUE_WORDS = {"1", "yes", "y", "true", "x", "是"}
FALSE_WORDS = {"0", "no", "n", "false", "", "否"}


class Cells:
    """Typed values from one row's strings; problems are collected by column and raised
    together by `done()`, so a row reports every bad cell at once.

        cells = Cells(values)
        qty = cells.decimal("quantity", minimum=Decimal(0))
        unit = cells.lookup("uom", units, label=_("unit"), required=True)
        cells.done()  # raises RowError naming each bad column
    """

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.problems: dict[str, str] = {}

    def error(self, name: str, message: str) -> None:
        self.problems.setdefault(name, message)

    def text(self, name: str, *, required: bool = False, max_length: int | None = None) -> str:
        value = self.values.get(name, "").strip()
        if required and not value:
            self.error(name, _("a value is required"))
        elif max_length is not None and len(value) > max_length:
            self.error(
                name,
                _("at most %(count)d characters, not %(length)d")
                % {"count": max_length, "length": len(value)},
            )
        return value

    def decimal(
        self,
        name: str,
        *,
        default: Decimal | None = Decimal(0),
        minimum: Decimal | None = Decimal(0),
        below: Decimal | None = None,
    ) -> Decimal | None:
        raw = self.values.get(name, "").strip()
        if not raw:
            return default
        try:
            number = Decimal(raw)
            if not number.is_finite():
                raise ArithmeticError
        except ArithmeticError:
            self.error(name, _("“%(value)s” is not a number") % {"value": raw})
            return default
        if minimum is not None and number < minimum:
            self.error(name, _("must be at least %(min)s") % {"min": minimum})
        elif below is not None and number >= below:
            self.error(name, _("must be below %(max)s") % {"max": below})
        return number

    def integer(
        self, name: str, *, default: int | None = 0, minimum: int = 0, maximum: int = 32767
    ) -> int | None:
        raw = self.values.get(name, "").strip()
        if not raw:
            return default
        try:
            number = int(raw)
        except ValueError:
            self.error(name, _("“%(value)s” is not a whole number") % {"value": raw})
            return default
        if not minimum <= number <= maximum:
            self.error(
                name,
                _("must be a whole number from %(min)d to %(max)d")
                % {"min": minimum, "max": maximum},
            )
        return number

    def boolean(self, name: str, *, default: bool = False) -> bool:
        if name not in self.values:
            return default
        raw = self.values[name].strip().lower()
        if raw in TRUE_WORDS:
            return True
        if raw in FALSE_WORDS:
            return False if raw or not default else default
        self.error(name, _("write 1 or 0 (yes or no)"))
        return default

    def date(self, name: str) -> dt.date | None:
        raw = self.values.get(name, "").strip()
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            self.error(name, _("date must be YYYY-MM-DD"))
            return None

    def choice(self, name: str, choices: Any, *, default: str = "") -> str:
        """One of a TextChoices' values (matched case-insensitively)."""
        raw = self.values.get(name, "").strip().lower()
        if not raw:
            if not default:
                self.error(name, _("a value is required"))
            return default
        values = _CHOICES.get(choices)
        if values is None:
            values = _CHOICES[choices] = {str(v).lower(): str(v) for v in choices}
        if raw not in values:
            self.error(
                name,
                _("“%(value)s” is not one of: %(choices)s")
                % {"value": raw, "choices": ", ".join(values.values())},
            )
            return default
        return values[raw]

    def lookup(
        self,
        name: str,
        mapping: dict[str, Any],
        *,
        label: str | Promise,
        required: bool = False,
        fold: bool = True,
    ) -> Any:
        """The object `mapping` holds under the cell's text (lower-cased when `fold`)."""
        raw = self.values.get(name, "").strip()
        if not raw:
            if required:
                self.error(name, _("a value is required"))
            return None
        found = mapping.get(raw.lower() if fold else raw)
        if found is None:
            self.error(name, _("unknown %(what)s “%(value)s”") % {"what": label, "value": raw})
        return found

    def done(self) -> None:
        if self.problems:
            raise RowError(self.problems)


_SPECS: dict[str, ImportSpec] = {}


def register(spec: ImportSpec) -> None:
    if not spec.key or not spec.permission or not spec.columns:
        raise ValueError("an ImportSpec needs a key, a permission and columns")
    _SPECS[spec.key] = spec


def specs() -> list[ImportSpec]:
    return list(_SPECS.values())


def spec_for(key: str) -> ImportSpec:
    return _SPECS[key]


def import_actions(request: Any, *keys: str) -> list[tuple[str, str]]:
    """List-screen buttons (label, url) to the import/export pages of the given specs that the
    user may use."""
    from django.urls import reverse

    from xietong.core.permissions import has_perm

    return [
        (
            _("Import / export: %(title)s") % {"title": spec.title},
            reverse(f"core:import_{spec.key}"),
        )
        for spec in map(spec_for, keys)
        if has_perm(request, spec.permission)
    ]


# --- reading and writing files ---------------------------------------------------------------


def _cell(value: Any) -> str:
    """A cell as the text the import reads back (dates ISO, decimals without exponent)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return (
            format(value.normalize(), "f")
            if value == value.to_integral()
            else format(value, "f").rstrip("0")
        )
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_table(data: bytes, filename: str, spec: ImportSpec) -> Table:
    """Read a CSV (UTF-8) or XLSX file; refuse it whole when it cannot be used."""
    if filename.lower().endswith(".xlsx"):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
        except Exception as exc:  # openpyxl raises many kinds for a broken file
            raise ImportFileError(_("The file is not a readable XLSX workbook.")) from exc
        lines = ([_cell(v) for v in row] for row in sheet.iter_rows(values_only=True))
        numbered: Iterator[tuple[int, list[str]]] = enumerate(lines, start=1)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFileError(_("The file must be UTF-8 encoded CSV or XLSX.")) from exc
        reader = csv.reader(io.StringIO(text))
        numbered = ((reader.line_num, row) for row in reader)
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, str]]] = []
    for line, cells in numbered:
        if not any(c.strip() for c in cells):
            continue
        if header is None:
            header = [c.strip().lower() for c in cells]
            continue
        rows.append(
            (
                line,
                {
                    name: (cells[i].strip() if i < len(cells) else "")
                    for i, name in enumerate(header)
                    if name
                },
            )
        )
    if header is None:
        raise ImportFileError(_("The file is empty."))
    missing = [c.name for c in spec.columns if c.required and c.name not in header]
    if missing:
        raise ImportFileError(_("Missing column(s): %(cols)s") % {"cols": ", ".join(missing)})
    if not rows:
        raise ImportFileError(_("The file has no rows."))
    return Table(header=header, rows=rows)


def import_check(
    spec: ImportSpec,
    *,
    company: Company,
    table: Table,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Clean every row; collect every problem (nothing is saved)."""
    state = spec.begin(company)
    report = Report(total=len(table.rows))
    seen: dict[Hashable, int] = {}
    for index, (line, values) in enumerate(table.rows, start=1):
        try:
            row = spec.clean_row(state, values)
        except RowError as exc:
            report.problems.extend(
                Problem(line, column, str(message)) for column, message in exc.problems.items()
            )
        else:
            key = spec.row_key(row)
            if key is not None and key in seen:
                report.problems.append(
                    Problem(line, "", _("duplicate of row %(line)d") % {"line": seen[key]})
                )
            else:
                if key is not None:
                    seen[key] = line
                row["_line"] = line
                report.rows.append(row)
        if progress and index % 500 == 0:
            progress(index)
    if not report.problems and report.rows:
        report.problems.extend(
            Problem(line, column, str(message))
            for line, column, message in spec.check_all(state, report.rows)
        )
    return report


def import_apply(
    spec: ImportSpec,
    *,
    company: Company,
    actor: User | None,
    report: Report,
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Save all clean rows in one transaction (call only when the report is ok)."""
    if not report.ok:
        raise ValueError("refusing to save a report with problems")
    state = spec.begin(company)
    with transaction.atomic():
        return spec.save(
            state, report.rows, company=company, actor=actor, progress=progress or (lambda n: None)
        )


def export_table(spec: ImportSpec, *, company: Company, fmt: str) -> tuple[bytes, str]:
    """The company's rows in the import's own format: (content, content type)."""
    names = [c.name for c in spec.columns]
    rows = ([_cell(row.get(n)) for n in names] for row in spec.export(company))
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook(write_only=True)
        sheet = workbook.create_sheet(title=spec.key[:31])
        sheet.append(names)
        for row in rows:
            sheet.append(row)
        buffer = io.BytesIO()
        workbook.save(buffer)
        return (
            buffer.getvalue(),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(names)
    writer.writerows(rows)
    return ("\ufeff" + text.getvalue()).encode(), "text/csv; charset=utf-8"


# --- the background job ----------------------------------------------------------------------


def upload_store(data: bytes, filename: str) -> str:
    """Keep an uploaded file until its import job has run; returns its token."""
    suffix = ".xlsx" if filename.lower().endswith(".xlsx") else ".csv"
    token = uuid.uuid4().hex + suffix
    folder = Path(settings.VAR_DIR) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / token).write_bytes(data)
    return token


def _upload_path(token: str) -> Path:
    name = Path(token).name  # never a path from outside
    if name != token or not name[:-5].isalnum():
        raise ImportFileError(_("Unknown upload."))
    return Path(settings.VAR_DIR) / "uploads" / name


def upload_read(token: str) -> bytes:
    path = _upload_path(token)
    if not path.exists():
        raise ImportFileError(_("The uploaded file is no longer available; upload it again."))
    return path.read_bytes()


def import_job(
    context: jobs.JobContext, *, spec: str, upload: str, filename: str
) -> dict[str, Any]:
    """Job: check the whole file, then save it whole, or fail with every problem listed."""
    import_spec = spec_for(spec)
    try:
        table = read_table(upload_read(upload), filename, import_spec)
    except ImportFileError as exc:
        raise jobs.JobError(str(exc)) from exc
    total = len(table.rows)
    context.progress(0, total, _("Checking %(count)d rows…") % {"count": total})
    report = import_check(
        import_spec,
        company=context.company,
        table=table,
        progress=lambda n: context.progress(n, total, _("Checking…")),
    )
    if report.problems:
        _upload_path(upload).unlink(missing_ok=True)
        raise jobs.JobError(
            _("%(count)d problem(s) found; nothing was imported.")
            % {"count": len(report.problems)},
            details={"errors": [str(p) for p in report.problems[:1000]]},
        )
    context.progress(0, total, _("Saving…"))
    counts = import_apply(import_spec, company=context.company, actor=context.user, report=report)
    _upload_path(upload).unlink(missing_ok=True)
    context.progress(total, total, _("Imported."))
    message = _("%(count)d row(s) imported: %(created)d added, %(updated)d updated.") % {
        "count": total,
        "created": counts.get("created", 0),
        "updated": counts.get("updated", 0),
    }
    return {
        "message": message,
        **counts,
    }


jobs.register("core.import", import_job)
