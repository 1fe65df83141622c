"""The MRP engine: hand-checked textbook cases, and Hypothesis comparisons with the reference
implementation (regenerative and net change). Pure functions: no database."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xietong.manufacturing.mrp.engine import (
    BomTable,
    DatedTable,
    ItemTable,
    PlanError,
    PlanInput,
    PlanResult,
    full_pegging,
    net_change,
    plan,
)
from xietong.manufacturing.mrp.reference import reference_plan

MON = dt.date(2026, 1, 5)  # a Monday


def week(n: int) -> dt.date:
    return MON + dt.timedelta(weeks=n)


def make_input(
    items: list[dict[str, Any]],
    *,
    bom: list[tuple] = (),  # type: ignore[assignment]
    receipts: list[tuple] = (),  # type: ignore[assignment]
    demands: list[tuple] = (),  # type: ignore[assignment]
    start: dt.date = MON,
    bucket: str = "week",
    horizon: int = 8,
    non_working: tuple[dt.date, ...] = (),
) -> PlanInput:
    columns = {
        "make_or_buy": "buy",
        "lead_time_days": 0,
        "lot_rule": "LFL",
        "lot_qty": 0,
        "multiple": 0,
        "min_qty": 0,
        "max_qty": 0,
        "safety_stock": 0,
        "on_hand": 0,
        "phantom": False,
    }
    table = ItemTable(
        code=[i["code"] for i in items],
        **{name: [i.get(name, default) for i in items] for name, default in columns.items()},
    )
    return PlanInput(
        items=table,
        bom=BomTable(
            parent=[b[0] for b in bom],
            component=[b[1] for b in bom],
            qty_per=[b[2] for b in bom],
            scrap_pct=[b[3] if len(b) > 3 else 0 for b in bom],
        ),
        receipts=DatedTable(
            item=[r[0] for r in receipts],
            date=[r[1] for r in receipts],
            qty=[r[2] for r in receipts],
            reference=[r[3] if len(r) > 3 else "" for r in receipts],
        ),
        demands=DatedTable(
            item=[d[0] for d in demands],
            date=[d[1] for d in demands],
            qty=[d[2] for d in demands],
            reference=[d[3] if len(d) > 3 else f"D{k}" for k, d in enumerate(demands)],
        ),
        start=start,
        bucket=bucket,
        horizon=horizon,
        non_working_days=non_working,
    )


def orders_of(result: PlanResult, item: str) -> list[tuple[dt.date, float]]:
    return [
        (row["due_date"], round(row["qty"], 6))
        for row in result.planned_orders.rows()
        if row["item"] == item
    ]


def exceptions_of(result: PlanResult) -> list[tuple]:
    return [
        (r["item"], r["kind"], r["date"], r["suggested_date"], round(r["qty"], 6), r["reference"])
        for r in result.exceptions.rows()
    ]


# --- textbook cases --------------------------------------------------------------------------

SINGLE_DEMANDS = [("X", week(1), 30), ("X", week(2), 10), ("X", week(3), 40)]
SINGLE_DEMANDS += [("X", week(5), 20), ("X", week(6), 15)]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [(1, 10), (2, 10), (3, 40), (5, 20), (6, 15)]),
        ({"lot_rule": "FOQ", "lot_qty": 25}, [(1, 25), (3, 50), (5, 25)]),
        ({"lot_rule": "EOQ", "lot_qty": 30}, [(1, 30), (3, 30), (5, 30), (6, 30)]),
        ({"lot_rule": "POQ", "lot_qty": 2}, [(1, 20), (3, 40), (5, 35)]),
        ({"lot_rule": "MINMAX", "min_qty": 10, "max_qty": 60}, [(1, 70), (5, 70)]),
        ({"min_qty": 15, "multiple": 10}, [(1, 20), (3, 40), (5, 20), (6, 20)]),
        ({"max_qty": 25}, [(1, 10), (2, 10), (3, 25), (3, 15), (5, 20), (6, 15)]),
    ],
    ids=["LFL", "FOQ", "EOQ", "POQ", "MINMAX", "min+multiple", "max splits"],
)
def test_single_item_lot_rules(params: dict[str, Any], expected: list[tuple[int, float]]) -> None:
    inp = make_input([{"code": "X", "on_hand": 20, **params}], demands=SINGLE_DEMANDS)
    result = plan(inp)
    assert orders_of(result, "X") == [(week(b), q) for b, q in expected]
    assert_matches_reference(inp, result)


def test_common_component_on_two_levels_is_netted_once() -> None:
    inp = make_input(
        [
            {"code": "A", "make_or_buy": "make", "lead_time_days": 7},
            {"code": "B", "make_or_buy": "make", "lead_time_days": 7},
            {"code": "C", "lead_time_days": 7},
        ],
        bom=[("A", "B", 2), ("A", "C", 1), ("B", "C", 3)],
        demands=[("A", week(3), 10, "SO-1")],
    )
    result = plan(inp)
    assert orders_of(result, "A") == [(week(3), 10)]
    assert orders_of(result, "B") == [(week(2), 20)]
    assert orders_of(result, "C") == [(week(1), 60), (week(2), 10)]
    peg = pegging_by_order(result)
    for (item, _due, _seq), targets in peg.items():
        assert list(targets) == [("demand", "A", week(3), "SO-1")], item
    assert [r["release_date"] for r in result.planned_orders.rows()] == [
        week(2),
        week(1),
        week(0),
        week(1),
    ]
    assert_matches_reference(inp, result)


def test_safety_stock_and_below_safety_stock_inside_the_lead_time() -> None:
    inp = make_input(
        [{"code": "X", "safety_stock": 10, "on_hand": 15}], demands=[("X", week(1), 10)]
    )
    result = plan(inp)
    assert orders_of(result, "X") == [(week(1), 5)]
    assert exceptions_of(result) == []

    inp = make_input(
        [{"code": "X", "safety_stock": 10, "on_hand": 5, "lead_time_days": 14}],
        demands=[("X", week(1), 10)],
    )
    result = plan(inp)
    assert orders_of(result, "X") == [(week(0), 5), (week(1), 10)]
    rows = result.planned_orders.rows()
    assert rows[0]["past_due"] and rows[0]["release_date"] == MON
    assert exceptions_of(result) == [
        ("X", "past_due", week(-2), MON, 5, ""),
        ("X", "past_due", week(-1), MON, 10, ""),
        ("X", "below_safety_stock", week(0), week(2), 15, ""),
    ]
    assert result.exceptions.order_id.tolist()[:2] == [1, 2]
    peg = pegging_by_order(result)
    # FIFO: on hand and the first order serve the demand; the safety stock is pegged last
    assert peg[("X", week(0), 0)] == {("demand", "X", week(1), "D0"): 5}
    assert peg[("X", week(1), 0)] == {("safety_stock", "X", None, ""): 10}
    assert_matches_reference(inp, result)


def test_scheduled_receipts_defer_cancel_expedite_past_due() -> None:
    inp = make_input(
        [{"code": "X"}, {"code": "Y"}],
        receipts=[
            ("X", week(4), 10, "PO-late"),
            ("X", week(0), 10, "PO-early"),
            ("Y", week(3), 10, "PO-y"),
            ("Y", MON - dt.timedelta(days=3), 4, "PO-old"),
        ],
        demands=[("X", week(2), 10), ("Y", week(1), 10)],
    )
    result = plan(inp)
    assert orders_of(result, "X") == []
    assert orders_of(result, "Y") == [(week(1), 6)]
    assert exceptions_of(result) == [
        ("X", "defer", week(0), week(2), 10, "PO-early"),
        ("X", "cancel", week(4), None, 10, "PO-late"),
        ("Y", "expedite", week(3), week(1), 10, "PO-y"),
        ("Y", "defer", MON - dt.timedelta(days=3), week(1), 4, "PO-old"),
        ("Y", "past_due", MON - dt.timedelta(days=3), MON, 4, "PO-old"),
    ]
    assert_matches_reference(inp, result)


def test_phantom_passes_through_after_its_own_stock() -> None:
    inp = make_input(
        [
            {"code": "A", "make_or_buy": "make", "lead_time_days": 7},
            {
                "code": "P",
                "make_or_buy": "make",
                "phantom": True,
                "on_hand": 5,
                "lead_time_days": 7,
            },
            {"code": "C"},
        ],
        bom=[("A", "P", 2), ("P", "C", 3)],
        demands=[("A", week(2), 10, "SO-9")],
    )
    result = plan(inp)
    assert orders_of(result, "A") == [(week(2), 10)]
    assert orders_of(result, "P") == []
    assert orders_of(result, "C") == [(week(1), 45)]
    assert [(r["item"], r["due_date"], r["qty"]) for r in result.pass_through.rows()] == [
        ("P", week(1), 15)
    ]
    assert pegging_by_order(result)[("C", week(1), 0)] == {("demand", "A", week(2), "SO-9"): 45}
    assert_matches_reference(inp, result)


def test_scrap_raises_component_requirement() -> None:
    inp = make_input(
        [{"code": "A", "make_or_buy": "make"}, {"code": "C"}],
        bom=[("A", "C", 2, 10)],
        demands=[("A", week(1), 10)],
    )
    assert orders_of(plan(inp), "C") == [(week(1), 22)]


def test_bom_of_a_bought_item_is_not_exploded() -> None:
    inp = make_input(
        [{"code": "A"}, {"code": "C"}], bom=[("A", "C", 2)], demands=[("A", week(1), 10)]
    )
    assert orders_of(plan(inp), "C") == []


def test_lead_time_in_calendar_days_and_working_days() -> None:
    items = [{"code": "X", "lead_time_days": 3}]
    inp = make_input(items, demands=[("X", dt.date(2026, 1, 13), 5)], bucket="day", horizon=14)
    (row,) = plan(inp).planned_orders.rows()
    assert (row["release_date"], row["due_date"]) == (dt.date(2026, 1, 10), dt.date(2026, 1, 13))
    weekend = (dt.date(2026, 1, 10), dt.date(2026, 1, 11))
    inp = make_input(
        items,
        demands=[("X", dt.date(2026, 1, 13), 5)],
        bucket="day",
        horizon=14,
        non_working=weekend,
    )
    result = plan(inp)
    (row,) = result.planned_orders.rows()
    assert row["release_date"] == dt.date(2026, 1, 8)
    assert_matches_reference(inp, result)


def test_demand_before_start_counts_in_first_bucket_and_beyond_horizon_is_ignored() -> None:
    inp = make_input(
        [{"code": "X"}],
        demands=[("X", MON - dt.timedelta(days=10), 3), ("X", week(9), 7)],
    )
    assert orders_of(plan(inp), "X") == [(MON, 3)]


def test_bom_cycle_names_the_items() -> None:
    inp = make_input(
        [{"code": "A"}, {"code": "B"}, {"code": "C"}],
        bom=[("A", "B", 1), ("B", "C", 1), ("C", "B", 1)],
    )
    with pytest.raises(PlanError) as error:
        plan(inp)
    assert error.value.code == "bom_cycle"
    assert set(error.value.items) == {"B", "C"}


def test_unknown_item_and_lot_rule() -> None:
    with pytest.raises(PlanError) as error:
        plan(make_input([{"code": "A"}], demands=[("Z", MON, 1)]))
    assert (error.value.code, error.value.table, error.value.row) == ("unknown_item", "demands", 0)
    with pytest.raises(PlanError) as error:
        make_input([{"code": "A", "lot_rule": "XYZ"}])
    assert error.value.code == "unknown_lot_rule"


# --- comparison with the reference -----------------------------------------------------------


def _key_of(result: PlanResult) -> dict[int, tuple]:
    keys = {}
    for table in (result.planned_orders, result.pass_through):
        for row in table.rows():
            keys[row["id"]] = (row["item"], row["due_date"], row["seq"])
    return keys


def pegging_by_order(result: PlanResult) -> dict[tuple, dict[tuple, float]]:
    keys = _key_of(result)
    out: dict[tuple, dict[tuple, float]] = defaultdict(dict)
    for peg in (result.pegging, result.pass_through_pegging):
        for row in peg.rows():
            target = (row["kind"], row["item"], row["date"], row["reference"])
            entry = out[keys[row["order_id"]]]
            entry[target] = entry.get(target, 0.0) + row["qty"]
    return {key: {t: round(q, 6) for t, q in entry.items()} for key, entry in out.items()}


def _close(a: dict, b: dict, tol: float = 2e-6) -> bool:
    keys = {k for k, v in a.items() if abs(v) > tol} | {k for k, v in b.items() if abs(v) > tol}
    return all(
        abs(a.get(k, 0.0) - b.get(k, 0.0)) <= tol * max(1.0, abs(a.get(k, 0.0))) for k in keys
    )


def assert_matches_reference(inp: PlanInput, result: PlanResult) -> None:
    ref = reference_plan(inp)
    start = inp.start
    got = [
        (r["item"], r["due_date"], r["seq"], r["release_date"], r["past_due"], round(r["qty"], 6))
        for t in (result.planned_orders, result.pass_through)
        for r in t.rows()
    ]
    want = [
        (o["item"], o["due"], o["seq"], max(o["release"], start), o["past_due"], round(o["qty"], 6))
        for o in ref["orders"]
        if not o["phantom"]
    ] + [
        (o["item"], o["due"], o["seq"], max(o["release"], start), o["past_due"], round(o["qty"], 6))
        for o in ref["orders"]
        if o["phantom"]
    ]
    assert got == want
    keys = _key_of(result)
    got_exc = sorted(
        (
            r["item"],
            r["kind"],
            r["date"],
            r["suggested_date"],
            round(r["qty"], 6),
            r["reference"],
            keys.get(r["order_id"]),
        )
        for r in result.exceptions.rows()
    )
    want_exc = sorted(
        (e[0], e[1], e[2], e[3], round(e[4], 6), e[5], e[6]) for e in ref["exceptions"]
    )
    assert got_exc == want_exc
    if result.pegged:
        got_peg = pegging_by_order(result)
        want_peg = ref["pegging"]
        for key in set(got_peg) | set(want_peg):
            assert _close(got_peg.get(key, {}), want_peg.get(key, {})), key


def assert_same_plan(a: PlanResult, b: PlanResult) -> None:
    for name in ("planned_orders", "pass_through"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert ta.id.tolist() == tb.id.tolist()
        assert ta.item.tolist() == tb.item.tolist()
        assert ta.due_date.tolist() == tb.due_date.tolist()
        assert ta.release_date.tolist() == tb.release_date.tolist()
        assert np.allclose(ta.qty, tb.qty, rtol=1e-9, atol=1e-9)
    ea = [(r | {"qty": round(r["qty"], 6)}) for r in a.exceptions.rows()]
    eb = [(r | {"qty": round(r["qty"], 6)}) for r in b.exceptions.rows()]
    assert ea == eb
    pa, pb = pegging_by_order(a), pegging_by_order(b)
    for key in set(pa) | set(pb):
        assert _close(pa.get(key, {}), pb.get(key, {})), key


@st.composite
def instances(draw: st.DrawFn, *, stockless: bool = False) -> PlanInput:
    n = draw(st.integers(1, 8))
    codes = [f"I{k}" for k in range(n)]
    bucket = draw(st.sampled_from(["day", "week"]))
    horizon = draw(st.integers(1, 12))
    span = horizon * (7 if bucket == "week" else 1)
    bom = []
    for p in range(n):
        for c in range(p + 1, n):
            if draw(st.integers(0, 3)) == 0:
                bom.append(
                    (
                        codes[p],
                        codes[c],
                        draw(st.sampled_from([1, 2, 3, 0.5])),
                        draw(st.sampled_from([0, 0, 10, 50])),
                    )
                )
    parents = {b[0] for b in bom}
    items = []
    for code in codes:
        rule = draw(st.sampled_from(["LFL", "FOQ", "EOQ", "POQ", "MINMAX"]))
        item: dict[str, Any] = {
            "code": code,
            "make_or_buy": "make" if code in parents and draw(st.integers(0, 4)) else "buy",
            "lead_time_days": draw(st.integers(0, 20)),
            "lot_rule": rule,
            "lot_qty": draw(
                st.integers(1, 4) if rule == "POQ" else st.sampled_from([0, 7, 25, 50])
            ),
            "multiple": draw(st.sampled_from([0, 0, 5, 10])),
            "safety_stock": draw(st.sampled_from([0, 0, 5, 12])),
            "on_hand": 0 if stockless else draw(st.sampled_from([0, 0, 3, 20, 60])),
            "phantom": code in parents and draw(st.integers(0, 5)) == 0,
        }
        if rule == "MINMAX":
            item["min_qty"] = draw(st.sampled_from([0, 10, 20]))
            item["max_qty"] = item["min_qty"] + draw(st.sampled_from([0, 15, 40]))
        else:
            item["min_qty"] = draw(st.sampled_from([0, 0, 8]))
            item["max_qty"] = draw(st.sampled_from([0, 0, 0, 30, 100]))
        items.append(item)
    day = st.integers(-10, span + 5).map(lambda d: MON + dt.timedelta(days=d))
    receipts = []
    if not stockless:
        receipts = draw(
            st.lists(st.tuples(st.sampled_from(codes), day, st.integers(1, 50)), max_size=4)
        )
        receipts = [(*r, f"R{k}") for k, r in enumerate(receipts)]
    demands = draw(st.lists(st.tuples(st.sampled_from(codes), day, st.integers(1, 40)), max_size=8))
    demands = [(*d, f"D{k % 5}") for k, d in enumerate(demands)]
    non_working: tuple[dt.date, ...] = ()
    if draw(st.booleans()):
        non_working = tuple(
            MON + dt.timedelta(days=d) for d in draw(st.sets(st.integers(-30, span), max_size=12))
        )
    return make_input(
        items,
        bom=bom,
        receipts=receipts,
        demands=demands,
        bucket=bucket,
        horizon=horizon,
        non_working=non_working,
    )


HYPOTHESIS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(instances())
def test_engine_equals_reference(inp: PlanInput) -> None:
    assert_matches_reference(inp, plan(inp))


def single_by_order(result: PlanResult) -> dict[tuple, dict[tuple, float]]:
    """Single-level pegging keyed by order (item, due, seq) → parent order key or target."""
    keys = _key_of(result)
    single = result.single_pegging
    assert single is not None
    out: dict[tuple, dict[tuple, float]] = defaultdict(dict)
    for order_id, parent_id, target, qty in zip(
        single.order_id, single.parent_id, single.target, single.qty, strict=True
    ):
        if parent_id:
            to: tuple = ("order", keys[int(parent_id)])
        else:
            t = single.targets
            date = t.date[target]
            to = (
                t.kind[target],
                t.item[target],
                None if np.isnat(date) else date,
                t.reference[target],
            )
        entry = out[keys[int(order_id)]]
        entry[to] = entry.get(to, 0.0) + float(qty)
    return {k: {t: round(q, 6) for t, q in v.items()} for k, v in out.items()}


def assert_single_composes_to_full(inp: PlanInput, single: PlanResult, full: PlanResult) -> None:
    """The full pegging composed from a single-level run equals the full run's pegging."""
    composed = full_pegging(single)
    got = pegging_by_order(
        PlanResult(
            planned_orders=single.planned_orders,
            pegging=composed,
            exceptions=single.exceptions,
            pass_through=single.pass_through,
            pass_through_pegging=full_pegging(single, single.pass_through.id.tolist()),
            input=inp,
        )
    )
    want = pegging_by_order(full)
    for key in set(got) | set(want):
        assert _close(got.get(key, {}), want.get(key, {})), key


