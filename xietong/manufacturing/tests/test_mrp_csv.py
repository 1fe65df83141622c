"""`xietong mrp run` on CSV files: a good run writes the three files; each kind of bad input
names its file, line and column and leaves the output directory untouched. No database."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from xietong.manufacturing.mrp.csvio import format_qty

FILES = {
    "items.csv": [
        "item,make_or_buy,lead_time_days,lot_rule,lot_qty,multiple,min_qty,max_qty,safety_stock,on_hand,phantom",
        "A,make,7,LFL,,,,,,10,",
        "B,make,14,FOQ,50,,,,,0,no",
        "C,buy,7,LFL,,,,,2,5,",
    ],
    "bom.csv": ["parent,component,qty_per,scrap_pct", "A,B,2,0", "A,C,1,10", "B,C,1,0"],
    "receipts.csv": ["item,date,qty,reference", "C,2026-01-19,20,PO1"],
    "demands.csv": ["item,date,qty,reference", "A,2026-01-26,30,SO1", "A,2026-02-09,20,SO2"],
}


def write_case(directory: Path, changes: dict[str, list[str] | None] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    files = {**FILES, **(changes or {})}
    for name, lines in files.items():
        if lines is not None:
            (directory / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


def run(input_dir: Path, output_dir: Path, *extra: str) -> None:
    call_command(
        "mrp",
        "run",
        "--input",
        str(input_dir),
        "--output",
        str(output_dir),
        "--start",
        "2026-01-05",
        "--bucket",
        "week",
        "--horizon",
        "8",
        *extra,
    )


def read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_good_run_writes_the_three_files(tmp_path: Path) -> None:
    output = tmp_path / "out"
    run(write_case(tmp_path / "in"), output)
    assert sorted(p.name for p in output.iterdir()) == [
        "exceptions.csv",
        "pegging.csv",
        "planned_orders.csv",
    ]
    orders = read(output / "planned_orders.csv")
    assert [(o["item"], o["release_date"], o["due_date"], o["qty"]) for o in orders] == [
        ("A", "2026-01-19", "2026-01-26", "20"),
        ("A", "2026-02-02", "2026-02-09", "20"),
        ("B", "2026-01-05", "2026-01-19", "50"),
        ("B", "2026-01-19", "2026-02-02", "50"),
        ("C", "2026-01-05", "2026-01-05", "47"),
        ("C", "2026-01-12", "2026-01-19", "52"),
        ("C", "2026-01-26", "2026-02-02", "22"),
    ]
    assert orders[0]["make_or_buy"] == "make" and orders[4]["past_due"] == "1"
    pegging = read(output / "pegging.csv")
    assert {(p["order_id"], p["reference"], p["qty"]) for p in pegging if p["order_id"] == "5"} == {
        ("5", "SO1", "38"),
        ("5", "SO2", "9"),
    }
    exceptions = read(output / "exceptions.csv")
    assert [(e["item"], e["kind"], e["date"], e["suggested_date"]) for e in exceptions] == [
        ("C", "expedite", "2026-01-19", "2026-01-05"),
        ("C", "past_due", "2025-12-29", "2026-01-05"),
        ("C", "below_safety_stock", "2026-01-05", "2026-01-12"),
    ]


def test_calendar_and_no_pegging(tmp_path: Path) -> None:
    weekends = ["2026-01-17", "2026-01-18", "2026-01-24", "2026-01-25"]
    changes = {"calendar.csv": ["date", *weekends]}
    output = tmp_path / "out"
    run(write_case(tmp_path / "in", changes), output, "--no-pegging")
    orders = read(output / "planned_orders.csv")
    # A due Monday 2026-01-26, 7 working days back over two weekends
    assert orders[0]["release_date"] == "2026-01-15"
    assert read(output / "pegging.csv") == []


ITEMS_HEADER = FILES["items.csv"][0]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"receipts.csv": None}, "receipts.csv: the file is missing"),
        (
            {"items.csv": [ITEMS_HEADER.replace(",lot_rule", ""), "A,make,7,,,,,,10,"]},
            "items.csv, line 1, column lot_rule: the column is missing",
        ),
        (
            {"items.csv": [*FILES["items.csv"][:3], "C,buy,7,LFL,,,,,2,lots,"]},
            "items.csv, line 4, column on_hand: not a number: 'lots'",
        ),
        (
            {"demands.csv": ["item,date,qty,reference", "A,26/01/2026,30,SO1"]},
            "demands.csv, line 2, column date: not a date (YYYY-MM-DD): '26/01/2026'",
        ),
        (
            {"bom.csv": [*FILES["bom.csv"], "B,X9,1,0"]},
            "bom.csv, line 5, column component: unknown item 'X9'",
        ),
        (
            {"items.csv": [*FILES["items.csv"][:3], "C,buy,7,JIT,,,,,2,5,"]},
            "items.csv, line 4, column lot_rule: unknown lot rule 'JIT'",
        ),
        (
            {"receipts.csv": ["item,date,qty,reference", "C,2026-01-19,-20,PO1"]},
            "receipts.csv, line 2, column qty: negative quantity: '-20'",
        ),
        (
            {"bom.csv": [*FILES["bom.csv"], "C,A,1,0"]},
            "bom.csv, line 2, column component: BOM cycle: A → B → C → A",
        ),
        (
            {"items.csv": [*FILES["items.csv"], "A,buy,1,LFL,,,,,,,"]},
            "items.csv, line 5, column item: item 'A' appears twice",
        ),
        (
            {
                "items.csv": [
                    *FILES["items.csv"][:2],
                    "B,make,14,FOQ,,,,,,0,no",
                    FILES["items.csv"][3],
                ]
            },
            "items.csv, line 3, column lot_qty: lot rule FOQ needs a lot_qty above zero",
        ),
    ],
    ids=[
        "missing file",
        "missing column",
        "bad number",
        "bad date",
        "unknown item",
        "unknown lot rule",
        "negative quantity",
        "BOM cycle",
        "duplicate item",
        "FOQ without lot",
    ],
)
def test_bad_input_names_file_line_column_and_writes_nothing(
    tmp_path: Path, changes: dict[str, list[str] | None], expected: str
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "planned_orders.csv").write_text("previous plan\n", encoding="utf-8")
    with pytest.raises(CommandError) as error:
        run(write_case(tmp_path / "in", changes), output)
    assert expected in str(error.value)
    assert [p.name for p in output.iterdir()] == ["planned_orders.csv"]
    assert (output / "planned_orders.csv").read_text(encoding="utf-8") == "previous plan\n"


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    changes = {"demands.csv": ["item,date,qty,reference", "Z,2026-02-31,-2,SO2"]}
    with pytest.raises(CommandError) as error:
        run(write_case(tmp_path / "in", changes), tmp_path / "out")
    assert str(error.value).splitlines() == [
        "demands.csv, line 2, column item: unknown item 'Z'",
        "demands.csv, line 2, column date: not a date (YYYY-MM-DD): '2026-02-31'",
        "demands.csv, line 2, column qty: negative quantity: '-2'",
    ]
    assert not (tmp_path / "out").exists()


def test_bad_start_date(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--start"):
        call_command(
            "mrp", "run", "--input", str(tmp_path), "--output", str(tmp_path), "--start", "soon"
        )


def test_firm_mps_rows_and_their_fences(tmp_path: Path) -> None:
    # A: 25 firm in week 3 (its components planned for it), 0 firmly in week 5; weeks 0-1
    # frozen, 2-5 slushy: the 15 still short in week 5 can only come in week 6 (expedite)
    mps = {"mps.csv": ["item,date,qty", "A,2026-01-26,25", "A,2026-02-09,0"]}
    output = tmp_path / "out"
    run(write_case(tmp_path / "in", mps), output, "--frozen-days", "14", "--slushy-days", "42")
    orders = read(output / "planned_orders.csv")
    assert [(o["item"], o["due_date"], o["qty"]) for o in orders if o["item"] == "A"] == [
        ("A", "2026-02-16", "15")
    ]
    assert [(e["kind"], e["date"], e["suggested_date"], e["qty"])
            for e in read(output / "exceptions.csv") if e["item"] == "A"] == [
        ("expedite", "2026-02-09", "2026-02-16", "15")]  # fmt: skip
    firm = [p for p in read(output / "pegging.csv") if p["kind"] == "firm"]
    assert {(p["item"], p["reference"]) for p in firm} == {("B", "MPS A 2026-01-26"),
                                                           ("C", "MPS A 2026-01-26")}  # fmt: skip
    # without fences the firm rows are supply and nothing more: A is planned in week 5
    run(write_case(tmp_path / "in", mps), output)
    assert [(o["item"], o["due_date"], o["qty"]) for o in read(output / "planned_orders.csv")
            if o["item"] == "A"] == [("A", "2026-02-09", "15")]  # fmt: skip
    # a bought item has no master schedule
    bad = {"mps.csv": ["item,date,qty", "C,2026-01-26,5"]}
    with pytest.raises(CommandError, match="mps.csv, line 2, column item: item 'C' is bought"):
        run(write_case(tmp_path / "bad", bad), tmp_path / "none")


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (2.5, "2.5"), (1 / 3, "0.333333"), (1e-10, "0"), (-1e-12, "0"), (120.0, "120")],
)
def test_quantities_are_rounded_and_trimmed(value: float, text: str) -> None:
    assert format_qty(value) == text
