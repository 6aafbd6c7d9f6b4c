"""Capacity reads of GPU demand: the fleet's daily GPU-hours and peaks, per team recently, and the stored forecasts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from django.db.models import Sum

from capacity.models import GpuDemandDay, GpuDemandForecast, GpuGroupPeakDay, GpuPeakDay, QuotaDemandDay


def gpu_demand_exists() -> bool:
    """Whether any day of GPU demand is stored."""
    return GpuDemandDay.objects.exists()


def gpu_demand_fleet_forecast() -> GpuDemandForecast | None:
    """The newest fleet-wide forecast (every team, GPU model and region), or None before the first."""
    return GpuDemandForecast.objects.filter(group="fleet", metric="gpu_hours").first()


def gpu_demand_team_forecasts() -> dict[str, GpuDemandForecast]:
    """{team: its newest forecast} of the per-team forecasts (every GPU model and region)."""
    forecasts = GpuDemandForecast.objects.filter(group="team", metric="gpu_hours")
    return {item.value: item for item in forecasts.order_by("value", "-generated_at").distinct("value")}


def gpu_demand_daily(*, since: date) -> pd.DataFrame:
    """The fleet's billed GPU-hours per day from `since`: columns day, gpu_hours (Decimal, summed over slices)."""
    daily = (
        GpuDemandDay.objects.filter(day__gte=since).values("day").annotate(gpu_hours=Sum("gpu_hours")).order_by("day")
    )
    return pd.DataFrame(list(daily), columns=["day", "gpu_hours"])


PEAK_COLUMNS = ["day", "peak_gpus", "source", "peak_hour", "hours_with_data", "inventory_gpus"]


def gpu_fleet_peaks(*, since: date) -> pd.DataFrame:
    """The fleet's peak concurrent GPUs per day from `since` (GpuPeakDay): columns PEAK_COLUMNS, whole GPUs.

    `source` "hourly": the peak of the summed hourly series (`hours_with_data` of 24 covered); "average": an
    estimate from billed GPU-hours on a day without hourly data. Never add the two kinds up or draw them as one.
    """
    rows = GpuPeakDay.objects.filter(day__gte=since).order_by("day").values_list(*PEAK_COLUMNS)
    return pd.DataFrame(list(rows), columns=PEAK_COLUMNS)


def gpu_hours_by_team(*, start: date, end: date) -> dict[str, Decimal]:
    """{team tag value: GPU-hours over [start, end)}; demand without the tag is under __unallocated__."""
    return dict(
        GpuDemandDay.objects.filter(day__gte=start, day__lt=end)
        .values_list("team")
        .annotate(Sum("gpu_hours"))
        .order_by("team")
    )


GROUP_COLUMNS = {"team": "team", "gpu_family": "instance_family", "region": "region"}
Group = GpuDemandForecast.Group
Metric = GpuDemandForecast.Metric


def _daily(rows: dict[date, Decimal | int]) -> pd.Series:
    if not rows:
        return pd.Series(dtype=float)
    series = pd.Series({pd.Timestamp(day): float(value) for day, value in sorted(rows.items())})
    return series.asfreq("D")


def demand_series(*, group: str, value: str = "", metric: str, end: date) -> pd.Series:
    """A GPU demand series before `end` as floats for the forecaster; missing days are gaps (NaN)."""
    if metric == Metric.GPU_HOURS:
        rows = GpuDemandDay.objects.filter(day__lt=end)
        if group != Group.FLEET:
            rows = rows.filter(**{GROUP_COLUMNS[group]: value})
        return _daily(dict(rows.values_list("day").annotate(Sum("gpu_hours")).order_by("day")))
    if group == Group.FLEET:
        return _daily(dict(GpuPeakDay.objects.filter(day__lt=end).values_list("day", "peak_gpus")))
    peaks = GpuGroupPeakDay.objects.filter(group=group, value=value, day__lt=end)
    return _daily(dict(peaks.values_list("day", "peak_gpus")))


def group_values(*, since: date) -> dict[str, list[str]]:
    """{group: its values with demand since `since`}, fleet included (value "")."""
    recent = GpuDemandDay.objects.filter(day__gte=since, gpu_hours__gt=0)
    values: dict[str, list[str]] = {Group.FLEET: [""]} if recent.exists() else {}
    for group, column in GROUP_COLUMNS.items():
        found = sorted(set(recent.values_list(column, flat=True)))
        if found:
            values[group] = found
    return values


def quota_demand_series(*, account_id: int, region: str, service_code: str, quota_code: str, end: date) -> pd.Series:
    """Daily demand against one quota before `end`, as floats for the forecaster; days without a row are zero
    between the first and the last stored day (no usage was billed or seen)."""
    rows = QuotaDemandDay.objects.filter(
        account_id=account_id, region=region, service_code=service_code, quota_code=quota_code, day__lt=end
    ).values_list("day", "demand")
    if not rows:
        return pd.Series(dtype=float)
    series = pd.Series({pd.Timestamp(day): float(demand) for day, demand in rows}).sort_index()
    return series.asfreq("D", fill_value=0.0)
