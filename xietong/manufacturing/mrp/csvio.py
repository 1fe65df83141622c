"""CSV input and output of the MRP engine (docs/mrp-csv.md describes the files).

`read_input` reads and validates every input file before anything else happens and raises
`MrpCsvError` listing each problem with its file, line and column. `write_output` writes the
result files into a temporary directory inside the output directory and moves them into place
at the end, so a failed run leaves the output directory as it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.utils.translation import gettext as _

from .engine import (
    BUCKET_DAYS,
    ITEM_PARAMETERS,
    LOT_RULES,
    BomTable,
    DatedTable,
    ItemTable,
    PlanError,
    PlanInput,
    PlanResult,
    _prepare,
)

MAX_PROBLEMS = 50
ITEM_COLUMNS = ("item", "make_or_buy", *ITEM_PARAMETERS)
REQUIRED = {
    "items.csv": ITEM_COLUMNS,
    "bom.csv": ("parent", "component", "qty_per", "scrap_pct"),
    "receipts.csv": ("item", "date", "qty"),
    "demands.csv": ("item", "date", "qty", "reference"),
}
OUTPUT_FILES = ("planned_orders.csv", "pegging.csv", "exceptions.csv")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None  # 1 = header line
    column: str | None
    message: str

    def __str__(self) -> str:
        if self.line is None:
            return _("%(file)s: %(message)s") % {"file": self.file, "message": self.message}
        if self.column is None:
            return _("%(file)s, line %(line)s: %(message)s") % {
                "file": self.file,
                "line": self.line,
                "message": self.message,
            }
        return _("%(file)s, line %(line)s, column %(column)s: %(message)s") % {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "message": self.message,
        }


class MrpCsvError(ValueError):
    """Bad input files; ``problems`` lists each one (file, line, column, message)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


class _Reader:
    """Reads one CSV file into columns, recording problems instead of stopping."""

    def __init__(self, directory: Path, name: str, problems: list[Problem]) -> None:
        self.name = name
        self.problems = problems
        self.rows: list[tuple[int, dict[str, str]]] = []
        self.header: list[str] = []
        path = directory / name
        if not path.is_file():
            self.problem(None, None, _("the file is missing"))
            self.ok = False
            return
        try:
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle)
                self.header = [h.strip() for h in next(reader, [])]
                for values in reader:
                    if not any(v.strip() for v in values):
                        continue
                    if len(values) > len(self.header):
                        self.problem(reader.line_num, None, _("more values than columns"))
                        continue
                    row = {h: v.strip() for h, v in zip(self.header, values, strict=False)}
                    self.rows.append((reader.line_num, row))
        except (UnicodeDecodeError, csv.Error) as error:
            self.problem(None, None, _("cannot be read as UTF-8 CSV: %(error)s") % {"error": error})
            self.ok = False
            return
        self.ok = True
        for column in REQUIRED.get(name, ()):
            if column not in self.header:
                self.problem(1, column, _("the column is missing"))
                self.ok = False

    def problem(self, line: int | None, column: str | None, message: str) -> None:
        self.problems.append(Problem(self.name, line, column, message))

    def column(
        self, name: str, parse: Callable[[str], Any], default: Any = None
    ) -> Iterator[tuple[int, Any]]:
        """(line, parsed value) per row; a missing optional column gives ``default``."""
        for line, row in self.rows:
            text = row.get(name, "")
            if text == "" and default is not None:
                yield line, default
                continue
            try:
                yield line, parse(text)
            except ValueError as error:
                self.problem(line, name, str(error))
                yield line, None


