"""The picking screens: the list (filters, presets, exports, query count), the picking page
(moves, route steps, backorders, buttons by state and permission), the new picking form for each
kind (a bad form writes nothing), confirm / reserve / cancel, validation with the backorder
question, new lot names and serial numbers, the barcode scan screen through HTMX and without
JavaScript, the PDF, permissions and company isolation."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.inventory import stock
from xietong.inventory.models import Lot, Move, Picking, Warehouse
from xietong.inventory.pickings import (
    delivery_create,
    picking_confirm,
    picking_done,
    receipt_create,
)
from xietong.inventory.tests.flows_helpers import (
    D,
    fresh,
    make_party,
    make_product,
    make_warehouse,
    moves_of,
    put_stock,
    quant_qty,
    snapshot,
)
from xietong.inventory.warehouses import location_create

pytestmark = pytest.mark.django_db
PS = Picking.State
MS = Move.State
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def scope(company_a):
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def clerk(users_a, client_for):
    return client_for(users_a["warehouse_clerk"])


@pytest.fixture
def wh(scope):
    return make_warehouse(scope)


def _url(name: str, picking: Picking | None = None) -> str:
    return reverse(f"inventory:{name}", args=[picking.pk] if picking else [])


def _receipt(company, warehouse, *lines, party=None, day=None, origin="PO-1", confirm=True):
    [first, *_rest] = receipt_create(
        company=company,
        warehouse=warehouse,
        party=party,
        lines=[{"product": p, "quantity": D(q)} for p, q in lines],
        scheduled_date=day or timezone.localdate(),
        origin=origin,
    )
    return picking_confirm(picking=first) if confirm else first


def _delivery(company, warehouse, *lines, party=None, day=None, origin="SO-1", confirm=True):
    [first, *_rest] = delivery_create(
        company=company,
        warehouse=warehouse,
        party=party,
        lines=[{"product": p, "quantity": D(q)} for p, q in lines],
        scheduled_date=day or timezone.localdate(),
        origin=origin,
    )
    return picking_confirm(picking=first) if confirm else first


def _numbers(response) -> set[str]:
    """The picking numbers listed on a list page (or its HTMX table)."""
    html = response.content.decode()
    return {
        number
        for number in Picking.unscoped.values_list("number", flat=True)
        if f">{number}</a>" in html
    }


def _lines(*rows: dict[str, Any]) -> dict[str, str]:
    data = {
        "lines-TOTAL_FORMS": str(len(rows)),
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"lines-{i}-{key}"] = str(value)
    return data


# --- the list ----------------------------------------------------------------------------------


def test_list_filters_presets_and_export(scope, wh, clerk):
    today = timezone.localdate()
    two_step = make_warehouse(scope, "W2", delivery_steps=Warehouse.DeliverySteps.TWO)
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 100)
    put_stock(scope, bolt, two_step.stock_location, 100)
    supplier = make_party(scope, "Shenzhen Parts", is_supplier=True)
    customer = make_party(scope, "Hangzhou Bikes", is_customer=True)
    receipt = _receipt(
        scope, wh, (bolt, 5), party=supplier, day=today + dt.timedelta(days=3), origin="PO-77"
    )
    late = _receipt(scope, wh, (bolt, 2), party=supplier, day=today - dt.timedelta(days=5))
    delivery = _delivery(scope, wh, (bolt, 3), party=customer, day=today + dt.timedelta(days=2))
    pick = _delivery(scope, two_step, (bolt, 4), party=customer, day=today)
    ship = Picking.unscoped.get(previous=pick)
    draft = _receipt(scope, wh, (bolt, 1), day=today - dt.timedelta(days=9), confirm=False)
    done = _receipt(scope, wh, (bolt, 1), day=today - dt.timedelta(days=9))
    picking_done(picking=done)
    every = {p.number for p in (receipt, late, delivery, pick, ship, draft, done)}

    response = clerk.get(_url("picking_list"))
    assert response.status_code == 200
    assert _numbers(response) == every
    html = response.content.decode()
    for preset in ("receive", "pickpack", "ship", "late"):
        assert f'data-preset="{preset}"' in html
    assert _url("picking_create") in html  # the clerk may create

    def listed(**params: str) -> set[str]:
        response = clerk.get(_url("picking_list"), params, **HTMX)
        assert response.status_code == 200
        return _numbers(response)

    assert listed(todo="receive") == {receipt.number, late.number}
    assert listed(todo="pickpack") == {pick.number}
    assert listed(todo="ship") == {delivery.number, ship.number}
    assert listed(late="1") == {late.number, draft.number}
    assert listed(kind="delivery") == {delivery.number, ship.number}
    assert listed(state="draft") == {draft.number}
    assert listed(warehouse=str(two_step.pk)) == {pick.number, ship.number}
    assert listed(partner=str(customer.pk)) == {delivery.number, pick.number, ship.number}
    assert listed(q="PO-77") == {receipt.number}
    assert listed(q="hangzhou", kind="internal") == {pick.number}

    response = clerk.get(_url("picking_list"), {"todo": "ship", "export": "csv"})
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:2] == ["Number", "Kind"]
    assert sorted(row[0] for row in rows[1:]) == sorted([delivery.number, ship.number])
    assert {row[7] for row in rows[1:]} <= {"Ready", "Waiting"}  # badges export as text
    response = clerk.get(_url("picking_list"), {"late": "1", "export": "xlsx"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")


def test_list_query_count_does_not_grow_with_rows(scope, wh, clerk):
    bolt = make_product(scope, "BOLT")
    party = make_party(scope, "Shenzhen Parts", is_supplier=True)
    _receipt(scope, wh, (bolt, 1), party=party)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert clerk.get(_url("picking_list")).status_code == 200
        return len(queries)

    few = count()
    for _n in range(8):
        _receipt(scope, wh, (bolt, 1), party=make_party(scope, "Other", is_supplier=True))
    assert count() == few


# --- the picking page --------------------------------------------------------------------------


def test_detail_shows_moves_chain_backorders_and_buttons_by_state(
    scope, clerk, users_a, client_for
):
    wh = make_warehouse(scope, "W2", reception_steps=Warehouse.ReceptionSteps.TWO)
    bolt = make_product(scope, "BOLT")
    receive = _receipt(scope, wh, (bolt, 10))
    store = Picking.unscoped.get(previous=receive)
    response = clerk.get(_url("picking_detail", receive))
    html = response.content.decode()
    assert response.status_code == 200
    assert "picking-moves" in html and "[BOLT]" in html
    assert f'href="{_url("picking_detail", store)}" data-chain="next"' in html
    assert _url("picking_validate", receive) in html and _url("picking_scan", receive) in html
    assert _url("picking_cancel", receive) in html and _url("picking_pdf", receive) in html
    assert _url("picking_confirm", receive) not in html  # not a draft
    assert 'id="history-tab"' in html
    # the next step waits: it offers "check availability"
    assert (
        _url("picking_assign", store) in clerk.get(_url("picking_detail", store)).content.decode()
    )

    [move] = moves_of(receive)
    picking_done(picking=receive, quantities={move.pk: D(4)})
    [back] = fresh(receive).backorders.all()
    html = clerk.get(_url("picking_detail", receive)).content.decode()
    assert f'href="{_url("picking_detail", back)}" data-chain="backorder"' in html
    assert _url("picking_validate", receive) not in html  # done: nothing to act on
    html = clerk.get(_url("picking_detail", back)).content.decode()
    assert 'data-chain="backorder-of"' in html

    # a role that only sees stock gets no buttons that act
    html = client_for(users_a["sales_rep"]).get(_url("picking_detail", back)).content.decode()
    assert _url("picking_validate", back) not in html and _url("picking_pdf", back) in html


def test_pdf_is_a_delivery_slip(scope, wh, clerk):
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 10)
    delivery = _delivery(scope, wh, (bolt, 3), party=make_party(scope, "Hangzhou Bikes"))
    response = clerk.get(_url("picking_pdf", delivery))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


# --- creating ----------------------------------------------------------------------------------


def _header(kind: str, warehouse: Warehouse | None = None, **extra: Any) -> dict[str, str]:
    return {
        "kind": kind,
        "warehouse": str(warehouse.pk) if warehouse else "",
        "scheduled_date": timezone.localdate().isoformat(),
        "origin": "Screen",
        **extra,
    }


def test_create_each_kind_through_the_form(scope, wh, clerk):
    bolt, nut = make_product(scope, "BOLT"), make_product(scope, "NUT", barcode="6901234567892")
    resin = make_product(scope, "RESIN", tracking="lot")
    lot = stock.lot_create(company=scope, product=resin, name="R-1")
    supplier = make_party(scope, "Shenzhen Parts", is_supplier=True)
    shelf = location_create(company=scope, name="A1", parent=wh.stock_location)

    assert clerk.get(_url("picking_create")).status_code == 200
    data = {
        **_header("receipt", wh, partner=supplier.code),
        **_lines(
            {"product": "BOLT", "quantity": "10", "uom": "", "lot": ""},
            {"product": "6901234567892", "quantity": "2", "uom": "pc", "lot": ""},
            {"product": "RESIN", "quantity": "3", "uom": "", "lot": "R-1"},
            {"product": "", "quantity": "", "uom": "", "lot": ""},  # a blank line is ignored
        ),
    }
    response = clerk.post(_url("picking_create"), data)
    receipt = Picking.unscoped.get(kind="receipt", origin="Screen")
    assert response.status_code == 302 and response["Location"] == _url("picking_detail", receipt)
    assert (receipt.state, receipt.party, receipt.warehouse) == (PS.DRAFT, supplier, wh)
    assert [(m.product, m.quantity, m.lot) for m in moves_of(receipt)] == [
        (bolt, 10, None),
        (nut, 2, None),
        (resin, 3, lot),
    ]

    response = clerk.post(
        _url("picking_create"),
        {
            **_header("delivery", wh, origin="SO-9"),
            **_lines({"product": "BOLT", "quantity": "4"}),
        },
    )
    delivery = Picking.unscoped.get(origin="SO-9")
    assert response.status_code == 302 and delivery.kind == "delivery"
    assert delivery.to_location.usage == "customer"

    response = clerk.post(
        _url("picking_create"),
        {
            **_header(
                "internal",
                None,
                origin="MOVE-1",
                from_location=str(wh.stock_location.pk),
                to_location=str(shelf.pk),
            ),
            **_lines({"product": "BOLT", "quantity": "1"}),
        },
    )
    transfer = Picking.unscoped.get(origin="MOVE-1")
    assert response.status_code == 302
    assert (transfer.kind, transfer.from_location, transfer.to_location, transfer.warehouse) == (
        "internal",
        wh.stock_location,
        shelf,
        wh,
    )


def test_add_and_remove_lines_save_nothing(scope, wh, clerk):
    make_product(scope, "BOLT")
    before = snapshot(scope)
    data = {
        **_header("receipt", wh),
        **_lines({"product": "BOLT", "quantity": "1"}),
        "lines_action": "add",
    }
    response = clerk.post(_url("picking_create"), data, **HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and html.count('class="picking-line"') == 2
    assert 'name="lines-0-product" value="BOLT"' in html
    data = {
        **_header("receipt", wh),
        **_lines({"product": "BOLT", "quantity": "1"}, {}),
        "lines_action": "remove-0",
    }
    html = clerk.post(_url("picking_create"), data).content.decode()
    assert html.count('class="picking-line"') == 1
    assert 'name="lines-0-product" value="BOLT"' not in html
    assert snapshot(scope) == before


def test_a_bad_form_writes_nothing(scope, wh, clerk):
    make_product(scope, "BOLT")
    resin = make_product(scope, "RESIN", tracking="lot")
    before = snapshot(scope)
    cases = [
        (
            {**_header("receipt", wh), **_lines({"product": "NOPE", "quantity": "1"})},
            'data-field-error="lines-0-product"',
        ),
        (
            {**_header("receipt", wh), **_lines({"product": "BOLT", "quantity": "-2"})},
            'data-field-error="lines-0-quantity"',
        ),
        (
            {**_header("receipt", wh), **_lines({"product": "RESIN", "quantity": "1", "lot": "X"})},
            'data-field-error="lines-0-lot"',
        ),
        (
            {**_header("receipt", None), **_lines({"product": "BOLT", "quantity": "1"})},
            'data-field-error="warehouse"',
        ),
        (
            {
                **_header("receipt", wh, partner="NO-SUCH"),
                **_lines({"product": "BOLT", "quantity": "1"}),
            },
            'data-field-error="partner"',
        ),
        (
            {**_header("internal", wh), **_lines({"product": "BOLT", "quantity": "1"})},
            'data-field-error="from_location"',
        ),
        # the service refuses: no line at all, or a transfer to where the stock is
        ({**_header("delivery", wh), **_lines({})}, "Add at least one line."),
        (
            {
                **_header(
                    "internal",
                    None,
                    from_location=str(wh.stock_location.pk),
                    to_location=str(wh.stock_location.pk),
                ),
                **_lines({"product": "BOLT", "quantity": "1"}),
            },
            'id="service-errors"',
        ),
    ]
    for data, expected in cases:
        response = clerk.post(_url("picking_create"), data)
        assert response.status_code == 400, expected
        assert expected in response.content.decode(), expected
    assert snapshot(scope) == before
    assert not Lot.unscoped.filter(product=resin).exists()


# --- confirm, reserve, cancel ------------------------------------------------------------------


def test_confirm_assign_and_cancel_through_the_screens(scope, wh, clerk):
    bolt = make_product(scope, "BOLT")
    delivery = _delivery(scope, wh, (bolt, 5), confirm=False)
    assert clerk.get(_url("picking_confirm", delivery)).status_code == 405

    response = clerk.post(_url("picking_confirm", delivery), follow=True)
    assert fresh(delivery).state == PS.WAITING
    assert "confirmed" in response.content.decode()
    response = clerk.post(_url("picking_assign", delivery), follow=True)
    assert fresh(delivery).state == PS.WAITING
    assert "still waits" in response.content.decode()

    put_stock(scope, bolt, wh.stock_location, 10)
    response = clerk.post(_url("picking_assign", delivery))
    assert response.status_code == 302
    assert response["Location"] == _url("picking_detail", delivery)
    assert fresh(delivery).state == PS.READY
    assert stock.available(product=bolt) == 5

    response = clerk.post(_url("picking_cancel", delivery), follow=True)
    assert fresh(delivery).state == PS.CANCELLED and stock.available(product=bolt) == 10
    assert "cancelled" in response.content.decode()

    before = snapshot(scope)
    for action in ("picking_confirm", "picking_assign", "picking_cancel"):
        response = clerk.post(_url(action, delivery), follow=True)
        assert "alert-danger" in response.content.decode()  # refused, shown as a message
    assert snapshot(scope) == before


# --- validating --------------------------------------------------------------------------------


def test_partial_validation_asks_then_creates_a_backorder(scope, wh, clerk):
    bolt, nut = make_product(scope, "BOLT"), make_product(scope, "NUT")
    receipt = _receipt(scope, wh, (bolt, 10), (nut, 4))
    bolt_move, nut_move = moves_of(receipt)
    response = clerk.get(_url("picking_validate", receipt))
    assert response.status_code == 200
    assert f'name="qty_{bolt_move.pk}" value="10"' in response.content.decode()

    data = {f"qty_{bolt_move.pk}": "6", f"qty_{nut_move.pk}": "4"}
    before = snapshot(scope)
    response = clerk.post(_url("picking_validate", receipt), data)
    assert response.status_code == 200 and 'id="backorder-question"' in response.content.decode()
    assert snapshot(scope) == before  # asking writes nothing

    response = clerk.post(_url("picking_validate", receipt), {**data, "backorder": "yes"})
    assert response.status_code == 302
    receipt = fresh(receipt)
    assert receipt.state == PS.DONE
    [back] = receipt.backorders.all()
    assert [(m.product, m.quantity) for m in moves_of(back)] == [(bolt, 4)]
    assert quant_qty(bolt, wh.stock_location) == 6 and quant_qty(nut, wh.stock_location) == 4
    html = clerk.get(response["Location"]).content.decode()
    assert back.number in html

    # without a backorder the rest is cancelled
    [move] = moves_of(back)
    response = clerk.post(
        _url("picking_validate", back), {f"qty_{move.pk}": "1", "backorder": "no"}
    )
    assert response.status_code == 302
    assert not fresh(back).backorders.exists()
    assert sorted((m.quantity, m.state) for m in moves_of(back)) == [
        (1, MS.DONE),
        (3, MS.CANCELLED),
    ]
    # a done picking has no validation screen any more
    assert clerk.get(_url("picking_validate", back)).status_code == 302


def test_validation_refusals_write_nothing(scope, wh, clerk):
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 2)
    delivery = _delivery(scope, wh, (bolt, 5))  # 2 reserved, waits for 3
    [move] = moves_of(delivery)
    response = clerk.get(_url("picking_validate", delivery))
    assert f'name="qty_{move.pk}" value="2"' in response.content.decode()  # the reserved part
    before = snapshot(scope)
    for value, marker in (
        ("0", "validate-errors"),
        ("6", f'data-field-error="qty_{move.pk}"'),
        ("x", f'data-field-error="qty_{move.pk}"'),
    ):
        response = clerk.post(
            _url("picking_validate", delivery), {f"qty_{move.pk}": value, "backorder": "yes"}
        )
        assert response.status_code == 400 and marker in response.content.decode(), value
    assert snapshot(scope) == before


def test_lot_tracked_receipt_takes_new_lot_names(scope, wh, clerk):
    resin = make_product(scope, "RESIN", tracking="lot")
    receipt = _receipt(scope, wh, (resin, 5))
    [move] = moves_of(receipt)
    before = snapshot(scope)
    response = clerk.post(_url("picking_validate", receipt), {f"qty_{move.pk}": "5"})
    assert response.status_code == 400
    assert f'data-field-error="lot_{move.pk}"' in response.content.decode()
    assert snapshot(scope) == before

    response = clerk.post(
        _url("picking_validate", receipt), {f"qty_{move.pk}": "5", f"lot_{move.pk}": "R-2026-07"}
    )
    assert response.status_code == 302
    lot = Lot.unscoped.get(product=resin, name="R-2026-07")
    assert fresh(receipt).state == PS.DONE
    assert quant_qty(resin, wh.stock_location, lot) == 5


def test_serial_numbers_one_for_each_unit(scope, wh, clerk):
    frame = make_product(scope, "FRAME", tracking="serial")
    receipt = _receipt(scope, wh, (frame, 3))
    [move] = moves_of(receipt)
    html = clerk.get(_url("picking_validate", receipt)).content.decode()
    assert f'<textarea name="lot_{move.pk}"' in html
    before = snapshot(scope)
    response = clerk.post(
        _url("picking_validate", receipt), {f"qty_{move.pk}": "3", f"lot_{move.pk}": "S1\nS2"}
    )
    assert response.status_code == 400 and "validate-errors" in response.content.decode()
    assert snapshot(scope) == before

    response = clerk.post(
        _url("picking_validate", receipt), {f"qty_{move.pk}": "3", f"lot_{move.pk}": "S1\nS2, S3"}
    )
    assert response.status_code == 302
    assert sorted(Lot.unscoped.filter(product=frame).values_list("name", flat=True)) == [
        "S1",
        "S2",
        "S3",
    ]
    assert stock.on_hand(product=frame) == 3


# --- scanning ----------------------------------------------------------------------------------


def _scan(client, picking, **data: str):
    response = client.post(_url("picking_scan", picking), data, **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def _focus(html: str) -> str:
    """The id of the field that gets the focus."""
    before = html.split("autofocus data-scan-focus")[0]
    return before.rsplit('id="', 1)[1].split('"', 1)[0]


def _progress(html: str, move: Move) -> str:
    block = html.split(f'data-move="{move.pk}"', 1)[1]
    return block.split("data-progress>", 1)[1].split("<", 1)[0].strip()


def test_scan_flow_through_htmx(scope, wh, clerk):
    bolt = make_product(scope, "BOLT", barcode="4006381333931")
    resin = make_product(scope, "RESIN", tracking="lot")
    receipt = _receipt(scope, wh, (bolt, 2), (resin, 3))
    bolt_move, resin_move = moves_of(receipt)

    response = clerk.get(_url("picking_scan", receipt))
    html = response.content.decode()
    assert response.status_code == 200 and "inventory/scan.js" in html
    assert _focus(html) == "scan-code" and 'hx-post="' in html

    html = _scan(clerk, receipt, code="4006381333931")
    assert 'data-status="success"' in html and _progress(html, bolt_move) == "1 / 2"
    assert _focus(html) == "scan-code"
    assert html.startswith('\n<div id="scan-panel"') or html.lstrip().startswith(
        '<div id="scan-panel"'
    )

    before = snapshot(scope)
    html = _scan(clerk, receipt, code="NO-SUCH-CODE")
    assert 'data-status="error"' in html and "NO-SUCH-CODE" in html
    assert _progress(html, bolt_move) == "1 / 2" and _focus(html) == "scan-code"

    html = _scan(clerk, receipt, code="RESIN")  # its SKU: the lot comes next
    assert 'data-status="info"' in html and _focus(html) == "scan-lot"
    html = _scan(clerk, receipt, lot="R-NEW-1")  # new for a receipt
    assert 'data-status="success"' in html and "R-NEW-1" in html
    assert _progress(html, resin_move) == "1 / 3" and _focus(html) == "scan-quantity"
    html = _scan(clerk, receipt, quantity="9")
    assert 'data-status="error"' in html and _progress(html, resin_move) == "1 / 3"
    html = _scan(clerk, receipt, quantity="3")
    assert _progress(html, resin_move) == "3 / 3" and _focus(html) == "scan-code"
    assert 'id="scan-validate"' not in html  # not everything yet
    html = _scan(clerk, receipt, code="4006381333931")
    assert _progress(html, bolt_move) == "2 / 2" and 'id="scan-validate"' in html
    html = _scan(clerk, receipt, code="4006381333931")
    assert 'data-status="error"' in html and _progress(html, bolt_move) == "2 / 2"
    assert snapshot(scope) == before  # scanning writes nothing

    # the picking page shows what was scanned, not validated yet
    assert "bi-upc-scan" in clerk.get(_url("picking_detail", receipt)).content.decode()

    response = clerk.post(_url("picking_scan", receipt), {"action": "validate"}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Redirect"] == _url("picking_detail", receipt)
    assert fresh(receipt).state == PS.DONE
    lot = Lot.unscoped.get(product=resin, name="R-NEW-1")
    assert quant_qty(resin, wh.stock_location, lot) == 3
    assert quant_qty(bolt, wh.stock_location) == 2
    # done: the scan screen sends the clerk back to the picking
    response = clerk.post(_url("picking_scan", receipt), {"code": "4006381333931"}, **HTMX)
    assert response["HX-Redirect"] == _url("picking_detail", receipt)


def test_scan_a_delivery_by_lot_and_serial_numbers(scope, wh, clerk):
    resin = make_product(scope, "RESIN", tracking="lot")
    frame = make_product(scope, "FRAME", tracking="serial", barcode="FRAME-EAN")
    early = stock.lot_create(company=scope, product=resin, name="EARLY")
    put_stock(scope, resin, wh.stock_location, 10, lot=early)
    for name in ("F1", "F2", "F3"):
        put_stock(
            scope,
            frame,
            wh.stock_location,
            1,
            lot=stock.lot_create(company=scope, product=frame, name=name),
        )
    delivery = _delivery(scope, wh, (resin, 4), (frame, 2))
    resin_move, frame_move = moves_of(delivery)

    html = _scan(clerk, delivery, code="EARLY")  # a lot in the scan field: its line counts
    assert _progress(html, resin_move) == "1 / 4" and _focus(html) == "scan-quantity"
    html = _scan(clerk, delivery, lot="LATE")  # going out, a lot must exist
    assert 'data-status="error"' in html
    html = _scan(clerk, delivery, quantity="4")
    assert _progress(html, resin_move) == "4 / 4"

    html = _scan(clerk, delivery, code="FRAME-EAN")
    assert _focus(html) == "scan-lot" and "Serial number of" in html
    html = _scan(clerk, delivery, lot="F3")
    assert _progress(html, frame_move) == "1 / 2" and _focus(html) == "scan-lot"
    html = _scan(clerk, delivery, lot="F3")
    assert 'data-status="error"' in html and _progress(html, frame_move) == "1 / 2"
    html = _scan(clerk, delivery, lot="F1")
    assert _progress(html, frame_move) == "2 / 2" and _focus(html) == "scan-code"

    response = clerk.post(_url("picking_scan", delivery), {"action": "validate"}, **HTMX)
    assert response["HX-Redirect"] == _url("picking_detail", delivery)
    assert fresh(delivery).state == PS.DONE
    done = sorted(
        m.lot.name
        for m in Move.unscoped.filter(picking=delivery, product=frame).select_related("lot")
    )
    assert done == ["F1", "F3"]
    assert stock.on_hand(product=resin) == 6


def test_scan_without_javascript_and_partial_validation(scope, wh, clerk):
    bolt = make_product(scope, "BOLT", barcode="111")
    receipt = _receipt(scope, wh, (bolt, 5))
    [move] = moves_of(receipt)
    response = clerk.post(_url("picking_scan", receipt), {"code": "111"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html  # a whole page
    assert _progress(html, move) == "1 / 5" and 'data-status="success"' in html
    response = clerk.post(_url("picking_scan", receipt), {"quantity": "3"})
    assert _progress(response.content.decode(), move) == "3 / 5"

    # short of everything, "validate" goes to the validation screen with what was scanned
    response = clerk.post(_url("picking_scan", receipt), {"action": "validate"})
    assert response.status_code == 302
    assert response["Location"] == _url("picking_validate", receipt)
    html = clerk.get(response["Location"]).content.decode()
    assert f'name="qty_{move.pk}" value="3"' in html
    response = clerk.post(response["Location"], {f"qty_{move.pk}": "3", "backorder": "yes"})
    assert response.status_code == 302
    assert quant_qty(bolt, wh.stock_location) == 3
    [back] = fresh(receipt).backorders.all()
    # the scan of the finished picking is forgotten; the backorder starts from nothing
    html = clerk.get(_url("picking_scan", back)).content.decode()
    assert "0 / 2" in html

    response = clerk.post(_url("picking_scan", back), {"code": "111"}, **HTMX)
    response = clerk.post(_url("picking_scan", back), {"action": "reset"}, **HTMX)
    assert "0 / 2" in response.content.decode()


# --- permissions and isolation -----------------------------------------------------------------


def test_a_role_without_inventory_move_may_only_look(scope, wh, users_a, client_for):
    bolt = make_product(scope, "BOLT")
    receipt = _receipt(scope, wh, (bolt, 5))
    rep = client_for(users_a["sales_rep"])
    assert rep.get(_url("picking_list")).status_code == 200
    assert _url("picking_create") not in rep.get(_url("picking_list")).content.decode()
    assert rep.get(_url("picking_detail", receipt)).status_code == 200
    assert rep.get(_url("picking_create")).status_code == 403
    for name in ("picking_validate", "picking_scan"):
        assert rep.get(_url(name, receipt)).status_code == 403
    before = snapshot(scope)
    for name in (
        "picking_confirm",
        "picking_assign",
        "picking_cancel",
        "picking_validate",
        "picking_scan",
    ):
        assert rep.post(_url(name, receipt), {"action": "validate"}).status_code == 403
    assert snapshot(scope) == before


def test_another_companys_picking_is_not_found(scope, clerk, company_b):
    with company_scope(company_b):
        other_wh = make_warehouse(company_b, "WB")
        bolt = make_product(company_b, "BOLT")
        other = _receipt(company_b, other_wh, (bolt, 5))
    for name in ("picking_detail", "picking_validate", "picking_scan", "picking_pdf"):
        assert clerk.get(_url(name, other)).status_code == 404, name
    for name in (
        "picking_confirm",
        "picking_assign",
        "picking_cancel",
        "picking_validate",
        "picking_scan",
    ):
        assert clerk.post(_url(name, other)).status_code == 404, name
    assert other.number not in clerk.get(_url("picking_list")).content.decode()
    assert fresh(other).state == PS.READY
