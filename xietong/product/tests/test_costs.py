"""Costs: the standard cost service (history + audit), the moving average inventory will call
(weighted with the on-hand quantity, history), and the cost history selector."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xietong.core.models import AuditEntry
from xietong.core.tenancy import company_scope
from xietong.product import selectors, services
from xietong.product.models import CostRecord, Product
from xietong.product.tests.catalog_factories import make_product

pytestmark = pytest.mark.django_db


def test_standard_cost_is_set_with_history_and_audit(company_a, users_a):
    planner = users_a["planner"]
    product = make_product(company_a, "FRAME")
    services.product_cost_set(
        product=product, actor=planner, cost=Decimal("120.5"), date=dt.date(2026, 1, 1)
    )
    record = services.product_cost_set(
        product=product,
        actor=planner,
        cost=Decimal("118"),
        date=dt.date(2026, 2, 1),
        reason="New supplier",
    )
    assert record.kind == CostRecord.Kind.STANDARD and record.reason == "New supplier"
    assert product.standard_cost == Decimal("118")
    assert Product.unscoped.get(pk=product.pk).standard_cost == Decimal("118")
    with company_scope(company_a):
        history = list(selectors.product_cost_history(product=product))
    assert [(r.date, r.cost) for r in history] == [
        (dt.date(2026, 2, 1), Decimal("118")),
        (dt.date(2026, 1, 1), Decimal("120.5")),
    ]
    assert history[1].reason == "Standard cost set"
    changes = [
        e.changes_dict["standard_cost"]
        for e in AuditEntry.objects.get_for_object(product).order_by("timestamp")
        if e.action == AuditEntry.Action.UPDATE
    ]
    assert changes == [["0.000000", "120.5"], ["120.500000", "118"]]
    assert {e.actor for e in AuditEntry.objects.get_for_object(product)[:2]} == {planner}
    entries = AuditEntry.objects.filter(content_type__model="costrecord", actor=planner)
    assert entries.count() == 2 and {e.company_id for e in entries} == {company_a.pk}


@pytest.mark.parametrize("cost", [Decimal("-1"), "abc", Decimal("1e20")])
def test_bad_costs_change_nothing(company_a, cost):
    product = make_product(company_a, "FRAME")
    with pytest.raises(ValidationError) as exc:
        services.product_cost_set(product=product, actor=None, cost=cost)
    assert "cost" in exc.value.message_dict
    assert not CostRecord.unscoped.exists()
    assert Product.unscoped.get(pk=product.pk).standard_cost == 0


def test_moving_average_is_weighted_by_the_stock_on_hand(company_a):
    product = make_product(company_a, "TYRE")
    first = services.product_average_cost_update(
        product=product, quantity_in=Decimal(10), unit_cost=Decimal(5), on_hand=Decimal(0)
    )
    assert first.cost == Decimal(5) and first.kind == CostRecord.Kind.AVERAGE
    second = services.product_average_cost_update(
        product=product, quantity_in=Decimal(10), unit_cost=Decimal(7), on_hand=Decimal(10)
    )
    assert second.cost == Decimal(6)
    third = services.product_average_cost_update(
        product=product, quantity_in=Decimal(1), unit_cost=Decimal(1), on_hand=Decimal(2)
    )
    assert third.cost == Decimal("4.333333")  # (2 × 6 + 1 × 1) / 3, kept to 6 decimals
    assert "Receipt of 1 at 1 (on hand 2)" in third.reason
    # Negative stock (issued before receipt): the receipt's cost becomes the average.
    fourth = services.product_average_cost_update(
        product=product, quantity_in=Decimal(4), unit_cost=Decimal(9), on_hand=Decimal(-3)
    )
    assert fourth.cost == Decimal(9)
    product.refresh_from_db()
    assert product.average_cost == Decimal(9)
    assert product.standard_cost == 0  # untouched
    assert CostRecord.unscoped.filter(product=product, kind="average").count() == 4


@pytest.mark.parametrize(
    "fields,field",
    [
        ({"quantity_in": Decimal(0)}, "quantity_in"),
        ({"quantity_in": Decimal(-2)}, "quantity_in"),
        ({"unit_cost": Decimal(-1)}, "unit_cost"),
        ({"on_hand": "lots"}, "on_hand"),
    ],
)
def test_average_update_refuses_bad_input(company_a, fields, field):
    product = make_product(company_a, "TYRE")
    arguments = {
        "quantity_in": Decimal(1),
        "unit_cost": Decimal(1),
        "on_hand": Decimal(0),
        **fields,
    }
    with pytest.raises(ValidationError) as exc:
        services.product_average_cost_update(product=product, **arguments)
    assert field in exc.value.message_dict
    assert not CostRecord.unscoped.exists()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    receipts=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=500),
            st.decimals(
                min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False
            ),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_average_equals_stock_value_over_quantity(company_a, receipts):
    """Receiving only (no issues), the average is the value of all receipts over their quantity,
    up to the rounding to six decimals at each step."""
    product = Product.unscoped.filter(company=company_a, sku="AVG").first() or make_product(
        company_a, "AVG"
    )
    Product.unscoped.filter(pk=product.pk).update(average_cost=0)
    on_hand = Decimal(0)
    value = Decimal(0)
    for quantity, cost in receipts:
        record = services.product_average_cost_update(
            product=product, quantity_in=Decimal(quantity), unit_cost=cost, on_hand=on_hand
        )
        on_hand += quantity
        value += quantity * cost
    assert abs(record.cost - value / on_hand) <= Decimal("0.000001") * len(receipts)
    assert min(c for _q, c in receipts) <= record.cost <= max(c for _q, c in receipts)