@HYPOTHESIS
@given(instances())
def test_single_level_pegging_composes_to_full_pegging(inp: PlanInput) -> None:
    full, single = plan(inp), plan(inp, pegging="single")
    assert single.planned_orders.id.tolist() == full.planned_orders.id.tolist()
    assert len(single.pegging) == 0
    assert_single_composes_to_full(inp, single, full)


@HYPOTHESIS
@given(instances(stockless=True))
def test_pegging_sums(inp: PlanInput) -> None:
    result = plan(inp)
    qty = dict(
        zip(result.planned_orders.id.tolist(), result.planned_orders.qty.tolist(), strict=True)
    )
    pegged: dict[int, float] = defaultdict(float)
    per_demand: dict[tuple, float] = defaultdict(float)
    for row in result.pegging.rows():
        pegged[row["order_id"]] += row["qty"]
        item_of_order = result.planned_orders.item[row["order_id"] - 1]
        if row["kind"] == "demand" and row["item"] == item_of_order:
            per_demand[(row["item"], row["date"], row["reference"])] += row["qty"]
    for order_id, total in qty.items():  # every planned order is fully pegged
        assert pegged[order_id] == pytest.approx(total, rel=1e-9, abs=1e-6)
    # without stock or receipts, every demand inside the horizon is pegged by its item's orders
    # (phantom items pass through instead, so their demands are pegged one level down)
    phantom = set(inp.items.code[inp.items.phantom].tolist())
    wanted: dict[tuple, float] = defaultdict(float)
    end = np.datetime64(inp.start, "D") + len_days(inp)
    for item, date, q, ref in zip(
        inp.demands.item, inp.demands.date, inp.demands.qty, inp.demands.reference, strict=True
    ):
        if np.datetime64(int(date), "D") < end and item not in phantom:
            wanted[(str(item), np.datetime64(int(date), "D").astype(dt.date), str(ref))] += q
    for key, total in wanted.items():
        assert per_demand[key] == pytest.approx(total, rel=1e-9, abs=1e-6), key
    for key, total in per_demand.items():
        assert total <= wanted[key] + 1e-6


