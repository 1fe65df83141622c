"""Landed costs on purchase receipts: the four splits share the amount exactly, stock value and
average cost rise, the ledger stays sound, the counterpart is the clearing account or the cost
invoice's account, refusals write nothing."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum

from xietong.finance.invoicing import invoice_create, invoice_post
from xietong.finance.models import Account, AccountType, Entry, Invoice, Line
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.models import Picking, ValuationLayer
from xietong.inventory.valuation import stock_value
from xietong.party.models import TimelineEntry
from xietong.product.models import Product
from xietong.purchase import landed, orders, receiving
from xietong.purchase.models import LandedCost, LandedCostLine, PurchaseOrder
from xietong.purchase.tests.factories import D, buying, material, supplier, today

pytestmark = pytest.mark.django_db


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    setup = buying(company_a)
    setup.clearing = Account.unscoped.create(
        company=company_a, code="224190", name="Landed costs clearing",
        type=AccountType.LIABILITY,
    )  # fmt: skip
    setup.settings.landed_cost_account = setup.clearing
    setup.settings.save()
    setup.steel = material(company_a, "40", weight_kg=D("2"))
    setup.bolt = material(company_a, "1", weight_kg=D("0.1"))
    setup.vendor = supplier(company_a)
    order = orders.order_create(company=company_a, actor=None, party=setup.vendor, lines=[
        {"product": setup.steel, "quantity": "10", "unit_price": "40"},
        {"product": setup.bolt, "quantity": "100", "unit_price": "1"},
    ])  # fmt: skip
    orders.order_submit(order=order, actor=None)
    order.refresh_from_db()
    assert order.state == PurchaseOrder.State.APPROVED
    first, second = orders.order_lines(order)
    setup.receipt = receiving.order_receive(order=order, actor=None, lines=[
        {"line": first, "quantity": "10"}, {"line": second, "quantity": "100"},
    ])  # fmt: skip
    assert setup.receipt.state == Picking.State.DONE
    return setup


def _balance(company, account) -> D:  # type: ignore[no-untyped-def]
    sums = Line.unscoped.filter(
        company=company, account=account, entry__state=Entry.State.POSTED
    ).aggregate(d=Sum("debit"), c=Sum("credit"))
    return (D(sums["d"] or 0) - D(sums["c"] or 0)).quantize(D("0.01"))


def _stock_sound(company) -> None:  # type: ignore[no-untyped-def]
    stock = Account.unscoped.get(company=company, code="1405")
    layers = ValuationLayer.unscoped.filter(company=company).aggregate(v=Sum("value"))["v"]
    assert _balance(company, stock) == D(layers).quantize(D("0.01"))
    valued = stock_value(company=company, as_of=today()).total_value.quantize(D("0.01"))
    assert valued == D(layers).quantize(D("0.01"))
    assert_ledger_sound([company])


@pytest.mark.parametrize(
    ("split", "steel", "bolt"),
    [
        ("value", "40.00", "10.00"),  # 400 : 100
        ("quantity", "4.55", "45.45"),  # 10 : 100
        ("weight", "33.33", "16.67"),  # 20 kg : 10 kg
        ("equal", "25.00", "25.00"),
    ],
)
def test_splits_share_the_amount_exactly_and_raise_the_stock_value(
    b, company_a, users_a, split, steel, bolt
):
    actor = users_a["buyer"]
    cost = landed.landed_cost_create(company=company_a, actor=actor, pickings=[b.receipt],
                                     amount=D("50"), description="Sea freight",
                                     split=split)  # fmt: skip
    assert cost.state == LandedCost.State.DRAFT and cost.number.startswith("LC/")
    assert not LandedCostLine.objects.exists()
    landed.landed_cost_post(landed_cost=cost, actor=actor)
    assert cost.state == LandedCost.State.DONE and cost.entry is not None
    shares = {line.move.product_id: line.amount for line in cost.lines.select_related("move")}
    assert shares == {b.steel.pk: D(steel), b.bolt.pk: D(bolt)}
    assert sum(shares.values()) == D("50")
    assert _balance(company_a, b.clearing) == D("-50.00")
    assert _balance(company_a, Account.unscoped.get(company=company_a, code="1405")) == D("550.00")
    b.steel.refresh_from_db()
    b.bolt.refresh_from_db()
    assert b.steel.average_cost == (D(400) + D(steel)) / 10
    assert b.bolt.average_cost == (D(100) + D(bolt)) / 100
    assert (cost.entry.source_type, cost.entry.source_id) == ("purchase.landedcost", cost.pk)
    assert TimelineEntry.unscoped.filter(party=b.vendor, kind="landed_cost").count() == 2
    _stock_sound(company_a)


def test_the_cost_invoice_account_is_the_counterpart(b, company_a):
    freight_co = supplier(company_a, "Freight Co")
    expense = Account.unscoped.get(company=company_a, code="660208")
    invoice = invoice_create(company=company_a, actor=None, kind=Invoice.Kind.SUPPLIER_INVOICE,
                             party=freight_co, date=today(), lines=[
                                 {"description": "Freight", "account": expense,
                                  "quantity": D(1), "unit_price": D("30")}])  # fmt: skip
    invoice_post(invoice=invoice, actor=None)
    cost = landed.landed_cost_create(
        company=company_a,
        actor=None,
        pickings=[b.receipt],
        amount="30",
        description="Freight",
        invoice=invoice,
    )
    landed.landed_cost_post(landed_cost=cost, actor=None)
    assert _balance(company_a, expense) == D("0.00")  # moved from expense into stock
    assert _balance(company_a, b.clearing) == D("0.00")
    _stock_sound(company_a)


def test_goods_already_gone_take_their_share_to_cost_of_sales(b, company_a):
    from xietong.inventory.stock import move_create, moves_done
    from xietong.inventory.warehouses import virtual_locations

    customer = virtual_locations(company=company_a)["customer"]
    move = move_create(
        company=company_a,
        product=b.steel,
        quantity=D(5),
        from_location=b.stock,
        to_location=customer,
        planned_date=today(),
    )
    moves_done(moves=[move])
    cost = landed.landed_cost_create(company=company_a, actor=None, pickings=[b.receipt],
                                     amount="50", description="Duty")  # fmt: skip
    landed.landed_cost_post(landed_cost=cost, actor=None)
    cogs = Account.unscoped.get(company=company_a, code="6401")
    assert _balance(company_a, cogs) == D("220.00")  # 5 × 40 shipped + half of the steel's 40
    b.steel.refresh_from_db()
    assert b.steel.average_cost == D(44)  # (200 + 20) / 5
    _stock_sound(company_a)


def test_refusals_write_nothing(b, company_a, company_b):
    other = buying(company_b)
    assert other.company == company_b
    vendor = supplier(company_a)
    open_order = orders.order_create(
        company=company_a, actor=None, party=vendor, lines=[{"product": b.steel, "quantity": "1"}]
    )
    orders.order_submit(order=open_order, actor=None)
    (waiting,) = orders.order_receipts(open_order)
    customer_invoice_party = supplier(company_a, is_customer=True)
    sale = invoice_create(
        company=company_a,
        actor=None,
        kind=Invoice.Kind.CUSTOMER_INVOICE,
        party=customer_invoice_party,
        date=today(),
        lines=[{"description": "x", "quantity": D(1), "unit_price": D(1)}],
    )
    before = (LandedCost.unscoped.count(), Entry.unscoped.count())
    with pytest.raises(ValidationError) as caught:
        landed.landed_cost_create(
            company=company_a,
            actor=None,
            pickings=[waiting],
            amount="0",
            description=" ",
            split="volume",
            invoice=sale,
        )
    assert set(caught.value.message_dict) == {"pickings", "amount", "description", "split",
                                              "invoice"}  # fmt: skip
    for kwargs in ({"pickings": []}, {"amount": "10.001"}, {"amount": 1.5}):
        with pytest.raises(ValidationError):
            landed.landed_cost_create(**{"company": company_a, "actor": None,
                                         "pickings": [b.receipt], "amount": "10",
                                         "description": "Duty", **kwargs})  # fmt: skip
    # By weight without a weight; without a counterpart.
    heavy = landed.landed_cost_create(
        company=company_a,
        actor=None,
        pickings=[b.receipt],
        amount="10",
        description="Crane",
        split="weight",
    )
    Product.unscoped.filter(pk=b.bolt.pk).update(weight_kg=None)
    with pytest.raises(ValidationError) as caught:
        landed.landed_cost_post(landed_cost=heavy, actor=None)
    assert "split" in caught.value.message_dict
    b.settings.landed_cost_account = None
    b.settings.save()
    plain = landed.landed_cost_create(company=company_a, actor=None, pickings=[b.receipt],
                                      amount="10", description="Duty")  # fmt: skip
    with pytest.raises(ValidationError) as caught:
        landed.landed_cost_post(landed_cost=plain, actor=None)
    assert "landed_cost_account" in caught.value.message_dict
    assert Entry.unscoped.count() == before[1]
    assert not LandedCostLine.objects.exists()
    assert ValuationLayer.unscoped.filter(quantity=0).count() == 0
    for cost in (heavy, plain):
        cost.refresh_from_db()
        assert cost.state == LandedCost.State.DRAFT
    # Cancelling a draft; a cancelled one is neither posted nor cancelled again.
    landed.landed_cost_cancel(landed_cost=plain, actor=None)
    assert plain.state == LandedCost.State.CANCELLED
    with pytest.raises(ValidationError):
        landed.landed_cost_post(landed_cost=plain, actor=None)
    with pytest.raises(ValidationError):
        landed.landed_cost_cancel(landed_cost=plain, actor=None)
