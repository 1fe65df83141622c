"""Partial finishes, materials issued and returned by hand, finished goods into lots and
serial numbers, and the work-in-progress report: the ledger (work in progress per order) and
the stock checked after each step."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from xietong.core.tenancy import company_scope
from xietong.finance.models import Line
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.models import Lot, Move, Quant, Reservation
from xietong.inventory.stock import available, on_hand
from xietong.inventory.tests.factories import receive
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.inventory.valuation import product_valuation_rows
from xietong.manufacturing import execution, planning
from xietong.manufacturing.models import ProductionOrder, ProductionReport
from xietong.manufacturing.production import (
    MATERIAL_SOURCE,
    ORDER_SOURCE,
    OrderRequest,
    ProductionError,
    production_order_release,
    production_orders_create,
)
from xietong.product.bom import routing_create
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_work_center
from xietong.purchase.tests.factories import buying, material

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY = dt.date(2026, 11, 30)


@pytest.fixture
def shop(company_a):  # type: ignore[no-untyped-def]
    """Bikes of a frame (in stock: 10 at 100) and two wheels (20 at 30), assembled on a center
    at 60/h labour and 30/h overhead: 30 minutes setup, 12 per bike; an order of 5 released
    (planned: material 800, labour 90, overhead 45; 187 a bike)."""
    setup = buying(company_a)
    with company_scope(company_a):
        settings = planning.planning_settings(company_a)
        settings.warehouse = setup.warehouse
        settings.save()
        frame, wheel = material(company_a, "100", sku="FRAME"), material(company_a, "30",
                                                                          sku="WHEEL")  # fmt: skip
        receive(frame, 10, location=setup.stock, unit_cost=D(100))
        receive(wheel, 20, location=setup.stock, unit_cost=D(30))
        bike = material(company_a, "0", sku="BIKE", supply=Product.Supply.MAKE)
        make_bom(company_a, bike, [line(frame, "1"), line(wheel, "2")])
        assy = make_work_center(company_a, "ASSY", cost="60", overhead="30")
        routing_create(company=company_a, actor=None, product=bike, name="Bike", operations=[
            {"sequence": 10, "name": "Assemble", "work_center": assy,
             "setup_minutes": D(30), "run_minutes": D(12)}])  # fmt: skip
        (order,) = production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(bike, D(5), MONDAY, MONDAY + dt.timedelta(days=2))])  # fmt: skip
        production_order_release(order=order, actor=None)
    return setup, order, frame, wheel


def _wip(company, order):  # type: ignore[no-untyped-def]
    """The balance of the work-in-progress account (one order in these tests)."""
    row = product_valuation_rows(company=company, products=[order.product])[order.product_id]
    total = Line.unscoped.filter(account=row.production_account, entry__state="posted").aggregate(
        d=Sum("debit"), c=Sum("credit"))  # fmt: skip
    return (total["d"] or 0) - (total["c"] or 0)


def _open(source_type, source_id):  # type: ignore[no-untyped-def]
    return sum(
        Move.unscoped.filter(source_type=source_type, source_id=source_id,
                             state__in=["waiting", "assigned"]).values_list("quantity", flat=True),
        D(0),
    )  # fmt: skip


def _sound(company, order):  # type: ignore[no-untyped-def]
    assert_ledger_sound([company])
    assert_stock_sound([company])
    report = execution.wip_report(company)
    assert report.wip == _wip(company, order)


def test_two_partial_finishes_then_the_last_and_close(company_a, users_a, shop):  # type: ignore[no-untyped-def]
    _setup, order, frame, wheel = shop
    operator = users_a["warehouse_clerk"]
    with company_scope(company_a):
        op = order.operations.get()
        execution.operation_report(operation=op, actor=operator, minutes=D(50), quantity=D(2))
        first = execution.production_order_finish(order=order, actor=operator, quantity=D(2))
        # 2/5: frames 2 (200), wheels 4 (120); 50 minutes: labour 50, overhead 25; 2 × 187
        assert first.state == ProductionOrder.State.IN_PROGRESS
        assert (first.produced_qty, first.material_cost) == (D(2), D(320))
        assert (first.labour_cost, first.overhead_cost, first.received_value) == (
            D(50), D(25), D(374))  # fmt: skip
        assert _wip(company_a, first) == D(21)
        assert (on_hand(product=first.product), on_hand(product=frame),
                on_hand(product=wheel)) == (D(2), D(8), D(16))  # fmt: skip
        # what is left stays planned and reserved: 3 frames, 6 wheels, 3 bikes to come
        frame_line = first.materials.get(product=frame)
        assert _open(MATERIAL_SOURCE, frame_line.pk) == D(3)
        assert available(product=frame) == D(5)
        assert _open(ORDER_SOURCE, first.pk) == D(3)
        _sound(company_a, first)

        # a frame broken: one more issued by hand; the next finish issues no frame for it
        issue = execution.material_issue(order=first, lines=[(frame_line, D(1))], actor=operator)
        assert issue.kind == ProductionReport.Kind.ISSUE and issue.material_value == D(100)
        assert _wip(company_a, first) == D(121)
        execution.operation_report(operation=op, actor=operator, minutes=D(20), quantity=D(1))
        second = execution.production_order_finish(order=first, actor=operator, quantity=D(1))
        # 3/5: frames 3 issued already, wheels 6 − 4 = 2 (60); 20 minutes: 20 + 10; 187 in
        assert second.state == ProductionOrder.State.IN_PROGRESS
        assert (second.produced_qty, second.material_cost) == (D(3), D(480))
        assert (second.labour_cost, second.overhead_cost, second.received_value) == (
            D(70), D(35), D(561))  # fmt: skip
        assert _wip(company_a, second) == D(24)
        assert (on_hand(product=second.product), on_hand(product=frame),
                on_hand(product=wheel)) == (D(3), D(7), D(14))  # fmt: skip
        assert _open(MATERIAL_SOURCE, frame_line.pk) == D(2)
        assert _open(ORDER_SOURCE, second.pk) == D(2)
        _sound(company_a, second)

        # the last bike is not made: one more and the order is final
        last = execution.production_order_finish(order=second, actor=operator, quantity=D(1),
                                                 final=True)  # fmt: skip
        # the rest issued: frames 2 (200), wheels 4 (120); no new minutes; 187 in
        assert last.state == ProductionOrder.State.DONE and last.produced_qty == D(4)
        assert (last.material_cost, last.labour_cost, last.received_value) == (
            D(800), D(70), D(748))  # fmt: skip
        assert _wip(company_a, last) == D(157)
        assert (on_hand(product=last.product), on_hand(product=frame),
                on_hand(product=wheel)) == (D(4), D(5), D(10))  # fmt: skip
        assert _open(MATERIAL_SOURCE, frame_line.pk) == 0 and _open(ORDER_SOURCE, last.pk) == 0
        assert last.operations.get().state == "done"
        assert last.reports.filter(kind="finish").count() == 3
        _sound(company_a, last)
        # made 4 of 5: planned 640 + 72 + 36; the extra frame and the 5th bike's parts
        assert execution.variances(last) == {"material": D(160), "labour": D(-2),
                                             "overhead": D(-1)}  # fmt: skip
        closed = execution.production_order_close(order=last, actor=operator)
    assert closed.state == "closed" and _wip(company_a, closed) == 0
    assert execution.wip_report(company_a).rows == []
    assert_ledger_sound([company_a])


def test_the_material_rounding_step_and_the_unreported_operation(company_a, users_a, shop):  # type: ignore[no-untyped-def]
    _setup, order, frame, wheel = shop
    operator = users_a["warehouse_clerk"]
    with company_scope(company_a):
        # 1 of 5 without time reported: frames 1, wheels 2; planned minutes × 1/5 = 18
        done = execution.production_order_finish(order=order, actor=operator, quantity=D(1),
                                                 scrap=D(1))  # fmt: skip
        # produced + scrapped = 2/5: frames 2, wheels 4; 36 minutes: 36 + 18
        assert (done.material_cost, done.labour_cost, done.overhead_cost) == (D(320), D(36),
                                                                             D(18))  # fmt: skip
        assert done.operations.get().absorbed_minutes == D(36)
        assert done.received_value == D(187) and on_hand(product=done.product) == D(1)
        _sound(company_a, done)
        done = execution.production_order_finish(order=done, actor=operator, quantity=D(3))
        assert done.state == "done" and done.produced_qty + done.scrapped_qty == D(5)
        assert (done.material_cost, done.labour_cost, done.overhead_cost) == (D(800), D(90),
                                                                             D(45))  # fmt: skip
        _sound(company_a, done)
        execution.production_order_close(order=done, actor=operator)
    assert _wip(company_a, done) == 0


def test_manual_issue_return_and_refusals(company_a, users_a, shop):  # type: ignore[no-untyped-def]
    _setup, order, frame, wheel = shop
    operator = users_a["warehouse_clerk"]
    with company_scope(company_a):
        ProductionOrder.unscoped.filter(pk=order.pk).update(backflush=False)
        order.refresh_from_db()
        frame_line, wheel_line = order.materials.get(product=frame), order.materials.get(
            product=wheel)  # fmt: skip
        lines_before = Line.unscoped.count()
        with pytest.raises(ProductionError, match="Not enough"):  # 10 frames, 7 free of it
            execution.material_issue(order=order, lines=[(frame_line, D(11))], actor=operator)
        with pytest.raises(ProductionError):  # nothing issued yet to return
            execution.material_issue(order=order, lines=[(wheel_line, D(-1))], actor=operator)
        with pytest.raises(ProductionError):
            execution.material_issue(order=order, lines=[(wheel_line, D(0))], actor=operator)
        assert Line.unscoped.count() == lines_before and on_hand(product=frame) == D(10)
        order.refresh_from_db()
        assert order.state == "released" and order.material_cost == 0

        execution.material_issue(order=order, lines=[(frame_line, D(6)), (wheel_line, D(12))],
                                 actor=operator)  # fmt: skip
        order.refresh_from_db()
        assert order.state == "in_progress" and order.material_cost == D(960)
        assert (on_hand(product=frame), on_hand(product=wheel)) == (D(4), D(8))
        assert _open(MATERIAL_SOURCE, frame_line.pk) == 0  # more than required
        assert _wip(company_a, order) == D(960)
        back = execution.material_issue(order=order, lines=[(wheel_line, D(-2))], actor=operator)
        assert back.kind == ProductionReport.Kind.RETURN and back.material_value == D(-60)
        assert on_hand(product=wheel) == D(10) and _wip(company_a, order) == D(900)
        _sound(company_a, order)
        # no backflush: finishing issues nothing
        done = execution.production_order_finish(order=order, actor=operator, quantity=D(5))
        assert done.material_cost == D(900) and on_hand(product=frame) == D(4)
        assert (done.labour_cost, done.received_value) == (D(90), D(935))
        _sound(company_a, done)
        assert execution.variances(done)["material"] == D(100)  # one frame more
        execution.production_order_close(order=done, actor=operator)
    assert _wip(company_a, done) == 0


def test_a_return_plans_what_is_left_to_issue_again(company_a, users_a, shop):  # type: ignore[no-untyped-def]
    # the open material move shrinks with an issue and grows back with a return, reserved
    # again; a material whose moves were all used up gets a new one: MRP sees the demand again
    _setup, order, frame, wheel = shop
    operator = users_a["warehouse_clerk"]

    def reserved(line):  # type: ignore[no-untyped-def]
        return sum(Reservation.unscoped.filter(
            move__source_type=MATERIAL_SOURCE, move__source_id=line.pk,
            move__state__in=["waiting", "assigned"]).values_list("quantity", flat=True), D(0))  # fmt: skip

    with company_scope(company_a):
        ProductionOrder.unscoped.filter(pk=order.pk).update(backflush=False)
        order.refresh_from_db()
        frame_line, wheel_line = order.materials.get(product=frame), order.materials.get(
            product=wheel)  # fmt: skip
        assert (_open(MATERIAL_SOURCE, wheel_line.pk), reserved(wheel_line)) == (D(10), D(10))
        execution.material_issue(order=order, lines=[(wheel_line, D(3))], actor=operator)
        assert (_open(MATERIAL_SOURCE, wheel_line.pk), reserved(wheel_line)) == (D(7), D(7))
        execution.material_issue(order=order, lines=[(wheel_line, D(-2))], actor=operator)
        assert (_open(MATERIAL_SOURCE, wheel_line.pk), reserved(wheel_line)) == (D(9), D(9))
        execution.material_issue(order=order, lines=[(frame_line, D(6))], actor=operator)
        assert _open(MATERIAL_SOURCE, frame_line.pk) == 0  # one more than required
        execution.material_issue(order=order, lines=[(frame_line, D(-4))], actor=operator)
        frame_line.refresh_from_db()
        assert frame_line.issued_qty == D(2)
        assert (_open(MATERIAL_SOURCE, frame_line.pk), reserved(frame_line)) == (D(3), D(3))
        assert (on_hand(product=frame), on_hand(product=wheel)) == (D(8), D(19))
        _sound(company_a, order)


def test_finished_goods_into_lots_and_serial_numbers(company_a, users_a, shop):  # type: ignore[no-untyped-def]
    _setup, order, _frame, _wheel = shop
    operator = users_a["warehouse_clerk"]
    bike = order.product
    with company_scope(company_a):
        Product.unscoped.filter(pk=bike.pk).update(tracking=Product.Tracking.LOT)
        with pytest.raises(ProductionError):
            execution.production_order_finish(order=order, actor=operator, quantity=D(1),
                                              serials=["A", "B"])  # fmt: skip
        execution.production_order_finish(order=order, actor=operator, quantity=D(2))
        execution.production_order_finish(order=order, actor=operator, quantity=D(3),
                                          lot="BATCH-7")  # fmt: skip
        lots = {q.lot.name: q.quantity for q in Quant.unscoped.filter(product=bike, quantity__gt=0)
                .select_related("lot")}  # fmt: skip
        assert lots == {f"{order.number}-1": D(2), "BATCH-7": D(3)}
        assert order.reports.filter(kind="finish").first().lot.name == f"{order.number}-1"
        _sound(company_a, order)

        (serial_order,) = production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(bike, D(2), MONDAY, MONDAY)])  # fmt: skip
        production_order_release(order=serial_order, actor=None)
        Product.unscoped.filter(pk=bike.pk).update(tracking=Product.Tracking.SERIAL)
        for wrong in ([], ["S1"], ["S1", "S1"]):
            with pytest.raises(ProductionError):
                execution.production_order_finish(order=serial_order, actor=operator,
                                                  quantity=D(2), serials=wrong)  # fmt: skip
        assert not Lot.unscoped.filter(name__startswith="S").exists()
        done = execution.production_order_finish(order=serial_order, actor=operator,
                                                 quantity=D(2), serials=["S1", "S2"])  # fmt: skip
        assert done.state == "done"
        serials = set(Quant.unscoped.filter(product=bike, quantity=1, lot__name__startswith="S")
                      .values_list("lot__name", flat=True))  # fmt: skip
        assert serials == {"S1", "S2"}
        assert done.reports.get().serials == "S1, S2"
    # (not the stock invariants again: the first order's lots now read as serial numbers)
    assert_ledger_sound([company_a])


def test_the_screens_finish_in_parts_issue_and_show_the_wip(company_a, users_a, client_for, shop):  # type: ignore[no-untyped-def]
    _setup, order, frame, _wheel = shop
    clerk = client_for(users_a["warehouse_clerk"])
    page = clerk.get(reverse("manufacturing:order_detail", args=[order.pk])).content.decode()
    assert 'id="issue-form"' in page
    frame_line = order.materials.get(product=frame)
    issue = reverse("manufacturing:order_issue", args=[order.pk])
    assert clerk.post(issue, {f"qty_{frame_line.pk}": "50"}).status_code == 400  # 10 in stock
    assert clerk.post(issue, {}).status_code == 400
    assert clerk.post(issue, {f"qty_{frame_line.pk}": "1"}).status_code == 302
    finish = reverse("manufacturing:order_finish", args=[order.pk])
    form = clerk.get(finish).content.decode()
    assert 'name="final"' in form and 'name="lot"' not in form and "finish-summary" in form
    assert clerk.post(finish, {"quantity": "2"}).status_code == 302
    order.refresh_from_db()
    assert order.state == "in_progress" and order.produced_qty == D(2)
    assert order.materials.get(product=frame).issued_qty == D(2)  # 1 by hand + 1 backflushed
    wip = clerk.get(reverse("manufacturing:wip"))
    html = wip.content.decode()
    assert wip.status_code == 200 and order.number in html
    with company_scope(company_a):
        total = execution.wip_report(company_a).wip
    assert total == _wip(company_a, order) and f"{total:.2f}" in html
    page = clerk.get(reverse("manufacturing:order_detail", args=[order.pk])).content.decode()
    assert 'id="reports"' in page and "Material issue" in page
    assert clerk.post(finish, {"quantity": "1", "final": "on"}).status_code == 302
    order.refresh_from_db()
    assert order.state == "done" and order.produced_qty == D(3)
    page = clerk.get(reverse("manufacturing:order_detail", args=[order.pk])).content.decode()
    assert 'id="issue-form"' not in page
    buyer = client_for(users_a["buyer"])  # may see, not issue
    assert buyer.get(reverse("manufacturing:wip")).status_code == 200
    assert buyer.post(issue, {f"qty_{frame_line.pk}": "1"}).status_code == 403


def test_the_wip_page_reads_a_fixed_number_of_queries(company_a, users_a, client_for, shop):  # type: ignore[no-untyped-def]
    _setup, order, _frame, _wheel = shop
    clerk = client_for(users_a["warehouse_clerk"])
    url = reverse("manufacturing:wip")

    def count() -> int:
        with CaptureQueriesContext(connection) as seen:
            assert clerk.get(url).status_code == 200
        return len(seen)

    with company_scope(company_a):
        execution.production_order_finish(order=order, actor=None, quantity=D(1))
    one = count()
    with company_scope(company_a):
        more = production_orders_create(company=company_a, actor=None, requests=[
            OrderRequest(order.product, D(1), MONDAY, MONDAY) for _n in range(3)])  # fmt: skip
        for made in more:
            production_order_release(order=made, actor=None)
    assert len(execution.wip_report(company_a).rows) == 4
    assert count() == one


def test_the_finish_form_asks_for_the_lot_or_the_serial_numbers(
    company_a, users_a, client_for, shop
):  # type: ignore[no-untyped-def]
    _setup, order, _frame, _wheel = shop
    clerk = client_for(users_a["warehouse_clerk"])
    finish = reverse("manufacturing:order_finish", args=[order.pk])
    Product.unscoped.filter(pk=order.product_id).update(tracking=Product.Tracking.LOT)
    assert 'name="lot"' in clerk.get(finish).content.decode()
    assert clerk.post(finish, {"quantity": "2", "lot": "LOT-A"}).status_code == 302
    Product.unscoped.filter(pk=order.product_id).update(tracking=Product.Tracking.SERIAL)
    form = clerk.get(finish).content.decode()
    assert 'name="serials"' in form and 'name="lot"' not in form
    assert clerk.post(finish, {"quantity": "2", "serials": "S-1"}).status_code == 400
    assert clerk.post(finish, {"quantity": "2", "serials": "S-1\nS-2"}).status_code == 302
    with company_scope(company_a):
        names = set(Lot.unscoped.filter(product=order.product).values_list("name", flat=True))
    assert names == {"LOT-A", "S-1", "S-2"}
    order.refresh_from_db()
    assert order.produced_qty == D(4) and order.state == "in_progress"
