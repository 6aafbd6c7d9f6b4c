"""Hourly CloudWatch metrics of the sandbox's machines, shaped as AWS publishes them.

- EC2: AWS/EC2 CPUUtilization per InstanceId; on NVIDIA GPU instances the CloudWatch agent's
  nvidia_gpu metrics in CWAgent (nvidia_smi_utilization_gpu, nvidia_smi_memory_used and
  nvidia_smi_memory_total in MiB), aggregated over the GPUs by InstanceId (the agent's
  `aggregation_dimensions: [["InstanceId"]]`). Inferentia instances publish CPU only.
- SageMaker endpoints, per EndpointName + VariantName: /aws/sagemaker/Endpoints CPUUtilization
  (0-100 x vCPUs), GPUUtilization and GPUMemoryUtilization (0-100 x GPUs), as AWS scales them; and
  AWS/SageMaker Invocations. An hour without requests publishes no Invocations datapoint (as AWS),
  so an idle endpoint has none at all and a weekday-only one none at weekends.

Each hour is one datapoint with StatisticValues (60 one-minute samples), so Average and Maximum differ.
Values follow each resource's daily `profile` with a little seeded noise: deterministic.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import cache
from typing import Any

from sandbox.catalogue import Resource

PUT_BATCH = 1000  # PutMetricData takes at most 1000 datapoints per call
EC2_NAMESPACE = "AWS/EC2"
AGENT_NAMESPACE = "CWAgent"
ENDPOINT_NAMESPACE = "/aws/sagemaker/Endpoints"
INVOCATIONS_NAMESPACE = "AWS/SageMaker"
INVOCATIONS_AT_PEAK = 30_000  # requests an instance serves in a busy hour
IDLE_PEAK = 0.05  # a profile that never rises above this gets no requests at all

Datum = dict[str, Any]


@cache
def instance_facts(instance_type: str) -> tuple[int, int, int, bool]:
    """(vCPUs, GPUs, MiB per GPU, NVIDIA) of an EC2 type or of the EC2 type behind an ml.* type."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    facts = INSTANCE_TYPES[instance_type.removeprefix("ml.")]
    vcpus = facts["VCpuInfo"]["DefaultVCpus"]
    gpus = (facts.get("GpuInfo") or {}).get("Gpus") or []
    if not gpus:
        return vcpus, 0, 0, False
    return vcpus, gpus[0]["Count"], gpus[0]["MemoryInfo"]["SizeInMiB"], gpus[0]["Manufacturer"] == "NVIDIA"


def _datum(name: str, dimensions: dict[str, str], moment: datetime, average: float, peak: float, unit: str) -> Datum:
    return {
        "MetricName": name,
        "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
        "Timestamp": moment,
        "StatisticValues": {
            "SampleCount": 60.0,
            "Sum": round(average * 60, 4),
            "Minimum": round(average * 0.8, 4),
            "Maximum": round(max(peak, average), 4),
        },
        "Unit": unit,
    }


def _count_datum(name: str, dimensions: dict[str, str], moment: datetime, count: int) -> Datum:
    """A count over the hour (Sum), from 60 one-minute samples."""
    per_minute = count / 60
    return {
        "MetricName": name,
        "Dimensions": [{"Name": key, "Value": value} for key, value in dimensions.items()],
        "Timestamp": moment,
        "StatisticValues": {
            "SampleCount": 60.0,
            "Sum": float(count),
            "Minimum": round(per_minute * 0.4, 4),
            "Maximum": round(per_minute * 1.6, 4),
        },
        "Unit": "None",
    }


