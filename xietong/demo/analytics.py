"""Demo step for analytics: load the warehouse in full from everything the earlier steps made,
so that the pivot screen shows the demo's orders, invoices, stock and ledger at once, and save
two shared views of the sales manager (revenue by month × top category, and by region with
margin), both pinned to the sales manager's dashboard (as a line and a bar chart). Runs last;
deterministic."""

from __future__ import annotations

from xietong.analytics import dashboards, etl, services
from xietong.core.tenancy import company_scope
from xietong.demo.context import DemoContext

VIEWS = [
    ("月度品类销售额 Revenue by month and category",
     {"measures": ["revenue", "quantity"], "rows": ["year", "month"], "columns": ["top_category"]},
     "line"),
    ("区域销售与毛利 Revenue and margin by region",
     {"measures": ["revenue", "margin", "orders", "customers"], "rows": ["region"],
      "sort": {"by": "revenue", "desc": True}}, "bar"),
]  # fmt: skip


def run(ctx: DemoContext) -> None:
    result = etl.etl_run(full=True)
    company = ctx.companies["main"]
    manager = ctx.users.get("sales_manager")
    if manager is not None:
        with company_scope(company):
            for name, definition, display in VIEWS:
                view = services.saved_pivot_create(company=company, actor=manager, name=name,
                                                   definition=definition, shared=True)  # fmt: skip
                dashboards.dashboard_pin_add(company=company, actor=manager, view_id=view.pk,
                                             display=display)  # fmt: skip
    ctx.log.append(f"analytics: warehouse loaded, {result['rows']['fact_sales_line']} order "
                   f"lines, {result['rows']['fact_gl_line']} ledger lines")  # fmt: skip
