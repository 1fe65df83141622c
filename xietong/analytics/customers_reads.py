"""Reads of the 7P customer analysis (written by `customers.refresh`) for the screens and the
API, each scoped like the pivot: one company, and with `owner_id` only the customers whose
salesperson is that user; `group` narrows to one customer group (the segment). Retention
cohorts are read from the order facts; the rest from the `cust_7p*` tables, empty until the
first refresh."""

# SQL assembled from constant fragments of this module; every value is a bound parameter.
# ruff: noqa: S608
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import duckdb
import numpy as np

from xietong.analytics import baskets, customers, warehouse

SCOPE = """JOIN dim_customer c ON c.customer_key = t.customer_key
    WHERE t.company_id = $company
      AND (CAST($owner AS BIGINT) IS NULL OR c.owner_id = CAST($owner AS BIGINT))
      AND (CAST($grp AS VARCHAR) IS NULL OR c.customer_group = CAST($grp AS VARCHAR))"""


def _params(company_id: int, owner_id: int | None, group: str | None, **more: Any) -> dict:
    return {"company": company_id, "owner": owner_id, "grp": group or None, **more}


def _ready(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether a refresh wrote this version of the tables (an older file's are read as "not
    computed yet" until the next refresh replaces them)."""
    row = con.execute("SELECT count(*) FROM information_schema.tables "
                      "WHERE table_name = 'cust_7p_run'").fetchone()  # fmt: skip
    if not (row and row[0]):
        return False
    return warehouse.meta_get(con, "customers_tables") == customers.TABLES_VERSION


def run_info(con: duckdb.DuckDBPyConnection, *, company_id: int) -> dict[str, Any] | None:
    """The last refresh's summary (as_of, sizes, model reports), or None before the first."""
    if not _ready(con):
        return None
    row = con.execute("SELECT summary, refreshed_at FROM cust_7p_run WHERE company_id = ?",
                      [company_id]).fetchone()  # fmt: skip
    if row is None:
        return None
    summary = json.loads(row[0])
    summary["refreshed_at"] = row[1]
    return summary


def _records(con: duckdb.DuckDBPyConnection, sql: str, params: dict) -> list[dict[str, Any]]:
    return con.execute(sql, params).to_arrow_table().to_pylist()


def customer_groups(con: duckdb.DuckDBPyConnection, *, company_id: int) -> list[str]:
    rows = con.execute("SELECT DISTINCT customer_group FROM dim_customer WHERE company_id = ? "
                       "AND customer_group IS NOT NULL ORDER BY 1", [company_id]).fetchall()  # fmt: skip
    return [r[0] for r in rows]


LIST_COLUMNS = """t.customer_key, c.customer, c.customer_group, c.owner, t.recency_days, t.orders,
    CAST(t.revenue AS DOUBLE) AS revenue, CAST(t.profit AS DOUBLE) AS profit, t.growth,
    t.cluster, t.churn_probability, t.p_alive, t.expected_orders, CAST(t.clv AS DOUBLE) AS clv,
    CAST(t.cost_to_serve AS DOUBLE) AS cost_to_serve, t.days_late, t.attainment"""


def overview(con: duckdb.DuckDBPyConnection, *, company_id: int, owner_id: int | None = None,
             group: str | None = None, limit: int = 20) -> dict[str, Any]:  # fmt: skip
    """Totals, clusters (sizes in scope, centres and their description), churn-risk, CLV, growth
    lists, category mix and the strongest cross-sell rules of the scope."""
    run = run_info(con, company_id=company_id)
    if run is None:
        return {"run": None}
    params = _params(company_id, owner_id, group)
    totals = _records(con, f"""SELECT count(*) AS customers, CAST(sum(t.revenue) AS DOUBLE) AS revenue,
        CAST(sum(t.margin) AS DOUBLE) AS margin, CAST(sum(t.returns) AS DOUBLE) AS returns,
        CAST(sum(t.delay_cost) AS DOUBLE) AS delay_cost, CAST(sum(t.profit) AS DOUBLE) AS profit,
        CAST(sum(t.revenue_period) AS DOUBLE) AS revenue_period,
        CAST(sum(t.revenue_previous) AS DOUBLE) AS revenue_previous,
        CAST(sum(t.overdue) AS DOUBLE) AS overdue, CAST(sum(t.ar_open) AS DOUBLE) AS ar_open,
        avg(t.churn_probability) AS churn, CAST(sum(t.clv) AS DOUBLE) AS clv,
        avg(t.recency_days) AS recency, avg(t.orders) AS orders,
        CAST(sum(t.discounts) AS DOUBLE) AS discounts, sum(t.tickets) AS tickets,
        CAST(sum(t.ticket_cost) AS DOUBLE) AS ticket_cost,
        CAST(sum(t.cost_to_serve) AS DOUBLE) AS cost_to_serve,
        CAST(sum(t.paid) AS DOUBLE) AS paid,
        sum(t.days_late * CAST(t.paid AS DOUBLE)) AS late_days,
        sum(t.on_time_share * CAST(t.paid AS DOUBLE)) AS on_time,
        CAST(sum(t.target) AS DOUBLE) AS target,
        CAST(sum(t.revenue_period) FILTER (WHERE t.target > 0) AS DOUBLE) AS revenue_targeted,
        count(*) FILTER (WHERE t.target > 0) AS with_target
        FROM cust_7p t {SCOPE}""", params)[0]  # fmt: skip
    previous = totals["revenue_previous"] or 0
    totals["growth"] = ((totals["revenue_period"] or 0) / previous - 1) if previous else None
    paid = totals["paid"] or 0
    totals["days_late"] = (totals["late_days"] or 0) / paid if paid else None
    totals["on_time_share"] = (totals["on_time"] or 0) / paid if paid else None
    target = totals["target"] or 0
    totals["attainment"] = (totals["revenue_targeted"] or 0) / target if target > 0 else None
    sizes = {r["cluster"]: r["n"] for r in _records(
        con, f"SELECT t.cluster, count(*) AS n FROM cust_7p t {SCOPE} GROUP BY 1", params)}  # fmt: skip
    clusters = []
    for r in _records(con, "SELECT cluster, size, centre, means FROM cust_7p_cluster "
                      "WHERE company_id = $company ORDER BY cluster", {"company": company_id}):  # fmt: skip
        centre = json.loads(r["centre"])
        clusters.append({"cluster": r["cluster"], "size": sizes.get(r["cluster"], 0),
                         "size_all": r["size"], "centre": centre, "means": json.loads(r["means"]),
                         "description": customers.cluster_description(centre)})  # fmt: skip

    def top(order: str, where: str = "") -> list[dict[str, Any]]:
        return _records(con, f"SELECT {LIST_COLUMNS} FROM cust_7p t {SCOPE} {where} "
                        f"ORDER BY {order}, t.customer_key LIMIT {int(limit)}", params)  # fmt: skip

    mix = _records(con, """SELECT coalesce(p.top_category, '—') AS category,
        CAST(sum(f.revenue) AS DOUBLE) AS revenue, CAST(sum(f.revenue - f.cost) AS DOUBLE) AS margin
        FROM fact_sales_line f JOIN dim_customer c ON c.customer_key = f.customer_key
        LEFT JOIN dim_product p ON p.product_key = f.product_key
        WHERE f.company_id = $company AND f.date <= $as_of
          AND (CAST($owner AS BIGINT) IS NULL OR c.owner_id = CAST($owner AS BIGINT))
          AND (CAST($grp AS VARCHAR) IS NULL OR c.customer_group = CAST($grp AS VARCHAR))
        GROUP BY 1 ORDER BY 2 DESC""", {**params, "as_of": dt.date.fromisoformat(run["as_of"])})  # fmt: skip
    return {
        "run": run, "totals": totals, "clusters": clusters,
        "churn_risk": top("t.churn_probability DESC NULLS LAST, t.revenue_period DESC",
                          "AND t.churn_probability IS NOT NULL"),
        "clv_top": top("t.clv DESC NULLS LAST"),
        "profit_top": top("t.profit DESC"),
        "growers": top("t.growth DESC", "AND t.revenue_previous > 0"),
        "decliners": top("t.growth ASC", "AND t.revenue_previous > 0"),
        "overdue": top("t.overdue DESC", "AND t.overdue > 0"),
        "late_payers": top("t.days_late DESC", "AND t.days_late > 0"),
        "serve_top": top("t.cost_to_serve DESC", "AND t.cost_to_serve > 0"),
        "category_mix": mix,
        "rules": rules(con, company_id=company_id, limit=limit),
    }  # fmt: skip


def rules(con: duckdb.DuckDBPyConnection, *, company_id: int, limit: int = 20
          ) -> list[dict[str, Any]]:  # fmt: skip
    """The strongest cross-sell rules with product names."""
    if not _ready(con):
        return []
    found = _records(con, "SELECT antecedent, consequent, support, confidence, lift "
                     "FROM cust_7p_rule WHERE company_id = $company ORDER BY rank LIMIT $n",
                     {"company": company_id, "n": limit})  # fmt: skip
    names = _product_names(con, {k for r in found for k in [*json.loads(r["antecedent"]),
                                                            r["consequent"]]})  # fmt: skip
    for r in found:
        r["antecedent"] = [names.get(k, str(k)) for k in json.loads(r["antecedent"])]
        r["consequent"] = names.get(r["consequent"], str(r["consequent"]))
    return found


def _product_names(con: duckdb.DuckDBPyConnection, keys: set[int]) -> dict[int, str]:
    if not keys:
        return {}
    rows = con.execute("SELECT product_key, product FROM dim_product WHERE product_key IN "
                       "(SELECT unnest($keys))", {"keys": sorted(keys)}).fetchall()  # fmt: skip
    return dict(rows)


def retention_cohorts(con: duckdb.DuckDBPyConnection, *, company_id: int, as_of: dt.date,
                      owner_id: int | None = None, group: str | None = None, months: int = 12,
                      cohorts: int = 12) -> dict[str, Any]:  # fmt: skip
    """Customers by the month of their first order (the last `cohorts` months up to `as_of`):
    the cohort's size and, for each month 0…`months` after, the share of it that ordered."""
    back = as_of.year * 12 + as_of.month - 1 - (cohorts - 1)
    start = dt.date(back // 12, back % 12 + 1, 1)
    rows = con.execute(f"""WITH o AS (
            SELECT DISTINCT t.customer_key, date_trunc('month', t.date) AS m
            FROM fact_sales_line t {SCOPE} AND t.date <= $as_of),
        first AS (SELECT customer_key, min(m) AS cohort FROM o GROUP BY customer_key)
        SELECT strftime(first.cohort, '%Y-%m') AS cohort, datediff('month', first.cohort, o.m) AS k,
            count(*) AS n
        FROM o JOIN first USING (customer_key)
        WHERE first.cohort >= $start GROUP BY 1, 2 ORDER BY 1, 2""",
        _params(company_id, owner_id, group, as_of=as_of, start=start)).fetchall()  # fmt: skip
    labels = sorted({r[0] for r in rows})
    sizes = dict.fromkeys(labels, 0)
    counts: dict[tuple[str, int], int] = {}
    for cohort, k, n in rows:
        counts[(cohort, int(k))] = int(n)
        if k == 0:
            sizes[cohort] = int(n)
    matrix = [[(counts.get((c, k), 0) / sizes[c]) if sizes[c] and k <= _age(c, as_of) else None
               for k in range(months + 1)] for c in labels]  # fmt: skip
    return {"cohorts": labels, "sizes": [sizes[c] for c in labels],
            "months": list(range(months + 1)), "retention": matrix}  # fmt: skip


def _age(cohort: str, as_of: dt.date) -> int:
    year, month = (int(p) for p in cohort.split("-"))
    return (as_of.year - year) * 12 + as_of.month - month


def whale_curve(con: duckdb.DuckDBPyConnection, *, company_id: int, owner_id: int | None = None,
                group: str | None = None, points: int = 101) -> dict[str, Any]:  # fmt: skip
    """Cumulative share of total profit against the share of customers sorted by profit (most
    profitable first), at up to `points` points, with the peak (the profit the best customers
    make before the unprofitable ones give part of it back)."""
    if not _ready(con):
        return {"x": [], "y": [], "customers": 0}
    rows = con.execute(f"SELECT CAST(t.profit AS DOUBLE) FROM cust_7p t {SCOPE} "
                       "ORDER BY t.profit DESC", _params(company_id, owner_id, group)
                       ).fetchnumpy()  # fmt: skip
    profit = next(iter(rows.values())) if rows else np.zeros(0)
    profit = np.asarray(profit, float)
    n = len(profit)
    total = float(profit.sum())
    if not n or total == 0:
        return {"x": [], "y": [], "customers": n, "total": total}
    cumulative = np.concatenate([[0.0], np.cumsum(profit) / total])
    share = np.arange(n + 1) / n
    pick = np.unique(np.linspace(0, n, min(points, n + 1)).round().astype(int))
    peak = int(np.argmax(cumulative))
    return {"x": [round(float(v), 4) for v in share[pick]],
            "y": [round(float(v), 4) for v in cumulative[pick]], "customers": n, "total": total,
            "peak_share": float(cumulative[peak]), "peak_customers": float(share[peak]),
            "unprofitable": int((profit < 0).sum())}  # fmt: skip


def customer_detail(con: duckdb.DuckDBPyConnection, *, company_id: int, customer_key: int,
                    owner_id: int | None = None) -> dict[str, Any] | None:  # fmt: skip
    """One customer's 7P page: firmographics, features and scores, cluster and its description,
    company averages to compare, category mix, monthly revenue and cross-sell suggestions.
    None when the customer is not in scope (another company, or not the rep's) or has no 7P
    row yet."""
    run = run_info(con, company_id=company_id)
    if run is None:
        return None
    params = _params(company_id, owner_id, None, key=customer_key)
    found = _records(con, f"""SELECT t.*, CAST(t.revenue AS DOUBLE) AS revenue_f, c.code,
        c.customer, c.customer_group, c.region, c.country, c.owner
        FROM cust_7p t {SCOPE} AND t.customer_key = $key""", params)  # fmt: skip
    if not found:
        return None
    row = found[0]
    for name in ("revenue", "cost", "margin", "returns", "overdue", "ar_open", "delay_cost",
                 "profit", "revenue_period", "revenue_previous", "clv", "discounts",
                 "ticket_cost", "cost_to_serve", "paid", "target"):  # fmt: skip
        row[name] = None if row[name] is None else float(row[name])
    row["margin_rate"] = row["margin"] / row["revenue"] if row["revenue"] else None
    average = _records(con, """SELECT avg(recency_days) AS recency_days, avg(orders) AS orders,
        avg(CAST(revenue AS DOUBLE)) AS revenue, avg(CAST(profit AS DOUBLE)) AS profit,
        avg(growth) AS growth, avg(churn_probability) AS churn_probability,
        avg(CAST(clv AS DOUBLE)) AS clv, avg(tenure_days) AS tenure_days,
        avg(tickets) AS tickets, avg(CAST(cost_to_serve AS DOUBLE)) AS cost_to_serve,
        sum(days_late * CAST(paid AS DOUBLE)) / nullif(sum(CAST(paid AS DOUBLE)), 0)
            AS days_late,
        sum(on_time_share * CAST(paid AS DOUBLE)) / nullif(sum(CAST(paid AS DOUBLE)), 0)
            AS on_time_share, avg(attainment) AS attainment,
        avg(CASE WHEN profit <= $profit THEN 1.0 ELSE 0.0 END) AS profit_rank
        FROM cust_7p WHERE company_id = $company""",
                       {"company": company_id, "profit": row["profit"]})[0]  # fmt: skip
    cluster = None
    if row["cluster"] is not None:
        got = _records(con, "SELECT centre FROM cust_7p_cluster WHERE company_id = $company "
                       "AND cluster = $c", {"company": company_id, "c": row["cluster"]})  # fmt: skip
        if got:
            centre = json.loads(got[0]["centre"])
            cluster = {"cluster": row["cluster"], "centre": centre,
                       "description": customers.cluster_description(centre)}  # fmt: skip
    as_of = dt.date.fromisoformat(run["as_of"])
    mix = _records(con, """SELECT coalesce(p.top_category, '—') AS category,
        CAST(sum(f.revenue) AS DOUBLE) AS revenue FROM fact_sales_line f
        LEFT JOIN dim_product p ON p.product_key = f.product_key
        WHERE f.company_id = $company AND f.customer_key = $key AND f.date <= $as_of
        GROUP BY 1 ORDER BY 2 DESC""", {"company": company_id, "key": customer_key,
                                        "as_of": as_of})  # fmt: skip
    monthly = _records(con, """SELECT strftime(date, '%Y-%m') AS month,
        CAST(sum(revenue) AS DOUBLE) AS revenue, count(DISTINCT order_id) AS orders
        FROM fact_sales_line WHERE company_id = $company AND customer_key = $key
          AND date <= $as_of GROUP BY 1 ORDER BY 1""",
                       {"company": company_id, "key": customer_key, "as_of": as_of})  # fmt: skip
    bought = [r[0] for r in con.execute(
        "SELECT DISTINCT product_key FROM fact_sales_line WHERE company_id = ? "
        "AND customer_key = ? AND product_key IS NOT NULL", [company_id, customer_key]).fetchall()]  # fmt: skip
    stored = con.execute("SELECT antecedent, consequent, support, confidence, lift FROM "
                         "cust_7p_rule WHERE company_id = ? ORDER BY rank",
                         [company_id]).fetchall()  # fmt: skip
    rule_list = [baskets.Rule(tuple(json.loads(a)), c, s, conf, lift)
                 for a, c, s, conf, lift in stored]  # fmt: skip
    offers = baskets.recommendations(rule_list, bought, limit=5)
    names = _product_names(con, {p for p, r in offers} | {k for _p, r in offers
                                                          for k in r.antecedent})  # fmt: skip
    suggestions = [{"product": names.get(p, str(p)),
                    "because": [names.get(k, str(k)) for k in r.antecedent],
                    "confidence": r.confidence, "lift": r.lift} for p, r in offers]  # fmt: skip
    return {"run": run, "customer": row, "average": average, "cluster": cluster,
            "category_mix": mix, "monthly": monthly, "suggestions": suggestions}  # fmt: skip
