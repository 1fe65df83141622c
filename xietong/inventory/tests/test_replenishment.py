"""Replenishment rules and the reorder view, checked by hand against what a lot-for-lot MRP
run with min/max sizing would order."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from xietong.core.tenancy import company_scope
from xietong.inventory.models import ReplenishmentRule, Warehouse
from xietong.inventory.pickings import (
    delivery_create,
    internal_transfer_create,
    picking_confirm,
    receipt_create,
)
from xietong.inventory.replenishment import order_quantity, replenishment_view, rule_set
from xietong.inventory.tests.flows_helpers import D, make_product, make_warehouse, put_stock

TODAY = dt.date(2026, 3, 2)


@pytest.fixture
def scope(company_a):
    with company_scope(company_a):
        yield company_a


@pytest.fixture
def wh(scope):
    return make_warehouse(scope, reception_steps=Warehouse.ReceptionSteps.TWO)


def _flow(service, company, wh, product, quantity, days=0):
    [first, *_rest] = service(
        company=company,
        warehouse=wh,
        lines=[{"product": product, "quantity": D(quantity)}],
        scheduled_date=TODAY + dt.timedelta(days=days),
    )
    picking_confirm(picking=first)
    return first


def test_order_up_to_the_maximum_in_multiples(scope, wh):
    """On hand 5, reorder point 10, maximum 50, multiple 12: 45 missing, 48 ordered."""
    bolt = make_product(scope, "BOLT", purchase_lead_days=7)
    put_stock(scope, bolt, wh.stock_location, 5)
    rule = rule_set(company=scope, product=bolt, warehouse=wh, min_qty=D(10), max_qty=D(50),
                    multiple=D(12))  # fmt: skip
    [row] = replenishment_view(company=scope, today=TODAY)
    assert (row.rule, row.on_hand, row.incoming, row.outgoing, row.forecast) == (rule, 5, 0, 0, 5)
    assert (row.to_order, row.supply, row.lead_days) == (48, "buy", 7)
    assert (row.need_date, row.order_date, row.late) == (TODAY, TODAY, True)
    rule_set(company=scope, product=bolt, warehouse=wh, min_qty=D(10), max_qty=D(50),
             multiple=D(0))  # fmt: skip
    assert replenishment_view(company=scope, today=TODAY)[0].to_order == 45


def test_order_quantity_by_hand():
    for forecast, min_qty, max_qty, multiple, expected in (
        (5, 10, 50, 12, 48),
        (10, 10, 50, 12, 48),  # at the reorder point: order
        (11, 10, 50, 12, 0),
        (-7, 0, 20, 5, 30),  # backlog: 27 missing → 30
        (0, 0, 0, 0, 0),
        (3, 5, 5, D("0.5"), 2),
    ):
        got = order_quantity(forecast=D(forecast), min_qty=D(min_qty), max_qty=D(max_qty),
                             multiple=D(multiple))  # fmt: skip
        assert got == expected, (forecast, min_qty, max_qty, multiple)


def test_forecast_counts_confirmed_moves_crossing_the_warehouse(scope, wh):
    bolt = make_product(scope, "BOLT")
    put_stock(scope, bolt, wh.stock_location, 30)
    put_stock(scope, bolt, wh.input_location, 4)
    rule_set(company=scope, product=bolt, warehouse=wh, min_qty=D(10), max_qty=D(50))
    _flow(receipt_create, scope, wh, bolt, 20, days=3)  # supplier → input (+20); input → stock
    _flow(delivery_create, scope, wh, bolt, 40, days=5)
    internal_transfer_create(company=scope, from_location=wh.input_location,
                             to_location=wh.stock_location, scheduled_date=TODAY,
                             lines=[{"product": bolt, "quantity": D(4)}])  # fmt: skip
    receipt_create(company=scope, warehouse=wh, scheduled_date=TODAY,
                   lines=[{"product": bolt, "quantity": D(99)}])  # draft: not counted  # fmt: skip
    other = make_warehouse(scope, "W2")
    put_stock(scope, bolt, other.stock_location, 100)
    _flow(delivery_create, scope, other, bolt, 60)

    [row] = replenishment_view(company=scope, warehouse=wh, today=TODAY)
    assert (row.on_hand, row.incoming, row.outgoing, row.forecast) == (34, 20, 40, 14)
    assert row.to_order == 0 and row.need_date is None and row.order_date is None

    _flow(delivery_create, scope, wh, bolt, 4, days=10)
    [row] = replenishment_view(company=scope, warehouse=wh, today=TODAY)
    assert (row.forecast, row.to_order) == (10, 40)
    # 34 now, +20 on day 3, −40 on day 5 (14), −4 on day 10 (10 ≤ 10).
    assert row.need_date == TODAY + dt.timedelta(days=10)
    assert (row.order_date, row.late) == (TODAY + dt.timedelta(days=10), False)


def test_make_or_buy_and_when(scope, wh):
    frame = make_product(scope, "FRAME", supply="make", manufacturing_lead_days=3,
                         purchase_lead_days=30)  # fmt: skip
    put_stock(scope, frame, wh.stock_location, 30)
    rule_set(company=scope, product=frame, warehouse=wh, min_qty=D(10), max_qty=D(40),
             multiple=D(5))  # fmt: skip
    _flow(delivery_create, scope, wh, frame, 25, days=10)
    [row] = replenishment_view(company=scope, today=TODAY)
    assert (row.forecast, row.to_order, row.supply, row.lead_days) == (5, 35, "make", 3)
    assert row.need_date == TODAY + dt.timedelta(days=10)
    assert (row.order_date, row.late) == (TODAY + dt.timedelta(days=7), False)

    # Moves planned in the past count today.
    [row] = replenishment_view(company=scope, today=TODAY + dt.timedelta(days=20))
    assert row.need_date == row.order_date == TODAY + dt.timedelta(days=20)
    assert row.late is True


def test_rules_are_created_updated_and_archived(scope, wh):
    bolt, nut = make_product(scope, "BOLT"), make_product(scope, "NUT")
    first = rule_set(company=scope, product=bolt, warehouse=wh, min_qty=D(1), max_qty=D(2))
    again = rule_set(company=scope, product=bolt, warehouse=wh, min_qty=D(3), max_qty=D(9),
                     multiple=D(3))  # fmt: skip
    assert again.pk == first.pk
    assert (again.min_qty, again.max_qty, again.multiple) == (3, 9, 3)
    rule_set(company=scope, product=nut, warehouse=wh, min_qty=D(1), max_qty=D(2))
    assert [r.product.sku for r in replenishment_view(company=scope, today=TODAY)] == [
        "BOLT", "NUT",
    ]  # fmt: skip
    rule_set(company=scope, product=nut, warehouse=wh, min_qty=D(1), max_qty=D(2), active=False)
    assert [r.product.sku for r in replenishment_view(company=scope, today=TODAY)] == ["BOLT"]
    assert ReplenishmentRule.unscoped.count() == 2
    assert timezone.localdate()  # the view defaults to today
    assert len(replenishment_view(company=scope)) == 1


def test_rule_refusals_write_nothing(scope, wh, company_b):
    bolt = make_product(scope, "BOLT")
    fee = make_product(scope, "FEE", type="service")
    with company_scope(company_b):
        foreign = make_warehouse(company_b, "WB")
    rule_set(company=scope, product=bolt, warehouse=wh, min_qty=D(1), max_qty=D(2))
    before = list(ReplenishmentRule.unscoped.values_list("pk", "min_qty", "max_qty", "multiple"))
    for kwargs, field in (
        ({"min_qty": D(5), "max_qty": D(4)}, "max_qty"),
        ({"min_qty": D(-1), "max_qty": D(4)}, "min_qty"),
        ({"min_qty": D(1), "max_qty": D(4), "multiple": D(-2)}, "multiple"),
        ({"min_qty": 1.0, "max_qty": D(4)}, "min_qty"),
        ({"min_qty": D(1), "max_qty": "lots"}, "max_qty"),
        ({"min_qty": D(1), "max_qty": D(4), "product": fee}, "product"),
        ({"min_qty": D(1), "max_qty": D(4), "warehouse": foreign}, "warehouse"),
    ):
        kwargs = {"product": bolt, "warehouse": wh, **kwargs}
        with pytest.raises(ValidationError) as exc:
            rule_set(company=scope, **kwargs)
        assert field in exc.value.message_dict, kwargs
    assert list(ReplenishmentRule.unscoped.values_list("pk", "min_qty", "max_qty", "multiple")) == (
        before
    )
