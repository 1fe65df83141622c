"""Customer lifetime value: the BG/NBD model of repeat purchases (Fader, Hardie & Lee, "Counting
your customers the easy way", Marketing Science 2005) and the Gamma-Gamma model of spend per
purchase (Fader, Hardie & Lee, "RFM and CLV: using iso-value curves", JMR 2005; Fader & Hardie,
"The Gamma-Gamma model of monetary value", 2013), fitted by maximum likelihood with NumPy and
SciPy: no maintained library of them installs cleanly (``lifetimes`` is archived, the Bayesian
ones bring PyMC).

The input is each customer's RFM summary in a time unit (day or week), from the transactions
up to an as-of date (`rfm_summary`):

* ``frequency`` x: repeat purchases — the number of distinct time units with a purchase, less
  the first one;
* ``recency`` t_x: time from the first to the last purchase (0 without a repeat purchase);
* ``age`` T: time from the first purchase to the as-of date;
* ``monetary``: the mean amount of the repeat purchases (0 without one), per time unit of
  purchase (amounts of one time unit are added).

`bgnbd_fit` and `gamma_gamma_fit` return the fitted parameters; `expected_purchases`,
`probability_alive`, `expected_spend` and `lifetime_value` apply them to customers. The whole
thing is vectorised over customers: 100,000 of them fit in about a second.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path

import numpy as np
from scipy import optimize, special

TIME_UNITS = {"day": 1, "week": 7}


class ClvError(ValueError):
    """The data cannot be fitted (too few customers or repeat buyers, a degenerate sample)."""


@dataclass(frozen=True)
class Rfm:
    """Customers' RFM summaries, one entry per customer, in `customers` order."""

    customers: list[str]
    frequency: np.ndarray  # repeat purchases x
    recency: np.ndarray  # t_x
    age: np.ndarray  # T
    monetary: np.ndarray  # mean value of the repeat purchases (0 without any)


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = math.nan


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    log_likelihood: float = math.nan

    @property
    def mean_spend(self) -> float:
        """The population's mean spend per purchase, E(M) = p·v / (q − 1) (q > 1)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else math.inf


def rfm_summary(
    transactions: Iterable[tuple[str, dt.date, Decimal | float]],
    *,
    as_of: dt.date,
    time_unit: str = "week",
) -> Rfm:
    """RFM per customer from (customer, date, amount) transactions; those after `as_of` are
    ignored. Purchases within one time unit (counted from the customer's first purchase) are one
    purchase of their summed amount."""
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time unit must be one of {sorted(TIME_UNITS)}: {time_unit!r}")
    days = TIME_UNITS[time_unit]
    first: dict[str, dt.date] = {}
    rows: list[tuple[str, dt.date, float]] = []
    for customer, date, amount in transactions:
        if date > as_of:
            continue
        rows.append((customer, date, float(amount)))
        if customer not in first or date < first[customer]:
            first[customer] = date
    customers = sorted(first)
    index = {c: i for i, c in enumerate(customers)}
    n = len(customers)
    if not n:
        return Rfm([], *(np.zeros(0) for _ in range(4)))
    cust = np.fromiter((index[c] for c, _, _ in rows), np.int64, len(rows))
    offset = np.fromiter(((d - first[c]).days for c, d, _ in rows), np.int64, len(rows))
    amount = np.fromiter((a for _, _, a in rows), float, len(rows))
    period = offset // days
    # one purchase per (customer, period), amounts added
    width = int(period.max()) + 1
    keys, inverse = np.unique(cust * width + period, return_inverse=True)
    p_amount = np.bincount(inverse, weights=amount)
    p_cust, p_period = keys // width, keys % width
    counts = np.bincount(p_cust, minlength=n)
    frequency = (counts - 1).astype(float)
    recency = np.zeros(n)
    np.maximum.at(recency, p_cust, p_period.astype(float))
    first_days = np.fromiter(((as_of - first[c]).days for c in customers), np.int64, n)
    age = (first_days // days).astype(float)
    # mean of the repeat purchases: all purchases but the first period's
    repeat = p_period > 0
    total = np.bincount(p_cust[repeat], weights=p_amount[repeat], minlength=n)
    monetary = np.divide(total, frequency, out=np.zeros(n), where=frequency > 0)
    return Rfm(customers, frequency, recency, age, monetary)


# ---------------------------------------------------------------------------- BG/NBD


def _bgnbd_terms(params: Sequence[float], x: np.ndarray, t_x: np.ndarray, T: np.ndarray):  # type: ignore[no-untyped-def]
    r, alpha, a, b = params
    ln_a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    ln_a2 = (special.gammaln(a + b) + special.gammaln(b + x)
             - special.gammaln(b) - special.gammaln(a + b + x))  # fmt: skip
    ln_a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_a4 = np.where(
            x > 0,
            np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return ln_a1, ln_a2, ln_a3, ln_a4


def bgnbd_log_likelihood(params: Sequence[float], rfm: Rfm) -> float:
    """The BG/NBD log-likelihood of the customers' (x, t_x, T) under (r, alpha, a, b)."""
    ln_a1, ln_a2, ln_a3, ln_a4 = _bgnbd_terms(params, rfm.frequency, rfm.recency, rfm.age)
    return float(np.sum(ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)))


