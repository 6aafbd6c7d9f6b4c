"""Capacity planning: reservations held, demand counted the way quotas count it, what-if scenarios, spend forecasts."""

from __future__ import annotations

from django.db import models

from capacity.models.demand import MEASURE


class CapacityReservation(models.Model):
    """An EC2 On-Demand Capacity Reservation (a Capacity Block for ML too) from DescribeCapacityReservations.

    A reservation holds quota while it is active, used or not: its unused part (`available_instance_count`) counts
    against the On-Demand quota of its family beside the running instances.
    """

    account = models.ForeignKey("finops.CloudAccount", on_delete=models.CASCADE, related_name="capacity_reservations")
    region = models.CharField(max_length=32)
    reservation_id = models.CharField(max_length=64)
    arn = models.CharField(max_length=2048, blank=True)
    instance_type = models.CharField(max_length=64)
    instance_platform = models.CharField(max_length=64, blank=True)
    availability_zone = models.CharField(max_length=64, blank=True)
    tenancy = models.CharField(max_length=32, blank=True)
    reservation_type = models.CharField(max_length=32, default="default", help_text='"default" or "capacity-block".')
    total_instance_count = models.PositiveIntegerField()
    available_instance_count = models.PositiveIntegerField()
    state = models.CharField(max_length=32, help_text="active, expired, cancelled, pending, failed, scheduled, ...")
    start_date = models.DateTimeField(null=True, blank=True)
    end_date = models.DateTimeField(null=True, blank=True, help_text="Blank: unlimited (end_date_type unlimited).")
    end_date_type = models.CharField(max_length=16, blank=True)
    tags = models.JSONField(default=dict, blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["account__account_id", "region", "instance_type", "reservation_id"]
        constraints = [
            models.UniqueConstraint(fields=["account", "region", "reservation_id"], name="capacity_reservation_unique")
        ]

    def __str__(self) -> str:
        return f"{self.reservation_id} {self.total_instance_count} x {self.instance_type} ({self.state})"


class QuotaDemandDay(models.Model):
    """One day's demand against one quota of an account and region, in the quota's unit.

    EC2 On-Demand quotas (unit vCPU): the day's peak concurrent GPUs of On-Demand EC2 instances (not Spot, not
    SageMaker) of the quota's families, converted to vCPUs at each family's count-weighted vCPUs per GPU.
    SageMaker quotas (unit instances): the day's peak instances of the quota's type and use. `source` as GpuPeakDay.
    """

    class Source(models.TextChoices):
        HOURLY = "hourly", "Hourly data"
        AVERAGE = "average", "Daily average (no hourly data)"

    account = models.ForeignKey("finops.CloudAccount", on_delete=models.CASCADE, related_name="quota_demand_days")
    region = models.CharField(max_length=32)
    service_code = models.CharField(max_length=64)
    quota_code = models.CharField(max_length=64)
    day = models.DateField()
    demand = models.DecimalField(**MEASURE)
    source = models.CharField(max_length=10, choices=Source.choices)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["account__account_id", "region", "service_code", "quota_code", "day"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "region", "service_code", "quota_code", "day"], name="quota_demand_day_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.quota_code} {self.demand}"


class CapacityScenario(models.Model):
    """A what-if on top of the base forecast: demand x `growth_multiplier`, plus planned projects."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    growth_multiplier = models.DecimalField(max_digits=8, decimal_places=4, default=1)
    created_by = models.ForeignKey(
        "auth.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="capacity_scenarios"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=models.Q(growth_multiplier__gt=0), name="scenario_growth_positive")
        ]

    def __str__(self) -> str:
        return self.name


class ScenarioProject(models.Model):
    """A planned project: `gpus` GPUs of `instance_type` in `region` from `start` for `months` months, for a team.

    It adds ceil(gpus / GPUs per instance) instances. `instance_type` ml.* is SageMaker (training job quota), other
    types EC2 On-Demand. `account` (optional) is where it will run; blank: the account where the team used most
    GPU-hours in the region, else the account with the largest limit.
    """

    scenario = models.ForeignKey(CapacityScenario, on_delete=models.CASCADE, related_name="projects")
    team = models.CharField(max_length=256)
    instance_type = models.CharField(max_length=64)
    region = models.CharField(max_length=32)
    gpus = models.PositiveIntegerField()
    start = models.DateField()
    months = models.PositiveIntegerField()
    account = models.CharField(max_length=12, blank=True)

    class Meta:
        ordering = ["scenario", "start", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(gpus__gt=0), name="scenario_project_gpus_positive"),
            models.CheckConstraint(condition=models.Q(months__gt=0), name="scenario_project_months_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.gpus} GPUs of {self.instance_type} in {self.region} from {self.start} for {self.months} months"


class SpendForecast(models.Model):
    """Monthly effective cost ahead for a team (blank key: the total) in one currency, with prediction intervals.

    `points`: [{"month", "mean", "lower_80", "upper_80", "lower_95", "upper_95"}] as decimal strings;
    `aws_forecast`: Cost Explorer GetCostForecast's answer for the total where available, else null.
    """

    key = models.CharField(max_length=256, blank=True)
    currency = models.CharField(max_length=3)
    generated_at = models.DateTimeField()
    history_start = models.DateField()
    history_end = models.DateField(help_text="Exclusive.")
    horizon_months = models.PositiveSmallIntegerField()
    model = models.CharField(max_length=100)
    scores = models.JSONField(default=dict, blank=True)
    fallback = models.TextField(blank=True)
    points = models.JSONField(default=list)
    aws_forecast = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["-generated_at", "key"]
        indexes = [models.Index(fields=["key", "currency", "-generated_at"], name="spend_forecast_key")]

    def __str__(self) -> str:
        return f"spend forecast {self.key or 'total'} {self.generated_at:%Y-%m-%d}"
