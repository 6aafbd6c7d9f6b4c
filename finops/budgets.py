"""Budget periods and the spend forecast for the rest of a period. Pure: pandas and statsmodels, no ORM.

The forecast for the days left in a period (today included: only complete days are actual spend):
- "forecast": with at least FORECAST_MIN_DAYS days of daily history, additive Holt-Winters (statsmodels
  ExponentialSmoothing, weekly season, no trend) fitted on the last FORECAST_HISTORY_DAYS days, clipped at 0;
- "run_rate" otherwise: the mean daily spend of the period's complete days (or, on its first day, of the
  last 7 days before it) times the days left.
Costplane has no other spend forecast (capacity's forecasts are of GPU demand, and finops must not import
capacity), so this is it; every result names its method.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import pandas as pd

FORECAST = "forecast"
RUN_RATE = "run_rate"
FORECAST_MIN_DAYS = 28
FORECAST_HISTORY_DAYS = 56
RUN_RATE_FALLBACK_DAYS = 7
CENT = Decimal("0.01")


def period_bounds(period: str, day: date) -> tuple[date, date]:
    """[start, end) of the month or quarter holding `day`."""
    if period == "month":
        start = day.replace(day=1)
    elif period == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    else:
        raise ValueError(f"Unknown budget period {period!r}: month or quarter.")
    months = 1 if period == "month" else 3
    month = start.month - 1 + months
    return start, date(start.year + month // 12, month % 12 + 1, 1)


@dataclass(frozen=True)
class SpendForecast:
    method: str  # FORECAST or RUN_RATE
    daily: pd.Series  # forecast spend per remaining day (Decimal, cents), indexed by date

    @property
    def total(self) -> Decimal:
        return sum(self.daily.tolist(), Decimal(0))


def _to_cents(values) -> list[Decimal]:
    return [Decimal(repr(max(float(value), 0.0))).quantize(CENT) for value in values]


def spend_forecast(daily: pd.Series, *, today: date, period_start: date, period_end: date) -> SpendForecast:
    """Forecast spend for each day in [max(today, period_start), period_end) from `daily` (Decimal by date).

    `daily` holds complete days before `today`; days missing between its first day and today count as 0.
    """
    first_remaining = max(today, period_start)
    remaining = pd.Index([first_remaining + timedelta(days=n) for n in range((period_end - first_remaining).days)])
    if remaining.empty:
        return SpendForecast(method=RUN_RATE, daily=pd.Series([], dtype=object))
    known = {day: Decimal(cost) for day, cost in daily.items() if day < today}
    if not known:
        return SpendForecast(method=RUN_RATE, daily=pd.Series([Decimal(0)] * len(remaining), index=remaining))
    history_start = max(min(known), today - timedelta(days=FORECAST_HISTORY_DAYS))
    history = [known.get(history_start + timedelta(days=n), Decimal(0)) for n in range((today - history_start).days)]
    if len(history) >= FORECAST_MIN_DAYS:
        values = _holt_winters(np.array([float(value) for value in history]), len(remaining))
        if values is not None:
            return SpendForecast(method=FORECAST, daily=pd.Series(_to_cents(values), index=remaining))
    in_period = [cost for day, cost in known.items() if period_start <= day < today]
    days_in_period = (today - period_start).days
    if in_period and days_in_period > 0:
        rate = sum(in_period, Decimal(0)) / days_in_period
    else:
        recent = history[-RUN_RATE_FALLBACK_DAYS:]
        rate = sum(recent, Decimal(0)) / len(recent)
    return SpendForecast(method=RUN_RATE, daily=pd.Series([rate.quantize(CENT)] * len(remaining), index=remaining))


def _holt_winters(history: np.ndarray, horizon: int) -> np.ndarray | None:
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    if not np.isfinite(history).all() or history.std() == 0:
        return np.full(horizon, history[-1]) if np.isfinite(history).all() else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fitted = ExponentialSmoothing(
                history, trend=None, seasonal="add", seasonal_periods=7, initialization_method="estimated"
            ).fit()
        except (ValueError, np.linalg.LinAlgError):
            return None
    values = np.asarray(fitted.forecast(horizon), dtype=float)
    return values if np.isfinite(values).all() else None