def len_days(inp: PlanInput) -> int:
    return int(inp.horizon) * (7 if inp.bucket == "week" else 1)


@st.composite
def changes(draw: st.DrawFn) -> tuple[PlanInput, PlanInput, list[str]]:
    before = draw(instances())
    codes = before.items.code.tolist()
    changed = draw(st.sets(st.sampled_from(codes), min_size=1, max_size=3))
    items = before.items
    on_hand = items.on_hand.copy()
    lot_qty = items.lot_qty.copy()
    for code in changed:
        k = codes.index(code)
        on_hand[k] = draw(st.sampled_from([0, 4, 30]))
        if items.lot_rule[k] != 3:
            lot_qty[k] = draw(st.sampled_from([0, 10, 40]))
    new_items = ItemTable(
        code=items.code,
        make_or_buy=items.make_or_buy,
        lead_time_days=items.lead_time_days,
        lot_rule=items.lot_rule,
        lot_qty=lot_qty,
        multiple=items.multiple,
        min_qty=items.min_qty,
        max_qty=items.max_qty,
        safety_stock=items.safety_stock,
        on_hand=on_hand,
        phantom=items.phantom,
    )
    dm = before.demands
    keep = [k for k in range(len(dm)) if dm.item[k] not in changed or draw(st.booleans())]
    span = len_days(before)
    extra = draw(
        st.lists(
            st.tuples(
                st.sampled_from(sorted(changed)),
                st.integers(-3, span + 3),
                st.integers(1, 30),
            ),
            max_size=3,
        )
    )
    demands = DatedTable(
        item=[dm.item[k] for k in keep] + [e[0] for e in extra],
        date=[
            dm.date[k].astype("datetime64[D]")
            if isinstance(dm.date[k], np.datetime64)
            else np.datetime64(int(dm.date[k]), "D")
            for k in keep
        ]
        + [np.datetime64(MON + dt.timedelta(days=e[1]), "D") for e in extra],
        qty=[dm.qty[k] for k in keep] + [e[2] for e in extra],
        reference=[dm.reference[k] for k in keep] + [f"N{j}" for j in range(len(extra))],
    )
    after = PlanInput(
        items=new_items,
        bom=before.bom,
        receipts=before.receipts,
        demands=demands,
        start=before.start,
        bucket=before.bucket,
        horizon=before.horizon,
        non_working_days=before.non_working_days,
    )
    return before, after, sorted(changed)


