"""Costplane's GPU right-sizing over stored utilisation and prices, stored as recommendations.

Decisions:
- Candidates are live GPU EC2 instances (EC2 Linux prices) and live GPU SageMaker endpoints (Hosting
  prices); both read only what collection stored (UtilisationHour, InstanceTypeInfo, Price).
- The types they may move to are every stored, priced GPU type: the fleet's own and TARGET_INSTANCE_TYPES, which
  rightsizing_targets_refresh describes and prices with the daily price refresh.
- A pass covers every account and region that has a candidate or a live Costplane recommendation, so a
  recommendation whose resource became busy, went away, or lost its data expires.
- What is skipped, and why, is returned (and logged in the run's counts by the caller), never hidden.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
from django.utils import timezone

from capacity.models import InstanceTypeInfo, Price, Recommendation, Resource, UtilisationHour
from capacity.rightsizing import (
    CANDIDATE_COLUMNS,
    HOURS_COLUMNS,
    RESOURCE_COLUMNS,
    TARGET_INSTANCE_TYPES,
    gpu_rightsizing,
)
from capacity.selectors.inventory import RUNNING_STATES
from capacity.selectors.prices import price_for
from capacity.services.inventory import instance_types_refresh
from capacity.services.observed import ec2_type_of
from capacity.services.prices import prices_refresh
from capacity.services.recommendations import Proposal, recommendations_store
from finops.aws.clients import aws_client
from finops.models import CloudAccount

KINDS = {
    Resource.Kind.EC2_INSTANCE: ("Ec2Instance", Price.Service.EC2),
    Resource.Kind.SAGEMAKER_ENDPOINT: ("SageMakerEndpoint", Price.Service.SAGEMAKER),
}


def _arn(resource: Resource) -> str:
    if resource.resource_id.startswith("arn:"):
        return resource.resource_id
    return f"arn:aws:ec2:{resource.region}:{resource.account.account_id}:instance/{resource.resource_id}"


def _candidates_frame() -> pd.DataFrame:
    """Every priced GPU type: EC2 (Linux, shared) and SageMaker Hosting (ml.* on the same hardware)."""
    types = {
        info.instance_type: info for info in InstanceTypeInfo.objects.filter(gpu_count__gt=0, accelerator_kind="gpu")
    }
    rows = []
    prices = Price.objects.filter(missing=False).filter(
        service=Price.Service.EC2, operating_system="Linux", tenancy="Shared"
    ) | Price.objects.filter(missing=False, service=Price.Service.SAGEMAKER, component="Hosting")
    for price in prices:
        info = types.get(ec2_type_of(price.instance_type))
        if info is None:
            continue
        rows.append(
            {
                "service": price.service,
                "region": price.region,
                "instance_type": price.instance_type,
                "gpu_count": info.gpu_count,
                "gpu_memory_mib": info.gpu_memory_mib,
                "gpu_manufacturer": info.gpu_manufacturer,
                "hourly_usd": price.hourly_usd,
            }
        )
    return pd.DataFrame(rows, columns=CANDIDATE_COLUMNS)


def _live_gpu_machines() -> list[Resource]:
    """Running GPU EC2 instances and SageMaker endpoints: what right-sizing looks at."""
    return list(
        Resource.objects.filter(
            kind__in=list(KINDS), gone_at__isnull=True, state__in=RUNNING_STATES,
            type_info__gpu_count__gt=0, type_info__accelerator_kind="gpu",
        ).select_related("account", "type_info").order_by("account__account_id", "region", "resource_id")
    )  # fmt: skip


def rightsizing_targets_refresh(
    *, ec2_client: Any | None = None, pricing_client: Any | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Describe (GPUs, GPU memory) and price the GPU types right-sizing may move a machine to, TARGET_INSTANCE_TYPES
    and their `ml.` twins, in every region with a live GPU machine. Prices are otherwise fetched only for the types
    the fleet runs, and a machine can only move to a type whose facts and price are stored: without this, a fleet of
    one GPU type (every oversized ml.g5.12xlarge endpoint, say) gets no recommendation. Returns what it covered."""
    now = now or timezone.now()
    live = _live_gpu_machines()
    if not live:
        return {"regions": [], "instance_types": []}
    if ec2_client is None:  # instance type facts are the same in every account: ask as the first fleet account
        ec2_client = aws_client("ec2", account=live[0].account, region=live[0].region)
    instance_types_refresh(names=TARGET_INSTANCE_TYPES, client=ec2_client, now=now)
    regions = sorted({resource.region for resource in live})
    names = [*TARGET_INSTANCE_TYPES, *(f"ml.{name}" for name in TARGET_INSTANCE_TYPES)]
    prices_refresh(regions=regions, instance_types=names, client=pricing_client, today=now.date())
    return {"regions": regions, "instance_types": names}


