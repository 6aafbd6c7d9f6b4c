from __future__ import annotations

from django.db import models

from finops.models.rollups import DailyLineSums


class IdleGpuCostDaily(DailyLineSums):
    """The idle part of GPU machines' billing lines (finops.allocation.engine.idle_costs: the cost of the hours
    paid for, times the share of GPU capacity left unused), summed per UTC day of the line's start and every column
    a report groups or filters by, the resource and all its tags included; one idle amount per cost basis
    (`billed_cost`, `effective_cost`, `list_cost`: the idle part of each).

    The columns are the daily rollup's names, so reports read it as they read the rollup. Rebuilt per billing
    scope whenever the scope's lines change (in the import's transaction) and per resource and month whenever GPU
    hours are stored (capacity.services.idle_costs), so /api/v1/allocations needs no billing lines for it."""

    resource_id = models.TextField(null=True)  # noqa: DJ001

    class Meta:
        indexes = [
            models.Index(fields=["source", "billing_account_id", "billing_period_start"], name="idle_gpu_scope"),
            models.Index(fields=["day", "sub_account_id"], name="idle_gpu_day_account"),
            models.Index(fields=["resource_id", "day"], name="idle_gpu_resource_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.resource_id} idle {self.billed_cost}"
