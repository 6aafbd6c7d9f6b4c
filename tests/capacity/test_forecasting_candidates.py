"""The stronger candidates: MSTL with two seasons, the median combination, cross-conformal intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from capacity.forecasting import forecast
from capacity.forecasting.evaluation import fold_layout, forecast_all
from capacity.forecasting.models import CANDIDATES_BY_NAME, seasons_for


def hourly_with_daily_and_weekly_seasons(days: int, *, seed: int) -> pd.Series:
    """Hourly demand whose weekends are quiet: a 24-hour season alone cannot carry the weekly one."""
    rng = np.random.default_rng(seed)
    hours = np.arange(24 * days)
    weekday = (hours // 24) % 7 < 5
    values = 40 + 10 * np.sin(2 * np.pi * hours / 24) + 15 * weekday + 0.01 * hours + rng.normal(0, 2, len(hours))
    return pd.Series(values, index=pd.date_range("2024-01-01", periods=len(hours), freq="h"))


def test_it_models_the_weekly_season_of_hourly_data_and_beats_seasonal_naive_on_a_holdout() -> None:
    series = hourly_with_daily_and_weekly_seasons(31, seed=1)
    history, holdout = series.iloc[:-168], series.iloc[-168:]

    result = forecast(history, 168, season_length=24)

    scores = result.attrs["scores"]
    assert {"mstl_theta", "mstl_ets", "combination", "seasonal_naive"} <= set(scores)
    chosen_error = np.abs(holdout.to_numpy() - result["mean"].to_numpy()).mean()
    naive_error = np.abs(holdout.to_numpy() - np.resize(history.to_numpy()[-24:], 168)).mean()
    assert chosen_error < 0.5 * naive_error  # seasonal naive repeats Friday's hours into the weekend
    assert scores[result.attrs["model"]]["mase"] < scores["seasonal_naive"]["mase"]


def test_it_keeps_the_median_combination_within_its_members_forecasts() -> None:
    series = hourly_with_daily_and_weekly_seasons(21, seed=2).to_numpy()
    members = ("theta", "ets_aadn", "mstl_theta")
    candidates = [CANDIDATES_BY_NAME[name] for name in (*members, "combination")]

    forecasts, failures = forecast_all(candidates, series, 24, 48, nonnegative=True, members=members)

    assert failures == {}
    stacked = np.vstack([forecasts[name] for name in members])
    assert (forecasts["combination"] >= stacked.min(axis=0) - 1e-9).all()
    assert (forecasts["combination"] <= stacked.max(axis=0) + 1e-9).all()
    assert not any(np.array_equal(forecasts["combination"], forecasts[name]) for name in members)


def test_it_names_the_combination_members_it_chose_from_the_backtest() -> None:
    result = forecast(hourly_with_daily_and_weekly_seasons(21, seed=3), 48)

    scores = result.attrs["scores"]
    assert "combination" in scores
    assert np.isfinite(scores["combination"]["mase"]) and np.isfinite(scores["combination"]["smape"])


def test_it_covers_about_80_percent_of_held_out_points_with_known_gaussian_noise() -> None:
    inside, total = 0, 0
    for seed in range(4):
        rng = np.random.default_rng(100 + seed)
        days = np.arange(150)
        values = 100 + 20 * (days % 7 < 5) + rng.normal(0, 5, len(days))
        series = pd.Series(values, index=pd.date_range("2024-01-01", periods=len(days), freq="D"))
        history, holdout = series.iloc[:-28], series.iloc[-28:]

        result = forecast(history, 28)

        inside += int(((holdout >= result["lower_80"]) & (holdout <= result["upper_80"])).sum())
        total += len(holdout)
    assert 0.68 <= inside / total <= 0.95


def test_it_still_forecasts_an_hourly_series_with_gaps_through_mstl() -> None:
    series = hourly_with_daily_and_weekly_seasons(28, seed=4)
    series.iloc[100:130] = np.nan
    series = series.drop(series.index[400:410])

    result = forecast(series, 48, season_length=24)

    assert result.notna().all().all()
    assert "40 missing or NaN points" in result.attrs["notes"][0]
    assert "mstl_ets" in result.attrs["scores"]


def test_every_fold_of_a_long_hourly_series_trains_past_two_weekly_cycles() -> None:
    # 31 days of hours, a week ahead: the final fit models the weekly season, so every fold must be able to.
    fold_horizon, origins = fold_layout(744, 168, 5, 24, spaced=True)

    assert fold_horizon == 168 and len(origins) == 5
    assert min(origins) == 2 * 168 + 1 and max(origins) == 744 - 168
    assert all(len(seasons_for(24, origin)) == 2 for origin in origins)


def test_a_short_hourly_series_keeps_full_horizon_folds_before_the_weekly_season() -> None:
    # 17 days: two weekly cycles leave less than a week for folds, so the folds keep the horizon and start earlier.
    fold_horizon, origins = fold_layout(408, 168, 5, 24, spaced=True)

    assert fold_horizon == 168 and len(origins) >= 2
    assert min(origins) < 2 * 168


def test_weekly_data_with_a_yearly_season_gets_every_fold_when_the_horizon_is_shorter_than_the_season() -> None:
    # Five years of weeks, a quarter ahead: folds a quarter apart share no targets, so none is dropped as redundant.
    fold_horizon, origins = fold_layout(260, 13, 5, 52, spaced=True)

    assert fold_horizon == 13 and origins == [195, 208, 221, 234, 247]


def test_mstl_models_the_weekly_season_only_with_more_than_two_cycles_of_it() -> None:
    series = hourly_with_daily_and_weekly_seasons(14, seed=5).to_numpy()  # exactly two weeks: 336 hours

    assert seasons_for(24, len(series)) == (24,)
    assert seasons_for(24, len(series) + 1) == (24, 168)
    forecasts, failures = forecast_all([CANDIDATES_BY_NAME["mstl_theta"]], series, 24, 24, nonnegative=True)
    assert failures == {} and forecasts["mstl_theta"].shape == (24,)
