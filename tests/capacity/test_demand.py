"""GPU demand from the sandbox's billing and fleet, and its forecast."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from capacity.models import GpuDemandDay, GpuDemandForecast, InstanceTypeInfo
from capacity.services.demand import gpu_demand_compute, gpu_demand_forecast_refresh
from tests.capacity.conftest import TODAY

pytestmark = pytest.mark.django_db


def reference_gpu_hours(start, end) -> Decimal:
    """Plain SQL: usage hours of accelerated instance types (ml. prefix dropped) x their GPU count."""
    gpus = dict(InstanceTypeInfo.objects.filter(gpu_count__gt=0).values_list("instance_type", "gpu_count"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT regexp_replace(split_part(usage_type, ':', 2), '^ml\\.', ''), SUM(pricing_quantity)"
            " FROM finops_costrecord WHERE charge_category = 'usage' AND charge_period_start >= %s"
            " AND charge_period_start < %s AND usage_type LIKE '%%:%%' GROUP BY 1",
            [start, end],
        )
        return sum((hours * gpus[name] for name, hours in cursor.fetchall() if name in gpus), Decimal(0))


def test_it_computes_daily_gpu_hours_and_peaks_per_slice(billed_and_collected):
    start, end = TODAY - timedelta(days=30), TODAY
    written = gpu_demand_compute(start=start, end=end)
    assert written > 0
    rows = GpuDemandDay.objects.all()
    assert sum((row.gpu_hours for row in rows), Decimal(0)) == reference_gpu_hours(start, end)
    assert {row.team for row in rows} >= {"vision", "speech"}
    hourly = rows.filter(peak_source="hourly")
    assert hourly.exists() and rows.filter(peak_source="average").exists()
    assert all(row.peak_gpus > 0 for row in hourly)
    assert gpu_demand_compute(start=start, end=end) == written, "recomputing a window replaces it"
    assert GpuDemandDay.objects.count() == written


def test_it_forecasts_six_months_of_gpu_hours_with_intervals(billed_and_collected):
    gpu_demand_compute(start=TODAY - timedelta(days=420), end=TODAY)
    made = gpu_demand_forecast_refresh(horizon_days=180, today=TODAY)
    fleet = next(item for item in made if item.team == "")
    assert len(fleet.points) == 180
    assert fleet.points[0]["day"] == TODAY.isoformat()
    assert fleet.model
    for point in fleet.points:
        low95, low80, mean, up80, up95 = (
            float(point[name]) for name in ("lower_95", "lower_80", "mean", "upper_80", "upper_95")
        )
        assert 0 <= low95 <= low80 <= mean <= up80 <= up95
    assert GpuDemandForecast.objects.filter(team="vision").exists()
