from __future__ import annotations

from django.conf import settings
from django.db import models

from finops.models.billing import MONEY


class AnomalySource(models.TextChoices):
    COSTPLANE = "costplane", "Costplane"
    AWS = "aws", "AWS Cost Anomaly Detection"


class CostAnomalyIncident(models.Model):
    """One cost spike, listed once however many dimensions saw it: the anomalies of one day, or of consecutive
    days, whose rises come from the same resources (a team's spike is usually also its service's and its
    account's) belong to one incident (finops.anomalies.incident_groups).

    The figures it is listed by are its largest anomaly's; its impact is per day the largest (the dimensions are
    views of the same spend, so their impacts overlap and are never added), summed over its days. Feedback given
    on an incident goes to each of its anomalies; its alert (key `incident:{id}`) opens once. AWS's anomalies are
    one incident each.
    """

    source = models.CharField(max_length=12, choices=AnomalySource.choices, default=AnomalySource.COSTPLANE)
    day = models.DateField(help_text="The anomalous day (AWS: the anomaly's start date).")
    end_day = models.DateField(null=True, blank=True, help_text="AWS: the anomaly's end date, if it ended.")
    impact = models.DecimalField(
        **MONEY, help_text="Per day the largest impact among its anomalies (they overlap), summed over its days."
    )
    detected_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "-impact", "id"]
        indexes = [models.Index(fields=["-day", "-impact"], name="cost_incident_day_impact")]

    def __str__(self) -> str:
        return f"Incident {self.pk} on {self.day}: +{self.impact:.2f}"

    @property
    def seen_in(self) -> list[CostAnomaly]:
        """Its anomalies, one per dimension value that saw it (the largest, where the spike lasted several days)."""
        members = getattr(self, "members", None)
        if members is None:
            members = list(self.anomalies.order_by("-impact", "id"))
        unique: dict[tuple[str, str], CostAnomaly] = {}
        for anomaly in members:
            unique.setdefault((anomaly.dimension, anomaly.value), anomaly)
        return list(unique.values())

    @property
    def lead(self) -> CostAnomaly | None:
        """Its largest anomaly, whose figures (expected, actual, score, contributors) it is listed by. Reads the
        anomalies the selectors load (`members`, largest impact first) when they did."""
        members = getattr(self, "members", None)
        if members is None:
            members = list(self.anomalies.order_by("-impact", "id")[:1])
        return members[0] if members else None


class CostAnomaly(models.Model):
    """A day whose cost for one dimension value (a service, an account, a team) is far above its baseline.

    Ours come from finops.anomalies (the median of the same weekday over the previous weeks, a MAD-scaled
    score); AWS's from Cost Explorer GetAnomalies, kept as separate rows with source "aws". Each belongs to
    the incident it is part of (CostAnomalyIncident), which pages and the API list.
    """

    Source = AnomalySource

    class Dimension(models.TextChoices):
        SERVICE = "service", "Service"
        ACCOUNT = "account", "Account"
        TEAM = "team", "Team"

    class Feedback(models.TextChoices):
        REAL = "real", "Real anomaly"
        EXPECTED = "expected", "Expected"
        NOT_ANOMALY = "not_anomaly", "Not an anomaly"

    source = models.CharField(max_length=12, choices=Source.choices, default=Source.COSTPLANE)
    dimension = models.CharField(max_length=12, choices=Dimension.choices)
    value = models.TextField(help_text="The service name, account id (any sub-account id) or team slug.")
    day = models.DateField(help_text="The anomalous day (AWS: the anomaly's start date).")
    end_day = models.DateField(null=True, blank=True, help_text="AWS: the anomaly's end date, if it ended.")
    expected = models.DecimalField(**MONEY)
    actual = models.DecimalField(**MONEY)
    impact = models.DecimalField(**MONEY, help_text="Actual minus expected.")
    score = models.FloatField(help_text="Ours: (actual − baseline median) / (1.4826 × MAD). AWS: its max score.")
    currency = models.CharField(max_length=3, default="USD", help_text="ISO 4217: the series' billing currency.")
    contributors = models.JSONField(
        default=dict, blank=True, help_text='{"usage_types": [...], "resources": [...]} or AWS root causes.'
    )
    account = models.ForeignKey(
        "finops.CloudAccount", null=True, blank=True, on_delete=models.CASCADE, related_name="cost_anomalies",
        help_text="AWS: the account whose Cost Explorer reported it.",
    )  # fmt: skip
    external_id = models.CharField(max_length=256, blank=True, help_text="AWS: AnomalyId.")
    monitor_arn = models.CharField(max_length=2048, blank=True)
    incident = models.ForeignKey(
        CostAnomalyIncident, null=True, blank=True, on_delete=models.SET_NULL, related_name="anomalies"
    )
    feedback = models.CharField(max_length=12, choices=Feedback.choices, blank=True)
    feedback_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    feedback_at = models.DateTimeField(null=True, blank=True)
    detected_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-day", "-impact", "id"]
        constraints = [
            models.UniqueConstraint(
                # A series is one value in one billing currency: amounts in two currencies are never added.
                fields=["dimension", "value", "currency", "day"],
                condition=models.Q(source="costplane"),
                name="cost_anomaly_once_per_value_day",
            ),
            models.UniqueConstraint(
                fields=["account", "external_id"], condition=models.Q(source="aws"), name="cost_anomaly_aws_unique"
            ),
        ]
        indexes = [models.Index(fields=["dimension", "value", "-day"], name="cost_anomaly_value_day")]

    def __str__(self) -> str:
        return f"{self.get_dimension_display()} {self.value} on {self.day}: +{self.impact:.2f}"
