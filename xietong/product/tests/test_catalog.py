"""Catalogue services: categories (tree, paths, cycles), products (SKU per company, units of one
kind, tracking, lot sizing, translations, barcodes), attributes and variants, and unit
conversion through `product_convert` (with Hypothesis)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xietong.core.models import AuditEntry
from xietong.core.quantity import UnitMismatch
from xietong.core.tenancy import company_scope
from xietong.product import selectors, services
from xietong.product.models import AttributeValue, Category, Product, Variant
from xietong.product.tests.catalog_factories import (
    make_attribute,
    make_category,
    make_product,
    unit,
)

pytestmark = pytest.mark.django_db


def errors_of(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, list[str]]:
    return exc.value.message_dict


# --- categories -------------------------------------------------------------------------------


def test_category_paths_follow_renames_and_moves(company_a):
    bikes = make_category(company_a, "Bikes")
    ebikes = make_category(company_a, "E-bikes", bikes)
    cargo = make_category(company_a, "Cargo", ebikes)
    parts = make_category(company_a, "Parts")
    assert cargo.path == "Bikes / E-bikes / Cargo"

    services.category_update(category=bikes, actor=None, name="Bicycles")
    cargo.refresh_from_db()
    assert cargo.path == "Bicycles / E-bikes / Cargo"

    services.category_update(category=ebikes, actor=None, parent=parts)
    cargo.refresh_from_db()
    assert cargo.path == "Parts / E-bikes / Cargo"
    services.category_update(category=ebikes, actor=None, parent=None)
    cargo.refresh_from_db()
    assert cargo.path == "E-bikes / Cargo"
    assert [c.path for c in selectors.category_ancestors(cargo)] == ["E-bikes", "E-bikes / Cargo"]


def test_category_cycle_is_refused_naming_the_loop(company_a):
    bikes = make_category(company_a, "Bikes")
    ebikes = make_category(company_a, "E-bikes", bikes)
    cargo = make_category(company_a, "Cargo", ebikes)
    with pytest.raises(ValidationError) as exc:
        services.category_update(category=bikes, actor=None, parent=cargo)
    message = errors_of(exc)["parent"][0]
    assert "Bikes → E-bikes → Cargo → Bikes" in message
    with pytest.raises(ValidationError):
        services.category_update(category=bikes, actor=None, parent=bikes)
    bikes.refresh_from_db()
    assert bikes.parent is None and bikes.path == "Bikes"


def test_category_names_unique_among_siblings_and_without_slash(company_a, company_b):
    bikes = make_category(company_a, "Bikes")
    make_category(company_a, "Frames", bikes)
    make_category(company_a, "Frames")  # another branch: fine
    make_category(company_b, "Bikes")  # another company: fine
    with pytest.raises(ValidationError) as exc:
        make_category(company_a, "frames", bikes)
    assert "name" in errors_of(exc)
    with pytest.raises(ValidationError) as exc:
        make_category(company_a, "Bikes")
    with pytest.raises(ValidationError) as exc:
        make_category(company_a, "A/B")
    assert "name" in errors_of(exc)


def test_category_of_another_company_is_refused_as_parent(company_a, company_b):
    theirs = make_category(company_b, "Theirs")
    with pytest.raises(ValidationError) as exc:
        make_category(company_a, "Mine", theirs)
    assert "parent" in errors_of(exc)


def test_category_delete_only_when_unused(company_a):
    bikes = make_category(company_a, "Bikes")
    ebikes = make_category(company_a, "E-bikes", bikes)
    make_product(company_a, "EB-1", category=ebikes)
    with pytest.raises(ValidationError):
        services.category_delete(category=bikes, actor=None)
    with pytest.raises(ValidationError):
        services.category_delete(category=ebikes, actor=None)
    lonely = make_category(company_a, "Lonely")
    services.category_delete(category=lonely, actor=None)
    assert not Category.unscoped.filter(pk=lonely.pk).exists()


# --- products ---------------------------------------------------------------------------------


def test_sku_is_unique_per_company_only(company_a, company_b):
    make_product(company_a, "BK-100")
    with pytest.raises(ValidationError) as exc:
        make_product(company_a, "bk-100")
    assert list(errors_of(exc)) == ["sku"]
    other = make_product(company_b, "BK-100")  # company B may use the same SKU
    assert other.company == company_b
    assert Product.unscoped.filter(sku__iexact="BK-100").count() == 2


def test_purchase_and_sales_units_must_measure_what_the_stock_unit_measures(company_a):
    with pytest.raises(ValidationError) as exc:
        make_product(
            company_a, "WIRE", uom=unit("m"), purchase_uom=unit("kg"), sales_uom=unit("pc")
        )
    errors = errors_of(exc)
    assert set(errors) == {"purchase_uom", "sales_uom"}
    assert "kg" in errors["purchase_uom"][0] and "m" in errors["purchase_uom"][0]
    assert not Product.unscoped.filter(sku="WIRE").exists()
    wire = make_product(
        company_a, "WIRE", uom=unit("m"), purchase_uom=unit("km"), sales_uom=unit("cm")
    )
    with pytest.raises(ValidationError) as exc:
        services.product_update(product=wire, actor=None, sales_uom=unit("kg"))
    assert "sales_uom" in errors_of(exc)
    wire.refresh_from_db()
    assert wire.sales_uom.code == "cm"


def test_service_products_cannot_be_tracked(company_a):
    with pytest.raises(ValidationError) as exc:
        make_product(company_a, "SVC", type=Product.Type.SERVICE, tracking=Product.Tracking.SERIAL)
    assert "tracking" in errors_of(exc)
    make_product(company_a, "SVC", type=Product.Type.SERVICE)
    make_product(company_a, "LOT", tracking=Product.Tracking.LOT)


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"lot_sizing": "fixed", "lot_size": Decimal(0)}, "lot_size"),
        ({"lot_sizing": "eoq"}, "lot_size"),
        ({"lot_sizing": "periods", "lot_size": Decimal("1.5")}, "lot_size"),
        ({"lot_sizing": "lot_for_lot", "lot_size": Decimal(5)}, "lot_size"),
        ({"lot_sizing": "min_max", "min_qty": Decimal(5)}, "max_qty"),
        ({"min_qty": Decimal(10), "max_qty": Decimal(5)}, "max_qty"),
        (
            {"lot_sizing": "fixed", "lot_size": Decimal(50), "lot_multiple": Decimal(12)},
            "lot_multiple",
        ),
        ({"safety_stock": Decimal(-1)}, "safety_stock"),
        ({"list_price": Decimal("-0.01")}, "list_price"),
        ({"lot_sizing": "sometimes"}, "lot_sizing"),
    ],
)
def test_inconsistent_planning_fields_are_refused(company_a, fields, field):
    with pytest.raises(ValidationError) as exc:
        make_product(company_a, "PLAN", **fields)
    assert field in errors_of(exc)


def test_consistent_lot_sizing_is_accepted(company_a):
    make_product(company_a, "F", lot_sizing="fixed", lot_size=Decimal(48), lot_multiple=Decimal(12))
    make_product(company_a, "P", lot_sizing="periods", lot_size=Decimal(2))
    make_product(company_a, "M", lot_sizing="min_max", min_qty=Decimal(5), max_qty=Decimal(50))


def test_translations_keep_known_languages_and_drop_blanks(company_a):
    product = make_product(
        company_a,
        "T-1",
        name="Trekking bike",
        name_i18n={"en": " Trekking bike ", "zh-hans": "旅行自行车", "zh-hant": ""},
        description_i18n={"zh-hant": "旅行自行車"},
    )
    assert product.name_i18n == {"en": "Trekking bike", "zh-hans": "旅行自行车"}
    assert product.description_i18n == {"zh-hant": "旅行自行車"}
    with pytest.raises(ValidationError) as exc:
        services.product_update(product=product, actor=None, name_i18n={"fr": "Vélo"})
    assert "name_i18n" in errors_of(exc)


def test_display_name_follows_the_language(company_a):
    from django.utils import translation

    product = make_product(company_a, "T-2", name="Base", name_i18n={"zh-hans": "中文名"})
    with translation.override("zh-hans"):
        assert product.display_name == "中文名"
    with translation.override("zh-hant"):
        assert product.display_name == "Base"


@pytest.mark.parametrize(
    "barcode,ok",
    [
        ("4006381333931", True),  # EAN-13
        ("036000291452", True),  # UPC-A
        ("96385074", True),  # EAN-8
        ("4006381333932", False),  # wrong check digit
        ("036000291453", False),
        ("INT-0042", True),  # internal label
        ("12345", True),  # numeric but not an EAN/UPC length: an internal code
        ("4006 381", False),
    ],
)
def test_barcodes_are_checked(company_a, barcode, ok):
    if ok:
        assert make_product(company_a, barcode=barcode).barcode == barcode
    else:
        with pytest.raises(ValidationError) as exc:
            make_product(company_a, barcode=barcode)
        assert "barcode" in errors_of(exc)


def test_barcode_is_unique_across_products_and_variants(company_a, company_b):
    make_product(company_a, "A", barcode="4006381333931")
    with pytest.raises(ValidationError) as exc:
        make_product(company_a, "B", barcode="4006381333931")
    assert "A already has this barcode" in errors_of(exc)["barcode"][0]
    make_product(company_b, "A", barcode="4006381333931")


def test_category_of_another_company_is_refused(company_a, company_b):
    theirs = make_category(company_b, "Theirs")
    with pytest.raises(ValidationError) as exc:
        make_product(company_a, "X", category=theirs)
    assert "category" in errors_of(exc)


def test_update_refuses_unknown_fields_and_leaves_the_object_alone(company_a):
    product = make_product(company_a, "U-1", name="Before")
    with pytest.raises(ValidationError) as exc:
        services.product_update(product=product, actor=None, standard_cost=Decimal(5))
    assert "standard_cost" in errors_of(exc)
    with pytest.raises(ValidationError):
        services.product_update(product=product, actor=None, name="After", sku="")
    assert product.name == "Before" and product.sku == "U-1"
    product.refresh_from_db()
    assert product.name == "Before"


def test_product_changes_are_audited_with_the_actor(company_a, users_a):
    planner = users_a["planner"]
    product = services.product_create(
        company=company_a, actor=planner, sku="AUD-1", name="Audited", uom=unit("pc")
    )
    services.product_update(product=product, actor=planner, name="Renamed")
    services.product_archive(product=product, actor=planner)
    entries = AuditEntry.objects.get_for_object(product).order_by("timestamp")
    assert [e.actor for e in entries] == [planner, planner, planner]
    assert entries[1].changes_dict["name"] == ["Audited", "Renamed"]
    assert all(e.company_id == company_a.pk for e in entries)
    product.refresh_from_db()
    assert product.active is False


# --- attributes and variants ------------------------------------------------------------------


@pytest.fixture
def colour_size(company_a):
    colour = make_attribute(company_a, "Colour", [("RED", "Red"), ("BLUE", "Blue")])
    size = make_attribute(company_a, "Size", [("S", "Small"), ("M", "Medium"), ("L", "Large")])
    return colour, size


def _values(attribute, *codes):
    return [attribute.values.get(code=code) for code in codes]


def test_variants_are_the_cartesian_product_of_the_chosen_values(company_a, colour_size):
    colour, size = colour_size
    bike = make_product(company_a, "BASE")
    chosen = _values(colour, "RED", "BLUE") + _values(size, "M", "L")
    extras = {size.values.get(code="L").pk: Decimal("20"), colour.values.get(code="RED").pk: "5"}
    created = services.variants_generate(
        product=bike, actor=None, values=chosen, price_extras=extras
    )
    assert sorted(v.sku for v in created) == [
        "BASE-BLUE-L",
        "BASE-BLUE-M",
        "BASE-RED-L",
        "BASE-RED-M",
    ]
    by_sku = {v.sku: v for v in created}
    assert by_sku["BASE-RED-L"].price_extra == Decimal(25)
    assert by_sku["BASE-BLUE-M"].price_extra == Decimal(0)
    assert {v.code for v in by_sku["BASE-RED-M"].values.all()} == {"RED", "M"}

    # Generating again adds only the new combinations.
    again = services.variants_generate(product=bike, actor=None, values=chosen + _values(size, "S"))
    assert sorted(v.sku for v in again) == ["BASE-BLUE-S", "BASE-RED-S"]
    assert Variant.unscoped.filter(product=bike).count() == 6


def test_the_same_combination_twice_is_refused(company_a, colour_size):
    colour, size = colour_size
    bike = make_product(company_a, "BASE")
    services.variant_create(
        product=bike, actor=None, values=_values(colour, "RED") + _values(size, "M")
    )
    with pytest.raises(ValidationError) as exc:
        services.variant_create(
            product=bike,
            actor=None,
            values=_values(size, "M") + _values(colour, "RED"),
            sku="OTHER",
        )
    assert "BASE-RED-M" in errors_of(exc)["values"][0]
    with pytest.raises(ValidationError) as exc:
        services.variant_create(product=bike, actor=None, values=_values(size, "M", "L"))
    assert "values" in errors_of(exc)


def test_variant_sku_clashes_are_refused(company_a, colour_size):
    colour, _size = colour_size
    make_product(company_a, "BASE-RED")  # a product already uses the SKU a variant would get
    bike = make_product(company_a, "BASE")
    with pytest.raises(ValidationError) as exc:
        services.variants_generate(product=bike, actor=None, values=_values(colour, "RED", "BLUE"))
    assert "BASE-RED" in errors_of(exc)["values"][0]
    assert not Variant.unscoped.filter(product=bike).exists()  # all or nothing


def test_variant_update_and_archive(company_a, colour_size):
    colour, _size = colour_size
    bike = make_product(company_a, "BASE")
    variant = services.variant_create(product=bike, actor=None, values=_values(colour, "RED"))
    services.variant_update(
        variant=variant, actor=None, price_extra=Decimal("12.5"), barcode="96385074"
    )
    variant.refresh_from_db()
    assert variant.price_extra == Decimal("12.5") and variant.barcode == "96385074"
    with pytest.raises(ValidationError):
        make_product(company_a, "OTHER", barcode="96385074")
    with pytest.raises(ValidationError):
        services.variant_update(variant=variant, actor=None, barcode="96385075")
    services.variant_archive(variant=variant, actor=None)
    variant.refresh_from_db()
    assert variant.active is False


def test_attribute_values_are_renamed_added_and_removed_by_code(company_a, colour_size):
    colour, _size = colour_size
    bike = make_product(company_a, "BASE")
    services.variant_create(product=bike, actor=None, values=_values(colour, "RED"))
    services.attribute_update(
        attribute=colour,
        actor=None,
        values=[("RED", "Crimson"), ("BLUE", "Blue"), ("GRN", "Green")],
    )
    assert dict(colour.values.values_list("code", "name")) == {
        "RED": "Crimson",
        "BLUE": "Blue",
        "GRN": "Green",
    }
    with pytest.raises(ValidationError) as exc:
        services.attribute_update(attribute=colour, actor=None, values=[("BLUE", "Blue")])
    assert "RED" in errors_of(exc)["values"][0]
    services.attribute_update(attribute=colour, actor=None, values=[("RED", "Red")])
    assert list(colour.values.values_list("code", flat=True)) == ["RED"]
    with pytest.raises(ValidationError):
        services.attribute_delete(attribute=colour, actor=None)


@pytest.mark.parametrize(
    "values", [[], [("red-1", "Red")], [("RED", "Red"), ("red", "Again")], [("RED", "")]]
)
def test_bad_attribute_values_are_refused(company_a, values):
    with pytest.raises(ValidationError) as exc:
        make_attribute(company_a, "Colour", values)
    assert "values" in errors_of(exc)
    assert not AttributeValue.objects.exists()


def test_values_of_another_company_are_refused(company_a, company_b):
    theirs = make_attribute(company_b, "Colour", [("RED", "Red")])
    bike = make_product(company_a, "BASE")
    with pytest.raises(ValidationError):
        services.variants_generate(product=bike, actor=None, values=list(theirs.values.all()))
    with pytest.raises(ValidationError):
        services.variant_create(product=bike, actor=None, values=list(theirs.values.all()))


# --- unit conversion --------------------------------------------------------------------------


def test_product_convert_refuses_units_of_another_kind(company_a):
    wire = make_product(company_a, "WIRE", uom=unit("m"))
    assert services.product_convert(
        product=wire, quantity=Decimal("2.5"), from_uom=unit("km"), to_uom=unit("m")
    ) == Decimal("2500.000")
    with pytest.raises(UnitMismatch):
        services.product_convert(
            product=wire, quantity=Decimal(1), from_uom=unit("kg"), to_uom=unit("g")
        )
    with pytest.raises(UnitMismatch):
        services.product_convert(
            product=wire, quantity=Decimal(1), from_uom=unit("m"), to_uom=unit("kg")
        )


UNIT_CODES = {
    "unit": ["pc", "dozen", "pair"],
    "mass": ["g", "kg", "t"],
    "length": ["mm", "cm", "m", "km"],
    "volume": ["ml", "l", "m3"],
}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.data(),
    quantity=st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False),
)
def test_conversion_round_trip_stays_within_rounding(company_a, data, quantity):
    kind = data.draw(st.sampled_from(sorted(UNIT_CODES)))
    stock, other = (unit(c) for c in data.draw(st.permutations(UNIT_CODES[kind]))[:2])
    product = Product(company=company_a, sku="H", name="H", uom=stock)
    there = services.product_convert(
        product=product, quantity=quantity, from_uom=stock, to_uom=other
    )
    back = services.product_convert(product=product, quantity=there, from_uom=other, to_uom=stock)
    # Each leg rounds half a step at most; the first leg's error is scaled into stock units.
    tolerance = other.rounding * other.factor / stock.factor / 2 + stock.rounding / 2
    assert abs(back - quantity) <= tolerance
    # Unrounded, the conversion keeps the amount (up to Decimal's precision).
    exact = services.product_convert(
        product=product, quantity=quantity, from_uom=stock, to_uom=other, round_result=False
    )
    assert abs(exact * other.factor - quantity * stock.factor) <= Decimal("1e-18") * max(
        1, quantity * stock.factor
    )


def test_selectors_filter_by_category_tree_and_search_translations(company_a):
    bikes = make_category(company_a, "Bikes")
    ebikes = make_category(company_a, "E-bikes", bikes)
    make_product(company_a, "EB-1", category=ebikes, name_i18n={"zh-hans": "电动车"})
    make_product(company_a, "BK-1", category=bikes)
    make_product(company_a, "PT-1")
    with company_scope(company_a):
        assert {p.sku for p in selectors.product_list(category=bikes)} == {"EB-1", "BK-1"}
        assert {p.sku for p in selectors.product_list(category=ebikes)} == {"EB-1"}
        assert {p.sku for p in selectors.product_list(q="电动")} == {"EB-1"}
        assert {p.sku for p in selectors.product_list(q="pt-")} == {"PT-1"}
