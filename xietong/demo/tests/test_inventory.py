"""The demo's inventory step: a warehouse with stock, deliveries in every state, a count and
replenishment rules; stock equals its moves and its value equals the stock account."""

from __future__ import annotations

import pytest
from django.utils import timezone

from xietong.demo import catalogue, core, party, pricing
from xietong.demo import finance as demo_finance
from xietong.demo import inventory as demo_inventory
from xietong.demo.context import DemoContext
from xietong.finance.models import Line
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.models import CategoryValuation, InventoryCount, Picking, ReplenishmentRule
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.inventory.valuation import stock_value

pytestmark = pytest.mark.django_db


def test_inventory_step_fills_a_warehouse_whose_value_is_in_the_ledger() -> None:
    ctx = DemoContext(seed=1, size="small")
    for step in (core.run, party.run, catalogue.run, pricing.run, demo_finance.run,
                 demo_inventory.run):  # fmt: skip
        step(ctx)
    main = ctx.companies["main"]
    states = set(
        Picking.unscoped.filter(company=main, kind=Picking.Kind.DELIVERY).values_list(
            "state", flat=True
        )
    )
    assert {"done", "ready"} <= states
    assert InventoryCount.unscoped.filter(company=main, state="done").exists()
    assert ReplenishmentRule.unscoped.filter(company=main).count() == 12
    assert_stock_sound([main])
    assert_ledger_sound([main])
    default = CategoryValuation.unscoped.get(company=main, category__isnull=True)
    value = stock_value(company=main, as_of=timezone.localdate()).total_value
    lines = Line.unscoped.filter(account=default.stock_account, entry__state="posted")
    booked = sum((line.debit - line.credit for line in lines), 0)
    assert value > 0 and booked == value
