"""Perpetual valuation: layers and ledger entries of done moves (average and FIFO, worked by
hand), stock value = stock account balance at any date, lots, returns, losses, consumables,
company isolation, negative stock, and the correction of backdated moves."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from xietong.core.jobs import job_run
from xietong.core.models import Job
from xietong.core.tenancy import company_scope
from xietong.finance.charts import chart_load
from xietong.finance.models import Account, Entry, Line
from xietong.finance.tests.factories import books
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory import valuation
from xietong.inventory.models import CategoryValuation, Location, ValuationLayer
from xietong.inventory.stock import StockError, lot_create, move_create, moves_done
from xietong.inventory.warehouses import location_create, virtual_locations, warehouse_create
from xietong.product import services as product_services
from xietong.product.models import CostRecord, Product
from xietong.product.tests.catalog_factories import make_category, unit

pytestmark = pytest.mark.django_db

D = Decimal
DAY1, DAY2, DAY3, DAY4, DAY5 = (dt.date(2026, 3, d) for d in (2, 9, 16, 23, 30))


class Site:
    """A company with books, a warehouse and its virtual locations."""

    def __init__(self, company, method="average"):  # type: ignore[no-untyped-def]
        self.company = company
        self.books = books(company)
        self.warehouse = warehouse_create(company=company, code="WH", name="Main")
        self.stock = self.warehouse.stock_location
        virtual = virtual_locations(company=company)
        self.supplier = virtual["supplier"]
        self.customer = virtual["customer"]
        self.loss = virtual["inventory"]
        self.scrap = virtual["scrap"]
        self.production = virtual["production"]
        self.setup = valuation.valuation_setup(company=company, method=method)
        self.n = 0

    def product(self, type_=Product.Type.STOCKABLE, **fields):  # type: ignore[no-untyped-def]
        self.n += 1
        with company_scope(self.company):
            return product_services.product_create(
                company=self.company, actor=None, sku=f"P{self.n}", name=f"Product {self.n}",
                uom=unit("pc"), type=type_, **fields,
            )  # fmt: skip

    def move(self, product, qty, src, dst, day, cost=None, lot=None, previous=None):  # type: ignore[no-untyped-def]
        move = move_create(
            company=self.company, product=product, quantity=D(qty), from_location=src,
            to_location=dst, planned_date=day, unit_cost=None if cost is None else D(cost),
            lot=lot, previous=previous,
        )  # fmt: skip
        return moves_done(moves=[move], effective_date=day)

    def receive(self, product, qty, cost, day=DAY1, **kw):  # type: ignore[no-untyped-def]
        return self.move(product, qty, self.supplier, self.stock, day, cost=cost, **kw)

    def ship(self, product, qty, day=DAY3, **kw):  # type: ignore[no-untyped-def]
        return self.move(product, qty, self.stock, self.customer, day, **kw)

    def balance(self, account, as_of=None, product=None):  # type: ignore[no-untyped-def]
        lines = Line.unscoped.filter(
            company=self.company, account=account, entry__state=Entry.State.POSTED
        )
        if as_of is not None:
            lines = lines.filter(date__lte=as_of)
        if product is not None:
            lines = lines.filter(product=product)
        sums = lines.aggregate(d=Sum("debit"), c=Sum("credit"))
        return (D(sums["d"] or 0) - D(sums["c"] or 0)).quantize(D("0.01"))

    def value(self, as_of=dt.date(2026, 12, 31), product=None):  # type: ignore[no-untyped-def]
        return valuation.stock_value(
            company=self.company, as_of=as_of, product=product
        ).total_value.quantize(D("0.01"))


@pytest.fixture
def site(company_a):  # type: ignore[no-untyped-def]
    return Site(company_a)


@pytest.fixture
def fifo(company_a):  # type: ignore[no-untyped-def]
    return Site(company_a, method="fifo")


def layers(product):  # type: ignore[no-untyped-def]
    return list(ValuationLayer.unscoped.filter(product=product).order_by("pk"))


# --- setup -----------------------------------------------------------------------------------


def test_setup_picks_the_accounts_of_the_cn_chart(company_a, admin_a):
    chart_load(company=company_a, template="cn")
    row = valuation.valuation_setup(company=company_a, actor=admin_a)
    assert row.category is None and row.method == "average"
    assert row.stock_account.code == "1405"
    assert row.input_account.code == "1402"
    assert row.output_account.code == "6401"
    assert row.loss_account.code == "6711"
    assert row.production_account.code == "500101"
    assert row.journal.code == "STK"


def test_setup_with_a_small_chart_falls_back_to_payable_expense_and_general(site):
    row, b = site.setup, site.books
    assert (row.stock_account, row.input_account, row.output_account) == (
        b.stock, b.payable, b.cogs
    )  # fmt: skip
    assert (row.loss_account, row.production_account, row.journal) == (
        b.expense, b.expense, b.general
    )  # fmt: skip


def test_setup_updates_keeping_omitted_accounts_and_adds_category_rows(site, company_a):
    b = site.books
    row = valuation.valuation_setup(company=company_a, method="fifo", loss_account=b.fx)
    assert row.pk == site.setup.pk and row.method == "fifo" and row.loss_account == b.fx
    assert row.output_account == b.cogs
    with company_scope(company_a):
        category = make_category(company_a, "Raw")
    own = valuation.valuation_setup(company=company_a, category=category, method="average")
    assert own.pk != row.pk and own.category == category
    assert own.loss_account == b.fx  # taken from the default row
    assert CategoryValuation.unscoped.filter(company=company_a).count() == 2


def test_setup_refuses_bad_accounts_and_writes_nothing(site, company_a, company_b):
    other = books(company_b)
    group = Account.unscoped.create(company=company_a, code="14", name="Group", type="asset",
                                    is_group=True)  # fmt: skip
    for bad in (
        {"method": "lifo"},
        {"stock_account": other.stock},
        {"stock_account": group},
        {"output_account": site.books.stock},
        {"stock_account": site.books.cogs},
    ):
        with pytest.raises(ValidationError):
            valuation.valuation_setup(company=company_a, **bad)
    row = CategoryValuation.unscoped.get(pk=site.setup.pk)
    assert (row.method, row.stock_account_id) == ("average", site.books.stock.pk)


def test_method_cannot_change_while_products_hold_stock(site, company_a):
    product = site.product()
    site.receive(product, 1, 5)
    with pytest.raises(ValidationError) as caught:
        valuation.valuation_setup(company=company_a, method="fifo")
    assert caught.value.code == "stock_held"
    with company_scope(company_a):
        category = make_category(company_a, "Held")
    product_services.product_update(product=product, actor=None, category=category)
    with pytest.raises(ValidationError):  # a category row would change its method too
        valuation.valuation_setup(company=company_a, category=category, method="fifo")
    valuation.valuation_setup(company=company_a, category=category, loss_account=site.books.fx)
    site.ship(product, 1)
    assert valuation.valuation_setup(company=company_a, method="fifo").method == "fifo"


# --- average and FIFO by hand ----------------------------------------------------------------


def test_average_receive_10_at_5_and_10_at_7_ship_15_costs_90(site, company_a):
    product = site.product()
    site.receive(product, 10, 5, DAY1)
    site.receive(product, 10, 7, DAY2)
    product.refresh_from_db()
    assert product.average_cost == D(6)
    (shipped,) = site.ship(product, 15, DAY3)
    b = site.books
    assert site.balance(b.cogs) == D(90)
    assert site.balance(b.stock) == D(30) == site.value()
    assert site.balance(b.payable) == D(-120)
    out = layers(product)[-1]
    assert (out.quantity, out.value, out.unit_cost) == (D(-15), D(-90), D(6))
    assert valuation.move_values(moves=[shipped]) == {shipped.pk: (D(-15), D(-90))}
    entry = out.entry
    assert entry.source_type == "inventory.move" and entry.date == DAY3
    assert entry.journal == b.general
    assert {(line.account_id, line.product_id) for line in entry.lines.all()} == {
        (b.cogs.pk, product.pk), (b.stock.pk, product.pk)
    }  # fmt: skip
    history = CostRecord.unscoped.filter(product=product, kind="average").order_by("pk")
    assert [r.cost for r in history] == [D(5), D(6)]
    assert_ledger_sound([company_a])


def test_fifo_receive_10_at_5_and_10_at_7_ship_15_costs_85(fifo, company_a):
    product = fifo.product()
    fifo.receive(product, 10, 5, DAY1)
    fifo.receive(product, 10, 7, DAY2)
    fifo.ship(product, 15, DAY3)
    b = fifo.books
    assert fifo.balance(b.cogs) == D(85)
    assert fifo.balance(b.stock) == D(35) == fifo.value()
    first, second, out = layers(product)
    assert (first.remaining_qty, first.remaining_value) == (0, 0)
    assert (second.remaining_qty, second.remaining_value) == (D(5), D(35))
    assert (out.value, out.remaining_qty) == (D(-85), 0)
    assert_ledger_sound([company_a])


def test_fifo_leaves_no_residue_when_a_layer_is_used_up(fifo):
    product = fifo.product()
    fifo.receive(product, 3, "3.333333", DAY1)  # 10.00
    (first,) = layers(product)
    assert first.value == D("10.00")
    for _ in range(3):
        fifo.ship(product, 1, DAY2)
    first.refresh_from_db()
    assert (first.remaining_qty, first.remaining_value) == (0, 0)
    assert [layer.value for layer in layers(product)[1:]] == [D("-3.33"), D("-3.34"), D("-3.33")]
    assert fifo.balance(fifo.books.stock) == 0 == fifo.value()


def test_average_leaves_no_residue_when_the_stock_is_emptied(site):
    product = site.product()
    site.receive(product, 3, "3.333333", DAY1)
    site.ship(product, 1, DAY2)
    site.ship(product, 2, DAY3)
    assert [layer.value for layer in layers(product)] == [D("10"), D("-3.33"), D("-6.67")]
    assert site.balance(site.books.stock) == 0 == site.value()


def test_one_entry_per_call_with_lines_per_product_and_account(site):
    p1, p2 = site.product(), site.product()
    moves = [
        move_create(company=site.company, product=p, quantity=D(q), from_location=site.supplier,
                    to_location=site.stock, planned_date=DAY1, unit_cost=D(c))
        for p, q, c in ((p1, 2, 10), (p2, 3, 4), (p1, 1, 13))
    ]  # fmt: skip
    moves_done(moves=moves, effective_date=DAY1)
    (entry,) = Entry.unscoped.filter(company=site.company, source_type="inventory.move")
    lines = {(line.account_id, line.product_id): line.debit - line.credit
             for line in entry.lines.all()}  # fmt: skip
    b = site.books
    assert lines == {
        (b.stock.pk, p1.pk): D(33), (b.payable.pk, p1.pk): D(-33),
        (b.stock.pk, p2.pk): D(12), (b.payable.pk, p2.pk): D(-12),
    }  # fmt: skip
    assert entry.source_id == min(m.pk for m in moves)
    assert {layer.entry_id for layer in ValuationLayer.unscoped.all()} == {entry.pk}
    p1.refresh_from_db()
    assert p1.average_cost == D(11)


def test_internal_moves_and_moves_outside_stock_are_not_valued(site):
    product = site.product()
    site.receive(product, 5, 2)
    shelf = location_create(company=site.company, name="A1", parent=site.stock)
    site.move(product, 2, site.stock, shelf, DAY2)
    site.move(product, 1, site.supplier, site.customer, DAY2, cost=9)  # drop-ship
    assert len(layers(product)) == 1
    assert Entry.unscoped.filter(company=site.company).count() == 1


# --- stock value = stock account ----------------------------------------------------------


@pytest.mark.parametrize("method", ["average", "fifo"])
def test_stock_value_equals_the_stock_account_at_every_date(company_a, method):
    site = Site(company_a, method=method)
    pa, pb = site.product(), site.product()
    site.receive(pa, 10, 5, DAY1)
    site.receive(pb, 4, "2.5", DAY1)
    site.receive(pa, 10, 7, DAY2)
    site.ship(pa, 15, DAY3)
    site.move(pb, 1, site.stock, site.loss, DAY4)  # count loss
    site.receive(pb, 6, 3, DAY4)
    site.move(pa, 1, site.stock, site.scrap, DAY5)
    shelf = location_create(company=company_a, name="B1", parent=site.stock)
    site.move(pb, 3, site.stock, shelf, DAY5)
    stock = site.books.stock
    for day in (DAY1 - dt.timedelta(days=1), DAY1, DAY2, DAY3, DAY4, DAY5):
        result = valuation.stock_value(company=company_a, as_of=day)
        assert result.total_value == site.balance(stock, day), day
        by_place = valuation.stock_value(company=company_a, as_of=day, by_location=True)
        assert by_place.total_value == result.total_value, day
        assert by_place.total_quantity == result.total_quantity, day
    assert site.balance(site.books.expense) == (D("2.5") + (D(6) if method == "average" else 7))
    rows = {(r.product, r.location): r for r in valuation.stock_value(
        company=company_a, as_of=DAY5, location=site.warehouse.view_location)}  # fmt: skip
    assert rows[(pb, shelf)].quantity == D(3)
    assert rows[(pb, site.stock)].quantity == D(6)
    assert sum(r.value for r in rows.values()) == site.balance(stock)
    earlier = {(r.product, r.location): r.quantity for r in valuation.stock_value(
        company=company_a, as_of=DAY4, by_location=True)}  # fmt: skip
    assert earlier == {(pa, site.stock): D(5), (pb, site.stock): D(9)}
    assert_ledger_sound([company_a])


# --- lots, returns, losses, consumables ----------------------------------------------------


def test_lots_are_valued_per_move_part_in_company_fifo_order(fifo):
    product = fifo.product(tracking=Product.Tracking.LOT)
    lot_a = lot_create(company=fifo.company, product=product, name="A")
    lot_b = lot_create(company=fifo.company, product=product, name="B")
    fifo.receive(product, 5, 10, DAY1, lot=lot_a)
    fifo.receive(product, 5, 20, DAY2, lot=lot_b)
    done = fifo.ship(product, 6, DAY3)
    assert len(done) == 2  # split by lot
    values = valuation.move_values(moves=done)
    assert sum(v for _q, v in values.values()) == D(-70)
    assert fifo.balance(fifo.books.cogs) == D(70)
    assert fifo.value() == D(80) == fifo.balance(fifo.books.stock)


def test_customer_return_comes_back_at_the_cost_it_left(site):
    product = site.product()
    site.receive(product, 10, 5, DAY1)
    (delivery,) = site.ship(product, 4, DAY2)  # 20
    site.receive(product, 10, 8, DAY3)  # 6 @ 5 + 10 @ 8 = 110 / 16
    (other,) = site.move(product, 2, site.customer, site.stock, DAY4)  # at the average
    assert valuation.move_values(moves=[other])[other.pk][1] == D("13.75")
    (back,) = site.move(product, 1, site.customer, site.stock, DAY4, previous=delivery)
    assert valuation.move_values(moves=[back])[back.pk] == (D(1), D(5))
    assert site.balance(site.books.cogs) == D(20) - 5 - D("13.75")
    assert site.value() == site.balance(site.books.stock) == D("128.75")


def test_scrap_and_count_loss_go_to_the_loss_account(site):
    product = site.product()
    site.receive(product, 10, 3, DAY1)
    site.move(product, 2, site.stock, site.scrap, DAY2)
    site.move(product, 1, site.stock, site.loss, DAY2)
    site.move(product, 1, site.loss, site.stock, DAY3)  # found again
    site.move(product, 2, site.stock, site.production, DAY3)
    assert site.balance(site.books.expense) == D(9) - 3 + 6
    assert site.value() == D(18) == site.balance(site.books.stock)


def test_consumables_are_not_valued(site):
    product = site.product(type_=Product.Type.CONSUMABLE)
    site.receive(product, 10, 3)
    site.ship(product, 4)
    assert layers(product) == []
    assert not Entry.unscoped.filter(company=site.company).exists()


def test_a_company_without_books_keeps_quantities_only(company_b):
    warehouse = warehouse_create(company=company_b, code="HK", name="HK")
    supplier = virtual_locations(company=company_b)["supplier"]
    with company_scope(company_b):
        product = product_services.product_create(
            company=company_b, actor=None, sku="X", name="X", uom=unit("pc")
        )
    move = move_create(
        company=company_b, product=product, quantity=D(2), from_location=supplier,
        to_location=warehouse.stock_location, planned_date=DAY1, unit_cost=D(1),
    )  # fmt: skip
    moves_done(moves=[move])
    assert layers(product) == []
    assert not CategoryValuation.unscoped.filter(company=company_b).exists()


def test_first_move_sets_up_the_default_from_the_chart(company_a):
    b = books(company_a)
    warehouse = warehouse_create(company=company_a, code="WH", name="Main")
    supplier = virtual_locations(company=company_a)["supplier"]
    with company_scope(company_a):
        product = product_services.product_create(
            company=company_a, actor=None, sku="X", name="X", uom=unit("pc")
        )
    move = move_create(
        company=company_a, product=product, quantity=D(2), from_location=supplier,
        to_location=warehouse.stock_location, planned_date=DAY1, unit_cost=D(4),
    )  # fmt: skip
    moves_done(moves=[move], effective_date=DAY1)
    row = CategoryValuation.unscoped.get(company=company_a)
    assert row.stock_account == b.stock
    assert layers(product)[0].value == D(8)


def test_category_row_applies_to_the_categorys_subtree(site, company_a):
    with company_scope(company_a):
        raw = make_category(company_a, "Raw")
        steel = make_category(company_a, "Steel", parent=raw)
    valuation.valuation_setup(company=company_a, category=raw, method="fifo",
                              output_account=site.books.expense)  # fmt: skip
    product = site.product(category=steel)
    site.receive(product, 10, 5, DAY1)
    site.receive(product, 10, 7, DAY2)
    site.ship(product, 15, DAY3)
    assert site.balance(site.books.expense) == D(85)  # FIFO on the category's account


def test_companies_are_kept_apart(site, company_a, company_b):
    other = Site(company_b)
    pa, pb = site.product(), other.product()
    site.receive(pa, 2, 5)
    other.receive(pb, 3, 7)
    assert [r.product for r in valuation.stock_value(company=company_a, as_of=DAY5)] == [pa]
    assert other.value(DAY5) == D(21) == other.balance(other.books.stock)
    assert {layer.company_id for layer in layers(pb)} == {company_b.pk}
    with pytest.raises(StockError):
        valuation.stock_value(company=company_a, as_of=DAY5, product=pb)
    assert_ledger_sound([company_a, company_b])


def test_a_closed_period_refuses_the_move_and_nothing_is_written(site):
    from xietong.finance.periods import period_close, period_for

    product = site.product()
    period_close(period=period_for(company=site.company, date=DAY1))
    move = move_create(company=site.company, product=product, quantity=D(1),
                       from_location=site.supplier, to_location=site.stock,
                       planned_date=DAY1, unit_cost=D(1))  # fmt: skip
    with pytest.raises(ValidationError):
        moves_done(moves=[move], effective_date=DAY1)
    move.refresh_from_db()
    assert move.state == "draft" and layers(product) == []


# --- negative stock --------------------------------------------------------------------------


def _negative(site):  # type: ignore[no-untyped-def]
    site.stock.allow_negative = True
    Location.unscoped.filter(pk=site.stock.pk).update(allow_negative=True)


def test_average_negative_stock_is_revalued_by_the_next_receipt(site, company_a):
    _negative(site)
    product = site.product()
    product_services.product_cost_set(product=product, actor=None, cost=D(4))
    site.ship(product, 5, DAY1)  # -5 at the standard cost 4 = 20
    site.receive(product, 10, 6, DAY2)  # the 5 short are worth 30: 10 more cost of sales
    assert site.balance(site.books.cogs) == D(30)
    assert site.value() == D(30) == site.balance(site.books.stock)
    adjustment = layers(product)[-1]
    assert (adjustment.quantity, adjustment.value) == (0, D(-10))
    assert_ledger_sound([company_a])


def test_fifo_negative_stock_is_filled_by_the_next_receipt(fifo):
    _negative(fifo)
    product = fifo.product()
    fifo.receive(product, 10, 5, DAY1)
    fifo.ship(product, 15, DAY2)  # 50 + 5 × 5 (last cost)
    assert fifo.balance(fifo.books.cogs) == D(75)
    fifo.receive(product, 10, 8, DAY3)  # the 5 short cost 40, not 25
    assert fifo.balance(fifo.books.cogs) == D(90)
    assert fifo.value() == D(40) == fifo.balance(fifo.books.stock)
    assert sum(layer.remaining_value for layer in layers(product)) == D(40)


# --- backdated moves -----------------------------------------------------------------------


def _run_queued_job(product):  # type: ignore[no-untyped-def]
    job = Job.unscoped.get(kind=valuation.JOB_KIND, params__product_id=product.pk)
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.DONE, job.message
    return job


def test_backdated_delivery_average_correction_equals_in_order_valuation(site, company_a):
    in_order, late = site.product(), site.product()
    for product, moves in (
        (in_order, [("in", 10, 5, DAY1), ("out", 5, None, DAY2), ("in", 10, 8, DAY3),
                    ("out", 10, None, DAY4)]),
        (late, [("in", 10, 5, DAY1), ("in", 10, 8, DAY3), ("out", 10, None, DAY4),
                ("out", 5, None, DAY2)]),
    ):  # fmt: skip
        for kind, qty, cost, day in moves:
            if kind == "in":
                site.receive(product, qty, cost, day)
            else:
                site.ship(product, qty, day)
    cogs = site.books.cogs
    assert site.balance(cogs, product=in_order) == D(95)
    assert site.balance(cogs, product=late) == D("97.50")
    assert not Job.unscoped.filter(params__product_id=in_order.pk).exists()
    job = _run_queued_job(late)
    assert job.params["from_date"] == DAY2.isoformat()
    assert D(job.result["correction"]) == D("2.50")
    assert site.balance(cogs, product=late) == site.balance(cogs, product=in_order)
    assert site.value(product=late) == site.value(product=in_order) == D(35)
    correction = layers(late)[-1]
    assert (correction.quantity, correction.value, correction.move) == (0, D("2.50"), None)
    assert correction.entry.date == timezone.localdate()
    late.refresh_from_db()
    assert late.average_cost == D(7)
    again = valuation.product_revalue(product=late, from_date=DAY1)
    assert again.correction == 0 and again.entry is None  # idempotent
    assert_ledger_sound([company_a])


def test_backdated_receipt_fifo_correction_equals_in_order_valuation(fifo, company_a):
    _negative(fifo)
    in_order, late = fifo.product(), fifo.product()
    fifo.receive(in_order, 10, 5, DAY1)
    fifo.receive(in_order, 10, 6, DAY2)
    fifo.ship(in_order, 15, DAY3)
    fifo.receive(in_order, 10, 8, DAY4)
    fifo.receive(late, 10, 5, DAY1)
    fifo.ship(late, 15, DAY3)  # 5 short at 5
    fifo.receive(late, 10, 8, DAY4)  # fills them at 8
    fifo.receive(late, 10, 6, DAY2)  # backdated
    cogs = fifo.books.cogs
    assert fifo.balance(cogs, product=in_order) == D(80)
    assert fifo.balance(cogs, product=late) == D(90)
    job = _run_queued_job(late)
    assert D(job.result["correction"]) == D(10)
    assert fifo.balance(cogs, product=late) == D(80)
    assert fifo.value(product=late) == fifo.value(product=in_order) == D(110)
    remaining = {(layer.date, layer.remaining_qty, layer.remaining_value)
                 for layer in layers(late) if layer.remaining_qty}  # fmt: skip
    assert remaining == {(DAY2, D(5), D(30)), (DAY4, D(10), D(80))}
    # the next delivery takes the backdated receipt first
    fifo.ship(late, 5, DAY5)
    fifo.ship(in_order, 5, DAY5)
    assert fifo.balance(cogs, product=late) == fifo.balance(cogs, product=in_order) == D(110)
    assert_ledger_sound([company_a])


def _history(site, product, earlier, later):  # type: ignore[no-untyped-def]
    """`earlier` receipts before DAY2, then `later` receipt/delivery pairs from DAY3 on, then
    a delivery backdated to DAY2."""
    for i in range(earlier):
        site.receive(product, 1, 4 + i % 3, DAY1)
    for i in range(later):
        site.receive(product, 2, 5 + i, DAY3)
        site.ship(product, 1, DAY4)
    site.ship(product, 1, DAY2)


def test_the_correction_reads_only_later_layers_in_batches(site):
    short, long_history, busy = site.product(), site.product(), site.product()
    _history(site, short, earlier=2, later=3)
    _history(site, long_history, earlier=20, later=3)
    _history(site, busy, earlier=2, later=9)
    results, queries = {}, {}
    for product in (short, long_history, busy):
        valuation.product_revalue(product=product, from_date=DAY2, batch_size=2)
        with CaptureQueriesContext(connection) as captured:
            results[product] = valuation.product_revalue(
                product=product, from_date=DAY2, batch_size=2
            )
        queries[product] = len(captured.captured_queries)
    # the later layers: 2 per pair, the backdated delivery and the first run's correction
    assert [results[p].layers for p in (short, long_history, busy)] == [8, 8, 20]
    assert [results[p].batches for p in (short, long_history, busy)] == [4, 4, 10]
    assert queries[short] == queries[long_history] < queries[busy]
    assert all(results[p].correction == 0 for p in results)


def test_backdated_job_is_queued_once_per_product_and_earliest_date(site):
    product = site.product()
    site.receive(product, 10, 5, DAY3)
    site.ship(product, 1, DAY2)
    site.ship(product, 1, DAY2)
    site.ship(product, 1, DAY1)
    dates = sorted(
        job.params["from_date"]
        for job in Job.unscoped.filter(kind=valuation.JOB_KIND, params__product_id=product.pk)
    )
    assert dates == [DAY1.isoformat(), DAY2.isoformat()]


# --- concurrency -----------------------------------------------------------------------------


def _concurrent(company) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connections

    site = Site(company, method="fifo")
    product = site.product()
    for cost in (5, 6, 7):
        site.receive(product, 10, cost, DAY1)

    def work(worker: int) -> int:
        done = 0
        try:
            for n in range(4):
                if worker == 0:
                    site.receive(product, 2, 8 + n, DAY2)
                else:
                    site.ship(product, 1, DAY2)
                done += 1
        finally:
            connections.close_all()
        return done

    with ThreadPoolExecutor(4) as pool:
        assert sum(pool.map(work, range(4))) == 16
    rows = layers(product)
    assert len(rows) == 3 + 16
    assert sum(r.quantity for r in rows) == D(30 + 8 - 12)
    assert sum(r.remaining_qty for r in rows) == D(26)
    assert sum(r.remaining_value for r in rows) == site.value() == site.balance(site.books.stock)
    assert site.balance(site.books.cogs) == D(50) + 2 * 6  # the 12 oldest units
    assert_ledger_sound([company])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_receipts_and_deliveries_on_postgresql(company_a):
    _concurrent(company_a)


@pytest.mark.django_db(transaction=True)
def test_concurrent_receipts_and_deliveries_serialise_on_sqlite(company_a):
    if connection.vendor != "sqlite":
        pytest.skip("the SQLite variant; PostgreSQL runs the test marked postgres")
    _concurrent(company_a)
