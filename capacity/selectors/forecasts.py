"""Reads of GPU demand forecasts for the API and the Capacity plan page: parameters checked, stored forecasts sliced.

The nightly run (capacity.services.forecasts) stores every series 180 days ahead at levels 80, 90 and 95. A request
inside that answers from the newest stored forecast; a longer horizon (up to 366 days) or other levels forecast the
series on the spot with the same forecaster. `scenario` layers a what-if on the paths (× growth multiplier, plus its
projects' GPUs on the series they touch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from capacity.forecasting import forecast
from capacity.models import CapacityScenario, GpuDemandForecast
from capacity.selectors.demand import demand_series, group_values
from capacity.selectors.scenarios import scenario_series_loads

GROUPS = ("fleet", "team", "gpu_family", "region")
METRICS = ("gpu_hours", "peak_gpus")
DEFAULT_LEVELS = (80, 95)
DEFAULT_HORIZON = 180
MAX_HORIZON = 366
HISTORY_DAYS = 730
SEASON = 7


class ForecastQueryError(ValueError):
    def __init__(self, errors: dict[str, list[str]]):
        super().__init__(str(errors))
        self.errors = errors


@dataclass
class ForecastQuery:
    group: str
    value: str
    metric: str
    horizon: int
    levels: tuple[int, ...]
    scenario: CapacityScenario | None = None


def forecast_query(params) -> ForecastQuery:
    """Check the parameters (a QueryDict or a dict of strings); ForecastQueryError names each bad one."""
    errors: dict[str, list[str]] = {}
    group = params.get("group") or "fleet"
    if group not in GROUPS:
        errors["group"] = [f"{group!r} is not one of {', '.join(GROUPS)}."]
    metric = params.get("metric") or "gpu_hours"
    if metric not in METRICS:
        errors["metric"] = [f"{metric!r} is not one of {', '.join(METRICS)}."]
    horizon_text = params.get("horizon") or str(DEFAULT_HORIZON)
    horizon = int(horizon_text) if horizon_text.isdigit() else 0
    if not 1 <= horizon <= MAX_HORIZON:
        errors["horizon"] = [f"{horizon_text!r} is not a number of days from 1 to {MAX_HORIZON}."]
    levels_text = params.get("levels") or ",".join(map(str, DEFAULT_LEVELS))
    parts = [part.strip() for part in levels_text.split(",")]
    if not all(part.isdigit() and 1 <= int(part) <= 99 for part in parts):
        errors["levels"] = [f"{levels_text!r}: levels are whole percentages from 1 to 99, comma-separated."]
    levels = tuple(sorted({int(part) for part in parts if part.isdigit()}))
    value = (params.get("value") or "").strip()
    if group == "fleet" and value:
        errors["value"] = ["The fleet takes no value."]
    elif group in GROUPS and group != "fleet":
        known = group_values(since=date.min).get(group, [])
        if not value:
            errors["value"] = [f"Name the {group}: one of {_listing(known)}."]
        elif value not in known:
            errors["value"] = [f"{value!r} is no {group} with GPU demand; known: {_listing(known)}."]
    scenario = None
    scenario_text = params.get("scenario") or ""
    if scenario_text:
        scenario = CapacityScenario.objects.filter(pk=int(scenario_text)).first() if scenario_text.isdigit() else None
        if scenario is None:
            errors["scenario"] = [f"There is no scenario {scenario_text!r}."]
    if errors:
        raise ForecastQueryError(errors)
    return ForecastQuery(group, value, metric, horizon, levels, scenario)


def _listing(values: list[str], limit: int = 20) -> str:
    shown = ", ".join(values[:limit]) or "none yet"
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def _stored(query: ForecastQuery) -> GpuDemandForecast | None:
    return (
        GpuDemandForecast.objects.filter(group=query.group, value=query.value, metric=query.metric)
        .order_by("-generated_at")
        .first()
    )


def _fresh(query: ForecastQuery, today: date) -> dict:
    """Forecast the series now (a horizon or levels the stored forecast does not hold)."""
    series = demand_series(group=query.group, value=query.value, metric=query.metric, end=today)
    if series.dropna().empty:
        return {"model": "", "scores": {}, "fallback": "No demand data.", "points": [], "generated_at": None}
    result = forecast(series, horizon=query.horizon, season_length=SEASON, levels=query.levels)
    return {
        "model": result.attrs["model"],
        "scores": plain_scores(result.attrs["scores"]),
        "fallback": result.attrs.get("fallback") or "",
        "points": forecast_points(result),
        "generated_at": timezone.now(),
    }


def forecast_points(result) -> list[dict[str, str]]:
    """A forecaster's frame as stored points: {"day", "mean", "lower_L", "upper_L", ...} with float reprs."""
    return [
        {"day": stamp.date().isoformat(), **{column: repr(float(value)) for column, value in row.items()}}
        for stamp, row in result.iterrows()
    ]


