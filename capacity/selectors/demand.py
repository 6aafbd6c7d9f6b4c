"""Capacity reads of GPU demand: the fleet's daily GPU-hours and peaks, per team recently, and the stored forecasts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from django.db.models import Sum

from capacity.models import GpuDemandDay, GpuDemandForecast, GpuPeakDay


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
