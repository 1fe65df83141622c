"""Available-to-promise dates: stock, reservations, scheduled receipts and deliveries set up
through the inventory services, each case checked by hand; a Hypothesis property compares the
projection with a day-by-day model and checks that a promise never makes the projected stock
negative afterwards; and the number of queries does not grow with the number of lines."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import given, settings
from hypothesis import strategies as st

from xietong.inventory.models import Move, Warehouse
from xietong.inventory.pickings import (
    internal_transfer_create,
    picking_cancel,
    picking_confirm,
    picking_done,
)
from xietong.inventory.warehouses import location_create
from xietong.product.models import Product
from xietong.sales.atp import AtpRequest, Projection, promise_dates, promise_one
from xietong.sales.tests.atp_helpers import (
    TODAY,
    D,
    ask,
    day,
    deliver,
    make_product,
    make_warehouse,
    put_stock,
    receive,
    route_moves,
    unit,
)

Supply, Type = Product.Supply, Product.Type


@pytest.fixture
def wh(company_a):
    return make_warehouse(company_a)


def promise(company, wh, *requests, **kwargs):
    return promise_dates(company=company, warehouse=wh, requests=requests, today=TODAY, **kwargs)


def one(company, wh, request, **kwargs):
    [answer] = promise(company, wh, request, **kwargs)
    return answer


# --- stock on hand ---------------------------------------------------------------------------


def test_enough_stock_is_promised_on_the_day_wanted(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 10)
    answer = one(company_a, wh, ask(bolt, 10, key="line 1"))
    assert (answer.key, answer.date, answer.source, answer.available_now) == (
        "line 1",
        TODAY,
        "stock",
        10,
    )
    assert answer.note == "In stock: 10 available now."


def test_a_day_wanted_in_the_past_is_promised_today(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 5)
    assert one(company_a, wh, ask(bolt, 5, wanted=-3)).date == TODAY


def test_stock_of_the_whole_warehouse_counts_but_not_of_another(company_a, wh):
    """A shelf below stock and the input area count; another warehouse's stock does not."""
    bolt = make_product(company_a, "BOLT")
    shelf = location_create(company=company_a, name="Shelf 1", parent=wh.stock_location)
    other = make_warehouse(company_a, "WH2")
    put_stock(company_a, bolt, shelf, 3)
    put_stock(company_a, bolt, wh.input_location, 2)
    put_stock(company_a, bolt, other.stock_location, 50)
    assert one(company_a, wh, ask(bolt, 1)).available_now == 5
    assert one(company_a, other, ask(bolt, 1)).available_now == 50


def test_decimal_quantities(company_a, wh):
    oil = make_product(company_a, "OIL", uom=unit("kg"))
    put_stock(company_a, oil, wh.stock_location, "2.5")
    answer = one(company_a, wh, ask(oil, "2.25"))
    assert (answer.date, answer.available_now) == (TODAY, D("2.5"))
    assert isinstance(answer.available_now, Decimal)
    assert one(company_a, wh, ask(oil, "2.75")).date is None


# --- receipts --------------------------------------------------------------------------------


def test_partly_in_stock_waits_for_the_receipt_next_week(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 8)
    receipt = receive(company_a, wh, bolt, 5, 7)
    answer = one(company_a, wh, ask(bolt, 10))
    assert (answer.date, answer.source, answer.available_now) == (day(7), "receipt", 8)
    assert answer.note == f"8 available now; 2 more from receipt {receipt.number} on 2026-03-09."


