"""Capacity reads: the GPU fleet, a resource's hourly utilisation, prices and quotas, for pages and the API."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

import pandas as pd
from django.db.models import Count, F, Q, QuerySet, Sum

from capacity.models import Price, Resource, ServiceQuota, UtilisationHour

FLEET_KINDS = (Resource.Kind.EC2_INSTANCE, Resource.Kind.SAGEMAKER_ENDPOINT, Resource.Kind.SAGEMAKER_NOTEBOOK)
RUNNING_STATES = ("pending", "running", "InService", "Updating")


def resources_live() -> QuerySet[Resource]:
    return Resource.objects.filter(gone_at__isnull=True).select_related("account", "team", "type_info")


def gpu_fleet_summary() -> list[dict]:
    """Live accelerated machines by team, accelerator model and kind: resources, instances, GPUs, running GPUs.

    Training jobs (history) and groups (their instances are counted as instances) are left out.
    """
    groups: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(
        lambda: {"resources": 0, "instances": 0, "gpus": 0, "running_gpus": 0}
    )
    live = resources_live().filter(type_info__gpu_count__gt=0, kind__in=FLEET_KINDS)
    for resource in live:
        info = resource.type_info
        group = groups[
            (resource.team.name if resource.team else "", info.gpu_model, info.accelerator_kind, resource.kind)
        ]
        gpus = resource.instance_count * info.gpu_count
        group["resources"] += 1
        group["instances"] += resource.instance_count
        group["gpus"] += gpus
        group["running_gpus"] += gpus if resource.state in RUNNING_STATES else 0
    return [
        {"team": team, "gpu_model": model, "accelerator": accelerator, "kind": kind, **counts}
        for (team, model, accelerator, kind), counts in sorted(groups.items())
    ]


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


def inventoried_types() -> tuple[list[str], list[str]]:
    """(regions, instance types) of live inventory, for the price refresh."""
    live = resources_live().exclude(instance_type="")
    regions = sorted(set(live.values_list("region", flat=True)))
    types = set(live.values_list("instance_type", flat=True))
    for details in live.exclude(details__instance_types=None).values_list("details__instance_types", flat=True):
        types.update(details or [])
    return regions, sorted(types)


def price_for(*, region: str, instance_type: str, component: str = "") -> Price | None:
    """The stored on-demand price (EC2 Linux shared, or the SageMaker component); None if never fetched."""
    prices = Price.objects.filter(region=region, instance_type=instance_type)
    if instance_type.startswith("ml."):
        return prices.filter(service=Price.Service.SAGEMAKER, component=component or "Hosting").first()
    return prices.filter(service=Price.Service.EC2, operating_system="Linux", tenancy="Shared").first()


def quotas_near_limit(*, share: Decimal = Decimal("0.8")) -> QuerySet[ServiceQuota]:
    """Quotas whose counted usage is at least `share` of their value (quotas with value 0 and usage above it too)."""
    quotas = ServiceQuota.objects.filter(usage__isnull=False).select_related("account")
    return quotas.filter(Q(value=0, usage__gt=0) | Q(value__gt=0, usage__gte=share * F("value")))
