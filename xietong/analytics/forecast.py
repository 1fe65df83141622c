"""Demand forecasting engine: weekly history in a long table (unique_id, ds, y) → per series a
demand class, a model chosen by backtest, a forecast of `h` weeks and the backtest metrics of the
chosen model and of the seasonal-naive baseline. Pure (numpy, pandas, statsforecast; no Django),
deterministic, parallel over series with `n_jobs` worker processes.

How a series is handled:

- **Class.** ABC by value (the `value` column if given, e.g. revenue, else volume): A holds the
  first 80 % of the total, B the next 15 %, C the rest. Demand pattern by Syntetos-Boylan on the
  weeks from the first demand: ADI (weeks per non-zero week) and CV² of the non-zero sizes; smooth
  (ADI < 1.32, CV² < 0.49), erratic (ADI < 1.32), intermittent (CV² < 0.49) or lumpy; `none`
  without any demand (forecast zero).
- **Season.** A continuous series with two years or more gets a yearly multiplicative index: the
  ratio of the demand to its centred 52-week moving average, fitted by 3 Fourier harmonics (a
  smooth index from few years) and kept when the F-test of the fit says it is real. Models then
  run on the deseasonalised series with `season_length=1` (cheap), and their forecast is
  reseasonalised — instead of `season_length=52` models, far too slow for weekly data.
- **Candidates.** Smooth/erratic A items: ETS with damped additive trend, Theta, ARIMA(1,1,1),
  SES and the seasonal naive; B items the same without ARIMA (its fit costs 20 ms a
  series); C items: SES, a 26-week average and the seasonal naive (fast ones). Intermittent and
  lumpy: Croston (classic), Croston-SBA and TSB, computed for all such series at once in numpy
  (`intermittent_levels`, equal to statsforecast's models; 100,000 series in seconds); with
  `fast_intermittent=False`, or for a series too short for the common backtest, per series
  Croston (optimised), TSB, and for A/B items ADIDA and IMAPA. (AutoETS over every
  non-seasonal ETS form and AutoARIMA cost 35 and 200 ms a series: too slow for 10,000 series
  in minutes on two cores; the damped trend nests SES and Holt well enough.)
- **Choice.** Each candidate is fitted on the history less the last `backtest` weeks and scored
  on them; the lowest mean absolute error wins (ties: the first candidate listed). The winner is
  fitted again on the whole history for the forecast. Series too short to hold out anything get
  SES (continuous) or Croston (intermittent) without metrics.

Metrics of a backtest window (actuals a, forecasts f): MASE = mean|a−f| / mean|Δy| of the
training part (in-sample one-step naive); WAPE = Σ|a−f| / Σa; bias = Σ(f−a) / Σa (positive:
over-forecast). Undefined values are NaN.
"""

from __future__ import annotations

import datetime as dt
import math
import multiprocessing
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

SEASON = 52
EPOCH = dt.date(1970, 1, 5)  # a Monday: week ordinal 0
SMOOTH, ERRATIC, INTERMITTENT, LUMPY, NONE = "smooth", "erratic", "intermittent", "lumpy", "none"
ADI_CUT, CV2_CUT = 1.32, 0.49
ABC_CUTS = (0.80, 0.95)
HARMONICS = 3
F_CRITICAL = 3.0  # ~ p = 0.01 for 6 and ~80 degrees of freedom
CONTINUOUS_A = ("ETS", "Theta", "ARIMA", "SES", "SeasonalNaive")
CONTINUOUS_B = ("ETS", "Theta", "SES", "SeasonalNaive")
CONTINUOUS_C = ("SES", "WindowAverage", "SeasonalNaive")
INTERMITTENT_AB = ("CrostonOptimized", "TSB", "ADIDA", "IMAPA")
INTERMITTENT_C = ("CrostonOptimized", "TSB")
BASELINE = "SeasonalNaive"


class ForecastInputError(ValueError):
    """The history cannot be forecast (missing columns, bad values)."""


def week_ordinal(dates: Any) -> np.ndarray:
    """Week numbers (Monday-based, 0 = the week of 1970-01-05) of dates or datetimes."""
    values = pd.to_datetime(pd.Series(dates)).to_numpy(dtype="datetime64[ns]")
    days = values.astype("datetime64[D]").astype(np.int64) - (EPOCH - dt.date(1970, 1, 1)).days
    return np.floor_divide(days, 7)


def week_date(ordinal: int) -> dt.date:
    """The Monday of week `ordinal`."""
    return EPOCH + dt.timedelta(weeks=int(ordinal))


# --- classification --------------------------------------------------------------------------


