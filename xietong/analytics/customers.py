"""The 7P customer analysis, computed in the warehouse: `customers_refresh` (the "7P refresh")
reads the facts of one company with vectorised DuckDB SQL (never a loop over customers), fits
the models with NumPy / scikit-learn and writes the results into its own warehouse tables
(`tables_ensure`), which the screens (`customers_reads.py`) read back with the rep's scope.

Per customer, as of a date (`as_of`, default today), from the confirmed and done order lines
(`fact_sales_line`), the posted customer invoices and credit notes (`fact_invoice_line`,
`fact_receivable`):

* Profiling — firmographics from `dim_customer` (group, region, country, salesperson) and a
  k-means cluster on behaviour (the features of `CLUSTER_FEATURES`, log-scaled where skewed and
  standardised; k chosen by the silhouette over `K_RANGE` on a sample). Each cluster's centre is
  kept as z-scores and explained in words by `cluster_description` ("high frequency, low margin
  rate…"), translated when shown.
* Persistency — recency, frequency (orders), tenure, first-order month (the retention cohort,
  see `customers_reads.retention_cohorts`), and a churn probability: a logistic regression on
  standardised RFM features, label "no order in the next `horizon_days`" after a cut-off in the
  past. It is trained at the cut-off as_of − 2·horizon, validated (ROC AUC, a time-based holdout)
  at as_of − horizon, then refitted on the validation cut-off and applied to today's features.
* Profitability — revenue, cost and gross margin (net of the order lines' discounts), and the
  cost-to-serve (`cost_to_serve`), all up to `as_of`:
    - credit notes (`fact_invoice_line`, counted as lost revenue);
    - service tickets opened (`fact_ticket`) × `TICKET_COST` (a module constant in the company
      currency, the loaded cost of handling one ticket; `refresh(ticket_cost=…)` overrides it);
    - discounts granted (`fact_sales_discount`: list price − net of the order lines; a
      promotion's price replaces the list price when the order is priced, so it is not seen);
    - payment delay, financed at `FINANCE_RATE` a year: Σ amount paid × days paid after the
      due date, from the actual payment dates of the allocations (`fact_payment`), plus what
      is still open and overdue × days overdue at `as_of` (today's open amounts).
  Profit after cost-to-serve = margin at list prices (margin + discounts) − cost-to-serve, i.e.
  margin − credit notes − tickets − delay: a discount is charged once. The whale curve sorts
  customers by it.
* Performance — revenue of the last `period_days` against the period before (growth) and
  against target: the prorated target of the customer's salesperson (`fact_sales_target`, the
  salesperson's own targets; each counts for the share of its days inside the period) times the
  customer's share of that salesperson's revenue in the previous period (an equal share when
  the salesperson had none), attainment = revenue of the period / that target. Payment
  behaviour from the allocations up to `as_of`: average days paid late (weighted by the amount
  paid, an early payment counting 0) and the on-time share of the amount paid; the open and
  overdue receivable. A team's target (without salesperson) is not split over customers (no
  customer belongs to a team); share of wallet is unknown (no outside spend is recorded).
* Prospecting — BG/NBD + Gamma-Gamma (`clv.py`) on weekly RFM computed in SQL (the same summary
  as `clv.rfm_summary`): probability alive, expected orders in the next year, 12-month CLV
  discounted monthly by `MONTHLY_DISCOUNT`; the parameters are fitted on a random sample of
  `CLV_SAMPLE` customers when there are more.
* Product — association rules (FP-growth, `baskets.py`) over the products of the most recent
  `RULE_BASKETS` orders, kept for the cross-sell suggestions of each customer's page.
* Promotion — `customers_promotion.py`, run by `customers_refresh` after this refresh: the
  campaigns' exposures from crm's public selector, response and 30-day conversion against
  the control group held out when the campaign was sent (uplift, two-proportion z-test), per
  customer and per campaign, and the best next campaign per cluster and customer group.
"""

# SQL assembled from constant fragments of this module; every value is a bound parameter.
# ruff: noqa: S608
from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Callable
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.analytics import baskets, clv, customers_promotion, warehouse

