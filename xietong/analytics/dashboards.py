"""Role dashboards as data, computed from the warehouse when a page asks, and the pins of saved
pivots on a user's own dashboard.

A role dashboard (`DASHBOARDS`) is a list of tiles. A tile is either a pivot definition answered
by `selectors.pivot_answer` (the pivot screen's own code path and scope), or a figure read
straight from the warehouse: key figures of the facts (`kpi`), of the 7P customer analysis
(`7p`, the `cust_7p*` tables) or of the demand forecast (`forecast`, the `fc_*` tables). Every
tile is scoped like the pivot: the active company, and without `analytics.manage` only the facts
of one's own customers — figures of facts without a customer (stock, purchases, production,
ledger) are then left out, as the pivot leaves out such measures. Nothing is cached: the tiles
are read from the warehouse at each request.

Pins (`DashboardPin`) are written here too (`dashboard_pin_add`, `dashboard_pin_remove`,
`dashboard_pin_move`): keyword-only, one transaction each, audited by django-auditlog."""

# SQL assembled from constant fragments of this module; every value is a bound parameter.
# ruff: noqa: S608
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from xietong.analytics import customers_reads, selectors, services, warehouse
from xietong.analytics import pivot as olap
from xietong.analytics.models import DashboardPin, SavedPivot
from xietong.core.models import Company
from xietong.finance import selectors as finance_selectors

CHURN_RISK = 0.5  # a customer "at churn risk": churn probability at least this
TOP_PERCENT = 20  # the revenue share of the top 20 % of customers (rounded up, at least one)
TABLE_ROWS = 12  # rows a tile's table shows (the pivot screen shows all)


@dataclass(frozen=True)
class Tile:
    """One tile: `definition` (a pivot) or `figure` (a reader of this module, by name).
    `display` is table, bar, line, pie or figures; `link` the screen to drill down to (the
    pivot screen of the definition when empty and a definition is given)."""

    key: str
    title: str | Promise
    definition: dict[str, Any] | None = None
    figure: str = ""
    display: str = "table"
    link: str = ""


@dataclass(frozen=True)
class Dashboard:
    code: str
    label: str | Promise
    roles: tuple[str, ...]
    tiles: list[Tile] = field(default_factory=list)


def _pivot(measures: list[str], rows: list[str], columns: list[str] | None = None,
           sort: str = "label", desc: bool = False, chart: str = "bar") -> dict[str, Any]:  # fmt: skip
    return {"measures": measures, "rows": rows, "columns": columns or [], "filters": {},
            "sort": {"by": sort, "desc": desc}, "chart": chart}  # fmt: skip


