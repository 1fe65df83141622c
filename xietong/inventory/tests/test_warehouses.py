"""Warehouse and location services: changing a warehouse's name and routes (open pickings keep
the route they were planned on), archiving it only when nothing is open or in stock; renaming
a location (the full names below follow), barcodes that a scan can resolve, and archiving a
location only when it holds nothing, nothing is on its way and no route needs it."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from xietong.core.tenancy import company_scope
from xietong.inventory import stock
from xietong.inventory.models import Location, Picking, Warehouse
from xietong.inventory.pickings import (
    picking_confirm,
    picking_done,
    receipt_create,
)
from xietong.inventory.tests.flows_helpers import (
    DAY,
    D,
    fresh,
    make_product,
    make_warehouse,
    place,
    put_stock,
)
from xietong.inventory.warehouses import (
    location_create,
    location_update,
    warehouse_create,
    warehouse_update,
)

pytestmark = pytest.mark.django_db
R = Warehouse.ReceptionSteps
DS = Warehouse.DeliverySteps


@pytest.fixture
def scope(company_a):
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def wh(scope):
    return make_warehouse(scope, "WH")


def _rows(company) -> list:
    return sorted(
        Location.unscoped.filter(company=company).values_list(
            "pk", "name", "full_name", "barcode", "allow_negative", "active"
        )
    )


def _refused(field: str, call, *args, **kwargs) -> ValidationError:  # type: ignore[no-untyped-def]
    company = kwargs.get("company") or getattr(
        kwargs.get("location") or kwargs.get("warehouse"), "company", None
    )
    before = (_rows(company), sorted(Warehouse.unscoped.values_list("pk", "name", "active",
                                                                     "reception_steps")))  # fmt: skip
    with pytest.raises(ValidationError) as info:
        call(*args, **kwargs)
    assert field in info.value.message_dict, info.value
    after = (_rows(company), sorted(Warehouse.unscoped.values_list("pk", "name", "active",
                                                                    "reception_steps")))  # fmt: skip
    assert after == before
    return info.value


def test_route_change_applies_to_new_pickings_and_open_ones_finish_on_theirs(scope, wh):
    bolt = make_product(scope, "BOLT")
    old = receipt_create(company=scope, warehouse=wh, scheduled_date=DAY,
                         lines=[{"product": bolt, "quantity": D(4)}])  # fmt: skip
    assert len(old) == 1
    picking_confirm(picking=old[0])
    changed = warehouse_update(
        warehouse=wh, name=" Main store ", reception_steps=R.TWO, delivery_steps=DS.THREE
    )
    assert (changed.name, changed.reception_steps, changed.delivery_steps) == (
        "Main store", R.TWO, DS.THREE,
    )  # fmt: skip
    assert fresh(wh).code == "WH"
    new = receipt_create(company=scope, warehouse=fresh(wh), scheduled_date=DAY,
                         lines=[{"product": bolt, "quantity": D(1)}])  # fmt: skip
    assert [p.to_location for p in new] == [wh.input_location, wh.stock_location]
    done = picking_done(picking=old[0])
    assert done.state == Picking.State.DONE and done.to_location == wh.stock_location


def test_warehouse_update_refusals(scope, wh):
    _refused("name", warehouse_update, warehouse=wh, name="  ")
    _refused("reception_steps", warehouse_update, warehouse=wh, reception_steps="four")
    _refused("delivery_steps", warehouse_update, warehouse=wh, delivery_steps="")
    with pytest.raises(ValidationError) as info:
        warehouse_create(company=scope, code="W2", name="Two", reception_steps="nine")
    assert "reception_steps" in info.value.message_dict


def test_archiving_a_warehouse_needs_no_open_pickings_and_no_stock(scope, wh):
    bolt = make_product(scope, "BOLT")
    receipt = receipt_create(company=scope, warehouse=wh, scheduled_date=DAY,
                             lines=[{"product": bolt, "quantity": D(3)}])[0]  # fmt: skip
    error = _refused("active", warehouse_update, warehouse=wh, active=False)
    assert "open" in str(error)
    picking_done(picking=receipt)
    error = _refused("active", warehouse_update, warehouse=wh, active=False)
    assert "holds stock" in str(error)
    empty = make_warehouse(scope, "EMPTY")
    assert warehouse_update(warehouse=empty, active=False).active is False
    assert warehouse_update(warehouse=empty, active=True).active is True


def test_renaming_a_location_renames_the_tree_below(scope, wh):
    aisle = location_create(company=scope, name="Aisle 1", parent=wh.stock_location)
    shelf = location_create(company=scope, name="Shelf 1", parent=aisle)
    renamed = location_update(location=aisle, name="Aisle A", barcode=" A-1 ", allow_negative=True)
    assert (renamed.full_name, renamed.barcode, renamed.allow_negative) == (
        "WH/Stock/Aisle A", "A-1", True,
    )  # fmt: skip
    assert fresh(shelf).full_name == "WH/Stock/Aisle A/Shelf 1"
    assert fresh(wh.stock_location).full_name == "WH/Stock"


def test_location_update_refusals(scope, wh):
    aisle = location_create(company=scope, name="Aisle 1", parent=wh.stock_location, barcode="A1")
    other = location_create(company=scope, name="Aisle 2", parent=wh.stock_location)
    make_product(scope, "BOLT", barcode="4006381333931")
    _refused("name", location_update, location=other, name="Aisle 1")
    _refused("name", location_update, location=other, name="A/B")
    _refused("name", location_update, location=wh.view_location, name="Other")
    _refused("barcode", location_update, location=other, barcode="A1")
    _refused("barcode", location_update, location=other, barcode="4006381333931")
    with pytest.raises(ValidationError):
        location_create(company=scope, name="Aisle 3", parent=wh.stock_location, barcode="A1")
    assert location_update(location=aisle, barcode="A1", name="Aisle 1").barcode == "A1"


def test_archiving_a_location(scope, wh):
    bolt = make_product(scope, "BOLT")
    aisle = location_create(company=scope, name="Aisle 1", parent=wh.stock_location)
    shelf = location_create(company=scope, name="Shelf 1", parent=aisle)
    put_stock(scope, bolt, shelf, 5)
    assert "holds stock" in str(_refused("active", location_update, location=aisle, active=False))
    assert "holds stock" in str(_refused("active", location_update, location=shelf, active=False))
    empty = location_create(company=scope, name="Shelf 2", parent=aisle)
    assert location_update(location=empty, active=False).active is False
    _refused("active", location_update, location=wh.stock_location, active=False)
    _refused("active", location_update, location=wh.input_location, active=False)
    _refused("active", location_update, location=place(scope, Location.Usage.SUPPLIER),
             active=False)  # fmt: skip
    _refused("active", location_update, location=fresh(empty).parent.parent, active=False)
    # a location an open move goes to
    dock = location_create(company=scope, name="Dock", parent=wh.view_location)
    stock.move_create(company=scope, product=bolt, quantity=D(1), planned_date=DAY,
                      from_location=place(scope, Location.Usage.SUPPLIER), to_location=dock)  # fmt: skip
    assert "Open moves" in str(_refused("active", location_update, location=dock, active=False))
    # restoring below an archived parent is refused; the parent first
    spare = location_create(company=scope, name="Spare", parent=wh.view_location)
    bin_ = location_create(company=scope, name="Bin", parent=spare)
    location_update(location=bin_, active=False)
    location_update(location=spare, active=False)
    _refused("active", location_update, location=bin_, active=True)
    location_update(location=spare, active=True)
    assert location_update(location=bin_, active=True).active is True


def test_a_location_below_a_virtual_one_does_not_replace_it(scope, wh):
    suppliers = place(scope, Location.Usage.SUPPLIER)
    vendor = location_create(company=scope, name="Shenzhen", parent=suppliers,
                             usage=Location.Usage.SUPPLIER)  # fmt: skip
    assert vendor.full_name == "Virtual locations/Suppliers/Shenzhen"
    assert place(scope, Location.Usage.SUPPLIER) == suppliers
    bolt = make_product(scope, "BOLT")
    receipt = receipt_create(company=scope, warehouse=wh, scheduled_date=DAY,
                             lines=[{"product": bolt, "quantity": D(1)}])[0]  # fmt: skip
    assert receipt.from_location == suppliers
    assert location_update(location=vendor, active=False).active is False