def gpu_rightsizing_refresh(
    *,
    now: datetime | None = None,
    lookback_days: int = 14,
    gpu_p95_threshold: float = 40.0,
    gpu_memory_p95_threshold: float = 50.0,
    memory_headroom: float = 0.2,
    min_coverage: float = 0.8,
) -> dict[str, Any]:
    """Recommend cheaper GPU types for under-used GPU machines; returns counts and the skipped resources."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(days=lookback_days)
    live = _live_gpu_machines()
    by_pk = {resource.pk: resource for resource in live}
    hours = pd.DataFrame.from_records(
        list(
            UtilisationHour.objects.filter(
                resource_id__in=list(by_pk), metric__in=["gpu", "gpu_memory"], hour__gte=start, hour__lt=end
            ).values_list("resource_id", "metric", "hour", "average", "maximum")
        ),
        columns=HOURS_COLUMNS,
    )
    resources = pd.DataFrame(
        [
            {
                "resource_id": resource.pk,
                "service": KINDS[resource.kind][1],
                "region": resource.region,
                "instance_type": resource.instance_type,
                "instance_count": resource.instance_count,
                "gpu_count": resource.type_info.gpu_count,
                "gpu_memory_mib": resource.type_info.gpu_memory_mib,
                "gpu_manufacturer": resource.type_info.gpu_manufacturer,
                "hourly_usd": getattr(price_for(region=resource.region, instance_type=resource.instance_type),
                                      "hourly_usd", None),
            }
            for resource in live
        ],
        columns=RESOURCE_COLUMNS,
    )  # fmt: skip
    found, skipped = gpu_rightsizing(
        hours, resources, _candidates_frame(),
        hours_expected=int((end - start) / timedelta(hours=1)),
        gpu_p95_threshold=gpu_p95_threshold, gpu_memory_p95_threshold=gpu_memory_p95_threshold,
        memory_headroom=memory_headroom, min_coverage=min_coverage,
    )  # fmt: skip
    proposals: dict[tuple[int, str], list[Proposal]] = {}
    for row in found.to_dict("records"):
        resource = by_pk[row["resource_id"]]
        resource_type = KINDS[resource.kind][0]
        proposals.setdefault((resource.account_id, resource.region), []).append(
            Proposal(
                kind=Recommendation.Kind.RIGHTSIZE,
                resource_type=resource_type,
                resource_arn=_arn(resource),
                finding="GPUOverprovisioned",
                reason_codes=["GPUOverprovisioned", "GPUMemoryOverprovisioned"],
                current_configuration=row["current_type"],
                recommended_configuration=row["recommended_type"],
                options=[{"instance_type": row["recommended_type"], "hourly_usd": str(row["recommended_hourly_usd"]),
                          "monthly_savings": str(row["monthly_savings"])}],
                monthly_savings=Decimal(row["monthly_savings"]),
                evidence=row["evidence"] | {"lookback_start": start.isoformat(), "lookback_end": end.isoformat()},
                resource_ids=(resource.resource_id,),
                tags=resource.tags,
            )
        )  # fmt: skip
    scopes = {(resource.account_id, resource.region) for resource in live} | set(
        Recommendation.objects.filter(source=Recommendation.Source.COSTPLANE)
        .exclude(state=Recommendation.State.EXPIRED)
        .values_list("account_id", "region")
    )
    accounts = {resource.account_id: resource.account for resource in live}
    counts: dict[str, Any] = {"created": 0, "updated": 0, "expired": 0, "created_ids": []}
    for account_id, region in sorted(scopes):
        account = accounts.get(account_id) or CloudAccount.objects.get(pk=account_id)
        stored = recommendations_store(
            source=Recommendation.Source.COSTPLANE, account=account, region=region,
            resource_types=[resource_type for resource_type, _ in KINDS.values()],
            proposals=proposals.get((account_id, region), []), now=now,
        )  # fmt: skip
        for key in ("created", "updated", "expired", "created_ids"):
            counts[key] += stored[key]
    counts["recommended"] = len(found)
    counts["skipped"] = [
        {"resource": str(by_pk[row["resource_id"]]), "resource_id": by_pk[row["resource_id"]].resource_id,
         "reason": row["reason"]}
        for row in skipped.to_dict("records")
    ]  # fmt: skip
    return counts
