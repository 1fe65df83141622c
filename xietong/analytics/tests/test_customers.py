"""The 7P refresh (customers.py) and its reads (customers_reads.py) on a small star written by
hand, with figures computed by hand: RFM, margin, cost-to-serve, growth, the whale curve and
the retention cohorts; k-means finding planted clusters; the churn model beating chance on
simulated data with a planted signal; the rep's scope."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow as pa
import pytest

from xietong.analytics import clv, customers, customers_reads, warehouse

AS_OF = dt.date(2026, 1, 1)
D = dt.date


def _star(con, orders, credits=(), receivables=(), owners=None):  # type: ignore[no-untyped-def]
    """orders: (order_id, customer_key, date, [(product_key, revenue, cost)]);
    credits: (customer_key, date, amount); receivables: (customer_key, date, due, open)."""
    warehouse.schema_ensure(con)
    owners = owners or {}
    keys = sorted({o[1] for o in orders})
    for key in keys:
        company = 2 if key >= 100 else 1
        con.execute("INSERT INTO dim_customer VALUES (?, ?, ?, ?, ?, 'R', 'CN', ?, ?)",
                    [key, company, f"C{key}", f"Customer {key}", "Group A" if key % 2 else
                     "Group B", owners.get(key, 7), f"Rep {owners.get(key, 7)}"])  # fmt: skip
    for p in (1, 2, 3):
        con.execute("INSERT INTO dim_product VALUES (?, 1, ?, ?, 'Cat', ?, 1)",
                    [p, f"P{p}", f"Product {p}", "Bikes" if p < 3 else "Parts"])  # fmt: skip
    line = 0
    for order_id, key, date, lines in orders:
        company = 2 if key >= 100 else 1
        for product, revenue, cost in lines:
            line += 1
            con.execute("INSERT INTO fact_sales_line VALUES (?, ?, ?, ?, ?, ?, 1, 1, 'CNY', "
                        "'confirmed', 1, ?, ?)",
                        [line, order_id, company, date, key, product, revenue, cost])  # fmt: skip
    for i, (key, date, amount) in enumerate(credits):
        con.execute("INSERT INTO fact_invoice_line VALUES (?, ?, 1, ?, 'out_refund', ?, 1, 'CNY', "
                    "-1, ?)", [9000 + i, 9000 + i, date, key, -amount])  # fmt: skip
    for i, (key, date, due, open_) in enumerate(receivables):
        con.execute("INSERT INTO fact_receivable VALUES (?, 1, ?, ?, ?, 'out_invoice', ?, ?)",
                    [8000 + i, date, due, key, open_, open_])  # fmt: skip


HAND = [
    (1, 1, D(2024, 12, 1), [(1, 30, 20), (2, 20, 10)]),  # previous period
    (2, 1, D(2025, 6, 1), [(1, 60, 40), (3, 40, 20)]),
    (3, 1, D(2025, 12, 1), [(2, 200, 120)]),
    (4, 2, D(2025, 10, 2), [(1, 400, 100)]),
    (5, 3, D(2024, 3, 1), [(3, 80, 70)]),
    (6, 4, D(2024, 12, 15), [(1, 30, 10)]),
    (7, 100, D(2025, 5, 5), [(1, 999, 1)]),  # another company
]


@pytest.fixture
def hand():  # type: ignore[no-untyped-def]
    with warehouse.connect() as con:
        _star(con, HAND, credits=[(1, D(2025, 12, 10), 20)],
              receivables=[(1, D(2025, 11, 1), D(2025, 12, 1), 100),
                           (2, D(2025, 12, 20), D(2026, 1, 20), 50)],
              owners={4: 8})  # fmt: skip
        summary = customers.refresh(con, company_id=1, as_of=AS_OF, horizon_days=90)
        yield con, summary


def _rows(con):  # type: ignore[no-untyped-def]
    records = con.execute("SELECT * FROM cust_7p WHERE company_id = 1").to_arrow_table()
    return {r["customer_key"]: r for r in records.to_pylist()}


def test_rfm_margin_cost_to_serve_and_growth_by_hand(hand):  # type: ignore[no-untyped-def]
    con, summary = hand
    rows = _rows(con)
    assert set(rows) == {1, 2, 3, 4} and summary["customers"] == 4  # not company 2's customer
    one = rows[1]
    assert (one["recency_days"], one["tenure_days"], one["orders"]) == (31, 396, 3)
    assert one["cohort"] == "2024-12" and one["orders_period"] == 2
    assert float(one["revenue"]) == 350 and float(one["cost"]) == 210
    assert float(one["margin"]) == 140 and float(one["returns"]) == 20
    assert float(one["overdue"]) == 100  # due 2025-12-01, 31 days late
    assert float(one["delay_cost"]) == pytest.approx(100 * 31 * 0.08 / 365, abs=1e-4)
    assert float(one["profit"]) == pytest.approx(140 - 20 - 100 * 31 * 0.08 / 365, abs=1e-4)
    assert float(one["revenue_period"]) == 300 and float(one["revenue_previous"]) == 50
    assert one["growth"] == pytest.approx(300 / 50 - 1)
    two = rows[2]
    assert (two["recency_days"], two["orders"], float(two["margin"])) == (91, 1, 300)
    assert float(two["overdue"]) == 0 and float(two["ar_open"]) == 50  # not due yet
    assert two["growth"] == 1.0  # new this period
    three = rows[3]
    assert three["recency_days"] == (AS_OF - D(2024, 3, 1)).days and three["growth"] == -1.0


def test_rfm_in_sql_matches_clv_rfm_summary(hand):  # type: ignore[no-untyped-def]
    con, _summary = hand
    mine = customers.rfm(con, company_id=1, as_of=AS_OF)
    transactions = [(str(k), d, sum(r for _p, r, _c in lines))
                    for _o, k, d, lines in HAND if k < 100]  # fmt: skip
    theirs = clv.rfm_summary(transactions, as_of=AS_OF)
    for i, key in enumerate(mine.customers):
        j = theirs.customers.index(key)
        assert (mine.frequency[i], mine.recency[i], mine.age[i]) == (
            theirs.frequency[j],
            theirs.recency[j],
            theirs.age[j],
        )
        assert mine.monetary[i] == pytest.approx(theirs.monetary[j])


def test_whale_curve_and_rep_scope_by_hand(hand):  # type: ignore[no-untyped-def]
    con, _summary = hand
    profits = sorted([140 - 20 - 100 * 31 * 0.08 / 365, 300, 10, 20], reverse=True)
    total = sum(profits)
    curve = customers_reads.whale_curve(con, company_id=1)
    assert curve["customers"] == 4 and curve["x"] == [0, 0.25, 0.5, 0.75, 1.0]
    expected = [0] + [sum(profits[: i + 1]) / total for i in range(4)]
    assert curve["y"] == pytest.approx(expected, abs=1e-4)
    assert curve["peak_share"] == pytest.approx(1.0) and curve["unprofitable"] == 0
    rep = customers_reads.whale_curve(con, company_id=1, owner_id=8)
    assert rep["customers"] == 1  # only customer 4 is rep 8's
    other = customers_reads.overview(con, company_id=1, owner_id=8)
    assert other["totals"]["customers"] == 1 and other["totals"]["revenue"] == 30
    assert customers_reads.customer_detail(con, company_id=1, customer_key=1, owner_id=8) is None
    assert customers_reads.customer_detail(con, company_id=1, customer_key=4, owner_id=8)
    assert customers_reads.customer_detail(con, company_id=2, customer_key=1) is None


def test_retention_cohorts_by_hand(hand):  # type: ignore[no-untyped-def]
    con, _summary = hand
    data = customers_reads.retention_cohorts(con, company_id=1, as_of=AS_OF, cohorts=24)
    assert data["cohorts"] == ["2024-03", "2024-12", "2025-10"]
    assert data["sizes"] == [1, 2, 1]
    dec = data["retention"][1]  # customers 1 and 4; 1 again in months 6 and 12
    assert dec[0] == 1.0 and dec[6] == 0.5 and dec[12] == 0.5
    assert dec[1] == 0 and dec[5] == 0
    oct_ = data["retention"][2]
    assert oct_[0] == 1.0 and oct_[3] == 0 and oct_[4] is None  # month 4 is after as_of
    group = customers_reads.retention_cohorts(con, company_id=1, as_of=AS_OF, cohorts=24,
                                              group="Group B")  # fmt: skip
    assert group["cohorts"] == ["2024-12", "2025-10"] and group["sizes"] == [1, 1]
    recent = customers_reads.retention_cohorts(con, company_id=1, as_of=AS_OF, cohorts=4)
    assert recent["cohorts"] == ["2025-10"]  # the last 4 months: 2025-10 … 2026-01


def test_summary_and_overview_hold_the_reports(hand):  # type: ignore[no-untyped-def]
    con, summary = hand
    stored = json.loads(con.execute("SELECT summary FROM cust_7p_run WHERE company_id = 1")
                        .fetchone()[0])  # fmt: skip
    assert stored["customers"] == 4 and stored["churn"]["status"] == "not_enough_history"
    assert stored["clv"]["status"] == "not_fitted"  # 4 customers are too few
    page = customers_reads.overview(con, company_id=1)
    assert page["totals"]["customers"] == 4 and page["totals"]["revenue"] == 860
    assert page["totals"]["growth"] == pytest.approx((300 + 400) / (50 + 80 + 30) - 1)
    assert {m["category"]: m["revenue"] for m in page["category_mix"]} == {
        "Bikes": 740,
        "Parts": 120,
    }
    again = customers.refresh(con, company_id=1, as_of=AS_OF)  # replaces, does not add
    assert again["customers"] == 4
    assert con.execute("SELECT count(*) FROM cust_7p").fetchone()[0] == 4


def test_no_sales_is_a_clear_error():  # type: ignore[no-untyped-def]
    with warehouse.connect() as con, pytest.raises(customers.CustomersError):
        customers.refresh(con, company_id=1, as_of=AS_OF)


# ---------------------------------------------------------------------------- models


def test_kmeans_recovers_planted_clusters_and_explains_them():  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(3)
    centres = np.array([[3.0, 0, 0], [-3.0, 3, 0], [0, -3, 3]])
    truth = rng.integers(0, 3, 900)
    x = centres[truth] + rng.normal(0, 0.4, (900, 3))
    fit = customers.clusters_fit(x, seed=1)
    assert fit["k"] == 3 and fit["silhouette"] > 0.5
    # each found cluster is one planted cluster (a contingency table with one cell per row)
    table = np.zeros((3, 3), int)
    np.add.at(table, (fit["labels"], truth), 1)
    assert (table.max(axis=1) / table.sum(axis=1) > 0.98).all()
    words = customers.cluster_description({"frequency": 1.4, "margin_rate": -0.9,
                                           "growth": 0.1, "tenure": 0.6})  # fmt: skip
    assert words == "high order frequency, low margin rate, high tenure"
    assert customers.cluster_description({"frequency": 0.1}) == (
        "close to the average on every measure"
    )


def _simulated(con, n=600, seed=4, company_id=1, owner_id=7):  # type: ignore[no-untyped-def]
    """Customers buying every `gap` days; half of them stop at a random date. The recency at a
    cut-off tells who has stopped: the planted signal."""
    rng = np.random.default_rng(seed)
    start = D(2023, 1, 1)
    orders, order_id = [], 0
    for key in range(1, n + 1):
        gap = int(rng.integers(10, 40))
        stop = start + dt.timedelta(days=int(rng.integers(200, 1100))) if key % 2 else AS_OF
        day = start + dt.timedelta(days=int(rng.integers(0, 60)))
        while day <= min(stop, AS_OF):
            order_id += 1
            orders.append((order_id, key, day, [(1 + key % 3, float(rng.integers(50, 500)), 30)]))
            day += dt.timedelta(days=gap + int(rng.integers(-5, 6)))
    warehouse.schema_ensure(con)
    con.execute("INSERT INTO dim_customer SELECT range, ?, 'C' || range, 'Customer ' || range, "
                "'G', 'R', 'CN', ?, 'Rep' FROM range(1, ?)", [company_id, owner_id, n + 1])  # fmt: skip
    con.register("sim", pa.table({
        "line_id": list(range(1, len(orders) + 1)), "order_id": [o[0] for o in orders],
        "date": [o[2] for o in orders], "customer_key": [o[1] for o in orders],
        "product_key": [o[3][0][0] for o in orders], "revenue": [o[3][0][1] for o in orders],
    }))  # fmt: skip
    con.execute("INSERT INTO fact_sales_line SELECT line_id, order_id, ?, date, customer_key, "
                "product_key, 1, 1, 'CNY', 'confirmed', 1, revenue, 30 FROM sim",
                [company_id])  # fmt: skip
    con.unregister("sim")


def test_churn_model_beats_chance_and_reports_its_auc():  # type: ignore[no-untyped-def]
    with warehouse.connect() as con:
        _simulated(con)
        model = customers.churn_model(con, company_id=1, as_of=AS_OF, horizon_days=90)
        report = model["report"]
        assert report["status"] == "validated" and report["auc"] > 0.8
        assert report["valid_size"] > 200 and 0 < report["valid_churn_rate"] < 1
        assert report["coefficients"]["recency"] > 0  # long silence → churn
        summary = customers.refresh(con, company_id=1, as_of=AS_OF)
        assert summary["churn"]["auc"] == pytest.approx(report["auc"])
        assert summary["clv"]["status"] == "fitted"
        risk = con.execute("SELECT avg(churn_probability) FILTER (WHERE customer_key % 2 = 1 "
                           "AND recency_days > 120), avg(churn_probability) FILTER "
                           "(WHERE customer_key % 2 = 0) FROM cust_7p").fetchone()  # fmt: skip
        assert risk[0] > risk[1] + 0.3  # stopped customers are the risky ones
        page = customers_reads.overview(con, company_id=1)
        assert page["clusters"] and sum(c["size"] for c in page["clusters"]) == 600
        assert (
            page["churn_risk"][0]["churn_probability"]
            >= page["churn_risk"][-1]["churn_probability"]
        )
        assert page["clv_top"][0]["clv"] >= page["clv_top"][-1]["clv"]
