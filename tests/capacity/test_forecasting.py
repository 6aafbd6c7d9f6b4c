from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capacity.forecasting import CANDIDATE_NAMES, backtest, forecast, infer_season_length
from capacity.forecasting.selection import COMBINATION_PREFERENCE

NON_SEASONAL_MODELS = {"seasonal_naive", "ets_ann", "ets_aan", "ets_aadn"}


def daily_pattern(days: int, *, noise: float = 1.0, seed: int = 0, start: str = "2024-01-01") -> pd.Series:
    """Hourly demand with a strong daily cycle (busy working hours) and gaussian noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(24 * days)
    cycle = 20 + 10 * np.sin(2 * np.pi * (hours % 24) / 24) + 5 * ((hours % 24) >= 9) * ((hours % 24) < 18)
    values = cycle + rng.normal(0, noise, len(hours))
    return pd.Series(values, index=pd.date_range(start, periods=len(hours), freq="h"))


def weekly_rhythm(days: int, *, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    weekday = np.arange(days) % 7 < 5
    values = 50 + 15 * weekday + rng.normal(0, 2, days)
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=days, freq="D"))


def assert_bands_are_ordered(result: pd.DataFrame) -> None:
    assert (result["lower_95"] <= result["lower_80"]).all()
    assert (result["lower_80"] <= result["mean"]).all()
    assert (result["mean"] <= result["upper_80"]).all()
    assert (result["upper_80"] <= result["upper_95"]).all()


@pytest.mark.parametrize(
    ("freq", "points", "horizon"),
    [("h", 24 * 10, 24), ("D", 60, 14), ("W-SUN", 120, 8), ("MS", 48, 12), ("QS-JAN", 40, 4)],
)
def test_it_continues_the_series_frequency(freq: str, points: int, horizon: int) -> None:
    rng = np.random.default_rng(1)
    index = pd.date_range("2021-01-01", periods=points, freq=freq)
    series = pd.Series(100 + rng.normal(0, 5, points), index=index)

    result = forecast(series, horizon)

    expected = pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:]
    assert result.index.equals(expected)
    assert list(result.columns) == ["mean", "lower_80", "upper_80", "lower_95", "upper_95"]
    assert result.notna().all().all()


def test_it_continues_an_integer_index_with_its_step() -> None:
    series = pd.Series(np.linspace(10, 20, 30), index=range(0, 60, 2))

    result = forecast(series, 3)

    assert list(result.index) == [60, 62, 64]


def test_it_returns_a_band_pair_for_each_requested_level() -> None:
    result = forecast(weekly_rhythm(120), 14, levels=(50, 99, 90))

    assert list(result.columns) == ["mean", "lower_50", "upper_50", "lower_90", "upper_90", "lower_99", "upper_99"]
    assert (result["lower_99"] <= result["lower_90"]).all() and (result["lower_90"] <= result["lower_50"]).all()
    assert (result["upper_50"] <= result["upper_90"]).all() and (result["upper_90"] <= result["upper_99"]).all()


def test_it_nests_the_80_band_inside_the_95_band_around_the_mean() -> None:
    result = forecast(daily_pattern(21), 48)

    assert_bands_are_ordered(result)
    assert (result["upper_95"] > result["lower_95"]).all()


@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.one_of(st.just(0.0), st.floats(min_value=0, max_value=1e4, allow_nan=False, allow_infinity=False)),
        min_size=1,
        max_size=40,
    ),
    horizon=st.integers(min_value=1, max_value=10),
)
def test_it_never_forecasts_negative_values_for_nonnegative_input(values: list[float], horizon: int) -> None:
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=len(values), freq="D"))

    result = forecast(series, horizon)

    assert (result >= 0).all().all()
    assert_bands_are_ordered(result)
    assert len(result) == horizon


def test_it_may_forecast_negative_values_for_a_series_that_goes_negative() -> None:
    rng = np.random.default_rng(3)
    series = pd.Series(rng.normal(-5, 1, 80), index=pd.date_range("2024-01-01", periods=80, freq="D"))

    result = forecast(series, 7)

    assert (result["mean"] < 0).all()


def test_it_is_deterministic() -> None:
    series = daily_pattern(14, seed=4)

    first, second = forecast(series, 24), forecast(series, 24)

    pd.testing.assert_frame_equal(first, second)
    assert first.attrs == second.attrs


@pytest.mark.parametrize(
    ("freq", "points", "expected"),
    [
        ("h", 48, 24),
        ("h", 47, None),
        ("D", 14, 7),
        ("W-SUN", 104, 52),
        ("W-SUN", 103, None),
        ("MS", 24, 12),
        ("YS", 50, None),
    ],
)
def test_it_infers_the_season_length_from_the_frequency(freq: str, points: int, expected: int | None) -> None:
    series = pd.Series(1.0, index=pd.date_range("2020-01-01", periods=points, freq=freq))

    assert infer_season_length(series) == expected


def test_it_uses_and_reports_the_inferred_season_length() -> None:
    assert forecast(weekly_rhythm(70), 7).attrs["season_length"] == 7
    assert forecast(daily_pattern(5), 12).attrs["season_length"] == 24


def test_it_drops_a_season_the_history_cannot_support_and_says_so() -> None:
    result = forecast(weekly_rhythm(20), 5, season_length=14)

    assert result.attrs["season_length"] is None
    assert "two full seasons" in result.attrs["fallback"]


def test_it_treats_missing_timestamps_and_nan_as_gaps() -> None:
    complete = weekly_rhythm(140, seed=5)
    gappy = complete.drop(complete.index[[20, 21, 22, 70, 139 - 10]])
    gappy.iloc[[5, 50, 100]] = np.nan
    gappy = gappy.sample(frac=1, random_state=1)  # order of arrival must not matter

    result = forecast(gappy, 14)

    assert result.index.equals(pd.date_range("2024-05-20", periods=14, freq="D"))
    assert result.notna().all().all()
    assert "8 missing or NaN points" in result.attrs["notes"][0]
    weekdays = result["mean"][result.index.dayofweek < 5]
    weekends = result["mean"][result.index.dayofweek >= 5]
    assert weekdays.min() > weekends.max()  # the weekly rhythm survived the gaps


def test_it_never_scores_backtests_on_gaps() -> None:
    series = weekly_rhythm(120, seed=6)
    gappy = series.copy()
    gappy.iloc[-7:-3] = np.nan  # the last fold's targets include gaps

    scores = backtest(gappy, 14, 3)

    assert scores.notna().all().all()


def test_it_forecasts_zeros_for_an_all_zero_series() -> None:
    series = pd.Series(0.0, index=pd.date_range("2024-01-01", periods=100, freq="h"))

    result = forecast(series, 24)

    assert (result == 0).all().all()
    assert result.attrs["model"] == "zeros"
    assert "zero" in result.attrs["fallback"]


def test_it_falls_back_to_naive_for_a_very_short_series() -> None:
    series = pd.Series([4.0, 6.0, 5.0, 7.0], index=pd.date_range("2024-01-01", periods=4, freq="D"))

    result = forecast(series, 3)

    assert result.attrs["model"] == "naive"
    assert "fewer than 10" in result.attrs["fallback"]
    assert (result["mean"] == 7.0).all()
    assert (result["upper_95"] > result["upper_80"]).all()


def test_it_considers_only_simple_models_when_the_history_is_shorter_than_twice_the_horizon() -> None:
    rng = np.random.default_rng(7)
    series = pd.Series(rng.normal(30, 2, 30), index=pd.date_range("2024-01-01", periods=30, freq="D"))

    result = forecast(series, 20)

    assert set(result.attrs["scores"]) <= {"seasonal_naive", "ets_ann", "theta"}
    assert "fewer than twice the horizon" in result.attrs["fallback"]


def test_it_fits_after_a_level_shift_and_says_so() -> None:
    rng = np.random.default_rng(8)
    values = np.r_[rng.normal(10, 1, 300), rng.normal(40, 1, 100)]
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=400, freq="h"))

    result = forecast(series, 24)

    assert "Level shift detected at 2024-01-13 12:00:00" in result.attrs["fallback"]
    assert result["mean"].between(37, 43).all()


def test_it_forecasts_zeros_once_demand_has_dropped_to_zero_for_good() -> None:
    rng = np.random.default_rng(14)
    values = np.r_[rng.normal(50, 3, 300), np.zeros(100)]
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=400, freq="h"))

    result = forecast(series, 24)

    assert result.attrs["model"] == "zeros"
    assert "Level shift detected" in result.attrs["fallback"]
    assert "All observed values are zero" in result.attrs["fallback"]
    assert (result == 0).all().all()


@pytest.mark.parametrize("shape", ["trend", "outage"])
def test_it_does_not_mistake_a_trend_or_a_one_off_outage_for_a_level_shift(shape: str) -> None:
    rng = np.random.default_rng(9)
    values = rng.normal(50, 3, 400)
    if shape == "trend":
        values += np.arange(400) * 0.5
    else:
        values[300:324] = 0
    series = pd.Series(values, index=pd.date_range("2024-01-01", periods=400, freq="h"))

    assert forecast(series, 24).attrs["fallback"] is None


def test_it_picks_a_seasonal_model_that_beats_seasonal_naive_on_a_holdout() -> None:
    series = daily_pattern(29, noise=3.0, seed=10)
    history, holdout = series.iloc[:-48], series.iloc[-48:]

    result = forecast(history, 48)

    assert result.attrs["model"] not in NON_SEASONAL_MODELS
    chosen_error = np.abs(holdout.to_numpy() - result["mean"].to_numpy()).mean()
    naive_error = np.abs(holdout.to_numpy() - np.resize(history.to_numpy()[-24:], 48)).mean()
    assert chosen_error < 0.8 * naive_error


def test_it_calibrates_80_percent_intervals_on_held_out_data() -> None:
    series = daily_pattern(35, noise=3.0, seed=11)
    history, holdout = series.iloc[:-168], series.iloc[-168:]

    result = forecast(history, 168)

    inside = (holdout >= result["lower_80"]) & (holdout <= result["upper_80"])
    assert 0.65 <= inside.mean() <= 0.95


def test_it_reports_the_chosen_model_and_scores_for_every_candidate_that_ran() -> None:
    result = forecast(daily_pattern(20, seed=12), 24)

    scores = result.attrs["scores"]
    assert result.attrs["model"] in scores
    # SARIMAX with a 24-hour season is too slow for this much history, so it does not run.
    assert set(scores) == set(CANDIDATE_NAMES) - {"sarima"}
    for score in scores.values():
        assert np.isfinite(score["mase"]) and np.isfinite(score["smape"])
        assert set(score["coverage"]) == {80, 95}
    # The combination wins unless a single model beats its backtest MASE by COMBINATION_PREFERENCE.
    preferred = {
        name: score["mase"] * (1 - COMBINATION_PREFERENCE if name == "combination" else 1)
        for name, score in scores.items()
    }
    assert result.attrs["model"] == min(preferred, key=preferred.get)
    assert result.attrs["fallback"] is None and result.attrs["skipped"] == {}


def test_it_backtests_every_model_with_mase_smape_and_coverage() -> None:
    series = weekly_rhythm(120, seed=13)

    scores = backtest(series, 14, 3, levels=(80, 95))

    assert list(scores.columns) == ["mase", "smape", "coverage_80", "coverage_95"]
    # SARIMAX is affordable for 120 days; mstl_ets needs a longer season (a year of days) beside the week.
    assert set(scores.index) == set(CANDIDATE_NAMES) - {"mstl_ets"}
    assert scores.notna().all().all()
    assert scores["coverage_80"].between(0, 1).all()
    assert scores.attrs["fold_horizon"] == 14 and len(scores.attrs["origins"]) == 3


def test_it_scores_seasonal_naive_perfectly_on_an_exactly_repeating_series() -> None:
    pattern = np.tile([5.0, 9.0, 7.0, 3.0, 8.0, 1.0, 2.0], 20)
    series = pd.Series(pattern, index=pd.date_range("2024-01-01", periods=140, freq="D"))

    scores = backtest(series, 7, 2)

    assert scores.loc["seasonal_naive", "mase"] == 0.0
    assert scores.loc["seasonal_naive", "smape"] == 0.0


def test_it_gives_no_coverage_for_a_single_fold_backtest() -> None:
    scores = backtest(weekly_rhythm(60), 7, 1)

    assert scores["coverage_80"].isna().all()
    assert scores["mase"].notna().all()


@pytest.mark.parametrize(
    ("horizon", "levels"),
    [(0, (80,)), (-3, (80,)), (2.5, (80,)), (5, ()), (5, (0,)), (5, (100,))],
)
def test_it_rejects_a_bad_horizon_or_level(horizon: int, levels: tuple[int, ...]) -> None:
    with pytest.raises(ValueError):
        forecast(weekly_rhythm(30), horizon, levels=levels)


def test_it_rejects_a_series_without_observations() -> None:
    series = pd.Series([np.nan, np.nan], index=pd.date_range("2024-01-01", periods=2, freq="D"))

    with pytest.raises(ValueError, match="no observed"):
        forecast(series, 3)