TABLES_VERSION = "2"
TABLES: dict[str, str] = {
    "cust_7p": (
        "company_id BIGINT, customer_key BIGINT, as_of DATE, first_date DATE, last_date DATE, "
        "cohort VARCHAR, recency_days INTEGER, tenure_days INTEGER, orders BIGINT, "
        "orders_period BIGINT, revenue DECIMAL(18,4), cost DECIMAL(18,4), margin DECIMAL(18,4), "
        "returns DECIMAL(18,4), overdue DECIMAL(18,4), ar_open DECIMAL(18,4), "
        "delay_cost DECIMAL(18,4), profit DECIMAL(18,4), revenue_period DECIMAL(18,4), "
        "revenue_previous DECIMAL(18,4), growth DOUBLE, cluster INTEGER, churn_probability DOUBLE, "
        "p_alive DOUBLE, expected_orders DOUBLE, clv DECIMAL(18,4), discounts DECIMAL(18,4), "
        "tickets BIGINT, ticket_cost DECIMAL(18,4), cost_to_serve DECIMAL(18,4), "
        "paid DECIMAL(18,4), days_late DOUBLE, on_time_share DOUBLE, target DECIMAL(18,4), "
        "attainment DOUBLE, PRIMARY KEY (company_id, customer_key)"
    ),
    "cust_7p_cluster": (
        "company_id BIGINT, cluster INTEGER, size BIGINT, centre VARCHAR, means VARCHAR, "
        "PRIMARY KEY (company_id, cluster)"
    ),
    "cust_7p_rule": (
        "company_id BIGINT, rank INTEGER, antecedent VARCHAR, consequent BIGINT, "
        "support DOUBLE, confidence DOUBLE, lift DOUBLE"
    ),
    "cust_7p_run": (
        "company_id BIGINT PRIMARY KEY, as_of DATE, refreshed_at TIMESTAMP, summary VARCHAR"
    ),
}
CREDIT = "out_refund"
INVOICE = "out_invoice"
FINANCE_RATE = 0.08  # a year's cost of money tied up in overdue receivables
TICKET_COST = 30.0  # handling one service ticket, in the company currency (loaded agent time)
MONTHLY_DISCOUNT = 0.01
K_RANGE = range(2, 7)
SAMPLE = 20_000  # customers the k-means is chosen and fitted on (all are then assigned)
SILHOUETTE_SAMPLE = 2_000
RULE_BASKETS = 100_000
CLV_SAMPLE = 30_000
RULES_KEPT = 500

CLUSTER_FEATURES: dict[str, Any] = {
    "recency": gettext_lazy("recency (days since the last order)"),
    "frequency": gettext_lazy("order frequency"),
    "monetary": gettext_lazy("revenue"),
    "tenure": gettext_lazy("tenure"),
    "margin_rate": gettext_lazy("margin rate"),
    "growth": gettext_lazy("growth"),
    "return_rate": gettext_lazy("credit notes"),
    "overdue_rate": gettext_lazy("overdue payments"),
}
CHURN_FEATURES = ("recency", "frequency", "monetary", "tenure", "period_orders", "growth",
                  "margin_rate", "return_rate")  # fmt: skip


class CustomersError(ValueError):
    """The 7P refresh cannot run (no sales for the company)."""


def tables_ensure(con: duckdb.DuckDBPyConnection) -> None:
    """Create this module's tables if missing (again, when `TABLES_VERSION` changed). They are
    not part of the star's schema version: a star rebuild leaves them, the next refresh
    replaces their rows."""
    warehouse.schema_ensure(con)
    customers_promotion.tables_ensure(con)
    if warehouse.meta_get(con, "customers_tables") == TABLES_VERSION:
        for name, columns in TABLES.items():
            con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")
        return
    for name, columns in TABLES.items():
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"CREATE TABLE {name} ({columns})")
    warehouse.meta_set(con, "customers_tables", TABLES_VERSION)


# ---------------------------------------------------------------------------- features