def _number(text: str, *, minimum: float = 0.0, integer: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(_("not a number: %(value)r") % {"value": text}) from None
    if not math.isfinite(value):
        raise ValueError(_("not a number: %(value)r") % {"value": text})
    if integer and value != int(value):
        raise ValueError(_("not a whole number: %(value)r") % {"value": text})
    if value < minimum:
        if minimum == 0:
            raise ValueError(_("negative quantity: %(value)r") % {"value": text})
        raise ValueError(
            _("%(value)r is below the minimum %(minimum)s") % {"value": text, "minimum": minimum}
        )
    return value


def _positive(text: str) -> float:
    value = _number(text)
    if value <= 0:
        raise ValueError(_("must be greater than zero: %(value)r") % {"value": text})
    return value


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(_("not a date (YYYY-MM-DD): %(value)r") % {"value": text}) from None


def _code(text: str) -> str:
    if not text:
        raise ValueError(_("the item code is empty"))
    return text


def _make_or_buy(text: str) -> str:
    value = text.lower()
    if value not in {"make", "buy"}:
        raise ValueError(_("expected make or buy, not %(value)r") % {"value": text})
    return value


def _lot_rule(text: str) -> str:
    value = text.upper()
    if value not in LOT_RULES:
        raise ValueError(
            _("unknown lot rule %(value)r (expected LFL, FOQ, EOQ, POQ or MINMAX)")
            % {"value": text}
        )
    return value


def _flag(text: str) -> bool:
    value = text.lower()
    if value in {"1", "true", "yes", "y"}:
        return True
    if value in {"0", "false", "no", "n", ""}:
        return False
    raise ValueError(_("expected true or false, not %(value)r") % {"value": text})


def _values(reader: _Reader, name: str, parse: Callable[[str], Any], default: Any = None) -> list:
    return [value for _line, value in reader.column(name, parse, default)]


def read_input(
    directory: str | Path, *, start: dt.date, bucket: str, horizon: int, frozen_days: int = 0,
    slushy_days: int = 0,
) -> PlanInput:  # fmt: skip
    """Read and validate items.csv, bom.csv, receipts.csv, demands.csv (and the optional
    calendar.csv of non-working dates and mps.csv of firm planned production) from
    ``directory``. An item with rows in mps.csv gets no new planned order due in a bucket
    starting inside `frozen_days`, nor in one inside `slushy_days` holding a row of it (the
    time fences of the master schedule). Raises MrpCsvError."""
    directory = Path(directory)
    problems: list[Problem] = []
    readers = {name: _Reader(directory, name, problems) for name in REQUIRED}
    calendar = None
    if (directory / "calendar.csv").is_file():
        calendar = _Reader(directory, "calendar.csv", problems)
        if calendar.ok and "date" not in calendar.header:
            calendar.problem(1, "date", _("the column is missing"))
            calendar.ok = False
    master = None
    if (directory / "mps.csv").is_file():
        master = _Reader(directory, "mps.csv", problems)
        for column in ("item", "date", "qty") if master.ok else ():
            if column not in master.header:
                master.problem(1, column, _("the column is missing"))
                master.ok = False
    if problems:
        raise MrpCsvError(problems[:MAX_PROBLEMS])

    items = readers["items.csv"]
    codes = _values(items, "item", _code)
    rules = _values(items, "lot_rule", _lot_rule, default="LFL")
    numbers = {
        name: _values(items, name, _number, default=0.0)
        for name in ("lot_qty", "multiple", "min_qty", "max_qty", "safety_stock", "on_hand")
    }
    item_table = {
        "make_or_buy": _values(items, "make_or_buy", _make_or_buy),
        "lead_time_days": _values(
            items, "lead_time_days", lambda t: int(_number(t, integer=True)), default=0
        ),
        "phantom": _values(items, "phantom", _flag, default=False),
    }
    known: dict[str, int] = {}
    for k, (line, _row) in enumerate(items.rows):
        code = codes[k]
        if code is None:
            continue
        if code in known:
            items.problem(line, "item", _("item %(item)r appears twice") % {"item": code})
        known[code] = line
        rule, lot = rules[k], numbers["lot_qty"][k]
        if rule in {"FOQ", "EOQ"} and lot is not None and lot <= 0:
            items.problem(
                line, "lot_qty", _("lot rule %(rule)s needs a lot_qty above zero") % {"rule": rule}
            )
        if rule == "POQ" and lot is not None and (lot < 1 or lot != int(lot)):
            items.problem(
                line, "lot_qty", _("lot rule POQ needs lot_qty = a whole number of periods ≥ 1")
            )
        low, high = numbers["min_qty"][k], numbers["max_qty"][k]
        if rule == "MINMAX" and low is not None and high is not None and high < low:
            items.problem(line, "max_qty", _("max_qty is below min_qty"))

    def item_ref(reader: _Reader, column: str) -> list[str | None]:
        out = []
        for line, value in reader.column(column, _code):
            if value is not None and value not in known:
                reader.problem(line, column, _("unknown item %(item)r") % {"item": value})
            out.append(value)
        return out

    bom = readers["bom.csv"]
    bom_cols = {
        "parent": item_ref(bom, "parent"),
        "component": item_ref(bom, "component"),
        "qty_per": _values(bom, "qty_per", _positive),
        "scrap_pct": _values(bom, "scrap_pct", _number, default=0.0),
    }
    for (line, _row), parent, component in zip(
        bom.rows, bom_cols["parent"], bom_cols["component"], strict=True
    ):
        if parent is not None and parent == component:
            bom.problem(line, "component", _("an item cannot be its own component"))
    dated = {}
    for name in ("receipts.csv", "demands.csv"):
        reader = readers[name]
        dated[name] = {
            "item": item_ref(reader, "item"),
            "date": _values(reader, "date", _date),
            "qty": _values(reader, "qty", _number),
            "reference": _values(reader, "reference", str, default=""),
        }
    non_working = []
    if calendar is not None:
        non_working = [d for d in _values(calendar, "date", _date) if d is not None]
    firm = None
    no_plan_before = firm_until = None
    if master is not None:
        firm = {
            "item": item_ref(master, "item"),
            "date": _values(master, "date", _date),
            "qty": _values(master, "qty", _number),
            "reference": _values(master, "reference", str, default=""),
        }
        made = {code for code, kind in zip(codes, item_table["make_or_buy"], strict=True)
                if kind == "make"}  # fmt: skip
        for (line, _row), code in zip(master.rows, firm["item"], strict=True):
            if code is not None and code in known and code not in made:
                master.problem(
                    line, "item", _("item %(item)r is bought, not made") % {"item": code}
                )
        for n in range(len(master.rows)):
            if not firm["reference"][n] and firm["item"][n] and firm["date"][n]:
                firm["reference"][n] = f"MPS {firm['item'][n]} {firm['date'][n]}"
        days = BUCKET_DAYS[bucket]
        scheduled = {code for code in firm["item"] if code is not None}
        fenced = np.asarray([code in scheduled for code in codes], dtype=bool)
        no_plan_before = np.where(fenced, -(-frozen_days // days), 0)
        firm_until = np.where(fenced, -(-slushy_days // days), 0)
    if problems:
        raise MrpCsvError(problems[:MAX_PROBLEMS])

    try:
        inp = PlanInput(
            items=ItemTable(code=codes, lot_rule=rules, **numbers, **item_table),
            bom=BomTable(**bom_cols),
            receipts=DatedTable(**dated["receipts.csv"]),
            demands=DatedTable(**dated["demands.csv"]),
            start=start,
            bucket=bucket,
            horizon=horizon,
            non_working_days=non_working,
            firm=DatedTable(**firm) if firm is not None else None,
            no_plan_before=no_plan_before,
            firm_until=firm_until,
        )
        _prepare(inp)  # the engine's own checks (BOM cycles) before anything is written
    except PlanError as error:
        raise MrpCsvError([_problem_of(error, readers)]) from error
    return inp


def _problem_of(error: PlanError, readers: dict[str, _Reader]) -> Problem:
    if error.code == "bom_cycle":
        cycle = " → ".join(error.items)
        line = None
        bom = readers["bom.csv"]
        if len(error.items) >= 2:
            for row_line, row in bom.rows:
                if (row.get("parent"), row.get("component")) == tuple(error.items[:2]):
                    line = row_line
                    break
        return Problem(
            "bom.csv",
            line,
            "component" if line else None,
            _("BOM cycle: %(items)s") % {"items": cycle},
        )
    file = f"{error.table}.csv" if error.table else "items.csv"
    line = None
    if error.table and error.row is not None and file in readers:
        rows = readers[file].rows
        line = rows[error.row][0] if error.row < len(rows) else None
    return Problem(file, line, error.field, str(error))


def plan_error_message(error: PlanError) -> str:
    """A translated message for engine errors outside the CSV path (bucket, horizon)."""
    if error.code == "bad_bucket":
        return _("unknown bucket %(value)r (expected day or week)") % {"value": error.value}
    if error.code == "bad_horizon":
        return _("the horizon must be at least one bucket")
    return str(error)


# --- output ----------------------------------------------------------------------------------


def format_qty(value: float) -> str:
    """Six decimals at most, no trailing zeros; values within 1e-9 of zero are 0."""
    if abs(value) < 1e-9:
        return "0"
    text = f"{round(float(value), 6):.6f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def _dates(values: np.ndarray) -> list[str]:
    """ISO dates ('' for NaT), formatting each distinct value once."""
    if len(values) == 0:
        return []
    uniq, inverse = np.unique(values, return_inverse=True)
    text = np.asarray(["" if np.isnat(v) else str(v) for v in uniq], dtype=object)
    return text[inverse.reshape(-1)].tolist()


def _qtys(values: np.ndarray) -> list[str]:
    return [format_qty(v) for v in values.tolist()]


def write_output(result: PlanResult, directory: str | Path) -> list[Path]:
    """Write planned_orders.csv, pegging.csv and exceptions.csv into ``directory`` (created
    if missing): first into a temporary directory inside it, then moved into place."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".mrp-", dir=directory))
    try:
        orders = result.planned_orders
        _write(
            scratch / "planned_orders.csv",
            ("id", "item", "make_or_buy", "release_date", "due_date", "qty", "past_due"),
            zip(
                orders.id.tolist(),
                orders.item.tolist(),
                orders.make_or_buy.tolist(),
                _dates(orders.release_date),
                _dates(orders.due_date),
                _qtys(orders.qty),
                ["1" if p else "0" for p in orders.past_due.tolist()],
                strict=True,
            ),
        )
        peg = result.pegging
        _write(
            scratch / "pegging.csv",
            ("order_id", "item", "kind", "demand_item", "demand_date", "reference", "qty"),
            zip(
                peg.order_id.tolist(),
                orders.item[peg.order_id - 1].tolist() if len(peg) else [],
                peg.kind.tolist(),
                peg.item.tolist(),
                _dates(peg.date),
                peg.reference.tolist(),
                _qtys(peg.qty),
                strict=True,
            ),
        )
        exc = result.exceptions
        _write(
            scratch / "exceptions.csv",
            ("item", "kind", "date", "suggested_date", "qty", "reference", "order_id"),
            zip(
                exc.item.tolist(),
                exc.kind.tolist(),
                _dates(exc.date),
                _dates(exc.suggested_date),
                _qtys(exc.qty),
                exc.reference.tolist(),
                [str(o) if o else "" for o in exc.order_id.tolist()],
                strict=True,
            ),
        )
        written = []
        for name in OUTPUT_FILES:
            os.replace(scratch / name, directory / name)
            written.append(directory / name)
        return written
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _write(path: Path, header: tuple[str, ...], rows: Any) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