def test_the_first_receipt_that_covers_the_quantity_is_chosen(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    receive(company_a, wh, bolt, 4, 3)
    second = receive(company_a, wh, bolt, 4, 10)
    receive(company_a, wh, bolt, 100, 20)
    answer = one(company_a, wh, ask(bolt, 6))
    assert (answer.date, answer.source, answer.available_now) == (day(10), "receipt", 0)
    assert answer.note == f"6 from receipt {second.number} on 2026-03-12."


def test_draft_receipts_count_and_cancelled_or_done_ones_do_not(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    receive(company_a, wh, bolt, 4, 3, confirm=False)
    picking_cancel(picking=receive(company_a, wh, bolt, 50, 1))
    assert one(company_a, wh, ask(bolt, 4)).date == day(3)
    assert one(company_a, wh, ask(bolt, 5)).date is None


def test_a_late_receipt_counts_today(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 2)
    receipt = receive(company_a, wh, bolt, 5, -4)
    answer = one(company_a, wh, ask(bolt, 6))
    assert (answer.date, answer.source, answer.available_now) == (TODAY, "receipt", 2)
    assert receipt.number in answer.note


def test_a_two_step_reception_counts_once(company_a):
    """Supplier → input is the receipt; input → stock moves stock inside the warehouse."""
    wh = make_warehouse(company_a, "W2", reception_steps=Warehouse.ReceptionSteps.TWO)
    bolt = make_product(company_a, "BOLT")
    receive(company_a, wh, bolt, 5, 2)
    assert one(company_a, wh, ask(bolt, 5)).date == day(2)
    assert one(company_a, wh, ask(bolt, 6)).date is None


def test_a_transfer_from_another_warehouse_is_a_receipt(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    other = make_warehouse(company_a, "WH2")
    put_stock(company_a, bolt, other.stock_location, 10)
    transfer = internal_transfer_create(
        company=company_a, from_location=other.stock_location, to_location=wh.stock_location,
        lines=[{"product": bolt, "quantity": D(4)}], scheduled_date=day(2),
    )  # fmt: skip
    picking_confirm(picking=transfer)  # reserved in WH2, coming to WH
    assert one(company_a, wh, ask(bolt, 4)).date == day(2)
    assert one(company_a, other, ask(bolt, 6)).date == TODAY
    assert one(company_a, other, ask(bolt, 7)).date is None


# --- reservations and demands ----------------------------------------------------------------


def test_reservations_of_another_delivery_reduce_availability(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 10)
    deliver(company_a, wh, bolt, 6, 5)
    answer = one(company_a, wh, ask(bolt, 5))
    assert (answer.date, answer.source, answer.available_now) == (None, "none", 4)
    assert answer.note == (
        "Only 4 of 5 can be promised and no purchase lead time is set to buy the rest."
    )
    assert one(company_a, wh, ask(bolt, 4)).date == TODAY


def test_a_two_step_delivery_is_counted_once(company_a):
    """The pick reserves the stock and the ship move waits for it unreserved: 6 are held, not
    12; after the pick, the ship move holds the 6 in the output area."""
    wh = make_warehouse(company_a, "W2", delivery_steps=Warehouse.DeliverySteps.TWO)
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 10)
    pick = deliver(company_a, wh, bolt, 6, 3)
    assert one(company_a, wh, ask(bolt, 1)).available_now == 4
    picking_done(picking=pick)
    assert one(company_a, wh, ask(bolt, 1)).available_now == 4


def test_an_unreserved_earlier_delivery_consumes_the_receipt(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    receive(company_a, wh, bolt, 10, 7)
    deliver(company_a, wh, bolt, 6, 3)  # nothing to reserve: waits for the receipt
    assert one(company_a, wh, ask(bolt, 4)).date == day(7)
    answer = one(company_a, wh, ask(bolt, 5))
    assert (answer.date, answer.source) == (None, "none")


def test_stock_needed_by_a_later_delivery_is_not_promised_earlier(company_a, wh):
    """10 on hand, 6 to ship in ten days with nothing reserved yet (it was confirmed when the
    stock was not there): only 4 can be promised before the receipt of day 20."""
    bolt = make_product(company_a, "BOLT")
    deliver(company_a, wh, bolt, 6, 10)
    put_stock(company_a, bolt, wh.stock_location, 10)
    receive(company_a, wh, bolt, 3, 20)
    assert one(company_a, wh, ask(bolt, 4)).date == TODAY
    answer = one(company_a, wh, ask(bolt, 5))
    assert (answer.date, answer.source, answer.available_now) == (day(20), "receipt", 4)
    assert one(company_a, wh, ask(bolt, 8)).date is None


def test_exclude_moves_ignores_the_orders_own_deliveries(company_a):
    wh = make_warehouse(company_a, "W3", delivery_steps=Warehouse.DeliverySteps.THREE)
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 10)
    own = deliver(company_a, wh, bolt, 6, 2)
    deliver(company_a, wh, bolt, 3, 2)
    assert one(company_a, wh, ask(bolt, 7)).date is None
    answer = one(company_a, wh, ask(bolt, 7), exclude_moves=route_moves(own))
    assert (answer.date, answer.available_now) == (TODAY, 7)
    # the ship move alone stands for its whole route
    [ship] = Move.unscoped.filter(pk__in=route_moves(own), to_location__usage="customer")
    assert one(company_a, wh, ask(bolt, 7), exclude_moves=[ship.pk]).date == TODAY


def test_exclude_moves_ignores_a_receipt(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    receipt = receive(company_a, wh, bolt, 5, 2)
    assert one(company_a, wh, ask(bolt, 5), exclude_moves=route_moves(receipt)).date is None


# --- several lines ---------------------------------------------------------------------------


def test_two_lines_of_the_same_product_share_the_stock(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    nut = make_product(company_a, "NUT")
    put_stock(company_a, bolt, wh.stock_location, 10)
    put_stock(company_a, nut, wh.stock_location, 10)
    receipt = receive(company_a, wh, bolt, 5, 4)
    first, other, second, third = promise(
        company_a, wh, ask(bolt, 6, key=0), ask(nut, 6, key=1), ask(bolt, 6, key=2),
        ask(bolt, 6, key=3),
    )  # fmt: skip
    assert [p.key for p in (first, other, second, third)] == [0, 1, 2, 3]
    assert (first.date, first.available_now, first.source) == (TODAY, 10, "stock")
    assert (other.date, other.available_now) == (TODAY, 10)
    assert (second.date, second.available_now, second.source) == (day(4), 4, "receipt")
    assert receipt.number in second.note
    assert (third.date, third.available_now, third.source) == (None, 3, "none")
    assert third.note.startswith("Only 3 of 6")


def test_a_later_line_cannot_take_what_an_earlier_one_was_promised(company_a, wh):
    """The first line is promised on the receipt; the second, wanted today, cannot take the
    on-hand stock the first counts on."""
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 4)
    receive(company_a, wh, bolt, 4, 5)
    first, second = promise(company_a, wh, ask(bolt, 8), ask(bolt, 1))
    assert (first.date, second.date) == (day(5), None)


# --- make and buy ----------------------------------------------------------------------------


def test_a_make_item_short_of_stock_gets_the_manufacturing_lead_time(company_a, wh):
    frame = make_product(company_a, "FRAME", supply=Supply.MAKE, manufacturing_lead_days=10,
                         purchase_lead_days=2)  # fmt: skip
    put_stock(company_a, frame, wh.stock_location, 3)
    answer = one(company_a, wh, ask(frame, 5))
    assert (answer.date, answer.source, answer.available_now) == (day(10), "make", 3)
    assert answer.note == ("3 available; the other 2 to be made (manufacturing lead time 10 days).")


def test_a_buy_item_short_of_stock_gets_the_purchase_lead_time(company_a, wh):
    bolt = make_product(company_a, "BOLT", purchase_lead_days=14)
    answer = one(company_a, wh, ask(bolt, 5))
    assert (answer.date, answer.source, answer.available_now) == (day(14), "buy", 0)
    assert answer.note == "To be bought: purchase lead time 14 days."


def test_the_lead_time_runs_from_today_but_not_before_the_day_wanted(company_a, wh):
    bolt = make_product(company_a, "BOLT", purchase_lead_days=1)
    assert one(company_a, wh, ask(bolt, 5, wanted=30)).date == day(30)
    assert one(company_a, wh, ask(bolt, 5, wanted=-30)).date == day(1)
    assert one(company_a, wh, ask(bolt, 5)).note == "To be bought: purchase lead time 1 day."


def test_a_receipt_in_time_beats_the_lead_time_and_a_late_one_does_not(company_a, wh):
    bolt = make_product(company_a, "BOLT", purchase_lead_days=14)
    receive(company_a, wh, bolt, 5, 7)
    receive(company_a, wh, bolt, 5, 30)
    assert (one(company_a, wh, ask(bolt, 5)).date, one(company_a, wh, ask(bolt, 5)).source) == (
        day(7),
        "receipt",
    )
    answer = one(company_a, wh, ask(bolt, 8))
    assert (answer.date, answer.source) == (day(14), "buy")


def test_a_line_bought_anew_takes_what_stock_it_uses(company_a, wh):
    bolt = make_product(company_a, "BOLT", purchase_lead_days=14)
    put_stock(company_a, bolt, wh.stock_location, 3)
    first, second = promise(company_a, wh, ask(bolt, 5), ask(bolt, 2))
    assert (first.date, first.source) == (day(14), "buy")
    assert (second.date, second.source, second.available_now) == (day(14), "buy", 0)


def test_nothing_anywhere_cannot_be_promised(company_a, wh):
    frame = make_product(company_a, "FRAME", supply=Supply.MAKE)
    answer = one(company_a, wh, ask(frame, 1))
    assert (answer.date, answer.source, answer.available_now) == (None, "none", 0)
    assert answer.note == (
        "None in stock or on order, and no manufacturing lead time is set to make it."
    )


# --- services and consumables ----------------------------------------------------------------


def test_services_and_consumables_are_promised_on_the_day_wanted(
    company_a, wh, django_assert_num_queries
):
    setup = make_product(company_a, "SETUP", type=Type.SERVICE)
    rag = make_product(company_a, "RAG", type=Type.CONSUMABLE)
    with django_assert_num_queries(0):
        service, consumable = promise(company_a, wh, ask(setup, 3, 4), ask(rag, 100, 2))
    assert (service.date, service.source, service.available_now) == (day(4), "stock", 0)
    assert (consumable.date, consumable.source) == (day(2), "stock")
    assert service.note == "A service: nothing to take from stock."


# --- wanted later ----------------------------------------------------------------------------


def test_wanted_later_than_today(company_a, wh):
    bolt = make_product(company_a, "BOLT")
    put_stock(company_a, bolt, wh.stock_location, 4)
    receive(company_a, wh, bolt, 6, 7)
    in_stock = one(company_a, wh, ask(bolt, 4, wanted=20))
    assert (in_stock.date, in_stock.source) == (day(20), "stock")
    with_receipt = one(company_a, wh, ask(bolt, 10, wanted=20))
    assert (with_receipt.date, with_receipt.source) == (day(20), "receipt")
    assert one(company_a, wh, ask(bolt, 10, wanted=3)).date == day(7)


# --- refusals --------------------------------------------------------------------------------


def test_refuses_floats_non_positive_quantities_and_a_foreign_warehouse(company_a, company_b, wh):
    bolt = make_product(company_a, "BOLT")
    for quantity in (1.5, 0, -1):
        with pytest.raises(ValueError):
            promise(company_a, wh, AtpRequest(product=bolt, quantity=quantity, wanted=TODAY))
    with pytest.raises(ValueError):
        promise(company_b, wh, ask(bolt, 1))


# --- queries ---------------------------------------------------------------------------------


def _queries(company, wh, requests):
    fresh = Warehouse.unscoped.get(pk=wh.pk)  # view location not loaded
    with CaptureQueriesContext(connection) as captured:
        answers = promise_dates(company=company, warehouse=fresh, requests=requests, today=TODAY)
    assert len(answers) == len(requests)
    return len(captured)


def test_queries_do_not_grow_with_the_number_of_lines(company_a, wh, django_assert_max_num_queries):
    products = [make_product(company_a, f"P{n:02d}", purchase_lead_days=n % 3) for n in range(20)]
    for n, product in enumerate(products):
        put_stock(company_a, product, wh.stock_location, n + 1)
        receive(company_a, wh, product, 5, n % 7)
        deliver(company_a, wh, product, 3, n % 5)
    many = [ask(products[n % 20], 1 + n % 4, n % 9, key=n) for n in range(200)]
    single = _queries(company_a, wh, many[:1])
    assert _queries(company_a, wh, many) == single
    fresh = Warehouse.unscoped.get(pk=wh.pk)
    with django_assert_max_num_queries(4):
        promise_dates(company=company_a, warehouse=fresh, requests=many, today=TODAY)
    with django_assert_max_num_queries(3):  # the view location loaded
        promise_dates(company=company_a, warehouse=fresh, requests=many, today=TODAY)


# --- property: the projection against a day-by-day model ------------------------------------

HORIZON = 40
events = st.lists(
    st.tuples(st.integers(-5, 30), st.integers(-8, 10).filter(bool)), max_size=8
)  # (day, + receipt / − demand)
lines = st.lists(
    st.tuples(st.integers(1, 12), st.integers(-3, 25), st.sampled_from([0, 0, 6])),
    min_size=1,
    max_size=6,
)  # (quantity, day wanted, lead time)


def _model_atp(free: int, changes: dict[int, int], start: int) -> int:
    """min over t ≥ start of the projected stock, day by day."""
    level = free + sum(q for d, q in changes.items() if d <= start)
    lowest = level
    for t in range(start + 1, HORIZON + 1):
        level += changes.get(t, 0)
        lowest = min(lowest, level)
    return lowest


@settings(max_examples=300, deadline=None)
@given(free=st.integers(0, 15), moves=events, requests=lines)
def test_promises_match_a_day_by_day_model_and_never_go_negative(free, moves, requests):
    projection = Projection(today=TODAY, free=D(free))
    model: dict[int, int] = {}
    for offset, quantity in moves:
        projection.add(day(offset), D(quantity), "R")
        model[max(offset, 0)] = model.get(max(offset, 0), 0) + quantity
    promised_from_supply = []
    for quantity, wanted, lead in requests:
        product = Product(supply=Supply.BUY, purchase_lead_days=lead)
        answer = promise_one(projection, product, D(quantity), day(wanted))
        start = max(wanted, 0)
        ready = next(
            (d for d in range(HORIZON + 1) if _model_atp(free, model, d) >= quantity), None
        )
        by_lead = max(lead, start) if lead else None
        if ready is not None and (by_lead is None or max(ready, start) <= by_lead):
            expected, taken = max(ready, start), quantity
            assert answer.source in ("stock", "receipt")
            promised_from_supply.append(expected)
        elif by_lead is not None:
            expected = by_lead
            taken = min(max(_model_atp(free, model, by_lead), 0), quantity)
            assert answer.source == "buy"
        else:
            expected, taken = None, 0
            assert answer.source == "none"
        assert answer.date == (day(expected) if expected is not None else None)
        assert answer.available_now >= 0
        if expected is not None and taken:
            model[expected] = model.get(expected, 0) - taken
    for promised in promised_from_supply:
        assert _model_atp(free, model, promised) >= 0
        assert projection.atp(day(promised)) >= 0


def test_projection_by_hand():
    """Free 5; receipt 10 on day 3; demand 12 on day 6: ATP 3 until day 3, 3 after."""
    projection = Projection(today=TODAY, free=D(5))
    projection.add(day(3), D(10), "WH/IN/1")
    projection.add(day(6), D(-12))
    assert [projection.atp(day(n)) for n in (0, 2, 3, 5, 6, 9)] == [3, 3, 3, 3, 3, 3]
    assert projection.ready(D(3)) == TODAY
    assert projection.ready(D(4)) is None
    projection.add(day(8), D(4), "WH/IN/2")
    assert projection.ready(D(4)) == day(8)
    assert projection.atp(day(-5)) == projection.atp(TODAY) == 3
    assert projection.on_hand_now() == 3
    projection.take(TODAY, D(3))
    assert projection.on_hand_now() == 0
    assert projection.atp_final() == 4
