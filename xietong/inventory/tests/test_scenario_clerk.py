"""A warehouse clerk's day through the screens: receive goods at the input area (a lot-tracked
product gets its new lot), put them away with the handheld scan screen, pick, pack and ship a
customer order along the three-step delivery route, then count the shelf and post the
difference. Stock is checked against the moves after every step."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from xietong.inventory import pickings, stock
from xietong.inventory.models import InventoryCount, Lot, Move, Picking
from xietong.inventory.tests import flows_helpers as fh
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.product.models import Product

pytestmark = pytest.mark.django_db
D = Decimal


def _validate(client, picking: Picking, lots: dict[int, str] | None = None) -> None:  # type: ignore[no-untyped-def]
    """Validate every move of `picking` for its full quantity through the validation screen."""
    assert client.get(reverse("inventory:picking_validate", args=[picking.pk])).status_code == 200
    data: dict[str, str] = {}
    for move in Move.unscoped.filter(picking=picking).exclude(state__in=["done", "cancelled"]):
        data[f"qty_{move.pk}"] = str(move.quantity)
        if lots and move.product_id in lots:
            data[f"lot_{move.pk}"] = lots[move.product_id]
    response = client.post(reverse("inventory:picking_validate", args=[picking.pk]), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    picking.refresh_from_db()
    assert picking.state == Picking.State.DONE


def _next(picking: Picking) -> Picking:
    return Picking.unscoped.get(previous=picking)


def test_receive_put_away_pick_pack_ship_and_count(company_a, users_a, client_for):  # type: ignore[no-untyped-def]
    clerk = client_for(users_a["warehouse_clerk"])
    warehouse = fh.make_warehouse(company_a, "WH", reception_steps="two", delivery_steps="three")
    bolt = fh.make_product(company_a, "BOLT-M8", barcode="6900000000014")
    glue = fh.make_product(company_a, "GLUE-1L", tracking=Product.Tracking.LOT)
    supplier = fh.make_party(company_a, "Fasteners Ltd", is_supplier=True)
    customer = fh.make_party(company_a, "Assembly Works", is_customer=True)

    # goods announced by purchasing arrive at the input area
    receipt = pickings.receipt_create(
        company=company_a, warehouse=warehouse, party=supplier, scheduled_date=fh.DAY,
        lines=[{"product": bolt, "quantity": D(40)}, {"product": glue, "quantity": D(6)}],
    )[0]  # fmt: skip
    receipt = pickings.picking_confirm(picking=receipt)
    listing = clerk.get(reverse("inventory:picking_list") + "?preset=receive")
    assert receipt.number in listing.content.decode()
    _validate(clerk, receipt, lots={glue.pk: "G-2611"})
    assert stock.on_hand(product=bolt, location=warehouse.input_location) == D(40)
    lot = Lot.unscoped.get(product=glue, name="G-2611")
    assert_stock_sound([company_a])

    # put-away with the scan screen: the bolts by barcode and quantity, the glue by SKU and lot
    put_away = _next(receipt)
    scan = reverse("inventory:picking_scan", args=[put_away.pk])
    assert 'name="code"' in clerk.get(scan).content.decode()
    headers = {"HTTP_HX_REQUEST": "true"}
    for field, value in (("code", "6900000000014"), ("quantity", "40"), ("code", "GLUE-1L"),
                         ("lot", "G-2611"), ("quantity", "6")):  # fmt: skip
        response = clerk.post(scan, {field: value}, **headers)
        assert response.status_code == 200
    wrong = clerk.post(scan, {"code": "NO-SUCH-CODE"}, **headers)
    assert wrong.status_code == 200 and "NO-SUCH-CODE" in wrong.content.decode()
    clerk.post(scan, {"action": "validate"})
    put_away.refresh_from_db()
    assert put_away.state == Picking.State.DONE
    assert stock.on_hand(product=bolt, location=warehouse.stock_location) == D(40)
    assert stock.on_hand(product=glue, location=warehouse.stock_location, lot=lot) == D(6)
    assert_stock_sound([company_a])

    # a customer order: pick to the packing area, pack to output, ship
    pick = pickings.delivery_create(
        company=company_a, warehouse=warehouse, party=customer, scheduled_date=fh.DAY,
        lines=[{"product": bolt, "quantity": D(25)}, {"product": glue, "quantity": D(2)}],
    )[0]  # fmt: skip
    clerk.post(reverse("inventory:picking_confirm", args=[pick.pk]))
    pick.refresh_from_db()
    assert pick.state == Picking.State.READY
    assert stock.available(product=bolt, location=warehouse.stock_location) == D(15)
    _validate(clerk, pick)
    pack = _next(pick)
    _validate(clerk, pack)
    ship = _next(pack)
    assert clerk.get(reverse("inventory:picking_pdf", args=[ship.pk])).status_code == 200
    _validate(clerk, ship)
    assert stock.on_hand(product=bolt) == D(15) and stock.on_hand(product=glue) == D(4)
    assert_stock_sound([company_a])

    # count the stock location: two bolts are missing
    response = clerk.post(reverse("inventory:count_create"),
                          {"location": warehouse.stock_location.pk, "date": "2026-03-20"})  # fmt: skip
    assert response.status_code == 302
    count = InventoryCount.unscoped.get(company=company_a)
    sheet = clerk.get(reverse("inventory:count_detail", args=[count.pk])).content.decode()
    assert "BOLT-M8" in sheet and "GLUE-1L" in sheet
    counted = {f"line-{line.pk}": ("13" if line.product_id == bolt.pk else "4")
               for line in count.lines.all()}  # fmt: skip
    clerk.post(reverse("inventory:count_set", args=[count.pk]), counted)
    assert clerk.post(reverse("inventory:count_done", args=[count.pk])).status_code == 302
    count.refresh_from_db()
    assert count.state == InventoryCount.State.DONE
    assert stock.on_hand(product=bolt) == D(13) and stock.on_hand(product=glue) == D(4)
    assert_stock_sound([company_a])