FEATURES_SQL = """
WITH o AS (SELECT * FROM {orders} WHERE date <= $until),
a AS (
    SELECT customer_key,
        min(date) FILTER (WHERE date <= $as_of) AS first_date,
        max(date) FILTER (WHERE date <= $as_of) AS last_date,
        count(*) FILTER (WHERE date <= $as_of) AS orders,
        count(*) FILTER (WHERE date > $as_of - $period AND date <= $as_of) AS orders_period,
        count(*) FILTER (WHERE date > $as_of) AS orders_next,
        coalesce(sum(revenue) FILTER (WHERE date <= $as_of), 0) AS revenue,
        coalesce(sum(cost) FILTER (WHERE date <= $as_of), 0) AS cost,
        coalesce(sum(revenue) FILTER (WHERE date > $as_of - $period AND date <= $as_of), 0)
            AS revenue_period,
        coalesce(sum(revenue) FILTER (WHERE date > $as_of - 2 * $period
                                      AND date <= $as_of - $period), 0) AS revenue_previous
    FROM o GROUP BY customer_key),
r AS (
    SELECT customer_key, -sum(invoiced) AS returns FROM fact_invoice_line
    WHERE company_id = $company AND kind = $credit AND date <= $as_of GROUP BY customer_key),
ar AS (
    SELECT customer_key, sum(ar_open) FILTER (WHERE ar_open > 0) AS ar_open,
        sum(ar_open) FILTER (WHERE ar_open > 0 AND due_date < $as_of) AS overdue,
        sum(ar_open * ($as_of - due_date)) FILTER (WHERE ar_open > 0 AND due_date < $as_of)
            AS overdue_days
    FROM fact_receivable WHERE company_id = $company AND date <= $as_of GROUP BY customer_key)
SELECT a.customer_key, a.first_date, a.last_date, strftime(a.first_date, '%Y-%m') AS cohort,
    CAST($as_of - a.last_date AS INTEGER) AS recency_days,
    CAST($as_of - a.first_date AS INTEGER) AS tenure_days,
    a.orders, a.orders_period, a.orders_next,
    CAST(a.revenue AS DOUBLE) AS revenue, CAST(a.cost AS DOUBLE) AS cost,
    CAST(a.revenue - a.cost AS DOUBLE) AS margin,
    CAST(coalesce(r.returns, 0) AS DOUBLE) AS returns,
    CAST(coalesce(ar.overdue, 0) AS DOUBLE) AS overdue,
    CAST(coalesce(ar.ar_open, 0) AS DOUBLE) AS ar_open,
    CAST(coalesce(ar.overdue_days, 0) AS DOUBLE) AS overdue_days,
    CAST(a.revenue_period AS DOUBLE) AS revenue_period,
    CAST(a.revenue_previous AS DOUBLE) AS revenue_previous
FROM a LEFT JOIN r USING (customer_key) LEFT JOIN ar USING (customer_key)
WHERE a.orders > 0
ORDER BY a.customer_key
"""
ORDERS_SQL = """
CREATE OR REPLACE TEMP TABLE {orders} AS
SELECT customer_key, order_id, min(date) AS date, CAST(sum(revenue) AS DOUBLE) AS revenue,
    CAST(sum(cost) AS DOUBLE) AS cost
FROM fact_sales_line WHERE company_id = $company AND customer_key IS NOT NULL
GROUP BY customer_key, order_id
"""


def orders_prepare(con: duckdb.DuckDBPyConnection, *, company_id: int, fresh: bool = False
                   ) -> str:  # fmt: skip
    """The company's orders (one row per order: customer, date, revenue, cost) as a temporary
    table of this connection, read by every feature query; made again with `fresh`."""
    name = f"cust_orders_{int(company_id)}"
    exists = con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name = ?",
                         [name]).fetchone()  # fmt: skip
    if fresh or not (exists and exists[0]):
        con.execute(ORDERS_SQL.format(orders=name), {"company": company_id})
    return name


def features(con: duckdb.DuckDBPyConnection, *, company_id: int, as_of: dt.date,
             period_days: int = 365, label_days: int = 0) -> dict[str, np.ndarray]:  # fmt: skip
    """Each customer's features as of `as_of` (customers with an order by then), as NumPy
    columns in customer-key order; `orders_next` counts their orders in the `label_days` after
    it. Money is in the company currency."""
    orders = orders_prepare(con, company_id=company_id)
    table = con.execute(FEATURES_SQL.format(orders=orders), {
        "company": company_id, "as_of": as_of, "until": as_of + dt.timedelta(days=label_days),
        "period": period_days, "credit": CREDIT,
    }).to_arrow_table()  # fmt: skip
    out = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
    revenue = out["revenue"]
    safe = np.where(revenue > 0, revenue, 1.0)
    out["margin_rate"] = np.where(revenue > 0, out["margin"] / safe, 0.0)
    out["return_rate"] = np.clip(np.where(revenue > 0, out["returns"] / safe, 0.0), 0, 1)
    out["overdue_rate"] = np.clip(np.where(revenue > 0, out["overdue"] / safe, 0.0), 0, 1)
    previous = out["revenue_previous"]
    out["growth"] = np.where(
        previous > 0, out["revenue_period"] / np.where(previous > 0, previous, 1.0) - 1,
        np.where(out["revenue_period"] > 0, 1.0, 0.0),
    )  # fmt: skip
    return out


SERVE_SQL = """
WITH k AS (SELECT DISTINCT customer_key FROM {orders} WHERE date <= $as_of),
t AS (SELECT customer_key, count(*) AS tickets FROM fact_ticket
      WHERE company_id = $company AND date <= $as_of GROUP BY customer_key),
d AS (SELECT customer_key, sum(discount) AS discounts FROM fact_sales_discount
      WHERE company_id = $company AND date <= $as_of GROUP BY customer_key),
p AS (SELECT customer_key, sum(amount) AS paid, sum(late_amount_days) AS late_days,
          sum(on_time) AS on_time
      FROM fact_payment WHERE company_id = $company AND date <= $as_of GROUP BY customer_key),
o AS (SELECT customer_key, owner_id FROM dim_customer)
SELECT k.customer_key, coalesce(t.tickets, 0) AS tickets,
    CAST(coalesce(d.discounts, 0) AS DOUBLE) AS discounts,
    CAST(coalesce(p.paid, 0) AS DOUBLE) AS paid,
    CAST(coalesce(p.late_days, 0) AS DOUBLE) AS late_days,
    CAST(coalesce(p.on_time, 0) AS DOUBLE) AS on_time, o.owner_id
FROM k LEFT JOIN t USING (customer_key) LEFT JOIN d USING (customer_key)
LEFT JOIN p USING (customer_key) LEFT JOIN o USING (customer_key)
ORDER BY k.customer_key
"""
TARGET_SQL = """
SELECT salesperson_key, CAST(sum(amount * (least(period_end, $as_of) - greatest(date, $start) + 1)
                                 / (period_end - date + 1)) AS DOUBLE)
FROM fact_sales_target
WHERE company_id = $company AND salesperson_key IS NOT NULL AND period_end >= $start
  AND date <= $as_of
GROUP BY salesperson_key
"""