def _hours(resource: Resource, now: datetime, days: int) -> list[datetime]:
    first = max(now - timedelta(days=days), datetime.combine(resource.start, time(), tzinfo=UTC))
    count = int((now - first).total_seconds() // 3600)
    return [first + timedelta(hours=index) for index in range(count)]


def _instance_data(resource: Resource, moment: datetime, level: float) -> dict[str, list[Datum]]:
    dimensions = {"InstanceId": resource.id}
    _, gpus, gpu_memory, nvidia = instance_facts(resource.instance_type)
    cpu = 100 * (0.1 + 0.5 * level) if nvidia else 100 * level
    data = {EC2_NAMESPACE: [_datum("CPUUtilization", dimensions, moment, cpu, min(100, cpu * 1.2), "Percent")]}
    if nvidia:
        gpu, memory = 100 * level, gpu_memory * (0.25 + 0.65 * level)
        data[AGENT_NAMESPACE] = [
            _datum("nvidia_smi_utilization_gpu", dimensions, moment, gpu, min(100, gpu * 1.1 + 2), "Percent"),
            _datum("nvidia_smi_memory_used", dimensions, moment, memory, min(gpu_memory, memory * 1.05), "Megabytes"),
            _datum("nvidia_smi_memory_total", dimensions, moment, gpu_memory, gpu_memory, "Megabytes"),
        ]
    return data


def _endpoint_data(
    resource: Resource, variant: dict, moment: datetime, level: float, traffic: float
) -> dict[str, list[Datum]]:
    dimensions = {"EndpointName": resource.name, "VariantName": variant["VariantName"]}
    vcpus, gpus, _, _ = instance_facts(resource.instance_type)
    cpu = 100 * vcpus * (0.05 + 0.4 * level)
    data = {ENDPOINT_NAMESPACE: [_datum("CPUUtilization", dimensions, moment, cpu, cpu * 1.3, "Percent")]}
    if gpus:
        gpu, memory = 100 * gpus * level, 100 * gpus * (0.3 + 0.5 * level)
        data[ENDPOINT_NAMESPACE] += [
            _datum("GPUUtilization", dimensions, moment, gpu, min(100 * gpus, gpu * 1.2 + 1), "Percent"),
            _datum("GPUMemoryUtilization", dimensions, moment, memory, min(100 * gpus, memory * 1.05), "Percent"),
        ]
    requests = round(traffic * INVOCATIONS_AT_PEAK * resource.count * variant["InitialVariantWeight"])
    if resource.profile.peak > IDLE_PEAK and requests > 0:
        data[INVOCATIONS_NAMESPACE] = [_count_datum("Invocations", dimensions, moment, requests)]
    return data


def metric_data(
    *,
    resources: list[Resource],
    now: datetime,
    days: int,
    running_at: Callable[[Resource, datetime], bool],
    variants: Callable[[Resource], list[dict]],
) -> dict[tuple[str, str, str], list[Datum]]:
    """Every datapoint, keyed by (account id, region, namespace), for the hours in [now - days, now)."""
    published: dict[tuple[str, str, str], list[Datum]] = defaultdict(list)
    for resource in resources:
        if resource.kind not in ("ec2_instance", "sagemaker_endpoint"):
            continue
        noise = random.Random(f"metrics:{resource.id}")
        for hour in _hours(resource, now, days):
            if not running_at(resource, hour):
                continue  # a stopped instance publishes nothing: those hours are missing, not zero
            traffic = resource.profile.at(hour + timedelta(minutes=30))
            level = min(1.0, max(0.0, traffic + noise.uniform(-0.02, 0.02)))
            if resource.kind == "ec2_instance":
                parts = [_instance_data(resource, hour, level)]
            else:
                parts = [_endpoint_data(resource, variant, hour, level, traffic) for variant in variants(resource)]
            for part in parts:
                for namespace, data in part.items():
                    published[(resource.account_id, resource.region, namespace)].extend(data)
    return published


def metrics_publish(
    *,
    resources: list[Resource],
    client_for: Callable[[str, str, str], Any],
    now: datetime,
    days: int,
    running_at: Callable[[Resource, datetime], bool],
    variants: Callable[[Resource], list[dict]],
) -> int:
    """PutMetricData for every datapoint of `metric_data`, 1000 a call; returns how many were published."""
    published = metric_data(resources=resources, now=now, days=days, running_at=running_at, variants=variants)
    total = 0
    for (account_id, region, namespace), data in sorted(published.items()):
        cloudwatch = client_for("cloudwatch", account_id, region)
        for start in range(0, len(data), PUT_BATCH):
            cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + PUT_BATCH])
        total += len(data)
    return total
