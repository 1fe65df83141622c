"""`core.bulkwrite` on the plan's tables: what goes in column by column (binary COPY on
PostgreSQL, executemany on SQLite) reads back the same through the ORM — integers, NULLs in
some rows only, dates and NaT, booleans, decimals at the field's scale (negative, large, tiny),
strings of many lengths (Chinese too) — and the block of ids is not taken twice. (Rows of one
call may be stored in another order than given on PostgreSQL: grouped by layout.)"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest

from xietong.core import bulkwrite
from xietong.core.tenancy import company_scope
from xietong.manufacturing import planning
from xietong.manufacturing.models import PlanException, PlannedOrder, PlanRun
from xietong.product.tests.bom_factories import make_item

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def run(company_a):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        item = make_item(company_a, "PART")
    scenario = planning.live_scenario(company_a)
    plan_run = PlanRun.unscoped.create(
        company=company_a, scenario=scenario, kind=PlanRun.Kind.REGENERATIVE,
        start=dt.date(2027, 1, 4), bucket="week", horizon=4,
    )  # fmt: skip
    return plan_run, item


def test_columns_round_trip(run):  # type: ignore[no-untyped-def]
    plan_run, item = run
    n = 5
    first = bulkwrite.pk_block(PlannedOrder, n)
    ids = first + np.arange(n, dtype=np.int64)
    quantities = np.asarray([1.5, 1234567.123456, 0.000001, 7, 99.999999])
    days = np.asarray(["2027-01-04", "2027-02-28", "2026-12-31", "2027-01-05", "2028-02-29"],
                      dtype="datetime64[D]")  # fmt: skip
    bulkwrite.columns_insert(PlannedOrder, {
        "id": ids, "company_id": plan_run.company_id, "scenario_id": plan_run.scenario_id,
        "run_id": plan_run.pk, "product_id": np.full(n, item.pk),
        "supply": np.asarray(["make", "buy", "make", "buy", "make"], dtype=object),
        "release_date": days, "due_date": days + 3, "quantity": quantities,
        "state": "planned", "past_due": np.asarray([True, False, False, True, False]),
        "requisition_line_id": None, "production_order_id": None,
    }, n)  # fmt: skip
    rows = list(PlannedOrder.unscoped.filter(pk__in=ids.tolist()).order_by("pk"))
    assert [r.pk for r in rows] == ids.tolist()
    assert [r.quantity for r in rows] == [D("1.5"), D("1234567.123456"), D("0.000001"),
                                          D(7), D("99.999999")]  # fmt: skip
    assert [r.supply for r in rows] == ["make", "buy", "make", "buy", "make"]
    assert rows[1].release_date == dt.date(2027, 2, 28)
    assert rows[4].due_date == dt.date(2028, 3, 3)
    assert [r.past_due for r in rows] == [True, False, False, True, False]
    assert rows[0].requisition_line_id is None and rows[0].run_id == plan_run.pk
    # the next block starts after this one: a second write never collides
    assert bulkwrite.pk_block(PlannedOrder, 1) > ids[-1]

    # NULLs in some rows only: a float column with NaN for a nullable key
    more = bulkwrite.pk_block(PlannedOrder, 2) + np.arange(2, dtype=np.int64)
    bulkwrite.columns_insert(PlannedOrder, {
        "id": more, "company_id": plan_run.company_id, "scenario_id": plan_run.scenario_id,
        "run_id": np.asarray([plan_run.pk, np.nan]), "product_id": np.full(2, item.pk),
        "supply": np.asarray(["make", "buy"], dtype=object), "release_date": days[:2],
        "due_date": days[:2], "quantity": np.asarray([2.0, 3.25]), "state": "planned",
        "past_due": False, "requisition_line_id": None, "production_order_id": None,
    }, 2)  # fmt: skip
    assert list(PlannedOrder.unscoped.filter(pk__in=more.tolist()).order_by("pk").values_list(
        "run_id", "supply", "quantity")) == [(plan_run.pk, "make", D(2)),
                                             (None, "buy", D("3.25"))]  # fmt: skip

    bulkwrite.columns_insert(PlanException, {
        "company_id": plan_run.company_id, "scenario_id": plan_run.scenario_id,
        "run_id": plan_run.pk, "product_id": np.full(2, item.pk),
        "kind": np.asarray(["defer", "cancel"], dtype=object),
        "date": days[:2], "suggested_date": np.asarray(["NaT", "2027-03-01"], dtype="datetime64[D]"),
        "quantity": np.asarray([-12.5, 0.0]),
        "reference": np.asarray(["PO-1", "自行车 2027-01-04"], dtype=object),
    }, 2)  # fmt: skip
    found = list(PlanException.unscoped.filter(run=plan_run).order_by("pk"))
    assert [(e.kind, e.suggested_date, e.quantity, e.reference) for e in found] == [
        ("defer", None, D("-12.5"), "PO-1"),
        ("cancel", dt.date(2027, 3, 1), D(0), "自行车 2027-01-04"),
    ]


def test_objects_insert_then_rows_update(run):  # type: ignore[no-untyped-def]
    plan_run, item = run
    built = [
        PlannedOrder(company_id=plan_run.company_id, scenario_id=plan_run.scenario_id,
                     run=plan_run, product=item, supply=supply, quantity=quantity,
                     release_date=dt.date(2027, 1, 4), due_date=dt.date(2027, 1, 11))
        for supply, quantity in (("make", D("2.5")), ("buy", D("0.000001")), ("make", D(7)))
    ]  # fmt: skip
    made = bulkwrite.objects_insert(PlannedOrder, built)
    ids = [o.pk for o in made]
    assert len(set(ids)) == 3 and all(not o._state.adding for o in made)
    stored = list(PlannedOrder.unscoped.filter(pk__in=ids).order_by("pk"))
    assert [(o.pk, o.supply, o.quantity, o.state, o.past_due) for o in stored] == [
        (o.pk, o.supply, o.quantity, "planned", False) for o in sorted(made, key=lambda o: o.pk)
    ]
    # the keys came from the table's sequence: the ORM's next row does not collide
    later = PlannedOrder.unscoped.create(
        company_id=plan_run.company_id, scenario_id=plan_run.scenario_id, run=plan_run,
        product=item, supply="buy", quantity=D(1), release_date=dt.date(2027, 1, 4),
        due_date=dt.date(2027, 1, 4),
    )  # fmt: skip
    assert later.pk > max(ids)
    assert len(set(bulkwrite.pk_values(PlannedOrder, 4)) | {later.pk, *ids}) == 8

    bulkwrite.rows_update(PlannedOrder, ["state", "quantity", "due_date"], [
        (ids[0], "firmed", D("3.75"), dt.date(2027, 2, 1)),
        (ids[2], "planned", D("0.5"), dt.date(2027, 1, 12)),
    ])  # fmt: skip
    after = {o.pk: (o.state, o.quantity, o.due_date) for o in PlannedOrder.unscoped.filter(
        pk__in=[*ids, later.pk])}  # fmt: skip
    assert after == {
        ids[0]: ("firmed", D("3.75"), dt.date(2027, 2, 1)),
        ids[1]: ("planned", D("0.000001"), dt.date(2027, 1, 11)),  # not given: unchanged
        ids[2]: ("planned", D("0.5"), dt.date(2027, 1, 12)),
        later.pk: ("planned", D(1), dt.date(2027, 1, 4)),
    }
    bulkwrite.rows_update(PlannedOrder, ["state"], [])  # nothing to do


def test_a_column_of_the_wrong_length_is_refused(run):  # type: ignore[no-untyped-def]
    plan_run, item = run
    with pytest.raises(ValueError, match="3 values for 2 rows"):
        bulkwrite.columns_insert(PlanException, {"product_id": np.asarray([1, 2, 3])}, 2)