def cost_to_serve(con: duckdb.DuckDBPyConnection, f: dict[str, np.ndarray], *, company_id: int,
                  as_of: dt.date, period_days: int = 365,
                  ticket_cost: float = TICKET_COST) -> dict[str, np.ndarray]:  # fmt: skip
    """Adds to the features `f` (of `features`, as of `as_of`) the cost-to-serve, the profit
    after it, the payment behaviour and the attainment against target (see the module's
    docstring); returns `f`."""
    keys = f["customer_key"]
    orders = orders_prepare(con, company_id=company_id)
    table = con.execute(SERVE_SQL.format(orders=orders),
                        {"company": company_id, "as_of": as_of}).to_arrow_table()  # fmt: skip
    got = {n: table[n].to_numpy(zero_copy_only=False) for n in table.column_names}
    if not np.array_equal(got["customer_key"], keys):  # the same customers, in key order
        raise ValueError("cost_to_serve: the features of another as_of or company")
    f["tickets"] = got["tickets"].astype(np.int64)
    f["discounts"] = got["discounts"].astype(float)
    f["ticket_cost"] = f["tickets"] * float(ticket_cost)
    f["delay_cost"] = (got["late_days"] + f["overdue_days"]) * FINANCE_RATE / 365
    f["cost_to_serve"] = f["returns"] + f["discounts"] + f["ticket_cost"] + f["delay_cost"]
    f["profit"] = f["margin"] + f["discounts"] - f["cost_to_serve"]
    paid = got["paid"].astype(float)
    f["paid"] = paid
    safe = np.where(paid > 0, paid, 1.0)
    f["days_late"] = np.where(paid > 0, got["late_days"] / safe, np.nan)
    f["on_time_share"] = np.where(paid > 0, got["on_time"] / safe, np.nan)
    # the target: the salesperson's prorated target × the customer's share of their book
    start = as_of - dt.timedelta(days=period_days - 1)
    targets = dict(con.execute(TARGET_SQL, {"company": company_id, "as_of": as_of,
                                            "start": start}).fetchall())  # fmt: skip
    owners = np.array([-1 if o is None or (isinstance(o, float) and math.isnan(o)) else int(o)
                       for o in got["owner_id"].tolist()], dtype=np.int64)  # fmt: skip
    target = np.full(len(keys), np.nan)
    if targets and len(keys):
        groups, inverse = np.unique(owners, return_inverse=True)
        previous = np.maximum(f["revenue_previous"], 0)
        book = np.bincount(inverse, weights=previous, minlength=len(groups))
        size = np.bincount(inverse, minlength=len(groups))
        share = np.where(book[inverse] > 0, previous / np.where(book[inverse] > 0,
                                                                book[inverse], 1.0),
                         1.0 / size[inverse])  # fmt: skip
        owner_target = np.array([targets.get(int(o), np.nan) if o >= 0 else np.nan
                                 for o in groups])[inverse]  # fmt: skip
        target = owner_target * share
    f["target"] = target
    with np.errstate(invalid="ignore", divide="ignore"):
        f["attainment"] = np.where(target > 0, f["revenue_period"] / np.where(
            target > 0, target, 1.0), np.nan)  # fmt: skip
    return f


def _matrix(f: dict[str, np.ndarray], names: tuple[str, ...] | list[str]) -> np.ndarray:
    """The model inputs: skewed counts and amounts on a log scale, growth clipped."""
    columns = {
        "recency": np.log1p(np.maximum(f["recency_days"], 0)),
        "frequency": np.log1p(f["orders"]),
        "monetary": np.log1p(np.maximum(f["revenue"], 0)),
        "tenure": np.log1p(np.maximum(f["tenure_days"], 0)),
        "period_orders": np.log1p(f["orders_period"]),
        "growth": np.clip(f["growth"], -1, 3),
        "margin_rate": np.clip(f["margin_rate"], -1, 1),
        "return_rate": f["return_rate"],
        "overdue_rate": f["overdue_rate"],
    }
    return np.column_stack([np.asarray(columns[n], float) for n in names])


