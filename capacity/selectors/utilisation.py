"""Capacity reads of utilisation: a resource's hourly rows, per-resource averages, the fleet's GPU average."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pandas as pd
from django.db.models import Count, Sum

from capacity.models import Resource, UtilisationHour
from capacity.selectors.inventory import FLEET_KINDS, resources_live


def resource_utilisation_frame(*, resource: Resource, metric: str, start: datetime, end: datetime) -> pd.DataFrame:
    """Hourly rows of one metric in [start, end): hour, variant, average, maximum, total (Decimal or None).

    Missing hours are present with None values, so a chart shows gaps, not zeros.
    """
    rows = UtilisationHour.objects.filter(resource=resource, metric=metric, hour__gte=start, hour__lt=end).values(
        "hour", "variant", "average", "maximum", "total", "sample_count"
    )
    frame = pd.DataFrame.from_records(
        list(rows), columns=["hour", "variant", "average", "maximum", "total", "sample_count"]
    )
    return frame.sort_values(["variant", "hour"], ignore_index=True)


def utilisation_averages(*, start: datetime, end: datetime, metric: str) -> dict[int, Decimal | None]:
    """{resource id: mean of the hours that have data in [start, end)} (None when no hour has data)."""
    rows = (
        UtilisationHour.objects.filter(metric=metric, hour__gte=start, hour__lt=end)
        .values("resource_id")
        .annotate(known=Count("average"), total=Sum("average"))
    )
    return {row["resource_id"]: (row["total"] / row["known"] if row["known"] else None) for row in rows}


@dataclass(frozen=True)
class FleetUtilisation:
    """The GPU-weighted mean of the live GPU fleet's per-resource averages, over the resources with data."""

    average: Decimal | None
    measured_gpus: int
    gpus: int


def fleet_gpu_utilisation(*, start: datetime, end: datetime) -> FleetUtilisation:
    """Average GPU utilisation of the live fleet (gpu_fleet_summary's machines) in [start, end), weighted by GPUs.

    Machines without GPU data in the window (Neuron devices, notebooks, hosts without the CloudWatch agent) are
    left out of the mean and counted in `gpus` only: unknown is never taken as idle.
    """
    averages = utilisation_averages(start=start, end=end, metric=UtilisationHour.Metric.GPU)
    live = resources_live().filter(type_info__gpu_count__gt=0, kind__in=FLEET_KINDS)
    weighted, measured, gpus = Decimal(0), 0, 0
    for resource in live:
        count = resource.instance_count * resource.type_info.gpu_count
        gpus += count
        average = averages.get(resource.pk)
        if average is not None:
            weighted += average * count
            measured += count
    return FleetUtilisation(average=weighted / measured if measured else None, measured_gpus=measured, gpus=gpus)


def resource_utilisation_hours(*, resource: Resource, start: datetime, end: datetime) -> pd.DataFrame:
    """Every metric's hourly rows of one resource in [start, end): metric, variant, hour, average, maximum, total.

    As resource_utilisation_frame, for all metrics at once: hours without data hold None, never 0.
    """
    columns = ["metric", "variant", "hour", "average", "maximum", "total"]
    rows = UtilisationHour.objects.filter(resource=resource, hour__gte=start, hour__lt=end).values(*columns)
    frame = pd.DataFrame.from_records(list(rows), columns=columns)
    return frame.sort_values(["metric", "variant", "hour"], ignore_index=True)
