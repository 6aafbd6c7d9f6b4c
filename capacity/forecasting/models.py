"""The fixed list of candidate models. Each one maps (history, season, horizon) to a point forecast.

The last candidate, "combination", has no forecaster of its own: it is the median of the models that rank best
in the rolling-origin backtest (evaluation.py picks them).
"""

from __future__ import annotations

import hashlib
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from statsmodels.tsa.exponential_smoothing.ets import ETSModel
from statsmodels.tsa.forecasting.stl import STLForecast
from statsmodels.tsa.forecasting.theta import ThetaModel
from statsmodels.tsa.seasonal import MSTL
from statsmodels.tsa.statespace.sarimax import SARIMAX

# SARIMAX's state grows with the season; above this many (points x season) a fit takes seconds.
SARIMAX_BUDGET = 2_000
SARIMAX_MAX_SEASON = 12
# Seasonal ETS estimates one initial state per season position; beyond this it uses the heuristic start.
ETS_ESTIMATED_MAX_SEASON = 12
# A second, longer season that is a whole number of the first: the week of hourly (or half-hourly) data, the year of
# 52 weeks of daily data. MSTL models it beside the first when the history holds two of them.
LONGER_SEASONS = {24: 168, 48: 336, 7: 364}
# How many of the best-ranked models the median combination takes (an odd count: the median is one of the members).
COMBINATION_SIZE = 3
# The backtest fits each decomposition once per history; the final fit and every MSTL candidate share it.
DECOMPOSITION_CACHE_SIZE = 32

Forecaster = Callable[[np.ndarray, int | None, int], np.ndarray]


@dataclass(frozen=True)
class Candidate:
    name: str
    forecaster: Forecaster | None  # None: the median of the best `combination_size` models of the backtest
    seasonal: bool = False  # needs a season length
    simple: bool = False  # still considered for short series
    affordable: Callable[[int, int | None], bool] | None = None  # (points, season) -> fast enough / meaningful?
    combination_size: int = 0

    def applies(self, points: int, season: int | None) -> bool:
        if self.seasonal and not season:
            return False
        return self.affordable is None or self.affordable(points, season)

    @property
    def is_combination(self) -> bool:
        return self.forecaster is None


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


def seasons_for(season: int, points: int) -> tuple[int, ...]:
    """The season, and the longer one beside it when the history holds more than two cycles of it (MSTL drops a
    period of half the series or more)."""
    longer = LONGER_SEASONS.get(season)
    return (season, longer) if longer and points > 2 * longer else (season,)


_decompositions: OrderedDict[tuple[bytes, tuple[int, ...]], tuple[np.ndarray, np.ndarray]] = OrderedDict()


def decomposition(history: np.ndarray, season: int) -> tuple[np.ndarray, np.ndarray]:
    """(seasonally adjusted history, seasonal profile continued over one longest cycle) by MSTL.

    The seasonal components continue as they last were (each one's final cycle repeated); whatever models the
    adjusted series only sees trend and noise.
    """
    periods = seasons_for(season, len(history))
    key = (hashlib.blake2b(np.ascontiguousarray(history).tobytes(), digest_size=16).digest(), periods)
    if key in _decompositions:
        _decompositions.move_to_end(key)
        return _decompositions[key]
    result = MSTL(history, periods=periods).fit()
    seasonal = np.asarray(result.seasonal).reshape(len(history), -1)
    longest = periods[-1]
    cycle = np.zeros(longest)
    for column, period in enumerate(periods):
        cycle += np.resize(seasonal[-period:, column], longest)
    adjusted = history - seasonal.sum(axis=1)
    _decompositions[key] = (adjusted, cycle)
    if len(_decompositions) > DECOMPOSITION_CACHE_SIZE:
        _decompositions.popitem(last=False)
    return adjusted, cycle


def mstl_theta(history: np.ndarray, season: int | None, horizon: int) -> np.ndarray:
    """Theta on the series with its daily (and weekly) seasons taken out by MSTL, the seasons added back."""
    adjusted, cycle = decomposition(history, season)
    model = ThetaModel(adjusted, period=1, deseasonalize=False)
    return np.asarray(model.fit().forecast(horizon)) + np.resize(cycle, horizon)


def mstl_ets(history: np.ndarray, season: int | None, horizon: int) -> np.ndarray:
    """Damped-trend exponential smoothing on the MSTL-adjusted series, the seasons added back."""
    adjusted, cycle = decomposition(history, season)
    model = ETSModel(adjusted, error="add", trend="add", damped_trend=True)
    return np.asarray(model.fit(disp=False, maxiter=200).forecast(horizon)) + np.resize(cycle, horizon)


def has_longer_season(points: int, season: int | None) -> bool:
    return bool(season) and len(seasons_for(season, points)) > 1


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
    Candidate("mstl_theta", mstl_theta, seasonal=True),
    # With one season MSTL is STL, and damped ETS on it is stl_ets: only worth a fit when a longer season is modelled.
    Candidate("mstl_ets", mstl_ets, seasonal=True, affordable=has_longer_season),
    # The M4 competition's lesson: combining a few good models is hard to beat; the median shrugs off one bad member.
    Candidate("combination", None, combination_size=COMBINATION_SIZE),
)
CANDIDATES_BY_NAME = {candidate.name: candidate for candidate in CANDIDATES}
CANDIDATE_NAMES = tuple(candidate.name for candidate in CANDIDATES)
