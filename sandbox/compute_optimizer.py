"""Compute Optimizer for the sandbox: recommendations built from the catalogue's machines and rate table.

moto implements no Compute Optimizer, and botocore talks CBOR to it, so these answers go through the
before-call handler in sandbox/aws.py, validated against botocore's output shapes like Stubber does.

What AWS would say about the synthetic fleet, per account and region:
- GetEC2InstanceRecommendations: every present EC2 instance. A GPU instance whose utilisation never
  rises above 40% is Overprovisioned, with the GPU reason codes, when the rate table has cheaper NVIDIA
  types: up to three, ranked by performance risk then savings (a type too small for the GPU memory peak
  carries High risk); the rest are Optimized. Savings after discounts apply the Savings Plan rate to GPU types.
- GetIdleRecommendations: SageMaker endpoints and EC2 instances that never rise above the idle level
  (the idle dev endpoint), with a whole month of their on-demand cost as savings.
- Auto Scaling groups, EBS volumes, Lambda functions, ECS services and RDS databases: none to recommend.
Pages hold PAGE_SIZE items (nextToken is the offset), small so that callers' pagination is exercised.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from sandbox import machines, metrics, rates
from sandbox.catalogue import Resource
from sandbox.dataset import dataset_from_environment

PAGE_SIZE = 2
HOURS_PER_MONTH = Decimal(730)
OVERPROVISIONED_BELOW = 0.4
LOOKBACK_DAYS = 14.0
RISK_FITS, RISK_TOO_SMALL = 1.0, 4.0  # Compute Optimizer's 0 (very low) .. 4 (high) scale


def _page(items: list[dict], request: dict, key: str) -> dict:
    size = min(int(request.get("maxResults") or PAGE_SIZE), PAGE_SIZE)
    start = int(request.get("nextToken") or 0)
    page: dict[str, Any] = {key: items[start : start + size], "errors": []}
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return page


def _present(kind: str, account_id: str, region: str) -> list[Resource]:
    catalogue = dataset_from_environment().catalogue
    return [
        resource
        for resource in catalogue.resources
        if resource.kind == kind
        and resource.account_id == account_id
        and resource.region == region
        and machines.present(resource, catalogue.today)
    ]


def _refreshed() -> datetime:
    return datetime.combine(dataset_from_environment().catalogue.today, time(), tzinfo=UTC)


def _money(value: Decimal) -> dict:
    return {"currency": "USD", "value": float(value.quantize(Decimal("0.01")))}


def _savings(current: Decimal, option: Decimal, *, discounted: bool) -> tuple[dict, dict]:
    saved = (current - option) * HOURS_PER_MONTH
    after = saved * rates.SAVINGS_PLAN_RATE_PERCENT / 100 if discounted else saved
    percent = float(((current - option) / current * 100).quantize(Decimal("0.01")))
    return (
        {"savingsOpportunityPercentage": percent, "estimatedMonthlySavings": _money(saved)},
        {"savingsOpportunityPercentage": percent, "estimatedMonthlySavings": _money(after)},
    )


def _gpu_info(instance_type: str) -> dict:
    _, gpus, memory, _ = metrics.instance_facts(instance_type)
    return {"gpus": [{"gpuCount": gpus, "gpuMemorySizeInMiB": memory}]}


def _tags(resource: Resource) -> list[dict]:
    return [{"key": key, "value": value} for key, value in sorted(resource.tags.items())]


def _ec2_recommendation(resource: Resource, account_id: str, region: str) -> dict:
    _, gpus, memory_per_gpu, nvidia = metrics.instance_facts(resource.instance_type)
    peak = resource.profile.peak
    memory_peak = 0.25 + 0.65 * peak  # the GPU memory share metrics.py publishes at that level
    recommendation: dict[str, Any] = {
        "instanceArn": f"arn:aws:ec2:{region}:{account_id}:instance/{resource.id}",
        "accountId": account_id,
        "instanceName": resource.name,
        "currentInstanceType": resource.instance_type,
        "finding": "Optimized",
        "findingReasonCodes": [],
        "utilizationMetrics": [{"name": "Cpu", "statistic": "Maximum", "value": round(100 * peak, 2)}],
        "lookBackPeriodInDays": LOOKBACK_DAYS,
        "recommendationOptions": [],
        "lastRefreshTimestamp": _refreshed(),
        "currentPerformanceRisk": "VeryLow",
        "instanceState": "running",
        "tags": _tags(resource),
        "idle": "True" if peak <= metrics.IDLE_PEAK else "False",
    }
    if not (gpus and nvidia):
        return recommendation
    recommendation["currentInstanceGpuInfo"] = _gpu_info(resource.instance_type)
    recommendation["utilizationMetrics"] += [
        {"name": "GPU_PERCENTAGE", "statistic": "Maximum", "value": round(100 * peak, 2)},
        {"name": "GPU_MEMORY_PERCENTAGE", "statistic": "Maximum", "value": round(100 * memory_peak, 2)},
    ]
    if peak >= OVERPROVISIONED_BELOW:
        return recommendation
    # Like AWS, an instance is only called over-provisioned when a cheaper type can take its place.
    current_price = rates.regional_price(rates.EC2_HOURLY[resource.instance_type], region)
    needed_mib = memory_peak * gpus * memory_per_gpu
    options = []
    for instance_type, hourly in rates.EC2_HOURLY.items():
        option_gpus, option_memory, option_nvidia = metrics.instance_facts(instance_type)[1:]
        price = rates.regional_price(hourly, region)
        if not option_nvidia or not option_gpus or price >= current_price:
            continue
        risk = RISK_FITS if option_gpus * option_memory >= needed_mib else RISK_TOO_SMALL
        before, after = _savings(current_price, price, discounted=True)
        options.append(
            {
                "instanceType": instance_type,
                "instanceGpuInfo": _gpu_info(instance_type),
                "projectedUtilizationMetrics": [
                    {"name": "GPU_PERCENTAGE", "statistic": "Maximum",
                     "value": round(min(100.0, 100 * peak * gpus / option_gpus), 2)},
                ],
                "performanceRisk": risk,
                "savingsOpportunity": before,
                "savingsOpportunityAfterDiscounts": after,
                "migrationEffort": "Low",
            }
        )  # fmt: skip
    options.sort(
        key=lambda option: (
            option["performanceRisk"],
            -option["savingsOpportunity"]["estimatedMonthlySavings"]["value"],
        )
    )
    if not options:
        return recommendation
    for rank, option in enumerate(options[:3], start=1):
        option["rank"] = rank
    recommendation |= {
        "finding": "Overprovisioned",
        "findingReasonCodes": ["GPUOverprovisioned", "GPUMemoryOverprovisioned"],
        "recommendationOptions": options[:3],
    }
    return recommendation


def get_ec2_instance_recommendations(request: dict, *, account_id: str, region: str) -> dict:
    items = [
        _ec2_recommendation(resource, account_id, region) for resource in _present("ec2_instance", account_id, region)
    ]
    return _page(items, request, "instanceRecommendations")


def _idle(resource: Resource, account_id: str, region: str) -> dict:
    if resource.kind == "sagemaker_endpoint":
        hourly = rates.SAGEMAKER_HOSTING_HOURLY[resource.instance_type]
        arn, resource_type, resource_id = resource.id, "SageMakerEndpoint", resource.name
    else:
        hourly = rates.EC2_HOURLY[resource.instance_type]
        arn = f"arn:aws:ec2:{region}:{account_id}:instance/{resource.id}"
        resource_type, resource_id = "EC2Instance", resource.id
    monthly = rates.regional_price(hourly, region) * resource.count * HOURS_PER_MONTH
    return {
        "resourceArn": arn,
        "resourceId": resource_id,
        "resourceType": resource_type,
        "accountId": account_id,
        "finding": "Idle",
        "findingDescription": f"{resource.name} had no meaningful use in the last {LOOKBACK_DAYS:g} days.",
        "savingsOpportunity": {"savingsOpportunityPercentage": 100.0, "estimatedMonthlySavings": _money(monthly)},
        "savingsOpportunityAfterDiscounts": {
            "savingsOpportunityPercentage": 100.0, "estimatedMonthlySavings": _money(monthly),
        },
        "utilizationMetrics": [{"name": "CPU", "statistic": "Maximum", "value": round(100 * resource.profile.peak, 2)}],
        "lookBackPeriodInDays": LOOKBACK_DAYS,
        "lastRefreshTimestamp": _refreshed(),
        "tags": _tags(resource),
    }  # fmt: skip


def get_idle_recommendations(request: dict, *, account_id: str, region: str) -> dict:
    idle = [
        resource
        for kind in ("sagemaker_endpoint", "ec2_instance")
        for resource in _present(kind, account_id, region)
        if resource.profile.peak <= metrics.IDLE_PEAK
    ]
    return _page([_idle(resource, account_id, region) for resource in idle], request, "idleRecommendations")


def _nothing(key: str):
    def answer(request: dict, *, account_id: str, region: str) -> dict:
        page = _page([], request, key)
        if key == "lambdaFunctionRecommendations":
            page.pop("errors")  # this operation's output has no errors member
        return page

    return answer


ANSWERS = {
    "GetEC2InstanceRecommendations": get_ec2_instance_recommendations,
    "GetIdleRecommendations": get_idle_recommendations,
    "GetAutoScalingGroupRecommendations": _nothing("autoScalingGroupRecommendations"),
    "GetEBSVolumeRecommendations": _nothing("volumeRecommendations"),
    "GetLambdaFunctionRecommendations": _nothing("lambdaFunctionRecommendations"),
    "GetECSServiceRecommendations": _nothing("ecsServiceRecommendations"),
    "GetRDSDatabaseRecommendations": _nothing("rdsDBRecommendations"),
}
