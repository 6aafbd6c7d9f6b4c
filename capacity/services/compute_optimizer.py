"""Compute Optimizer ingestion: its recommendations for one account and region, stored as Recommendation rows.

Decisions:
- Everything is read first (all seven operations, every page), then stored in one transaction: an AWS
  error (not opted in, throttled past retries) stores nothing and loses nothing already stored.
- Except access denied: each operation is a part, and one AWS refuses fails alone, named with the permission
  the role lacks in the result's `failed`; its stored recommendations stay as they were, the others are stored.
- Each operation's pass is complete, so a live recommendation of that resource type it no longer returns
  expires (recommendations_store).
- `Optimized` findings (and Lambda's `Unavailable`) are not recommendations: nothing to do.
- Savings: the best-ranked option's estimatedMonthlySavings, from savingsOpportunityAfterDiscounts when
  AWS gives it (what the account would really save, after Savings Plans and discounts), else the public
  price one. AWS's doubles become Decimal through their shortest repr.
- Every option is kept (rank, configuration, performance risk, savings, both bases) for the reviewer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from django.db import transaction
from django.utils import timezone

from capacity.aws import ClientFactory, RequestCount
from capacity.aws import compute_optimizer as compute_optimizer_api
from capacity.models import Recommendation
from capacity.services.inventory import clients_for
from capacity.services.recommendations import Proposal, recommendations_store
from finops.aws.clients import access_denied_text
from finops.models import CloudAccount

logger = logging.getLogger(__name__)

NOT_RECOMMENDATIONS = {"Optimized", "Unavailable"}
IDLE_RESOURCE_TYPES = (
    "EC2Instance", "AutoScalingGroup", "EBSVolume", "ECSService", "RDSDBInstance", "NatGateway", "DynamoDBTable",
    "ElastiCacheCluster", "MemoryDBCluster", "DocumentDBCluster", "WorkSpaces", "SageMakerEndpoint",
)  # fmt: skip


def _decimal(value: float | int | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value))


def _savings(option: dict[str, Any]) -> tuple[Decimal | None, str, str]:
    """(monthly savings, currency, basis): after discounts when AWS gives it, else at public prices."""
    for key, basis in (("savingsOpportunityAfterDiscounts", "after_discounts"), ("savingsOpportunity", "public")):
        estimated = (option.get(key) or {}).get("estimatedMonthlySavings")
        if estimated and estimated.get("value") is not None:
            return _decimal(estimated["value"]), estimated.get("currency", "USD"), basis
    return None, "USD", ""


def _tags(item: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag.get("value", "") for tag in item.get("tags") or []}


def _options(options: list[dict[str, Any]], configuration: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    ranked = sorted(options, key=lambda option: option.get("rank", 0))
    result = []
    for option in ranked:
        savings, currency, basis = _savings(option)
        public = ((option.get("savingsOpportunity") or {}).get("estimatedMonthlySavings") or {}).get("value")
        result.append(
            {
                "rank": option.get("rank"),
                "configuration": configuration(option),
                "performance_risk": option.get("performanceRisk"),
                "monthly_savings": None if savings is None else str(savings),
                "monthly_savings_public": None if public is None else str(_decimal(public)),
                "savings_basis": basis,
                "currency": currency,
                "migration_effort": option.get("migrationEffort", ""),
                **({"gpu_info": option["instanceGpuInfo"]} if option.get("instanceGpuInfo") else {}),
            }
        )
    return result


def _rightsize(
    item: dict[str, Any],
    *,
    resource_type: str,
    arn: str,
    finding: str,
    reason_codes: list[str],
    current: str,
    options: list[dict[str, Any]],
    configuration: Callable[[dict[str, Any]], str],
    resource_ids: tuple[str, ...] = (),
    evidence: dict[str, Any] | None = None,
) -> Proposal | None:
    if not finding or finding in NOT_RECOMMENDATIONS:
        return None
    listed = _options(options, configuration)
    best = listed[0] if listed else {}
    savings = None if best.get("monthly_savings") is None else Decimal(best["monthly_savings"])
    currency = best.get("currency", "USD")
    return Proposal(
        kind=Recommendation.Kind.RIGHTSIZE,
        resource_type=resource_type,
        resource_arn=arn,
        finding=finding,
        reason_codes=list(reason_codes or []),
        current_configuration=current,
        recommended_configuration=best.get("configuration", ""),
        performance_risk=_decimal(best.get("performance_risk")),
        options=listed,
        monthly_savings=savings,
        currency=currency,
        evidence={
            "utilization_metrics": item.get("utilizationMetrics", []),
            "lookback_days": item.get("lookBackPeriodInDays") or item.get("lookbackPeriodInDays"),
            "current_performance_risk": item.get("currentPerformanceRisk", ""),
            "last_refresh": item["lastRefreshTimestamp"].isoformat() if item.get("lastRefreshTimestamp") else None,
            **(evidence or {}),
        },
        resource_ids=resource_ids,
        tags=_tags(item),
    )


def ec2_instance_proposal(item: dict[str, Any]) -> Proposal | None:
    arn = item["instanceArn"]
    gpu = {"current_gpu_info": item["currentInstanceGpuInfo"]} if item.get("currentInstanceGpuInfo") else {}
    return _rightsize(
        item, resource_type="Ec2Instance", arn=arn, finding=item.get("finding", ""),
        reason_codes=item.get("findingReasonCodes", []), current=item.get("currentInstanceType", ""),
        options=item.get("recommendationOptions", []), configuration=lambda option: option.get("instanceType", ""),
        resource_ids=(arn.rsplit("/", 1)[-1], item.get("instanceName", "")), evidence=gpu | {"idle": item.get("idle")},
    )  # fmt: skip


def auto_scaling_group_proposal(item: dict[str, Any]) -> Proposal | None:
    return _rightsize(
        item, resource_type="AutoScalingGroup", arn=item["autoScalingGroupArn"], finding=item.get("finding", ""),
        reason_codes=[], current=(item.get("currentConfiguration") or {}).get("instanceType", ""),
        options=item.get("recommendationOptions", []),
        configuration=lambda option: (option.get("configuration") or {}).get("instanceType", ""),
        resource_ids=(item.get("autoScalingGroupName", ""),),
    )  # fmt: skip


def _volume(configuration: dict[str, Any]) -> str:
    return f"{configuration.get('volumeType', '')} {configuration.get('volumeSize', '')} GiB".strip()


def ebs_volume_proposal(item: dict[str, Any]) -> Proposal | None:
    return _rightsize(
        item, resource_type="EbsVolume", arn=item["volumeArn"], finding=item.get("finding", ""), reason_codes=[],
        current=_volume(item.get("currentConfiguration") or {}), options=item.get("volumeRecommendationOptions", []),
        configuration=lambda option: _volume(option.get("configuration") or {}),
        resource_ids=(item["volumeArn"].rsplit("/", 1)[-1],),
    )  # fmt: skip


def lambda_function_proposal(item: dict[str, Any]) -> Proposal | None:
    return _rightsize(
        item, resource_type="LambdaFunction", arn=item["functionArn"], finding=item.get("finding", ""),
        reason_codes=item.get("findingReasonCodes", []), current=f"{item.get('currentMemorySize', '')} MB",
        options=item.get("memorySizeRecommendationOptions", []),
        configuration=lambda option: f"{option.get('memorySize', '')} MB",
    )  # fmt: skip


def _task_size(configuration: dict[str, Any]) -> str:
    return f"{configuration.get('cpu', '')} CPU units, {configuration.get('memory', '')} MiB"


def ecs_service_proposal(item: dict[str, Any]) -> Proposal | None:
    return _rightsize(
        item, resource_type="EcsService", arn=item["serviceArn"], finding=item.get("finding", ""),
        reason_codes=item.get("findingReasonCodes", []),
        current=_task_size(item.get("currentServiceConfiguration") or {}),
        options=item.get("serviceRecommendationOptions", []), configuration=_task_size,
    )  # fmt: skip


def rds_database_proposal(item: dict[str, Any]) -> Proposal | None:
    return _rightsize(
        item, resource_type="RdsDBInstance", arn=item["resourceArn"], finding=item.get("instanceFinding", ""),
        reason_codes=item.get("instanceFindingReasonCodes", []), current=item.get("currentDBInstanceClass", ""),
        options=item.get("instanceRecommendationOptions", []),
        configuration=lambda option: option.get("dbInstanceClass", ""),
        evidence={"engine": item.get("engine", ""), "storage_finding": item.get("storageFinding", "")},
    )  # fmt: skip


def idle_proposal(item: dict[str, Any]) -> Proposal | None:
    savings, currency, basis = _savings(item)
    return Proposal(
        kind=Recommendation.Kind.IDLE,
        resource_type=item.get("resourceType", ""),
        resource_arn=item["resourceArn"],
        finding=item.get("finding", ""),
        monthly_savings=savings,
        currency=currency,
        evidence={
            "description": item.get("findingDescription", ""),
            "utilization_metrics": item.get("utilizationMetrics", []),
            "lookback_days": item.get("lookBackPeriodInDays"),
            "savings_basis": basis,
            "last_refresh": item["lastRefreshTimestamp"].isoformat() if item.get("lastRefreshTimestamp") else None,
        },
        resource_ids=tuple(filter(None, (item.get("resourceId"), item["resourceArn"].rsplit("/", 1)[-1]))),
        tags=_tags(item),
    )


PROPOSALS: dict[str, Callable[[dict[str, Any]], Proposal | None]] = {
    "Ec2Instance": ec2_instance_proposal,
    "AutoScalingGroup": auto_scaling_group_proposal,
    "EbsVolume": ebs_volume_proposal,
    "LambdaFunction": lambda_function_proposal,
    "EcsService": ecs_service_proposal,
    "RdsDBInstance": rds_database_proposal,
    "Idle": idle_proposal,
}


def compute_optimizer_collect(
    *,
    account: CloudAccount,
    region: str,
    client_factory: ClientFactory | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Read every Compute Optimizer recommendation of the account in `region`, then store them.

    Returns counts per resource type, the AWS requests made, per-resource errors AWS reported, the ids of the
    recommendations created (to announce), and `failed`: {resource type: the permission AWS refused}.
    """
    now = now or timezone.now()
    client = clients_for(account=account, region=region, client_factory=client_factory)("compute-optimizer")
    count = RequestCount()
    errors: list[dict[str, Any]] = []
    read: dict[str, list[Proposal]] = {}
    failed: dict[str, str] = {}
    for resource_type in compute_optimizer_api.OPERATIONS:
        try:
            read[resource_type] = [
                proposal
                for item in compute_optimizer_api.recommendations(client, resource_type, count=count, errors=errors)
                if (proposal := PROPOSALS[resource_type](item)) is not None
            ]
        except ClientError as error:
            if (message := access_denied_text(error, service="compute-optimizer")) is None:
                raise
            logger.warning("Compute Optimizer %s in %s %s failed: %s", resource_type, account, region, message)
            failed[resource_type] = message
    result: dict[str, Any] = {
        "requests": count.requests, "errors": errors, "created_ids": [], "types": {}, "failed": failed,
    }  # fmt: skip
    with transaction.atomic():
        for resource_type, proposals in read.items():
            stored = recommendations_store(
                source=Recommendation.Source.COMPUTE_OPTIMIZER, account=account, region=region,
                resource_types=IDLE_RESOURCE_TYPES if resource_type == "Idle" else [resource_type],
                kinds=[Recommendation.Kind.IDLE if resource_type == "Idle" else Recommendation.Kind.RIGHTSIZE],
                proposals=proposals, now=now,
            )  # fmt: skip
            result["created_ids"] += stored.pop("created_ids")
            result["types"][resource_type] = stored
    return result
