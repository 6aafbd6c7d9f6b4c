"""Spend forecasts: monthly effective cost ahead, per team and in total, with 80% and 95% bands, beside AWS's own.

What is forecast. The daily effective cost of the last HISTORY_DAYS days (capacity.selectors.spend_forecast: the
total as /api/v1/costs counts it, the teams as /api/v1/allocations' team-tag items) is forecast day by day with
capacity.forecasting.forecast (season_length 7, levels 80 and 95), and the days are summed into calendar months:
the current month (the one holding the first day without data) and the HORIZON_MONTHS whole months after it. The
current month is its actual cost to date (exact, `actual_to_date`) plus the forecast of its remaining days; later
months are forecast only (`actual_to_date` null). A run stores HORIZON_MONTHS (6) whole months; asking for 3 shows
the first 3 of them. Every figure is rounded half-even to cents (PLACES): these are estimates, not bills.

The monthly bands (`monthly_forecast`). Daily quantiles do not add: a month's error is the sum of ~30 daily errors
that share the model's error of level and trend, so adding daily 95% half-widths assumes the days err together
(too wide once the noise is independent) and adding their variances assumes they never do (too narrow). Instead the
bands come from a rolling-origin backtest of monthly sums, run exactly as production runs: from origins 1 to
BACKTEST_ORIGINS months back, on the same day of the month as today's first missing day, `forecast` is fitted on the
history before the origin and its days summed into the same kind of months (the origin's month's remaining days,
then whole months), which are compared with what was actually spent. Step h (0 for the current month's remaining
days, h for the h-th whole month after it) has the relative errors (actual - forecast) / forecast of every origin
that reached it; its scale is their root mean square, made non-decreasing in h (pool adjacent violators, weighted by
the number of errors) and extended beyond the last backtested step like sqrt(h); step 0 has its own scale (fewer
days than a month: relatively noisier). A band is the mean
+- z(level) x scale x the forecast part of the month (normal quantiles, so the 95% band always holds the 80% one),
never narrower than the independent-days width z x sqrt(sum of the daily variances implied by the daily 95% band).
With fewer than MIN_BACKTEST_ORIGINS origins (a short history) the bands are the daily half-widths added up (the
conservative bound) and `fallback` says so. The lower bands never go below the actual cost to date (nor below zero
for a series without credits).

AWS's forecast. For the management account (capacity.selectors.spend_forecast.management_accounts: Cost Explorer
enabled, no payer in Costplane, the payer of others or the export lines' billing account), GetCostForecast
(NET_AMORTIZED_COST, the effective basis; MONTHLY; from today to the end of the last month; one call at 80% and
one at 95%) is stored on the total of its currency, in the same shape; AWS forecasts the current month from today
only, so our actual cost to date is added to its current-month figures to compare like with like. An AWS error
(DataUnavailableException on a young account, AccessDenied, ...) leaves `aws_forecast` null with the reason in
`scores["aws_forecast_unavailable"]`; it never fails our forecast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError
from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone
from scipy.stats import norm

from capacity.forecasting import forecast
from capacity.models import SpendForecast
from capacity.selectors.spend_forecast import TOTAL_KEY, SpendHistory, management_accounts, spend_daily_history
from finops.aws.clients import access_denied_text, aws_client, error_code
from finops.aws.cost_explorer import cost_forecast
from finops.models import CloudAccount
from finops.reports import MONEY_CONTEXT, money_sum

logger = logging.getLogger(__name__)

HISTORY_DAYS = 365
HORIZON_MONTHS = 6
HORIZONS = (3, 6)  # what the API offers: the first 3 or all 6 whole months of a run
LEVELS = (80, 95)
SEASON_LENGTH = 7
BACKTEST_ORIGINS = 6
MIN_BACKTEST_ORIGINS = 2
MIN_TRAINING_DAYS = 90
PLACES = Decimal("0.01")
AWS_METRIC = "NET_AMORTIZED_COST"
BANDS = tuple(f"{side}_{level}" for level in LEVELS for side in ("lower", "upper"))

ClientFactory = Callable[[CloudAccount], Any]


@dataclass
class MonthlyForecast:
    """Months ahead as floats: `frame` indexed by month start with mean, lower_L, upper_L, forecast_part (the
    forecast days' share of the mean) and actual_to_date (NaN for whole months); `attrs` as stored in scores."""

    frame: pd.DataFrame
    model: str
    fallback: str | None
    scores: dict[str, Any] = field(default_factory=dict)


def _month(day: pd.Timestamp) -> pd.Timestamp:
    return pd.Timestamp(day.year, day.month, 1)


def _months_sum(values: pd.Series, months: list[pd.Timestamp]) -> np.ndarray:
    """Sums of daily `values` (NaN counted as nothing) per calendar month in `months`."""
    grouped = values.groupby(values.index.to_period("M")).sum(min_count=0)
    return np.array([float(grouped.get(month.to_period("M"), 0.0)) for month in months])


def _daily_forecast(history: pd.Series, end: pd.Timestamp) -> pd.DataFrame:
    """`forecast` of the days from the one after `history` up to `end` (exclusive)."""
    horizon = (end - (history.index[-1] + pd.Timedelta(days=1))).days
    return forecast(history, horizon, season_length=SEASON_LENGTH, levels=LEVELS)


def _backtest_errors(series: pd.Series, first_missing: pd.Timestamp, horizon_months: int) -> dict[int, list[float]]:
    """Relative errors of monthly sums per step, from origins 1..BACKTEST_ORIGINS months before `first_missing`."""
    errors: dict[int, list[float]] = {}
    current = _month(first_missing)
    for back in range(1, BACKTEST_ORIGINS + 1):
        origin = first_missing - relativedelta(months=back)
        training = series[series.index < origin]
        if training.notna().sum() < MIN_TRAINING_DAYS:
            break
        last_step = min(back - 1, horizon_months)  # months after the origin's that are complete before `current`
        months = [_month(origin) + relativedelta(months=step) for step in range(last_step + 1)]
        end = months[-1] + relativedelta(months=1)
        if end > current:
            continue
        # As far ahead as production forecasts (the same horizon, so the same candidate models), scored where known.
        reach = _month(origin) + relativedelta(months=horizon_months + 1)
        predicted = _daily_forecast(training, reach)["mean"]
        actual = series[(series.index >= origin) & (series.index < end)]
        for step, (forecast_part, spent) in enumerate(
            zip(_months_sum(predicted, months), _months_sum(actual, months), strict=True)
        ):
            if forecast_part > 0:
                errors.setdefault(step, []).append((spent - forecast_part) / forecast_part)
    return errors


def _increasing(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [mean, weight, count]
    for value, weight in zip(values, weights, strict=True):
        blocks.append([float(value), float(weight), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            mean, weight_sum, count = blocks.pop()
            previous = blocks[-1]
            total = previous[1] + weight_sum
            previous[0] = (previous[0] * previous[1] + mean * weight_sum) / total
            previous[1], previous[2] = total, previous[2] + count
    return np.concatenate([np.full(int(count), mean) for mean, _weight, count in blocks])


def relative_scales(errors: dict[int, list[float]], steps: int) -> np.ndarray:
    """Per step 0..steps-1, the relative error scale (see the module docstring). Step 0 (the current month's
    remaining days, fewer than a month's) stands alone: its relative noise is larger, not smaller, than a whole
    month's; the whole months' scales are made non-decreasing."""
    scales = np.zeros(steps)
    if 0 in errors:
        scales[0] = np.sqrt(np.mean(np.square(errors[0])))
    whole = {step: found for step, found in errors.items() if step >= 1}
    if whole and steps > 1:
        scales[1:] = _whole_month_scales(whole, steps - 1)
    elif steps > 1:
        scales[1:] = scales[0] * np.sqrt(np.arange(2, steps + 1))
    if 0 not in errors:
        scales[0] = scales[1] if steps > 1 else 0.0
    return scales


def _whole_month_scales(errors: dict[int, list[float]], steps: int) -> np.ndarray:
    """Scales of whole months 1..steps from their errors (keys 1..): non-decreasing, sqrt(h) growth beyond."""
    known = sorted(step - 1 for step in errors if step - 1 < steps)
    errors = {step - 1: found for step, found in errors.items()}
    rms = np.array([np.sqrt(np.mean(np.square(errors[step]))) for step in known])
    fitted = _increasing(rms, np.array([len(errors[step]) for step in known], dtype=float))
    scales = np.interp(np.arange(steps), known, fitted)
    last = known[-1]
    beyond = np.arange(steps) > last
    scales[beyond] = fitted[-1] * np.sqrt((np.arange(steps)[beyond] + 1) / (last + 1))
    return scales


def monthly_forecast(series: pd.Series, *, horizon_months: int = HORIZON_MONTHS) -> MonthlyForecast:
    """The current month and `horizon_months` whole months after it, from a daily series (float, indexed by day,
    NaN for days without data) that ends on the last day with data. Pure."""
    series = series.astype(float)
    first_missing = series.index[-1] + pd.Timedelta(days=1)
    current = _month(first_missing)
    months = [current + relativedelta(months=step) for step in range(horizon_months + 1)]
    end = months[-1] + relativedelta(months=1)
    daily = _daily_forecast(series, end)
    actual = np.zeros(len(months))
    actual[0] = float(series[series.index >= current].sum())
    forecast_part = _months_sum(daily["mean"], months)
    mean = actual + forecast_part
    z = {level: float(norm.ppf(0.5 + level / 200)) for level in LEVELS}
    sigma_daily = (daily["upper_95"] - daily["lower_95"]) / (2 * z[95])
    independent = np.sqrt(_months_sum(sigma_daily**2, months))
    errors = _backtest_errors(series, first_missing, horizon_months)
    origins = max((len(found) for found in errors.values()), default=0)
    fallbacks = [daily.attrs["fallback"]] if daily.attrs.get("fallback") else []
    halves: dict[int, np.ndarray] = {}
    if origins >= MIN_BACKTEST_ORIGINS:
        scales = relative_scales(errors, len(months))
        for level in LEVELS:
            halves[level] = np.maximum(z[level] * scales * forecast_part, z[level] * independent)
        method = "backtest"
    else:
        scales = None
        fallbacks.append(
            f"Only {origins} backtest origin(s) (fewer than {MIN_BACKTEST_ORIGINS}): the monthly bands add up the "
            "daily bands (a conservative bound)."
        )
        for level in LEVELS:
            halves[level] = _months_sum((daily[f"upper_{level}"] - daily[f"lower_{level}"]) / 2, months)
        method = "daily_sum"
    floor = actual if bool((series.dropna() >= 0).all()) else np.full(len(months), -np.inf)
    columns: dict[str, np.ndarray] = {"mean": mean}
    for level in LEVELS:
        columns[f"lower_{level}"] = np.minimum(np.maximum(mean - halves[level], floor), mean)
        columns[f"upper_{level}"] = mean + halves[level]
    columns["forecast_part"] = forecast_part
    columns["actual_to_date"] = np.where(np.arange(len(months)) == 0, actual, np.nan)
    frame = pd.DataFrame(columns, index=pd.DatetimeIndex(months, name="month"))
    scores = {
        "band_method": method,
        "backtest_origins": origins,
        "relative_scale": None if scales is None else [round(float(value), 6) for value in scales],
        "backtest_errors": {str(step): [round(value, 6) for value in found] for step, found in errors.items()},
        "daily_model_mase": {
            name: round(float(score["mase"]), 6)
            for name, score in (daily.attrs.get("scores") or {}).items()
            if np.isfinite(score.get("mase", np.nan))
        },
    }
    return MonthlyForecast(frame=frame, model=daily.attrs["model"], fallback=" ".join(fallbacks) or None, scores=scores)


def _money(value: float | Decimal) -> str:
    amount = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return format(amount.quantize(PLACES, rounding=ROUND_HALF_EVEN, context=MONEY_CONTEXT), "f")


def _points(result: MonthlyForecast, actual_to_date: Decimal) -> list[dict[str, str | None]]:
    points = []
    for month, row in result.frame.iterrows():
        first = month == result.frame.index[0]
        exact_mean = MONEY_CONTEXT.add(actual_to_date, Decimal(repr(float(row["forecast_part"])))) if first else None
        points.append(
            {
                "month": month.date().isoformat(),
                "mean": _money(exact_mean if first else row["mean"]),
                **{band: _money(row[band]) for band in BANDS},
                "actual_to_date": _money(actual_to_date) if first else None,
            }
        )
    return points


def _series(days: dict[date, Decimal], grid: pd.DatetimeIndex, observed: pd.Series) -> pd.Series:
    """A key's daily cost on the total's grid: 0 on a day the total has data and the key none, NaN on a gap."""
    values = pd.Series({pd.Timestamp(day): float(cost) for day, cost in days.items()}, dtype=float)
    return values.reindex(grid).fillna(0.0).where(observed)


def _forecasts_of(history: SpendHistory) -> list[tuple[str, MonthlyForecast, Decimal]]:
    if not history.total:
        return []
    first, last = min(history.total), max(history.total)
    grid = pd.date_range(first, last, freq="D", name="day")
    observed = pd.Series(grid.isin([pd.Timestamp(day) for day in history.total]), index=grid)
    current = (last + timedelta(days=1)).replace(day=1)
    keyed = [(TOTAL_KEY, history.total), *sorted(history.teams.items())]
    results = []
    for key, days in keyed:
        series = _series(days, grid, observed)
        to_date = money_sum(cost for day, cost in days.items() if day >= current)
        results.append((key, monthly_forecast(series), to_date))
    return results


def aws_spend_forecast_fetch(
    *, start: date, end: date, client_factory: ClientFactory | None = None
) -> tuple[dict | None, str | None]:
    """GetCostForecast of the management account for [start, end) at each level: ({"account", "answers": {level:
    response}}, None), or (None, why not)."""
    accounts = management_accounts(since=start - timedelta(days=HISTORY_DAYS))
    if not accounts:
        return None, "No management account with Cost Explorer enabled is configured."
    if len(accounts) > 1:
        names = ", ".join(account.account_id for account in accounts)
        return None, f"Several management accounts ({names}): AWS forecasts each organisation apart."
    account = accounts[0]
    client = (client_factory or (lambda chosen: aws_client("ce", account=chosen)))(account)
    answers = {}
    try:
        for level in LEVELS:
            answers[level] = cost_forecast(client, start=start, end=end, metric=AWS_METRIC, level=level)
    except ClientError as error:
        reason = access_denied_text(error, service="ce") or (
            f"{error_code(error)}: {error.response.get('Error', {}).get('Message', '')}"
        )
        logger.warning("GetCostForecast failed for account %s: %s", account.account_id, reason)
        return None, reason
    except BotoCoreError as error:
        logger.warning("GetCostForecast failed for account %s: %s", account.account_id, error)
        return None, f"{type(error).__name__}: {error}"
    return {"account": account.account_id, "start": start, "end": end, "answers": answers}, None


def aws_spend_forecast_shape(fetched: dict, *, actual_to_date: Decimal) -> dict:
    """AWS's answers in our points' shape (cents); the current month gets our actual cost to date added."""
    current = fetched["start"].replace(day=1)
    by_month: dict[str, dict[str, str]] = {}
    for level, answer in fetched["answers"].items():
        for entry in answer.get("ForecastResultsByTime", []):
            month = date.fromisoformat(entry["TimePeriod"]["Start"]).replace(day=1)
            added = actual_to_date if month == current else Decimal(0)
            point = by_month.setdefault(month.isoformat(), {"month": month.isoformat()})
            point["mean"] = _money(MONEY_CONTEXT.add(Decimal(entry["MeanValue"]), added))
            for side, name in (("lower", "PredictionIntervalLowerBound"), ("upper", "PredictionIntervalUpperBound")):
                if entry.get(name) is not None:
                    point[f"{side}_{level}"] = _money(MONEY_CONTEXT.add(Decimal(entry[name]), added))
    return {
        "account": fetched["account"],
        "metric": AWS_METRIC,
        "start": fetched["start"].isoformat(),
        "end": fetched["end"].isoformat(),
        "currency": fetched["answers"][LEVELS[0]].get("Total", {}).get("Unit") or None,
        "current_month_note": "AWS forecasts the current month from `start`; our actual cost to date is added.",
        "forecast": [by_month[month] for month in sorted(by_month)],
    }


def spend_forecasts_refresh(
    *, today: date | None = None, client_factory: ClientFactory | None = None
) -> list[SpendForecast]:
    """Forecast every team and the total from the last HISTORY_DAYS days before `today`, ask AWS for its forecast
    of the same months, and store one run (rows sharing `generated_at`); returns the stored rows."""
    today = today or timezone.now().date()
    history_start = today - timedelta(days=HISTORY_DAYS)
    generated_at = timezone.now()
    computed = [(history, _forecasts_of(history)) for history in spend_daily_history(start=history_start, end=today)]
    computed = [(history, forecasts) for history, forecasts in computed if forecasts]
    fetched, aws_reason = None, None
    if computed:
        end = computed[0][1][0][1].frame.index[-1].date() + relativedelta(months=1)
        fetched, aws_reason = aws_spend_forecast_fetch(start=today, end=end, client_factory=client_factory)
    rows: list[SpendForecast] = []
    for history, forecasts in computed:
        aws, reason = None, aws_reason
        if fetched is not None:
            aws = aws_spend_forecast_shape(fetched, actual_to_date=forecasts[0][2])
            if aws["currency"] not in (None, history.currency):
                aws, reason = None, f"AWS forecasts in {aws['currency']}, not {history.currency}."
        history_end = max(history.total) + timedelta(days=1)
        for key, result, to_date in forecasts:
            scores = dict(result.scores)
            if key == TOTAL_KEY and reason:
                scores["aws_forecast_unavailable"] = reason
            rows.append(
                SpendForecast(
                    key=key,
                    currency=history.currency,
                    generated_at=generated_at,
                    history_start=min(history.total),
                    history_end=history_end,
                    horizon_months=HORIZON_MONTHS,
                    model=result.model,
                    scores=scores,
                    fallback=result.fallback or "",
                    points=_points(result, to_date),
                    aws_forecast=aws if key == TOTAL_KEY else None,
                )
            )
    with transaction.atomic():
        return SpendForecast.objects.bulk_create(rows)
