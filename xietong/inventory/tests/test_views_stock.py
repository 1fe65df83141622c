"""The stock screens as a warehouse clerk and an accountant see them: stock on hand with its
filters, groupings, sorting and exports (numbers stay numbers), one product's stock with its
open moves, the moves history and a move's page (valuation only for those who may see it),
lots with their expiry badges and a lot's supplier → production → customer trace, the stock
value next to the ledger, company isolation and query counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import shutil
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from conftest import PASSWORD
from xietong.core.tenancy import company_scope
from xietong.finance.tests.factories import books
from xietong.inventory import stock, valuation
from xietong.inventory.models import Location, Lot, ValuationLayer, Warehouse
from xietong.inventory.pickings import (
    delivery_create,
    picking_confirm,
    picking_done,
    receipt_create,
)
from xietong.inventory.tests.flows_helpers import (
    make_party,
    make_product,
    make_warehouse,
    moves_of,
    place,
    unit,
)
from xietong.inventory.warehouses import location_create
from xietong.product.services import category_create

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2026, 3, 2)
Usage = Location.Usage


def _move(company, product, qty, src, dst, *, lot=None, cost=None, day=DAY):  # type: ignore[no-untyped-def]
    """A done move through the stock services (never by writing quants)."""
    move = stock.move_create(
        company=company, product=product, quantity=D(qty), from_location=src, to_location=dst,
        lot=lot, planned_date=day, unit_cost=None if cost is None else D(cost),
    )  # fmt: skip
    return stock.moves_done(moves=[move], effective_date=day)


def _world(company: Any, prefix: str = "") -> SimpleNamespace:
    """A valued warehouse (books, moving average) with bolts on two shelves, an open receipt
    and a reserved delivery of them, flour in kg lots (one expiring soon, one expired), and a
    resin lot from a supplier made into a glue lot shipped to a customer."""
    today = timezone.localdate()
    w = SimpleNamespace(company=company)
    with company_scope(company):
        w.books = books(company)
        valuation.valuation_setup(company=company)
        w.warehouse = make_warehouse(company, f"{prefix}WH")
        w.stock = w.warehouse.stock_location
        w.shelf = location_create(company=company, name="A1", parent=w.stock)
        w.supplier = place(company, Usage.SUPPLIER)
        w.customer = place(company, Usage.CUSTOMER)
        w.production = place(company, Usage.PRODUCTION)
        w.vendor = make_party(company, f"{prefix}Resin Supplier Ltd", is_supplier=True)
        w.buyer = make_party(company, f"{prefix}Glue Buyer Co", is_customer=True)
        hardware = category_create(company=company, actor=None, name=f"{prefix}Hardware")
        w.bolt = make_product(company, f"{prefix}BOLT", name="Hex bolt M8", category=hardware)
        w.flour = make_product(company, f"{prefix}FLOUR", name="Flour", uom=unit("kg"),
                               tracking="lot")  # fmt: skip
        w.fresh = stock.lot_create(company=company, product=w.flour, name=f"{prefix}F-001",
                                   expiry_date=today + dt.timedelta(days=10))  # fmt: skip
        w.old = stock.lot_create(company=company, product=w.flour, name=f"{prefix}F-OLD",
                                 expiry_date=dt.date(2026, 6, 30))  # fmt: skip
        w.bolt_in = _move(company, w.bolt, 100, w.supplier, w.stock, cost="0.50")[0]
        _move(company, w.bolt, 40, w.supplier, w.shelf, cost="0.50")
        w.bolt_out = _move(company, w.bolt, 30, w.stock, w.customer, day=dt.date(2026, 3, 5))[0]
        _move(company, w.flour, "12.5", w.supplier, w.stock, lot=w.fresh, cost="3.20")
        _move(company, w.flour, "2.25", w.supplier, w.shelf, lot=w.old, cost="3.00")
        w.receipt = picking_confirm(picking=receipt_create(
            company=company, warehouse=w.warehouse, party=w.vendor, scheduled_date=DAY,
            origin=f"{prefix}PO-9", lines=[{"product": w.bolt, "quantity": D(50)}],
        )[0])  # fmt: skip
        w.delivery = picking_confirm(picking=delivery_create(
            company=company, warehouse=w.warehouse, party=w.buyer, scheduled_date=DAY,
            origin=f"{prefix}SO-7", lines=[{"product": w.bolt, "quantity": D(10)}],
        )[0])  # fmt: skip
        [w.delivery_move] = moves_of(w.delivery)
        # traceability: resin lot R1 from the supplier, made into glue lot G1, shipped
        w.resin = make_product(company, f"{prefix}RESIN", name="Resin", tracking="lot")
        w.glue = make_product(company, f"{prefix}GLUE", name="Glue", tracking="lot")
        receipt = receipt_create(
            company=company, warehouse=w.warehouse, party=w.vendor, scheduled_date=DAY,
            origin=f"{prefix}PO-1", lines=[{"product": w.resin, "quantity": D(10)}],
        )[0]  # fmt: skip
        [resin_in] = moves_of(receipt)
        picking_done(picking=receipt, lots={resin_in.pk: f"{prefix}R1"}, effective_date=DAY)
        w.r1 = Lot.unscoped.get(product=w.resin, name=f"{prefix}R1")
        Lot.unscoped.filter(pk=w.r1.pk).update(supplier_lot="SUP-77")
        w.used = _move(company, w.resin, 4, w.stock, w.production, lot=w.r1)
        w.g1 = stock.lot_create(company=company, product=w.glue, name=f"{prefix}G1")
        made = stock.move_create(
            company=company, product=w.glue, quantity=D(6), lot=w.g1,
            from_location=w.production, to_location=w.stock, planned_date=DAY,
        )  # fmt: skip
        made.consumed.set(w.used)
        w.made = stock.moves_done(moves=[made], effective_date=DAY)[0]
        shipment = delivery_create(
            company=company, warehouse=w.warehouse, party=w.buyer, scheduled_date=DAY,
            origin=f"{prefix}SO-1", lines=[{"product": w.glue, "quantity": D(3), "lot": w.g1}],
        )[0]  # fmt: skip
        w.shipment = picking_done(picking=shipment, effective_date=DAY)
    return w


@pytest.fixture
def world(company_a):  # type: ignore[no-untyped-def]
    return _world(company_a)


@pytest.fixture
def clerk(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["warehouse_clerk"])


@pytest.fixture
def accountant(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["accountant"])


def _html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _csv(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


def _xlsx(response: Any) -> list[tuple[Any, ...]]:
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    return list(sheet.iter_rows(values_only=True))


def _rows(html: str) -> list[str]:
    """The body rows of the list table, as text without tags."""
    body = html.split('id="list-table"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in body.split("<tr>")[1:]
    ]


# --- stock on hand -----------------------------------------------------------------------------


def test_stock_list_shows_each_quant_to_a_clerk(world, clerk):
    html = _html(clerk.get(reverse("inventory:stock_list")))
    rows = _rows(html)
    assert "BOLT · Hex bolt M8 WH/Stock — — 70 10 60 pc" in rows
    assert "BOLT · Hex bolt M8 WH/Stock/A1 — — 40 0 40 pc" in rows
    soon = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    assert f"FLOUR · Flour WH/Stock F-001 {soon} 12.500 0.000 12.500 kg" in rows
    assert "FLOUR · Flour WH/Stock/A1 F-OLD 2026-06-30 2.250 0.000 2.250 kg" in rows
    assert 'class="d-block text-end text-nowrap qty">12.500</span>' in html
    # products link to their stock, lots to their page
    assert reverse("inventory:product_stock", args=[world.bolt.pk]) in html
    assert reverse("inventory:lot_detail", args=[world.fresh.pk]) in html
    # stock that left (customers, production) is not on hand
    assert not any("Customers" in row or "Production" in row for row in rows)


def test_stock_list_filters(world, clerk):
    url = reverse("inventory:stock_list")
    below_stock = _rows(_html(clerk.get(url, {"location": world.stock.pk, "product": "BOLT"})))
    assert [row.split(" ")[5] for row in below_stock] == ["WH/Stock", "WH/Stock/A1"]
    shelf = _rows(_html(clerk.get(url, {"location": world.shelf.pk})))
    assert len(shelf) == 2 and all("WH/Stock/A1" in row for row in shelf)
    assert all("FLOUR" in row for row in _rows(_html(clerk.get(url, {"product": "flour"}))))
    lot = _rows(_html(clerk.get(url, {"lot": "F-OLD"})))
    assert len(lot) == 1 and "2.250" in lot[0]
    assert len(_rows(_html(clerk.get(url, {"warehouse": world.warehouse.pk})))) == len(
        _rows(_html(clerk.get(url)))
    )
    # "only positive": the glue made and partly shipped stays; nothing negative is listed
    positive = _rows(_html(clerk.get(url, {"positive": "1", "product": "GLUE"})))
    assert len(positive) == 1 and " 3 " in f" {positive[0]} "
    bad = _html(clerk.get(url, {"location": "999999"}))
    assert "is not a valid Location" in bad


def test_stock_list_groups_by_product_location_and_lot(world, clerk):
    url = reverse("inventory:stock_list")
    by_product = _rows(_html(clerk.get(url, {"group": "product", "product": "BOLT"})))
    assert by_product == ["BOLT · Hex bolt M8 2 locations — — 110 10 100 pc"]
    flour = _rows(_html(clerk.get(url, {"group": "product", "product": "FLOUR"})))
    assert flour == ["FLOUR · Flour 2 locations 2 lots — 14.750 0.000 14.750 kg"]
    by_lot = _rows(_html(clerk.get(url, {"group": "lot", "product": "FLOUR"})))
    assert len(by_lot) == 2 and all("1 location" in row for row in by_lot)
    by_location = _rows(_html(clerk.get(url, {"group": "location", "location": world.shelf.pk})))
    assert sorted(row.split(" · ")[0] for row in by_location) == ["BOLT", "FLOUR"]
    assert all("1 lot" in row or "—" in row for row in by_location)
    # sorting by a sum, and by a column grouped away (it falls back to the group keys)
    ordered = _rows(_html(clerk.get(url, {"group": "product", "sort": "-on_hand"})))
    assert ordered[0].startswith("BOLT")
    assert len(_rows(_html(clerk.get(url, {"group": "product", "sort": "location"})))) == len(
        ordered
    )
    # the pages keep the grouping in their sort and export links
    html = _html(clerk.get(url, {"group": "product"}))
    assert "group=product" in html.split('id="export-csv"', 1)[1].split(">", 1)[0]


def test_stock_export_keeps_numbers(world, clerk):
    url = reverse("inventory:stock_list")
    rows = _csv(clerk.get(url, {"export": "csv", "group": "product", "sort": "product"}))
    assert rows[0][:1] == ["Product"] and "On hand" in rows[0]
    on_hand = rows[0].index("On hand")
    bolt = next(r for r in rows if r[0].startswith("BOLT"))
    flour = next(r for r in rows if r[0].startswith("FLOUR"))
    assert (bolt[on_hand], flour[on_hand]) == ("110", "14.750")
    sheet = _xlsx(clerk.get(url, {"export": "xlsx"}))
    header = list(sheet[0])
    numbers = [r[header.index("On hand")] for r in sheet[1:]]
    assert all(isinstance(n, (int, float)) for n in numbers)
    assert sorted(numbers)[-1] == 70 and 12.5 in numbers


# --- one product -------------------------------------------------------------------------------


def test_product_stock_page(world, clerk):
    html = _html(clerk.get(reverse("inventory:product_stock", args=[world.bolt.pk])))
    totals = {
        name: re.search(rf'id="total-{name}"><span[^>]*>([^<]*)</span>', html).group(1)
        for name in ("on-hand", "reserved", "available", "incoming", "outgoing", "forecast")
    }
    assert totals == {
        "on-hand": "110",
        "reserved": "10",
        "available": "100",
        "incoming": "50",
        "outgoing": "10",
        "forecast": "150",
    }
    quants = html.split('id="product-quants"', 1)[1].split("</table>", 1)[0]
    assert "WH/Stock/A1" in quants and "WH/Stock<" in quants
    incoming = html.split('id="moves-incoming"', 1)[1].split("</table>", 1)[0]
    assert world.receipt.number in incoming and "Resin Supplier Ltd" in incoming
    outgoing = html.split('id="moves-outgoing"', 1)[1].split("</table>", 1)[0]
    assert world.delivery.number in outgoing and "Glue Buyer Co" in outgoing
    assert "Reserved" in outgoing  # the delivery's state
    assert reverse("inventory:move_list") + "?product=BOLT" in html
    assert 'id="total-value"' not in html  # a clerk does not see values
    lots = html.split("<main", 1)[1].count(reverse("inventory:lot_list"))  # not the menu
    assert lots == 0  # bolts are not tracked
    flour = _html(clerk.get(reverse("inventory:product_stock", args=[world.flour.pk])))
    assert reverse("inventory:lot_list") + "?product=FLOUR" in flour and "12.500" in flour


def test_product_stock_shows_the_value_to_an_accountant(world, accountant):
    html = _html(accountant.get(reverse("inventory:product_stock", args=[world.bolt.pk])))
    assert re.search(r'id="total-value"><span[^>]*>55.00</span>', html)  # 110 × 0.50


# --- moves -------------------------------------------------------------------------------------


def test_move_list_newest_first_with_filters(world, clerk):
    url = reverse("inventory:move_list")
    rows = _rows(_html(clerk.get(url, {"product": "BOLT"})))
    assert len(rows) == 5  # two receipts in, one shipment out, the open receipt and delivery
    assert rows[0].startswith("2026-03-05")  # the shipment, the latest
    assert "WH/Stock Virtual locations/Customers 30 pc Done" in rows[0]
    customers = _rows(_html(clerk.get(url, {"location": world.customer.pk, "product": "BOLT"})))
    assert len(customers) == 2 and all("Customers" in row for row in customers)
    done = _rows(_html(clerk.get(url, {"state": "done", "product": "BOLT"})))
    assert len(done) == 3
    dated = _rows(_html(clerk.get(url, {"date_from": "2026-03-03", "date_to": "2026-03-31"})))
    assert len(dated) == 1 and "Customers" in dated[0]
    picking = _rows(_html(clerk.get(url, {"picking": world.delivery.number})))
    assert len(picking) == 1 and world.delivery.number in picking[0] and "Reserved" in picking[0]
    lot = _rows(_html(clerk.get(url, {"lot": "F-OLD"})))
    assert len(lot) == 1 and "2.250" in lot[0]
    sheet = _xlsx(clerk.get(url, {"export": "xlsx", "product": "BOLT"}))
    header = list(sheet[0])
    assert sheet[1][header.index("Quantity")] == 30
    assert sheet[1][header.index("Date")] == dt.datetime(2026, 3, 5)


def test_move_detail_for_a_clerk_and_an_accountant(world, clerk, accountant):
    url = reverse("inventory:move_detail", args=[world.delivery_move.pk])
    html = _html(clerk.get(url))
    reservations = html.split('id="move-reservations"', 1)[1].split("</table>", 1)[0]
    assert "WH/Stock" in reservations and ">10</span>" in reservations
    assert world.delivery.number in html and "Glue Buyer Co" in html
    assert 'id="move-layers"' not in html and 'id="move-value-change"' not in html
    assert 'id="history-tab"' in html
    made = _html(clerk.get(reverse("inventory:move_detail", args=[world.made.pk])))
    chain = made.split('id="move-chain"', 1)[1].split("</table>", 1)[0]
    assert "Consumed to make this" in chain and "R1" in chain
    shipped = _html(accountant.get(reverse("inventory:move_detail", args=[world.bolt_out.pk])))
    layers = shipped.split('id="move-layers"', 1)[1].split("</table>", 1)[0]
    assert ">-30</span>" in layers and ">-15.00</span>" in layers  # 30 × 0.50 out of stock
    entry = ValuationLayer.unscoped.get(move=world.bolt_out).entry_id
    assert reverse("finance:entry_detail", args=[entry]) in layers
    assert 'id="move-value-change">-15.00 CNY<' in shipped


# --- lots --------------------------------------------------------------------------------------


def test_lot_list_badges_and_filters(world, clerk):
    url = reverse("inventory:lot_list")
    rows = _rows(_html(clerk.get(url)))
    assert any(row.startswith("F-001 ") and "Expiring soon" in row for row in rows)
    assert any(row.startswith("F-OLD ") and "Expired" in row for row in rows)
    expired = _rows(_html(clerk.get(url, {"expiry": "expired"})))
    assert [row.split(" ")[0] for row in expired] == ["F-OLD"]
    in_stock = _rows(_html(clerk.get(url, {"in_stock": "1", "product": "RESIN"})))
    assert len(in_stock) == 1 and in_stock[0].startswith("R1 ") and " 6 " in in_stock[0]
    found = _rows(_html(clerk.get(url, {"q": "SUP-77"})))
    assert [row.split(" ")[0] for row in found] == ["R1"]
    sheet = _xlsx(clerk.get(url, {"export": "xlsx", "product": "FLOUR"}))
    header = list(sheet[0])
    assert sorted(r[header.index("On hand")] for r in sheet[1:]) == [2.25, 12.5]


def test_lot_detail_traces_supplier_lot_to_customer_shipment(world, clerk):
    resin = _html(clerk.get(reverse("inventory:lot_detail", args=[world.r1.pk])))
    assert "SUP-77" in resin
    customers = resin.split('id="trace-customers"', 1)[1].split("</ul>", 1)[0]
    assert "Glue Buyer Co" in customers and "G1" in customers and world.shipment.number in customers
    downstream = resin.split('id="trace-downstream"', 1)[1].split("</table>", 1)[0]
    steps = re.findall(r'data-depth="(\d)"', downstream)
    assert steps[0] == "0" and "1" in steps
    # the glue made of R1 comes right after R1 went to production, one level deeper
    production = downstream.index("Virtual locations/Production</td>")
    made = downstream.index(reverse("inventory:lot_detail", args=[world.g1.pk]), production)
    assert downstream.index("Glue Buyer Co") > made
    glue = _html(clerk.get(reverse("inventory:lot_detail", args=[world.g1.pk])))
    suppliers = glue.split('id="trace-suppliers"', 1)[1].split("</ul>", 1)[0]
    assert "Resin Supplier Ltd" in suppliers and "R1" in suppliers and "SUP-77" in suppliers
    upstream = glue.split('id="trace-upstream"', 1)[1].split("</table>", 1)[0]
    assert reverse("inventory:move_detail", args=[world.used[0].pk]) in upstream
    quants = glue.split('id="lot-quants"', 1)[1].split("</table>", 1)[0]
    assert "WH/Stock" in quants and ">3</span>" in quants  # 6 made, 3 shipped


# --- stock value -------------------------------------------------------------------------------


def test_valuation_is_for_those_who_may_see_values(world, clerk):
    assert clerk.get(reverse("inventory:valuation")).status_code == 403


def _amount(text: str) -> Decimal:
    return D(text.replace(",", ""))


def test_valuation_total_is_the_sum_of_the_rows_and_agrees_with_the_ledger(world, accountant):
    url = reverse("inventory:valuation")
    html = _html(accountant.get(url))
    table = html.split('id="valuation-table"', 1)[1].split("<tfoot>", 1)[0]
    values = [
        _amount(v)
        for v in re.findall(
            r'<td><span class="d-block text-end text-nowrap amount">([^<]*)</span></td>\s*</tr>',
            table,
        )
    ]
    total = _amount(re.search(r'id="valuation-total"><span[^>]*>([^<]*)<', html).group(1))
    # bolts 110 × 0.50 + flour 12.5 × 3.20 + 2.25 × 3.00 (resin and glue were received free)
    assert total == sum(values) == D("55.00") + D("40.00") + D("6.75")
    ledger = _amount(re.search(r'id="valuation-ledger"><span[^>]*>([^<]*)<', html).group(1))
    assert ledger == total and "alert-success" in html
    assert reverse("finance:general_ledger") in html  # an accountant may open the ledger
    # as of a day before the shipment: 30 more bolts
    earlier = _html(accountant.get(url, {"as_of": "2026-03-04"}))
    before = re.search(r'id="valuation-total"><span[^>]*>([^<]*)<', earlier).group(1)
    assert _amount(before) == total + D("15.00")
    by_category = _html(accountant.get(url, {"group": "category"}))
    assert "Category: Hardware" in by_category and by_category.count("valuation-subtotal") == 2
    by_location = _html(accountant.get(url, {"group": "location"}))
    assert "Location: WH/Stock/A1" in by_location
    located = re.search(r'id="valuation-total"><span[^>]*>([^<]*)<', by_location).group(1)
    assert _amount(located) == total


def test_valuation_export_keeps_numbers(world, accountant):
    url = reverse("inventory:valuation")
    rows = _csv(accountant.get(url, {"export": "csv"}))
    assert rows[0] == ["SKU", "Product", "Quantity", "Unit", "Unit cost", "Value"]
    bolt = next(r for r in rows if r[0] == "BOLT")
    assert bolt[2:] == ["110", "pc", "0.50", "55.00"]
    sheet = _xlsx(accountant.get(url, {"export": "xlsx", "group": "location"}))
    assert list(sheet[0]) == [
        "SKU",
        "Product",
        "Location",
        "Quantity",
        "Unit",
        "Unit cost",
        "Value",
    ]
    values = [r[6] for r in sheet[1:]]
    assert all(isinstance(v, (int, float)) for v in values)
    assert round(sum(values), 2) == 101.75


# --- isolation and query counts ----------------------------------------------------------------


def test_another_companys_stock_is_never_shown(world, company_b, clerk, accountant):
    other = _world(company_b, prefix="CANARY")
    for name, record in (
        ("inventory:product_stock", other.bolt),
        ("inventory:move_detail", other.bolt_in),
        ("inventory:lot_detail", other.r1),
    ):
        assert clerk.get(reverse(name, args=[record.pk])).status_code == 404, name
    for name in ("inventory:stock_list", "inventory:move_list", "inventory:lot_list"):
        for params in ({}, {"group": "product"}, {"export": "csv"}):
            assert "CANARY" not in clerk.get(reverse(name), params).content.decode(), name
    assert "CANARY" not in _html(accountant.get(reverse("inventory:valuation")))
    assert "CANARY" not in _html(clerk.get(reverse("inventory:lot_detail", args=[world.r1.pk])))
    # a location of the other company filters nothing in: it is not a valid choice here
    foreign = _html(clerk.get(reverse("inventory:stock_list"), {"location": other.stock.pk}))
    assert "is not a valid Location" in foreign


def test_lists_do_not_query_per_row(world, clerk, django_assert_max_num_queries):
    with company_scope(world.company):
        for n in range(12):
            item = make_product(world.company, f"EXTRA{n}")
            _move(world.company, item, n + 1, world.supplier, world.shelf)
    for name, limit in (
        ("inventory:stock_list", 14),
        ("inventory:move_list", 14),
        ("inventory:lot_list", 14),
    ):
        with django_assert_max_num_queries(limit):
            assert clerk.get(reverse(name)).status_code == 200
        with django_assert_max_num_queries(limit):
            assert clerk.get(reverse(name), {"group": "product"}).status_code == 200


def test_warehouse_choices_and_empty_pages(company_a, clerk, accountant):
    with company_scope(company_a):
        make_warehouse(company_a, "EMPTY", reception_steps=Warehouse.ReceptionSteps.TWO)
    html = _html(clerk.get(reverse("inventory:stock_list")))
    assert "EMPTY Warehouse EMPTY" in html and "Nothing matches." in html
    value = _html(accountant.get(reverse("inventory:valuation")))
    assert "No stock had a value on that day." in value and "not valued in the ledger" in value


# --- in a browser ------------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def page(django_db_setup, live_server, monkeypatch):  # type: ignore[no-untyped-def]
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_context(
            locale="en-US", viewport={"width": 1400, "height": 900}
        ).new_page()
        page.set_default_timeout(15_000)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        yield page
        browser.close()
        assert errors == [], errors


@pytest.mark.browser
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
@pytest.mark.django_db(transaction=True)
def test_clerk_and_accountant_in_a_browser(page, live_server, company_a, users_a):
    try:
        _browse(page, live_server, company_a, users_a)
    finally:
        connections.close_all()  # Playwright's thread opened its own connection


def _login(page, live_server, user):  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")


def _browse(page, live_server, company_a, users_a):  # type: ignore[no-untyped-def]
    from playwright.sync_api import expect

    w = _world(company_a)
    _login(page, live_server, users_a["warehouse_clerk"])
    page.goto(f"{live_server.url}{reverse('inventory:stock_list')}")
    expect(page.locator("#list-count")).to_contain_text("6 records")
    page.select_option("#filter-group", "product")  # HTMX redraws the table
    expect(page.locator("#list-count")).to_contain_text("4 records")
    expect(page.locator("#list-table")).to_contain_text("2 locations")
    page.click(f"#list-table a[href='{reverse('inventory:product_stock', args=[w.bolt.pk])}']")
    expect(page.locator("#total-forecast")).to_have_text("150")
    page.goto(f"{live_server.url}{reverse('inventory:move_list')}")
    expect(page.locator("#list-table tbody tr").first).to_contain_text("2026-03-05")
    page.goto(f"{live_server.url}{reverse('inventory:move_detail', args=[w.delivery_move.pk])}")
    expect(page.locator("#move-reservations")).to_contain_text("WH/Stock")
    page.goto(f"{live_server.url}{reverse('inventory:lot_list')}")
    expect(page.locator("#list-table")).to_contain_text("Expiring soon")
    page.goto(f"{live_server.url}{reverse('inventory:lot_detail', args=[w.r1.pk])}")
    expect(page.locator("#trace-customers")).to_contain_text("Glue Buyer Co")
    page.goto(f"{live_server.url}{reverse('inventory:lot_detail', args=[w.g1.pk])}")
    expect(page.locator("#trace-suppliers")).to_contain_text("Resin Supplier Ltd")
    page.click("#user-menu")
    page.click("#logout")
    _login(page, live_server, users_a["accountant"])
    page.goto(f"{live_server.url}{reverse('inventory:valuation')}")
    expect(page.locator("#valuation-total")).to_have_text("101.75")
    expect(page.locator("#valuation-check")).to_contain_text("agrees")
    page.select_option("#valuation-group", "location")
    page.click("#valuation-selector button[type=submit]")
    expect(page.locator("#valuation-table")).to_contain_text("Location: WH/Stock/A1")
    page.goto(f"{live_server.url}{reverse('inventory:move_detail', args=[w.bolt_out.pk])}")
    expect(page.locator("#move-layers")).to_contain_text("-15.00")
