"""What-if scenarios as demand: each planned project's load on a quota, or on a GPU demand series.

A project (`gpus` GPUs of `instance_type` in `region` from `start` for `months` months, for `team`) runs
ceil(gpus / GPUs per instance) instances. On a quota (ARCHITECTURE.md, "Capacity planning API"): an EC2 type adds
instances × its vCPUs to the On-Demand quota of its family; an ml.* type adds instances to the SageMaker quota
"ml.X for training job usage". Its account is the project's own, else the account where the team's GPU machines in
the region hold most GPUs, else the account with the largest limit of that quota in the region. On GPU demand series:
`gpus` on peak_gpus, gpus × 24 on gpu_hours, for the fleet, the project's team, GPU family and region.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db.models import F, Sum

from capacity.models import CapacityScenario, InstanceTypeInfo, Resource, ScenarioProject, ServiceQuota
from capacity.services.quotas import ec2_quota_code, sagemaker_quota_name
from finops.reports import UNALLOCATED

TRAINING_USE = "training job"


@dataclass(frozen=True)
class ProjectLoad:
    amount: Decimal
    start: date
    end: date  # exclusive
    project_id: int | None = None

    def covers(self, day: date) -> bool:
        return self.start <= day < self.end


def project_end(project: ScenarioProject) -> date:
    return project.start + relativedelta(months=project.months)


def type_info(instance_type: str) -> InstanceTypeInfo | None:
    """The EC2 facts of a type (an ml.* type reads as its EC2 twin)."""
    return InstanceTypeInfo.objects.filter(instance_type=instance_type.removeprefix("ml.")).first()


def project_instances(project: ScenarioProject, info: InstanceTypeInfo) -> int:
    return math.ceil(project.gpus / info.gpu_count)


def _team_account(team: str, region: str) -> str | None:
    key = settings.COSTPLANE_TEAM_TAG_KEY
    machines = (
        Resource.objects.filter(region=region, type_info__gpu_count__gt=0, **{f"tags__{key}": team})
        .values("account__account_id")
        .annotate(gpus=Sum(F("type_info__gpu_count") * F("instance_count")))
        .order_by("-gpus", "account__account_id")
    )
    first = machines.first()
    return first["account__account_id"] if first else None


def project_quota(project: ScenarioProject) -> tuple[tuple[str, str, str, str], Decimal] | None:
    """((account, region, service_code, quota_code), amount in the quota's unit), or None if it maps to no quota."""
    info = type_info(project.instance_type)
    if info is None or info.gpu_count == 0:
        return None
    instances = project_instances(project, info)
    quotas = ServiceQuota.objects.filter(region=project.region).select_related("account")
    if project.instance_type.startswith("ml."):
        name = sagemaker_quota_name(project.instance_type, TRAINING_USE)
        candidates = [quota for quota in quotas.filter(service_code="sagemaker", name=name)]
        amount = Decimal(instances)
    else:
        code = ec2_quota_code(project.instance_type)
        candidates = [quota for quota in quotas.filter(service_code="ec2", quota_code=code)] if code else []
        amount = Decimal(instances * info.vcpus)
    if not candidates:
        return None
    account = project.account or _team_account(project.team, project.region)
    chosen = next((quota for quota in candidates if quota.account.account_id == account), None)
    if chosen is None:
        chosen = max(candidates, key=lambda quota: (quota.value, quota.account.account_id))
    return (chosen.account.account_id, chosen.region, chosen.service_code, chosen.quota_code), amount


def scenario_loads(scenario: CapacityScenario) -> dict[tuple[str, str, str, str], list[ProjectLoad]]:
    """{(account, region, service_code, quota_code): the scenario's project loads on that quota}."""
    loads: dict[tuple, list[ProjectLoad]] = defaultdict(list)
    for project in scenario.projects.all():
        mapped = project_quota(project)
        if mapped is not None:
            key, amount = mapped
            loads[key].append(ProjectLoad(amount, project.start, project_end(project), project.pk))
    return loads


def scenario_series_loads(scenario: CapacityScenario, *, group: str, value: str, metric: str) -> list[ProjectLoad]:
    """The scenario's project loads on one GPU demand series (group fleet/team/gpu_family/region)."""
    loads = []
    for project in scenario.projects.all():
        info = type_info(project.instance_type)
        family = project.instance_type.removeprefix("ml.").split(".", 1)[0]
        matches = {
            "fleet": True,
            "team": value == (project.team or UNALLOCATED),
            "gpu_family": value == family,
            "region": value == project.region,
        }.get(group, False)
        if not matches or info is None or info.gpu_count == 0:
            continue
        gpus = Decimal(project_instances(project, info) * info.gpu_count)
        amount = gpus * 24 if metric == "gpu_hours" else gpus
        loads.append(ProjectLoad(amount, project.start, project_end(project), project.pk))
    return loads
