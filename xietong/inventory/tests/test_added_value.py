"""Value added to done receipts (`valuation.moves_add_value`, landed costs): the share still in
stock raises the stock value (average cost, FIFO receipt layers), the share of the units gone
goes to cost of sales, and the stock account's balance stays Σ layer values."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from xietong.finance.models import Account, AccountType, Entry
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory import valuation
from xietong.inventory.models import ValuationLayer
from xietong.inventory.stock import move_create
from xietong.inventory.tests.test_valuation import DAY1, DAY2, DAY3, DAY4, Site
from xietong.product.models import Product

pytestmark = pytest.mark.django_db

D = Decimal


def _clearing(company):  # type: ignore[no-untyped-def]
    return Account.unscoped.create(
        company=company, code="2241", name="Landed costs clearing", type=AccountType.LIABILITY
    )


def _layer_sum(product) -> Decimal:  # type: ignore[no-untyped-def]
    total = ValuationLayer.unscoped.filter(product=product).aggregate(v=Sum("value"))["v"]
    return D(total or 0).quantize(D("0.01"))


def _sound(site, product) -> None:  # type: ignore[no-untyped-def]
    assert site.balance(site.books.stock) == _layer_sum(product)
    assert site.value(product=product) == _layer_sum(product)
    assert_ledger_sound([site.company])


def test_average_part_in_stock_raises_the_cost_the_rest_goes_to_cost_of_sales(company_a):
    site = Site(company_a)
    clearing = _clearing(company_a)
    product = site.product()
    (receipt,) = site.receive(product, "10", "10", day=DAY1)
    site.ship(product, "4", day=DAY2)  # 6 left, worth 60
    entry = valuation.moves_add_value(
        company=company_a, amounts={receipt: D("30")}, counterpart=clearing, date=DAY3,
        source_type="test.landed", source_id=7, memo="LC/1",
    )  # fmt: skip
    assert entry.state == Entry.State.POSTED and entry.date == DAY3
    assert (entry.source_type, entry.source_id, entry.ref) == ("test.landed", 7, "LC/1")
    added = ValuationLayer.unscoped.get(move=receipt, quantity=0)
    assert (added.value, added.entry_id, added.date) == (D("18.00"), entry.pk, DAY3)
    assert site.balance(clearing) == D("-30.00")
    assert site.balance(site.books.cogs) == D("52.00")  # 40 shipped + 12 for the units gone
    assert site.balance(site.books.stock) == D("78.00")
    product.refresh_from_db()
    assert product.average_cost == D("13")  # (60 + 18) / 6
    _sound(site, product)
    # The next delivery leaves at the new cost.
    site.ship(product, "6", day=DAY4)
    assert site.balance(site.books.stock) == D("0.00")
    _sound(site, product)


def test_average_all_in_stock_and_several_moves(company_a):
    site = Site(company_a)
    clearing = _clearing(company_a)
    first, second = site.product(), site.product()
    (a,) = site.receive(first, "10", "10", day=DAY1)
    (b,) = site.receive(first, "10", "20", day=DAY1)
    (c,) = site.receive(second, "4", "5", day=DAY1)
    valuation.moves_add_value(
        company=company_a, amounts={a: D("10"), c: D("2.50")}, counterpart=clearing, date=DAY2
    )
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.average_cost == D("15.5")  # (300 + 10) / 20
    assert second.average_cost == D("5.625")  # (20 + 2.5) / 4
    assert site.balance(site.books.cogs) == D("0.00")
    assert site.balance(clearing) == D("-12.50")
    assert site.balance(site.books.stock) == _layer_sum(first) + _layer_sum(second)
    assert b.pk  # untouched
    assert_ledger_sound([company_a])


def test_fifo_grows_the_receipt_layer_by_its_share_still_in_stock(company_a):
    site = Site(company_a, method="fifo")
    clearing = _clearing(company_a)
    product = site.product()
    (a,) = site.receive(product, "10", "10", day=DAY1)
    (b,) = site.receive(product, "10", "20", day=DAY1)
    site.ship(product, "15", day=DAY2)  # a is gone, 5 of b are left (100)
    valuation.moves_add_value(
        company=company_a, amounts={a: D("20"), b: D("10")}, counterpart=clearing, date=DAY3
    )
    layer_b = ValuationLayer.unscoped.get(move=b, quantity__gt=0)
    assert (layer_b.remaining_qty, layer_b.remaining_value) == (D("5"), D("105"))
    layer_a = ValuationLayer.unscoped.get(move=a, quantity__gt=0)
    assert (layer_a.remaining_qty, layer_a.remaining_value) == (D("0"), D("0"))
    assert site.balance(site.books.stock) == D("105.00")
    assert site.balance(site.books.cogs) == D("225.00")  # 200 shipped + 20 (a) + 5 (b)
    _sound(site, product)
    site.ship(product, "5", day=DAY4)  # takes b's remaining value, landed cost included
    assert site.balance(site.books.stock) == D("0.00")
    assert site.balance(site.books.cogs) == D("330.00")
    _sound(site, product)


def test_refusals_write_nothing(company_a, company_b):
    site = Site(company_a)
    clearing = _clearing(company_a)
    other = Site(company_b)
    foreign_account = _clearing(company_b)
    product = site.product()
    (receipt,) = site.receive(product, "10", "10", day=DAY1)
    (delivery,) = site.ship(product, "2", day=DAY2)
    draft = move_create(
        company=company_a, product=product, quantity=D("1"), from_location=site.supplier,
        to_location=site.stock, planned_date=DAY2,
    )  # fmt: skip
    consumable = site.product(type_=Product.Type.CONSUMABLE)
    (cons_receipt,) = site.receive(consumable, "3", "1", day=DAY1)
    (foreign,) = other.receive(other.product(), "1", "1", day=DAY1)
    before = (ValuationLayer.unscoped.count(), Entry.unscoped.count())
    cases = [
        ({receipt: D("0")}, clearing, "amounts"),
        ({receipt: D("-5")}, clearing, "amounts"),
        ({receipt: 1.5}, clearing, "amounts"),
        ({}, clearing, "amounts"),
        ({receipt: D("5")}, foreign_account, "counterpart"),
        ({delivery: D("5")}, clearing, "amounts"),
        ({draft: D("5")}, clearing, "amounts"),
        ({cons_receipt: D("5")}, clearing, "amounts"),
        ({foreign: D("5")}, clearing, "amounts"),
    ]
    for amounts, counterpart, field in cases:
        with pytest.raises(ValidationError) as caught:
            valuation.moves_add_value(
                company=company_a, amounts=amounts, counterpart=counterpart, date=DAY3
            )
        assert field in caught.value.message_dict, (amounts, caught.value)
    assert (ValuationLayer.unscoped.count(), Entry.unscoped.count()) == before
    product.refresh_from_db()
    assert product.average_cost == D("10")


def test_product_valuation_rows(company_a):
    site = Site(company_a)
    product = site.product()
    rows = valuation.product_valuation_rows(company=company_a, products=[product])
    assert rows[product.pk] == site.setup
    assert rows[product.pk].input_account == site.books.payable
