"""Demand forecasting: pure pandas / statsmodels, no ORM.

`forecast(series, horizon)` returns point forecasts and prediction intervals for the steps after the series;
`backtest(series, horizon, folds)` scores every candidate model on the series' own history. Selectors feed
these a Series; services persist the frames they return.
"""

from __future__ import annotations

from capacity.forecasting.models import CANDIDATE_NAMES
from capacity.forecasting.preparation import infer_season_length
from capacity.forecasting.selection import backtest, forecast

__all__ = ["CANDIDATE_NAMES", "backtest", "forecast", "infer_season_length"]
