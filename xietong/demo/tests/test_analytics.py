"""The demo's analytics step: the warehouse holds the demo's confirmed orders (their revenue
equals the operational one), its invoices and ledger, and two shared views answer and are
pinned, in order, to the sales manager's dashboard."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xietong.analytics import etl, warehouse
from xietong.analytics import pivot as olap
from xietong.analytics.models import DashboardPin, SavedPivot
from xietong.demo import analytics as demo_analytics
from xietong.demo import catalogue, core, party, pricing, workflow
from xietong.demo import finance as demo_finance
from xietong.demo import inventory as demo_inventory
from xietong.demo import sales as demo_sales
from xietong.demo.context import DemoContext
from xietong.sales.models import SalesOrderLine

pytestmark = pytest.mark.django_db


def test_analytics_step_loads_the_warehouse(django_capture_on_commit_callbacks, settings,
                                             tmp_path) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    settings.ANALYTICS_WAREHOUSE = str(tmp_path / "demo.duckdb")
    ctx = DemoContext(seed=1, size="small")
    with django_capture_on_commit_callbacks(execute=True):
        for step in (core.run, party.run, catalogue.run, pricing.run, workflow.run,
                     demo_finance.run, demo_inventory.run, demo_sales.run,
                     demo_analytics.run):  # fmt: skip
            step(ctx)
    main = ctx.companies["main"]
    lines = SalesOrderLine.objects.filter(order__company=main, order__state__in=etl.SALES_STATES)
    assert lines.exists()
    views = SavedPivot.unscoped.filter(company=main, shared=True)
    assert views.count() == 2
    pins = DashboardPin.unscoped.filter(company=main, user=ctx.users["sales_manager"])
    assert [p.view.name for p in pins] == [name for name, _d, _s in demo_analytics.VIEWS]
    assert [p.display for p in pins] == [display for _n, _d, display in demo_analytics.VIEWS]
    with warehouse.connect(read_only=True) as con:
        backend = olap.duckdb_backend(con)
        for view in views:
            d = view.definition
            result = olap.pivot(backend=backend, company_ids=[main.pk], measures=d["measures"],
                                rows=d["rows"], columns=d["columns"], filters=d["filters"],
                                sort=d["sort"])  # fmt: skip
            assert result.row_keys and not result.skipped
            assert result.total["revenue"] == sum((line.amount_untaxed for line in lines),
                                                  Decimal(0))  # base currency demo  # fmt: skip
        assert con.execute("SELECT count(*) FROM fact_gl_line").fetchone()[0] > 0
        assert con.execute("SELECT count(*) FROM fact_invoice_line").fetchone()[0] > 0
    assert any(line.startswith("analytics:") for line in ctx.log)
