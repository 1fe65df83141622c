"""Net-change MRP runs on the database: only the changed items (and their BOM descendants) are
planned again and rewritten, and the plan in the database equals a regenerative run's — orders,
pegging (through a phantom kit) and exception messages."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.urls import reverse

from xietong.api.tests.conftest import API, token_client, token_for
from xietong.core.jobs import job_run
from xietong.core.models import Job
from xietong.core.tenancy import company_scope
from xietong.inventory.tests.factories import deliver, receive, site
from xietong.manufacturing import planning
from xietong.manufacturing.models import MpsEntry, PlanException, PlannedOrder, PlanRun
from xietong.product.models import Bom, Product
from xietong.product.tests.bom_factories import line, make_bom, make_item

pytestmark = pytest.mark.django_db
D = Decimal
MONDAY = dt.date(2026, 11, 30)


def week(n: int) -> dt.date:
    return MONDAY + dt.timedelta(days=7 * n)


@pytest.fixture
def plant(company_a):  # type: ignore[no-untyped-def]
    """A bike of a frame (fixed lots of 50), two wheels and a phantom kit of four bolts and a
    wheel; a scooter of a deck, sharing nothing with the bike. Wheels and bolts in stock."""
    with company_scope(company_a):
        where = site(company_a)
        make = {"supply": Product.Supply.MAKE, "manufacturing_lead_days": 7}
        bike = make_item(company_a, "BIKE", **make)
        frame = make_item(company_a, "FRAME", supply=Product.Supply.MAKE,
                          manufacturing_lead_days=14, lot_sizing=Product.LotSizing.FIXED,
                          lot_size=D(50))  # fmt: skip
        wheel = make_item(company_a, "WHEEL", purchase_lead_days=10)
        kit = make_item(company_a, "KIT", **make)
        bolt = make_item(company_a, "BOLT", purchase_lead_days=3, safety_stock=D(20))
        scooter = make_item(company_a, "SCOOTER", **make)
        deck = make_item(company_a, "DECK", purchase_lead_days=21)
        make_bom(company_a, bike, [line(frame, "1"), line(wheel, "2"), line(kit, "1")])
        make_bom(company_a, kit, [line(bolt, "4"), line(wheel, "1")], kind=Bom.Kind.PHANTOM)
        make_bom(company_a, scooter, [line(deck, "1")])
        receive(wheel, 5, location=where.stock)
        receive(bolt, 12, location=where.stock)
        for n, (product, qty, when) in enumerate(
            [(bike, 10, 3), (bike, 4, 5), (scooter, 6, 4), (scooter, 2, 8)]
        ):
            deliver(product, qty, location=where.stock, planned_date=week(when),
                    origin=f"SO-{n}", source_type="sales.orderline", source_id=100 + n)  # fmt: skip
    return where, bike, scooter


def _run(company, kind, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    settings = planning.planning_settings(company)
    run = PlanRun.unscoped.create(
        company=company, scenario=planning.live_scenario(company), kind=kind, start=MONDAY,
        bucket=settings.bucket, horizon=12,
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        run = planning.mrp_run_execute(run=run)
    assert run.state == PlanRun.State.DONE, run.error
    return run


def _plan(company):  # type: ignore[no-untyped-def]
    """The live plan in the database, without ids: orders with their pegging (a parent order
    named by its product, due date and quantity), and exception messages."""
    orders = {
        o.pk: o for o in PlannedOrder.unscoped.filter(company=company).select_related("product")
    }
    scenario = planning.live_scenario(company)
    pegs = planning.pegs_of(scenario.pk, orders)

    def name(o):  # type: ignore[no-untyped-def]
        return (o.product.sku, o.due_date, o.quantity)

    plan = set()
    for pk, o in orders.items():
        lines = tuple(sorted(
            (name(orders[p.parent_id]) if p.parent_id else (p.demand, p.demand_id, p.reference),
             round(p.quantity, 3))
            for p in pegs.get(pk, [])
        ))  # fmt: skip
        plan.add((*name(o), o.supply, o.release_date, o.past_due, o.state, lines))
    exceptions = sorted(
        PlanException.unscoped.filter(company=company).values_list(
            "product__sku", "kind", "date", "suggested_date", "quantity", "reference"
        )
    )
    return plan, exceptions


def _ids(company, sku):  # type: ignore[no-untyped-def]
    return set(PlannedOrder.unscoped.filter(company=company, product__sku=sku)
               .values_list("pk", flat=True))  # fmt: skip


def test_net_change_replans_only_what_changed_and_equals_regenerative(  # type: ignore[no-untyped-def]
    company_a, plant, django_capture_on_commit_callbacks
):
    where, bike, scooter = plant
    REGEN, NET = PlanRun.Kind.REGENERATIVE, PlanRun.Kind.NET_CHANGE
    with company_scope(company_a):
        _run(company_a, REGEN, django_capture_on_commit_callbacks)
        scooter_orders, deck_orders = _ids(company_a, "SCOOTER"), _ids(company_a, "DECK")
        assert scooter_orders and deck_orders
        # a new sales order line for bikes
        deliver(bike, 30, location=where.stock, planned_date=week(6), origin="SO-9",
                source_type="sales.orderline", source_id=109)  # fmt: skip
        net = _run(company_a, NET, django_capture_on_commit_callbacks)
        after_net = _plan(company_a)
        # the scooter's line was not touched: its orders are the same rows
        assert net.figures["net_change"] == "done"
        assert net.figures["replanned_items"] == 5  # bike, frame, wheel, kit, bolt
        assert _ids(company_a, "SCOOTER") == scooter_orders
        assert _ids(company_a, "DECK") == deck_orders
        # the bolts reach the bike's new order through the phantom kit
        bolts = [o for o in after_net[0] if o[0] == "BOLT"]
        assert any(parent[0] == "BIKE" for o in bolts for parent, _q in o[-1])

        regenerated = _run(company_a, REGEN, django_capture_on_commit_callbacks)
        assert regenerated.figures["net_change"] == ""
        assert _plan(company_a) == after_net

        # a chain of net changes: less demand for scooters, then a bike line moved
        deliver(scooter, 5, location=where.stock, planned_date=week(2), origin="SO-10",
                source_type="sales.orderline", source_id=110)  # fmt: skip
        first = _run(company_a, NET, django_capture_on_commit_callbacks)
        assert first.figures["replanned_items"] == 2
        assert _ids(company_a, "BIKE") == set(
            PlannedOrder.unscoped.filter(company=company_a, product=bike,
                                         run=regenerated).values_list("pk", flat=True)
        )  # fmt: skip
        deliver(bike, 3, location=where.stock, planned_date=week(1), origin="SO-11",
                source_type="sales.orderline", source_id=111)  # fmt: skip
        second = _run(company_a, NET, django_capture_on_commit_callbacks)
        assert second.figures["net_change"] == "done"
        chained = _plan(company_a)
        _run(company_a, REGEN, django_capture_on_commit_callbacks)
        assert _plan(company_a) == chained


def test_net_change_without_a_previous_plan_is_regenerative(  # type: ignore[no-untyped-def]
    company_a, plant, django_capture_on_commit_callbacks
):
    with company_scope(company_a):
        first = _run(company_a, PlanRun.Kind.NET_CHANGE, django_capture_on_commit_callbacks)
        assert first.figures["net_change"] == "no_previous_plan"
        planned = _plan(company_a)
        # another worker (or a restart) holds no plan: regenerative again, same plan
        planning._PLANS.clear()
        again = _run(company_a, PlanRun.Kind.NET_CHANGE, django_capture_on_commit_callbacks)
        assert again.figures["net_change"] == "no_previous_plan"
        assert _plan(company_a) == planned
        # nothing changed: nothing replanned, nothing rewritten
        ids = set(PlannedOrder.unscoped.filter(company=company_a).values_list("pk", flat=True))
        same = _run(company_a, PlanRun.Kind.NET_CHANGE, django_capture_on_commit_callbacks)
        assert same.figures["net_change"] == "done"
        assert same.figures["replanned_items"] == 0
        assert set(PlannedOrder.unscoped.filter(company=company_a)
                   .values_list("pk", flat=True)) == ids  # fmt: skip


def test_net_change_with_firm_mps_entries_is_regenerative(  # type: ignore[no-untyped-def]
    company_a, plant, django_capture_on_commit_callbacks
):
    _where, bike, _scooter = plant
    with company_scope(company_a):
        _run(company_a, PlanRun.Kind.REGENERATIVE, django_capture_on_commit_callbacks)
        MpsEntry.unscoped.create(company=company_a, product=bike, date=week(5), quantity=D(8))
        run = _run(company_a, PlanRun.Kind.NET_CHANGE, django_capture_on_commit_callbacks)
        assert run.figures["net_change"] == "firm_production"
        planned = _plan(company_a)
        _run(company_a, PlanRun.Kind.REGENERATIVE, django_capture_on_commit_callbacks)
        assert _plan(company_a) == planned


def test_the_planner_runs_a_net_change_from_the_workspace_and_the_api(  # type: ignore[no-untyped-def]
    company_a, users_a, client_for, plant, django_capture_on_commit_callbacks
):
    client = client_for(users_a["planner"])

    def run(kind):  # type: ignore[no-untyped-def]
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("manufacturing:run"), {"kind": kind})
        made = PlanRun.unscoped.filter(company=company_a).order_by("-pk").first()
        assert response["Location"] == reverse("core:job_detail", args=[made.job_id])
        with django_capture_on_commit_callbacks(execute=True):
            job_run(job_id=made.job_id)
        return made, Job.unscoped.get(pk=made.job_id)

    first, job = run("net_change")
    assert first.kind == PlanRun.Kind.NET_CHANGE and job.status == "done"
    assert "Run regenerative: the worker holds no previous plan" in job.message
    html = client.get(reverse("manufacturing:workspace")).content.decode()
    assert "Run regenerative: the worker holds no previous plan" in html
    second, job = run("net_change")
    assert job.message.startswith("Net change: 0 items replanned")
    html = client.get(reverse("manufacturing:workspace")).content.decode()
    assert "0 of 7 items planned again" in html and 'id="run-net-change"' in html
    # an unknown kind changes nothing
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("manufacturing:run"), {"kind": "partial"})
    assert PlanRun.unscoped.filter(company=company_a).count() == 2

    api = token_client(token_for(users_a["planner"], company_a))
    bad = api.post(API + "/manufacturing/mrp-runs", data=json.dumps({"kind": "partial"}),
                   content_type="application/json")  # fmt: skip
    assert bad.status_code == 422 and PlanRun.unscoped.filter(company=company_a).count() == 2
    with django_capture_on_commit_callbacks():
        made = api.post(API + "/manufacturing/mrp-runs", data=json.dumps({"kind": "net_change"}),
                        content_type="application/json")  # fmt: skip
    assert made.status_code == 201 and made.json()["kind"] == "net_change"
