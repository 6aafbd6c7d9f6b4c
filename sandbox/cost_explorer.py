"""Cost Explorer's GetCostAndUsage and GetCostForecast over the sandbox's billing lines (pure: a request in, a
response out).

What it answers: DAILY and MONTHLY granularity; the metrics below; GroupBy up to two of DIMENSION
(LINKED_ACCOUNT, SERVICE, REGION, USAGE_TYPE, RECORD_TYPE) and TAG (keys `key$value`, `key$` where
untagged); Filter with Dimensions / Tags / And / Or / Not; pagination by result-by-time entries. Totals
come from the same lines as the exports: UnblendedCost per account-day equals the FOCUS BilledCost,
NetAmortizedCost the EffectiveCost, to the last digit.

GetCostForecast (DAILY or MONTHLY) extends a least-squares line through the last FORECAST_FIT_DAYS days of the
metric's daily totals before today, with normal intervals from the line's residuals (half-width z * sd * sqrt(days)
per period, widening with the periods ahead): deterministic, and different from Costplane's own models, as AWS's is.
Fewer than FORECAST_MIN_DAYS days of history answer DataUnavailableException, as AWS does for new accounts.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from scipy.stats import norm

from sandbox import rates
from sandbox.catalogue import ACCOUNTS, TAG_KEYS, Catalogue, month_start
from sandbox.errors import AwsError

METRIC_COLUMNS = {
    "UnblendedCost": "unblended",
    "BlendedCost": "unblended",
    "NetUnblendedCost": "unblended",
    "AmortizedCost": "effective",
    "NetAmortizedCost": "effective",
    "UsageQuantity": "quantity",
}
DIMENSION_COLUMNS = {
    "LINKED_ACCOUNT": "account_id",
    "SERVICE": "service",
    "REGION": "region",
    "USAGE_TYPE": "usage_type",
    "RECORD_TYPE": "record_type",
}
RECORD_TYPES = {"Fee": "Support fee"}
NO_REGION = "NoRegion"
PAGE_ENTRIES = 90  # result-by-time entries per page: a 13-month daily query takes 5 pages
PAGE_GROUPS = 2000  # and at most about this many groups (at least one entry per page)
ESTIMATED_DAYS = 2  # the most recent days are still estimates
FORECAST_METRICS = {
    "UNBLENDED_COST": "unblended",
    "BLENDED_COST": "unblended",
    "NET_UNBLENDED_COST": "unblended",
    "AMORTIZED_COST": "effective",
    "NET_AMORTIZED_COST": "effective",
}
FORECAST_FIT_DAYS = 56
FORECAST_MIN_DAYS = 30


@dataclass(frozen=True)
class CostData:
    """The lines Cost Explorer aggregates: one row per billing line, with tag values as columns."""

    frame: pd.DataFrame
    first_day: date
    today: date


def cost_data_build(lines: pd.DataFrame, catalogue: Catalogue) -> CostData:
    tags = {resource.id: resource.tags for resource in catalogue.resources}
    frame = pd.DataFrame(
        {
            "day": lines["day"].to_numpy().astype("datetime64[D]"),
            "account_id": lines["account_id"],
            "service": lines["service"],
            "region": lines["region"].fillna(NO_REGION),
            "usage_type": lines["usage_type"],
            "record_type": lines["line_type"].map(lambda value: RECORD_TYPES.get(value, value)),
            "unblended": lines["unblended"],
            "effective": lines["effective"],
            "quantity": lines["quantity"],
        }
    )
    for key in TAG_KEYS:
        frame[f"tag:{key}"] = lines["owner_id"].map(lambda owner, key=key: tags.get(owner, {}).get(key, ""))
    return CostData(frame=frame, first_day=catalogue.start, today=catalogue.today)


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as error:
        raise AwsError("ValidationException", f"{name} {text!r} is not a date (YYYY-MM-DD)") from error


def _mask(frame: pd.DataFrame, expression: dict) -> np.ndarray:
    present = [key for key in ("And", "Or", "Not", "Dimensions", "Tags", "CostCategories") if expression.get(key)]
    if len(present) != 1:
        raise AwsError("ValidationException", "Expression must have exactly one of And, Or, Not, Dimensions, Tags")
    key = present[0]
    if key == "And":
        return np.logical_and.reduce([_mask(frame, part) for part in expression["And"]])
    if key == "Or":
        return np.logical_or.reduce([_mask(frame, part) for part in expression["Or"]])
    if key == "Not":
        return ~_mask(frame, expression["Not"])
    if key == "CostCategories":
        raise AwsError("ValidationException", "The sandbox organisation has no cost categories")
    values = expression[key]
    options = values.get("MatchOptions") or ["EQUALS"]
    if key == "Dimensions":
        if values.get("Key") not in DIMENSION_COLUMNS:
            raise AwsError("ValidationException", f"Unsupported dimension {values.get('Key')!r}")
        column = frame[DIMENSION_COLUMNS[values["Key"]]]
    else:
        if not values.get("Key"):
            raise AwsError("ValidationException", "Tags expression needs a Key")
        column = frame[f"tag:{values['Key']}"] if f"tag:{values['Key']}" in frame else pd.Series("", index=frame.index)
        if "ABSENT" in options:
            return (column == "").to_numpy()
    wanted = list(values.get("Values", []))
    if options not in (["EQUALS"], ["CASE_SENSITIVE"], ["EQUALS", "CASE_SENSITIVE"]):
        raise AwsError("ValidationException", f"Unsupported MatchOptions {options}")
    return column.isin(wanted).to_numpy()


def _group_columns(frame: pd.DataFrame, group_by: list[dict]) -> tuple[pd.DataFrame, list[str]]:
    if len(group_by) > 2:
        raise AwsError("ValidationException", "You can only group by up to two keys")
    names: list[str] = []
    for index, group in enumerate(group_by):
        kind, key = group.get("Type"), group.get("Key")
        name = f"group{index}"
        if kind == "DIMENSION" and key in DIMENSION_COLUMNS:
            frame = frame.assign(**{name: frame[DIMENSION_COLUMNS[key]]})
        elif kind == "TAG" and key:
            values = frame[f"tag:{key}"] if f"tag:{key}" in frame else pd.Series("", index=frame.index)
            frame = frame.assign(**{name: key + "$" + values})
        else:
            raise AwsError("ValidationException", f"Unsupported group by {kind} {key}")
        names.append(name)
    return frame, names


def _periods(start: date, end: date, granularity: str) -> list[tuple[date, date]]:
    if granularity == "DAILY":
        return [
            (start + timedelta(days=offset), start + timedelta(days=offset + 1)) for offset in range((end - start).days)
        ]
    periods, cursor = [], start
    while cursor < end:
        following = min(month_start(cursor, -1), end)
        periods.append((cursor, following))
        cursor = following
    return periods


def _amount(metric: str, units: int) -> dict:
    if metric == "UsageQuantity":
        return {"Amount": f"{rates.units_to_decimal(units * 10**4).normalize():f}", "Unit": "N/A"}
    return {"Amount": rates.units_to_text(units), "Unit": rates.CURRENCY}


def _token(offset: int, digest: str) -> str:
    return base64.urlsafe_b64encode(f"{offset}:{digest}".encode()).decode()


def _offset(token: str, digest: str) -> int:
    try:
        offset, token_digest = base64.urlsafe_b64decode(token.encode()).decode().split(":")
        value = int(offset)
    except (ValueError, UnicodeDecodeError) as error:
        raise AwsError("InvalidNextTokenException", "Invalid NextPageToken") from error
    if token_digest != digest:
        raise AwsError("RequestChangedException", "The request changed between pages")
    return value


_aggregates: dict[tuple[int, str], dict[int, list[tuple[tuple[str, ...], dict[str, int]]]]] = {}


def _aggregate(
    data: CostData, request: dict, start: date, end: date, periods: list[tuple[date, date]], columns: list[str]
) -> dict[int, list[tuple[tuple[str, ...], dict[str, int]]]]:
    """Sums per period index and group keys, sorted by keys (cached per request: pages reuse them)."""
    frame = data.frame
    frame = frame[(frame["day"] >= np.datetime64(start, "D")) & (frame["day"] < np.datetime64(end, "D"))]
    if request.get("Filter"):
        frame = frame[_mask(frame, request["Filter"])]
    frame, group_names = _group_columns(frame, list(request.get("GroupBy") or []))
    period_starts = np.array([np.datetime64(first, "D") for first, _ in periods])
    frame = frame.assign(period=np.searchsorted(period_starts, frame["day"].to_numpy(), side="right") - 1)
    sums = frame.groupby(["period", *group_names], sort=True)[columns].sum().reset_index()
    by_period: dict[int, list[tuple[tuple[str, ...], dict[str, int]]]] = {}
    for row in sums.itertuples(index=False):
        values = row._asdict()
        keys = tuple(str(values[name]) for name in group_names)
        by_period.setdefault(int(values["period"]), []).append((keys, {c: int(values[c]) for c in columns}))
    return by_period


def get_cost_and_usage(data: CostData, request: dict) -> dict:
    start = _day(request["TimePeriod"]["Start"], "Start")
    end = _day(request["TimePeriod"]["End"], "End")
    if start >= end:
        raise AwsError("ValidationException", "Start date (and hour) should be before end date (and hour)")
    granularity = request.get("Granularity", "DAILY")
    if granularity not in ("DAILY", "MONTHLY"):
        raise AwsError("ValidationException", f"Granularity {granularity} is not enabled for this account")
    metrics = list(request.get("Metrics") or [])
    unknown = [metric for metric in metrics if metric not in METRIC_COLUMNS]
    if not metrics or unknown:
        raise AwsError("ValidationException", f"Metrics must be among {sorted(METRIC_COLUMNS)}: {unknown}")
    group_by = list(request.get("GroupBy") or [])
    unpaged = {key: value for key, value in request.items() if key != "NextPageToken"}
    digest = hashlib.sha256(json.dumps(unpaged, sort_keys=True, default=str).encode()).hexdigest()[:16]
    offset = _offset(request["NextPageToken"], digest) if request.get("NextPageToken") else 0

    periods = _periods(start, end, granularity)
    columns = sorted({METRIC_COLUMNS[metric] for metric in metrics})
    key = (id(data), digest)
    if key not in _aggregates:
        if len(_aggregates) > 32:
            _aggregates.clear()
        _aggregates[key] = _aggregate(data, request, start, end, periods, columns)
    by_period = _aggregates[key]

    results, groups_on_page, index = [], 0, offset
    while index < len(periods) and (not results or (len(results) < PAGE_ENTRIES and groups_on_page < PAGE_GROUPS)):
        first, following = periods[index]
        entry = {
            "TimePeriod": {"Start": first.isoformat(), "End": following.isoformat()},
            "Total": {},
            "Groups": [],
            "Estimated": following > data.today - timedelta(days=ESTIMATED_DAYS),
        }
        rows = by_period.get(index, [])
        if not group_by:
            totals = rows[0][1] if rows else dict.fromkeys(columns, 0)
            entry["Total"] = {metric: _amount(metric, totals[METRIC_COLUMNS[metric]]) for metric in metrics}
        for keys, totals in rows if group_by else []:
            metric_values = {metric: _amount(metric, totals[METRIC_COLUMNS[metric]]) for metric in metrics}
            entry["Groups"].append({"Keys": list(keys), "Metrics": metric_values})
        groups_on_page += len(entry["Groups"])
        results.append(entry)
        index += 1

    response: dict = {
        "GroupDefinitions": [{"Type": group["Type"], "Key": group["Key"]} for group in group_by],
        "ResultsByTime": results,
        "DimensionValueAttributes": [],
    }
    account_position = next(
        (i for i, g in enumerate(group_by) if g == {"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}), None
    )
    if account_position is not None:
        seen = {group["Keys"][account_position] for entry in results for group in entry["Groups"]}
        response["DimensionValueAttributes"] = [
            {"Value": account.id, "Attributes": {"description": account.name}}
            for account in ACCOUNTS
            if account.id in seen
        ]
    if index < len(periods):
        response["NextPageToken"] = _token(index, digest)
    return response


def _money_text(units: float) -> str:
    return f"{rates.units_to_decimal(int(round(units))):f}"


def get_cost_forecast(data: CostData, request: dict) -> dict:
    start = _day(request["TimePeriod"]["Start"], "Start")
    end = _day(request["TimePeriod"]["End"], "End")
    if start >= end:
        raise AwsError("ValidationException", "Start date (and hour) should be before end date (and hour)")
    if start < data.today - timedelta(days=1):
        raise AwsError("ValidationException", "Start date must be equal to or no later than the current date")
    metric = request["Metric"]
    if metric not in FORECAST_METRICS:
        raise AwsError("ValidationException", f"Metric {metric} is not supported by the sandbox's forecast")
    granularity = request["Granularity"]
    if granularity not in ("DAILY", "MONTHLY"):
        raise AwsError("ValidationException", f"Granularity {granularity} is not supported for forecasts")
    level = int(request.get("PredictionIntervalLevel", 80))
    if not 51 <= level <= 99:
        raise AwsError("ValidationException", "PredictionIntervalLevel must be between 51 and 99")
    frame = data.frame
    frame = frame[frame["day"] < np.datetime64(data.today, "D")]
    if request.get("Filter"):
        frame = frame[_mask(frame, request["Filter"])]
    daily = frame.groupby("day")[FORECAST_METRICS[metric]].sum()
    days = pd.date_range(end=pd.Timestamp(data.today) - pd.Timedelta(days=1), periods=FORECAST_FIT_DAYS, freq="D")
    daily = daily.reindex(days.to_numpy().astype("datetime64[D]"), fill_value=0).astype(float)
    if frame.empty or frame["day"].min() > np.datetime64(data.today - timedelta(days=FORECAST_MIN_DAYS), "D"):
        raise AwsError("DataUnavailableException", "Insufficient amount of historical data to generate forecast.")
    position = np.arange(FORECAST_FIT_DAYS, dtype=float)
    slope, intercept = np.polyfit(position, daily.to_numpy(), 1)
    spread = float(np.std(daily.to_numpy() - (intercept + slope * position), ddof=2))
    z = float(norm.ppf(0.5 + level / 200))
    results, totals = [], [0.0, 0.0, 0.0]
    for ahead, (first, following) in enumerate(_periods(start, end, granularity)):
        offsets = np.arange((first - data.today).days, (following - data.today).days) + FORECAST_FIT_DAYS
        mean = max(float(np.sum(intercept + slope * offsets)), 0.0)
        half = z * spread * np.sqrt(len(offsets)) * np.sqrt(1 + ahead)
        figures = (mean, max(mean - half, 0.0), mean + half)
        totals = [total + figure for total, figure in zip(totals, figures, strict=True)]
        results.append(
            {
                "TimePeriod": {"Start": first.isoformat(), "End": following.isoformat()},
                "MeanValue": _money_text(figures[0]),
                "PredictionIntervalLowerBound": _money_text(figures[1]),
                "PredictionIntervalUpperBound": _money_text(figures[2]),
            }
        )
    return {"Total": {"Amount": _money_text(totals[0]), "Unit": rates.CURRENCY}, "ForecastResultsByTime": results}
