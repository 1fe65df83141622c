"""The forecasting engine (classes, metrics, model choice by backtest, seasonal and
intermittent series, CSV input) and its database side (weekly history from the warehouse, the
statistical forecast written into manufacturing without touching the planner's overrides)."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.utils import timezone

from xietong.analytics import forecast as fc
from xietong.analytics import forecast_run, warehouse
from xietong.manufacturing import planning
from xietong.manufacturing.models import Forecast
from xietong.sales.tests.factories import item

MONDAY = dt.date(2024, 1, 1)


def _seasonal(weeks: int, seed: int, level: float = 100.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    return np.round(level * (1 + 0.5 * np.sin(2 * np.pi * t / 52)) + rng.normal(0, 4, weeks))


def _long(series: dict[str, np.ndarray], start: dt.date = MONDAY) -> pd.DataFrame:
    parts = [pd.DataFrame({"unique_id": uid, "y": y,
                           "ds": pd.date_range(start, periods=len(y), freq="W-MON")})
             for uid, y in series.items()]  # fmt: skip
    return pd.concat(parts, ignore_index=True)


# --- classification and metrics ---------------------------------------------------------------


def test_demand_pattern_by_adi_and_cv2():
    # from the first demand: 5 weeks, 2 with demand → ADI 2.5; sizes 4 and 6 → CV² 1/25
    pattern, adi, cv2 = fc.demand_pattern(np.array([0, 4, 0, 0, 6, 0.0]))
    assert (pattern, adi) == (fc.INTERMITTENT, 2.5) and cv2 == pytest.approx(0.04)
    assert fc.demand_pattern(np.array([10, 11, 9, 10, 10, 11.0]))[0] == fc.SMOOTH
    assert fc.demand_pattern(np.array([1, 50, 2, 60, 1, 40.0]))[0] == fc.ERRATIC
    assert fc.demand_pattern(np.array([0, 1, 0, 0, 40, 0, 0, 3, 0.0]))[0] == fc.LUMPY
    assert fc.demand_pattern(np.zeros(5))[0] == fc.NONE


def test_abc_by_share_of_value():
    classes = fc.abc_classes(pd.Series({"d": 4.0, "a": 70.0, "c": 6.0, "b": 20.0}))
    # a starts at 0 % (A), b at 70 % (A), c at 90 % (B), d at 96 % (C)
    assert classes.to_dict() == {"d": "C", "a": "A", "c": "B", "b": "A"}


def test_metrics_on_hand_checked_numbers():
    m = fc.metrics(np.array([10, 0, 20.0]), np.array([12, 2, 14.0]), np.array([5, 7, 4, 8.0]))
    # MAE (2 + 2 + 6) / 3, scale mean(2, 3, 4) = 3; Σ|e| 10 over Σa 30; Σe −2
    assert m["mase"] == pytest.approx(10 / 9)
    assert m["wape"] == pytest.approx(1 / 3)
    assert m["bias"] == pytest.approx(-2 / 30)
    empty = fc.metrics(np.zeros(3), np.ones(3), np.ones(4))
    assert math.isnan(empty["mase"]) and math.isnan(empty["wape"])


def test_seasonal_naive_repeats_last_year():
    y = np.arange(104.0)
    assert list(fc.seasonal_naive(y, 3)) == [52.0, 53.0, 54.0]
    assert list(fc.seasonal_naive(np.array([3.0, 4.0]), 2)) == [4.0, 4.0]


# --- model choice ---------------------------------------------------------------------------


def test_choice_is_the_lowest_backtest_error():
    rng = np.random.default_rng(3)
    y = np.round(50 + 0.8 * np.arange(156) + rng.normal(0, 3, 156))  # a trend, no season
    row = fc.series_run(fc.SeriesTask("t", y, 2800, "A"), 26, 26)
    assert set(row["scores"]) == set(fc.CONTINUOUS_A)
    best = min(row["scores"].values())
    assert row["scores"][row["model"]] == best
    assert row["model"] != fc.BASELINE  # last year's level is far below a trending series
    assert row["mase"] < row["naive_mase"]
    assert row["forecast"].shape == (26,) and row["forecast"][-1] > row["forecast"][0]


def test_seasonal_series_beats_the_seasonal_naive():
    y = _seasonal(156, seed=4)
    row = fc.series_run(fc.SeriesTask("s", y, 2800, "B"), 26, 26)
    assert row["pattern"] == fc.SMOOTH and row["seasonal"] is True
    assert row["mase"] < 0.9 * row["naive_mase"]
    assert row["wape"] < row["naive_wape"]


def test_intermittent_series_use_croston_family():
    rng = np.random.default_rng(5)
    y = (rng.random(156) < 0.2) * rng.integers(2, 6, 156).astype(float)
    for abc, allowed in (("A", fc.INTERMITTENT_AB), ("C", fc.INTERMITTENT_C)):
        row = fc.series_run(fc.SeriesTask("i", y, 2800, abc), 13, 26)
        assert row["pattern"] in (fc.INTERMITTENT, fc.LUMPY)
        assert row["model"] in allowed and set(row["scores"]) == set(allowed)
        assert np.all(row["forecast"] >= 0)


def test_forecast_table_is_deterministic_and_dated_after_the_history():
    history = pd.concat([_long({"s": _seasonal(156, 1), "z": np.zeros(156)}),
                         _long({"short": np.ones(10) * 5}, MONDAY + dt.timedelta(weeks=146))])  # fmt: skip
    one = fc.forecast_table(history, h=8)
    two = fc.forecast_table(history, h=8)
    pd.testing.assert_frame_equal(one.forecast, two.forecast)
    assert one.series.set_index("unique_id").loc["z", "model"] == "Zero"
    assert one.series.set_index("unique_id").loc["short", "model"] == "SES"  # no backtest
    first = pd.Timestamp(MONDAY + dt.timedelta(weeks=156))
    assert one.forecast["ds"].min() == first and len(one.forecast) == 3 * 8
    assert one.summary["series"] == 3 and one.summary["scored"] == 1


def test_holdout_score_compares_with_the_naive_of_the_same_history():
    full = _long({"s": _seasonal(182, 7)})
    cut = pd.Timestamp(MONDAY + dt.timedelta(weeks=156))
    history, hidden = full[full["ds"] < cut], full[full["ds"] >= cut]
    score = fc.holdout_score(fc.forecast_table(history, h=26), hidden, history)
    assert score["mase"] < score["naive_mase"]


# --- CSV ------------------------------------------------------------------------------------


def _write(path, text):  # type: ignore[no-untyped-def]
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("unique_id,y\nA,1\n", "line 1: missing column 'ds'"),
        ("unique_id,ds,y\nA,2024-01-01,1\nA,2024-13-01,2\n", "line 3, column ds"),
        ("unique_id,ds,y\nA,2024-01-01,-1\n", "line 2, column y"),
        ("unique_id,ds,y\nA,2024-01-01,x\n", "line 2, column y"),
        ("unique_id,ds,y\n,2024-01-01,1\n", "line 2, column unique_id"),
        ("unique_id,ds,y\nA,2024-01-01\n", "line 2: 2 fields"),
    ],
)
def test_bad_csv_names_line_and_column_and_writes_nothing(tmp_path, text, message):
    source = _write(tmp_path / "history.csv", text)
    with pytest.raises(fc.ForecastInputError, match=message.replace("(", r"\(")):
        fc.history_from_csv(source)
    out = tmp_path / "out"
    with pytest.raises(CommandError, match="line"):
        call_command("analytics_forecast", "--input", source, "--output", str(out))
    assert not out.exists()


def test_csv_mode_writes_forecast_series_and_backtest(tmp_path, capsys):
    history = _long({"s": _seasonal(120, 2)})
    source = tmp_path / "history.csv"
    history.assign(ds=history["ds"].dt.strftime("%Y-%m-%d")).to_csv(source, index=False)
    call_command("analytics_forecast", "--input", str(source), "--output",
                 str(tmp_path / "out"), "--horizon", "4")  # fmt: skip
    forecast = pd.read_csv(tmp_path / "out" / "forecast.csv")
    series = pd.read_csv(tmp_path / "out" / "series.csv")
    assert len(forecast) == 4 and list(series["unique_id"]) == ["s"]
    assert (tmp_path / "out" / "backtest.csv").exists()
    assert "MASE" in capsys.readouterr().out


# --- the database side ----------------------------------------------------------------------


def _facts(company, rows):  # type: ignore[no-untyped-def]
    """Sales lines (product, warehouse, date, quantity) straight into the warehouse."""
    with warehouse.connect() as con:
        for n, (product, place, date, quantity) in enumerate(rows, start=1):
            con.execute(
                "INSERT INTO fact_sales_line (line_id, order_id, company_id, date, product_key, "
                "warehouse_key, currency, state, quantity, revenue, cost) "
                "VALUES (?, ?, ?, ?, ?, ?, 'CNY', 'confirmed', ?, ?, 0)",
                [n, n, company.pk, date, product, place, quantity, quantity * 10],
            )


@pytest.mark.django_db
def test_statistical_replace_keeps_manual_and_import(company_a):
    p, q = item(company_a, sku="FC-1"), item(company_a, sku="FC-2")
    day = dt.date(2026, 3, 2)
    manual = planning.forecast_set(company=company_a, actor=None, product=p, date=day,
                                   quantity=Decimal(7))  # fmt: skip
    planning.forecast_set(company=company_a, actor=None, product=p, date=day,
                          quantity=Decimal(9), source=Forecast.Source.IMPORT)  # fmt: skip
    planning.forecast_statistical_replace(company=company_a, actor=None,
                                          rows=[(p.pk, day, Decimal(5)), (q.pk, day, Decimal(1))])  # fmt: skip
    planning.forecast_statistical_replace(company=company_a, actor=None,
                                          rows=[(p.pk, day, Decimal(6))], product_ids=[p.pk])  # fmt: skip
    rows = set(Forecast.unscoped.filter(company=company_a).values_list(
        "product__sku", "source", "quantity"))  # fmt: skip
    assert rows == {("FC-1", "manual", Decimal(7)), ("FC-1", "import", Decimal(9)),
                    ("FC-1", "statistical", Decimal(6)), ("FC-2", "statistical", Decimal(1))}  # fmt: skip
    manual.refresh_from_db()
    with pytest.raises(ValidationError) as bad:
        planning.forecast_statistical_replace(company=company_a, actor=None,
                                              rows=[(p.pk, day, Decimal(-1))])  # fmt: skip
    assert "quantity" in bad.value.message_dict
    with pytest.raises(ValidationError):  # q is outside the scope given
        planning.forecast_statistical_replace(company=company_a, actor=None,
                                              rows=[(q.pk, day, Decimal(1))], product_ids=[p.pk])  # fmt: skip
    assert Forecast.unscoped.filter(company=company_a, source="statistical").count() == 2


@pytest.mark.django_db
def test_forecast_company_from_the_warehouse_into_manufacturing(company_a, company_b):
    p, q = item(company_a, sku="FW-1"), item(company_a, sku="FW-2")
    other = item(company_b, sku="FW-X")
    today = dt.date(2026, 6, 10)  # a Wednesday: its week is not history yet
    current = forecast_run.week_start(today)
    weeks = [current - dt.timedelta(weeks=k) for k in range(80, 0, -1)]
    y = _seasonal(80, 9, level=20)
    rows = [(p.pk, 1, d, float(v)) for d, v in zip(weeks, y, strict=True)]
    rows += [(p.pk, 2, d, 3.0) for d in weeks[::4]] + [(q.pk, 1, d, 2.0) for d in weeks[::5]]
    rows += [(p.pk, 1, today, 999.0), (other.pk, 1, weeks[0], 5.0)]  # current week, other company
    _facts(company_a, rows[:-1])
    _facts(company_b, [])
    planning.forecast_set(company=company_a, actor=None, product=p, date=current,
                          quantity=Decimal(1))  # a manual override stays  # fmt: skip
    summary = forecast_run.forecast_company(company=company_a, actor=None, horizon=6, today=today)
    assert summary["series"] == 2 and summary["series_by_warehouse"] == 3
    stat = Forecast.unscoped.filter(company=company_a, source="statistical")
    assert set(stat.values_list("product_id", flat=True)) == {p.pk, q.pk}
    assert min(stat.values_list("date", flat=True)) == current
    assert stat.filter(product=p).count() == 6
    assert Forecast.unscoped.filter(company=company_a, source="manual").count() == 1
    listed = forecast_run.series_list(company=company_a)
    assert [r["sku"] for r in listed] == ["FW-1", "FW-2"]
    assert listed[1]["pattern"] in (fc.INTERMITTENT, fc.LUMPY)
    by_place = forecast_run.series_list(company=company_a, level=forecast_run.PRODUCT_WAREHOUSE)
    assert {(r["product_id"], r["warehouse_key"]) for r in by_place} == {
        (p.pk, 1), (p.pk, 2), (q.pk, 1)}  # fmt: skip
    detail = forecast_run.series_detail(company=company_a, product_id=p.pk)
    assert len(detail["forecast"]) == 6 and detail["overrides"] == [(current.isoformat(), 1.0)]
    assert detail["history"][-1][0] == weeks[-1].isoformat()  # the current week is left out
    # a second run replaces the statistical rows, not adds to them
    forecast_run.forecast_company(company=company_a, actor=None, horizon=4, today=today)
    assert Forecast.unscoped.filter(company=company_a, source="statistical",
                                    product=p).count() == 4  # fmt: skip
    assert forecast_run.last_run(company=company_a)["horizon"] == 4


def test_vectorised_croston_and_tsb_equal_statsforecast():
    from statsforecast.models import TSB, CrostonClassic, CrostonSBA

    rng = np.random.default_rng(8)
    rows = [(rng.random(40) < 0.3) * rng.integers(1, 9, 40).astype(float) for _ in range(6)]
    rows[0][:] = 0.0  # no demand at all
    starts = np.array([0, 0, 5, 12, 0, 30])
    levels = fc.intermittent_levels(np.vstack(rows), starts)
    for i, (y, start) in enumerate(zip(rows, starts, strict=True)):
        series = y[start:]
        for name, model in (("CrostonClassic", CrostonClassic()), ("CrostonSBA", CrostonSBA()),
                            ("TSB", TSB(alpha_d=0.1, alpha_p=0.1))):  # fmt: skip
            expected = model.forecast(y=series, h=1)["mean"][0]
            assert levels[name][i] == pytest.approx(expected, abs=1e-9), (name, i)


def test_intermittent_batch_chooses_by_backtest_like_the_series_path():
    rng = np.random.default_rng(9)
    ys = {f"i{k}": (rng.random(120) < 0.25) * rng.integers(1, 6, 120).astype(float)
          for k in range(5)}  # fmt: skip
    result = fc.forecast_table(_long(ys), h=6)
    series = result.series.set_index("unique_id")
    assert set(series["model"]) <= set(fc.INTERMITTENT_FAST)
    for uid, row in series.iterrows():
        assert row["scores"][row["model"]] == min(row["scores"].values())
        task = fc.SeriesTask(uid, ys[uid], 0, "C")
        train = ys[uid][:-26]
        level = fc.intermittent_levels(train[None, :], np.array([0]))[row["model"]][0]
        expected = fc.metrics(ys[uid][-26:], np.full(26, level), train)
        assert row["mase"] == pytest.approx(expected["mase"])
        assert row["wape"] == pytest.approx(expected["wape"])
        assert task.uid == uid
    assert len(result.backtest) == 5 * 26


@pytest.mark.parametrize("name", sorted({*fc.CONTINUOUS_A, *fc.CONTINUOUS_C}))
def test_every_continuous_candidate_forecasts_the_level(name):
    rng = np.random.default_rng(10)
    y = np.round(100 + rng.normal(0, 5, 130))
    forecast = fc.model_forecast(name, y, 4, 2800, False)
    assert forecast.shape == (4,) and np.all(np.abs(forecast - 100) < 20), forecast


@pytest.mark.django_db
def test_command_forecasts_one_product_of_the_company(company_a, capsys):
    p, q = item(company_a, sku="FC-P"), item(company_a, sku="FC-Q")
    current = forecast_run.week_start(timezone.localdate())
    weeks = [current - dt.timedelta(weeks=k) for k in range(40, 0, -1)]
    _facts(company_a, [(x.pk, 1, d, 4.0 + k % 3) for x in (p, q) for k, d in enumerate(weeks)])
    planning.forecast_statistical_replace(company=company_a, actor=None,
                                          rows=[(q.pk, current, Decimal(3))])  # fmt: skip
    with pytest.raises(CommandError, match="no product"):
        call_command("analytics_forecast", "--company", str(company_a.pk), "--product", "NOPE")
    call_command("analytics_forecast", "--company", str(company_a.pk), "--horizon", "3",
                 "--product", "FC-P")  # fmt: skip
    stat = Forecast.unscoped.filter(company=company_a, source="statistical")
    assert stat.filter(product=p).count() == 3
    assert list(stat.filter(product=q).values_list("quantity", flat=True)) == [Decimal(3)]
    assert "statistical forecast rows written" in capsys.readouterr().out
