"""The ETL against the operational totals: a full load, random changes (new orders, a
cancelled order, a delivery, an invoice and its credit note), the incremental load, which must
equal a full rebuild and change nothing when run again."""

from __future__ import annotations

import random
from decimal import Decimal

import duckdb
import pytest
from django.conf import settings

from xietong.analytics import etl, warehouse
from xietong.finance.invoicing import invoice_credit
from xietong.finance.models import Invoice
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Picking
from xietong.sales import billing, documents
from xietong.sales.models import SalesOrder, SalesOrderLine
from xietong.sales.tests.factories import D, customer, item, receive, shop

pytestmark = pytest.mark.django_db


def _order(company, buyer, lines):  # type: ignore[no-untyped-def]
    order = documents.order_create(company=company, actor=None, party=buyer, lines=lines)
    return documents.order_confirm(order=order, actor=None)


def _deliver(order):  # type: ignore[no-untyped-def]
    for picking in documents.order_pickings(order):
        if picking.state == Picking.State.READY:
            picking_services.picking_done(picking=picking)


def _world(company, rng, n=6):  # type: ignore[no-untyped-def]
    s = shop(company)
    products = [item(company, str(rng.randint(50, 500)), sku=f"P{company.pk}-{i}")
                for i in range(3)]  # fmt: skip
    for p in products:
        receive(p, 500, s.stock)
    buyers = [customer(company) for _ in range(3)]
    orders = [_order(company, rng.choice(buyers),
                     [{"product": p, "quantity": D(rng.randint(1, 5))}
                      for p in rng.sample(products, rng.randint(1, 3))])
              for _ in range(n)]  # fmt: skip
    return s, products, buyers, orders


def _operational(company):  # type: ignore[no-untyped-def]
    lines = SalesOrderLine.objects.filter(order__company=company,
                                          order__state__in=etl.SALES_STATES)  # fmt: skip
    revenue = sum((line.amount_untaxed for line in lines), Decimal(0))
    quantity = sum((line.quantity for line in lines), Decimal(0))
    invoiced = Decimal(0)
    for inv in Invoice.unscoped.filter(company=company, state="posted",
                                       kind__in=etl.CUSTOMER_KINDS):  # fmt: skip
        invoiced += -inv.amount_untaxed if inv.kind == "out_refund" else inv.amount_untaxed
    return revenue, quantity, invoiced


def _warehouse_totals(company):  # type: ignore[no-untyped-def]
    with warehouse.connect(read_only=True) as con:
        revenue, quantity = con.execute(
            "SELECT coalesce(sum(revenue), 0), coalesce(sum(quantity), 0) FROM fact_sales_line "
            "WHERE company_id = ?", [company.pk]).fetchone()  # fmt: skip
        invoiced = con.execute("SELECT coalesce(sum(invoiced), 0) FROM fact_invoice_line "
                               "WHERE company_id = ?", [company.pk]).fetchone()[0]  # fmt: skip
    return Decimal(revenue), Decimal(quantity), Decimal(invoiced)


def _snapshot():  # type: ignore[no-untyped-def]
    with warehouse.connect(read_only=True) as con:
        return {t: sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)
                for t in warehouse.FACTS}  # fmt: skip


