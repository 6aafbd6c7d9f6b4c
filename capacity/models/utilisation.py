from __future__ import annotations

from django.db import models

# Percentages and counts from CloudWatch, kept exactly as decimals (no float drift on re-reads).
MEASURE = {"max_digits": 28, "decimal_places": 8}


class UtilisationHour(models.Model):
    """One resource's metric over one UTC hour, per endpoint variant where AWS publishes per variant.

    An hour without a datapoint is stored with `average`, `maximum` and `total` NULL: unknown, never 0.
    Percentages are 0-100 per device (SageMaker's 0-100 x vCPUs / x GPUs divided back); `total` is the
    hour's Sum, kept for counts (invocations).
    """

    class Metric(models.TextChoices):
        CPU = "cpu", "CPU utilisation (%)"
        GPU = "gpu", "GPU utilisation (%)"
        GPU_MEMORY = "gpu_memory", "GPU memory utilisation (%)"
        INVOCATIONS = "invocations", "Invocations"

    resource = models.ForeignKey("capacity.Resource", on_delete=models.CASCADE, related_name="utilisation")
    metric = models.CharField(max_length=20, choices=Metric.choices)
    variant = models.CharField(max_length=128, blank=True)
    hour = models.DateTimeField()
    average = models.DecimalField(**MEASURE, null=True, blank=True)
    maximum = models.DecimalField(**MEASURE, null=True, blank=True)
    total = models.DecimalField(**MEASURE, null=True, blank=True)
    sample_count = models.DecimalField(**MEASURE, null=True, blank=True)

    class Meta:
        ordering = ["resource", "metric", "variant", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "metric", "variant", "hour"], name="utilisation_hour_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.metric} {self.variant} {self.hour:%Y-%m-%d %H:00}"

    @property
    def missing(self) -> bool:
        return self.average is None and self.total is None
