"""The configurator: group and rule checks (requires, excludes, only-if, each violated and
satisfied), price from the price list or list price plus deltas, generated BOM and its cost,
and the configured item."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from xietong.product import configurator as cfg
from xietong.product.models import ConfiguredItem, PriceList, PriceRule
from xietong.product.tests.bom_factories import (
    bom_change,
    line,
    make_bom,
    make_group,
    make_item,
    make_option,
    rule,
)

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2026, 11, 26)


@pytest.fixture
def ebike(company_a):  # type: ignore[no-untyped-def]
    parts = {
        sku: make_item(company_a, sku, cost=cost)
        for sku, cost in [
            ("FRAME-S", "280"),
            ("FRAME-M", "290"),
            ("FRAME-L", "300"),
            ("BATT-400", "800"),
            ("BATT-625", "1200"),
            ("MOTOR-HUB", "700"),
            ("MOTOR-MID", "1500"),
            ("WHEEL", "100"),
            ("RACK", "60"),
            ("LIGHT", "20"),
            ("SEAT", "150"),
        ]
    }
    bike = make_item(
        company_a, "EB-500", name="E-bike City 500", price="5999", is_configurable=True
    )
    make_bom(
        company_a,
        bike,
        [
            line(parts["FRAME-M"], "1"),
            line(parts["BATT-400"], "1"),
            line(parts["MOTOR-HUB"], "1"),
            line(parts["WHEEL"], "2"),
        ],
    )
    frame = make_group(bike, "frame", sequence=10)
    battery = make_group(bike, "battery", sequence=20)
    motor = make_group(bike, "motor", sequence=30)
    extras = make_group(bike, "extras", multiple=True, required=False, sequence=40)
    o = {
        "s": make_option(frame, "s", name="S"),
        "m": make_option(frame, "m", name="M", default=True),
        "l": make_option(frame, "l", "100", name="L"),
        "400": make_option(battery, "400", name="400 Wh", default=True),
        "625": make_option(battery, "625", "900", name="625 Wh"),
        "hub": make_option(motor, "hub", name="hub", default=True),
        "mid": make_option(motor, "mid", "1200", name="mid-drive"),
        "rack": make_option(extras, "rack", "150", name="rear rack"),
        "lights": make_option(extras, "lights", "80", name="lights"),
        "seat": make_option(extras, "seat", "300", name="child seat"),
    }
    bom_change(o["s"], "replace", parts["FRAME-M"], parts["FRAME-S"])
    bom_change(o["l"], "replace", parts["FRAME-M"], parts["FRAME-L"])
    bom_change(o["625"], "replace", parts["BATT-400"], parts["BATT-625"])
    bom_change(o["mid"], "replace", parts["MOTOR-HUB"], parts["MOTOR-MID"])
    bom_change(o["rack"], "add", parts["RACK"])
    bom_change(o["lights"], "add", parts["LIGHT"], quantity="2")
    bom_change(o["seat"], "add", parts["SEAT"])
    rule(bike, "requires", o["625"], o["mid"])
    rule(bike, "excludes", o["seat"], o["s"], message="Too small for a child seat.")
    rule(bike, "only_if", o["lights"], o["rack"])
    return bike, o


def ids(options, *codes):  # type: ignore[no-untyped-def]
    return [options[c].pk for c in codes]


def check(bike, options, *codes):  # type: ignore[no-untyped-def]
    return cfg.configuration_check(product=bike, option_ids=ids(options, *codes))


def test_defaults_are_valid(ebike):
    bike, o = ebike
    assert cfg.configuration_defaults(product=bike) == ids(o, "m", "400", "hub")
    assert check(bike, o, "m", "400", "hub") == []


def test_required_groups_and_choose_one(ebike):
    bike, o = ebike
    violations = check(bike, o, "s", "m", "400")
    assert [(v.code, v.message) for v in violations] == [
        ("one_only", "Choose only one option for “Frame”."),
        ("required", "Choose an option for “Motor”."),
    ]


def test_requires_violated_and_satisfied(ebike):
    bike, o = ebike
    [violation] = check(bike, o, "m", "625", "hub")
    assert violation.code == "requires"
    assert violation.message == "Rule “requires”: “Battery: 625 Wh” requires “Motor: mid-drive”."
    assert check(bike, o, "m", "625", "mid") == []


def test_excludes_violated_and_satisfied(ebike):
    bike, o = ebike
    [violation] = check(bike, o, "s", "400", "hub", "seat")
    assert violation.message == (
        "Rule “excludes”: “Extras: child seat” cannot be combined with “Frame: S”. "
        "Too small for a child seat."
    )
    assert check(bike, o, "l", "400", "hub", "seat") == []


def test_only_if_violated_and_satisfied(ebike):
    bike, o = ebike
    [violation] = check(bike, o, "m", "400", "hub", "lights")
    assert violation.message == (
        "Rule “only if”: “Extras: lights” is only available with “Extras: rear rack”."
    )
    assert check(bike, o, "m", "400", "hub", "lights", "rack") == []


def test_options_of_another_product_are_unknown(ebike, company_a):
    bike, o = ebike
    other = make_item(company_a, "OTHER", is_configurable=True)
    foreign = make_option(make_group(other, "g"), "x")
    violations = cfg.configuration_check(
        product=bike, option_ids=[*ids(o, "m", "400", "hub"), foreign.pk]
    )
    assert [v.code for v in violations] == ["unknown"]


def test_hints_name_the_rule_an_option_would_break(ebike):
    bike, o = ebike
    model = cfg.configuration_model(product=bike)
    hints = cfg.configuration_hints(model=model, option_ids=ids(o, "s", "400", "hub"))
    assert set(hints) == {o["625"].pk, o["lights"].pk, o["seat"].pk}


def test_price_is_list_price_plus_deltas_without_a_price_list(ebike):
    bike, o = ebike
    price = cfg.configuration_price(
        product=bike, option_ids=ids(o, "l", "625", "mid", "rack"), date=DAY
    )
    assert price.base == D("5999") and price.currency == "CNY"
    assert price.source.startswith("List price")
    assert [(opt.code, delta) for opt, delta in price.deltas] == [
        ("l", 100),
        ("625", 900),
        ("mid", 1200),
        ("rack", 150),
    ]
    assert price.total == D("8349")


def test_price_comes_from_the_default_price_list(ebike, company_a):
    bike, o = ebike
    prices = PriceList.unscoped.create(
        company=company_a, name="Retail", currency_id="CNY", is_default=True
    )
    PriceRule.objects.create(
        price_list=prices, product=bike, method=PriceRule.Method.FIXED, fixed_price=D("5499")
    )
    price = cfg.configuration_price(product=bike, option_ids=ids(o, "m", "400", "hub", "rack"))
    assert (price.base, price.total, price.source) == (
        D("5499"),
        D("5649"),
        "Price list “Retail”",
    )


def test_generated_bom_and_cost(ebike):
    bike, o = ebike
    chosen = ids(o, "l", "625", "mid", "rack", "lights")
    generated = cfg.configuration_bom(product=bike, option_ids=chosen, date=DAY)
    assert [(ln.component.sku, ln.quantity, ln.origin) for ln in generated.lines] == [
        ("FRAME-L", 1, "L"),
        ("BATT-625", 1, "625 Wh"),
        ("MOTOR-MID", 1, "mid-drive"),
        ("WHEEL", 2, ""),
        ("RACK", 1, "rear rack"),
        ("LIGHT", 2, "lights"),
    ]
    cost = cfg.configuration_cost(generated=generated, date=DAY)
    assert cost.total == 300 + 1200 + 1500 + 200 + 60 + 40


def test_remove_change(ebike, company_a):
    bike, o = ebike
    belt = make_option(make_group(bike, "wheels", required=False, sequence=50), "no-wheels")
    from xietong.product.models import Product

    bom_change(belt, "remove", Product.unscoped.get(sku="WHEEL"))
    generated = cfg.configuration_bom(
        product=bike, option_ids=[*ids(o, "m", "400", "hub"), belt.pk]
    )
    assert "WHEEL" not in [ln.component.sku for ln in generated.lines]


def test_configured_item(ebike, company_a, users_a):
    bike, o = ebike
    rep = users_a["sales_rep"]
    item = cfg.configured_item_create(
        company=company_a,
        actor=rep,
        product=bike,
        option_ids=ids(o, "l", "625", "mid", "rack", "lights"),
        date=DAY,
    )
    assert item.description == (
        "E-bike City 500 — frame L, battery 625 Wh, motor mid-drive, rear rack, lights"
    )
    assert (item.price, item.cost, item.currency_id) == (D("8429"), D("3300"), "CNY")
    assert [row["sku"] for row in item.bom] == [
        "FRAME-L",
        "BATT-625",
        "MOTOR-MID",
        "WHEEL",
        "RACK",
        "LIGHT",
    ]
    assert set(item.options.values_list("code", flat=True)) == {"l", "625", "mid", "rack", "lights"}
    assert item.created_by == rep


def test_configured_item_refuses_violations_and_changes_nothing(ebike, company_a, company_b):
    bike, o = ebike
    with pytest.raises(ValidationError) as exc:
        cfg.configured_item_create(
            company=company_a, actor=None, product=bike, option_ids=ids(o, "s", "625", "hub")
        )
    assert exc.value.message_dict["options"] == [
        "Rule “requires”: “Battery: 625 Wh” requires “Motor: mid-drive”."
    ]
    with pytest.raises(ValidationError) as exc:
        cfg.configured_item_create(
            company=company_b, actor=None, product=bike, option_ids=ids(o, "m", "400", "hub")
        )
    assert "product" in exc.value.message_dict
    plain = make_item(company_a, "PLAIN")
    with pytest.raises(ValidationError) as exc:
        cfg.configured_item_create(company=company_a, actor=None, product=plain, option_ids=[])
    assert exc.value.message_dict == {"product": ["PLAIN is not a configurable product."]}
    assert not ConfiguredItem.unscoped.exists()
