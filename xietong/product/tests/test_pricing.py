"""`price_for`: which rule wins (variant > product > category depth > all; customer group; quantity
breaks; validity dates; sequence), how the price is computed (fixed, discount on list price plus
variant extra, cost plus margin; sales units; the list's currency), the explanation, and the
price-list and rule services (validation, company scoping, default list, audit)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from xietong.core.models import AuditEntry
from xietong.core.money import Money
from xietong.core.services import exchange_rate_create
from xietong.product import pricing, services
from xietong.product.models import PriceList, PriceRule
from xietong.product.pricing import price_for
from xietong.product.tests.catalog_factories import (
    make_attribute,
    make_category,
    make_group,
    make_party,
    make_price_list,
    make_product,
    make_rule,
    unit,
)

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 3, 15)
FIXED, DISCOUNT, COST_PLUS = (
    PriceRule.Method.FIXED,
    PriceRule.Method.DISCOUNT,
    PriceRule.Method.COST_PLUS,
)


@pytest.fixture
def shop(company_a):
    """Bikes > E-bikes > Cargo; an e-bike (list 1000, cost 600) with a red variant (+50);
    dealers and retail groups; a default CNY list."""
    bikes = make_category(company_a, "Bikes")
    ebikes = make_category(company_a, "E-bikes", bikes)
    cargo = make_category(company_a, "Cargo", ebikes)
    product = make_product(company_a, "EB-1", category=cargo, list_price=Decimal("1000"))
    services.product_cost_set(product=product, actor=None, cost=Decimal("600"))
    colour = make_attribute(company_a, "Colour", [("RED", "Red"), ("BLUE", "Blue")])
    red, blue = services.variants_generate(
        product=product,
        actor=None,
        values=list(colour.values.order_by("code")),
        price_extras={colour.values.get(code="RED").pk: Decimal(50)},
    )[::-1]
    assert red.sku == "EB-1-RED"
    standard = make_price_list(company_a, "Standard", is_default=True)
    dealers, retail = make_group(company_a, "dealers"), make_group(company_a, "retail")
    return {
        "bikes": bikes,
        "ebikes": ebikes,
        "cargo": cargo,
        "product": product,
        "red": red,
        "blue": blue,
        "list": standard,
        "dealers": dealers,
        "retail": retail,
        "dealer": make_party(company_a, "D1", group=dealers),
        "walk_in": make_party(company_a, "W1"),
    }


def price(shop, *, qty="1", party=None, variant=None, date=DAY, **kwargs):
    return price_for(
        product=shop["product"],
        party=party,
        quantity=Decimal(qty),
        date=date,
        variant=variant,
        **kwargs,
    )


def text(result) -> str:
    return "\n".join(result.explanation)


def test_without_rules_the_list_price_applies(shop):
    result = price(shop)
    assert result.unit_price == Money("1000", "CNY")
    assert result.rule is None
    assert result.price_list == shop["list"]
    assert "the company default" in text(result)
    assert "No rule applies, so the list price is used." in result.explanation
    with_extra = price(shop, variant=shop["red"])
    assert with_extra.unit_price == Money("1050", "CNY")
    assert "variant extra" in text(with_extra)


def test_specificity_variant_over_product_over_category_depth_over_all(shop):
    lst = shop["list"]
    everything = make_rule(lst, method=DISCOUNT, discount_percent=Decimal(1))
    top = make_rule(lst, category=shop["bikes"], method=DISCOUNT, discount_percent=Decimal(2))
    assert price(shop).rule == top
    assert "a category rule is more specific than a rule for all products" in text(price(shop))

    deeper = make_rule(lst, category=shop["ebikes"], method=DISCOUNT, discount_percent=Decimal(3))
    result = price(shop)
    assert result.rule == deeper
    assert "its category “Bikes / E-bikes” is more specific than “Bikes”" in text(result)

    product_rule = make_rule(
        lst, product=shop["product"], method=DISCOUNT, discount_percent=Decimal(4)
    )
    assert price(shop).rule == product_rule
    assert price(shop).unit_price == Money("960", "CNY")

    variant_rule = make_rule(lst, variant=shop["red"], fixed_price=Decimal("999"))
    assert variant_rule.product == shop["product"]  # a variant rule also names its product
    red = price(shop, variant=shop["red"])
    assert red.rule == variant_rule and red.unit_price == Money("999", "CNY")
    assert "a variant rule is more specific than a product rule" in text(red)
    # Another variant falls back to the product rule, discounting list price + its extra.
    blue = price(shop, variant=shop["blue"])
    assert blue.rule == product_rule and blue.unit_price == Money("960", "CNY")
    assert everything.pk  # considered but never the winner here
    assert f"Rule #{everything.pk}" in text(blue)


def test_category_rules_reach_products_of_sub_categories_only(shop, company_a):
    lst = shop["list"]
    rule = make_rule(lst, category=shop["ebikes"], method=DISCOUNT, discount_percent=Decimal(10))
    assert price(shop).rule == rule
    elsewhere = make_product(company_a, "OTHER", category=shop["bikes"], list_price=Decimal(100))
    result = price_for(product=elsewhere, quantity=Decimal(1), date=DAY)
    assert result.rule is None and result.unit_price == Money("100", "CNY")
    assert "The price list has no rule for this product." in result.explanation


def test_customer_group_rule_before_a_rule_for_everybody(shop):
    lst = shop["list"]
    general = make_rule(lst, product=shop["product"], fixed_price=Decimal("900"))
    dealer_rule = make_rule(
        lst, product=shop["product"], customer_group=shop["dealers"], fixed_price=Decimal("800")
    )
    dealer_price = price(shop, party=shop["dealer"])
    assert dealer_price.rule == dealer_rule and dealer_price.unit_price.amount == Decimal(800)
    assert "it is for the party's customer group “Dealers”" in text(dealer_price)
    assert "customer group: Dealers" in text(dealer_price)

    walk_in = price(shop, party=shop["walk_in"])
    assert walk_in.rule == general
    assert "only for customer group “Dealers”" in text(walk_in)
    retail_party = make_party(shop["product"].company, group=shop["retail"])
    assert price(shop, party=retail_party).rule == general
    assert price(shop).rule == general  # no party at all


def test_quantity_breaks_pick_the_highest_minimum_reached(shop):
    lst = shop["list"]
    base = make_rule(lst, product=shop["product"], fixed_price=Decimal("100"))
    ten = make_rule(lst, product=shop["product"], min_qty=Decimal(10), fixed_price=Decimal("90"))
    fifty = make_rule(lst, product=shop["product"], min_qty=Decimal(50), fixed_price=Decimal("80"))
    assert price(shop, qty="9").rule == base
    assert price(shop, qty="10").rule == ten
    result = price(shop, qty="75")
    assert result.rule == fifty and result.unit_price == Money("80", "CNY")
    assert "its minimum quantity 50 is the highest reached" in text(result)
    assert "needs at least 50 (asked: 9)" in text(price(shop, qty="9"))


def test_group_match_outranks_quantity_breaks_and_specificity_outranks_groups(shop):
    lst = shop["list"]
    volume = make_rule(
        lst, product=shop["product"], min_qty=Decimal(100), fixed_price=Decimal("70")
    )
    group = make_rule(
        lst, product=shop["product"], customer_group=shop["dealers"], fixed_price=Decimal("85")
    )
    assert price(shop, party=shop["dealer"], qty="200").rule == group
    assert price(shop, party=shop["walk_in"], qty="200").rule == volume
    category_group = make_rule(
        lst, category=shop["cargo"], customer_group=shop["dealers"], fixed_price=Decimal("60")
    )
    assert price(shop, party=shop["dealer"]).rule == group  # product beats category
    assert category_group.pk


def test_validity_dates(shop):
    lst = shop["list"]
    base = make_rule(lst, product=shop["product"], fixed_price=Decimal("100"), sequence=20)
    promo = make_rule(
        lst,
        product=shop["product"],
        fixed_price=Decimal("75"),
        sequence=10,
        date_from=dt.date(2026, 3, 1),
        date_to=dt.date(2026, 3, 31),
    )
    inside = price(shop, date=dt.date(2026, 3, 31))
    assert inside.rule == promo
    assert "it comes first in the list (sequence 10 before 20)" in text(inside)
    after = price(shop, date=dt.date(2026, 4, 1))
    assert after.rule == base and "expired on 2026-03-31" in text(after)
    before = price(shop, date=dt.date(2026, 2, 28))
    assert before.rule == base and "valid only from 2026-03-01" in text(before)


def test_equal_rules_fall_back_to_sequence_then_creation(shop):
    lst = shop["list"]
    first = make_rule(lst, product=shop["product"], fixed_price=Decimal("10"))
    second = make_rule(lst, product=shop["product"], fixed_price=Decimal("20"))
    result = price(shop)
    assert result.rule == first
    assert f"rule #{first.pk} before #{second.pk}" in text(result)
    pricing.price_rule_update(rule=second, actor=None, sequence=5)
    assert price(shop).rule == second


def test_cost_plus_and_discount_methods(shop):
    lst = shop["list"]
    make_rule(lst, product=shop["product"], method=COST_PLUS, margin_percent=Decimal(25))
    result = price(shop)
    assert result.unit_price == Money("750", "CNY")
    assert "Standard cost 600.00 CNY per pc plus 25% margin → 750.00 CNY" in text(result)
    assert result.discount_percent == Decimal("25.00")  # 750 against a list price of 1000
    make_rule(lst, variant=shop["red"], method=DISCOUNT, discount_percent=Decimal("12.5"))
    red = price(shop, variant=shop["red"])
    assert red.unit_price == Money("918.75", "CNY")  # (1000 + 50) × 0.875
    assert red.list_price == Money("1050", "CNY")


def test_prices_are_per_sales_unit(company_a):
    make_price_list(company_a, "Standard", is_default=True)
    bolt = make_product(
        company_a, "BOLT", uom=unit("pc"), sales_uom=unit("dozen"), list_price=Decimal("0.25")
    )
    result = price_for(product=bolt, quantity=Decimal(2), date=DAY)
    assert result.unit_price == Money("3", "CNY")
    assert "1 dozen = 12 pc" in text(result)
    assert "2 dozen of BOLT" in text(result)


def test_the_list_currency_is_the_price_currency(shop, company_a):
    export = make_price_list(company_a, "Export", currency="EUR")
    make_rule(export, product=shop["product"], min_qty=Decimal(1000), fixed_price=Decimal(90))
    without_rate = price(shop, price_list=export, qty="1000")  # a fixed price needs no rate
    assert without_rate.unit_price == Money("90", "EUR") and without_rate.list_price is None
    assert without_rate.discount_percent is None
    make_rule(export, product=shop["product"], method=DISCOUNT, discount_percent=Decimal(0))
    with pytest.raises(ValidationError) as exc:
        price(shop, price_list=export)
    assert "No exchange rate for EUR" in exc.value.messages[0]
    exchange_rate_create(
        company=company_a, actor=None, currency="EUR", date=dt.date(2026, 3, 1), rate=Decimal("8")
    )
    result = price(shop, price_list=export)
    assert result.unit_price == Money("125", "EUR")  # 1000 CNY at 8 CNY per EUR
    assert result.currency == "EUR"
    assert "converted from CNY to EUR" in text(result)
    fixed = make_rule(
        export, product=shop["product"], min_qty=Decimal(5), fixed_price=Decimal("99")
    )
    hundred = price(shop, price_list=export, qty="5")
    assert hundred.rule == fixed and hundred.unit_price == Money("99", "EUR")
    eur_party = make_party(company_a, price_list=export)
    assert price(shop, party=eur_party).price_list == export


def test_which_price_list(shop, company_a):
    special = make_price_list(company_a, "Special")
    make_rule(special, fixed_price=Decimal("1"))
    party = make_party(company_a, price_list=special)
    result = price(shop, party=party)
    assert result.price_list == special and "the party's own" in text(result)
    pricing.price_list_archive(price_list=special, actor=None)
    party.refresh_from_db()
    fallback = price(shop, party=party)
    assert fallback.price_list == shop["list"]
    assert "The party's price list “Special” is archived." in fallback.explanation
    pricing.price_list_archive(price_list=shop["list"], actor=None)
    with pytest.raises(ValidationError) as exc:
        price(shop, party=party)
    assert "price_list" in exc.value.message_dict


def test_bad_questions_are_refused(shop, company_a, company_b):
    with pytest.raises(ValidationError) as exc:
        price(shop, qty="0")
    assert "quantity" in exc.value.message_dict
    with pytest.raises(ValidationError):
        price(shop, party=make_party(company_b))
    other = make_product(company_a, "OTHER")
    with pytest.raises(ValidationError):
        price_for(product=other, variant=shop["red"], quantity=Decimal(1), date=DAY)
    with pytest.raises(ValidationError):
        price(shop, price_list=make_price_list(company_b, "Theirs"))


def test_result_is_frozen(shop):
    result = price(shop)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.unit_price = Money("1", "CNY")  # type: ignore[misc]


def test_prices_for_answers_many_items_as_price_for_does_in_a_few_queries(
    shop, company_a, django_assert_max_num_queries
):
    """One call for many items: the same answers (a refusal is returned for its item, not
    raised), the price list, the categories and the rules read once whatever the count."""
    lst = shop["list"]
    tools = make_category(company_a, "Tools")
    drill = make_product(company_a, "DRILL", category=tools, list_price=Decimal("250"))
    bolt = make_product(
        company_a, "BOLT", uom=unit("pc"), sales_uom=unit("dozen"), list_price=Decimal("0.25")
    )
    make_rule(lst, category=shop["bikes"], method=DISCOUNT, discount_percent=Decimal(2))
    make_rule(lst, product=shop["product"], customer_group=shop["retail"], fixed_price=Decimal(9))
    make_rule(lst, product=shop["product"], min_qty=Decimal(5), fixed_price=Decimal("950"))
    make_rule(lst, variant=shop["red"], fixed_price=Decimal("999"))
    make_rule(lst, category=tools, method=COST_PLUS, margin_percent=Decimal(30))
    make_rule(lst, product=bolt, method=DISCOUNT, discount_percent=Decimal(10), min_qty=Decimal(2))
    questions = [
        (shop["product"], None, "1"),
        (shop["product"], None, "5"),
        (shop["product"], shop["red"], "1"),
        (shop["product"], shop["blue"], "7"),
        (drill, None, "3"),
        (bolt, None, "2"),
        (bolt, None, "0"),  # refused: its own answer only
        (drill, shop["red"], "1"),  # a variant of another product
    ]
    for party in (None, shop["dealer"], shop["walk_in"]):
        items = [
            pricing.PriceItem(product=product, variant=variant, quantity=Decimal(qty))
            for product, variant, qty in questions
        ]
        with django_assert_max_num_queries(5):  # list, categories, ancestors, rules, groups
            answers = pricing.prices_for(company=company_a, party=party, items=items, date=DAY)
        for (product, variant, qty), answer in zip(questions, answers, strict=True):
            try:
                one = price_for(
                    product=product, party=party, quantity=Decimal(qty), date=DAY, variant=variant
                )
            except ValidationError as exc:
                assert isinstance(answer, ValidationError)
                assert answer.message_dict == exc.message_dict
                continue
            assert not isinstance(answer, ValidationError)
            assert (answer.unit_price, answer.list_price, answer.rule, answer.explanation) == (
                one.unit_price,
                one.list_price,
                one.rule,
                one.explanation,
            )
            quiet = pricing.prices_for(
                company=company_a,
                party=party,
                items=[items[questions.index((product, variant, qty))]],
                date=DAY,
                explain=False,
            )[0]
            assert quiet.unit_price == one.unit_price and quiet.rule == one.rule
            assert quiet.explanation == ()
    pricing.price_list_archive(price_list=lst, actor=None)
    refused = pricing.prices_for(company=company_a, items=items[:2], date=DAY)
    assert all("price_list" in answer.message_dict for answer in refused)


# --- price list and rule services ----------------------------------------------------------------


def test_rules_refuse_another_companys_product_group_and_category(shop, company_b):
    lst = shop["list"]
    theirs = make_product(company_b, "EB-1")
    with pytest.raises(ValidationError) as exc:
        make_rule(lst, product=theirs, fixed_price=Decimal(1))
    assert "product" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        make_rule(lst, customer_group=make_group(company_b, "dealers"), fixed_price=Decimal(1))
    assert "customer_group" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        make_rule(lst, category=make_category(company_b, "Bikes"), fixed_price=Decimal(1))
    assert "category" in exc.value.message_dict
    assert not lst.rules.exists()


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"method": "fixed"}, "fixed_price"),
        ({"method": "discount", "discount_percent": Decimal(120)}, "discount_percent"),
        ({"method": "cost_plus", "margin_percent": Decimal(-1)}, "margin_percent"),
        ({"method": "barter", "fixed_price": Decimal(1)}, "method"),
        (
            {"fixed_price": Decimal(1), "date_from": DAY, "date_to": DAY - dt.timedelta(days=1)},
            "date_to",
        ),
        ({"fixed_price": Decimal(1), "min_qty": Decimal(-1)}, "min_qty"),
    ],
)
def test_rule_validation(shop, fields, field):
    with pytest.raises(ValidationError) as exc:
        make_rule(shop["list"], **fields)
    assert field in exc.value.message_dict


def test_rule_targets_one_thing(shop, company_a):
    with pytest.raises(ValidationError) as exc:
        make_rule(
            shop["list"], product=shop["product"], category=shop["bikes"], fixed_price=Decimal(1)
        )
    assert "category" in exc.value.message_dict
    other = make_product(company_a, "OTHER")
    with pytest.raises(ValidationError) as exc:
        make_rule(shop["list"], product=other, variant=shop["red"], fixed_price=Decimal(1))
    assert "variant" in exc.value.message_dict


def test_a_rule_keeps_only_its_methods_figure(shop):
    rule = make_rule(
        shop["list"], method=DISCOUNT, discount_percent=Decimal(5), fixed_price=Decimal(3)
    )
    assert rule.fixed_price is None and rule.discount_percent == Decimal(5)
    pricing.price_rule_update(rule=rule, actor=None, method=FIXED, fixed_price=Decimal(7))
    rule.refresh_from_db()
    assert rule.discount_percent is None and rule.fixed_price == Decimal(7)


def test_one_default_price_list_per_company(company_a, company_b):
    first = make_price_list(company_a, "First", is_default=True)
    second = make_price_list(company_a, "Second", is_default=True)
    first.refresh_from_db()
    assert not first.is_default and second.is_default
    theirs = make_price_list(company_b, "First", is_default=True)
    assert theirs.is_default
    with pytest.raises(ValidationError) as exc:
        make_price_list(company_a, "second")
    assert "name" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        make_price_list(company_a, "Third", currency="XXX")
    assert "currency" in exc.value.message_dict
    with pytest.raises(ValidationError):
        pricing.price_list_update(price_list=second, actor=None, active=False, is_default=True)
    pricing.price_list_update(price_list=second, actor=None, active=False)
    second.refresh_from_db()
    assert not second.active and not second.is_default


def test_currency_change_refused_while_fixed_prices_exist(shop):
    lst = shop["list"]
    pricing.price_list_update(price_list=lst, actor=None, currency="USD")
    make_rule(lst, fixed_price=Decimal(1))
    with pytest.raises(ValidationError) as exc:
        pricing.price_list_update(price_list=lst, actor=None, currency="EUR")
    assert "currency" in exc.value.message_dict
    assert PriceList.unscoped.get(pk=lst.pk).currency_id == "USD"


def test_rule_changes_are_audited_on_the_price_list(shop, users_a):
    accountant = users_a["accountant"]
    rule = pricing.price_rule_create(
        price_list=shop["list"], actor=accountant, fixed_price=Decimal(5), method=FIXED
    )
    pricing.price_rule_update(rule=rule, actor=accountant, fixed_price=Decimal(6))
    pricing.price_rule_delete(rule=rule, actor=accountant)
    entries = AuditEntry.objects.filter(
        content_type__model="pricerule", additional_data__price_list_id=shop["list"].pk
    )
    assert entries.count() == 3
    assert {e.company_id for e in entries} == {shop["list"].company_id}
    assert {e.actor for e in entries} == {accountant}
