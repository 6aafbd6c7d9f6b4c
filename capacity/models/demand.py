from __future__ import annotations

from django.db import models

MEASURE = {"max_digits": 28, "decimal_places": 8}


class GpuDemandDay(models.Model):
    """GPU demand of one day for one (team, GPU model, instance family, region) slice.

    `gpu_hours` is billed usage (usage quantity in hours x GPUs per instance type). `peak_gpus` is the
    most GPUs running in any hour of the day where hourly inventory/utilisation data exists
    (`peak_source` "hourly"); without it, the day's average concurrency, gpu_hours / 24 ("average").
    """

    class PeakSource(models.TextChoices):
        HOURLY = "hourly", "Hourly data"
        AVERAGE = "average", "Daily average (no hourly data)"

    day = models.DateField()
    team = models.CharField(max_length=256, help_text="The team tag's value, __unallocated__ when missing.")
    gpu_model = models.CharField(max_length=100)
    instance_family = models.CharField(max_length=32)
    region = models.CharField(max_length=32)
    gpu_hours = models.DecimalField(**MEASURE)
    peak_gpus = models.DecimalField(**MEASURE)
    peak_source = models.CharField(max_length=10, choices=PeakSource.choices)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day", "team", "gpu_model", "instance_family", "region"]
        constraints = [
            models.UniqueConstraint(
                fields=["day", "team", "gpu_model", "instance_family", "region"], name="gpu_demand_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.team} {self.gpu_model} {self.gpu_hours} GPU-h"


class GpuDemandForecast(models.Model):
    """A forecast of daily GPU-hours for one slice (blank dimension = all), with its prediction intervals."""

    team = models.CharField(max_length=256, blank=True)
    gpu_model = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=32, blank=True)
    generated_at = models.DateTimeField()
    history_start = models.DateField()
    history_end = models.DateField(help_text="Exclusive: the first forecast day.")
    horizon_days = models.PositiveIntegerField()
    model = models.CharField(max_length=100)
    scores = models.JSONField(default=dict, blank=True)
    fallback = models.TextField(blank=True)
    points = models.JSONField(default=list, help_text='[{"day", "mean", "lower_80", "upper_80", ...}], decimal strings')

    class Meta:
        ordering = ["-generated_at", "team", "gpu_model", "region"]
        indexes = [models.Index(fields=["team", "gpu_model", "region", "-generated_at"], name="gpu_forecast_slice")]

    def __str__(self) -> str:
        return f"forecast {self.team or 'all'}/{self.gpu_model or 'all'} {self.generated_at:%Y-%m-%d}"
