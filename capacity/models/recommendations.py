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

    planned -> announced -> running -> done | failed | rolled_back; or skipped. Only `planned` is made
    here: the execution engine picks planned actions up. Each recommendation has at most one action.
    """

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        ANNOUNCED = "announced", "Announced"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"
        ROLLED_BACK = "rolled_back", "Rolled back"
        SKIPPED = "skipped", "Skipped"

    recommendation = models.OneToOneField(Recommendation, on_delete=models.PROTECT, related_name="action")
    kind = models.CharField(max_length=32, choices=Recommendation.Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PLANNED)
    account = models.ForeignKey("finops.CloudAccount", on_delete=models.PROTECT, related_name="actions")
    region = models.CharField(max_length=32)
    resource_type = models.CharField(max_length=64)
    resource_arn = models.CharField(max_length=2048)
    resource = models.ForeignKey(
        "capacity.Resource", null=True, blank=True, on_delete=models.SET_NULL, related_name="actions"
    )
    team = models.ForeignKey("finops.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="actions")
    parameters = models.JSONField(default=dict, blank=True, help_text="What to do, e.g. the target instance type.")
    dry_run = models.BooleanField(default=True, help_text="Every account starts in dry run.")
    monthly_savings = models.DecimalField(**MONEY, null=True, blank=True)
    # Execution (capacity/services/actions.py): what was there before, what was put, what AWS said.
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
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "team"])]

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


class TeamChannel(models.Model):
    """Where a team hears about new recommendations worth at least `min_savings` a month."""

    team = models.ForeignKey("finops.Team", on_delete=models.CASCADE, related_name="channels")
    webhook_url = models.URLField(max_length=1024, blank=True, help_text="Slack-compatible incoming webhook.")
    email = models.EmailField(blank=True)
    min_savings = models.DecimalField(**MONEY, default=0, help_text="USD a month.")
    enabled = models.BooleanField(default=True)

    class Meta:
        ordering = ["team__name", "id"]

    def __str__(self) -> str:
        return f"{self.team}: {self.webhook_url or self.email}"


class Notification(models.Model):
    """One announcement of a recommendation to a team channel, and how the channel answered."""

    class Status(models.TextChoices):
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    recommendation = models.ForeignKey(Recommendation, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(TeamChannel, on_delete=models.CASCADE, related_name="notifications")
    status = models.CharField(max_length=16, choices=Status.choices)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    sent_at = models.DateTimeField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            # A recommendation is announced to a channel once; failures may be retried until one is sent.
            models.UniqueConstraint(
                fields=["recommendation", "channel"], condition=models.Q(status="sent"), name="notification_sent_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recommendation_id} -> {self.channel_id}: {self.status}"
