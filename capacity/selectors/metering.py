"""Reads of metered usage that money needs: predictions served per endpoint, GPU utilisation of GPU machines.

Unknown stays unknown: an hour without a datapoint is left out (its `average`/`total` is NULL), never 0.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, date, datetime, time

import pandas as pd
from django.db import connection
from django.db.models import Sum
from django.db.models.functions import TruncDay, TruncMonth, TruncWeek

from capacity.models import Resource, UtilisationHour
from finops.reports import ReportQuery
from finops.selectors.allocation_rules import allocation_rules_current
from finops.selectors.allocations import allocation_rows_frame
from finops.unit_economics import TRAINING_RESOURCES, UNIT_COST_RESOURCES, unit_costs

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
    # Hours leave Postgres as microseconds since the epoch: tens of thousands of rows, read as datetimes one by
    # one, took longer than the query itself.
    sql = f"""
        SELECT r.resource_id, (EXTRACT(EPOCH FROM h.hour) * 1000000)::bigint AS hour, AVG(h.average) AS average
        FROM {UtilisationHour._meta.db_table} h JOIN {Resource._meta.db_table} r ON r.id = h.resource_id
        WHERE h.metric = %s AND r.resource_id = ANY(%s) AND h.hour >= %s AND h.hour < %s AND h.average IS NOT NULL
        GROUP BY r.resource_id, h.hour
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [UtilisationHour.Metric.GPU.value, list(resource_ids), low, high])
        records = cursor.fetchall()
    frame = pd.DataFrame(records, columns=["resource", "hour", "average"])
    frame["hour"] = pd.to_datetime(frame["hour"].astype("int64"), unit="us", utc=True).dt.as_unit("ns")
    return frame


def unit_costs_for_query(*, query: ReportQuery) -> tuple[int, str, pd.DataFrame]:
    """Unit costs for a report query: (rules version, currency, finops.unit_economics.unit_costs items).

    Billing and predictions are read per day and joined per endpoint-day before summing into the
    query's step, so days without Invocations data never inflate a cost per prediction.
    """
    version, currency, items = unit_costs_for_steps(query=query, steps=(query.step,))
    return version, currency, items[query.step]


def unit_costs_for_steps(
    *, query: ReportQuery, steps: Sequence[str | None], training_only: bool = False
) -> tuple[int, str, dict[str | None, pd.DataFrame]]:
    """unit_costs_for_query's items for each of `steps` (None: the whole window), from one read of the window.

    Only endpoints' and training jobs' lines are read: no other line counts in a unit cost. With `training_only`,
    only training jobs' lines: the items' training cost is the same, their serving cost zero.
    """
    version, rules = allocation_rules_current()
    frame, currency = allocation_rows_frame(
        query=dataclasses.replace(query, step="day"),
        resource_pattern=TRAINING_RESOURCES if training_only else UNIT_COST_RESOURCES,
    )
    if training_only:
        predictions = pd.DataFrame(columns=["resource", "period", "predictions"])
    else:
        predictions = endpoint_predictions_frame(start=query.start, end=query.end, step="day")
    items = {
        step: unit_costs(frame, predictions, aggregate=query.aggregate, rules=rules, step=step)
        for step in dict.fromkeys(steps)
    }
    return version, currency, items
