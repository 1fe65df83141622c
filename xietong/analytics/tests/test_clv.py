"""Customer lifetime value (xietong.analytics.clv): the published reference values of the BG/NBD
and Gamma-Gamma papers, recovery of known parameters from data simulated from them, the RFM
summary by hand, and the `xietong analytics clv` command on CSV files."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import Decimal

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from xietong.analytics import clv

# Fader, Hardie & Lee (2005), CDNOW sample, weeks: r, alpha, a, b
CDNOW = clv.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426)


def test_published_bgnbd_conditional_expectation() -> None:
    """The paper's worked example: a customer with 2 repeat purchases, the last at week 30.43,
    observed for 38.86 weeks, is expected to buy 1.226 times in the next 39 weeks."""
    value = clv.expected_purchases(CDNOW, 39, np.array([2.0]), np.array([30.43]),
                                   np.array([38.86]))  # fmt: skip
    assert value[0] == pytest.approx(1.226, abs=5e-4)


def test_published_gamma_gamma_mean_spend() -> None:
    """Fader & Hardie (2013), CDNOW: p = 6.25, q = 3.74, v = 15.44 give a mean spend of $35.22;
    a customer's expected spend moves from it towards their own mean as purchases grow."""
    model = clv.GammaGamma(p=6.25, q=3.74, v=15.44)
    assert model.mean_spend == pytest.approx(35.22, abs=5e-3)
    few, many = clv.expected_spend(model, np.array([1.0, 50.0]), np.array([100.0, 100.0]))
    assert model.mean_spend < few < many < 100
    assert clv.expected_spend(model, np.array([0.0]), np.array([0.0]))[0] == pytest.approx(
        model.mean_spend
    )


def test_probability_alive() -> None:
    """No repeat purchase: alive for sure; a long silence after many purchases: likely gone."""
    alive = clv.probability_alive(CDNOW, np.array([0.0, 10.0, 10.0]),
                                  np.array([0.0, 38.0, 5.0]), np.array([38.86] * 3))  # fmt: skip
    assert alive[0] == 1.0
    assert alive[1] > 0.9 > 0.1 > alive[2]


def _simulate_bgnbd(model: clv.BgNbd, n: int, seed: int) -> clv.Rfm:
    """Customers from the BG/NBD story: a purchase rate from Gamma(r, alpha), a dropout
    probability from Beta(a, b) after each repeat purchase, observed for T weeks from the
    first purchase."""
    rng = np.random.default_rng(seed)
    lam = rng.gamma(model.r, 1 / model.alpha, n)
    p = rng.beta(model.a, model.b, n)
    T = rng.uniform(26, 78, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < p[i]:  # gone after this repeat purchase
                break
    return clv.Rfm([str(i) for i in range(n)], x, t_x, T, np.zeros(n))


def test_bgnbd_recovers_simulated_parameters() -> None:
    truth = clv.BgNbd(r=0.6, alpha=5.0, a=0.8, b=2.5)
    fitted = clv.bgnbd_fit(_simulate_bgnbd(truth, 20_000, seed=7))
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=0.12), name
    # the fitted model's likelihood is no worse than the truth's on the same data
    data = _simulate_bgnbd(truth, 20_000, seed=7)
    assert (
        fitted.log_likelihood
        >= clv.bgnbd_log_likelihood((truth.r, truth.alpha, truth.a, truth.b), data) - 1e-6
    )


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(3)
    p, q, v = 6.0, 4.0, 15.0
    n = 8_000
    x = rng.integers(1, 12, n).astype(float)
    nu = rng.gamma(q, 1 / v, n)
    m = np.array([rng.gamma(p, 1 / nu[i], int(x[i])).mean() for i in range(n)])
    rfm = clv.Rfm([str(i) for i in range(n)], x, x, x + 5, m)
    fitted = clv.gamma_gamma_fit(rfm)
    assert fitted.p == pytest.approx(p, rel=0.15)
    assert fitted.q == pytest.approx(q, rel=0.15)
    assert fitted.v == pytest.approx(v, rel=0.2)
    assert fitted.mean_spend == pytest.approx(p * v / (q - 1), rel=0.05)


def test_rfm_summary_by_hand() -> None:
    """Weeks from each customer's first purchase; two purchases in one week are one purchase of
    their sum; the first purchase is not in the mean; transactions after as-of are ignored."""
    d = dt.date(2026, 1, 5)  # a Monday
    rows = [
        ("A", d, Decimal("10")),
        ("A", d + dt.timedelta(days=8), Decimal("20")),  # week 1
        ("A", d + dt.timedelta(days=10), Decimal("5")),  # week 1 again: one purchase of 25
        ("A", d + dt.timedelta(days=22), Decimal("35")),  # week 3
        ("B", d + dt.timedelta(days=14), Decimal("99")),  # one purchase only
        ("A", d + dt.timedelta(days=60), Decimal("1000")),  # after as-of
    ]
    rfm = clv.rfm_summary(rows, as_of=d + dt.timedelta(days=35), time_unit="week")
    assert rfm.customers == ["A", "B"]
    assert rfm.frequency.tolist() == [2, 0]
    assert rfm.recency.tolist() == [3, 0]
    assert rfm.age.tolist() == [5, 3]
    assert rfm.monetary.tolist() == [30, 0]  # (25 + 35) / 2
    days = clv.rfm_summary(rows, as_of=d + dt.timedelta(days=35), time_unit="day")
    assert days.frequency.tolist() == [3, 0] and days.recency.tolist() == [22, 0]


