"""The ETL against the operational totals: a full load, random changes (new orders, a
cancelled order, a delivery, an invoice and its credit note), the incremental load, which must
equal a full rebuild and change nothing when run again."""

from __future__ import annotations

import random
from decimal import Decimal

import duckdb
import pytest
from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from xietong.analytics import etl, warehouse
from xietong.analytics.tests.factories import campaign_sent
from xietong.finance.invoicing import invoice_credit
from xietong.finance.models import Invoice
from xietong.inventory import pickings as picking_services
from xietong.inventory.models import Picking, ValuationLayer
from xietong.sales import billing, documents
from xietong.sales.models import SalesOrder, SalesOrderLine
from xietong.sales.tests.factories import D, customer, item, receive, shop

pytestmark = pytest.mark.django_db


def _order(company, buyer, lines, **fields):  # type: ignore[no-untyped-def]
    order = documents.order_create(company=company, actor=None, party=buyer, lines=lines,
                                   **fields)  # fmt: skip
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
        stock_value, delivered_value = con.execute(
            "SELECT (SELECT sum(stock_value) FROM fact_stock_move WHERE company_id = ?), "
            "(SELECT sum(value) FROM fact_delivery WHERE company_id = ?)",
            [company_a.pk, company_a.pk]).fetchone()  # fmt: skip
    # stock value is the valuation layers' (a done move's own `value` is never written)
    layers = ValuationLayer.unscoped.filter(company=company_a, move__isnull=False)
    assert layers.exists()
    assert stock_value == layers.aggregate(v=Sum("value"))["v"].quantize(D("0.0001"))
    shipped_layers = layers.filter(move__to_location__usage="customer")
    assert delivered_value == -shipped_layers.aggregate(v=Sum("value"))["v"].quantize(D("0.0001"))
    assert delivered_value > 0
    with warehouse.connect(read_only=True) as con:  # today's snapshot is the stock now
        month = timezone.localdate().strftime("%Y-%m")
        snapshot = con.execute("SELECT sum(stock_qty), sum(stock_value) FROM fact_stock_snapshot "
                               "WHERE company_id = ? AND month = ?", [company_a.pk, month]).fetchone()  # fmt: skip
        moves = con.execute("SELECT sum(stock_qty), sum(stock_value) FROM fact_stock_move "
                            "WHERE company_id = ?", [company_a.pk]).fetchone()  # fmt: skip
    assert snapshot == moves and snapshot[1] == stock_value
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


