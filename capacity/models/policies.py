from __future__ import annotations

from django.conf import settings
from django.db import models

DEFAULT_SCHEDULE_TAG_KEY = "costplane:schedule"


class Policy(models.Model):
    """An idle-shutdown or off-hours policy: which resources, what to do to them, and when.

    Selection: `resource_kinds` (Resource.Kind values), `accounts` (none: all), `regions` (empty: all), `tag_filters`
    ({key: [values]}, every key must match one of its values); prod resources only with `include_prod`.
    Trigger: `schedule` (capacity/schedules.py grammar; blank: read from each resource's `schedule_tag_key` tag) or
    `idle` (the idle_* fields). A new policy starts in dry run. Validation lives in capacity/services/policies/.
    """

    class Action(models.TextChoices):
        STOP_START = "stop_start", "Stop and start (EC2 instances, notebook instances)"
        ENDPOINT_DELETE_RECREATE = (
            "endpoint_delete_recreate",
            "Delete a SageMaker endpoint, recreate it from its config",
        )
        SCALE_TO_ZERO = "scale_to_zero", "Scale an Auto Scaling group or EKS node group to zero, restore its size"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Off-hours schedule"
        IDLE = "idle", "Idle rule"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    dry_run = models.BooleanField(default=True, help_text="A new policy only simulates (DryRun=True where AWS has it).")
    resource_kinds = models.JSONField(default=list, blank=True, help_text="capacity.Resource kinds, e.g. ec2_instance.")
    accounts = models.ManyToManyField("finops.CloudAccount", blank=True, related_name="policies")
    regions = models.JSONField(default=list, blank=True, help_text="Empty: every region.")
    tag_filters = models.JSONField(default=dict, blank=True, help_text='{"team": ["vision", "speech"]}')
    include_prod = models.BooleanField(default=False, help_text="Act on resources tagged as production too.")
    action = models.CharField(max_length=32, choices=Action.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    schedule = models.CharField(
        max_length=500, blank=True, help_text="e.g. off=(M-F,19);on=(M-F,7);tz=Europe/Berlin. Blank: the resource tag."
    )
    schedule_tag_key = models.CharField(max_length=128, default=DEFAULT_SCHEDULE_TAG_KEY)
    idle_hours = models.PositiveIntegerField(null=True, blank=True, help_text="Idle rules: hours in a row.")
    idle_gpu_percent = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True, help_text="GPU instances and clusters: idle below this."
    )
    idle_cpu_percent = models.DecimalField(
        max_digits=6, decimal_places=2, null=True, blank=True, help_text="Notebooks: idle below this CPU %."
    )
    grace_minutes = models.PositiveIntegerField(default=30, help_text="Announced this long before it runs.")
    max_actions_per_run = models.PositiveIntegerField(default=10)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    last_run = models.JSONField(
        default=dict, blank=True, help_text="The last evaluation: counts, and per-resource errors (bad schedule tags)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "policies"
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(max_actions_per_run__gte=1), name="policy_cap_positive"),
        ]

    def __str__(self) -> str:
        return self.name