def demand_pattern(y: np.ndarray) -> tuple[str, float, float]:
    """(pattern, ADI, CV²) of a series by Syntetos-Boylan, on the weeks from its first demand."""
    nonzero = np.flatnonzero(y > 0)
    if nonzero.size == 0:
        return NONE, math.nan, math.nan
    span = y.size - nonzero[0]
    adi = span / nonzero.size
    sizes = y[nonzero]
    mean = float(sizes.mean())
    cv2 = float(sizes.var() / mean**2) if mean > 0 else 0.0
    if adi < ADI_CUT:
        return (SMOOTH if cv2 < CV2_CUT else ERRATIC), float(adi), cv2
    return (INTERMITTENT if cv2 < CV2_CUT else LUMPY), float(adi), cv2


def abc_classes(values: pd.Series) -> pd.Series:
    """A/B/C of each index entry by its share of the total `values` (largest first, ties by
    index): A until 80 % of the total is reached, B until 95 %, then C."""
    ordered = pd.Series(np.asarray(values, dtype=float), index=values.index)
    ordered = ordered.iloc[np.lexsort((ordered.index.astype(str), -ordered.to_numpy()))]
    total = float(ordered.clip(lower=0).sum())
    if total <= 0:
        return pd.Series("C", index=values.index)
    before = (ordered.clip(lower=0).cumsum() - ordered.clip(lower=0)) / total
    classes = np.where(before < ABC_CUTS[0], "A", np.where(before < ABC_CUTS[1], "B", "C"))
    return pd.Series(classes, index=ordered.index).reindex(values.index)


# --- seasonality -----------------------------------------------------------------------------


def _fourier(phase: np.ndarray, harmonics: int = HARMONICS) -> np.ndarray:
    angle = 2 * np.pi * np.outer(phase, np.arange(1, harmonics + 1)) / SEASON
    return np.hstack([np.cos(angle), np.sin(angle)])