def _fit(negative_ll, start: np.ndarray) -> tuple[np.ndarray, float]:  # type: ignore[no-untyped-def]
    """Minimise a negative log-likelihood over positive parameters (fitted on their logs)."""
    best = None
    for method in ("L-BFGS-B", "Nelder-Mead"):
        result = optimize.minimize(
            lambda z: negative_ll(np.exp(z)), np.log(start), method=method,
            bounds=[(-12, 12)] * len(start) if method == "L-BFGS-B" else None,
            options={"maxiter": 4000},
        )  # fmt: skip
        if np.isfinite(result.fun) and (best is None or result.fun < best.fun):
            best = result
        if result.success:
            break
    if best is None:
        raise ClvError("the model could not be fitted to these data")
    return np.exp(best.x), -float(best.fun)


def bgnbd_fit(rfm: Rfm) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters of the customers."""
    n = len(rfm.customers)
    if n < 10 or not (rfm.frequency > 0).any():
        raise ClvError("at least 10 customers and one repeat purchase are needed to fit BG/NBD")
    x, t_x, T = rfm.frequency, rfm.recency, rfm.age
    scale = max(float(T.mean()), 1.0)

    def negative(params: np.ndarray) -> float:
        ln_a1, ln_a2, ln_a3, ln_a4 = _bgnbd_terms(params, x, t_x, T)
        value = -np.sum(ln_a1 + ln_a2 + np.logaddexp(ln_a3, ln_a4)) / n
        return float(value) if np.isfinite(value) else 1e300

    (r, alpha, a, b), ll = _fit(negative, np.array([1.0, scale, 1.0, 1.0]))
    return BgNbd(float(r), float(alpha), float(a), float(b), ll * n)


def probability_alive(model: BgNbd, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive | x, t_x, T): 1 for a customer without a repeat purchase."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x = np.asarray(x, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        ln_ratio = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                    + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))  # fmt: skip
    return np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(ln_ratio, 700))), 1.0)


def expected_purchases(
    model: BgNbd, t: float | np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """E[purchases in the next `t` time units | x, t_x, T] (equation 10 of the BG/NBD paper)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    x, t_x, T = (np.asarray(v, float) for v in (x, t_x, T))
    t = np.asarray(t, float)
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    return np.where(t > 0, first, 0.0) * probability_alive(model, x, t_x, T)


def population_expected_purchases(model: BgNbd, t: float) -> float:
    """E[X(t)] for a customer just acquired (equation 9 of the BG/NBD paper)."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return float((a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp))


# ---------------------------------------------------------------------------- Gamma-Gamma


def gamma_gamma_fit(rfm: Rfm) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from the repeat buyers' mean spend."""
    repeat = (rfm.frequency > 0) & (rfm.monetary > 0)
    x, m = rfm.frequency[repeat], rfm.monetary[repeat]
    if len(x) < 10:
        raise ClvError("at least 10 repeat buyers with a positive spend are needed")

    def negative(params: np.ndarray) -> float:
        p, q, v = params
        px = p * x
        ll = (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
              + q * np.log(v) + (px - 1) * np.log(m) + px * np.log(x)
              - (px + q) * np.log(v + m * x))  # fmt: skip
        value = -np.sum(ll) / len(x)
        return float(value) if np.isfinite(value) else 1e300

    (p, q, v), ll = _fit(negative, np.array([1.0, 2.0, float(np.mean(m))]))
    return GammaGamma(float(p), float(q), float(v), ll * len(x))


def expected_spend(model: GammaGamma, x: np.ndarray, monetary: np.ndarray) -> np.ndarray:
    """E[spend per purchase | x, mean spend]: the population mean shrunk towards the
    customer's own mean as their purchases grow (the population mean for x = 0)."""
    p, q, v = model.p, model.q, model.v
    x = np.asarray(x, float)
    return (v + np.asarray(monetary, float) * x) * p / (p * x + q - 1)


# ---------------------------------------------------------------------------- CLV


def lifetime_value(
    purchases: BgNbd,
    spend: GammaGamma,
    rfm: Rfm,
    *,
    horizon: int,
    steps: int = 1,
    discount_rate: float = 0.0,
) -> np.ndarray:
    """Each customer's discounted value of the next `horizon` time units: the expected purchases
    of each period of `steps` units times the expected spend, discounted by `discount_rate` per
    period."""
    x, t_x, T = rfm.frequency, rfm.recency, rfm.age
    value = expected_spend(spend, x, rfm.monetary)
    total = np.zeros(len(x))
    before = np.zeros(len(x))
    for k, t in enumerate(range(steps, horizon + steps, steps), start=1):
        upto = expected_purchases(purchases, min(t, horizon), x, t_x, T)
        total += (upto - before) * value / (1 + discount_rate) ** k
        before = upto
    return total