# ---------------------------------------------------------------------------- profiling


def clusters_fit(x: np.ndarray, *, k: int | None = None, seed: int = 0) -> dict[str, Any]:
    """k-means on the standardised rows of `x`: k from the silhouette over `K_RANGE` (on a
    sample) unless given. Returns labels (every row), centres as z-scores, k and silhouette."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # OpenMP threads spinning on a busy machine cost 20× more
        return _clusters_fit(x, k, seed, KMeans, silhouette_score)


def _clusters_fit(x: np.ndarray, k: int | None, seed: int, KMeans: Any,  # noqa: N803
                  silhouette_score: Any) -> dict[str, Any]:  # fmt: skip
    n = len(x)
    mean, std = x.mean(axis=0), x.std(axis=0)
    z = (x - mean) / np.where(std > 0, std, 1.0)
    rng = np.random.default_rng(seed)
    sample = z if n <= SAMPLE else z[rng.choice(n, SAMPLE, replace=False)]
    scored = sample if len(sample) <= SILHOUETTE_SAMPLE else sample[
        rng.choice(len(sample), SILHOUETTE_SAMPLE, replace=False)]  # fmt: skip
    candidates = [k] if k else [c for c in K_RANGE if c < len(np.unique(sample, axis=0))]
    if not candidates:
        candidates = [1]
    best: tuple[float, Any] | None = None
    for c in candidates:
        model = KMeans(n_clusters=c, n_init=4, random_state=seed).fit(sample)
        labels = model.predict(scored)
        score = (float(silhouette_score(scored, labels))
                 if 1 < len(set(labels.tolist())) < len(scored) else -1.0)  # fmt: skip
        if best is None or score > best[0]:
            best = (score, model)
    assert best is not None
    score, model = best
    labels = model.predict(z)
    return {"labels": labels, "centres": model.cluster_centers_, "k": model.n_clusters,
            "silhouette": score, "mean": mean, "std": std}  # fmt: skip


def cluster_description(centre: dict[str, float], *, limit: int = 3, threshold: float = 0.5) -> str:
    """A cluster's centre in words, from its z-scores: the `limit` features furthest from the
    average (at least `threshold` standard deviations), "high …" or "low …"."""
    ranked = sorted(((abs(z), name, z) for name, z in centre.items()
                     if name in CLUSTER_FEATURES and abs(z) >= threshold), reverse=True)  # fmt: skip
    words = []
    for _size, name, z in ranked[:limit]:
        label = CLUSTER_FEATURES[name]
        words.append(_("high %(feature)s") % {"feature": label} if z > 0
                     else _("low %(feature)s") % {"feature": label})  # fmt: skip
    return ", ".join(words) if words else _("close to the average on every measure")


# ---------------------------------------------------------------------------- churn


def _churn_fit(x: np.ndarray, y: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)


def churn_model(con: duckdb.DuckDBPyConnection, *, company_id: int, as_of: dt.date,
                horizon_days: int = 90, period_days: int = 365) -> dict[str, Any]:  # fmt: skip
    """Train at as_of − 2·horizon, validate at as_of − horizon (ROC AUC of the holdout), refit at
    as_of − horizon. Returns the fitted model (or None) and its report: status, auc, sizes,
    churn rates, coefficients."""
    from sklearn.metrics import roc_auc_score

    report: dict[str, Any] = {"horizon_days": horizon_days, "model": "logistic regression"}
    cut_train = as_of - dt.timedelta(days=2 * horizon_days)
    cut_valid = as_of - dt.timedelta(days=horizon_days)
    train = features(con, company_id=company_id, as_of=cut_train, period_days=period_days,
                     label_days=horizon_days)  # fmt: skip
    valid = features(con, company_id=company_id, as_of=cut_valid, period_days=period_days,
                     label_days=horizon_days)  # fmt: skip
    y_train = (train["orders_next"] == 0).astype(int)
    y_valid = (valid["orders_next"] == 0).astype(int)
    report.update(train_cutoff=cut_train.isoformat(), valid_cutoff=cut_valid.isoformat(),
                  train_size=len(y_train), valid_size=len(y_valid),
                  train_churn_rate=float(y_train.mean()) if len(y_train) else None,
                  valid_churn_rate=float(y_valid.mean()) if len(y_valid) else None)  # fmt: skip
    if len(y_train) < 20 or len(set(y_train.tolist())) < 2:
        report["status"] = "not_enough_history"
        return {"model": None, "report": report}
    model = _churn_fit(_matrix(train, CHURN_FEATURES), y_train)
    if len(y_valid) >= 10 and len(set(y_valid.tolist())) == 2:
        scores = model.predict_proba(_matrix(valid, CHURN_FEATURES))[:, 1]
        report["auc"] = float(roc_auc_score(y_valid, scores))
        model = _churn_fit(_matrix(valid, CHURN_FEATURES), y_valid)
        report["status"] = "validated"
    else:
        report["auc"] = None
        report["status"] = "not_validated"
    coefficients = model[-1].coef_[0]
    report["coefficients"] = {n: float(c) for n, c in zip(CHURN_FEATURES, coefficients,
                                                          strict=True)}  # fmt: skip
    return {"model": model, "report": report}


# ---------------------------------------------------------------------------- CLV

RFM_SQL = """
WITH d AS (
    SELECT customer_key, date, sum(revenue) AS amount FROM {orders}
    WHERE date <= $as_of GROUP BY customer_key, date),
