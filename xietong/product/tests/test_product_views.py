"""Catalogue and pricing screens: who may do what (planner edits products, a sales rep views and
checks prices, an accountant edits price lists), forms with field errors, the product record's
tabs, the price check (HTMX), lists with filters and export, no N+1 queries, and company
isolation (another company's records are not found)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from xietong.product import services
from xietong.product.models import CostRecord, PriceList, PriceRule, Product, Variant
from xietong.product.tests.catalog_factories import (
    catalogue_records,
    make_attribute,
    make_category,
    make_group,
    make_party,
    make_price_list,
    make_product,
    unit,
)

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(user)
    return client


def product_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "sku": "BK-100",
        "name": "City bike",
        "name_zh_hans": "城市自行车",
        "name_zh_hant": "城市自行車",
        "type": "stockable",
        "supply": "make",
        "tracking": "serial",
        "list_price": "1999",
        "active": "on",
        "uom": unit("pc").pk,
        "sales_uom": "",
        "purchase_uom": "",
        "purchase_lead_days": "0",
        "manufacturing_lead_days": "5",
        "safety_stock": "2",
        "min_qty": "0",
        "max_qty": "0",
        "lot_sizing": "fixed",
        "lot_size": "10",
        "lot_multiple": "0",
    }
    data.update(overrides)
    return data


@pytest.fixture
def catalogue(company_a, company_b):
    return {"a": catalogue_records(company_a, "a"), "b": catalogue_records(company_b, "b")}


def test_planner_creates_and_edits_a_product(users_a, company_a):
    client = client_for(users_a["planner"])
    response = client.post(reverse("product:product_create"), product_form())
    assert response.status_code == 302
    product = Product.unscoped.get(company=company_a, sku="BK-100")
    assert response["Location"] == reverse("product:product_detail", args=[product.pk])
    assert product.name_i18n == {"zh-hans": "城市自行车", "zh-hant": "城市自行車"}
    assert product.lot_size == Decimal(10) and product.tracking == "serial"

    edit = reverse("product:product_edit", args=[product.pk])
    page = client.get(edit)
    assert page.status_code == 200 and "城市自行车" in page.content.decode()
    bad = client.post(edit, product_form(sales_uom=unit("kg").pk, lot_size="0"))
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'data-field-error="sales_uom"' in html and 'data-field-error="lot_size"' in html
    product.refresh_from_db()
    assert product.sales_uom is None
    assert client.post(edit, product_form(name="Urban bike")).status_code == 302
    product.refresh_from_db()
    assert product.name == "Urban bike"
    archived = client.post(reverse("product:product_archive", args=[product.pk]))
    assert archived.status_code == 302
    product.refresh_from_db()
    assert product.active is False


def test_product_form_saves_the_invoicing_policy(users_a, company_a):
    client = client_for(users_a["planner"])
    form = client.get(reverse("product:product_create")).content.decode()
    assert 'name="invoice_policy"' in form and "Services are always invoiced on order" in form
    created = client.post(reverse("product:product_create"), product_form(invoice_policy="order"))
    assert created.status_code == 302
    product = Product.unscoped.get(company=company_a, sku="BK-100")
    assert product.invoice_policy == "order"
    page = client.get(reverse("product:product_detail", args=[product.pk])).content.decode()
    assert "Invoicing policy" in page and "Ordered quantities" in page
    edit = reverse("product:product_edit", args=[product.pk])
    assert 'value="order" selected' in client.get(edit).content.decode()
    bad = client.post(edit, product_form(name="Renamed", invoice_policy="weekly"))
    assert bad.status_code == 400
    assert 'data-field-error="invoice_policy"' in bad.content.decode()
    product.refresh_from_db()
    assert (product.name, product.invoice_policy) == ("City bike", "order")
    assert client.post(edit, product_form(invoice_policy="")).status_code == 302
    product.refresh_from_db()
    assert product.invoice_policy == ""


def test_duplicate_sku_is_a_field_error(users_a, company_a):
    make_product(company_a, "BK-100")
    response = client_for(users_a["planner"]).post(
        reverse("product:product_create"), product_form()
    )
    assert response.status_code == 400
    assert 'data-field-error="sku"' in response.content.decode()


def test_sales_rep_views_and_checks_prices_but_cannot_edit(users_a, company_a, catalogue):
    client = client_for(users_a["sales_rep"])
    product = catalogue["a"]["product"]
    assert client.get(reverse("product:product_list")).status_code == 200
    assert client.get(reverse("product:product_detail", args=[product.pk])).status_code == 200
    assert client.get(reverse("product:product_edit", args=[product.pk])).status_code == 403
    assert client.post(reverse("product:product_create"), product_form()).status_code == 403
    assert client.post(reverse("product:product_archive", args=[product.pk])).status_code == 403
    price_list = catalogue["a"]["price_list"]
    assert client.get(reverse("product:price_list_detail", args=[price_list.pk])).status_code == 200
    assert client.get(reverse("product:price_list_edit", args=[price_list.pk])).status_code == 403
    assert client.get(reverse("product:product_cost", args=[product.pk])).status_code == 403

    dealers = make_group(company_a, "dealers")
    party = make_party(company_a, "D-1", group=dealers, price_list=price_list)
    answer = client.get(
        reverse("product:product_price_check", args=[product.pk]),
        {"party": party.pk, "quantity": "3", "date": "2026-05-01"},
        HTTP_HX_REQUEST="true",
    )
    html = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in html
    assert "9.99 CNY" in html and "the party&#x27;s own" in html
    assert f"Rule #{catalogue['a']['price_rule'].pk} wins" in html
    page = client.get(reverse("product:product_price_check", args=[product.pk]))
    assert page.status_code == 200 and "<html" in page.content.decode()
    bad = client.get(
        reverse("product:product_price_check", args=[product.pk]),
        {"quantity": "0", "date": "2026-05-01"},
        HTTP_HX_REQUEST="true",
    )
    assert 'id="price-errors"' in bad.content.decode()


def test_price_check_without_any_price_list_says_so(users_a, company_a):
    product = make_product(company_a, "LONELY")
    answer = client_for(users_a["sales_rep"]).get(
        reverse("product:product_price_check", args=[product.pk]),
        {"quantity": "1", "date": "2026-05-01"},
        HTTP_HX_REQUEST="true",
    )
    assert "There is no price list to use" in answer.content.decode()


def test_accountant_edits_price_lists_and_rules(users_a, company_a):
    client = client_for(users_a["accountant"])
    assert client.get(reverse("product:product_create")).status_code == 403
    response = client.post(
        reverse("product:price_list_create"),
        {"name": "Dealers 2026", "currency": "CNY", "active": "on", "is_default": "on"},
    )
    assert response.status_code == 302
    price_list = PriceList.unscoped.get(company=company_a, name="Dealers 2026")
    assert price_list.is_default
    product = make_product(company_a, "BK-1")
    add = reverse("product:price_rule_create", args=[price_list.pk])
    bad = client.post(add, {"sequence": "10", "min_qty": "0", "method": "fixed"})
    assert bad.status_code == 400 and 'data-field-error="fixed_price"' in bad.content.decode()
    ok = client.post(
        add,
        {
            "sequence": "10",
            "min_qty": "5",
            "method": "fixed",
            "fixed_price": "88",
            "product": product.pk,
        },
    )
    assert ok.status_code == 302
    rule = PriceRule.objects.get(price_list=price_list)
    assert rule.product == product and rule.min_qty == Decimal(5)
    edit = reverse("product:price_rule_edit", args=[rule.pk])
    assert client.get(edit).status_code == 200
    client.post(
        edit,
        {
            "sequence": "5",
            "min_qty": "5",
            "method": "discount",
            "discount_percent": "10",
            "product": product.pk,
        },
    )
    rule.refresh_from_db()
    assert rule.method == "discount" and rule.fixed_price is None
    detail = client.get(reverse("product:price_list_detail", args=[price_list.pk])).content.decode()
    assert "list price less 10%" in detail and "product BK-1" in detail
    assert f"Rule #{rule.pk} · method" in detail  # the rule's audit entries in the list's history
    assert client.post(reverse("product:price_rule_delete", args=[rule.pk])).status_code == 302
    assert not PriceRule.objects.filter(pk=rule.pk).exists()


def test_product_record_shows_every_tab(users_a, company_a, catalogue):
    product = catalogue["a"]["product"]
    services.product_cost_set(
        product=product, actor=users_a["planner"], cost=Decimal("42"), reason="Quote 7"
    )
    html = (
        client_for(users_a["planner"])
        .get(reverse("product:product_detail", args=[product.pk]))
        .content.decode()
    )
    for marker in (
        "tab-general",
        "tab-units",
        "tab-planning",
        "tab-variants",
        "tab-prices",
        "tab-costs",
        "tab-history",
    ):
        assert f'id="{marker}"' in html
    assert catalogue["a"]["variant"].sku in html
    assert "Quote 7" in html and "42" in html  # cost history
    assert "CANARY-a-pricelist" in html  # rules naming the product
    assert "Set standard cost" in html and "Generate variants" in html
    sales = (
        client_for(users_a["sales_rep"])
        .get(reverse("product:product_detail", args=[product.pk]))
        .content.decode()
    )
    assert "Set standard cost" not in sales and "Generate variants" not in sales


def test_planner_sets_the_standard_cost(users_a, company_a):
    product = make_product(company_a, "FRAME")
    url = reverse("product:product_cost", args=[product.pk])
    client = client_for(users_a["planner"])
    assert client.post(url, {"cost": "-5"}).status_code == 400
    response = client.post(url, {"cost": "55.5", "reason": "Supplier quote"})
    assert response.status_code == 302
    record = CostRecord.unscoped.get(product=product)
    assert record.cost == Decimal("55.5") and record.reason == "Supplier quote"


def test_variants_are_generated_from_the_form(users_a, company_a):
    colour = make_attribute(company_a, "Colour", [("RED", "Red"), ("BLUE", "Blue")])
    size = make_attribute(company_a, "Size", [("M", "M"), ("L", "L")])
    product = make_product(company_a, "BK")
    url = reverse("product:variant_generate", args=[product.pk])
    client = client_for(users_a["planner"])
    page = client.get(url).content.decode()
    assert "Colour" in page and "Size" in page
    values = {v.code: v.pk for v in [*colour.values.all(), *size.values.all()]}
    data = {f"value_{values[c]}": "on" for c in ("RED", "BLUE", "L")}
    data[f"extra_{values['L']}"] = "30"
    assert client.post(url, data).status_code == 302
    variants = {v.sku: v.price_extra for v in Variant.unscoped.filter(product=product)}
    assert variants == {"BK-BLUE-L": Decimal(30), "BK-RED-L": Decimal(30)}
    assert client.post(url, {}).status_code == 400  # nothing chosen


def test_categories_and_attributes_screens(users_a, company_a):
    client = client_for(users_a["planner"])
    assert client.post(reverse("product:category_create"), {"name": "Bikes"}).status_code == 302
    bikes = make_category(company_a, "Frames")
    child = make_category(company_a, "Steel", bikes)
    edit = reverse("product:category_edit", args=[bikes.pk])
    form = client.get(edit).content.decode()
    assert f'value="{child.pk}"' not in form  # cannot move under its own sub-category
    make_product(company_a, "F-1", category=child)
    refused = client.post(reverse("product:category_delete", args=[child.pk]), follow=True)
    assert "move them first" in refused.content.decode()

    created = client.post(
        reverse("product:attribute_create"), {"name": "Colour", "values": "RED = Red\nBLUE = Blue"}
    )
    assert created.status_code == 302
    bad = client.post(reverse("product:attribute_create"), {"name": "Size", "values": "S Small"})
    assert bad.status_code == 400 and "Line 1" in bad.content.decode()
    listing = client.get(reverse("product:attribute_list")).content.decode()
    assert "Red, Blue" in listing or "Blue, Red" in listing


def test_product_list_search_filters_and_export(users_a, company_a):
    bikes = make_category(company_a, "Bikes")
    ebikes = make_category(company_a, "E-bikes", bikes)
    make_product(
        company_a, "EB-1", category=ebikes, name="Cargo e-bike", name_i18n={"zh-hans": "货运电动车"}
    )
    make_product(company_a, "BK-1", category=bikes, supply="make")
    make_product(company_a, "PT-1", name="Chain")
    client = client_for(users_a["sales_rep"])
    url = reverse("product:product_list")
    in_bikes = client.get(url, {"category": bikes.pk}).content.decode()
    assert "EB-1" in in_bikes and "BK-1" in in_bikes and "PT-1" not in in_bikes
    searched = client.get(url, {"q": "货运"}).content.decode()
    assert "EB-1" in searched and "BK-1" not in searched
    made = client.get(url, {"supply": "make"}).content.decode()
    assert "BK-1" in made and "PT-1" not in made
    export = client.get(url, {"category": bikes.pk, "export": "csv"})
    rows = list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))
    assert rows[0][0] == "SKU" and sorted(r[0] for r in rows[1:]) == ["BK-1", "EB-1"]
    assert client.get(url, {"export": "xlsx"}).status_code == 200


def test_list_pages_do_not_query_per_row(users_a, company_a):
    client = client_for(users_a["planner"])
    category = make_category(company_a, "Parts")
    for i in range(3):
        make_product(company_a, f"Q-{i}", category=category)
    make_price_list(company_a, "One")
    make_attribute(company_a, "First", [("A", "A")])

    def count(name: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(reverse(name)).status_code == 200
        return len(queries)

    before = {
        name: count(name)
        for name in (
            "product:product_list",
            "product:price_list_list",
            "product:attribute_list",
            "product:category_list",
        )
    }
    for i in range(3, 15):
        make_product(company_a, f"Q-{i}", category=make_category(company_a, f"Parts {i}"))
        make_price_list(company_a, f"List {i}")
        make_attribute(company_a, f"Attr {i}", [("A", "A")])
    after = {name: count(name) for name in before}
    assert after == before


def test_other_companys_records_are_not_found(users_a, catalogue):
    client = client_for(users_a["admin"])
    theirs = catalogue["b"]
    probes = [
        ("product:product_detail", "product"),
        ("product:product_edit", "product"),
        ("product:product_cost", "product"),
        ("product:product_price_check", "product"),
        ("product:variant_generate", "product"),
        ("product:variant_detail", "variant"),
        ("product:variant_edit", "variant"),
        ("product:category_detail", "category"),
        ("product:category_edit", "category"),
        ("product:attribute_detail", "attribute"),
        ("product:attribute_edit", "attribute"),
        ("product:price_list_detail", "price_list"),
        ("product:price_list_edit", "price_list"),
        ("product:price_rule_create", "price_list"),
        ("product:price_rule_edit", "price_rule"),
    ]
    for name, kind in probes:
        assert client.get(reverse(name, args=[catalogue["a"][kind].pk])).status_code == 200, name
        assert client.get(reverse(name, args=[theirs[kind].pk])).status_code == 404, name
    for name, kind in [
        ("product:product_archive", "product"),
        ("product:variant_archive", "variant"),
        ("product:category_delete", "category"),
        ("product:attribute_delete", "attribute"),
        ("product:price_rule_delete", "price_rule"),
    ]:
        assert client.post(reverse(name, args=[theirs[kind].pk])).status_code == 404, name
    edited = client.post(
        reverse("product:product_edit", args=[theirs["product"].pk]), product_form(name="Hacked")
    )
    assert edited.status_code == 404
    assert Product.unscoped.get(pk=theirs["product"].pk).name != "Hacked"
    assert PriceRule.objects.filter(pk=theirs["price_rule"].pk).exists()
    for name in (
        "product:product_list",
        "product:category_list",
        "product:attribute_list",
        "product:price_list_list",
    ):
        for suffix in ("", "?export=csv"):
            content = client.get(reverse(name) + suffix).content
            assert b"CANARY-a" in content and b"CANARY-b" not in content, name


def test_rule_form_offers_only_own_company_choices(users_a, catalogue):
    html = (
        client_for(users_a["accountant"])
        .get(reverse("product:price_rule_create", args=[catalogue["a"]["price_list"].pk]))
        .content.decode()
    )
    assert "CANARY-a-product" in html and "CANARY-b-product" not in html
    # Posting company B's product id is refused as an invalid choice.
    response = client_for(users_a["accountant"]).post(
        reverse("product:price_rule_create", args=[catalogue["a"]["price_list"].pk]),
        {
            "sequence": "1",
            "min_qty": "0",
            "method": "fixed",
            "fixed_price": "1",
            "product": catalogue["b"]["product"].pk,
        },
    )
    assert response.status_code == 400 and 'data-field-error="product"' in response.content.decode()


def test_navigation_lists_the_catalogue_screens(users_a):
    html = client_for(users_a["sales_rep"]).get(reverse("web:home"), follow=True).content.decode()
    for name in (
        "product:product_list",
        "product:category_list",
        "product:attribute_list",
        "product:price_list_list",
    ):
        assert f'href="{reverse(name)}"' in html
