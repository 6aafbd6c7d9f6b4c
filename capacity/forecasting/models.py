"""The fixed list of candidate models. Each one maps (history, season, horizon) to a point forecast."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.forecasting.stl import STLForecast
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.statespace.sarimax import SARIMAX

# SARIMAX's state grows with the season; above this many (points x season) a fit takes seconds.
SARIMAX_BUDGET = 2_000
SARIMAX_MAX_SEASON = 12
# Seasonal ETS estimates one initial state per season position; beyond this it uses the heuristic start.
ETS_ESTIMATED_MAX_SEASON = 12

Forecaster = Callable[[np.ndarray, int | None, int], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    name: str
    forecaster: Forecaster | None  # None: a combination of `members`
    seasonal: bool = False  # needs a season length
    simple: bool = False  # still considered for short series
    members: tuple[str, ...] = ()
    seasonal_members: tuple[str, ...] = ()
    affordable: Callable[[int, int | None], bool] | None = None  # (points, season) -> fast enough to fit?

    def applies(self, points: int, season: int | None) -> bool:
        if self.seasonal and not season:
            return False
        return self.affordable is None or self.affordable(points, season)

    def member_names(self, season: int | None) -> tuple[str, ...]:
        return self.seasonal_members if season else self.members


@contextmanager
def quiet() -> Iterator[None]:
    """statsmodels warns about convergence and frequencies on every other fit; the backtest judges the fit."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


def seasonal_naive(history: np.ndarray, season: int | None, horizon: int) -> np.ndarray:
    period = season or 1
    return np.resize(history[-period:], horizon)


def _ets(trend: str | None, damped: bool, seasonal: bool) -> Forecaster:
    def forecaster(history: np.ndarray, season: int | None, horizon: int) -> np.ndarray:
        seasonal_periods = season if seasonal else None
        estimated = not seasonal_periods or seasonal_periods <= ETS_ESTIMATED_MAX_SEASON
        model = ETSModel(
            history,
            error="add",
            trend=trend,
            damped_trend=damped,
            seasonal="add" if seasonal_periods else None,
            seasonal_periods=seasonal_periods,
            initialization_method="estimated" if estimated else "heuristic",
        )
        return model.fit(disp=False, maxiter=200).forecast(horizon)

    return forecaster


def theta(history: np.ndarray, season: int | None, horizon: int) -> np.ndarray:
    # The multiplicative decomposition (as in the M3/M4 Theta) divides by zero on series that touch zero.
    method = "auto" if history.min() > 0 else "additive"
    model = ThetaModel(history, period=season or 1, deseasonalize=bool(season), method=method)
    return np.asarray(model.fit().forecast(horizon))


def stl_ets(history: np.ndarray, season: int | None, horizon: int) -> np.ndarray:
    model = STLForecast(
        history,
        ETSModel,
        model_kwargs={"error": "add", "trend": "add", "damped_trend": True},
        period=season,
        robust=True,  # outages and bursts should not bend the seasonal profile
    )
    return np.asarray(model.fit(fit_kwargs={"disp": False, "maxiter": 200}).forecast(horizon))


def sarima_affordable(points: int, season: int | None) -> bool:
    return points * (season or 1) <= SARIMAX_BUDGET and (season or 0) <= SARIMAX_MAX_SEASON


def sarima(history: np.ndarray, season: int | None, horizon: int) -> np.ndarray:
    if season:
        model = SARIMAX(history, order=(1, 0, 1), seasonal_order=(0, 1, 1, season))
    else:
        model = SARIMAX(history, order=(1, 1, 1))
    return np.asarray(model.fit(disp=False, maxiter=50).forecast(horizon))


# Ordered from simplest to most complex: ties in the backtest go to the earlier entry.
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("seasonal_naive", seasonal_naive, simple=True),
    Candidate("ets_ann", _ets(None, False, False), simple=True),
    Candidate("ets_aan", _ets("add", False, False)),
    Candidate("ets_aadn", _ets("add", True, False)),
    Candidate("theta", theta, simple=True),
    Candidate("ets_ana", _ets(None, False, True), seasonal=True),
    Candidate("ets_aada", _ets("add", True, True), seasonal=True),
    Candidate("stl_ets", stl_ets, seasonal=True),
    Candidate("sarima", sarima, affordable=sarima_affordable),
    # The M4 competition's "Comb" idea: averaging exponential smoothing variants (here with Theta) is hard to beat.
    Candidate(
        "combination",
        None,
        members=("ets_ann", "ets_aadn", "theta"),
        seasonal_members=("ets_ana", "ets_aada", "theta", "stl_ets"),
    ),
)
CANDIDATES_BY_NAME = {candidate.name: candidate for candidate in CANDIDATES}
CANDIDATE_NAMES = tuple(candidate.name for candidate in CANDIDATES)
