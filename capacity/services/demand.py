"""GPU demand: daily GPU-hours and peak concurrent GPUs per slice, the fleet's daily peak, and their forecasts.

GPU-hours come from billed usage (an instance-hour usage type's quantity x the GPUs of its instance
type, SageMaker's `ml.` types read as their EC2 twins); peaks from the hours in which inventoried GPU
machines reported a CPU or GPU datapoint (running). Both are stored per day and (team, GPU model, instance
family, region) for the per-group forecasts. The fleet's peak is its own series (GpuPeakDay): the maximum over
the day's hours of the GPUs running in that hour, never a sum of the slices' peaks (which need not fall in the
same hour), and never mixed with the daily-average estimate of days without hourly data.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from capacity.forecasting import forecast
from capacity.models import GpuDemandDay, GpuDemandForecast, GpuPeakDay, InstanceTypeInfo, Resource, UtilisationHour
from capacity.selectors.inventory import FLEET_KINDS
from finops.allocation.rules import tag_columns
from finops.reports import UNALLOCATED, ReportQuery
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import usage_quantity_frame

# `REGION-Kind:instance.type` usage types: BoxUsage, SpotUsage, DedicatedUsage (EC2), Host, Train,
# Notebk, Processing (SageMaker), ... The instance type is what follows the last colon.
_INSTANCE_TYPE = re.compile(r":(?:ml\.)?(?P<type>[a-z][a-z0-9-]*\.[0-9a-z-]*large|[a-z][a-z0-9-]*\.metal[0-9a-z-]*)$")
_HOUR_UNITS = re.compile(r"^(|hrs?|hours?)$", re.IGNORECASE)
DIMENSIONS = ("team", "gpu_model", "instance_family", "region")
# Machines that hold GPUs on their own: instances, endpoints, notebooks (a group's instances are inventoried too).
INVENTORY_KINDS = FLEET_KINDS
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


def _gpu_machines() -> dict[int, Resource]:
    """{pk: resource} of every inventoried machine with GPUs (or Neuron devices), gone ones too."""
    return {
        resource.pk: resource
        for resource in Resource.objects.filter(type_info__gpu_count__gt=0).select_related("type_info")
    }


def _gpus(resource: Resource) -> int:
    return resource.type_info.gpu_count * max(resource.instance_count, 1)


def _hourly_gpus(start: date, end: date, machines: dict[int, Resource]) -> dict[datetime, dict[int, int]]:
    """{hour: {resource pk: GPUs}} of the machines that reported a CPU or GPU datapoint in the hour: running."""
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
    hours: dict[datetime, dict[int, int]] = defaultdict(dict)
    for resource_id, hour in running:
        hours[hour][resource_id] = _gpus(machines[resource_id])
    return hours


def _slice_peaks(hours: dict[datetime, dict[int, int]], machines: dict[int, Resource]) -> dict[tuple, int]:
    """{(day, team, gpu_model, family, region): most GPUs of the slice running in one hour of the day}."""
    key = settings.COSTPLANE_TEAM_TAG_KEY
    per_hour: dict[tuple, int] = defaultdict(int)
    for hour, running in hours.items():
        for resource_id, gpus in running.items():
            resource = machines[resource_id]
            info = resource.type_info
            slice_key = (
                (resource.tags or {}).get(key) or UNALLOCATED,
                info.gpu_model or info.instance_type,
                _family(info.instance_type),
                resource.region,
            )
            per_hour[(hour, *slice_key)] += gpus
    peaks: dict[tuple, int] = {}
    for (hour, *slice_key), gpus in per_hour.items():
        day_key = (hour.date(), *slice_key)
        peaks[day_key] = max(peaks.get(day_key, 0), gpus)
    return peaks


def _inventory_gpus(day: date, machines: dict[int, Resource]) -> int:
    """GPUs the inventory held on `day`: machines that had not gone before the day began (training jobs: those
    running that day). Launch times are no lower bound: EC2's LaunchTime is the last start, not the first."""
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    day_end = day_start + timedelta(days=1)
    total = 0
    for resource in machines.values():
        if resource.kind == Resource.Kind.SAGEMAKER_TRAINING_JOB:
            started, ended = _training_span(resource)
            if started is not None and started < day_end and (ended is None or ended > day_start):
                total += _gpus(resource)
        elif resource.kind in INVENTORY_KINDS and (resource.gone_at is None or resource.gone_at > day_start):
            total += _gpus(resource)
    return total


