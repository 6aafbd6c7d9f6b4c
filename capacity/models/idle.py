from __future__ import annotations

from django.db import models

from finops.models.rollups import ROLLUP_MONEY


class IdleGpuCostDaily(models.Model):
    """The idle part of GPU machines' billing lines (finops.allocation.engine.idle_costs: the cost of the hours
    paid for, times the share of GPU capacity left unused), summed per UTC day of the line's start and every column
    a report groups or filters by, the resource and all its tags included; one idle amount per cost basis.

    The columns are the daily rollup's names, so reports read it as they read the rollup. Rebuilt per billing
    scope whenever the scope's lines change (in the import's transaction) and per resource and month whenever GPU
    hours are stored (capacity.services.idle_costs), so /api/v1/allocations needs no billing lines for it."""

    day = models.DateField()
    source = models.CharField(max_length=12, db_collation="C")
    billing_account_id = models.TextField(db_collation="C")
    billing_period_start = models.DateField()
    sub_account_id = models.TextField()
    provider_name = models.TextField(null=True)  # noqa: DJ001 - null and "" kept apart, as in CostRecord
    invoice_issuer_name = models.TextField(null=True)  # noqa: DJ001
    service_name = models.TextField(null=True)  # noqa: DJ001
    region_id = models.TextField(null=True)  # noqa: DJ001
    usage_type = models.TextField(null=True)  # noqa: DJ001
    resource_id = models.TextField(null=True)  # noqa: DJ001
    charge_category = models.CharField(max_length=12)
    billing_currency = models.CharField(max_length=3)
    tags = models.JSONField(default=dict)
    billed_cost = models.DecimalField(**ROLLUP_MONEY, help_text="Idle part of the billed cost.")
    effective_cost = models.DecimalField(**ROLLUP_MONEY, help_text="Idle part of the effective cost.")
    list_cost = models.DecimalField(**ROLLUP_MONEY, null=True, help_text="Idle part of the list cost.")
    list_cost_missing = models.BigIntegerField(default=0, help_text="Lines without a list cost.")

    class Meta:
        indexes = [
            models.Index(fields=["source", "billing_account_id", "billing_period_start"], name="idle_gpu_scope"),
            models.Index(fields=["day", "sub_account_id"], name="idle_gpu_day_account"),
            models.Index(fields=["resource_id", "day"], name="idle_gpu_resource_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.resource_id} idle {self.billed_cost}"
