"""The count and replenishment screens as the roles use them: a count created on the screen,
quantities entered one by one through HTMX and all at once through the plain form, goods found
on the shelf, posting the adjustments (moves to and from inventory loss, on hand), cancelling,
the printable and blind count sheets, cycle counts due by ABC class, the replenishment view
against the service, replenishment rules with refusals that write nothing, permissions, other
companies' records and query counts."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from xietong.core.tenancy import company_scope
from xietong.inventory import counts, stock
from xietong.inventory.models import (
    CountLine,
    InventoryCount,
    Location,
    Move,
    ReplenishmentRule,
)
from xietong.inventory.pickings import delivery_create, picking_confirm
from xietong.inventory.replenishment import replenishment_view, rule_set
from xietong.inventory.tests.flows_helpers import (
    DAY,
    D,
    make_party,
    make_product,
    make_warehouse,
    place,
    put_stock,
    quant_qty,
    snapshot,
)
from xietong.inventory.warehouses import location_create
from xietong.product.services import product_cost_set

pytestmark = pytest.mark.django_db
SCREENSHOTS = Path(os.environ.get("XIETONG_VAR_DIR", "/tmp/xt-counts"))
CS = InventoryCount.State
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def scope(company_a):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def site(scope):  # type: ignore[no-untyped-def]
    """A warehouse with a shelf: 4321 BOLT on the shelf, 987 RESIN of lot R1 on it, 5 NUT in
    the stock location itself, and a product never stocked (GEAR)."""
    wh = make_warehouse(scope, "WH")
    shelf = location_create(company=scope, name="A1", parent=wh.stock_location)
    bolt, nut, gear = (make_product(scope, sku) for sku in ("BOLT", "NUT", "GEAR"))
    resin = make_product(scope, "RESIN", tracking="lot")
    lot = stock.lot_create(company=scope, product=resin, name="R1")
    put_stock(scope, bolt, shelf, 4321)
    put_stock(scope, resin, shelf, 987, lot)
    put_stock(scope, nut, wh.stock_location, 5)
    return SimpleNamespace(
        company=scope, wh=wh, shelf=shelf, bolt=bolt, resin=resin, lot=lot, nut=nut, gear=gear
    )


@pytest.fixture
def clerk(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["warehouse_clerk"])


@pytest.fixture
def planner(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["planner"])


def _count(site: Any, **kwargs: Any) -> InventoryCount:
    return counts.count_create(
        company=site.company, location=site.wh.stock_location, date=DAY, **kwargs
    )


def _lines(count: InventoryCount) -> dict[str, CountLine]:
    return {
        line.product.sku: line
        for line in CountLine.objects.filter(count=count).select_related("product")
    }


def _csv(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _pdf_text(content: bytes) -> str:
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(  # noqa: S603 - a fixed local tool reading our own bytes
        [pdftotext, "-layout", "-", "-"], input=content, capture_output=True, check=True
    )
    return done.stdout.decode()


# --- creating a count -------------------------------------------------------------------------


def test_count_is_created_on_the_screen(site, clerk, users_a):
    url = reverse("inventory:count_create")
    page = clerk.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert site.shelf.full_name in html and 'name="abc_class"' in html
    assert place(site.company, Location.Usage.SUPPLIER).full_name not in html  # stock only
    response = clerk.post(url, {"location": site.wh.stock_location.pk, "date": "2026-03-02"})
    count = InventoryCount.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:count_detail", args=[count.pk])
    assert (count.number, count.state, count.date, count.abc_class) == (
        "INV/2026/00001", CS.DRAFT, DAY, "",
    )  # fmt: skip
    assert {sku: line.expected for sku, line in _lines(count).items()} == {
        "BOLT": 4321, "RESIN": 987, "NUT": 5,
    }  # fmt: skip

    sheet = clerk.get(response["Location"]).content.decode()
    for marker in ("INV/2026/00001", "BOLT", "RESIN", "R1", "4321", site.shelf.full_name):
        assert marker in sheet, marker
    assert 'id="count-post-open"' in sheet and 'id="count-add-line"' in sheet
    assert reverse("inventory:count_pdf", args=[count.pk]) + "?blind=1" in sheet


def test_bad_count_shows_errors_and_writes_nothing(site, clerk, company_b):
    with company_scope(company_b):
        foreign = make_warehouse(company_b, "WB")
    before = list(InventoryCount.unscoped.values_list("pk", flat=True))
    url = reverse("inventory:count_create")
    for data, field in (
        ({"location": site.shelf.pk, "date": "2026-03-02", "abc_class": "D"}, "abc_class"),
        ({"location": foreign.stock_location.pk, "date": "2026-03-02"}, "location"),
        ({"location": place(site.company, "supplier").pk, "date": "2026-03-02"}, "location"),
        ({"location": site.shelf.pk, "date": "soon"}, "date"),
    ):
        response = clerk.post(url, data)
        assert response.status_code == 400, data
        assert f'data-field-error="{field}"' in response.content.decode(), data
    assert list(InventoryCount.unscoped.values_list("pk", flat=True)) == before


# --- entering quantities ----------------------------------------------------------------------


def test_counted_quantities_are_entered_through_htmx(site, clerk, users_a):
    count = _count(site)
    lines = _lines(count)
    url = reverse("inventory:count_set", args=[count.pk])
    bolt = lines["BOLT"]
    response = clerk.post(
        url, {f"line-{bolt.pk}": "4318"}, HTTP_HX_TRIGGER_NAME=f"line-{bolt.pk}", **HTMX
    )
    assert response.status_code == 200
    row = response.content.decode()
    assert row.lstrip().startswith(f'<tr id="count-line-{bolt.pk}"')
    assert "table-danger" in row and ">-3<" in row  # the difference, highlighted
    assert 'id="count-summary"' in row and 'hx-swap-oob="true"' in row
    assert "1 of 3 lines counted" in row and "1 difference</td>" in row
    count.refresh_from_db()
    assert (count.state, count.counted_by) == (CS.COUNTING, users_a["warehouse_clerk"])
    assert _lines(count)["BOLT"].counted == 4318

    nut = lines["NUT"]
    gain = clerk.post(url, {f"line-{nut.pk}": "7"}, **HTMX).content.decode()
    assert "table-success" in gain and ">+2<" in gain and "2 of 3 lines counted" in gain

    # Refusals come back in the row, and nothing is written.
    for raw, message in (("lots", "Enter a number."), ("-1", "cannot be negative")):
        answer = clerk.post(url, {f"line-{nut.pk}": raw}, **HTMX)
        assert answer.status_code == 200
        html = answer.content.decode()
        assert message in html and "is-invalid" in html and f'value="{raw}"' in html
        assert _lines(count)["NUT"].counted == 7
    # Emptying a field clears the count of that line.
    clerk.post(url, {f"line-{nut.pk}": ""}, **HTMX)
    assert _lines(count)["NUT"].counted is None
    # A line of another count is not found.
    other = _count(site)
    foreign_line = _lines(other)["BOLT"]
    assert clerk.post(url, {f"line-{foreign_line.pk}": "1"}, **HTMX).status_code == 404


def test_plain_form_saves_the_changed_quantities(site, clerk):
    count = _count(site)
    lines = _lines(count)
    url = reverse("inventory:count_set", args=[count.pk])
    data = {f"line-{line.pk}": "" for line in lines.values()}
    data[f"line-{lines['BOLT'].pk}"] = "4,321"
    data[f"line-{lines['RESIN'].pk}"] = "980.5"
    response = clerk.post(url, data)
    assert response.status_code == 302
    saved = _lines(count)
    assert (saved["BOLT"].counted, saved["RESIN"].counted, saved["NUT"].counted) == (
        4321, D("980.5"), None,
    )  # fmt: skip
    sheet = clerk.get(response["Location"]).content.decode()
    assert "-6.5" in sheet and "2 of 3 lines counted" in sheet

    bad = clerk.post(url, {**data, f"line-{lines['NUT'].pk}": "x"})
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "data-sheet-error" in html and "Enter a number." in html and 'value="x"' in html
    refused = clerk.post(url, {**data, f"line-{lines['NUT'].pk}": "-2"})
    assert refused.status_code == 400 and "cannot be negative" in refused.content.decode()
    assert _lines(count)["NUT"].counted is None


def test_goods_found_on_the_shelf_are_added(site, clerk):
    count = _count(site)
    url = reverse("inventory:count_line_add", args=[count.pk])
    response = clerk.post(url, {"add-product": "GEAR", "add-location": site.shelf.pk})
    assert response.status_code == 302
    line = _lines(count)["GEAR"]
    assert (line.location, line.expected, line.counted) == (site.shelf, 0, None)
    assert response["Location"].endswith(f"#count-line-{line.pk}")
    # A lot, at the count's location by default.
    clerk.post(url, {"add-product": "RESIN", "add-lot": "R1"})
    assert CountLine.objects.filter(
        count=count, product=site.resin, location=site.wh.stock_location, lot=site.lot
    ).exists()
    before = CountLine.objects.filter(count=count).count()
    for data, field, message in (
        ({"add-product": "GEAR", "add-location": site.shelf.pk}, "product", "already"),
        ({"add-product": "NOPE"}, "product", "No product has the SKU NOPE."),
        ({"add-product": "RESIN", "add-lot": "R404"}, "lot", "no lot or serial number R404"),
        (
            {"add-product": "BOLT", "add-location": place(site.company, "customer").pk},
            "location",
            "valid choice",
        ),
    ):
        answer = clerk.post(url, data)
        assert answer.status_code == 400, data
        html = answer.content.decode()
        assert f'data-field-error="{field}"' in html and message in html, data
    assert CountLine.objects.filter(count=count).count() == before


# --- posting and cancelling -------------------------------------------------------------------


def test_posting_books_the_differences(site, clerk, users_a):
    count = _count(site)
    lines = _lines(count)
    clerk.post(reverse("inventory:count_line_add", args=[count.pk]), {"add-product": "GEAR"})
    gear = _lines(count)["GEAR"]
    counts.count_set(
        count=count,
        counts={lines["BOLT"].pk: D(4300), lines["NUT"].pk: D(5), gear.pk: D(2)},
    )
    detail = reverse("inventory:count_detail", args=[count.pk])
    confirm = clerk.get(detail + "?part=differences").content.decode()
    assert 'id="count-difference-list"' in confirm
    assert "BOLT" in confirm and "-21" in confirm and "+2" in confirm
    assert "NUT" not in confirm  # counted as expected: no adjustment
    assert "3 of 4 lines counted" in confirm

    response = clerk.post(reverse("inventory:count_done", args=[count.pk]))
    assert response.status_code == 302 and response["Location"] == detail
    count.refresh_from_db()
    assert count.state == CS.DONE and count.done_at is not None
    loss_place = place(site.company, Location.Usage.INVENTORY)
    moves = Move.objects.filter(origin=count.number).order_by("pk")
    assert [(m.product.sku, m.from_location, m.to_location, m.quantity) for m in moves] == [
        ("BOLT", site.shelf, loss_place, 21),
        ("GEAR", loss_place, site.wh.stock_location, 2),
    ]
    assert all(
        (m.state, m.done_by, m.effective_date) == (Move.State.DONE, users_a["warehouse_clerk"], DAY)
        for m in moves
    )
    assert quant_qty(site.bolt, site.shelf) == 4300
    assert quant_qty(site.gear, site.wh.stock_location) == 2
    assert quant_qty(site.nut, site.wh.stock_location) == 5

    page = clerk.get(detail).content.decode()
    assert 'id="count-adjustments"' in page
    for move in moves:
        assert f"#{move.pk}" in page
    assert 'name="line-' not in page and 'id="count-post-open"' not in page  # closed
    again = clerk.post(reverse("inventory:count_done", args=[count.pk]), follow=True)
    assert "is Done" in again.content.decode()
    assert Move.objects.filter(origin=count.number).count() == 2


def test_posting_nothing_counted_is_refused(site, clerk):
    count = _count(site)
    before = snapshot(site.company)
    response = clerk.post(reverse("inventory:count_done", args=[count.pk]), follow=True)
    assert "Nothing is counted" in response.content.decode()
    count.refresh_from_db()
    assert count.state == CS.DRAFT and snapshot(site.company) == before


def test_cancelled_count_posts_nothing(site, clerk):
    count = _count(site)
    counts.count_set(count=count, counts={_lines(count)["BOLT"].pk: D(1)})
    before = snapshot(site.company)
    response = clerk.post(reverse("inventory:count_cancel", args=[count.pk]))
    assert response.status_code == 302
    count.refresh_from_db()
    assert count.state == CS.CANCELLED and snapshot(site.company) == before
    page = clerk.get(reverse("inventory:count_detail", args=[count.pk])).content.decode()
    assert "Cancelled" in page and 'name="line-' not in page
    set_url = reverse("inventory:count_set", args=[count.pk])
    line = _lines(count)["NUT"]
    row = clerk.post(set_url, {f"line-{line.pk}": "3"}, **HTMX).content.decode()
    assert "is Cancelled" in row and _lines(count)["NUT"].counted is None
    added = clerk.post(
        reverse("inventory:count_line_add", args=[count.pk]), {"add-product": "GEAR"}
    )
    assert added.status_code == 302 and "GEAR" not in _lines(count)


# --- the printed sheet ------------------------------------------------------------------------


def test_count_sheet_pdf_and_blind_sheet(site, clerk):
    count = _count(site)
    url = reverse("inventory:count_pdf", args=[count.pk])
    response = clerk.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = _pdf_text(response.content)
    for marker in ("INV/2026/00001", "BOLT", "RESIN", "NUT", "R1", "4321", "987", "Expected"):
        assert marker in text, marker
    blind = clerk.get(url + "?blind=1")
    assert blind.content.startswith(b"%PDF")
    blind_text = _pdf_text(blind.content)
    for marker in ("BOLT", "RESIN", "NUT", "R1", "Blind count"):
        assert marker in blind_text, marker
    for figure in ("4321", "987", "Expected"):
        assert figure not in blind_text, figure


# --- cycle counts -----------------------------------------------------------------------------


def test_cycle_counts_and_a_class_count(site, clerk, company_a, users_a, client_for):
    today = timezone.localdate()
    product_cost_set(product=site.bolt, actor=None, cost=D(10))
    move = stock.move_create(
        company=company_a, product=site.bolt, quantity=D(21), from_location=site.shelf,
        to_location=place(company_a, Location.Usage.CUSTOMER), planned_date=today,
    )  # fmt: skip
    stock.moves_done(moves=[move], effective_date=today)
    due = counts.cycle_count_due(company=company_a, today=today)
    assert [d.product.sku for d in due["A"]] == ["BOLT"]
    assert sorted(d.product.sku for d in due["C"]) == ["NUT", "RESIN"]

    page = clerk.get(reverse("inventory:cycle_counts")).content.decode()
    assert 'id="cycle-class-A"' in page and "1 product due" in page and "2 products due" in page
    view = site.wh.view_location
    assert f'data-cycle-create="A-{view.pk}"' in page
    assert f'data-cycle-create="C-{view.pk}"' in page and 'data-cycle-create="B-' not in page

    response = clerk.post(
        reverse("inventory:count_create"),
        {"location": view.pk, "date": today.isoformat(), "abc_class": "A"},
    )
    assert response.status_code == 302
    count = InventoryCount.objects.get(abc_class="A")
    assert count.location == view and set(_lines(count)) == {"BOLT"}
    counts.count_set(count=count, counts={_lines(count)["BOLT"].pk: D(4300)})
    counts.count_done(count=count)
    page = clerk.get(reverse("inventory:cycle_counts")).content.decode()
    assert 'data-due="A">0 products due' in page and "Nothing of this class is due." in page
    # Roles that may not count see what is due, but no buttons.
    rep = client_for(users_a["sales_rep"])
    assert "data-cycle-create" not in rep.get(reverse("inventory:cycle_counts")).content.decode()


# --- replenishment ----------------------------------------------------------------------------


@pytest.fixture
def rules(site):  # type: ignore[no-untyped-def]
    """BOLT below its reorder point once a delivery of 4000 is counted, RESIN well above."""
    site.bolt.purchase_lead_days = 3
    site.bolt.save(update_fields=["purchase_lead_days"])
    customer = make_party(site.company, "Buyer", is_customer=True)
    [delivery] = delivery_create(
        company=site.company, warehouse=site.wh, party=customer, scheduled_date=DAY,
        lines=[{"product": site.bolt, "quantity": D(4000)}],
    )  # fmt: skip
    picking_confirm(picking=delivery)
    bolt = rule_set(company=site.company, product=site.bolt, warehouse=site.wh,
                    min_qty=D(500), max_qty=D(1000), multiple=D(100))  # fmt: skip
    resin = rule_set(company=site.company, product=site.resin, warehouse=site.wh,
                     min_qty=D(1), max_qty=D(10))  # fmt: skip
    return SimpleNamespace(bolt=bolt, resin=resin)


def test_replenishment_view_agrees_with_the_service(site, rules, clerk, company_a):
    rows = replenishment_view(company=company_a, today=timezone.localdate())
    by_sku = {row.product.sku: row for row in rows}
    assert by_sku["BOLT"].to_order == 700 and by_sku["RESIN"].to_order == 0
    url = reverse("inventory:replenishment")
    cols = "sku,warehouse,on_hand,incoming,outgoing,forecast,min_qty,max_qty,multiple,to_order"
    table = _csv(clerk.get(f"{url}?export=csv&cols={cols},need_date,supply"))
    assert table[0][:4] == ["SKU", "Warehouse", "On hand", "Incoming"]
    got = {r[0]: r for r in table[1:]}
    assert set(got) == {"BOLT", "RESIN"}
    for sku, row in by_sku.items():
        figures = [row.on_hand, row.incoming, row.outgoing, row.forecast, row.min_qty,
                   row.max_qty, row.multiple, row.to_order]  # fmt: skip
        assert [D(v) for v in got[sku][2:10]] == figures, sku
        assert got[sku][1] == "WH"
        assert got[sku][10] == (row.need_date.isoformat() if row.need_date else "")
        assert got[sku][11] == "Buy"

    needs = _csv(clerk.get(f"{url}?export=csv&cols=sku&needs=1"))
    assert [r[0] for r in needs[1:]] == ["BOLT"]
    assert [r[0] for r in _csv(clerk.get(f"{url}?export=csv&cols=sku&needs=0"))[1:]] == ["RESIN"]
    wanted = f"{url}?export=csv&cols=sku&warehouse={site.wh.pk}&sort=-to_order"
    assert [r[0] for r in _csv(clerk.get(wanted))[1:]] == ["BOLT", "RESIN"]
    assert [r[0] for r in _csv(clerk.get(f"{url}?export=csv&cols=sku&product=res"))[1:]] == [
        "RESIN"
    ]
    sheet = load_workbook(io.BytesIO(clerk.get(f"{url}?export=xlsx&cols=sku,to_order").content))
    assert ("BOLT", 700) in list(sheet.active.values)

    html = clerk.get(url + "?cols=sku,to_order,note").content.decode()
    assert "To order" in html and "700" in html and "Late: order today" in html
    assert "not a valid" in clerk.get(f"{url}?needs=maybe").content.decode()
    fragment = clerk.get(f"{url}?needs=1", **HTMX).content.decode()
    assert 'id="list-table"' in fragment and "RESIN" not in fragment


# --- replenishment rules ----------------------------------------------------------------------


def test_rules_are_created_and_edited(site, planner, company_a):
    url = reverse("inventory:rule_create")
    assert planner.get(url).status_code == 200
    data = {"product": "NUT", "warehouse": site.wh.pk, "min_qty": "10", "max_qty": "40",
            "multiple": "6", "active": "on"}  # fmt: skip
    response = planner.post(url, data)
    assert response.status_code == 302 and response["Location"] == reverse("inventory:rule_list")
    rule = ReplenishmentRule.objects.get(product=site.nut)
    assert (rule.warehouse, rule.min_qty, rule.max_qty, rule.multiple, rule.active) == (
        site.wh, 10, 40, 6, True,
    )  # fmt: skip
    listing = planner.get(reverse("inventory:rule_list")).content.decode()
    assert reverse("inventory:rule_edit", args=[rule.pk]) in listing and "NUT" in listing
    exported = _csv(planner.get(reverse("inventory:rule_list") + "?export=csv&cols=sku,max_qty"))
    assert exported == [["SKU", "Maximum"], ["NUT", "40"]]

    again = planner.post(url, data)
    assert again.status_code == 400 and "already" in again.content.decode()

    edit = reverse("inventory:rule_edit", args=[rule.pk])
    page = planner.get(edit).content.decode()
    assert 'value="NUT"' in page and "disabled" in page and 'value="40"' in page
    # The product and the warehouse stay what they are, whatever is posted.
    response = planner.post(edit, {**data, "product": "BOLT", "max_qty": "60", "active": ""})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.product, rule.max_qty, rule.active) == (site.nut, 60, False)
    assert ReplenishmentRule.objects.count() == 1


def test_bad_rules_write_nothing(site, planner, company_a):
    rule = rule_set(company=company_a, product=site.bolt, warehouse=site.wh,
                    min_qty=D(5), max_qty=D(20))  # fmt: skip
    before = list(ReplenishmentRule.objects.values_list("pk", "min_qty", "max_qty", "multiple"))
    good = {"product": "NUT", "warehouse": site.wh.pk, "min_qty": "10", "max_qty": "40"}
    for data, field, message in (
        ({**good, "max_qty": "5"}, "max_qty", "cannot be below the reorder point"),
        ({**good, "min_qty": "-1"}, "min_qty", "cannot be negative"),
        ({**good, "product": "NOPE"}, "product", "No product has the SKU NOPE."),
        ({**good, "max_qty": "many"}, "max_qty", "Enter a number."),
    ):
        response = planner.post(reverse("inventory:rule_create"), data)
        assert response.status_code == 400, data
        html = response.content.decode()
        assert f'data-field-error="{field}"' in html and message in html, data
    edit = planner.post(
        reverse("inventory:rule_edit", args=[rule.pk]), {"min_qty": "30", "max_qty": "20"}
    )
    assert edit.status_code == 400 and "cannot be below the reorder point" in edit.content.decode()
    after = list(ReplenishmentRule.objects.values_list("pk", "min_qty", "max_qty", "multiple"))
    assert after == before


# --- permissions, other companies, queries ----------------------------------------------------


def test_roles_without_the_permission_are_refused(site, rules, users_a, client_for):
    count = _count(site)
    line = _lines(count)["BOLT"]
    rep = client_for(users_a["sales_rep"])
    assert rep.get(reverse("inventory:count_list")).status_code == 200
    assert rep.get(reverse("inventory:count_detail", args=[count.pk])).status_code == 200
    assert rep.get(reverse("inventory:replenishment")).status_code == 200
    assert rep.get(reverse("inventory:count_create")).status_code == 403
    for name, data in (
        ("count_set", {f"line-{line.pk}": "1"}),
        ("count_line_add", {"add-product": "GEAR"}),
        ("count_done", {}),
        ("count_cancel", {}),
    ):
        assert rep.post(reverse(f"inventory:{name}", args=[count.pk]), data).status_code == 403
    page = rep.get(reverse("inventory:count_detail", args=[count.pk])).content.decode()
    assert 'name="line-' not in page and 'id="count-add-line"' not in page
    count.refresh_from_db()
    assert count.state == CS.DRAFT and _lines(count)["BOLT"].counted is None

    clerk = client_for(users_a["warehouse_clerk"])
    assert clerk.get(reverse("inventory:rule_create")).status_code == 403
    assert clerk.get(reverse("inventory:rule_edit", args=[rules.bolt.pk])).status_code == 403
    assert (
        clerk.post(
            reverse("inventory:rule_edit", args=[rules.bolt.pk]), {"min_qty": "1", "max_qty": "2"}
        ).status_code
        == 403
    )
    listing = clerk.get(reverse("inventory:rule_list")).content.decode()
    assert reverse("inventory:rule_edit", args=[rules.bolt.pk]) not in listing
    assert client_for(users_a["planner"]).get(reverse("inventory:count_create")).status_code == 403
    rules.bolt.refresh_from_db()
    assert rules.bolt.max_qty == 1000

    from django.test import Client

    anonymous = Client().get(reverse("inventory:count_detail", args=[count.pk]))
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("web:login"))


def test_another_companys_count_and_rule_are_not_found(site, clerk, planner, company_b):
    with company_scope(company_b):
        wh = make_warehouse(company_b, "WB")
        item = make_product(company_b, "CANARY-B")
        put_stock(company_b, item, wh.stock_location, 3)
        count = counts.count_create(company=company_b, location=wh.stock_location, date=DAY)
        line = CountLine.objects.get(count=count)
        rule = rule_set(company=company_b, product=item, warehouse=wh,
                        min_qty=D(1), max_qty=D(2))  # fmt: skip
    for name in ("count_detail", "count_pdf"):
        assert clerk.get(reverse(f"inventory:{name}", args=[count.pk])).status_code == 404
    for name, data in (
        ("count_set", {f"line-{line.pk}": "9"}),
        ("count_line_add", {"add-product": "BOLT"}),
        ("count_done", {}),
        ("count_cancel", {}),
    ):
        assert clerk.post(reverse(f"inventory:{name}", args=[count.pk]), data).status_code == 404
    assert planner.get(reverse("inventory:rule_edit", args=[rule.pk])).status_code == 404
    assert (
        planner.post(
            reverse("inventory:rule_edit", args=[rule.pk]), {"min_qty": "0", "max_qty": "9"}
        ).status_code
        == 404
    )
    assert len(_csv(clerk.get(reverse("inventory:count_list") + "?export=csv"))) == 1
    assert "CANARY-B" not in planner.get(reverse("inventory:replenishment")).content.decode()
    line.refresh_from_db()
    rule.refresh_from_db()
    assert line.counted is None and rule.max_qty == 2
    assert InventoryCount.unscoped.get(pk=count.pk).state == CS.DRAFT


def test_count_list_filters_exports_and_keeps_its_query_count(site, clerk, company_a):
    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert clerk.get(url).status_code == 200
        return len(captured)

    first = _count(site)
    counts.count_set(count=first, counts={_lines(first)["BOLT"].pk: D(1)})
    few = (
        queries(reverse("inventory:count_list")),
        queries(reverse("inventory:count_detail", args=[first.pk])),
    )
    for i in range(6):
        shelf = location_create(company=company_a, name=f"B{i}", parent=site.wh.stock_location)
        put_stock(company_a, make_product(company_a, f"X{i}"), shelf, i + 1)
    for _i in range(5):
        counts.count_cancel(count=_count(site))
    many = (
        queries(reverse("inventory:count_list")),
        queries(reverse("inventory:count_detail", args=[_count(site).pk])),
    )
    assert many == few

    url = reverse("inventory:count_list")
    rows = _csv(clerk.get(f"{url}?export=csv&cols=number,state,lines,counted&sort=number"))
    assert rows[0] == ["Number", "State", "Lines", "Counted lines"]
    assert rows[1] == ["INV/2026/00001", "Counting", "3", "1"]
    assert len(rows) == 1 + 7
    cancelled = _csv(clerk.get(f"{url}?export=csv&cols=number&state=cancelled"))
    assert len(cancelled) == 1 + 5
    assert len(_csv(clerk.get(f"{url}?export=csv&cols=number&q=00001"))) == 2
    html = clerk.get(url + "?cols=number,state").content.decode()
    assert "New count" in html and "Cycle counts" in html and "badge" in html


def test_matrix_part_names_existing_urls():
    from xietong.inventory.tests import matrix_counts

    for name in [*matrix_counts.URL_RECORDS, *matrix_counts.POST_ONLY]:
        args = [1] if name in matrix_counts.URL_RECORDS else []
        assert reverse(name, args=args)


# --- in a browser -----------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_clerk_counts_and_posts_in_a_browser(live_server, company_a, users_a, monkeypatch):
    """Typing a quantity and leaving the field saves it (HTMX): the row shows the difference
    and the footer the progress; Post adjustments asks for confirmation listing the
    differences, then books them."""
    from playwright.sync_api import expect, sync_playwright

    from conftest import PASSWORD

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    try:
        with company_scope(company_a):
            wh = make_warehouse(company_a, "WH")
            bolt, nut = make_product(company_a, "BOLT"), make_product(company_a, "NUT")
            put_stock(company_a, bolt, wh.stock_location, 10)
            put_stock(company_a, nut, wh.stock_location, 4)
            count = counts.count_create(company=company_a, location=wh.stock_location, date=DAY)
            lines = _lines(count)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(locale="en-US", viewport={"width": 1280, "height": 900})
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{live_server.url}/login/")
            page.fill("#id_username", users_a["warehouse_clerk"].username)
            page.fill("#id_password", PASSWORD)
            page.click("#login-form button[type=submit]")
            page.wait_for_url(f"{live_server.url}/")
            page.goto(f"{live_server.url}{reverse('inventory:count_detail', args=[count.pk])}")

            bolt_row = page.locator(f"#count-line-{lines['BOLT'].pk}")
            page.fill(f"#count-input-{lines['BOLT'].pk}", "7")
            page.press(f"#count-input-{lines['BOLT'].pk}", "Tab")
            expect(bolt_row.locator("[data-difference]")).to_have_text("-3")
            expect(bolt_row).to_have_class("table-danger")
            expect(page.locator("#count-summary")).to_contain_text("1 of 2 lines counted")
            page.fill(f"#count-input-{lines['NUT'].pk}", "4")
            page.press(f"#count-input-{lines['NUT'].pk}", "Tab")
            expect(page.locator("#count-summary")).to_contain_text("2 of 2 lines counted")

            page.click("#count-post-open")
            expect(page.locator("#count-difference-list")).to_be_visible()
            expect(page.locator("#count-difference-list")).to_contain_text("BOLT")
            expect(page.locator("#count-difference-list")).not_to_contain_text("NUT")
            page.screenshot(path=str(SCREENSHOTS / "count-confirm.png"))
            page.click("#count-post-confirm")
            expect(page.locator("#count-adjustments")).to_contain_text("BOLT")
            expect(page.locator("#count-state")).to_contain_text("Done")
            page.screenshot(path=str(SCREENSHOTS / "count-done.png"), full_page=True)
            browser.close()
        assert errors == [], errors
        assert quant_qty(bolt, wh.stock_location) == 7
    finally:
        connections.close_all()  # Playwright's thread opened its own connection
