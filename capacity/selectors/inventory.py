"""Capacity reads of inventory: live resources, the GPU fleet, what is inventoried, the resource list."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import F, QuerySet
from django.db.models.functions import Coalesce

from capacity.models import Resource

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


def inventoried_types() -> tuple[list[str], list[str]]:
    """(regions, instance types) of live inventory, for the price refresh."""
    live = resources_live().exclude(instance_type="")
    regions = sorted(set(live.values_list("region", flat=True)))
    types = set(live.values_list("instance_type", flat=True))
    for details in live.exclude(details__instance_types=None).values_list("details__instance_types", flat=True):
        types.update(details or [])
    return regions, sorted(types)


def resources_listed() -> QuerySet[Resource]:
    """Every resource, gone ones too, annotated with `gpus`: instances x accelerators per instance (0 without)."""
    return Resource.objects.select_related("account", "team", "type_info").annotate(
        gpus=F("instance_count") * Coalesce(F("type_info__gpu_count"), 0)
    )


def resource_teams() -> list[tuple[str, str]]:
    """(slug, name) of the teams owning at least one resource, by name: the page's team filter choices."""
    # order_by() first: Resource's default ordering would join the DISTINCT and repeat a team once per resource.
    teams = Resource.objects.filter(team__isnull=False).order_by().values_list("team__slug", "team__name").distinct()
    return sorted(teams, key=lambda team: team[1].lower())
