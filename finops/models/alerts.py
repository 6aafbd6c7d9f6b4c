from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.models.billing import MONEY


class Alert(models.Model):
    """A condition that needs a person: open while its source keeps reporting it, resolved when it clears.

    Sources report the keys that hold now (finops/services/alerts.py, `alerts_sync`); one open alert per
    (kind, key) at a time, so a condition that persists notifies once, and once more when it resolves.
    """

    class Kind(models.TextChoices):
        BUDGET_ACTUAL = "budget_actual", "Budget: actual spend"
        BUDGET_FORECAST = "budget_forecast", "Budget: forecast spend"
        COST_ANOMALY = "cost_anomaly", "Cost anomaly"
        STALE_INGESTION = "stale_ingestion", "Stale ingestion"
        ACTION_FAILED = "action_failed", "Action failed or rolled back"
        QUOTA_HEADROOM = "quota_headroom", "Quota headroom"
        UNALLOCATED_SHARE = "unallocated_share", "Unallocated share"
        BILLING_RESTATEMENT = "billing_restatement", "Billing restatement"
        CAPACITY_PLAN = "capacity_plan", "Capacity plan: request quota"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    key = models.CharField(max_length=255, help_text="What the alert is about within its kind, e.g. account:123.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    team = models.ForeignKey("finops.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts")
    title = models.CharField(max_length=255)
    text = models.TextField(blank=True)
    details = models.JSONField(default=dict, blank=True)
    amount = models.DecimalField(
        **MONEY, null=True, blank=True, help_text="USD at stake (e.g. an anomaly's impact); channels' min_amount."
    )
    opened_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"], condition=models.Q(state="open"), name="alert_open_once_per_key"
            ),
            models.CheckConstraint(
                condition=models.Q(state="open", resolved_at__isnull=True)
                | models.Q(state="resolved", resolved_at__isnull=False),
                name="alert_resolved_has_time",
            ),
        ]
        indexes = [models.Index(fields=["state", "kind"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.key} ({self.state})"
