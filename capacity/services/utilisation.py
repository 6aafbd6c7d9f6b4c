"""Utilisation: hourly CloudWatch metrics of the inventoried machines of one account and region.

What is read (GetMetricData, Period 3600, Average / Maximum / SampleCount, Sum for counts):
- EC2 instances: AWS/EC2 CPUUtilization by InstanceId. NVIDIA GPU instances: the CloudWatch agent's
  CWAgent nvidia_smi_utilization_gpu, and nvidia_smi_memory_used / nvidia_smi_memory_total (GPU memory
  in use, as a percentage), aggregated by InstanceId (agent `aggregation_dimensions: [["InstanceId"]]`).
- SageMaker endpoints, per EndpointName + VariantName: /aws/sagemaker/Endpoints CPUUtilization,
  GPUUtilization, GPUMemoryUtilization (AWS scales these 0-100 x vCPUs or x GPUs; stored per device,
  0-100), and AWS/SageMaker Invocations (published only per variant: EndpointName alone has no data).

Decisions:
- Window: from the last stored hour that had data (inclusive: it may have been partial) to `until`
  (the start of the current hour: complete hours only); the first time, BACKFILL before `until`.
- Every hour of the window gets a row per series; an hour with no datapoint is stored with NULLs:
  unknown, never zero (an idle endpoint publishes no Invocations; a stopped instance no CPU).
- Fetch everything, then upsert in one transaction: an error leaves stored hours as they were.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from capacity.aws import ClientFactory
from capacity.aws.cloudwatch import MetricQuery, metric_data
from capacity.models import CollectionRun, Resource, UtilisationHour
from capacity.services.inventory import clients_for
from capacity.services.runs import collection_run
from finops.models import CloudAccount

BACKFILL = timedelta(days=14)
HOUR = timedelta(hours=1)
UTILISATION_STATS = {"Average": "average", "Maximum": "maximum", "SampleCount": "sample_count"}
COUNT_STATS = {"Sum": "total", "Average": "average", "Maximum": "maximum", "SampleCount": "sample_count"}
PRECISION = Decimal("1e-8")
Metric = UtilisationHour.Metric


@dataclass(eq=False)
class Series:
    """One stored series and the queries that feed it: {role: query id}; `scale` divides percentages."""

    resource: Resource
    metric: str
    variant: str = ""
    scale: int = 1
    queries: dict[str, str] = field(default_factory=dict)


def _series_plan(resources: list[Resource]) -> tuple[list[Series], list[MetricQuery]]:
    plan: list[Series] = []
    queries: list[MetricQuery] = []

    def add(series: Series, namespace: str, metric_name: str, dimensions: tuple, stats: dict[str, str]) -> None:
        for stat, role in stats.items():
            query_id = f"q{len(queries)}"
            queries.append(MetricQuery(query_id, namespace, metric_name, dimensions, stat))
            series.queries[role] = query_id
        if series not in plan:
            plan.append(series)

    for resource in resources:
        info = resource.type_info
        gpus = info.gpu_count if info is not None and info.accelerator_kind == "gpu" else 0
        if resource.kind == Resource.Kind.EC2_INSTANCE:
            instance = (("InstanceId", resource.resource_id),)
            add(Series(resource, Metric.CPU), "AWS/EC2", "CPUUtilization", instance, UTILISATION_STATS)
            if gpus and info.gpu_manufacturer.upper() == "NVIDIA":
                add(Series(resource, Metric.GPU), "CWAgent", "nvidia_smi_utilization_gpu", instance, UTILISATION_STATS)
                memory = Series(resource, Metric.GPU_MEMORY)
                add(memory, "CWAgent", "nvidia_smi_memory_used", instance, UTILISATION_STATS)
                add(memory, "CWAgent", "nvidia_smi_memory_total", instance, {"Average": "memory_total"})
        elif resource.kind == Resource.Kind.SAGEMAKER_ENDPOINT:
            vcpus = info.vcpus if info is not None else 1
            for variant in resource.details.get("variants", []):
                name = variant["name"]
                dimensions = (("EndpointName", resource.name), ("VariantName", name))
                namespace = "/aws/sagemaker/Endpoints"
                add(Series(resource, Metric.CPU, name, vcpus), namespace, "CPUUtilization", dimensions,
                    UTILISATION_STATS)  # fmt: skip
                if gpus:
                    add(Series(resource, Metric.GPU, name, gpus), namespace, "GPUUtilization", dimensions,
                        UTILISATION_STATS)  # fmt: skip
                    add(Series(resource, Metric.GPU_MEMORY, name, gpus), namespace, "GPUMemoryUtilization",
                        dimensions, UTILISATION_STATS)  # fmt: skip
                add(Series(resource, Metric.INVOCATIONS, name), "AWS/SageMaker", "Invocations", dimensions,
                    COUNT_STATS)  # fmt: skip
    return plan, queries


def _decimal(value: float | None, scale: int = 1) -> Decimal | None:
    if value is None:
        return None
    return (Decimal(repr(value)) / scale).quantize(PRECISION)


def _rows(series: Series, values: dict[str, dict[datetime, float]], hours: list[datetime]) -> list[UtilisationHour]:
    by_role = {role: values.get(query_id, {}) for role, query_id in series.queries.items()}
    rows = []
    for hour in hours:
        if series.resource.gone_at is not None and hour >= series.resource.gone_at:
            continue
        found = {role: points.get(hour) for role, points in by_role.items()}
        average, maximum = found.get("average"), found.get("maximum")
        if series.metric == Metric.GPU_MEMORY and series.resource.kind == Resource.Kind.EC2_INSTANCE:
            total = found.get("memory_total")
            average = 100 * average / total if average is not None and total else None
            maximum = 100 * maximum / total if maximum is not None and total else None
        rows.append(
            UtilisationHour(
                resource=series.resource,
                metric=series.metric,
                variant=series.variant,
                hour=hour,
                average=_decimal(average, series.scale),
                maximum=_decimal(maximum, series.scale),
                total=_decimal(found.get("total")),
                sample_count=_decimal(found.get("sample_count")) if average is not None else None,
            )
        )
    return rows


def utilisation_window(*, resources: list[Resource], until: datetime) -> tuple[datetime, datetime]:
    last = (
        UtilisationHour.objects.filter(resource__in=resources)
        .filter(Q(average__isnull=False) | Q(total__isnull=False))
        .aggregate(last=Max("hour"))["last"]
    )
    start = max(last, until - BACKFILL) if last is not None else until - BACKFILL
    return min(start, until), until


@transaction.atomic
def _hours_store(rows: list[UtilisationHour]) -> None:
    UtilisationHour.objects.bulk_create(
        rows,
        batch_size=2000,
        update_conflicts=True,
        unique_fields=["resource", "metric", "variant", "hour"],
        update_fields=["average", "maximum", "total", "sample_count"],
    )


def utilisation_collect(
    *,
    account: CloudAccount,
    region: str,
    until: datetime | None = None,
    client_factory: ClientFactory | None = None,
    max_datapoints: int | None = None,
) -> CollectionRun:
    """Fetch and store the hourly metrics of the account's live machines in `region` (see the module doc)."""
    until = (until or timezone.now()).replace(minute=0, second=0, microsecond=0)
    with collection_run(kind=CollectionRun.Kind.UTILISATION, account=account, region=region) as (run, count):
        resources = list(
            Resource.objects.filter(
                account=account, region=region, kind__in=[Resource.Kind.EC2_INSTANCE, Resource.Kind.SAGEMAKER_ENDPOINT]
            )
            .filter(Q(gone_at__isnull=True) | Q(gone_at__gt=until - BACKFILL))
            .select_related("type_info")
        )
        start, end = utilisation_window(resources=resources, until=until)
        run.window_start, run.window_end = start, end
        plan, queries = _series_plan(resources)
        rows: list[UtilisationHour] = []
        if queries and start < end:
            client = clients_for(account=account, region=region, client_factory=client_factory)("cloudwatch")
            values = metric_data(
                client, queries=queries, start=start, end=end, max_datapoints=max_datapoints, count=count
            )
            hours = [start + index * HOUR for index in range(int((end - start) / HOUR))]
            for series in plan:
                rows.extend(_rows(series, values, hours))
        _hours_store(rows)
        metrics: dict[str, int] = defaultdict(int)
        for row in rows:
            metrics["hours" if row.average is not None or row.total is not None else "missing_hours"] += 1
        run.counts = {"series": len(plan), "queries": len(queries), **metrics}
    return run