@HYPOTHESIS
@given(changes())
def test_net_change_equals_regenerative(case: tuple[PlanInput, PlanInput, list[str]]) -> None:
    before, after, changed = case
    previous = plan(before)
    assert_same_plan(net_change(after, previous, changed), plan(after))
    single = net_change(after, plan(before, pegging="single"), changed, pegging="single")
    regenerated = plan(after, pegging="single")
    a, b = single_by_order(single), single_by_order(regenerated)
    for key in set(a) | set(b):
        assert _close(a.get(key, {}), b.get(key, {})), key


def test_net_change_after_one_demand_line() -> None:
    items = [
        {"code": "A", "make_or_buy": "make", "lead_time_days": 7},
        {"code": "B", "make_or_buy": "make", "lead_time_days": 7},
        {"code": "C", "lead_time_days": 7, "lot_rule": "FOQ", "lot_qty": 50},
    ]
    bom = [("A", "C", 1), ("B", "C", 2)]
    before = make_input(items, bom=bom, demands=[("A", week(3), 10), ("B", week(4), 5)])
    after = make_input(items, bom=bom, demands=[("A", week(3), 60), ("B", week(4), 5)])
    previous = plan(before)
    result = net_change(after, previous, ["A"])
    assert sorted(result.replanned.tolist()) == ["A", "C"]  # B was not replanned
    assert orders_of(previous, "C") == [(week(2), 50)]
    assert orders_of(result, "A") == [(week(3), 60)]
    assert orders_of(result, "C") == [(week(2), 100)]
    assert_same_plan(result, plan(after))