def plain_scores(value):
    """attrs as JSON: numbers as floats (scores, not money), nested dicts kept."""
    if isinstance(value, dict):
        return {str(key): plain_scores(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_scores(item) for item in value]
    if value is None or isinstance(value, str | bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None  # JSON has no NaN: unknown is null


def stored_levels(forecast: GpuDemandForecast) -> set[int]:
    first = forecast.points[0] if forecast.points else {}
    return {int(name.removeprefix("upper_")) for name in first if name.startswith("upper_")}


def _scores(model: str, scores: dict, levels: tuple[int, ...]) -> dict:
    chosen = scores.get(model) or {}
    naive = scores.get("seasonal_naive") or {}
    coverage = chosen.get("coverage") or {}
    return {
        "mase": chosen.get("mase"),
        "snaive_mase": naive.get("mase"),
        "smape": chosen.get("smape"),
        "snaive_smape": naive.get("smape"),
        **{f"coverage_{level}": coverage.get(str(level), coverage.get(level)) for level in levels},
    }


def _decimal_text(value: Decimal) -> str:
    return f"{value.normalize():f}" if value else "0"


def gpu_demand_forecast(*, params, today: date | None = None) -> dict:
    """The body of GET /api/v1/forecasts/gpu-demand (ARCHITECTURE.md, "Capacity planning API")."""
    query = forecast_query(params)
    today = today or timezone.now().date()
    stored = _stored(query)
    if stored is not None and query.horizon <= stored.horizon_days and set(query.levels) <= stored_levels(stored):
        source = {
            "model": stored.model,
            "scores": stored.scores,
            "fallback": stored.fallback,
            "points": stored.points[: query.horizon],
            "generated_at": stored.generated_at,
        }
    else:
        source = _fresh(query, today)
    multiplier = query.scenario.growth_multiplier if query.scenario else Decimal(1)
    loads = (
        scenario_series_loads(query.scenario, group=query.group, value=query.value, metric=query.metric)
        if query.scenario
        else []
    )
    columns = [f"{side}_{level}" for level in query.levels for side in ("lower", "upper")]
    rows = []
    for point in source["points"]:
        day = date.fromisoformat(point["day"])
        extra = sum((load.amount for load in loads if load.covers(day)), Decimal(0))
        rows.append(
            {
                "day": point["day"],
                **{column: _decimal_text(Decimal(point[column]) * multiplier + extra) for column in ("mean", *columns)},
            }
        )
    history = demand_series(group=query.group, value=query.value, metric=query.metric, end=today)
    history = history[history.index >= str(today - timedelta(days=HISTORY_DAYS))]
    return {
        "group": query.group,
        "value": query.value,
        "metric": query.metric,
        "model": source["model"],
        "generated_at": source["generated_at"],
        "levels": list(query.levels),
        "scenario": None if query.scenario is None else query.scenario.pk,
        "scores": _scores(source["model"], source["scores"], query.levels),
        "fallback": source["fallback"],
        "history": [
            {"day": stamp.date().isoformat(), "value": None if value != value else repr(float(value))}
            for stamp, value in history.items()
        ],
        "forecast": rows,
    }
