"""Demand forecasts 3-6 months ahead: every GPU demand series and every quota's demand, stored for reads.

Series (GpuDemandForecast.group / value / metric):
- fleet, team, gpu_family (instance family: p4d, p5, g5, inf2, ...), region × gpu_hours (daily billed GPU-hours,
  GpuDemandDay) and peak_gpus (daily peak concurrent GPUs: GpuPeakDay for the fleet, GpuGroupPeakDay otherwise);
- quota × quota_demand: the demand against each (account, region, quota) in the quota's unit (QuotaDemandDay), which
  the capacity plan compares with the limit.
Each is forecast `horizon_days` ahead with 80%, 90% and 95% intervals (the plan's p95 is the 90% band's upper end)
and the chosen model's rolling-origin backtest scores beside seasonal naive's. A series without demand in the last
ACTIVE_DAYS days (a team that left) is not forecast. The run is a CollectionRun of kind "forecasts" whose counts
show progress (`done` of `series`) while it works; each forecast is committed as it is made, so readers keep the
previous one until the new one lands, and forecasts older than KEEP_DAYS are deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, timedelta

import pandas as pd
from django.utils import timezone

from capacity.forecasting import forecast
from capacity.models import CollectionRun, GpuDemandForecast, QuotaDemandDay
from capacity.selectors.demand import demand_series, group_values, quota_demand_series
from capacity.selectors.forecasts import forecast_points, plain_scores
from capacity.services.runs import collection_run

LEVELS = (80, 90, 95)
SEASON = 7
ACTIVE_DAYS = 90
KEEP_DAYS = 35
Group = GpuDemandForecast.Group
Metric = GpuDemandForecast.Metric


def quota_value(account_id: str, region: str, service_code: str, quota_code: str) -> str:
    """The `value` of a quota's forecast: "123456789012:us-east-1:ec2:L-417A185B"."""
    return f"{account_id}:{region}:{service_code}:{quota_code}"


def _series_plan(today: date) -> Iterator[tuple[str, str, str, object]]:
    """(group, value, metric, a callable giving its series) of everything to forecast."""
    since = today - timedelta(days=ACTIVE_DAYS)
    for group, values in group_values(since=since).items():
        for value in values:
            for metric in (Metric.GPU_HOURS, Metric.PEAK_GPUS):
                yield (
                    group,
                    value,
                    metric,
                    lambda g=group, v=value, m=metric: demand_series(group=g, value=v, metric=m, end=today),
                )
    quotas = (
        QuotaDemandDay.objects.filter(day__gte=since)
        .values_list("account_id", "account__account_id", "region", "service_code", "quota_code")
        .distinct()
        .order_by("account__account_id", "region", "service_code", "quota_code")
    )
    for account_pk, account_id, region, service, code in quotas:
        yield (
            Group.QUOTA,
            quota_value(account_id, region, service, code),
            Metric.QUOTA_DEMAND,
            (
                lambda a=account_pk, r=region, s=service, c=code: quota_demand_series(
                    account_id=a, region=r, service_code=s, quota_code=c, end=today
                )
            ),
        )


def forecast_store(
    *, group: str, value: str, metric: str, series: pd.Series, horizon_days: int, levels=LEVELS
) -> GpuDemandForecast | None:
    """Forecast one series and store it; None when it holds no observed point."""
    if series.dropna().empty:
        return None
    result = forecast(series, horizon=horizon_days, season_length=SEASON, levels=levels)
    return GpuDemandForecast.objects.create(
        group=group,
        value=value,
        metric=metric,
        generated_at=timezone.now(),
        history_start=series.index[0].date(),
        history_end=series.index[-1].date() + timedelta(days=1),
        horizon_days=horizon_days,
        model=str(result.attrs.get("model", "")),
        scores=plain_scores(result.attrs.get("scores", {})),
        fallback=str(result.attrs.get("fallback") or ""),
        points=forecast_points(result),
    )


def gpu_demand_forecast_refresh(*, horizon_days: int = 180, today: date | None = None) -> list[GpuDemandForecast]:
    """Forecast every demand series `horizon_days` ahead (see the module); returns the forecasts made."""
    today = today or timezone.now().date()
    plan = list(_series_plan(today))
    made: list[GpuDemandForecast] = []
    with collection_run(kind=CollectionRun.Kind.FORECASTS) as (run, _):
        run.counts = {"series": len(plan), "done": 0, "horizon_days": horizon_days}
        run.save(update_fields=["counts"])
        per_group: dict[str, int] = defaultdict(int)
        for done, (group, value, metric, series) in enumerate(plan, start=1):
            stored = forecast_store(group=group, value=value, metric=metric, series=series(), horizon_days=horizon_days)
            if stored is not None:
                made.append(stored)
                per_group[group] += 1
            run.counts = {**run.counts, "done": done, "per_group": dict(per_group)}
            run.save(update_fields=["counts"])
        GpuDemandForecast.objects.filter(generated_at__lt=timezone.now() - timedelta(days=KEEP_DAYS)).delete()
    return made
