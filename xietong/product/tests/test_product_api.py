"""The catalogue and pricing API: products (create with Idempotency-Key, validation as field
problems, filters), categories, variants, price lists and rules, the price quote and costs;
another company's records are not found and cannot be referenced; lists do not query per row."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from xietong.core.services import api_token_create
from xietong.product import services
from xietong.product.models import CostRecord, PriceRule, Product, Variant
from xietong.product.tests.catalog_factories import (
    catalogue_records,
    make_attribute,
    make_category,
    make_group,
    make_party,
    make_price_list,
    make_product,
    make_rule,
)

pytestmark = pytest.mark.django_db

API = "/api/v1"


def as_token(user) -> Client:  # type: ignore[no-untyped-def]
    """A client that authenticates with a fresh API token of `user` in their active company
    (the product app may not import the api app's test helpers: layers)."""
    _token, raw = api_token_create(user=user, company=user.active_company, name="test")
    return Client(headers={"Authorization": f"Bearer {raw}"})


def post(client: Client, path: str, body: object, **headers: str):  # type: ignore[no-untyped-def]
    return client.post(
        API + path, json.dumps(body), content_type="application/json", headers=headers
    )


def patch(client: Client, path: str, body: object):  # type: ignore[no-untyped-def]
    return client.patch(API + path, json.dumps(body), content_type="application/json")


def fields_of(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response["Content-Type"] == "application/problem+json", response.content
    return {e["field"] for e in response.json()["errors"]}


def test_create_product_is_idempotent_and_validated(users_a, company_a):
    planner = as_token(users_a["planner"])
    body = {
        "sku": "BK-1",
        "name": "City bike",
        "name_i18n": {"zh-hans": "城市自行车"},
        "uom": "pc",
        "sales_uom": "pc",
        "list_price": "1999.5",
        "lot_sizing": "fixed",
        "lot_size": "10",
    }
    first = post(planner, "/products", body, **{"Idempotency-Key": "create-bk-1"})
    assert first.status_code == 201, first.content
    data = first.json()
    assert data["sku"] == "BK-1" and data["list_price"] == "1999.500000"
    assert data["uom"] == "pc" and data["name_i18n"] == {"zh-hans": "城市自行车"}
    again = post(planner, "/products", body, **{"Idempotency-Key": "create-bk-1"})
    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == data["id"]
    assert Product.unscoped.filter(company=company_a, sku="BK-1").count() == 1

    duplicate = post(planner, "/products", body)
    assert duplicate.status_code == 422 and fields_of(duplicate) == {"sku"}
    mixed = post(planner, "/products", {**body, "sku": "BK-2", "purchase_uom": "kg"})
    assert mixed.status_code == 422 and fields_of(mixed) == {"purchase_uom"}
    unknown = post(planner, "/products", {**body, "sku": "BK-3", "uom": "parsec"})
    assert unknown.status_code == 422 and fields_of(unknown) == {"uom"}
    floats = post(planner, "/products", {**body, "sku": "BK-4", "list_price": 1.5})
    assert floats.status_code == 422
    service = post(
        planner, "/products", {**body, "sku": "SV-1", "type": "service", "tracking": "lot"}
    )
    assert service.status_code == 422 and fields_of(service) == {"tracking"}


def test_invoicing_policy_is_read_and_written(users_a, company_a):
    planner = as_token(users_a["planner"])
    body = {"sku": "SVC-1", "name": "Made to order", "uom": "pc", "invoice_policy": "order"}
    created = post(planner, "/products", body)
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["invoice_policy"] == "order"
    url = f"/products/{data['id']}"
    bad = patch(planner, url, {"name": "Renamed", "invoice_policy": "weekly"})
    assert bad.status_code == 422 and fields_of(bad) == {"invoice_policy"}
    stored = Product.unscoped.get(pk=data["id"])
    assert (stored.name, stored.invoice_policy) == ("Made to order", "order")
    cleared = patch(planner, url, {"invoice_policy": None})
    assert cleared.status_code == 200 and cleared.json()["invoice_policy"] == ""
    changed = patch(planner, url, {"invoice_policy": "delivery"})
    assert changed.status_code == 200 and changed.json()["invoice_policy"] == "delivery"


def test_patch_and_archive_a_product(users_a, company_a):
    product = make_product(company_a, "BK-1")
    client = as_token(users_a["planner"])
    response = patch(
        client, f"/products/{product.pk}", {"name": "Renamed", "barcode": "4006381333931"}
    )
    assert response.status_code == 200 and response.json()["name"] == "Renamed"
    bad = patch(client, f"/products/{product.pk}", {"barcode": "4006381333932"})
    assert bad.status_code == 422 and fields_of(bad) == {"barcode"}
    archived = client.post(f"{API}/products/{product.pk}/archive")
    assert archived.status_code == 200 and archived.json()["active"] is False
    restored = patch(client, f"/products/{product.pk}", {"active": True})
    assert restored.json()["active"] is True


def test_sales_rep_reads_but_cannot_write(users_a, company_a):
    product = make_product(company_a, "BK-1")
    client = as_token(users_a["sales_rep"])
    assert client.get(f"{API}/products/{product.pk}").status_code == 200
    assert patch(client, f"/products/{product.pk}", {"name": "x"}).status_code == 403
    assert post(client, "/price-lists", {"name": "Mine", "currency": "CNY"}).status_code == 403
    accountant = as_token(users_a["accountant"])
    assert post(accountant, "/price-lists", {"name": "Mine", "currency": "CNY"}).status_code == 201
    assert patch(accountant, f"/products/{product.pk}", {"name": "x"}).status_code == 403


def test_product_list_filters(users_a, company_a):
    bikes = make_category(company_a, "Bikes")
    ebikes = make_category(company_a, "E-bikes", bikes)
    make_product(company_a, "EB-1", category=ebikes, name_i18n={"zh-hans": "电动车"})
    make_product(company_a, "BK-1", category=bikes, supply="make")
    services.product_archive(product=make_product(company_a, "OLD-1"), actor=None)
    client = as_token(users_a["buyer"])

    def skus(**query: object) -> list[str]:
        body = client.get(f"{API}/products", query).json()
        return [row["sku"] for row in body["items"]]

    assert skus(category=bikes.pk) == ["BK-1", "EB-1"]
    assert skus(q="电动") == ["EB-1"]
    assert skus(active="false") == ["OLD-1"]
    assert skus(supply="make") == ["BK-1"]
    assert skus(sku="eb-1") == ["EB-1"]
    assert client.get(f"{API}/products", {"category": 999999}).status_code == 422


def test_categories_tree_and_cycle(users_a, company_a):
    client = as_token(users_a["planner"])
    bikes = post(client, "/product-categories", {"name": "Bikes"}).json()
    ebikes = post(client, "/product-categories", {"name": "E-bikes", "parent": bikes["id"]}).json()
    assert ebikes["path"] == "Bikes / E-bikes"
    loop = patch(client, f"/product-categories/{bikes['id']}", {"parent": ebikes["id"]})
    assert loop.status_code == 422 and fields_of(loop) == {"parent"}
    assert "Bikes → E-bikes → Bikes" in loop.json()["errors"][0]["message"]
    moved = patch(client, f"/product-categories/{ebikes['id']}", {"parent": None})
    assert moved.json()["path"] == "E-bikes"
    assert client.delete(f"{API}/product-categories/{bikes['id']}").status_code == 204


def test_variants_through_the_api(users_a, company_a):
    product = make_product(company_a, "BK")
    colour = make_attribute(company_a, "Colour", [("RED", "Red"), ("BLUE", "Blue")])
    client = as_token(users_a["planner"])
    ids = list(colour.values.values_list("pk", flat=True))
    red = colour.values.get(code="RED").pk
    made = post(
        client,
        f"/products/{product.pk}/variants",
        {"values": ids, "price_extras": {str(red): "15"}},
    )
    assert made.status_code == 201, made.content
    assert {(v["sku"], v["price_extra"]) for v in made.json()} == {
        ("BK-RED", "15.000000"),
        ("BK-BLUE", "0.000000"),
    }
    twice = post(client, "/variants", {"product": product.pk, "values": [red]})
    assert twice.status_code == 422 and "values" in fields_of(twice)
    listed = client.get(f"{API}/variants", {"product": product.pk}).json()
    assert listed["count"] == 2 and listed["items"][0]["values"][0]["attribute"] == "Colour"
    variant = Variant.unscoped.get(sku="BK-RED")
    assert (
        patch(client, f"/variants/{variant.pk}", {"price_extra": "20"}).json()["price_extra"]
        == "20.000000"
    )
    assert client.post(f"{API}/variants/{variant.pk}/archive").json()["active"] is False


def test_price_lists_rules_and_quote(users_a, company_a, company_b):
    accountant = as_token(users_a["accountant"])
    product = make_product(company_a, "BK", list_price=Decimal(1000))
    dealers = make_group(company_a, "dealers")
    created = post(
        accountant, "/price-lists", {"name": "Standard", "currency": "CNY", "is_default": True}
    )
    list_id = created.json()["id"]
    rule = post(
        accountant,
        f"/price-lists/{list_id}/rules",
        {
            "product": product.pk,
            "customer_group": dealers.pk,
            "method": "discount",
            "discount_percent": "15",
        },
    )
    assert rule.status_code == 201, rule.content
    breaks = post(
        accountant,
        f"/price-lists/{list_id}/rules",
        {"product": product.pk, "min_qty": "10", "method": "fixed", "fixed_price": "900"},
    )
    assert breaks.status_code == 201
    theirs = make_product(company_b, "BK")
    refused = post(
        accountant,
        f"/price-lists/{list_id}/rules",
        {"product": theirs.pk, "method": "fixed", "fixed_price": "1"},
    )
    assert refused.status_code == 422 and fields_of(refused) == {"product"}
    other_group = post(
        accountant,
        f"/price-lists/{list_id}/rules",
        {"customer_group": make_group(company_b, "x").pk, "method": "fixed", "fixed_price": "1"},
    )
    assert other_group.status_code == 422 and fields_of(other_group) == {"customer_group"}

    dealer = make_party(company_a, "D1", group=dealers)
    sales = as_token(users_a["sales_rep"])
    quote = sales.get(
        f"{API}/price",
        {"product": product.pk, "party": dealer.pk, "quantity": "2", "date": "2026-06-01"},
    )
    assert quote.status_code == 200, quote.content
    body = quote.json()
    assert body["unit_price"] == "850.000000" and body["currency"] == "CNY"
    assert body["rule"] == rule.json()["id"] and body["price_list"] == list_id
    assert body["discount_percent"] == "15.00" and body["unit"] == "pc"
    assert any("wins" in step for step in body["explanation"])
    volume = sales.get(f"{API}/price", {"product": product.pk, "quantity": "12"}).json()
    assert volume["unit_price"] == "900.000000" and volume["rule"] == breaks.json()["id"]
    bad = sales.get(f"{API}/price", {"product": product.pk, "quantity": "0"})
    assert bad.status_code == 422 and fields_of(bad) == {"quantity"}
    foreign = sales.get(f"{API}/price", {"product": theirs.pk})
    assert foreign.status_code == 422 and fields_of(foreign) == {"product"}

    rule_id = rule.json()["id"]
    changed = patch(accountant, f"/price-rules/{rule_id}", {"discount_percent": "20"})
    assert changed.status_code == 200 and changed.json()["discount_percent"] == "20.000"
    rules = accountant.get(f"{API}/price-lists/{list_id}/rules").json()
    assert rules["count"] == 2
    assert accountant.delete(f"{API}/price-rules/{rule_id}").status_code == 204
    archived = accountant.post(f"{API}/price-lists/{list_id}/archive").json()
    assert archived["active"] is False and archived["is_default"] is False


def test_costs_through_the_api(users_a, company_a):
    product = make_product(company_a, "FRAME")
    planner = as_token(users_a["planner"])
    created = post(planner, f"/products/{product.pk}/costs", {"cost": "120.25", "reason": "Quote"})
    assert created.status_code == 201 and created.json()["kind"] == "standard"
    assert planner.get(f"{API}/products/{product.pk}").json()["standard_cost"] == "120.250000"
    history = as_token(users_a["sales_rep"]).get(f"{API}/products/{product.pk}/costs").json()
    assert history["count"] == 1 and history["items"][0]["cost"] == "120.250000"
    bad = post(planner, f"/products/{product.pk}/costs", {"cost": "-1"})
    assert bad.status_code == 422 and fields_of(bad) == {"cost"}
    sales = post(as_token(users_a["sales_rep"]), f"/products/{product.pk}/costs", {"cost": "1"})
    assert sales.status_code == 403
    assert CostRecord.unscoped.filter(product=product).count() == 1


def test_another_companys_records_are_not_found(users_a, company_a, company_b):
    ours = catalogue_records(company_a, "a")
    theirs = catalogue_records(company_b, "b")
    client = as_token(users_a["admin"])
    probes = {
        "product": "/products/{}",
        "category": "/product-categories/{}",
        "attribute": "/attributes/{}",
        "variant": "/variants/{}",
        "price_list": "/price-lists/{}",
        "price_rule": "/price-rules/{}",
    }
    for kind, template in probes.items():
        assert client.get(API + template.format(ours[kind].pk)).status_code == 200, kind
        assert client.get(API + template.format(theirs[kind].pk)).status_code == 404, kind
        assert patch(client, template.format(theirs[kind].pk), {}).status_code == 404, kind
    assert client.get(f"{API}/products/{theirs['product'].pk}/costs").status_code == 404
    assert post(client, f"/products/{theirs['product'].pk}/costs", {"cost": "1"}).status_code == 404
    assert client.post(f"{API}/products/{theirs['product'].pk}/archive").status_code == 404
    assert client.delete(f"{API}/price-rules/{theirs['price_rule'].pk}").status_code == 404
    assert PriceRule.objects.filter(pk=theirs["price_rule"].pk).exists()
    for path in ("/products", "/product-categories", "/attributes", "/variants", "/price-lists"):
        body = client.get(API + path, {"limit": 500}).content
        assert b"CANARY-a" in body and b"CANARY-b" not in body, path
    # A rule of our list cannot name their product, category or variant.
    for field in ("product", "category", "variant"):
        response = post(
            client,
            f"/price-lists/{ours['price_list'].pk}/rules",
            {field: theirs[field].pk, "method": "fixed", "fixed_price": "1"},
        )
        assert response.status_code == 422 and fields_of(response) == {field}


def test_list_endpoints_do_not_query_per_row(users_a, company_a):
    client = as_token(users_a["admin"])
    category = make_category(company_a, "Parts")
    colour = make_attribute(company_a, "Colour", [("RED", "Red"), ("BLUE", "Blue")])
    price_list = make_price_list(company_a, "L")

    def grow(start: int, stop: int) -> None:
        for i in range(start, stop):
            product = make_product(company_a, f"Q-{i}", category=category, sales_uom=None)
            services.variants_generate(
                product=product, actor=None, values=list(colour.values.all())
            )
            make_rule(price_list, product=product, fixed_price=Decimal(i + 1))

    def count(path: str) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(API + path).status_code == 200
        return len(queries)

    paths = ["/products", "/variants", "/attributes", f"/price-lists/{price_list.pk}/rules"]
    grow(0, 2)
    client.get(f"{API}/me")  # the token's first use of the minute writes its last use
    before = {path: count(path) for path in paths}
    grow(2, 12)
    assert {path: count(path) for path in paths} == before
