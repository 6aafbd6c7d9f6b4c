from __future__ import annotations

from django.db import models

from finops.models.billing import MONEY


class Price(models.Model):
    """The on-demand hourly price of an instance type in a region, from the AWS Pricing API.

    EC2 prices are per operating system and tenancy; SageMaker ones per component (hosting, training,
    notebook). A price the API does not list is stored with `missing` and no amount: never guessed.
    """

    class Service(models.TextChoices):
        EC2 = "ec2", "EC2"
        SAGEMAKER = "sagemaker", "SageMaker"

    service = models.CharField(max_length=20, choices=Service.choices)
    region = models.CharField(max_length=32)
    instance_type = models.CharField(max_length=64)
    operating_system = models.CharField(max_length=32, blank=True)
    tenancy = models.CharField(max_length=32, blank=True)
    component = models.CharField(max_length=32, blank=True, help_text="SageMaker: Hosting, Training or Notebook.")
    hourly_usd = models.DecimalField(**MONEY, null=True, blank=True)
    currency = models.CharField(max_length=3, default="USD")
    missing = models.BooleanField(default=False)
    sku = models.CharField(max_length=64, blank=True)
    fetched_on = models.DateField()

    class Meta:
        ordering = ["service", "region", "instance_type", "operating_system", "component"]
        constraints = [
            models.UniqueConstraint(
                fields=["service", "region", "instance_type", "operating_system", "tenancy", "component"],
                name="price_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(missing=True, hourly_usd__isnull=True)
                | models.Q(missing=False, hourly_usd__isnull=False),
                name="price_missing_has_no_amount",
            ),
        ]

    def __str__(self) -> str:
        amount = "missing" if self.missing else f"{self.hourly_usd} {self.currency}/h"
        return f"{self.service} {self.instance_type} {self.region} {self.component}: {amount}"


class ServiceQuota(models.Model):
    """A Service Quotas limit of an account and region, with the usage Costplane counted against it."""

    account = models.ForeignKey("finops.CloudAccount", on_delete=models.CASCADE, related_name="service_quotas")
    region = models.CharField(max_length=32)
    service_code = models.CharField(max_length=64)
    quota_code = models.CharField(max_length=64)
    name = models.CharField(max_length=512)
    value = models.DecimalField(max_digits=24, decimal_places=4)
    unit = models.CharField(max_length=32, blank=True)
    usage = models.DecimalField(
        max_digits=24, decimal_places=4, null=True, blank=True, help_text="Blank: Costplane cannot count it."
    )
    usage_metric = models.JSONField(default=dict, blank=True)
    adjustable = models.BooleanField(default=False)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["account__account_id", "region", "service_code", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "region", "service_code", "quota_code"], name="service_quota_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.usage}/{self.value}"

    @property
    def headroom(self):
        return None if self.usage is None else self.value - self.usage