def test_input_from_arrays_with_defaults() -> None:
    inp = PlanInput(
        items=ItemTable(code=np.array(["X"]), lead_time_days=[3]),
        bom=BomTable(),
        receipts=DatedTable(),
        demands=DatedTable(item=["X"], date=[dt.date(2026, 1, 13)], qty=[5], reference=["SO"]),
        start=np.datetime64("2026-01-05"),
        bucket="day",
        horizon=14,
        non_working_days=np.array(["2026-01-10", "2026-01-11"], dtype="datetime64[D]"),
    )
    (row,) = plan(inp).planned_orders.rows()
    assert (row["make_or_buy"], row["release_date"]) == ("buy", dt.date(2026, 1, 8))


# --- firm planned production and time fences ------------------------------------------------


def _with_firm(inp: PlanInput, firm: list[tuple], no_plan_before=None, firm_until=None):  # type: ignore[no-untyped-def]
    inp.firm = DatedTable(
        item=[f[0] for f in firm],
        date=[f[1] for f in firm],
        qty=[f[2] for f in firm],
        reference=[f[3] if len(f) > 3 else f"F{k}" for k, f in enumerate(firm)],
    )
    inp.no_plan_before = no_plan_before
    inp.firm_until = firm_until
    return inp


def _fenced_case() -> PlanInput:
    items = [
        {"code": "FG", "make_or_buy": "make", "lead_time_days": 7},
        {"code": "C"},
    ]
    demands = [("FG", week(1), 30, "SO1"), ("FG", week(2), 20, "SO2"), ("FG", week(3), 40, "SO3")]
    inp = make_input(items, bom=[("FG", "C", 2)], demands=demands)
    # frozen: weeks 0-1, slushy: weeks 2-3 (an entry in week 3 only)
    return _with_firm(
        inp, [("FG", week(1), 25, "MPS1"), ("FG", week(3), 40, "MPS3")], [2, 0], [4, 0]
    )


def test_firm_production_explodes_and_fences_block_new_orders() -> None:
    inp = _fenced_case()
    result = plan(inp)
    # week 1 is frozen: 5 short, no order, an expedite message; week 2 (slushy, no entry) is
    # planned for the 5 carried over plus its 20; week 3 holds a firm entry
    assert orders_of(result, "FG") == [(week(2), 25)]
    assert exceptions_of(result) == [("FG", "expedite", week(1), week(2), 5.0, "")]
    # the firm entries' components are required at their release (a week earlier)
    assert orders_of(result, "C") == [(week(0), 50), (week(1), 50), (week(2), 80)]
    peg = pegging_by_order(result)
    assert peg[("C", week(0), 0)] == {("firm", "FG", week(1), "MPS1"): 50.0}
    assert peg[("C", week(2), 0)] == {("firm", "FG", week(3), "MPS3"): 80.0}
    # the planned FG order serves the 5 the firm entry leaves of SO1, and SO2
    assert peg[("FG", week(2), 0)] == {
        ("demand", "FG", week(1), "SO1"): 5.0,
        ("demand", "FG", week(2), "SO2"): 20.0,
    }
    assert peg[("C", week(1), 0)] == {
        ("demand", "FG", week(1), "SO1"): 10.0,
        ("demand", "FG", week(2), "SO2"): 40.0,
    }
    assert_matches_reference(inp, result)


