"""Reads about the stored billing rows themselves rather than their sums (those are finops/selectors/costs.py's)."""

from __future__ import annotations

from finops.models import CostRecord


def billing_rows_exist() -> bool:
    """Whether any billing export row is stored: the report pages explain how to load data until one is."""
    return CostRecord.objects.exists()
