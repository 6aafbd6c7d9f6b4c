"""Reads of metered usage that money needs: predictions served per endpoint, GPU utilisation of GPU machines.

Unknown stays unknown: an hour without a datapoint is left out (its `average`/`total` is NULL), never 0.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, time

import pandas as pd
from django.db.models import Avg, Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek

from capacity.models import Resource, UtilisationHour
from finops.reports import ReportQuery
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import allocation_rows_frame
from finops.unit_economics import unit_costs

_TRUNC = {"day": TruncDay, "week": TruncWeek, "month": TruncMonth}


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time.min, tzinfo=UTC), datetime.combine(end, time.min, tzinfo=UTC)


def endpoint_predictions_frame(*, start: date, end: date, step: str | None) -> pd.DataFrame:
    """Invocations per endpoint (billing resource id) and period, summed over variants and hours with data."""
    low, high = _bounds(start, end)
    hours = UtilisationHour.objects.filter(
        metric=UtilisationHour.Metric.INVOCATIONS, hour__gte=low, hour__lt=high, total__isnull=False
    )
    if step:
        hours = hours.annotate(period=_TRUNC[step]("hour", tzinfo=UTC))
        rows = hours.values("resource__resource_id", "period").annotate(predictions=Sum("total"))
        frame = pd.DataFrame(
            [(row["resource__resource_id"], row["period"].date(), row["predictions"]) for row in rows],
            columns=["resource", "period", "predictions"],
        )
    else:
        rows = hours.values("resource__resource_id").annotate(predictions=Sum("total"))
        frame = pd.DataFrame(
            [(row["resource__resource_id"], None, row["predictions"]) for row in rows],
            columns=["resource", "period", "predictions"],
        )
    return frame


def gpu_resource_ids() -> list[str]:
    """Billing resource ids of every machine with GPUs (ever inventoried, gone ones included: history counts)."""
    return list(
        Resource.objects.filter(type_info__gpu_count__gt=0, type_info__accelerator_kind="gpu")
        .values_list("resource_id", flat=True)
        .distinct()
    )


def gpu_hours_frame(*, resource_ids: list[str], start: date, end: date) -> pd.DataFrame:
    """Hourly average GPU utilisation (0-100 per device) per resource, averaged over endpoint variants."""
    low, high = _bounds(start, end)
    rows = (
        UtilisationHour.objects.filter(
            metric=UtilisationHour.Metric.GPU,
            resource__resource_id__in=resource_ids,
            hour__gte=low,
            hour__lt=high,
            average__isnull=False,
        )
        .values("resource__resource_id", "hour")
        .annotate(average=Avg("average"))
    )
    frame = pd.DataFrame(
        [(row["resource__resource_id"], row["hour"], row["average"]) for row in rows],
        columns=["resource", "hour", "average"],
    )
    frame["hour"] = pd.to_datetime(frame["hour"], utc=True)
    return frame


def unit_costs_for_query(*, query: ReportQuery) -> tuple[int, str, pd.DataFrame]:
    """Unit costs for a report query: (rules version, currency, finops.unit_economics.unit_costs items).

    Billing and predictions are read per day and joined per endpoint-day before summing into the
    query's step, so days without Invocations data never inflate a cost per prediction.
    """
    version, rules = allocation_rules_current()
    frame, currency = allocation_rows_frame(query=dataclasses.replace(query, step="day"))
    predictions = endpoint_predictions_frame(start=query.start, end=query.end, step="day")
    items = unit_costs(frame, predictions, aggregate=query.aggregate, rules=rules, step=query.step)
    return version, currency, items