def parameters(purchases: BgNbd, spend: GammaGamma | None) -> dict[str, object]:
    """The fitted parameters, as written to JSON."""
    return {"bgnbd": asdict(purchases), "gamma_gamma": asdict(spend) if spend else None}


# ---------------------------------------------------------------------------- CSV files

CSV_COLUMNS = {"customer": ("customer", "customer_id", "customer id"), "date": ("date",),
               "amount": ("amount",)}  # fmt: skip


class ClvCsvError(ValueError):
    """A bad transactions file: each problem names the line and column."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def read_transactions(path: Path) -> list[tuple[str, dt.date, Decimal]]:
    """The (customer, date, amount) rows of a CSV file with a header naming the columns
    customer (or customer_id), date (YYYY-MM-DD) and amount; more columns are ignored. Every
    bad line is reported (ClvCsvError), up to 50."""
    from django.utils.translation import gettext as _

    name = path.name
    if not path.is_file():
        raise ClvCsvError([_("%(file)s: the file is missing") % {"file": name}])
    problems: list[str] = []
    rows: list[tuple[str, dt.date, Decimal]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = [h.strip().lower() for h in next(reader, [])]
        where: dict[str, int] = {}
        for column, names in CSV_COLUMNS.items():
            found = [i for i, h in enumerate(header) if h in names]
            if not found:
                problems.append(_("%(file)s, line 1: the column %(column)s is missing")
                                % {"file": name, "column": column})  # fmt: skip
            else:
                where[column] = found[0]
        if problems:
            raise ClvCsvError(problems)
        for line, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            cells = {c: (record[i].strip() if i < len(record) else "") for c, i in where.items()}
            bad = []
            if not cells["customer"]:
                bad.append(("customer", _("empty")))
            try:
                date = dt.date.fromisoformat(cells["date"])
            except ValueError:
                bad.append(
                    ("date", _("not a date (YYYY-MM-DD): %(value)r") % {"value": cells["date"]})
                )
            try:
                amount = Decimal(cells["amount"])
                if not amount.is_finite():
                    raise ValueError
            except (ArithmeticError, ValueError):
                bad.append(("amount", _("not a number: %(value)r") % {"value": cells["amount"]}))
            for column, message in bad:
                problems.append(_("%(file)s, line %(line)s, column %(column)s: %(message)s")
                                % {"file": name, "line": line, "column": column,
                                   "message": message})  # fmt: skip
            if not bad:
                rows.append((cells["customer"], date, amount))
            if len(problems) >= 50:
                break
    if problems:
        raise ClvCsvError(problems)
    return rows


def clv_csv(
    *,
    input_path: Path,
    output_dir: Path,
    as_of: dt.date | None = None,
    time_unit: str = "week",
    horizon: int | None = None,
    discount_rate: float = 0.0,
) -> dict[str, object]:
    """`xietong analytics clv`: read the transactions, fit BG/NBD and Gamma-Gamma on those up
    to `as_of` (default: the last transaction's date), write `customers.csv` (RFM, probability
    alive, expected purchases and spend, CLV over `horizon` time units, default one year) and
    `parameters.json`. Nothing is written when the input is bad or the models cannot be fitted.
    Returns the parameters and counts."""
    rows = read_transactions(input_path)
    if not rows:
        raise ClvError("the file holds no transactions")
    if as_of is None:
        as_of = max(date for _, date, _ in rows)
    horizon = horizon or (52 if time_unit == "week" else 365)
    rfm = rfm_summary(rows, as_of=as_of, time_unit=time_unit)
    purchases = bgnbd_fit(rfm)
    spend = gamma_gamma_fit(rfm)
    alive = probability_alive(purchases, rfm.frequency, rfm.recency, rfm.age)
    expected = expected_purchases(purchases, horizon, rfm.frequency, rfm.recency, rfm.age)
    value = expected_spend(spend, rfm.frequency, rfm.monetary)
    steps = 4 if time_unit == "week" else 30  # discount by about a month
    clv = lifetime_value(purchases, spend, rfm, horizon=horizon, steps=steps,
                         discount_rate=discount_rate)  # fmt: skip
    summary = {
        "as_of": as_of.isoformat(),
        "time_unit": time_unit,
        "horizon": horizon,
        "discount_rate": discount_rate,
        "customers": len(rfm.customers),
        "transactions": sum(1 for _, date, _ in rows if date <= as_of),
        **parameters(purchases, spend),
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    partial = output_dir / "customers.csv.part"
    with partial.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer", "frequency", "recency", "T", "monetary", "p_alive",
                         "expected_purchases", "expected_spend", "clv"])  # fmt: skip
        for i, customer in enumerate(rfm.customers):
            writer.writerow([customer, int(rfm.frequency[i]), f"{rfm.recency[i]:g}",
                             f"{rfm.age[i]:g}", f"{rfm.monetary[i]:.2f}", f"{alive[i]:.4f}",
                             f"{expected[i]:.4f}", f"{value[i]:.2f}", f"{clv[i]:.2f}"])  # fmt: skip
    (output_dir / "parameters.json").write_text(json.dumps(summary, indent=2) + "\n")
    partial.replace(output_dir / "customers.csv")
    return summary
