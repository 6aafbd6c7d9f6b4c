from __future__ import annotations

from django.db import models


class InstanceTypeInfo(models.Model):
    """What an EC2 instance type is made of, from DescribeInstanceTypes; SageMaker's ml.* types map onto these.

    `accelerator_kind` tells GPUs (NVIDIA, AMD) from AWS Neuron devices (Inferentia, Trainium); for a
    Neuron type the gpu_* fields describe its Neuron devices.
    """

    class Accelerator(models.TextChoices):
        NONE = "", "None"
        GPU = "gpu", "GPU"
        NEURON = "neuron", "AWS Neuron"

    instance_type = models.CharField(max_length=64, unique=True)
    vcpus = models.PositiveIntegerField()
    memory_mib = models.PositiveBigIntegerField()
    accelerator_kind = models.CharField(max_length=10, choices=Accelerator.choices, blank=True)
    gpu_count = models.PositiveIntegerField(default=0)
    gpu_model = models.CharField(max_length=100, blank=True)
    gpu_manufacturer = models.CharField(max_length=100, blank=True)
    gpu_memory_mib = models.PositiveBigIntegerField(default=0, help_text="All of the instance's accelerators.")
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["instance_type"]

    def __str__(self) -> str:
        return self.instance_type

    @property
    def gpu_memory_per_gpu_mib(self) -> int:
        return self.gpu_memory_mib // self.gpu_count if self.gpu_count else 0


class Resource(models.Model):
    """A machine, or a group of machines, seen in an account and region by inventory collection.

    Never deleted: one that stops appearing (or an instance that is terminated) gets `gone_at`. The team
    is the one whose tag values hold the resource's team tag (settings.COSTPLANE_TEAM_TAG_KEY).
    `details` holds what only some kinds have: endpoint variants, node group scaling, training times.
    """

    class Kind(models.TextChoices):
        EC2_INSTANCE = "ec2_instance", "EC2 instance"
        AUTO_SCALING_GROUP = "auto_scaling_group", "Auto Scaling group"
        EKS_NODE_GROUP = "eks_node_group", "EKS node group"
        SAGEMAKER_ENDPOINT = "sagemaker_endpoint", "SageMaker endpoint"
        SAGEMAKER_NOTEBOOK = "sagemaker_notebook", "SageMaker notebook instance"
        SAGEMAKER_TRAINING_JOB = "sagemaker_training_job", "SageMaker training job"

    account = models.ForeignKey("finops.CloudAccount", on_delete=models.PROTECT, related_name="resources")
    region = models.CharField(max_length=32)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    resource_id = models.CharField(max_length=2048, help_text="Instance id, or the ARN (as billing lines name it).")
    name = models.CharField(max_length=512, blank=True)
    instance_type = models.CharField(max_length=64, blank=True, help_text="The first type of a mixed group.")
    instance_count = models.PositiveIntegerField(default=1)
    type_info = models.ForeignKey(
        InstanceTypeInfo, null=True, blank=True, on_delete=models.SET_NULL, related_name="resources"
    )
    state = models.CharField(max_length=64, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    team = models.ForeignKey("finops.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="resources")
    launched_at = models.DateTimeField(null=True, blank=True)
    billable_seconds = models.PositiveBigIntegerField(null=True, blank=True, help_text="Training jobs, per instance.")
    details = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    gone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["account__account_id", "region", "kind", "resource_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "region", "kind", "resource_id"], name="resource_unique"),
        ]
        indexes = [models.Index(fields=["kind", "gone_at"]), models.Index(fields=["team", "kind"])]

    def __str__(self) -> str:
        return self.name or self.resource_id

    @property
    def accelerated(self) -> bool:
        return self.type_info is not None and self.type_info.gpu_count > 0