def test_stock_snapshots_carry_each_month_end_forward():
    """Stock in January and March of product 1 in warehouse 1, a move of product 2 without a
    warehouse; snapshots to 15 April: January's stock carried through February, March's change
    added, April dated today; product 2 emptied in March leaves no row after it."""
    import datetime as dt

    con = duckdb.connect()
    warehouse.schema_ensure(con)
    rows = [(1, 1, dt.date(2026, 1, 10), 1, 1, "supplier", "internal", D(10), D(100)),
            (2, 1, dt.date(2026, 1, 20), 1, 1, "internal", "customer", D(-4), D(-40)),
            (3, 1, dt.date(2026, 3, 5), 1, 1, "supplier", "internal", D(6), D(66)),
            (4, 1, dt.date(2026, 2, 1), 2, None, "supplier", "internal", D(2), D(8)),
            (5, 1, dt.date(2026, 3, 9), 2, None, "internal", "customer", D(-2), D(-8)),
            (6, 1, dt.date(2026, 4, 20), 1, 1, "supplier", "internal", D(1), D(11))]  # fmt: skip
    con.executemany("INSERT INTO fact_stock_move VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    warehouse.snapshots_rebuild(con, dt.date(2026, 4, 15))  # the move of 20 April is later
    got = con.execute("SELECT month, date, product_key, warehouse_key, stock_qty, stock_value "
                      "FROM fact_stock_snapshot ORDER BY product_key, month").fetchall()  # fmt: skip
    assert got == [
        ("2026-01", dt.date(2026, 1, 31), 1, 1, D(6), D(60)),
        ("2026-02", dt.date(2026, 2, 28), 1, 1, D(6), D(60)),
        ("2026-03", dt.date(2026, 3, 31), 1, 1, D(12), D(126)),
        ("2026-04", dt.date(2026, 4, 15), 1, 1, D(12), D(126)),
        ("2026-02", dt.date(2026, 2, 28), 2, None, D(2), D(8)),
    ]
    warehouse.snapshots_rebuild(con, dt.date(2026, 4, 15))  # a rebuild replaces, never adds
    assert con.execute("SELECT count(*) FROM fact_stock_snapshot").fetchone()[0] == 5
    con.close()


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


# ---------------------------------------------------------------------------- schema 3 facts


def _facts_operational(company):  # type: ignore[no-untyped-def]
    """The new facts' totals computed from the operational rows."""
    import datetime as dt

    from xietong.crm.models import Recipient, SalesTarget, Ticket
    from xietong.finance.models import Match

    four = Decimal("0.0001")
    tickets = list(Ticket.unscoped.filter(company=company))
    hours = sum((Decimal((t.resolved_at - t.created_at).total_seconds() / 3600).quantize(four)
                 for t in tickets if t.resolved_at), Decimal(0))  # fmt: skip
    recipients = Recipient.unscoped.filter(company=company)
    sent = [r for r in recipients if r.sent_at is not None]
    orders = list(SalesOrder.unscoped.filter(company=company, state__in=etl.SALES_STATES)
                  .values_list("party_id", "date"))  # fmt: skip
    converted = 0
    for r in [*sent, *[r for r in recipients if r.status == "control"]]:
        day = timezone.localtime(r.sent_at or r.created_at).date()
        converted += any(p == r.party_id and day <= d <= day + dt.timedelta(days=30)
                         for p, d in orders)  # fmt: skip
    allocations = Match.unscoped.filter(
        company=company, debit_line__entry__invoice__kind="out_invoice",
        credit_line__entry__payment__isnull=False,
    ).select_related("debit_line__entry__invoice", "credit_line")  # fmt: skip
    late = Decimal(0)
    for m in allocations:
        due = m.debit_line.due_date or m.debit_line.entry.invoice.due_date
        late += m.amount * max(0, (m.credit_line.date - due).days)
    lines = SalesOrderLine.objects.filter(order__company=company,
                                          order__state__in=etl.SALES_STATES)  # fmt: skip
    return {
        "tickets": (len(tickets), sum(1 for t in tickets if t.resolved_at), hours,
                    sum(1 for t in tickets if t.closed_at)),
        "touches": (len(sent), recipients.filter(status="control").count(),
                    sum(1 for r in sent if r.opened_at), converted),
        "payments": (sum((m.amount for m in allocations), Decimal(0)), late),
        "targets": sum((t.amount for t in SalesTarget.unscoped.filter(company=company)),
                       Decimal(0)),
        "net": sum((line.amount_untaxed for line in lines), Decimal(0)),
    }  # fmt: skip


def _facts_warehouse(company):  # type: ignore[no-untyped-def]
    with warehouse.connect(read_only=True) as con:

        def one(sql):  # type: ignore[no-untyped-def]
            return con.execute(sql, [company.pk]).fetchone()

        t = one("SELECT count(*), coalesce(sum(resolved), 0), coalesce(sum(resolution_hours), 0), "
                "count(closed_date) FROM fact_ticket WHERE company_id = ?")  # fmt: skip
        c = one("SELECT coalesce(sum(touched), 0), coalesce(sum(held_out), 0), "
                "coalesce(sum(opened), 0), coalesce(sum(converted), 0) FROM fact_campaign_touch "
                "WHERE company_id = ?")  # fmt: skip
        p = one("SELECT coalesce(sum(amount), 0), coalesce(sum(late_amount_days), 0) "
                "FROM fact_payment WHERE company_id = ?")  # fmt: skip
        g = one("SELECT coalesce(sum(amount), 0) FROM fact_sales_target WHERE company_id = ?")
        d = one("SELECT coalesce(sum(gross - discount), 0) FROM fact_sales_discount "
                "WHERE company_id = ?")  # fmt: skip
    return {"tickets": (t[0], int(t[1]), Decimal(t[2]), t[3]),
            "touches": tuple(int(v) for v in c), "payments": (Decimal(p[0]), Decimal(p[1])),
            "targets": Decimal(g[0]), "net": Decimal(d[0])}  # fmt: skip


def test_tickets_touches_payments_discounts_and_targets_follow_late_changes(
        company_a, company_b, users_a):  # type: ignore[no-untyped-def]  # fmt: skip
    import datetime as dt

    from xietong.core.tenancy import company_scope
    from xietong.crm import mailing, services, tickets
    from xietong.crm.models import Recipient
    from xietong.crm.tests import factories as crm_factories
    from xietong.crm.tests import service_factories as sf
    from xietong.finance.models import Journal
    from xietong.finance.payments import payment_cancel, payment_create, payment_post

    rng = random.Random(4)
    s, products, buyers, orders = _world(company_a, rng, n=3)
    _world(company_b, rng, n=1)
    # a discounted line (10 %) and a price typed below the list price
    bike = item(company_a, "200", sku="DISC-1")
    receive(bike, 50, s.stock)
    discounted = _order(company_a, buyers[0], [
        {"product": bike, "quantity": D(2), "discount": D(10)},
        {"product": bike, "quantity": D(1), "unit_price": D(150)},
    ])  # fmt: skip
    first = sf.ticket(company_a, buyers[0], priority="high", channel="email", product=bike)
    sf.ticket(company_a, buyers[1])
    _deliver(discounted)
    invoice = billing.order_invoice(order=discounted, actor=None, post=True)
    bank = Journal.unscoped.get(company=company_a, code="BNK")

    def pay(amount, date):  # type: ignore[no-untyped-def]
        made = payment_create(company=company_a, actor=None, direction="inbound",
                              party=buyers[0], journal=bank, date=date, amount=amount)  # fmt: skip
        return payment_post(payment=made, actor=None, allocations=[invoice])

    early = pay(D(100), invoice.date)
    rep = users_a["sales_rep"]
    team = crm_factories.team(company_a, members=[rep])
    with company_scope(company_a):
        services.target_set(team=team, actor=None, period_start=dt.date(2026, 1, 1),
                            period_end=dt.date(2026, 12, 31), amount=D(50000), user=rep)  # fmt: skip
    campaign = campaign_sent(company_a, buyers)

    assert etl.etl_run()["full"] is True
    before = _facts_operational(company_a)
    assert _facts_warehouse(company_a) == before
    assert before["tickets"][0] == 2 and before["touches"][0] + before["touches"][1] == 3
    with warehouse.connect(read_only=True) as con:
        gross, discount = con.execute(
            "SELECT sum(gross), sum(discount) FROM fact_sales_discount WHERE order_id = ?",
            [discounted.pk]).fetchone()  # fmt: skip
    assert (gross, discount) == (Decimal(600), Decimal(90))  # 2 × 200 × 10 % + (200 − 150)

    # late changes: a ticket resolved and closed, a new one, the rest paid later (after the
    # due date), the first payment cancelled, an e-mail opened, an order after the campaign,
    # the target raised
    with company_scope(company_a):
        tickets.ticket_resolve(ticket=first, actor=None, resolution="Replaced the part.")
        tickets.ticket_close(ticket=first, actor=None)
    sf.ticket(company_a, buyers[2], priority="low", channel="web")
    invoice.refresh_from_db()
    late_day = (invoice.due_date or invoice.date) + dt.timedelta(days=12)
    late = pay(invoice.amount_residual, late_day)
    with company_scope(company_a):
        payment_cancel(payment=early, actor=None)
    treated = Recipient.unscoped.filter(campaign=campaign, sent_at__isnull=False).first()
    if treated is not None:
        mailing.track_open(token=mailing.token_make(treated.pk, "open"))
    _order(company_a, buyers[1], [{"product": products[0], "quantity": D(1)}])
    with company_scope(company_a):
        services.target_set(team=team, actor=None, period_start=dt.date(2026, 1, 1),
                            period_end=dt.date(2026, 12, 31), amount=D(60000), user=rep)  # fmt: skip

    assert etl.etl_run()["full"] is False
    after = _facts_operational(company_a)
    assert _facts_warehouse(company_a) == after
    assert after["tickets"][0] == 3 and after["tickets"][1] == after["tickets"][3] == 1
    assert after["targets"] == Decimal(60000)
    assert after["payments"][1] > 0  # paid 12 days late
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fact_payment WHERE payment_id = ?",
                           [early.pk]).fetchone()[0] == 0  # fmt: skip
        assert con.execute("SELECT min(days_late) FROM fact_payment WHERE invoice_id = ?",
                           [invoice.pk]).fetchone()[0] == 12  # fmt: skip
    incremental = _snapshot()
    etl.etl_run()
    assert _snapshot() == incremental  # idempotent
    etl.etl_run(full=True)
    assert _snapshot() == incremental  # the incremental load equals a full rebuild

    # a payment cancelled alone: its allocations are deleted, found through the payment's
    # audit; a team renamed: its targets are read again through the team's audit
    with company_scope(company_a):
        payment_cancel(payment=late, actor=None)
        services.team_update(team=team, actor=None, name="South", manager=None,
                             assignment=team.assignment, members=[rep])  # fmt: skip
    etl.etl_run()
    assert _facts_warehouse(company_a) == _facts_operational(company_a)
    with warehouse.connect(read_only=True) as con:
        assert con.execute("SELECT count(*) FROM fact_payment WHERE invoice_id = ?",
                           [invoice.pk]).fetchone()[0] == 0  # fmt: skip
        assert con.execute("SELECT DISTINCT team FROM fact_sales_target WHERE company_id = ?",
                           [company_a.pk]).fetchall() == [("South",)]  # fmt: skip
    assert _facts_warehouse(company_b)["tickets"][0] == 0


