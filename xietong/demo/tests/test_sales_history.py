"""The demo's sales-history step: two years of past orders, shipped, invoiced and mostly paid
through the services with their own dates, with the ledger and the stock still sound and the
warehouse seeing the same revenue on the same past dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F, Q, Sum
from django.utils import timezone

from xietong.analytics import etl, warehouse
from xietong.demo import catalogue, core, party, pricing, sales_history, workflow
from xietong.demo import finance as demo_finance
from xietong.demo import inventory as demo_inventory
from xietong.demo import sales as demo_sales
from xietong.demo.context import DemoContext
from xietong.finance.models import Invoice
from xietong.finance.tests.invariants import assert_ledger_sound
from xietong.inventory.models import Move
from xietong.inventory.tests.invariants import assert_stock_sound
from xietong.sales.models import SalesOrder, SalesOrderLine

pytestmark = pytest.mark.django_db


def test_sales_history_spans_two_years_and_stays_sound(
    django_capture_on_commit_callbacks, settings, tmp_path, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    settings.ANALYTICS_WAREHOUSE = str(tmp_path / "demo.duckdb")
    monkeypatch.setitem(sales_history.SIZES, "small", 14)  # fewer customers, the same two years
    ctx = DemoContext(seed=1, size="small")
    with django_capture_on_commit_callbacks(execute=True):
        for step in (core.run, party.run, catalogue.run, pricing.run, workflow.run,
                     demo_finance.run, demo_inventory.run, demo_sales.run,
                     sales_history.run):  # fmt: skip
            step(ctx)
    main = ctx.companies["main"]
    today = timezone.localdate()
    this_monday = today - dt.timedelta(days=today.weekday())
    past = SalesOrder.unscoped.filter(company=main, date__lt=this_monday)
    first, last = min(past.values_list("date", flat=True)), max(past.values_list("date", flat=True))
    assert (today - first).days >= 730
    assert (this_monday - last).days <= 14
    assert any(line.startswith("sales history:") for line in ctx.log)

    # every past order was delivered in full and invoiced for what the customer kept
    assert set(past.values_list("state", flat=True)) == {SalesOrder.State.DONE}
    lines = SalesOrderLine.objects.filter(order__in=past)
    assert not lines.filter(qty_delivered__lt=F("quantity")).exists()
    assert not lines.filter(qty_invoiced__lt=F("qty_delivered") - F("qty_returned")).exists()
    # on the past dates: deliveries, invoices and payments, some paid late, some still open
    shipped = Move.unscoped.filter(company=main, state=Move.State.DONE,
                                   to_location__usage="customer", effective_date__lte=first
                                   + dt.timedelta(days=14))  # fmt: skip
    assert shipped.exists()
    invoices = Invoice.unscoped.filter(company=main, source_type="sales.order",
                                       source_id__in=past.values("pk"))  # fmt: skip
    assert invoices.filter(date__lte=first + dt.timedelta(days=14)).exists()
    assert invoices.filter(payment_state="paid").count() > invoices.count() / 2
    assert invoices.exclude(payment_state="paid").filter(due_date__lt=today).exists()

    assert_ledger_sound([main])
    assert_stock_sound([main])

    # the warehouse reads the same revenue, on the same dates
    etl.etl_run(full=True)
    operational = SalesOrderLine.objects.filter(
        order__company=main, order__state__in=etl.SALES_STATES, order__currency_id="CNY"
    ).aggregate(total=Sum("amount_untaxed"))["total"]
    by_year = {
        year: SalesOrderLine.objects.filter(
            Q(order__date__year=year), order__company=main, order__state__in=etl.SALES_STATES,
            order__currency_id="CNY",
        ).aggregate(total=Sum("amount_untaxed"))["total"] or Decimal(0)
        for year in range(first.year, today.year + 1)
    }  # fmt: skip
    with warehouse.connect(read_only=True) as con:
        loaded = con.execute(
            "SELECT sum(revenue), min(date) FROM fact_sales_line "
            "WHERE company_id = ? AND currency = 'CNY'", [main.pk],
        ).fetchone()  # fmt: skip
        years = dict(con.execute(
            "SELECT year(date), sum(revenue) FROM fact_sales_line "
            "WHERE company_id = ? AND currency = 'CNY' GROUP BY 1", [main.pk],
        ).fetchall())  # fmt: skip
    assert Decimal(loaded[0]) == operational
    assert loaded[1] == first
    assert {year: Decimal(total) for year, total in years.items()} == by_year