def test_firm_zero_in_the_slushy_zone_moves_the_need_to_the_liquid_zone() -> None:
    inp = _fenced_case()
    inp.firm = DatedTable(
        item=["FG", "FG", "FG"],
        date=[week(1), week(2), week(3)],
        qty=[25, 0, 40],
        reference=["MPS1", "MPS2", "MPS3"],
    )
    result = plan(inp)
    assert orders_of(result, "FG") == [(week(4), 25)]
    assert exceptions_of(result) == [("FG", "expedite", week(1), week(4), 25.0, "")]
    assert_matches_reference(inp, result)
    # without fences the firm entries only add supply: MRP plans the rest where it is short
    free = plan(_with_firm(_fenced_case(), [("FG", week(1), 25), ("FG", week(3), 40)]))
    assert orders_of(free, "FG") == [(week(1), 5), (week(2), 20)]
    assert exceptions_of(free) == []


def test_fences_of_the_wrong_length_are_refused() -> None:
    inp = _with_firm(_fenced_case(), [], [1], None)
    with pytest.raises(PlanError) as caught:
        plan(inp)
    assert caught.value.code == "bad_shape"


def test_net_change_with_firm_production_is_regenerative() -> None:
    before = _fenced_case()
    after = _fenced_case()
    after.demands.qty[2] = 70.0
    result = net_change(after, plan(before), ["FG"])
    assert_same_plan(result, plan(after))
    assert sorted(result.replanned.tolist()) == ["C", "FG"]


@st.composite
def instances_with_firm(draw: st.DrawFn) -> PlanInput:
    inp = draw(instances())
    codes = inp.items.code.tolist()
    span = int(inp.horizon) * (7 if inp.bucket == "week" else 1)
    day = st.integers(-10, span + 5).map(lambda d: MON + dt.timedelta(days=d))
    firm = draw(
        st.lists(
            st.tuples(st.sampled_from(codes), day, st.sampled_from([0, 5, 20, 35])), max_size=5
        )
    )
    n, T = len(codes), int(inp.horizon)
    fence = st.lists(st.integers(0, T), min_size=n, max_size=n)
    return _with_firm(
        inp,
        firm,
        draw(st.one_of(st.none(), fence)),
        draw(st.one_of(st.none(), fence)),
    )


@HYPOTHESIS
@given(instances_with_firm())
def test_engine_with_firm_production_equals_reference(inp: PlanInput) -> None:
    assert_matches_reference(inp, plan(inp))
    assert_single_composes_to_full(inp, plan(inp, pegging="single"), plan(inp))


# --- net change on grouped rows and the reusable context -------------------------------------


def _replace(inp: PlanInput, **changes: Any) -> PlanInput:
    fields = {
        name: getattr(inp, name)
        for name in (
            "items",
            "bom",
            "receipts",
            "demands",
            "start",
            "bucket",
            "horizon",
            "non_working_days",
        )
    }
    return PlanInput(**(fields | changes))


def _dated(rows: list[tuple]) -> DatedTable:
    return DatedTable(
        item=[r[0] for r in rows],
        date=[r[1] for r in rows],
        qty=[r[2] for r in rows],
        reference=[r[3] for r in rows],
    )


def _dated_rows(table: DatedTable) -> list[tuple]:
    return [
        (str(i), np.datetime64(int(d), "D"), float(q), str(r))
        for i, d, q, r in zip(table.item, table.date, table.qty, table.reference, strict=True)
    ]


def assert_same_rows(a: PlanResult, b: PlanResult) -> None:
    """Orders (with seq and past due), exceptions and single-level pegging row for row."""
    assert_same_plan(a, b)
    for name in ("planned_orders", "pass_through"):
        ta, tb = getattr(a, name), getattr(b, name)
        assert ta.seq.tolist() == tb.seq.tolist()
        assert ta.past_due.tolist() == tb.past_due.tolist()
    assert (a.single_pegging is None) == (b.single_pegging is None)
    if a.single_pegging is not None:

        def rows(s):  # type: ignore[no-untyped-def]
            return sorted(
                zip(
                    s.order_id.tolist(),
                    s.parent_id.tolist(),
                    s.target.tolist(),
                    np.round(s.qty, 6).tolist(),
                    strict=True,
                )
            )

        assert rows(a.single_pegging) == rows(b.single_pegging)
        ta, tb = a.single_pegging.targets, b.single_pegging.targets
        assert ta.kind.tolist() == tb.kind.tolist()
        assert ta.item.tolist() == tb.item.tolist()
        assert ta.reference.tolist() == tb.reference.tolist()


@st.composite
def edit_chains(draw: st.DrawFn) -> tuple[PlanInput, list[tuple[PlanInput, list[str]]]]:
    """An input, then 1-3 successive edits of its demand lines (quantity, date, a line deleted
    or inserted anywhere) or of an item's on hand, each with the items it changes."""
    inp = draw(instances())
    codes = inp.items.code.tolist()
    span = len_days(inp)
    steps = []
    current = inp
    for _step in range(draw(st.integers(1, 3))):
        rows = _dated_rows(current.demands)
        kind = draw(st.sampled_from(["qty", "date", "delete", "insert", "on_hand"]))
        if kind in ("qty", "date", "delete") and not rows:
            kind = "insert"
        changed: set[str] = set()
        items = current.items
        if kind == "on_hand":
            k = draw(st.integers(0, len(codes) - 1))
            on_hand = items.on_hand.copy()
            on_hand[k] = draw(st.sampled_from([0, 5, 50]))
            items = ItemTable(
                **{name: getattr(items, name) for name in items.__dataclass_fields__}
                | {"on_hand": on_hand}
            )
            changed.add(codes[k])
        else:
            row = draw(st.integers(0, max(len(rows) - 1, 0)))
            if kind == "qty":
                rows[row] = (rows[row][0], rows[row][1], rows[row][2] + 7, rows[row][3])
            elif kind == "date":
                day = np.datetime64(MON, "D") + draw(st.integers(-3, span + 3))
                rows[row] = (rows[row][0], day, rows[row][2], rows[row][3])
            elif kind == "delete":
                changed.add(rows[row][0])
                del rows[row]
            if kind in ("qty", "date"):
                changed.add(rows[row][0])
            if kind == "insert":
                item = draw(st.sampled_from(codes))
                day = np.datetime64(MON, "D") + draw(st.integers(-3, span + 3))
                at = draw(st.integers(0, len(rows)))
                rows.insert(at, (item, day, float(draw(st.integers(1, 30))), f"N{_step}"))
                changed.add(item)
        current = _replace(current, items=items, demands=_dated(rows))
        steps.append((current, sorted(changed)))
    return inp, steps