def test_fit_refuses_too_little_data() -> None:
    rfm = clv.Rfm(["a", "b"], np.array([1.0, 0.0]), np.array([2.0, 0.0]),
                  np.array([5.0, 5.0]), np.array([3.0, 0.0]))  # fmt: skip
    with pytest.raises(clv.ClvError):
        clv.bgnbd_fit(rfm)
    with pytest.raises(clv.ClvError):
        clv.gamma_gamma_fit(rfm)


def _transactions_file(path, n: int = 3_000, seed: int = 11) -> None:  # type: ignore[no-untyped-def]
    """Daily transactions of `n` customers simulated from BG/NBD (per week) with
    Gamma-Gamma spend, over a year and a half from 2025-01-01."""
    truth = clv.BgNbd(r=0.8, alpha=6.0, a=0.7, b=3.0)
    rng = np.random.default_rng(seed)
    start = dt.date(2025, 1, 1)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["customer_id", "date", "amount", "channel"])
        for i in range(n):
            first = rng.uniform(0, 40)
            lam, p = rng.gamma(truth.r, 1 / truth.alpha), rng.beta(truth.a, truth.b)
            nu = rng.gamma(4.0, 1 / 20.0)
            t = first
            while t < 78:
                out.writerow([f"C{i:05d}", (start + dt.timedelta(weeks=t)).isoformat(),
                              f"{rng.gamma(6.0, 1 / nu):.2f}", "web"])  # fmt: skip
                t += rng.exponential(1 / lam)
                if t < 78 and rng.random() < p:  # the purchase at t is the last one
                    out.writerow([f"C{i:05d}", (start + dt.timedelta(weeks=t)).isoformat(),
                                  f"{rng.gamma(6.0, 1 / nu):.2f}", "web"])  # fmt: skip
                    break


def test_command_writes_customers_and_parameters(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "transactions.csv"
    _transactions_file(source)
    out = tmp_path / "out"
    call_command("analytics", "clv", "--input", str(source), "--output", str(out),
                 "--as-of", "2026-03-31", "--time-unit", "week", "--horizon", "13")  # fmt: skip
    params = json.loads((out / "parameters.json").read_text())
    assert params["as_of"] == "2026-03-31" and params["time_unit"] == "week"
    assert set(params["bgnbd"]) >= {"r", "alpha", "a", "b"}
    assert set(params["gamma_gamma"]) >= {"p", "q", "v"}
    assert params["bgnbd"]["r"] == pytest.approx(0.8, rel=0.35)
    with (out / "customers.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == params["customers"] > 2_000
    assert not (out / "customers.csv.part").exists()
    for row in rows[:200]:
        assert 0 <= float(row["p_alive"]) <= 1
        assert float(row["expected_purchases"]) >= 0
        assert float(row["clv"]) == pytest.approx(0, abs=0.01) or float(row["clv"]) > 0
    # the expected purchases of the 13 weeks after as-of against what the data show (the
    # simulation ends at week 78, 2026-06-30)
    holdout: dict[str, int] = {}
    with source.open() as handle:
        for row in csv.DictReader(handle):
            if row["date"] > "2026-03-31":
                holdout[row["customer_id"]] = holdout.get(row["customer_id"], 0) + 1
    predicted = sum(float(r["expected_purchases"]) for r in rows)
    assert predicted == pytest.approx(sum(holdout.values()), rel=0.2)


def test_command_reports_bad_lines_and_writes_nothing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "bad.csv"
    source.write_text("customer,date,amount\nA,2026-01-05,10\nB,2026-13-01,5\n,2026-01-05,x\n")
    out = tmp_path / "out"
    with pytest.raises(CommandError) as error:
        call_command("analytics", "clv", "--input", str(source), "--output", str(out))
    text = str(error.value)
    assert "bad.csv, line 3, column date" in text
    assert "line 4, column customer" in text and "line 4, column amount" in text
    assert not out.exists()
    missing = tmp_path / "no-amount.csv"
    missing.write_text("customer,date\nA,2026-01-05\n")
    with pytest.raises(CommandError, match="column amount is missing"):
        call_command("analytics", "clv", "--input", str(missing), "--output", str(out))
    with pytest.raises(CommandError, match="--as-of"):
        call_command("analytics", "clv", "--input", str(source), "--output", str(out),
                     "--as-of", "yesterday")  # fmt: skip
    assert not out.exists()
