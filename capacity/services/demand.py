"""GPU demand: daily GPU-hours and peak concurrent GPUs per slice, and their forecasts.

GPU-hours come from billed usage (an instance-hour usage type's quantity x the GPUs of its instance
type, SageMaker's `ml.` types read as their EC2 twins); peaks from the hours in which inventoried GPU
machines reported any metric. Both are stored per day and (team, GPU model, instance family, region).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.forecasting import forecast
from capacity.models import GpuDemandDay, GpuDemandForecast, InstanceTypeInfo, Resource, UtilisationHour
from finops.allocation.rules import tag_columns
from finops.reports import UNALLOCATED, ReportQuery
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import usage_quantity_frame

# `REGION-Kind:instance.type` usage types: BoxUsage, SpotUsage, DedicatedUsage (EC2), Host, Train,
# Notebk, Processing (SageMaker), ... The instance type is what follows the last colon.
_INSTANCE_TYPE = re.compile(r":(?:ml\.)?(?P<type>[a-z][a-z0-9-]*\.[0-9a-z-]*large|[a-z][a-z0-9-]*\.metal[0-9a-z-]*)$")
_HOUR_UNITS = re.compile(r"^(|hrs?|hours?)$", re.IGNORECASE)
DIMENSIONS = ("team", "gpu_model", "instance_family", "region")
LEVELS = (80, 95)


def _accelerators() -> dict[str, InstanceTypeInfo]:
    return {info.instance_type: info for info in InstanceTypeInfo.objects.filter(gpu_count__gt=0)}


def _family(instance_type: str) -> str:
    return instance_type.split(".", 1)[0]


def _usage_gpu_hours(start: date, end: date, accelerators: dict[str, InstanceTypeInfo]) -> pd.DataFrame:
    columns = ["day", *DIMENSIONS, "gpu_hours"]
    usage = usage_quantity_frame(query=ReportQuery(start=start, end=end, step="day"))
    if usage.empty:
        return pd.DataFrame(columns=columns)
    types = usage["usage_type"].fillna("").str.extract(_INSTANCE_TYPE)["type"]
    usage = usage.assign(instance_type=types)
    usage = usage[usage["instance_type"].isin(accelerators) & usage["pricing_unit"].fillna("").str.match(_HOUR_UNITS)]
    if usage.empty:
        return pd.DataFrame(columns=columns)
    _, rules = allocation_rules_current()
    key = settings.COSTPLANE_TEAM_TAG_KEY
    usage = usage.assign(
        team=tag_columns(usage.assign(resource="", charge_category="usage"), [key], rules)[f"tag:{key}"],
        gpu_model=usage["instance_type"].map(lambda name: accelerators[name].gpu_model or name),
        instance_family=usage["instance_type"].map(_family),
        gpu_hours=[
            quantity * accelerators[name].gpu_count
            for quantity, name in zip(usage["quantity"], usage["instance_type"], strict=True)
        ],
        day=usage["period"],
    )
    return usage.groupby(["day", *DIMENSIONS], sort=True).agg(gpu_hours=("gpu_hours", "sum")).reset_index()[columns]


def _hourly_peaks(start: date, end: date) -> dict[tuple, Decimal]:
    """{(day, team, gpu_model, family, region): most GPUs running in one hour}, from hours with data."""
    key = settings.COSTPLANE_TEAM_TAG_KEY
    machines = {
        resource.pk: resource
        for resource in Resource.objects.filter(type_info__gpu_count__gt=0).select_related("type_info")
    }
    running = (
        UtilisationHour.objects.filter(
            resource_id__in=list(machines),
            hour__date__gte=start,
            hour__date__lt=end,
            metric__in=[UtilisationHour.Metric.CPU, UtilisationHour.Metric.GPU],
            average__isnull=False,
        )
        .values_list("resource_id", "hour")
        .distinct()
    )
    per_hour: dict[tuple, Decimal] = defaultdict(Decimal)
    for resource_id, hour in running:
        resource = machines[resource_id]
        info = resource.type_info
        slice_key = (
            (resource.tags or {}).get(key) or UNALLOCATED,
            info.gpu_model or info.instance_type,
            _family(info.instance_type),
            resource.region,
        )
        per_hour[(hour, *slice_key)] += Decimal(info.gpu_count * max(resource.instance_count, 1))
    peaks: dict[tuple, Decimal] = {}
    for (hour, *slice_key), gpus in per_hour.items():
        day_key = (hour.date(), *slice_key)
        peaks[day_key] = max(peaks.get(day_key, Decimal(0)), gpus)
    return peaks


@transaction.atomic
def gpu_demand_compute(*, start: date, end: date, now: datetime | None = None) -> int:
    """Recompute the demand rows of [start, end): replaces those days. Returns the rows written."""
    now = now or timezone.now()
    daily = _usage_gpu_hours(start, end, _accelerators())
    peaks = _hourly_peaks(start, end)
    GpuDemandDay.objects.filter(day__gte=start, day__lt=end).delete()
    rows = []
    for record in daily.to_dict("records"):
        slice_key = (record["day"], *(record[name] for name in DIMENSIONS))
        peak = peaks.get(slice_key)
        rows.append(
            GpuDemandDay(
                **{name: record[name] for name in ("day", *DIMENSIONS, "gpu_hours")},
                peak_gpus=peak if peak is not None else (record["gpu_hours"] / 24).quantize(Decimal("1e-8")),
                peak_source=GpuDemandDay.PeakSource.HOURLY if peak is not None else GpuDemandDay.PeakSource.AVERAGE,
                computed_at=now,
            )
        )
    GpuDemandDay.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def demand_series(*, team: str = "", gpu_model: str = "", region: str = "", end: date | None = None) -> pd.Series:
    """Daily GPU-hours of a slice (blank = all) as a float series for the forecaster, with missing days as gaps."""
    rows = GpuDemandDay.objects.all()
    for name, value in (("team", team), ("gpu_model", gpu_model), ("region", region)):
        if value:
            rows = rows.filter(**{name: value})
    if end:
        rows = rows.filter(day__lt=end)
    totals: dict[date, Decimal] = defaultdict(Decimal)
    for day, hours in rows.values_list("day", "gpu_hours"):
        totals[day] += hours
    if not totals:
        return pd.Series(dtype=float)
    series = pd.Series({pd.Timestamp(day): float(hours) for day, hours in sorted(totals.items())})
    return series.asfreq("D")


@transaction.atomic
def gpu_demand_forecast_refresh(*, horizon_days: int = 180, today: date | None = None) -> list[GpuDemandForecast]:
    """Forecast the whole fleet's and each team's daily GPU-hours `horizon_days` ahead (3-6 months)."""
    today = today or timezone.now().date()
    teams = sorted(set(GpuDemandDay.objects.values_list("team", flat=True)))
    made = []
    for team in ["", *teams]:
        series = demand_series(team=team, end=today)
        if series.dropna().empty:
            continue
        result = forecast(series, horizon=horizon_days, season_length=7, levels=LEVELS)
        points = [
            {"day": stamp.date().isoformat(), **{column: repr(float(value)) for column, value in row.items()}}
            for stamp, row in result.iterrows()
        ]
        made.append(
            GpuDemandForecast.objects.create(
                team=team,
                generated_at=timezone.now(),
                history_start=series.index[0].date(),
                history_end=series.index[-1].date() + timedelta(days=1),
                horizon_days=horizon_days,
                model=str(result.attrs.get("model", "")),
                scores=_plain(result.attrs.get("scores", {})),
                fallback=str(result.attrs.get("fallback") or ""),
                points=points,
            )
        )
    return made


def _plain(value):
    """attrs as JSON: numbers as floats (scores, not money), nested dicts kept."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | bool):
        return value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None  # JSON has no NaN: unknown is null
