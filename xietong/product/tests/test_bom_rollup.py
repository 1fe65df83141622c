"""Cost roll-up on a hand-computed example: material, labour (setup amortised over the BOM
quantity), overhead, the per-level breakdown, and writing the result as standard cost."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from xietong.core.models import AuditEntry
from xietong.product import bom as svc
from xietong.product.models import CostRecord, Product
from xietong.product.tests.bom_factories import (
    line,
    make_bom,
    make_item,
    make_routing,
    make_work_center,
)

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2026, 11, 26)


@pytest.fixture
def bike(company_a):  # type: ignore[no-untyped-def]
    """BIKE, made in batches of 10: per batch 10 FRAME, 20 WHEEL and 500 g GREASE; assembly
    takes 60 min setup + 30 min per bike at ASM (48/h labour, 12/h overhead).
    FRAME: 2 m TUBE (+10 % scrap, 15/m) and 0.2 kg PAINT (50/kg); welding 6 min setup + 24 min
    per frame at WELD (60/h, 30/h). WHEEL is bought at 80, GREASE at 40/kg.

    By hand: FRAME = 2×1.1×15 + 0.2×50 = 43 material, 0.5 h → 30 labour, 15 overhead = 88.
    BIKE = 43 + 2×80 + 0.05×40 = 205 material; labour 30 + 0.6 h×48 = 58.8; overhead
    15 + 0.6 h×12 = 22.2; total 286."""
    weld = make_work_center(company_a, "WELD", cost="60", overhead="30")
    asm = make_work_center(company_a, "ASM", cost="48", overhead="12")
    tube = make_item(company_a, "TUBE", uom="m", cost="15")
    paint = make_item(company_a, "PAINT", uom="kg", cost="50")
    wheel = make_item(company_a, "WHEEL", cost="80")
    grease = make_item(company_a, "GREASE", uom="kg", cost="40")
    frame = make_item(company_a, "FRAME", supply=Product.Supply.MAKE)
    bike = make_item(company_a, "BIKE", supply=Product.Supply.MAKE)
    make_bom(company_a, frame, [line(tube, "2", scrap="10"), line(paint, "0.2")])
    make_routing(company_a, frame, [(weld, "6", "24")])
    make_bom(
        company_a,
        bike,
        [line(frame, "10"), line(wheel, "20"), line(grease, "500", uom="g")],
        quantity="10",
    )
    make_routing(company_a, bike, [(asm, "60", "30")])
    return bike


def test_rollup_by_hand(bike):
    rollup = svc.bom_cost_rollup(product=bike, date=DAY)
    assert (rollup.cost.material, rollup.cost.labour, rollup.cost.overhead) == (
        205,
        D("58.8"),
        D("22.2"),
    )
    assert rollup.total == 286
    assert [
        (c.component.sku, c.quantity_per, c.unit_cost, c.extended, c.rolled_up)
        for c in rollup.lines
    ] == [
        ("FRAME", 1, 88, 88, True),
        ("WHEEL", 2, 80, 160, False),
        ("GREASE", D("0.05"), 40, 2, False),
    ]
    [op] = rollup.operations
    assert (op.work_center, op.hours, op.labour, op.overhead) == (
        "ASM",
        D("0.6"),
        D("28.8"),
        D("7.2"),
    )
    levels = [(lv.level, lv.material, lv.labour, lv.overhead) for lv in rollup.levels]
    assert levels == [(0, 0, D("28.8"), D("7.2")), (1, 162, 30, 15), (2, 43, 0, 0)]
    assert sum(lv.total for lv in rollup.levels) == rollup.total


def test_rollup_of_a_bought_item_is_its_standard_cost(company_a):
    wheel = make_item(company_a, "WHEEL", cost="80")
    rollup = svc.bom_cost_rollup(product=wheel, date=DAY)
    assert rollup.bom is None and rollup.total == 80 and rollup.lines == []


def test_rollup_of_every_product_at_once(bike, company_a, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        costs = svc.bom_cost_rollup_all(company=company_a, date=DAY)
    by_sku = {Product.unscoped.get(pk=pk).sku: cost.total for pk, cost in costs.items()}
    assert by_sku == {"FRAME": 88, "BIKE": 286}


def test_rollup_with_phantom_is_the_same_as_without(company_a):
    bolt = make_item(company_a, "BOLT", cost="0.5")
    kit = make_item(company_a, "KIT")
    top = make_item(company_a, "TOP")
    make_bom(company_a, kit, [line(bolt, "4")], kind="phantom")
    make_bom(company_a, top, [line(kit, "2"), line(bolt, "1")])
    assert svc.bom_cost_rollup(product=top, date=DAY).total == D("4.5")


def test_rollup_lines_of_a_generated_bom(bike, company_a):
    frame = Product.unscoped.get(sku="FRAME")
    rollup = svc.bom_cost_rollup_lines(
        product=bike, lines=[(frame.pk, D("1"), frame.uom_id, D("0"))], date=DAY
    )
    # 88 for the frame + the bike's own assembly: 1 h setup on a lot of 1 → 1.5 h × 60/h.
    assert rollup.total == 88 + D("1.5") * 60


def test_apply_writes_standard_costs_and_history(bike, company_a, users_a):
    planner = users_a["planner"]
    changes = svc.bom_cost_rollup_apply(company=company_a, actor=planner, product=bike, date=DAY)
    assert {Product.unscoped.get(pk=pk).sku: (old, new) for pk, old, new in changes} == {
        "FRAME": (0, 88),
        "BIKE": (0, 286),
    }
    bike.refresh_from_db()
    assert bike.standard_cost == 286
    record = CostRecord.unscoped.get(product=bike)
    assert (record.kind, record.cost, record.date) == ("standard", 286, DAY)
    entry = AuditEntry.objects.get_for_object(bike).filter(action=AuditEntry.Action.UPDATE).get()
    assert entry.actor == planner and "standard_cost" in entry.changes_dict
    # A second roll-up changes nothing.
    assert svc.bom_cost_rollup_apply(company=company_a, actor=planner, date=DAY) == []


def test_apply_over_the_whole_catalogue_in_bulk(company_a):
    parts = [make_item(company_a, f"P{i}", cost="1") for i in range(3)]
    for i in range(205):
        make_bom(company_a, make_item(company_a, f"T{i:03d}"), [line(parts[i % 3], str(i + 1))])
    changes = svc.bom_cost_rollup_apply(company=company_a, actor=None, date=DAY)
    assert len(changes) == 205
    assert Product.unscoped.get(sku="T204").standard_cost == 205
    assert CostRecord.unscoped.filter(company=company_a).count() == 205


def test_apply_refuses_another_companys_product(bike, company_b):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        svc.bom_cost_rollup_apply(company=company_b, actor=None, product=bike)
