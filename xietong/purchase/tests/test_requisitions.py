"""Purchase requisitions: estimates, approval above the limit by someone else, orders grouped
by supplier, requisitions from replenishment rules."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from xietong.core.tenancy import company_scope
from xietong.inventory.replenishment import rule_set
from xietong.purchase import orders, requisitions
from xietong.purchase.models import PurchaseOrder, Requisition, RequisitionLine
from xietong.purchase.tests.factories import D, buying, material, price, supplier

pytestmark = pytest.mark.django_db


@pytest.fixture
def b(company_a):  # type: ignore[no-untyped-def]
    return buying(company_a)


def test_small_requisition_is_approved_on_submit(b, company_a, users_a):
    bolt = material(company_a, "2")
    vendor = supplier(company_a)
    price(company_a, vendor, bolt, "1.50")
    r = requisitions.requisition_create(
        company=company_a, actor=users_a["planner"],
        lines=[{"product": bolt, "quantity": "1000", "reason": "Line 3 restock"}],
    )  # fmt: skip
    assert r.amount_estimate == D(1500) and r.requester == users_a["planner"]
    assert r.lines.get().price_estimate == D("1.5")
    r = requisitions.requisition_submit(requisition=r, actor=users_a["planner"])
    assert r.state == Requisition.State.APPROVED


def test_requester_cannot_approve_own_requisition_above_the_limit(b, company_a, users_a):
    press = material(company_a, "9000")
    buyer = users_a["buyer"]
    r = requisitions.requisition_create(company=company_a, actor=buyer,
                                        lines=[{"product": press, "quantity": "1"}])  # fmt: skip
    r = requisitions.requisition_submit(requisition=r, actor=buyer)
    assert r.state == Requisition.State.TO_APPROVE
    with pytest.raises(PermissionDenied):
        requisitions.requisition_decide(requisition=r, actor=buyer, approved=True)
    with pytest.raises(PermissionDenied):  # no purchase.approve
        requisitions.requisition_decide(requisition=r, actor=users_a["warehouse_clerk"],
                                        approved=True)  # fmt: skip
    with pytest.raises(ValidationError):  # a rejection says why
        requisitions.requisition_decide(requisition=r, actor=users_a["executive"],
                                        approved=False)  # fmt: skip
    r.refresh_from_db()
    assert r.state == Requisition.State.TO_APPROVE
    r = requisitions.requisition_decide(requisition=r, actor=users_a["executive"], approved=True)
    assert r.state == Requisition.State.APPROVED and r.decided_by == users_a["executive"]


def test_bad_requisitions_write_nothing(b, company_a, company_b):
    before = Requisition.unscoped.count()
    for lines in ([], [{"product": material(company_b), "quantity": "1"}],
                  [{"product": material(company_a), "quantity": "0"}],
                  [{"product": material(company_a), "quantity": "1",
                    "supplier": supplier(company_b)}]):  # fmt: skip
        with pytest.raises(ValidationError):
            requisitions.requisition_create(company=company_a, actor=None, lines=lines)
    assert Requisition.unscoped.count() == before


def test_orders_from_requisitions_group_by_supplier_and_product(b, company_a):
    bolt, nut = material(company_a), material(company_a)
    cheap, other = supplier(company_a), supplier(company_a)
    price(company_a, cheap, bolt, "1")
    price(company_a, other, bolt, "2")
    price(company_a, other, nut, "3")
    reqs = []
    for quantity in ("10", "15"):
        r = requisitions.requisition_create(
            company=company_a, actor=None,
            lines=[{"product": bolt, "quantity": quantity}, {"product": nut, "quantity": "5"}],
        )  # fmt: skip
        reqs.append(requisitions.requisition_submit(requisition=r, actor=None))
    lines = requisitions.open_lines(company=company_a)
    made = requisitions.orders_from_requisitions(company=company_a, actor=None, lines=lines)
    assert sorted((o.party_id, len(orders.order_lines(o))) for o in made) == sorted(
        [(cheap.pk, 1), (other.pk, 1)]
    )
    bolts = next(o for o in made if o.party_id == cheap.pk)
    (line,) = orders.order_lines(bolts)
    assert line.quantity == D(25) and line.unit_price == D(1)
    assert RequisitionLine.objects.filter(order_line=line).count() == 2
    assert not RequisitionLine.objects.filter(state=RequisitionLine.State.OPEN).exists()
    assert all(r.state == Requisition.State.DONE
               for r in Requisition.unscoped.filter(pk__in=[r.pk for r in reqs]))  # fmt: skip
    with pytest.raises(ValidationError):  # ordered already
        requisitions.orders_from_requisitions(company=company_a, actor=None, lines=lines)
    orders.order_update(order=bolts, actor=None, lines=[  # the links follow an edited line
        {"product": bolt, "quantity": "30", "unit_price": "0.9"}])  # fmt: skip
    (edited,) = orders.order_lines(bolts)
    assert RequisitionLine.objects.filter(order_line=edited).count() == 2
    orders.order_cancel(order=bolts, actor=None)
    assert RequisitionLine.objects.filter(state=RequisitionLine.State.OPEN).count() == 2


def test_replenishment_makes_one_requisition_and_not_twice(b, company_a):
    bolt = material(company_a, purchase_lead_days=3)
    with company_scope(company_a):
        rule_set(company=company_a, product=bolt, warehouse=b.warehouse, min_qty=D(10),
                 max_qty=D(100), multiple=D(25))  # fmt: skip
    (made,) = requisitions.requisitions_from_replenishment(company=company_a, actor=None)
    assert made.source == Requisition.Source.REPLENISHMENT
    assert made.state == Requisition.State.APPROVED
    assert made.lines.get().quantity == D(100)
    assert requisitions.requisitions_from_replenishment(company=company_a, actor=None) == []
    vendor = supplier(company_a)
    (order,) = requisitions.orders_from_requisitions(
        company=company_a, actor=None, lines=list(made.lines.all()), suppliers={
            made.lines.get().pk: vendor},
    )  # fmt: skip
    assert requisitions.requisitions_from_replenishment(company=company_a, actor=None) == []
    orders.order_submit(order=order, actor=None)  # approved: a scheduled receipt now
    assert PurchaseOrder.unscoped.get(pk=order.pk).state == PurchaseOrder.State.APPROVED
    assert requisitions.requisitions_from_replenishment(company=company_a, actor=None) == []
