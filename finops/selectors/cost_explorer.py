"""Reads of stored Cost Explorer views. Every read names exactly one view: views are never added together."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db.models import Sum

from finops.models import CloudAccount, CostExplorerRecord

METRICS = ("unblended_cost", "amortized_cost", "net_amortized_cost", "usage_quantity")


def cost_explorer_view_total(
    *, account: CloudAccount, view: str, start: date, end: date, metric: str = "unblended_cost"
) -> Decimal:
    """The sum of one metric over one view's rows for the account in [start, end); Decimal("0") when none."""
    if metric not in METRICS:
        raise ValueError(f"Unknown Cost Explorer metric {metric!r}; one of {', '.join(METRICS)}.")
    total = CostExplorerRecord.objects.filter(account=account, view=view, day__gte=start, day__lt=end).aggregate(
        total=Sum(metric)
    )["total"]
    return total if total is not None else Decimal("0")
