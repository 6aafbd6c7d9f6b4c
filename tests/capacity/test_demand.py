"""GPU demand from the sandbox's billing and fleet, and its forecast."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from capacity.models import (
    CollectionRun,
    GpuDemandDay,
    GpuGroupPeakDay,
    GpuPeakDay,
    InstanceTypeInfo,
    QuotaDemandDay,
    Resource,
)
from capacity.selectors.demand import gpu_fleet_peaks
from capacity.services.demand import gpu_demand_compute
from capacity.services.forecasts import gpu_demand_forecast_refresh
from finops.models import CloudAccount
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


def test_it_forecasts_every_group_and_metric_and_each_quota_six_months_ahead_with_intervals(billed_and_collected):
    gpu_demand_compute(start=TODAY - timedelta(days=420), end=TODAY)
    made = gpu_demand_forecast_refresh(horizon_days=180, today=TODAY)
    series = {(item.group, item.value, item.metric) for item in made}
    fleet = next(item for item in made if (item.group, item.metric) == ("fleet", "gpu_hours"))
    assert len(fleet.points) == 180
    assert fleet.points[0]["day"] == TODAY.isoformat()
    assert fleet.model
    for item in made:
        for point in item.points:
            low95, low90, low80, mean, up80, up90, up95 = (
                float(point[name])
                for name in ("lower_95", "lower_90", "lower_80", "mean", "upper_80", "upper_90", "upper_95")
            )
            assert 0 <= low95 <= low90 <= low80 <= mean <= up80 <= up90 <= up95, (item, point)
        assert item.scores[item.model]["mase"] is not None or item.model in ("zeros", "naive")
    assert {("fleet", "", "peak_gpus"), ("team", "vision", "gpu_hours"), ("team", "vision", "peak_gpus")} <= series
    families = {value for group, value, _ in series if group == "gpu_family"}
    assert {"p4d", "g5", "inf2"} <= families
    assert {value for group, value, _ in series if group == "region"} == {"us-east-1"}
    research = CloudAccount.objects.get(name="ml-research").account_id
    assert ("quota", f"{research}:us-east-1:ec2:L-417A185B", "quota_demand") in series
    assert "seasonal_naive" in fleet.scores
    run = CollectionRun.objects.get(kind="forecasts")
    assert run.status == "succeeded" and run.counts["done"] == run.counts["series"] >= len(made)


def test_group_peaks_are_the_peak_of_each_groups_summed_hourly_series(billed_and_collected):
    start, end = TODAY - timedelta(days=30), TODAY
    gpu_demand_compute(start=start, end=end)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT running.hour, split_part(t.instance_type, '.', 1),"
            " SUM(t.gpu_count * GREATEST(r.instance_count, 1))"
            " FROM (SELECT DISTINCT resource_id, hour FROM capacity_utilisationhour"
            "       WHERE metric IN ('cpu', 'gpu') AND average IS NOT NULL) running"
            " JOIN capacity_resource r ON r.id = running.resource_id"
            " JOIN capacity_instancetypeinfo t ON t.id = r.type_info_id AND t.gpu_count > 0"
            " GROUP BY 1, 2"
        )
        by_family: dict = {}
        for hour, family, gpus in cursor.fetchall():
            if start <= hour.date() < end:
                by_family[(family, hour.date())] = max(by_family.get((family, hour.date()), 0), gpus)
    stored = {
        (row.value, row.day): row.peak_gpus
        for row in GpuGroupPeakDay.objects.filter(group="gpu_family", source="hourly")
    }
    assert stored and by_family
    for key, gpus in by_family.items():
        assert stored[key] == gpus, key
    average = GpuGroupPeakDay.objects.filter(group="team", value="vision", source="average").first()
    billed = sum((row.gpu_hours for row in GpuDemandDay.objects.filter(team="vision", day=average.day)), Decimal(0))
    assert average.peak_gpus == math.ceil(billed / 24)


def test_quota_demand_is_the_peak_of_on_demand_ec2_vcpus_in_the_quotas_families(billed_and_collected):
    """P instances are one type per family here (p4d.24xlarge: 96 vCPUs / 8 GPUs; p5.48xlarge: 192 / 8), so the
    family's vCPUs per GPU give exactly the instances' vCPUs: the hourly peak of running P instances' vCPUs."""
    start, end = TODAY - timedelta(days=30), TODAY
    gpu_demand_compute(start=start, end=end)
    research = CloudAccount.objects.get(name="ml-research")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT running.hour, SUM(t.vcpus * GREATEST(r.instance_count, 1))"
            " FROM (SELECT DISTINCT resource_id, hour FROM capacity_utilisationhour"
            "       WHERE metric IN ('cpu', 'gpu') AND average IS NOT NULL) running"
            " JOIN capacity_resource r ON r.id = running.resource_id AND r.kind = 'ec2_instance'"
            "  AND r.account_id = %s AND COALESCE(r.details->>'lifecycle', 'on-demand') <> 'spot'"
            " JOIN capacity_instancetypeinfo t ON t.id = r.type_info_id AND t.instance_type ~ '^p[0-9]'"
            " GROUP BY 1",
            [research.pk],
        )
        peaks: dict = {}
        for hour, vcpus in cursor.fetchall():
            if start <= hour.date() < end:
                peaks[hour.date()] = max(peaks.get(hour.date(), 0), vcpus)
    stored = {
        row.day: row.demand
        for row in QuotaDemandDay.objects.filter(account=research, quota_code="L-417A185B", source="hourly")
    }
    assert peaks and set(peaks) <= set(stored)
    for day, vcpus in peaks.items():
        assert stored[day] == vcpus, day
    assert QuotaDemandDay.objects.filter(account=research, quota_code="L-417A185B", source="average").exists()
    assert not QuotaDemandDay.objects.filter(quota_code="L-417A185B", account__name="data").exists()


