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


# ---------------------------------------------------------------------------- cost-to-serve

TARGET_2025 = 1000 * 364 / 365  # the days of 2025 inside the period 2025-01-02 … 2026-01-01


@pytest.fixture
def served():  # type: ignore[no-untyped-def]
    """The hand star with tickets, discounts, payments and targets:

    * customer 1: 2 tickets (a third after as_of), a discount of 50 on order 3, invoice due
      2025-12-01 paid 60 early (11 days before) and 40 on 2025-12-16 (15 days late);
    * customer 2: paid 200 early; customer 3 pays only after as_of; company 2 has a ticket;
    * rep 7 (customers 1, 2, 3) has a 2025 target of 1000 (and a team target without a
      salesperson, not split), rep 8 (customer 4) none."""
    with warehouse.connect() as con:
        _star(con, HAND, credits=[(1, D(2025, 12, 10), 20)],
              receivables=[(1, D(2025, 11, 1), D(2025, 12, 1), 100),
                           (2, D(2025, 12, 20), D(2026, 1, 20), 50)],
              owners={4: 8})  # fmt: skip
        opened = [(1, 1, D(2025, 5, 1)), (1, 1, D(2025, 12, 20)), (1, 1, D(2026, 2, 1)),
                  (2, 100, D(2025, 6, 1))]  # fmt: skip
        for n, (company, key, day) in enumerate(opened):
            con.execute("INSERT INTO fact_ticket VALUES (?, ?, ?, NULL, ?, NULL, 'normal', "
                        "'email', 'open', 1, 0, 0, NULL)", [n, company, day, key])  # fmt: skip
        con.execute("INSERT INTO fact_sales_discount VALUES (3, 3, 1, ?, 1, 2, 1, 1, 'CNY', 250, "
                    "50)", [D(2025, 12, 1)])  # fmt: skip
        payments = [(1, D(2025, 11, 20), D(2025, 12, 1), 60), (1, D(2025, 12, 16), D(2025, 12, 1), 40),
                    (2, D(2025, 10, 1), D(2025, 10, 11), 200), (3, D(2026, 2, 1), D(2026, 1, 1), 80)]  # fmt: skip
        for n, (key, paid, due, amount) in enumerate(payments):
            late = (paid - due).days
            con.execute("INSERT INTO fact_payment VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [n, 8000 + key, 70 + n, paid, due, due, key, amount, late,
                         amount * max(late, 0), amount if late <= 0 else 0])  # fmt: skip
        con.execute("INSERT INTO fact_sales_target VALUES (1, 1, ?, ?, 1, 'North', 7, 1000)",
                    [D(2025, 1, 1), D(2025, 12, 31)])  # fmt: skip
        con.execute("INSERT INTO fact_sales_target VALUES (2, 1, ?, ?, 1, 'North', NULL, 5000)",
                    [D(2025, 1, 1), D(2025, 12, 31)])  # fmt: skip
        summary = customers.refresh(con, company_id=1, as_of=AS_OF, horizon_days=90)
        yield con, summary


def test_cost_to_serve_and_payment_behaviour_by_hand(served):  # type: ignore[no-untyped-def]
    con, summary = served
    rows = _rows(con)
    one = rows[1]
    delay = (40 * 15 + 100 * 31) * 0.08 / 365  # paid late + still open and overdue
    assert one["tickets"] == 2 and float(one["ticket_cost"]) == 2 * customers.TICKET_COST
    assert float(one["discounts"]) == 50 and float(one["returns"]) == 20
    assert float(one["delay_cost"]) == pytest.approx(delay, abs=1e-4)
    assert float(one["cost_to_serve"]) == pytest.approx(20 + 60 + 50 + delay, abs=1e-4)
    # the margin (140) is net of the discount: charged once
    assert float(one["profit"]) == pytest.approx(140 + 50 - (20 + 60 + 50 + delay), abs=1e-4)
    assert float(one["paid"]) == 100 and one["days_late"] == pytest.approx(6.0)  # 40 × 15 / 100
    assert one["on_time_share"] == pytest.approx(0.6)
    two, three = rows[2], rows[3]
    assert two["tickets"] == 0 and float(two["cost_to_serve"]) == 0
    assert two["days_late"] == 0 and two["on_time_share"] == 1
    assert three["days_late"] is None and float(three["paid"]) == 0  # paid after as_of
    assert summary["ticket_cost"] == customers.TICKET_COST
    assert "tickets" not in summary["left_out"] and "targets" not in summary["left_out"]
    # the whale curve sorts by the profit after cost-to-serve
    curve = customers_reads.whale_curve(con, company_id=1)
    profits = sorted([float(r["profit"]) for r in rows.values()], reverse=True)
    assert curve["y"][1] == pytest.approx(profits[0] / sum(profits), abs=1e-4)


def test_attainment_against_the_salespersons_prorated_target_by_hand(served):  # type: ignore[no-untyped-def]
    con, _summary = served
    rows = _rows(con)
    # rep 7's book in the previous period: customer 1 50, customer 2 0, customer 3 80
    assert float(rows[1]["target"]) == pytest.approx(TARGET_2025 * 50 / 130, abs=1e-3)
    assert rows[1]["attainment"] == pytest.approx(300 / (TARGET_2025 * 50 / 130))
    assert float(rows[2]["target"]) == 0 and rows[2]["attainment"] is None
    assert float(rows[3]["target"]) == pytest.approx(TARGET_2025 * 80 / 130, abs=1e-3)
    assert rows[3]["attainment"] == 0  # nothing ordered this period
    assert rows[4]["target"] is None  # rep 8 has no target; the team's is not split
    totals = customers_reads.overview(con, company_id=1)["totals"]
    assert totals["with_target"] == 2 and totals["revenue_targeted"] == 300
    assert totals["attainment"] == pytest.approx(300 / TARGET_2025)
    assert totals["paid"] == 300 and totals["days_late"] == pytest.approx(600 / 300)
    assert totals["on_time_share"] == pytest.approx(260 / 300)
    assert totals["tickets"] == 2 and totals["discounts"] == 50
    detail = customers_reads.customer_detail(con, company_id=1, customer_key=1)
    assert detail["customer"]["cost_to_serve"] == pytest.approx(float(rows[1]["cost_to_serve"]))
    assert detail["average"]["days_late"] == pytest.approx(600 / 300)
    rep = customers_reads.overview(con, company_id=1, owner_id=8)["totals"]
    assert rep["attainment"] is None and rep["paid"] == 0 and rep["days_late"] is None


def test_tables_of_an_older_version_read_as_not_computed(hand):  # type: ignore[no-untyped-def]
    con, _summary = hand
    assert customers_reads.run_info(con, company_id=1) is not None
    warehouse.meta_set(con, "customers_tables", "1")  # a file refreshed by the previous version
    assert customers_reads.run_info(con, company_id=1) is None
    assert customers_reads.overview(con, company_id=1) == {"run": None}
    assert customers_reads.whale_curve(con, company_id=1)["customers"] == 0
    customers.refresh(con, company_id=1, as_of=AS_OF)  # the refresh makes them again
    assert customers_reads.run_info(con, company_id=1)["customers"] == 4