@HYPOTHESIS
@given(edit_chains(), st.sampled_from(["single", False]))
def test_chained_net_changes_equal_regenerative(case, pegging) -> None:  # type: ignore[no-untyped-def]
    """Net change on a net-change result (rows shared with the previous plans, demand lines
    renumbered) still equals a regenerative run, orders and pegging row for row."""
    inp, steps = case
    result = detected = plan(inp, pegging=pegging)
    for after, changed in steps:
        result = net_change(after, result, changed, pegging=pegging)
        regenerated = plan(after, pegging=pegging)
        assert_same_rows(result, regenerated)
        # not told what changed (a database read): found by comparing the inputs
        detected = net_change(after, detected, None, pegging=pegging)
        assert_same_rows(detected, regenerated)


def _grouped(inp: PlanInput) -> PlanInput:
    """The input with its demand and receipt lines grouped by item in item order, as the
    database reader writes them (lines of an item in their order)."""
    position = {code: n for n, code in enumerate(inp.items.code.tolist())}

    def group(table: DatedTable) -> DatedTable:
        rows = _dated_rows(table)
        return _dated(sorted(rows, key=lambda r: position[r[0]]))

    return _replace(inp, demands=group(inp.demands), receipts=group(inp.receipts))


@HYPOTHESIS
@given(edit_chains(), st.sampled_from(["single", False]))
def test_chained_net_changes_on_lines_grouped_by_item(case, pegging) -> None:  # type: ignore[no-untyped-def]
    """Lines grouped by item (a database read): an item's lines are compared with its previous
    lines, whatever was inserted or deleted before them; the result equals a regenerative run."""
    inp, steps = case
    result = plan(_grouped(inp), pegging=pegging)
    for after, _changed in steps:
        after = _grouped(after)
        result = net_change(after, result, None, pegging=pegging)
        assert_same_rows(result, plan(after, pegging=pegging))


def test_a_line_inserted_in_grouped_lines_replans_its_item_only() -> None:
    items = [{"code": c, "lead_time_days": 7} for c in "ABCD"]
    lines = [("A", week(2), 5, "SO-1"), ("B", week(3), 5, "SO-2"), ("C", week(3), 5, "SO-3"),
             ("D", week(4), 5, "SO-4")]  # fmt: skip
    before = make_input(items, demands=lines)
    after = make_input(items, demands=[*lines[:2], ("B", week(5), 7, "SO-5"), *lines[2:]])
    result = net_change(after, plan(before, pegging="single"), None, pegging="single")
    assert result.replanned.tolist() == ["B"]
    assert_same_rows(result, plan(after, pegging="single"))


def _two_level_case(qty_a: float = 10) -> PlanInput:
    items = [
        {"code": "A", "make_or_buy": "make", "lead_time_days": 7},
        {"code": "B", "make_or_buy": "make", "lead_time_days": 7},
        {"code": "C", "lead_time_days": 7, "lot_rule": "FOQ", "lot_qty": 50},
        {"code": "D", "lead_time_days": 7},
    ]
    bom = [("A", "C", 1), ("B", "C", 2), ("B", "D", 1)]
    demands = [("A", week(3), qty_a), ("B", week(4), 5), ("D", week(1), 3)]
    return make_input(items, bom=bom, demands=demands)


def test_net_change_reuses_the_context_and_replans_only_the_closure() -> None:
    before, after = _two_level_case(10), _two_level_case(60)
    previous = plan(before, pegging="single")
    result = net_change(after, previous, ["A"], pegging="single")
    assert result.context is previous.context
    assert sorted(result.replanned.tolist()) == ["A", "C"]
    assert orders_of(result, "C") == [(week(2), 100)]
    assert_same_rows(result, plan(after, pegging="single"))
    # and again on that result, back to the first input
    again = net_change(before, result, ["A"], pegging="single")
    assert again.context is previous.context
    assert_same_rows(again, plan(before, pegging="single"))
    assert_same_rows(again, previous)


def test_net_change_replans_items_whose_lines_changed_unnamed() -> None:
    before, after = _two_level_case(10), _two_level_case(60)
    result = net_change(after, plan(before, pegging="single"), [], pegging="single")
    assert sorted(result.replanned.tolist()) == ["A", "C"]
    assert_same_rows(result, plan(after, pegging="single"))


def test_a_reused_context_gives_identical_results() -> None:
    first, second = _two_level_case(10), _two_level_case(60)
    context = plan(first).context
    assert context is not None and context.matches(second)
    for pegging in (True, "single", False):
        reused = plan(second, pegging=pegging, context=context)
        assert reused.context is context
        assert_same_rows(reused, plan(second, pegging=pegging))
        assert pegging_by_order(reused) == pegging_by_order(plan(second, pegging=pegging))


