"""Demand forecasting on the company's data: the weekly demand of the warehouse's sales lines
(confirmed and done orders, by order date) per product and per product × warehouse, forecast by
the engine (`forecast.py`), stored in the warehouse (tables `fc_*`, created here if missing:
they are not part of the star's schema version and survive its rebuilds), and the product-level
forecast written into manufacturing as its statistical forecast (source `statistical`, replaced
as a whole; the planner's manual and imported forecasts are kept apart and never touched).

A run is a background job (kind `analytics.forecast`) or the `xietong analytics_forecast`
command; `forecast_company` does the work."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from xietong.analytics import forecast as engine
from xietong.analytics import warehouse
from xietong.core import jobs
from xietong.core.models import Company
from xietong.manufacturing import planning
from xietong.manufacturing.models import Forecast
from xietong.product.models import Product

PRODUCT, PRODUCT_WAREHOUSE = "product", "product_warehouse"
HISTORY_WEEKS = 156
FOUR = Decimal("0.0001")
NOTE = "statistical forecast"
_KEYS = (
    "company_id BIGINT, level VARCHAR, unique_id VARCHAR, product_key BIGINT, warehouse_key BIGINT"
)
TABLES: dict[str, str] = {
    "fc_run": "company_id BIGINT, run_at TIMESTAMP, horizon INTEGER, last_week DATE, summary VARCHAR",
    "fc_series": (
        f"{_KEYS}, abc VARCHAR, pattern VARCHAR, adi DOUBLE, cv2 DOUBLE, seasonal BOOLEAN, "
        "n_obs INTEGER, model VARCHAR, candidates VARCHAR, mase DOUBLE, wape DOUBLE, bias DOUBLE, "
        "naive_mase DOUBLE, naive_wape DOUBLE, naive_bias DOUBLE, scores VARCHAR"
    ),
    "fc_forecast": f"{_KEYS}, date DATE, quantity DOUBLE",
    "fc_backtest": f"{_KEYS}, date DATE, actual DOUBLE, forecast DOUBLE, naive DOUBLE",
}


def tables_ensure(con: Any) -> None:
    for name, columns in TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {name} ({columns})")


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def history_read(
    *, company: Company, end: dt.date, product_ids: list[int] | None = None
) -> pd.DataFrame:
    """Weekly demand (product_key, warehouse_key, ds = the Monday, y = quantity, value =
    revenue) of the company's stockable products from the warehouse's sales lines, over the
    `HISTORY_WEEKS` weeks before the week of `end` (`end` itself is the first week not read)."""
    start = end - dt.timedelta(weeks=HISTORY_WEEKS)
    stockable = set(
        Product.unscoped.filter(company=company).exclude(type=Product.Type.SERVICE)
        .values_list("pk", flat=True)
    )  # fmt: skip
    if product_ids is not None:
        stockable &= set(product_ids)
    with warehouse.connect(read_only=True) as con:
        frame = con.execute(
            """SELECT product_key, coalesce(warehouse_key, 0) AS warehouse_key,
                      CAST(date_trunc('week', date) AS DATE) AS ds,
                      CAST(sum(quantity) AS DOUBLE) AS y, CAST(sum(revenue) AS DOUBLE) AS value
               FROM fact_sales_line
               WHERE company_id = ? AND date >= ? AND date < ? AND product_key IS NOT NULL
               GROUP BY ALL ORDER BY ALL""",
            [company.pk, start, end],
        ).df()
    frame = frame[frame["product_key"].isin(sorted(stockable))]
    frame["y"] = frame["y"].clip(lower=0)
    return frame.reset_index(drop=True)


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _rows(result: engine.ForecastResult, level: str, company_id: int) -> dict[str, pd.DataFrame]:
    def keys(frame: pd.DataFrame) -> pd.DataFrame:
        ids = frame["unique_id"].astype(str)
        out = pd.DataFrame({"company_id": company_id, "level": level, "unique_id": ids})
        out["product_key"] = [int(u.split(":")[0]) for u in ids] if len(ids) else []
        out["warehouse_key"] = [int(u.split(":")[1]) if ":" in u else None for u in ids]
        return out

    s = result.series
    series = keys(s)
    for column in ("abc", "pattern", "adi", "cv2", "seasonal", "n_obs", "model", "candidates",
                   "mase", "wape", "bias", "naive_mase", "naive_wape", "naive_bias"):  # fmt: skip
        series[column] = s[column].to_numpy()
    series["scores"] = [json.dumps(_clean(v)) for v in s["scores"]]
    forecast = keys(result.forecast)
    forecast["date"] = pd.to_datetime(result.forecast["ds"]).dt.date.to_numpy()
    forecast["quantity"] = result.forecast["yhat"].to_numpy(float)
    bt = result.backtest
    backtest = keys(bt)
    if len(bt):
        backtest["date"] = pd.to_datetime(bt["ds"]).dt.date.to_numpy()
    else:
        backtest["date"] = []
    for column, source in (("actual", "y"), ("forecast", "yhat"), ("naive", "naive")):
        backtest[column] = bt[source].to_numpy(float) if len(bt) else []
    return {"fc_series": series, "fc_forecast": forecast, "fc_backtest": backtest}


def _store(con: Any, company: Company, frames: list[dict[str, pd.DataFrame]],
           product_ids: list[int] | None, run: tuple) -> None:  # fmt: skip
    """Replace the company's stored forecast (of `product_ids` only, if given) in one
    transaction of the warehouse."""
    tables_ensure(con)
    con.execute("BEGIN TRANSACTION")
    try:
        for table in ("fc_series", "fc_forecast", "fc_backtest"):
            if product_ids is None:
                con.execute(f"DELETE FROM {table} WHERE company_id = ?", [company.pk])  # noqa: S608
            else:
                con.execute(f"DELETE FROM {table} WHERE company_id = ? "  # noqa: S608
                            "AND list_contains(?, product_key)", [company.pk, product_ids])  # fmt: skip
            columns = [c.split()[0] for c in TABLES[table].split(", ")]
            for part in frames:
                frame = part[table][columns]  # noqa: F841 (read by DuckDB by name)
                if len(frame):
                    con.execute(f"INSERT INTO {table} SELECT * FROM frame")  # noqa: S608
        con.execute("DELETE FROM fc_run WHERE company_id = ?", [company.pk])
        con.execute("INSERT INTO fc_run VALUES (?, ?, ?, ?, ?)", list(run))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def forecast_company(
    *, company: Company, actor: Any, horizon: int = 26, product_ids: list[int] | None = None,
    today: dt.date | None = None, n_jobs: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Forecast the company's products (or `product_ids`) `horizon` weeks from the current
    week, per product and per product × warehouse, from the complete weeks before it; store the
    result in the warehouse and replace the statistical forecast of manufacturing by the
    product-level one (one transaction; manual and imported forecasts untouched). Raises
    ValueError for a horizon below 1 or above 104. Returns the run's summary."""
    if not 1 <= horizon <= 104:
        raise ValueError(_("The horizon is 1 to 104 weeks."))
    today = today or timezone.localdate()
    current = week_start(today)
    jobs_count = n_jobs or min(2, os.cpu_count() or 1)
    history = history_read(company=company, end=current, product_ids=product_ids)
    last = current - dt.timedelta(weeks=1)
    by_product = history.groupby(["product_key", "ds"], as_index=False)[["y", "value"]].sum()
    by_product["unique_id"] = by_product["product_key"].astype(str)
    by_place = history.assign(unique_id=history["product_key"].astype(str) + ":" +
                              history["warehouse_key"].astype(str))  # fmt: skip
    # worker processes take seconds to start: worth it for many series only
    parallel = jobs_count if by_product["product_key"].nunique() > 2_000 else 1
    product_result = engine.forecast_table(by_product, h=horizon, end=last, n_jobs=parallel,
                                           progress=progress)  # fmt: skip
    place_result = engine.forecast_table(by_place, h=horizon, end=last, n_jobs=parallel)
    frames = [_rows(product_result, PRODUCT, company.pk),
              _rows(place_result, PRODUCT_WAREHOUSE, company.pk)]  # fmt: skip
    summary = _clean({**product_result.summary, "horizon": horizon, "last_week": last.isoformat(),
                      "series_by_warehouse": int(len(place_result.series))})  # fmt: skip
    f = product_result.forecast
    rows = [
        (int(uid), ds.date(), Decimal(repr(float(q))).quantize(FOUR, ROUND_HALF_UP))
        for uid, ds, q in zip(f["unique_id"], pd.to_datetime(f["ds"]), f["yhat"], strict=True)
        if q > 0
    ]
    run = (company.pk, timezone.now().replace(tzinfo=None), horizon, last, json.dumps(summary))
    with transaction.atomic():
        written = planning.forecast_statistical_replace(
            company=company, actor=actor, rows=rows, product_ids=product_ids, note=NOTE
        )
        with warehouse.connect() as con:
            _store(con, company, frames, product_ids, run)
    summary["written"] = written
    return summary


