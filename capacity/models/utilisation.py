from __future__ import annotations

from django.db import models, transaction

from capacity.signals import gpu_hours_stored

# Percentages and counts from CloudWatch, kept exactly as decimals (no float drift on re-reads).
MEASURE = {"max_digits": 28, "decimal_places": 8}


class UtilisationHourQuerySet(models.QuerySet):
    """GPU hours written through the ORM (collection, tests) rebuild the idle GPU cost of the lines over them
    (capacity.services.idle_costs), in the same transaction."""

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        with transaction.atomic():
            created = super().bulk_create(objs, *args, **kwargs)
            _idle_costs_rebuild([row for row in objs if row.metric == UtilisationHour.Metric.GPU])
        return created


def _idle_costs_rebuild(rows) -> None:
    if rows:
        gpu_hours_stored.send(sender=UtilisationHour, rows=rows)


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

    objects = UtilisationHourQuerySet.as_manager()

    class Meta:
        ordering = ["resource", "metric", "variant", "hour"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "metric", "variant", "hour"], name="utilisation_hour_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.resource_id} {self.metric} {self.variant} {self.hour:%Y-%m-%d %H:00}"

    def save(self, *args, **kwargs):
        with transaction.atomic():
            super().save(*args, **kwargs)
            if self.metric == UtilisationHour.Metric.GPU:
                _idle_costs_rebuild([self])

    @property
    def missing(self) -> bool:
        return self.average is None and self.total is None
