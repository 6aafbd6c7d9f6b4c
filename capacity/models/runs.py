from __future__ import annotations

from django.db import models


class CollectionRun(models.Model):
    """One capacity collection (inventory, utilisation, prices or quotas) for one account and region."""

    class Kind(models.TextChoices):
        INVENTORY = "inventory", "Inventory"
        UTILISATION = "utilisation", "Utilisation"
        PRICES = "prices", "Prices"
        QUOTAS = "quotas", "Service quotas"
        RESERVATIONS = "reservations", "Capacity reservations"
        FORECASTS = "forecasts", "Forecasts"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=20, choices=Kind.choices)
    account = models.ForeignKey(
        "finops.CloudAccount", null=True, blank=True, on_delete=models.SET_NULL, related_name="collection_runs"
    )
    region = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True, help_text="Exclusive.")
    requests = models.PositiveIntegerField(default=0, help_text="AWS API requests made.")
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["kind", "account", "region", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} run {self.pk} ({self.status})"

    @property
    def duration_seconds(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None