f AS (SELECT customer_key, min(date) AS first_date FROM d GROUP BY customer_key),
p AS (
    SELECT d.customer_key, (d.date - f.first_date) // $unit AS period, sum(d.amount) AS amount
    FROM d JOIN f USING (customer_key) GROUP BY d.customer_key, period)
SELECT p.customer_key, count(*) - 1 AS frequency, max(p.period) AS recency,
    ($as_of - any_value(f.first_date)) // $unit AS age,
    coalesce(CAST(sum(p.amount) FILTER (WHERE p.period > 0) AS DOUBLE)
             / nullif(count(*) - 1, 0), 0) AS monetary
FROM p JOIN f USING (customer_key) GROUP BY p.customer_key ORDER BY p.customer_key
"""


def rfm(con: duckdb.DuckDBPyConnection, *, company_id: int, as_of: dt.date,
        time_unit: str = "week") -> clv.Rfm:  # fmt: skip
    """`clv.rfm_summary` of the company's orders (amount: order revenue), computed in SQL;
    customers are the customer keys (as strings) in key order."""
    orders = orders_prepare(con, company_id=company_id)
    table = con.execute(RFM_SQL.format(orders=orders), {"as_of": as_of,
                                  "unit": clv.TIME_UNITS[time_unit]}).to_arrow_table()  # fmt: skip
    col = {n: table[n].to_numpy(zero_copy_only=False) for n in table.column_names}
    return clv.Rfm([str(k) for k in col["customer_key"].tolist()],
                   col["frequency"].astype(float), col["recency"].astype(float),
                   col["age"].astype(float), col["monetary"].astype(float))  # fmt: skip


def clv_fit(con: duckdb.DuckDBPyConnection, *, company_id: int, as_of: dt.date,
            weeks: int = 52, seed: int = 0) -> dict[str, Any]:  # fmt: skip
    """BG/NBD + Gamma-Gamma (fitted on up to `CLV_SAMPLE` customers drawn at random): per
    customer key, P(alive), expected orders and CLV over `weeks`."""
    summary = rfm(con, company_id=company_id, as_of=as_of)
    keys = np.array([int(k) for k in summary.customers], dtype=np.int64)
    fitted_on = summary
    if len(keys) > CLV_SAMPLE:  # population parameters: a large random sample pins them down
        pick = np.sort(np.random.default_rng(seed).choice(len(keys), CLV_SAMPLE, replace=False))
        fitted_on = clv.Rfm([summary.customers[i] for i in pick], summary.frequency[pick],
                            summary.recency[pick], summary.age[pick], summary.monetary[pick])  # fmt: skip
    try:
        purchases = clv.bgnbd_fit(fitted_on)
        spend = clv.gamma_gamma_fit(fitted_on)
    except clv.ClvError as exc:
        return {"keys": keys, "status": "not_fitted", "reason": str(exc)}
    x, t_x, age = summary.frequency, summary.recency, summary.age
    return {
        "keys": keys, "status": "fitted", "params": clv.parameters(purchases, spend),
        "p_alive": clv.probability_alive(purchases, x, t_x, age),
        "expected": clv.expected_purchases(purchases, weeks, x, t_x, age),
        "clv": clv.lifetime_value(purchases, spend, summary, horizon=weeks, steps=4,
                                  discount_rate=MONTHLY_DISCOUNT),
    }  # fmt: skip


# ---------------------------------------------------------------------------- product


def rules_fit(con: duckdb.DuckDBPyConnection, *, company_id: int,
              as_of: dt.date) -> list[baskets.Rule]:  # fmt: skip
    """Association rules between products over the latest `RULE_BASKETS` orders."""
    orders = orders_prepare(con, company_id=company_id)
    rows = con.execute(
        f"""WITH recent AS (SELECT order_id, date FROM {orders} WHERE date <= $as_of
                            ORDER BY date DESC, order_id DESC LIMIT $n)
        SELECT list(DISTINCT product_key) FROM fact_sales_line
        WHERE company_id = $company AND product_key IS NOT NULL
          AND date >= (SELECT min(date) FROM recent) AND date <= $as_of
          AND order_id IN (SELECT order_id FROM recent)
        GROUP BY order_id""",
        {"company": company_id, "as_of": as_of, "n": RULE_BASKETS},
    ).fetchall()
    data = [r[0] for r in rows]
    if len(data) < 10:
        return []
    support = max(0.002, 3 / len(data))
    rules = baskets.association_rules(data, min_support=support, min_confidence=0.1,
                                      min_lift=1.0, max_size=3)  # fmt: skip
    return rules[:RULES_KEPT]


# ---------------------------------------------------------------------------- the refresh


def refresh(con: duckdb.DuckDBPyConnection, *, company_id: int, as_of: dt.date,
            horizon_days: int = 90, period_days: int = 365, k: int | None = None, seed: int = 0,
            progress: Callable[[str], None] | None = None,
            ticket_cost: float = TICKET_COST) -> dict[str, Any]:  # fmt: skip
    """The 7P refresh of one company on an open (writable) warehouse connection: computes
    everything, then replaces the company's rows of the `cust_7p*` tables in one transaction.
    Returns the run's summary (also stored in `cust_7p_run`). Raises CustomersError when the
    company has no sales up to `as_of`."""
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def step(name: str) -> None:
        timings[name] = round(time.perf_counter() - started - sum(timings.values()), 3)
        if progress:
            progress(name)

    tables_ensure(con)
    orders = orders_prepare(con, company_id=company_id, fresh=True)
    try:
        return _refresh(con, company_id, as_of, horizon_days, period_days, k, seed, step,
                        started, timings, ticket_cost)  # fmt: skip
    finally:
        con.execute(f"DROP TABLE IF EXISTS {orders}")


def _refresh(con: duckdb.DuckDBPyConnection, company_id: int, as_of: dt.date, horizon_days: int,
             period_days: int, k: int | None, seed: int, step: Callable[[str], None],
             started: float, timings: dict[str, float], ticket_cost: float) -> dict[str, Any]:  # fmt: skip
    f = features(con, company_id=company_id, as_of=as_of, period_days=period_days)
    n = len(f["customer_key"])
    if not n:
        raise CustomersError(_("No sales up to %(date)s: nothing to analyse.")
                             % {"date": as_of.isoformat()})  # fmt: skip
    cost_to_serve(con, f, company_id=company_id, as_of=as_of, period_days=period_days,
                  ticket_cost=ticket_cost)  # fmt: skip
    step("features")
    names = list(CLUSTER_FEATURES)
    cluster_rows: list[tuple[Any, ...]] = []
    clusters = np.full(n, -1, dtype=np.int32)
    profile: dict[str, Any] = {"status": "not_enough_customers"}
    if n >= 10:
        raw = _matrix(f, names)
        fit = clusters_fit(raw, k=k, seed=seed)
        clusters = fit["labels"].astype(np.int32)
        profile = {"status": "fitted", "k": fit["k"], "silhouette": fit["silhouette"],
                   "chosen": "fixed" if k else "silhouette"}  # fmt: skip
        for c in range(fit["k"]):
            members = clusters == c
            centre = {name: round(float(v), 3) for name, v in zip(names, fit["centres"][c],
                                                                   strict=True)}  # fmt: skip
            means = {
                "recency_days": float(f["recency_days"][members].mean()) if members.any() else 0,
                "orders": float(f["orders"][members].mean()) if members.any() else 0,
                "revenue": float(f["revenue"][members].mean()) if members.any() else 0,
                "margin_rate": float(f["margin_rate"][members].mean()) if members.any() else 0,
            }
            cluster_rows.append((company_id, c, int(members.sum()), json.dumps(centre),
                                 json.dumps(means)))  # fmt: skip
    step("profiling")
    churn = churn_model(con, company_id=company_id, as_of=as_of, horizon_days=horizon_days,
                        period_days=period_days)  # fmt: skip
    probability = np.full(n, np.nan)
    if churn["model"] is not None:
        probability = churn["model"].predict_proba(_matrix(f, CHURN_FEATURES))[:, 1]
    step("churn")
    value = clv_fit(con, company_id=company_id, as_of=as_of, seed=seed)
    p_alive, expected, lifetime = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
    if value["status"] == "fitted":
        where = np.searchsorted(value["keys"], f["customer_key"])
        p_alive, expected, lifetime = (value[k_][where] for k_ in ("p_alive", "expected", "clv"))
    step("clv")
    rules = rules_fit(con, company_id=company_id, as_of=as_of)
    step("rules")
    summary = {
        "as_of": as_of.isoformat(), "customers": n, "period_days": period_days,
        "profiling": profile, "churn": churn["report"],
        "clv": {k_: value.get(k_) for k_ in ("status", "reason", "params") if k_ in value},
        "rules": len(rules), "finance_rate": FINANCE_RATE, "ticket_cost": float(ticket_cost),
        "left_out": ["promotion_prices", "team_targets", "share_of_wallet"],
    }  # fmt: skip

    def nan_none(a: np.ndarray) -> pa.Array:
        return pa.array(a, pa.float64(), mask=np.isnan(a))

    rows = pa.table({
        "company_id": pa.array(np.full(n, company_id, dtype=np.int64)),
        "customer_key": f["customer_key"], "as_of": pa.array([as_of] * n, pa.date32()),
        "first_date": f["first_date"], "last_date": f["last_date"], "cohort": f["cohort"],
        "recency_days": f["recency_days"], "tenure_days": f["tenure_days"],
        "orders": f["orders"], "orders_period": f["orders_period"],
        "revenue": f["revenue"], "cost": f["cost"], "margin": f["margin"],
        "returns": f["returns"], "overdue": f["overdue"], "ar_open": f["ar_open"],
        "delay_cost": f["delay_cost"], "profit": f["profit"],
        "revenue_period": f["revenue_period"], "revenue_previous": f["revenue_previous"],
        "growth": f["growth"], "cluster": pa.array(clusters, mask=clusters < 0),
        "churn_probability": nan_none(probability), "p_alive": nan_none(np.asarray(p_alive)),
        "expected_orders": nan_none(np.asarray(expected)), "clv": nan_none(np.asarray(lifetime)),
        "discounts": f["discounts"], "tickets": f["tickets"], "ticket_cost": f["ticket_cost"],
        "cost_to_serve": f["cost_to_serve"], "paid": f["paid"],
        "days_late": nan_none(f["days_late"]), "on_time_share": nan_none(f["on_time_share"]),
        "target": nan_none(f["target"]), "attainment": nan_none(f["attainment"]),
    })  # fmt: skip
    rule_rows = pa.table({
        "company_id": pa.array([company_id] * len(rules), pa.int64()),
        "rank": pa.array(range(len(rules)), pa.int32()),
        "antecedent": pa.array([json.dumps(list(r.antecedent)) for r in rules], pa.string()),
        "consequent": pa.array([int(r.consequent) for r in rules], pa.int64()),
        "support": pa.array([r.support for r in rules], pa.float64()),
        "confidence": pa.array([r.confidence for r in rules], pa.float64()),
        "lift": pa.array([r.lift for r in rules], pa.float64()),
    })  # fmt: skip
    con.execute("BEGIN")
    try:
        for table in TABLES:
            con.execute(f"DELETE FROM {table} WHERE company_id = ?", [company_id])
        con.register("cust_rows", rows)
        con.execute("INSERT INTO cust_7p SELECT * FROM cust_rows")
        con.unregister("cust_rows")
        if cluster_rows:
            con.executemany("INSERT INTO cust_7p_cluster VALUES (?, ?, ?, ?, ?)", cluster_rows)
        con.register("rule_rows", rule_rows)
        con.execute("INSERT INTO cust_7p_rule SELECT * FROM rule_rows")
        con.unregister("rule_rows")
        step("write")
        summary["seconds"] = round(time.perf_counter() - started, 3)
        summary["timings"] = timings
        con.execute("INSERT INTO cust_7p_run VALUES (?, ?, current_timestamp, ?)",
                    [company_id, as_of, json.dumps(summary, default=_json_default)])  # fmt: skip
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    return summary


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    raise TypeError(type(value).__name__)


def customers_refresh(*, company_id: int, as_of: dt.date | None = None,
                      horizon_days: int = 90, progress: Callable[[str], None] | None = None
                      ) -> dict[str, Any]:  # fmt: skip
    """The 7P refresh of a company on the warehouse file (as of today unless given)."""
    from django.utils import timezone

    as_of = as_of or timezone.localdate()
    with warehouse.connect() as con:
        summary = refresh(con, company_id=company_id, as_of=as_of, horizon_days=horizon_days,
                          progress=progress)  # fmt: skip
        summary["promotion"] = customers_promotion.promotion_refresh(
            con, company_id=company_id, as_of=as_of
        )
        return summary


# ---------------------------------------------------------------------------- the job


def refresh_job(context: Any, as_of: str = "", horizon_days: int = 90) -> dict[str, Any]:
    """Background job `analytics.customers_refresh` of the job's company."""
    date = dt.date.fromisoformat(as_of) if as_of else None

    def progress(name: str) -> None:
        context.progress(0, None, name)

    summary = customers_refresh(company_id=context.company.pk, as_of=date,
                                horizon_days=int(horizon_days), progress=progress)  # fmt: skip
    context.progress(summary["customers"], summary["customers"], "")
    return {"customers": summary["customers"], "as_of": summary["as_of"],
            "auc": summary["churn"].get("auc"), "seconds": summary["seconds"]}  # fmt: skip


def register() -> None:
    from xietong.core import jobs

    jobs.register("analytics.customers_refresh", refresh_job)