DASHBOARDS: list[Dashboard] = [
    Dashboard("executive", _("Executive"), ("executive",), [
        Tile("exec_kpis", _("Key figures"), figure="company_kpis", display="figures"),
        Tile("exec_revenue_year", _("Revenue and margin by year"),
             _pivot(["revenue", "margin"], ["year"]), display="bar"),
        Tile("exec_revenue_region", _("Revenue by region"),
             _pivot(["revenue"], ["region"], sort="revenue", desc=True), display="pie"),
        Tile("exec_revenue_category", _("Revenue by quarter and top category"),
             _pivot(["revenue"], ["quarter"], ["top_category"]), display="line"),
        Tile("exec_7p", _("Customers (7P)"), figure="customers_7p", display="figures",
             link="analytics:customers"),
    ]),
    Dashboard("sales_manager", _("Sales manager"), ("sales_manager",), [
        Tile("sales_salesperson", _("Revenue and margin by salesperson"),
             _pivot(["revenue", "margin"], ["salesperson"], sort="revenue", desc=True),
             display="bar"),
        Tile("sales_month", _("Revenue and orders by month"),
             _pivot(["revenue", "orders"], ["month"]), display="line"),
        Tile("sales_top_customers", _("Top customers"),
             _pivot(["revenue", "margin", "orders"], ["customer"], sort="revenue", desc=True)),
        Tile("sales_group", _("Revenue by customer group"),
             _pivot(["revenue"], ["customer_group"], sort="revenue", desc=True), display="pie"),
        Tile("sales_discount", _("Discounts by top category"),
             _pivot(["gross", "discount", "revenue"], ["top_category"], sort="discount",
                    desc=True)),
        Tile("sales_campaigns", _("Campaign touches and conversions"),
             _pivot(["touches", "conversions"], ["campaign"], sort="touches", desc=True),
             display="bar"),
        Tile("sales_7p", _("Customers (7P)"), figure="customers_7p", display="figures",
             link="analytics:customers"),
        Tile("sales_churn", _("Customers at churn risk"), figure="churn_list",
             link="analytics:customers"),
        Tile("sales_clusters", _("Cluster sizes"), figure="cluster_sizes", display="bar",
             link="analytics:customers"),
    ]),
    Dashboard("planner", _("Planner"), ("planner",), [
        Tile("plan_production", _("Production"), figure="production", display="figures"),
        Tile("plan_stock_warehouse", _("Stock value by warehouse"),
             _pivot(["stock_value", "stock_qty"], ["warehouse"]), display="bar"),
        Tile("plan_stock_months", _("Stock at month end"), figure="stock_months",
             display="line"),
        Tile("plan_stock_category", _("Stock value by category"),
             _pivot(["stock_value"], ["category"], sort="stock_value", desc=True),
             display="pie"),
        Tile("plan_forecast", _("Demand forecast"), figure="forecast_summary", display="figures",
             link="analytics:forecast"),
        Tile("plan_forecast_weeks", _("Forecast, next 4 weeks"), figure="forecast_weeks",
             display="bar", link="analytics:forecast"),
        Tile("plan_delivered", _("Quantity delivered by month"),
             _pivot(["delivered"], ["month"]), display="line"),
    ]),
    Dashboard("buyer", _("Buyer"), ("buyer",), [
        Tile("buy_open", _("Open purchases"), figure="purchase_open", display="figures",
             definition=_pivot(["purchased"], ["supplier"], sort="purchased", desc=True)),
        Tile("buy_supplier", _("Purchase spend by supplier"),
             _pivot(["purchased"], ["supplier"], sort="purchased", desc=True), display="bar"),
        Tile("buy_month", _("Purchase spend by month"), _pivot(["purchased"], ["month"]),
             display="line"),
        Tile("buy_open_lines", _("Quantity to receive by supplier"), figure="purchase_open_by"),
        Tile("buy_stock", _("Stock value by warehouse"), _pivot(["stock_value"], ["warehouse"]),
             display="bar"),
    ]),
    Dashboard("service_manager", _("Service manager"), ("service_manager",), [
        Tile("svc_tickets", _("Tickets and SLA breaches by month"),
             _pivot(["tickets", "sla_breaches"], ["month"]), display="line"),
        Tile("svc_resolution", _("Average resolution (hours) by priority"),
             _pivot(["resolution_hours", "tickets"], ["ticket_priority"])),
        Tile("svc_channel", _("Tickets by channel"),
             _pivot(["tickets"], ["ticket_channel"], sort="tickets", desc=True), display="pie"),
        Tile("svc_customers", _("Customers with the most tickets"),
             _pivot(["tickets", "sla_breaches"], ["customer"], sort="tickets", desc=True)),
        Tile("svc_7p", _("Cost to serve (7P)"), figure="cost_to_serve", display="figures",
             link="analytics:customers"),
        Tile("svc_delivered", _("Quantity delivered by month"), _pivot(["delivered"], ["month"]),
             display="line"),
    ]),
    Dashboard("accountant", _("Accountant"), ("accountant",), [
        Tile("acc_ar", _("Receivables"), figure="receivables", display="figures",
             definition=_pivot(["ar_open"], ["customer"], sort="ar_open", desc=True)),
        Tile("acc_ar_customer", _("AR open by customer"),
             _pivot(["ar_open"], ["customer"], sort="ar_open", desc=True)),
        Tile("acc_invoiced", _("Invoiced by month"), _pivot(["invoiced"], ["month"]),
             display="line"),
        Tile("acc_paid", _("Paid and average days paid late by month"),
             _pivot(["paid", "days_late"], ["month"])),
        Tile("acc_gl", _("Ledger by account type"), figure="gl_by_type"),
        Tile("acc_overdue", _("Overdue receivables by customer"), figure="overdue_by_customer"),
    ]),
]  # fmt: skip
BY_CODE = {d.code: d for d in DASHBOARDS}
SEE_ALL_ROLES = {"executive", "admin"}


