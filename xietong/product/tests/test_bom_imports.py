"""Import and export of BOMs and routings: round trips are the identity, a bad row saves nothing
and names its line, column and reason, whole-file checks (loops, overlapping versions, one active
routing) refuse the file, a BOM or routing in the file is replaced whole and nothing else is
touched, and each company sees only its own. Also the framework's `check_all` hook."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from xietong.core import imports, jobs
from xietong.core.models import AuditEntry, Company
from xietong.product import bom as svc
from xietong.product.models import Bom, BomLine, Product, Routing, RoutingOperation
from xietong.product.tests.bom_factories import (
    line,
    make_bom,
    make_item,
    make_routing,
    make_work_center,
)

pytestmark = pytest.mark.django_db

D = Decimal
BOM_HEADER = (
    "product,version,kind,quantity,uom,effective_from,effective_to,active,"
    "sequence,component,component_quantity,component_uom,scrap_percent\n"
)
ROUTING_HEADER = "product,routing,active,sequence,operation,work_center,setup_minutes,run_minutes\n"


def check(key: str, company: Company, data: bytes | str, filename: str = "f.csv") -> Any:
    spec = imports.spec_for(key)
    raw = data.encode() if isinstance(data, str) else data
    return imports.import_check(
        spec, company=company, table=imports.read_table(raw, filename, spec)
    )


def run(key: str, company: Company, data: bytes | str, filename: str = "f.csv") -> dict[str, int]:
    """Check and apply a file; fails the test with the report when a row is bad."""
    report = check(key, company, data, filename)
    assert not report.problems, [str(p) for p in report.problems]
    return imports.import_apply(imports.spec_for(key), company=company, actor=None, report=report)


def problems(key: str, company: Company, text: str) -> list[str]:
    report = check(key, company, text)
    assert report.problems, "expected the file to be refused"
    return [str(p) for p in report.problems]


def export(key: str, company: Company, fmt: str = "csv") -> bytes:
    return imports.export_table(imports.spec_for(key), company=company, fmt=fmt)[0]


def bom_rows(company: Company) -> list[tuple[Any, ...]]:
    """Every BOM and line of the company, ids included (a replaced line gets a new id)."""
    return [
        *Bom.unscoped.filter(company=company)
        .order_by("pk")
        .values_list(
            "pk", "product__sku", "version", "kind", "quantity", "uom_id", "effective_from",
            "effective_to", "active",
        ),
        *BomLine.objects.filter(bom__company=company)
        .order_by("pk")
        .values_list("pk", "bom_id", "sequence", "component__sku", "quantity", "uom_id",
                     "scrap_percent"),
    ]  # fmt: skip


def routing_rows(company: Company) -> list[tuple[Any, ...]]:
    return [
        *Routing.unscoped.filter(company=company)
        .order_by("pk")
        .values_list("pk", "product__sku", "name", "active"),
        *RoutingOperation.objects.filter(routing__company=company)
        .order_by("pk")
        .values_list("pk", "routing_id", "sequence", "name", "work_center__code",
                     "setup_minutes", "run_minutes"),
    ]  # fmt: skip


def explosion(product: Product, date: dt.date | None = None) -> list[tuple[Any, ...]]:
    return [
        (row.level, row.component.sku, row.quantity_per, row.phantom)
        for row in svc.bom_explode(product=product, date=date).rows
    ]


def codes(company: Company) -> dict[str, int]:
    return dict(Product.unscoped.filter(company=company).values_list("sku", "low_level_code"))


@pytest.fixture
def bikes(company_a: Company) -> dict[str, Product]:
    """A bike of frame, wheels and paint, wheels of spokes (a phantom kit), dated versions."""
    items = {
        "BIKE": make_item(company_a, "BIKE", supply=Product.Supply.MAKE),
        "FRAME": make_item(company_a, "FRAME", cost="120"),
        "WHEEL": make_item(company_a, "WHEEL", supply=Product.Supply.MAKE),
        "SPOKE": make_item(company_a, "SPOKE", cost="0.5"),
        "PAINT": make_item(company_a, "PAINT", uom="kg", cost="20"),
        "BELL": make_item(company_a, "BELL", cost="3"),
    }
    make_bom(
        company_a,
        items["BIKE"],
        [line(items["FRAME"], "1"), line(items["WHEEL"], "2"), line(items["PAINT"], "250", "g")],
        effective_to=dt.date(2026, 6, 30),
    )
    make_bom(
        company_a,
        items["BIKE"],
        [line(items["FRAME"], "1"), line(items["WHEEL"], "2"), line(items["BELL"], "1")],
        effective_from=dt.date(2026, 7, 1),
    )
    make_bom(company_a, items["BIKE"], [line(items["FRAME"], "3")], active=False)
    make_bom(
        company_a,
        items["WHEEL"],
        [line(items["SPOKE"], "3", "dozen", scrap="2.5")],
        kind=Bom.Kind.PHANTOM,
        quantity="2",
    )
    return items


# --- BOMs: round trip ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_bom_export_then_import_changes_nothing(company_a, bikes, fmt):
    before = bom_rows(company_a)
    trees = [explosion(bikes["BIKE"], dt.date(2026, m, 1)) for m in (1, 8)]
    audit = AuditEntry.objects.count()
    first_csv = export("boms", company_a)
    assert first_csv.decode("utf-8-sig").splitlines()[:3] == [
        BOM_HEADER.strip(),
        "BIKE,1,normal,1,pc,,2026-06-30,1,10,FRAME,1,pc,0",
        "BIKE,1,normal,1,pc,,2026-06-30,1,20,WHEEL,2,pc,0",
    ]
    assert "WHEEL,1,phantom,2,pc,,,1,10,SPOKE,3,dozen,2.5" in first_csv.decode()
    assert run("boms", company_a, export("boms", company_a, fmt), f"boms.{fmt}") == {
        "created": 0,
        "updated": 0,
    }
    assert bom_rows(company_a) == before
    assert [explosion(bikes["BIKE"], dt.date(2026, m, 1)) for m in (1, 8)] == trees
    assert AuditEntry.objects.count() == audit
    assert export("boms", company_a) == first_csv


def test_bom_import_into_an_empty_company_rebuilds_the_same_boms(company_a, company_b, bikes):
    exported = export("boms", company_a)
    for sku, item in bikes.items():
        make_item(company_b, sku, uom=item.uom.code, supply=item.supply)
    assert run("boms", company_b, exported) == {"created": 4, "updated": 0}
    assert export("boms", company_b) == exported
    bike_b = Product.unscoped.get(company=company_b, sku="BIKE")
    for month in (1, 8):
        assert explosion(bike_b, dt.date(2026, month, 1)) == explosion(
            bikes["BIKE"], dt.date(2026, month, 1)
        )
    assert codes(company_b) == codes(company_a)


# --- BOMs: replacing --------------------------------------------------------------------------


def test_a_bom_in_the_file_is_replaced_whole_and_others_are_untouched(company_a, bikes, admin_a):
    bike = bikes["BIKE"]
    v1, v2, v3 = Bom.unscoped.filter(product=bike).order_by("version")

    def others() -> tuple[list[Any], list[Any]]:
        boms = (
            Bom.unscoped.filter(company=company_a).exclude(pk=v2.pk).exclude(product__sku="FRAME")
        )
        lines = BomLine.objects.filter(bom__in=boms)
        return list(boms.order_by("pk").values()), list(lines.order_by("pk").values())

    before = others()
    spec = imports.spec_for("boms")
    report = check(
        "boms",
        company_a,
        BOM_HEADER
        + "BIKE,2,normal,1,pc,2026-07-01,,1,,FRAME,1,,\n"
        + "BIKE,2,normal,1,pc,2026-07-01,,1,,BELL,2,,\n"
        + "FRAME,1,,,,,,,,PAINT,1.5,kg,\n",
    )
    assert report.ok
    assert imports.import_apply(spec, company=company_a, actor=admin_a, report=report) == {
        "created": 1,
        "updated": 1,
    }
    assert others() == before
    assert list(v2.lines.values_list("sequence", "component__sku", "quantity")) == [
        (10, "FRAME", D(1)),
        (20, "BELL", D(2)),
    ]
    note = AuditEntry.objects.get_for_object(v2).filter(changes__has_key="BOM lines").latest("pk")
    assert note.changes_dict["BOM lines"] == [
        "FRAME × 1 pc; WHEEL × 2 pc; BELL × 1 pc",
        "FRAME × 1 pc; BELL × 2 pc",
    ]
    assert note.actor == admin_a
    frame_bom = Bom.unscoped.get(product=bikes["FRAME"])
    assert (
        AuditEntry.objects.get_for_object(frame_bom)
        .filter(action=AuditEntry.Action.CREATE, actor=admin_a)
        .exists()
    )
    assert codes(company_a)["PAINT"] == 2  # BIKE → FRAME → PAINT
    assert v1.lines.count() == 3 and v3.lines.count() == 1


def test_a_changed_header_is_saved_and_audited(company_a, bikes):
    wheel_bom = Bom.unscoped.get(product=bikes["WHEEL"])
    line_ids = list(wheel_bom.lines.values_list("pk", flat=True))
    run(
        "boms",
        company_a,
        BOM_HEADER + "WHEEL,1,normal,1,pc,,,1,10,SPOKE,3,dozen,2.5\n",
    )
    wheel_bom.refresh_from_db()
    assert wheel_bom.kind == Bom.Kind.NORMAL and wheel_bom.quantity == 1
    assert list(wheel_bom.lines.values_list("pk", flat=True)) == line_ids  # lines unchanged
    entry = AuditEntry.objects.get_for_object(wheel_bom).latest("pk")
    assert set(entry.changes_dict) == {"kind", "quantity"}


def test_low_level_codes_are_updated_after_an_import(company_a):
    for sku in "ABCD":
        make_item(company_a, sku)
    run("boms", company_a, BOM_HEADER + "A,,,,,,,,,B,1,,\nB,,,,,,,,,C,1,,\nC,,,,,,,,,D,1,,\n")
    assert codes(company_a) == {"A": 0, "B": 1, "C": 2, "D": 3}
    run("boms", company_a, BOM_HEADER + "C,1,,,,,,0,,D,1,,\n")  # archived: D leaves the tree
    assert codes(company_a) == {"A": 0, "B": 1, "C": 2, "D": 0}


# --- BOMs: refusals -----------------------------------------------------------------------------


def test_one_bad_row_saves_nothing_and_is_named(company_a, bikes):
    before = bom_rows(company_a)
    report = check(
        "boms",
        company_a,
        BOM_HEADER
        + "BELL,1,,,,,,,,FRAME,1,,\nFRAME,1,,,,,,,,SPOKE,-1,,\nSPOKE,1,,,,,,,,BELL,1,,\n",
    )
    assert [str(p) for p in report.problems] == [
        "Row 3, component_quantity: The quantity must be greater than zero."
    ]
    assert (report.problems[0].line, report.problems[0].column) == (3, "component_quantity")
    with pytest.raises(ValueError):
        imports.import_apply(imports.spec_for("boms"), company=company_a, actor=None, report=report)
    assert bom_rows(company_a) == before


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("NOPE,1,,,,,,,,FRAME,1,,", "Row 2, product: unknown product “NOPE”"),
        ("BELL,1,,,,,,,,NOPE,1,,", "Row 2, component: unknown product “NOPE”"),
        (
            "BELL,1,,,,,,,,FRAME,1,kg,",
            "Row 2, component_uom: kg does not measure the same thing as FRAME's stock unit pc.",
        ),
        (
            "BELL,1,,,kg,,,,,FRAME,1,,",
            "Row 2, uom: kg does not measure the same thing as BELL's stock unit pc.",
        ),
        ("BELL,1,,,,,,,,FRAME,1,,100", "Row 2, scrap_percent: must be below 100"),
        ("BELL,1,,,,,,,,FRAME,1,,-1", "Row 2, scrap_percent: must be at least 0"),
        ("BELL,1,,,,,,,,BELL,1,,", "Row 2, component: A product cannot be a component of itself."),
        ("BELL,0,,,,,,,,FRAME,1,,", "Row 2, version: must be a whole number from 1 to 32767"),
        ("BELL,1,kit,,,,,,,FRAME,1,,", "Row 2, kind: “kit” is not one of: normal, phantom"),
        ("BELL,1,,0,,,,,,FRAME,1,,", "Row 2, quantity: The quantity must be greater than zero."),
        ("BELL,1,,,,,,,,FRAME,,,", "Row 2, component_quantity: a value is required"),
        (
            "BELL,1,,,,,,,,FRAME,0.0000001,,",
            "Row 2, component_quantity: Ensure that there are no more than 6 decimal places.",
        ),
        (
            "BELL,1,,,,2026-02-01,2026-01-01,,,FRAME,1,,",
            "Row 2, effective_to: The end of the effective range must not be before its start.",
        ),
        ("BELL,1,,,,2026-02-30,,,,FRAME,1,,", "Row 2, effective_from: date must be YYYY-MM-DD"),
    ],
)
def test_bad_cells_are_refused_by_column(company_a, bikes, row, expected):
    assert expected in problems("boms", company_a, BOM_HEADER + row + "\n")
    assert not Bom.unscoped.filter(product=bikes["BELL"]).exists()


def test_header_columns_must_agree_on_every_row_of_a_bom(company_a, bikes):
    found = problems(
        "boms",
        company_a,
        BOM_HEADER
        + "BELL,1,,2,,,,1,,FRAME,1,,\n"
        + "BELL,1,,2.0,pc,,,yes,,SPOKE,1,,\n"  # the same, written differently
        + "BELL,1,phantom,3,,,,1,,PAINT,1,,\n"
        + "BELL,2,,1,,,,0,,PAINT,1,,\n",  # another version: a BOM of its own
    )
    assert found == [
        "Row 4, kind: must be the same on every row of BELL version 1: its first row says “”",
        "Row 4, quantity: must be the same on every row of BELL version 1: its first row says “2”",
    ]


def test_rows_of_one_bom_must_follow_each_other(company_a, bikes):
    found = problems(
        "boms",
        company_a,
        BOM_HEADER + "BELL,,,,,,,,,FRAME,1,,\nSPOKE,,,,,,,,,PAINT,1,,\nBELL,,,,,,,,,PAINT,1,,\n",
    )
    assert found == [
        "Row 4, product: the rows of BELL version 1 must follow each other; it has rows up to row 2"
    ]


def test_a_repeated_line_is_reported(company_a, bikes):
    found = problems("boms", company_a, BOM_HEADER + "BELL,,,,,,,,10,FRAME,1,,\n" * 2)
    assert found == ["Row 3: duplicate of row 2"]


def test_a_loop_within_the_file_is_refused_and_named(company_a):
    for sku in "ABCX":
        make_item(company_a, sku)
    found = problems(
        "boms",
        company_a,
        BOM_HEADER + "A,,,,,,,,,B,1,,\nB,,,,,,,,,X,1,,\nB,,,,,,,,,C,1,,\nC,,,,,,,,,A,1,,\n",
    )
    assert len(found) == 1
    assert re.fullmatch(
        r"Row (\d), component: This line would make the BOMs loop: (.*)\.", found[0]
    ).groups() in {
        ("2", "A → B → C → A"),
        ("4", "B → C → A → B"),
        ("5", "C → A → B → C"),
    }
    # The same BOMs without the closing line are fine; archived, C's BOM closes nothing.
    assert check("boms", company_a, BOM_HEADER + "A,,,,,,,,,B,1,,\nB,,,,,,,,,C,1,,\n").ok
    assert check(
        "boms",
        company_a,
        BOM_HEADER + "A,,,,,,,,,B,1,,\nB,,,,,,,,,C,1,,\nC,,,,,,,0,,A,1,,\n",
    ).ok
    assert not Bom.unscoped.filter(company=company_a).exists()


def test_a_loop_with_a_stored_bom_is_refused_on_the_closing_line(company_a):
    a, b, c = (make_item(company_a, sku) for sku in "ABC")
    make_bom(company_a, a, [line(b, "1")])
    make_bom(company_a, b, [line(c, "1")])
    found = problems("boms", company_a, BOM_HEADER + "C,,,,,,,,,A,1,,\n")
    assert found == ["Row 2, component: This line would make the BOMs loop: C → A → B → C."]
    # Replacing B's BOM in the same file so that it no longer uses C breaks the loop.
    make_item(company_a, "X")
    run("boms", company_a, BOM_HEADER + "C,,,,,,,,,A,1,,\nB,,,,,,,,,X,1,,\n")
    assert codes(company_a) == {"C": 0, "A": 1, "B": 2, "X": 3}


def test_overlapping_active_versions_are_refused(company_a, bikes):
    # v1 is active until 2026-06-30, v2 from 2026-07-01: a new v4 at all times overlaps both.
    found = problems("boms", company_a, BOM_HEADER + "BIKE,4,,,,,,1,,FRAME,1,,\n")
    assert found == [
        "Row 2, effective_from: Version 1 of this product's BOM is active until 2026-06-30; "
        "the effective ranges of active BOMs must not overlap."
    ]
    # Archiving v1 and v2 in the same file (their exported rows with active 0) makes room.
    exported = export("boms", company_a).decode("utf-8-sig").splitlines()
    archived = [
        row.replace(",2026-06-30,1,", ",2026-06-30,0,").replace(
            ",2026-07-01,,1,", ",2026-07-01,,0,"
        )
        for row in exported
        if row.startswith(("BIKE,1,", "BIKE,2,"))
    ]
    assert len(archived) == 6 and all(",0," in row for row in archived)
    lines_before = list(BomLine.objects.filter(bom__product=bikes["BIKE"]).values_list("pk"))
    assert run(
        "boms", company_a, BOM_HEADER + "\n".join(archived) + "\nBIKE,4,,,,,,1,,FRAME,1,,\n"
    ) == {"created": 1, "updated": 2}
    assert set(lines_before) < set(
        BomLine.objects.filter(bom__product=bikes["BIKE"]).values_list("pk")
    )  # v1 and v2 only lost their active flag
    assert explosion(bikes["BIKE"], dt.date(2026, 1, 1)) == [(1, "FRAME", D(1), False)]


def test_the_file_is_checked_again_when_saved(company_a):
    """A BOM written between the check and the save (the job waits in a queue) that closes a
    loop with the file refuses the whole import."""
    a, b = make_item(company_a, "A"), make_item(company_a, "B")
    report = check("boms", company_a, BOM_HEADER + "A,,,,,,,,,B,1,,\n")
    assert report.ok
    make_bom(company_a, b, [line(a, "1")])
    with pytest.raises(jobs.JobError) as exc:
        imports.import_apply(imports.spec_for("boms"), company=company_a, actor=None, report=report)
    assert exc.value.details["errors"] == [
        "Row 2, component: This line would make the BOMs loop: A → B → A."
    ]
    assert not Bom.unscoped.filter(product=a).exists()


def test_bom_imports_stay_within_the_company(company_a, company_b, bikes):
    canary = make_item(company_b, "CANARY-B")
    make_bom(company_b, canary, [line(make_item(company_b, "BELL"), "1")])
    assert b"CANARY-B" not in export("boms", company_a)
    assert problems("boms", company_a, BOM_HEADER + "CANARY-B,,,,,,,,,BELL,1,,\n") == [
        "Row 2, product: unknown product “CANARY-B”"
    ]
    before_b = bom_rows(company_b)
    run("boms", company_a, BOM_HEADER + "BELL,,,,,,,,,FRAME,1,,\n")
    assert bom_rows(company_b) == before_b
    assert Bom.unscoped.get(product=bikes["BELL"]).company_id == company_a.pk


# --- routings -------------------------------------------------------------------------------------


@pytest.fixture
def shop(company_a: Company, bikes: dict[str, Product]) -> dict[str, Any]:
    saw, weld, old = (make_work_center(company_a, code) for code in ("SAW", "WELD", "OLD"))
    frame = make_routing(
        company_a, bikes["FRAME"], [(saw, "15", "2.5"), (weld, "30", "12.125")], name="Standard"
    )
    spare = make_routing(company_a, bikes["FRAME"], [(old, "5", "1")], name="Manual", active=False)
    svc.work_center_archive(work_center=old, actor=None)
    bike = make_routing(company_a, bikes["BIKE"], [(weld, "0", "45")], name="Assembly")
    return {"frame": frame, "spare": spare, "bike": bike, "saw": saw, "weld": weld}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_routing_export_then_import_changes_nothing(company_a, shop, fmt):
    before = routing_rows(company_a)
    first_csv = export("routings", company_a)
    assert first_csv.decode("utf-8-sig").splitlines() == [
        ROUTING_HEADER.strip(),
        "BIKE,Assembly,1,10,Step 1,WELD,0,45",
        "FRAME,Manual,0,10,Step 1,OLD,5,1",
        "FRAME,Standard,1,10,Step 1,SAW,15,2.5",
        "FRAME,Standard,1,20,Step 2,WELD,30,12.125",
    ]
    exported = export("routings", company_a, fmt)
    assert run("routings", company_a, exported, f"r.{fmt}") == {"created": 0, "updated": 0}
    assert routing_rows(company_a) == before
    assert export("routings", company_a) == first_csv


def test_a_routing_in_the_file_is_replaced_whole(company_a, shop, bikes, admin_a):
    report = check(
        "routings",
        company_a,
        ROUTING_HEADER
        + "FRAME,Standard,1,,Cut,saw,10,3\n"  # work center codes are matched case-insensitively
        + "FRAME,Standard,1,,Weld,WELD,,20\n"
        + "WHEEL,Lacing,1,10,Lace,WELD,5,8\n",
    )
    assert report.ok
    counts = imports.import_apply(
        imports.spec_for("routings"), company=company_a, actor=admin_a, report=report
    )
    assert counts == {"created": 1, "updated": 1}
    frame = shop["frame"]
    assert list(
        frame.operations.values_list("sequence", "name", "setup_minutes", "run_minutes")
    ) == [
        (10, "Cut", D(10), D(3)),
        (20, "Weld", D(0), D(20)),
    ]
    note = (
        AuditEntry.objects.get_for_object(frame).filter(changes__has_key="Operations").latest("pk")
    )
    assert note.changes_dict["Operations"][1] == "10 Cut @SAW 10+3 min; 20 Weld @WELD 0+20 min"
    assert note.actor == admin_a
    assert shop["spare"].operations.count() == 1 and shop["bike"].operations.count() == 1
    assert Routing.unscoped.get(product=bikes["WHEEL"]).name == "Lacing"


def test_routing_refusals(company_a, shop):
    found = problems(
        "routings",
        company_a,
        ROUTING_HEADER
        + "FRAME,Standard,1,10,Cut,NOPE,10,3\n"
        + "FRAME,Standard,1,20,Weld,OLD,,-1\n"
        + "FRAME,Standard,0,30,Paint,SAW,,\n"
        + "NOPE,X,1,10,Cut,SAW,,\n",
    )
    assert found == [
        "Row 2, work_center: unknown work center “NOPE”",
        "Row 3, work_center: This work center is archived.",
        "Row 3, run_minutes: must be at least 0",
        "Row 4, active: must be the same on every row of routing “Standard” of FRAME: "
        "its first row says “1”",
        "Row 5, product: unknown product “NOPE”",
    ]
    # A second active routing of a product, with one stored or within the file.
    assert problems("routings", company_a, ROUTING_HEADER + "FRAME,Fast,1,10,Cut,SAW,,\n") == [
        "Row 2, active: FRAME would have more than one active routing: Fast, Standard."
    ]
    # Archiving the stored one in the same file makes room.
    run(
        "routings",
        company_a,
        ROUTING_HEADER + "FRAME,Fast,1,10,Cut,SAW,,\nFRAME,Standard,0,10,Cut,SAW,,\n",
    )
    assert list(
        Routing.unscoped.filter(product=shop["frame"].product, active=True).values_list(
            "name", flat=True
        )
    ) == ["Fast"]


def test_routing_imports_stay_within_the_company(company_a, company_b, shop):
    center = make_work_center(company_b, "CANARY-WC")
    make_routing(company_b, make_item(company_b, "FRAME"), [(center, "1", "1")], name="B")
    assert b"CANARY-WC" not in export("routings", company_a)
    assert problems("routings", company_a, ROUTING_HEADER + "BELL,R,1,10,Ring,CANARY-WC,,\n") == [
        "Row 2, work_center: unknown work center “CANARY-WC”"
    ]


# --- through the screens ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_planner_imports_boms_through_the_screens(users_a, company_a, client_for):
    from django.core.management import call_command

    for sku in ("BIKE", "FRAME", "WHEEL"):
        make_item(company_a, sku)
    client = client_for(users_a["planner"])
    listing = client.get(reverse("product:bom_list")).content.decode()
    assert reverse("core:import_boms") in listing
    assert (
        reverse("core:import_routings")
        in client.get(reverse("product:routing_list")).content.decode()
    )
    upload = SimpleUploadedFile(
        "boms.csv", (BOM_HEADER + "BIKE,,,,,,,,,FRAME,1,,\nBIKE,,,,,,,,,WHEEL,2,,\n").encode()
    )
    preview = client.post(reverse("core:import_boms"), {"file": upload}).content.decode()
    assert 'id="import-preview"' in preview and 'id="import-confirm"' in preview
    assert not Bom.unscoped.filter(company=company_a).exists()
    token = re.search(r'name="token" value="([^"]+)"', preview).group(1)
    client.post(reverse("core:import_boms_confirm"), {"token": token, "filename": "boms.csv"})
    call_command("worker", "--batch")
    bom = Bom.unscoped.get(company=company_a)
    assert list(bom.lines.values_list("component__sku", "quantity")) == [
        ("FRAME", D(1)),
        ("WHEEL", D(2)),
    ]
    [created] = AuditEntry.objects.get_for_object(bom)
    assert created.action == AuditEntry.Action.CREATE and created.actor == users_a["planner"]
    exported = client.get(reverse("core:export_boms", args=["csv"]))
    assert exported.status_code == 200 and b"BIKE,1,normal" in exported.content


@pytest.mark.django_db
def test_a_loop_is_shown_in_the_preview(users_a, company_a, client_for):
    for sku in "AB":
        make_item(company_a, sku)
    upload = SimpleUploadedFile(
        "b.csv", (BOM_HEADER + "A,,,,,,,,,B,1,,\nB,,,,,,,,,A,1,,\n").encode()
    )
    html = client_for(users_a["planner"]).post(reverse("core:import_boms"), {"file": upload})
    text = html.content.decode()
    assert 'id="import-problems"' in text and 'id="import-confirm"' not in text
    assert "This line would make the BOMs loop: A → B → A." in text or (
        "This line would make the BOMs loop: B → A → B." in text
    )


@pytest.mark.parametrize("key", ["boms", "routings"])
def test_only_importers_reach_the_import_pages(users_a, client_for, key):
    sales = client_for(users_a["sales_rep"])
    assert sales.get(reverse(f"core:import_{key}")).status_code == 403
    assert sales.get(reverse(f"core:export_{key}", args=["csv"])).status_code == 403
    assert (
        reverse(f"core:import_{key}")
        not in sales.get(
            reverse(f"product:{'bom' if key == 'boms' else 'routing'}_list")
        ).content.decode()
    )
    assert client_for(users_a["planner"]).get(reverse(f"core:import_{key}")).status_code == 200


# --- the framework's whole-file hook --------------------------------------------------------------


class _PairsImport(imports.ImportSpec):
    """Rows must come in pairs of the same word: only the whole file shows a lonely one."""

    key = "test-pairs"
    title = "Pairs"
    permission = "product.import"
    columns = [imports.Column("word", "Word", required=True)]

    def clean_row(self, state: Any, values: dict[str, str]) -> dict[str, Any]:
        cells = imports.Cells(values)
        word = cells.text("word", required=True)
        if word == "bad":
            cells.error("word", "not a word")
        cells.done()
        return {"word": word}

    def check_all(self, state: Any, rows: list[dict[str, Any]]) -> list[tuple[int, str, str]]:
        counts: dict[str, list[int]] = {}
        for row in rows:
            counts.setdefault(row["word"], []).append(row["_line"])
        return [(lines[0], "word", "has no pair") for lines in counts.values() if len(lines) == 1]


def test_check_all_problems_join_the_report(company_a):
    spec = _PairsImport()

    def report(text: str) -> imports.Report:
        table = imports.read_table(text.encode(), "w.csv", spec)
        return imports.import_check(spec, company=company_a, table=table)

    assert report("word\na\nb\na\nb\n").ok
    lonely = report("word\na\nb\na\n")
    assert not lonely.ok and [str(p) for p in lonely.problems] == ["Row 3, word: has no pair"]
    # Not asked while a row is bad: its problems would be about a file that is not whole.
    bad = report("word\na\nbad\nb\n")
    assert [(p.line, p.column) for p in bad.problems] == [(3, "word")]