@pytest.mark.parametrize("seed", [1, 7])
def test_incremental_equals_operational_and_full_rebuild(company_a, company_b, seed):
    rng = random.Random(seed)
    s, products, buyers, orders = _world(company_a, rng)
    _world(company_b, rng, n=2)  # another company's orders: never mixed in
    first = etl.etl_run()
    assert first["full"] is True
    assert _warehouse_totals(company_a) == _operational(company_a)
    assert first["rows"]["fact_sales_line"] > 0

    # changes: a delivery and its invoice, a credit note, a cancelled order, new orders
    shipped = orders[0]
    _deliver(shipped)
    invoice = billing.order_invoice(order=shipped, actor=None, post=True)
    invoice_credit(invoice=invoice, actor=None, lines=[{"line": invoice.lines.first(),
                   "quantity": D(1)}], post=True)  # fmt: skip
    documents.order_cancel(order=orders[1], actor=None, reason="test")
    for _ in range(rng.randint(1, 3)):
        _order(company_a, rng.choice(buyers), [{"product": rng.choice(products),
                                                "quantity": D(rng.randint(1, 9))}])  # fmt: skip
    assert SalesOrder.unscoped.get(pk=orders[1].pk).state == "cancelled"

    second = etl.etl_run()
    assert second["full"] is False
    assert _warehouse_totals(company_a) == _operational(company_a)
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fact_sales_line WHERE order_id = ?",
                           [orders[1].pk]).fetchone()[0] == 0  # fmt: skip
        credits = con.execute("SELECT sum(invoiced) FROM fact_invoice_line "
                              "WHERE kind = 'out_refund'").fetchone()[0]  # fmt: skip
        assert credits < 0
        delivered = con.execute("SELECT sum(quantity) FROM fact_delivery WHERE company_id = ?",
                                [company_a.pk]).fetchone()[0]  # fmt: skip
        assert delivered == sum(line.quantity for line in shipped.lines.all())
    incremental = _snapshot()

    third = etl.etl_run()  # idempotent: nothing changed
    assert _snapshot() == incremental
    # documents watched only by audit entries and ids are not read again; time-watched ones
    # (moves, shipped orders, entries) within the safety overlap are re-read and replaced by the same rows
    assert third["rows"]["fact_invoice_line"] == third["rows"]["fact_purchase_line"] == 0

    etl.etl_run(full=True)
    rebuilt = _snapshot()
    for table in warehouse.FACTS:
        assert set(rebuilt[table]) ^ set(incremental[table]) == set(), table
    assert rebuilt == incremental
    assert _warehouse_totals(company_b) == _operational(company_b)


def test_schema_version_change_rebuilds(company_a, monkeypatch):
    rng = random.Random(3)
    _world(company_a, rng, n=2)
    etl.etl_run()
    monkeypatch.setattr(warehouse, "SCHEMA_VERSION", warehouse.SCHEMA_VERSION + 1)
    result = etl.etl_run()
    assert result["full"] is True
    con = duckdb.connect(settings.ANALYTICS_WAREHOUSE, read_only=True)
    try:
        version = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0]
    finally:
        con.close()
    assert int(version) == warehouse.SCHEMA_VERSION
    assert _warehouse_totals(company_a) == _operational(company_a)


def test_a_reader_of_an_older_warehouse_file_gets_the_current_schema():
    con = duckdb.connect(settings.ANALYTICS_WAREHOUSE)
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.execute("CREATE TABLE fact_sales_line (line_id BIGINT)")
    con.close()
    with warehouse.connect(read_only=True) as reader:
        tables = {r[0] for r in reader.execute("SHOW TABLES").fetchall()}
        assert set(warehouse.STAR_TABLES) <= tables
        assert warehouse.meta_get(reader, "schema_version") == str(warehouse.SCHEMA_VERSION)
        assert warehouse.meta_get(reader, "loaded_at") == ""  # the next run loads in full


def test_rebuild_and_refresh_commands(company_a):
    from io import StringIO

    from django.core.management import call_command

    _world(company_a, random.Random(5), n=2)
    out = StringIO()
    call_command("analytics_rebuild", stdout=out)
    assert "Full load done." in out.getvalue()
    assert _warehouse_totals(company_a) == _operational(company_a)
    out = StringIO()
    call_command("analytics_refresh", stdout=out)
    assert "Incremental load done." in out.getvalue()
    out = StringIO()
    call_command("analytics_refresh", "--full", stdout=out)
    assert "Full load done." in out.getvalue()
    assert _warehouse_totals(company_a) == _operational(company_a)