# --- reads for the screens -----------------------------------------------------------------


def _query(sql: str, params: list[Any]) -> pd.DataFrame:
    with warehouse.connect(read_only=True) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables "
                           "WHERE table_name = 'fc_run'").fetchone()[0]:  # fmt: skip
            return pd.DataFrame()
        return con.execute(sql, params).df()


def last_run(*, company: Company) -> dict[str, Any] | None:
    """When the company's forecast last ran, its horizon and summary; None if never."""
    frame = _query("SELECT * FROM fc_run WHERE company_id = ?", [company.pk])
    if frame.empty:
        return None
    row = frame.iloc[0]
    return {"run_at": row["run_at"], "horizon": int(row["horizon"]),
            "last_week": row["last_week"], "summary": json.loads(row["summary"])}  # fmt: skip


def series_list(*, company: Company, level: str = PRODUCT) -> list[dict[str, Any]]:
    """The stored series of the company (class, model, backtest metrics vs the seasonal naive)
    with the product's SKU and name, by SKU."""
    frame = _query("SELECT * FROM fc_series WHERE company_id = ? AND level = ? "
                   "ORDER BY product_key, warehouse_key", [company.pk, level])  # fmt: skip
    if frame.empty:
        return []
    names = {
        pk: (sku, name) for pk, sku, name in Product.unscoped.filter(
            company=company, pk__in=[int(k) for k in frame["product_key"].unique()]
        ).values_list("pk", "sku", "name")
    }  # fmt: skip
    places = _query("SELECT warehouse_key, warehouse FROM dim_warehouse WHERE company_id = ?",
                    [company.pk])  # fmt: skip
    place = {} if places.empty else dict(zip(places["warehouse_key"], places["warehouse"],
                                             strict=True))  # fmt: skip
    out = []
    for record in frame.to_dict("records"):
        sku, name = names.get(int(record["product_key"]), ("?", ""))
        record = _clean(record)
        record.update(sku=sku, name=name, product_id=int(record["product_key"]),
                      warehouse=place.get(record.get("warehouse_key"), record.get("warehouse_key")))  # fmt: skip
        out.append(record)
    return sorted(out, key=lambda r: (r["sku"], r.get("warehouse_key") or 0))


