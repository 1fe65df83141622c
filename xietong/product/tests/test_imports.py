"""Import and export of products, variants and price lists: round trips are the identity, a bad
row saves nothing and names its line, column and reason, and each company sees only its own."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from xietong.core import imports
from xietong.core.models import AuditEntry, Company
from xietong.product import services
from xietong.product.models import Category, CostRecord, PriceList, PriceRule, Product, Variant
from xietong.product.tests.catalog_factories import (
    make_attribute,
    make_category,
    make_group,
    make_price_list,
    make_product,
    make_rule,
    unit,
)

pytestmark = pytest.mark.django_db


def run(key: str, company: Company, data: bytes, filename: str = "file.csv") -> dict[str, int]:
    """Check and apply a file; fails the test with the report when a row is bad."""
    spec = imports.spec_for(key)
    report = imports.import_check(
        spec, company=company, table=imports.read_table(data, filename, spec)
    )
    assert not report.problems, [str(p) for p in report.problems]
    return imports.import_apply(spec, company=company, actor=None, report=report)


def problems(key: str, company: Company, text: str) -> list[str]:
    spec = imports.spec_for(key)
    report = imports.import_check(
        spec, company=company, table=imports.read_table(text.encode(), "f.csv", spec)
    )
    assert report.problems, "expected the file to be refused"
    return [str(p) for p in report.problems]


def export(key: str, company: Company, fmt: str = "csv") -> bytes:
    return imports.export_table(imports.spec_for(key), company=company, fmt=fmt)[0]


@pytest.fixture
def catalogue(company_a):
    bikes = make_category(company_a, "Bikes")
    ebikes = make_category(company_a, "E-bikes", bikes)
    frame = make_product(
        company_a,
        "FRAME-1",
        name="Frame",
        name_i18n={"zh-hans": "车架", "zh-hant": "車架"},
        category=bikes,
        barcode="4006381333931",
        weight_kg=Decimal("2.350"),
        lot_sizing=Product.LotSizing.FIXED,
        lot_size=Decimal("50"),
        lot_multiple=Decimal("10"),
    )
    services.product_cost_set(product=frame, actor=None, cost=Decimal("120.5"))
    bike = make_product(
        company_a,
        "EBIKE-1",
        name="E-bike",
        category=ebikes,
        supply=Product.Supply.MAKE,
        manufacturing_lead_days=5,
        sales_uom=unit("pc"),
    )
    colour = make_attribute(company_a, "Colour", [("RED", "Red"), ("BLUE", "Blue")])
    size = make_attribute(company_a, "Size", [("M", "Medium"), ("L", "Large")])
    services.variants_generate(
        product=bike, actor=None, values=[*colour.values.all(), *size.values.all()]
    )
    retail = make_price_list(company_a, "Retail", is_default=True)
    make_rule(retail, product=frame, fixed_price=Decimal("199"), min_qty=Decimal("5"))
    make_rule(
        retail, category=ebikes, method=PriceRule.Method.DISCOUNT, discount_percent=Decimal("5")
    )
    group = make_group(company_a, "dealers")
    make_rule(
        retail,
        variant=Variant.unscoped.filter(product=bike).order_by("sku").first(),
        customer_group=group,
        method=PriceRule.Method.COST_PLUS,
        margin_percent=Decimal("30"),
    )
    make_price_list(company_a, "Empty", currency="USD")
    return {"frame": frame, "bike": bike}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("key", ["products", "variants", "price-lists"])
def test_export_then_import_changes_nothing(company_a, catalogue, key, fmt):
    before = export(key, company_a)
    audits = AuditEntry.objects.count()
    rules = list(PriceRule.objects.order_by("pk").values_list("pk", flat=True))
    counts = run(key, company_a, export(key, company_a, fmt), f"file.{fmt}")
    assert counts == {"created": 0, "updated": 0}
    assert export(key, company_a) == before
    assert AuditEntry.objects.count() == audits  # nothing changed, nothing recorded
    assert list(PriceRule.objects.order_by("pk").values_list("pk", flat=True)) == rules


def test_exported_catalogue_imports_into_an_empty_company_the_same(company_a, company_b, catalogue):
    make_attribute(company_b, "Colour", [("RED", "Red"), ("BLUE", "Blue")])
    make_attribute(company_b, "Size", [("M", "Medium"), ("L", "Large")])
    make_group(company_b, "dealers")
    for key in ("products", "variants", "price-lists"):
        run(key, company_b, export(key, company_a))
        assert export(key, company_b) == export(key, company_a), key
    copied = Product.unscoped.get(company=company_b, sku="FRAME-1")
    assert copied.name_i18n == {"zh-hans": "车架", "zh-hant": "車架"}
    assert Category.unscoped.get(pk=copied.category_id).path == "Bikes"
    assert CostRecord.unscoped.filter(product=copied, cost=Decimal("120.5")).exists()
    assert Product.unscoped.filter(company=company_a).count() == 2  # the source is untouched


def test_products_are_created_and_updated_with_audit_entries_and_cost_history(company_a, catalogue):
    text = (
        "sku,name,uom,category,standard_cost,list_price\n"
        "FRAME-1,Frame (alloy),pc,Bikes,130,250\n"
        "BELL-9,Bell,pc,Accessories / Small parts,2.5,9.9\n"
    )
    assert run("products", company_a, text.encode()) == {"created": 1, "updated": 1}
    frame = Product.unscoped.get(pk=catalogue["frame"].pk)
    assert frame.name == "Frame (alloy)" and frame.standard_cost == Decimal("130")
    assert frame.barcode == "4006381333931"  # a column left out keeps the stored value
    assert frame.name_i18n == {"zh-hans": "车架", "zh-hant": "車架"}
    bell = Product.unscoped.get(company=company_a, sku="BELL-9")
    assert Category.unscoped.get(pk=bell.category_id).path == "Accessories / Small parts"
    entry = AuditEntry.objects.get_for_object(frame).order_by("-timestamp").first()
    assert entry.changes_dict["name"] == ["Frame", "Frame (alloy)"]
    assert AuditEntry.objects.get_for_object(bell).filter(action=AuditEntry.Action.CREATE).exists()
    assert list(
        CostRecord.unscoped.filter(product=frame).order_by("pk").values_list("cost", flat=True)
    ) == [Decimal("120.5"), Decimal("130")]


def test_a_bad_row_saves_nothing_and_every_problem_is_named(company_a, catalogue):
    text = (
        "sku,name,uom,type,barcode,weight_kg,lot_sizing,lot_size,purchase_uom,active\n"
        "NEW-1,Good one,pc,,,,,,,1\n"
        "NEW-2,,furlong,gadget,4006381333932,-1,eoq,0,kg,maybe\n"
        "NEW 3,Spaced,pc,,,,,,,\n"
        "new-1,Twin,pc,,,,,,,\n"
        "NEW-4,Barcode thief,pc,,4006381333931,,,,,\n"
    )
    found = problems("products", company_a, text)
    joined = "\n".join(found)
    for expected in (
        "Row 3, name:",
        "Row 3, uom: unknown unit “furlong”",
        "Row 3, type: “gadget” is not one of",
        "Row 3, weight_kg: must be at least 0",
        "Row 3, active: write 1 or 0",
        "Row 4, sku: A SKU has no spaces.",
        "Row 5: duplicate of row 2",
        "Row 6, barcode: FRAME-1 already has this barcode.",
    ):
        assert expected in joined, (expected, found)
    assert not Product.unscoped.filter(sku__startswith="NEW").exists()


def test_unit_kind_change_is_refused_for_a_product_used_in_boms(company_a, catalogue):
    from xietong.product.bom import bom_create

    bom_create(
        company=company_a,
        actor=None,
        product=catalogue["bike"],
        lines=[{"component": catalogue["frame"].pk, "quantity": "1"}],
    )
    found = problems("products", company_a, "sku,name,uom\nFRAME-1,Frame,kg\n")
    assert any("Bills of materials count this product in pc" in p for p in found)


def test_lot_sizing_rules_are_checked_as_in_the_form(company_a):
    found = problems("products", company_a, "sku,name,uom,lot_sizing,lot_size\nX-1,X,pc,fixed,0\n")
    assert found == ["Row 2, lot_size: This lot-sizing rule needs a lot size above zero."]


def test_variants_import_checks_values_combinations_and_skus(company_a, catalogue):
    text = (
        "product,sku,attributes,price_extra\n"
        "EBIKE-1,EBIKE-1-NEW,Colour: RED; Size: M,10\n"  # the combination exists already
        "EBIKE-1,EBIKE-1-X,Colour: GREEN,0\n"
        "FRAME-1,FRAME-1,Colour: RED,0\n"
        "NOPE,V-1,Colour: RED,0\n"
    )
    found = "\n".join(problems("variants", company_a, text))
    assert "Row 2, attributes:" in found and "already has these attribute values" in found
    assert "Row 3, attributes: unknown attribute value “Colour: GREEN”" in found
    assert "Row 4, sku: a product already has the SKU “FRAME-1”" in found
    assert "Row 5, product: unknown product “NOPE”" in found


def test_new_variant_and_price_extra_update(company_a, catalogue):
    make_attribute(company_a, "Battery", [("500", "500 Wh")])
    existing = Variant.unscoped.filter(product=catalogue["bike"]).order_by("sku").first()
    text = (
        "product,sku,attributes,price_extra\n"
        f"EBIKE-1,{existing.sku},{export_attributes(existing)},25\n"
        "EBIKE-1,EBIKE-1-500,Battery: 500,300\n"
    )
    assert run("variants", company_a, text.encode()) == {"created": 1, "updated": 1}
    existing.refresh_from_db()
    assert existing.price_extra == Decimal("25")
    new = Variant.unscoped.get(sku="EBIKE-1-500")
    assert [v.code for v in new.values.all()] == ["500"]


def export_attributes(variant: Variant) -> str:
    return "; ".join(
        f"{v.attribute.name}: {v.code}"
        for v in sorted(variant.values.select_related("attribute"), key=lambda v: v.attribute.name)
    )


def test_price_list_rows_replace_the_lists_rules(company_a, catalogue):
    retail = PriceList.unscoped.get(company=company_a, name="Retail")
    text = (
        "price_list,currency,is_default,product,min_qty,method,fixed_price,discount_percent\n"
        "Retail,CNY,1,FRAME-1,10,fixed,189,\n"
        "Retail,CNY,1,,,discount,,3\n"
        "Wholesale,CNY,0,FRAME-1,,fixed,150,\n"
    )
    assert run("price-lists", company_a, text.encode()) == {"created": 1, "updated": 1}
    assert retail.rules.count() == 2
    assert retail.rules.get(method="fixed").fixed_price == Decimal("189")
    assert PriceList.unscoped.get(company=company_a, name="Wholesale").rules.count() == 1
    assert PriceList.unscoped.get(company=company_a, name="Empty").currency_id == "USD"
    note = AuditEntry.objects.get_for_object(retail).order_by("-timestamp").first()
    assert "rules" in note.changes_dict


def test_price_list_problems(company_a, catalogue):
    text = (
        "price_list,currency,is_default,product,category,method,fixed_price,discount_percent\n"
        "Retail,CNY,1,FRAME-1,Bikes,fixed,10,\n"
        "Retail,USD,1,FRAME-1,,fixed,10,\n"
        "Other,CNY,1,,,discount,,\n"
        "Third,XXX,0,,,fixed,5,5\n"
    )
    found = "\n".join(problems("price-lists", company_a, text))
    assert "Row 2, category: a rule targets a product or a category, not both" in found
    assert "Row 3, price_list: currency, default and active must be the same" in found
    assert "Row 4, is_default: only one price list can be the default" in found
    assert "Row 4, discount_percent: this method needs a value here" in found
    assert "Row 5, currency: “XXX” is not an active currency" in found
    assert "Row 5, discount_percent: leave empty" in found


def test_imports_stay_within_the_company(company_a, company_b, catalogue):
    make_product(company_b, "FRAME-1", name="B's frame")
    run("products", company_a, b"sku,name,uom\nFRAME-1,A's frame,pc\n")
    assert Product.unscoped.get(company=company_b, sku="FRAME-1").name == "B's frame"
    assert b"EBIKE-1" not in export("products", company_b)


@pytest.mark.django_db(transaction=True)
def test_planner_imports_products_through_the_screens(users_a, company_a, client_for):
    from django.core.management import call_command

    client = client_for(users_a["planner"])
    page = client.get(reverse("core:import_products"))
    assert page.status_code == 200
    upload = SimpleUploadedFile("p.csv", b"sku,name,uom\nBOLT-1,Bolt,pc\nNUT-1,Nut,pc\n")
    preview = client.post(reverse("core:import_products"), {"file": upload}).content.decode()
    token = re.search(r'name="token" value="([^"]+)"', preview).group(1)
    client.post(reverse("core:import_products_confirm"), {"token": token, "filename": "p.csv"})
    call_command("worker", "--batch")
    assert set(Product.unscoped.filter(company=company_a).values_list("sku", flat=True)) == {
        "BOLT-1",
        "NUT-1",
    }
    exported = client.get(reverse("core:export_products", args=["csv"]))
    assert exported.status_code == 200 and b"BOLT-1" in exported.content


@pytest.mark.parametrize("key", ["products", "variants", "price-lists"])
def test_only_importers_reach_the_import_pages(users_a, client_for, key):
    assert client_for(users_a["sales_rep"]).get(reverse(f"core:import_{key}")).status_code == 403
    assert (
        client_for(users_a["sales_rep"])
        .get(reverse(f"core:export_{key}", args=["csv"]))
        .status_code
        == 403
    )
    assert client_for(users_a["planner"]).get(reverse(f"core:import_{key}")).status_code == 200


def test_bulk_audit_entries_equal_the_ones_auditlog_writes(company_a, admin_a):
    from auditlog.diff import model_instance_diff

    from xietong.core.audit import audit_bulk

    product = make_product(
        company_a, "AUD-1", weight_kg=Decimal("1.5"), name_i18n={"zh-hans": "甲"}
    )
    before = Product.unscoped.get(pk=product.pk)
    after = Product.unscoped.get(pk=product.pk)
    after.name, after.list_price, after.weight_kg = "Renamed", Decimal("7"), Decimal("1.50")
    assert audit_bulk([(None, before), (before, after), (after, after)], actor=admin_a) == 2
    created, changed = AuditEntry.objects.get_for_object(product).order_by("-pk")[:2][::-1]

    def expected(old, new):  # auditlog's own diff, as lists (JSON)
        diff = model_instance_diff(old, new, use_json_for_changes=True)
        return {field: list(values) for field, values in diff.items()}

    assert created.changes_dict == expected(None, before)
    auditlogs = expected(before, after)
    auditlogs.pop("weight_kg", None)  # auditlog compares text: 1.500 ≠ 1.50 on PostgreSQL
    assert changed.changes_dict == auditlogs
    assert set(changed.changes_dict) == {"name", "list_price"}  # 1.5 = 1.50: no change
    assert changed.actor == admin_a and changed.company_id == company_a.pk


def test_list_screens_link_to_the_import_pages_for_importers_only(users_a, client_for):
    url = reverse("core:import_products")
    assert (
        url in client_for(users_a["planner"]).get(reverse("product:product_list")).content.decode()
    )
    assert (
        url
        not in client_for(users_a["sales_rep"])
        .get(reverse("product:product_list"))
        .content.decode()
    )
    prices = client_for(users_a["planner"]).get(reverse("product:price_list_list")).content.decode()
    assert reverse("core:import_price-lists") in prices