def seasonal_coefficients(y: np.ndarray, start: int) -> np.ndarray | None:
    """Fourier coefficients of the yearly multiplicative index of `y` (its first week being
    week ordinal `start`), or None when the series is shorter than two years or the season is
    not significant."""
    n = y.size
    if n < 2 * SEASON:
        return None
    kernel = np.r_[0.5, np.ones(SEASON - 1), 0.5] / SEASON
    trend = np.convolve(y, kernel, mode="valid")  # centred 2x52 average of weeks 26 .. n-27
    middle = np.arange(SEASON // 2, SEASON // 2 + trend.size)
    keep = trend > 0
    if keep.sum() < SEASON:
        return None
    ratio = y[middle[keep]] / trend[keep] - 1.0
    x = _fourier((start + middle[keep]) % SEASON)
    design = np.hstack([np.ones((x.shape[0], 1)), x])
    beta, *_ = np.linalg.lstsq(design, ratio, rcond=None)
    fitted = design @ beta
    ss_res = float(((ratio - fitted) ** 2).sum())
    ss_tot = float(((ratio - ratio.mean()) ** 2).sum())
    k, dof = x.shape[1], ratio.size - x.shape[1] - 1
    if ss_tot <= 0 or dof <= 0:
        return None
    r2 = 1 - ss_res / ss_tot
    f_stat = (r2 / k) / max((1 - r2) / dof, 1e-12)
    return beta[1:] if f_stat >= F_CRITICAL else None


def seasonal_index(coefficients: np.ndarray | None, ordinals: np.ndarray) -> np.ndarray:
    """The index (around 1, kept within 0.2 .. 5) of each week ordinal."""
    if coefficients is None:
        return np.ones(ordinals.size)
    return np.clip(1.0 + _fourier(ordinals % SEASON) @ coefficients, 0.2, 5.0)


# --- models ----------------------------------------------------------------------------------


def _statsforecast_model(name: str) -> Any:
    from statsforecast import models as m

    return {
        "ETS": lambda: m.AutoETS(season_length=1, model="AAN", damped=True),
        "Theta": lambda: m.Theta(season_length=1),
        "ARIMA": lambda: m.ARIMA(order=(1, 1, 1)),  # CSS-ML: plain CSS forecasts zeros
        "SES": lambda: m.SimpleExponentialSmoothingOptimized(),
        "WindowAverage": lambda: m.WindowAverage(window_size=26),
        "CrostonOptimized": lambda: m.CrostonOptimized(),
        "TSB": lambda: m.TSB(alpha_d=0.1, alpha_p=0.1),
        "ADIDA": lambda: m.ADIDA(),
        "IMAPA": lambda: m.IMAPA(),
    }[name]()


def seasonal_naive(y: np.ndarray, h: int) -> np.ndarray:
    """The value of the same week a year before (repeated), or the last value for a series
    shorter than a year."""
    if y.size == 0:
        return np.zeros(h)
    if y.size < SEASON:
        return np.full(h, float(y[-1]))
    last = y[-SEASON:]
    return np.array([last[i % SEASON] for i in range(h)], dtype=float)


def model_forecast(name: str, y: np.ndarray, h: int, start: int, seasonal: bool) -> np.ndarray:
    """`h` forecasts of `y` (first week: ordinal `start`) by the model `name`, deseasonalised
    first for the continuous models when `seasonal`; never negative."""
    if name == BASELINE:
        return seasonal_naive(y, h)
    if name == "Zero" or y.size == 0:
        return np.zeros(h)
    coefficients = seasonal_coefficients(y, start) if seasonal else None
    fit = y / seasonal_index(coefficients, np.arange(start, start + y.size))
    if y.size < 3 or np.all(fit == fit[0]):
        mean = np.full(h, float(fit[-1]))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                mean = np.asarray(_statsforecast_model(name).forecast(y=fit, h=h)["mean"], float)
            except Exception:  # a fit that fails (singular ARIMA…) loses the contest
                return np.full(h, np.nan)
    future = np.arange(start + y.size, start + y.size + h)
    out = mean * seasonal_index(coefficients, future)
    return np.clip(out, 0, None)


# --- metrics ---------------------------------------------------------------------------------


def metrics(actual: np.ndarray, forecast: np.ndarray, train: np.ndarray) -> dict[str, float]:
    """MASE, WAPE and bias of `forecast` against `actual`, scaled by `train` (see the module)."""
    actual, forecast = np.asarray(actual, float), np.asarray(forecast, float)
    error = forecast - actual
    mae = float(np.abs(error).mean()) if error.size else math.nan
    scale = float(np.abs(np.diff(train)).mean()) if len(train) > 1 else math.nan
    total = float(actual.sum())
    return {
        "mase": mae / scale if scale and scale > 0 else math.nan,
        "wape": float(np.abs(error).sum()) / total if total > 0 else math.nan,
        "bias": float(error.sum()) / total if total > 0 else math.nan,
        "mae": mae,
    }


# --- one series ------------------------------------------------------------------------------


@dataclass
class SeriesTask:
    uid: str
    y: np.ndarray  # dense weekly history, zeros where nothing was sold
    start: int  # week ordinal of y[0]
    abc: str
    profile: tuple[str, float, float] | None = None  # demand_pattern(y), when known


def candidates(pattern: str, abc: str) -> tuple[str, ...]:
    if pattern == NONE:
        return ("Zero",)
    if pattern in (SMOOTH, ERRATIC):
        return {"A": CONTINUOUS_A, "B": CONTINUOUS_B}.get(abc, CONTINUOUS_C)
    return INTERMITTENT_C if abc == "C" else INTERMITTENT_AB


def series_run(task: SeriesTask, h: int, backtest: int) -> dict[str, Any]:
    """Classify, backtest the candidates, choose, forecast one series."""
    y = task.y
    pattern, adi, cv2 = task.profile or demand_pattern(y)
    names = candidates(pattern, task.abc)
    continuous = pattern in (SMOOTH, ERRATIC)
    test = min(backtest, y.size - 26)
    nan = math.nan
    row: dict[str, Any] = {
        "unique_id": task.uid, "abc": task.abc, "pattern": pattern, "adi": adi, "cv2": cv2,
        "n_obs": int(y.size), "seasonal": False, "candidates": ",".join(names),
        "mase": nan, "wape": nan, "bias": nan,
        "naive_mase": nan, "naive_wape": nan, "naive_bias": nan, "backtest_start": None,
        "scores": {},
    }  # fmt: skip
    bt: dict[str, np.ndarray] = {}
    if pattern == NONE:
        chosen = "Zero"
    elif test < 8:
        chosen = "SES" if continuous else "CrostonOptimized"
    else:
        train, actual = y[:-test], y[-test:]
        seasonal = continuous and seasonal_coefficients(train, task.start) is not None
        scores: dict[str, float] = {}
        forecasts: dict[str, np.ndarray] = {}
        for name in names:
            f = model_forecast(name, train, test, task.start, seasonal)
            forecasts[name] = f
            scores[name] = float(np.abs(f - actual).mean()) if np.all(np.isfinite(f)) else nan
        finite = [n for n in names if math.isfinite(scores[n])]
        chosen = min(finite, key=lambda n: (scores[n], names.index(n))) if finite else "Zero"
        if chosen == "Zero":
            forecasts["Zero"] = np.zeros(test)
        naive = seasonal_naive(train, test)
        m, b = metrics(actual, forecasts[chosen], train), metrics(actual, naive, train)
        row.update(mase=m["mase"], wape=m["wape"], bias=m["bias"], naive_mase=b["mase"],
                   naive_wape=b["wape"], naive_bias=b["bias"],
                   backtest_start=task.start + y.size - test,
                   scores={k: round(v, 6) for k, v in scores.items()})  # fmt: skip
        bt = {"actual": actual, "forecast": forecasts[chosen], "naive": naive}
    full_seasonal = continuous and seasonal_coefficients(y, task.start) is not None
    row["seasonal"] = bool(full_seasonal)
    row["model"] = chosen
    row["forecast"] = model_forecast(chosen, y, h, task.start, full_seasonal)
    if not np.all(np.isfinite(row["forecast"])):  # the winner fails on the whole history
        row["model"], row["forecast"] = BASELINE, seasonal_naive(y, h)
    row["backtest"] = bt
    return row


def _chunk_run(args: tuple[list[SeriesTask], int, int]) -> list[dict[str, Any]]:
    tasks, h, backtest = args
    return [series_run(t, h, backtest) for t in tasks]


# --- intermittent series, vectorised ---------------------------------------------------------

INTERMITTENT_FAST = ("CrostonClassic", "CrostonSBA", "TSB")


def _ses_masked(values: np.ndarray, update: np.ndarray, alpha: float) -> np.ndarray:
    """Simple exponential smoothing of each row over its entries where `update` holds, the
    level starting at the first of them (statsforecast's `ses_forecast`); NaN for none. Runs
    over time on the transposed (contiguous) arrays, all rows at once."""
    vt, ut = np.ascontiguousarray(values.T), np.ascontiguousarray(update.T)
    level = np.zeros(values.shape[0])
    seen = np.zeros(values.shape[0], dtype=bool)
    weight = np.empty(values.shape[0])
    for x, m in zip(vt, ut, strict=True):
        # weight 1 on a row's first entry (the level becomes it), alpha after, 0 off `update`
        np.multiply(np.where(seen, alpha, 1.0), m, out=weight)
        level += weight * (x - level)
        seen |= m
    return np.where(seen, level, np.nan)


def intermittent_levels(y: np.ndarray, start: np.ndarray) -> dict[str, np.ndarray]:
    """The flat forecast of each row of `y` (rows begin at column `start`) by Croston (classic,
    α 0.1), Croston-SBA (× 0.95) and TSB (α_d 0.1, α_p 0.1), computed for all rows at once;
    equal to statsforecast's CrostonClassic, CrostonSBA and TSB of each row."""
    n, width = y.shape
    cols = np.arange(width)[None, :]
    alive = cols >= start[:, None]
    demand = alive & (y > 0)
    sizes = _ses_masked(y, demand, 0.1)
    previous = np.maximum.accumulate(np.where(demand, cols, -1), axis=1)
    previous = np.hstack([np.full((n, 1), -1), previous[:, :-1]])
    gap = np.where(previous >= 0, cols - previous, cols - start[:, None] + 1).astype(float)
    intervals = _ses_masked(gap, demand, 0.1)
    croston = np.where(intervals != 0, sizes / intervals, sizes)
    croston = np.where(np.isnan(sizes), 0.0, croston)
    probability = _ses_masked((y > 0).astype(float), alive, 0.1)
    tsb = np.where(np.isnan(sizes), 0.0, probability * sizes)
    return {"CrostonClassic": croston, "CrostonSBA": 0.95 * croston, "TSB": tsb}


def _naive_matrix(train: np.ndarray, lengths: np.ndarray, h: int) -> np.ndarray:
    """Seasonal naive of each row (the last `lengths` entries are the series) for h weeks."""
    width = train.shape[1]
    out = np.empty((train.shape[0], h))
    for i in range(h):
        out[:, i] = train[:, width - SEASON + (i % SEASON)] if width >= SEASON else 0.0
    short = lengths < SEASON
    out[short] = train[short, -1][:, None]
    return out


def intermittent_batch(tasks: list[SeriesTask], h: int, backtest: int) -> Part:
    """`series_run` for intermittent and lumpy series, vectorised over all of them: the fast
    Croston family chosen per series by backtest error. Every task must hold more than
    `backtest` + 26 weeks; all end on the same week."""
    if not tasks:
        return part_of_rows([], h)
    lengths = np.array([t.y.size for t in tasks])
    width = int(lengths.max())
    y = np.zeros((len(tasks), width))
    for i, t in enumerate(tasks):
        y[i, width - t.y.size :] = t.y
    start = width - lengths
    train, actual = y[:, :-backtest], y[:, -backtest:]
    levels = intermittent_levels(train, start)
    errors = np.stack([np.abs(levels[m][:, None] - actual).mean(axis=1)
                       for m in INTERMITTENT_FAST])  # fmt: skip
    best = np.argmin(errors, axis=0)  # the first of equal errors wins
    chosen = np.take_along_axis(np.stack([levels[m] for m in INTERMITTENT_FAST]),
                                best[None, :], axis=0)[0]  # fmt: skip
    naive = _naive_matrix(train, lengths - backtest, backtest)
    alive = np.arange(train.shape[1])[None, :] >= start[:, None]
    diffs = np.abs(np.diff(train, axis=1)) * alive[:, 1:]
    counts = np.maximum(alive[:, 1:].sum(axis=1), 1)
    scale = diffs.sum(axis=1) / counts
    total = actual.sum(axis=1)

    def scored(forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        err = forecast - actual
        with np.errstate(divide="ignore", invalid="ignore"):
            mase = np.where(scale > 0, np.abs(err).mean(axis=1) / scale, np.nan)
            wape = np.where(total > 0, np.abs(err).sum(axis=1) / total, np.nan)
            bias = np.where(total > 0, err.sum(axis=1) / total, np.nan)
        return mase, wape, bias

    model_fc = np.repeat(chosen[:, None], backtest, axis=1)
    m_mase, m_wape, m_bias = scored(model_fc)
    n_mase, n_wape, n_bias = scored(naive)
    final = intermittent_levels(y, start)
    profiles = [t.profile or demand_pattern(t.y) for t in tasks]
    names = np.array(INTERMITTENT_FAST, dtype=object)[best]
    final_fc = np.choose(best, [np.clip(final[m], 0, None) for m in INTERMITTENT_FAST])
    rounded = [np.round(errors[k], 6).tolist() for k in range(len(INTERMITTENT_FAST))]
    series = pd.DataFrame({
        "unique_id": [t.uid for t in tasks], "abc": [t.abc for t in tasks],
        "pattern": [p[0] for p in profiles], "adi": [p[1] for p in profiles],
        "cv2": [p[2] for p in profiles], "seasonal": False, "n_obs": lengths,
        "model": names, "candidates": ",".join(INTERMITTENT_FAST),
        "mase": m_mase, "wape": m_wape, "bias": m_bias,
        "naive_mase": n_mase, "naive_wape": n_wape, "naive_bias": n_bias,
        "scores": [dict(zip(INTERMITTENT_FAST, v, strict=True)) for v in zip(*rounded, strict=True)],
    })  # fmt: skip
    return Part(
        series=series, forecast=np.repeat(final_fc[:, None], h, axis=1),
        bt_start=np.array([t.start + t.y.size - backtest for t in tasks], dtype=np.int64),
        bt_len=np.full(len(tasks), backtest, dtype=np.int64),
        bt_y=actual.ravel(), bt_yhat=model_fc.ravel(), bt_naive=naive.ravel(),
    )  # fmt: skip


@dataclass
class Part:
    """Results of some series, column-wise (`series` in the order of `forecast`'s rows and of
    the backtest blocks: `bt_len[i]` weeks of series i from week `bt_start[i]`)."""

    series: pd.DataFrame
    forecast: np.ndarray  # (series, h)
    bt_start: np.ndarray
    bt_len: np.ndarray
    bt_y: np.ndarray
    bt_yhat: np.ndarray
    bt_naive: np.ndarray


SERIES_COLUMNS = ["unique_id", "abc", "pattern", "adi", "cv2", "seasonal", "n_obs", "model",
                  "candidates", "mase", "wape", "bias", "naive_mase", "naive_wape",
                  "naive_bias", "scores"]  # fmt: skip


def part_of_rows(rows: list[dict[str, Any]], h: int) -> Part:
    """The `series_run` rows as a Part."""
    scored = [r["backtest"] for r in rows if r["backtest"]]

    def column(key: str) -> np.ndarray:
        return np.concatenate([b[key] for b in scored]) if scored else np.zeros(0)

    return Part(
        series=pd.DataFrame([{k: r[k] for k in SERIES_COLUMNS} for r in rows],
                            columns=SERIES_COLUMNS),
        forecast=(np.vstack([r["forecast"] for r in rows]) if rows else np.zeros((0, h))),
        bt_start=np.array([r["backtest_start"] or 0 for r in rows], dtype=np.int64),
        bt_len=np.array([len(r["backtest"]["actual"]) if r["backtest"] else 0 for r in rows],
                        dtype=np.int64),
        bt_y=column("actual"), bt_yhat=column("forecast"), bt_naive=column("naive"),
    )  # fmt: skip


# --- the whole table -------------------------------------------------------------------------


@dataclass
class ForecastResult:
    """`series`: one row per series (class, model, metrics); `forecast`: unique_id, ds, yhat;
    `backtest`: unique_id, ds, y, yhat, naive; `summary`: the aggregate comparison."""

    series: pd.DataFrame
    forecast: pd.DataFrame
    backtest: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def history_prepare(
    history: pd.DataFrame, *, end: dt.date | None = None
) -> tuple[list[tuple[str, np.ndarray, int, tuple[str, float, float]]], pd.Series, int]:
    """Dense weekly arrays (unique_id, y, first week ordinal, demand pattern) of a long
    history, by unique_id, each running from its first week to `end` (default: the last week of
    the table), the value per series for ABC, and the last week ordinal. Vectorised (one
    matrix of every series). Raises ForecastInputError."""
    missing = {"unique_id", "ds", "y"} - set(history.columns)
    if missing:
        raise ForecastInputError(f"missing columns: {', '.join(sorted(missing))}")
    y = pd.to_numeric(history["y"], errors="raise").to_numpy(dtype=float)
    if np.isnan(y).any() or (y < 0).any():
        raise ForecastInputError("y must be a number of zero or more")
    if not len(history):
        return [], pd.Series(dtype=float), 0
    weeks = week_ordinal(history["ds"])
    value = (pd.to_numeric(history["value"], errors="coerce").fillna(0).to_numpy(dtype=float)
             if "value" in history.columns else y)  # fmt: skip
    last = int(weeks.max()) if end is None else int(week_ordinal([end])[0])
    keep = weeks <= last
    codes, uniques = pd.factorize(history["unique_id"].astype(str).to_numpy()[keep], sort=True)
    weeks, y, value = weeks[keep], y[keep], value[keep]
    n = len(uniques)
    if n == 0:
        return [], pd.Series(dtype=float), last
    first = np.full(n, last, dtype=np.int64)
    np.minimum.at(first, codes, weeks)
    origin = int(first.min())
    width = last - origin + 1
    matrix = np.bincount(codes * width + (weeks - origin), weights=y,
                         minlength=n * width).reshape(n, width)  # fmt: skip
    offset = first - origin
    cols = np.arange(width)[None, :]
    positive = (matrix > 0) & (cols >= offset[:, None])
    count = positive.sum(axis=1)
    first_demand = np.where(count > 0, positive.argmax(axis=1), width)
    with np.errstate(divide="ignore", invalid="ignore"):
        adi = (width - first_demand) / count
        mean = (matrix * positive).sum(axis=1) / count
        var = (((matrix - mean[:, None]) ** 2) * positive).sum(axis=1) / count
        cv2 = np.where(mean > 0, var / mean**2, 0.0)
    pattern = np.where(adi < ADI_CUT, np.where(cv2 < CV2_CUT, SMOOTH, ERRATIC),
                       np.where(cv2 < CV2_CUT, INTERMITTENT, LUMPY))  # fmt: skip
    pattern = np.where(count == 0, NONE, pattern)
    series = [
        (str(uniques[i]), matrix[i, offset[i]:], int(first[i]),
         (str(pattern[i]), float(adi[i]) if count[i] else math.nan,
          float(cv2[i]) if count[i] else math.nan))
        for i in range(n)
    ]  # fmt: skip
    totals = pd.Series(np.bincount(codes, weights=value, minlength=n), index=uniques.astype(str))
    return series, totals, last


def forecast_table(
    history: pd.DataFrame, *, h: int = 26, backtest: int = 26, end: dt.date | None = None,
    n_jobs: int = 1, progress: Callable[[int, int], None] | None = None,
    fast_intermittent: bool = True,
) -> ForecastResult:  # fmt: skip
    """Forecast every series of `history` (columns unique_id, ds, y and optionally value) `h`
    weeks after `end` (default: its last week). See the module for the method."""
    if h < 1:
        raise ForecastInputError("h must be at least 1")
    series, value, last = history_prepare(history, end=end)
    abc = abc_classes(value) if len(value) else pd.Series(dtype=str)
    classes = abc.to_dict()
    tasks = [SeriesTask(uid, y, start, str(classes.get(uid, "C")), profile)
             for uid, y, start, profile in series]  # fmt: skip
    fast: list[int] = []
    if fast_intermittent:
        fast = [i for i, t in enumerate(tasks) if t.y.size >= backtest + 26
                and t.profile and t.profile[0] in (INTERMITTENT, LUMPY)]  # fmt: skip
    fast_part = intermittent_batch([tasks[i] for i in fast], h, backtest)
    in_fast = np.zeros(len(tasks), dtype=bool)
    in_fast[fast] = True
    rest = np.flatnonzero(~in_fast)
    tasks_rest = [tasks[i] for i in rest]
    if progress and fast:
        progress(len(fast), len(tasks))
    size = max(50, min(1000, len(tasks_rest) // (8 * max(n_jobs, 1)) + 1))
    chunks = [(tasks_rest[i : i + size], h, backtest) for i in range(0, len(tasks_rest), size)]
    rows: list[dict[str, Any]] = []
    if n_jobs > 1 and len(chunks) > 1:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n_jobs, mp_context=context) as pool:
            for part in pool.map(_chunk_run, chunks):
                rows.extend(part)
                if progress:
                    progress(len(rows) + len(fast), len(tasks))
    else:
        for chunk in chunks:
            rows.extend(_chunk_run(chunk))
            if progress:
                progress(len(rows) + len(fast), len(tasks))
    order = np.concatenate([np.asarray(fast, dtype=np.int64), rest])
    return _assemble([fast_part, part_of_rows(rows, h)], order, h, last)


def _assemble(parts: list[Part], order: np.ndarray, h: int, last: int) -> ForecastResult:
    """One result of the parts, in the order of the tasks (`order[k]`: the task of the k-th
    series of the parts put end to end)."""
    parts = [p for p in parts if len(p.series)] or parts[-1:]
    perm = np.argsort(order, kind="stable")
    series = pd.concat([p.series for p in parts], ignore_index=True).iloc[perm]
    series = series.reset_index(drop=True)
    ids = series["unique_id"].to_numpy(dtype=object)
    matrix = np.vstack([p.forecast for p in parts])[perm] if len(ids) else np.zeros((0, h))
    future = np.datetime64(EPOCH, "D") + ((last + 1 + np.arange(h)) * 7).astype("timedelta64[D]")
    forecast = pd.DataFrame({
        "unique_id": np.repeat(ids, h),
        "ds": np.tile(future.astype("datetime64[ns]"), len(ids)),
        "yhat": matrix.ravel(),
    })  # fmt: skip
    lengths = np.concatenate([p.bt_len for p in parts])
    starts = np.concatenate([p.bt_start for p in parts])
    block = np.repeat(np.arange(lengths.size), lengths)  # the series of each backtest week
    offsets = np.arange(block.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rank = np.empty_like(perm)
    rank[perm] = np.arange(perm.size)
    by_order = np.argsort(rank[block], kind="stable") if block.size else block
    weeks = (starts[block] + offsets)[by_order]
    all_ids = pd.concat([p.series["unique_id"] for p in parts]).to_numpy(dtype=object)
    backtest = pd.DataFrame({
        "unique_id": all_ids[block][by_order],
        "ds": (np.datetime64(EPOCH, "D") + (weeks * 7).astype("timedelta64[D]"))
        .astype("datetime64[ns]"),
        "y": np.concatenate([p.bt_y for p in parts])[by_order],
        "yhat": np.concatenate([p.bt_yhat for p in parts])[by_order],
        "naive": np.concatenate([p.bt_naive for p in parts])[by_order],
    })  # fmt: skip
    return ForecastResult(series, forecast, backtest, summary_of(series, backtest))


def summary_of(series: pd.DataFrame, backtest: pd.DataFrame) -> dict[str, Any]:
    """Aggregate backtest comparison with the seasonal naive: mean MASE over the series with
    one, overall WAPE and bias (sums over every backtest week), and the relative improvement."""
    scored = series[np.isfinite(series["mase"].astype(float)) &
                    np.isfinite(series["naive_mase"].astype(float))]  # fmt: skip
    total = float(backtest["y"].sum()) if len(backtest) else 0.0

    def agg(column: str) -> dict[str, float]:
        if not total:
            return {"wape": math.nan, "bias": math.nan}
        err = backtest[column].to_numpy(float) - backtest["y"].to_numpy(float)
        return {"wape": float(np.abs(err).sum()) / total, "bias": float(err.sum()) / total}

    mase = float(scored["mase"].mean()) if len(scored) else math.nan
    naive = float(scored["naive_mase"].mean()) if len(scored) else math.nan
    return {
        "series": int(len(series)), "scored": int(len(scored)),
        "mase": mase, "naive_mase": naive,
        "mase_improvement": 1 - mase / naive if naive and math.isfinite(naive) else math.nan,
        "model": agg("yhat"), "naive": agg("naive"),
        "models": {str(k): int(v) for k, v in series["model"].value_counts().sort_index().items()},
        "patterns": {str(k): int(v)
                     for k, v in series["pattern"].value_counts().sort_index().items()},
    }  # fmt: skip


def holdout_score(
    result: ForecastResult, actual: pd.DataFrame, history: pd.DataFrame
) -> dict[str, Any]:
    """Score a forecast against weeks it never saw (`actual`: unique_id, ds, y) and compare it
    with the seasonal naive of the same `history`: the per-series MASE (scaled on the history)
    averaged, and overall WAPE and bias."""
    series, _value, last = history_prepare(history)
    truth = actual.assign(unique_id=actual["unique_id"].astype(str),
                          w=week_ordinal(actual["ds"]))  # fmt: skip
    fc = result.forecast.assign(w=week_ordinal(result.forecast["ds"]))
    merged = fc.merge(truth[["unique_id", "w", "y"]], on=["unique_id", "w"], how="left")
    merged["y"] = merged["y"].fillna(0.0)
    h = int(merged.groupby("unique_id").size().max()) if len(merged) else 0
    naive = {uid: seasonal_naive(y, h) for uid, y, _s, _p in series}
    scale = {uid: (float(np.abs(np.diff(y)).mean()) if y.size > 1 else math.nan)
             for uid, y, _s, _p in series}  # fmt: skip
    merged = merged.sort_values(["unique_id", "w"], kind="stable")
    merged["naive"] = np.concatenate([naive[u][: len(g)] for u, g in merged.groupby(
        "unique_id", sort=True)]) if len(merged) else []  # fmt: skip
    err = (merged["yhat"] - merged["y"]).abs()
    nerr = (merged["naive"] - merged["y"]).abs()
    per = pd.DataFrame({"mae": err.groupby(merged["unique_id"]).mean(),
                        "naive_mae": nerr.groupby(merged["unique_id"]).mean()})  # fmt: skip
    per["scale"] = per.index.map(scale)
    ok = per["scale"] > 0
    mase = float((per.loc[ok, "mae"] / per.loc[ok, "scale"]).mean())
    naive_mase = float((per.loc[ok, "naive_mae"] / per.loc[ok, "scale"]).mean())
    total = float(merged["y"].sum())
    return {
        "mase": mase, "naive_mase": naive_mase, "mase_improvement": 1 - mase / naive_mase,
        "wape": float(err.sum()) / total, "naive_wape": float(nerr.sum()) / total,
        "bias": float((merged["yhat"] - merged["y"]).sum()) / total,
        "naive_bias": float((merged["naive"] - merged["y"]).sum()) / total,
    }  # fmt: skip


# --- CSV for analysts ------------------------------------------------------------------------

CSV_COLUMNS = ("unique_id", "ds", "y")


def history_from_csv(path: str) -> pd.DataFrame:
    """A history table read from a CSV file with the columns unique_id, ds (YYYY-MM-DD), y
    (a number of zero or more) and optionally value. Raises ForecastInputError naming the line
    and column of the first problem."""
    import csv

    try:
        handle = open(path, newline="", encoding="utf-8-sig")  # noqa: SIM115
    except OSError as exc:
        raise ForecastInputError(f"{path}: {exc.strerror}") from exc
    with handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise ForecastInputError(f"{path}: the file is empty")
        header = [h.strip() for h in header]
        for column in CSV_COLUMNS:
            if column not in header:
                raise ForecastInputError(f"{path}, line 1: missing column {column!r}")
        index = {name: header.index(name) for name in header}
        ids, dates, ys, values = [], [], [], []
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue
            if len(record) != len(header):
                raise ForecastInputError(
                    f"{path}, line {number}: {len(record)} fields, the header has {len(header)}"
                )
            uid = record[index["unique_id"]].strip()
            if not uid:
                raise ForecastInputError(f"{path}, line {number}, column unique_id: empty")
            try:
                day = dt.date.fromisoformat(record[index["ds"]].strip())
            except ValueError:
                raise ForecastInputError(
                    f"{path}, line {number}, column ds: not a date (YYYY-MM-DD): "
                    f"{record[index['ds']]!r}") from None  # fmt: skip
            try:
                y = float(record[index["y"]])
            except ValueError:
                y = math.nan
            if not math.isfinite(y) or y < 0:
                raise ForecastInputError(f"{path}, line {number}, column y: not a number of zero "
                                         f"or more: {record[index['y']]!r}")  # fmt: skip
            if "value" in index:
                try:
                    values.append(float(record[index["value"]] or 0))
                except ValueError:
                    raise ForecastInputError(f"{path}, line {number}, column value: not a "
                                             f"number: {record[index['value']]!r}") from None  # fmt: skip
            ids.append(uid)
            dates.append(day)
            ys.append(y)
    if not ids:
        raise ForecastInputError(f"{path}: no data rows")
    frame = pd.DataFrame({"unique_id": ids, "ds": pd.to_datetime(dates), "y": ys})
    if values:
        frame["value"] = values
    return frame


def result_to_csv(result: ForecastResult, directory: str) -> list[str]:
    """Write forecast.csv, series.csv and backtest.csv into `directory` (created if missing);
    returns their paths."""
    from pathlib import Path

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    series = result.series.drop(columns=["scores"])
    paths = []
    for name, frame in (("forecast", result.forecast), ("series", series),
                        ("backtest", result.backtest)):  # fmt: skip
        frame = frame.copy()
        if "ds" in frame:
            frame["ds"] = pd.to_datetime(frame["ds"]).dt.strftime("%Y-%m-%d")
        target = out / f"{name}.csv"
        frame.to_csv(target, index=False, float_format="%.4f")
        paths.append(str(target))
    return paths
