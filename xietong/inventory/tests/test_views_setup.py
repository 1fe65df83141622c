"""The inventory setup screens: warehouses created and changed through their forms (routes in
words, the location tree), locations listed as a tree with filters and export, created,
renamed and archived, and the valuation of product categories; a bad form writes nothing,
roles without inventory.configure only look, and another company's records are not found."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.finance.tests.matrix import ledger
from xietong.inventory.models import CategoryValuation, Location, Warehouse
from xietong.inventory.tests.flows_helpers import make_product, make_warehouse, put_stock
from xietong.inventory.warehouses import location_create
from xietong.product.models import Category

pytestmark = pytest.mark.django_db


@pytest.fixture
def planner(users_a, client_for):  # type: ignore[no-untyped-def]
    return client_for(users_a["planner"])


@pytest.fixture
def wh(company_a):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        return make_warehouse(company_a, "WH")


def _tables(company: Any) -> tuple[list, list, list]:
    return (
        sorted(Warehouse.unscoped.filter(company=company).values_list()),
        sorted(Location.unscoped.filter(company=company).values_list()),
        sorted(CategoryValuation.unscoped.filter(company=company).values_list()),
    )


def test_warehouse_created_and_changed_through_the_screens(company_a, planner):
    assert planner.get(reverse("inventory:warehouse_create")).status_code == 200
    before = _tables(company_a)
    bad = planner.post(reverse("inventory:warehouse_create"),
                       {"code": "A/B", "name": "Bad", "reception_steps": "one",
                        "delivery_steps": "one"})  # fmt: skip
    assert bad.status_code == 400 and "without “/”" in bad.content.decode()
    assert _tables(company_a) == before
    response = planner.post(reverse("inventory:warehouse_create"),
                            {"code": "sh", "name": "Shanghai", "reception_steps": "two",
                             "delivery_steps": "three"})  # fmt: skip
    warehouse = Warehouse.unscoped.get(company=company_a, code="SH")
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:warehouse_detail", args=[warehouse.pk])
    page = planner.get(response["Location"]).content.decode()
    assert "Receipt in 2 steps: Suppliers → Input → Stock" in page
    assert "Delivery in 3 steps: Stock → Packing → Output → Customers" in page
    assert (
        "Quality control" in page
        and reverse("inventory:warehouse_edit", args=[warehouse.pk]) in page
    )

    edit = reverse("inventory:warehouse_edit", args=[warehouse.pk])
    assert planner.get(edit).status_code == 200
    saved = planner.post(edit, {"name": "Shanghai Pudong", "reception_steps": "one",
                                "delivery_steps": "one", "active": "on"})  # fmt: skip
    assert saved.status_code == 302
    warehouse.refresh_from_db()
    assert (warehouse.name, warehouse.reception_steps, warehouse.active) == (
        "Shanghai Pudong", "one", True,
    )  # fmt: skip
    assert "Receipt in 1 step: Suppliers → Stock" in planner.get(saved["Location"]).content.decode()

    with company_scope(company_a):
        put_stock(company_a, make_product(company_a, "BOLT"), warehouse.stock_location, 2)
    before = _tables(company_a)
    refused = planner.post(edit, {"name": "Closed", "reception_steps": "one",
                                  "delivery_steps": "one"})  # fmt: skip
    assert refused.status_code == 400 and "holds stock" in refused.content.decode()
    assert _tables(company_a) == before

    listed = planner.get(reverse("inventory:warehouse_list") + "?q=pudong").content.decode()
    assert "Shanghai Pudong" in listed and reverse("inventory:warehouse_create") in listed


def test_locations_listed_created_renamed_and_archived(company_a, planner, wh):
    with company_scope(company_a):
        aisle = location_create(company=company_a, name="Aisle 1", parent=wh.stock_location)
        location_create(company=company_a, name="Shelf 1", parent=aisle, barcode="S-1")
    page = planner.get(
        reverse("inventory:location_list") + "?warehouse=" + str(wh.pk)
    ).content.decode()
    order = [page.index(name) for name in ("WH/Input", "WH/Stock<", "WH/Stock/Aisle 1<",
                                           "WH/Stock/Aisle 1/Shelf 1")]  # fmt: skip
    assert order == sorted(order)
    assert "Virtual locations" not in page
    internal = planner.get(reverse("inventory:location_list") + "?usage=supplier").content.decode()
    assert "Virtual locations/Suppliers" in internal and "WH/Stock" not in internal
    export = planner.get(reverse("inventory:location_list") + "?q=Shelf&export=csv")
    assert export.status_code == 200
    assert "WH/Stock/Aisle 1/Shelf 1" in export.content.decode("utf-8-sig")
    assert "<span" not in export.content.decode("utf-8-sig")

    create = reverse("inventory:location_create") + f"?parent={aisle.pk}"
    assert planner.get(create).status_code == 200
    before = _tables(company_a)
    duplicate = planner.post(create, {"parent": aisle.pk, "name": "Shelf 1", "usage": "internal"})
    assert duplicate.status_code == 400 and _tables(company_a) == before
    taken = planner.post(create, {"parent": aisle.pk, "name": "Shelf 2", "usage": "internal",
                                  "barcode": "S-1"})  # fmt: skip
    assert taken.status_code == 400 and _tables(company_a) == before
    created = planner.post(create, {"parent": aisle.pk, "name": "Shelf 2", "usage": "internal",
                                    "barcode": "S-2"})  # fmt: skip
    assert created.status_code == 302
    assert created["Location"] == reverse("inventory:warehouse_detail", args=[wh.pk])
    shelf = Location.unscoped.get(company=company_a, full_name="WH/Stock/Aisle 1/Shelf 2")
    assert (shelf.barcode, shelf.warehouse_id) == ("S-2", wh.pk)

    edit = reverse("inventory:location_edit", args=[aisle.pk])
    assert planner.get(edit).status_code == 200
    renamed = planner.post(edit, {"name": "Aisle A", "barcode": "", "active": "on"})
    assert renamed.status_code == 302
    shelf.refresh_from_db()
    assert shelf.full_name == "WH/Stock/Aisle A/Shelf 2"
    before = _tables(company_a)
    archived = planner.post(edit, {"name": "Aisle A", "barcode": ""})  # active unticked
    assert archived.status_code == 400 and "below" in archived.content.decode()
    assert _tables(company_a) == before


def test_category_valuation_through_the_screens(company_a, planner):
    books = ledger(company_a)
    with company_scope(company_a):
        from xietong.product.services import category_create

        bikes = category_create(company=company_a, actor=None, name="Bikes")
        ebikes = category_create(company=company_a, actor=None, name="E-bikes", parent=bikes)
    listing = planner.get(reverse("inventory:category_valuation_list")).content.decode()
    assert "Bikes / E-bikes" in listing and "Not set up" in listing
    assert reverse("inventory:category_valuation_edit", args=[ebikes.pk]) in listing

    default = reverse("inventory:category_valuation_default")
    assert planner.get(default).status_code == 200
    assert planner.post(default, {"method": "average"}).status_code == 302
    row = CategoryValuation.unscoped.get(company=company_a, category=None)
    assert (row.stock_account, row.output_account) == (books.stock, books.cogs)

    edit = reverse("inventory:category_valuation_edit", args=[bikes.pk])
    form = planner.get(edit)
    assert form.status_code == 200 and "Inventory valuation of Bikes" in form.content.decode()
    before = _tables(company_a)
    wrong = planner.post(edit, {"method": "fifo", "stock_account": books.expense.pk})
    assert wrong.status_code == 400 and "not an asset account" in wrong.content.decode()
    assert _tables(company_a) == before
    saved = planner.post(edit, {"method": "fifo", "stock_account": books.stock.pk,
                                "output_account": books.cogs.pk})  # fmt: skip
    assert saved.status_code == 302
    assert CategoryValuation.unscoped.get(company=company_a, category=bikes).method == "fifo"
    listing = planner.get(reverse("inventory:category_valuation_list")).content.decode()
    assert "First in, first out (from Bikes)" in listing  # E-bikes inherits from Bikes


def test_roles_without_configure_only_look(company_a, users_a, client_for, wh):
    with company_scope(company_a):
        category = Category.unscoped.create(company=company_a, name="Tools", path="Tools")
    edits = [
        (reverse("inventory:warehouse_create"), {"code": "X", "name": "X",
                                                  "reception_steps": "one",
                                                  "delivery_steps": "one"}),
        (reverse("inventory:warehouse_edit", args=[wh.pk]), {"name": "X",
                                                             "reception_steps": "one",
                                                             "delivery_steps": "one"}),
        (reverse("inventory:location_create"), {"parent": wh.stock_location_id, "name": "X",
                                                "usage": "internal"}),
        (reverse("inventory:location_edit", args=[wh.input_location_id]), {"name": "X"}),
        (reverse("inventory:category_valuation_edit", args=[category.pk]), {"method": "fifo"}),
        (reverse("inventory:category_valuation_default"), {"method": "fifo"}),
    ]  # fmt: skip
    before = _tables(company_a)
    for role in ("warehouse_clerk", "sales_rep", "accountant", "buyer"):
        client = client_for(users_a[role])
        for name in ("warehouse_list", "location_list", "category_valuation_list"):
            page = client.get(reverse(f"inventory:{name}"))
            assert page.status_code == 200, (role, name)
            assert reverse("inventory:location_edit", args=[wh.stock_location_id]) not in (
                page.content.decode()
            )
        detail = client.get(reverse("inventory:warehouse_detail", args=[wh.pk])).content.decode()
        assert reverse("inventory:warehouse_edit", args=[wh.pk]) not in detail
        for url, data in edits:
            assert client.get(url).status_code == 403, (role, url)
            assert client.post(url, data).status_code == 403, (role, url)
    assert _tables(company_a) == before
    hr = client_for(users_a["hr_officer"])
    assert hr.get(reverse("inventory:warehouse_list")).status_code == 403


def test_another_companys_records_are_not_found(company_a, company_b, users_a, client_for, wh):
    with company_scope(company_b):
        theirs = make_warehouse(company_b, "HK")
        category = Category.unscoped.create(company=company_b, name="CANARY-b", path="CANARY-b")
    admin = client_for(users_a["admin"])
    before = _tables(company_b)
    for url, data in (
        (reverse("inventory:warehouse_detail", args=[theirs.pk]), None),
        (reverse("inventory:warehouse_edit", args=[theirs.pk]),
         {"name": "Mine", "reception_steps": "one", "delivery_steps": "one", "active": "on"}),
        (reverse("inventory:location_edit", args=[theirs.stock_location_id]),
         {"name": "Mine", "active": "on"}),
        (reverse("inventory:category_valuation_edit", args=[category.pk]), {"method": "fifo"}),
    ):  # fmt: skip
        assert admin.get(url).status_code == 404, url
        if data is not None:
            assert admin.post(url, data).status_code == 404, url
    assert _tables(company_b) == before
    create = admin.post(reverse("inventory:location_create"),
                        {"parent": theirs.stock_location_id, "name": "Mine", "usage": "internal"})  # fmt: skip
    assert create.status_code == 400 and _tables(company_b) == before
    for name in ("warehouse_list", "location_list", "category_valuation_list"):
        for suffix in ("", "?export=csv"):
            content = admin.get(reverse(f"inventory:{name}") + suffix).content
            assert b"HK/" not in content and b"CANARY-b" not in content, name