def test_a_changed_bom_or_item_table_is_not_reused() -> None:
    base = _two_level_case(10)
    previous = plan(base, pegging="single")
    context = previous.context
    bom = base.bom
    changed_bom = BomTable(
        parent=bom.parent, component=bom.component, qty_per=[1, 3, 1], scrap_pct=bom.scrap_pct
    )
    items = base.items
    columns = {name: getattr(items, name) for name in items.__dataclass_fields__}
    bought = ItemTable(**columns | {"make_or_buy": ["make", "buy", "buy", "buy"]})
    renamed = ItemTable(**columns | {"code": ["A", "B", "C", "E"]})
    renamed_bom = BomTable(
        parent=bom.parent, component=["C", "C", "E"], qty_per=bom.qty_per, scrap_pct=bom.scrap_pct
    )
    cases = [
        _replace(base, bom=changed_bom),
        _replace(base, items=bought),
        _replace(
            base,
            items=renamed,
            bom=renamed_bom,
            demands=_dated(
                [(("E" if r[0] == "D" else r[0]), *r[1:]) for r in _dated_rows(base.demands)]
            ),
        ),
    ]
    for after in cases:
        assert not context.matches(after)
        fresh = plan(after, pegging="single", context=context)
        assert fresh.context is not context
        assert_same_rows(fresh, plan(after, pegging="single"))
        changed = ["A", "B", "C", "D", "E"]
        result = net_change(after, previous, changed, pegging="single")
        assert result.context is not context
        assert_same_rows(result, plan(after, pegging="single"))
    # a BOM changed in place is detected too: the context keeps copies
    assert context.matches(base)
    base.bom.qty_per[2] = 4.0
    assert not context.matches(base)
    result = net_change(base, previous, ["B"], pegging="single")
    assert result.context is not context
    assert_same_rows(result, plan(base, pegging="single"))
    assert orders_of(previous, "D") == [(week(1), 3), (week(3), 5)]
    assert orders_of(result, "D") == [(week(1), 3), (week(3), 20)]


def _rows_of_items(result: PlanResult, items: set[int]) -> tuple[list, list, list]:
    """A plan's orders, single-level pegging and exceptions of ``items``, orders named by
    (item, index among the item's orders), as `PlanResult.changes` names them."""
    tables = (result.planned_orders, result.pass_through)
    item = np.concatenate([t.item_index for t in tables])
    ids = np.concatenate([t.id for t in tables])
    name: dict[int, tuple[int, int]] = {}
    seen: dict[int, int] = defaultdict(int)
    for order_id, i in sorted(zip(ids.tolist(), item.tolist(), strict=True)):
        name[order_id] = (i, seen[i])
        seen[i] += 1
    orders = sorted(
        (*name[int(o)], str(d), int(s), round(float(q), 6), bool(p), str(r))
        for t in tables
        for o, d, s, q, p, r in zip(
            t.id, t.due_date, t.seq, t.qty, t.past_due, t.release_date, strict=True
        )
        if name[int(o)][0] in items
    )
    pegs = []
    single = result.single_pegging
    if single is not None:
        for o, p, t, q in zip(
            single.order_id, single.parent_id, single.target, single.qty, strict=True
        ):
            if name[int(o)][0] in items:
                parent = name[int(p)] if p else (-1, 0)
                pegs.append((*name[int(o)], *parent, int(t) if not p else -1, round(float(q), 6)))
    codes = result.input.items.code.tolist()
    exc = sorted(
        (
            codes.index(str(i)),
            str(k),
            str(d),
            str(s),
            round(float(q), 6),
            str(r),
            name[int(o)][1] if o else -1,
        )
        for i, k, d, s, q, r, o in zip(
            *(
                list(getattr(result.exceptions, c))
                for c in ("item", "kind", "date", "suggested_date", "qty", "reference", "order_id")
            ),
            strict=True,
        )
        if codes.index(str(i)) in items
    )
    return orders, sorted(pegs), exc


def assert_changes_match(result: PlanResult, expected: PlanResult) -> None:
    """`PlanResult.changes` holds exactly the expected plan's rows of the replanned items."""
    ch = result.changes()
    items = set(ch.items.tolist())
    assert sorted(result.input.items.code[ch.items].tolist()) == sorted(result.replanned.tolist())
    orders = sorted(
        (i, k, str(d), int(s), round(float(q), 6), bool(p), str(r))
        for i, k, d, s, q, p, r in zip(
            ch.order_item,
            ch.order_local,
            ch.due_date,
            ch.seq,
            ch.qty,
            ch.past_due,
            ch.release_date,
            strict=True,
        )
    )
    pegs = sorted(
        (int(a), int(b), int(c), int(d), int(t) if c < 0 else -1, round(float(q), 6))
        for a, b, c, d, t, q in zip(
            ch.peg_item,
            ch.peg_local,
            ch.parent_item,
            ch.parent_local,
            ch.peg_target,
            ch.peg_qty,
            strict=True,
        )
    )
    exc = sorted(
        (int(i), str(k), str(d), str(s), round(float(q), 6), str(r), int(o))
        for i, k, d, s, q, r, o in zip(
            ch.exc_item,
            ch.exc_kind.tolist(),
            ch.exc_date,
            ch.exc_suggested_date,
            ch.exc_qty,
            ch.exc_reference.tolist(),
            ch.exc_local,
            strict=True,
        )
    )
    want_orders, want_pegs, want_exc = _rows_of_items(expected, items)
    assert orders == want_orders
    assert pegs == want_pegs
    assert exc == want_exc


@HYPOTHESIS
@given(edit_chains())
def test_changes_hold_the_replanned_items_rows(case) -> None:  # type: ignore[no-untyped-def]
    inp, steps = case
    result = plan(inp, pegging="single")
    assert_changes_match(result, result)
    for after, changed in steps:
        result = net_change(after, result, changed, pegging="single")
        assert_changes_match(result, plan(after, pegging="single"))


def test_net_change_sees_lines_changed_in_place() -> None:
    """The previous run kept copies of what it planned: a demand quantity changed in place in
    the same arrays is a change."""
    inp = _two_level_case(10)
    previous = plan(inp, pegging="single")
    inp.demands.qty[0] = 60
    result = net_change(inp, previous, ["A"], pegging="single")
    assert orders_of(result, "C") == [(week(2), 100)]
    assert_same_rows(result, plan(inp, pegging="single"))