# ------------------------------------------------------ vectorised sales facts, aggregate


def _aggregate():  # type: ignore[no-untyped-def]
    with warehouse.connect(read_only=True) as con:
        return con.execute("SELECT * FROM agg_sales_month ORDER BY ALL").fetchall()


def test_incremental_aggregate_equals_a_full_rebuild(company_a, company_b, monkeypatch):
    import datetime as dt

    from xietong.core.tenancy import company_scope
    from xietong.party.services import customer_group_create, party_update

    rng = random.Random(11)
    s, products, buyers, _ = _world(company_a, rng, n=0)
    _world(company_b, rng, n=1)
    orders = {month: [_order(company_a, buyer, [{"product": rng.choice(products),
                                                 "quantity": D(rng.randint(1, 5))}],
                             date=dt.date(2026, month, 10 + i))
                      for i, buyer in enumerate(buyers[:2])]
              for month in (1, 2, 3)}  # fmt: skip
    etl.etl_run()
    first = _aggregate()
    assert {row[3] for row in first if row[0] == company_a.pk} >= {"2026-01", "2026-02", "2026-03"}

    rebuilt_months = []
    rebuild = warehouse.aggregates_rebuild

    def spy(con, months=None):  # type: ignore[no-untyped-def]
        rebuilt_months.append(None if months is None else sorted(months))
        rebuild(con, months)

    monkeypatch.setattr(warehouse, "aggregates_rebuild", spy)
    # a late change in January only: one of its orders cancelled
    documents.order_cancel(order=orders[1][0], actor=None, reason="late")
    etl.etl_run()
    assert rebuilt_months == [[(company_a.pk, "2026-01")]]
    incremental = _aggregate()
    assert incremental != first
    etl.etl_run(full=True)
    assert rebuilt_months[-1] is None
    assert _aggregate() == incremental

    # a customer moved to another group: every month of its lines is aggregated again
    with company_scope(company_a):
        group = customer_group_create(company=company_a, actor=None, code="VIP", name="VIP")
        party_update(party=buyers[1], actor=None, customer_group=group)
    etl.etl_run()
    assert rebuilt_months[-1] == [(company_a.pk, f"2026-0{m}") for m in (1, 2, 3)]
    incremental = _aggregate()
    assert any(row[6] == "VIP" for row in incremental)
    etl.etl_run(full=True)
    assert _aggregate() == incremental


