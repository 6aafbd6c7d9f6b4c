"""The sandbox's machines in moto: the catalogue's resources, with the catalogue's ids, and their metrics.

`fleet_seed` creates, through ordinary boto3 calls against moto (its server, or `mock_aws` in tests),
what is running today in every sandbox account: EC2 instances (GPU ones included), the Auto Scaling
groups and EKS managed node groups some of them belong to, SageMaker endpoints with their production
variants, notebook instances and the training jobs of the whole history; then it publishes their
hourly CloudWatch metrics (sandbox/metrics.py). The groups add no spend of their own: they are the
catalogue's instances seen as groups, as on AWS, where the group's instances are what bills.

Each account's resources live in that account in moto: every client carries moto's documented
`x-moto-account-id` header (sandbox.aws.install_handlers). Where moto falls short (GPU SageMaker
types, random instance ids, training jobs without billable time) sandbox/moto_extensions.py fills in.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sandbox import metrics
from sandbox.catalogue import Catalogue, Resource
from sandbox.moto_extensions import forced_instance_ids, moto_extend, training_job_history

logger = logging.getLogger(__name__)

ClientFor = Callable[[str, str, str], Any]  # (service, account id, region) -> boto3 client
AMI = "ami-12c6146b"  # an image moto ships with
SCHEDULE_HOURS = (7, 19)  # a "weekdays" resource runs 07:00-19:00 UTC, Monday to Friday (12 h, as billed)
CLUSTER_ROLE = "arn:aws:iam::{account}:role/costplane-sandbox-eks"
NODE_ROLE = "arn:aws:iam::{account}:role/costplane-sandbox-eks-nodes"
SAGEMAKER_ROLE = "arn:aws:iam::{account}:role/costplane-sandbox-sagemaker"
IMAGE = "763104351884.dkr.ecr.{region}.amazonaws.com/pytorch-inference:2.3-gpu-py311"


@dataclass
class FleetSeed:
    """What `fleet_seed` created, by kind, and how many datapoints it published."""

    created: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    datapoints: int = 0


def auto_scaling_group_name(resource: Resource) -> str | None:
    """The Auto Scaling group an instance belongs to: the CI runners of the platform account."""
    if resource.kind != "ec2_instance":
        return None
    if re.fullmatch(r"gitlab-runner-\d+", resource.name):
        return "gitlab-runners"
    if match := re.fullmatch(r"platform-([a-z0-9-]+)-\d+", resource.name):
        return f"gitlab-runners-{match.group(1)}"
    return None


def node_group(resource: Resource) -> tuple[str, str] | None:
    """(EKS cluster, managed node group) an instance is a node of: inference serving and the ETL pools."""
    if resource.kind != "ec2_instance":
        return None
    if re.fullmatch(r"recsys-serve-inf2-\d+", resource.name):
        return "ml-inference", "recsys-inf2"
    if match := re.fullmatch(r"([a-z]+)-etl-\d+", resource.name):
        return "data-pipelines", f"{match.group(1)}-etl"
    return None


def present(resource: Resource, today: date) -> bool:
    """Exists in AWS today: started, not yet stopped for good (training jobs are kept as history)."""
    if resource.kind == "sagemaker_training_job":
        return resource.start < today
    return resource.start < today and (resource.stop is None or resource.stop > today)


def running_at(resource: Resource, moment: datetime) -> bool:
    if resource.schedule != "weekdays":
        return True
    return moment.weekday() < 5 and SCHEDULE_HOURS[0] <= moment.hour < SCHEDULE_HOURS[1]


def variants(resource: Resource) -> list[dict[str, Any]]:
    """A production endpoint with several instances runs a canary variant beside the primary one."""
    if resource.count >= 2 and resource.tags.get("environment") == "prod":
        return [
            {"VariantName": "primary", "InitialInstanceCount": resource.count - 1, "InitialVariantWeight": 0.9},
            {"VariantName": "canary", "InitialInstanceCount": 1, "InitialVariantWeight": 0.1},
        ]
    return [{"VariantName": "AllTraffic", "InitialInstanceCount": resource.count, "InitialVariantWeight": 1.0}]


def _tags(resource: Resource, extra: dict[str, str] | None = None) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in ({**resource.tags, **(extra or {})}).items()]


def _at_midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def _instances_create(resources: list[Resource], client_for: ClientFor, now: datetime, seed: FleetSeed) -> None:
    for resource in resources:
        ec2 = client_for("ec2", resource.account_id, resource.region)
        extra = {"Name": resource.name}
        if group := auto_scaling_group_name(resource):
            extra["aws:autoscaling:groupName"] = group
        if cluster_and_group := node_group(resource):
            extra |= {"eks:cluster-name": cluster_and_group[0], "eks:nodegroup-name": cluster_and_group[1]}
        with forced_instance_ids([resource.id]):
            ec2.run_instances(
                ImageId=AMI,
                MinCount=1,
                MaxCount=1,
                InstanceType=resource.instance_type,
                Placement={"AvailabilityZone": f"{resource.region}a"},
                TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(resource, extra)}],
            )
        if not running_at(resource, now):
            ec2.stop_instances(InstanceIds=[resource.id])
        seed.created["ec2_instance"] += 1


def _auto_scaling_groups_create(resources: list[Resource], client_for: ClientFor, seed: FleetSeed) -> None:
    groups: dict[tuple[str, str, str], list[Resource]] = defaultdict(list)
    for resource in resources:
        if name := auto_scaling_group_name(resource):
            groups[(resource.account_id, resource.region, name)].append(resource)
    for (account_id, region, name), members in sorted(groups.items()):
        ec2 = client_for("ec2", account_id, region)
        autoscaling = client_for("autoscaling", account_id, region)
        first = members[0]
        ec2.create_launch_template(
            LaunchTemplateName=f"{name}-template",
            LaunchTemplateData={"ImageId": AMI, "InstanceType": first.instance_type},
        )
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchTemplate={"LaunchTemplateName": f"{name}-template"},
            MinSize=0,
            MaxSize=max(4, 2 * len(members)),
            DesiredCapacity=0,  # the members below raise it: the group launches nothing of its own
            AvailabilityZones=[f"{region}a"],
            Tags=[
                {"Key": key, "Value": value, "PropagateAtLaunch": True, "ResourceId": name,
                 "ResourceType": "auto-scaling-group"}
                for key, value in first.tags.items()
            ],
        )  # fmt: skip
        autoscaling.attach_instances(AutoScalingGroupName=name, InstanceIds=[member.id for member in members])
        seed.created["auto_scaling_group"] += 1


def _node_groups_create(resources: list[Resource], client_for: ClientFor, seed: FleetSeed) -> None:
    groups: dict[tuple[str, str, str, str], list[Resource]] = defaultdict(list)
    for resource in resources:
        if cluster_and_group := node_group(resource):
            groups[(resource.account_id, resource.region, *cluster_and_group)].append(resource)
    clusters: set[tuple[str, str, str]] = set()
    for (account_id, region, cluster, name), members in sorted(groups.items()):
        eks = client_for("eks", account_id, region)
        if (account_id, region, cluster) not in clusters:
            eks.create_cluster(
                name=cluster, roleArn=CLUSTER_ROLE.format(account=account_id), resourcesVpcConfig={}, version="1.31"
            )
            clusters.add((account_id, region, cluster))
        team = members[0].tags.get("team")
        eks.create_nodegroup(
            clusterName=cluster,
            nodegroupName=name,
            nodeRole=NODE_ROLE.format(account=account_id),
            subnets=[f"subnet-{account_id}"],
            instanceTypes=sorted({member.instance_type for member in members}),
            scalingConfig={"minSize": 0, "maxSize": max(4, 2 * len(members)), "desiredSize": len(members)},
            tags={"team": team} if team else {},
        )
        seed.created["eks_node_group"] += 1


def _endpoint_create(resource: Resource, client_for: ClientFor) -> None:
    sagemaker = client_for("sagemaker", resource.account_id, resource.region)
    sagemaker.create_model(
        ModelName=resource.name,
        ExecutionRoleArn=SAGEMAKER_ROLE.format(account=resource.account_id),
        PrimaryContainer={"Image": IMAGE.format(region=resource.region)},
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=resource.name,
        ProductionVariants=[
            {**variant, "ModelName": resource.name, "InstanceType": resource.instance_type}
            for variant in variants(resource)
        ],
    )
    sagemaker.create_endpoint(EndpointName=resource.name, EndpointConfigName=resource.name, Tags=_tags(resource))


def _training_job_create(resource: Resource, client_for: ClientFor, today: date) -> None:
    sagemaker = client_for("sagemaker", resource.account_id, resource.region)
    sagemaker.create_training_job(
        TrainingJobName=resource.name,
        AlgorithmSpecification={"TrainingImage": IMAGE.format(region=resource.region), "TrainingInputMode": "File"},
        RoleArn=SAGEMAKER_ROLE.format(account=resource.account_id),
        OutputDataConfig={"S3OutputPath": f"s3://costplane-sandbox-models-{resource.account_id}/training"},
        ResourceConfig={"InstanceType": resource.instance_type, "InstanceCount": resource.count, "VolumeSizeInGB": 200},
        StoppingCondition={"MaxRuntimeInSeconds": 5 * 86400},
        Tags=_tags(resource),
    )
    # The billed days times the billed hours a day, per instance, as AWS counts BillableTimeInSeconds.
    days = ((resource.stop or today) - resource.start).days
    seconds = int(days * resource.hours_per_day * 3600)
    start = _at_midnight(resource.start) + timedelta(hours=8)
    training_job_history(
        account_id=resource.account_id,
        region=resource.region,
        name=resource.name,
        start=start,
        end=start + timedelta(seconds=seconds),
        billable_seconds=seconds,
    )


def fleet_seed(
    *, catalogue: Catalogue, client_for: ClientFor, now: datetime | None = None, metric_days: int = 14
) -> FleetSeed:
    """Create the catalogue's machines in moto and publish `metric_days` of hourly metrics up to `now`.

    `now` defaults to the current hour, or to the start of the catalogue's `today` when that day is not
    today (a sandbox pinned to a past date). Deterministic: the same catalogue and `now` give the same
    resources, ids, tags and datapoints.
    """
    moto_extend()
    current_hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    if now is None:
        now = current_hour if current_hour.date() == catalogue.today else _at_midnight(catalogue.today)
    seed = FleetSeed()
    alive = [resource for resource in catalogue.resources if present(resource, catalogue.today)]
    instances = [resource for resource in alive if resource.kind == "ec2_instance"]
    _instances_create(instances, client_for, now, seed)
    _auto_scaling_groups_create(instances, client_for, seed)
    _node_groups_create(instances, client_for, seed)
    for resource in alive:
        if resource.kind == "sagemaker_endpoint":
            _endpoint_create(resource, client_for)
        elif resource.kind == "sagemaker_notebook":
            client_for("sagemaker", resource.account_id, resource.region).create_notebook_instance(
                NotebookInstanceName=resource.name,
                InstanceType=resource.instance_type,
                RoleArn=SAGEMAKER_ROLE.format(account=resource.account_id),
                Tags=_tags(resource),
            )
        elif resource.kind == "sagemaker_training_job":
            _training_job_create(resource, client_for, catalogue.today)
        else:
            continue
        seed.created[resource.kind] += 1
    seed.datapoints = metrics.metrics_publish(
        resources=alive, client_for=client_for, now=now, days=metric_days, running_at=running_at, variants=variants
    )
    logger.info("sandbox fleet seeded: %s, %d datapoints", dict(seed.created), seed.datapoints)
    return seed
