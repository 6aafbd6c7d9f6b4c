"""Service Quotas: the GPU-relevant limits of an account and region, with the usage counted against them.

Kept: the EC2 on-demand vCPU quotas of the P, G (and VT), Inf, Trn and DL families, and the SageMaker per
instance type quotas ("ml.g5.xlarge for endpoint usage", "... for training job usage", "... for
notebook instance usage") of accelerated families (g, p, inf, trn).

Usage: Service Quotas does not return it (AWS publishes it as AWS/Usage metrics). Costplane counts it
from its own inventory of the same account and region: vCPUs of running on-demand instances of the
family; instances of the type in in-service endpoints, in-progress training jobs, in-service
notebooks. Before the first successful inventory of the account and region, usage is unknown (NULL).
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from capacity.aws import ClientFactory
from capacity.aws import service_quotas as service_quotas_api
from capacity.models import CollectionRun, Resource, ServiceQuota
from capacity.services.inventory import clients_for
from capacity.services.runs import collection_run
from finops.models import CloudAccount

# EC2 quota code -> the instance families it limits (vCPUs of running on-demand instances), each family named by
# the letters before its generation digit (`_family`): "p" is p2, p3, p3dn, p4d, p4de, p5, p5e, p5en, p6-b200...;
# "g" is g3, g4dn, g4ad, g5, g5g, g6, g6e, g6f... and "gr" is gr6 (both G and VT, as is vt1); "inf" is inf1 and
# inf2 (never i3, i4i: their family is "i"); "trn" is trn1, trn1n, trn2; "dl" is dl1, dl2q.
EC2_GPU_QUOTAS = {
    "L-417A185B": ("p",),  # Running On-Demand P instances
    "L-DB2E81BA": ("g", "gr", "vt"),  # Running On-Demand G and VT instances
    "L-1945791B": ("inf",),  # Running On-Demand Inf instances
    "L-2C3B7624": ("trn",),  # Running On-Demand Trn instances
    "L-6E869C2A": ("dl",),  # Running On-Demand DL instances
}
SAGEMAKER_QUOTA = re.compile(
    r"^(?P<type>ml\.(?:g|p|inf|trn)\d\w*\.\w+) for (?P<use>endpoint|training job|notebook instance) usage$"
)
SAGEMAKER_USES = {
    "endpoint": (Resource.Kind.SAGEMAKER_ENDPOINT, "InService"),
    "training job": (Resource.Kind.SAGEMAKER_TRAINING_JOB, "InProgress"),
    "notebook instance": (Resource.Kind.SAGEMAKER_NOTEBOOK, "InService"),
}


def _family(instance_type: str) -> str:
    """The letters before the generation digit: "p" of p4d.24xlarge and p6-b200.48xlarge, "gr" of gr6.4xlarge."""
    match = re.match(r"[a-z]+", instance_type or "")
    return match.group(0) if match else ""


def ec2_quota_code(instance_type: str) -> str | None:
    """The On-Demand vCPU quota (of EC2_GPU_QUOTAS) that running `instance_type` counts against, or None.

    None for the types of other quotas (Standard, F, X, ...) and for SageMaker's ml.* types, which count against
    SageMaker's per-type quotas instead (`sagemaker_quota_name`).
    """
    if not instance_type or instance_type.startswith("ml."):
        return None
    family = _family(instance_type)
    return next((code for code, families in EC2_GPU_QUOTAS.items() if family in families), None)


def sagemaker_quota_name(instance_type: str, use: str) -> str:
    """The name of the SageMaker quota of an ml.* type and use ("endpoint", "training job", "notebook instance")."""
    if use not in SAGEMAKER_USES:
        raise ValueError(f"use must be one of {sorted(SAGEMAKER_USES)}, not {use!r}")
    return f"{instance_type} for {use} usage"


def sagemaker_quota_code(*, account: CloudAccount, region: str, instance_type: str, use: str) -> str | None:
    """The stored code of the SageMaker quota of `instance_type` and `use` in the account and region, or None.

    SageMaker's per-type quota codes are opaque (they differ by type and use, not by any rule), so the code is
    looked up by the quota's name among the quotas `quotas_refresh` stored.
    """
    name = sagemaker_quota_name(instance_type, use)
    return (
        ServiceQuota.objects.filter(account=account, region=region, service_code="sagemaker", name=name)
        .values_list("quota_code", flat=True)
        .first()
    )


def _ec2_usage(resources: list[Resource], families: tuple[str, ...]) -> Decimal:
    return Decimal(
        sum(
            resource.type_info.vcpus
            for resource in resources
            if resource.kind == Resource.Kind.EC2_INSTANCE
            and resource.state in ("pending", "running")
            and resource.details.get("lifecycle", "on-demand") != "spot"
            and resource.type_info is not None
            and _family(resource.instance_type) in families
        )
    )


def _sagemaker_usage(resources: list[Resource], instance_type: str, use: str) -> Decimal:
    kind, state = SAGEMAKER_USES[use]
    total = 0
    for resource in resources:
        if resource.kind != kind or resource.state != state:
            continue
        if kind == Resource.Kind.SAGEMAKER_ENDPOINT:
            variants = resource.details.get("variants", [])
            total += sum(v["instance_count"] or 0 for v in variants if v["instance_type"] == instance_type)
        elif resource.instance_type == instance_type:
            total += resource.instance_count
    return Decimal(total)


def quotas_refresh(
    *, account: CloudAccount, region: str, client_factory: ClientFactory | None = None, now: datetime | None = None
) -> CollectionRun:
    """Fetch the GPU-relevant quotas of the account and region and store them with their counted usage."""
    now = now or timezone.now()
    with collection_run(kind=CollectionRun.Kind.QUOTAS, account=account, region=region) as (run, count):
        client = clients_for(account=account, region=region, client_factory=client_factory)("service-quotas")
        kept: list[tuple[dict, str, str]] = []  # (quota, what it limits, use)
        for quota in service_quotas_api.service_quotas(client, service_code="ec2", count=count):
            if quota["QuotaCode"] in EC2_GPU_QUOTAS:
                kept.append((quota, quota["QuotaCode"], ""))
        for quota in service_quotas_api.service_quotas(client, service_code="sagemaker", count=count):
            if match := SAGEMAKER_QUOTA.match(quota["QuotaName"]):
                kept.append((quota, match["type"], match["use"]))
        inventoried = CollectionRun.objects.filter(
            kind=CollectionRun.Kind.INVENTORY, account=account, region=region, status=CollectionRun.Status.SUCCEEDED
        ).exists()
        resources = list(
            Resource.objects.filter(account=account, region=region, gone_at__isnull=True)
            .filter(Q(kind=Resource.Kind.EC2_INSTANCE) | Q(kind__startswith="sagemaker_"))
            .select_related("type_info")
        )
        with transaction.atomic():
            for quota, limited, use in kept:
                if not inventoried:
                    usage = None
                elif quota["ServiceCode"] == "ec2":
                    usage = _ec2_usage(resources, EC2_GPU_QUOTAS[limited])
                else:
                    usage = _sagemaker_usage(resources, limited, use)
                ServiceQuota.objects.update_or_create(
                    account=account,
                    region=region,
                    service_code=quota["ServiceCode"],
                    quota_code=quota["QuotaCode"],
                    defaults={
                        "name": quota["QuotaName"],
                        "value": Decimal(repr(quota["Value"])),
                        "unit": quota.get("Unit", ""),
                        "usage": usage,
                        "usage_metric": quota.get("UsageMetric", {}),
                        "adjustable": quota.get("Adjustable", False),
                        "fetched_at": now,
                    },
                )
        run.counts = {"quotas": len(kept), "usage_known": inventoried}
    return run
