"""The journal of products whose planning data changed (`product.changes`), with real commits:
every write path (the ORM, bulk writes, COPY on PostgreSQL, deletes) records the products it
touches; BOM changes and pruning answer "everything"; and a net-change run re-reads only the
products changed since the previous plan's data were read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection, transaction

from xietong.core import bulkwrite
from xietong.core.tenancy import company_scope
from xietong.inventory.tests.factories import deliver, receive, site
from xietong.manufacturing import planning
from xietong.manufacturing.models import Forecast, PlanRun
from xietong.product import changes
from xietong.product.models import Product
from xietong.product.tests.bom_factories import line, make_bom, make_item

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal
MONDAY = dt.date(2026, 11, 30)


def _changed(company, since):  # type: ignore[no-untyped-def]
    return changes.products_changed(company_id=company.pk, since=since)


def test_every_write_path_is_journaled(company_a, company_b):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        where = site(company_a)
        bike = make_item(company_a, "BIKE", supply=Product.Supply.MAKE)
        wheel = make_item(company_a, "WHEEL")
        start = changes.journal_mark()
        Product.unscoped.filter(pk=bike.pk).update(manufacturing_lead_days=9)
        assert _changed(company_a, start) == {bike.pk}
        assert _changed(company_b, start) == set()  # another company's products

        mark = changes.journal_mark()
        deliver(wheel, 3, location=where.stock, planned_date=MONDAY)  # a stock move
        assert _changed(company_a, mark) == {wheel.pk}
        assert _changed(company_a, start) == {bike.pk, wheel.pk}

        mark = changes.journal_mark()
        with transaction.atomic():  # COPY on PostgreSQL
            bulkwrite.rows_insert(
                Forecast,
                ["company", "product", "date", "quantity", "source", "note"],
                [(company_a.pk, bike.pk, MONDAY, D(4), Forecast.Source.MANUAL, "")],
            )
        assert _changed(company_a, mark) == {bike.pk}

        mark = changes.journal_mark()
        Forecast.unscoped.filter(product=bike).delete()
        receive(wheel, 5, location=where.stock)  # quants
        assert _changed(company_a, mark) == {bike.pk, wheel.pk}

        mark = changes.journal_mark()
        with pytest.raises(RuntimeError), transaction.atomic():
            Product.unscoped.filter(pk=wheel.pk).update(safety_stock=D(3))
            raise RuntimeError  # rolled back: nothing to re-read
        assert _changed(company_a, mark) == set()

        mark = changes.journal_mark()
        make_bom(company_a, bike, [line(wheel, "2")])
        assert _changed(company_a, mark) is None  # a BOM: everything

        pruned = changes.journal_prune(keep=1)
        # PostgreSQL keeps the rows of transactions that a running one (say another test run
        # on the same server) may not see committed yet: none pruned then
        assert pruned > 0 or connection.vendor == "postgresql"
        if pruned:
            assert _changed(company_a, start) is None  # pruned past the watermark
        assert _changed(company_a, changes.journal_mark()) == set()


def test_a_net_change_reads_only_the_changed_products(company_a):  # type: ignore[no-untyped-def]
    with company_scope(company_a):
        where = site(company_a)
        bike = make_item(company_a, "BIKE", supply=Product.Supply.MAKE,
                         manufacturing_lead_days=7)  # fmt: skip
        wheel = make_item(company_a, "WHEEL", purchase_lead_days=10)
        scooter = make_item(company_a, "SCOOTER", purchase_lead_days=10)
        make_bom(company_a, bike, [line(wheel, "2")])
        for product, qty in ((bike, 4), (scooter, 6)):
            deliver(product, qty, location=where.stock, planned_date=MONDAY + dt.timedelta(28),
                    source_type="sales.orderline", source_id=product.pk)  # fmt: skip

        def run(kind):  # type: ignore[no-untyped-def]
            made = PlanRun.unscoped.create(
                company=company_a, scenario=planning.live_scenario(company_a), kind=kind,
                start=MONDAY, bucket="week", horizon=12,
            )  # fmt: skip
            made = planning.mrp_run_execute(run=made)
            assert made.state == PlanRun.State.DONE, made.error
            return made.figures

        run(PlanRun.Kind.REGENERATIVE)
        deliver(scooter, 2, location=where.stock, planned_date=MONDAY + dt.timedelta(35),
                source_type="sales.orderline", source_id=99)  # fmt: skip
        figures = run(PlanRun.Kind.NET_CHANGE)
        assert figures["net_change"] == "done"
        assert figures["products_read"] == 1 and figures["replanned_items"] == 1
        assert figures["demands"] == 3
        # nothing changed since: nothing read, nothing replanned
        figures = run(PlanRun.Kind.NET_CHANGE)
        assert (figures["products_read"], figures["replanned_items"]) == (0, 0)
