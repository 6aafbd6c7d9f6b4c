"""Demand counted the way quotas count it: one daily series per (account, region, quota) for the capacity plan.

EC2 On-Demand quotas for accelerated instances (unit vCPU): the day's peak concurrent GPUs (Neuron devices count as
GPUs) of On-Demand EC2 instances of the quota's families in that account and region, not Spot, not SageMaker, each
family's GPUs converted to vCPUs at its count-weighted vCPUs per GPU: Σ vCPUs / Σ GPUs over the stored instance
types of the family (`vcpus_per_gpu`). SageMaker quotas (unit instances, one per ml.* type and use): the day's peak
instances of that type in endpoints, training jobs or notebook instances.

A day's peak comes from hourly data where the account and region have any that day (the most counted in one hour,
"hourly"); otherwise from billed usage, the hours / 24 rounded up to whole GPUs or instances ("average"), as
GpuPeakDay does for the fleet. Billed usage that is Spot (`SpotUsage`), unused reservation capacity (`UnusedBox`)
or a dedicated host's own hours (`HostUsage`) is no On-Demand instance and is left out.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from capacity.models import InstanceTypeInfo, QuotaDemandDay, Resource, ServiceQuota
from capacity.services.quotas import SAGEMAKER_QUOTA, ec2_quota_code
from finops.models import CloudAccount

EC2_ON_DEMAND_USAGE = ("BoxUsage", "DedicatedUsage")
SAGEMAKER_USAGE = {"Host": "endpoint", "Train": "training job", "Notebk": "notebook instance"}
SAGEMAKER_KINDS = {
    Resource.Kind.SAGEMAKER_ENDPOINT: "endpoint",
    Resource.Kind.SAGEMAKER_TRAINING_JOB: "training job",
    Resource.Kind.SAGEMAKER_NOTEBOOK: "notebook instance",
}

QuotaKey = tuple[int, str, str, str]  # (CloudAccount pk, region, service_code, quota_code)


def family(instance_type: str) -> str:
    """The instance family: `p4d` of `p4d.24xlarge`, `g5` of `ml.g5.xlarge`."""
    return instance_type.removeprefix("ml.").split(".", 1)[0]


def vcpus_per_gpu(infos: list[InstanceTypeInfo] | None = None) -> dict[str, Decimal]:
    """{family: Σ vCPUs / Σ GPUs over the family's stored accelerated instance types} (GPU-count weighted)."""
    infos = infos if infos is not None else list(InstanceTypeInfo.objects.filter(gpu_count__gt=0))
    vcpus: dict[str, int] = defaultdict(int)
    gpus: dict[str, int] = defaultdict(int)
    for info in infos:
        if info.gpu_count > 0 and not info.instance_type.startswith("ml."):
            vcpus[family(info.instance_type)] += info.vcpus
            gpus[family(info.instance_type)] += info.gpu_count
    return {name: Decimal(vcpus[name]) / Decimal(gpus[name]) for name in gpus}


def _usage_kind(usage_type: str) -> str:
    """`BoxUsage` of `USE1-BoxUsage:p4d.24xlarge` or `BoxUsage:p4d.24xlarge`; `Host` of `USE1-Host:ml.g5.xlarge`."""
    return usage_type.split(":", 1)[0].rsplit("-", 1)[-1]


def _usage_instance_type(usage_type: str) -> str:
    return usage_type.rsplit(":", 1)[-1] if ":" in usage_type else ""


def sagemaker_quota_codes(quotas: list[ServiceQuota]) -> dict[tuple[int, str, str, str], str]:
    """{(account pk, region, ml type, use): quota code} of the stored SageMaker per-type quotas."""
    codes = {}
    for quota in quotas:
        if quota.service_code == "sagemaker" and (match := SAGEMAKER_QUOTA.match(quota.name)):
            codes[(quota.account_id, quota.region, match["type"], match["use"])] = quota.quota_code
    return codes


def _billed(
    usage: pd.DataFrame,
    accounts: dict[str, int],
    accelerators: dict[str, InstanceTypeInfo],
    per_gpu: dict[str, Decimal],
    sagemaker_codes: dict[tuple, str],
) -> dict[tuple[QuotaKey, date], Decimal]:
    """{(quota key, day): demand from billed hours}: per family whole GPUs (or per type whole instances) a day."""
    ec2_gpu_hours: dict[tuple, Decimal] = defaultdict(Decimal)
    sagemaker_hours: dict[tuple, Decimal] = defaultdict(Decimal)
    for day, account_id, region, usage_type, unit, quantity in zip(
        usage["period"], usage["account"], usage["region"], usage["usage_type"].fillna(""),
        usage["pricing_unit"].fillna(""), usage["quantity"], strict=True,
    ):  # fmt: skip
        account = accounts.get(account_id)
        instance_type = _usage_instance_type(usage_type)
        if account is None or not instance_type or unit.lower() not in ("", "hrs", "hr", "hours", "hour"):
            continue
        kind = _usage_kind(usage_type)
        if instance_type.startswith("ml.") and kind in SAGEMAKER_USAGE:
            code = sagemaker_codes.get((account, region or "", instance_type, SAGEMAKER_USAGE[kind]))
            if code:
                sagemaker_hours[((account, region, "sagemaker", code), day)] += quantity
        elif kind in EC2_ON_DEMAND_USAGE and instance_type in accelerators:
            code = ec2_quota_code(instance_type)
            if code:
                gpus = accelerators[instance_type].gpu_count
                ec2_gpu_hours[((account, region, "ec2", code), family(instance_type), day)] += quantity * gpus
    demand: dict[tuple[QuotaKey, date], Decimal] = defaultdict(Decimal)
    for (key, name, day), gpu_hours in ec2_gpu_hours.items():
        demand[(key, day)] += math.ceil(gpu_hours / 24) * per_gpu.get(name, Decimal(0))
    for (key, day), hours in sagemaker_hours.items():
        demand[(key, day)] += math.ceil(hours / 24)
    return demand


def _machine_quota(resource: Resource, sagemaker_codes: dict[tuple, str]) -> list[tuple[QuotaKey, Decimal, bool]]:
    """[(quota key, amount while running, counts in GPUs)] of one inventoried machine."""
    info = resource.type_info
    if resource.kind == Resource.Kind.EC2_INSTANCE:
        if info is None or info.gpu_count == 0 or (resource.details or {}).get("lifecycle") == "spot":
            return []
        code = ec2_quota_code(resource.instance_type)
        return [((resource.account_id, resource.region, "ec2", code), Decimal(info.gpu_count), True)] if code else []
    use = SAGEMAKER_KINDS.get(resource.kind)
    if use is None:
        return []
    if resource.kind == Resource.Kind.SAGEMAKER_ENDPOINT and (resource.details or {}).get("variants"):
        counts: dict[str, int] = defaultdict(int)
        for variant in resource.details["variants"]:
            counts[variant.get("instance_type") or ""] += variant.get("instance_count") or 0
    else:
        counts = {resource.instance_type: resource.instance_count}
    found = []
    for instance_type, count in counts.items():
        code = sagemaker_codes.get((resource.account_id, resource.region, instance_type, use))
        if code and count:
            found.append(((resource.account_id, resource.region, "sagemaker", code), Decimal(count), False))
    return found


def _hourly(
    hours: dict[datetime, dict[int, int]],
    machines: dict[int, Resource],
    per_gpu: dict[str, Decimal],
    sagemaker_codes: dict[tuple, str],
) -> tuple[dict[tuple[QuotaKey, date], Decimal], set[tuple[int, str, date]]]:
    """({(quota key, day): most counted in one hour}, {(account pk, region, day) with hourly data})."""
    per_hour: dict[tuple[QuotaKey, datetime], Decimal] = defaultdict(Decimal)
    covered: set[tuple[int, str, date]] = set()
    parts = {}
    for hour, running in hours.items():
        for resource_id in running:
            resource = machines.get(resource_id)
            if resource is None:
                continue
            covered.add((resource.account_id, resource.region, hour.date()))
            if resource_id not in parts:
                parts[resource_id] = _machine_quota(resource, sagemaker_codes)
            for key, amount, in_gpus in parts[resource_id]:
                per_hour[(key, hour)] += (
                    amount * per_gpu.get(family(resource.instance_type), Decimal(0)) if in_gpus else amount
                )
    peaks: dict[tuple[QuotaKey, date], Decimal] = {}
    for (key, hour), amount in per_hour.items():
        peaks[(key, hour.date())] = max(peaks.get((key, hour.date()), Decimal(0)), amount)
    return peaks, covered


def quota_demand_rows(
    *,
    usage: pd.DataFrame,
    hours: dict[datetime, dict[int, int]],
    machines: dict[int, Resource],
    accelerators: dict[str, InstanceTypeInfo],
    now: datetime,
) -> list[QuotaDemandDay]:
    """The QuotaDemandDay rows of the days `usage` and `hours` cover (callers replace those days).

    `machines` are the inventoried machines whose running hours `hours` lists ({hour: {resource pk: GPUs}});
    every EC2 accelerated quota code gets rows, SageMaker ones where their quota is stored (its code is AWS's).
    """
    accounts = dict(CloudAccount.objects.values_list("account_id", "pk"))
    quotas = list(ServiceQuota.objects.all())
    sagemaker_codes = sagemaker_quota_codes(quotas)
    per_gpu = vcpus_per_gpu(list(accelerators.values()))
    billed = _billed(usage, accounts, accelerators, per_gpu, sagemaker_codes)
    hourly, covered = _hourly(hours, machines, per_gpu, sagemaker_codes)
    keys = {key for key, _ in billed} | {key for key, _ in hourly}
    days = sorted({day for _, day in billed} | {day for _, day in hourly} | {day for _, _, day in covered})
    rows = []
    for key in sorted(keys):
        account, region = key[0], key[1]
        for day in days:
            if (account, region, day) in covered:
                demand, source = hourly.get((key, day), Decimal(0)), QuotaDemandDay.Source.HOURLY
            elif (key, day) in billed:
                demand, source = billed[(key, day)], QuotaDemandDay.Source.AVERAGE
            else:
                continue
            rows.append(
                QuotaDemandDay(
                    account_id=account, region=region, service_code=key[2], quota_code=key[3], day=day,
                    demand=demand, source=source, computed_at=now,
                )
            )  # fmt: skip
    return rows