def _known(definition: dict[str, Any] | None) -> bool:
    definition = definition or {}
    return (all(m in olap.MEASURES for m in definition.get("measures", []))
            and all(d in olap.DIMENSIONS for d in [*definition.get("rows", []),
                                                   *definition.get("columns", [])]))  # fmt: skip


def dashboard_tiles(dashboard: Dashboard) -> list[Tile]:
    """The tiles whose pivot measures and dimensions exist (a tile of one not in the pivot
    layer is left out until it is)."""
    return [t for t in dashboard.tiles if t.figure or _known(t.definition)]


def dashboards_for(*, role_codes: set[str]) -> list[Dashboard]:
    """The role dashboards a user's roles give: their own, every one for an executive."""
    if role_codes & SEE_ALL_ROLES:
        return list(DASHBOARDS)
    return [d for d in DASHBOARDS if set(d.roles) & role_codes]


# --- reading the warehouse ------------------------------------------------------------------


@dataclass
class Scope:
    company: Company
    user: Any
    see_all: bool
    today: dt.date

    @property
    def owner_id(self) -> int | None:
        return selectors.owner_scope(user=self.user, see_all=self.see_all)

    def params(self, **more: Any) -> dict[str, Any]:
        """The bound parameters of a query of customers' facts (`$company`, `$owner`)."""
        return {"company": self.company.pk, "owner": self.owner_id, **more}

    def company_params(self, **more: Any) -> dict[str, Any]:
        """Those of a query of facts without a customer (`$company` only)."""
        return {"company": self.company.pk, **more}


OWNER = "(CAST($owner AS BIGINT) IS NULL OR c.owner_id = CAST($owner AS BIGINT))"


def _table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    row = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                      [name]).fetchone()  # fmt: skip
    return bool(row and row[0])


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict[str, Any]]:
    return con.execute(sql, params).to_arrow_table().to_pylist()


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> dict[str, Any]:
    return _records(con, sql, params)[0]


def _dec(value: Any) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.0001"))


def warehouse_state(*, company: Company) -> dict[str, Any]:
    """Whether the warehouse holds anything of the company (facts of any kind), and when it
    was last loaded."""
    with warehouse.connect(read_only=True) as con:
        counts = [con.execute(f"SELECT count(*) FROM {fact} WHERE company_id = ?",
                              [company.pk]).fetchone()[0] for fact in warehouse.FACTS]  # fmt: skip
        loaded = warehouse.meta_get(con, "loaded_at")
    return {"empty": not any(counts),
            "loaded_at": dt.datetime.fromisoformat(loaded) if loaded else None}  # fmt: skip


