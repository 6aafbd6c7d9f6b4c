from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.models.billing import MONEY


class Recommendation(models.Model):
    """A proposed change to one resource, from Compute Optimizer or Costplane's own GPU right-sizing.

    States: open -> approved | rejected | snoozed (until a date) | expired; every change is a
    RecommendationTransition row. At most one non-expired recommendation exists per source, resource and
    kind: ingestion refreshes it in place, and one that stops appearing expires (a later one is a new row).
    """

    class Source(models.TextChoices):
        COMPUTE_OPTIMIZER = "compute_optimizer", "AWS Compute Optimizer"
        COSTPLANE = "costplane", "Costplane GPU right-sizing"

    class Kind(models.TextChoices):
        RIGHTSIZE = "rightsize", "Right-size"
        IDLE = "idle", "Idle: stop or delete"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SNOOZED = "snoozed", "Snoozed"
        EXPIRED = "expired", "Expired"

    source = models.CharField(max_length=32, choices=Source.choices)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    account = models.ForeignKey("finops.CloudAccount", on_delete=models.PROTECT, related_name="recommendations")
    region = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=64, help_text="AWS's name: Ec2Instance, EbsVolume, SageMakerEndpoint…")
    resource_arn = models.CharField(max_length=2048)
    resource = models.ForeignKey(
        "capacity.Resource", null=True, blank=True, on_delete=models.SET_NULL, related_name="recommendations"
    )
    team = models.ForeignKey(
        "finops.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="recommendations"
    )
    finding = models.CharField(max_length=64, blank=True)
    reason_codes = models.JSONField(default=list, blank=True)
    current_configuration = models.CharField(max_length=256, blank=True, help_text="Instance type, volume type…")
    recommended_configuration = models.CharField(max_length=256, blank=True)
    performance_risk = models.DecimalField(max_digits=10, decimal_places=4, null=True, blank=True)
    options = models.JSONField(default=list, blank=True, help_text="Every option offered, best first.")
    monthly_savings = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    evidence = models.JSONField(default=dict, blank=True)
    snoozed_until = models.DateField(null=True, blank=True)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    expired_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [models.F("monthly_savings").desc(nulls_last=True), "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "account", "region", "resource_arn", "kind"],
                condition=~models.Q(state="expired"),
                name="recommendation_one_live_per_resource",
            ),
            models.CheckConstraint(
                condition=~models.Q(state="snoozed") | models.Q(snoozed_until__isnull=False),
                name="recommendation_snoozed_has_until",
            ),
        ]
        indexes = [models.Index(fields=["state", "team"]), models.Index(fields=["source", "account", "region"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.resource_arn} ({self.state})"


class RecommendationTransition(models.Model):
    """One change of a recommendation's state: who (a user) or what (`actor`), when, from, to and why."""

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=16, blank=True, help_text="Blank: created.")
    to_state = models.CharField(max_length=16)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.CharField(max_length=150, help_text="The username, or the process (e.g. ingestion).")
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["recommendation", "at", "id"]

    def __str__(self) -> str:
        return f"{self.recommendation_id}: {self.from_state or '-'} -> {self.to_state} by {self.actor}"


class Action(models.Model):
    """A change to carry out, made when a recommendation is approved (ARCHITECTURE.md, "Actions").

    planned -> announced -> running -> done | failed | rolled_back; or skipped. An approval makes a `planned`
    right-sizing action (one per recommendation); a policy makes `announced` ones (stop, start, delete, recreate,
    scale_to_zero, restore) with `run_after` (the end of the grace period) and `transition_at` (the schedule
    boundary or idle decision it belongs to), at most one per policy, resource, kind and boundary. A policy action
    skipped only because the run's cap was reached is `capped`: the cap limits a run, it decides nothing, so it is
    kept apart from that one (at most one capped record per boundary) and a later run may still act on the boundary.
    A running action's worker refreshes `heartbeat_at`; one whose lease ran out is resolved by looking at AWS.
    """

    class Kind(models.TextChoices):
        RIGHTSIZE = "rightsize", "Right-size"
        IDLE = "idle", "Idle: stop or delete"
        STOP = "stop", "Stop"
        START = "start", "Start"
        DELETE = "delete", "Delete endpoint"
        RECREATE = "recreate", "Recreate endpoint"
        SCALE_TO_ZERO = "scale_to_zero", "Scale to zero"
        RESTORE = "restore", "Restore size"

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        ANNOUNCED = "announced", "Announced"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"
        SKIPPED = "skipped", "Skipped"

    recommendation = models.OneToOneField(
        Recommendation, null=True, blank=True, on_delete=models.PROTECT, related_name="action"
    )
    policy = models.ForeignKey(
        "capacity.Policy", null=True, blank=True, on_delete=models.PROTECT, related_name="actions"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNED)
    account = models.ForeignKey("finops.CloudAccount", on_delete=models.PROTECT, related_name="actions")
    region = models.CharField(max_length=32)
    resource_type = models.CharField(
        max_length=64, help_text="Resource.Kind's value: ec2_instance, sagemaker_endpoint… (not Compute Optimizer's)."
    )
    resource_arn = models.CharField(max_length=2048)
    resource = models.ForeignKey(
        "capacity.Resource", null=True, blank=True, on_delete=models.SET_NULL, related_name="actions"
    )
    team = models.ForeignKey("finops.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="actions")
    parameters = models.JSONField(default=dict, blank=True, help_text="What to do, e.g. the target instance type.")
    dry_run = models.BooleanField(default=True, help_text="Every account starts in dry run.")
    monthly_savings = models.DecimalField(**MONEY, null=True, blank=True)
    # Execution (capacity/services/actions/): what was there before, what was put, what AWS said.
    old_configuration = models.CharField(max_length=256, blank=True, help_text="Instance type before the change.")
    new_configuration = models.CharField(max_length=256, blank=True, help_text="Instance type put in place.")
    next_window_at = models.DateTimeField(null=True, blank=True, help_text="Announced: when the window opens.")
    executed_at = models.DateTimeField(null=True, blank=True, help_text="When the change finished (done).")
    result = models.JSONField(default=dict, blank=True, help_text="The steps and AWS's answers; dry-run results.")
    error = models.TextField(blank=True)
    realised_monthly_savings = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Measured from cost data after the change; never estimated."
    )
    realised_measured_at = models.DateTimeField(null=True, blank=True)
    # Policy actions (capacity/services/policies/): why, what it saves, which boundary, when it may run.
    reason = models.TextField(blank=True)
    hourly_saving = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="Estimated from on-demand prices; blank when no price is known."
    )
    transition_at = models.DateTimeField(null=True, blank=True, help_text="The schedule boundary or idle decision.")
    run_after = models.DateTimeField(null=True, blank=True, help_text="Announced: runs at or after this time.")
    capped = models.BooleanField(
        default=False, help_text="Skipped only because the policy's cap per run was reached; a later run may act."
    )
    # Crash safety: the worker refreshes heartbeat_at while it runs; the sweeper resolves expired leases.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Times a worker started it.")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "team"]), models.Index(fields=["policy", "state"])]
        constraints = [
            models.UniqueConstraint(
                fields=["policy", "resource", "kind", "transition_at"],
                condition=models.Q(policy__isnull=False, capped=False),
                name="action_once_per_policy_boundary",
            ),
            models.UniqueConstraint(
                fields=["policy", "resource", "kind", "transition_at"],
                condition=models.Q(policy__isnull=False, capped=True),
                name="action_capped_once_per_policy_boundary",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.resource_arn} ({self.state})"


class ActionTransition(models.Model):
    """One change of an action's state: who or what, when, from, to and why."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="transitions")
    from_state = models.CharField(max_length=16, blank=True, help_text="Blank: created.")
    to_state = models.CharField(max_length=16)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    actor = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["action", "at", "id"]

    def __str__(self) -> str:
        return f"{self.action_id}: {self.from_state or '-'} -> {self.to_state} by {self.actor}"
