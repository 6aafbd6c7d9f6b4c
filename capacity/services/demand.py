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

from capacity.models import (
    GpuDemandDay,
    GpuGroupPeakDay,
    GpuPeakDay,
    InstanceTypeInfo,
    QuotaDemandDay,
    Resource,
    UtilisationHour,
)
from capacity.selectors.inventory import FLEET_KINDS
from capacity.services.quota_demand import quota_demand_rows
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


def _usage_gpu_hours(usage: pd.DataFrame, accelerators: dict[str, InstanceTypeInfo]) -> pd.DataFrame:
    columns = ["day", *DIMENSIONS, "gpu_hours"]
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


GROUP_DIMENSIONS = {"team": "team", "gpu_family": "instance_family", "region": "region"}


def _group_peaks(
    hours: dict[datetime, dict[int, int]], daily: pd.DataFrame, machines: dict[int, Resource], now: datetime
) -> list[GpuGroupPeakDay]:
    """Each team's, GPU family's and region's daily peak: the most of its GPUs running in one hour where the day has
    hourly data (any machine reported), else its billed GPU-hours / 24 rounded up."""
    key = settings.COSTPLANE_TEAM_TAG_KEY
    per_hour: dict[tuple[str, str, datetime], int] = defaultdict(int)
    for hour, running in hours.items():
        for resource_id, gpus in running.items():
            resource = machines[resource_id]
            values = {
                "team": (resource.tags or {}).get(key) or UNALLOCATED,
                "gpu_family": _family(resource.type_info.instance_type),
                "region": resource.region,
            }
            for group, value in values.items():
                per_hour[(group, value, hour)] += gpus
    hourly: dict[tuple[str, str, date], int] = {}
    for (group, value, hour), gpus in per_hour.items():
        hourly[(group, value, hour.date())] = max(hourly.get((group, value, hour.date()), 0), gpus)
    covered = {hour.date() for hour in hours}
    billed: dict[tuple[str, str, date], Decimal] = defaultdict(Decimal)
    for record in daily.to_dict("records"):
        for group, column in GROUP_DIMENSIONS.items():
            billed[(group, record[column], record["day"])] += record["gpu_hours"]
    rows = []
    for group_key in sorted(set(hourly) | set(billed)):
        group, value, day = group_key
        if day in covered:
            peak, source = hourly.get(group_key, 0), GpuPeakDay.Source.HOURLY
        else:
            peak, source = _average_gpus(billed[group_key]), GpuPeakDay.Source.AVERAGE
        rows.append(GpuGroupPeakDay(group=group, value=value, day=day, peak_gpus=peak, source=source, computed_at=now))
    return rows


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
    accelerators = _accelerators()
    usage = usage_quantity_frame(query=ReportQuery(start=start, end=end, step="day"))
    daily = _usage_gpu_hours(usage, accelerators)
    machines = _gpu_machines()
    hours = _hourly_gpus(start, end, machines)
    peaks = _slice_peaks(hours, machines)
    for model in (GpuDemandDay, GpuPeakDay, GpuGroupPeakDay, QuotaDemandDay):
        model.objects.filter(day__gte=start, day__lt=end).delete()
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
    GpuGroupPeakDay.objects.bulk_create(_group_peaks(hours, daily, machines, now), batch_size=2000)
    QuotaDemandDay.objects.bulk_create(
        quota_demand_rows(usage=usage, hours=hours, machines=machines, accelerators=accelerators, now=now),
        batch_size=2000,
    )
    return len(rows)