def series_detail(*, company: Company, product_id: int) -> dict[str, Any]:
    """History (weekly), backtest, forecast and the planner's overrides of one product."""
    run = last_run(company=company)
    end = (week_start(timezone.localdate()) if run is None
           else run["last_week"] + dt.timedelta(weeks=1))  # fmt: skip
    history = history_read(company=company, end=end, product_ids=[product_id])
    history = history.groupby("ds", as_index=False)["y"].sum()
    backtest = _query("SELECT date, actual, forecast, naive FROM fc_backtest WHERE company_id = ? "
                      "AND level = ? AND product_key = ? ORDER BY date",
                      [company.pk, PRODUCT, product_id])  # fmt: skip
    forecast = _query("SELECT date, quantity FROM fc_forecast WHERE company_id = ? AND level = ? "
                      "AND product_key = ? ORDER BY date", [company.pk, PRODUCT, product_id])  # fmt: skip
    overrides = (
        Forecast.unscoped.filter(company=company, product_id=product_id)
        .exclude(source=Forecast.Source.STATISTICAL).order_by("date")
        .values_list("date", "quantity")
    )  # fmt: skip
    return {
        "history": [(d.isoformat(), float(y)) for d, y in zip(
            pd.to_datetime(history["ds"]).dt.date, history["y"], strict=True)],
        "backtest": [] if backtest.empty else [
            (pd.Timestamp(d).date().isoformat(), float(f), float(n))
            for d, f, n in zip(backtest["date"], backtest["forecast"], backtest["naive"],
                               strict=True)],
        "forecast": [] if forecast.empty else [
            (pd.Timestamp(d).date().isoformat(), float(q))
            for d, q in zip(forecast["date"], forecast["quantity"], strict=True)],
        "overrides": [(d.isoformat(), float(q)) for d, q in overrides],
    }  # fmt: skip


# --- the job --------------------------------------------------------------------------------


def forecast_job(context: jobs.JobContext, horizon: int = 26,
                 product_ids: list[int] | None = None) -> dict[str, Any]:  # fmt: skip
    def progress(done: int, total: int) -> None:
        context.progress(done, total, _("Forecasting"))

    try:
        summary = forecast_company(company=context.company, actor=context.user,
                                   horizon=int(horizon), product_ids=product_ids,
                                   progress=progress)  # fmt: skip
    except ValueError as exc:
        raise jobs.JobError(str(exc)) from exc
    summary["message"] = _("%(n)s products forecast, %(w)s forecast rows written.") % {
        "n": summary["series"], "w": summary["written"]}  # fmt: skip
    return summary


def declare() -> None:
    """Declare `analytics.forecast` (idempotent; before any view requiring it is defined)."""
    from xietong.core import permissions

    permissions.declare(
        ("analytics.forecast", gettext_lazy("See the demand forecasts and run them")),
    )


def register() -> None:
    from xietong.core import roles

    declare()
    for role in ("planner", "executive"):
        roles.grant(role, "analytics.forecast")
    jobs.register("analytics.forecast", forecast_job)
