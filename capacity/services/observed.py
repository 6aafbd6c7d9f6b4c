"""AWS descriptions of machines turned into `Observed` rows, one shape for every kind. Pure: no ORM, no AWS."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from capacity.models import Resource

FINISHED_TRAINING_STATES = frozenset({"Completed", "Failed", "Stopped"})


@dataclass
class Observed:
    """A resource as one inventory pass saw it. `gone`: AWS still lists it, but it no longer exists
    (a terminated instance). `refresh=False`: seen in a listing only, its stored description still holds."""

    kind: str
    resource_id: str
    name: str = ""
    instance_type: str = ""
    instance_count: int = 1
    state: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    launched_at: datetime | None = None
    billable_seconds: int | None = None
    details: dict[str, Any] = field(default_factory=dict)
    gone: bool = False
    refresh: bool = True


def _tags(entries: list[dict[str, Any]] | dict[str, str] | None) -> dict[str, str]:
    if isinstance(entries, dict):
        return dict(entries)
    return {entry["Key"]: entry.get("Value", "") for entry in entries or []}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def ec2_instance(instance: dict[str, Any]) -> Observed:
    tags = _tags(instance.get("Tags"))
    state = instance.get("State", {}).get("Name", "")
    return Observed(
        kind=Resource.Kind.EC2_INSTANCE,
        resource_id=instance["InstanceId"],
        name=tags.get("Name", ""),
        instance_type=instance.get("InstanceType", ""),
        state=state,
        tags=tags,
        launched_at=instance.get("LaunchTime"),
        details={
            "availability_zone": instance.get("Placement", {}).get("AvailabilityZone", ""),
            "lifecycle": instance.get("InstanceLifecycle", "on-demand"),
            "auto_scaling_group": tags.get("aws:autoscaling:groupName", ""),
            "eks_cluster": tags.get("eks:cluster-name", ""),
            "eks_node_group": tags.get("eks:nodegroup-name", ""),
        },
        gone=state == "terminated",
    )


def auto_scaling_group(group: dict[str, Any]) -> Observed:
    members = group.get("Instances", [])
    types = sorted({member["InstanceType"] for member in members if member.get("InstanceType")})
    return Observed(
        kind=Resource.Kind.AUTO_SCALING_GROUP,
        resource_id=group.get("AutoScalingGroupARN") or group["AutoScalingGroupName"],
        name=group["AutoScalingGroupName"],
        instance_type=types[0] if types else "",
        instance_count=len(members),
        state=group.get("Status") or "active",
        tags=_tags(group.get("Tags")),
        launched_at=group.get("CreatedTime"),
        details={
            "min_size": group.get("MinSize"),
            "max_size": group.get("MaxSize"),
            "desired_capacity": group.get("DesiredCapacity"),
            "instance_ids": sorted(member["InstanceId"] for member in members),
            "instance_types": types,
        },
    )


def eks_node_group(group: dict[str, Any]) -> Observed:
    scaling = group.get("scalingConfig", {})
    types = group.get("instanceTypes") or []
    return Observed(
        kind=Resource.Kind.EKS_NODE_GROUP,
        resource_id=group["nodegroupArn"],
        name=group["nodegroupName"],
        instance_type=types[0] if types else "",
        instance_count=scaling.get("desiredSize", 0),
        state=group.get("status", ""),
        tags=_tags(group.get("tags")),
        launched_at=group.get("createdAt"),
        details={
            "cluster": group.get("clusterName", ""),
            "min_size": scaling.get("minSize"),
            "max_size": scaling.get("maxSize"),
            "desired_size": scaling.get("desiredSize"),
            "instance_types": types,
            "capacity_type": group.get("capacityType", ""),
        },
    )


def sagemaker_endpoint(endpoint: dict[str, Any]) -> Observed:
    configured = {variant["VariantName"]: variant for variant in endpoint["EndpointConfig"]["ProductionVariants"]}
    variants = []
    for variant in endpoint.get("ProductionVariants") or list(configured.values()):
        config = configured.get(variant["VariantName"], {})
        count = variant.get("CurrentInstanceCount", config.get("InitialInstanceCount", 0))
        variants.append(
            {
                "name": variant["VariantName"],
                "instance_type": config.get("InstanceType", ""),
                "instance_count": count,
                "desired_instance_count": variant.get("DesiredInstanceCount", count),
                "weight": variant.get("CurrentWeight", config.get("InitialVariantWeight")),
            }
        )
    return Observed(
        kind=Resource.Kind.SAGEMAKER_ENDPOINT,
        resource_id=endpoint["EndpointArn"],
        name=endpoint["EndpointName"],
        instance_type=next((variant["instance_type"] for variant in variants if variant["instance_type"]), ""),
        instance_count=sum(variant["instance_count"] or 0 for variant in variants),
        state=endpoint.get("EndpointStatus", ""),
        tags=_tags(endpoint.get("Tags")),
        launched_at=endpoint.get("CreationTime"),
        details={"endpoint_config": endpoint["EndpointConfigName"], "variants": variants},
    )


def sagemaker_notebook(notebook: dict[str, Any]) -> Observed:
    return Observed(
        kind=Resource.Kind.SAGEMAKER_NOTEBOOK,
        resource_id=notebook["NotebookInstanceArn"],
        name=notebook["NotebookInstanceName"],
        instance_type=notebook.get("InstanceType", ""),
        state=notebook.get("NotebookInstanceStatus", ""),
        tags=_tags(notebook.get("Tags")),
        launched_at=notebook.get("CreationTime"),
    )


def sagemaker_training_job(job: dict[str, Any]) -> Observed:
    resources = job.get("ResourceConfig", {})
    tags = _tags(job.get("Tags"))
    return Observed(
        kind=Resource.Kind.SAGEMAKER_TRAINING_JOB,
        resource_id=job["TrainingJobArn"],
        name=job["TrainingJobName"],
        instance_type=resources.get("InstanceType", ""),
        instance_count=resources.get("InstanceCount", 1),
        state=job.get("TrainingJobStatus", ""),
        tags=tags,
        launched_at=job.get("TrainingStartTime"),
        billable_seconds=job.get("BillableTimeInSeconds"),
        details={
            "training_start": _iso(job.get("TrainingStartTime")),
            "training_end": _iso(job.get("TrainingEndTime")),
            "training_seconds": job.get("TrainingTimeInSeconds"),
            "managed_spot": job.get("EnableManagedSpotTraining", False),
            "model": tags.get("model", ""),
            "model_version": tags.get("model_version", ""),
        },
    )


def instance_type_facts(entry: dict[str, Any]) -> dict[str, Any]:
    """InstanceTypeInfo fields from a DescribeInstanceTypes entry: GPUs, or else Neuron/Inferentia devices."""
    facts: dict[str, Any] = {
        "vcpus": entry["VCpuInfo"]["DefaultVCpus"],
        "memory_mib": entry["MemoryInfo"]["SizeInMiB"],
        "accelerator_kind": "",
        "gpu_count": 0,
        "gpu_model": "",
        "gpu_manufacturer": "",
        "gpu_memory_mib": 0,
    }
    gpus = (entry.get("GpuInfo") or {}).get("Gpus") or []
    neuron = (entry.get("NeuronInfo") or {}).get("NeuronDevices") or []
    accelerators = (entry.get("InferenceAcceleratorInfo") or {}).get("Accelerators") or []
    if gpus:
        facts |= {
            "accelerator_kind": "gpu",
            "gpu_count": sum(gpu["Count"] for gpu in gpus),
            "gpu_model": gpus[0].get("Name", ""),
            "gpu_manufacturer": gpus[0].get("Manufacturer", ""),
            "gpu_memory_mib": entry["GpuInfo"].get("TotalGpuMemoryInMiB")
            or sum(gpu["Count"] * gpu.get("MemoryInfo", {}).get("SizeInMiB", 0) for gpu in gpus),
        }
    elif neuron or accelerators:
        devices = neuron or accelerators
        facts |= {
            "accelerator_kind": "neuron",
            "gpu_count": sum(device["Count"] for device in devices),
            "gpu_model": devices[0].get("Name", ""),
            "gpu_manufacturer": devices[0].get("Manufacturer", "AWS"),
            "gpu_memory_mib": sum(
                device["Count"] * device.get("MemoryInfo", {}).get("SizeInMiB", 0) for device in devices
            ),
        }
    return facts


def ec2_type_of(instance_type: str) -> str:
    """The EC2 type behind a SageMaker ml.* type (ml.g5.xlarge runs on g5.xlarge hardware)."""
    return instance_type.removeprefix("ml.")
