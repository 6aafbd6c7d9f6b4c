from __future__ import annotations

from django.db import models

MEASURE = {"max_digits": 28, "decimal_places": 8}


class GpuDemandDay(models.Model):
    """GPU demand of one day for one (team, GPU model, instance family, region) slice.

    `gpu_hours` is billed usage (usage quantity in hours x GPUs per instance type). `peak_gpus` is the slice's
    most GPUs running in one hour of the day where the slice's machines have hourly data (`peak_source` "hourly");
    without it, its average concurrency rounded up to whole GPUs, ceil(gpu_hours / 24) ("average"). These peaks
    serve the per-group forecasts; slices' peaks never add up to the fleet's peak (they need not fall in the same
    hour): that is GpuPeakDay.
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
    peak_gpus = models.PositiveIntegerField(help_text="Whole GPUs.")
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


class GpuPeakDay(models.Model):
    """The whole fleet's peak concurrent GPUs of one day, whole GPUs, never above `inventory_gpus`.

    Where machines have hourly data that day (`source` "hourly"): the most GPUs running at once, the maximum over
    the day's hours of the GPUs of every machine reporting in that hour (`peak_hour`); `hours_with_data` < 24 says
    the day is partly covered. Without any hourly data ("average"): the fleet's billed GPU-hours / 24 rounded up,
    an estimate from a daily total, capped at the GPUs in inventory that day. The two are different measures and
    are shown apart.
    """

    class Source(models.TextChoices):
        HOURLY = "hourly", "Hourly data"
        AVERAGE = "average", "Daily average (no hourly data)"

    day = models.DateField(unique=True)
    peak_gpus = models.PositiveIntegerField(help_text="Whole GPUs.")
    source = models.CharField(max_length=10, choices=Source.choices)
    peak_hour = models.DateTimeField(null=True, blank=True, help_text="The first hour of the peak (hourly days).")
    hours_with_data = models.PositiveSmallIntegerField(default=0)
    inventory_gpus = models.PositiveIntegerField(
        help_text="GPUs of the inventoried machines that had not gone before the day (training jobs: those running)."
    )
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} peak {self.peak_gpus} GPUs ({self.source})"


class GpuGroupPeakDay(models.Model):
    """The peak concurrent GPUs of one day for one team, GPU family (instance family) or region, whole GPUs.

    As GpuPeakDay for the fleet: "hourly" is the most GPUs of the group running in one hour of the day; "average" the
    group's billed GPU-hours / 24 rounded up, on a day without hourly data. Never a sum of slices' peaks.
    """

    class Group(models.TextChoices):
        TEAM = "team", "Team"
        GPU_FAMILY = "gpu_family", "GPU family"
        REGION = "region", "Region"

    group = models.CharField(max_length=16, choices=Group.choices)
    value = models.CharField(max_length=256)
    day = models.DateField()
    peak_gpus = models.PositiveIntegerField(help_text="Whole GPUs.")
    source = models.CharField(max_length=10, choices=GpuPeakDay.Source.choices)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["group", "value", "day"]
        constraints = [models.UniqueConstraint(fields=["group", "value", "day"], name="gpu_group_peak_day_unique")]

    def __str__(self) -> str:
        return f"{self.day} {self.group}={self.value} peak {self.peak_gpus} GPUs"


class GpuDemandForecast(models.Model):
    """A forecast of one demand series with its prediction intervals and the chosen model's backtest scores.

    `group` fleet (value blank), team, gpu_family, region: GPU demand, `metric` gpu_hours (daily GPU-hours) or
    peak_gpus (daily peak concurrent GPUs). `group` quota: the demand against one quota (value
    "account:region:service_code:quota_code", metric "quota_demand", in the quota's unit).
    """

    class Group(models.TextChoices):
        FLEET = "fleet", "Fleet"
        TEAM = "team", "Team"
        GPU_FAMILY = "gpu_family", "GPU family"
        REGION = "region", "Region"
        QUOTA = "quota", "Quota"

    class Metric(models.TextChoices):
        GPU_HOURS = "gpu_hours", "GPU-hours per day"
        PEAK_GPUS = "peak_gpus", "Peak concurrent GPUs"
        QUOTA_DEMAND = "quota_demand", "Demand in the quota's unit"

    group = models.CharField(max_length=16, choices=Group.choices, default=Group.FLEET)
    value = models.CharField(max_length=512, blank=True)
    metric = models.CharField(max_length=16, choices=Metric.choices, default=Metric.GPU_HOURS)
    generated_at = models.DateTimeField()
    history_start = models.DateField()
    history_end = models.DateField(help_text="Exclusive: the first forecast day.")
    horizon_days = models.PositiveIntegerField()
    model = models.CharField(max_length=100)
    scores = models.JSONField(default=dict, blank=True)
    fallback = models.TextField(blank=True)
    points = models.JSONField(
        default=list, help_text='[{"day", "mean", "lower_80", "upper_80", "lower_90", ...}], decimal strings'
    )

    class Meta:
        ordering = ["-generated_at", "group", "value", "metric"]
        indexes = [models.Index(fields=["group", "value", "metric", "-generated_at"], name="gpu_forecast_series")]

    def __str__(self) -> str:
        return f"forecast {self.group}={self.value or 'all'} {self.metric} {self.generated_at:%Y-%m-%d}"
