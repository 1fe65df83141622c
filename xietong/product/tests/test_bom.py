"""BOM services and reads: validation, loops, versions and effective dates, low-level codes,
multi-level explosion (units, scrap, phantoms), where-used, and a Hypothesis property: the
explosion of a random acyclic BOM graph equals the sum over all its paths."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xietong.core.models import AuditEntry
from xietong.product import bom as svc
from xietong.product.models import Bom, BomLine, Product
from xietong.product.tests.bom_factories import line, make_bom, make_item, unit

pytestmark = pytest.mark.django_db

D = Decimal
DAY = dt.date(2026, 11, 26)


def codes(company) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return dict(Product.unscoped.filter(company=company).values_list("sku", "low_level_code"))


def totals(explosion: svc.Explosion) -> dict[str, Decimal]:
    return {r.component.sku: r.quantity for r in explosion.totals}


# --- validation -------------------------------------------------------------------------------


def test_create_bom_with_lines_and_audit(company_a, admin_a):
    bike = make_item(company_a, "BIKE")
    frame = make_item(company_a, "FRAME")
    bom = svc.bom_create(
        company=company_a,
        actor=admin_a,
        product=bike,
        lines=[{"component": frame.pk, "quantity": D("1")}],
    )
    assert bom.version == 1 and bom.uom_id == bike.uom_id
    [row] = bom.lines.all()
    assert row.component_id == frame.pk and row.uom_id == frame.uom_id and row.sequence == 10
    entries = AuditEntry.objects.get_for_object(bom)
    assert entries.count() == 2 and all(e.actor == admin_a for e in entries)
    note = entries.filter(action=AuditEntry.Action.UPDATE).get()
    assert note.changes_dict["BOM lines"] == ["", "FRAME × 1 pc"]
    assert make_bom(company_a, bike, [line(frame, "2")], active=False).version == 2


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"quantity": D("0")}, "lines.0.quantity"),
        ({"quantity": D("-1")}, "lines.0.quantity"),
        ({"quantity": "abc"}, "lines.0.quantity"),
        ({"uom": "kg"}, "lines.0.uom"),
        ({"uom": "nope"}, "lines.0.uom"),
        ({"scrap_percent": D("100")}, "lines.0.scrap_percent"),
        ({"colour": "red"}, "lines.0.colour"),
    ],
)
def test_bad_lines_are_refused_by_field(company_a, data, field):
    bike = make_item(company_a, "BIKE")
    frame = make_item(company_a, "FRAME")
    with pytest.raises(ValidationError) as exc:
        svc.bom_create(
            company=company_a,
            actor=None,
            product=bike,
            lines=[{"component": frame, "quantity": D("1"), **data}],
        )
    assert field in exc.value.message_dict
    assert not Bom.unscoped.exists() and not BomLine.objects.exists()


def test_component_of_another_company_or_itself_is_refused(company_a, company_b):
    bike = make_item(company_a, "BIKE")
    theirs = make_item(company_b, "THEIRS")
    with pytest.raises(ValidationError) as exc:
        make_bom(company_a, bike, [line(theirs, "1"), line(bike, "1")])
    assert exc.value.message_dict["lines.0.component"] == ["Choose a product of this company."]
    assert exc.value.message_dict["lines.1.component"] == [
        "A product cannot be a component of itself."
    ]
    with pytest.raises(ValidationError) as exc:
        make_bom(company_b, bike, [line(theirs, "1")])
    assert "product" in exc.value.message_dict
    with pytest.raises(ValidationError) as exc:
        make_bom(company_a, bike, [])
    assert "lines" in exc.value.message_dict


def test_header_checks(company_a):
    bike = make_item(company_a, "BIKE")
    frame = make_item(company_a, "FRAME")
    with pytest.raises(ValidationError) as exc:
        make_bom(
            company_a,
            bike,
            [line(frame, "1")],
            quantity="0",
            uom="kg",
            effective_from=dt.date(2026, 5, 1),
            effective_to=dt.date(2026, 4, 1),
        )
    assert {"quantity", "uom", "effective_to"} <= set(exc.value.message_dict)


# --- loops --------------------------------------------------------------------------------------


def test_a_loop_is_refused_and_named(company_a):
    a, b, c = (make_item(company_a, sku) for sku in ("A", "B", "C"))
    make_bom(company_a, a, [line(b, "1")])
    make_bom(company_a, b, [line(c, "2")])
    with pytest.raises(ValidationError) as exc:
        make_bom(company_a, c, [line(make_item(company_a, "D"), "1"), line(a, "1")])
    assert exc.value.message_dict == {
        "lines.1.component": ["This line would make the BOMs loop: C → A → B → C."]
    }
    # Reported together with the other lines' errors (its index is the input's).
    with pytest.raises(ValidationError) as exc:
        make_bom(company_a, c, [line(make_item(company_a, "E"), "0"), line(a, "1")])
    assert set(exc.value.message_dict) == {"lines.0.quantity", "lines.1.component"}
    assert not Bom.unscoped.filter(product=c).exists()


def test_a_loop_through_an_update_is_refused(company_a):
    a, b = make_item(company_a, "A"), make_item(company_a, "B")
    make_bom(company_a, a, [line(b, "1")])
    bom_b = make_bom(company_a, b, [line(make_item(company_a, "X"), "1")])
    with pytest.raises(ValidationError) as exc:
        svc.bom_update(bom=bom_b, actor=None, lines=[line(a, "1")])
    assert exc.value.message_dict["lines.0.component"] == [
        "This line would make the BOMs loop: B → A → B."
    ]
    assert [r.component.sku for r in bom_b.lines.all()] == ["X"]
    # Archived BOMs are not part of the graph: archiving A's BOM frees the way.
    svc.bom_archive(bom=Bom.unscoped.get(product=a), actor=None)
    svc.bom_update(bom=bom_b, actor=None, lines=[line(a, "1")])


def test_find_loop_on_a_graph():
    graph = {1: {2}, 2: {3}, 3: set()}
    assert svc.find_loop(graph, 3, [1]) == [3, 1, 2, 3]
    assert svc.find_loop(graph, 1, [3]) is None


# --- versions and dates -------------------------------------------------------------------------


def test_versions_with_effective_dates(company_a):
    bike = make_item(company_a, "BIKE")
    old, new = make_item(company_a, "OLD"), make_item(company_a, "NEW")
    make_bom(company_a, bike, [line(old, "1")], effective_to=dt.date(2026, 6, 30))
    v2 = make_bom(company_a, bike, [line(new, "1")], effective_from=dt.date(2026, 7, 1))
    assert v2.version == 2
    with pytest.raises(ValidationError) as exc:
        make_bom(company_a, bike, [line(new, "1")], effective_from=dt.date(2026, 6, 1))
    assert "must not overlap" in exc.value.message_dict["effective_from"][0]
    with pytest.raises(ValidationError) as exc:
        make_bom(company_a, bike, [line(new, "1")], version=2, active=False)
    assert "version" in exc.value.message_dict
    inactive = make_bom(company_a, bike, [line(new, "3")], active=False)
    assert inactive.version == 3
    june = svc.bom_explode(product=bike, date=dt.date(2026, 6, 30))
    july = svc.bom_explode(product=bike, date=dt.date(2026, 7, 1))
    assert totals(june) == {"OLD": 1} and totals(july) == {"NEW": 1}
    assert svc.bom_effective(product=bike, date=dt.date(2026, 1, 1)).version == 1
    # Moving v2's start into v1's range is refused too.
    with pytest.raises(ValidationError):
        svc.bom_update(bom=v2, actor=None, effective_from=dt.date(2026, 6, 15))
    with pytest.raises(ValidationError) as exc:
        svc.bom_update(bom=v2, actor=None, product=old)
    assert exc.value.message_dict == {"product": ["This field cannot be changed."]}


# --- low-level codes ----------------------------------------------------------------------------


def test_low_level_codes_follow_every_change(company_a):
    a, b, c, d, e = (make_item(company_a, sku) for sku in "ABCDE")
    make_bom(company_a, a, [line(b, "1"), line(c, "1")])
    make_bom(company_a, b, [line(c, "1")])
    make_bom(company_a, d, [line(c, "1")])
    assert codes(company_a) == {"A": 0, "B": 1, "C": 2, "D": 0, "E": 0}
    bom_c = make_bom(company_a, c, [line(e, "1")])
    assert codes(company_a)["E"] == 3
    svc.bom_archive(bom=Bom.unscoped.get(product=b), actor=None)
    assert codes(company_a) == {"A": 0, "B": 1, "C": 1, "D": 0, "E": 2}
    svc.bom_update(bom=bom_c, actor=None, active=False)
    assert codes(company_a)["E"] == 0


def test_low_level_codes_of_a_graph():
    assert svc.low_level_codes({1: {2, 3}, 2: {3}, 3: {4}}) == {1: 0, 2: 1, 3: 2, 4: 3}


# --- explosion ----------------------------------------------------------------------------------


def test_explosion_converts_units_and_applies_scrap(company_a):
    bike = make_item(company_a, "BIKE")
    frame = make_item(company_a, "FRAME")
    tube = make_item(company_a, "TUBE", uom="m")
    paint = make_item(company_a, "PAINT", uom="kg")
    # A batch of 10 bikes: 10 frames; a frame: 2,400 mm of tube with 5 % scrap, 250 g paint.
    make_bom(company_a, bike, [line(frame, "10")], quantity="10")
    make_bom(
        company_a,
        frame,
        [line(tube, "2400", uom="mm", scrap="5"), line(paint, "250", uom="g")],
    )
    explosion = svc.bom_explode(product=bike, quantity=D("3"), date=DAY)
    rows = [(r.level, r.component.sku, r.quantity_per, r.extended, r.uom) for r in explosion.rows]
    assert rows == [
        (1, "FRAME", D("1"), D("3"), "pc"),
        (2, "TUBE", D("2.52"), D("7.56"), "m"),
        (2, "PAINT", D("0.25"), D("0.75"), "kg"),
    ]
    assert totals(explosion) == {"FRAME": D("3"), "PAINT": D("0.75"), "TUBE": D("7.56")}
    assert explosion.rows[1].path == (bike.pk, frame.pk, tube.pk)
    assert svc.bom_requirements(product=bike, quantity=D("3"), date=DAY) == explosion.totals


def test_phantoms_pass_through_to_their_components(company_a):
    bike = make_item(company_a, "BIKE")
    kit = make_item(company_a, "KIT")
    bolt, nut = make_item(company_a, "BOLT"), make_item(company_a, "NUT")
    make_bom(company_a, bike, [line(kit, "2"), line(bolt, "1")])
    make_bom(company_a, kit, [line(bolt, "4"), line(nut, "4")], kind=Bom.Kind.PHANTOM)
    explosion = svc.bom_explode(product=bike, date=DAY)
    assert [(r.component.sku, r.phantom, r.extended) for r in explosion.rows] == [
        ("KIT", True, 2),
        ("BOLT", False, 8),
        ("NUT", False, 8),
        ("BOLT", False, 1),
    ]
    assert totals(explosion) == {"BOLT": 9, "NUT": 8}  # the phantom kit itself is not needed


def test_explosion_truncates_rows_but_keeps_totals(company_a):
    top = make_item(company_a, "TOP")
    parts = [make_item(company_a, f"P{i}") for i in range(5)]
    make_bom(company_a, top, [line(p, "1") for p in parts])
    explosion = svc.bom_explode(product=top, date=DAY, max_rows=3)
    assert explosion.truncated and len(explosion.rows) == 3 and len(explosion.totals) == 5


def test_explosion_of_a_bought_item_is_empty(company_a):
    bolt = make_item(company_a, "BOLT")
    explosion = svc.bom_explode(product=bolt, date=DAY)
    assert explosion.rows == [] and explosion.totals == [] and explosion.bom is None


def test_explosion_queries_per_level_not_per_node(company_a, django_assert_max_num_queries):
    top = make_item(company_a, "TOP")
    subs = [make_item(company_a, f"S{i}") for i in range(6)]
    make_bom(company_a, top, [line(s, "1") for s in subs])
    for i, sub in enumerate(subs):
        make_bom(company_a, sub, [line(make_item(company_a, f"L{i}-{j}"), "2") for j in range(5)])
    with django_assert_max_num_queries(12):  # units + 3 levels × (items, BOMs, lines)
        explosion = svc.bom_explode(product=top, date=DAY)
    assert len(explosion.rows) == 36


def test_stored_loops_are_reported_not_followed(company_a):
    a, b = make_item(company_a, "A"), make_item(company_a, "B")
    make_bom(company_a, a, [line(b, "1")])
    # Bypass the services, as a bad import would.
    loop = Bom.unscoped.create(company=company_a, product=b, uom=unit("pc"))
    BomLine.objects.create(bom=loop, component=a, quantity=1, uom=unit("pc"))
    with pytest.raises(svc.BomError, match="A → B → A"):
        svc.bom_explode(product=a, date=DAY)
    with pytest.raises(svc.BomError, match="loop"):
        svc.bom_cost_rollup(product=a, date=DAY)


# --- where-used ---------------------------------------------------------------------------------


def test_where_used_is_multi_level(company_a):
    bolt = make_item(company_a, "BOLT")
    frame, wheel = make_item(company_a, "FRAME"), make_item(company_a, "WHEEL")
    city, mtb = make_item(company_a, "CITY"), make_item(company_a, "MTB")
    make_bom(company_a, frame, [line(bolt, "4")])
    make_bom(company_a, wheel, [line(bolt, "2")], quantity="2")
    make_bom(company_a, city, [line(frame, "1"), line(wheel, "2")])
    make_bom(company_a, mtb, [line(frame, "1")], effective_to=dt.date(2026, 1, 31))
    rows = svc.bom_where_used(product=bolt)
    assert [(r.level, r.parent.sku, r.quantity_per, r.top) for r in rows] == [
        (1, "FRAME", 4, False),
        (2, "CITY", 4, True),
        (2, "MTB", 4, True),
        (1, "WHEEL", 1, False),
        (2, "CITY", 2, True),
    ]
    assert rows[1].path == (bolt.pk, frame.pk, city.pk)
    on_date = svc.bom_where_used(product=bolt, date=DAY)
    assert "MTB" not in {r.parent.sku for r in on_date}


# --- Hypothesis: explosion = sum over paths ---------------------------------------------------

UNITS = {"pc": ("pc", Fraction(1)), "kg": ("g", Fraction(1, 1000)), "m": ("mm", Fraction(1, 1000))}


@st.composite
def acyclic_boms(draw):  # type: ignore[no-untyped-def]
    """Nodes 0..n-1 in topological order (edges only from i to j > i), with stock units,
    per-BOM output quantities, line quantities, line units, scrap and phantom flags."""
    n = draw(st.integers(min_value=2, max_value=7))
    stock = [draw(st.sampled_from(list(UNITS))) for _ in range(n)]
    stock[0] = "pc"
    edges = {}
    for i in range(n - 1):
        children = draw(st.sets(st.integers(min_value=i + 1, max_value=n - 1), max_size=3))
        if i == 0 and not children:
            children = {1}
        for j in sorted(children):
            edges[(i, j)] = (
                draw(st.sampled_from(["1", "2", "0.5", "1.25", "3"])),
                draw(st.booleans()),  # line in the smaller unit (g, mm) instead of the stock unit
                draw(st.sampled_from(["0", "5", "12.5"])),
            )
    output = [draw(st.sampled_from(["1", "2", "4"])) for _ in range(n)]
    phantom = [False] + [draw(st.booleans()) for _ in range(n - 1)]
    return n, stock, edges, output, phantom


def paths_total(n, stock, edges, output) -> dict[int, Fraction]:  # type: ignore[no-untyped-def]
    """Independent reference: enumerate every path from node 0 and multiply along it."""
    totals: dict[int, Fraction] = {}

    def per(i: int, j: int) -> Fraction:
        qty, small, scrap = edges[(i, j)]
        factor = UNITS[stock[j]][1] if small else Fraction(1)
        return Fraction(qty) * factor * (1 + Fraction(scrap) / 100) / Fraction(output[i])

    def walk(node: int, amount: Fraction) -> None:
        for i, j in edges:
            if i == node:
                totals[j] = totals.get(j, Fraction(0)) + amount * per(i, j)
                walk(j, amount * per(i, j))

    walk(0, Fraction(5))
    return totals


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(graph=acyclic_boms())
def test_explosion_equals_the_sum_over_all_paths(company_a, graph):
    n, stock, edges, output, phantom = graph
    with transaction.atomic():
        items = [make_item(company_a, f"N{i}", uom=stock[i]) for i in range(n)]
        for i in reversed(range(n)):
            lines = [
                line(items[j], qty, uom=UNITS[stock[j]][0] if small else None, scrap=scrap)
                for (p, j), (qty, small, scrap) in sorted(edges.items())
                if p == i
            ]
            if lines:
                make_bom(
                    company_a,
                    items[i],
                    lines,
                    quantity=output[i],
                    kind=Bom.Kind.PHANTOM if phantom[i] else Bom.Kind.NORMAL,
                )
        expected = paths_total(n, stock, edges, output)
        explosion = svc.bom_explode(product=items[0], quantity=D(5), date=DAY)
        by_rows: dict[int, Decimal] = {}
        for row in explosion.rows:
            by_rows[row.component.id] = by_rows.get(row.component.id, D(0)) + row.extended
        has_bom = {i for (i, _j) in edges}
        for j, amount in expected.items():
            pk = items[j].pk
            assert abs(Fraction(by_rows[pk]) - amount) <= amount * Fraction(1, 10**18)
        assert set(by_rows) == {items[j].pk for j in expected}
        totals_found = {r.component.id: r.quantity for r in explosion.totals}
        assert set(totals_found) == {
            items[j].pk for j in expected if not (phantom[j] and j in has_bom)
        }
        for pk, quantity in totals_found.items():
            amount = expected[next(j for j in range(n) if items[j].pk == pk)]
            assert abs(Fraction(quantity) - amount) <= amount * Fraction(1, 10**18)
        # Low-level codes are the longest path lengths.
        longest = [0] * n
        for i in range(n):
            for p, j in edges:
                if p == i:
                    longest[j] = max(longest[j], longest[i] + 1)
        assert [codes(company_a)[f"N{i}"] for i in range(n)] == longest
        transaction.set_rollback(True)


# --- concurrency ------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_writes_cannot_close_a_loop(company_a):
    """A → B and B → A written at the same time: the graph lock makes one wait and refuse."""
    import threading

    from django.db import connections

    a, b = make_item(company_a, "A"), make_item(company_a, "B")
    barrier = threading.Barrier(2)
    results: list[str] = []

    def write(parent, child):  # type: ignore[no-untyped-def]
        try:
            barrier.wait()
            make_bom(company_a, parent, [line(child, "1")])
            results.append("saved")
        except ValidationError:
            results.append("refused")
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=write, args=(a, b)),
        threading.Thread(target=write, args=(b, a)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["refused", "saved"]
    assert Bom.unscoped.filter(company=company_a).count() == 1