def _training_span(resource: Resource) -> tuple[datetime | None, datetime | None]:
    details = resource.details or {}
    started = _instant(details.get("training_start")) or resource.launched_at
    ended = _instant(details.get("training_end"))
    if ended is None and started is not None and resource.billable_seconds:
        ended = started + timedelta(seconds=resource.billable_seconds)
    return started, ended


def _instant(value) -> datetime | None:
    if not value:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _average_gpus(gpu_hours: Decimal) -> int:
    """Average concurrency in whole GPUs, rounded up: a day averaging 2.3 GPUs had 3 running at some moment."""
    return math.ceil(gpu_hours / 24) if gpu_hours > 0 else 0


def _fleet_peaks(
    start: date,
    end: date,
    *,
    hours: dict[datetime, dict[int, int]],
    daily: pd.DataFrame,
    machines: dict[int, Resource],
    now: datetime,
) -> list[GpuPeakDay]:
    """One GpuPeakDay per day of [start, end) with hourly data or billed GPU usage."""
    fleet_hours: dict[date, dict[datetime, int]] = defaultdict(dict)
    for hour, running in hours.items():
        fleet_hours[hour.date()][hour] = sum(running.values())
    billed: dict[date, Decimal] = defaultdict(Decimal)
    for day, gpu_hours in zip(daily["day"], daily["gpu_hours"], strict=True):
        billed[day] += gpu_hours
    rows = []
    for day in sorted(set(fleet_hours) | set(billed)):
        inventory = _inventory_gpus(day, machines)
        if day in fleet_hours:
            by_hour = fleet_hours[day]
            peak_hour = min(hour for hour, gpus in by_hour.items() if gpus == max(by_hour.values()))
            row = GpuPeakDay(
                day=day,
                peak_gpus=by_hour[peak_hour],
                source=GpuPeakDay.Source.HOURLY,
                peak_hour=peak_hour,
                hours_with_data=len(by_hour),
            )
        else:
            row = GpuPeakDay(day=day, peak_gpus=_average_gpus(billed[day]), source=GpuPeakDay.Source.AVERAGE)
        # Every machine counted in an hour is inventoried and had not gone, so an hourly peak is within the
        # inventory by construction; billed usage may come from machines inventory never saw, so its estimate is
        # capped at what the inventory held.
        row.peak_gpus = min(row.peak_gpus, inventory)
        row.inventory_gpus, row.computed_at = inventory, now
        rows.append(row)
    return rows


@transaction.atomic
def gpu_demand_compute(*, start: date, end: date, now: datetime | None = None) -> int:
    """Recompute the demand rows of [start, end): replaces those days, the slices' rows and the fleet's daily peaks.
    Returns the slice rows written."""
    now = now or timezone.now()
    daily = _usage_gpu_hours(start, end, _accelerators())
    machines = _gpu_machines()
    hours = _hourly_gpus(start, end, machines)
    peaks = _slice_peaks(hours, machines)
    GpuDemandDay.objects.filter(day__gte=start, day__lt=end).delete()
    GpuPeakDay.objects.filter(day__gte=start, day__lt=end).delete()
    rows = []
    for record in daily.to_dict("records"):
        slice_key = (record["day"], *(record[name] for name in DIMENSIONS))
        peak = peaks.get(slice_key)
        rows.append(
            GpuDemandDay(
                **{name: record[name] for name in ("day", *DIMENSIONS, "gpu_hours")},
                peak_gpus=peak if peak is not None else _average_gpus(record["gpu_hours"]),
                peak_source=GpuDemandDay.PeakSource.HOURLY if peak is not None else GpuDemandDay.PeakSource.AVERAGE,
                computed_at=now,
            )
        )
    GpuDemandDay.objects.bulk_create(rows, batch_size=2000)
    GpuPeakDay.objects.bulk_create(
        _fleet_peaks(start, end, hours=hours, daily=daily, machines=machines, now=now), batch_size=2000
    )
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