def test_sales_facts_convert_exactly_at_the_order_rate(company_a):
    """The vectorised conversion against `q4` of the Decimals, at a rate with 10 decimals."""
    import datetime as dt

    from xietong.core.services import exchange_rate_create
    from xietong.core.tenancy import company_scope

    rng = random.Random(2)
    s, products, buyers, _ = _world(company_a, rng, n=0)
    day = dt.date(2026, 3, 3)
    rate = Decimal("7.1234567891")
    with company_scope(company_a):
        exchange_rate_create(company=company_a, actor=None, currency="USD", date=day, rate=rate)
    order = _order(company_a, buyers[0], [
        {"product": products[0], "quantity": D(3), "unit_price": D("19.99"),
         "discount": D("12.5")},
        {"product": products[1], "quantity": D(7), "unit_price": D("0.333333")},
        {"product": products[2], "quantity": D(2), "unit_price": D("123.456789"),
         "discount": D("33.3333")},
    ], currency="USD", date=day)  # fmt: skip
    assert order.currency_id == "USD"
    etl.etl_run()
    with warehouse.connect(read_only=True) as con:
        facts = {r[0]: r[1:] for r in con.execute(
            "SELECT s.line_id, s.quantity, s.revenue, s.cost, d.gross, d.discount "
            "FROM fact_sales_line s JOIN fact_sales_discount d USING (line_id) "
            "WHERE s.order_id = ?", [order.pk]).fetchall()}  # fmt: skip
    lines = list(SalesOrderLine.objects.filter(order=order).select_related("product"))
    assert len(facts) == len(lines) == 3
    for line in lines:
        price = max(line.list_price or Decimal(0), line.unit_price)
        off = line.quantity * (price - line.unit_price * (100 - line.discount) / 100)
        revenue = etl.q4(line.amount_untaxed * rate)
        assert facts[line.pk] == (etl.q4(line.quantity), revenue,
                                  etl.q4(line.quantity * line.product.standard_cost),
                                  revenue + etl.q4(off * rate), etl.q4(off * rate))  # fmt: skip