def reference_hourly_gpus() -> dict:
    """Plain SQL: per hour, the GPUs of the machines that reported a CPU or GPU datapoint in it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT running.hour, SUM(t.gpu_count * GREATEST(r.instance_count, 1))"
            " FROM (SELECT DISTINCT resource_id, hour FROM capacity_utilisationhour"
            "       WHERE metric IN ('cpu', 'gpu') AND average IS NOT NULL) running"
            " JOIN capacity_resource r ON r.id = running.resource_id"
            " JOIN capacity_instancetypeinfo t ON t.id = r.type_info_id AND t.gpu_count > 0"
            " GROUP BY running.hour"
        )
        return dict(cursor.fetchall())


def reference_inventory_gpus(day) -> int:
    """GPUs of the inventoried machines (instances, endpoints, notebooks) not gone before `day`, and of the
    training jobs running on it."""
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    total = 0
    for resource in Resource.objects.filter(type_info__gpu_count__gt=0).select_related("type_info"):
        gpus = resource.type_info.gpu_count * max(resource.instance_count, 1)
        if resource.kind == Resource.Kind.SAGEMAKER_TRAINING_JOB:
            began = datetime.fromisoformat(resource.details["training_start"])
            ended = datetime.fromisoformat(resource.details["training_end"])
            total += gpus if began < day_start + timedelta(days=1) and ended > day_start else 0
        elif resource.kind in ("ec2_instance", "sagemaker_endpoint", "sagemaker_notebook"):
            total += gpus if resource.gone_at is None or resource.gone_at > day_start else 0
    return total


def test_the_fleet_peak_is_the_peak_of_the_summed_hourly_series_within_the_inventory(billed_and_collected):
    start, end = TODAY - timedelta(days=30), TODAY
    gpu_demand_compute(start=start, end=end)
    by_hour = {hour: gpus for hour, gpus in reference_hourly_gpus().items() if start <= hour.date() < end}
    hourly_peaks: dict = {}
    for hour, gpus in by_hour.items():
        hourly_peaks[hour.date()] = max(hourly_peaks.get(hour.date(), 0), gpus)
    billed: dict = {}
    for row in GpuDemandDay.objects.all():
        billed[row.day] = billed.get(row.day, Decimal(0)) + row.gpu_hours
    peaks = {row.day: row for row in GpuPeakDay.objects.all()}
    assert set(peaks) == set(hourly_peaks) | set(billed)
    assert {day for day, row in peaks.items() if row.source == "hourly"} == set(hourly_peaks)
    assert GpuPeakDay.objects.filter(source="average").exists(), "days before the 14 days of metrics"
    for day, row in peaks.items():
        inventory = reference_inventory_gpus(day)
        assert row.inventory_gpus == inventory > 0
        assert isinstance(row.peak_gpus, int) and 0 <= row.peak_gpus <= inventory, day
        if row.source == "hourly":
            assert row.peak_gpus == hourly_peaks[day], day
            assert by_hour[row.peak_hour] == row.peak_gpus
            assert row.hours_with_data == sum(1 for hour in by_hour if hour.date() == day)
        else:
            assert row.peak_gpus == min(math.ceil(billed[day] / 24), inventory), day
    # The slices keep their own peaks, whole GPUs too; added up they are no fleet peak.
    assert all(isinstance(row.peak_gpus, int) for row in GpuDemandDay.objects.all())
    selector = gpu_fleet_peaks(since=start)
    assert dict(zip(selector["day"], selector["peak_gpus"], strict=True)) == {
        day: row.peak_gpus for day, row in peaks.items()
    }
