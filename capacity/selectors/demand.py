"""Capacity reads of GPU demand: the fleet's daily GPU-hours and peaks, per team recently, and the stored forecasts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
from django.db.models import Count, Q, Sum

from capacity.models import GpuDemandDay, GpuDemandForecast


def gpu_demand_exists() -> bool:
    """Whether any day of GPU demand is stored."""
    return GpuDemandDay.objects.exists()


def gpu_demand_fleet_forecast() -> GpuDemandForecast | None:
    """The newest fleet-wide forecast (every team, GPU model and region), or None before the first."""
    return GpuDemandForecast.objects.filter(gpu_model="", region="", team="").first()


def gpu_demand_team_forecasts() -> dict[str, GpuDemandForecast]:
    """{team: its newest forecast} of the per-team forecasts (every GPU model and region)."""
    forecasts = GpuDemandForecast.objects.filter(gpu_model="", region="").exclude(team="")
    return {item.team: item for item in forecasts.order_by("team", "-generated_at").distinct("team")}


def gpu_demand_daily(*, since: date) -> pd.DataFrame:
    """The fleet's demand per day from `since`: columns day, gpu_hours, peak_gpus (Decimal sums over every slice)
    and estimated (bool: some slice's peak is its daily average, for want of hourly data)."""
    daily = (
        GpuDemandDay.objects.filter(day__gte=since)
        .values("day")
        .annotate(
            gpu_hours=Sum("gpu_hours"),
            peak_gpus=Sum("peak_gpus"),
            estimated=Count("pk", filter=Q(peak_source=GpuDemandDay.PeakSource.AVERAGE)),
        )
        .order_by("day")
    )
    history = pd.DataFrame(list(daily), columns=["day", "gpu_hours", "peak_gpus", "estimated"])
    history["estimated"] = history["estimated"] > 0
    return history


def gpu_hours_by_team(*, start: date, end: date) -> dict[str, Decimal]:
    """{team tag value: GPU-hours over [start, end)}; demand without the tag is under __unallocated__."""
    return dict(
        GpuDemandDay.objects.filter(day__gte=start, day__lt=end)
        .values_list("team")
        .annotate(Sum("gpu_hours"))
        .order_by("team")
    )