def company_kpis(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    """Revenue and margin of the last 365 days and the 365 before, AR open and overdue; with
    every customer in scope also stock value and purchase spend of the last 365 days."""
    year_ago = scope.today - dt.timedelta(days=365)
    sales = _one(con, f"""SELECT
        sum(CASE WHEN f.date > $since THEN f.revenue END) AS revenue,
        sum(CASE WHEN f.date > $since THEN f.revenue - f.cost END) AS margin,
        sum(CASE WHEN f.date <= $since AND f.date > $before THEN f.revenue END) AS previous
        FROM fact_sales_line f JOIN dim_customer c ON c.customer_key = f.customer_key
        WHERE f.company_id = $company AND f.date <= $today AND {OWNER}""",
                 scope.params(since=year_ago, before=year_ago - dt.timedelta(days=365),
                              today=scope.today))  # fmt: skip
    revenue, previous = _dec(sales["revenue"]), _dec(sales["previous"])
    figures = [
        {"label": _("Revenue, last 365 days"), "value": revenue},
        {"label": _("Growth against the 365 days before"),
         "value": (revenue / previous - 1) if previous else None, "format": "percent"},
        {"label": _("Margin, last 365 days"), "value": _dec(sales["margin"])},
        *receivables(con, scope)["figures"][:2],
    ]  # fmt: skip
    if scope.owner_id is None:
        stock = _one(con, "SELECT sum(stock_value) AS v FROM fact_stock_move "
                          "WHERE company_id = $company", scope.company_params())  # fmt: skip
        spend = _one(con, "SELECT sum(purchased) AS v FROM fact_purchase_line "
                          "WHERE company_id = $company AND date > $since",
                     scope.company_params(since=year_ago))  # fmt: skip
        figures += [{"label": _("Stock value"), "value": _dec(stock["v"])},
                    {"label": _("Purchase spend, last 365 days"), "value": _dec(spend["v"])}]  # fmt: skip
    return {"figures": figures}


def receivables(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    """AR open, of which overdue (due before today), and the overdue invoices."""
    row = _one(con, f"""SELECT sum(f.ar_open) AS open,
        sum(CASE WHEN f.due_date < $today THEN f.ar_open END) AS overdue,
        count(CASE WHEN f.due_date < $today AND f.ar_open > 0 THEN 1 END) AS invoices
        FROM fact_receivable f JOIN dim_customer c ON c.customer_key = f.customer_key
        WHERE f.company_id = $company AND {OWNER}""", scope.params(today=scope.today))  # fmt: skip
    return {"figures": [
        {"label": _("AR open"), "value": _dec(row["open"])},
        {"label": _("AR overdue"), "value": _dec(row["overdue"])},
        {"label": _("Overdue invoices"), "value": int(row["invoices"] or 0), "format": "int"},
    ]}  # fmt: skip


def overdue_by_customer(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    rows = _records(con, f"""SELECT c.customer, sum(f.ar_open) AS overdue,
        max(date_diff('day', f.due_date, CAST($today AS DATE))) AS days
        FROM fact_receivable f JOIN dim_customer c ON c.customer_key = f.customer_key
        WHERE f.company_id = $company AND f.due_date < $today AND f.ar_open > 0 AND {OWNER}
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TABLE_ROWS}""", scope.params(today=scope.today))  # fmt: skip
    return {"table": {"header": [_("Customer"), _("AR overdue"), _("Days overdue (most)")],
                      "rows": [[r["customer"], _dec(r["overdue"]), r["days"]] for r in rows]}}  # fmt: skip


def gl_by_type(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    """Debit, credit and balance of the posted ledger by account type (every customer only)."""
    if scope.owner_id is not None:
        return {"skipped": True}
    rows = _records(con, """SELECT coalesce(account_type, '—') AS account_type,
        sum(debit) AS debit, sum(credit) AS credit, sum(balance) AS balance
        FROM fact_gl_line WHERE company_id = $company GROUP BY 1 ORDER BY 1""",
                    scope.company_params())  # fmt: skip
    names = finance_selectors.account_type_labels()
    return {"table": {"header": [_("Account type"), _("Debit"), _("Credit"), _("Balance")],
                      "rows": [[names.get(r["account_type"], r["account_type"]),
                                _dec(r["debit"]), _dec(r["credit"]),
                                _dec(r["balance"])] for r in rows]}}  # fmt: skip


OPEN_PRODUCTION = "state NOT IN ('done', 'closed')"


def production(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    """Production orders open (not done) with their planned and produced quantities, what was
    produced in the last 30 days, and the stock value."""
    if scope.owner_id is not None:
        return {"skipped": True}
    row = _one(con, f"""SELECT count(CASE WHEN {OPEN_PRODUCTION} THEN 1 END) AS open,
        sum(CASE WHEN {OPEN_PRODUCTION} THEN planned_qty END) AS planned,
        sum(CASE WHEN {OPEN_PRODUCTION} THEN produced_qty END) AS produced,
        sum(CASE WHEN date > $since THEN produced_qty END) AS recent,
        sum(CASE WHEN date > $since THEN production_cost END) AS cost
        FROM fact_production WHERE company_id = $company""",
               scope.company_params(since=scope.today - dt.timedelta(days=30)))  # fmt: skip
    stock = _one(con, "SELECT sum(stock_value) AS v FROM fact_stock_move "
                      "WHERE company_id = $company", scope.company_params())  # fmt: skip
    return {"figures": [
        {"label": _("Open production orders"), "value": int(row["open"] or 0), "format": "int"},
        {"label": _("Quantity planned on open orders"), "value": _dec(row["planned"])},
        {"label": _("Quantity produced on open orders"), "value": _dec(row["produced"])},
        {"label": _("Produced, last 30 days"), "value": _dec(row["recent"])},
        {"label": _("Production cost, last 30 days"), "value": _dec(row["cost"])},
        {"label": _("Stock value"), "value": _dec(stock["v"])},
    ]}  # fmt: skip


def stock_months(con: duckdb.DuckDBPyConnection, scope: Scope, months: int = 13
                 ) -> dict[str, Any]:  # fmt: skip
    """The stock's value and quantity at the end of each of the last `months` months (the
    current one: today), from the monthly snapshots."""
    if scope.owner_id is not None:
        return {"skipped": True}
    rows = _records(con, """SELECT month, sum(stock_value) AS value, sum(stock_qty) AS qty
        FROM fact_stock_snapshot WHERE company_id = $company AND month >= $first
        GROUP BY 1 ORDER BY 1""",
                    scope.company_params(first=_month_back(scope.today, months - 1)))  # fmt: skip
    labels = [r["month"] for r in rows]
    values = [_dec(r["value"]) for r in rows]
    quantities = [_dec(r["qty"]) for r in rows]
    return {"table": {"header": [_("Month"), _("Stock value"), _("Stock quantity")],
                      "rows": [[r["month"], v, q] for r, v, q in zip(rows, values, quantities,
                                                                      strict=True)]},
            "series": (labels, [(_("Stock value"), values), (_("Stock quantity"), quantities)])}  # fmt: skip


def _month_back(day: dt.date, months: int) -> str:
    """The "YYYY-MM" of the month `months` before `day`'s."""
    index = day.year * 12 + day.month - 1 - months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


OPEN_PURCHASE = "f.state <> 'done' AND f.quantity > f.qty_received"


def purchase_open(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    """Purchase lines not fully received (order not done): quantity still to receive, its
    value at the line's price, and the orders."""
    if scope.owner_id is not None:
        return {"skipped": True}
    row = _one(con, f"""SELECT sum(f.quantity - f.qty_received) AS qty,
        sum(f.purchased * (f.quantity - f.qty_received) / f.quantity) AS value,
        count(DISTINCT f.order_id) AS orders FROM fact_purchase_line f
        WHERE f.company_id = $company AND {OPEN_PURCHASE}""", scope.company_params())  # fmt: skip
    spend = _one(con, "SELECT sum(purchased) AS v FROM fact_purchase_line "
                      "WHERE company_id = $company AND date > $since",
                 scope.company_params(since=scope.today - dt.timedelta(days=365)))  # fmt: skip
    return {"figures": [
        {"label": _("Quantity to receive"), "value": _dec(row["qty"])},
        {"label": _("Value to receive"), "value": _dec(row["value"])},
        {"label": _("Purchase orders to receive"), "value": int(row["orders"] or 0),
         "format": "int"},
        {"label": _("Purchase spend, last 365 days"), "value": _dec(spend["v"])},
    ]}  # fmt: skip


def purchase_open_by(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    if scope.owner_id is not None:
        return {"skipped": True}
    rows = _records(con, f"""SELECT coalesce(s.supplier, '—') AS supplier,
        sum(f.quantity - f.qty_received) AS qty, count(DISTINCT f.order_id) AS orders
        FROM fact_purchase_line f LEFT JOIN dim_supplier s ON s.supplier_key = f.supplier_key
        WHERE f.company_id = $company AND {OPEN_PURCHASE}
        GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TABLE_ROWS}""", scope.company_params())  # fmt: skip
    return {"table": {"header": [_("Supplier"), _("Quantity to receive"), _("Orders")],
                      "rows": [[r["supplier"], _dec(r["qty"]), r["orders"]] for r in rows]}}  # fmt: skip


def customers_7p(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    """Customers analysed, at churn risk, CLV total and the revenue share of the top fifth of
    customers (by revenue) in scope; empty before the first 7P refresh."""
    if customers_reads.run_info(con, company_id=scope.company.pk) is None:
        return {"no_7p": True}
    params = {**scope.params(), "grp": None}
    totals = _one(con, f"""SELECT count(*) AS customers, sum(t.clv) AS clv,
        count(CASE WHEN t.churn_probability >= $risk THEN 1 END) AS at_risk
        FROM cust_7p t {customers_reads.SCOPE}""", {**params, "risk": CHURN_RISK})  # fmt: skip
    revenues = [r[0] for r in con.execute(
        f"SELECT CAST(t.revenue AS DOUBLE) FROM cust_7p t {customers_reads.SCOPE} "
        "ORDER BY t.revenue DESC, t.customer_key", params).fetchall()]  # fmt: skip
    top = -(-len(revenues) * TOP_PERCENT // 100)
    whole = sum(r or 0 for r in revenues)
    share = (sum(r or 0 for r in revenues[:top]) / whole) if whole else None
    return {"figures": [
        {"label": _("Customers analysed"), "value": int(totals["customers"]), "format": "int"},
        {"label": _("At churn risk (≥ 50 %)"), "value": int(totals["at_risk"]), "format": "int"},
        {"label": _("CLV, next 12 months"), "value": _dec(totals["clv"])},
        # xgettext:no-python-format
        {"label": _("Revenue share of the top 20 % of customers"), "value": share,
         "format": "percent"},
    ]}  # fmt: skip


def churn_list(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    if customers_reads.run_info(con, company_id=scope.company.pk) is None:
        return {"no_7p": True}
    page = customers_reads.overview(con, company_id=scope.company.pk, owner_id=scope.owner_id,
                                    limit=8)  # fmt: skip
    return {"table": {"header": [_("Customer"), _("Churn probability"), _("Revenue, period")],
                      "rows": [[r["customer"], r["churn_probability"], r["revenue"]]
                               for r in page["churn_risk"]],
                      "percent": [1]}}  # fmt: skip


def cluster_sizes(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    if customers_reads.run_info(con, company_id=scope.company.pk) is None:
        return {"no_7p": True}
    page = customers_reads.overview(con, company_id=scope.company.pk, owner_id=scope.owner_id,
                                    limit=1)  # fmt: skip
    labels = [_("Cluster %(n)s") % {"n": c["cluster"] + 1} for c in page["clusters"]]
    sizes = [c["size"] for c in page["clusters"]]
    return {"table": {"header": [_("Cluster"), _("Customers"), _("Description")],
                      "rows": [[label, c["size"], c["description"]]
                               for label, c in zip(labels, page["clusters"], strict=True)]},
            "series": (labels, [(_("Customers"), sizes)])}  # fmt: skip


def cost_to_serve(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    """Cost-to-serve of the 7P analysis: credit notes (returns) and the cost of payment delay,
    with the customers having overdue invoices."""
    if customers_reads.run_info(con, company_id=scope.company.pk) is None:
        return {"no_7p": True}
    row = _one(con, f"""SELECT sum(t.returns) AS returns, sum(t.delay_cost) AS delay,
        count(CASE WHEN t.overdue > 0 THEN 1 END) AS late_payers
        FROM cust_7p t {customers_reads.SCOPE}""", {**scope.params(), "grp": None})  # fmt: skip
    return {"figures": [
        {"label": _("Credit notes (returns)"), "value": _dec(row["returns"])},
        {"label": _("Cost of payment delay"), "value": _dec(row["delay"])},
        {"label": _("Customers with overdue invoices"), "value": int(row["late_payers"] or 0),
         "format": "int"},
    ]}  # fmt: skip


def forecast_summary(con: duckdb.DuckDBPyConnection, scope: Scope) -> dict[str, Any]:
    """Products forecast (product level), their mean backtest MASE against the seasonal naive's,
    the share beating the naive, and the run's date; empty before the first forecast."""
    if not _table_exists(con, "fc_run"):
        return {"no_forecast": True}
    run = _records(con, "SELECT run_at, horizon FROM fc_run WHERE company_id = $company",
                   {"company": scope.company.pk})  # fmt: skip
    if not run:
        return {"no_forecast": True}
    row = _one(con, """SELECT count(*) AS products, avg(mase) AS mase, avg(naive_mase) AS naive,
        avg(CASE WHEN mase < naive_mase THEN 1.0 ELSE 0.0 END) AS better, avg(wape) AS wape
        FROM fc_series WHERE company_id = $company AND level = 'product'""",
               {"company": scope.company.pk})  # fmt: skip
    return {"figures": [
        {"label": _("Products forecast"), "value": int(row["products"]), "format": "int"},
        {"label": _("Mean MASE"), "value": row["mase"], "format": "ratio"},
        {"label": _("Mean MASE of the seasonal naive"), "value": row["naive"], "format": "ratio"},
        {"label": _("Products beating the naive"), "value": row["better"], "format": "percent"},
        {"label": _("Mean WAPE"), "value": row["wape"], "format": "percent"},
        {"label": _("Horizon (weeks)"), "value": int(run[0]["horizon"]), "format": "int"},
    ], "as_of": run[0]["run_at"]}  # fmt: skip


def forecast_weeks(con: duckdb.DuckDBPyConnection, scope: Scope, weeks: int = 4
                   ) -> dict[str, Any]:  # fmt: skip
    """The statistical forecast of the first `weeks` weeks after the run's last week, summed
    over the products."""
    if not _table_exists(con, "fc_run"):
        return {"no_forecast": True}
    rows = _records(con, f"""SELECT f.date, sum(f.quantity) AS quantity FROM fc_forecast f
        JOIN fc_run r ON r.company_id = f.company_id
        WHERE f.company_id = $company AND f.level = 'product' AND f.date > r.last_week
        GROUP BY 1 ORDER BY 1 LIMIT {int(weeks)}""", {"company": scope.company.pk})  # fmt: skip
    if not rows:
        return {"no_forecast": True}
    labels = [r["date"].isoformat() for r in rows]
    quantities = [round(float(r["quantity"] or 0), 2) for r in rows]
    return {"table": {"header": [_("Week"), _("Forecast quantity")],
                      "rows": [[label, q] for label, q in zip(labels, quantities, strict=True)]},
            "series": (labels, [(_("Forecast quantity"), quantities)])}  # fmt: skip


READERS: dict[str, Callable[[duckdb.DuckDBPyConnection, Scope], dict[str, Any]]] = {
    "company_kpis": company_kpis, "receivables": receivables,
    "overdue_by_customer": overdue_by_customer, "gl_by_type": gl_by_type,
    "production": production, "purchase_open": purchase_open,
    "purchase_open_by": purchase_open_by, "customers_7p": customers_7p,
    "churn_list": churn_list, "cluster_sizes": cluster_sizes, "cost_to_serve": cost_to_serve,
    "forecast_summary": forecast_summary, "forecast_weeks": forecast_weeks,
    "stock_months": stock_months,
}  # fmt: skip


def tile_answer(*, tile: Tile, company: Company, user: Any, see_all: bool,
                today: dt.date | None = None) -> dict[str, Any]:  # fmt: skip
    """What one tile shows: for a pivot tile `{"pivot": PivotResult}` (or `{"error": …}`),
    for a figure its reader's answer (`figures`, `table`, `series`, or `skipped` / `no_7p` /
    `no_forecast` when it has nothing to show in this scope)."""
    if tile.figure:
        scope = Scope(company, user, see_all, today or timezone.localdate())
        with warehouse.connect(read_only=True) as con:
            return READERS[tile.figure](con, scope)
    return pivot_tile(definition=tile.definition or {}, company=company, user=user,
                      see_all=see_all)  # fmt: skip


def pivot_tile(*, definition: dict[str, Any], company: Company, user: Any,
               see_all: bool) -> dict[str, Any]:  # fmt: skip
    try:
        clean = services.definition_clean(definition)
    except ValidationError as exc:
        return {"error": " ".join(m for v in exc.message_dict.values() for m in v)}
    answer = selectors.pivot_answer(company=company, user=user, see_all=see_all,
                                    definition=clean)  # fmt: skip
    if answer.skipped and len(answer.skipped) == len(answer.measures):
        return {"skipped": True, "pivot": answer, "definition": clean}
    return {"pivot": answer, "definition": clean}


# --- pins -----------------------------------------------------------------------------------


def pins_of(*, company: Company, user: Any) -> list[DashboardPin]:
    """The user's pins in the company whose view they may still open (own or shared)."""
    visible = selectors.saved_pivots_visible(company=company, user=user)
    return list(DashboardPin.unscoped.filter(company=company, user=user, view__in=visible)
                .select_related("view").order_by("position", "pk"))  # fmt: skip


@transaction.atomic
def dashboard_pin_add(*, company: Company, actor: Any, view_id: Any,
                      display: str = DashboardPin.Display.TABLE) -> DashboardPin:  # fmt: skip
    """Pin a saved pivot the actor may open (own, or shared in the company) at the end of their
    dashboard. Raises ValidationError on an unknown or foreign view, an unknown display, or a
    view already pinned."""
    try:
        view = selectors.saved_pivots_visible(company=company, user=actor).get(pk=int(view_id))
    except (SavedPivot.DoesNotExist, TypeError, ValueError) as exc:
        raise ValidationError({"view": _("No such saved view that you may open.")}) from exc
    if display not in DashboardPin.Display.values:
        raise ValidationError({"display": _("Choose a table, bar, line or pie display.")})
    pins = DashboardPin.unscoped.select_for_update().filter(company=company, user=actor)
    if pins.filter(view=view).exists():
        raise ValidationError({"view": _("This view is already on your dashboard.")})
    last = pins.aggregate(n=Max("position"))["n"]
    return DashboardPin.unscoped.create(company=company, user=actor, view=view, display=display,
                                        position=0 if last is None else last + 1)  # fmt: skip


def _own_pin(*, company: Company, actor: Any, pin_id: Any) -> DashboardPin:
    try:
        return DashboardPin.unscoped.select_for_update().get(company=company, user=actor,
                                                             pk=int(pin_id))  # fmt: skip
    except (DashboardPin.DoesNotExist, TypeError, ValueError) as exc:
        raise ValidationError({"pin": _("No such pin on your dashboard.")}) from exc


@transaction.atomic
def dashboard_pin_remove(*, company: Company, actor: Any, pin_id: Any) -> None:
    """Unpin one of the actor's pins; ValidationError when it is not theirs."""
    _own_pin(company=company, actor=actor, pin_id=pin_id).delete()


@transaction.atomic
def dashboard_pin_move(*, company: Company, actor: Any, pin_id: Any, direction: str) -> None:
    """Swap one of the actor's pins with its neighbour above ("up") or below ("down"); locks the
    actor's pins (by pk). ValidationError on a foreign pin, an unknown direction, or a move past
    the first or last place."""
    if direction not in ("up", "down"):
        raise ValidationError({"direction": _("Move a pin up or down.")})
    pins = list(DashboardPin.unscoped.select_for_update().filter(company=company, user=actor)
                .order_by("pk"))  # fmt: skip
    pin = _own_pin(company=company, actor=actor, pin_id=pin_id)
    ordered = sorted(pins, key=lambda p: (p.position, p.pk))
    index = next(i for i, p in enumerate(ordered) if p.pk == pin.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(ordered):
        raise ValidationError({"direction": _("The pin is already at that end.")})
    ordered[index], ordered[other] = ordered[other], ordered[index]
    for position, p in enumerate(ordered):
        if p.position != position:
            p.position = position
            p.save(update_fields=["position"])
